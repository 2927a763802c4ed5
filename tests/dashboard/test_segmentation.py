"""Segmentation page: a sample with the offline coarse map, missing weights, hostile uploads, ground truth.

TORCH_HOME points at an empty temporary folder, so which weights are "here" does not
depend on the machine; one test writes a random-init LR-ASPP checkpoint there under the
file name torchvision expects.
"""

import hashlib
import io

import numpy as np
import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

from cvcore.registry import build_model, get_spec
from cvcore.samples import get_sample
from cvcore.segmentation import SegmentationResult, voc_palette
from cvcore.weights import checkpoint_dir
from dashboard import state
from dashboard.common import cached_model
from tests.dashboard.conftest import assert_no_markdown, unescaped

from .conftest import APP, APP_TIMEOUT_S

PAGE = "app_pages/segmentation.py"
LITE = "efficientnet_lite0"
LRASPP = "lraspp_mobilenet_v3_large"


@pytest.fixture(autouse=True)
def empty_torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    yield
    cached_model.clear()  # a random-init model must not outlive its test


def results_of(at) -> dict:
    return at.session_state[state.SEG_RESULTS]


def test_first_visit_runs_what_can_run_here_without_an_error(page_app):
    """A fresh machine has only the coarse map's weights: it is the default, and nothing shows an error."""
    at = page_app(PAGE)
    assert not at.exception and not at.error
    assert at.multiselect(key=state.SEG_MODELS).value == [LITE]
    assert any("not a trained segmenter" in w.value for w in at.warning)
    coarse = next(r for (_, name), r in results_of(at).items() if name == LITE)
    assert coarse.classes[0].name in {"tabby", "tiger cat", "Egyptian cat"}
    labels = [b.proto.label for b in at.get("download_button")]
    assert (
        "EfficientNet-Lite0 (coarse map): overlay PNG" in labels and "EfficientNet-Lite0 (coarse map): label mask PNG" in labels
    )
    # Results survive a rerun: moving the slider recomputes nothing.
    before = dict(results_of(at))
    at.slider(key=state.SEG_OPACITY).set_value(0.8).run()
    assert not at.exception and all(results_of(at)[k] is v for k, v in before.items())


def test_models_without_weights_are_selectable_and_share_one_calm_note(page_app):
    at = page_app(PAGE)
    widget = at.multiselect(key=state.SEG_MODELS)
    assert "LR-ASPP-MobileNet-v3-large — weights not on this machine" in widget.options  # AppTest lists the labels
    widget.set_value([LITE, LRASPP, "fcn_resnet50", "deeplabv3_resnet50"]).run()
    assert not at.exception and not at.error
    [note] = [i.value for i in at.info if "no trained weights" in i.value]
    assert "weights fetch lraspp\\_mobilenet\\_v3\\_large" not in note  # the command is a code span, kept as it is
    assert f"`python -m cvcore weights fetch {LRASPP} fcn_resnet50 deeplabv3_resnet50`" in note
    assert "weights import PATH" in note
    assert {name for (_, name) in results_of(at)} == {LITE}  # the others were not run, so nothing failed


def test_select_all_picks_models_that_run_first(page_app):
    """Streamlit's "Select all" takes the unselected options in order, up to max_selections."""
    from dashboard.app_pages.segmentation import MAX_MODELS

    at = page_app(PAGE)
    labels = at.multiselect(key=state.SEG_MODELS).options  # in order, as the browser lists them
    picked = labels[:MAX_MODELS]
    assert sum("coarse map" in label for label in picked) == 3 and "not on this machine" in labels[-1]
    write_random_checkpoint(LRASPP)  # now a trained segmenter is here: it comes first and is a default
    at = page_app(PAGE)
    assert at.multiselect(key=state.SEG_MODELS).options[0] == "LR-ASPP-MobileNet-v3-large"
    assert at.multiselect(key=state.SEG_MODELS).value == [LITE, LRASPP]


def test_a_damaged_checkpoint_is_named_and_the_other_results_stay(page_app):
    write_random_checkpoint(LRASPP)
    path = checkpoint_dir() / get_spec(LRASPP).weights.file_name
    with open(path, "r+b") as handle:
        handle.truncate(6 * 2**20)  # the issue's `truncate -s 6M`: an interrupted copy
    at = page_app(PAGE)
    at.multiselect(key=state.SEG_MODELS).set_value([LRASPP, LITE]).run()
    assert not at.exception
    [error] = [e.value for e in at.error]
    assert str(path) in unescaped(error) and "damaged" in error and f"`python -m cvcore weights fetch {LRASPP}`" in error
    current = {name: r for (_, name), r in results_of(at).items()}
    assert isinstance(current[LITE], SegmentationResult)  # the coarse map is still shown
    assert "EfficientNet-Lite0 (coarse map): overlay PNG" in [b.proto.label for b in at.get("download_button")]


def test_file_names_are_shown_as_text_not_markdown(page_app):
    name = "**bold** [link](http://example.invalid/) ![t](http://127.0.0.1:9/x.png).png"
    at = page_app(PAGE)
    at.multiselect(key=state.SEG_MODELS).set_value([LITE])
    at.radio(key=state.SEG_SOURCE).set_value("upload").run()
    at.file_uploader(key=state.SEG_UPLOADS).set_value([(name, b"not an image", "image/png")]).run()
    assert not at.exception
    [error] = [e.value for e in at.error]
    assert unescaped(error).startswith(name + ": This file is not an image")
    assert_no_markdown(error)


def test_hostile_upload_shows_an_error_and_the_good_photo_still_runs(page_app):
    at = page_app(PAGE)
    at.multiselect(key=state.SEG_MODELS).set_value([LITE])
    at.radio(key=state.SEG_SOURCE).set_value("upload").run()
    assert not at.exception
    buffer = io.BytesIO()
    Image.open(get_sample("chelsea").path).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(buffer, format="JPEG")
    cat = buffer.getvalue()
    at.file_uploader(key=state.SEG_UPLOADS).set_value(
        [("bad.png", b"not an image", "image/png"), ("cat.jpg", cat, "image/jpeg")]
    ).run()
    assert not at.exception
    assert any(unescaped(e.value).startswith("bad.png: This file is not an image") for e in at.error)
    result = results_of(at)[(hashlib.sha256(cat).hexdigest(), LITE)]
    assert result.size == Image.open(io.BytesIO(cat)).size and result.classes[0].name in {"tabby", "tiger cat", "Egyptian cat"}
    # Only the hostile file: a message, no crash, and the page still responds.
    at.file_uploader(key=state.SEG_UPLOADS).set_value([("empty.jpg", b"", "image/jpeg")]).run()
    assert not at.exception and any("empty" in e.value for e in at.error)
    at.slider(key=state.SEG_OPACITY).set_value(0.3).run()
    assert not at.exception


def write_random_checkpoint(name: str) -> None:
    torch.manual_seed(0)
    path = checkpoint_dir() / get_spec(name).weights.file_name
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(build_model(name).state_dict(), path)


def voc_mask_png(width: int, height: int) -> bytes:
    labels = np.zeros((height, width), dtype=np.uint8)
    labels[height // 4 : 3 * height // 4, width // 4 : 3 * width // 4] = 8  # a "cat" box
    image = Image.fromarray(labels, mode="P")
    image.putpalette(voc_palette(256).reshape(-1).tolist())
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_cached_segmenter_overlay_disagreement_and_ground_truth(page_app):
    write_random_checkpoint(LRASPP)
    at = page_app(PAGE)
    at.multiselect(key=state.SEG_MODELS).set_value([LRASPP, LITE]).run()
    assert not at.exception and not at.error
    current = {name: r for (_, name), r in results_of(at).items()}
    assert isinstance(current[LRASPP], SegmentationResult) and current[LRASPP].labels.shape == current[LITE].labels.shape
    # Different label sets (VOC vs ImageNet): the disagreement tab explains instead of failing.
    assert any("different label sets" in i.value for i in at.info)
    width, height = Image.open(get_sample("chelsea").path).size
    at.file_uploader(key=state.SEG_MASK_UPLOAD).set_value(("truth.png", voc_mask_png(width, height), "image/png")).run()
    assert not at.exception and not at.error
    scores, per_class = at.dataframe[-2].value, at.dataframe[-1].value
    assert list(scores["model"]) == ["LR-ASPP-MobileNet-v3-large"]
    assert 0 <= scores["pixel acc (%)"][0] <= 100
    # Per-class IoUs down the page (a row per class), not dozens of columns off its side.
    assert list(per_class.columns) == ["class", "IoU (%) LR-ASPP-MobileNet-v3-large"] and len(per_class) >= 1
    # A mask that does not belong to the photo: a message, not a crash.
    at.file_uploader(key=state.SEG_MASK_UPLOAD).set_value(("wrong.png", voc_mask_png(50, 50), "image/png")).run()
    assert not at.exception and any("do not belong together" in e.value for e in at.error)


def test_two_voc_segmenters_get_a_disagreement_map_and_a_legend(page_app):
    second = "deeplabv3_mobilenet_v3_large"
    write_random_checkpoint(LRASPP)
    write_random_checkpoint(second)
    at = page_app(PAGE)
    at.multiselect(key=state.SEG_MODELS).set_value([LRASPP, second]).run()
    assert not at.exception and not at.error
    [metric] = at.metric
    current = {name: r for (_, name), r in results_of(at).items()}
    expected = float((current[LRASPP].labels != current[second].labels).mean())
    assert metric.value == f"{100 * expected:.1f}%"
    legends = [m.value for m in at.markdown if ":color[■]" in m.value]
    assert len(legends) == 2 and all('foreground="#' in text for text in legends)
    timings = at.dataframe[0].value
    assert list(timings["model"]) == ["LR-ASPP-MobileNet-v3-large", "DeepLabV3-MobileNet-v3-large"]
    assert (timings["forward (ms)"] > 0).all()
    # Milliseconds to one decimal: a frame wide enough for them, none cut ("259.3087" read as "59.3087").
    assert ((timings["forward (ms)"] * 10).round(6) % 1 == 0).all() and set(timings["kind"]) == {"segmenter"}
    # The confidence maps are computed after the overlays, on demand; the table says how long they took.
    assert (timings["confidence map (ms)"] > 0).all()
    assert all(current[n].confidence_ms is not None for n in (LRASPP, second))


def test_choices_and_uploads_survive_a_visit_to_another_page(page_app):
    at = page_app(PAGE)
    at.multiselect(key=state.SEG_MODELS).set_value([LITE])
    at.slider(key=state.SEG_OPACITY).set_value(0.8)
    at.radio(key=state.SEG_SOURCE).set_value("upload").run()
    cat = get_sample("chelsea").path.read_bytes()
    at.file_uploader(key=state.SEG_UPLOADS).set_value([("mine.png", cat, "image/png")]).run()
    assert not at.exception and not at.error
    at.switch_page("app_pages/models.py").run()
    at.switch_page(PAGE).run()
    assert not at.exception and not at.error
    assert at.multiselect(key=state.SEG_MODELS).value == [LITE]
    assert at.slider(key=state.SEG_OPACITY).value == 0.8
    assert at.radio(key=state.SEG_SOURCE).value == "upload"
    assert any("uploaded before you left this page: mine.png" in unescaped(c.value) for c in at.caption)
    assert [b.proto.label for b in at.get("download_button")][:1] == ["EfficientNet-Lite0 (coarse map): overlay PNG"]
    at.button(key=state.SEG_FORGET_UPLOADS).click().run()
    assert not at.exception and any("Upload one or more photos" in i.value for i in at.info)


def test_a_fast_mode_shows_its_measured_agreement_with_an_fp32_run():
    at = AppTest.from_file(str(APP), default_timeout=APP_TIMEOUT_S)
    at.session_state[state.RUNTIME_PRECISION] = "bf16"  # the sidebar's choice, before the first run
    at.session_state[state.SEG_MODELS] = [LITE]
    at.switch_page(PAGE).run()
    assert not at.exception and not at.error
    [(key, fast)] = at.session_state[state.SEG_FAST_RESULTS].items()
    assert key[1:] == (LITE, "bf16") and fast.mode == "bf16"
    exact = results_of(at)[key[:2]]  # the fp32 reference, computed for the agreement, kept for fp32 views
    assert exact.mode == "fp32"
    share = 100 * float((fast.labels == exact.labels).mean())  # independently, pixel by pixel
    assert any(f"bf16: {share:.2f}% of pixels labelled as in fp32 (fp32 eager run on the same photo" in c.value for c in at.caption)
    assert list(at.dataframe[0].value["mode"]) == ["bf16"]  # the timings table says which mode ran
    # Back to fp32: the stored reference is shown, nothing recomputed, no agreement line.
    at.radio(key=state.RUNTIME_PRECISION).set_value("fp32").run()
    assert not at.exception and results_of(at)[key[:2]] is exact
    assert not any("of pixels labelled as in fp32" in c.value for c in at.caption)


def test_a_precision_the_machine_lacks_is_a_message_with_the_reason(monkeypatch):
    from cvcore import runtime

    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_fp16_supported", lambda: False)
    runtime._precision_support.cache_clear()
    try:
        at = AppTest.from_file(str(APP), default_timeout=APP_TIMEOUT_S)
        at.session_state[state.RUNTIME_PRECISION] = "fp16"
        at.session_state[state.SEG_MODELS] = [LITE]
        at.switch_page(PAGE).run()
    finally:
        runtime._precision_support.cache_clear()
    assert not at.exception
    assert any("fp16 autocast cannot run here" in e.value and "no native fp16" in e.value for e in at.error)
    assert any("no native fp16" in w.value for w in at.sidebar.warning)


def test_a_second_session_gets_the_first_ones_results_without_running_a_model(page_app, monkeypatch):
    """Results are shared by every session (same photo bytes, model, weights, mode): a reload runs no model."""
    import cvcore.segmentation
    from dashboard.common import shared_results

    shared_results().clear()
    calls = []
    real = cvcore.segmentation.segment
    monkeypatch.setattr(cvcore.segmentation, "segment", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    first = page_app(PAGE)
    assert not first.exception and calls == [LITE]
    second = page_app(PAGE)  # another browser session: its own session state
    assert not second.exception and not second.error and calls == [LITE]
    [(key, result)] = results_of(first).items()
    assert results_of(second)[key] is result and not result.labels.flags.writeable
    assert len(second.get("image")) >= 1 and any("ms to labels" in c.value for c in second.caption)
