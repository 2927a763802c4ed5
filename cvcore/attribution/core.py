"""``explain``: one attribution map for one input, target and method.

In Captum's manner the public function validates and normalises its arguments, and a
private one works on a fixed form: a (1, C, H, W) float tensor on the model's device,
an int target, a :class:`~cvcore.attribution.methods.Method` with complete settings.
All hooks land on a per-call :func:`~cvcore.attribution.isolation.shadow_copy`, so the
(shared, cached) model is never modified, whatever happens.

Why a per-call copy and not a lock around the shared model: Captum's LayerGradCam puts a
forward hook on the chosen layer and Guided Backprop hooks every ReLU. On a model shared
by several threads (Streamlit runs each browser session in its own thread), a hook
registered by one call would fire inside another call's forward pass, or inside plain
inference on another page, and a lock would have to cover *every* use of the model, not
just ours. The copy shares the weight tensors (no memory cost, ~10-40 ms to build), has
its own hook dictionaries, so concurrent calls cannot see each other's hooks and nothing
can be left on the shared model even if Captum raises half-way.

Path methods (Integrated Gradients, Gradient SHAP) come with their completeness check
(:class:`Completeness`): Captum's convergence delta, sum(attributions) - (f(input) - f(baseline)),
beside the map, and a note on the map when it exceeds :data:`COMPLETENESS_TOLERANCE`.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from captum.attr import (
    GradientShap,
    GuidedBackprop,
    GuidedGradCam,
    IntegratedGradients,
    LayerAttribution,
    LayerGradCam,
    NoiseTunnel,
    Occlusion,
    Saliency,
)
from torch import nn

from cvcore.attribution.faithfulness import as_image_batch, gaussian_blur
from cvcore.attribution.isolation import shadow_copy
from cvcore.attribution.layers import check_spatial_layer, default_layer, resolve_layer
from cvcore.attribution.methods import Method, Sign, get_method
from cvcore.device import synchronize
from cvcore.errors import InvalidInputError

Progress = Callable[[float], None]

# SmoothGrad and Gradient SHAP draw their noise from torch's global generator, and Gradient
# SHAP its baselines and path points from numpy's (Captum offers no generator argument).
# Seeding them is only reproducible if no other seeded call runs at the same time, so those
# few lines hold this lock; the rest of every method runs in parallel.
_GLOBAL_RNG_LOCK = threading.Lock()

# A path method's map may miss f(input) - f(baseline) by at most this share: Sundararajan et al.
# 2017 (Sec. 5) advise checking that the attributions add up to the score difference, to within
# 5%, and taking more steps if they do not.
COMPLETENESS_TOLERANCE = 0.05


@dataclass(frozen=True)
class Completeness:
    """How far a path method's map is from adding up to f(input) - f(baseline).

    ``delta`` is Captum's convergence delta, sum(attributions) - (f(input) - f(baseline)): for
    Integrated Gradients the error of the path integral's quadrature; for Gradient SHAP the mean
    of Captum's per-sample deltas (its inputs are noisy and its baselines random, so
    ``output_difference`` is the mean of f(noisy input) - f(baseline) over its samples).
    """

    delta: float
    output_difference: float  # f(input) - f(baseline), the score the map should add up to
    samples: int = 1  # Captum's deltas averaged into ``delta`` (Gradient SHAP: n_samples)
    steps: int | None = None  # Integrated Gradients: the steps it took along the path

    @property
    def attribution_sum(self) -> float:
        return self.output_difference + self.delta

    @property
    def relative(self) -> float:
        """|delta| / |f(input) - f(baseline)| (infinite when the two scores are equal)."""
        return abs(self.delta) / abs(self.output_difference) if self.output_difference else math.inf

    @property
    def within_tolerance(self) -> bool:
        return self.relative <= COMPLETENESS_TOLERANCE

    def describe(self) -> str:
        how = f", mean of {self.samples} samples" if self.samples > 1 else f", {self.steps} steps" if self.steps else ""
        return (
            f"completeness: attributions sum to {self.attribution_sum:.3f}, f(x) − f(baseline) = {self.output_difference:.3f}; "
            f"Captum's convergence delta {self.delta:+.3f} ({self.relative:.1%} of it{how})"
        )

    def warning(self) -> str | None:
        if self.within_tolerance:
            return None
        more = (
            "Its per-sample deltas are Monte-Carlo estimates whose mean shrinks only as 1/√samples: more samples bring it closer."
            if self.samples > 1
            else "More steps bring it closer."
        )
        return (
            f"Completeness not met: Captum's convergence delta is {self.relative:.0%} of f(x) − f(baseline) "
            f"(more than {COMPLETENESS_TOLERANCE:.0%}), so the map does not add up to the score difference. {more}"
        )


@dataclass
class Attribution:
    """One map: ``values`` is (H, W) float32 at the input's size, read according to ``sign``.

    ``resolution`` is the grid the method really resolves (Grad-CAM: its layer's h x w,
    Occlusion: one cell per stride, else the input's H x W); finer detail in ``values``
    comes from upsampling.
    """

    method: str
    display_name: str
    target: int
    values: np.ndarray = field(repr=False)
    sign: Sign
    time_ms: float
    resolution: tuple[int, int]
    layer: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    completeness: Completeness | None = None  # path methods only (Integrated Gradients, Gradient SHAP)


class _CountingForward(nn.Module):
    """Wraps the network to report progress: Captum calls it once per internal batch.

    ``expected_rows`` is how many input rows the method will push through in total.
    """

    def __init__(self, net: nn.Module, expected_rows: int | None, progress: Progress | None):
        super().__init__()
        self.net = net
        self.expected_rows = expected_rows
        self.progress = progress
        self.rows_done = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        self.rows_done += x.shape[0]
        if self.progress and self.expected_rows:
            self.progress(min(1.0, self.rows_done / self.expected_rows))
        return out


def explain(
    model: nn.Module,
    inputs: torch.Tensor,
    method: str | Method,
    target: int,
    *,
    family: str | None = None,
    layer: str | None = None,
    settings: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
) -> Attribution:
    """Attribution map of ``model``'s score for class ``target`` with respect to ``inputs``.

    ``inputs`` is one preprocessed image, (3, H, W) or (1, 3, H, W). ``family`` (the
    catalogue family) picks the Grad-CAM layer; ``layer`` (a dotted module path)
    overrides it. ``settings`` override the method's defaults. ``model`` may be an
    adapter module (see :mod:`cvcore.attribution.segmentation`) whose output is
    (B, classes). Long methods call ``progress(fraction)``.
    """
    method = method if isinstance(method, Method) else get_method(method)
    batch = as_image_batch(inputs, model)
    num_outputs = _num_outputs(model, batch)
    if not 0 <= int(target) < num_outputs:
        raise InvalidInputError(
            f"Target class {target} is out of range: this model has {num_outputs} classes (0..{num_outputs - 1})."
        )
    chosen = layer is not None
    if method.needs_layer and layer is None:
        layer = default_layer(model, family)
    if method.needs_layer:
        resolve_layer(model, layer)  # fail early, with the model's real layer names
        if chosen:  # the user's layer: one forward pass checks that it gives a map (the defaults do)
            check_spatial_layer(model, layer, batch)
    return _explain(
        model, batch, method, int(target), layer if method.needs_layer else None, method.settings(dict(settings or {})), progress
    )


def _num_outputs(model: nn.Module, batch: torch.Tensor) -> int:
    classes = getattr(model, "num_classes", None)
    if isinstance(classes, int):
        return classes
    linear = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if linear:
        return linear[-1].out_features
    with torch.inference_mode():
        return int(model(batch).shape[1])


def _explain(
    model, batch, method: Method, target: int, layer: str | None, settings: dict, progress: Progress | None
) -> Attribution:
    synchronize(batch.device)
    start = time.perf_counter()  # the whole cost of a map, the per-call copy included
    guided = method.name in ("guided_backprop", "guided_grad_cam")
    # Folding BatchNorm into the convs speeds up the many passes of IG/SmoothGrad/SHAP; layer
    # methods keep the tree as it is, so that a chosen layer's output means what its name says.
    net = shadow_copy(model, guided_relus=guided, fold_batchnorm=not method.needs_layer)
    forward = _CountingForward(net, _expected_rows(method, settings, batch), progress)
    layer_module = resolve_layer(net, layer) if layer else None
    notes = (
        []
        if not guided or _has_relus(net)
        else ["No ReLU modules in this model: the guided rule changed nothing (plain gradient)."]
    )
    if method.name != "occlusion":  # our own detached tensor: Captum would set this itself, with a warning
        batch = batch.requires_grad_(True)
    raw = _RUNNERS[method.name](forward, batch, target, settings, layer_module)  # (1, C, H, W) or (1, 1, h, w)
    raw, completeness = raw if isinstance(raw, tuple) else (raw, None)
    if completeness is not None and completeness.warning():
        notes.append(completeness.warning())
    size = tuple(batch.shape[-2:])
    resolution = _native_resolution(method, settings, batch, raw)
    if tuple(raw.shape[-2:]) != size:  # Grad-CAM: the layer's grid, upsampled to the input
        raw = LayerAttribution.interpolate(raw, size, interpolate_mode=settings.get("interpolate_mode", "bilinear"))
    synchronize(batch.device)
    elapsed_ms = (time.perf_counter() - start) * 1000
    if progress:
        progress(1.0)
    values = _to_map(raw.detach(), method.sign)
    values.flags.writeable = False  # maps are shared (session state, the dashboard's cache of results)
    return Attribution(
        method.name,
        method.display_name,
        target,
        values,
        method.sign,
        elapsed_ms,
        resolution,
        layer,
        settings,
        notes,
        completeness,
    )


def _native_resolution(method: Method, settings: dict, batch: torch.Tensor, raw: torch.Tensor) -> tuple[int, int]:
    h, w = batch.shape[-2:]
    if method.name == "occlusion":
        _, stride = _occlusion_window(settings, batch)
        return -(-h // stride), -(-w // stride)
    return int(raw.shape[-2]), int(raw.shape[-1])


def _has_relus(net: nn.Module) -> bool:
    return any(isinstance(m, nn.ReLU) for m in net.modules())


def _to_map(raw: torch.Tensor, sign: Sign) -> np.ndarray:
    """(1, C, H, W) -> (H, W): summed over channels (of magnitudes when only magnitude matters)."""
    raw = raw.float()[0]
    reduced = raw.abs().sum(0) if sign is Sign.ABSOLUTE else raw.sum(0)
    return reduced.cpu().numpy().astype(np.float32)


def _expected_rows(method: Method, settings: dict, batch: torch.Tensor) -> int | None:
    # Captum's convergence delta adds a forward pass of the start and the end of each path.
    if method.name == "integrated_gradients":  # at most: the adaptive refinement may stop early
        first, per_piece = _ig_refinements(settings)
        pieces = settings["segments"] + (2 * ((settings["n_steps"] - first) // (2 * per_piece)) if per_piece else 0)
        return settings["n_steps"] + 2 * pieces
    if method.name == "smoothgrad":
        return settings["nt_samples"]
    if method.name == "gradient_shap":
        return 3 * settings["n_samples"]
    if method.name == "occlusion":
        window, stride = _occlusion_window(settings, batch)
        h, w = batch.shape[-2:]
        return 1 + ((h - window) // stride + 1) * ((w - window) // stride + 1)
    return None


def _occlusion_window(settings: dict, batch: torch.Tensor) -> tuple[int, int]:
    side = min(batch.shape[-2:])
    window = max(1, min(int(settings["window"]), side))
    return window, max(1, min(int(settings["stride"]), window))


# --- one runner per registry entry: (forward, batch, target, settings, layer) -> (1, C', H, W) ---


def _run_saliency(forward, batch, target, settings, layer):
    return Saliency(forward).attribute(batch, target=target, abs=settings["abs"])


def path_segments(n_steps: int, segments: int) -> list[tuple[float, float, int]]:
    """(start, end, steps) pieces of the path from the baseline (0) to the input (1).

    The cuts halve the distance to the baseline each time (1/2, 1/4, ...): on a ReLU network the
    score changes fastest, and least smoothly, just after the path leaves the baseline (on
    EfficientNet-Lite0 and the bundled photos, most of f(x) - f(0) is gained in the first eighth
    of the path), where equal steps along the whole path miss most. The steps are shared out
    evenly, the remainder to the pieces nearest the baseline.
    """
    if not 1 <= segments <= n_steps:
        raise InvalidInputError(f"Integrated Gradients needs 1 to n_steps ({n_steps}) path segments; got {segments}.")
    edges = [0.0] + [2.0**-k for k in range(segments - 1, -1, -1)]
    share, extra = divmod(n_steps, segments)
    return [(lo, hi, share + (i < extra)) for i, (lo, hi) in enumerate(zip(edges, edges[1:]))]


@dataclass(frozen=True)
class _Piece:
    start: float  # fractions of the way from the baseline to the input
    end: float
    attributions: torch.Tensor
    delta: float  # Captum's convergence delta on this piece: exactly its quadrature error


def _ig_piece(forward, batch, baseline, target, settings, start: float, end: float, steps: int) -> _Piece:
    attributions, delta = IntegratedGradients(forward).attribute(
        (baseline + end * (batch - baseline)).detach(),
        baselines=(baseline + start * (batch - baseline)).detach(),
        target=target,
        n_steps=steps,
        method=settings["method"],
        internal_batch_size=settings["internal_batch_size"],
        return_convergence_delta=True,
    )
    return _Piece(start, end, attributions, float(delta.sum()))


def _complete(pieces: list[_Piece]) -> bool:
    """Every piece's error counted with its sign ignored (no luck from cancellation) is within tolerance."""
    output_difference = sum(float(p.attributions.double().sum()) - p.delta for p in pieces)
    return sum(abs(p.delta) for p in pieces) <= COMPLETENESS_TOLERANCE * abs(output_difference)


def _ig_refinements(settings: dict) -> tuple[int, int]:
    """(steps of the first pass, steps per refined piece): adaptive IG spends half its steps on each."""
    if settings["n_steps"] < settings["segments"]:
        raise InvalidInputError(
            f"Integrated Gradients needs at least one step per path segment: n_steps {settings['n_steps']} < segments "
            f"{settings['segments']}."
        )
    if not settings["adaptive"]:
        return settings["n_steps"], 0
    first = max(settings["segments"], settings["n_steps"] // 2)
    return first, max(1, first // settings["segments"])


def _run_integrated_gradients(forward, batch, target, settings, layer):
    """Integrated Gradients from the mean colour (0 in normalised space) to the photo, as Captum's IG
    on pieces of the path (:func:`path_segments`); the pieces' attributions add up to the whole
    path's, and so do their convergence deltas.

    ``adaptive``: half of ``n_steps`` go to the first pass; the rest halve, two pieces of the same
    size at a time, the piece whose convergence delta (its exact quadrature error, since f is
    known at both of its ends) is largest, until the pieces' errors together are within
    :data:`COMPLETENESS_TOLERANCE` of f(x) - f(baseline) or the steps run out. Otherwise (and
    with ``segments=1``) this is Captum's IG with ``n_steps``.
    """
    baseline = torch.zeros_like(batch)
    first, per_piece = _ig_refinements(settings)
    pieces = [
        _ig_piece(forward, batch, baseline, target, settings, lo, hi, steps)
        for lo, hi, steps in path_segments(first, settings["segments"])
    ]
    used = first
    while per_piece and used + 2 * per_piece <= settings["n_steps"] and not _complete(pieces):
        worst = max(range(len(pieces)), key=lambda i: abs(pieces[i].delta))
        lo, hi = pieces[worst].start, pieces[worst].end
        mid = (lo + hi) / 2
        pieces[worst : worst + 1] = [
            _ig_piece(forward, batch, baseline, target, settings, lo, mid, per_piece),
            _ig_piece(forward, batch, baseline, target, settings, mid, hi, per_piece),
        ]
        used += 2 * per_piece
    total = sum(p.attributions for p in pieces)
    delta = sum(p.delta for p in pieces)
    return total, Completeness(delta, float(total.double().sum()) - delta, steps=used)


def _run_smoothgrad(forward, batch, target, settings, layer):
    stdev = float(settings["noise_level"]) * float(batch.detach().max() - batch.detach().min())
    with _GLOBAL_RNG_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings["seed"])
        return NoiseTunnel(Saliency(forward)).attribute(
            batch,
            nt_type="smoothgrad",
            nt_samples=settings["nt_samples"],
            nt_samples_batch_size=settings["nt_samples_batch_size"],
            stdevs=stdev,
            target=target,
            abs=True,
        )


def _run_gradient_shap(forward, batch, target, settings, layer):
    baselines = torch.cat([torch.zeros_like(batch), gaussian_blur(batch, sigma=8.0)])  # (2, C, H, W)
    with _GLOBAL_RNG_LOCK, torch.random.fork_rng(devices=[]), _seeded_numpy(settings["seed"]):
        torch.manual_seed(settings["seed"])
        attributions, deltas = GradientShap(forward).attribute(
            batch, baselines=baselines, n_samples=settings["n_samples"], stdevs=settings["stdevs"], target=target,
            return_convergence_delta=True,
        )  # fmt: skip
    # One delta per sample; the map is their mean, so its delta is the deltas' mean.
    delta = float(deltas.double().mean())
    return attributions, Completeness(delta, float(attributions.double().sum()) - delta, samples=int(deltas.numel()))


@contextmanager
def _seeded_numpy(seed: int) -> Iterator[None]:
    """numpy's global generator seeded for the block, then put back as it was."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def _run_guided_backprop(forward, batch, target, settings, layer):
    return GuidedBackprop(forward).attribute(batch, target=target)


def _run_grad_cam(forward, batch, target, settings, layer):
    return LayerGradCam(forward, layer).attribute(batch, target=target, relu_attributions=True)  # (1, 1, h, w)


def _run_guided_grad_cam(forward, batch, target, settings, layer):
    return GuidedGradCam(forward, layer).attribute(batch, target=target, interpolate_mode=settings["interpolate_mode"])


def _run_occlusion(forward, batch, target, settings, layer):
    window, stride = _occlusion_window(settings, batch)
    c = batch.shape[1]
    with torch.no_grad():
        return Occlusion(forward).attribute(
            batch,
            sliding_window_shapes=(c, window, window),
            strides=(c, stride, stride),
            baselines=0.0,
            target=target,
            perturbations_per_eval=settings["perturbations_per_eval"],
        )


_RUNNERS: dict[str, Callable[..., torch.Tensor]] = {
    "saliency": _run_saliency,
    "integrated_gradients": _run_integrated_gradients,
    "smoothgrad": _run_smoothgrad,
    "gradient_shap": _run_gradient_shap,
    "guided_backprop": _run_guided_backprop,
    "grad_cam": _run_grad_cam,
    "guided_grad_cam": _run_guided_grad_cam,
    "occlusion": _run_occlusion,
}
