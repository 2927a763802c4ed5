"""PASCAL VOC-style ground truth: label masks from PNGs, folders of image/mask pairs, evaluation.

A VOC folder holds ``JPEGImages/<id>.jpg``, ``SegmentationClass/<id>.png`` (palette PNGs
whose pixel values are class indices, 255 on object borders) and
``ImageSets/Segmentation/<split>.txt`` listing the ids.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from torch import nn

from cvcore.errors import InvalidInputError
from cvcore.images import decode_image, open_image
from cvcore.metrics import IGNORE_INDEX, SegmentationMetrics, confusion_matrix, metrics_from_confusion
from cvcore.segmentation import VOC_BORDER_COLOR, SegmentationResult, is_coarse, segment, voc_palette

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


# --- one mask ------------------------------------------------------------------------------------


def read_label_mask(source, num_classes: int) -> np.ndarray:
    """(H, W) int64 class indices from a ground-truth PNG (255 = ignore).

    Palette ("P") and greyscale PNGs hold the indices themselves; an RGB(A) PNG is read
    through VOC's colour map (its border colour becomes 255). Raises
    :class:`InvalidInputError` for values outside ``0..num_classes-1`` and 255.
    """
    image = open_image(source)
    image.load()
    if image.mode in ("P", "L", "I", "I;16"):
        labels = np.asarray(image).astype(np.int64)
    elif image.mode in ("RGB", "RGBA"):
        labels = _labels_from_colours(np.asarray(image.convert("RGB")), num_classes)
    else:
        raise InvalidInputError(f"A ground-truth mask must be a palette, greyscale or RGB PNG, not mode {image.mode!r}.")
    bad = (labels != IGNORE_INDEX) & ((labels < 0) | (labels >= num_classes))
    if bad.any():
        raise InvalidInputError(
            f"The mask contains label {int(labels[bad][0])}, outside 0..{num_classes - 1} (and not {IGNORE_INDEX}); "
            "is it a VOC-style mask for these classes?"
        )
    return labels


def _labels_from_colours(rgb: np.ndarray, num_classes: int) -> np.ndarray:
    palette = voc_palette(num_classes).astype(np.int64)
    codes = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
    lookup = {int((r << 16) | (g << 8) | b): k for k, (r, g, b) in enumerate(palette)}
    r, g, b = VOC_BORDER_COLOR
    lookup[(r << 16) | (g << 8) | b] = IGNORE_INDEX
    unique, inverse = np.unique(codes, return_inverse=True)
    unknown = [u for u in unique.tolist() if u not in lookup]
    if unknown:
        u = unknown[0]
        raise InvalidInputError(f"The mask has colour ({u >> 16}, {(u >> 8) & 255}, {u & 255}), which is not in VOC's palette.")
    return np.array([lookup[u] for u in unique.tolist()], dtype=np.int64)[inverse].reshape(codes.shape)


def fit_mask(truth: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a mask (nearest) to ``size`` = (width, height) when the photo was downscaled; refuse other shapes."""
    height, width = truth.shape
    if (width, height) == size:
        return truth
    if abs(width / height - size[0] / size[1]) > 0.01:
        raise InvalidInputError(
            f"The mask is {width}x{height} but the photo is {size[0]}x{size[1]}: they do not belong together."
        )
    resized = Image.fromarray(truth.astype(np.int32)).resize(size, Image.Resampling.NEAREST)
    return np.asarray(resized).astype(np.int64)


def score(result: SegmentationResult, truth: np.ndarray) -> SegmentationMetrics:
    """Pixel accuracy, per-class IoU and mIoU of one result against its ground truth."""
    if result.is_coarse:
        raise InvalidInputError(
            f"{result.display_name} predicts ImageNet classes, not VOC's; it cannot be scored against a VOC mask."
        )
    truth = fit_mask(truth, result.size)
    n = len(result.categories)
    return metrics_from_confusion(confusion_matrix(truth, result.labels, n), result.categories)


# --- a folder ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VocFolder:
    root: Path
    split: str
    ids: tuple[str, ...]

    def image_path(self, image_id: str) -> Path:
        for suffix in IMAGE_SUFFIXES:
            path = self.root / "JPEGImages" / f"{image_id}{suffix}"
            if path.is_file():
                return path
        raise InvalidInputError(f"No image for {image_id!r} in {self.root / 'JPEGImages'}.")

    def mask_path(self, image_id: str) -> Path:
        return self.root / "SegmentationClass" / f"{image_id}.png"


def open_voc(root: str | Path, split: str = "val", *, limit: int | None = None) -> VocFolder:
    """Check the folder layout and read the split's ids (the first ``limit``), each with its photo and mask."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise InvalidInputError(f"{root} is not a folder" + (": it is a file." if root.exists() else ": it does not exist."))
    listing = root / "ImageSets" / "Segmentation" / f"{split}.txt"
    missing = [p for p in (root / "JPEGImages", root / "SegmentationClass", listing) if not p.exists()]
    if missing:
        raise InvalidInputError(
            f"{root} is not a VOC-style folder: missing {', '.join(str(p.relative_to(root)) for p in missing)} "
            "(expected JPEGImages/, SegmentationClass/, ImageSets/Segmentation/<split>.txt)."
        )
    ids = tuple(line.split()[0] for line in listing.read_text(errors="replace").splitlines() if line.strip())
    if not ids:
        raise InvalidInputError(f"{listing} lists no images.")
    if limit is not None and not 1 <= limit <= len(ids):
        raise InvalidInputError(f"--limit {limit}: {listing.name} lists {len(ids)} images; give a limit from 1 to {len(ids)}.")
    folder = VocFolder(root, split, ids[:limit] if limit else ids)
    _check_pairs(folder)
    return folder


def _check_pairs(folder: VocFolder) -> None:
    """Every listed id has its photo and its mask (a few stat calls, before any model runs)."""
    unpaired = [i for i in folder.ids if not folder.mask_path(i).is_file() or not _has_image(folder, i)]
    if unpaired:
        shown = ", ".join(unpaired[:5]) + (f" and {len(unpaired) - 5} more" if len(unpaired) > 5 else "")
        raise InvalidInputError(
            f"{folder.root} is inconsistent: {len(unpaired)} of the {len(folder.ids)} listed images lack a photo in "
            f"JPEGImages/ or a mask in SegmentationClass/ ({shown})."
        )


def _has_image(folder: VocFolder, image_id: str) -> bool:
    return any((folder.root / "JPEGImages" / f"{image_id}{suffix}").is_file() for suffix in IMAGE_SUFFIXES)


def check_can_evaluate(name: str) -> None:
    """Refuse a model whose labels are not VOC's (the coarse ImageNet-class map)."""
    if is_coarse(name):
        raise InvalidInputError(
            f"{name} gives a coarse ImageNet-class map, which cannot be scored against VOC classes; choose a VOC segmenter."
        )


@dataclass(frozen=True)
class Evaluation:
    model: str
    data: str
    split: str
    images: int
    seconds: float
    metrics: SegmentationMetrics


def evaluate(
    name: str,
    root: str | Path,
    *,
    split: str = "val",
    limit: int | None = None,
    model: nn.Module | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Evaluation:
    """Run ``name`` over a VOC-style folder, accumulating one confusion matrix over all pixels."""
    check_can_evaluate(name)
    folder = open_voc(root, split, limit=limit)
    ids = folder.ids
    if model is None:
        from cvcore.weights import load_model

        model = load_model(name)
    start = time.perf_counter()
    confusion = None
    categories: tuple[str, ...] = ()
    for done, image_id in enumerate(ids, start=1):
        photo = decode_image(folder.image_path(image_id), max_side=None).image  # keep the mask's size
        result = segment(photo, name, model=model)
        categories = result.categories
        truth = read_label_mask(folder.mask_path(image_id), len(categories))
        step = confusion_matrix(fit_mask(truth, result.size), result.labels, len(categories))
        confusion = step if confusion is None else confusion + step
        if progress:
            progress(done, len(ids))
    metrics = metrics_from_confusion(confusion, categories)
    return Evaluation(name, str(folder.root), split, len(ids), time.perf_counter() - start, metrics)
