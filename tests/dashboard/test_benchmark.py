"""Benchmark page: a real tiny sweep run from the page, and stored sweeps of two machines side by side."""

import dataclasses

import pytest

from cvcore.benchmark.results import OK, BenchmarkRow, Environment
from cvcore.benchmark.store import SweepWriter, list_sweeps
from dashboard import state
from tests.dashboard.conftest import unescaped

PAGE = "app_pages/benchmark.py"


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("CVLENS_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_an_empty_store_says_how_to_fill_it(home, page_app):
    at = page_app(PAGE)
    assert not at.exception and not at.error
    assert any("No stored results yet" in i.value for i in at.info)


def test_a_sweep_run_from_the_page_is_stored_and_drawn(home, page_app):
    at = page_app(PAGE)
    at.multiselect(key=state.BENCH_MODELS).set_value(["lenet5", "resnet18"])
    at.multiselect(key=state.BENCH_BATCHES).set_value([1, 2])
    at.number_input(key=state.BENCH_SIDE).set_value(32)
    at.number_input(key=state.BENCH_REPEATS).set_value(2)
    at.button(key=state.BENCH_RUN).click().run()
    assert not at.exception and not at.error
    (stored,) = list_sweeps()
    assert [(r.model, r.batch_size, r.status) for r in stored.rows] == [
        ("lenet5", 1, OK), ("lenet5", 2, OK), ("resnet18", 1, OK), ("resnet18", 2, OK)
    ]  # fmt: skip
    assert any(stored.id in unescaped(s.value) for s in at.success)
    table = at.dataframe[0].value
    assert list(table["model"]) == ["lenet5", "lenet5", "resnet18", "resnet18"]
    assert list(table["images/s"]) == pytest.approx([r.images_per_s for r in stored.rows])
    assert len(at.get("plotly_chart")) >= 4  # time, memory, throughput, multiply-adds vs time
    energy = [unescaped(i.value) for i in at.info if "Energy per image" in unescaped(i.value)]
    assert energy == [] or "not measurable here" in energy[0]  # no RAPL here: said so, no number


def fake_row(model: str, host: str, batch: int, ms: float) -> BenchmarkRow:
    return BenchmarkRow(model=model, display_name=model, device="cpu", mode="fp32", batch_size=batch, input_size=(224, 224),
                        status=OK, host=host, latency_median_ms=ms, images_per_s=batch * 1000 / ms, peak_memory_mb=100.0,
                        gmacs_per_image=1.8, mparams=11.7, top1_pct=69.8, times_ms=(ms,))  # fmt: skip


def store_machine(host: str, ms: float) -> str:
    env = Environment(
        host, "Some CPU", 8, 8, "", "", "", "2.14.1", "0.29.1", "0.1.0", "3.11", "Linux", "2026-12-01T00:00:00+00:00"
    )
    writer = SweepWriter()
    writer.add_sweep({"models": ["resnet18"], "device": "cpu", "configurations": 2})
    writer.add_environment(env)
    for batch in (1, 2):
        writer.add_row(fake_row("resnet18", host, batch, ms * batch))
    return writer.path.stem


def test_two_machines_side_by_side(home, page_app):
    laptop, lab = store_machine("laptop", 30.0), store_machine("lab", 3.0)
    at = page_app(PAGE)
    at.multiselect(key=state.BENCH_SWEEPS).set_value([laptop, lab]).run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert sorted(set(table["machine"])) == ["lab (Some CPU, 8 threads)", "laptop (Some CPU, 8 threads)"]
    assert len(table) == 4
    assert dataclasses.replace(fake_row("resnet18", "lab", 1, 3.0)).images_per_s in list(table["images/s"])
