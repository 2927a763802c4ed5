"""One fvcore trace of a model: its complexity and, on request, the per-layer table."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from cvcore.analysis.complexity import example_input, measure, resolve_model
from cvcore.analysis.layers import LayerRow, layer_rows
from cvcore.analysis.results import Complexity
from cvcore.device import resolve_device


@dataclass(frozen=True)
class ModelAnalysis:
    complexity: Complexity
    layers: tuple[LayerRow, ...] | None  # None unless per_layer was asked for

    @property
    def uncounted_ops(self) -> dict[str, int]:
        return self.complexity.uncounted_ops


def analyze(
    model_or_name: nn.Module | str,
    input_size: tuple[int, int] | None = None,
    device: str | torch.device | None = None,
    per_layer: bool = False,
) -> ModelAnalysis:
    """Complexity (and optionally the per-layer table) from one fvcore trace."""
    name, model, size = resolve_model(model_or_name, input_size)
    dev = resolve_device(device)
    model = model.to(dev)
    x = example_input(size, dev)
    complexity, fv = measure(model, name, size, x)
    layers = tuple(layer_rows(model, name, size, x, fv.by_module_and_operator())) if per_layer else None
    return ModelAnalysis(complexity, layers)
