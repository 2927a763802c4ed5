"""Evaluation results as text and table rows (for the CLI and the pages); computing lives elsewhere."""

from __future__ import annotations

import math

from cvcore.evaluation.bootstrap import Estimate
from cvcore.evaluation.compare import PairedComparison
from cvcore.evaluation.results import METRIC_LABELS, ClassificationEvaluation, Evaluation, SegmentationEvaluation
from cvcore.formatting import Table


def format_estimate(estimate: Estimate, *, level: float = 0.95, digits: int = 2) -> str:
    """``75.31% (95% CI 74.10–76.52)``; no interval: the value alone."""
    if not math.isfinite(estimate.value):
        return "n/a"
    text = f"{100 * estimate.value:.{digits}f}%"
    if estimate.has_interval:
        text += f" ({100 * level:.0f}% CI {100 * estimate.low:.{digits}f}–{100 * estimate.high:.{digits}f})"
    return text


def headline_line(ev: Evaluation) -> str:
    level = ev.protocol.bootstrap.level
    return "   ".join(f"{METRIC_LABELS[name]}: {format_estimate(est, level=level)}" for name, est in ev.headline().items())


def title_line(ev: Evaluation) -> str:
    p = ev.protocol
    where = f"{p.dataset.root} ({p.dataset.layout}{f', {p.split}' if p.split else ''}"
    extra = f", {ev.pixels:,} pixels scored" if isinstance(ev, SegmentationEvaluation) else ""
    return f"{ev.model.name} on {where}, {ev.images} images{extra}, {p.seconds:.1f} s)"


def headline_rows(ev: Evaluation) -> list[dict]:
    """metric, value_pct, ci_low_pct, ci_high_pct: one row per headline metric."""
    return [
        {
            "metric": METRIC_LABELS[name], "value_pct": 100 * est.value,
            "ci_low_pct": 100 * est.low if est.has_interval else None, "ci_high_pct": 100 * est.high if est.has_interval else None,
        }
        for name, est in ev.headline().items()
    ]  # fmt: skip


HEADLINE_LABELS = {"value_pct": "value (%)", "ci_low_pct": "95% CI low (%)", "ci_high_pct": "95% CI high (%)"}


def class_rows(ev: Evaluation) -> list[dict]:
    """Classification: class, index, images, top-1 %, most confused with. Segmentation: class, IoU %, pixels."""
    if isinstance(ev, ClassificationEvaluation):
        return [
            {
                "class": c.name, "index": c.index, "images": c.images, "top1_pct": 100 * c.accuracy,
                "confused_with": c.most_confused_with or "", "confused_pct": 100 * c.confused_share if c.most_confused_with else None,
            }
            for c in ev.classes
        ]  # fmt: skip
    return [
        {
            "class": r["class"],
            "iou_pct": 100 * r["iou"],
            "truth_pixels": r["truth_pixels"],
            "predicted_pixels": r["predicted_pixels"],
        }
        for r in ev.metrics.rows()
    ]


CLASS_LABELS = {
    "top1_pct": "top-1 (%)", "confused_with": "most confused with", "confused_pct": "share (%)",
    "iou_pct": "IoU (%)", "truth_pixels": "truth px", "predicted_pixels": "predicted px",
}  # fmt: skip


def comparison_rows(comparison: PairedComparison) -> list[dict]:
    """metric, A %, B %, A - B (points), its interval, McNemar's p, significant at 5 %."""
    rows = []
    for d in comparison.differences:
        diff = d.difference
        rows.append({
            "metric": d.label, "a_pct": 100 * d.a, "b_pct": 100 * d.b, "difference_pts": 100 * diff.value,
            "ci_low_pts": 100 * diff.low if diff.has_interval else None, "ci_high_pts": 100 * diff.high if diff.has_interval else None,
            "mcnemar_p": d.mcnemar.p_value if d.mcnemar else None,
            "significant": {True: "yes", False: "no", None: "?"}[d.significant],
        })  # fmt: skip
    return rows


def comparison_labels(comparison: PairedComparison) -> dict[str, str]:
    level = f"{100 * comparison.bootstrap.level:.0f}%"
    return {
        "a_pct": f"{comparison.model_a} (%)", "b_pct": f"{comparison.model_b} (%)", "difference_pts": "A - B (points)",
        "ci_low_pts": f"{level} CI low", "ci_high_pts": f"{level} CI high", "mcnemar_p": "McNemar p", "significant": "significant (5%)",
    }  # fmt: skip


def protocol_caption(ev: Evaluation) -> str:
    return f"Protocol: {ev.protocol.describe()}. Intervals: percentile bootstrap over images."


def headline_table(ev: Evaluation) -> Table:
    """The headline metrics with their intervals, captioned with what was evaluated and how."""
    return Table(headline_rows(ev), labels=HEADLINE_LABELS, caption=f"{title_line(ev)}. {protocol_caption(ev)}")


def class_table(ev: Evaluation, caption: str = "") -> Table:
    """Per-class results (:func:`class_rows`); ``caption`` defaults to the protocol."""
    return Table(class_rows(ev), labels=CLASS_LABELS, caption=caption or protocol_caption(ev))
