"""Activation patching: ``iw.patch`` (exact, and attribution patching).

Exact patching runs the *corrupted* prompt with one activation replaced by its value from
the *clean* prompt, and measures a metric on the final position's logits (a masked LM's:
the logits at the clean prompt's first mask; a classifier's: its class logits), normalised so
that 0 = the corrupted run and 1 = the clean run:

    value = (metric(patched) - metric(corrupted)) / (metric(clean) - metric(corrupted))

Patching cannot change what comes before the patch, so we never recompute it:

- layers before the patched layer: every patched run starts at that layer from the
  corrupted run's residual stream (layers before it are skipped);
- positions before the patched position (causal models): their keys and values at every
  later layer are the corrupted run's, taken from its KV cache; only positions from the
  patched one on are computed (an encoder reads both ways: every position is computed);
- the LM head runs at the final position only.

Runs are batched (rows that patch nearby positions of one layer share a forward). A
``residual stream x positions`` sweep costs about a quarter of the straightforward sweep's
work (``benchmarks/patching.py`` measures it against one).

``method="attribution"``: attribution patching (Nanda 2023), a first-order estimate
``(clean - corrupted) . d metric / d activation`` at every site from two forwards and one
backward.
"""

from __future__ import annotations

import contextlib
from typing import Callable, Optional, Union

import numpy as np
import torch
from torch import nn

from ..model import Model
from ._readout import readout
from ._progress import ticker
from ..results.patching import PatchingResult, PatchingSource

__all__ = ["patch", "SITES"]

#: site name -> hook suffix within a block
SITES = {
    "resid_pre": "hook_resid_pre",
    "resid_mid": "hook_resid_mid",
    "resid_post": "hook_resid_post",
    "attn_out": "hook_attn_out",
    "mlp_out": "hook_mlp_out",
    "z": "attn.hook_z",  # per head
}

Metric = Union[str, int, tuple, Callable[[torch.Tensor], torch.Tensor]]
_BATCH_TOKENS = 4096  # rows x positions per patched forward


# --------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------

def _pair(model: Model, clean: str, corrupted: str) -> tuple[torch.Tensor, torch.Tensor]:
    a, b = model.to_tokens(clean), model.to_tokens(corrupted)
    if a.shape != b.shape:
        ta, tb = model.to_str_tokens(a[0]), model.to_str_tokens(b[0])
        raise ValueError(
            f"the clean and corrupted prompts must have the same number of tokens, got {len(ta)} and {len(tb)}:\n"
            f"  clean:     {ta}\n  corrupted: {tb}")
    return a, b


def _metric_fn(model: Model, metric: Metric) -> tuple[Callable[[torch.Tensor], torch.Tensor], str]:
    """A function of the read logits ``[batch, vocab]`` (a classifier's ``[batch, classes]``)
    -> ``[batch]``, and a label."""
    if callable(metric):
        def fn(logits):
            out = metric(logits)
            if not torch.is_tensor(out) or out.shape != (logits.shape[0],):
                raise ValueError(f"the metric must return one number per run (a tensor of shape "
                                 f"[{logits.shape[0]}]) from logits [{logits.shape[0]}, vocab], got "
                                 f"{getattr(out, 'shape', type(out).__name__)}")
            return out.float()
        return fn, getattr(metric, "__name__", "metric")
    if model.is_classifier:  # class names (or indices) instead of tokens
        ident, name = model.label_id, (lambda i: model.labels[i])
    else:
        ident, name = model.token_id, (lambda i: repr(model.to_str_tokens([i])[0]))
    if isinstance(metric, (tuple, list)):
        if len(metric) != 2:
            raise ValueError("a logit-difference metric needs exactly two tokens: (token, other)")
        a, b = ident(metric[0]), ident(metric[1])
        return (lambda logits: (logits[:, a] - logits[:, b]).float()), f"logit({name(a)}) - logit({name(b)})"
    if isinstance(metric, (str, int, np.integer)):
        t = ident(metric)
        return (lambda logits: logits[:, t].float()), f"logit({name(t)})"
    raise ValueError(f"metric must be a token, a pair of tokens or a callable on logits, got {type(metric).__name__}")


# --------------------------------------------------------------------------------------
# running from a layer, with a KV prefix
# --------------------------------------------------------------------------------------

class _Skip(nn.Module):
    """Stands in for a layer that patching cannot change: passes its input through."""

    def __init__(self, as_tuple: bool):
        super().__init__()
        self.as_tuple = as_tuple

    def forward(self, hidden_states, *args, **kwargs):
        return (hidden_states,) if self.as_tuple else hidden_states


@contextlib.contextmanager
def _skip_layers_before(model: Model, layer: int, as_tuple: bool):
    layers = model.family.layers(model.base)
    saved = [layers[i] for i in range(layer)]
    try:
        for i in range(layer):
            layers[i] = _Skip(as_tuple)
        yield
    finally:
        for i, mod in enumerate(saved):
            layers[i] = mod


def _full_cache() -> dict:
    """Forward arguments for a KV cache that keeps every position in every layer. Left to
    itself, a model with sliding-window layers (Mistral, Gemma 2/3) caches only the last
    window of keys there, and a prefix cut from it holds the wrong positions (patching
    gave wrong values on a window of 6). With full layers the model's own sliding mask,
    computed from absolute positions, still hides what lies outside the window."""
    from transformers import DynamicCache

    return {"use_cache": True, "past_key_values": DynamicCache()}


def _prefix_cache(model: Model, kv: list[tuple[torch.Tensor, torch.Tensor]], p0: int, batch: int):
    """A fresh KV cache holding the corrupted run's keys/values of positions ``< p0``."""
    if p0 == 0:
        return None
    from transformers import DynamicCache

    data = [(k[:, :, :p0].expand(batch, -1, -1, -1).contiguous(),
             v[:, :, :p0].expand(batch, -1, -1, -1).contiguous()) for k, v in kv]
    try:  # full layers (see _full_cache)
        return DynamicCache(ddp_cache_data=data)
    except TypeError:  # older transformers
        return DynamicCache.from_legacy_cache(tuple(data))


class _Runs:
    """The clean and corrupted runs, and patched runs that reuse the corrupted one."""

    def __init__(self, model: Model, clean_ids, corrupt_ids, metric_fn, site: str, read_logits):
        self.model, self.metric_fn, self.read_logits = model, metric_fn, read_logits
        self.n = clean_ids.shape[1]
        L = model.n_layers
        self.suffix = SITES[site]
        self.clean_acts: list[Optional[torch.Tensor]] = [None] * L
        self.corrupt_acts: list[Optional[torch.Tensor]] = [None] * L
        self.resid_pre: list[Optional[torch.Tensor]] = [None] * L
        out_tuple = []
        layer0 = model.family.layers(model.base)[0]
        h = layer0.register_forward_hook(lambda m, a, o: out_tuple.append(isinstance(o, tuple)))
        try:
            with torch.no_grad():
                with model.hooks(self._store(self.clean_acts, None)):
                    self.clean_logits = read_logits(model.forward_hidden(clean_ids))
                with model.hooks(self._store(self.corrupt_acts, self.resid_pre)):
                    out = model.base(input_ids=corrupt_ids, **(_full_cache() if model.is_causal else {}))
        finally:
            h.remove()
        self.as_tuple = bool(out_tuple and out_tuple[0])
        self.corrupt_logits = read_logits(out[0]).detach()
        self.kv = []
        if model.is_causal:  # an encoder has no KV prefix to reuse: it reads both ways
            cache = out.past_key_values
            self.kv = [(layer.keys, layer.values) for layer in cache.layers] if hasattr(cache, "layers") \
                else [(k, v) for k, v in cache]
        self.m_clean = float(metric_fn(self.clean_logits)[0])
        self.m_corrupt = float(metric_fn(self.corrupt_logits)[0])

    def _store(self, acts, resid):
        hooks = []
        for l in range(self.model.n_layers):
            hooks.append((f"blocks.{l}.{self.suffix}", lambda t, name, l=l: acts.__setitem__(l, t.detach())))
            if resid is not None:
                hooks.append((f"blocks.{l}.hook_resid_pre", lambda t, name, l=l: resid.__setitem__(l, t.detach())))
        return hooks

    @torch.no_grad()
    def run(self, layer: int, rows: list[tuple[int, Optional[int], bool]], return_logits: bool = False):
        """Patched runs at ``layer``; each row ``(position, head, all_positions)`` patches the
        clean activation at that position (or every position) and head (or all heads).
        Returns the metric per row (and the final-position logits)."""
        model, B = self.model, len(rows)
        p0 = 0 if any(r[2] for r in rows) or not model.is_causal else min(r[0] for r in rows)
        start = self.resid_pre[layer][:, p0:].expand(B, -1, -1).clone()
        clean = self.clean_acts[layer][0, p0:]

        def set_start(t, name):
            return start

        def patch_site(t, name):
            t = t.clone()
            for i, (p, h, every) in enumerate(rows):
                where = slice(None) if every else p - p0
                if h is None:
                    t[i, where] = clean[where]
                else:
                    t[i, where, h] = clean[where, h]
            return t

        hooks = [(f"blocks.{layer}.hook_resid_pre", set_start), (f"blocks.{layer}.{self.suffix}", patch_site)]
        # stands in for the embeddings (replaced at the layer's input); the embedding width,
        # which ELECTRA projects to the stream's
        dummy = start.new_zeros(start.shape[:2] + (model.embed.weight.shape[1],))
        cache = dict(past_key_values=_prefix_cache(model, self.kv, p0, B), use_cache=True) if model.is_causal else {}
        with _skip_layers_before(model, layer, self.as_tuple), model.hooks(hooks):
            out = model.base(inputs_embeds=dummy, **cache)
        logits = self.read_logits(out[0])
        m = self.metric_fn(logits)
        return (m, logits) if return_logits else m


# --------------------------------------------------------------------------------------
# the public kernel
# --------------------------------------------------------------------------------------

def patch(model: Model, clean: str, corrupted: str, metric: Metric, *, site: str = "resid_pre",
          positions: str = "each", method: str = "exact", batch_size: Optional[int] = None,
          progress=None, position: Optional[int] = None) -> PatchingResult:
    """Patch activations of the clean run into the corrupted run, one site at a time.

    Args:
        model: a causal :class:`~interp_widgets.Model`, a masked LM (the metric reads the
            logits at the clean prompt's first mask, or at ``position``) or a classifier (its
            class logits).
        clean, corrupted: two prompts of the same number of tokens.
        metric: a token (its logit), a pair ``(token, other)`` (logit difference), or a
            callable on the final position's logits ``[batch, vocab] -> [batch]`` (a masked
            LM: the logits at its mask; a classifier: a class name or index, a pair of them,
            or a callable on ``[batch, classes]``).
        site: ``"resid_pre"``, ``"resid_mid"``, ``"resid_post"``, ``"attn_out"``,
            ``"mlp_out"`` or ``"z"`` (each attention head's output).
        positions: ``"each"`` (one patched run per position: ``[layers, positions]``, or
            ``[layers, heads, positions]`` for heads) or ``"all"`` (every position at once:
            ``[layers]``, or ``[layers, heads]``).
        method: ``"exact"`` or ``"attribution"`` (first-order estimate, 2 forwards + 1
            backward).
        batch_size: patched runs per forward (default: ~4,096 tokens per batch).
        progress: ``None`` (a tqdm bar), ``False``, or a callable taking a fraction.
        position: a masked LM's token whose logits the metric reads (default: the clean
            prompt's first mask token).

    Returns a :class:`~interp_widgets.results.PatchingResult`; values are normalised so
    that 0 = corrupted and 1 = clean. When both prompts give the same metric (e.g. the clean
    prompt patched into itself) the scale is undefined: exact values are 1 where the patched
    run reproduces the clean metric and NaN elsewhere.
    """
    if site not in SITES:
        raise ValueError(f"unknown site {site!r}; choose one of {', '.join(SITES)}")
    if positions not in ("each", "all"):
        raise ValueError(f"positions must be 'each' or 'all', got {positions!r}")
    if method not in ("exact", "attribution"):
        raise ValueError(f"method must be 'exact' or 'attribution', got {method!r}")
    if site == "resid_mid" and "blocks.0.hook_resid_mid" not in model.hook_names:
        raise ValueError(f"{model.name} has no resid_mid (parallel attention and MLP)")
    clean_ids, corrupt_ids = _pair(model, clean, corrupted)
    read = readout(model, clean_ids, position, "patching")
    metric_fn, metric_label = _metric_fn(model, metric)
    runs = _Runs(model, clean_ids, corrupt_ids, metric_fn, site, read.logits)
    L, H, n = model.n_layers, model.n_heads, runs.n
    heads = site == "z"

    if method == "attribution":
        raw = _attribution_patching(model, runs, corrupt_ids, site, positions)
    else:
        cells: list[tuple[int, int, Optional[int], bool]] = []  # (layer, position, head, all)
        for l in range(L):
            for h in (range(H) if heads else [None]):
                if positions == "all":
                    cells.append((l, 0, h, True))
                else:
                    cells += [(l, p, h, False) for p in range(n)]
        raw = np.zeros(len(cells), dtype=np.float64)
        bs = batch_size or max(1, _BATCH_TOKENS // n)
        bar = ticker(progress, len(cells), "patching", "run")
        # group by layer; inside a layer, neighbouring positions share a KV prefix
        i = 0
        while i < len(cells):
            l = cells[i][0]
            j = i
            while j < len(cells) and cells[j][0] == l and j - i < bs:
                j += 1
            batch = cells[i:j]
            raw[i:j] = runs.run(l, [(p, h, every) for _, p, h, every in batch]).double().cpu().numpy()
            bar(j - i)
            i = j
        bar(None)
        shape = (L, H) if heads else (L,)
        raw = raw.reshape(shape + ((n,) if positions == "each" else ()))

    denom = runs.m_clean - runs.m_corrupt
    scale = max(1.0, abs(runs.m_clean))
    if abs(denom) > 1e-6 * scale:
        values = raw / denom if method == "attribution" else (raw - runs.m_corrupt) / denom
    elif method == "exact":
        # clean and corrupted runs agree (e.g. the same prompt twice): the scale is undefined,
        # but a patched run that reproduces the clean metric is still "clean": 1; else NaN
        values = np.where(np.abs(raw - runs.m_clean) <= 1e-4 * scale, 1.0, np.nan)
    else:
        values = np.full_like(raw, np.nan)

    def cell_top(layer: int, position: int = -1, head: Optional[int] = None, k: int = 10):
        every = position < 0
        m, logits = runs.run(layer, [(max(position, 0), head, every)], return_logits=True)
        if not read.single_label:
            raise ValueError(f"{model.name}'s head is a regression or multi-label head: its outputs are no class "
                             f"distribution to list; the grid's values are the metric")
        probs = torch.softmax(logits[0].float(), -1)
        p, ids = probs.topk(min(k, probs.shape[0]))
        return [(read.label(int(t)), float(v)) for t, v in zip(ids, p)]

    def clean_ablate(heads, mode: str = "zero", k: int = 10):
        from .ablation import ablate

        return ablate(model, clean, heads=[tuple(h) for h in heads], mode=mode, k=k, position=position)

    return PatchingResult(
        values=values.astype(np.float32),
        site=site,
        positions=positions,
        method=method,
        clean_tokens=model.to_str_tokens(clean_ids[0]),
        corrupted_tokens=model.to_str_tokens(corrupt_ids[0]),
        metric=metric_label,
        clean_metric=runs.m_clean,
        corrupted_metric=runs.m_corrupt,
        model_name=model.name,
        n_heads=model.n_heads,
        readout=read.what,
        # the clean prompt with heads off: a distribution to compare (not a regression head's)
        _source=PatchingSource(top_tokens=cell_top, ablate=clean_ablate if read.single_label else None,
                               readout=read.what),
    )


def _attribution_patching(model: Model, runs: _Runs, corrupt_ids, site: str, positions: str) -> np.ndarray:
    """First-order estimate of each patch's metric change: (clean - corrupted) . grad."""
    acts: list[Optional[torch.Tensor]] = [None] * model.n_layers

    def keep(t, name, l):
        t.retain_grad() if t.requires_grad else None
        acts[l] = t
        return None

    hooks = [(f"blocks.{l}.{SITES[site]}", lambda t, name, l=l: keep(t, name, l)) for l in range(model.n_layers)]
    with torch.enable_grad(), model.hooks(hooks):
        emb = model.embed(corrupt_ids).detach().requires_grad_(True)
        logits = runs.read_logits(model.forward_hidden(inputs_embeds=emb))
        m = runs.metric_fn(logits)[0]
        gs = torch.autograd.grad(m, [a for a in acts], allow_unused=True)
    out = []
    for l, g in enumerate(gs):
        diff = (runs.clean_acts[l][0] - runs.corrupt_acts[l][0]).float()
        g = torch.zeros_like(diff) if g is None else g[0].float()
        e = diff * g  # [pos, d] or [pos, heads, d_head]
        e = e.sum(-1)  # [pos] or [pos, heads]
        if site == "z":
            e = e.T  # [heads, pos]
        out.append(e.sum(-1) if positions == "all" else e)
    return torch.stack(out).double().cpu().numpy()
