"""Every paper's measured claims, stored in ``assets/papers.json``: the Papers page shows them without torch.

Measuring a paper's claims builds its models (torch, seconds); the rows depend only on the
catalogue, the stored analysis and the claims, so ``python -m cvcore models --write-snapshot``
stores them with the catalogue's metadata, and a test fails when they no longer match a
fresh measurement. :func:`cvcore.papers.registry.paper_rows` measures; :func:`stored_rows`
reads.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from cvcore.papers.claims import ClaimRow, Status
from cvcore.samples import ASSETS_DIR
from cvcore.storage import RESTORE_SNAPSHOT, read_shipped_json

PAPERS_PATH = ASSETS_DIR / "papers.json"


def row_from_dict(d: dict) -> ClaimRow:
    return ClaimRow(**{**d, "status": Status(d["status"])})


@functools.cache
def _stored(path: Path = PAPERS_PATH) -> dict:
    return read_shipped_json(path, {"papers": {}}, restore=RESTORE_SNAPSHOT)


def stored_rows(key: str) -> tuple[ClaimRow, ...] | None:
    """Paper ``key``'s rows as last stored, or None when they are not stored."""
    rows = _stored()["papers"].get(key)
    return None if rows is None else tuple(row_from_dict(r) for r in rows)


def write_stored_rows(path: Path = PAPERS_PATH) -> int:
    """Measure every paper's claims and store the rows (atomically); returns how many rows."""
    from cvcore.formatting import to_jsonable, versions_line
    from cvcore.papers.registry import PAPERS, paper_rows
    from cvcore.storage import atomic_write

    papers = {key: [to_jsonable(r) for r in paper_rows(key)] for key in PAPERS}
    data = {"generated_with": versions_line(), "papers": papers}
    atomic_write(path, json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    _stored.cache_clear()
    return sum(len(rows) for rows in papers.values())
