import numpy as np
import pytest
import torch

from cvcore.attribution import SegmentationClassScore, explain_segmentation
from cvcore.errors import InvalidInputError
from cvcore.registry import build_model

from .conftest import flags, hooks_left


@pytest.fixture(scope="module")
def segmenter():
    torch.manual_seed(0)
    return build_model("lraspp_mobilenet_v3_large")  # random init: the recipe, not the accuracy


def test_class_score_is_the_summed_logit_over_its_predicted_pixels(segmenter):
    inputs = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    scorer = SegmentationClassScore(segmenter, inputs)
    with torch.no_grad():
        logits = segmenter(inputs)["out"][0]  # (K, H, W)
        scores = scorer(inputs)[0]
    predicted = logits.argmax(0)
    for k in scorer.present_classes():
        torch.testing.assert_close(scores[k], logits[k][predicted == k].sum())
    assert scores.shape == (logits.shape[0],)


@pytest.mark.parametrize("method", ["saliency", "grad_cam"])
def test_explain_segmentation_leaves_the_model_clean(segmenter, method):
    inputs = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    target = SegmentationClassScore(segmenter, inputs).present_classes()[0]
    before = flags(segmenter)
    result = explain_segmentation(segmenter, inputs, method, target)
    assert result.values.shape == (64, 64) and np.isfinite(result.values).all()
    assert hooks_left(segmenter) == [] and flags(segmenter) == before
    if method == "grad_cam":
        assert result.layer.startswith("model.backbone.")


def test_absent_class_is_a_clear_error(segmenter):
    inputs = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    present = SegmentationClassScore(segmenter, inputs).present_classes()
    absent = next(k for k in range(21) if k not in present)
    with pytest.raises(InvalidInputError, match="No pixel is predicted"):
        explain_segmentation(segmenter, inputs, "saliency", absent)
