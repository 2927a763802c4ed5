"""One colour per model family on every chart, whatever subset is plotted."""

from cvcore import compare
from cvcore.palette import FAMILY_COLORS, METHOD_COLORS, family_color, method_color
from cvcore.registry import list_models


def test_every_family_and_method_has_its_own_colour():
    families = {s.family for s in list_models(metadata_only=True)}
    assert families <= set(FAMILY_COLORS), sorted(families - set(FAMILY_COLORS))
    assert len(set(FAMILY_COLORS.values())) == len(FAMILY_COLORS)
    from cvcore.attribution.methods import list_methods

    assert {m.name for m in list_methods()} <= set(METHOD_COLORS) and len(set(METHOD_COLORS.values())) == len(METHOD_COLORS)
    # A family (or method) not listed gets the same colour every time, and none of the listed ones.
    assert family_color("NewNet") == family_color("NewNet") and family_color("NewNet") not in FAMILY_COLORS.values()
    assert method_color("new_method") not in METHOD_COLORS.values()


def _trace_colours(names):
    chart = compare.chart_data(compare.model_points(names), "gmacs", "acc@1")
    return {t.name: t.marker.color for t in compare.accuracy_figure(chart).data if t.mode == "markers+text"}


def test_a_family_keeps_its_colour_whatever_else_is_plotted():
    # Before, colours followed the order families were drawn in: MobileNetV2 was red on one chart, light blue on the next.
    few = _trace_colours(["mobilenet_v2", "resnet18"])
    many = _trace_colours(["alexnet", "vgg16", "googlenet", "mobilenet_v2", "mobilenet_v3_large", "resnet18", "efficientnet_b0"])
    assert few["MobileNetV2"] == many["MobileNetV2"] == family_color("MobileNetV2")
    assert few["ResNet"] == many["ResNet"] == family_color("ResNet")
