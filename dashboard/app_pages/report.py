"""Report: the defense report filled with "Add to report" on every page; order, captions, notes, export.

Widgets -> cvcore.report -> display. The report lives in the cvlens home and is saved on
every change, so a reload or a server restart loses nothing. Every edit carries the
revision this tab last showed: if another tab changed the report since, the edit is
refused (cvcore.report.ReportConflictError), the page shows the saved report and says so.
"""

from __future__ import annotations

import streamlit as st

from cvcore.errors import CvlensError
from cvcore.figures import figure_caption, with_caption
from cvcore.report import (
    DEFAULT_NAME,
    ReportConflictError,
    ReportDamagedError,
    add_note,
    create_report,
    delete_report,
    edit_caption,
    list_reports,
    move_item,
    open_or_create,
    remove_item,
    rename_report,
    set_details,
)
from cvcore.report.export import gone_note, item_numbers, model_states, render_static, report_html, report_zip
from cvcore.report.store import image_bytes
from dashboard import state
from dashboard.common import as_text, show_text
from dashboard.export import safe_stem, show_caption, table_frame


def act(change, *args, **kwargs) -> None:
    """Run one cvcore.report change with the revision this tab showed; a conflict or bad input becomes a message."""
    try:
        change(*args, **kwargs)
    except ReportConflictError as exc:
        st.session_state[state.REPORT_MESSAGE] = ("warning", str(exc))
    except CvlensError as exc:
        st.session_state[state.REPORT_MESSAGE] = ("error", str(exc))


def shown_revision() -> int | None:
    return st.session_state.get(state.REPORT_REVISION)


def choose(name: str, *, from_callback: bool = True) -> None:
    """Make ``name`` this session's report; a callback also moves the chooser (a drawn widget cannot be set)."""
    st.session_state[state.REPORT_CURRENT] = name
    st.session_state.pop(state.REPORT_REVISION, None)
    if from_callback:
        st.session_state[state.REPORT_CHOOSE] = name


def create() -> None:
    name = (st.session_state.get(state.REPORT_NEW_NAME) or "").strip()
    try:
        create_report(name)
    except CvlensError as exc:
        st.session_state[state.REPORT_MESSAGE] = ("error", str(exc))
        return
    choose(name)


def rename(old: str) -> None:
    new = (st.session_state.get(state.REPORT_RENAME_TO) or "").strip()
    try:
        rename_report(old, new)
    except CvlensError as exc:
        st.session_state[state.REPORT_MESSAGE] = ("error", str(exc))
        return
    choose(new)
    st.session_state[state.REPORT_MESSAGE] = ("success", f"Renamed to {new!r}.")


def delete(name: str) -> None:
    act(delete_report, name)
    choose(DEFAULT_NAME)


def save_details(name: str) -> None:
    title = st.session_state.get(f"{state.REPORT_TITLE}.{name}", "")
    author = st.session_state.get(f"{state.REPORT_AUTHOR}.{name}", "")
    act(set_details, name, title, author, shown_revision())


def save_caption(name: str, item_id: str) -> None:
    act(edit_caption, name, item_id, st.session_state.get(f"{state.REPORT_ITEM}.{item_id}.caption", ""), shown_revision())


def note(name: str, after: str | None) -> None:
    text = (st.session_state.get(state.REPORT_NOTE) or "").strip()
    if not text:
        st.session_state[state.REPORT_MESSAGE] = ("info", "Type the note first.")
        return
    act(add_note, name, text, shown_revision(), after=after)
    st.session_state[state.REPORT_NOTE] = ""


def show_message() -> None:
    message = st.session_state.pop(state.REPORT_MESSAGE, None)
    if message:
        kind, text = message
        show_text(getattr(st, kind), text)


def load(name: str):
    """The saved report (created empty when new); a damaged file is kept aside, said, and replaced by an empty one."""
    try:
        return open_or_create(name)
    except ReportDamagedError as exc:
        st.error(as_text(exc))
        return open_or_create(name)


def show_chooser(name: str) -> None:
    names = list(dict.fromkeys([name, *(s.name for s in list_reports())]))
    with st.container(horizontal=True, vertical_alignment="bottom"):
        picked = st.selectbox("Report", names, index=names.index(name), key=state.REPORT_CHOOSE)
        st.text_input("New report", key=state.REPORT_NEW_NAME, placeholder="e.g. defense-v2")
        st.button("Create", key=state.REPORT_CREATE, on_click=create, icon=":material/add:")
    if picked != name:
        choose(picked, from_callback=False)
        st.rerun()


def show_details(report) -> None:
    with st.container(horizontal=True, vertical_alignment="bottom"):
        st.text_input("Title", value=report.title, key=f"{state.REPORT_TITLE}.{report.name}")
        st.text_input("Author", value=report.author, key=f"{state.REPORT_AUTHOR}.{report.name}")
        st.button("Save title and author", key=state.REPORT_SAVE_DETAILS, on_click=save_details, args=(report.name,))
    with st.expander("Rename or delete this report"):
        with st.container(horizontal=True, vertical_alignment="bottom"):
            st.text_input("New name", key=state.REPORT_RENAME_TO)
            st.button("Rename", key=state.REPORT_RENAME, on_click=rename, args=(report.name,))
        st.button("Delete this report", key=state.REPORT_DELETE, on_click=delete, args=(report.name,), type="secondary",
                  help="Removes the report file; its images go too unless another report uses them.")  # fmt: skip


def show_item(report, position: int, item, number: str, states: dict) -> None:
    key = f"{state.REPORT_ITEM}.{item.id}"
    name, revision = report.name, report.revision
    with st.container(border=True):
        with st.container(horizontal=True, vertical_alignment="center"):
            st.markdown(f"**{position + 1}. {number or 'Note'}**" + (f" · from {as_text(item.page)}" if item.page else ""))
            st.button("", key=f"{key}.up", icon=":material/arrow_upward:", help="Move up", on_click=act,
                      args=(move_item, name, item.id, -1, revision), disabled=position == 0)  # fmt: skip
            st.button("", key=f"{key}.down", icon=":material/arrow_downward:", help="Move down", on_click=act,
                      args=(move_item, name, item.id, 1, revision), disabled=position == len(report.items) - 1)  # fmt: skip
            st.button("", key=f"{key}.remove", icon=":material/delete:", help="Remove from the report", on_click=act,
                      args=(remove_item, name, item.id, revision))  # fmt: skip
        show_preview(item, states)
        text = item.text if item.kind == "note" else item.caption
        st.text_area("Note" if item.kind == "note" else "Caption", value=text, key=f"{key}.caption", height=80)
        st.button("Save", key=f"{key}.save", on_click=save_caption, args=(name, item.id))


def show_preview(item, states: dict) -> None:
    if item.kind == "note":
        st.markdown(as_text(item.text))
        return
    if item.kind == "table":
        table = item.as_table()
        st.dataframe(table_frame(table), hide_index=True)
        show_caption(table.caption, table.sources)
    elif item.kind == "figure":
        import plotly.graph_objects as go

        st.plotly_chart(
            with_caption(go.Figure(item.figure), figure_caption(item.caption, item.sources)),
            key=f"{state.REPORT_PREVIEW}.{item.id}",
        )
    else:
        png = image_bytes(item.image_sha256 or "")
        if png is None:
            st.warning("This image's file is missing from the cvlens home.")
        else:
            st.image(png, width=480)
        show_text(st.caption, item.caption)
    gone = gone_note(item, states)
    if gone:
        show_text(st.warning, gone)
    if item.rebuild and item.rebuild.command:
        command = item.rebuild.command.replace("`", "'")
        st.caption(f"Rebuild: `{command}`")


def show_note_form(report) -> None:
    st.subheader("Add a text note")
    numbers = item_numbers(report)
    places = [None, *(i.id for i in report.items)]
    labels = {
        None: "at the end",
        **{i.id: f"after {n + 1}. {numbers.get(i.id, 'Note')}: {i.title}" for n, i in enumerate(report.items)},
    }
    after = st.selectbox("Place", places, format_func=lambda p: labels[p], key=f"{state.REPORT_NOTE}.place")
    st.text_area("Note", key=state.REPORT_NOTE, placeholder="What the committee should read between two items.")
    st.button("Add note", key=state.REPORT_ADD_NOTE, on_click=note, args=(report.name, after))


def show_exports(report) -> None:
    st.subheader("Export")
    st.caption(
        "**HTML**: one file that opens offline on any machine (plotly.js and images inside), printable to PDF from the "
        "browser. **ZIP**: each figure as SVG and PNG (rendered here with the system Chromium), each table as CSV and "
        "LaTeX, manifest.json (versions, device, weights and their sha256, datasets) and regenerate.sh."
    )
    stem = safe_stem(report.name)
    with st.container(horizontal=True):
        st.download_button("HTML", data=lambda: report_html(report), file_name=f"{stem}.html", mime="text/html",
                           key=state.REPORT_HTML, on_click="ignore", icon=":material/download:")  # fmt: skip
        st.download_button("ZIP", data=lambda: report_zip(report, static=render_static(report)), file_name=f"{stem}.zip",
                           mime="application/zip", key=state.REPORT_ZIP, on_click="ignore", icon=":material/download:")  # fmt: skip


st.title("Report")
st.caption(
    "Your defense report: every page's figures, tables and images join it with **Add to report**. It is saved in the "
    "cvlens home on every change (a reload or a restart loses nothing); several named reports can be kept. "
    "Also from the command line: `python -m cvcore report list`, `report export NAME --html out.html --zip out.zip`."
)
current = st.session_state.get(state.REPORT_CURRENT) or DEFAULT_NAME
show_message()
show_chooser(current)
report = load(current)
st.session_state[state.REPORT_CURRENT] = report.name
if shown_revision() is not None and shown_revision() != report.revision:
    st.info(f"The report changed since this tab last showed it (now revision {report.revision}): shown as saved.")
st.session_state[state.REPORT_REVISION] = report.revision
show_details(report)
numbers = item_numbers(report)
states = model_states(report, with_sha256=False)
st.subheader(f"{len(report.items)} items")
if not report.items:
    st.info("Empty so far: use **Add to report** beside any figure, table or image on the other pages.")
for position, item in enumerate(report.items):
    show_item(report, position, item, numbers.get(item.id, ""), states)
show_note_form(report)
show_exports(report)
