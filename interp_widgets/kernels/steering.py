"""Steering: directions you add to the residual stream (the linear representation
hypothesis). ``iw.steering_vector`` builds one as a difference of means; ``iw.steered``
runs the model with it added, for next-token distributions and greedy/sampled generation.

The vector is added to ``blocks.{layer}.hook_resid_post`` at every position (prompt and
generated tokens), scaled by ``coefficient``. The hook lives only inside the call: it is
removed afterwards, also when the call raised.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass
from typing import Any, Iterator, Optional, Sequence, Union

import numpy as np
import torch

from ..model import Model
from .activations import run_with_cache

__all__ = ["SteeringVector", "steering_vector", "steered_logits", "generate", "Generation"]

_RESID_HOOK = re.compile(r"blocks\.(\d+)\.hook_resid_(pre|post)")


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

    @classmethod
    def from_sae(cls, sae: Any, feature: int) -> "SteeringVector":
        """The decoder row ``W_dec[feature]`` of an SAE on the residual stream, raw (not
        normalised: ``.norm`` says its length; SAELens decoders usually have unit rows).

        The layer comes from the SAE's ``hook_name``: ``blocks.L.hook_resid_post`` steers
        at ``L``; ``blocks.L.hook_resid_pre`` is the same tensor as ``resid_post`` of
        ``L - 1`` and steers there. Other hook points (``mlp.hook_post``, ``hook_attn_out``,
        ``hook_resid_mid``, ...) are not the residual stream between blocks: ValueError.

        >>> import numpy as np
        >>> from types import SimpleNamespace
        >>> sae = SimpleNamespace(W_dec=np.eye(4, dtype=np.float32), hook_name="blocks.3.hook_resid_pre")
        >>> SteeringVector.from_sae(sae, 2).layer
        2
        """
        hook = str(getattr(sae, "hook_name", ""))
        w = getattr(sae, "W_dec", None)
        if w is None:
            raise TypeError(f"from_sae needs an SAE (with W_dec and hook_name), got {type(sae).__name__}")
        m = _RESID_HOOK.fullmatch(hook)
        if m is None:
            raise ValueError(
                f"this SAE reads {hook!r}, which is not the residual stream between blocks: a "
                "steering vector is added to blocks.L.hook_resid_post, so only SAEs on "
                "blocks.L.hook_resid_post or blocks.L.hook_resid_pre give one")
        layer = int(m.group(1))
        if m.group(2) == "pre":
            if layer == 0:
                raise ValueError("this SAE reads blocks.0.hook_resid_pre (the embeddings): there is no "
                                 "block before it to steer after; use an SAE on a later layer")
            layer -= 1
        if hasattr(w, "detach"):
            w = w.detach().float().cpu().numpy()
        w = np.asarray(w, dtype=np.float32)
        if w.ndim != 2:
            raise ValueError(f"the SAE's W_dec must be [d_sae, d_in], got shape {list(w.shape)}")
        if isinstance(feature, bool) or not isinstance(feature, (int, np.integer)):
            raise TypeError(f"feature must be an int index, got {feature!r}")
        if not 0 <= int(feature) < w.shape[0]:
            raise ValueError(f"feature {feature} is out of range: this SAE has {w.shape[0]} features")
        v = np.array(w[int(feature)], dtype=np.float32)
        return cls(vector=v, layer=layer, source=f"SAE feature {int(feature)} decoder row ({hook})")

    @classmethod
    def from_probe(klass, probe: Any, layer: Optional[int] = None, cls: Any = None) -> "SteeringVector":
        """A probe's concept direction at ``layer`` (default: its best layer), in
        residual-stream units, raw (``.norm`` says its length).

        Two classes: class 1 minus class 0 (``Probe.direction``). More classes: name one
        with ``cls=``; its weight row minus the mean of the other rows. ``cls=`` also works
        with two classes (``cls=classes[0]`` gives the negated direction).

        A probe's weights are not sized like activations (their length is about 1 / the
        spread of the residual along them): pick the coefficient by the added length
        ``|c| * .norm`` (the playground shows it), or divide ``.vector`` by ``.norm``.
        """
        if not all(hasattr(probe, a) for a in ("directions", "layers", "classes", "layer_index")):
            raise TypeError(f"from_probe needs a Probe (iw.probe's result), got {type(probe).__name__}")
        j = probe.layer_index(layer)  # negative layers count from the end of the probe's model
        layer = int(probe.layers[j])
        w = np.asarray(probe.directions[j], dtype=np.float32)
        classes = list(probe.classes)
        if cls is None:
            if len(classes) != 2:
                raise ValueError(
                    f"this probe has {len(classes)} classes {classes}: name the class to steer "
                    f"toward, e.g. from_probe(probe, {layer}, cls={classes[0]!r})")
            v, what = w[1] - w[0], f"{classes[1]!r} minus {classes[0]!r}"
        else:
            if cls not in classes:
                raise ValueError(f"unknown class {cls!r}: the probe's classes are {classes}")
            i = classes.index(cls)
            others = np.delete(w, i, axis=0)
            v, what = w[i] - others.mean(0), f"{cls!r} minus the mean of the others"
        return klass(vector=np.ascontiguousarray(v, dtype=np.float32), layer=int(layer),
                   source=f"probe direction at layer {layer}: {what}")


def _mean_over_tokens(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over each text's tokens ``[b, pos, d] -> [b, d]``, leaving out the first position
    when a text has more than one token: it is the BOS, or without one (SmolLM2) the
    attention sink, whose residual norm is ~100x the others' (24,000 vs 170 at SmolLM2's layer
    15) and would swamp the mean."""
    m = mask.clone()
    m[:, 0] = torch.where(m.sum(1) > 1, torch.zeros_like(m[:, 0]), m[:, 0])
    return (x * m[..., None]).sum(1) / m.sum(1, keepdim=True)


def _mean_resid(model: Model, texts: list[str], layer: int, position: str) -> torch.Tensor:
    name = f"blocks.{layer}.hook_resid_post"
    total, count = None, 0
    for i in range(0, len(texts), 16):
        cache = run_with_cache(model, texts[i:i + 16], names=name, keep_logits=False)
        x, mask = cache[name].float(), cache.attention_mask.float()
        if position == "mean":
            v = _mean_over_tokens(x, mask)
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
    if not model.is_causal:
        raise ValueError(f"{model.name} is an encoder: it has no next-token logits to steer")
    hook = _steer_hook(model, vector, layer, coefficient)
    ids = model.to_tokens(text)
    with model.hooks([hook]):
        return model.logits_from_hidden(model.forward_hidden(ids)[:, -1])[0].float()


def _check_generation(model: Model, max_new_tokens: int, temperature: float) -> None:
    if not model.is_causal:
        raise ValueError(f"{model.name} is an encoder: it does not generate text")
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, (int, np.integer)):
        raise ValueError(f"max_new_tokens must be an int >= 1, got {max_new_tokens!r}")
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    try:
        t = float(temperature)
    except (TypeError, ValueError):
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}") from None
    if not (math.isfinite(t) and t >= 0):
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}")


class Generation:
    """One continuation, produced a token at a time by :meth:`step` (what :func:`generate`
    iterates and what the SteeringPlayground interleaves for its two columns).

    With ``use_cache=True`` (the default) the prompt runs once and each later step feeds only
    the newest token, reusing the keys and values of the earlier ones (Hugging Face's
    ``past_key_values``): a step costs one position instead of the whole prefix. The
    steered residual of earlier positions lives on in those keys and values, exactly as if
    the prefix were run again with the hook on; tests check that greedy output is the same
    token for token with and without the cache, steered or not.

    The steering hook is attached for one forward pass at a time (``model.hooks``) and
    removed after it, also when it raised, so nothing is left on the model between steps,
    after :meth:`step` returns ``None`` or when the caller simply stops calling it.

    ``only_thread``: if true, the hook adds the vector only in the thread that created the
    Generation (a background generator must not steer another analysis that runs meanwhile
    on the same model in the main thread).
    """

    def __init__(self, model: Model, text: str, *, vector=None, layer: Optional[int] = None,
                 coefficient: float = 0.0, temperature: float = 0.0, seed: int = 0,
                 use_cache: bool = True, only_thread: bool = False) -> None:
        _check_generation(model, 1, temperature)
        self.model = model
        self.temperature = float(temperature)
        self.use_cache = bool(use_cache)
        self.hooks: list = []
        if vector is not None and float(coefficient) != 0.0:
            name, fn = _steer_hook(model, vector, layer, coefficient)
            if only_thread:
                owner = threading.get_ident()
                inner = fn
                fn = lambda t, name: inner(t, name) if threading.get_ident() == owner else None  # noqa: E731
            self.hooks = [(name, fn)]
        elif vector is not None or not math.isfinite(float(coefficient)):
            _steer_hook(model, vector, layer, coefficient)  # validate all the same
        self.ids = model.to_tokens(text)
        self.n_prompt = int(self.ids.shape[1])
        self.tokens: list[str] = []
        self.done = False
        self._gen = torch.Generator(device="cpu").manual_seed(int(seed))
        self._eos = model.tokenizer.eos_token_id
        self._past = None
        self._n_ctx = model.n_ctx

    @torch.no_grad()
    def _next_logits(self) -> torch.Tensor:
        m = self.model
        # the model's lock (taken by hooks(), also with no hooks): one step at a time, never
        # in the middle of another thread's hooked run
        with m.hooks(self.hooks):
            if not self.use_cache:
                return m.logits_from_hidden(m.forward_hidden(self.ids)[:, -1])[0].float()
            if self._past is None:
                from transformers import DynamicCache

                try:
                    self._past = DynamicCache(config=m.config)
                except TypeError:  # older transformers
                    self._past = DynamicCache()
                feed = self.ids
            else:
                feed = self.ids[:, -1:]
            out = m.base(input_ids=feed, past_key_values=self._past, use_cache=True)
            return m.logits_from_hidden(out[0][:, -1])[0].float()

    def step(self) -> Optional[str]:
        """The next token's text, or ``None`` once the model emitted end-of-sequence (or the
        context is full)."""
        if self.done:
            return None
        if self._n_ctx is not None and self.ids.shape[1] >= self._n_ctx:
            self.done = True
            return None
        logits = self._next_logits()
        if self.temperature == 0:
            nxt = int(logits.argmax())
        else:
            probs = torch.softmax(logits / self.temperature, -1).cpu()
            nxt = int(torch.multinomial(probs, 1, generator=self._gen))
        if self._eos is not None and nxt == self._eos:
            self.done = True
            self._past = None
            return None
        self.ids = torch.cat([self.ids, torch.tensor([[nxt]], device=self.ids.device)], 1)
        # The text of the last token in context (the same window as Model.to_str_tokens).
        tok = self.model.to_str_tokens(self.ids[0, -5:])[-1]
        self.tokens.append(tok)
        return tok

    def close(self) -> None:
        """Drop the key/value cache (the memory it holds); later steps return None."""
        self.done = True
        self._past = None


def generate(model: Model, text: str, max_new_tokens: int = 20, *, vector=None, layer: Optional[int] = None,
             coefficient: float = 0.0, temperature: float = 0.0, seed: int = 0,
             use_cache: bool = True) -> Iterator[str]:
    """Yield the continuation of ``text`` token by token (greedy when ``temperature`` is 0,
    else sampled with ``seed``), with ``coefficient * vector`` added at ``layer`` if given.
    Stops at the end-of-sequence token. The steering hook is attached for each step and
    removed after it, so stopping the iteration early leaves nothing behind.

    ``use_cache``: reuse keys and values of earlier positions (see :class:`Generation`);
    ``False`` runs the whole prefix again at every step (same tokens, slower).

    Bad arguments raise ``ValueError`` at the call, before anything runs.
    """
    _check_generation(model, max_new_tokens, temperature)
    g = Generation(model, text, vector=vector, layer=layer, coefficient=coefficient,
                   temperature=temperature, seed=seed, use_cache=use_cache)
    return _iterate(g, int(max_new_tokens))


def _iterate(g: Generation, n: int) -> Iterator[str]:
    try:
        for _ in range(n):
            tok = g.step()
            if tok is None:
                return
            yield tok
    finally:
        g.close()
