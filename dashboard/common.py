"""Pieces every page shares: the sidebar, cached model loading, error display.

``st.cache_resource`` holds one model instance per process, shared by every browser
session: callers must never mutate it (no ``.train()``, no ``requires_grad_``, no
leftover hooks); cvcore's inference and attribution code respects that.
"""

from __future__ import annotations

import logging
import os
import platform
import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING

import streamlit as st

import cvcore
from cvcore.device import ENV_VAR
from cvcore.errors import CvlensError
from cvcore.versions import package_version
from dashboard.runtime_controls import render_mode_control

if TYPE_CHECKING:
    from torch import nn


def render_sidebar() -> None:
    with st.sidebar:
        st.caption(
            f"cvlens {cvcore.__version__} · torch {package_version('torch')} · "
            f"torchvision {package_version('torchvision')} · Python {platform.python_version()}"
        )
        st.caption("Device: " + device_description())
    render_mode_control()


def device_description() -> str:
    """The device models run on. Pages that run no model (Models, Compare) do not load torch, which
    takes seconds, only to print this: until a model runs the line says what will be used."""
    if "torch" not in sys.modules:
        chosen = os.environ.get(ENV_VAR)
        if chosen:
            return f"{chosen} (from ${ENV_VAR})"
        return "CUDA if available, else CPU (checked when a model first runs)"
    from cvcore.device import describe_device

    return describe_device()


@st.cache_resource(show_spinner="Loading trained weights…", max_entries=8)
def cached_model(name: str) -> nn.Module:
    """One trained model per process (raises cvcore's WeightsMissingError when absent)."""
    from cvcore.weights import load_model

    return load_model(name)


# Tests set this so that a bug in a page fails them (AppTest's ``exception``) instead of becoming a message.
STRICT_ENV_VAR = "CVLENS_STRICT_PAGES"
_log = logging.getLogger("cvlens.dashboard")


def show_unexpected_error(exc: Exception) -> None:
    """A bug escaped a page: say so plainly, keep the traceback for the server log, keep the session's state."""
    if os.environ.get(STRICT_ENV_VAR, "").lower() not in ("", "0", "false", "no"):
        raise exc
    _log.error("Unexpected error on a cvlens page", exc_info=exc)
    what = f"{type(exc).__name__}: {exc}".replace("`", "'")  # in a code span: no markdown in the message
    st.error(
        f"Something unexpected went wrong on this page (`{what}`). "
        "Your choices, uploads and results are kept: change a setting or reload the page to try again. "
        "The full traceback is in the server's log; please report it with what you did.",
        icon="🐞",
    )


@contextmanager
def user_errors():
    """Show cvcore's typed errors as a clear message instead of a traceback; the page keeps running."""
    try:
        yield
    except CvlensError as exc:
        st.error(str(exc))


def restore_choices(kept_key: str, defaults: dict) -> dict:
    """Put back the user's widget values before the widgets are drawn; returns the kept copy.

    Streamlit drops the state of widgets that a run does not draw, so a visit to another
    page would reset them. Pass the returned dict to :func:`remember_choices` after drawing.
    """
    kept = st.session_state.setdefault(kept_key, {})
    for key, default in defaults.items():
        if key not in st.session_state:
            st.session_state[key] = kept.get(key, default)
    return kept


def remember_choices(kept: dict, keys) -> None:
    """Copy the widget values drawn in this run into the kept dict from :func:`restore_choices`."""
    kept.update({key: st.session_state[key] for key in keys if key in st.session_state})


def pick_sample(key: str) -> tuple[str, bytes]:
    """A bundled photo (with its credit line) chosen in a selectbox: (file name, bytes)."""
    from cvcore.samples import list_samples

    samples = {s.file: s for s in list_samples()}
    chosen = st.selectbox("Sample photo", list(samples), key=key, format_func=lambda f: samples[f].title)
    st.caption(samples[chosen].credit)
    return chosen, samples[chosen].path.read_bytes()
