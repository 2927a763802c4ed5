"""Drawing laid-out graphs: SVG and PNG for a thesis, DOT as text, a plotly figure for the dashboard.

Every renderer draws one :class:`Scene`: the boxes and routes of
:func:`cvcore.analysis.graph_layout.layout`, a header (model, input size, totals), a legend
and a caption with the sources and versions, so an exported file says what it shows. Boxes
are coloured by their share of the model's multiply-adds (white: none, dark red: the
largest share on the drawing), so the expensive part of a network is visible at once.
Several views are drawn side by side (plain-34 next to ResNet-34); ``highlight`` outlines
the nodes that differ between them.

No graphviz and no browser: SVG is written as text, PNG with Pillow, and the format of
:func:`export_graph` follows the file's suffix; files are written atomically
(:mod:`cvcore.storage`).
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

from cvcore.analysis.graph_layout import FONT_PX, LINE_PX, PAD_Y, Layout, layout, node_lines
from cvcore.analysis.graph_model import NodeKind
from cvcore.analysis.graph_view import GraphView, ViewNode, hover_lines
from cvcore.analysis.tables import FVCORE_SOURCE
from cvcore.errors import InvalidInputError
from cvcore.formatting import provenance

FORMATS = ("svg", "png", "dot", "json")
FONT_FAMILY = "DejaVu Sans, Helvetica, Arial, sans-serif"
HEADER_PX = 44
LEGEND_ROW_PX = 20
PANEL_GAP = 40
CAPTION_CHARS_PER_PX = 1 / 6.0  # 10 px caption text
MAX_PNG_SIDE = 20_000  # pixels; a fully unfolded ResNet-152 is ~30 000 units tall, drawn at scale < 1
MAX_DRAWN_NODES = 800  # beyond this a drawing is unreadable and slow: fold more
SOURCE = "torch.fx graph; multiply-adds: " + FVCORE_SOURCE + "; receptive fields: cvcore.analysis.receptive_field"

# OrRd-like scale for the multiply-adds share (0 = white).
_SHARE_ANCHORS = ((255, 255, 255), (254, 232, 200), (253, 187, 132), (239, 101, 72), (179, 0, 0), (110, 0, 0))
_KIND_FILLS = {
    NodeKind.ADD: "#dff0d8",
    NodeKind.CONCAT: "#d9e8f6",
    NodeKind.MULTIPLY: "#ece2f0",
    NodeKind.INPUT: "#eeeeee",
    NodeKind.OUTPUT: "#eeeeee",
}
_KIND_STROKES = {NodeKind.ADD: "#2e7d32", NodeKind.CONCAT: "#1f5fa8", NodeKind.MULTIPLY: "#6a3d9a", NodeKind.UNPOOL: "#7b1fa2"}
EDGE_STYLES = {  # kind -> (colour, width, dashed, legend label)
    "data": ("#555555", 1.2, False, "tensor"),
    "skip": ("#1f77b4", 2.0, False, "shortcut / skip"),
    "indices": ("#9c27b0", 2.0, True, "max-pooling indices"),
    "parameter": ("#999999", 1.0, True, "parameter"),
}
HIGHLIGHT = "#e91e63"


# --- the scene -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Rect:
    x: float  # top-left
    y: float
    width: float
    height: float
    fill: str
    stroke: str
    stroke_width: float = 1.0
    dashed: bool = False
    radius: float = 4.0
    node_id: str | None = None
    tooltip: str = ""  # plain text, one fact per line


@dataclass(frozen=True)
class Text:
    x: float
    y: float  # the line's vertical centre
    text: str
    size: float = FONT_PX
    bold: bool = False
    colour: str = "#222222"
    anchor: str = "middle"  # or "start"


@dataclass(frozen=True)
class Curve:
    points: tuple[tuple[float, float], ...]
    colour: str
    width: float
    dashed: bool = False
    arrow: bool = True


@dataclass
class Scene:
    width: float
    height: float
    rects: list[Rect] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)
    curves: list[Curve] = field(default_factory=list)
    hover: list[tuple[str, float, float, float, float, str]] = field(default_factory=list)  # id, cx, cy, w, h, html


def share_colour(fraction: float) -> str:
    """``fraction`` (0..1 of the drawing's largest share) on the white-to-dark-red scale."""
    t = min(max(fraction, 0.0), 1.0) * (len(_SHARE_ANCHORS) - 1)
    i = min(int(t), len(_SHARE_ANCHORS) - 2)
    a, b = _SHARE_ANCHORS[i], _SHARE_ANCHORS[i + 1]
    rgb = [round(a[c] + (b[c] - a[c]) * (t - i)) for c in range(3)]
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _is_dark(hex_colour: str) -> bool:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.299 * r + 0.587 * g + 0.114 * b < 120


def _node_style(node: ViewNode, max_share: float, highlighted: bool) -> tuple[str, str, float, bool]:
    """(fill, stroke, stroke width, dashed)."""
    if node.kind in _KIND_FILLS:
        fill = _KIND_FILLS[node.kind]
    else:
        fill = share_colour(node.share / max_share if max_share > 0 else 0.0)
    stroke = _KIND_STROKES.get(node.kind, "#444444")
    width = 2.4 if node.is_folded else 1.0  # a folded node has a heavy border: it can be opened
    if highlighted:
        stroke, width = HIGHLIGHT, 3.0
    return fill, stroke, width, node.training_only or node.opaque_reason is not None


def _panel(view: GraphView, lay: Layout, dx: float, dy: float, scene: Scene, highlight: set[str]) -> None:
    g = view.graph
    scene.texts.append(Text(dx, dy + 12, view.title, size=13, bold=True, anchor="start"))
    totals = f"{g.total_params / 1e6:.2f} M parameters · {g.total_gmacs:.3f} GMACs (fvcore) · depth {view.depth}"
    scene.texts.append(Text(dx, dy + 30, totals, size=10, colour="#555555", anchor="start"))
    top = dy + HEADER_PX
    max_share = view.max_share
    for route in lay.routes:
        colour, width, dashed, _ = EDGE_STYLES[route.kind]
        scene.curves.append(Curve(tuple((x + dx, y + top) for x, y in route.points), colour, width, dashed))
    for node in view.nodes:
        box = lay.boxes[node.id]
        fill, stroke, width, dashed = _node_style(node, max_share, node.id in highlight)
        x0, y0 = box.x - box.width / 2 + dx, box.top + top
        small = node.kind in (NodeKind.ADD, NodeKind.CONCAT, NodeKind.MULTIPLY, NodeKind.INPUT, NodeKind.OUTPUT)
        tip = "\n".join([node.title, *hover_lines(node)])
        scene.rects.append(
            Rect(x0, y0, box.width, box.height, fill, stroke, width, dashed, box.height / 2 if small else 4.0, node.id, tip)
        )
        colour = "#ffffff" if _is_dark(fill) else "#222222"
        for i, line in enumerate(box.lines):
            scene.texts.append(Text(box.x + dx, y0 + PAD_Y + LINE_PX * (i + 0.5), line, bold=i == 0, colour=colour))
        html = "<b>" + escape(node.title) + "</b><br>" + "<br>".join(escape(t) for t in hover_lines(node))
        scene.hover.append((node.id, box.x + dx, box.y + top, box.width, box.height, html))


def _legend(views: Sequence[GraphView], x0: float, y: float, width: float, scene: Scene, highlighted: bool) -> float:
    """Colour scale, the edge kinds drawn, the folded-node border; wrapped to ``width``. Returns the height used."""
    max_share = max(v.max_share for v in views)
    items: list[tuple[float, Callable[[float, float], None]]] = []

    def scale(x, y):
        scene.texts.append(Text(x, y, "share of multiply-adds", size=10, colour="#444444", anchor="start"))
        for i in range(6):
            scene.rects.append(Rect(x + 124 + 16 * i, y - 6, 16, 12, share_colour(i / 5), "#888888", 0.5, radius=0))
        scene.texts.append(Text(x + 224, y, f"0 – {100 * max_share:.1f}%", size=10, colour="#444444", anchor="start"))

    items.append((290.0, scale))
    for kind in (k for k in EDGE_STYLES if any(e.kind.value == k for v in views for e in v.edges)):
        colour, line_width, dashed, label = EDGE_STYLES[kind]

        def edge(x, y, colour=colour, line_width=line_width, dashed=dashed, label=label):
            scene.curves.append(Curve(((x, y), (x + 24, y)), colour, line_width, dashed, arrow=False))
            scene.texts.append(Text(x + 30, y, label, size=10, colour="#444444", anchor="start"))

        items.append((40 + 6.0 * len(label), edge))

    def folded(x, y):
        scene.rects.append(Rect(x, y - 7, 22, 14, "#ffffff", "#444444", 2.4))
        scene.texts.append(Text(x + 28, y, "folded: a stage or repeated blocks", size=10, colour="#444444", anchor="start"))

    items.append((240.0, folded))
    if any(n.training_only for v in views for n in v.nodes):

        def training(x, y):
            scene.rects.append(Rect(x, y - 7, 22, 14, "#ffffff", "#444444", 1.0, dashed=True))
            scene.texts.append(Text(x + 28, y, "training only (auxiliary head)", size=10, colour="#444444", anchor="start"))

        items.append((210.0, training))
    if highlighted:

        def only_here(x, y):
            scene.rects.append(Rect(x, y - 7, 22, 14, "#ffffff", HIGHLIGHT, 3.0))
            scene.texts.append(
                Text(x + 28, y, "holds what the other model has none of", size=10, colour="#444444", anchor="start")
            )

        items.append((250.0, only_here))
    x, rows = x0, 1
    for item_width, draw in items:
        if x > x0 and x + item_width > x0 + width:
            x, y, rows = x0, y + LEGEND_ROW_PX, rows + 1
        draw(x, y)
        x += item_width + 16
    return rows * LEGEND_ROW_PX


def build_scene(views: Sequence[GraphView], *, highlight: Iterable[str] = (), caption: str = "") -> Scene:
    """All ``views`` side by side, with header, legend and caption."""
    if not views:
        raise InvalidInputError("Nothing to draw: no graph was given.")
    drawn = sum(len(v.nodes) for v in views)
    if drawn > MAX_DRAWN_NODES:
        raise InvalidInputError(f"The drawing would have {drawn} nodes (more than {MAX_DRAWN_NODES}); fold it: lower the depth.")
    layouts = [layout(v) for v in views]
    highlight = set(highlight)
    width = sum(lay.width for lay in layouts) + PANEL_GAP * (len(layouts) - 1)
    width = max(width, 620.0)
    graph_height = max(lay.height for lay in layouts)
    text = caption or default_caption(views)
    lines = textwrap.wrap(text, max(40, int(width * CAPTION_CHARS_PER_PX)))
    scene = Scene(width + 16, 0)
    dx = 8.0
    for view, lay in zip(views, layouts):
        _panel(view, lay, dx, 4.0, scene, highlight)
        dx += lay.width + PANEL_GAP
    legend_y = HEADER_PX + graph_height + 12
    legend_height = _legend(views, 8.0, legend_y, width, scene, bool(highlight))
    caption_y = legend_y + legend_height
    for i, line in enumerate(lines):
        scene.texts.append(Text(8, caption_y + 14 * i, line, size=10, colour="#666666", anchor="start"))
    scene.height = caption_y + 14 * len(lines) + 8
    return scene


def default_caption(views: Sequence[GraphView]) -> str:
    notes = [note for v in views for note in v.graph.notes]
    tracer = "; ".join(dict.fromkeys(v.graph.tracer for v in views))
    text = (
        f"Data flow traced with {tracer}; every box shows its output (C x H x W). "
        "Colour: share of the model's multiply-adds. Hover for parameters, multiply-adds, receptive field and jump. "
    )
    return text + " ".join(notes) + " " + provenance([SOURCE])


# --- curves --------------------------------------------------------------------------------


def _segment(p0: tuple[float, float], p1: tuple[float, float], steps: int = 12) -> list[tuple[float, float]]:
    """A cubic curve leaving ``p0`` and entering ``p1`` vertically; a straight line if they are aligned."""
    (x0, y0), (x1, y1) = p0, p1
    if abs(x0 - x1) < 0.5 or abs(y1 - y0) < 1:
        return [p0, p1]
    ym = (y0 + y1) / 2
    points = []
    for i in range(steps + 1):
        t = i / steps
        a, b, c, d = (1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t**2, t**3
        points.append((a * x0 + b * x0 + c * x1 + d * x1, a * y0 + b * ym + c * ym + d * y1))
    return points


def sampled(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for p0, p1 in zip(points, points[1:]):
        seg = _segment(p0, p1)
        out.extend(seg if not out else seg[1:])
    return out


def _svg_path(points: Sequence[tuple[float, float]]) -> str:
    parts = [f"M{points[0][0]:.1f},{points[0][1]:.1f}"]
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if abs(x0 - x1) < 0.5:
            parts.append(f"L{x1:.1f},{y1:.1f}")
        else:
            ym = (y0 + y1) / 2
            parts.append(f"C{x0:.1f},{ym:.1f} {x1:.1f},{ym:.1f} {x1:.1f},{y1:.1f}")
    return " ".join(parts)


def _arrowhead(points: Sequence[tuple[float, float]], size: float = 6.0) -> list[tuple[float, float]]:
    """A triangle at the last point, along the last bit of the (sampled) curve."""
    path = sampled(points)
    (x0, y0), (x1, y1) = path[-2], path[-1]
    length = math.hypot(x1 - x0, y1 - y0) or 1.0
    ux, uy = (x1 - x0) / length, (y1 - y0) / length
    bx, by = x1 - ux * size * 1.4, y1 - uy * size * 1.4
    return [(x1, y1), (bx - uy * size / 2 * 1.2, by + ux * size / 2 * 1.2), (bx + uy * size / 2 * 1.2, by - ux * size / 2 * 1.2)]


# --- SVG -----------------------------------------------------------------------------------


def to_svg(scene: Scene) -> str:
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{scene.width:.0f}" height="{scene.height:.0f}" '
        f'viewBox="0 0 {scene.width:.0f} {scene.height:.0f}" font-family="{FONT_FAMILY}" font-size="{FONT_PX}">',
        f'<rect width="{scene.width:.0f}" height="{scene.height:.0f}" fill="#ffffff"/>',
        '<g class="edges" fill="none">',
    ]
    for c in scene.curves:
        dash = ' stroke-dasharray="5,3"' if c.dashed else ""
        out.append(f'<path d="{_svg_path(c.points)}" stroke="{c.colour}" stroke-width="{c.width}"{dash}/>')
        if c.arrow:
            tri = " ".join(f"{x:.1f},{y:.1f}" for x, y in _arrowhead(c.points))
            out.append(f'<polygon points="{tri}" fill="{c.colour}" stroke="none"/>')
    out.append("</g>")
    out.append('<g class="nodes">')
    for r in scene.rects:
        dash = ' stroke-dasharray="4,2"' if r.dashed else ""
        title = f"<title>{escape(r.tooltip)}</title>" if r.tooltip else ""
        node = f' data-node="{escape(r.node_id, {chr(34): "&quot;"})}"' if r.node_id else ""
        out.append(
            f'<g{node}>{title}<rect x="{r.x:.1f}" y="{r.y:.1f}" width="{r.width:.1f}" height="{r.height:.1f}" rx="{r.radius:.1f}" '
            f'fill="{r.fill}" stroke="{r.stroke}" stroke-width="{r.stroke_width}"{dash}/></g>'
        )
    out.append("</g>")
    out.append('<g class="labels">')
    for t in scene.texts:
        weight = ' font-weight="bold"' if t.bold else ""
        out.append(
            f'<text x="{t.x:.1f}" y="{t.y:.1f}" text-anchor="{t.anchor}" dominant-baseline="central" font-size="{t.size}" '
            f'fill="{t.colour}"{weight}>{escape(t.text)}</text>'
        )
    out.append("</g></svg>")
    return "\n".join(out) + "\n"


# --- PNG -----------------------------------------------------------------------------------


def _font(size: float, bold: bool):
    from PIL import ImageFont

    for name in ("DejaVuSans-Bold.ttf", "LiberationSans-Bold.ttf") if bold else ("DejaVuSans.ttf", "LiberationSans-Regular.ttf"):
        try:
            return ImageFont.truetype(name, round(size))
        except OSError:
            continue
    return ImageFont.load_default(size=round(size))


def _dashes(points: list[tuple[float, float]], on: float, off: float) -> list[list[tuple[float, float]]]:
    pieces, current, left, drawing = [], [points[0]], on, True
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        length = math.hypot(x1 - x0, y1 - y0)
        pos = 0.0
        while length - pos > left:
            pos += left
            p = (x0 + (x1 - x0) * pos / length, y0 + (y1 - y0) * pos / length)
            if drawing:
                current.append(p)
                pieces.append(current)
            current = [p]
            drawing, left = not drawing, off if drawing else on
        left -= length - pos
        if drawing:
            current.append((x1, y1))
    if drawing and len(current) > 1:
        pieces.append(current)
    return pieces


def to_png(scene: Scene, scale: float = 2.0) -> bytes:
    """The scene at ``scale`` pixels per unit (2: sharp in print), at most MAX_PNG_SIDE pixels high."""
    from PIL import Image, ImageDraw

    scale = min(scale, MAX_PNG_SIDE / max(scene.width, scene.height))
    width, height = math.ceil(scene.width * scale), math.ceil(scene.height * scale)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    s = lambda pts: [(x * scale, y * scale) for x, y in pts]  # noqa: E731
    for c in scene.curves:
        line = s(sampled(c.points))
        for piece in _dashes(line, 5 * scale, 3 * scale) if c.dashed else [line]:
            draw.line(piece, fill=c.colour, width=max(1, round(c.width * scale)), joint="curve")
        if c.arrow:
            draw.polygon(s(_arrowhead(c.points)), fill=c.colour)
    for r in scene.rects:
        box = [r.x * scale, r.y * scale, (r.x + r.width) * scale, (r.y + r.height) * scale]
        width = max(1, round(r.stroke_width * scale))
        draw.rounded_rectangle(box, radius=r.radius * scale, fill=r.fill, outline=None if r.dashed else r.stroke, width=width)
        if r.dashed:
            x0, y0, x1, y1 = box
            for piece in _dashes([(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)], 4 * scale, 2 * scale):
                draw.line(piece, fill=r.stroke, width=width)
    fonts: dict[tuple[float, bool], object] = {}
    for t in scene.texts:
        font = fonts.setdefault((t.size, t.bold), _font(t.size * scale, t.bold))
        draw.text((t.x * scale, t.y * scale), t.text, fill=t.colour, font=font, anchor="mm" if t.anchor == "middle" else "lm")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")  # optimize=True costs seconds on a tall graph for a few percent
    return buffer.getvalue()


# --- DOT -----------------------------------------------------------------------------------


def _dot_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(views: Sequence[GraphView], *, highlight: Iterable[str] = ()) -> str:
    """Graphviz DOT text (render with ``dot -Tsvg``); one cluster per model when there are several."""
    highlight = set(highlight)
    lines = [
        "digraph cvlens {",
        "  rankdir=TB;",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
    ]
    for i, view in enumerate(views):
        prefix = f"m{i}_" if len(views) > 1 else ""
        indent = "    " if len(views) > 1 else "  "
        if len(views) > 1:
            lines.append(f"  subgraph cluster_{i} {{")
            lines.append(f"    label={_dot_string(view.title)};")
        max_share = view.max_share
        for node in view.nodes:
            fill, stroke, width, dashed = _node_style(node, max_share, node.id in highlight)
            label = "\n".join(node_lines(node))
            style = "rounded,filled" + (",dashed" if dashed else "") + (",bold" if node.is_folded else "")
            tooltip = "\n".join(hover_lines(node))
            lines.append(
                f"{indent}{_dot_string(prefix + node.id)} [label={_dot_string(label)}, fillcolor={_dot_string(fill)}, "
                f"color={_dot_string(stroke)}, penwidth={width}, style={_dot_string(style)}, tooltip={_dot_string(tooltip)}];"
            )
        for e in view.edges:
            colour, width, dashed, _ = EDGE_STYLES[e.kind.value]
            attrs = [f"color={_dot_string(colour)}", f"penwidth={width}"]
            if dashed:
                attrs.append("style=dashed")
            if e.shape:
                from cvcore.formatting import format_shape

                attrs.append(f"label={_dot_string(format_shape(e.shape, drop_batch=True))}")
            lines.append(f"{indent}{_dot_string(prefix + e.source)} -> {_dot_string(prefix + e.target)} [{', '.join(attrs)}];")
        if len(views) > 1:
            lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


# --- plotly --------------------------------------------------------------------------------


def graph_figure(views: Sequence[GraphView], *, highlight: Iterable[str] = (), caption: str = ""):
    """The scene as an interactive plotly figure: hover shows each node's numbers; a node's point carries
    its id in ``customdata`` (the dashboard's click selection reads it)."""
    import plotly.graph_objects as go

    scene = build_scene(views, highlight=highlight, caption=caption)
    fig = go.Figure()
    by_style: dict[tuple, list] = {}
    for c in scene.curves:
        by_style.setdefault((c.colour, c.width, c.dashed), []).append(c)
    for (colour, width, dashed), curves in by_style.items():
        xs, ys = [], []
        for c in curves:
            for x, y in sampled(c.points):
                xs.append(x)
                ys.append(y)
            xs.append(None)
            ys.append(None)
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                line={"color": colour, "width": width, "dash": "dash" if dashed else "solid"},
                hoverinfo="skip",
                showlegend=False,
            )
        )
        heads_x, heads_y = [], []
        for c in curves:
            if c.arrow:
                for x, y in [*_arrowhead(c.points), _arrowhead(c.points)[0]]:
                    heads_x.append(x)
                    heads_y.append(y)
                heads_x.append(None)
                heads_y.append(None)
        if heads_x:
            fig.add_trace(
                go.Scatter(
                    x=heads_x,
                    y=heads_y,
                    mode="lines",
                    fill="toself",
                    fillcolor=colour,
                    line={"color": colour, "width": 0.5},
                    hoverinfo="skip",
                    showlegend=False,
                )
            )
    by_fill: dict[tuple, list[Rect]] = {}
    for r in scene.rects:
        by_fill.setdefault((r.fill, r.stroke, r.stroke_width, r.dashed), []).append(r)
    for (fill, stroke, width, dashed), rects in by_fill.items():
        xs, ys = [], []
        for r in rects:
            xs += [r.x, r.x + r.width, r.x + r.width, r.x, r.x, None]
            ys += [r.y, r.y, r.y + r.height, r.y + r.height, r.y, None]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                fill="toself",
                fillcolor=fill,
                line={"color": stroke, "width": width, "dash": "dot" if dashed else "solid"},
                hoverinfo="skip",
                showlegend=False,
            )
        )
    fig.add_trace(
        go.Scatter(
            x=[t.x if t.anchor == "middle" else t.x for t in scene.texts],
            y=[t.y for t in scene.texts],
            mode="text",
            text=[f"<b>{escape(t.text)}</b>" if t.bold else escape(t.text) for t in scene.texts],
            textposition=["middle center" if t.anchor == "middle" else "middle right" for t in scene.texts],
            textfont={"size": [t.size for t in scene.texts], "color": [t.colour for t in scene.texts], "family": FONT_FAMILY},
            hoverinfo="skip",
            showlegend=False,
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[h[1] for h in scene.hover],
            y=[h[2] for h in scene.hover],
            mode="markers",
            marker={"size": [max(12.0, min(h[3], h[4])) for h in scene.hover], "symbol": "square", "color": "rgba(0,0,0,0)"},
            customdata=[h[0] for h in scene.hover],
            hovertext=[h[5] for h in scene.hover],
            hovertemplate="%{hovertext}<extra></extra>",
            showlegend=False,
            name="nodes",
        )
    )
    axis = {"visible": False, "showgrid": False, "zeroline": False}
    fig.update_layout(
        width=round(scene.width),
        height=round(scene.height),
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        xaxis={**axis, "range": [0, scene.width]},
        yaxis={**axis, "range": [scene.height, 0], "scaleanchor": "x", "scaleratio": 1},
        plot_bgcolor="white",
        paper_bgcolor="white",
        dragmode="pan",
        hoverlabel={"align": "left", "font": {"size": 12}},
    )
    return fig


# --- files ---------------------------------------------------------------------------------


def graph_bytes(views: Sequence[GraphView], fmt: str, *, highlight: Iterable[str] = (), caption: str = "") -> bytes:
    """The drawing (svg, png), the DOT text, or the graph as JSON (nodes and edges of each view)."""
    fmt = fmt.lower().lstrip(".")
    if fmt not in FORMATS:
        raise InvalidInputError(f"Unknown graph format {fmt!r}; use one of {', '.join(FORMATS)}.")
    if fmt == "dot":
        return to_dot(views, highlight=highlight).encode()
    if fmt == "json":
        from cvcore.formatting import to_json

        return (to_json([view_record(v) for v in views]) + "\n").encode()
    scene = build_scene(views, highlight=highlight, caption=caption)
    return to_svg(scene).encode() if fmt == "svg" else to_png(scene)


def view_record(view: GraphView) -> dict:
    from cvcore.formatting import to_jsonable

    g = view.graph
    return {
        "model": g.name,
        "input_size": list(g.input_size),
        "depth": view.depth,
        "total_params": g.total_params,
        "total_gmacs": g.total_gmacs,
        "tracer": g.tracer,
        "notes": list(g.notes),
        "nodes": [{k: v for k, v in to_jsonable(n).items() if k != "members"} | {"members": len(n.members)} for n in view.nodes],
        "edges": to_jsonable(view.edges),
    }


def export_graph(
    views: Sequence[GraphView], path: str | Path, *, highlight: Iterable[str] = (), caption: str = "", check_only: bool = False
) -> Path:
    """Write the drawing to ``path``; the format is the suffix (.svg, .png, .dot, .json). Atomic.
    ``check_only`` validates the suffix and folder and writes nothing (call it before slow work)."""
    from cvcore.storage import StorageError, atomic_write

    path = Path(path).expanduser()
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise InvalidInputError(f"The output must end in one of {', '.join('.' + f for f in FORMATS)}; got {path.name!r}.")
    if not path.parent.is_dir():
        raise StorageError(f"Cannot write {path}: the folder {path.parent} does not exist.")
    if check_only:
        return path
    return atomic_write(path, graph_bytes(views, suffix, highlight=highlight, caption=caption))
