"""Saliency with Captum: which pixels does a classifier look at, and can the map be trusted?

* :mod:`.methods`: the registry of attribution methods (name, Captum class, defaults, cost).
* :mod:`.core`: :func:`explain`, one map for one image, target and method, computed on a
  per-call copy of the model (:mod:`.isolation`) so shared models never carry hooks.
* :mod:`.layers`: the Grad-CAM layer per model family.
* :mod:`.overlays`: maps as RGBA arrays, no pyplot.
* :mod:`.faithfulness`: deletion/insertion curves and their random-map baseline.
* :mod:`.segmentation`: the same methods for segmentation models (Captum's recipe).
* :mod:`.featvis`: first-layer filters and class maximisation.
* :mod:`.report`: :func:`explain_photo`, everything the page and the CLI show, in one call.
"""

from cvcore.attribution.core import Attribution, explain
from cvcore.attribution.faithfulness import (
    DEFAULT_RANDOM_MAPS,
    MAX_RANDOM_MAPS,
    MIN_RANDOM_MAPS_FOR_VERDICT,
    Curve,
    Faithfulness,
    Verdict,
    compare_with_random,
    faithfulness,
    random_baseline,
    score_maps,
)
from cvcore.attribution.featvis import ClassMaximization, FilterGrid, first_layer_filters, maximize_class
from cvcore.attribution.isolation import modules_with_hooks, shadow_copy
from cvcore.attribution.layers import default_layer
from cvcore.attribution.methods import Cost, Method, Sign, get_method, list_methods, method_names
from cvcore.attribution.overlays import COLORMAPS, colorize, overlay, with_colorbar
from cvcore.attribution.report import (
    MethodResult,
    PhotoExplanation,
    deletion_figure,
    explain_photo,
    faithfulness_figure,
    score_results,
)
from cvcore.attribution.segmentation import SegmentationClassScore, explain_segmentation

__all__ = [
    "COLORMAPS",
    "DEFAULT_RANDOM_MAPS",
    "MAX_RANDOM_MAPS",
    "MIN_RANDOM_MAPS_FOR_VERDICT",
    "Verdict",
    "compare_with_random",
    "faithfulness_figure",
    "with_colorbar",
    "Attribution",
    "ClassMaximization",
    "Cost",
    "Curve",
    "Faithfulness",
    "FilterGrid",
    "Method",
    "MethodResult",
    "PhotoExplanation",
    "SegmentationClassScore",
    "Sign",
    "colorize",
    "default_layer",
    "explain",
    "deletion_figure",
    "explain_photo",
    "explain_segmentation",
    "faithfulness",
    "first_layer_filters",
    "get_method",
    "list_methods",
    "maximize_class",
    "method_names",
    "modules_with_hooks",
    "overlay",
    "random_baseline",
    "score_maps",
    "score_results",
    "shadow_copy",
]
