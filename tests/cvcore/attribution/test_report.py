"""explain_photo: everything the page and CLI show, in one call; random baselines shared per resolution."""

import pytest
from PIL import Image

from cvcore.attribution import explain_photo
from cvcore.errors import InvalidInputError
from cvcore.registry import build_model, get_spec


@pytest.fixture(scope="module")
def lite():
    return build_model("efficientnet_lite0"), get_spec("efficientnet_lite0")  # random init: mechanics only


def test_maps_curves_baselines_and_progress(lite):
    model, spec = lite
    photo = Image.new("RGB", (300, 260), (120, 80, 40))
    calls = []
    baselines = {}
    report = explain_photo(
        model, spec, photo, ["saliency", "grad_cam", "guided_backprop"], target=7, curve_steps=2, random_maps=1,
        progress=lambda f, label: calls.append((f, label)), baselines=baselines,
    )  # fmt: skip
    assert report.target == 7 and report.target_label == spec.categories[7] and report.image.shape == (224, 224, 3)
    assert [r.attribution.method for r in report.results] == ["saliency", "grad_cam", "guided_backprop"]
    assert set(baselines) == {(224, 224), (7, 7)}  # one random baseline per map resolution
    assert report.result("saliency").random is report.result("guided_backprop").random is baselines[(224, 224)]
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any("random-map baseline" in label for _, label in calls)
    again = explain_photo(model, spec, photo, ["saliency"], target=7, curve_steps=2, random_maps=1, baselines=baselines)
    assert again.result("saliency").random is baselines[(224, 224)]  # reused, not recomputed


def test_without_curves_and_bad_requests(lite):
    model, spec = lite
    photo = Image.new("RGB", (64, 64))
    report = explain_photo(model, spec, photo, ["grad_cam"], curves=False)
    assert report.results[0].faithfulness is None and report.results[0].random is None
    assert report.target == report.classification.top1.index
    with pytest.raises(InvalidInputError, match="at least one"):
        explain_photo(model, spec, photo, [])
    with pytest.raises(InvalidInputError, match="out of range"):
        explain_photo(model, spec, photo, ["saliency"], target=1000, curves=False)
