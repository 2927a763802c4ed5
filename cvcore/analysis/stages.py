"""Per-layer rows grouped the way papers draw architectures: stages, and blocks repeated "x N".

- :func:`group_stages` turns :class:`~cvcore.analysis.layers.LayerRow` rows into
  :class:`Stage` objects. Plain sequential nets (AlexNet, VGG: every layer its own
  ``features.N``; MobileNet-v3: every block its own ``features.N``) are merged into
  resolution stages, as in the papers' tables: a pooling layer that downsamples ends a
  stage, a block with a strided convolution starts one.
- Inside a stage, consecutive repeats of the same block structure (same layers, kernels,
  strides, groups, parameters and output shapes) collapse into one :class:`BlockGroup`
  with ``repeat = N``; a repeating pattern of up to :data:`MAX_PERIOD` blocks (VGG's
  conv + ReLU) counts too.
- :func:`diff_stages` lines up two models' stages (by name where they match, by position
  elsewhere) and returns the differences in parameters, GMACs, output size and
  receptive field.

Pure data: tables for display come from :func:`stage_summary_table`,
:func:`stage_layer_table` and :func:`stage_diff_table`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import zip_longest

from cvcore.analysis.conventions import CAPTION, GMACS_ALL_OPS_LABEL, GMACS_LABEL
from cvcore.analysis.paper_names import RESNET_SOURCE, depth, is_weighted, on_shortcut, paper_stage_name
from cvcore.analysis.results import Complexity
from cvcore.analysis.rows import OWN_OPS, LayerRow
from cvcore.analysis.tables import (
    FVCORE_SOURCE,
    LAYER_LABELS,
    LAYER_LATEX_COLUMNS,
    LAYER_LATEX_LABELS,
    format_field,
    layer_records,
)
from cvcore.formatting import Table, format_shape
from cvcore.registry import get_spec, input_size_or_default

MAX_STRUCTURE_PARTS = 6  # Stage.structure elides the middle of longer stages
MAX_CONVS_DESCRIBED = 6  # a block with more convolutions is described by its layer count
MAX_ROWS_MERGED = 20  # one-block stages up to this size may merge into resolution stages
MAX_PERIOD = 4  # longest block pattern looked for when collapsing repeats ("conv, ReLU" is 2)


@dataclass(frozen=True)
class BlockGroup:
    """``repeat`` consecutive copies of the same block pattern (``repeat == 1``: no repetition)."""

    blocks: tuple[tuple[str, ...], ...]  # block names, one tuple per copy of the pattern
    rows: tuple[LayerRow, ...]  # every row of every copy, in execution order
    repeat: int

    @property
    def first_rows(self) -> tuple[LayerRow, ...]:
        """The rows of the first copy: what a paper's table shows once, marked "x N"."""
        first = set(self.blocks[0])
        return tuple(r for r in self.rows if r.block in first)

    @property
    def label(self) -> str:
        first, last = self.blocks[0], self.blocks[-1]
        name = first[0] if len(first) == 1 else f"{first[0]}–{first[-1]}"
        if self.repeat == 1:
            return name
        last_name = last[0] if len(last) == 1 else f"{last[0]}–{last[-1]}"
        return f"{name} … {last_name} (x {self.repeat})"

    @property
    def params(self) -> int:
        return sum(r.params for r in self.rows)

    @property
    def gmacs(self) -> float:
        return sum(r.gmacs for r in self.rows)

    @property
    def gmacs_all_ops(self) -> float:
        return sum(r.gmacs_all_ops for r in self.rows)


@dataclass(frozen=True)
class Stage:
    name: str  # the module's name, or "first–last" for merged sequential layers
    groups: tuple[BlockGroup, ...]

    @property
    def rows(self) -> tuple[LayerRow, ...]:
        return tuple(r for g in self.groups for r in g.rows)

    @property
    def num_blocks(self) -> int:
        return sum(len(g.blocks) * len(g.blocks[0]) for g in self.groups)

    @property
    def weighted_layers(self) -> int:
        """Conv and fc layers on the main path: what the papers count (shortcut projections not)."""
        return sum(is_weighted(r) and not on_shortcut(r.name) for r in self.rows)

    @property
    def is_block_stage(self) -> bool:
        """A stack of blocks of two or more weighted layers each (ResNet's conv2_x, a dense block): its count is a paper's number."""
        blocks = {r.block for r in self.rows}
        return len(blocks) > 1 and all(
            sum(is_weighted(r) and not on_shortcut(r.name) for r in self.rows if r.block == b) >= 2 for b in blocks
        )

    @property
    def params(self) -> int:
        return sum(r.params for r in self.rows)

    @property
    def gmacs(self) -> float:
        return sum(r.gmacs for r in self.rows)

    @property
    def gmacs_all_ops(self) -> float:
        return sum(r.gmacs_all_ops for r in self.rows)

    @property
    def output_shape(self) -> tuple[int, ...] | None:
        """The stage's output: the last row that ran (a container's own ops come after its children)."""
        return next((r.output_shape for r in reversed(self.rows) if r.output_shape is not None), None)

    @property
    def receptive_field(self) -> tuple[int, int] | None:
        return next((r.receptive_field for r in reversed(self.rows) if r.receptive_field is not None), None)

    @property
    def jump(self) -> tuple[float, float] | None:
        return next((r.jump for r in reversed(self.rows) if r.jump is not None), None)

    @property
    def structure(self) -> str:
        """Short description, e.g. "[CNBlock] x 3" or "Conv2d; ReLU; MaxPool2d"; long ones elided."""
        parts = []
        for g in self.groups:
            kinds = ", ".join(_block_kind(g, b) for b in g.blocks[0])
            parts.append(f"[{kinds}] x {g.repeat}" if g.repeat > 1 else kinds)
        if len(parts) > MAX_STRUCTURE_PARTS:
            return f"{parts[0]}; …; {parts[-1]} ({self.num_blocks} blocks)"
        return "; ".join(parts)


def _block_kind(group: BlockGroup, block: str) -> str:
    """A block in a paper's words: "3x3 conv 64 + 3x3 conv 64", "CNBlock", "ReLU", else its name or size.

    Convolutions on a shortcut branch (a projection) are named after the main path, as a
    branch: "1x1 conv 64 + 3x3 conv 64 + 1x1 conv 256 ‖ shortcut: 1x1 conv 256", not as a
    fourth convolution in sequence.
    """
    rows = [r for r in group.rows if r.block == block]
    convs = [_layer_words(r) for r in rows if _is_conv(r) and not on_shortcut(r.name)]
    shortcut = [_layer_words(r) for r in rows if _is_conv(r) and on_shortcut(r.name)]
    if len(rows) == 1:
        return convs[0] if convs else rows[0].type
    owner = next((r.type for r in rows if r.name == block + OWN_OPS), None)
    if owner:
        return owner  # a module that computes something itself (layer scale, attention): its class says more
    if 0 < len(convs) <= MAX_CONVS_DESCRIBED:
        return " + ".join(convs) + (f" ‖ shortcut: {' + '.join(shortcut)}" if shortcut else "")
    last = block.rpartition(".")[2]
    return f"{len(rows)} layers" if last.isdigit() else re.sub(r"[_-]?\d+$", "", last)  # "encoder_layer_3" -> "encoder_layer"


def _is_conv(row: LayerRow) -> bool:
    return "Conv" in row.type and row.kernel is not None and bool(row.output_shape) and len(row.output_shape) > 1


def _layer_words(row: LayerRow) -> str:
    """ "3x3 conv 64", "5x5 dw conv 672", "3x3 conv 128 (g=32)"; the ResNet paper's Table 1 style."""
    channels = row.output_shape[1]
    kernel = "x".join(str(k) for k in row.kernel)
    groups = row.groups or 1
    if groups > 1 and groups == channels:
        return f"{kernel} dw conv {channels}"
    return f"{kernel} conv {channels}" + (f" (g={groups})" if groups > 1 else "")


# --- grouping ----------------------------------------------------------------------


def _ordered_groups(rows: Sequence[LayerRow], key) -> list[tuple[str, list[LayerRow]]]:
    """Consecutive runs of rows sharing ``key(row)``; a key seen again later starts a new run only if interrupted."""
    runs: list[tuple[str, list[LayerRow]]] = []
    index: dict[str, int] = {}
    for row in rows:
        k = key(row)
        if k in index:
            runs[index[k]][1].append(row)  # a container's own ops, sorted after its children
        else:
            index[k] = len(runs)
            runs.append((k, [row]))
    return runs


def _parent(name: str) -> str:
    return name.rpartition(".")[0]


def _spatial(rows: Sequence[LayerRow]) -> tuple[int, ...] | None:
    """The last feature map's (H, W) among ``rows``; output sizes, not jumps, tell where resolution drops."""
    return next((r.output_shape[2:] for r in reversed(rows) if r.output_shape and len(r.output_shape) == 4), None)


def _spatial_before(runs, i) -> tuple[int, ...] | None:
    return next((size for _, rows in reversed(runs[:i]) if (size := _spatial(rows)) is not None), None)


def _merge_sequential(runs: list[tuple[str, list[LayerRow]]]) -> list[tuple[str, list[LayerRow]]]:
    """Merge consecutive one-block stages of one container into resolution stages (see module docstring)."""
    merged: list[tuple[list[str], list[LayerRow]]] = []
    close_current = True
    for i, (name, rows) in enumerate(runs):
        # Only plain layers and small blocks: a one-block stage of hundreds of rows (MaxViT) is a real stage.
        single_block = len({r.block for r in rows}) == 1 and len(rows) <= MAX_ROWS_MERGED and _parent(name) != ""
        before, after = _spatial_before(runs, i), _spatial(rows)
        downsamples = before is not None and after is not None and after < before
        is_pool = len(rows) == 1 and "Pool" in rows[0].type
        can_join = (
            single_block
            and not close_current
            and merged
            and _parent(merged[-1][0][-1]) == _parent(name)
            and not (downsamples and not is_pool)  # a strided conv block starts a new stage
        )
        if can_join:
            merged[-1][0].append(name)
            merged[-1][1].extend(rows)
        else:
            merged.append(([name], list(rows)))
        # A downsampling pool ends its stage; a multi-block stage never takes followers.
        close_current = not single_block or (downsamples and is_pool)
    return [(names[0] if len(names) == 1 else f"{names[0]}–{names[-1].rpartition('.')[2]}", rows) for names, rows in merged]


def _merge_identical(runs: list[tuple[str, list[LayerRow]]]) -> list[tuple[str, list[LayerRow]]]:
    """Consecutive identical stages of one container (ViT's encoder_layer_0 ... _11) become one stage
    whose blocks are the former stages, so that :func:`collapse_repeats` shows them as "x N"."""
    merged: list[tuple[list[str], list[list[LayerRow]]]] = []
    for name, rows in runs:
        previous = merged[-1] if merged else None
        if (
            previous is not None
            and _parent(name) != ""
            and _parent(previous[0][-1]) == _parent(name)
            and _block_signature(previous[1][-1], previous[0][-1]) == _block_signature(rows, name)
        ):
            previous[0].append(name)
            previous[1].append(rows)
        else:
            merged.append(([name], [rows]))
    result = []
    for names, row_lists in merged:
        if len(names) == 1:
            result.append((names[0], row_lists[0]))
        else:
            rows = [replace(r, block=stage) for stage, stage_rows in zip(names, row_lists) for r in stage_rows]
            result.append((f"{names[0]}–{names[-1].rpartition('.')[2]}", rows))
    return result


def _block_signature(rows: Sequence[LayerRow], block: str) -> tuple:
    return tuple(
        (
            r.name.removeprefix(block),
            r.type,
            r.kernel,
            r.stride,
            r.dilation,
            r.groups,
            r.params,
            r.output_shape and r.output_shape[1:],
        )
        for r in rows
    )


def collapse_repeats(rows: Sequence[LayerRow]) -> tuple[BlockGroup, ...]:
    """Consecutive blocks (by ``LayerRow.block``) with identical structure collapsed into ``x N`` groups."""
    blocks = _ordered_groups(rows, key=lambda r: r.block)
    signatures = [_block_signature(b_rows, name) for name, b_rows in blocks]
    groups: list[BlockGroup] = []
    i = 0
    while i < len(blocks):
        period, repeat = _best_repeat(signatures, i)
        copies = [tuple(name for name, _ in blocks[i + k * period : i + (k + 1) * period]) for k in range(repeat)]
        group_rows = tuple(r for _, b_rows in blocks[i : i + period * repeat] for r in b_rows)
        groups.append(BlockGroup(tuple(copies), group_rows, repeat))
        i += period * repeat
    return tuple(groups)


def _best_repeat(signatures: Sequence[tuple], start: int) -> tuple[int, int]:
    """(period, repeat) covering the most blocks from ``start``; (1, 1) when nothing repeats."""
    best = (1, 1)
    for period in range(1, MAX_PERIOD + 1):
        pattern = signatures[start : start + period]
        if len(pattern) < period:
            break
        repeat = 1
        while signatures[start + repeat * period : start + (repeat + 1) * period] == pattern:
            repeat += 1
        if repeat > 1 and period * repeat > best[0] * best[1]:
            best = (period, repeat)
    return best


def group_stages(rows: Sequence[LayerRow], merge_sequential: bool = True) -> tuple[Stage, ...]:
    """Rows (in execution order, as :func:`~cvcore.analysis.analyze_layers` returns them) grouped by stage."""
    runs = _ordered_groups(rows, key=lambda r: r.stage)
    if merge_sequential:
        runs = _merge_identical(_merge_sequential(runs))
    return tuple(Stage(name, collapse_repeats(stage_rows)) for name, stage_rows in runs)


def block_counts(stages: Sequence[Stage]) -> list[int]:
    """Blocks per stack of blocks, as the papers give them: [2, 2, 2, 2] for ResNet-18, [3, 4, 6, 3] for ResNet-50."""
    return [s.num_blocks for s in stages if s.is_block_stage]


# --- two-model diff ----------------------------------------------------------------


@dataclass(frozen=True)
class StageDiff:
    """One aligned pair of stages; a side is None where the other model has no counterpart."""

    a: Stage | None
    b: Stage | None
    matched_by: str  # "name" (same stage name in both), "position", or "only in A" / "only in B"

    @property
    def params_delta(self) -> int:
        return (self.b.params if self.b else 0) - (self.a.params if self.a else 0)

    @property
    def gmacs_delta(self) -> float:
        return (self.b.gmacs if self.b else 0.0) - (self.a.gmacs if self.a else 0.0)


def diff_stages(a: Sequence[Stage], b: Sequence[Stage]) -> list[StageDiff]:
    """Align two models' stages: equal names in order first, the rest pair up by position."""
    matcher = difflib.SequenceMatcher(a=[s.name for s in a], b=[s.name for s in b], autojunk=False)
    diffs: list[StageDiff] = []
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            diffs += [StageDiff(sa, sb, "name") for sa, sb in zip(a[a0:a1], b[b0:b1])]
        else:
            diffs += [StageDiff(sa, sb, _pairing(sa, sb)) for sa, sb in zip_longest(a[a0:a1], b[b0:b1])]
    return diffs


def _pairing(a: Stage | None, b: Stage | None) -> str:
    if a is None:
        return "only in B"
    if b is None:
        return "only in A"
    return "position"


# --- one model's architecture, precomputed when possible -----------------------------


@dataclass(frozen=True)
class Architecture:
    """A model's totals and per-layer rows at one input size, and whether they were read from ``assets/``."""

    complexity: Complexity
    layers: tuple[LayerRow, ...]
    precomputed: bool  # True: read from the stored analysis; False: traced just now

    def stages(self, merge_sequential: bool = True) -> tuple[Stage, ...]:
        return group_stages(self.layers, merge_sequential)


def architecture(name: str, input_size: tuple[int, int] | None = None, device=None) -> Architecture:
    """The stored analysis at the model's default input size; otherwise (or if not stored yet) a fresh trace."""
    from cvcore.analysis.precomputed import load_precomputed, load_precomputed_layers

    spec = get_spec(name, metadata_only=True)
    size = input_size_or_default(spec, input_size)
    if size == spec.input_size:
        stored, layers = load_precomputed().get(name), load_precomputed_layers(name)
        if stored is not None and layers is not None:
            return Architecture(stored, tuple(layers), precomputed=True)
    from cvcore.analysis.model_analysis import analyze  # torch: only for what is not stored

    result = analyze(name, input_size=size, device=device, per_layer=True)
    return Architecture(result.complexity, result.layers, precomputed=False)


# --- tables ------------------------------------------------------------------------


def _shape_text(shape: tuple[int, ...] | None) -> str | None:
    return format_shape(shape, drop_batch=True)


def _stage_label(stage: Stage, family: str) -> str:
    """ "layer1 (conv2_x)": torchvision's name with the paper's beside it, where the paper has one."""
    paper = paper_stage_name(family, stage.name)
    return f"{stage.name} ({paper})" if paper else stage.name


def _depth_note(stages: Sequence[Stage], family: str) -> str:
    d = depth([r for s in stages for r in s.rows], family)
    counts = block_counts(stages)
    blocks = f" Blocks per stack: {counts}." if counts else ""
    return f" Depth: {d.describe()}{blocks}"


def stage_summary_table(
    stages: Sequence[Stage], model: str = "", input_size: tuple[int, int] | None = None, family: str = ""
) -> Table:
    """One row per stage plus a total row: paper's name, structure, blocks, weighted layers, params, GMACs, output, receptive field.

    ``family`` (the spec's) gives the paper's stage names (ResNet's conv2_x .. conv5_x, see
    :mod:`cvcore.analysis.paper_names`) and says whether the depth is counted as its paper counts it.
    """
    rows = [
        {
            "stage": s.name,
            "paper": paper_stage_name(family, s.name),
            "structure": s.structure,
            "blocks": s.num_blocks if s.is_block_stage else None,
            "weighted": s.weighted_layers,
            "layers": len(s.rows),
            "params": s.params,
            "gmacs": round(s.gmacs, 4),
            "gmacs_all_ops": round(s.gmacs_all_ops, 4),
            "output": _shape_text(s.output_shape),
            "rf": format_field(s.receptive_field),
            "jump": format_field(s.jump),
        }
        for s in stages
    ]
    rows.append(
        {
            "stage": "total",
            "paper": None,
            "structure": "",
            "blocks": sum(block_counts(stages)) or None,
            "weighted": sum(s.weighted_layers for s in stages),
            "layers": sum(len(s.rows) for s in stages),
            "params": sum(s.params for s in stages),
            "gmacs": round(sum(s.gmacs for s in stages), 4),
            "gmacs_all_ops": round(sum(s.gmacs_all_ops for s in stages), 4),
            "output": None,
            "rf": None,
            "jump": None,
        }
    )
    size = f" at {input_size[0]}x{input_size[1]}" if input_size else ""
    named = any(r["paper"] for r in rows)
    sources = [FVCORE_SOURCE] + ([RESNET_SOURCE] if named else [])
    return Table(
        rows,
        columns=[k for k in rows[0] if named or k != "paper"],
        labels={
            **LAYER_LABELS, "paper": "paper (Table 1)", "weighted": "weighted layers", "layers": "modules",
            "jump": "stride (jump)", "output": "output (CxHxW)",
        },  # fmt: skip
        caption=(
            f"{model}{size} by stage; [block] x N = N identical consecutive blocks; weighted layers = conv and fc "
            f"on the main path.{_depth_note(stages, family)} {CAPTION}"
        ).strip(),
        sources=sources,
        latex_columns=["stage", "paper", "structure", "blocks", "weighted", "params", "gmacs", "gmacs_all_ops", "output", "rf"],
        latex_labels=LAYER_LATEX_LABELS,
        footer_rows=1,  # the totals
    )


def stage_layer_table(stage: Stage, expand_repeats: bool = False) -> Table:
    """A stage's layers; repeated blocks shown once with their count unless ``expand_repeats``; shortcut layers marked as the branch they are."""
    records = []
    for group in stage.groups:
        shown = group.rows if expand_repeats or group.repeat == 1 else group.first_rows
        for row, record in zip(shown, layer_records(shown)):
            record["repeat"] = f"x {group.repeat}" if group.repeat > 1 and not expand_repeats else ""
            record["branch"] = "shortcut" if on_shortcut(row.name) else ""
            records.append(record)
    columns = [
        "repeat",
        "branch",
        "layer",
        "type",
        "output",
        "kernel",
        "stride",
        "dilation",
        "groups",
        "params",
        "gmacs",
        "gmacs_all_ops",
        "rf",
        "jump",
    ]
    note = (
        ""
        if expand_repeats
        else " Rows marked x N stand for N identical consecutive blocks; their parameters and GMACs are per block."
    )
    branch = " Layers marked shortcut run beside the main path (the projection on the residual connection)."
    return Table(
        records,
        columns=columns,
        labels={**LAYER_LABELS, "repeat": "x N", "output": "output (CxHxW)"},
        caption=f"Stage {stage.name}: {stage.params:,} parameters, {stage.gmacs:.4f} {GMACS_LABEL} "
        f"({stage.gmacs_all_ops:.4f} {GMACS_ALL_OPS_LABEL}) in total.{note}"
        + (branch if any(r["branch"] for r in records) else "")
        + f" {CAPTION}",
        sources=[FVCORE_SOURCE],
        latex_columns=["repeat", "branch", *LAYER_LATEX_COLUMNS],
        latex_labels=LAYER_LATEX_LABELS,
    )


def stage_diff_table(diffs: Sequence[StageDiff], name_a: str, name_b: str, family_a: str = "", family_b: str = "") -> Table:
    """The two-model diff as a table: each side's blocks, weighted layers, params, GMACs, output, receptive field, and B - A.

    Stage names carry the paper's beside torchvision's where the families have them; the
    last row holds the totals, and the caption the block counts ([2, 2, 2, 2] vs [3, 4, 6, 3]).
    """

    def side(s: Stage | None, attr: str):
        if s is None:
            return None
        value = getattr(s, attr)
        if attr == "gmacs":
            return round(value, 4)
        if attr == "output_shape":
            return _shape_text(value)
        if attr == "receptive_field":
            return format_field(value)
        return value

    def blocks(s: Stage | None) -> int | None:
        return s.num_blocks if s is not None and s.is_block_stage else None

    def mparams(value: int | None) -> float | None:
        return None if value is None else round(value / 1e6, 3)

    def stage(d: StageDiff) -> str:
        """One name for a printed row: the stage's when both sides share it, else both."""
        a, b = (_stage_label(d.a, family_a) if d.a else "—"), (_stage_label(d.b, family_b) if d.b else "—")
        return a if a == b else f"{a} / {b}"

    rows = [
        {
            "stage_a": _stage_label(d.a, family_a) if d.a else None,
            "stage_b": _stage_label(d.b, family_b) if d.b else None,
            "matched_by": d.matched_by,
            "blocks_a": blocks(d.a),
            "blocks_b": blocks(d.b),
            "weighted_a": side(d.a, "weighted_layers"),
            "weighted_b": side(d.b, "weighted_layers"),
            "params_a": side(d.a, "params"),
            "params_b": side(d.b, "params"),
            "params_delta": d.params_delta,
            "gmacs_a": side(d.a, "gmacs"),
            "gmacs_b": side(d.b, "gmacs"),
            "gmacs_delta": round(d.gmacs_delta, 4),
            "output_a": side(d.a, "output_shape"),
            "output_b": side(d.b, "output_shape"),
            "rf_a": side(d.a, "receptive_field"),
            "rf_b": side(d.b, "receptive_field"),
            # print only: one stage column, parameters in millions
            "stage": stage(d),
            "mparams_a": mparams(side(d.a, "params")),
            "mparams_b": mparams(side(d.b, "params")),
            "mparams_delta": mparams(d.params_delta),
        }
        for d in diffs
    ]
    a_stages, b_stages = [d.a for d in diffs if d.a], [d.b for d in diffs if d.b]
    total = {k: None for k in rows[0]} if rows else {}
    total.update(
        stage_a="total", stage_b="total", blocks_a=sum(block_counts(a_stages)) or None, blocks_b=sum(block_counts(b_stages)) or None,
        weighted_a=sum(s.weighted_layers for s in a_stages), weighted_b=sum(s.weighted_layers for s in b_stages),
        params_a=sum(s.params for s in a_stages), params_b=sum(s.params for s in b_stages),
        gmacs_a=round(sum(s.gmacs for s in a_stages), 4), gmacs_b=round(sum(s.gmacs for s in b_stages), 4),
    )  # fmt: skip
    total.update(params_delta=total["params_b"] - total["params_a"], gmacs_delta=round(total["gmacs_b"] - total["gmacs_a"], 4))
    total.update(
        stage="total", mparams_a=mparams(total["params_a"]), mparams_b=mparams(total["params_b"]),
        mparams_delta=mparams(total["params_delta"]),
    )  # fmt: skip
    rows.append(total)
    labels = {
        "stage_a": f"stage ({name_a})",
        "stage_b": f"stage ({name_b})",
        "matched_by": "matched by",
        "blocks_a": f"blocks {name_a}",
        "blocks_b": f"blocks {name_b}",
        "weighted_a": f"weighted layers {name_a}",
        "weighted_b": f"weighted layers {name_b}",
        "params_a": f"params {name_a}",
        "params_b": f"params {name_b}",
        "params_delta": "Δ params",
        "gmacs_a": f"{GMACS_LABEL} {name_a}",
        "gmacs_b": f"{GMACS_LABEL} {name_b}",
        "gmacs_delta": f"Δ {GMACS_LABEL}",
        "output_a": f"output {name_a}",
        "output_b": f"output {name_b}",
        "rf_a": f"receptive field {name_a}",
        "rf_b": f"receptive field {name_b}",
    }
    counts_a, counts_b = block_counts(a_stages), block_counts(b_stages)
    counts = f" Blocks per stack: {name_a} {counts_a}, {name_b} {counts_b}." if counts_a or counts_b else ""
    sources = [FVCORE_SOURCE] + (
        [RESNET_SOURCE] if paper_stage_name(family_a, "layer1") or paper_stage_name(family_b, "layer1") else []
    )
    return Table(
        rows,
        labels=labels,
        columns=[k for k in rows[0] if k not in ("stage", "mparams_a", "mparams_b", "mparams_delta")],
        caption=(
            f"{name_b} against {name_a}, stage by stage (Δ = {name_b} − {name_a}; in print A = {name_a}, B = {name_b}); "
            f"stages with equal names are paired by name, the others by position; weighted layers = conv and fc on the "
            f"main path.{counts} {CAPTION}"
        ),
        sources=sources,
        latex_columns=[
            "stage",
            "blocks_a",
            "blocks_b",
            "weighted_a",
            "weighted_b",
            "mparams_a",
            "mparams_b",
            "mparams_delta",
            "gmacs_a",
            "gmacs_b",
            "gmacs_delta",
        ],  # fmt: skip
        footer_rows=1,  # the totals
        latex_labels={
            "blocks_a": "blocks A",
            "blocks_b": "blocks B",
            "weighted_a": "layers A",
            "weighted_b": "layers B",
            "mparams_a": "params A (M)",
            "mparams_b": "params B (M)",
            "mparams_delta": "Δ params (M)",
            "gmacs_a": "GMACs A",
            "gmacs_b": "GMACs B",
            "gmacs_delta": "Δ GMACs",
        },  # fmt: skip
    )
