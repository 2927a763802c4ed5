"""ENet against its paper (Paszke et al. 2016): Table 1's output sizes, Fig. 2's blocks, Sec. 3's details."""

import pytest
import torch
from torch import nn

from cvcore.formatting import format_shape
from cvcore.models.enet import BLOCKS, ENet, Kind, enet, table1_name
from cvcore.papers.measure import build_on_meta, output_shapes

NUM_CLASSES = 19

# Paszke et al. 2016, Table 1, "Output sizes are given for an example input of 512 x 512"
# (seed 000, Part II). Stage 3 is "section 2 without bottleneck2.0"; C = number of classes.
TABLE1 = {
    "initial": "16x256x256",
    "bottleneck1.0": "64x128x128",
    **{f"bottleneck1.{i}": "64x128x128" for i in range(1, 5)},  # "4 x bottleneck1.x"
    "bottleneck2.0": "128x64x64",
    **{f"bottleneck{s}.{i}": "128x64x64" for s in (2, 3) for i in range(1, 9)},
    "bottleneck4.0": "64x128x128",
    "bottleneck4.1": "64x128x128",
    "bottleneck4.2": "64x128x128",
    "bottleneck5.0": "16x256x256",
    "bottleneck5.1": "16x256x256",
    "fullconv": f"{NUM_CLASSES}x512x512",
}
# Table 1's "Type" column for stages 2 and 3: dilation of the 3x3 conv, or asymmetric 5.
TYPES = {
    1: ("regular", 1),
    2: ("dilated", 2),
    3: ("asymmetric", 5),
    4: ("dilated", 4),
    5: ("regular", 1),
    6: ("dilated", 8),
    7: ("asymmetric", 5),
    8: ("dilated", 16),
}


@pytest.fixture(scope="module")
def meta_enet() -> ENet:
    return build_on_meta(lambda: enet(num_classes=NUM_CLASSES))


def test_every_table1_output_size_at_512(meta_enet):
    names = ["initial", *(b.name for b in BLOCKS), "fullconv"]
    shapes = output_shapes(meta_enet, (512, 512), names)
    measured = {table1_name(n): format_shape(s) for n, s in shapes.items()}
    assert measured == TABLE1


def test_block_types_follow_table1():
    model = ENet(NUM_CLASSES)
    for stage in (2, 3):
        for i, (kind, arg) in TYPES.items():
            convs = [m for m in getattr(model, f"bottleneck{stage}_{i}").branch if isinstance(m, nn.Conv2d)]
            middle = convs[1:-1]  # between the 1x1 projection and the 1x1 expansion
            if kind == "asymmetric":
                assert [c.kernel_size for c in middle] == [(arg, 1), (1, arg)]
            else:
                assert [(c.kernel_size, c.dilation) for c in middle] == [((3, 3), (arg, arg))]


def test_initial_block_is_13_conv_filters_plus_maxpool():
    model = ENet(NUM_CLASSES)
    assert model.initial.conv.out_channels == 13 and model.initial.conv.stride == (2, 2)
    assert isinstance(model.initial.pool, nn.MaxPool2d)
    out = model.initial(torch.randn(1, 3, 32, 32))
    assert out.shape == (1, 16, 16, 16)


def test_projections_are_bias_free_and_downsampling_projects_2x2_stride_2():
    model = ENet(NUM_CLASSES)
    for block in BLOCKS:
        module = getattr(model, block.name)
        convs = [m for m in module.branch if isinstance(m, nn.Conv2d)]
        projection, expansion = convs[0], convs[-1]
        assert projection.bias is None and expansion.bias is None
        expected = (2, 2) if block.kind is Kind.DOWNSAMPLING else (1, 1)
        assert projection.kernel_size == expected and projection.stride == expected
        if block.kind is Kind.UPSAMPLING:
            assert module.shortcut[0].bias is None  # "padding replaced by spatial convolution without bias"
            assert any(isinstance(m, nn.ConvTranspose2d) for m in module.branch)


def test_prelu_everywhere_and_spatial_dropout_rates():
    model = ENet(NUM_CLASSES)
    for block in BLOCKS:
        module = getattr(model, block.name)
        assert sum(isinstance(m, nn.PReLU) for m in module.modules()) == 3  # two inside the branch, one after the sum
        assert not any(isinstance(m, nn.ReLU) for m in module.modules())
        dropout = [m for m in module.branch if isinstance(m, nn.Dropout2d)]
        assert len(dropout) == 1
        assert dropout[0].p == (0.01 if block.name.startswith("bottleneck1_") else 0.1)


def test_decoder_unpools_with_the_encoder_indices():
    upsampling = [b for b in BLOCKS if b.kind is Kind.UPSAMPLING]
    assert [(b.name, b.unpool_from) for b in upsampling] == [
        ("bottleneck4_0", "bottleneck2_0"),
        ("bottleneck5_0", "bottleneck1_0"),
    ]
    # Max-unpooling puts each value back where the max came from: the shortcut's output is
    # zero everywhere else, so with the branch silenced the block's output is sparse.
    torch.manual_seed(0)
    model = ENet(NUM_CLASSES).eval()
    block = model.bottleneck5_0
    x = torch.randn(1, 16, 16, 16)
    _, indices = model.bottleneck1_0(x)
    with torch.no_grad():
        block.branch[-2].weight.zero_()  # BatchNorm of the expansion: gamma 0, beta 0 -> branch output 0
        block.act.weight.fill_(1.0)  # PReLU slope 1: identity, so zeros stay zeros
        out, _ = block(torch.randn(1, 64, 8, 8), indices)
    assert out.shape == (1, 16, 16, 16)
    assert (out == 0).float().mean() >= 0.75  # at most one of every 2x2 window is non-zero


def test_last_module_is_a_bare_full_convolution():
    model = ENet(NUM_CLASSES)
    assert type(model.fullconv) is nn.ConvTranspose2d
    assert (model.fullconv.in_channels, model.fullconv.out_channels, model.fullconv.stride) == (16, NUM_CLASSES, (2, 2))
    assert list(model.named_children())[-1][0] == "fullconv"


def test_real_forward_on_a_small_image():
    torch.manual_seed(0)
    model = enet(num_classes=5).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 96))
    assert out.shape == (2, 5, 64, 96) and torch.isfinite(out).all()


def test_parameter_count_is_the_papers_scale():
    # About 0.36 M parameters; the paper reports 0.37 M (Paszke et al. 2016, Table 3).
    n = sum(p.numel() for p in build_on_meta(lambda: enet(num_classes=NUM_CLASSES)).parameters())
    assert 0.34e6 < n < 0.38e6
