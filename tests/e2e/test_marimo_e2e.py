"""marimo as a host: our anywidget views render in a marimo app (``mo.ui.anywidget``) and a
click in the browser reaches Python (a second cell that reads the widget's value reruns)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import _free_port

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
APP = '''\
import marimo

app = marimo.App()


@app.cell
def _():
    import marimo as mo
    import numpy as np
    import interp_widgets as iw
    view = mo.ui.anywidget(iw.TokenHeatmap(["The", " cat", " <b>sat</b>"], np.array([0.2, -0.5, 0.9]),
                                           title="marimo smoke"))
    view
    return mo, view


@app.cell
def _(mo, view):
    mo.md(f"python sees selected_token = {view.value.get('selected_token')}")
    return


if __name__ == "__main__":
    app.run()
'''


@pytest.fixture
def marimo_app(tmp_path):
    pytest.importorskip("marimo")
    (tmp_path / "app.py").write_text(APP)
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    proc = subprocess.Popen([sys.executable, "-m", "marimo", "run", "app.py", "--headless", "--port", str(port),
                             "--no-token"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://localhost:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail("marimo exited: " + proc.stdout.read().decode(errors="replace")[-2000:])
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def test_view_renders_and_clicks_reach_python_in_marimo(browser, marimo_app):
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(marimo_app)
        page.wait_for_selector(".iw-token", timeout=60_000)
        tokens = [e.text_content() for e in page.query_selector_all(".iw-token")]
        assert tokens == ["The", "·cat", "·<b>sat</b>"]  # text, not markup
        status = page.get_by_text("python sees selected_token")
        assert status.text_content().strip().endswith("= -1")
        page.click(".iw-token[data-index='1']")
        page.wait_for_function(
            "() => [...document.querySelectorAll('*')].some(e => e.childElementCount === 0 && "
            "(e.textContent || '').includes('selected_token = 1'))", timeout=30_000)
        assert errors == []
    finally:
        page.close()
