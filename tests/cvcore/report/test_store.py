"""Reports in the cvlens home: every operation saved atomically, revisions against lost edits, damaged files kept."""

import io
import json
import threading

import pytest
from PIL import Image

from cvcore.errors import CvlensError, InvalidInputError
from cvcore.formatting import Table
from cvcore.report import (
    Rebuild,
    ReportConflictError,
    ReportDamagedError,
    ReportExistsError,
    ReportNotFoundError,
    add_item,
    add_note,
    create_report,
    delete_report,
    edit_caption,
    figure_item,
    image_item,
    list_reports,
    load_report,
    move_item,
    remove_item,
    rename_report,
    set_details,
    table_item,
)
from cvcore.report.store import image_bytes, image_path, report_path


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("CVLENS_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def png(colour=(255, 0, 0)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 4), colour).save(buf, format="PNG")
    return buf.getvalue()


def a_table(n=3) -> Table:
    return Table(
        rows=[{"model": f"m{i}", "top1": 70.0 + i / 3} for i in range(n)],
        labels={"top1": "top-1 %"},
        caption="Accuracy",
        sources=["paper A", "paper A"],
    )


def test_items_round_trip_through_the_file_with_their_rebuild_recipe(home):
    rebuild = Rebuild(command="python -m cvcore papers resnet", call="cvcore.papers.claims_table", params={"paper": "resnet"})
    add_item("defense", table_item(a_table(), rebuild=rebuild, models=["resnet18"], page="Papers"))
    add_item("defense", figure_item({"data": [{"type": "scatter", "x": [1, 2], "y": [3, 4]}], "layout": {}}, "A chart", ["src"]))
    add_item("defense", image_item("An overlay", page="Segmentation"), image_png=png())
    report = load_report("defense")
    assert [i.kind for i in report.items] == ["table", "figure", "image"]
    table = report.items[0].as_table()
    assert table.rows == a_table().rows and table.labels == {"top1": "top-1 %"} and table.sources == ["paper A"]
    assert report.items[0].rebuild == rebuild and report.items[0].models == ["resnet18"]
    assert report.items[2].image_sha256 and image_bytes(report.items[2].image_sha256) == png()
    assert report.revision == 4  # created, then three appends
    assert json.loads(report_path("defense").read_text())["revision"] == 4


def test_move_remove_edit_note_title_rename_and_delete():
    for n in range(3):
        add_item("r1", table_item(a_table(n + 1)))
    report = load_report("r1")
    first, second, third = (i.id for i in report.items)
    report = move_item("r1", third, -1, report.revision)
    assert [i.id for i in report.items] == [first, third, second]
    report = move_item("r1", first, -1, report.revision)  # at the top: stays
    assert [i.id for i in report.items] == [first, third, second]
    report = remove_item("r1", third, report.revision)
    report = add_note("r1", "Between the two tables.", report.revision, after=first)
    assert [i.kind for i in report.items] == ["table", "note", "table"] and report.items[1].text == "Between the two tables."
    report = edit_caption("r1", second, "New caption", report.revision)
    assert load_report("r1").items[2].caption == "New caption"
    report = set_details("r1", "My defense", "A. Student", report.revision)
    renamed = rename_report("r1", "final")
    assert renamed.title == "My defense" and [s.name for s in list_reports()] == ["final"]
    assert [s.item_count for s in list_reports()] == [3]
    with pytest.raises(ReportNotFoundError):
        load_report("r1")
    delete_report("final")
    assert list_reports() == []


def test_a_stale_revision_is_refused_and_nothing_is_overwritten():
    add_item("shared", table_item(a_table()))
    add_item("shared", table_item(a_table(2)))
    tab_a = load_report("shared")
    tab_b = load_report("shared")
    remove_item("shared", tab_a.items[0].id, tab_a.revision)
    with pytest.raises(ReportConflictError, match="changed elsewhere") as caught:
        edit_caption("shared", tab_b.items[1].id, "from tab B", tab_b.revision)
    assert isinstance(caught.value, CvlensError) and caught.value.stored == tab_b.revision + 1
    saved = load_report("shared")
    assert len(saved.items) == 1 and saved.items[0].caption == "Accuracy"


def test_concurrent_appends_from_many_threads_all_land():
    create_report("busy")
    threads = [threading.Thread(target=add_item, args=("busy", table_item(a_table(1)))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(load_report("busy").items) == 8 and load_report("busy").revision == 9


@pytest.mark.parametrize("content", ["{not json", '{"items": 3}', "[1, 2]", '{"name": "x", "items": [{"kind": "chart"}]}'])
def test_a_hand_damaged_file_gives_a_clear_error_and_is_kept_aside(home, content):
    add_item("mine", table_item(a_table()))
    path = report_path("mine")
    path.write_text(content)
    assert [s.title for s in list_reports()] == ["(damaged: open it to keep the file aside)"]
    with pytest.raises(ReportDamagedError, match=r"mine\.json.*kept as mine\.json\.damaged-1"):
        load_report("mine")
    assert not path.exists() and (path.parent / "mine.json.damaged-1").read_text() == content
    add_item("mine", table_item(a_table()))  # a fresh report under the same name
    assert len(load_report("mine").items) == 1


def test_images_are_kept_while_a_report_uses_them():
    add_item("a", image_item("x"), image_png=png())
    add_item("b", image_item("x"), image_png=png())
    digest = load_report("a").items[0].image_sha256
    delete_report("a")
    assert image_path(digest).is_file()
    delete_report("b")
    assert not image_path(digest).exists()
    assert image_bytes(digest) is None and image_bytes("not-a-sha") is None  # exports say "missing" instead of failing


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: create_report("../etc"), "not allowed"),
        (lambda: create_report(""), "not allowed"),
        (lambda: add_item("x", image_item("c"), image_png=b"GIF89a"), "must be a PNG"),
        (lambda: add_item("x", table_item(Table(rows=[{"a": 1}] * 5001))), "at most 5,000"),
        (lambda: add_note("x", "n" * 20_001, None), "at most 20,000"),
        (lambda: load_report("nope"), "no report 'nope'"),
    ],
)
def test_bad_input_is_a_typed_error_with_a_message(call, words):
    with pytest.raises(CvlensError, match=words):
        call()


def test_an_existing_name_is_not_overwritten():
    create_report("one", title="first")
    with pytest.raises(ReportExistsError):
        create_report("one")
    create_report("two")
    with pytest.raises(ReportExistsError):
        rename_report("two", "one")
    assert load_report("one").title == "first"
    with pytest.raises(InvalidInputError, match="no item"):
        remove_item("one", "abc", None)
