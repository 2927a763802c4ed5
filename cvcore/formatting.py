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
    """One caption line: the sources of the numbers, then the software versions."""
    unique = list(dict.fromkeys(s for s in sources if s))
    prefix = "Sources: " + "; ".join(unique) + ". " if unique else ""
    return f"{prefix}Generated with {versions_line()}."


@dataclass
class Table:
    rows: list[dict[str, Any]]
    columns: list[str] | None = None  # order and subset; default: keys of the first row
    labels: dict[str, str] = field(default_factory=dict)  # column -> header text
    caption: str = ""
    sources: list[str] = field(default_factory=list)

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
    cols = table.column_names
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


_LATEX_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}", "\\": r"\textbackslash{}"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def to_latex(table: Table, label: str | None = None) -> str:
    """A booktabs table (needs ``\\usepackage{booktabs}``); numbers right-aligned."""
    cols = table.column_names
    numeric = [all(isinstance(r.get(c), (int, float)) or r.get(c) is None for r in table.rows) for c in cols]
    spec = "".join("r" if n else "l" for n in numeric)
    lines = [r"\begin{table}[htbp]", r"\centering", rf"\begin{{tabular}}{{{spec}}}", r"\toprule"]
    lines.append(" & ".join(latex_escape(table.header(c)) for c in cols) + r" \\")
    lines.append(r"\midrule")
    for row in table.rows:
        lines.append(" & ".join(latex_escape(format_cell(row.get(c))) for c in cols) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    if table.full_caption:
        lines.append(rf"\caption{{{latex_escape(table.full_caption)}}}")
    if label:
        lines.append(rf"\label{{{label}}}")
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


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
