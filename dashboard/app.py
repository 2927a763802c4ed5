"""cvlens dashboard: the pages' navigation, run for every visitor's session.

Served by ``streamlit run dashboard/server.py`` (the README's command: it also warms the process
up at start); ``streamlit run dashboard/app.py`` serves the same app without the warm-up.
One file per page under ``app_pages/``; pages are thin (widgets, one cvcore call, display).
"""

import os
import sys
from pathlib import Path

# Several browser sessions run inference on threads of this one process: OpenMP workers
# that spin while waiting would steal the cores the other sessions need. Read by the
# OpenMP runtime when torch loads, so it must come before any torch import.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# `streamlit run` puts only this folder on sys.path; cvcore and dashboard live one level up.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from dashboard.common import keep_previous_run_files, render_sidebar, show_unexpected_error, start_memory_janitor  # noqa: E402

PAGES_DIR = Path(__file__).parent / "app_pages"

st.set_page_config(page_title="cvlens", page_icon="🔍", layout="wide")

pages = {
    "": [st.Page(PAGES_DIR / "home.py", title="Home", icon="🏠", url_path="home", default=True)],
    "Compare models": [
        st.Page(PAGES_DIR / "models.py", title="Models", icon="📚", url_path="models"),
        st.Page(PAGES_DIR / "compare.py", title="Compare", icon="📈", url_path="compare"),
        st.Page(PAGES_DIR / "architecture.py", title="Architecture", icon="🧱", url_path="architecture"),
        st.Page(PAGES_DIR / "papers.py", title="Papers", icon="📄", url_path="papers"),
        st.Page(PAGES_DIR / "benchmark.py", title="Benchmark", icon="⏱️", url_path="benchmark"),
    ],
    "Look inside": [
        st.Page(PAGES_DIR / "segmentation.py", title="Segmentation", icon="🖼️", url_path="segmentation"),
        st.Page(PAGES_DIR / "saliency.py", title="Saliency", icon="🔥", url_path="saliency"),
    ],
    "Your work": [
        st.Page(PAGES_DIR / "your_models.py", title="Your models", icon="🎓", url_path="your_models"),
        st.Page(PAGES_DIR / "report.py", title="Report", icon="📝", url_path="report"),
    ],
}

start_memory_janitor()  # once per process: freed memory goes back to the system (see dashboard/common.py)
keep_previous_run_files()  # once per process: other sessions' runs do not delete the files this browser shows
navigation = st.navigation(pages)
render_sidebar()
try:
    navigation.run()
except Exception as exc:  # a bug, not bad input: pages show cvcore's typed errors themselves
    show_unexpected_error(exc)
