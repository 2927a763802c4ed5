"""Layout and drawings of the topology graph: boxes do not overlap, edges join what they say, files parse."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import pytest
from PIL import Image

from cvcore.analysis.graph import catalogue_graph
from cvcore.analysis.graph_layout import layout
from cvcore.analysis.graph_render import build_scene, export_graph, graph_bytes, graph_figure
from cvcore.analysis.graph_view import fold
from cvcore.errors import InvalidInputError
from cvcore.registry import get_spec
from cvcore.storage import StorageError

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def views():
    return {
        "resnet18": fold(catalogue_graph(get_spec("resnet18")), 3),
        "unet": fold(catalogue_graph(get_spec("unet")), 2),
        "googlenet": fold(catalogue_graph(get_spec("googlenet")), 2),  # four parallel branches per block
    }


@pytest.mark.parametrize("name", ["resnet18", "unet", "googlenet"])
def test_boxes_do_not_overlap_and_edges_join_their_nodes(views, name):
    view = views[name]
    lay = layout(view)
    boxes = list(lay.boxes.values())
    assert len(boxes) == len(view.nodes)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            apart_x = abs(a.x - b.x) >= (a.width + b.width) / 2
            apart_y = abs(a.y - b.y) >= (a.height + b.height) / 2
            assert apart_x or apart_y, (a.id, b.id)
        assert 0 <= a.x - a.width / 2 and a.x + a.width / 2 <= lay.width and 0 <= a.top and a.bottom <= lay.height
    for route in lay.routes:
        src, dst = lay.boxes[route.source], lay.boxes[route.target]
        (x0, y0), (x1, y1) = route.points[0], route.points[-1]
        assert y0 == pytest.approx(src.bottom) and abs(x0 - src.x) <= src.width / 2
        assert y1 == pytest.approx(dst.top) and abs(x1 - dst.x) <= dst.width / 2
        assert all(y0 <= y <= y1 for _, y in route.points)  # always downwards: data flows top to bottom


def test_a_lane_never_crosses_a_box_it_passes(views):
    lay = layout(views["unet"])
    for route in (r for r in lay.routes if len(r.points) == 4):  # skips: down, along a lane, into the target
        lane_x, top, bottom = route.points[1][0], route.points[1][1], route.points[2][1]
        for box in lay.boxes.values():
            if box.top < bottom and top < box.bottom:
                assert abs(lane_x - box.x) >= box.width / 2, (route.source, route.target, box.id)


def test_the_main_path_of_resnet_stays_straight(views):
    lay = layout(views["resnet18"])
    xs = {round(lay.boxes[n.id].x) for n in views["resnet18"].nodes if n.title.startswith(("layer1.", "conv1", "maxpool"))}
    assert len(xs) == 1


def test_svg_png_dot_and_json_exports(views, tmp_path):
    view = views["resnet18"]
    svg = ET.fromstring(graph_bytes([view], "svg"))
    nodes = [g for g in svg.iter(f"{SVG}g") if g.get("data-node")]
    assert {g.get("data-node") for g in nodes} == {n.id for n in view.nodes}
    assert all(g.find(f"{SVG}title") is not None and "multiply-adds" in g.find(f"{SVG}title").text for g in nodes)
    assert "Generated with cvlens" in " ".join(t.text or "" for t in svg.iter(f"{SVG}text"))
    png = Image.open(io.BytesIO(graph_bytes([view], "png")))
    scene = build_scene([view])
    assert png.size == (pytest.approx(round(scene.width * 2), abs=2), pytest.approx(round(scene.height * 2), abs=2))
    dot = graph_bytes([view], "dot").decode()
    assert dot.startswith("digraph") and dot.count(" -> ") == len(view.edges) and dot.count("[label=") == len(view.nodes)
    out = export_graph([view], tmp_path / "net.json")
    assert out.read_text().lstrip().startswith("[") and '"residual' not in out.read_text()


def test_export_refuses_unknown_suffixes_and_missing_folders(views, tmp_path):
    with pytest.raises(InvalidInputError, match=r"\.svg"):
        export_graph([views["resnet18"]], tmp_path / "net.pdf")
    with pytest.raises(StorageError, match="does not exist"):
        export_graph([views["resnet18"]], tmp_path / "missing" / "net.svg")
    assert list(tmp_path.iterdir()) == []


def test_plotly_figure_carries_every_node_for_hover_and_click(views):
    view = views["unet"]
    fig = graph_figure([view])
    hover = [t for t in fig.data if t.name == "nodes"]
    assert len(hover) == 1 and list(hover[0].customdata) == [n.id for n in view.nodes]
    assert all("receptive field" in text and "GMACs" in text for text in hover[0].hovertext)
    assert fig.layout.yaxis.scaleanchor == "x"  # boxes keep their proportions: text fits at every zoom


def test_two_views_side_by_side_do_not_overlap(views):
    one, two = build_scene([views["unet"]]), build_scene([views["unet"], views["resnet18"]])
    assert two.width > one.width + 300
    ids = [r.node_id for r in two.rects if r.node_id]
    assert len(ids) == len(views["unet"].nodes) + len(views["resnet18"].nodes)
