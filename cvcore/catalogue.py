"""The catalogue as rows: one record per model with its published numbers and sources.

Shared by ``python -m cvcore models`` and the dashboard's Models page, so both show the
same numbers. Measured values come from the precomputed analysis when available. Both are
read without importing torch (the registry's snapshot, ``assets/analysis.json``), so a cold
Models page does not wait seconds for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cvcore.analysis.conventions import CAPTION, GMACS_LABEL, GMACS_PRINT_LABEL
from cvcore.formatting import Table
from cvcore.registry import ModelSpec, Task, list_models


@dataclass(frozen=True)
class CatalogueRow:
    name: str
    display_name: str
    task: str
    family: str
    year: int
    paper: str
    paper_link: str | None
    params: int | None  # measured (parameter count of the built model)
    gmacs: float | None  # measured at input_size, papers' convention (cvcore.analysis.conventions)
    gmacs_all_ops: float | None  # measured at input_size, fvcore's all-operator total
    input_size: tuple[int, int]
    published_params: float | None
    published_gmacs: float | None  # as its source counts them (published_gmacs_source)
    published_gmacs_source: str | None
    metrics: dict[str, float] = field(default_factory=dict)  # published: acc@1, acc@5 or miou, pixel_acc
    file_size_mb: float | None = None
    weights: str = "none"  # where trained weights come from: torchvision | package | user | none
    weights_available: bool = False  # on this machine right now
    source: str = ""  # where the published numbers come from
    yours: bool = False  # imported by the user (cvcore.user_models)
    arch: str = ""  # the architecture (for a user's model: the one it was built on)
    dataset: str = ""  # what the weights' metrics were measured on
    num_classes: int = 0  # outputs of the head (length of its class list)
    # A user's model: metric key -> what cvlens measured on their data (value_pct, low_pct, high_pct, images, dataset, source)
    evaluated: dict[str, dict] = field(default_factory=dict)
    conventions: dict[str, str] = field(default_factory=dict)  # multiply-add field -> what it counts


def catalogue_row(spec: ModelSpec, measured=None, weights_available: bool | None = None) -> CatalogueRow:
    from cvcore.weights import weight_status

    if weights_available is None:
        weights_available = weight_status(spec.name).available
    from cvcore.analysis.conventions import ALL_OPS_CONVENTION, PAPERS_CONVENTION

    sources = {m.source for m in spec.metrics.values()} | ({spec.num_params.source} if spec.num_params else set())
    return CatalogueRow(
        name=spec.name,
        display_name=spec.display_name,
        task=spec.task.value,
        family=spec.family,
        year=spec.year,
        paper=spec.paper.title,
        paper_link=spec.paper.link,
        params=measured.params if measured else None,
        gmacs=measured.gmacs if measured else None,
        gmacs_all_ops=measured.gmacs_all_ops if measured else None,
        input_size=spec.input_size,
        published_params=spec.num_params.value if spec.num_params else None,
        published_gmacs=spec.gmacs.value if spec.gmacs else None,
        published_gmacs_source=spec.gmacs.source if spec.gmacs else None,
        metrics={k: m.value for k, m in spec.metrics.items()},
        file_size_mb=spec.weights.file_size_mb,
        weights=spec.weights.kind.value,
        weights_available=weights_available,
        source="; ".join(sorted(sources)),
        yours=spec.is_user,
        arch=spec.arch,
        dataset=spec.weights.dataset,
        num_classes=len(spec.categories),
        evaluated=_evaluated(spec) if spec.is_user else {},
        conventions={
            "gmacs": PAPERS_CONVENTION,
            "gmacs_all_ops": ALL_OPS_CONVENTION,
            "published_gmacs": f"as published by {spec.gmacs.source}" if spec.gmacs else "none published",
        },
    )


def _evaluated(spec: ModelSpec) -> dict[str, dict]:
    from cvcore.evaluation.measured import measured_metrics

    return {
        key: {"value_pct": m.value_pct, "low_pct": m.low_pct, "high_pct": m.high_pct, "images": m.images, "dataset": m.dataset, "source": m.source}
        for key, m in measured_metrics(spec).items()
    }


def measured_for(spec: ModelSpec, precomputed: dict | None = None):
    """What cvlens counted for ``spec`` (a Complexity): the stored analysis, or for a user's model what its import measured."""
    if spec.is_user:
        from cvcore.user_models import measured_complexity

        return measured_complexity(spec)
    if precomputed is None:
        from cvcore.analysis import load_precomputed

        precomputed = load_precomputed()
    return precomputed.get(spec.name)


def catalogue_rows(task: Task | str | None = None, family: str | None = None, *, mine: bool = False) -> list[CatalogueRow]:
    """One row per catalogue architecture and per imported model (``mine``: only those)."""
    from cvcore.analysis import load_precomputed

    precomputed = load_precomputed()
    specs = [s for s in list_models(task, family, metadata_only=True) if s.is_user or not mine]
    return [catalogue_row(spec, measured_for(spec, precomputed)) for spec in specs]


MINE_METRICS = {"acc@1": "top-1", "acc@5": "top-5", "miou": "mIoU", "pixel_acc": "pixel acc"}


def _with_interval(m: dict | None) -> str | None:
    if not m:
        return None
    interval = f" [{m['low_pct']:.1f}, {m['high_pct']:.1f}]" if m["low_pct"] is not None else ""
    return f"{m['value_pct']:.2f}{interval}"


def mine_table(rows: list[CatalogueRow]) -> Table:
    """The user's models with what cvlens measured: counts at import, metrics (95% interval) of the newest evaluation."""
    records = [
        {
            "name": r.name, "architecture": r.arch, "task": r.task, "classes": r.num_classes,
            "params_m": round(r.params / 1e6, 3) if r.params else None, "gmacs": round(r.gmacs, 4) if r.gmacs is not None else None,
            **{label: _with_interval(r.evaluated.get(key)) for key, label in MINE_METRICS.items()},
            "evaluated_on": next((f"{m['images']} images of {m['dataset']}" for m in r.evaluated.values()), "not evaluated yet"),
            "trained_on": r.dataset, "file_mb": round(r.file_size_mb, 1) if r.file_size_mb else None,
        }
        for r in rows
    ]  # fmt: skip
    used = [label for key, label in MINE_METRICS.items() if any(r.evaluated.get(key) for r in rows)]
    columns = ["name", "architecture", "task", "classes", "params_m", "gmacs", *used, "evaluated_on", "trained_on", "file_mb"]
    return Table(
        records, columns,
        {"params_m": "params (M)", "gmacs": GMACS_LABEL, "file_mb": "file (MB)", "evaluated_on": "evaluated on",
         "trained_on": "trained on (yours)", **{label: f"{label} % [95% CI]" for label in used}},
        caption=f"Your imported models. Params and GMACs measured by cvlens (fvcore) at import. {CAPTION} Metrics from the newest "
        "evaluation of each model's own weights (cvlens, one centre crop per image), 95% percentile-bootstrap interval over images.",
        sources=sorted({m["source"] for r in rows for m in r.evaluated.values()}),
        # In print what a thesis compares; the class count, training data and file size stay in the CSV.
        latex_columns=["name", "architecture", "params_m", "gmacs", *used, "evaluated_on"],
        latex_labels={"gmacs": GMACS_PRINT_LABEL},
    )  # fmt: skip
