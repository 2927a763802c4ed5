"""A paper's claim next to what cvlens measures: the data types and the comparison.

A :class:`Claim` is one number (or shape) from a paper's table plus a function that
measures the same quantity; :func:`evaluate` runs it and returns a :class:`ClaimRow` with
the delta, the stated tolerance, whether the measurement is within it, and a one-line note
explaining any difference. Claims known to fall outside their tolerance are declared as
exceptions up front (``exception=True``) with the reason, so a test can check both that
every other row is within tolerance and that each exception is still real.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

Value = float | str


@dataclass(frozen=True)
class Tolerance:
    """How far a measurement may be from the claim. Neither bound set: must be equal (shapes, sizes)."""

    relative_pct: float | None = None  # |measured - claim| <= relative_pct % of |claim|
    absolute: float | None = None  # |measured - claim| <= absolute, in the claim's unit

    def describe(self, unit: str = "") -> str:
        if self.relative_pct is not None:
            return f"±{self.relative_pct:g}%"
        if self.absolute is not None:
            return f"±{self.absolute:g} {unit}".strip()
        return "exact"

    def accepts(self, claim: Value, measured: Value) -> bool:
        if isinstance(claim, str) or isinstance(measured, str):
            return str(claim) == str(measured)
        if self.relative_pct is not None:
            return abs(measured - claim) <= abs(claim) * self.relative_pct / 100 + 1e-12
        if self.absolute is not None:
            return abs(measured - claim) <= self.absolute + 1e-12
        return math.isclose(measured, claim)


EXACT = Tolerance()


@dataclass(frozen=True)
class Measurement:
    value: Value | None  # None: could not be measured (the note says why)
    how: str  # what was measured, on which model, with which tool
    note: str = ""  # why it differs from the claim, when it does
    published_by: str = ""  # not measured by cvlens but published by someone else ("torchvision"): say so, label it so


@dataclass(frozen=True)
class Target:
    """What an accuracy claim is about, so that a user's evaluated model of that architecture can stand beside it."""

    archs: tuple[str, ...]  # catalogue architectures the claim describes
    metric: str  # the catalogue's metric key: "acc@1", "acc@5", "miou"
    as_error: bool = False  # the paper gives 100 - accuracy (ResNet's error tables)
    input_side: int | None = None  # the claim's input resolution where the table varies it (MobileNet Table 7)
    testing: str = ""  # how the paper tested ("10-crop"); cvlens evaluates one centre crop


@dataclass(frozen=True)
class Claim:
    paper: str  # key in cvcore.papers' registry ("resnet", "mobilenet", ...)
    table: str  # "Table 1", "Fig. 3 caption", "lecture slide"
    quantity: str
    value: Value
    unit: str
    source: str  # paper + table, and where the course material quotes it
    measure: Callable[[], Measurement] = field(repr=False, compare=False)
    tolerance: Tolerance | None = None  # None: a reference number shown side by side, not a reproduction
    note: str = ""  # the standing explanation of any difference
    exception: bool = False  # declared outside its tolerance; ``note`` says why
    target: Target | None = None  # for accuracy claims: which architectures and metric (reproduction rows)
    convention: str = ""  # for multiply-add claims: what the claim and the measurement count (mult_adds_convention)


class Status(str, Enum):
    WITHIN = "within tolerance"
    EXCEPTION = "explained exception"
    OUTSIDE = "OUTSIDE tolerance"  # a regression: neither within nor declared
    REFERENCE = "reference only"
    NOT_MEASURED = "not measured"


@dataclass(frozen=True)
class ClaimRow:
    paper: str
    table: str
    quantity: str
    claim: Value
    unit: str
    source: str
    measured: Value | None
    measured_with: str
    delta_pct: float | None
    tolerance: str
    within_tolerance: bool | None  # None for reference rows and rows that could not be measured
    status: Status
    note: str
    published_by: str = ""  # see Measurement.published_by
    convention: str | None = None  # multiply-add rows: what the claim and the measurement count


def delta_pct(claim: Value, measured: Value | None) -> float | None:
    if measured is None or isinstance(claim, str) or isinstance(measured, str) or claim == 0:
        return None
    return round((measured - claim) / abs(claim) * 100, 2)


def _status(claim: Claim, within: bool | None, measured: Value | None) -> Status:
    if measured is None:
        return Status.NOT_MEASURED
    if claim.tolerance is None:
        return Status.REFERENCE
    if within:
        return Status.WITHIN
    return Status.EXCEPTION if claim.exception else Status.OUTSIDE


def evaluate(claim: Claim) -> ClaimRow:
    m = claim.measure()
    within = None if (m.value is None or claim.tolerance is None) else claim.tolerance.accepts(claim.value, m.value)
    note = " ".join(p for p in (claim.note, m.note) if p)
    return ClaimRow(
        paper=claim.paper,
        table=claim.table,
        quantity=claim.quantity,
        claim=claim.value,
        unit=claim.unit,
        source=claim.source,
        measured=m.value,
        measured_with=m.how,
        delta_pct=delta_pct(claim.value, m.value),
        tolerance=claim.tolerance.describe(claim.unit) if claim.tolerance else "n/a (reference)",
        within_tolerance=within,
        status=_status(claim, within, m.value),
        note=note,
        published_by=m.published_by if m.value is not None else "",
        convention=claim.convention or None,
    )


def mult_adds_convention(claimed_as: str) -> str:
    """The convention line of a multiply-add claim: the source's own words, then what cvlens measured."""
    from cvcore.analysis.conventions import PAPERS_CONVENTION

    return f"claim: {claimed_as}; measured: {PAPERS_CONVENTION} (fvcore's all-operator total is not what papers count)"
