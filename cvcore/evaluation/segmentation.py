"""Pixel accuracy, per-class IoU and mIoU of a segmenter on a folder of masks, with bootstrap intervals.

Each image goes through :func:`cvcore.segmentation.segment` (the model's own preprocessing,
labels at the photo's resolution), is scored against its mask at the mask's resolution,
and leaves one confusion matrix. The dataset's metrics come from the sum of those
matrices (the PASCAL VOC protocol); the bootstrap redraws images and sums again
(:func:`cvcore.evaluation.results.segmentation_statistic`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from PIL import Image
from torch import nn

from cvcore.device import describe_device, model_device
from cvcore.errors import ImageDecodeError, InvalidInputError
from cvcore.evaluation.bootstrap import BootstrapSettings
from cvcore.evaluation.datasets import MaskedImage, SegmentationDataset
from cvcore.evaluation.protocol import check_preprocessing, make_protocol
from cvcore.evaluation.results import (
    SEGMENTATION_METRICS,
    SegmentationEvaluation,
    headline_estimates,
    model_record,
    segmentation_statistic,
)
from cvcore.images import decode_image, open_image
from cvcore.metrics import confusion_matrix
from cvcore.registry import ModelSpec, Task
from cvcore.segmentation import segment

INDEX_MASK_MODES = ("L", "P", "I", "I;16", "I;16B", "I;16L")

Progress = Callable[[int, int], None]


def evaluate_segmentation(
    model: nn.Module,
    spec: ModelSpec,
    dataset: SegmentationDataset,
    *,
    limit: int | None = None,
    bootstrap: BootstrapSettings = BootstrapSettings(),
    progress: Progress | None = None,
) -> SegmentationEvaluation:
    """Run ``model`` (built from ``spec``) over ``dataset``; ``progress(done, total)`` after each image."""
    check_segmenter(spec, dataset)
    dataset = dataset.limited(limit)
    start = time.perf_counter()
    counts = score_images(model, spec, dataset, range(len(dataset.samples)), progress)
    device = model_device(model)
    return segmentation_result(
        spec, dataset, counts, bootstrap=bootstrap, device=describe_device(device), device_type=device.type, started=start
    )


@dataclass(frozen=True)
class PixelCounts:
    """What scoring some images of a dataset leaves: their summed confusion matrix and each image's per-class counts."""

    confusion: np.ndarray  # (K, K) int64, rows: truth, columns: prediction
    true_positives: np.ndarray  # (m, K) int64, one row per image
    truth_pixels: np.ndarray  # (m, K)
    predicted_pixels: np.ndarray  # (m, K)


def score_images(
    model: nn.Module, spec: ModelSpec, dataset: SegmentationDataset, indices: range, progress: Progress | None = None
) -> PixelCounts:
    """Segment and score ``dataset.samples[i]`` for ``i`` in ``indices``; ``progress(done, total)`` after each image."""
    k = len(dataset.class_names)
    samples = dataset.samples[indices.start : indices.stop]
    n = len(samples)
    confusion = np.zeros((k, k), dtype=np.int64)
    true_positives, truth_pixels, predicted_pixels = (np.zeros((n, k), dtype=np.int64) for _ in range(3))
    if not n:
        return PixelCounts(confusion, true_positives, truth_pixels, predicted_pixels)
    with ThreadPoolExecutor(1, thread_name_prefix="cvlens-decode") as pool:  # the next image decodes during this forward
        upcoming = pool.submit(_load, samples[0], dataset)
        for i, sample in enumerate(samples):
            photo, truth = upcoming.result()
            if i + 1 < n:
                upcoming = pool.submit(_load, samples[i + 1], dataset)
            labels = segment(photo, spec, model=model).labels
            try:
                step = confusion_matrix(truth, labels, k, ignore_index=dataset.ignore_index)
            except InvalidInputError as exc:
                raise InvalidInputError(f"{sample.relative}: {exc}") from exc
            confusion += step
            true_positives[i], truth_pixels[i], predicted_pixels[i] = np.diag(step), step.sum(axis=1), step.sum(axis=0)
            if progress:
                progress(i + 1, n)
    return PixelCounts(confusion, true_positives, truth_pixels, predicted_pixels)


def segmentation_result(
    spec: ModelSpec,
    dataset: SegmentationDataset,
    counts: PixelCounts,
    *,
    bootstrap: BootstrapSettings,
    device: str,
    device_type: str,
    started: float,
    notes: tuple[str, ...] = (),
) -> SegmentationEvaluation:
    """The evaluation of the counts of all of ``dataset``'s images, in its order; ``device`` as people read it.

    Run locally or on Ray (:mod:`cvcore.evaluation.distributed`): the same counts give the same result.
    """
    n = len(dataset.samples)
    statistic = segmentation_statistic(counts.true_positives, counts.truth_pixels, counts.predicted_pixels)
    metrics = headline_estimates(n, statistic, SEGMENTATION_METRICS, bootstrap)
    protocol = make_protocol(
        spec, dataset.fingerprint, images=n, limit=dataset.limit, split=dataset.split, crop_size=None,
        scored_at="the mask's own resolution (labels resized to the photo, nearest)", device=device,
        precision="fp16 autocast" if device_type == "cuda" else "fp32", batch_size=1, bootstrap=bootstrap,
        seconds=time.perf_counter() - started, notes=(*dataset.notes, *notes),
    )  # fmt: skip
    return SegmentationEvaluation(
        model=model_record(spec), protocol=protocol, **metrics, class_names=dataset.class_names,
        ignore_index=dataset.ignore_index, confusion=counts.confusion, files=tuple(s.relative for s in dataset.samples),
        true_positives=counts.true_positives, truth_pixels=counts.truth_pixels, predicted_pixels=counts.predicted_pixels,
    )  # fmt: skip


def check_segmenter(spec: ModelSpec, dataset: SegmentationDataset) -> None:
    """A trained segmenter whose head has one output per class of the dataset's class list."""
    if spec.task is not Task.SEGMENTATION:
        raise InvalidInputError(
            f"{spec.display_name} is a classifier; {dataset.root} holds segmentation masks: choose a segmentation model."
        )
    check_preprocessing(spec)
    if len(dataset.class_names) != len(spec.categories):
        raise InvalidInputError(
            f"The class list has {len(dataset.class_names)} classes but {spec.display_name}'s head has "
            f"{len(spec.categories)} outputs: they must be the same classes, in the same order."
        )


def _load(sample: MaskedImage, dataset: SegmentationDataset) -> tuple[Image.Image, np.ndarray]:
    """The photo (RGB, full size: scoring happens at the mask's resolution) and its mask, checked to belong together."""
    try:
        truth = read_mask(sample, dataset)
        photo = decode_image(sample.path, max_side=None).image
    except (ImageDecodeError, InvalidInputError) as exc:
        raise type(exc)(f"{sample.relative}: {exc}") from exc
    if photo.size != (truth.shape[1], truth.shape[0]):
        raise InvalidInputError(
            f"{_relative(sample.mask, dataset)} is {truth.shape[1]}x{truth.shape[0]} but its image {sample.relative} is "
            f"{photo.size[0]}x{photo.size[1]}: a mask must have its image's size."
        )
    return photo, truth


def read_mask(sample: MaskedImage, dataset: SegmentationDataset) -> np.ndarray:
    """(H, W) int64 class indices: VOC's palette/RGB masks via :func:`cvcore.voc.read_label_mask`, else a single-channel PNG."""
    if dataset.mask_format == "voc":
        from cvcore.voc import read_label_mask

        return read_label_mask(sample.mask, len(dataset.class_names))
    image = open_image(sample.mask)
    if image.mode not in INDEX_MASK_MODES:
        raise InvalidInputError(
            f"{_relative(sample.mask, dataset)} is a {image.mode} image; a mask must be single-channel "
            "(greyscale or palette PNG) with one class index per pixel."
        )
    return np.asarray(image).astype(np.int64)


def _relative(path, dataset: SegmentationDataset) -> str:
    try:
        return path.relative_to(dataset.root).as_posix()
    except ValueError:
        return str(path)
