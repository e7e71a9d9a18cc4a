"""Self-contained HTML export: file contents, and (e2e) rendering in headless Chromium.

The browser checks run Playwright in a subprocess so they never clash with the session-wide
Playwright instance of tests/e2e (two sync_playwright() in one thread fail).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from interp_widgets.export import to_html, widget_state
from interp_widgets.results import Attribution, AttributionSource
from interp_widgets.views import AttributionWidget, TokenHeatmap

EVIL = '<img src=x onerror="window.__xss=1">'
TOKENS = ["The", " Eiffel", " Tower", " is", " in", " Paris", ",", " France", "\n", EVIL, "</script>"]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def _heatmap(**kw) -> TokenHeatmap:
    return TokenHeatmap(TOKENS, np.linspace(-1, 1, len(TOKENS)), title="export </script> test", **kw)


def _attribution(source: bool = True) -> Attribution:
    scores = np.array([0.1, 0.8, 0.5, -0.2, 0.05, 0, 0, 0, 0, 0, 0], np.float32)
    a = Attribution(tokens=TOKENS, scores=scores, target="' Paris'", method="integrated_gradients",
                    delta=np.array([0.001]), n_evals=64, prompt_len=5, target_positions=[5])
    if source:
        a._source = AttributionSource(recompute=lambda **kw: a, methods=("integrated_gradients", "saliency"))
    return a


# -- file contents --------------------------------------------------------------------


def test_export_is_one_self_contained_file(tmp_path):
    path = _heatmap().to_html(tmp_path / "h.html")
    assert path == tmp_path / "h.html"
    page = path.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=", page), "no external scripts"
    # Only XML namespace names (d3-interpolate's SVG transform parser) may look like URLs.
    urls = set(re.findall(r"https?://[\w./-]+", page))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls
    for m in re.finditer(r"(src|href)\s*=\s*[\"']?(https?:)?//", page):
        pytest.fail(f"network reference in export: {m.group(0)}")
    assert "Content-Security-Policy" in page and "connect-src 'none'" in page
    # Exactly our three script blocks; token text cannot close one.
    assert page.count("</script>") == 3
    assert EVIL not in page
    assert "\\u003cimg" in page
    # The state round-trips, binary arrays as base64.
    views = json.loads(re.search(r'id="iw-views">(.*?)</script>', page, re.S).group(1))
    assert len(views) == 1 and views[0]["bundle"] == 0
    state = views[0]["state"]
    assert state["tokens"] == TOKENS
    assert isinstance(state["values"]["view"], str) and state["values"]["shape"] == [1, len(TOKENS)]
    import base64
    vals = np.frombuffer(base64.b64decode(state["values"]["view"]), "<f4")
    np.testing.assert_allclose(vals, np.linspace(-1, 1, len(TOKENS)), rtol=1e-6)
    (bundle,) = json.loads(re.search(r'id="iw-bundles">(.*?)</script>', page, re.S).group(1))
    assert "render" in bundle and len(bundle) > 1000
    assert "<title>export &lt;/script&gt; test</title>" in page


def test_export_state_is_static(tmp_path):
    w = AttributionWidget(_attribution())
    assert w.interactive is True
    st = widget_state(w)
    assert st["interactive"] is False and st["busy"] is False
    assert not any(k.startswith("_") for k in st) and "layout" not in st
    p = to_html(w, tmp_path / "sub" / "a.html", title="Attribution")
    assert p.exists() and "<title>Attribution</title>" in p.read_text()
    assert w.interactive is True  # exporting does not change the live widget
    # Attribution.to_html goes through the same path.
    p2 = _attribution(source=False).to_html(tmp_path / "a2.html")
    assert Path(p2).exists()


# -- in the browser -------------------------------------------------------------------

_RUNNER = r"""
import json, sys
from playwright.sync_api import sync_playwright
job = json.loads(sys.argv[1])
with sync_playwright() as p:
    b = p.chromium.launch(executable_path=job["chromium"], args=job["args"])
    page = b.new_page(color_scheme=job["scheme"], viewport={"width": 1000, "height": 700})
    errors, requests = [], []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url) if not r.url.startswith(("file:", "blob:", "data:")) else None)
    page.goto("file://" + job["path"])
    page.wait_for_selector("html[data-iw-ready]", timeout=20000)
    if job.get("hover") is not None:
        page.hover(f".iw-token[data-index='{job['hover']}']")
    if job.get("click") is not None:
        page.click(f".iw-token[data-index='{job['click']}']")
    page.wait_for_timeout(300)
    out = page.evaluate(job["expr"])
    b.close()
print("RESULT" + json.dumps({"out": out, "errors": errors, "requests": requests}))
"""


def _in_chromium(path: Path, expr: str, scheme: str = "light", hover: int | None = None,
                 click: int | None = None) -> dict:
    job = {"chromium": CHROMIUM, "args": CHROMIUM_ARGS, "path": str(path), "scheme": scheme,
           "expr": expr, "hover": hover, "click": click}
    proc = subprocess.run([sys.executable, "-c", _RUNNER, json.dumps(job)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT"))
    res = json.loads(line[6:])
    assert res["errors"] == [], res["errors"]
    assert res["requests"] == [], f"the page made network requests: {res['requests']}"
    return res["out"]


browser = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium")

READ_STATE = """() => ({
  ready: document.documentElement.dataset.iwReady,
  xss: window.__xss === undefined ? null : window.__xss,
  imgs: document.querySelectorAll('.iw-page-view img').length,
  tokens: [...document.querySelectorAll('.iw-token[data-index][data-value]')].map(e => [e.dataset.index, e.textContent, e.dataset.value]),
  errors: [...document.querySelectorAll('.iw-error')].filter(e => !e.hidden).map(e => e.textContent),
  bg: getComputedStyle(document.querySelector('.iw-root')).backgroundColor,
  tip: (() => { const t = document.querySelector('.iw-tooltip'); return t && !t.hidden ? t.textContent : null; })(),
  root: (() => { const r = document.querySelector('.iw-attribution'); return r ? {pos: r.dataset.targetPosition, method: r.dataset.method, interactive: r.dataset.interactive} : null; })(),
  cont: document.querySelectorAll('.iw-cont').length,
  title: (document.querySelector('.iw-title') || {}).textContent || null,
})"""


@pytest.mark.e2e
@browser
def test_exported_heatmap_renders_text_and_runs_nothing(tmp_path):
    path = _heatmap().to_html(tmp_path / "h.html")
    out = _in_chromium(path, READ_STATE, hover=9)
    assert out["ready"] == "1"
    assert out["xss"] is None and out["imgs"] == 0
    texts = [t for _, t, _ in out["tokens"]]
    assert texts[:3] == ["The", "·Eiffel", "·Tower"]
    assert texts[8] == "↵" and texts[9] == EVIL and texts[10] == "</script>"
    assert [float(v) for _, _, v in out["tokens"]][0] == -1.0
    assert out["errors"] == []
    assert out["title"] == "export </script> test"
    assert out["tip"] is not None and EVIL in out["tip"] and "#9" in out["tip"]
    assert out["bg"] == "rgb(255, 255, 255)"


@pytest.mark.e2e
@browser
def test_exported_heatmap_follows_dark_scheme_and_selects_locally(tmp_path):
    path = _heatmap().to_html(tmp_path / "h.html")
    out = _in_chromium(path, "() => [getComputedStyle(document.querySelector('.iw-root')).backgroundColor,"
                             " document.querySelectorAll('.iw-selected').length]", scheme="dark", click=2)
    bg, selected = out
    r, g, b = (int(x) for x in re.findall(r"\d+", bg)[:3])
    assert max(r, g, b) < 60, bg
    assert selected == 1


@pytest.mark.e2e
@browser
def test_exported_attribution_is_static(tmp_path):
    path = AttributionWidget(_attribution()).to_html(tmp_path / "a.html")
    out = _in_chromium(path, READ_STATE, click=7)
    assert out["root"] == {"pos": "5", "method": "integrated_gradients", "interactive": "false"}
    assert out["cont"] == len(TOKENS) - 5
    assert out["xss"] is None and out["imgs"] == 0
    assert out["errors"] == []


@pytest.mark.e2e
@browser
def test_exported_bad_state_shows_error(tmp_path):
    w = _heatmap()
    path = w.to_html(tmp_path / "bad.html")
    page = path.read_text()
    # Hand-edit the state so that the shape no longer matches the tokens.
    page = page.replace(f'"shape":[1,{len(TOKENS)}]', '"shape":[1,3]')
    path.write_text(page)
    out = _in_chromium(path, READ_STATE)
    assert out["errors"] and "could not be read" in out["errors"][0]
    assert len(out["tokens"]) == 0 and out["ready"] == "1"  # no coloured tokens...
    plain = _in_chromium(path, "() => [...document.querySelectorAll('.iw-token')].map(e => e.textContent)")
    assert plain[:2] == ["The", "·Eiffel"]  # ...but the text is still shown


def test_export_several_views_on_one_page(tmp_path):
    """A list of widgets becomes one page: each view rendered, each bundle inlined once."""
    ws = [_heatmap(), AttributionWidget(_attribution()), _heatmap()]
    page = to_html(ws, tmp_path / "many.html").read_text(encoding="utf-8")
    views = json.loads(re.search(r'id="iw-views">(.*?)</script>', page, re.S).group(1))
    bundles = json.loads(re.search(r'id="iw-bundles">(.*?)</script>', page, re.S).group(1))
    assert [v["bundle"] for v in views] == [0, 1, 0] and len(bundles) == 2
    if Path(CHROMIUM).exists():
        out = _in_chromium(tmp_path / "many.html", "() => [document.documentElement.dataset.iwReady, "
                           "document.querySelectorAll('.iw-heatmap').length, document.querySelectorAll('.iw-attribution').length]")
        assert out == ["1", 2, 1]
    assert all(f'id="iw-view-{i}"' in page for i in range(3))
    with pytest.raises(ValueError, match="at least one"):
        to_html([], tmp_path / "none.html")


def test_gallery_page_has_headings_contents_and_escapes_them(tmp_path):
    """captions= makes a gallery: a title, a list of contents, a heading and a caption per view,
    all escaped (a heading with markup shows as text)."""
    ws = [_heatmap(), _heatmap()]
    evil = "<img src=x onerror=window.__xss=1>"
    path = to_html(ws, tmp_path / "g.html", title="Gallery", captions=[("First " + evil, "about one"), ("Second", "")],
                   intro="intro text")
    page = path.read_text(encoding="utf-8")
    assert "<img src=x" not in page and "&lt;img src=x" in page
    assert page.count('class="iw-page-sec"') == 2 and 'href="#iw-sec-1"' in page and "intro text" in page
    with pytest.raises(ValueError, match="one \\(heading, text\\) per view"):
        to_html(ws, tmp_path / "bad.html", captions=[("only one", "")])
    if Path(CHROMIUM).exists():
        out = _in_chromium(path, "() => [document.documentElement.dataset.iwReady, window.__xss === undefined, "
                           "[...document.querySelectorAll('.iw-page-h')].map(h => h.textContent), "
                           "document.querySelectorAll('.iw-page-sec .iw-heatmap').length]")
        assert out == ["1", True, ["First " + evil, "Second"], 2]
