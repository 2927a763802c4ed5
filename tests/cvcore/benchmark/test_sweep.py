"""The sweep's rows: complete, their numbers equal to what independent arithmetic makes of their raw times."""

import math
import sys

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from cvcore.benchmark import sweep
from cvcore.benchmark.results import NOT_MEASURABLE, OK, OUT_OF_MEMORY, SKIPPED, BenchmarkRow
from cvcore.benchmark.sweep import plan_sweep, run_sweep
from cvcore.errors import InvalidInputError, UnknownModelError
from cvcore.registry import build_model
from cvcore.runtime import RuntimeMode, Support
from tests.cvcore.benchmark.conftest import TINY


def test_every_configuration_has_a_complete_row(tiny_rows):
    plan, rows = tiny_rows
    assert len(rows) == plan.configurations == 2 * 2 * 2
    assert [(r.model, r.batch_size, r.mode) for r in rows] == [
        (m, b, mode) for m in ("resnet18", "lenet5") for b in (1, 2) for mode in ("fp32", "channels_last")
    ]
    for row in rows:
        assert row.status == OK, row.note
        assert len(row.times_ms) == 2 and row.threads == 1 and row.input_size == (32, 32)
        assert row.path == "eager" and row.peak_memory_mb > 0 and row.memory_source
        assert row.gemm_peak_gflops_per_s > 0 and 0 < row.peak_share
        assert BenchmarkRow.from_dict(row.to_dict()) == row  # survives the store's JSON


def test_the_derived_numbers_follow_from_the_raw_times(tiny_rows):
    for row in tiny_rows[1]:
        median = float(np.median(row.times_ms))
        assert row.latency_median_ms == pytest.approx(median)
        assert row.latency_p10_ms == pytest.approx(np.percentile(row.times_ms, 10))
        assert row.latency_p90_ms == pytest.approx(np.percentile(row.times_ms, 90))
        assert row.images_per_s == pytest.approx(row.batch_size * 1000.0 / median)
        assert row.achieved_gflops_per_s == pytest.approx(2 * row.gmacs_per_image * 1e9 * row.batch_size / (median / 1000) / 1e9)
        assert row.peak_share == pytest.approx(row.achieved_gflops_per_s / row.gemm_peak_gflops_per_s)


def test_the_counted_multiply_adds_agree_with_torch_flop_counter(tiny_rows):
    """resnet18 has only convolutions and a linear layer: torch counts 2 FLOPs for each of their multiply-adds."""
    row = next(r for r in tiny_rows[1] if r.model == "resnet18")
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        build_model("resnet18").eval()(torch.zeros(1, 3, 32, 32))
    assert row.gmacs_per_image == pytest.approx(counter.get_total_flops() / 2 / 1e9, rel=1e-3)
    assert row.mparams == pytest.approx(sum(p.numel() for p in build_model("resnet18").parameters()) / 1e6)


def test_memory_is_measured_per_configuration(tiny_rows):
    """Each configuration runs in its own process: resnet18's 45 MB of weights are in its rows, not in lenet5's after it."""
    rows = tiny_rows[1]
    resnet = [r.peak_memory_mb for r in rows if r.model == "resnet18"]
    lenet = [r.peak_memory_mb for r in rows if r.model == "lenet5"]
    weights_mb = 11_689_512 * 4 / 2**20
    assert min(resnet) >= weights_mb
    assert max(lenet) < min(resnet) - weights_mb / 2


def test_energy_is_a_measurement_or_says_it_is_not_measurable(tiny_rows):
    for row in tiny_rows[1]:
        if row.energy_per_image_j is None:
            assert row.energy_source.startswith(NOT_MEASURABLE)
        else:
            assert row.energy_per_image_j > 0 and "RAPL" in row.energy_source


def test_a_mode_the_device_cannot_run_is_skipped_with_the_reason(monkeypatch):
    real = RuntimeMode.supported

    def no_bf16(self, device=None):
        return Support(False, "no bf16 units on this test CPU") if self.precision.value == "bf16" else real(self, device)

    monkeypatch.setattr(RuntimeMode, "supported", no_bf16)
    monkeypatch.setattr(sweep, "_execute", lambda plan, function, *args: fake_measurement(function, *args))
    rows = run_sweep(plan_sweep(["lenet5"], [1, 2], ["bf16", "fp32"], **TINY))
    skipped = [r for r in rows if r.mode == "bf16"]
    assert [r.status for r in skipped] == [SKIPPED, SKIPPED]
    assert all("no bf16 units on this test CPU" in r.note and r.latency_median_ms is None for r in skipped)
    assert [r.status for r in rows if r.mode == "fp32"] == [OK, OK]


def fake_measurement(function, *args):
    """A stand-in measuring process (logic tests): fixed times, or what the real function answers for the GEMM probe."""
    if function is sweep.gemm_peak:
        return 100.0
    return {"status": OK, "note": "", "times_ms": [4.0, 2.0, 3.0], "path": "eager", "peak_memory_mb": 1.0,
            "energy_source": NOT_MEASURABLE, "energy_j": None, "mparams": 0.06, "gmacs_per_image": 0.001}  # fmt: skip


def test_out_of_memory_ends_that_models_sweep_and_the_sweep_goes_on():
    """A real cap on the measuring process's address space: resnet18's weights do not fit in 40 MB more, lenet5 does."""
    plan = plan_sweep(["resnet18", "lenet5"], [1, 2], ["fp32"], memory_cap_mb=40, **TINY)
    rows = run_sweep(plan)
    assert [(r.model, r.batch_size, r.status) for r in rows] == [
        ("resnet18", 1, OUT_OF_MEMORY), ("resnet18", 2, SKIPPED), ("lenet5", 1, OK), ("lenet5", 2, OK)
    ]  # fmt: skip
    assert "out of memory at batch 1" in rows[0].note
    assert "batch 1 ran out of memory" in rows[1].note


def test_a_killed_measuring_process_counts_as_out_of_memory(monkeypatch):
    """The kernel's OOM killer ends a process with SIGKILL: that ends the model's sweep, not the caller."""
    from cvcore.benchmark.isolation import IsolatedFailure

    def killed(plan, function, *args):
        if function is sweep.measure_job and args[0].batch_size == 2:
            raise IsolatedFailure("the measuring process was killed by SIGKILL", killed=True)
        return fake_measurement(function, *args)

    monkeypatch.setattr(sweep, "_execute", killed)
    rows = run_sweep(plan_sweep(["lenet5"], [1, 2, 4], ["fp32"], **TINY))
    assert [r.status for r in rows] == [OK, OUT_OF_MEMORY, SKIPPED]


def test_a_cuda_out_of_memory_error_is_recognised():
    from cvcore.benchmark.worker import is_out_of_memory

    assert is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert is_out_of_memory(RuntimeError("DefaultCPUAllocator: can't allocate memory"))
    assert not is_out_of_memory(RuntimeError("Given groups=1, weight of size [64, 3, 7, 7]"))


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        (dict(models=[]), "at least one model"),
        (dict(models=["resnet5"]), "Unknown model"),
        (dict(batch_sizes=[0]), "from 1 to 256, got 0"),
        (dict(batch_sizes=[100000]), "from 1 to 256, got 100000"),
        (dict(batch_sizes=[1.5]), "whole number"),
        (dict(batch_sizes=list(range(1, 20))), "At most 12 batch sizes"),
        (dict(modes=["fp8"]), "Unknown runtime mode"),
        (dict(repeats=0), "from 1 to 200"),
        (dict(repeats=10**6), "from 1 to 200"),
        (dict(threads=0), "from 1 to 256"),
        (dict(models=["resnet18"] * 2 + [f"x{i}" for i in range(200)]), "At most 150 models"),
        (dict(batch_sizes=[256], input_size=(1024, 1024)), "pixels per forward pass"),
        (dict(input_size=(0, 0)), "16 and 4096"),
        (dict(device="quantum"), "Unknown device"),
    ],
)
def test_bad_input_is_a_typed_error_before_any_work(kwargs, words):
    arguments = dict(models=["resnet18"], batch_sizes=[1]) | kwargs
    with pytest.raises((InvalidInputError, UnknownModelError), match=words):
        plan_sweep(arguments.pop("models"), arguments.pop("batch_sizes"), **arguments)


def test_planning_and_importing_load_no_optional_engine():
    assert "ray" not in sys.modules


def test_latency_order_statistics_are_plain_percentiles():
    from cvcore.benchmark.worker import percentile

    values = [5.0, 1.0, 3.0, 2.0, 4.0, 10.0]
    for q in (0, 10, 50, 90, 100):
        assert math.isclose(percentile(values, q), float(np.percentile(values, q)))
