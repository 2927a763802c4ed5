import pytest
import torch
from PIL import Image

from cvcore.classify import classify, resolve_target, top_k
from cvcore.errors import InvalidInputError
from cvcore.registry import get_spec
from cvcore.samples import get_sample
from cvcore.weights import load_model


def test_top_k_sorted_with_labels_and_softmax_probabilities():
    logits = torch.tensor([[0.0, 3.0, 1.0, 2.0]])
    top = top_k(logits, ("a", "b", "c", "d"), k=3)
    assert [p.label for p in top] == ["b", "d", "c"] and [p.index for p in top] == [1, 3, 2]
    assert top[0].prob == pytest.approx(float(logits.softmax(1)[0, 1]))
    assert len(top_k(logits, ("a", "b", "c", "d"), k=10)) == 4
    with pytest.raises(InvalidInputError, match="class names"):
        top_k(logits, ("a", "b"), k=1)


def test_classify_the_bundled_cat_with_efficientnet_lite0():
    spec = get_spec("efficientnet_lite0")
    model = load_model(spec.name, device="cpu")
    result = classify(model, Image.open(get_sample("chelsea").path).convert("RGBA"), spec)
    probs = [p.prob for p in result.predictions]
    assert len(result.predictions) == 5 and probs == sorted(probs, reverse=True) and sum(probs) <= 1.0 + 1e-6
    assert "cat" in result.top1.label and result.top1.label == spec.categories[result.top1.index]
    assert result.inputs.shape == (1, 3, 224, 224) and result.latency_ms > 0


def test_classify_refuses_segmentation_models():
    spec = get_spec("lraspp_mobilenet_v3_large")
    with pytest.raises(InvalidInputError, match="not a classifier"):
        classify(torch.nn.Identity(), Image.new("RGB", (8, 8)), spec)


def test_resolve_target():
    categories = ("tabby", "tiger cat", "Persian cat", "dog")
    assert resolve_target(categories, 3) == 3
    assert resolve_target(categories, "2") == 2
    assert resolve_target(categories, "Tiger Cat") == 1
    assert resolve_target(categories, "dog") == 3
    assert resolve_target(categories, "pers") == 2
    with pytest.raises(InvalidInputError, match="several classes"):
        resolve_target(categories, "cat")
    with pytest.raises(InvalidInputError, match="out of range"):
        resolve_target(categories, 4)
    with pytest.raises(InvalidInputError, match="No class named"):
        resolve_target(categories, "zebra")
