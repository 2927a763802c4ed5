"""dashboard/server.py: the server imports what the torch-free pages' first renders need before it answers.

Checked from outside the app's own bookkeeping: a fresh interpreter's ``sys.modules`` after
the warm-up and after each page's first render, and a real server's memory map (the shared
libraries it has loaded) as soon as its health endpoint answers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.dashboard.conftest import APP, ROOT, SERVER, TORCH_FREE_PAGES, free_port, wait_for_health

# Packages whose first import is what a cold first render waits for (streamlit's own are loaded before any session).
WATCHED = ("cvcore", "dashboard", "pandas", "pyarrow")

_AFTER_WARM_UP = """
import json, sys
sys.path.insert(0, {root!r})
from dashboard.warm_up import WARM_MODULES, warm_up
seconds = warm_up()
from streamlit.testing.v1 import AppTest
missing, new_by_page = [m for m in WARM_MODULES if m not in sys.modules], {{}}
torch_after_warm_up = "torch" in sys.modules
for page in {pages!r}:
    before = set(sys.modules)
    at = AppTest.from_file({app!r}, default_timeout=120).switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    new_by_page[page] = sorted(m for m in set(sys.modules) - before if m.split(".")[0] in {watched!r})
print(json.dumps({{"seconds": seconds, "missing": missing, "torch": torch_after_warm_up, "new": new_by_page}}))
"""


def test_the_warm_up_imports_what_the_first_renders_need_and_not_torch():
    code = _AFTER_WARM_UP.format(root=str(ROOT), app=str(APP), pages=list(TORCH_FREE_PAGES), watched=WATCHED)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["missing"] == [] and result["torch"] is False
    late = {page: new for page, new in result["new"].items() if new}
    assert not late, f"first renders still import these: add them to dashboard.warm_up.WARM_MODULES: {late}"


def test_a_module_that_cannot_be_imported_is_logged_and_left_to_its_page(caplog):
    from dashboard.warm_up import warm_up

    assert warm_up(("cvlens_no_such_module",)) >= 0.0  # no exception: the server starts; the page that needs it reports it
    assert "could not import cvlens_no_such_module (ModuleNotFoundError" in caplog.text


def loaded_libraries(pid: int) -> set[str]:
    with open(f"/proc/{pid}/maps") as maps:
        return {os.path.basename(line.split()[-1]) for line in maps if line.rstrip().endswith(".so") or ".so." in line}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/PID/maps")
def test_a_started_server_has_loaded_pyarrow_but_not_torch_before_anyone_visits(tmp_path):
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", str(SERVER), "--server.port", str(port), "--server.fileWatcherType", "none"]
    env = {**os.environ, "CVLENS_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_health(f"http://127.0.0.1:{port}", proc)
        libraries = loaded_libraries(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert any(name.startswith("libarrow") for name in libraries), sorted(libraries)[:40]
    assert not any(name.startswith(("libtorch", "libc10")) for name in libraries)
