"""Starting a ``streamlit run`` server and waiting until it answers: shared by the benchmarks and the browser tests.

Standard library only, so the benchmarks run with the runtime requirements alone (no pytest).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_health(url: str, proc: subprocess.Popen, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"streamlit did not answer on {url} within {timeout_s:.0f} s")


def server_script(checkout: Path) -> Path:
    """What ``streamlit run`` serves in ``checkout``: dashboard/server.py (the README's), or app.py in older checkouts."""
    server = checkout / "dashboard" / "server.py"
    return server if server.exists() else checkout / "dashboard" / "app.py"


def streamlit_command(app: Path, port: int) -> list[str]:
    """``streamlit run app`` headless on 127.0.0.1:port, without usage statistics."""
    return [
        sys.executable, "-m", "streamlit", "run", str(app), "--server.address", "127.0.0.1",
        "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
