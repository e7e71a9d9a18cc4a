"""AttentionView: widget state through ``get_state()``, transport encoding, selection, export."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from interp_widgets.results import AttentionPatterns
from interp_widgets.views import AttentionView
from interp_widgets.views._base import array_from_json
from interp_widgets.views.attention import THUMB_SIZE, thumbnails

EVIL = "<img src=x onerror=alert(1)>"
TOKENS = ["The", " Eiffel", " Tower", " is", " in", "\n", " Paris", EVIL]


def _patterns(n: int, layers: int = 30, heads: int = 9, seed: int = 0) -> np.ndarray:
    """Random causal softmax patterns ``[layers, heads, n, n]`` (SmolLM2's head layout)."""
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((layers, heads, n, n)).astype(np.float32) * 2
    logits[..., np.triu(np.ones((n, n), bool), 1)] = -np.inf
    p = np.exp(logits - logits.max(-1, keepdims=True))
    return (p / p.sum(-1, keepdims=True)).astype(np.float32)


def _result(tokens=TOKENS, layers: int = 30, heads: int = 9, scores: bool = True) -> AttentionPatterns:
    p = _patterns(len(tokens), layers, heads)
    rng = np.random.default_rng(1)
    hs = {d: rng.random((layers, heads)).astype(np.float32)
          for d in ("previous_token", "duplicate_token", "induction")} if scores else {}
    return AttentionPatterns(list(tokens), p, hs, model_name="tiny")


def _state_array(w: AttentionView, name: str) -> np.ndarray:
    return array_from_json(w.get_state()[name])


# -- traits ---------------------------------------------------------------------------


def test_state_is_binary_and_complete():
    r = _result()
    w = AttentionView(r)
    s = w.get_state()
    n = len(TOKENS)
    assert s["tokens"] == TOKENS
    assert isinstance(s["thumbs"]["view"], memoryview)
    assert s["thumbs"]["dtype"] == "uint8" and s["thumbs"]["shape"] == [30, 9, n, n]
    assert len(bytes(s["thumbs"]["view"])) == 30 * 9 * n * n  # one byte per weight
    assert s["thumb_encoding"] == "sqrt"
    assert s["detectors"] == ["previous_token", "duplicate_token", "induction"]
    assert s["head_scores"]["dtype"] == "float32" and s["head_scores"]["shape"] == [3, 30, 9]
    np.testing.assert_array_equal(array_from_json(s["head_scores"])[2], r.head_scores["induction"])
    assert s["selected_layer"] == -1 and s["selected_head"] == -1 and s["selected_token"] == -1
    assert s["head_pattern"] is None and s["head_pattern_of"] == []
    assert s["sort_by"] == "" and s["detector"] == "previous_token" and s["line_view"] is False
    assert s["title"] == "tiny" and s["causal"] is True and s["error"] == "" and s["theme"] == "auto"
    assert "render" in w._esm  # the built bundle is attached
    # A result without detector scores: no scores, nothing shown on the thumbnails.
    w2 = AttentionView(_result(scores=False), title="T")
    assert w2.head_scores is None and w2.detectors == [] and w2.detector == "" and w2.title == "T"


def test_show_returns_the_view_with_options():
    w = _result().show(sort_by="induction", detector="", layer=-1, head=0)
    assert isinstance(w, AttentionView)
    assert w.sort_by == "induction" and w.detector == ""
    assert (w.selected_layer, w.selected_head) == (29, 0)


# -- transport encoding ---------------------------------------------------------------


def test_quantisation_round_trip():
    r = _result()
    q = _state_array(AttentionView(r), "thumbs")
    assert q.dtype == np.uint8
    back = (q.astype(np.float64) / 255) ** 2
    # sqrt coding: |sqrt(w) - byte/255| <= 0.5/255, so |w - back| <= sqrt(w)/255 + tiny.
    err = np.abs(back - r.patterns)
    assert np.all(err <= np.sqrt(r.patterns) / 255 + 1.6e-5)
    assert float(err.max()) < 1 / 255
    # Zero stays zero (the causal mask), one is 255.
    assert np.all(q[..., np.triu(np.ones((len(TOKENS),) * 2, bool), 1)] == 0)
    assert q[0, 0, 0, 0] == 255  # the first query can only attend to itself


def test_long_texts_are_max_pooled_to_the_cap():
    n = 300
    p = np.zeros((2, 3, n, n), np.float32)
    p[0, 0, 150, 7] = 1.0  # one sharp weight: a max-pool must keep it
    p[1, 2] = 1.0 / n
    r = AttentionPatterns([f"t{i}" for i in range(n)], p)
    w = AttentionView(r)
    q = _state_array(w, "thumbs")
    assert q.shape == (2, 3, THUMB_SIZE, THUMB_SIZE)
    edges = (np.arange(THUMB_SIZE) * n) // THUMB_SIZE
    qi = np.searchsorted(edges, 150, side="right") - 1
    ki = np.searchsorted(edges, 7, side="right") - 1
    assert q[0, 0, qi, ki] == 255 and int(q[0, 0].sum()) == 255
    assert np.all(q[1, 2] == round(255 * np.sqrt(1 / n)))
    # The cap is an option; short texts are not pooled.
    assert thumbnails(p, 64).shape == (2, 3, 64, 64)
    assert _state_array(AttentionView(_result(layers=2, heads=2), thumb_size=4), "thumbs").shape == (2, 2, 4, 4)
    assert thumbnails(_patterns(5, 1, 1), 128).shape == (1, 1, 5, 5)


def test_smollm2_overview_payload_is_under_5_mb():
    w = AttentionView(_result([f"t{i}" for i in range(400)], scores=True))
    assert w.get_state()["thumbs"]["shape"] == [30, 9, 128, 128]
    assert w.get_state()["thumbs"]["view"].nbytes == 30 * 9 * 128 * 128 < 5e6


# -- selection ------------------------------------------------------------------------


def test_head_pattern_filled_on_selection():
    r = _result()
    w = AttentionView(r)
    w.selected_layer, w.selected_head = 4, 7  # as the browser sets them
    assert w.head_pattern_of == [4, 7]
    s = w.get_state()
    assert s["head_pattern"]["dtype"] == "float32"
    assert s["head_pattern"]["shape"] == [len(TOKENS), len(TOKENS)]
    np.testing.assert_array_equal(array_from_json(s["head_pattern"]), r.patterns[4, 7])
    w.set_state({"selected_layer": 0, "selected_head": 1})  # one message from the browser
    assert w.head_pattern_of == [0, 1]
    np.testing.assert_array_equal(w.head_pattern, r.patterns[0, 1])
    w.select(-1, -1)
    assert w.head_pattern_of == [29, 8]
    np.testing.assert_array_equal(w.head_pattern, r.patterns[29, 8])
    w.selected_layer = -1  # closed in the view
    assert w.head_pattern is None and w.head_pattern_of == []
    w2 = AttentionView(r, layer=2, head=3)
    np.testing.assert_array_equal(w2.head_pattern, r.patterns[2, 3])


def test_selected_token_is_synced_and_checked():
    w = AttentionView(_result())
    w.selected_token = 3
    assert w.get_state()["selected_token"] == 3
    w.set_state({"selected_token": 5})  # from the browser
    assert w.selected_token == 5
    with pytest.raises(ValueError, match="selected_token 8 is out of range 0..7"):
        w.selected_token = len(TOKENS)


# -- your own patterns ------------------------------------------------------------------


def test_own_patterns_in_the_shapes_people_have():
    """CircuitsVis takes one layer's [heads, q, k]; Hugging Face gives a tuple of
    [1, heads, q, k] per layer; TransformerLens caches [1, heads, q, k]; tensors may be on a
    GPU, in bfloat16 or need grad. Each becomes [layers, heads, q, k], causal when nothing
    lies above the diagonal."""
    torch = pytest.importorskip("torch")
    full = _result(layers=2, heads=3).patterns  # causal [2, 3, 8, 8]
    cases = {
        "circuitsvis [heads, q, k]": (full[1], (1, 3, 8, 8)),
        "one head [q, k]": (full[1, 2], (1, 1, 8, 8)),
        "cache [1, heads, q, k]": (torch.tensor(full[1])[None], (1, 3, 8, 8)),
        "hf outputs.attentions": (tuple(torch.tensor(x)[None] for x in full), (2, 3, 8, 8)),
        "bf16 tensor needing grad": (torch.tensor(full, dtype=torch.bfloat16, requires_grad=True), (2, 3, 8, 8)),
    }
    for name, (p, shape) in cases.items():
        r = AttentionPatterns(TOKENS, p)
        assert r.patterns.shape == shape and r.patterns.dtype == np.float32, name
        assert r.causal is True, name
    np.testing.assert_allclose(AttentionPatterns(TOKENS, cases["hf outputs.attentions"][0]).patterns, full, atol=1e-6)
    enc = np.full((1, 1, 8, 8), 1 / 8, np.float32)  # an encoder: every query sees every key
    r = AttentionPatterns(TOKENS, enc)
    assert r.causal is False and AttentionView(r).causal is False
    batch_first = torch.stack([torch.tensor(x)[None] for x in full], dim=1)  # [1, layers, heads, q, k]
    assert AttentionPatterns(TOKENS, batch_first).patterns.shape == (2, 3, 8, 8)
    with pytest.raises(ValueError, match="hold several texts"):
        AttentionPatterns(TOKENS, np.stack([full, full], 1))
    with pytest.raises(ValueError, match="attn_implementation='eager'"):
        AttentionPatterns(TOKENS, ())  # what HF returns under SDPA
    with pytest.raises(ValueError, match="token 0 is Tensor"):
        AttentionPatterns(torch.arange(8), full)
    with pytest.raises(ValueError, match="NaN or inf"):
        AttentionPatterns(TOKENS, np.full((8, 8), np.nan, np.float32))
    with pytest.raises(ValueError, match="not one string"):
        AttentionPatterns("the cat", full)
    assert AttentionView(AttentionPatterns(TOKENS, full, pair_start=3)).pair_start == 3
    assert AttentionView(AttentionPatterns(TOKENS, full)).pair_start == -1
    with pytest.raises(ValueError, match="pair_start 8 must lie inside"):
        AttentionPatterns(TOKENS, full, pair_start=8)


# -- bad input ------------------------------------------------------------------------


def test_bad_input_raises_clear_errors():
    r = _result(layers=2, heads=3)
    with pytest.raises(TypeError, match="needs an AttentionPatterns"):
        AttentionView(r.patterns)
    with pytest.raises(ValueError, match=r"layer 2 is out of range: the model has 2 layers \(0..1\)"):
        AttentionView(r, layer=2, head=0)
    w = AttentionView(r)
    with pytest.raises(ValueError, match="head 3 is out of range: the model has 3 heads"):
        w.select(0, 3)
    with pytest.raises(ValueError, match=r"selected_head 5 is out of range.*0..2, or -1"):
        w.selected_head = 5
    with pytest.raises(ValueError, match="selected_layer -2 is out of range"):
        w.selected_layer = -2
    with pytest.raises(ValueError, match="'copying' is not a detector.*available"):
        AttentionView(r, sort_by="copying")
    with pytest.raises(ValueError, match="is not a detector"):
        w.detector = "copying"
    with pytest.raises(ValueError, match="thumb_size must be a positive integer"):
        AttentionView(r, thumb_size=0)
    # Wrong shapes: the result refuses them, and the view re-checks a reassigned field.
    with pytest.raises(ValueError, match=r"patterns must be \[layers, heads, 8, 8\]"):
        AttentionPatterns(TOKENS, np.zeros((2, 3, 8, 7), np.float32))
    r.patterns = np.zeros((3, 8, 8), np.float32)
    with pytest.raises(ValueError, match=r"patterns must be \[layers, heads, 8, 8\] for 8 tokens, got \(3, 8, 8\)"):
        AttentionView(r)
    bad = _result(layers=1, heads=1)
    bad.patterns = bad.patterns * 3 - 1
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\].*not scores or logits"):
        AttentionView(bad)
    bad.patterns = np.full_like(bad.patterns, np.nan)
    with pytest.raises(ValueError, match="non-finite"):
        AttentionView(bad)


# -- export ---------------------------------------------------------------------------


def test_export_is_self_contained_and_escapes_tokens(tmp_path):
    w = AttentionView(_result(), layer=1, head=2)
    path = w.to_html(tmp_path / "att.html")
    page = path.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=", page)
    urls = set(re.findall(r"https?://[\w./-]+", page))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls
    assert "connect-src 'none'" in page and page.count("</script>") == 3
    assert "<img" not in page  # the token travels escaped, as \u003cimg
    assert "\\u003cimg src=x onerror=alert(1)\\u003e" in page
    views = json.loads(re.search(r'id="iw-views">(.*?)</script>', page, re.S).group(1))
    state = views[0]["state"]
    assert state["tokens"] == TOKENS and state["thumbs"]["dtype"] == "uint8"
    assert isinstance(state["thumbs"]["view"], str)  # base64
    assert state["head_pattern_of"] == [1, 2] and state["selected_layer"] == 1
    (bundle,) = json.loads(re.search(r'id="iw-bundles">(.*?)</script>', page, re.S).group(1))
    assert "iw-attention" in bundle
    # The result's own to_html goes through the same path.
    assert _result(layers=1, heads=2).to_html(tmp_path / "r.html").exists()


# -- the exported page in Chromium ----------------------------------------------------

_RUNNER = r"""
import json, sys
from playwright.sync_api import sync_playwright
job = json.loads(sys.argv[1])
with sync_playwright() as p:
    b = p.chromium.launch(executable_path="/usr/bin/chromium", args=job["args"])
    page = b.new_page(color_scheme=job["scheme"], viewport={"width": 1200, "height": 800})
    errors, requests = [], []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url) if not r.url.startswith(("file:", "blob:", "data:")) else None)
    page.goto("file://" + job["path"])
    page.wait_for_selector("html[data-iw-ready]", timeout=20000)
    n_thumbs = page.evaluate("document.querySelectorAll('.iw-thumb[data-layer][data-head] canvas').length")
    page.click(".iw-thumb[data-layer='2'][data-head='1']")
    page.wait_for_selector(".iw-head-matrix[data-layer='2'][data-head='1']")
    page.hover(".iw-qlabels .iw-token[data-index='3']")
    out = page.evaluate('''() => ({
      ready: document.documentElement.dataset.iwReady,
      xss: window.__xss === undefined ? null : window.__xss,
      imgs: document.querySelectorAll('.iw-page-view img').length,
      kind: document.querySelector('.iw-head-matrix').dataset.kind,
      labels: [...document.querySelectorAll('.iw-qlabels .iw-token')].map(e => e.textContent),
      hl: document.querySelectorAll('.iw-hl').length,
      errors: [...document.querySelectorAll('.iw-error')].filter(e => !e.hidden).map(e => e.textContent),
      bg: getComputedStyle(document.querySelector('.iw-root')).backgroundColor,
    })''')
    out["n_thumbs"] = n_thumbs
    b.close()
print("RESULT" + json.dumps({"out": out, "errors": errors, "requests": requests}))
"""


@pytest.mark.e2e
@pytest.mark.skipif(not __import__("pathlib").Path("/usr/bin/chromium").exists(), reason="needs /usr/bin/chromium")
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_exported_view_works_in_chromium(tmp_path, scheme):
    import subprocess
    import sys

    evil = '<img src=x onerror="window.__xss=1">'
    path = AttentionView(_result(TOKENS[:-1] + [evil], layers=4, heads=3)).to_html(tmp_path / "a.html")
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
    job = {"args": args, "path": str(path), "scheme": scheme}
    proc = subprocess.run([sys.executable, "-c", _RUNNER, json.dumps(job)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT"))[6:])
    assert res["errors"] == [] and res["requests"] == []
    out = res["out"]
    assert out["ready"] == "1" and out["n_thumbs"] == 12 and out["errors"] == []
    assert out["kind"] == "preview"  # no Python behind the page: the 8-bit thumbnail
    assert out["labels"][:2] == ["The", "·Eiffel"] and out["labels"][5] == "↵" and out["labels"][-1] == evil
    assert out["xss"] is None and out["imgs"] == 0
    assert out["hl"] >= 2
    dark = max(int(x) for x in re.findall(r"\d+", out["bg"])[:3]) < 60
    assert dark == (scheme == "dark"), out["bg"]


def test_a_one_layer_tuple_of_several_texts_is_refused():
    torch = pytest.importorskip("torch")
    p = torch.softmax(torch.randn(2, 4, 8, 8), -1)  # one layer, two texts
    with pytest.raises(ValueError, match="hold several texts"):
        AttentionPatterns(TOKENS, (p,))
