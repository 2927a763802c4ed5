import json
from pathlib import Path

import pytest

from cvcore.cli import main
from cvcore.registry import list_models


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_models_json_lists_the_catalogue(capsys):
    code, out, _ = run(capsys, "models", "--format", "json")
    rows = json.loads(out)
    assert code == 0 and len(rows) == len(list_models())
    assert {"name", "task", "family", "year", "params", "gmacs", "metrics", "source"} <= set(rows[0])
    resnet50 = next(r for r in rows if r["name"] == "resnet50")
    assert resnet50["metrics"]["acc@1"] > 75 and "torchvision" in resnet50["source"]
    # Every multiply-add figure says what it counts.
    assert {"gmacs", "gmacs_all_ops", "published_gmacs"} <= set(resnet50) and set(resnet50["conventions"]) == {
        "gmacs", "gmacs_all_ops", "published_gmacs"
    }  # fmt: skip
    assert resnet50["conventions"]["gmacs"].startswith("papers' convention")
    assert "'_ops'" in resnet50["conventions"]["published_gmacs"] and resnet50["published_gmacs_source"]


def test_models_table_headers_name_the_conventions_and_the_segmentation_data(capsys):
    code, out, _ = run(capsys, "models", "--format", "csv")
    header = out.splitlines()[0]
    assert code == 0 and "GMACs (papers' convention)" in header and "GMACs (all ops, fvcore)" in header
    assert "mIoU (%, COCO val2017, VOC labels)" in header


def test_models_csv_is_the_pages_table_with_the_pages_filters(capsys):
    """`models --format csv` with the Models page's filters: the rows a hand-written filter of the registry keeps."""
    import csv
    import io

    code, out, _ = run(capsys, "models", "--family", "ResNet", "--family", "VGG", "--years", "2015", "2016", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out.split("\n#")[0])))
    expected = {
        s.name for s in list_models() if s.family in ("ResNet", "VGG") and 2015 <= s.paper.year <= 2016
    }
    assert code == 0 and expected and {r["Name (CLI)"] for r in rows} == expected
    code, out, _ = run(capsys, "models", "--search", "mobilenet", "--format", "csv")
    names = {r["Name (CLI)"] for r in csv.DictReader(io.StringIO(out.split("\n#")[0]))}
    assert code == 0 and "mobilenet_v2" in names and "resnet50" not in names


def test_models_filters_by_task(capsys):
    code, out, _ = run(capsys, "models", "--task", "segmentation", "--format", "csv")
    assert code == 0 and "lraspp_mobilenet_v3_large" in out and "\nresnet50," not in out


def test_analyze_json_with_layers(capsys):
    code, out, _ = run(capsys, "analyze", "resnet18", "--input-size", "160", "160", "--per-layer", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["name"] == "resnet18" and data["input_size"] == [160, 160]
    assert {"params", "gmacs", "gmacs_all_ops", "torch_flops", "uncounted_ops", "layers", "conventions"} <= set(data)
    assert data["torch_gflops"] > 0 and len(data["layers"]) > 40
    assert sum(r["gmacs"] for r in data["layers"]) == pytest.approx(data["gmacs"], rel=1e-9)
    assert sum(r["gmacs_all_ops"] for r in data["layers"]) == pytest.approx(data["gmacs_all_ops"], rel=1e-9)
    assert set(data["conventions"]) == {"gmacs", "gmacs_all_ops", "torch_gmacs"}
    assert data["gmacs"] == pytest.approx(data["torch_gmacs"], rel=1e-6) and data["gmacs"] < data["gmacs_all_ops"]


def test_analyze_latex(capsys):
    code, out, _ = run(capsys, "analyze", "squeezenet1_1", "--format", "latex")
    assert code == 0 and out.count(r"\caption") == 2  # totals and reconciliation (\caption[short]{full} or \caption{full})


def test_unknown_model_is_a_message_not_a_traceback(capsys):
    code, _, err = run(capsys, "analyze", "resnet5")
    assert code == 2 and err.startswith("error: Unknown model 'resnet5'") and "resnet50" in err


def test_compare_prints_deltas_and_writes_a_captioned_offline_chart(capsys, tmp_path):
    html = tmp_path / "chart.html"
    code, out, _ = run(capsys, "compare", "resnet18", "resnet50", "mobilenet_v2", "--format", "csv", "--html", str(html))
    rows = [line for line in out.splitlines() if line and not line.startswith("#")]
    assert code == 0 and len(rows) == 4 and rows[1].startswith("ResNet-18 (baseline),")
    assert rows[2].endswith(",yes") and rows[3].endswith(",yes")  # ResNet-18 is dominated by MobileNet-v2
    page = html.read_text().replace("\\u003cbr\\u003e", " ")  # the caption is wrapped into lines (<br>) in the figure
    assert "Generated with cvlens" in page and '<script src="http' not in page  # plotly.js embedded: works offline


def test_compare_json_says_where_each_multiply_add_figure_comes_from(capsys):
    code, out, _ = run(capsys, "compare", "resnet18", "mobilenet_v2", "--format", "json")
    rows = json.loads(out)
    assert code == 0 and len(rows) == 2
    for r in rows:
        assert "papers' convention" in r["gmacs_source"] or "'_ops'" in r["gmacs_source"]
    code, out, _ = run(capsys, "compare", "resnet18", "mobilenet_v2", "--x", "gmacs_all_ops", "--format", "csv")
    assert code == 0 and "GMACs (all ops, fvcore)" in out.splitlines()[0] and "_source" not in out


def test_compare_weights_like_for_like_by_default_or_as_chosen(capsys):
    import csv
    import io

    def top1(*argv):
        code, out, _ = run(capsys, "compare", "resnet18", "resnet50", "--format", "csv", *argv)
        assert code == 0
        rows = {r["Model"].removesuffix(" (baseline)"): r for r in csv.DictReader(line for line in io.StringIO(out) if not line.startswith("#"))}
        return rows["ResNet-50"]["Weights"], float(rows["ResNet-50"]["Top-1 (%)"])

    assert top1() == ("IMAGENET1K_V1", 76.13)  # beside ResNet-18's only weights, V1
    assert top1("--weights", "resnet50=IMAGENET1K_V2") == ("IMAGENET1K_V2", 80.858)
    assert top1("--default-weights") == ("IMAGENET1K_V2", 80.858)
    code, out, _ = run(capsys, "compare", "resnet18", "resnet50.IMAGENET1K_V2", "--format", "csv")
    assert code == 0 and "IMAGENET1K_V2" in out
    code, _, err = run(capsys, "compare", "resnet50", "--weights", "resnet50")
    assert code == 2 and "MODEL=WEIGHTS" in err
    code, _, err = run(capsys, "compare", "resnet50", "--weights", "resnet50=V9")
    assert code == 2 and "IMAGENET1K_V1" in err


def test_compare_rejects_a_score_of_another_task(capsys):
    code, _, err = run(capsys, "compare", "resnet18", "--y", "miou")
    assert code == 2 and "not a classification score" in err


def test_analyze_stages_and_diff_match_the_architecture_pages_tables(capsys):
    from cvcore.analysis.stages import architecture, diff_stages

    assert main(["analyze", "resnet18", "--stages", "--diff", "resnet34", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    stages = architecture("resnet18").stages()
    diffs = diff_stages(stages, architecture("resnet34").stages())
    summary, diff = out.split("\n\n")[:2]
    assert [line.split(",")[0] for line in summary.splitlines()[1 : 1 + len(stages)]] == [s.name for s in stages]
    assert len(diff.splitlines()) >= len(diffs) + 1  # header, one row per stage pair
    assert len([line for line in diff.splitlines() if line.startswith("layer")]) == 4  # layer1..4 paired by name
    assert "x 2" in summary  # ResNet-18's layer1: two identical basic blocks collapsed
    assert main(["analyze", "resnet18", "--stages", "--format", "json"]) == 2  # tables only: a message, not a traceback


def test_registering_commands_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys; from cvcore.cli import build_parser; build_parser(); print('torch' in sys.modules)"
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"  # `python -m cvcore models` answers in a fraction of a second
