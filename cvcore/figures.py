"""Figures for export: a caption with sources and versions drawn into the figure, offline HTML,
log axes with readable ticks, point labels that neither overlap nor leave the plot.

Pure plotly (no Streamlit), so the dashboard's downloads and the CLI's ``--html`` files are
the same figure with the same caption. Colours come from :mod:`cvcore.palette`.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

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


# --- log axes a reader can read ------------------------------------------------------------

LOG_STEPS = ((1,), (1, 2, 5), (1, 2, 3, 4, 5, 6, 7, 8, 9))  # decades first; finer only when a range is short
MIN_LOG_TICKS = 3


def log_ticks(low: float, high: float) -> tuple[list[float], list[str]]:
    """Tick values and labels for a log axis over [low, high]: 0.1, 1, 10, 100 (plain numbers, no 10^k, no "2 5 2 5").

    Decades when the range holds at least three; else 1-2-5 per decade; else every digit.
    """
    if not (0 < low <= high and math.isfinite(high)):
        raise ValueError(f"A log axis needs 0 < low <= high; got {low}, {high}.")
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    for steps in LOG_STEPS:
        values = [m * 10.0**e for e in range(first, last + 1) for m in steps]
        values = [float(f"{v:.12g}") for v in values if low * (1 - 1e-9) <= v <= high * (1 + 1e-9)]
        if len(values) >= MIN_LOG_TICKS:
            break
    else:  # less than a factor of two: a few round values across it
        values = sorted({float(f"{low * (high / low) ** (i / 3):.2g}") for i in range(4)})
    return values, [tick_text(v) for v in values]


def tick_text(value: float) -> str:
    """Plain decimals ("0.02", "1.5", "1000"), no exponent."""
    return f"{value:.6f}".rstrip("0").rstrip(".")


def padded_range(values, *, log: bool, fraction: float = 0.06) -> list[float]:
    """An axis range (in plotly's units: log10 for log axes) around ``values`` with ``fraction`` of room each side."""
    points = [math.log10(v) for v in values] if log else list(values)
    low, high = min(points), max(points)
    pad = fraction * (high - low) if high > low else (0.3 if log else max(abs(low) * 0.1, 1.0))
    return [low - pad, high + pad]


# --- point labels that neither overlap nor leave the plot -----------------------------------

LABEL_FONT_PX = 10
LABEL_CHAR_PX = 6.2  # a generous average width of a 10 px sans-serif character
LABEL_HEIGHT_PX = 13
LABEL_GAP_PX = 3
# Where plotly can put a scatter point's text, in order of preference.
TEXT_POSITIONS = (
    "top center", "bottom center", "middle right", "middle left", "top right", "top left", "bottom right", "bottom left",
)  # fmt: skip


@dataclass(frozen=True)
class PlotArea:
    """The plot area in pixels and its axis ranges in plotly's units (log10 for a log axis)."""

    width_px: float
    height_px: float
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    log_x: bool = False
    log_y: bool = False

    def pixel(self, x: float, y: float) -> tuple[float, float]:
        """(px from the left, px from the top) of a data point."""
        x = math.log10(x) if self.log_x else x
        y = math.log10(y) if self.log_y else y
        (x0, x1), (y0, y1) = self.x_range, self.y_range
        return (x - x0) / (x1 - x0) * self.width_px, (y1 - y) / (y1 - y0) * self.height_px


Box = tuple[float, float, float, float]  # left, top, right, bottom (px)


def label_box(position: str, center: tuple[float, float], radius_px: float, text: str) -> Box:
    """The box plotly draws ``text`` in at ``position`` beside a marker of ``radius_px`` centred at ``center``."""
    width, height = LABEL_CHAR_PX * len(text), LABEL_HEIGHT_PX
    x, y = center
    vertical, horizontal = position.split()
    offset = radius_px + LABEL_GAP_PX
    if horizontal == "center":
        left = x - width / 2
    elif horizontal == "right":
        left = x + (offset if vertical == "middle" else 0.0)
    else:
        left = x - width - (offset if vertical == "middle" else 0.0)
    if vertical == "top":
        top = y - offset - height
    elif vertical == "bottom":
        top = y + offset
    else:
        top = y - height / 2
    return left, top, left + width, top + height


def line_boxes(
    area: PlotArea, xs: Sequence[float], ys: Sequence[float], thickness_px: float = 4.0, shape: str = "linear"
) -> list[Box]:
    """Thin pixel boxes covering a polyline (``shape="hv"`` / ``"vh"``: plotly's steps, horizontal or vertical first), as obstacles."""
    corners = []
    for i, (x, y) in enumerate(zip(xs, ys)):
        if shape == "hv" and i:
            corners.append(area.pixel(x, ys[i - 1]))
        elif shape == "vh" and i:
            corners.append(area.pixel(xs[i - 1], y))
        corners.append(area.pixel(x, y))
    half = thickness_px / 2
    boxes = []
    for (x0, y0), (x1, y1) in zip(corners, corners[1:]):
        if shape in ("hv", "vh") or x0 == x1 or y0 == y1:
            boxes.append((min(x0, x1) - half, min(y0, y1) - half, max(x0, x1) + half, max(y0, y1) + half))
        else:  # a slanted segment: small boxes along it
            steps = max(1, int(math.hypot(x1 - x0, y1 - y0) / thickness_px))
            for k in range(steps + 1):
                x, y = x0 + (x1 - x0) * k / steps, y0 + (y1 - y0) * k / steps
                boxes.append((x - half, y - half, x + half, y + half))
    return boxes


def _overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


LABEL_EDGE_PX = 4  # room kept between a label and the plot's edge: a drawn glyph reaches a little past its estimate


def _inside(box: Box, area: PlotArea) -> bool:
    m = LABEL_EDGE_PX
    return box[0] >= m and box[1] >= m and box[2] <= area.width_px - m and box[3] <= area.height_px - m


def place_labels(
    points: Sequence[tuple[float, float]], texts: Sequence[str], radii_px: Sequence[float], area: PlotArea,
    order: Sequence[int] | None = None, obstacles: Sequence[Box] = (),
) -> list[str | None]:  # fmt: skip
    """A text position per point (one of :data:`TEXT_POSITIONS`), or None where no position fits.

    Greedy, in ``order`` (most important first): each label takes the first position
    whose box stays inside the plot area and overlaps no label placed before it and no
    marker or ``obstacles`` (pixel boxes: lines drawn on the plot). A label that fits nowhere is left out (its name stays in the hover box), so
    labels never overlap and never run off the plot, whatever is selected.
    """
    centers = [area.pixel(x, y) for x, y in points]
    markers = [(cx - r, cy - r, cx + r, cy + r) for (cx, cy), r in zip(centers, radii_px)]
    placed: list[Box] = []
    positions: list[str | None] = [None] * len(points)
    for i in order if order is not None else range(len(points)):
        others = [m for j, m in enumerate(markers) if j != i] + list(obstacles)
        for position in TEXT_POSITIONS:
            box = label_box(position, centers[i], radii_px[i], texts[i])
            if _inside(box, area) and not any(_overlaps(box, b) for b in placed + others):
                positions[i] = position
                placed.append(box)
                break
    return positions
