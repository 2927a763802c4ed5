"""Benchmark rows and stored sweeps as :class:`cvcore.formatting.Table` (formatting kept apart from measuring)."""

from __future__ import annotations

from collections.abc import Sequence

from cvcore.benchmark.results import BenchmarkRow, Environment
from cvcore.formatting import Table

SOURCE = (
    "measured: cvlens benchmark (timed forward passes after warm-up, device synchronised inside the timer, "
    "torch.inference_mode, one measuring process per configuration; random weights: the time of these dense "
    "networks does not depend on their values)"
)
GMACS_SOURCE = "multiply-adds: counted by cvcore (fvcore, papers' convention) at the input size run; 1 multiply-add = 2 FLOPs"
TOP1_SOURCE = "top-1: the catalogue's published accuracy of each model's weights"

ROW_COLUMNS = [
    "model", "mode", "batch_size", "status", "latency_median_ms", "latency_p10_ms", "latency_p90_ms", "images_per_s",
    "peak_memory_mb", "achieved_gflops_per_s", "peak_share_pct", "energy_per_image_j", "note",
]  # fmt: skip
LABELS = {
    "model": "model", "mode": "mode", "batch_size": "batch", "status": "status", "latency_median_ms": "median ms",
    "latency_p10_ms": "p10 ms", "latency_p90_ms": "p90 ms", "images_per_s": "images/s", "peak_memory_mb": "peak MiB",
    "achieved_gflops_per_s": "GFLOP/s", "peak_share_pct": "% of GEMM peak", "energy_per_image_j": "J/image",
    "note": "note", "machine": "machine", "device": "device", "input_size": "input",
}  # fmt: skip


def _record(row: BenchmarkRow, machine: str | None = None) -> dict:
    record = {
        "model": row.model,
        "mode": row.mode,
        "batch_size": row.batch_size,
        "status": row.status,
        "latency_median_ms": row.latency_median_ms,
        "latency_p10_ms": row.latency_p10_ms,
        "latency_p90_ms": row.latency_p90_ms,
        "images_per_s": row.images_per_s,
        "peak_memory_mb": row.peak_memory_mb,
        "achieved_gflops_per_s": row.achieved_gflops_per_s,
        "peak_share_pct": None if row.peak_share is None else 100.0 * row.peak_share,
        "energy_per_image_j": row.energy_per_image_j,
        "note": row.note,
        "device": row.device,
        "input_size": "x".join(str(v) for v in row.input_size),
    }
    if machine is not None:
        record["machine"] = machine
    return record


def machine_caption(environments: Sequence[Environment]) -> str:
    """ "Measured on host (CPU, 2 threads), torch 2.14.1, 2026-12-01" for each machine."""
    parts = [
        f"{env.machine}{f', driver {env.gpu_driver}' if env.gpu_driver else ''}, torch {env.torch_version}"
        f"{f' (CUDA {env.cuda_version})' if env.cuda_version and env.gpu_name else ''}, {env.date_utc[:10]}"
        for env in environments
    ]
    return "Measured on " + "; ".join(parts) + "." if parts else ""


def rows_table(
    rows: Sequence[BenchmarkRow], environments: Sequence[Environment] = (), machines: Sequence[str] | None = None
) -> Table:
    """One line per configuration; ``machines`` (one per row) adds a machine column when several are compared."""
    with_machine = machines is not None and len(set(machines)) > 1
    records = [_record(r, machines[i] if with_machine else None) for i, r in enumerate(rows)]
    columns = (["machine"] if with_machine else []) + ROW_COLUMNS
    energy = sorted({r.energy_source for r in rows if r.energy_source})
    memory = sorted({r.memory_source for r in rows if r.memory_source})
    caption = " ".join(
        p for p in (
            machine_caption(environments),
            f"Latency: one forward pass of the whole batch. Peak memory: {'; '.join(memory)}." if memory else "",
            f"Energy: {'; '.join(energy)}." if energy else "",
        ) if p
    )  # fmt: skip
    # Printed: the figures a thesis table quotes (p10/p90, energy and the GEMM share stay in the CSV); notes as marks.
    printed = (["machine"] if with_machine else []) + [
        "model", "mode", "batch_size", "status", "latency_median_ms", "images_per_s", "peak_memory_mb",
        "achieved_gflops_per_s", "note",
    ]  # fmt: skip
    return Table(
        records, columns=columns, labels=LABELS, caption=caption, sources=[SOURCE, GMACS_SOURCE],
        latex_columns=printed, note_columns=("note",),
    )  # fmt: skip


def sweeps_table(sweeps) -> Table:
    """The stored sweeps (``benchmark list``): id, machine, what was run, how many rows, damaged lines."""
    records = [
        {
            "id": s.id,
            "machine": "; ".join(s.machines) or "unknown",
            "models": ", ".join(s.sweep.get("models", sorted({r.model for r in s.rows}))),
            "device": s.sweep.get("device", ""),
            "rows": len(s.rows),
            "planned": s.sweep.get("configurations"),
            "damaged_lines": len(s.problems),
        }
        for s in sweeps
    ]
    labels = {"damaged_lines": "damaged lines", "planned": "configurations"}
    return Table(records, columns=["id", "machine", "models", "device", "rows", "planned", "damaged_lines"], labels=labels,
                 caption="Benchmark sweeps stored in the cvlens home (newest first).")  # fmt: skip


def progress_text(done: int, total: int, elapsed_s: float, row: BenchmarkRow | None = None) -> str:
    """ "3/12 configurations, 14 s, about 42 s left (resnet18 batch 4 fp32: ok)": the ETA from the mean time so far."""
    text = f"{done}/{total} configurations, {elapsed_s:.0f} s"
    if 0 < done < total:
        text += f", about {elapsed_s / done * (total - done):.0f} s left"
    if row is not None:
        text += f" ({row.display_name} batch {row.batch_size} {row.mode}: {row.status})"
    return text
