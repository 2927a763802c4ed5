"""How fast the pages render: first render after a (cold) start, warm reruns, and reloads (new sessions).

Goals (issue 3): warm render under 1 s, first render after server start under 5 s, on
2 CPU cores (Models, Compare). Issue 12: Architecture and Papers first render under 3 s
(stored data, no torch); a reload of Segmentation or Saliency with the same inputs (a new
session: results are shared by every session) under 1 s. Two measurements:

- ``apptest`` (always): each page in a fresh Python process that first does what
  ``streamlit run dashboard/server.py`` does before it answers (``dashboard.warm_up.warm_up``,
  timed and printed on its own), so the first ``AppTest.run()`` imports and reads the rest
  exactly as a server's first visitor does (these pages read stored metadata and never
  import torch: tests/dashboard/test_app.py checks it); later runs are warm reruns.
- ``browser`` (when /usr/bin/chromium exists): for each page a fresh ``streamlit run`` on
  a free port, then headless Chromium (already open) loads that page and waits until its
  main element is drawn and the script has finished. The first load follows the server
  start; reloads are warm (they include the browser loading Streamlit's JavaScript, so
  they are an upper bound).

Run from the repository root:  python benchmarks/dashboard_render.py [--repeats 5] [--no-browser] [--pages ...]
It needs the runtime requirements only (requirements.txt); the browser part also needs selenium.
It prints the figures and whether the goals are met; it is not a test. The machine's load
average is printed too: on a shared machine wall-clock times stretch with the load, so
the first render's CPU time is reported as well.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._server import free_port, server_script, streamlit_command, wait_for_health  # noqa: E402

PAGES = {
    "models": "app_pages/models.py", "compare": "app_pages/compare.py",
    "architecture": "app_pages/architecture.py", "papers": "app_pages/papers.py",
    "segmentation": "app_pages/segmentation.py", "saliency": "app_pages/saliency.py",
}  # fmt: skip
URL_PATHS = {"models": "models", "compare": "compare", "architecture": "architecture", "papers": "papers"}
# What "drawn" means in the browser: a table, the chart's points (pages measured in Chromium).
READY_SELECTORS = {
    "models": '[data-testid="stDataFrame"]', "compare": ".js-plotly-plot .scatterlayer .trace path.point",
    "architecture": 'iframe[srcdoc*="data-node"]', "papers": '[data-testid="stDataFrame"]',
}  # fmt: skip
WARM_GOAL_S = 1.0
# First render after start (issue 3: Models, Compare; issue 12: Architecture and Papers from stored data, no torch);
# pages that run models at their defaults have no such goal, only the reload one.
FIRST_GOALS_S = {"models": 5.0, "compare": 5.0, "architecture": 3.0, "papers": 3.0}

_CHILD = """
import json, statistics, sys, time
sys.path.insert(0, {root!r})
from streamlit.testing.v1 import AppTest  # streamlit itself is loaded before the server starts
from dashboard.warm_up import warm_up  # what `streamlit run dashboard/server.py` does before it answers
warm_up_s = warm_up()
start, cpu_start = time.perf_counter(), time.process_time()
at = AppTest.from_file({app!r}, default_timeout=300).switch_page({page!r}).run()
first, first_cpu = time.perf_counter() - start, time.process_time() - cpu_start
assert not at.exception, [e.message for e in at.exception]
warm, reload = [], []
for _ in range({repeats}):
    start = time.perf_counter()
    at.run()
    warm.append(time.perf_counter() - start)
for _ in range({repeats}):  # a reload, or another visitor: a new session, same process
    start = time.perf_counter()
    again = AppTest.from_file({app!r}, default_timeout=300).switch_page({page!r}).run()
    reload.append(time.perf_counter() - start)
    assert not again.exception, [e.message for e in again.exception]
torch = "torch" in sys.modules
print(json.dumps({{"warm_up_s": warm_up_s, "first_s": first, "first_cpu_s": first_cpu, "warm_s": warm, "reload_s": reload, "torch": torch}}))
"""


def apptest_timings(page: str, repeats: int) -> dict:
    code = _CHILD.format(root=str(ROOT), app=str(ROOT / "dashboard" / "app.py"), page=PAGES[page], repeats=repeats)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def browser_timings(pages: list[str], repeats: int) -> dict:
    """Per page: a fresh ``streamlit run`` (new port: the browser's cache is cold for it too), then the first load
    of that page, then warm reloads. Chromium itself is started once and opens about:blank first: a user's browser
    is already running."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--window-size=1600,1200"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    try:
        return {page: _page_in_fresh_server(driver, page, repeats) for page in pages}
    finally:
        driver.quit()


def _page_in_fresh_server(driver, page: str, repeats: int) -> dict:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = streamlit_command(server_script(ROOT), port)  # as the README starts it
    driver.get("about:blank")  # leave the previous page (its server is gone) before the clock starts
    start = time.perf_counter()
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_health(url, server)
        server_start = time.perf_counter() - start

        def load() -> float:
            t0 = time.perf_counter()
            driver.get(f"{url}/{URL_PATHS[page]}")
            WebDriverWait(driver, 300, poll_frequency=0.05).until(
                lambda d: d.find_elements(By.CSS_SELECTOR, READY_SELECTORS[page])
            )
            WebDriverWait(driver, 300, poll_frequency=0.05).until(
                lambda d: (
                    "Running" not in " ".join(e.text for e in d.find_elements(By.CSS_SELECTOR, '[data-testid="stStatusWidget"]'))
                )
            )
            return time.perf_counter() - t0

        first = load()
        return {"server_start_s": server_start, "first_s": first, "warm_s": [load() for _ in range(repeats)]}
    finally:
        server.terminate()
        server.wait(timeout=20)


def verdict(value: float, goal: float) -> str:
    return f"{value:6.2f} s  (goal < {goal:g} s: {'met' if value < goal else 'NOT met'})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="warm renders per page (median reported)")
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium measurement")
    parser.add_argument("--pages", nargs="+", choices=list(PAGES), default=list(PAGES), help="pages to measure")
    args = parser.parse_args()
    pages = args.pages

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load1, load5, _ = os.getloadavg()
    print(f"Machine: {cores} CPU cores available, load average {load1:.1f} (1 min) / {load5:.1f} (5 min)")
    from cvcore.analysis.precomputed import _summary

    print(f"Precomputed analysis: {len(_summary()['models'])} models in assets/analysis.json\n")

    met = True
    print("AppTest (fresh process per page; first = first render after start, warm = median rerun of that session,")
    print("         reload = median first render of a new session in the same process: a reload or another visitor)")
    for page in pages:
        t = apptest_timings(page, args.repeats)
        warm, reload = statistics.median(t["warm_s"]), statistics.median(t["reload_s"])
        met &= warm < WARM_GOAL_S and reload < WARM_GOAL_S
        first = f"{t['first_s']:6.2f} s"
        if page in FIRST_GOALS_S:
            met &= t["first_s"] < FIRST_GOALS_S[page]
            first = verdict(t["first_s"], FIRST_GOALS_S[page])
        print(f"  {page:12s} first {first}   warm {verdict(warm, WARM_GOAL_S)}   reload {verdict(reload, WARM_GOAL_S)}")
        torch = "imported torch" if t["torch"] else "no torch"
        print(f"  {'':12s} first render used {t['first_cpu_s']:.2f} s of CPU (what it would take on an idle core); {torch}")
        print(f"  {'':12s} (the server's warm-up at start, before that: {t['warm_up_s']:.2f} s)")

    if not args.no_browser and Path("/usr/bin/chromium").exists() and importlib.util.find_spec("selenium"):
        print("\nBrowser (streamlit run + headless Chromium; page load until drawn and the script finished)")
        in_browser = [p for p in pages if p in READY_SELECTORS]
        b = browser_timings(in_browser, args.repeats)
        for page in in_browser:
            print(f"  {page:8s} fresh server: /_stcore/health answers after {b[page]['server_start_s']:.2f} s")
            warm = statistics.median(b[page]["warm_s"])
            print(
                f"  {page:8s} first {verdict(b[page]['first_s'], FIRST_GOALS_S[page])}   warm reload {warm:6.2f} s (includes the browser's page load)"
            )
    elif not args.no_browser:
        print("\nBrowser measurement skipped: /usr/bin/chromium or selenium (a test requirement) not found.")

    print(f"\nAppTest goals {'met' if met else 'NOT met'} on this machine at this load.")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
