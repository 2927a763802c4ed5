"""Latency measurement: warm-up, a device sync inside every timed run, inference mode, honest stats."""

import pytest
import torch
from torch import nn

from cvcore import latency
from cvcore.errors import AnalysisError, InvalidInputError


class Recorder(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.calls = []

    def forward(self, x):
        self.calls.append((torch.is_inference_mode_enabled(), x.shape[0]))
        return self.conv(x)


def test_warm_up_then_timed_runs_in_inference_mode(monkeypatch):
    syncs = []
    monkeypatch.setattr("cvcore.timing.synchronize", lambda device: syncs.append(device))  # the shared timing loop
    model = Recorder()
    result = latency.measure_latency(model, input_size=(32, 32), device="cpu", batch_size=2, warmup_runs=2, runs=5)
    assert len(model.calls) == 7 and all(mode and batch == 2 for mode, batch in model.calls)
    assert len(syncs) == 1 + 5  # after the warm-up, then inside each timed run
    assert result.min_ms <= result.latency_ms <= result.max_ms and result.latency_ms > 0
    assert result.runs == 5 and result.input_size == (32, 32) and result.threads == torch.get_num_threads()
    assert "cpu" in result.description and result.images_per_s == pytest.approx(2000 / result.latency_ms)


def test_catalogue_model_by_name():
    result = latency.measure_latency("lenet5", device="cpu", warmup_runs=1, runs=2)
    assert result.name == "lenet5" and result.latency_ms > 0


def test_bad_arguments_and_failing_models_raise_typed_errors():
    with pytest.raises(InvalidInputError):
        latency.measure_latency(Recorder(), input_size=(8, 8), runs=0)
    with pytest.raises(AnalysisError, match="Could not run"):
        latency.measure_latency(nn.Linear(5, 5), input_size=(8, 8), warmup_runs=0, runs=1)


def test_latency_table_lists_each_result_with_its_conditions():
    result = latency.measure_latency(Recorder(), input_size=(16, 16), warmup_runs=0, runs=2)
    table = latency.latency_table([result], {"Recorder": "The recorder"})
    (row,) = table.rows
    assert row["model"] == "The recorder" and row["latency_ms"] == round(result.latency_ms, 2)
    assert row["threads"] == result.threads and row["input"] == "16x16"
    assert latency.LATENCY_SOURCE in table.full_caption


def test_latency_in_a_fast_mode_says_so():
    result = latency.measure_latency(Recorder(), input_size=(16, 16), warmup_runs=1, runs=2, mode="bf16+channels_last")
    assert result.mode == "bf16+channels_last" and "bf16 autocast, channels_last" in result.description
    assert latency.latency_table([result]).rows[0]["mode"] == "bf16+channels_last"


def test_a_failed_compile_is_not_reported_as_a_compiled_time(monkeypatch):
    from cvcore import runtime

    def broken(graph, example_inputs):
        raise RuntimeError("unsupported op")

    monkeypatch.setattr(latency, "prepare", lambda model, mode: runtime.Runner(model, mode, background=False, backend=broken))
    with pytest.raises(runtime.ModeNotSupportedError, match="torch.compile failed.*unsupported op"):
        latency.measure_latency(Recorder(), input_size=(16, 16), warmup_runs=1, runs=1, mode="compile")
