"""Top-k classes of a classifier for one photo, with labels and probabilities.

Preprocessing comes from the model's spec (:func:`cvcore.preprocess.to_batch`); the
model is only used for a forward pass in inference mode, so a cached, shared model is
safe to pass.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from PIL import Image
from torch import nn

from cvcore.device import model_device, synchronize
from cvcore.errors import InvalidInputError
from cvcore.input_sizes import check_aspect_ratio
from cvcore.preprocess import to_batch
from cvcore.registry import ModelSpec, Task


@dataclass(frozen=True)
class Prediction:
    index: int  # class index in the model's output
    label: str
    prob: float  # softmax probability, 0..1


@dataclass
class Classification:
    model: str
    predictions: list[Prediction]  # best first
    latency_ms: float  # the forward pass only
    inputs: torch.Tensor = field(repr=False)  # (1, 3, H, W) the preprocessed photo, on the model's device

    @property
    def top1(self) -> Prediction:
        return self.predictions[0]


def top_k(logits: torch.Tensor, categories: tuple[str, ...], k: int = 5) -> list[Prediction]:
    """Best ``k`` classes of one row of logits, (classes,) or (1, classes)."""
    row = logits.reshape(-1).float()
    if categories and len(categories) != row.numel():
        raise InvalidInputError(f"The model has {row.numel()} outputs but {len(categories)} class names.")
    probs = row.softmax(dim=0)
    values, indices = probs.topk(min(int(k), row.numel()))
    return [Prediction(int(i), categories[int(i)] if categories else str(int(i)), float(p)) for p, i in zip(values, indices)]


def classify(model: nn.Module, image: Image.Image, spec: ModelSpec, *, k: int = 5) -> Classification:
    """Top-``k`` predictions of ``model`` (built from ``spec``) for ``image`` (any PIL mode)."""
    if spec.task is not Task.CLASSIFICATION:
        raise InvalidInputError(f"{spec.display_name} is a {spec.task.value} model, not a classifier.")
    if k < 1:
        raise InvalidInputError(f"k must be at least 1; got {k}.")
    check_aspect_ratio(image.size)  # the short-side resize of a strip would allocate gigabytes before the crop
    device = model_device(model)
    batch = to_batch(image, spec).to(device)
    synchronize(device)
    start = time.perf_counter()
    with torch.inference_mode():
        logits = model(batch)
    synchronize(device)
    latency_ms = (time.perf_counter() - start) * 1000
    return Classification(spec.name, top_k(logits, spec.categories, k), latency_ms, batch)


def resolve_target(categories: tuple[str, ...], value: int | str) -> int:
    """A class index from an index (``281``) or a label (``tabby``, case-insensitive; a unique part is enough)."""
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        index = int(text)
        if not 0 <= index < len(categories):
            raise InvalidInputError(
                f"Class {index} is out of range: this model has {len(categories)} classes (0..{len(categories) - 1})."
            )
        return index
    lowered = [c.lower() for c in categories]
    if text.lower() in lowered:
        return lowered.index(text.lower())
    matches = [i for i, c in enumerate(lowered) if text.lower() in c]
    if len(matches) == 1:
        return matches[0]
    if matches:
        names = ", ".join(f"{categories[i]} ({i})" for i in matches[:8])
        raise InvalidInputError(
            f"{text!r} matches several classes: {names}{' ...' if len(matches) > 8 else ''}. Give the index or the full name."
        )
    raise InvalidInputError(
        f"No class named {text!r}; give a class index (0..{len(categories) - 1}) or a label such as {categories[0]!r}."
    )
