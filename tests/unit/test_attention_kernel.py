"""iw.attention and the head detectors, against hand computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import interp_widgets as iw
from interp_widgets.kernels.attention import (detector_scores_from_patterns, head_detector_scores,
                                              repeated_random_tokens)
from tiny_models import build_tiny

TEXT = "When Mary and John went to the store, John gave a drink to"


def _one_hot_patterns(n, prefix, seq_len, offset):
    """[1, 1, 1, n, n]: every query attends fully to key q - offset (itself where that is
    out of range)."""
    p = torch.zeros(1, 1, 1, n, n)
    for q in range(n):
        p[0, 0, 0, q, q - offset if q - offset >= 0 else q] = 1.0
    return p


@pytest.mark.parametrize("prefix", [0, 1])
def test_detector_formulas_on_ideal_heads(prefix):
    L = 7
    n = prefix + 2 * L
    prev = detector_scores_from_patterns(_one_hot_patterns(n, prefix, L, 1), L, prefix)
    assert prev["previous_token"][0, 0] == 1.0 and prev["induction"][0, 0] == 0.0
    ind = detector_scores_from_patterns(_one_hot_patterns(n, prefix, L, L - 1), L, prefix)
    assert ind["induction"][0, 0] == 1.0 and ind["duplicate_token"][0, 0] == 0.0
    dup = detector_scores_from_patterns(_one_hot_patterns(n, prefix, L, L), L, prefix)
    assert dup["duplicate_token"][0, 0] == 1.0 and dup["previous_token"][0, 0] == 0.0


def test_next_token_detector_for_encoders():
    n, L = 9, 4
    p = torch.zeros(1, 1, 2, n, n)
    p[..., torch.arange(n - 1), torch.arange(1, n)] = 1.0  # head 0 looks at the next token
    p[0, 0, 0, n - 1, n - 1] = 1.0
    p[0, 0, 1] = 1.0 / n  # head 1: uniform
    s = detector_scores_from_patterns(p, L, 1, causal=False)
    assert s["next_token"][0, 0] == pytest.approx(1.0) and s["next_token"][0, 1] == pytest.approx(1 / n)
    assert "next_token" not in detector_scores_from_patterns(p, L, 1)  # causal: no look-ahead


def test_detector_scores_match_a_hand_computation(tiny_tokenizer):
    """Scores from our pattern hook equal loops over HF's own eager attentions."""
    m = build_tiny("llama", tiny_tokenizer, attn_implementation="eager")
    L, B = 12, 3
    scores = head_detector_scores(m, seq_len=L, batch=B, seed=3)
    ids, prefix = repeated_random_tokens(m, L, B, seed=3)
    assert ids.shape == (B, prefix + 2 * L)
    assert torch.equal(ids[:, prefix:prefix + L], ids[:, prefix + L:])
    with torch.no_grad():
        att = m.hf(ids, output_attentions=True).attentions  # per layer [B, H, n, n]
    n = ids.shape[1]
    for l in range(m.n_layers):
        for h in range(m.n_heads):
            a = att[l][:, h].double().numpy()
            prev = np.mean([a[b, q, q - 1] for b in range(B) for q in range(prefix + 1 if prefix else 1, n)])
            dup = np.mean([a[b, q, q - L] for b in range(B) for q in range(prefix + L, n)])
            ind = np.mean([a[b, q, q - L + 1] for b in range(B) for q in range(prefix + L, n)])
            assert scores["previous_token"][l, h] == pytest.approx(prev, abs=1e-5)
            assert scores["duplicate_token"][l, h] == pytest.approx(dup, abs=1e-5)
            assert scores["induction"][l, h] == pytest.approx(ind, abs=1e-5)
    # memoised, and a copy each time
    again = head_detector_scores(m, seq_len=L, batch=B, seed=3)
    again["induction"][:] = -1
    assert head_detector_scores(m, seq_len=L, batch=B, seed=3)["induction"].min() >= 0


def test_attention_result_matches_hf(tiny_model, tiny_tokenizer):
    m = tiny_model
    res = iw.attention(m, TEXT, seq_len=8, batch=2)
    assert isinstance(res, iw.AttentionPatterns)
    ids = m.to_tokens(TEXT)
    assert res.tokens == m.to_str_tokens(ids[0])
    assert res.patterns.shape == (m.n_layers, m.n_heads, ids.shape[1], ids.shape[1])
    assert res.causal == m.is_causal
    cache = iw.run_with_cache(m, TEXT, names="pattern")
    for l in range(m.n_layers):
        np.testing.assert_allclose(res.patterns[l], cache["pattern", l][0].numpy(), rtol=1e-6, atol=1e-7)
    want = {"previous_token", "duplicate_token", "induction"} | (set() if m.is_causal else {"next_token"})
    assert set(res.head_scores) == want
    for s in res.head_scores.values():
        assert s.shape == (m.n_layers, m.n_heads) and (s >= 0).all() and (s <= 1 + 1e-6).all()
    assert res.top_heads("induction", 2)[0][2] == res.head_scores["induction"].max()
    np.testing.assert_array_equal(res.head(-1, 0), res.patterns[-1, 0])
    with pytest.raises(ValueError, match="out of range"):
        res.head(m.n_layers, 0)
    with pytest.raises(ValueError, match="unknown detector"):
        res.top_heads("nope")
    assert iw.attention(m, TEXT, detectors=False).head_scores == {}


def test_attention_refuses_what_would_not_fit(tiny_tokenizer, monkeypatch):
    import interp_widgets.kernels.attention as K
    m = build_tiny("gpt2", tiny_tokenizer)
    monkeypatch.setattr(K, "_MAX_PATTERN_BYTES", 1000)
    with pytest.raises(ValueError, match="use a shorter text"):
        iw.attention(m, TEXT, detectors=False)
    with pytest.raises(ValueError, match="empty"):
        iw.attention(m, "")


def test_sentence_pairs_are_for_encoders(tiny_tokenizer):
    causal = build_tiny("llama", tiny_tokenizer)
    with pytest.raises(ValueError, match="causal LM: it reads one text"):
        iw.attention(causal, TEXT, "a second text", detectors=False)
    enc = build_tiny("bert", tiny_tokenizer)
    r = iw.attention(enc, TEXT, "a second text", detectors=False)
    n_first = len(enc.tokenizer(TEXT).input_ids)
    assert r.pair_start == n_first  # the tiny tokenizer has no segment ids: after the first text
    assert len(r.tokens) > n_first and r.patterns.shape[-1] == len(r.tokens)
    for blank in ("", "   "):
        with pytest.raises(ValueError, match="text_pair must be a non-empty string"):
            iw.attention(enc, TEXT, blank, detectors=False)


def test_pair_start_without_segment_ids():
    """RoBERTa-style pairs (`<s> a </s></s> b </s>`, no token_type_ids): the second sentence
    starts after both separators."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast, RobertaConfig, RobertaModel

    vocab = {w: i for i, w in enumerate(["<s>", "<pad>", "</s>", "<unk>", "the", "cat", "sat", "it", "was", "tired"])}
    raw = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    raw.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, bos_token="<s>", eos_token="</s>", sep_token="</s>",
                                  cls_token="<s>", pad_token="<pad>", unk_token="<unk>",
                                  model_input_names=["input_ids", "attention_mask"])
    cfg = RobertaConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=40, pad_token_id=1, type_vocab_size=1)
    torch.manual_seed(0)
    m = iw.Model(RobertaModel(cfg).eval(), tok, name="tiny-roberta")
    r = iw.attention(m, "the cat sat", "it was tired", detectors=False)
    assert r.tokens[r.pair_start] == " it" or r.tokens[r.pair_start].strip() == "it", (r.tokens, r.pair_start)
    assert r.tokens[r.pair_start - 1].strip() == "</s>" and r.tokens[r.pair_start - 2].strip() == "</s>"
