"""Canziani-style figures of benchmark rows (plotly, no Streamlit): the page and any script draw the same ones.

Canziani, Paszke and Culurciello 2016 plot inference time per image and memory against
batch size (log-log), throughput, operations against time (operations predict time: a
linear fit), and accuracy density (top-1 per million parameters). Only ``ok`` rows are
drawn; one line per (model, mode) and, when several machines are compared, per machine.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cvcore.benchmark.results import BenchmarkRow

FIGURE_HEIGHT = 420


@dataclass(frozen=True)
class LinearFit:
    """Least squares ``time = slope x multiply-adds + intercept`` over the models, and how well it explains them."""

    slope_ms_per_gmac: float
    intercept_ms: float
    r_squared: float
    points: int

    def describe(self) -> str:
        return (
            f"least-squares fit over {self.points} models: {self.slope_ms_per_gmac:.3g} ms per GMAC "
            f"{'+' if self.intercept_ms >= 0 else '-'} {abs(self.intercept_ms):.3g} ms, R² = {self.r_squared:.3f}"
        )


def linear_fit(x: Sequence[float], y: Sequence[float]) -> LinearFit | None:
    """Ordinary least squares of ``y`` on ``x`` with its R² (None with fewer than 3 points or no spread in ``x``)."""
    n = len(x)
    if n < 3 or n != len(y):
        return None
    mean_x, mean_y = sum(x) / n, sum(y) / n
    sxx = sum((a - mean_x) ** 2 for a in x)
    if sxx == 0:
        return None
    slope = sum((a - mean_x) * (b - mean_y) for a, b in zip(x, y)) / sxx
    intercept = mean_y - slope * mean_x
    total = sum((b - mean_y) ** 2 for b in y)
    residual = sum((b - (slope * a + intercept)) ** 2 for a, b in zip(x, y))
    return LinearFit(slope, intercept, 1.0 - residual / total if total else 1.0, n)


def _series(rows: Sequence[BenchmarkRow], machines: Sequence[str] | None) -> dict[str, list[BenchmarkRow]]:
    several = machines is not None and len(set(machines)) > 1
    series: dict[str, list[BenchmarkRow]] = defaultdict(list)
    for i, row in enumerate(rows):
        if row.ok:
            name = f"{row.display_name} · {row.mode}" + (f" · {machines[i]}" if several else "")
            series[name].append(row)
    return series


def _versus_batch(
    rows: Sequence[BenchmarkRow], machines, value: Callable[[BenchmarkRow], float | None], y_title: str, title: str, log_y: bool
):
    import plotly.graph_objects as go

    fig = go.Figure()
    for name, members in _series(rows, machines).items():
        points = sorted((r.batch_size, value(r)) for r in members if value(r) is not None)
        if points:
            fig.add_trace(go.Scatter(x=[p[0] for p in points], y=[p[1] for p in points], mode="lines+markers", name=name))
    fig.update_layout(
        title=title, height=FIGURE_HEIGHT, xaxis_title="batch size", yaxis_title=y_title, legend={"font": {"size": 10}}
    )
    fig.update_xaxes(type="log", dtick=0.30102999566)  # log2 ticks: 1, 2, 4, 8 ...
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def time_per_image_figure(rows, machines=None):
    return _versus_batch(
        rows, machines, lambda r: r.latency_per_image_ms, "time per image (ms)", "Forward time per image vs batch size", True
    )


def memory_figure(rows, machines=None):
    return _versus_batch(rows, machines, lambda r: r.peak_memory_mb, "peak memory (MiB)", "Peak memory vs batch size", True)


def throughput_figure(rows, machines=None):
    return _versus_batch(rows, machines, lambda r: r.images_per_s, "images per second", "Throughput vs batch size", False)


def energy_figure(rows, machines=None):
    return _versus_batch(
        rows, machines, lambda r: r.energy_per_image_j, "energy per image (J)", "Energy per image vs batch size", True
    )


def has_energy(rows: Sequence[BenchmarkRow]) -> bool:
    return any(r.energy_per_image_j is not None for r in rows)


def macs_points(rows: Sequence[BenchmarkRow], batch_size: int, mode: str) -> list[BenchmarkRow]:
    """One ok row per model at ``batch_size`` in ``mode`` with a multiply-add count (the fit's points)."""
    chosen: dict[tuple, BenchmarkRow] = {}
    for row in rows:
        if row.ok and row.batch_size == batch_size and row.mode == mode and row.gmacs_per_image is not None:
            chosen.setdefault((row.model, row.host), row)
    return list(chosen.values())


def macs_vs_time_figure(rows: Sequence[BenchmarkRow], batch_size: int, mode: str = "fp32"):
    """Multiply-adds per image against measured time per image at one batch size, with the linear fit and R²."""
    import plotly.graph_objects as go

    points = macs_points(rows, batch_size, mode)
    x = [r.gmacs_per_image for r in points]
    y = [r.latency_per_image_ms for r in points]
    fig = go.Figure(go.Scatter(x=x, y=y, mode="markers+text", text=[r.display_name for r in points], textposition="top center",
                               name="models"))  # fmt: skip
    fit = linear_fit(x, y)
    if fit is not None:
        ends = [min(x), max(x)]
        fig.add_trace(go.Scatter(x=ends, y=[fit.slope_ms_per_gmac * e + fit.intercept_ms for e in ends], mode="lines",
                                 name=f"linear fit, R² = {fit.r_squared:.3f}", line={"dash": "dash"}))  # fmt: skip
    fig.update_layout(
        title=f"Multiply-adds vs time per image (batch {batch_size}, {mode})",
        height=FIGURE_HEIGHT,
        xaxis_title="GMACs per image (counted)",
        yaxis_title="time per image (ms, measured)",
    )
    return fig, fit


def accuracy_density(rows: Sequence[BenchmarkRow]) -> list[tuple[str, float]]:
    """(model, published top-1 % per million parameters) for each model with both, highest first (Canziani's Fig. 5)."""
    seen: dict[str, float] = {}
    for row in rows:
        if row.top1_pct is not None and row.mparams and row.display_name not in seen:
            seen[row.display_name] = row.top1_pct / row.mparams
    return sorted(seen.items(), key=lambda item: -item[1])


def accuracy_density_figure(rows: Sequence[BenchmarkRow]):
    import plotly.graph_objects as go

    density = accuracy_density(rows)
    fig = go.Figure(go.Bar(x=[d[0] for d in density], y=[d[1] for d in density], name="top-1 per M parameters"))
    fig.update_layout(
        title="Accuracy density: top-1 (%) per million parameters", height=FIGURE_HEIGHT, yaxis_title="top-1 % per M parameters"
    )
    return fig
