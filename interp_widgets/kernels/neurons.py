"""Neuron kernels: one MLP neuron over texts and a corpus, and the most active neurons at a
token.

``neuron(model, texts, layer, index)`` reads ``blocks.{layer}.mlp.hook_post[..., index]``
over a corpus streamed in batches, keeping only what the view shows:

- the activations over a few *shown* texts (heatmap rows);
- the top-k activating contexts (a min-heap of at most ``k`` small windows);
- a histogram with a fixed number of bins whose range doubles (merging neighbouring bins)
  when a larger activation arrives, so every token is counted exactly once without storing
  any activation;
- the direct logit effects of the neuron's output direction.

Memory does not grow with the corpus: one batch of token ids and one batch of activations
(``[batch, pos]`` for the one neuron) at a time. The forward pass stops right after the
neuron's layer (an exception raised in the hook), so early layers are cheap.

Texts of different lengths are right-padded and run with an attention mask; a batch gives
the same activations as one text at a time.

>>> import interp_widgets as iw
>>> from interp_widgets.corpus import stdlib_docstrings
>>> model = iw.load_model()                                               # doctest: +SKIP
>>> n = iw.neuron(model, ["def f(x):\\n    return x"], layer=3, index=12,  # doctest: +SKIP
...               corpus=stdlib_docstrings(max_texts=500))
>>> n.examples[0].tokens[n.examples[0].max_pos], n.promoted[:3]            # doctest: +SKIP
"""

from __future__ import annotations

import heapq
import itertools
import math
from typing import Callable, Iterable, Iterator, Optional, Sequence, Union

import numpy as np
import torch
from torch import nn

from ..model import Model, _norm_kind
from ..results import NeuronActivations, NeuronExample, NeuronHit, NeuronSource

__all__ = ["neuron", "top_neurons", "logit_effects", "output_direction", "d_mlp"]

_DEFAULT_MAX_LEN = 256
_HIST_BINS = 64  # a multiple of 4: the doubling merge keeps bins aligned on 0


# --------------------------------------------------------------------------------------
# Facts about a layer's MLP
# --------------------------------------------------------------------------------------

def _post_site(model: Model, layer: int):
    # resolve: a mixture of experts' sparse layer gets an error saying why it has no neurons
    return model._sites[model.resolve(f"blocks.{layer}.mlp.hook_post")]


def d_mlp(model: Model, layer: int = 0) -> int:
    """Number of neurons of the MLP of ``layer``."""
    site = _post_site(model, _check_layer(model, layer))
    if site.where == "in":  # the down-projection's input
        w = site.module.weight
        return int(w.shape[1] if isinstance(site.module, nn.Linear) else w.shape[0])
    return model.d_mlp  # BERT: the up-projection's output


def output_direction(model: Model, layer: int, index: int) -> Optional[torch.Tensor]:
    """The neuron's output direction ``[d_model]`` (its column of the MLP down-projection),
    or ``None`` when the hook point is not the down-projection's input (BERT)."""
    site = _post_site(model, layer)
    if site.where != "in":
        return None
    w = site.module.weight
    # nn.Linear stores [out, in]; GPT-2's Conv1D stores [in, out].
    return (w[:, index] if isinstance(site.module, nn.Linear) else w[index, :]).detach()


def logit_effects(model: Model, layer: int, index: int, k: int = 10):
    """Direct logit effect of a neuron: ``W_U @ (norm_scale * w_out)``.

    The output direction goes through the final norm's elementwise weight (LayerNorm also
    centres it: centring is linear) and the unembedding; biases, the norm's division by the
    residual's scale and any later layers are ignored, as in the usual direct-logit view.

    Returns ``(promoted, suppressed)``: lists of ``(token, effect)``, the ``k`` highest and
    the ``k`` lowest, or ``([], [])`` for encoders (no unembedding).
    """
    direction = output_direction(model, layer, index)
    unembed = model.unembed
    if direction is None or unembed is None or not model.is_causal:
        return [], []
    with torch.no_grad():
        d = through_final_norm(model, direction.float() * model._sites[f"blocks.{layer % model.n_layers}.hook_mlp_out"].scale)
        effects = unembed.weight.float() @ d.to(unembed.weight.device)
        k = min(k, effects.shape[0])
        top = torch.topk(effects, k)
        bottom = torch.topk(-effects, k)
    pieces = lambda ids: [model.to_str_tokens([int(i)])[0] for i in ids]  # noqa: E731
    promoted = list(zip(pieces(top.indices.tolist()), [float(v) for v in top.values]))
    suppressed = list(zip(pieces(bottom.indices.tolist()), [float(-v) for v in bottom.values]))
    return promoted, suppressed


def through_final_norm(model: Model, d: torch.Tensor) -> torch.Tensor:
    """Residual-stream directions ``[..., d_model]`` through the final norm's elementwise part
    (a LayerNorm centres them first: centring is linear) and the model's logit scale
    (Cohere, Granite): what ``W_U`` then turns into direct logit effects."""
    norm = model.family.final_norm(model.base) if model.family.final_norm else None
    if norm is not None and _norm_kind(norm) == "layer":
        d = d - d.mean(-1, keepdim=True)
        if getattr(norm, "weight", None) is not None:  # (OLMo's LayerNorm has none)
            d = d * norm.weight.float()
    elif norm is not None:
        # RMS-style norms: their elementwise scale is what they do to a vector of ones
        # (this also covers Gemma's ``1 + weight``).
        ones = torch.ones(1, d.shape[-1], device=d.device, dtype=model.dtype)
        d = d * norm(ones)[0].float()
    return d * model.logit_scale


def _check_layer(model: Model, layer) -> int:
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)):
        raise TypeError(f"layer must be an int, got {layer!r}")
    layer = int(layer)
    if not -model.n_layers <= layer < model.n_layers:
        raise ValueError(f"layer {layer} is out of range: {model.name} has {model.n_layers} layers (0..{model.n_layers - 1})")
    return layer % model.n_layers


def _check_index(model: Model, layer: int, index) -> int:
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
        raise TypeError(f"index must be an int, got {index!r}")
    index, n = int(index), d_mlp(model, layer)
    if not 0 <= index < n:
        raise ValueError(f"neuron index {index} is out of range: layer {layer} of {model.name} has {n} neurons (0..{n - 1})")
    return index


# --------------------------------------------------------------------------------------
# Batches
# --------------------------------------------------------------------------------------

def _tokenize(model: Model, text, max_len: int) -> list[int]:
    return model.token_ids(text, max_len)


def _pad(model: Model, seqs: list[list[int]]):
    """Right-pad to the longest: ids and the attention mask ``[batch, pos]``."""
    tok = model.tokenizer
    pad = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)
    n = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), n), int(pad), dtype=torch.long)
    mask = torch.zeros((len(seqs), n), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        mask[i, : len(s)] = 1
    return ids.to(model.device), mask.to(model.device)


@torch.no_grad()
def _mlp_post(model: Model, seqs: list[list[int]], layers: Sequence[int], padded=None) -> dict[int, torch.Tensor]:
    """``blocks.{l}.mlp.hook_post`` ``[batch, pos, d_mlp]`` (float32, on the model's device)
    for each layer asked for; the pass stops after the last of them."""
    ids, mask = padded if padded is not None else _pad(model, seqs)
    acts = model.read_activations([f"blocks.{l}.mlp.hook_post" for l in layers], ids, attention_mask=mask)
    return {l: acts[f"blocks.{l}.mlp.hook_post"].float() for l in layers}


def _batches(texts: Iterable[str], model: Model, batch_size: int, max_len: int,
             pool: int = 16) -> Iterator[tuple[list[int], list[list[int]]]]:
    """(corpus indices, token ids) per batch. Texts are read ``pool`` batches at a time and
    sorted by length within the pool, so that a batch wastes little on padding; memory stays
    bounded by the pool."""
    buf: list[tuple[int, list[int]]] = []

    def flush():
        buf.sort(key=lambda t: len(t[1]))
        for b in range(0, len(buf), batch_size):
            chunk = buf[b: b + batch_size]
            yield [i for i, _ in chunk], [s for _, s in chunk]
        buf.clear()

    for i, text in enumerate(texts):
        ids = _tokenize(model, text, max_len)
        if not ids:
            raise ValueError(f"corpus text {i} produced no tokens")
        buf.append((i, ids))
        if len(buf) == batch_size * pool:
            yield from flush()
    if buf:
        yield from flush()


# --------------------------------------------------------------------------------------
# Streaming accumulators
# --------------------------------------------------------------------------------------

class _Histogram:
    """Counts in ``bins`` equal bins over ``[-R, R]``; ``R`` doubles (merging pairs of bins)
    when a value falls outside. Exact: each value is counted once, in the bin that holds it."""

    def __init__(self, bins: int = _HIST_BINS):
        self.bins = bins
        self.counts = np.zeros(bins, dtype=np.int64)
        self.r = 0.0

    def _grow(self, m: float) -> None:
        if self.r == 0.0:
            self.r = 2.0 ** math.ceil(math.log2(max(m, 1e-6)))
            if self.r < m:
                self.r *= 2
        while m > self.r:
            n = self.bins
            merged = self.counts.reshape(n // 2, 2).sum(1)
            new = np.zeros(n, dtype=np.int64)
            new[n // 4: n // 4 + n // 2] = merged
            self.counts, self.r = new, self.r * 2

    def add(self, v: np.ndarray) -> None:
        if v.size == 0:
            return
        self._grow(float(np.abs(v).max()))
        w = 2 * self.r / self.bins
        idx = np.clip(np.floor((v + self.r) / w).astype(np.int64), 0, self.bins - 1)
        self.counts += np.bincount(idx, minlength=self.bins)

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """Counts and edges, trimmed to the bins between the first and last non-empty one."""
        nz = np.nonzero(self.counts)[0]
        if nz.size == 0:
            return np.zeros(0, np.int64), np.zeros(1, np.float32)
        lo, hi = int(nz[0]), int(nz[-1]) + 1
        edges = np.linspace(-self.r, self.r, self.bins + 1)[lo: hi + 1]
        return self.counts[lo:hi].copy(), edges.astype(np.float32)


class _TopK:
    """The ``k`` largest activations seen, with their context windows (a min-heap)."""

    def __init__(self, k: int, before: int, after: int, distinct: bool):
        self.k, self.before, self.after, self.distinct = k, before, after, distinct
        self.heap: list = []  # (activation, -order, text_index, position, window ids, window acts, max_pos)
        self.order = itertools.count()
        self.windows: dict = {}  # (window ids, max_pos) -> kept example, when distinct

    def threshold(self) -> float:
        return self.heap[0][0] if len(self.heap) >= self.k else -math.inf

    def offer(self, act: float, text_index: int, ids: list[int], acts: np.ndarray, pos: int) -> None:
        if self.k == 0 or act <= self.threshold():
            return
        lo, hi = max(0, pos - self.before), min(len(ids), pos + self.after + 1)
        key = (tuple(ids[lo:hi]), pos - lo)
        if self.distinct and key in self.windows:
            # A corpus repeats itself (the standard library's docstrings: inherited methods):
            # the same context from another text would be an identical row. Keep the larger.
            kept = self.windows[key]
            if act <= kept[0]:
                return
            self.heap.remove(kept)
            heapq.heapify(self.heap)
        item = (act, -next(self.order), text_index, pos, ids[lo:hi], acts[lo:hi].copy(), pos - lo)
        if len(self.heap) < self.k:
            heapq.heappush(self.heap, item)
        else:
            old = heapq.heapreplace(self.heap, item)
            self.windows.pop((tuple(old[4]), old[6]), None)
        if self.distinct:
            self.windows[key] = item

    def add_batch(self, text_ids: list[int], seqs: list[list[int]], acts: torch.Tensor, counted: torch.Tensor) -> None:
        """acts ``[batch, pos]`` (float32); counted: bool mask of positions that count."""
        masked = acts.masked_fill(~counted, -math.inf)
        if self.distinct:  # each text's maximum
            vals, pos = masked.max(dim=1)
            cand = [(float(v), b, int(p)) for b, (v, p) in enumerate(zip(vals.tolist(), pos.tolist()))]
        else:
            flat = masked.flatten()
            n = min(self.k, int(counted.sum()))
            vals, where = torch.topk(flat, n) if n else (flat[:0], flat[:0].long())
            width = acts.shape[1]
            cand = [(float(v), int(w) // width, int(w) % width) for v, w in zip(vals.tolist(), where.tolist())]
        acts_np = None
        for v, b, p in cand:
            if v == -math.inf or v <= self.threshold():
                continue
            if acts_np is None:
                acts_np = acts.cpu().numpy()
            n = len(seqs[b])
            self.offer(v, text_ids[b], seqs[b], acts_np[b, :n], p)

    def sorted(self) -> list:
        return sorted(self.heap, key=lambda t: (-t[0], -t[1]))


# --------------------------------------------------------------------------------------
# Public entries
# --------------------------------------------------------------------------------------

class _Progress:
    def __init__(self, progress, total: Optional[int]):
        self.cb = progress if callable(progress) else None
        self.total = total
        self.bar = None
        if progress is True:
            from tqdm.auto import tqdm
            self.bar = tqdm(total=total, desc="neuron", unit="text", leave=False)

    def update(self, done: int, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)
        if self.cb is not None and self.total:
            self.cb(min(1.0, done / self.total))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.cb is not None:
            self.cb(1.0)


def _as_texts(texts, what: str) -> list[str]:
    if isinstance(texts, str):
        texts = [texts]
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise TypeError(f"{what} must be strings; item {i} is {type(t).__name__}")
        if not t:
            raise ValueError(f"{what}: item {i} is an empty string")
    return out


def neuron(
    model: Model,
    texts: Union[str, Sequence[str]],
    layer: int,
    index: int,
    *,
    corpus: Optional[Iterable[str]] = None,
    k: int = 20,
    context: Union[int, tuple[int, int]] = (12, 4),
    distinct: bool = True,
    batch_size: int = 8,
    max_len: Optional[int] = None,
    bins: int = _HIST_BINS,
    n_logits: int = 10,
    progress: Union[None, bool, Callable[[float], None]] = None,
) -> NeuronActivations:
    """One MLP neuron: its activations over ``texts``, its top-k contexts and histogram over
    a corpus, and its direct logit effects.

    Args:
        model: a :class:`~interp_widgets.Model`.
        texts: a string or a list of strings shown as heatmap rows (at most ``max_len``
            tokens each).
        layer: the block (negative counts from the end).
        index: the neuron, ``0 <= index < d_mlp``.
        corpus: any iterable of strings (a list, a generator, :func:`~interp_widgets.corpus.
            stdlib_docstrings`), streamed in batches; default: ``texts``. A one-shot
            iterator works, but then the view cannot re-target the panel to another neuron.
            Special tokens and the first position of each text are left out of the top
            contexts, the histogram and ``n_tokens``: without a BOS (SmolLM2) the first token
            is the model's attention sink, where many late-layer neurons fire ~10x above
            anything else (L28/1095: 187 on every text's first token).
        k: number of top-activating contexts kept.
        context: tokens shown before and after the max token (an int: the same on both
            sides).
        distinct: at most one example per text (its maximum), and no two with the same
            context window (a corpus that repeats a passage shows it once); ``False``: the
            top-k over all positions, neighbours and repeats included.
        batch_size: texts per forward pass (bounds memory with ``max_len``).
        max_len: tokens per text; longer texts are truncated. Default ``min(256, context
            of the model)``.
        bins: histogram bins over ``[-R, R]`` (a multiple of 4), ``R`` the smallest power of
            two above the largest ``|activation|``; empty outer bins are trimmed.
        n_logits: how many promoted and suppressed tokens to list.
        progress: ``True`` for a tqdm bar, ``False`` for none, or a callable receiving a
            fraction in [0, 1] (only when the corpus has a length). Default: a bar when the
            corpus has more than one batch.

    Returns:
        :class:`~interp_widgets.results.NeuronActivations`. Special tokens (e.g. BOS) are
        shown in the rows but not counted in the top-k and the histogram.

    Raises:
        ValueError: layer or index out of range, an empty corpus or text, bad arguments.
    """
    if not isinstance(model, Model):
        raise TypeError(f"model must be an interp_widgets.Model (see iw.load_model), got {type(model).__name__}")
    layer = _check_layer(model, layer)
    index = _check_index(model, layer, index)
    shown = _as_texts(texts, "texts")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if not isinstance(bins, int) or bins < 4 or bins % 4:
        raise ValueError(f"bins must be a positive multiple of 4, got {bins!r}")
    before, after = (context, context) if isinstance(context, int) else tuple(context)
    if not (isinstance(before, int) and isinstance(after, int) and before >= 0 and after >= 0):
        raise ValueError(f"context must be an int >= 0 or a pair of them, got {context!r}")
    if max_len is None:
        max_len = min(_DEFAULT_MAX_LEN, model.n_ctx or _DEFAULT_MAX_LEN)
    if not isinstance(max_len, int) or max_len < 1:
        raise ValueError(f"max_len must be a positive int, got {max_len!r}")
    if corpus is None:
        corpus = shown
    elif isinstance(corpus, str):
        raise ValueError("corpus must be an iterable of strings, not one string (wrap it in a list)")
    reusable = iter(corpus) is not corpus  # a list or another re-iterable collection
    total = len(corpus) if hasattr(corpus, "__len__") else None
    if total == 0:
        raise ValueError("the corpus is empty: give at least one text (any iterable of strings)")
    if progress is None:
        progress = total is None or total > batch_size

    # Shown texts: one pass, kept whole.
    rows_tokens, rows_acts = [], []
    for b in range(0, len(shown), batch_size):
        seqs = [_tokenize(model, t, max_len) for t in shown[b: b + batch_size]]
        acts = _mlp_post(model, seqs, [layer])[layer][..., index].cpu().numpy()
        for s, a in zip(seqs, acts):
            rows_tokens.append(model.to_str_tokens(s))
            rows_acts.append(a[: len(s)].copy())

    # Corpus: streamed.
    special = torch.tensor(sorted(set(model.tokenizer.all_special_ids)), dtype=torch.long, device=model.device)
    top = _TopK(k, before, after, distinct)
    hist = _Histogram(bins)
    n_tokens = n_texts = 0
    bar = _Progress(progress, total)
    try:
        for text_ids, seqs in _batches(corpus, model, batch_size, max_len):
            ids, mask = _pad(model, seqs)
            acts = _mlp_post(model, seqs, [layer], (ids, mask))[layer][..., index]
            counted = mask.bool() & ~torch.isin(ids, special)
            counted[:, 0] = False  # the BOS, or without one (SmolLM2) the first token: the attention sink
            top.add_batch(text_ids, seqs, acts, counted)
            vals = acts[counted].cpu().numpy()
            hist.add(vals)
            n_tokens += int(vals.size)
            n_texts += len(seqs)
            bar.update(n_texts, len(seqs))
    finally:
        bar.close()
    if n_texts == 0:
        raise ValueError("the corpus is empty: give at least one text (any iterable of strings)")

    examples = [NeuronExample(tokens=model.to_str_tokens(w_ids), activations=w_acts, max_pos=int(mp),
                              activation=float(a), text_index=int(ti), position=int(p))
                for a, _, ti, p, w_ids, w_acts, mp in top.sorted()]
    counts, edges = hist.result()
    promoted, suppressed = logit_effects(model, layer, index, n_logits)
    result = NeuronActivations(
        layer=layer, index=index, texts_tokens=rows_tokens, texts_activations=rows_acts,
        examples=examples, hist_counts=counts, hist_edges=edges, n_tokens=n_tokens,
        n_texts=n_texts, promoted=promoted, suppressed=suppressed, model_name=str(model.name),
        n_layers=model.n_layers, d_mlp=d_mlp(model, layer),
        info={"k": k, "context": (before, after), "distinct": distinct, "max_len": max_len},
    )

    def retarget(layer: int, index: int, progress=None) -> NeuronActivations:
        if not reusable:
            raise ValueError("the corpus was a one-shot iterator, so it cannot be read again; "
                             "pass a list (e.g. list(corpus)) to re-target the panel")
        return neuron(model, shown, layer, index, corpus=None if corpus is shown else corpus, k=k,
                      context=(before, after), distinct=distinct, batch_size=batch_size,
                      max_len=max_len, bins=bins, n_logits=n_logits, progress=progress or False)

    def at(row: int, position: int) -> list[NeuronHit]:
        if not 0 <= row < len(shown):
            raise ValueError(f"text {row} is out of range: {len(shown)} texts are shown")
        return _top_neurons_ids(model, _tokenize(model, shown[row], max_len), position, None, 10)

    result._source = NeuronSource(retarget=retarget, top_neurons=at)
    return result


def top_neurons(model: Model, text: str, position: int, layer: Optional[int] = None, k: int = 10) -> list[NeuronHit]:
    """The ``k`` MLP neurons with the largest activation at one token of ``text``.

    Args:
        position: the token's index in ``model.to_tokens(text)`` (negative counts from
            the end).
        layer: one layer, or ``None`` for all of them.

    Returns:
        ``[NeuronHit(layer, index, activation), ...]``, highest first.
    """
    if not isinstance(model, Model):
        raise TypeError(f"model must be an interp_widgets.Model, got {type(model).__name__}")
    ids = model.to_tokens(text)[0].tolist()
    return _top_neurons_ids(model, ids, position, layer, k)


def _top_neurons_ids(model: Model, ids: list[int], position, layer, k) -> list[NeuronHit]:
    if isinstance(position, bool) or not isinstance(position, (int, np.integer)):
        raise TypeError(f"position must be an int, got {position!r}")
    if not -len(ids) <= position < len(ids):
        raise ValueError(f"position {position} is out of range: the text has {len(ids)} tokens")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    if layer is None:  # every layer with neurons (a mixture of experts' dense ones only)
        layers = [l for l in range(model.n_layers) if f"blocks.{l}.mlp.hook_post" in model._sites]
        if not layers:
            raise ValueError(f"{model.name} is a mixture of experts in every layer: each token runs through its "
                             f"own experts' neurons, so there is no neuron layer (mlp.hook_post) to rank; its "
                             f"MLP layers' outputs are hook_mlp_out")
    else:
        layers = [_check_layer(model, layer)]
    acts = _mlp_post(model, [ids], layers)
    pos = int(position) % len(ids)
    hits: list[NeuronHit] = []
    for l in layers:
        v = acts[l][0, pos]
        vals, idx = torch.topk(v, min(k, v.shape[0]))
        hits += [NeuronHit(l, int(i), float(a)) for a, i in zip(vals.tolist(), idx.tolist())]
    hits.sort(key=lambda h: -h.activation)
    return hits[:k]
