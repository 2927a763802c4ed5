"""benchmarks/dashboard_render.py runs with the runtime requirements alone: pytest cannot be imported in its processes."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.dashboard.conftest import ROOT


def test_runs_without_pytest(tmp_path):
    # A module named pytest first on the path that refuses to import: the benchmark and the child processes
    # it starts (they inherit PYTHONPATH) fail if anything they import needs pytest.
    (tmp_path / "pytest.py").write_text("raise ImportError('pytest is not a runtime requirement')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "CVLENS_HOME": str(tmp_path / "home")}
    check = subprocess.run([sys.executable, "-c", "import pytest"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert "pytest is not a runtime requirement" in check.stderr  # the guard itself works
    out = subprocess.run(
        [sys.executable, "benchmarks/dashboard_render.py", "--repeats", "1", "--no-browser", "--pages", "models"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert "Traceback" not in out.stderr, out.stderr
    assert re.search(r"models +first .* reload ", out.stdout), out.stdout + out.stderr
