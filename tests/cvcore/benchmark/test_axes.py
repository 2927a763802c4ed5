"""Compare's measured axes: a stored sweep's rows joined to the compared models, exactly the file's numbers, gaps named."""

import io
import json
from contextlib import redirect_stderr, redirect_stdout

import pytest

from cvcore import compare
from cvcore.benchmark.axes import NOT_MEASURED, ResultSelection, measured_models, result_options
from cvcore.benchmark.store import SweepWriter, load_sweep, read_sweep_file
from cvcore.cli import main
from cvcore.errors import InvalidInputError
from cvcore.formatting import to_csv
from cvcore.registry import get_spec
from tests.cvcore.benchmark.conftest import make_environment, store_results

MODELS = ["resnet18", "mobilenet_v3_large", "vgg16", "alexnet"]  # alexnet: not in the file; vgg16: out of memory at 4


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("CVLENS_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def rows_in_file(path) -> dict:
    """The file's row records, read with json alone: (model, mode, batch) -> record."""
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {(r["model"], r["mode"], r["batch_size"]): r for r in records if r["record"] == "row"}


def specs(names):
    return [get_spec(n, metadata_only=True) for n in names]


def test_joined_values_are_the_rows_numbers(home):
    path = store_results()
    on_file = rows_in_file(path)
    for mode in ("fp32", "bf16"):
        joined = measured_models(load_sweep("lab-sweep"), specs(["resnet18"]), ResultSelection(4, mode))
        row, m = on_file[("resnet18", mode, 4)], joined.measured["resnet18"]
        assert (m.images_per_s, m.latency_median_ms, m.latency_p10_ms, m.latency_p90_ms, m.peak_memory_mb) == (
            row["images_per_s"], row["latency_median_ms"], row["latency_p10_ms"], row["latency_p90_ms"], row["peak_memory_mb"]
        )  # fmt: skip
    joined = measured_models(load_sweep(path), specs(MODELS), ResultSelection(4))  # a path works as well as an id
    points = compare.model_points(specs(MODELS), measured={}, benchmark=joined)
    for key, field in (("throughput", "images_per_s"), ("latency", "latency_median_ms"), ("memory", "peak_memory_mb")):
        chart = compare.chart_data(points, x=key, axes=compare.benchmark_axes(joined))
        assert {cp.point.name: cp.x for cp in chart.points} == {
            m: on_file[(m, "fp32", 4)][field] for m in ("resnet18", "mobilenet_v3_large")
        }
    latency = {cp.point.name: cp for cp in compare.chart_data(points, x="latency").points}["mobilenet_v3_large"]
    assert (latency.x_low, latency.x_high) == (on_file[("mobilenet_v3_large", "fp32", 4)]["latency_p10_ms"], 35.0)


def test_models_the_file_did_not_measure_are_named_never_drawn_at_zero(home):
    store_results()
    joined = measured_models(load_sweep("lab-sweep"), specs(MODELS), ResultSelection(4))
    assert set(joined.measured) == {"resnet18", "mobilenet_v3_large"}
    assert joined.not_measured["alexnet"].startswith(NOT_MEASURED) and "batch 4" in joined.not_measured["alexnet"]
    assert "out of memory" in joined.not_measured["vgg16"] and "DefaultCPUAllocator" in joined.not_measured["vgg16"]
    points = compare.model_points(specs(MODELS), measured={}, benchmark=joined)
    chart = compare.chart_data(points, x="throughput", axes=compare.benchmark_axes(joined))
    assert [cp.point.name for cp in chart.points] == ["resnet18", "mobilenet_v3_large"]
    assert set(chart.not_plotted) == {"vgg16", "alexnet"}
    assert "AlexNet: not measured here" in chart.not_plotted["alexnet"] and "out of memory" in chart.not_plotted["vgg16"]
    table = compare.delta_table(points, "resnet18", ["acc@1", "throughput"], axes=compare.benchmark_axes(joined))
    alexnet = next(r for r in table.rows if r["model"] == "AlexNet")
    assert alexnet["throughput"] is None and alexnet["throughput_source"].startswith(NOT_MEASURED)
    # At batch 1 VGG-16 ran: it is drawn there.
    at_1 = measured_models(load_sweep("lab-sweep"), specs(MODELS), ResultSelection(1))
    assert set(at_1.measured) == {"resnet18", "mobilenet_v3_large", "vgg16"}


def test_labels_and_caption_name_the_machine_file_batch_and_mode(home):
    path = store_results()
    joined = measured_models(load_sweep("lab-sweep"), specs(MODELS), ResultSelection(4))
    machine = make_environment().machine
    assert machine == "lab-laptop (Test CPU 9000, 2 threads)" and joined.machine == machine
    axes = compare.benchmark_axes(joined)
    points = compare.model_points(specs(MODELS), measured={}, benchmark=joined)
    for key in compare.BENCHMARK_AXES:
        chart = compare.chart_data(points, x=key, axes=axes)
        label = compare.accuracy_figure(chart).layout.xaxis.title.text
        assert machine in label and "batch 4" in label and "fp32" in label, label
        assert machine in chart.caption and path.name in chart.caption and "batch 4" in chart.caption, chart.caption
    table = compare.delta_table(points, "resnet18", ["acc@1", "latency"], axes=axes)
    assert machine in table.caption and path.name in table.caption
    assert table.rows[1]["latency_ratio"] == round(30.0 / 70.0, 3)  # other quantities as ratios, not points


def test_latency_has_p10_p90_error_bars_and_throughput_a_front_at_more_of_both(home):
    store_results()
    joined = measured_models(load_sweep("lab-sweep"), specs(["resnet18", "mobilenet_v3_large", "vgg16"]), ResultSelection(1))
    points = compare.model_points(
        joined_specs := specs(["resnet18", "mobilenet_v3_large", "vgg16"]), measured={}, benchmark=joined
    )
    fig = compare.accuracy_figure(compare.chart_data(points, x="latency", axes=compare.benchmark_axes(joined)))
    on_file = {(m, b): r for (m, mode, b), r in rows_in_file(load_sweep("lab-sweep").path).items() if mode == "fp32"}
    for trace in (t for t in fig.data if "markers" in (t.mode or "")):
        for x, plus, minus in zip(trace.x, trace.error_x.array, trace.error_x.arrayminus):
            row = next(r for (m, b), r in on_file.items() if b == 1 and r["latency_median_ms"] == x)
            assert (plus, minus) == pytest.approx((row["latency_p90_ms"] - x, x - row["latency_p10_ms"]))
    # Throughput is better higher: the front is the models no other beats on both throughput and top-1.
    chart = compare.chart_data(points, x="throughput")
    pairs = {cp.point.name: (cp.x, cp.y) for cp in chart.points}
    beaten = {n for n, (x, y) in pairs.items() if any(ox >= x and oy >= y and (ox, oy) != (x, y) for ox, oy in pairs.values())}
    assert set(chart.front) == set(pairs) - beaten and len(joined_specs) == len(pairs)


def test_other_weights_of_a_measured_architecture_use_its_row_and_say_so(home):
    store_results()
    (spec,) = specs(["resnet50.IMAGENET1K_V1"])
    joined = measured_models(load_sweep("lab-sweep"), [spec], ResultSelection(4))
    assert joined.measured[spec.name].model == "resnet50" and joined.measured[spec.name].latency_median_ms == 150.0
    (point,) = compare.model_points([spec], measured={}, benchmark=joined)
    assert "row of resnet50" in point.quantities["throughput"].source


def test_a_real_tiny_sweep_stored_and_joined(home, tiny_rows):
    plan, rows = tiny_rows
    writer = SweepWriter(sweep_id="tiny")
    writer.add_environment(make_environment(rows[0].host))
    for row in rows:
        writer.add_row(row)
    joined = measured_models(load_sweep("tiny"), specs(["resnet18", "lenet5"]), ResultSelection(2, "channels_last"))
    on_file = rows_in_file(writer.path)
    for name in ("resnet18", "lenet5"):
        assert joined.measured[name].images_per_s == on_file[(name, "channels_last", 2)]["images_per_s"] > 0
        assert joined.measured[name].input_size == (32, 32)  # not the model's own size: the source says which


def test_a_bad_selection_or_file_is_a_clear_error(home, tmp_path):
    store_results()
    stored = load_sweep("lab-sweep")
    with pytest.raises(InvalidInputError, match=r"no rows at batch 3; its batch sizes: 1, 4"):
        measured_models(stored, specs(MODELS), ResultSelection(3))
    with pytest.raises(InvalidInputError, match=r"has no mode 'fp16'; it has: fp32, bf16"):
        measured_models(stored, specs(MODELS), ResultSelection(4, "fp16"))
    with pytest.raises(InvalidInputError, match=r"has no device 'cuda:0'; it has: cpu"):
        measured_models(stored, specs(MODELS), ResultSelection(4, device="cuda:0"))
    with pytest.raises(InvalidInputError, match="No stored sweep 'gone'"):
        load_sweep("gone")
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_bytes(b'\x89PNG\r\n\x1a\n\x00\xff not json\n{"record": "row", "model": 3}\n')
    with pytest.raises(InvalidInputError, match=r"garbage.jsonl holds no benchmark rows \(\d+ damaged line\(s\)\)"):
        measured_models(read_sweep_file(garbage), specs(MODELS), ResultSelection(1))
    # A file cut short keeps its readable rows, and says what it skipped.
    path = stored.path
    path.write_text(path.read_text()[:-40])
    cut = measured_models(load_sweep("lab-sweep"), specs(MODELS), ResultSelection(1))
    assert "vgg16" in cut.measured and len(cut.problems) == 1


def test_a_file_of_several_machines_asks_which(home, tmp_path):
    shared = tmp_path / "shared.jsonl"
    store_results("laptop", "laptop", extra_paths=[shared])
    store_results("lab", "lab-gpu-box", rows={("resnet18", "fp32", 4): (7.0, 6.5, 8.0, 90.0)}, extra_paths=[shared])
    stored = read_sweep_file(shared)
    assert set(result_options(stored).hosts) == {"laptop", "lab-gpu-box"}
    with pytest.raises(InvalidInputError, match="several machines .*laptop, lab-gpu-box.*choose one"):
        measured_models(stored, specs(["resnet18"]), ResultSelection(4))
    lab = measured_models(stored, specs(["resnet18"]), ResultSelection(4, host="lab-gpu-box"))
    assert lab.measured["resnet18"].latency_median_ms == 7.0 and lab.machine.startswith("lab-gpu-box")


def cli(argv):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def test_the_cli_draws_the_same_axis_from_the_stored_file(home, tmp_path):
    path = store_results()
    html = tmp_path / "chart.html"
    argv = ["compare", *MODELS, "--x", "throughput", "--benchmark", "lab-sweep", "--batch", "4", "--format", "json"]
    code, out, err = cli([*argv, "--html", str(html)])
    assert code == 0
    rows = {r["model"].removesuffix(" (baseline)"): r for r in json.loads(out)}
    on_file = rows_in_file(path)
    assert rows["ResNet-18"]["throughput"] == round(on_file[("resnet18", "fp32", 4)]["images_per_s"], 4)
    assert rows["AlexNet"]["throughput"] is None and "AlexNet: not measured here" in err
    page = html.read_text()
    assert "lab-laptop (Test CPU 9000, 2 threads)" in page and "lab-sweep.jsonl" in page
    code, csv_out, _ = cli([*argv[:-2], "--x", "memory", "--format", "csv"])
    assert code == 0 and "Peak memory (MiB)" in csv_out.splitlines()[0]


def test_the_delta_table_csv_carries_the_measured_column(home):
    store_results()
    joined = measured_models(load_sweep("lab-sweep"), specs(MODELS), ResultSelection(4))
    points = compare.model_points(specs(MODELS), measured={}, benchmark=joined)
    csv = to_csv(compare.delta_table(points, "resnet18", ["acc@1", "latency"], axes=compare.benchmark_axes(joined)))
    header, first = csv.splitlines()[:2]
    assert "Latency (ms, median)" in header and "Latency ÷ base" in header and ",70.0," in first
