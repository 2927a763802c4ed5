"""Receptive field and cumulative stride (jump) of every tensor in a forward pass.

A ``TorchFunctionMode`` sees every op, including functional ones inside ``forward``
(residual adds, concatenations), so the rule applies to any DAG: convolutions and
pools grow the field by ``(k - 1) * dilation * jump`` and multiply the jump by the
stride; element-wise merges take the largest field of their inputs; global pooling and
attention see the whole input. Adaptive pooling is what its sizes make it: an identity when
the output has the input's size (VGG's and AlexNet's ``avgpool`` at 224 px), a plain pool
when the input divides evenly, global when the output is 1x1. Fields are theoretical (not
clipped to the image), as in the papers (Yu & Koltun 2016, Table 1).
"""

from __future__ import annotations

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves

from cvcore.analysis.rows import GLOBAL, Field  # noqa: F401 (re-exported)

_ATTR = "_cvlens_field"
_CONV = {"conv2d", "conv1d", "_conv_depthwise2d"}
_TRANSPOSED = {"conv_transpose2d"}
_POOL = {"max_pool2d", "avg_pool2d", "max_pool2d_with_indices", "_max_pool2d", "lp_pool2d"}
_ADAPTIVE_POOL = {"adaptive_avg_pool2d", "adaptive_max_pool2d", "adaptive_max_pool2d_with_indices", "_adaptive_max_pool2d"}
_GLOBAL_OPS = {
    "scaled_dot_product_attention",
    "multi_head_attention_forward",
    "softmax",
    "bmm",
    "matmul",
    "einsum",
    "baddbmm",
}
_REDUCTIONS = {"mean", "sum", "amax", "amin", "std", "var", "logsumexp"}
_UPSAMPLE = {"interpolate", "upsample", "upsample_bilinear", "upsample_nearest", "max_unpool2d"}


def _pair(value) -> tuple[int, int]:
    if isinstance(value, (tuple, list)):
        return (int(value[0]), int(value[-1]))
    return (int(value), int(value))


def _arg(args, kwargs, index: int, name: str, default):
    if name in kwargs:
        return kwargs[name]
    return args[index] if len(args) > index else default


def _grow(field: Field, kernel, stride, dilation) -> Field:
    jump = tuple(j * s for j, s in zip(field.jump, stride))
    if field.is_global:  # after squeeze-excitation or attention: the field stays whole, strides still count
        return Field(field.rf, jump)
    rf = tuple(int(r + (k - 1) * d * j) for r, k, d, j in zip(field.rf, kernel, dilation, field.jump))
    return Field(rf, jump)


def _merge(fields: list[Field]) -> Field:
    if any(f.is_global for f in fields):
        return Field((GLOBAL, GLOBAL), max(f.jump for f in fields))
    return Field(tuple(max(f.rf[i] for f in fields) for i in range(2)), tuple(max(f.jump[i] for f in fields) for i in range(2)))


def _name(func) -> str:
    return getattr(func, "__name__", str(func)).removesuffix("_")


def _output_field(func, args, kwargs, inputs: list[Field]) -> Field:
    name = _name(func)
    merged = _merge(inputs)
    if name in _CONV:
        weight = _arg(args, kwargs, 1, "weight", None)
        kernel = tuple(weight.shape[-2:]) if weight.dim() == 4 else (1, weight.shape[-1])
        return _grow(merged, kernel, _pair(_arg(args, kwargs, 3, "stride", 1)), _pair(_arg(args, kwargs, 5, "dilation", 1)))
    if name in _POOL:
        kernel = _pair(_arg(args, kwargs, 1, "kernel_size", 1))
        stride = _arg(args, kwargs, 2, "stride", None)
        dilation = _arg(args, kwargs, 4, "dilation", 1) if "max" in name else 1
        return _grow(merged, kernel, _pair(stride) if stride not in (None, [], ()) else kernel, _pair(dilation))
    if name in _ADAPTIVE_POOL:
        return _adaptive_pool(merged, args, kwargs)
    if name in _TRANSPOSED:
        weight = _arg(args, kwargs, 1, "weight", None)
        stride = _pair(_arg(args, kwargs, 3, "stride", 1))
        up = Field(merged.rf, tuple(j / s for j, s in zip(merged.jump, stride)))
        return _grow(up, tuple(weight.shape[-2:]), (1, 1), _pair(_arg(args, kwargs, 6, "dilation", 1)))
    if name in _GLOBAL_OPS or _mixes_positions(name, args, kwargs):
        return Field((GLOBAL, GLOBAL), merged.jump)
    return merged


def _adaptive_pool(field: Field, args, kwargs) -> Field:
    """Adaptive pooling from (H, W) to (h, w): output i pools rows floor(i*H/h) .. ceil((i+1)*H/h)."""
    x = args[0]
    size = _arg(args, kwargs, 1, "output_size", None)
    size = (size, size) if isinstance(size, int) else tuple(size)
    out = tuple(int(o) if o is not None else int(i) for o, i in zip(size, x.shape[-2:]))
    inp = tuple(int(i) for i in x.shape[-2:])
    if out == inp:
        return field  # each output is one input position: an identity
    if out == (1, 1):
        return Field((GLOBAL, GLOBAL), field.jump)
    # The widest window (equal windows when the sizes divide), and the mean step between windows.
    kernel = tuple(max(-(-(k + 1) * i // o) - (k * i // o) for k in range(o)) for i, o in zip(inp, out))
    stride = tuple(i / o for i, o in zip(inp, out))
    return _grow(field, kernel, stride, (1, 1))


def _mixes_positions(name: str, args, kwargs) -> bool:
    """A reduction over H or W (squeeze-excitation's mean), or flattening C, H and W into features
    (a sequence of positions, as ViT's flatten(2), keeps its fields)."""
    x = args[0] if args and isinstance(args[0], torch.Tensor) else None
    if x is None or x.dim() != 4:
        return False
    if name in _REDUCTIONS:
        dims = _arg(args, kwargs, 1, "dim", None)
        dims = range(4) if dims is None else ([dims] if isinstance(dims, int) else dims)
        return any(d % 4 >= 2 for d in dims)
    if name == "flatten":
        return _arg(args, kwargs, 1, "start_dim", 0) % 4 <= 1 and _arg(args, kwargs, 2, "end_dim", -1) % 4 >= 2
    return False


class ReceptiveFieldTracker(TorchFunctionMode):
    """Tags every tensor derived from the tagged input with its :class:`Field`."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        inputs = [getattr(t, _ATTR) for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor) and hasattr(t, _ATTR)]
        if inputs:
            field = _output_field(func, args, kwargs, inputs)
            for t in tree_leaves(out):
                if isinstance(t, torch.Tensor):
                    try:
                        setattr(t, _ATTR, field)
                    except (AttributeError, RuntimeError):
                        pass
        return out


def tag_input(x: torch.Tensor) -> torch.Tensor:
    setattr(x, _ATTR, Field((1, 1), (1.0, 1.0)))
    return x


def field_of(t) -> Field | None:
    for leaf in tree_leaves(t):
        if isinstance(leaf, torch.Tensor) and hasattr(leaf, _ATTR):
            return getattr(leaf, _ATTR)
    return None
