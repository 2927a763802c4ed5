"""`python -m cvcore compare [MODEL...]`: the Compare page's chart and deltas table from the shell."""

from __future__ import annotations

import argparse
import sys

from cvcore import compare
from cvcore.cli import add_format_argument, count, output_file
from cvcore.errors import InvalidInputError
from cvcore.figures import figure_caption, standalone_html, with_caption
from cvcore.formatting import render
from cvcore.storage import atomic_write


def register(subparsers) -> None:
    from cvcore.benchmark.sweep import MAX_BATCH

    parser = subparsers.add_parser("compare", help="accuracy against compute (Canziani et al. 2016), deltas against a baseline")
    parser.add_argument(
        "models",
        nargs="*",
        help="catalogue names, also with their weights (resnet50.IMAGENET1K_V1); default: the Compare page's seed set",
    )
    parser.add_argument("--task", default="classification", choices=tuple(compare.Y_AXES_BY_TASK))
    parser.add_argument(
        "--x", default="gmacs", choices=[k for k in compare.X_AXES if k != "latency_ms"],
        help="x axis; throughput, latency and memory come from a stored benchmark (--benchmark, --batch)",
    )  # fmt: skip
    parser.add_argument("--y", help="score axis (default: top-1 for classification, mIoU for segmentation)")
    parser.add_argument("--baseline", help="deltas against this model (default: the first one)")
    parser.add_argument(
        "--weights", action="append", default=[], metavar="MODEL=WEIGHTS",
        help="compare MODEL with these weights (e.g. resnet50=IMAGENET1K_V2); repeatable. Default: like for like, the "
        "weights most of the models share (torchvision's IMAGENET1K_V1) wherever a model has them",
    )  # fmt: skip
    parser.add_argument("--default-weights", action="store_true", help="each model with its own default weights instead")
    parser.add_argument("--linear-x", action="store_true", help="linear x axis in the figure (default: log)")
    measured = parser.add_argument_group("measured on your hardware (a stored `python -m cvcore benchmark` sweep)")
    measured.add_argument("--benchmark", metavar="SWEEP", help="a stored sweep's id (`benchmark list`) or a result file")
    measured.add_argument("--batch", type=count(1, MAX_BATCH, "a batch size"), help="the batch size whose rows are used")
    measured.add_argument("--mode", default="fp32", help="the runtime mode whose rows are used (default: fp32)")
    measured.add_argument("--machine", metavar="HOST", help="which machine, where the file holds several")
    measured.add_argument("--benchmark-device", metavar="DEVICE", help="which device (cpu, cuda:0), where it holds several")
    parser.add_argument("--html", type=output_file, help="also write the chart as standalone HTML (plotly.js embedded)")
    add_format_argument(parser, ("table", "csv", "json", "latex"))
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    names = list(args.models or compare.default_selection(args.task))
    scores = compare.Y_AXES_BY_TASK[args.task]
    y = args.y or scores[0]
    if y not in scores:
        raise InvalidInputError(f"--y {y!r} is not a {args.task} score; expected one of {', '.join(scores)}.")
    choice = compare.choose_weights(names, overrides=_weights_overrides(args.weights), like_for_like=not args.default_weights)
    benchmark = _benchmark(args, choice.specs)
    axes = compare.benchmark_axes(benchmark) if benchmark else {}
    points = compare.model_points(choice.specs, benchmark=benchmark)
    chart = compare.chart_data(points, x=args.x, y=y, axes=axes)
    keys = list(dict.fromkeys([y, *compare.Y_AXES_BY_TASK[args.task], args.x, "mparams"]))
    baseline = choice.spec_for(args.baseline or names[0]).name
    table = compare.delta_table(points, baseline, keys, front=chart.front, note=choice.rule, axes=axes)
    print(render(table, args.format))
    if benchmark:
        for problem in benchmark.problems:  # the readable rows were used
            print(f"warning: {benchmark.file_name} {problem}", file=sys.stderr)
        for why in chart.not_plotted.values():
            print(f"not on the chart: {why}", file=sys.stderr)
    if args.html:
        figure = compare.accuracy_figure(chart, log_x=not args.linear_x, common=choice.common)
        atomic_write(args.html, standalone_html(with_caption(figure, figure_caption(chart.caption, chart.source_summary))))
    return 0


def _benchmark(args: argparse.Namespace, specs):
    """The stored sweep's rows for ``specs`` at --batch/--mode (None without --benchmark); checked before any work."""
    from cvcore.benchmark.axes import ResultSelection, measured_models, result_options
    from cvcore.benchmark.store import load_sweep
    from cvcore.runtime import parse_mode

    if args.benchmark is None:
        if args.x in compare.BENCHMARK_AXES:
            raise InvalidInputError(f"--x {args.x} is measured: name the stored sweep with --benchmark SWEEP and --batch N.")
        return None
    stored = load_sweep(args.benchmark)
    mode = parse_mode(args.mode).name
    if args.batch is None:
        options = result_options(stored, args.machine, args.benchmark_device, mode)
        raise InvalidInputError(
            f"--benchmark needs --batch N; {stored.path.name} holds batch sizes {', '.join(map(str, options.batch_sizes))}."
        )
    return measured_models(stored, specs, ResultSelection(args.batch, mode, args.machine, args.benchmark_device))


def _weights_overrides(pairs: list[str]) -> dict[str, str]:
    """ "resnet50=IMAGENET1K_V2" -> {"resnet50": "IMAGENET1K_V2"}; a malformed pair is a clear error."""
    overrides = {}
    for pair in pairs:
        model, sep, weights = pair.partition("=")
        if not sep or not model.strip() or not weights.strip():
            raise InvalidInputError(f"--weights takes MODEL=WEIGHTS (e.g. resnet50=IMAGENET1K_V1); got {pair!r}.")
        overrides[model.strip()] = weights.strip()
    return overrides
