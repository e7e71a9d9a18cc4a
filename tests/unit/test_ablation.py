"""iw.ablate: zero and mean ablation of heads and neurons, against hand-written hooks."""

import pytest
import torch

import interp_widgets as iw
from tiny_models import build_tiny, our_hooks

TEXT = "When Mary and John went to the store, John gave a drink to"


@pytest.fixture(scope="module")
def llama(tiny_tokenizer):
    return build_tiny("llama", tiny_tokenizer)


def _probs_with(m, hook_module, fn):
    ids = m.to_tokens(TEXT)
    h = hook_module.register_forward_pre_hook(fn)
    try:
        with torch.no_grad():
            return torch.softmax(m.hf(ids).logits[0, -1].float(), -1)
    finally:
        h.remove()


def test_zero_head_matches_a_hand_hook(llama):
    m = llama
    r = iw.ablate(m, TEXT, heads=[(1, 2)])
    dh = m.d_model // m.n_heads
    o_proj = m.hf.model.layers[1].self_attn.o_proj

    def zero_head(mod, args):
        z = args[0].clone()
        z[..., 2 * dh:3 * dh] = 0
        return (z,)
    p = _probs_with(m, o_proj, zero_head)
    top = p.topk(3)
    for (tok, prob), want in zip(r.top_after[:3], top.values):
        assert prob == pytest.approx(float(want), rel=1e-4)
    assert r.kl > 0 and r.heads == [(1, 2)]
    assert not our_hooks(m)


def test_mean_neuron_matches_a_hand_hook(llama):
    m = llama
    r = iw.ablate(m, TEXT, neurons=[(0, 5), (0, 7)], mode="mean")
    down = m.hf.model.layers[0].mlp.down_proj
    acts = {}
    h = down.register_forward_pre_hook(lambda mod, args: acts.__setitem__("x", args[0].clone()))
    with torch.no_grad():
        m.hf(m.to_tokens(TEXT))
    h.remove()
    mean = acts["x"][0].mean(0)

    def fix(mod, args):
        x = args[0].clone()
        x[..., [5, 7]] = mean[[5, 7]]
        return (x,)
    p = _probs_with(m, down, fix)
    assert r.top_after[0][1] == pytest.approx(float(p.max()), rel=1e-4)


def test_bad_input(llama, tiny_tokenizer):
    with pytest.raises(ValueError, match="nothing to ablate"):
        iw.ablate(llama, TEXT)
    with pytest.raises(ValueError, match="out of range"):
        iw.ablate(llama, TEXT, heads=[(0, 99)])
    with pytest.raises(ValueError, match="out of range"):
        iw.ablate(llama, TEXT, heads=[(9, 0)])
    with pytest.raises(ValueError, match="pairs"):
        iw.ablate(llama, TEXT, heads=[3])
    with pytest.raises(ValueError, match="mode"):
        iw.ablate(llama, TEXT, heads=[(0, 0)], mode="resample")
