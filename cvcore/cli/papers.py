"""`python -m cvcore papers [PAPER]`: each paper's tables, the claim next to what cvlens measures.

Without PAPER: the list of papers. ``all``: every paper's rows. Measuring takes seconds the
first time (fvcore on the MobileNet variants the precomputed store does not cover).
"""

from __future__ import annotations

import argparse

from cvcore.cli import add_format_argument
from cvcore.errors import InvalidInputError
from cvcore.formatting import render, to_json


def register(subparsers) -> None:
    from cvcore.papers.registry import PAPERS

    parser = subparsers.add_parser("papers", help="papers' tables: claim vs measured, with deltas and explanations")
    parser.add_argument("paper", nargs="?", help=f"one of {', '.join(PAPERS)}, or 'all' (default: list the papers)")
    parser.add_argument("--table", help="only this table of the paper, e.g. 'Table 6'")
    add_format_argument(parser, ("table", "csv", "json", "latex"))
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from cvcore.papers.registry import all_rows, get_paper, paper_rows, status_counts
    from cvcore.papers.tables import claims_table, papers_table, reproduction_table

    if args.paper is None:
        print(render(papers_table(), args.format))
        return 0
    rows = all_rows() if args.paper == "all" else paper_rows(get_paper(args.paper).key)
    if args.table:
        tables = list(dict.fromkeys(r.table for r in rows))
        rows = tuple(r for r in rows if r.table.lower() == args.table.strip().lower())
        if not rows:
            raise InvalidInputError(f"{args.paper} has no {args.table!r}; its tables are: {', '.join(tables)}.")
    if args.format == "json":
        print(to_json({"claims": list(rows), "reproductions": _reproductions(args)}) if _reproductions(args) else to_json(list(rows)))
        return 0
    counts = ", ".join(f"{n} {status}" for status, n in status_counts(rows).items())
    title = "All papers" if args.paper == "all" else get_paper(args.paper).citation
    print(
        render(claims_table(rows, f"{title}: {len(rows)} claims ({counts}). delta % = (measured - claim) / claim."), args.format)
    )
    mine = _reproductions(args)
    if mine:
        print()
        print(render(reproduction_table(mine), args.format))
    return 0


def _reproductions(args: argparse.Namespace) -> list:
    """The user's evaluated models beside this paper's accuracy claims (none: nothing printed)."""
    from cvcore.papers.registry import PAPERS
    from cvcore.papers.reproductions import reproduction_rows

    keys = list(PAPERS) if args.paper == "all" else [args.paper]
    rows = [r for key in keys for r in reproduction_rows(key)]
    return [r for r in rows if not args.table or r.table.lower() == args.table.lower()]
