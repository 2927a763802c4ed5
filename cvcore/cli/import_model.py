"""`python -m cvcore import-model FILE --arch ARCH --name NAME`: bring your own trained model into cvlens.

The file is checked (nothing in it is executed), copied into the cvlens home with its
sha256 and recorded; the model is then selectable on every page and in every command by
its name. ``models --mine`` lists what you imported; ``models remove NAME`` and
``models export NAME --out DIR`` manage it.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "import-model", help="import your own trained model (state dict, training checkpoint, safetensors or ONNX)",
        description="Import a trained model into the cvlens home. Accepted: a state dict or a training checkpoint "
        "(.pth/.pt/.ckpt; 'module.' and '_orig_mod.' prefixes are removed), .safetensors, .onnx, or a folder written by "
        "`models export`. Nothing in the file is executed: TorchScript, whole pickled modules and .pt2 archives are refused.",
    )  # fmt: skip
    parser.add_argument("file", type=Path, metavar="FILE")
    parser.add_argument("--arch", help="the catalogue architecture the weights are for (e.g. resnet18, enet, unet_padded)")
    parser.add_argument("--name", help="the name you will select it by (letters, digits, _ and -)")
    parser.add_argument("--categories", help="class names: voc, imagenet, cityscapes, or a text file with one name per line")
    parser.add_argument("--dataset", default="", help="what it was trained or evaluated on, in your words")
    parser.add_argument("--input-size", type=int, nargs=2, metavar=("H", "W"), help="input size (default: the architecture's)")
    parser.add_argument("--mean", type=float, nargs=3, metavar=("R", "G", "B"), help="normalisation mean (0..1 pixels)")
    parser.add_argument("--std", type=float, nargs=3, metavar=("R", "G", "B"), help="normalisation std (0..1 pixels)")
    parser.add_argument("--task", choices=("classification", "segmentation"), help="for an ONNX file without --arch")
    parser.add_argument("--display-name", help="how pages show it (default: the name)")
    parser.add_argument("--replace", action="store_true", help="replace your model of the same name")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from cvcore.user_models import EXPORT_RECORD, ImportModelError, ImportOptions, import_exported, import_model

    if args.file.is_dir():
        if not (args.file / EXPORT_RECORD).is_file():
            raise ImportModelError(f"{args.file} is a folder; give a model file, or a folder written by `python -m cvcore models export`.")
        with _progress(args.file) as progress:
            spec = import_exported(args.file, args.name, progress=progress)
    else:
        if not args.name:
            raise ImportModelError("Give the model a name: --name NAME (e.g. --name my_enet).")
        if args.arch:
            from cvcore.registry import get_architecture

            get_architecture(args.arch)  # an unknown architecture, with close matches, before the file is read
        options = ImportOptions(
            arch=args.arch, categories=args.categories, dataset=args.dataset,
            input_size=tuple(args.input_size) if args.input_size else None,
            mean=tuple(args.mean) if args.mean else None, std=tuple(args.std) if args.std else None,
            task=args.task, display_name=args.display_name,
        )  # fmt: skip
        with _progress(args.file) as progress:
            spec = import_model(args.file, args.name, options, progress=progress, replace=args.replace)
    print(describe_import(spec))
    return 0


def describe_import(spec) -> str:
    from cvcore.user_models import measured_complexity

    measured = measured_complexity(spec)
    counts = f", {measured.params / 1e6:.2f} M parameters, {measured.gmacs:.3f} GMACs at {spec.input_size[0]}x{spec.input_size[1]}" if measured else ""
    return (
        f"Imported {spec.name}: {spec.architecture.display_name} ({spec.task.value}), {len(spec.categories)} classes{counts}. "
        f"Stored in {spec.weights.file_name} (sha256 {spec.weights.sha256[:12]}…). Select it by name on any page or command."
    )


class _progress:
    """A tqdm bar for the copy of a large file; nothing for small ones."""

    def __init__(self, path: Path):
        self.path = path
        self.bar = None

    def __enter__(self):
        return self._update

    def _update(self, done: int, total: int) -> None:
        if total < 32 * 2**20:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="B", unit_scale=True, desc=f"copying {self.path.name}")
        self.bar.update(done - self.bar.n)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()
