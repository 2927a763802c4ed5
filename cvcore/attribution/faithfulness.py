"""Can we trust a map? Deletion and insertion curves (Petsiuk et al. 2018, RISE, arXiv:1806.07421).

Deletion: hide the pixels the map calls most important first and follow the
target-class probability; a faithful map makes it fall fast, so a *low* area under the
curve is good. Insertion: start from a blurred photo and put back the most important
pixels first; a *high* area is good. The same curves for a random map give the
baseline a real map has to beat (drawn at the map's own resolution, see
:func:`random_baseline`).

Whether a map *beats* the random baseline (:func:`compare_with_random`): is its AUC outside
the one-sided 95% prediction interval of one more random map's AUC, estimated from the N
random maps (mean, standard deviation, Student's t with N - 1 degrees of freedom)? The
p-value is P(T > (mean - AUC) / (sd * sqrt(1 + 1/N))), for deletion; the other way round for
insertion. N = :data:`DEFAULT_RANDOM_MAPS` = 10 keeps the bound within 20% of what infinitely
many maps would give (t = 1.83 against 1.64, times sqrt(1.1)) at a tenth of the cost of the
nonparametric rank test's 19 maps; under :data:`MIN_RANDOM_MAPS_FOR_VERDICT` the verdict is
"too few random maps" (t grows fast: 2.92 for 3 maps), never a guess. Each random map costs
2 (steps + 1) forward passes, so the count is bounded (:data:`MAX_RANDOM_MAPS`).

"Hidden" means set to 0 in the model's normalised space, i.e. the training set's mean
colour (the same baseline Integrated Gradients and Occlusion use); insertion starts
from a strongly blurred copy, which keeps the colours but no shapes. All perturbed
images of a curve go through the model in batches, without gradients, directly on the
(shared) model: a plain forward pass changes nothing on it. Those passes run in ``mode``
(:mod:`cvcore.runtime`; default exact fp32): bf16 or a compiled model make the curves
faster, and approximate only where the mode is.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cvcore.device import model_device
from cvcore.errors import InvalidInputError
from cvcore.runtime import EXACT, RuntimeMode, parse_mode, run

Progress = Callable[[float], None]

ALPHA = 0.05  # a map beats random when p <= ALPHA
DEFAULT_RANDOM_MAPS = 10  # the prediction bound's t: 1.83 (9 degrees of freedom) against 1.64 for infinitely many
MIN_RANDOM_MAPS_FOR_VERDICT = 5  # fewer: the spread itself is too uncertain to judge against (t = 2.92 for 3 maps)
MAX_RANDOM_MAPS = 99  # each map costs 2 (steps + 1) forward passes


@dataclass
class Curve:
    """Target-class probability after perturbing a growing share of the pixels."""

    fractions: np.ndarray = field(repr=False)  # (steps + 1,) share of pixels deleted / inserted, 0..1
    probs: np.ndarray = field(repr=False)  # (steps + 1,) target-class probability at each share
    auc: float  # trapezoidal area under probs over fractions, 0..1


@dataclass
class Faithfulness:
    deletion: Curve
    insertion: Curve
    maps: int = 1  # how many maps were averaged (random baselines average several)
    deletion_aucs: tuple[float, ...] = ()  # each map's own AUC (the spread of a random baseline)
    insertion_aucs: tuple[float, ...] = ()

    @property
    def deletion_auc(self) -> float:
        return self.deletion.auc

    @property
    def insertion_auc(self) -> float:
        return self.insertion.auc


def faithfulness(
    model: nn.Module,
    inputs: torch.Tensor,
    values: np.ndarray,
    target: int,
    *,
    steps: int = 20,
    batch_size: int = 16,
    blur_sigma: float = 10.0,
    progress: Progress | None = None,
    mode: RuntimeMode | str = EXACT,
) -> Faithfulness:
    """Deletion and insertion curves of one (H, W) map for class ``target`` of ``model``.

    ``inputs`` is the preprocessed image the map was computed on ((3, H, W) or (1, 3, H, W));
    higher map values mean "more important". ``steps`` is the number of equal pixel shares.
    ``mode`` is how the model runs the perturbed images (default exact fp32).
    """
    batch = as_image_batch(inputs, model)
    order = _ranking(_check_values(values, batch), seed=0)
    return _faithfulness(
        model, batch, [order], int(target), _check_steps(steps), batch_size, blur_sigma, progress, parse_mode(mode)
    )


def random_baseline(
    model: nn.Module,
    inputs: torch.Tensor,
    target: int,
    *,
    resolution: tuple[int, int] | None = None,
    maps: int = 3,
    seed: int = 0,
    steps: int = 20,
    batch_size: int = 16,
    blur_sigma: float = 10.0,
    progress: Progress | None = None,
    mode: RuntimeMode | str = EXACT,
) -> Faithfulness:
    """The same curves for ``maps`` uniformly random maps (fixed ``seed``), averaged point by point.

    ``resolution`` (h, w) is the grid the random values are drawn on before a bilinear
    upsampling to the image, as Grad-CAM's maps are; default: one value per pixel. Compare
    a map with random maps *of its own resolution*: a pixel-level random map hides
    scattered single pixels, which wrecks any image (salt-and-pepper noise is far from
    anything the model was trained on), while a coarse map hides compact regions; against
    pixel noise a coarse map would lose for its shape, not for its ranking.
    """
    batch = as_image_batch(inputs, model)
    orders = _random_orders(batch, resolution, maps, seed)
    return _faithfulness(
        model, batch, orders, int(target), _check_steps(steps), batch_size, blur_sigma, progress, parse_mode(mode)
    )


def score_maps(
    model: nn.Module,
    inputs: torch.Tensor,
    maps: Sequence[np.ndarray],
    target: int,
    *,
    random_resolutions: Sequence[tuple[int, int]] = (),
    random_maps: int = DEFAULT_RANDOM_MAPS,
    seed: int = 0,
    steps: int = 20,
    batch_size: int = 16,
    blur_sigma: float = 10.0,
    progress: Progress | None = None,
    mode: RuntimeMode | str = EXACT,
) -> tuple[list[Faithfulness], dict[tuple[int, int], Faithfulness]]:
    """:func:`faithfulness` of every map and :func:`random_baseline` at every resolution, in one stream of batches.

    The same curves as those functions give one by one (the same perturbed images and
    rankings; only which images share a forward pass differs, so values agree to
    floating-point reassociation), with every forward pass a full batch of ``batch_size``
    images: one map's 2 x (steps + 1) images alone leave a part-filled batch per curve.
    Returns (one Faithfulness per map, in order; {resolution: random baseline}).
    """
    batch = as_image_batch(inputs, model)
    steps = _check_steps(steps)
    groups = [[_ranking(_check_values(values, batch), seed=0)] for values in maps]
    resolutions = list(dict.fromkeys(tuple(int(v) for v in r) for r in random_resolutions))
    groups += [_random_orders(batch, r, random_maps, seed) for r in resolutions]
    scored = _curves(model, batch, groups, int(target), steps, batch_size, blur_sigma, progress, parse_mode(mode))
    return scored[: len(maps)], dict(zip(resolutions, scored[len(maps) :]))


def _random_orders(batch: torch.Tensor, resolution, maps: int, seed: int) -> list[np.ndarray]:
    if not 1 <= maps <= MAX_RANDOM_MAPS:
        raise InvalidInputError(f"maps must be between 1 and {MAX_RANDOM_MAPS}; got {maps}.")
    size = tuple(batch.shape[-2:])
    resolution = _check_resolution(resolution or size, size)
    generator = torch.Generator().manual_seed(seed)
    values = torch.rand(maps, 1, *resolution, generator=generator)  # (maps, 1, h, w) uniform in [0, 1)
    if resolution != size:
        values = F.interpolate(values, size=size, mode="bilinear", align_corners=False)
    return [_ranking(v[0].numpy(), seed=seed + i) for i, v in enumerate(values)]


def _faithfulness(
    model, batch, orders: list[np.ndarray], target: int, steps: int, batch_size: int, blur_sigma: float, progress,
    mode: RuntimeMode,
) -> Faithfulness:  # fmt: skip
    return _curves(model, batch, [orders], target, steps, batch_size, blur_sigma, progress, mode)[0]


def _curves(
    model, batch, groups: list[list[np.ndarray]], target: int, steps: int, batch_size: int, blur_sigma: float, progress,
    mode: RuntimeMode,
) -> list[Faithfulness]:  # fmt: skip
    """One Faithfulness per group of rankings (their curves averaged), every perturbed image in batches of ``batch_size``."""
    if not 1 <= int(batch_size) <= 1024:
        raise InvalidInputError(f"batch_size must be between 1 and 1024; got {batch_size}.")
    fractions = np.linspace(0.0, 1.0, steps + 1)
    hidden = torch.zeros_like(batch)  # the mean colour in normalised space
    blurred = gaussian_blur(batch, blur_sigma)
    directions = ((batch, hidden), (blurred, batch))  # (start from, fill the perturbed pixels with): deletion, insertion
    orders = [order for group in groups for order in group]
    masks = [_masks(order, fractions, batch.shape[-2:], batch.device) for order in orders]  # (steps + 1, 1, H, W) each
    images = [(o, d, f) for o in range(len(orders)) for d in range(2) for f in range(steps + 1)]  # curve point order
    probs = []
    for start in range(0, len(images), batch_size):
        chunk = images[start : start + batch_size]
        perturbed = torch.cat([torch.where(masks[o][f : f + 1], directions[d][1], directions[d][0]) for o, d, f in chunk])
        probs.append(_target_prob(model, perturbed, target, mode))
        if progress:
            progress((start + len(chunk)) / len(images))
    points = torch.cat(probs).numpy().reshape(len(orders), 2, steps + 1)  # (order, deletion/insertion, fraction)
    scored, first = [], 0
    for group in groups:
        curves = points[first : first + len(group)]
        first += len(group)
        scored.append(
            Faithfulness(
                _curve(fractions, curves[:, 0].mean(axis=0)),
                _curve(fractions, curves[:, 1].mean(axis=0)),
                len(group),
                tuple(_curve(fractions, p).auc for p in curves[:, 0]),
                tuple(_curve(fractions, p).auc for p in curves[:, 1]),
            )
        )
    return scored


@dataclass(frozen=True)
class Verdict:
    """One score of a map against the random maps of its resolution: did it beat them, and by how much."""

    score: str  # "deletion" (lower is better) or "insertion" (higher is better)
    auc: float
    random_mean: float
    random_std: float  # sample standard deviation over the random maps (0 for one map)
    random_maps: int
    beaten: int  # random maps this map is strictly better than
    p_value: float  # one-sided: a new random map's AUC at least this good, from Student's t (see the module docstring)

    @property
    def decidable(self) -> bool:
        """Enough random maps for their spread to judge against."""
        return self.random_maps >= MIN_RANDOM_MAPS_FOR_VERDICT

    @property
    def beats_random(self) -> bool:
        return self.decidable and self.p_value <= ALPHA

    @property
    def outcome(self) -> str:
        if not self.decidable:
            return f"too few random maps to tell ({self.random_maps}; at least {MIN_RANDOM_MAPS_FOR_VERDICT})"
        return "beats random" if self.beats_random else "does not beat random"

    def describe(self) -> str:
        """ "deletion AUC 0.081 vs random 0.312 ± 0.041 (10 maps): better than 10 of 10, p = 0.000: beats random"."""
        return (
            f"{self.score} AUC {self.auc:.3f} vs random {self.random_mean:.3f} ± {self.random_std:.3f} ({self.random_maps} maps): "
            f"better than {self.beaten} of {self.random_maps}, p = {self.p_value:.3f}: {self.outcome}"
        )


def compare_with_random(scores: Faithfulness, random: Faithfulness) -> tuple[Verdict, Verdict]:
    """(deletion, insertion) verdicts of one map's scores against a random baseline's per-map AUCs."""
    if not random.deletion_aucs or len(random.deletion_aucs) != random.maps:
        raise InvalidInputError("The random baseline has no per-map AUCs; compute it with random_baseline().")
    return (
        _verdict("deletion", scores.deletion_auc, random.deletion_aucs, lower_is_better=True),
        _verdict("insertion", scores.insertion_auc, random.insertion_aucs, lower_is_better=False),
    )


def _verdict(score: str, auc: float, randoms: tuple[float, ...], lower_is_better: bool) -> Verdict:
    values = np.asarray(randoms, dtype=np.float64)
    n = len(values)
    beaten = int((values > auc).sum() if lower_is_better else (values < auc).sum())
    mean = float(values.mean())
    std = float(values.std(ddof=1)) if n > 1 else 0.0
    margin = (mean - auc) if lower_is_better else (auc - mean)  # > 0: better than the random maps' mean
    if n < 2:
        p = 1.0
    elif std == 0.0:
        p = 0.0 if margin > 0 else 1.0
    else:
        p = student_t_sf(margin / (std * np.sqrt(1 + 1 / n)), n - 1)
    return Verdict(score, float(auc), mean, std, n, beaten, p)


def student_t_sf(t: float, dof: int) -> float:
    """P(T > t) for Student's t with ``dof`` degrees of freedom (Simpson's rule on the density; |error| < 1e-9)."""
    if t < 0:
        return 1.0 - student_t_sf(-t, dof)
    nu = float(dof)
    log_norm = math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2) - 0.5 * math.log(nu * math.pi)
    x = np.linspace(0.0, t, 2001)  # an even number of intervals
    density = np.exp(log_norm - (nu + 1) / 2 * np.log1p(x * x / nu))
    area = (t / 2000 / 3) * (density[0] + density[-1] + 4 * density[1:-1:2].sum() + 2 * density[2:-1:2].sum())
    return float(max(0.0, 0.5 - area))


def _curve(fractions: np.ndarray, probs: np.ndarray) -> Curve:
    probs = probs.astype(np.float64)
    return Curve(fractions, probs, float(np.trapezoid(probs, fractions)))


def _target_prob(model: nn.Module, images: torch.Tensor, target: int, mode: RuntimeMode = EXACT) -> torch.Tensor:
    logits, _ = run(model, images, mode)
    if isinstance(logits, dict):  # torchvision segmentation models
        raise InvalidInputError("Deletion/insertion curves follow a class probability; they need a classifier.")
    return logits.float().softmax(dim=1)[:, target].cpu()


def _ranking(values: np.ndarray, seed: int) -> np.ndarray:
    """Pixel indices, most important first; ties (flat regions) broken in a fixed random order."""
    flat = values.reshape(-1)
    tiebreak = np.random.default_rng(seed).permutation(flat.size)
    return np.lexsort((tiebreak, -flat))


def _masks(order: np.ndarray, fractions: np.ndarray, size, device) -> torch.Tensor:
    h, w = size
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size)
    counts = np.rint(fractions * order.size).astype(np.int64)  # pixels perturbed at each step
    masks = rank[None, :] < counts[:, None]  # (steps + 1, H * W)
    return torch.from_numpy(masks).view(len(fractions), 1, h, w).to(device)


def gaussian_blur(batch: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur with replicated borders, same size as ``batch``."""
    radius = max(1, min(int(3 * sigma), min(batch.shape[-2:]) - 1))
    x = torch.arange(-radius, radius + 1, dtype=batch.dtype, device=batch.device)
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    c = batch.shape[1]
    padded = F.pad(batch, (radius, radius, radius, radius), mode="replicate")
    out = F.conv2d(padded, kernel.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(out, kernel.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def as_image_batch(inputs: torch.Tensor, model: nn.Module) -> torch.Tensor:
    """One preprocessed image as a detached (1, C, H, W) batch on the model's device."""
    if not isinstance(inputs, torch.Tensor) or not inputs.is_floating_point():
        raise InvalidInputError("inputs must be a float tensor (a preprocessed image).")
    batch = inputs.unsqueeze(0) if inputs.dim() == 3 else inputs
    if batch.dim() != 4 or batch.shape[0] != 1:
        raise InvalidInputError(f"inputs must be one image, (C, H, W) or (1, C, H, W); got {tuple(inputs.shape)}.")
    return batch.detach().to(model_device(model))


def _check_values(values: np.ndarray, batch: torch.Tensor) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.shape != tuple(batch.shape[-2:]):
        raise InvalidInputError(f"The map is {values.shape} but the image is {tuple(batch.shape[-2:])}.")
    if not np.isfinite(values).all():
        raise InvalidInputError("The attribution map contains NaN or infinite values.")
    return values


def _check_resolution(resolution, size) -> tuple[int, int]:
    h, w = (int(v) for v in resolution)
    if not (1 <= h <= size[0] and 1 <= w <= size[1]):
        raise InvalidInputError(f"resolution must be between 1x1 and the image's {size[0]}x{size[1]}; got {h}x{w}.")
    return h, w


def _check_steps(steps: int) -> int:
    if not 1 <= int(steps) <= 1000:
        raise InvalidInputError(f"steps must be between 1 and 1000; got {steps}.")
    return int(steps)
