"""Layer-by-layer diff of two variants, and the explanation written from it."""

from cvcore.analysis.layer_diff import diff_layers, explain_layer_diff, main_contributors
from cvcore.analysis.layers import LayerRow


def row(name, gmacs, stride=(1, 1), shape=(1, 8, 4, 4), kernel=(3, 3)):
    return LayerRow(name, "Conv2d", "s", "s.0", shape, kernel, stride, (1, 1), 1, 10, gmacs, gmacs, (3, 3), (1.0, 1.0), 1)


def test_the_explanation_names_the_layers_that_carry_the_difference():
    a = [row("s.0.a", 1.0, stride=(2, 2), kernel=(1, 1), shape=(1, 8, 2, 2)), row("s.0.b", 2.0), row("s.0.c", 3.0)]
    b = [row("s.0.a", 4.0, kernel=(1, 1)), row("s.0.b", 2.0, stride=(2, 2)), row("s.0.c", 3.01), row("s.0.d", 0.5)]
    diffs = diff_layers(a, b)
    assert [d.name for d in diffs] == ["s.0.a", "s.0.b", "s.0.c", "s.0.d"]
    assert diffs[3].a is None and diffs[3].gmacs_delta == 0.5
    # 3.0 of the 3.51 come from s.0.a, 0.5 from s.0.d: together more than 95%.
    assert [d.name for d in main_contributors(diffs)] == ["s.0.a", "s.0.d"]
    text = explain_layer_diff(diffs, "A", "B")
    assert text.startswith("Per-layer diff, B − A: +3.510 GMACs (papers' convention); 2 layers carry 100% of it")
    assert "s.0.a (1x1 Conv2d, stride 1 in B, 2 in A, output 8x4x4 vs 8x2x2): +3.000" in text
    assert "Stride moved, multiply-adds unchanged: s.0.b (3x3 Conv2d, stride 2 in B, 1 in A)." in text


def test_identical_variants():
    rows = [row("x", 1.0)]
    assert "the same" in explain_layer_diff(diff_layers(rows, rows), "A", "B")
