"""Every torchvision classifier with ImageNet weights and the six segmentation models.

All numbers come from torchvision's own weight metadata (``weights.meta``): accuracy,
parameter count, GFLOPs (``_ops``, which torchvision counts as multiply-adds) and file
size. Only the paper each family comes from is written here.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import torchvision
from torch import nn
from torchvision.models import get_model, get_model_weights, list_models

from cvcore.registry import Architecture, Paper, Preprocessing, Published, Task, Weights, WeightsKind, register_architecture
from cvcore.versions import torchvision_metadata_source

TV_SOURCE = torchvision_metadata_source()

# family: (display name, paper). Order matters: the first prefix that matches wins.
_FAMILIES: list[tuple[str, str, Paper]] = [
    (
        "alexnet",
        "AlexNet",
        Paper(
            "ImageNet Classification with Deep Convolutional Neural Networks",
            2012,
            None,
            "https://papers.nips.cc/paper/4824-imagenet-classification-with-deep-convolutional-neural-networks",
        ),
    ),
    ("vgg", "VGG", Paper("Very Deep Convolutional Networks for Large-Scale Image Recognition", 2014, "1409.1556")),
    ("googlenet", "GoogLeNet", Paper("Going Deeper with Convolutions", 2014, "1409.4842")),
    ("inception", "Inception", Paper("Rethinking the Inception Architecture for Computer Vision", 2015, "1512.00567")),
    ("resnext", "ResNeXt", Paper("Aggregated Residual Transformations for Deep Neural Networks", 2016, "1611.05431")),
    ("wide_resnet", "Wide ResNet", Paper("Wide Residual Networks", 2016, "1605.07146")),
    ("resnet", "ResNet", Paper("Deep Residual Learning for Image Recognition", 2015, "1512.03385")),
    ("densenet", "DenseNet", Paper("Densely Connected Convolutional Networks", 2016, "1608.06993")),
    (
        "squeezenet",
        "SqueezeNet",
        Paper("SqueezeNet: AlexNet-level accuracy with 50x fewer parameters and <0.5MB model size", 2016, "1602.07360"),
    ),
    ("mobilenet_v2", "MobileNetV2", Paper("MobileNetV2: Inverted Residuals and Linear Bottlenecks", 2018, "1801.04381")),
    ("mobilenet_v3", "MobileNetV3", Paper("Searching for MobileNetV3", 2019, "1905.02244")),
    (
        "shufflenet_v2",
        "ShuffleNetV2",
        Paper("ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture Design", 2018, "1807.11164"),
    ),
    ("mnasnet", "MnasNet", Paper("MnasNet: Platform-Aware Neural Architecture Search for Mobile", 2018, "1807.11626")),
    ("efficientnet_v2", "EfficientNetV2", Paper("EfficientNetV2: Smaller Models and Faster Training", 2021, "2104.00298")),
    (
        "efficientnet",
        "EfficientNet",
        Paper("EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks", 2019, "1905.11946"),
    ),
    ("regnet", "RegNet", Paper("Designing Network Design Spaces", 2020, "2003.13678")),
    ("vit", "ViT", Paper("An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale", 2020, "2010.11929")),
    ("swin_v2", "Swin V2", Paper("Swin Transformer V2: Scaling Up Capacity and Resolution", 2021, "2111.09883")),
    ("swin", "Swin", Paper("Swin Transformer: Hierarchical Vision Transformer using Shifted Windows", 2021, "2103.14030")),
    ("convnext", "ConvNeXt", Paper("A ConvNet for the 2020s", 2022, "2201.03545")),
    ("maxvit", "MaxViT", Paper("MaxViT: Multi-Axis Vision Transformer", 2022, "2204.01697")),
    ("fcn", "FCN", Paper("Fully Convolutional Networks for Semantic Segmentation", 2014, "1411.4038")),
    ("deeplabv3", "DeepLabV3", Paper("Rethinking Atrous Convolution for Semantic Image Segmentation", 2017, "1706.05587")),
    ("lraspp", "LR-ASPP", Paper("Searching for MobileNetV3", 2019, "1905.02244")),
]

# Hand-written display names only where the generic rule reads badly.
_DISPLAY = {
    "alexnet": "AlexNet",
    "googlenet": "GoogLeNet",
    "inception_v3": "Inception-v3",
    "mobilenet_v2": "MobileNet-v2",
    "mobilenet_v3_large": "MobileNet-v3-large",
    "mobilenet_v3_small": "MobileNet-v3-small",
    "squeezenet1_0": "SqueezeNet-1.0",
    "squeezenet1_1": "SqueezeNet-1.1",
    "wide_resnet50_2": "Wide ResNet-50-2",
    "wide_resnet101_2": "Wide ResNet-101-2",
    "fcn_resnet50": "FCN-ResNet-50",
    "fcn_resnet101": "FCN-ResNet-101",
    "deeplabv3_resnet50": "DeepLabV3-ResNet-50",
    "deeplabv3_resnet101": "DeepLabV3-ResNet-101",
    "deeplabv3_mobilenet_v3_large": "DeepLabV3-MobileNet-v3-large",
    "lraspp_mobilenet_v3_large": "LR-ASPP-MobileNet-v3-large",
}


def _family(name: str) -> tuple[str, Paper]:
    for prefix, family, paper in _FAMILIES:
        if name.startswith(prefix):
            return family, paper
    raise LookupError(f"No paper recorded for torchvision model {name!r}; add its family to _FAMILIES.")


def _display_name(name: str) -> str:
    if name in _DISPLAY:
        return _DISPLAY[name]
    family, _ = _family(name)
    prefix = next(p for p, f, _ in _FAMILIES if f == family)
    rest = name[len(prefix) :].strip("_")
    rest = re.sub(r"(\d)_(\d+)(?=gf|mf|$)", r"\1.\2", rest)  # mnasnet1_3 -> 1.3, regnet_x_3_2gf -> 3.2gf
    parts = [p.upper() if len(p) <= 2 or p == "bn" or re.fullmatch(r"[\d.]+[gm]f", p) else p for p in rest.split("_") if p]
    if family == "ViT":
        return f"ViT-{parts[0]}/{parts[1]}"
    return "-".join([family, *parts]) if parts else family


def weight_kwargs(name: str, weights: Any) -> dict[str, Any]:
    """The keyword arguments torchvision's builder sets when it loads ``weights``.

    cvcore builds the architecture itself and loads the checkpoint with
    ``torch.load(weights_only=True)``, so it has to reproduce these overrides.
    """
    kwargs: dict[str, Any] = {"num_classes": len(weights.meta["categories"])}
    if name in ("googlenet", "inception_v3"):
        kwargs.update(transform_input=True, aux_logits=True, init_weights=False)
    if name.startswith("vit_"):
        kwargs["image_size"] = weights.meta["min_size"][0]
    if name.startswith(("fcn_", "deeplabv3_")):
        kwargs.update(aux_loss=True, weights_backbone=None)
    if name.startswith("lraspp_"):
        kwargs["weights_backbone"] = None
    return kwargs


def finalize_after_load(name: str, model: nn.Module) -> nn.Module:
    """What torchvision does after loading: GoogLeNet drops its auxiliary classifiers."""
    if name == "googlenet":
        model.aux_logits = False
        model.aux1 = None
        model.aux2 = None
    return model


def _builder(name: str, *, finalize: bool = True, **kwargs: Any) -> nn.Module:
    """torchvision's architecture ``name`` with random init; ``kwargs`` are a weights' :func:`weight_kwargs`."""
    model = get_model(name, weights=None, **kwargs)
    return finalize_after_load(name, model) if finalize else model


def _preprocessing(weights: Any) -> Preprocessing:
    t = weights.transforms()
    resize = t.resize_size[0] if isinstance(t.resize_size, (list, tuple)) else t.resize_size
    crop = getattr(t, "crop_size", [resize])[0]
    return Preprocessing(resize, crop, tuple(t.mean), tuple(t.std), t.interpolation.value)


def _architecture(name: str, task: Task) -> Architecture:
    family, paper = _family(name)
    return Architecture(name, _display_name(name), task, family, paper, builder=functools.partial(_builder, name))


def _weights(name: str, weights: Any) -> Weights:
    meta = weights.meta
    dataset, metrics = next(iter(meta["_metrics"].items()))
    preprocessing = _preprocessing(weights)
    size = preprocessing.crop_size
    return Weights(
        id=weights.name,
        kind=WeightsKind.TORCHVISION,
        categories=tuple(meta["categories"]),
        input_size=(size, size),
        preprocessing=preprocessing,
        metrics={k: Published(v, f"{TV_SOURCE} ({weights}, {dataset})") for k, v in metrics.items()},
        num_params=Published(meta["num_params"], f"{TV_SOURCE} ({weights})"),
        gmacs=Published(meta["_ops"], f"{TV_SOURCE} ({weights}, '_ops')"),
        dataset=dataset,
        ref=str(weights),
        url=weights.url,
        file_name=weights.url.rsplit("/", 1)[-1],
        file_size_mb=meta["_file_size"],
        recipe=meta.get("recipe"),
        build_kwargs=tuple(sorted(weight_kwargs(name, weights).items())),
        notes=" ".join(meta.get("_docs", "").split()),
    )


def _usable(weights: Any) -> bool:
    """Weights with a classifier head and published metrics (VGG-16's IMAGENET1K_FEATURES has neither)."""
    meta = weights.meta
    return bool(meta.get("categories")) and all(v == v for m in meta["_metrics"].values() for v in m.values())


def _register(name: str, task: Task) -> None:
    enum = get_model_weights(name)
    default = enum.DEFAULT
    register_architecture(
        _architecture(name, task), [_weights(name, w) for w in enum if w is default or _usable(w)], default=default.name
    )


def torchvision_classifiers() -> list[str]:
    return [n for n in list_models(module=torchvision.models) if "IMAGENET1K" in str(get_model_weights(n).DEFAULT)]


def torchvision_segmenters() -> list[str]:
    return list_models(module=torchvision.models.segmentation)


for _name in torchvision_classifiers():
    _register(_name, Task.CLASSIFICATION)
for _name in torchvision_segmenters():
    _register(_name, Task.SEGMENTATION)
