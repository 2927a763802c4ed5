"""What a benchmark sweep measures, as records with their units in their names.

A :class:`BenchmarkRow` is one (model, batch, mode, device) configuration; a
:class:`Environment` says which machine and software measured it. Both are plain
dataclasses that round-trip through JSON (the store, ``--format json``, Ray tasks).
Imports nothing heavy.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

# Row statuses.
OK = "ok"
SKIPPED = "skipped"  # not run: a mode this device cannot run, or an earlier batch ran out of memory
OUT_OF_MEMORY = "out of memory"
FAILED = "failed"  # the model could not run (a shape it refuses, a crash of the measuring process)
STATUSES = (OK, SKIPPED, OUT_OF_MEMORY, FAILED)

NOT_MEASURABLE = "not measurable here"
CPU_MEMORY_SOURCE = "peak RSS growth of the measuring process (model, input, activations)"
CUDA_MEMORY_SOURCE = "torch.cuda.max_memory_allocated (model, input, activations)"


@dataclass(frozen=True)
class Environment:
    """The machine and software behind a sweep's numbers (the manifest stored with every result)."""

    host: str
    cpu_model: str
    cpu_cores_logical: int
    threads: int  # torch intra-op threads the measurements used
    gpu_name: str  # "" without a GPU
    gpu_driver: str
    cuda_version: str  # torch's CUDA build ("" for a CPU build)
    torch_version: str
    torchvision_version: str
    cvlens_version: str
    python_version: str
    platform: str
    date_utc: str  # ISO 8601

    @property
    def machine(self) -> str:
        """A label for people: "host (CPU model, 2 threads)" or "host (GPU name)"."""
        what = self.gpu_name if self.gpu_name else f"{self.cpu_model}, {self.threads} thread{'s' * (self.threads != 1)}"
        return f"{self.host} ({what})"

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Environment:
        return cls(**{f.name: d.get(f.name, "" if f.type == "str" else 0) for f in dataclasses.fields(cls)})


@dataclass(frozen=True)
class BenchmarkRow:
    """One configuration of a sweep: what was run, how long it took, how much memory and energy it used.

    Every number is measured in this run or counted by cvcore; ``None`` where a status other
    than ``ok`` (or the machine) left it unmeasured, with ``note`` saying why.
    """

    model: str  # catalogue name
    display_name: str
    device: str  # "cpu", "cuda:0"
    mode: str  # cvcore.runtime.RuntimeMode name
    batch_size: int
    input_size: tuple[int, int]  # (H, W)
    status: str  # one of STATUSES
    note: str = ""
    host: str = ""  # Environment.host of the machine that measured it
    threads: int = 0
    warmup_runs: int = 0
    repeats: int = 0  # timed forward passes
    path: str = ""  # "eager" or "compiled"
    latency_median_ms: float | None = None  # one forward pass of the whole batch
    latency_p10_ms: float | None = None
    latency_p90_ms: float | None = None
    images_per_s: float | None = None  # batch_size * 1000 / latency_median_ms
    peak_memory_mb: float | None = None  # MiB
    memory_source: str = ""
    gmacs_per_image: float | None = None  # counted by cvcore (papers' convention) at input_size
    achieved_gflops_per_s: float | None = None  # 2 FLOPs per multiply-add, over the median time
    gemm_peak_gflops_per_s: float | None = None  # a square matrix product on this device in this run
    peak_share: float | None = None  # achieved / GEMM peak
    energy_per_image_j: float | None = None
    energy_source: str = NOT_MEASURABLE  # the meter, or why there is none
    mparams: float | None = None  # parameters of the built model, millions
    top1_pct: float | None = None  # published top-1 of the catalogue weights (source: the catalogue)
    times_ms: tuple[float, ...] = field(default=(), repr=False)  # every timed run, for re-analysis

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def latency_per_image_ms(self) -> float | None:
        return None if self.latency_median_ms is None else self.latency_median_ms / self.batch_size

    def key(self) -> tuple:
        return (self.model, self.device, self.mode, self.batch_size, tuple(self.input_size))

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["input_size"] = list(self.input_size)
        d["times_ms"] = list(self.times_ms)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BenchmarkRow:
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in d.items() if k in names}
        values["input_size"] = tuple(values.get("input_size") or (0, 0))
        values["times_ms"] = tuple(values.get("times_ms") or ())
        return cls(**values)
