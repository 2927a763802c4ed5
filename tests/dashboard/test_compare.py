"""Compare page: one bubble per selected model with both numbers, axes that follow the selectors, deltas."""

import json

from cvcore import compare
from dashboard import state
from tests.dashboard.conftest import unescaped

PAGE = "app_pages/compare.py"


def _figure(at):
    return json.loads(at.get("plotly_chart")[0].proto.spec)


def _marker_count(fig):
    return sum(len(t["x"]) for t in fig["data"] if "markers" in t.get("mode", ""))


def _like_for_like(names):
    """The points the page draws by default: each model with the weights most of them share (compare.choose_weights)."""
    return compare.model_points(compare.choose_weights(names).specs)


def test_default_seed_is_charted_one_point_per_model(page_app):
    at = page_app(PAGE)
    assert not at.exception
    expected = compare.chart_data(_like_for_like(compare.DEFAULT_SEED), "gmacs", "acc@1")
    assert _marker_count(_figure(at)) == len(expected.points) == len(compare.DEFAULT_SEED)
    deltas = at.dataframe[0].value
    assert len(deltas) == len(compare.DEFAULT_SEED)
    assert any("(baseline)" in m for m in deltas["Model"])
    assert [b.proto.label for b in at.get("download_button")] == ["Download standalone HTML", "CSV", "LaTeX"]


def test_changing_the_x_axis_changes_the_figure(page_app):
    at = page_app(PAGE)
    before = _figure(at)
    at.selectbox(key=state.COMPARE_X).select("file_size_mb").run()
    assert not at.exception
    after = _figure(at)
    assert after["layout"]["xaxis"]["title"]["text"] != before["layout"]["xaxis"]["title"]["text"]
    assert "MB" in after["layout"]["xaxis"]["title"]["text"]
    sizes = compare.chart_data(_like_for_like(compare.DEFAULT_SEED), "file_size_mb", "acc@1")
    assert _marker_count(after) == len(sizes.points)
    xs = sorted(x for t in after["data"] if "markers" in t.get("mode", "") for x in t["x"])
    assert xs == sorted(cp.x for cp in sizes.points)


def test_selection_and_segmentation_task(page_app):
    at = page_app(PAGE)
    at.multiselect(key=f"{state.COMPARE_MODELS}.classification").set_value(["resnet18", "alexnet"]).run()
    assert _marker_count(_figure(at)) == 2
    at.segmented_control(key=state.COMPARE_TASK).set_value("segmentation").run()
    assert not at.exception
    expected = compare.chart_data(_like_for_like(compare.default_selection("segmentation")), "gmacs", "miou")
    assert _marker_count(_figure(at)) == len(expected.points) > 0
    assert "IoU" in _figure(at)["layout"]["yaxis"]["title"]["text"]


def test_measured_latency_becomes_an_x_axis(page_app):
    at = page_app(PAGE)
    assert "latency_ms" not in at.selectbox(key=state.COMPARE_X).options
    at.multiselect(key=f"{state.COMPARE_MODELS}.classification").set_value(["squeezenet1_1", "mobilenet_v3_large"]).run()
    at.button(key=state.COMPARE_MEASURE).click().run()
    assert not at.exception and not at.error
    measured = at.session_state[state.COMPARE_LATENCY]
    assert set(measured) == {"squeezenet1_1", "mobilenet_v3_large"} and all(r.latency_ms > 0 for r in measured.values())
    at.selectbox(key=state.COMPARE_X).select("latency_ms").run()
    fig = _figure(at)
    assert _marker_count(fig) == 2 and "latency" in fig["layout"]["xaxis"]["title"]["text"].lower()
    table = at.dataframe[-1].value
    assert len(table) == 2 and "median (ms)" in table.columns


def test_a_failed_latency_measurement_stays_on_screen_after_the_rerun(page_app, monkeypatch):
    import cvcore.latency
    from cvcore.errors import InvalidInputError

    def fail(name, **_):
        raise InvalidInputError(f"cannot time {name} here")

    monkeypatch.setattr(cvcore.latency, "measure_latency", fail)
    at = page_app(PAGE)
    at.multiselect(key=f"{state.COMPARE_MODELS}.classification").set_value(["shufflenet_v2_x0_5"]).run()
    at.button(key=state.COMPARE_MEASURE).click().run()
    assert not at.exception
    assert any("cannot time shufflenet_v2_x0_5 here" in unescaped(e.value) for e in at.error)
    at.toggle(key=state.COMPARE_LOG_X).set_value(False).run()  # an unrelated rerun keeps the message
    assert any("cannot time shufflenet_v2_x0_5 here" in unescaped(e.value) for e in at.error)


def test_selection_survives_a_visit_to_another_page_and_task(page_app):
    at = page_app(PAGE)
    at.multiselect(key=f"{state.COMPARE_MODELS}.classification").set_value(["resnet18", "alexnet"]).run()
    at.segmented_control(key=state.COMPARE_TASK).set_value("segmentation").run()
    at.segmented_control(key=state.COMPARE_TASK).set_value("classification").run()
    assert at.multiselect(key=f"{state.COMPARE_MODELS}.classification").value == ["resnet18", "alexnet"]
    at.switch_page("app_pages/models.py").run()
    at.switch_page(PAGE).run()
    assert not at.exception
    assert at.multiselect(key=f"{state.COMPARE_MODELS}.classification").value == ["resnet18", "alexnet"]
    assert _marker_count(_figure(at)) == 2


def test_axes_task_and_baseline_survive_a_visit_to_another_page(page_app):
    at = page_app(PAGE)
    at.selectbox(key=state.COMPARE_X).select("mparams").run()
    at.toggle(key=state.COMPARE_LOG_X).set_value(False).run()
    at.selectbox(key=f"{state.COMPARE_Y}.classification").select("acc@5").run()
    at.selectbox(key=state.COMPARE_BASELINE).select("vgg16").run()
    at.switch_page("app_pages/models.py").run()
    at.switch_page(PAGE).run()
    assert not at.exception
    assert at.selectbox(key=state.COMPARE_X).value == "mparams"
    assert at.toggle(key=state.COMPARE_LOG_X).value is False
    assert at.selectbox(key=f"{state.COMPARE_Y}.classification").value == "acc@5"
    assert at.selectbox(key=state.COMPARE_BASELINE).value == "vgg16"
    assert _figure(at)["layout"]["xaxis"]["type"] != "log"
    # A baseline that is no longer selected falls back to ResNet-50 instead of failing.
    at.multiselect(key=f"{state.COMPARE_MODELS}.classification").unselect("vgg16").run()
    assert not at.exception and at.selectbox(key=state.COMPARE_BASELINE).value == "resnet50"


def test_latency_is_measured_again_in_the_sidebars_inference_mode(page_app):
    at = page_app(PAGE)
    at.multiselect(key=f"{state.COMPARE_MODELS}.classification").set_value(["squeezenet1_1"]).run()
    at.button(key=state.COMPARE_MEASURE).click().run()
    assert at.session_state[state.COMPARE_LATENCY]["squeezenet1_1"].mode == "fp32"
    at.radio(key=state.RUNTIME_PRECISION).set_value("bf16").run()
    assert any("now bf16 autocast" in c.value for c in at.caption)
    at.button(key=state.COMPARE_MEASURE).click().run()
    assert not at.exception and not at.error
    assert at.session_state[state.COMPARE_LATENCY]["squeezenet1_1"].mode == "bf16"
    assert list(at.dataframe[-1].value["mode"]) == ["bf16"]


def _top1(at, model):
    deltas = at.dataframe[0].value
    row = deltas[deltas["Model"].str.startswith(model)].iloc[0]
    return row["Weights"], row["Top-1 (%)"]


def test_weights_are_like_for_like_by_default_and_the_users_choice_sticks(page_app):
    at = page_app(PAGE)
    at.multiselect(key=f"{state.COMPARE_MODELS}.classification").set_value(["resnet18", "resnet50"]).run()
    assert not at.exception
    # ResNet-18 has only IMAGENET1K_V1: ResNet-50 is compared with its V1 (76.13%), not its V2 default (80.858%).
    assert _top1(at, "ResNet-50") == ("IMAGENET1K_V1", 76.13)
    assert at.selectbox(key=f"{state.COMPARE_WEIGHTS}.resnet50").value == "IMAGENET1K_V1"
    assert any("Like for like" in c.value for c in at.caption)
    at.selectbox(key=f"{state.COMPARE_WEIGHTS}.resnet50").select("IMAGENET1K_V2").run()
    assert not at.exception and _top1(at, "ResNet-50") == ("IMAGENET1K_V2", 80.858)
    texts = [t for trace in _figure(at)["data"] for t in trace.get("text", []) if t]
    assert "ResNet-50 [V2]" in texts  # the other recipe is marked on the point
    at.switch_page("app_pages/models.py").run()
    at.switch_page(PAGE).run()
    assert not at.exception and _top1(at, "ResNet-50") == ("IMAGENET1K_V2", 80.858)
    at.button(key=state.COMPARE_WEIGHTS_RESET).click().run()
    assert not at.exception and _top1(at, "ResNet-50") == ("IMAGENET1K_V1", 76.13)
    at.toggle(key=state.COMPARE_LIKE_FOR_LIKE).set_value(False).run()
    assert not at.exception and _top1(at, "ResNet-50") == ("IMAGENET1K_V2", 80.858)


OLD_X_AXES = ["gmacs", "gmacs_all_ops", "mparams", "file_size_mb"]  # before any latency or benchmark was measured


def test_without_stored_results_the_page_is_as_before(page_app, tmp_path, monkeypatch):
    monkeypatch.setenv("CVLENS_HOME", str(tmp_path / "empty"))
    at = page_app(PAGE)
    assert not at.exception and not at.error
    assert at.selectbox(key=state.COMPARE_X).options == [compare.X_AXES[k].label for k in OLD_X_AXES]
    assert not [w for w in at.selectbox if w.key.startswith("compare.bench")]
    assert [b.proto.label for b in at.get("download_button")] == ["Download standalone HTML", "CSV", "LaTeX"]


def test_stored_results_give_a_throughput_axis_captioned_with_the_machine(page_app, tmp_path, monkeypatch):
    from cvcore.formatting import to_csv
    from cvcore.report import load_report
    from tests.cvcore.benchmark.conftest import STORED_ROWS, make_environment, store_results
    from tests.dashboard.test_report import add, cli_csv, same_numbers

    monkeypatch.setenv("CVLENS_HOME", str(tmp_path / "home"))
    path = store_results()
    at = page_app(PAGE)
    models = ["resnet18", "mobilenet_v3_large", "vgg16", "alexnet"]
    at.multiselect(key=f"{state.COMPARE_MODELS}.classification").set_value(models).run()
    assert compare.X_AXES["throughput"].label in at.selectbox(key=state.COMPARE_X).options
    at.selectbox(key=state.COMPARE_X).select("throughput").run()
    at.selectbox(key=state.COMPARE_BENCH_BATCH).select(4).run()
    assert not at.exception and not at.error
    fig = _figure(at)
    machine = make_environment().machine
    assert machine in fig["layout"]["xaxis"]["title"]["text"] and "batch 4" in fig["layout"]["xaxis"]["title"]["text"]
    xs = sorted(x for t in fig["data"] if "markers" in t.get("mode", "") for x in t["x"])
    assert xs == sorted(4000.0 / STORED_ROWS[(m, "fp32", 4)][0] for m in ("resnet18", "mobilenet_v3_large"))
    captions = " ".join(c.value for c in at.caption)
    assert machine in captions and path.name in captions and "batch 4" in captions
    not_plotted = at.expander(key=state.COMPARE_NOT_PLOTTED)
    listed = " ".join(m.value for m in not_plotted.markdown)
    assert "AlexNet: not measured here" in listed and "VGG-16: out of memory" in listed
    assert "Throughput (images/s)" in at.dataframe[0].value.columns
    # Added to a report, the deltas' rebuild command gives the same table from the CLI; the chart's names the same rows.
    add(add(at, state.COMPARE_CHART), state.COMPARE_DELTAS)
    chart_item, deltas_item = load_report("defense").items
    words = "--x throughput --y acc@1 --benchmark lab-sweep --batch 4 --mode fp32 --machine lab-laptop --benchmark-device cpu"
    assert words in chart_item.rebuild.command and words in deltas_item.rebuild.command
    table = deltas_item.as_table()
    assert same_numbers(cli_csv(deltas_item.rebuild.command), to_csv(table), len(table.rows))
    # Latency: median with p10-p90 bars, in the chosen mode.
    at.selectbox(key=state.COMPARE_X).select("latency").run()
    at.selectbox(key=state.COMPARE_BENCH_MODE).select("bf16").run()
    fig = _figure(at)
    (trace,) = [t for t in fig["data"] if "markers" in t.get("mode", "")]
    median, p10, p90, _ = STORED_ROWS[("resnet18", "bf16", 4)]
    assert trace["x"] == [median] and trace["error_x"]["array"] == [p90 - median]
    assert "bf16" in fig["layout"]["xaxis"]["title"]["text"]
