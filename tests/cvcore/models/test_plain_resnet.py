"""plain-18/34 (He et al. 2015): ResNet-18/34's convolutions exactly, with every shortcut removed."""

import pytest
import torch
from torchvision.models import resnet18, resnet34

from cvcore.models.plain_resnet import PlainBlock, plain18, plain34
from cvcore.papers.measure import build_on_meta, output_shapes

PAIRS = {18: (plain18, resnet18), 34: (plain34, resnet34)}
STAGES = ["conv1", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool"]


@pytest.mark.parametrize("depth", sorted(PAIRS))
def test_same_convolutions_as_the_resnet_without_shortcuts(depth):
    plain, resnet = (build_on_meta(b) for b in PAIRS[depth])
    resnet_weights = {n: tuple(p.shape) for n, p in resnet.named_parameters() if "downsample" not in n}
    assert {n: tuple(p.shape) for n, p in plain.named_parameters()} == resnet_weights
    assert not any("downsample" in n for n, _ in plain.named_modules())
    assert output_shapes(plain, (224, 224), STAGES) == output_shapes(resnet, (224, 224), STAGES)


def test_block_has_no_identity_path():
    torch.manual_seed(0)
    block = PlainBlock(8, 8).eval()
    with torch.no_grad():
        block.conv2.weight.zero_()
        block.bn2.bias.zero_()
        out = block(torch.rand(1, 8, 5, 5) + 1)
    # A residual block would return relu(0 + x) = x here; the plain block returns relu(0) = 0.
    assert torch.count_nonzero(out) == 0


def test_layer_counts():
    # 18 / 34 weighted layers: conv1 + 2 convs per block + fc.
    for depth, builder in ((18, plain18), (34, plain34)):
        model = build_on_meta(builder)
        weighted = [m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
        assert len(weighted) == depth
