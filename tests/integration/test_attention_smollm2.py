"""Attention and activations on the real SmolLM2: its induction and previous-token heads."""

import numpy as np
import pytest
import torch

import interp_widgets as iw

pytestmark = pytest.mark.integration

IOI = "When Mary and John went to the store, John gave a drink to"


def test_smollm2_has_induction_and_previous_token_heads(smollm2):
    r = iw.attention(smollm2, IOI)
    assert r.patterns.shape == (30, 9, len(r.tokens), len(r.tokens))
    ind = r.head_scores["induction"]
    (l, h, top), second = r.top_heads("induction", 2)[0], r.top_heads("induction", 2)[1]
    # measured: L18H6 0.84, L17H3 0.70, L17H4 0.69; median head 0.01
    assert top > 0.6 and second[2] > 0.5 and l >= 1
    assert float(np.median(ind)) < 0.1
    assert r.top_heads("previous_token", 1)[0][2] > 0.6
    # layer 0 heads cannot be induction heads (they see no earlier layer's previous-token info)
    assert float(ind[0].max()) < 0.2


def test_smollm2_cache_matches_hf_outputs(smollm2):
    m = smollm2
    cache = iw.run_with_cache(m, IOI, names=lambda n: "resid" in n or "pattern" in n)
    ids = m.to_tokens(IOI)
    with torch.no_grad():
        hs = m.hf(ids, output_hidden_states=True).hidden_states
    for l in (0, 15, 29):
        torch.testing.assert_close(cache["resid_pre", l], hs[l], rtol=1e-4, atol=1e-4)
    p = cache["pattern", 18][0, 6]
    torch.testing.assert_close(p.sum(-1), torch.ones(p.shape[0], device=p.device), rtol=1e-5, atol=1e-5)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_attention_and_cache_on_cuda():
    gpu, smollm2 = iw.load_model(device="cuda"), iw.load_model(device="cpu")
    r_gpu, r_cpu = iw.attention(gpu, IOI), iw.attention(smollm2, IOI)
    np.testing.assert_allclose(r_gpu.patterns, r_cpu.patterns, atol=2e-3)
    for d in r_cpu.head_scores:
        np.testing.assert_allclose(r_gpu.head_scores[d], r_cpu.head_scores[d], atol=2e-3)
    c = iw.run_with_cache(gpu, [IOI, "Short text"], names="resid_post")
    assert c["resid_post", 3].device.type == "cuda"
    ref = iw.run_with_cache(smollm2, "Short text", names="resid_post")
    torch.testing.assert_close(c.text(1)["resid_post", 3].cpu(), ref["resid_post", 3], rtol=1e-3, atol=1e-3)
