"""What a defense report holds: a title, an author and an ordered list of items.

An item is a table (a :class:`cvcore.formatting.Table`'s rows, labels and sources), a
figure (plotly's figure JSON), an image (PNG bytes, stored beside the report and named by
their sha256) or a text note. Every computed item also says how to rebuild it
(:class:`Rebuild`: the ``python -m cvcore ...`` command where one exists, and the cvcore
call with its parameters), and which models and datasets it used, so an exported report can
be regenerated and its weights checked.

Plain data, JSON in and out; no Streamlit, no torch.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cvcore.errors import InvalidInputError
from cvcore.formatting import Table, to_jsonable

KINDS = ("table", "figure", "image", "note")
FORMAT_VERSION = 1

# Bounds on what one report may hold: a report is read, rendered and exported whole on every rerun.
MAX_ITEMS = 200
MAX_TABLE_ROWS = 5000
MAX_TEXT_CHARS = 20_000  # a note or a caption
MAX_FIGURE_JSON_BYTES = 20 * 2**20
MAX_IMAGE_BYTES = 20 * 2**20


FIGURE_OUTPUT = "FIGURE.html"  # in a figure's command: where regenerate.sh puts the rebuilt figure
FIGURE_PNG_OUTPUT = "FIGURE.png"  # the same, for a command that writes its figure as PNG (analyze --erf --out)


def photo_input(n: int) -> str:
    """The word for the ``n``-th input photo (from 1) in a command: regenerate.sh points it at photos/ in the ZIP."""
    return f"PHOTO{n}.png"


def cli_command(*words: str) -> str:
    """``python -m cvcore`` and ``words``, quoted for a POSIX shell (a figure's ``--html`` names :data:`FIGURE_OUTPUT`)."""
    import shlex

    return "python -m cvcore " + shlex.join(str(w) for w in words)


@dataclass
class Rebuild:
    """How to compute an item again: a CLI line and/or the cvcore call with its parameters.

    An item computed from photos (an upload, a mask) names them :func:`photo_input` words in
    its command; ``input_pngs`` gives their PNG bytes when the item is added (on click only:
    encoding a photo costs tens of ms), and the report keeps them as ``inputs`` (sha256s of
    files beside its images), so the ZIP can carry the very pixels the numbers came from.
    """

    command: str | None = None  # "python -m cvcore papers resnet --table 'Table 1'"
    call: str | None = None  # "cvcore.compare.delta_table"
    params: dict[str, Any] = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)  # sha256 of each input photo's PNG, PHOTO1.png first
    input_pngs: Callable[[], Sequence[bytes]] | None = field(default=None, repr=False, compare=False)  # not saved

    def to_json(self) -> dict:
        return {"command": self.command, "call": self.call, "params": to_jsonable(self.params), "inputs": list(self.inputs)}

    @classmethod
    def from_json(cls, data: dict | None) -> Rebuild | None:
        if not data:
            return None
        return cls(
            command=data.get("command"), call=data.get("call"), params=dict(data.get("params") or {}),
            inputs=[str(i) for i in data.get("inputs") or []],
        )  # fmt: skip


@dataclass
class Item:
    kind: str
    caption: str = ""
    sources: list[str] = field(default_factory=list)
    table: dict | None = None  # {"rows", "columns", "labels", "caption"}: a Table as JSON
    figure: dict | None = None  # plotly figure JSON ({"data", "layout"})
    image_sha256: str | None = None  # the PNG's bytes live in reports/images/<sha256>.png
    text: str = ""  # a note's text
    rebuild: Rebuild | None = None
    models: list[str] = field(default_factory=list)  # catalogue names the item's numbers came from
    weights_when_added: dict[str, bool] = field(default_factory=dict)  # model -> were its trained weights here then
    datasets: list[dict] = field(default_factory=list)  # {"name", "fingerprint"} where the item has them
    page: str = ""  # the dashboard page (or "cli") that added it
    file_stem: str = ""
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    added: str = field(default_factory=lambda: now_text())

    def to_json(self) -> dict:
        data = {
            "id": self.id, "kind": self.kind, "caption": self.caption, "sources": list(self.sources),
            "page": self.page, "file_stem": self.file_stem, "added": self.added,
            "models": list(self.models), "weights_when_added": dict(self.weights_when_added), "datasets": to_jsonable(self.datasets),
            "rebuild": self.rebuild.to_json() if self.rebuild else None,
        }  # fmt: skip
        if self.kind == "table":
            data["table"] = self.table
        elif self.kind == "figure":
            data["figure"] = self.figure
        elif self.kind == "image":
            data["image_sha256"] = self.image_sha256
        else:
            data["text"] = self.text
        return data

    @classmethod
    def from_json(cls, data: dict) -> Item:
        kind = data["kind"]
        if kind not in KINDS:
            raise ValueError(f"unknown item kind {kind!r}")
        return cls(
            kind=kind, caption=str(data.get("caption") or ""), sources=[str(s) for s in data.get("sources") or []],
            table=data.get("table"), figure=data.get("figure"), image_sha256=data.get("image_sha256"),
            text=str(data.get("text") or ""), rebuild=Rebuild.from_json(data.get("rebuild")),
            models=[str(m) for m in data.get("models") or []], datasets=list(data.get("datasets") or []),
            weights_when_added={str(k): bool(v) for k, v in (data.get("weights_when_added") or {}).items()},
            page=str(data.get("page") or ""), file_stem=str(data.get("file_stem") or ""),
            id=str(data["id"]), added=str(data.get("added") or ""),
        )  # fmt: skip

    def as_table(self) -> Table:
        """A table item as the :class:`Table` it was added from (its caption may have been edited since)."""
        stored = self.table or {}
        return Table(
            rows=[dict(r) for r in stored.get("rows") or []],
            columns=stored.get("columns"),
            labels=dict(stored.get("labels") or {}),
            caption=self.caption,
            sources=list(self.sources),
            local_columns=tuple(stored.get("local_columns") or ()),
            latex_columns=stored.get("latex_columns"),
            note_columns=tuple(stored.get("note_columns") or ()),
            latex_labels=dict(stored.get("latex_labels") or {}),
            footer_rows=int(stored.get("footer_rows") or 0),
        )

    @property
    def title(self) -> str:
        """One line naming the item in lists (its caption's first sentence, else its kind)."""
        text = " ".join((self.caption or self.text).split()) or self.kind
        return text if len(text) <= 90 else text[:87] + "..."


@dataclass
class Report:
    name: str
    title: str = ""
    author: str = ""
    items: list[Item] = field(default_factory=list)
    revision: int = 0  # +1 on every save: a save based on an older revision is refused
    created: str = field(default_factory=lambda: now_text())
    updated: str = ""

    def to_json(self) -> dict:
        return {
            "format": FORMAT_VERSION, "name": self.name, "title": self.title, "author": self.author,
            "revision": self.revision, "created": self.created, "updated": self.updated,
            "items": [item.to_json() for item in self.items],
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: dict) -> Report:
        return cls(
            name=str(data["name"]), title=str(data.get("title") or ""), author=str(data.get("author") or ""),
            items=[Item.from_json(i) for i in data.get("items") or []], revision=int(data.get("revision") or 0),
            created=str(data.get("created") or ""), updated=str(data.get("updated") or ""),
        )  # fmt: skip

    @property
    def computed_items(self) -> list[Item]:
        return [i for i in self.items if i.kind != "note"]

    def index_of(self, item_id: str) -> int:
        for n, item in enumerate(self.items):
            if item.id == item_id:
                return n
        raise InvalidInputError(f"Report {self.name!r} has no item {item_id!r} (it may have been removed in another tab).")


def now_text() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def check_text(text: str, what: str) -> str:
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidInputError(f"The {what} is {len(text):,} characters long; at most {MAX_TEXT_CHARS:,} fit in a report.")
    return text


def table_item(
    table: Table, *, rebuild: Rebuild | None = None, models=(), datasets=(), page: str = "", file_stem: str = ""
) -> Item:
    """An item holding ``table``'s rows, columns, labels, caption and sources."""
    if len(table.rows) > MAX_TABLE_ROWS:
        raise InvalidInputError(f"The table has {len(table.rows):,} rows; a report item holds at most {MAX_TABLE_ROWS:,}.")
    stored = {
        "rows": to_jsonable(table.rows), "columns": table.columns, "labels": dict(table.labels),
        # how the files show it: machine-only columns left out, the printed columns, notes as marks, totals last
        "local_columns": list(table.local_columns), "latex_columns": table.latex_columns,
        "note_columns": list(table.note_columns), "latex_labels": dict(table.latex_labels), "footer_rows": table.footer_rows,
    }  # fmt: skip
    return Item(
        kind="table", caption=check_text(table.caption, "caption"), sources=list(dict.fromkeys(table.sources)),
        table=stored, rebuild=rebuild, models=list(models), datasets=list(datasets), page=page, file_stem=file_stem,
    )  # fmt: skip


def figure_item(
    figure,
    caption: str,
    sources=(),
    *,
    rebuild: Rebuild | None = None,
    models=(),
    datasets=(),
    page: str = "",
    file_stem: str = "",
) -> Item:
    """An item holding a plotly figure (a ``go.Figure`` or its JSON dict), without the caption drawn in: it is drawn on export."""
    import json

    data = figure if isinstance(figure, dict) else json.loads(figure.to_json())
    size = len(json.dumps(data))
    if size > MAX_FIGURE_JSON_BYTES:
        raise InvalidInputError(
            f"The figure's data is {size / 2**20:.0f} MB; a report item holds at most {MAX_FIGURE_JSON_BYTES // 2**20} MB."
        )
    return Item(
        kind="figure", caption=check_text(caption, "caption"), sources=list(dict.fromkeys(sources)), figure=data,
        rebuild=rebuild, models=list(models), datasets=list(datasets), page=page, file_stem=file_stem,
    )  # fmt: skip


def image_item(
    caption: str, sources=(), *, rebuild: Rebuild | None = None, models=(), datasets=(), page: str = "", file_stem: str = ""
) -> Item:
    """An image item (an overlay, a saliency grid); its PNG bytes go to :func:`cvcore.report.store.add_item`."""
    return Item(
        kind="image", caption=check_text(caption, "caption"), sources=list(dict.fromkeys(sources)), rebuild=rebuild,
        models=list(models), datasets=list(datasets), page=page, file_stem=file_stem,
    )  # fmt: skip


def note_item(text: str) -> Item:
    return Item(kind="note", text=check_text(text, "note"), page="report")
