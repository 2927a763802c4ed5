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
