"""A per-layer table like the papers' Table 1.

One row per module that does work: leaf layers, plus a "(own ops)" row for a container
whose ``forward`` computes something itself (attention products, class tokens). Each row
has the layer's output shape, kernel/stride/dilation/groups, parameters, GMACs in the
papers' convention and fvcore's all-operator GMACs (:mod:`cvcore.analysis.conventions`),
and the receptive field and cumulative stride (jump) at its output. By construction the
rows' GMACs (each figure) and parameters sum to the model's totals.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from cvcore.analysis.complexity import GIGA, _quiet_fvcore, example_input, fvcore_analysis, resolve_model, split_conventions
from cvcore.analysis.receptive_field import Field, ReceptiveFieldTracker, field_of, tag_input
from cvcore.analysis.rows import _CONTAINER_NAMES, OWN_OPS, TOP_LEVEL, LayerRow, stage_of  # noqa: F401 (re-exported)
from cvcore.device import resolve_device
from cvcore.errors import AnalysisError


def _geometry(module: nn.Module) -> dict:
    get = lambda attr: getattr(module, attr, None)  # noqa: E731
    as_tuple = lambda v: None if v is None else (tuple(v) if isinstance(v, (tuple, list)) else (v, v))  # noqa: E731
    kernel = get("kernel_size")
    return {
        "kernel": as_tuple(kernel),
        "stride": as_tuple(get("stride")) if kernel is not None else None,
        "dilation": as_tuple(get("dilation")) if kernel is not None else None,
        "groups": get("groups"),
    }


@dataclass
class _Trace:
    order: list[str]
    shapes: dict[str, tuple[int, ...]]
    fields: dict[str, Field]
    calls: dict[str, int]


def _shape(out) -> tuple[int, ...] | None:
    if isinstance(out, torch.Tensor):
        return tuple(out.shape)
    if isinstance(out, dict) and out:
        return _shape(next(iter(out.values())))
    if isinstance(out, (tuple, list)) and out:
        return _shape(out[0])
    return None


@contextmanager
def _recording_hooks(model: nn.Module, trace: _Trace) -> Iterator[None]:
    """Forward hooks on every submodule, always removed (the model may be shared)."""
    handles = []

    def make_hook(name: str):
        def hook(_module, _inputs, output):
            trace.calls[name] = trace.calls.get(name, 0) + 1
            if name not in trace.shapes:
                trace.order.append(name)
                trace.shapes[name] = _shape(output)
                field = field_of(output)
                if field is not None:
                    trace.fields[name] = field

        return hook

    try:
        for name, module in model.named_modules():
            if name:
                handles.append(module.register_forward_hook(make_hook(name)))
        yield
    finally:
        for handle in handles:
            handle.remove()


def trace_forward(model: nn.Module, x: torch.Tensor) -> _Trace:
    trace = _Trace([], {}, {}, {})
    x = tag_input(x.clone())
    with _recording_hooks(model, trace), ReceptiveFieldTracker(), torch.no_grad():
        model(x)
    return trace


def _rows(model: nn.Module, trace: _Trace, flops_by_module: dict[str, tuple[float, float]]) -> list[LayerRow]:
    """``flops_by_module``: module name -> (papers' convention, all ops), fvcore's units, children included."""
    modules = dict(model.named_modules())
    rank = {name: i for i, name in enumerate(trace.order)}
    rows = []

    def own(name: str, children: list[str], which: int) -> float:
        return flops_by_module.get(name, (0, 0))[which] - sum(flops_by_module.get(c, (0, 0))[which] for c in children)

    for name, module in modules.items():
        children = [f"{name}.{c}" if name else c for c, _ in module.named_children()]
        own_params = sum(p.numel() for p in module.parameters(recurse=False))
        own_flops, own_all_ops = own(name, children, 0), own(name, children, 1)
        is_leaf = not children
        if not is_leaf and own_params == 0 and own_all_ops <= 0:
            continue
        field = trace.fields.get(name)
        stage, block = stage_of(name) if name else (TOP_LEVEL, TOP_LEVEL)
        rows.append(
            LayerRow(
                name=name if is_leaf else (name or TOP_LEVEL) + OWN_OPS,
                type=type(module).__name__,
                stage=stage,
                block=block,
                output_shape=trace.shapes.get(name),
                params=own_params,
                gmacs=max(own_flops, 0) / GIGA,
                gmacs_all_ops=max(own_all_ops, 0) / GIGA,
                receptive_field=field.rf if field else None,
                jump=field.jump if field else None,
                calls=trace.calls.get(name, 0),
                **(_geometry(module) if is_leaf else {"kernel": None, "stride": None, "dilation": None, "groups": None}),
            )
        )

    # Execution order; a container's own ops come after its children; never-called modules last.
    def key(row: LayerRow):
        base = row.name.removesuffix(OWN_OPS)
        if base == TOP_LEVEL:
            return (10**8, row.name)
        if row.name.endswith(OWN_OPS):
            last_child = max((rank.get(n, -1) for n in rank if n.startswith(base + ".")), default=rank.get(base, 10**9))
            return (last_child + 0.5, row.name)
        return (rank.get(base, 10**9), row.name)

    return sorted(rows, key=key)


def layer_rows(
    model: nn.Module, name: str, size: tuple[int, int], x: torch.Tensor, by_module_and_operator: dict
) -> list[LayerRow]:
    """Rows from fvcore's per-module, per-operator counts (``by_module_and_operator()``, traced through
    the ``OutputAsTuple`` adapter) and one forward."""
    flops = {
        k.removeprefix("model.") if k != "model" else "": split_conventions(ops) for k, ops in by_module_and_operator.items()
    }
    try:
        trace = trace_forward(model, x)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise AnalysisError(f"Could not run {name} at input {size[0]}x{size[1]}: {exc}") from exc
    return _rows(model, trace, flops)


def analyze_layers(
    model_or_name: nn.Module | str,
    input_size: tuple[int, int] | None = None,
    device: str | torch.device | None = None,
) -> list[LayerRow]:
    """The per-layer table of a catalogue model (or any module, with ``input_size``)."""
    name, model, size = resolve_model(model_or_name, input_size)
    dev = resolve_device(device)
    model = model.to(dev)
    x = example_input(size, dev)
    try:
        with _quiet_fvcore():
            by_module = fvcore_analysis(model, x).by_module_and_operator()
    except (RuntimeError, ValueError, TypeError) as exc:
        raise AnalysisError(f"Could not trace {name} at input {size[0]}x{size[1]}: {exc}") from exc
    return layer_rows(model, name, size, x, by_module)


def receptive_fields(model: nn.Module, input_size: tuple[int, int]) -> dict[str, Field]:
    """Receptive field and jump at the output of every called submodule."""
    return trace_forward(model.eval(), example_input(input_size, torch.device("cpu"))).fields
