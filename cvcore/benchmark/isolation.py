"""Run a function in a fresh measuring process, so one configuration's memory cannot pollute the next.

A small fork server (a ``python`` child of this process that has imported torch and cvcore
once, and never runs a tensor op) forks one process per call: each configuration costs a
fork and a model build, not an interpreter start and a torch import, and inherits no
OpenMP or CUDA state. Unlike :mod:`multiprocessing`'s forkserver it never re-imports the
caller's main module (a Streamlit script, a pytest run). One call at a time per process
(a lock): measurements must not overlap anyway. A process killed by a signal (the
kernel's OOM killer sends SIGKILL) is reported as such, never as a crash of the caller.
"""

from __future__ import annotations

import atexit
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

PRELOAD = ("torch", "cvcore.benchmark.worker", "cvcore.analysis.complexity", "cvcore.runtime")
_HEADER = struct.Struct("<Q")


class IsolatedFailure(Exception):
    """The measuring process died or timed out; ``killed`` when SIGKILL (out of memory, usually) ended it."""

    def __init__(self, message: str, *, killed: bool = False):
        super().__init__(message)
        self.killed = killed


def _write(stream, value) -> None:
    data = pickle.dumps(value)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _read_exactly(fd: int, size: int) -> bytes:
    chunks, remaining = [], size
    while remaining:
        chunk = os.read(fd, remaining)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _read(fd: int):
    (size,) = _HEADER.unpack(_read_exactly(fd, _HEADER.size))
    return pickle.loads(_read_exactly(fd, size))


# --- the server side (runs in the fork server process) ------------------------------------------


def _run_child(function: Callable, args: tuple, result_fd: int) -> None:
    try:
        payload = ("ok", function(*args))
    except BaseException as exc:  # everything goes back to the caller as text
        payload = ("error", f"{type(exc).__name__}: {exc}")
    with os.fdopen(result_fd, "wb") as f:
        f.write(pickle.dumps(payload))


def serve() -> None:
    """The fork server's loop: read ``(function, args)``, fork, report the child's pid, then its result and exit status."""
    import importlib
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning, module="torch.jit")  # as the CLI does: noise for users
    for module in PRELOAD:
        importlib.import_module(module)
    protocol_fd = os.dup(1)
    os.dup2(2, 1)  # stray prints of a model go to stderr, never into the protocol
    replies = os.fdopen(protocol_fd, "wb")
    requests = sys.stdin.fileno()
    while True:
        try:
            function, args = _read(requests)
        except EOFError:
            return
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            code = 0
            try:
                _run_child(function, args, write_end)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(write_end)
        _write(replies, ("started", pid))
        with os.fdopen(read_end, "rb") as f:
            data = f.read()
        _, status = os.waitpid(pid, 0)
        _write(replies, ("done", data, status))


# --- the caller's side --------------------------------------------------------------------------

_LOCK = threading.Lock()
_SERVER: subprocess.Popen | None = None


def _server() -> subprocess.Popen:
    global _SERVER
    if _SERVER is None or _SERVER.poll() is not None:
        root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)}
        _SERVER = subprocess.Popen(
            [sys.executable, "-c", "from cvcore.benchmark.isolation import serve; serve()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=root,
        )  # fmt: skip
        atexit.register(_stop, _SERVER)
    return _SERVER


def _stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.stdin.close()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()


def shutdown() -> None:
    """Stop the fork server (tests; it also stops when this process exits)."""
    global _SERVER
    with _LOCK:
        if _SERVER is not None:
            _stop(_SERVER)
            _SERVER = None


def _wait_readable(fd: int, timeout_s: float) -> bool:
    return bool(select.select([fd], [], [], timeout_s)[0])


def run_isolated(function: Callable, *args: Any, timeout_s: float) -> Any:
    """``function(*args)`` in a fresh process forked for this call (a module-level function, picklable arguments)."""
    global _SERVER
    with _LOCK:
        server = _server()
        replies = server.stdout.fileno()
        try:
            _write(server.stdin, (function, args))
            _, pid = _read(replies)
            timed_out = not _wait_readable(replies, timeout_s)
            if timed_out:
                os.kill(pid, signal.SIGKILL)
            _, data, status = _read(replies)
        except (EOFError, BrokenPipeError, OSError) as exc:
            _stop(server)
            _SERVER = None
            raise IsolatedFailure(f"the measuring server stopped ({type(exc).__name__})") from exc
    if timed_out:
        raise IsolatedFailure(f"the measuring process took more than {timeout_s:.0f} s and was stopped")
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        raise IsolatedFailure(
            f"the measuring process was killed by {signal.Signals(number).name}", killed=number == signal.SIGKILL
        )
    if not data:
        raise IsolatedFailure(f"the measuring process exited with code {os.waitstatus_to_exitcode(status)} without a result")
    outcome, value = pickle.loads(data)
    if outcome == "error":
        raise IsolatedFailure(value)
    return value
