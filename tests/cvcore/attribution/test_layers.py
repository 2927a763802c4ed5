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
