"""The logit lens: ``iw.logit_lens`` (nostalgebraist 2020).

The residual stream after each layer goes through the model's own final norm and
unembedding (and final logit soft-capping, where the model has it), as if the remaining
layers were skipped. The last row equals the model's logits exactly.

On a masked LM (BERT/RoBERTa with its MLM head) each block's output (post-LayerNorm, what the
next block reads) goes through the MLM head: each cell predicts the token *at* its position
(at a ``[MASK]``, what the model fills in), not the next one.
"""

from __future__ import annotations

from typing import Sequence, Union

import torch

from ..model import Model
from ._progress import ticker
from ..results.lens import LensSource, LogitLens, TrackedToken

__all__ = ["logit_lens", "lens_logits"]


def _final_norm(model: Model):
    fn = model.family.final_norm
    return fn(model.base) if fn is not None else None


@torch.no_grad()
def lens_logits(model: Model, resid: torch.Tensor) -> torch.Tensor:
    """Logits ``[..., vocab]`` read from residual-stream vectors ``[..., d_model]`` (a masked
    LM's: block outputs, read by its MLM head)."""
    if model.is_masked_lm:
        return model.logits_from_hidden(resid)
    if not model.is_causal:
        raise ValueError(f"{model.name} is an encoder without a language-model head: it has no unembedding to "
                         f"read a logit lens with (a masked LM such as bert-base-uncased has one)")
    norm = _final_norm(model)
    h = norm(resid) if norm is not None else resid
    return model.logits_from_hidden(h)


@torch.no_grad()
def logit_lens(model: Model, text: str, *, k: int = 10,
               track: Union[None, str, int, Sequence[Union[str, int]]] = None, progress=None) -> LogitLens:
    """Top-``k`` next-token predictions read from the residual stream after every layer.

    Args:
        model: a causal :class:`~interp_widgets.Model`, or a masked LM (each cell then predicts
            the token at its own position, e.g. what fills a ``[MASK]``).
        text: the prompt.
        k: how many top tokens to keep per layer and position.
        track: token(s) (strings or ids) whose rank and probability to follow through the
            layers; more can be added later with ``result.track(token)`` or in the view.
        progress: ``None`` (a tqdm bar over the layers for texts over 256 tokens), ``True``,
            ``False``, or a callable taking the fraction done.

    Memory: one ``[pos, vocab]`` float32 slab at a time (2,500 tokens: 0.5 GB for SmolLM2's
    49k vocabulary), also when tracking tokens.

    Returns a :class:`~interp_widgets.results.LogitLens`; ``.show()`` opens the view.
    """
    if not model.has_logits:
        raise ValueError(f"{model.name} is an encoder without a language-model head: it has no unembedding to "
                         f"read a logit lens with (a masked LM such as bert-base-uncased has one)")
    vocab_size = int(model.config.vocab_size)
    if not isinstance(k, int) or not 1 <= k <= vocab_size:
        raise ValueError(f"k must be an integer in 1..{vocab_size}, got {k!r}")
    ids = model.to_tokens(text)
    rows: list[torch.Tensor] = [None] * (model.n_layers + 1)

    def keep(t, name):
        layer = int(name.split(".")[1])
        rows[0 if name.endswith("resid_pre") else layer + 1] = t[0].detach()

    # row 0: the stream entering layer 0 (token embeddings, plus position embeddings or
    # Gemma's embedding scale where the family has them)
    # (a masked LM: each block's output, BERT's normalized_resid_post)
    hooks = [("blocks.0.hook_resid_pre", keep)] + [(model.block_output(l), keep) for l in range(model.n_layers)]
    with model.hooks(hooks):
        model.forward_hidden(ids)
    resid = torch.stack(rows)  # [rows, pos, d_model]

    track_list = [] if track is None else [track] if isinstance(track, (str, int)) else list(track)
    track_ids = [model.token_id(t) for t in track_list]  # unknown tokens fail before the work

    def read_row(r: int):
        """Row ``r``'s logits ``[pos, vocab]`` (float32) and their log-normaliser ``[pos]``:
        ranks and top-k come from the logits, probabilities from ``exp(logit - lse)``, so no
        [pos, vocab] log-softmax is written."""
        logits = lens_logits(model, resid[r]).float()
        return logits, torch.logsumexp(logits, dim=-1)

    def rank_prob(logits: torch.Tensor, lse: torch.Tensor, tid: int):
        t = logits[:, tid]
        return (logits > t[:, None]).sum(-1).int().cpu(), (t - lse).exp().cpu()

    # one row at a time: a [pos, vocab] slab each, never [rows, pos, vocab]
    top_ids, top_probs = [], []
    found = {tid: ([], []) for tid in track_ids}
    if progress is None:
        progress = False if ids.shape[1] <= 256 else None
    tick = ticker(progress, resid.shape[0], "logit lens", "layer")
    for r in range(resid.shape[0]):
        logits, lse = read_row(r)
        v, i = logits.topk(k, dim=-1)
        top_ids.append(i.cpu())
        top_probs.append((v - lse[:, None]).exp().cpu())
        for tid, (ranks, probs) in found.items():
            rk, pr = rank_prob(logits, lse, tid)
            ranks.append(rk)
            probs.append(pr)
        del logits
        tick(1)
    tick(None)
    top_ids_t = torch.stack(top_ids)

    def tracked_token(tid: int, ranks, probs) -> TrackedToken:
        return TrackedToken(token_id=tid, label=model.to_str_tokens([tid])[0],
                            rank=torch.stack(ranks).numpy(), prob=torch.stack(probs).numpy())

    def track_fn(token) -> TrackedToken:
        """Follow one more token: recomputed from the kept residual stream, a row at a time."""
        tid = model.token_id(token)
        ranks, probs = [], []
        for r in range(resid.shape[0]):
            rk, pr = rank_prob(*read_row(r), tid)
            ranks.append(rk)
            probs.append(pr)
        return tracked_token(tid, ranks, probs)

    tracked = [tracked_token(tid, *found[tid]) for tid in dict.fromkeys(track_ids)]

    used = sorted(set(top_ids_t.flatten().tolist()) | {t.token_id for t in tracked})
    vocab = {i: model.to_str_tokens([i])[0] for i in used}  # each id decoded alone
    return LogitLens(
        tokens=model.to_str_tokens(ids[0]),
        layers=["embed"] + [str(l) for l in range(model.n_layers)],
        top_ids=top_ids_t.numpy(),
        top_probs=torch.stack(top_probs).numpy(),
        vocab=vocab,
        tracked=tracked,
        model_name=model.name,
        predicts="same" if model.is_masked_lm else "next",
        _source=LensSource(track=track_fn),
    )
