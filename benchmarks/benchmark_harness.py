"""Does cvlens's benchmark harness add anything to the time it reports? (issue 13)

    python benchmarks/benchmark_harness.py [--models resnet50 mobilenet_v3_large] [--batches 1 8] [--rounds 3]
                                           [--repeats 10] [--warmup 3] [--threads N]

For each model and batch size, in interleaved rounds (the order alternating from round to
round, so that load from other processes hits both alike):

- cvlens: ``cvcore.benchmark`` sweeps the one configuration (fp32, a fresh measuring
  process, the row's median latency), exactly what ``python -m cvcore benchmark`` reports;
- plain: a hand-written loop without cvcore, also in a fresh process (``python -c``, so that
  both sides start from the same process state): torchvision's model with random weights,
  ``torch.inference_mode``, warm-up, ``time.perf_counter`` around each call.

Printed: both medians, the median of the per-round ratios cvlens / plain (goal: within 5%
of 1, the harness adds nothing), the achieved GFLOP/s (2 x counted multiply-adds x batch /
median time) and its share of the GEMM peak that the same sweep measured on this device.
On a machine shared with other busy processes single rounds are noisy: read the median ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the tests and the dashboard run
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


PLAIN_LOOP = """
import statistics, sys, time
import torch, torchvision
name, batch, size, warmup, repeats, threads = sys.argv[1], *map(int, sys.argv[2:])
torch.set_num_threads(threads)
model = getattr(torchvision.models, name)(weights=None).eval()
x = torch.randn(batch, 3, size, size)
times = []
with torch.inference_mode():
    for _ in range(warmup):
        model(x)
    for _ in range(repeats):
        start = time.perf_counter()
        model(x)
        times.append((time.perf_counter() - start) * 1000.0)
print(statistics.median(times))
"""


def plain_median_ms(name: str, batch: int, size: int, warmup: int, repeats: int, threads: int) -> float:
    import subprocess

    args = [str(v) for v in (name, batch, size, warmup, repeats, threads)]
    done = subprocess.run([sys.executable, "-c", PLAIN_LOOP, *args], capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def cvlens_row(name: str, batch: int, warmup: int, repeats: int, threads: int):
    from cvcore.benchmark.sweep import plan_sweep, run_sweep

    (row,) = run_sweep(plan_sweep([name], [batch], ["fp32"], repeats=repeats, warmup_runs=warmup, threads=threads))
    if not row.ok:
        raise SystemExit(f"{name} batch {batch}: {row.status}: {row.note}")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["resnet50", "mobilenet_v3_large"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int)
    args = parser.parse_args()

    import torch

    threads = args.threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    from cvcore.benchmark.environment import environment

    env = environment("cpu", threads)
    print(
        f"# {env.machine}, torch {env.torch_version}, torchvision {env.torchvision_version}, {env.cpu_cores_logical} logical cores"
    )
    print(f"# {args.rounds} interleaved rounds of {args.warmup} warm-up + {args.repeats} timed runs each, fp32, 224x224, CPU")
    header = f"{'model':<20} {'batch':>5} {'cvlens ms':>10} {'plain ms':>10} {'ratio':>6} {'ratio range':>13} {'GFLOP/s':>8} {'GEMM peak':>9} {'share':>6}"
    print(header)
    print("-" * len(header))
    worst = 0.0
    for name in args.models:
        for batch in args.batches:
            ratios, ours, theirs, rows = [], [], [], []
            for round_number in range(args.rounds):
                order = ("cvlens", "plain") if round_number % 2 == 0 else ("plain", "cvlens")
                measured = {}
                for side in order:
                    if side == "cvlens":
                        rows.append(cvlens_row(name, batch, args.warmup, args.repeats, threads))
                        measured[side] = rows[-1].latency_median_ms
                    else:
                        measured[side] = plain_median_ms(name, batch, 224, args.warmup, args.repeats, threads)
                ours.append(measured["cvlens"])
                theirs.append(measured["plain"])
                ratios.append(measured["cvlens"] / measured["plain"])
            ratio = statistics.median(ratios)
            worst = max(worst, abs(ratio - 1.0))
            row = rows[ratios.index(sorted(ratios)[len(ratios) // 2])] if len(ratios) % 2 else rows[-1]
            print(
                f"{name:<20} {batch:>5} {statistics.median(ours):>10.1f} {statistics.median(theirs):>10.1f} {ratio:>6.3f} "
                f"{min(ratios):>6.3f}-{max(ratios):<6.3f} {row.achieved_gflops_per_s:>8.1f} {row.gemm_peak_gflops_per_s:>9.1f} "
                f"{100 * row.peak_share:>5.1f}%"
            )
    verdict = "within" if worst <= 0.05 else "NOT within"
    print(f"\nGoal: cvlens's median latency within 5% of the plain loop's; largest distance of a median ratio from 1: "
          f"{100 * worst:.1f}% ({verdict} 5%).")  # fmt: skip
    print("GFLOP/s: 2 x multiply-adds counted by cvcore (papers' convention) x batch / cvlens's median time; "
          "share: of the fp32 GEMM peak (1024x1024 matmul, best of 5) measured in the same sweep.")  # fmt: skip


if __name__ == "__main__":
    main()
