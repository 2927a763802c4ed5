"""A report exported whole: one self-contained HTML file, and a ZIP for the thesis.

- :func:`report_html`: opens offline on any machine (plotly.js included once, inline;
  images as data URIs; tables as HTML tables with caption and sources), printable to PDF
  from the browser with a page break before no figure or table is cut in two.
- :func:`report_zip`: ``report.html``; each figure as SVG and PNG rendered here with
  plotly's static export (kaleido driving the system Chromium; where it cannot run, the
  figure's HTML and JSON instead, and the manifest says why; the export never fails for it);
  each table as CSV and LaTeX (booktabs); each image as PNG; the input photos of items
  computed from photos (``photos/``, the pixels their numbers came from); ``report.json``;
  ``manifest.json`` (versions, device, git commit, weights files and sha256, dataset
  fingerprints, date, item count) and ``regenerate.sh`` (the ``python -m cvcore`` lines that
  rebuild every computed item).

An item whose model's weights were removed since (or whose imported model is gone) still
exports from its stored numbers and says so, in the HTML and in the manifest.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import json
import platform
import re
import shlex
import subprocess
import tempfile
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from cvcore.figures import figure_caption, with_caption
from cvcore.formatting import export_columns, format_cell, provenance, render
from cvcore.report.model import FIGURE_OUTPUT, FIGURE_PNG_OUTPUT, Item, Report
from cvcore.report.store import image_bytes
from cvcore.versions import package_version, versions_line

ROOT = Path(__file__).resolve().parents[2]
STATIC_WIDTH, STATIC_HEIGHT = 900, 560  # layout pixels of a figure without its own size; PNG at twice that
STATIC_TIMEOUT_S = 120
STATIC_WAIT_S = 120  # how long an export waits for another one's browser before shipping HTML+JSON figures
PHOTO_WORD = re.compile(r"PHOTO([1-9][0-9]?)\.png")  # cvcore.report.model.photo_input
# One headless Chromium at a time per server: each costs a few hundred MB and a core while it renders.
_STATIC_SLOT = threading.BoundedSemaphore(1)

PRINT_CSS = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
h1 { margin-bottom: 0.2rem; } .byline { color: #555; margin-top: 0; }
section.item { margin: 2rem 0; } .figure { width: 100%; min-height: 420px; }
table { border-collapse: collapse; font-size: 0.9rem; margin: 0.5rem 0; }
caption { caption-side: bottom; text-align: left; color: #555; font-size: 0.85rem; padding-top: 0.4rem; }
th, td { padding: 0.2rem 0.6rem; border-bottom: 1px solid #ddd; } th { border-bottom: 2px solid #444; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; } .caption { color: #555; font-size: 0.85rem; }
.rebuild { color: #777; font-size: 0.75rem; } .warning { color: #8a4b00; font-size: 0.85rem; }
footer { color: #777; font-size: 0.8rem; border-top: 1px solid #ddd; margin-top: 3rem; padding-top: 0.5rem; }
@media print {
  body { max-width: none; margin: 0; }
  section.item { break-inside: avoid; page-break-inside: avoid; }
  section.item h2 { break-after: avoid; page-break-after: avoid; }
  .figure { width: 17cm; }
  .rebuild { display: none; }
}
"""


@dataclass
class ModelState:
    """Whether an item's model is still here: its weights file, present or not, and its sha256."""

    name: str
    weights_file: str | None
    present: bool
    sha256: str | None = None
    note: str | None = None  # in words, when the weights are gone

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "weights_file": self.weights_file,
            "present": self.present,
            "sha256": self.sha256,
            "note": self.note,
        }


@dataclass
class StaticExport:
    """The SVG/PNG bytes of each figure, by item id, or why there are none."""

    images: dict[str, dict[str, bytes]] = field(default_factory=dict)  # item id -> {"svg": ..., "png": ...}
    problem: str | None = None


def model_states(report: Report, *, with_sha256: bool = True) -> dict[str, ModelState]:
    """Every model the report's items used, as it stands on this machine now."""
    names = list(dict.fromkeys(m for item in report.items for m in item.models))
    return {name: model_state(name, with_sha256=with_sha256) for name in names}


def model_state(name: str, *, with_sha256: bool = True) -> ModelState:
    from cvcore.errors import CvlensError
    from cvcore.weights import WeightState, sha256_of, weight_status

    try:
        status = weight_status(name)
    except CvlensError:
        return ModelState(name, None, False, note=f"{name} is no longer in the catalogue (a removed imported model?)")
    if status.state is WeightState.UNAVAILABLE:
        return ModelState(name, None, False, note=None)  # no trained weights exist: nothing was removed
    if not status.available:
        return ModelState(
            name, status.file_name, False, note=f"the weights of {name} ({status.file_name}) are no longer on this machine"
        )
    digest = sha256_of(status.path) if with_sha256 else None
    return ModelState(name, status.path.name, True, digest)


def gone_note(item: Item, states: dict[str, ModelState]) -> str | None:
    """ "Exported from its stored data" when a model the item used has lost its weights since."""
    notes = [states[m].note for m in item.models if _lost(item, states.get(m))]
    if not notes:
        return None
    return f"{'; '.join(notes)}: this item is exported from its stored data, as computed when it was added."


def _lost(item: Item, state: ModelState | None) -> bool:
    """The model is gone from the catalogue, or its weights were here when the item was added and are not now."""
    if state is None or state.present or not state.note:
        return False
    return state.weights_file is None or item.weights_when_added.get(state.name, False)


# --- HTML -----------------------------------------------------------------------------


def report_html(report: Report, *, states: dict[str, ModelState] | None = None) -> str:
    """The report as one HTML file that needs no server and no network."""
    states = model_states(report, with_sha256=False) if states is None else states
    numbers = item_numbers(report)
    body = [
        f"<h1>{_e(report.title or report.name)}</h1>",
        f'<p class="byline">{_e(report.author)}{" · " if report.author else ""}{_e(_today())}</p>',
    ]
    body += [_item_html(item, numbers.get(item.id, ""), n, states) for n, item in enumerate(report.items)]
    body.append(f"<footer>{len(report.items)} items. Generated with {_e(versions_line())}.</footer>")
    plotly_js = ""
    if any(item.kind == "figure" for item in report.items):
        from plotly.offline import get_plotlyjs

        plotly_js = f"<script>{get_plotlyjs()}</script>"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(report.title or report.name)}</title><style>{PRINT_CSS}</style>{plotly_js}</head>"
        f'<body data-item-count="{len(report.items)}">\n' + "\n".join(body) + "\n</body></html>\n"
    )


def item_numbers(report: Report) -> dict[str, str]:
    """ "Table 2", "Figure 3" by item id (images are figures too; notes are unnumbered)."""
    counts = {"Table": 0, "Figure": 0}
    numbers = {}
    for item in report.items:
        if item.kind == "note":
            continue
        word = "Table" if item.kind == "table" else "Figure"
        counts[word] += 1
        numbers[item.id] = f"{word} {counts[word]}"
    return numbers


def _item_html(item: Item, number: str, position: int, states: dict[str, ModelState]) -> str:
    if item.kind == "note":
        paragraphs = "".join(f"<p>{_e(p)}</p>" for p in item.text.split("\n\n") if p.strip())
        return f'<section class="item note" data-kind="note" data-id="{item.id}">{paragraphs}</section>'
    parts = [f'<section class="item" data-kind="{item.kind}" data-id="{item.id}">']
    caption = " ".join(p for p in (f"{number}." if number else "", item.caption, provenance(item.sources)) if p)
    if item.kind == "table":
        parts.append(table_html(item, caption))
    elif item.kind == "figure":
        figure = with_caption(_figure(item), figure_caption(item.caption, item.sources))
        data = json.dumps(figure.to_plotly_json(), default=str).replace("</", "<\\/")
        div = f"fig-{position}"
        parts.append(f'<div class="figure" id="{div}"></div>')
        parts.append(
            f'<script>(function(){{var f={data};Plotly.newPlot("{div}",f.data,f.layout,{{displaylogo:false,responsive:true}});}})();</script>'
        )
        parts.append(f'<p class="caption">{_e(caption)}</p>')
    else:
        png = image_bytes(item.image_sha256 or "")
        if png is None:
            parts.append('<p class="warning">The image file of this item is missing from the cvlens home.</p>')
        else:
            parts.append(f'<img alt="{_e(item.caption)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">')
        parts.append(f'<p class="caption">{_e(caption)}</p>')
    note = gone_note(item, states)
    if note:
        parts.append(f'<p class="warning">{_e(note)}</p>')
    if item.rebuild and (item.rebuild.command or item.rebuild.call):
        photos = " (PHOTO1.png ...: the input photos, in the ZIP's photos/ folder)" if item.rebuild.inputs else ""
        parts.append(f'<p class="rebuild">Rebuild: <code>{_e(item.rebuild.command or _call_text(item))}</code>{photos}</p>')
    parts.append("</section>")
    return "".join(parts)


def table_html(item: Item, caption: str) -> str:
    """The table with the same cell text as the CSV and LaTeX exports (:func:`cvcore.formatting.format_cell`)."""
    table = item.as_table()
    columns = export_columns(table)  # the file travels: "weights here" and the like stay on the screen
    numeric = [all(isinstance(r.get(c), (int, float)) or r.get(c) is None for r in table.rows) for c in columns]
    head = "".join(f"<th>{_e(table.header(c))}</th>" for c in columns)
    rows = "".join(
        "<tr>"
        + "".join(f"<td{' class=num' if n else ''}>{_e(format_cell(r.get(c)))}</td>" for c, n in zip(columns, numeric))
        + "</tr>"
        for r in table.rows
    )
    return f"<table><caption>{_e(caption)}</caption><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


# --- ZIP ------------------------------------------------------------------------------


def report_zip(report: Report, *, static: StaticExport | None = None) -> bytes:
    """The ZIP's bytes (the caller writes them atomically, or hands them to a download button)."""
    states = model_states(report)
    static = render_static(report) if static is None else static
    stems = item_stems(report)
    files: dict[str, bytes] = {}
    for item in report.computed_items:
        stem = stems[item.id]
        if item.kind == "table":
            table = item.as_table()
            files[f"tables/{stem}.csv"] = render(table, "csv").encode()
            files[f"tables/{stem}.tex"] = render(table, "latex").encode()
        elif item.kind == "figure":
            images = static.images.get(item.id)
            if images:
                files.update({f"figures/{stem}.{fmt}": data for fmt, data in images.items()})
            else:
                figure = with_caption(_figure(item), figure_caption(item.caption, item.sources))
                files[f"figures/{stem}.html"] = figure.to_html(include_plotlyjs=True, full_html=True).encode()
                files[f"figures/{stem}.json"] = figure.to_json().encode()
        else:
            png = image_bytes(item.image_sha256 or "")
            if png is not None:
                files[f"images/{stem}.png"] = png
        for n, sha256 in enumerate(item.rebuild.inputs if item.rebuild else (), start=1):
            photo = image_bytes(sha256)
            if photo is not None:
                files[photo_file(stem, n)] = photo
    files["report.html"] = report_html(report, states=states).encode()
    files["report.json"] = json.dumps(report.to_json(), indent=1, ensure_ascii=False).encode()
    manifest = build_manifest(report, states, static, {item_id: _files_of(files, stem) for item_id, stem in stems.items()})
    files["manifest.json"] = json.dumps(manifest, indent=1, ensure_ascii=False).encode()
    files["regenerate.sh"] = regenerate_script(report).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=dt.datetime.now().timetuple()[:6])
            info.external_attr = (0o755 if name.endswith(".sh") else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


def item_stems(report: Report) -> dict[str, str]:
    """ "03_cvlens_deltas_vs_resnet18" by item id: the position keeps the files in the report's order."""
    stems = {}
    for n, item in enumerate(report.items, start=1):
        if item.kind != "note":
            base = re.sub(r"[^A-Za-z0-9._-]+", "_", item.file_stem or item.kind).strip("._")[:60] or item.kind
            stems[item.id] = f"{n:02d}_{base}"
    return stems


def build_manifest(report: Report, states: dict[str, ModelState], static: StaticExport, files: dict[str, list[str]]) -> dict:
    numbers = item_numbers(report)
    return {
        "report": {"name": report.name, "title": report.title, "author": report.author, "revision": report.revision},
        "date": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "item_count": len(report.items),
        "versions": {
            "cvlens": _cvlens_version(),
            "torch": package_version("torch"),
            "torchvision": package_version("torchvision"),
            "plotly": package_version("plotly"),
            "kaleido": package_version("kaleido"),
            "python": platform.python_version(),
        },  # fmt: skip
        "device": _device(),
        "git_commit": git_commit(),
        "static_export": {"figures": "svg+png" if static.problem is None else "html+json", "problem": static.problem},
        "models": [state.to_json() for state in states.values()],
        "datasets": list({json.dumps(d, sort_keys=True): d for item in report.items for d in item.datasets}.values()),
        "items": [
            {
                "position": n,
                "id": item.id,
                "kind": item.kind,
                "number": numbers.get(item.id),
                "caption": item.caption or item.text,
                "sources": item.sources,
                "page": item.page,
                "added": item.added,
                "files": files.get(item.id, []),
                "models": item.models,
                "datasets": item.datasets,
                "rebuild": item.rebuild.to_json() if item.rebuild else None,
                "note": gone_note(item, states),
            }  # fmt: skip
            for n, item in enumerate(report.items, start=1)
        ],
    }


def regenerate_script(report: Report) -> str:
    """``sh regenerate.sh`` from a cvlens checkout rebuilds every computed item that has a CLI command into ./regenerated/."""
    stems = item_stems(report)
    numbers = item_numbers(report)
    lines = [
        "#!/bin/sh",
        f"# Rebuilds the computed items of the cvlens report {report.name!r} (exported with {versions_line()}).",
        "# Run it from a cvlens checkout (or with cvlens installed); PYTHON picks the interpreter. Outputs go to ./regenerated/.",
        "set -e",
        'HERE="$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)"  # the unpacked ZIP: input photos are in $HERE/photos/',
        'PYTHON="${PYTHON:-python}"',
        'OUT="${OUT:-regenerated}"',
        'mkdir -p "$OUT"',
    ]
    for item in report.computed_items:
        label = f"# {numbers[item.id]}: {_one_line(item.caption)}"
        command = item.rebuild.command if item.rebuild else None
        if command:
            lines += [label, _shell_line(command, item, stems[item.id])]
        elif item.rebuild and item.rebuild.call:
            lines += [label, f"#   no CLI command; from Python: {_one_line(_call_text(item))}"]
        elif item.kind == "image":
            lines += [label, f"#   a photo result: its pixels are stored in images/{stems[item.id]}.png"]
        else:
            lines += [label, "#   no rebuild recipe was recorded for this item"]
    return "\n".join(lines) + "\n"


def commands(report: Report) -> list[str]:
    """The shell lines of :func:`regenerate_script` that run cvcore."""
    return [line for line in regenerate_script(report).splitlines() if line.startswith('"$PYTHON" -m cvcore')]


def _shell_line(command: str, item: Item, stem: str) -> str:
    words = shlex.split(command)
    if words[:3] == ["python", "-m", "cvcore"]:
        words = words[3:]
    if item.kind == "table" and "--format" not in words:
        words += ["--format", "csv"]
    suffix = "csv" if item.kind == "table" else "txt"
    return f'"$PYTHON" -m cvcore {" ".join(_shell_word(w, stem) for w in words)} > "$OUT/{stem}.{suffix}"'


def _shell_word(word: str, stem: str) -> str:
    """A command word, quoted; a figure output goes to $OUT, an input photo is read from the ZIP's photos/."""
    if word in (FIGURE_OUTPUT, FIGURE_PNG_OUTPUT):
        return f'"$OUT/{stem}{Path(word).suffix}"'
    photo = PHOTO_WORD.fullmatch(word)
    if photo:
        return f'"$HERE/{photo_file(stem, int(photo.group(1)))}"'
    return shlex.quote(word)


# --- static images --------------------------------------------------------------------


def render_static(report: Report, *, timeout_s: float = STATIC_TIMEOUT_S, wait_s: float = STATIC_WAIT_S) -> StaticExport:
    """Every figure as SVG and PNG via kaleido and the system Chromium, in one browser; never raises."""
    figures = [item for item in report.items if item.kind == "figure"]
    if not figures:
        return StaticExport()
    try:
        import kaleido
    except ImportError:
        return StaticExport(problem="kaleido is not installed: figures are exported as interactive HTML and plotly JSON")
    if not _STATIC_SLOT.acquire(timeout=wait_s):
        return StaticExport(problem="the server was busy rendering another export's figures: they are exported as HTML and JSON")
    try:
        return _render(kaleido, figures, timeout_s)
    finally:
        _STATIC_SLOT.release()


def _render(kaleido, figures: list[Item], timeout_s: float) -> StaticExport:
    with tempfile.TemporaryDirectory(prefix="cvlens-static-") as folder:
        specs = []
        for item in figures:
            figure = with_caption(_figure(item), figure_caption(item.caption, item.sources)).to_plotly_json()
            layout = figure.get("layout", {})
            size = {"width": layout.get("width") or STATIC_WIDTH, "height": layout.get("height") or STATIC_HEIGHT}
            for fmt, scale in (("svg", 1), ("png", 2)):
                path = Path(folder) / f"{item.id}.{fmt}"
                specs.append({"fig": figure, "path": path, "opts": {"format": fmt, "scale": scale, **size}})
        try:
            errors = kaleido.write_fig_from_object_sync(specs, kopts={"mathjax": False, "timeout": timeout_s})
        except Exception as exc:  # no browser, a browser that would not start: the export goes on without images
            return StaticExport(
                problem=f"static export failed ({type(exc).__name__}: {_one_line(str(exc))[:300]}): figures are exported as HTML and JSON"
            )
        images = {}
        for item in figures:
            found = {fmt: (Path(folder) / f"{item.id}.{fmt}") for fmt in ("svg", "png")}
            if all(p.is_file() and p.stat().st_size > 0 for p in found.values()):
                images[item.id] = {fmt: p.read_bytes() for fmt, p in found.items()}
        problem = None
        if len(images) < len(figures):
            detail = "; ".join(_one_line(str(e))[:200] for e in errors or ()) or "no file was written"
            problem = f"{len(figures) - len(images)} of {len(figures)} figures could not be rendered ({detail}): those are exported as HTML and JSON"
        return StaticExport(images, problem)


# --- helpers --------------------------------------------------------------------------


def git_commit() -> str | None:
    """The commit of the cvlens checkout this runs from, or None (an installed copy, no git)."""
    try:
        done = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


def _figure(item: Item):
    import plotly.graph_objects as go

    return go.Figure(item.figure or {})


def photo_file(stem: str, n: int) -> str:
    """Where the ZIP keeps an item's ``n``-th input photo (the PNG its numbers were computed from)."""
    return f"photos/{stem}_{n}.png"


def _files_of(files: dict[str, bytes], stem: str) -> list[str]:
    return sorted(name for name in files if Path(name).stem == stem or name.startswith(f"photos/{stem}_"))


def _call_text(item: Item) -> str:
    params = ", ".join(f"{k}={v!r}" for k, v in (item.rebuild.params if item.rebuild else {}).items())
    return f"{item.rebuild.call}({params})" if item.rebuild and item.rebuild.call else ""


def _cvlens_version() -> str:
    import cvcore

    return cvcore.__version__


def _device() -> str:
    from cvcore.device import describe_device

    return describe_device()


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _today() -> str:
    return dt.date.today().isoformat()


def _e(text: str) -> str:
    return html.escape(text or "", quote=True)
