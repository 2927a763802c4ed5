import json

from cvcore.formatting import Table, provenance, render, to_csv, to_latex


def table() -> Table:
    return Table([{"model": "resnet_50", "gmacs": 4.11, "params": 25557032}], labels={"gmacs": "GMACs"}, caption="Test.", sources=["paper T1"])


def test_latex_is_booktabs_and_escaped():
    tex = to_latex(table())
    assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex
    assert r"resnet\_50" in tex and "25,557,032" in tex
    assert r"\caption{Test. Sources: paper T1." in tex


def test_csv_keeps_raw_numbers_and_a_provenance_line():
    lines = to_csv(table()).splitlines()
    assert lines[0] == "model,GMACs,params" and lines[1] == "resnet_50,4.11,25557032"
    assert lines[-1].startswith("# Test. Sources: paper T1.") and "torchvision" in lines[-1]


def test_json_gives_rows_and_provenance_names_versions():
    assert json.loads(render(table(), "json")) == table().rows
    assert "torch " in provenance() and "cvlens" in provenance()


def test_format_shape_in_the_papers_notation():
    from cvcore.formatting import format_shape

    assert format_shape((1, 64, 128, 128)) == "1x64x128x128"
    assert format_shape((1, 64, 128, 128), drop_batch=True) == "64x128x128"
    assert format_shape(None) is None and format_shape(()) is None
