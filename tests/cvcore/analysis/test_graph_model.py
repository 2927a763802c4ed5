"""Stored graphs: the default model's graph in assets/graphs.json.gz is what tracing gives now, read without torch."""

import pytest

from cvcore.analysis import graph as graph_module
from cvcore.analysis.graph import catalogue_graph
from cvcore.analysis.graph_model import STORED_GRAPHS, graph_from_dict, graph_to_dict, load_graph, stored_graph
from cvcore.analysis.stages import architecture
from cvcore.registry import get_spec


@pytest.mark.parametrize("name", STORED_GRAPHS)
def test_stored_graph_equals_a_fresh_trace(name):
    """Fails when tracing or the stored analysis change without `python -m cvcore analyze NAME --write`."""
    spec = get_spec(name)
    traced = catalogue_graph(spec)
    assert stored_graph(name, spec.input_size) == traced
    assert graph_from_dict(graph_to_dict(traced)) == traced


def test_load_graph_reads_the_stored_one_and_traces_anything_else(monkeypatch):
    spec = get_spec(STORED_GRAPHS[0])
    calls = []
    real = graph_module.catalogue_graph
    monkeypatch.setattr(graph_module, "catalogue_graph", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    stored = load_graph(spec, spec.input_size, architecture(spec.name))
    assert calls == [] and stored.input_size == spec.input_size
    other = (160, 160)
    traced = load_graph(spec, other, architecture(spec.name, other))
    assert calls == [other] and traced.input_size == other and traced.nodes[-1].output_shape == stored.nodes[-1].output_shape
    assert stored_graph(spec.name, other) is None


def test_analyze_write_stores_the_graph_beside_the_analysis(tmp_path):
    """`python -m cvcore analyze NAME --write` (precompute_catalogue) regenerates the stored graph with the analysis."""
    from cvcore.analysis.graph_model import _stored
    from cvcore.analysis.precomputed import precompute_catalogue

    name = STORED_GRAPHS[0]
    failures = precompute_catalogue([name], summary_path=tmp_path / "analysis.json", layers_path=tmp_path / "layers.json.gz")
    assert failures == {}
    written = _stored(tmp_path / "graphs.json.gz")["models"][name]
    assert graph_from_dict(written) == stored_graph(name, get_spec(name).input_size)
