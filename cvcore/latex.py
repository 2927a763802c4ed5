r"""LaTeX (booktabs) tables that compile with pdflatex as exported and fit the page.

What :func:`to_latex` guarantees, for any :class:`~cvcore.formatting.Table`:

- **Compiles** with ``\usepackage{booktabs}`` and ``\usepackage{graphicx}`` (see
  :data:`REQUIRED_PACKAGES`) under pdflatex's defaults: the output is pure ASCII. Symbols
  become LaTeX commands (Δ -> ``\ensuremath{\Delta}``, ± -> ``\ensuremath{\pm}``, × ->
  ``\ensuremath{\times}``, µ, ≈, →, ★, dashes, quotes), accented letters TeX accents,
  Cyrillic is transliterated (pdflatex's default fonts have no Cyrillic glyphs), emoji go,
  any other script becomes "?" rather than breaking the build.
- **Fits the line**: text columns with long entries wrap (``p{}`` columns sized from the
  room the other columns leave), long headers stack on two lines, and a tabular still
  wider than ``\linewidth`` is scaled down to it (never up; TeX measures, not us).
- **Fits the page**: a table longer than one page is split into several floats, the later
  ones marked "continued" with a reference to the first.
- **Exports what travels**: machine-specific columns (``Table.local_columns``) are left
  out, ``Table.latex_columns`` chooses the printed subset, columns empty in every row go.

:func:`latex_document` wraps tables in a minimal article, for a quick PDF or a test.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace

from cvcore.formatting import Table, export_columns, footnoted, format_cell, provenance

REQUIRED_PACKAGES = ("booktabs", "graphicx")
MISSING = "---"  # an em dash for "no value" (a thesis table's convention; CSV leaves the cell empty)

# Layout, in em of the table's font (\small). The article class's \linewidth is about 38 em of \small.
LINE_EM = 38.0
CHAR_EM = 0.45  # average character width (digits are 0.5 em in Computer Modern, most lowercase letters less)
COLUMN_PAD_EM = 0.9  # 2 x \tabcolsep (4 pt each, set below) in em of \small
WRAP_AT_EM = 16.0  # a text column wider than this wraps, if it holds prose
WRAP_MIN_WORDS = 4  # ... that is, some cell has at least this many words
COMFORT_WRAP_EM = 14.0  # a wrapped column this wide reads well; narrower, the table may shrink instead
BUDGET_EM = 1.3 * LINE_EM  # natural width the layout aims at: shrunk to the line, \small text stays about 7 pt
MAX_DECIMALS = 4
MIN_WRAP_EM = 9.0  # narrowest wrapped column: most words still fit on one of its lines
LINES_PER_FLOAT = 36  # table lines per float: a \small line is ~11 pt, a page ~550 pt, captions need room
CAPTION_CHARS_PER_LINE = 90
NOTE_CHARS_PER_LINE = 110  # \footnotesize

# --- text -------------------------------------------------------------------------------------

_SPECIAL = {
    "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
    "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}",
    "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}",
    # Braced: a "[" after \\ or \tabularnewline would be read as its optional argument, a "]" would end \caption[...].
    "[": "{[}", "]": "{]}",
}  # fmt: skip

_MATH = {
    "±": r"\pm", "×": r"\times", "÷": r"\div", "·": r"\cdot", "−": "-", "≈": r"\approx", "≠": r"\neq",
    "≤": r"\leq", "≥": r"\geq", "∞": r"\infty", "→": r"\rightarrow", "←": r"\leftarrow", "↔": r"\leftrightarrow",
    "⇒": r"\Rightarrow", "↑": r"\uparrow", "↓": r"\downarrow", "↗": r"\nearrow", "↘": r"\searrow", "★": r"\star",
    "☆": r"\star", "∗": r"\ast", "‖": r"\|", "√": r"\surd", "∑": r"\sum", "∏": r"\prod", "∂": r"\partial",
    "∇": r"\nabla", "∈": r"\in", "∼": r"\sim", "≃": r"\simeq", "≡": r"\equiv", "∝": r"\propto", "°": r"^\circ",
    "′": r"'", "µ": r"\mu", "∘": r"\circ", "⊙": r"\odot", "⊕": r"\oplus", "⊗": r"\otimes", "∅": r"\emptyset",
}  # fmt: skip

_GREEK = (
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho varsigma sigma "
    "tau upsilon phi chi psi omega"
).split()

_TEXT = {
    "–": "--", "—": "---", "‒": "--", "‐": "-", "‑": "-", "‘": "`", "’": "'", "‚": ",", "“": "``", "”": "''",
    "„": ",,", "«": "<<", "»": ">>", "…": r"\ldots{}", "•": r"\textbullet{}", "■": r"\rule{0.7em}{0.7em}",
    "□": r"\fbox{\rule{0pt}{0.5em}}", "§": r"\S{}", "¶": r"\P{}", "©": r"\textcopyright{}", "®": r"\textregistered{}",
    "™": r"\texttrademark{}", "€": "EUR", "£": r"\pounds{}", "ß": r"\ss{}", "æ": r"\ae{}", "Æ": r"\AE{}",
    "œ": r"\oe{}", "Œ": r"\OE{}", "ø": r"\o{}", "Ø": r"\O{}", "å": r"\aa{}", "Å": r"\AA{}", "ł": r"\l{}",
    "Ł": r"\L{}", "ı": r"\i{}", "¡": "!`", "¿": "?`", "¹": r"\textsuperscript{1}", "²": r"\textsuperscript{2}",
    "³": r"\textsuperscript{3}", "½": r"\ensuremath{\frac12}", "¼": r"\ensuremath{\frac14}", "¾": r"\ensuremath{\frac34}",
    "\u00a0": "~", "\u2009": r"\,", "\u202f": r"\,", "\u2002": r"\enspace{}", "\u2003": r"\quad{}", "\u200b": "",
    "\ufe0f": "", "\u200d": "", "✓": r"\ensuremath{\surd}", "✔": r"\ensuremath{\surd}", "✗": "x", "✘": "x",
    "⚠": "(!)",
}  # fmt: skip

# Combining marks -> TeX accent commands that pdflatex's default (OT1) fonts can draw.
_ACCENTS = {
    "\u0300": "`", "\u0301": "'", "\u0302": "^", "\u0303": "~", "\u0304": "=", "\u0306": "u", "\u0307": ".",
    "\u0308": '"', "\u030a": "r", "\u030b": "H", "\u030c": "v", "\u0327": "c",
}  # fmt: skip

# Russian (the course material's language) in the scientific transliteration's ASCII form.
_CYRILLIC = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        "a b v g d e e zh z i i k l m n o p r s t u f kh ts ch sh shch '' y ' e yu ya".split(),
    )
)


def _greek(ch: str) -> str | None:
    """A Greek letter as a math command (capitals that look Latin are Latin letters: TeX has no \\Alpha)."""
    match = re.fullmatch(r"GREEK (SMALL|CAPITAL) LETTER ([A-Z ]+)", unicodedata.name(ch, ""))
    if not match:
        return None
    letter = match.group(2).lower().replace("final sigma", "varsigma").replace("lamda", "lambda")  # Unicode's spelling
    if letter not in _GREEK:
        return None
    if match.group(1) == "SMALL":
        return "o" if letter == "omicron" else "\\" + letter
    return _LATIN_CAPITALS.get(letter, "\\" + letter.capitalize())


_LATIN_CAPITALS = {
    "alpha": "A", "beta": "B", "epsilon": "E", "zeta": "Z", "eta": "H", "iota": "I", "kappa": "K", "mu": "M", "nu": "N",
    "omicron": "O", "rho": "P", "tau": "T", "chi": "X", "varsigma": "S",
}  # fmt: skip


def _char(ch: str) -> str:
    """One character as pdflatex-safe ASCII."""
    if ch in _SPECIAL:
        return _SPECIAL[ch]
    if ord(ch) < 128:
        return ch if ch.isprintable() or ch == " " else " "
    if ch in _TEXT:
        return _TEXT[ch]
    if ch in _MATH:
        return rf"\ensuremath{{{_MATH[ch]}}}"
    greek = _greek(ch)
    if greek is not None:
        return rf"\ensuremath{{{greek}}}" if greek.startswith("\\") else greek
    lower = ch.lower()
    if lower in _CYRILLIC:
        out = _CYRILLIC[lower]
        return out.capitalize() if ch != lower else out
    decomposed = unicodedata.normalize("NFD", ch)
    base, marks = decomposed[0], decomposed[1:]
    if ord(base) < 128 and base.isalpha() and marks:
        text = base if base not in "ij" else "\\" + base  # dotless i/j under an accent
        for mark in marks:
            accent = _ACCENTS.get(mark)
            if accent is not None:
                text = rf"\{accent}{{{text}}}"
        return "{" + text + "}"
    compatible = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
    if compatible and compatible.isprintable():
        return "".join(_char(c) for c in compatible)
    if unicodedata.category(ch).startswith(("M", "C")) or unicodedata.category(ch) == "So":
        return ""  # marks, controls, emoji: decoration only
    return "?"  # a script pdflatex's default fonts cannot draw (CJK, ...): a mark, not a failed build


_BREAK_AFTER = "/._-#=:,"
_LONG_TOKEN = 14  # characters: identifiers and URLs longer than this get break points


def latex_escape(text: str, *, breakable: bool = False) -> str:
    r"""``text`` as pdflatex-safe ASCII; ``breakable`` lets long identifiers and URLs break after . / _ - etc.

    Use ``breakable`` for paragraphs (captions, wrapped columns): an unbreakable
    ``ResNet50_Weights.IMAGENET1K_V2`` at the end of a caption line overfills it.
    """
    text = re.sub(r"(?<=\d)x(?=\d)", "×", str(text))  # 64x112x112: the papers' ×
    if not breakable:
        return "".join(_char(ch) for ch in text)
    out = []
    for token in re.split(r"(\s+)", text):
        escaped = [_char(ch) for ch in token]
        if len(token) > _LONG_TOKEN:
            since = 0  # characters since the last break point: a run without any gets one now and then
            for i, ch in enumerate(token):
                since += 1
                if ch in _BREAK_AFTER or since >= _LONG_TOKEN:
                    escaped[i] += r"\allowbreak{}"
                    since = 0
        out.append("".join(escaped))
    return "".join(out)


# --- layout -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Column:
    key: str
    header: tuple[str, ...]  # one or two lines
    numeric: bool
    width_em: float  # natural width of the widest cell (or header line)
    wrap_em: float | None  # p{} width when the column wraps
    decimals: int | None = None  # numeric columns of floats: every cell with this many decimals
    words: int = 0  # most words in one cell: only multi-word text wraps

    def spec(self) -> str:
        if self.wrap_em is not None:
            return f"p{{{self.wrap_em / LINE_EM:.3f}\\linewidth}}"
        return "r" if self.numeric else "l"


def _text_em(text: str) -> float:
    return CHAR_EM * len(text)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _cell_text(value, decimals: int | None = None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return MISSING
    if decimals is not None and isinstance(value, float):  # a count among floats stays a whole number
        return f"{value:,.{decimals}f}" if abs(value) >= 10_000 else f"{value:.{decimals}f}"
    return format_cell(value)


def latex_columns(table: Table) -> list[str]:
    """The columns a printed table keeps: ``latex_columns`` (or every exported one), minus the empty ones.

    ``latex_columns`` may name keys of the rows that are not among the displayed columns
    (a print-only form, such as a verdict with its tolerance); machine-specific ones never print.
    """
    exported = export_columns(table)
    chosen = [c for c in table.latex_columns if c not in table.local_columns] if table.latex_columns else exported
    return [c for c in chosen if any(_filled(r.get(c)) for r in table.rows)] if table.rows else chosen


def _filled(value) -> bool:
    return value is not None and value != "" and not (isinstance(value, float) and not math.isfinite(value))


def _split_header(header: str, cell_em: float) -> tuple[str, ...]:
    """A header wider than its column's cells goes on two lines, split at the space that balances them."""
    if _text_em(header) <= max(cell_em, 4.0) or " " not in header:
        return (header,)
    spaces = [i for i, ch in enumerate(header) if ch == " "]
    best = min(spaces, key=lambda i: max(i, len(header) - i - 1))
    return header[:best], header[best + 1 :]


def _layout(table: Table, keys: Sequence[str]) -> list[_Column]:
    """Measure each column; wrap prose, then (if the rest is still too wide) the widest multi-word columns; size the wraps."""
    columns = [_measure(table, key) for key in keys]
    columns = [replace(c, wrap_em=WRAP_AT_EM) if c.words >= WRAP_MIN_WORDS and c.width_em > WRAP_AT_EM else c for c in columns]
    while _fixed_em(columns) + MIN_WRAP_EM * _wrapped(columns) > BUDGET_EM:
        # Only where wrapping saves much: a column barely wider than MIN_WRAP_EM would double its rows' height for little.
        candidates = [c for c in columns if c.wrap_em is None and c.words >= 2 and c.width_em >= 1.4 * MIN_WRAP_EM]
        if not candidates:
            break
        widest = max(candidates, key=lambda c: c.width_em)
        columns = [replace(c, wrap_em=MIN_WRAP_EM) if c is widest else c for c in columns]
    return _size_wrapped(columns)


def _measure(table: Table, key: str) -> _Column:
    values = [r.get(key) for r in table.rows]
    numeric = all(_is_number(v) or not _filled(v) for v in values)
    decimals = _decimals(values) if numeric else None
    texts = [_cell_text(v, decimals) for v in values]
    cell_em = max((_text_em(t) for t in texts), default=0.0)
    header = _split_header(table.header(key), cell_em)
    width = max(cell_em, *(_text_em(h) for h in header))
    words = 0 if numeric else max((len(t.split()) for t in texts), default=0)  # names and identifiers never wrap
    return _Column(key, header, numeric, width, None, decimals, words)


def _fixed_em(columns: Sequence[_Column]) -> float:
    return sum(c.width_em for c in columns if c.wrap_em is None) + COLUMN_PAD_EM * len(columns)


def _wrapped(columns: Sequence[_Column]) -> int:
    return sum(c.wrap_em is not None for c in columns)


def _decimals(values: Sequence) -> int | None:
    """One number of decimals for a column of floats (as many as its most precise cell shows), so they align."""
    floats = [v for v in values if isinstance(v, float) and math.isfinite(v)]
    if not floats:
        return None
    shown = [format_cell(v) for v in floats]
    return min(MAX_DECIMALS, max(len(t.partition(".")[2]) for t in shown))


def _size_wrapped(columns: list[_Column]) -> list[_Column]:
    """Give wrapped columns the room the others leave: the line if that is comfortable, else up to BUDGET_EM (shrunk)."""
    wrapped = [c for c in columns if c.wrap_em is not None]
    if not wrapped:
        return columns
    fixed = _fixed_em(columns)
    room = LINE_EM - fixed
    if room < COMFORT_WRAP_EM * len(wrapped):
        room = max(BUDGET_EM - fixed, MIN_WRAP_EM * len(wrapped), COMFORT_WRAP_EM)
    weight = {c.key: math.sqrt(c.width_em) for c in wrapped}  # long notes get more room, not all of it
    total = sum(weight.values())
    sized = {c.key: max(MIN_WRAP_EM, min(c.width_em, room * weight[c.key] / total)) for c in wrapped}
    return [c if c.wrap_em is None else replace(c, wrap_em=sized[c.key]) for c in columns]


def _row_lines(row: dict, columns: Sequence[_Column]) -> int:
    """How many text lines a row takes (wrapped cells take several)."""
    lines = 1
    for c in columns:
        if c.wrap_em is not None:
            chars_per_line = max(1, int(c.wrap_em / CHAR_EM))
            lines = max(lines, math.ceil(len(_cell_text(row.get(c.key))) / chars_per_line))
    return lines


def _chunk_lines(rows: Sequence[dict], columns: Sequence[_Column]) -> int:
    return 2 + sum(_row_lines(r, columns) for r in rows)  # + the header


def _chunks(table: Table, columns: Sequence[_Column], caption_lines: int) -> list[list[dict]]:
    """Rows split into floats of at most LINES_PER_FLOAT lines (the first also holds the caption)."""
    chunks: list[list[dict]] = [[]]
    used = caption_lines + 2  # + the header
    for row in table.rows:
        lines = _row_lines(row, columns)
        if chunks[-1] and used + lines > LINES_PER_FLOAT:
            chunks.append([])
            used = 2 + 2  # the "continued" line and the header
        chunks[-1].append(row)
        used += lines
    return chunks


# --- cells ------------------------------------------------------------------------------------


def _header_cell(column: _Column) -> str:
    lines = [latex_escape(h) for h in column.header]
    if column.wrap_em is not None:
        return r"\raggedright " + " ".join(lines)
    if len(lines) == 1:
        return lines[0]
    align = "r" if column.numeric else "l"
    return rf"\begin{{tabular}}[b]{{@{{}}{align}@{{}}}}{lines[0]}\\{lines[1]}\end{{tabular}}"


def _body_cell(value, column: _Column) -> str:
    text = _cell_text(value, column.decimals)
    if _is_number(value) and text.startswith("-"):
        return r"\ensuremath{-}" + latex_escape(text[1:])  # a minus sign, not a hyphen
    if column.wrap_em is not None:
        return r"\raggedright " + latex_escape(text, breakable=True)
    return latex_escape(text)


def _tabular(columns: Sequence[_Column], rows: Sequence[dict]) -> list[str]:
    # Rows end with \tabularnewline: \raggedright in a wrapped cell redefines \\.
    end = r" \tabularnewline"
    lines = [rf"\begin{{tabular}}{{{''.join(c.spec() for c in columns)}}}", r"\toprule"]
    lines.append(" & ".join(_header_cell(c) for c in columns) + end)
    lines.append(r"\midrule")
    lines += [" & ".join(_body_cell(row.get(c.key), c) for c in columns) + end for row in rows]
    lines += [r"\bottomrule", r"\end{tabular}"]
    return lines


def _label(table: Table, keys: Sequence[str]) -> str:
    digest = hashlib.sha1(f"{table.caption}|{'|'.join(keys)}|{len(table.rows)}".encode()).hexdigest()[:8]
    return f"tab:cvlens-{digest}"


def _float(heading: Sequence[str], body: Sequence[str] = (), note: str = "") -> list[str]:
    """One float: heading (caption or "continued" line), the tabular (shrunk to the line only if wider), the note."""
    lines = [r"\begin{table}[htbp]", r"\centering", *heading]
    if body:
        lines += [
            r"{\small",
            r"\setlength{\tabcolsep}{4pt}",
            r"\sbox0{%",
            *body,
            r"}%",
            r"\ifdim\wd0>\linewidth\resizebox{\linewidth}{!}{\usebox0}\else\usebox0\fi",
            r"\par}",
        ]
    if note:
        lines.append(rf"\par\smallskip{{\footnotesize\raggedright {note}\par}}")  # note: escaped already
    return lines + [r"\end{table}"]


def _note_lines(note: str) -> int:
    return 1 + math.ceil(len(note) / NOTE_CHARS_PER_LINE) if note else 0


def _constant_columns(table: Table, keys: Sequence[str]) -> list[str]:
    """Columns with one value in every row (of three or more): said once under the table instead."""
    if len(table.rows) < 3:
        return []
    return [k for k in keys[1:] if len({repr(r.get(k)) for r in table.rows}) == 1]


def _note_items(table: Table, keys: Sequence[str], constant: Sequence[str], notes: Sequence[tuple[str, str]]) -> list[str]:
    """What goes under the table, each item escaped: the constant columns, the notes by mark, the sources."""
    items = []
    if constant:
        same = "; ".join(f"{table.header(k)}: {_cell_text(table.rows[0].get(k))}" for k in constant)
        items.append(latex_escape(f"Every row: {same}.", breakable=True))
    items += [rf"\textit{{{mark}}}: " + latex_escape(text, breakable=True) for mark, text in notes]
    items.append(latex_escape(provenance(table.sources), breakable=True))
    return items


def _note_groups(items: Sequence[str], room_for_first: int) -> list[list[str]]:
    """Note items in groups that each fit a float (the first one under the table's last rows)."""
    full = LINES_PER_FLOAT - 4  # a float of notes only: its "continued" line and some air
    groups: list[list[str]] = [[]]
    room = room_for_first
    for item in items:
        lines = _note_lines(item)
        if lines > room and (groups[-1] or room < full):
            groups.append([])
            room = full
        groups[-1].append(item)
        room -= lines
    return groups


def to_latex(table: Table, label: str | None = None) -> str:
    r"""A booktabs table that compiles with pdflatex and :data:`REQUIRED_PACKAGES` and fits the page (see the module docstring).

    The caption is ``table.caption``. Under the table, in small type: the columns that hold
    one value in every row (said once), the notes of ``note_columns`` (marked a, b, ... in
    their column), then the sources and versions (``provenance``).
    """
    printed, notes = footnoted(table)
    printed = replace(printed, labels={**printed.labels, **printed.latex_labels})
    keys = latex_columns(printed)
    constant = _constant_columns(printed, keys)
    keys = [k for k in keys if k not in constant]
    columns = _layout(printed, keys)
    label = label or _label(table, keys)
    caption = latex_escape(table.caption.strip() or "Table exported by cvlens", breakable=True)
    short = latex_escape(_first_sentence(table.caption) or "Table exported by cvlens", breakable=True)
    items = _note_items(printed, keys, constant, notes)
    first = [rf"\caption[{short}]{{{caption}}}" if short != caption else rf"\caption{{{caption}}}", rf"\label{{{label}}}"]
    continued = [rf"\textit{{Table~\ref{{{label}}}, continued.}}\par\smallskip"]
    out = [f"% cvlens table: needs {_packages(', ')} in the preamble"]
    if not columns:
        empty = [r"\begin{tabular}{l}", r"\toprule", r"(no rows) \tabularnewline", r"\bottomrule", r"\end{tabular}"]
        return "\n".join(out + _float(first, empty, r"\par ".join(items))) + "\n"
    chunks = _chunks(printed, columns, 1 + math.ceil(len(table.caption) / CAPTION_CHARS_PER_LINE))
    groups = _note_groups(items, LINES_PER_FLOAT - _chunk_lines(chunks[-1], columns) - (2 if len(chunks) > 1 else 3))
    for i, rows in enumerate(chunks):
        last = i == len(chunks) - 1
        out += _float(first if i == 0 else continued, _tabular(columns, rows), r"\par ".join(groups[0]) if last else "")
    for group in groups[1:]:  # notes and sources too long to share the last float get floats of their own
        out += _float(continued, note=r"\par ".join(group))
    return "\n".join(out) + "\n"


_SENTENCE_END = re.compile(r"(?<!\bal)(?<!\be\.g)(?<!\bi\.e)(?<!\bFig)(?<!\bSec)(?<!\bTab)[.;](\s|$)")


def _first_sentence(text: str) -> str:
    """The caption's first sentence, for the list of tables (the full caption stays above the table)."""
    text = text.strip()
    match = _SENTENCE_END.search(text)
    return text[: match.start()] + "." if match else text


def _packages(separator: str) -> str:
    return separator.join(rf"\usepackage{{{p}}}" for p in REQUIRED_PACKAGES)


def latex_document(tables: Sequence[str], title: str = "") -> str:
    """A minimal article around exported tables: what a thesis would add to its own preamble, nothing more."""
    packages = _packages("\n")
    heading = [rf"\section*{{{latex_escape(title)}}}"] if title else []
    body = "\n\\clearpage\n".join(tables)
    return (
        "\n".join([r"\documentclass[a4paper]{article}", packages, r"\begin{document}", *heading, body, r"\end{document}"]) + "\n"
    )
