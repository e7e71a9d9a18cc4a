"""iw.probe on tiny models: splits, the fitted directions, bad input."""

import numpy as np
import pytest

import interp_widgets as iw
from tiny_models import build_tiny

A = ["The quick brown fox jumps.", "The lazy dog sleeps.", "The fox and the dog.", "A brown dog jumps.",
     "The quick dog.", "A lazy fox."]
B = ["One, two, three.", "Four, five, six.", "Seven, eight.", "Nine, ten.", "Two and three.", "Five, six, seven."]


@pytest.fixture(scope="module")
def gpt2(tiny_tokenizer):
    return build_tiny("gpt2", tiny_tokenizer)


def test_probe_separates_and_directions_reproduce_predictions(gpt2):
    r = iw.probe(gpt2, A + B, ["a"] * 6 + ["b"] * 6, position="mean", test_fraction=0.34)
    assert r.classes == ["a", "b"] and r.layers == list(range(gpt2.n_layers))
    assert r.n_train + r.n_test == 12 and r.n_test == 4  # 2 per class, stratified
    assert r.train_accuracy.shape == r.test_accuracy.shape == (gpt2.n_layers,)
    assert float(r.train_accuracy.max()) == 1.0
    # the directions in residual units give the probe's own predictions on every text
    cache = iw.run_with_cache(gpt2, A + B, names="resid_post")
    mask = cache.attention_mask.float()
    for j, l in enumerate(r.layers):
        x = (cache["resid_post", l] * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        logits = x.double().numpy() @ r.directions[j].T.astype(np.float64) + r.biases[j]
        pred = logits.argmax(1)
        y = np.array([0] * 6 + [1] * 6)
        assert (pred == y).mean() == pytest.approx(
            (r.train_accuracy[j] * r.n_train + r.test_accuracy[j] * r.n_test) / 12, abs=1e-6)
    assert r.direction().shape == (gpt2.d_model,)
    # the same seed gives the same split and numbers
    again = iw.probe(gpt2, A + B, ["a"] * 6 + ["b"] * 6, position="mean", test_fraction=0.34)
    np.testing.assert_array_equal(again.test_accuracy, r.test_accuracy)


def test_probe_positions_and_layers(gpt2):
    r = iw.probe(gpt2, A + B, [0] * 6 + [1] * 6, layers=[-1, 0], position=1)
    assert r.layers == [gpt2.n_layers - 1, 0] and r.position == 1
    with pytest.raises(ValueError, match="out of range for text"):
        iw.probe(gpt2, A + B, [0] * 6 + [1] * 6, position=40)


def test_probe_bad_input(gpt2):
    with pytest.raises(ValueError, match="one label per text"):
        iw.probe(gpt2, A + B, [0, 1])
    with pytest.raises(ValueError, match="single class"):
        iw.probe(gpt2, A + B, [1] * 12)
    with pytest.raises(ValueError, match="too few"):
        iw.probe(gpt2, A + B[:1], [0] * 6 + [1])
    with pytest.raises(ValueError, match="out of range"):
        iw.probe(gpt2, A + B, [0] * 6 + [1] * 6, layers=[99])
    with pytest.raises(ValueError, match="position"):
        iw.probe(gpt2, A + B, [0] * 6 + [1] * 6, position="first")


def test_progress_counts_texts_read_and_layers_fitted(gpt2):
    seen = []
    iw.probe(gpt2, A + B, [0] * 6 + [1] * 6, progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == pytest.approx(1.0)
    assert len(seen) == 1 + gpt2.n_layers  # one batch of 12 texts, then each layer
