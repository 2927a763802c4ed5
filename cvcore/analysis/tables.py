"""Analysis results as :class:`cvcore.formatting.Table` objects (for the CLI and the pages)."""

from __future__ import annotations

from collections.abc import Sequence

from cvcore.analysis.conventions import (
    CAPTION,
    GMACS_ALL_OPS_LABEL,
    GMACS_ALL_OPS_PRINT_LABEL,
    GMACS_LABEL,
    GMACS_PRINT_LABEL,
    GMACS_TORCH_LABEL,
)
from cvcore.analysis.results import Complexity
from cvcore.analysis.rows import GLOBAL, LayerRow
from cvcore.formatting import Table, format_shape

FVCORE_SOURCE = "fvcore FlopCountAnalysis with cvcore's attention handler (1 multiply-add = 1)"
TORCH_SOURCE = "torch.utils.flop_counter.FlopCounterMode (2 FLOPs per multiply-add)"


def complexity_table(c: Complexity) -> Table:
    """Totals; every value is a number (one type per column: CSV, LaTeX and the pages' Arrow tables keep it numeric).

    The operators fvcore could not count are text, so they go in the caption, not in the value column.
    """
    uncounted = ", ".join(f"{op} x{n}" for op, n in sorted(c.uncounted_ops.items())) or "none"
    rows = [
        {"quantity": "parameters", "value": c.params},
        {"quantity": "trainable parameters", "value": c.trainable_params},
        {"quantity": GMACS_LABEL, "value": round(c.gmacs, 4)},
        {"quantity": GMACS_ALL_OPS_LABEL, "value": round(c.gmacs_all_ops, 4)},
        {"quantity": GMACS_TORCH_LABEL, "value": round(c.torch_gmacs, 4)},
    ]
    caption = f"{c.name} at input {c.input_size[0]}x{c.input_size[1]}. Ops fvcore could not count: {uncounted}. {CAPTION}"
    return Table(rows, caption=caption, sources=[FVCORE_SOURCE, TORCH_SOURCE])


def reconciliation_table(c: Complexity) -> Table:
    rows = [
        {
            "operator": r.operator,
            "fvcore_gmacs": round(r.fvcore_gmacs, 4),
            "torch_gmacs": round(r.torch_gmacs, 4),
            "delta_gmacs": round(r.delta_gmacs, 4),
            "papers": "yes" if r.in_papers_convention else "no (all ops only)",
            "why": r.note,
        }
        for r in c.by_operator
    ]
    return Table(
        rows,
        labels={
            "fvcore_gmacs": "fvcore GMACs",
            "torch_gmacs": "torch GMACs",
            "delta_gmacs": "delta",
            "papers": "in papers' convention",
        },
        caption=f"fvcore vs torch flop counter for {c.name}, by operator type; the rows in the papers' convention "
        f"sum to {GMACS_LABEL} {c.gmacs:.4f}, all rows to {GMACS_ALL_OPS_LABEL} {c.gmacs_all_ops:.4f}.",
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


# A printed layer table: the layer's name says its stage; dilation, jump and the all-ops GMACs (totals in the
# caption and the stage table) are in the CSV.
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
            "gmacs_all_ops": round(r.gmacs_all_ops, 5),
            "rf": format_field(r.receptive_field),
            "jump": format_field(r.jump),
        }
        for r in layers
    ]


def layer_table(layers: Sequence[LayerRow], c: Complexity | None = None) -> Table:
    caption = (
        "Per-layer table (output shape without batch; rf = receptive field in input pixels; jump = cumulative stride). " + CAPTION
    )
    if c is not None:
        caption = f"{c.name} at {c.input_size[0]}x{c.input_size[1]}: " + caption
    return Table(
        layer_records(layers), labels=LAYER_LABELS, caption=caption, sources=[FVCORE_SOURCE],
        latex_columns=LAYER_LATEX_COLUMNS, latex_labels=LAYER_LATEX_LABELS,
    )  # fmt: skip


LAYER_LABELS = {"gmacs": GMACS_LABEL, "gmacs_all_ops": GMACS_ALL_OPS_LABEL, "rf": "receptive field"}
LAYER_LATEX_LABELS = {"gmacs": GMACS_PRINT_LABEL, "gmacs_all_ops": GMACS_ALL_OPS_PRINT_LABEL}  # the caption says the rest
