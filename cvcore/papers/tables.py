"""Claim-vs-measured rows as :class:`cvcore.formatting.Table` objects (CLI, page, exports)."""

from __future__ import annotations

from collections.abc import Sequence

from cvcore.formatting import Table, format_cell
from cvcore.papers.claims import ClaimRow, Status
from cvcore.papers.registry import PaperEntry, list_papers

COLUMNS = ["paper", "table", "quantity", "claim", "unit", "measured", "delta_pct", "tolerance", "status", "note"]
COMPACT_COLUMNS = [c for c in COLUMNS if c not in ("paper", "table")]  # a table already titled by paper and table
LABELS = {"delta_pct": "delta %", "status": "verdict", "origin": "from", "quantity_unit": "quantity [unit]"}
# In print the unit goes with the quantity ("FLOPs, 18-layer [x10^9 multiply-adds]") and the tolerance with the
# verdict ("within ±5%"): two columns less on the page.
LATEX_COLUMNS = ["paper", "table", "quantity_unit", "claim", "measured", "origin", "delta_pct", "verdict", "note"]
MEASURED_HERE = "cvlens"  # the origin of a value cvlens measured


def _text(value) -> str | None:
    """A number as the screen shows it; None stays None (the pages draw "—", CSV and LaTeX an empty cell, as the CLI's)."""
    return None if value is None else format_cell(value)


def verdict_text(row: ClaimRow) -> str:
    """The verdict with its tolerance, for print: "within ±5%", "explained exception (±5%)", "reference only"."""
    if row.status is Status.WITHIN:
        return "exact match" if row.tolerance == "exact" else f"within {row.tolerance}"
    if row.status in (Status.EXCEPTION, Status.OUTSIDE):
        return f"{row.status.value} ({row.tolerance})"
    return row.status.value


def origin(row: ClaimRow) -> str:
    """Who the value beside the claim comes from: "cvlens" (measured it) or who published it ("torchvision": its metrics)."""
    if row.measured is None:
        return ""
    return row.published_by or MEASURED_HERE


def _measured_header(rows: Sequence[ClaimRow]) -> tuple[str, bool]:
    """The "measured" column's header, and whether rows need an origin column (values from several places)."""
    origins = {origin(r) for r in rows} - {""}
    if len(origins) == 1:
        only = origins.pop()
        return ("measured" if only == MEASURED_HERE else f"{only}, published"), False
    return ("measured or published" if origins else "measured"), bool(origins)


def claims_table(rows: Sequence[ClaimRow], caption: str = "", as_text: bool = False, compact: bool = False) -> Table:
    """One record per claim; ``as_text`` renders claim and measured as text (tables mixing sizes and numbers),
    ``compact`` leaves out the paper and table columns.

    The value beside the claim is labelled for what it is: "measured" when cvlens measured
    it, "torchvision, published" when it is torchvision's published metric (a training
    recipe's result, not a measurement); a table mixing both gets a "from" column. An
    exact match has no delta: "—" on screen, in CSV an empty cell.
    """
    show = _text if as_text else (lambda v: v)
    records = [
        {
            "paper": r.paper,
            "table": r.table,
            "quantity": r.quantity,
            "quantity_unit": f"{r.quantity} [{r.unit}]" if r.unit else r.quantity,
            "claim": show(r.claim),
            "unit": r.unit,
            "measured": show(r.measured),
            "origin": origin(r),
            "delta_pct": r.delta_pct,
            "tolerance": r.tolerance,
            "status": r.status.value,
            "verdict": verdict_text(r),
            "note": r.note,
            "source": r.source,
            "measured_with": r.measured_with,
            "convention": r.convention,
        }
        for r in rows
    ]
    header, mixed = _measured_header(rows)
    columns = list(COMPACT_COLUMNS if compact else COLUMNS)
    if mixed:
        columns.insert(columns.index("measured") + 1, "origin")
    caption = caption or "Paper claims next to what cvlens measures; delta % = (measured - claim) / claim."
    return Table(
        records, columns, {**LABELS, "measured": header}, caption, sources=sorted({r.source for r in rows}),
        latex_columns=[c for c in LATEX_COLUMNS if c in columns or c in ("quantity_unit", "verdict")],
        note_columns=("note",),  # long explanations: marks in the column, the texts under the table
    )  # fmt: skip


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
    return Table(
        records, REPRODUCTION_COLUMNS, REPRODUCTION_LABELS, caption, sources=sorted({r.source for r in rows}),
        latex_columns=[c for c in REPRODUCTION_COLUMNS if c not in ("images", "dataset")],  # the note says both
        note_columns=("note",),  # the protocol's difference, the same for many rows: marks, the text under the table
    )  # fmt: skip


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
    return Table(
        records, caption="Papers whose tables cvlens reproduces: `python -m cvcore papers PAPER`.",
        latex_columns=["paper", "title", "citation", "model", "link"],  # where the course's copy is: the CSV has it
    )  # fmt: skip
