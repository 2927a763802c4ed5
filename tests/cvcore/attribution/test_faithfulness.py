"""Deletion/insertion on a toy model whose evidence is known: only the left half counts."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from cvcore.attribution import faithfulness, random_baseline, score_maps
from cvcore.errors import InvalidInputError

SIZE = 16


class LeftHalfEnergy(nn.Module):
    """logit 0 = 4 * mean of x^2 over the left half; logit 1 = 2. Deleting (zeroing) or blurring the
    left half lowers class 0; the right half never matters."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(4.0))

    def forward(self, x):
        energy = x[..., : SIZE // 2].pow(2).mean(dim=(1, 2, 3))
        return torch.stack([self.scale * energy, torch.full_like(energy, 2.0)], dim=1)


@pytest.fixture
def setup():
    model = LeftHalfEnergy().eval()
    inputs = torch.randn(1, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0))
    left = np.zeros((SIZE, SIZE), dtype=np.float32)
    left[:, : SIZE // 2] = 1.0
    return model, inputs, left


def test_right_map_beats_random_beats_wrong_map(setup):
    model, inputs, left = setup
    right = 1.0 - left
    good = faithfulness(model, inputs, left, 0, steps=16, blur_sigma=4.0)
    bad = faithfulness(model, inputs, right, 0, steps=16, blur_sigma=4.0)
    rnd = random_baseline(model, inputs, 0, maps=4, steps=16, blur_sigma=4.0)
    assert good.deletion_auc < rnd.deletion_auc < bad.deletion_auc
    assert good.insertion_auc > rnd.insertion_auc > bad.insertion_auc


def test_curve_end_points_are_the_exact_probabilities(setup):
    model, inputs, left = setup
    result = faithfulness(model, inputs, left, 0, steps=8)
    with torch.no_grad():
        p_photo = float(model(inputs).softmax(1)[0, 0])
    p_deleted = 1 / (1 + math.exp(2.0))  # everything zero: logits (0, 2)
    assert result.deletion.probs[0] == pytest.approx(p_photo, abs=1e-6)
    assert result.deletion.probs[-1] == pytest.approx(p_deleted, abs=1e-6)
    assert result.insertion.probs[-1] == pytest.approx(p_photo, abs=1e-6)
    assert result.deletion.fractions[0] == 0 and result.deletion.fractions[-1] == 1 and len(result.deletion.fractions) == 9
    # The left half is gone exactly at fraction 1/2: from there on the curve is flat at p_deleted.
    assert np.allclose(result.deletion.probs[4:], p_deleted, atol=1e-6)
    assert 0 <= result.deletion_auc <= 1


def test_random_baseline_is_seeded_and_resolution_matched(setup):
    model, inputs, _ = setup
    a = random_baseline(model, inputs, 0, maps=2, seed=3, steps=8)
    b = random_baseline(model, inputs, 0, maps=2, seed=3, steps=8)
    c = random_baseline(model, inputs, 0, maps=2, seed=4, steps=8)
    assert a.deletion_auc == b.deletion_auc and a.maps == 2
    assert a.deletion_auc != c.deletion_auc
    coarse = random_baseline(model, inputs, 0, resolution=(2, 2), maps=1, steps=4)
    assert np.isfinite(coarse.deletion.probs).all()


def test_bad_maps_are_refused(setup):
    model, inputs, left = setup
    with pytest.raises(InvalidInputError, match="map is"):
        faithfulness(model, inputs, left[:8], 0)
    with pytest.raises(InvalidInputError, match="NaN"):
        faithfulness(model, inputs, np.full_like(left, np.nan), 0)
    with pytest.raises(InvalidInputError, match="resolution"):
        random_baseline(model, inputs, 0, resolution=(0, 4))


def test_verdict_is_a_prediction_bound_against_enough_random_maps(setup):
    from scipy import stats  # the independent implementation of Student's t (installed with scikit-image)

    from cvcore.attribution import DEFAULT_RANDOM_MAPS, compare_with_random

    model, inputs, left = setup
    good = faithfulness(model, inputs, left, 0, steps=8, blur_sigma=4.0)
    bad = faithfulness(model, inputs, 1.0 - left, 0, steps=8, blur_sigma=4.0)
    rnd = random_baseline(model, inputs, 0, maps=DEFAULT_RANDOM_MAPS, steps=8, blur_sigma=4.0)
    aucs = np.asarray(rnd.deletion_aucs)
    assert len(aucs) == DEFAULT_RANDOM_MAPS and aucs.mean() == pytest.approx(rnd.deletion_auc)
    deletion, insertion = compare_with_random(good, rnd)
    # The map that ranks the evidence first: far below the random maps' one-sided 95% prediction bound.
    n, sd = len(aucs), aucs.std(ddof=1)
    expected_p = stats.t.sf((aucs.mean() - good.deletion_auc) / (sd * np.sqrt(1 + 1 / n)), n - 1)
    assert deletion.p_value == pytest.approx(expected_p, abs=1e-9) and deletion.p_value < 0.05
    assert deletion.beats_random and insertion.beats_random and deletion.beaten == DEFAULT_RANDOM_MAPS
    assert deletion.random_std == pytest.approx(sd) and sd > 0
    assert "beats random" in deletion.describe() and "± " in deletion.describe()
    worst, _ = compare_with_random(bad, rnd)  # the map that ranks the evidence last beats none
    assert worst.beaten == 0 and worst.p_value > 0.5 and not worst.beats_random and worst.outcome == "does not beat random"
    few = random_baseline(model, inputs, 0, maps=3, steps=8, blur_sigma=4.0)
    (deletion, _) = compare_with_random(good, few)
    # Better than all three, but three maps cannot say how far random maps spread: no verdict.
    assert deletion.beaten == 3 and not deletion.decidable and not deletion.beats_random and "too few" in deletion.outcome


def test_student_t_tail_matches_scipy():
    from scipy import stats

    from cvcore.attribution.faithfulness import student_t_sf

    for t, dof in [(0.0, 9), (0.5, 9), (1.833, 9), (3.0, 2), (10.0, 4), (-1.2, 7), (25.0, 98)]:
        assert student_t_sf(t, dof) == pytest.approx(stats.t.sf(t, dof), abs=1e-9)


def test_random_map_count_is_bounded(setup):
    from cvcore.attribution import MAX_RANDOM_MAPS

    model, inputs, _ = setup
    with pytest.raises(InvalidInputError, match=str(MAX_RANDOM_MAPS)):
        random_baseline(model, inputs, 0, maps=MAX_RANDOM_MAPS + 1)


def test_batched_curves_equal_the_per_image_ones(tiny_net):
    """score_maps puts every map's and every random map's perturbed images through the model in full batches;
    each curve point must equal the same image's probability computed alone (batch of one)."""
    inputs = torch.randn(1, 3, 20, 20, generator=torch.Generator().manual_seed(1))
    maps = [np.random.default_rng(i).random((20, 20)).astype(np.float32) for i in range(2)]
    target, steps = 3, 6
    scores, randoms = score_maps(
        tiny_net, inputs, maps, target, random_resolutions=[(5, 5), (20, 20)], random_maps=2, steps=steps, batch_size=16
    )
    alone = [faithfulness(tiny_net, inputs, m, target, steps=steps, batch_size=1) for m in maps]
    alone_random = {r: random_baseline(tiny_net, inputs, target, resolution=r, maps=2, steps=steps, batch_size=1) for r in randoms}
    assert list(randoms) == [(5, 5), (20, 20)] and randoms[(5, 5)].maps == 2
    for got, want in [*zip(scores, alone), *((randoms[r], alone_random[r]) for r in randoms)]:
        for a, b in ((got.deletion, want.deletion), (got.insertion, want.insertion)):
            np.testing.assert_allclose(a.probs, b.probs, rtol=1e-5, atol=1e-6)  # float reassociation only
            assert a.auc == pytest.approx(b.auc, rel=1e-5, abs=1e-6)
        # each random map's own AUC too: the verdicts judge against their spread
        np.testing.assert_allclose(got.deletion_aucs, want.deletion_aucs, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got.insertion_aucs, want.insertion_aucs, rtol=1e-5, atol=1e-6)
        assert len(got.deletion_aucs) == got.maps
    # Not trivially equal: the maps rank pixels differently, so their curves differ.
    assert not np.allclose(scores[0].deletion.probs, scores[1].deletion.probs)
