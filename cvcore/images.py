"""Safe image intake: the one function every upload goes through.

An upload is untrusted bytes. :func:`decode_image` accepts the formats browsers and
cameras produce (JPEG, PNG, WebP, BMP, TIFF, GIF), refuses everything else with an
:class:`~cvcore.errors.ImageDecodeError` whose message is meant for the user, limits
bytes and pixels before decoding (Pillow's decompression-bomb guard stays on; ours is
checked first, from the header), refuses strip-like shapes (:mod:`cvcore.input_sizes`),
applies the EXIF orientation, takes the first frame of animated files, turns every pixel
mode into 8-bit RGB and downscales photos whose longest side exceeds ``max_side``.

A large photo is downscaled before anything else is done to it: JPEG decodes at a reduced
scale directly; other formats are reduced by an integer factor one band at a time, then
resized, and only then turned upright, so the full-size RGB copy (Pillow keeps 4 bytes per
pixel) never exists. A 64-megapixel PNG then costs its decoded pixels plus one band.
"""

from __future__ import annotations

import contextlib
import io
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError

from cvcore.errors import ImageDecodeError, InvalidInputError
from cvcore.input_sizes import MAX_ASPECT_RATIO, check_aspect_ratio

# The only Pillow plugins allowed to parse untrusted bytes (JPEG's also opens the multi-picture
# "MPO" files that phones write).
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF")
ACCEPTED_EXTENSIONS = ("jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff", "gif")
# Every photo uploader passes it as max_upload_size (the server's own cap is the model files' limit).
MAX_UPLOAD_MB = 50
MAX_BYTES = MAX_UPLOAD_MB * 2**20
# 8 K x 8 K photos are fine; beyond that the decoded RGB alone takes > 200 MB. Pillow's own
# guard (Image.MAX_IMAGE_PIXELS, ~89 Mpx; error at twice that) stays on behind this one.
MAX_PIXELS = 64_000_000
# Longest side kept for inference and display; the segmenters work at 520 px anyway.
MAX_SIDE = 2048
# Pixels converted to RGB at a time when a large photo is downscaled: the full-size RGB copy
# (4 bytes per pixel in Pillow: 256 MB at 64 Mpx) never exists, only the decoded file and one band.
BAND_PIXELS = 2**22
# Photos above this many pixels are decoded at most two at a time per process: each holds its
# decoded file (up to 256 MB at MAX_PIXELS) until it is downscaled, and eight users uploading
# panoramas at once must not add 2 GB to a shared server. Smaller photos never wait.
LARGE_PIXELS = 16_000_000
_LARGE_DECODES = threading.BoundedSemaphore(2)
# Modes whose conversion to RGB is pixel by pixel, so converting band by band gives the same picture.
_BANDED_MODES = ("1", "L", "P", "RGB", "RGBA", "RGBX", "LA", "PA", "CMYK", "YCbCr", "I;16", "I;16B", "I;16L")
# EXIF orientation -> the transpose that displays the photo upright (as ImageOps.exif_transpose).
_ORIENTATION_FIX = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90,
}  # fmt: skip


@dataclass(frozen=True)
class DecodedImage:
    """An upload decoded to RGB, with what was done to it on the way."""

    image: Image.Image  # mode "RGB", size (width, height) after orientation and downscaling
    format: str  # the container Pillow recognised ("JPEG", "PNG", ...)
    mode: str  # the pixel mode in the file ("P", "CMYK", "I;16", ...)
    original_size: tuple[int, int]  # (width, height) as stored, before orientation and downscaling
    frames: int  # > 1 for animated files; only the first is used
    exif_rotated: bool
    downscaled: bool

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size


def _read_bytes(source: bytes | bytearray | BinaryIO | str | Path, max_bytes: int) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, Path)):
        path = Path(source)
        if path.is_dir():
            raise ImageDecodeError(f"{path} is a folder, not an image file.")
        if not path.is_file():
            raise ImageDecodeError(f"No such image file: {path}.")
        if path.stat().st_size > max_bytes:
            raise ImageDecodeError(_too_big_message(path.stat().st_size, max_bytes))
        data = path.read_bytes()
    else:
        data = source.read(max_bytes + 1)
    if not data:
        raise ImageDecodeError("The file is empty (0 bytes).")
    if len(data) > max_bytes:
        raise ImageDecodeError(_too_big_message(len(data), max_bytes))
    return data


def _too_big_message(size: int, max_bytes: int) -> str:
    return f"The file is {size / 2**20:.1f} MB; the limit is {max_bytes / 2**20:.0f} MB."


def open_image(
    source: bytes | bytearray | BinaryIO | str | Path, *, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS
) -> Image.Image:
    """Open (header only, nothing decoded yet) an accepted image within the byte and pixel limits."""
    data = _read_bytes(source, max_bytes)
    try:
        image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError as exc:
        raise ImageDecodeError(_bomb_message(exc, max_pixels)) from exc
    except UnidentifiedImageError as exc:
        raise ImageDecodeError(
            f"This file is not an image cvlens can read. Accepted formats: {', '.join(ACCEPTED_EXTENSIONS)}."
        ) from exc
    except (OSError, ValueError, SyntaxError) as exc:  # Pillow raises these for corrupt headers
        raise ImageDecodeError(f"The image file is damaged and cannot be read ({exc}).") from exc
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageDecodeError(f"The image has no pixels ({width}x{height}).")
    if width * height > max_pixels:
        raise ImageDecodeError(
            f"The image is {width}x{height} = {width * height / 1e6:.0f} megapixels; the limit is {max_pixels / 1e6:.0f} megapixels. "
            "Scale it down before uploading."
        )
    return image


def _bomb_message(exc: Exception, max_pixels: int) -> str:
    """cvlens's words for Pillow's decompression-bomb guard (a file claiming far more pixels than it carries)."""
    match = re.search(r"\((\d+) pixels\)", str(exc))
    claimed = f" claims {int(match.group(1)) / 1e6:,.0f} megapixels and" if match else ""
    return (
        f"The image{claimed} is too large to open: cvlens opens images of up to {max_pixels / 1e6:.0f} megapixels. "
        "Scale it down before uploading."
    )


def decode_image(
    source: bytes | bytearray | BinaryIO | str | Path,
    *,
    max_bytes: int = MAX_BYTES,
    max_pixels: int = MAX_PIXELS,
    max_side: int | None = MAX_SIDE,
    max_aspect: float | None = MAX_ASPECT_RATIO,
) -> DecodedImage:
    """Decode an upload into an RGB image, or raise :class:`ImageDecodeError` with a human message.

    ``max_aspect``: photos whose long side is more than this many times the short side are
    refused from the header (:class:`~cvcore.input_sizes.InputTooLargeError`): every model's
    input would be a strip of enormous length (see :mod:`cvcore.input_sizes`).
    """
    image = open_image(source, max_bytes=max_bytes, max_pixels=max_pixels)
    fmt, mode, original_size = image.format, image.mode, image.size
    if max_aspect is not None:
        check_aspect_ratio(original_size, max_aspect=max_aspect)
    frames = getattr(image, "n_frames", 1)
    large = original_size[0] * original_size[1] > LARGE_PIXELS and fmt not in ("JPEG", "MPO")  # JPEG decodes at 1/8 scale
    with _LARGE_DECODES if large else contextlib.nullcontext():
        rgb, orientation = _decode_rgb(image, fmt, original_size, max_side, max_pixels)
    downscaled = rgb.size not in (original_size, original_size[::-1])
    return DecodedImage(rgb, fmt, mode, original_size, frames, orientation in _ORIENTATION_FIX, downscaled)


def _decode_rgb(image: Image.Image, fmt: str, original_size: tuple[int, int], max_side: int | None, max_pixels: int):
    """(RGB image within ``max_side``, upright; the EXIF orientation found) from an opened image."""
    frames = getattr(image, "n_frames", 1)
    try:
        if frames > 1:
            image.seek(0)
        if max_side and fmt in ("JPEG", "MPO"):
            # libjpeg decodes at 1/2, 1/4 or 1/8 scale directly: a 50 Mpx photo never hits memory whole.
            image.draft(None, _fit(original_size, max_side))
        image.load()
        orientation = _orientation(image)
        # Downscale first, in the file's own mode, then turn upright: a full-size RGB copy never exists.
        rgb = _rgb_within(image, max_side)
        if orientation in _ORIENTATION_FIX:
            rgb = rgb.transpose(_ORIENTATION_FIX[orientation])
    except ImageDecodeError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageDecodeError(_bomb_message(exc, max_pixels)) from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        # Truncated or corrupt data: Pillow refuses it (LOAD_TRUNCATED_IMAGES stays False).
        raise ImageDecodeError(f"The image file is damaged or incomplete and cannot be decoded ({exc}).") from exc
    return rgb, orientation


def _rgb_within(image: Image.Image, max_side: int | None) -> Image.Image:
    """``image`` in RGB with its longest side at most ``max_side``: an integer box reduction, then Lanczos.

    The reduction runs band by band for modes converted pixel by pixel, so the peak memory
    is the decoded file plus one band, and the result equals converting the whole image first.
    """
    if not max_side or max(image.size) <= max_side:
        return to_rgb(image)
    target = _fit(image.size, max_side)
    factor = min(image.width // target[0], image.height // target[1])
    if factor < 2:
        reduced = to_rgb(image)
    elif image.mode in _BANDED_MODES:
        reduced = _reduce_in_bands(image, factor)
    else:  # "I"/"F": their conversion looks at the whole image's range
        reduced = to_rgb(image).reduce(factor)
    return reduced.resize(target, Image.Resampling.LANCZOS)


def _reduce_in_bands(image: Image.Image, factor: int) -> Image.Image:
    """``to_rgb(image).reduce(factor)``, computed one horizontal band at a time (bands start at multiples of ``factor``)."""
    width, height = image.size
    out = Image.new("RGB", (-(-width // factor), -(-height // factor)))
    rows = factor * max(1, BAND_PIXELS // (width * factor))
    for top in range(0, height, rows):
        band = to_rgb(image.crop((0, top, width, min(height, top + rows))))
        out.paste(band.reduce(factor), (0, top // factor))
    return out


def _orientation(image: Image.Image) -> int | None:
    try:
        return image.getexif().get(0x0112)
    except Exception:  # a malformed EXIF block is not worth refusing the photo for
        return None


def _fit(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    width, height = size
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB, keeping what the pixels mean.

    Transparency is composited over white (not dropped, which would reveal whatever
    colour hides under transparent pixels); 16-bit and 32-bit integer images are
    scaled to 8 bits rather than clipped; float images are stretched from their range.
    """
    mode = image.mode
    if mode == "RGB":
        return image
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        return to_rgb(image)
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode.startswith("I;16") or mode in ("I", "F"):
        return Image.fromarray(_wide_to_uint8(np.asarray(image), mode), mode="L").convert("RGB")
    if mode in ("1", "L", "CMYK", "YCbCr", "LAB", "HSV", "RGBX"):
        return image.convert("RGB")
    try:
        return image.convert("RGB")
    except (ValueError, OSError) as exc:
        raise ImageDecodeError(f"Images with pixel mode {mode!r} are not supported.") from exc


def _wide_to_uint8(pixels: np.ndarray, mode: str) -> np.ndarray:
    pixels = pixels.astype(np.float64)
    if mode.startswith("I;16"):
        scaled = pixels / 257.0  # 65535 -> 255
    elif mode == "I" and pixels.min(initial=0) >= 0 and pixels.max(initial=0) <= 255:
        scaled = pixels  # 8-bit data stored in 32-bit integers
    elif mode == "I" and pixels.min(initial=0) >= 0 and pixels.max(initial=0) <= 65535:
        scaled = pixels / 257.0  # 16-bit data (how Pillow opens some 16-bit PNGs and TIFFs)
    elif mode == "F" and np.isfinite(pixels).all() and pixels.min(initial=0) >= 0 and pixels.max(initial=0) <= 1:
        scaled = pixels * 255.0
    else:
        finite = pixels[np.isfinite(pixels)]
        lo, hi = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
        scaled = (np.nan_to_num(pixels, nan=lo, posinf=hi, neginf=lo) - lo) / max(hi - lo, 1e-12) * 255.0
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def encode_png(array: np.ndarray) -> bytes:
    """PNG bytes of an (H, W), (H, W, 3) or (H, W, 4) uint8 array (downloads, ``--out`` files)."""
    if array.dtype != np.uint8:
        raise InvalidInputError(f"Expected a uint8 image array, got {array.dtype}.")
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def photo_png(image: Image.Image) -> bytes:
    """PNG bytes of a decoded photo: lossless, so :func:`decode_image` of them gives the same pixels (report inputs)."""
    return encode_png(np.asarray(image.convert("RGB")))
