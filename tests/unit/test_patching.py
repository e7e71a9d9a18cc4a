"""Activation patching: exact values against a hand-written hook implementation (full
forwards, plain torch hooks on the Hugging Face modules), identities, attribution patching."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import interp_widgets as iw
from tiny_models import build_tiny, our_hooks

CLEAN = "When Mary and John went to the store, John gave a drink to"
CORRUPT = "When John and Mary went to the store, Mary gave a drink to"
METRIC = (" Mary", " John")


def _hf_layers(m):
    return m.family.layers(m.base)


@torch.no_grad()
def _by_hand(m, site, positions):
    """Straightforward patching: for every cell a full forward of the corrupted prompt with a
    hook that writes the clean activation, written against HF modules directly."""
    a, b = m.token_id(METRIC[0]), m.token_id(METRIC[1])
    clean, corrupt = m.to_tokens(CLEAN), m.to_tokens(CORRUPT)
    n, layers = clean.shape[1], _hf_layers(m)

    def metric(ids, hook=None):
        h = hook() if hook else None
        try:
            logits = m.hf(ids).logits[0, -1]
        finally:
            if h:
                h.remove()
        return float(logits[a] - logits[b])

    def grab(l):  # clean input of block l (resid_pre) or output (resid_post)
        box = {}
        if site == "resid_pre":
            h = layers[l].register_forward_pre_hook(
                lambda mod, args, kw: box.__setitem__("x", (args[0] if args else kw["hidden_states"]).clone()),
                with_kwargs=True)
        else:
            h = layers[l].register_forward_hook(
                lambda mod, args, out: box.__setitem__("x", (out[0] if isinstance(out, tuple) else out).clone()))
        m.hf(clean)
        h.remove()
        return box["x"]

    out = np.zeros((m.n_layers, n if positions == "each" else 1))
    mc, mx = metric(clean), metric(corrupt)
    for l in range(m.n_layers):
        x_clean = grab(l)
        for p in range(out.shape[1]):
            sl = slice(None) if positions == "all" else p

            def hook(l=l, sl=sl, x_clean=x_clean):
                if site == "resid_pre":
                    def pre(mod, args, kw):
                        if args:
                            t = args[0].clone(); t[:, sl] = x_clean[:, sl]
                            return (t,) + tuple(args[1:]), kw
                        kw = dict(kw); t = kw["hidden_states"].clone(); t[:, sl] = x_clean[:, sl]
                        kw["hidden_states"] = t
                        return args, kw
                    return layers[l].register_forward_pre_hook(pre, with_kwargs=True)

                def post(mod, args, o):
                    t = (o[0] if isinstance(o, tuple) else o).clone()
                    t[:, sl] = x_clean[:, sl]
                    return (t,) + tuple(o[1:]) if isinstance(o, tuple) else t
                return layers[l].register_forward_hook(post)
            out[l, p] = metric(corrupt, hook)
    vals = (out - mx) / (mc - mx)
    return vals if positions == "each" else vals[:, 0]


@pytest.mark.parametrize("site", ["resid_pre", "resid_post"])
def test_exact_patching_matches_hand_written_hooks(tiny_causal, site):
    m = tiny_causal
    r = iw.patch(m, CLEAN, CORRUPT, METRIC, site=site, progress=False, batch_size=5)
    want = _by_hand(m, site, "each")
    assert r.values.shape == want.shape == (m.n_layers, len(r.clean_tokens))
    # (rtol: a mixture of experts sums its experts' outputs in an order that depends on the
    # batch's routing, float32 noise that the normalisation can scale up)
    np.testing.assert_allclose(r.values, want, atol=1e-4, rtol=1e-5)
    assert np.abs(want).max() > 0.05  # the test has something to compare
    assert not our_hooks(m)
    assert all(type(x).__name__ != "_Skip" for x in _hf_layers(m))


def test_all_positions_reproduce_the_clean_run(tiny_causal):
    m = tiny_causal
    # every position of the residual stream carries the whole clean run (resid_mid too: a
    # write there reaches the skip connection, not only the MLP)
    for site in ("resid_pre", "resid_mid", "resid_post"):
        if site == "resid_mid" and "blocks.0.hook_resid_mid" not in m.hook_names:
            continue  # parallel attention and MLP
        r = iw.patch(m, CLEAN, CORRUPT, METRIC, site=site, positions="all", progress=False)
        np.testing.assert_allclose(r.values, np.ones(m.n_layers), atol=1e-4, err_msg=site)

    # patching the clean run into itself changes nothing: 1 everywhere, at every site and cell
    for site in ("resid_pre", "attn_out", "z"):
        same = iw.patch(m, CLEAN, CLEAN, METRIC, site=site, progress=False)
        assert same.clean_metric == same.corrupted_metric
        np.testing.assert_array_equal(same.values, np.ones_like(same.values))


@pytest.mark.parametrize("site", ["attn_out", "mlp_out", "resid_mid", "z"])
def test_other_sites_match_a_full_forward_with_our_hooks(tiny_tokenizer, site):
    """Other sites against full forwards through model.hooks (no skipping, no KV reuse)."""
    m = build_tiny("llama", tiny_tokenizer)
    r = iw.patch(m, CLEAN, CORRUPT, METRIC, site=site, progress=False, batch_size=4)
    from interp_widgets.kernels.patching import SITES
    clean, corrupt = m.to_tokens(CLEAN), m.to_tokens(CORRUPT)
    a, b = m.token_id(METRIC[0]), m.token_id(METRIC[1])
    acts = {}
    with torch.no_grad():
        with m.hooks([(f"blocks.{l}.{SITES[site]}", lambda t, name: acts.__setitem__(name, t.clone()))
                      for l in range(m.n_layers)]):
            m(clean)
        mc = float((lambda x: x[a] - x[b])(m(clean)[0, -1]))
        mx = float((lambda x: x[a] - x[b])(m(corrupt)[0, -1]))
        for l in range(m.n_layers):
            name = f"blocks.{l}.{SITES[site]}"
            for p in range(clean.shape[1]):
                for h in (range(m.n_heads) if site == "z" else [None]):
                    def w(t, nm, p=p, h=h):
                        t = t.clone()
                        if h is None:
                            t[:, p] = acts[name][:, p]
                        else:
                            t[:, p, h] = acts[name][:, p, h]
                        return t
                    with m.hooks([(name, w)]):
                        x = m(corrupt)[0, -1]
                    v = (float(x[a] - x[b]) - mx) / (mc - mx)
                    got = r.values[l, h, p] if site == "z" else r.values[l, p]
                    assert got == pytest.approx(v, abs=1e-4), (l, p, h)


def test_attribution_patching_is_the_first_order_term(tiny_tokenizer):
    """Attribution patching estimates each cell by (clean - corrupted) . grad: the limit of
    (metric(corrupted + eps * (clean - corrupted)) - metric(corrupted)) / eps at eps -> 0."""
    m = build_tiny("gpt2", tiny_tokenizer)
    approx = iw.patch(m, CLEAN, CORRUPT, METRIC, site="resid_pre", method="attribution", progress=False)
    assert approx.values.shape == (m.n_layers, len(approx.clean_tokens))
    denom = approx.clean_metric - approx.corrupted_metric
    clean, corrupt = m.to_tokens(CLEAN), m.to_tokens(CORRUPT)
    a, b = m.token_id(METRIC[0]), m.token_id(METRIC[1])
    acts = {}
    with torch.no_grad():
        with m.hooks([(f"blocks.{l}.hook_resid_pre", lambda t, name: acts.__setitem__(name, t.clone()))
                      for l in range(m.n_layers)]):
            m(clean)
        corr_acts = {}
        with m.hooks([(f"blocks.{l}.hook_resid_pre", lambda t, name: corr_acts.__setitem__(name, t.clone()))
                      for l in range(m.n_layers)]):
            x = m(corrupt)[0, -1]
        m0 = float(x[a] - x[b])
        eps = 1e-3
        checked = 0
        for l, p in [(0, 1), (1, 3), (2, 9), (1, len(approx.clean_tokens) - 1)]:
            name = f"blocks.{l}.hook_resid_pre"

            def w(t, nm, p=p, name=name):
                t = t.clone()
                t[:, p] = corr_acts[name][:, p] + eps * (acts[name][:, p] - corr_acts[name][:, p])
                return t
            with m.hooks([(name, w)]):
                y = m(corrupt)[0, -1]
            slope = (float(y[a] - y[b]) - m0) / eps
            assert approx.values[l, p] * denom == pytest.approx(slope, rel=0.02, abs=1e-3), (l, p)
            checked += abs(slope) > 1e-2
    assert checked >= 2


def test_bad_input(tiny_tokenizer):
    m = build_tiny("llama", tiny_tokenizer)
    with pytest.raises(ValueError, match="same number of tokens") as e:
        iw.patch(m, CLEAN, "Short", METRIC)
    assert "clean:" in str(e.value) and "corrupted:" in str(e.value)
    with pytest.raises(ValueError, match="unknown site"):
        iw.patch(m, CLEAN, CORRUPT, METRIC, site="nowhere")
    with pytest.raises(ValueError, match="one number per run"):
        iw.patch(m, CLEAN, CORRUPT, lambda logits: logits, progress=False)
    with pytest.raises(ValueError, match="encoder"):
        iw.patch(build_tiny("bert", tiny_tokenizer), CLEAN, CORRUPT, METRIC)
    assert not our_hooks(m)
    assert all(type(x).__name__ != "_Skip" for x in _hf_layers(m))
