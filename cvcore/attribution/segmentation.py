"""Attribution for segmentation models, following Captum's segmentation tutorial.

A segmentation model outputs a logit per class *per pixel*; attribution needs one
score per class. The recipe: predict once on the reference photo, and score class ``k``
as the sum of its logits over the pixels predicted as ``k``. The pixel selection is
fixed from the reference, so every perturbed copy (IG's path, SmoothGrad's noise) is
scored on the same region. :class:`SegmentationClassScore` is that adapter; any method
of the registry then runs on it unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from cvcore.attribution.core import Attribution, Progress, explain
from cvcore.attribution.faithfulness import as_image_batch
from cvcore.attribution.methods import Method
from cvcore.errors import InvalidInputError
from cvcore.segmentation import segmentation_logits


class SegmentationClassScore(nn.Module):
    """(B, 3, H, W) -> (B, K): column ``k`` is the summed logit of class ``k`` over the
    pixels predicted as ``k`` on ``reference``.

    Holds the wrapped model as a submodule (``self.model``), so per-call copies and layer
    paths (``model.backbone...``) work as for a classifier; adds no hooks and changes no flag.
    """

    wrapped_attr = "model"

    def __init__(self, model: nn.Module, reference: torch.Tensor):
        super().__init__()
        self.model = model
        with torch.inference_mode():
            logits = segmentation_logits(model(reference))  # (1, K, H, W)
        self.num_classes = int(logits.shape[1])
        self.predicted = logits.argmax(dim=1)[0].clone()  # (H, W) class per pixel on the reference
        selected = torch.zeros_like(logits[0:1], dtype=torch.bool)
        self.selected = selected.scatter_(1, self.predicted[None, None], True)  # (1, K, H, W), one True per pixel

    def present_classes(self) -> list[int]:
        return sorted(int(k) for k in torch.unique(self.predicted))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = segmentation_logits(self.model(x))  # (B, K, H, W)
        return (logits * self.selected).sum(dim=(2, 3))  # (B, K)


def explain_segmentation(
    model: nn.Module,
    inputs: torch.Tensor,
    method: str | Method,
    target_class: int,
    *,
    family: str | None = None,
    layer: str | None = None,
    settings: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    categories: tuple[str, ...] | None = None,
) -> Attribution:
    """Attribution of ``target_class``'s summed logit over the pixels predicted as that class.

    ``layer`` is a path inside the segmentation model (``backbone.16``); by default the
    backbone's last stage. Raises :class:`InvalidInputError` when no pixel is predicted
    as ``target_class`` (its score would be identically zero).
    """
    batch = as_image_batch(inputs, model)  # validated, detached, on the model's device
    scorer = SegmentationClassScore(model, batch)
    present = scorer.present_classes()
    if int(target_class) not in present:
        names = [categories[k] if categories else str(k) for k in present]
        raise InvalidInputError(f"No pixel is predicted as class {target_class}; the classes present are {', '.join(names)}.")
    path = f"{scorer.wrapped_attr}.{layer}" if layer else None
    return explain(scorer, batch, method, int(target_class), family=family, layer=path, settings=settings, progress=progress)
