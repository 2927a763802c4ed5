"""Small models shared by the attribution tests (CPU, tiny inputs, fixed seeds)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cvcore.attribution.isolation import HOOK_DICTS

# Cheap settings per method: few steps/samples, big occlusion windows.
FAST_SETTINGS = {
    "integrated_gradients": {"n_steps": 4, "internal_batch_size": 4},
    "smoothgrad": {"nt_samples": 2, "nt_samples_batch_size": 2},
    "gradient_shap": {"n_samples": 2},
    "occlusion": {"window": 16, "stride": 16},
}


class TinyNet(nn.Module):
    """conv-BN-ReLU(inplace) x2, global pool, linear: every kind of layer the methods hook."""

    def __init__(self, classes: int = 5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(inplace=True),
            nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU(inplace=True),
        )  # fmt: skip
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, classes)
        self.fail_after_features = False  # set to make forward raise half-way (after the hooked layer ran)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        if self.fail_after_features:
            raise RuntimeError("boom")
        return self.fc(self.pool(x).flatten(1))


@pytest.fixture
def tiny_net() -> nn.Module:
    torch.manual_seed(0)
    net = TinyNet()
    with torch.no_grad():  # non-trivial running statistics, so BN folding is really exercised
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    return net.eval()


def hooks_left(model: nn.Module) -> list[str]:
    """Every submodule with any hook, or with the backward-hook flag Captum's hooks leave set."""
    return [
        name or "<root>"
        for name, m in model.named_modules()
        if any(getattr(m, d, None) for d in HOOK_DICTS) or getattr(m, "_is_full_backward_hook", None) is not None
    ]


def flags(model: nn.Module) -> tuple[list[bool], list[bool], list[bool]]:
    """(training per module, requires_grad per parameter, .grad is None per parameter)."""
    params = list(model.parameters())
    return [m.training for m in model.modules()], [p.requires_grad for p in params], [p.grad is None for p in params]
