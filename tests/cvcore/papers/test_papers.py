"""Every paper claim against what cvlens measures: within its stated tolerance, or a declared exception.

Cheap checks (shapes on the meta device, receptive fields, parameter counts) run by default;
the sweep over every row runs fvcore on ~20 models unless assets/analysis.json has them: slow.
"""

import functools
import math

import pytest

from cvcore.errors import InvalidInputError
from cvcore.papers.claims import Status, evaluate
from cvcore.papers.mobilenet import accuracy_on_trend, measure_mobilenet, tradeoff_figure, tradeoff_fit, tradeoff_points
from cvcore.papers.published import MOBILENET_TABLES, RESNET_TABLE1_GFLOPS
from cvcore.papers.registry import PAPERS, all_rows, get_paper, paper_rows


@functools.cache
def claims_of(key):
    return get_paper(key).claims()


def rows_where(key, predicate):
    return [evaluate(c) for c in claims_of(key) if predicate(c)]


def test_every_claim_is_sourced_and_every_exception_explained():
    for key in PAPERS:
        seen = set()
        for c in claims_of(key):
            assert (c.table, c.quantity) not in seen, (key, c.quantity)
            seen.add((c.table, c.quantity))
            assert "course" in c.source
            assert c.table in c.source or c.table == "lecture slide"
            if c.exception:
                assert c.tolerance is not None and len(c.note) > 40
            if c.tolerance is None:  # reference rows say why they are not a reproduction
                assert c.note or "MobileNet" in c.quantity


def test_enet_table1_output_sizes_and_types_exact():
    rows = rows_where("enet", lambda c: True)
    assert len(rows) == 29 + 16  # an output size for every Table 1 block, a type for every block whose Type is printed
    assert all(r.status is Status.WITHIN for r in rows), [r.quantity for r in rows if r.status is not Status.WITHIN]
    sizes = [r for r in rows if r.quantity.endswith("output size")]
    assert len(sizes) == 1 + 5 + 9 + 8 + 3 + 2 + 1  # initial, stage 1, 2, 3, 4, 5, fullconv


def test_receptive_fields_exact():
    rows = rows_where("dilated", lambda c: True)
    assert [r.measured for r in rows] == ["3x3", "5x5", "9x9", "17x17", "33x33", "65x65", "67x67", "67x67"]
    assert all(r.status is Status.WITHIN for r in rows)


def test_lecture_parameter_counts():
    rows = rows_where("lectures", lambda c: True)
    assert len(rows) == 4 and all(r.status is Status.WITHIN for r in rows)


def test_resnet_table1_output_sizes_exact_at_every_depth():
    rows = rows_where("resnet", lambda c: c.quantity.endswith("output size"))
    assert [r.measured for r in rows] == ["112x112", "56x56", "28x28", "14x14", "7x7", "1x1"]
    assert all(r.status is Status.WITHIN for r in rows)


def test_resnet18_flops_within_5_percent():
    (row,) = rows_where("resnet", lambda c: c.quantity == "FLOPs, 18-layer")
    assert row.claim == RESNET_TABLE1_GFLOPS[18] and abs(row.delta_pct) <= 5 and row.status is Status.WITHIN


def test_resnet50_exception_is_real_and_explained_by_the_stride_placement():
    (tv,) = rows_where("resnet", lambda c: c.quantity == "FLOPs, 50-layer")
    (paper,) = rows_where("resnet", lambda c: c.quantity == "FLOPs, 50-layer, paper's stride placement")
    assert tv.status is Status.EXCEPTION and tv.delta_pct > 5 and "v1.5" in tv.note
    assert paper.status is Status.WITHIN and abs(paper.delta_pct) <= 5


def test_mobilenet_mult_adds_within_2_percent_and_params_within_0_1_m():
    rows = rows_where("mobilenet", lambda c: "MobileNet" in c.quantity and not c.quantity.startswith("ImageNet"))
    assert len(rows) == 2 * sum(r.torchvision is None for r in MOBILENET_TABLES)
    for r in rows:
        if r.quantity.startswith("mult-adds"):
            assert abs(r.delta_pct) <= 2, r
        else:
            assert abs(r.measured - r.claim) <= 0.1, r
        assert r.status is Status.WITHIN


def test_mobilenet_accuracy_is_shown_not_measured():
    rows = rows_where("mobilenet", lambda c: c.quantity.startswith("ImageNet accuracy, ") and "MobileNet" in c.quantity)
    assert rows and all(r.status is Status.NOT_MEASURED and r.measured is None for r in rows)


def test_explorer_measures_any_width_and_resolution():
    point = measure_mobilenet(0.5, 160)
    assert abs(point.mmacs - 76) / 76 < 0.02 and abs(point.mparams - 1.32) < 0.1  # Table 9
    assert point.fvcore_total_mmacs > point.mmacs  # fvcore's total adds batch norm
    smaller = measure_mobilenet(0.5, 128)
    assert smaller.mmacs < point.mmacs and smaller.mparams == point.mparams  # resolution does not change parameters
    with pytest.raises(InvalidInputError):
        measure_mobilenet(0.0, 224)


def test_tradeoff_fit_is_log_linear_and_increasing():
    a, b = tradeoff_fit()
    assert b > 0
    for p in tradeoff_points():
        assert abs(a + b * math.log10(p.mmacs) - p.accuracy) < 5  # the log-linear trend of Fig. 4, roughly


def test_unknown_paper():
    with pytest.raises(InvalidInputError, match="resnet"):
        get_paper("alexnet2012")


@pytest.mark.slow
def test_every_row_within_tolerance_or_a_declared_exception():
    rows = all_rows()
    outside = [(r.paper, r.quantity, r.measured, r.claim) for r in rows if r.status is Status.OUTSIDE]
    assert not outside
    for r in rows:
        if r.status is Status.EXCEPTION:
            assert r.within_tolerance is False and r.note
    assert sum(r.status is Status.WITHIN for r in rows) >= 100
    assert paper_rows("enet") is paper_rows("enet")  # cached per process


def test_tradeoff_figure_marks_the_measured_point():
    point = measure_mobilenet(0.5, 160)
    fig = tradeoff_figure(point)
    paper, trend, measured = fig.data
    assert len(paper.x) == len(tradeoff_points())
    assert measured.x == (point.mmacs,) and measured.y == (accuracy_on_trend(point.mmacs),)
    assert trend.x[0] < min(paper.x) and trend.x[-1] > max(paper.x)
