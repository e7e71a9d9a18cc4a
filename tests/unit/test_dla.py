"""Direct logit attribution: the parts add up to the logit, on every causal family."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import interp_widgets as iw
from tiny_models import build_tiny

TEXT = "When Mary and John went to the store, John gave a drink to"


def _prenorm_logit(m, text, pos, tok):
    """The target logit before any final soft-capping, from HF's own final hidden state (and
    the logit scale in the config: Cohere's logit_scale, Granite's 1 / logits_scaling); where
    there is no soft-capping, HF's own logit too."""
    ids = m.to_tokens(text)
    cfg = m.hf.config
    scale = cfg.logit_scale if cfg.model_type == "cohere" else 1 / getattr(cfg, "logits_scaling", 1.0)
    with torch.no_grad():
        out = m.hf(ids, output_hidden_states=True)
        h = out.hidden_states[-1][0, pos]
        logit = h @ m.unembed.weight[tok]
        b = getattr(m.unembed, "bias", None)
    logit = (float(logit) + (0.0 if b is None else float(b[tok]))) * scale
    if not getattr(cfg, "final_logit_softcapping", None):
        assert logit == pytest.approx(float(out.logits[0, pos, tok]), rel=1e-4, abs=1e-5)
    return logit


def test_parts_add_up_to_the_logit(tiny_causal):
    m = tiny_causal
    tok = m.token_id(" Mary")
    r = iw.direct_logit_attribution(m, TEXT, target=" Mary")
    assert r.heads.shape == (m.n_layers, m.n_heads) and r.mlp.shape == (m.n_layers,)
    want = _prenorm_logit(m, TEXT, len(r.tokens) - 1, tok)
    assert r.logit == pytest.approx(want, rel=1e-4, abs=1e-4)
    assert r.total == pytest.approx(want, rel=1e-4, abs=1e-4)
    assert np.abs(r.heads).sum() > 0 and np.abs(r.mlp).sum() > 0


def test_logit_difference_and_position(tiny_causal):
    m = tiny_causal
    a = iw.direct_logit_attribution(m, TEXT, target=" Mary", position=5)
    b = iw.direct_logit_attribution(m, TEXT, target=" John", position=5)
    d = iw.direct_logit_attribution(m, TEXT, target=(" Mary", " John"), position=5)
    np.testing.assert_allclose(d.heads, a.heads - b.heads, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(d.mlp, a.mlp - b.mlp, rtol=1e-4, atol=1e-4)
    assert d.logit == pytest.approx(a.logit - b.logit, abs=1e-4)
    assert d.position == 5 and "Mary" in d.target and "John" in d.target


@torch.no_grad()
def test_heads_match_a_hand_computation_on_llama(tiny_tokenizer):
    """Llama (RMSNorm, no biases): head h of layer l contributes
    W_U[t] . (w * (z_h W_O,h) / rms(resid_final)) — written out by hand here."""
    m = build_tiny("llama", tiny_tokenizer)
    t = m.token_id(" John")
    r = iw.direct_logit_attribution(m, TEXT, target=t)
    cache = iw.run_with_cache(m, TEXT)
    resid = cache["resid_post", -1][0, -1]
    norm = m.hf.model.norm
    rms = torch.sqrt(resid.pow(2).mean() + norm.variance_epsilon)
    u = m.unembed.weight[t] * norm.weight / rms
    dh = m.d_model // m.n_heads
    for l in range(m.n_layers):
        z = cache["z", l][0, -1]  # [heads, d_head]
        W = m.hf.model.layers[l].self_attn.o_proj.weight  # [d_model, heads * d_head]
        for h in range(m.n_heads):
            out = W[:, h * dh:(h + 1) * dh] @ z[h]
            assert r.heads[l, h] == pytest.approx(float(u @ out), rel=1e-4, abs=1e-5)
        assert r.mlp[l] == pytest.approx(float(u @ cache["mlp_out", l][0, -1]), rel=1e-4, abs=1e-5)
    assert r.embed == pytest.approx(float(u @ cache["resid_pre", 0][0, -1]), rel=1e-4, abs=1e-5)


def test_bad_input(tiny_tokenizer):
    m = build_tiny("gpt2", tiny_tokenizer)
    with pytest.raises(ValueError, match="out of range"):
        iw.direct_logit_attribution(m, TEXT, target=" Mary", position=999)
    with pytest.raises(ValueError, match="exactly two"):
        iw.direct_logit_attribution(m, TEXT, target=(" Mary", " John", " the"))
    bert = build_tiny("bert", tiny_tokenizer)
    with pytest.raises(ValueError, match="encoder"):
        iw.direct_logit_attribution(bert, TEXT, target=" Mary")


@pytest.mark.parametrize("family", ["gpt2", "gpt_neox", "llama", "gemma2"])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_models(tiny_tokenizer, family, dtype):
    """A model loaded in bf16/fp16 (LayerNorm families crashed on a float32 input; RMSNorm ones
    failed the sum check on bf16 rounding): the parts still add up, and match float32's."""
    full = build_tiny(family, tiny_tokenizer)
    want = iw.direct_logit_attribution(full, TEXT)
    half = iw.Model(build_tiny(family, tiny_tokenizer).hf.to(dtype), tiny_tokenizer)
    got = iw.direct_logit_attribution(half, TEXT)
    scale = float(np.abs(want.heads).max())
    np.testing.assert_allclose(got.heads, want.heads, atol=0.05 * scale + 0.02)
    assert got.target == want.target
