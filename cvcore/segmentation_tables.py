"""Segmentation results as :class:`~cvcore.formatting.Table` objects: the Segmentation page's tables and the CLI's.

Sized for a page and a thesis: times in milliseconds to one decimal (wall-clock time is
not known to a microsecond), shares and scores in percent to one or two, short labels with
units in the header; the long explanations go to the caption. A table wider than its
frame scrolls sideways, and a right-aligned number cut at the frame's edge loses its
leading digits ("259.3" read as "59.3"): keeping columns few and narrow avoids it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from cvcore.formatting import Table
from cvcore.metrics import SegmentationMetrics
from cvcore.segmentation import Disagreement, SegmentationResult, legend

TIMING_LABELS = {
    "model": "model",
    "kind": "kind",
    "device": "device",
    "mode": "mode",  # cvcore.runtime: "fp32" exact, or the fast mode the forward pass ran in
    "decode_ms": "decode (ms)",
    "preprocess_ms": "preprocess (ms)",
    "forward_ms": "forward (ms)",
    "postprocess_ms": "postprocess (ms)",
    "total_ms": "to labels (ms)",
    "confidence_ms": "confidence map (ms)",
}


def short_kind(result: SegmentationResult) -> str:
    return "coarse map" if result.is_coarse else "segmenter"


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _pct(fraction: float, decimals: int = 2) -> float | None:
    return None if fraction is None or math.isnan(fraction) else round(100 * fraction, decimals)


def timings_table(results: Sequence[SegmentationResult]) -> Table:
    """Wall-clock time per stage of each result, upload to labels, then the confidence map."""
    rows = [
        {
            "model": r.display_name,
            "kind": short_kind(r),
            "device": r.device,
            "mode": r.mode,
            **{k: _ms(v) for k, v in r.timings_ms.as_dict().items()},
            "confidence_ms": _ms(r.confidence_ms),
        }
        for r in results
    ]
    caption = (
        "Wall-clock time per stage, measured on this machine for this photo (a model's first run includes warm-up). "
        "'to labels' is upload to label map, all the overlay needs; the confidence map is computed after it. "
        "Coarse map: a classifier run at every position of its last feature map (not a trained segmenter)."
    )
    return Table(rows, columns=list(TIMING_LABELS), labels=TIMING_LABELS, caption=caption)


def legend_table(result: SegmentationResult, top: int | None = None) -> Table:
    """The classes present, largest first: colour, share of the photo's pixels, mean confidence over them."""
    rows = [
        {
            "class": row["class"],
            "color": row["color"],
            "share_pct": round(row["share_pct"], 2),
            "mean_confidence": round(row["mean_confidence"], 3),
            "pixels": row["pixels"],
        }
        for row in legend(result)[:top]
    ]  # legend() computes the confidence map (on first use)
    return Table(
        rows,
        labels={"color": "colour", "share_pct": "share (%)", "mean_confidence": "mean confidence"},
        caption=f"{result.display_name} ({short_kind(result)}): share of the photo's pixels, mean softmax probability over them.",
        latex_columns=["class", "share_pct", "mean_confidence", "pixels"],  # a hex colour is no use on paper
    )


def scores_table(scored: Sequence[tuple[SegmentationResult, SegmentationMetrics]]) -> Table:
    """Each segmenter against one ground-truth mask: pixel accuracy and mIoU (per-class IoUs: :func:`class_iou_table`)."""
    rows = [
        {
            "model": result.display_name,
            "pixel_acc_pct": _pct(m.pixel_accuracy),
            "miou_pct": _pct(m.mean_iou),
            "classes": len(m.present_classes),
            "pixels": m.pixels,
        }
        for result, m in scored
    ]
    return Table(
        rows,
        labels={"pixel_acc_pct": "pixel acc (%)", "miou_pct": "mIoU (%)", "classes": "classes scored", "pixels": "pixels scored"},
        caption="Measured against the uploaded mask; border pixels (255) ignored; mIoU over the classes in the mask or the prediction.",
    )


def class_iou_table(scored: Sequence[tuple[SegmentationResult, SegmentationMetrics]]) -> Table:
    """IoU per class (rows) and model (columns): a class list grows down the page, not off its side."""
    classes = list(dict.fromkeys(c for _, m in scored for c in m.present_classes))
    keys = [f"iou_{i}" for i in range(len(scored))]
    rows = [
        {"class": name, **{k: _pct(m.per_class_iou.get(name, math.nan)) for k, (_, m) in zip(keys, scored)}} for name in classes
    ]
    labels = {k: f"IoU (%) {result.display_name}" for k, (result, _) in zip(keys, scored)}
    return Table(
        rows,
        columns=["class", *keys],
        labels=labels,
        caption="IoU per class against the uploaded mask, for the classes in the mask or a prediction ('—': neither for that model).",
    )


def disagreement_table(d: Disagreement, a: SegmentationResult, b: SegmentationResult) -> Table:
    """Two results on one photo: how many pixels they label differently."""
    row = {
        "first": a.display_name, "second": b.display_name, "differ_pct": _pct(d.fraction),
        "pixels_differ": int(d.mask.sum()), "pixels": int(d.mask.size),
    }  # fmt: skip
    return Table(
        [row],
        labels={"first": "first model", "second": "second model", "differ_pct": "labelled differently (%)",
                "pixels_differ": "pixels labelled differently", "pixels": "pixels"},
        caption=f"Pixels of the photo that {a.display_name} and {b.display_name} give different classes ({a.mode}).",
    )  # fmt: skip
