"""The catalogue as rows: one record per model with its published numbers and sources.

Shared by ``python -m cvcore models`` and the dashboard's Models page, so both show the
same numbers. Measured values come from the precomputed analysis when available. Both are
read without importing torch (the registry's snapshot, ``assets/analysis.json``), so a cold
Models page does not wait seconds for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
    weights: str = "none"  # where trained weights come from: torchvision | package | none
    weights_available: bool = False  # on this machine right now
    source: str = ""  # where the published numbers come from
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
        conventions={
            "gmacs": PAPERS_CONVENTION,
            "gmacs_all_ops": ALL_OPS_CONVENTION,
            "published_gmacs": f"as published by {spec.gmacs.source}" if spec.gmacs else "none published",
        },
    )


def catalogue_rows(task: Task | str | None = None, family: str | None = None) -> list[CatalogueRow]:
    from cvcore.analysis import load_precomputed

    measured = load_precomputed()
    return [catalogue_row(spec, measured.get(spec.name)) for spec in list_models(task, family, metadata_only=True)]
