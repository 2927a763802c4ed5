"""Canziani-style figures: one line per (model, mode, machine), log axes, the fit's R² as scipy computes it."""

import pytest
from scipy import stats

from cvcore.benchmark import figures
from cvcore.benchmark.results import OK, SKIPPED, BenchmarkRow


def row(model, batch, ms, gmacs, host="a", status=OK, mode="fp32"):
    return BenchmarkRow(model=model, display_name=model.upper(), device="cpu", mode=mode, batch_size=batch, input_size=(224, 224),
                        status=status, host=host, latency_median_ms=ms if status == OK else None,
                        images_per_s=batch * 1000 / ms if status == OK else None, peak_memory_mb=10.0 * batch,
                        gmacs_per_image=gmacs, mparams=gmacs * 3, top1_pct=70.0 + gmacs)  # fmt: skip


ROWS = [
    row(m, b, ms * b, g) for m, g, ms in (("a", 0.5, 6.0), ("b", 1.8, 20.0), ("c", 4.1, 47.0), ("d", 0.3, 9.0)) for b in (1, 2, 4)
]


def test_the_fit_and_its_r_squared_equal_scipys():
    x, y = [0.5, 1.8, 4.1, 0.3], [6.0, 20.0, 47.0, 9.0]
    fit = figures.linear_fit(x, y)
    reference = stats.linregress(x, y)
    assert fit.slope_ms_per_gmac == pytest.approx(reference.slope)
    assert fit.intercept_ms == pytest.approx(reference.intercept)
    assert fit.r_squared == pytest.approx(reference.rvalue**2)
    assert figures.linear_fit([1, 1, 1], [1, 2, 3]) is None and figures.linear_fit([1, 2], [1, 2]) is None


def test_macs_vs_time_draws_the_models_at_one_batch_and_the_fit():
    fig, fit = figures.macs_vs_time_figure(ROWS, batch_size=2)
    points, line = fig.data
    assert list(points.x) == [0.5, 1.8, 4.1, 0.3] and list(points.y) == [6.0, 20.0, 47.0, 9.0]  # per image at batch 2
    assert fit.points == 4 and f"{fit.r_squared:.3f}" in line.name


def test_versus_batch_figures_have_one_line_per_model_and_machine_and_log_axes():
    two_machines = ROWS + [row("a", b, 1.0 * b, 0.5, host="b") for b in (1, 2, 4)] + [row("e", 8, 1.0, 1.0, status=SKIPPED)]
    machines = [r.host for r in two_machines]
    fig = figures.time_per_image_figure(two_machines, machines)
    assert len(fig.data) == 5  # four models on a, one on b; the skipped row draws nothing
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"
    first = fig.data[0]
    assert list(first.x) == [1, 2, 4] and list(first.y) == pytest.approx([6.0, 6.0, 6.0])
    assert list(figures.throughput_figure(ROWS).data[0].y) == pytest.approx([1000 / 6.0] * 3)
    assert list(figures.memory_figure(ROWS).data[0].y) == [10.0, 20.0, 40.0]


def test_accuracy_density_is_top1_per_million_parameters():
    density = dict(figures.accuracy_density(ROWS))
    assert density["A"] == pytest.approx(70.5 / 1.5)
    assert list(dict(figures.accuracy_density(ROWS))) == ["D", "A", "B", "C"]  # highest density first
