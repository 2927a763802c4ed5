"""Report page: items added from four pages in one session, reordered, removed, exported; conflicts and damage.

The exports are checked against what the pages showed, and every table item's rebuild
command is run through the CLI in-process: its CSV must equal the exported CSV.
"""

import contextlib
import csv
import io
import json
import shlex
import zipfile

import pytest
import torch

from cvcore.cli import main
from cvcore.report import load_report, remove_item
from cvcore.report.export import StaticExport, commands, report_html, report_zip
from cvcore.report.store import report_path
from dashboard import state
from tests.dashboard.conftest import run_page, unescaped

REPORT = "app_pages/report.py"


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("CVLENS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)


def add(at, key: str):
    at.button(key=f"{key}.report").click().run()
    assert not at.exception, at.exception
    assert any("Added to the report" in t.value for t in at.toast), [t.value for t in at.toast]
    return at


def kinds_on_page(at) -> list[str]:
    return [
        m.value.split(". ", 1)[1].split("**")[0].split(" ")[0]
        for m in at.markdown
        if m.value.startswith("**") and ". " in m.value
    ]


def cli_csv(command: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(shlex.split(command)[3:] + ["--format", "csv"]) == 0
    return out.getvalue()


def files_of(manifest: dict, item_id: str) -> list[str]:
    return next(i["files"] for i in manifest["items"] if i["id"] == item_id)


def same_numbers(rebuilt: str, exported: str, count: int) -> bool:
    """The first ``count`` rows agree on every column both CSVs have (the page may show fewer columns than the CLI)."""
    ours = list(csv.DictReader(io.StringIO(exported)))[:count]
    theirs = list(csv.DictReader(io.StringIO(rebuilt)))[:count]
    common = [c for c in ours[0] if c in theirs[0]]
    assert len(common) >= 3, (list(ours[0]), list(theirs[0]))
    return [[r[c] for c in common] for r in ours] == [[r[c] for c in common] for r in theirs]


def test_items_from_four_pages_in_one_session_then_order_remove_and_export():
    at = run_page("app_pages/compare.py")
    add(at, state.COMPARE_CHART)
    add(at, state.COMPARE_DELTAS)
    at.switch_page("app_pages/architecture.py").run()
    add(at, state.ARCH_SUMMARY)
    add(at, state.ARCH_GRAPH_DOWNLOADS)  # the topology graph, as a PNG
    at.switch_page("app_pages/papers.py").run()
    add(at, f"{state.PAPERS_TABLE}.0")
    at.switch_page("app_pages/segmentation.py").run()
    overlay_key = next(b.key for b in at.button if b.key and b.key.endswith(".overlay.report"))
    add(at, overlay_key.removesuffix(".report"))

    at.switch_page(REPORT).run()
    assert not at.exception and not at.error
    report = load_report("defense")
    assert [i.kind for i in report.items] == ["figure", "table", "table", "image", "table", "image"]
    assert [i.page for i in report.items] == ["Compare", "Compare", "Architecture", "Architecture", "Papers", "Segmentation"]
    assert kinds_on_page(at) == ["Figure", "Table", "Table", "Figure", "Table", "Figure"]
    assert len(at.dataframe) >= 3 and at.subheader[0].value == "6 items"

    chart, deltas, stages, graph, paper, photo = (i.id for i in report.items)
    at.button(key=f"{state.REPORT_ITEM}.{paper}.up").click().run()  # Papers' table before the graph
    at.button(key=f"{state.REPORT_ITEM}.{paper}.up").click().run()  # and before the stages
    at.button(key=f"{state.REPORT_ITEM}.{chart}.remove").click().run()
    at.text_area(key=state.REPORT_NOTE).input("Why ResNet-50 wins.")
    at.button(key=state.REPORT_ADD_NOTE).click().run()
    assert not at.exception and not at.warning
    report = load_report("defense")
    assert [i.id for i in report.items][:5] == [deltas, paper, stages, graph, photo] and report.items[5].kind == "note"
    assert at.subheader[0].value == "6 items" and [d.proto.label for d in at.get("download_button")][-2:] == ["HTML", "ZIP"]

    page = report_html(report)
    assert 'data-item-count="6"' in page and page.count('<section class="item') == 6 and "Why ResNet-50 wins." in page
    archive = zipfile.ZipFile(io.BytesIO(report_zip(report, static=StaticExport(problem="not rendered in this test"))))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["item_count"] == 6 and {"versions", "device", "git_commit", "models", "datasets", "date"} <= set(manifest)
    names = {m["name"] for m in manifest["models"]}  # Compare's like-for-like entries: ResNet-50 with its V1 weights
    assert {"resnet18", "efficientnet_lite0"} <= names and {"resnet50", "resnet50.IMAGENET1K_V1"} & names
    lines = commands(report)
    assert len(lines) == 3 and all("-m cvcore " in line for line in lines)  # compare, papers, analyze; the images have none
    assert archive.read(next(f for f in files_of(manifest, graph) if f.endswith(".png")))[:4] == b"\x89PNG"
    files = {i["id"]: i["files"] for i in manifest["items"]}
    assert all(files[i.id] for i in report.items if i.kind != "note")
    for item in report.items[:3]:
        exported = archive.read(next(f for f in files[item.id] if f.endswith(".csv")))
        rows = list(csv.reader(io.StringIO(exported.decode())))
        table = item.as_table()
        assert rows[0] == [table.header(c) for c in table.column_names] and len(rows) == len(table.rows) + 2  # + caption line
        assert same_numbers(cli_csv(item.rebuild.command), exported.decode(), len(table.rows)), item.page


def test_an_edit_from_a_stale_tab_is_refused_and_said():
    at = run_page("app_pages/papers.py")
    add(at, f"{state.PAPERS_TABLE}.0")
    add(at, f"{state.PAPERS_TABLE}.0")
    at.switch_page(REPORT).run()
    first, second = (i.id for i in load_report("defense").items)
    remove_item("defense", first, None)  # another tab removed the first item meanwhile
    at.button(key=f"{state.REPORT_ITEM}.{second}.up").click().run()
    assert not at.exception
    assert any("changed elsewhere" in unescaped(w.value) for w in at.warning)
    assert [i.id for i in load_report("defense").items] == [second]
    assert at.subheader[0].value == "1 items"


def test_a_damaged_report_file_is_said_and_kept():
    at = run_page("app_pages/papers.py")
    add(at, f"{state.PAPERS_TABLE}.0")
    report_path("defense").write_text('{"items": [')
    at.switch_page(REPORT).run()
    assert not at.exception
    assert any(
        "not valid JSON" in unescaped(e.value) and "kept as defense.json.damaged-1" in unescaped(e.value) for e in at.error
    )
    assert (report_path("defense").parent / "defense.json.damaged-1").read_text() == '{"items": ['
    assert load_report("defense").items == []


def test_a_new_report_becomes_the_one_pages_add_to():
    at = run_page(REPORT)
    at.text_input(key=state.REPORT_NEW_NAME).input("second")
    at.button(key=state.REPORT_CREATE).click().run()
    assert not at.exception and at.selectbox(key=state.REPORT_CHOOSE).value == "second"
    at.switch_page("app_pages/papers.py").run()
    add(at, f"{state.PAPERS_TABLE}.0")
    at.switch_page(REPORT).run()
    assert at.selectbox(key=state.REPORT_CHOOSE).value == "second" and at.subheader[0].value == "1 items"
    assert not at.info or not any("changed since" in i.value for i in at.info)  # its own addition is no conflict
    assert len(load_report("second").items) == 1 and load_report("defense").items == []
