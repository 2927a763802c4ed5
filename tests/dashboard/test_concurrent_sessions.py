"""Several people at once, in real browsers: each gets exactly the results of their own photo, every download works,
the server answers its health check throughout, a session closed mid-run harms nobody, and the log stays clean.

Each session is its own headless Chromium with its own profile. Half upload a photo to
Segmentation (the offline coarse map), half to Saliency (Grad-CAM and gradients with their
faithfulness curves); every photo is different. What each page shows is compared with the
same cvcore calls made here, one after the other. One run is in the default suite; the slow
suite runs the full eight sessions several times in a row (the issue saw its failure once
in four runs).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from tests.dashboard.conftest import ROOT, SERVER, free_port, wait_for_health
from tests.dashboard.test_browser import CHROMEDRIVER, CHROMIUM

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed (apt-get install chromium chromium-driver)"
    ),
]

LITE = "efficientnet_lite0"
SESSION_TIMEOUT_S = 420  # a cold server on 2 busy cores: torch import, weights, then everyone's maps
# Every health probe must get an answer: a probe's socket waits at most HEALTH_LIMIT_S for each step, and the whole
# answer must come within SLOW_ANSWER_LIMIT_S. What this catches is a server that stops answering: blocked, crashed,
# or out of memory. Idle, it answers in milliseconds; here nine Chromiums share the server's two cores, and the event
# loop that answers the probe also serves their pages, uploads and pictures: answers took up to 9.7 s locally and 23 s
# once on CI, while a watchdog (faulthandler, armed every 0.3 s, firing after 2 s) showed that no thread held the
# GIL for 2 s: the loop was busy with the others' requests, not blocked.
HEALTH_LIMIT_S = 20.0
SLOW_ANSWER_LIMIT_S = 60.0
# Except in the first seconds, while nine browsers start on two cores and the first runs load torch and the models:
# one probe has gone unanswered for 20 s then (CI, 43 s into a run; torch's import alone stalls other threads
# under 1 s, measured). A server that stays blocked fails the probes after this.
STARTUP_GRACE_S = 90.0
LOG_PROBLEMS = ("Traceback", "MediaFileStorageError", "Missing file", "Error executing deferred", "Exception")


# --- the photos and what cvcore makes of them, one after the other --------------------------------------------


def distinct_photos(count: int, folder: Path) -> list[Path]:
    """``count`` different JPEGs from the bundled samples: each sample as it is, mirrored, cropped, ..."""
    from cvcore.samples import list_samples

    variants = [lambda im: im, ImageOps.mirror, lambda im: im.crop((0, 0, im.width * 3 // 4, im.height)), ImageOps.flip]
    paths = []
    for i in range(count):
        sample = list_samples()[i % len(list_samples())]
        image = variants[i // len(list_samples()) % len(variants)](Image.open(sample.path).convert("RGB"))
        image.thumbnail((360, 360))
        path = folder / f"photo{i}.jpg"
        image.save(path, quality=92)
        paths.append(path)
    return paths


def expected_segmentation(photo: Path) -> str:
    """What the Segmentation page's caption says after "·": the three largest classes of the coarse map."""
    from cvcore.images import decode_image
    from cvcore.segmentation import segment
    from cvcore.weights import load_model

    result = segment(decode_image(photo.read_bytes()).image, LITE, model=load_model(LITE, device="cpu"))
    return ", ".join(f"{c.name} {100 * c.share:.0f}%" for c in result.classes[:3])


def expected_saliency(photo: Path) -> list[tuple[str, float, float]]:
    """(target, deletion AUC, insertion AUC) per default method, as the Saliency page computes them."""
    from cvcore.attribution import explain_photo
    from cvcore.classify import classify
    from cvcore.images import decode_image
    from cvcore.registry import get_spec
    from cvcore.weights import load_model

    spec, model = get_spec(LITE), load_model(LITE, device="cpu")
    image = decode_image(photo.read_bytes()).image
    target = classify(model, image, spec, k=5).top1.index
    shared: dict = {}
    cells = []
    for method in ("grad_cam", "saliency"):  # the page's DEFAULT_METHODS, one explain_photo call each
        result = explain_photo(model, spec, image, [method], target=target, baselines=shared).results[0]
        cells.append((spec.categories[target], result.faithfulness.deletion_auc, result.faithfulness.insertion_auc))
    return cells


# --- one browser session ------------------------------------------------------------------------------------


@dataclass
class Outcome:
    page: str
    photo: Path
    shown: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    downloaded: bytes | None = None
    seconds: float = 0.0


def niced_chromium(folder: Path) -> Path:
    """Chromium at the lowest priority: students' browsers run on their own machines, not on the server's cores."""
    wrapper = folder / "chromium"
    if not wrapper.exists():
        wrapper.write_text(f'#!/bin/sh\nexec nice -n 19 {CHROMIUM} "$@"\n')
        wrapper.chmod(0o755)
    return wrapper


def new_browser(profile: Path, downloads: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(niced_chromium(profile.parent.parent))
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-dev-shm-usage", "--window-size=1400,1800", f"--user-data-dir={profile}"):  # fmt: skip
        options.add_argument(flag)
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False}
    )
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    return driver


def choose_upload_and_send(driver, photo: Path, label: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, SESSION_TIMEOUT_S, poll_frequency=0.5).until(
        lambda d: d.find_elements(By.XPATH, f"//label[.//p[text()='{label}']]")
    )
    driver.find_element(By.XPATH, f"//label[.//p[text()='{label}']]").click()
    WebDriverWait(driver, 60, poll_frequency=0.5).until(lambda d: d.find_elements(By.CSS_SELECTOR, "input[type='file']"))
    driver.find_element(By.CSS_SELECTOR, "input[type='file']").send_keys(str(photo))


def texts(driver, selector: str) -> list[str]:
    """The texts of the elements matching ``selector``, read again if the page redraws them meanwhile."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    for _ in range(5):
        try:
            return [e.text for e in driver.find_elements(By.CSS_SELECTOR, selector)]
        except StaleElementReferenceException:
            time.sleep(0.2)
    return []


def captions(driver, pattern: str) -> list[str]:
    """Texts of the captions (st.caption and st.image's) that match ``pattern``, in page order."""
    found = texts(driver, '[data-testid="stCaptionContainer"], [data-testid="stImageCaption"]')
    return [text for text in found if re.search(pattern, text)]


def has_download(driver, suffix: str) -> bool:
    return any(text.endswith(suffix) for text in texts(driver, '[data-testid="stDownloadButton"] button'))


def settled(driver) -> bool:
    """The script has finished: Streamlit's status widget is gone or no longer says "Running"."""
    return not any("Running" in text for text in texts(driver, '[data-testid="stStatusWidget"]'))


def error_texts(driver) -> list[str]:
    """What the page shows in error boxes (an exception box or an st.error)."""
    return texts(driver, '[data-testid="stException"], [data-testid="stAlertContentError"]')


def download_first(driver, downloads: Path, suffix: str, tries: int = 4, wait_s: float = 60) -> bytes | None:
    """Click the first download button whose label ends with ``suffix``; the file's bytes, or None if none arrived.

    A PNG is encoded on click (deferred data) by a server that is busy with everyone else's maps, and a click that
    lands while the page redraws can be lost, as a user's would: like a user, click again (a fresh button) after
    ``wait_s``. What is checked is that the download works, not that the first click did.
    """
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.common.by import By

    def arrived(wait: float) -> bytes | None:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            done = [p for p in downloads.glob("*") if not p.name.endswith(".crdownload")]
            if done:
                return done[0].read_bytes()
            time.sleep(0.3)
        return None

    for _ in range(tries):
        buttons = [
            b for b in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stDownloadButton"] button') if b.text.endswith(suffix)
        ]
        if not buttons:
            return None
        try:
            buttons[0].click()
        except (StaleElementReferenceException, WebDriverException):
            time.sleep(1)
            continue
        data = arrived(wait_s)
        if data is not None or any(downloads.glob("*.crdownload")):  # under way: give it time rather than a second copy
            return data if data is not None else arrived(wait_s)
    return None


def run_session(url: str, page: str, photo: Path, workdir: Path) -> Outcome:
    from selenium.webdriver.support.ui import WebDriverWait

    outcome, start = Outcome(page, photo), time.monotonic()
    downloads = workdir / "downloads"
    downloads.mkdir(parents=True)
    driver = new_browser(workdir / "profile", downloads)
    try:
        driver.get(f"{url}/{page}")
        if page == "segmentation":
            choose_upload_and_send(driver, photo, "Upload photos")
            wanted, count, button = r" ms to labels on ", 1, "overlay PNG"
        else:
            choose_upload_and_send(driver, photo, "Upload a photo")
            wanted, count, button = r"deletion AUC", 2, "PNG"
        WebDriverWait(driver, SESSION_TIMEOUT_S, poll_frequency=1).until(
            lambda d: (len(captions(d, wanted)) >= count and has_download(d, button) and settled(d)) or error_texts(d)
        )
        outcome.shown = captions(driver, wanted) + (captions(driver, r"^target: ") if page == "saliency" else [])
        outcome.errors = error_texts(driver)
        outcome.downloaded = download_first(driver, downloads, button)
    except Exception as exc:  # noqa: BLE001 (reported as the session's failure, with what it showed)
        outcome.errors.append(f"{type(exc).__name__}: {exc}".strip())
        driver.save_screenshot(str(workdir / "failure.png"))
        outcome.errors.append(f"screenshot: {workdir / 'failure.png'}; captions: {captions(driver, '.')[-6:]}")
    finally:
        outcome.seconds = time.monotonic() - start
        driver.quit()
    return outcome


def close_mid_run(url: str, photo: Path, workdir: Path) -> None:
    """Upload to Saliency (the longest run) and close the browser while the server is still computing."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    downloads = workdir / "downloads"
    downloads.mkdir(parents=True)
    driver = new_browser(workdir / "profile", downloads)
    try:
        driver.get(f"{url}/saliency")
        choose_upload_and_send(driver, photo, "Upload a photo")
        WebDriverWait(driver, SESSION_TIMEOUT_S, poll_frequency=0.3).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid="stProgress"]') or not settled(d)
        )
    finally:
        driver.quit()


# --- the server and the scenario -------------------------------------------------------------------------------


class HealthWatch(threading.Thread):
    """Polls the health endpoint while the sessions run; remembers the slowest answer and any failure (with its time)."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url, self.stop_event, self.slowest_s, self.failures = url, threading.Event(), 0.0, []
        self.startup_stalls: list[str] = []  # probes unanswered within STARTUP_GRACE_S of the start (torch loading)
        self.slow: list[str] = []  # every answer that took over a second, with when: what a failure message shows
        self.started = time.monotonic()

    def run(self) -> None:
        while not self.stop_event.is_set():
            start = time.monotonic()
            at = start - self.started
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=HEALTH_LIMIT_S) as response:
                    if response.status != 200:
                        self.failures.append(f"status {response.status} at {at:.0f} s")
                took = time.monotonic() - start
                self.slowest_s = max(self.slowest_s, took)
                if took > 1.0:
                    self.slow.append(f"{took:.1f} s at {at:.0f} s")
            except OSError as exc:
                (self.startup_stalls if at < STARTUP_GRACE_S else self.failures).append(f"{type(exc).__name__}: {exc} at {at:.0f} s")
            self.stop_event.wait(0.5)


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory):
    """A server of its own (the others' tests must not warm it), its log kept for the checks."""
    folder = tmp_path_factory.mktemp("concurrent")
    port, log = free_port(), folder / "server.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TORCH_HOME": str(folder / "torch"), "CVLENS_HOME": str(folder / "home")}
    env.pop("CVLENS_STRICT_PAGES", None)  # a real server, as users get it
    command = [sys.executable, "-m", "streamlit", "run", str(SERVER), "--server.port", str(port), "--server.fileWatcherType", "none"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(url, proc)
        yield url, log, folder
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def scenario(url: str, log: Path, folder: Path, segmentation: int, saliency: int, run: int) -> None:
    workdir = folder / f"run{run}"
    workdir.mkdir()
    photos = distinct_photos(segmentation + saliency + 1, workdir)
    pages = ["segmentation"] * segmentation + ["saliency"] * saliency
    expected = {p: expected_segmentation(p) if page == "segmentation" else expected_saliency(p) for p, page in zip(photos, pages)}
    assert len({str(v) for v in expected.values()}) == len(expected), "the photos must give different results"
    log_start = log.stat().st_size
    watch = HealthWatch(url)
    watch.start()
    with ThreadPoolExecutor(max_workers=len(pages) + 1) as pool:
        leaver = pool.submit(close_mid_run, url, photos[-1], workdir / "leaver")
        futures = [
            pool.submit(run_session, url, page, photo, workdir / f"s{i}") for i, (page, photo) in enumerate(zip(pages, photos))
        ]
        outcomes = [f.result() for f in futures]
        leaver.result()
    watch.stop_event.set()
    watch.join()
    log_text = log.read_text(errors="replace")[log_start:]

    for outcome in outcomes:
        want = expected[outcome.photo]
        assert not outcome.errors, (outcome.page, outcome.photo.name, outcome.errors)
        if outcome.page == "segmentation":
            assert [text.split(" · ", 1)[-1] for text in outcome.shown] == [want], (outcome.photo.name, outcome.shown)
        else:
            assert_saliency_matches(outcome, want)
        assert outcome.downloaded is not None and outcome.downloaded.startswith(b"\x89PNG"), (outcome.photo.name, "download")
    assert not watch.failures and watch.slowest_s < SLOW_ANSWER_LIMIT_S, (watch.failures, watch.slowest_s, watch.startup_stalls, watch.slow)
    assert len(watch.startup_stalls) <= 2, watch.startup_stalls  # one stall while torch loads, not a dead server
    problems = [line for line in log_text.splitlines() if any(p in line for p in LOG_PROBLEMS)]
    assert not problems, "\n".join(problems[:20])


def assert_saliency_matches(outcome: Outcome, want: list[tuple[str, float, float]]) -> None:
    aucs = [tuple(float(x) for x in re.findall(r"(?:deletion|insertion) AUC (\d\.\d{3})", text)) for text in outcome.shown[:2]]
    targets = {text.split("target: ", 1)[1].rsplit(" (", 1)[0] for text in outcome.shown[2:]}
    assert targets == {want[0][0]}, (outcome.photo.name, outcome.shown)
    for (deletion, insertion), (_, want_deletion, want_insertion) in zip(aucs, want):
        assert abs(deletion - want_deletion) <= 0.002 and abs(insertion - want_insertion) <= 0.002, (
            outcome.photo.name,
            aucs,
            want,
        )


def test_eight_sessions_at_once_get_their_own_results(fresh_server):
    url, log, folder = fresh_server
    scenario(url, log, folder, segmentation=6, saliency=2, run=0)


@pytest.mark.slow
@pytest.mark.parametrize("run", [1, 2, 3])
def test_eight_sessions_again_and_again(fresh_server, run):
    url, log, folder = fresh_server
    scenario(url, log, folder, segmentation=4, saliency=4, run=run)
