"""`python -m cvcore papers`: listing, one paper's rows as JSON with the documented fields, errors."""

import json

from cvcore.cli import main

FIELDS = {
    "paper",
    "table",
    "quantity",
    "claim",
    "unit",
    "source",
    "measured",
    "delta_pct",
    "tolerance",
    "within_tolerance",
    "status",
    "note",
}


def test_lists_papers_without_an_argument(capsys):
    assert main(["papers"]) == 0
    out = capsys.readouterr().out
    for key in ("resnet", "mobilenet", "enet", "dilated", "lectures"):
        assert key in out


def test_json_rows_have_the_fields(capsys):
    assert main(["papers", "dilated", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 8 and all(FIELDS <= set(r) for r in rows)
    assert rows[-1]["claim"] == rows[-1]["measured"] == "67x67" and rows[-1]["within_tolerance"] is True


def test_multiply_add_rows_carry_their_convention_in_json(capsys):
    assert main(["papers", "resnet", "--table", "Fig. 3 caption", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and all(r["unit"] == "x10^9 multiply-adds" for r in rows)
    assert all(r["convention"].startswith("claim: the paper's 'FLOPs (multiply-adds)'") for r in rows)
    assert all("measured: papers' convention" in r["convention"] for r in rows)


def test_latex_and_table_filter(capsys):
    assert main(["papers", "lectures", "--format", "latex", "--table", "lecture slide"]) == 0
    out = capsys.readouterr().out
    assert r"\begin{tabular}" in out and "AlexNet" in out and "Sources:" in out


def test_unknown_paper_is_a_clear_error(capsys):
    assert main(["papers", "nope"]) == 2
    assert "Unknown paper 'nope'" in capsys.readouterr().err


def test_mobilenet_explorer_point_and_figure(tmp_path, capsys):
    """The Papers page's explorer at alpha 0.5, 160px: its table and figure, the figure offline."""
    from cvcore.papers.mobilenet import explorer_table, measure_mobilenet

    out = tmp_path / "explorer.html"
    assert main(["papers", "mobilenet", "--width", "0.5", "--resolution", "160", "--html", str(out), "--format", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    expected = explorer_table(measure_mobilenet(0.5, 160)).rows[0]
    assert {k: printed[k] for k in expected} == expected and printed["resolution"] == 160
    html = out.read_text()
    assert "alpha 0.5 at 160px" in html and '<script src="http' not in html
