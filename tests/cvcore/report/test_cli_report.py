"""`python -m cvcore report list|show|export` on reports made through cvcore.report."""

import json
import zipfile

import pytest

from cvcore.cli import main
from cvcore.formatting import Table
from cvcore.report import Rebuild, add_item, add_note, table_item
from cvcore.report.store import report_path


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("CVLENS_HOME", str(tmp_path / "home"))


def test_list_show_and_export(tmp_path, capsys):
    rows = [{"model": "a", "top1": 70.5}, {"model": "b", "top1": 71.25}]
    add_item("thesis", table_item(Table(rows=rows, caption="Scores"), rebuild=Rebuild(command="python -m cvcore papers resnet")))
    add_note("thesis", "A remark.", None)
    assert main(["report", "list"]) == 0
    listing = capsys.readouterr().out
    assert "thesis" in listing and " 2 " in listing
    assert main(["report", "show", "thesis"]) == 0
    shown = capsys.readouterr().out
    assert "2 items" in shown and "Table 1" in shown and "python -m cvcore papers resnet" in shown and "A remark." in shown
    html, archive = tmp_path / "r.html", tmp_path / "r.zip"
    assert main(["report", "export", "thesis", "--html", str(html), "--zip", str(archive), "--no-static"]) == 0
    assert 'data-item-count="2"' in html.read_text() and "71.25" in html.read_text()
    with zipfile.ZipFile(archive) as z:
        assert json.loads(z.read("manifest.json"))["item_count"] == 2
        assert z.read("tables/01_table.csv").decode().splitlines()[1:3] == ["a,70.5", "b,71.25"]
    assert "skipped (--no-static)" in capsys.readouterr().out


def test_a_damaged_report_is_one_line_and_kept(capsys):
    add_item("thesis", table_item(Table(rows=[{"a": 1}])))
    report_path("thesis").write_text("{oops")
    assert main(["report", "show", "thesis"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not valid JSON" in err and "kept as thesis.json.damaged-1" in err
    assert (report_path("thesis").parent / "thesis.json.damaged-1").read_text() == "{oops"


def test_an_empty_home_lists_no_reports(capsys):
    assert main(["report", "list"]) == 0
    assert "No reports yet" in capsys.readouterr().out
    assert main(["report", "list", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
