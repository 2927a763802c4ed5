"""End to end in a real browser: import a trained ENet on "Your models", then segment a photo with it on Segmentation."""

from __future__ import annotations

import time

import pytest
import torch

from tests.dashboard.conftest import logged_problems
from tests.dashboard.test_browser import CHROMIUM, DRAW_TIMEOUT_S, browser, error_boxes  # noqa: F401 (fixture)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed"),
]

CLASSES = ["sky", "building", "pole", "road", "pavement", "tree", "sign", "fence", "car", "pedestrian", "bicyclist", "void"]


def _wait_idle(driver, timeout_s: float = DRAW_TIMEOUT_S) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    time.sleep(0.5)  # let a rerun start before waiting for it to end
    WebDriverWait(driver, timeout_s, poll_frequency=0.5).until(
        lambda d: not d.find_elements(By.CSS_SELECTOR, '[data-testid="stStatusWidget"]')
        or "Running" not in d.find_element(By.CSS_SELECTOR, '[data-testid="stStatusWidget"]').text
    )


def _choose(driver, label: str, option_text: str) -> None:
    """Pick ``option_text`` in the selectbox labelled ``label`` (Streamlit's searchable select)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    def labelled(d):  # the form draws its file inputs before its selectboxes' labels: wait for the label
        return next((w for w in d.find_elements(By.CSS_SELECTOR, '[data-testid="stSelectbox"]') if label in w.text), None)

    box = WebDriverWait(driver, DRAW_TIMEOUT_S, poll_frequency=0.5).until(labelled).find_element(By.CSS_SELECTOR, "input")
    box.click()
    box.send_keys(option_text)
    time.sleep(0.5)
    box.send_keys(Keys.ENTER)


def test_import_an_enet_through_the_page_and_segment_with_it(streamlit_server, streamlit_server_log, browser, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from cvcore.models.enet import enet

    torch.manual_seed(0)
    weights, classes = tmp_path / "enet_camvid.pth", tmp_path / "camvid.txt"
    torch.save(enet(num_classes=len(CLASSES)).state_dict(), weights)
    classes.write_text("\n".join(CLASSES) + "\n")

    browser.get(f"{streamlit_server}/your_models")
    WebDriverWait(browser, DRAW_TIMEOUT_S, poll_frequency=0.5).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid="stForm"] input[type="file"]')
    )
    model_input, class_input = browser.find_elements(By.CSS_SELECTOR, '[data-testid="stForm"] input[type="file"]')[:2]
    model_input.send_keys(str(weights))
    _choose(browser, "Architecture", "enet")
    name = next(
        w for w in browser.find_elements(By.CSS_SELECTOR, '[data-testid="stTextInput"]') if "Name to select it by" in w.text
    ).find_element(By.CSS_SELECTOR, "input")
    name.send_keys("browser_enet")
    next(r for r in browser.find_elements(By.CSS_SELECTOR, '[data-testid="stRadio"] label') if "text file" in r.text).click()
    class_input.send_keys(str(classes))
    WebDriverWait(browser, 60, poll_frequency=0.5).until(lambda d: "camvid.txt" in d.page_source and "enet_camvid.pth" in d.page_source)
    next(b for b in browser.find_elements(By.CSS_SELECTOR, "button") if b.text.strip() == "Import").click()
    WebDriverWait(browser, DRAW_TIMEOUT_S, poll_frequency=0.5).until(lambda d: "Imported browser_enet" in d.page_source)
    assert not error_boxes(browser), error_boxes(browser)

    browser.get(f"{streamlit_server}/segmentation")
    _wait_idle(browser)

    def models_picker(d):
        return next((w for w in d.find_elements(By.CSS_SELECTOR, '[data-testid="stMultiSelect"]') if "Models" in w.text), None)

    picker = WebDriverWait(browser, DRAW_TIMEOUT_S, poll_frequency=0.5).until(models_picker)
    field = picker.find_element(By.CSS_SELECTOR, "input")
    field.click()
    field.send_keys("browser_enet")
    time.sleep(0.5)
    options = [o.text for o in browser.find_elements(By.CSS_SELECTOR, '[role="option"]')]
    assert any("browser_enet" in o and "yours" in o for o in options), options
    field.send_keys("\n")
    _wait_idle(browser)
    WebDriverWait(browser, DRAW_TIMEOUT_S, poll_frequency=0.5).until(lambda d: "browser_enet" in d.page_source and "ms to labels" in d.page_source)
    browser.save_screenshot(str(tmp_path / "segmentation.png"))
    assert not error_boxes(browser), error_boxes(browser)
    assert not logged_problems(streamlit_server_log), logged_problems(streamlit_server_log)
