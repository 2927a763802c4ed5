"""`python -m cvcore models`: the catalogue with published numbers and their sources."""

from __future__ import annotations

import argparse

from cvcore.catalogue import catalogue_rows
from cvcore.cli import add_format_argument
from cvcore.errors import InvalidInputError
from cvcore.formatting import Table, render, to_json
from cvcore.registry import Task


def register(subparsers) -> None:
    parser = subparsers.add_parser("models", help="list every model in the catalogue")
    parser.add_argument("--task", choices=[t.value for t in Task])
    parser.add_argument("--family")
    add_format_argument(parser, ("table", "csv", "json"))
    parser.add_argument(
        "--write-snapshot", action="store_true",
        help="store the registry's metadata in assets/catalogue.json (what the Models and Compare pages read without torch)",
    )  # fmt: skip
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.write_snapshot:
        from cvcore.registry_snapshot import SNAPSHOT_PATH, write_snapshot

        print(f"Wrote {write_snapshot()} catalogue entries to {SNAPSHOT_PATH}.")
        return 0
    if args.family is not None:
        from cvcore.registry import list_models

        known = sorted({s.family for s in list_models(metadata_only=True)})
        if args.family not in known:
            raise InvalidInputError(f"Unknown family {args.family!r}; the catalogue's families are: {', '.join(known)}.")
    rows = catalogue_rows(args.task, args.family)
    if args.format == "json":
        print(to_json(rows))
        return 0
    records = [
        {
            "name": r.name, "task": r.task, "family": r.family, "year": r.year,
            "params_m": r.params / 1e6 if r.params else (r.published_params or 0) / 1e6 or None,
            "gmacs": r.gmacs, "acc@1": r.metrics.get("acc@1"), "acc@5": r.metrics.get("acc@5"),
            "miou": r.metrics.get("miou"), "pixel_acc": r.metrics.get("pixel_acc"), "weights": r.weights + (" (here)" if r.weights_available else ""),
        }
        for r in rows
    ]
    table = Table(
        records,
        labels={"params_m": "params (M)", "gmacs": "GMACs (fvcore)"},
        caption=f"{len(rows)} models. GMACs measured with fvcore at each model's default input size; accuracy as published.",
        sources=sorted({s for r in rows for s in r.source.split("; ") if s}),
    )
    print(render(table, args.format))
    return 0
