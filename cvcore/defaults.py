"""What the pages show before the user chooses: one module below the pages' logic and the weights code.

The Compare seed, the Segmentation models and the Saliency classifiers are needed both by
the modules that compute them (``cvcore.compare``, ``cvcore.segmentation``, the Saliency
page) and by ``cvcore.weights``, whose ``--set defense`` fetches exactly these. Keeping
them here, below both, is what lets ``weights`` avoid importing ``compare`` and
``segmentation`` (an import circle, and torch loaded just to name a set).
"""

from __future__ import annotations

# Canziani et al.'s models, as named in the catalogue, plus the mobile nets that came after.
COMPARE_SEED = (
    "alexnet", "vgg16", "googlenet", "inception_v3", "resnet18", "resnet50", "resnet152",
    "mobilenet_v2", "mobilenet_v3_large", "squeezenet1_1", "efficientnet_b0", "efficientnet_lite0",
)  # fmt: skip

# The offline coarse map and the three segmenter families of issue 4 (FCN, DeepLabV3, LR-ASPP).
SEGMENTATION_MODELS = ("efficientnet_lite0", "lraspp_mobilenet_v3_large", "fcn_resnet50", "deeplabv3_resnet50")

# The Saliency page's default (EfficientNet-Lite0, bundled) and the classic Grad-CAM subjects
# it lists as soon as their weights are cached (ResNet-50, VGG-16).
SALIENCY_MODELS = ("efficientnet_lite0", "resnet50", "vgg16")
