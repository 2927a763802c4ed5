"""Figures for export: a caption with sources and versions drawn into the figure, offline HTML.

Pure plotly (no Streamlit), so the dashboard's downloads and the CLI's ``--html`` files are
the same figure with the same caption.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from cvcore.formatting import provenance

CAPTION_WRAP = 95  # characters per caption line inside a figure: fits a half-width chart at 10 px


def figure_caption(caption: str, sources: Sequence[str] = ()) -> str:
    """The caption exported with a figure: the caller's text, then sources and versions."""
    return " ".join(p for p in (caption.strip(), provenance(sources)) if p)


def with_caption(fig, caption: str):
    """A copy of ``fig`` with ``caption`` written under the plot area (the caller's figure is untouched)."""
    import plotly.graph_objects as go

    captioned = go.Figure(fig)
    lines = textwrap.wrap(caption, CAPTION_WRAP) or [""]
    margin = captioned.layout.margin
    bottom = (margin.b if margin.b is not None else 80) + 14 * len(lines)
    captioned.add_annotation(
        text="<br>".join(lines),
        xref="paper",
        yref="paper",
        x=0,
        y=0,
        xanchor="left",
        yanchor="top",
        yshift=-(bottom - 14 * len(lines) - 4),  # below the x-axis title
        align="left",
        showarrow=False,
        font={"size": 10, "color": "grey"},
    )
    height = captioned.layout.height
    captioned.update_layout(
        margin={"b": bottom},
        height=(height + 14 * len(lines)) if height else None,
    )
    return captioned


def standalone_html(fig) -> str:
    """The figure as one HTML file that works offline (plotly.js embedded, not fetched from a CDN)."""
    return fig.to_html(include_plotlyjs=True, full_html=True)
