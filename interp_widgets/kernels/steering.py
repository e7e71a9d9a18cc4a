"""Steering: directions you add to the residual stream (the linear representation
hypothesis). ``iw.steering_vector`` builds one as a difference of means; ``iw.steered``
runs the model with it added, for next-token distributions and greedy/sampled generation.

The vector is added to ``blocks.{layer}.hook_resid_post`` at every position (prompt and
generated tokens), scaled by ``coefficient``. The hook lives only inside the call: it is
removed afterwards, also when the call raised.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, Optional, Sequence, Union

import numpy as np
import torch

from ..model import Model
from .activations import run_with_cache

__all__ = ["SteeringVector", "steering_vector", "steered_logits", "generate"]


@dataclass
class SteeringVector:
    """A residual-stream direction at one layer.

    Attributes:
        vector: ``float32 [d_model]``; layer: where it is added (``resid_post``).
        source: how it was made (e.g. ``"mean difference of 8 vs 8 texts"``).
    """

    vector: np.ndarray
    layer: int
    source: str = ""

    @property
    def norm(self) -> float:
        return float(np.linalg.norm(self.vector))

    def __repr__(self) -> str:
        return f"SteeringVector(layer={self.layer}, norm={self.norm:.3f}, {self.source})"


def _mean_resid(model: Model, texts: list[str], layer: int, position: str) -> torch.Tensor:
    name = f"blocks.{layer}.hook_resid_post"
    total, count = None, 0
    for i in range(0, len(texts), 16):
        cache = run_with_cache(model, texts[i:i + 16], names=name, keep_logits=False)
        x, mask = cache[name].float(), cache.attention_mask.float()
        if position == "mean":
            v = (x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        else:  # last
            v = x[torch.arange(x.shape[0]), mask.sum(1).long() - 1]
        total = v.sum(0) if total is None else total + v.sum(0)
        count += v.shape[0]
    return total / count


@torch.no_grad()
def steering_vector(model: Model, positive: Sequence[str], negative: Sequence[str], layer: int, *,
                    position: str = "mean") -> SteeringVector:
    """Difference of mean residual streams after ``layer``: positive texts minus negative.

    ``position``: ``"mean"`` (each text's mean over its tokens) or ``"last"``.
    """
    positive, negative = list(positive), list(negative)
    if not positive or not negative:
        raise ValueError("give at least one positive and one negative text")
    if position not in ("mean", "last"):
        raise ValueError(f"position must be 'mean' or 'last', got {position!r}")
    if not -model.n_layers <= layer < model.n_layers:
        raise ValueError(f"layer {layer} is out of range: {model.name} has {model.n_layers} layers")
    layer %= model.n_layers
    v = _mean_resid(model, positive, layer, position) - _mean_resid(model, negative, layer, position)
    return SteeringVector(vector=v.cpu().numpy().astype(np.float32), layer=layer,
                          source=f"mean difference of {len(positive)} vs {len(negative)} texts ({position})")


def _steer_hook(model: Model, vector: Union[SteeringVector, np.ndarray, torch.Tensor], layer: Optional[int],
                coefficient: float):
    if not math.isfinite(float(coefficient)):
        raise ValueError(f"the coefficient must be a finite number, got {coefficient!r}")
    if isinstance(vector, SteeringVector):
        layer = vector.layer if layer is None else layer
        vector = vector.vector
    if layer is None:
        raise ValueError("give the layer to steer at (or a SteeringVector, which knows it)")
    if not -model.n_layers <= layer < model.n_layers:
        raise ValueError(f"layer {layer} is out of range: {model.name} has {model.n_layers} layers")
    v = torch.as_tensor(np.asarray(vector, dtype=np.float32) if not torch.is_tensor(vector) else vector)
    if v.shape != (model.d_model,):
        raise ValueError(f"the steering vector must have shape [{model.d_model}] (d_model), got {tuple(v.shape)}")
    if not torch.isfinite(v).all():
        raise ValueError("the steering vector contains NaN or inf")
    add = (float(coefficient) * v).to(device=model.device, dtype=model.dtype)
    return (f"blocks.{layer % model.n_layers}.hook_resid_post", lambda t, name: t + add)


@torch.no_grad()
def steered_logits(model: Model, text: str, vector, layer: Optional[int] = None,
                   coefficient: float = 1.0) -> torch.Tensor:
    """Next-token logits ``[vocab]`` at the last position with the vector added."""
    hook = _steer_hook(model, vector, layer, coefficient)
    ids = model.to_tokens(text)
    with model.hooks([hook]):
        return model.logits_from_hidden(model.forward_hidden(ids)[:, -1])[0].float()


@torch.no_grad()
def generate(model: Model, text: str, max_new_tokens: int = 20, *, vector=None, layer: Optional[int] = None,
             coefficient: float = 0.0, temperature: float = 0.0, seed: int = 0) -> Iterator[str]:
    """Yield the continuation of ``text`` token by token (greedy when ``temperature`` is 0,
    else sampled with ``seed``), with ``coefficient * vector`` added at ``layer`` if given.
    Stops at the end-of-sequence token. The steering hook is attached for each step and
    removed after it, so stopping the iteration early leaves nothing behind."""
    if not model.is_causal:
        raise ValueError(f"{model.name} is an encoder: it does not generate text")
    if max_new_tokens < 1:
        raise ValueError("max_new_tokens must be >= 1")
    if not (math.isfinite(temperature) and temperature >= 0):
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}")
    hooks = [] if vector is None or coefficient == 0 else [_steer_hook(model, vector, layer, coefficient)]
    ids = model.to_tokens(text)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    eos = model.tokenizer.eos_token_id
    for _ in range(max_new_tokens):
        with model.hooks(hooks):
            logits = model.logits_from_hidden(model.forward_hidden(ids)[:, -1])[0].float()
        if temperature == 0:
            nxt = int(logits.argmax())
        else:
            probs = torch.softmax(logits / temperature, -1).cpu()
            nxt = int(torch.multinomial(probs, 1, generator=gen))
        if eos is not None and nxt == eos:
            return
        ids = torch.cat([ids, torch.tensor([[nxt]], device=ids.device)], 1)
        toks = model.to_str_tokens(ids[0])
        yield toks[-1]
