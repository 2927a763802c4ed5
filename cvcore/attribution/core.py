"""``explain``: one attribution map for one input, target and method.

In Captum's manner the public function validates and normalises its arguments, and a
private one works on a fixed form: a (1, C, H, W) float tensor on the model's device,
an int target, a :class:`~cvcore.attribution.methods.Method` with complete settings.
All hooks land on a per-call :func:`~cvcore.attribution.isolation.shadow_copy`, so the
(shared, cached) model is never modified, whatever happens.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
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

from cvcore.attribution.isolation import shadow_copy
from cvcore.attribution.layers import default_layer, resolve_layer
from cvcore.attribution.methods import Method, Sign, get_method
from cvcore.device import synchronize
from cvcore.errors import InvalidInputError

Progress = Callable[[float], None]


@dataclass
class Attribution:
    """One map: ``values`` is (H, W) float32 at the input's size, read according to ``sign``."""

    method: str
    display_name: str
    target: int
    values: np.ndarray = field(repr=False)
    sign: Sign
    time_ms: float
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
    batch = _as_batch(inputs, model)
    num_outputs = _num_outputs(model, batch)
    if not 0 <= int(target) < num_outputs:
        raise InvalidInputError(f"Target class {target} is out of range: this model has {num_outputs} classes (0..{num_outputs - 1}).")
    if method.needs_layer and layer is None:
        layer = default_layer(model, family)
    if method.needs_layer:
        resolve_layer(model, layer)  # fail early, with the model's real layer names
    return _explain(model, batch, method, int(target), layer if method.needs_layer else None, method.settings(dict(settings or {})), progress)


def _as_batch(inputs: torch.Tensor, model: nn.Module) -> torch.Tensor:
    if not isinstance(inputs, torch.Tensor) or not inputs.is_floating_point():
        raise InvalidInputError("inputs must be a float tensor (a preprocessed image).")
    batch = inputs.unsqueeze(0) if inputs.dim() == 3 else inputs
    if batch.dim() != 4 or batch.shape[0] != 1:
        raise InvalidInputError(f"inputs must be one image, (C, H, W) or (1, C, H, W); got {tuple(inputs.shape)}.")
    device = next(model.parameters()).device
    return batch.detach().to(device)


def _num_outputs(model: nn.Module, batch: torch.Tensor) -> int:
    classes = getattr(model, "num_classes", None)
    if isinstance(classes, int):
        return classes
    linear = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if linear:
        return linear[-1].out_features
    with torch.inference_mode():
        return int(model(batch).shape[1])


def _explain(model, batch, method: Method, target: int, layer: str | None, settings: dict, progress: Progress | None) -> Attribution:
    guided = method.name in ("guided_backprop", "guided_grad_cam")
    net = shadow_copy(model, guided_relus=guided)
    forward = _CountingForward(net, _expected_rows(method, settings, batch), progress)
    layer_module = resolve_layer(net, layer) if layer else None
    notes = [] if not guided or _has_relus(net) else ["No ReLU modules in this model: the guided rule changed nothing (plain gradient)."]
    synchronize(batch.device)
    start = time.perf_counter()
    raw = _RUNNERS[method.name](forward, batch, target, settings, layer_module)  # (1, C, H, W) or (1, 1, H, W)
    synchronize(batch.device)
    elapsed_ms = (time.perf_counter() - start) * 1000
    if progress:
        progress(1.0)
    values = _to_map(raw.detach(), method.sign)
    return Attribution(method.name, method.display_name, target, values, method.sign, elapsed_ms, layer, settings, notes)


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


def _blurred(batch: torch.Tensor, sigma: float = 8.0) -> torch.Tensor:
    """Gaussian blur that keeps the size (a baseline with the photo's colours but no detail)."""
    radius = int(3 * sigma)
    x = torch.arange(-radius, radius + 1, dtype=batch.dtype, device=batch.device)
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    c = batch.shape[1]
    padded = F.pad(batch, (radius, radius, radius, radius), mode="replicate")
    out = F.conv2d(padded, kernel.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(out, kernel.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


# --- one runner per registry entry: (forward, batch, target, settings, layer) -> (1, C', H, W) ---


def _run_saliency(forward, batch, target, settings, layer):
    return Saliency(forward).attribute(batch, target=target, abs=settings["abs"])


def _run_integrated_gradients(forward, batch, target, settings, layer):
    return IntegratedGradients(forward).attribute(
        batch, baselines=torch.zeros_like(batch), target=target, n_steps=settings["n_steps"],
        method=settings["method"], internal_batch_size=settings["internal_batch_size"],
    )


def _run_smoothgrad(forward, batch, target, settings, layer):
    stdev = float(settings["noise_level"]) * float(batch.max() - batch.min())
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings["seed"])
        return NoiseTunnel(Saliency(forward)).attribute(
            batch, nt_type="smoothgrad", nt_samples=settings["nt_samples"],
            nt_samples_batch_size=settings["nt_samples_batch_size"], stdevs=stdev, target=target, abs=True,
        )


def _run_gradient_shap(forward, batch, target, settings, layer):
    baselines = torch.cat([torch.zeros_like(batch), _blurred(batch)])  # (2, C, H, W)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings["seed"])
        return GradientShap(forward).attribute(batch, baselines=baselines, n_samples=settings["n_samples"], stdevs=settings["stdevs"], target=target)


def _run_guided_backprop(forward, batch, target, settings, layer):
    return GuidedBackprop(forward).attribute(batch, target=target)


def _run_grad_cam(forward, batch, target, settings, layer):
    cam = LayerGradCam(forward, layer).attribute(batch, target=target, relu_attributions=True)  # (1, 1, h, w)
    return LayerAttribution.interpolate(cam, tuple(batch.shape[-2:]), interpolate_mode=settings["interpolate_mode"])


def _run_guided_grad_cam(forward, batch, target, settings, layer):
    return GuidedGradCam(forward, layer).attribute(batch, target=target, interpolate_mode=settings["interpolate_mode"])


def _run_occlusion(forward, batch, target, settings, layer):
    window, stride = _occlusion_window(settings, batch)
    c = batch.shape[1]
    with torch.no_grad():
        return Occlusion(forward).attribute(
            batch, sliding_window_shapes=(c, window, window), strides=(c, stride, stride), baselines=0.0,
            target=target, perturbations_per_eval=settings["perturbations_per_eval"],
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
