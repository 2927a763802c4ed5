"""End to end in a real browser: `streamlit run`, headless Chromium, the Compare chart drawn as SVG."""

from pathlib import Path

import pytest

from cvcore import compare
from tests.dashboard.conftest import logged_problems

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
DRAW_TIMEOUT_S = 120  # first render after server start imports torch and the catalogue on a busy machine
POINTS = ".js-plotly-plot .scatterlayer .trace path.point"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed (apt-get install chromium chromium-driver)"
    ),
]


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.add_argument("--window-size=1600,1400")
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


def error_boxes(driver) -> list[str]:
    from selenium.webdriver.common.by import By

    boxes = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]')
    boxes += [
        a
        for a in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stAlert"]')
        if a.find_elements(By.CSS_SELECTOR, '[data-testid="stAlertContentError"]')
    ]
    return [b.text for b in boxes]


def test_compare_page_draws_the_default_chart(streamlit_server, streamlit_server_log, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    expected = len(compare.chart_data(compare.model_points(compare.DEFAULT_SEED), "gmacs", "acc@1").points)
    browser.get(f"{streamlit_server}/compare")
    try:
        WebDriverWait(browser, DRAW_TIMEOUT_S, poll_frequency=0.5).until(
            lambda d: len(d.find_elements(By.CSS_SELECTOR, POINTS)) >= expected
        )
        # The script has finished when Streamlit's status widget stops saying "Running".
        WebDriverWait(browser, 30, poll_frequency=0.5).until(
            lambda d: (
                not d.find_elements(By.CSS_SELECTOR, '[data-testid="stStatusWidget"]')
                or "Running" not in d.find_element(By.CSS_SELECTOR, '[data-testid="stStatusWidget"]').text
            )
        )
    finally:
        browser.save_screenshot(str(tmp_path / "compare.png"))
    assert len(browser.find_elements(By.CSS_SELECTOR, POINTS)) == expected
    assert browser.find_elements(By.CSS_SELECTOR, ".js-plotly-plot svg.main-svg")
    assert not error_boxes(browser), error_boxes(browser)
    assert (tmp_path / "compare.png").stat().st_size > 10_000
    assert not logged_problems(streamlit_server_log), logged_problems(streamlit_server_log)


def test_every_page_has_its_own_url(streamlit_server, browser):
    """A bookmarked or slide-pasted URL opens its page, not Streamlit's "Page not found" dialog."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{streamlit_server}/models")
    WebDriverWait(browser, DRAW_TIMEOUT_S, poll_frequency=0.5).until(lambda d: d.find_elements(By.CSS_SELECTOR, "h1"))
    assert "Models" in browser.find_element(By.CSS_SELECTOR, "h1").text
    assert not browser.find_elements(By.CSS_SELECTOR, '[data-testid="stDialog"]')


LABEL_BOXES_JS = """
const box = e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
return {
  plot: box(document.querySelector('.nsewdrag')),  // the drag layer covers exactly the plot area
  labels: [...document.querySelectorAll('.scatterlayer .trace text')].filter(t => t.textContent).map(t => [t.textContent, ...box(t)]),
  ticks: [...document.querySelectorAll('.xtick text')].map(t => t.textContent),
};
"""


@pytest.mark.parametrize("selection", ["default", "every classifier"])
def test_exported_compare_chart_labels_neither_overlap_nor_clip(browser, tmp_path, selection):
    """The standalone HTML, drawn by plotly in Chromium at the smallest width the labels are placed for."""
    from cvcore.figures import standalone_html
    from cvcore.registry import list_models

    names = compare.DEFAULT_SEED if selection == "default" else [s.name for s in list_models("classification")]
    choice = compare.choose_weights(names)
    chart = compare.chart_data(compare.model_points(choice.specs), "gmacs", "acc@1")
    figure = compare.accuracy_figure(chart, common=choice.common)
    figure.update_layout(width=compare.PLOT_WIDTH_PX + 280)  # margins and the family legend around the nominal plot
    page = tmp_path / "chart.html"
    page.write_text(standalone_html(figure))
    browser.get(page.as_uri())
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 30).until(lambda d: d.execute_script("return document.querySelectorAll('.xtick text').length") > 0)
    drawn = browser.execute_script(LABEL_BOXES_JS)
    left, top, right, bottom = drawn["plot"]
    labels = drawn["labels"]
    assert len(labels) >= (len(chart.points) if selection == "default" else 10)
    for text, *b in labels:  # whole, inside the plot: no "obileNet-v3-small"
        assert left - 0.5 <= b[0] and b[2] <= right + 0.5 and top - 0.5 <= b[1] and b[3] <= bottom + 0.5, text
    overlapping = [
        (a[0], c[0])
        for i, a in enumerate(labels)
        for c in labels[i + 1 :]
        if a[1] < c[3] and c[1] < a[3] and a[2] < c[4] and c[2] < a[4]
    ]
    assert not overlapping
    ticks = [t for t in drawn["ticks"] if t]
    assert ticks and all(t.replace(".", "", 1).isdigit() for t in ticks), ticks  # 0.1, 1, 10: no "2 5 2 5", no 10^k


def test_a_header_click_sorts_on_the_server_so_the_downloads_follow(streamlit_server, streamlit_server_log, browser):
    """The browser's own sort never reaches the server: a click on a header must sort there (and again reverse)."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def sort_line(d):
        lines = [c.text for c in d.find_elements(By.CSS_SELECTOR, '[data-testid="stCaptionContainer"]')]
        return next((t for t in lines if "Click a column header to sort by it" in t), "")

    browser.get(f"{streamlit_server}/models")
    WebDriverWait(browser, DRAW_TIMEOUT_S, poll_frequency=0.5).until(lambda d: sort_line(d).startswith("In the original order"))
    # The caption can come before the grid: the data grid's JavaScript is loaded on first use (CI saw it once).
    grid = WebDriverWait(browser, 60, poll_frequency=0.3).until(
        lambda d: next(iter(d.find_elements(By.CSS_SELECTOR, '[data-testid="stDataFrame"]')), None)
    )
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", grid)
    first_header = (-grid.rect["width"] / 2 + 40, -grid.rect["height"] / 2 + 17)  # the "Model" header, from the centre
    for expected in ("Sorted by Model, ascending", "Sorted by Model, descending"):
        ActionChains(browser).move_to_element_with_offset(grid, *first_header).click().perform()
        WebDriverWait(browser, 60, poll_frequency=0.5).until(lambda d, e=expected: sort_line(d).startswith(e))
    assert not error_boxes(browser), error_boxes(browser)
    assert not logged_problems(streamlit_server_log), logged_problems(streamlit_server_log)


def picture_nodes(driver) -> int:
    """How many node boxes the Architecture page's default picture (an SVG in a frame) draws; 0 before it is there."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.common.by import By

    try:
        frames = [f for f in driver.find_elements(By.CSS_SELECTOR, "iframe") if f.get_attribute("srcdoc")]
        if not frames:
            return 0
        driver.switch_to.frame(frames[0])
        try:
            return len(driver.find_elements(By.CSS_SELECTOR, "svg g[data-node]"))
        finally:
            driver.switch_to.default_content()
    except (StaleElementReferenceException, WebDriverException):
        return 0


def test_architecture_page_draws_the_resnet50_graph_readably(streamlit_server, browser, tmp_path):
    """The graph of ResNet-50 in Chromium: every node drawn, its stage labels on screen; the screenshot is kept
    (``$CVLENS_SCREENSHOT_DIR``) so that a person can check that it reads well."""
    import os
    import shutil

    from PIL import Image
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from cvcore.analysis.graph import catalogue_graph
    from cvcore.analysis.graph_view import fold
    from cvcore.registry import get_spec

    view = fold(catalogue_graph(get_spec("resnet50")), 1)
    browser.get(f"{streamlit_server}/architecture")
    WebDriverWait(browser, DRAW_TIMEOUT_S, poll_frequency=0.5).until(lambda d: picture_nodes(d) > 0)
    assert picture_nodes(browser) == len(fold(catalogue_graph(get_spec("resnet18")), 1).nodes)
    assert not browser.find_elements(By.CSS_SELECTOR, ".js-plotly-plot")  # the default needs no plotly
    model_box = browser.find_elements(By.CSS_SELECTOR, '[data-testid="stSelectbox"] input')[0]
    model_box.click()
    model_box.send_keys("ResNet-50")
    WebDriverWait(browser, 30, poll_frequency=0.3).until(lambda d: d.find_elements(By.CSS_SELECTOR, '[role="option"]'))
    next(o for o in browser.find_elements(By.CSS_SELECTOR, '[role="option"]') if o.text.strip() == "ResNet-50").click()
    stale = (StaleElementReferenceException,)  # the page redraws while we look
    WebDriverWait(browser, DRAW_TIMEOUT_S, poll_frequency=0.5, ignored_exceptions=stale).until(
        lambda d: picture_nodes(d) == len(view.nodes)
    )
    toggle = next(
        t for t in browser.find_elements(By.CSS_SELECTOR, '[data-testid="stCheckbox"]') if t.text.strip() == "Interactive chart"
    )
    toggle.find_element(By.CSS_SELECTOR, "label").click()

    def drawn(d):
        labels = [t.text for t in d.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .textpoint text")]
        return "layer3: Bottleneck x 6" in labels

    chart = None
    try:
        WebDriverWait(browser, DRAW_TIMEOUT_S, poll_frequency=0.5, ignored_exceptions=stale).until(drawn)
        WebDriverWait(browser, 60, poll_frequency=0.5, ignored_exceptions=stale).until(
            lambda d: (
                "Running" not in " ".join(e.text for e in d.find_elements(By.CSS_SELECTOR, '[data-testid="stStatusWidget"]'))
            )
        )
        chart = browser.find_elements(By.CSS_SELECTOR, ".js-plotly-plot")[0]
        browser.execute_script("arguments[0].scrollIntoView({block: 'start'});", chart)
        chart.screenshot(str(tmp_path / "resnet50_graph.png"))
    finally:
        browser.save_screenshot(str(tmp_path / "architecture.png"))
        keep = os.environ.get("CVLENS_SCREENSHOT_DIR")
        if keep:
            for shot in tmp_path.glob("*.png"):
                shutil.copy(shot, keep)
    points = chart.find_elements(By.CSS_SELECTOR, ".scatterlayer .trace path.point")
    assert len(points) == len(view.nodes)
    labels = {t.text for t in chart.find_elements(By.CSS_SELECTOR, ".textpoint text")}
    assert {n.title for n in view.nodes} <= labels  # every title on screen, none clipped away
    assert not error_boxes(browser), error_boxes(browser)
    shot = Image.open(tmp_path / "resnet50_graph.png").convert("L")
    assert shot.width >= 600 and shot.height >= 900
    dark = sum(1 for v in shot.getdata() if v < 100) / (shot.width * shot.height)
    assert 0.005 < dark < 0.5  # text and boxes, not a blank or a black image


def test_architecture_page_draws_its_tables_and_the_server_logs_no_traceback(streamlit_server, streamlit_server_log, browser):
    """The issue counted 22 Arrow serialisation tracebacks in the server log from this page (mixed-type columns)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{streamlit_server}/architecture")
    WebDriverWait(browser, DRAW_TIMEOUT_S, poll_frequency=0.5).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, '[data-testid="stDataFrame"]')) >= 3
    )
    WebDriverWait(browser, 30, poll_frequency=0.5).until(
        lambda d: not any("Running" in e.text for e in d.find_elements(By.CSS_SELECTOR, '[data-testid="stStatusWidget"]'))
    )
    assert not error_boxes(browser), error_boxes(browser)
    assert not logged_problems(streamlit_server_log), logged_problems(streamlit_server_log)
