"""MobileNetV1 (Howard et al. 2017) per its Table 1, with width multiplier and resolution.

torchvision has MobileNetV2/V3 only. The body is a config table (one row per depthwise
separable layer) driving one module; ``width_mult`` is the paper's alpha, the input
resolution is the paper's rho (any input size works: the classifier pools globally).
Two ablations from the paper are builders too: "Conv MobileNet" (Table 4: full 3x3
convolutions instead of depthwise separable ones) and "Shallow MobileNet" (Table 5: the
five 14x14x512 separable layers removed). No trained weights exist in cvlens.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torchvision.models._meta import _IMAGENET_CATEGORIES

from cvcore.papers.published import mobilenet_row
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


def conv_bn_relu(in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Sequential:
    """Every layer but the classifier is followed by batch norm and ReLU (paper, Sec. 3.2)."""
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel, stride, padding=kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
    )


class DepthwiseSeparable(nn.Module):
    """3x3 depthwise conv (one filter per channel, carries the stride), then 1x1 pointwise conv."""

    def __init__(self, in_ch: int, out_ch: int, stride: int):
        super().__init__()
        self.depthwise = conv_bn_relu(in_ch, in_ch, 3, stride, groups=in_ch)
        self.pointwise = conv_bn_relu(in_ch, out_ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class FullConv(nn.Module):
    """The "Conv MobileNet" baseline of Table 4: one standard 3x3 conv in place of dw + pw."""

    def __init__(self, in_ch: int, out_ch: int, stride: int):
        super().__init__()
        self.conv = conv_bn_relu(in_ch, out_ch, 3, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


# --- the module ---------------------------------------------------------------------


@dataclass(frozen=True)
class SeparableLayer:
    out_ch: int
    stride: int


STEM_CHANNELS = 32
# Howard et al. 2017, Table 1: after the 3x3x3x32 stride-2 stem, 13 depthwise separable layers.
# Table 1 prints "Conv dw / s2" for the last depthwise layer, but its 7x7 input and the 7x7
# average pool after it imply stride 1 (the authors' TF-slim definition uses 1), so s1 here.
BODY = (
    SeparableLayer(64, 1),
    SeparableLayer(128, 2),
    SeparableLayer(128, 1),
    SeparableLayer(256, 2),
    SeparableLayer(256, 1),
    SeparableLayer(512, 2),
    *(SeparableLayer(512, 1) for _ in range(5)),  # the "5x" block at 14x14x512
    SeparableLayer(1024, 2),
    SeparableLayer(1024, 1),
)
# Table 5's shallow MobileNet: "remove the 5 layers of separable filters with feature size 14x14x512".
SHALLOW_BODY = BODY[:6] + BODY[11:]
MIN_CHANNELS = 8  # TF-slim's min_depth: alpha never shrinks a layer below 8 channels


def scaled(channels: int, width_mult: float) -> int:
    """alpha * channels, truncated as in the authors' TF-slim code (``max(int(d * alpha), 8)``)."""
    return max(int(channels * width_mult), MIN_CHANNELS)


class MobileNetV1(nn.Module):
    def __init__(
        self,
        width_mult: float = 1.0,
        num_classes: int = 1000,
        body: tuple[SeparableLayer, ...] = BODY,
        depthwise_separable: bool = True,
    ):
        super().__init__()
        if not 0 < width_mult <= 4:
            raise ValueError(f"width_mult must be in (0, 4], got {width_mult}")
        self.width_mult = width_mult
        block = DepthwiseSeparable if depthwise_separable else FullConv
        in_ch = scaled(STEM_CHANNELS, width_mult)
        self.stem = conv_bn_relu(3, in_ch, 3, stride=2)
        layers = []
        for row in body:
            out_ch = scaled(row.out_ch, width_mult)
            layers.append(block(in_ch, out_ch, row.stride))
            in_ch = out_ch
        self.layers = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)  # Table 1's "Avg Pool 7x7" at 224; global at any size
        self.classifier = nn.Linear(in_ch, num_classes)
        self.num_features = in_ch

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(self.stem(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.avgpool(self.forward_features(x)).flatten(1))


# --- builders -----------------------------------------------------------------------


def mobilenet_v1(*, width_mult: float = 1.0, num_classes: int = 1000) -> MobileNetV1:
    return MobileNetV1(width_mult, num_classes)


def mobilenet_v1_shallow(*, width_mult: float = 1.0, num_classes: int = 1000) -> MobileNetV1:
    return MobileNetV1(width_mult, num_classes, body=SHALLOW_BODY)


def mobilenet_v1_full_conv(*, width_mult: float = 1.0, num_classes: int = 1000) -> MobileNetV1:
    return MobileNetV1(width_mult, num_classes, depthwise_separable=False)


# --- catalogue entries --------------------------------------------------------------

PAPER = Paper("MobileNets: Efficient Convolutional Neural Networks for Mobile Vision Applications", 2017, "1704.04861")
_PREPROCESSING = Preprocessing(resize_size=256, crop_size=224)


def _source(table: str) -> str:
    return f"Howard et al. 2017, {table}"


# name: (display, builder, width, the paper's row with its accuracy, mult-adds and parameters).
_ENTRIES = {
    "mobilenet_v1": ("MobileNetV1-1.0", mobilenet_v1, 1.0, ("Table 6", "1.0 MobileNet-224")),
    "mobilenet_v1_075": ("MobileNetV1-0.75", mobilenet_v1, 0.75, ("Table 6", "0.75 MobileNet-224")),
    "mobilenet_v1_050": ("MobileNetV1-0.5", mobilenet_v1, 0.5, ("Table 6", "0.5 MobileNet-224")),
    "mobilenet_v1_025": ("MobileNetV1-0.25", mobilenet_v1, 0.25, ("Table 6", "0.25 MobileNet-224")),
    "mobilenet_v1_shallow": ("Shallow MobileNetV1", mobilenet_v1_shallow, 1.0, ("Table 5", "Shallow MobileNet")),
    "mobilenet_v1_full_conv": ("Conv MobileNet (full convolutions)", mobilenet_v1_full_conv, 1.0, ("Table 4", "Conv MobileNet")),
}


def _register(name: str) -> None:
    display, build, width, (table, label) = _ENTRIES[name]
    row = mobilenet_row(table, label)

    def builder(*, num_classes: int = 1000) -> MobileNetV1:
        return build(width_mult=width, num_classes=num_classes)

    register_architecture(
        Architecture(
            name=name,
            display_name=display,
            task=Task.CLASSIFICATION,
            family="MobileNetV1",
            paper=PAPER,
            builder=builder,
            notes=f"Architecture only (random init); width multiplier alpha = {width}. Re-implemented from Table 1.",
        ),
        [
            Weights(
                id=NO_WEIGHTS_ID,
                kind=WeightsKind.NONE,
                categories=tuple(_IMAGENET_CATEGORIES),
                input_size=(224, 224),
                preprocessing=_PREPROCESSING,
                metrics={"acc@1": Published(row.accuracy, _source(table))},
                num_params=Published(row.mparams * 1e6, _source(table)),
                gmacs=Published(row.mmacs / 1000, _source(table)),
            )
        ],
    )


for _name in _ENTRIES:
    _register(_name)
