"""Pieces every page shares: the sidebar, cached model loading, error display.

``st.cache_resource`` holds one model instance per process, shared by every browser
session: callers must never mutate it (no ``.train()``, no ``requires_grad_``, no
leftover hooks); cvcore's inference and attribution code respects that.
"""

from __future__ import annotations

import platform
from contextlib import contextmanager

import streamlit as st
import torch
import torchvision

import cvcore
from cvcore.errors import CvlensError


def render_sidebar() -> None:
    with st.sidebar:
        st.caption(
            f"cvlens {cvcore.__version__} · torch {torch.__version__.split('+')[0]} · "
            f"torchvision {torchvision.__version__.split('+')[0]} · Python {platform.python_version()}"
        )
        st.caption("Device: " + ("CUDA — " + torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"))


@st.cache_resource(show_spinner="Loading trained weights…", max_entries=8)
def cached_model(name: str) -> torch.nn.Module:
    """One trained model per process (raises cvcore's WeightsMissingError when absent)."""
    from cvcore.weights import load_model

    return load_model(name)


@contextmanager
def user_errors():
    """Show cvcore's typed errors as a clear message instead of a traceback; the page keeps running."""
    try:
        yield
    except CvlensError as exc:
        st.error(str(exc))


def pick_sample(key: str) -> tuple[str, bytes]:
    """A bundled photo (with its credit line) chosen in a selectbox: (file name, bytes)."""
    from cvcore.samples import list_samples

    samples = {s.file: s for s in list_samples()}
    chosen = st.selectbox("Sample photo", list(samples), key=key, format_func=lambda f: samples[f].title)
    st.caption(samples[chosen].credit)
    return chosen, samples[chosen].path.read_bytes()
