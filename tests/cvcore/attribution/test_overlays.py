import io

import numpy as np
import pytest
from PIL import Image

from cvcore.attribution.methods import Sign
from cvcore.attribution.overlays import COLORMAPS, colorize, colormap_table, normalize_map, overlay
from cvcore.errors import InvalidInputError
from cvcore.images import encode_png


@pytest.mark.parametrize("name", COLORMAPS)
def test_colormap_tables(name):
    table = colormap_table(name)
    assert table.shape == (256, 3) and table.dtype == np.uint8


def test_normalize_ranges_per_sign():
    values = np.linspace(-2, 4, 100, dtype=np.float32).reshape(10, 10)
    assert normalize_map(values, Sign.SIGNED, percentile=100).min() == pytest.approx(-0.5)
    assert normalize_map(values, Sign.ABSOLUTE).min() >= 0
    assert normalize_map(values, Sign.POSITIVE).min() == 0
    assert not normalize_map(np.zeros((4, 4)), Sign.SIGNED).any()


def test_colorize_signed_zero_is_transparent_and_extremes_differ():
    values = np.zeros((8, 8), dtype=np.float32)
    values[0, 0], values[0, 1] = -1.0, 1.0
    rgba = colorize(values, Sign.SIGNED, alpha=1.0, percentile=100)
    assert rgba.shape == (8, 8, 4) and rgba.dtype == np.uint8
    assert rgba[4, 4, 3] == 0 and rgba[0, 0, 3] == 255 and rgba[0, 1, 3] == 255
    assert rgba[0, 0, 2] > rgba[0, 0, 0] and rgba[0, 1, 0] > rgba[0, 1, 2]  # blue against, red for


def test_overlay_keeps_the_photo_where_the_map_is_zero():
    photo = np.random.default_rng(0).integers(0, 256, (12, 10, 3), dtype=np.uint8)
    values = np.zeros((12, 10), dtype=np.float32)
    values[:3] = 5.0
    out = overlay(photo, values, Sign.POSITIVE, alpha=0.5)
    assert out.shape == (12, 10, 4) and out.dtype == np.uint8 and (out[..., 3] == 255).all()
    assert np.array_equal(out[5:, :, :3], photo[5:])
    assert not np.array_equal(out[:3, :, :3], photo[:3])
    with pytest.raises(InvalidInputError, match="map is"):
        overlay(photo, values[:5], Sign.POSITIVE)
    with pytest.raises(InvalidInputError, match="alpha"):
        overlay(photo, values, Sign.POSITIVE, alpha=2)


def test_png_round_trip():
    rgba = colorize(np.random.default_rng(1).random((9, 7)).astype(np.float32), Sign.ABSOLUTE)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(encode_png(rgba)))), rgba)


@pytest.mark.parametrize("sign", [Sign.ABSOLUTE, Sign.SIGNED])
def test_colour_bar_shows_the_colours_the_overlay_uses(sign):
    from cvcore.attribution.overlays import COLORBAR_WIDTH_PX, colorbar, colorbar_labels, colorize, with_colorbar

    values = np.linspace(-1.0, 1.0, 64 * 64, dtype=np.float32).reshape(64, 64)
    heat = colorize(values, sign, alpha=1.0, percentile=100.0)
    bar = colorbar(sign, 64)
    assert bar.shape == (64, COLORBAR_WIDTH_PX, 3)
    # The top of the bar is the colour of the map's largest value, the bottom of its smallest (0 for magnitudes).
    top, bottom = heat[values == values.max()][0, :3], heat[values == (values.min() if sign is Sign.SIGNED else 0)]
    assert (bar[0, 0] == top).all()
    assert sign is Sign.ABSOLUTE or (bar[-1, 0] == bottom[0, :3]).all()
    picture = with_colorbar(overlay(np.zeros((64, 64, 3), np.uint8), values, sign), sign)
    assert picture.shape[0] == 64 and picture.shape[1] > 64 + COLORBAR_WIDTH_PX and (picture[..., 3] == 255).all()
    assert colorbar_labels(sign)[0] in ("max", "+max")
