"""Howard et al. 2017 (MobileNets): Tables 4-9 measured on cvcore's MobileNetV1, and an explorer.

Mult-adds are multiply-adds in the papers' convention (fvcore: convolutions and the fc layer; the
paper counts the weighted layers);
parameters are counted on the built module. The paper's accuracies cannot be measured
(no trained MobileNetV1 weights exist here): they are shown, and drawn, with their source.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from cvcore.errors import InvalidInputError
from cvcore.papers.claims import Claim, Measurement, Target, Tolerance, mult_adds_convention
from cvcore.papers.published import (
    MOBILENET_SEEDS,
    MOBILENET_TABLE10_MMACS,
    MOBILENET_TABLES,
    MOBILENET_TFSLIM_GRID,
    MOBILENET_TFSLIM_SOURCE,
    MOBILENET_TFSLIM_TABLE,
    MobileNetRow,
)

KEY = "mobilenet"
CITATION = "Howard et al. 2017"
MULT_ADDS_TOLERANCE = Tolerance(relative_pct=2)
PARAMS_TOLERANCE = Tolerance(absolute=0.1)
# Tables 8-9 quote other papers' models; torchvision's versions differ in details, and the
# paper rounds to two significant digits: 5% for those.
OTHER_MODELS_TOLERANCE = Tolerance(relative_pct=5)
# Catalogue entries (precomputed at 224) for the variants the paper builds at 224.
_CATALOGUE = {
    ("separable", 1.0): "mobilenet_v1",
    ("separable", 0.75): "mobilenet_v1_075",
    ("separable", 0.5): "mobilenet_v1_050",
    ("separable", 0.25): "mobilenet_v1_025",
    ("shallow", 1.0): "mobilenet_v1_shallow",
    ("full_conv", 1.0): "mobilenet_v1_full_conv",
}
_OTHER_NOTES = {
    "googlenet": "torchvision's GoogLeNet uses 3x3 instead of 5x5 convs in the '5x5' branches (a known bug kept for its weights) and adds batch norm.",
    "vgg16": "Multiply-adds in the papers' convention (conv + fc) of torchvision's VGG-16.",
    "alexnet": "torchvision's AlexNet is the single-tower 'one weird trick' variant (Krizhevsky 2014), not the 2012 two-GPU net.",
    "squeezenet1_0": "The paper's 1700 M is about twice what fvcore counts for SqueezeNet 1.0 (consistent with 2 FLOPs per multiply-add); "
    "the paper does not say how it counted.",
}
EXCEPTIONS = {("Table 9", "Squeezenet", "mult-adds")}
ROUNDING_MMACS = 1  # both the paper and TF-slim print whole millions: a difference of 1 is rounding
# The TF-slim table gives whole million mult-adds (14 M for 13.57 M is rounding: a relative bound
# would fail its smallest models) and two decimals of million parameters.
TFSLIM_MULT_ADDS_TOLERANCE = Tolerance(absolute=ROUNDING_MMACS)
TFSLIM_PARAMS_TOLERANCE = Tolerance(absolute=0.01)
# Grid points whose TF-slim mult-adds fall outside that tolerance of cvcore's count (the notes say why).
TFSLIM_EXCEPTIONS = {(0.75, 224), (0.75, 192), (0.75, 160), (0.75, 128), (0.25, 192)}
PAPER_CONVENTION = mult_adds_convention("the paper's 'Million Mult-Adds', of the weighted layers")
TFSLIM_CONVENTION = mult_adds_convention("TF-slim's 'Million MACs' (multiply-accumulates)")


def _source(table: str) -> str:
    return f"{CITATION}, {table}; course copy: {MOBILENET_SEEDS}"


# --- measurements ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MobileNetPoint:
    """One MobileNetV1 configuration, measured."""

    width_mult: float
    resolution: int
    variant: str
    mmacs: float  # papers' convention (conv + fc here), millions: the paper's "Million Mult-Adds"
    mparams: float
    mmacs_all_ops: float  # fvcore's all-operator total, which also counts batch norm and pooling
    how: str


def _builder(variant: str, width_mult: float):
    from cvcore.models.mobilenet_v1 import mobilenet_v1, mobilenet_v1_full_conv, mobilenet_v1_shallow

    build = {"separable": mobilenet_v1, "shallow": mobilenet_v1_shallow, "full_conv": mobilenet_v1_full_conv}[variant]
    return functools.partial(build, width_mult=width_mult)


@functools.lru_cache(maxsize=64)
def measure_mobilenet(width_mult: float, resolution: int, variant: str = "separable") -> MobileNetPoint:
    """Mult-adds and parameters of MobileNetV1 at width ``alpha`` and input ``resolution`` (~1 s on a CPU)."""
    from cvcore.analysis import analyze_complexity
    from cvcore.papers.measure import catalogue_complexity, measured_how

    if not 0 < width_mult <= 4 or not 32 <= resolution <= 1024:
        raise InvalidInputError(
            f"Width multiplier must be in (0, 4] and resolution in [32, 1024]; got {width_mult}, {resolution}."
        )
    name = _CATALOGUE.get((variant, width_mult)) if resolution == 224 else None
    if name is not None:
        complexity, precomputed = catalogue_complexity(name)
        how = measured_how(complexity, precomputed)
    else:
        complexity = analyze_complexity(_builder(variant, width_mult)(), (resolution, resolution), device="cpu")
        how = (
            f"multiply-adds in the papers' convention (fvcore) of cvcore's MobileNetV1 ({variant}, alpha {width_mult:g}) "
            f"at {resolution}x{resolution} (measured now)"
        )
    return MobileNetPoint(
        width_mult, resolution, variant, complexity.gmacs * 1000, complexity.params / 1e6, complexity.gmacs_all_ops * 1000, how
    )


def _measure(row: MobileNetRow, quantity: str) -> Measurement:
    from cvcore.papers.measure import catalogue_complexity, measured_how
    from cvcore.registry import get_spec

    if quantity == "accuracy":
        if row.torchvision is None:
            return Measurement(
                None,
                "no trained MobileNetV1 weights (torchvision has V2/V3 only)",
                "Architecture only: accuracy cannot be measured here.",
            )
        spec = get_spec(row.torchvision)
        acc = spec.metrics["acc@1"]
        return Measurement(acc.value, f"acc@1 of {spec.weights.ref} ({acc.source})", published_by="torchvision")
    if row.torchvision is not None:
        complexity, precomputed = catalogue_complexity(row.torchvision)
        value = complexity.gmacs * 1000 if quantity == "mult-adds" else complexity.params / 1e6
        how = (
            measured_how(complexity, precomputed) if quantity == "mult-adds" else f"parameters of torchvision's {row.torchvision}"
        )
        return Measurement(round(value, 3), how)
    point = measure_mobilenet(row.width_mult, row.resolution, row.variant)
    if quantity == "mult-adds":
        return Measurement(round(point.mmacs, 2), point.how)
    return Measurement(round(point.mparams, 3), f"parameters of cvcore's MobileNetV1 ({row.variant}, alpha {row.width_mult:g})")


# --- claims ------------------------------------------------------------------------------------


def _note(row: MobileNetRow, quantity: str) -> str:
    if quantity == "accuracy":
        if row.torchvision:
            return "Different training recipe (torchvision's weights): side by side, not a reproduction."
        return ""
    if row.torchvision:
        return _OTHER_NOTES[row.torchvision]
    if quantity == "mult-adds":
        note = (
            "Multiply-adds in the papers' convention (conv + fc; fvcore's all-ops total also counts batch norm, about 2% more)."
        )
        tfslim = MOBILENET_TFSLIM_GRID.get((row.width_mult, row.resolution)) if row.variant == "separable" else None
        if tfslim and abs(tfslim[0] - row.mmacs) > ROUNDING_MMACS:
            note += (
                f" The authors' TF-slim table disagrees with the paper here: {tfslim[0]} M for {_tfslim_name(row.width_mult, row.resolution)}"
                f" ({MOBILENET_TFSLIM_TABLE} rows)."
            )
        return note
    return "The paper gives parameters to 0.01 M here." if row.table == "Table 9" else "The paper rounds parameters to 0.1 M."


# (variant, width multiplier) -> the catalogue's MobileNetV1 architecture (cvcore.models.mobilenet_v1)
_ARCHS = {
    ("separable", 1.0): "mobilenet_v1", ("separable", 0.75): "mobilenet_v1_075", ("separable", 0.5): "mobilenet_v1_050",
    ("separable", 0.25): "mobilenet_v1_025", ("shallow", 1.0): "mobilenet_v1_shallow", ("full_conv", 1.0): "mobilenet_v1_full_conv",
}  # fmt: skip


def _target(row: MobileNetRow) -> Target | None:
    """Which architecture (and resolution) an accuracy row is about; torchvision's models of Tables 8-9 included."""
    if row.torchvision:
        return Target((row.torchvision,), "acc@1")
    arch = _ARCHS.get((row.variant, row.width_mult))
    return Target((arch,), "acc@1", input_side=row.resolution) if arch else None


# --- the 16 grid points of Fig. 4, as the TF-slim table gives them --------------------------------


def _tfslim_name(width_mult: float, resolution: int) -> str:
    return f"MobileNet_v1_{'1.0' if width_mult == 1 else f'{width_mult:.2f}'}_{resolution}"


def paper_mmacs(width_mult: float, resolution: int) -> dict[str, float]:
    """The paper's own million mult-adds for one (alpha, resolution) of the separable MobileNet: table -> value."""
    found = {
        r.table: r.mmacs
        for r in MOBILENET_TABLES
        if r.torchvision is None and r.variant == "separable" and (r.width_mult, r.resolution) == (width_mult, resolution)
    }
    if (width_mult, resolution) in MOBILENET_TABLE10_MMACS:
        found["Table 10"] = MOBILENET_TABLE10_MMACS[(width_mult, resolution)]
    return found


def _tables_text(values: dict[str, float]) -> str:
    by_value: dict[float, list[str]] = {}
    for table, value in values.items():
        by_value.setdefault(value, []).append(table)
    return "; ".join(f"{value:g} M ({', '.join(tables)})" for value, tables in by_value.items())


def grid_note(width_mult: float, resolution: int) -> str:
    """How the TF-slim table's mult-adds for one grid point compare with the paper's own tables, from the numbers."""
    tfslim = MOBILENET_TFSLIM_GRID[(width_mult, resolution)][0]
    paper = paper_mmacs(width_mult, resolution)
    if paper and all(abs(v - tfslim) <= ROUNDING_MMACS for v in paper.values()):
        return f"Agrees with the paper, {_tables_text(paper)}, up to rounding."
    if paper:
        return f"The two published tables disagree: the paper gives {_tables_text(paper)}; the TF-slim table {tfslim} M."
    note = "The paper draws this model (Fig. 4; seed 004 numbers it 7) but gives no number for it."
    same_width = {
        _tfslim_name(width_mult, r): (values, MOBILENET_TFSLIM_GRID[(width_mult, r)][0])
        for (w, r) in MOBILENET_TFSLIM_GRID
        if w == width_mult and (values := paper_mmacs(w, r))
    }
    disagreeing = {name: v for name, v in same_width.items() if any(abs(p - v[1]) > ROUNDING_MMACS for p in v[0].values())}
    if disagreeing:
        note += (
            " At this width the paper's own numbers differ from TF-slim's: "
            + "; ".join(
                f"{name}: paper {_tables_text(values)}, TF-slim {tfslim:g} M" for name, (values, tfslim) in disagreeing.items()
            )
            + "."
        )
    side = MOBILENET_TFSLIM_GRID[(width_mult, 224)][0]
    scaled = side * (resolution / 224) ** 2  # convolutions' multiply-adds scale with the feature map's area
    if abs(scaled - tfslim) > ROUNDING_MMACS:
        note += f" TF-slim's {tfslim} M is not its own {side} M at 224 scaled by ({resolution}/224)² = {scaled:.1f} M."
    return note


def published_at(width_mult: float, resolution: int) -> str | None:
    """What the paper's tables and the TF-slim table say about one explorer point (None off the published points)."""
    paper = paper_mmacs(width_mult, resolution)
    tfslim = MOBILENET_TFSLIM_GRID.get((width_mult, resolution))
    if not paper and not tfslim:
        return None
    parts = [f"the paper gives {_tables_text(paper)}" if paper else "the paper gives no number (Fig. 4 draws it)"]
    if tfslim:
        parts.append(f"the authors' TF-slim table {tfslim[0]} M ({_tfslim_name(width_mult, resolution)})")
        if paper:
            agree = all(abs(v - tfslim[0]) <= ROUNDING_MMACS for v in paper.values())
            parts[-1] += ": they agree up to rounding" if agree else ": the two published tables disagree"
    return f"Published mult-adds for alpha {width_mult:g} at {resolution} px: " + "; ".join(parts) + "."


def _measure_grid(width_mult: float, resolution: int, quantity: str) -> Measurement:
    point = measure_mobilenet(width_mult, resolution)
    if quantity == "mult-adds":
        return Measurement(round(point.mmacs, 2), point.how)
    return Measurement(round(point.mparams, 3), f"parameters of cvcore's MobileNetV1 (separable, alpha {width_mult:g})")


def _grid_source() -> str:
    return f"{MOBILENET_TFSLIM_TABLE}: {MOBILENET_TFSLIM_SOURCE}; the paper's own rows: {CITATION}, Tables 4-7, 9, 10; course copy: {MOBILENET_SEEDS}"


def grid_claims() -> tuple[Claim, ...]:
    """The TF-slim table's 16 grid points (mult-adds) and its 4 widths (parameters) against cvcore's MobileNetV1."""
    rows = []
    for (width, resolution), (mmacs, _) in MOBILENET_TFSLIM_GRID.items():
        rows.append(
            Claim(KEY, MOBILENET_TFSLIM_TABLE, f"mult-adds, {_tfslim_name(width, resolution)}", mmacs, "million mult-adds",
                  _grid_source(), functools.partial(_measure_grid, width, resolution, "mult-adds"), TFSLIM_MULT_ADDS_TOLERANCE,
                  grid_note(width, resolution), exception=(width, resolution) in TFSLIM_EXCEPTIONS, convention=TFSLIM_CONVENTION)
        )  # fmt: skip
    for width in dict.fromkeys(w for w, _ in MOBILENET_TFSLIM_GRID):
        mparams = MOBILENET_TFSLIM_GRID[(width, 224)][1]
        rows.append(
            Claim(KEY, MOBILENET_TFSLIM_TABLE, f"parameters, {_tfslim_name(width, 224).removesuffix('_224')} (every resolution)",
                  mparams, "million parameters", _grid_source(), functools.partial(_measure_grid, width, 224, "parameters"),
                  TFSLIM_PARAMS_TOLERANCE, "TF-slim gives parameters to 0.01 M; resolution does not change them.")
        )  # fmt: skip
    return tuple(rows)


def claims() -> tuple[Claim, ...]:
    rows: list[Claim] = []
    for row in MOBILENET_TABLES:
        other = row.torchvision is not None
        specs = (
            ("mult-adds", row.mmacs, "million mult-adds", OTHER_MODELS_TOLERANCE if other else MULT_ADDS_TOLERANCE),
            ("parameters", row.mparams, "million parameters", OTHER_MODELS_TOLERANCE if other else PARAMS_TOLERANCE),
            ("ImageNet accuracy", row.accuracy, "% top-1", None),
        )
        for quantity, value, unit, tolerance in specs:
            kind = "accuracy" if quantity == "ImageNet accuracy" else quantity
            rows.append(
                Claim(KEY, row.table, f"{quantity}, {row.model}", value, unit, _source(row.table),
                      functools.partial(_measure, row, kind), tolerance, _note(row, kind),
                      exception=(row.table, row.model, kind) in EXCEPTIONS,
                      convention=PAPER_CONVENTION if kind == "mult-adds" else "",
                      target=_target(row) if kind == "accuracy" else None)
            )  # fmt: skip
    return (*rows, *grid_claims())


# --- the explorer: accuracy vs mult-adds, the paper's log-linear trade-off --------------------


def tradeoff_points() -> tuple[MobileNetRow, ...]:
    """The paper's MobileNet points with accuracy and mult-adds (Tables 6, 7, 9), one per configuration."""
    # Tables 6 and 7 first: their labels name width and resolution ("0.75 MobileNet-224").
    preference = ("Table 6", "Table 7", "Table 9", "Table 5", "Table 4", "Table 8")
    seen, points = set(), []
    for row in sorted(MOBILENET_TABLES, key=lambda r: preference.index(r.table)):
        key = (row.width_mult, row.resolution, row.variant)
        if row.torchvision is None and row.variant == "separable" and key not in seen:
            seen.add(key)
            points.append(row)
    return tuple(points)


def tradeoff_fit() -> tuple[float, float]:
    """Least-squares fit ``accuracy = a + b * log10(mult-adds)`` through :func:`tradeoff_points` (a, b)."""
    points = tradeoff_points()
    xs = [math.log10(p.mmacs) for p in points]
    ys = [p.accuracy for p in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    return my - b * mx, b


TRADEOFF_SOURCES = (f"{CITATION}, Tables 6, 7 and 9 (accuracy, mult-adds); course copy: {MOBILENET_SEEDS}",)


def accuracy_on_trend(mmacs: float) -> float:
    """Top-1 (%) read off the paper's log-linear trend at ``mmacs`` million mult-adds: a reading, not a measurement."""
    a, b = tradeoff_fit()
    return a + b * math.log10(mmacs)


TRADEOFF_PLOT_PX = (560, 400)  # the plot area the labels are placed for (the Papers page draws it at least this large)
TRADEOFF_Y_RANGE = (40, 78)


def tradeoff_figure(point: MobileNetPoint):
    """Plotly figure: the paper's accuracy vs mult-adds points, the fitted trend, and ``point`` on it.

    In MobileNetV1's colour (:mod:`cvcore.palette`), with log ticks a reader can read and
    labels that neither overlap nor leave the plot (:func:`cvcore.figures.place_labels`).
    """
    import plotly.graph_objects as go

    from cvcore.figures import LABEL_FONT_PX, PlotArea, log_ticks, place_labels
    from cvcore.palette import family_color

    points = tradeoff_points()
    xs = [p.mmacs for p in points]
    span = [min(xs + [point.mmacs]) / 1.5, max(xs + [point.mmacs]) * 1.5]
    area = PlotArea(*TRADEOFF_PLOT_PX, tuple(math.log10(v) for v in span), TRADEOFF_Y_RANGE, log_x=True)
    texts = [f"{p.model} ({p.table})" for p in points]
    positions = place_labels([(p.mmacs, p.accuracy) for p in points], texts, [4.0] * len(points), area)
    fig = go.Figure()
    fig.add_scatter(
        x=xs, y=[p.accuracy for p in points], mode="markers+text", name="paper (ImageNet top-1)",
        text=[t if pos else "" for t, pos in zip(texts, positions)], textposition=[pos or "top center" for pos in positions],
        textfont={"size": LABEL_FONT_PX}, cliponaxis=False, marker={"color": family_color("MobileNetV1"), "size": 8},
        hovertext=texts, hoverinfo="text+x+y",
    )  # fmt: skip
    fig.add_scatter(
        x=span, y=[accuracy_on_trend(x) for x in span], mode="lines", line={"dash": "dot", "color": "grey"},
        name="log-linear fit to the paper's points",
    )  # fmt: skip
    fig.add_vline(x=point.mmacs, line={"color": "crimson"})
    fig.add_scatter(
        x=[point.mmacs], y=[accuracy_on_trend(point.mmacs)], mode="markers",
        marker={"color": "crimson", "symbol": "diamond-open", "size": 12},
        name=f"α={point.width_mult:g}, {point.resolution}px: measured mult-adds, accuracy read off the fit",
    )  # fmt: skip
    tickvals, ticktext = log_ticks(*span)
    fig.update_xaxes(
        type="log", title="million mult-adds, papers' convention (log scale)", range=list(area.x_range),
        tickvals=tickvals, ticktext=ticktext,
    )  # fmt: skip
    fig.update_yaxes(title="ImageNet top-1 accuracy (%)", range=list(TRADEOFF_Y_RANGE))
    fig.update_layout(
        height=60 + TRADEOFF_PLOT_PX[1] + 60, margin={"l": 60, "r": 20, "t": 60, "b": 60},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02},
    )  # fmt: skip
    return fig


def explorer_table(point: MobileNetPoint):
    """The explorer's numbers at one point: measured mult-adds and parameters, and the accuracy read off the paper's fit."""
    from cvcore.formatting import Table

    row = {
        "width_mult": point.width_mult, "resolution": point.resolution, "mmacs": round(point.mmacs, 2),
        "mparams": round(point.mparams, 3), "mmacs_all_ops": round(point.mmacs_all_ops, 2),
        "top1_on_trend": round(accuracy_on_trend(point.mmacs), 1),
    }  # fmt: skip
    labels = {
        "width_mult": "width multiplier α", "resolution": "resolution (px)", "mmacs": "million mult-adds (papers' convention)",
        "mparams": "parameters (M)", "mmacs_all_ops": "million multiply-adds, all ops",
        "top1_on_trend": "top-1 on the paper's trend (%)",
    }  # fmt: skip
    caption = (
        f"MobileNetV1 at alpha {point.width_mult:g}, {point.resolution}px: {point.how}. "
        "The top-1 is read off the log-linear fit to the paper's points, not measured (no trained MobileNetV1 weights here)."
    )
    return Table([row], labels=labels, caption=caption, sources=list(TRADEOFF_SOURCES))


def tradeoff_caption(point: MobileNetPoint) -> str:
    return (
        f"MobileNet accuracy vs mult-adds; the red line is alpha {point.width_mult:g} at {point.resolution}px, "
        "measured with fvcore on cvcore's MobileNetV1 in the papers' convention (conv + fc multiply-adds, as the paper counts)."
    )
