"""`python -m cvcore segment IMAGE --model M`: label every pixel of a photo; overlay and mask files.

With an EfficientNet-Lite model the result is the FCN-style coarse class map of a
classifier (no download needed), labelled as such; torchvision's segmenters need their
weights in torch.hub's cache (see `python -m cvcore weights`).

``--table`` prints one of the Segmentation page's tables instead: ``classes`` (legend and
areas of one model), ``disagreement`` (two ``--model``), ``scores`` and ``class-iou``
(each ``--model`` against a ground-truth ``--mask``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from cvcore.cli import add_format_argument, add_runtime_arguments, count, fraction, output_file, runtime_mode
from cvcore.errors import InvalidInputError
from cvcore.formatting import Table, render

TABLES = ("classes", "disagreement", "scores", "class-iou")
MAX_MODELS = 4  # as on the Segmentation page


def register(subparsers) -> None:
    parser = subparsers.add_parser("segment", help="segment a photo with a catalogue model")
    parser.add_argument("image", metavar="IMAGE", help="JPEG, PNG, WebP, BMP, TIFF or GIF")
    parser.add_argument(
        "--model", "-m", required=True, action="append",
        help="a segmenter (lraspp_mobilenet_v3_large, ...) or efficientnet_lite0/1/2 (coarse map); several with --table",
    )  # fmt: skip
    parser.add_argument(
        "--table", choices=TABLES, help="the page's table: classes (one model), disagreement (two), scores, class-iou (--mask)"
    )
    parser.add_argument("--mask", help="ground-truth label mask (VOC palette PNG of this photo), for --table scores / class-iou")
    parser.add_argument("--out", type=output_file, help="write the overlay (photo + class colours) as PNG")
    parser.add_argument("--mask-out", type=output_file, help="write the label mask as PNG (pixel value = class index)")
    parser.add_argument("--opacity", type=fraction, default=0.5, help="overlay opacity, 0..1 (default 0.5)")
    parser.add_argument(
        "--top", type=count(1, 1000), default=10, help="classes listed in the table, 1..1000 (default 10; JSON lists all)"
    )
    add_format_argument(parser, ("table", "csv", "json"))
    add_runtime_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from cvcore.images import decode_image, encode_png
    from cvcore.registry import get_spec
    from cvcore.runtime import compile_in_this_thread
    from cvcore.segmentation import agreement_with_fp32, label_mask_png, legend, overlay, segment
    from cvcore.storage import atomic_write
    from cvcore.weights import load_model

    check_models(args)
    for name in args.model:
        get_spec(name)  # a typo fails before the photo is read
    if args.table:
        return run_table(args)
    args.model = args.model[0]
    mode = runtime_mode(args)
    start = time.perf_counter()
    decoded = decode_image(Path(args.image))
    decode_ms = 1e3 * (time.perf_counter() - start)
    model = load_model(args.model, device=args.device)
    with compile_in_this_thread():  # a one-shot run: the result must come from the mode asked for
        result = segment(decoded.image, args.model, model=model, decode_ms=decode_ms, mode=mode)
    agreement = None
    if not mode.is_default:  # measured, not assumed: the same photo in exact fp32
        agreement = agreement_with_fp32(result, segment(decoded.image, args.model, model=model, decode_ms=decode_ms))
    if args.out:
        atomic_write(args.out, encode_png(overlay(decoded.image, result, args.opacity)))
    if args.mask_out:
        atomic_write(args.mask_out, label_mask_png(result))
    if args.format == "json":
        record = {"image": str(args.image), **result.summary()}
        if agreement is not None:
            record["agreement_with_fp32"] = {
                "pixel_share": agreement.share, "pixels_equal": agreement.equal, "pixels": agreement.total,
                "reference": agreement.reference,
            }  # fmt: skip
        print(json.dumps(record, indent=2))
        return 0
    rows = [
        {k: row[k] for k in ("class", "share_pct", "mean_confidence")} for row in legend(result)[: args.top]
    ]  # legend() computes the confidence map: its time is known from here on
    t = result.timings_ms
    caption = (
        f"{result.display_name} — {result.kind}. Photo {result.size[0]}x{result.size[1]}, model input "
        f"{result.input_size[1]}x{result.input_size[0]}, {len(result.classes)} classes present, on {result.device}, "
        f"{mode.label}. "
        f"Time (ms): decode {t.decode_ms:.0f}, preprocess {t.preprocess_ms:.0f}, forward {t.forward_ms:.0f}, "
        f"postprocess {t.postprocess_ms:.0f}, total {t.total_ms:.0f}; then the confidence map {result.confidence_ms:.0f}."
    )
    print(
        render(Table(rows, labels={"share_pct": "share (%)", "mean_confidence": "mean confidence"}, caption=caption), args.format)
    )
    for note in result.notes:
        print(note)
    if agreement is not None:
        print(f"Agreement: {agreement.describe()}.")
    return 0


def check_models(args: argparse.Namespace) -> None:
    """How many --model each use takes, and --mask only where it is read: before any work."""
    low, high = {"disagreement": (2, 2), "scores": (1, MAX_MODELS), "class-iou": (1, MAX_MODELS)}.get(args.table, (1, 1))
    if not low <= len(args.model) <= high:
        what = f"--table {args.table}" if args.table else "segment without --table"
        wanted = str(low) if low == high else f"{low} to {high}"
        raise InvalidInputError(f"{what} takes {wanted} --model; got {len(args.model)}.")
    if (args.mask is not None) != (args.table in ("scores", "class-iou")):
        raise InvalidInputError("--mask goes with --table scores or class-iou, and they need it.")
    if args.table and (args.out or args.mask_out):
        raise InvalidInputError("--out and --mask-out write one model's files: drop --table.")


def run_table(args: argparse.Namespace) -> int:
    """One of the Segmentation page's tables, from the same cvcore calls on the same photo."""
    from cvcore.images import decode_image
    from cvcore.registry import get_spec
    from cvcore.runtime import compile_in_this_thread
    from cvcore.segmentation import disagreement, is_coarse, segment
    from cvcore.segmentation_tables import class_iou_table, disagreement_table, legend_table, scores_table
    from cvcore.voc import read_label_mask, score
    from cvcore.weights import load_model

    if args.format == "json":
        raise InvalidInputError("--table prints a table: use --format table or csv.")
    coarse = [get_spec(n).display_name for n in args.model if is_coarse(get_spec(n))]
    if args.mask and coarse:  # before the photo is read and the models run
        raise InvalidInputError(f"A ground-truth mask scores VOC segmenters; {', '.join(coarse)} gives a coarse ImageNet map.")
    mode = runtime_mode(args)
    image = decode_image(Path(args.image)).image
    results = []
    with compile_in_this_thread():
        for name in args.model:
            results.append(segment(image, name, model=load_model(name, device=args.device), mode=mode))
    if args.table == "classes":
        table = legend_table(results[0])
    elif args.table == "disagreement":
        table = disagreement_table(disagreement(*results), *results)
    else:  # read once per model: the classes it is checked against are the model's
        scored = [(r, score(r, read_label_mask(Path(args.mask), len(r.categories)))) for r in results]
        table = scores_table(scored) if args.table == "scores" else class_iou_table(scored)
    print(render(table, args.format))
    return 0
