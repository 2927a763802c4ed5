"""The same sweep on a Ray cluster: one task per (model, device), rows back into the caller's store.

Each task re-plans its one model on the node that runs it (the node's own catalogue and
cvcore), runs it with :func:`cvcore.benchmark.sweep.iter_sweep` (one measuring process per
configuration, as locally) and returns the node's environment manifest with its rows; a
CPU task asks Ray for as many CPUs as the sweep's torch threads, a GPU task for one GPU.
Rows arrive as tasks finish and are stored then. Ray is imported only by
:func:`cvcore.distributed.ray_session`, when ``--ray`` was given.
"""

from __future__ import annotations

from collections.abc import Iterator

from cvcore.benchmark.results import BenchmarkRow, Environment
from cvcore.benchmark.sweep import SweepPlan


def _model_sweep(name: str, input_size: tuple[int, int], options: dict) -> tuple[dict, list[dict]]:
    """One model's sweep on the node running this task: its environment and its rows, as plain dicts."""
    from cvcore.benchmark.sweep import iter_sweep, plan_sweep, sweep_environment

    plan = plan_sweep([name], input_size=input_size, **options)
    env = sweep_environment(plan)
    return env.__dict__, [row.to_dict() for row in iter_sweep(plan, host=env.host)]


def ray_rows(plan: SweepPlan, address: str = "auto") -> Iterator[tuple[Environment, BenchmarkRow]]:
    """``(environment, row)`` of every configuration of ``plan``, computed by Ray tasks, as each task finishes."""
    from cvcore.distributed import ray_session

    with ray_session(address) as ray:
        cuda = plan.device.startswith("cuda")
        task = ray.remote(_model_sweep).options(num_cpus=1 if cuda else plan.threads, num_gpus=1 if cuda else 0)
        options = dict(
            batch_sizes=plan.batch_sizes, modes=plan.modes, device="cuda" if cuda else plan.device, threads=plan.threads,
            repeats=plan.repeats, warmup_runs=plan.warmup_runs, memory_cap_mb=plan.memory_cap_mb,
        )  # fmt: skip
        pending = [task.remote(spec.name, size, options) for spec, size in plan.models]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            env_dict, rows = ray.get(done[0])
            env = Environment.from_dict(env_dict)
            for row in rows:
                yield env, BenchmarkRow.from_dict(row)
