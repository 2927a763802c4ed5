import pytest

from cvcore.benchmark.sweep import plan_sweep, run_sweep

TINY = dict(input_size=(32, 32), repeats=2, warmup_runs=1, threads=1)


@pytest.fixture(scope="session")
def tiny_rows():
    """One real sweep, each configuration in its own measuring process: resnet18 then lenet5 at 32 px, batch 1 and 2."""
    plan = plan_sweep(["resnet18", "lenet5"], [1, 2], ["fp32", "channels_last"], **TINY)
    return plan, run_sweep(plan)
