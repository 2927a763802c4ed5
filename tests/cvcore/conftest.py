"""Fixtures shared by the cvcore tests of more than one package."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray (2 CPUs, no dashboard) for one test module, shut down after it: the benchmark's and evaluate's --ray."""
    ray = pytest.importorskip("ray")
    from cvcore.distributed import runtime_env

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env=runtime_env())
    try:
        yield ray
    finally:
        ray.shutdown()
