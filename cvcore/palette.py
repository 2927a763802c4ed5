"""One colour per model family and per attribution method, the same on every chart and page.

A chart that colours traces in the order they happen to be drawn gives MobileNetV2 red on
one chart and light blue on the next. Here each family owns its colour whatever subset is
plotted: the families of Canziani et al.'s comparison (the Compare page's default set)
get Tableau 10, well apart from each other; the rest get colours of their own; a family
not listed (a new catalogue entry) gets one chosen from its name, so it is stable too.
"""

from __future__ import annotations

import hashlib

FAMILY_COLORS: dict[str, str] = {
    # Canziani et al. 2016's models and the mobile nets after them: Tableau 10
    "ResNet": "#4C78A8",
    "VGG": "#F58518",
    "AlexNet": "#E45756",
    "GoogLeNet": "#72B7B2",
    "Inception": "#54A24B",
    "MobileNetV2": "#EECA3B",
    "MobileNetV3": "#B279A2",
    "SqueezeNet": "#FF9DA6",
    "EfficientNet": "#9D755D",
    "EfficientNet-Lite": "#17BECF",
    # the rest of the catalogue
    "ConvNeXt": "#1CA71C",
    "DenseNet": "#DA16FF",
    "EfficientNetV2": "#750D86",
    "MaxViT": "#6C7C32",
    "MnasNet": "#778AAE",
    "MobileNetV1": "#862A16",
    "Plain (ResNet paper)": "#A777F1",
    "RegNet": "#620042",
    "ResNeXt": "#1616A7",
    "ShuffleNetV2": "#DA60CA",
    "Swin": "#6C4516",
    "Swin V2": "#0D2A63",
    "ViT": "#2E91E5",
    "Wide ResNet": "#E15F99",
    "LeNet": "#FB00D1",
    # segmentation
    "FCN": "#EB663B",
    "DeepLabV3": "#511CFB",
    "LR-ASPP": "#00A08B",
    "ENet": "#B68100",
    "U-Net": "#AF0038",
}

METHOD_COLORS: dict[str, str] = {
    "saliency": "#4C78A8",
    "integrated_gradients": "#F58518",
    "smoothgrad": "#54A24B",
    "gradient_shap": "#B279A2",
    "guided_backprop": "#9D755D",
    "grad_cam": "#E45756",
    "guided_grad_cam": "#72B7B2",
    "occlusion": "#EECA3B",
}

RANDOM_BASELINE_COLOR = "#888888"  # random maps, the Pareto front: reference lines, not data

# Colours for names outside the tables above: none of them is in the tables.
_SPARE = ("#FE00CE", "#0DF9FF", "#F6F926", "#FF9616", "#479B55", "#EEA6FB", "#DC587D", "#D626FF", "#6E899C", "#00B5F7")


def _spare(name: str) -> str:
    return _SPARE[int(hashlib.sha1(name.encode()).hexdigest(), 16) % len(_SPARE)]


def family_color(family: str) -> str:
    """The family's colour (hex); stable for families not listed too."""
    return FAMILY_COLORS.get(family) or _spare(family)


def method_color(method: str) -> str:
    """The attribution method's colour (hex), by its registry name."""
    return METHOD_COLORS.get(method) or _spare(method)
