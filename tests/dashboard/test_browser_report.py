"""End to end: add items from two pages in Chromium, reload, download the HTML, open it from disk offline.

The downloaded file must draw every figure with the network cut (plotly.js inside), show
every table, and count as many items as the report holds.
"""

import json
import time

import pytest

from cvcore.report.store import report_path
from tests.dashboard.conftest import logged_problems
from tests.dashboard.test_browser import CHROMEDRIVER, CHROMIUM, DRAW_TIMEOUT_S, error_boxes

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed")]

ADD = "Add to report"


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


def find_button(driver, css: str, text: str, *, last_word: bool = False):
    """The first button showing ``text`` (its last word, after the icon's ligature, when ``last_word``), or None yet."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    try:
        for button in driver.find_elements(By.CSS_SELECTOR, css):
            words = button.text.split()
            if (words and words[-1] == text) if last_word else text in button.text:
                return button
    except StaleElementReferenceException:  # Streamlit redrew the page meanwhile: look again
        return None
    return None


def click_first_add(driver, url: str, ready_css: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    wait = WebDriverWait(driver, DRAW_TIMEOUT_S, poll_frequency=0.5)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ready_css) and idle(d))
    button = wait.until(lambda d: find_button(d, '[data-testid="stButton"] button', ADD))
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
    button.click()
    wait.until(
        lambda d: any("Added to the report" in t.text for t in d.find_elements(By.CSS_SELECTOR, '[data-testid="stToast"]'))
    )


def test_two_pages_into_the_report_then_the_offline_html_draws_everything(
    streamlit_server, streamlit_server_home, streamlit_server_log, downloading_browser, monkeypatch
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver, downloads = downloading_browser
    monkeypatch.setenv("CVLENS_HOME", str(streamlit_server_home))
    before = len(json.loads(report_path("defense").read_text())["items"]) if report_path("defense").is_file() else 0
    click_first_add(driver, f"{streamlit_server}/compare", ".js-plotly-plot .scatterlayer .trace path.point")  # the chart
    click_first_add(driver, f"{streamlit_server}/papers", '[data-testid="stDataFrame"]')  # a paper's table
    count = before + 2
    assert len(json.loads(report_path("defense").read_text())["items"]) == count

    driver.get(f"{streamlit_server}/report")
    driver.refresh()  # a reload loses nothing: the report is on disk
    wait = WebDriverWait(driver, DRAW_TIMEOUT_S, poll_frequency=0.5)
    wait.until(lambda d: any(h.text == f"{count} items" for h in d.find_elements(By.CSS_SELECTOR, "h3")) and idle(d))
    assert not error_boxes(driver), error_boxes(driver)
    html_button = wait.until(lambda d: find_button(d, '[data-testid="stDownloadButton"] button', "HTML", last_word=True))
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", html_button)
    html_button.click()
    deadline = time.monotonic() + 60
    while not (files := list(downloads.glob("*.html"))) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert files, list(downloads.iterdir())
    page = files[0]

    driver.set_network_conditions(offline=True, latency=0, download_throughput=0, upload_throughput=0)
    driver.get(page.as_uri())
    figures = sum(1 for i in json.loads(report_path("defense").read_text())["items"] if i["kind"] == "figure")
    tables = sum(1 for i in json.loads(report_path("defense").read_text())["items"] if i["kind"] == "table")
    WebDriverWait(driver, 60, poll_frequency=0.5).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .main-svg")) >= figures
    )
    assert len(driver.find_elements(By.CSS_SELECTOR, ".figure.js-plotly-plot")) == figures >= 1
    assert all(
        f.find_elements(By.CSS_SELECTOR, ".scatterlayer .trace")
        for f in driver.find_elements(By.CSS_SELECTOR, ".figure.js-plotly-plot")
    )
    assert len(driver.find_elements(By.CSS_SELECTOR, "table")) == tables >= 1
    assert driver.find_element(By.TAG_NAME, "body").get_attribute("data-item-count") == str(count)
    assert len(driver.find_elements(By.CSS_SELECTOR, "section.item")) == count
    assert not driver.get_log("browser") or all("SEVERE" != e["level"] for e in driver.get_log("browser"))
    assert not logged_problems(streamlit_server_log), logged_problems(streamlit_server_log)
