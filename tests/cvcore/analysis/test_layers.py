import pytest

from cvcore.analysis import analyze, stage_of
from cvcore.analysis.layers import OWN_OPS, TOP_LEVEL


# ResNet (plain blocks and residual adds), GoogLeNet (concatenated branches), LR-ASPP
# (a final upsampling in the top-level forward), EfficientNet-Lite (SAME padding).
@pytest.mark.parametrize("name", ["resnet18", "googlenet", "lraspp_mobilenet_v3_large", "efficientnet_lite0"])
def test_per_layer_rows_sum_to_the_totals(name):
    result = analyze(name, device="cpu", per_layer=True)
    assert sum(r.gmacs for r in result.layers) == pytest.approx(result.complexity.gmacs, rel=1e-9)
    assert sum(r.gmacs_all_ops for r in result.layers) == pytest.approx(result.complexity.gmacs_all_ops, rel=1e-9)
    assert sum(r.params for r in result.layers) == result.complexity.params


def test_resnet18_table_reads_like_the_paper():
    rows = {r.name: r for r in analyze("resnet18", device="cpu", per_layer=True).layers}
    conv1 = rows["conv1"]
    assert conv1.output_shape == (1, 64, 112, 112) and conv1.kernel == (7, 7) and conv1.stride == (2, 2)
    assert rows["maxpool"].output_shape == (1, 64, 56, 56)
    # He et al. 2015, Table 1: conv5_x outputs 7x7 with 512 channels.
    assert rows["layer4.1.conv2"].output_shape == (1, 512, 7, 7) and rows["layer4.1.conv2"].jump == (32, 32)
    assert rows["layer4.1.conv2"].receptive_field == (435, 435)  # ResNet-18's theoretical field
    assert rows["layer2.0.conv1"].stage == "layer2" and rows["layer2.0.conv1"].block == "layer2.0"


def test_top_level_ops_get_their_own_row():
    rows = analyze("lraspp_mobilenet_v3_large", device="cpu", per_layer=True).layers
    top = [r for r in rows if r.name == TOP_LEVEL + OWN_OPS]
    # The final bilinear upsampling to the input size: counted by fvcore's all-ops figure, not the papers'.
    assert len(top) == 1 and top[0].gmacs_all_ops > 0 and top[0].gmacs == 0


def test_stage_of_skips_generic_containers():
    assert stage_of("features.3.block.0.0") == ("features.3", "features.3.block")
    assert stage_of("layer3.1.conv2") == ("layer3", "layer3.1")
    assert stage_of("encoder.layers.encoder_layer_0.mlp.0") == (
        "encoder.layers.encoder_layer_0",
        "encoder.layers.encoder_layer_0.mlp",
    )
    assert stage_of("fc") == ("fc", "fc")
