"""Several named reports in the cvlens home, saved atomically on every change.

``cvlens_home()/reports/<name>.json`` holds a report; ``reports/images/<sha256>.png`` the
PNG bytes of its image items and of the photos its computed items were computed from
(content-addressed: the same overlay added twice is stored once). Every change is one :func:`update`: under a lock file it reads the report, checks
that the caller's revision is still the stored one (two browser tabs editing one report:
the second tab's edit based on an older revision raises :class:`ReportConflictError`
instead of silently overwriting the first tab's), applies the change, bumps the revision
and writes the file atomically (:mod:`cvcore.storage`). Appending an item never conflicts:
it is based on whatever is stored. A report file hand-edited into invalid JSON raises
:class:`ReportDamagedError` once and is kept aside (``name.json.damaged-N``), never deleted.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cvcore.errors import CvlensError, InvalidInputError
from cvcore.report.model import MAX_IMAGE_BYTES, MAX_ITEMS, Item, Report, check_text, note_item, now_text
from cvcore.storage import StorageError, atomic_write, atomic_write_json, describe_os_error, home_path, quarantine, read_json

FOLDER = "reports"
DEFAULT_NAME = "defense"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_THREADS = threading.Lock()  # the sessions of one server; the lock file adds other processes (the CLI) where flock exists

try:
    import fcntl
except ImportError:  # Windows: one server process still serialises its own sessions
    fcntl = None


class ReportError(CvlensError):
    """A report that cannot be read, found or changed as asked; the message is meant for the user."""


class ReportNotFoundError(ReportError, FileNotFoundError):
    """No report of that name in the cvlens home."""


class ReportExistsError(ReportError, FileExistsError):
    """A report of that name exists already (create or rename onto it)."""


class ReportConflictError(ReportError):
    """The report changed (in another tab or process) since the caller read it; nothing was saved."""

    def __init__(self, name: str, expected: int, stored: int):
        self.name, self.expected, self.stored = name, expected, stored
        super().__init__(
            f"Report {name!r} was changed elsewhere (another tab?) since you opened it: you edited revision {expected}, "
            f"the saved one is revision {stored}. Your last change was not saved; the report is shown as saved now."
        )


class ReportDamagedError(ReportError):
    """A report file that is not valid report JSON; it was renamed aside, not deleted."""


@dataclass(frozen=True)
class ReportSummary:
    name: str
    title: str
    item_count: int
    revision: int
    updated: str


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not NAME_PATTERN.match(name):
        raise InvalidInputError(
            f"Report name {name!r} is not allowed: use 1 to 64 letters, digits, '-' or '_', starting with a letter or digit."
        )
    return name


def reports_dir() -> Path:
    return home_path(FOLDER, "x").parent


def report_path(name: str) -> Path:
    return reports_dir() / f"{check_name(name)}.json"


def images_dir() -> Path:
    return home_path(FOLDER, "images", "x").parent


def image_path(sha256: str) -> Path:
    if not re.fullmatch(r"[0-9a-f]{64}", sha256 or ""):
        raise ReportDamagedError(f"An image item names {sha256!r}, which is not a sha256.")
    return images_dir() / f"{sha256}.png"


def exists(name: str) -> bool:
    return report_path(name).is_file()


def list_reports() -> list[ReportSummary]:
    """Every report in the cvlens home, by name; a damaged file is listed with a note, not moved (loading it moves it)."""
    summaries = []
    for path in sorted(reports_dir().glob("*.json")):
        if not NAME_PATTERN.match(path.stem):
            continue
        try:
            report = _parse(path)
        except ReportDamagedError:
            summaries.append(ReportSummary(path.stem, "(damaged: open it to keep the file aside)", 0, -1, ""))
            continue
        summaries.append(ReportSummary(report.name, report.title, len(report.items), report.revision, report.updated))
    return summaries


def load_report(name: str) -> Report:
    """The saved report; a damaged file raises :class:`ReportDamagedError` after being renamed aside."""
    path = report_path(name)
    if not path.is_file():
        raise ReportNotFoundError(f"There is no report {name!r} (in {path.parent}). Create it first.")
    try:
        return _parse(path)
    except ReportDamagedError as exc:
        kept = quarantine(path)
        raise ReportDamagedError(f"{exc} It was kept as {kept.name}; a new, empty report {name!r} can be started.") from exc


def create_report(name: str, title: str = "", author: str = "") -> Report:
    name = check_name(name)
    with _locked():
        if exists(name):
            raise ReportExistsError(f"A report named {name!r} exists already.")
        report = Report(
            name=name, title=check_text(title, "title"), author=check_text(author, "author"), revision=1, updated=now_text()
        )
        _write(report)
    return report


def open_or_create(name: str = DEFAULT_NAME) -> Report:
    """The report ``name``, created empty when there is none (a damaged one is kept aside and raises)."""
    try:
        return load_report(name)
    except ReportNotFoundError:
        with contextlib.suppress(ReportExistsError):  # another tab created it meanwhile
            return create_report(name)
        return load_report(name)


def update(name: str, change: Callable[[Report], None], expected_revision: int | None) -> Report:
    """Apply ``change`` to the saved report and save it; ``expected_revision`` None: based on whatever is saved."""
    with _locked():
        report = load_report(name)
        if expected_revision is not None and report.revision != expected_revision:
            raise ReportConflictError(name, expected_revision, report.revision)
        change(report)
        report.revision += 1
        report.updated = now_text()
        _write(report)
    return report


def add_item(name: str, item: Item, *, image_png: bytes | None = None, create: bool = True) -> Report:
    """Append ``item`` to report ``name`` (created when missing and ``create``); an image item passes its PNG bytes."""
    if item.kind == "image":
        item.image_sha256 = store_image(image_png or b"")
    if item.rebuild is not None and item.rebuild.input_pngs is not None:
        item.rebuild.inputs = [store_image(png) for png in item.rebuild.input_pngs()]
    item.weights_when_added = weights_here(item.models)
    if create:
        open_or_create(name)

    def append(report: Report) -> None:
        if len(report.items) >= MAX_ITEMS:
            raise InvalidInputError(f"Report {name!r} holds {MAX_ITEMS} items, the most one report may hold; start another.")
        report.items.append(item)

    return update(name, append, None)


def add_note(name: str, text: str, expected_revision: int | None, *, after: str | None = None) -> Report:
    """A text note after item ``after`` (an item id), else at the end."""
    note = note_item(text)

    def insert(report: Report) -> None:
        position = report.index_of(after) + 1 if after else len(report.items)
        report.items.insert(position, note)

    return update(name, insert, expected_revision)


def move_item(name: str, item_id: str, offset: int, expected_revision: int | None) -> Report:
    """Move an item ``offset`` places (-1 up, +1 down); at either end it stays."""

    def move(report: Report) -> None:
        here = report.index_of(item_id)
        there = max(0, min(len(report.items) - 1, here + offset))
        report.items.insert(there, report.items.pop(here))

    return update(name, move, expected_revision)


def remove_item(name: str, item_id: str, expected_revision: int | None) -> Report:
    return update(name, lambda report: report.items.pop(report.index_of(item_id)), expected_revision)


def edit_caption(name: str, item_id: str, caption: str, expected_revision: int | None) -> Report:
    """A new caption (a note: its text)."""
    check_text(caption, "caption")

    def edit(report: Report) -> None:
        item = report.items[report.index_of(item_id)]
        if item.kind == "note":
            item.text = caption
        else:
            item.caption = caption

    return update(name, edit, expected_revision)


def set_details(name: str, title: str, author: str, expected_revision: int | None) -> Report:
    check_text(title, "title")
    check_text(author, "author")

    def edit(report: Report) -> None:
        report.title, report.author = title, author

    return update(name, edit, expected_revision)


def rename_report(old: str, new: str) -> Report:
    new = check_name(new)
    with _locked():
        report = load_report(old)
        if exists(new):
            raise ReportExistsError(f"A report named {new!r} exists already; choose another name.")
        report.name = new
        report.revision += 1
        report.updated = now_text()
        _write(report)
        report_path(old).unlink()
    return report


def delete_report(name: str) -> None:
    """Remove the report file; images no other report uses go too."""
    with _locked():
        path = report_path(name)
        if not path.is_file():
            raise ReportNotFoundError(f"There is no report {name!r}.")
        path.unlink()
        _remove_unused_images()


def weights_here(models) -> dict[str, bool]:
    """Whether each model's trained weights are on this machine now (a file check, no hashing)."""
    from cvcore.report.export import model_state

    return {name: model_state(name, with_sha256=False).present for name in models}


def store_image(png: bytes) -> str:
    """Keep PNG bytes under their sha256 (written once, atomically); returns the sha256."""
    if not png.startswith(PNG_SIGNATURE):
        raise InvalidInputError("A report image must be a PNG file.")
    if len(png) > MAX_IMAGE_BYTES:
        raise InvalidInputError(
            f"The image is {len(png) / 2**20:.1f} MB; a report image holds at most {MAX_IMAGE_BYTES // 2**20} MB."
        )
    digest = hashlib.sha256(png).hexdigest()
    path = image_path(digest)
    if not path.is_file():
        atomic_write(path, png)
    return digest


def image_bytes(sha256: str) -> bytes | None:
    """An image item's PNG, or None when its file is gone (or a hand-edited item names no valid sha256)."""
    try:
        return image_path(sha256).read_bytes()
    except (FileNotFoundError, ReportDamagedError):
        return None


def _parse(path: Path) -> Report:
    try:
        data = read_json(path)
    except StorageError as exc:
        raise ReportDamagedError(
            f"The report file {path.name} is not valid JSON (hand-edited?): {exc.__cause__ or exc}."
        ) from exc
    try:
        report = Report.from_json(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ReportDamagedError(
            f"The report file {path.name} is JSON but not a cvlens report ({type(exc).__name__}: {exc})."
        ) from exc
    report.name = path.stem  # the file name wins over a hand-edited "name"
    return report


def _write(report: Report) -> None:
    atomic_write_json(report_path(report.name), report.to_json())


def _remove_unused_images() -> None:
    """Images no report uses; none while a damaged report is kept (its images cannot be told apart)."""
    if any(reports_dir().glob("*.json.damaged-*")):
        return
    used = set()
    for path in reports_dir().glob("*.json"):
        try:
            items = _parse(path).items
            used |= {i.image_sha256 for i in items if i.kind == "image"}
            used |= {sha for i in items if i.rebuild for sha in i.rebuild.inputs}
        except ReportDamagedError:
            return
    for image in images_dir().glob("*.png"):
        if image.stem not in used:
            with contextlib.suppress(OSError):
                image.unlink()


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """One writer at a time across threads and processes (every browser session of a server, the CLI)."""
    lock = reports_dir() / ".lock"
    try:
        handle = open(lock, "a+")  # noqa: SIM115 (held for the whole block)
    except OSError as exc:
        raise StorageError(f"Cannot open {lock}: {describe_os_error(exc)}.") from exc
    with _THREADS, handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)
