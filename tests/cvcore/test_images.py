"""The hostile corpus: every file gives a correct RGB image or a typed ImageDecodeError."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from cvcore.errors import ImageDecodeError
from cvcore.images import MAX_SIDE, decode_image, open_image, to_rgb


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **params)
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims ``width x height`` pixels but carries almost no data (a decompression bomb's header)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def two_colour(size=(64, 32), left=(255, 0, 0), right=(0, 0, 255), mode="RGB") -> Image.Image:
    image = Image.new(mode, size, left)
    image.paste(right, (size[0] // 2, 0, size[0], size[1]))
    return image


# --- refused ------------------------------------------------------------------------


def test_text_file_is_refused_with_the_accepted_formats():
    with pytest.raises(ImageDecodeError, match="not an image.*jpg"):
        decode_image(b"name,score\nalice,3\n" * 20)


def test_empty_file_is_refused():
    with pytest.raises(ImageDecodeError, match="empty"):
        decode_image(b"")


def test_truncated_jpeg_is_refused():
    rng = np.random.default_rng(0)
    data = encode(Image.fromarray(rng.integers(0, 255, (128, 128, 3), dtype=np.uint8)), "JPEG", quality=90)
    with pytest.raises(ImageDecodeError, match="damaged or incomplete"):
        decode_image(data[: len(data) // 2])


def test_decompression_bomb_is_refused_from_its_header():
    # 30000 x 30000 = 900 Mpx: beyond Pillow's own guard (2 x MAX_IMAGE_PIXELS), caught without decoding.
    with pytest.raises(ImageDecodeError, match="too large"):
        decode_image(png_header_only(30_000, 30_000))


def test_image_over_the_pixel_limit_is_refused_before_decoding():
    # 9000 x 8000 = 72 Mpx: under Pillow's error threshold, over cvlens' limit.
    with pytest.raises(ImageDecodeError, match="72 megapixels"):
        decode_image(png_header_only(9000, 8000))


def test_pixel_limit_is_configurable():
    with pytest.raises(ImageDecodeError, match="megapixels"):
        decode_image(encode(Image.new("RGB", (100, 100)), "PNG"), max_pixels=5000)


def test_byte_limit_is_checked_before_parsing():
    data = encode(Image.new("RGB", (100, 100)), "BMP")
    with pytest.raises(ImageDecodeError, match="limit is"):
        decode_image(data, max_bytes=1000)


def test_format_pillow_reads_but_cvlens_does_not_accept_is_refused():
    with pytest.raises(ImageDecodeError, match="not an image cvlens can read"):
        decode_image(encode(Image.new("RGB", (16, 16)), "PPM"))


def test_missing_path_is_a_typed_error(tmp_path):
    with pytest.raises(ImageDecodeError, match="No such image"):
        decode_image(tmp_path / "nope.png")


# --- accepted, and decoded correctly -------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF"])
def test_every_accepted_format_decodes_to_rgb(fmt):
    decoded = decode_image(encode(two_colour(), fmt))
    pixels = np.asarray(decoded.image)
    assert decoded.image.mode == "RGB" and decoded.size == (64, 32) and decoded.format == fmt
    assert np.abs(pixels[16, 8].astype(int) - (255, 0, 0)).max() < 40
    assert np.abs(pixels[16, 56].astype(int) - (0, 0, 255)).max() < 40


def test_16_bit_png_is_scaled_not_clipped():
    ramp = np.linspace(0, 65535, 256, dtype=np.float64).round().astype(np.uint16)[None, :].repeat(32, axis=0)
    decoded = decode_image(encode(Image.fromarray(ramp), "PNG"))
    grey = np.asarray(decoded.image)[0, :, 0].astype(int)
    assert decoded.mode in ("I;16", "I")
    np.testing.assert_allclose(grey, np.round(ramp[0] / 257), atol=1)
    assert grey[0] == 0 and grey[-1] == 255 and grey[128] in (128, 129)  # clipping would give 255 almost everywhere


def test_cmyk_jpeg_comes_out_in_the_right_colours():
    cmyk = two_colour(left=(0, 255, 255, 0), right=(255, 255, 0, 0), mode="CMYK")  # red | blue
    decoded = decode_image(encode(cmyk, "JPEG", quality=95))
    pixels = np.asarray(decoded.image).astype(int)
    assert decoded.mode == "CMYK"
    assert np.abs(pixels[16, 8] - (255, 0, 0)).max() < 30
    assert np.abs(pixels[16, 56] - (0, 0, 255)).max() < 30


def test_rgba_png_is_composited_over_white():
    rgba = two_colour(left=(255, 0, 0, 255), right=(0, 0, 0, 0), mode="RGBA")  # right half: transparent black
    pixels = np.asarray(decode_image(encode(rgba, "PNG")).image)
    assert tuple(pixels[16, 8]) == (255, 0, 0)
    assert tuple(pixels[16, 56]) == (255, 255, 255)


def test_palette_png_keeps_its_colours_and_transparency():
    palette_image = two_colour().convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    decoded = decode_image(encode(palette_image, "PNG"))
    assert decoded.mode == "P" and tuple(np.asarray(decoded.image)[16, 8]) == (255, 0, 0)
    blue_index = palette_image.getpixel((56, 16))
    transparent = decode_image(encode(palette_image, "PNG", transparency=blue_index))
    assert tuple(np.asarray(transparent.image)[16, 56]) == (255, 255, 255)


def test_exif_orientation_is_applied():
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": the stored left half ends up on top
    decoded = decode_image(encode(two_colour((64, 32)), "JPEG", quality=95, exif=exif.tobytes()))
    pixels = np.asarray(decoded.image).astype(int)
    assert decoded.exif_rotated and decoded.original_size == (64, 32) and decoded.size == (32, 64)
    assert np.abs(pixels[8, 16] - (255, 0, 0)).max() < 40
    assert np.abs(pixels[56, 16] - (0, 0, 255)).max() < 40


def test_animated_gif_gives_its_first_frame():
    frames = [Image.new("RGB", (32, 32), colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    decoded = decode_image(buf.getvalue())
    assert decoded.frames == 3
    assert tuple(np.asarray(decoded.image)[5, 5]) == (255, 0, 0)


def test_50_megapixel_photo_is_downscaled_to_the_longest_side():
    data = encode(two_colour((10_000, 5_000)), "JPEG", quality=70)
    decoded = decode_image(data)
    assert decoded.original_size == (10_000, 5_000)
    assert decoded.size == (MAX_SIDE, MAX_SIDE // 2) and decoded.downscaled
    pixels = np.asarray(decoded.image).astype(int)
    assert np.abs(pixels[500, 200] - (255, 0, 0)).max() < 40 and np.abs(pixels[500, 1800] - (0, 0, 255)).max() < 40


def test_max_side_is_configurable_and_none_keeps_the_size():
    data = encode(two_colour((300, 200)), "PNG")
    assert decode_image(data, max_side=150).size == (150, 100)
    kept = decode_image(data, max_side=None)
    assert kept.size == (300, 200) and not kept.downscaled


def test_paths_and_file_objects_are_accepted(tmp_path):
    data = encode(two_colour(), "PNG")
    (tmp_path / "photo.png").write_bytes(data)
    assert decode_image(tmp_path / "photo.png").size == (64, 32)
    assert decode_image(io.BytesIO(data)).size == (64, 32)


def test_open_image_does_not_decode_pixels():
    image = open_image(encode(two_colour(), "PNG"))
    assert image.size == (64, 32) and image._im is None  # header read, pixels not decoded yet


# --- every pixel mode ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (Image.new("1", (4, 4), 1), (255, 255, 255)),
        (Image.new("L", (4, 4), 100), (100, 100, 100)),
        (Image.new("LA", (4, 4), (0, 0)), (255, 255, 255)),  # fully transparent -> white
        (Image.new("LA", (4, 4), (100, 255)), (100, 100, 100)),
        (Image.new("I", (4, 4), 65535), (255, 255, 255)),
        (Image.new("I", (4, 4), 100), (100, 100, 100)),
        (Image.new("I;16", (4, 4), 257 * 100), (100, 100, 100)),
        (Image.new("F", (4, 4), 0.5), (128, 128, 128)),
        (Image.new("CMYK", (4, 4), (0, 0, 0, 0)), (255, 255, 255)),
        (Image.new("RGBA", (4, 4), (10, 20, 30, 255)), (10, 20, 30)),
    ],
    ids=["1", "L", "LA-transparent", "LA-opaque", "I-16bit", "I-8bit", "I;16", "F", "CMYK", "RGBA"],
)
def test_every_mode_becomes_rgb(image, expected):
    rgb = to_rgb(image)
    assert rgb.mode == "RGB"
    assert tuple(np.asarray(rgb)[0, 0]) == expected


# --- large photos: downscaled first, within bounded memory ---------------------------------------------


@pytest.mark.parametrize("mode", ["RGB", "P", "RGBA", "L", "I;16"])
def test_banded_reduction_equals_converting_the_whole_image_first(mode, monkeypatch):
    from cvcore.images import _reduce_in_bands

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 255, (301, 257, 3), dtype=np.uint8)
    image = Image.fromarray(pixels).convert(mode) if mode != "I;16" else Image.fromarray(pixels[..., 0].astype(np.uint16) * 257)
    if mode == "P":
        image.info["transparency"] = 3  # composited over white, pixel by pixel
    monkeypatch.setattr("cvcore.images.BAND_PIXELS", 2**10)  # bands of a few rows: many band boundaries
    assert np.array_equal(np.asarray(_reduce_in_bands(image, 3)), np.asarray(to_rgb(image).reduce(3)))


def test_a_big_png_is_downscaled_and_turned_upright_like_a_small_one():
    exif = Image.Exif()
    exif[0x0112] = 6
    image = two_colour((5000, 2500))
    decoded = decode_image(encode(image, "PNG", exif=exif.tobytes(), compress_level=1))
    assert decoded.size == (1024, 2048) and decoded.downscaled and decoded.exif_rotated
    top, bottom = np.asarray(decoded.image)[10, 512], np.asarray(decoded.image)[-10, 512]
    assert tuple(top) == (255, 0, 0) and tuple(bottom) == (0, 0, 255)  # the stored left half ends up on top


def test_the_decompression_bomb_message_is_cvlens_own():
    with pytest.raises(ImageDecodeError) as info:
        decode_image(png_header_only(30_000, 30_000))
    message = str(info.value)
    assert "900 megapixels" in message and "up to 64 megapixels" in message
    assert "DOS" not in message and "decompression bomb" not in message and "exceeds limit" not in message


def test_strips_are_refused_from_the_header_with_the_photo_own_size():
    from cvcore.input_sizes import InputTooLargeError

    with pytest.raises(InputTooLargeError, match="The photo is 1x5000 px"):
        decode_image(encode(Image.new("RGB", (1, 5000)), "PNG"))
    assert decode_image(encode(Image.new("RGB", (1, 5000)), "PNG"), max_aspect=None).size == (1, 2048)
