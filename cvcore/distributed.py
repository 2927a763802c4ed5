"""Ray, the optional engine for work that outgrows one machine: connected here, imported nowhere else first.

Only :func:`ray_session` imports Ray (and :func:`ray_data` Ray Data, inside a session), and
only callers given ``--ray`` call it (tests check that a local benchmark and a local
evaluation never import it). ``auto``: the Ray cluster this machine
belongs to if one is running, else a Ray started for this call on this machine.
``ADDRESS``: ``ray.init(address=ADDRESS)``; cvlens must then be installed on the cluster's
nodes. A Ray the caller initialised already (a test, a notebook) is used as it is and left running.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from cvcore.errors import CvlensError, InvalidInputError

PASSED_ENV_VARS = ("CVLENS_HOME", "CVLENS_DEVICE", "TORCH_HOME", "OMP_WAIT_POLICY")
# Ray's own defaults: the GCS port of `ray start --head`, the Ray Client server's port.
DEFAULT_GCS_PORT = 6379
DEFAULT_CLIENT_PORT = 10001
# ray.init retries an unreachable address for minutes (20 tries of ~40 s); a TCP probe answers in seconds.
PROBE_TIMEOUT_S = 5.0


class RayUnavailableError(CvlensError, RuntimeError):
    """Ray is not installed, or its cluster cannot be reached; the message says which and what to do."""


def import_ray():
    try:
        import ray
    except ImportError:
        raise RayUnavailableError("--ray needs Ray: pip install -r requirements-ray.txt") from None
    return ray


def ray_data():
    """``ray.data``, quiet: no progress bars or execution banners of its own (cvlens shows its progress), warnings only."""
    import logging

    import ray.data

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    return ray.data


def runtime_env() -> dict:
    """This checkout on the workers' path, and the cvlens home and device settings of the caller."""
    root = str(Path(__file__).resolve().parents[1])
    env = {name: os.environ[name] for name in PASSED_ENV_VARS if name in os.environ}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    return {"env_vars": env}


@contextlib.contextmanager
def ray_session(address: str = "auto") -> Iterator:
    """The ``ray`` module, connected to ``address`` for the block (shut down after it if this call started it)."""
    ray = import_ray()
    if not address or not str(address).strip():
        raise InvalidInputError("--ray needs `auto` or a cluster address (ray://host:10001, host:6379).")
    started = False
    if not ray.is_initialized():
        try:
            if address == "auto":
                try:
                    ray.init(address="auto", runtime_env=runtime_env(), log_to_driver=False)
                except ConnectionError:
                    ray.init(runtime_env=runtime_env(), include_dashboard=False, log_to_driver=False)
            else:
                check_reachable(address)
                ray.init(address=address, runtime_env=runtime_env(), log_to_driver=False)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise RayUnavailableError(f"Cannot reach the Ray cluster at {address!r}: {str(exc).splitlines()[0]}") from exc
        started = True
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


def check_reachable(address: str, timeout_s: float = PROBE_TIMEOUT_S) -> None:
    """Refuse, within ``timeout_s``, a cluster address nothing listens at (``host:port``, ``ray://host:port``)."""
    host, port = _host_and_port(address)
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as exc:
        reason = f"no answer within {timeout_s:g} s" if isinstance(exc, TimeoutError) else exc.strerror or str(exc)
        raise RayUnavailableError(
            f"Cannot reach the Ray cluster at {address!r} ({host}:{port}: {reason}). Start one there with "
            "`ray start --head`, or pass --ray auto to use this machine."
        ) from None


def _host_and_port(address: str) -> tuple[str, int]:
    text = str(address).strip()
    client = text.startswith("ray://")
    text = text.removeprefix("ray://").split("/", 1)[0]
    host, colon, port = text.rpartition(":") if not text.endswith("]") else (text, "", "")
    if not colon:
        host, port = text, ""
    host = host.strip("[]")
    if not host or (port and not port.isdigit()) or (port and not 0 < int(port) < 65536):
        raise InvalidInputError(f"--ray: {address!r} is not a cluster address; expected host:port or ray://host:port, or auto.")
    return host, int(port) if port else DEFAULT_CLIENT_PORT if client else DEFAULT_GCS_PORT
