"""Feature visualisation from the course lecture on interpreting CNNs.

* :func:`first_layer_filters`: the first convolution's kernels as a grid of colour patches
  (the only layer whose weights can be looked at as images directly).
* :func:`maximize_class`: gradient ascent on the *input* for class ``y``, maximising
  ``a_y(x) - lambda * ||x||^2`` (Simonyan et al. 2014, arXiv:1312.6034) with the jitter
  and periodic blur regularisers of Yosinski et al. 2015 (arXiv:1506.06579), which keep
  the image from turning into high-frequency noise.

The model is never changed: the ascent runs on a per-call
:func:`~cvcore.attribution.isolation.shadow_copy` whose parameters do not require
gradients, and optimises a fresh image tensor of its own.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from cvcore.attribution.faithfulness import gaussian_blur
from cvcore.attribution.isolation import shadow_copy
from cvcore.device import model_device
from cvcore.errors import InvalidInputError

Progress = Callable[[float], None]


@dataclass
class FilterGrid:
    layer: str  # dotted path of the conv layer shown
    filters: int  # how many kernels
    kernel_size: tuple[int, int]
    image: np.ndarray = field(repr=False)  # (H, W, 3) uint8 grid, one enlarged kernel per cell


@dataclass
class ClassMaximization:
    target: int
    steps: int
    time_ms: float
    image: np.ndarray = field(repr=False)  # (H, W, 3) uint8, the optimised input in pixel space
    scores: list[float] = field(repr=False, default_factory=list)  # a_y(x) (the logit) after each step


def first_conv(model: nn.Module) -> tuple[str, nn.Conv2d]:
    """The first ``Conv2d`` in module order that reads the 3 colour channels."""
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d) and module.in_channels == 3:
            return name, module
    raise InvalidInputError("This model has no convolution on the RGB input; there are no first-layer filters to show.")


def first_layer_filters(model: nn.Module, *, cell: int = 32, padding: int = 2, columns: int | None = None) -> FilterGrid:
    """The first conv layer's kernels, each scaled to ``cell`` px, in a grid.

    Each kernel is shown with its own symmetric range: 0 is mid-grey, the largest
    magnitude of that kernel reaches black or full colour (one scale for the whole
    layer would hide the small kernels).
    """
    name, conv = first_conv(model)
    weight = conv.weight.detach().float().cpu()  # (out, 3, kh, kw)
    out, _, kh, kw = weight.shape
    scale = weight.abs().amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-12)
    patches = (weight / scale * 0.5 + 0.5).clamp(0, 1)  # (out, 3, kh, kw) in 0..1
    factor = max(1, cell // max(kh, kw))
    patches = patches.repeat_interleave(factor, dim=2).repeat_interleave(factor, dim=3)  # nearest-neighbour enlarge
    columns = columns or math.ceil(math.sqrt(out))
    rows = math.ceil(out / columns)
    ph, pw = patches.shape[-2:]
    grid = torch.ones(3, rows * (ph + padding) + padding, columns * (pw + padding) + padding)  # white gaps
    for i in range(out):
        r, c = divmod(i, columns)
        top, left = padding + r * (ph + padding), padding + c * (pw + padding)
        grid[:, top : top + ph, left : left + pw] = patches[i]
    image = (grid.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    return FilterGrid(name, out, (kh, kw), image)


def maximize_class(
    model: nn.Module,
    target: int,
    *,
    mean: Sequence[float],
    std: Sequence[float],
    size: tuple[int, int] = (128, 128),
    steps: int = 60,
    lr: float = 0.1,
    l2: float = 1e-3,
    jitter: int = 8,
    blur_every: int = 4,
    blur_sigma: float = 0.5,
    seed: int = 0,
    progress: Progress | None = None,
) -> ClassMaximization:
    """An input image that the model scores high for class ``target``.

    ``mean``/``std`` are the model's normalisation (the image is optimised in normalised
    space and kept within the range of real pixels); ``l2`` is the lambda of the
    objective; ``jitter`` the largest random shift in pixels before each step;
    ``blur_every`` steps a Gaussian blur of ``blur_sigma`` px is applied (0 = never).
    """
    _check(target, size, steps, lr, l2, jitter, blur_every)
    device = model_device(model)
    net = shadow_copy(model, fold_batchnorm=True)
    mean_t = torch.tensor(mean, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    low, high = (0 - mean_t) / std_t, (1 - mean_t) / std_t  # the normalised values of black and white
    generator = torch.Generator(device="cpu").manual_seed(seed)
    x = (torch.randn(1, 3, *size, generator=generator) * 0.1).to(device).requires_grad_(True)  # (1, 3, H, W)
    optimizer = torch.optim.Adam([x], lr=lr)
    scores: list[float] = []
    start = time.perf_counter()
    for step in range(steps):
        dy, dx = torch.randint(-jitter, jitter + 1, (2,), generator=generator).tolist() if jitter else (0, 0)
        shifted = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
        logits = _logits(net(shifted))  # (1, classes)
        if target >= logits.shape[1]:
            raise InvalidInputError(f"Class {target} is out of range: this model has {logits.shape[1]} classes.")
        score = logits[0, target]
        objective = score - l2 * x.pow(2).sum()
        optimizer.zero_grad()
        (-objective).backward()
        optimizer.step()
        with torch.no_grad():
            if blur_every and (step + 1) % blur_every == 0:
                x.copy_(gaussian_blur(x, blur_sigma))
            x.copy_(torch.maximum(torch.minimum(x, high), low))
        scores.append(float(score.detach()))
        if progress:
            progress((step + 1) / steps)
    elapsed_ms = (time.perf_counter() - start) * 1000
    pixels = (x.detach() * std_t + mean_t).clamp(0, 1)[0].permute(1, 2, 0).cpu().numpy()
    return ClassMaximization(int(target), steps, elapsed_ms, (pixels * 255).round().astype(np.uint8), scores)


def _logits(output) -> torch.Tensor:
    if isinstance(output, dict):
        raise InvalidInputError("Class maximisation needs a classifier (one score per class).")
    return output


def _check(target, size, steps, lr, l2, jitter, blur_every) -> None:
    if int(target) < 0:
        raise InvalidInputError(f"target must be a class index >= 0; got {target}.")
    if len(size) != 2 or not all(16 <= int(s) <= 1024 for s in size):
        raise InvalidInputError(f"size must be (H, W) with sides from 16 to 1024 px; got {size}.")
    if not 1 <= steps <= 5000:
        raise InvalidInputError(f"steps must be between 1 and 5000; got {steps}.")
    if not lr > 0 or l2 < 0 or jitter < 0 or blur_every < 0:
        raise InvalidInputError("lr must be > 0; l2, jitter and blur_every must be >= 0.")
