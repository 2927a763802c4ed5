"""LeNet-5 against LeCun et al. 1998, Sec. II-B: map sizes, C3's connection table, parameter counts."""

import torch

from cvcore.models.lenet import C3_CONNECTIONS, LeNet5

# Trainable parameters per layer as stated in Sec. II-B of the paper.
PAPER_PARAMS = {"c1": 156, "s2": 12, "c3": 1516, "s4": 32, "c5": 48120, "f6": 10164}


def test_parameters_per_layer_match_the_paper():
    model = LeNet5()
    measured = {name: sum(p.numel() for p in child.parameters()) for name, child in model.named_children()}
    assert {k: measured[k] for k in PAPER_PARAMS} == PAPER_PARAMS
    assert measured["output"] == 0  # RBF parameter vectors are fixed, not trained


def test_map_sizes():
    model = LeNet5().eval()
    x = torch.randn(1, 1, 32, 32)
    c1 = model.c1(x)
    s2 = model.s2(c1)
    c3 = model.c3(s2)
    s4 = model.s4(c3)
    c5 = model.c5(s4)
    assert [tuple(t.shape[1:]) for t in (c1, s2, c3, s4, c5)] == [(6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (120, 1, 1)]


def test_c3_connection_table():
    sizes = [len(c) for c in C3_CONNECTIONS]
    assert sizes == [3] * 6 + [4] * 9 + [6]
    assert len(set(C3_CONNECTIONS)) == 16  # every C3 map sees a different subset of S2


def test_rgb_and_grayscale_inputs():
    torch.manual_seed(0)
    model = LeNet5().eval()
    with torch.no_grad():
        gray = model(torch.randn(2, 1, 32, 32))
        rgb = model(torch.randn(2, 3, 32, 32))
    assert gray.shape == rgb.shape == (2, 10)
    assert (gray <= 0).all()  # negated squared distances to the RBF codes
