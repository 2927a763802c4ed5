"""He et al. 2015 (ResNet): Table 1's output sizes and FLOPs, the text's FLOPs, Tables 2-4's errors.

Measured on torchvision's ResNets (the catalogue's ``resnet18`` .. ``resnet152``) and on
cvcore's plain nets; FLOPs are fvcore's conv + fc multiply-adds, as the paper counts them.
"""

from __future__ import annotations

import functools

from cvcore.formatting import format_shape
from cvcore.papers.claims import EXACT, Claim, Measurement, Tolerance
from cvcore.papers.published import (
    RESNET_DEPTHS,
    RESNET_ERRORS,
    RESNET_SEEDS,
    RESNET_TABLE1_GFLOPS,
    RESNET_TABLE1_OUTPUT_SIZES,
    RESNET_TEXT_GFLOPS,
    ErrorRate,
)

KEY = "resnet"
CITATION = "He et al. 2015"
FLOPS_TOLERANCE = Tolerance(relative_pct=5)
# torchvision module whose output is each Table 1 stage's output.
STAGE_MODULES = {
    "conv1": "conv1",
    "conv2_x": "layer1",
    "conv3_x": "layer2",
    "conv4_x": "layer3",
    "conv5_x": "layer4",
    "average pool": "avgpool",
}
V15_NOTE = (
    "torchvision's bottleneck ResNets are 'v1.5': stride 2 on the 3x3 conv of each stage's first block, not on its first "
    "1x1 as in the paper ('down-sampling is performed by conv3_1, conv4_1, conv5_1'), so the 3x3 runs at twice the resolution."
)
_TEXT_MODELS = {"plain-34": "plain34", "VGG-16": "vgg16", "VGG-19": "vgg19"}


def _source(where: str) -> str:
    return f"{CITATION}, {where}; course copy: {RESNET_SEEDS}"


# --- measurements ------------------------------------------------------------------------------


@functools.cache
def stage_sizes() -> dict[int, dict[str, tuple[int, ...]]]:
    """depth -> Table 1 stage -> (C, H, W) at 224x224, from torchvision's ResNets on the meta device."""
    from cvcore.papers.measure import build_on_meta, output_shapes
    from cvcore.registry import get_spec

    sizes = {}
    for depth in RESNET_DEPTHS:
        model = build_on_meta(get_spec(f"resnet{depth}").builder)
        shapes = output_shapes(model, (224, 224), STAGE_MODULES.values())
        sizes[depth] = {stage: shapes[module] for stage, module in STAGE_MODULES.items()}
    return sizes


def _measure_stage(stage: str) -> Measurement:
    sides = {depth: format_shape(shapes[stage], drop_batch=True) for depth, shapes in stage_sizes().items()}
    values = set(sides.values())
    how = f"output of torchvision's {STAGE_MODULES[stage]} at 224x224 for ResNet-18/34/50/101/152 (meta device)"
    if len(values) == 1:
        return Measurement(values.pop(), how)
    return Measurement("; ".join(f"{d}: {s}" for d, s in sides.items()), how, "The depths disagree.")


def _measure_flops(name: str, note: str = "") -> Measurement:
    from cvcore.papers.measure import catalogue_complexity, measured_how, weighted_gmacs

    complexity, precomputed = catalogue_complexity(name)
    return Measurement(round(weighted_gmacs(complexity), 3), measured_how(complexity, precomputed), note)


@functools.cache
def paper_layout_resnet50_gmacs() -> float:
    """ResNet-50 with the stride moved back onto each stage's first 1x1 conv, as in the paper."""
    from torchvision.models import resnet50

    from cvcore.analysis import analyze_complexity
    from cvcore.papers.measure import weighted_gmacs

    model = resnet50().eval()
    for stage in (model.layer2, model.layer3, model.layer4):
        first = stage[0]
        first.conv1.stride, first.conv2.stride = (2, 2), (1, 1)
    return weighted_gmacs(analyze_complexity(model, (224, 224), device="cpu"))


def _measure_paper_layout() -> Measurement:
    how = "fvcore conv + fc multiply-adds of torchvision's resnet50 with the stride on conv3_1/conv4_1/conv5_1 (the 1x1), 224x224"
    return Measurement(round(paper_layout_resnet50_gmacs(), 3), how)


def _measure_error(e: ErrorRate, top: int) -> Measurement:
    from cvcore.registry import get_spec

    if e.plain:
        return Measurement(
            None, "no trained plain net exists in torchvision or cvlens", "Architecture only (cvcore's plain18/plain34)."
        )
    spec = get_spec(f"resnet{e.depth}")
    acc = spec.metrics.get(f"acc@{top}")
    if acc is None:
        return Measurement(None, f"torchvision publishes no top-{top} accuracy for {spec.name}")
    how = f"100 - acc@{top} of {spec.weights.ref} ({acc.source}), one 224 centre crop"
    return Measurement(round(100 - acc.value, 3), how, published_by="torchvision")


# --- claims ------------------------------------------------------------------------------------


def _flops_note(depth: int) -> str:
    if depth < 50:
        return "Conv + fc multiply-adds; the paper rounds to one decimal."
    if depth == 50:
        return V15_NOTE
    return "Within 5%; the excess is torchvision's v1.5 stride placement (see the 50-layer rows)."


def claims() -> tuple[Claim, ...]:
    rows: list[Claim] = []
    for stage, side in RESNET_TABLE1_OUTPUT_SIZES.items():
        rows.append(
            Claim(KEY, "Table 1", f"{stage} output size", f"{side}x{side}", "HxW at 224x224 input", _source("Table 1"),
                  functools.partial(_measure_stage, stage), EXACT)
        )  # fmt: skip
    for depth, gflops in RESNET_TABLE1_GFLOPS.items():
        rows.append(
            Claim(KEY, "Table 1", f"FLOPs, {depth}-layer", gflops, "x10^9 multiply-adds", _source("Table 1 and Sec. 3.3"),
                  functools.partial(_measure_flops, f"resnet{depth}"), FLOPS_TOLERANCE, _flops_note(depth),
                  exception=depth == 50)
        )  # fmt: skip
    rows.append(
        Claim(KEY, "Table 1", "FLOPs, 50-layer, paper's stride placement", RESNET_TABLE1_GFLOPS[50], "x10^9 multiply-adds",
              _source("Table 1 and its caption"), _measure_paper_layout, FLOPS_TOLERANCE,
              "The same torchvision ResNet-50 with the stride moved to the 1x1 conv: the v1.5 difference disappears.")
    )  # fmt: skip
    for label, (gflops, where) in RESNET_TEXT_GFLOPS.items():
        rows.append(
            Claim(KEY, where, f"FLOPs, {label}", gflops, "x10^9 multiply-adds", _source(where),
                  functools.partial(_measure_flops, _TEXT_MODELS[label]), FLOPS_TOLERANCE,
                  "Conv + fc multiply-adds; the paper rounds to one decimal.")
        )  # fmt: skip
    for e in RESNET_ERRORS:
        for top, value in ((1, e.top1), (5, e.top5)):
            if value is None:
                continue
            rows.append(
                Claim(KEY, e.table, f"top-{top} error, {e.model}", value, "% (ImageNet val)", _source(e.table),
                      functools.partial(_measure_error, e, top), None,
                      f"Different training recipe (torchvision's weights, not the authors') and testing ({e.testing} "
                      "in the paper, one centre crop in torchvision): side by side, not a reproduction.")
            )  # fmt: skip
    return tuple(rows)
