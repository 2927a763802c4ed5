"""A :class:`~cvcore.analysis.graph.ModelGraph` folded the way papers draw networks.

- **Depth**: modules deeper than ``depth`` levels fold into one node. Generic containers
  (``features``, ``layers``, ``encoder`` ...; the rule of :func:`cvcore.analysis.layers.stage_of`)
  do not count as a level, so depth 1 shows ResNet's ``layer1`` .. ``layer4``, EfficientNet's
  stages ``features.1`` .. ``features.7`` and ViT's encoder layers; depth 0 folds those
  containers too (VGG: ``features``, ``avgpool``, ``classifier``).
- **Per-node expansion**: ``expand`` names folded nodes to open one level further.
- **Repeats**: consecutive folded siblings with the same structure that feed each other
  ("layer3.1 .. layer3.35", 35 identical bottlenecks) fold into one node "x 35", unless
  ``expand_repeats`` or the repeat's key is in ``expand``.

A folded node sums its members' parameters and multiply-adds and shows the output shape,
receptive field and jump of the tensor that leaves it; the merges inside it are counted,
so a folded ResNet stage still says how many residual additions it holds. Parameter reads
(ViT's class token) are not drawn: their parameters count towards the node that uses them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from cvcore.analysis.graph_model import MERGE_KINDS, EdgeKind, GraphNode, ModelGraph, NodeKind
from cvcore.analysis.rows import _CONTAINER_NAMES
from cvcore.analysis.tables import format_field
from cvcore.formatting import Table, format_shape

MAX_DEPTH = 8
PLAIN_CONTAINERS = ("Sequential", "ModuleList", "ModuleDict")
REPEAT_SEPARATOR = "…"  # a repeat's key: "layer3.1…layer3.35"
MERGE_WORDS = {NodeKind.ADD: ("add", "adds"), NodeKind.CONCAT: ("concat", "concats"), NodeKind.MULTIPLY: ("product", "products")}
SHOWN_KINDS = {  # what a drawn functional node is called
    NodeKind.ADD: "add",
    NodeKind.CONCAT: "concat",
    NodeKind.MULTIPLY: "multiply",
    NodeKind.UNPOOL: "max-unpool",
    NodeKind.INPUT: "input",
    NodeKind.OUTPUT: "output",
}


@dataclass(frozen=True)
class ViewNode:
    id: str  # a graph node's id, a module path (folded), or a repeat key "first…last"
    title: str  # "layer3: Bottleneck x 6", "layer1.0.conv1", "add"
    detail: str  # "Conv2d 3x3 /2", "10 modules · 2 adds"
    kind: NodeKind | None  # None for a folded node
    op: str
    output_shape: tuple[int, ...] | None
    params: int
    gmacs: float
    share: float  # of the model's multiply-adds, 0..1
    receptive_field: tuple[int, int] | None
    jump: tuple[float, float] | None
    members: tuple[str, ...]  # graph node ids
    merges: tuple[tuple[str, int], ...]  # (kind, count) of the merges folded inside
    repeat: int = 1
    training_only: bool = False
    opaque_reason: str | None = None

    @property
    def is_folded(self) -> bool:
        return self.kind is None


@dataclass(frozen=True)
class ViewEdge:
    source: str
    target: str
    kind: EdgeKind
    shape: tuple[int, ...] | None


@dataclass(frozen=True)
class GraphView:
    graph: ModelGraph
    nodes: tuple[ViewNode, ...]
    edges: tuple[ViewEdge, ...]
    depth: int
    expand: frozenset[str]
    expand_repeats: bool

    def node(self, node_id: str) -> ViewNode:
        return next(n for n in self.nodes if n.id == node_id)

    @property
    def max_share(self) -> float:
        return max((n.share for n in self.nodes), default=0.0)

    @property
    def title(self) -> str:
        h, w = self.graph.input_size
        return f"{self.graph.name} at {h}x{w}"


# --- which node stands for which -----------------------------------------------------------


def _level(parts: list[str], k: int) -> int:
    """How many meaningful levels the first ``k`` parts of a module path are (generic containers at the front do not count)."""
    generic = 0
    while generic < k and parts[generic] in _CONTAINER_NAMES:
        generic += 1
    return k - generic


def folded_path(node: GraphNode, depth: int, expand: Iterable[str] = ()) -> str | None:
    """The module path ``node`` folds into at ``depth``, or None when it is drawn itself."""
    if node.kind in (NodeKind.INPUT, NodeKind.OUTPUT):
        return None
    expand = set(expand)
    path = node.module or node.scope
    parts = path.split(".") if path else []
    for k in range(1, len(parts) + 1):
        prefix = ".".join(parts[:k])
        if _level(parts, k) >= depth and prefix not in expand:
            return None if prefix == node.module else prefix
    return None


def module_summary(graph: ModelGraph, path: str) -> str:
    """ "Bottleneck x 6" for a plain container of one block type, else the module's class ("InceptionA")."""
    cls = graph.module_classes.get(path, "?")
    if cls not in PLAIN_CONTAINERS:
        return cls
    prefix = path + "." if path else ""
    children = [
        c
        for name, c in graph.module_classes.items()
        if name.startswith(prefix) and "." not in name[len(prefix) :] and name != path
    ]
    counts = Counter(children)
    if len(counts) == 1:
        ((child, n),) = counts.items()
        return f"{child} x {n}" if n > 1 else child
    kinds = list(dict.fromkeys(children))
    return ", ".join(kinds[:3]) + (", …" if len(kinds) > 3 else "")


def _pair_text(value: tuple[int, ...]) -> str:
    return "x".join(str(v) for v in value)


def _scalar_text(value: tuple[int, ...]) -> str:
    return str(value[0]) if len(set(value)) == 1 else _pair_text(value)


def geometry_text(node: GraphNode) -> str:
    """ "Conv2d 3x3 /2", "Conv2d 3x3 d2", "Conv2d 3x3 g32", "max_pool2d 2x2 /2"."""
    parts = [node.op]
    if node.kernel and len(node.kernel) == 2:
        parts.append(_pair_text(node.kernel))
        if node.stride and any(s != 1 for s in node.stride):
            parts.append("/" + _scalar_text(node.stride))
        if node.dilation and any(d != 1 for d in node.dilation):
            parts.append("d" + _scalar_text(node.dilation))
    if node.groups and node.groups > 1:
        parts.append(f"g{node.groups}")
    return " ".join(parts)


# --- folding -------------------------------------------------------------------------------


def fold(graph: ModelGraph, depth: int = 1, expand: Iterable[str] = (), expand_repeats: bool = False) -> GraphView:
    """The view of ``graph`` at ``depth`` with the ``expand``-ed nodes opened (see the module docstring)."""
    depth = max(0, min(int(depth), MAX_DEPTH))
    expand = frozenset(e.replace("...", REPEAT_SEPARATOR) for e in expand)  # typed on a keyboard: three dots
    hidden = {n.id for n in graph.nodes if n.kind is NodeKind.PARAMETER}
    item_of = _assign_items(graph, depth, expand, hidden)
    order = list(dict.fromkeys(item_of[n.id] for n in graph.nodes if n.id in item_of))
    members: dict[str, list[GraphNode]] = defaultdict(list)
    for n in graph.nodes:
        if n.id in item_of:
            members[item_of[n.id]].append(n)
    repeats: dict[str, int] = {}
    if not expand_repeats:
        item_of, order, members, repeats = _fold_repeats(graph, item_of, order, members, expand)
    edges = _view_edges(graph, item_of)
    nodes = tuple(_view_node(graph, key, members[key], item_of, repeats.get(key, 1)) for key in order)
    return GraphView(graph, nodes, tuple(edges), depth, expand, expand_repeats)


def _assign_items(graph: ModelGraph, depth: int, expand: frozenset[str], hidden: set[str]) -> dict[str, str]:
    item_of = {}
    for n in graph.nodes:
        if n.id in hidden:
            continue
        path = folded_path(n, depth, expand)
        item_of[n.id] = path if path is not None else n.id
    for pid in hidden:  # a parameter read counts towards the node that uses it
        consumer = next((e.target for e in graph.edges if e.source == pid and e.target in item_of), None)
        if consumer is not None:
            item_of[pid] = item_of[consumer]
    return item_of


def _signature(graph: ModelGraph, path: str, nodes: list[GraphNode]) -> tuple:
    return tuple(
        (
            n.name.removeprefix(path),
            n.op,
            n.kernel,
            n.stride,
            n.dilation,
            n.groups,
            n.params,
            n.output_shape and n.output_shape[1:],
        )
        for n in nodes
    )


def _parent(path: str) -> str:
    return path.rpartition(".")[0]


def _fold_repeats(graph, item_of, order, members, expand):
    """Merge runs of identical, chained, folded siblings into one "x N" item."""
    sources: dict[str, set[str]] = defaultdict(set)  # item -> items feeding it
    for e in graph.edges:
        a, b = item_of.get(e.source), item_of.get(e.target)
        if a is not None and b is not None and a != b and e.kind is not EdgeKind.PARAMETER:
            sources[b].add(a)
    folded = {key for key in order if key in graph.module_classes}
    signature = {key: _signature(graph, key, members[key]) for key in folded}
    runs: list[list[str]] = []
    for key in order:
        previous = runs[-1][-1] if runs else None
        if (
            previous is not None
            and key in folded
            and previous in folded
            and _parent(key) == _parent(previous)
            and signature[key] == signature[previous]
            and sources[key] == {previous}
        ):
            runs[-1].append(key)
        else:
            runs.append([key])
    new_item: dict[str, str] = {}
    new_order, new_members, repeats = [], {}, {}
    for run in runs:
        key = f"{run[0]}{REPEAT_SEPARATOR}{run[-1]}" if len(run) > 1 else run[0]
        if len(run) > 1 and key in expand:
            for k in run:
                new_item[k], new_members[k] = k, members[k]
                new_order.append(k)
            continue
        new_order.append(key)
        new_members[key] = [n for k in run for n in members[k]]
        repeats[key] = len(run)
        for k in run:
            new_item[k] = key
    return {nid: new_item[item] for nid, item in item_of.items()}, new_order, new_members, repeats


def _view_edges(graph: ModelGraph, item_of: dict[str, str]) -> list[ViewEdge]:
    seen: dict[tuple[str, str], ViewEdge] = {}
    rank = {EdgeKind.INDICES: 0, EdgeKind.DATA: 1, EdgeKind.SKIP: 2, EdgeKind.PARAMETER: 3}
    for e in graph.edges:
        a, b = item_of.get(e.source), item_of.get(e.target)
        if a is None or b is None or a == b or e.kind is EdgeKind.PARAMETER:
            continue
        key = (a, b)
        # One arrow per pair of drawn nodes. Indices say the most; between folded nodes a plain data
        # edge wins over a shortcut that only passes from one block into the next.
        if key not in seen or rank[e.kind] < rank[seen[key].kind]:
            seen[key] = ViewEdge(a, b, e.kind, e.shape)
    return list(seen.values())


def _view_node(graph: ModelGraph, key: str, nodes: list[GraphNode], item_of, repeat: int) -> ViewNode:
    params = sum(n.params for n in nodes)
    gmacs = sum(n.gmacs for n in nodes)
    drawn = [n for n in nodes if n.kind is not NodeKind.PARAMETER]
    single = len(drawn) == 1 and key == drawn[0].id
    if single:
        n = drawn[0]
        detail = geometry_text(n) if n.kind is NodeKind.MODULE or n.kernel else _node_detail(n)
        return ViewNode(
            id=key, title=_node_title(n), detail=detail + (" · training only" if n.training_only else ""),
            kind=n.kind, op=n.op, output_shape=n.output_shape, params=params, gmacs=gmacs, share=graph.share(gmacs),
            receptive_field=n.receptive_field, jump=n.jump, members=(n.id,), merges=(), training_only=n.training_only,
            opaque_reason=n.opaque_reason,
        )  # fmt: skip
    last = _leaving(graph, drawn, key, item_of)
    merges = Counter(n.kind for n in drawn if n.kind in MERGE_KINDS)
    if repeat > 1:
        first, last_key = key.split(REPEAT_SEPARATOR)
        title = f"{_range_text(first, last_key)}: {graph.module_classes.get(first, '?')} x {repeat}"
        op = graph.module_classes.get(first, "?")
    else:
        title = f"{key}: {module_summary(graph, key)}"
        op = graph.module_classes.get(key, "?")
    return ViewNode(
        id=key, title=title, detail=_group_detail(drawn, merges), kind=None, op=op,
        output_shape=last.output_shape if last else None, params=params, gmacs=gmacs, share=graph.share(gmacs),
        receptive_field=last.receptive_field if last else None, jump=last.jump if last else None,
        members=tuple(n.id for n in nodes), merges=tuple((k.value, c) for k, c in merges.items()), repeat=repeat,
        training_only=all(n.training_only for n in drawn), opaque_reason=None,
    )  # fmt: skip


def _range_text(first: str, last: str) -> str:
    """ "layer3.1–35", "bottleneck1_1–4": the last name without the part both share."""
    common = 0
    while common < min(len(first), len(last)) and first[common] == last[common]:
        common += 1
    while common > 0 and first[common - 1].isalnum():  # back to a separator: "1_1" and "1_4" share "1_"
        common -= 1
    return f"{first}–{last[common:]}"


def _leaving(graph: ModelGraph, nodes: list[GraphNode], key: str, item_of) -> GraphNode | None:
    """The last member whose tensor leaves the folded node (its output), else the last member."""
    ids = {n.id for n in nodes}
    leaving = {e.source for e in graph.edges if e.source in ids and item_of.get(e.target) != key}
    candidates = [n for n in nodes if n.id in leaving and n.output_shape is not None]
    return candidates[-1] if candidates else (nodes[-1] if nodes else None)


def _node_title(n: GraphNode) -> str:
    if n.kind is NodeKind.MODULE:
        return n.name
    if n.kind is NodeKind.OP and n.op == "getitem":
        return "slice"  # U-Net's crop, ViT's class token
    return SHOWN_KINDS.get(n.kind, n.op)


def _node_detail(n: GraphNode) -> str:
    """A functional op says where it runs ("in layer1.0"); the model's own ops need no such line."""
    if n.kind in (NodeKind.INPUT, NodeKind.OUTPUT) or not n.scope:
        return ""
    return f"in {n.scope}"


def _group_detail(nodes: list[GraphNode], merges: Counter) -> str:
    modules = sum(1 for n in nodes if n.kind in (NodeKind.MODULE, NodeKind.UNPOOL) and n.module)
    parts = [f"{modules} module{'s' if modules != 1 else ''}"]
    for kind, (one, many) in MERGE_WORDS.items():
        if merges.get(kind):
            parts.append(f"{merges[kind]} {one if merges[kind] == 1 else many}")
    if nodes and all(n.training_only for n in nodes):
        parts.append("training only")
    return " · ".join(parts)


def hover_lines(node: ViewNode) -> list[str]:
    """What a hover or a click shows: the numbers the drawing has no room for."""
    lines = [
        f"type: {node.op}",
        f"output: {format_shape(node.output_shape, drop_batch=True) or '?'}",
        f"parameters: {node.params:,}",
        f"multiply-adds: {node.gmacs:.4g} GMACs ({100 * node.share:.2f}% of the model)",
        f"receptive field: {format_field(node.receptive_field) or '?'} px, jump {format_field(node.jump) or '?'}",
    ]
    if node.merges:
        lines.append("inside: " + ", ".join(f"{c} x {k}" for k, c in node.merges))
    if node.training_only:
        lines.append("runs in training only (auxiliary head): its multiply-adds are not in the inference count")
    if node.opaque_reason:
        lines.append(f"torch.fx could not trace inside: {node.opaque_reason}")
    return lines


# --- two graphs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class GraphDifference:
    what: str  # "add 64x56x56", "Conv2d 1x1 /2 -> 128x28x28"
    count_a: int
    count_b: int

    @property
    def delta(self) -> int:
        return self.count_b - self.count_a


def _structure_key(n: GraphNode) -> str | None:
    if n.kind in MERGE_KINDS or n.kind is NodeKind.UNPOOL:
        return f"{SHOWN_KINDS[n.kind]} -> {format_shape(n.output_shape, drop_batch=True)}"
    if n.kind is NodeKind.MODULE:
        return f"{geometry_text(n)} -> {format_shape(n.output_shape, drop_batch=True)}"
    return None


def graph_differences(a: ModelGraph, b: ModelGraph) -> list[GraphDifference]:
    """What one graph has that the other lacks: modules (type, geometry, output) and merges, counted."""
    count_a = Counter(k for n in a.nodes if (k := _structure_key(n)))
    count_b = Counter(k for n in b.nodes if (k := _structure_key(n)))
    keys = list(dict.fromkeys([*count_a, *count_b]))
    return [GraphDifference(k, count_a[k], count_b[k]) for k in keys if count_a[k] != count_b[k]]


def differing_nodes(view: GraphView, other: ModelGraph) -> set[str]:
    """Drawn nodes of ``view`` that hold a structure the ``other`` graph has none of (to outline):
    for ResNet-34 against plain-34 the blocks with residual additions and projection shortcuts."""
    theirs = {k for n in other.nodes if (k := _structure_key(n))}
    return {v.id for v in view.nodes if any((k := _structure_key(view.graph.node(m))) and k not in theirs for m in v.members)}


# --- tables --------------------------------------------------------------------------------


def view_table(view: GraphView) -> Table:
    """The drawn nodes as a table: what a hover shows, one row per node."""
    from cvcore.analysis.graph_render import SOURCE

    rows = [
        {
            "node": n.title,
            "type": n.detail if n.kind is NodeKind.MODULE else n.op,
            "output": format_shape(n.output_shape, drop_batch=True),
            "params": n.params,
            "gmacs": round(n.gmacs, 5),
            "share_pct": round(100 * n.share, 2),
            "rf": format_field(n.receptive_field),
            "jump": format_field(n.jump),
            "inside": ", ".join(f"{c} {k}" for k, c in n.merges),
        }
        for n in view.nodes
    ]
    g = view.graph
    counts = (
        f"{len(g.residual_additions)} additions, {len(g.concatenations)} concatenations, "
        f"{len(g.unpooling_edges)} max-unpooling index edges"
    )
    return Table(
        rows,
        labels={"gmacs": "GMACs", "share_pct": "% of MACs", "rf": "receptive field", "output": "output (CxHxW)"},
        caption=f"{view.title}, graph at depth {view.depth} ({len(view.nodes)} nodes; the whole graph: {counts}).",
        sources=[SOURCE],
    )


def difference_table(differences: Iterable[GraphDifference], name_a: str, name_b: str) -> Table:
    from cvcore.analysis.graph_render import SOURCE

    rows = [{"what": d.what, "a": d.count_a, "b": d.count_b, "delta": d.delta} for d in differences]
    return Table(
        rows,
        columns=["what", "a", "b", "delta"],
        labels={"what": "node (type, geometry -> output)", "a": name_a, "b": name_b, "delta": f"{name_b} − {name_a}"},
        caption=f"What differs between the graphs of {name_a} and {name_b} (every other node is identical); Δ = {name_b} − {name_a}.",
        sources=[SOURCE],
    )
