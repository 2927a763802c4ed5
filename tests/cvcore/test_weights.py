"""Weights: status, loading through the real path, import checks, offline fetch — all offline.

Checkpoints are written with the exact file names torchvision expects (random init) into
a temporary TORCH_HOME, so the code under test reads them exactly as it would read real ones.
"""

import hashlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from cvcore.cli import main
from cvcore.errors import (
    InvalidInputError,
    WeightsDamagedError,
    WeightsDownloadError,
    WeightsIntegrityError,
    WeightsMissingError,
)
from cvcore.registry import build_model, get_spec
from cvcore.weights import (
    WeightState,
    can_reach,
    checkpoint_dir,
    fetch,
    import_weights,
    load_model,
    require_weights,
    resolve_names,
    verify_weights,
    weight_sets,
    weight_status,
)

LRASPP = "lraspp_mobilenet_v3_large"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)  # in case anything called torch.hub.set_dir
    return tmp_path / "torch"


def saved_state(path: Path, state) -> Path:
    torch.save(state, path)
    return path


def named_by_its_hash(path: Path, name: str) -> Path:
    """Rename ``path`` as torch.hub names files: ``<name>-<first 8 hex digits of its sha256>.pth``."""
    named = path.with_name(f"{name}-{hashlib.sha256(path.read_bytes()).hexdigest()[:8]}.pth")
    path.rename(named)
    return named


def write_checkpoint(name: str) -> tuple[Path, dict]:
    """A random-init state dict saved under the file name torchvision expects for ``name``."""
    torch.manual_seed(0)
    state = build_model(name).state_dict()
    path = checkpoint_dir() / get_spec(name).weights.file_name
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path, state


def test_checkpoint_dir_follows_torch_home(torch_home):
    assert checkpoint_dir() == torch_home / "hub" / "checkpoints"


HUB_ENVIRONMENTS = [{"TORCH_HOME": "/tmp/th"}, {"XDG_CACHE_HOME": "/tmp/xdg"}, {"TORCH_HOME": "~/th", "XDG_CACHE_HOME": "/x"}, {}]
_HUB_DIRS = """
import json, os, sys
from cvcore.weights import checkpoint_dir

def each_environment(compute):
    results = []
    for env in json.loads(sys.argv[1]):
        for key in ("TORCH_HOME", "XDG_CACHE_HOME"):
            os.environ.pop(key, None)
        os.environ.update(env)
        results.append(compute())
    return results

without_torch = each_environment(lambda: str(checkpoint_dir()))
assert "torch" not in sys.modules
import torch.hub
with_torch = each_environment(lambda: str(checkpoint_dir()))
torch_own = each_environment(lambda: os.path.join(torch.hub.get_dir(), "checkpoints"))
print(json.dumps([without_torch, with_torch, torch_own]))
"""


def test_checkpoint_dir_without_torch_is_torch_hubs_own():
    """The Models page reads weight status before torch is imported: same folder as torch.hub.get_dir()."""
    root = str(Path(__file__).resolve().parents[2])
    out = subprocess.run(
        [sys.executable, "-c", _HUB_DIRS, json.dumps(HUB_ENVIRONMENTS)],
        env={**os.environ, "PYTHONPATH": root}, capture_output=True, text=True, check=True,
    )  # fmt: skip
    without_torch, with_torch, torch_own = json.loads(out.stdout)
    assert without_torch == with_torch == torch_own
    assert len(set(torch_own)) == len(HUB_ENVIRONMENTS)  # each environment gives its own folder


def test_written_checkpoint_is_cached_and_loads(torch_home):
    assert weight_status(LRASPP).state is WeightState.MISSING
    path, state = write_checkpoint(LRASPP)
    status = weight_status(LRASPP)
    assert status.state is WeightState.CACHED and status.path == path and status.available
    model = load_model(LRASPP, device="cpu")
    assert not model.training
    loaded = model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state.items())


def test_efficientnet_lite_is_bundled(torch_home):
    status = weight_status("efficientnet_lite0")
    assert status.state is WeightState.BUNDLED and status.path.is_file()


def test_missing_weights_error_names_file_size_and_commands(torch_home):
    with pytest.raises(WeightsMissingError) as info:
        require_weights("deeplabv3_resnet50")
    message = str(info.value)
    assert "deeplabv3_resnet50_coco-cd0a2569.pth" in message
    assert re.search(r"\(\d+\.\d MB\)", message)
    assert "python -m cvcore weights fetch deeplabv3_resnet50" in message
    assert "python -m cvcore weights import" in message


def test_architecture_only_models_say_no_weights_exist(torch_home):
    assert weight_status("unet").state is WeightState.UNAVAILABLE
    with pytest.raises(WeightsMissingError, match="no trained weights exist"):
        require_weights("unet")


# --- import ----------------------------------------------------------------------------------------


def test_import_accepts_a_file_whose_name_carries_its_sha256(torch_home, tmp_path, monkeypatch):
    source_dir = tmp_path / "downloads"
    source_dir.mkdir()
    staged = source_dir / "staged.pth"
    torch.manual_seed(0)
    torch.save(build_model(LRASPP).state_dict(), staged)
    digest = hashlib.sha256(staged.read_bytes()).hexdigest()
    good = source_dir / f"lraspp_mobilenet_v3_large-{digest[:8]}.pth"
    staged.rename(good)
    # The catalogue's name carries the hash of torchvision's real file; point it at ours instead.
    monkeypatch.setattr("cvcore.weights.expected_file_names", lambda: {good.name: LRASPP})
    [result] = import_weights([good])
    assert result.name == LRASPP and result.sha256 == digest
    assert result.path == checkpoint_dir() / good.name and result.path.read_bytes() == good.read_bytes()
    assert not list(checkpoint_dir().glob("*.partial"))


def test_import_refuses_a_file_whose_hash_does_not_match_its_name(torch_home, tmp_path):
    fake = tmp_path / get_spec(LRASPP).weights.file_name  # the exact expected name and size, other content
    torch.manual_seed(0)
    torch.save(build_model(LRASPP).state_dict(), fake)
    with pytest.raises(WeightsIntegrityError, match="sha256 starts with"):
        import_weights([fake])
    assert not (checkpoint_dir() / fake.name).exists()


def test_import_refuses_a_file_of_another_size_before_reading_it(torch_home, tmp_path, monkeypatch):
    fake = tmp_path / get_spec(LRASPP).weights.file_name
    fake.write_bytes(b"not the real checkpoint")
    monkeypatch.setattr("cvcore.weights.sha256_of", lambda path: pytest.fail("hashed a file whose size already rules it out"))
    with pytest.raises(WeightsIntegrityError, match=r"it is 0\.0 MB but torchvision's file is 12\.5 MB \(cut short"):
        import_weights([fake])


def test_import_refuses_a_name_torchvision_does_not_expect(torch_home, tmp_path):
    renamed = tmp_path / "lraspp_mobilenet_v3_large.pth"
    renamed.write_bytes(b"x")
    with pytest.raises(WeightsIntegrityError, match="torchvision expects lraspp_mobilenet_v3_large-d234d4ea.pth"):
        import_weights([renamed])


def test_import_checks_every_file_before_copying_any(torch_home, tmp_path, monkeypatch):
    good = named_by_its_hash(saved_state(tmp_path / "staged.pth", build_model(LRASPP).state_dict()), LRASPP)
    monkeypatch.setattr("cvcore.weights.expected_file_names", lambda: {good.name: LRASPP})
    with pytest.raises(WeightsMissingError, match="No such file"):
        import_weights([good, tmp_path / "absent.pth"])
    assert not checkpoint_dir().exists() or not any(checkpoint_dir().iterdir())


# --- fetch -------------------------------------------------------------------------------------------


def test_offline_fetch_fails_fast_with_a_clear_message(torch_home):
    start = time.perf_counter()
    with pytest.raises(WeightsDownloadError) as info:
        fetch([LRASPP], reachable=lambda url: False)
    assert time.perf_counter() - start < 2
    message = str(info.value)
    assert "offline" in message and "lraspp_mobilenet_v3_large-d234d4ea.pth" in message
    assert "python -m cvcore weights import" in message


@pytest.mark.parametrize("url", ["https://cvlens-weights.invalid/x.pth", "http://127.0.0.1:9/x.pth"])
def test_connectivity_probe_says_no_quickly(url):
    # ".invalid" never resolves (RFC 2606); port 9 on localhost refuses the connection.
    start = time.perf_counter()
    assert not can_reach(url, timeout_s=0.5)
    assert time.perf_counter() - start < 2


def test_fetch_skips_what_is_already_here_without_going_online(torch_home):
    write_checkpoint(LRASPP)

    def must_not_probe(url):
        raise AssertionError("probed the network for cached weights")

    results = fetch([LRASPP, "efficientnet_lite0", "unet"], reachable=must_not_probe)
    assert [(r.name, r.state, r.downloaded) for r in results] == [
        (LRASPP, WeightState.CACHED, False),
        ("efficientnet_lite0", WeightState.BUNDLED, False),
        ("unet", WeightState.UNAVAILABLE, False),
    ]


def test_cli_fetch_offline_exits_2_without_traceback(torch_home, capsys, monkeypatch):
    monkeypatch.setattr("cvcore.weights.can_reach", lambda url, timeout_s=3.0: False)
    code = main(["weights", "fetch", LRASPP])
    out, err = capsys.readouterr()
    assert code == 2 and err.startswith("error: Cannot reach download.pytorch.org") and "Traceback" not in err


def test_cli_status_json_and_import(torch_home, capsys, tmp_path):
    write_checkpoint(LRASPP)
    assert main(["weights", "status", "--task", "segmentation", "--format", "json"]) == 0
    import json

    data = json.loads(capsys.readouterr().out)
    states = {m["name"]: m["state"] for m in data["models"]}
    assert data["checkpoint_dir"] == str(checkpoint_dir())
    assert states[LRASPP] == "cached" and states["deeplabv3_resnet50"] == "missing" and states["unet"] == "unavailable"
    bad = tmp_path / "resnet18-f37072fd.pth"
    bad.write_bytes(b"corrupt")
    assert main(["weights", "import", str(bad)]) == 2
    assert "44.7 MB" in capsys.readouterr().err


# --- named sets ------------------------------------------------------------------------------------


def test_defense_set_covers_every_page_default():
    from cvcore.compare import DEFAULT_SEED
    from cvcore.segmentation import DEFAULT_MODELS
    from cvcore.weights import SALIENCY_DEFAULTS

    defense = weight_sets()["defense"]
    assert set(DEFAULT_SEED) | set(DEFAULT_MODELS) | set(SALIENCY_DEFAULTS) == set(defense)
    assert len(defense) == len(set(defense))
    assert resolve_names([], "defense") == list(defense)


def test_resolve_names_rejects_unknown_sets_and_models():
    with pytest.raises(InvalidInputError, match="Unknown weight set"):
        resolve_names([], "nope")
    with pytest.raises(InvalidInputError):
        resolve_names([])
    with pytest.raises(Exception, match="Did you mean"):
        resolve_names(["resnet51"])


def test_every_torch_load_in_cvcore_is_weights_only():
    calls = []
    for path in (ROOT / "cvcore").rglob("*.py"):
        for match in re.finditer(r"torch\.load\((.*)\)", path.read_text()):
            calls.append((path.name, match.group(1)))
    assert calls, "expected at least one torch.load call in cvcore"
    assert all("weights_only=True" in args for _, args in calls), calls


def test_a_corrupt_download_is_refused_by_torch_hubs_hash_check(torch_home, tmp_path, monkeypatch):
    """The real torch.hub download path, served locally: content that does not match the name's sha256 prefix."""
    import functools
    import http.server
    import threading

    served = tmp_path / "served"
    served.mkdir()
    file_name = get_spec(LRASPP).weights.file_name
    (served / file_name).write_bytes(b"corrupt bytes")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/{file_name}"

    class LocalWeights:  # stands in for the torchvision enum member, whose URL is on the internet
        def get_state_dict(self, **kwargs):
            return torch.hub.load_state_dict_from_url(url, **kwargs)

    monkeypatch.setattr("cvcore.weights._tv_weights", lambda spec: LocalWeights())
    try:
        with pytest.raises(WeightsIntegrityError, match="corrupt"):
            fetch([LRASPP], progress=False, reachable=lambda u: True)
    finally:
        server.shutdown()
    assert weight_status(LRASPP).state is WeightState.MISSING  # nothing half-written was kept


def test_offline_fetch_of_a_set_lists_every_missing_file_and_the_users_command(torch_home, capsys, monkeypatch):
    monkeypatch.setattr("cvcore.weights.can_reach", lambda url, timeout_s=3.0: False)
    assert main(["weights", "fetch", "--set", "segmentation"]) == 2
    err = capsys.readouterr().err
    assert "`python -m cvcore weights fetch --set segmentation`" in err
    for name in weight_sets()["segmentation"]:
        assert get_spec(name).weights.file_name in err


# --- damaged and forged checkpoints ---------------------------------------------------------------------


def truncate(path: Path, size_bytes: int) -> None:
    """What `truncate -s` does: an interrupted copy."""
    with open(path, "r+b") as handle:
        handle.truncate(size_bytes)


def test_a_truncated_checkpoint_is_damaged_not_cached(torch_home):
    path, _ = write_checkpoint(LRASPP)
    truncate(path, 6 * 2**20)  # as in the issue: `truncate -s 6M` on the LR-ASPP file
    status = weight_status(LRASPP)
    assert status.state is WeightState.DAMAGED and not status.available
    assert (
        "6.0 MB but torchvision's file is 12.5 MB" in status.problem
        and status.how_to_get == f"python -m cvcore weights fetch {LRASPP}"
    )
    with pytest.raises(WeightsDamagedError) as info:
        load_model(LRASPP, device="cpu")
    message = str(info.value)
    assert str(path) in message and f"python -m cvcore weights fetch {LRASPP}" in message and "weights import" in message


def test_a_checkpoint_damaged_inside_is_verified_when_it_fails_to_load(torch_home):
    path, _ = write_checkpoint(LRASPP)
    data = bytearray(path.read_bytes())
    data[-200:] = bytes(200)  # same size, the zip's directory overwritten
    path.write_bytes(bytes(data))
    assert weight_status(LRASPP).state is WeightState.CACHED  # the cheap check cannot see it ...
    with pytest.raises(WeightsDamagedError, match="its sha256 starts with") as info:
        load_model(LRASPP, device="cpu")  # ... the load fails, so the file is verified and named
    assert path.name in str(info.value) and "Traceback" not in str(info.value)


def test_weights_of_the_wrong_shapes_are_damaged_not_a_runtime_error(torch_home):
    path = checkpoint_dir() / get_spec(LRASPP).weights.file_name
    path.parent.mkdir(parents=True)
    state = build_model(LRASPP).state_dict()
    state["classifier.low_classifier.weight"] = state["classifier.low_classifier.weight"][:10]
    torch.save(state, path)
    with pytest.raises(
        WeightsDamagedError,
        match=r"does not fit the architecture: 1 tensor of another shape \(classifier.low_classifier.weight is 10x40x1x1",
    ):
        load_model(LRASPP, device="cpu")


def test_verify_reads_the_whole_file_and_flags_a_wrong_sha256(torch_home):
    write_checkpoint(LRASPP)  # random init under torchvision's name: right size, other content
    assert weight_status(LRASPP).state is WeightState.CACHED
    verified = verify_weights(LRASPP)
    assert verified.state is WeightState.DAMAGED and "sha256 starts with" in verified.problem


def test_cli_status_says_damaged_and_the_segment_command_prints_one_line(torch_home, capsys, tmp_path):
    path, _ = write_checkpoint(LRASPP)
    truncate(path, 6 * 2**20)
    assert main(["weights", "status", "--task", "segmentation", "--missing"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if LRASPP in line)
    assert "damaged" in row and "cached" not in row
    assert main(["segment", str(ROOT / "assets/samples/chelsea.png"), "--model", LRASPP, "--out", str(tmp_path / "o.png")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "damaged" in err and "Traceback" not in err
    assert not (tmp_path / "o.png").exists()


def test_fetch_replaces_a_damaged_file(torch_home, monkeypatch):
    path, _ = write_checkpoint(LRASPP)
    truncate(path, 2**20)
    downloads = []

    def fake_download(spec, progress):
        downloads.append(path.exists())
        write_checkpoint(LRASPP)

    monkeypatch.setattr("cvcore.weights._download", fake_download)
    [result] = fetch([LRASPP], reachable=lambda url: True)
    assert result.downloaded and downloads == [False]  # the damaged file was gone before torch.hub looked for it
    assert weight_status(LRASPP).state is WeightState.CACHED


def forged_checkpoint(tmp_path: Path, payload) -> Path:
    """A torch.save file as large as LR-ASPP's, holding ``payload``, named with its own sha256 prefix (seconds to forge)."""
    size = int(get_spec(LRASPP).weights.file_size_mb * 2**20)
    staged = saved_state(tmp_path / "forged.pth", {"padding": torch.zeros(size // 4), "payload": payload})
    return named_by_its_hash(staged, LRASPP)


def test_import_refuses_a_forged_malicious_checkpoint_without_running_it(torch_home, tmp_path, monkeypatch, capsys):
    import os

    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    forged = forged_checkpoint(tmp_path, Payload())
    monkeypatch.setattr("cvcore.weights.expected_file_names", lambda: {forged.name: LRASPP})
    assert main(["weights", "import", str(forged)]) == 2
    err = capsys.readouterr().err
    assert not marker.exists()
    assert "not a plain set of weights" in err and "Nothing was imported" in err
    assert "weights_only" not in err and len(err.strip().splitlines()) == 1
    assert not checkpoint_dir().exists() or not any(checkpoint_dir().iterdir())
    assert weight_status(LRASPP).state is WeightState.MISSING


def test_import_refuses_tensors_that_do_not_fit_the_architecture(torch_home, tmp_path, monkeypatch):
    state = build_model(LRASPP).state_dict()
    state["classifier.high_classifier.weight"] = state["classifier.high_classifier.weight"].reshape(-1)[:, None, None, None]
    forged = named_by_its_hash(saved_state(tmp_path / "staged.pth", state), LRASPP)
    monkeypatch.setattr("cvcore.weights.expected_file_names", lambda: {forged.name: LRASPP})
    with pytest.raises(WeightsIntegrityError, match="does not fit LR-ASPP-MobileNet-v3-large's architecture"):
        import_weights([forged])
    assert not checkpoint_dir().exists() or not any(checkpoint_dir().iterdir())
