"""plain-18 and plain-34: the ResNet paper's baselines without shortcuts (He et al. 2015).

The paper's plain nets are ResNet-18/34 of Table 1 with every shortcut removed ("the
18-layer plain net is of a similar form", Sec. 4.1): same convolutions, same FLOPs, and
no projection shortcuts where the dimensions grow. They exist to show the degradation
problem (Table 2: plain-34 is worse than plain-18). torchvision's ``ResNet`` is reused as
the generic module with a block that has no identity path, so layer names match
``resnet18``/``resnet34`` one to one. No trained weights exist in cvlens.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models._meta import _IMAGENET_CATEGORIES
from torchvision.models.resnet import ResNet, conv3x3

from cvcore.papers.published import RESNET_TABLE1_GFLOPS, RESNET_TEXT_GFLOPS, resnet_error
from cvcore.registry import (
    NO_WEIGHTS_ID,
    Architecture,
    Paper,
    Preprocessing,
    Published,
    Task,
    Weights,
    WeightsKind,
    register_architecture,
)

# --- blocks -------------------------------------------------------------------------


class PlainBlock(nn.Module):
    """ResNet's basic block (two 3x3 convs) without the shortcut: y = relu(F(x)), not relu(F(x) + x)."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None, *args, **kwargs):
        super().__init__()
        # torchvision's ResNet hands every first block a 1x1 projection for the shortcut;
        # a plain net has no shortcut, so it is dropped (never registered as a submodule).
        del downsample
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)))


# --- the module ---------------------------------------------------------------------

# He et al. 2015, Table 1: blocks per stage (conv2_x .. conv5_x) of the 18- and 34-layer nets.
BLOCKS_PER_STAGE = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}


def _plain(depth: int, num_classes: int) -> ResNet:
    return ResNet(PlainBlock, list(BLOCKS_PER_STAGE[depth]), num_classes=num_classes)


# --- builders -----------------------------------------------------------------------


def plain18(*, num_classes: int = 1000) -> ResNet:
    return _plain(18, num_classes)


def plain34(*, num_classes: int = 1000) -> ResNet:
    return _plain(34, num_classes)


# --- catalogue entries --------------------------------------------------------------

PAPER = Paper("Deep Residual Learning for Image Recognition", 2015, "1512.03385")

# depth: (builder, the paper's label, FLOPs x 10^9 (multiply-adds), their source)
_ENTRIES = {
    18: (plain18, "plain-18", RESNET_TABLE1_GFLOPS[18], "He et al. 2015, Table 1 (same convolutions as ResNet-18)"),
    34: (plain34, "plain-34", RESNET_TEXT_GFLOPS["plain-34"][0], "He et al. 2015, Fig. 3 caption and Table 1"),
}


def _register(depth: int) -> None:
    builder, label, gflops, flops_source = _ENTRIES[depth]
    top1_err = resnet_error(label, "Table 2").top1
    register_architecture(
        Architecture(
            name=f"plain{depth}",
            display_name=f"plain-{depth}",
            task=Task.CLASSIFICATION,
            family="Plain (ResNet paper)",
            paper=PAPER,
            builder=builder,
            notes=f"ResNet-{depth} without shortcut connections; architecture only (random init).",
        ),
        [
            Weights(
                id=NO_WEIGHTS_ID,
                kind=WeightsKind.NONE,
                categories=tuple(_IMAGENET_CATEGORIES),
                input_size=(224, 224),
                preprocessing=Preprocessing(resize_size=256, crop_size=224),
                metrics={"acc@1": Published(round(100 - top1_err, 2), "He et al. 2015, Table 2 (10-crop testing)")},
                gmacs=Published(gflops, flops_source),
            )
        ],
    )


for _depth in _ENTRIES:
    _register(_depth)
