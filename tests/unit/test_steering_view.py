"""SteeringPlayground on a tiny Llama: streamed tokens are generate()'s, Stop stops between
tokens and leaves no hook, bad input is an error (raised in Python, shown for the browser),
and SteeringVector.from_sae / from_probe give the right vectors."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

import interp_widgets as iw
from interp_widgets.kernels.steering import Generation, SteeringVector
from interp_widgets.results.probe import Probe
from interp_widgets.sae import SAE
from interp_widgets.views.steering import SteeringPlayground
from tiny_models import build_tiny, our_hooks

POS = ["The quick brown fox jumps.", "A lazy dog sleeps."]
NEG = ["One, two, three.", "Four, five, six, seven."]
PROMPT = "The fox"


@pytest.fixture(scope="module")
def llama(tiny_tokenizer):
    return build_tiny("llama", tiny_tokenizer)


@pytest.fixture(scope="module")
def vec(llama):
    return iw.steering_vector(llama, POS, NEG, layer=1)



# -- the kernel: KV cache -------------------------------------------------------------

@pytest.mark.parametrize("kind", ["llama", "gpt2"])
def test_kv_cache_matches_full_recompute(tiny_tokenizer, kind):
    m = build_tiny(kind, tiny_tokenizer)
    v = iw.steering_vector(m, POS, NEG, layer=1)
    for c in (0.0, 3.0):
        full = list(iw.generate(m, PROMPT, 16, vector=v, coefficient=c, use_cache=False))
        cached = list(iw.generate(m, PROMPT, 16, vector=v, coefficient=c, use_cache=True))
        assert cached == full and len(full) == 16, (kind, c)
    # steering changes the text (the comparison above is not vacuous)
    assert list(iw.generate(m, PROMPT, 16)) != list(iw.generate(m, PROMPT, 16, vector=v, coefficient=3.0))
    assert not our_hooks(m)


def test_generation_removes_hook_after_each_step(llama, vec):
    g = Generation(llama, PROMPT, vector=vec, coefficient=2.0)
    seen = []
    h = llama.base.register_forward_hook(lambda mod, a, o: seen.append(len(our_hooks(llama))))
    try:
        for _ in range(3):
            assert g.step() is not None
            assert not our_hooks(llama)  # nothing between steps
    finally:
        h.remove()
    assert seen and all(n > 0 for n in seen)  # ... but it was on during each forward


# -- the playground -------------------------------------------------------------------

def test_streamed_tokens_equal_generate(llama, vec):
    pg = SteeringPlayground(llama, vec, prompt=PROMPT, coefficient=3.0, max_tokens=12)
    assert pg.layer == 1 and pg.vector_norm == pytest.approx(vec.norm)
    seen_b, seen_s = [], []
    pg.observe(lambda ch: seen_b.append(len(ch.new)), names="baseline_tokens")
    pg.observe(lambda ch: seen_s.append(len(ch.new)), names="steered_tokens")
    base, steered = pg.run()
    want_b = list(iw.generate(llama, PROMPT, 12))
    want_s = list(iw.generate(llama, PROMPT, 12, vector=vec, coefficient=3.0))
    assert pg.baseline_tokens == want_b and pg.steered_tokens == want_s
    assert base == "".join(want_b) and steered == "".join(want_s)
    assert want_b != want_s
    # streamed one token at a time
    assert seen_b == list(range(1, len(want_b) + 1))
    assert seen_s == list(range(1, len(want_s) + 1))
    assert not pg.busy and pg.progress == 0 and pg.error == "" and not pg.stopped
    assert pg.generated_coefficient == 3.0 and pg.generation == 1
    d = pg.divergence
    assert d is not None and want_b[:d] == want_s[:d] and want_b[d] != want_s[d]
    assert not our_hooks(llama)

    # c = 0: both columns are the baseline; a sampled run matches generate's sampling
    pg.run(coefficient=0.0)
    assert pg.steered_tokens == pg.baseline_tokens == want_b and pg.divergence is None
    pg.run(coefficient=2.0, greedy=False, temperature=0.8, seed=5, max_tokens=6)
    assert pg.steered_tokens == list(iw.generate(llama, PROMPT, 6, vector=vec, coefficient=2.0,
                                                 temperature=0.8, seed=5))
    assert pg.baseline_tokens == list(iw.generate(llama, PROMPT, 6, temperature=0.8, seed=5))
    assert pg.get_state()["max_tokens"] == 6 and pg.generation == 3


def test_stop_mid_generation_leaves_fewer_tokens_and_no_hooks(llama, vec):
    pg = SteeringPlayground(llama, vec, prompt=PROMPT, coefficient=3.0, max_tokens=40)
    # Stop from inside the worker (deterministic): after the 3rd steered token.
    pg.observe(lambda ch: pg.stop() if len(ch.new) == 3 else None, names="steered_tokens")
    pg.run()
    assert len(pg.steered_tokens) == 3 and len(pg.baseline_tokens) == 3
    assert pg.stopped and not pg.busy and pg.error == ""
    assert not our_hooks(llama)


def test_stop_from_another_thread_and_restart_never_runs_two(llama, vec):
    # Slow each forward pass down so the main thread can stop it mid-way.
    h = llama.hf.register_forward_pre_hook(lambda mod, a: time.sleep(0.01))
    alive = []
    try:
        pg = SteeringPlayground(llama, vec, prompt=PROMPT, coefficient=3.0, max_tokens=200)
        pg.run(wait=False)
        t0 = time.monotonic()
        while len(pg.steered_tokens) < 2 and time.monotonic() - t0 < 20:
            time.sleep(0.005)
        first = pg._thread
        pg.run(wait=False, coefficient=-1.0)  # a new generation stops the previous first
        alive.append(first.is_alive())
        assert pg.busy and pg.generated_coefficient == -1.0
        while len(pg.steered_tokens) < 2 and time.monotonic() - t0 < 20:
            time.sleep(0.005)
        pg._on_msg(pg, {"type": "stop"}, [])  # the browser's Stop button
        assert not pg.busy and pg.stopped
        assert 2 <= len(pg.steered_tokens) < 200
        assert [t for t in threading.enumerate() if t.name == "iw-steering"] == []
    finally:
        h.remove()
    assert alive == [False]
    assert not our_hooks(llama)


def test_bad_input_is_an_error_and_starts_nothing(llama, vec):
    with pytest.raises(ValueError, match="coefficient must be a finite number"):
        SteeringPlayground(llama, vec, coefficient=float("nan"))
    with pytest.raises(ValueError, match="max_tokens"):
        SteeringPlayground(llama, vec, max_tokens=0)
    with pytest.raises(ValueError, match="shape"):
        SteeringPlayground(llama, np.zeros(3), layer=0)
    with pytest.raises(ValueError, match="layer"):
        SteeringPlayground(llama, np.zeros(llama.d_model))
    with pytest.raises(ValueError, match="NaN or inf"):
        SteeringPlayground(llama, np.full(llama.d_model, np.nan), layer=0)
    with pytest.raises(ValueError, match="encoder|causal"):
        SteeringPlayground(build_tiny("bert", llama.tokenizer), np.zeros(64), layer=0)

    pg = SteeringPlayground(llama, vec, prompt=PROMPT, max_tokens=4)
    # From the browser: a NaN coefficient (typed, or a slider gone wrong) -> error, no thread.
    for msg, match in (({"coefficient": "NaN"}, "coefficient must be a finite number"),
                       ({"coefficient": None}, "coefficient must be a finite number"),
                       ({"prompt": "   "}, "prompt is empty"),
                       ({"max_tokens": 0}, "max tokens"),
                       ({"max_tokens": "2.5"}, "max tokens"),
                       ({"greedy": False, "temperature": "abc"}, "temperature")):
        pg._on_msg(pg, {"type": "generate", **msg}, [])
        assert match in pg.error, (msg, pg.error)
        assert pg._thread is None and not pg.busy and pg.generation == 0
    assert pg.coefficient == 4.0  # the bad value was not kept
    with pytest.raises(ValueError, match="finite"):
        pg.run(coefficient=float("nan"))
    with pytest.raises(TypeError, match="unexpected"):
        pg.run(colour="red")
    # A good request clears the error.
    pg._on_msg(pg, {"type": "generate", "coefficient": 1.5}, [])
    pg.wait()
    assert pg.error == "" and pg.coefficient == 1.5 and len(pg.steered_tokens) == 4
    assert not our_hooks(llama)


def test_error_in_the_thread_is_shown_and_raised(llama, vec, monkeypatch):
    pg = SteeringPlayground(llama, vec, prompt=PROMPT, max_tokens=4)

    def boom(self):
        raise RuntimeError("out of memory (simulated)")
    monkeypatch.setattr(Generation, "_next_logits", boom)
    with pytest.raises(RuntimeError, match="simulated"):
        pg.run()
    assert "RuntimeError: out of memory (simulated)" in pg.error and not pg.busy
    assert not our_hooks(llama)


def test_static_export_has_the_texts(llama, vec, tmp_path):
    pg = SteeringPlayground(llama, vec, prompt="<img src=x onerror=alert(1)>", max_tokens=3)
    pg.run()
    html = pg.to_html(tmp_path / "s.html").read_text()
    assert '"interactive":false' in html and '"busy":false' in html
    assert "\\u003cimg src=x" in html and "<img src=x" not in html
    assert '"baseline_tokens":[' in html


def test_the_steering_hook_only_steers_its_own_thread(llama, vec):
    g = Generation(llama, PROMPT, vector=vec, coefficient=5.0, only_thread=True)
    ids = llama.to_tokens(PROMPT)
    plain = llama(ids)[0, -1]
    out = {}

    def other():
        with llama.hooks(g.hooks):
            out["x"] = llama(ids)[0, -1]
    t = threading.Thread(target=other)
    t.start()
    t.join()
    torch.testing.assert_close(out["x"], plain)  # another thread: not steered
    with llama.hooks(g.hooks):
        assert not torch.allclose(llama(ids)[0, -1], plain)  # its own thread: steered


# -- vectors from an SAE and a probe -----------------------------------------------------

def _sae(hook, d_in=64, d_sae=8):
    g = torch.Generator().manual_seed(0)
    return SAE(torch.randn(d_in, d_sae, generator=g), torch.zeros(d_sae), torch.randn(d_sae, d_in, generator=g),
               torch.zeros(d_in), hook_name=hook)


def test_from_sae():
    sae = _sae("blocks.2.hook_resid_post")
    v = SteeringVector.from_sae(sae, 5)
    np.testing.assert_array_equal(v.vector, sae.W_dec[5].detach().numpy())
    assert v.layer == 2 and v.vector.dtype == np.float32 and "feature 5" in v.source
    assert SteeringVector.from_sae(_sae("blocks.2.hook_resid_pre"), 0).layer == 1
    with pytest.raises(ValueError, match="not the residual stream"):
        SteeringVector.from_sae(_sae("blocks.2.mlp.hook_post"), 0)
    with pytest.raises(ValueError, match="not the residual stream"):
        SteeringVector.from_sae(_sae("blocks.2.hook_resid_mid"), 0)
    with pytest.raises(ValueError, match="embeddings"):
        SteeringVector.from_sae(_sae("blocks.0.hook_resid_pre"), 0)
    with pytest.raises(ValueError, match="out of range"):
        SteeringVector.from_sae(sae, 8)
    with pytest.raises(TypeError, match="int"):
        SteeringVector.from_sae(sae, 1.5)


def test_from_sae_steers_in_the_playground(llama):
    sae = _sae("blocks.2.hook_resid_pre")  # = resid_post of layer 1
    pg = SteeringPlayground(llama, SteeringVector.from_sae(sae, 3), prompt=PROMPT, coefficient=4.0, max_tokens=5)
    pg.run()
    want = list(iw.generate(llama, PROMPT, 5, vector=sae.W_dec[3].detach().numpy(), layer=1, coefficient=4.0))
    assert pg.layer == 1 and pg.steered_tokens == want


def _probe(classes):
    rng = np.random.default_rng(0)
    return Probe(layers=[0, 2], classes=classes, train_accuracy=np.array([0.6, 0.9], np.float32),
                 test_accuracy=np.array([0.5, 0.8], np.float32),
                 directions=rng.normal(size=(2, len(classes), 64)).astype(np.float32),
                 biases=np.zeros((2, len(classes)), np.float32), position="last", n_train=8, n_test=4)


def test_from_probe():
    p = _probe(["neg", "pos"])
    v = SteeringVector.from_probe(p)
    assert v.layer == 2  # the best layer
    np.testing.assert_allclose(v.vector, p.directions[1, 1] - p.directions[1, 0])
    np.testing.assert_allclose(v.vector, p.direction(2))
    v0 = SteeringVector.from_probe(p, 0, cls="neg")
    np.testing.assert_allclose(v0.vector, p.directions[0, 0] - p.directions[0, 1])
    p3 = _probe(["animals", "cities", "numbers"])
    with pytest.raises(ValueError, match="3 classes.*cls="):
        SteeringVector.from_probe(p3, 2)
    v3 = SteeringVector.from_probe(p3, 2, cls="animals")
    np.testing.assert_allclose(v3.vector, p3.directions[1, 0] - p3.directions[1, 1:].mean(0), rtol=1e-6)
    assert "animals" in v3.source
    with pytest.raises(ValueError, match="unknown class"):
        SteeringVector.from_probe(p3, 2, cls="plants")
    with pytest.raises(ValueError, match="not trained at layer 1"):
        SteeringVector.from_probe(p, 1)
    with pytest.raises(TypeError, match="Probe"):
        SteeringVector.from_probe(np.zeros(3))
    # a negative layer counts from the end of the probe's model (layers 0 and 2 of 3)
    with pytest.raises(ValueError, match="layer count"):
        SteeringVector.from_probe(p, -1)  # a Probe built by hand does not know it
    p.n_model_layers = 3
    v = SteeringVector.from_probe(p, -1)
    assert v.layer == 2
    np.testing.assert_allclose(v.vector, p.direction(-1))
    np.testing.assert_allclose(p.direction(-3), p.direction(0))
    with pytest.raises(ValueError, match="not trained at layer -2"):
        SteeringVector.from_probe(p, -2)


def test_close_stops_the_generation(llama, vec):
    h = llama.hf.register_forward_pre_hook(lambda mod, a: time.sleep(0.01))
    try:
        pg = SteeringPlayground(llama, vec, prompt=PROMPT, max_tokens=200)
        pg.run(wait=False)
        t = pg._thread
        pg.close()
        t.join(10)
        assert not t.is_alive() and len(pg.steered_tokens) < 200
    finally:
        h.remove()
    assert not our_hooks(llama)


def test_to_html_generates_first_when_nothing_was_generated(llama, vec, tmp_path):
    pg = SteeringPlayground(llama, vec, prompt=PROMPT, max_tokens=3)
    assert pg.steered_tokens == [] and pg.generation == 0
    path = pg.to_html(tmp_path / "pg.html")
    assert len(pg.baseline_tokens) == len(pg.steered_tokens) == 3 and pg.generated_coefficient == pg.coefficient
    html = path.read_text(encoding="utf-8")
    assert '"generation": 1' in html or '"generation":1' in html
    assert not our_hooks(llama)
    # an export after a run does not generate again
    pg.to_html(tmp_path / "again.html")
    assert pg.generation == 1
