"""Label maps from logits: top class and probability, and the exact labels of an upsampled grid."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cvcore.errors import InvalidInputError
from cvcore.label_maps import top_class, top_class_parallel, top_label, upsampled_argmax, upsampled_labels


def test_top_class_matches_softmax_argmax():
    torch.manual_seed(0)
    logits = torch.randn(21, 40, 50)
    logits[:, 0, 0] = 1.0  # a tie: argmax takes the lowest index
    labels, confidence = top_class(logits.numpy())
    probabilities, expected = logits.softmax(0).max(0)
    assert np.array_equal(labels, expected.numpy()) and labels[0, 0] == 0
    np.testing.assert_allclose(confidence, probabilities.numpy(), atol=1e-6)


def test_banded_top_class_equals_the_single_pass():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((21, 301, 37)).astype(np.float32)  # bands of unequal height
    serial, banded = top_class(logits), top_class_parallel(logits)
    assert np.array_equal(serial[0], banded[0]) and np.array_equal(serial[1], banded[1])


# --- labels from the logit grid -------------------------------------------------------------------

TIE_MARGIN = 1e-5  # top-2 gap under which float rounding (fused multiply-adds or not) may pick either class


def upsample(grid: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(torch.from_numpy(grid)[None], size=size, mode="bilinear", align_corners=False)[0]


def near_ties(logits: torch.Tensor) -> np.ndarray:
    """(H, W) bool: where the two largest of (K, H, W) logits are closer than TIE_MARGIN."""
    top2 = logits.topk(2, dim=0).values
    return (top2[0] - top2[1]).numpy() < TIE_MARGIN * max(1.0, float(logits.abs().max()))


def assert_argmax_up_to_ties(labels: np.ndarray, logits: torch.Tensor) -> None:
    expected = logits.argmax(0).numpy()
    ties = near_ties(logits)
    assert labels.dtype == np.uint16 and labels.shape == expected.shape
    assert not ((labels != expected) & ~ties).any()
    assert ties.mean() < 1e-3


def smooth_blobs(num_classes: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    """A (K, h, w) grid like a segmenter's: each class a bump somewhere, little noise, large regions of one class."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    grid = 0.05 * rng.standard_normal((num_classes, h, w))
    for k in range(num_classes):
        cy, cx, sigma = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(1.5, max(2.0, h / 3))
        grid[k] += 4 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2))
    return grid.astype(np.float32)


@pytest.mark.parametrize(
    ("grid_size", "size"),
    [
        ((65, 65), (520, 520)),  # LR-ASPP at 520 px: stride 8
        ((33, 49), (260, 390)),  # odd grid, non-integer scale
        ((13, 17), (101, 67)),  # odd output, scales 7.8 and 3.9
        ((40, 30), (17, 23)),  # output smaller than the grid
        ((1, 9), (5, 70)),
        ((9, 1), (70, 5)),
        ((6, 6), (6, 6)),  # same size: a copy
    ],
)
def test_upsampled_argmax_equals_interpolate_then_argmax(grid_size, size):
    grid = smooth_blobs(21, *grid_size)
    result = upsampled_labels(grid, size)
    assert_argmax_up_to_ties(result.labels, upsample(grid, size))
    assert np.array_equal(upsampled_argmax(grid, size), result.labels)
    if grid_size[0] * grid_size[1] > 100 and size[0] > grid_size[0]:  # big enough to have boundary-free cells
        assert 0 < result.evaluated_fraction < 0.6


def test_noise_falls_back_to_the_full_upsample():
    grid = np.random.default_rng(1).standard_normal((21, 33, 41)).astype(np.float32)
    result = upsampled_labels(grid, (264, 328))
    assert result.evaluated_fraction == 1.0
    assert_argmax_up_to_ties(result.labels, upsample(grid, (264, 328)))


def test_exact_ties_go_to_the_lowest_class_and_constant_grids_need_no_work():
    grid = smooth_blobs(6, 12, 14)
    grid[4] = grid[2] = grid.max(axis=0) + 1  # classes 2 and 4 tie everywhere, above the others
    assert (upsampled_argmax(grid, (50, 61)) == 2).all()
    constant = np.zeros((3, 8, 8), dtype=np.float32)
    constant[1] = 2.0
    result = upsampled_labels(constant, (64, 64))
    assert (result.labels == 1).all() and result.evaluated_fraction == 0.0
    assert (upsampled_argmax(np.ones((1, 4, 4), dtype=np.float32), (9, 9)) == 0).all()


def test_upsampled_argmax_refuses_malformed_input():
    for logits, size in [(np.zeros((4, 4)), (8, 8)), (np.zeros((3, 0, 4)), (8, 8)), (np.zeros((3, 4, 4)), (0, 8))]:
        with pytest.raises(InvalidInputError, match="Expected"):
            upsampled_argmax(logits.astype(np.float32), size)


def test_non_finite_logits_follow_torch():
    grid = smooth_blobs(4, 10, 10)
    grid[2, 3, 3] = np.inf
    expected = upsample(grid, (40, 40)).argmax(0).numpy()
    assert np.array_equal(upsampled_argmax(grid, (40, 40)), expected)


def test_top_label_is_argmax_with_ties_to_the_lowest_index():
    grid = smooth_blobs(5, 20, 30)
    grid[3, :2] = grid[1, :2] = grid.max() + 1
    labels = top_label(grid)
    assert labels.dtype == np.uint16 and np.array_equal(labels, grid.argmax(0)) and (labels[:2] == 1).all()


def _emulated_upsample(grid: np.ndarray, size: tuple[int, int], fused: bool) -> np.ndarray:
    """Every pixel through label_maps' emulation of aten's taps and rounding (the per-cell path uses the same pieces)."""
    from cvcore.label_maps import _lerp, _linear_taps

    rows, cols = _linear_taps(grid.shape[1], size[0], fused), _linear_taps(grid.shape[2], size[1], fused)
    upper, lower = grid[:, rows.i0], grid[:, rows.i1]
    top = _lerp(upper[:, :, cols.i0], cols.w0, upper[:, :, cols.i1], cols.w1, fused)
    bottom = _lerp(lower[:, :, cols.i0], cols.w0, lower[:, :, cols.i1], cols.w1, fused)
    return _lerp(top, rows.w0[:, None], bottom, rows.w1[:, None], fused)


@pytest.mark.parametrize(("grid_size", "size"), [((65, 65), (520, 520)), ((33, 49), (260, 390)), ((65, 87), (520, 693))])
def test_the_emulation_reproduces_torchs_upsample_bit_for_bit(grid_size, size):
    from cvcore.label_maps import aten_rounding

    rounding = aten_rounding()
    assert rounding in ("fused", "unfused")  # None would mean labels may differ from torch's at exact ties
    grid = 5 * np.random.default_rng(0).standard_normal((21, *grid_size)).astype(np.float32)
    expected = upsample(grid, size).numpy()
    assert np.array_equal(_emulated_upsample(grid, size, fused=rounding == "fused"), expected)
    # The other rounding is off in the last bit for many values: the comparison above has teeth.
    assert not np.array_equal(_emulated_upsample(grid, size, fused=rounding != "fused"), expected)


def test_labels_equal_torchs_bit_for_bit_where_ties_are_common():
    """Logits on a coarse lattice (multiples of 1/4) tie exactly after interpolation: only an exact emulation of
    aten's indices, weights and rounding gives torch's labels everywhere, with no tolerance."""
    per_cell_with_ties = 0
    for seed in range(8):
        rng = np.random.default_rng(seed)
        num_classes, (h, w) = int(rng.integers(2, 22)), rng.integers(9, 40, size=2)
        grid = (np.round(smooth_blobs(num_classes, int(h), int(w), seed) * 16) / 4).astype(np.float32)
        size = (int(h * rng.uniform(2, 9)), int(w * rng.uniform(2, 9)))
        result, expected = upsampled_labels(grid, size), upsample(grid, size)
        assert np.array_equal(result.labels, expected.argmax(0).numpy()), f"seed {seed}"
        top2 = expected.topk(2, dim=0).values
        per_cell_with_ties += result.evaluated_fraction < 1 and bool((top2[0] == top2[1]).any())
    assert per_cell_with_ties >= 3  # the per-cell path really met exact ties (not only the full fallback)


def test_tiny_logits_leave_the_shortcut_to_torch():
    grid = smooth_blobs(4, 10, 12) * np.float32(1e-38)  # subnormal: float32 rounding is no longer relative
    result = upsampled_labels(grid, (80, 96))
    assert result.evaluated_fraction == 1.0
    assert np.array_equal(result.labels, upsample(grid, (80, 96)).argmax(0).numpy())
