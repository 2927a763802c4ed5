"""Error bars over images: percentile bootstrap intervals, paired differences, McNemar's test.

A dataset is a sample of images, so a metric measured on it is an estimate. The bootstrap
redraws ``n`` images with replacement from the ``n`` evaluated, recomputes the dataset-level
metric on each redraw, and reads the 2.5 % and 97.5 % quantiles of those values (the
percentile interval, Efron & Tibshirani 1993, ch. 13). The metric is always recomputed the
way the headline number is: for segmentation the per-image confusion counts of the
redrawn images are summed and mIoU computed from the sum, so it stays a dataset-level
mIoU, not a mean of per-image IoUs.

Draws are those of ``scipy.stats.bootstrap(..., method="percentile", rng=default_rng(seed),
batch=...)``: ``rng.integers(0, n, (batch, n))`` batch after batch, so a result can be
reproduced with scipy from the per-image numbers (the tests do). Only NumPy runs here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from cvcore.errors import InvalidInputError

CONFIDENCE_LEVEL = 0.95
DEFAULT_RESAMPLES = 1000
# 10 000 redraws of 50 000 ImageNet images are 5e8 index draws: seconds, not minutes.
MAX_RESAMPLES = 10_000
# Index draws per batch (int64): 2**20 is 8 MiB; with the statistics' temporaries about 25 MiB at ImageNet-val scale,
# and faster than larger batches (they fall out of the cache).
MAX_DRAWS_PER_BATCH = 2**20
METHOD = "percentile bootstrap over images"

# statistic(indices) -> values: indices (b, n) of the images in each of b redraws; values (b, m).
Statistic = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class BootstrapSettings:
    resamples: int = DEFAULT_RESAMPLES  # 0: no interval
    seed: int = 0
    level: float = CONFIDENCE_LEVEL

    def __post_init__(self) -> None:
        if isinstance(self.resamples, bool) or not isinstance(self.resamples, int) or not 0 <= self.resamples <= MAX_RESAMPLES:
            raise InvalidInputError(
                f"The number of bootstrap resamples must be an integer from 0 to {MAX_RESAMPLES}; got {self.resamples!r}."
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise InvalidInputError(f"The bootstrap seed must be a non-negative integer; got {self.seed!r}.")
        if not 0.5 <= self.level < 1:
            raise InvalidInputError(f"The confidence level must be at least 0.5 and below 1; got {self.level!r}.")

    def batch_size(self, n: int) -> int:
        """Redraws per batch: as many as keep ``batch x n`` index draws within :data:`MAX_DRAWS_PER_BATCH`."""
        return max(1, min(self.resamples, MAX_DRAWS_PER_BATCH // max(n, 1)))


@dataclass(frozen=True)
class Estimate:
    """A measured value with its bootstrap interval (``low``/``high`` None when none was computed)."""

    value: float
    low: float | None = None
    high: float | None = None

    @property
    def has_interval(self) -> bool:
        return self.low is not None and self.high is not None

    def contains(self, x: float) -> bool:
        return self.has_interval and self.low <= x <= self.high

    @property
    def half_width(self) -> float | None:
        return (self.high - self.low) / 2 if self.has_interval else None


def resample_indices(n: int, settings: BootstrapSettings) -> Iterator[np.ndarray]:
    """(b, n) image indices of each redraw, batch after batch, as scipy.stats.bootstrap draws them."""
    rng = np.random.default_rng(settings.seed)
    batch = settings.batch_size(n)
    for start in range(0, settings.resamples, batch):
        yield rng.integers(0, n, (min(batch, settings.resamples - start), n))


def bootstrap_distribution(n: int, statistic: Statistic, settings: BootstrapSettings) -> np.ndarray:
    """(resamples, m) values of ``statistic`` on each redraw of ``n`` images."""
    return np.concatenate(
        [np.asarray(statistic(indices), dtype=np.float64).reshape(len(indices), -1) for indices in resample_indices(n, settings)]
    )


def percentile_interval(distribution: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Low and high quantiles along the redraws (axis 0), NumPy's default ("linear") rule as scipy's."""
    alpha = (1 - level) / 2
    low, high = np.quantile(distribution, [alpha, 1 - alpha], axis=0)
    return low, high


def estimates(n: int, statistic: Statistic, settings: BootstrapSettings) -> list[Estimate]:
    """The statistic on all ``n`` images plus its percentile interval, one :class:`Estimate` per output column.

    No interval with ``settings.resamples == 0`` or fewer than two images (scipy refuses those too);
    an interval whose bounds are not finite (a metric undefined on some redraws) is dropped.
    """
    values = np.asarray(statistic(np.arange(n)[None, :]), dtype=np.float64).reshape(-1)
    if settings.resamples == 0 or n < 2:
        return [Estimate(float(v)) for v in values]
    low, high = percentile_interval(bootstrap_distribution(n, statistic, settings), settings.level)
    return [
        Estimate(float(v), float(lo), float(hi)) if math.isfinite(lo) and math.isfinite(hi) else Estimate(float(v))
        for v, lo, hi in zip(values, low, high)
    ]


def counts_per_image(indices: np.ndarray, n: int) -> np.ndarray:
    """(b, n) float64: how often each image occurs in each redraw (so sums over a redraw are ``counts @ per_image``)."""
    b = len(indices)
    flat = (np.arange(b)[:, None] * n + indices).reshape(-1)
    return np.bincount(flat, minlength=b * n).reshape(b, n).astype(np.float64)


# --- two models on the same images ------------------------------------------------------------------


@dataclass(frozen=True)
class McNemar:
    """McNemar's exact test on paired right/wrong outcomes: does one model get more images right?"""

    only_a: int  # images A gets right and B wrong
    only_b: int  # images B gets right and A wrong
    p_value: float  # two-sided, exact binomial on the discordant pairs


def mcnemar_exact(a_correct: np.ndarray, b_correct: np.ndarray) -> McNemar:
    """Two-sided exact McNemar test (binomial, p = 1/2, on the images where exactly one model is right).

    The standard test for two classifiers scored on one test set (Dietterich 1998): it uses
    only the discordant images, needs no resampling, and is exact for small counts.
    Computed in log space, so 50 000 discordant images cost nothing.
    """
    a_correct, b_correct = np.asarray(a_correct, dtype=bool), np.asarray(b_correct, dtype=bool)
    if a_correct.shape != b_correct.shape:
        raise InvalidInputError(f"Paired outcomes differ in length ({a_correct.shape} vs {b_correct.shape}).")
    only_a = int((a_correct & ~b_correct).sum())
    only_b = int((~a_correct & b_correct).sum())
    return McNemar(only_a, only_b, _binomial_two_sided(min(only_a, only_b), only_a + only_b))


def _binomial_two_sided(k: int, n: int) -> float:
    """P(X <= k) + P(X >= n - k) for X ~ Binomial(n, 1/2), k <= n/2 (the distribution is symmetric)."""
    if n == 0:
        return 1.0
    log_terms = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) - n * math.log(2) for i in range(k + 1)]
    top = max(log_terms)
    tail = math.exp(top) * sum(math.exp(t - top) for t in log_terms)
    return min(1.0, 2 * tail)
