"""The student's own reproduction beside a paper's claim: "my ResNet-18: 69.1 ± 0.4 % vs the paper's 69.6 %".

For every accuracy claim of a paper (a :class:`~cvcore.papers.claims.Claim` with a
:class:`~cvcore.papers.claims.Target`) and every model the user imported of that
architecture (at the claim's resolution, where the table varies it) with a stored
evaluation (``python -m cvcore evaluate --model NAME --data DIR --save``), one
:class:`ReproductionRow`: the claim, the measured value in the claim's unit (error or
accuracy), its bootstrap interval, the delta, and whether the claim lies inside the
interval. Reads stored results only: no model runs, no torch.
"""

from __future__ import annotations

from dataclasses import dataclass

from cvcore.papers.claims import Claim
from cvcore.papers.registry import get_paper


@dataclass(frozen=True)
class ReproductionRow:
    paper: str
    table: str
    quantity: str  # the claim's ("top-1 error, ResNet-18")
    claim: float
    unit: str
    model: str  # the user's model
    measured: float  # in the claim's unit (an error when the claim is an error)
    ci_low: float | None  # the measured value's 95% interval, same unit
    ci_high: float | None
    delta: float  # measured - claim, in the claim's unit (percentage points)
    claim_inside_ci: bool | None  # None without an interval
    images: int
    dataset: str
    note: str  # how the two protocols differ
    source: str  # the claim's source


def reproduction_rows(paper_key: str) -> list[ReproductionRow]:
    """Every (accuracy claim, user model with an evaluation) pair of one paper."""
    from cvcore.evaluation.measured import measured_metrics
    from cvcore.registry import list_models

    mine = [s for s in list_models(metadata_only=True) if s.is_user]
    if not mine:
        return []
    rows = []
    measured_by_model = {}
    for claim in get_paper(paper_key).claims():
        target = claim.target
        if target is None or isinstance(claim.value, str):
            continue
        for spec in mine:
            if spec.arch not in target.archs or (target.input_side and spec.input_size[0] != target.input_side):
                continue
            measured = measured_by_model.setdefault(spec.name, measured_metrics(spec)).get(target.metric)
            if measured is not None:
                rows.append(_row(claim, spec, measured))
    return rows


def _row(claim: Claim, spec, m) -> ReproductionRow:
    target = claim.target
    flip = (lambda v: 100 - v) if target.as_error else (lambda v: v)
    value = flip(m.value_pct)
    low, high = (None, None) if not m.has_interval else sorted((flip(m.low_pct), flip(m.high_pct)))
    inside = None if low is None else low <= claim.value <= high
    testing = f"the paper: {target.testing}; " if target.testing else ""
    note = (
        f"{testing}cvlens: one centre crop ({spec.input_size[0]}x{spec.input_size[1]}) of each image, "
        f"on {m.dataset}, {m.images} images: the interval covers the sampling of images, not the difference of protocols."
    )
    return ReproductionRow(
        paper=claim.paper, table=claim.table, quantity=claim.quantity, claim=float(claim.value), unit=claim.unit,
        model=spec.name, measured=round(value, 3), ci_low=None if low is None else round(low, 3),
        ci_high=None if high is None else round(high, 3), delta=round(value - float(claim.value), 3), claim_inside_ci=inside,
        images=m.images, dataset=m.dataset, note=note, source=claim.source,
    )  # fmt: skip
