"""Semantic-segmentation metrics from a confusion matrix (the PASCAL VOC protocol).

Pixels whose ground truth is ``ignore_index`` (255: VOC's object borders) are left out; a
mask with no other pixel has nothing to score, which is an error (:class:`NoLabelledPixelsError`),
not a NaN. Labels must be whole numbers: a float map with 1.7 or NaN in it is refused, never
truncated.
IoU (Jaccard) of class k = |truth = k and prediction = k| / |truth = k or prediction = k|;
mIoU averages it over the classes present in the truth or the prediction, so a class
that appears in neither does not count as 0 (or as 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from cvcore.errors import InvalidInputError

IGNORE_INDEX = 255


class NoLabelledPixelsError(InvalidInputError):
    """Every ground-truth pixel is the ignore index: there is nothing to score."""


def _as_labels(values, what: str) -> np.ndarray:
    """An int64 label array; floats only when every value is a whole number (1.0 is 1; 1.7 and NaN are refused)."""
    values = np.asarray(values)
    if values.dtype == bool or np.issubdtype(values.dtype, np.integer):
        return values.astype(np.int64)
    if not np.issubdtype(values.dtype, np.floating):
        raise InvalidInputError(f"The {what} must hold integer class labels; got values of type {values.dtype}.")
    finite = np.isfinite(values)
    if not finite.all():
        bad = values[~finite][0]
        shown = "NaN" if np.isnan(bad) else str(bad)
        raise InvalidInputError(f"The {what} contains {shown} at {_first_position(~finite)}: labels must be integers.")
    fractional = values != np.round(values)
    if fractional.any():
        raise InvalidInputError(
            f"The {what} contains {values[fractional][0]:g} at {_first_position(fractional)}: labels must be integers "
            "(cvlens does not round or truncate them)."
        )
    return values.astype(np.int64)


def _first_position(mask: np.ndarray) -> str:
    return "position " + ", ".join(str(int(i)) for i in np.argwhere(mask)[0]) if mask.ndim else "the only position"


def confusion_matrix(
    truth: np.ndarray, prediction: np.ndarray, num_classes: int, *, ignore_index: int | None = IGNORE_INDEX
) -> np.ndarray:
    """(num_classes, num_classes) int64 counts; rows are the truth, columns the prediction."""
    truth = np.asarray(truth)
    prediction = np.asarray(prediction)
    if truth.shape != prediction.shape:
        raise InvalidInputError(f"Ground truth {truth.shape} and prediction {prediction.shape} differ in shape.")
    truth = _as_labels(truth, "ground truth").reshape(-1)
    prediction = _as_labels(prediction, "prediction").reshape(-1)
    if ignore_index is not None:
        keep = truth != ignore_index
        truth, prediction = truth[keep], prediction[keep]
    for what, labels in (("ground truth", truth), ("prediction", prediction)):
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            bad = labels[(labels < 0) | (labels >= num_classes)][0]
            raise InvalidInputError(
                f"The {what} contains label {bad}, outside 0..{num_classes - 1} (and not the ignore index {ignore_index})."
            )
    return np.bincount(truth * num_classes + prediction, minlength=num_classes**2).reshape(num_classes, num_classes)


@dataclass(frozen=True)
class SegmentationMetrics:
    pixel_accuracy: float  # correct / counted pixels, 0..1 (at least one pixel is always counted)
    mean_iou: float  # over classes present in truth or prediction, 0..1
    per_class_iou: dict[str, float]  # NaN for classes present in neither
    pixels: int  # pixels counted (ignore index excluded)
    confusion: np.ndarray = field(repr=False, compare=False)

    @property
    def present_classes(self) -> list[str]:
        return [name for name, iou in self.per_class_iou.items() if not np.isnan(iou)]

    def rows(self) -> list[dict]:
        """One row per class present: class, IoU, pixels in the truth, pixels predicted."""
        truth_pixels, predicted_pixels = self.confusion.sum(1), self.confusion.sum(0)
        return [
            {"class": name, "iou": iou, "truth_pixels": int(truth_pixels[i]), "predicted_pixels": int(predicted_pixels[i])}
            for i, (name, iou) in enumerate(self.per_class_iou.items())
            if not np.isnan(iou)
        ]


def iou_per_class(confusion: np.ndarray) -> np.ndarray:
    """IoU of every class; NaN where the class is in neither truth nor prediction."""
    tp = np.diag(confusion).astype(np.float64)
    union = confusion.sum(0) + confusion.sum(1) - tp
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, tp / union, np.nan)


def metrics_from_confusion(confusion: np.ndarray, class_names: Sequence[str] | None = None) -> SegmentationMetrics:
    confusion = np.asarray(confusion, dtype=np.int64)
    num_classes = confusion.shape[0]
    names = list(class_names) if class_names is not None else [str(i) for i in range(num_classes)]
    if len(names) != num_classes:
        raise InvalidInputError(f"{len(names)} class names for a {num_classes}-class confusion matrix.")
    total = int(confusion.sum())
    if total == 0:
        raise NoLabelledPixelsError(
            f"No labelled pixels: every ground-truth pixel is the ignore index ({IGNORE_INDEX}, VOC's border label), "
            "so there is nothing to score."
        )
    ious = iou_per_class(confusion)
    present = ~np.isnan(ious)
    return SegmentationMetrics(
        pixel_accuracy=float(np.trace(confusion) / total),
        mean_iou=float(ious[present].mean()),
        per_class_iou=dict(zip(names, ious.tolist())),
        pixels=total,
        confusion=confusion,
    )


def segmentation_metrics(
    truth: np.ndarray,
    prediction: np.ndarray,
    num_classes: int,
    class_names: Sequence[str] | None = None,
    *,
    ignore_index: int | None = IGNORE_INDEX,
) -> SegmentationMetrics:
    """Pixel accuracy, per-class IoU and mIoU of one label map against its ground truth."""
    return metrics_from_confusion(confusion_matrix(truth, prediction, num_classes, ignore_index=ignore_index), class_names)
