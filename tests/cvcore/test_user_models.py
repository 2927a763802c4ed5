"""Importing the user's own models: every accepted layout, hostile files, a store that survives kills and restarts."""

from __future__ import annotations

import errno
import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
import torchvision

from cvcore import user_models
from cvcore.classify import classify
from cvcore.images import decode_image
from cvcore.registry import WeightsKind, get_spec, list_models, list_weights
from cvcore.samples import get_sample
from cvcore.segmentation import segment, voc_palette
from cvcore.storage import StorageError
from cvcore.user_models import ImportModelError, ImportOptions, UserModelsError, import_model, manifest_records
from cvcore.weights import WeightState, load_model, weight_status

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("CVLENS_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture(scope="module")
def lite():
    """The bundled EfficientNet-Lite0 with its real weights, and its logits on a real photo."""
    model = load_model("efficientnet_lite0", device="cpu")
    photo = decode_image(get_sample("chelsea").path).image
    return model, photo


def _logits(model, photo, spec):
    from cvcore.preprocess import to_batch

    with torch.inference_mode():
        return model(to_batch(photo, spec))


def _stored_files(home: Path) -> list[Path]:
    files = home / "models" / "files"
    return sorted(p for p in files.rglob("*") if p.is_file()) if files.exists() else []


# --- every accepted layout gives the bundled model's logits -------------------------------------


def _save(state: dict, layout: str, folder: Path) -> Path:
    if layout == "safetensors":
        from safetensors.torch import save_file

        path = folder / "weights.safetensors"
        save_file({k: v.contiguous() for k, v in state.items()}, path)
        return path
    wrappers = {
        "bare": lambda s: s, "state_dict": lambda s: {"state_dict": s, "epoch": 90}, "model": lambda s: {"model": s},
        "model_state_dict": lambda s: {"model_state_dict": s, "optimizer_state_dict": {"lr": 0.1}}, "net": lambda s: {"net": s},
        "dataparallel": lambda s: {f"module.{k}": v for k, v in s.items()},
        "compiled": lambda s: {f"_orig_mod.{k}": v for k, v in s.items()},
        "compiled_dataparallel_checkpoint": lambda s: {"state_dict": {f"module._orig_mod.{k}": v for k, v in s.items()}},
    }  # fmt: skip
    path = folder / f"{layout}.pth"
    torch.save(wrappers[layout](state), path)
    return path


DEFAULT_LAYOUTS = ["compiled_dataparallel_checkpoint", "safetensors"]
SLOW_LAYOUTS = ["bare", "state_dict", "model", "model_state_dict", "net", "dataparallel", "compiled"]


@pytest.mark.parametrize(
    "layout", DEFAULT_LAYOUTS + [pytest.param(layout, marks=pytest.mark.slow) for layout in SLOW_LAYOUTS]
)
def test_every_state_dict_layout_imports_to_identical_logits(layout, lite, home, tmp_path):
    model, photo = lite
    path = _save(model.state_dict(), layout, tmp_path)
    spec = import_model(path, "my_lite", ImportOptions(arch="efficientnet_lite0"))
    assert spec.weights.kind is WeightsKind.USER and spec.arch == "efficientnet_lite0"
    assert spec.categories == get_spec("efficientnet_lite0").categories  # same head size: the architecture's classes
    imported = load_model(spec, device="cpu")
    assert torch.equal(_logits(imported, photo, spec), _logits(model, photo, get_spec("efficientnet_lite0")))
    assert weight_status(spec).state is WeightState.IMPORTED


def test_onnx_import_runs_like_the_original(lite, home, tmp_path):
    model, photo = lite
    path = tmp_path / "lite0.onnx"
    torch.onnx.export(model, (torch.zeros(1, 3, 224, 224),), str(path), dynamo=False, opset_version=17)
    spec = import_model(path, "lite_onnx", ImportOptions(arch="efficientnet_lite0"))
    assert spec.family == "EfficientNet-Lite" and "ONNX" in spec.architecture.display_name
    converted = load_model(spec, device="cpu")
    ours, theirs = _logits(converted, photo, spec), _logits(model, photo, get_spec("efficientnet_lite0"))
    assert torch.allclose(ours, theirs, atol=1e-4)  # another graph of the same operators: equal up to reassociation
    assert torch.equal(ours.topk(5).indices, theirs.topk(5).indices)
    measured = manifest_records()["lite_onnx"]["measured"]
    assert measured["params"] == sum(p.numel() for p in converted.parameters())
    bn = sum(p.numel() for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d) for p in m.parameters())
    # The exporter folds each batch norm into the conv before it: gamma and beta (2C) go, the conv gains a bias (C).
    assert measured["params"] == sum(p.numel() for p in model.parameters()) - bn // 2


# --- heads of another size, the user's classes ------------------------------------------------


def test_a_fine_tuned_head_is_read_from_the_checkpoint_and_named_by_the_class_file(home, tmp_path):
    torch.manual_seed(0)
    net = torchvision.models.resnet18(num_classes=10).eval()
    torch.save(net.state_dict(), tmp_path / "r18.pth")
    names = [f"flower {i}" for i in range(10)]
    (tmp_path / "classes.txt").write_text("# my classes\n" + "\n".join(names) + "\n\n")
    spec = import_model(tmp_path / "r18.pth", "my_r18", ImportOptions(arch="resnet18", categories=tmp_path / "classes.txt"))
    assert spec.categories == tuple(names) and spec.weights.build_options["num_classes"] == 10
    photo = decode_image(get_sample("chelsea").path).image
    result = classify(load_model(spec, device="cpu"), photo, spec, k=3)
    assert all(p.label in names for p in result.predictions)
    assert spec.name in {s.name for s in list_weights("resnet18")} and spec.name in {s.name for s in list_models()}
    (tmp_path / "nine.txt").write_text("\n".join(names[:9]))
    with pytest.raises(ImportModelError, match="9 names but the model's head has 10 outputs"):
        import_model(tmp_path / "r18.pth", "other", ImportOptions(arch="resnet18", categories=tmp_path / "nine.txt"))


def test_an_enet_with_its_own_classes_segments_with_its_own_palette(home, tmp_path):
    from cvcore.models.enet import enet

    torch.manual_seed(0)
    torch.save(enet(num_classes=12).state_dict(), tmp_path / "enet.pth")
    names = ["sky", "building", "pole", "road", "pavement", "tree", "sign", "fence", "car", "pedestrian", "bicyclist", "void"]
    spec = import_model(tmp_path / "enet.pth", "my_enet", ImportOptions(arch="enet", categories=names, input_size=(256, 256)))
    photo = decode_image(get_sample("chelsea").path).image.resize((320, 256))  # ENet: sides divisible by 8
    result = segment(photo, spec, model=load_model(spec, device="cpu"))
    assert result.categories == tuple(names) and {c.name for c in result.classes} <= set(names)
    assert sum(c.pixels for c in result.classes) == 320 * 256
    colours = {tuple(c) for c in result.palette}
    assert len(colours) == 12 and (0, 0, 0) not in colours  # no class looks like VOC's background
    assert not (result.palette == voc_palette(12)).all()


# --- refused, and nothing stored --------------------------------------------------------------


def _malicious_pickle(path: Path, marker: Path) -> None:
    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    with open(path, "wb") as f:
        pickle.dump({"weight": Payload()}, f)


def _lenet_state():
    from cvcore.models.lenet import lenet5

    return lenet5().state_dict()


@pytest.mark.parametrize(
    ("case", "match"),
    [
        ("wrong_architecture", "do not fit.*Architectures whose names and shapes do match: lenet5"),
        ("truncated", "damaged or cut short"),
        ("not_a_checkpoint", "cannot be read as a PyTorch checkpoint"),
        ("malicious", "not a plain set of weights.*tries to run a program"),
        ("whole_module", "not a plain set of weights.*torch.save\\(model.state_dict\\(\\)"),
        ("torchscript", "TorchScript program"),
        ("pt2", "torch.export archive"),
        ("empty", "empty"),
        ("catalogue_name", "catalogue model's name"),
        ("bad_name", "cannot name a model"),
        ("no_arch", "Say which catalogue architecture"),
        ("unknown_arch", "Unknown model 'lenet6'"),
    ],
)
def test_bad_imports_are_refused_clearly_and_store_nothing(case, match, home, tmp_path):
    from cvcore.models.lenet import lenet5

    path, name, options = tmp_path / "w.pth", "mine", ImportOptions(arch="lenet5")
    marker = tmp_path / "payload-ran"
    if case == "wrong_architecture":
        torch.save(_lenet_state(), path)
        options = ImportOptions(arch="mobilenet_v1_025")
    elif case == "truncated":
        torch.save(torchvision.models.resnet18().state_dict(), tmp_path / "full.pth")
        path.write_bytes((tmp_path / "full.pth").read_bytes()[: 6 * 2**20])
        options = ImportOptions(arch="resnet18")
    elif case == "not_a_checkpoint":
        path.write_bytes(get_sample("chelsea").path.read_bytes())
    elif case == "malicious":
        _malicious_pickle(path, marker)
    elif case == "whole_module":
        torch.save(lenet5(), path)
    elif case == "torchscript":
        torch.jit.save(torch.jit.script(lenet5()), str(path))
    elif case == "pt2":
        path = tmp_path / "model.pt2"
        path.write_bytes(b"PK\x03\x04 not opened anyway")
    elif case == "empty":
        path.write_bytes(b"")
    else:
        torch.save(_lenet_state(), path)
        name, options = {
            "catalogue_name": ("resnet50", options), "bad_name": ("my model!", options),
            "no_arch": (name, ImportOptions()), "unknown_arch": (name, ImportOptions(arch="lenet6")),
        }[case]  # fmt: skip
    with pytest.raises(ImportModelError, match=match):
        import_model(path, name, options)
    assert not marker.exists(), "the pickle's payload ran"
    assert _stored_files(home) == [] and not (home / "models" / "manifest.json").exists()


def test_a_taken_name_a_full_disk_and_a_replace(home, tmp_path, monkeypatch):
    torch.save(_lenet_state(), tmp_path / "w.pth")
    import_model(tmp_path / "w.pth", "digits", ImportOptions(arch="lenet5"))
    before = (home / "models" / "manifest.json").read_bytes()
    with pytest.raises(ImportModelError, match="already have a model named 'digits'"):
        import_model(tmp_path / "w.pth", "digits", ImportOptions(arch="lenet5"))

    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left on device")))
    with pytest.raises(StorageError, match="disk is full"):
        import_model(tmp_path / "w.pth", "digits2", ImportOptions(arch="lenet5"))
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert (home / "models" / "manifest.json").read_bytes() == before
    assert len(_stored_files(home)) == 1

    spec = import_model(tmp_path / "w.pth", "digits", ImportOptions(arch="lenet5", dataset="MNIST"), replace=True)
    assert spec.weights.dataset == "MNIST" and len(_stored_files(home)) == 1


def test_remove_export_and_import_on_another_machine(home, tmp_path, monkeypatch):
    torch.save(_lenet_state(), tmp_path / "w.pth")
    spec = import_model(tmp_path / "w.pth", "digits", ImportOptions(arch="lenet5", categories=[str(d) for d in range(10)], dataset="MNIST"))
    folder = user_models.export_model("digits", tmp_path / "usb")
    user_models.remove_model("digits")
    assert "digits" not in manifest_records() and _stored_files(home) == []
    monkeypatch.setenv("CVLENS_HOME", str(tmp_path / "other-machine"))
    again = user_models.import_exported(folder)
    assert again.weights.sha256 == spec.weights.sha256 and again.weights.dataset == "MNIST" and again.categories == spec.categories
    (folder / "w.pth").write_bytes(b"tampered")
    with pytest.raises(ImportModelError, match="differs from the exported one"):
        user_models.import_exported(folder, "copy")


def test_a_damaged_manifest_is_reported_and_kept(home, tmp_path):
    torch.save(_lenet_state(), tmp_path / "w.pth")
    import_model(tmp_path / "w.pth", "digits", ImportOptions(arch="lenet5"))
    manifest = home / "models" / "manifest.json"
    manifest.write_text('{"format": 1, "models": {')  # edited by hand, badly
    assert "digits" not in {s.name for s in list_models()}  # the catalogue still lists, without the user's models
    with pytest.raises(UserModelsError, match="damaged"):
        import_model(tmp_path / "w.pth", "other", ImportOptions(arch="lenet5"))
    assert manifest.read_text() == '{"format": 1, "models": {'


_IMPORT_FOREVER = """
import sys, torch
sys.path.insert(0, {root!r})
from cvcore.models.lenet import lenet5
from cvcore.user_models import ImportOptions, import_model
torch.save(lenet5().state_dict(), {weights!r})
i = 0
while True:
    i += 1
    import_model({weights!r}, f"digits{{i}}", ImportOptions(arch="lenet5"))
    print(i, flush=True)
"""


@pytest.mark.parametrize("extra_s", [0.2, pytest.param(0.0, marks=pytest.mark.slow), pytest.param(0.8, marks=pytest.mark.slow)])
def test_a_kill_during_imports_leaves_the_old_or_the_new_state(extra_s, home, tmp_path):
    script = _IMPORT_FOREVER.format(root=str(ROOT), weights=str(tmp_path / "w.pth"))
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)], stdout=subprocess.PIPE, env=os.environ.copy(), text=True)
    first = proc.stdout.readline()  # one import done: the store exists, later ones are in flight
    assert first.strip() == "1"
    time.sleep(extra_s)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    records = manifest_records()  # readable: never half-written
    assert records and all(name.startswith("digits") for name in records)
    for name in records:
        spec = get_spec(name)
        assert user_models._sha256(user_models.stored_file(spec)) == spec.weights.sha256
    torch.save(_lenet_state(), tmp_path / "again.pth")
    import_model(tmp_path / "again.pth", "after", ImportOptions(arch="lenet5"))  # cleans what the kill left
    assert len({p.parent for p in _stored_files(home)}) == len(records) + 1


_LIST_COLD = """
import sys
from cvcore.catalogue import catalogue_rows
rows = catalogue_rows(mine=True)
print([(r.name, r.yours, r.arch, r.weights, r.weights_available, r.params) for r in rows])
print(sorted(m for m in ("torch", "torchvision") if m in sys.modules))
"""


def test_imported_models_survive_a_restart_and_list_without_torch(home, tmp_path):
    torch.save(_lenet_state(), tmp_path / "w.pth")
    import_model(tmp_path / "w.pth", "digits", ImportOptions(arch="lenet5"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", _LIST_COLD], env=env, capture_output=True, text=True, check=True).stdout
    rows, heavy = out.strip().splitlines()
    params = sum(v.numel() for k, v in _lenet_state().items() if "codes" not in k and "running" not in k and "num_batches" not in k)
    assert rows == f"[('digits', True, 'lenet5', 'user', True, {params})]"
    assert heavy == "[]"


def test_cli_import_list_export_remove(home, tmp_path, capsys):
    from cvcore.cli import main

    torch.save(_lenet_state(), tmp_path / "w.pth")

    def cli(*args):
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    code, out, _ = cli("import-model", str(tmp_path / "w.pth"), "--arch", "lenet5", "--name", "digits", "--dataset", "MNIST")
    assert code == 0 and "Imported digits" in out and "GMACs" in out
    listed = json.loads(cli("models", "--mine", "--format", "json")[1])
    assert [r["name"] for r in listed] == ["digits"] and listed[0]["yours"] and listed[0]["dataset"] == "MNIST"
    code, _, err = cli("import-model", str(tmp_path / "w.pth"), "--arch", "lenet5", "--name", "digits")
    assert code == 2 and err.count("\n") == 1 and "already have a model named 'digits'" in err
    assert cli("models", "export", "digits", "--out", str(tmp_path / "out"))[0] == 0
    assert cli("models", "remove", "digits")[0] == 0
    assert json.loads(cli("models", "--mine", "--format", "json")[1]) == []
    code, out, _ = cli("import-model", str(tmp_path / "out" / "digits"))
    assert code == 0 and "Imported digits" in out
