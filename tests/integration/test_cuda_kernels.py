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
