"""ENet (Paszke et al. 2016): real-time semantic segmentation, exactly per its Table 1.

The paper's Table 1 is the config below, one row per block; one generic module runs it.
Details from the paper's Sec. 3 and Fig. 2:

* initial block: a 3x3 stride-2 conv with 13 filters concatenated with a 2x2 max-pool of
  the 3 input channels = 16 maps;
* bottleneck: 1x1 projection -> conv -> 1x1 expansion, batch norm and PReLU between all
  convolutions, spatial dropout, element-wise sum with the main branch, PReLU;
* projections carry no bias ("to reduce the number of kernel calls");
* downsampling bottlenecks replace the first 1x1 projection with a 2x2 stride-2 conv; the
  main branch max-pools and zero-pads the channels;
* the conv is regular, dilated or a full (transposed) 3x3 conv, or a 5x5 decomposed into
  asymmetric 5x1 and 1x5 convs;
* decoder: max-pooling replaced by max-unpooling with the matching encoder indices,
  zero-padding by a bias-free 1x1 conv;
* last module: a bare full convolution to C classes (no unpooling indices).

Spatial dropout is p = 0.01 before bottleneck2.0 and p = 0.1 after it. No trained weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import torch
import torch.nn.functional as F
from torch import nn

from cvcore.registry import NO_WEIGHTS_ID, Architecture, Paper, Task, Weights, WeightsKind, register_architecture

# --- blocks -------------------------------------------------------------------------


class Kind(str, Enum):
    REGULAR = "regular"
    DOWNSAMPLING = "downsampling"
    UPSAMPLING = "upsampling"
    DILATED = "dilated"
    ASYMMETRIC = "asymmetric"


def bn_prelu(channels: int) -> list[nn.Module]:
    return [nn.BatchNorm2d(channels, eps=1e-3), nn.PReLU(channels)]


class InitialBlock(nn.Module):
    """Fig. 2a: 13 conv filters (3x3, stride 2) + 2x2 max-pool of the RGB input = 16 maps."""

    def __init__(self, in_ch: int = 3, out_ch: int = 16):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch - in_ch, 3, stride=2, padding=1, bias=False)
        self.pool = nn.MaxPool2d(2, 2)
        self.bn = nn.BatchNorm2d(out_ch, eps=1e-3)
        self.act = nn.PReLU(out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(torch.cat([self.conv(x), self.pool(x)], dim=1)))


def main_conv(kind: Kind, channels: int, dilation: int) -> list[nn.Module]:
    """The bottleneck's middle conv: regular / dilated 3x3, asymmetric 5x1 + 1x5, or full conv."""
    if kind is Kind.ASYMMETRIC:
        return [
            nn.Conv2d(channels, channels, (5, 1), padding=(2, 0), bias=False),
            nn.Conv2d(channels, channels, (1, 5), padding=(0, 2)),
        ]
    if kind is Kind.UPSAMPLING:
        return [nn.ConvTranspose2d(channels, channels, 3, stride=2, padding=1, output_padding=1)]
    return [nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation)]


class Bottleneck(nn.Module):
    """Fig. 2b. ``forward`` takes the pooling indices (upsampling) and returns them (downsampling)."""

    def __init__(self, kind: Kind, in_ch: int, out_ch: int, dilation: int = 1, dropout: float = 0.1, internal_ratio: int = 4):
        super().__init__()
        self.kind = kind
        internal = out_ch // internal_ratio
        # 2x2 stride-2 projection when downsampling, else 1x1; bias-free either way.
        reduce = 2 if kind is Kind.DOWNSAMPLING else 1
        self.branch = nn.Sequential(
            nn.Conv2d(in_ch, internal, reduce, stride=reduce, bias=False),
            *bn_prelu(internal),
            *main_conv(kind, internal, dilation),
            *bn_prelu(internal),
            nn.Conv2d(internal, out_ch, 1, bias=False),
            nn.BatchNorm2d(out_ch, eps=1e-3),
            nn.Dropout2d(dropout),
        )
        self.pad_channels = out_ch - in_ch if kind is Kind.DOWNSAMPLING else 0
        # Decoder: "padding is replaced with spatial convolution without bias".
        self.shortcut = (
            nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, bias=False), nn.BatchNorm2d(out_ch, eps=1e-3))
            if kind is Kind.UPSAMPLING
            else None
        )
        self.act = nn.PReLU(out_ch)

    def forward(self, x: torch.Tensor, indices: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        main, out_indices = x, None
        if self.kind is Kind.DOWNSAMPLING:
            main, out_indices = F.max_pool2d(x, 2, 2, return_indices=True)
            main = F.pad(main, (0, 0, 0, 0, 0, self.pad_channels))  # zero maps to match the channel count
        elif self.kind is Kind.UPSAMPLING:
            main = self.shortcut(x)
            # aten op with an explicit int size: F.max_unpool2d's own size check breaks jit
            # tracing (fvcore), since traced sizes are tensors.
            main = torch.ops.aten.max_unpool2d(main, indices, [2 * main.shape[-2], 2 * main.shape[-1]])
        return self.act(main + self.branch(x)), out_indices


# --- the module ---------------------------------------------------------------------


@dataclass(frozen=True)
class BlockConfig:
    name: str  # as in Table 1, with "_" for "." (module names cannot contain dots)
    kind: Kind
    in_ch: int
    out_ch: int
    dilation: int = 1
    unpool_from: str | None = None  # the downsampling block whose max-pool indices this block reuses


def _stage2or3(stage: int) -> list[BlockConfig]:
    # Table 1, bottleneck2.1 .. 2.8; stage 3 repeats them "without bottleneck2.0".
    pattern = [
        (Kind.REGULAR, 1), (Kind.DILATED, 2), (Kind.ASYMMETRIC, 1), (Kind.DILATED, 4),
        (Kind.REGULAR, 1), (Kind.DILATED, 8), (Kind.ASYMMETRIC, 1), (Kind.DILATED, 16),
    ]
    return [BlockConfig(f"bottleneck{stage}_{i}", kind, 128, 128, d) for i, (kind, d) in enumerate(pattern, start=1)]


# Paszke et al. 2016, Table 1 (output sizes there are for a 512x512 input).
BLOCKS: tuple[BlockConfig, ...] = (
    BlockConfig("bottleneck1_0", Kind.DOWNSAMPLING, 16, 64),
    *(BlockConfig(f"bottleneck1_{i}", Kind.REGULAR, 64, 64) for i in range(1, 5)),  # "4x bottleneck1.x"
    BlockConfig("bottleneck2_0", Kind.DOWNSAMPLING, 64, 128),
    *_stage2or3(2),
    *_stage2or3(3),
    BlockConfig("bottleneck4_0", Kind.UPSAMPLING, 128, 64, unpool_from="bottleneck2_0"),
    BlockConfig("bottleneck4_1", Kind.REGULAR, 64, 64),
    BlockConfig("bottleneck4_2", Kind.REGULAR, 64, 64),
    BlockConfig("bottleneck5_0", Kind.UPSAMPLING, 64, 16, unpool_from="bottleneck1_0"),
    BlockConfig("bottleneck5_1", Kind.REGULAR, 16, 16),
)
INITIAL_CHANNELS = 16


def dropout_for(block: BlockConfig) -> float:
    """p = 0.01 before bottleneck2.0 and 0.1 afterwards (paper, Sec. 3)."""
    return 0.01 if block.name.startswith("bottleneck1_") else 0.1


class ENet(nn.Module):
    def __init__(self, num_classes: int = 19, blocks: tuple[BlockConfig, ...] = BLOCKS):
        super().__init__()
        self.block_configs = blocks
        self.initial = InitialBlock(3, INITIAL_CHANNELS)
        for b in blocks:
            self.add_module(b.name, Bottleneck(b.kind, b.in_ch, b.out_ch, b.dilation, dropout_for(b)))
        # "a bare full convolution" as the last module: 16 -> C maps, 2x up, no unpooling indices.
        self.fullconv = nn.ConvTranspose2d(blocks[-1].out_ch, num_classes, 2, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.initial(x)
        indices: dict[str, torch.Tensor] = {}
        for b in self.block_configs:
            x, pooled = getattr(self, b.name)(x, indices.get(b.unpool_from) if b.unpool_from else None)
            if pooled is not None:
                indices[b.name] = pooled
        return self.fullconv(x)


# --- builders -----------------------------------------------------------------------


def enet(*, num_classes: int = 19) -> ENet:
    return ENet(num_classes)


def table1_name(module_name: str) -> str:
    """``bottleneck2_3`` -> ``bottleneck2.3`` (the paper's naming)."""
    return module_name.replace("_", ".")


# --- catalogue entries --------------------------------------------------------------

PAPER = Paper("ENet: A Deep Neural Network Architecture for Real-Time Semantic Segmentation", 2016, "1606.02147")
# Cityscapes' 19 evaluation classes, one of the paper's benchmarks.
CITYSCAPES_CATEGORIES = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign", "vegetation", "terrain",
    "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle",
)

register_architecture(
    Architecture(
        name="enet",
        display_name="ENet",
        task=Task.SEGMENTATION,
        family="ENet",
        paper=PAPER,
        builder=enet,
        notes="Architecture only (random init), C = 19 Cityscapes classes. Re-implemented from Table 1, Fig. 2 and Sec. 3.",
    ),
    [
        Weights(
            id=NO_WEIGHTS_ID,
            kind=WeightsKind.NONE,
            categories=CITYSCAPES_CATEGORIES,
            input_size=(512, 512),  # Table 1's example input
        )
    ],
)
