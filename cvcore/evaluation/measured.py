"""What cvlens measured for a model, from its newest stored evaluation: metrics with their intervals and source.

Pages show these beside published numbers (a user's model on Models and Compare, its
reproduction row on Papers). Only an evaluation of exactly these weights counts: a model
re-imported under the same name with another file has other weights, and its old
results are not shown for it. Reads stored JSON only (no torch).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cvcore.evaluation.store import StoredEvaluation, iter_evaluations

# Evaluation metric -> the catalogue's metric key (cvcore.registry: "acc@1", "miou", ...).
METRIC_KEYS = {"top1": "acc@1", "top5": "acc@5", "mean_iou": "miou", "pixel_accuracy": "pixel_acc"}


@dataclass(frozen=True)
class MeasuredMetric:
    key: str  # the catalogue's metric key ("acc@1", "miou", ...)
    value_pct: float
    low_pct: float | None  # the bootstrap interval; None when none was computed
    high_pct: float | None
    level: float  # of the interval (0.95)
    images: int
    dataset: str  # the data folder's name and fingerprint
    date_utc: str
    path: Path  # the stored result

    @property
    def has_interval(self) -> bool:
        return self.low_pct is not None and self.high_pct is not None

    @property
    def source(self) -> str:
        interval = f", {100 * self.level:.0f}% CI {self.low_pct:.2f}–{self.high_pct:.2f}" if self.has_interval else ""
        return f"measured by cvlens: {self.images} images of {self.dataset} ({self.date_utc[:10]}){interval}"

    def contains(self, value_pct: float) -> bool:
        return self.has_interval and self.low_pct <= value_pct <= self.high_pct


def latest_evaluation(spec) -> StoredEvaluation | None:
    """The newest readable stored evaluation of ``spec``'s own weights, or None."""
    for stored in iter_evaluations(spec.name):
        ev = stored.evaluation
        if ev is not None and ev.model.weights_file == spec.weights.file_name and ev.model.weights_id == spec.weights.id:
            return stored
    return None


def measured_metrics(spec) -> dict[str, MeasuredMetric]:
    """Catalogue metric key -> what cvlens measured for ``spec`` (empty without a stored evaluation)."""
    stored = latest_evaluation(spec)
    if stored is None:
        return {}
    ev = stored.evaluation
    p = ev.protocol
    dataset = f"{Path(p.dataset.root).name} ({p.dataset.short})"
    measured = {}
    for name, estimate in ev.headline().items():
        if name not in METRIC_KEYS or estimate.value != estimate.value:
            continue
        low = 100 * estimate.low if estimate.has_interval else None
        high = 100 * estimate.high if estimate.has_interval else None
        measured[METRIC_KEYS[name]] = MeasuredMetric(
            METRIC_KEYS[name], 100 * estimate.value, low, high, p.bootstrap.level, ev.images, dataset, p.date_utc, stored.path
        )
    return measured


# What one evaluation started from a page may read: a shared classroom server must not spend an hour on one
# user's ImageNet; the CLI has no such cap.
MAX_PAGE_IMAGES = 2000


def latest_stored(name: str) -> StoredEvaluation | None:
    """The newest stored evaluation of the model called ``name``, for its own weights."""
    from cvcore.registry import get_spec

    return latest_evaluation(get_spec(name, metadata_only=True))


def evaluate_and_store(
    name: str,
    data: str,
    *,
    labels: str | None = None,
    classes: str | None = None,
    limit: int | None = None,
    resamples: int = 1000,
    progress=None,
) -> Path:
    """Evaluate the model ``name`` on the folder ``data`` and store the result: one call for a page."""
    from cvcore.evaluation.bootstrap import BootstrapSettings
    from cvcore.evaluation.run import evaluate, open_dataset
    from cvcore.evaluation.store import save_evaluation
    from cvcore.registry import get_spec
    from cvcore.weights import load_model

    spec = get_spec(name)
    dataset = open_dataset(data, spec, labels=labels, classes=classes)
    model = load_model(spec)
    ev = evaluate(model, spec, dataset, limit=limit, bootstrap=BootstrapSettings(resamples=resamples), progress=progress)
    return save_evaluation(ev)
