"""Semantic segmentation of one photo: label map, confidence, per-class shares, timings.

Two kinds of model give a label map here:

- torchvision's trained segmenters (FCN, DeepLabV3, LR-ASPP; 20 PASCAL VOC classes plus
  background), preprocessed with their weights' own transforms;
- a classifier turned fully convolutional, the key idea of the FCN paper (Long et al.
  2015, Figure 2): EfficientNet-Lite's linear classifier applied as a 1x1 convolution at
  every position of its last feature map gives a coarse map of ImageNet classes. It needs
  no download (its weights ship in a package), but it is **not** a trained segmenter, and
  every result says so in :attr:`SegmentationResult.kind`.

The model is only read (``inference_mode``, no hooks, no mode changes), so one cached
instance can serve several threads at once. CUDA runs under fp16 autocast.
"""

from __future__ import annotations

import functools
import io
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torchvision.transforms import v2 as T

from cvcore.device import model_device, synchronize
from cvcore.errors import InvalidInputError
from cvcore.preprocess import transform_for
from cvcore.registry import ModelSpec, Task, WeightsKind, get_spec, list_models

SEGMENTER_KIND = "trained segmenter"
COARSE_KIND = "coarse class map from a classifier, not a trained segmenter"
COARSE_FAMILIES = ("EfficientNet-Lite",)  # classifiers with forward_features() + a Linear classifier
# Short side of the classifier's input for the coarse map: 320 px gives EfficientNet-Lite
# (stride 32) a 10 x N grid; larger costs more and adds little.
COARSE_SHORT_SIDE = 320
# What the Segmentation page shows by default: the offline coarse map and the three
# segmenter families of issue 4 (FCN, DeepLabV3, LR-ASPP).
DEFAULT_MODELS = ("efficientnet_lite0", "lraspp_mobilenet_v3_large", "fcn_resnet50", "deeplabv3_resnet50")
BACKGROUND = "__background__"
VOC_BORDER_COLOR = (224, 224, 192)  # VOC's "void" colour (label 255) in its palette PNGs


# --- what can segment ------------------------------------------------------------------------


def is_coarse(name: str) -> bool:
    """Whether ``name`` is a classifier whose label map is the FCN-style coarse map."""
    spec = get_spec(name)
    return spec.task is Task.CLASSIFICATION and spec.family in COARSE_FAMILIES


def model_choices() -> list[str]:
    """Models that can produce a label map with trained weights: segmenters, then coarse-map classifiers."""
    segmenters = [s.name for s in list_models(Task.SEGMENTATION) if s.weights.kind is not WeightsKind.NONE]
    coarse = [s.name for s in list_models(Task.CLASSIFICATION) if s.family in COARSE_FAMILIES]
    return segmenters + coarse


def _check_can_segment(spec: ModelSpec) -> None:
    if spec.task is Task.SEGMENTATION or spec.family in COARSE_FAMILIES:
        return
    raise InvalidInputError(
        f"{spec.name} cannot produce a label map here: choose a segmenter or one of {', '.join(COARSE_FAMILIES)} "
        f"({', '.join(model_choices())})."
    )


# --- palette ------------------------------------------------------------------------------------


def voc_palette(num_classes: int = 256) -> np.ndarray:
    """(num_classes, 3) uint8: PASCAL VOC's colour map (bits of the index spread over R, G, B).

    For more than 256 classes (ImageNet) the same rule keeps going and colours stay unique.
    """
    index = np.arange(num_classes)
    palette = np.zeros((num_classes, 3), dtype=np.int64)
    for shift in range(8):
        for channel in range(3):
            palette[:, channel] |= ((index >> (3 * shift + channel)) & 1) << (7 - shift)
    return palette.astype(np.uint8)


@functools.cache
def _palette_bytes() -> bytes:
    return voc_palette(256).tobytes()


# --- results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StageTimings:
    """Wall-clock time of each stage, in milliseconds (device synchronised inside the timer)."""

    decode_ms: float
    preprocess_ms: float
    forward_ms: float
    postprocess_ms: float

    @property
    def total_ms(self) -> float:
        return self.decode_ms + self.preprocess_ms + self.forward_ms + self.postprocess_ms

    def as_dict(self) -> dict[str, float]:
        return {
            "decode_ms": self.decode_ms, "preprocess_ms": self.preprocess_ms, "forward_ms": self.forward_ms,
            "postprocess_ms": self.postprocess_ms, "total_ms": self.total_ms,
        }  # fmt: skip


@dataclass(frozen=True)
class ClassShare:
    index: int
    name: str
    share: float  # fraction of the photo's pixels, 0..1
    pixels: int
    color: tuple[int, int, int]
    mean_confidence: float  # mean softmax probability over the class's pixels, 0..1


@dataclass(frozen=True, eq=False)
class SegmentationResult:
    model: str
    display_name: str
    kind: str  # SEGMENTER_KIND or COARSE_KIND
    size: tuple[int, int]  # (width, height) of the photo; labels and confidence have this size
    input_size: tuple[int, int]  # (height, width) the model saw
    output_grid: tuple[int, int]  # (height, width) of the model's own output map
    device: str
    categories: tuple[str, ...] = field(repr=False)
    classes: list[ClassShare]  # classes present, largest share first
    timings_ms: StageTimings
    labels: np.ndarray = field(repr=False)  # (H, W) uint16 class indices (ImageNet's 1000 fit; half the memory of int32)
    confidence: np.ndarray = field(repr=False)  # (H, W) float32, softmax probability of the chosen class
    notes: tuple[str, ...] = ()

    @property
    def is_coarse(self) -> bool:
        return self.kind == COARSE_KIND

    @property
    def palette(self) -> np.ndarray:
        return voc_palette(len(self.categories))

    def summary(self) -> dict:
        """Everything but the pixel arrays, as plain JSON types."""
        return {
            "model": self.model, "display_name": self.display_name, "kind": self.kind,
            "size": list(self.size), "input_size": list(self.input_size), "output_grid": list(self.output_grid),
            "device": self.device,
            "classes": [
                {"name": c.name, "index": c.index, "share": c.share, "pixels": c.pixels, "mean_confidence": c.mean_confidence,
                 "color": list(c.color)}
                for c in self.classes
            ],
            "mean_confidence": float(self.confidence.mean()),
            "timings_ms": self.timings_ms.as_dict(),
            "notes": list(self.notes),
        }  # fmt: skip


# --- inference ------------------------------------------------------------------------------------


def _coarse_transform(spec: ModelSpec, short_side: int) -> T.Compose:
    """The classifier's own normalisation and interpolation, without the centre crop (the map covers the whole photo)."""
    p = spec.preprocessing
    return T.Compose(
        [
            T.ToImage(),
            T.Resize(short_side, interpolation=T.InterpolationMode(p.interpolation), antialias=True),
            T.ToDtype(torch.float32, scale=True),
            T.Normalize(p.mean, p.std),
        ]
    )


def _classifier_as_conv(model: nn.Module, features: torch.Tensor) -> torch.Tensor:
    """FCN's "convolutionalization": the Linear classifier as a 1x1 convolution. (B, C, h, w) -> (B, K, h, w)."""
    linear: nn.Linear = model.classifier
    return F.conv2d(features, linear.weight[:, :, None, None], linear.bias)


def _forward(model: nn.Module, batch: torch.Tensor, coarse: bool) -> torch.Tensor:
    if coarse:
        return _classifier_as_conv(model, model.forward_features(batch))
    out = model(batch)
    return out["out"] if isinstance(out, dict) else out  # torchvision segmenters return {"out", "aux"}


def top_class(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per position: (index of the top class as uint16, its softmax probability). ``logits`` is (K, h, w) float32.

    p_top = exp(l_top) / sum_k exp(l_k) = 1 / sum_k exp(l_k - l_top), so one pass over the
    classes gives both the index (where l_k - l_top == 0) and the probability, without
    materialising the softmax. Single-threaded NumPy on (h, w) slices that stay in cache:
    about 3x faster than torch's softmax + max over the channel dimension on a shared CPU.
    """
    best = logits.max(axis=0)
    labels = np.zeros(best.shape, dtype=np.uint16)
    total = np.zeros_like(best)
    diff = np.empty_like(best)
    is_top = np.empty(best.shape, dtype=bool)
    for k in range(logits.shape[0] - 1, -1, -1):  # descending, so ties go to the lowest index (as argmax)
        np.subtract(logits[k], best, out=diff)
        np.equal(diff, 0, out=is_top)
        np.copyto(labels, k, where=is_top)
        np.exp(diff, out=diff)
        total += diff
    return labels, np.reciprocal(total, out=total)


# NumPy releases the GIL in its loops, so row bands of one photo run on separate cores.
# One small pool per process; concurrent sessions queue on it rather than oversubscribe.
_BANDS = max(1, min(4, torch.get_num_threads()))
_MIN_ROWS_PER_BAND = 64  # below this, thread hand-off costs more than it saves


@functools.cache
def _band_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(_BANDS, thread_name_prefix="cvlens-top-class")


def top_class_parallel(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`top_class` over horizontal bands in parallel (identical result, about 2x faster on 2 cores)."""
    height = logits.shape[1]
    bands = min(_BANDS, height // _MIN_ROWS_PER_BAND)
    if bands < 2:
        return top_class(logits)
    edges = np.linspace(0, height, bands + 1).astype(int)
    parts = list(_band_pool().map(top_class, [logits[:, a:b] for a, b in zip(edges[:-1], edges[1:])]))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _resize_back(labels: np.ndarray, confidence: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Labels (nearest) and confidence (bilinear) at the photo's ``size`` = (width, height)."""
    if labels.shape == (size[1], size[0]):
        return labels, confidence
    labels = np.asarray(Image.fromarray(labels).resize(size, Image.Resampling.NEAREST))
    confidence = np.asarray(Image.fromarray(confidence, mode="F").resize(size, Image.Resampling.BILINEAR))
    return labels.astype(np.uint16, copy=False), np.clip(confidence, 0, 1)


def segment(
    image: Image.Image,
    name: str,
    *,
    model: nn.Module | None = None,
    decode_ms: float = 0.0,
    coarse_short_side: int = COARSE_SHORT_SIDE,
) -> SegmentationResult:
    """Label every pixel of ``image`` (an RGB photo) with ``name``.

    ``model`` is the trained model (e.g. a cached one, never modified); without it the
    weights are loaded (raising :class:`~cvcore.errors.WeightsMissingError` if absent).
    ``decode_ms`` is the caller's decode time, reported with the other stages.
    """
    spec = get_spec(name)
    _check_can_segment(spec)
    if model is None:
        from cvcore.weights import load_model

        model = load_model(name)
    coarse = spec.task is Task.CLASSIFICATION
    device = model_device(model)
    image = image.convert("RGB")
    width, height = image.size

    start = time.perf_counter()
    transform = _coarse_transform(spec, coarse_short_side) if coarse else transform_for(spec)
    batch = transform(image).unsqueeze(0).to(device)  # (1, 3, h_in, w_in)
    synchronize(device)
    preprocessed = time.perf_counter()

    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.float16, enabled=device.type == "cuda"):
        logits = _forward(model, batch, coarse)  # (1, K, h_out, w_out)
    synchronize(device)
    forwarded = time.perf_counter()

    labels, confidence = top_class_parallel(logits[0].float().cpu().numpy())  # (h_out, w_out) each
    labels, confidence = _resize_back(labels, confidence, (width, height))
    labels.flags.writeable = confidence.flags.writeable = False  # results are shared (session state, caches)
    classes = class_shares(labels, confidence, spec.categories)
    done = time.perf_counter()

    notes = (
        [
            f"Coarse map: the classifier applied at each of {logits.shape[-2]}x{logits.shape[-1]} positions of its last feature map (Long et al. 2015, FCN, Figure 2)."
        ]
        if coarse
        else []
    )
    if device.type == "cuda":
        notes.append("Run on CUDA under fp16 autocast.")
    return SegmentationResult(
        model=name,
        display_name=spec.display_name + (" (coarse map)" if coarse else ""),
        kind=COARSE_KIND if coarse else SEGMENTER_KIND,
        size=(width, height),
        input_size=tuple(batch.shape[-2:]),
        output_grid=tuple(logits.shape[-2:]),
        device=str(device),
        categories=spec.categories,
        classes=classes,
        timings_ms=StageTimings(
            decode_ms, 1e3 * (preprocessed - start), 1e3 * (forwarded - preprocessed), 1e3 * (done - forwarded)
        ),
        labels=labels,
        confidence=confidence.astype(np.float32, copy=False),
        notes=tuple(notes),
    )


def class_shares(labels: np.ndarray, confidence: np.ndarray, categories: Sequence[str]) -> list[ClassShare]:
    """Classes present in ``labels``, largest first, with their pixel share and mean confidence."""
    flat = labels.reshape(-1)
    counts = np.bincount(flat, minlength=len(categories))
    confidence_sums = np.bincount(flat, weights=confidence.reshape(-1), minlength=len(categories))
    palette = voc_palette(len(categories))
    present = np.flatnonzero(counts)
    present = present[np.argsort(-counts[present], kind="stable")]
    total = flat.size
    return [
        ClassShare(
            int(k),
            categories[k],
            float(counts[k] / total),
            int(counts[k]),
            tuple(int(c) for c in palette[k]),
            float(confidence_sums[k] / counts[k]),
        )
        for k in present
    ]


# --- pictures ------------------------------------------------------------------------------------


def colorize(result: SegmentationResult) -> np.ndarray:
    """(H, W, 3) uint8: each pixel in its class's palette colour."""
    if len(result.categories) <= 256:  # Pillow's palette lookup (C) is ~5x faster than NumPy's fancy indexing
        indexed = Image.fromarray(result.labels.astype(np.uint8), mode="P")
        indexed.putpalette(_palette_bytes())
        return np.asarray(indexed.convert("RGB"))
    return result.palette[result.labels]


def overlay(image: Image.Image | np.ndarray, result: SegmentationResult, opacity: float = 0.5) -> np.ndarray:
    """(H, W, 3) uint8: the photo with the class colours blended in at ``opacity`` (0..1).

    VOC's background is left uncoloured so the objects stand out.
    """
    if not 0.0 <= opacity <= 1.0:
        raise InvalidInputError(f"Opacity must be between 0 and 1, got {opacity}.")
    photo = Image.fromarray(_as_rgb_array(image, result.size))
    blended = Image.blend(photo, Image.fromarray(colorize(result)), opacity)  # Pillow's C loops: ~3x numpy's float path
    if result.categories and result.categories[0] == BACKGROUND:
        blended = Image.composite(blended, photo, Image.fromarray(result.labels != 0))  # bool -> mode "1" mask
    return np.asarray(blended)


def _as_rgb_array(image: Image.Image | np.ndarray, size: tuple[int, int]) -> np.ndarray:
    array = np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image)
    if array.shape[:2] != (size[1], size[0]):
        raise InvalidInputError(f"The photo is {array.shape[1]}x{array.shape[0]} but the result is for {size[0]}x{size[1]}.")
    return array[..., :3]


def legend(result: SegmentationResult) -> list[dict]:
    """One row per class present: name, colour (hex), share in %, mean confidence."""
    return [
        {
            "class": c.name,
            "color": "#{:02x}{:02x}{:02x}".format(*c.color),
            "share_pct": 100 * c.share,
            "mean_confidence": c.mean_confidence,
            "pixels": c.pixels,
        }
        for c in result.classes
    ]


@dataclass(frozen=True, eq=False)
class Disagreement:
    model_a: str
    model_b: str
    fraction: float  # pixels labelled differently / all pixels, 0..1
    mask: np.ndarray = field(repr=False)  # (H, W) bool, True where the two disagree


def disagreement(a: SegmentationResult, b: SegmentationResult) -> Disagreement:
    """Where two results on the same photo give different classes."""
    if a.size != b.size:
        raise InvalidInputError(f"{a.model} and {b.model} were run on different photos ({a.size} vs {b.size}).")
    if a.categories != b.categories:
        raise InvalidInputError(
            f"{a.display_name} and {b.display_name} use different label sets "
            f"({len(a.categories)} vs {len(b.categories)} classes); compare two models with the same classes, e.g. two VOC segmenters."
        )
    mask = a.labels != b.labels
    return Disagreement(a.model, b.model, float(mask.mean()), mask)


def disagreement_image(
    image: Image.Image | np.ndarray, d: Disagreement, color: tuple[int, int, int] = (230, 25, 75)
) -> np.ndarray:
    """(H, W, 3) uint8: the photo in grey, disagreeing pixels in ``color``."""
    photo = _as_rgb_array(image, (d.mask.shape[1], d.mask.shape[0])).astype(np.float32)
    grey = photo.mean(axis=2, keepdims=True).repeat(3, axis=2) * 0.6 + 60
    grey[d.mask] = color
    return np.clip(grey, 0, 255).astype(np.uint8)


def png_bytes(array: np.ndarray) -> bytes:
    """An RGB(A) or grey uint8 array as PNG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def label_mask_png(result: SegmentationResult) -> bytes:
    """The label map as a PNG whose pixel values are the class indices.

    Up to 256 classes: a palette PNG with VOC's colours (how VOC ships its ground truth);
    more (ImageNet's 1000): a 16-bit greyscale PNG.
    """
    buffer = io.BytesIO()
    if len(result.categories) <= 256:
        mask = Image.fromarray(result.labels.astype(np.uint8), mode="P")
        mask.putpalette(voc_palette(256).reshape(-1).tolist())
    else:
        mask = Image.fromarray(result.labels.astype(np.uint16))
    mask.save(buffer, format="PNG")
    return buffer.getvalue()


def wipe(before: Image.Image | np.ndarray, after: np.ndarray, position: float) -> np.ndarray:
    """A before/after picture: ``after`` left of ``position`` (0..1 of the width), ``before`` right of it, a white divider."""
    if not 0.0 <= position <= 1.0:
        raise InvalidInputError(f"The divider position must be between 0 and 1, got {position}.")
    after = np.asarray(after)[..., :3]
    before = _as_rgb_array(before, (after.shape[1], after.shape[0]))
    split = round(position * after.shape[1])
    picture = before.copy()
    picture[:, :split] = after[:, :split]
    if 0 < split < after.shape[1]:
        picture[:, max(split - 1, 0) : split + 1] = 255
    return picture
