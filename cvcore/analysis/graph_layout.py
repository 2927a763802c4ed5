"""Where each node of a :class:`~cvcore.analysis.graph_view.GraphView` goes on the page: a layered layout.

Top to bottom, as Netron and the papers' figures draw networks, in plain Python (no
graphviz). The steps of a Sugiyama layout, kept simple because CNN graphs are mostly
one main path with shortcuts and parallel branches:

1. **Ranks**: the longest path from the input, then every node that feeds a single later
   rank moves down next to its consumer (U-Net's crop sits at its concatenation).
2. **Order** inside a rank: the order of the forward pass (branches as the code writes them).
3. **x**: every node is centred under the nodes it continues from (the deepest input: the
   main path stays straight; branches of one fork centre under it); overlaps in a rank
   are resolved by averaging a left-to-right and a right-to-left packing.
4. **Long edges** (shortcuts, skips, pooling indices) run as vertical lanes beside the
   nodes they pass, nearest lanes for the shortest spans, so nested skips do not cross.

Sizes are in pixels at :data:`FONT_PX`; the renderers (SVG, PNG, plotly) draw exactly
these boxes and routes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from cvcore.analysis.graph_model import NodeKind
from cvcore.analysis.graph_view import GraphView, ViewNode
from cvcore.formatting import format_shape

FONT_PX = 11
CHAR_PX = 6.6  # average advance of an 11 px sans-serif character (DejaVu Sans: 6.2; it is among the widest)
BOLD_CHAR_PX = 7.3  # the same for the bold title line
LINE_PX = 14
PAD_X = 10
PAD_Y = 5
MIN_WIDTH = 70
MAX_WIDTH = 300
MAX_CHARS = int((MAX_WIDTH - 2 * PAD_X) / BOLD_CHAR_PX)
NODE_GAP = 24  # between boxes in one rank
RANK_GAP = 22  # between ranks
LANE_GAP = 12  # between parallel long edges
MARGIN = 16
SMALL_KINDS = (NodeKind.ADD, NodeKind.CONCAT, NodeKind.MULTIPLY, NodeKind.INPUT, NodeKind.OUTPUT)


@dataclass(frozen=True)
class Box:
    id: str
    x: float  # centre
    y: float  # centre
    width: float
    height: float
    lines: tuple[str, ...]  # title, then detail and shape lines

    @property
    def top(self) -> float:
        return self.y - self.height / 2

    @property
    def bottom(self) -> float:
        return self.y + self.height / 2


@dataclass(frozen=True)
class Route:
    source: str
    target: str
    points: tuple[tuple[float, float], ...]  # joined by curves with vertical tangents
    kind: str  # EdgeKind value
    label: str  # the tensor's shape


@dataclass(frozen=True)
class Layout:
    boxes: dict[str, Box]
    routes: tuple[Route, ...]
    width: float
    height: float


def clip_text(text: str, max_chars: int = MAX_CHARS) -> str:
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def node_lines(node: ViewNode) -> tuple[str, ...]:
    """The text drawn in a box: title, detail (type and geometry), output shape."""
    shape = format_shape(node.output_shape, drop_batch=True) or ""
    lines = [node.title, node.detail, shape] if node.kind not in SMALL_KINDS else [node.title, shape]
    return tuple(clip_text(line) for line in lines if line)


def text_width(text: str, bold: bool = False) -> float:
    return len(text) * (BOLD_CHAR_PX if bold else CHAR_PX)


def _box_size(lines: tuple[str, ...]) -> tuple[float, float]:
    widest = max(text_width(t, bold=i == 0) for i, t in enumerate(lines))
    width = max(MIN_WIDTH, min(MAX_WIDTH, widest + 2 * PAD_X))
    return width, len(lines) * LINE_PX + 2 * PAD_Y


# --- ranks ---------------------------------------------------------------------------------


def _ranks(order: list[str], preds: dict[str, list[str]], succs: dict[str, list[str]]) -> dict[str, int]:
    index = {v: i for i, v in enumerate(order)}
    rank: dict[str, int] = {}
    for v in order:
        rank[v] = max((rank[u] + 1 for u in preds[v] if index[u] < index[v]), default=0)
    for v in reversed(order):  # pull lone feeders down to their consumer
        later = [rank[w] for w in succs[v] if index[w] > index[v]]
        if later and preds[v] and min(later) - 1 > rank[v]:
            rank[v] = min(later) - 1
    return rank


# --- x positions ---------------------------------------------------------------------------


def _pack(ids: list[str], desired: dict[str, float], widths: dict[str, float], spine: set[str]) -> dict[str, float]:
    """Positions in order, at least NODE_GAP apart, as close to ``desired`` as packing allows. A node on
    the spine keeps its place (the main path stays straight); without one, a two-way packing is averaged."""
    if not ids:
        return {}
    sep = [(widths[a] + widths[b]) / 2 + NODE_GAP for a, b in zip(ids, ids[1:])]
    anchor = next((i for i, v in enumerate(ids) if v in spine), None)
    if anchor is not None:
        pos = [desired[v] for v in ids]
        for i in range(anchor + 1, len(ids)):
            pos[i] = max(pos[i], pos[i - 1] + sep[i - 1])
        for i in range(anchor - 1, -1, -1):
            pos[i] = min(pos[i], pos[i + 1] - sep[i])
        return dict(zip(ids, pos))
    right = [desired[ids[0]]]
    for i in range(1, len(ids)):
        right.append(max(desired[ids[i]], right[-1] + sep[i - 1]))
    left = [desired[ids[-1]]]
    for i in range(len(ids) - 2, -1, -1):
        left.insert(0, min(desired[ids[i]], left[0] - sep[i]))
    return {v: (r + lft) / 2 for v, r, lft in zip(ids, right, left)}


def _spine(order: list[str], rank: dict[str, int], preds: dict[str, list[str]]) -> set[str]:
    """The main path: from the last node back through the deepest input each time."""
    spine, v = set(), order[-1] if order else None
    while v is not None:
        spine.add(v)
        above = [u for u in preds[v] if rank[u] < rank[v]]
        v = max(above, key=lambda u: rank[u]) if above else None
    return spine


def _positions(layers, rank, preds, succs, widths, spine) -> dict[str, float]:
    x = {}
    for ids in layers:  # start packed from 0
        x.update(_pack(ids, dict.fromkeys(ids, 0.0), widths, spine))
    for _ in range(3):
        for ids in layers:
            desired = {}
            for v in ids:
                above = [u for u in preds[v] if rank[u] < rank[v]]
                if above:
                    deepest = max(rank[u] for u in above)
                    main = [x[u] for u in above if rank[u] == deepest]
                    desired[v] = sum(main) / len(main)
                else:
                    below = [w for w in succs[v] if rank[w] > rank[v]]
                    desired[v] = sum(x[w] for w in below) / len(below) if below else x[v]
            x.update(_pack(ids, desired, widths, spine))
    return x


# --- long edges ----------------------------------------------------------------------------


def _lanes(long_edges, rank, layers_by_rank, x, widths) -> dict[tuple[str, str], float]:
    """One vertical lane per long edge, beside every box of the ranks it passes."""
    lanes: dict[tuple[str, str], float] = {}
    placed: list[tuple[int, int, float]] = []  # (first rank, last rank, lane x)
    for u, v in sorted(long_edges, key=lambda e: rank[e[1]] - rank[e[0]]):
        first, last = rank[u] + 1, rank[v] - 1
        passed = [w for r in range(first, last + 1) for w in layers_by_rank.get(r, [])]
        if not passed:
            lanes[(u, v)] = x[u]
            continue
        centre = (x[u] + x[v]) / 2
        mid = sum(x[w] for w in passed) / len(passed)
        side = 1 if centre >= mid else -1
        edge = max(side * (x[w] + side * widths[w] / 2) for w in passed) + NODE_GAP / 2
        for a, b, lane_x in placed:
            if a <= last and first <= b and side * lane_x + LANE_GAP > edge:
                edge = side * lane_x + LANE_GAP
        lane = side * edge
        lanes[(u, v)] = lane
        placed.append((first, last, lane))
    return lanes


# --- the layout ----------------------------------------------------------------------------


def layout(view: GraphView) -> Layout:
    order = [n.id for n in view.nodes]
    index = {v: i for i, v in enumerate(order)}
    lines = {n.id: node_lines(n) for n in view.nodes}
    sizes = {v: _box_size(lines[v]) for v in order}
    widths = {v: sizes[v][0] for v in order}
    preds: dict[str, list[str]] = defaultdict(list)
    succs: dict[str, list[str]] = defaultdict(list)
    for e in view.edges:
        preds[e.target].append(e.source)
        succs[e.source].append(e.target)
    rank = _ranks(order, preds, succs)
    layers_by_rank: dict[int, list[str]] = defaultdict(list)
    for v in order:
        layers_by_rank[rank[v]].append(v)
    layers = [layers_by_rank[r] for r in sorted(layers_by_rank)]
    x = _positions(layers, rank, preds, succs, widths, _spine(order, rank, preds))
    long_edges = [
        (e.source, e.target) for e in view.edges if index[e.source] < index[e.target] and rank[e.target] - rank[e.source] > 1
    ]
    lanes = _lanes(long_edges, rank, layers_by_rank, x, widths)

    tops, y = {}, 0.0
    for r in sorted(layers_by_rank):
        tops[r] = y
        y += max(sizes[v][1] for v in layers_by_rank[r]) + RANK_GAP
    left = min([x[v] - widths[v] / 2 for v in order] + list(lanes.values()))
    right = max([x[v] + widths[v] / 2 for v in order] + list(lanes.values()))
    shift = MARGIN - left
    boxes = {}
    for v in order:
        w, h = sizes[v]
        row_height = max(sizes[u][1] for u in layers_by_rank[rank[v]])
        boxes[v] = Box(v, x[v] + shift, MARGIN + tops[rank[v]] + row_height / 2, w, h, lines[v])
    routes = _routes(view, boxes, rank, lanes, shift, tops)
    return Layout(boxes, tuple(routes), right - left + 2 * MARGIN, y - RANK_GAP + 2 * MARGIN)


def _ports(view: GraphView, boxes: dict[str, Box]) -> dict[tuple[str, str], tuple[float, float]]:
    """Where each edge leaves its source and enters its target: spread along the box edges, ordered by x."""
    outs: dict[str, list[str]] = defaultdict(list)
    ins: dict[str, list[str]] = defaultdict(list)
    for e in view.edges:
        outs[e.source].append(e.target)
        ins[e.target].append(e.source)
    ports = {}
    for e in view.edges:
        src, dst = boxes[e.source], boxes[e.target]
        ports[(e.source, e.target)] = (
            _spread(src, sorted(outs[e.source], key=lambda t: boxes[t].x), e.target),
            _spread(dst, sorted(ins[e.target], key=lambda s: boxes[s].x), e.source),
        )
    return ports


def _spread(box: Box, others: list[str], other: str) -> float:
    if len(others) == 1:
        return box.x
    span = min(box.width * 0.6, 14.0 * (len(others) - 1))
    return box.x - span / 2 + span * others.index(other) / (len(others) - 1)


def _routes(view, boxes, rank, lanes, shift, tops) -> list[Route]:
    ports = _ports(view, boxes)
    routes = []
    for e in view.edges:
        src, dst = boxes[e.source], boxes[e.target]
        out_x, in_x = ports[(e.source, e.target)]
        start, end = (out_x, src.bottom), (in_x, dst.top)
        label = format_shape(e.shape, drop_batch=True) or ""
        if (e.source, e.target) in lanes:
            lane = lanes[(e.source, e.target)] + shift
            first_top = MARGIN + tops[rank[e.source] + 1]
            last_bottom = dst.top - RANK_GAP
            points = (start, (lane, first_top), (lane, max(first_top, last_bottom)), end)
        else:
            points = (start, end)
        routes.append(Route(e.source, e.target, points, e.kind.value, label))
    return routes
