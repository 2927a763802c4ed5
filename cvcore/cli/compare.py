"""`python -m cvcore compare [MODEL...]`: the Compare page's chart and deltas table from the shell."""

from __future__ import annotations

import argparse

from cvcore import compare
from cvcore.cli import add_format_argument, output_file
from cvcore.errors import InvalidInputError
from cvcore.figures import figure_caption, standalone_html, with_caption
from cvcore.formatting import render
from cvcore.storage import atomic_write


def register(subparsers) -> None:
    parser = subparsers.add_parser("compare", help="accuracy against compute (Canziani et al. 2016), deltas against a baseline")
    parser.add_argument("models", nargs="*", help="catalogue names (default: the Compare page's seed set for --task)")
    parser.add_argument("--task", default="classification", choices=tuple(compare.Y_AXES_BY_TASK))
    parser.add_argument("--x", default="gmacs", choices=[k for k in compare.X_AXES if k != "latency_ms"], help="cost axis")
    parser.add_argument("--y", help="score axis (default: top-1 for classification, mIoU for segmentation)")
    parser.add_argument("--baseline", help="deltas against this model (default: the first one)")
    parser.add_argument("--linear-x", action="store_true", help="linear x axis in the figure (default: log)")
    parser.add_argument("--html", type=output_file, help="also write the chart as standalone HTML (plotly.js embedded)")
    add_format_argument(parser, ("table", "csv", "json", "latex"))
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    names = list(args.models or compare.default_selection(args.task))
    scores = compare.Y_AXES_BY_TASK[args.task]
    y = args.y or scores[0]
    if y not in scores:
        raise InvalidInputError(f"--y {y!r} is not a {args.task} score; expected one of {', '.join(scores)}.")
    points = compare.model_points(names)
    chart = compare.chart_data(points, x=args.x, y=y)
    keys = list(dict.fromkeys([args.x, "mparams", *compare.Y_AXES_BY_TASK[args.task]]))
    print(render(compare.delta_table(points, args.baseline or names[0], keys, front=chart.front), args.format))
    if args.html:
        figure = with_caption(compare.accuracy_figure(chart, log_x=not args.linear_x), figure_caption(chart.caption, chart.source_summary))
        atomic_write(args.html, standalone_html(figure))
    return 0
