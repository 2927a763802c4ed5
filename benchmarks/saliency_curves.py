"""Saliency with three classifiers and the default methods: time until the maps show, and until the scores do.

Goal (issue 12): the maps of three classifiers (EfficientNet-Lite0/1/2, Grad-CAM and
Saliency, the page's defaults) show in under 10 s on this CPU; the deletion/insertion
curves come after them, batched. Two measurements, both after a warm-up round (weights
loaded, oneDNN's kernels built):

- ``cvcore``, interleaved by round: the old way (each method's map *and* its curves, one
  ``explain_photo`` call per method: maps show only when every curve is done) against the
  new one (every map with ``curves=False``, then each model's curves in one batched
  ``score_results`` call). The ratio of each round's times is printed.
- ``page`` (unless ``--no-page``): the Saliency page in AppTest, fresh shared caches each
  round: time to the first ``score_results`` call (every map drawn) and to the end of the run.

Run from the repository root:  python benchmarks/saliency_curves.py [--rounds 2] [--no-page]
On a shared machine wall-clock figures stretch with the load (printed); compare ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODELS = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")
METHODS = ("grad_cam", "saliency")
MAPS_GOAL_S = 10.0
SETTINGS = {"curve_steps": 20, "random_maps": 10, "seed": 0}  # the page's defaults (DEFAULT_RANDOM_MAPS, checked in main)


def old_way(models, image) -> tuple[float, float]:
    """(time to maps, time to scores): maps and curves together, one call per method; nothing shows before the end."""
    from cvcore.attribution import explain_photo

    start = time.perf_counter()
    for model, spec in models:
        baselines = {}
        for method in METHODS:
            explain_photo(model, spec, image, [method], baselines=baselines, **SETTINGS)
    total = time.perf_counter() - start
    return total, total


def new_way(models, image) -> tuple[float, float]:
    from cvcore.attribution import explain_photo, score_results

    start = time.perf_counter()
    maps = []
    for model, spec in models:
        cells = [explain_photo(model, spec, image, [m], curves=False, **SETTINGS) for m in METHODS]
        maps.append((model, cells))
    to_maps = time.perf_counter() - start
    for model, cells in maps:
        report = cells[0]
        score_results(
            model, report.classification.inputs, [c.results[0] for c in cells], report.target, steps=SETTINGS["curve_steps"],
            random_maps=SETTINGS["random_maps"], seed=SETTINGS["seed"], baselines={},
        )  # fmt: skip
    return to_maps, time.perf_counter() - start


_PAGE_CHILD = """
import json, sys, time
sys.path.insert(0, {root!r})
from streamlit.testing.v1 import AppTest
import cvcore.attribution
from dashboard import state
from dashboard.common import cached_model, shared_results
for name in {models!r}:
    cached_model(name)
marks = []
real = cvcore.attribution.score_results
cvcore.attribution.score_results = lambda *a, **k: marks.append(time.perf_counter()) or real(*a, **k)
rows = []
for round in range({rounds} + 1):  # round 0 warms up
    shared_results().clear()
    marks.clear()
    at = AppTest.from_file({app!r}, default_timeout=600)
    at.session_state[state.SAL_MODELS] = list({models!r})
    start = time.perf_counter()
    at.switch_page("app_pages/saliency.py").run()
    end = time.perf_counter()
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
    if round:
        rows.append((marks[0] - start, end - start))
print(json.dumps(rows))
"""


def page_timings(rounds: int) -> list[tuple[float, float]]:
    import json
    import subprocess

    code = _PAGE_CHILD.format(root=str(ROOT), app=str(ROOT / "dashboard" / "app.py"), models=list(MODELS), rounds=rounds)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="timed rounds of each way (after one warm-up)")
    parser.add_argument("--no-page", action="store_true", help="skip the AppTest measurement of the page")
    args = parser.parse_args()

    from cvcore.attribution import DEFAULT_RANDOM_MAPS
    from cvcore.registry import get_spec
    from cvcore.samples import list_samples
    from cvcore.weights import load_model

    assert SETTINGS["random_maps"] == DEFAULT_RANDOM_MAPS, "measure what the page does"

    load1, load5, _ = os.getloadavg()
    print(f"Machine: {os.cpu_count()} CPU cores, load average {load1:.1f} (1 min) / {load5:.1f} (5 min)")
    models = [(load_model(name), get_spec(name)) for name in MODELS]
    from PIL import Image

    image = Image.open(list_samples()[0].path).convert("RGB")
    print(f"{', '.join(MODELS)}; methods {', '.join(METHODS)}; photo {list_samples()[0].file}\n")
    new_way(models, image)  # warm-up: kernels for every shape
    old, new = [], []
    for _ in range(args.rounds):
        old.append(old_way(models, image))
        new.append(new_way(models, image))
    old_total = statistics.median(t for t, _ in old)
    to_maps, to_scores = statistics.median(m for m, _ in new), statistics.median(s for _, s in new)
    ratios = [o[0] / n[0] for o, n in zip(old, new)]
    print("cvcore, interleaved rounds (median):")
    print(f"  old: maps and curves together     maps shown after {old_total:6.2f} s (with their scores)")
    print(f"  new: maps first, curves batched   maps shown after {to_maps:6.2f} s, scores after {to_scores:6.2f} s")
    print(f"  time to maps, old / new per round: {', '.join(f'{r:.1f}x' for r in ratios)}")
    print(f"  time to scores, old / new per round: {', '.join(f'{o[1] / n[1]:.2f}x' for o, n in zip(old, new))}")
    met = to_maps < MAPS_GOAL_S
    if not args.no_page:
        rows = page_timings(args.rounds)
        page_maps, page_scores = statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows)
        met &= page_maps < MAPS_GOAL_S
        print("\nSaliency page (AppTest, three classifiers, default methods, shared results cleared each round; median):")
        print(f"  maps drawn after {page_maps:6.2f} s, scores filled in after {page_scores:6.2f} s")
    print(f"\nGoal: maps in under {MAPS_GOAL_S:g} s: {'met' if met else 'NOT met'} on this machine at this load.")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
