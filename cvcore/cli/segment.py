"""`python -m cvcore segment IMAGE --model M`: label every pixel of a photo; overlay and mask files.

With an EfficientNet-Lite model the result is the FCN-style coarse class map of a
classifier (no download needed), labelled as such; torchvision's segmenters need their
weights in torch.hub's cache (see `python -m cvcore weights`).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from cvcore.cli import add_format_argument, count, fraction, output_file
from cvcore.formatting import Table, render


def register(subparsers) -> None:
    parser = subparsers.add_parser("segment", help="segment a photo with a catalogue model")
    parser.add_argument("image", metavar="IMAGE", help="JPEG, PNG, WebP, BMP, TIFF or GIF")
    parser.add_argument(
        "--model", "-m", required=True, help="a segmenter (lraspp_mobilenet_v3_large, ...) or efficientnet_lite0/1/2 (coarse map)"
    )
    parser.add_argument("--out", type=output_file, help="write the overlay (photo + class colours) as PNG")
    parser.add_argument("--mask-out", type=output_file, help="write the label mask as PNG (pixel value = class index)")
    parser.add_argument("--opacity", type=fraction, default=0.5, help="overlay opacity, 0..1 (default 0.5)")
    parser.add_argument(
        "--top", type=count(1, 1000), default=10, help="classes listed in the table, 1..1000 (default 10; JSON lists all)"
    )
    add_format_argument(parser, ("table", "csv", "json"))
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from cvcore.images import decode_image, encode_png
    from cvcore.registry import get_spec
    from cvcore.segmentation import label_mask_png, legend, overlay, segment
    from cvcore.storage import atomic_write
    from cvcore.weights import load_model

    get_spec(args.model)  # a typo fails before the photo is read
    start = time.perf_counter()
    decoded = decode_image(Path(args.image))
    decode_ms = 1e3 * (time.perf_counter() - start)
    model = load_model(args.model, device=args.device)
    result = segment(decoded.image, args.model, model=model, decode_ms=decode_ms)
    if args.out:
        atomic_write(args.out, encode_png(overlay(decoded.image, result, args.opacity)))
    if args.mask_out:
        atomic_write(args.mask_out, label_mask_png(result))
    if args.format == "json":
        print(json.dumps({"image": str(args.image), **result.summary()}, indent=2))
        return 0
    rows = [
        {k: row[k] for k in ("class", "share_pct", "mean_confidence")} for row in legend(result)[: args.top]
    ]  # legend() computes the confidence map: its time is known from here on
    t = result.timings_ms
    caption = (
        f"{result.display_name} — {result.kind}. Photo {result.size[0]}x{result.size[1]}, model input "
        f"{result.input_size[1]}x{result.input_size[0]}, {len(result.classes)} classes present, on {result.device}. "
        f"Time (ms): decode {t.decode_ms:.0f}, preprocess {t.preprocess_ms:.0f}, forward {t.forward_ms:.0f}, "
        f"postprocess {t.postprocess_ms:.0f}, total {t.total_ms:.0f}; then the confidence map {result.confidence_ms:.0f}."
    )
    print(
        render(Table(rows, labels={"share_pct": "share (%)", "mean_confidence": "mean confidence"}, caption=caption), args.format)
    )
    for note in result.notes:
        print(note)
    return 0
