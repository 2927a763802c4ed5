"""`python -m cvcore papers [PAPER]`: each paper's tables, the claim next to what cvlens measures.

Without PAPER: the list of papers. ``all``: every paper's rows. Measuring takes seconds the
first time (fvcore on the MobileNet variants the precomputed store does not cover).
``papers mobilenet --width A --resolution R``: the Papers page's explorer at one point
(``--html`` writes its accuracy vs mult-adds figure).
"""

from __future__ import annotations

import argparse

from cvcore.cli import add_format_argument, output_file
from cvcore.errors import InvalidInputError
from cvcore.formatting import render, to_json


def register(subparsers) -> None:
    from cvcore.papers.registry import PAPERS

    parser = subparsers.add_parser("papers", help="papers' tables: claim vs measured, with deltas and explanations")
    parser.add_argument("paper", nargs="?", help=f"one of {', '.join(PAPERS)}, or 'all' (default: list the papers)")
    parser.add_argument("--table", help="only this table of the paper, e.g. 'Table 6'")
    explorer = parser.add_argument_group("MobileNet explorer (papers mobilenet): one width multiplier and resolution")
    explorer.add_argument("--width", type=float, metavar="ALPHA", help="width multiplier, e.g. 0.75 (default: 1)")
    explorer.add_argument("--resolution", type=int, metavar="PX", help="input resolution, e.g. 192 (default: 224)")
    explorer.add_argument("--html", type=output_file, help="write the explorer's accuracy vs mult-adds figure as HTML")
    add_format_argument(parser, ("table", "csv", "json", "latex"))
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from cvcore.papers.registry import all_rows, get_paper, paper_rows, status_counts
    from cvcore.papers.tables import claims_table, papers_table, reproduction_table

    if args.width is not None or args.resolution is not None or args.html is not None:
        return _run_explorer(args)
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


def _run_explorer(args: argparse.Namespace) -> int:
    """The Papers page's MobileNet explorer at one point: the same measurement, table and figure."""
    from cvcore.figures import figure_caption, standalone_html, with_caption
    from cvcore.papers.mobilenet import KEY, explorer_table, measure_mobilenet, tradeoff_caption, tradeoff_figure
    from cvcore.storage import atomic_write

    if args.paper != KEY or args.table:
        raise InvalidInputError(
            f"--width, --resolution and --html are the MobileNet explorer's: use `papers {KEY} --width A --resolution R`."
        )
    width = round(1.0 if args.width is None else args.width, 2)  # the page's slider steps are hundredths
    point = measure_mobilenet(width, 224 if args.resolution is None else args.resolution)
    table = explorer_table(point)
    if args.html is not None:
        figure = with_caption(tradeoff_figure(point), figure_caption(tradeoff_caption(point), table.sources))
        atomic_write(args.html, standalone_html(figure))
    print(to_json(table.rows[0] | {"how": point.how}) if args.format == "json" else render(table, args.format))
    return 0
