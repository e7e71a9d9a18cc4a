"""DirectLogitAttributionView: traits, binary arrays, selection, export, bad input."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

import interp_widgets as iw
from interp_widgets.export import widget_state
from interp_widgets.results import DirectLogitAttribution
from interp_widgets.views import DirectLogitAttributionView

EVIL = '<img src=x onerror="window.__xss=1">'
TOKENS = ["When", " Mary", " and", " John", "\n", EVIL, " to"]


def _result(layers: int = 4, heads: int = 3, tokens=TOKENS, seed: int = 0) -> DirectLogitAttribution:
    rng = np.random.default_rng(seed)
    h = rng.normal(size=(layers, heads)).astype(np.float32)
    b = rng.normal(scale=0.1, size=layers).astype(np.float32)
    m = rng.normal(size=layers).astype(np.float32)
    r = DirectLogitAttribution(tokens=list(tokens), position=len(tokens) - 1, target="' Mary' - ' John'",
                               heads=h, attn_bias=b, mlp=m, embed=0.25, norm_bias=-0.125,
                               lm_bias=0.0, logit=0.0, model_name="tiny")
    r.logit = r.total
    return r


def _decode(payload: dict) -> np.ndarray:
    assert isinstance(payload["view"], memoryview)  # binary, never a JSON list
    return np.frombuffer(bytes(payload["view"]), dtype=payload["dtype"]).reshape(payload["shape"])


def test_state_is_binary_and_equals_the_result():
    r = _result()
    w = r.show()
    assert isinstance(w, DirectLogitAttributionView)
    s = w.get_state()
    for name, want in (("heads", r.heads), ("attn_bias", r.attn_bias), ("mlp", r.mlp)):
        assert s[name]["dtype"] == "float32" and s[name]["shape"] == list(want.shape)
        np.testing.assert_array_equal(_decode(s[name]), want)
    assert s["tokens"] == TOKENS and s["position"] == len(TOKENS) - 1
    assert s["target"] == "' Mary' - ' John'" and s["title"] == "tiny"
    assert s["embed"] == 0.25 and s["norm_bias"] == -0.125 and s["lm_bias"] == 0.0
    assert s["logit"] == pytest.approx(r.total)
    assert s["selected_layer"] == -1 and s["selected_head"] == -1 and s["theme"] == "auto"
    assert w.n_layers == 4 and w.n_heads == 3
    assert r.show(theme="dark", title="x").theme == "dark"


def test_lazy_public_name_and_negative_position():
    assert iw.DirectLogitAttributionView is DirectLogitAttributionView
    assert "DirectLogitAttributionView" in iw.__all__
    r = _result()
    r.position = -1
    assert r.show().position == len(TOKENS) - 1


def test_selection_is_synced_and_checked():
    w = _result().show()
    seen = []
    w.observe(lambda ch: seen.append((ch["name"], ch["new"])), ["selected_layer", "selected_head"])
    assert w.select(-1, 2) is w
    assert (w.selected_layer, w.selected_head) == (3, 2) and seen == [("selected_layer", 3), ("selected_head", 2)]
    w.selected_layer = -1  # none
    with pytest.raises(ValueError, match="selected_head 3 is out of range"):
        w.selected_head = 3
    with pytest.raises(ValueError, match="layer 4 is out of range"):
        w.select(4, 0)


def test_bad_input_raises_clear_errors():
    with pytest.raises(TypeError, match="needs a DirectLogitAttribution"):
        DirectLogitAttributionView(np.zeros((2, 2)))
    r = _result()
    r.heads = np.zeros(4, np.float32)
    with pytest.raises(ValueError, match=r"heads must be a non-empty \[layers, heads\]"):
        r.show()
    r = _result()
    r.mlp = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match=r"mlp must be \[layers\]"):
        r.show()
    r = _result()
    r.heads[1, 2] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        r.show()
    r = _result()
    r.logit = float("inf")
    with pytest.raises(ValueError, match="logit must be finite"):
        r.show()
    r = _result()
    r.position = 7
    with pytest.raises(ValueError, match="position 7 is out of range"):
        r.show()
    with pytest.raises(ValueError, match="no tokens"):
        _result(tokens=[]).show()
    with pytest.raises(TypeError):
        _result().show(colour="red")  # unknown keyword


def test_export_is_self_contained_and_escapes_tokens(tmp_path):
    r = _result()
    path = r.to_html(tmp_path / "dla.html")
    page = Path(path).read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=", page)
    assert set(re.findall(r"https?://[\w./-]+", page)) <= {"http://www.w3.org/2000/svg"}
    assert "connect-src 'none'" in page and page.count("</script>") == 3
    assert "<img" not in page  # the token travels escaped
    views = json.loads(re.search(r'id="iw-views">(.*?)</script>', page, re.S).group(1))
    state = views[0]["state"]
    assert state["tokens"] == TOKENS and isinstance(state["heads"]["view"], str)  # base64
    assert state == json.loads(json.dumps(widget_state(r.show())))
    (bundle,) = json.loads(re.search(r'id="iw-bundles">(.*?)</script>', page, re.S).group(1))
    assert "iw-dla" in bundle


# -- the exported page in Chromium ----------------------------------------------------

_RUNNER = r"""
import json, sys
from playwright.sync_api import sync_playwright
job = json.loads(sys.argv[1])
with sync_playwright() as p:
    b = p.chromium.launch(executable_path="/usr/bin/chromium", args=job["args"])
    page = b.new_page(color_scheme=job["scheme"], viewport={"width": 1000, "height": 700})
    errors, requests = [], []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url) if not r.url.startswith(("file:", "blob:", "data:")) else None)
    page.goto("file://" + job["path"])
    page.wait_for_selector("html[data-iw-ready]", timeout=20000)
    box = page.locator("canvas.iw-dla-heads").bounding_box()
    page.mouse.move(box["x"] + 2.5 * 30, box["y"] + 1.5 * 16)  # layer 1, head 2
    page.wait_for_selector(".iw-tooltip:not([hidden])")
    out = page.evaluate('''() => ({
      tip: document.querySelector('.iw-tooltip').textContent,
      rows: [...document.querySelectorAll('.iw-dla-layer[data-layer]')].map(e => [+e.dataset.attn, +e.dataset.mlp]),
      check: document.querySelector('.iw-dla-check').textContent,
      ok: document.querySelector('.iw-dla-check').dataset.ok,
      context: document.querySelector('.iw-dla-context').textContent,
      xss: window.__xss === undefined ? null : window.__xss,
      imgs: document.querySelectorAll('.iw-dla img').length,
      errors: [...document.querySelectorAll('.iw-error')].filter(e => !e.hidden).map(e => e.textContent),
      bg: getComputedStyle(document.querySelector('.iw-root')).backgroundColor,
    })''')
    b.close()
print("RESULT" + json.dumps({"out": out, "errors": errors, "requests": requests}))
"""


@pytest.mark.e2e
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs /usr/bin/chromium")
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_exported_view_works_in_chromium(tmp_path, scheme):
    import subprocess

    r = _result()
    path = r.to_html(tmp_path / "d.html")
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
    job = {"args": args, "path": str(path), "scheme": scheme}
    proc = subprocess.run([sys.executable, "-c", _RUNNER, json.dumps(job)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT"))[6:])
    assert res["errors"] == [] and res["requests"] == []
    out = res["out"]
    assert out["errors"] == []
    assert out["tip"] == f"L1H2: {r.heads[1, 2]:+.3f}"
    attn = r.heads.sum(1) + r.attn_bias
    np.testing.assert_allclose([a for a, _ in out["rows"]], attn, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose([m for _, m in out["rows"]], r.mlp, rtol=1e-6)
    assert out["ok"] == "true" and "sum of parts" in out["check"]
    assert EVIL in out["context"]  # shown as text
    assert out["xss"] is None and out["imgs"] == 0
    dark = max(int(x) for x in re.findall(r"\d+", out["bg"])[:3]) < 60
    assert dark == (scheme == "dark"), out["bg"]
