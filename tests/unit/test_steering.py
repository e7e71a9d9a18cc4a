"""Steering vectors on a tiny model: the mean difference, the added hook, bad input."""

import numpy as np
import pytest
import torch

import interp_widgets as iw
from tiny_models import build_tiny, our_hooks

POS = ["The quick brown fox jumps.", "A lazy dog sleeps."]
NEG = ["One, two, three.", "Four, five, six, seven."]


@pytest.fixture(scope="module")
def llama(tiny_tokenizer):
    return build_tiny("llama", tiny_tokenizer)


def test_vector_is_the_difference_of_means(llama):
    m = llama
    v = iw.steering_vector(m, POS, NEG, layer=1)
    means = []
    for texts in (POS, NEG):
        # each text's mean over its tokens, the first (BOS / attention sink) left out
        rows = [iw.run_with_cache(m, t, names="blocks.1.hook_resid_post")["resid_post", 1][0, 1:].mean(0) for t in texts]
        means.append(torch.stack(rows).mean(0))
    np.testing.assert_allclose(v.vector, (means[0] - means[1]).numpy(), rtol=1e-5, atol=1e-5)
    assert v.layer == 1 and v.norm > 0


def test_steered_logits_add_the_vector(llama):
    m = llama
    v = iw.steering_vector(m, POS, NEG, layer=-1)
    ids = m.to_tokens("The fox")
    plain = m(ids)[0, -1]
    torch.testing.assert_close(iw.steered_logits(m, "The fox", v, coefficient=0.0), plain.float())
    h = m.family.layers(m.base)[-1].register_forward_hook(
        lambda mod, a, o: (o[0] + 2.5 * torch.tensor(v.vector),) + tuple(o[1:]) if isinstance(o, tuple)
        else o + 2.5 * torch.tensor(v.vector))
    try:
        with torch.no_grad():
            want = m.hf(ids).logits[0, -1]
    finally:
        h.remove()
    torch.testing.assert_close(iw.steered_logits(m, "The fox", v, coefficient=2.5), want.float(), rtol=1e-5, atol=1e-5)
    assert not our_hooks(m)


def test_generate_steps_and_bad_input(llama):
    m = llama
    v = iw.steering_vector(m, POS, NEG, layer=0)
    toks = list(iw.generate(m, "The fox", 4, vector=v, coefficient=1.0))
    assert 0 < len(toks) <= 4 and all(isinstance(t, str) for t in toks)
    assert list(iw.generate(m, "The fox", 3, temperature=1.0, seed=3)) == list(iw.generate(m, "The fox", 3, temperature=1.0, seed=3))
    with pytest.raises(ValueError, match="at least one"):
        iw.steering_vector(m, [], NEG, layer=0)
    with pytest.raises(ValueError, match="out of range"):
        iw.steering_vector(m, POS, NEG, layer=9)
    with pytest.raises(ValueError, match="finite"):
        iw.steered_logits(m, "The fox", v, coefficient=float("nan"))
    with pytest.raises(ValueError, match="NaN or inf"):
        iw.steered_logits(m, "The fox", np.full(m.d_model, np.inf), layer=0)
    with pytest.raises(ValueError, match="temperature"):
        list(iw.generate(m, "The fox", 2, temperature=-1))
    assert not our_hooks(m)


def test_generate_checks_arguments_at_the_call(llama):
    m = llama
    v = iw.steering_vector(m, POS, NEG, layer=0)
    for bad in (0, -3, True, 2.5):
        with pytest.raises(ValueError, match="max_new_tokens"):
            iw.generate(m, "The fox", bad)  # raised before iterating: nothing runs
    with pytest.raises(ValueError, match="temperature"):
        iw.generate(m, "The fox", 2, temperature=float("nan"))
    with pytest.raises(ValueError, match="finite"):
        iw.generate(m, "The fox", 2, vector=v, coefficient=float("inf"))
    with pytest.raises(ValueError, match="empty"):
        iw.generate(m, "", 2)
    it = iw.generate(m, "The fox", 5, vector=v, coefficient=2.0)
    assert isinstance(next(it), str)
    it.close()  # stopping early drops the cache and leaves no hook
    assert not our_hooks(m)
