"""Shared dashboard fixtures: an AppTest per page, and a live `streamlit run` server for the browser test."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from benchmarks._server import free_port, wait_for_health  # noqa: F401  (re-exported for the tests)

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "dashboard" / "app.py"  # the pages' navigation: what AppTest runs
SERVER = ROOT / "dashboard" / "server.py"  # what `streamlit run` serves (README): app.py, warmed up at start
# Pages that only read stored data at their defaults: no torch in their first render (tests/dashboard/test_app.py),
# and dashboard/server.py imports what those renders need before the server answers (test_server.py).
TORCH_FREE_PAGES = ("app_pages/home.py", "app_pages/models.py", "app_pages/compare.py", "app_pages/architecture.py", "app_pages/papers.py")
APP_TIMEOUT_S = 120  # a first page run imports torch and the catalogue on a busy 2-core machine


def run_page(page: str) -> AppTest:
    """Run the app on ``page`` ("app_pages/compare.py", relative to app.py's folder)."""
    at = AppTest.from_file(str(APP), default_timeout=APP_TIMEOUT_S)
    return at.switch_page(page).run()


@pytest.fixture
def page_app():
    return run_page


@pytest.fixture(autouse=True)
def tables_are_arrow_native(monkeypatch):
    """Fail any page test whose table Streamlit had to repair for Arrow (a column of mixed types).

    Streamlit then logs a traceback per table and shows its own conversion (mixed columns
    turned into text); the issue counted 22 such tracebacks from the Architecture page.
    """
    from streamlit import dataframe_util

    repaired = []
    real = dataframe_util.fix_arrow_incompatible_column_types

    def recording(df, *args, **kwargs):
        repaired.append(list(df.columns))
        return real(df, *args, **kwargs)

    monkeypatch.setattr(dataframe_util, "fix_arrow_incompatible_column_types", recording)
    yield
    assert not repaired, f"tables with mixed-type columns (Streamlit repaired them for Arrow): {repaired}"


def unescaped(markdown: str) -> str:
    """What CommonMark shows for text whose every special character is backslash-escaped."""
    return re.sub(r"\\(.)", r"\1", markdown)


def assert_no_markdown(markdown: str) -> None:
    """No emphasis, link or image can start in ``markdown``: each of their characters is escaped."""
    outside_code = re.sub(r"`[^`]*`", "", markdown)
    assert not re.search(r"(?<!\\)[*_\[\]()!]", outside_code), markdown


@pytest.fixture(scope="session")
def streamlit_server_log(tmp_path_factory) -> Path:
    """Where the shared browser-test server writes its log (stdout and stderr)."""
    return tmp_path_factory.mktemp("streamlit") / "server.log"


def logged_problems(log: Path) -> list[str]:
    """Lines of a server log that show something went wrong: tracebacks, Arrow repairs, media files lost."""
    words = ("Traceback", "Serialization of dataframe to Arrow table was unsuccessful", "MediaFileStorageError", "Missing file")
    return [line for line in log.read_text(errors="replace").splitlines() if any(w in line for w in words)]


@pytest.fixture(scope="session")
def streamlit_server_home(tmp_path_factory) -> Path:
    """The shared browser-test server's cvlens home (its reports, imported models)."""
    return tmp_path_factory.mktemp("server-home")


@pytest.fixture(scope="session")
def streamlit_server(streamlit_server_log, streamlit_server_home):
    """``streamlit run dashboard/server.py`` (as the README) on 127.0.0.1 and a free port; yields its URL, stops it afterwards."""
    port = free_port()
    log = streamlit_server_log
    command = [
        sys.executable, "-m", "streamlit", "run", str(SERVER),
        "--server.address", "127.0.0.1", "--server.port", str(port), "--server.headless", "true",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
    ]  # fmt: skip
    # The server's own cvlens home: what a browser test imports must not appear in this process's registry.
    server_env = {**os.environ, "PYTHONUNBUFFERED": "1", "CVLENS_HOME": str(streamlit_server_home)}
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=server_env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
