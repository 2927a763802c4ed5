"""Byte budgets: nbytes against each library's own count, LRU eviction within a budget, one shared ledger,
one computation per key under concurrency, and freed memory handed back (RSS measured in a fresh process)."""

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cvcore.errors import InvalidInputError
from cvcore.memory import MB, BoundedCache, ByteLedger, budget_from_env, nbytes

ROOT = Path(__file__).resolve().parents[2]


# --- nbytes ---------------------------------------------------------------------------------------------


def test_buffers_are_counted_as_their_libraries_count_them():
    array = np.zeros((100, 200), dtype=np.float32)
    tensor = torch.zeros(3, 64, 64)
    assert nbytes(array) == array.nbytes == 80_000
    assert nbytes(tensor) == tensor.element_size() * tensor.numel()
    assert nbytes(b"x" * 1000) == 1000 and nbytes("y" * 10) == 10
    assert nbytes(Image.new("L", (30, 20))) == 600 and nbytes(Image.new("RGB", (30, 20))) == 2400  # RGB is kept as RGBX


def test_a_shared_buffer_counts_once():
    array = np.zeros(1000, dtype=np.uint8)
    tensor = torch.zeros(100)
    assert nbytes([array, array[10:], array.reshape(10, 100)]) == 1000  # views of one buffer
    assert nbytes((tensor, tensor[5:], tensor.view(10, 10))) == 400  # one storage


@dataclass
class Result:
    labels: np.ndarray
    notes: tuple


def test_containers_dataclasses_objects_and_closures_are_walked():
    labels = np.zeros((50, 50), dtype=np.uint16)
    logits = np.zeros((10, 8, 8), dtype=np.float32)

    class Lazy:
        def __init__(self):
            self.compute = lambda: logits.max(axis=0)  # a lazily computed value keeps its input alive

    held = {"result": Result(labels, ("a note",)), "lazy": Lazy()}
    assert nbytes(held) == labels.nbytes + logits.nbytes + len("result") + len("lazy") + len("a note")


def test_a_module_counts_its_parameters_and_buffers():
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8))
    expected = sum(t.numel() * t.element_size() for t in (*net.parameters(), *net.buffers()))
    assert nbytes(net) == expected


def test_a_segmentation_result_counts_its_maps():
    from cvcore.registry import build_model
    from cvcore.samples import get_sample
    from cvcore.segmentation import segment

    torch.manual_seed(0)
    photo = Image.open(get_sample("chelsea").path).convert("RGB").resize((160, 120))
    result = segment(photo, "lraspp_mobilenet_v3_large", model=build_model("lraspp_mobilenet_v3_large"))
    before = nbytes(result)
    assert before >= result.labels.nbytes  # labels, plus the logits the confidence map will come from
    result.confidence  # noqa: B018 (computed on first use, and the logits dropped)
    assert nbytes(result) >= result.labels.nbytes + result.confidence.nbytes


# --- bounded caches ----------------------------------------------------------------------------------------


def test_the_least_recently_used_entries_go_first_and_the_budget_holds():
    cache = BoundedCache(300, sizer=len)
    for key in "abc":
        cache[key] = "x" * 100
    cache.get("a")  # used: "b" is now the oldest
    cache["d"] = "x" * 100
    assert cache.keys() == ["c", "a", "d"] and cache.used_bytes == 300
    assert cache.put("huge", "x" * 301) is False and "huge" not in cache  # alone larger than the budget: not kept
    assert cache.keys() == ["c", "a", "d"]


def test_one_ledger_bounds_several_caches_oldest_first():
    ledger = ByteLedger(250)
    results, uploads = BoundedCache(ledger=ledger, sizer=len), BoundedCache(ledger=ledger, sizer=len)
    results["r1"] = "x" * 100
    uploads["u1"] = "x" * 100
    results["r2"] = "x" * 100  # 300 > 250: the oldest entry anywhere (r1) goes
    assert "r1" not in results and "u1" in uploads and "r2" in results
    assert ledger.used_bytes == 200 and ledger.evictions == 1
    uploads.pop("u1")
    assert ledger.used_bytes == 100


def test_get_or_compute_computes_once_for_concurrent_callers():
    cache = BoundedCache(10 * MB)
    calls = []

    def slow_load():
        calls.append(1)
        time.sleep(0.2)
        return np.zeros(10)

    threads = [threading.Thread(target=cache.get_or_compute, args=("model", slow_load)) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and "model" in cache


def test_a_failed_computation_keeps_nothing():
    cache = BoundedCache(MB)
    with pytest.raises(ValueError):
        cache.get_or_compute("photo", lambda: (_ for _ in ()).throw(ValueError("not an image")))
    assert "photo" not in cache and cache.used_bytes == 0


def test_idle_entries_can_be_dropped(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr("cvcore.memory.time.monotonic", lambda: now[0])
    cache = BoundedCache(MB, sizer=len)
    cache["old"], cache["kept"] = "x", "y"
    now[0] += 500
    cache.get("kept")
    now[0] += 200
    assert cache.drop_idle(600) == 1 and cache.keys() == ["kept"]


def test_budgets_come_from_the_environment_in_megabytes(monkeypatch):
    monkeypatch.setenv("CVLENS_TEST_MB", "64")
    assert budget_from_env("CVLENS_TEST_MB", 10) == 64 * MB
    monkeypatch.delenv("CVLENS_TEST_MB")
    assert budget_from_env("CVLENS_TEST_MB", 10) == 10 * MB
    for bad in ("lots", "-5", "0"):
        monkeypatch.setenv("CVLENS_TEST_MB", bad)
        with pytest.raises(InvalidInputError, match=r"\$CVLENS_TEST_MB"):
            budget_from_env("CVLENS_TEST_MB", 10)


# --- freed memory goes back ---------------------------------------------------------------------------------

_BIG_PNG = r"""
import io, json
from PIL import Image
from cvcore.images import decode_image
from cvcore.memory import prefer_returning_memory, return_freed_memory, rss_bytes

prefer_returning_memory()
image = Image.new("RGB", (7999, 7999), (40, 120, 200))
image.paste((220, 200, 40), (0, 0, 4000, 4000))
buffer = io.BytesIO()
image.save(buffer, format="PNG", compress_level=9)
data = buffer.getvalue()
del image, buffer
return_freed_memory()
open("/proc/self/clear_refs", "w").write("5")  # the peak (VmHWM) starts from here
before = rss_bytes()
decoded = decode_image(data)
return_freed_memory()
peak = int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) * 1024
print(json.dumps({"png_kb": len(data) // 1024, "size": decoded.size, "held_mb": (rss_bytes() - before) / 2**20,
                  "peak_mb": (peak - before) / 2**20}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_7999_px_png_neither_spikes_nor_stays_in_memory():
    """The issue: a 204 KB PNG of 7999x7999 added 450 MB for one upload."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", _BIG_PNG], env=env, capture_output=True, text=True, check=True, timeout=300)
    measured = json.loads(out.stdout)
    assert measured["png_kb"] < 1024 and measured["size"] == [2048, 2048]
    assert measured["held_mb"] < 40  # the 2048 px photo itself: 16 MB in Pillow's 4 bytes per pixel
    # The decoded file (256 MB), one band and the 1/3 reduction (~45 MB), never a second full-size copy (was ~600 MB).
    assert measured["peak_mb"] < 360
