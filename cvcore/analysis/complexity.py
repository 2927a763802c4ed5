"""Parameters and multiply-adds of a model, counted two ways and reconciled.

fvcore (``FlopCountAnalysis``) counts one fused multiply-add as one "flop", so its totals
are GMACs. cvcore gives it handles for the operators it lacks (``set_op_handle``):
``aten::scaled_dot_product_attention`` (QKᵀ and AV) and ``aten::baddbmm``. From one trace
come two figures (see :mod:`cvcore.analysis.conventions`): the papers' convention
(convolutions, linear layers, matrix products, attention) and fvcore's all-operator total.
``torch.utils.flop_counter.FlopCounterMode`` counts 2 FLOPs per multiply-add and a different
set of ops; both are reported, per operator type, with the reason for each difference.
What fvcore cannot count is listed, never hidden.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from math import prod

import torch
from fvcore.nn import FlopCountAnalysis
from fvcore.nn.jit_handles import get_shape
from torch import nn
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

from cvcore.analysis.conventions import PAPERS_OPERATOR_TYPES
from cvcore.analysis.results import Complexity, OperatorCount
from cvcore.device import resolve_device
from cvcore.errors import AnalysisError
from cvcore.models._utils import count_parameters
from cvcore.registry import build_model, get_spec, input_size_or_default

GIGA = 1e9
SDPA_OP = "aten::scaled_dot_product_attention"


def sdpa_flop_jit(inputs: list, outputs: list) -> int:
    """fvcore handle for ``scaled_dot_product_attention(query, key, value, ...)``.

    query (..., L, E), key (..., S, E), value (..., S, Ev): QKᵀ costs L·S·E multiply-adds per
    head and AV L·S·Ev, so a layer whose heads sum to d costs 2·L·S·d (2·N²·d for
    self-attention over N tokens). Masks and causality are not discounted (as in torch's
    formula); softmax and scaling are not multiply-adds of a weighted product.
    """
    query, key, value = (get_shape(v) for v in inputs[:3])
    heads = prod(query[:-2])  # batch x heads of the query (grouped-query keys are broadcast)
    return heads * query[-2] * key[-2] * (query[-1] + value[-1])


def baddbmm_flop_jit(inputs: list, outputs: list) -> int:
    """fvcore handle for ``baddbmm(input, batch1, batch2, ...)``: the batched product batch1 @ batch2."""
    n, rows, inner = get_shape(inputs[1])
    return n * rows * inner * get_shape(inputs[2])[-1]


# Handles fvcore lacks; everything else keeps fvcore's defaults.
EXTRA_FVCORE_HANDLES = {SDPA_OP: sdpa_flop_jit, "aten::baddbmm": baddbmm_flop_jit}


def _torch_sdpa_flop(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(query_shape, key_shape, value_shape)


# torch 2.14.1's FlopCounterMode has formulas for the CUDA attention kernels only; on a CPU,
# scaled_dot_product_attention dispatches to _scaled_dot_product_flash_attention_for_cpu and
# counts 0. Registered here with torch's own formula (sdpa_flop_count), so that torch's count
# stays an independent check of fvcore's handle above.
TORCH_EXTRA_FORMULAS = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _torch_sdpa_flop}

# Operator types: (label, fvcore handle names, torch aten op names, why they differ).
_OPERATOR_TYPES = (
    ("convolution", {"conv", "_convolution", "conv_transpose"}, {"convolution", "_convolution"},
     "Both count one multiply-add per weight use; torch reports it as 2 FLOPs (halved here)."),
    ("matrix multiply", {"linear", "addmm", "matmul", "mm", "bmm", "einsum", "baddbmm"}, {"mm", "addmm", "bmm", "baddbmm", "matmul"},
     "Both count one multiply-add per product term (fully connected layers, attention projections, explicit attention matmuls)."),
    ("attention (SDPA)", {"scaled_dot_product_attention"},
     {"_scaled_dot_product_efficient_attention", "_scaled_dot_product_flash_attention_for_cpu", "_scaled_dot_product_flash_attention",
      "_scaled_dot_product_cudnn_attention", "_scaled_dot_product_attention_math"},
     "Fused scaled_dot_product_attention: QKᵀ and AV, 2·L·S·d multiply-adds per layer (d = heads x head size). fvcore has "
     "no handle for it, and torch 2.14.1's FlopCounterMode has formulas for its CUDA kernels only (the CPU kernel counts 0): "
     "cvcore gives fvcore a handle, and torch its own formula (sdpa_flop_count) for the CPU kernel."),
    ("normalisation", {"batch_norm", "group_norm", "layer_norm", "instance_norm"}, set(),
     "fvcore counts normalisation layers per element (all-ops figure only); torch's counter ignores them."),
    ("pooling and resampling", {"adaptive_avg_pool2d", "upsample_nearest2d", "upsample_bilinear2d", "grid_sampler"}, {"upsample_bilinear2d", "upsample_nearest2d"},
     "fvcore counts adaptive pooling and upsampling per output element (all-ops figure only); torch's counter ignores them."),
)  # fmt: skip


def _operator_type(op: str, tool: str) -> str:
    op = op.split(".")[-1].removeprefix("aten::")
    for label, fv_ops, tv_ops, _ in _OPERATOR_TYPES:
        if op in (fv_ops if tool == "fvcore" else tv_ops):
            return label
    return "other"


def in_papers_convention(fvcore_op: str) -> bool:
    """Whether an fvcore operator (a key of ``by_operator()``) counts in the headline figure."""
    return _operator_type(fvcore_op, "fvcore") in PAPERS_OPERATOR_TYPES


def split_conventions(by_operator: Mapping[str, float]) -> tuple[float, float]:
    """(papers' convention, all operators) of one fvcore per-operator count, in fvcore's units."""
    return sum(n for op, n in by_operator.items() if in_papers_convention(op)), sum(by_operator.values())


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
        rows.append(
            OperatorCount(
                label, g["fv"] / GIGA, g["tv"] / GIGA, tuple(sorted(g["fv_ops"])), tuple(sorted(g["tv_ops"])), note,
                in_papers_convention=label in PAPERS_OPERATOR_TYPES,
            )
        )  # fmt: skip
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
    """fvcore's analysis with its default handles plus :data:`EXTRA_FVCORE_HANDLES` (nothing is traced until asked)."""
    analysis = FlopCountAnalysis(OutputAsTuple(model), x)
    analysis.set_op_handle(**EXTRA_FVCORE_HANDLES)
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
    return analysis


def torch_flop_counts(model: nn.Module, x: torch.Tensor) -> dict[str, int]:
    counter = FlopCounterMode(display=False, custom_mapping=TORCH_EXTRA_FORMULAS)
    with counter:
        model(x)
    return {str(op): int(n) for op, n in counter.get_flop_counts().get("Global", {}).items()}


def measure(model: nn.Module, name: str, size: tuple[int, int], x: torch.Tensor) -> tuple[Complexity, FlopCountAnalysis]:
    """Count ``model`` on ``x`` with both tools; also returns fvcore's analysis for per-module use."""
    try:
        # Gradients stay enabled: under no_grad nn.MultiheadAttention takes a fused fast path
        # (_native_multi_head_attention) that neither tool can see into, and ViT's attention
        # and its projections would go uncounted.
        with _quiet_fvcore():
            analysis = fvcore_analysis(model, x)
            fv_by_op = dict(analysis.by_operator())
            unsupported = dict(Counter(analysis.unsupported_ops()))
        tv_by_op = torch_flop_counts(model, x)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise AnalysisError(f"Could not trace {name} at input {size[0]}x{size[1]}: {exc}") from exc
    params, trainable = count_parameters(model)
    papers, all_ops = split_conventions(fv_by_op)
    complexity = Complexity(
        name=name,
        input_size=size,
        params=params,
        trainable_params=trainable,
        gmacs=papers / GIGA,
        gmacs_all_ops=all_ops / GIGA,
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
    """Parameters, GMACs (papers' convention and all ops), torch FLOPs and their reconciliation at ``input_size`` (H, W)."""
    name, model, size = resolve_model(model_or_name, input_size)
    dev = resolve_device(device)
    model = model.to(dev)
    return measure(model, name, size, example_input(size, dev))[0]
