"""The real embedded default model: SmolLM2-135M-Instruct (Llama architecture)."""

import numpy as np
import pytest
import torch

import interp_widgets as iw

pytestmark = pytest.mark.integration

EIFFEL = "The Eiffel Tower is located in the city of"
PROMPTS = [
    (EIFFEL, " Paris"),
    ("When Mary and John went to the store, John gave a drink to", None),
    ("The capital of Germany is the city of", None),
]


def test_default_model_facts(smollm2):
    m = smollm2
    assert m.family.name == "llama" and m.n_layers == 30 and m.n_heads == 9 and m.d_model == 576
    a = iw.attribute(m, EIFFEL, method="saliency")
    assert "".join(a.tokens[a.prompt_len:]).startswith(" Paris, France.")
    assert a.target == "' Paris'"


@pytest.mark.parametrize("prompt,target", PROMPTS)
def test_ig_completeness_within_tolerance(smollm2, prompt, target):
    a = iw.attribute(smollm2, prompt, target=target)  # defaults: adaptive, tolerance 5%
    span = abs(float(a.target_value[0] - a.baseline_value[0]))
    assert abs(float(a.scores.sum()) - float(a.target_value[0] - a.baseline_value[0])) <= 0.05 * span + 0.02
    assert abs(a.delta[0]) <= 0.05 * span + 0.02
    assert a.n_evals <= 1024 and a.scores[0] == 0.0


def test_ig_jagged_baseline_is_guarded(smollm2):
    """Token id 0 everywhere makes the path cross a jump of the target logit; the adaptive
    integrator either meets the tolerance or warns, never silently returns a broken result."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        a = iw.attribute(smollm2, EIFFEL, target=" Paris", baseline=0, keep_first=False, max_evals=300)
    span = abs(float(a.target_value[0] - a.baseline_value[0]))
    converged = abs(a.delta[0]) <= 0.05 * span + 0.02
    warned = any(issubclass(w.category, iw.kernels.attribution.IGConvergenceWarning) for w in caught)
    assert converged or warned
    assert not (converged and warned)


def test_input_x_gradient_matches_autograd(smollm2):
    m = smollm2
    ids = m.to_tokens(EIFFEL)
    tok = m.token_id(" Paris")
    x = m.embed(ids).detach().requires_grad_(True)
    logit = m.hf(inputs_embeds=x).logits[0, -1, tok]
    (g,) = torch.autograd.grad(logit, x)
    a = iw.attribute(m, EIFFEL, target=" Paris", method="input_x_gradient")
    np.testing.assert_allclose(a.scores, (x * g).sum(-1)[0].detach().cpu().numpy(), rtol=1e-3, atol=1e-4)


def test_patterns_match_hf_eager(smollm2):
    m = smollm2
    ids = m.to_tokens(EIFFEL)
    got = {}
    with m.hooks([(f"blocks.{layer}.attn.hook_pattern", lambda t, n: got.__setitem__(n, t.detach()))
                  for layer in (0, 15, 29)]):
        m(ids)
    impl = m.config._attn_implementation
    try:
        m.config._attn_implementation = "eager"
        ref = m.hf(ids, output_attentions=True).attentions
    finally:
        m.config._attn_implementation = impl
    for layer in (0, 15, 29):
        torch.testing.assert_close(got[f"blocks.{layer}.attn.hook_pattern"], ref[layer], atol=1e-5, rtol=1e-4)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_attribution_on_cuda():
    gpu = iw.load_model(device="cuda")
    cpu = iw.load_model(device="cpu")
    assert gpu.device.type == "cuda"
    a = iw.attribute(gpu, EIFFEL, target=" Paris", method="input_x_gradient")
    b = iw.attribute(cpu, EIFFEL, target=" Paris", method="input_x_gradient")
    np.testing.assert_allclose(a.scores, b.scores, rtol=2e-2, atol=2e-2)
    ig = iw.attribute(gpu, EIFFEL, target=" Paris")
    span = abs(float(ig.target_value[0] - ig.baseline_value[0]))
    assert abs(ig.delta[0]) <= 0.05 * span + 0.02


def test_ig_half_precision_stops_at_the_rounding_floor():
    """In bfloat16 F itself is rounded (~0.06 apart near 14), so interval errors below a few
    ulps cannot be refined away: IG must stop there with a warning that names the dtype,
    not spend its whole budget (it used to take 1,017 evaluations and still miss)."""
    m = iw.load_model(device="cpu", dtype=torch.bfloat16)
    with pytest.warns(iw.IGConvergenceWarning, match="bfloat16") as rec:
        a = iw.attribute(m, EIFFEL, target=" Paris", progress=False)
    assert a.n_evals < 200, a.n_evals
    assert len(rec) == 1
    # still an honest answer: the reported delta is the real completeness error
    span = float(a.target_value[0] - a.baseline_value[0])
    assert abs(float(a.scores.sum()) - span - a.delta[0]) < 1e-2
    # How far it misses depends on the platform's bfloat16 kernels: |delta| 0.21 of a 2.06 span
    # on this CI's CPU (torch 2.13), 2.0 on a 16-core machine with torch 2.11. The warning
    # (asserted above) is what tells the user; its numbers are the real error.
    assert f"{a.delta[0]:.3g}" in str(rec[0].message)


@pytest.mark.parametrize("text", ["Café ☕ in München", "日本語のテキスト", "emoji 🎉🎉 end", "שלום עולם"])
def test_str_tokens_of_characters_split_across_tokens(smollm2, text):
    """Byte-level BPE splits these characters' UTF-8 bytes across tokens: every token still
    shows something (no blank chip, no bare U+FFFD), the completing token shows the whole
    character, the others their bytes as \\xNN, and without those the join is the text."""
    import re

    ids = smollm2.to_tokens(text)[0]
    pieces = smollm2.to_str_tokens(ids)
    assert len(pieces) == len(ids)
    assert all(p != "" and "\ufffd" not in p for p in pieces), pieces
    assert re.sub(r"\\x[0-9a-f]{2}", "", "".join(pieces)) == text
    assert any(re.search(r"\\x[0-9a-f]{2}", p) for p in pieces)  # the text does split characters here
    # a partial token shows its own bytes: ' \xe2' for the token 'Ġâ' of ' ☕'
    if text.startswith("Café"):
        assert pieces[3:6] == [" \\xe2", "\\x98", "☕"]
