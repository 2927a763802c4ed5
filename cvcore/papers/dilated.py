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


# Stacks of 3x3 convolutions for the gridding example (Yu & Koltun's context network has 1, 1 first).
GRIDDING_STACKS = {
    "2-2-2": (2, 2, 2),  # every dilation shares the factor 2: the taps never reach odd offsets
    "1-2-5": (1, 2, 5),  # hybrid dilated convolution (HDC): no common factor, every pixel is reached
}
EXAMPLE_CHANNELS = 3


class DilationStack(nn.Sequential):
    """3x3 convolutions with the given dilations, padding = dilation (resolution kept), no activations.

    With ``positive=True`` every weight is 1/9 and biases are zero: a linear stack whose gradient
    reaches exactly the pixels the taps can reach, so its effective receptive field shows the
    structure alone (the theoretical field, and the holes of gridding).
    """

    def __init__(self, dilations: tuple[int, ...], channels: int = EXAMPLE_CHANNELS, positive: bool = True):
        convs = [nn.Conv2d(channels, channels, 3, padding=d, dilation=d) for d in dilations]
        if positive:
            for conv in convs:
                nn.init.constant_(conv.weight, 1.0 / 9)
                nn.init.zeros_(conv.bias)
        super().__init__(*convs)


def context_stack(positive: bool = True) -> DilationStack:
    """The 3x3 layers of Table 1 (dilations 1, 1, 2, 4, 8, 16, 1) as a :class:`DilationStack`."""
    return DilationStack(tuple(d for k, d, _ in CONTEXT_TABLE1 if k == 3), positive=positive)


def erf_examples(images=None, seed: int = 0) -> dict[str, object]:
    """The Papers page's one-click example: effective receptive fields (Luo et al. 2016) of the context
    network's last 3x3 layer (random init, ReLUs, as Table 1) and of the 2-2-2 and 1-2-5 linear stacks."""
    from cvcore.analysis.erf import effective_receptive_field, images_batch, sample_images, seeded

    batch = images_batch(images or sample_images(), INPUT_SIZE)
    with seeded(seed):
        network = ContextNetwork(channels=EXAMPLE_CHANNELS)
    last_3x3 = str(sum(1 for k, _, _ in CONTEXT_TABLE1 if k == 3) - 1)
    examples = {
        f"context network, layer {int(last_3x3) + 1} (random init, ReLU)": effective_receptive_field(
            network, last_3x3, batch, weights=f"random init (seed {seed})"
        )
    }
    for name, dilations in GRIDDING_STACKS.items():
        stack = DilationStack(dilations)
        examples[f"dilations {name} (weights 1/9, linear)"] = effective_receptive_field(
            stack, str(len(dilations) - 1), batch, weights="positive weights"
        )
    return examples


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
