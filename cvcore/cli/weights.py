"""`python -m cvcore weights status|fetch|import`: trained weights in torchvision's cache.

``fetch`` downloads through torchvision (torch.hub, sha256 checked) and fails at once
when offline; ``import`` copies files fetched on another machine into the same cache.
"""

from __future__ import annotations

import argparse

from cvcore.cli import add_format_argument
from cvcore.formatting import Table, render, to_json
from cvcore.registry import list_models


def register(subparsers) -> None:
    parser = subparsers.add_parser("weights", help="where trained weights are; fetch or import them")
    actions = parser.add_subparsers(dest="weights_command", required=True)

    status = actions.add_parser(
        "status", help="weight state of every catalogue model (cached, bundled, missing, damaged, unavailable)"
    )
    status.add_argument("--task", choices=("classification", "segmentation"))
    status.add_argument("--missing", action="store_true", help="only models whose weights are missing or damaged")
    status.add_argument(
        "--verify", action="store_true",
        help="also check each cached file's sha256 against its name (reads every file; without it only sizes are checked)",
    )  # fmt: skip
    add_format_argument(status, ("table", "csv", "json"))
    status.set_defaults(handler=run_status)

    fetch = actions.add_parser("fetch", help="download torchvision checkpoints into torch.hub's cache (needs internet)")
    fetch.add_argument("models", nargs="*", metavar="MODEL")
    fetch.add_argument(
        "--set", dest="set_name", metavar="NAME", help="a named set: defense (every page default), segmentation, all"
    )
    fetch.add_argument("--no-progress", action="store_true")
    fetch.set_defaults(handler=run_fetch)

    imp = actions.add_parser(
        "import",
        help="copy .pth files into torch.hub's cache after checking name, size, sha256, and tensors against the architecture",
    )
    imp.add_argument("paths", nargs="+", metavar="PATH")
    imp.set_defaults(handler=run_import)


def run_status(args: argparse.Namespace) -> int:
    from cvcore.weights import WeightState, checkpoint_dir, verify_weights, weight_status

    check = verify_weights if args.verify else weight_status
    statuses = [check(s.name) for s in list_models(args.task, metadata_only=True)]
    if args.missing:
        statuses = [s for s in statuses if s.state in (WeightState.MISSING, WeightState.DAMAGED)]
    if args.format == "json":
        print(to_json({"checkpoint_dir": str(checkpoint_dir()), "models": statuses}))
        return 0
    rows = [
        {
            "model": s.name, "state": s.state.value + (f" ({s.problem})" if s.problem else ""), "file": s.file_name,
            "size_mb": s.size_mb, "how_to_get": s.how_to_get or "",
        }
        for s in statuses
    ]  # fmt: skip
    counts = {state.value: sum(s.state is state for s in statuses) for state in WeightState}
    checked = "sizes and sha256 checked" if args.verify else "sizes checked; --verify also checks sha256"
    caption = (
        f"Checkpoints folder: {checkpoint_dir()} ({checked}). " + ", ".join(f"{n} {k}" for k, n in counts.items() if n) + "."
    )
    print(render(Table(rows, labels={"size_mb": "size (MB)", "how_to_get": "how to get"}, caption=caption), args.format))
    return 0


def run_fetch(args: argparse.Namespace) -> int:
    from cvcore.weights import fetch, resolve_names

    names = resolve_names(args.models, args.set_name)
    command = " ".join(["python -m cvcore weights fetch", *args.models, *(["--set", args.set_name] if args.set_name else [])])
    for result in fetch(names, progress=not args.no_progress, command=command):
        verb = "downloaded" if result.downloaded else result.state.value
        print(f"{result.name}: {verb}" + (f" ({result.path})" if result.path else ""))
    return 0


def run_import(args: argparse.Namespace) -> int:
    from cvcore.weights import import_weights

    for result in import_weights(args.paths):
        print(f"{result.name}: imported {result.path} (sha256 {result.sha256[:12]}…)")
    return 0
