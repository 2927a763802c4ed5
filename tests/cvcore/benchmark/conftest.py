import pytest

from cvcore.benchmark.sweep import plan_sweep, run_sweep

TINY = dict(input_size=(32, 32), repeats=2, warmup_runs=1, threads=1)


@pytest.fixture(scope="session")
def tiny_rows():
    """One real sweep, each configuration in its own measuring process: resnet18 then lenet5 at 32 px, batch 1 and 2."""
    plan = plan_sweep(["resnet18", "lenet5"], [1, 2], ["fp32", "channels_last"], **TINY)
    return plan, run_sweep(plan)


# A stored sweep written through the store's own writer, for the tests of what reads it (Compare's measured axes).
# Its numbers are inputs chosen to differ per model, batch and mode, not measurements:
# (model, mode, batch) -> (median, p10, p90 ms, peak MiB), or a status other than ok with its note.
STORED_ROWS = {
    ("resnet18", "fp32", 1): (21.0, 20.0, 24.0, 150.0),
    ("resnet18", "fp32", 4): (70.0, 66.0, 80.0, 260.0),
    ("resnet18", "bf16", 4): (50.0, 45.0, 60.0, 200.0),
    ("mobilenet_v3_large", "fp32", 1): (9.0, 8.5, 10.5, 60.0),
    ("mobilenet_v3_large", "fp32", 4): (30.0, 28.0, 35.0, 95.0),
    ("resnet50", "fp32", 4): (150.0, 140.0, 170.0, 500.0),
    ("vgg16", "fp32", 1): (80.0, 78.0, 90.0, 700.0),
    ("vgg16", "fp32", 4): ("out of memory", "out of memory at batch 4 (DefaultCPUAllocator: can't allocate memory)"),
}


def make_environment(host: str = "lab-laptop", cpu: str = "Test CPU 9000"):
    from cvcore.benchmark.results import Environment

    return Environment(host, cpu, 4, 2, "", "", "", "2.14.1", "0.29.1", "0.1.0", "3.11.7", "Linux", "2026-12-01T12:00:00+00:00")


def store_results(sweep_id: str = "lab-sweep", host: str = "lab-laptop", rows: dict = STORED_ROWS, extra_paths=()):
    """A result file in $CVLENS_HOME/benchmarks (the caller sets CVLENS_HOME), written by SweepWriter; its path."""
    from cvcore.benchmark.results import OK, BenchmarkRow
    from cvcore.benchmark.store import SweepWriter
    from cvcore.registry import get_spec

    writer = SweepWriter(extra_paths=extra_paths, sweep_id=sweep_id)
    writer.add_sweep({"models": sorted({m for m, _, _ in rows}), "device": "cpu", "configurations": len(rows)})
    writer.add_environment(make_environment(host))
    for (model, mode, batch), numbers in rows.items():
        spec = get_spec(model, metadata_only=True)
        base = dict(model=model, display_name=spec.display_name, device="cpu", mode=mode, batch_size=batch,
                    input_size=spec.input_size, host=host, threads=2)  # fmt: skip
        if isinstance(numbers[0], str):
            writer.add_row(BenchmarkRow(**base, status=numbers[0], note=numbers[1]))
            continue
        median, p10, p90, memory = numbers
        writer.add_row(BenchmarkRow(
            **base, status=OK, latency_median_ms=median, latency_p10_ms=p10, latency_p90_ms=p90,
            images_per_s=batch * 1000.0 / median, peak_memory_mb=memory, memory_source="peak RSS growth (test input)",
        ))  # fmt: skip
    return writer.path
