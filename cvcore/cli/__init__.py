"""`python -m cvcore`: every subcommand in its own module, each exposing ``register(subparsers)``.

Subcommand handlers return an exit code; cvcore's typed errors become a one-line message
on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings

from cvcore.errors import CvlensError

# One module per subcommand (models, compare, analyze, graph, weights, segment, evaluate, explain, papers, import-model).
SUBCOMMAND_MODULES = ("models", "compare", "analyze", "graph", "weights", "segment", "evaluate", "explain", "papers", "import_model")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cvcore", description="cvlens: compare computer-vision CNNs and look inside them.")
    parser.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: $CVLENS_DEVICE, else CUDA if available, else CPU)")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in SUBCOMMAND_MODULES:
        importlib.import_module(f"cvcore.cli.{module}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    # torch.jit.script's deprecation notice (raised inside fvcore/torchvision) is noise for CLI users.
    warnings.filterwarnings("ignore", category=FutureWarning, module="torch.jit")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except CvlensError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


def add_format_argument(parser: argparse.ArgumentParser, choices: tuple[str, ...] = ("table", "csv", "json"), default: str = "table") -> None:
    parser.add_argument("--format", choices=choices, default=default, help=f"output format (default: {default})")
