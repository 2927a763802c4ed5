"""Where two variants of one network differ, layer by layer, and the sentence that says so.

Two per-layer tables (:class:`~cvcore.analysis.layers.LayerRow`) of variants with the same
module names (torchvision's ResNet-50 "v1.5" and the same net with the paper's stride
placement) are matched by layer name. Each :class:`LayerDelta` holds both rows; the
explanation of a total difference (:func:`explain_layer_diff`) is written from these
numbers, never by hand: which layers carry the difference, and which layers changed
their stride without changing their cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cvcore.analysis.conventions import GMACS_LABEL
from cvcore.analysis.rows import LayerRow
from cvcore.formatting import format_shape

EXPLAINED_SHARE = 0.95  # the sentence names the largest deltas until they add up to this share of the total
MAX_NAMED = 6  # ... and at most this many layers by name
NEGLIGIBLE_GMACS = 1e-6


@dataclass(frozen=True)
class LayerDelta:
    """One layer in both variants; a side is None where that variant has no such layer."""

    name: str
    a: LayerRow | None
    b: LayerRow | None

    @property
    def gmacs_delta(self) -> float:
        return (self.b.gmacs if self.b else 0.0) - (self.a.gmacs if self.a else 0.0)

    @property
    def params_delta(self) -> int:
        return (self.b.params if self.b else 0) - (self.a.params if self.a else 0)

    @property
    def stride_changed(self) -> bool:
        return self.a is not None and self.b is not None and self.a.stride != self.b.stride


def diff_layers(a: Sequence[LayerRow], b: Sequence[LayerRow]) -> list[LayerDelta]:
    """Rows matched by layer name, in ``a``'s order, then the layers only ``b`` has."""
    by_name_b = {r.name: r for r in b}
    names_a = {r.name for r in a}
    deltas = [LayerDelta(r.name, r, by_name_b.get(r.name)) for r in a]
    return deltas + [LayerDelta(r.name, None, r) for r in b if r.name not in names_a]


def main_contributors(deltas: Sequence[LayerDelta], share: float = EXPLAINED_SHARE) -> list[LayerDelta]:
    """The fewest layers, largest |Δ GMACs| first, whose deltas add up to ``share`` of the total change."""
    changed = sorted((d for d in deltas if abs(d.gmacs_delta) > NEGLIGIBLE_GMACS), key=lambda d: -abs(d.gmacs_delta))
    total = sum(d.gmacs_delta for d in changed)
    picked: list[LayerDelta] = []
    for d in changed:
        picked.append(d)
        if abs(total) > NEGLIGIBLE_GMACS and sum(p.gmacs_delta for p in picked) / total >= share:
            break
    return picked


def _describe(d: LayerDelta, name_a: str, name_b: str) -> str:
    row = d.b or d.a
    kernel = "x".join(str(k) for k in row.kernel) + " " if row.kernel else ""
    parts = [f"{kernel}{row.type}"]
    if d.a and d.b and d.a.stride != d.b.stride:
        parts.append(f"stride {_stride(d.b)} in {name_b}, {_stride(d.a)} in {name_a}")
    if d.a and d.b and d.a.output_shape != d.b.output_shape:
        parts.append(
            f"output {format_shape(d.b.output_shape, drop_batch=True)} vs {format_shape(d.a.output_shape, drop_batch=True)}"
        )
    return f"{d.name} ({', '.join(parts)}): {d.gmacs_delta:+.3f}"


def _stride(row: LayerRow) -> str:
    return "x".join(str(s) for s in row.stride) if row.stride and len(set(row.stride)) > 1 else str(row.stride[0])


def explain_layer_diff(deltas: Sequence[LayerDelta], name_a: str, name_b: str) -> str:
    """Where ``name_b`` − ``name_a`` comes from, in the papers' convention, from the per-layer deltas."""
    total = sum(d.gmacs_delta for d in deltas)
    if abs(total) <= NEGLIGIBLE_GMACS:
        return f"{name_b} and {name_a} have the same {GMACS_LABEL} layer by layer."
    main = main_contributors(deltas)
    named, rest = main[:MAX_NAMED], main[MAX_NAMED:]
    explained = sum(d.gmacs_delta for d in main) / total
    text = (
        f"Per-layer diff, {name_b} − {name_a}: {total:+.3f} {GMACS_LABEL}; "
        f"{len(main)} layer{'s' if len(main) > 1 else ''} carry {explained:.0%} of it: "
        + "; ".join(_describe(d, name_a, name_b) for d in named)
        + (f"; and {len(rest)} more ({sum(d.gmacs_delta for d in rest):+.3f})" if rest else "")
        + "."
    )
    same_cost = [d for d in deltas if d.stride_changed and abs(d.gmacs_delta) <= NEGLIGIBLE_GMACS]
    if same_cost:
        more = f" and {len(same_cost) - MAX_NAMED} more" if len(same_cost) > MAX_NAMED else ""
        names = ", ".join(_describe(d, name_a, name_b).rsplit(":", 1)[0] for d in same_cost[:MAX_NAMED]) + more
        text += f" Stride moved, multiply-adds unchanged: {names}."
    return text
