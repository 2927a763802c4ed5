"""Attribution maps as pictures: RGBA numpy arrays, no pyplot (and no matplotlib) needed.

A map is first scaled to [0, 1] (absolute/positive maps) or [-1, 1] (signed maps) by a
robust maximum (a high percentile of its magnitudes, so one extreme pixel does not wash
out the rest), then looked up in a 256-entry colour table. The tables are built here by
linear interpolation between a few anchor colours that approximate matplotlib's
``inferno`` (sequential) and ``coolwarm`` (diverging), which keeps cvcore free of a
plotting dependency.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from PIL import Image

from cvcore.attribution.methods import Sign
from cvcore.errors import InvalidInputError

# Anchor colours (0..255 RGB) at evenly spaced positions of the colormap.
_ANCHORS: dict[str, tuple[tuple[int, int, int], ...]] = {
    # Sequential, for magnitudes: black -> purple -> red -> orange -> pale yellow.
    "inferno": (
        (0, 0, 4),
        (40, 11, 84),
        (101, 21, 110),
        (159, 42, 99),
        (212, 72, 66),
        (245, 125, 21),
        (250, 193, 39),
        (252, 255, 164),
    ),
    # Diverging, for signed maps: blue (against) -> light grey (0) -> red (for).
    "coolwarm": (
        (59, 76, 192),
        (98, 130, 234),
        (141, 176, 254),
        (184, 208, 249),
        (221, 221, 221),
        (245, 196, 173),
        (244, 154, 123),
        (222, 96, 77),
        (180, 4, 38),
    ),
    "gray": ((0, 0, 0), (255, 255, 255)),
}
COLORMAPS = tuple(_ANCHORS)


@cache
def colormap_table(name: str) -> np.ndarray:
    """(256, 3) uint8 colour table for ``name``."""
    if name not in _ANCHORS:
        raise InvalidInputError(f"Unknown colormap {name!r}; choose one of {', '.join(COLORMAPS)}.")
    anchors = np.asarray(_ANCHORS[name], dtype=np.float64)
    positions = np.linspace(0.0, 1.0, len(anchors))
    grid = np.linspace(0.0, 1.0, 256)
    table = np.stack([np.interp(grid, positions, anchors[:, c]) for c in range(3)], axis=1)
    table = np.rint(table).astype(np.uint8)
    table.setflags(write=False)
    return table


def default_colormap(sign: Sign) -> str:
    return "coolwarm" if Sign(sign) is Sign.SIGNED else "inferno"


def normalize_map(values: np.ndarray, sign: Sign, *, percentile: float = 99.0) -> np.ndarray:
    """Scale a (H, W) map to [0, 1] (absolute, positive) or [-1, 1] (signed, 0 stays 0).

    The scale is the ``percentile``-th percentile of the magnitudes; values beyond it clip.
    An all-zero map stays all zero.
    """
    values = _check_map(values)
    sign = Sign(sign)
    if sign is Sign.ABSOLUTE:
        values = np.abs(values)
    elif sign is Sign.POSITIVE:
        values = np.clip(values, 0.0, None)
    scale = float(np.percentile(np.abs(values), percentile))
    if not scale > 0:
        scale = float(np.abs(values).max())
    if not scale > 0:
        return np.zeros_like(values, dtype=np.float32)
    low = -1.0 if sign is Sign.SIGNED else 0.0
    return np.clip(values / scale, low, 1.0).astype(np.float32)


def colorize(
    values: np.ndarray, sign: Sign, *, cmap: str | None = None, alpha: float = 1.0, percentile: float = 99.0
) -> np.ndarray:
    """(H, W) map -> (H, W, 4) uint8 RGBA heatmap.

    Alpha grows with importance (``alpha`` times the normalised magnitude), so laid over
    a photo the unimportant parts stay see-through.
    """
    _check_alpha(alpha)
    sign = Sign(sign)
    scaled = normalize_map(values, sign, percentile=percentile)
    position = (scaled + 1.0) / 2.0 if sign is Sign.SIGNED else scaled  # 0..1 along the table
    table = colormap_table(cmap or default_colormap(sign))
    rgb = table[np.rint(position * 255).astype(np.int64)]
    opacity = np.rint(np.abs(scaled) * alpha * 255).astype(np.uint8)
    return np.dstack([rgb, opacity])


def overlay(
    image: np.ndarray | Image.Image,
    values: np.ndarray,
    sign: Sign,
    *,
    cmap: str | None = None,
    alpha: float = 0.6,
    percentile: float = 99.0,
) -> np.ndarray:
    """The heatmap composited over ``image`` (RGB, same H x W as the map): opaque (H, W, 4) uint8."""
    photo = _as_rgb_array(image)
    heat = colorize(values, sign, cmap=cmap, alpha=alpha, percentile=percentile)
    if photo.shape[:2] != heat.shape[:2]:
        raise InvalidInputError(f"The image is {photo.shape[1]}x{photo.shape[0]} but the map is {heat.shape[1]}x{heat.shape[0]}.")
    a = heat[..., 3:4].astype(np.float32) / 255.0
    blended = photo.astype(np.float32) * (1.0 - a) + heat[..., :3].astype(np.float32) * a
    out = np.empty((*photo.shape[:2], 4), dtype=np.uint8)
    out[..., :3] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    out[..., 3] = 255
    return out


def _check_map(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float32)
    if values.ndim != 2:
        raise InvalidInputError(f"An attribution map is (H, W); got shape {values.shape}.")
    if not np.isfinite(values).all():
        raise InvalidInputError("The attribution map contains NaN or infinite values.")
    return values


def _check_alpha(alpha: float) -> None:
    if not 0.0 <= alpha <= 1.0:
        raise InvalidInputError(f"alpha must be between 0 and 1; got {alpha}.")


def _as_rgb_array(image: np.ndarray | Image.Image) -> np.ndarray:
    photo = np.asarray(image.convert("RGB")) if isinstance(image, Image.Image) else np.asarray(image)
    if photo.ndim != 3 or photo.shape[2] not in (3, 4) or photo.dtype != np.uint8:
        raise InvalidInputError(f"Expected an RGB uint8 image (H, W, 3); got {photo.shape} {photo.dtype}.")
    return photo[..., :3]


# --- colour bar: how to read the colours -------------------------------------------------------

COLORBAR_WIDTH_PX = 12
COLORBAR_GAP_PX = 6
COLORBAR_LABEL_PX = 40  # room for "+max" beside the bar
COLORBAR_FONT_PX = 11


def colorbar_labels(sign: Sign) -> tuple[str, ...]:
    """Labels from the top of the bar down: the map scaled to its robust maximum (``percentile`` of the magnitudes)."""
    return ("+max", "0", "-max") if Sign(sign) is Sign.SIGNED else ("max", "0")


def colorbar(sign: Sign, height: int, *, cmap: str | None = None) -> np.ndarray:
    """(height, COLORBAR_WIDTH_PX, 3) uint8: the colour table top (highest) to bottom, exactly as :func:`colorize` uses it."""
    if height < 2:
        raise InvalidInputError(f"A colour bar needs a height of at least 2 pixels; got {height}.")
    table = colormap_table(cmap or default_colormap(sign))
    rows = np.rint(np.linspace(255, 0, height)).astype(np.int64)  # top row = table's last entry (max; +max if signed)
    return np.repeat(table[rows][:, None, :], COLORBAR_WIDTH_PX, axis=1)


def with_colorbar(picture: np.ndarray, sign: Sign, *, cmap: str | None = None) -> np.ndarray:
    """``picture`` (an overlay, RGB or RGBA) with a labelled colour bar on its right, on white: opaque (H, W', 4) uint8.

    "max" is the map's robust maximum (its 99th percentile, see :func:`normalize_map`); in
    the overlay, opacity grows with the value too, so low values let the photo through.
    """
    from PIL import ImageDraw, ImageFont

    photo = _as_rgb_array(picture)
    h, w = photo.shape[:2]
    margin = max(4, h // 40)
    bar_height = h - 2 * margin
    out = np.full((h, w + COLORBAR_GAP_PX + COLORBAR_WIDTH_PX + COLORBAR_LABEL_PX, 3), 255, dtype=np.uint8)
    out[:, :w] = photo
    left = w + COLORBAR_GAP_PX
    out[margin : margin + bar_height, left : left + COLORBAR_WIDTH_PX] = colorbar(sign, bar_height, cmap=cmap)
    image = Image.fromarray(out)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=COLORBAR_FONT_PX)
    labels = colorbar_labels(sign)
    for i, label in enumerate(labels):
        y = min(max(margin + bar_height * i / (len(labels) - 1), COLORBAR_FONT_PX / 2 + 1), h - COLORBAR_FONT_PX / 2 - 1)
        draw.text((left + COLORBAR_WIDTH_PX + 3, y), label, fill=(60, 60, 60), font=font, anchor="lm")
    rgba = np.empty((h, out.shape[1], 4), dtype=np.uint8)
    rgba[..., :3] = np.asarray(image)
    rgba[..., 3] = 255
    return rgba
