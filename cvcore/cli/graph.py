"""`python -m cvcore graph MODEL [--depth N] --out net.svg`: the topology graph, folded, as SVG, PNG, DOT or JSON.

Without ``--out`` it prints the drawn nodes (what a hover shows) as a table. ``--compare
OTHER`` draws both models side by side, outlines the nodes that differ and prints what
differs (plain-34 against ResNet-34: exactly the shortcuts).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cvcore.cli import add_format_argument
from cvcore.formatting import render


def register(subparsers) -> None:
    parser = subparsers.add_parser("graph", help="the data-flow graph of a model, folded by stage (SVG, PNG, DOT)")
    parser.add_argument("model", help="catalogue name (see `python -m cvcore models`)")
    parser.add_argument(
        "--depth", type=int, default=1, help="module levels to unfold (0: top-level containers; default: %(default)s)"
    )
    parser.add_argument(
        "--expand", nargs="+", default=[], metavar="NODE", help="folded nodes to open one level further (as drawn)"
    )
    parser.add_argument("--expand-repeats", action="store_true", help="draw every copy of repeated blocks")
    parser.add_argument("--input-size", nargs=2, type=int, metavar=("H", "W"), help="default: the model's own input size")
    parser.add_argument("--compare", metavar="OTHER", help="draw a second model beside it and list what differs")
    parser.add_argument("--out", type=Path, help="write the drawing; the suffix picks the format: .svg .png .dot .json")
    add_format_argument(parser, ("table", "csv", "json", "latex"))
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # Imported here: every `python -m cvcore ...` registers this command, and these load torch.
    from cvcore.analysis.graph import catalogue_graph
    from cvcore.analysis.graph_render import export_graph, view_record
    from cvcore.analysis.graph_view import difference_table, differing_nodes, fold, graph_differences, view_table
    from cvcore.formatting import to_json
    from cvcore.registry import get_spec

    spec = get_spec(args.model)
    other = get_spec(args.compare) if args.compare else None
    if args.out is not None:
        export_graph([], args.out, check_only=True)  # a wrong suffix fails before minutes of tracing
    graph = catalogue_graph(spec, args.input_size)
    view = fold(graph, args.depth, args.expand, args.expand_repeats)
    views, highlight, differences = [view], set(), []
    if other is not None:
        other_view = fold(catalogue_graph(other, graph.input_size), args.depth, args.expand, args.expand_repeats)
        differences = graph_differences(graph, other_view.graph)
        highlight = differing_nodes(view, other_view.graph) | differing_nodes(other_view, graph)
        views.append(other_view)
    if args.out is not None:
        export_graph(views, args.out, highlight=highlight)
    if args.format == "json":
        payload = {"graphs": [view_record(v) for v in views]}
        if other is not None:
            payload["differences"] = [{"what": d.what, spec.name: d.count_a, other.name: d.count_b} for d in differences]
        print(to_json(payload))
    else:
        for v in views:
            print(render(view_table(v), args.format))
            print()
        if other is not None:
            print(render(difference_table(differences, spec.display_name, other.display_name), args.format))
    if args.out is not None:
        print(f"wrote {args.out}")
    return 0
