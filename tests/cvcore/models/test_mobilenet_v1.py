"""MobileNetV1 against Howard et al. 2017: Table 1's layers, alpha and rho, the Table 4/5 ablations.

Mult-adds are checked against Tables 4-9 in tests/cvcore/papers; here: structure and parameters.
"""

import pytest
import torch
from torch import nn

from cvcore.models.mobilenet_v1 import BODY, SHALLOW_BODY, MobileNetV1, mobilenet_v1, mobilenet_v1_full_conv, mobilenet_v1_shallow
from cvcore.papers.measure import build_on_meta, output_shapes, parameter_count

# Table 1 (seed 004, Part II): each separable layer's output = the next row's "Input Size".
TABLE1_OUTPUTS = {
    "stem": (32, 112, 112),
    "layers.0": (64, 112, 112),
    "layers.1": (128, 56, 56),
    "layers.2": (128, 56, 56),
    "layers.3": (256, 28, 28),
    "layers.4": (256, 28, 28),
    "layers.5": (512, 14, 14),
    **{f"layers.{i}": (512, 14, 14) for i in range(6, 11)},  # the "5x" rows
    "layers.11": (1024, 7, 7),
    "layers.12": (1024, 7, 7),  # Avg Pool 7x7 follows
}
# Table 6: Million Parameters per width multiplier (tolerance 0.1 M: the paper rounds).
TABLE6_MPARAMS = {1.0: 4.2, 0.75: 2.6, 0.5: 1.3, 0.25: 0.5}


def test_table1_output_sizes_at_224():
    shapes = output_shapes(build_on_meta(mobilenet_v1), (224, 224), TABLE1_OUTPUTS)
    assert shapes == TABLE1_OUTPUTS


def test_28_layers_counting_depthwise_and_pointwise_separately():
    model = MobileNetV1()
    weighted = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(weighted) == 28  # "Counting depthwise and pointwise convolutions as separate layers"
    depthwise = [m for m in weighted if isinstance(m, nn.Conv2d) and m.groups > 1]
    assert len(depthwise) == 13 and all(m.groups == m.in_channels == m.out_channels for m in depthwise)
    assert all(isinstance(m.pointwise[0], nn.Conv2d) and m.pointwise[0].kernel_size == (1, 1) for m in model.layers)


@pytest.mark.parametrize("alpha, mparams", sorted(TABLE6_MPARAMS.items()))
def test_table6_parameters_per_width(alpha, mparams):
    assert abs(parameter_count(lambda: mobilenet_v1(width_mult=alpha)) / 1e6 - mparams) <= 0.1


def test_shallow_and_full_conv_ablations():
    # Table 5: shallow = the five 14x14x512 separable layers removed; Table 4: full 3x3 convs.
    assert len(BODY) - len(SHALLOW_BODY) == 5
    assert len(mobilenet_v1_shallow().layers) == 8
    assert abs(parameter_count(mobilenet_v1_shallow) / 1e6 - 2.9) <= 0.1
    full = build_on_meta(mobilenet_v1_full_conv)
    assert not any(isinstance(m, nn.Conv2d) and m.groups > 1 for m in full.modules())
    assert abs(sum(p.numel() for p in full.parameters()) / 1e6 - 29.3) <= 0.1


def test_resolution_is_a_free_parameter():
    shapes = output_shapes(build_on_meta(mobilenet_v1), (128, 128), ["layers.12"])
    assert shapes["layers.12"] == (1024, 4, 4)
    torch.manual_seed(0)
    with torch.no_grad():
        out = mobilenet_v1(width_mult=0.25, num_classes=7).eval()(torch.randn(2, 3, 96, 96))
    assert out.shape == (2, 7) and torch.isfinite(out).all()


def test_width_multiplier_scales_every_layer_and_rejects_nonsense():
    model = MobileNetV1(width_mult=0.5)
    assert model.stem[0].out_channels == 16 and model.num_features == 512
    with pytest.raises(ValueError, match="width_mult"):
        MobileNetV1(width_mult=0)
