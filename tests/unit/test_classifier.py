"""Sequence classifiers (BERT/RoBERTa/DistilBERT with a classification head): class logits,
attribution of a class (also of a sentence pair, as NLI models read them), load_model keeping
the head; and DistilBERT's masked-LM head."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import interp_widgets as iw

TEXT = "the quick brown fox jumps over the lazy dog."
PAIR = ("the quick brown fox jumps.", "one, two, three.")
LABELS = {0: "NEGATIVE", 1: "POSITIVE", 2: "NEUTRAL"}


@pytest.fixture(scope="module")
def wordpiece():
    from tiny_models import make_tiny_wordpiece

    return make_tiny_wordpiece()


def _build(kind: str, tok, head: str = "cls"):
    import transformers as tf

    torch.manual_seed(0)
    common = dict(vocab_size=len(tok), pad_token_id=tok.pad_token_id, id2label=LABELS,
                  label2id={v: k for k, v in LABELS.items()})
    if kind == "bert":
        cfg = tf.BertConfig(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                            max_position_embeddings=128, **common)
    elif kind == "roberta":
        cfg = tf.RobertaConfig(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                               max_position_embeddings=130, **common)
    elif kind == "electra":  # embeddings narrower than the stream (projected), no pooler
        cfg = tf.ElectraConfig(embedding_size=32, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                               num_attention_heads=4, max_position_embeddings=128, **common)
    else:
        cfg = tf.DistilBertConfig(dim=64, hidden_dim=96, n_layers=2, n_heads=4, max_position_embeddings=128, **common)
    auto = tf.AutoModelForSequenceClassification if head == "cls" else tf.AutoModelForMaskedLM
    hf = auto.from_config(cfg)
    with torch.no_grad():
        for p in hf.parameters():
            if p.dim() == 2:
                p.mul_(3.0)
    return hf.eval()


def _segments(m, enc) -> dict:
    """The segment ids HF's model takes from this tokenizer's pair encoding: all of them where
    it has segment embeddings for them (BERT, ELECTRA, a 2-type RoBERTa), none otherwise."""
    assert "token_type_ids" in enc  # the test tokenizer gives segment ids, as BERT's does
    emb = getattr(getattr(m.hf, m.hf.base_model_prefix).embeddings, "token_type_embeddings", None)
    takes = emb is not None and int(enc["token_type_ids"].max()) < emb.num_embeddings
    return {"token_type_ids": enc["token_type_ids"]} if takes else {}


@pytest.fixture(scope="module", params=["bert", "roberta", "distilbert", "electra"])
def clf(request, wordpiece):
    return iw.Model(_build(request.param, wordpiece), wordpiece, name=f"tiny-{request.param}-clf")


def test_class_logits_equal_hf(clf):
    assert clf.is_classifier and not clf.is_masked_lm and not clf.has_logits
    assert clf.labels == ["NEGATIVE", "POSITIVE", "NEUTRAL"]
    assert clf.label_id("positive") == 1 and clf.label_id(2) == 2
    with pytest.raises(ValueError, match="NEGATIVE"):
        clf.label_id("joy")
    ids = clf.to_tokens(TEXT)
    with torch.no_grad():
        torch.testing.assert_close(clf.class_logits(clf.forward_hidden(input_ids=ids)), clf.hf(input_ids=ids).logits)


def test_default_target_is_the_predicted_class_and_ig_is_complete(clf):
    ids = clf.to_tokens(TEXT)
    with torch.no_grad():
        pred = int(clf.hf(input_ids=ids).logits[0].argmax())
    a = iw.attribute(clf, TEXT, n_steps=64, progress=False)
    assert a.target == LABELS[pred] and a.causal is False and a.target_positions == [len(a.tokens)]
    span = float(a.target_value[0] - a.baseline_value[0])
    assert abs(a.delta[0]) <= 0.01 * abs(span) + 1e-3
    assert np.all(a.scores[1:-1] != 0)  # every token but the held [CLS] and the closing [SEP] (= the baseline's)


def test_input_x_gradient_equals_autograd_through_hf(clf):
    ids = clf.to_tokens(TEXT)
    emb = clf.embed(ids).detach().requires_grad_(True)
    logits = clf.hf(inputs_embeds=emb).logits[0]
    for target, f in (("POSITIVE", logits[1]), (("positive", "negative"), logits[1] - logits[0]),
                      (2, torch.log_softmax(logits, -1)[2])):
        (g,) = torch.autograd.grad(f, emb, retain_graph=True)
        score = "logprob" if target == 2 else "logit"
        a = iw.attribute(clf, TEXT, target=target, method="input_x_gradient", score=score)
        np.testing.assert_allclose(a.scores, (g * emb)[0].sum(-1).detach().numpy(), rtol=1e-4, atol=1e-5)
        assert float(a.target_value[0]) == pytest.approx(f.item(), rel=1e-5)
    assert iw.attribute(clf, TEXT, target=("POSITIVE", 0), method="saliency").target == "POSITIVE − NEGATIVE"
    rows = iw.attribute(clf, TEXT, target=clf.labels, method="input_x_gradient")  # one row per class
    assert rows.target == clf.labels and rows.scores.shape == (3, ids.shape[1])
    np.testing.assert_allclose(rows.scores[1], iw.attribute(clf, TEXT, target=1, method="input_x_gradient").scores,
                               rtol=1e-5, atol=1e-6)


def test_sentence_pair_reads_segment_ids(clf):
    """A pair is scored as the model reads it ([CLS] a [SEP] b [SEP], with segment ids where
    the model has them): its class logit equals HF's on the tokenizer's pair encoding, and
    occlusion equals explicit re-runs with those segment ids."""
    enc = clf.tokenizer(*PAIR, return_tensors="pt")
    kw = _segments(clf, enc)
    with torch.no_grad():
        ref = clf.hf(input_ids=enc.input_ids, **kw).logits[0]
    a = iw.attribute(clf, PAIR[0], "POSITIVE", text_pair=PAIR[1], method="occlusion")
    assert len(a.tokens) == enc.input_ids.shape[1] and a.tokens.count("[SEP]") == 2
    assert float(a.target_value[0]) == pytest.approx(float(ref[1]), rel=1e-5)
    emb = clf.embed(enc.input_ids)[0].detach()
    base = clf.embed(torch.tensor([clf.tokenizer.sep_token_id]))[0].detach()
    with torch.no_grad():
        occl = []
        for i in range(len(emb)):
            e = emb.clone()
            e[i] = base
            occl.append(float(ref[1] - clf.hf(inputs_embeds=e[None], **kw).logits[0, 1]))
    np.testing.assert_allclose(a.scores, occl, rtol=1e-4, atol=1e-4)
    if kw:  # BERT: the segment ids matter, and without them the logit differs
        with torch.no_grad():
            plain = clf.hf(input_ids=enc.input_ids).logits[0, 1]
        assert abs(float(plain) - float(ref[1])) > 1e-3


def test_refusals(clf, wordpiece):
    with pytest.raises(ValueError, match="classifier explains a class"):
        iw.attribute(clf, TEXT, position=2, method="saliency")
    with pytest.raises(ValueError, match="continuation"):
        iw.attribute(clf, TEXT, continuation=" dog", method="saliency")
    with pytest.raises(ValueError, match="unknown class"):
        iw.attribute(clf, TEXT, target="joy", method="saliency")
    with pytest.raises(ValueError, match="encoder without a language-model head"):
        iw.logit_lens(clf, TEXT)


def test_causal_lm_refuses_a_pair(tiny_causal):
    with pytest.raises(ValueError, match="causal LM"):
        iw.attribute(tiny_causal, "The Eiffel", text_pair="Tower", method="saliency")


def test_load_model_keeps_the_classification_head(tmp_path, wordpiece):
    hf = _build("bert", wordpiece)
    hf.config.architectures = ["BertForSequenceClassification"]
    hf.save_pretrained(tmp_path / "clf")
    wordpiece.save_pretrained(tmp_path / "clf")
    m = iw.load_model(str(tmp_path / "clf"), device="cpu")
    assert m.is_classifier and m.labels == ["NEGATIVE", "POSITIVE", "NEUTRAL"]
    ids = m.to_tokens(TEXT)
    with torch.no_grad():
        torch.testing.assert_close(m.class_logits(m.forward_hidden(input_ids=ids)), hf(input_ids=ids).logits)


def test_distilbert_masked_lm_head(wordpiece):
    m = iw.Model(_build("distilbert", wordpiece, head="mlm"), wordpiece)
    assert m.is_masked_lm and not m.is_classifier
    text = "the quick brown [MASK] jumps."
    ids = m.to_tokens(text)
    with torch.no_grad():
        torch.testing.assert_close(m.logits_from_hidden(m.forward_hidden(input_ids=ids)), m.hf(input_ids=ids).logits)
    a = iw.attribute(m, text, method="integrated_gradients", n_steps=64, progress=False)
    assert a.target_positions == [int((ids[0] == m.mask_token_id).nonzero()[0, 0])]
    assert abs(a.delta[0]) <= 0.01 * abs(float(a.target_value[0] - a.baseline_value[0])) + 1e-3


def test_regression_and_multi_label_heads(wordpiece):
    import transformers as tf

    cfg = dict(vocab_size=len(wordpiece), hidden_size=64, intermediate_size=96, num_hidden_layers=2,
               num_attention_heads=4, max_position_embeddings=128)
    torch.manual_seed(0)
    reg = iw.Model(tf.BertForSequenceClassification(tf.BertConfig(num_labels=1, **cfg)).eval(), wordpiece)
    with pytest.raises(ValueError, match="regression"):
        iw.attribute(reg, TEXT, method="saliency", score="logprob")
    a = iw.attribute(reg, TEXT, method="saliency")  # its one output
    with torch.no_grad():
        assert float(a.target_value[0]) == pytest.approx(float(reg.hf(input_ids=reg.to_tokens(TEXT)).logits[0, 0]), rel=1e-5)
    multi = iw.Model(tf.BertForSequenceClassification(tf.BertConfig(
        num_labels=3, problem_type="multi_label_classification", **cfg)).eval(), wordpiece)
    a = iw.attribute(multi, TEXT, target=np.int64(1), method="saliency", score="logprob")
    with torch.no_grad():
        z = multi.hf(input_ids=multi.to_tokens(TEXT)).logits[0, 1]
    assert float(a.target_value[0]) == pytest.approx(float(torch.nn.functional.logsigmoid(z)), rel=1e-5)
    with pytest.raises(ValueError, match="empty list"):
        iw.attribute(multi, TEXT, target=[], method="saliency")


def test_other_bert_heads_are_not_taken_for_a_vocabulary(wordpiece):
    import transformers as tf

    cfg = tf.BertConfig(vocab_size=len(wordpiece), hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                        num_attention_heads=4, max_position_embeddings=128)
    nsp = iw.Model(tf.BertForNextSentencePrediction(cfg).eval(), wordpiece)  # cls: a 2-way head
    assert not nsp.is_masked_lm and not nsp.is_classifier
    with pytest.raises(ValueError, match="without a language-model head"):
        iw.logit_lens(nsp, TEXT)
    dec = tf.BertConfig(vocab_size=len(wordpiece), hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                        num_attention_heads=4, is_decoder=True)
    with pytest.raises(ValueError, match="decoder"):
        iw.Model(tf.BertLMHeadModel(dec).eval(), wordpiece)


def test_ablation_compares_the_class_distribution(clf):
    from test_masked_lm import _zero_head_by_weights

    ids = clf.to_tokens(TEXT)
    r = iw.ablate(clf, TEXT, heads=[(1, 3)])
    assert r.readout == "class" and len(r.top_before) == 3
    assert {t for t, _ in r.top_before} == set(clf.labels)
    with torch.no_grad():
        before = clf.hf(input_ids=ids).logits[0].softmax(-1)
        after = _zero_head_by_weights(clf.hf, 1, 3, clf.n_heads)(input_ids=ids).logits[0].softmax(-1)
    got = {t: (b, a) for t, b, a in r.table}
    for i, name in enumerate(clf.labels):
        assert got[name][0] == pytest.approx(float(before[i]), rel=1e-4)
        assert got[name][1] == pytest.approx(float(after[i]), rel=1e-4)
    assert iw.attention(clf, TEXT, detectors=False).show().ablation_readout == "class"


def test_patching_a_classifier(clf):
    from test_masked_lm import _hand_patch

    clean, corrupt = TEXT, TEXT.replace("quick", "lazy")
    ids_c, ids_x = clf.to_tokens(clean), clf.to_tokens(corrupt)
    assert ids_c.shape == ids_x.shape
    r = iw.patch(clf, clean, corrupt, ("POSITIVE", "NEGATIVE"), progress=False)
    assert r.readout == "class" and r.metric == "logit(POSITIVE) - logit(NEGATIVE)"
    read = lambda lg: lg[0, 1] - lg[0, 0]  # noqa: E731
    with torch.no_grad():
        m_clean, m_corrupt = float(read(clf.hf(input_ids=ids_c).logits)), float(read(clf.hf(input_ids=ids_x).logits))
    base = getattr(clf.hf, clf.hf.base_model_prefix)
    layers = base.transformer.layer if clf.config.model_type == "distilbert" else base.encoder.layer
    p = ids_c[0].tolist().index(clf.token_id("quick"))
    for layer in range(clf.n_layers):
        m = _hand_patch(clf.hf, layers, ids_c, ids_x, layer, p, read)  # compared as raw metrics
        assert r.values[layer, p] * (m_clean - m_corrupt) + m_corrupt == pytest.approx(m, abs=1e-4)
    every = iw.patch(clf, clean, corrupt, 1, positions="all", progress=False)  # every position at layer 0: clean
    assert every.values[0] == pytest.approx(1.0, abs=1e-4)
    v = r.show()
    v.selected_cell = [1, p, -1]
    assert not v.error and sorted(v.top_tokens) == sorted(clf.labels)


def test_patching_regression_heads_and_bad_positions(wordpiece):
    import transformers as tf

    torch.manual_seed(0)
    cfg = dict(vocab_size=len(wordpiece), hidden_size=64, intermediate_size=96, num_hidden_layers=2,
               num_attention_heads=4, max_position_embeddings=128)
    reg = iw.Model(tf.BertForSequenceClassification(tf.BertConfig(num_labels=1, **cfg)).eval(), wordpiece)
    clean, corrupt = TEXT, TEXT.replace("quick", "lazy")
    r = iw.patch(reg, clean, corrupt, 0, progress=False)  # the metric: its one output
    assert np.isfinite(r.values).all()
    v = r.show()
    v.selected_cell = [0, 2, -1]  # no class distribution to list: said in the view
    assert "regression or multi-label" in v.error
    v.ablated_heads = [[0, 1]]
    assert v.ablated_heads == [] and "no distribution to compare" in v.ablation_error
    mlm = iw.Model(tf.BertForMaskedLM(tf.BertConfig(**cfg)).eval(), wordpiece)
    for bad in (2.0, True, "2"):
        with pytest.raises(ValueError, match="position must be"):
            iw.ablate(mlm, "the [MASK] fox.", heads=[(0, 0)], position=bad)
        with pytest.raises(ValueError, match="position must be"):
            iw.patch(mlm, "the [MASK] fox.", "the [MASK] dog.", "quick", position=bad, progress=False)
    assert iw.ablate(mlm, "the [MASK] fox.", heads=[(0, 0)], position=np.int64(1)).readout.endswith("#1")


def test_electra_masked_lm_head(wordpiece):
    import transformers as tf

    torch.manual_seed(0)
    hf = tf.ElectraForMaskedLM(tf.ElectraConfig(vocab_size=len(wordpiece), embedding_size=32, hidden_size=64,
                                                intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                                                max_position_embeddings=128)).eval()
    m = iw.Model(hf, wordpiece)
    assert m.is_masked_lm
    ids = m.to_tokens("the quick brown [MASK] jumps.")
    with torch.no_grad():
        torch.testing.assert_close(m.logits_from_hidden(m.forward_hidden(input_ids=ids)), hf(input_ids=ids).logits)
    a = iw.attribute(m, "the quick brown [MASK] jumps.", method="input_x_gradient")
    assert a.target_positions == [int((ids[0] == m.mask_token_id).nonzero()[0, 0])]


def test_ablation_of_a_sentence_pair(clf):
    """An NLI-style pair: heads off change the class distribution of the pair as the model
    reads it (segment ids), also from the attention view of the pair."""
    from test_masked_lm import _zero_head_by_weights

    enc = clf.tokenizer(*PAIR, return_tensors="pt")
    kw = _segments(clf, enc)
    r = iw.ablate(clf, PAIR[0], heads=[(1, 3)], text_pair=PAIR[1])
    with torch.no_grad():
        before = clf.hf(input_ids=enc.input_ids, **kw).logits[0].softmax(-1)
        after = _zero_head_by_weights(clf.hf, 1, 3, clf.n_heads)(input_ids=enc.input_ids, **kw).logits[0].softmax(-1)
    got = {t: (b, a) for t, b, a in r.table}
    for i, name in enumerate(clf.labels):
        assert got[name] == pytest.approx((float(before[i]), float(after[i])), rel=1e-4)
    assert np.isfinite(iw.ablate(clf, PAIR[0], heads=[(0, 1)], text_pair=PAIR[1], mode="mean").kl)
    v = iw.attention(clf, PAIR[0], PAIR[1], detectors=False).show()
    assert v.can_ablate and v.ablation_readout == "class"
    v.ablate([(1, 3)])
    assert not v.ablation_error and v.ablation["kl"] == pytest.approx(r.kl, rel=1e-5)
