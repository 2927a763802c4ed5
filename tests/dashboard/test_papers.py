"""Papers page: every paper renders its tables; the MobileNet explorer follows its sliders."""

import pytest

from cvcore.papers.registry import PAPERS, paper_rows
from dashboard import state

PAGE = "app_pages/papers.py"


@pytest.fixture(scope="module")
def app():
    from tests.dashboard.conftest import run_page

    return run_page(PAGE)


@pytest.mark.parametrize("key", list(PAPERS))
def test_page_runs_for_every_paper(app, key):
    at = app
    at.selectbox(key=state.PAPERS_PAPER).select(key).run()
    assert not at.exception and not at.error
    tables = list(dict.fromkeys(r.table for r in paper_rows(key)))
    assert [h.value for h in at.subheader][: len(tables)] == tables
    shown = at.dataframe[0].value
    first = [r for r in paper_rows(key) if r.table == tables[0]]
    assert list(shown["quantity"]) == [r.quantity for r in first]
    assert any(s.value.startswith("Per-layer table") for s in at.subheader)


def test_width_slider_changes_the_gmacs_shown(app):
    at = app
    at.selectbox(key=state.PAPERS_PAPER).select("mobilenet").run()

    def gmacs():
        return next(m.value for m in at.metric if m.label == "GMACs (papers' convention)")

    full = gmacs()
    at.slider(key=state.PAPERS_WIDTH).set_value(0.5).run()
    assert not at.exception
    half = gmacs()
    assert float(half) < float(full) / 3  # mult-adds scale with alpha squared (Table 6: 569 -> 149 M)
    at.slider(key=state.PAPERS_RESOLUTION).set_value(160).run()
    assert abs(float(gmacs()) * 1000 - 76) / 76 < 0.02  # Table 9: 0.50 MobileNet-160, 76 M mult-adds
    assert any("the paper gives 76 M (Table 9)" in c.value and "TF-slim table 77 M" in c.value for c in at.caption)


def test_paper_and_explorer_sliders_survive_a_visit_to_another_page(app):
    at = app
    at.selectbox(key=state.PAPERS_PAPER).select("mobilenet").run()
    at.slider(key=state.PAPERS_WIDTH).set_value(0.75).run()
    at.slider(key=state.PAPERS_RESOLUTION).set_value(192).run()
    at.switch_page("app_pages/models.py").run()
    at.switch_page(PAGE).run()
    assert not at.exception
    assert at.selectbox(key=state.PAPERS_PAPER).value == "mobilenet"
    assert at.slider(key=state.PAPERS_WIDTH).value == 0.75 and at.slider(key=state.PAPERS_RESOLUTION).value == 192


def test_notes_are_readable_and_values_are_labelled_for_what_they_are(app):
    at = app
    at.selectbox(key=state.PAPERS_PAPER).select("resnet").run()
    assert not at.exception
    tables = [h.value for h in at.subheader]
    table1, table3 = at.dataframe[0].value, at.dataframe[tables.index("Table 3")].value
    how = at.table[tables.index("Table 3")].value  # each table's "how each value was measured", as a static table
    assert list(how.columns) == ["quantity", "measured with", "convention", "source"] and len(how) == len(table3)
    # Exact rows: no delta, shown as "—" (the frame's placeholder), not "None".
    assert table1["delta %"].isna().sum() >= 6 and at.dataframe[0].proto.placeholder == "—"
    # Table 1's values are measured; Table 3's are torchvision's published errors, labelled so.
    assert "measured" in table1.columns and "torchvision, published" in table3.columns and "measured" not in table3.columns
    # Notes: a mark in the column, the whole text under the table.
    assert set(table1["note"]) - {""} <= set("abcdefgh") and (table1["note"] != "").any()
    assert any("bottleneck ResNets" in m.value and "stride 2" in m.value for m in at.markdown)
