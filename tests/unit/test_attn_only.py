"""The shipped two-layer attention-only toy model (``iw.toy.attn_only``): small files, a Llama
whose MLPs are exactly zero, and the induction circuit of Olsson et al. 2022: a
previous-token head in layer 0, an induction head in layer 1, and a loss that collapses on
the second copy of a repeated random sequence."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import interp_widgets as iw
from interp_widgets.kernels.attention import repeated_random_tokens
from interp_widgets.toy.attn_only import attn_only, attn_only_path

WORDS = "water time word number sound people day thing call side"


@pytest.fixture(scope="module")
def model():
    return attn_only()


def test_shipped_files_are_small_and_complete():
    path = attn_only_path()
    files = {f.name: f.stat().st_size for f in path.iterdir() if f.is_file()}
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(files)
    assert sum(files.values()) < 5 * 2**20, files
    config = json.loads((path / "config.json").read_text())
    assert config["model_type"] == "llama" and config["num_hidden_layers"] == 2 and config["intermediate_size"] == 1


def test_loads_as_a_llama_model(model):
    assert iw.toy.attn_only_path() == attn_only_path()
    assert model.name == "attn-only-2L" and model.family.name == "llama"
    assert model.n_layers == 2 and model.is_causal and model.device.type == "cpu"
    assert type(model.hf).__name__ == "LlamaForCausalLM"
    assert model.config.intermediate_size == 1


def test_word_level_tokenizer_with_bos(model):
    ids = model.to_tokens("water time zyzzyva")[0].tolist()
    tok = model.tokenizer
    assert ids[0] == tok.bos_token_id == 0
    assert ids[-1] == tok.unk_token_id  # an unknown word is <unk>, not split
    assert len(ids) == 4
    assert model.to_str_tokens(model.to_tokens("water time")) == ["<|endoftext|>", " water", " time"]
    # the head detectors' random words are ordinary words only (no BOS, no <unk>)
    rand, prefix = repeated_random_tokens(model, 40, 4, 0)
    assert prefix == 1 and (rand[:, 0] == 0).all()
    assert int(rand[:, 1:].min()) >= 2 and int(rand[:, 1:].max()) < len(tok)


def test_mlps_output_exactly_zero(model):
    cache = iw.run_with_cache(model, f"{WORDS} {WORDS}", names=["blocks.0.hook_mlp_out", "blocks.1.hook_mlp_out",
                                                                 "blocks.1.mlp.hook_post"])
    for l in range(2):
        out = cache[f"blocks.{l}.hook_mlp_out"]
        assert out.shape[-1] == model.d_model and torch.count_nonzero(out) == 0
    assert cache["blocks.1.mlp.hook_post"].shape[-1] == 1
    for layer in model.hf.model.layers:
        assert all(torch.count_nonzero(p) == 0 for p in layer.mlp.parameters())


def test_previous_token_head_in_layer_0_and_induction_head_in_layer_1(model):
    s = iw.head_detector_scores(model)
    prev, ind = s["previous_token"], s["induction"]
    assert prev.shape == ind.shape == (2, model.n_heads)
    l, h = np.unravel_index(prev.argmax(), prev.shape)
    assert l == 0 and prev[l, h] > 0.5, prev
    l, h = np.unravel_index(ind.argmax(), ind.shape)
    assert l == 1 and ind[l, h] > 0.5, ind
    # and not the other way round: layer 0 cannot do induction on its own
    assert ind[0].max() < 0.2, ind


def _copy_losses(model, seq_len=30, seed=0):
    """Mean next-token loss on the first and on the second copy of ``seq_len`` random words."""
    g = torch.Generator().manual_seed(seed)
    words = [model.tokenizer.convert_ids_to_tokens(i) for i in (2 + torch.randperm(len(model.tokenizer) - 2,
                                                                                     generator=g)[:seq_len]).tolist()]
    text = " ".join(words + words)
    ids = model.to_tokens(text)
    with torch.no_grad():
        logits = model.hf(ids).logits[0]
    loss = torch.nn.functional.cross_entropy(logits[:-1], ids[0, 1:], reduction="none")
    # loss[i] predicts token i + 1; tokens 1..L are the first copy, L+1..2L the second
    first = loss[1:seq_len].mean().item()          # 2nd..Lth word of the first copy
    second = loss[seq_len + 1:].mean().item()      # 2nd..Lth word of the second copy
    return first, second


def test_induction_loss_collapses_on_the_repeat(model):
    first, second = _copy_losses(model)
    assert first > 4.0, first  # random words: about ln 100 = 4.6
    assert second < 1.0, second


def test_attention_view_on_a_repeat(model, tmp_path):
    r = iw.attention(model, f"{WORDS} {WORDS}")
    assert r.patterns.shape == (2, model.n_heads, 21, 21)
    layer, head, score = r.top_heads("induction", 1)[0]
    assert layer == 1 and score > 0.5
    # on this text too, the induction head looks from the second " word" to the first " number"
    q = r.tokens.index(" word", 11)
    assert r.tokens[q - 10 + 1] == " number" and r.patterns[layer, head, q].argmax() == q - 10 + 1
    view = r.show(sort_by="induction", detector="induction")
    state = view.get_state()
    assert state["tokens"] == r.tokens and state["title"] == "attn-only-2L"
    html = view.to_html(tmp_path / "a.html").read_text()
    assert "attn-only-2L" in html
