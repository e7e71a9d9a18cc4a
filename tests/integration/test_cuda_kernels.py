"""Every kernel on a CUDA GPU agrees with the CPU (skipped where there is no GPU)."""

import numpy as np
import pytest
import torch

import interp_widgets as iw

pytestmark = [pytest.mark.integration, pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")]

IOI = "When Mary and John went to the store, John gave a drink to"
IOI_X = "When John and Mary went to the store, Mary gave a drink to"


@pytest.fixture(scope="module")
def gpu():
    return iw.load_model(device="cuda")


@pytest.fixture(scope="module")
def cpu():
    return iw.load_model(device="cpu")  # not the smollm2 fixture: "auto" picks the GPU there


def test_logit_lens_on_cuda(gpu, cpu):
    a = iw.logit_lens(gpu, "The Eiffel Tower is located in the city of", track=" Paris")
    b = iw.logit_lens(cpu, "The Eiffel Tower is located in the city of", track=" Paris")
    assert a.top_tokens()[-1] == " Paris"
    np.testing.assert_allclose(a.top_probs[:, :, 0], b.top_probs[:, :, 0], atol=2e-3)
    assert (a.tracked[0].rank[-3:, -1] == 0).all()


def test_dla_on_cuda(gpu, cpu):
    a = iw.direct_logit_attribution(gpu, IOI, target=(" Mary", " John"))
    b = iw.direct_logit_attribution(cpu, IOI, target=(" Mary", " John"))
    assert abs(a.total - a.logit) < 1e-3 * max(1, abs(a.logit))
    np.testing.assert_allclose(a.heads, b.heads, atol=5e-3)


def test_patching_on_cuda(gpu, cpu):
    a = iw.patch(gpu, IOI, IOI_X, (" Mary", " John"), progress=False)
    b = iw.patch(cpu, IOI, IOI_X, (" Mary", " John"), progress=False)
    np.testing.assert_allclose(a.values, b.values, atol=2e-3)
    ap = iw.patch(gpu, IOI, IOI_X, (" Mary", " John"), method="attribution", progress=False)
    assert np.isfinite(ap.values).all()


def test_ablation_on_cuda(gpu, cpu):
    a = iw.ablate(gpu, IOI, heads=[(23, 3), (29, 1)])
    b = iw.ablate(cpu, IOI, heads=[(23, 3), (29, 1)])
    assert a.top_after[0][0] == b.top_after[0][0]
    assert a.kl == pytest.approx(b.kl, rel=0.05, abs=1e-3)


def test_neuron_and_cache_on_cuda(gpu, cpu):
    texts = [IOI, "The result is the closest match.", "def f(x):\n    return x"]
    a = iw.neuron(gpu, texts, layer=9, index=720, progress=False)
    b = iw.neuron(cpu, texts, layer=9, index=720, progress=False)
    for x, y in zip(a.texts_activations, b.texts_activations):
        np.testing.assert_allclose(x, y, atol=2e-3)
    np.testing.assert_allclose([e.activation for e in a.examples], [e.activation for e in b.examples], atol=2e-3)


HAPPY = ["I love this, it makes me so happy.", "What a wonderful, joyful day!", "She smiled with delight."]
SAD = ["I hate this, it makes me so sad.", "What a terrible, miserable day.", "She cried with grief."]


def test_steering_and_generation_on_cuda(gpu, cpu):
    va = iw.steering_vector(gpu, HAPPY, SAD, layer=15)
    vb = iw.steering_vector(cpu, HAPPY, SAD, layer=15)
    np.testing.assert_allclose(va.vector, vb.vector, atol=2e-3)
    a = iw.steered_logits(gpu, "Today I feel", va, coefficient=4)
    b = iw.steered_logits(cpu, "Today I feel", vb, coefficient=4)
    assert a.device.type == "cuda"
    torch.testing.assert_close(a.cpu(), b, atol=2e-2, rtol=1e-3)
    # greedy text with the key/value cache on the GPU is the CPU's, token for token
    assert list(iw.generate(gpu, "The Eiffel Tower is located in", 6)) == \
        list(iw.generate(cpu, "The Eiffel Tower is located in", 6))


def test_probe_on_cuda(gpu, cpu):
    texts = ["Seven plus five equals twelve.", "She counted to one hundred.", "The answer is forty two.",
             "Multiply three by nine.", "The cat slept on the sofa.", "A dog barked at the mailman.",
             "Elephants live in large herds.", "The horse ran across the field."]
    labels = ["numbers"] * 4 + ["animals"] * 4
    a = iw.probe(gpu, texts, labels, layers=[5, 20], progress=False)
    b = iw.probe(cpu, texts, labels, layers=[5, 20], progress=False)
    np.testing.assert_allclose(a.train_accuracy, b.train_accuracy)
    pa = iw.probe_predictions(gpu, a, "Nine squared is eighty one.", layer=20)
    pb = iw.probe_predictions(cpu, b, "Nine squared is eighty one.", layer=20)
    np.testing.assert_allclose(pa, pb, atol=2e-2)


def test_sae_on_cuda(gpu, cpu):
    texts = iw.stdlib_docstrings()[2000:2016]
    sae = iw.load_sae()
    a = iw.sae_features(gpu, iw.load_sae(device="cuda"), texts, k=5, max_len=64, progress=False)
    b = iw.sae_features(cpu, sae, texts, k=5, max_len=64, progress=False)
    np.testing.assert_allclose(a.max_act, b.max_act, atol=5e-2, rtol=1e-2)
    ta, xa = iw.feature_activations(gpu, iw.load_sae(device="cuda"), IOI)
    tb, xb = iw.feature_activations(cpu, sae, IOI)
    assert ta == tb
    np.testing.assert_allclose(xa, xb, atol=5e-2)
    # a short TopK training run on the GPU keeps its sparsity and learns something
    trained, report = iw.train_sae(gpu, "blocks.4.hook_resid_post", texts, n_features=256, k=8, steps=50,
                                   batch_size=256, eval_texts=2, progress=False)
    assert trained.W_enc.device.type == "cuda"
    assert report.l0 == pytest.approx(8) and report.explained_variance > 0.2


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_on_cuda(cpu, dtype):
    """The models users run on a GPU are often half precision: the kernels stay finite, keep
    their own checks, and agree with float32 within the dtype's rounding."""
    half = iw.load_model(device="cuda", dtype=dtype)
    dla = iw.direct_logit_attribution(half, IOI, target=(" Mary", " John"))
    ref = iw.direct_logit_attribution(cpu, IOI, target=(" Mary", " John"))
    assert abs(dla.logit - ref.logit) < 0.5
    assert np.isfinite(dla.heads).all()
    lens = iw.logit_lens(half, "The Eiffel Tower is located in the city of", track=" Paris")
    assert lens.top_tokens()[-1] == " Paris"
    c = iw.run_with_cache(half, IOI, names=["ln_final.hook_normalized", "ln_final.hook_out"])
    r = iw.run_with_cache(cpu, IOI, names=["ln_final.hook_normalized", "ln_final.hook_out"])
    for name in ("ln_final.hook_normalized", "ln_final.hook_out"):
        assert c[name].dtype == dtype
        x, y = c[name].float().cpu()[0], r[name][0]
        assert float(((x - y).norm(dim=-1) / y.norm(dim=-1)).max()) < 0.15  # per position (bf16 on CPU: 0.07)
    ixg = iw.attribute(half, IOI, target=" Mary", method="input_x_gradient")
    assert np.isfinite(ixg.scores).all()
    fp32 = iw.attribute(cpu, IOI, target=" Mary", method="input_x_gradient")
    # measured on an H100 (scores span -1.1 to 1.0): float16 within 0.033 of float32 (r = 0.9999),
    # bfloat16 within 0.25 (r = 0.992; 0.067 on the CPU)
    np.testing.assert_allclose(ixg.scores, fp32.scores, atol=0.1 if dtype == torch.float16 else 0.4)
    assert np.corrcoef(ixg.scores, fp32.scores)[0, 1] > 0.98


def test_cpu_sae_and_cpu_ids_with_a_gpu_model(gpu):
    """Mixed devices as users have them: a GPU model's cache through an SAE loaded on the CPU
    (the default), and token ids made on the CPU, just work."""
    cache = iw.run_with_cache(gpu, IOI, names="blocks.8.hook_resid_post", keep_logits=False)
    x = cache["blocks.8.hook_resid_post"][0]
    sae = iw.load_sae()
    assert sae(x).device == x.device and sae.encode(x).device.type == "cpu"
    ids = gpu.tokenizer(IOI, return_tensors="pt").input_ids  # on the CPU
    assert gpu(ids).device.type == "cuda"


def test_encoder_heads_on_cuda():
    """A masked LM's [MASK] attribution, a classifier's class of a sentence pair (segment ids
    on the GPU), the MLM logit lens, patching and ablation agree with the CPU (tiny random
    BERT models)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
    from test_classifier import _build as build_clf
    from test_masked_lm import TEXT, _build as build_mlm
    from tiny_models import make_tiny_wordpiece

    tok = make_tiny_wordpiece()
    for make, kw in ((lambda: build_mlm("bert", tok), {}),
                     (lambda: build_clf("bert", tok), {"target": "POSITIVE", "text_pair": "one, two, three."})):
        cpu_m, gpu_m = iw.Model(make(), tok), iw.Model(make().to("cuda"), tok)
        a = iw.attribute(gpu_m, TEXT, progress=False, **kw)
        b = iw.attribute(cpu_m, TEXT, progress=False, **kw)
        assert a.target == b.target and a.target_positions == b.target_positions
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-3 * np.abs(b.scores).max())
        assert abs(a.delta[0]) <= 0.05 * abs(float(a.target_value[0] - a.baseline_value[0])) + 0.02
        if gpu_m.is_masked_lm:
            la, lb = iw.logit_lens(gpu_m, TEXT), iw.logit_lens(cpu_m, TEXT)
            np.testing.assert_array_equal(la.top_ids[:, :, 0], lb.top_ids[:, :, 0])
        # patching (every position recomputed) and ablation read the same outputs on both
        metric = ("paris", "france") if gpu_m.is_masked_lm else ("POSITIVE", "NEGATIVE")
        corrupt = TEXT.replace("tower", "city")
        pa, pb = (iw.patch(m, TEXT, corrupt, metric, progress=False) for m in (gpu_m, cpu_m))
        np.testing.assert_allclose(pa.values, pb.values, atol=2e-3)
        aa, ab = (iw.ablate(m, TEXT, heads=[(1, 2)]) for m in (gpu_m, cpu_m))
        assert aa.readout == ab.readout and aa.kl == pytest.approx(ab.kl, rel=1e-2, abs=1e-5)


@pytest.mark.parametrize("kind", ["gpt_neo", "opt", "phi", "gptj", "olmo2", "gpt_bigcode", "starcoder2"])
def test_more_causal_families_on_cuda(kind):
    """GPT-Neo and GPT-J (their own attention with the pattern hook), OPT (flattened MLP
    positions), Phi (parallel blocks), OLMo 2 (norms on the outputs), GPT-BigCode
    (multi-query) and StarCoder 2 on the GPU agree with the CPU: attribution, patterns,
    patching."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tiny_models import build_tiny, make_tiny_tokenizer

    tok = make_tiny_tokenizer()
    cpu_m = build_tiny(kind, tok)
    gpu_m = iw.Model(build_tiny(kind, tok).hf.to("cuda"), tok)
    text, corrupt = "When Mary and John went to the store, John gave", "When Mary and John went to the store, Mary gave"
    a, b = (iw.attribute(m, text, target=" a", progress=False) for m in (gpu_m, cpu_m))
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-3 * np.abs(b.scores).max())
    pa, pb = (iw.attention(m, text).patterns for m in (gpu_m, cpu_m))
    np.testing.assert_allclose(pa, pb, atol=1e-4)
    ca, cb = (iw.run_with_cache(m, text, names="blocks.1.mlp.hook_post")["blocks.1.mlp.hook_post"] for m in (gpu_m, cpu_m))
    assert ca.shape == cb.shape and ca.shape[:2] == (1, len(gpu_m.to_str_tokens(text)))
    np.testing.assert_allclose(ca.float().cpu().numpy(), cb.float().cpu().numpy(), atol=1e-4)
    qa, qb = (iw.patch(m, text, corrupt, (" Mary", " John"), progress=False) for m in (gpu_m, cpu_m))
    np.testing.assert_allclose(qa.values, qb.values, atol=2e-3)
