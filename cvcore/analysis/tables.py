"""Analysis results as :class:`cvcore.formatting.Table` objects (for the CLI and the pages)."""

from __future__ import annotations

from collections.abc import Sequence

from cvcore.analysis.complexity import Complexity
from cvcore.analysis.layers import LayerRow
from cvcore.analysis.receptive_field import GLOBAL
from cvcore.formatting import Table, format_shape

FVCORE_SOURCE = "fvcore FlopCountAnalysis (1 multiply-add = 1)"
TORCH_SOURCE = "torch.utils.flop_counter.FlopCounterMode (2 FLOPs per multiply-add)"


def complexity_table(c: Complexity) -> Table:
    uncounted = ", ".join(f"{op} x{n}" for op, n in sorted(c.uncounted_ops.items())) or "none"
    rows = [
        {"quantity": "parameters", "value": c.params},
        {"quantity": "trainable parameters", "value": c.trainable_params},
        {"quantity": "GMACs (fvcore)", "value": round(c.gmacs, 4)},
        {"quantity": "GMACs (torch flop counter / 2)", "value": round(c.torch_gmacs, 4)},
        {"quantity": "ops fvcore could not count", "value": uncounted},
    ]
    return Table(rows, caption=f"{c.name} at input {c.input_size[0]}x{c.input_size[1]}.", sources=[FVCORE_SOURCE, TORCH_SOURCE])


def reconciliation_table(c: Complexity) -> Table:
    rows = [
        {
            "operator": r.operator,
            "fvcore_gmacs": round(r.fvcore_gmacs, 4),
            "torch_gmacs": round(r.torch_gmacs, 4),
            "delta_gmacs": round(r.delta_gmacs, 4),
            "why": r.note,
        }
        for r in c.by_operator
    ]
    return Table(
        rows,
        labels={"fvcore_gmacs": "fvcore GMACs", "torch_gmacs": "torch GMACs", "delta_gmacs": "delta"},
        caption=f"fvcore vs torch flop counter for {c.name}, by operator type.",
        sources=[FVCORE_SOURCE, TORCH_SOURCE],
    )


def format_field(value: tuple | None) -> str | None:
    if value is None:
        return None
    if GLOBAL in value:
        return "global"
    h, w = value
    fmt = lambda v: f"{v:g}"  # noqa: E731
    return fmt(h) if h == w else f"{fmt(h)}x{fmt(w)}"


# A printed layer table: the layer's name says its stage; dilation and jump are in the CSV.
LAYER_LATEX_COLUMNS = ["layer", "type", "output", "kernel", "stride", "groups", "params", "gmacs", "rf"]


def layer_records(layers: Sequence[LayerRow]) -> list[dict]:
    return [
        {
            "stage": r.stage,
            "layer": r.name,
            "type": r.type,
            "output": format_shape(r.output_shape, drop_batch=True),
            "kernel": format_field(r.kernel[:2]) if r.kernel and len(r.kernel) == 2 else (str(r.kernel[0]) if r.kernel else None),
            "stride": format_field(r.stride[:2]) if r.stride and len(r.stride) == 2 else None,
            "dilation": format_field(r.dilation[:2]) if r.dilation and len(r.dilation) == 2 else None,
            "groups": r.groups,
            "params": r.params,
            "gmacs": round(r.gmacs, 5),
            "rf": format_field(r.receptive_field),
            "jump": format_field(r.jump),
        }
        for r in layers
    ]


def layer_table(layers: Sequence[LayerRow], c: Complexity | None = None) -> Table:
    caption = "Per-layer table (output shape without batch; rf = receptive field in input pixels; jump = cumulative stride)."
    if c is not None:
        caption = f"{c.name} at {c.input_size[0]}x{c.input_size[1]}: " + caption
    return Table(
        layer_records(layers), labels={"gmacs": "GMACs", "rf": "receptive field"}, caption=caption, sources=[FVCORE_SOURCE],
        latex_columns=LAYER_LATEX_COLUMNS,
    )  # fmt: skip
