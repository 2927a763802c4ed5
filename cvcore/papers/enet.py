"""Paszke et al. 2016 (ENet): Table 1's output size and type of every block, measured on cvcore's ENet.

Sizes come from a 512x512 forward pass on the meta device (shapes only); types are read
off the built modules' convolutions (stride, dilation, kernel shape), not off the config.
"""

from __future__ import annotations

import functools

from torch import nn

from cvcore.formatting import format_shape
from cvcore.papers.claims import EXACT, Claim, Measurement
from cvcore.papers.published import ENET_SEEDS, ENET_TABLE1

KEY = "enet"
CITATION = "Paszke et al. 2016"
INPUT_SIZE = (512, 512)
SOURCE = f"{CITATION}, Table 1; course copy: {ENET_SEEDS}"


def module_name(table1_name: str) -> str:
    return table1_name.replace(".", "_")


@functools.cache
def _model():
    from cvcore.models.enet import enet
    from cvcore.papers.measure import build_on_meta

    return build_on_meta(enet)


@functools.cache
def stage_shapes() -> dict[str, tuple[int, ...]]:
    """Table 1 name -> (C, H, W) of cvcore's ENet at 512x512."""
    from cvcore.papers.measure import output_shapes

    names = [module_name(name) for name, _, _ in ENET_TABLE1]
    shapes = output_shapes(_model(), INPUT_SIZE, names)
    return {name: shapes[module_name(name)] for name, _, _ in ENET_TABLE1}


def describe_block(block: nn.Module) -> str:
    """Table 1's "Type" of a built bottleneck, read from its convolutions."""
    convs = [m for m in block.branch if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    projection, middle = convs[0], convs[1:-1]
    if projection.stride == (2, 2) and projection.kernel_size == (2, 2):
        return "downsampling"
    if any(isinstance(m, nn.ConvTranspose2d) for m in middle):
        return "upsampling"
    kernels = [m.kernel_size for m in middle]
    if len(kernels) == 2 and kernels[0][1] == kernels[1][0] == 1 and kernels[0][0] == kernels[1][1]:
        return f"asymmetric {kernels[0][0]}"
    dilation = middle[0].dilation[0]
    return f"dilated {dilation}" if dilation > 1 else ""


def _measure_size(name: str) -> Measurement:
    shape = stage_shapes()[name]
    how = "output of cvcore's ENet module at 512x512 (meta device)"
    if name == "fullconv":
        classes = _model().fullconv.out_channels
        text = format_shape(shape)
        if shape[0] == classes:
            return Measurement("Cx" + format_shape(shape, drop_batch=True), how, f"C = {classes} (Cityscapes classes); measured {text}.")
        return Measurement(text, how)
    return Measurement(format_shape(shape), how)


def _measure_type(name: str) -> Measurement:
    return Measurement(describe_block(getattr(_model(), module_name(name))), "read from the built block's convolutions")


def claims() -> tuple[Claim, ...]:
    rows: list[Claim] = []
    for name, kind, size in ENET_TABLE1:
        note = "Stage 3 repeats section 2 without bottleneck2.0 (Table 1)." if name.startswith("bottleneck3") else ""
        rows.append(Claim(KEY, "Table 1", f"{name} output size", size, "CxHxW at 512x512 input", SOURCE,
                          functools.partial(_measure_size, name), EXACT, note))  # fmt: skip
        if kind:
            rows.append(Claim(KEY, "Table 1", f"{name} type", kind, "block type", SOURCE,
                              functools.partial(_measure_type, name), EXACT, note))  # fmt: skip
    return tuple(rows)
