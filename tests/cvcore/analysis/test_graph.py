"""The topology graph: the merges that make each architecture what it is, counted against independent sources.

Oracles: the papers' tables (ENet Table 1 from the course seed, Yu & Koltun's Table 1), the
architectures themselves as torchvision builds them (blocks counted by type), fvcore called
directly for the multiply-adds, ``sum(p.numel())`` for the parameters.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from fvcore.nn import FlopCountAnalysis
from torch import nn
from torchvision.models.resnet import BasicBlock

from cvcore.analysis.graph import EdgeKind, NodeKind, build_graph, catalogue_graph
from cvcore.errors import AnalysisError
from cvcore.papers.published import CONTEXT_TABLE1, ENET_SEEDS, ENET_TABLE1
from cvcore.registry import build_model, get_spec, list_models

SEED_000 = Path("/work/shared/seeds")


@pytest.fixture(scope="module")
def graphs():
    cache = {}

    def get(name: str):
        if name not in cache:
            cache[name] = catalogue_graph(get_spec(name))
        return cache[name]

    return get


# fvcore's own names for the operators the papers count (convolutions, linear layers, matrix products).
_PAPERS_OPS = {"conv", "linear", "matmul", "addmm", "bmm", "einsum", "mm", "baddbmm"}


def _fvcore_total(model: nn.Module, size: tuple[int, int]) -> float:
    """The papers' convention from fvcore called directly: its per-operator counts over the weighted ops and products."""
    analysis = FlopCountAnalysis(model.eval(), torch.randn(1, 3, *size))
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
    return sum(n for op, n in analysis.by_operator().items() if op in _PAPERS_OPS) / 1e9


# --- the checks --------------------------------------------------------------------


def test_resnet18_has_exactly_eight_residual_additions(graphs):
    graph = graphs("resnet18")
    blocks = sum(isinstance(m, BasicBlock) for m in build_model("resnet18").modules())  # torchvision's own count
    adds = graph.residual_additions
    assert len(adds) == blocks == 8
    for add in adds:
        inputs = [e for e in graph.inputs_of(add.id) if e.kind in (EdgeKind.DATA, EdgeKind.SKIP)]
        assert len(inputs) == 2 and sum(e.kind is EdgeKind.SKIP for e in inputs) == 1  # main path + shortcut
    # Three shortcuts project (1x1 conv, stride 2) where the width doubles; they lie on the skip path.
    projections = [e for e in graph.edges if e.kind is EdgeKind.SKIP and graph.node(e.target).op == "BatchNorm2d"]
    assert sorted(graph.node(e.target).name for e in projections) == [f"layer{i}.0.downsample.1" for i in (2, 3, 4)]


def test_unet_has_four_copy_and_crop_concatenations(graphs):
    graph = graphs("unet")
    concats = graph.concatenations
    assert len(concats) == 4  # Ronneberger et al. 2015, Fig. 1: four up-steps, each with a copy and crop
    for concat in concats:
        skip = [e for e in graph.inputs_of(concat.id) if e.kind is EdgeKind.SKIP]
        assert len(skip) == 1 and graph.node(skip[0].source).op == "getitem"  # the crop
        crop_input = graph.inputs_of(skip[0].source)[0]
        assert graph.node(crop_input.source).scope.startswith("down.")  # copied from the contracting path


def test_fcn8s_has_two_skip_fusions(graphs):
    graph = graphs("fcn8s_vgg16")
    fusions = graph.residual_additions
    assert len(fusions) == 2  # Long et al. 2015, Fig. 3: pool4 and pool3 scores fused
    sources = set()
    for fusion in fusions:
        skip = [e for e in graph.inputs_of(fusion.id) if e.kind is EdgeKind.SKIP]
        assert len(skip) == 1
        chain = [graph.node(skip[0].source)]
        while chain[-1].op == "getitem":  # the crop
            chain.append(graph.node(graph.inputs_of(chain[-1].id)[0].source))
        sources.add(chain[-1].name)
    assert sources == {"score_pool4", "score_pool3"}


def _upsampling_rows_in_seed() -> int | None:
    """ENet's Table 1 as the course seed prints it: rows whose type is "upsampling"."""
    files = sorted(SEED_000.glob("000_*.txt"))
    if not files:
        return None
    text = files[0].read_text(encoding="utf-8")
    table = text[text.index("Table 1: ENet architecture") : text.index("fullconv")]
    return len(re.findall(r"^bottleneck\d\.\d\tupsampling", table, flags=re.MULTILINE))


def test_enet_unpools_with_the_indices_of_each_upsampling_bottleneck(graphs):
    graph = graphs("enet")
    upsampling = [name for name, kind, _ in ENET_TABLE1 if kind == "upsampling"]  # cited: ENET_SEEDS
    assert ENET_SEEDS.startswith("seed 000")
    from_seed = _upsampling_rows_in_seed()
    if from_seed is not None:
        assert from_seed == len(upsampling)
    edges = graph.unpooling_edges
    assert len(edges) == len(upsampling) == 2
    # Each decoder unpooling reads the indices of the matching encoder max-pool (Paszke et al. 2016, Sec. 3).
    pairs = {(graph.node(e.source).scope, graph.node(e.target).scope) for e in edges}
    assert pairs == {("bottleneck2_0", "bottleneck4_0"), ("bottleneck1_0", "bottleneck5_0")}
    assert all(graph.node(e.target).kind is NodeKind.UNPOOL and e.port == 1 for e in edges)


def _check_totals(graph, name: str) -> None:
    """Nodes sum to the analysis (fvcore) total; parameters to the stored count of the model's own tensors."""
    from cvcore.analysis import load_precomputed

    stored = load_precomputed().get(name)
    assert sum(n.gmacs for n in graph.nodes) == pytest.approx(graph.total_gmacs, rel=1e-9)
    assert sum(n.params for n in graph.nodes) == graph.total_params
    if stored is not None:  # measured by cvcore.analysis.complexity on the real model, stored in assets/
        assert graph.total_gmacs == pytest.approx(stored.gmacs, rel=1e-12) and graph.total_params == stored.params


# Plain chains, merges, unpooling, SAME padding, a wrapped attention function, a training-only head.
@pytest.mark.parametrize("name", ["resnet18", "unet", "fcn8s_vgg16", "enet", "efficientnet_lite0", "swin_t", "inception_v3"])
def test_node_multiply_adds_sum_to_the_analysis_total_and_parameters_to_the_model(graphs, name):
    _check_totals(graphs(name), name)


@pytest.mark.slow
@pytest.mark.parametrize("name", [s.name for s in list_models()])
def test_every_catalogue_model_traces_adds_up_and_draws(name):
    from cvcore.analysis.graph_render import build_scene
    from cvcore.analysis.graph_view import fold

    graph = catalogue_graph(get_spec(name))
    _check_totals(graph, name)
    assert not graph.opaque_modules, graph.opaque_modules
    view = fold(graph, 1)
    assert sum(n.gmacs for n in view.nodes) == pytest.approx(graph.total_gmacs, rel=1e-9)
    assert build_scene([view]).rects


class OwnOps(nn.Module):
    """A container whose own forward does counted work (a matmul and a final upsampling), like attention heads."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.proj = nn.Linear(8, 8)

    def forward(self, x):
        y = self.conv(x)
        tokens = y.flatten(2).transpose(1, 2)  # (1, HW, 8)
        attn = torch.softmax(tokens @ self.proj(tokens).transpose(1, 2), dim=-1)
        y = (attn @ tokens).transpose(1, 2).reshape_as(y)
        return nn.functional.interpolate(y, scale_factor=2.0, mode="bilinear")


def test_a_container_s_own_work_lands_on_its_ops_and_the_sum_matches_fvcore_called_directly():
    model = OwnOps().eval()
    graph = build_graph(model, (32, 32))
    assert sum(n.gmacs for n in graph.nodes) == pytest.approx(_fvcore_total(model, (32, 32)), rel=1e-9)
    carriers = {n.op for n in graph.nodes if n.kind is NodeKind.OP and n.gmacs > 0}
    assert carriers == {"matmul"}  # the final upsampling is not a multiply-add in the papers' convention


def test_context_network_fields_match_yu_and_koltun_table_1():
    from cvcore.papers.dilated import ContextNetwork

    graph = build_graph(ContextNetwork(channels=3), (128, 128))
    convs = [n for n in graph.nodes if n.op == "Conv2d"]
    assert [n.receptive_field for n in convs] == [(rf, rf) for _, _, rf in CONTEXT_TABLE1]
    assert [n.dilation for n in convs] == [(d, d) for _, d, _ in CONTEXT_TABLE1]


# --- what is traced, and how --------------------------------------------------------------


def test_the_caller_s_model_is_left_alone():
    from cvcore.attribution.isolation import modules_with_hooks

    model = build_model("resnet18").train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    build_graph(model, (64, 64))
    assert model.training and all(m.training for m in model.modules())
    assert not modules_with_hooks(model)
    assert all(torch.equal(before[k], v) and v.device.type == "cpu" for k, v in model.state_dict().items())  # BN stats too
    assert all(p.grad is None and p.requires_grad for p in model.parameters())


class LengthInForward(nn.Module):
    """A block torch.fx cannot enter: ``len`` of a traced value."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x):
        return self.conv(x) * len(x)


def test_a_submodule_fx_cannot_enter_becomes_one_reported_node():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), LengthInForward(), nn.ReLU()).eval()
    graph = build_graph(model, (16, 16))
    assert list(graph.opaque_modules) == ["1"] and "len" in graph.opaque_modules["1"]
    node = next(n for n in graph.nodes if n.module == "1")
    assert node.opaque_reason and node.params == 4 * 4 * 9 + 4
    assert any("torch.fx cannot enter 1" in note for note in graph.notes)
    assert sum(n.gmacs for n in graph.nodes) == pytest.approx(_fvcore_total(model, (16, 16)), rel=1e-9)


class WaitsWhileTraced(nn.Module):
    """Holds the trace open until another thread has run a model of its own."""

    def __init__(self, started, done):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)
        self.started, self.done = started, done

    def forward(self, x):
        if isinstance(x, torch.fx.Proxy):  # inside torch.fx's trace, not fvcore's or the meta pass
            self.started.set()
            self.done.wait(30)
        return self.conv(x) + 1


def test_a_model_run_by_another_session_during_a_trace_runs_normally_and_is_not_recorded():
    import threading

    started, done = threading.Event(), threading.Event()
    traced = {}
    thread = threading.Thread(target=lambda: traced.update(graph=build_graph(WaitsWhileTraced(started, done).eval(), (8, 8))))
    thread.start()
    try:
        assert started.wait(30)
        other = nn.Conv2d(3, 5, 1)
        out = other(torch.ones(1, 3, 8, 8))  # while torch.fx has nn.Module.__call__ patched
    finally:
        done.set()
        thread.join(60)
    assert type(out) is torch.Tensor and out.shape == (1, 5, 8, 8) and other.weight.shape == (5, 3, 1, 1)
    assert [n.name for n in traced["graph"].nodes if n.kind is NodeKind.MODULE] == ["conv"]
    assert nn.Module.__call__.__name__ == "_wrapped_call_impl"  # torch.fx's patch is gone


class DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return self.conv(x) if x.mean() > 0 else self.conv(-x)


def test_control_flow_on_values_in_the_model_s_own_forward_is_a_clear_error():
    with pytest.raises(AnalysisError, match="torch.fx cannot trace this model's own forward"):
        build_graph(DataDependent().eval(), (16, 16))


def test_control_flow_on_the_input_shape_is_traced_with_shapes(graphs):
    graph = graphs("lenet5")  # LeNet-5 averages RGB to gray when it gets 3 channels
    assert "MetaTracer" in graph.tracer
    assert graph.nodes[1].op == "mean"


def test_inception_auxiliary_classifier_is_drawn_as_training_only(graphs):
    graph = graphs("inception_v3")
    aux = [n for n in graph.nodes if n.training_only]
    assert aux and all(n.scope.startswith("AuxLogits") or (n.module or "").startswith("AuxLogits") for n in aux)
    assert all(n.gmacs == 0 for n in aux)  # not run at inference: not in fvcore's count
    feeding = {
        graph.node(e.source).scope
        for e in graph.edges
        if e.target in {n.id for n in aux} and not graph.node(e.source).training_only
    }
    assert feeding == {"Mixed_6e"}  # Szegedy et al. 2016: the auxiliary head sits on the last 17x17 layer


# --- folding -------------------------------------------------------------------------------


def test_resnet152_folds_into_stages_and_repeats(graphs):
    from cvcore.analysis.graph_view import fold

    graph = graphs("resnet152")
    stages = fold(graph, 1)
    titles = [n.title for n in stages.nodes]
    assert "layer3: Bottleneck x 36" in titles and len(stages.nodes) < 15  # He et al. Table 1: [3, 8, 36, 3]
    blocks = fold(graph, 2)
    assert "layer3.1–35: Bottleneck x 35" in [n.title for n in blocks.nodes]
    every = fold(graph, 2, expand_repeats=True)
    assert sum(n.id.startswith("layer3.") for n in every.nodes) == 36
    opened = fold(graph, 1, expand=["layer3"])
    assert {"layer3.0", "layer3.1…layer3.35"} <= {n.id for n in opened.nodes}
    repeats_opened = fold(graph, 1, expand=["layer3", "layer3.1...layer3.35"])  # as typed in a shell
    assert sum(n.id.startswith("layer3.") for n in repeats_opened.nodes) == 36
    for view in (stages, blocks, every, opened):
        assert sum(n.gmacs for n in view.nodes) == pytest.approx(graph.total_gmacs, rel=1e-9)
        assert sum(n.params for n in view.nodes) == graph.total_params
    layer3 = stages.node("layer3")
    assert dict(layer3.merges) == {"add": 36} and layer3.output_shape == (1, 1024, 14, 14)


def test_plain34_and_resnet34_differ_exactly_by_the_shortcuts(graphs):
    from cvcore.analysis.graph_view import differing_nodes, fold, graph_differences
    from cvcore.models.plain_resnet import BLOCKS_PER_STAGE

    plain, resnet = graphs("plain34"), graphs("resnet34")
    differences = graph_differences(plain, resnet)
    adds = sum(d.delta for d in differences if d.what.startswith("add"))
    projections = sum(d.delta for d in differences if d.what.startswith("Conv2d 1x1 /2"))
    norms = sum(d.delta for d in differences if d.what.startswith("BatchNorm2d"))
    assert adds == sum(BLOCKS_PER_STAGE[34]) == 16  # He et al. 2015, Table 1: one shortcut per block
    assert projections == norms == 3  # option B: projections where the width doubles
    assert len(differences) == 10 and all(d.delta > 0 for d in differences)  # nothing else differs
    assert not differing_nodes(fold(plain, 3), resnet)
    assert len([v for v in differing_nodes(fold(resnet, 3), plain) if v.startswith("add")]) == 16
