import numpy as np
import pytest
import torch

from cvcore.attribution import first_layer_filters, maximize_class
from cvcore.errors import InvalidInputError
from cvcore.registry import build_model

from .conftest import flags, hooks_left


def test_filter_grid_of_efficientnet_lite():
    model = build_model("efficientnet_lite0")
    grid = first_layer_filters(model, cell=12, padding=1)
    assert grid.layer == "stem.0" and grid.filters == 32 and grid.kernel_size == (3, 3)
    # 32 filters -> 6 columns x 6 rows of 12 px cells with 1 px gaps.
    assert grid.image.shape == (6 * 13 + 1, 6 * 13 + 1, 3) and grid.image.dtype == np.uint8


def test_class_maximisation_raises_the_score_and_leaves_the_model(tiny_net):
    state = {k: v.clone() for k, v in tiny_net.state_dict().items()}
    before = flags(tiny_net)
    fractions = []
    result = maximize_class(
        tiny_net, 1, mean=(0.5,) * 3, std=(0.25,) * 3, size=(32, 32), steps=30, lr=0.1, progress=fractions.append
    )
    assert result.image.shape == (32, 32, 3) and result.image.dtype == np.uint8
    assert len(result.scores) == 30 and np.mean(result.scores[-5:]) > result.scores[0]
    assert fractions[-1] == 1.0 and len(fractions) == 30
    assert hooks_left(tiny_net) == [] and flags(tiny_net) == before
    assert all(torch.equal(v, state[k]) for k, v in tiny_net.state_dict().items())


def test_class_maximisation_is_seeded(tiny_net):
    kwargs = dict(mean=(0.5,) * 3, std=(0.25,) * 3, size=(16, 16), steps=3, seed=7)
    assert np.array_equal(maximize_class(tiny_net, 0, **kwargs).image, maximize_class(tiny_net, 0, **kwargs).image)


def test_class_maximisation_refuses_bad_arguments(tiny_net):
    with pytest.raises(InvalidInputError, match="out of range"):
        maximize_class(tiny_net, 99, mean=(0.5,) * 3, std=(0.25,) * 3, size=(16, 16), steps=1)
    with pytest.raises(InvalidInputError, match="size"):
        maximize_class(tiny_net, 0, mean=(0.5,) * 3, std=(0.25,) * 3, size=(4, 4), steps=1)
