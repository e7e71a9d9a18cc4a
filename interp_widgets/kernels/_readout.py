"""What a kernel reads from a model's output when it compares runs (ablation, patching): a
causal LM's next-token logits after the last position; a masked LM's logits at a position
of the text (default: its first mask token); a classifier's class logits."""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Callable, Optional

import torch

from ..model import Model


@dataclass
class Readout:
    logits: Callable[[torch.Tensor], torch.Tensor]  # last hidden states [batch, pos, d] -> [batch, outcomes]
    what: str  # "next token", "token at [MASK] #6", "class"
    label: Callable[[int], str]  # outcome index -> display string
    single_label: bool = True  # False: a regression or multi-label head (no distribution)


def readout(model: Model, ids: torch.Tensor, position: Optional[int], purpose: str) -> Readout:
    """The readout for ``ids`` ``[1, pos]``; ``purpose`` ("ablation", "patching") words the
    errors."""
    if model.is_causal:
        if position is not None:
            raise ValueError(f"position= is for masked LMs; a causal LM's {purpose} reads the next token")
        return Readout(lambda h: model.logits_from_hidden(h[:, -1]), "next token",
                       lambda i: model.to_str_tokens([i])[0])
    if model.is_classifier:
        if position is not None:
            raise ValueError(f"position= is for masked LMs; a classifier's {purpose} reads its classes")
        single = len(model.labels) >= 2 and getattr(model.config, "problem_type", None) not in (
            "regression", "multi_label_classification")
        return Readout(model.class_logits, "class", lambda i: model.labels[i], single)
    if model.is_masked_lm:
        p = mask_position(model, ids, position)
        tok = model.to_str_tokens([int(ids[0, p])])[0]
        return Readout(lambda h: model.logits_from_hidden(h[:, p]), f"token at {tok} #{p}",
                       lambda i: model.to_str_tokens([i])[0])
    raise ValueError(f"{model.name} is an encoder without a language-model or classification head: {purpose} here "
                     f"compares output logits; use model.hooks([(name, fn)]) (fn returns the activation to write) "
                     f"and a metric of your own on the hidden states")


def mask_positions(model: Model, ids: torch.Tensor) -> list[int]:
    """Every mask token's position in ``ids`` ``[1, pos]``; a ValueError saying what to do
    where there is none."""
    masks = [] if model.mask_token_id is None else (ids[0] == model.mask_token_id).nonzero()[:, 0].tolist()
    if not masks:
        mask = getattr(model.tokenizer, "mask_token", None)
        if mask is None:
            raise ValueError(f"{model.name} is a masked LM whose tokenizer has no mask token: give position= the "
                             f"index of a token to read the model's prediction there")
        raise ValueError(f"{model.name} is a masked LM: put its mask token {mask!r} in the text where it should "
                         f"predict a token (e.g. 'Paris is the {mask} of France.'), or give position= the index "
                         f"of a token to read its prediction")
    return masks


def mask_position(model: Model, ids: torch.Tensor, position: Optional[int]) -> int:
    """A masked LM's read position in ``ids`` ``[1, pos]``: ``position`` (an int, negative
    allowed), or the first mask token."""
    n = ids.shape[1]
    if position is None:
        return mask_positions(model, ids)[0]
    if isinstance(position, bool) or not isinstance(position, numbers.Integral):
        raise ValueError(f"position must be a token index (an int), got {position!r}")
    if not -n <= int(position) < n:
        raise ValueError(f"position {position} is out of range: the text has {n} tokens")
    return int(position) % n
