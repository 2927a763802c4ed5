"""`segment` and `evaluate` subcommands, offline: EfficientNet-Lite's coarse map and a random-init checkpoint."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from cvcore.cli import main
from cvcore.registry import build_model, get_spec
from cvcore.samples import get_sample
from cvcore.weights import checkpoint_dir
from tests.cvcore.test_voc import make_voc

LRASPP = "lraspp_mobilenet_v3_large"


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)


def test_segment_json_and_files(tmp_path, capsys):
    overlay, mask = tmp_path / "overlay.png", tmp_path / "mask.png"
    photo = get_sample("chelsea").path
    code = main(
        [
            "segment",
            str(photo),
            "--model",
            "efficientnet_lite0",
            "--out",
            str(overlay),
            "--mask-out",
            str(mask),
            "--format",
            "json",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    data = json.loads(out)
    width, height = Image.open(photo).size
    assert data["model"] == "efficientnet_lite0" and data["size"] == [width, height]
    assert "not a trained segmenter" in data["kind"]
    assert data["classes"][0]["name"] in {"tabby", "tiger cat", "Egyptian cat"}
    assert sum(c["share"] for c in data["classes"]) == pytest.approx(1.0)
    assert data["timings_ms"]["forward_ms"] > 0 and data["timings_ms"]["decode_ms"] > 0
    assert data["timings_ms"]["confidence_ms"] > 0 and 0 < data["mean_confidence"] <= 1  # computed on demand for the JSON
    assert all(0 < c["mean_confidence"] <= 1 for c in data["classes"])
    assert Image.open(overlay).size == (width, height)
    labels = np.asarray(Image.open(mask)).astype(int)
    assert labels.shape == (height, width)
    top = data["classes"][0]
    assert (labels == top["index"]).sum() == top["pixels"]


def test_segment_table_names_the_kind(capsys):
    assert main(["segment", str(get_sample("chelsea").path), "-m", "efficientnet_lite0", "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert "coarse class map from a classifier, not a trained segmenter" in out and "forward" in out
    assert "then the confidence map" in out and "mean confidence" in out


def test_segment_missing_weights_and_bad_image_are_one_line_errors(tmp_path, torch_home, capsys):
    assert main(["segment", str(get_sample("chelsea").path), "-m", "fcn_resnet50"]) == 2
    err = capsys.readouterr().err
    assert "fcn_resnet50_coco-1167a1af.pth" in err and "weights fetch fcn_resnet50" in err and "Traceback" not in err
    bad = tmp_path / "x.png"
    bad.write_bytes(b"not an image")
    assert main(["segment", str(bad), "-m", "efficientnet_lite0"]) == 2
    assert "not an image" in capsys.readouterr().err


def test_evaluate_on_a_voc_folder(tmp_path, torch_home, capsys):
    torch.manual_seed(0)
    path = checkpoint_dir() / get_spec(LRASPP).weights.file_name
    path.parent.mkdir(parents=True)
    torch.save(build_model(LRASPP).state_dict(), path)
    make_voc(tmp_path / "voc", count=2)
    code = main(["evaluate", "--model", LRASPP, "--data", str(tmp_path / "voc"), "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    data = json.loads(out)
    assert data["images"] == 2 and data["pixels"] == 2 * 40 * 30
    assert 0 <= data["pixel_accuracy"] <= 1 and 0 <= data["mean_iou"] <= 1
    assert set(data["per_class_iou"]) <= set(get_spec(LRASPP).categories)
    assert main(["evaluate", "--model", LRASPP, "--data", str(tmp_path / "voc"), "--limit", "1"]) == 0
    out = capsys.readouterr().out
    assert "pixel accuracy:" in out and "mIoU:" in out and "IoU (%)" in out


def test_evaluate_bad_folder(tmp_path, capsys):
    assert main(["evaluate", "--model", "efficientnet_lite0", "--data", str(tmp_path)]) == 2
    assert "holds no images" in capsys.readouterr().err
    make_voc(tmp_path / "voc", count=1)  # a classifier cannot be scored against VOC's masks
    assert main(["evaluate", "--model", "efficientnet_lite0", "--data", str(tmp_path / "voc")]) == 2
    err = capsys.readouterr().err
    assert "classification model (1000 classes)" in err and "needs a segmentation model" in err and "Traceback" not in err


def test_segment_in_bf16_prints_its_measured_agreement_with_fp32(capsys):
    from cvcore.images import decode_image
    from cvcore.segmentation import segment
    from cvcore.weights import load_model

    photo = get_sample("chelsea").path
    code = main(["--device", "cpu", "segment", str(photo), "-m", "efficientnet_lite0", "--precision", "bf16", "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    data = json.loads(out)
    assert data["mode"] == "bf16" and any("bf16 autocast" in n for n in data["notes"])
    # Independently: both label maps, compared pixel by pixel here.
    image, model = decode_image(photo).image, load_model("efficientnet_lite0", device="cpu")
    fast, exact = segment(image, "efficientnet_lite0", model=model, mode="bf16"), segment(image, "efficientnet_lite0", model=model)
    agreement = data["agreement_with_fp32"]
    assert agreement["pixel_share"] == pytest.approx(float((fast.labels == exact.labels).mean()))
    assert agreement["pixels"] == exact.labels.size and "fp32 eager run on the same photo" in agreement["reference"]


def test_a_precision_this_machine_lacks_is_a_one_line_reason(monkeypatch, capsys):
    from cvcore import runtime

    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_fp16_supported", lambda: False)
    runtime._precision_support.cache_clear()
    try:
        assert main(["--device", "cpu", "segment", str(get_sample("chelsea").path), "-m", "efficientnet_lite0", "--precision", "fp16"]) == 2
    finally:
        runtime._precision_support.cache_clear()
    err = capsys.readouterr().err
    assert "fp16 autocast cannot run here" in err and "no native fp16" in err and "Traceback" not in err


def csv_rows(text: str) -> list[dict]:
    import csv
    import io

    return [r for r in csv.DictReader(io.StringIO(text)) if not next(iter(r.values()), "").startswith("#")]


def test_segment_tables_disagreement_and_scores_are_the_pages(tmp_path, capsys, torch_home):
    """--table disagreement counts the pixels two coarse maps label differently; --table scores scores a random-init
    LR-ASPP against a mask (numbers checked with numpy on the labels of an in-process run)."""
    from cvcore.images import decode_image
    from cvcore.segmentation import segment
    from cvcore.weights import load_model

    photo = get_sample("chelsea").path
    assert main(["segment", str(photo), "-m", "efficientnet_lite0", "-m", "efficientnet_lite1", "--table", "disagreement",
                 "--format", "csv"]) == 0  # fmt: skip
    (row,) = csv_rows(capsys.readouterr().out)
    image = decode_image(photo).image
    a, b = (segment(image, name, model=load_model(name)) for name in ("efficientnet_lite0", "efficientnet_lite1"))
    differ = int(np.count_nonzero(a.labels != b.labels))
    assert int(row["pixels labelled differently"].replace(",", "")) == differ
    assert float(row["labelled differently (%)"]) == round(100 * differ / a.labels.size, 2)

    path = checkpoint_dir() / get_spec(LRASPP).weights.file_name
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    torch.save(build_model(LRASPP).state_dict(), path)
    truth = np.zeros((image.height, image.width), dtype=np.uint8)
    truth[:, image.width // 2 :] = 8  # cat on the right half
    truth[:4] = 255  # a border row: ignored
    Image.fromarray(truth, mode="L").save(tmp_path / "mask.png")
    assert main(["segment", str(photo), "-m", LRASPP, "--table", "scores", "--mask", str(tmp_path / "mask.png"),
                 "--format", "csv"]) == 0  # fmt: skip
    (row,) = csv_rows(capsys.readouterr().out)
    labels = segment(image, LRASPP, model=load_model(LRASPP)).labels
    kept = truth != 255
    assert float(row["pixel acc (%)"]) == round(100 * float((labels[kept] == truth[kept]).mean()), 2)
    assert int(row["pixels scored"].replace(",", "")) == int(kept.sum())
