"""`python -m cvcore graph` and `python -m cvcore analyze --erf`: files written atomically, numbers printed."""

import json
import xml.etree.ElementTree as ET

from cvcore.cli import main
from cvcore.samples import list_samples


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_graph_writes_an_svg_and_prints_the_drawn_nodes(capsys, tmp_path):
    out = tmp_path / "net.svg"
    code, text, _ = run(capsys, "graph", "resnet18", "--depth", "1", "--out", str(out), "--format", "csv")
    assert code == 0 and "layer3: BasicBlock x 2" in text and f"wrote {out}" in text
    svg = ET.parse(out).getroot()
    assert svg.tag.endswith("svg") and len([g for g in svg.iter() if g.get("data-node")]) == 13
    assert [p.name for p in tmp_path.iterdir()] == ["net.svg"]  # no temporary file left behind


def test_graph_compare_lists_exactly_the_shortcuts(capsys, tmp_path):
    code, text, _ = run(
        capsys, "graph", "plain18", "--compare", "resnet18", "--out", str(tmp_path / "both.dot"), "--format", "json"
    )
    payload = json.loads(text[: text.rindex("}") + 1])
    assert code == 0 and [g["model"] for g in payload["graphs"]] == ["plain-18", "ResNet-18"]
    adds = sum(d["resnet18"] - d["plain18"] for d in payload["differences"] if d["what"].startswith("add"))
    assert adds == 8
    dot = (tmp_path / "both.dot").read_text()
    assert dot.count("subgraph cluster_") == 2


def test_graph_refuses_an_unknown_suffix_before_tracing(capsys, tmp_path):
    code, _, err = run(capsys, "graph", "resnet18", "--out", str(tmp_path / "net.pdf"))
    assert code == 2 and err.startswith("error:") and ".svg" in err and not list(tmp_path.iterdir())


def test_analyze_erf_json_and_png(capsys, tmp_path):
    photo = next(s.path for s in list_samples() if s.file == "chelsea.png")
    png = tmp_path / "erf.png"
    code, text, err = run(
        capsys, "analyze", "resnet18", "--erf", "layer1", "--images", str(photo), "--input-size", "64", "64",
        "--out", str(png), "--format", "json",
    )  # fmt: skip
    data = json.loads(text)
    assert code == 0 and data["model"] == "resnet18" and len(data["results"]) == 1  # no trained weights here
    result = data["results"][0]
    assert result["images"] == 1 and result["theoretical_rf_px"] == "43" and result["mass90_side_px"] <= 43
    assert "No trained weights" in data["notes"][0]
    assert png.read_bytes().startswith(b"\x89PNG") and "wrote" in err


def test_analyze_erf_refuses_a_layer_without_a_feature_map(capsys):
    code, _, err = run(capsys, "analyze", "resnet18", "--erf", "fc", "--input-size", "64", "64", "--weights", "random")
    assert code == 2 and "feature map" in err
