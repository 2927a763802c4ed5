import json

from PIL import Image

from cvcore.cli import main
from cvcore.samples import get_sample


def test_explain_json_and_png(tmp_path, capsys):
    out = tmp_path / "map.png"
    code = main([
        "--device", "cpu", "explain", str(get_sample("chelsea").path), "--model", "efficientnet_lite0",
        "--method", "grad_cam", "--target", "tabby", "--out", str(out), "--format", "json", "--steps", "4", "--random-maps", "1",
        "--curves-html", str(tmp_path / "curves.html"),
    ])  # fmt: skip
    assert code == 0
    record = json.loads(capsys.readouterr().out)
    for key in ("top5", "method", "target", "time_ms", "deletion_auc", "insertion_auc", "random_deletion_auc"):
        assert key in record
    assert len(record["top5"]) == 5 and {"label", "prob"} <= set(record["top5"][0])
    assert record["method"] == "grad_cam" and record["target"] == 281 and record["target_label"] == "tabby"
    assert 0 <= record["deletion_auc"] <= 1 and record["time_ms"] > 0
    with Image.open(out) as png:
        assert png.size[1] == 224 and png.size[0] > 224  # the model's 224x224 view, and its colour bar beside it
    html = (tmp_path / "curves.html").read_text()
    assert "Grad-CAM" in html and "random 7x7" in html and f"deletion {record['deletion_auc']:.3f}" in html
    assert "Insertion (higher area is better)" in html  # the insertion curve beside the deletion curve
    assert record["random_maps"] == 1 and record["deletion_verdict"].startswith("too few random maps")
    assert "Generated with cvlens" in html and "<script src=\"http" not in html  # plotly.js embedded: works offline


def test_explain_table(capsys):
    code = main(
        [
            "--device",
            "cpu",
            "explain",
            str(get_sample("chelsea").path),
            "--method",
            "saliency",
            "--steps",
            "2",
            "--random-maps",
            "1",
        ]
    )
    text = capsys.readouterr().out
    assert code == 0 and "deletion AUC" in text and "random" in text and "cat" in text


def test_explain_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "not.png"
    bad.write_bytes(b"not an image")
    assert main(["explain", str(bad)]) == 2
    assert "not an image cvlens can read" in capsys.readouterr().err
    assert main(["explain", str(get_sample("chelsea").path), "--method", "lime"]) == 2
    assert "Unknown attribution method" in capsys.readouterr().err
    assert main(["explain", str(get_sample("chelsea").path), "--out", str(tmp_path / "x.jpg")]) == 2
    assert ".png" in capsys.readouterr().err
    assert main(["--device", "cpu", "explain", str(get_sample("chelsea").path), "--random-maps", "100000"]) == 2
    assert "between 0 and 99" in capsys.readouterr().err  # refused before any work
