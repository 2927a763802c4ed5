import json

import pytest
from PIL import Image

from cvcore.cli import main
from cvcore.cli.explain import _record_lines
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
    assert "Generated with cvlens" in html and '<script src="http' not in html  # plotly.js embedded: works offline


def test_explain_reports_captums_convergence_delta_for_path_methods(capsys):
    argv = ["--device", "cpu", "explain", str(get_sample("coffee").path), "--method", "gradient_shap", "--steps", "2",
            "--random-maps", "1"]  # fmt: skip
    assert main([*argv, "--format", "json"]) == 0
    record = json.loads(capsys.readouterr().out)
    c = record["completeness"]
    assert c["samples"] == 16 and c["tolerance"] == 0.05
    assert c["attribution_sum"] - c["output_difference"] == pytest.approx(c["convergence_delta"], abs=1e-5)
    assert c["within_tolerance"] == (c["relative"] <= 0.05)
    text = "\n".join(_record_lines(record))  # the lines --format table prints under its tables for the same record
    assert "Captum's convergence delta" in text and ("Completeness not met" in text) is not c["within_tolerance"]


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


def test_grad_cam_on_the_classifier_says_which_layers_give_a_map(capsys):
    assert main(["explain", str(get_sample("chelsea").path), "--layer", "classifier", "--steps", "2", "--random-maps", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "Layer 'classifier' gives a 1x1000 output, not a spatial map" in err and "head" in err


def test_explain_in_bf16_checks_the_top1_against_fp32(capsys):
    from cvcore.classify import classify
    from cvcore.registry import get_spec
    from cvcore.weights import load_model

    photo = get_sample("chelsea").path
    code = main([
        "--device", "cpu", "explain", str(photo), "--method", "grad_cam", "--precision", "bf16", "--format", "json",
        "--steps", "2", "--random-maps", "1",
    ])  # fmt: skip
    assert code == 0
    record = json.loads(capsys.readouterr().out)
    exact = classify(load_model("efficientnet_lite0", device="cpu"), Image.open(photo), get_spec("efficientnet_lite0"))
    assert record["mode"] == "bf16"
    assert record["agreement_with_fp32"]["top1_equal"] == (record["top5"][0]["index"] == exact.top1.index)
    assert exact.top1.label in record["agreement_with_fp32"]["reference"]


def test_faithfulness_table_of_several_methods_is_the_pages(tmp_path, capsys):
    """The CLI scores all maps in one batched stream, as the Saliency page does; the reference here scores each method
    in its own explain_photo call (other batches): the printed scores agree, and the figure holds every method."""
    import csv
    import io

    from cvcore.attribution import explain_photo
    from cvcore.attribution.tables import faithfulness_table
    from cvcore.formatting import render
    from cvcore.images import decode_image
    from cvcore.registry import get_spec
    from cvcore.weights import load_model

    photo = get_sample("coffee").path
    argv = ["explain", str(photo), "--method", "saliency", "--method", "grad_cam", "--steps", "3", "--random-maps", "2",
            "--target", "967", "--faithfulness", "--format", "csv", "--curves-html", str(tmp_path / "c.html")]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    spec, image, baselines = get_spec("efficientnet_lite0"), decode_image(photo).image, {}
    model = load_model(spec.name)
    results = [
        explain_photo(model, spec, image, [m], target=967, curve_steps=3, random_maps=2, baselines=baselines).results[0]
        for m in ("saliency", "grad_cam")
    ]
    page = render(faithfulness_table(results, spec.display_name), "csv")
    rows = [r for r in csv.reader(io.StringIO(printed)) if r and not r[0].startswith("#")]
    assert rows == [r for r in csv.reader(io.StringIO(page)) if r and not r[0].startswith("#")] and len(rows) == 3
    figure = (tmp_path / "c.html").read_text()
    assert all(r.attribution.display_name in figure for r in results) and "random" in figure
