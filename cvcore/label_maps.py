"""Label maps from logits: the top class at each position, its softmax probability, and the
exact labels of a bilinearly upsampled grid of logits without evaluating every pixel.

torchvision's segmenters end with ``F.interpolate(logits, size, mode="bilinear",
align_corners=False)`` of a stride-8 grid (21 x 65 x 65 at 520 px). On 2 CPU cores that
upsample plus a per-pixel argmax over 21 classes takes 20-25 ms, against 70-90 ms for all of
LR-ASPP's forward (benchmarks/segmentation_overhead.py, line (d)).
:func:`upsampled_labels` gives what that upsample + argmax would give, evaluating per pixel
only the grid cells where the top class can change (class boundaries), with aten's own
source indices, weights and rounding. NumPy, with torch's interpolate for the rounding
probe and the fallbacks; used by :mod:`cvcore.segmentation`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from cvcore.errors import InvalidInputError

_log = logging.getLogger(__name__)

# --- upsampled labels ----------------------------------------------------------------------------


class _Taps(NamedTuple):
    """Bilinear taps along one axis, per output index: source indices i0, i1 and their weights w0, w1."""

    i0: np.ndarray
    i1: np.ndarray
    w0: np.ndarray  # float32, as aten computes them
    w1: np.ndarray


def _fma(a, b, c) -> np.ndarray:
    """float32 a*b + c as a fused multiply-add rounds it: the float32 product is exact in float64, then one
    rounding (two, float64 then float32, in rare halfway cases: a last-bit difference at most)."""
    return (np.multiply(a, b, dtype=np.float64) + c).astype(np.float32)


def _lerp(a, wa, b, wb, fused: bool) -> np.ndarray:
    """aten's ``t0 * w0 + t1 * w1``, as its compiled kernel rounds it (see _aten_fuses_multiply_add)."""
    return _fma(a, wa, b * wb) if fused else a * wa + b * wb


def _linear_taps(n_in: int, n_out: int, fused: bool) -> _Taps:
    """aten's bilinear source indices and weights (align_corners=False, no scale factor), in float32 like aten.

    ATen/native/UpSample.h: scale = in / out; src = scale * (dst + 0.5) - 0.5, clamped at 0;
    i0 = floor(src), i1 = min(i0 + 1, in - 1), lambda1 = src - i0, lambda0 = 1 - lambda1;
    equal sizes copy.
    """
    f32 = np.float32
    if n_in == n_out:
        index = np.arange(n_out)
        return _Taps(index, index, np.ones(n_out, f32), np.zeros(n_out, f32))
    scale = f32(n_in) / f32(n_out)
    centres = np.arange(n_out, dtype=f32) + f32(0.5)
    src = np.maximum(_fma(scale, centres, f32(-0.5)) if fused else scale * centres - f32(0.5), f32(0))
    i0 = np.minimum(np.floor(src).astype(np.intp), n_in - 1)
    lambda1 = np.clip(src - i0.astype(f32), f32(0), f32(1))
    return _Taps(i0, np.minimum(i0 + 1, n_in - 1), f32(1) - lambda1, lambda1)


@functools.cache
def aten_rounding() -> str | None:
    """How this machine's aten kernel rounds ``a * w0 + b * w1``: "fused" (one fused multiply-add), "unfused", or None.

    Its CPU kernels are compiled per instruction set, and the AVX2/AVX-512 builds contract
    multiply-adds into FMA: the last bit of an interpolated logit depends on it. One small
    probe through the same generic kernel (more than 3 channels, output height + width >
    128) tells which rounding to mimic. None: neither matched (logged); the unfused one is
    then used and labels can differ from torch's only at exact ties (a float32 rounding apart).
    """
    probe = np.random.default_rng(0).standard_normal((4, 5, 7)).astype(np.float32)
    size = (67, 71)
    expected = F.interpolate(torch.from_numpy(probe)[None], size=size, mode="bilinear", align_corners=False)[0].numpy()
    for fused in (True, False):
        rows, cols = _linear_taps(5, size[0], fused), _linear_taps(7, size[1], fused)
        upper, lower = probe[:, rows.i0], probe[:, rows.i1]
        top = _lerp(upper[:, :, cols.i0], cols.w0, upper[:, :, cols.i1], cols.w1, fused)
        bottom = _lerp(lower[:, :, cols.i0], cols.w0, lower[:, :, cols.i1], cols.w1, fused)
        if np.array_equal(_lerp(top, rows.w0[:, None], bottom, rows.w1[:, None], fused), expected):
            return "fused" if fused else "unfused"
    _log.warning("aten's bilinear rounding matched neither emulation: upsampled labels may differ from torch's at exact ties.")
    return None


def _aten_fuses_multiply_add() -> bool:
    return aten_rounding() == "fused"


class UpsampledLabels(NamedTuple):
    labels: np.ndarray  # (H, W) uint16
    evaluated_fraction: float  # share of the pixels labelled from their own interpolated logits (1.0: all of them)


# A grid cell is "sure" when its 4 corners have the same top class, each with a lead over the
# runner-up above this many times the largest |logit|. Bilinear weights are >= 0 and sum to 1
# (to float32 rounding), so the top class then wins at every pixel of the cell: its lead there
# is a weighted mean of the corners' leads. Rounding moves an interpolated logit by a few
# float32 ulps of the largest |logit| (< 2^-21 of it, fused or not); 2^-16 leaves a 32x margin.
_SURE_LEAD = 2.0**-16
# In the other cells, near-ties of the fast float32 evaluation (gap below this times the
# largest |logit|, > 8x the rounding difference) are recomputed with aten's exact rounding.
_NEAR_TIE = 2.0**-18
_UNSURE = np.iinfo(np.uint16).max  # placeholder label of pixels still to evaluate
_CANDIDATE_BUCKETS = (2, 3, 4, 6, 8, 12)  # cells are grouped by how many classes can still win in them
# Per-pixel work (pixels x candidate classes) above this share of the full upsample's
# (pixels x classes) goes the full way instead: interpolate + argmax, no slower than before.
# Measured break-even on 2 cores: 0.06-0.1 (benchmarks/segmentation_overhead.py, part d).
_MAX_WORK_SHARE = 0.06


def upsampled_argmax(logits: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W) uint16 equal to ``F.interpolate(logits[None], size, mode="bilinear", align_corners=False)[0].argmax(0)``.

    ``logits`` is (K, h, w) float32, ``size`` is (H, W). Only the grid cells where the top
    class may change are interpolated per pixel (see :func:`upsampled_labels`).
    """
    return upsampled_labels(logits, size).labels


def upsampled_labels(logits: np.ndarray, size: tuple[int, int]) -> UpsampledLabels:
    """:func:`upsampled_argmax` and the share of pixels it had to evaluate one by one.

    1. Sure cells (all 4 corners agree, with a clear lead) take their corners' class.
    2. In the other cells, classes beaten at all 4 corners by one corner's top class are
       out; the remaining candidates (usually 2) are interpolated per pixel with aten's
       taps and rounding, and the largest wins (ties: lowest index, as ``argmax``).
    3. If that would cost more than the full upsample (e.g. noise), do the full upsample.
    """
    logits = np.ascontiguousarray(logits, dtype=np.float32)
    if logits.ndim != 3 or 0 in logits.shape or logits.shape[0] >= _UNSURE or len(size) != 2 or min(size) < 1:
        raise InvalidInputError(
            f"Expected (K, h, w) logits with 1 <= K < {_UNSURE} and an (H, W) size, got {logits.shape} and {size}."
        )
    num_classes, h, w = logits.shape
    height, width = size
    largest = max(-float(logits.min()), float(logits.max()))
    # NaN, inf, near-overflow, or so small that float32 rounding is no longer relative: leave them to torch.
    if not np.isfinite(largest) or largest > 1e30 or largest < 1e-30:
        up = F.interpolate(torch.from_numpy(logits)[None], size=size, mode="bilinear", align_corners=False)[0]
        return UpsampledLabels(up.argmax(0).numpy().astype(np.uint16), 1.0)
    if num_classes == 1:
        return UpsampledLabels(np.zeros(size, dtype=np.uint16), 0.0)
    fused = _aten_fuses_multiply_add()
    rows, cols = _linear_taps(h, height, fused), _linear_taps(w, width, fused)
    row_counts, col_counts = np.bincount(rows.i0, minlength=h), np.bincount(cols.i0, minlength=w)

    top = logits.argmax(axis=0)
    down, right = np.minimum(np.arange(h) + 1, h - 1), np.minimum(np.arange(w) + 1, w - 1)  # a cell's far corners
    sure = _sure_cells(logits, top, down, right, _SURE_LEAD * largest)
    # Output rows (columns) with the same i0 are contiguous: repeating each cell's label fills the sure pixels.
    labels = np.repeat(np.repeat(np.where(sure, top, _UNSURE).astype(np.uint16), row_counts, 0), col_counts, 1)
    cell_i, cell_j = np.nonzero(~sure & (row_counts > 0)[:, None] & (col_counts > 0))
    if cell_i.size == 0:
        return UpsampledLabels(labels, 0.0)

    corner_i = np.stack([cell_i, cell_i, down[cell_i], down[cell_i]])  # (4, cells): (i0,j0), (i0,j1), (i1,j0), (i1,j1)
    corner_j = np.stack([cell_j, right[cell_j], cell_j, right[cell_j]])
    corners = np.ascontiguousarray(logits.transpose(1, 2, 0))[corner_i, corner_j]  # (4, cells, K)
    out = _dominated_classes(corners, top[corner_i, corner_j], _SURE_LEAD * largest)
    candidates = num_classes - out.sum(axis=1)
    pixels = row_counts[cell_i] * col_counts[cell_j]
    if int((pixels * candidates).sum()) > _MAX_WORK_SHARE * height * width * num_classes:
        return UpsampledLabels(_full_upsampled_argmax(logits, size), 1.0)

    order = np.argsort(out, axis=1, kind="stable")  # each cell's candidates first, by ascending class index
    cell_rows = (np.cumsum(row_counts) - row_counts)[cell_i], row_counts[cell_i]
    cell_cols = (np.cumsum(col_counts) - col_counts)[cell_j], col_counts[cell_j]
    bounds = (0, *(b for b in _CANDIDATE_BUCKETS if b < num_classes), num_classes)
    for low, high in zip(bounds[:-1], bounds[1:]):
        group = np.flatnonzero((candidates > low) & (candidates <= high))
        if group.size:
            count = int(candidates[group].max())
            classes, padding = order[group, :count], np.arange(count) >= candidates[group, None]  # (cells, C)
            values = np.take_along_axis(corners[:, group], classes[None], axis=2)  # (4, cells, C)
            values[:, padding] = -4 * largest - 1  # below every real logit: never wins, never ties
            _label_cells(
                labels, values.transpose(0, 2, 1), classes, rows, cols,
                tuple(a[group] for a in cell_rows), tuple(a[group] for a in cell_cols), fused, _NEAR_TIE * largest,
            )  # fmt: skip
    return UpsampledLabels(labels, int(pixels.sum()) / (height * width))


def _sure_cells(logits: np.ndarray, top: np.ndarray, down: np.ndarray, right: np.ndarray, lead: float) -> np.ndarray:
    """(h, w) bool: the cell from grid point (i, j) to (down[i], right[j]) has one top class, clear at all 4 corners."""
    ii, jj = np.indices(top.shape, sparse=True)
    others = logits.copy()
    others[top, ii, jj] = -np.inf
    clear = logits[top, ii, jj] - others.max(axis=0) > lead
    sure = clear & clear[down] & clear[:, right] & clear[down][:, right]
    return sure & (top == top[down]) & (top == top[:, right]) & (top == top[down][:, right])


def _dominated_classes(corners: np.ndarray, corner_top: np.ndarray, lead: float) -> np.ndarray:
    """(cells, K) bool: classes below one corner's top class by more than ``lead`` at all 4 corners.

    Such a class loses at every pixel of the cell (a weighted mean of positive gaps). A
    corner's own top class is never out, so each cell keeps at least one candidate.
    """
    cells = corners.shape[1]
    out = np.zeros((cells, corners.shape[2]), dtype=bool)
    for a in range(4):
        leader = np.take_along_axis(corners, np.broadcast_to(corner_top[a][None, :, None], (4, cells, 1)), axis=2)
        out |= (leader - corners).min(axis=0) > lead
    return out


def _label_cells(
    labels: np.ndarray,
    values: np.ndarray,
    classes: np.ndarray,
    rows: _Taps,
    cols: _Taps,
    cell_rows: tuple[np.ndarray, np.ndarray],
    cell_cols: tuple[np.ndarray, np.ndarray],
    fused: bool,
    near_tie: float,
) -> None:
    """Write the upsampled argmax into every pixel of some cells.

    ``values`` (4, C, cells) are the candidates' logits at the cells' corners, ``classes``
    (cells, C) their class indices (ascending); ``cell_rows``/``cell_cols`` the (start,
    count) of each cell's output rows/columns. Cells are padded to the largest one by
    repeating their last row/column (same value, same label, written twice).
    """
    (row_start, row_count), (col_start, col_count) = cell_rows, cell_cols
    ys = row_start[:, None] + np.minimum(np.arange(row_count.max()), row_count[:, None] - 1)  # (cells, R)
    xs = col_start[:, None] + np.minimum(np.arange(col_count.max()), col_count[:, None] - 1)  # (cells, X)
    wx0, wx1 = cols.w0[xs], cols.w1[xs]
    # aten interpolates along the width first (exact rounding here: it is 1/R of the work).
    upper = _lerp(values[0][:, :, None], wx0, values[1][:, :, None], wx1, fused)  # (C, cells, X)
    lower = _lerp(values[2][:, :, None], wx0, values[3][:, :, None], wx1, fused)
    wy0, wy1 = rows.w0[ys][:, :, None], rows.w1[ys][:, :, None]  # (cells, R, 1)
    best = upper[0][:, None] * wy0 + lower[0][:, None] * wy1  # (cells, R, X), plain float32 rounding
    runner_up = np.full_like(best, -np.inf)
    winner = np.zeros(best.shape, dtype=np.intp)
    for k in range(1, classes.shape[1]):
        value = upper[k][:, None] * wy0 + lower[k][:, None] * wy1
        np.maximum(runner_up, np.minimum(best, value), out=runner_up)
        np.copyto(winner, k, where=value > best)
        np.maximum(best, value, out=best)
    gap = np.subtract(best, runner_up, out=runner_up)
    near = gap <= near_tie  # rounding could decide these: redo them as aten rounds
    if near.any():
        c, r, x = np.nonzero(near)
        exact = _lerp(upper[:, c, x], wy0[c, r, 0], lower[:, c, x], wy1[c, r, 0], fused)  # (C, n)
        winner[c, r, x] = exact.argmax(axis=0)  # first maximum: the lowest class index among equals
    winner += (classes.shape[1] * np.arange(len(classes)))[:, None, None]
    pixels = ys[:, :, None] * labels.shape[1] + xs[:, None, :]
    labels.reshape(-1)[pixels.reshape(-1)] = classes.reshape(-1)[winner.reshape(-1)]


def top_label(logits: np.ndarray) -> np.ndarray:
    """(h, w) uint16 index of the largest of ``logits`` (K, h, w) at each position; ties go to the lowest index."""
    best = logits[0].copy()
    labels = np.zeros(best.shape, dtype=np.uint16)
    better = np.empty(best.shape, dtype=bool)
    for k in range(1, logits.shape[0]):
        np.greater(logits[k], best, out=better)
        np.copyto(labels, k, where=better)
        np.maximum(best, logits[k], out=best)
    return labels


def upsample_logits(logits: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(K, H, W): what torchvision's segmenters do to their grid (bilinear, align_corners=False)."""
    return F.interpolate(torch.from_numpy(logits)[None], size=size, mode="bilinear", align_corners=False)[0].numpy()


def _full_upsampled_argmax(logits: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return np.concatenate(_in_bands(top_label, upsample_logits(logits, size)))


# --- top class and softmax probability at every position ------------------------------------------


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


def _in_bands(function: Callable[[np.ndarray], object], logits: np.ndarray) -> list:
    """``function`` on horizontal bands of ``logits`` (K, h, w) in parallel, results top to bottom."""
    height = logits.shape[1]
    bands = min(_BANDS, height // _MIN_ROWS_PER_BAND)
    if bands < 2:
        return [function(logits)]
    edges = np.linspace(0, height, bands + 1).astype(int)
    return list(_band_pool().map(function, [logits[:, a:b] for a, b in zip(edges[:-1], edges[1:])]))


def top_class_parallel(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`top_class` over horizontal bands in parallel (identical result, about 2x faster on 2 cores)."""
    parts = _in_bands(top_class, logits)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
