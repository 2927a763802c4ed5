"""What the per-layer analysis produces, without torch: rows, receptive fields, the stage of a module name.

The pages that only show stored analysis (Architecture and Papers at their defaults) read
these from ``assets/`` and never import torch; :mod:`cvcore.analysis.layers` and
:mod:`cvcore.analysis.receptive_field` compute them (and re-export these names).
"""

from __future__ import annotations

from dataclasses import dataclass

GLOBAL = -1  # sentinel: the field covers the whole input


@dataclass(frozen=True)
class Field:
    rf: tuple[int, int]  # (h, w) in input pixels; GLOBAL where the whole input is seen
    jump: tuple[float, float]  # input pixels between neighbouring outputs

    @property
    def is_global(self) -> bool:
        return GLOBAL in self.rf


# Containers whose children are the stages ("features.3", "stages.2", "encoder.layers.encoder_layer_0").
_CONTAINER_NAMES = {"features", "layers", "stages", "blocks", "encoder", "decoder", "backbone", "trunk_output", "body", "model"}
OWN_OPS = " (own ops)"
TOP_LEVEL = "(top level)"  # the model's own forward: final upsampling, class token, ...


@dataclass(frozen=True)
class LayerRow:
    name: str  # qualified module name; containers' own work is "<name> (own ops)"
    type: str
    stage: str
    block: str
    output_shape: tuple[int, ...] | None  # first call's output, batch of 1; None if never called
    kernel: tuple[int, ...] | None
    stride: tuple[int, ...] | None
    dilation: tuple[int, ...] | None
    groups: int | None
    params: int
    gmacs: float  # papers' convention: convolutions, linear layers, matrix products, attention
    gmacs_all_ops: float  # fvcore's all-operator count (also normalisation, pooling, upsampling)
    receptive_field: tuple[int, int] | None  # (h, w) input pixels; -1 = whole input (global)
    jump: tuple[float, float] | None  # cumulative stride
    calls: int


def stage_of(name: str) -> tuple[str, str]:
    """(stage, block) of a qualified module name: the first part that is not a generic container."""
    parts = name.split(".")
    i = 0
    while i < len(parts) - 1 and parts[i] in _CONTAINER_NAMES:
        i += 1
    stage = ".".join(parts[: i + 1])
    block = ".".join(parts[: i + 2]) if len(parts) > i + 1 else stage
    return stage, block
