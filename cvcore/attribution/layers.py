"""Which layer Grad-CAM looks at: the last convolutional stage, chosen per model family.

Grad-CAM needs a spatial feature map late enough to be class-specific and early enough
to keep some resolution: the output of the last conv stage, before global pooling.
Transformers without a (B, C, H, W) feature map are refused with a clear message.
"""

from __future__ import annotations

from torch import nn

from cvcore.errors import InvalidInputError

# family (cvcore.registry's ModelSpec.family) -> dotted module path; None = pick by rule below.
_FAMILY_LAYERS: dict[str, str | None] = {
    "EfficientNet-Lite": "head",  # 1x1 conv + BN + ReLU6 to 1280 channels, the last map before pooling
    "ResNet": "layer4",
    "ResNeXt": "layer4",
    "Wide ResNet": "layer4",
    "RegNet": "trunk_output",
    "DenseNet": "features",  # ends with norm5; the final ReLU is functional
    "MobileNetV2": None,  # features[-1]
    "MobileNetV3": None,
    "EfficientNet": None,
    "EfficientNetV2": None,
    "ConvNeXt": None,
    "VGG": None,  # the last ReLU inside features (before the final max-pool)
    "AlexNet": None,
    "MnasNet": "layers",
    "ShuffleNetV2": "conv5",
    "SqueezeNet": "features",
    "GoogLeNet": "inception5b",
    "Inception": "Mixed_7c",
    "MaxViT": None,  # blocks is a ModuleList (its hooks never fire): the last block, below
}
_NO_CONV_MAP = ("ViT", "Swin", "Swin V2")


def _last_child_name(module: nn.Module) -> str:
    return list(module.named_children())[-1][0]


def default_layer(model: nn.Module, family: str | None = None) -> str:
    """Dotted path (for ``model.get_submodule``) of the layer Grad-CAM uses by default.

    Adapters (:class:`~cvcore.attribution.segmentation.SegmentationClassScore`) name the
    attribute holding the real model in ``wrapped_attr``; the path goes through it.
    """
    wrapped = getattr(model, "wrapped_attr", None)
    if wrapped:
        return f"{wrapped}.{default_layer(getattr(model, wrapped), family)}"
    if family in _NO_CONV_MAP:
        raise InvalidInputError(
            f"{family} models have no convolutional feature map; Grad-CAM needs one. Pass a layer explicitly or pick another method."
        )
    if family is not None and _FAMILY_LAYERS.get(family):
        return _FAMILY_LAYERS[family]
    if family in ("VGG", "AlexNet"):
        relus = [i for i, m in enumerate(model.features) if isinstance(m, nn.ReLU)]
        return f"features.{relus[-1]}"
    if family == "MaxViT":
        return f"blocks.{len(model.blocks) - 1}"
    if hasattr(model, "features") and isinstance(model.features, nn.Sequential):
        return f"features.{_last_child_name(model.features)}"
    if hasattr(model, "backbone"):  # torchvision segmentation: the backbone's last stage
        return f"backbone.{_last_child_name(model.backbone)}"
    if hasattr(model, "head") and isinstance(model.head, nn.Module):
        return "head"
    convs = [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise InvalidInputError("This model has no Conv2d layer; Grad-CAM needs a convolutional feature map.")
    return convs[-1]


def resolve_layer(model: nn.Module, layer: str) -> nn.Module:
    try:
        return model.get_submodule(layer)
    except AttributeError:
        top = [name for name, _ in model.named_children()]
        raise InvalidInputError(f"Layer {layer!r} is not in this model; its top-level modules are {top}.") from None
