"""Read every activation of a forward pass: ``iw.run_with_cache``.

One forward pass (batched over texts) with read hooks on the hook points asked for; the
tensors are kept, detached, under their canonical names (see :class:`~interp_widgets.Model`).

Padding: several texts are right-padded to the longest and run with an attention mask, so
each text's real positions see exactly what they would see alone (same positions, padded
keys masked). Values at padded positions are meaningless; the cache sets them to 0 (every
activation at a padded position; for attention patterns, the rows of padded queries — the
columns of padded keys are already 0). ``cache.lengths`` gives each text's real length and
``cache.text(i)`` one text's activations without padding.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Callable, Iterator, Optional, Sequence, Union

import torch

from ..model import Model, free_memory

__all__ = ["ActivationCache", "run_with_cache", "SHORTHANDS"]

#: ``cache[short, layer]`` -> ``blocks.{layer}.{suffix}``; ``cache[short]`` for the global ones.
SHORTHANDS = {
    "resid_pre": "hook_resid_pre",
    "resid_mid": "hook_resid_mid",
    "resid_post": "hook_resid_post",
    "normalized_resid_mid": "hook_normalized_resid_mid",  # post-LayerNorm encoders (BERT)
    "normalized_resid_post": "hook_normalized_resid_post",
    "attn_out": "hook_attn_out",
    "mlp_out": "hook_mlp_out",
    "pattern": "attn.hook_pattern",
    "z": "attn.hook_z",
    "post": "mlp.hook_post",
    "mlp_post": "mlp.hook_post",
    "embed": "hook_embed",
    "pos_embed": "hook_pos_embed",
    "normalized": "ln_final.hook_normalized",
    "ln_final": "ln_final.hook_out",
    "ln_final_out": "ln_final.hook_out",
}

_GLOBAL_SHORTHANDS = ("embed", "pos_embed", "normalized", "ln_final", "ln_final_out")  # not per layer

Names = Union[None, str, Sequence[str], Callable[[str], bool]]


class ActivationCache(Mapping):
    """Activations by hook name, from :func:`run_with_cache`.

    Keys are canonical hook names (``blocks.3.attn.hook_pattern``). Also accepted:
    ``cache["pattern", 3]``, ``cache["resid_post", -1]`` (shorthands: ``SHORTHANDS``),
    ``cache["blocks.-1.hook_resid_post"]`` and ``cache["embed"]``.

    Every tensor has a leading batch dimension (1 for a single text). Attributes:
    ``tokens`` (one list of token strings per text), ``lengths`` (real lengths),
    ``attention_mask`` ``[batch, pos]`` (1 = real token), ``logits`` (if kept).
    """

    def __init__(self, data: dict[str, torch.Tensor], *, n_layers: int, tokens: list[list[str]],
                 attention_mask: torch.Tensor, logits: Optional[torch.Tensor] = None):
        self._data = data
        self.n_layers = n_layers
        self.tokens = tokens
        self.attention_mask = attention_mask
        self.lengths = [len(t) for t in tokens]
        self.logits = logits

    # ---- lookup ----------------------------------------------------------------------
    def _key(self, key) -> str:
        if isinstance(key, tuple):
            if len(key) != 2 or not isinstance(key[0], str) or not isinstance(key[1], int):
                raise KeyError(f"use cache[name, layer], e.g. cache['pattern', 3]; got {key!r}")
            short, layer = key
            suffix = SHORTHANDS.get(short, short)
            if not -self.n_layers <= layer < self.n_layers:
                raise KeyError(f"layer {layer} is out of range: the model has {self.n_layers} layers")
            key = f"blocks.{layer % self.n_layers}.{suffix}"
        elif isinstance(key, str):
            if key in _GLOBAL_SHORTHANDS:
                key = SHORTHANDS[key]
            m = re.fullmatch(r"blocks\.(-?\d+)\.(.+)", key)
            if m and -self.n_layers <= int(m.group(1)) < 0:
                key = f"blocks.{int(m.group(1)) % self.n_layers}.{m.group(2)}"
        else:
            raise KeyError(f"cache keys are hook names (str) or (name, layer) pairs; got {key!r}")
        if key not in self._data:
            have = sorted({re.sub(r"^blocks\.\d+\.", "blocks.{l}.", n) for n in self._data})
            raise KeyError(f"{key!r} is not in this cache; it holds: {', '.join(have) or 'nothing'}")
        return key

    def __getitem__(self, key) -> torch.Tensor:
        return self._data[self._key(key)]

    def __contains__(self, key) -> bool:
        try:
            self._key(key)
            return True
        except KeyError:
            return False

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    @property
    def names(self) -> list[str]:
        return list(self._data)

    # ---- moving and slicing -------------------------------------------------------------
    def to(self, device) -> "ActivationCache":
        """A cache with every tensor on ``device`` (e.g. ``"cpu"``)."""
        mv = {k: v.to(device) for k, v in self._data.items()}
        return ActivationCache(mv, n_layers=self.n_layers, tokens=self.tokens,
                               attention_mask=self.attention_mask.to(device),
                               logits=None if self.logits is None else self.logits.to(device))

    def text(self, i: int) -> "ActivationCache":
        """The activations of text ``i`` alone: batch 1, padding cut off."""
        if not -len(self.tokens) <= i < len(self.tokens):
            raise IndexError(f"text {i} is out of range: the cache holds {len(self.tokens)} texts")
        n = self.lengths[i]
        out = {}
        for k, v in self._data.items():
            out[k] = v[i:i + 1, :, :n, :n] if k.endswith("hook_pattern") else v[i:i + 1, :n]
        return ActivationCache(out, n_layers=self.n_layers, tokens=[self.tokens[i]],
                               attention_mask=self.attention_mask[i:i + 1, :n],
                               logits=None if self.logits is None else self.logits[i:i + 1, :n])

    def __repr__(self) -> str:
        return (f"ActivationCache({len(self._data)} tensors, texts={len(self.tokens)}, "
                f"lengths={self.lengths})")


def _select(model: Model, names: Names) -> list[str]:
    """Hook names to keep: None (all), a name, a list of names, or a predicate."""
    every = model.hook_names
    if names is None:
        return every
    if callable(names):
        chosen = [n for n in every if names(n)]
        if not chosen:
            raise ValueError("the names filter matched no hook point; valid names: "
                             + ", ".join(sorted({re.sub(r'^blocks\.\d+\.', 'blocks.{l}.', n) for n in every})))
        return chosen
    if isinstance(names, str):
        names = [names]
    out: list[str] = []
    for n in names:
        if not isinstance(n, str):
            raise ValueError(f"hook names must be strings, got {type(n).__name__}")
        if n in SHORTHANDS or (n not in every and any(x.endswith("." + n) for x in every)
                               and not n.startswith("blocks.")):
            # a shorthand or a per-layer suffix: that hook point in every layer
            suffix = SHORTHANDS.get(n, n)
            matched = [x for x in every if x == suffix or x.endswith("." + suffix)]
            if not matched:
                raise ValueError(f"{model.name} has no {n!r} hook point (family {model.family.name})")
            out += matched
        else:
            out.append(model.resolve(n))  # raises with the list of valid names
    return list(dict.fromkeys(out))


def _tokenize_batch(model: Model, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    rows = [model.to_tokens(t)[0] for t in texts]  # validates each text (empty, too long)
    n = max(len(r) for r in rows)
    pad = model.tokenizer.pad_token_id
    if pad is None:
        pad = model.tokenizer.eos_token_id if model.tokenizer.eos_token_id is not None else 0
    ids = torch.full((len(rows), n), int(pad), dtype=torch.long, device=model.device)
    mask = torch.zeros((len(rows), n), dtype=torch.long, device=model.device)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = r
        mask[i, :len(r)] = 1
    return ids, mask


def _upper_bound(model: Model, chosen: list[str], ids: torch.Tensor, keep_logits: bool) -> int:
    """A cheap bound on the cache's bytes: every site as wide as the widest a config names."""
    cfg, (b, n) = model.config, ids.shape
    head_dim = getattr(cfg, "head_dim", None) or model.d_model // model.n_heads
    width = max(model.d_model, model.n_heads * head_dim, model.d_mlp)
    per = [model.n_heads * n * n if c.endswith("hook_pattern") else n * width for c in chosen]
    logits = n * int(cfg.vocab_size) if keep_logits else 0
    return 8 * b * (sum(per) + logits)  # 8 bytes: float64 at most


def _check_size(model: Model, chosen: list[str], ids: torch.Tensor, mask: torch.Tensor, keep_logits: bool,
                max_gib: Optional[float]) -> None:
    """Refuse a cache larger than ``max_gib`` (default: 3/4 of the device's free memory)."""
    if max_gib is not None and not max_gib > 0:
        raise ValueError(f"max_gib must be a positive number of GiB (float('inf') skips the check), got {max_gib!r}")
    if max_gib is None:
        free = free_memory(model.device)
        if free is None:
            return
        limit, where = 0.75 * free, f"3/4 of the {free / 2**30:.1f} GiB free on {model.device.type}"
    else:
        limit, where = max_gib * 2**30, f"max_gib={max_gib:g}"
    if _upper_bound(model, chosen, ids, keep_logits) <= limit:  # the usual case: no need to measure
        return
    parts = _cache_bytes(model, chosen, ids, mask, keep_logits)
    total = sum(parts.values())
    if total <= limit:
        return
    n_texts, n_tokens = ids.shape
    detail = ", ".join(f"{k} {v / 2**30:.1f} GiB" for k, v in sorted(parts.items(), key=lambda kv: -kv[1]))
    logits = ", pass keep_logits=False" if parts.get("logits", 0) > 0.1 * total else ""
    raise ValueError(
        f"the cache of {n_texts} text(s) of up to {n_tokens} tokens would take {total / 2**30:.1f} GiB "
        f"({detail}), more than {where}: keep fewer hook points (e.g. names='resid_post'){logits}, "
        f"or run fewer or shorter texts at a time; max_gib=float('inf') skips this check")


def _cache_bytes(model: Model, chosen: list[str], ids: torch.Tensor, mask: torch.Tensor,
                 keep_logits: bool) -> dict[str, int]:
    """Bytes the cache of ``chosen`` will take for this batch, by kind: measured on a forward
    pass of two tokens (the shapes of every family without a table of them), scaled by the
    batch and the length (attention patterns by its square)."""
    t0 = min(2, ids.shape[1])
    sizes: dict[str, int] = {}

    def measure(t: torch.Tensor, name: str):
        sizes[name] = t.numel() * t.element_size()

    with model.hooks([(n, measure) for n in chosen]):
        model.forward_hidden(ids[:1, :t0], attention_mask=mask[:1, :t0])
    b, n = ids.shape
    out: dict[str, int] = {}
    for name, size in sizes.items():
        kind = "patterns" if name.endswith("hook_pattern") else "activations"
        grow = (n / t0) ** 2 if kind == "patterns" else n / t0
        out[kind] = out.get(kind, 0) + int(size * b * grow)
    if keep_logits and model.is_causal:
        out["logits"] = b * n * int(model.config.vocab_size) * 4
    return out


def _pair_batch(model: Model, texts: list[str], pairs: list[str]) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """Sentence pairs right-padded into one batch: ids, mask and (where the model has them)
    segment ids, padded with 0."""
    rows = [model.pair_tokens(t, p) for t, p in zip(texts, pairs)]
    n = max(len(r[0]) for r in rows)
    pad = model.tokenizer.pad_token_id if model.tokenizer.pad_token_id is not None else 0
    ids = torch.full((len(rows), n), int(pad), dtype=torch.long, device=model.device)
    mask = torch.zeros((len(rows), n), dtype=torch.long, device=model.device)
    types = torch.zeros((len(rows), n), dtype=torch.long, device=model.device)
    for i, (r, tt, _) in enumerate(rows):
        ids[i, :len(r)], mask[i, :len(r)] = r, 1
        if tt is not None:
            types[i, :len(r)] = tt
    return ids, mask, ({"token_type_ids": types} if rows[0][1] is not None else {})


@torch.no_grad()
def run_with_cache(model: Model, text_or_texts: Union[str, Sequence[str]], names: Names = None, *,
                   text_pair: Union[str, Sequence[str], None] = None, keep_logits: bool = True,
                   max_gib: Optional[float] = None) -> ActivationCache:
    """Run the model once and keep the activations at the hook points asked for.

    Args:
        model: a :class:`~interp_widgets.Model`.
        text_or_texts: one text, or a list of texts (right-padded into one batch; see the
            module's notes on padding).
        names: which hook points to keep: ``None`` (all), one name, a list, or a callable
            ``name -> bool``. A name may be a full hook name (``blocks.-1.hook_resid_post``),
            a per-layer suffix (``attn.hook_pattern``) or a shorthand (``"pattern"``,
            ``"resid_post"``...), meaning that hook point in every layer.
        text_pair: for encoders trained on sentence pairs (BERT): the second sentence of
            each text (one string, or a list as long as the texts); each pair runs as
            ``[CLS] text [SEP] text_pair [SEP]`` with its segment ids, as in ``iw.attention``.
        keep_logits: keep the output logits (causal LMs) or last hidden states (encoders);
            ``False`` skips the LM head.
        max_gib: refuse, before running, a cache larger than this (GiB). Default: 3/4 of
            the memory free on the model's device (where it can be read), so that asking for
            every hook point of a long text gives an error that says what to keep instead of
            a dead kernel. ``float("inf")`` switches the check off.

    Attention patterns are computed whatever attention implementation the model was loaded
    with (the run switches to an eager attention of ours and back).

    Returns an :class:`ActivationCache` on the model's device (``.to("cpu")`` to move it).
    """
    texts = [text_or_texts] if isinstance(text_or_texts, str) else list(text_or_texts)
    if not texts:
        raise ValueError("no texts given: pass a string or a non-empty list of strings")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"texts must be strings; text {i} is {type(t).__name__}")
    chosen = _select(model, names)
    extra: dict = {}
    if text_pair is None:
        ids, mask = _tokenize_batch(model, texts)
    else:
        pairs = [text_pair] * len(texts) if isinstance(text_pair, str) else list(text_pair)
        if len(pairs) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(pairs)} text_pair entries: give one per text")
        ids, mask, extra = _pair_batch(model, texts, pairs)
    _check_size(model, chosen, ids, mask, keep_logits, max_gib)
    store: dict[str, torch.Tensor] = {}

    def keep(t: torch.Tensor, name: str):
        store[name] = t.detach()

    with model.hooks([(n, keep) for n in chosen]):
        # without logits, skip the LM head (a vocab x d_model product at every position)
        out = model.forward_hidden(ids, attention_mask=mask, **extra)
        if keep_logits and model.is_causal:
            out = model.logits_from_hidden(out)

    if not bool(mask.all()):
        for name, t in store.items():
            if name.endswith("hook_pattern"):  # [batch, head, q, k]: rows of padded queries
                store[name] = t * mask[:, None, :, None].to(t.dtype)
            else:  # [batch, pos, ...]
                store[name] = t * mask.reshape(mask.shape + (1,) * (t.dim() - 2)).to(t.dtype)
    tokens = [model.to_str_tokens(ids[i, : int(mask[i].sum())]) for i in range(len(texts))]
    data = {n: store[n] for n in chosen if n in store}
    missing = [n for n in chosen if n not in store]
    if missing:
        raise RuntimeError(f"these hook points did not fire during the forward pass: {missing[:5]}")
    return ActivationCache(data, n_layers=model.n_layers, tokens=tokens, attention_mask=mask,
                           logits=out.detach() if keep_logits else None)
