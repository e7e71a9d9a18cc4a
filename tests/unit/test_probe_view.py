"""probe_predictions and ProbeView on a tiny model: the kernel against a hand computation,
the view's traits, layer clicks and text recomputing, error paths, export and XSS."""

import dataclasses
import json
import re

import numpy as np
import pytest

import interp_widgets as iw
from interp_widgets.kernels.probe import probe_predictions
from interp_widgets.results.probe import ProbeSource
from interp_widgets.views.probe import ProbeView
from tiny_models import build_tiny, our_hooks

A = ["The quick brown fox jumps.", "The lazy dog sleeps.", "The fox and the dog.", "A brown dog jumps.",
     "The quick dog.", "A lazy fox."]
B = ["One, two, three.", "Four, five, six.", "Seven, eight.", "Nine, ten.", "Two and three.", "Five, six, seven."]
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def gpt2(tiny_tokenizer):
    return build_tiny("gpt2", tiny_tokenizer)


@pytest.fixture(scope="module")
def trained(gpt2):
    return iw.probe(gpt2, A + B, ["fox"] * 6 + ["num"] * 6, test_fraction=0.34)


def hand(model, r, text, layer):
    """softmax(W x + b) at every token, from run_with_cache and numpy."""
    cache = iw.run_with_cache(model, text, names="resid_post")
    x = cache["resid_post", layer][0].double().numpy()
    j = r.layers.index(layer)
    z = x @ r.directions[j].T.astype(np.float64) + r.biases[j].astype(np.float64)
    e = np.exp(z - z.max(1, keepdims=True))
    return cache.tokens[0], e / e.sum(1, keepdims=True)


def test_probe_predictions_match_a_hand_computation(gpt2, trained):
    text = "The fox counted to seven, eight."
    for layer in trained.layers:
        p = probe_predictions(gpt2, trained, text, layer=layer)
        tokens, want = hand(gpt2, trained, text, layer)
        assert p.dtype == np.float32 and p.shape == (len(tokens), 2)
        np.testing.assert_allclose(p, want, atol=1e-5)
        np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-6)
    # default: the best layer; negative layers count from the model's end
    np.testing.assert_array_equal(probe_predictions(gpt2, trained, text),
                                  probe_predictions(gpt2, trained, text, layer=trained.best_layer))
    np.testing.assert_array_equal(probe_predictions(gpt2, trained, text, layer=-1),
                                  probe_predictions(gpt2, trained, text, layer=gpt2.n_layers - 1))
    # not a constant: the probe sees different tokens differently
    assert float(np.ptp(probe_predictions(gpt2, trained, text, layer=0)[:, 1])) > 1e-3
    # the forward pass stopped early at the probed layer leaves no hook behind
    assert our_hooks(gpt2) == []


def test_probe_predictions_more_classes(gpt2):
    r = iw.probe(gpt2, A + B + A[:3], ["fox"] * 6 + ["num"] * 6 + ["x"] * 3, layers=[1])
    p = probe_predictions(gpt2, r, "Two foxes.", layer=1)
    tokens, want = hand(gpt2, r, "Two foxes.", 1)
    assert p.shape == (len(tokens), 3)
    np.testing.assert_allclose(p, want, atol=1e-5)


def test_probe_predictions_bad_input(gpt2, trained):
    partial = iw.probe(gpt2, A + B, [0] * 6 + [1] * 6, layers=[0, 2])
    with pytest.raises(ValueError, match=r"not trained at layer 1; its layers are \[0, 2\]"):
        probe_predictions(gpt2, partial, "The fox.", layer=1)
    with pytest.raises(ValueError, match="not trained at layer 7"):
        probe_predictions(gpt2, partial, "The fox.", layer=7)
    narrow = dataclasses.replace(trained, directions=trained.directions[..., :32])
    with pytest.raises(ValueError, match="32 wide but .* 64 wide"):
        probe_predictions(gpt2, narrow, "The fox.")
    deep = dataclasses.replace(trained, layers=[0, 1, 9])
    with pytest.raises(ValueError, match="layer 9 but .* 3 layers"):
        probe_predictions(gpt2, deep, "The fox.", layer=0)
    with pytest.raises(ValueError, match="empty"):
        probe_predictions(gpt2, trained, "   ")
    with pytest.raises(TypeError, match="Probe"):
        probe_predictions(gpt2, "probe", "The fox.")


def test_probe_result_keeps_a_source_and_chance(gpt2, trained):
    assert isinstance(trained._source, ProbeSource)
    assert trained.info["majority_rate"] == pytest.approx(0.5)  # 2 + 2 held out
    assert trained.chance == pytest.approx(0.5)
    tokens, probs = trained._source.predict("The fox.", 0)
    np.testing.assert_array_equal(probs, probe_predictions(gpt2, trained, "The fox.", layer=0))
    assert "".join(tokens) == "The fox."
    # a loaded-from-disk result: no source; chance falls back to 1 / n_classes
    bare = dataclasses.replace(trained, _source=None, info={})
    assert bare._source is None and bare.chance == pytest.approx(0.5)


def test_view_traits(trained):
    w = trained.show()
    assert isinstance(w, ProbeView) and w.interactive
    s = w.get_state()
    assert s["layers"]["dtype"] == "int32" and s["layers"]["shape"] == [len(trained.layers)]
    assert s["test_accuracy"]["dtype"] == "float32" and s["train_accuracy"]["shape"] == [len(trained.layers)]
    assert isinstance(s["test_accuracy"]["view"], memoryview)  # binary, not a JSON list
    np.testing.assert_array_equal(w.layers, trained.layers)
    np.testing.assert_array_equal(w.test_accuracy, trained.test_accuracy)
    np.testing.assert_array_equal(w.train_accuracy, trained.train_accuracy)
    assert w.classes == ["fox", "num"] and w.selected_layer == trained.best_layer == w.best_layer
    assert w.chance == pytest.approx(0.5) and w.position == "last"
    assert w.tokens == [] and w.predictions.shape == (0, 2) and w.error == "" and not w.busy


def test_view_sorts_layers_and_validates(gpt2):
    r = iw.probe(gpt2, A + B, [0] * 6 + [1] * 6, layers=[2, 0])
    w = r.show(layer=0)
    np.testing.assert_array_equal(w.layers, [0, 2])
    np.testing.assert_array_equal(w.test_accuracy, r.test_accuracy[::-1])
    assert w.selected_layer == 0 and w.classes == ["0", "1"]
    with pytest.raises(ValueError, match="not trained at layer 1"):
        r.show(layer=1)
    # the probe knows its model's depth: -1 is the last layer, in the view and in direction()
    assert r.n_model_layers == gpt2.n_layers
    r2 = iw.probe(gpt2, A + B, [0] * 6 + [1] * 6, layers=[-1, 0])
    assert r2.show(layer=-1).selected_layer == gpt2.n_layers - 1
    np.testing.assert_array_equal(r2.direction(-1), r2.direction(gpt2.n_layers - 1))
    with pytest.raises(TypeError, match="needs a Probe"):
        ProbeView("not a probe")
    bad = dataclasses.replace(r, test_accuracy=np.array([0.5, np.nan], np.float32))
    with pytest.raises(ValueError, match="non-finite"):
        ProbeView(bad)


def test_text_gives_the_kernels_predictions(gpt2, trained):
    w = trained.show()
    w.text = "Four foxes, five dogs."  # what the text box does
    assert w.error == "" and not w.busy
    np.testing.assert_array_equal(w.predictions, probe_predictions(gpt2, trained, w.text, layer=w.selected_layer))
    assert w.tokens == gpt2.to_str_tokens(gpt2.to_tokens(w.text))
    # show(text=, layer=) computes at once
    v = trained.show(text="Seven, eight.", layer=0)
    np.testing.assert_array_equal(v.predictions, probe_predictions(gpt2, trained, "Seven, eight.", layer=0))
    # predict() is the same from Python
    p = v.predict("The lazy fox.", layer=2)
    assert v.selected_layer == 2 and v.text == "The lazy fox."
    np.testing.assert_array_equal(p, probe_predictions(gpt2, trained, "The lazy fox.", layer=2))


def test_click_layer_recomputes(gpt2, trained):
    w = trained.show(text="One fox, two dogs.", layer=0)
    before = w.predictions.copy()
    w.selected_layer = 2  # a click on the chart
    assert w.error == "" and w.selected_layer == 2
    np.testing.assert_array_equal(w.predictions, probe_predictions(gpt2, trained, "One fox, two dogs.", layer=2))
    assert not np.array_equal(before, w.predictions)
    # a layer the probe lacks: the click is undone, the error shown, the predictions kept
    w.selected_layer = 7
    assert w.selected_layer == 2 and "not trained at layer 7" in w.error
    np.testing.assert_array_equal(w.predictions, probe_predictions(gpt2, trained, "One fox, two dogs.", layer=2))


def test_busy_while_computing(trained):
    seen = []

    def predict(text, layer):
        seen.append((w.busy, text, layer))
        return ["a", "b"], np.array([[0.2, 0.8], [0.6, 0.4]], np.float32)

    w = ProbeView(dataclasses.replace(trained, _source=ProbeSource(predict=predict)))
    w.text = "ab"
    assert seen == [(True, "ab", trained.best_layer)] and not w.busy
    assert w.tokens == ["a", "b"]

    def broken(text, layer):
        return ["a"], np.array([[0.5, 0.5, 0.0]], np.float32)

    w2 = ProbeView(dataclasses.replace(trained, _source=ProbeSource(predict=broken)))
    w2.text = "a"
    assert "shape [1, 3]" in w2.error and w2.tokens == [] and not w2.busy


def test_error_paths_show_in_the_view(trained):
    w = trained.show(text="The fox.")
    w.text = "   "  # empty: an error line, not an exception, not a dead view
    assert "empty" in w.error and w.tokens == [] and w.predictions.shape == (0, 2) and not w.busy
    w.text = "The dog."  # and it recovers
    assert w.error == "" and w.tokens
    with pytest.raises(ValueError, match="empty"):
        w.predict("")
    assert "empty" in w.error
    # static: a result without a source (loaded from disk)
    bare = dataclasses.replace(trained, _source=None)
    s = bare.show()
    assert not s.interactive
    s.text = "The fox."
    assert "static view" in s.error and s.tokens == []
    s.selected_layer = 0
    assert s.selected_layer == trained.best_layer and "static view" in s.error
    with pytest.raises(ValueError, match="needs a model"):
        bare.show(text="The fox.")


def test_show_with_a_model(gpt2, trained, tiny_tokenizer):
    bare = dataclasses.replace(trained, _source=None)
    w = bare.show(model=gpt2, text="The fox.")
    assert w.interactive
    np.testing.assert_array_equal(w.predictions, probe_predictions(gpt2, trained, "The fox.", layer=trained.best_layer))
    llama = build_tiny("llama", tiny_tokenizer)  # same width (64), also fits
    assert bare.show(model=llama).interactive
    narrow = dataclasses.replace(trained, directions=trained.directions[..., :32], _source=None)
    with pytest.raises(ValueError, match="32 wide"):
        narrow.show(model=gpt2)


def _state(path):
    page = path.read_text()
    m = re.search(r'<script type="application/json"[^>]*>(.*?)</script>', page, re.S)
    assert m, "no inlined state"
    return page, json.loads(m.group(1))


def test_to_html_and_xss(gpt2, trained, tmp_path):
    w = trained.show(text=XSS, layer=0)
    assert "".join(w.tokens) == XSS and w.text == XSS
    out = w.to_html(tmp_path / "probe.html")
    page, state = _state(out)
    assert "<img src=x" not in page  # escaped inside the JSON block
    flat = json.dumps(state)
    assert "onerror=alert(1)" in flat and '"fox"' in flat and '"num"' in flat
    assert '"interactive": false' in flat and "predictions" in flat
    # Probe.to_html: the chart data is there even without predictions
    out2 = trained.to_html(tmp_path / "probe2.html")
    _, state2 = _state(out2)
    assert "test_accuracy" in json.dumps(state2)
