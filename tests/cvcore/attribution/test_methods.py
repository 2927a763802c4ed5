import pytest

from cvcore.attribution import core
from cvcore.attribution.methods import Cost, Sign, get_method, list_methods, method_names
from cvcore.errors import InvalidInputError

EXPECTED = {
    "saliency", "integrated_gradients", "smoothgrad", "gradient_shap",
    "guided_backprop", "grad_cam", "guided_grad_cam", "occlusion",
}  # fmt: skip


def test_registry_holds_exactly_the_issue_methods():
    assert set(method_names()) == EXPECTED


def test_every_method_has_a_runner_and_complete_metadata():
    assert set(core._RUNNERS) == set(method_names())
    for method in list_methods():
        assert method.display_name and method.paper and method.summary
        assert isinstance(method.cost, Cost) and isinstance(method.sign, Sign)
        assert method.captum_class.__module__.startswith("captum.")


def test_long_methods_report_progress():
    assert {m.name for m in list_methods() if m.reports_progress} >= {"integrated_gradients", "occlusion"}


@pytest.mark.parametrize("name", ["Grad-CAM", "grad cam", "GRAD_CAM", " grad-cam "])
def test_lookup_by_display_name_or_spelling(name):
    assert get_method(name).name == "grad_cam"


def test_unknown_method_lists_the_choices():
    with pytest.raises(InvalidInputError, match="choose one of saliency"):
        get_method("lime")


def test_settings_merge_defaults_and_refuse_unknown_keys():
    ig = get_method("integrated_gradients")
    assert ig.settings({"n_steps": 8})["n_steps"] == 8
    assert ig.settings()["internal_batch_size"] == ig.defaults["internal_batch_size"]
    with pytest.raises(InvalidInputError, match="no setting steps"):
        ig.settings({"steps": 8})
