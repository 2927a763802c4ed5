"""Small measurements the papers' tables need: output sizes of named modules, parameter counts.

Shapes are measured on the meta device: the real modules run their real forward code with
torch's shape rules, but no arithmetic, so ResNet-152 or ENet at 512x512 cost milliseconds.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from cvcore.errors import AnalysisError
from cvcore.models._utils import count_parameters, empty_weights


def _first_tensor(output) -> torch.Tensor | None:
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, dict):
        output = list(output.values())
    if isinstance(output, (tuple, list)):
        for item in output:
            found = _first_tensor(item)
            if found is not None:
                return found
    return None


@contextmanager
def _shape_hooks(model: nn.Module, names: Iterable[str], shapes: dict[str, tuple[int, ...]]) -> Iterator[None]:
    """Record the first output shape of each named submodule; hooks always removed."""
    modules = dict(model.named_modules())
    missing = [n for n in names if n not in modules]
    if missing:
        raise AnalysisError(f"{type(model).__name__} has no submodule named {', '.join(missing)}.")
    handles = []

    def make_hook(name: str):
        def hook(_module, _inputs, output):
            tensor = _first_tensor(output)
            if name not in shapes and tensor is not None:
                shapes[name] = tuple(tensor.shape[1:])  # without the batch dimension

        return hook

    try:
        for name in names:
            handles.append(modules[name].register_forward_hook(make_hook(name)))
        yield
    finally:
        for handle in handles:
            handle.remove()


def build_on_meta(builder: Callable[[], nn.Module]) -> nn.Module:
    """The builder's module with every parameter and buffer on the meta device (no memory, no init cost)."""
    with empty_weights():
        model = builder()
    return model.to("meta").eval()


def output_shapes(model: nn.Module, input_size: tuple[int, int], names: Iterable[str]) -> dict[str, tuple[int, ...]]:
    """(C, H, W) output of each named submodule for one ``input_size`` image, measured on meta tensors."""
    names = list(names)
    shapes: dict[str, tuple[int, ...]] = {}
    x = torch.empty(1, 3, *input_size, device="meta")
    try:
        with _shape_hooks(model, names, shapes), torch.no_grad():
            model(x)
    except (RuntimeError, ValueError, TypeError, NotImplementedError) as exc:
        raise AnalysisError(
            f"Could not run {type(model).__name__} at {input_size[0]}x{input_size[1]} on the meta device: {exc}"
        ) from exc
    return shapes


def parameter_count(builder: Callable[[], nn.Module]) -> int:
    """Total parameters of a freshly built module, built on the meta device (cheap for VGG's 138 M)."""
    return count_parameters(build_on_meta(builder))[0]


@functools.cache
def catalogue_complexity(name: str):
    """(Complexity, precomputed?) of a catalogue model at its default input size.

    The stored ``assets/analysis.json`` is used when it has the model (instant), else fvcore
    runs now (seconds for ResNet-152 on a CPU) and the result is cached for the process.
    """
    from cvcore.analysis import analyze_complexity, load_precomputed

    stored = load_precomputed().get(name)
    if stored is not None:
        return stored, True
    return analyze_complexity(name, device="cpu"), False


def measured_how(complexity, precomputed: bool) -> str:
    h, w = complexity.input_size
    origin = "precomputed assets/analysis.json" if precomputed else "measured now"
    return f"multiply-adds in the papers' convention (fvcore: conv, linear, matmul, attention) of cvcore's {complexity.name} at {h}x{w} ({origin})"
