"""A model's data-flow graph as data, without torch: nodes, edges, and the graphs stored in ``assets/``.

:mod:`cvcore.analysis.graph` traces graphs with torch.fx (and re-exports these names);
folding (:mod:`.graph_view`), layout and drawing work on these classes alone. The graph of
the Architecture page's default model at its default size is stored
(``assets/graphs.json.gz``, written by ``python -m cvcore analyze --write`` with the
stored analysis), so that view needs no torch: :func:`load_graph` reads it, and traces
anything else.
"""

from __future__ import annotations

import functools
import gzip
import json
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from cvcore.samples import ASSETS_DIR
from cvcore.storage import RESTORE_ANALYSIS, read_shipped_json

GRAPHS_PATH = ASSETS_DIR / "graphs.json.gz"
# Models whose graph at the default input size is stored: the Architecture page's default.
STORED_GRAPHS = ("resnet18",)


class NodeKind(str, Enum):
    INPUT = "input"
    OUTPUT = "output"
    MODULE = "module"  # a call of an nn.Module torch.fx does not enter
    PARAMETER = "parameter"  # a parameter or buffer read in a forward (ViT's class token)
    ADD = "add"  # element-wise sum of two or more tensors: residual and skip fusions
    CONCAT = "concat"  # channel concatenation of two or more tensors: U-Net copies, Inception branches
    MULTIPLY = "multiply"  # element-wise product of two tensors: squeeze-excitation gating
    UNPOOL = "unpool"  # max-unpooling with stored pooling indices (ENet, SegNet)
    OP = "op"  # any other functional op (reshape, pooling, interpolation, ...)


MERGE_KINDS = frozenset({NodeKind.ADD, NodeKind.CONCAT, NodeKind.MULTIPLY})


class EdgeKind(str, Enum):
    DATA = "data"
    SKIP = "skip"  # a shortcut into a merge: it bypasses layers on the way (see _skip_edges)
    INDICES = "indices"  # max-pooling indices handed to a max-unpooling
    PARAMETER = "parameter"


@dataclass(frozen=True)
class GraphNode:
    id: str  # torch.fx's node name, unique in the graph
    name: str  # qualified module name for modules; "<scope>.<op>" for functional ops
    scope: str  # the module whose forward runs this node ("" = the model's own forward)
    kind: NodeKind
    op: str  # the module's class ("Conv2d") or the function's name ("add", "cat", "max_unpool2d")
    output_shape: tuple[int, ...] | None  # batch of 1; the first tensor of a tuple output
    kernel: tuple[int, ...] | None
    stride: tuple[int, ...] | None
    dilation: tuple[int, ...] | None
    groups: int | None
    params: int  # counted once, at a module's first call
    gmacs: float  # fvcore's multiply-adds attributed to this node
    receptive_field: tuple[int, int] | None  # (h, w) input pixels; -1 = the whole input
    jump: tuple[float, float] | None  # cumulative stride
    module: str | None = None  # call_module: the module's qualified name
    training_only: bool = False  # only in the training-mode graph (auxiliary classifiers)
    opaque_reason: str | None = None  # torch.fx could not enter this module: why

    @property
    def is_merge(self) -> bool:
        return self.kind in MERGE_KINDS


@dataclass(frozen=True)
class GraphEdge:
    source: str
    target: str
    kind: EdgeKind
    shape: tuple[int, ...] | None  # the tensor on this edge
    port: int = 0  # argument position at the target (max_unpool2d: 1 = the indices)


@dataclass(frozen=True)
class ModelGraph:
    """A model's data-flow graph at one input size; nodes in execution (topological) order."""

    name: str
    input_size: tuple[int, int]
    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]
    total_gmacs: float  # the analysis total (fvcore), which the nodes' gmacs sum to
    total_params: int  # the model's parameters; unused ones are named in ``notes``
    module_classes: dict[str, str]  # qualified module name -> class name ("" = the model)
    tracer: str  # how the graph was obtained
    opaque_modules: dict[str, str] = field(default_factory=dict)  # module -> torch.fx's reason
    notes: tuple[str, ...] = ()

    def node(self, node_id: str) -> GraphNode:
        return self._by_id[node_id]

    @property
    def _by_id(self) -> dict[str, GraphNode]:
        cached = self.__dict__.get("_index")
        if cached is None:
            cached = {n.id: n for n in self.nodes}
            object.__setattr__(self, "_index", cached)
        return cached

    def nodes_of(self, *kinds: NodeKind) -> list[GraphNode]:
        return [n for n in self.nodes if n.kind in kinds]

    def edges_of(self, *kinds: EdgeKind) -> list[GraphEdge]:
        return [e for e in self.edges if e.kind in kinds]

    @property
    def residual_additions(self) -> list[GraphNode]:
        return self.nodes_of(NodeKind.ADD)

    @property
    def concatenations(self) -> list[GraphNode]:
        return self.nodes_of(NodeKind.CONCAT)

    @property
    def unpooling_edges(self) -> list[GraphEdge]:
        return self.edges_of(EdgeKind.INDICES)

    def share(self, gmacs: float) -> float:
        """``gmacs`` as a fraction of the model's total multiply-adds."""
        return gmacs / self.total_gmacs if self.total_gmacs > 0 else 0.0

    def inputs_of(self, node_id: str) -> list[GraphEdge]:
        return [e for e in self.edges if e.target == node_id]

    def module_outputs(self) -> dict[str, GraphNode]:
        """Every module that runs at inference (containers too) -> the last node of its forward, whose
        tensor is the module's output; in execution order of the modules' first nodes."""
        last: dict[str, GraphNode] = {}
        for node in self.nodes:
            if node.training_only or node.kind in (NodeKind.INPUT, NodeKind.OUTPUT, NodeKind.PARAMETER):
                continue
            path = node.module or node.scope
            parts = path.split(".") if path else []
            for k in range(1, len(parts) + 1):
                prefix = ".".join(parts[:k])
                last.pop(prefix, None)  # re-insert: keep the order of first appearance stable below
                last[prefix] = node
        first_seen = {}
        for node in self.nodes:
            path = node.module or node.scope
            parts = path.split(".") if path else []
            for k in range(1, len(parts) + 1):
                first_seen.setdefault(".".join(parts[:k]), len(first_seen))
        return {p: last[p] for p in sorted(last, key=lambda p: first_seen.get(p, 0))}


# --- stored graphs -------------------------------------------------------------------


def graph_to_dict(graph: ModelGraph) -> dict:
    from cvcore.formatting import to_jsonable

    return to_jsonable(graph)


def graph_from_dict(d: dict) -> ModelGraph:
    def tuples(record: dict, keys) -> dict:
        return {k: (tuple(v) if k in keys and v is not None else v) for k, v in record.items()}

    nodes = tuple(
        GraphNode(
            **{
                **tuples(n, ("output_shape", "kernel", "stride", "dilation", "receptive_field", "jump")),
                "kind": NodeKind(n["kind"]),
            }
        )
        for n in d["nodes"]
    )
    edges = tuple(GraphEdge(**{**tuples(e, ("shape",)), "kind": EdgeKind(e["kind"])}) for e in d["edges"])
    return ModelGraph(**{**d, "input_size": tuple(d["input_size"]), "nodes": nodes, "edges": edges, "notes": tuple(d["notes"])})


@functools.cache
def _stored(path: Path = GRAPHS_PATH) -> dict:
    return read_shipped_json(path, {"models": {}}, restore=RESTORE_ANALYSIS)


def stored_graph(name: str, input_size: tuple[int, int]) -> ModelGraph | None:
    """The stored graph of catalogue entry ``name`` at ``input_size``, or None when none is stored."""
    record = _stored()["models"].get(name)
    if record is None or tuple(record["input_size"]) != tuple(input_size):
        return None
    return graph_from_dict(record)


def write_stored_graphs(graphs: dict[str, ModelGraph], path: Path = GRAPHS_PATH) -> None:
    """Merge ``graphs`` (name -> graph at its default size) into the stored file, atomically, reproducibly."""
    from cvcore.formatting import versions_line
    from cvcore.storage import atomic_writer

    stored = {"models": dict(_stored(path)["models"]) if path.is_file() else {}}
    stored["models"].update({name: graph_to_dict(g) for name, g in graphs.items()})
    stored["generated_with"] = versions_line()
    stored["models"] = dict(sorted(stored["models"].items()))
    with atomic_writer(path) as handle, gzip.GzipFile(str(path), "wb", fileobj=handle, mtime=0) as raw:
        raw.write(json.dumps(stored, separators=(",", ":")).encode())
    _stored.cache_clear()


def load_graph(spec, input_size: tuple[int, int], architecture=None) -> ModelGraph:
    """The graph of catalogue entry ``spec`` at ``input_size``: the stored one when it matches the stored analysis
    (``architecture`` read from ``assets/``), else traced (:func:`cvcore.analysis.graph.catalogue_graph`, torch)."""
    if architecture is None or architecture.precomputed:
        stored = stored_graph(spec.name, input_size) if not spec.is_user else None
        if stored is not None:
            return stored
    from cvcore.analysis.graph import catalogue_graph

    return catalogue_graph(spec, input_size, architecture=architecture)
