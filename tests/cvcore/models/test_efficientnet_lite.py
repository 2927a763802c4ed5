"""The bundled EfficientNet-Lite weights are real: check them on real photos."""

import pytest
import torch
from PIL import Image

from cvcore.models.efficientnet_lite import round_filters, scaled_stages
from cvcore.preprocess import to_batch
from cvcore.registry import get_spec
from cvcore.samples import get_sample
from cvcore.weights import WeightState, load_model, weight_status

CAT_CLASSES = {"tabby", "tiger cat", "Egyptian cat", "Persian cat", "Siamese cat"}


@pytest.fixture(scope="module")
def lite0():
    return load_model("efficientnet_lite0", device="cpu")


def top1(model, sample: str) -> str:
    spec = get_spec("efficientnet_lite0")
    with torch.inference_mode():
        logits = model(to_batch(Image.open(get_sample(sample).path), spec))
    return spec.categories[int(logits.argmax())]


def test_weights_are_bundled_offline():
    for variant in (0, 1, 2):
        status = weight_status(f"efficientnet_lite{variant}")
        assert status.state is WeightState.BUNDLED and status.path.is_file()


def test_chelsea_is_a_cat(lite0):
    assert top1(lite0, "chelsea") in CAT_CLASSES


def test_coffee_is_espresso(lite0):
    assert top1(lite0, "coffee") == "espresso"


def test_lite_scaling_keeps_stem_and_head_fixed():
    stages = scaled_stages(width=1.1, depth=1.2)  # Lite2
    assert stages[0].in_ch == 32 and stages[0].repeats == 1 and stages[-1].repeats == 1
    assert [s.repeats for s in stages[1:-1]] == [3, 3, 4, 4, 5]
    assert round_filters(320, 1.1) == 352
