"""README's main job: ``interp-widgets demo`` writes a gallery of real views that renders
offline in Chromium, every section present and none showing an error."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from interp_widgets import cli

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
READ = """() => ({
  ready: document.documentElement.dataset.iwReady,
  headings: [...document.querySelectorAll('.iw-page-h')].map(h => h.textContent),
  filled: [...document.querySelectorAll('.iw-page-view')].map(v => v.childElementCount > 0),
  errors: [...document.querySelectorAll('.iw-error')].filter(e => !e.hidden && e.textContent).map(e => e.textContent),
})"""
RUN = r"""
import json, sys
from playwright.sync_api import sync_playwright
path, expr = sys.argv[1], sys.argv[2]
with sync_playwright() as p:
    b = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox", "--disable-gpu"])
    page = b.new_page(viewport={"width": 1200, "height": 900})
    errs = []
    page.on("pageerror", lambda e: errs.append(str(e)))
    page.goto("file://" + path)
    page.wait_for_selector("html[data-iw-ready]", timeout=60000)
    print("RESULT" + json.dumps({"out": page.evaluate(expr), "errors": errs}))
    b.close()
"""


def test_demo_gallery(tmp_path, capsys):
    out = tmp_path / "gallery.html"
    rc = cli.main(["demo", "--out", str(out), "--method", "input_x_gradient", "The capital of France is"])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    assert str(out.resolve()) in printed and "jupyter lab" in printed
    headings = [h for _, h, _, _ in cli.SECTIONS]
    page = out.read_text(encoding="utf-8")
    assert all(f'id="iw-sec-{i}"' in page for i in range(len(headings)))
    if not Path(CHROMIUM).exists():
        pytest.skip("needs Debian's chromium to render the gallery")
    proc = subprocess.run([sys.executable, "-c", RUN, str(out), READ], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads(next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT"))[6:])
    assert res["errors"] == []
    r = res["out"]
    assert r["ready"] == "1" and r["errors"] == []
    assert r["headings"] == headings and all(r["filled"])
