"""Top-1, top-5, per-class accuracy and confusion of a classifier on a labelled folder, with bootstrap intervals.

The model is only read (``inference_mode``, no mode change), so a cached, shared model can
be passed. Images are decoded and preprocessed with the model's own recipe
(:func:`cvcore.preprocess.transform_for`: resize the short side, centre crop, normalise)
by a few threads, one batch ahead of the forward pass, so at most two batches are in memory.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import torch
from torch import nn

from cvcore.device import describe_device, model_device
from cvcore.errors import ImageDecodeError, InvalidInputError
from cvcore.evaluation.bootstrap import BootstrapSettings
from cvcore.evaluation.datasets import ClassificationDataset, LabelledImage
from cvcore.evaluation.protocol import check_batch_size, check_preprocessing, make_protocol
from cvcore.evaluation.results import (
    CLASSIFICATION_METRICS,
    ClassificationEvaluation,
    ClassScore,
    classification_statistic,
    headline_estimates,
    model_record,
)
from cvcore.images import decode_image
from cvcore.preprocess import transform_for
from cvcore.registry import ModelSpec, Task

DEFAULT_BATCH_SIZE = 32
TOP_K = 5
DECODE_THREADS = min(4, os.cpu_count() or 1)

Progress = Callable[[int, int], None]


def evaluate_classification(
    model: nn.Module,
    spec: ModelSpec,
    dataset: ClassificationDataset,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    limit: int | None = None,
    bootstrap: BootstrapSettings = BootstrapSettings(),
    progress: Progress | None = None,
) -> ClassificationEvaluation:
    """Run ``model`` (built from ``spec``) over ``dataset``; ``progress(done, total)`` after each batch."""
    dataset, batch_size, top_k = prepare_classification(spec, dataset, batch_size=batch_size, limit=limit)
    start = time.perf_counter()
    top_predictions = predict_top_k(model, spec, dataset.samples, batch_size, top_k, progress)
    return classification_result(
        spec, dataset, top_predictions, batch_size=batch_size, bootstrap=bootstrap,
        device=describe_device(model_device(model)), started=start,
    )  # fmt: skip


def prepare_classification(
    spec: ModelSpec, dataset: ClassificationDataset, *, batch_size: int, limit: int | None
) -> tuple[ClassificationDataset, int, int]:
    """The checked inputs of an evaluation: the limited dataset, the batch size and k of top-k."""
    if spec.task is not Task.CLASSIFICATION:
        raise InvalidInputError(f"{spec.display_name} is a {spec.task.value} model; {dataset.root} is a classification folder.")
    check_preprocessing(spec)
    return dataset.limited(limit), check_batch_size(batch_size), min(TOP_K, len(spec.categories))


def classification_result(
    spec: ModelSpec,
    dataset: ClassificationDataset,
    top_predictions: np.ndarray,
    *,
    batch_size: int,
    bootstrap: BootstrapSettings,
    device: str,
    started: float,
    notes: tuple[str, ...] = (),
) -> ClassificationEvaluation:
    """The evaluation of the (n, top_k) predictions of ``dataset``'s images, in its order; ``device`` as people read it.

    Run locally or on Ray (:mod:`cvcore.evaluation.distributed`): the same predictions give the same result.
    """
    targets = np.array([s.target for s in dataset.samples], dtype=np.int64)
    correct_top1 = top_predictions[:, 0] == targets
    correct_topk = (top_predictions == targets[:, None]).any(axis=1)
    statistic = classification_statistic(correct_top1, correct_topk, targets)
    metrics = headline_estimates(len(targets), statistic, CLASSIFICATION_METRICS, bootstrap)
    crop = spec.preprocessing.crop_size
    protocol = make_protocol(
        spec, dataset.fingerprint, images=len(targets), limit=dataset.limit, split=None, crop_size=crop,
        scored_at=f"{crop}x{crop} centre crop", device=device, precision="fp32", batch_size=batch_size,
        bootstrap=bootstrap, seconds=time.perf_counter() - started, notes=(*dataset.report(), *notes),
    )  # fmt: skip
    return ClassificationEvaluation(
        model=model_record(spec), protocol=protocol, **metrics, top_k=top_predictions.shape[1],
        categories=tuple(spec.categories),
        classes=_class_scores(dataset.classes, targets, top_predictions[:, 0], spec.categories),
        unmatched=dict(dataset.unmatched), categories_without_images=len(dataset.categories_without_images),
        files=tuple(s.relative for s in dataset.samples), targets=targets, top_predictions=top_predictions,
    )  # fmt: skip


def predict_top_k(
    model: nn.Module, spec: ModelSpec, samples: Sequence[LabelledImage], batch_size: int, top_k: int, progress: Progress | None
) -> np.ndarray:
    """(n, top_k) int64 class indices, best first."""
    device = model_device(model)
    transform = transform_for(spec)
    num_classes = len(spec.categories)
    top = np.empty((len(samples), top_k), dtype=np.int64)
    done = 0
    with ThreadPoolExecutor(DECODE_THREADS, thread_name_prefix="cvlens-decode") as pool:
        for batch in _batches(samples, transform, batch_size, pool):
            with torch.inference_mode():
                logits = model(batch.to(device))  # (B, K)
            if logits.dim() != 2 or logits.shape[1] != num_classes:
                raise InvalidInputError(
                    f"{spec.display_name} gives outputs of shape {tuple(logits.shape[1:])} per image, but its class list has {num_classes} classes."
                )
            top[done : done + len(batch)] = logits.float().topk(top_k, dim=1).indices.cpu().numpy()
            done += len(batch)
            if progress:
                progress(done, len(samples))
    return top


def _batches(samples: Sequence[LabelledImage], transform, batch_size: int, pool: ThreadPoolExecutor) -> Iterator[torch.Tensor]:
    """(B, 3, H, W) batches; the next batch decodes while the caller runs the model on this one."""

    def load(sample: LabelledImage) -> torch.Tensor:
        try:
            return transform(decode_image(sample.path, max_side=None).image)
        except (ImageDecodeError, InvalidInputError) as exc:
            raise type(exc)(f"{sample.relative}: {exc}") from exc

    pending: list[Future] | None = None
    for start in range(0, len(samples), batch_size):
        submitted = [pool.submit(load, s) for s in samples[start : start + batch_size]]
        if pending is not None:
            yield torch.stack([f.result() for f in pending])
        pending = submitted
    if pending:
        yield torch.stack([f.result() for f in pending])


def _class_scores(
    classes: dict[str, int], targets: np.ndarray, top1: np.ndarray, categories: Sequence[str]
) -> tuple[ClassScore, ...]:
    """Per dataset class: images, top-1 accuracy, and the wrong class its images are most often given."""
    names: dict[int, list[str]] = {}
    for name, index in classes.items():
        names.setdefault(index, []).append(name)
    scores = []
    for index in sorted(set(targets.tolist())):
        predicted = top1[targets == index]
        wrong = predicted[predicted != index]
        confused, share = None, 0.0
        if wrong.size:
            values, counts = np.unique(wrong, return_counts=True)
            confused, share = categories[int(values[counts.argmax()])], float(counts.max() / predicted.size)
        scores.append(
            ClassScore(
                " / ".join(names.get(index, [categories[index]])),
                index,
                int(predicted.size),
                float((predicted == index).mean()),
                confused,
                share,
            )
        )
    return tuple(scores)
