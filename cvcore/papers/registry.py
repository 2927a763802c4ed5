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
