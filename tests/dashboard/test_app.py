"""Every page registered in dashboard/app.py runs without an exception (pages are discovered, not listed)."""

import ast
import os
import subprocess
import sys

import pytest

from tests.dashboard.conftest import APP, SERVER, TORCH_FREE_PAGES


def registered_pages() -> list[str]:
    """The page files passed to ``st.Page(PAGES_DIR / "<file>", ...)`` in app.py, relative to app.py's folder."""
    pages = []
    for node in ast.walk(ast.parse(APP.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "Page" and node.args:
            names = [n.value for n in ast.walk(node.args[0]) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
            assert names, f"st.Page with no file name: {ast.unparse(node)}"
            pages.append(f"app_pages/{names[-1]}")
    return pages


PAGES = registered_pages()


def test_every_page_file_is_registered():
    on_disk = {f"app_pages/{p.name}" for p in (APP.parent / "app_pages").glob("*.py") if p.name != "__init__.py"}
    assert set(PAGES) == on_disk
    assert len(PAGES) == len(set(PAGES))


@pytest.mark.parametrize("page", PAGES)
def test_page_runs_without_exception(page_app, page):
    at = page_app(page)
    assert not at.exception, [e.message for e in at.exception]
    assert len(at.main) > 0, f"{page} shows nothing"


_COLD_RENDER = """
import sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file({app!r}, default_timeout=120).switch_page({page!r}).run()
assert not at.exception, [e.message for e in at.exception]
print(sorted(m for m in ("torch", "torchvision", "fvcore") if m in sys.modules))
print(next(c.value for c in at.sidebar.caption if c.value.startswith("Device: ")))  # the inference-mode control follows it
"""


@pytest.mark.parametrize("page", TORCH_FREE_PAGES)
def test_pages_that_run_no_model_render_without_importing_torch(page):
    """Importing torch and torchvision is most of a cold first render (seconds); these pages only read stored data
    at their defaults (Architecture: the stored analysis and graph of its default model; Papers: the stored claims)."""
    code = _COLD_RENDER.format(app=str(APP), page=page)
    env = {**os.environ, "PYTHONPATH": str(APP.parent.parent)}
    heavy, device_line = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()[-2:]
    assert heavy == "[]"
    assert device_line.startswith("Device: ") and "when a model first runs" in device_line


def test_a_bug_in_a_page_is_a_plain_message_and_the_session_survives(page_app, monkeypatch):
    from cvcore import compare
    from dashboard import state

    at = page_app("app_pages/compare.py")
    at.selectbox(key=state.COMPARE_X).select("mparams").run()
    real = compare.model_points
    monkeypatch.setattr(compare, "model_points", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
    at.run()
    assert at.exception  # strict mode (the tests'): the bug fails the test
    monkeypatch.delenv("CVLENS_STRICT_PAGES")
    at.run()
    assert not at.exception
    assert any("Something unexpected went wrong" in e.value and "RuntimeError: boom" in e.value for e in at.error)
    monkeypatch.setattr(compare, "model_points", real)
    at.run()
    assert not at.exception and not at.error
    assert at.selectbox(key=state.COMPARE_X).value == "mparams"
    assert at.get("plotly_chart")


def test_tests_run_pages_in_strict_mode():
    assert os.environ.get("CVLENS_STRICT_PAGES"), "tests/conftest.py must make page bugs fail the tests"


def test_device_line_before_torch_is_loaded_follows_the_environment(monkeypatch):
    from cvcore.device import ENV_VAR
    from dashboard import common

    monkeypatch.delitem(sys.modules, "torch", raising=False)  # as on a cold Models page (only the lookup is affected)
    monkeypatch.setenv(ENV_VAR, "cpu")
    assert common.device_description() == "cpu (from $CVLENS_DEVICE)"
    monkeypatch.delenv(ENV_VAR)
    assert "when a model first runs" in common.device_description()


# --- server settings: the same wherever `streamlit run` is started from ---------------------------

SETTINGS = {"server.maxUploadSize": None, "client.showErrorDetails": "none", "server.address": "127.0.0.1"}
HOSTILE_GLOBAL_CONFIG = '[server]\naddress = "0.0.0.0"\nmaxUploadSize = 500\n[client]\nshowErrorDetails = "full"\n'
_EFFECTIVE_SETTINGS = """
import json, sys
from streamlit import config
config._main_script_path = sys.argv[1]  # what `streamlit run FILE` records before it reads any config (streamlit/web/cli.py)
print(json.dumps({key: config.get_option(key) for key in sys.argv[2:]}))
"""


def expected_settings() -> dict:
    from cvcore.user_models import MAX_MODEL_UPLOAD_MB  # the server's cap; photo uploaders set their own, lower one

    return SETTINGS | {"server.maxUploadSize": MAX_MODEL_UPLOAD_MB}


def elsewhere(tmp_path) -> dict:
    """An environment started from another folder, whose user has a global Streamlit config of their own."""
    home = tmp_path / "home"
    (home / ".streamlit").mkdir(parents=True)
    (home / ".streamlit" / "config.toml").write_text(HOSTILE_GLOBAL_CONFIG)
    (tmp_path / "cwd").mkdir()
    return {**os.environ, "HOME": str(home), "PYTHONPATH": str(APP.parent.parent)}


@pytest.mark.parametrize("script", [SERVER, APP], ids=lambda p: p.name)
def test_settings_hold_when_started_from_another_folder(tmp_path, script):
    """`cd ~ && streamlit run <checkout>/dashboard/app.py` used to get a 200 MB limit, full error details, every interface."""
    import json

    env = elsewhere(tmp_path)
    out = subprocess.run(
        [sys.executable, "-c", _EFFECTIVE_SETTINGS, str(script), *SETTINGS], cwd=tmp_path / "cwd", env=env,
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert json.loads(out) == expected_settings()


@pytest.mark.slow
def test_a_server_started_elsewhere_listens_on_loopback_only(tmp_path):
    from tests.dashboard.conftest import free_port, wait_for_health

    port = free_port()
    env = elsewhere(tmp_path)
    command = [sys.executable, "-m", "streamlit", "run", str(SERVER), "--server.port", str(port), "--server.fileWatcherType", "none"]
    proc = subprocess.Popen(command, cwd=tmp_path / "cwd", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_health(f"http://127.0.0.1:{port}", proc)
        listening = []
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            for line in open(table).read().splitlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A = LISTEN
                    listening.append(local.rsplit(":", 1)[0])
        assert listening == ["0100007F"]  # 127.0.0.1 only, not 0.0.0.0 or [::]
    finally:
        proc.terminate()
        proc.wait(timeout=20)
