"""Saliency page: the bundled cat with EfficientNet-Lite0, a hostile upload, feature visualisation."""

import io

from PIL import Image
from streamlit.testing.v1 import AppTest

from cvcore.attribution import MethodResult
from cvcore.samples import get_sample
from dashboard import state

from .conftest import APP, APP_TIMEOUT_S, assert_no_markdown, unescaped

PAGE = "app_pages/saliency.py"
LITE = "efficientnet_lite0"


def saliency_app(methods: list[str]) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=APP_TIMEOUT_S)
    at.session_state[state.SAL_METHODS] = methods  # one fast method keeps the test short
    at.session_state[state.SAL_RANDOM_MAPS] = 3  # so do few random maps (the verdict then says they are too few)
    return at.switch_page(PAGE).run()


def cells(at) -> dict:
    return at.session_state[state.SAL_RESULTS]


def test_sample_shows_top5_a_map_its_scores_and_downloads():
    at = saliency_app(["grad_cam"])
    assert not at.exception and not at.error
    top5 = at.dataframe[0].value
    assert len(top5) == 5 and "cat" in top5["class"][0]
    [(key, cell)] = cells(at).items()
    result, view = cell
    assert key[1:3] == (LITE, "grad_cam") and isinstance(result, MethodResult) and view.shape == (224, 224, 3)
    assert result.faithfulness.deletion_auc >= 0 and result.random.maps == 3
    assert any("deletion AUC" in c.value and "insertion AUC" in c.value and "too few random maps" in c.value for c in at.caption)
    faith = at.dataframe[1].value  # top-5, then the faithfulness table
    assert list(faith["deletion verdict"]) == ["too few maps"] and 0 <= faith["p (deletion)"][0] <= 1
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels.count("PNG") >= 2  # the map, the filter grid
    assert len(at.get("image")) >= 2 and len(at.get("plotly_chart")) == 1  # map + filters; deletion curves
    # Results survive a rerun: changing the opacity recomputes nothing.
    at.slider(key=state.SAL_OPACITY).set_value(0.3).run()
    assert not at.exception and cells(at)[key] is cell
    # Another target class: a new map next to the stored one.
    at.selectbox(key=state.SAL_TARGET).set_value(281).run()
    assert not at.exception and (key[0], LITE, "grad_cam", 281, *key[4:]) in cells(at) and key in cells(at)
    # A layer that is not in the model: its real top-level modules in an error, the rest of the page intact.
    at.text_input(key=state.SAL_LAYER).input("nope").run()
    assert not at.exception and any("'nope' is not in this model" in e.value and "stages" in e.value for e in at.error)


def test_bad_upload_is_an_error_and_the_page_keeps_working():
    at = AppTest.from_file(str(APP), default_timeout=APP_TIMEOUT_S)
    at.session_state[state.SAL_METHODS] = ["saliency"]
    at.session_state[state.SAL_RANDOM_MAPS] = 2
    at.session_state[state.SAL_SOURCE] = "upload"
    at.switch_page(PAGE).run()
    assert not at.exception and any("Upload a photo" in i.value for i in at.info)
    buffer = io.BytesIO()
    Image.open(get_sample("chelsea").path).resize((160, 120)).save(buffer, format="JPEG")
    good = ("cat.jpg", buffer.getvalue(), "image/jpeg")
    at.file_uploader(key=state.SAL_UPLOAD).set_value(good).run()
    assert not at.exception and not at.error and len(cells(at)) == 1
    stored = dict(cells(at))
    at.file_uploader(key=state.SAL_UPLOAD).set_value(("bad.png", b"not an image", "image/png")).run()
    assert not at.exception
    assert any("not an image" in e.value for e in at.error)
    assert dict(cells(at)) == stored  # nothing lost
    at.file_uploader(key=state.SAL_UPLOAD).set_value(good).run()  # back to the good photo: shown again, not recomputed
    assert not at.exception and not at.error and all(cells(at)[k] is v for k, v in stored.items())
    assert len(at.get("image")) >= 2  # the map and the filter grid


def test_class_maximisation_runs_on_demand():
    at = saliency_app(["grad_cam"])
    at.slider(key=state.SAL_FV_STEPS).set_value(10)
    at.select_slider(key=state.SAL_FV_SIZE).set_value(64)
    at.button(key=state.SAL_FV_RUN).click().run()
    assert not at.exception and not at.error
    [(key, result)] = at.session_state[state.SAL_FV_RESULTS].items()
    assert key == (LITE, 282, 10, 64) and result.image.shape == (64, 64, 3) and len(result.scores) == 10


def test_choices_and_upload_survive_a_visit_to_another_page():
    at = saliency_app(["saliency"])
    at.slider(key=state.SAL_OPACITY).set_value(0.3).run()
    at.radio(key=state.SAL_SOURCE).set_value("upload").run()
    buffer = io.BytesIO()
    Image.open(get_sample("coffee").path).resize((160, 120)).save(buffer, format="JPEG")
    at.file_uploader(key=state.SAL_UPLOAD).set_value(("mug.jpg", buffer.getvalue(), "image/jpeg")).run()
    assert not at.exception
    at.switch_page("app_pages/models.py").run()
    at.switch_page(PAGE).run()
    assert not at.exception and not at.error
    assert at.slider(key=state.SAL_OPACITY).value == 0.3
    assert at.multiselect(key=state.SAL_METHODS).value == ["saliency"]
    assert at.radio(key=state.SAL_SOURCE).value == "upload"
    assert any("mug.jpg, uploaded before you left" in unescaped(c.value) for c in at.caption)


def test_grad_cam_on_the_classifier_and_a_hostile_layer_name_are_plain_messages():
    at = saliency_app(["grad_cam"])
    at.text_input(key=state.SAL_LAYER).input("classifier").run()
    assert not at.exception
    assert any("gives a 1x1000 output, not a spatial map" in unescaped(e.value) and "head" in e.value for e in at.error)
    hostile = "**bold** [link](http://example.invalid/) ![t](http://127.0.0.1:9/x.png)"
    at.text_input(key=state.SAL_LAYER).input(hostile).run()
    assert not at.exception
    [error] = [e.value for e in at.error if hostile in unescaped(e.value)]
    assert_no_markdown(error)


def test_class_maximisation_at_a_size_the_model_refuses_says_so(monkeypatch):
    """ViT takes 224 px only; the feature-visualisation sizes are smaller: a message, not its AssertionError."""
    from cvcore.input_sizes import InputSizeError

    at = saliency_app(["saliency"])
    monkeypatch.setattr(
        "cvcore.input_sizes.check_input_size",  # the page imports it on each run
        lambda spec, size: (_ for _ in ()).throw(InputSizeError(f"{spec.display_name} cannot take a {size[0]}x{size[1]} input")),
    )
    at.button(key=state.SAL_FV_RUN).click().run()
    assert not at.exception and any("cannot take a 128x128 input" in e.value for e in at.error)


def test_a_fast_mode_checks_each_top1_against_fp32_and_keeps_its_maps_apart():
    at = AppTest.from_file(str(APP), default_timeout=APP_TIMEOUT_S)
    at.session_state[state.SAL_METHODS] = ["grad_cam"]
    at.session_state[state.RUNTIME_PRECISION] = "bf16"
    at.switch_page(PAGE).run()
    assert not at.exception and not at.error
    [(key, fast)] = at.session_state[state.SAL_FAST_CLASSIFY].items()
    exact = at.session_state[state.SAL_CLASSIFY][key[:2]]
    assert key[1:] == (LITE, "bf16") and fast.mode == "bf16" and exact.mode == "fp32"
    verdict = "top-1 equal to fp32" if fast.top1.index == exact.top1.index else "top-1 differs from fp32"
    assert any(c.value.startswith(f"bf16: {verdict} (fp32 eager run on the same photo: {exact.top1.label}") for c in at.caption)
    assert any("Maps: eager fp32" in c.value for c in at.caption)
    [cell_key] = cells(at)
    assert cell_key[1:3] == (LITE, "grad_cam") and cell_key[-1] == "bf16"  # the curves ran in bf16: stored apart from fp32's


def test_a_second_session_gets_the_first_ones_maps_without_computing_them(monkeypatch):
    """Maps are shared by every session (same photo bytes, model, weights, method, target, mode): a reload computes none."""
    import cvcore.attribution
    from dashboard.common import shared_results

    shared_results().clear()
    calls, scored = [], []
    real, real_scores = cvcore.attribution.explain_photo, cvcore.attribution.score_results
    monkeypatch.setattr(cvcore.attribution, "explain_photo", lambda *a, **k: calls.append((a[3], k["curves"])) or real(*a, **k))
    monkeypatch.setattr(cvcore.attribution, "score_results", lambda *a, **k: scored.append(len(a[2])) or real_scores(*a, **k))
    first = saliency_app(["grad_cam"])
    # The map without its curves first; then the curves of all the model's maps in one batched call.
    assert not first.exception and calls == [(["grad_cam"], False)] and scored == [1]
    second = saliency_app(["grad_cam"])  # another browser session
    assert not second.exception and not second.error and calls == [(["grad_cam"], False)] and scored == [1]
    [(key, cell)] = cells(first).items()
    assert cells(second)[key] is cell
    result, view = cell
    assert not view.flags.writeable and not result.attribution.values.flags.writeable
    assert any("deletion AUC" in c.value for c in second.caption)
