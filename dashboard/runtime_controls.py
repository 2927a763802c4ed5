"""The sidebar's inference-mode control and what pages show beside a fast-mode result.

The choice (precision, channels_last, torch.compile) lives in session state, so it holds
on every page; pages that run a model read it with :func:`current_mode`. Drawing it
imports no torch: pages that run no model stay light, and whether the device supports a
mode is said once a model has run (torch is loaded by then).
"""

from __future__ import annotations

import sys

import streamlit as st

from cvcore.runtime import EXACT, PRECISIONS, Agreement, RuntimeMode, compile_cache_dir
from dashboard import state

PRECISION_LABELS = {"fp32": "fp32 (exact)", "bf16": "bf16", "fp16": "fp16"}


def render_mode_control() -> None:
    """Precision, channels_last and torch.compile in a sidebar popover; the mode in use in a caption below it."""
    for key, default in (
        (state.RUNTIME_PRECISION, EXACT.precision.value), (state.RUNTIME_CHANNELS_LAST, False), (state.RUNTIME_COMPILE, False)
    ):  # fmt: skip
        st.session_state.setdefault(key, default)
    with st.sidebar.popover("Inference mode", icon=":material/speed:", width="stretch"):
        st.radio(
            "Precision", PRECISIONS, key=state.RUNTIME_PRECISION, horizontal=True, format_func=PRECISION_LABELS.get,
            help="fp32 is exact and the default. bf16/fp16 (autocast) are faster on hardware with 16-bit arithmetic and "
            "approximate: every result computed with them shows its agreement with an fp32 run of the same input.",
        )  # fmt: skip
        st.toggle(
            "channels_last",
            key=state.RUNTIME_CHANNELS_LAST,
            help="Convolutions on NHWC tensors (oneDNN/cuDNN's preferred layout).",
        )
        st.toggle(
            "torch.compile", key=state.RUNTIME_COMPILE,
            help="Inductor with frozen weights. Compiles in the background on first use of an input size (about a minute "
            f"on a 2-core CPU) while the eager path answers; compiled kernels are cached in {compile_cache_dir()}.",
        )  # fmt: skip
        st.caption("Used by Segmentation, Saliency (top-5 and curves; maps stay fp32) and Compare's latency.")
    mode = current_mode()
    st.sidebar.caption(f"Inference: {mode.label}" + ("" if mode.is_default else "; results show their agreement with fp32"))
    if "torch" in sys.modules and not mode.is_default:  # a model has run: the device is known, checking is cheap
        ok, reason = mode.supported()
        if not ok:
            st.sidebar.warning(f"{mode.label}: {reason}", icon="⚠️")


def current_mode() -> RuntimeMode:
    """The mode chosen in the sidebar (exact fp32 until changed)."""
    return RuntimeMode(
        st.session_state.get(state.RUNTIME_PRECISION, EXACT.precision.value),
        bool(st.session_state.get(state.RUNTIME_CHANNELS_LAST, False)),
        bool(st.session_state.get(state.RUNTIME_COMPILE, False)),
    )


def agreement_caption(agreement: Agreement) -> str:
    """One line for beside a result: the mode, then how it agrees with fp32 and where the fp32 result came from."""
    return f"{agreement.mode}: {agreement.describe()}"
