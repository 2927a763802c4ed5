"""`python -m cvcore evaluate --model M --data DIR`: a model's metrics on a labelled folder, with 95 % bootstrap intervals.

The layout of DIR is detected: a VOC folder (pixel accuracy, mIoU, per-class IoU), an
``images/`` + ``masks/`` folder (the same, with ``--classes``), a folder per class or a flat
folder with ``--labels`` (top-1, top-5, per-class accuracy). ``--compare OTHER`` evaluates a
second model on the same images and tests the difference (paired bootstrap; McNemar for top-1/top-5).
``--ray auto|ADDRESS`` scores the images on a Ray cluster (:mod:`cvcore.evaluation.distributed`;
Ray is imported only then), with the same numbers.
"""

from __future__ import annotations

import argparse
import contextlib
import json

from cvcore.cli import add_format_argument, count
from cvcore.formatting import Table, render


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="score a model on a labelled folder with 95%% intervals (class folders, images + labels file, VOC, images/ + masks/)",
    )
    parser.add_argument("--model", "-m", required=True)
    parser.add_argument(
        "--data", required=True, metavar="DIR",
        help="one folder per class; images + --labels; VOC (JPEGImages/, SegmentationClass/, ImageSets/Segmentation/); or images/ + masks/",
    )  # fmt: skip
    layout = parser.add_argument_group("data layouts")
    layout.add_argument("--split", default="val", help="VOC: ImageSets/Segmentation/<split>.txt (default val)")
    layout.add_argument(
        "--labels",
        metavar="FILE",
        help="labels of a flat folder of images: 'filename label' lines (label: class index, name or WordNet id)",
    )
    layout.add_argument(
        "--classes", metavar="FILE", help="images/ + masks/: class names, one per line in index order (default: the model's)"
    )
    layout.add_argument("--ignore-index", type=int, default=255, help="images/ + masks/: mask value left unscored (default 255)")
    layout.add_argument(
        "--wnids",
        metavar="FILE",
        help="WordNet id -> class index (LOC_synset_mapping.txt, synsets.txt, imagenet_class_index.json)",
    )
    run_group = parser.add_argument_group("run")
    run_group.add_argument(
        "--limit", type=count(1, 10**6), help="only the first N images (at least 1; class folders: taken in turn from each class)"
    )
    run_group.add_argument(
        "--batch-size", type=int, default=32, help="classification images per forward pass (default 32, at most 256)"
    )
    run_group.add_argument(
        "--bootstrap",
        type=int,
        default=1000,
        metavar="N",
        help="bootstrap resamples for the 95%% intervals (default 1000, 0: none, at most 10000)",
    )
    run_group.add_argument("--seed", type=int, default=0, help="seed of the bootstrap draws (default 0)")
    run_group.add_argument(
        "--compare", metavar="OTHER_MODEL", help="also evaluate OTHER_MODEL on the same images and test the difference"
    )
    run_group.add_argument(
        "--ray",
        metavar="auto|ADDRESS",
        help="score on a Ray cluster: workers that each load the model share the images (same numbers as a local run); "
        "the data folder must be at the same path on every node",
    )
    run_group.add_argument("--save", action="store_true", help="store the result(s) under the cvlens home (evaluations/<model>/)")
    add_format_argument(parser, ("table", "csv", "json"))
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from cvcore.evaluation import BootstrapSettings, compare_evaluations, save_evaluation
    from cvcore.registry import get_spec

    settings = BootstrapSettings(args.bootstrap, args.seed)
    specs = [get_spec(args.model)] + ([get_spec(args.compare)] if args.compare else [])
    datasets = [_dataset(args, spec) for spec in specs]  # bad folders are refused before Ray starts
    with _ray(args):
        results = [_evaluate(spec, dataset, args, settings) for spec, dataset in zip(specs, datasets)]
    comparison = compare_evaluations(*results) if len(results) == 2 else None
    saved = [str(save_evaluation(r)) for r in results] if args.save else []

    if args.format == "json":
        data = results[0].to_dict(per_image=False)
        if comparison is not None:
            data["compared_with"] = results[1].to_dict(per_image=False)
            data["comparison"] = comparison.to_dict()
        if saved:
            data["saved"] = saved
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return 0
    for result in results:
        _print_result(result, args.format)
    if comparison is not None:
        _print_comparison(comparison, args.format)
    for path in saved:
        print(f"saved: {path}")
    return 0


def _dataset(args: argparse.Namespace, spec):
    """The folder read for ``spec`` (each model of a --compare matches the class names to its own categories)."""
    from cvcore.evaluation import open_dataset

    return open_dataset(
        args.data,
        spec,
        labels=args.labels,
        classes=args.classes,
        wnids=args.wnids,
        split=args.split,
        ignore_index=args.ignore_index,
    )


def _ray(args: argparse.Namespace):
    """One Ray session for both models of a --compare (nothing without --ray)."""
    if not args.ray:
        return contextlib.nullcontext()
    from cvcore.distributed import ray_session

    return ray_session(args.ray)


def _evaluate(spec, dataset, args: argparse.Namespace, settings):
    from tqdm import tqdm

    options = dict(batch_size=args.batch_size, limit=args.limit, bootstrap=settings)
    if args.ray:
        from cvcore.evaluation.distributed import ray_evaluate

        def scored(progress):
            return ray_evaluate(spec, dataset, address=args.ray, device=args.device, progress=progress, **options)
    else:
        from cvcore.evaluation import evaluate
        from cvcore.weights import load_model

        model = load_model(spec.name, device=args.device)  # missing weights: refused before a progress bar is drawn

        def scored(progress):
            return evaluate(model, spec, dataset, progress=progress, **options)

    with tqdm(desc=f"{spec.name} on {dataset.layout}", unit="img", leave=False) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        return scored(progress)


def _print_result(result, fmt: str) -> None:
    from cvcore.evaluation.report import class_table, headline_line, title_line

    print(title_line(result))
    print(headline_line(result))
    for note in result.protocol.notes:
        print(f"note: {note}")
    print(render(class_table(result), fmt))
    print()


def _print_comparison(comparison, fmt: str) -> None:
    from cvcore.evaluation.report import comparison_labels, comparison_rows

    print(f"{comparison.model_a} (A) vs {comparison.model_b} (B) on the same {comparison.images} images (paired):")
    caption = (
        "A - B with its paired percentile-bootstrap interval (same redrawn images for both models); "
        "top-1/top-5 significance from McNemar's exact test, other metrics from the interval excluding 0."
    )
    print(render(Table(comparison_rows(comparison), labels=comparison_labels(comparison), caption=caption), fmt))
