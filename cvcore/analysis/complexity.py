"""Parameters and multiply-adds of a model, counted two ways and reconciled.

fvcore (``FlopCountAnalysis``) counts one fused multiply-add as one "flop", so its totals
are GMACs. ``torch.utils.flop_counter.FlopCounterMode`` counts 2 FLOPs per multiply-add
and a different set of ops; both are reported, per operator type, with the reason for
each difference. What fvcore cannot count is listed, never hidden.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from fvcore.nn import FlopCountAnalysis
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cvcore.analysis.results import Complexity, OperatorCount
from cvcore.device import resolve_device
from cvcore.errors import AnalysisError
from cvcore.models._utils import count_parameters
from cvcore.registry import build_model, get_spec, input_size_or_default

GIGA = 1e9


# Operator types: (label, fvcore handle names, torch aten op names, why they differ).
_OPERATOR_TYPES = (
    ("convolution", {"conv", "_convolution", "conv_transpose"}, {"convolution", "_convolution"},
     "Both count one multiply-add per weight use; torch reports it as 2 FLOPs (halved here)."),
    ("matrix multiply", {"linear", "addmm", "matmul", "mm", "bmm", "einsum", "baddbmm"}, {"mm", "addmm", "bmm", "baddbmm", "matmul"},
     "Both count one multiply-add per product term (fully connected layers, attention projections)."),
    ("attention (SDPA)", {"scaled_dot_product_attention"},
     {"_scaled_dot_product_efficient_attention", "_scaled_dot_product_flash_attention_for_cpu", "_scaled_dot_product_flash_attention", "_scaled_dot_product_cudnn_attention", "_scaled_dot_product_attention_math"},
     "torch counts fused scaled_dot_product_attention (two matmuls); fvcore cannot count it and lists it as uncounted."),
    ("normalisation", {"batch_norm", "group_norm", "layer_norm", "instance_norm"}, set(),
     "fvcore counts normalisation layers per element; torch's counter ignores them."),
    ("pooling and resampling", {"adaptive_avg_pool2d", "upsample_nearest2d", "upsample_bilinear2d", "grid_sampler"}, {"upsample_bilinear2d", "upsample_nearest2d"},
     "fvcore counts adaptive pooling and upsampling per output element; torch's counter ignores them."),
)


def _operator_type(op: str, tool: str) -> str:
    op = op.split(".")[-1].removeprefix("aten::")
    for label, fv_ops, tv_ops, _ in _OPERATOR_TYPES:
        if op in (fv_ops if tool == "fvcore" else tv_ops):
            return label
    return "other"


def reconcile(fvcore_by_op: dict[str, int], torch_by_op: dict[str, int]) -> tuple[OperatorCount, ...]:
    """Group both tools' per-op counts by operator type and explain each difference."""
    groups: dict[str, dict] = {}
    for op, n in fvcore_by_op.items():
        g = groups.setdefault(_operator_type(op, "fvcore"), {"fv": 0, "tv": 0, "fv_ops": set(), "tv_ops": set()})
        g["fv"] += n
        g["fv_ops"].add(op)
    for op, n in torch_by_op.items():
        g = groups.setdefault(_operator_type(op, "torch"), {"fv": 0, "tv": 0, "fv_ops": set(), "tv_ops": set()})
        g["tv"] += n / 2
        g["tv_ops"].add(op)
    notes = {label: note for label, _, _, note in _OPERATOR_TYPES}
    rows = []
    for label, g in groups.items():
        note = notes.get(label, "Counted by only one of the tools.")
        if label in ("convolution", "matrix multiply") and g["fv"] and abs(g["fv"] - g["tv"]) > 0.005 * g["fv"]:
            note += " Totals differ: fvcore's matmul handlers count some batched products (einsum/bmm) differently."
        rows.append(OperatorCount(label, g["fv"] / GIGA, g["tv"] / GIGA, tuple(sorted(g["fv_ops"])), tuple(sorted(g["tv_ops"])), note))
    return tuple(sorted(rows, key=lambda r: -max(r.fvcore_gmacs, r.torch_gmacs)))


class OutputAsTuple(nn.Module):
    """Adapter: segmentation models return ``{"out": ..., "aux": ...}``; tracers want tensors."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor):
        out = self.model(x)
        return tuple(out.values()) if isinstance(out, dict) else out


@contextmanager
def _quiet_fvcore() -> Iterator[None]:
    # fvcore logs a warning per unsupported op; we report them in the result instead.
    logger = logging.getLogger("fvcore.nn.jit_analysis")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def resolve_model(model_or_name: nn.Module | str, input_size) -> tuple[str, nn.Module, tuple[int, int]]:
    """A catalogue name (built with random init: counting needs no weights) or a module."""
    if isinstance(model_or_name, str):
        from cvcore.input_sizes import check_input_size

        spec = get_spec(model_or_name)
        size = check_input_size(spec, input_size_or_default(spec, input_size))  # before building: a refused size costs nothing
        return spec.name, build_model(spec.name), size
    if input_size is None:
        raise AnalysisError("Pass input_size=(H, W) when analysing a module that is not in the catalogue.")
    return type(model_or_name).__name__, model_or_name.eval(), (int(input_size[0]), int(input_size[1]))


def example_input(input_size: tuple[int, int], device: torch.device) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.randn(1, 3, *input_size, generator=generator).to(device)


def fvcore_analysis(model: nn.Module, x: torch.Tensor) -> FlopCountAnalysis:
    analysis = FlopCountAnalysis(OutputAsTuple(model), x)
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
    return analysis


def torch_flop_counts(model: nn.Module, x: torch.Tensor) -> dict[str, int]:
    counter = FlopCounterMode(display=False)
    with counter:
        model(x)
    return {str(op): int(n) for op, n in counter.get_flop_counts().get("Global", {}).items()}


def measure(model: nn.Module, name: str, size: tuple[int, int], x: torch.Tensor) -> tuple[Complexity, FlopCountAnalysis]:
    """Count ``model`` on ``x`` with both tools; also returns fvcore's analysis for per-module use."""
    try:
        # Gradients stay enabled: under no_grad nn.MultiheadAttention takes a fused fast path
        # that neither tool can see into, and ViT's attention products would go uncounted.
        with _quiet_fvcore():
            analysis = fvcore_analysis(model, x)
            total = analysis.total()
            fv_by_op = dict(analysis.by_operator())
            unsupported = dict(Counter(analysis.unsupported_ops()))
        tv_by_op = torch_flop_counts(model, x)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise AnalysisError(f"Could not trace {name} at input {size[0]}x{size[1]}: {exc}") from exc
    params, trainable = count_parameters(model)
    complexity = Complexity(
        name=name,
        input_size=size,
        params=params,
        trainable_params=trainable,
        gmacs=total / GIGA,
        torch_gflops=sum(tv_by_op.values()) / GIGA,
        uncounted_ops=unsupported,
        by_operator=reconcile(fv_by_op, tv_by_op),
    )
    return complexity, analysis


def analyze_complexity(
    model_or_name: nn.Module | str,
    input_size: tuple[int, int] | None = None,
    device: str | torch.device | None = None,
) -> Complexity:
    """Parameters, fvcore GMACs, torch FLOPs and their reconciliation at ``input_size`` (H, W)."""
    name, model, size = resolve_model(model_or_name, input_size)
    dev = resolve_device(device)
    model = model.to(dev)
    return measure(model, name, size, example_input(size, dev))[0]
