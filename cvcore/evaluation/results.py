"""What an evaluation returns: metrics with intervals, the protocol that produced them, per-image numbers.

The per-image numbers (each image's target and top-k predictions; each image's per-class
true-positive, truth and predicted pixel counts) are kept and stored: every metric, its
bootstrap interval and a paired test against another model on the same images can be
recomputed from them, also from a stored result, without running a model again.

JSON (``to_dict``/``from_dict``; layout ``SCHEMA``): headline numbers at the top level
(``top1``, ``top5``, ``mean_class_accuracy`` or ``pixel_accuracy``, ``mean_iou``, all
0..1), their intervals under ``ci``, the protocol under ``protocol``, per-image numbers
under ``per_image``. NaN is written as ``null``.

Imports NumPy only (no torch): pages list stored results without loading a model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from cvcore.errors import InvalidInputError
from cvcore.evaluation.bootstrap import METHOD, BootstrapSettings, Estimate, Statistic, counts_per_image, estimates
from cvcore.evaluation.datasets import DatasetFingerprint
from cvcore.metrics import SegmentationMetrics, metrics_from_confusion

SCHEMA = "cvlens.evaluation/1"
CLASSIFICATION_METRICS = ("top1", "top5", "mean_class_accuracy")
SEGMENTATION_METRICS = ("pixel_accuracy", "mean_iou")
METRIC_LABELS = {
    "top1": "top-1 accuracy",
    "top5": "top-5 accuracy",
    "mean_class_accuracy": "mean per-class accuracy",
    "pixel_accuracy": "pixel accuracy",
    "mean_iou": "mIoU",
}


@dataclass(frozen=True)
class ModelRecord:
    """Which model and weights were evaluated (from the spec, read defensively: ``arch``/``weights.id`` are new)."""

    name: str
    display_name: str
    arch: str
    weights_id: str | None
    weights_kind: str
    weights_ref: str | None
    weights_file: str | None
    num_classes: int


def model_record(spec) -> ModelRecord:
    weights = spec.weights
    kind = getattr(weights.kind, "value", weights.kind)
    return ModelRecord(
        name=spec.name, display_name=spec.display_name, arch=getattr(spec, "arch", None) or spec.name,
        weights_id=getattr(weights, "id", None), weights_kind=str(kind), weights_ref=weights.ref,
        weights_file=weights.file_name, num_classes=len(spec.categories),
    )  # fmt: skip


@dataclass(frozen=True)
class Protocol:
    """How the numbers were produced, so that somebody else can produce them again."""

    dataset: DatasetFingerprint
    images: int  # images evaluated
    limit: int | None  # the image limit asked for, if any
    split: str | None  # VOC's ImageSets/Segmentation/<split>.txt
    resize_size: int  # short side after resizing, pixels
    crop_size: int | None  # centre crop (classification); None: the whole resized image (segmentation)
    interpolation: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    single_scale: bool  # one forward pass per image: no flips, no multi-crop or multi-scale
    scored_at: str  # where predictions meet the labels ("224x224 centre crop", "the mask's own resolution")
    device: str
    precision: str  # "fp32" or "fp16 autocast"
    batch_size: int
    bootstrap: BootstrapSettings
    versions: dict[str, str]
    date_utc: str  # ISO 8601
    seconds: float  # wall-clock time of the whole evaluation
    notes: tuple[str, ...] = ()

    def describe(self) -> str:
        crop = f", centre crop {self.crop_size}" if self.crop_size else ", no crop"
        ci = (
            f"{self.bootstrap.resamples} bootstrap resamples (seed {self.bootstrap.seed})"
            if self.bootstrap.resamples
            else "no bootstrap"
        )
        return (
            f"{self.images} images of {self.dataset.layout} data {self.dataset.short} ({self.dataset.files} files); "
            f"resize {self.resize_size}{crop}, {self.interpolation}, single scale; {self.device}, {self.precision}; {ci}; "
            f"{', '.join(f'{k} {v}' for k, v in self.versions.items())}; {self.date_utc}"
        )


@dataclass(frozen=True)
class ClassScore:
    name: str  # the dataset's class (folder or label)
    index: int  # the model's class index
    images: int
    accuracy: float  # top-1 on this class's images, 0..1
    most_confused_with: str | None  # the wrong class predicted most often for these images
    confused_share: float  # share of this class's images predicted as it, 0..1


@dataclass(frozen=True, eq=False)
class ClassificationEvaluation:
    model: ModelRecord
    protocol: Protocol
    top1: Estimate
    top5: Estimate  # top-k with k = top_k (fewer than 5 classes: k = the number of classes)
    mean_class_accuracy: Estimate  # mean over the dataset's classes of their top-1 accuracy
    top_k: int
    categories: tuple[str, ...] = field(repr=False)  # the model's classes
    classes: tuple[ClassScore, ...] = field(repr=False)
    unmatched: dict[str, str] = field(repr=False)  # dataset classes left out -> why
    categories_without_images: int
    files: tuple[str, ...] = field(repr=False)  # image ids (relative paths), in evaluation order
    targets: np.ndarray = field(repr=False)  # (n,) int64 model class index of each image
    top_predictions: np.ndarray = field(repr=False)  # (n, top_k) int64, best first

    task = "classification"
    metric_names = CLASSIFICATION_METRICS

    @property
    def images(self) -> int:
        return len(self.files)

    @property
    def correct_top1(self) -> np.ndarray:
        return self.top_predictions[:, 0] == self.targets

    @property
    def correct_topk(self) -> np.ndarray:
        return (self.top_predictions == self.targets[:, None]).any(axis=1)

    def headline(self) -> dict[str, Estimate]:
        return {"top1": self.top1, "top5": self.top5, "mean_class_accuracy": self.mean_class_accuracy}

    def confusion(self) -> np.ndarray:
        """(K, K) int64 counts over the model's classes: rows the truth, columns the top-1 prediction."""
        k = len(self.categories)
        return np.bincount(self.targets * k + self.top_predictions[:, 0], minlength=k * k).reshape(k, k)

    def confusion_entries(self) -> list[tuple[int, int, int]]:
        """The confusion's non-zero cells as (truth index, predicted index, images), most images first."""
        pairs, counts = np.unique(np.stack([self.targets, self.top_predictions[:, 0]], axis=1), axis=0, return_counts=True)
        order = np.argsort(-counts, kind="stable")
        return [(int(pairs[i, 0]), int(pairs[i, 1]), int(counts[i])) for i in order]

    @property
    def per_class_accuracy(self) -> dict[str, float]:
        return {c.name: c.accuracy for c in self.classes}

    def statistic(self) -> Statistic:
        return classification_statistic(self.correct_top1, self.correct_topk, self.targets)

    def to_dict(self, *, per_image: bool = True) -> dict[str, Any]:
        data = _header(self) | {
            "top_k": self.top_k,
            "classes": [asdict(c) for c in self.classes],
            "unmatched": dict(self.unmatched),
            "categories_without_images": self.categories_without_images,
            "confusion_entries": [list(e) for e in self.confusion_entries()],  # [truth, predicted, images], non-zero cells
            "categories": list(self.categories),
        }
        if per_image:
            data["per_image"] = {
                "files": list(self.files),
                "targets": self.targets.tolist(),
                "top_predictions": self.top_predictions.tolist(),
            }
        return _clean(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClassificationEvaluation:
        per_image = data["per_image"]
        top_k = int(data["top_k"])
        return cls(
            model=_model_from(data), protocol=_protocol_from(data["protocol"]),
            **{name: _estimate_from(data, name) for name in CLASSIFICATION_METRICS}, top_k=top_k,
            categories=tuple(data["categories"]), classes=tuple(ClassScore(**_nan(c, "accuracy", "confused_share")) for c in data["classes"]),
            unmatched=dict(data["unmatched"]), categories_without_images=int(data["categories_without_images"]),
            files=tuple(per_image["files"]), targets=np.asarray(per_image["targets"], dtype=np.int64),
            top_predictions=np.asarray(per_image["top_predictions"], dtype=np.int64).reshape(-1, top_k),
        )  # fmt: skip


@dataclass(frozen=True, eq=False)
class SegmentationEvaluation:
    model: ModelRecord
    protocol: Protocol
    pixel_accuracy: Estimate
    mean_iou: Estimate  # dataset-level: IoU per class from the summed confusion, averaged over classes present
    class_names: tuple[str, ...] = field(repr=False)
    ignore_index: int
    confusion: np.ndarray = field(repr=False)  # (K, K) int64 over all images; rows the truth
    files: tuple[str, ...] = field(repr=False)
    true_positives: np.ndarray = field(repr=False)  # (n, K) int64 per image: the confusion's diagonal
    truth_pixels: np.ndarray = field(repr=False)  # (n, K) int64: its row sums
    predicted_pixels: np.ndarray = field(repr=False)  # (n, K) int64: its column sums (ignored pixels excluded)

    task = "segmentation"
    metric_names = SEGMENTATION_METRICS

    @property
    def images(self) -> int:
        return len(self.files)

    @property
    def pixels(self) -> int:
        return int(self.confusion.sum())

    @property
    def metrics(self) -> SegmentationMetrics:
        """Pixel accuracy, per-class IoU, mIoU from the summed confusion (:func:`cvcore.metrics.metrics_from_confusion`)."""
        return metrics_from_confusion(self.confusion, self.class_names)

    @property
    def per_class_iou(self) -> dict[str, float]:
        return self.metrics.per_class_iou

    def headline(self) -> dict[str, Estimate]:
        return {"pixel_accuracy": self.pixel_accuracy, "mean_iou": self.mean_iou}

    def statistic(self) -> Statistic:
        return segmentation_statistic(self.true_positives, self.truth_pixels, self.predicted_pixels)

    def to_dict(self, *, per_image: bool = True) -> dict[str, Any]:
        data = _header(self) | {
            "pixels": self.pixels,
            "ignore_index": self.ignore_index,
            "per_class_iou": self.per_class_iou,
            "class_names": list(self.class_names),
            "confusion": self.confusion.tolist(),
        }
        if per_image:
            data["per_image"] = {
                "files": list(self.files), "true_positives": self.true_positives.tolist(),
                "truth_pixels": self.truth_pixels.tolist(), "predicted_pixels": self.predicted_pixels.tolist(),
            }  # fmt: skip
        return _clean(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SegmentationEvaluation:
        per_image = data["per_image"]
        k = len(data["class_names"])

        def counts(key: str) -> np.ndarray:
            return np.asarray(per_image[key], dtype=np.int64).reshape(-1, k)

        return cls(
            model=_model_from(data), protocol=_protocol_from(data["protocol"]),
            **{name: _estimate_from(data, name) for name in SEGMENTATION_METRICS},
            class_names=tuple(data["class_names"]), ignore_index=int(data["ignore_index"]),
            confusion=np.asarray(data["confusion"], dtype=np.int64).reshape(k, k), files=tuple(per_image["files"]),
            true_positives=counts("true_positives"), truth_pixels=counts("truth_pixels"), predicted_pixels=counts("predicted_pixels"),
        )  # fmt: skip


Evaluation = ClassificationEvaluation | SegmentationEvaluation


def evaluation_from_dict(data: dict[str, Any]) -> Evaluation:
    """Rebuild a result from its JSON form; a foreign or damaged document raises :class:`InvalidInputError`."""
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise InvalidInputError(f"Not a cvlens evaluation (expected schema {SCHEMA!r}).")
    kind = {"classification": ClassificationEvaluation, "segmentation": SegmentationEvaluation}.get(data.get("task"))
    if kind is None:
        raise InvalidInputError(f"Unknown evaluation task {data.get('task')!r}.")
    try:
        return kind.from_dict(data)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise InvalidInputError(f"The stored evaluation is incomplete or damaged ({type(exc).__name__}: {exc}).") from exc


# --- statistics over redrawn images -----------------------------------------------------------------


def classification_statistic(correct_top1: np.ndarray, correct_topk: np.ndarray, targets: np.ndarray) -> Statistic:
    """indices (b, n) -> (b, 3): top-1, top-k and mean per-class accuracy of each redraw.

    The mean per-class accuracy of a redraw averages over the classes it contains.
    """
    correct_top1 = np.asarray(correct_top1, dtype=np.float64)
    correct_topk = np.asarray(correct_topk, dtype=np.float64)
    classes, position = np.unique(np.asarray(targets), return_inverse=True)
    d = len(classes)

    def statistic(indices: np.ndarray) -> np.ndarray:
        b = len(indices)
        flat = (np.arange(b)[:, None] * d + position[indices]).reshape(-1)
        images = np.bincount(flat, minlength=b * d).reshape(b, d)
        correct = np.bincount(flat, weights=correct_top1[indices].reshape(-1), minlength=b * d).reshape(b, d)
        with np.errstate(invalid="ignore", divide="ignore"):
            per_class = np.where(images > 0, correct / images, np.nan)
        mean_class = np.nanmean(per_class, axis=1)
        return np.stack([correct_top1[indices].mean(axis=1), correct_topk[indices].mean(axis=1), mean_class], axis=1)

    return statistic


def segmentation_statistic(true_positives: np.ndarray, truth_pixels: np.ndarray, predicted_pixels: np.ndarray) -> Statistic:
    """indices (b, n) -> (b, 2): pixel accuracy and mIoU of each redraw, from its summed per-image counts.

    Summing the diagonal, row sums and column sums of the redrawn images' confusion
    matrices is summing the matrices themselves as far as IoU needs: IoU_k = TP_k /
    (truth_k + predicted_k - TP_k). Counts are exact in float64 up to 2**53 pixels.
    """
    n, k = true_positives.shape
    stacked = np.concatenate([true_positives, truth_pixels, predicted_pixels], axis=1).astype(np.float64)  # (n, 3K)

    def statistic(indices: np.ndarray) -> np.ndarray:
        sums = counts_per_image(indices, n) @ stacked  # (b, 3K)
        tp, truth, predicted = sums[:, :k], sums[:, k : 2 * k], sums[:, 2 * k :]
        total = truth.sum(axis=1)
        union = truth + predicted - tp
        with np.errstate(invalid="ignore", divide="ignore"):
            pixel_accuracy = np.where(total > 0, tp.sum(axis=1) / total, np.nan)
            iou = np.where(union > 0, tp / union, np.nan)
        present = ~np.isnan(iou)
        mean_iou = np.where(present.any(axis=1), np.nansum(iou, axis=1) / np.maximum(present.sum(axis=1), 1), np.nan)
        return np.stack([pixel_accuracy, mean_iou], axis=1)

    return statistic


def headline_estimates(n: int, statistic: Statistic, names: Sequence[str], settings: BootstrapSettings) -> dict[str, Estimate]:
    return dict(zip(names, estimates(n, statistic, settings)))


# --- JSON helpers -----------------------------------------------------------------------------------


def _header(ev: Evaluation) -> dict[str, Any]:
    p = ev.protocol
    return {
        "schema": SCHEMA,
        "task": ev.task,
        "model": ev.model.name,  # the name, as `evaluate --format json` always printed it
        "display_name": ev.model.display_name,
        "arch": ev.model.arch,
        "weights": {
            "id": ev.model.weights_id,
            "kind": ev.model.weights_kind,
            "ref": ev.model.weights_ref,
            "file": ev.model.weights_file,
        },
        "num_classes": ev.model.num_classes,
        "data": p.dataset.root,
        "layout": p.dataset.layout,
        "split": p.split,
        "images": ev.images,
        "seconds": p.seconds,
        **{name: est.value for name, est in ev.headline().items()},
        "ci": {name: ({"low": est.low, "high": est.high} if est.has_interval else None) for name, est in ev.headline().items()},
        "ci_level": p.bootstrap.level,
        "ci_method": METHOD,
        "protocol": _protocol_dict(p),
    }


def _model_from(data: dict[str, Any]) -> ModelRecord:
    w = data["weights"]
    return ModelRecord(
        data["model"], data["display_name"], data["arch"], w["id"], w["kind"], w["ref"], w["file"], int(data["num_classes"])
    )


def _protocol_dict(p: Protocol) -> dict[str, Any]:
    data = asdict(p)
    data["bootstrap"] = asdict(p.bootstrap)
    return data


def _protocol_from(data: dict[str, Any]) -> Protocol:
    values = dict(data)
    values["dataset"] = DatasetFingerprint(**values["dataset"])
    values["bootstrap"] = BootstrapSettings(**values["bootstrap"])
    values["mean"], values["std"] = tuple(values["mean"]), tuple(values["std"])
    values["notes"] = tuple(values.get("notes", ()))
    return Protocol(**values)


def _estimate_from(data: dict[str, Any], name: str) -> Estimate:
    value = data[name]
    ci = (data.get("ci") or {}).get(name)
    return Estimate(float("nan") if value is None else float(value), ci["low"] if ci else None, ci["high"] if ci else None)


def _nan(record: dict[str, Any], *keys: str) -> dict[str, Any]:
    return record | {k: float("nan") if record[k] is None else record[k] for k in keys}


def _clean(value: Any) -> Any:
    """NaN/inf -> None, NumPy scalars -> Python, tuples -> lists (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
