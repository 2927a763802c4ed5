"""Architecture page: the topology graph (draw, pick a node, unfold, fold back), both graphs side by side,
and the effective receptive field; Papers page: the one-click dilated-convolution example."""

import json
import re

from cvcore.analysis.graph import catalogue_graph
from cvcore.analysis.graph_view import fold
from cvcore.registry import get_spec
from dashboard import state
from dashboard.graph_sections import node_key

PAGE = "app_pages/architecture.py"


def _graph_spec(at, index: int = 0) -> dict:
    return json.loads(at.get("plotly_chart")[index].proto.spec)


def _hover_ids(at, index: int = 0) -> list[str]:
    return next(t["customdata"] for t in _graph_spec(at, index)["data"] if t.get("name") == "nodes")


def _picture_ids(at, index: int = 0) -> list[str]:
    """The nodes of the default picture: the SVG's boxes (in a frame of its own), in drawing order."""
    svg = at.get("iframe")[index].proto.srcdoc
    assert svg.count("<svg") == 1 and "</svg>" in svg
    return re.findall(r'<g data-node="([^"]+)"><title>', svg)


def interactive(at):
    return at.toggle(key=state.ARCH_GRAPH_INTERACTIVE).set_value(True).run()


def test_the_default_picture_has_every_node_and_needs_no_plotly(page_app):
    at = page_app(PAGE)
    assert not at.exception and not at.error
    expected = fold(catalogue_graph(get_spec("resnet18")), 1)
    assert not at.get("plotly_chart")  # plotly's JavaScript would make the first load take seconds
    assert _picture_ids(at) == [n.id for n in expected.nodes]
    at.selectbox(key=node_key("resnet18")).select("layer3").run()
    at.button(key=state.ARCH_GRAPH_UNFOLD).click().run()
    assert not at.exception and {"layer3.0", "layer3.1"} <= set(_picture_ids(at)) and "layer3" not in _picture_ids(at)


def test_graph_is_drawn_with_every_node_and_unfolds_on_demand(page_app):
    at = interactive(page_app(PAGE))
    assert not at.exception and not at.error
    expected = fold(catalogue_graph(get_spec("resnet18")), 1)
    assert _hover_ids(at) == [n.id for n in expected.nodes]
    assert any("8 additions" in c.value for c in at.caption)
    at.selectbox(key=node_key("resnet18")).select("layer3").run()
    assert any("layer3: BasicBlock x 2" in m.value and "GMACs" in m.value for m in at.markdown)
    at.button(key=state.ARCH_GRAPH_UNFOLD).click().run()
    assert not at.exception
    ids = _hover_ids(at)
    assert "layer3" not in ids and {"layer3.0", "layer3.1"} <= set(ids)
    assert at.multiselect(key=state.ARCH_GRAPH_UNFOLDED).value == ["layer3"]
    at.multiselect(key=state.ARCH_GRAPH_UNFOLDED).unselect("layer3").run()
    assert "layer3" in _hover_ids(at)


def test_depth_changes_what_is_drawn_and_survives_a_visit_to_another_page(page_app):
    at = page_app(PAGE)
    at.number_input(key=state.ARCH_GRAPH_DEPTH).set_value(3).run()
    assert not at.exception and len(_picture_ids(at)) == len(fold(catalogue_graph(get_spec("resnet18")), 3).nodes)
    at = interactive(at)
    assert len(_hover_ids(at)) == len(fold(catalogue_graph(get_spec("resnet18")), 3).nodes)
    at.switch_page("app_pages/models.py").run()
    at.switch_page(PAGE).run()
    assert at.number_input(key=state.ARCH_GRAPH_DEPTH).value == 3
    assert at.toggle(key=state.ARCH_GRAPH_INTERACTIVE).value is True and at.get("plotly_chart")


def test_the_diff_draws_both_graphs_and_lists_the_shortcuts(page_app):
    at = page_app(PAGE)
    at.selectbox(key=state.ARCH_DIFF_MODEL).select("plain18").run()
    assert not at.exception and not at.error
    assert len(at.get("iframe")) == 2 and len(_picture_ids(at, 1)) == len(_picture_ids(at, 0)) + len(
        fold(catalogue_graph(get_spec("plain18")), 1).nodes
    )
    at = interactive(at)
    assert len(at.get("plotly_chart")) == 2
    one = len(fold(catalogue_graph(get_spec("resnet18")), 1).nodes)
    assert len(_hover_ids(at, 1)) == one + len(fold(catalogue_graph(get_spec("plain18")), 1).nodes)
    table = at.dataframe[-2].value  # before the stage-by-stage diff
    adds = table[table.iloc[:, 0].str.startswith("add")]
    assert int(adds.iloc[:, 3].sum()) == -8  # plain-18 - ResNet-18: the 8 residual additions


def test_effective_receptive_field_is_computed_on_request(page_app):
    at = page_app(PAGE)
    at.number_input(key=state.ARCH_INPUT_H).set_value(64).run()
    at.number_input(key=state.ARCH_INPUT_W).set_value(64).run()
    at.multiselect(key=state.ARCH_ERF_SAMPLES).set_value(["chelsea.png"]).run()
    at.selectbox(key=state.ARCH_ERF_LAYER).select("layer1").run()
    assert not at.exception and not at.get("plotly_chart")  # nothing computed before the click (the graph: a picture)
    at.button(key=state.ARCH_ERF_RUN).click().run()
    assert not at.exception and not at.error
    assert len(at.get("plotly_chart")) == 1
    numbers = at.dataframe[-1].value
    assert numbers["theoretical RF (px)"].iloc[0] == "43" and numbers["images"].iloc[0] == 1
    assert any("random initialisation only" in c.value for c in at.caption)


def test_papers_dilated_table_has_a_one_click_gridding_example(page_app):
    at = page_app("app_pages/papers.py")
    at.selectbox(key=state.PAPERS_PAPER).select("dilated").run()
    at.button(key=state.PAPERS_ERF_RUN).click().run()
    assert not at.exception and not at.error
    table = next(d.value for d in at.dataframe if "gridding: lattice period (px)" in d.value.columns)
    periods = list(table["gridding: lattice period (px)"])
    assert periods[1] == 2 and periods[0] != periods[0] and periods[2] != periods[2]  # NaN: no lattice
