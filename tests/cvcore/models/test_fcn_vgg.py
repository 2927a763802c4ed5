"""FCN-32s/16s/8s on VGG-16 (Long et al. 2015): convolutionalised fc6/fc7, pool4/pool3 skips, input-sized output."""

import pytest
import torch
from torch import nn

from cvcore.models.fcn_vgg import FCNVGG16, bilinear_kernel, fcn8s_vgg16, fcn16s_vgg16, fcn32s_vgg16
from cvcore.papers.measure import build_on_meta, output_shapes

BUILDERS = {32: fcn32s_vgg16, 16: fcn16s_vgg16, 8: fcn8s_vgg16}


@pytest.mark.parametrize("stride", sorted(BUILDERS))
@pytest.mark.parametrize("size", [(500, 500), (375, 500), (33, 47)])
def test_output_has_the_input_size(stride, size):
    model = build_on_meta(lambda: BUILDERS[stride](num_classes=21))
    shapes = output_shapes(model, size, ["upscore"])
    # The final crop brings the upsampled scores back to exactly the input's H x W.
    out = model(torch.empty(1, 3, *size, device="meta"))
    assert tuple(out.shape) == (1, 21, *size)
    assert shapes["upscore"][1] >= size[0]


def test_real_forward_fcn8s():
    torch.manual_seed(0)
    model = fcn8s_vgg16(num_classes=4).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 40, 52))
    assert out.shape == (1, 4, 40, 52) and torch.isfinite(out).all()


def test_classifier_is_convolutionalised():
    model = FCNVGG16(32)
    fc6, fc7 = model.fc6[0], model.fc7[0]
    assert isinstance(fc6, nn.Conv2d) and (fc6.in_channels, fc6.out_channels, fc6.kernel_size) == (512, 4096, (7, 7))
    assert isinstance(fc7, nn.Conv2d) and (fc7.in_channels, fc7.out_channels, fc7.kernel_size) == (4096, 4096, (1, 1))
    assert model.block1[0].padding == (100, 100)  # the reference nets' pad 100 on conv1_1
    assert not any(isinstance(m, nn.Linear) for m in model.modules())


def test_skips_per_variant():
    def has(model, name):
        return hasattr(model, name)

    assert not has(FCNVGG16(32), "score_pool4") and not has(FCNVGG16(32), "score_pool3")
    assert has(FCNVGG16(16), "score_pool4") and not has(FCNVGG16(16), "score_pool3")
    assert has(FCNVGG16(8), "score_pool4") and has(FCNVGG16(8), "score_pool3")
    assert FCNVGG16(8).upscore.stride == (8, 8) and FCNVGG16(16).upscore.stride == (16, 16)
    with pytest.raises(ValueError, match="stride"):
        FCNVGG16(4)


def test_upsamplers_are_fixed_bilinear_as_in_the_reference_nets():
    assert bilinear_kernel(1, 4)[0, 0, 0].tolist() == [0.0625, 0.1875, 0.1875, 0.0625]
    model = FCNVGG16(8, num_classes=3)
    # voc-fcn8s/net.py: upscore2, upscore_pool4 and upscore8 all have param=[dict(lr_mult=0)].
    assert not any(m.weight.requires_grad for m in model.modules() if isinstance(m, nn.ConvTranspose2d))
    assert sum(isinstance(m, nn.ConvTranspose2d) for m in model.modules()) == 3
    # A constant map upsampled bilinearly stays constant away from the borders.
    with torch.no_grad():
        up = model.upscore2(torch.ones(1, 3, 6, 6))
    assert torch.allclose(up[..., 2:-2, 2:-2], torch.ones_like(up[..., 2:-2, 2:-2]))


# The layers with lr_mult > 0 in the reference Caffe nets (github.com/shelhamer/fcn.berkeleyvision.org,
# voc-fcn8s/net.py and voc-fcn16s/net.py): (name, input channels, output channels, kernel side), each
# with a bias. Every Deconvolution there has lr_mult=0 and bias_term=False, so it adds nothing.
_VGG16_CONVS = [
    ("conv1_1", 3, 64, 3), ("conv1_2", 64, 64, 3),
    ("conv2_1", 64, 128, 3), ("conv2_2", 128, 128, 3),
    ("conv3_1", 128, 256, 3), ("conv3_2", 256, 256, 3), ("conv3_3", 256, 256, 3),
    ("conv4_1", 256, 512, 3), ("conv4_2", 512, 512, 3), ("conv4_3", 512, 512, 3),
    ("conv5_1", 512, 512, 3), ("conv5_2", 512, 512, 3), ("conv5_3", 512, 512, 3),
    ("fc6", 512, 4096, 7), ("fc7", 4096, 4096, 1), ("score_fr", 4096, 21, 1),
]  # fmt: skip
REFERENCE_TRAINABLE_LAYERS = {
    32: _VGG16_CONVS,
    16: [*_VGG16_CONVS, ("score_pool4", 512, 21, 1)],
    8: [*_VGG16_CONVS, ("score_pool4", 512, 21, 1), ("score_pool3", 256, 21, 1)],
}


@pytest.mark.parametrize("stride", sorted(BUILDERS))
def test_trainable_parameters_match_the_reference_caffe_net(stride):
    reference = sum(cin * cout * k * k + cout for _, cin, cout, k in REFERENCE_TRAINABLE_LAYERS[stride])
    model = build_on_meta(BUILDERS[stride])
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == reference


def test_trainable_parameters_are_the_papers_134_million():
    # Long et al. 2015, Table 1: FCN-VGG16 has 134 M parameters.
    model = build_on_meta(fcn8s_vgg16)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert abs(trainable / 1e6 - 134) < 1
