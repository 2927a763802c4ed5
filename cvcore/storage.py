"""Where cvlens keeps what the user creates, and how it writes files without ever half-writing them.

Everything a user makes (imported models, evaluations, benchmark results, reports) lives
in one folder, the cvlens home: ``$CVLENS_HOME``, else ``$XDG_CACHE_HOME/cvlens``, else
``~/.cache/cvlens``. Every file cvlens writes (there, or where the user asked with
``--out``) goes through :func:`atomic_write`: the bytes go to a temporary file in the
target's own folder, are flushed to disk (``fsync``), then renamed onto the final name
(``os.replace``, atomic on POSIX and Windows). A crash, a kill or a full disk leaves either
the old file or the new one, never a mixture, and never a stray temporary file when the
write fails in Python (a kill may leave a ``.tmp-*`` file, which :func:`remove_stale_temporaries`
cleans). This is what git and pip do for their own files.

Imports nothing heavy: the pages that list the user's models must not load torch.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from cvcore.errors import CvlensError

_log = logging.getLogger(__name__)

HOME_ENV_VAR = "CVLENS_HOME"
TEMP_PREFIX = ".tmp-"


class StorageError(CvlensError, OSError):
    """A file cvlens could not write or read (missing folder, no permission, disk full); nothing was half-written."""


def cvlens_home(*, create: bool = False) -> Path:
    """The cvlens home folder (``$CVLENS_HOME``, else the user's cache folder); created when ``create``."""
    configured = os.environ.get(HOME_ENV_VAR)
    if configured:
        home = Path(configured).expanduser()
    else:
        home = Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "cvlens"
    if create:
        try:
            home.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"Cannot create the cvlens home folder {home}: {describe_os_error(exc)}. Set ${HOME_ENV_VAR} to a writable folder.") from exc
    return home


def home_path(*parts: str, create_parent: bool = True) -> Path:
    """A path inside the cvlens home (``home_path("models", "manifest.json")``); its folder is created."""
    path = cvlens_home(create=create_parent).joinpath(*parts)
    if create_parent:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"Cannot create {path.parent}: {describe_os_error(exc)}.") from exc
    return path


def describe_os_error(exc: OSError) -> str:
    """An OSError in plain words ("the disk is full", "permission denied"), without Python's repr."""
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno == errno.EDQUOT:
        return "the disk quota is exceeded"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.ENOENT:
        return "the folder does not exist"
    if exc.errno == errno.EROFS:
        return "the file system is read-only"
    if exc.errno == errno.EISDIR:
        return "it is a folder"
    if exc.errno == errno.ENOTDIR:
        return "a part of the path is not a folder"
    return exc.strerror or str(exc)


@contextlib.contextmanager
def atomic_writer(path: str | Path, mode: str = "wb", *, encoding: str | None = None) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path`` for writing; on success it replaces ``path`` atomically.

    On any exception (including a full disk while writing or flushing) the temporary file
    is removed, ``path`` is untouched, and OSErrors become :class:`StorageError` naming the
    file in plain words. The target's folder must exist: a missing folder is the user's
    typo more often than a wish, so it is reported, not created.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_writer writes whole files: mode 'wb' or 'w', not {mode!r}")
    target = Path(path).expanduser()
    folder = target.parent
    if target.is_dir():
        raise StorageError(f"Cannot write {target}: it is a folder.")
    if not folder.is_dir():
        raise StorageError(f"Cannot write {target}: the folder {folder} does not exist.")
    try:
        fd, temp_name = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{target.name}.", dir=folder)
    except OSError as exc:
        raise StorageError(f"Cannot write {target}: {describe_os_error(exc)}.") from exc
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, mode, encoding=encoding if "b" not in mode else None) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        _keep_mode(target, temp)
        os.replace(temp, target)
        _fsync_folder(folder)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        if isinstance(exc, OSError) and not isinstance(exc, StorageError):
            raise StorageError(f"Cannot write {target}: {describe_os_error(exc)}; nothing was written.") from exc
        raise


def writable_target(path: str | Path) -> Path:
    """``path`` if a file can be written there now, else :class:`StorageError` saying why; nothing is left behind.

    For checking an output option before doing the work it is the output of: the folder must
    exist, ``path`` must not be a folder, and a temporary file must be creatable in the
    folder (a real probe: permissions, read-only file systems and quotas all count, for root too).
    """
    target = Path(path).expanduser()
    if target.is_dir():
        raise StorageError(f"Cannot write {target}: it is a folder.")
    folder = target.parent
    if not folder.is_dir():
        raise StorageError(f"Cannot write {target}: the folder {folder} does not exist.")
    try:
        fd, probe = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=folder)
    except OSError as exc:
        raise StorageError(f"Cannot write {target}: {describe_os_error(exc)}.") from exc
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)
    return target


def atomic_write(path: str | Path, data: bytes | str, *, encoding: str = "utf-8") -> Path:
    """Write ``data`` (bytes, or text as ``encoding``) to ``path`` atomically; returns the path."""
    payload = data.encode(encoding) if isinstance(data, str) else bytes(data)
    with atomic_writer(path, "wb") as handle:
        handle.write(payload)
    return Path(path).expanduser()


def atomic_write_json(path: str | Path, value: Any, *, indent: int | None = 1) -> Path:
    """``value`` as UTF-8 JSON (NaN refused: it is not JSON), written atomically."""
    text = json.dumps(value, indent=indent, ensure_ascii=False, allow_nan=False, sort_keys=False)
    return atomic_write(path, text + "\n")


def atomic_copy(source: str | Path, target: str | Path, *, chunk_bytes: int = 2**20, progress=None) -> Path:
    """Copy ``source`` onto ``target`` atomically; ``progress(done_bytes, total_bytes)`` after each chunk."""
    source = Path(source)
    total = source.stat().st_size
    done = 0
    with open(source, "rb") as reader, atomic_writer(target, "wb") as writer:
        while chunk := reader.read(chunk_bytes):
            writer.write(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, total)
    return Path(target)


def read_json(path: str | Path) -> Any:
    """Parse a JSON file cvlens wrote; a damaged one raises :class:`StorageError` (the caller decides what to keep)."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StorageError(f"{path} is damaged and cannot be read ({exc}).") from exc


RESTORE_ANALYSIS = "Restore it with `git checkout -- assets/`, or regenerate it: `python -m cvcore analyze --all --write`."
RESTORE_SNAPSHOT = "Restore it with `git checkout -- assets/`, or regenerate it: `python -m cvcore models --write-snapshot`."


def read_shipped_json(path: str | Path, empty: Any, *, restore: str) -> Any:
    """A data file that ships with cvlens (``assets/``): its JSON (gzip-compressed when it ends in ``.gz``), or
    ``empty`` when it is missing or damaged.

    Its readers compute what a missing file would have held (slower, with torch), so a damaged
    checkout still shows the right numbers; a damaged file is logged, with how to ``restore``
    it, instead of taking every page that reads it down.
    """
    path = Path(path)
    if not path.is_file():
        return empty
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rt", encoding="utf-8") as f:
                return json.load(f)
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, EOFError, UnicodeDecodeError, ValueError) as exc:  # gzip.BadGzipFile is an OSError
        _log.warning("%s is damaged (%s: %s); cvlens computes what it holds instead. %s", path, type(exc).__name__, exc, restore)
        return empty


def quarantine(path: str | Path) -> Path:
    """Rename a damaged file out of the way (``name.damaged-N``) instead of deleting it; returns the new path."""
    path = Path(path)
    for n in range(1, 10_000):
        candidate = path.with_name(f"{path.name}.damaged-{n}")
        if not candidate.exists():
            os.replace(path, candidate)
            return candidate
    raise StorageError(f"Too many damaged copies of {path} are kept; remove some.")


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Remove the temporary files a killed write left in ``folder`` (never a finished file)."""
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for temp in folder.glob(f"{TEMP_PREFIX}*"):
        with contextlib.suppress(OSError):
            temp.unlink()
            removed.append(temp)
    return removed


def _keep_mode(target: Path, temp: Path) -> None:
    """mkstemp creates files 0600; keep the old file's mode, else the usual umask-based one."""
    try:
        mode = target.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    with contextlib.suppress(OSError):
        os.chmod(temp, mode)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def append_line(path: str | Path, line: str, *, encoding: str = "utf-8") -> Path:
    """Append one line (a JSONL record) to ``path`` durably: one ``write``, then ``fsync``; the file is created if new.

    For records written one by one as they are measured (a benchmark sweep): every line
    already there stays; a crash can at worst cut the last line short, and the next append
    starts on a line of its own, so a reader loses that one record only. A write that
    fails (a full disk) is undone: the file is truncated back to what it held.
    """
    target = Path(path).expanduser()
    if target.is_dir():
        raise StorageError(f"Cannot write {target}: it is a folder.")
    if not target.parent.is_dir():
        raise StorageError(f"Cannot write {target}: the folder {target.parent} does not exist.")
    payload = (line.rstrip("\n") + "\n").encode(encoding)
    try:
        fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    except OSError as exc:
        raise StorageError(f"Cannot write {target}: {describe_os_error(exc)}.") from exc
    try:
        size = os.fstat(fd).st_size
        if size and _last_byte(target) != b"\n":  # a line cut short by a crash stays a line of its own
            payload = b"\n" + payload
        try:
            written = os.write(fd, payload)
            if written != len(payload):
                raise OSError(errno.ENOSPC, "short write")
            os.fsync(fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
            raise StorageError(f"Cannot write {target}: {describe_os_error(exc)}; nothing was added.") from exc
    finally:
        os.close(fd)
    return target


def _last_byte(path: Path) -> bytes:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1)
