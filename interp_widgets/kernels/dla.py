"""Direct logit attribution: ``iw.direct_logit_attribution``.

The residual stream at the explained position is a sum: the embeddings (plus position
embeddings), then each layer's attention output (a sum over heads, plus the output
projection's bias) and MLP output. The logit is ``W_U[target] . Norm(resid) (+ bias)``. With
the final norm's scale *frozen from the clean run* (its 1/rms or 1/std as a constant), the
norm is linear, so the logit splits exactly into one term per component plus the norm's own
bias term (LayerNorm) and the LM head's bias (if any):

    logit = sum_c W_U[t] . N(c)  +  W_U[t] . b_norm  +  b_U[t]

where ``N(c) = w * c / s`` (RMSNorm; Gemma's ``(1 + w)``) or ``w * (c - mean c) / s``
(LayerNorm, the centering applied to each component). Families whose attention output
passes through its own norm before the residual (Gemma 2/3 "sandwich" norms, OLMo 2) get that
norm's scale frozen too, so heads still add up.

Contributions are to the logit *before* any final soft-capping (Gemma 2): the cap is not
linear. For a pair of tokens the direction is ``W_U[a] - W_U[b]`` (a logit difference).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Union

import numpy as np
import torch
from torch import nn

from ..model import Model
from ..results.dla import DirectLogitAttribution

__all__ = ["direct_logit_attribution"]


@dataclass
class _FrozenNorm:
    """A norm with its scale frozen from one input: ``linear(c)`` is linear in ``c`` and
    ``linear(x) + bias == norm(x)`` for the input it was frozen on."""

    linear: Callable[[torch.Tensor], torch.Tensor]
    bias: torch.Tensor


def _freeze_norm(module: nn.Module, x: torch.Tensor) -> _FrozenNorm:
    """Freeze ``module``'s scale at ``x`` ``[d]``; check that it reproduces the module."""
    name = type(module).__name__
    xf = x.float()
    w = getattr(module, "weight", None)
    w = torch.ones_like(xf) if w is None else w.float()
    if "RMSNorm" in name:
        eps = getattr(module, "variance_epsilon", None) or getattr(module, "eps", 1e-6)
        s = torch.sqrt((xf * xf).mean() + eps)
        gain = (1.0 + w) if name.startswith("Gemma") else w
        frozen = _FrozenNorm(linear=lambda c: gain * c.float() / s, bias=torch.zeros_like(xf))
    elif isinstance(module, nn.LayerNorm) or "LayerNorm" in name:
        eps = getattr(module, "eps", 1e-5)
        s = torch.sqrt(xf.var(unbiased=False) + eps)
        b = getattr(module, "bias", None)
        frozen = _FrozenNorm(linear=lambda c: w * (c.float() - c.float().mean(-1, keepdim=True)) / s,
                             bias=torch.zeros_like(xf) if b is None else b.float())
    else:
        raise ValueError(f"direct logit attribution does not know how to freeze a {name}")
    got = frozen.linear(x) + frozen.bias
    dtype = next(module.parameters()).dtype if any(True for _ in module.parameters()) else x.dtype
    want = module(x[None].to(dtype))[0].float()
    rtol = max(1e-3, 4 * torch.finfo(dtype).eps)  # a half-precision norm rounds its output
    if not torch.allclose(got, want, rtol=rtol, atol=rtol * float(want.abs().max()) + 1e-5):
        raise ValueError(f"could not reproduce {name} with its scale frozen (max diff "
                         f"{float((got - want).abs().max()):.3g}); direct logit attribution is not supported here")
    return frozen


def _head_outputs(proj: nn.Module, z: torch.Tensor) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """Each head's output ``[heads, d_model]`` from ``z`` ``[heads, d_head]`` through the
    output projection (nn.Linear or GPT-2's Conv1D), and the projection's bias."""
    H, dh = z.shape
    if type(proj).__name__ == "Conv1D":  # weight [in, out]
        W = proj.weight.reshape(H, dh, -1)
        out = torch.einsum("hd,hdo->ho", z.float(), W.float())
    else:  # nn.Linear: weight [out, in]
        W = proj.weight.reshape(proj.weight.shape[0], H, dh)
        out = torch.einsum("hd,ohd->ho", z.float(), W.float())
    b = getattr(proj, "bias", None)
    return out, None if b is None else b.float()


def _direction(model: Model, target) -> tuple[torch.Tensor, float, str]:
    """Unembedding direction ``[d_model]``, LM-head bias term, and a label (both times the
    model's logit scale: Cohere, Granite)."""
    d, bias, label = _unscaled_direction(model, target)
    return d * model.logit_scale, bias * model.logit_scale, label


def _unscaled_direction(model: Model, target) -> tuple[torch.Tensor, float, str]:
    W = model.unembed.weight
    b = getattr(model.unembed, "bias", None)
    if isinstance(target, (tuple, list)):
        if len(target) != 2:
            raise ValueError("a logit difference needs exactly two tokens: (token, other)")
        a, o = model.token_id(target[0]), model.token_id(target[1])
        bias = 0.0 if b is None else float(b[a] - b[o])
        la, lo = model.to_str_tokens([a])[0], model.to_str_tokens([o])[0]
        return (W[a] - W[o]).float(), bias, f"{la!r} - {lo!r}"
    t = model.token_id(target)
    return W[t].float(), 0.0 if b is None else float(b[t]), repr(model.to_str_tokens([t])[0])


@torch.no_grad()
def direct_logit_attribution(model: Model, text: str, target: Union[str, int, tuple, None] = None, *,
                             position: int = -1) -> DirectLogitAttribution:
    """Split a target logit (or a logit difference) at one position into the direct
    contributions of the embeddings, every attention head and every MLP layer.

    Args:
        model: a causal :class:`~interp_widgets.Model`.
        text: the prompt.
        target: a token (string or id), a pair ``(token, other)`` for a logit difference, or
            None for the model's own top prediction at ``position``.
        position: the position whose next-token logit is explained (default: the last).

    Returns a :class:`~interp_widgets.results.DirectLogitAttribution`: ``heads`` ``[layers,
    heads]``, ``mlp`` and ``attn_bias`` ``[layers]``, ``embed``, and the bias terms; they sum
    to ``logit`` (checked).
    """
    if not model.is_causal:
        raise ValueError(f"{model.name} is an encoder: it has no logits to attribute")
    ids = model.to_tokens(text)
    n = ids.shape[1]
    if not -n <= position < n:
        raise ValueError(f"position {position} is out of range for a text of {n} tokens")
    pos = position % n
    L = model.n_layers
    names = ["blocks.0.hook_resid_pre", f"blocks.{L - 1}.hook_resid_post"]
    for l in range(L):
        names += [f"blocks.{l}.attn.hook_z", f"blocks.{l}.hook_attn_out", f"blocks.{l}.hook_mlp_out"]
    got: dict[str, torch.Tensor] = {}

    def keep(t, name):
        got[name] = t[0, pos].detach().float()

    sandwich_pre: dict[int, torch.Tensor] = {}
    layers = model.family.layers(model.base)
    sandwich = hasattr(layers[0], "post_feedforward_layernorm")  # Gemma 2/3, OLMo 2: norms on the outputs
    handles = []
    if sandwich:  # the input of each post-attention norm: the raw attention output
        for l, block in enumerate(layers):
            handles.append(block.post_attention_layernorm.register_forward_hook(
                lambda m, a, out, l=l: sandwich_pre.__setitem__(l, a[0][0, pos].detach().float())))
    try:
        with model.hooks([(nm, keep) for nm in names]):
            logits = model(ids)
    finally:
        for h in handles:
            h.remove()
    if target is None:
        target = int(logits[0, pos].argmax())
    direction, lm_bias, label = _direction(model, target)
    d = direction.to(logits.device)

    resid = got[f"blocks.{L - 1}.hook_resid_post"]
    final = _freeze_norm(model.family.final_norm(model.base), resid)

    def through(c):  # a residual-stream component -> its direct effect on the logit
        return float(final.linear(c) @ d)

    embed = through(got["blocks.0.hook_resid_pre"])
    heads = np.zeros((L, model.n_heads), dtype=np.float64)
    attn_bias = np.zeros(L, dtype=np.float64)
    mlp = np.zeros(L, dtype=np.float64)
    for l in range(L):
        proj = model._sites[f"blocks.{l}.attn.hook_z"].module
        outs, b = _head_outputs(proj, got[f"blocks.{l}.attn.hook_z"])
        k = model._sites[f"blocks.{l}.hook_attn_out"].scale  # Granite's residual multiplier
        if k != 1.0:
            outs, b = outs * k, None if b is None else b * k
        if sandwich:
            post = _freeze_norm(layers[l].post_attention_layernorm, sandwich_pre[l])
            outs = torch.stack([post.linear(o) for o in outs])
            bias_vec = (post.linear(b) if b is not None else 0) + post.bias
        else:
            bias_vec = b
        heads[l] = [through(o) for o in outs]
        attn_bias[l] = 0.0 if bias_vec is None else through(bias_vec)
        mlp[l] = through(got[f"blocks.{l}.hook_mlp_out"])
    norm_bias = float(final.bias @ d)
    total = embed + heads.sum() + attn_bias.sum() + mlp.sum() + norm_bias + lm_bias

    # the model's own (pre-softcap) value of the target logit / logit difference
    h = model.family.final_norm(model.base)(resid[None].to(model.dtype))[0].float()
    logit = float(h @ d) + lm_bias
    # in half precision the model's own norm output is rounded (bf16: 3 significant digits)
    rounding = 4 * torch.finfo(model.dtype).eps * float((h * d).abs().sum())
    if abs(total - logit) > 1e-3 * max(1.0, abs(logit)) + rounding:
        raise RuntimeError(f"direct logit attribution does not add up: components {total:.5g} vs logit {logit:.5g}")
    return DirectLogitAttribution(
        tokens=model.to_str_tokens(ids[0]),
        position=pos,
        target=label,
        heads=heads.astype(np.float32),
        attn_bias=attn_bias.astype(np.float32),
        mlp=mlp.astype(np.float32),
        embed=embed,
        norm_bias=norm_bias,
        lm_bias=lm_bias,
        logit=logit,
        model_name=model.name,
    )
