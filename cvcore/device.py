"""Device selection, in one place: CUDA when available, else CPU; overridable.

Override with the ``device`` argument of any cvcore call or with the environment
variable ``CVLENS_DEVICE`` (for example ``cpu`` or ``cuda:1``).
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from cvcore.errors import InvalidInputError

if TYPE_CHECKING:  # torch is imported by the functions: reading ENV_VAR must not cost seconds
    import torch

ENV_VAR = "CVLENS_DEVICE"
# Device types cvlens runs on: the CPU, NVIDIA/AMD GPUs (torch calls both "cuda"), Apple's and Intel's GPUs.
DEVICE_TYPES = ("cpu", "cuda", "mps", "xpu")
_DEVICE_NAME = re.compile(rf"^({'|'.join(DEVICE_TYPES)})(:\d+)?$")


def check_device_name(name: str) -> str:
    """``name`` if it names a device type cvlens knows (``cpu``, ``cuda``, ``cuda:1``, ...); checked without torch."""
    text = str(name).strip().lower()
    if not _DEVICE_NAME.match(text):
        raise InvalidInputError(f"Unknown device {name!r}: use cpu, cuda or cuda:N (N = the GPU's number), mps or xpu.")
    return text


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """Return the device to run on: the argument, else ``$CVLENS_DEVICE``, else CUDA if present, else CPU."""
    import torch

    requested = device if device is not None else os.environ.get(ENV_VAR) or None
    if requested is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = requested if isinstance(requested, torch.device) else torch.device(check_device_name(requested))
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise InvalidInputError(f"Device {requested!r} was requested but CUDA is not available on this machine.")
    return resolved


def synchronize(device: torch.device) -> None:
    """Wait for queued kernels so that a timer measures the work, not the launch."""
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def model_device(model: torch.nn.Module) -> torch.device:
    """Where ``model`` lives: its first parameter's device, else its first buffer's, else CPU."""
    import torch

    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


def describe_device(device: str | torch.device | None = None) -> str:
    """What :func:`resolve_device` picks, for people: "CPU" or "CUDA — <GPU name> (cuda:0)"."""
    import torch

    try:
        resolved = resolve_device(device)
    except InvalidInputError as exc:
        return str(exc)
    if resolved.type != "cuda":
        return resolved.type.upper()
    return f"CUDA — {torch.cuda.get_device_name(resolved)} ({resolved})"
