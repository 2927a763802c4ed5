import pytest
import torch

from cvcore.device import describe_device, resolve_device
from cvcore.errors import InvalidInputError


def test_default_is_cuda_when_available_else_cpu(monkeypatch):
    monkeypatch.delenv("CVLENS_DEVICE", raising=False)
    assert resolve_device().type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_environment_and_argument_override(monkeypatch):
    monkeypatch.setenv("CVLENS_DEVICE", "cpu")
    assert resolve_device() == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")


def test_bad_device_is_a_typed_error(monkeypatch):
    with pytest.raises(InvalidInputError, match="Unknown device"):
        resolve_device("gpu-please")
    if not torch.cuda.is_available():
        with pytest.raises(InvalidInputError, match="CUDA is not available"):
            resolve_device("cuda")


def test_model_device_falls_back_to_buffers_then_cpu():
    import torch
    from torch import nn

    from cvcore.device import model_device

    assert model_device(nn.Linear(2, 2)) == torch.device("cpu")
    assert model_device(nn.BatchNorm2d(2, affine=False)) == torch.device("cpu")  # buffers only
    assert model_device(nn.ReLU()) == torch.device("cpu")  # nothing at all: no StopIteration


def test_describe_device_names_what_resolve_device_picks(monkeypatch):
    monkeypatch.setenv("CVLENS_DEVICE", "cpu")
    assert describe_device() == "CPU"
    monkeypatch.setenv("CVLENS_DEVICE", "not-a-device")
    assert "not-a-device" in describe_device()  # the sidebar shows the mistake instead of crashing
    if torch.cuda.is_available():
        assert describe_device("cuda").startswith("CUDA — ")
