"""Which layer Grad-CAM looks at: the last convolutional stage, chosen per model family.

Grad-CAM needs a spatial feature map late enough to be class-specific and early enough
to keep some resolution: the output of the last conv stage, before global pooling.
Transformers without a (B, C, H, W) feature map are refused with a clear message.
"""

from __future__ import annotations

import torch
from torch import nn

from cvcore.attribution.isolation import shadow_copy
from cvcore.errors import InvalidInputError

MAX_LISTED_LAYERS = 8  # spatial layers named in a message: the last ones, where Grad-CAM is meaningful

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


def layer_output_shapes(model: nn.Module, batch: torch.Tensor) -> dict[str, tuple[int, ...]]:
    """Output shape of every named submodule for one forward pass of ``batch``, in call order.

    Runs on a per-call :func:`~cvcore.attribution.isolation.shadow_copy`: the hooks that record
    the shapes never touch the (shared) model and are removed before returning.
    """
    shadow = shadow_copy(model)
    shapes: dict[str, tuple[int, ...]] = {}

    def record(name: str):
        def hook(module, inputs, output):
            if isinstance(output, torch.Tensor):
                shapes.setdefault(name, tuple(output.shape))

        return hook

    handles = [module.register_forward_hook(record(name)) for name, module in shadow.named_modules() if name]
    try:
        with torch.no_grad():
            shadow(batch)
    finally:
        for handle in handles:
            handle.remove()
    return shapes


def check_spatial_layer(model: nn.Module, layer: str, batch: torch.Tensor) -> None:
    """Refuse a Grad-CAM layer whose output is not a (B, C, H, W) map, naming layers whose output is one."""
    shapes = layer_output_shapes(model, batch)
    shape = shapes.get(layer)
    if shape is not None and len(shape) == 4:
        return
    spatial = [name for name, s in shapes.items() if len(s) == 4 and s[-1] * s[-2] > 1 and name.count(".") <= 1]
    listed = ", ".join(spatial[-MAX_LISTED_LAYERS:]) or "none"
    what = "no tensor" if shape is None else f"a {'x'.join(str(n) for n in shape)} output"
    raise InvalidInputError(
        f"Layer {layer!r} gives {what}, not a spatial map: Grad-CAM needs a layer whose output is "
        f"(batch, channels, height, width). Layers of this model that give one include: {listed}."
    )
