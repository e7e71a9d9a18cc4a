"""iw.neuron / top_neurons on tiny random models of each family, the NeuronPanel state,
and the stdlib corpus helper."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tiny_models import CORPUS, build_tiny, dense_mlp_layers

from interp_widgets.corpus import stdlib_docstrings
from interp_widgets.kernels.neurons import _Histogram, d_mlp, neuron, top_neurons
from interp_widgets.results import NeuronActivations
from interp_widgets.views import NeuronPanel

TEXTS = CORPUS[:5]
LAYER, INDEX = 1, 5


def hook_read(model, text, layer, index):
    """The neuron over one text, read with a hand-written forward hook (no kernel code)."""
    site = model._sites[f"blocks.{layer}.mlp.hook_post"]
    got = {}
    if site.where == "in":
        h = site.module.register_forward_pre_hook(lambda mod, args: got.setdefault("x", args[0]))
    else:
        h = site.module.register_forward_hook(lambda mod, args, out: got.setdefault("x", out))
    try:
        with torch.no_grad():
            model.forward_hidden(model.to_tokens(text))
    finally:
        h.remove()
    n = model.to_tokens(text).shape[1]
    x = got["x"].reshape(-1, n, got["x"].shape[-1])[0].float().numpy()  # OPT's MLP sees [batch * pos, d]
    return x if index is None else x[:, index]


@pytest.fixture(scope="module")
def tiny_llama(tiny_tokenizer):
    return build_tiny("llama", tiny_tokenizer)


@pytest.fixture(scope="module")
def tiny_gpt2(tiny_tokenizer):
    return build_tiny("gpt2", tiny_tokenizer)


def _no_neurons(model) -> bool:
    """A mixture of experts with no dense MLP layer at LAYER: ``neuron`` refuses it, naming
    the cause (checked here), and the test has nothing more to compare."""
    if LAYER in dense_mlp_layers(model.config):
        return False
    with pytest.raises(ValueError, match="mixture of experts"):
        neuron(model, TEXTS, LAYER, INDEX, progress=False)
    return True


def test_activations_equal_a_hook_read(tiny_model):
    if _no_neurons(tiny_model):
        return
    r = neuron(tiny_model, TEXTS, LAYER, INDEX, progress=False)
    assert isinstance(r, NeuronActivations)
    assert len(r.texts_tokens) == len(TEXTS)
    for text, toks, acts in zip(TEXTS, r.texts_tokens, r.texts_activations):
        assert "".join(toks) == text
        np.testing.assert_allclose(acts, hook_read(tiny_model, text, LAYER, INDEX), atol=1e-5, rtol=1e-4)


def test_batching_and_padding_invariance(tiny_model):
    if _no_neurons(tiny_model):
        return
    texts = ["short", CORPUS[1], "def add(a, b):", CORPUS[4], "x"]  # very different lengths
    batched = neuron(tiny_model, texts, LAYER, INDEX, batch_size=5, progress=False)
    single = neuron(tiny_model, texts, LAYER, INDEX, batch_size=1, progress=False)
    for a, b in zip(batched.texts_activations, single.texts_activations):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-4)
    assert [e.activation for e in batched.examples] == pytest.approx([e.activation for e in single.examples], abs=1e-5)
    np.testing.assert_array_equal(batched.hist_counts, single.hist_counts)


def _all_positions(model, corpus):
    """Every (activation, text, position) the corpus scan counts: all but each text's first
    position (the attention sink of a model without BOS)."""
    out = []
    for t, text in enumerate(corpus):
        for p, v in enumerate(hook_read(model, text, LAYER, INDEX)):
            if p > 0:
                out.append((float(v), t, p))
    return out


@pytest.mark.parametrize("distinct", [False, True])
def test_topk_equals_brute_force(tiny_llama, distinct):
    corpus = [f"{i}: {t}" for i, t in enumerate(CORPUS[:10])]  # distinct texts: no ties
    r = neuron(tiny_llama, corpus[:1], LAYER, INDEX, corpus=corpus, k=7, distinct=distinct,
               batch_size=3, context=(3, 2), progress=False)
    allpos = _all_positions(tiny_llama, corpus)
    if distinct:  # each text's maximum, then each context window once (the larger)
        best = {}
        for v, t, p in allpos:
            if t not in best or v > best[t][0]:
                best[t] = (v, t, p)
        seen, allpos = set(), []
        for v, t, p in sorted(best.values(), reverse=True):
            ids = tiny_llama.to_tokens(corpus[t])[0].tolist()
            lo = max(0, p - 3)
            key = (tuple(ids[lo:p + 3]), p - lo)
            if key not in seen:
                seen.add(key)
                allpos.append((v, t, p))
    want = sorted(allpos, reverse=True)[:7]
    got = [(e.activation, e.text_index, e.position) for e in r.examples]
    assert [g[0] for g in got] == pytest.approx([w[0] for w in want], abs=1e-5)
    assert {(g[1], g[2]) for g in got} == {(w[1], w[2]) for w in want}
    for e in r.examples:  # the window is around the max token, with its activations
        tokens = tiny_llama.to_str_tokens(tiny_llama.to_tokens(corpus[e.text_index])[0])
        lo = e.position - e.max_pos
        assert e.tokens == tokens[lo: lo + len(e.tokens)]
        assert e.max_pos <= 3 and len(e.tokens) - e.max_pos - 1 <= 2
        assert e.activations[e.max_pos] == pytest.approx(e.activation, abs=1e-6)


def test_histogram_counts_every_token(tiny_model):
    """Every token but each text's first (left out: see ``neuron``'s ``corpus``)."""
    if _no_neurons(tiny_model):
        return
    corpus = CORPUS[:8]
    r = neuron(tiny_model, corpus[:1], LAYER, INDEX, corpus=iter(corpus), progress=False)  # a one-shot iterator
    n = sum(len(tiny_model.to_tokens(t)[0]) - 1 for t in corpus)
    assert r.n_tokens == n == int(r.hist_counts.sum())
    assert r.n_texts == len(corpus)
    vals = np.concatenate([hook_read(tiny_model, t, LAYER, INDEX)[1:] for t in corpus])
    want, _ = np.histogram(vals, bins=r.hist_edges.astype(np.float64))
    np.testing.assert_array_equal(r.hist_counts, want)


def test_histogram_doubling_is_exact():
    rng = np.random.default_rng(0)
    h = _Histogram(16)
    chunks = [rng.normal(0, s, 50) for s in (0.01, 1.0, 30.0)]
    for c in chunks:
        h.add(c)
    counts, edges = h.result()
    vals = np.concatenate(chunks)
    assert counts.sum() == vals.size
    assert edges[0] <= vals.min() and edges[-1] >= vals.max()
    np.testing.assert_array_equal(counts, np.histogram(vals, bins=edges.astype(np.float64))[0])


def test_logit_effects_llama(tiny_llama):
    r = neuron(tiny_llama, TEXTS[:1], LAYER, INDEX, n_logits=5, progress=False)
    hf = tiny_llama.hf
    w = hf.model.layers[LAYER].mlp.down_proj.weight[:, INDEX]
    eff = hf.lm_head.weight @ (w * hf.model.norm.weight)
    top = torch.topk(eff, 5)
    assert [v for _, v in r.promoted] == pytest.approx(top.values.tolist(), rel=1e-4, abs=1e-5)
    assert [t for t, _ in r.promoted] == [tiny_llama.to_str_tokens([i])[0] for i in top.indices.tolist()]
    bottom = torch.topk(-eff, 5)
    assert [v for _, v in r.suppressed] == pytest.approx((-bottom.values).tolist(), rel=1e-4, abs=1e-5)


def test_logit_effects_gpt2(tiny_gpt2):
    r = neuron(tiny_gpt2, TEXTS[:1], LAYER, INDEX, n_logits=3, progress=False)
    hf = tiny_gpt2.hf
    w = hf.transformer.h[LAYER].mlp.c_proj.weight[INDEX, :]  # Conv1D: [in, out]
    eff = hf.lm_head.weight @ ((w - w.mean()) * hf.transformer.ln_f.weight)
    assert [v for _, v in r.promoted] == pytest.approx(torch.topk(eff, 3).values.tolist(), rel=1e-4, abs=1e-5)


def test_logit_effects_every_family(tiny_model):
    """On every causal family: W_U @ (the final norm's elementwise part of the neuron's output
    direction, as it joins the residual stream), times the config's logit scale. The norm's
    elementwise part is read off the HF norm module itself: norm(d) minus its bias, times d's
    (centred, for a LayerNorm) root mean square. This is what caught OLMo's and Cohere's
    LayerNorms (not nn.LayerNorm subclasses) being treated as RMS norms: zero effects."""
    m = tiny_model
    if not m.is_causal or _no_neurons(m):
        return
    r = neuron(m, TEXTS[:1], LAYER, INDEX, n_logits=5, progress=False)
    site = m._sites[f"blocks.{LAYER}.mlp.hook_post"]
    w = site.module.weight
    d = (w[:, INDEX] if isinstance(site.module, torch.nn.Linear) else w[INDEX, :]).detach().double()
    d = d * getattr(m._layers[LAYER], "residual_multiplier", 1.0)  # Granite
    norm = m.family.final_norm(m.base)
    layer_norm = "RMS" not in type(norm).__name__
    c = d - d.mean() if layer_norm else d
    eps = getattr(norm, "variance_epsilon", getattr(norm, "eps", 1e-5))
    with torch.no_grad():
        out = norm(d.float()[None])[0].double()
    b = getattr(norm, "bias", None)
    gain = (out - (b.double() if b is not None else 0)) * (c.pow(2).mean() + eps).sqrt()
    cfg = m.hf.config
    scale = cfg.logit_scale if cfg.model_type == "cohere" else 1 / getattr(cfg, "logits_scaling", 1.0)
    eff = (m.unembed.weight.double() @ gain) * scale
    top = torch.topk(eff, 5)
    assert top.values.abs().max() > 1e-3  # something to compare
    assert [v for _, v in r.promoted] == pytest.approx(top.values.tolist(), rel=1e-3, abs=1e-5)


def test_encoder_has_no_logit_effects(tiny_tokenizer):
    bert = build_tiny("bert", tiny_tokenizer)
    r = neuron(bert, TEXTS[:2], 0, 3, progress=False)
    assert r.promoted == [] and r.suppressed == []


def test_top_neurons_match_the_hooks(tiny_llama):
    text, pos = CORPUS[0], 4
    hits = top_neurons(tiny_llama, text, pos, k=5)
    everything = [(float(v), l, i) for l in range(tiny_llama.n_layers)
                  for i, v in enumerate(hook_read(tiny_llama, text, l, None)[pos])]
    want = sorted(everything, reverse=True)[:5]
    assert [(h.layer, h.index) for h in hits] == [(l, i) for _, l, i in want]
    assert [h.activation for h in hits] == pytest.approx([v for v, _, _ in want], abs=1e-5)
    one = top_neurons(tiny_llama, text, pos, layer=2, k=3)
    assert all(h.layer == 2 for h in one) and len(one) == 3


def test_bad_input(tiny_llama):
    n = d_mlp(tiny_llama, 0)
    with pytest.raises(ValueError, match="layer 7 is out of range"):
        neuron(tiny_llama, TEXTS, 7, 0, progress=False)
    with pytest.raises(ValueError, match=f"neuron index {n} is out of range"):
        neuron(tiny_llama, TEXTS, 0, n, progress=False)
    with pytest.raises(ValueError, match="out of range"):
        neuron(tiny_llama, TEXTS, 0, -1, progress=False)
    with pytest.raises(ValueError, match="corpus is empty"):
        neuron(tiny_llama, TEXTS, 0, 0, corpus=[], progress=False)
    with pytest.raises(ValueError, match="corpus is empty"):
        neuron(tiny_llama, TEXTS, 0, 0, corpus=iter([]), progress=False)
    with pytest.raises(ValueError, match="not one string"):
        neuron(tiny_llama, TEXTS, 0, 0, corpus="some text", progress=False)
    with pytest.raises(ValueError, match="empty string"):
        neuron(tiny_llama, [""], 0, 0, progress=False)
    with pytest.raises(ValueError, match="k must be"):
        neuron(tiny_llama, TEXTS, 0, 0, k=0, progress=False)
    with pytest.raises(TypeError):
        neuron(tiny_llama, TEXTS, 0, 0, corpus=[1, 2], progress=False)
    with pytest.raises(ValueError, match="position 99 is out of range"):
        top_neurons(tiny_llama, "hello", 99)
    with pytest.raises(ValueError, match="layer 9 is out of range"):
        top_neurons(tiny_llama, "hello", 0, layer=9)


def test_progress_callback_and_no_hooks_left(tiny_llama):
    seen = []
    neuron(tiny_llama, TEXTS, 2, 1, corpus=CORPUS, batch_size=2, progress=seen.append)
    assert seen and seen[-1] == 1.0 and all(0 <= f <= 1 for f in seen)
    for mod in tiny_llama.hf.modules():
        assert not mod._forward_hooks and not mod._forward_pre_hooks


# ---- the view ------------------------------------------------------------------------

def test_panel_state_and_retarget(tiny_llama):
    r = neuron(tiny_llama, TEXTS[:2], LAYER, INDEX, corpus=CORPUS[:6], k=4, progress=False)
    w = r.show()
    assert isinstance(w, NeuronPanel)
    st = w.get_state()
    assert st["layer"] == LAYER and st["index"] == INDEX and st["interactive"] is True
    assert st["text_acts"]["dtype"] == "float32"
    assert st["text_acts"]["shape"] == [sum(len(t) for t in r.texts_tokens)]
    assert st["example_acts"]["shape"] == [sum(len(e.tokens) for e in r.examples)]
    assert len(st["example_info"]) == 4
    assert st["hist_counts"]["dtype"] == "int32"

    # Click a token -> the most active neurons there.
    w.selected_token = [1, 2]
    assert len(w.neuron_list) == 10 and w.error == ""
    first = w.neuron_list[0]
    want = top_neurons(tiny_llama, TEXTS[1], 2, k=1)[0]
    assert (first["layer"], first["index"]) == (want.layer, want.index)

    # Click one of them -> the panel re-targets.
    w.set_trait("layer", first["layer"])
    w.set_trait("index", first["index"])
    assert (w.result.layer, w.result.index) == (first["layer"], first["index"])
    assert (w.layer, w.index) == (first["layer"], first["index"]) and not w.busy
    again = neuron(tiny_llama, TEXTS[:2], first["layer"], first["index"], corpus=CORPUS[:6], k=4, progress=False)
    np.testing.assert_allclose(w.result.texts_activations[0], again.texts_activations[0], atol=1e-6)

    # Out of range: the error is shown, the panel keeps its neuron.
    w.index = 10_000
    assert "out of range" in w.error
    assert (w.layer, w.index) == (first["layer"], first["index"])


def test_panel_one_shot_corpus_shows_error(tiny_llama):
    r = neuron(tiny_llama, TEXTS[:1], LAYER, INDEX, corpus=iter(CORPUS[:3]), progress=False)
    w = NeuronPanel(r)
    w.index = INDEX + 1
    assert "one-shot iterator" in w.error and w.index == INDEX


def test_panel_export_escapes_tokens(tiny_llama, tmp_path):
    r = neuron(tiny_llama, ["<img src=x onerror=alert(1)> </script>"], LAYER, INDEX, progress=False)
    html = r.to_html(tmp_path / "n.html").read_text()
    assert "<img src=x" not in html and "</script> " not in html


# ---- corpus ------------------------------------------------------------------------------

def test_stdlib_docstrings_deterministic():
    a = stdlib_docstrings(max_texts=40)
    b = stdlib_docstrings(max_texts=40)
    assert a == b and len(a) == 40 and len(set(a)) == 40
    assert all(isinstance(t, str) and len(t) >= 80 for t in a)
    assert stdlib_docstrings(max_texts=10, min_chars=200)[0] != "" and len(stdlib_docstrings(max_texts=10, min_chars=200)[0]) >= 200
    with pytest.raises(ValueError, match="max_texts"):
        stdlib_docstrings(max_texts=0)


def test_a_repeated_passage_is_one_example(tiny_llama):
    """The standard library's docstrings repeat (inherited methods): the same context from
    two texts would be two identical rows of the panel."""
    same = "the cat sat on the mat and the dog ran"
    corpus = [same, "a dog ran to the cat", same, same]
    r = neuron(tiny_llama, corpus[:1], LAYER, INDEX, corpus=corpus, k=4, context=(3, 2), progress=False)
    windows = [(tuple(e.tokens), e.max_pos) for e in r.examples]
    assert len(windows) == len(set(windows))
    assert sum(e.text_index in (0, 2, 3) for e in r.examples) == 1
    every = neuron(tiny_llama, corpus[:1], LAYER, INDEX, corpus=corpus, k=4, context=(3, 2), distinct=False,
                   progress=False)
    assert len({(tuple(e.tokens), e.max_pos) for e in every.examples}) < len(every.examples)
