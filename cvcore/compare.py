"""Accuracy against compute, model by model, in the style of Canziani et al. 2016.

Pure functions over the catalogue: each model becomes a :class:`ModelPoint` whose every
number is a :class:`Quantity` that says where it comes from (measured here, or published
with its source). :func:`chart_data` picks the x and y quantities, marks the Pareto front
(less compute, more accuracy) and lists what cannot be plotted; :func:`deltas` compares
models with a baseline. :func:`accuracy_figure` draws the chart with plotly, so the
dashboard's figure can also be produced from Python.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from cvcore.analysis.conventions import ALL_OPS_CONVENTION, CAPTION, GMACS_ALL_OPS_LABEL, GMACS_LABEL, PAPERS_CONVENTION
from cvcore.defaults import COMPARE_SEED
from cvcore.errors import InvalidInputError
from cvcore.formatting import Table

DEFAULT_SEED = COMPARE_SEED  # Canziani et al.'s models plus the mobile nets that came after (cvcore.defaults)

MEASURED_PARAMS_SOURCE = "measured: parameters of the built model"
MEASURED_GMACS_SOURCE = f"measured: {PAPERS_CONVENTION} (assets/analysis.json)"
MEASURED_GMACS_ALL_OPS_SOURCE = f"measured: {ALL_OPS_CONVENTION} (assets/analysis.json)"
# torchvision's segmentation metrics: measured on COCO val2017, on the 20 classes VOC shares with COCO.
SEGMENTATION_EVAL = "COCO val2017, VOC labels"
SEGMENTATION_LABELS = {"miou": f"mIoU (%, {SEGMENTATION_EVAL})", "pixel_acc": f"Pixel acc (%, {SEGMENTATION_EVAL})"}
FILE_SIZE_ON_DISK_SOURCE = "measured: size of the weights file on disk"
MEASURED_LATENCY_SOURCE = "measured: cvlens latency benchmark"


@dataclass(frozen=True)
class Axis:
    key: str
    label: str  # axis title, with its unit
    short: str  # column header
    higher_is_better: bool


X_AXES: dict[str, Axis] = {
    "gmacs": Axis("gmacs", "Multiply-adds (GMACs, papers' convention)", GMACS_LABEL, False),
    "gmacs_all_ops": Axis("gmacs_all_ops", "Multiply-adds, all operators (GMACs, fvcore)", GMACS_ALL_OPS_LABEL, False),
    "mparams": Axis("mparams", "Parameters (millions)", "Params (M)", False),
    "file_size_mb": Axis("file_size_mb", "Weights file size (MB)", "File (MB)", False),
    "latency_ms": Axis("latency_ms", "Measured latency (ms, batch 1)", "Latency (ms)", False),
}
Y_AXES: dict[str, Axis] = {
    "acc@1": Axis("acc@1", "ImageNet top-1 accuracy (%)", "Top-1 (%)", True),
    "acc@5": Axis("acc@5", "ImageNet top-5 accuracy (%)", "Top-5 (%)", True),
    "miou": Axis("miou", f"Mean IoU (%), {SEGMENTATION_EVAL}", SEGMENTATION_LABELS["miou"], True),
    "pixel_acc": Axis("pixel_acc", f"Pixel accuracy (%), {SEGMENTATION_EVAL}", SEGMENTATION_LABELS["pixel_acc"], True),
}
Y_AXES_BY_TASK = {"classification": ("acc@1", "acc@5"), "segmentation": ("miou", "pixel_acc")}
AXES = {**X_AXES, **Y_AXES}


@dataclass(frozen=True)
class Quantity:
    value: float
    source: str
    measured: bool  # True: measured by cvlens; False: published by someone else
    low: float | None = None  # a measured value's 95% interval (a user's evaluation), same unit
    high: float | None = None

    @property
    def kind(self) -> str:
        return "measured" if self.measured else "published"


@dataclass(frozen=True)
class ModelPoint:
    """One model's numbers, each with its provenance (absent numbers are absent keys)."""

    name: str
    display_name: str
    family: str
    task: str
    year: int
    quantities: dict[str, Quantity] = field(default_factory=dict)
    input_size: tuple[int, int] = (224, 224)

    def value(self, key: str) -> float | None:
        q = self.quantities.get(key)
        return q.value if q else None


def point_for(spec, measured=None, latency=None, file_size_on_disk_mb: float | None = None, measured_metrics=None) -> ModelPoint:
    """A catalogue spec's numbers: measured ones (``measured`` is a Complexity) win over published ones."""
    q: dict[str, Quantity] = {}
    if measured is not None:
        q["mparams"] = Quantity(measured.params / 1e6, MEASURED_PARAMS_SOURCE, True)
        size = f"{measured.input_size[0]}x{measured.input_size[1]}"
        q["gmacs"] = Quantity(measured.gmacs, f"{MEASURED_GMACS_SOURCE.removesuffix(')')}, input {size})", True)
        q["gmacs_all_ops"] = Quantity(
            measured.gmacs_all_ops, f"{MEASURED_GMACS_ALL_OPS_SOURCE.removesuffix(')')}, input {size})", True
        )
    else:
        if spec.num_params is not None:
            q["mparams"] = Quantity(spec.num_params.value / 1e6, spec.num_params.source, False)
        if spec.gmacs is not None:  # the published figure; there is none for the all-operator total
            q["gmacs"] = Quantity(spec.gmacs.value, spec.gmacs.source, False)
    if spec.weights.file_size_mb is not None:
        q["file_size_mb"] = Quantity(spec.weights.file_size_mb, _file_size_source(spec), False)
    elif file_size_on_disk_mb is not None:
        q["file_size_mb"] = Quantity(file_size_on_disk_mb, FILE_SIZE_ON_DISK_SOURCE, True)
    if latency is not None:  # a cvcore.latency.Latency, or a bare number of milliseconds
        source = getattr(latency, "description", MEASURED_LATENCY_SOURCE)
        q["latency_ms"] = Quantity(float(getattr(latency, "latency_ms", latency)), source, True)
    for key, published in spec.metrics.items():
        q[key] = Quantity(published.value, published.source, False)
    for key, m in (measured_metrics or {}).items():  # a user's model: what cvlens measured on their data
        q[key] = Quantity(m.value_pct, m.source, True, m.low_pct, m.high_pct)
    display = f"{spec.display_name} {YOURS_MARK}" if spec.is_user else spec.display_name
    return ModelPoint(spec.name, display, spec.family, spec.task.value, spec.year, q, spec.input_size)


def _file_size_source(spec) -> str:
    from cvcore.registry import WeightsKind

    if spec.weights.kind is WeightsKind.TORCHVISION:
        from cvcore.versions import torchvision_metadata_source

        return f"{torchvision_metadata_source()} ({spec.weights.ref}, '_file_size')"
    return f"catalogue entry for {spec.name} ({spec.weights.ref or spec.weights.kind.value})"


def default_selection(task: str = "classification") -> tuple[str, ...]:
    """The Compare page's starting set: Canziani et al.'s seed for classification, every scored model otherwise."""
    from cvcore.registry import list_models

    if task == "classification":
        return DEFAULT_SEED
    return tuple(
        s.name for s in list_models(task, metadata_only=True) if any(k in s.metrics for k in Y_AXES_BY_TASK.get(task, ()))
    )


def model_points(
    names: Iterable[str],
    measured: Mapping | None = None,
    latency_ms: Mapping | None = None,
) -> list[ModelPoint]:
    """Points for catalogue models; ``measured`` defaults to the precomputed analysis.

    ``latency_ms`` maps names to :class:`cvcore.latency.Latency` results (or plain milliseconds);
    only those models get a latency.
    """
    from cvcore.catalogue import measured_for
    from cvcore.registry import get_spec
    from cvcore.weights import weight_status

    if measured is None:
        from cvcore.analysis import load_precomputed

        measured = load_precomputed()
    latency_ms = latency_ms or {}
    points = []
    for name in names:
        spec = get_spec(name, metadata_only=True)
        on_disk = None
        if spec.weights.file_size_mb is None:
            status = weight_status(name)
            on_disk = status.size_mb if status.available else None
        evaluated = _measured_metrics(spec) if spec.is_user else None
        points.append(point_for(spec, measured_for(spec, measured), latency_ms.get(name), on_disk, evaluated))
    return points


def _measured_metrics(spec) -> dict:
    from cvcore.evaluation.measured import measured_metrics

    return measured_metrics(spec)


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats (x no larger and y no smaller, one strictly), by x.

    x is a cost (compute, size) and y a score (accuracy): the front is what a user
    should pick from. Ties on both coordinates are all kept.
    """
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front: list[int] = []
    best_y = -math.inf
    for i in order:
        x, y = points[i]
        if y > best_y:
            front.append(i)
            best_y = y
        elif y == best_y and front and points[front[-1]] == (x, y):
            front.append(i)
    return front


@dataclass(frozen=True)
class ChartPoint:
    point: ModelPoint
    x: float
    y: float
    size: float  # bubble area follows parameters (millions); 0 when unknown
    on_front: bool
    y_low: float | None = None  # the y value's interval, when it was measured with one (error bars)
    y_high: float | None = None


@dataclass(frozen=True)
class ChartData:
    x_axis: Axis
    y_axis: Axis
    points: tuple[ChartPoint, ...]
    front: tuple[str, ...]  # model names on the Pareto front, by increasing x
    not_plotted: dict[str, str]  # model name -> why it is missing from the chart

    @property
    def caption(self) -> str:
        """What the chart shows, for its exported caption (the page and the CLI use the same words)."""
        x = self.x_axis.label[:1].lower() + self.x_axis.label[1:]  # "multiply-adds (GMACs)": keep the unit's case
        convention = f" {CAPTION}" if self.x_axis.key in ("gmacs", "gmacs_all_ops") else ""
        return f"{self.y_axis.label} against {x}; bubble area = parameters.{convention}"

    @property
    def source_summary(self) -> list[str]:
        """The sources without their per-model details, short enough for a figure caption."""
        return list(dict.fromkeys(s.split(" (")[0] for s in self.sources))

    @property
    def sources(self) -> list[str]:
        found = []
        for cp in self.points:
            for key in (self.x_axis.key, self.y_axis.key, "mparams"):
                q = cp.point.quantities.get(key)
                if q:
                    found.append(q.source)
        return list(dict.fromkeys(found))


def _axis(key: str, axes: Mapping[str, Axis], which: str) -> Axis:
    try:
        return axes[key]
    except KeyError:
        raise InvalidInputError(f"Unknown {which}-axis {key!r}; expected one of {list(axes)}.") from None


def chart_data(points: Sequence[ModelPoint], x: str = "gmacs", y: str = "acc@1") -> ChartData:
    """The chart's points (those with both x and y), its Pareto front, and what is left out and why."""
    x_axis, y_axis = _axis(x, X_AXES, "x"), _axis(y, Y_AXES, "y")
    usable, missing = [], {}
    for p in points:
        xv, yv = p.value(x), p.value(y)
        if xv is None or yv is None:
            lacking = [a.short for a, v in ((x_axis, xv), (y_axis, yv)) if v is None]
            missing[p.name] = f"no {' or '.join(lacking)} for {p.display_name}"
            continue
        usable.append((p, xv, yv))
    front_idx = set(pareto_front([(xv, yv) for _, xv, yv in usable]))
    chart_points = tuple(
        ChartPoint(p, xv, yv, p.value("mparams") or 0.0, i in front_idx, p.quantities[y].low, p.quantities[y].high)
        for i, (p, xv, yv) in enumerate(usable)
    )
    front = tuple(cp.point.name for cp in sorted((cp for cp in chart_points if cp.on_front), key=lambda c: (c.x, -c.y)))
    return ChartData(x_axis, y_axis, chart_points, front, missing)


@dataclass(frozen=True)
class Delta:
    """One quantity of one model against the baseline's."""

    value: float | None
    baseline: float | None
    difference: float | None  # value - baseline (accuracy: percentage points)
    ratio: float | None  # value / baseline (costs: "x times the compute")


@dataclass(frozen=True)
class DeltaRow:
    name: str
    display_name: str
    is_baseline: bool
    deltas: dict[str, Delta]


def _delta(value: float | None, baseline: float | None) -> Delta:
    if value is None or baseline is None:
        return Delta(value, baseline, None, None)
    return Delta(value, baseline, value - baseline, value / baseline if baseline else None)


def deltas(points: Sequence[ModelPoint], baseline: str, keys: Sequence[str]) -> list[DeltaRow]:
    """Each model's ``keys`` quantities against the ``baseline`` model's (which must be among ``points``)."""
    by_name = {p.name: p for p in points}
    if baseline not in by_name:
        raise InvalidInputError(f"Baseline {baseline!r} is not among the compared models {list(by_name)}.")
    base = by_name[baseline]
    return [
        DeltaRow(p.name, p.display_name, p.name == baseline, {k: _delta(p.value(k), base.value(k)) for k in keys}) for p in points
    ]


def delta_table(points: Sequence[ModelPoint], baseline: str, keys: Sequence[str], front: Iterable[str] = ()) -> Table:
    """Deltas as a :class:`Table`: costs as ratios ("x"), scores as differences (percentage points).

    Each row also carries ``<key>_source`` (where the number comes from; for multiply-adds, which
    convention counts them): in the JSON export, not among the displayed columns.
    """
    front = set(front)
    delta_rows = deltas(points, baseline, keys)  # raises if the baseline is not among the points
    base_name = next(r.display_name for r in delta_rows if r.is_baseline)
    rows, labels, sources, columns = [], {"model": "Model", "pareto": "Pareto front"}, [], ["model"]
    for row, point in zip(delta_rows, points):
        record: dict = {"model": row.display_name + (" (baseline)" if row.is_baseline else "")}
        for k in keys:
            axis, d = AXES[k], row.deltas[k]
            record[k] = round(d.value, 4) if d.value is not None else None
            labels[k] = axis.short
            compared = f"{k}_diff" if axis.higher_is_better else f"{k}_ratio"
            if axis.higher_is_better:
                record[compared] = round(d.difference, 2) if d.difference is not None else None
                labels[compared] = f"Δ {axis.short.split(' (')[0]} (pp)"
            else:
                record[compared] = round(d.ratio, 3) if d.ratio is not None else None
                labels[compared] = f"{axis.short.split(' (')[0]} ÷ base"
            columns += [c for c in (k, compared) if c not in columns]
            q = point.quantities.get(k)
            record[f"{k}_source"] = q.source if q else None
            if q:
                sources.append(q.source)
        record["pareto"] = "yes" if point.name in front else ""
        rows.append(record)
    convention = f" {CAPTION}" if {"gmacs", "gmacs_all_ops"} & set(keys) else ""
    return Table(
        rows,
        columns=[*columns, "pareto"],
        labels=labels,
        caption=f"Against {base_name}: costs as ratios, accuracy as percentage-point differences.{convention}",
        sources=sources,
    )


def hover_lines(point: ModelPoint) -> list[str]:
    """Every number of a model with its provenance, one line each (for hover boxes and tooltips)."""
    lines = [f"{point.display_name} ({point.family}, {point.year})"]
    for key in (*X_AXES, *Y_AXES):
        q = point.quantities.get(key)
        if q is None:
            continue
        unit = AXES[key].short
        value = f"{q.value:.2f}" if key in Y_AXES else f"{q.value:.3f}" if abs(q.value) < 10 else f"{q.value:.1f}"
        provenance = q.source if q.source.startswith(q.kind) else f"{q.kind}: {q.source}"
        lines.append(f"{unit}: {value} — {provenance}")
    return lines


def _error_bars(members: Sequence[ChartPoint]) -> dict | None:
    """Asymmetric error bars for the points measured with an interval (a user's evaluated model); None if there are none."""
    if not any(cp.y_low is not None for cp in members):
        return None
    return {
        "type": "data", "symmetric": False, "thickness": 1.5, "width": 4,
        "array": [cp.y_high - cp.y if cp.y_high is not None else 0 for cp in members],
        "arrayminus": [cp.y - cp.y_low if cp.y_low is not None else 0 for cp in members],
    }  # fmt: skip


def accuracy_figure(chart: ChartData, log_x: bool = True, title: str | None = None):
    """Plotly figure: one marker per model (area ~ parameters, colour = family), Pareto front dashed."""
    import plotly.graph_objects as go

    fig = go.Figure()
    max_size = max((cp.size for cp in chart.points), default=1.0) or 1.0
    for family in sorted({cp.point.family for cp in chart.points}):
        members = [cp for cp in chart.points if cp.point.family == family]
        fig.add_trace(
            go.Scatter(
                x=[cp.x for cp in members],
                y=[cp.y for cp in members],
                mode="markers+text",
                name=family,
                text=[cp.point.display_name for cp in members],
                textposition="top center",
                textfont={"size": 10},
                marker={
                    "size": [max(cp.size, 0.05) for cp in members],
                    "sizemode": "area",
                    "sizeref": 2.0 * max_size / 60.0**2,  # largest bubble 60 px across
                    "sizemin": 5,
                    "line": {"width": 1, "color": "white"},
                    "opacity": 0.8,
                },
                customdata=["<br>".join(hover_lines(cp.point)) for cp in members],
                hovertemplate="%{customdata}<extra></extra>",
                error_y=_error_bars(members),
            )
        )
    front = sorted((cp for cp in chart.points if cp.on_front), key=lambda c: (c.x, -c.y))
    if len(front) > 1:
        fig.add_trace(
            go.Scatter(
                x=[cp.x for cp in front],
                y=[cp.y for cp in front],
                mode="lines",
                line={"dash": "dash", "color": "grey", "shape": "hv"},
                name="Pareto front",
                hoverinfo="skip",
            )
        )
    fig.update_layout(
        title=title or f"{chart.y_axis.short} vs {chart.x_axis.short} (bubble area = parameters)",
        xaxis_title=chart.x_axis.label + (" — log scale" if log_x else ""),
        yaxis_title=chart.y_axis.label,
        legend_title_text="Family",
        legend_itemsizing="constant",  # legend dots all the same size, whatever the bubbles
        height=560,
        margin={"l": 60, "r": 20, "t": 60, "b": 60},
    )
    fig.update_xaxes(type="log" if log_x else "linear")
    return fig


# --- The catalogue as one filterable table (the dashboard's Models page) ---------------


def filter_catalogue(
    rows: Sequence,
    task: str | None = None,
    families: Iterable[str] = (),
    years: tuple[int, int] | None = None,
    search: str = "",
) -> list:
    """Catalogue rows (:class:`cvcore.catalogue.CatalogueRow`) matching every given filter.

    ``search`` matches, case-insensitively, any of name, display name, family and paper title.
    """
    families = set(families)
    needle = search.strip().lower()

    def keep(r) -> bool:
        if task and r.task != task:
            return False
        if families and r.family not in families:
            return False
        if years and not years[0] <= r.year <= years[1]:
            return False
        return not needle or any(needle in text.lower() for text in (r.name, r.display_name, r.family, r.paper))

    return [r for r in rows if keep(r)]


YOURS_MARK = "★ yours"  # after the name of a model the user imported (cvcore.user_models)

CATALOGUE_LABELS = {
    "display_name": "Model",
    "name": "Name (CLI)",
    "task": "Task",
    "family": "Family",
    "year": "Year",
    "mparams": "Params (M)",
    "gmacs": GMACS_LABEL,
    "gmacs_all_ops": GMACS_ALL_OPS_LABEL,
    "published_gmacs": "GMACs (published, the source's count)",
    "input": "Input",
    "acc@1": "Top-1 (%)",
    "acc@5": "Top-5 (%)",
    **SEGMENTATION_LABELS,
    "file_size_mb": "File (MB)",
    "weights": "Weights from",
    "offline": "Weights here",
    "paper": "Paper",
    "paper_link": "Link",
}


def catalogue_table(rows: Sequence) -> Table:
    """Catalogue rows as a :class:`Table`: measured params/GMACs, published accuracy, weights, paper."""
    records = [
        {
            "display_name": f"{r.display_name} {YOURS_MARK}" if r.yours else r.display_name,
            "name": r.name,
            "task": r.task,
            "family": r.family,
            "year": r.year,
            "mparams": round(r.params / 1e6, 3) if r.params is not None else None,
            "gmacs": round(r.gmacs, 4) if r.gmacs is not None else None,
            "gmacs_all_ops": round(r.gmacs_all_ops, 4) if r.gmacs_all_ops is not None else None,
            "published_gmacs": r.published_gmacs,
            "input": f"{r.input_size[0]}x{r.input_size[1]}",
            **{k: r.metrics.get(k) for k in Y_AXES},
            "file_size_mb": r.file_size_mb,
            "weights": r.weights,
            "offline": r.weights_available,
            "paper": r.paper,
            "paper_link": r.paper_link,
        }
        for r in rows
    ]
    return Table(
        records,
        columns=list(CATALOGUE_LABELS),
        labels=CATALOGUE_LABELS,
        caption=(
            f"{len(records)} models. Params and GMACs measured (at the model's input size; blank: not analysed yet). "
            f"{CAPTION} Accuracy, published GMACs (each source's own count) and file sizes as published; "
            f"segmentation scores are torchvision's, measured on {SEGMENTATION_EVAL}."
        ),
        sources=sorted({s for r in rows for s in r.source.split("; ") if s}),
    )
