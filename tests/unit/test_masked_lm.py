"""Masked language models (BERT/RoBERTa with their MLM head): the head's logits, attribution
of a [MASK] prediction, and load_model keeping the head."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import interp_widgets as iw
from interp_widgets.kernels.attribution import baseline_token

TEXT = "the eiffel tower is located in the city of [MASK], france."


@pytest.fixture(scope="module")
def wordpiece():
    from tiny_models import make_tiny_wordpiece

    return make_tiny_wordpiece()


def _build(kind: str, tok, head: bool = True):
    from transformers import (BertConfig, BertForMaskedLM, BertModel, RobertaConfig,
                              RobertaForMaskedLM, XLMRobertaConfig, XLMRobertaForMaskedLM)

    torch.manual_seed(0)
    common = dict(vocab_size=len(tok), hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                  num_attention_heads=4, pad_token_id=tok.pad_token_id)
    if kind == "bert":
        hf = (BertForMaskedLM if head else BertModel)(BertConfig(max_position_embeddings=128, **common))
    elif kind == "roberta":
        hf = RobertaForMaskedLM(RobertaConfig(max_position_embeddings=130, **common))
    else:
        hf = XLMRobertaForMaskedLM(XLMRobertaConfig(max_position_embeddings=130, **common))
    with torch.no_grad():
        for p in hf.parameters():
            if p.dim() == 2:
                p.mul_(3.0)
    return hf.eval()


@pytest.fixture(scope="module", params=["bert", "roberta", "xlm-roberta"])
def mlm(request, wordpiece):
    return iw.Model(_build(request.param, wordpiece), wordpiece, name=f"tiny-{request.param}-mlm")


def _mask_index(m, ids) -> int:
    return int((ids[0] == m.mask_token_id).nonzero()[0, 0])


def test_head_logits_equal_hf(mlm):
    assert mlm.is_masked_lm and mlm.has_logits and not mlm.is_causal
    assert mlm.unembed is None  # no linear unembedding: DLA and the lens keep refusing encoders
    ids = mlm.to_tokens(TEXT)
    with torch.no_grad():
        ours = mlm.logits_from_hidden(mlm.forward_hidden(input_ids=ids))
        ref = mlm.hf(input_ids=ids).logits
    torch.testing.assert_close(ours, ref)


def test_bare_encoder_has_no_logits(wordpiece):
    m = iw.Model(_build("bert", wordpiece, head=False), wordpiece)
    assert not m.is_masked_lm and not m.has_logits
    with pytest.raises(ValueError, match="without a language-model head"):
        m.logits_from_hidden(torch.zeros(1, 2, m.d_model))
    with pytest.raises(ValueError, match="callable on its final hidden states"):
        iw.attribute(m, TEXT, method="saliency")


def test_default_target_is_the_top_prediction_at_the_mask(mlm):
    ids = mlm.to_tokens(TEXT)
    k = _mask_index(mlm, ids)
    with torch.no_grad():
        top = int(mlm.hf(input_ids=ids).logits[0, k].argmax())
    a = iw.attribute(mlm, TEXT, method="integrated_gradients", n_steps=64, progress=False)
    assert a.target == repr(mlm.to_str_tokens([top])[0])
    assert a.target_positions == [k] and a.causal is False
    assert a.tokens[k] == mlm.tokenizer.mask_token
    # completeness on the tiny model, and every token is an input: the ones after the mask
    # (", france .") and the mask itself score too. 0: the kept first token ([CLS]) and the
    # closing [SEP], equal to the baseline's [SEP] (no path to integrate)
    span = float(a.target_value[0] - a.baseline_value[0])
    assert abs(a.delta[0]) <= 0.01 * abs(span) + 1e-3
    assert np.all(a.scores[1:-1] != 0) and a.scores[0] == 0 and a.scores[-1] == 0
    w = a.show()
    assert w.causal is False and w.target_position == k


def test_input_x_gradient_equals_autograd_through_hf(mlm):
    ids = mlm.to_tokens(TEXT)
    k = _mask_index(mlm, ids)
    tok = mlm.token_id("paris")
    emb = mlm.embed(ids).detach().requires_grad_(True)
    out = mlm.hf(inputs_embeds=emb).logits[0, k, tok]
    (g,) = torch.autograd.grad(out, emb)
    ref = (g * emb)[0].sum(-1).detach().numpy()
    a = iw.attribute(mlm, TEXT, target="paris", method="input_x_gradient")
    np.testing.assert_allclose(a.scores, ref, rtol=1e-4, atol=1e-5)
    assert a.target == "'paris'"
    assert float(a.target_value[0]) == pytest.approx(out.item(), rel=1e-5)


def test_occlusion_equals_explicit_reruns(mlm):
    ids = mlm.to_tokens(TEXT)
    k = _mask_index(mlm, ids)
    tok = mlm.token_id("paris")
    base = mlm.embed(torch.tensor([[baseline_token(mlm, "eos")]]))[0, 0].detach()
    emb = mlm.embed(ids)[0].detach()
    with torch.no_grad():
        f = lambda e: float(mlm.hf(inputs_embeds=e[None]).logits[0, k, tok])  # noqa: E731
        full = f(emb)
        ref = []
        for i in range(len(emb)):
            e = emb.clone()
            e[i] = base
            ref.append(full - f(e))
    a = iw.attribute(mlm, TEXT, target="paris", method="occlusion")
    np.testing.assert_allclose(a.scores, ref, rtol=1e-4, atol=1e-4)


def test_positions_targets_and_refusals(mlm):
    two = "the [MASK] tower is in the city of [MASK]."
    ids = mlm.to_tokens(two)
    masks = (ids[0] == mlm.mask_token_id).nonzero()[:, 0].tolist()
    a = iw.attribute(mlm, two, position="all", method="saliency")
    assert a.scores.shape == (2, ids.shape[1]) and a.target_positions == masks
    # position= any token: explain the model's reconstruction of "tower"
    p = ids[0].tolist().index(mlm.token_id("tower"))
    a = iw.attribute(mlm, two, target="tower", position=p, method="saliency", score="logprob")
    assert a.target_positions == [p] and a.target == "'tower'"
    # a logit difference, and a callable (which reads the hidden states, as on any encoder)
    a = iw.attribute(mlm, TEXT, target=[("paris", "france"), lambda h: h[:, 0].sum(-1)], method="saliency")
    assert a.target[0] == "'paris' − 'france'" and a.target_positions[1] == len(a.tokens)
    with pytest.raises(ValueError, match=r"mask token '\[MASK\]'|mask token '<mask>'"):
        iw.attribute(mlm, "the eiffel tower is in paris.", method="saliency")
    with pytest.raises(ValueError, match="continuation"):
        iw.attribute(mlm, TEXT, continuation=" paris", method="saliency")
    with pytest.raises(ValueError, match="out of range"):
        iw.attribute(mlm, TEXT, position=99, method="saliency")


def test_load_model_keeps_the_mlm_head(tmp_path, wordpiece):
    hf = _build("bert", wordpiece)
    hf.config.architectures = ["BertForMaskedLM"]
    hf.save_pretrained(tmp_path / "mlm")
    wordpiece.save_pretrained(tmp_path / "mlm")
    m = iw.load_model(str(tmp_path / "mlm"), device="cpu")
    assert m.is_masked_lm
    ids = m.to_tokens(TEXT)
    with torch.no_grad():
        torch.testing.assert_close(m.logits_from_hidden(m.forward_hidden(input_ids=ids)), hf(input_ids=ids).logits)
    bare = _build("bert", wordpiece, head=False)
    bare.config.architectures = ["BertModel"]
    bare.save_pretrained(tmp_path / "bare")
    wordpiece.save_pretrained(tmp_path / "bare")
    assert not iw.load_model(str(tmp_path / "bare"), device="cpu").is_masked_lm


def test_logit_lens_reads_block_outputs_through_the_mlm_head(mlm):
    """Row l + 1 is the MLM head applied to block l's output (HF's hidden_states[l + 1]); the
    last row is the model's own fill-in at every position."""
    ids = mlm.to_tokens(TEXT)
    k = _mask_index(mlm, ids)
    lens = iw.logit_lens(mlm, TEXT, k=5, track="paris")
    assert lens.predicts == "same" and lens.layers == ["embed", "0", "1"]
    with torch.no_grad():
        out = mlm.hf(input_ids=ids, output_hidden_states=True)
        head = mlm.hf.cls.predictions if hasattr(mlm.hf, "cls") else mlm.hf.lm_head
        for r, h in enumerate(out.hidden_states):
            logits = head(h)[0]
            np.testing.assert_array_equal(lens.top_ids[r, :, 0], logits.argmax(-1).numpy())
            probs = logits.softmax(-1)
            np.testing.assert_allclose(lens.top_probs[r, :, 0], probs.max(-1).values.numpy(), rtol=1e-4, atol=1e-6)
        final = out.logits[0, k]
    tid = mlm.token_id("paris")
    assert lens.tracked[0].rank[-1, k] == int((final > final[tid]).sum())
    w = lens.show()
    assert w.predicts == "same"
    bare = iw.Model(_build("bert", mlm.tokenizer, head=False), mlm.tokenizer)
    with pytest.raises(ValueError, match="without a language-model head"):
        iw.logit_lens(bare, TEXT)


def test_view_click_explains_the_prediction_at_any_token(mlm):
    """A click on a token of a masked LM's view explains the model's top prediction there; a
    method change afterwards keeps that position."""
    ids = mlm.to_tokens(TEXT)
    k = _mask_index(mlm, ids)
    w = iw.attribute(mlm, TEXT, target="paris", method="saliency").show()
    assert w.pick_any and w.interactive and w.target_position == k
    p = ids[0].tolist().index(mlm.token_id("tower"))
    w.target_position = p
    assert not w.error and w.attribution.target_positions == [p]
    with torch.no_grad():
        top = int(mlm.hf(input_ids=ids).logits[0, p].argmax())
    assert w.attribution.target == repr(mlm.to_str_tokens([top])[0])
    w.method = "input_x_gradient"
    assert w.attribution.method == "input_x_gradient" and w.attribution.target_positions == [p]
    w.target_position = 0  # [CLS]: a token too
    assert not w.error and w.attribution.target_positions == [0]
    # a causal LM's view keeps its prompt tokens unclickable (only a continuation's are)
    from tiny_models import build_tiny, make_tiny_tokenizer

    gpt2 = build_tiny("gpt2", make_tiny_tokenizer())
    v = iw.attribute(gpt2, "The Eiffel Tower is", method="saliency", continuation=2).show()
    assert v.causal and not v.pick_any
    before = list(v.attribution.target_positions)
    v.target_position = 1  # (the page never sends this): the same target is explained again
    assert v.attribution.target_positions == before


def test_view_of_every_mask_click_and_method_change(mlm):
    """With one row per mask, a click on the second mask explains that mask alone; a method
    change keeps every row (it used to fall back to recomputing all of them, or to one)."""
    two = "the [MASK] tower is in the city of [MASK]."
    w = iw.attribute(mlm, two, position="all", method="saliency").show()
    first, second = w.attribution.target_positions
    w.method = "input_x_gradient"
    assert w.attribution.target_positions == [first, second] and w.attribution.scores.shape[0] == 2
    w.target_position = second
    assert not w.error and w.attribution.target_positions == [second] and w.attribution.method == "input_x_gradient"


def test_tokenizer_without_a_mask_token(mlm):
    import copy

    tok = copy.deepcopy(mlm.tokenizer)
    tok.mask_token = None
    m = iw.Model(mlm.hf, tok)
    with pytest.raises(ValueError, match="has no mask token: give position="):
        iw.attribute(m, "the eiffel tower.", method="saliency")
    with pytest.raises(ValueError, match=r"not one; pick one token \(e\.g\. '[^']*'\)$"):
        iw.attribute(mlm, TEXT, target="eiffeltower", method="saliency")


def _zero_head_by_weights(hf, layer: int, head: int, n_heads: int):
    """A copy of ``hf`` whose head's columns of the attention output projection are zero:
    an independent way to switch the head off."""
    import copy

    edited = copy.deepcopy(hf)
    base = getattr(edited, edited.base_model_prefix)
    dense = (base.transformer.layer[layer].attention.out_lin if edited.config.model_type == "distilbert"
             else base.encoder.layer[layer].attention.output.dense)
    d = dense.weight.shape[1] // n_heads
    with torch.no_grad():
        dense.weight[:, head * d:(head + 1) * d] = 0
    return edited


def test_ablation_compares_the_distribution_at_the_mask(mlm):
    ids = mlm.to_tokens(TEXT)
    k = _mask_index(mlm, ids)
    r = iw.ablate(mlm, TEXT, heads=[(1, 2)], k=5)
    assert r.readout == f"token at {mlm.tokenizer.mask_token} #{k}"
    with torch.no_grad():
        before = mlm.hf(input_ids=ids).logits[0, k].softmax(-1)
        after = _zero_head_by_weights(mlm.hf, 1, 2, mlm.n_heads)(input_ids=ids).logits[0, k].softmax(-1)
    top = int(before.argmax())
    assert r.top_before[0][0] == mlm.to_str_tokens([top])[0] and r.top_before[0][1] == pytest.approx(float(before[top]), rel=1e-4)
    assert r.top_after[0][1] == pytest.approx(float(after.max()), rel=1e-4)
    assert r.kl == pytest.approx(float((before * (before.log() - after.log())).sum()), rel=1e-3, abs=1e-6)
    # position= another token; a text without a mask is refused
    assert iw.ablate(mlm, TEXT, heads=[(0, 0)], position=2).readout.endswith("#2")
    with pytest.raises(ValueError, match="put its mask token"):
        iw.ablate(mlm, "the eiffel tower.", heads=[(0, 0)])
    # the attention view: its panel compares the mask's distribution, and a toggle runs it
    v = iw.attention(mlm, TEXT, detectors=False).show()
    assert v.can_ablate and v.ablation_readout.endswith(f"#{k}")
    v.ablate([(1, 2)])
    assert not v.ablation_error and v.ablation["kl"] == pytest.approx(r.kl, rel=1e-5)
    assert not iw.attention(mlm, "the eiffel tower.", detectors=False).show().can_ablate


def _hand_patch(hf, layers, clean_ids, corrupt_ids, layer: int, pos: int, read):
    """The corrupted run with block ``layer``'s input at ``pos`` replaced by the clean run's
    (HF's hidden_states), by a plain forward pre-hook: ``read(logits)`` of that run."""
    with torch.no_grad():
        clean_h = hf(input_ids=clean_ids, output_hidden_states=True).hidden_states[layer]

        def pre(mod, args, kwargs):
            if args:
                h = args[0].clone()
                h[:, pos] = clean_h[:, pos]
                return (h,) + tuple(args[1:]), kwargs
            h = kwargs["hidden_states"].clone()
            h[:, pos] = clean_h[:, pos]
            return args, {**kwargs, "hidden_states": h}

        handle = layers[layer].register_forward_pre_hook(pre, with_kwargs=True)
        try:
            return float(read(hf(input_ids=corrupt_ids).logits))
        finally:
            handle.remove()


def test_patching_reads_the_mask_and_matches_a_hand_written_patch(mlm):
    clean, corrupt = TEXT, TEXT.replace("tower", "city")
    ids_c, ids_x = mlm.to_tokens(clean), mlm.to_tokens(corrupt)
    assert ids_c.shape == ids_x.shape
    k = _mask_index(mlm, ids_c)
    r = iw.patch(mlm, clean, corrupt, ("paris", "france"), progress=False)
    assert r.values.shape == (mlm.n_layers, ids_c.shape[1]) and r.readout == f"token at [MASK] #{k}"
    a, b = mlm.token_id("paris"), mlm.token_id("france")
    read = lambda lg: lg[0, k, a] - lg[0, k, b]  # noqa: E731
    with torch.no_grad():
        m_clean, m_corrupt = float(read(mlm.hf(input_ids=ids_c).logits)), float(read(mlm.hf(input_ids=ids_x).logits))
    assert r.clean_metric == pytest.approx(m_clean, rel=1e-4) and r.corrupted_metric == pytest.approx(m_corrupt, rel=1e-4)
    layers = getattr(mlm.hf, mlm.hf.base_model_prefix).encoder.layer
    p = ids_c[0].tolist().index(mlm.token_id("tower"))
    for layer in range(mlm.n_layers):
        for pos in (p, k, 1):  # the changed word, the mask, a word both share (no effect)
            m = _hand_patch(mlm.hf, layers, ids_c, ids_x, layer, pos, read)  # compared as raw metrics
            assert r.values[layer, pos] * (m_clean - m_corrupt) + m_corrupt == pytest.approx(m, abs=1e-4)
    # an encoder reads both ways: patching the changed word moves the mask's prediction at layer 0
    assert abs(r.values[0, p]) > 0.5
    # attribution patching and heads run on the same readout
    z = iw.patch(mlm, clean, corrupt, ("paris", "france"), site="z", progress=False)
    assert z.values.shape == (mlm.n_layers, mlm.n_heads, ids_c.shape[1]) and np.isfinite(z.values).all()
    ap = iw.patch(mlm, clean, corrupt, ("paris", "france"), method="attribution", progress=False)
    assert np.isfinite(ap.values).all()
    v = r.show()
    assert v.readout == f"token at [MASK] #{k}" and v.can_ablate
    v.selected_cell = [0, p, -1]
    assert not v.error and len(v.top_tokens) > 0
