"""Effective receptive field (Luo et al. 2016, "Understanding the Effective Receptive Field in Deep CNNs").

The theoretical receptive field says which input pixels *can* move a unit; the effective one
says how much each of them does: the gradient of one unit (default: the centre of a layer's
output map, summed over its channels) with respect to the input, in absolute value, summed
over the input's colour channels and averaged over several images. Luo et al. find it
roughly Gaussian and much smaller than the theoretical field, growing with training.

Reported next to the theoretical field (from :mod:`cvcore.analysis.receptive_field`):

- ``extent_px``: the bounding box of the pixels with a nonzero gradient. It can never exceed
  the theoretical field; for a linear stack with positive weights it equals it exactly.
- ``mass50_side_px`` / ``mass90_side_px``: the side of the smallest square, centred on the
  unit, that holds 50% / 90% of the gradient mass.
- ``hole_fraction``: the share of pixels inside the extent whose gradient is exactly zero:
  pixels the structure never reaches, or, with few images, pixels behind ReLUs that are off
  for all of them.
- ``grid_period_px``: gridding, the signature of stacked dilations that share a factor (2-2-2):
  every reached pixel lies on a lattice of that period and the pixels between its taps are
  never reached, whatever the weights and the images. 1-2-5 (hybrid dilated convolution)
  reaches every pixel: no period. Random holes (ReLUs) form no lattice.

Every call works on a per-call copy of the model (:func:`cvcore.attribution.shadow_copy`):
the hook that catches the layer's output lives on the copy, inside a ``try/finally``, and
the shared model's weights receive no gradient. The work is bounded: at most
:data:`MAX_IMAGES` images, sides of at most :data:`MAX_SIDE_PX` pixels.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from cvcore.analysis.erf_layers import CITATION, MAX_IMAGES, default_layer, feature_map_layers  # noqa: F401 (re-exported)
from cvcore.analysis.receptive_field import GLOBAL, ReceptiveFieldTracker, field_of, tag_input
from cvcore.errors import AnalysisError, InvalidInputError
from cvcore.formatting import Table

MAX_SIDE_PX = 1024
MAX_PIXELS = 4 * 1024 * 1024  # images x H x W in one call: four 1024 x 1024 inputs, or eight at 724
MAX_GRID_PERIOD = 16  # lattice periods looked for (pixels)
MASS_LEVELS = (0.5, 0.9)


@dataclass(frozen=True)
class EffectiveField:
    layer: str
    weights: str  # "trained", "random init (seed 0)", ...
    unit: tuple[int, int]  # (row, column) in the layer's output map
    layer_shape: tuple[int, ...]  # (C, h, w)
    input_size: tuple[int, int]
    images: int
    gradient: np.ndarray = field(repr=False)  # (H, W): mean over images of |d unit / d input|, summed over RGB
    theoretical_rf_px: tuple[int, int] | None  # (h, w); -1 = the whole input
    jump_px: tuple[float, float] | None
    centre_px: tuple[float, float] | None  # (y, x) of the unit in the input: the centre of the extent
    extent_px: tuple[int, int] | None  # (h, w) of the nonzero gradient's bounding box
    mass50_side_px: int | None
    mass90_side_px: int | None
    hole_fraction: float
    grid_period_px: int | None  # every reached pixel on a lattice of this period (gridding); None: no lattice
    time_ms: float
    notes: tuple[str, ...] = ()

    @property
    def gridding(self) -> bool:
        return self.grid_period_px is not None

    @property
    def theoretical_is_global(self) -> bool:
        return self.theoretical_rf_px is not None and GLOBAL in self.theoretical_rf_px


class _Reached(Exception):
    """Raised by the hook once the layer has run: the rest of the network is not needed."""


@contextmanager
def _capture(module: nn.Module) -> Iterator[dict]:
    """A forward hook on ``module`` (of the per-call copy) that keeps its first output and stops the forward."""
    captured: dict = {}

    def hook(_module, _inputs, output):
        captured["output"] = output
        raise _Reached

    handle = module.register_forward_hook(hook)
    try:
        yield captured
    finally:
        handle.remove()


def _first_tensor(output) -> torch.Tensor | None:
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, dict):
        output = list(output.values())
    if isinstance(output, (tuple, list)):
        return next((t for t in output if isinstance(t, torch.Tensor)), None)
    return None


def check_batch(images: torch.Tensor) -> torch.Tensor:
    if not isinstance(images, torch.Tensor) or images.dim() != 4:
        raise InvalidInputError(f"Images must be a (N, C, H, W) tensor; got {getattr(images, 'shape', type(images))}.")
    n, _, h, w = images.shape
    if not 1 <= n <= MAX_IMAGES:
        raise InvalidInputError(f"The effective receptive field averages 1 to {MAX_IMAGES} images; got {n}.")
    if max(h, w) > MAX_SIDE_PX or min(h, w) < 8:
        raise InvalidInputError(f"Input sides must be between 8 and {MAX_SIDE_PX} pixels; got {h}x{w}.")
    if n * h * w > MAX_PIXELS:
        raise InvalidInputError(
            f"{n} images of {h}x{w} are too much work at once (limit {MAX_PIXELS:,} pixels); use fewer or smaller images."
        )
    if not torch.isfinite(images).all():
        raise InvalidInputError("The images contain NaN or infinite values.")
    return images


def effective_receptive_field(
    model: nn.Module,
    layer: str,
    images: torch.Tensor,
    *,
    unit: tuple[int, int] | None = None,
    channel: int | None = None,
    weights: str = "",
) -> EffectiveField:
    """The effective receptive field of one unit of ``layer`` (a dotted module path) over ``images``.

    ``images`` is a preprocessed (N, C, H, W) batch; ``unit`` is (row, column) in the layer's
    output (default: its centre); ``channel`` picks one output channel (default: their sum).
    ``weights`` only labels the result ("trained", "random init").
    """
    from cvcore.attribution.isolation import shadow_copy
    from cvcore.attribution.layers import resolve_layer

    images = check_batch(images)
    start = time.perf_counter()
    copy = shadow_copy(model)
    target = resolve_layer(copy, layer)
    device = next((p.device for p in copy.parameters()), images.device)
    x = images.detach().to(device).clone().requires_grad_(True)
    with torch.enable_grad():
        output = _layer_output(copy, target, x, layer)
        c, h, w = output.shape[1:]
        row, col = _unit(unit, (h, w), layer)
        if channel is not None and not 0 <= channel < c:
            raise InvalidInputError(f"Channel {channel} is out of range: {layer} has {c} channels (0..{c - 1}).")
        chosen = output[:, channel, row, col] if channel is not None else output[:, :, row, col]
        chosen.sum().backward()
    gradient = x.grad.detach().abs().sum(dim=1).mean(dim=0).double().cpu().numpy()
    field_ = field_of(output)
    return _summarise(
        gradient, layer=layer, weights=weights, unit=(row, col), layer_shape=(c, h, w), images=images.shape[0],
        rf=field_.rf if field_ else None, jump=field_.jump if field_ else None, start=start,
    )  # fmt: skip


def _layer_output(copy: nn.Module, target: nn.Module, x: torch.Tensor, layer: str) -> torch.Tensor:
    with _capture(target) as captured, ReceptiveFieldTracker():
        try:
            copy(tag_input(x))
        except _Reached:
            pass
        except (RuntimeError, ValueError, TypeError) as exc:
            raise AnalysisError(f"The model could not run on a {x.shape[2]}x{x.shape[3]} input: {exc}") from exc
    if "output" not in captured:
        raise InvalidInputError(f"Layer {layer!r} does not run in this model's forward pass.")
    output = _first_tensor(captured["output"])
    if output is None or output.dim() != 4:
        shape = None if output is None else tuple(output.shape)
        raise InvalidInputError(
            f"Layer {layer!r} does not output a feature map (N, C, H, W) but {shape}; pick a convolutional layer."
        )
    return output


def _unit(unit: tuple[int, int] | None, size: tuple[int, int], layer: str) -> tuple[int, int]:
    h, w = size
    if unit is None:
        return h // 2, w // 2
    row, col = int(unit[0]), int(unit[1])
    if not (0 <= row < h and 0 <= col < w):
        raise InvalidInputError(f"Unit ({row}, {col}) is outside {layer}'s {h}x{w} output map.")
    return row, col


def _summarise(gradient: np.ndarray, *, layer, weights, unit, layer_shape, images, rf, jump, start) -> EffectiveField:
    notes = []
    support = gradient > 0
    if not support.any():
        notes.append("The gradient is zero everywhere: this unit does not respond to these images (a dead ReLU?).")
        extent = centre = period = None
        holes, sides = 0.0, (None, None)
    else:
        rows, cols = np.flatnonzero(support.any(axis=1)), np.flatnonzero(support.any(axis=0))
        (r0, r1), (c0, c1) = (rows[0], rows[-1]), (cols[0], cols[-1])
        extent = (int(r1 - r0 + 1), int(c1 - c0 + 1))
        centre = ((r0 + r1) / 2, (c0 + c1) / 2)
        holes = float(1.0 - support[r0 : r1 + 1, c0 : c1 + 1].mean())
        sides = tuple(mass_side(gradient, centre, level) for level in MASS_LEVELS)
        period = grid_period(support[r0 : r1 + 1, c0 : c1 + 1])
    return EffectiveField(
        layer=layer, weights=weights, unit=unit, layer_shape=tuple(int(v) for v in layer_shape),
        input_size=(int(gradient.shape[0]), int(gradient.shape[1])), images=int(images), gradient=gradient.astype(np.float32),
        theoretical_rf_px=tuple(int(v) for v in rf) if rf else None, jump_px=tuple(float(v) for v in jump) if jump else None,
        centre_px=centre, extent_px=extent, mass50_side_px=sides[0], mass90_side_px=sides[1], hole_fraction=holes,
        grid_period_px=period, time_ms=(time.perf_counter() - start) * 1000, notes=tuple(notes),
    )  # fmt: skip


def grid_period(support: np.ndarray) -> int | None:
    """The smallest period p >= 2 such that every reached pixel of the extent (``support``, cropped to
    it) sits on the lattice of step p from its corner; None when the reached pixels form no lattice."""
    for p in range(2, min(MAX_GRID_PERIOD, max(support.shape) - 1) + 1):
        lattice = np.zeros_like(support)
        lattice[::p, ::p] = True
        if not (support & ~lattice).any():
            return p
    return None


def mass_side(gradient: np.ndarray, centre: tuple[float, float], level: float) -> int:
    """Side (pixels) of the smallest square centred on ``centre`` whose gradient mass reaches ``level`` of the total."""
    total = float(gradient.sum())
    integral = np.zeros((gradient.shape[0] + 1, gradient.shape[1] + 1))
    integral[1:, 1:] = gradient.cumsum(0).cumsum(1)
    cy, cx = centre
    # Squares keep the centre's parity: odd sides around a pixel, even sides around a pixel corner.
    first = 1 if float(cy).is_integer() else 2
    for side in range(first, 2 * max(gradient.shape) + 2, 2):
        top, left = round(cy - (side - 1) / 2), round(cx - (side - 1) / 2)
        t, b = max(top, 0), min(top + side, gradient.shape[0])
        lft, r = max(left, 0), min(left + side, gradient.shape[1])
        mass = integral[b, r] - integral[t, r] - integral[b, lft] + integral[t, lft]
        if mass >= level * total * (1 - 1e-12):
            return side
    return 2 * max(gradient.shape)


# --- which layers -------------------------------------------------------------------------


# --- images and models -------------------------------------------------------------------


def images_batch(
    images: Sequence, input_size: tuple[int, int], mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)
) -> torch.Tensor:
    """PIL images -> a normalised (N, 3, H, W) batch: short side resized to cover ``input_size``, centre crop."""
    from PIL import Image

    if not 1 <= len(images) <= MAX_IMAGES:
        raise InvalidInputError(f"Give 1 to {MAX_IMAGES} images; got {len(images)}.")
    h, w = int(input_size[0]), int(input_size[1])
    arrays = []
    for image in images:
        image = image.convert("RGB")
        scale = max(h / image.height, w / image.width)
        size = (max(w, round(image.width * scale)), max(h, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.BILINEAR)
        left, top = (size[0] - w) // 2, (size[1] - h) // 2
        arrays.append(np.asarray(image.crop((left, top, left + w, top + h)), dtype=np.float32) / 255.0)
    batch = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)
    mean_t, std_t = torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1)
    return check_batch((batch - mean_t) / std_t)


def sample_images(limit: int = MAX_IMAGES) -> list:
    """The photos bundled in ``assets/samples``, decoded as uploads are."""
    from cvcore.images import decode_image
    from cvcore.samples import list_samples

    return [decode_image(s.path).image for s in list_samples()[:limit]]


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """torch's global generator seeded for the block and restored afterwards. Sessions run in threads: the
    block holds the lock the attribution methods seed under, so seeded work never interleaves."""
    from cvcore.attribution.core import _GLOBAL_RNG_LOCK

    with _GLOBAL_RNG_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def random_init_model(spec, seed: int = 0) -> nn.Module:
    """The architecture of a catalogue entry with its builder's random initialisation, reproducibly."""
    with seeded(seed):
        return spec.builder().eval()


@dataclass(frozen=True)
class ErfReport:
    model: str
    layer: str
    results: tuple[EffectiveField, ...]  # one per set of weights
    notes: tuple[str, ...]


def catalogue_erf(
    spec,
    layer: str,
    images: Sequence | None = None,
    *,
    weights: Sequence[str] = ("random", "trained"),
    unit: tuple[int, int] | None = None,
    input_size: tuple[int, int] | None = None,
    seed: int = 0,
    trained_model: nn.Module | None = None,
    random_model: nn.Module | None = None,
) -> ErfReport:
    """The effective receptive field of ``layer`` in a catalogue entry (a :class:`~cvcore.registry.ModelSpec`),
    for random-init and, where they are on this machine, trained weights. ``images`` are PIL images
    (default: the bundled samples); models may be passed in (the dashboard's cached ones)."""
    from cvcore.registry import input_size_or_default
    from cvcore.weights import fetch_command, weight_status

    unknown = set(weights) - {"random", "trained"}
    if unknown or not weights:
        raise InvalidInputError(f"Weights must be 'random' and/or 'trained'; got {sorted(unknown) or 'nothing'}.")
    size = input_size_or_default(spec, input_size)
    p = spec.preprocessing
    batch = images_batch(images or sample_images(), size, *((p.mean, p.std) if p else ()))
    results, notes = [], []
    if "random" in weights:
        model = random_model if random_model is not None else random_init_model(spec, seed)
        results.append(effective_receptive_field(model, layer, batch, unit=unit, weights=f"random init (seed {seed})"))
    if "trained" in weights:
        if trained_model is None and not weight_status(spec.name).available:
            how = f" (get them with `{fetch_command(spec.name)}`)" if spec.has_weights else ""
            notes.append(f"No trained weights for {spec.display_name} on this machine{how}: random initialisation only.")
        else:
            from cvcore.weights import load_model

            model = trained_model if trained_model is not None else load_model(spec.name, device="cpu")
            results.append(effective_receptive_field(model, layer, batch, unit=unit, weights="trained"))
    if not results:
        raise InvalidInputError(" ".join(notes) or "Nothing to compute.")
    return ErfReport(spec.display_name, layer, tuple(results), tuple(notes))


# --- presenting --------------------------------------------------------------------------


def _field_text(value: tuple | None) -> str | None:
    from cvcore.analysis.tables import format_field

    return format_field(value)


def erf_record(result: EffectiveField) -> dict:
    """The numbers of one result, for tables and JSON (the gradient map itself is left out)."""
    return {
        "layer": result.layer,
        "weights": result.weights,
        "unit": list(result.unit),
        "layer_shape": list(result.layer_shape),
        "input_size": list(result.input_size),
        "images": result.images,
        "theoretical_rf_px": _field_text(result.theoretical_rf_px),
        "jump_px": _field_text(result.jump_px),
        "extent_px": _field_text(result.extent_px),
        "mass50_side_px": result.mass50_side_px,
        "mass90_side_px": result.mass90_side_px,
        "hole_fraction": round(result.hole_fraction, 4),
        "grid_period_px": result.grid_period_px,
        "gridding": result.gridding,
        "time_ms": round(result.time_ms, 1),
        "notes": list(result.notes),
    }


def erf_table(results: Sequence[EffectiveField], model: str = "") -> Table:
    rows = [{k: v for k, v in erf_record(r).items() if k not in ("notes", "input_size", "layer_shape")} for r in results]
    for row in rows:
        row["unit"] = "({}, {})".format(*row["unit"])
    first = results[0]
    h, w = first.input_size
    return Table(
        rows,
        columns=[
            "weights",
            "layer",
            "unit",
            "theoretical_rf_px",
            "extent_px",
            "mass50_side_px",
            "mass90_side_px",
            "hole_fraction",
            "grid_period_px",
            "images",
        ],
        labels={
            "theoretical_rf_px": "theoretical RF (px)",
            "extent_px": "nonzero extent (px)",
            "mass50_side_px": "50% of mass (square side, px)",
            "mass90_side_px": "90% of mass (square side, px)",
            "hole_fraction": "unreached share of the extent",
            "grid_period_px": "gridding: lattice period (px)",
        },
        caption=(
            f"{model} at {h}x{w}: effective receptive field of unit {tuple(first.unit)} of {first.layer} "
            f"(|gradient| w.r.t. the input, averaged over {first.images} image(s)) next to the theoretical one."
        ).strip(),
        sources=[CITATION, "theoretical RF: cvcore.analysis.receptive_field"],
    )


def _square(result: EffectiveField, side: float | None) -> tuple[float, float, float, float] | None:
    """(x0, y0, x1, y1) in pixel-edge coordinates of a square of ``side`` centred on the unit."""
    if side is None or result.centre_px is None:
        return None
    cy, cx = result.centre_px
    half = side / 2
    return cx + 0.5 - half, cy + 0.5 - half, cx + 0.5 + half, cy + 0.5 + half


def theoretical_square(result: EffectiveField) -> tuple[float, float, float, float] | None:
    if result.theoretical_rf_px is None or result.theoretical_is_global or result.centre_px is None:
        return None
    rh, rw = result.theoretical_rf_px
    cy, cx = result.centre_px
    return cx + 0.5 - rw / 2, cy + 0.5 - rh / 2, cx + 0.5 + rw / 2, cy + 0.5 + rh / 2


def panel_title(result: EffectiveField, label: str | None = None) -> str:
    rf = "global" if result.theoretical_is_global else (_field_text(result.theoretical_rf_px) or "?")
    grid = (
        f"; gridding: taps every {result.grid_period_px} px, {result.hole_fraction:.0%} of the field unreached"
        if result.gridding
        else ""
    )
    head = label or f"{result.layer}, {result.weights}"
    return f"{head}: 50% of the mass in {result.mass50_side_px} px, 90% in {result.mass90_side_px} px; theoretical {rf} px{grid}"


def view_window(result: EffectiveField, margin: float = 0.3) -> tuple[int, int, int, int]:
    """(top, left, bottom, right), exclusive: the theoretical field (or the extent) with a margin, within the
    input, so a 13-pixel field on a 128-pixel input is not lost in black."""
    h, w = result.input_size
    box = theoretical_square(result) or (_square(result, max(result.extent_px)) if result.extent_px else None)
    if box is None:
        return 0, 0, h, w
    x0, y0, x1, y1 = box
    pad = margin * max(x1 - x0, y1 - y0)
    top, left = max(0, int(np.floor(y0 - pad))), max(0, int(np.floor(x0 - pad)))
    return top, left, min(h, int(np.ceil(y1 + pad))), min(w, int(np.ceil(x1 + pad)))


def _squares(r: EffectiveField):
    """(box, colour, dashed), drawn in this order: the theoretical field last, on top of an equal 90% square."""
    return (
        (_square(r, r.mass90_side_px), "cyan", True),
        (_square(r, r.mass50_side_px), "cyan", False),
        (theoretical_square(r), "white", False),
    )


LOG_DECADES = 4  # a log-scaled heatmap shows four orders of magnitude below the peak


def display_values(gradient: np.ndarray, log_scale: bool = False) -> np.ndarray:
    """The heatmap's values in 0..1: |gradient| / peak, or its log10 over LOG_DECADES decades (zeros stay 0).
    A linear scale shows where the mass is; a log scale shows the whole extent and its holes."""
    peak = float(gradient.max()) or 1.0
    scaled = gradient / peak
    if not log_scale:
        return scaled
    with np.errstate(divide="ignore"):
        logged = (np.log10(np.where(scaled > 0, scaled, 1.0)) + LOG_DECADES) / LOG_DECADES
    return np.where(scaled > 0, np.clip(logged, 1e-3, 1.0), 0.0)


def erf_figure(results: Sequence[EffectiveField], labels: Sequence[str] | None = None, title: str = "", log_scale: bool = False):
    """Heatmaps side by side, zoomed on the theoretical field: the field as a white square, the 50% and 90%
    squares in cyan (90% dotted)."""
    import textwrap

    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    labels = list(labels) if labels is not None else [None] * len(results)
    titles = ["<br>".join(textwrap.wrap(panel_title(r, lab), 48)) for r, lab in zip(results, labels)]
    fig = make_subplots(rows=1, cols=len(results), subplot_titles=titles, horizontal_spacing=0.08)
    for i, r in enumerate(results, start=1):
        scale = f"log10 |grad| / max + {LOG_DECADES}, / {LOG_DECADES}" if log_scale else "|grad| / max"
        fig.add_trace(
            go.Heatmap(z=display_values(r.gradient, log_scale), colorscale="Inferno", zmin=0, zmax=1, showscale=i == len(results), colorbar={"title": scale},
                       hovertemplate="row %{y}, column %{x}: %{z:.3g}<extra></extra>"),
            row=1, col=i,
        )  # fmt: skip
        for box, colour, dashed in _squares(r):
            if box is not None:
                x0, y0, x1, y1 = (v - 0.5 for v in box)
                fig.add_shape(
                    type="rect",
                    x0=x0,
                    y0=y0,
                    x1=x1,
                    y1=y1,
                    line={"color": colour, "dash": "dot" if dashed else "solid", "width": 2},
                    row=1,
                    col=i,
                )
        top, left, bottom, right = view_window(r)
        fig.update_yaxes(range=[bottom - 0.5, top - 0.5], scaleanchor=f"x{i if i > 1 else ''}", constrain="domain", row=1, col=i)
        fig.update_xaxes(range=[left - 0.5, right - 0.5], constrain="domain", row=1, col=i)
    fig.update_layout(title=title or None, height=520, margin={"t": 110 if title else 90, "b": 30}, font={"size": 11})
    fig.update_annotations(font_size=11)
    return fig


def erf_png(
    results: Sequence[EffectiveField],
    caption: str = "",
    labels: Sequence[str] | None = None,
    min_panel_px: int = 360,
    log_scale: bool = False,
) -> bytes:
    """The heatmaps as one PNG (Pillow; no browser), zoomed as :func:`erf_figure`."""
    from PIL import Image, ImageDraw

    from cvcore.analysis.graph_render import _dashes, _font
    from cvcore.attribution.methods import Sign
    from cvcore.attribution.overlays import colorize

    labels = list(labels) if labels is not None else [None] * len(results)
    panels = []
    for r, label in zip(results, labels):
        top, left, bottom, right = view_window(r)
        crop = display_values(r.gradient, log_scale)[top:bottom, left:right]
        rgba = colorize(crop, Sign.ABSOLUTE, cmap="inferno", alpha=1.0, percentile=100.0)
        h, w = crop.shape
        scale = max(1, -(-min_panel_px // max(h, w)))
        image = Image.fromarray(rgba[..., :3]).resize((w * scale, h * scale), Image.Resampling.NEAREST)
        draw = ImageDraw.Draw(image)
        for box, colour, dashed in _squares(r):
            if box is None:
                continue
            x0, y0, x1, y1 = ((box[0] - left) * scale, (box[1] - top) * scale, (box[2] - left) * scale, (box[3] - top) * scale)
            outline = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
            for piece in _dashes(outline, 6, 4) if dashed else [outline]:
                draw.line(piece, fill=colour, width=2)
        panels.append((_wrap(panel_title(r, label), image.width // 7), image))
    font, small = _font(12, False), _font(11, False)
    gap, line_px = 16, 16
    title_px = line_px * max(len(t) for t, _ in panels) + 6
    width = sum(img.width for _, img in panels) + gap * (len(panels) + 1)
    lines = _wrap(caption, width // 7) if caption else []
    panel_height = max(img.height for _, img in panels)
    canvas = Image.new("RGB", (width, gap + title_px + panel_height + 10 + line_px * len(lines) + gap // 2), "white")
    draw = ImageDraw.Draw(canvas)
    x = gap
    for title_lines, img in panels:
        for k, line in enumerate(title_lines):
            draw.text((x, gap // 2 + line_px * k), line, fill="#222222", font=font)
        canvas.paste(img, (x, gap + title_px))
        x += img.width + gap
    y = gap + title_px + panel_height + 8
    for line in lines:
        draw.text((gap, y), line, fill="#555555", font=small)
        y += line_px
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    return buffer.getvalue()


def _wrap(text: str, width: int) -> list[str]:
    import textwrap

    return textwrap.wrap(text, max(30, width))


def erf_caption(results: Sequence[EffectiveField], model: str = "", with_sources: bool = True, log_scale: bool = False) -> str:
    """What the heatmaps show; with the sources and versions unless the caller adds them (the dashboard's exports)."""
    from cvcore.formatting import provenance

    first = results[0]
    return (
        f"{model} layer {first.layer}, unit {tuple(first.unit)} of its {first.layer_shape[1]}x{first.layer_shape[2]} map; "
        f"|d unit / d input| averaged over {first.images} image(s)"
        + (f", log scale over {LOG_DECADES} decades" if log_scale else ", linear scale")
        + ". White: theoretical receptive field; cyan: squares "
        "holding 50% (solid) and 90% (dotted) of the gradient mass, centred on the unit. "
        + (provenance([CITATION]) if with_sources else "")
    ).strip()
