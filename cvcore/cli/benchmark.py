"""`python -m cvcore benchmark MODEL...`: time, memory, throughput and energy on this machine, stored row by row.

``benchmark list`` shows the stored sweeps; ``benchmark show ID`` one of them (or a
``--out`` file). ``--ray auto|ADDRESS`` sends one task per (model, device) to a Ray cluster
(Ray is imported only then). Progress on stderr (tqdm, with an ETA).
"""

from __future__ import annotations

import argparse
import sys

from cvcore.cli import add_format_argument, count, output_file
from cvcore.errors import InvalidInputError

ACTIONS = ("list", "show")


def device_name(text: str) -> str:
    from cvcore.device import check_device_name

    try:
        return check_device_name(text)
    except InvalidInputError as exc:
        raise argparse.ArgumentTypeError(str(exc).rstrip(".")) from None


def register(subparsers) -> None:
    from cvcore.benchmark import sweep
    from cvcore.runtime import MODE_NAMES

    parser = subparsers.add_parser(
        "benchmark", help="latency, throughput, memory and energy vs batch size on this machine (Canziani et al. 2016)"
    )
    parser.add_argument("models", nargs="+", metavar="MODEL", help="catalogue names; or `list`, or `show ID`")
    parser.add_argument("--batch", nargs="+", type=count(1, sweep.MAX_BATCH, "a batch size"), default=list(sweep.DEFAULT_BATCHES),
                        help=f"batch sizes (default: {' '.join(map(str, sweep.DEFAULT_BATCHES))})")  # fmt: skip
    parser.add_argument("--input-size", nargs=2, type=int, metavar=("H", "W"), help="input size (default: each model's own)")
    parser.add_argument("--mode", nargs="+", default=["fp32"], metavar="MODE",
                        help=f"runtime modes: {', '.join(MODE_NAMES)}, or joined by '+' (default: fp32)")  # fmt: skip
    parser.add_argument("--device", dest="benchmark_device", type=device_name, metavar="DEVICE", help="cpu, cuda, cuda:1 ...")
    parser.add_argument("--threads", type=count(1, sweep.MAX_THREADS), help="torch CPU threads (default: torch's)")
    parser.add_argument(
        "--repeats", type=count(1, sweep.MAX_REPEATS), default=sweep.DEFAULT_REPEATS, help="timed runs per configuration"
    )
    parser.add_argument(
        "--warmup", type=count(0, sweep.MAX_WARMUP_RUNS), default=sweep.DEFAULT_WARMUP_RUNS, help="untimed runs first"
    )
    parser.add_argument("--out", type=output_file, help="also append the results (JSON lines) to this file")
    parser.add_argument("--ray", metavar="auto|ADDRESS", help="run on a Ray cluster: one task per (model, device)")
    add_format_argument(parser, ("table", "csv", "json", "latex"))
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.models[0] == "list":
        return run_list(args)
    if args.models[0] == "show":
        return run_show(args)
    return run_sweep(args)


def run_list(args: argparse.Namespace) -> int:
    from cvcore.benchmark.store import list_sweeps
    from cvcore.benchmark.tables import sweeps_table
    from cvcore.formatting import render

    if len(args.models) > 1:
        raise InvalidInputError("`benchmark list` takes no model names.")
    print(render(sweeps_table(list_sweeps()), args.format))
    return 0


def run_show(args: argparse.Namespace) -> int:
    from cvcore.benchmark.store import load_sweep

    if len(args.models) != 2:
        raise InvalidInputError("`benchmark show` takes one sweep id (see `benchmark list`) or a results file.")
    stored = load_sweep(args.models[1])
    for problem in stored.problems:
        print(f"warning: {stored.path.name} {problem}", file=sys.stderr)
    print_rows(stored.rows, list(stored.environments.values()), args.format, [stored.machine_of(r) for r in stored.rows])
    return 0


def print_rows(rows, environments, fmt: str, machines=None) -> None:
    from cvcore.benchmark.tables import rows_table
    from cvcore.formatting import render, to_json

    if fmt == "json":
        print(to_json({"environments": [e.__dict__ for e in environments], "rows": [r.to_dict() for r in rows]}))
    else:
        print(render(rows_table(rows, environments, machines), fmt))


def run_sweep(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from cvcore.benchmark.store import load_sweep
    from cvcore.benchmark.sweep import plan_sweep, run_and_store

    if any(name in ACTIONS for name in args.models):
        raise InvalidInputError("`list` and `show` go alone: `benchmark list`, `benchmark show ID`.")
    plan = plan_sweep(
        args.models, args.batch, args.mode, device=args.benchmark_device or args.device, input_size=args.input_size,
        threads=args.threads, repeats=args.repeats, warmup_runs=args.warmup,
    )  # fmt: skip
    rows_source = None
    if args.ray:
        from cvcore.benchmark.distributed import ray_rows

        rows_source = ray_rows(plan, args.ray)
    with tqdm(total=plan.configurations, unit="config", file=sys.stderr, dynamic_ncols=True, disable=None) as bar:

        def progress(done, total, row):
            bar.set_postfix_str(f"{row.model} batch {row.batch_size} {row.mode}: {row.status}", refresh=False)
            bar.update(1)

        rows, sweep_id = run_and_store(plan, extra_paths=[args.out] if args.out else [], progress=progress, rows=rows_source)
    stored = load_sweep(sweep_id)
    print_rows(rows, list(stored.environments.values()), args.format, [stored.machine_of(r) for r in rows])
    print(f"Stored as sweep {sweep_id} (python -m cvcore benchmark show {sweep_id}).", file=sys.stderr)
    return 0
