"""Effective receptive fields: tests that could fail, against the paper's table and plain autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cvcore.analysis.erf import (
    MAX_IMAGES,
    catalogue_erf,
    effective_receptive_field,
    erf_png,
    erf_record,
    images_batch,
    mass_side,
    sample_images,
)
from cvcore.errors import InvalidInputError
from cvcore.papers.dilated import DilationStack, context_stack, erf_examples
from cvcore.papers.published import CONTEXT_TABLE1
from cvcore.registry import get_spec

SIZE = (128, 128)


@pytest.fixture(scope="module")
def batch():
    return images_batch(sample_images(), SIZE)


def test_positive_linear_context_stack_reaches_exactly_its_theoretical_field(batch):
    """Yu & Koltun 2016, Table 1: fields 3, 5, 9, 17, 33, 65, 67 for dilations 1, 1, 2, 4, 8, 16, 1."""
    stack = context_stack(positive=True)
    table = [rf for k, _, rf in CONTEXT_TABLE1 if k == 3]
    assert table == [3, 5, 9, 17, 33, 65, 67]
    for i, rf in enumerate(table):
        result = effective_receptive_field(stack, str(i), batch)
        assert result.extent_px == (rf, rf) == result.theoretical_rf_px
        assert result.hole_fraction == 0.0 and not result.gridding
        assert result.mass50_side_px <= result.mass90_side_px <= rf


def _dilated_box_convolution(dilations) -> np.ndarray:
    """What a linear stack of all-equal 3x3 kernels does to one pixel, by scipy: the composed kernel."""
    from scipy.signal import convolve2d

    kernel = np.ones((1, 1))
    for d in dilations:
        tap = np.zeros((2 * d + 1, 2 * d + 1))
        tap[::d, ::d] = 1.0
        kernel = convolve2d(kernel, tap)
    return kernel


@pytest.mark.parametrize("dilations", [(1, 1, 2, 4, 8, 16, 1), (2, 2, 2), (1, 2, 5)])
def test_the_gradient_of_a_linear_stack_is_its_composed_kernel(batch, dilations):
    result = effective_receptive_field(DilationStack(dilations), str(len(dilations) - 1), batch)
    kernel = _dilated_box_convolution(dilations)
    k = kernel.shape[0] // 2
    cy, cx = (int(v) for v in result.centre_px)
    window = result.gradient[cy - k : cy + k + 1, cx - k : cx + k + 1]
    np.testing.assert_allclose(window / window.sum(), kernel / kernel.sum(), rtol=1e-4, atol=1e-9)
    assert result.gradient.sum() == pytest.approx(window.sum())  # nothing outside the field


def test_dilations_2_2_2_grid_and_1_2_5_do_not(batch):
    grid = effective_receptive_field(DilationStack((2, 2, 2)), "2", batch)
    hdc = effective_receptive_field(DilationStack((1, 2, 5)), "2", batch)
    # 2-2-2: taps at even offsets only, -6..6 on each axis: 7 x 7 of the 13 x 13 field are reached.
    assert grid.extent_px == grid.theoretical_rf_px == (13, 13)
    assert grid.hole_fraction == pytest.approx(1 - 49 / 169) and grid.gridding and grid.grid_period_px == 2
    cy, cx = (int(v) for v in grid.centre_px)
    reached = grid.gradient[cy - 6 : cy + 7, cx - 6 : cx + 7] > 0
    assert reached[::2, ::2].all() and not reached[1::2, :].any() and not reached[:, 1::2].any()
    # 1-2-5 (hybrid dilated convolution): 1 + 2 + 4 + 10 = 17, every pixel reached.
    assert hdc.extent_px == hdc.theoretical_rf_px == (17, 17)
    assert hdc.hole_fraction == 0.0 and not hdc.gridding


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 5, 3, stride=2, padding=1), nn.ReLU())
        self.head = nn.Linear(5, 2)

    def forward(self, x):
        return self.head(self.body(x).mean((2, 3)))


def test_gradient_matches_plain_autograd_and_the_shared_model_is_untouched():
    from cvcore.attribution.isolation import modules_with_hooks

    torch.manual_seed(0)
    model = Tiny()  # left in training mode on purpose: the ERF must not change that
    images = torch.randn(3, 3, 20, 20)
    result = effective_receptive_field(model, "body", images, unit=(4, 6))
    x = images.clone().requires_grad_(True)
    model.eval()
    out = model.body(x)[:, :, 4, 6].sum()
    (grad,) = torch.autograd.grad(out, x)
    model.train()
    np.testing.assert_allclose(result.gradient, grad.abs().sum(1).mean(0).numpy(), rtol=1e-5, atol=1e-8)
    assert result.layer_shape == (5, 10, 10) and result.unit == (4, 6) and result.images == 3
    assert not modules_with_hooks(model) and model.training
    assert all(p.grad is None and p.requires_grad for p in model.parameters())
    with pytest.raises(InvalidInputError, match="outside"):
        effective_receptive_field(model, "body", images, unit=(10, 0))
    assert not modules_with_hooks(model)  # also after an error


def test_mass_side_against_brute_force():
    rng = np.random.default_rng(0)
    gradient = np.zeros((31, 31))
    gradient[5:26, 5:26] = rng.random((21, 21)) * np.outer(np.hanning(21), np.hanning(21))
    for level in (0.5, 0.9):
        expected = next(
            s
            for s in range(1, 32, 2)
            if gradient[15 - s // 2 : 16 + s // 2, 15 - s // 2 : 16 + s // 2].sum() >= level * gradient.sum()
        )
        assert mass_side(gradient, (15.0, 15.0), level) == expected


def test_bad_requests_are_refused_with_a_message():
    model = Tiny().eval()
    with pytest.raises(InvalidInputError, match=f"1 to {MAX_IMAGES} images"):
        effective_receptive_field(model, "body", torch.zeros(MAX_IMAGES + 1, 3, 16, 16))
    with pytest.raises(InvalidInputError, match="between 8 and"):
        effective_receptive_field(model, "body", torch.zeros(1, 3, 2048, 16))
    with pytest.raises(InvalidInputError, match="not in this model"):
        effective_receptive_field(model, "nope", torch.zeros(1, 3, 16, 16))
    with pytest.raises(InvalidInputError, match="feature map"):
        effective_receptive_field(model, "head", torch.zeros(1, 3, 16, 16))


def test_trained_and_random_init_for_a_model_with_bundled_weights():
    spec = get_spec("efficientnet_lite0")
    report = catalogue_erf(spec, "stages.1", sample_images(2), input_size=(96, 96))
    random, trained = report.results
    assert random.weights.startswith("random init") and trained.weights == "trained" and not report.notes
    assert random.theoretical_rf_px == trained.theoretical_rf_px  # the architecture fixes the field ...
    assert not np.allclose(random.gradient, trained.gradient)  # ... the weights how it is used
    record = erf_record(trained)
    assert record["images"] == 2 and record["input_size"] == [96, 96] and "gradient" not in record


def test_a_model_without_weights_here_says_so():
    report = catalogue_erf(get_spec("resnet18"), "layer1", sample_images(1), input_size=(64, 64))
    assert [r.weights for r in report.results] == ["random init (seed 0)"]
    assert "No trained weights for ResNet-18" in report.notes[0]


def test_papers_example_and_its_png():
    examples = erf_examples(sample_images(1))
    grids = [r.gridding for r in examples.values()]
    assert grids == [False, True, False]  # one photo: the ReLUs' holes in the context network are no lattice
    context = next(iter(examples.values()))
    assert context.theoretical_rf_px == (67, 67) and context.extent_px[0] <= 67
    png = erf_png(list(examples.values()), "caption", labels=list(examples))
    assert png.startswith(b"\x89PNG")


def test_log_scale_keeps_zeros_and_spans_the_decades():
    from cvcore.analysis.erf import LOG_DECADES, display_values

    gradient = np.array([[0.0, 1e-6, 1e-2], [1.0, 2.0, 0.5]])
    linear, logged = display_values(gradient), display_values(gradient, log_scale=True)
    assert linear.max() == 1.0 and linear[0, 0] == 0.0
    assert logged[0, 0] == 0.0 and logged[1, 1] == 1.0
    assert logged[0, 2] == pytest.approx((np.log10(0.5e-2) + LOG_DECADES) / LOG_DECADES)
    assert 0 < logged[0, 1] < 0.01  # below the shown decades: the faintest colour, not a hole
