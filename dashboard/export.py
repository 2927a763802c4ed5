"""Downloads every page shares, so a chart or table can go straight into the defense slides.

- :func:`show_figure`: a plotly chart whose camera button saves PNG or SVG (plotly's
  in-browser export, with a file name and scale), plus a standalone, offline HTML download.
- :func:`download_table`: CSV and LaTeX (booktabs) downloads of a :class:`cvcore.formatting.Table`.
- :func:`show_table`: the table on screen, its caption, and both downloads. A click on a
  column header sorts the table here, on the server (a click again reverses it), so the
  CSV and LaTeX files hold the rows in the order the screen shows: the browser's own
  sorting, which the server never learns of, is replaced by this (a selected column).
- Each also has an "Add to report" button (:mod:`dashboard.report_buttons`); ``rebuild``
  says how to compute the item again (its ``python -m cvcore`` line) where the page knows it.

Everything exported carries a caption line with its sources and the cvlens / torch /
torchvision versions (:func:`cvcore.formatting.provenance`): tables through
``Table.full_caption``, figures as an annotation under the plot, so a PNG pasted into
a slide still says where its numbers come from.

Widget keys are derived from the caller's ``key`` (``f"{key}.csv"``, ...); give each
call a key from ``dashboard.state``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import streamlit as st

from cvcore.figures import figure_caption, standalone_html, with_caption  # noqa: F401 (re-exported for pages)
from cvcore.formatting import Table, footnoted, merge_sources, provenance, sort_table, to_csv, to_latex, versions_line
from cvcore.report import Rebuild
from dashboard.report_buttons import add_figure_button, add_table_button

IMAGE_FORMATS = ("png", "svg")
IMAGE_SCALE = 2  # PNG at twice the on-screen size: sharp on a projector
LONG_CAPTION = 400  # characters of provenance shown inline under a table; longer folds away


def safe_stem(file_stem: str) -> str:
    """A file name stem without spaces or characters file systems dislike ("ResNet-50 @ 224" -> "ResNet-50_224")."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", file_stem).strip("._")
    return stem or "cvlens"


def plotly_config(file_stem: str, image_format: str = "png", scale: int = IMAGE_SCALE) -> dict:
    """``st.plotly_chart(config=...)``: the camera button saves ``<stem>.<format>`` at ``scale``."""
    if image_format not in IMAGE_FORMATS:
        raise ValueError(f"Unknown image format {image_format!r}; expected one of {IMAGE_FORMATS}.")
    return {
        "toImageButtonOptions": {"format": image_format, "filename": safe_stem(file_stem), "scale": scale},
        "displaylogo": False,
    }


def show_figure(
    fig,
    file_stem: str,
    caption: str,
    key: str,
    sources: Sequence[str] = (),
    rebuild: Rebuild | None = None,
    models: Sequence[str] = (),
) -> None:
    """Display a plotly figure with its caption, PNG/SVG export from the camera button, and an HTML download.

    ``caption`` says what the figure shows; ``sources`` are where its numbers come from.
    The caption (with sources and versions) is drawn into the figure itself, so it travels
    with every exported file, and is repeated under the chart on the page.
    """
    full = figure_caption(caption, sources)
    captioned = with_caption(fig, full)
    image_format = st.segmented_control(
        "Camera button saves",
        IMAGE_FORMATS,
        format_func=str.upper,
        default=IMAGE_FORMATS[0],
        key=f"{key}.image_format",
        help="The camera icon in the chart's toolbar saves the figure in this format, caption included.",
    )
    st.plotly_chart(captioned, key=f"{key}.chart", config=plotly_config(file_stem, image_format or IMAGE_FORMATS[0]))
    st.caption(full)
    st.download_button(
        "Download standalone HTML",
        data=lambda: standalone_html(captioned),  # built on click only: plotly.js makes it ~5 MB
        file_name=f"{safe_stem(file_stem)}.html",
        mime="text/html",
        key=f"{key}.html",
        on_click="ignore",
        icon=":material/download:",
    )
    add_figure_button(fig, caption, sources, file_stem, key, rebuild, models)  # rebuild: how to compute it again (CLI line)


def download_table(
    table: Table,
    file_stem: str,
    key: str,
    rebuild: Rebuild | None = None,
    models: Sequence[str] = (),
    datasets: Sequence[dict] = (),
) -> None:
    """CSV and LaTeX (booktabs) download buttons; both files end with the table's caption and provenance.

    Made on click (callable data): a page of tables would otherwise serialise every table twice per rerun, keep
    each file in the server's media store, and have the browser fetch them all before the page settles.
    """
    stem = safe_stem(file_stem)
    with st.container(horizontal=True):
        st.download_button(
            "CSV", data=lambda: to_csv(table), file_name=f"{stem}.csv", mime="text/csv", key=f"{key}.csv",
            on_click="ignore", icon=":material/download:",
        )  # fmt: skip
        st.download_button(
            "LaTeX", data=lambda: to_latex(table), file_name=f"{stem}.tex", mime="application/x-tex", key=f"{key}.latex",
            on_click="ignore", icon=":material/download:", help="A booktabs table: needs \\usepackage{booktabs}.",
        )  # fmt: skip
        add_table_button(table, file_stem, key, rebuild, models, datasets)


def table_frame(table: Table):
    """The table as a pandas DataFrame with its column labels as headers."""
    import pandas as pd

    columns = table.column_names
    frame = pd.DataFrame([[row.get(c) for c in columns] for row in table.rows], columns=columns)
    return frame.rename(columns={c: table.header(c) for c in columns})


def show_table(
    table: Table, file_stem: str, key: str, column_config: dict | None = None, *, rebuild: Rebuild | None = None,
    models: Sequence[str] = (), datasets: Sequence[dict] = (), **dataframe_kwargs,
) -> None:  # fmt: skip
    """Display a :class:`Table` (headers from its labels), its full caption, and CSV/LaTeX downloads in the shown order.

    ``column_config`` is keyed by the displayed header (the label), as ``st.dataframe`` sees it.
    Missing values show as "—" (not "None"). Long notes (``Table.note_columns``) show as marks
    a, b, ... with their full text under the table, where it can be read; the files keep them whole.
    """
    table = sorted_as_clicked(table, key)
    shown, notes = footnoted(table)
    st.dataframe(
        table_frame(shown), hide_index=True, column_config=column_config, key=f"{key}.frame", placeholder=MISSING,
        on_select="rerun", selection_mode="single-column", **dataframe_kwargs,
    )  # fmt: skip
    if notes:
        st.markdown("\n".join(f"- **{mark}**: {escape_markdown(text)}" for mark, text in notes))
    show_caption(table.caption, table.sources)
    if len(table.rows) > 1:
        show_sort_line(key)
    download_table(table, file_stem, key, rebuild, models, datasets)


MISSING = "—"


def escape_markdown(text: str) -> str:
    """Text shown as markdown without becoming markup (notes quote code: 'conv3_1', '*')."""
    return re.sub(r"([\\`*_{}\[\]<>()#+\-.!|~$])", r"\\\1", text)


def next_sort(sort: tuple[str, bool] | None, seen: list[str], selected: list[str]) -> tuple[str, bool] | None:
    """The sort after a header click: ``selected`` columns now, ``seen`` at the last run, ``sort`` = (column, descending).

    A click selects a header (or deselects the selected one): a click on the sorted column reverses it, on
    another column sorts by that one, ascending. No click, no change.
    """
    if selected == seen:
        return sort
    clicked = (selected or seen)[0]
    if sort is not None and sort[0] == clicked:
        return clicked, not sort[1]
    return clicked, False


def sorted_as_clicked(table: Table, key: str) -> Table:
    """The table in the order the user chose by clicking headers (kept per table key across reruns)."""
    event = st.session_state.get(f"{key}.frame")
    selected = list(event["selection"]["columns"]) if event else []
    seen = st.session_state.get(f"{key}.sort_seen", [])
    sort = next_sort(st.session_state.get(f"{key}.sort"), seen, selected)
    st.session_state[f"{key}.sort"], st.session_state[f"{key}.sort_seen"] = sort, selected
    if sort is None:
        return table
    by_header = {table.header(c): c for c in table.column_names}
    if sort[0] not in by_header:  # a column of another table under the same key (the page changed)
        st.session_state[f"{key}.sort"] = None
        return table
    return sort_table(table, by_header[sort[0]], descending=sort[1])


def show_sort_line(key: str) -> None:
    sort = st.session_state.get(f"{key}.sort")
    order = f"Sorted by {sort[0]}, {'descending' if sort[1] else 'ascending'}." if sort else "In the original order."
    with st.container(horizontal=True, vertical_alignment="center"):
        st.caption(f"{order} Click a column header to sort by it (again to reverse); the CSV and LaTeX files keep this order.")
        if sort and st.button("Original order", key=f"{key}.unsort", type="tertiary"):
            st.session_state[f"{key}.sort"] = None
            st.rerun()


def show_caption(caption: str, sources: Sequence[str] = ()) -> None:
    """Caption plus provenance under a table; a long list of sources folds into an expander."""
    line = provenance(sources)
    if len(line) <= LONG_CAPTION:
        st.caption(" ".join(p for p in (caption, line) if p))
        return
    st.caption(" ".join(p for p in (caption, f"Generated with {versions_line()}.") if p))
    with st.expander(f"Sources ({len(merge_sources(sources))})"):
        st.caption(line)
