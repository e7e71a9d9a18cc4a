"""SuperpositionView state through ``get_state()`` (no browser): traits carry the model,
a slider change retrains, errors show in the view, static export."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from interp_widgets.results.superposition import Superposition, SuperpositionSource
from interp_widgets.toy.superposition import superposition
from interp_widgets.views._base import array_from_json
from interp_widgets.views.superposition import SuperpositionView

FAST = dict(steps=150, n_instances=4, batch_size=256)


@pytest.fixture()
def trained():
    return superposition(n_features=5, n_hidden=2, sparsity=0.0, seed=0, **FAST)


def _arr(state: dict, key: str) -> np.ndarray:
    assert isinstance(state[key]["view"], memoryview), f"{key} must cross as bytes"
    return array_from_json(state[key])


def test_traits_carry_the_model(trained):
    w = SuperpositionView(trained)
    s = w.get_state()
    assert s["n_features"] == 5 and s["n_hidden"] == 2
    assert s["W"]["dtype"] == "float32" and s["W"]["shape"] == [2, 5]
    np.testing.assert_array_equal(_arr(s, "W"), trained.W)
    np.testing.assert_array_equal(_arr(s, "directions"), trained.W)  # 2-D: no projection
    assert s["projected"] is False
    np.testing.assert_allclose(_arr(s, "wtw"), trained.WtW, rtol=1e-6)
    np.testing.assert_allclose(_arr(s, "norms"), trained.norms, rtol=1e-6)
    np.testing.assert_allclose(_arr(s, "superposition"), trained.superposition, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(_arr(s, "importance"), 0.9 ** np.arange(5), rtol=1e-6)
    assert s["sparsity"] == 0.0 and s["importance_decay"] == 0.9
    assert s["n_represented"] == trained.n_represented()
    assert s["loss"] == pytest.approx(trained.loss)
    assert s["interactive"] is True and s["busy"] is False and s["error"] == ""
    assert "export" in w._esm and "render" in w._esm  # the built bundle is attached


def test_wide_hidden_space_is_projected():
    r = superposition(n_features=6, n_hidden=3, sparsity=0.5, seed=0, **FAST)
    s = SuperpositionView(r).get_state()
    assert s["projected"] is True
    assert _arr(s, "directions").shape == (2, 6)
    assert _arr(s, "W").shape == (3, 6)
    assert 0.0 < sum(s["explained"]) <= 1.0 + 1e-6


def test_slider_change_retrains_and_pushes_new_weights(trained):
    w = SuperpositionView(trained)
    before = w.W.copy()
    busy_seen, progress_seen = [], []
    w.observe(lambda c: busy_seen.append(c["new"]), names=["busy"])
    w.observe(lambda c: progress_seen.append(c["new"]), names=["progress"])
    w.sparsity = 0.9  # what the JS slider does on release
    assert busy_seen == [True, False]
    assert max(progress_seen) == pytest.approx(1.0)
    assert w.error == ""
    assert w.result is not trained and w.result.sparsity == 0.9
    assert not np.allclose(w.W, before)
    np.testing.assert_array_equal(w.W, w.result.W)
    assert w.get_state()["sparsity"] == 0.9
    assert w.n_represented > trained.n_represented()  # sparse: more features fit
    # The importance slider retrains too, keeping the sparsity.
    w.importance_decay = 0.6
    assert w.result.importance_decay == 0.6 and w.result.sparsity == 0.9
    np.testing.assert_allclose(w.importance, 0.6 ** np.arange(5), rtol=1e-6)


def test_retrain_method_and_explicit_importance(trained):
    w = SuperpositionView(trained)
    new = w.retrain(importance=[1, 1, 1, 1, 1])
    assert new is w.result and new.importance_decay is None
    assert w.importance_decay is None
    with pytest.raises(TypeError):
        w.retrain(sparsty=0.5)


def test_bad_slider_value_shows_error_and_keeps_the_model(trained):
    w = SuperpositionView(trained)
    before = w.W.copy()
    w.sparsity = 1.0  # out of range: the kernel refuses
    assert "sparsity must be in [0, 1)" in w.error
    assert w.sparsity == 0.0  # the slider snaps back
    assert w.busy is False
    np.testing.assert_array_equal(w.W, before)
    assert w.result is trained
    # The next good change clears the error.
    w.sparsity = 0.5
    assert w.error == "" and w.result.sparsity == 0.5


def test_retrain_failure_raises_and_is_shown(trained):
    def boom(**kw):
        raise RuntimeError("out of luck")

    r = Superposition(W=trained.W, b=trained.b, sparsity=0.0, importance=trained.importance, loss=trained.loss,
                      importance_decay=0.9, _source=SuperpositionSource(retrain=boom))
    w = SuperpositionView(r)
    with pytest.raises(RuntimeError, match="out of luck"):
        w.retrain(sparsity=0.3)
    assert w.error == "RuntimeError: out of luck" and w.busy is False and w.sparsity == 0.0


def test_static_result_refuses_to_retrain():
    r = Superposition(W=np.eye(2, 3), b=np.zeros(3), sparsity=0.2, importance=np.ones(3), loss=0.1)
    w = SuperpositionView(r)
    assert w.interactive is False and w.importance_decay is None
    w.sparsity = 0.9
    assert "no source" in w.error and w.sparsity == 0.2
    with pytest.raises(ValueError, match="cannot be retrained"):
        w.retrain(sparsity=0.5)


def test_view_rejects_other_inputs():
    with pytest.raises(TypeError, match="needs a Superposition"):
        SuperpositionView(np.eye(2))
    with pytest.raises(TypeError):
        SuperpositionView(Superposition(W=np.eye(2, 3), b=np.zeros(3), sparsity=0, importance=np.ones(3), loss=0),
                          colour="red")


def test_to_html_is_static_with_the_data(tmp_path, trained):
    w = SuperpositionView(trained, theme="light")
    out = w.to_html(tmp_path / "sp.html")
    html = out.read_text()
    m = re.search(r'<script type="application/json" id="iw-views">(.*?)</script>', html, re.S)
    assert m, "exported page has no widget state"
    state = json.loads(m.group(1))[0]["state"]
    assert state["interactive"] is False and state["busy"] is False  # sliders disabled
    assert state["W"]["shape"] == [2, 5] and isinstance(state["W"]["view"], str)  # base64 bytes
    assert state["sparsity"] == 0.0 and state["theme"] == "light"
    assert "Content-Security-Policy" in html  # works offline, fetches nothing
