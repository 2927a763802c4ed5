"""regenerate.sh rebuilds what the photo pages and the MobileNet explorer add to a report.

Items are added by clicking "Add to report" on the Segmentation (legend, disagreement),
Saliency (faithfulness scores), Architecture (effective receptive field) and Papers
(MobileNet explorer) pages; the ZIP is unpacked and every line of its regenerate.sh is run
through the CLI in-process, reading the input photos the ZIP carries. Each rebuilt CSV must
hold the exported CSV's numbers, read back with the csv module (times excepted: they are
measured again).
"""

import contextlib
import csv
import io
import shlex
import zipfile

import pytest

from cvcore.cli import main
from cvcore.report import load_report
from cvcore.report.export import StaticExport, commands, report_zip
from dashboard import state
from tests.dashboard.conftest import APP, APP_TIMEOUT_S
from tests.dashboard.test_report import add, home  # noqa: F401 (home: the autouse fixture of a private cvlens home)

LITE = "efficientnet_lite0"


def run_line(line: str, here, out) -> None:
    """One regenerate.sh line, as sh would run it from the unpacked ZIP: `"$PYTHON" -m cvcore ARGS > "$OUT/x.csv"`."""
    words = shlex.split(line.replace('"$HERE/', f'"{here}/').replace('"$OUT/', f'"{out}/'))
    assert words[:3] == ["$PYTHON", "-m", "cvcore"] and words[-2] == ">", words
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(words[3:-2]) == 0, words
    with open(words[-1], "w") as handle:
        handle.write(printed.getvalue())


def rows_of(text: str) -> list[list[str]]:
    """The CSV's header and rows, without the caption line that ends it."""
    return [row for row in csv.reader(io.StringIO(text)) if row and not row[0].startswith("#")]


def assert_same_numbers(rebuilt: str, exported: str, name: str) -> None:
    """Every exported column (a page may show fewer than the CLI prints) holds the same cells, numbers as numbers."""
    ours, theirs = rows_of(exported), rows_of(rebuilt)
    assert set(ours[0]) <= set(theirs[0]) and len(ours) == len(theirs) >= 2, (name, ours[0], theirs[0])
    where = [theirs[0].index(header) for header in ours[0]]
    for mine, again in zip(ours[1:], theirs[1:]):
        for header, a, n in zip(ours[0], mine, where):
            if "(ms)" in header:  # wall-clock time: measured anew
                continue
            b = again[n]
            try:
                assert float(a.replace(",", "")) == pytest.approx(float(b.replace(",", "")), abs=1e-9), (name, header)
            except ValueError:
                assert a == b, (name, header)


def test_photo_pages_and_the_explorer_are_rebuilt_by_regenerate_sh(tmp_path):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=APP_TIMEOUT_S)
    at.session_state[state.SEG_MODELS] = [LITE, "efficientnet_lite1"]  # two coarse maps: the same classes, no download
    at.switch_page("app_pages/segmentation.py").run()
    assert not at.exception and not at.error
    add(at, f"{state.SEG_TABLES}.{LITE}.classes")
    add(at, f"{state.SEG_TABLES}.disagreement")

    at.session_state[state.SAL_METHODS] = ["saliency"]
    at.session_state[state.SAL_RANDOM_MAPS] = 1  # one random map: the test stays short
    at.switch_page("app_pages/saliency.py").run()
    assert not at.exception and not at.error
    add(at, f"{state.SAL_TABLES}.{LITE}.faith")
    add(at, f"{state.SAL_TABLES}.{LITE}.curves")

    at.switch_page("app_pages/architecture.py").run()
    at.number_input(key=state.ARCH_INPUT_H).set_value(64).run()
    at.number_input(key=state.ARCH_INPUT_W).set_value(64).run()
    at.multiselect(key=state.ARCH_ERF_SAMPLES).set_value(["chelsea.png", "rocket.jpg"]).run()
    at.selectbox(key=state.ARCH_ERF_LAYER).select("layer1").run()
    at.button(key=state.ARCH_ERF_RUN).click().run()
    assert not at.exception and not at.error
    add(at, f"{state.ARCH_ERF_VIEW}.table")
    add(at, f"{state.ARCH_ERF_VIEW}.figure")

    at.switch_page("app_pages/papers.py").run()
    at.selectbox(key=state.PAPERS_PAPER).select("mobilenet").run()
    at.slider(key=state.PAPERS_WIDTH).set_value(0.5).run()
    at.slider(key=state.PAPERS_RESOLUTION).set_value(160).run()
    assert not at.exception and not at.error
    add(at, f"{state.PAPERS_TRADEOFF}.table")
    add(at, state.PAPERS_TRADEOFF)

    report = load_report("defense")
    assert [i.page for i in report.items] == ["Segmentation"] * 2 + ["Saliency"] * 2 + ["Architecture"] * 2 + ["Papers"] * 2
    assert all(i.rebuild and i.rebuild.command for i in report.items), [i.rebuild for i in report.items]
    assert [len(i.rebuild.inputs) for i in report.items] == [1, 1, 1, 1, 2, 2, 0, 0]  # the photos the numbers came from
    archive = zipfile.ZipFile(io.BytesIO(report_zip(report, static=StaticExport(problem="not rendered in this test"))))
    archive.extractall(tmp_path / "pack")
    assert sum(name.startswith("photos/") for name in archive.namelist()) == 8
    out = tmp_path / "regenerated"
    out.mkdir()
    lines = commands(report)
    assert len(lines) == len(report.items)
    for line in lines:
        run_line(line, tmp_path / "pack", out)

    for item, line in zip(report.items, lines):
        target = shlex.split(line)[-1].split("/")[-1]
        if item.kind == "table":
            exported = archive.read(f"tables/{target}").decode()
            assert_same_numbers((out / target).read_text(), exported, item.file_stem)
        else:  # the figure it draws is written beside what it prints
            stem = target.rsplit(".", 1)[0]
            (figure,) = [p for p in out.glob(f"{stem}.*") if p.suffix in (".png", ".html")]
            assert figure.stat().st_size > 1000, figure
