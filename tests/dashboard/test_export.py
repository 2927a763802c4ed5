"""The shared download helpers: file names, offline HTML, captions that travel with the export."""

import json
import re

import plotly.graph_objects as go
import pytest
from streamlit.testing.v1 import AppTest

from cvcore.formatting import versions_line
from dashboard import export, state

from .conftest import APP, APP_TIMEOUT_S


def _figure():
    return go.Figure(go.Scatter(x=[1, 2, 3], y=[3, 1, 2]), layout={"height": 400})


def test_safe_stem_removes_characters_file_systems_dislike():
    assert export.safe_stem("ResNet-50 @ 224/224") == "ResNet-50_224_224"
    assert export.safe_stem("  ") == "cvlens"


def test_plotly_config_names_the_file_and_scales_the_image():
    options = export.plotly_config("compare chart", "svg")["toImageButtonOptions"]
    assert options == {"format": "svg", "filename": "compare_chart", "scale": export.IMAGE_SCALE}
    with pytest.raises(ValueError, match="jpeg"):
        export.plotly_config("x", "jpeg")


def test_caption_is_drawn_into_a_copy_of_the_figure():
    fig = _figure()
    caption = export.figure_caption("What it shows.", ["paper table 1"])
    captioned = export.with_caption(fig, caption)
    text = captioned.layout.annotations[0].text.replace("<br>", " ")
    assert "paper table 1" in text and versions_line() in text
    assert captioned.layout.height > 400
    assert not fig.layout.annotations  # the caller's figure is untouched


def test_standalone_html_embeds_plotly_js_instead_of_fetching_it():
    html = export.standalone_html(_figure())
    assert not re.search(r"<script[^>]*\bsrc=", html)  # nothing fetched over the network
    assert len(html) > 1_000_000  # plotly.js itself is inside


def _page():
    import plotly.graph_objects as go

    from cvcore.formatting import Table
    from dashboard.export import show_figure, show_table

    show_figure(go.Figure(go.Scatter(x=[1, 2], y=[3, 4])), "my figure", "A test figure.", key="t.fig", sources=["src A"])
    show_table(Table([{"a": 1, "b": 2.5}], labels={"a": "Alpha"}, caption="A table.", sources=["src B"]), "my table", key="t.tab")


def test_helpers_render_downloads_and_captions_in_a_page():
    at = AppTest.from_function(_page, default_timeout=60).run()
    assert not at.exception
    labels = [e.proto.label for e in at.get("download_button")]
    assert labels == ["Download standalone HTML", "CSV", "LaTeX"]
    captions = [c.value for c in at.caption]
    assert any("src A" in c and versions_line() in c for c in captions)
    assert any("src B" in c and versions_line() in c for c in captions)
    assert list(at.dataframe[0].value.columns) == ["Alpha", "b"]
    config = json.loads(at.get("plotly_chart")[0].proto.config)
    assert config["toImageButtonOptions"]["filename"] == "my_figure"


def _page_with_many_sources():
    from cvcore.formatting import Table
    from dashboard.export import show_table

    sources = [f"source number {i} with a long enough description" for i in range(40)]
    show_table(Table([{"a": 1}], caption="Many sources.", sources=sources), "many", key="t.many")


def test_a_long_source_list_folds_into_an_expander_and_stays_in_the_files():
    at = AppTest.from_function(_page_with_many_sources, default_timeout=60).run()
    assert not at.exception
    assert "Many sources." in at.caption[0].value and versions_line() in at.caption[0].value
    assert at.expander and "source number 39" in at.expander[0].caption[0].value


def test_a_header_click_sorts_reverses_and_stays():
    assert export.next_sort(None, [], ["Top-1 (%)"]) == ("Top-1 (%)", False)  # a click on a header: ascending
    assert export.next_sort(("Top-1 (%)", False), ["Top-1 (%)"], []) == ("Top-1 (%)", True)  # again (deselects): reversed
    assert export.next_sort(("Top-1 (%)", True), [], ["Top-1 (%)"]) == ("Top-1 (%)", False)  # and again
    assert export.next_sort(("Top-1 (%)", True), ["Top-1 (%)"], ["GMACs"]) == ("GMACs", False)  # another header
    assert export.next_sort(("GMACs", False), ["GMACs"], ["GMACs"]) == ("GMACs", False)  # a rerun without a click


def test_downloads_follow_the_order_on_screen(monkeypatch):
    from cvcore.compare import catalogue_table

    exported, made_on_click = [], []
    monkeypatch.setattr(export, "to_csv", lambda t: exported.append(t) or "csv")
    real_button = export.st.download_button

    def recording_button(label, data, *args, **kwargs):  # the files are made on click: keep what a click would call
        if label == "CSV":
            made_on_click.append(data)
        return real_button(label, data, *args, **kwargs)

    monkeypatch.setattr(export.st, "download_button", recording_button)
    at = AppTest.from_file(str(APP), default_timeout=APP_TIMEOUT_S)
    at.session_state[f"{state.MODELS_TABLE}.frame"] = {"selection": {"rows": [], "columns": ["Top-1 (%)"], "cells": []}}
    at.switch_page("app_pages/models.py").run()
    assert not at.exception
    assert not exported and callable(made_on_click[-1])  # nothing serialised until the button is clicked
    assert made_on_click[-1]() == "csv"
    shown = list(at.dataframe[0].value["Top-1 (%)"])
    values = [v for v in shown if v == v]  # NaN (no published top-1) last
    assert values == sorted(values) and len(values) < len(shown) and all(v != v for v in shown[len(values) :])
    assert [r.get("acc@1") for r in exported[-1].rows][: len(values)] == values  # the CSV holds the same order
    assert "offline" in exported[-1].local_columns  # "Weights here": on screen, never in the file
    assert any("Sorted by Top-1 (%), ascending" in c.value for c in at.caption)
    full = catalogue_table([])  # the labels the page sorts by are the table's own
    assert full.header("acc@1") == "Top-1 (%)"
