"""Claim-vs-measured rows as :class:`cvcore.formatting.Table` objects (CLI, page, exports)."""

from __future__ import annotations

from collections.abc import Sequence

from cvcore.formatting import Table, format_cell
from cvcore.papers.claims import ClaimRow
from cvcore.papers.registry import PaperEntry, list_papers

COLUMNS = ["paper", "table", "quantity", "claim", "unit", "measured", "delta_pct", "tolerance", "status", "note"]
COMPACT_COLUMNS = [c for c in COLUMNS if c not in ("paper", "table")]  # a table already titled by paper and table
LABELS = {"delta_pct": "delta %", "status": "verdict"}


def _text(value) -> str:
    return "—" if value is None else format_cell(value)


def claims_table(rows: Sequence[ClaimRow], caption: str = "", as_text: bool = False, compact: bool = False) -> Table:
    """One record per claim; ``as_text`` renders claim and measured as text (tables mixing sizes and numbers),
    ``compact`` leaves out the paper and table columns."""
    show = _text if as_text else (lambda v: v)
    records = [
        {
            "paper": r.paper,
            "table": r.table,
            "quantity": r.quantity,
            "claim": show(r.claim),
            "unit": r.unit,
            "measured": show(r.measured),
            "delta_pct": r.delta_pct,
            "tolerance": r.tolerance,
            "status": r.status.value,
            "note": r.note,
            "source": r.source,
            "measured_with": r.measured_with,
            "convention": r.convention,
        }
        for r in rows
    ]
    caption = caption or "Paper claims next to what cvlens measures; delta % = (measured - claim) / claim."
    return Table(records, COMPACT_COLUMNS if compact else COLUMNS, LABELS, caption, sources=sorted({r.source for r in rows}))


REPRODUCTION_COLUMNS = ["table", "quantity", "claim", "model", "measured", "ci_low", "ci_high", "delta", "inside", "images", "dataset", "note"]
REPRODUCTION_LABELS = {
    "model": "your model", "measured": "measured (yours)", "ci_low": "95% CI low", "ci_high": "95% CI high",
    "delta": "delta (points)", "inside": "claim inside the CI",
}  # fmt: skip


def reproduction_table(rows: Sequence, caption: str = "") -> Table:
    """The user's reproductions (:class:`cvcore.papers.reproductions.ReproductionRow`) beside the claims."""
    records = [
        {
            "table": r.table, "quantity": r.quantity, "claim": r.claim, "unit": r.unit, "model": r.model, "measured": r.measured,
            "ci_low": r.ci_low, "ci_high": r.ci_high, "delta": r.delta,
            "inside": {True: "yes", False: "no", None: "no interval"}[r.claim_inside_ci], "images": r.images,
            "dataset": r.dataset, "note": r.note,
        }
        for r in rows
    ]  # fmt: skip
    caption = caption or (
        "Your models, evaluated by cvlens on your data, beside the paper's claim (same unit); "
        "95% percentile-bootstrap interval over images; delta = measured - claim."
    )
    return Table(records, REPRODUCTION_COLUMNS, REPRODUCTION_LABELS, caption, sources=sorted({r.source for r in rows}))


def papers_table(papers: Sequence[PaperEntry] | None = None) -> Table:
    records = [
        {
            "paper": p.key,
            "title": p.title,
            "citation": p.citation,
            "course material": p.course_material,
            "model": p.model,
            "link": p.link,
        }
        for p in (papers or list_papers())
    ]
    return Table(records, caption="Papers whose tables cvlens reproduces: `python -m cvcore papers PAPER`.")
