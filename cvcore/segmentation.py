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

Where the time goes. torchvision's segmenters end with a bilinear upsample of a stride-8
grid of logits (21 x 65 x 65 at 520 px) to the input size; on 2 CPU cores that upsample plus
a per-pixel argmax takes 20-25 ms against 70-90 ms for all of LR-ASPP's forward (see
cvcore.label_maps). On a CPU the model therefore runs up to its grid
(:func:`grid_logits`) and :func:`cvcore.label_maps.upsampled_labels` finds the labels that the upsample +
argmax would give, evaluating per pixel only the grid cells where the top class can change
(class boundaries). The confidence map, which does need the full-resolution softmax, is
computed on first use (:attr:`SegmentationResult.confidence`); the overlay needs only the
labels.
"""

from __future__ import annotations

import functools
import io
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torchvision.models.segmentation import FCN, LRASPP, DeepLabV3

from cvcore.defaults import SEGMENTATION_MODELS
from cvcore.device import model_device, synchronize
from cvcore.errors import InvalidInputError
from cvcore.input_sizes import ResizePlan, plan_resize
from cvcore.label_maps import top_class, top_class_parallel, upsample_logits, upsampled_labels
from cvcore.preprocess import transform_for
from cvcore.registry import ModelSpec, Task, WeightsKind, get_spec, list_models

SEGMENTER_KIND = "trained segmenter"
COARSE_KIND = "coarse class map from a classifier, not a trained segmenter"
COARSE_FAMILIES = ("EfficientNet-Lite",)  # classifiers with forward_features() + a Linear classifier
# Short side of the classifier's input for the coarse map: 320 px gives EfficientNet-Lite
# (stride 32) a 10 x N grid; larger costs more and adds little.
COARSE_SHORT_SIDE = 320
DEFAULT_MODELS = SEGMENTATION_MODELS  # what the Segmentation page shows by default (cvcore.defaults)
BACKGROUND = "__background__"
VOC_BORDER_COLOR = (224, 224, 192)  # VOC's "void" colour (label 255) in its palette PNGs


# --- what can segment ------------------------------------------------------------------------


def is_coarse(model: str | ModelSpec) -> bool:
    """Whether ``model`` is a classifier whose label map is the FCN-style coarse map."""
    spec = get_spec(model, metadata_only=True)
    return spec.task is Task.CLASSIFICATION and spec.family in COARSE_FAMILIES


def model_choices() -> list[str]:
    """Models that can produce a label map with trained weights: segmenters (the user's too), then coarse-map classifiers."""
    segmenters = [s.name for s in list_models(Task.SEGMENTATION, metadata_only=True) if s.weights.kind is not WeightsKind.NONE]
    coarse = [s.name for s in list_models(Task.CLASSIFICATION, metadata_only=True) if s.family in COARSE_FAMILIES]
    return segmenters + coarse


def default_models() -> list[str]:
    """The Segmentation page's first selection: the :data:`DEFAULT_MODELS` whose weights are on this machine.

    The coarse map's weights ship in a package, so on a fresh machine it is the one default that runs.
    """
    from cvcore.weights import weight_status

    return [name for name in DEFAULT_MODELS if weight_status(name).available] or model_choices()[-1:]


def runnable_first(names: Sequence[str]) -> list[str]:
    """``names`` with the models whose weights are here first (order otherwise kept).

    A multiselect's "Select all" takes options in order up to its maximum: it must pick models that run.
    """
    from cvcore.weights import weight_status

    return sorted(names, key=lambda name: not weight_status(name).available)


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


def distinct_palette(num_classes: int) -> np.ndarray:
    """(num_classes, 3) uint8: well-separated colours for class lists without a background class.

    Hues step by the golden angle, so neighbouring indices never look alike; saturation and
    value alternate so the palette stays readable with 20+ classes; never black or white,
    which read as background or unlabelled.
    """
    index = np.arange(num_classes)
    hue = (index * 0.618033988749895) % 1.0
    saturation = np.where(index % 2 == 0, 0.85, 0.6)
    value = np.where(index % 3 == 2, 0.7, 0.95)
    sector = np.floor(hue * 6).astype(int) % 6
    f = hue * 6 - np.floor(hue * 6)
    p, q, t = value * (1 - saturation), value * (1 - f * saturation), value * (1 - (1 - f) * saturation)
    rgb = np.select(
        [sector[:, None] == k for k in range(6)],
        [np.stack(c, axis=1) for c in ((value, t, p), (q, value, p), (p, value, t), (p, q, value), (t, p, value), (value, p, q))],
    )
    return np.rint(rgb * 255).astype(np.uint8)


def has_background(categories: Sequence[str]) -> bool:
    """VOC-style lists start with the background class, which overlays leave uncoloured."""
    return bool(categories) and categories[0] == BACKGROUND


def palette_for(categories: Sequence[str]) -> np.ndarray:
    """VOC's colour map for VOC-style lists (and ImageNet's 1000), distinct colours for any other list (a user's CamVid)."""
    if has_background(categories) or len(categories) > 256:
        return voc_palette(len(categories))
    return distinct_palette(len(categories))


@functools.cache
def _palette_bytes(categories: tuple[str, ...]) -> bytes:
    colours = palette_for(categories)
    return np.concatenate([colours, np.zeros((256 - len(colours), 3), np.uint8)]).tobytes()


# --- results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StageTimings:
    """Wall-clock time of each stage up to the labels, in milliseconds (device synchronised inside the timer).

    The confidence map comes later, on demand: :attr:`SegmentationResult.confidence_ms`.
    """

    decode_ms: float
    preprocess_ms: float
    forward_ms: float  # the network; torchvision's segmenters up to their logit grid (grid_logits)
    postprocess_ms: float  # labels (cvcore.label_maps.upsampled_labels), resize to the photo, class shares

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


class _Confidence(NamedTuple):
    pixels: np.ndarray  # (H, W) float32, read-only
    class_means: np.ndarray  # (K,) float64: mean over each class's pixels, NaN where the class is absent
    ms: float  # wall-clock time it took


class _OnDemandConfidence:
    """The confidence map and per-class means, computed on first use and only once.

    Results are shared (session state, threads of the dashboard): the first readers wait on
    a lock instead of computing twice, and everyone gets the same read-only arrays. The
    logits the map comes from are dropped once it is computed. It holds the result's labels
    (for the per-class means): a result is never rebuilt with other labels
    (``dataclasses.replace``), it is recomputed with :func:`segment`.
    """

    def __init__(self, compute_map: Callable[[], np.ndarray] | None, labels: np.ndarray, num_classes: int):
        self._compute_map = compute_map
        self._labels = labels
        self._num_classes = num_classes
        self._lock = threading.Lock()
        self._value: _Confidence | None = None

    @property
    def ms(self) -> float | None:
        value = self._value
        return None if value is None else value.ms

    def get(self) -> _Confidence:
        value = self._value
        if value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._compute()
                value = self._value
        return value

    def _compute(self) -> _Confidence:
        start = time.perf_counter()
        pixels = np.ascontiguousarray(self._compute_map(), dtype=np.float32)
        pixels.flags.writeable = False
        flat = self._labels.reshape(-1)
        counts = np.bincount(flat, minlength=self._num_classes)
        sums = np.bincount(flat, weights=pixels.reshape(-1), minlength=self._num_classes)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = sums / counts
        means.flags.writeable = False
        self._compute_map = None
        return _Confidence(pixels, means, 1e3 * (time.perf_counter() - start))

    def __getstate__(self) -> dict:  # a lock cannot be pickled or copied: keep the computed value instead
        return {"value": self.get(), "labels": self._labels, "num_classes": self._num_classes}

    def __setstate__(self, state: dict) -> None:
        self.__init__(None, state["labels"], state["num_classes"])
        self._value = state["value"]


@dataclass(frozen=True, eq=False)
class SegmentationResult:
    model: str
    display_name: str
    kind: str  # SEGMENTER_KIND or COARSE_KIND
    size: tuple[int, int]  # (width, height) of the photo; labels and confidence have this size
    input_size: tuple[int, int]  # (height, width) the model saw
    output_grid: tuple[int, int]  # (height, width) of the model's own output map (before any upsampling)
    device: str
    categories: tuple[str, ...] = field(repr=False)
    classes: list[ClassShare]  # classes present, largest share first
    timings_ms: StageTimings  # upload to labels; the confidence map is timed apart (confidence_ms)
    labels: np.ndarray = field(repr=False)  # (H, W) uint16 class indices (ImageNet's 1000 fit; half the memory of int32)
    _confidence: _OnDemandConfidence = field(repr=False)
    notes: tuple[str, ...] = ()
    # Share of the label map (at the model's input size) whose labels came from their own
    # upsampled logits: 1.0 when every pixel was evaluated, less when only the grid cells
    # at class boundaries were (cvcore.label_maps.upsampled_labels); None for the coarse map (nearest upsampling).
    evaluated_fraction: float | None = None

    @property
    def is_coarse(self) -> bool:
        return self.kind == COARSE_KIND

    @property
    def palette(self) -> np.ndarray:
        return palette_for(self.categories)

    @property
    def confidence(self) -> np.ndarray:
        """(H, W) float32, read-only: softmax probability of the chosen class at each pixel.

        Computed on first access (from the full-resolution upsampled logits, as the labels'
        definition), then kept; :attr:`confidence_ms` says how long that took.
        """
        return self._confidence.get().pixels

    @property
    def confidence_ms(self) -> float | None:
        """Wall-clock ms the confidence map and per-class means took; None until first needed."""
        return self._confidence.ms

    def class_confidence(self) -> dict[int, float]:
        """Mean confidence over each present class's pixels, by class index (computes the map on first use)."""
        means = self._confidence.get().class_means
        return {c.index: float(means[c.index]) for c in self.classes}

    def summary(self) -> dict:
        """Everything but the pixel arrays, as plain JSON types (computes the confidence map if needed)."""
        class_confidence = self.class_confidence()
        return {
            "model": self.model, "display_name": self.display_name, "kind": self.kind,
            "size": list(self.size), "input_size": list(self.input_size), "output_grid": list(self.output_grid),
            "device": self.device,
            "classes": [
                {"name": c.name, "index": c.index, "share": c.share, "pixels": c.pixels,
                 "mean_confidence": class_confidence[c.index], "color": list(c.color)}
                for c in self.classes
            ],
            "mean_confidence": float(self.confidence.mean()),
            "timings_ms": self.timings_ms.as_dict() | {"confidence_ms": self.confidence_ms},
            "evaluated_fraction": self.evaluated_fraction,
            "notes": list(self.notes),
        }  # fmt: skip


# --- labels from a grid of logits ------------------------------------------------------------


def grid_logits(model: nn.Module, batch: torch.Tensor) -> torch.Tensor | None:
    """(B, K, h, w) logits on the model's own output grid for torchvision's FCN, DeepLabV3 and LR-ASPP; None for other models.

    All three end with ``F.interpolate(logits, size=input size, mode="bilinear",
    align_corners=False)`` (torchvision/models/segmentation/_utils.py, lraspp.py). Stopping
    before it leaves the upsample to :func:`cvcore.label_maps.upsampled_labels`, and skips FCN's and
    DeepLabV3's auxiliary head, which only training uses. Exact classes only: a subclass
    may have changed ``forward``.
    """
    if type(model) in (FCN, DeepLabV3):
        return model.classifier(model.backbone(batch)["out"])
    if type(model) is LRASPP:
        return model.classifier(model.backbone(batch))
    return None


# --- inference ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InputFit:
    """How an input was padded to a side the architecture accepts, and where its own pixels are in the output.

    ``pad`` = (left, right, top, bottom) in input pixels; ``crop`` = (top, left) of the original
    ``size`` = (h, w) in the model's ``output`` = (h, w); ``mode``: how the border was filled.
    """

    size: tuple[int, int]
    padded: tuple[int, int]
    pad: tuple[int, int, int, int]
    crop: tuple[int, int]
    output: tuple[int, int]
    mode: str

    def note(self, spec: ModelSpec, rule_text: str) -> str:
        (h, w), (hp, wp) = self.size, self.padded
        filled = "mirrored (the overlap-tile strategy of Ronneberger et al. 2015)" if self.mode == "reflect" else "repeated"
        return (
            f"Input padded from {h}x{w} to {hp}x{wp}, border {filled}: {spec.display_name} takes {rule_text}. "
            "The labels are those of the photo's own pixels."
        )


_FIT_CANDIDATES = 64  # accepted sides tried above a photo's side before giving up on an exact fit


@functools.lru_cache(maxsize=16)
def _shapes_model(name: str) -> nn.Module | None:
    from cvcore.input_sizes import _shapes_only_model

    return _shapes_only_model(get_spec(name, metadata_only=False))


def _output_side(name: str, side: int) -> int | None:
    """The output side of a (side x side) input, from a shapes-only run on the meta device (None: it fails)."""
    shapes = _shapes_model(name)
    if shapes is None:
        return None
    try:
        with torch.no_grad():
            return int(segmentation_logits(shapes(torch.empty(1, 3, side, side, device="meta"))).shape[-1])
    except (RuntimeError, ValueError, IndexError, TypeError, InvalidInputError):
        return None


@functools.lru_cache(maxsize=512)
def _side_fit(name: str, side: int) -> tuple[int, int] | None:
    """(input side, margin lost on each side of the output) that labels every one of ``side`` pixels; None: run as is.

    First the smallest accepted side whose output is as large as its input (ENet: the next
    multiple of 8); a model whose output is always smaller (valid convolutions) gets the side
    whose output still covers ``side`` pixels, its lost margin to be mirrored.
    """
    from cvcore.input_sizes import size_rule

    rule = size_rule(get_spec(name, metadata_only=True))
    if rule.fixed is not None or not rule.derived:
        return None
    start = max(side, rule.minimum)
    candidates = [s for s in range(start, rule.maximum + 1) if rule.allows(s)][:_FIT_CANDIDATES]
    outputs = {}
    for s in candidates:  # lazily: most models take the first or second candidate whole
        outputs[s] = _output_side(name, s)
        if outputs[s] == s:
            return (s, 0) if s != side else None
    for s in candidates:  # valid convolutions: the output is the input less a margin on each side
        out = outputs[s]
        if out is not None and out < s and (s - out) % 2 == 0:
            for wider in range(s, rule.maximum + 1):
                if rule.allows(wider) and (out_wider := _output_side(name, wider)) is not None and out_wider >= side:
                    return wider, (wider - out_wider) // 2
            return None
    return None


def fit_input(spec: ModelSpec, size: tuple[int, int]) -> InputFit | None:
    """How to pad an (h, w) input for ``spec`` (None when it takes that size and returns it whole).

    Sides the architecture does not take (ENet: multiples of 8) are padded up to the next one
    it does; a model whose output is smaller than its input (U-Net's valid convolutions) gets
    its lost margin mirrored around the photo (the paper's overlap-tile strategy), so that every
    pixel of the photo is labelled.
    """
    fits = [_side_fit(spec.name, side) for side in size]
    fits = [fit or (side, 0) for fit, side in zip(fits, size)]
    if all(padded == side and margin == 0 for (padded, margin), side in zip(fits, size)):
        return None
    (hp, mh), (wp, mw) = fits
    h, w = size
    top = mh + (hp - h - 2 * mh) // 2
    left = mw + (wp - w - 2 * mw) // 2
    pad = (left, wp - w - left, top, hp - h - top)
    mode = "reflect" if max(pad[2:]) < h and max(pad[:2]) < w else "replicate"
    return InputFit((h, w), (hp, wp), pad, (top - mh, left - mw), (hp - 2 * mh, wp - 2 * mw), mode)


def _padded(batch: torch.Tensor, fit: InputFit | None) -> torch.Tensor:
    return batch if fit is None else F.pad(batch, fit.pad, mode=fit.mode)


def _cropped(logits: torch.Tensor, fit: InputFit | None) -> torch.Tensor:
    if fit is None:
        return logits
    if tuple(logits.shape[-2:]) != fit.output:  # a coarser output than the shapes-only run said: back to its grid first
        logits = F.interpolate(logits.float(), size=fit.output, mode="bilinear", align_corners=False)
    (h, w), (top, left) = fit.size, fit.crop
    return logits[..., top : top + h, left : left + w]


def _classifier_as_conv(model: nn.Module, features: torch.Tensor) -> torch.Tensor:
    """FCN's "convolutionalization": the Linear classifier as a 1x1 convolution. (B, C, h, w) -> (B, K, h, w)."""
    linear: nn.Linear = model.classifier
    return F.conv2d(features, linear.weight[:, :, None, None], linear.bias)


def segmentation_logits(output: torch.Tensor | Mapping[str, torch.Tensor]) -> torch.Tensor:
    """(B, K, H, W) logits from a segmentation model's output (torchvision's return ``{"out": ..., "aux": ...}``)."""
    logits = output["out"] if isinstance(output, Mapping) else output
    if logits.dim() != 4:
        raise InvalidInputError(f"Expected segmentation logits (B, K, H, W); got shape {tuple(logits.shape)}.")
    return logits


def _resize_labels(labels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Labels at the photo's ``size`` = (width, height), nearest neighbour."""
    if labels.shape == (size[1], size[0]):
        return labels
    return np.asarray(Image.fromarray(labels).resize(size, Image.Resampling.NEAREST)).astype(np.uint16, copy=False)


def _resize_confidence(confidence: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Confidence at the photo's ``size`` = (width, height), bilinear, kept in 0..1."""
    if confidence.shape == (size[1], size[0]):
        return confidence
    return np.clip(np.asarray(Image.fromarray(confidence, mode="F").resize(size, Image.Resampling.BILINEAR)), 0, 1)


def segment(
    image: Image.Image,
    spec: ModelSpec | str,
    *,
    model: nn.Module | None = None,
    decode_ms: float = 0.0,
    coarse_short_side: int = COARSE_SHORT_SIDE,
) -> SegmentationResult:
    """Label every pixel of ``image`` (an RGB photo) with the model ``spec`` (resolved by the caller; a name is looked up).

    ``model`` is the trained model (e.g. a cached one, never modified); without it the
    weights are loaded (raising :class:`~cvcore.errors.WeightsMissingError` if absent).
    ``decode_ms`` is the caller's decode time, reported with the other stages. The
    confidence map is left for first use (:attr:`SegmentationResult.confidence`).
    """
    spec = get_spec(spec)
    _check_can_segment(spec)
    coarse = spec.task is Task.CLASSIFICATION
    plan = input_plan(spec, image.size, coarse_short_side)  # refuses unbounded work before anything is allocated
    if model is None:
        from cvcore.weights import load_model

        model = load_model(spec)
    coarse = spec.task is Task.CLASSIFICATION
    device = model_device(model)
    image = image.convert("RGB")
    width, height = image.size

    start = time.perf_counter()
    transform = transform_for(spec, resize_size=plan.short_side, crop=False if coarse else None)
    batch = transform(image).unsqueeze(0).to(device)  # (1, 3, h_in, w_in)
    input_size = tuple(batch.shape[-2:])
    fit = None if coarse or type(model) in (FCN, DeepLabV3, LRASPP) else fit_input(spec, input_size)
    batch = _padded(batch, fit)
    synchronize(device)
    preprocessed = time.perf_counter()

    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.float16, enabled=device.type == "cuda"):
        if coarse:
            logits = _classifier_as_conv(model, model.forward_features(batch))  # (1, K, h, w), stride 32
            on_grid = False
        else:
            # On CUDA the model's own upsample (fp16, CUDA's kernel) is cheap and the labels stay its own.
            logits = grid_logits(model, batch) if device.type == "cpu" else None  # (1, K, h, w), stride 8
            on_grid = logits is not None
            if not on_grid:
                logits = _cropped(segmentation_logits(model(batch)), fit)  # (1, K, h_in, w_in)
    synchronize(device)
    forwarded = time.perf_counter()

    scores = logits[0].float().cpu().numpy()  # (K, h, w)
    labels, compute_confidence, evaluated = _labels_and_confidence(scores, coarse, on_grid, input_size)
    labels = _resize_labels(labels, (width, height))
    labels.flags.writeable = False  # results are shared (session state, caches)
    classes = class_shares(labels, spec.categories)
    done = time.perf_counter()

    notes = _notes(scores.shape[-2:], input_size, coarse, on_grid, evaluated)
    if plan.limited:
        notes.append(plan.note())
    if fit is not None:
        from cvcore.input_sizes import size_rule

        notes.append(fit.note(spec, size_rule(spec).describe()))
    if device.type == "cuda":
        notes.append("Run on CUDA under fp16 autocast.")
    return SegmentationResult(
        model=spec.name,
        display_name=spec.display_name + (" (coarse map)" if coarse else ""),
        kind=COARSE_KIND if coarse else SEGMENTER_KIND,
        size=(width, height),
        input_size=input_size,
        output_grid=tuple(scores.shape[-2:]),
        device=str(device),
        categories=spec.categories,
        classes=classes,
        timings_ms=StageTimings(
            decode_ms, 1e3 * (preprocessed - start), 1e3 * (forwarded - preprocessed), 1e3 * (done - forwarded)
        ),
        labels=labels,
        _confidence=_OnDemandConfidence(
            lambda: _resize_confidence(compute_confidence(), (width, height)), labels, len(spec.categories)
        ),
        notes=tuple(notes),
        evaluated_fraction=evaluated,
    )


def input_plan(spec: ModelSpec, photo_size: tuple[int, int], coarse_short_side: int = COARSE_SHORT_SIDE) -> ResizePlan:
    """How a ``(width, height)`` photo is resized for ``spec`` (short side kept, aspect ratio kept), within cvlens's work bounds.

    Raises :class:`~cvcore.input_sizes.InputTooLargeError` for a strip-like photo; scales an
    input beyond :data:`~cvcore.input_sizes.MAX_INPUT_PIXELS` down (the result's notes say so).
    """
    coarse = spec.task is Task.CLASSIFICATION
    return plan_resize(photo_size, coarse_short_side if coarse else spec.preprocessing.resize_size)


def _labels_and_confidence(
    scores: np.ndarray, coarse: bool, on_grid: bool, input_size: tuple[int, int]
) -> tuple[np.ndarray, Callable[[], np.ndarray], float | None]:
    """(labels, a function giving the confidence map at the labels' size, evaluated fraction) from (K, h, w) logits."""
    if coarse:  # nearest upsampling of the grid: its argmax is the labels
        return scores.argmax(axis=0).astype(np.uint16), lambda: top_class(scores)[1], None
    if on_grid:  # the model's own bilinear upsample, done only where it can change a label
        upsampled = upsampled_labels(scores, input_size)
        return upsampled.labels, lambda: top_class_parallel(upsample_logits(scores, input_size))[1], upsampled.evaluated_fraction
    labels, confidence = top_class_parallel(scores)  # full-resolution logits from an unknown model
    return labels, lambda: confidence, 1.0


def _notes(grid: tuple[int, int], input_size: tuple[int, int], coarse: bool, on_grid: bool, evaluated: float | None) -> list[str]:
    if coarse:
        return [
            f"Coarse map: the classifier applied at each of {grid[0]}x{grid[1]} positions of its last feature map (Long et al. 2015, FCN, Figure 2)."
        ]
    if on_grid:
        how = (
            "every pixel evaluated (the full upsample: too many class boundaries to skip)"
            if evaluated == 1
            else f"evaluated pixel by pixel only where the top class can change ({100 * evaluated:.1f}% of the pixels)"
        )
        return [
            f"Labels: the argmax of the model's {grid[0]}x{grid[1]} logit grid upsampled bilinearly to "
            f"{input_size[0]}x{input_size[1]}, as the model's own output; {how}."
        ]
    return []


def class_shares(labels: np.ndarray, categories: Sequence[str]) -> list[ClassShare]:
    """Classes present in ``labels``, largest first, with their pixel share."""
    counts = np.bincount(labels.reshape(-1), minlength=len(categories))
    palette = palette_for(categories)
    present = np.flatnonzero(counts)
    present = present[np.argsort(-counts[present], kind="stable")]
    total = labels.size
    return [
        ClassShare(int(k), categories[k], float(counts[k] / total), int(counts[k]), tuple(int(c) for c in palette[k]))
        for k in present
    ]


# --- pictures ------------------------------------------------------------------------------------


def colorize(result: SegmentationResult) -> np.ndarray:
    """(H, W, 3) uint8: each pixel in its class's palette colour."""
    if len(result.categories) <= 256:  # Pillow's palette lookup (C) is ~5x faster than NumPy's fancy indexing
        indexed = Image.fromarray(result.labels.astype(np.uint8), mode="P")
        indexed.putpalette(_palette_bytes(tuple(result.categories)))
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
    if has_background(result.categories):
        blended = Image.composite(blended, photo, Image.fromarray(result.labels != 0))  # bool -> mode "1" mask
    return np.asarray(blended)


def _as_rgb_array(image: Image.Image | np.ndarray, size: tuple[int, int]) -> np.ndarray:
    array = np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image)
    if array.shape[:2] != (size[1], size[0]):
        raise InvalidInputError(f"The photo is {array.shape[1]}x{array.shape[0]} but the result is for {size[0]}x{size[1]}.")
    return array[..., :3]


def legend(result: SegmentationResult) -> list[dict]:
    """One row per class present: name, colour (hex), share in %, mean confidence (computes the confidence map on first use)."""
    mean_confidence = result.class_confidence()
    return [
        {
            "class": c.name,
            "color": "#{:02x}{:02x}{:02x}".format(*c.color),
            "share_pct": 100 * c.share,
            "mean_confidence": mean_confidence[c.index],
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


def label_mask_png(result: SegmentationResult) -> bytes:
    """The label map as a PNG whose pixel values are the class indices.

    Up to 256 classes: a palette PNG with the overlay's colours (VOC's for VOC classes, as VOC ships its ground truth);
    more (ImageNet's 1000): a 16-bit greyscale PNG.
    """
    buffer = io.BytesIO()
    if len(result.categories) <= 256:
        mask = Image.fromarray(result.labels.astype(np.uint8), mode="P")
        mask.putpalette(list(_palette_bytes(tuple(result.categories))))
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
