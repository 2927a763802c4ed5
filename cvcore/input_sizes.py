"""Which input sizes a model accepts, and how much work one photo may cause.

Two checks stand between a user's choice and an allocation:

- **What the architecture accepts** (:func:`size_rule`, :func:`check_input_size`). ViT's
  position embeddings fit one grid of patches (only 224x224), ENet's decoder undoes every
  pooling exactly (sides divisible by 8), U-Net's unpadded convolutions need a minimum.
  The rule is found from the real model: built on the meta device (shapes only, no
  memory, no arithmetic) and run at a few probe sizes, so it follows the architecture
  instead of a table that could drift. A size the rule refuses gets a message listing
  what the model does accept, never torch's shape error.
- **How much work a photo causes** (:func:`plan_resize`, :func:`check_aspect_ratio`). The
  recipes resize the short side (520 px for torchvision's segmenters, 320 px for the
  coarse map) and keep the aspect ratio, so a 1x2048 strip would become a 520 x 1,064,960
  input (tens of GB of activations). Photos beyond :data:`MAX_ASPECT_RATIO` are refused
  with what to do, and a full-image input larger than :data:`MAX_INPUT_PIXELS` is scaled
  down to fit, before any tensor exists.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cvcore.errors import InvalidInputError

if TYPE_CHECKING:
    from torch import nn

    from cvcore.registry import ModelSpec

MIN_SIDE = 16  # smallest side cvlens analyses or runs at; below it every catalogue model has no spatial map left
MAX_SIDE = 4096  # largest side cvlens analyses at (a 4096x4096 trace already takes minutes on a laptop)
# Widest photo cvlens feeds a model: a 360-degree phone panorama is about 8:1; a 1-pixel strip is not a photo.
MAX_ASPECT_RATIO = 10.0
# Most pixels a full-image input (segmentation, the coarse map) may have: a 2:1 photo at the
# segmenters' 520 px short side. Every photo up to 2:1 gets its recipe's size; a wider panorama
# keeps this many pixels (its short side shrinks), so its cost stays that of a 2:1 photo.
MAX_INPUT_PIXELS = 520 * 1040
# Side steps probed around the default size to find the spacing of accepted sizes (the default itself is tried last).
_PROBE_STEPS = (1, 2, 4, 8, 16, 32, 64, 128)


class InputSizeError(InvalidInputError):
    """An input size the architecture does not accept; the message says which sizes it does."""


class InputTooLargeError(InvalidInputError):
    """A photo whose shape would make the model's work unbounded (a strip, an extreme panorama)."""


# --- what the architecture accepts ------------------------------------------------------------------


@dataclass(frozen=True)
class SizeRule:
    """The side lengths (pixels, height and width alike) a model accepts.

    Either one ``fixed`` side, or every side from ``minimum`` to ``maximum`` that is
    ``offset`` more than a multiple of ``multiple`` (``multiple == 1``: any side).
    """

    model: str
    default: int  # the catalogue's input side
    fixed: int | None
    multiple: int
    offset: int  # 0 <= offset < multiple
    minimum: int
    maximum: int
    derived: bool = True  # False when the model could not be probed and the rule is cvlens's general bounds

    def allows(self, side: int) -> bool:
        if self.fixed is not None:
            return side == self.fixed
        return self.minimum <= side <= self.maximum and (side - self.offset) % self.multiple == 0

    def nearest(self, side: int) -> list[int]:
        """The accepted sides closest to ``side``, below and above (one or two values)."""
        if self.fixed is not None:
            return [self.fixed]
        side = min(max(side, self.minimum), self.maximum)
        below = side - ((side - self.offset) % self.multiple)
        candidates = [s for s in (below, below + self.multiple) if self.minimum <= s <= self.maximum]
        return sorted(set(candidates)) or [self.minimum]

    def describe(self) -> str:
        """What the model accepts, in words ("multiples of 8 from 16 to 4096 px")."""
        if self.fixed is not None:
            return f"only {self.fixed}x{self.fixed}"
        span = f"from {self.minimum} to {self.maximum} px"
        if self.multiple == 1:
            return f"any side {span}"
        if self.offset == 0:
            return f"sides that are multiples of {self.multiple}, {span}"
        examples = ", ".join(str(s) for s in self.examples())
        return f"sides of {self.offset} plus a multiple of {self.multiple} ({examples}, ...), {span}"

    def examples(self, count: int = 3) -> list[int]:
        if self.fixed is not None:
            return [self.fixed]
        return [s for s in range(self.default, self.maximum + 1, self.multiple)][:count]


@functools.cache
def _rule_for(name: str) -> SizeRule:
    from cvcore.registry import get_spec

    spec = get_spec(name)
    default = spec.input_size[0]
    model = _shapes_only_model(spec)
    if model is None or not _accepts(model, default):  # cannot probe this model: cvlens's general bounds only
        return SizeRule(name, default, None, 1, 0, MIN_SIDE, MAX_SIDE, derived=False)
    fixed = _declared_fixed_side(model)
    if fixed is not None:
        return SizeRule(name, default, fixed, 1, 0, fixed, fixed)
    multiple = _spacing(model, default)
    if multiple is None:
        return SizeRule(name, default, default, 1, 0, default, default)
    offset = default % multiple
    return SizeRule(name, default, None, multiple, offset, _minimum(model, default, multiple, offset), MAX_SIDE)


def size_rule(spec: ModelSpec) -> SizeRule:
    """The input sides ``spec``'s architecture accepts, found by running it on the meta device (cached per model).

    Costs a few shape-only forward passes the first time (under a second for most models).
    """
    return _rule_for(spec.name)


def check_input_size(spec: ModelSpec, input_size: Sequence[int]) -> tuple[int, int]:
    """``(height, width)`` as ints if ``spec``'s architecture accepts it; else :class:`InputSizeError` saying what it accepts."""
    size = _as_size(input_size)
    if size == tuple(spec.input_size):
        return size
    rule = size_rule(spec)
    bad = [side for side in size if not rule.allows(side)]
    if bad:
        nearest = " or ".join(str(s) for s in rule.nearest(bad[0]))
        closest = (
            "" if rule.fixed is not None else f"; the nearest to {bad[0]} {'is' if ' or ' not in nearest else 'are'} {nearest}"
        )
        raise InputSizeError(
            f"{spec.display_name} cannot take a {size[0]}x{size[1]} input: it accepts {rule.describe()}{closest} "
            f"(its default is {spec.input_size[0]}x{spec.input_size[1]})."
        )
    return size


def _as_size(input_size: Sequence[int]) -> tuple[int, int]:
    try:
        values = [int(s) for s in input_size]
    except (TypeError, ValueError):
        raise InputSizeError(f"An input size is two whole numbers (height, width), got {input_size!r}.") from None
    if len(values) != 2 or any(not MIN_SIDE <= v <= MAX_SIDE for v in values):
        raise InputSizeError(
            f"An input size is two whole numbers from {MIN_SIDE} to {MAX_SIDE} (height, width), got {tuple(values)}."
        )
    return values[0], values[1]


def _shapes_only_model(spec: ModelSpec) -> nn.Module | None:
    from cvcore.models._utils import empty_weights

    try:
        with empty_weights(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = spec.builder()
        return model.to("meta").eval()
    except Exception:  # a builder that cannot work on the meta device: no rule beyond cvlens's bounds
        return None


def _accepts(model: nn.Module, side: int) -> bool:
    """Whether ``model`` runs on a (1, 3, side, side) input: shapes only, on the meta device."""
    import torch

    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model(torch.empty(1, 3, side, side, device="meta"))
        return True
    except (RuntimeError, ValueError, AssertionError, IndexError, TypeError, ZeroDivisionError):
        return False


def _declared_fixed_side(model: nn.Module) -> int | None:
    """A side the model itself says it needs: torchvision's ViT checks ``image_size`` and nothing else passes."""
    from torchvision.models import VisionTransformer

    return int(model.image_size) if isinstance(model, VisionTransformer) else None


def _spacing(model: nn.Module, default: int) -> int | None:
    """The smallest step between accepted sides next to the default (None: only the default works)."""
    for step in (*_PROBE_STEPS, default):
        above = _accepts(model, default + step)
        below = default - step < MIN_SIDE or _accepts(model, default - step)
        if above and below:
            return step
    return None


def _minimum(model: nn.Module, default: int, multiple: int, offset: int) -> int:
    """Smallest accepted side on the lattice ``offset + k * multiple`` (binary search: acceptance grows with size)."""
    lowest = offset + multiple * max(0, math.ceil((MIN_SIDE - offset) / multiple))
    if _accepts(model, lowest):
        return lowest
    low, high = lowest, default  # low refused, high accepted
    while high - low > multiple:
        middle = low + ((high - low) // multiple // 2) * multiple
        if _accepts(model, middle):
            high = middle
        else:
            low = middle
    return high


# --- how much work a photo causes ---------------------------------------------------------------------


@dataclass(frozen=True)
class ResizePlan:
    """How a photo is resized for a full-image model input (short side scaled, aspect ratio kept)."""

    short_side: int  # what the short side is resized to
    input_size: tuple[int, int]  # (height, width) the model sees
    requested_short_side: int  # the recipe's short side
    limited: bool  # True when the short side was lowered to keep the input within MAX_INPUT_PIXELS

    def note(self) -> str | None:
        if not self.limited:
            return None
        h, w = self.input_size
        return (
            f"Input limited to {w}x{h} ({self.short_side} px short side instead of {self.requested_short_side}) "
            f"to keep the work bounded ({MAX_INPUT_PIXELS / 1e6:.2f} megapixels at most)."
        )


def check_aspect_ratio(photo_size: tuple[int, int], *, max_aspect: float = MAX_ASPECT_RATIO) -> None:
    """Refuse a photo of ``(width, height)`` whose long side is more than ``max_aspect`` times its short side."""
    width, height = photo_size
    short, long = sorted((width, height))
    if short < 1 or long / short > max_aspect:
        ratio = f"{long / max(short, 1):,.0f}"
        raise InputTooLargeError(
            f"The photo is {width}x{height} px: one side is {ratio} times the other, and cvlens takes photos up to "
            f"{max_aspect:.0f}:1 (a strip that thin would become an enormous model input). "
            f"Crop it into pieces no longer than {max_aspect:.0f} times their width and use those."
        )


def resized_size(photo_size: tuple[int, int], short_side: int) -> tuple[int, int]:
    """(height, width) after resizing the short side of a ``(width, height)`` photo, as torchvision's Resize(int) does."""
    width, height = photo_size
    if width <= height:
        return int(short_side * height / width), short_side
    return short_side, int(short_side * width / height)


def plan_resize(
    photo_size: tuple[int, int], short_side: int, *, max_pixels: int = MAX_INPUT_PIXELS, max_aspect: float = MAX_ASPECT_RATIO
) -> ResizePlan:
    """The full-image input a ``(width, height)`` photo gets with its short side resized to ``short_side``.

    Refuses photos beyond ``max_aspect``; lowers the short side when the input would have
    more than ``max_pixels`` pixels. Pure arithmetic: call it before building any tensor.
    """
    check_aspect_ratio(photo_size, max_aspect=max_aspect)
    size = resized_size(photo_size, short_side)
    if size[0] * size[1] <= max_pixels:
        return ResizePlan(short_side, size, short_side, False)
    width, height = photo_size
    fits = lambda side: math.prod(resized_size(photo_size, side)) <= max_pixels  # noqa: E731
    scaled = max(1, math.floor(math.sqrt(max_pixels * min(width, height) / max(width, height))))  # about right
    while scaled > 1 and not fits(scaled):
        scaled -= 1
    while scaled + 1 < short_side and fits(scaled + 1):  # the long side rounds down: one more may fit
        scaled += 1
    return ResizePlan(scaled, resized_size(photo_size, scaled), short_side, True)
