"""Model layer: hook points on every supported family, read and write, always removed."""

import pytest
import torch

import interp_widgets as iw
from tiny_models import ALL, EAGER_ONLY, build_tiny, dense_mlp_layers, is_parallel

TEXT = "When Mary and John went to the store, John gave"


def _read(model, names, ids, **kw):
    got = {}

    def save(t, name):
        got[name] = t.detach().clone()

    with model.hooks([(n, save) for n in names]):
        out = model(ids, **kw)
    return got, out


def _hook_count(module):
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in module.modules())


def test_hook_names_and_shapes(tiny_model):
    m = tiny_model
    ids = m.to_tokens(TEXT)
    names = m.hook_names
    assert "hook_embed" in names and f"blocks.{m.n_layers - 1}.hook_resid_post" in names
    got, _ = _read(m, names, ids)
    assert set(got) == set(names)
    b, p, d = 1, ids.shape[1], m.d_model
    for layer in range(m.n_layers):
        assert got[f"blocks.{layer}.hook_resid_pre"].shape == (b, p, d)
        assert got[f"blocks.{layer}.attn.hook_pattern"].shape == (b, m.n_heads, p, p)
        assert got[f"blocks.{layer}.attn.hook_z"].shape[:3] == (b, p, m.n_heads)
        assert got[f"blocks.{layer}.hook_resid_post"].shape == (b, p, d)
        pat = got[f"blocks.{layer}.attn.hook_pattern"]
        torch.testing.assert_close(pat.sum(-1), torch.ones(b, m.n_heads, p), atol=1e-5, rtol=0)
        if m.is_causal:
            assert torch.triu(pat[0, 0], diagonal=1).abs().max() == 0


def test_residual_stream_decomposes(tiny_model):
    """resid_pre + attn_out = resid_mid, resid_mid + mlp_out = resid_post (pre-norm
    families); the parallel and post-LN families by their own equations (BERT as
    TransformerLens's BertBlock: the sums before each LayerNorm, and their normalized twins)."""
    m = tiny_model
    got, out = _read(m, m.hook_names, m.to_tokens(TEXT))
    tol = dict(atol=1e-4, rtol=1e-4)
    for layer in range(m.n_layers):
        g = lambda s: got[f"blocks.{layer}.{s}"]  # noqa: E731
        name = m.config.model_type
        post_ln = name in ("bert", "distilbert")
        block_out = "hook_normalized_resid_post" if post_ln else "hook_resid_post"
        if layer + 1 < m.n_layers:
            torch.testing.assert_close(g(block_out), got[f"blocks.{layer + 1}.hook_resid_pre"])
        if post_ln:
            block = m._layers[layer]
            ln1, ln2 = ((block.attention.output.LayerNorm, block.output.LayerNorm) if name == "bert"
                        else (block.sa_layer_norm, block.output_layer_norm))
            torch.testing.assert_close(g("hook_resid_mid"), g("hook_resid_pre") + g("hook_attn_out"), **tol)
            torch.testing.assert_close(g("hook_normalized_resid_mid"), ln1(g("hook_resid_mid")), **tol)
            torch.testing.assert_close(g("hook_resid_post"), g("hook_normalized_resid_mid") + g("hook_mlp_out"), **tol)
            torch.testing.assert_close(g("hook_normalized_resid_post"), ln2(g("hook_resid_post")), **tol)
            if layer == m.n_layers - 1:  # the block outputs are HF's hidden states
                ref = m.hf(m.to_tokens(TEXT), output_hidden_states=True).hidden_states
                torch.testing.assert_close(g("hook_normalized_resid_post"), ref[-1], **tol)
                torch.testing.assert_close(got["blocks.0.hook_resid_pre"], ref[0], **tol)
        elif is_parallel(m.config):
            assert f"blocks.{layer}.hook_resid_mid" not in got
            torch.testing.assert_close(g("hook_resid_post"), g("hook_resid_pre") + g("hook_attn_out") + g("hook_mlp_out"), **tol)
        else:
            torch.testing.assert_close(g("hook_resid_mid"), g("hook_resid_pre") + g("hook_attn_out"), **tol)
            torch.testing.assert_close(g("hook_resid_post"), g("hook_resid_mid") + g("hook_mlp_out"), **tol)
    if m.is_causal:
        last = got[f"blocks.{m.n_layers - 1}.hook_resid_post"]
        torch.testing.assert_close(got["ln_final.hook_out"], m.family.final_norm(m.base)(last), **tol)
        torch.testing.assert_close(out, m.hf(m.to_tokens(TEXT)).logits, **tol)


def test_pattern_matches_hf_eager(tiny_tokenizer):
    """Our attention function (switched in for pattern hooks) gives the patterns HF's own
    eager attention returns, and the same logits as the model's sdpa run."""
    for kind in ALL:
        m = build_tiny(kind, tiny_tokenizer, attn_implementation="eager")
        ids = m.to_tokens(TEXT)
        ref = m.hf(ids, output_attentions=True)
        got, out = _read(m, [f"blocks.{layer}.attn.hook_pattern" for layer in range(m.n_layers)], ids)
        for layer in range(m.n_layers):
            torch.testing.assert_close(got[f"blocks.{layer}.attn.hook_pattern"], ref.attentions[layer], atol=1e-5, rtol=1e-4)
        m2 = build_tiny(kind, tiny_tokenizer, attn_implementation="sdpa")
        plain = m2(ids)
        with m2.hooks([("blocks.0.attn.hook_pattern", lambda t, n: t)]):
            hooked = m2(ids)
        torch.testing.assert_close(hooked, plain, atol=1e-4, rtol=1e-4)
        assert m2.config._attn_implementation == ("eager" if kind in EAGER_ONLY else "sdpa")


def test_written_pattern_feeds_the_values(tiny_causal):
    """A pattern written through the hook is what multiplies V: attending only to the first
    token makes every position's head output (hook_z) equal the first position's."""
    m = tiny_causal
    ids = m.to_tokens(TEXT)

    def first_only(p, name):
        q = torch.zeros_like(p)
        q[..., 0] = 1
        return q

    got = {}
    with m.hooks([("blocks.1.attn.hook_pattern", first_only),
                  ("blocks.1.attn.hook_z", lambda z, n: got.__setitem__("z", z.detach().clone()))]):
        m(ids)
    z = got["z"][0]
    torch.testing.assert_close(z, z[:1].expand_as(z), atol=1e-5, rtol=1e-5)
    plain, _ = _read(m, ["blocks.1.attn.hook_z"], ids)
    assert not torch.allclose(plain["blocks.1.attn.hook_z"][0], z, atol=1e-3)
    assert "_attn" not in vars(m._sites["blocks.1.attn.hook_pattern"].module)  # GPT-Neo's method restored


def test_gpt_neo_local_layers_see_only_their_window(tiny_tokenizer):
    """GPT-Neo alternates global and local attention (window 6 in the tiny model): the local
    layer's pattern is zero beyond the window, the global layer's is not."""
    m = build_tiny("gpt_neo", tiny_tokenizer)
    ids = m.to_tokens(TEXT)
    assert ids.shape[1] > 8
    got, _ = _read(m, ["blocks.0.attn.hook_pattern", "blocks.1.attn.hook_pattern"], ids)
    q, k = torch.meshgrid(torch.arange(ids.shape[1]), torch.arange(ids.shape[1]), indexing="ij")
    far = q - k >= 6
    assert got["blocks.1.attn.hook_pattern"][0][:, far].abs().max() == 0
    assert got["blocks.0.attn.hook_pattern"][0][:, far].abs().min() > 0


def test_post_layernorm_opt_is_refused(tiny_tokenizer):
    from transformers import OPTConfig, OPTForCausalLM

    cfg = OPTConfig(hidden_size=64, ffn_dim=96, num_hidden_layers=1, num_attention_heads=4,
                    vocab_size=len(tiny_tokenizer), do_layer_norm_before=False, word_embed_proj_dim=32)
    with pytest.raises(ValueError, match="pre-LayerNorm OPT"):
        iw.Model(OPTForCausalLM(cfg), tiny_tokenizer)


def test_write_resid_patch_reproduces_other_run(tiny_causal):
    """Writing every position of resid_pre at layer 1 with another run's values yields
    exactly the other run's logits."""
    m = tiny_causal
    a, b = m.to_tokens("John gave a drink to Mary"), m.to_tokens("Mary gave a drink to John")
    assert a.shape == b.shape
    got, out_b = _read(m, ["blocks.1.hook_resid_pre"], b)
    with m.hooks([("blocks.1.hook_resid_pre", lambda t, n: got[n])]):
        patched = m(a)
    torch.testing.assert_close(patched, out_b, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(m(a), out_b)


def test_write_resid_mid_reaches_the_skip_connection(tiny_model):
    """Writing resid_mid with another run's values at every position gives exactly the other
    run's output (the new value feeds the MLP and the skip connection alike), and the block
    then adds its MLP output to it. (It used to reach the MLP's input only.)"""
    m = tiny_model
    name = "blocks.1.hook_resid_mid"
    if name not in m.hook_names:  # parallel attention and MLP: there is no resid_mid
        assert is_parallel(m.config)
        return
    a, b = m.to_tokens("John gave a drink to Mary"), m.to_tokens("Mary gave a drink to John")
    got, out_b = _read(m, [name], b)
    seen = {}
    keep = lambda t, n: seen.__setitem__(n, t.detach().clone())  # noqa: E731
    with m.hooks([(name, lambda t, n: got[name]), ("blocks.1.hook_mlp_out", keep), ("blocks.1.hook_resid_post", keep)]):
        patched = m(a)
    torch.testing.assert_close(patched, out_b, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(m(a), out_b)
    if m.is_causal:  # pre-norm: resid_post = resid_mid + mlp_out
        torch.testing.assert_close(seen["blocks.1.hook_resid_post"], got[name] + seen["blocks.1.hook_mlp_out"], atol=1e-5, rtol=1e-5)


def test_resid_mid_and_attn_out_hooks_compose(tiny_causal):
    """A hook_attn_out write is seen by a resid_mid hook on the same block, whichever order
    they are given in (resid_mid = resid_pre + the written attention output)."""
    m = tiny_causal
    if "blocks.0.hook_resid_mid" not in m.hook_names:
        return
    ids = m.to_tokens(TEXT)
    for order in (1, -1):
        seen = {}
        hooks = [("blocks.0.hook_attn_out", lambda t, n: torch.zeros_like(t)),
                 ("blocks.0.hook_resid_mid", lambda t, n: seen.__setitem__("mid", t.detach().clone())),
                 ("blocks.0.hook_resid_pre", lambda t, n: seen.__setitem__("pre", t.detach().clone()))][::order]
        with m.hooks(hooks):
            m(ids)
        torch.testing.assert_close(seen["mid"], seen["pre"])


def test_write_head_z_equals_weight_edit(tiny_causal):
    """Zero-ablating head 1 through hook_z equals zeroing that head's columns of the output
    projection (an independent computation)."""
    m = tiny_causal
    ids = m.to_tokens(TEXT)
    d_head = getattr(m.config, "head_dim", None) or m.d_model // m.n_heads

    def ablate(z, name):
        z = z.clone()
        z[:, :, 1] = 0
        return z

    with m.hooks([("blocks.0.attn.hook_z", ablate)]):
        hooked = m(ids)
    site = m._sites["blocks.0.attn.hook_z"].module
    w = site.weight
    saved = w.detach().clone()
    with torch.no_grad():
        if type(site).__name__ == "Conv1D":  # GPT-2: weight is [in, out]
            w[d_head: 2 * d_head, :] = 0
        else:
            w[:, d_head: 2 * d_head] = 0
        edited = m(ids)
        w.copy_(saved)
    torch.testing.assert_close(hooked, edited, atol=1e-5, rtol=1e-5)


def test_mlp_post_feeds_down_projection(tiny_causal):
    m = tiny_causal
    dense = dense_mlp_layers(m.config)
    for l in range(m.n_layers):  # neurons exactly on the dense MLP layers; a sparse one says why not
        assert (f"blocks.{l}.mlp.hook_post" in m.hook_names) == (l in dense)
        if l not in dense:
            with pytest.raises(ValueError, match=f"layer {l} of .* is a mixture of experts"):
                iw.run_with_cache(m, TEXT, [f"blocks.{l}.mlp.hook_post"])
    if not dense:
        return
    post, out = f"blocks.{dense[0]}.mlp.hook_post", f"blocks.{dense[0]}.hook_mlp_out"
    got, _ = _read(m, [post, out], m.to_tokens(TEXT))
    down = m._sites[post].module
    block = m._layers[dense[0]]
    if hasattr(block, "post_feedforward_layernorm"):  # Gemma 2/3, OLMo 2: a norm after the MLP
        expected = block.post_feedforward_layernorm(down(got[post]))
    else:  # (Granite multiplies the branch before it joins the residual stream)
        expected = down(got[post]) * getattr(block, "residual_multiplier", 1.0)
    torch.testing.assert_close(expected, got[out], atol=1e-5, rtol=1e-5)


def test_hooks_removed_also_on_error(tiny_causal):
    m = tiny_causal
    before = _hook_count(m.hf)
    impl = m.config._attn_implementation

    def boom(t, name):
        raise RuntimeError("boom")

    names = ["blocks.0.hook_resid_pre", "blocks.0.attn.hook_pattern", "blocks.0.attn.hook_z", "hook_embed"]
    with pytest.raises(RuntimeError, match="boom"):
        with m.hooks([(n, boom) for n in names]):
            m(m.to_tokens(TEXT))
    assert _hook_count(m.hf) == before
    assert m.config._attn_implementation == impl
    from interp_widgets.model import _pattern_hooks
    assert not _pattern_hooks
    # and the model still runs as before
    m(m.to_tokens(TEXT))


def test_negative_layers_and_bad_names(tiny_causal):
    m = tiny_causal
    assert m.resolve("blocks.-1.hook_resid_post") == f"blocks.{m.n_layers - 1}.hook_resid_post"
    with pytest.raises(ValueError, match="valid names: .*hook_resid_pre"):
        m.resolve("blocks.0.hook_nope")
    with pytest.raises(ValueError, match="out of range"):
        m.resolve(f"blocks.{m.n_layers}.hook_resid_post")


def test_unknown_architecture_lists_families(tiny_tokenizer):
    from transformers import T5Config, T5ForConditionalGeneration

    hf = T5ForConditionalGeneration(T5Config(vocab_size=64, d_model=16, d_ff=32, num_layers=1, num_heads=2, d_kv=8))
    with pytest.raises(ValueError) as e:
        iw.Model(hf, tiny_tokenizer)
    msg = str(e.value)
    assert "'t5'" in msg and "llama" in msg and "gpt2" in msg and "gpt_neox" in msg and "bert" in msg


def test_load_model_from_folder(tmp_path, tiny_tokenizer):
    m = build_tiny("gpt2", tiny_tokenizer)
    m.hf.save_pretrained(tmp_path)
    tiny_tokenizer.save_pretrained(tmp_path)
    loaded = iw.load_model(str(tmp_path), device="auto")
    assert loaded.name == tmp_path.name  # a folder's name, not its whole path, heads the views
    (tmp_path / "model").mkdir()
    from interp_widgets.model import _short_name
    assert _short_name(str(tmp_path / "model")) == f"{tmp_path.name}/model" and _short_name("gpt2") == "gpt2"
    assert loaded.device.type == ("cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu")
    ids = loaded.to_tokens(TEXT)
    torch.testing.assert_close(loaded(ids).cpu(), m(ids), atol=1e-5, rtol=1e-5)  # m: CPU; ids move to it
    half = iw.load_model(str(tmp_path), device="cpu", dtype=torch.bfloat16)
    assert half.dtype == torch.bfloat16
    # a folder without a model, and a name that is neither a folder nor a hub id: a ValueError
    # saying what to pass (not Hugging Face's own OSError)
    (tmp_path / "empty").mkdir()
    for bad in (tmp_path / "empty", tmp_path / "missing"):
        with pytest.raises(ValueError, match="could not load model .*embedded default"):
            iw.load_model(str(bad))


def test_tokens_round_trip(tiny_causal):
    m = tiny_causal
    text = "def add(a, b):\n    return a + b\n"
    toks = m.to_str_tokens(m.to_tokens(text))
    assert "".join(toks) == text


def test_bad_text(tiny_causal):
    m = tiny_causal
    with pytest.raises(ValueError, match="empty"):
        m.to_tokens("")
    with pytest.raises(ValueError, match="context"):
        m.to_tokens("one two three " * 200)
    with pytest.raises(ValueError, match="not one"):
        m.token_id(" Mary and John")
    with pytest.raises(ValueError, match="out of range"):
        m.token_id(10**6)


def test_hooked_runs_in_two_threads_take_turns(tiny_causal):
    """Hooks live on shared modules: a hooked run holds the model's lock, so another thread's
    run (a background generation, an analysis in the notebook) waits instead of seeing them."""
    import threading

    inside, release, order = threading.Event(), threading.Event(), []

    def background():
        with tiny_causal.hooks([("blocks.0.hook_resid_post", lambda t, n: t * 0)]):
            inside.set()
            release.wait(5)
            order.append("background done")

    def other():
        with tiny_causal.hooks([]):
            order.append("other ran")

    t1 = threading.Thread(target=background)
    t1.start()
    assert inside.wait(5)
    t2 = threading.Thread(target=other)
    t2.start()
    t2.join(0.3)
    assert t2.is_alive() and order == []  # waiting for the first run's hooks to go
    release.set()
    t1.join(5)
    t2.join(5)
    assert order == ["background done", "other ran"]
    with tiny_causal.hooks([]):  # re-entrant in one thread, and free again
        with tiny_causal.hooks([]):
            pass


def test_read_activations_matches_cache_and_stops_early(tiny_causal):
    """``read_activations`` returns what a full cached run sees at those hook points, keyed
    as asked (negative layers too), and runs no block after the last one asked for."""
    m = tiny_causal
    text = "The quick brown fox jumps"
    ids = m.to_tokens(text)
    last_name = f"blocks.{m.n_layers - 1}.hook_resid_post"
    first = f"blocks.{dense_mlp_layers(m.config)[0]}.mlp.hook_post" if dense_mlp_layers(m.config) else "blocks.0.hook_mlp_out"
    cache = iw.run_with_cache(m, text, [first, last_name])
    ran = []
    handle = m.family.layers(m.base)[-1].register_forward_hook(lambda *a: ran.append(1))
    try:
        early = m.read_activations([first], ids)
        assert not ran  # the last block never ran
        both = m.read_activations([first, "blocks.-1.hook_resid_post"], ids)
        assert len(ran) == 1
    finally:
        handle.remove()
    torch.testing.assert_close(early[first].float(), cache[first].float())
    torch.testing.assert_close(both["blocks.-1.hook_resid_post"].float(), cache[last_name].float())
    # (no hook of ours is left: the autouse guard in conftest.py checks it after every test)


def test_ln_final_normalized_is_transformerlens_s(tiny_model):
    """``ln_final.hook_normalized`` is the final norm's input centred (LayerNorm) and divided
    by its scale, before the weight and bias (TransformerLens's meaning); ``ln_final.hook_out``
    is the norm's output. Writing the normalized values goes through the norm's weight/bias."""
    m = tiny_model
    if not m.is_causal:
        assert not any(n.startswith("ln_final") for n in m.hook_names)  # BERT: no final norm
        return
    norm = m.family.final_norm(m.base)
    ids = m.to_tokens(TEXT)
    last = f"blocks.{m.n_layers - 1}.hook_resid_post"
    got, out = _read(m, [last, "ln_final.hook_normalized", "ln_final.hook_out"], ids)
    x = got[last].double()
    if "RMS" not in type(norm).__name__:  # LayerNorms: GPT-2, NeoX, OLMo's (no weight, eps 1e-5 in its code)
        x = x - x.mean(-1, keepdim=True)
    eps = getattr(norm, "variance_epsilon", getattr(norm, "eps", 1e-5))
    want = x / (x.pow(2).mean(-1, keepdim=True) + eps).sqrt()  # written out by hand
    tol = dict(atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got["ln_final.hook_normalized"].double(), want, **tol)
    w = norm.weight.double() if getattr(norm, "weight", None) is not None else torch.ones(1, dtype=torch.float64)
    scale = 1 + w if "Gemma" in type(norm).__name__ else w
    bias = norm.bias.double() if getattr(norm, "bias", None) is not None else 0.0
    torch.testing.assert_close(got["ln_final.hook_out"].double(), want * scale + bias, **tol)
    # writing: the same values change nothing; doubled ones double the weighted part
    with m.hooks([("ln_final.hook_normalized", lambda t, n: t.clone())]):
        torch.testing.assert_close(m(ids), out, atol=1e-5, rtol=1e-5)
    seen = {}
    with m.hooks([("ln_final.hook_normalized", lambda t, n: 2 * t),
                  ("ln_final.hook_out", lambda t, n: seen.update(out=t.detach().clone()))]):
        m(ids)
    torch.testing.assert_close(seen["out"].double(), 2 * want * scale + bias, **tol)
    assert _hook_count(m.hf) == 0
    cache = iw.run_with_cache(m, TEXT)
    torch.testing.assert_close(cache["normalized"], got["ln_final.hook_normalized"])
    torch.testing.assert_close(cache["ln_final"], got["ln_final.hook_out"])


@pytest.mark.parametrize("family", ["llama", "gpt2"])
def test_bare_backbone_is_refused_with_what_to_pass(tiny_tokenizer, family):
    """AutoModel gives a causal family's backbone without its LM head: every causal kernel
    would fail later with 'NoneType is not callable'; wrapping it says what to pass instead."""
    full = build_tiny(family, tiny_tokenizer)
    with pytest.raises(ValueError, match="without its language-model head.*AutoModelForCausalLM"):
        iw.Model(full.base, tiny_tokenizer)


def test_block_output_and_short_names(tiny_tokenizer, tmp_path):
    from interp_widgets.model import _short_name

    bert, llama = build_tiny("bert", tiny_tokenizer), build_tiny("llama", tiny_tokenizer)
    assert bert.block_output(-1) == f"blocks.{bert.n_layers - 1}.hook_normalized_resid_post"
    assert llama.block_output(0) == "blocks.0.hook_resid_post"
    snap = tmp_path / "models--sentence-transformers--all-MiniLM-L6-v2" / "snapshots" / ("c" * 40)
    snap.mkdir(parents=True)
    assert _short_name(str(snap)) == "sentence-transformers/all-MiniLM-L6-v2"  # the Hugging Face cache
    assert bert.token_ids("the cat sat on the mat", 2) == bert.token_ids("the cat sat on the mat", 100)[:2]
