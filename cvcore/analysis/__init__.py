"""Model analysis: parameters, multiply-adds, per-layer tables, receptive fields.

Returns data (dataclasses with units in field names); formatting lives in
``cvcore.formatting`` and ``cvcore.analysis.tables``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# Exported lazily (PEP 562): reading the stored results (``load_precomputed``) and their
# dataclasses must not import torch and fvcore, which would cost a cold page seconds.
_EXPORTS = {
    "Complexity": "results",
    "OperatorCount": "results",
    "ModelAnalysis": "model_analysis",
    "analyze": "model_analysis",
    "analyze_complexity": "complexity",
    "example_input": "complexity",
    "measure": "complexity",
    "resolve_model": "complexity",
    "LayerRow": "rows",
    "analyze_layers": "layers",
    "layer_rows": "layers",
    "receptive_fields": "layers",
    "stage_of": "rows",
    "load_precomputed": "precomputed",
    "load_precomputed_layers": "precomputed",
    "precompute_catalogue": "precomputed",
    "GLOBAL": "rows",
    "Field": "rows",
}

if TYPE_CHECKING:
    from cvcore.analysis.complexity import analyze_complexity, example_input, measure, resolve_model
    from cvcore.analysis.layers import analyze_layers, layer_rows, receptive_fields
    from cvcore.analysis.model_analysis import ModelAnalysis, analyze
    from cvcore.analysis.precomputed import load_precomputed, load_precomputed_layers, precompute_catalogue
    from cvcore.analysis.results import Complexity, OperatorCount
    from cvcore.analysis.rows import GLOBAL, Field, LayerRow, stage_of


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


__all__ = [
    "GLOBAL",
    "Complexity",
    "Field",
    "LayerRow",
    "ModelAnalysis",
    "OperatorCount",
    "analyze",
    "analyze_complexity",
    "analyze_layers",
    "example_input",
    "layer_rows",
    "load_precomputed",
    "load_precomputed_layers",
    "measure",
    "precompute_catalogue",
    "receptive_fields",
    "resolve_model",
    "stage_of",
]
