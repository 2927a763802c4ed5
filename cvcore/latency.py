"""Inference latency of a model, measured the way timm's ``benchmark.py`` does it.

Warm-up runs first (allocator, lazy kernels, caches); every timed run is bracketed by a
device synchronisation, so the timer sees the work and not just the launch; everything
runs under ``torch.inference_mode``. The model is built with random weights: for these
dense networks the time does not depend on the weight values, only on the architecture.
No global torch flag is touched (timm flips ``cudnn.benchmark`` on import; we don't).
``mode`` runs the model in a :mod:`cvcore.runtime` mode (default exact fp32); with
``compile`` the compilation happens in the first warm-up run, outside the timer.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from cvcore.analysis.complexity import example_input, resolve_model
from cvcore.device import resolve_device
from cvcore.errors import AnalysisError, InvalidInputError
from cvcore.formatting import Table
from cvcore.runtime import EXACT, CompileState, ModeNotSupportedError, RuntimeMode, parse_mode, prepare
from cvcore.timing import time_forward

LATENCY_SOURCE = "measured: cvlens latency benchmark (median of timed runs after warm-up, batch 1)"


@dataclass(frozen=True)
class Latency:
    name: str
    device: str  # "cpu", "cuda:0", ...
    input_size: tuple[int, int]
    batch_size: int
    latency_ms: float  # median time of one forward pass of the whole batch
    min_ms: float
    max_ms: float
    runs: int
    warmup_runs: int
    threads: int  # torch.get_num_threads() on CPU: latency depends on it, so it is reported
    source: str = LATENCY_SOURCE
    mode: str = EXACT.name  # cvcore.runtime.RuntimeMode name ("fp32": plain eager fp32)

    @property
    def description(self) -> str:
        """Where the number comes from, with what it depends on (device, threads, input, mode)."""
        threads = f", {self.threads} CPU threads" if self.device == "cpu" else ""
        h, w = self.input_size
        return f"{self.source} on {self.device}{threads}, input {h}x{w}, {parse_mode(self.mode).label}, {self.runs} runs"

    @property
    def images_per_s(self) -> float:
        return 1000.0 * self.batch_size / self.latency_ms


def measure_latency(
    model_or_name: nn.Module | str,
    input_size: tuple[int, int] | None = None,
    device: str | torch.device | None = None,
    batch_size: int = 1,
    warmup_runs: int = 3,
    runs: int = 10,
    mode: RuntimeMode | str = EXACT,
) -> Latency:
    """Median forward-pass time of a catalogue model (or any module, with ``input_size``) in ``mode``.

    Raises :class:`~cvcore.runtime.ModeNotSupportedError` for a mode this device cannot
    run, or when torch.compile fails (the time would be eager's, not the mode's).
    """
    if runs < 1 or warmup_runs < 0 or batch_size < 1:
        raise InvalidInputError(f"Need runs >= 1, warmup_runs >= 0 and batch_size >= 1; got {runs}, {warmup_runs}, {batch_size}.")
    mode = parse_mode(mode)
    name, model, size = resolve_model(model_or_name, input_size)
    dev = resolve_device(device)
    mode.require_supported(dev)
    model = model.to(dev)
    x = example_input(size, dev).expand(batch_size, -1, -1, -1).contiguous()  # (B, 3, H, W)
    try:
        runner = prepare(model, mode)  # compiles (if asked) in the first warm-up run, in this thread
        times_ms = time_forward(runner, x, dev, max(warmup_runs, 1 if mode.compile else 0), runs)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise AnalysisError(f"Could not run {name} at input {size[0]}x{size[1]} on {dev}: {exc}") from exc
    if runner.compile_state is CompileState.FAILED:
        raise ModeNotSupportedError(f"torch.compile failed for {name} on {dev} ({runner.compile_error}): no compiled time to report.")
    return Latency(
        name=name,
        device=str(dev),
        input_size=size,
        batch_size=batch_size,
        latency_ms=statistics.median(times_ms),
        min_ms=min(times_ms),
        max_ms=max(times_ms),
        runs=runs,
        warmup_runs=warmup_runs,
        threads=torch.get_num_threads(),
        mode=mode.name,
    )


def latency_table(results: Sequence[Latency], display_names: Mapping[str, str] | None = None) -> Table:
    """Measured latencies as a :class:`Table` (median, spread, throughput, conditions)."""
    display_names = display_names or {}
    rows = [
        {
            "model": display_names.get(r.name, r.name),
            "latency_ms": round(r.latency_ms, 2),
            "min_ms": round(r.min_ms, 2),
            "max_ms": round(r.max_ms, 2),
            "images_per_s": round(r.images_per_s, 1),
            "device": r.device,
            "threads": r.threads,
            "input": f"{r.input_size[0]}x{r.input_size[1]}",
            "batch": r.batch_size,
            "mode": r.mode,
            "runs": r.runs,
        }
        for r in results
    ]
    return Table(
        rows,
        labels={"latency_ms": "median (ms)", "min_ms": "min (ms)", "max_ms": "max (ms)", "images_per_s": "images/s"},
        caption="Forward-pass time, median of the timed runs after warm-up; random weights (time depends on the architecture only).",
        sources=[LATENCY_SOURCE],
    )
