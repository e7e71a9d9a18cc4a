"""iw.SAE: the three encoders against hand computations, SAELens-format files, fit checks."""

import json

import pytest
import torch

import interp_widgets as iw
from tiny_models import build_tiny

D_IN, D_SAE = 8, 20


def _weights(seed=0):
    g = torch.Generator().manual_seed(seed)
    return dict(W_enc=torch.randn(D_IN, D_SAE, generator=g), b_enc=torch.randn(D_SAE, generator=g) * 0.1,
                W_dec=torch.randn(D_SAE, D_IN, generator=g), b_dec=torch.randn(D_IN, generator=g) * 0.1)


def test_encoders_match_hand_computations():
    w = _weights()
    x = torch.randn(5, D_IN)
    pre = (x - w["b_dec"]) @ w["W_enc"] + w["b_enc"]
    std = iw.SAE(**w, hook_name="blocks.0.hook_resid_post")
    torch.testing.assert_close(std.encode(x), torch.relu(pre))
    torch.testing.assert_close(std(x), torch.relu(pre) @ w["W_dec"] + w["b_dec"])
    top = iw.SAE(**w, hook_name="blocks.0.hook_resid_post", architecture="topk", k=3)
    f = top.encode(x)
    assert ((f > 0).sum(-1) <= 3).all()
    for row, p in zip(f, torch.relu(pre)):
        keep = p.argsort(descending=True)[:3]
        want = torch.zeros_like(p)
        want[keep] = p[keep]
        torch.testing.assert_close(row, want)
    th = torch.full((D_SAE,), 0.3)
    jr = iw.SAE(**w, hook_name="blocks.0.hook_resid_post", architecture="jumprelu", threshold=th)
    torch.testing.assert_close(jr.encode(x), torch.where(pre > 0.3, pre, torch.zeros_like(pre)))
    nob = iw.SAE(**w, hook_name="blocks.0.hook_resid_post", apply_b_dec_to_input=False)
    torch.testing.assert_close(nob.encode(x), torch.relu(x @ w["W_enc"] + w["b_enc"]))


@pytest.mark.parametrize("arch,extra", [("standard", {}), ("topk", {"k": 4}),
                                        ("jumprelu", {"threshold": torch.full((D_SAE,), 0.2)})])
def test_save_and_load_round_trip(tmp_path, arch, extra):
    sae = iw.SAE(**_weights(1), hook_name="blocks.1.hook_resid_post", architecture=arch, **extra)
    folder = sae.save(tmp_path / arch)
    cfg = json.loads((folder / "cfg.json").read_text())
    assert cfg["architecture"] == arch and cfg["hook_name"] == "blocks.1.hook_resid_post" and cfg["d_sae"] == D_SAE
    back = iw.SAE.load(folder)
    x = torch.randn(3, D_IN)
    torch.testing.assert_close(back.encode(x), sae.encode(x))
    assert back.architecture == arch and back.k == sae.k
    from_dict = iw.SAE.load({**_weights(1), **extra, "hook_name": "blocks.1.hook_resid_post",
                             "architecture": arch, **({"activation_fn_kwargs": {"k": 4}} if arch == "topk" else {})})
    torch.testing.assert_close(from_dict.encode(x), sae.encode(x))


def test_fit_checks_and_bad_input(tiny_tokenizer, tmp_path):
    m = build_tiny("gpt2", tiny_tokenizer)  # d_model 64
    w = {k: v for k, v in _weights().items()}
    sae = iw.SAE(**w, hook_name="blocks.0.hook_resid_post")
    with pytest.raises(ValueError, match="8-wide activations but blocks.0.hook_resid_post"):
        sae.check(m)
    good = iw.SAE(torch.zeros(64, 4), torch.zeros(4), torch.zeros(4, 64), torch.zeros(64),
                  hook_name="blocks.-1.hook_resid_post")
    assert good.check(m) == f"blocks.{m.n_layers - 1}.hook_resid_post"
    with pytest.raises(ValueError, match="unknown hook point"):
        iw.SAE(**w, hook_name="blocks.0.nowhere").check(m)
    with pytest.raises(ValueError, match="reads 8-wide"):
        sae.encode(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="unknown SAE architecture"):
        iw.SAE(**w, hook_name="h", architecture="gated")
    with pytest.raises(ValueError, match="needs k"):
        iw.SAE(**w, hook_name="h", architecture="topk")
    with pytest.raises(ValueError, match="threshold"):
        iw.SAE(**w, hook_name="h", architecture="jumprelu")
    with pytest.raises(ValueError, match="W_dec must have shape"):
        iw.SAE(w["W_enc"], w["b_enc"], torch.zeros(3, 3), w["b_dec"], hook_name="h")
    with pytest.raises(ValueError, match="not an SAE folder"):
        iw.SAE.load(tmp_path)
    with pytest.raises(ValueError, match="hook_name"):
        iw.SAE.load(dict(w))
