"""Benchmark results kept in the cvlens home: one JSON Lines file per sweep, written row by row.

``$CVLENS_HOME/benchmarks/<sweep id>.jsonl``: a ``sweep`` record (what was asked), an
``environment`` record per machine (the manifest), then one ``row`` record per configuration,
each appended and flushed to disk the moment it is measured (:func:`cvcore.storage.append_line`).
A crash mid-sweep keeps every finished row; a new sweep gets a new file (created exclusively:
nothing earlier is overwritten); ``--out FILE`` appends the same records to the user's file.
Reading reports a damaged line (cut short by a crash, edited by hand) and keeps the rest.
"""

from __future__ import annotations

import datetime
import json
import os
import secrets
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cvcore.benchmark.results import BenchmarkRow, Environment
from cvcore.errors import InvalidInputError
from cvcore.storage import StorageError, append_line, cvlens_home, describe_os_error

FOLDER = "benchmarks"
SUFFIX = ".jsonl"
MAX_STORED_FILE_BYTES = 64 * 2**20  # a result file larger than this is not loaded (a classroom server's memory)


@dataclass
class StoredSweep:
    """One result file as read back: its records, and every line that could not be read."""

    path: Path
    sweep: dict = field(default_factory=dict)  # what was asked (models, batches, modes, device)
    environments: dict[str, Environment] = field(default_factory=dict)  # host -> manifest
    rows: list[BenchmarkRow] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # "line 7: ..." for each damaged line

    @property
    def id(self) -> str:
        return self.path.stem

    @property
    def machines(self) -> list[str]:
        return [env.machine for env in self.environments.values()]

    def machine_of(self, row: BenchmarkRow) -> str:
        env = self.environments.get(row.host)
        return env.machine if env is not None else row.host or "unknown machine"


def store_folder(*, create: bool = False) -> Path:
    folder = cvlens_home(create=create) / FOLDER
    if create:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"Cannot create {folder}: {describe_os_error(exc)}.") from exc
    return folder


def new_sweep_id() -> str:
    now = datetime.datetime.now(datetime.UTC)
    host = "".join(c if c.isalnum() or c in "-_" else "-" for c in socket.gethostname())[:40] or "host"
    return f"{now:%Y%m%d-%H%M%S}-{host}-{secrets.token_hex(3)}"


def _record(kind: str, payload: dict) -> str:
    return json.dumps({"record": kind, **payload}, ensure_ascii=False, allow_nan=False)


class SweepWriter:
    """Appends a sweep's records to its file in the store (a new one) and to any extra files (``--out``)."""

    def __init__(self, extra_paths: Iterable[str | Path] = (), sweep_id: str | None = None):
        self.path = self._create(store_folder(create=True), sweep_id or new_sweep_id())
        self.paths = [self.path, *(Path(p) for p in extra_paths)]
        self._hosts: set[str] = set()

    @staticmethod
    def _create(folder: Path, sweep_id: str) -> Path:
        path = folder / f"{sweep_id}{SUFFIX}"
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # never an earlier sweep's file
        except FileExistsError:
            raise StorageError(f"A sweep named {sweep_id} is stored already; nothing was overwritten.") from None
        except OSError as exc:
            raise StorageError(f"Cannot create {path}: {describe_os_error(exc)}.") from exc
        return path

    def _append(self, line: str) -> None:
        for path in self.paths:
            append_line(path, line)

    def add_sweep(self, description: dict) -> None:
        self._append(_record("sweep", {"id": self.path.stem, **description}))

    def add_environment(self, env: Environment) -> None:
        if env.host not in self._hosts:
            self._hosts.add(env.host)
            self._append(_record("environment", env.__dict__))

    def add_row(self, row: BenchmarkRow) -> None:
        self._append(_record("row", row.to_dict()))


def read_sweep_file(path: str | Path) -> StoredSweep:
    """Every readable record of a result file; damaged lines are listed in ``problems``, never fatal."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_STORED_FILE_BYTES:
            raise StorageError(
                f"{path} is {size / 2**20:.0f} MB; cvlens reads result files up to {MAX_STORED_FILE_BYTES // 2**20} MB."
            )
        text = path.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        raise InvalidInputError(f"No benchmark results at {path}.") from None
    except OSError as exc:
        raise StorageError(f"Cannot read {path}: {describe_os_error(exc)}.") from exc
    stored = StoredSweep(path)
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            kind = record.pop("record")
            if kind == "row":
                stored.rows.append(BenchmarkRow.from_dict(record))
            elif kind == "environment":
                env = Environment.from_dict(record)
                stored.environments[env.host] = env
            elif kind == "sweep":
                stored.sweep = record
            else:
                stored.problems.append(f"line {number}: unknown record {kind!r}")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            stored.problems.append(f"line {number}: damaged ({type(exc).__name__}), skipped")
    return stored


def list_sweeps() -> list[StoredSweep]:
    """Every stored sweep, newest first."""
    folder = store_folder()
    if not folder.is_dir():
        return []
    files = sorted(folder.glob(f"*{SUFFIX}"), key=lambda p: p.name, reverse=True)
    return [read_sweep_file(p) for p in files]


def load_sweep(id_or_path: str | Path) -> StoredSweep:
    """A stored sweep by its id (``python -m cvcore benchmark list``) or any result file by its path."""
    text = str(id_or_path)
    candidate = store_folder() / f"{text}{SUFFIX}"
    if os.sep not in text and candidate.is_file():
        return read_sweep_file(candidate)
    path = Path(text).expanduser()
    if path.is_file():
        return read_sweep_file(path)
    known = ", ".join(s.id for s in list_sweeps()[:5])
    raise InvalidInputError(f"No stored sweep {text!r}." + (f" Recent ones: {known}." if known else " None is stored yet."))
