"""Evaluation with error bars: a model on a folder of labelled images, every headline metric with a 95 % interval.

* :mod:`.datasets`: the folder layouts (ImageFolder, images + labels file, VOC, images/ +
  masks/), class matching by name or WordNet id, the data fingerprint.
* :mod:`.classification`, :mod:`.segmentation`: run a model (``nn.Module`` plus its
  resolved ``ModelSpec``) and score it; :mod:`.run` picks one for a folder.
* :mod:`.bootstrap`: percentile bootstrap over images (scipy.stats.bootstrap's draws),
  McNemar's exact test.
* :mod:`.results`: the result dataclasses, their protocol and JSON; :mod:`.store`: stored
  results under the cvlens home; :mod:`.compare`: a paired test of two models on the same images.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# Exported lazily (PEP 562): listing stored results must not import torch.
_EXPORTS = {
    "BootstrapSettings": "bootstrap",
    "Estimate": "bootstrap",
    "McNemar": "bootstrap",
    "mcnemar_exact": "bootstrap",
    "ClassificationDataset": "datasets",
    "DatasetFingerprint": "datasets",
    "SegmentationDataset": "datasets",
    "detect_layout": "datasets",
    "read_class_file": "datasets",
    "read_labels_file": "datasets",
    "read_wnid_mapping": "datasets",
    "ClassificationEvaluation": "results",
    "ClassScore": "results",
    "ModelRecord": "results",
    "Protocol": "results",
    "SegmentationEvaluation": "results",
    "evaluation_from_dict": "results",
    "StoredEvaluation": "store",
    "evaluated_models": "store",
    "list_evaluations": "store",
    "load_evaluation": "store",
    "save_evaluation": "store",
    "Difference": "compare",
    "PairedComparison": "compare",
    "compare_evaluations": "compare",
    "evaluate_classification": "classification",
    "evaluate_segmentation": "segmentation",
    "evaluate": "run",
    "open_dataset": "run",
}

if TYPE_CHECKING:
    from cvcore.evaluation.bootstrap import BootstrapSettings, Estimate, McNemar, mcnemar_exact
    from cvcore.evaluation.classification import evaluate_classification
    from cvcore.evaluation.compare import Difference, PairedComparison, compare_evaluations
    from cvcore.evaluation.datasets import (
        ClassificationDataset,
        DatasetFingerprint,
        SegmentationDataset,
        detect_layout,
        read_class_file,
        read_labels_file,
        read_wnid_mapping,
    )
    from cvcore.evaluation.results import (
        ClassificationEvaluation,
        ClassScore,
        ModelRecord,
        Protocol,
        SegmentationEvaluation,
        evaluation_from_dict,
    )
    from cvcore.evaluation.run import evaluate, open_dataset
    from cvcore.evaluation.segmentation import evaluate_segmentation
    from cvcore.evaluation.store import StoredEvaluation, evaluated_models, list_evaluations, load_evaluation, save_evaluation


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


__all__ = [
    "BootstrapSettings",
    "ClassScore",
    "ClassificationDataset",
    "ClassificationEvaluation",
    "DatasetFingerprint",
    "Difference",
    "Estimate",
    "McNemar",
    "ModelRecord",
    "PairedComparison",
    "Protocol",
    "SegmentationDataset",
    "SegmentationEvaluation",
    "StoredEvaluation",
    "compare_evaluations",
    "detect_layout",
    "evaluate",
    "evaluate_classification",
    "evaluate_segmentation",
    "evaluated_models",
    "evaluation_from_dict",
    "list_evaluations",
    "load_evaluation",
    "mcnemar_exact",
    "open_dataset",
    "read_class_file",
    "read_labels_file",
    "read_wnid_mapping",
    "save_evaluation",
]
