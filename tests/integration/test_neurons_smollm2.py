"""iw.neuron on the real SmolLM2 over a slice of the stdlib docstring corpus (kept small:
the layers after the neuron's are skipped, so an early layer is cheap)."""

import numpy as np
import pytest

from interp_widgets.corpus import stdlib_docstrings
from interp_widgets.kernels.neurons import neuron, top_neurons

pytestmark = pytest.mark.integration

# L9/720 fires on " is" after a subject ("The result is ...", "The purpose of this module
# is ..."); found by scanning the stdlib corpus (see benchmarks/neurons.py --screenshots).
LAYER, INDEX = 9, 720


@pytest.fixture(scope="module")
def corpus():
    return stdlib_docstrings(max_texts=40)


def test_is_neuron_on_stdlib(smollm2, corpus):
    texts = ["The purpose of this module is to parse the file."]
    r = neuron(smollm2, texts, LAYER, INDEX, corpus=corpus, k=5, max_len=96, progress=False)
    assert r.n_texts == 40 and r.n_tokens == int(r.hist_counts.sum()) > 1000
    top = r.examples[0]
    assert top.tokens[top.max_pos] in (" is", " being", " are")
    row = r.texts_activations[0]
    assert r.texts_tokens[0][int(np.argmax(row))] == " is"
    assert len(r.promoted) == 10 and r.promoted[0][1] > 0 > r.suppressed[0][1]

    # Batched with padding == one text at a time, on the real model.
    texts2 = corpus[:3]
    a = neuron(smollm2, texts2, LAYER, INDEX, batch_size=3, max_len=64, progress=False)
    b = neuron(smollm2, texts2, LAYER, INDEX, batch_size=1, max_len=64, progress=False)
    for x, y in zip(a.texts_activations, b.texts_activations):
        np.testing.assert_allclose(x, y, atol=2e-4, rtol=1e-3)


def test_top_neurons_and_panel(smollm2):
    text = "The result is None."
    hits = top_neurons(smollm2, text, 2, layer=LAYER, k=3)
    assert len(hits) == 3 and hits[0].activation >= hits[-1].activation
    assert all(h.layer == LAYER for h in hits)
    r = neuron(smollm2, [text], LAYER, INDEX, corpus=[text], progress=False)
    w = r.show()
    w.selected_token = [0, 2]
    assert w.error == "" and len(w.neuron_list) == 10
