"""Completeness of Integrated Gradients and Gradient SHAP, checked against Captum called directly.

Sundararajan et al. 2017: a path method's attributions add up to f(input) - f(baseline); Captum's
convergence delta is how far they miss. cvcore reports it beside every map and warns when it
is over 5%; its default IG steps meet that on the bundled photos (slow test).
"""

import numpy as np
import pytest
import torch
from captum.attr import GradientShap, IntegratedGradients
from PIL import Image

from cvcore.attribution import explain
from cvcore.attribution.core import COMPLETENESS_TOLERANCE, Completeness, path_segments
from cvcore.attribution.faithfulness import gaussian_blur
from cvcore.attribution.isolation import shadow_copy
from cvcore.errors import InvalidInputError

TARGET = 2


@pytest.fixture
def photo():
    return torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(3))


def score_difference(net, x) -> float:
    with torch.no_grad():
        return float(net(x)[0, TARGET] - net(torch.zeros_like(x))[0, TARGET])


def test_one_plain_piece_is_captums_integrated_gradients(tiny_net, photo):
    ours = explain(tiny_net, photo, "integrated_gradients", TARGET, settings={"segments": 1, "adaptive": False, "n_steps": 8})
    theirs, delta = IntegratedGradients(tiny_net).attribute(
        photo, baselines=torch.zeros_like(photo), target=TARGET, n_steps=8, method="gausslegendre", return_convergence_delta=True
    )
    # BN is folded into the convs in cvcore's copy: equal up to float rounding.
    assert ours.values == pytest.approx(theirs[0].sum(0).numpy(), abs=1e-6)
    assert ours.completeness.delta == pytest.approx(float(delta), abs=1e-6)
    assert ours.completeness.output_difference == pytest.approx(score_difference(tiny_net, photo), abs=1e-6)
    assert ours.completeness.steps == 8


def test_adaptive_pieces_add_up_to_the_whole_path(tiny_net, photo):
    ours = explain(tiny_net, photo, "integrated_gradients", TARGET)  # the defaults: pieces, refined by their deltas
    reference = (
        IntegratedGradients(tiny_net)
        .attribute(
            photo, baselines=torch.zeros_like(photo), target=TARGET, n_steps=512, method="gausslegendre", internal_batch_size=256
        )[0]
        .sum(0)
    )
    # Within 5% of the (nearly exact) 512-step map, as a whole: it stops refining once it adds up to 5%.
    error = float(torch.linalg.vector_norm(torch.from_numpy(ours.values) - reference) / torch.linalg.vector_norm(reference))
    assert error < COMPLETENESS_TOLERANCE
    # The reported delta is the map's own completeness gap, computed here without Captum.
    gap = score_difference(tiny_net, photo)
    assert float(ours.values.astype("float64").sum()) - gap == pytest.approx(ours.completeness.delta, abs=1e-6)
    assert ours.completeness.within_tolerance and not ours.notes
    assert ours.completeness.steps <= ours.settings["n_steps"] == 64


def test_path_segments_halve_toward_the_baseline():
    assert path_segments(32, 4) == [(0.0, 0.125, 8), (0.125, 0.25, 8), (0.25, 0.5, 8), (0.5, 1.0, 8)]
    assert path_segments(10, 1) == [(0.0, 1.0, 10)]
    assert [steps for *_, steps in path_segments(10, 3)] == [4, 3, 3]
    with pytest.raises(InvalidInputError, match="segments"):
        path_segments(4, 5)


def test_fewer_steps_than_segments_is_a_clear_error(tiny_net, photo):
    with pytest.raises(InvalidInputError, match="at least one step per path segment"):
        explain(tiny_net, photo, "integrated_gradients", TARGET, settings={"n_steps": 2})  # 4 segments by default


def test_gradient_shap_reports_the_mean_of_captums_per_sample_deltas(tiny_net, photo):
    settings = {"n_samples": 6, "stdevs": 0.1, "seed": 5}
    ours = explain(tiny_net, photo, "gradient_shap", TARGET, settings=settings)
    baselines = torch.cat([torch.zeros_like(photo), gaussian_blur(photo, sigma=8.0)])
    torch.manual_seed(5)
    np.random.seed(5)  # Captum draws the baselines and the points on the path with numpy
    net = shadow_copy(tiny_net, fold_batchnorm=True)  # the same arithmetic as cvcore's call, so the same noise draws
    theirs, deltas = GradientShap(net).attribute(
        photo.clone().requires_grad_(), baselines=baselines, n_samples=6, stdevs=0.1, target=TARGET, return_convergence_delta=True
    )
    assert deltas.shape == (6,) and ours.completeness.samples == 6
    assert ours.values == pytest.approx(theirs[0].sum(0).detach().numpy(), abs=1e-5)
    assert ours.completeness.delta == pytest.approx(float(deltas.mean()), abs=1e-5)


def test_gradient_shap_is_reproducible_with_its_seed(tiny_net, photo):
    first = explain(tiny_net, photo, "gradient_shap", TARGET, settings={"n_samples": 4})
    np.random.seed(123)  # whatever numpy's global state, the seed decides Captum's draws
    again = explain(tiny_net, photo, "gradient_shap", TARGET, settings={"n_samples": 4})
    assert np.array_equal(first.values, again.values) and first.completeness == again.completeness


def test_a_map_that_does_not_add_up_says_so():
    assert Completeness(0.2, 4.0).within_tolerance and Completeness(0.2, 4.0).warning() is None
    missed = Completeness(-1.0, 4.0, steps=32)
    assert missed.relative == 0.25 and not missed.within_tolerance
    assert "Completeness not met" in missed.warning() and "25%" in missed.warning() and "More steps" in missed.warning()
    assert "1/√samples" in Completeness(1.0, 4.0, samples=16).warning()
    assert "convergence delta -1.000 (25.0% of it, 32 steps)" in missed.describe()
    assert COMPLETENESS_TOLERANCE == 0.05


def test_every_path_map_carries_its_completeness_and_a_warning_when_it_misses(tiny_net, photo):
    for method, settings in (
        ("integrated_gradients", {"n_steps": 2, "segments": 1, "adaptive": False}),
        ("gradient_shap", {"n_samples": 2}),
    ):
        result = explain(tiny_net, photo, method, TARGET, settings=settings)
        assert result.completeness is not None
        assert (result.completeness.warning() in result.notes) is not result.completeness.within_tolerance
    assert explain(tiny_net, photo, "saliency", TARGET).completeness is None


@pytest.mark.slow
def test_default_steps_meet_completeness_on_every_bundled_photo():
    from cvcore.classify import classify
    from cvcore.registry import get_spec
    from cvcore.samples import get_sample, list_samples
    from cvcore.weights import load_model

    spec = get_spec("efficientnet_lite0")
    model = load_model(spec.name, device="cpu")
    for sample in list_samples():
        top = classify(model, Image.open(sample.path), spec, k=1)
        result = explain(model, top.inputs, "integrated_gradients", top.top1.index)
        assert result.completeness.within_tolerance, (sample.file, result.completeness.describe())
    # Captum's plain IG at the old default (32 equal steps) misses by far on the cat (the 37%).
    cat = classify(model, Image.open(get_sample("chelsea").path), spec, k=1)
    plain = explain(
        model, cat.inputs, "integrated_gradients", cat.top1.index, settings={"n_steps": 32, "segments": 1, "adaptive": False}
    )
    assert plain.completeness.relative > 0.2
