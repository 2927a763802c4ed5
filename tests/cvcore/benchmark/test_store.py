"""The result store: row by row, nothing earlier overwritten, a crash keeps finished rows, a damaged line is reported."""

import json

import pytest

from cvcore.benchmark import store, sweep
from cvcore.benchmark.results import OK
from cvcore.benchmark.store import SweepWriter, list_sweeps, load_sweep, read_sweep_file
from cvcore.benchmark.sweep import plan_sweep, run_and_store
from cvcore.errors import InvalidInputError
from cvcore.storage import StorageError
from tests.cvcore.benchmark.conftest import TINY
from tests.cvcore.benchmark.test_sweep import fake_measurement


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("CVLENS_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(sweep, "_execute", lambda plan, function, *args: fake_measurement(function, *args))
    return tmp_path / "home"


def plan():
    return plan_sweep(["lenet5", "resnet18"], [1, 2], ["fp32"], **TINY)


def test_a_sweep_is_stored_with_its_manifest_and_read_back_equal(home, tmp_path):
    rows, sweep_id = run_and_store(plan(), extra_paths=[tmp_path / "mine.jsonl"])
    stored = load_sweep(sweep_id)
    assert stored.rows == rows and stored.problems == []
    assert stored.sweep["models"] == ["lenet5", "resnet18"] and stored.sweep["configurations"] == 4
    (env,) = stored.environments.values()
    assert env.torch_version and env.cpu_model and env.threads == 1 and env.date_utc
    assert stored.machine_of(rows[0]) == env.machine
    assert read_sweep_file(tmp_path / "mine.jsonl").rows == rows  # --out holds the same records
    assert [s.id for s in list_sweeps()] == [sweep_id]


def test_nothing_earlier_is_overwritten(home, tmp_path):
    out = tmp_path / "results.jsonl"
    first, first_id = run_and_store(plan(), extra_paths=[out])
    second, second_id = run_and_store(plan(), extra_paths=[out])
    assert first_id != second_id
    assert load_sweep(first_id).rows == first and load_sweep(second_id).rows == second
    assert read_sweep_file(out).rows == first + second  # --out appended to, never replaced
    with pytest.raises(StorageError, match="stored already"):
        SweepWriter(sweep_id=first_id)


def test_a_crash_mid_sweep_keeps_every_finished_row(home, monkeypatch):
    real = sweep.iter_sweep

    def crashing(plan, host=None):
        for n, row in enumerate(real(plan, host)):
            if n == 2:
                raise KeyboardInterrupt  # the user pressed Ctrl-C, the machine went down
            yield row

    monkeypatch.setattr(sweep, "iter_sweep", crashing)
    with pytest.raises(KeyboardInterrupt):
        run_and_store(plan())
    (stored,) = list_sweeps()
    assert [(r.model, r.batch_size, r.status) for r in stored.rows] == [("lenet5", 1, OK), ("lenet5", 2, OK)]


def test_a_line_cut_in_half_is_reported_and_the_rest_kept(home):
    rows, sweep_id = run_and_store(plan())
    path = load_sweep(sweep_id).path
    text = path.read_text()
    path.write_text(text[: len(text) - len(text.splitlines()[-1]) // 2 - 1])  # the last row cut short, as by a crash
    damaged = load_sweep(sweep_id)
    assert damaged.rows == rows[:-1]
    assert len(damaged.problems) == 1 and "damaged" in damaged.problems[0]
    writer = SweepWriter()
    writer.path = path
    writer.paths = [path]
    writer.add_row(rows[-1])  # the next append starts a line of its own
    repaired = load_sweep(sweep_id)
    assert repaired.rows == rows and len(repaired.problems) == 1
    assert json.loads(path.read_text().splitlines()[-1])["record"] == "row"


def test_a_full_disk_adds_nothing(home, monkeypatch):
    import errno

    rows, sweep_id = run_and_store(plan())
    path = load_sweep(sweep_id).path
    before = path.read_bytes()

    def disk_full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("cvcore.storage.os.fsync", disk_full)
    writer = SweepWriter.__new__(SweepWriter)
    writer.paths, writer._hosts = [path], set()
    with pytest.raises(StorageError, match="the disk is full; nothing was added"):
        writer.add_row(rows[0])
    assert path.read_bytes() == before


def test_an_unknown_sweep_is_a_typed_error(home):
    with pytest.raises(InvalidInputError, match="No stored sweep 'nope'"):
        load_sweep("nope")
    assert store.list_sweeps() == []
