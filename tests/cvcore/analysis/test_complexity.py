import pytest
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
