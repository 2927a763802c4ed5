"""A stored sweep's numbers for the models Compare draws: throughput, latency and memory at one batch size.

:func:`measured_models` takes a loaded result file (:class:`~cvcore.benchmark.store.StoredSweep`),
the compared models and a :class:`ResultSelection` (batch size, mode, and the machine and
device where the file holds several) and returns, per model, what that machine measured,
with units in the field names; models the file did not measure at that batch, or whose
configuration did not run (out of memory, skipped), are listed with the reason, never
given a value. The numbers are the rows' own: nothing is recomputed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cvcore.benchmark.results import BenchmarkRow
from cvcore.benchmark.store import StoredSweep
from cvcore.errors import InvalidInputError

NOT_MEASURED = "not measured here"


@dataclass(frozen=True)
class ResultSelection:
    """Which rows of a result file: one batch size and mode, on one machine and device (None: the file's only one)."""

    batch_size: int
    mode: str = "fp32"
    host: str | None = None
    device: str | None = None


@dataclass(frozen=True)
class ModelMeasurement:
    """One model's row at the selection: a forward pass of the whole batch."""

    model: str  # the row's model name (an architecture's default entry can stand for its other weights)
    input_size: tuple[int, int]
    images_per_s: float
    latency_median_ms: float
    latency_p10_ms: float | None
    latency_p90_ms: float | None
    peak_memory_mb: float | None  # MiB, as the benchmark stores it
    memory_source: str


@dataclass(frozen=True)
class MeasuredModels:
    """What the selected rows say about each compared model, and where they come from."""

    sweep_id: str
    file_name: str
    machine: str  # from the file's environment manifest
    host: str
    device: str
    mode: str
    batch_size: int
    measured: dict[str, ModelMeasurement]  # compared model name -> its row's numbers
    not_measured: dict[str, str]  # compared model name -> why it has none
    problems: tuple[str, ...] = ()  # damaged lines of the file (the readable rows are used)

    @property
    def setting(self) -> str:
        """ "batch 8, fp32, cpu" """
        return f"batch {self.batch_size}, {self.mode}, {self.device}"

    @property
    def origin(self) -> str:
        """ "host (CPU, 2 threads), file 2026...-host-ab12cd.jsonl" """
        return f"{self.machine}, file {self.file_name}"


@dataclass(frozen=True)
class ResultOptions:
    """What a result file can be selected by: its machines, and per machine its devices, modes and batch sizes."""

    hosts: dict[str, str]  # host -> machine label (manifest)
    devices: tuple[str, ...]
    modes: tuple[str, ...]
    batch_sizes: tuple[int, ...]


def _rows_of(stored: StoredSweep) -> list[BenchmarkRow]:
    if not stored.rows:
        damaged = f" ({len(stored.problems)} damaged line(s))" if stored.problems else ""
        raise InvalidInputError(f"{stored.path.name} holds no benchmark rows{damaged}: it is not a readable result file.")
    return stored.rows


def _pick(values: Sequence[str], wanted: str | None, what: str, where: str) -> str:
    values = list(dict.fromkeys(values))
    if wanted is None:
        if len(values) > 1:
            raise InvalidInputError(f"{where} holds results of several {what}s ({', '.join(values)}): choose one.")
        return values[0]
    if wanted not in values:
        raise InvalidInputError(f"{where} has no {what} {wanted!r}; it has: {', '.join(values)}.")
    return wanted


def result_options(
    stored: StoredSweep, host: str | None = None, device: str | None = None, mode: str | None = None
) -> ResultOptions:
    """What can be chosen in a result file: its machines, and for ``host`` (default: the first) its devices, for
    ``device`` (default: the first) its modes, and the batch sizes of ``mode`` (default: every mode's)."""
    rows = _rows_of(stored)
    hosts = {r.host: stored.machine_of(r) for r in rows}
    host = host if host in hosts else next(iter(hosts))
    on_host = [r for r in rows if r.host == host]
    devices = tuple(dict.fromkeys(r.device for r in on_host))
    device = device if device in devices else devices[0]
    on_device = [r for r in on_host if r.device == device]
    modes = tuple(dict.fromkeys(r.mode for r in on_device))
    in_mode = [r for r in on_device if mode is None or r.mode == mode]
    return ResultOptions(hosts, devices, modes, tuple(sorted({r.batch_size for r in in_mode})))


def measured_models(stored: StoredSweep, specs: Sequence, selection: ResultSelection) -> MeasuredModels:
    """Each compared model's row at ``selection`` (``specs``: catalogue ModelSpecs, resolved by the caller).

    A model is matched by its entry's name, else (not a user's model) by its architecture
    when the file measured the architecture's default entry built the same way: time and
    memory depend on the network, not on which trained weights it holds (the benchmark runs
    random weights). A bad selection (a batch size, mode, device or machine the file does
    not hold) raises :class:`InvalidInputError` naming what it does hold.
    """
    rows = _rows_of(stored)
    name = stored.path.name
    host = _pick([r.host for r in rows], selection.host, "machine", name)
    on_host = [r for r in rows if r.host == host]
    machine = stored.machine_of(on_host[0])
    device = _pick([r.device for r in on_host], selection.device, "device", f"{name} ({machine})")
    on_device = [r for r in on_host if r.device == device]
    mode = _pick([r.mode for r in on_device], selection.mode, "mode", f"{name} ({machine}, {device})")
    in_mode = [r for r in on_device if r.mode == mode]
    batches = sorted({r.batch_size for r in in_mode})
    if selection.batch_size not in batches:
        raise InvalidInputError(
            f"{name} ({machine}, {device}, {mode}) has no rows at batch {selection.batch_size}; "
            f"its batch sizes: {', '.join(map(str, batches))}."
        )
    at_batch = [r for r in in_mode if r.batch_size == selection.batch_size]
    measured, not_measured = {}, {}
    for spec in specs:
        row = _row_for(spec, at_batch)
        if row is None:
            not_measured[spec.name] = f"{NOT_MEASURED} (not in {name} at batch {selection.batch_size}, {mode}, {device})"
        elif not row.ok or row.latency_median_ms is None or row.images_per_s is None:
            not_measured[spec.name] = f"{row.status} at batch {row.batch_size}, {mode}" + (f": {row.note}" if row.note else "")
        else:
            measured[spec.name] = ModelMeasurement(
                row.model, tuple(row.input_size), row.images_per_s, row.latency_median_ms, row.latency_p10_ms,
                row.latency_p90_ms, row.peak_memory_mb, row.memory_source,
            )  # fmt: skip
    return MeasuredModels(
        stored.id, name, machine, host, device, mode, selection.batch_size, measured, not_measured, tuple(stored.problems)
    )


def _row_for(spec, rows: Sequence[BenchmarkRow]) -> BenchmarkRow | None:
    """The row measuring ``spec``: its own entry's, else its architecture's default built alike; the model's input size first."""
    own = [r for r in rows if r.model == spec.name]
    if not own and not spec.is_user and spec.arch != spec.name and _built_alike(spec):
        own = [r for r in rows if r.model == spec.arch]
    if not own:
        return None
    at_own_size = [r for r in own if tuple(r.input_size) == tuple(spec.input_size)]
    return (at_own_size or own)[-1]  # the latest of equal rows (a file appended to twice)


def _built_alike(spec) -> bool:
    from cvcore.registry import get_spec

    return get_spec(spec.arch, metadata_only=True).weights.build_kwargs == spec.weights.build_kwargs
