"""`python -m cvcore`: every subcommand in its own module, each exposing ``register(subparsers)``.

Subcommand handlers return an exit code; cvcore's typed errors become a one-line message
on stderr and exit code 2, never a traceback. So do bad arguments: counts out of their
range (:func:`count`), output files that cannot be written (:func:`output_file`, checked
before any work), an unknown ``--device``. Every file a command writes goes through
:mod:`cvcore.storage` (atomic: a failed write leaves nothing behind).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from pathlib import Path

from cvcore.errors import CvlensError

# One module per subcommand (models, compare, analyze, graph, weights, segment, evaluate, explain, papers, import-model,
# benchmark, report).
SUBCOMMAND_MODULES = (
    "models", "compare", "analyze", "graph", "weights", "segment", "evaluate", "explain", "papers", "import_model", "benchmark",
    "report",
)  # fmt: skip


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse whose usage errors are one line naming the help command, instead of the usage block."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(prog="python -m cvcore", description="cvlens: compare computer-vision CNNs and look inside them.")
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
        if args.device is not None:
            from cvcore.device import check_device_name

            args.device = check_device_name(args.device)  # every command, even one that runs no model
        return int(args.handler(args) or 0)
    except CvlensError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


def add_format_argument(
    parser: argparse.ArgumentParser, choices: tuple[str, ...] = ("table", "csv", "json"), default: str = "table"
) -> None:
    parser.add_argument("--format", choices=choices, default=default, help=f"output format (default: {default})")


def count(low: int, high: int, what: str = "a whole number"):
    """An argparse ``type`` for a count that must lie in ``low..high`` (steps, rows, images)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, got {value}")
        return value

    parse.__name__ = "count"
    return parse


def fraction(text: str) -> float:
    """An argparse ``type`` for a number from 0 to 1 (an opacity)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be from 0 to 1, got {value:g}")
    return value


def output_file(text: str) -> Path:
    """An argparse ``type`` for a file the command will write: checked now, before the work it is the result of."""
    from cvcore.storage import writable_target

    try:
        return writable_target(text)
    except CvlensError as exc:
        raise argparse.ArgumentTypeError(str(exc).rstrip(".")) from None


def add_runtime_arguments(parser: argparse.ArgumentParser) -> None:
    """``--precision``, ``--channels-last``, ``--compile``: how the network runs (cvcore.runtime; default exact fp32)."""
    from cvcore.runtime import PRECISIONS

    group = parser.add_argument_group("inference mode (default: exact fp32, eager)")
    group.add_argument(
        "--precision", choices=PRECISIONS, default="fp32",
        help="fp32 (exact, default); bf16 or fp16 autocast: faster where the hardware has them, approximate "
        "(the agreement with an fp32 run of the same input is printed)",
    )  # fmt: skip
    group.add_argument("--channels-last", action="store_true", help="run convolutions on NHWC tensors")
    group.add_argument(
        "--compile", action="store_true",
        help="torch.compile (inductor, frozen weights); the first run of an input size compiles (about a minute on a "
        "laptop CPU), later runs reuse the compile cache under the cvlens home",
    )  # fmt: skip


def runtime_words(mode) -> list[str]:
    """The :func:`add_runtime_arguments` options that ask for ``mode`` (none for exact fp32): for rebuild commands."""
    words = ["--precision", mode.precision.value] if mode.approximate else []
    return words + ["--channels-last"] * mode.channels_last + ["--compile"] * mode.compile


def runtime_mode(args: argparse.Namespace):
    """The :class:`cvcore.runtime.RuntimeMode` of :func:`add_runtime_arguments`' options, checked against ``--device``."""
    from cvcore.runtime import mode_from_options

    mode = mode_from_options(args.precision, channels_last=args.channels_last, compile=args.compile)
    mode.require_supported(args.device)
    return mode
