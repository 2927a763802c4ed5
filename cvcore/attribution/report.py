"""One photo, one classifier, several methods: everything the Saliency page and the
``explain`` CLI show, from one call.

Classify, pick the target (top-1 unless given), compute each method's map and its
deletion/insertion curves, and the random-map baseline once for the photo and target.
The curves can come apart, after the maps are shown (``curves=False``, then
:func:`score_results`); either way all their forward passes go in full batches.

A runtime ``mode`` (:mod:`cvcore.runtime`) applies to the forward-only passes: the top-5
and the curves. The maps themselves always come from eager fp32: gradient methods need
autograd through Captum's hooks, which land on a fresh per-call copy of the model (a
compiled graph would recompile for every copy), and Occlusion stays with them so that
a method's map never depends on the mode. A fast mode's top-1 is checked against an fp32
run of the same photo (:attr:`PhotoExplanation.agreement`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image
from torch import nn

from cvcore.attribution.core import Attribution, explain
from cvcore.attribution.faithfulness import (
    DEFAULT_RANDOM_MAPS,
    MAX_RANDOM_MAPS,
    Faithfulness,
    Verdict,
    compare_with_random,
    score_maps,
)
from cvcore.attribution.methods import Cost, get_method
from cvcore.classify import Classification, agreement_with_fp32, classify
from cvcore.errors import InvalidInputError
from cvcore.preprocess import denormalize
from cvcore.registry import ModelSpec
from cvcore.runtime import EXACT, Agreement, RuntimeMode, parse_mode, run

# progress(fraction 0..1, what is running now)
ReportProgress = Callable[[float, str], None]

_COST_WEIGHT = {Cost.FAST: 1.0, Cost.MODERATE: 6.0, Cost.SLOW: 12.0}
_CURVES_WEIGHT = 2.0  # one map's deletion + insertion curves, relative to one fast map


@dataclass
class MethodResult:
    attribution: Attribution
    faithfulness: Faithfulness | None  # None when curves were not asked for
    random: Faithfulness | None  # random maps at the same resolution as this map: the baseline

    @property
    def time_ms(self) -> float:
        return self.attribution.time_ms

    @property
    def verdicts(self) -> tuple[Verdict, Verdict] | None:
        """(deletion, insertion) against the random maps of this map's resolution; None without curves or baseline."""
        if self.faithfulness is None or self.random is None:
            return None
        return compare_with_random(self.faithfulness, self.random)


@dataclass
class PhotoExplanation:
    model: str
    display_name: str
    classification: Classification
    target: int
    target_label: str
    target_prob: float  # the model's probability for the target class on the photo
    image: np.ndarray = field(repr=False)  # (H, W, 3) uint8: the model's view (resized and cropped)
    results: list[MethodResult] = field(default_factory=list)
    mode: str = EXACT.name  # runtime mode of the top-5 and the curves (maps: always eager fp32)
    agreement: Agreement | None = None  # a fast mode's top-1 against an fp32 run of the same photo; None in fp32

    def result(self, method: str) -> MethodResult:
        name = get_method(method).name
        return next(r for r in self.results if r.attribution.method == name)


def explain_photo(
    model: nn.Module,
    spec: ModelSpec,
    image: Image.Image,
    methods: Sequence[str],
    *,
    target: int | None = None,
    layer: str | None = None,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
    curves: bool = True,
    curve_steps: int = 20,
    random_maps: int = DEFAULT_RANDOM_MAPS,
    seed: int = 0,
    progress: ReportProgress | None = None,
    baselines: dict[tuple[int, int], Faithfulness] | None = None,
    mode: RuntimeMode | str = EXACT,
) -> PhotoExplanation:
    """Top-5, then for each of ``methods`` its map (and deletion/insertion curves).

    ``settings`` maps a method name to overrides of its defaults; ``layer`` overrides the
    Grad-CAM layer; ``random_maps`` random maps (seeded with ``seed``) at each map's own
    resolution form its baseline (computed once per resolution; 10 by default, enough for
    :attr:`MethodResult.verdicts` to judge against their spread, see :mod:`.faithfulness`). Pass the same dict as
    ``baselines`` to calls for the same photo, model, target and curve settings to reuse
    the random baselines already computed (it is filled in place); they must come from
    the same ``mode``. ``mode`` runs the top-5 and the curves (maps: eager fp32).
    """
    chosen = [get_method(m) for m in methods]
    if not chosen:
        raise InvalidInputError("Pick at least one attribution method.")
    mode = parse_mode(mode)
    if curves and not 0 <= int(random_maps) <= MAX_RANDOM_MAPS:  # before any work: each map costs 2 (steps + 1) passes
        raise InvalidInputError(f"random_maps must be between 0 and {MAX_RANDOM_MAPS}; got {random_maps}.")
    settings = {get_method(k).name: v for k, v in (settings or {}).items()}
    classification = classify(model, image, spec, k=5, mode=mode)
    agreement = None if mode.is_default else agreement_with_fp32(classification, classify(model, image, spec, k=5))
    batch = classification.inputs
    target = classification.top1.index if target is None else int(target)
    if not 0 <= target < len(spec.categories):
        raise InvalidInputError(f"Class {target} is out of range: {spec.display_name} has {len(spec.categories)} classes.")
    plan = _Plan(chosen, curves, random_maps, progress)
    attributions = []
    for method in chosen:
        reporter = plan.reporter(method.display_name, _COST_WEIGHT[method.cost])
        attributions.append(
            explain(
                model,
                batch,
                method,
                target,
                family=spec.family,
                layer=layer,
                settings=settings.get(method.name),
                progress=reporter,
            )
        )
    results = [MethodResult(attribution, None, None) for attribution in attributions]
    if curves:
        results = score_results(
            model, batch, results, target, steps=curve_steps, random_maps=random_maps, seed=seed, baselines=baselines,
            progress=plan.reporter("deletion/insertion curves, random-map baselines", plan.curves_weight), mode=mode,
        )  # fmt: skip
    if progress:
        progress(1.0, "done")
    view = (denormalize(batch, spec)[0].permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8)
    view.flags.writeable = False  # shared like the maps
    probs = classification_probability(classification, model, target)
    return PhotoExplanation(
        spec.name, spec.display_name, classification, target, spec.categories[target], probs, view, results, mode.name, agreement
    )


def score_results(
    model: nn.Module,
    inputs,
    results: Sequence[MethodResult],
    target: int,
    *,
    steps: int = 20,
    random_maps: int = DEFAULT_RANDOM_MAPS,
    seed: int = 0,
    baselines: dict[tuple[int, int], Faithfulness] | None = None,
    progress: Callable[[float], None] | None = None,
    mode: RuntimeMode | str = EXACT,
) -> list[MethodResult]:
    """``results`` (maps computed with ``curves=False``) with their deletion/insertion curves and random baselines.

    ``inputs`` is the preprocessed photo the maps were computed on (``classification.inputs``).
    Every map's curves and the random maps of each resolution not yet in ``baselines`` go
    through the model in one stream of full batches (:func:`score_maps`); ``baselines`` is
    filled in place, as in :func:`explain_photo`. New MethodResult objects: the given ones
    are left as they are (they may be shared).
    """
    randoms = baselines if baselines is not None else {}
    wanted = [r.attribution.resolution for r in results] if random_maps else []
    missing = [res for res in dict.fromkeys(wanted) if not _fits(randoms.get(res), random_maps, steps)]
    scores, computed = score_maps(
        model, inputs, [r.attribution.values for r in results], target, random_resolutions=missing, random_maps=random_maps,
        seed=seed, steps=steps, progress=progress, mode=mode,
    )  # fmt: skip
    randoms.update(computed)
    return [
        MethodResult(r.attribution, score, randoms[r.attribution.resolution] if random_maps else None)
        for r, score in zip(results, scores)
    ]


def _fits(baseline: Faithfulness | None, random_maps: int, steps: int) -> bool:
    """A stored baseline can be reused: as many random maps as asked, and curves of as many steps."""
    return baseline is not None and baseline.maps == random_maps and len(baseline.deletion.fractions) == steps + 1


def classification_probability(classification: Classification, model: nn.Module, target: int) -> float:
    """The target's probability: from the top-5 when it is there, else one more forward pass (in the same mode)."""
    for p in classification.predictions:
        if p.index == target:
            return p.prob
    logits, _ = run(model, classification.inputs, classification.mode)
    return float(logits.float().softmax(dim=1)[0, target])


class _Plan:
    """Turns per-step progress of each part into one overall fraction, weighted by cost."""

    def __init__(self, methods, curves: bool, random_maps: int, progress: ReportProgress | None):
        self.progress = progress
        self.curves_weight = (_CURVES_WEIGHT * len(methods) + _CURVES_WEIGHT * random_maps * 2) if curves else 0.0
        self.total = sum(_COST_WEIGHT[m.cost] for m in methods) + self.curves_weight  # two random resolutions, usually
        self.done = 0.0

    def reporter(self, label: str, weight: float) -> Callable[[float], None] | None:
        if self.progress is None:
            return None
        start = self.done
        self.done += weight
        self.progress(start / self.total, label)
        return lambda fraction: self.progress(min(1.0, (start + weight * fraction) / self.total), label)


def deletion_figure(results: Sequence[MethodResult], title: str = ""):
    """Plotly figure: each method's deletion curve (AUC in the legend) and the random-map baselines in grey.

    One baseline per map resolution among ``results`` (Grad-CAM's 7x7 and the pixel methods'
    maps are compared with random maps of their own resolution). Results without curves are skipped.
    """
    import plotly.graph_objects as go

    fig = go.Figure()
    randoms = {}
    for result in results:
        if result.faithfulness is None:
            continue
        d = result.faithfulness.deletion
        fig.add_scatter(x=d.fractions, y=d.probs, mode="lines", name=f"{result.attribution.display_name} ({d.auc:.3f})")
        if result.random is not None:
            randoms[result.attribution.resolution] = result.random
    for ((h, w), random), dash in zip(randoms.items(), ("dash", "dot", "dashdot", "longdash")):
        d = random.deletion
        fig.add_scatter(
            x=d.fractions, y=d.probs, mode="lines", line={"dash": dash, "color": "grey"},
            name=f"random {h}x{w}, mean of {random.maps} ({d.auc:.3f})",
        )  # fmt: skip
    fig.update_layout(
        title=title, xaxis_title="share of pixels deleted", yaxis_title="target-class probability", height=380, margin={"t": 50}
    )
    return fig


def faithfulness_figure(results: Sequence[MethodResult], title: str = ""):
    """Plotly figure, two panels side by side: deletion curves (lower area is better) and insertion curves (higher is better).

    Each method has its colour (:func:`cvcore.palette.method_color`) in both panels, with its
    AUC in the legend; the random-map baselines are grey, one per map resolution, with the
    spread of their AUCs. Results without curves are skipped.
    """
    from plotly.subplots import make_subplots

    from cvcore.palette import RANDOM_BASELINE_COLOR, method_color

    fig = make_subplots(rows=1, cols=2, subplot_titles=("Deletion (lower area is better)", "Insertion (higher area is better)"),
                        horizontal_spacing=0.08, shared_yaxes=True)  # fmt: skip
    randoms = {}
    for result in results:
        if result.faithfulness is None:
            continue
        a, f = result.attribution, result.faithfulness
        for col, curve in ((1, f.deletion), (2, f.insertion)):
            fig.add_scatter(
                x=curve.fractions, y=curve.probs, mode="lines", line={"color": method_color(a.method)}, row=1, col=col,
                name=f"{a.display_name} (deletion {f.deletion_auc:.3f}, insertion {f.insertion_auc:.3f})",
                legendgroup=a.method, showlegend=col == 1,
            )  # fmt: skip
        if result.random is not None:
            randoms[a.resolution] = result.random
    for ((h, w), random), dash in zip(randoms.items(), ("dash", "dot", "dashdot", "longdash")):
        spread = ""
        if len(random.deletion_aucs) > 1:
            spread = f", deletion {np.mean(random.deletion_aucs):.3f} ± {np.std(random.deletion_aucs, ddof=1):.3f}"
        for col, curve in ((1, random.deletion), (2, random.insertion)):
            fig.add_scatter(
                x=curve.fractions, y=curve.probs, mode="lines", line={"dash": dash, "color": RANDOM_BASELINE_COLOR},
                name=f"random {h}x{w}, mean of {random.maps}{spread}", legendgroup=f"random{h}x{w}", showlegend=col == 1,
                row=1, col=col,
            )  # fmt: skip
    fig.update_xaxes(title_text="share of pixels deleted", row=1, col=1)
    fig.update_xaxes(title_text="share of pixels inserted", row=1, col=2)
    fig.update_yaxes(title_text="target-class probability", row=1, col=1)
    fig.update_layout(title=title, height=420, margin={"t": 70}, legend={"orientation": "h", "yanchor": "top", "y": -0.2})
    return fig
