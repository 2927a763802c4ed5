"""Architecture page: stage tables, x N collapsing, reconciliation, other input sizes, two-model diff."""

import pytest

from cvcore.analysis.stages import architecture
from dashboard import state

PAGE = "app_pages/architecture.py"


def test_default_model_shows_stages_layers_and_reconciliation(page_app):
    at = page_app(PAGE)
    assert not at.exception and not at.error
    name = at.selectbox(key=state.ARCH_MODEL).value
    arch = architecture(name, (at.number_input(key=state.ARCH_INPUT_H).value, at.number_input(key=state.ARCH_INPUT_W).value))
    stages = arch.stages()
    summary = at.dataframe[0].value
    assert list(summary["stage"]) == [s.name for s in stages] + ["total"]
    assert summary["params"].iloc[-1] == arch.complexity.params
    assert len(at.expander) == len(stages)
    assert any("x 2" in str(row) for row in at.expander[[s.name for s in stages].index("layer1")].dataframe[0].value["x N"])
    assert {"fvcore GMACs", "torch GMACs", "in papers' convention"} <= set(at.dataframe[-1].value.columns)  # reconciliation last
    labels = [m.label for m in at.metric]
    assert {"GMACs (papers' convention)", "GMACs (all ops, fvcore)", "GMACs (torch counter ÷ 2)"} <= set(labels)
    depth = next(m for m in at.metric if m.label == "Depth (as the paper counts)")
    assert depth.value == "18" and list(summary["paper (Table 1)"])[3:7] == ["conv2_x", "conv2_x", "conv3_x", "conv4_x"]


def test_other_input_size_is_traced_and_reported(page_app):
    at = page_app(PAGE)
    at.number_input(key=state.ARCH_INPUT_H).set_value(128).run()
    at.number_input(key=state.ARCH_INPUT_W).set_value(160).run()
    assert not at.exception and not at.error
    assert any("traced just now" in c.value and "128x160" in c.value for c in at.caption)
    summary = at.dataframe[0].value
    assert summary["params"].iloc[-1] == architecture("resnet18").complexity.params  # parameters do not depend on size
    assert summary["GMACs (papers' convention)"].iloc[-1] < architecture("resnet18").complexity.gmacs


def test_too_small_input_says_which_sizes_work_not_a_traceback(page_app):
    at = page_app(PAGE)
    at.selectbox(key=state.ARCH_MODEL).select("inception_v3").run()
    at.number_input(key=state.ARCH_INPUT_H).set_value(16).run()
    at.number_input(key=state.ARCH_INPUT_W).set_value(16).run()
    assert not at.exception and not at.error
    assert at.warning and "16x16" in at.warning[0].value and "from 75" in at.warning[0].value


@pytest.mark.parametrize(
    ("model", "side", "words"),
    [("vit_b_16", 384, "accepts only 224x224"), ("enet", 500, "multiples of 8"), ("unet", 100, "from 188")],
)
def test_sizes_a_model_does_not_accept_are_explained(page_app, model, side, words):
    """The issue's bug boxes: ViT-B/16 at 384 px ("Wrong image height!"), ENet at 500 px, U-Net at 100 px."""
    at = page_app(PAGE)
    at.selectbox(key=state.ARCH_MODEL).select(model).run()
    at.number_input(key=state.ARCH_INPUT_H).set_value(side).run()
    at.number_input(key=state.ARCH_INPUT_W).set_value(side).run()
    assert not at.exception and not at.error
    assert any(words in w.value for w in at.warning)


def test_two_model_diff(page_app):
    at = page_app(PAGE)
    at.selectbox(key=state.ARCH_DIFF_MODEL).select("resnet34").run()
    assert not at.exception and not at.error
    diff = at.dataframe[-1].value
    assert "Δ params" in diff.columns and "layer1 (conv2_x)" in set(diff["stage (ResNet-18)"])
    assert diff["stage (ResNet-18)"].iloc[-1] == "total"
    assert any("[2, 2, 2, 2], ResNet-34 [3, 4, 6, 3]" in c.value for c in at.caption)


# A transformer, a segmentation net at 520x520, concatenating branches, a bundled-weights family.
@pytest.mark.parametrize("name", ["vit_b_16", "deeplabv3_mobilenet_v3_large", "googlenet", "efficientnet_lite0"])
def test_other_families_render_at_their_default_size(page_app, name):
    from cvcore.analysis import load_precomputed

    if name not in load_precomputed():
        pytest.skip(f"{name} is not in the stored analysis yet (tracing it here would be slow)")
    at = page_app(PAGE)
    at.selectbox(key=state.ARCH_MODEL).select(name).run()
    assert not at.exception and not at.error
    assert any("read from the stored analysis" in c.value for c in at.caption)
    assert at.dataframe[0].value["params"].iloc[-1] == load_precomputed()[name].params


def test_model_and_size_survive_a_visit_to_another_page(page_app):
    at = page_app(PAGE)
    at.selectbox(key=state.ARCH_MODEL).select("alexnet").run()
    at.number_input(key=state.ARCH_INPUT_H).set_value(200).run()
    at.switch_page("app_pages/models.py").run()
    at.switch_page(PAGE).run()
    assert not at.exception
    assert at.selectbox(key=state.ARCH_MODEL).value == "alexnet"
    assert (at.number_input(key=state.ARCH_INPUT_H).value, at.number_input(key=state.ARCH_INPUT_W).value) == (200, 224)
