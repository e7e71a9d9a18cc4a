"""PatchingView: traits, binary values, click -> top tokens from Python, shapes, export, bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

import interp_widgets as iw
from interp_widgets.export import widget_state
from interp_widgets.results import PatchingResult
from interp_widgets.views import PatchingView
from tiny_models import build_tiny

CLEAN = "When Mary and John went to the store, John gave a drink to"
CORRUPT = "When John and Mary went to the store, Mary gave a drink to"
METRIC = (" Mary", " John")
EVIL = '<img src=x onerror="window.__xss=1">'


@pytest.fixture(scope="module")
def model(tiny_tokenizer):
    return build_tiny("llama", tiny_tokenizer)


@pytest.fixture(scope="module")
def result(model):
    return iw.patch(model, CLEAN, CORRUPT, METRIC, progress=False)


def _decode(payload: dict) -> np.ndarray:
    assert isinstance(payload["view"], memoryview)  # binary, never a JSON list
    return np.frombuffer(bytes(payload["view"]), dtype=payload["dtype"]).reshape(payload["shape"])


def _static(values, site="resid_pre", positions="each", tokens=("When", " Mary", " and", " John")) -> PatchingResult:
    corrupted = list(tokens)
    if corrupted:  # " Mary" <-> " John"
        corrupted[1], corrupted[-1] = corrupted[-1], corrupted[1]
    return PatchingResult(np.asarray(values, np.float32), site, positions, "exact", list(tokens), corrupted,
                          "logit(' Mary') - logit(' John')", 2.5, -1.5, model_name="static")


def test_state_is_binary_and_equals_the_result(result):
    w = result.show()
    assert isinstance(w, PatchingView)
    s = w.get_state()
    assert s["values"]["dtype"] == "float32" and s["values"]["shape"] == list(result.values.shape)
    np.testing.assert_array_equal(_decode(s["values"]), result.values)
    assert s["clean_tokens"] == result.clean_tokens and s["corrupted_tokens"] == result.corrupted_tokens
    assert (s["site"], s["positions"], s["method"]) == ("resid_pre", "each", "exact")
    assert s["metric"] == result.metric and s["clean_metric"] == pytest.approx(result.clean_metric)
    assert s["corrupted_metric"] == pytest.approx(result.corrupted_metric)
    assert s["selected_cell"] == [-1, -1, -1] and s["top_cell"] == [-1, -1, -1] and s["top_tokens"] == []
    assert s["busy"] is False and s["error"] == "" and s["interactive"] is True and s["theme"] == "auto"
    assert w.n_layers == result.values.shape[0] and w.n_positions == len(result.clean_tokens)
    assert result.show(theme="dark", title="x").theme == "dark"
    assert iw.PatchingView is PatchingView and "PatchingView" in iw.__all__


def test_click_fetches_top_tokens_from_python(result):
    w = result.show()
    busy, sent = [], []
    w.observe(lambda ch: busy.append(ch["new"]), ["busy"])
    w.observe(lambda ch: sent.append(ch["new"]), ["top_tokens"])
    w.selected_cell = [1, 3, -1]  # what a click in the browser sets
    assert busy == [True, False] and w.error == ""
    want = result._source.top_tokens(1, position=3, head=None, k=10)
    assert w.top_cell == [1, 3, -1]
    assert w.top_tokens == [t for t, _ in want] and sent == [w.top_tokens]
    np.testing.assert_allclose(_decode(w.get_state()["top_probs"]), [p for _, p in want], rtol=1e-6)
    # Selecting the cell already shown does not run again; select() is the same as a click.
    w.selected_cell = [1, 3, -1]
    assert busy == [True, False]
    assert w.select(-1, 0) is w and w.top_cell == [w.n_layers - 1, 0, -1]


def test_click_errors_show_in_the_view_and_keep_the_list(result):
    w = result.show().select(0, 1)
    before = list(w.top_tokens)
    w.selected_cell = [0, 99, -1]  # out of range: shown, selection reverted
    assert "position 99 is out of range" in w.error and w.selected_cell == [0, 1, -1]
    r = _static(np.zeros((2, 4)))
    r._source = type(result._source)(top_tokens=lambda *a, **k: 1 / 0)
    w2 = r.show()
    w2.selected_cell = [1, 2, -1]
    assert w2.error.startswith("ZeroDivisionError") and w2.busy is False and w2.selected_cell == [-1, -1, -1]
    assert w.top_tokens == before


def test_without_a_source_the_view_is_static():
    w = _static(np.zeros((2, 4))).show()
    assert w.interactive is False
    w.selected_cell = [0, 1, -1]
    assert "no source" in w.error and w.selected_cell == [-1, -1, -1] and w.busy is False


@pytest.mark.parametrize("site,positions,shape,cell", [
    ("resid_pre", "each", (2, 4), [1, 2, -1]),
    ("resid_pre", "all", (2,), [1, -1, -1]),
    ("z", "all", (2, 3), [1, -1, 2]),
    ("z", "each", (2, 3, 4), [1, 2, 2]),
])
def test_all_four_value_shapes(site, positions, shape, cell):
    r = _static(np.linspace(-1, 1, int(np.prod(shape))).reshape(shape), site=site, positions=positions)
    calls = []
    from interp_widgets.results import PatchingSource

    r._source = PatchingSource(top_tokens=lambda *a, **k: calls.append((a, k)) or [(" Mary", 0.5)])
    w = r.show()
    assert w.get_state()["values"]["shape"] == list(shape)
    w.selected_cell = cell
    head = cell[2] if cell[2] >= 0 else None
    assert calls == [((cell[0],), {"position": cell[1], "head": head, "k": 10})]
    assert w.top_tokens == [" Mary"] and w.top_cell == cell


def test_real_head_patching_cells(model):
    r = iw.patch(model, CLEAN, CORRUPT, METRIC, site="z", positions="all", progress=False)
    w = r.show()
    assert w.n_heads == r.values.shape[1]
    w.select(0, -1, 1)
    assert len(w.top_tokens) == 10 and w.error == ""
    with pytest.raises(ValueError, match="is not per head"):
        r2 = iw.patch(model, CLEAN, CORRUPT, METRIC, positions="all", progress=False)
        r2.show().select(0, -1, 1)


def test_nan_result_is_shown_not_rejected(model):
    # clean == corrupted: attribution patching's normalisation is 0/0 (exact gives 1s)
    r = iw.patch(model, CLEAN, CLEAN, METRIC, method="attribution", progress=False)
    assert np.isnan(r.values).all()
    w = r.show()
    assert np.isnan(_decode(w.get_state()["values"])).all()
    assert w.clean_metric == w.corrupted_metric


def test_bad_input_raises_clear_errors():
    with pytest.raises(TypeError, match="needs a PatchingResult"):
        PatchingView(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"\[layers, positions\] array"):
        _static(np.zeros(2)).show()
    with pytest.raises(ValueError, match=r"\[layers, heads, positions\] array"):
        _static(np.zeros((2, 4)), site="z").show()
    with pytest.raises(ValueError, match="3 positions but there are 4"):
        _static(np.zeros((2, 3))).show()
    bad = np.zeros((2, 4))
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        _static(bad).show()
    r = _static(np.zeros((2, 4)))
    r.clean_metric = float("inf")
    with pytest.raises(ValueError, match="clean_metric must be finite"):
        r.show()
    r = _static(np.zeros((2, 4)))
    r.corrupted_tokens = r.corrupted_tokens[:2]
    with pytest.raises(ValueError, match="differ in length"):
        r.show()
    with pytest.raises(ValueError, match="no tokens"):
        _static(np.zeros((2, 0)), tokens=()).show()
    with pytest.raises(TypeError):
        _static(np.zeros((2, 4))).show(colour="red")  # unknown keyword
    w = _static(np.zeros((2, 4))).show()
    with pytest.raises(ValueError, match="layer 2 is out of range"):
        w.select(2, 0)
    with pytest.raises(ValueError, match="pick a position"):
        w.select(0, -1)


def test_export_is_self_contained_and_escapes_tokens(tmp_path, result):
    r = _static(np.eye(2, 4), tokens=("When", EVIL, " and", " John"))
    path = r.to_html(tmp_path / "patching.html")
    page = Path(path).read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=", page)
    assert set(re.findall(r"https?://[\w./-]+", page)) <= {"http://www.w3.org/2000/svg"}
    assert "connect-src 'none'" in page and page.count("</script>") == 3
    assert "<img" not in page  # the token travels escaped
    views = json.loads(re.search(r'id="iw-views">(.*?)</script>', page, re.S).group(1))
    state = views[0]["state"]
    assert state["clean_tokens"][1] == EVIL and isinstance(state["values"]["view"], str)  # base64
    assert state["interactive"] is False and state["busy"] is False
    assert state == json.loads(json.dumps(widget_state(r.show())))
    (bundle,) = json.loads(re.search(r'id="iw-bundles">(.*?)</script>', page, re.S).group(1))
    assert "iw-patching" in bundle
    # A live result with a clicked cell exports its list (static, no Python needed).
    w = result.show().select(2, 4)
    page2 = w.to_html(tmp_path / "clicked.html").read_text(encoding="utf-8")
    state2 = json.loads(re.search(r'id="iw-views">(.*?)</script>', page2, re.S).group(1))[0]["state"]
    assert state2["top_cell"] == [2, 4, -1] and state2["top_tokens"] == w.top_tokens
    assert state2["interactive"] is False
