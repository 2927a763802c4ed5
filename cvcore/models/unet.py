"""U-Net (Ronneberger et al. 2015): a contracting path and a symmetric expanding path.

Per the paper's Fig. 1 and Sec. 2: two unpadded 3x3 convs + ReLU per level, 2x2 max-pool
between levels, channels doubling 64 -> 1024 over 4 downsampling steps; on the way up a
2x2 up-convolution halves the channels, the matching contracting feature map is
centre-cropped ("copy and crop") and concatenated, then two 3x3 convs; a final 1x1 conv
maps 64 channels to the classes. With valid convs the output is smaller than the input
(the paper tiles large images with overlap); ``padded=True`` gives the common variant with
same-size output. No batch norm (2015). No trained weights.
"""

from __future__ import annotations

import torch
from torch import nn

from cvcore.registry import NO_WEIGHTS_ID, Architecture, Paper, Task, Weights, WeightsKind, register_architecture

# --- blocks -------------------------------------------------------------------------


class DoubleConv(nn.Sequential):
    """Two 3x3 convs, each followed by ReLU; unpadded in the paper (each loses a 1-pixel border)."""

    def __init__(self, in_ch: int, out_ch: int, padding: int):
        super().__init__(
            nn.Conv2d(in_ch, out_ch, 3, padding=padding),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_ch, out_ch, 3, padding=padding),
            nn.ReLU(inplace=True),
        )


def center_crop(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The "crop" of "copy and crop": the centre of a contracting-path map, to match the expanding path."""
    top = (x.shape[-2] - height) // 2
    left = (x.shape[-1] - width) // 2
    return x[..., top : top + height, left : left + width]


class Up(nn.Module):
    """2x2 up-convolution halving the channels, concatenation with the cropped skip, two 3x3 convs."""

    def __init__(self, in_ch: int, out_ch: int, padding: int):
        super().__init__()
        self.upconv = nn.ConvTranspose2d(in_ch, out_ch, 2, stride=2)
        self.conv = DoubleConv(2 * out_ch, out_ch, padding)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = self.upconv(x)
        return self.conv(torch.cat([center_crop(skip, x.shape[-2], x.shape[-1]), x], dim=1))


# --- the module ---------------------------------------------------------------------

# Ronneberger et al. 2015, Fig. 1: feature channels per level of the contracting path.
CHANNELS = (64, 128, 256, 512, 1024)


class UNet(nn.Module):
    def __init__(self, num_classes: int = 2, in_channels: int = 3, padded: bool = False, channels: tuple[int, ...] = CHANNELS):
        super().__init__()
        pad = 1 if padded else 0
        self.padded = padded
        self.down = nn.ModuleList([DoubleConv(in_channels, channels[0], pad)])
        self.down.extend(DoubleConv(a, b, pad) for a, b in zip(channels[:-1], channels[1:]))
        self.pool = nn.MaxPool2d(2, 2)
        self.up = nn.ModuleList(Up(a, b, pad) for a, b in zip(channels[:0:-1], channels[-2::-1]))
        self.head = nn.Conv2d(channels[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else self.pool(x))
            skips.append(x)
        x = skips.pop()
        for block in self.up:
            x = block(x, skips.pop())
        return self.head(x)


def valid_output_size(input_size: int, depth: int = len(CHANNELS) - 1) -> int:
    """Output side of the unpadded U-Net (each DoubleConv loses 4 pixels); raises if pooling would be uneven."""
    size = input_size
    for _ in range(depth):
        size -= 4
        if size % 2:
            raise ValueError(f"Input {input_size} reaches an odd size ({size}) before a 2x2 max-pool; pick a tile size like 572.")
        size //= 2
    size -= 4
    for _ in range(depth):
        size = size * 2 - 4
    return size


# --- builders -----------------------------------------------------------------------


def unet(*, num_classes: int = 2, in_channels: int = 3) -> UNet:
    return UNet(num_classes, in_channels, padded=False)


def unet_padded(*, num_classes: int = 2, in_channels: int = 3) -> UNet:
    return UNet(num_classes, in_channels, padded=True)


# --- catalogue entries --------------------------------------------------------------

PAPER = Paper("U-Net: Convolutional Networks for Biomedical Image Segmentation", 2015, "1505.04597")
_CATEGORIES = ("background", "foreground")  # the paper's two-class cell segmentation

register_architecture(
    Architecture(
        name="unet",
        display_name="U-Net (valid convs, paper)",
        task=Task.SEGMENTATION,
        family="U-Net",
        paper=PAPER,
        builder=unet,
        notes="Unpadded convs as in the paper: the output is the centre of the input (tile with overlap). "
        "3 input channels here (the paper's microscopy images are grayscale). Architecture only.",
    ),
    [
        Weights(
            id=NO_WEIGHTS_ID,
            kind=WeightsKind.NONE,
            categories=_CATEGORIES,
            input_size=(572, 572),  # the input tile of the paper's Fig. 1
        )
    ],
)
register_architecture(
    Architecture(
        name="unet_padded",
        display_name="U-Net (padded convs)",
        task=Task.SEGMENTATION,
        family="U-Net",
        paper=PAPER,
        builder=unet_padded,
        notes="The common variant: padded 3x3 convs, so the output has the input's size (any multiple of 16). Architecture only.",
    ),
    [
        Weights(
            id=NO_WEIGHTS_ID,
            kind=WeightsKind.NONE,
            categories=_CATEGORIES,
            input_size=(512, 512),
        )
    ],
)
