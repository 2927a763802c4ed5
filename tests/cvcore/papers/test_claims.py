"""The comparison itself: tolerances, deltas, verdicts."""

import pytest

from cvcore.papers.claims import EXACT, Claim, Measurement, Status, Tolerance, delta_pct, evaluate


def claim(value, measured, tolerance, exception=False, note=""):
    return Claim("p", "Table 1", "q", value, "unit", "src", lambda: Measurement(measured, "how"), tolerance, note, exception)


@pytest.mark.parametrize(
    "tolerance, claimed, measured, ok",
    [
        (Tolerance(relative_pct=2), 569, 579.9, True),
        (Tolerance(relative_pct=2), 569, 581, False),
        (Tolerance(absolute=0.1), 0.5, 0.47, True),
        (Tolerance(absolute=0.1), 1.3, 1.41, False),
        (EXACT, "64x128x128", "64x128x128", True),
        (EXACT, "64x128x128", "64x128x127", False),
    ],
)
def test_tolerance(tolerance, claimed, measured, ok):
    assert tolerance.accepts(claimed, measured) is ok


def test_verdicts():
    assert evaluate(claim(10, 10.1, Tolerance(relative_pct=5))).status is Status.WITHIN
    assert evaluate(claim(10, 12, Tolerance(relative_pct=5))).status is Status.OUTSIDE
    assert evaluate(claim(10, 12, Tolerance(relative_pct=5), exception=True, note="why")).status is Status.EXCEPTION
    assert evaluate(claim(10, 12, None)).status is Status.REFERENCE
    row = evaluate(claim(10, None, Tolerance(relative_pct=5)))
    assert row.status is Status.NOT_MEASURED and row.within_tolerance is None and row.delta_pct is None


def test_delta_is_relative_to_the_claim():
    assert delta_pct(3.8, 4.089) == pytest.approx(7.61)
    assert delta_pct("7x7", "7x7") is None
    assert evaluate(claim(3.8, 4.089, Tolerance(relative_pct=5))).delta_pct == pytest.approx(7.61)
    assert Tolerance(relative_pct=5).describe() == "±5%" and EXACT.describe() == "exact"
