"""The data-flow graph of a network, from torch.fx, with the analysis' numbers on every node.

Nodes are the modules torch.fx stops at (every module without children, plus the torch.nn
modules it does not enter, such as ``MultiheadAttention``) and the functional ops of the
forward passes (residual adds, concatenations, ENet's max-unpooling, reshapes); edges are
the tensors between them. The numbers are not recomputed here:

- multiply-adds and parameters come from the per-layer rows of
  :mod:`cvcore.analysis.layers` (fvcore's per-module counts). A module node carries its
  module's count (divided by its number of calls); the work a container's own ``forward``
  does (an "(own ops)" row: attention products, a final upsampling) goes to the countable
  functional ops in that ``forward``, split evenly when there are several. By
  construction the nodes' multiply-adds sum to the analysis total.
- receptive field and jump come from :class:`~cvcore.analysis.receptive_field.ReceptiveFieldTracker`,
  run once through the traced graph, on the meta device (shapes only: no memory, no work;
  a real CPU pass is the fallback for ops without meta kernels).

Tracing never touches the caller's module: it runs on a private copy whose tensors live
on the meta device (or share the caller's storage on the CPU fallback). A submodule
torch.fx cannot enter (Python control flow on a traced value, ``len`` of a proxy) becomes
one opaque node and is reported in :attr:`ModelGraph.opaque_modules`; control flow on the
input's shape is traced with torch.fx's meta tracer; a model that cannot be traced at all
raises :class:`~cvcore.errors.AnalysisError` naming torch.fx's reason. Modules that only
run in training (Inception's auxiliary classifier) are traced from a training-mode graph
and marked ``training_only``.

:mod:`cvcore.analysis.graph_view` folds stages and repeated blocks; ``graph_layout`` and
``graph_render`` draw the result.
"""

from __future__ import annotations

import copy
import operator
import threading
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import torch
from torch import fx, nn

from cvcore.analysis.graph_model import (  # noqa: F401 (re-exported)
    MERGE_KINDS,
    EdgeKind,
    GraphEdge,
    GraphNode,
    ModelGraph,
    NodeKind,
)
from cvcore.analysis.layers import OWN_OPS, TOP_LEVEL, LayerRow, _geometry
from cvcore.analysis.receptive_field import Field, ReceptiveFieldTracker, field_of, tag_input
from cvcore.errors import AnalysisError

MAX_OPAQUE_RETRIES = 32  # submodules made opaque, one per failed trace, before giving up
_TRACE_LOCK = threading.Lock()  # see _ScopedTracer
MAX_SKIP_CHAIN = 1  # ops between a reused tensor and the concatenation that takes it back (U-Net's crop)


# --- tracing -----------------------------------------------------------------------


class _ScopedTracer(fx.Tracer):
    """torch.fx's tracer that records which module's forward created each node and where tracing failed.

    While it traces, torch.fx replaces ``nn.Module.__call__`` and ``__getattr__`` for the whole
    process. A dashboard serves sessions from several threads: a model another session runs
    meanwhile must run as usual, not be recorded here, so calls from other threads pass through.
    Traces themselves take turns (:data:`_TRACE_LOCK`): two patchers restoring each other's
    patches would leave ``nn.Module.__call__`` patched for good.
    """

    def __init__(self, opaque: Iterable[str] = ()):
        super().__init__()
        self.opaque = set(opaque)
        self.scopes: list[str] = []
        self.failed_in: str | None = None
        self.thread = threading.get_ident()

    def is_leaf_module(self, m: nn.Module, qualified_name: str) -> bool:
        return qualified_name in self.opaque or next(m.children(), None) is None or super().is_leaf_module(m, qualified_name)

    def getattr(self, attr, attr_val, parameter_proxy_cache):
        if threading.get_ident() != self.thread:
            return attr_val
        return super().getattr(attr, attr_val, parameter_proxy_cache)

    def call_module(self, m, forward, args, kwargs):
        if threading.get_ident() != self.thread:  # another session's model: run it, record nothing
            return forward(*args, **kwargs)
        name = self.path_of_module(m)
        self.scopes.append(name)
        try:
            return super().call_module(m, forward, args, kwargs)
        except Exception:
            if self.failed_in is None:  # the innermost module sees the error first
                self.failed_in = name
            raise
        finally:
            self.scopes.pop()

    def create_node(self, kind, target, args, kwargs, name=None, type_expr=None):
        node = super().create_node(kind, target, args, kwargs, name, type_expr)
        node.meta["cvlens_scope"] = self.scopes[-1] if self.scopes else ""
        return node


def _meta_tracer_class() -> type:
    from torch.fx.experimental.meta_tracer import MetaTracer

    class _ScopedMetaTracer(_ScopedTracer, MetaTracer):
        """Also runs every op on meta tensors while tracing, so Python control flow on shapes works."""

    return _ScopedMetaTracer


def _fx_reason(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__


def _trace(model: nn.Module, example: torch.Tensor) -> tuple[fx.Graph, str, dict[str, str]]:
    """The fx graph of ``model``; submodules fx cannot enter become opaque (returned with fx's reason)."""
    opaque: dict[str, str] = {}
    use_meta, how = False, "torch.fx symbolic_trace"
    for _ in range(MAX_OPAQUE_RETRIES):
        tracer = _meta_tracer_class()(opaque) if use_meta else _ScopedTracer(opaque)
        try:
            with _TRACE_LOCK, warnings.catch_warnings():
                warnings.simplefilter("ignore")
                graph = tracer.trace(model, meta_args={"x": example}) if use_meta else tracer.trace(model)
            return graph, how, opaque
        except Exception as exc:  # torch.fx raises TraceError, RuntimeError, TypeError, AttributeError ...
            reason = _fx_reason(exc)
            if tracer.failed_in and tracer.failed_in not in opaque:
                opaque[tracer.failed_in] = reason
            elif not use_meta:
                use_meta, how = True, "torch.fx MetaTracer (control flow on shapes)"
            else:
                raise AnalysisError(f"torch.fx cannot trace this model's own forward: {reason}") from exc
    raise AnalysisError(f"torch.fx could not trace this model: more than {MAX_OPAQUE_RETRIES} submodules failed.")


def _private_copy(model: nn.Module, device: str | None) -> nn.Module:
    """A copy of the module tree with its own dicts (hooks, modules, flags); tensors moved to ``device``
    (``None``: shared storage, detached). Like ``cvcore.attribution.isolation.shadow_copy``, which is
    not imported here because it loads Captum."""
    memo: dict[int, nn.Module] = {}

    def move(t: torch.Tensor | None) -> torch.Tensor | None:
        if t is None:
            return None
        t = t.detach()
        return t.to(device) if device is not None else t

    def copy_module(module: nn.Module) -> nn.Module:
        if id(module) in memo:
            return memo[id(module)]
        new = copy.copy(module)
        for key, value in vars(module).items():
            if isinstance(value, (dict, set, list)):
                new.__dict__[key] = copy.copy(value)
        new._parameters = {
            k: None if p is None else nn.Parameter(move(p), requires_grad=False) for k, p in module._parameters.items()
        }
        new._buffers = {k: move(b) for k, b in module._buffers.items()}
        new._modules = {k: None if c is None else copy_module(c) for k, c in module._modules.items()}
        memo[id(module)] = new
        return new

    return copy_module(model).eval()


# --- recording shapes and receptive fields -------------------------------------------


@dataclass(frozen=True)
class _Value:
    """What a node produced: a tensor, or a tuple with tensors (None where an element is not one)."""

    shapes: tuple[tuple[int, ...] | None, ...]
    fields: tuple[Field | None, ...]
    is_tuple: bool

    @property
    def shape(self) -> tuple[int, ...] | None:
        return next((s for s in self.shapes if s is not None), None)

    @property
    def field(self) -> Field | None:
        return next((f for f in self.fields if f is not None), None)


def _value_of(out) -> _Value | None:
    if isinstance(out, torch.Tensor):
        return _Value((tuple(out.shape),), (field_of(out),), False)
    if isinstance(out, (tuple, list)) and any(isinstance(t, torch.Tensor) for t in out):
        tensors = [t if isinstance(t, torch.Tensor) else None for t in out]  # MultiheadAttention: (output, None)
        return _Value(
            tuple(None if t is None else tuple(t.shape) for t in tensors),
            tuple(None if t is None else field_of(t) for t in tensors),
            True,
        )
    return None


class _Recorder(fx.Interpreter):
    def __init__(self, module: fx.GraphModule):
        super().__init__(module)
        self.values: dict[str, _Value | None] = {}

    def run_node(self, node: fx.Node):
        out = super().run_node(node)
        self.values[node.name] = _value_of(out)
        return out


def _record(gm: fx.GraphModule, x: torch.Tensor) -> dict[str, _Value | None]:
    recorder = _Recorder(gm)
    with ReceptiveFieldTracker(), torch.no_grad():
        recorder.run(tag_input(x))
    return recorder.values


def _record_on_meta(model: nn.Module, graph: fx.Graph, input_size: tuple[int, int]) -> dict[str, _Value | None] | None:
    """Shapes and fields of every node from a pass on the meta device; None where an op does not allow it."""
    try:
        return _record(fx.GraphModule(model, graph), torch.empty(1, 3, *input_size, device="meta"))
    except Exception:  # an op without a meta kernel, a tensor kept as a plain attribute, data-dependent shapes
        return None


# --- building the graph ----------------------------------------------------------------

_RENAMES = {"iadd": "add", "imul": "mul", "isub": "sub", "concat": "cat", "concatenate": "cat", "truediv": "div"}
# Functional ops with multiply-adds in the headline (papers') convention: a container's own multiply-adds go to these.
_COUNTED_OPS = {
    "matmul", "bmm", "mm", "addmm", "baddbmm", "einsum", "linear", "conv2d", "conv1d", "conv_transpose2d",
    "scaled_dot_product_attention",
}  # fmt: skip
# Ops that compute new values (the counted ones plus normalisation and resampling): any other op only moves values.
_COMPUTING_OPS = _COUNTED_OPS | {
    "batch_norm", "group_norm", "layer_norm", "instance_norm", "interpolate", "upsample", "upsample_bilinear2d",
    "upsample_nearest2d", "adaptive_avg_pool2d", "grid_sample",
}  # fmt: skip
_POOLS = {"max_pool2d", "avg_pool2d", "max_pool1d", "avg_pool1d", "lp_pool2d"}
_CONVS = {"conv2d", "conv1d", "conv_transpose2d"}


def _op_name(node: fx.Node) -> str:
    target = node.target
    name = target if isinstance(target, str) else getattr(target, "__name__", str(target))
    name = name.strip("_")
    return _RENAMES.get(name, name)


def _is_library_function(target) -> bool:
    """torch, operator and builtins; anything else is a function torch.fx was told not to enter
    (``torch.fx.wrap``, e.g. torchvision's ``shifted_window_attention``) and may hide any work."""
    module = getattr(target, "__module__", None) or ""
    return module.startswith(("torch", "_operator", "operator", "builtins")) or isinstance(target, str)


def _input_nodes(node: fx.Node) -> list[tuple[fx.Node, int]]:
    """(input node, argument position) for every node among ``node``'s arguments, in order."""
    found: list[tuple[fx.Node, int]] = []
    for position, arg in enumerate([*node.args, *node.kwargs.values()]):
        fx.node.map_arg(arg, lambda n, p=position: found.append((n, p)))
    return found


@dataclass
class _Builder:
    model: nn.Module  # the private copy the graph was traced from
    graph: fx.Graph
    values: dict[str, _Value | None]
    rows: Sequence[LayerRow]
    opaque: dict[str, str]
    unattributed_gmacs: float = 0.0  # own work of a module with no op to carry it (reported in the notes)

    def __post_init__(self):
        self.modules = dict(self.model.named_modules())
        self.kept = {n.name: n for n in self.graph.nodes if self._is_kept(n)}
        self.depth: dict[str, int] = {}

    def _is_kept(self, node: fx.Node) -> bool:
        if node.op in ("placeholder", "output"):
            return True
        value = self.values.get(node.name)
        if value is None:
            return False
        if node.op == "call_function" and node.target is operator.getitem:
            source = node.args[0]
            # Indexing a tuple of tensors is plumbing (the edge says which element); slicing a tensor is an op.
            return not (isinstance(source, fx.Node) and (self.values.get(source.name) or _NONE).is_tuple)
        return True

    def resolve(self, node: fx.Node) -> tuple[fx.Node, int | None] | None:
        """The kept node whose output ``node`` is (through tuple indexing), and which element; None if not data."""
        if node.name in self.kept:
            return node, None
        if node.op == "call_function" and node.target is operator.getitem and isinstance(node.args[0], fx.Node):
            source = self.resolve(node.args[0])
            if source is not None and isinstance(node.args[1], int):
                return source[0], node.args[1]
        return None

    # nodes ----------------------------------------------------------------------------

    def nodes_and_edges(self) -> tuple[list[GraphNode], list[GraphEdge]]:
        gmacs = self._attributed_gmacs()
        seen_modules: set[str] = set()
        nodes, edges = [], []
        for fx_node in self.kept.values():
            inputs = self._data_inputs(fx_node)
            self.depth[fx_node.name] = 1 + max((self.depth.get(src.name, 0) for src, _, _ in inputs), default=-1)
            node = self._node(fx_node, inputs, gmacs.get(fx_node.name, 0.0), seen_modules)
            nodes.append(node)
            for src, element, port in inputs:
                value = self.values.get(src.name)
                shape = (
                    value.shapes[element]
                    if value and element is not None and element < len(value.shapes)
                    else (value.shape if value else None)
                )
                edges.append(GraphEdge(src.name, fx_node.name, self._edge_kind(src, node, port), shape, port))
        return nodes, _skip_edges(nodes, edges, self.depth)

    def _data_inputs(self, node: fx.Node) -> list[tuple[fx.Node, int | None, int]]:
        inputs = []
        for arg, port in _input_nodes(node):
            resolved = self.resolve(arg)
            if resolved is not None:
                inputs.append((resolved[0], resolved[1], port))
        return inputs

    def _edge_kind(self, source: fx.Node, target: GraphNode, port: int) -> EdgeKind:
        if source.op == "get_attr":
            return EdgeKind.PARAMETER
        if target.kind is NodeKind.UNPOOL and port == 1:
            return EdgeKind.INDICES
        return EdgeKind.DATA

    def _node(self, n: fx.Node, inputs, gmacs: float, seen_modules: set[str]) -> GraphNode:
        value = self.values.get(n.name)
        field_ = value.field if value else None
        common = {
            "id": n.name,
            "output_shape": value.shape if value else None,
            "gmacs": gmacs,
            "receptive_field": field_.rf if field_ else None,
            "jump": field_.jump if field_ else None,
        }
        scope = n.meta.get("cvlens_scope", "")
        no_geometry = {"kernel": None, "stride": None, "dilation": None, "groups": None}
        if n.op == "placeholder":
            return GraphNode(name="input", scope="", kind=NodeKind.INPUT, op="input", params=0, **no_geometry, **common)
        if n.op == "output":
            return GraphNode(name="output", scope="", kind=NodeKind.OUTPUT, op="output", params=0, **no_geometry, **common)
        if n.op == "get_attr":
            attr = self._attribute(n.target)
            params = attr.numel() if isinstance(attr, nn.Parameter) else 0
            owner = n.target.rpartition(".")[0]
            return GraphNode(
                name=n.target,
                scope=owner,
                kind=NodeKind.PARAMETER,
                op="parameter" if params else "buffer",
                params=params,
                **no_geometry,
                **common,
            )
        if n.op == "call_module":
            module = self.modules[n.target]
            params = 0 if n.target in seen_modules else sum(p.numel() for p in module.parameters())
            seen_modules.add(n.target)
            kind = NodeKind.UNPOOL if isinstance(module, nn.MaxUnpool2d) else NodeKind.MODULE
            return GraphNode(
                name=n.target, scope=n.target.rpartition(".")[0], kind=kind, op=type(module).__name__, params=params,
                module=n.target, opaque_reason=self.opaque.get(n.target), **_geometry(module), **common,
            )  # fmt: skip
        op = _op_name(n)
        data_inputs = [src for src, _, _ in inputs if src.op != "get_attr"]
        return GraphNode(
            name=f"{scope}.{op}" if scope else op, scope=scope, kind=_functional_kind(op, len(data_inputs)), op=op,
            params=0, **self._functional_geometry(op, n), **common,
        )  # fmt: skip

    def _attribute(self, target: str):
        owner, _, attr = target.rpartition(".")
        return getattr(self.modules[owner] if owner else self.model, attr)

    def _functional_geometry(self, op: str, n: fx.Node) -> dict:
        from cvcore.analysis.receptive_field import _arg, _pair

        args, kwargs = n.args, n.kwargs
        if op in _POOLS:
            kernel = _pair(_arg(args, kwargs, 1, "kernel_size", 1))
            stride = _arg(args, kwargs, 2, "stride", None)
            dilation = _arg(args, kwargs, 4, "dilation", 1) if op.startswith("max") else 1
            return {
                "kernel": kernel,
                "stride": _pair(stride) if stride not in (None, [], ()) else kernel,
                "dilation": _pair(dilation),
                "groups": None,
            }
        if op in _CONVS:
            weight = _arg(args, kwargs, 1, "weight", None)
            value = self.values.get(weight.name) if isinstance(weight, fx.Node) else None
            kernel = tuple(value.shape[2:]) if value and value.shape and len(value.shape) > 2 else None
            stride = _arg(args, kwargs, 3, "stride", 1)
            dilation = _arg(args, kwargs, 5, "dilation", 1)
            groups = _arg(args, kwargs, 6, "groups", 1)
            fixed = lambda v: _pair(v) if not isinstance(v, fx.Node) else None  # noqa: E731
            return {
                "kernel": kernel,
                "stride": fixed(stride),
                "dilation": fixed(dilation),
                "groups": groups if isinstance(groups, int) else None,
            }
        return {"kernel": None, "stride": None, "dilation": None, "groups": None}

    # multiply-adds --------------------------------------------------------------------

    def _attributed_gmacs(self) -> dict[str, float]:
        """fx node name -> its share of fvcore's per-module counts (see the module docstring)."""
        own = _own_gmacs(self.rows)
        leaves = Counter(n.target for n in self.kept.values() if n.op == "call_module")
        result: dict[str, float] = defaultdict(float)
        covered: set[str] = set()
        for n in self.kept.values():
            if n.op == "call_module":
                result[n.name] += _subtree(own, n.target) / leaves[n.target]
        for module in leaves:
            covered.update(k for k in own if k == module or k.startswith(module + "."))
        functional = defaultdict(list)
        for n in self.kept.values():
            if n.op in ("call_function", "call_method"):
                functional[n.meta.get("cvlens_scope", "")].append(n)
        for module, gmacs in own.items():
            if module in covered or gmacs <= 0:
                continue
            targets = _countable(functional, module)
            if not targets:
                self.unattributed_gmacs += gmacs
                continue
            for n in targets:
                result[n.name] += gmacs / len(targets)
        return result


_NONE = _Value((), (), False)


def _functional_kind(op: str, data_inputs: int) -> NodeKind:
    if op.startswith("max_unpool"):
        return NodeKind.UNPOOL
    if data_inputs >= 2:
        if op == "add":
            return NodeKind.ADD
        if op in ("cat", "stack"):
            return NodeKind.CONCAT
        if op == "mul":
            return NodeKind.MULTIPLY
    return NodeKind.OP


def _own_gmacs(rows: Sequence[LayerRow]) -> dict[str, float]:
    """module name -> multiply-adds of its own row (a leaf layer, or a container's "(own ops)")."""
    own: dict[str, float] = defaultdict(float)
    for row in rows:
        base = row.name.removesuffix(OWN_OPS)
        own["" if base == TOP_LEVEL else base] += row.gmacs
    return dict(own)


def _subtree(own: dict[str, float], module: str) -> float:
    if module == "":
        return sum(own.values())
    return sum(v for k, v in own.items() if k == module or k.startswith(module + "."))


def _countable(functional: dict[str, list[fx.Node]], module: str) -> list[fx.Node]:
    """The ops that should carry ``module``'s own multiply-adds: in its forward (or the nearest enclosing
    one that has ops), those fvcore counts or that hide work (wrapped functions); else all of them."""
    scope: str | None = module
    while scope is not None:
        ops = functional.get(scope, [])
        if ops:
            counted = [n for n in ops if _op_name(n) in _COUNTED_OPS or not _is_library_function(n.target)]
            return counted or ops
        scope = None if scope == "" else scope.rpartition(".")[0]
    return []


def _reshapes_only(node: GraphNode) -> bool:
    """An op that moves or crops values without computing new ones (U-Net's crop, a pad, a view)."""
    return node.kind is NodeKind.OP and node.op not in _POOLS and node.op not in _COMPUTING_OPS


def _skip_edges(nodes: list[GraphNode], edges: list[GraphEdge], depth: dict[str, int]) -> list[GraphEdge]:
    """Mark shortcuts, with the private chain of ops on them, back to the tensor they branch off.

    Into an add: every input but the deepest (the main path), with its chain (ResNet's projection
    1x1 conv and BN, FCN's score_pool4 and crop). Into a concatenation: an input that is, through at
    most :data:`MAX_SKIP_CHAIN` crop or reshape, a tensor the main path also went on from (U-Net's copy
    and crop, DenseNet's reuse), not a parallel branch of its own convolutions (Inception).
    """
    by_id = {n.id: n for n in nodes}
    inputs: dict[str, list[GraphEdge]] = defaultdict(list)
    consumers: Counter = Counter()
    for e in edges:
        inputs[e.target].append(e)
        consumers[e.source] += 1
    marked: set[tuple[str, str, int]] = set()
    for node in nodes:
        if node.kind not in (NodeKind.ADD, NodeKind.CONCAT):
            continue
        data = [e for e in inputs[node.id] if e.kind is EdgeKind.DATA]
        if len(data) < 2:
            continue
        main = max(data, key=lambda e: depth.get(e.source, 0))
        for e in data:
            if e is main:
                continue
            chain = [e]
            allowed = (lambda n: True) if node.kind is NodeKind.ADD else _reshapes_only  # noqa: E731
            while consumers[chain[-1].source] == 1 and len(inputs[chain[-1].source]) == 1 and allowed(by_id[chain[-1].source]):
                chain.append(inputs[chain[-1].source][0])
            head = chain[-1].source
            main_length = depth.get(main.source, 0) - depth.get(head, 0)
            if node.kind is NodeKind.CONCAT and not (consumers[head] >= 2 and len(chain) - 1 <= MAX_SKIP_CHAIN < main_length):
                continue
            marked.update((c.source, c.target, c.port) for c in chain)
    return [
        GraphEdge(e.source, e.target, EdgeKind.SKIP, e.shape, e.port) if (e.source, e.target, e.port) in marked else e
        for e in edges
    ]


# --- public ----------------------------------------------------------------------------


def build_graph(
    model: nn.Module,
    input_size: tuple[int, int],
    layers: Sequence[LayerRow] | None = None,
    *,
    name: str | None = None,
    total_gmacs: float | None = None,
) -> ModelGraph:
    """The data-flow graph of ``model`` at ``input_size`` (H, W), batch 1, 3 input channels.

    ``layers`` are the model's per-layer rows at that size (``Architecture.layers``, from
    the stored analysis or :func:`cvcore.analysis.analyze_layers`); without them they are
    computed now with fvcore, which needs ``model``'s real tensors. ``model`` is never
    modified (it may be a model shared between sessions); it may live on the meta device
    when ``layers`` are given.
    """
    size = (int(input_size[0]), int(input_size[1]))
    label = name or type(model).__name__
    if layers is None:
        from cvcore.analysis import analyze

        # On a private copy: the analysis calls .eval() and .to(device) on the module it is given.
        result = analyze(_private_copy(model, None), size, per_layer=True)
        layers, total_gmacs = result.layers, result.complexity.gmacs
    total = float(total_gmacs) if total_gmacs is not None else sum(r.gmacs for r in layers)
    meta = _private_copy(model, "meta")
    with torch.no_grad():
        graph, how, opaque = _trace(meta, torch.empty(1, 3, *size, device="meta"))
    values = _record_on_meta(meta, graph, size)
    notes: list[str] = []
    if values is None:
        if any(p.is_meta for p in model.parameters()):
            raise AnalysisError(f"{label} cannot run on the meta device; pass a model with real weights.")
        cpu = _private_copy(model, None)
        try:
            values = _record(fx.GraphModule(cpu, graph), _example(size, next(model.parameters(), torch.empty(0)).device))
        except (RuntimeError, ValueError, TypeError) as exc:
            raise AnalysisError(f"Could not run {label}'s traced graph at input {size[0]}x{size[1]}: {exc}") from exc
        notes.append("Shapes were measured with one CPU forward pass (an op has no meta-device kernel).")
    builder = _Builder(meta, graph, values, layers, opaque)
    nodes, edges = builder.nodes_and_edges()
    nodes, edges = _with_training_only(meta, size, nodes, edges, layers, opaque)
    return _finish(label, size, meta, nodes, edges, total, how, opaque, notes + _notes(meta, nodes, builder, total))


def _example(size: tuple[int, int], device) -> torch.Tensor:
    from cvcore.analysis.complexity import example_input

    return example_input(size, device)


def _with_training_only(meta, size, nodes, edges, layers, opaque) -> tuple[list[GraphNode], list[GraphEdge]]:
    """Add the modules only a training-mode forward calls (auxiliary classifiers), marked ``training_only``."""
    called = {n.module for n in nodes if n.module}
    called_or_inside = lambda name: any(name == c or name.startswith(c + ".") for c in called)  # noqa: E731
    uncalled = [
        name for name, m in meta.named_modules() if name and next(m.children(), None) is None and not called_or_inside(name)
    ]
    if not uncalled:
        return nodes, edges
    train = _private_copy(meta, None).train()
    try:
        with torch.no_grad():
            graph, _, _ = _trace(train, torch.empty(1, 3, *size, device="meta"))
    except AnalysisError:
        return nodes, edges
    train.eval()  # the graph keeps the training branches; running it in eval mode changes no state
    values = _record_on_meta(train, graph, size)
    if values is None:
        return nodes, edges
    builder = _Builder(train, graph, values, layers, opaque)
    train_nodes, train_edges = builder.nodes_and_edges()
    extra_modules = {n.module for n in train_nodes if n.module and not called_or_inside(n.module)}
    if not extra_modules:
        return nodes, edges
    prefixes = {m.split(".")[0] for m in extra_modules}
    key = lambda n: (n.kind, n.name, n.op, n.output_shape)  # noqa: E731
    eval_ids = defaultdict(list)
    for n in nodes:
        eval_ids[key(n)].append(n.id)
    mapping, added = {}, []
    occurrences: Counter = Counter()
    for n in train_nodes:
        if n.kind is NodeKind.OUTPUT:
            continue
        in_extra = (n.module and n.module in extra_modules) or n.scope.split(".")[0] in prefixes
        k = key(n)
        if not in_extra and occurrences[k] < len(eval_ids[k]):
            mapping[n.id] = eval_ids[k][occurrences[k]]
            occurrences[k] += 1
        elif in_extra:
            new_id = f"train_{n.id}"
            mapping[n.id] = new_id
            added.append(replace(n, id=new_id, training_only=True, gmacs=0.0))
    added_ids = {n.id for n in added}
    new_edges = [
        GraphEdge(mapping[e.source], mapping[e.target], e.kind, e.shape, e.port)
        for e in train_edges
        if e.source in mapping and e.target in mapping and mapping[e.target] in added_ids
    ]
    return _insert_after_sources(nodes, added, new_edges), edges + new_edges


def _insert_after_sources(nodes: list[GraphNode], added: list[GraphNode], edges: list[GraphEdge]) -> list[GraphNode]:
    """Keep the node list topological: each added node goes right after the last of its inputs."""
    result = list(nodes)
    for node in added:
        sources = {e.source for e in edges if e.target == node.id}
        positions = [i for i, n in enumerate(result) if n.id in sources]
        result.insert((max(positions) + 1) if positions else len(result) - 1, node)
    return result


def _finish(label, size, meta, nodes, edges, total, how, opaque, notes) -> ModelGraph:
    classes = {name: type(m).__name__ for name, m in meta.named_modules()}
    return ModelGraph(
        label, size, tuple(nodes), tuple(edges), total, _count_params(meta), classes, how, dict(opaque), tuple(notes)
    )


def _count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _notes(model: nn.Module, nodes: list[GraphNode], builder: _Builder, total: float) -> list[str]:
    notes = []
    for module, reason in builder.opaque.items():
        notes.append(f"torch.fx cannot enter {module or 'the model'} ({reason}); it is drawn as one node.")
    if builder.unattributed_gmacs > 1e-12:
        notes.append(f"{builder.unattributed_gmacs:.6f} GMACs of the analysis could not be placed on a node of the traced graph.")
    drawn = sum(n.params for n in nodes)
    params = _count_params(model)
    if drawn != params:
        notes.append(f"{params - drawn:,} parameters belong to modules that no forward pass calls.")
    return notes


def catalogue_graph(spec, input_size: tuple[int, int] | None = None, *, architecture=None) -> ModelGraph:
    """The graph of a catalogue entry (a :class:`~cvcore.registry.ModelSpec`), with the numbers of its
    per-layer analysis (``architecture``: a :class:`~cvcore.analysis.stages.Architecture`; default:
    the stored analysis at the default size, else a fresh one). The architecture is built with
    empty (meta) weights: the graph needs shapes, not values."""
    from cvcore.analysis.stages import architecture as load_architecture
    from cvcore.models._utils import empty_weights
    from cvcore.registry import input_size_or_default

    size = input_size_or_default(spec, input_size)
    arch = architecture if architecture is not None else load_architecture(spec.name, size)
    try:
        with empty_weights():
            model = spec.builder()
    except Exception:  # a builder that computes with its weights while constructing
        model = spec.builder()
    return build_graph(model.eval(), size, arch.layers, name=spec.display_name, total_gmacs=arch.complexity.gmacs)
