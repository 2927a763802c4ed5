import pytest
import torchvision
from torchvision.models import get_model_weights, list_models

from cvcore.errors import DuplicateModelError, InvalidInputError, UnknownModelError
from cvcore.models._utils import count_parameters, empty_weights
from cvcore.registry import Task, WeightsKind, get_spec, register
from cvcore.registry import list_models as catalogue

ALL = catalogue()


def test_catalogue_holds_every_torchvision_imagenet_classifier_and_segmenter():
    tv_classifiers = {n for n in list_models(module=torchvision.models) if "IMAGENET1K" in str(get_model_weights(n).DEFAULT)}
    tv_segmenters = set(list_models(module=torchvision.models.segmentation))
    registered_tv = {s.name for s in ALL if s.weights.kind is WeightsKind.TORCHVISION}
    assert len(tv_classifiers) == 80
    assert len(tv_segmenters) == 6
    assert registered_tv == tv_classifiers | tv_segmenters


def test_catalogue_holds_efficientnet_lite_with_bundled_weights():
    lite = {s.name for s in catalogue(family="EfficientNet-Lite")}
    assert lite == {"efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"}
    assert all(get_spec(n).weights.kind is WeightsKind.PACKAGE for n in lite)


def test_unknown_name_lists_close_matches():
    with pytest.raises(UnknownModelError) as err:
        get_spec("resnet5")
    assert "resnet50" in str(err.value) and "resnet5" in str(err.value)
    assert isinstance(err.value, ValueError)


def test_duplicate_registration_raises():
    with pytest.raises(DuplicateModelError, match="resnet18"):
        register(get_spec("resnet18"))


def test_filters():
    seg = catalogue(task="segmentation")
    assert {s.task for s in seg} == {Task.SEGMENTATION} and len(seg) >= 6
    assert all(s.family == "ResNet" for s in catalogue(family="ResNet"))
    with pytest.raises(InvalidInputError, match="detection"):
        catalogue(task="detection")


@pytest.mark.parametrize("spec", ALL, ids=lambda s: s.name)
def test_metadata_is_complete(spec):
    assert spec.display_name and spec.family and spec.paper.title and 1989 <= spec.year <= 2026  # LeNet-5 (1998) is the oldest
    assert spec.input_size[0] >= 32
    if spec.has_weights:
        assert spec.categories and spec.metrics, "trained models carry categories and published metrics"
        assert all(m.source for m in spec.metrics.values())


@pytest.mark.parametrize("spec", ALL, ids=lambda s: s.name)
def test_every_model_builds_with_the_published_parameter_count(spec):
    with empty_weights():
        model = spec.builder()
    params, _ = count_parameters(model)
    if spec.num_params is None:
        assert params > 0
    elif spec.weights.kind is WeightsKind.TORCHVISION:
        assert params == spec.num_params.value  # torchvision's num_params is exact
    else:
        assert abs(params - spec.num_params.value) <= 0.05e6  # published to 0.1 M
