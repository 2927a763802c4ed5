"""Is model A really better than model B on these images? A paired comparison of two evaluations.

Both models must have been scored on the same images (same files, same order, same data
fingerprint). Two tests, because they answer for different metrics:

- **Paired bootstrap of the difference**, for every headline metric: each redraw takes the
  same images for both models and recomputes metric(A) - metric(B) at the dataset level
  (for mIoU, from each model's summed confusion counts). The difference is significant at
  the 5 % level when its 95 % interval excludes 0. Pairing matters: the images that are hard
  for A are mostly hard for B too, so the difference varies far less than either metric.
- **McNemar's exact test**, for top-1 and top-5 (each image is right or wrong for each
  model): a binomial test on the images exactly one model gets right (Dietterich 1998).
  It needs no resampling and no seed. mIoU and pixel accuracy are not per-image
  right/wrong outcomes, so they get the bootstrap only.

Imports NumPy only: stored results can be compared without loading a model.
"""

from __future__ import annotations

from dataclasses import dataclass

from cvcore.errors import InvalidInputError
from cvcore.evaluation.bootstrap import BootstrapSettings, Estimate, McNemar, estimates, mcnemar_exact
from cvcore.evaluation.results import METRIC_LABELS, ClassificationEvaluation, Evaluation

SIGNIFICANCE = 0.05


@dataclass(frozen=True)
class Difference:
    metric: str
    a: float
    b: float
    difference: Estimate  # a - b, with its paired bootstrap interval
    mcnemar: McNemar | None = None  # top-1 / top-5 only

    @property
    def label(self) -> str:
        return METRIC_LABELS.get(self.metric, self.metric)

    @property
    def significant(self) -> bool | None:
        """Whether the difference is significant at 5 %: McNemar where it applies, else the interval excluding 0."""
        if self.mcnemar is not None:
            return self.mcnemar.p_value < SIGNIFICANCE
        if not self.difference.has_interval:
            return None
        return not self.difference.contains(0.0)


@dataclass(frozen=True)
class PairedComparison:
    model_a: str
    model_b: str
    images: int
    dataset_sha256: str
    bootstrap: BootstrapSettings
    differences: tuple[Difference, ...]

    def to_dict(self) -> dict:
        from cvcore.evaluation.results import _clean

        return _clean({
            "model_a": self.model_a, "model_b": self.model_b, "images": self.images, "dataset_sha256": self.dataset_sha256,
            "bootstrap": {"resamples": self.bootstrap.resamples, "seed": self.bootstrap.seed, "level": self.bootstrap.level},
            "differences": [
                {
                    "metric": d.metric, "a": d.a, "b": d.b, "difference": d.difference.value,
                    "ci": {"low": d.difference.low, "high": d.difference.high} if d.difference.has_interval else None,
                    "mcnemar": None if d.mcnemar is None else {"only_a": d.mcnemar.only_a, "only_b": d.mcnemar.only_b, "p_value": d.mcnemar.p_value},
                    "significant": d.significant,
                }
                for d in self.differences
            ],
        })  # fmt: skip


def compare_evaluations(a: Evaluation, b: Evaluation, *, bootstrap: BootstrapSettings | None = None) -> PairedComparison:
    """Paired comparison of ``a`` and ``b`` (same images); ``bootstrap`` defaults to ``a``'s settings."""
    _check_paired(a, b)
    settings = bootstrap or a.protocol.bootstrap
    stat_a, stat_b = a.statistic(), b.statistic()
    diffs = estimates(a.images, lambda indices: stat_a(indices) - stat_b(indices), settings)
    tests: dict[str, McNemar] = {}
    if isinstance(a, ClassificationEvaluation):
        tests = {"top1": mcnemar_exact(a.correct_top1, b.correct_top1), "top5": mcnemar_exact(a.correct_topk, b.correct_topk)}
    ha, hb = a.headline(), b.headline()
    differences = tuple(
        Difference(name, ha[name].value, hb[name].value, diff, tests.get(name)) for name, diff in zip(a.metric_names, diffs)
    )
    return PairedComparison(a.model.name, b.model.name, a.images, a.protocol.dataset.sha256, settings, differences)


def _check_paired(a: Evaluation, b: Evaluation) -> None:
    if a.task != b.task:
        raise InvalidInputError(
            f"{a.model.name} was evaluated for {a.task} and {b.model.name} for {b.task}: they cannot be compared."
        )
    if a.protocol.dataset.sha256 != b.protocol.dataset.sha256 or a.files != b.files:
        raise InvalidInputError(
            f"{a.model.name} and {b.model.name} were not evaluated on the same images "
            f"({a.images} images of data {a.protocol.dataset.short} vs {b.images} of {b.protocol.dataset.short}); "
            "a paired test needs both on the same images."
        )
    if isinstance(a, ClassificationEvaluation):
        if not (a.targets == b.targets).all():
            raise InvalidInputError(
                f"{a.model.name} and {b.model.name} give the images different labels (different class lists); compare models with the same classes."
            )
    elif a.class_names != b.class_names:
        raise InvalidInputError(f"{a.model.name} and {b.model.name} were scored against different class lists.")
