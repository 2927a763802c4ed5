"""Shape measurement on the meta device leaves no hooks behind, also after an error."""

import pytest
import torch
from torch import nn

from cvcore.errors import AnalysisError
from cvcore.papers.dilated import ContextNetwork
from cvcore.papers.measure import build_on_meta, output_shapes, parameter_count
from cvcore.papers.registry import paper_layers


def hooks(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._backward_hooks) for m in model.modules())


def test_output_shapes_on_meta_and_hooks_removed():
    model = build_on_meta(lambda: nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU()))
    assert all(p.device.type == "meta" for p in model.parameters())
    assert output_shapes(model, (32, 48), ["0", "1"]) == {"0": (8, 16, 24), "1": (8, 16, 24)}
    assert hooks(model) == 0


def test_hooks_removed_after_a_failing_forward():
    class Broken(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)

        def forward(self, x):
            return self.conv(x).view(-1, 7, 7, 7)  # impossible reshape

    model = build_on_meta(Broken)
    with pytest.raises(AnalysisError, match="meta device"):
        output_shapes(model, (16, 16), ["conv"])
    assert hooks(model) == 0
    with pytest.raises(AnalysisError, match="no submodule"):
        output_shapes(model, (16, 16), ["nope"])


def test_parameter_count_without_allocating():
    assert parameter_count(lambda: nn.Linear(10, 5)) == 55


def test_context_network_keeps_resolution_and_its_layer_table_has_the_fields():
    with torch.no_grad():
        out = ContextNetwork(channels=4)(torch.randn(1, 4, 40, 40))
    assert out.shape == (1, 4, 40, 40)  # "without losing resolution"
    layers = paper_layers("dilated")
    convs = [r for r in layers.rows if r.type == "Conv2d"]
    assert [r.dilation for r in convs] == [(1, 1), (1, 1), (2, 2), (4, 4), (8, 8), (16, 16), (1, 1), (1, 1)]
    assert convs[-1].receptive_field == (67, 67)
