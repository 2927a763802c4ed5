"""Every page registered in dashboard/app.py runs without an exception (pages are discovered, not listed)."""

import ast

import pytest

from tests.dashboard.conftest import APP


def registered_pages() -> list[str]:
    """The page files passed to ``st.Page(PAGES_DIR / "<file>", ...)`` in app.py, relative to app.py's folder."""
    pages = []
    for node in ast.walk(ast.parse(APP.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "Page" and node.args:
            names = [n.value for n in ast.walk(node.args[0]) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
            assert names, f"st.Page with no file name: {ast.unparse(node)}"
            pages.append(f"app_pages/{names[-1]}")
    return pages


PAGES = registered_pages()


def test_every_page_file_is_registered():
    on_disk = {f"app_pages/{p.name}" for p in (APP.parent / "app_pages").glob("*.py") if p.name != "__init__.py"}
    assert set(PAGES) == on_disk
    assert len(PAGES) == len(set(PAGES))


@pytest.mark.parametrize("page", PAGES)
def test_page_runs_without_exception(page_app, page):
    at = page_app(page)
    assert not at.exception, [e.message for e in at.exception]
    assert len(at.main) > 0, f"{page} shows nothing"
