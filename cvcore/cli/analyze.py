"""`python -m cvcore analyze MODEL`: parameters, GMACs (fvcore), torch FLOPs, per-layer table."""

from __future__ import annotations

import argparse
import sys

from cvcore.cli import add_format_argument
from cvcore.errors import InvalidInputError
from cvcore.formatting import render, to_json, to_jsonable


def register(subparsers) -> None:
    parser = subparsers.add_parser("analyze", help="count parameters and multiply-adds of a model")
    parser.add_argument("model", nargs="?", help="catalogue name (see `python -m cvcore models`)")
    parser.add_argument("--input-size", nargs=2, type=int, metavar=("H", "W"), help="default: the model's own input size")
    parser.add_argument("--per-layer", action="store_true", help="include the per-layer table")
    parser.add_argument(
        "--stages", action="store_true", help="per-stage table with repeated blocks collapsed (the Architecture page's view)"
    )
    parser.add_argument("--diff", metavar="OTHER", help="stage-by-stage difference against another model at the same input size")
    parser.add_argument("--all", action="store_true", help="analyse the whole catalogue (with --write: regenerate assets/)")
    parser.add_argument("--write", action="store_true", help="store results in assets/analysis*.json (used by the dashboard)")
    parser.add_argument("--missing", action="store_true", help="with --all: only models not stored yet")
    add_format_argument(parser, ("table", "csv", "json", "latex"))
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # Imported here: every `python -m cvcore ...` registers this command, and these load torch and fvcore.
    from cvcore.analysis import analyze, precompute_catalogue
    from cvcore.analysis.tables import complexity_table, layer_table, reconciliation_table

    if args.all or args.write:
        if args.input_size:
            raise InvalidInputError("--write stores default input sizes only; drop --input-size.")
        names = None if args.all else [args.model]
        failures = precompute_catalogue(
            names,
            device=args.device,
            progress=lambda n, i, total: print(f"[{i + 1}/{total}] {n}", file=sys.stderr),
            only_missing=args.missing,
        )
        for name, message in failures.items():
            print(f"error: {name} was not stored: {message}", file=sys.stderr)
        return 2 if failures else 0
    if not args.model:
        raise InvalidInputError("Name a model, or pass --all.")
    if args.stages or args.diff:
        return _run_stages(args)
    result = analyze(args.model, args.input_size, device=args.device, per_layer=args.per_layer)
    c = result.complexity
    if args.format == "json":
        payload = to_jsonable(c) | {"torch_flops": round(c.torch_gflops * 1e9), "torch_gmacs": c.torch_gmacs}
        if result.layers is not None:
            payload["layers"] = to_jsonable(result.layers)
        print(to_json(payload))
        return 0
    print(render(complexity_table(c), args.format))
    print()
    print(render(reconciliation_table(c), args.format))
    if result.layers is not None:
        print()
        print(render(layer_table(result.layers, c), args.format))
    return 0


def _run_stages(args: argparse.Namespace) -> int:
    """The Architecture page's stage table and two-model diff, from the stored analysis when it has them."""
    from cvcore.analysis.stages import architecture, diff_stages, stage_diff_table, stage_summary_table
    from cvcore.registry import get_spec

    if args.format == "json":
        raise InvalidInputError("--stages and --diff print tables: use --format table, csv or latex.")
    arch = architecture(args.model, args.input_size, device=args.device)
    size = arch.complexity.input_size
    spec = get_spec(args.model)
    print(render(stage_summary_table(arch.stages(), spec.display_name, size, family=spec.family), args.format))
    if args.diff:
        other_spec = get_spec(args.diff)
        other = architecture(args.diff, size, device=args.device)
        print()
        diffs = diff_stages(arch.stages(), other.stages())
        table = stage_diff_table(diffs, spec.display_name, other_spec.display_name, spec.family, other_spec.family)
        print(render(table, args.format))
    return 0
