"""dashboard.common: user text shown as text, the model and photo caches, and each session's byte budget."""

import pytest

from cvcore.errors import InvalidInputError
from cvcore.samples import list_samples
from dashboard import common, state
from tests.dashboard.conftest import assert_no_markdown, run_page, unescaped

HOSTILE = "**bold** [link](http://example.invalid/) ![t](http://127.0.0.1:9/x.png) <b>x</b> :red[y] $x^2$ 1. item"


def test_user_text_keeps_its_characters_and_loses_its_markdown():
    shown = common.as_text(HOSTILE)
    assert unescaped(shown) == HOSTILE
    assert_no_markdown(shown)
    for dangerous in ("](", "![", "**", "<b>", ":red["):
        assert dangerous not in shown


def test_code_spans_stay_code_spans():
    message = "Get it with `python -m cvcore weights fetch lraspp_mobilenet_v3_large` for **x**."
    shown = common.as_text(message)
    assert "`python -m cvcore weights fetch lraspp_mobilenet_v3_large`" in shown and "\\*\\*x\\*\\*" in shown
    lone = common.as_text("a ` b ![t](http://h/x.png)")  # an unpaired backtick is escaped like the rest
    assert_no_markdown(lone) and unescaped(lone) == "a ` b ![t](http://h/x.png)"


@pytest.fixture
def budgets(monkeypatch):
    def set_budget(variable: str, megabytes: float) -> None:
        monkeypatch.setenv(variable, str(megabytes))
        common.model_cache.cache_clear()
        common.photo_cache.cache_clear()

    yield set_budget
    common.model_cache.cache_clear()
    common.photo_cache.cache_clear()


def test_a_model_larger_than_the_model_budget_is_refused_before_loading(budgets, monkeypatch):
    budgets(common.MODEL_BUDGET_ENV, 1)
    monkeypatch.setattr("cvcore.weights.load_model", lambda name: pytest.fail("loaded a model that cannot be kept"))
    with pytest.raises(InvalidInputError, match=r"needs about 1\d MB, more than this server's model budget of 1 MB"):
        common.cached_model("efficientnet_lite0")


def test_one_upload_decodes_once_for_every_session(budgets):
    budgets(common.PHOTO_BUDGET_ENV, 64)
    data = list_samples()[0].path.read_bytes()
    first, _ = common.decoded_photo(data)
    again, _ = common.decoded_photo(bytes(data))  # the same bytes from another session: the same decoded photo
    assert again is first and len(common.photo_cache()) == 1


def test_a_session_keeps_its_newest_results_within_its_budget(budgets, monkeypatch):
    """Four photos in a session whose budget holds one or two results: the oldest results go, the page goes on."""
    monkeypatch.setenv(common.SESSION_BUDGET_ENV, "1.5")
    at = run_page("app_pages/segmentation.py")
    for sample in list_samples()[1:4]:
        at.selectbox(key=state.SEG_SAMPLE).set_value(sample.file).run()
        assert not at.exception and not at.error
    ledger = at.session_state[state.SESSION_LEDGER]
    results = at.session_state[state.SEG_RESULTS]
    assert ledger.used_bytes <= ledger.budget_bytes == int(1.5 * 2**20) and ledger.evictions >= 1
    assert 1 <= len(results) < 4
    shown = at.selectbox(key=state.SEG_SAMPLE).value
    assert any(key[1] == "efficientnet_lite0" for key in results.keys()) and shown == list_samples()[3].file


# --- media files under concurrent sessions ----------------------------------------------------------------


class Sessions:
    """Plays Streamlit's calls to the media file manager for several sessions, as its script runner makes them."""

    def __init__(self, monkeypatch, manager):
        from streamlit.runtime import media_file_manager, scriptrunner

        self.manager, self.current = manager, None
        monkeypatch.setattr(media_file_manager, "_get_session_id", lambda: self.current)
        monkeypatch.setattr(scriptrunner, "get_script_run_ctx", lambda: None if self.current is None else self)

    @property
    def session_id(self):
        return self.current

    def start_run(self, session: str) -> None:
        self.current = session
        self.manager.clear_session_refs()

    def end_run(self, session: str) -> None:
        self.current = session
        self.manager.remove_orphaned_files()
        self.current = None


def manager_with_a_shown_photo_and_download(monkeypatch, protected: bool):
    from streamlit.runtime.media_file_manager import MediaFileManager
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    manager = MediaFileManager(MemoryMediaFileStorage("/media"))
    if protected:
        assert common.keep_previous_run_files(manager)
    sessions = Sessions(monkeypatch, manager)
    sessions.start_run("a")
    image_url = manager.add(b"\x89PNG overlay", "image/png", "1.0")
    download = manager.add_deferred(lambda: b"\x89PNG download", "image/png", "1.1", file_name="overlay.png")
    sessions.end_run("a")
    return manager, sessions, image_url.rsplit("/", 1)[-1].split(".")[0], download


@pytest.mark.parametrize("protected", [False, True], ids=["streamlit-alone", "with-cvlens"])
def test_another_sessions_run_does_not_delete_what_a_busy_session_shows(monkeypatch, protected):
    """Session a reruns (its files are forgotten at the start); b's run ends meanwhile and collects orphans."""
    manager, sessions, image, download = manager_with_a_shown_photo_and_download(monkeypatch, protected)
    sessions.start_run("a")  # a's model runs for seconds; its browser still shows the photo and the button
    sessions.start_run("b")
    sessions.end_run("b")
    still_there = manager.read_file(image) is not None
    if not protected:  # what the issue saw: the photo gone, the download "Deferred file ... not found"
        assert not still_there
        with pytest.raises(Exception, match="Deferred file .* not found"):
            manager.execute_deferred(download)
        return
    assert still_there and manager.execute_deferred(download).endswith(".png")
    sessions.end_run("a")  # a's new run has finished (it showed something else): now its old files go
    assert manager.read_file(image) is None
    with pytest.raises(Exception, match="not found"):
        manager.execute_deferred(download)


def test_a_closed_session_leaves_nothing_behind(monkeypatch):
    manager, sessions, image, download = manager_with_a_shown_photo_and_download(monkeypatch, protected=True)
    sessions.start_run("a")
    manager.clear_session_refs("a")  # the session closes (AppSession.shutdown) in the middle of its run
    manager.remove_orphaned_files()
    assert manager.read_file(image) is None and not manager._files_by_session_and_coord.get(common.PREVIOUS_RUNS_SESSION)


def test_a_shared_result_is_computed_once_while_others_wait_for_it():
    import threading

    from dashboard.common import shared_result, shared_results

    key, release, calls, got = ("test", "shared-once"), threading.Event(), [], []
    shared_results().pop(key, None)

    def slow():
        calls.append("first")
        release.wait(10)
        return object()

    first = threading.Thread(target=lambda: got.append(shared_result(key, slow)))
    first.start()
    while not calls:
        threading.Event().wait(0.01)
    second = threading.Thread(target=lambda: got.append(shared_result(key, lambda: calls.append("second") or object())))
    second.start()
    threading.Event().wait(1.5)  # the second one waits (at least one interruptible round) for the first
    assert calls == ["first"] and got == []
    release.set()
    first.join(10)
    second.join(10)
    assert calls == ["first"] and len(got) == 2 and got[0] is got[1] is shared_results()[key]
    shared_results().pop(key)
    assert shared_result(key, lambda: None, keep=lambda v: v is not None) is None and key not in shared_results()
