"""The papers cvlens reproduces, each with its claims, and their evaluation (cached per process)."""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass

from cvcore.errors import InvalidInputError
from cvcore.papers.claims import Claim, ClaimRow, Status, evaluate


@dataclass(frozen=True)
class PaperEntry:
    key: str  # CLI argument and page choice
    title: str
    citation: str
    link: str
    course_material: str  # where the course's copy of the tables is
    model: str | None  # the catalogue model whose per-layer table goes with the paper
    module: str  # cvcore.papers.<module> defines ``claims()``

    def claims(self) -> tuple[Claim, ...]:
        return importlib.import_module(f"cvcore.papers.{self.module}").claims()


PAPERS: dict[str, PaperEntry] = {
    p.key: p
    for p in (
        PaperEntry("resnet", "Deep Residual Learning for Image Recognition", "He et al. 2015",
                   "https://arxiv.org/abs/1512.03385", "shared/seeds 004 Part I, 001", "resnet50", "resnet"),
        PaperEntry("mobilenet", "MobileNets: Efficient Convolutional Neural Networks for Mobile Vision Applications",
                   "Howard et al. 2017", "https://arxiv.org/abs/1704.04861", "shared/seeds 004 Part II", "mobilenet_v1", "mobilenet"),
        PaperEntry("enet", "ENet: A Deep Neural Network Architecture for Real-Time Semantic Segmentation", "Paszke et al. 2016",
                   "https://arxiv.org/abs/1606.02147", "shared/seeds 000 Part II", "enet", "enet"),
        PaperEntry("dilated", "Multi-Scale Context Aggregation by Dilated Convolutions", "Yu & Koltun 2016",
                   "https://arxiv.org/abs/1511.07122", "shared/seeds 003 (lecture 7)", None, "dilated"),
        PaperEntry("lectures", "Course lectures: parameter counts of classic CNNs", "course slides",
                   "", "shared/seeds 002", "alexnet", "lectures"),
    )
}  # fmt: skip


def list_papers() -> list[PaperEntry]:
    return list(PAPERS.values())


def get_paper(key: str) -> PaperEntry:
    try:
        return PAPERS[key]
    except KeyError:
        raise InvalidInputError(f"Unknown paper {key!r}; expected one of {', '.join(PAPERS)}.") from None


@functools.cache
def paper_rows(key: str) -> tuple[ClaimRow, ...]:
    """Every claim of one paper, measured (models are measured once per process)."""
    return tuple(evaluate(c) for c in get_paper(key).claims())


def all_rows() -> tuple[ClaimRow, ...]:
    return tuple(row for key in PAPERS for row in paper_rows(key))


def status_counts(rows: tuple[ClaimRow, ...]) -> dict[str, int]:
    return {s.value: sum(r.status is s for r in rows) for s in Status if any(r.status is s for r in rows)}


@dataclass(frozen=True)
class PaperLayers:
    """The per-layer table that goes with a paper (cvcore.analysis.LayerRow rows)."""

    model: str  # catalogue name, or a description for modules outside the catalogue
    input_size: tuple[int, int]
    rows: tuple  # LayerRow
    precomputed: bool


def paper_layers(key: str, compute: bool = True) -> PaperLayers | None:
    """Per-layer table of the paper's model: stored when available, else traced now (``compute``), else None."""
    from cvcore.analysis.precomputed import load_precomputed_layers
    from cvcore.registry import get_spec

    entry = get_paper(key)
    if entry.model is None:  # Yu & Koltun's context network is not a catalogue model (its input is C score maps)
        from cvcore.analysis.layers import analyze_layers
        from cvcore.papers.dilated import INPUT_SIZE, ContextNetwork

        rows = analyze_layers(ContextNetwork(channels=3), INPUT_SIZE, device="cpu")
        return PaperLayers("context network (C = 3)", INPUT_SIZE, tuple(rows), False)
    size = get_spec(entry.model, metadata_only=True).input_size
    stored = load_precomputed_layers(entry.model)
    if stored is not None:
        return PaperLayers(entry.model, size, tuple(stored), True)
    if not compute:
        return None
    from cvcore.analysis.layers import analyze_layers  # torch: only for what is not stored

    return PaperLayers(entry.model, size, tuple(analyze_layers(entry.model, device="cpu")), False)
