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
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
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

# SmoothGrad and Gradient SHAP draw their noise from torch's global generator (Captum offers
# no generator argument). Seeding it is only reproducible if no other seeded call runs at the
# same time, so those few lines hold this lock; the rest of every method runs in parallel.
_GLOBAL_RNG_LOCK = threading.Lock()


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
    size = tuple(batch.shape[-2:])
    resolution = _native_resolution(method, settings, batch, raw)
    if tuple(raw.shape[-2:]) != size:  # Grad-CAM: the layer's grid, upsampled to the input
        raw = LayerAttribution.interpolate(raw, size, interpolate_mode=settings.get("interpolate_mode", "bilinear"))
    synchronize(batch.device)
    elapsed_ms = (time.perf_counter() - start) * 1000
    if progress:
        progress(1.0)
    values = _to_map(raw.detach(), method.sign)
    return Attribution(
        method.name, method.display_name, target, values, method.sign, elapsed_ms, resolution, layer, settings, notes
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
    if method.name == "integrated_gradients":
        return settings["n_steps"]
    if method.name == "smoothgrad":
        return settings["nt_samples"]
    if method.name == "gradient_shap":
        return settings["n_samples"]
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


def _run_integrated_gradients(forward, batch, target, settings, layer):
    return IntegratedGradients(forward).attribute(
        batch,
        baselines=torch.zeros_like(batch),
        target=target,
        n_steps=settings["n_steps"],
        method=settings["method"],
        internal_batch_size=settings["internal_batch_size"],
    )


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
    with _GLOBAL_RNG_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings["seed"])
        return GradientShap(forward).attribute(
            batch, baselines=baselines, n_samples=settings["n_samples"], stdevs=settings["stdevs"], target=target
        )


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
