"""cvcore.storage: the cvlens home and atomic writes (old file or new file, never half, never a stray temporary)."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from cvcore import storage
from cvcore.storage import (
    StorageError,
    atomic_copy,
    atomic_write,
    atomic_write_json,
    atomic_writer,
    cvlens_home,
    quarantine,
    read_json,
)


def test_home_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CVLENS_HOME", str(tmp_path / "h"))
    assert cvlens_home() == tmp_path / "h"
    assert not (tmp_path / "h").exists()
    assert cvlens_home(create=True).is_dir()
    monkeypatch.delenv("CVLENS_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert cvlens_home() == tmp_path / "cache" / "cvlens"


def test_atomic_write_replaces_and_keeps_no_temporary(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    atomic_write(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_failure_while_writing_keeps_the_old_file(tmp_path):
    target = tmp_path / "a.json"
    atomic_write_json(target, {"v": 1})
    with pytest.raises(RuntimeError), atomic_writer(target) as handle:
        handle.write(b'{"v": 2, "half')
        raise RuntimeError("crash in the middle")
    assert read_json(target) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_full_disk_is_a_storage_error_and_leaves_nothing(tmp_path, monkeypatch):
    real_fsync = os.fsync

    def full_disk(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(StorageError, match="disk is full"):
        atomic_write(tmp_path / "out.png", b"x" * 1000)
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert list(tmp_path.iterdir()) == []


def test_missing_folder_and_folder_target_are_clear(tmp_path):
    with pytest.raises(StorageError, match="does not exist"):
        atomic_write(tmp_path / "nope" / "out.png", b"x")
    with pytest.raises(StorageError, match="is a folder"):
        atomic_write(tmp_path, b"x")


def test_nan_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError):
        atomic_write_json(tmp_path / "a.json", {"x": float("nan")})
    assert list(tmp_path.iterdir()) == []


def test_copy_reports_progress(tmp_path):
    source = tmp_path / "src.bin"
    source.write_bytes(os.urandom(3 * 1024 + 5))
    seen = []
    atomic_copy(source, tmp_path / "dst.bin", chunk_bytes=1024, progress=lambda done, total: seen.append((done, total)))
    assert (tmp_path / "dst.bin").read_bytes() == source.read_bytes()
    assert seen[-1] == (3 * 1024 + 5, 3 * 1024 + 5) and len(seen) == 4


def test_damaged_json_is_reported_and_quarantined_not_deleted(tmp_path):
    target = tmp_path / "report.json"
    target.write_text("{ not json")
    with pytest.raises(StorageError, match="damaged"):
        read_json(target)
    kept = quarantine(target)
    assert kept.read_text() == "{ not json" and not target.exists()


def test_new_files_get_the_usual_permissions(tmp_path):
    atomic_write(tmp_path / "a", b"x")
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "a").stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize("kill_after_s", [0.05, 0.2, 0.4])
def test_sigkill_during_rewrites_leaves_old_or_new(tmp_path, kill_after_s):
    """A writer killed at an arbitrary moment: the file is always one complete version."""
    target = tmp_path / "state.json"
    atomic_write_json(target, {"version": 0, "pad": "x" * 200_000})
    script = textwrap.dedent(
        f"""
        import sys; sys.path.insert(0, {str(Path(storage.__file__).parents[1])!r})
        from cvcore.storage import atomic_write_json
        i = 0
        while True:
            i += 1
            atomic_write_json({str(target)!r}, {{"version": i, "pad": "x" * 200_000}})
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    time.sleep(kill_after_s + 0.5)  # interpreter start-up, then some rewrites
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    value = json.loads(target.read_text())
    assert len(value["pad"]) == 200_000 and value["version"] >= 0
    storage.remove_stale_temporaries(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


# --- data files that ship in assets/: missing or damaged means "compute it instead", said in the log ---------------


def damaged_copies(folder: Path, good: Path) -> list[Path]:
    """``good`` cut in half, and (for a .gz) bytes that are not gzip at all."""
    half = folder / good.name
    half.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    copies = [half]
    if good.suffix == ".gz":
        garbage = folder / f"garbage-{good.name}"
        garbage.write_bytes(b"not gzip at all")
        copies.append(garbage)
    return copies


def shipped_readers():
    from cvcore.analysis import graph_model, precomputed
    from cvcore.papers import stored
    from cvcore.registry_snapshot import SNAPSHOT_PATH, load_snapshot

    return [  # reader(path), the file it reads, what it gives for a damaged file
        pytest.param(precomputed._summary, precomputed.SUMMARY_PATH, {"models": {}}, id="analysis.json"),
        pytest.param(precomputed._layers, precomputed.LAYERS_PATH, {"models": {}}, id="analysis_layers.json.gz"),
        pytest.param(graph_model._stored, graph_model.GRAPHS_PATH, {"models": {}}, id="graphs.json.gz"),
        pytest.param(stored._stored, stored.PAPERS_PATH, {"papers": {}}, id="papers.json"),
        pytest.param(load_snapshot, SNAPSHOT_PATH, None, id="catalogue.json"),
    ]


@pytest.mark.parametrize(("reader", "shipped", "empty"), shipped_readers())
def test_a_damaged_shipped_file_reads_as_missing_and_is_logged_with_how_to_restore_it(tmp_path, caplog, reader, shipped, empty):
    assert reader(shipped) not in (empty, {"models": {}}, {"papers": {}})  # the real file reads (and has entries)
    for damaged in damaged_copies(tmp_path, shipped):
        caplog.clear()
        assert reader(damaged) == empty  # its callers then compute what it would have held
        assert str(damaged) in caplog.text and "is damaged" in caplog.text and "git checkout -- assets/" in caplog.text
    caplog.clear()
    assert reader(tmp_path / "absent.json") == empty and caplog.text == ""  # missing is normal (never generated)


def test_read_shipped_json_reads_plain_and_gzip(tmp_path):
    import gzip

    from cvcore.storage import RESTORE_ANALYSIS, read_shipped_json

    (tmp_path / "a.json").write_text('{"x": [1, 2]}', encoding="utf-8")
    with gzip.open(tmp_path / "b.json.gz", "wt", encoding="utf-8") as f:
        f.write('{"y": "é"}')
    assert read_shipped_json(tmp_path / "a.json", {}, restore=RESTORE_ANALYSIS) == {"x": [1, 2]}
    assert read_shipped_json(tmp_path / "b.json.gz", {}, restore=RESTORE_ANALYSIS) == {"y": "é"}
