"""Ablation: ``iw.ablate`` switches attention heads or MLP neurons off and reports how the
next-token distribution moves (a masked LM's: the distribution at its ``[MASK]``; a
classifier's: the class distribution).

``mode="zero"`` sets the component's output to 0 (a head's ``hook_z``, a neuron's
``mlp.hook_post``) at every position. ``mode="mean"`` replaces it with its mean over the
positions of ``mean_texts`` (default: the prompt itself), a gentler intervention that keeps
the component's average contribution (bias-like directions) and removes only what depends
on the input.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch

from ..model import Model
from ._readout import Readout, readout as _readout
from ..results.ablation import Ablation

__all__ = ["ablate"]


def _check(model: Model, pairs, what: str, limit: int) -> list[tuple[int, int]]:
    out = []
    for p in pairs or []:
        if not (isinstance(p, (tuple, list)) and len(p) == 2 and all(isinstance(x, (int, np.integer)) for x in p)):
            raise ValueError(f"{what} must be (layer, index) pairs of integers, got {p!r}")
        l, i = int(p[0]), int(p[1])
        if not -model.n_layers <= l < model.n_layers:
            raise ValueError(f"layer {l} is out of range: {model.name} has {model.n_layers} layers")
        if not 0 <= i < limit:
            raise ValueError(f"{what[:-1]} {i} is out of range: layer {l} has {limit} {what} (0..{limit - 1})")
        out.append((l % model.n_layers, i))
    return out


def readout(model: Model, ids: torch.Tensor, position: Optional[int] = None) -> Readout:
    """What an ablation compares (a :class:`~interp_widgets.kernels._readout.Readout`): the
    next token after the last position; a masked LM's token at ``position`` (default: the
    first mask token); a classifier's class (single-label heads only)."""
    r = _readout(model, ids, position, "ablation")
    if not r.single_label:
        raise ValueError(f"{model.name}'s head is not a single-label classifier (a regression or multi-label "
                         f"head has no class distribution to compare); measure its outputs with model.hooks")
    return r


@torch.no_grad()
def ablate(model: Model, text: str, heads: Optional[Sequence[tuple[int, int]]] = None,
           neurons: Optional[Sequence[tuple[int, int]]] = None, *, mode: str = "zero",
           mean_texts: Optional[Sequence[str]] = None, k: int = 10, position: Optional[int] = None,
           text_pair: Optional[str] = None) -> Ablation:
    """Ablate attention heads and/or MLP neurons; compare the next-token distributions.

    Args:
        model: a causal :class:`~interp_widgets.Model`, a masked LM (the distribution at its
            first ``[MASK]``, or at ``position``) or a single-label classifier (the class
            distribution).
        text: the prompt; its last position's next-token distribution is compared (a masked
            LM's: the distribution at its first mask; a classifier's: the classes).
        heads: ``[(layer, head), ...]``; neurons: ``[(layer, index), ...]``.
        mode: ``"zero"`` or ``"mean"`` (see the module's notes).
        mean_texts: texts whose positions give the means in ``"mean"`` mode (default: the
            prompt).
        k: how many top tokens to report.
        position: a masked LM's token whose distribution is compared (default: the first
            mask token).
        text_pair: a second text, for encoders trained on pairs (an NLI classifier reads
            ``[CLS] text [SEP] text_pair [SEP]`` with segment ids).

    Returns an :class:`~interp_widgets.results.Ablation`.
    """
    if mode not in ("zero", "mean"):
        raise ValueError(f"mode must be 'zero' or 'mean', got {mode!r}")
    heads = _check(model, heads, "heads", model.n_heads)
    neurons = _check(model, neurons, "neurons", model.d_mlp)
    if not heads and not neurons:
        raise ValueError("nothing to ablate: give heads=[(layer, head)] and/or neurons=[(layer, index)]")
    extra: dict = {}
    if text_pair is not None:
        pair_ids, types, _ = model.pair_tokens(text, text_pair)
        ids = pair_ids[None]
        if types is not None:
            extra["token_type_ids"] = types[None]
    else:
        ids = model.to_tokens(text)
    r = readout(model, ids, position)
    name_of, what = r.label, r.what

    def run():
        return torch.log_softmax(r.logits(model.forward_hidden(input_ids=ids, **extra))[0].float(), -1)

    by_site: dict[str, list[int]] = {}
    for l, h in heads:
        by_site.setdefault(f"blocks.{l}.attn.hook_z", []).append(h)
    for l, i in neurons:
        by_site.setdefault(f"blocks.{l}.mlp.hook_post", []).append(i)

    means: dict[str, torch.Tensor] = {}
    if mode == "mean":
        from .activations import run_with_cache

        if mean_texts:
            ref = run_with_cache(model, list(mean_texts), names=list(by_site), keep_logits=False)
        else:  # the prompt itself (as the model reads it: with its pair)
            ref = run_with_cache(model, [text], names=list(by_site), keep_logits=False,
                                 text_pair=None if text_pair is None else [text_pair])
        mask = ref.attention_mask.bool()
        for name in by_site:
            means[name] = ref[name][mask].float().mean(0)  # [heads, d_head] or [d_mlp]

    def hook(t, name):
        t = t.clone()
        idx = by_site[name]
        value = 0.0 if mode == "zero" else means[name][idx].to(t.dtype)
        if name.endswith("hook_z"):  # [batch, pos, head, d_head]
            t[..., idx, :] = value
        else:  # [batch, pos, d_mlp]
            t[..., idx] = value
        return t

    before = run()
    with model.hooks([(name, hook) for name in by_site]):
        after = run()
    k = min(k, before.shape[0])  # a classifier has few classes

    def top(lp):
        v, i = lp.topk(k)
        return [(name_of(int(t)), float(p)) for t, p in zip(i, v.exp())]

    pb, pa = before.exp(), after.exp()
    moved = (pa - pb).abs().topk(k).indices
    movers = [(name_of(int(t)), float(pb[t]), float(pa[t])) for t in moved]
    kl = float((pb * (before - after)).sum())
    both = torch.cat([before.topk(k).indices, after.topk(k).indices]).unique()
    both = both[pb[both].argsort(descending=True)]
    table = [(name_of(int(t)), float(pb[t]), float(pa[t])) for t in both]
    t0 = int(before.argmax())
    return Ablation(tokens=model.to_str_tokens(ids[0]), heads=heads, neurons=neurons, mode=mode,
                    top_before=top(before), top_after=top(after), movers=movers, kl=kl,
                    logprob_change=float(after[t0] - before[t0]), table=table, readout=what,
                    info={"mean_texts": len(mean_texts) if mean_texts else 1} if mode == "mean" else {})
