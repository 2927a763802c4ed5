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
