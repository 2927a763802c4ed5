"""He et al. 2015 (ResNet): Table 1's output sizes and FLOPs, the text's FLOPs, Tables 2-4's errors.

Measured on torchvision's ResNets (the catalogue's ``resnet18`` .. ``resnet152``) and on
cvcore's plain nets; FLOPs are multiply-adds in the papers' convention (fvcore: conv + fc), as the
paper counts them.
"""

from __future__ import annotations

import functools

from cvcore.formatting import format_shape
from cvcore.papers.claims import EXACT, Claim, Measurement, Target, Tolerance, mult_adds_convention
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
FLOPS_CONVENTION = mult_adds_convention("the paper's 'FLOPs (multiply-adds)' (Sec. 3.3), of the weighted layers")
# torchvision module whose output is each Table 1 stage's output.
STAGE_MODULES = {
    "conv1": "conv1",
    "conv2_x": "layer1",
    "conv3_x": "layer2",
    "conv4_x": "layer3",
    "conv5_x": "layer4",
    "average pool": "avgpool",
}
# Standing words only; where the difference comes from is computed (v15_explanation).
V15_NOTE = (
    "torchvision's bottleneck ResNets are 'v1.5': they place the downsampling stride differently from the paper "
    "('down-sampling is performed by conv3_1, conv4_1, conv5_1')."
)
TORCHVISION_RESNET50 = "v1.5"  # short: the diff sentence names them often
PAPER_LAYOUT = "paper"
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
    if name == "resnet50":
        note = " ".join(p for p in (note, v15_explanation()) if p)
    from cvcore.papers.measure import catalogue_complexity, measured_how

    complexity, precomputed = catalogue_complexity(name)
    return Measurement(round(complexity.gmacs, 3), measured_how(complexity, precomputed), note)


def paper_layout_resnet50():
    """torchvision's ResNet-50 with the stride moved back onto each stage's first 1x1 conv, as in the paper."""
    from torchvision.models import resnet50

    model = resnet50().eval()
    for stage in (model.layer2, model.layer3, model.layer4):
        first = stage[0]
        first.conv1.stride, first.conv2.stride = (2, 2), (1, 1)
    return model


@functools.cache
def paper_layout_resnet50_analysis():
    """Complexity and per-layer rows of :func:`paper_layout_resnet50` at 224x224 (one fvcore trace, seconds)."""
    from cvcore.analysis import analyze

    return analyze(paper_layout_resnet50(), (224, 224), device="cpu", per_layer=True)


def paper_layout_resnet50_gmacs() -> float:
    return paper_layout_resnet50_analysis().complexity.gmacs


@functools.cache
def v15_layer_diff():
    """torchvision's ResNet-50 against the paper's stride placement, layer by layer (b − a = v1.5 − paper)."""
    from cvcore.analysis import analyze_layers, load_precomputed_layers
    from cvcore.analysis.layer_diff import diff_layers

    torchvision_rows = load_precomputed_layers("resnet50") or analyze_layers("resnet50", device="cpu")
    return diff_layers(paper_layout_resnet50_analysis().layers, torchvision_rows)


def v15_explanation() -> str:
    """Where torchvision's extra multiply-adds come from, written from the per-layer diff."""
    from cvcore.analysis.layer_diff import explain_layer_diff

    return explain_layer_diff(v15_layer_diff(), PAPER_LAYOUT, TORCHVISION_RESNET50)


def _measure_paper_layout() -> Measurement:
    how = (
        "multiply-adds in the papers' convention (fvcore) of torchvision's resnet50 with the stride on "
        "conv3_1/conv4_1/conv5_1 (the 1x1), 224x224 (measured now)"
    )
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
        return "Multiply-adds in the papers' convention (conv + fc); the paper rounds to one decimal."
    if depth == 50:
        return V15_NOTE
    return (
        "Within 5%. torchvision's ResNet-101/152 are v1.5 too; the 50-layer rows show, layer by layer, what that placement costs."
    )


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
                  exception=depth == 50, convention=FLOPS_CONVENTION)
        )  # fmt: skip
    rows.append(
        Claim(KEY, "Table 1", "FLOPs, 50-layer, paper's stride placement", RESNET_TABLE1_GFLOPS[50], "x10^9 multiply-adds",
              _source("Table 1 and its caption"), _measure_paper_layout, FLOPS_TOLERANCE,
              "The same torchvision ResNet-50 with the stride moved to the 1x1 conv: the v1.5 difference disappears.",
              convention=FLOPS_CONVENTION)
    )  # fmt: skip
    for label, (gflops, where) in RESNET_TEXT_GFLOPS.items():
        rows.append(
            Claim(KEY, where, f"FLOPs, {label}", gflops, "x10^9 multiply-adds", _source(where),
                  functools.partial(_measure_flops, _TEXT_MODELS[label]), FLOPS_TOLERANCE,
                  "Multiply-adds in the papers' convention (conv + fc); the paper rounds to one decimal.",
                  convention=FLOPS_CONVENTION)
        )  # fmt: skip
    for e in RESNET_ERRORS:
        for top, value in ((1, e.top1), (5, e.top5)):
            if value is None:
                continue
            rows.append(
                Claim(KEY, e.table, f"top-{top} error, {e.model}", value, "% (ImageNet val)", _source(e.table),
                      functools.partial(_measure_error, e, top), None,
                      f"Different training recipe (torchvision's weights, not the authors') and testing ({e.testing} "
                      "in the paper, one centre crop in torchvision): side by side, not a reproduction.",
                      target=Target((f"{'plain' if e.plain else 'resnet'}{e.depth}",), f"acc@{top}", as_error=True, testing=e.testing))
            )  # fmt: skip
    return tuple(rows)
