"""sae_features: every feature's density, max, top-k contexts and histogram against a
brute-force computation over all activations (run_with_cache + sae.encode)."""

import numpy as np
import pytest
import torch

import interp_widgets as iw
from interp_widgets.kernels.sae_features import feature_activations, sae_features
from interp_widgets.results.sae import SAEFeatures
from tiny_models import CORPUS, build_tiny, our_hooks

HOOK = "blocks.1.hook_resid_post"
D_SAE = 40
TEXTS = CORPUS[:5] + ["Paris is in France.", "ten nine eight", "a"]


@pytest.fixture(scope="module")
def model(tiny_tokenizer):
    return build_tiny("llama", tiny_tokenizer)


def _sae(d_in=64, seed=0, **kw):
    g = torch.Generator().manual_seed(seed)
    return iw.SAE(torch.randn(d_in, D_SAE, generator=g) * 0.3, torch.randn(D_SAE, generator=g) - 1.0,
                  torch.randn(D_SAE, d_in, generator=g), torch.zeros(d_in), hook_name=HOOK, **kw)


def _brute(model, sae, texts):
    """All feature activations of all counted tokens (not special, not the first position):
    [N, d_sae], with (text, pos)."""
    special = set(model.tokenizer.all_special_ids)
    rows, where = [], []
    for t, text in enumerate(texts):
        cache = iw.run_with_cache(model, text, names=HOOK, keep_logits=False)
        with torch.no_grad():
            f = sae.encode(cache[HOOK][0].float())
        ids = model.to_tokens(text)[0].tolist()
        for p, tid in enumerate(ids):
            if tid not in special and p > 0:
                rows.append(f[p])
                where.append((t, p))
    return torch.stack(rows).numpy(), where


@pytest.mark.parametrize("arch", ["standard", "topk"])
def test_matches_brute_force(model, arch):
    sae = _sae(k=5, architecture="topk") if arch == "topk" else _sae()
    r = sae_features(model, sae, TEXTS, k=4, batch_size=3, progress=False)
    assert not our_hooks(model)
    assert isinstance(r, SAEFeatures) and r.d_sae == D_SAE
    F, where = _brute(model, sae, TEXTS)
    n = F.shape[0]
    assert r.n_tokens == n and r.n_texts == len(TEXTS)
    active = F > 0
    assert active.any(0).sum() > 5  # the test has features to check
    np.testing.assert_array_equal(r.count, active.sum(0))
    np.testing.assert_allclose(r.density, active.sum(0) / n, rtol=1e-6)
    np.testing.assert_allclose(r.max_act, np.maximum(F.max(0), 0), rtol=1e-4, atol=1e-5)
    mean = np.where(active.sum(0) > 0, np.where(active, F, 0).sum(0) / np.maximum(active.sum(0), 1), 0)
    np.testing.assert_allclose(r.mean_act, mean, rtol=1e-4, atol=1e-5)
    for i in range(D_SAE):
        order = np.argsort(-F[:, i], kind="stable")[:4]
        want = [(float(F[j, i]), where[j]) for j in order if F[j, i] > 0]
        got = [(float(v), (int(t), int(p))) for v, t, p in zip(r.top_values[i], r.top_text[i], r.top_pos[i]) if t >= 0]
        assert len(got) == len(want), i
        np.testing.assert_allclose([v for v, _ in got], [v for v, _ in want], rtol=1e-4, atol=1e-5)
        # the positions hold those values (texts starting alike tie at position 0)
        row = {w: j for j, w in enumerate(where)}
        np.testing.assert_allclose([F[row[w], i] for _, w in got], [v for v, _ in got], rtol=1e-4, atol=1e-5)
        assert len(set(w for _, w in got)) == len(got)
        # histogram: every active value once, in the log-spaced bin that holds it
        assert r.hist_counts[i].sum() == active[:, i].sum()
        vals = F[active[:, i], i]
        edges = r.hist_edges.astype(np.float64)
        want_hist = np.bincount(np.clip(np.searchsorted(edges[1:-1], vals, side="left"), 0, len(edges) - 2),
                                minlength=len(edges) - 1)
        np.testing.assert_array_equal(r.hist_counts[i], want_hist)
    # the corpus is kept tokenised
    for t, text in enumerate(TEXTS):
        assert r.corpus_ids[t].tolist() == model.to_tokens(text)[0].tolist()
    assert r.hist_edges[0] == pytest.approx(1e-3) and r.hist_edges[-1] == pytest.approx(1e3)
    assert "40 features" in repr(r) and HOOK in repr(r)


def test_batched_equals_one_by_one(model):
    sae = _sae(seed=1)
    texts = TEXTS[1:]  # no two texts start alike (their first tokens would tie exactly)
    a = sae_features(model, sae, texts, k=3, batch_size=8, progress=False)
    b = sae_features(model, sae, texts, k=3, batch_size=1, progress=False)
    np.testing.assert_array_equal(a.count, b.count)
    np.testing.assert_allclose(a.max_act, b.max_act, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(a.top_values, b.top_values, rtol=1e-4, atol=1e-5)
    assert (a.top_text >= 0).sum() == (b.top_text >= 0).sum()
    for i in range(D_SAE):
        assert sorted(zip(a.top_text[i], a.top_pos[i])) == sorted(zip(b.top_text[i], b.top_pos[i]))
    np.testing.assert_array_equal(a.hist_counts, b.hist_counts)


def test_examples_logits_and_prompt_mode(model):
    sae = _sae(seed=2)
    r = sae_features(model, sae, TEXTS, k=3, context=2, progress=False)
    i = int(r.top_features("max")[0])
    assert r.max_act[i] == r.max_act.max()
    dens = r.top_features("density")
    assert r.density[dens[0]] == r.density.max()
    ex = r.examples(i)
    assert ex and ex[0].activation == pytest.approx(float(r.max_act[i]), rel=1e-5)
    for e in ex:
        assert len(e.tokens) == len(e.activations) <= 5
        # recomputed activation at the max token equals the stored top value
        assert e.activations[e.max_pos] == pytest.approx(e.activation, rel=1e-4, abs=1e-5)
        ids = r.corpus_ids[e.text_index]
        assert e.tokens[e.max_pos] == r.vocab[ids[e.position]]
    # without the activation cache the contexts are recomputed by a forward pass: same values
    r0 = sae_features(model, sae, TEXTS, k=3, context=2, cache_mb=0, progress=False)
    for a, b in zip(r0.examples(i), ex):
        assert a.tokens == b.tokens
        np.testing.assert_allclose(a.activations, b.activations, rtol=1e-4, atol=1e-5)
    promoted, suppressed = r.logits(i, 5)
    assert len(promoted) == len(suppressed) == 5
    assert promoted[0][1] >= promoted[-1][1] and suppressed[0][1] <= suppressed[-1][1]
    assert r.promoted_ids is not None and r.vocab[r.promoted_ids[i, 0]] == promoted[0][0]
    toks, acts = feature_activations(model, sae, TEXTS[0])
    assert acts.shape == (len(toks), D_SAE) and acts.dtype == np.float32
    F, where = _brute(model, sae, [TEXTS[0]])
    np.testing.assert_allclose(acts[[p for _, p in where]], F, rtol=1e-4, atol=1e-5)
    # without a source: only the max token's value is known
    r._source = None
    bare = r.examples(i)
    assert [e.tokens for e in bare] == [e.tokens for e in ex]
    assert bare[0].activations[bare[0].max_pos] == pytest.approx(ex[0].activation)
    assert r.logits(i) == ([], [])


def test_errors(model, tiny_tokenizer):
    with pytest.raises(ValueError, match=r"32-wide.*64 wide"):
        sae_features(model, _sae(d_in=32), TEXTS, progress=False)
    with pytest.raises(ValueError, match="no texts"):
        sae_features(model, _sae(), [], progress=False)
    with pytest.raises(ValueError, match="empty string"):
        sae_features(model, _sae(), ["ok", ""], progress=False)
    with pytest.raises(ValueError, match="k must be"):
        sae_features(model, _sae(), TEXTS, k=0, progress=False)
    with pytest.raises(TypeError, match="SAE"):
        sae_features(model, "nope", TEXTS, progress=False)
    with pytest.raises(ValueError, match="empty"):
        feature_activations(model, _sae(), "  ")
    r = sae_features(model, _sae(), TEXTS[:2], progress=False)
    with pytest.raises(ValueError, match="out of range"):
        r.examples(D_SAE)
    with pytest.raises(ValueError, match="by must be"):
        r.top_features("nope")
    assert not our_hooks(model)


def test_progress_callback(model):
    seen = []
    sae_features(model, _sae(), TEXTS, batch_size=2, progress=seen.append)
    assert seen and seen[-1] == pytest.approx(1.0) and seen == sorted(seen)


def test_a_repeated_passage_is_listed_once(model):
    """The same text twice in the corpus (docstrings of inherited methods) puts the same
    contexts twice in a feature's top k; the dashboard lists each once."""
    sae = _sae()
    r = sae_features(model, sae, TEXTS[:3] + TEXTS[:3], k=6, progress=False)
    dup = 0
    for f in np.nonzero(r.count)[0]:
        ex = r.examples(int(f))
        windows = [(tuple(e.tokens), e.max_pos) for e in ex]
        assert len(windows) == len(set(windows))
        assert [e.activation for e in ex] == sorted((e.activation for e in ex), reverse=True)
        dup += len(ex) < int((r.top_text[f] >= 0).sum())
    assert dup > 0  # the corpus did repeat contexts in the raw top k
