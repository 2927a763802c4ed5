""" "Add to report" buttons beside every download, so a page's figure, table or image joins the defense report.

:func:`dashboard.export.show_figure` and :func:`dashboard.export.download_table` (so every
:func:`~dashboard.export.show_table`) draw one; pages that show photos (Segmentation,
Saliency) call :func:`add_image_button` beside their PNG downloads. Items go to the
session's current report (chosen on the Report page; ``defense`` until then), which
:mod:`cvcore.report` saves in the cvlens home at once: a reload or a restart loses nothing.
The item is built when the button is clicked (a figure's JSON costs a few ms per rerun otherwise).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import streamlit as st

from cvcore.errors import CvlensError
from cvcore.formatting import Table
from cvcore.report import DEFAULT_NAME, Rebuild, add_item, figure_item, image_item, table_item
from dashboard import state
from dashboard.common import as_text

BUTTON_LABEL = "Add to report"
ICON = ":material/playlist_add:"


def current_report() -> str:
    """The report this session adds to."""
    return st.session_state.get(state.REPORT_CURRENT) or DEFAULT_NAME


def page_of(key: str) -> str:
    """The page an item came from, read off its widget key ("compare.deltas" -> "Compare")."""
    return key.split(".")[0].replace("_", " ").capitalize()


def add_table_button(
    table: Table,
    file_stem: str,
    key: str,
    rebuild: Rebuild | None = None,
    models: Sequence[str] = (),
    datasets: Sequence[dict] = (),
) -> None:
    """``datasets``: fingerprints of the data the numbers were measured on (an evaluation's), for the manifest."""

    def make():
        return table_item(table, rebuild=rebuild, models=models, datasets=datasets, page=page_of(key), file_stem=file_stem), None

    _button(make, key)


def add_figure_button(
    fig,
    caption: str,
    sources: Sequence[str],
    file_stem: str,
    key: str,
    rebuild: Rebuild | None = None,
    models: Sequence[str] = (),
) -> None:
    """``fig`` without its drawn caption: the report draws the (editable) caption when it exports."""

    def make():
        return figure_item(fig, caption, sources, rebuild=rebuild, models=models, page=page_of(key), file_stem=file_stem), None

    _button(make, key)


def add_image_button(
    png: Callable[[], bytes],
    caption: str | Callable[[], str],
    file_stem: str,
    key: str,
    sources: Sequence[str] = (),
    models: Sequence[str] = (),
) -> None:
    """An image item; ``png`` encodes the picture on click only (tens of ms per full-size overlay). A callable
    ``caption`` is read on click too: for a picture whose scores arrive after it is drawn."""
    _button(
        lambda: (
            image_item(caption() if callable(caption) else caption, sources, models=models, page=page_of(key), file_stem=file_stem),
            png(),
        ),
        key,
    )


def _button(make: Callable, key: str) -> None:
    st.button(
        BUTTON_LABEL,
        key=f"{key}.report",
        on_click=_add,
        args=(make,),
        icon=ICON,
        help=f"Append to the report '{current_report()}' (Report page).",
    )


def _add(make: Callable) -> None:
    name = current_report()
    try:
        item, png = make()
        report = add_item(name, item, image_png=png)
    except CvlensError as exc:
        st.toast(as_text(f"Not added: {exc}"), icon="⚠️")
        return
    if st.session_state.get(state.REPORT_REVISION) == report.revision - 1:
        st.session_state[state.REPORT_REVISION] = report.revision  # this session's own addition is no news to its Report page
    st.toast(as_text(f"Added to the report '{name}' as item {len(report.items)}."), icon="✅")
