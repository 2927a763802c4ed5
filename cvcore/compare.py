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

from cvcore.analysis.conventions import (
    ALL_OPS_CONVENTION,
    CAPTION,
    GMACS_ALL_OPS_LABEL,
    GMACS_ALL_OPS_PRINT_LABEL,
    GMACS_LABEL,
    GMACS_PRINT_LABEL,
    PAPERS_CONVENTION,
)
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
    score: bool = False  # a percentage score, compared in percentage points; otherwise compared as a ratio
    note: str = ""  # where the numbers come from, for captions (a stored benchmark's machine, file, batch, mode)


X_AXES: dict[str, Axis] = {
    "gmacs": Axis("gmacs", "Multiply-adds (GMACs, papers' convention)", GMACS_LABEL, False),
    "gmacs_all_ops": Axis("gmacs_all_ops", "Multiply-adds, all operators (GMACs, fvcore)", GMACS_ALL_OPS_LABEL, False),
    "mparams": Axis("mparams", "Parameters (millions)", "Params (M)", False),
    "file_size_mb": Axis("file_size_mb", "Weights file size (MB)", "File (MB)", False),
    "latency_ms": Axis("latency_ms", "Measured latency (ms, batch 1)", "Latency (ms)", False),
    # From a stored benchmark sweep (cvcore.benchmark.axes); benchmark_axes() names the machine, batch and mode.
    "throughput": Axis("throughput", "Measured throughput (images/s, stored benchmark)", "Throughput (images/s)", True),
    "latency": Axis("latency", "Measured latency (ms per forward pass, median, stored benchmark)", "Latency (ms, median)", False),
    "memory": Axis("memory", "Measured peak memory (MiB, stored benchmark)", "Peak memory (MiB)", False),
}
BENCHMARK_AXES = ("throughput", "latency", "memory")
Y_AXES: dict[str, Axis] = {
    "acc@1": Axis("acc@1", "ImageNet top-1 accuracy (%)", "Top-1 (%)", True, score=True),
    "acc@5": Axis("acc@5", "ImageNet top-5 accuracy (%)", "Top-5 (%)", True, score=True),
    "miou": Axis("miou", f"Mean IoU (%), {SEGMENTATION_EVAL}", SEGMENTATION_LABELS["miou"], True, score=True),
    "pixel_acc": Axis(
        "pixel_acc", f"Pixel accuracy (%), {SEGMENTATION_EVAL}", SEGMENTATION_LABELS["pixel_acc"], True, score=True
    ),
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
    arch: str = ""  # the architecture (several points may share one, each with other weights)
    weights_id: str = ""  # which weights: "IMAGENET1K_V1", "bundled", "none" (published numbers, no weights)
    recipe: str = ""  # where the weights' training recipe is described (torchvision's references)
    absent: dict[str, str] = field(default_factory=dict)  # key -> why this model has no such number ("not measured here")

    def value(self, key: str) -> float | None:
        q = self.quantities.get(key)
        return q.value if q else None

    @property
    def weights_tag(self) -> str:
        """The weights in a few characters: "V1", "V2", "SWAG_E2E_V1", "bundled", "paper" (published, no weights)."""
        return weights_tag(self.weights_id)


def weights_tag(weights_id: str) -> str:
    from cvcore.registry import NO_WEIGHTS_ID

    if weights_id == NO_WEIGHTS_ID:
        return "paper"
    for prefix in ("IMAGENET1K_", "COCO_WITH_VOC_LABELS_"):
        if weights_id.startswith(prefix) and len(weights_id) > len(prefix):
            return weights_id[len(prefix) :]
    return weights_id


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
    # Other weights of an architecture share its name: the weights column and [tag] say which they are.
    display = f"{spec.display_name} {YOURS_MARK}" if spec.is_user else spec.architecture.display_name
    return ModelPoint(
        spec.name, display, spec.family, spec.task.value, spec.year, q, spec.input_size, spec.arch, spec.weights.id,
        spec.weights.recipe or "",
    )  # fmt: skip


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
    names: Iterable,
    measured: Mapping | None = None,
    latency_ms: Mapping | None = None,
    benchmark=None,
) -> list[ModelPoint]:
    """Points for catalogue entries (names or specs; see :func:`choose_weights`); ``measured`` defaults to the precomputed analysis.

    ``latency_ms`` maps names (an entry's or its architecture's) to
    :class:`cvcore.latency.Latency` results (or plain milliseconds); only those models get a latency.
    ``benchmark`` (:class:`cvcore.benchmark.axes.MeasuredModels`, for these entries) adds the
    throughput, latency and memory a stored sweep measured; the others say why they have none.
    """
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
            status = weight_status(spec.name)
            on_disk = status.size_mb if status.available else None
        latency = latency_ms.get(spec.name, latency_ms.get(spec.arch))
        evaluated = _measured_metrics(spec) if spec.is_user else None
        points.append(point_for(spec, _measured(spec, measured), latency, on_disk, evaluated))
    return [with_benchmark(p, benchmark) for p in points] if benchmark is not None else points


def with_benchmark(point: ModelPoint, benchmark) -> ModelPoint:
    """``point`` with what a stored sweep measured for it (latency with its p10-p90), or why it has no such numbers."""
    from dataclasses import replace

    m = benchmark.measured.get(point.name)
    if m is None:
        why = benchmark.not_measured.get(point.name, "not measured here")
        return replace(point, absent={**point.absent, **dict.fromkeys(BENCHMARK_AXES, why)})
    size = f"input {m.input_size[0]}x{m.input_size[1]}" + (f", row of {m.model}" if m.model != point.name else "")
    source = f"{benchmark_source(benchmark)} ({size})"
    found = {
        "throughput": Quantity(m.images_per_s, source, True),
        "latency": Quantity(m.latency_median_ms, source, True, m.latency_p10_ms, m.latency_p90_ms),
    }
    if m.peak_memory_mb is not None:
        found["memory"] = Quantity(m.peak_memory_mb, f"{source.removesuffix(')')}; {m.memory_source})", True)
    absent = {**point.absent, **({} if "memory" in found else {"memory": "no peak memory in its row"})}
    return replace(point, quantities={**point.quantities, **found}, absent=absent)


def benchmark_source(benchmark) -> str:
    """ "measured: cvlens benchmark, sweep ID, batch 8, fp32, cpu": the same for every model of one selection."""
    return f"measured: cvlens benchmark, sweep {benchmark.sweep_id}, {benchmark.setting}"


def benchmark_axes(benchmark) -> dict[str, Axis]:
    """Compare's throughput, latency and memory axes for one selection, their labels naming the machine, batch and mode."""
    where = f"{benchmark.setting}, on {benchmark.machine}"
    origin = (
        f"measured by the cvlens benchmark on {benchmark.machine} (result file {benchmark.file_name}), "
        f"batch {benchmark.batch_size}, mode {benchmark.mode}, device {benchmark.device}"
    )
    return {
        "throughput": _described(
            "throughput", f"Measured throughput (images/s) — {where}", f"Throughput: images per second, {origin}."
        ),
        "latency": _described(
            "latency",
            f"Measured latency (ms per forward pass, median) — {where}",
            f"Latency: median time of one forward pass of the whole batch, {origin}; error bars from p10 to p90 of the "
            "timed runs.",
        ),
        "memory": _described("memory", f"Measured peak memory (MiB) — {where}", f"Peak memory: {origin}."),
    }


def _described(key: str, label: str, note: str) -> Axis:
    from dataclasses import replace

    return replace(X_AXES[key], label=label, note=note)


def _measured_metrics(spec) -> dict:
    from cvcore.evaluation.measured import measured_metrics

    return measured_metrics(spec)


def _measured(spec, measured: Mapping):
    """What was counted for ``spec``: its own entry, else (other weights of the same architecture and head) the default's."""
    from cvcore.catalogue import measured_for
    from cvcore.registry import get_spec

    own = measured_for(spec, measured)
    if own is not None or spec.is_user or spec.is_default:
        return own
    default = get_spec(spec.arch, metadata_only=True)
    return measured_for(default, measured) if default.weights.build_kwargs == spec.weights.build_kwargs else None


# --- which weights each model is compared with -------------------------------------------------


@dataclass(frozen=True)
class WeightsChoice:
    """The entry (architecture + weights) chosen for each compared model, and why."""

    specs: tuple  # ModelSpec per requested name, in order
    common: str | None  # the weights id most of the models share, used wherever it exists ("IMAGENET1K_V1")
    chosen: frozenset[str] = frozenset()  # names whose weights the user chose

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.specs]

    def spec_for(self, name: str):
        """The entry chosen for ``name`` (an architecture, an entry, or a user's model)."""
        spec = entry(name)
        return next((s for s in self.specs if s.arch == spec.arch and (s.name == spec.name or not spec.is_user)), spec)

    @property
    def rule(self) -> str:
        """The rule in words, for captions."""
        if self.common is None:
            return "Each model with its default weights."
        return (
            f"Like for like: each model with its {self.common} weights where it has them (the recipe most of these models "
            "share, so that differences come from the architectures, not the training), otherwise its default; "
            f"points with other weights are marked [tag] and drawn as diamonds."
        )


def choose_weights(names: Iterable[str], overrides: Mapping[str, str] | None = None, like_for_like: bool = True) -> WeightsChoice:
    """One entry per name: ``overrides`` (architecture -> weights id) first, then like for like, else the default.

    A name that already says its weights (``resnet50.IMAGENET1K_V1``) or a user's model keeps
    them. Like for like picks the weights id that most of the architectures have (at least
    two: e.g. torchvision's IMAGENET1K_V1, its original recipe, beside a V2 default) and uses
    it for every model that has it.
    """
    from cvcore.registry import list_weights

    overrides = dict(overrides or {})
    names = list(names)
    requested = [entry(n) for n in names]
    options = {s.arch: list_weights(s.arch, metadata_only=True, include_user=False) for s in requested if not s.is_user}
    common = _common_weights(options.values()) if like_for_like else None
    specs, chosen = [], set()
    for name, spec in zip(names, requested):
        available = {w.weights.id: w for w in options.get(spec.arch, [])}
        wanted = overrides.get(spec.arch)
        if spec.is_user or name != spec.arch:  # the name says which weights
            specs.append(spec)
            chosen.add(spec.arch)
        elif wanted is not None:
            if wanted not in available:
                raise InvalidInputError(f"{spec.arch} has no weights {wanted!r}; it has: {', '.join(available)}.")
            specs.append(available[wanted])
            chosen.add(spec.arch)
        else:
            specs.append(available.get(common, spec))
    return WeightsChoice(tuple(specs), common, frozenset(chosen))


def entry(name: str):
    """The catalogue entry ``name``, also ``arch.WEIGHTS_ID`` for an architecture's default weights (``resnet50.IMAGENET1K_V2``)."""
    from cvcore.errors import UnknownModelError
    from cvcore.registry import get_spec

    try:
        return get_spec(name, metadata_only=True)
    except UnknownModelError as unknown:
        arch, dot, weights_id = name.rpartition(".")
        try:
            if dot:
                return get_spec(arch, weights=weights_id, metadata_only=True)
        except (UnknownModelError, InvalidInputError):
            pass
        raise unknown from None


def _common_weights(options) -> str | None:
    """The torchvision weights id most architectures have (at least two); ties go to the one more of them default to."""
    from cvcore.registry import WeightsKind

    counts: dict[str, list[int]] = {}
    for weights in options:
        for w in weights:
            if w.weights.kind is WeightsKind.TORCHVISION:
                tally = counts.setdefault(w.weights.id, [0, 0])
                tally[0] += 1
                tally[1] += w.is_default
    shared = [(tuple(tally), wid) for wid, tally in counts.items() if tally[0] >= 2]
    return max(shared, key=lambda t: t[0])[1] if shared else None


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
    x_low: float | None = None  # the x value's spread (a stored benchmark's latency: p10 to p90)
    x_high: float | None = None


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
        note = f" {self.x_axis.note}" if self.x_axis.note else ""
        return f"{self.y_axis.label} against {x}; bubble area = parameters; colour = family.{self.weights_note}{convention}{note}"

    @property
    def weights_note(self) -> str:
        """Which weights the points' numbers belong to, and what the [tags] on the others mean."""
        common = common_weights([cp.point for cp in self.points])
        others = sorted({cp.point.weights_tag for cp in self.points if cp.point.weights_id != common})
        if common is None or not others:
            return ""
        glossary = {"V2": "torchvision's newer recipe", "paper": "the paper's published numbers, no weights",
                    "bundled": "weights shipped in a package, numbers from its source"}  # fmt: skip
        tags = ", ".join(f"[{t}]" + (f" = {glossary[t]}" if t in glossary else "") for t in others)
        return f" Weights: {common} unless marked (diamond): {tags}."

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


def chart_data(
    points: Sequence[ModelPoint], x: str = "gmacs", y: str = "acc@1", axes: Mapping[str, Axis] | None = None
) -> ChartData:
    """The chart's points (those with both x and y), its Pareto front, and what is left out and why.

    ``axes`` replaces axes by key (:func:`benchmark_axes`: labels naming the machine and batch).
    An x that is better higher (throughput) puts the front at more x and more y.
    """
    x_axis, y_axis = _axis(x, {**X_AXES, **(axes or {})}, "x"), _axis(y, Y_AXES, "y")
    usable, missing = [], {}
    for p in points:
        xv, yv = p.value(x), p.value(y)
        if xv is None or yv is None:
            missing[p.name] = _why_missing(p, [a for a, v in ((x_axis, xv), (y_axis, yv)) if v is None])
            continue
        usable.append((p, xv, yv))
    sign = -1 if x_axis.higher_is_better else 1
    front_idx = set(pareto_front([(sign * xv, yv) for _, xv, yv in usable]))
    chart_points = tuple(_chart_point(p, x, y, i in front_idx) for i, (p, _, _) in enumerate(usable))
    front = tuple(cp.point.name for cp in sorted((cp for cp in chart_points if cp.on_front), key=lambda c: (c.x, -c.y)))
    return ChartData(x_axis, y_axis, chart_points, front, missing)


def _chart_point(p: ModelPoint, x: str, y: str, on_front: bool) -> ChartPoint:
    qx, qy = p.quantities[x], p.quantities[y]
    return ChartPoint(p, qx.value, qy.value, p.value("mparams") or 0.0, on_front, qy.low, qy.high, qx.low, qx.high)


def _why_missing(point: ModelPoint, lacking: Sequence[Axis]) -> str:
    """ "no Top-1 (%) for AlexNet", or with the reason the model has none: "AlexNet: not measured here (...)"."""
    plain = " or ".join(a.short for a in lacking if a.key not in point.absent)
    reasons = [point.absent[a.key] for a in lacking if a.key in point.absent]
    if not reasons:
        return f"no {plain} for {point.display_name}"
    return f"{point.display_name}: " + "; ".join([*reasons, *([f"no {plain}"] if plain else [])])


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


def delta_table(
    points: Sequence[ModelPoint],
    baseline: str,
    keys: Sequence[str],
    front: Iterable[str] = (),
    note: str = "",
    axes: Mapping[str, Axis] | None = None,
) -> Table:
    """Deltas as a :class:`Table`: scores first (value, percentage-point difference), then other quantities (value, ratio).

    The weights column says which trained weights each row's numbers belong to, so a
    difference that comes from the training recipe is not read as the architecture's;
    ``note`` (e.g. :attr:`WeightsChoice.rule`) goes into the caption, and so do the notes of
    ``axes`` (:func:`benchmark_axes`: which machine, file, batch and mode measured them). Each
    row also carries ``<key>_source`` (where the number comes from; for multiply-adds, which
    convention counts them; for a number the model lacks, why): in the JSON export, not
    among the displayed columns.
    """
    front = set(front)
    axes = {**AXES, **(axes or {})}
    delta_rows = deltas(points, baseline, keys)  # raises if the baseline is not among the points
    base_row, base_point = next((r, p) for r, p in zip(delta_rows, points) if r.is_baseline)
    ordered = [k for k in keys if axes[k].score] + [k for k in keys if not axes[k].score]
    rows, sources, columns = [], [], ["model", "weights"]
    labels = {"model": "Model", "weights": "Weights", "pareto": "Pareto front"}
    for row, point in zip(delta_rows, points):
        record: dict = {"model": row.display_name + (" (baseline)" if row.is_baseline else ""), "weights": point.weights_id}
        for k in ordered:
            axis, d = axes[k], row.deltas[k]
            name = axis.short.split(" (")[0]
            record[k] = round(d.value, 4) if d.value is not None else None
            labels[k] = axis.short
            compared = f"{k}_diff" if axis.score else f"{k}_ratio"
            if axis.score:
                record[compared] = round(d.difference, 2) if d.difference is not None else None
                labels[compared] = f"Δ {name} (pp)"
            else:
                record[compared] = round(d.ratio, 3) if d.ratio is not None else None
                labels[compared] = f"{name} ÷ base"
            columns += [c for c in (k, compared) if c not in columns]
            q = point.quantities.get(k)
            record[f"{k}_source"] = q.source if q else point.absent.get(k)
            if q:
                sources.append(q.source)
        record["pareto"] = "yes" if point.name in front else ""
        rows.append(record)
    base = f"{base_row.display_name} ({base_point.weights_id})" if base_point.weights_id else base_row.display_name
    convention = f" {CAPTION}" if {"gmacs", "gmacs_all_ops"} & set(keys) else ""
    if {"miou", "pixel_acc"} & set(keys):
        convention += f" Segmentation scores: torchvision's, measured on {SEGMENTATION_EVAL}."
    caption = f"Against {base}: accuracy as percentage-point differences, costs as ratios.{convention}"
    notes = [axes[k].note for k in ordered if axes[k].note]
    return Table(
        rows, columns=[*columns, "pareto"], labels=labels, caption=" ".join(p for p in (caption, *notes, note) if p),
        sources=sources,
        latex_labels={k: PRINT_LABELS[k] for k in keys if k in PRINT_LABELS},
    )  # fmt: skip


def hover_lines(point: ModelPoint) -> list[str]:
    """Every number of a model with its provenance, one line each (for hover boxes and tooltips)."""
    lines = [f"{point.display_name} ({point.family}, {point.year})"]
    if point.weights_id:
        lines.append(f"Weights: {point.weights_id}" + (f" — recipe: {point.recipe}" if point.recipe else ""))
    for key in (*X_AXES, *Y_AXES):
        q = point.quantities.get(key)
        if q is None:
            continue
        unit = AXES[key].short
        value = f"{q.value:.2f}" if key in Y_AXES else f"{q.value:.3f}" if abs(q.value) < 10 else f"{q.value:.1f}"
        if key in BENCHMARK_AXES and q.low is not None and q.high is not None:
            value += f" (p10 {q.low:.3g}, p90 {q.high:.3g})"
        provenance = q.source if q.source.startswith(q.kind) else f"{q.kind}: {q.source}"
        lines.append(f"{unit}: {value} — {provenance}")
    return lines


def _error_bars(members: Sequence[ChartPoint], axis: str = "y") -> dict | None:
    """Asymmetric error bars for the points measured with an interval (y: a user's evaluated model; x: a stored
    benchmark's latency, p10 to p90); None if there are none."""
    spans = [(getattr(cp, axis), getattr(cp, f"{axis}_low"), getattr(cp, f"{axis}_high")) for cp in members]
    if not any(low is not None for _, low, _ in spans):
        return None
    return {
        "type": "data", "symmetric": False, "thickness": 1.5, "width": 4,
        "array": [high - v if high is not None else 0 for v, _, high in spans],
        "arrayminus": [v - low if low is not None else 0 for v, low, _ in spans],
    }  # fmt: skip


# The plot area the labels are placed for: the smallest the Compare page draws (a wider one only spreads them).
PLOT_WIDTH_PX, PLOT_HEIGHT_PX = 560, 440
FIGURE_MARGIN = {"l": 60, "r": 20, "t": 60, "b": 60}
MAX_BUBBLE_PX = 60  # diameter of the largest bubble
MIN_BUBBLE_PX = 6


def common_weights(points: Sequence[ModelPoint]) -> str | None:
    """The weights id most of ``points`` have (ties: the first seen); the others are marked as other weights."""
    counts: dict[str, int] = {}
    for p in points:
        counts[p.weights_id] = counts.get(p.weights_id, 0) + 1
    return max(counts, key=counts.get) if counts else None  # max keeps the first of equal counts


def point_label(point: ModelPoint, common: str | None) -> str:
    """The model's name, with its weights' tag when they are not the chart's common ones ("ResNet-50 [V2]")."""
    if common is None or point.weights_id == common:
        return point.display_name
    return f"{point.display_name} [{point.weights_tag}]"


def bubble_diameters_px(chart: ChartData) -> list[float]:
    """Bubble diameters: area proportional to parameters, the largest MAX_BUBBLE_PX across."""
    largest = max((cp.size for cp in chart.points), default=0.0) or 1.0
    return [max(MIN_BUBBLE_PX, MAX_BUBBLE_PX * math.sqrt(max(cp.size, 0.0) / largest)) for cp in chart.points]


def front_shape(chart: ChartData) -> str:
    """The Pareto front's steps: what the best score is for at most this cost ("hv"), or for at least this throughput ("vh")."""
    return "vh" if chart.x_axis.higher_is_better else "hv"


def label_layout(chart: ChartData, log_x: bool, common: str | None):
    """(axis ranges, text per point, text position per point or None) for :func:`accuracy_figure`.

    The ranges leave room round the bubbles; labels go where they overlap no other label or
    bubble and stay inside the plot (:func:`cvcore.figures.place_labels`), Pareto front first.
    """
    from cvcore.figures import PlotArea, line_boxes, padded_range, place_labels

    x_range = padded_range([cp.x for cp in chart.points], log=log_x, fraction=0.1)
    y_range = padded_range([cp.y for cp in chart.points], log=False, fraction=0.14)
    area = PlotArea(PLOT_WIDTH_PX, PLOT_HEIGHT_PX, tuple(x_range), tuple(y_range), log_x=log_x)
    texts = [point_label(cp.point, common) for cp in chart.points]
    radii = [d / 2 for d in bubble_diameters_px(chart)]
    order = sorted(range(len(chart.points)), key=lambda i: (not chart.points[i].on_front, -chart.points[i].size))
    front = sorted((cp for cp in chart.points if cp.on_front), key=lambda c: (c.x, -c.y))
    line = line_boxes(area, [cp.x for cp in front], [cp.y for cp in front], shape=front_shape(chart)) if len(front) > 1 else []
    positions = place_labels([(cp.x, cp.y) for cp in chart.points], texts, radii, area, order, obstacles=line)
    return x_range, y_range, texts, positions


def accuracy_figure(chart: ChartData, log_x: bool = True, title: str | None = None, common: str | None = None):
    """Plotly figure: one bubble per model (area ~ parameters, colour = family, diamond = other weights), Pareto front dashed.

    Colours come from :func:`cvcore.palette.family_color` (the same family, the same colour,
    on every chart); ``common`` is the weights id the comparison uses (default: the one most
    points have): points with other weights are diamonds with their tag in the label.
    Labels neither overlap nor leave the plot (:func:`label_layout`); a log x axis has ticks
    at 1, 10, 100 (or 1-2-5 over short ranges).
    """
    import plotly.graph_objects as go

    from cvcore.figures import LABEL_FONT_PX, log_ticks
    from cvcore.palette import RANDOM_BASELINE_COLOR, family_color

    common = common if common is not None else common_weights([cp.point for cp in chart.points])
    fig = go.Figure()
    if chart.points:
        x_range, y_range, texts, positions = label_layout(chart, log_x, common)
    else:
        x_range, y_range, texts, positions = None, None, [], []
    diameters = bubble_diameters_px(chart)
    for family in sorted({cp.point.family for cp in chart.points}):
        members = [i for i, cp in enumerate(chart.points) if cp.point.family == family]
        fig.add_trace(
            go.Scatter(
                x=[chart.points[i].x for i in members],
                y=[chart.points[i].y for i in members],
                mode="markers+text",
                name=family,
                text=[texts[i] if positions[i] else "" for i in members],
                textposition=[positions[i] or "top center" for i in members],
                textfont={"size": LABEL_FONT_PX},
                cliponaxis=False,  # a label next to the frame is drawn whole, never cut ("obileNet-v3-small")
                marker={
                    "size": [diameters[i] for i in members],
                    "color": family_color(family),
                    "symbol": ["circle" if chart.points[i].point.weights_id == common or common is None else "diamond"
                               for i in members],
                    "line": {"width": 1, "color": "white"},
                    "opacity": 0.8,
                },  # fmt: skip
                customdata=["<br>".join(hover_lines(chart.points[i].point)) for i in members],
                hovertemplate="%{customdata}<extra></extra>",
                error_y=_error_bars([chart.points[i] for i in members]),
                error_x=_error_bars([chart.points[i] for i in members], "x"),
            )
        )
    front = sorted((cp for cp in chart.points if cp.on_front), key=lambda c: (c.x, -c.y))
    if len(front) > 1:
        fig.add_trace(
            go.Scatter(
                x=[cp.x for cp in front],
                y=[cp.y for cp in front],
                mode="lines",
                line={"dash": "dash", "color": RANDOM_BASELINE_COLOR, "shape": front_shape(chart)},
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
        height=FIGURE_MARGIN["t"] + PLOT_HEIGHT_PX + FIGURE_MARGIN["b"],
        margin=FIGURE_MARGIN,
    )
    fig.update_xaxes(type="log" if log_x else "linear")
    if x_range is not None:
        fig.update_xaxes(range=x_range)
        fig.update_yaxes(range=y_range)
        if log_x:
            values, labels = log_ticks(10 ** x_range[0], 10 ** x_range[1])
            fig.update_xaxes(tickvals=values, ticktext=labels)
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
# A printed catalogue: what a thesis table compares (names, costs, accuracy), not where the files are.
CATALOGUE_LATEX_COLUMNS = ["display_name", "year", "input", "mparams", "gmacs", "gmacs_all_ops", "published_gmacs", *Y_AXES]
# Short headers in print: the caption says what each GMACs figure counts and where the segmentation scores come from.
PRINT_LABELS = {
    "gmacs": GMACS_PRINT_LABEL, "gmacs_all_ops": GMACS_ALL_OPS_PRINT_LABEL, "miou": "mIoU (%)", "pixel_acc": "Pixel acc (%)",
}  # fmt: skip
CATALOGUE_LATEX_LABELS = {**PRINT_LABELS, "published_gmacs": "GMACs (published)"}


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
            f"{len(records)} models. Params and GMACs measured (at the model's input size; —: not analysed yet). "
            f"{CAPTION} Accuracy, published GMACs (each source's own count) and file sizes as published; "
            f"segmentation scores are torchvision's, measured on {SEGMENTATION_EVAL}."
        ),
        sources=sorted({s for r in rows for s in r.source.split("; ") if s}),
        local_columns=("offline",),  # whether the weights are on this machine: meaningless in a file
        latex_columns=CATALOGUE_LATEX_COLUMNS,
        latex_labels=CATALOGUE_LATEX_LABELS,
    )
