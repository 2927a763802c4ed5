"""Yu & Koltun 2016: the context network of Table 1 and its receptive fields.

The module is built from the table's kernel and dilation columns; the receptive fields are
then measured by :func:`cvcore.analysis.receptive_fields`, which follows the actual ops.
"""

from __future__ import annotations

import functools

from torch import nn

from cvcore.papers.claims import EXACT, Claim, Measurement
from cvcore.papers.published import CONTEXT_SEEDS, CONTEXT_TABLE1

KEY = "dilated"
CITATION = "Yu & Koltun 2016"
SOURCE = f"{CITATION}, Table 1 (context network); course copy: {CONTEXT_SEEDS}"
INPUT_SIZE = (128, 128)  # fields are theoretical (not clipped), so any size works


class ContextNetwork(nn.Sequential):
    """The basic context module: C maps in and out, 3x3 convs dilated 1, 1, 2, 4, 8, 16, 1, then a 1x1.

    Layers 1-7 are followed by truncation (ReLU, "Truncation: Yes"), layer 8 is not. Padding
    equals the dilation, so resolution is kept ("without losing resolution").
    """

    def __init__(self, channels: int = 21):
        layers = []
        for i, (kernel, dilation, _) in enumerate(CONTEXT_TABLE1, start=1):
            conv = nn.Conv2d(channels, channels, kernel, padding=dilation * (kernel // 2), dilation=dilation)
            layers.append(nn.Sequential(conv, nn.ReLU()) if i < len(CONTEXT_TABLE1) else nn.Sequential(conv))
        super().__init__(*layers)


def layer_names() -> list[str]:
    return [str(i) for i in range(len(CONTEXT_TABLE1))]


@functools.cache
def measured_fields() -> dict[str, tuple[int, int]]:
    """Layer index -> (h, w) receptive field of cvcore's ContextNetwork, via cvcore.analysis."""
    from cvcore.analysis import receptive_fields

    # 3 channels: receptive_fields feeds an RGB-shaped input; fields do not depend on C.
    fields = receptive_fields(ContextNetwork(channels=3), INPUT_SIZE)
    return {name: fields[name].rf for name in layer_names()}


def _measure(index: int) -> Measurement:
    h, w = measured_fields()[str(index)]
    return Measurement(f"{h}x{w}", "cvcore.analysis.receptive_fields on cvcore's ContextNetwork (C = 3)")


def claims() -> tuple[Claim, ...]:
    return tuple(
        Claim(
            KEY,
            "Table 1",
            f"receptive field after layer {i + 1} ({k}x{k}, dilation {d})",
            f"{rf}x{rf}",
            "input pixels",
            SOURCE,
            functools.partial(_measure, i),
            EXACT,
        )  # fmt: skip
        for i, (k, d, rf) in enumerate(CONTEXT_TABLE1)
    )
