"""iw.train_sae on a tiny model: it learns, respects its sparsity, saves what SAE.load reads."""

import pytest
import torch

import interp_widgets as iw
from tiny_models import CORPUS, build_tiny, our_hooks


@pytest.fixture(scope="module")
def llama(tiny_tokenizer):
    return build_tiny("llama", tiny_tokenizer)


def test_topk_sae_learns_and_round_trips(llama, tmp_path):
    m = llama
    sae, rep = iw.train_sae(m, "blocks.1.hook_resid_post", CORPUS, n_features=128, k=8, steps=300,
                            batch_size=256, lr=3e-3, progress=False, eval_texts=4)
    assert rep.explained_variance > 0.6, rep
    assert rep.l0 <= 8 + 1e-6 and rep.n_features == 128
    assert 0 <= rep.dead_features < 128
    # with 98% of the variance reconstructed, splicing the SAE in barely moves the LM loss,
    # while zeroing the activation does (a random model: zeroing can even lower it)
    assert abs(rep.loss_spliced - rep.loss_clean) < 0.05, rep
    assert abs(rep.loss_zero - rep.loss_clean) > 0.1, rep
    assert torch.allclose(sae.W_dec.norm(dim=1), torch.ones(128), atol=1e-4)
    back = iw.SAE.load(sae.save(tmp_path / "sae"))
    x = torch.randn(4, m.d_model)
    torch.testing.assert_close(back.encode(x), sae.encode(x))
    assert back.check(m) == "blocks.1.hook_resid_post"
    assert not our_hooks(m)


def test_l1_sae_and_training_improves(llama):
    m = llama
    _, short = iw.train_sae(m, "blocks.0.hook_resid_post", CORPUS, n_features=64, l1=1e-3, steps=5,
                            progress=False, eval_texts=0)
    sae, long = iw.train_sae(m, "blocks.0.hook_resid_post", CORPUS, n_features=64, l1=1e-3, steps=300,
                             batch_size=256, lr=3e-3, progress=False, eval_texts=0)
    assert long.mse < short.mse and sae.architecture == "standard"
    assert long.loss_clean is None


def test_bad_input(llama):
    with pytest.raises(ValueError, match="exactly one"):
        iw.train_sae(llama, "blocks.0.hook_resid_post", CORPUS, n_features=8)
    with pytest.raises(ValueError, match="exactly one"):
        iw.train_sae(llama, "blocks.0.hook_resid_post", CORPUS, n_features=8, k=2, l1=0.1)
    with pytest.raises(ValueError, match="k must be"):
        iw.train_sae(llama, "blocks.0.hook_resid_post", CORPUS, n_features=8, k=9)
    with pytest.raises(ValueError, match="no texts"):
        iw.train_sae(llama, "blocks.0.hook_resid_post", [], n_features=8, k=2)
    with pytest.raises(ValueError, match="unknown hook point"):
        iw.train_sae(llama, "blocks.0.nowhere", CORPUS, n_features=8, k=2)


def test_encoder_trains_without_a_next_token_loss(tiny_tokenizer):
    """BERT has no next-token loss: the SAE trains and the spliced-loss part is skipped (it
    used the encoder's hidden states as logits and crashed)."""
    bert = build_tiny("bert", tiny_tokenizer)
    sae, rep = iw.train_sae(bert, "blocks.1.hook_resid_post", CORPUS, n_features=32, k=4, steps=60,
                            progress=False)
    assert rep.loss_clean is None and rep.loss_spliced is None and rep.explained_variance > 0
    assert sae.hook_name == "blocks.1.hook_resid_post" and not our_hooks(bert)
    with pytest.raises(ValueError, match="encoder"):
        iw.steered_logits(bert, "a b c", torch.zeros(bert.d_model), layer=0)
