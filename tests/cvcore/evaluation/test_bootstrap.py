"""The bootstrap engine against scipy.stats.bootstrap (same draws, several batches); McNemar against scipy's binomial test."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from cvcore.errors import InvalidInputError
from cvcore.evaluation import bootstrap as bs
from cvcore.evaluation.bootstrap import BootstrapSettings, counts_per_image, estimates, mcnemar_exact


@pytest.mark.parametrize("draws_per_batch", [bs.MAX_DRAWS_PER_BATCH, 7 * 37])  # one batch; 7 redraws a batch
def test_mean_interval_equals_scipy_in_batches(monkeypatch, draws_per_batch):
    monkeypatch.setattr(bs, "MAX_DRAWS_PER_BATCH", draws_per_batch)
    values = np.random.default_rng(5).normal(size=37)
    settings = BootstrapSettings(resamples=999, seed=11, level=0.9)
    (estimate,) = estimates(37, lambda indices: values[indices].mean(axis=1), settings)
    res = scipy.stats.bootstrap(
        (values,), np.mean, n_resamples=999, method="percentile", confidence_level=0.9,
        rng=np.random.default_rng(11), batch=settings.batch_size(37), axis=-1,
    )  # fmt: skip
    assert settings.batch_size(37) == min(999, draws_per_batch // 37)
    assert estimate.value == values.mean()
    assert (estimate.low, estimate.high) == pytest.approx(tuple(res.confidence_interval), abs=1e-12)


def test_ratio_of_sums_equals_scipy():
    """A dataset-level ratio (sum of numerators / sum of denominators), as mIoU and pixel accuracy are."""
    rng = np.random.default_rng(2)
    numerators, denominators = rng.integers(0, 50, 25), rng.integers(50, 100, 25)
    stacked = np.stack([numerators, denominators], axis=1).astype(float)

    def ours(indices):
        sums = counts_per_image(indices, 25) @ stacked
        return sums[:, 0] / sums[:, 1]

    (estimate,) = estimates(25, ours, BootstrapSettings(2000, seed=4))
    res = scipy.stats.bootstrap(
        (numerators, denominators), lambda a, b, axis: a.sum(axis) / b.sum(axis), paired=True, n_resamples=2000,
        method="percentile", rng=np.random.default_rng(4),
    )  # fmt: skip
    assert estimate.value == pytest.approx(numerators.sum() / denominators.sum())
    assert (estimate.low, estimate.high) == pytest.approx(tuple(res.confidence_interval), abs=1e-12)


def test_interval_covers_the_truth_about_95_percent_of_the_time():
    """A statistical check that could fail: 400 samples of 60 Bernoulli(0.7) draws; the 95% interval should cover 0.7 in ~95%."""
    rng = np.random.default_rng(0)
    covered = 0
    for trial in range(400):
        outcomes = (rng.random(60) < 0.7).astype(float)
        (estimate,) = estimates(60, lambda indices, o=outcomes: o[indices].mean(axis=1), BootstrapSettings(300, seed=trial))
        covered += estimate.contains(0.7)
    assert 0.89 <= covered / 400 <= 0.98  # the percentile interval runs a little short at n = 60


def test_no_interval_without_resamples_or_with_one_image():
    (none,) = estimates(5, lambda i: i.mean(axis=1, dtype=float), BootstrapSettings(0))
    (single,) = estimates(1, lambda i: i.mean(axis=1, dtype=float), BootstrapSettings(100))
    assert not none.has_interval and not single.has_interval and none.half_width is None


def test_settings_are_bounded():
    for bad in ({"resamples": -1}, {"resamples": bs.MAX_RESAMPLES + 1}, {"resamples": 2.5}, {"seed": -3}, {"level": 1.0}):
        with pytest.raises(InvalidInputError):
            BootstrapSettings(**bad)
    assert BootstrapSettings(10, seed=0).batch_size(10**9) == 1  # a huge dataset draws one redraw at a time


@pytest.mark.parametrize("only_a,only_b,both", [(0, 0, 10), (3, 0, 5), (12, 5, 40), (40, 61, 900), (2000, 2150, 40000)])
def test_mcnemar_equals_scipy_binomial_test(only_a, only_b, both):
    a = np.array([1] * only_a + [0] * only_b + [1] * both + [0] * 7, dtype=bool)
    b = np.array([0] * only_a + [1] * only_b + [1] * both + [0] * 7, dtype=bool)
    result = mcnemar_exact(a, b)
    assert (result.only_a, result.only_b) == (only_a, only_b)
    expected = scipy.stats.binomtest(only_a, only_a + only_b, 0.5).pvalue if only_a + only_b else 1.0
    assert result.p_value == pytest.approx(expected, rel=1e-9, abs=1e-300)
