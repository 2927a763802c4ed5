"""Readable log ticks and point labels that neither overlap nor leave the plot (the browser test checks them drawn)."""

import itertools

import pytest

from cvcore import compare
from cvcore.figures import PlotArea, label_box, log_ticks, place_labels
from cvcore.registry import list_models


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (1.0, 1000.0, ["1", "10", "100", "1000"]),
        (0.05, 40.0, ["0.1", "1", "10"]),
        (0.2, 15.5, ["0.2", "0.5", "1", "2", "5", "10"]),  # under three decades: 1-2-5, every label a plain number
        (0.3, 0.9, ["0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9"]),
    ],
)
def test_log_ticks_are_plain_numbers(low, high, expected):
    values, labels = log_ticks(low, high)
    assert labels == expected and all(low <= v <= high for v in values)


def _boxes(chart, log_x=True):
    x_range, y_range, texts, positions = compare.label_layout(
        chart, log_x, compare.common_weights([cp.point for cp in chart.points])
    )
    area = PlotArea(compare.PLOT_WIDTH_PX, compare.PLOT_HEIGHT_PX, tuple(x_range), tuple(y_range), log_x=log_x)
    radii = [d / 2 for d in compare.bubble_diameters_px(chart)]
    return (
        area,
        [label_box(p, area.pixel(cp.x, cp.y), r, t) for cp, p, r, t in zip(chart.points, positions, radii, texts) if p],
        positions,
    )


@pytest.mark.parametrize("selection", ["default", "every classifier"])
def test_compare_labels_never_overlap_and_stay_inside(selection):
    names = compare.DEFAULT_SEED if selection == "default" else [s.name for s in list_models("classification")]
    chart = compare.chart_data(compare.model_points(compare.choose_weights(names).specs), "gmacs", "acc@1")
    area, boxes, positions = _boxes(chart)
    assert all(0 <= b[0] and 0 <= b[1] and b[2] <= area.width_px and b[3] <= area.height_px for b in boxes)
    assert not [
        (a, b) for a, b in itertools.combinations(boxes, 2) if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
    ]
    if selection == "default":
        assert all(positions)  # a dozen models: every one labelled
    else:
        assert 0 < sum(map(bool, positions)) < len(positions)  # a crowd: some names stay in the hover box only


def test_a_label_that_cannot_fit_is_left_out():
    area = PlotArea(100, 50, (0, 1), (0, 1))
    assert place_labels([(0.5, 0.5)], ["a name far wider than the plot"], [3], area) == [None]
    assert place_labels([(0.5, 0.5), (0.52, 0.5)], ["ab", "cd"], [3, 3], area).count(None) <= 1
