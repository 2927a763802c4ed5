"""One configuration measured inside its own process: timm-style timing, peak memory, energy.

:func:`cvcore.timing.time_forward` is the timing loop (warm-up, a device synchronisation inside the timer,
``torch.inference_mode``), through :func:`cvcore.runtime.prepare`, the same code path as the
CLI's ``--precision/--channels-last/--compile``. :func:`measure_job` runs one :class:`Job`
and returns a dict of results (pickled back to the sweep). :func:`gemm_peak` measures this
device's matrix-product throughput, the peak the models' achieved GFLOP/s are compared with.
"""

from __future__ import annotations

import resource
import statistics
import sys
from dataclasses import dataclass

from cvcore.benchmark.results import CPU_MEMORY_SOURCE, CUDA_MEMORY_SOURCE, FAILED, OK, OUT_OF_MEMORY, SKIPPED
from cvcore.timing import time_forward

MIB = 2**20
GEMM_SIDE = {"cpu": 1024, "cuda": 8192}  # square matrices: large enough to reach the peak, cheap to run
GEMM_RUNS = 5


@dataclass(frozen=True)
class Job:
    """What one measuring process runs (picklable: it crosses a process boundary)."""

    model: str  # catalogue name
    input_size: tuple[int, int]
    batch_size: int
    mode: str
    device: str
    threads: int
    warmup_runs: int
    repeats: int
    count_macs: bool = False  # count multiply-adds here (none stored for this input size)
    memory_cap_mb: float | None = None  # CPU: address space this process may add (tests simulate an OOM with it)


def is_out_of_memory(exc: BaseException) -> bool:
    import torch

    if isinstance(exc, (MemoryError, torch.OutOfMemoryError)):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def peak_rss_bytes() -> int:
    """This process's peak resident set so far (``ru_maxrss``: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def _cap_address_space(extra_mb: float) -> None:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[0])
    limit = pages * resource.getpagesize() + int(extra_mb * MIB)
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default), ``q`` from 0 to 100."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def measure_job(job: Job) -> dict:
    """Run ``job`` in this process; a dict with ``status`` and what was measured (never raises for the model's failures)."""
    import torch

    from cvcore.analysis.complexity import example_input, measure
    from cvcore.benchmark.energy import energy_meter
    from cvcore.registry import build_model
    from cvcore.runtime import CompileState, ModeNotSupportedError, parse_mode, prepare

    torch.set_num_threads(job.threads)
    device = torch.device(job.device)
    mode = parse_mode(job.mode)
    if device.type == "cpu" and job.memory_cap_mb is not None:
        _cap_address_space(job.memory_cap_mb)
    rss_before = peak_rss_bytes()
    result: dict = {"status": OK, "note": ""}
    try:
        model = build_model(job.model).eval().to(device)
        result["mparams"] = sum(p.numel() for p in model.parameters()) / 1e6
        if job.count_macs:
            result["gmacs_per_image"] = measure(model, job.model, job.input_size, example_input(job.input_size, device))[0].gmacs
        if device.type == "cuda":
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
        x = example_input(job.input_size, device).expand(job.batch_size, -1, -1, -1).contiguous()
        runner = prepare(model, mode)  # compiles (if asked) in the first warm-up run, in this thread
        warmup = max(job.warmup_runs, 1 if mode.compile else 0)
        meter = energy_meter(job.device)
        start_j = meter.read_j() if meter.available else None
        times_ms = time_forward(runner, x, device, warmup, job.repeats) if not mode.compile else None
        if mode.compile:  # the compile happens in the first warm-up: energy and time only of the timed runs
            time_forward(runner, x, device, warmup, 0)
            start_j = meter.read_j() if meter.available else None
            times_ms = time_forward(runner, x, device, 0, job.repeats)
        end_j = meter.read_j() if meter.available else None
    except ModeNotSupportedError as exc:
        return {"status": SKIPPED, "note": str(exc)}
    except Exception as exc:  # an OOM, or a model that cannot run this input: the sweep goes on
        if is_out_of_memory(exc):
            return {"status": OUT_OF_MEMORY, "note": f"out of memory at batch {job.batch_size}: {str(exc).splitlines()[0][:200]}"}
        return {"status": FAILED, "note": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"}
    if runner.compile_state is CompileState.FAILED:
        return {"status": SKIPPED, "note": f"torch.compile failed here ({runner.compile_error}): no compiled time to report."}
    result.update(
        path="compiled" if mode.compile else "eager",
        times_ms=times_ms,
        energy_source=meter.source,
        energy_j=None if start_j is None else end_j - start_j,
    )
    if device.type == "cuda":
        result.update(peak_memory_mb=torch.cuda.max_memory_allocated(device) / MIB, memory_source=CUDA_MEMORY_SOURCE)
    else:
        result.update(peak_memory_mb=(peak_rss_bytes() - rss_before) / MIB, memory_source=CPU_MEMORY_SOURCE)
    return result


def gemm_peak(device: str, dtype: str, threads: int) -> float | None:
    """GFLOP/s of the best of :data:`GEMM_RUNS` square matrix products in ``dtype`` on ``device`` (None if it cannot run)."""
    import torch

    torch.set_num_threads(threads)
    dev = torch.device(device)
    n = GEMM_SIDE.get(dev.type, 1024)
    try:
        a = torch.randn(n, n, device=dev).to(getattr(torch, dtype))
        b = torch.randn(n, n, device=dev).to(getattr(torch, dtype))
        times = time_forward(lambda m: m @ b, a, dev, 2, GEMM_RUNS)
    except (RuntimeError, TypeError):
        return None
    return 2.0 * n**3 / (min(times) / 1000.0) / 1e9


def gemm_dtype(mode: str) -> str:
    """The dtype a mode's convolutions compute in: its GEMM peak is the fair ceiling."""
    from cvcore.runtime import Precision, parse_mode

    return {Precision.BF16: "bfloat16", Precision.FP16: "float16"}.get(parse_mode(mode).precision, "float32")


def median(values: list[float]) -> float:
    return statistics.median(values)
