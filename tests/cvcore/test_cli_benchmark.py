"""`python -m cvcore benchmark`: a real tiny sweep from the shell, stored, listed and shown again."""

import json

import pytest

from cvcore.benchmark.store import list_sweeps, read_sweep_file
from cvcore.cli import main


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("CVLENS_HOME", str(tmp_path / "home"))
    return tmp_path


def test_a_sweep_prints_its_rows_and_stores_them(home, capsys):
    out = home / "results.jsonl"
    argv = ["benchmark", "lenet5", "--batch", "1", "2", "--input-size", "32", "32", "--repeats", "2", "--warmup", "1",
            "--threads", "1", "--format", "json", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    captured = capsys.readouterr()
    printed = json.loads(captured.out)
    assert [(r["model"], r["batch_size"], r["status"]) for r in printed["rows"]] == [("lenet5", 1, "ok"), ("lenet5", 2, "ok")]
    assert printed["environments"][0]["threads"] == 1
    (stored,) = list_sweeps()
    assert f"benchmark show {stored.id}" in captured.err
    assert [r.to_dict() for r in stored.rows] == printed["rows"] == [r.to_dict() for r in read_sweep_file(out).rows]

    assert main(["benchmark", "list"]) == 0
    assert stored.id in capsys.readouterr().out
    assert main(["benchmark", "show", stored.id, "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("model,mode,batch,status,median ms") and len([x for x in lines if x.startswith("lenet5,")]) == 2
