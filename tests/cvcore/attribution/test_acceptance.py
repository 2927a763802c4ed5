"""Acceptance on a real photo: EfficientNet-Lite0 (bundled trained weights) on the bundled cat.

Top-1 must be a cat class, and for Grad-CAM and Integrated Gradients (default settings,
224 px) the deletion AUC must be lower than that of random maps of the same resolution
(fixed seed, three maps averaged), on curves of 16 pixel shares.
"""

import pytest
from PIL import Image

from cvcore.attribution import explain_photo
from cvcore.registry import get_spec
from cvcore.samples import get_sample
from cvcore.weights import load_model

CAT_CLASSES = {281, 282, 283, 284, 285}  # tabby, tiger cat, Persian, Siamese, Egyptian cat


@pytest.fixture(scope="module")
def report():
    spec = get_spec("efficientnet_lite0")
    model = load_model(spec.name, device="cpu")
    image = Image.open(get_sample("chelsea").path)
    return explain_photo(model, spec, image, ["grad_cam", "integrated_gradients"], random_maps=3, curve_steps=16, seed=0)


def test_top1_is_a_cat(report):
    assert report.classification.top1.index in CAT_CLASSES
    assert report.target == report.classification.top1.index
    assert report.image.shape == (224, 224, 3)


@pytest.mark.parametrize("method", ["grad_cam", "integrated_gradients"])
def test_deletion_auc_beats_random_maps(report, method):
    result = report.result(method)
    assert result.random.maps == 3
    assert result.faithfulness.deletion_auc < result.random.deletion_auc, (
        f"{method}: deletion AUC {result.faithfulness.deletion_auc:.3f} vs random {result.random.deletion_auc:.3f}"
    )


def test_integrated_gradients_adds_up_to_the_score_difference(report):
    # At the old default (Captum's IG, 32 equal steps) the map summed to 12.70 against f(x) - f(0) = 9.25.
    completeness = report.result("integrated_gradients").attribution.completeness
    assert completeness.within_tolerance, completeness.describe()
    assert completeness.output_difference == pytest.approx(9.25, abs=0.01)
