"""run_with_cache: shapes, equality with Hugging Face's own outputs, padding, keys, filters."""

from __future__ import annotations

import pytest
import torch

import interp_widgets as iw
from tiny_models import build_tiny, dense_mlp_layers, our_hooks

TEXT = "The quick brown fox jumps over the lazy dog."
SHORT = "One, two, three"


def _hf_outputs(model, text, eager_twin):
    ids = model.to_tokens(text)
    with torch.no_grad():
        out = eager_twin.hf(ids, output_hidden_states=True, output_attentions=True)
    return ids, out


@pytest.fixture(scope="module")
def eager_twins():
    """The same tiny models (same seed, same weights) loaded with eager attention, whose
    ``output_attentions`` is an independent reference for our pattern hook."""
    return {}


def _twin(kind, tok, cache):
    if kind not in cache:
        cache[kind] = build_tiny(kind, tok, attn_implementation="eager")
    return cache[kind]


def test_cache_matches_hf_hidden_states_and_attentions(tiny_model, tiny_tokenizer, eager_twins):
    m = tiny_model
    kind = m.name.removeprefix("tiny-")
    twin = _twin(kind, tiny_tokenizer, eager_twins)
    for a, b in zip(m.hf.state_dict().values(), twin.hf.state_dict().values()):
        assert torch.equal(a, b)
    cache = iw.run_with_cache(m, TEXT)
    ids, out = _hf_outputs(m, TEXT, twin)
    n = ids.shape[1]
    L, H = m.n_layers, m.n_heads
    for l in range(L):
        torch.testing.assert_close(cache["resid_pre", l], out.hidden_states[l], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(cache["pattern", l], out.attentions[l], rtol=1e-5, atol=1e-6)
        assert cache["pattern", l].shape == (1, H, n, n)
        assert cache["z", l].shape == (1, n, H, m.d_model // H) or cache["z", l].shape[:3] == (1, n, H)
        if l in dense_mlp_layers(m.config):  # a mixture of experts' sparse layers have no neurons
            assert cache["post", l].shape[:2] == (1, n)
        else:
            assert ("post", l) not in cache
    # a block's output: resid_post, except on post-LayerNorm BERT, where (as in TransformerLens)
    # resid_post is the sum before the block's last LayerNorm and normalized_resid_post its output
    block_out = "resid_post" if m.is_causal else "normalized_resid_post"
    for l in range(L - 1):
        torch.testing.assert_close(cache[block_out, l], out.hidden_states[l + 1], rtol=1e-5, atol=1e-5)
    last = cache["normalized"] if m.is_causal else cache[block_out, -1]
    torch.testing.assert_close(last, out.hidden_states[-1], rtol=1e-5, atol=1e-5)
    if not m.is_causal:  # TransformerLens's BertBlock sums
        for l in range(L):
            torch.testing.assert_close(cache["resid_mid", l], cache["resid_pre", l] + cache["attn_out", l])
            torch.testing.assert_close(cache["resid_post", l], cache["normalized_resid_mid", l] + cache["mlp_out", l])
    p = cache["pattern", 0][0]
    torch.testing.assert_close(p.sum(-1), torch.ones(H, n))
    if m.is_causal:
        assert float(torch.triu(p, diagonal=1).abs().max()) == 0.0


def test_patterns_under_sdpa_and_implementation_restored(tiny_tokenizer):
    m = build_tiny("llama", tiny_tokenizer, attn_implementation="sdpa")
    before = m.hf.config._attn_implementation
    cache = iw.run_with_cache(m, TEXT, names="pattern")
    assert sorted(cache) == [f"blocks.{l}.attn.hook_pattern" for l in range(m.n_layers)]
    assert m.hf.config._attn_implementation == before == "sdpa"
    assert all(not mod._forward_hooks and not mod._forward_pre_hooks for mod in m.hf.modules())


def test_batch_with_padding_equals_one_text_at_a_time(tiny_causal):
    m = tiny_causal
    both = iw.run_with_cache(m, [TEXT, SHORT])
    alone = [iw.run_with_cache(m, t) for t in (TEXT, SHORT)]
    assert both.lengths == [len(alone[0].tokens[0]), len(alone[1].tokens[0])]
    assert both.lengths[1] < both.lengths[0]
    n1 = both.lengths[1]
    mlp = "blocks.1.mlp.hook_post" if 1 in dense_mlp_layers(m.config) else "blocks.1.hook_mlp_out"
    for name in ("blocks.0.hook_resid_post", mlp, "blocks.1.attn.hook_pattern", "blocks.1.attn.hook_z"):
        for i in range(2):
            torch.testing.assert_close(both.text(i)[name], alone[i][name], rtol=1e-4, atol=1e-5)
        padded = both[name][1]
        if name.endswith("pattern"):
            assert float(padded[:, n1:].abs().max()) == 0.0  # rows of padded queries
            assert float(padded[:, :n1, n1:].abs().max()) == 0.0  # padded keys get no attention
        else:
            assert float(padded[n1:].abs().max()) == 0.0
    assert both.attention_mask.tolist()[1] == [1] * n1 + [0] * (both.lengths[0] - n1)
    assert both.tokens[1] == alone[1].tokens[0]


def test_shorthand_keys_filters_and_errors(tiny_tokenizer):
    m = build_tiny("gpt2", tiny_tokenizer)
    cache = iw.run_with_cache(m, TEXT)
    last = m.n_layers - 1
    assert cache["pattern", -1] is cache[f"blocks.{last}.attn.hook_pattern"]
    assert cache["blocks.-1.hook_resid_post"] is cache["resid_post", last]
    assert cache["embed"] is cache["hook_embed"]
    assert ("mlp_out", 0) in cache and ("nope", 0) not in cache
    with pytest.raises(KeyError, match="out of range"):
        cache["pattern", 99]

    only = iw.run_with_cache(m, TEXT, names=["blocks.0.hook_resid_post", "attn.hook_pattern"])
    assert sorted(only) == sorted(["blocks.0.hook_resid_post"] + [f"blocks.{l}.attn.hook_pattern" for l in range(m.n_layers)])
    with pytest.raises(KeyError, match="it holds: blocks.{l}.attn.hook_pattern, blocks.{l}.hook_resid_post"):
        only["mlp_out", 0]
    pred = iw.run_with_cache(m, TEXT, names=lambda n: n.endswith("hook_mlp_out"))
    assert len(pred) == m.n_layers
    with pytest.raises(ValueError, match="valid names"):
        iw.run_with_cache(m, TEXT, names="blocks.0.hook_nonsense")
    with pytest.raises(ValueError, match="matched no hook point"):
        iw.run_with_cache(m, TEXT, names=lambda n: False)
    with pytest.raises(ValueError, match="empty"):
        iw.run_with_cache(m, ["ok", ""])
    with pytest.raises(ValueError, match="no texts"):
        iw.run_with_cache(m, [])
    cpu = cache.to("cpu")
    assert cpu["pattern", 0].device.type == "cpu" and len(cpu) == len(cache)
    assert cache.logits.shape[:2] == (1, len(cache.tokens[0]))


def test_a_cache_too_big_for_memory_is_refused_before_running(tiny_model):
    """Every hook point of a long batch can take more memory than a laptop has: the cache's
    size is known before the run (measured on two tokens, patterns growing with the square
    of the length), exactly, on every family."""
    from interp_widgets.kernels.activations import _cache_bytes, _select, _tokenize_batch

    texts = ["the cat sat on the mat and the dog", "a dog"]
    c = iw.run_with_cache(tiny_model, texts)
    real = sum(t.numel() * t.element_size() for t in c._data.values())
    ids, mask = _tokenize_batch(tiny_model, texts)
    est = _cache_bytes(tiny_model, _select(tiny_model, None), ids, mask, keep_logits=False)
    assert sum(est.values()) == real
    assert est["patterns"] == sum(t.numel() * 4 for n, t in c._data.items() if n.endswith("hook_pattern"))
    with pytest.raises(ValueError, match=r"would take .* GiB \(.*patterns .*\), more than max_gib=1e-06: "
                                         r"keep fewer hook points"):
        iw.run_with_cache(tiny_model, texts, max_gib=1e-6)
    assert not our_hooks(tiny_model)
    with pytest.raises(ValueError, match="max_gib must be a positive number"):
        iw.run_with_cache(tiny_model, texts, max_gib=-1)
    small = iw.run_with_cache(tiny_model, texts, names="resid_post", keep_logits=False, max_gib=real / 2**30)
    assert len(small.keys()) == tiny_model.n_layers


def test_free_memory_is_read_on_cpu():
    from interp_widgets.model import free_memory

    free = free_memory("cpu")
    assert free is not None and free > 2**20


def test_sentence_pairs_need_an_encoder(tiny_tokenizer):
    causal = build_tiny("llama", tiny_tokenizer)
    with pytest.raises(ValueError, match="causal LM: it reads one text"):
        iw.run_with_cache(causal, TEXT, text_pair="a second text")
    enc = build_tiny("bert", tiny_tokenizer)
    c = iw.run_with_cache(enc, [TEXT, SHORT], names="resid_pre", text_pair="a second text")
    assert c.tokens[0] == enc.to_str_tokens(enc.pair_tokens(TEXT, "a second text")[0])
