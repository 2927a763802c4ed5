"""`python -m cvcore report list|show|export`: the defense reports filled on the dashboard's pages.

``export NAME --html out.html --zip out.zip`` writes one self-contained HTML file and/or a
ZIP (figures as SVG and PNG, tables as CSV and LaTeX, manifest.json, regenerate.sh); both
outputs are checked before any work and written atomically.
"""

from __future__ import annotations

import argparse

from cvcore.cli import add_format_argument, output_file
from cvcore.errors import InvalidInputError
from cvcore.formatting import Table, render, to_json


def register(subparsers) -> None:
    parser = subparsers.add_parser("report", help="defense reports: list them, show one, export it as HTML and ZIP")
    actions = parser.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="every report in the cvlens home")
    add_format_argument(listing)
    listing.set_defaults(handler=run_list)
    show = actions.add_parser("show", help="one report's items in order, with how to rebuild each")
    show.add_argument("name")
    add_format_argument(show)
    show.set_defaults(handler=run_show)
    export = actions.add_parser("export", help="one self-contained HTML file and/or a ZIP for the thesis")
    export.add_argument("name")
    export.add_argument("--html", type=output_file, help="write the report as one HTML file (opens offline)")
    export.add_argument(
        "--zip", type=output_file, help="write figures (SVG, PNG), tables (CSV, LaTeX), manifest.json, regenerate.sh"
    )
    export.add_argument(
        "--no-static", action="store_true", help="skip rendering figures to SVG/PNG (they go in the ZIP as HTML and JSON)"
    )
    export.set_defaults(handler=run_export)


def run_list(args: argparse.Namespace) -> int:
    from cvcore.report import list_reports

    rows = [
        {"name": s.name, "title": s.title, "items": s.item_count, "revision": s.revision, "updated": s.updated}
        for s in list_reports()
    ]
    if not rows and args.format == "table":
        print("No reports yet: add items from the dashboard's pages (Add to report), or see `python -m cvcore report --help`.")
        return 0
    print(render(Table(rows=rows, columns=["name", "title", "items", "revision", "updated"]), args.format))
    return 0


def run_show(args: argparse.Namespace) -> int:
    from cvcore.report import load_report
    from cvcore.report.export import item_numbers

    report = load_report(args.name)
    if args.format == "json":
        print(to_json(report.to_json()))
        return 0
    numbers = item_numbers(report)
    rows = [
        {
            "#": n,
            "item": numbers.get(item.id, "note"),
            "caption": item.title,
            "page": item.page,
            "rebuild": (item.rebuild.command or item.rebuild.call) if item.rebuild else "",
        }  # fmt: skip
        for n, item in enumerate(report.items, start=1)
    ]
    heading = f"{report.title or report.name}" + (f" — {report.author}" if report.author else "")
    print(f"{heading} (report {report.name!r}, revision {report.revision}, {len(report.items)} items)")
    if rows:
        print(render(Table(rows=rows), args.format))
    return 0


def run_export(args: argparse.Namespace) -> int:
    from cvcore.report import load_report
    from cvcore.report.export import StaticExport, model_states, render_static, report_html, report_zip
    from cvcore.storage import atomic_write

    if not (args.html or args.zip):
        raise InvalidInputError("Nothing to export: give --html FILE and/or --zip FILE.")
    report = load_report(args.name)
    if args.html:
        atomic_write(args.html, report_html(report, states=model_states(report, with_sha256=False)))
        print(f"Wrote {args.html} ({len(report.items)} items).")
    if args.zip:
        static = StaticExport(problem="skipped (--no-static)") if args.no_static else render_static(report)
        atomic_write(args.zip, report_zip(report, static=static))
        how = "figures as SVG and PNG" if static.problem is None else f"figures as HTML and JSON: {static.problem}"
        print(f"Wrote {args.zip} ({len(report.items)} items; {how}).")
    return 0
