"""The papers' tables as data, next to what cvlens measures on the same architectures.

``cvcore.papers.published`` holds the numbers (pure data, read by the model families too);
one module per paper (``resnet``, ``mobilenet``, ``enet``, ``dilated``, ``lectures``) turns
them into :class:`~cvcore.papers.claims.Claim` objects with a measurement each;
``cvcore.papers.registry`` lists the papers and evaluates their claims.

Public names are imported lazily: the model families import ``cvcore.papers.published``
while ``cvcore.models`` is still loading, so this package must not import it back.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Claim": "claims",
    "ClaimRow": "claims",
    "Measurement": "claims",
    "Status": "claims",
    "Tolerance": "claims",
    "evaluate": "claims",
    "PaperEntry": "registry",
    "all_rows": "registry",
    "get_paper": "registry",
    "list_papers": "registry",
    "paper_rows": "registry",
    "status_counts": "registry",
    "claims_table": "tables",
    "papers_table": "tables",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"cvcore.papers.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'cvcore.papers' has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
