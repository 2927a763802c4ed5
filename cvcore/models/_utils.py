"""Helpers shared by the model families."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn

_EMPTY = threading.local()  # per thread: how many empty_weights() blocks it is inside
_PATCH_LOCK = threading.Lock()
_patch_users = 0
_original_register_parameter = nn.Module.register_parameter


def _register_parameter(module: nn.Module, name: str, param: nn.Parameter | None) -> None:
    _original_register_parameter(module, name, param)
    if param is not None and getattr(_EMPTY, "depth", 0):
        module._parameters[name] = nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)


@contextmanager
def empty_weights() -> Iterator[None]:
    """Build modules with parameters on the meta device: shapes only, no memory, no init cost.

    ``torch.device("meta")`` as a context breaks builders that compute with tensors while
    constructing (RegNet's block widths), so only parameters are moved, as they register.
    Only the calling thread builds on meta: ``nn.Module.register_parameter`` is patched while
    any thread is inside, but the patch moves nothing for threads outside (a dashboard session
    loading trained weights at the same time gets real parameters).
    """
    global _patch_users
    with _PATCH_LOCK:
        if _patch_users == 0:
            nn.Module.register_parameter = _register_parameter
        _patch_users += 1
    _EMPTY.depth = getattr(_EMPTY, "depth", 0) + 1
    try:
        yield
    finally:
        _EMPTY.depth -= 1
        with _PATCH_LOCK:
            _patch_users -= 1
            if _patch_users == 0:
                nn.Module.register_parameter = _original_register_parameter


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(total, trainable) parameter counts; shared parameters counted once."""
    params = {id(p): p for p in model.parameters()}.values()
    return sum(p.numel() for p in params), sum(p.numel() for p in params if p.requires_grad)
