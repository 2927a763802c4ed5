"""Every registered method: shape, finiteness, and the shared model left exactly as it was."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from cvcore.attribution import explain, method_names
from cvcore.attribution.isolation import shadow_copy
from cvcore.errors import InvalidInputError
from cvcore.registry import build_model

from .conftest import FAST_SETTINGS, flags, hooks_left


@pytest.mark.parametrize("name", method_names())
def test_method_output_and_no_trace_on_the_model(tiny_net, name):
    inputs = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    before_inputs = inputs.clone()
    before = flags(tiny_net)
    state = {k: v.clone() for k, v in tiny_net.state_dict().items()}
    fractions = []
    result = explain(tiny_net, inputs, name, 2, settings=FAST_SETTINGS.get(name), progress=fractions.append)
    assert result.values.shape == (32, 32) and result.values.dtype == np.float32
    assert np.isfinite(result.values).all()
    assert np.abs(result.values).sum() > 0
    assert result.time_ms > 0 and result.target == 2 and result.method == name
    assert fractions and fractions[-1] == 1.0
    assert hooks_left(tiny_net) == []
    assert flags(tiny_net) == before
    assert all(torch.equal(v, state[k]) for k, v in tiny_net.state_dict().items())
    assert torch.equal(inputs, before_inputs) and not inputs.requires_grad


@pytest.mark.parametrize("name", method_names())
def test_no_hooks_left_after_an_exception_mid_method(tiny_net, name):
    tiny_net.fail_after_features = True  # raises after the Grad-CAM layer's hook fired
    before = flags(tiny_net)
    with pytest.raises(RuntimeError, match="boom"):
        explain(tiny_net, torch.randn(1, 3, 32, 32), name, 0, layer="features", settings=FAST_SETTINGS.get(name))
    assert hooks_left(tiny_net) == []
    assert flags(tiny_net) == before


def test_model_in_train_mode_stays_in_train_mode(tiny_net):
    tiny_net.train()
    explain(tiny_net, torch.randn(1, 3, 32, 32), "saliency", 0)
    assert all(m.training for m in tiny_net.modules())


@pytest.mark.parametrize("name", method_names())
def test_efficientnet_lite_every_method_leaves_no_hooks(name):
    model = build_model("efficientnet_lite0")  # random init; only the mechanics are tested here
    before = flags(model)
    result = explain(model, torch.randn(1, 3, 64, 64), name, 3, family="EfficientNet-Lite", settings=FAST_SETTINGS.get(name))
    assert result.values.shape == (64, 64) and np.isfinite(result.values).all()
    assert hooks_left(model) == [] and flags(model) == before
    if name in ("grad_cam", "guided_grad_cam"):
        assert result.layer == "head"
    if name == "grad_cam":
        assert result.resolution == (2, 2)  # the head's 1/32 grid of a 64 px input


def test_guided_backprop_reaches_relu6():
    """Captum only hooks nn.ReLU; the copy's ReLU6s are swapped so the guided rule applies on EfficientNet-Lite."""
    from cvcore.weights import load_model

    model = load_model("efficientnet_lite0", device="cpu")
    inputs = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    guided = explain(model, inputs, "guided_backprop", 3).values
    plain = explain(model, inputs, "saliency", 3, settings={"abs": False}).values
    assert np.abs(plain).max() > 0
    assert np.abs(guided - plain).max() > 0.1 * np.abs(plain).max()
    assert not any(type(m).__name__ == "GuidedReLU6" for m in model.modules())


def test_shadow_copy_shares_weights_and_folding_keeps_outputs(tiny_net):
    inputs = torch.randn(2, 3, 32, 32)
    copy = shadow_copy(tiny_net, fold_batchnorm=True)
    assert copy.features[0].weight.data_ptr() != tiny_net.features[0].weight.data_ptr()  # folded: new tensor
    plain = shadow_copy(tiny_net)
    assert plain.fc.weight.data_ptr() == tiny_net.fc.weight.data_ptr()  # shared storage, no copy
    assert not plain.fc.weight.requires_grad and tiny_net.fc.weight.requires_grad
    with torch.no_grad():
        torch.testing.assert_close(copy(inputs), tiny_net(inputs), atol=1e-5, rtol=1e-4)
    assert isinstance(tiny_net.features[1], torch.nn.BatchNorm2d)  # the original keeps its BN


def test_bad_inputs_are_typed_errors(tiny_net):
    with pytest.raises(InvalidInputError, match="out of range"):
        explain(tiny_net, torch.randn(1, 3, 32, 32), "saliency", 5)
    with pytest.raises(InvalidInputError, match="one image"):
        explain(tiny_net, torch.randn(2, 3, 32, 32), "saliency", 0)
    with pytest.raises(InvalidInputError, match="not in this model"):
        explain(tiny_net, torch.randn(1, 3, 32, 32), "grad_cam", 0, layer="nope")
    with pytest.raises(InvalidInputError, match="no setting"):
        explain(tiny_net, torch.randn(1, 3, 32, 32), "saliency", 0, settings={"n_steps": 3})


def test_four_threads_of_grad_cam_on_one_model_match_serial():
    """Streamlit serves sessions from threads sharing one cached model: hooks must not cross calls.

    Captum's LayerGradCam run directly on the shared model fails this test: a thread's layer
    hook catches another thread's activations ("The differentiated Tensor ... appears to not
    have been used in the graph"); cvcore's per-call copies keep each call's hooks apart.
    """
    from cvcore.weights import load_model

    model = load_model("efficientnet_lite0", device="cpu")
    inputs = torch.randn(1, 3, 128, 128, generator=torch.Generator().manual_seed(0))
    targets = [281, 282, 285, 904]  # a different class per thread: a crossed hook would show
    serial = {t: explain(model, inputs, "grad_cam", t, family="EfficientNet-Lite").values for t in targets}
    assert not np.allclose(serial[281], serial[904])
    results: dict[int, list[np.ndarray]] = {t: [] for t in targets}
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(targets))

    def work(target: int) -> None:
        try:
            barrier.wait()
            for _ in range(2):
                results[target].append(explain(model, inputs, "grad_cam", target, family="EfficientNet-Lite").values)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for target in targets:
        for values in results[target]:
            np.testing.assert_allclose(values, serial[target], rtol=1e-4, atol=1e-6)
    assert hooks_left(model) == []
