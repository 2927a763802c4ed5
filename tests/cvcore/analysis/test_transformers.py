"""Attention counted: every ViT, Swin and MaxViT against torchvision's published `_ops` (to 1%).

ViTs count attention with cvcore's fvcore handle for `scaled_dot_product_attention`; Swin and
MaxViT write their attention as explicit matmuls, which fvcore's stock handles count. A
full trace of ViT-H/14 at 518 px is about 1 TMAC, so the default suite counts a one-block
ViT with each model's own sizes and extrapolates (the encoder blocks are identical); the
stored analysis of the whole models is checked in test_precomputed.py, and the slow suite
traces every whole model.
"""

import pytest
import torch
from torchvision.models.vision_transformer import VisionTransformer

from cvcore.analysis import analyze
from cvcore.analysis.complexity import GIGA, _quiet_fvcore, example_input, fvcore_analysis, split_conventions
from cvcore.models._utils import empty_weights
from cvcore.registry import list_models

TRANSFORMERS = [s for s in list_models() if s.family in ("ViT", "Swin", "Swin V2", "MaxViT")]
VITS = [s for s in TRANSFORMERS if s.family == "ViT"]


def published(spec):
    return pytest.approx(spec.gmacs.value, rel=0.01)


def test_the_catalogue_has_the_transformers():
    assert {s.family for s in TRANSFORMERS} == {"ViT", "Swin", "Swin V2", "MaxViT"} and len(VITS) == 5


def one_block_twin(spec) -> tuple[VisionTransformer, int]:
    """A ViT with the spec's sizes but one encoder block (random weights), and the spec's block count."""
    with empty_weights():
        full = spec.builder()
    attention = full.encoder.layers[0].self_attention
    twin = VisionTransformer(
        image_size=full.image_size, patch_size=full.patch_size, num_layers=1, num_heads=attention.num_heads,
        hidden_dim=full.hidden_dim, mlp_dim=full.mlp_dim, num_classes=full.num_classes,
    )  # fmt: skip
    return twin.eval(), len(full.encoder.layers)


@pytest.mark.parametrize("spec", VITS, ids=lambda s: s.name)
def test_vit_multiply_adds_match_torchvision_from_one_block(spec):
    twin, blocks = one_block_twin(spec)
    x = example_input(spec.input_size, torch.device("cpu"))
    with _quiet_fvcore():
        by_module = fvcore_analysis(twin, x).by_module_and_operator()
    total = split_conventions(by_module["model"])[0]
    block = split_conventions(by_module["model.encoder.layers.encoder_layer_0"])[0]
    # The block's attention products, from the model's own sizes: 2 x tokens^2 x hidden (QK^T and AV).
    attention = by_module["model.encoder.layers.encoder_layer_0.self_attention"]["scaled_dot_product_attention"]
    assert attention == 2 * twin.seq_length**2 * twin.hidden_dim
    assert (total + (blocks - 1) * block) / GIGA == published(spec)


@pytest.mark.slow
@pytest.mark.parametrize("spec", TRANSFORMERS, ids=lambda s: s.name)
def test_whole_transformer_matches_torchvision_published_ops(spec):
    c = analyze(spec.name, device="cpu").complexity  # ViT-H/14 at 518 px: about a TMAC, minutes on a CPU
    assert c.gmacs == published(spec) and c.torch_gmacs == published(spec)
    assert not {"aten::scaled_dot_product_attention", "aten::matmul", "aten::einsum"} & set(c.uncounted_ops)
