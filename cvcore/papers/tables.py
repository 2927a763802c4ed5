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
