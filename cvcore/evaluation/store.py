"""Stored evaluations: ``cvlens_home()/evaluations/<model>/<UTC timestamp>.json``, written atomically.

Writes go through :func:`cvcore.storage.atomic_write_json` (temp file, fsync, rename): a
crash or a kill leaves the previous results and never a half-written one. Reading a damaged
file reports it (:class:`StoredEvaluation.error`) instead of hiding it or failing the list.
Imports no torch.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, unquote

from cvcore.errors import CvlensError, InvalidInputError
from cvcore.evaluation.results import Evaluation, evaluation_from_dict
from cvcore.storage import StorageError, atomic_write_json, cvlens_home, home_path, read_json

FOLDER = "evaluations"
MAX_NAME_CHARS = 200


@dataclass(frozen=True)
class StoredEvaluation:
    path: Path
    evaluation: Evaluation | None  # None when the file could not be read
    error: str | None = None


def model_folder_name(model: str) -> str:
    """The folder of ``model``'s results: the name percent-encoded (``my resnet`` -> ``my%20resnet``), so any model name
    the registry accepts has one folder and none can leave the results folder (``/`` and a leading ``.`` are encoded)."""
    folder = quote(model, safe="-_.+")
    if folder.startswith("."):  # ".", "..", hidden folders
        folder = "%2E" + folder[1:]
    if not model or len(folder) > MAX_NAME_CHARS:
        raise InvalidInputError(f"{model!r} cannot name a results folder (empty, or over {MAX_NAME_CHARS} characters encoded).")
    return folder


def save_evaluation(evaluation: Evaluation) -> Path:
    """Store ``evaluation`` under its model's folder; returns the file's path (never overwrites another result)."""
    name = model_folder_name(evaluation.model.name)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    path = home_path(FOLDER, name, f"{stamp}.json")
    for n in range(2, 1000):
        if not path.exists():
            break
        path = path.with_name(f"{stamp}-{n}.json")
    return atomic_write_json(path, evaluation.to_dict(), indent=None)


def load_evaluation(path: str | Path) -> Evaluation:
    """A stored result; :class:`~cvcore.storage.StorageError` if the file is damaged or not an evaluation."""
    path = Path(path)
    try:
        return evaluation_from_dict(read_json(path))
    except FileNotFoundError:
        raise StorageError(f"No stored evaluation at {path}.") from None
    except InvalidInputError as exc:
        raise StorageError(f"{path}: {exc}") from exc


def list_evaluations(model: str) -> list[StoredEvaluation]:
    """Every stored result of ``model``, newest first; unreadable files are listed with their error."""
    return list(iter_evaluations(model))


def iter_evaluations(model: str) -> Iterator[StoredEvaluation]:
    """:func:`list_evaluations` one file at a time (a caller after the newest match reads no more than it needs)."""
    folder = cvlens_home() / FOLDER / model_folder_name(model)
    if not folder.is_dir():
        return
    for path in sorted(folder.glob("*.json"), key=_order, reverse=True):
        try:
            yield StoredEvaluation(path, load_evaluation(path))
        except CvlensError as exc:
            yield StoredEvaluation(path, None, str(exc))


def _order(path: Path) -> tuple[str, int]:
    stamp, _, n = path.stem.partition("-")
    return stamp, int(n) if n.isdigit() else 1


def evaluated_models() -> list[str]:
    """Models with at least one stored result."""
    root = cvlens_home() / FOLDER
    if not root.is_dir():
        return []
    return sorted(unquote(p.name) for p in root.iterdir() if p.is_dir() and any(p.glob("*.json")))
