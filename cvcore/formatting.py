"""Formatting, kept apart from analysis: records in, text / CSV / JSON / LaTeX out.

A :class:`Table` is a list of row dicts plus column labels and a caption; every export
carries a provenance line (sources plus cvlens/torch/torchvision versions) so a figure
shown at a defense can be traced back.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from cvcore.versions import versions_line  # noqa: F401 (re-exported: captions and exports use it)

FORMATS = ("table", "csv", "json", "latex")


def provenance(sources: Sequence[str] = ()) -> str:
    """One caption line: the sources of the numbers (each once, see :func:`merge_sources`), then the software versions."""
    unique = merge_sources(sources)
    prefix = "Sources: " + "; ".join(unique) + ". " if unique else ""
    return f"{prefix}Generated with {versions_line()}."


def merge_sources(sources: Sequence[str]) -> list[str]:
    """Each source named once: "X (a, d1)" and "X (b, d1)" become "X (a, d1, b)"; "A; B" counts as A and B.

    Per-model sources differ only in their bracketed detail ("torchvision weights metadata
    (ResNet50_Weights..., ImageNet-1K)"); a caption lists the source once, with every detail.
    """
    details: dict[str, list[str]] = {}
    parts = (p.strip() for s in sources if s for p in s.split("; "))  # "paper, Table 1; course copy: seed 001": two sources
    for source in dict.fromkeys(p for p in parts if p):
        head, detail = _split_detail(source)
        parts = details.setdefault(head, [])
        parts += [p for p in (detail.split(", ") if detail else []) if p not in parts]
    return [f"{head} ({', '.join(parts)})" if parts else head for head, parts in details.items()]


def _split_detail(source: str) -> tuple[str, str]:
    """ "X (detail)" -> ("X", "detail") when the bracket closes the source; else (source, "")."""
    if not source.endswith(")") or " (" not in source:
        return source, ""
    start = source.index(" (")
    inner = source[start + 2 : -1]
    depth = 0
    for ch in inner:  # the bracket opened at ``start`` must be the one that closes the string
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            return source, ""
    return (source[:start], inner) if depth == 0 else (source, "")


@dataclass
class Table:
    rows: list[dict[str, Any]]
    columns: list[str] | None = None  # order and subset; default: keys of the first row
    labels: dict[str, str] = field(default_factory=dict)  # column -> header text
    caption: str = ""
    sources: list[str] = field(default_factory=list)
    # Columns true of this machine only ("weights here", local paths): on screen, never in CSV or LaTeX.
    local_columns: tuple[str, ...] = ()
    # The columns a printed (LaTeX) table keeps, so it fits a page; default: every exported one.
    latex_columns: list[str] | None = None
    # Long text columns (notes) that a printed or displayed table shows as marks a, b, ... with the texts beneath it.
    note_columns: tuple[str, ...] = ()
    # Shorter headers for print (column -> header), where the caption defines them ("params A (M)").
    latex_labels: dict[str, str] = field(default_factory=dict)
    footer_rows: int = 0  # the last rows are totals: they stay last whatever the sort

    @property
    def column_names(self) -> list[str]:
        if self.columns is not None:
            return self.columns
        return list(self.rows[0]) if self.rows else []

    def header(self, column: str) -> str:
        return self.labels.get(column, column)

    @property
    def full_caption(self) -> str:
        return " ".join(p for p in (self.caption, provenance(self.sources)) if p)


def note_mark(index: int) -> str:
    """a, b, ..., z, aa, ab, ...: marks that no number in a table can be mistaken for."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("a") + rest) + letters
    return letters


def footnoted(table: Table, columns: Sequence[str] | None = None) -> tuple[Table, list[tuple[str, str]]]:
    """The table with each text of ``columns`` (default: ``note_columns``) replaced by a mark, and the (mark, text) notes.

    The same text gets the same mark, so a note shared by ten rows is printed once.
    """
    columns = tuple(table.note_columns if columns is None else columns)
    marks: dict[str, str] = {}
    rows = []
    for row in table.rows:
        row = dict(row)
        for c in columns:
            text = row.get(c)
            if text:
                row[c] = marks.setdefault(str(text), note_mark(len(marks)))
        rows.append(row)
    return dataclasses.replace(table, rows=rows, note_columns=()), [(m, t) for t, m in marks.items()]


def sort_table(table: Table, column: str, descending: bool = False) -> Table:
    """The table with its rows sorted by ``column`` (numbers as numbers, text case-blind, blanks last; totals stay last).

    What the screen shows and what CSV and LaTeX files hold come from the same sorted table.
    """
    if column not in table.column_names and not any(column in r for r in table.rows):
        raise ValueError(f"No column {column!r} to sort by; the table has {table.column_names}.")
    body = table.rows[: len(table.rows) - table.footer_rows] if table.footer_rows else table.rows
    footer = table.rows[len(body) :]
    blank = [r for r in body if _blank(r.get(column))]
    filled = [r for r in body if not _blank(r.get(column))]
    filled.sort(key=lambda r: _sort_key(r.get(column)), reverse=descending)
    return dataclasses.replace(table, rows=filled + blank + footer)


def _blank(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, float) and not math.isfinite(value))


def _sort_key(value: Any) -> tuple:
    if isinstance(value, bool):
        return (0, int(value), "")
    if isinstance(value, (int, float)):
        return (0, value, "")
    return (1, 0, format_cell(value).casefold())


def export_columns(table: Table) -> list[str]:
    """The columns CSV and LaTeX files carry: all but the machine-specific ones."""
    return [c for c in table.column_names if c not in table.local_columns]


def to_jsonable(value: Any) -> Any:
    """Dataclasses, enums, tuples and paths -> plain JSON types (NaN -> None)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value) if f.repr}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def format_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        if value == 0:
            return "0"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.4g}" if abs(value) < 1 else f"{value:.3f}".rstrip("0").rstrip(".")
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)  # years and small counts stay plain
    if isinstance(value, (tuple, list)):
        return "x".join(format_cell(v) for v in value)
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def to_text(table: Table) -> str:
    cols = table.column_names
    cells = [[table.header(c) for c in cols]] + [[format_cell(r.get(c)) for c in cols] for r in table.rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if table.full_caption:
        lines += ["", table.full_caption]
    return "\n".join(lines)


def to_csv(table: Table) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    cols = export_columns(table)
    writer.writerow([table.header(c) for c in cols])
    for row in table.rows:
        writer.writerow([_csv_cell(row.get(c)) for c in cols])
    if table.full_caption:
        buf.write(f"# {table.full_caption}\n")  # a comment line, unquoted, so it reads as a caption
    return buf.getvalue()


def format_shape(shape: Sequence[int] | None, *, drop_batch: bool = False) -> str | None:
    """(1, 64, 128, 128) -> "1x64x128x128" (the papers' notation); ``drop_batch`` -> "64x128x128"; None stays None."""
    if not shape:
        return None
    return "x".join(str(d) for d in (shape[1:] if drop_batch else shape))


def _csv_cell(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return "x".join(str(v) for v in value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    return "" if value is None else value


def latex_escape(text: str) -> str:
    """``text`` as pdflatex-safe ASCII (see :mod:`cvcore.latex`)."""
    from cvcore.latex import latex_escape as escape

    return escape(text)


def to_latex(table: Table, label: str | None = None) -> str:
    """A booktabs table that compiles with pdflatex as exported and fits the page (:func:`cvcore.latex.to_latex`)."""
    from cvcore.latex import to_latex as latex

    return latex(table, label)


def to_json(value: Any) -> str:
    return json.dumps(to_jsonable(value), indent=2, ensure_ascii=False)


def render(table: Table, fmt: str) -> str:
    """Render a table in one of :data:`FORMATS` (JSON gives the rows)."""
    if fmt == "table":
        return to_text(table)
    if fmt == "csv":
        return to_csv(table)
    if fmt == "latex":
        return to_latex(table)
    if fmt == "json":
        return to_json(table.rows)
    raise ValueError(f"Unknown format {fmt!r}; expected one of {FORMATS}.")
