"""An architecture in its paper's words: Table 1's stage names, depth counted as the papers count it, shortcut branches.

- **Stage names.** He et al. 2015 (ResNet), Table 1, "layer name" column: conv1 (the 7x7
  conv), conv2_x (the 3x3 max pool and the first stack of blocks), conv3_x, conv4_x,
  conv5_x, then an unnamed row: average pool, 1000-d fc (course copy: seed 001, "Развертывание
  конструкции"; seed 004 Part I prints the same table as its "Таблица 2"). torchvision's
  module names (layer1 .. layer4) stay beside them. The same table defines the plain nets.
- **Depth.** The papers count weighted layers on the main path: convolutions and fully
  connected layers, not batch norm, activations or pooling, and not the 1x1 projection
  convolutions on shortcuts (He et al.'s "34-layer" net keeps its name with projection
  shortcuts, option B in Table 3). ResNet-50 is 1 + 3 x (3 + 4 + 6 + 3) + 1 = 50; seed 001
  works the 152-layer case: (3 + 8 + 36 + 3) x 3 = 150, plus the first conv and the fc.
  MobileNet counts depthwise and pointwise convolutions as separate layers: 28 (Howard et
  al. 2017, Sec. 3; seed 004 Part II). VGG-16, DenseNet-121, ResNeXt-50, WRN-50-2 and
  AlexNet (8) carry the same count in their names. For branching nets (Inception, ...)
  the same sum counts every branch, which is not the paper's longest-path depth: it is
  labelled as a plain count there (:attr:`Depth.papers_convention`).
- **Shortcuts.** A layer inside a ``downsample`` (torchvision's ResNets), ``shortcut``
  (ENet) or ``proj`` container (RegNet, MaxViT) runs beside the main path, on the
  shortcut: it is shown as a branch, not as one more layer in sequence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cvcore.analysis.rows import LayerRow

SHORTCUT_MODULES = ("downsample", "shortcut")  # containers on the shortcut path, by name
SHORTCUT_CONTAINERS = ("proj",)  # ... only as containers: Swin's attention has a leaf Linear called "proj" on the main path

RESNET_SOURCE = "He et al. 2015, Table 1 (course copy: seed 001; seed 004 Part I)"
# He et al. 2015, Table 1, "layer name": torchvision's top-level modules of a ResNet -> the paper's rows.
RESNET_TABLE1_NAMES = {
    "conv1": "conv1",
    "bn1": "conv1",
    "relu": "conv1",
    "maxpool": "conv2_x",  # Table 1 lists "3x3 max pool, stride 2" in conv2_x's row
    "layer1": "conv2_x",
    "layer2": "conv3_x",
    "layer3": "conv4_x",
    "layer4": "conv5_x",
}  # Table 1's last row ("average pool, 1000-d fc, softmax") has no layer name
PAPER_STAGE_NAMES = {"ResNet": RESNET_TABLE1_NAMES, "Plain (ResNet paper)": RESNET_TABLE1_NAMES}

# Families whose papers count depth as conv + fc layers on the main path (the name's number), and where that is said.
DEPTH_CONVENTIONS = {
    "ResNet": f"{RESNET_SOURCE}: conv and fc layers on the main path, projection shortcuts not counted",
    "Plain (ResNet paper)": f"{RESNET_SOURCE}: conv and fc layers",
    "ResNeXt": "the number in the name: conv and fc layers on the main path, as for ResNet",
    "Wide ResNet": "the number in the name: conv and fc layers on the main path, as for ResNet",
    "VGG": "the number in the name: conv and fc layers (VGG-16: 13 + 3)",
    "AlexNet": "5 conv + 3 fc layers",
    "DenseNet": "the number in the name: every conv (dense layers and transitions) and the fc",
    "MobileNetV1": "Howard et al. 2017, Sec. 3: depthwise and pointwise convolutions as separate layers, 28 (seed 004 Part II)",
}


def on_shortcut(layer_name: str) -> bool:
    """Whether a layer (a dotted module name) runs on a shortcut branch rather than the main path."""
    parts = layer_name.split(".")
    return any(p in SHORTCUT_MODULES for p in parts) or any(p in SHORTCUT_CONTAINERS for p in parts[:-1])


def is_weighted(row: LayerRow) -> bool:
    """A convolution or fully connected layer with weights: what the papers count as a layer."""
    return ("Conv" in row.type or row.type == "Linear") and row.params > 0


def paper_stage_name(family: str, stage: str) -> str | None:
    """The paper's Table 1 name of a top-level stage ("layer1" -> "conv2_x" for ResNet), None where the paper has none."""
    return PAPER_STAGE_NAMES.get(family, {}).get(stage)


@dataclass(frozen=True)
class Depth:
    main_path: int  # conv and fc layers on the main path: the papers' depth
    shortcut_projections: int  # conv and fc layers on shortcut branches (not counted)
    modules: int  # every module the analysis lists (batch norm, activations, pooling included)
    convention: str  # how the family's paper counts ("" when the papers do not count this way)

    @property
    def papers_convention(self) -> bool:
        return bool(self.convention)

    def describe(self) -> str:
        shortcuts = (
            f"; the {self.shortcut_projections} projection shortcut(s) on the side branches are not counted"
            if self.shortcut_projections
            else ""
        )
        head = f"{self.main_path} weighted layers (conv and fc on the main path{shortcuts})"
        if self.papers_convention:
            return f"{head}, as the paper counts: {self.convention}. The analysis lists {self.modules} modules."
        return f"{head}; {self.modules} modules in all. Not a depth this family's paper states."


def depth(layers: Sequence[LayerRow], family: str = "") -> Depth:
    """A model's depth as its paper counts it (see the module docstring)."""
    weighted = [r for r in layers if is_weighted(r)]
    shortcut = sum(on_shortcut(r.name) for r in weighted)
    return Depth(len(weighted) - shortcut, shortcut, len(layers), DEPTH_CONVENTIONS.get(family, ""))
