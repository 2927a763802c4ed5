"""Which layers of a graph an effective receptive field can be asked for, without torch (the Architecture page
lists them before anything runs); :mod:`cvcore.analysis.erf` computes the fields and re-exports these names."""

from __future__ import annotations

from cvcore.analysis.rows import GLOBAL

MAX_IMAGES = 8  # photos averaged in one call
CITATION = "Luo et al. 2016, Understanding the Effective Receptive Field in Deep Convolutional Neural Networks"


def feature_map_layers(graph) -> list[str]:
    """Modules of a :class:`~cvcore.analysis.graph.ModelGraph` whose output is a (1, C, H, W) feature map:
    the layers whose effective receptive field can be asked for, in execution order."""
    not_called = ("ModuleList", "ModuleDict")  # containers nobody calls: a hook on them never fires
    return [
        path
        for path, node in graph.module_outputs().items()
        if node.output_shape is not None and len(node.output_shape) == 4 and graph.module_classes.get(path) not in not_called
    ]


def default_layer(graph) -> str | None:
    """The last stage (a module at the first level the graph folds to) whose theoretical field still fits
    the input, so its square can be drawn; else the first feature-map stage."""
    from cvcore.analysis.graph_view import fold

    layers = set(feature_map_layers(graph))
    stages = [n.id for n in fold(graph, 1).nodes if n.id in layers and "aux" not in n.id.lower()]
    if not stages:
        return next(iter(feature_map_layers(graph)), None)
    side = min(graph.input_size)
    outputs = graph.module_outputs()
    fitting = [p for p in stages if (rf := outputs[p].receptive_field) and GLOBAL not in rf and max(rf) <= side]
    return fitting[-1] if fitting else stages[0]
