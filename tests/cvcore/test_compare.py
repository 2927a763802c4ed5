"""Accuracy-vs-compute data: provenance of every number, the Pareto front, deltas, the figure."""

import random

import pytest

from cvcore import compare
from cvcore.analysis import Complexity
from cvcore.errors import InvalidInputError
from cvcore.registry import get_spec, list_models


def _point(name, **values):
    quantities = {k: compare.Quantity(v, f"test source for {k}", False) for k, v in values.items()}
    return compare.ModelPoint(name, name.upper(), family=name[0], task="classification", year=2020, quantities=quantities)


def _dominates(p, q):
    return p[0] <= q[0] and p[1] >= q[1] and p != q


def test_pareto_front_is_exactly_the_undominated_points():
    rng = random.Random(0)
    points = [(rng.uniform(0.1, 20), rng.uniform(50, 90)) for _ in range(60)] + [(1.0, 70.0), (1.0, 70.0)]
    front = set(compare.pareto_front(points))
    for i, p in enumerate(points):
        dominated = any(_dominates(q, p) for q in points)
        assert (i in front) == (not dominated), (i, p)


def test_pareto_front_of_a_known_set():
    # (cost, accuracy): b is cheaper than c and more accurate; d costs more for less.
    points = [(1, 60), (2, 70), (3, 65), (4, 80), (5, 75)]
    assert compare.pareto_front(points) == [0, 1, 3]


def test_chart_has_one_point_per_model_with_both_numbers_and_says_why_others_are_missing():
    points = [_point("a", gmacs=1.0, **{"acc@1": 70.0}), _point("b", gmacs=2.0), _point("c", **{"acc@1": 60.0})]
    chart = compare.chart_data(points, x="gmacs", y="acc@1")
    assert [cp.point.name for cp in chart.points] == ["a"]
    assert set(chart.not_plotted) == {"b", "c"}
    assert "Top-1" in chart.not_plotted["b"] and "GMACs" in chart.not_plotted["c"]


def test_unknown_axes_are_refused_with_the_choices():
    with pytest.raises(InvalidInputError, match="gmacs"):
        compare.chart_data([], x="flops")
    with pytest.raises(InvalidInputError, match="acc@1"):
        compare.chart_data([], y="acc@10")


def test_default_seed_models_are_in_the_catalogue_with_published_accuracy():
    for name in compare.DEFAULT_SEED:
        assert "acc@1" in get_spec(name).metrics, name
    segmentation = compare.default_selection("segmentation")
    assert segmentation and all(get_spec(n).task.value == "segmentation" and "miou" in get_spec(n).metrics for n in segmentation)


def test_measured_numbers_win_over_published_and_say_so():
    spec = get_spec("resnet18")
    measured = Complexity("resnet18", (224, 224), 11_689_512, 11_689_512, 1.814, 1.819, 3.6, {})
    point = compare.point_for(spec, measured)
    assert point.quantities["gmacs"].measured and point.value("gmacs") == 1.814 and point.value("gmacs_all_ops") == 1.819
    assert "papers' convention" in point.quantities["gmacs"].source and "all-operator" in point.quantities["gmacs_all_ops"].source
    assert point.value("mparams") == pytest.approx(11.689512)
    published = compare.point_for(spec, None)
    assert not published.quantities["gmacs"].measured
    assert published.value("gmacs") == spec.gmacs.value and spec.gmacs.source in published.quantities["gmacs"].source
    assert published.value("gmacs_all_ops") is None  # nobody publishes fvcore's all-ops total
    assert point.quantities["acc@1"].source == spec.metrics["acc@1"].source
    assert "_file_size" in point.quantities["file_size_mb"].source


def test_latency_appears_only_for_measured_models():
    points = compare.model_points(["resnet18", "alexnet"], measured={}, latency_ms={"resnet18": 12.5})
    assert points[0].value("latency_ms") == 12.5 and points[0].quantities["latency_ms"].measured
    assert points[1].value("latency_ms") is None
    chart = compare.chart_data(points, x="latency_ms")
    assert [cp.point.name for cp in chart.points] == ["resnet18"] and "alexnet" in chart.not_plotted


def test_hover_lists_every_number_with_its_source():
    (point,) = compare.model_points(["efficientnet_lite0"], measured={})
    lines = compare.hover_lines(point)
    assert lines[0].startswith("EfficientNet-Lite0")
    for key, q in point.quantities.items():
        assert any(q.source in line for line in lines), key


def test_deltas_against_a_baseline():
    points = [_point("a", gmacs=1.0, **{"acc@1": 70.0}), _point("b", gmacs=4.0, **{"acc@1": 75.5})]
    rows = {r.name: r for r in compare.deltas(points, "a", ["gmacs", "acc@1"])}
    assert rows["a"].is_baseline and rows["a"].deltas["acc@1"].difference == 0
    assert rows["b"].deltas["gmacs"].ratio == 4.0 and rows["b"].deltas["acc@1"].difference == pytest.approx(5.5)
    with pytest.raises(InvalidInputError, match="'z'"):
        compare.deltas(points, "z", ["gmacs"])
    table = compare.delta_table(points, "a", ["gmacs", "acc@1"], front=["a", "b"])
    assert table.rows[1]["gmacs_ratio"] == 4.0 and table.rows[1]["acc@1_diff"] == 5.5
    assert "test source for gmacs" in table.full_caption


def _markers(fig):
    return sum(len(t.x) for t in fig.data if "markers" in (t.mode or ""))


def test_figure_draws_one_marker_per_point_and_follows_the_axes():
    points = compare.model_points(compare.DEFAULT_SEED, measured={})
    by_gmacs = compare.chart_data(points, "gmacs", "acc@1")
    by_size = compare.chart_data(points, "file_size_mb", "acc@1")
    fig_gmacs, fig_size = compare.accuracy_figure(by_gmacs), compare.accuracy_figure(by_size, log_x=False)
    assert _markers(fig_gmacs) == len(by_gmacs.points) == len(compare.DEFAULT_SEED)
    assert fig_gmacs.layout.xaxis.type == "log" and fig_size.layout.xaxis.type == "linear"
    assert "GMACs" in fig_gmacs.layout.xaxis.title.text and "MB" in fig_size.layout.xaxis.title.text
    front = [t for t in fig_gmacs.data if t.name == "Pareto front"]
    assert len(front) == 1 and len(front[0].x) == len(by_gmacs.front)
    assert {t.name for t in fig_gmacs.data} - {"Pareto front"} == {cp.point.family for cp in by_gmacs.points}


def test_every_catalogue_model_gets_a_point():
    names = [s.name for s in list_models()]
    assert [p.name for p in compare.model_points(names)] == names


def test_chart_caption_names_both_axes_and_keeps_units():
    chart = compare.chart_data(compare.model_points(["resnet18", "resnet50.IMAGENET1K_V1"]), x="gmacs", y="acc@1")
    assert chart.caption.startswith(
        "ImageNet top-1 accuracy (%) against multiply-adds (GMACs, papers' convention); bubble area = parameters; "
        "colour = family. GMACs in the papers' convention count convolutions, linear layers, matrix products and attention"
    )
    by_size = compare.chart_data(compare.model_points(["resnet18", "resnet50.IMAGENET1K_V1"]), x="mparams", y="acc@1")
    assert by_size.caption == "ImageNet top-1 accuracy (%) against parameters (millions); bubble area = parameters; colour = family."


def test_every_gmacs_header_and_axis_names_its_convention():
    assert compare.X_AXES["gmacs"].short == "GMACs (papers' convention)" and "papers' convention" in compare.X_AXES["gmacs"].label
    assert compare.X_AXES["gmacs_all_ops"].short == "GMACs (all ops, fvcore)"
    headers = [h for k, h in compare.CATALOGUE_LABELS.items() if "gmacs" in k]
    assert headers == ["GMACs (papers' convention)", "GMACs (all ops, fvcore)", "GMACs (published, the source's count)"]
    # torchvision's segmentation scores are measured on COCO val2017 with VOC's classes, not on VOC 2012 val.
    for key in ("miou", "pixel_acc"):
        assert "COCO val2017, VOC labels" in compare.CATALOGUE_LABELS[key] and "COCO val2017" in compare.Y_AXES[key].short


def test_mixed_recipes_are_marked_on_the_chart_the_caption_and_the_deltas():
    # Each model's default weights: ResNet-50's IMAGENET1K_V2 (80.9%) beside ResNet-18's V1 (69.8%).
    points = compare.model_points(["resnet18", "resnet50"])
    chart = compare.chart_data(points, x="gmacs", y="acc@1")
    assert "Weights: IMAGENET1K_V1 unless marked" in chart.caption and "[V2]" in chart.caption
    fig = compare.accuracy_figure(chart)
    resnets = next(t for t in fig.data if t.name == "ResNet")
    assert list(resnets.marker.symbol) == ["circle", "diamond"]
    assert [t for t in resnets.text if t] == ["ResNet-18", "ResNet-50 [V2]"]
    table = compare.delta_table(points, "resnet18", ["gmacs", "acc@1"])
    assert [r["weights"] for r in table.rows] == ["IMAGENET1K_V1", "IMAGENET1K_V2"]
    assert "ResNet-18 (IMAGENET1K_V1)" in table.caption


def test_like_for_like_uses_the_shared_recipe_wherever_a_model_has_it():
    choice = compare.choose_weights(["resnet18", "resnet50", "efficientnet_lite0"])
    assert choice.common == "IMAGENET1K_V1"
    assert choice.names == ["resnet18", "resnet50.IMAGENET1K_V1", "efficientnet_lite0"]  # Lite0 has only its own
    assert "IMAGENET1K_V1" in choice.rule and "otherwise its default" in choice.rule
    (r18, r50, _) = compare.model_points(choice.specs)
    # The published numbers of the recipes (torchvision's metadata): V1 76.13 vs V2 80.858.
    assert r50.value("acc@1") == get_spec("resnet50.IMAGENET1K_V1").metrics["acc@1"].value == 76.13
    assert r50.value("acc@1") - r18.value("acc@1") == pytest.approx(76.13 - 69.758)
    assert r50.value("gmacs") is not None  # the architecture's count serves every weights of it
    # The user's choice wins over the rule; a name that says its weights keeps them; the rule can be switched off.
    assert compare.choose_weights(["resnet18", "resnet50"], {"resnet50": "IMAGENET1K_V2"}).names == ["resnet18", "resnet50"]
    assert compare.choose_weights(["resnet50.IMAGENET1K_V1"]).names == ["resnet50.IMAGENET1K_V1"]
    assert compare.choose_weights(["resnet18", "resnet50"], like_for_like=False).names == ["resnet18", "resnet50"]
    with pytest.raises(InvalidInputError, match="IMAGENET1K_V1, IMAGENET1K_V2|IMAGENET1K_V2, IMAGENET1K_V1"):
        compare.choose_weights(["resnet50"], {"resnet50": "V9"})
