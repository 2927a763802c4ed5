"""What ``dashboard/server.py`` does before the server answers: import and read what first renders need.

Streamlit runs a page's script only when a visitor arrives, so without this the first visitor
after a start pays the imports that the pages reading stored data need at their defaults
(pandas, pyarrow, plotly, cvcore's catalogue and tables) and the reading of that data.
torch is not among them: the pages that run a model import it, so a server whose visitors
only read tables never holds it. Kept apart from ``server.py`` so that tests and benchmarks can
call :func:`warm_up` without creating an ``st.App`` in their process.
"""

from __future__ import annotations

import importlib
import logging
import time

_log = logging.getLogger("cvlens.server")

# What the default pages' first renders import (measured: the modules new in sys.modules after a first
# render of Home, Models, Compare, Architecture and Papers); none of them imports torch (a test checks it).
WARM_MODULES = (
    "pandas",
    "pyarrow",
    "pyarrow.pandas_compat",
    "pyarrow.vendored.version",
    "streamlit.dataframe_util",
    "plotly.graph_objects",
    "dashboard.common",
    "dashboard.export",
    "dashboard.graph_sections",
    "cvcore.catalogue",
    "cvcore.compare",
    "cvcore.weights",
    "cvcore.palette",
    "cvcore.benchmark.axes",
    "cvcore.benchmark.results",
    "cvcore.benchmark.store",
    "cvcore.analysis.graph_view",
    "cvcore.analysis.graph_render",
    "cvcore.analysis.tables",
    "cvcore.analysis.erf_layers",
    "cvcore.analysis.paper_names",
    "cvcore.analysis.stages",
    "cvcore.evaluation.measured",
    "cvcore.evaluation.store",
    "cvcore.papers.registry",
    "cvcore.papers.mobilenet",
    "cvcore.papers.reproductions",
    "cvcore.papers.tables",
)


def read_stored_data() -> None:
    """Read what the default pages read, once per process: the stored catalogue, analysis, paper rows and per-layer
    tables; and make plotly load its figure classes (it does on first use)."""
    import plotly.graph_objects as go

    from cvcore.analysis.precomputed import load_precomputed
    from cvcore.papers.registry import PAPERS, paper_layers
    from cvcore.papers.stored import stored_rows
    from cvcore.registry_snapshot import load_snapshot

    go.Figure(go.Scatter(), layout={"title": {}, "xaxis": {}, "yaxis": {}, "legend": {}, "margin": {}, "annotations": [{}]})
    load_snapshot()
    load_precomputed()
    first_paper = next(iter(PAPERS))  # the Papers page's default
    stored_rows(first_paper)
    paper_layers(first_paper, compute=False)  # reads every stored per-layer table (one file)


def warm_up(modules=WARM_MODULES) -> float:
    """Import ``modules`` and read the stored data now; returns the seconds it took.

    Whatever fails here is logged and left for the page that needs it to report to its user, with its context.
    """
    start = time.perf_counter()
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:
            _log.warning("Warm-up: could not import %s (%s: %s); its page will say why.", name, type(exc).__name__, exc)
    try:
        read_stored_data()
    except Exception as exc:
        _log.warning("Warm-up: could not read the stored data (%s: %s); the pages will say why.", type(exc).__name__, exc)
    return time.perf_counter() - start
