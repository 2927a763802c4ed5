"""End to end: add items from five pages in Chromium, reload, download the HTML, open it from disk offline.

The downloaded file must draw every figure with the network cut (plotly.js inside), show
every table, and count as many items as the report holds. The report's ZIP, unpacked, has
a regenerate.sh whose every line rebuilds its table's numbers (run through the CLI).
"""

import io
import json
import time
import zipfile

import pytest

from cvcore.report import load_report
from cvcore.report.export import StaticExport, commands, item_stems, report_zip
from cvcore.report.store import report_path
from tests.dashboard.conftest import logged_problems
from tests.dashboard.test_browser import CHROMEDRIVER, CHROMIUM, DRAW_TIMEOUT_S, error_boxes

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed")]

ADD = "Add to report"
# (page, what shows it has drawn, which of its "Add to report" buttons). Cheap on a CPU: stored analyses, paper
# tables, and the coarse map of the bundled EfficientNet-Lite0 (no download) on the Segmentation page.
PAGES = {
    # the catalogue table, the page's last: an earlier browser test may have imported a model into the shared server's
    # home, and then "Your models" comes first
    "models": ('[data-testid="stDataFrame"]', -1),
    "compare": (".js-plotly-plot .scatterlayer .trace path.point", 0),  # the chart
    "papers": ('[data-testid="stDataFrame"]', 0),  # a paper's table
    "architecture": ('[data-testid="stDataFrame"]', 1),  # the stage table (the topology graph's PNG comes first)
    "segmentation": ('[data-testid="stImage"] img', 0),  # the overlay, an image item
}
REBUILT_BY_CLI = ("models", "papers", "architecture")  # their table items


@pytest.fixture
def downloading_browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.add_argument("--window-size=1600,1400")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False}
    )
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver, downloads
    finally:
        driver.quit()


def idle(driver):
    from selenium.webdriver.common.by import By

    return not any("Running" in e.text for e in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stStatusWidget"]'))


def find_button(driver, css: str, text: str, *, last_word: bool = False, nth: int = 0):
    """The ``nth`` button showing ``text`` (its last word, after the icon's ligature, when ``last_word``), or None yet."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    try:
        found = [b for b in driver.find_elements(By.CSS_SELECTOR, css) if shows(b.text, text, last_word)]
    except StaleElementReferenceException:  # Streamlit redrew the page meanwhile: look again
        return None
    return found[nth] if -len(found) <= nth < len(found) else None


def shows(label: str, text: str, last_word: bool) -> bool:
    words = label.split()
    return bool(words) and words[-1] == text if last_word else text in label


def click_add(driver, url: str, ready_css: str, nth: int = 0) -> None:
    """Open ``url``, wait until it has drawn, click its ``nth`` "Add to report" button, wait for the toast."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    wait = WebDriverWait(driver, DRAW_TIMEOUT_S, poll_frequency=0.5)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ready_css) and idle(d))
    button = wait.until(lambda d: find_button(d, '[data-testid="stButton"] button', ADD, nth=nth))
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
    button.click()
    wait.until(
        lambda d: any("Added to the report" in t.text for t in d.find_elements(By.CSS_SELECTOR, '[data-testid="stToast"]'))
    )


def test_five_pages_into_the_report_then_the_offline_html_draws_everything(
    streamlit_server, streamlit_server_home, streamlit_server_log, downloading_browser, monkeypatch, tmp_path
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.dashboard.test_report_rebuilds import assert_same_numbers, run_line

    driver, downloads = downloading_browser
    pages = list(PAGES)
    monkeypatch.setenv("CVLENS_HOME", str(streamlit_server_home))
    before = len(json.loads(report_path("defense").read_text())["items"]) if report_path("defense").is_file() else 0
    for page in pages:
        click_add(driver, f"{streamlit_server}/{page}", *PAGES[page])
    count = before + len(pages)
    report = load_report("defense")
    assert len(report.items) == count
    assert [i.page for i in report.items[before:]] == [page.capitalize() for page in pages]

    driver.get(f"{streamlit_server}/report")
    driver.refresh()  # a reload loses nothing: the report is on disk
    wait = WebDriverWait(driver, DRAW_TIMEOUT_S, poll_frequency=0.5)
    wait.until(lambda d: any(h.text == f"{count} items" for h in d.find_elements(By.CSS_SELECTOR, "h3")) and idle(d))
    assert not error_boxes(driver), error_boxes(driver)
    html_button = wait.until(lambda d: find_button(d, '[data-testid="stDownloadButton"] button', "HTML", last_word=True))
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", html_button)
    html_button.click()
    deadline = time.monotonic() + 120
    while not (files := list(downloads.glob("*.html"))) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert files, list(downloads.iterdir())
    page = files[0]

    driver.set_network_conditions(offline=True, latency=0, download_throughput=0, upload_throughput=0)
    driver.get(page.as_uri())
    kinds = [i.kind for i in report.items]
    figures, tables, images = kinds.count("figure"), kinds.count("table"), kinds.count("image")
    WebDriverWait(driver, DRAW_TIMEOUT_S, poll_frequency=0.5).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, ".figure.js-plotly-plot .main-svg")) >= figures
    )
    drawn = driver.find_elements(By.CSS_SELECTOR, ".figure.js-plotly-plot")
    assert len(drawn) == figures >= 1
    assert all(f.find_elements(By.CSS_SELECTOR, ".scatterlayer .trace") for f in drawn)
    assert all(driver.execute_script("return !!arguments[0]._fullLayout;", f) for f in drawn)  # plotly laid each out
    assert len(driver.find_elements(By.CSS_SELECTOR, "section.item table")) == tables >= 3, kinds
    assert all(t.find_elements(By.CSS_SELECTOR, "tbody tr") for t in driver.find_elements(By.CSS_SELECTOR, "table"))
    pictures = driver.find_elements(By.CSS_SELECTOR, "section.item img")
    assert len(pictures) == images >= 1 and all(
        driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0;", p) for p in pictures
    )  # the inlined PNG decodes offline
    assert driver.find_element(By.TAG_NAME, "body").get_attribute("data-item-count") == str(count)
    assert len(driver.find_elements(By.CSS_SELECTOR, "section.item")) == count
    assert not driver.get_log("browser") or all("SEVERE" != e["level"] for e in driver.get_log("browser"))
    assert not logged_problems(streamlit_server_log), logged_problems(streamlit_server_log)

    # regenerate.sh of the same report: every table line rebuilds the exported CSV's numbers
    archive = zipfile.ZipFile(io.BytesIO(report_zip(report, static=StaticExport(problem="not rendered in this test"))))
    archive.extractall(tmp_path / "pack")
    (tmp_path / "regenerated").mkdir()
    stems = item_stems(report)
    rebuildable = [i for i in report.items[before:] if i.kind == "table" and i.rebuild and i.rebuild.command]
    assert [i.page for i in rebuildable] == [p.capitalize() for p in pages if p in REBUILT_BY_CLI]
    for item in rebuildable:
        name = f"{stems[item.id]}.csv"
        (line,) = [line for line in commands(report) if line.endswith(f'/{name}"')]
        run_line(line, tmp_path / "pack", tmp_path / "regenerated")
        assert_same_numbers((tmp_path / "regenerated" / name).read_text(), archive.read(f"tables/{name}").decode(), name)
