"""Your models page: import through the page, then use the model on Segmentation and Saliency with its own classes."""

from __future__ import annotations

import ast
import io
import re
import tomllib
from pathlib import Path

import pytest
import torch
import torchvision

from cvcore.user_models import MAX_MODEL_UPLOAD_MB
from dashboard import state

ROOT = Path(__file__).resolve().parents[2]
ENET_CLASSES = ["sky", "building", "pole", "road", "pavement", "tree", "sign", "fence", "car", "pedestrian", "bicyclist", "void"]


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("CVLENS_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _seen(elements) -> list[str]:
    """What the user reads: markdown escapes removed (user-supplied text is shown escaped)."""
    return [re.sub(r"\\(.)", r"\1", e.value) for e in elements]


def _bytes(state_dict) -> bytes:
    buffer = io.BytesIO()
    torch.save(state_dict, buffer)
    return buffer.getvalue()


def _import(at, file_name: str, data: bytes, arch: str, name: str, classes: str = "architecture", class_text: str | None = None):
    at.file_uploader(key=state.MINE_FILE).set_value((file_name, data, "application/octet-stream"))
    at.selectbox(key=state.MINE_ARCH).set_value(arch)
    at.text_input(key=state.MINE_NAME).set_value(name)
    at.radio(key=state.MINE_CLASSES).set_value(classes)
    if class_text is not None:
        at.file_uploader(key=state.MINE_CLASS_FILE).set_value(("classes.txt", class_text.encode(), "text/plain"))
    return at.button[0].click().run()  # the form's Import button


def test_import_a_fine_tuned_classifier_and_explain_it(page_app, home):
    torch.manual_seed(0)
    flowers = [f"flower{i}" for i in range(10)]
    at = page_app("app_pages/your_models.py")
    data = _bytes({"model": {f"module.{k}": v for k, v in torchvision.models.resnet18(num_classes=10).state_dict().items()}})
    at = _import(at, "r18_flowers.pth", data, "resnet18", "my_r18", "file", "\n".join(flowers))
    assert not at.exception and any("Imported my_r18" in text for text in _seen(at.success))
    assert "my_r18" in [r for r in at.dataframe[0].value["name"]]

    at.switch_page("app_pages/saliency.py")
    at.session_state[state.SAL_MODELS] = ["my_r18"]
    at.session_state[state.SAL_METHODS] = ["grad_cam"]
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    top5 = [set(frame.value["class"]) for frame in at.dataframe if "class" in frame.value.columns]
    assert top5 and top5[0] <= set(flowers)  # the model's own classes, not ImageNet's


def test_import_an_enet_and_segment_a_photo_with_its_own_legend(page_app, home):
    from cvcore.models.enet import enet
    from cvcore.registry import get_spec

    torch.manual_seed(0)
    at = page_app("app_pages/your_models.py")
    assert not at.exception and "You have not imported a model yet." in [i.value for i in at.info]
    at = _import(at, "enet_camvid.pth", _bytes(enet(num_classes=12).state_dict()), "enet", "my_enet", "file", "\n".join(ENET_CLASSES))
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("Imported my_enet (12 classes)" in text for text in _seen(at.success))
    assert get_spec("my_enet").categories == tuple(ENET_CLASSES)

    at.switch_page("app_pages/segmentation.py")
    at.session_state[state.SEG_MODELS] = ["my_enet"]
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    legend = "".join(m.value for m in at.markdown)
    assert any(c in legend for c in ENET_CLASSES)
    assert "★ yours" in at.multiselect(key=state.SEG_MODELS).format_func("my_enet")


def test_a_bad_file_is_a_clear_message_and_nothing_is_stored(page_app, home):
    at = page_app("app_pages/your_models.py")
    at = _import(at, "notes.pth", b"this is not a checkpoint", "resnet18", "mine")
    assert not at.exception and any("cannot be read as a PyTorch checkpoint" in text for text in _seen(at.error))
    assert not (home / "models" / "manifest.json").exists()
    assert any(t.startswith("notes.pth cannot") for t in _seen(at.error))  # the upload's name, not its temporary file


def test_upload_limits_the_server_and_each_photo_uploader_set():
    config = tomllib.loads((ROOT / "dashboard" / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == MAX_MODEL_UPLOAD_MB
    for page in (ROOT / "dashboard" / "app_pages").glob("*.py"):
        for call in ast.walk(ast.parse(page.read_text())):
            if isinstance(call, ast.Call) and getattr(call.func, "attr", "") == "file_uploader":
                assert "max_upload_size" in {k.arg for k in call.keywords}, f"{page.name}:{call.lineno} relies on the server's cap"
