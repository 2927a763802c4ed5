"""Defense reports: collect tables, figures, images and notes while working, export them whole.

- :mod:`cvcore.report.model`: :class:`Report`, :class:`Item`, :class:`Rebuild` and the item makers.
- :mod:`cvcore.report.store`: several named reports in the cvlens home, atomic saves, revisions.
- :mod:`cvcore.report.export`: one self-contained HTML file, and a ZIP with every figure as
  SVG/PNG, every table as CSV/LaTeX, ``manifest.json`` and ``regenerate.sh``.

No Streamlit, no torch at import.
"""

from cvcore.report.model import (
    FIGURE_OUTPUT,
    FIGURE_PNG_OUTPUT,
    Item,
    Rebuild,
    Report,
    cli_command,
    figure_item,
    image_item,
    note_item,
    photo_input,
    table_item,
)
from cvcore.report.store import (
    DEFAULT_NAME,
    ReportConflictError,
    ReportDamagedError,
    ReportError,
    ReportExistsError,
    ReportNotFoundError,
    add_item,
    add_note,
    create_report,
    delete_report,
    edit_caption,
    list_reports,
    load_report,
    move_item,
    open_or_create,
    remove_item,
    rename_report,
    set_details,
    update,
)

__all__ = [
    "DEFAULT_NAME", "FIGURE_OUTPUT", "FIGURE_PNG_OUTPUT", "cli_command", "photo_input", "Item", "Rebuild", "Report", "ReportConflictError", "ReportDamagedError", "ReportError",
    "ReportExistsError", "ReportNotFoundError", "add_item", "add_note", "create_report", "delete_report", "edit_caption",
    "figure_item", "image_item", "list_reports", "load_report", "move_item", "note_item", "open_or_create", "remove_item",
    "rename_report", "set_details", "table_item", "update",
]  # fmt: skip
