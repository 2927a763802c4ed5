"""The stored registry metadata (assets/catalogue.json) against the live registry, and reading it without torch."""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cvcore import registry
from cvcore.registry import NO_WEIGHTS_ID, Architecture, Paper, Task, Weights, WeightsKind, get_spec, list_models, specs_for
from cvcore.registry_snapshot import SNAPSHOT_PATH, LiveBuilder, load_snapshot, snapshot_of, spec_from_dict, write_snapshot

ROOT = Path(__file__).resolve().parents[2]
REGENERATE = "python -m cvcore models --write-snapshot"


def test_stored_snapshot_equals_the_live_registry_field_by_field():
    stored = load_snapshot()
    assert stored is not None, f"{SNAPSHOT_PATH} is missing or written for other versions: run `{REGENERATE}`"
    live = {s.name: s for s in list_models(all_weights=True, include_user=False)}
    assert sorted(stored) == sorted(live), f"catalogue changed: run `{REGENERATE}`"
    for name, spec in live.items():
        for part in ("architecture", "weights"):
            for f in dataclasses.fields(getattr(spec, part)):
                if f.compare:
                    stale = f"{name}.{part}.{f.name} is stale: run `{REGENERATE}`"
                    assert getattr(getattr(stored[name], part), f.name) == getattr(getattr(spec, part), f.name), stale
        assert stored[name] == spec


def test_snapshot_entries_build_the_live_architecture():
    spec = load_snapshot()["lenet5"]
    assert isinstance(spec.builder, LiveBuilder)
    model = spec.builder()
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in get_spec("lenet5").builder().parameters())


def test_round_trip_keeps_types(tmp_path):
    path = tmp_path / "catalogue.json"
    v1 = get_spec("resnet50", weights="IMAGENET1K_V1")
    data = snapshot_of([get_spec("resnet50"), v1, get_spec("lraspp_mobilenet_v3_large"), get_spec("enet")])
    path.write_text(json.dumps(data))
    specs = load_snapshot(path)
    assert specs["resnet50"] == get_spec("resnet50") and specs["resnet50.IMAGENET1K_V1"] == v1
    assert specs["resnet50"].task is Task.CLASSIFICATION and isinstance(specs["resnet50"].input_size, tuple)
    assert specs["resnet50.IMAGENET1K_V1"].weights.build_kwargs == v1.weights.build_kwargs
    assert specs["enet"].preprocessing == get_spec("enet").preprocessing
    assert len(data["category_sets"]) == 3  # ImageNet's 1000 names stored once per distinct set
    assert spec_from_dict(data["models"]["resnet50"], data["category_sets"]).categories[0] == "tench"


def _written_for(**changes) -> dict:
    return {"written_for": {**snapshot_of([])["written_for"], **changes}}


@pytest.mark.parametrize(
    "change",
    [{"format": 0}, _written_for(cvlens="0.0"), _written_for(torchvision="0.1"), _written_for(sources="edited catalogue")],
)
def test_snapshot_for_other_versions_or_edited_sources_is_ignored(tmp_path, change):
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps({**snapshot_of([get_spec("resnet18")]), **change}))
    assert load_snapshot(path) is None
    assert load_snapshot(tmp_path / "absent.json") is None
    (tmp_path / "broken.json").write_text("{")
    assert load_snapshot(tmp_path / "broken.json") is None


def test_fingerprint_changes_when_a_file_that_defines_entries_changes(tmp_path, monkeypatch):
    from cvcore import registry_snapshot

    real = registry_snapshot.source_fingerprint()
    copy = tmp_path / "cvcore"
    for pattern in registry_snapshot.CATALOGUE_SOURCES:
        for path in (ROOT / "cvcore").glob(pattern):
            target = copy / path.relative_to(ROOT / "cvcore")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))  # a Windows checkout: same fingerprint
    monkeypatch.setattr(registry_snapshot, "__file__", str(copy / "registry_snapshot.py"))
    try:
        registry_snapshot.source_fingerprint.cache_clear()
        same = registry_snapshot.source_fingerprint()
        with (copy / "models" / "lenet.py").open("ab") as f:
            f.write(b"# a published number changed\n")
        registry_snapshot.source_fingerprint.cache_clear()
        edited = registry_snapshot.source_fingerprint()
    finally:
        registry_snapshot.source_fingerprint.cache_clear()
    assert same == real and edited != real


def test_write_snapshot_stores_every_entry(tmp_path):
    path = tmp_path / "catalogue.json"
    everything = list_models(all_weights=True, include_user=False)
    assert write_snapshot(path) == len(everything) > len(list_models(include_user=False))
    assert load_snapshot(path) == {s.name: s for s in everything}


def test_metadata_only_lookup_includes_models_registered_in_this_process(monkeypatch):
    [custom] = specs_for(
        Architecture("my_net", "My net", Task.CLASSIFICATION, "Mine", Paper("Mine", 2026)),
        [Weights(NO_WEIGHTS_ID, WeightsKind.NONE, ("a", "b"), (32, 32))],
    )
    monkeypatch.setattr(registry, "_LOADED", False)  # as in a fresh process: families not imported
    monkeypatch.setattr(registry, "_REGISTRY", {"my_net": custom})
    names = [s.name for s in list_models(metadata_only=True)]
    assert "my_net" in names and "resnet50" in names
    assert get_spec("my_net", metadata_only=True) is custom
    assert get_spec("resnet50", metadata_only=True) == load_snapshot()["resnet50"]


_COLD_PROCESS = """
import sys
from cvcore import compare
from cvcore.catalogue import catalogue_rows
from cvcore.weights import checkpoint_dir, weight_status
rows = catalogue_rows()
chart = compare.chart_data(compare.model_points(compare.default_selection()), x="gmacs", y="acc@1")
compare.accuracy_figure(chart, log_x=True)
print(len(rows), len(chart.points), weight_status("efficientnet_lite0").state.value, checkpoint_dir())
print(sorted(m for m in ("torch", "torchvision", "fvcore") if m in sys.modules))
"""


def test_catalogue_and_compare_chart_need_no_torch(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TORCH_HOME": str(tmp_path / "th")}
    out = subprocess.run([sys.executable, "-c", _COLD_PROCESS], env=env, capture_output=True, text=True, check=True).stdout
    counts, heavy = out.strip().splitlines()
    rows, points, lite_state, folder = counts.split()
    assert int(rows) == len(list_models(include_user=False)) and int(points) >= 10
    assert lite_state == "bundled"
    assert folder == str(tmp_path / "th" / "hub" / "checkpoints")
    assert heavy == "[]"


_LOOKUP_WHILE_LOADING = """
import sys, threading, time
from cvcore import registry
loader = threading.Thread(target=registry.list_models)  # imports torch and every family: seconds
loader.start()
while "cvcore.models" not in sys.modules:  # the families' import has begun
    time.sleep(0.001)
during = (len(registry.list_models(metadata_only=True)), registry.get_spec("resnet18", metadata_only=True).name)
loading = loader.is_alive()
waited = len(registry.list_models())  # a full lookup waits for the import instead of reading half a registry
loader.join()
print(during[0], during[1], loading, waited)
"""


def test_lookups_while_another_thread_loads_the_families_see_the_whole_catalogue():
    """A second browser session must not see a half-filled registry while the first one imports torch."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", _LOOKUP_WHILE_LOADING], env=env, capture_output=True, text=True, check=True)
    count, name, loading, waited = out.stdout.split()
    assert int(count) == int(waited) == len(list_models()) and name == "resnet18"
    assert loading == "True", "the lookup came after the import had finished: the test did not exercise the race"
