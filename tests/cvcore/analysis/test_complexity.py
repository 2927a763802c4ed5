import pytest
import torch
from torch import nn

from cvcore.analysis import analyze, analyze_complexity
from cvcore.errors import AnalysisError, InvalidInputError
from cvcore.models._utils import count_parameters
from cvcore.registry import build_model


@pytest.fixture(scope="module")
def resnet18():
    return analyze("resnet18", device="cpu", per_layer=True)


def test_fvcore_and_torch_agree_on_convolutions(resnet18):
    c = resnet18.complexity
    conv = next(r for r in c.by_operator if r.operator == "convolution")
    assert conv.fvcore_gmacs == pytest.approx(conv.torch_gmacs, rel=1e-9)
    norm = next(r for r in c.by_operator if r.operator == "normalisation")
    assert norm.fvcore_gmacs > 0 and norm.torch_gmacs == 0 and "ignores" in norm.note
    assert c.torch_gflops == pytest.approx(2 * c.torch_gmacs)


def test_uncounted_ops_are_reported(resnet18):
    # Residual additions and max-pooling are not multiply-adds; fvcore says so, and so do we.
    assert resnet18.complexity.uncounted_ops.get("aten::add_") == 8
    assert "aten::max_pool2d" in resnet18.complexity.uncounted_ops


def test_parameters_match_the_module(resnet18):
    params, trainable = count_parameters(build_model("resnet18"))
    assert resnet18.complexity.params == params == trainable == resnet18.complexity.trainable_params


def test_input_size_is_a_parameter():
    full = analyze_complexity("mobilenet_v3_small", device="cpu")
    double = analyze_complexity("mobilenet_v3_small", (448, 448), device="cpu")
    assert full.input_size == (224, 224) and double.input_size == (448, 448)
    by_op = lambda c: {r.operator: r.fvcore_gmacs for r in c.by_operator}  # noqa: E731
    # Every feature map doubles on each side, so convolutions cost 4x; the classifier's cost is fixed.
    assert by_op(double)["convolution"] == pytest.approx(4 * by_op(full)["convolution"], rel=0.01)
    assert by_op(double)["matrix multiply"] == pytest.approx(by_op(full)["matrix multiply"], rel=1e-9)


def test_bad_inputs_are_typed_errors():
    with pytest.raises(InvalidInputError):
        analyze_complexity("resnet18", (8, 8000))
    with pytest.raises(AnalysisError, match="input_size"):
        analyze_complexity(nn.Conv2d(3, 3, 3))


# --- counting conventions (issue 10) -------------------------------------------------------------


def test_headline_is_the_papers_convention_and_all_ops_is_fvcores_own_total(resnet18):
    """Checked against fvcore itself, with its stock handles: all ops = its default total; the papers'
    convention = its total with only the handles of convolutions and matrix products."""
    from fvcore.nn import FlopCountAnalysis
    from fvcore.nn.flop_count import _DEFAULT_SUPPORTED_OPS

    model = build_model("resnet18").eval()
    x = torch.randn(1, 3, 224, 224)
    stock = FlopCountAnalysis(model, x).unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    assert resnet18.complexity.gmacs_all_ops * 1e9 == pytest.approx(stock.total(), rel=1e-12)
    weighted = ("aten::_convolution", "aten::addmm", "aten::linear", "aten::matmul", "aten::mm", "aten::bmm", "aten::einsum")
    weighted_only = FlopCountAnalysis(model, x).unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    # (set_op_handle(op, None) would not do: fvcore 0.1.5 keeps a default handle it is told to ignore.)
    weighted_only.clear_op_handles().set_op_handle(**{op: _DEFAULT_SUPPORTED_OPS[op] for op in weighted})
    assert resnet18.complexity.gmacs * 1e9 == pytest.approx(weighted_only.total(), rel=1e-12)
    assert resnet18.complexity.gmacs < resnet18.complexity.gmacs_all_ops
    in_headline = {r.operator for r in resnet18.complexity.by_operator if r.in_papers_convention}
    assert in_headline == {"convolution", "matrix multiply"}


class Attention(nn.Module):
    """Self-attention over N tokens, heads x head size = d: only the fused op, no projections."""

    def __init__(self, heads: int, head_size: int):
        super().__init__()
        self.heads, self.head_size = heads, head_size

    def forward(self, x):  # (1, 3, H, W): the image's pixels as tokens
        tokens = x.flatten(2).transpose(1, 2).repeat(1, 1, self.heads * self.head_size // 3)  # (1, N, d)
        q = tokens.view(1, -1, self.heads, self.head_size).transpose(1, 2)
        return nn.functional.scaled_dot_product_attention(q, q, q).sum((1, 3))


def test_attention_counts_qk_and_av_in_both_figures_and_in_torchs_formula():
    from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

    heads, head_size, side = 4, 12, 8
    n, d = side * side, heads * head_size
    c = analyze_complexity(Attention(heads, head_size), (side, side), device="cpu")
    attention = next(r for r in c.by_operator if r.operator == "attention (SDPA)")
    assert attention.fvcore_gmacs * 1e9 == 2 * n * n * d  # QK^T and AV: N^2 d each
    assert attention.in_papers_convention and c.gmacs * 1e9 == c.gmacs_all_ops * 1e9 == 2 * n * n * d
    assert "aten::scaled_dot_product_attention" not in c.uncounted_ops
    # torch's own formula (2 FLOPs per multiply-add) agrees; cvcore registers it for the CPU kernel ...
    assert sdpa_flop_count((1, heads, n, head_size), (1, heads, n, head_size), (1, heads, n, head_size)) == 2 * 2 * n * n * d
    assert attention.torch_gmacs == attention.fvcore_gmacs
    # ... because torch 2.14.1's FlopCounterMode has none for it: on a CPU it counts 0 (if this fails, torch
    # learned to count it and cvcore's TORCH_EXTRA_FORMULAS and the reconciliation note can go).
    counter = FlopCounterMode(display=False)
    with counter:
        Attention(heads, head_size)(torch.randn(1, 3, side, side))
    assert counter.get_total_flops() == 0
    assert "CPU kernel counts 0" in attention.note
