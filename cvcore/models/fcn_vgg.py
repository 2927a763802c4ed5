"""FCN-32s, FCN-16s and FCN-8s on VGG-16 (Long et al. 2015), as in the authors' Caffe nets.

torchvision's FCN uses a ResNet backbone; these are the paper's originals. VGG-16's
classifier is "convolutionalised": fc6 becomes a 7x7 conv with 4096 maps and fc7 a 1x1
conv, a 1x1 conv scores the classes at stride 32, and up-convolutions (transposed convs
set to bilinear interpolation) bring the scores back to pixels. FCN-16s adds scores from
pool4 (stride 16), FCN-8s also from pool3 (stride 8) (Fig. 3). The reference nets train
none of the up-convolutions: in ``voc-fcn16s/net.py`` and ``voc-fcn8s/net.py``
(github.com/shelhamer/fcn.berkeleyvision.org) every ``Deconvolution`` (``upscore2``,
``upscore_pool4``, ``upscore16``/``upscore8``) has ``param=[dict(lr_mult=0)]``. So every
up-convolution here stays fixed bilinear (not trainable), and the trainable parameter count
is the reference nets'.

As in the reference Caffe definitions (``voc-fcn{32,16,8}s/net.py``), conv1_1 pads by 100
so that any input size survives the 7x7 fc6, pools round up (Caffe's ceil mode), and
fixed crop offsets align every map with the input; the output has the input's size.
No trained weights.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models._meta import _VOC_CATEGORIES

from cvcore.registry import NO_WEIGHTS_ID, Architecture, Paper, Task, Weights, WeightsKind, register_architecture

# --- blocks -------------------------------------------------------------------------

# Simonyan & Zisserman 2014, Table 1, configuration D (VGG-16): channels of the 3x3 convs per block.
VGG16_BLOCKS = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))
FC_CHANNELS = 4096
FIRST_CONV_PADDING = 100  # voc-fcn*/net.py: conv1_1 pad=100


def vgg_block(in_ch: int, widths: tuple[int, ...], first_padding: int = 1) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, out_ch in enumerate(widths):
        layers += [nn.Conv2d(in_ch, out_ch, 3, padding=first_padding if i == 0 else 1), nn.ReLU(inplace=True)]
        in_ch = out_ch
    layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
    return nn.Sequential(*layers)


def bilinear_kernel(channels: int, kernel: int) -> torch.Tensor:
    """The weights of a transposed conv that performs bilinear upsampling, channel by channel."""
    factor = (kernel + 1) // 2
    center = factor - 1 if kernel % 2 == 1 else factor - 0.5
    og = torch.arange(kernel, dtype=torch.float32)
    filt = 1 - (og - center).abs() / factor
    weight = torch.zeros(channels, channels, kernel, kernel)
    weight[range(channels), range(channels)] = filt[:, None] * filt[None, :]
    return weight


def upsampler(channels: int, factor: int) -> nn.ConvTranspose2d:
    """A 2*factor x 2*factor up-convolution, stride factor, fixed to bilinear interpolation.

    Frozen as in the reference nets (``lr_mult=0`` on every Deconvolution): its weight is
    not trainable.
    """
    up = nn.ConvTranspose2d(channels, channels, 2 * factor, stride=factor, bias=False)
    with torch.no_grad():
        up.weight.copy_(bilinear_kernel(channels, 2 * factor))
    up.weight.requires_grad_(False)
    return up


def crop(x: torch.Tensor, offset: int, like: torch.Tensor) -> torch.Tensor:
    """Caffe's Crop layer: ``x[offset:offset + H, offset:offset + W]`` with like's H, W."""
    h, w = like.shape[-2:]
    return x[..., offset : offset + h, offset : offset + w]


# --- the module ---------------------------------------------------------------------

# Stride of the coarsest prediction -> the pooling layers fused and the Caffe crop offsets
# (score_pool4c, score_pool3c, final crop) from the authors' voc-fcn{32,16,8}s/net.py.
VARIANTS = {
    32: {"skips": (), "offsets": {"final": 19}},
    16: {"skips": ("pool4",), "offsets": {"pool4": 5, "final": 27}},
    8: {"skips": ("pool4", "pool3"), "offsets": {"pool4": 5, "pool3": 9, "final": 31}},
}


class FCNVGG16(nn.Module):
    def __init__(self, stride: int = 8, num_classes: int = 21):
        super().__init__()
        if stride not in VARIANTS:
            raise ValueError(f"FCN output stride must be one of {sorted(VARIANTS)}, got {stride}")
        self.stride = stride
        self.variant = VARIANTS[stride]
        in_ch = 3
        for i, widths in enumerate(VGG16_BLOCKS, start=1):
            self.add_module(f"block{i}", vgg_block(in_ch, widths, FIRST_CONV_PADDING if i == 1 else 1))
            in_ch = widths[-1]
        # Convolutionalised classifier: fc6 as a 7x7 conv over pool5, fc7 as a 1x1 conv.
        # Caffe's Dropout drops single activations, not whole maps: nn.Dropout, not Dropout2d.
        self.fc6 = nn.Sequential(nn.Conv2d(in_ch, FC_CHANNELS, 7), nn.ReLU(inplace=True), nn.Dropout(0.5))
        self.fc7 = nn.Sequential(nn.Conv2d(FC_CHANNELS, FC_CHANNELS, 1), nn.ReLU(inplace=True), nn.Dropout(0.5))
        self.score_fr = nn.Conv2d(FC_CHANNELS, num_classes, 1)
        skips = self.variant["skips"]
        if "pool4" in skips:
            self.score_pool4 = nn.Conv2d(VGG16_BLOCKS[3][-1], num_classes, 1)
            self.upscore2 = upsampler(num_classes, 2)
        if "pool3" in skips:
            self.score_pool3 = nn.Conv2d(VGG16_BLOCKS[2][-1], num_classes, 1)
            self.upscore_pool4 = upsampler(num_classes, 2)
        self.upscore = upsampler(num_classes, stride)  # the final, stride-sized up-convolution

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pool3 = self.block3(self.block2(self.block1(x)))
        pool4 = self.block4(pool3)
        score = self.score_fr(self.fc7(self.fc6(self.block5(pool4))))  # stride 32
        offsets = self.variant["offsets"]
        if "pool4" in offsets:
            score = self.upscore2(score)
            score = score + crop(self.score_pool4(pool4), offsets["pool4"], score)  # stride 16
        if "pool3" in offsets:
            score = self.upscore_pool4(score)
            score = score + crop(self.score_pool3(pool3), offsets["pool3"], score)  # stride 8
        return crop(self.upscore(score), offsets["final"], x)


# --- builders -----------------------------------------------------------------------


def fcn32s_vgg16(*, num_classes: int = 21) -> FCNVGG16:
    return FCNVGG16(32, num_classes)


def fcn16s_vgg16(*, num_classes: int = 21) -> FCNVGG16:
    return FCNVGG16(16, num_classes)


def fcn8s_vgg16(*, num_classes: int = 21) -> FCNVGG16:
    return FCNVGG16(8, num_classes)


# --- catalogue entries --------------------------------------------------------------

PAPER = Paper("Fully Convolutional Networks for Semantic Segmentation", 2014, "1411.4038")
_BUILDERS = {32: fcn32s_vgg16, 16: fcn16s_vgg16, 8: fcn8s_vgg16}
_SKIP_TEXT = {
    32: "single stream, upsampled 32x in one step",
    16: "+ pool4 scores at stride 16",
    8: "+ pool4 and pool3 scores at stride 8",
}

for _stride, _builder in _BUILDERS.items():
    register_architecture(
        Architecture(
            name=f"fcn{_stride}s_vgg16",
            display_name=f"FCN-{_stride}s (VGG-16)",
            task=Task.SEGMENTATION,
            family="FCN",
            paper=PAPER,
            builder=_builder,
            notes=f"The paper's VGG-16 FCN ({_SKIP_TEXT[_stride]}); Caffe layout (pad 100, ceil pooling, crops). Architecture only.",
        ),
        [
            Weights(
                id=NO_WEIGHTS_ID,
                kind=WeightsKind.NONE,
                categories=tuple(_VOC_CATEGORIES),
                input_size=(500, 500),  # PASCAL VOC images are at most 500x500
            )
        ],
    )
