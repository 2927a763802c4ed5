"""`python -m cvcore models`: the catalogue with published numbers and their sources; your imported models.

``--task``, ``--family`` (several), ``--years`` and ``--search`` filter as the Models page
does; ``--format csv|latex`` prints the page's table, the terminal a narrower one.
``models --mine`` lists only what you imported (``python -m cvcore import-model``);
``models remove NAME`` forgets one; ``models export NAME --out DIR`` writes a folder that
another machine imports with ``import-model DIR``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cvcore.catalogue import catalogue_rows
from cvcore.cli import add_format_argument
from cvcore.compare import SEGMENTATION_LABELS
from cvcore.errors import InvalidInputError
from cvcore.formatting import Table, render, to_json
from cvcore.registry import Task


def register(subparsers) -> None:
    parser = subparsers.add_parser("models", help="list every model in the catalogue")
    parser.add_argument("--task", choices=[t.value for t in Task])
    parser.add_argument("--family", action="append", help="only this family (several: any of them), as the Models page")
    parser.add_argument("--years", type=int, nargs=2, metavar=("FROM", "TO"), help="only papers from FROM to TO (inclusive)")
    parser.add_argument("--search", default="", help="only models whose name, family or paper title contain this text")
    parser.add_argument("--mine", action="store_true", help="only the models you imported")
    add_format_argument(parser, ("table", "csv", "json", "latex"))
    parser.add_argument(
        "--write-snapshot", action="store_true",
        help="store the registry's metadata in assets/catalogue.json and the papers' measured claims in assets/papers.json "
        "(what the Models, Compare and Papers pages read without torch)",
    )  # fmt: skip
    parser.set_defaults(handler=run)
    actions = parser.add_subparsers(dest="models_command", metavar="{remove,export}")
    remove = actions.add_parser("remove", help="forget one of your imported models and delete its stored file")
    remove.add_argument("name", metavar="NAME")
    remove.set_defaults(handler=run_remove)
    export = actions.add_parser("export", help="write one of your models as a folder another machine can import")
    export.add_argument("name", metavar="NAME")
    export.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder to write <DIR>/<NAME>/ into")
    export.set_defaults(handler=run_export)


def run_remove(args: argparse.Namespace) -> int:
    from cvcore.user_models import remove_model

    remove_model(args.name)
    print(f"Removed {args.name} and its stored file.")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from cvcore.user_models import export_model

    folder = export_model(args.name, args.out)
    print(f"Exported {args.name} to {folder}; on another machine: python -m cvcore import-model {folder}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.write_snapshot:
        from cvcore.registry_snapshot import SNAPSHOT_PATH, write_snapshot

        print(f"Wrote {write_snapshot()} catalogue entries to {SNAPSHOT_PATH}.")
        from cvcore.papers.stored import PAPERS_PATH, write_stored_rows

        print(f"Wrote {write_stored_rows()} measured paper claims to {PAPERS_PATH}.")
        return 0
    families = args.family or []
    if families:
        from cvcore.registry import list_models

        known = sorted({s.family for s in list_models(metadata_only=True)})
        for family in families:
            if family not in known:
                raise InvalidInputError(f"Unknown family {family!r}; the catalogue's families are: {', '.join(known)}.")
    if args.years is not None and args.years[0] > args.years[1]:
        raise InvalidInputError(f"--years FROM TO needs FROM <= TO; got {args.years[0]} {args.years[1]}.")
    from cvcore.compare import catalogue_table, filter_catalogue

    rows = filter_catalogue(
        catalogue_rows(args.task, mine=args.mine), families=families, years=tuple(args.years) if args.years else None,
        search=args.search,
    )  # fmt: skip
    if args.format == "json":
        print(to_json(rows))
        return 0
    if args.format in ("csv", "latex"):  # the Models page's table, as its downloads hold it (and regenerate.sh rebuilds it)
        print(render(catalogue_table(rows), args.format))
        return 0
    from cvcore.analysis.conventions import CAPTION, GMACS_ALL_OPS_LABEL, GMACS_LABEL

    records = [
        {
            "name": r.name,
            "task": r.task,
            "family": r.family,
            "year": r.year,
            "params_m": r.params / 1e6 if r.params else (r.published_params or 0) / 1e6 or None,
            "gmacs": r.gmacs,
            "gmacs_all_ops": r.gmacs_all_ops,
            "acc@1": r.metrics.get("acc@1"),
            "acc@5": r.metrics.get("acc@5"),
            "miou": r.metrics.get("miou"),
            "pixel_acc": r.metrics.get("pixel_acc"),
            "weights": r.weights + (" (here)" if r.weights_available else ""),
        }
        for r in rows
    ]
    table = Table(
        records,
        labels={"params_m": "params (M)", "gmacs": GMACS_LABEL, "gmacs_all_ops": GMACS_ALL_OPS_LABEL, **SEGMENTATION_LABELS},
        caption=f"{len(rows)} models. GMACs measured with fvcore at each model's default input size; {CAPTION} "
        "Accuracy as published.",
        sources=sorted({s for r in rows for s in r.source.split("; ") if s}),
    )
    print(render(table, args.format))
    return 0
