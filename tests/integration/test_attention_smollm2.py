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
    torch.testing.assert_close(p.sum(-1), torch.ones(p.shape[0]), rtol=1e-5, atol=1e-5)
