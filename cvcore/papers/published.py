"""The papers' numbers, typed in once, each with the table it comes from.

Pure data (no torch, no cvcore imports) so that both the model families (their catalogue
entries) and :mod:`cvcore.papers` read the same values. The course's copies of these tables
are in ``shared/seeds/`` (Russian homework reports; some renumber the tables, noted below).
"""

from __future__ import annotations

from dataclasses import dataclass

# --- He et al. 2015, "Deep Residual Learning for Image Recognition" (ResNet) ------------------

# seed 004 numbers its tables itself: paper Table 1 is its "Таблица 2", paper Table 2 its "Таблица 3".
RESNET_SEEDS = "seed 004 Part I, seed 001"
RESNET_DEPTHS = (18, 34, 50, 101, 152)
# Table 1, last row: "FLOPs" 1.8 / 3.6 / 3.8 / 7.6 / 11.3 x 10^9; Sec. 3.3 calls them "FLOPs (multiply-adds)".
RESNET_TABLE1_GFLOPS = {18: 1.8, 34: 3.6, 50: 3.8, 101: 7.6, 152: 11.3}
# Table 1, "output size" column: the stage -> H x W for a 224 x 224 input (the same at every depth).
RESNET_TABLE1_OUTPUT_SIZES = {"conv1": 112, "conv2_x": 56, "conv3_x": 28, "conv4_x": 14, "conv5_x": 7, "average pool": 1}
# Fig. 3 caption and Sec. 4.1 text: other models' complexity, billions of FLOPs (multiply-adds).
RESNET_TEXT_GFLOPS = {"plain-34": (3.6, "Fig. 3 caption"), "VGG-16": (15.3, "Sec. 4.1 text"), "VGG-19": (19.6, "Fig. 3 caption")}


@dataclass(frozen=True)
class ErrorRate:
    """A published ImageNet validation error in percent."""

    model: str  # the paper's label
    depth: int
    plain: bool
    top1: float
    top5: float | None
    table: str
    testing: str


# Table 2: top-1 error, 10-crop testing (seed 004 prints it as "Таблица 3").
# Table 3: error rates, 10-crop testing (ResNet-50/101/152 are option B).
# Table 4: single-model results (multi-scale, fully-convolutional testing).
RESNET_ERRORS = (
    ErrorRate("plain-18", 18, True, 27.94, None, "Table 2", "10-crop"),
    ErrorRate("plain-34", 34, True, 28.54, None, "Table 2", "10-crop"),
    ErrorRate("ResNet-18", 18, False, 27.88, None, "Table 2", "10-crop"),
    ErrorRate("ResNet-34", 34, False, 25.03, None, "Table 2", "10-crop"),
    ErrorRate("plain-34", 34, True, 28.54, 10.02, "Table 3", "10-crop"),
    ErrorRate("ResNet-34 B", 34, False, 24.52, 7.46, "Table 3", "10-crop"),
    ErrorRate("ResNet-50", 50, False, 22.85, 6.71, "Table 3", "10-crop"),
    ErrorRate("ResNet-101", 101, False, 21.75, 6.05, "Table 3", "10-crop"),
    ErrorRate("ResNet-152", 152, False, 21.43, 5.71, "Table 3", "10-crop"),
    ErrorRate("ResNet-34 B", 34, False, 21.84, 5.71, "Table 4", "single model, multi-scale"),
    ErrorRate("ResNet-50", 50, False, 20.74, 5.25, "Table 4", "single model, multi-scale"),
    ErrorRate("ResNet-101", 101, False, 19.87, 4.60, "Table 4", "single model, multi-scale"),
    ErrorRate("ResNet-152", 152, False, 19.38, 4.49, "Table 4", "single model, multi-scale"),
)


def resnet_error(model: str, table: str) -> ErrorRate:
    return next(e for e in RESNET_ERRORS if e.model == model and e.table == table)


# --- Howard et al. 2017, "MobileNets" ---------------------------------------------------------

MOBILENET_SEEDS = "seed 004 Part II (Tables 1, 4-10)"


@dataclass(frozen=True)
class MobileNetRow:
    """One row of Tables 4-9: ImageNet accuracy (%), million mult-adds, million parameters."""

    table: str
    model: str  # the paper's label
    accuracy: float
    mmacs: float
    mparams: float
    # How to build it with cvcore (None for other papers' models in Tables 8-9).
    width_mult: float | None = None
    resolution: int | None = None
    variant: str = "separable"  # "separable" | "full_conv" | "shallow"
    torchvision: str | None = None  # catalogue name for Tables 8-9's other models


MOBILENET_TABLES = (
    MobileNetRow("Table 4", "Conv MobileNet", 71.7, 4866, 29.3, 1.0, 224, "full_conv"),
    MobileNetRow("Table 4", "MobileNet", 70.6, 569, 4.2, 1.0, 224),
    MobileNetRow("Table 5", "0.75 MobileNet", 68.4, 325, 2.6, 0.75, 224),
    MobileNetRow("Table 5", "Shallow MobileNet", 65.3, 307, 2.9, 1.0, 224, "shallow"),
    MobileNetRow("Table 6", "1.0 MobileNet-224", 70.6, 569, 4.2, 1.0, 224),
    MobileNetRow("Table 6", "0.75 MobileNet-224", 68.4, 325, 2.6, 0.75, 224),
    MobileNetRow("Table 6", "0.5 MobileNet-224", 63.7, 149, 1.3, 0.5, 224),
    MobileNetRow("Table 6", "0.25 MobileNet-224", 50.6, 41, 0.5, 0.25, 224),
    MobileNetRow("Table 7", "1.0 MobileNet-224", 70.6, 569, 4.2, 1.0, 224),
    MobileNetRow("Table 7", "1.0 MobileNet-192", 69.1, 418, 4.2, 1.0, 192),
    MobileNetRow("Table 7", "1.0 MobileNet-160", 67.2, 290, 4.2, 1.0, 160),
    MobileNetRow("Table 7", "1.0 MobileNet-128", 64.4, 186, 4.2, 1.0, 128),
    MobileNetRow("Table 8", "1.0 MobileNet-224", 70.6, 569, 4.2, 1.0, 224),
    MobileNetRow("Table 8", "GoogleNet", 69.8, 1550, 6.8, torchvision="googlenet"),
    MobileNetRow("Table 8", "VGG 16", 71.5, 15300, 138, torchvision="vgg16"),
    MobileNetRow("Table 9", "0.50 MobileNet-160", 60.2, 76, 1.32, 0.5, 160),
    MobileNetRow("Table 9", "Squeezenet", 57.5, 1700, 1.25, torchvision="squeezenet1_0"),
    MobileNetRow("Table 9", "AlexNet", 57.2, 720, 60, torchvision="alexnet"),
)


def mobilenet_row(table: str, model: str) -> MobileNetRow:
    return next(r for r in MOBILENET_TABLES if r.table == table and r.model == model)


# Table 10 (Stanford Dogs, seed 004): the same MobileNets' million mult-adds, by (alpha, resolution).
# Only the mult-adds are used (the grid cross-check below): its accuracies and parameters are for 120 dog classes.
MOBILENET_TABLE10_MMACS = {(1.0, 224): 569, (0.75, 224): 325, (1.0, 192): 418, (0.75, 192): 239}

# The 16 models of the paper's Fig. 4 and 5 (alpha in {1, 0.75, 0.5, 0.25} x resolution in {224, 192, 160, 128}):
# the paper draws them but tabulates only some. The authors' TF-slim release tabulates all 16 ("Million MACs",
# "Million Parameters"), with the checkpoints trained in 2018: tensorflow/models, research/slim/nets/mobilenet_v1.md
# (read at commit 02c04f49a188ba9a515100a3375a6359f3fffef1). Not in the course material.
MOBILENET_TFSLIM_TABLE = "TF-slim table"  # short: a printed table column holds it; the source names the file
MOBILENET_TFSLIM_SOURCE = (
    "the authors' TF-slim model table, tensorflow/models research/slim/nets/mobilenet_v1.md (github.com/tensorflow/models)"
)
MOBILENET_TFSLIM_GRID = {  # (alpha, resolution) -> (million MACs, million parameters)
    (1.0, 224): (569, 4.24), (1.0, 192): (418, 4.24), (1.0, 160): (291, 4.24), (1.0, 128): (186, 4.24),
    (0.75, 224): (317, 2.59), (0.75, 192): (233, 2.59), (0.75, 160): (162, 2.59), (0.75, 128): (104, 2.59),
    (0.5, 224): (150, 1.34), (0.5, 192): (110, 1.34), (0.5, 160): (77, 1.34), (0.5, 128): (49, 1.34),
    (0.25, 224): (41, 0.47), (0.25, 192): (34, 0.47), (0.25, 160): (21, 0.47), (0.25, 128): (14, 0.47),
}  # fmt: skip


# --- Paszke et al. 2016, "ENet" ---------------------------------------------------------------

ENET_SEEDS = "seed 000 Part II (Table 1)"
# Table 1: (name, type, output size C x H x W) for a 512 x 512 input; "C" is the number of classes.
# Stage 3 is printed as "Repeat section 2, without bottleneck2.0"; its rows are spelled out here.
_SECTION2 = (
    ("1", "", "128x64x64"),
    ("2", "dilated 2", "128x64x64"),
    ("3", "asymmetric 5", "128x64x64"),
    ("4", "dilated 4", "128x64x64"),
    ("5", "", "128x64x64"),
    ("6", "dilated 8", "128x64x64"),
    ("7", "asymmetric 5", "128x64x64"),
    ("8", "dilated 16", "128x64x64"),
)
ENET_TABLE1 = (
    ("initial", "", "16x256x256"),
    ("bottleneck1.0", "downsampling", "64x128x128"),
    *((f"bottleneck1.{i}", "", "64x128x128") for i in range(1, 5)),  # "4 x bottleneck1.x"
    ("bottleneck2.0", "downsampling", "128x64x64"),
    *((f"bottleneck2.{i}", kind, size) for i, kind, size in _SECTION2),
    *((f"bottleneck3.{i}", kind, size) for i, kind, size in _SECTION2),
    ("bottleneck4.0", "upsampling", "64x128x128"),
    ("bottleneck4.1", "", "64x128x128"),
    ("bottleneck4.2", "", "64x128x128"),
    ("bottleneck5.0", "upsampling", "16x256x256"),
    ("bottleneck5.1", "", "16x256x256"),
    ("fullconv", "", "Cx512x512"),
)

# --- Yu & Koltun 2016, "Multi-Scale Context Aggregation by Dilated Convolutions" -----------------

CONTEXT_SEEDS = "seed 003 ('Dilated convolutions' slide)"
# Table 1, context network: per layer (kernel, dilation, receptive field side).
CONTEXT_TABLE1 = ((3, 1, 3), (3, 1, 5), (3, 2, 9), (3, 4, 17), (3, 8, 33), (3, 16, 65), (3, 1, 67), (1, 1, 67))

# --- Course lectures: parameter counts ---------------------------------------------------------

LECTURE_SEEDS = "seed 002 ('Архитектуры сверточных сетей' slides: 'Число параметров')"
# model label -> (catalogue name, approximate millions of parameters as the slide says "~N M").
LECTURE_PARAMS = {
    "AlexNet": ("alexnet", 60),
    "VGG": ("vgg16", 130),
    "GoogLeNet (Inception)": ("googlenet", 7),
    "ResNet-50": ("resnet50", 25),
}
