"""The Grad-CAM layer of every catalogue classifier resolves to a real, hookable module."""

import pytest
from torch import nn

from cvcore.attribution.layers import default_layer
from cvcore.errors import InvalidInputError
from cvcore.models._utils import empty_weights
from cvcore.registry import Task, list_models

CONV_SPECS = [s for s in list_models(Task.CLASSIFICATION) if s.family not in ("ViT", "Swin", "Swin V2")]


@pytest.mark.parametrize("spec", CONV_SPECS, ids=lambda s: s.name)
def test_default_layer_resolves_for_every_convolutional_classifier(spec):
    with empty_weights():  # shapes only: no memory, no init cost
        model = spec.builder()
    layer = model.get_submodule(default_layer(model, spec.family))
    assert not isinstance(layer, (nn.ModuleList, nn.ModuleDict))  # their hooks would never fire


def test_known_choices():
    with empty_weights():
        from cvcore.registry import get_spec

        lite = get_spec("efficientnet_lite0").builder()
        resnet = get_spec("resnet18").builder()
    assert default_layer(lite, "EfficientNet-Lite") == "head"
    assert default_layer(resnet, "ResNet") == "layer4"


def test_transformers_are_refused_with_a_reason():
    with pytest.raises(InvalidInputError, match="no convolutional feature map"):
        default_layer(nn.Linear(2, 2), "ViT")


def test_a_layer_without_a_spatial_map_is_refused_with_the_layers_that_have_one(tiny_net):
    import torch

    from cvcore.attribution import explain
    from cvcore.attribution.isolation import modules_with_hooks

    batch = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    for method in ("grad_cam", "guided_grad_cam"):
        with pytest.raises(InvalidInputError) as info:
            explain(tiny_net, batch, method, 0, layer="fc")
        message = str(info.value)
        assert "Layer 'fc' gives a 1x5 output, not a spatial map" in message
        assert "features.5" in message and "features" in message and "pool" not in message  # 1x1 after pooling: not a map
    assert modules_with_hooks(tiny_net) == []  # the shapes were recorded on a copy
    assert explain(tiny_net, batch, "grad_cam", 0, layer="features.2").resolution == (16, 16)
