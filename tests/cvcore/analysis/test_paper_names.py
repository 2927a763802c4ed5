"""The papers' words: depth as the papers count it (checked against the depth in each model's name), Table 1's
stage names, projection shortcuts drawn as branches, block counts per stack."""

import re

import pytest

from cvcore.analysis import load_precomputed_layers
from cvcore.analysis.paper_names import DEPTH_CONVENTIONS, depth, on_shortcut, paper_stage_name
from cvcore.analysis.stages import architecture, block_counts, diff_stages, stage_diff_table, stage_summary_table
from cvcore.registry import list_models

# The depth each paper puts in the name: ResNet-50, VGG-16, DenseNet-121, ResNeXt-101, WRN-50-2, plain-34.
NAMED_DEPTH = re.compile(r"^(?:resnet|vgg|densenet|resnext|wide_resnet|plain)(\d+)")


def _named():
    return [(s.name, s.family, int(m.group(1))) for s in list_models(metadata_only=True) if (m := NAMED_DEPTH.match(s.name))]


@pytest.mark.parametrize(("name", "family", "expected"), _named())
def test_depth_is_the_number_in_the_papers_name(name, family, expected):
    layers = load_precomputed_layers(name)
    if layers is None:
        pytest.skip(f"{name} is not in the stored analysis")
    d = depth(layers, family)
    assert d.main_path == expected and d.papers_convention
    assert d.modules > d.main_path  # batch norm, activations, pooling: not layers in the papers' sense


def test_depth_of_the_other_papers_counts():
    # Howard et al. 2017, Sec. 3: "Counting depthwise and pointwise convolutions as separate layers, MobileNet has
    # 28 layers" (seed 004 Part II); AlexNet: 5 conv + 3 fc.
    assert depth(load_precomputed_layers("mobilenet_v1"), "MobileNetV1").main_path == 28
    assert depth(load_precomputed_layers("alexnet"), "AlexNet").main_path == 8
    googlenet = depth(load_precomputed_layers("googlenet"), "GoogLeNet")
    assert not googlenet.papers_convention and "Not a depth" in googlenet.describe()  # branches: not the paper's 22
    assert set(DEPTH_CONVENTIONS) >= {"ResNet", "VGG", "DenseNet", "MobileNetV1"}


def test_resnet50_projection_shortcuts_are_a_branch_not_a_fourth_conv():
    layers = load_precomputed_layers("resnet50")
    d = depth(layers, "ResNet")
    assert (d.main_path, d.shortcut_projections) == (50, 4)  # 1 + 3 x (3 + 4 + 6 + 3) + 1; one projection per stage
    assert "4 projection shortcut(s)" in d.describe() and "126 modules" in d.describe()
    assert on_shortcut("layer2.0.downsample.0") and not on_shortcut("layer2.0.conv2") and not on_shortcut("features.1.attn.proj")
    layer1 = next(s for s in architecture("resnet50").stages() if s.name == "layer1")
    assert layer1.structure.startswith("1x1 conv 64 + 3x3 conv 64 + 1x1 conv 256 ‖ shortcut: 1x1 conv 256;")
    assert layer1.weighted_layers == 9


def test_table1_stage_names_beside_torchvisions():
    # He et al. 2015, Table 1 (seed 001): conv1, conv2_x (with the 3x3 max pool), conv3_x, conv4_x, conv5_x.
    assert [paper_stage_name("ResNet", n) for n in ("conv1", "maxpool", "layer1", "layer2", "layer3", "layer4", "fc")] == [
        "conv1", "conv2_x", "conv2_x", "conv3_x", "conv4_x", "conv5_x", None,
    ]  # fmt: skip
    assert paper_stage_name("VGG", "features.0–4") is None
    table = stage_summary_table(architecture("resnet50").stages(), "ResNet-50", family="ResNet")
    rows = {r["stage"]: r for r in table.rows}
    assert rows["layer3"]["paper"] == "conv4_x" and rows["layer3"]["blocks"] == 6
    assert rows["total"]["weighted"] == 50 and rows["total"]["layers"] == 126
    assert "[3, 4, 6, 3]" in table.caption and "He et al. 2015, Table 1" in " ".join(table.sources)
    vgg = stage_summary_table(architecture("vgg16").stages(), "VGG-16", family="VGG")
    assert "paper" not in vgg.column_names and vgg.rows[-1]["weighted"] == 16


def test_diff_has_block_counts_and_a_totals_row():
    r18, r50 = architecture("resnet18").stages(), architecture("resnet50").stages()
    assert block_counts(r18) == [2, 2, 2, 2] and block_counts(r50) == [3, 4, 6, 3]
    table = stage_diff_table(diff_stages(r18, r50), "ResNet-18", "ResNet-50", "ResNet", "ResNet")
    assert "ResNet-18 [2, 2, 2, 2], ResNet-50 [3, 4, 6, 3]" in table.caption
    total = table.rows[-1]
    assert total["stage_a"] == "total" and (total["weighted_a"], total["weighted_b"]) == (18, 50)
    assert total["params_a"] == architecture("resnet18").complexity.params and total["params_delta"] == (
        architecture("resnet50").complexity.params - architecture("resnet18").complexity.params
    )
    assert [r["stage_a"] for r in table.rows[3:5]] == ["maxpool (conv2_x)", "layer1 (conv2_x)"]
    assert table.rows[4]["blocks_a"] == 2 and table.rows[4]["blocks_b"] == 3
