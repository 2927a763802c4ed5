"""Turn a decoded RGB image into the tensor a catalogue model expects.

The transform is derived from the model's own metadata (torchvision's weight transforms,
or TF's preprocessing for EfficientNet-Lite), never guessed.
"""

from __future__ import annotations

import torch
from PIL import Image
from torchvision.transforms import v2 as T

from cvcore.registry import ModelSpec, Task


def transform_for(spec: ModelSpec, *, resize_size: int | None = None, crop: bool | None = None) -> T.Compose:
    """Classification: resize the short side, centre-crop. Segmentation: resize the short side only.

    ``resize_size`` replaces the short side of the weights' recipe and ``crop=False`` keeps
    the whole photo (a classifier's coarse class map covers all of it); normalisation and
    interpolation always stay the model's own.
    """
    p = spec.preprocessing
    if crop is None:
        crop = spec.task is Task.CLASSIFICATION
    interpolation = T.InterpolationMode(p.interpolation)
    steps: list = [T.ToImage(), T.Resize(resize_size or p.resize_size, interpolation=interpolation, antialias=True)]
    if crop:
        steps.append(T.CenterCrop(p.crop_size))
    steps += [T.ToDtype(torch.float32, scale=True), T.Normalize(p.mean, p.std)]
    return T.Compose(steps)


def to_batch(image: Image.Image, spec: ModelSpec) -> torch.Tensor:
    """(1, 3, H, W) float tensor, normalised for ``spec``."""
    return transform_for(spec)(image.convert("RGB")).unsqueeze(0)


def denormalize(batch: torch.Tensor, spec: ModelSpec) -> torch.Tensor:
    """Back to 0..1 pixels (for overlays drawn on the model's own view of the image)."""
    mean = torch.tensor(spec.preprocessing.mean, device=batch.device).view(1, 3, 1, 1)
    std = torch.tensor(spec.preprocessing.std, device=batch.device).view(1, 3, 1, 1)
    return (batch * std + mean).clamp(0, 1)
