"""Soak: one simulated user goes through every page with new photos and models for N minutes; RSS over time.

Goal (issue 12): memory bounded by bytes, so the server's resident memory stays flat after
warm-up however long a classroom uses it. A child process plays the server with Streamlit's
AppTest: each round is a new session (a reload, or the next student) that visits Models,
Compare, Architecture (the next catalogue model), Papers (the next paper), Segmentation and
Saliency (each with a newly generated photo upload, of a new size, and the next model whose
weights are here), and Your models. This process samples the child's VmRSS every
``--interval`` seconds and prints the curve, then the growth after warm-up (the first
``--warmup`` rounds: models, stored analysis and kernels loaded).

Growth while the byte-bounded caches fill is expected: flat means flat once they are full. So
that they fill within the run, the soak gives the shared results and the decoded photos small
budgets (``--shared-mb``, ``--photos-mb``; the server's defaults are 256 and 128 MB, which a
20-minute single user does not reach) and prints what each cache holds at the end beside
the RSS: the median of the first and of the last third of the samples after warm-up, and the
least-squares slope in MB per minute.

Run from the repository root:  python benchmarks/soak.py [--minutes 20] [--interval 10]
It needs the runtime requirements only. On a shared machine rounds take longer under load;
memory figures do not depend on it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MB = 2**20

_CHILD = r"""
import io, sys, time
sys.path.insert(0, {root!r})
import numpy as np
from PIL import Image
from streamlit.testing.v1 import AppTest
from cvcore.papers.registry import PAPERS
from cvcore.registry import Task, list_models, model_names
from cvcore.segmentation import model_choices
from cvcore.weights import weight_status
from dashboard import state

APP = {app!r}
segmenters = [m for m in model_choices() if weight_status(m).available]
classifiers = [s.name for s in list_models(Task.CLASSIFICATION) if weight_status(s.name).available]
architectures = model_names(metadata_only=True)
papers = list(PAPERS)
deadline = time.monotonic() + {seconds}
rng = np.random.default_rng(0)


def photo(i):
    side = int(rng.integers(256, 1600))
    base = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)  # smooth blobs with noise: something to classify
    image = Image.fromarray(base).resize((side, side * 3 // 4), Image.BICUBIC)
    noisy = np.clip(np.asarray(image, dtype=np.int16) + rng.integers(-20, 20, (side * 3 // 4, side, 3)), 0, 255)
    buffer = io.BytesIO()
    Image.fromarray(noisy.astype(np.uint8)).save(buffer, format="PNG")
    return (f"photo_{{i}}.png", buffer.getvalue(), "image/png")


def held_mb():
    # What the process's caches hold (MB) and how many Python objects live: where growth would come from.
    import gc
    from streamlit.runtime.caching import get_data_cache_stats_provider
    from dashboard.common import model_cache, photo_cache, shared_results

    gc.collect()
    data = sum(s.byte_length for stats in get_data_cache_stats_provider().get_stats().values() for s in stats)
    return {{
        "cache_data": data / 2**20, "models": model_cache().used_bytes / 2**20,
        "shared_results": shared_results().used_bytes / 2**20, "photos": photo_cache().used_bytes / 2**20,
        "kobjects": len(gc.get_objects()) / 1000,
    }}


def visit(at, page):
    at.switch_page(page).run()
    problems = [e.message for e in at.exception] + [e.value for e in at.error]
    return problems


i = 0
while time.monotonic() < deadline:
    at = AppTest.from_file(APP, default_timeout=900)
    at.session_state[state.ARCH_MODEL] = architectures[i % len(architectures)]
    at.session_state[state.PAPERS_PAPER] = papers[i % len(papers)]
    at.session_state[state.SEG_SOURCE] = "upload"
    at.session_state[state.SEG_MODELS] = [segmenters[i % len(segmenters)]] if segmenters else []
    at.session_state[state.SAL_SOURCE] = "upload"
    at.session_state[state.SAL_MODELS] = [classifiers[i % len(classifiers)]] if classifiers else []
    problems = []
    for page in ("app_pages/models.py", "app_pages/compare.py", "app_pages/architecture.py", "app_pages/papers.py"):
        problems += visit(at, page)
    problems += visit(at, "app_pages/segmentation.py")
    at.file_uploader(key=state.SEG_UPLOADS).set_value(photo(i)).run()
    problems += [e.message for e in at.exception] + [e.value for e in at.error]
    problems += visit(at, "app_pages/saliency.py")
    at.file_uploader(key=state.SAL_UPLOAD).set_value(photo(i)).run()
    problems += [e.message for e in at.exception] + [e.value for e in at.error]
    problems += visit(at, "app_pages/your_models.py")
    del at
    i += 1
    print(f"round {{i}} " + ("ok" if not problems else "problems: " + " | ".join(map(str, problems))[:300]), flush=True)
    print("held " + " ".join(f"{{k}}={{v:.1f}}" for k, v in held_mb().items()), flush=True)
"""


def rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024 / MB
    except OSError:
        return None
    return None


def positive_mb(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"a budget must be a positive number of MB, got {text}")
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=20.0, help="how long the user goes on (default 20)")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between RSS samples")
    parser.add_argument("--warmup", type=int, default=4, help="rounds before RSS is expected to be flat (caches full)")
    parser.add_argument("--shared-mb", type=positive_mb, default=48, help="$CVLENS_SHARED_RESULTS_MB for the run (default 48)")
    parser.add_argument("--photos-mb", type=positive_mb, default=32, help="$CVLENS_PHOTO_CACHE_MB for the run (default 32)")
    args = parser.parse_args()

    load1, load5, _ = os.getloadavg()
    print(f"Machine: {os.cpu_count()} CPU cores, load average {load1:.1f} (1 min) / {load5:.1f} (5 min)")
    code = _CHILD.format(root=str(ROOT), app=str(ROOT / "dashboard" / "app.py"), seconds=args.minutes * 60)
    with tempfile.TemporaryDirectory() as home, tempfile.TemporaryFile("w+") as log:
        env = {
            **os.environ, "CVLENS_HOME": home, "PYTHONUNBUFFERED": "1",
            "CVLENS_SHARED_RESULTS_MB": f"{args.shared_mb:g}", "CVLENS_PHOTO_CACHE_MB": f"{args.photos_mb:g}",
        }  # fmt: skip
        print(f"Budgets: shared results {args.shared_mb:g} MB, decoded photos {args.photos_mb:g} MB")
        child = subprocess.Popen(
            [sys.executable, "-c", code], cwd=ROOT, env=env, stdout=log, stderr=subprocess.DEVNULL, text=True
        )
        start, samples = time.monotonic(), []  # (seconds, RSS MB, rounds finished)
        print(f"{'time':>7s}  {'RSS':>8s}  rounds")
        while child.poll() is None:
            log.seek(0)
            lines = log.read().splitlines()
            rounds = sum(line.startswith("round ") for line in lines)
            rss = rss_mb(child.pid)
            if rss is not None:
                samples.append((time.monotonic() - start, rss, rounds))
                print(f"{samples[-1][0]:6.0f}s  {rss:6.0f} MB  {rounds}", flush=True)
            time.sleep(args.interval)
        log.seek(0)
        lines = log.read().splitlines()
    problems = [line for line in lines if line.startswith("round ") and not line.endswith(" ok")]
    rounds = sum(line.startswith("round ") for line in lines)
    print(
        f"\n{rounds} rounds in {args.minutes:g} min; child exit code {child.returncode}; {len(problems)} round(s) with problems"
    )
    for line in problems[:5]:
        print("  " + line)
    held = [dict(kv.split("=") for kv in line.split()[1:]) for line in lines if line.startswith("held ")]
    if len(held) > args.warmup:
        start_held, end_held = held[max(args.warmup - 1, 0)], held[-1]
        print("Held after warm-up -> at the end (caches in MB, Python objects in thousands): " + ", ".join(
            f"{k} {float(start_held[k]):.1f} -> {float(end_held[k]):.1f}" for k in end_held
        ))  # fmt: skip
    warm = [s for s in samples if s[2] >= args.warmup]
    if len(warm) < 2:
        print("Not enough samples after warm-up: run longer (--minutes).")
        return 1
    third = max(len(warm) // 3, 1)
    early, late = statistics.median(s[1] for s in warm[:third]), statistics.median(s[1] for s in warm[-third:])
    peak, spread = max(s[1] for s in warm), statistics.pstdev(s[1] for s in warm)
    slope = statistics.linear_regression([s[0] / 60 for s in warm], [s[1] for s in warm]).slope
    print(
        f"RSS after warm-up (round {args.warmup} done), median of the first third {early:.0f} MB, of the last third "
        f"{late:.0f} MB ({late - early:+.0f} MB, {100 * (late / early - 1):+.1f}%); slope {slope:+.1f} MB/min; "
        f"peak {peak:.0f} MB; spread (std) {spread:.0f} MB"
    )
    return 0 if child.returncode == 0 and not problems else 1


if __name__ == "__main__":
    raise SystemExit(main())
