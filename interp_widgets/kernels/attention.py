"""Attention patterns of every head, and head detectors: ``iw.attention``.

Head detectors score each head by the mean attention it pays, on a batch of *repeated
random tokens* (``[BOS] r_1..r_L r_1..r_L``), to a particular key (Olsson et al. 2022,
"In-context learning and induction heads"):

- ``previous_token``: query ``q`` -> key ``q - 1`` (every query after the first token);
- ``duplicate_token``: a second-half query -> the first occurrence of the same token
  (``q - L``);
- ``induction``: a second-half query -> the token right after that first occurrence
  (``q - L + 1``): what a head that completes ``A B ... A -> B`` attends to.

Random tokens make the scores a property of the head, not of one text: the first half is
unpredictable, so only heads that use the repetition itself attend to ``q - L`` or
``q - L + 1``. Scores lie in [0, 1] (1: all of the query's attention on that key).
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from ..model import Model
from ..results.attention import DETECTORS, AttentionPatterns, AttentionSource

__all__ = ["attention", "head_detector_scores", "detector_scores_from_patterns"]

# Keep the patterns of one text under this many bytes (float32, every layer and head).
_MAX_PATTERN_BYTES = 1.5 * 2**30


def _special_ids(tok) -> set[int]:
    ids = set(getattr(tok, "all_special_ids", []) or [])
    for k in ("bos_token_id", "eos_token_id", "pad_token_id", "unk_token_id"):
        v = getattr(tok, k, None)
        if v is not None:
            ids.add(int(v))
    return ids


def repeated_random_tokens(model: Model, seq_len: int, batch: int, seed: int) -> tuple[torch.Tensor, int]:
    """``[batch, prefix + 2 * seq_len]`` ids: an optional BOS, then ``seq_len`` random
    ordinary tokens (distinct within a row when the vocabulary allows), repeated once.
    Returns the ids and the prefix length (1 with a BOS token, else 0)."""
    tok = model.tokenizer
    vocab = model.embed.weight.shape[0]
    special = _special_ids(tok)
    pool = torch.tensor([i for i in range(min(vocab, len(tok))) if i not in special])
    if len(pool) < 2:
        raise ValueError("the vocabulary has too few ordinary tokens for the head detectors")
    g = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(batch):
        if len(pool) >= seq_len:
            r = pool[torch.randperm(len(pool), generator=g)[:seq_len]]
        else:
            r = pool[torch.randint(len(pool), (seq_len,), generator=g)]
        rows.append(torch.cat([r, r]))
    ids = torch.stack(rows)
    bos = getattr(tok, "bos_token_id", None)
    prefix = 0
    if bos is not None:
        ids = torch.cat([torch.full((batch, 1), int(bos)), ids], dim=1)
        prefix = 1
    return ids.to(model.device), prefix


def detector_scores_from_patterns(patterns: torch.Tensor, seq_len: int, prefix: int,
                                  causal: bool = True) -> dict[str, np.ndarray]:
    """Detector scores from patterns ``[batch, layer, head, q, k]`` of repeated sequences
    (``prefix`` tokens, then ``seq_len`` tokens twice). Returns name -> ``[layer, head]``
    (``next_token`` only where not ``causal``)."""
    p = patterns.float()
    n = p.shape[-1]
    assert n == prefix + 2 * seq_len, (n, prefix, seq_len)
    q_all = torch.arange(prefix + 1 if prefix else 1, n)  # queries with a previous token of the text
    q2 = torch.arange(prefix + seq_len, n)  # second-half queries
    prev = p[..., q_all, q_all - 1].mean(dim=(0, -1))
    dup = p[..., q2, q2 - seq_len].mean(dim=(0, -1))
    ind = p[..., q2, q2 - seq_len + 1].mean(dim=(0, -1))
    out = {"previous_token": prev, "duplicate_token": dup, "induction": ind}
    if not causal:
        q_next = torch.arange(prefix, n - 1)  # queries with a next token
        out["next_token"] = p[..., q_next, q_next + 1].mean(dim=(0, -1))
    return {k: out[k].cpu().numpy().astype(np.float32) for k in DETECTORS if k in out}


@torch.no_grad()
def head_detector_scores(model: Model, seq_len: int = 40, batch: int = 4, seed: int = 0) -> dict[str, np.ndarray]:
    """Previous-token, duplicate-token and induction scores of every head
    (``[n_layers, n_heads]`` each), measured on ``batch`` sequences of ``seq_len`` random
    tokens repeated twice (see the module's notes). Memoised per model and arguments."""
    if seq_len < 2 or batch < 1:
        raise ValueError("seq_len must be >= 2 and batch >= 1")
    key = ("head_detector_scores", seq_len, batch, seed)
    memo = model.__dict__.setdefault("_memo", {})
    if key in memo:
        return {k: v.copy() for k, v in memo[key].items()}
    ids, prefix = repeated_random_tokens(model, seq_len, batch, seed)
    if model.n_ctx is not None and ids.shape[1] > model.n_ctx:
        raise ValueError(f"seq_len {seq_len} is too long for the model's context of {model.n_ctx} tokens")
    layers: list[Optional[torch.Tensor]] = [None] * model.n_layers

    def keep(t, name):
        layers[int(name.split(".")[1])] = t.detach().float()

    names = [f"blocks.{l}.attn.hook_pattern" for l in range(model.n_layers)]
    with model.hooks([(n, keep) for n in names]):
        model(ids, attention_mask=torch.ones_like(ids))
    scores = detector_scores_from_patterns(torch.stack(layers, dim=1), seq_len, prefix, causal=model.is_causal)
    memo[key] = scores
    return {k: v.copy() for k, v in scores.items()}


@torch.no_grad()
def attention(model: Model, text: str, text_pair: Optional[str] = None, *, detectors: bool = True,
              seq_len: int = 40, batch: int = 4, seed: int = 0) -> AttentionPatterns:
    """Every head's attention pattern on ``text``, with head detector scores.

    Args:
        model: a :class:`~interp_widgets.Model` (any attention implementation: patterns are
            computed by an eager attention of ours for this run).
        text: the text to look at.
        text_pair: a second sentence, for encoders trained on pairs (BERT:
            ``[CLS] text [SEP] text_pair [SEP]`` with segment ids 0 and 1, as bertviz shows
            them); the result's ``pair_start`` is where it begins.
        detectors: also score every head as previous-token, duplicate-token and induction
            head (on repeated random tokens; see :func:`head_detector_scores`).
        seq_len, batch, seed: the detectors' random sequences.

    Returns an :class:`~interp_widgets.results.AttentionPatterns`; ``.show()`` opens the
    AttentionView.
    """
    ids, extra, pair_start = _encode(model, text, text_pair)
    n = ids.shape[1]
    size = model.n_layers * model.n_heads * n * n * 4
    if size > _MAX_PATTERN_BYTES:
        raise ValueError(
            f"the text is {n} tokens: all {model.n_layers * model.n_heads} attention patterns would take "
            f"{size / 2**30:.1f} GiB; use a shorter text (at most "
            f"{int((_MAX_PATTERN_BYTES / (model.n_layers * model.n_heads * 4)) ** 0.5)} tokens for this model), "
            f"or read single layers with iw.run_with_cache(model, text, names='blocks.L.attn.hook_pattern')")
    layers: list[Optional[np.ndarray]] = [None] * model.n_layers

    def keep(t, name):
        layers[int(name.split(".")[1])] = t[0].detach().float().cpu().numpy()

    names = [f"blocks.{l}.attn.hook_pattern" for l in range(model.n_layers)]
    with model.hooks([(nm, keep) for nm in names]):
        model.forward_hidden(ids, attention_mask=torch.ones_like(ids), **extra)
    patterns = np.stack(layers)
    scores = head_detector_scores(model, seq_len=seq_len, batch=batch, seed=seed) if detectors else {}
    source = None
    from .ablation import ablate, readout

    try:  # what switching heads off compares: the next token, a [MASK]'s token, the class
        what = readout(model, ids).what
    except ValueError:  # an encoder with nothing to compare (no head, no mask in the text)
        what = None
    if what is not None:
        def ablate_heads(heads, mode: str = "zero", k: int = 10):
            return ablate(model, text, heads=[tuple(h) for h in heads], mode=mode, k=k, text_pair=text_pair)

        source = AttentionSource(ablate=ablate_heads, readout=what)
    return AttentionPatterns(
        tokens=model.to_str_tokens(ids[0]),
        patterns=patterns,
        head_scores=scores,
        causal=model.is_causal,
        model_name=model.name,
        info={"detectors": {"seq_len": seq_len, "batch": batch, "seed": seed,
                            "sequence": ("[BOS] + " if getattr(model.tokenizer, "bos_token_id", None) is not None
                                         else "") + "random tokens repeated twice"} if detectors else None},
        pair_start=pair_start,
        _source=source,
    )


def _encode(model: Model, text: str, text_pair: Optional[str]):
    """Token ids ``[1, pos]``, extra forward arguments (segment ids) and where the second
    sentence starts (None for one text)."""
    if text_pair is None:
        return model.to_tokens(text), {}, None
    ids, types, start = model.pair_tokens(text, text_pair)
    return ids[None], ({} if types is None else {"token_type_ids": types[None]}), start
