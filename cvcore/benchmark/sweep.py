"""A benchmark sweep over (model, batch, mode, device): planned and bounded first, then measured row by row.

:func:`plan_sweep` checks everything a user typed (names, sizes, batches, modes, device,
threads, repeats) and bounds the work before anything runs; :func:`iter_sweep` yields one
:class:`~cvcore.benchmark.results.BenchmarkRow` per configuration as it finishes, so the
CLI, the page and the store see every finished row even if a later one crashes. Each
configuration runs in its own measuring process (:mod:`cvcore.benchmark.isolation`).

Rules the rows follow:
- a mode the device or build cannot run is a ``skipped`` row whose note says why;
- out of memory at a batch ends that model's sweep: the rest of its configurations are
  ``skipped`` rows naming the batch; the next model runs;
- achieved GFLOP/s = 2 x counted multiply-adds x batch / median time (the catalogue's
  count for the default input size, else counted by cvcore at the size run), and its share
  of a GEMM peak measured on the same device, in the mode's compute dtype, in the same sweep.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from cvcore.benchmark.isolation import IsolatedFailure, run_isolated
from cvcore.benchmark.results import FAILED, OK, OUT_OF_MEMORY, SKIPPED, BenchmarkRow, Environment
from cvcore.benchmark.worker import Job, gemm_dtype, gemm_peak, measure_job, percentile
from cvcore.errors import InvalidInputError
from cvcore.registry import ModelSpec

DEFAULT_BATCHES = (1, 2, 4, 8, 16, 32, 64)
DEFAULT_REPEATS = 10
DEFAULT_WARMUP_RUNS = 3
MAX_MODELS = 150  # per sweep (the whole catalogue fits; more is several sweeps)
MAX_BATCH = 256
MAX_BATCHES = 12
MAX_MODES = 8
MAX_REPEATS = 200
MAX_WARMUP_RUNS = 20
MAX_THREADS = 256
MAX_CONFIGURATIONS = 3000
MAX_BATCH_PIXELS = 64 * 512 * 512  # batch x H x W of one forward pass (64 images at 512 px: 200 MB of input)
INTERACTIVE_MAX_CONFIGURATIONS = 48  # a sweep started from the shared dashboard (the CLI allows MAX_CONFIGURATIONS)
CONFIGURATION_TIMEOUT_S = 1800.0  # one measuring process (a torch.compile of a large model included)


@dataclass(frozen=True)
class SweepPlan:
    """A checked, bounded sweep: every configuration it will run, none run yet."""

    models: tuple[tuple[ModelSpec, tuple[int, int]], ...]  # (spec, input size) per model
    batch_sizes: tuple[int, ...]
    modes: tuple[str, ...]  # RuntimeMode names
    device: str
    threads: int
    repeats: int = DEFAULT_REPEATS
    warmup_runs: int = DEFAULT_WARMUP_RUNS
    memory_cap_mb: float | None = None  # CPU: address space each measuring process may add (simulated small machine)
    timeout_s: float = CONFIGURATION_TIMEOUT_S
    isolate: bool = True  # each configuration in a fresh process (False: in this one, for tests of the logic only)
    labels: dict = field(default_factory=dict, compare=False)

    @property
    def configurations(self) -> int:
        return len(self.models) * len(self.batch_sizes) * len(self.modes)

    def with_models(self, models) -> SweepPlan:
        from dataclasses import replace

        return replace(self, models=tuple(models))


def _count(value, low: int, high: int, what: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{what} must be a whole number, got {value!r}.") from None
    if number != value and not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a whole number, got {value!r}.")
    if not low <= number <= high:
        raise InvalidInputError(f"{what} must be from {low} to {high}, got {number}.")
    return number


def plan_sweep(
    models: Sequence[str | ModelSpec],
    batch_sizes: Sequence[int] = DEFAULT_BATCHES,
    modes: Sequence[str] = ("fp32",),
    *,
    device: str | None = None,
    input_size: Sequence[int] | None = None,
    threads: int | None = None,
    repeats: int = DEFAULT_REPEATS,
    warmup_runs: int = DEFAULT_WARMUP_RUNS,
    memory_cap_mb: float | None = None,
    isolate: bool = True,
    max_configurations: int = MAX_CONFIGURATIONS,
) -> SweepPlan:
    """Check a sweep's every input and bound its work (typed :class:`InvalidInputError` otherwise); runs nothing."""
    from cvcore.device import resolve_device
    from cvcore.input_sizes import check_input_size
    from cvcore.registry import get_spec, input_size_or_default
    from cvcore.runtime import parse_mode

    if not models:
        raise InvalidInputError("Name at least one model to benchmark.")
    if len(models) > MAX_MODELS:
        raise InvalidInputError(f"At most {MAX_MODELS} models per sweep, got {len(models)}; split it into several sweeps.")
    if not batch_sizes:
        raise InvalidInputError("Give at least one batch size.")
    if len(batch_sizes) > MAX_BATCHES:
        raise InvalidInputError(f"At most {MAX_BATCHES} batch sizes per sweep, got {len(batch_sizes)}.")
    batches = tuple(sorted({_count(b, 1, MAX_BATCH, "A batch size") for b in batch_sizes}))
    if not modes or len(modes) > MAX_MODES:
        raise InvalidInputError(f"Give from 1 to {MAX_MODES} modes, got {len(modes)}.")
    mode_names = tuple(dict.fromkeys(parse_mode(m).name for m in modes))
    resolved = []
    for model in dict.fromkeys(models):
        spec = get_spec(model)
        size = check_input_size(spec, input_size_or_default(spec, input_size))
        if batches[-1] * size[0] * size[1] > MAX_BATCH_PIXELS:
            raise InvalidInputError(
                f"Batch {batches[-1]} at {size[0]}x{size[1]} is {batches[-1] * size[0] * size[1]:,} pixels per forward pass; "
                f"the limit is {MAX_BATCH_PIXELS:,}. Use smaller batches or a smaller input."
            )
        resolved.append((spec, size))
    dev = str(resolve_device(device))
    plan = SweepPlan(
        models=tuple(resolved),
        batch_sizes=batches,
        modes=mode_names,
        device=dev,
        threads=_count(threads if threads is not None else _default_threads(), 1, MAX_THREADS, "--threads"),
        repeats=_count(repeats, 1, MAX_REPEATS, "Repeats"),
        warmup_runs=_count(warmup_runs, 0, MAX_WARMUP_RUNS, "Warm-up runs"),
        memory_cap_mb=memory_cap_mb,
        isolate=isolate,
    )
    if plan.configurations > max_configurations:
        raise InvalidInputError(
            f"{plan.configurations} configurations (models x batch sizes x modes) is more than {max_configurations} per sweep "
            "here; choose fewer, or run the larger sweep with `python -m cvcore benchmark`."
        )
    return plan


def _default_threads() -> int:
    import torch

    return torch.get_num_threads()


def sweep_environment(plan: SweepPlan) -> Environment:
    from cvcore.benchmark.environment import environment

    return environment(plan.device, plan.threads)


def stored_gmacs(spec: ModelSpec, input_size: tuple[int, int]) -> float | None:
    """The catalogue's counted multiply-adds (papers' convention) when it counted this input size, else None."""
    from cvcore.catalogue import measured_for

    measured = measured_for(spec)
    if measured is None or tuple(measured.input_size) != tuple(input_size):
        return None
    return measured.gmacs


def _published_top1(spec: ModelSpec) -> float | None:
    metric = (spec.metrics or {}).get("acc@1")
    return None if metric is None else float(metric.value)


def _execute(plan: SweepPlan, function: Callable, *args):
    if plan.isolate:
        return run_isolated(function, *args, timeout_s=plan.timeout_s)
    return function(*args)


def _measure(plan: SweepPlan, job: Job) -> dict:
    try:
        return _execute(plan, measure_job, job)
    except IsolatedFailure as exc:
        if exc.killed:
            return {
                "status": OUT_OF_MEMORY,
                "note": f"{exc} (the system ends processes that exhaust memory that way) at batch {job.batch_size}",
            }
        return {"status": FAILED, "note": str(exc)}


def iter_sweep(plan: SweepPlan, host: str | None = None) -> Iterator[BenchmarkRow]:
    """One row per configuration, in order model -> batch (ascending) -> mode, each as soon as it is measured."""
    import socket

    from cvcore.runtime import parse_mode

    host = host or socket.gethostname()
    peaks: dict[str, float | None] = {}
    for spec, size in plan.models:
        gmacs = stored_gmacs(spec, size)
        ended = ""
        for batch in plan.batch_sizes:
            for mode_name in plan.modes:
                base = dict(
                    model=spec.name, display_name=spec.display_name, device=plan.device, mode=mode_name, batch_size=batch,
                    input_size=size, host=host, threads=plan.threads, warmup_runs=plan.warmup_runs, repeats=plan.repeats,
                    top1_pct=_published_top1(spec),
                )  # fmt: skip
                if ended:
                    yield BenchmarkRow(**base, status=SKIPPED, note=ended, gmacs_per_image=gmacs)
                    continue
                support = parse_mode(mode_name).supported(plan.device)
                if not support.ok:
                    yield BenchmarkRow(**base, status=SKIPPED, note=f"{mode_name} cannot run on {plan.device}: {support.reason}")
                    continue
                job = Job(spec.name, size, batch, mode_name, plan.device, plan.threads, plan.warmup_runs, plan.repeats,
                          count_macs=gmacs is None, memory_cap_mb=plan.memory_cap_mb)  # fmt: skip
                result = _measure(plan, job)
                gmacs = result.get("gmacs_per_image", gmacs)
                if result["status"] == OUT_OF_MEMORY:
                    ended = f"not run: batch {batch} ran out of memory ({mode_name}), which ended this model's sweep"
                if result["status"] != OK:
                    yield BenchmarkRow(**base, status=result["status"], note=result["note"], gmacs_per_image=gmacs,
                                       mparams=result.get("mparams"))  # fmt: skip
                    continue
                dtype = gemm_dtype(mode_name)
                if dtype not in peaks:
                    try:
                        peaks[dtype] = _execute(plan, gemm_peak, plan.device, dtype, plan.threads)
                    except IsolatedFailure:
                        peaks[dtype] = None
                yield assemble_row(base, result, gmacs, peaks[dtype])


def assemble_row(base: dict, result: dict, gmacs: float | None, gemm_peak_gflops_per_s: float | None) -> BenchmarkRow:
    """A measured row from the measuring process's raw times and counters (every derived number computed here)."""
    times = list(result["times_ms"])
    batch = base["batch_size"]
    median_ms = percentile(times, 50)
    achieved = None if gmacs is None else 2.0 * gmacs * batch * 1000.0 / median_ms
    energy_j = result.get("energy_j")
    return BenchmarkRow(
        **base,
        status=OK,
        note=result.get("note", ""),
        path=result["path"],
        latency_median_ms=median_ms,
        latency_p10_ms=percentile(times, 10),
        latency_p90_ms=percentile(times, 90),
        images_per_s=batch * 1000.0 / median_ms,
        peak_memory_mb=result.get("peak_memory_mb"),
        memory_source=result.get("memory_source", ""),
        gmacs_per_image=gmacs,
        achieved_gflops_per_s=achieved,
        gemm_peak_gflops_per_s=gemm_peak_gflops_per_s,
        peak_share=None if achieved is None or not gemm_peak_gflops_per_s else achieved / gemm_peak_gflops_per_s,
        energy_per_image_j=None if energy_j is None else energy_j / (len(times) * batch),
        energy_source=result.get("energy_source", ""),
        mparams=result.get("mparams"),
        times_ms=tuple(times),
    )


def run_sweep(plan: SweepPlan, progress: Callable[[int, int, BenchmarkRow], None] | None = None) -> list[BenchmarkRow]:
    """Every row of ``plan``; ``progress(done, total, row)`` after each."""
    rows = []
    for row in iter_sweep(plan):
        rows.append(row)
        if progress is not None:
            progress(len(rows), plan.configurations, row)
    return rows


def cpu_count() -> int:
    return os.cpu_count() or 1


def describe_plan(plan: SweepPlan) -> dict:
    """What a sweep was asked to run (the store's ``sweep`` record)."""
    return {
        "models": [spec.name for spec, _ in plan.models],
        "input_sizes": {spec.name: list(size) for spec, size in plan.models},
        "batch_sizes": list(plan.batch_sizes),
        "modes": list(plan.modes),
        "device": plan.device,
        "threads": plan.threads,
        "repeats": plan.repeats,
        "warmup_runs": plan.warmup_runs,
        "configurations": plan.configurations,
    }


def run_and_store(
    plan: SweepPlan,
    *,
    extra_paths: Sequence[str] = (),
    progress: Callable[[int, int, BenchmarkRow], None] | None = None,
    rows: Iterator[tuple[Environment, BenchmarkRow]] | None = None,
) -> tuple[list[BenchmarkRow], str]:
    """Run ``plan`` (or take ``rows`` from elsewhere: Ray) and store every row the moment it exists; ``(rows, sweep id)``."""
    from cvcore.benchmark.store import SweepWriter

    writer = SweepWriter(extra_paths)
    writer.add_sweep(describe_plan(plan))
    if rows is None:
        env = sweep_environment(plan)
        rows = ((env, row) for row in iter_sweep(plan, host=env.host))
    done = []
    for env, row in rows:
        writer.add_environment(env)
        writer.add_row(row)
        done.append(row)
        if progress is not None:
            progress(len(done), plan.configurations, row)
    return done, writer.path.stem
