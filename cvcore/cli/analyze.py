"""`python -m cvcore analyze MODEL`: parameters, GMACs (papers' convention and all ops), torch FLOPs, per-layer table.

``--erf LAYER`` measures the effective receptive field of a layer instead (Luo et al. 2016):
random-init and, where they are on this machine, trained weights, averaged over the bundled
sample photos or ``--images``; ``--out erf.png`` writes the heatmaps.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

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
    erf = parser.add_argument_group("effective receptive field (Luo et al. 2016)")
    erf.add_argument("--erf", metavar="LAYER", help="a layer's dotted module path (as the graph and the per-layer table name it)")
    erf.add_argument(
        "--images", nargs="+", metavar="IMAGE", help="photos to average over (default: the bundled samples; at most 8)"
    )
    erf.add_argument(
        "--unit", nargs=2, type=int, metavar=("ROW", "COL"), help="the unit in the layer's output map (default: its centre)"
    )
    erf.add_argument(
        "--weights", choices=("random", "trained", "both"), default="both", help="default: both (trained where on this machine)"
    )
    erf.add_argument("--seed", type=int, default=0, help="random initialisation seed (default: %(default)s)")
    erf.add_argument("--out", type=Path, help="write the heatmaps to this PNG file")
    erf.add_argument("--log-scale", action="store_true", help="heatmap on a log scale (shows the whole extent and its holes)")
    add_format_argument(parser, ("table", "csv", "json", "latex"))
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # Imported here: every `python -m cvcore ...` registers this command, and these load torch and fvcore.
    from cvcore.analysis import analyze, precompute_catalogue
    from cvcore.analysis.conventions import CONVENTIONS
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
    if args.erf:
        return _run_erf(args)
    if args.out or args.images or args.unit:
        raise InvalidInputError("--out, --images and --unit belong to --erf LAYER.")
    if args.stages or args.diff:
        return _run_stages(args)
    result = analyze(args.model, args.input_size, device=args.device, per_layer=args.per_layer)
    c = result.complexity
    if args.format == "json":
        payload = to_jsonable(c) | {"torch_flops": round(c.torch_gflops * 1e9), "torch_gmacs": c.torch_gmacs}
        payload["conventions"] = CONVENTIONS  # what each multiply-add figure (here and per layer) counts
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


def _run_erf(args: argparse.Namespace) -> int:
    from cvcore.analysis.erf import MAX_IMAGES, catalogue_erf, erf_caption, erf_png, erf_record, erf_table
    from cvcore.images import decode_image
    from cvcore.registry import get_spec
    from cvcore.storage import atomic_write

    if args.out is not None and args.out.suffix.lower() != ".png":
        raise InvalidInputError(f"--out must name a .png file; got {args.out}.")
    if args.images and len(args.images) > MAX_IMAGES:
        raise InvalidInputError(f"--images takes at most {MAX_IMAGES} photos; got {len(args.images)}.")
    spec = get_spec(args.model)
    images = [decode_image(path).image for path in args.images] if args.images else None
    weights = ("random", "trained") if args.weights == "both" else (args.weights,)
    report = catalogue_erf(
        spec,
        args.erf,
        images,
        weights=weights,
        unit=tuple(args.unit) if args.unit else None,
        input_size=args.input_size,
        seed=args.seed,
    )
    if args.out is not None:
        caption = erf_caption(report.results, report.model, log_scale=args.log_scale)
        atomic_write(args.out, erf_png(report.results, caption, log_scale=args.log_scale))
    if args.format == "json":
        print(to_json({"model": spec.name, "results": [erf_record(r) for r in report.results], "notes": list(report.notes)}))
    else:
        print(render(erf_table(report.results, report.model), args.format))
        for note in report.notes:
            print(f"note: {note}", file=sys.stderr)
    if args.out is not None:
        print(f"wrote {args.out}", file=sys.stderr)
    return 0
