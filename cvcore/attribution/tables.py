"""Saliency results as :class:`~cvcore.formatting.Table` objects: the Saliency page's tables and the CLI's."""

from __future__ import annotations

from collections.abc import Sequence

from cvcore.attribution.faithfulness import ALPHA, DEFAULT_RANDOM_MAPS, MIN_RANDOM_MAPS_FOR_VERDICT
from cvcore.attribution.report import MethodResult
from cvcore.classify import Classification
from cvcore.formatting import Table

FAITHFULNESS_SOURCE = "deletion and insertion curves, Petsiuk et al. 2018 (RISE, arXiv:1806.07421)"


def top5_table(classification: Classification, display_name: str) -> Table:
    rows = [
        {"rank": i + 1, "class": p.label, "index": p.index, "prob": round(p.prob, 4)}
        for i, p in enumerate(classification.predictions)
    ]
    return Table(rows, labels={"prob": "probability"}, caption=f"{display_name}: top-{len(rows)} classes (softmax).")


def faithfulness_table(results: Sequence[MethodResult], display_name: str, target_label: str = "") -> Table:
    """Each map's deletion and insertion AUC beside the random maps' mean ± standard deviation, with the verdict.

    The verdict: is the map's AUC beyond the one-sided 95% prediction bound of the random maps
    of its own resolution (:func:`cvcore.attribution.faithfulness.compare_with_random`)?
    """
    rows = []
    maps = set()
    for result in results:
        verdicts = result.verdicts
        if verdicts is None:
            continue
        deletion, insertion = verdicts
        maps.add(deletion.random_maps)
        h, w = result.attribution.resolution
        rows.append(
            {
                "method": result.attribution.display_name,
                "map": f"{h}x{w}",
                "deletion_auc": round(deletion.auc, 3),
                "deletion_random": f"{deletion.random_mean:.3f} ± {deletion.random_std:.3f}",
                "deletion_p": round(deletion.p_value, 3),
                "deletion_verdict": _short(deletion),
                "insertion_auc": round(insertion.auc, 3),
                "insertion_random": f"{insertion.random_mean:.3f} ± {insertion.random_std:.3f}",
                "insertion_p": round(insertion.p_value, 3),
                "insertion_verdict": _short(insertion),
            }
        )
    counts = ", ".join(str(n) for n in sorted(maps)) or "no"
    target = f" for '{target_label}'" if target_label else ""
    caption = (
        f"{display_name}: faithfulness of each map{target} against {counts} random maps of the same resolution "
        f"(mean ± standard deviation). Deletion: lower is better; insertion: higher is better. p: the chance that one more "
        f"random map does at least as well (Student's t from the random maps' mean and spread); 'beats' means p <= {ALPHA:g}, "
        f"judged with at least {MIN_RANDOM_MAPS_FOR_VERDICT} random maps ({DEFAULT_RANDOM_MAPS} by default)."
    )
    return Table(
        rows,
        labels={
            "deletion_auc": "deletion AUC",
            "deletion_random": "random (deletion)",
            "deletion_p": "p (deletion)",
            "deletion_verdict": "deletion verdict",
            "insertion_auc": "insertion AUC",
            "insertion_random": "random (insertion)",
            "insertion_p": "p (insertion)",
            "insertion_verdict": "insertion verdict",
        },  # fmt: skip
        caption=caption,
        sources=[FAITHFULNESS_SOURCE],
    )


def _short(verdict) -> str:
    if not verdict.decidable:
        return "too few maps"
    return "beats random" if verdict.beats_random else "not better"
