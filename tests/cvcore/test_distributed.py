"""Ray (cvcore.distributed): a sweep on a local Ray gives the local sweep's rows; Ray is imported only with --ray.

The Ray evaluation's tests are in tests/cvcore/evaluation/test_distributed.py.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cvcore.benchmark.sweep import plan_sweep, run_and_store, run_sweep
from tests.cvcore.benchmark.conftest import TINY
from tests.cvcore.evaluation.conftest import make_image_folder

ROOT = Path(__file__).resolve().parents[2]


def test_a_local_benchmark_does_not_import_ray(tmp_path, monkeypatch, capsys):
    """With ``import ray`` made to fail, importing cvcore and a whole local benchmark from the CLI still work."""
    from cvcore.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    monkeypatch.setenv("CVLENS_HOME", str(tmp_path))
    assert main(["benchmark", "lenet5", "--batch", "1", "--input-size", "32", "32", "--repeats", "1", "--warmup", "0"]) == 0
    assert "lenet5" in capsys.readouterr().out


def test_a_local_evaluation_does_not_import_ray(tmp_path, monkeypatch, capsys):
    from cvcore.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)
    monkeypatch.setenv("CVLENS_HOME", str(tmp_path / "home"))
    make_image_folder(tmp_path / "data", per_class=1, extra_folder=False)
    assert main(["evaluate", "-m", "efficientnet_lite0", "--data", str(tmp_path / "data"), "--bootstrap", "0", "--save"]) == 0
    assert "6 images" in capsys.readouterr().out


@pytest.mark.slow
def test_a_fresh_process_running_a_local_benchmark_and_evaluation_never_imports_ray(tmp_path):
    make_image_folder(tmp_path / "data", per_class=1, extra_folder=False)
    code = (
        "import sys, cvcore; from cvcore.cli import main; "
        "assert main(['benchmark', 'lenet5', '--batch', '1', '--input-size', '32', '32', '--repeats', '1', '--warmup', '0']) == 0; "
        f"assert main(['evaluate', '-m', 'efficientnet_lite0', '--data', {str(tmp_path / 'data')!r}, '--bootstrap', '0']) == 0; "
        "print('ray' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CVLENS_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False"


def test_the_ray_sweep_gives_the_local_sweeps_rows(local_ray, tmp_path, monkeypatch):
    from cvcore.benchmark.distributed import ray_rows
    from cvcore.benchmark.store import load_sweep

    monkeypatch.setenv("CVLENS_HOME", str(tmp_path))
    plan = plan_sweep(["lenet5", "resnet18"], [1, 2], ["fp32"], **TINY)
    local = run_sweep(plan)
    rows, sweep_id = run_and_store(plan, rows=ray_rows(plan, "auto"))
    shape = lambda rs: sorted((r.model, r.batch_size, r.mode, r.status, r.input_size, r.threads, len(r.times_ms)) for r in rs)  # noqa: E731
    assert shape(rows) == shape(local)
    assert all(
        r.latency_median_ms > 0 and r.gmacs_per_image == next(x for x in local if x.model == r.model).gmacs_per_image
        for r in rows
    )
    stored = load_sweep(sweep_id)
    assert stored.rows == rows and set(stored.environments) == {r.host for r in rows}
