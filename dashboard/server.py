"""cvlens dashboard server: ``streamlit run dashboard/server.py`` (the README's command).

An ``st.App`` that serves ``app.py`` (the pages' navigation, run for every session) and, at
start, before it accepts its first connection, runs :func:`dashboard.warm_up.warm_up`: the
first visitor after a start then does not wait for the imports and stored data that the
pages' first renders need. ``streamlit run dashboard/app.py`` serves the same app, unwarmed.
"""

import logging
import sys
from contextlib import asynccontextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from dashboard.warm_up import warm_up  # noqa: E402

_log = logging.getLogger("cvlens.server")


@asynccontextmanager
async def lifespan(_app):
    """Runs before the server accepts its first connection: blocking here delays the start, not a visitor."""
    _log.info("Warm-up took %.2f s", warm_up())
    yield


app = st.App(Path(__file__).with_name("app.py"), lifespan=lifespan)
