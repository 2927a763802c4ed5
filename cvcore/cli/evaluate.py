"""`python -m cvcore evaluate --model M --data DIR`: pixel accuracy, mIoU and per-class IoU on a VOC-style folder."""

from __future__ import annotations

import argparse
import json

from cvcore.cli import add_format_argument, count
from cvcore.formatting import Table, render


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate", help="score a segmenter on a VOC-style folder (JPEGImages, SegmentationClass, ImageSets)"
    )
    parser.add_argument("--model", "-m", required=True)
    parser.add_argument(
        "--data", required=True, metavar="DIR", help="folder with JPEGImages/, SegmentationClass/, ImageSets/Segmentation/"
    )
    parser.add_argument("--split", default="val", help="ImageSets/Segmentation/<split>.txt (default val)")
    parser.add_argument("--limit", type=count(1, 10**6), help="only the first N images (at least 1)")
    add_format_argument(parser, ("table", "csv", "json"))
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from cvcore.voc import check_can_evaluate, evaluate, open_voc
    from cvcore.weights import load_model

    check_can_evaluate(args.model)  # also an unknown name, with close matches
    open_voc(args.data, args.split, limit=args.limit)  # the folder and --limit are checked before the model loads
    model = load_model(args.model, device=args.device)
    with tqdm(desc=f"{args.model} on {args.split}", unit="img", leave=False) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        ev = evaluate(args.model, args.data, split=args.split, limit=args.limit, model=model, progress=progress)
    m = ev.metrics
    if args.format == "json":
        print(json.dumps({
            "model": ev.model, "data": ev.data, "split": ev.split, "images": ev.images, "seconds": ev.seconds,
            "pixels": m.pixels, "pixel_accuracy": m.pixel_accuracy, "mean_iou": m.mean_iou,
            "per_class_iou": {k: v for k, v in m.per_class_iou.items() if v == v},  # present classes only (NaN != NaN)
        }, indent=2))  # fmt: skip
        return 0
    print(f"{ev.model} on {ev.data} ({ev.split}, {ev.images} images, {m.pixels:,} pixels scored, {ev.seconds:.1f} s)")
    print(
        f"pixel accuracy: {100 * m.pixel_accuracy:.2f}%   mIoU: {100 * m.mean_iou:.2f}% (over {len(m.present_classes)} classes present)"
    )
    rows = [
        {
            "class": r["class"],
            "iou_pct": 100 * r["iou"],
            "truth_pixels": r["truth_pixels"],
            "predicted_pixels": r["predicted_pixels"],
        }
        for r in m.rows()
    ]
    print(
        render(
            Table(rows, labels={"iou_pct": "IoU (%)", "truth_pixels": "truth px", "predicted_pixels": "predicted px"}),
            args.format,
        )
    )
    return 0
