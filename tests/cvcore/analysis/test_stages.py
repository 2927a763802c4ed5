"""Stage grouping, "x N" collapsing and the two-model stage diff."""

import pytest

from cvcore.analysis import analyze_layers
from cvcore.analysis.layers import LayerRow
from cvcore.analysis.stages import (
    collapse_repeats,
    diff_stages,
    group_stages,
    stage_diff_table,
    stage_layer_table,
    stage_summary_table,
)
from cvcore.formatting import to_csv


def _row(name, type_="Conv2d", stage=None, block=None, params=10, gmacs=0.5, shape=(1, 8, 4, 4), jump=(1.0, 1.0), rf=(3, 3)):
    stage = stage or name.split(".")[0]
    return LayerRow(name, type_, stage, block or name, shape, None, None, None, None, params, gmacs, gmacs, rf, jump, 1)


@pytest.fixture(scope="module")
def resnet18_rows():
    return analyze_layers("resnet18", device="cpu")


@pytest.fixture(scope="module")
def alexnet_rows():
    return analyze_layers("alexnet", device="cpu")


def test_identical_consecutive_blocks_collapse_into_one_group():
    rows = [
        _row("s.0.conv", stage="s", block="s.0", params=5),  # a different first block (a downsampling one)
        *[_row(f"s.{i}.conv", stage="s", block=f"s.{i}") for i in (1, 2, 3)],
    ]
    groups = collapse_repeats(rows)
    assert [g.repeat for g in groups] == [1, 3]
    assert groups[1].blocks == (("s.1",), ("s.2",), ("s.3",))
    assert [r.name for r in groups[1].first_rows] == ["s.1.conv"]
    assert groups[1].params == 30 and groups[1].gmacs == pytest.approx(1.5)


def test_a_repeating_pattern_of_several_blocks_collapses_too():
    rows = []
    for i in range(3):  # conv, relu, conv, relu, conv, relu: VGG's "conv3-256 x 3"
        rows.append(_row(f"f.{2 * i}", "Conv2d", stage="f"))
        rows.append(_row(f"f.{2 * i + 1}", "ReLU", stage="f", params=0))
    (group,) = collapse_repeats(rows)
    assert group.repeat == 3 and group.blocks[0] == ("f.0", "f.1")


def test_blocks_differing_in_parameters_or_shape_are_not_collapsed():
    rows = [_row("s.0.c", stage="s", block="s.0"), _row("s.1.c", stage="s", block="s.1", shape=(1, 8, 2, 2))]
    assert [g.repeat for g in collapse_repeats(rows)] == [1, 1]


def test_resnet18_stages_read_like_the_paper(resnet18_rows):
    stages = {s.name: s for s in group_stages(resnet18_rows)}
    assert list(stages)[:4] == ["conv1", "bn1", "relu", "maxpool"]
    layer1, layer2 = stages["layer1"], stages["layer2"]
    assert [g.repeat for g in layer1.groups] == [2]  # no downsampling: both BasicBlocks are identical
    assert [g.repeat for g in layer2.groups] == [1, 1]  # layer2.0 downsamples, layer2.1 does not
    assert layer2.output_shape == (1, 128, 28, 28) and layer2.jump == (8, 8)
    assert stages["layer4"].receptive_field == (435, 435)
    total = stage_summary_table(list(stages.values())).rows[-1]
    assert total["params"] == sum(r.params for r in resnet18_rows)
    assert total["gmacs"] == pytest.approx(sum(r.gmacs for r in resnet18_rows), abs=1e-4)


def test_sequential_layers_merge_into_resolution_stages(alexnet_rows):
    # AlexNet's features.0 ... features.12 each hold one layer; the paper groups them by pooling.
    stages = group_stages(alexnet_rows)
    names = [s.name for s in stages]
    assert names[:3] == ["features.0–2", "features.3–5", "features.6–12"]
    assert all(s.rows[-1].type == "MaxPool2d" for s in stages[:3])
    assert [s.name for s in group_stages(alexnet_rows, merge_sequential=False)][:3] == ["features.0", "features.1", "features.2"]
    assert sum(len(s.rows) for s in stages) == len(alexnet_rows)  # no row lost or duplicated


def test_layer_table_shows_repeats_once_unless_expanded(resnet18_rows):
    layer1 = next(s for s in group_stages(resnet18_rows) if s.name == "layer1")
    collapsed, expanded = stage_layer_table(layer1), stage_layer_table(layer1, expand_repeats=True)
    assert len(expanded.rows) == len(layer1.rows) == 2 * len(collapsed.rows)
    assert {r["repeat"] for r in collapsed.rows} == {"x 2"}
    assert all(r["layer"].startswith("layer1.0.") for r in collapsed.rows)


def test_diff_pairs_equal_names_and_reports_b_minus_a(resnet18_rows):
    a = group_stages(resnet18_rows)
    b = group_stages([r for r in resnet18_rows if r.stage != "layer4"])  # a truncated "model B"
    diffs = diff_stages(a, b)
    by_a = {d.a.name: d for d in diffs if d.a}
    assert by_a["layer1"].matched_by == "name" and by_a["layer1"].params_delta == 0
    assert by_a["layer4"].b is None and by_a["layer4"].matched_by == "only in A"
    assert by_a["layer4"].params_delta == -by_a["layer4"].a.params
    table = stage_diff_table(diffs, "ResNet-18", "cut")
    assert len(table.rows) == len(diffs) + 1 and table.rows[-1]["stage_a"] == "total" and "ResNet-18" in to_csv(table)


def test_diff_of_unrelated_names_pairs_by_position(resnet18_rows, alexnet_rows):
    diffs = diff_stages(group_stages(alexnet_rows), group_stages(resnet18_rows))
    assert any(d.matched_by == "position" for d in diffs)
    assert sum(d.params_delta for d in diffs) == sum(r.params for r in resnet18_rows) - sum(r.params for r in alexnet_rows)


def test_architecture_reads_the_stored_analysis_at_the_default_size(monkeypatch, resnet18_rows):
    from cvcore.analysis import Complexity, model_analysis, precomputed
    from cvcore.analysis.stages import architecture

    stored = Complexity("resnet18", (224, 224), 1, 1, 0.5, 0.51, 1.0, {})
    monkeypatch.setattr(precomputed, "load_precomputed", lambda: {"resnet18": stored})
    monkeypatch.setattr(precomputed, "load_precomputed_layers", lambda name: list(resnet18_rows) if name == "resnet18" else None)
    monkeypatch.setattr(model_analysis, "analyze", lambda *a, **k: pytest.fail("traced although the analysis is stored"))
    arch = architecture("resnet18")
    assert arch.precomputed and arch.complexity is stored and arch.layers == tuple(resnet18_rows)


def test_architecture_traces_other_sizes_and_unstored_models(monkeypatch):
    from cvcore.analysis import precomputed
    from cvcore.analysis.stages import architecture

    monkeypatch.setattr(precomputed, "load_precomputed", lambda: {})
    arch = architecture("lenet5")  # as if the stored files did not have it yet
    assert not arch.precomputed and arch.complexity.name == "lenet5"
    assert sum(r.params for r in arch.layers) == arch.complexity.params
    small = architecture("resnet18", (64, 64))
    assert not small.precomputed and small.complexity.input_size == (64, 64)
    assert small.stages()[-1].name == "fc"


def test_identical_consecutive_stages_merge_into_one_repeated_stage():
    # ViT: encoder.layers.encoder_layer_0 ... _2, each its own stage with two blocks.
    rows = []
    for i in range(3):
        stage = f"encoder.layers.encoder_layer_{i}"
        rows += [
            _row(f"{stage}.ln", "LayerNorm", stage=stage, block=f"{stage}.ln"),
            _row(f"{stage}.mlp.0", "Linear", stage=stage, block=f"{stage}.mlp"),
        ]
    rows.append(_row("heads", "Linear", stage="heads"))
    stages = group_stages(rows)
    assert [s.name for s in stages] == ["encoder.layers.encoder_layer_0–encoder_layer_2", "heads"]
    assert [g.repeat for g in stages[0].groups] == [3] and stages[0].structure == "[encoder_layer] x 3"
    assert [s.name for s in group_stages(rows, merge_sequential=False)][:3] == [
        f"encoder.layers.encoder_layer_{i}" for i in range(3)
    ]


def test_structure_reads_like_the_papers_tables(resnet18_rows, alexnet_rows):
    stages = {s.name: s for s in group_stages(resnet18_rows)}
    assert stages["layer1"].structure == "[3x3 conv 64 + 3x3 conv 64] x 2"
    assert stages["layer2"].structure.startswith("3x3 conv 128 + 3x3 conv 128 ‖ shortcut: 1x1 conv 128")  # a branch
    assert group_stages(alexnet_rows)[0].structure == "11x11 conv 64; ReLU; MaxPool2d"


def test_every_stored_model_groups_without_losing_a_row():
    from cvcore.analysis import load_precomputed, load_precomputed_layers

    stored = load_precomputed()
    if not stored:
        pytest.skip("assets/analysis.json holds no models yet")
    for name, complexity in stored.items():
        rows = load_precomputed_layers(name)
        if rows is None:
            continue
        for merge in (True, False):
            stages = group_stages(rows, merge_sequential=merge)
            assert sorted(r.name for s in stages for r in s.rows) == sorted(r.name for r in rows), name
            total = stage_summary_table(stages).rows[-1]
            assert total["params"] == complexity.params, name
            assert total["gmacs"] == pytest.approx(complexity.gmacs, abs=1e-3), name
            for stage in stages:
                collapsed = stage_layer_table(stage)
                assert sum(g.repeat * len(g.first_rows) for g in stage.groups) == len(stage.rows), (name, stage.name)
                assert len(collapsed.rows) == sum(len(g.first_rows) if g.repeat > 1 else len(g.rows) for g in stage.groups)
