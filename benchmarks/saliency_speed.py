"""Speed of the attribution methods: EfficientNet-Lite0, 224 px, CPU with 2 threads by default.

Goals (issue 5): Saliency and Grad-CAM under 0.5 s per map; Integrated Gradients at its
default settings (batched) under 5 s. Since issue 10 the default is adaptive, at most 64
steps (4 path pieces of 8, then halving the worst piece until the map adds up to 5%), where
it was 32 equal steps; ``--ig-32`` also times the old setting, interleaved, for the ratio. Each method is run ``--warmup`` times first (oneDNN builds its
kernels for each new shape on the first calls, which take seconds), then ``--runs``
times; the median wall-clock time of the whole :func:`cvcore.attribution.explain` call
(per-call model copy included) is printed next to its goal, with the minimum and the
process CPU time. The load average is printed too: on a shared machine other processes
slow every figure down (wall time well above CPU time / threads means we waited for a core).

OpenMP's default wait policy spins at every barrier; on cores shared with other busy
processes a thread then burns its time slice waiting for a descheduled sibling, and one
fwd+bwd pass of Lite0 measured 0.1 s to 3.2 s depending on the neighbours. The script
therefore sets ``OMP_WAIT_POLICY=PASSIVE`` (before torch loads) unless told otherwise
with ``--omp-wait-policy default``; the same variable helps the dashboard on such machines.

    python benchmarks/saliency_speed.py [--threads 2] [--runs 7] [--device cpu] [--all] [--omp-wait-policy passive]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

GOALS_S = {"saliency": 0.5, "grad_cam": 0.5, "integrated_gradients": 5.0}
IG_32 = ("integrated_gradients", {"n_steps": 32, "segments": 1, "adaptive": False})  # the pre-issue-10 default
FAST_EXTRA = ("guided_backprop", "guided_grad_cam", "smoothgrad", "gradient_shap", "occlusion")


def measure(model, batch, method: str, target: int, runs: int, warmup: int, settings=None) -> tuple[list[float], list[float]]:
    """(wall seconds, process CPU seconds) of each timed run."""
    from cvcore.attribution import explain
    from cvcore.device import synchronize

    for _ in range(warmup):
        explain(model, batch, method, target, family="EfficientNet-Lite", settings=settings)
    wall, cpu = [], []
    for _ in range(runs):
        synchronize(batch.device)
        start, start_cpu = time.perf_counter(), time.process_time()
        explain(model, batch, method, target, family="EfficientNet-Lite", settings=settings)
        synchronize(batch.device)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return wall, cpu


def ig_ratio(model, batch, target: int, runs: int, warmup: int) -> None:
    """The default IG against the old 32 equal steps, run alternately so that both see the same load."""
    from cvcore.attribution import explain

    method, old = IG_32
    configs = {"default": None, "32 equal steps": old}
    wall: dict[str, list[float]] = {label: [] for label in configs}
    cpu: dict[str, list[float]] = {label: [] for label in configs}
    for settings in configs.values():
        measure(model, batch, method, target, 0, warmup, settings)
    for _ in range(runs):
        for label, settings in configs.items():
            w, c = measure(model, batch, method, target, 1, 0, settings)
            wall[label] += w
            cpu[label] += c
    for label, settings in configs.items():
        completeness = explain(model, batch, method, target, settings=settings).completeness
        print(f"IG {label:<16} {statistics.median(wall[label]):>7.3f} s wall, {statistics.median(cpu[label]):>7.3f} s CPU "
              f"(medians)  {completeness.describe()}")  # fmt: skip
    for what, times in (("wall", wall), ("CPU", cpu)):
        ratio = statistics.median(a / b for a, b in zip(times["default"], times["32 equal steps"]))
        print(f"IG default / 32 equal steps, {what} time: {ratio:.2f}x (median of paired runs)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per method (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs per method first (default: %(default)s)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, ... (default: %(default)s)")
    parser.add_argument("--all", action="store_true", help="also time the other methods (no goals)")
    parser.add_argument("--ig-32", action="store_true", help="also time IG at the old default, 32 equal steps (no goal)")
    parser.add_argument(
        "--omp-wait-policy", choices=("passive", "active", "default"), default="passive",
        help="OMP_WAIT_POLICY for this run; 'default' leaves the environment as it is (default: %(default)s)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.omp_wait_policy != "default":
        if "torch" in sys.modules:
            raise RuntimeError("OMP_WAIT_POLICY must be set before torch is imported")
        os.environ["OMP_WAIT_POLICY"] = args.omp_wait_policy.upper()

    import torch
    from PIL import Image

    from cvcore.classify import classify
    from cvcore.device import resolve_device
    from cvcore.registry import get_spec
    from cvcore.samples import get_sample
    from cvcore.weights import load_model

    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    spec = get_spec("efficientnet_lite0")
    model = load_model(spec.name, device=device)
    top = classify(model, Image.open(get_sample("chelsea").path), spec, k=1)
    batch, target = top.inputs, top.top1.index
    print(f"EfficientNet-Lite0, input {tuple(batch.shape)}, target {top.top1.label} ({target}), device {device}, "
          f"torch {torch.__version__} with {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")  # fmt: skip
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (cores on this machine: {os.cpu_count()}), "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}")  # fmt: skip
    methods = list(GOALS_S) + (list(FAST_EXTRA) if args.all else [])
    print(f"{'method':<22} {'median s':>9} {'min s':>7} {'max s':>7} {'CPU s':>7}  goal (on the median)")
    failed = []
    for method in methods:
        times, cpu = measure(model, batch, method, target, args.runs, args.warmup)
        median = statistics.median(times)
        goal = GOALS_S.get(method)
        verdict = "" if goal is None else f"< {goal:.1f} s: {'met' if median < goal else 'NOT met'}"
        if goal is not None and median >= goal:
            failed.append(method)
        print(f"{method:<22} {median:>9.3f} {min(times):>7.3f} {max(times):>7.3f} {statistics.median(cpu):>7.3f}  {verdict}")
    if args.ig_32:
        ig_ratio(model, batch, target, args.runs, args.warmup)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("all goals met" if not failed else f"goals not met: {', '.join(failed)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
