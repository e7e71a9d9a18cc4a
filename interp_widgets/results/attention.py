"""The result of ``iw.attention``: every head's attention pattern on one text, plus head
detector scores."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from ._arrays import float32, strings

__all__ = ["AttentionPatterns", "AttentionSource", "DETECTORS"]

#: Head detectors, in display order. Each maps to a ``[n_layers, n_heads]`` score in [0, 1]:
#: the mean attention a head pays, on repeated random tokens, to
#: - ``previous_token``: the token just before the query;
#: - ``duplicate_token``: the earlier occurrence of the query's own token;
#: - ``induction``: the token right after that earlier occurrence (Olsson et al. 2022);
#: - ``next_token`` (encoders only: a causal head cannot look ahead): the token just after
#:   the query, a common head of BERT (Clark et al. 2019).
DETECTORS = ("previous_token", "next_token", "duplicate_token", "induction")


@dataclass
class AttentionSource:
    """Opaque handle for a view: ``ablate(heads, mode="zero")`` runs the model on the same
    text with those ``(layer, head)`` pairs switched off and returns an
    :class:`~interp_widgets.results.Ablation` (see ``iw.ablate``); ``readout`` says what it
    compares (``"next token"``, a masked LM's ``"token at [MASK] #6"``, ``"class"``)."""

    ablate: Callable[..., object]
    readout: str = "next token"


def _as_patterns(p) -> np.ndarray:
    """``[layers, heads, query, key]`` from the shapes people have at hand: that; one layer's
    ``[heads, q, k]`` (CircuitsVis's ``attention_patterns``) or one head's ``[q, k]``; a cache
    entry ``[1, heads, q, k]``; Hugging Face's ``outputs.attentions``, a tuple of
    ``[1, heads, q, k]`` per layer, or its stack on either side of the batch axis."""
    per_layer = isinstance(p, (list, tuple))
    if per_layer:
        if not p or any(x is None for x in p):
            raise ValueError("no attention tensors (Hugging Face returns an empty tuple, or Nones, under SDPA or "
                             "flash attention): load the model with attn_implementation='eager', or use "
                             "iw.attention(model, text), which computes the patterns whatever the implementation")
        if hasattr(p[0], "shape") and len(p[0].shape) >= 2:
            p = np.stack([float32(x, "patterns") for x in p])
    a = float32(p, "patterns", finite=False)
    if a.ndim == 5:
        if a.shape[1] == 1:  # [layers, batch=1, heads, q, k]
            a = a[:, 0]
        elif a.shape[0] == 1 and not per_layer:  # [batch=1, layers, heads, q, k]
            a = a[0]
        else:
            raise ValueError(f"patterns of shape {tuple(a.shape)} hold several texts: give one text's, as "
                             f"[layers, heads, q, k] (e.g. [t[i] for t in outputs.attentions])")
    if a.ndim in (2, 3):
        a = a.reshape((1,) * (4 - a.ndim) + a.shape)
    return a


@dataclass
class AttentionPatterns:
    """Attention of every layer and head over one text: what ``iw.attention`` returns, or
    your own patterns to show (``iw.AttentionPatterns(tokens, patterns).show()``).

    Attributes:
        tokens: the text's tokens as the tokenizer split it.
        patterns: ``float32 [n_layers, n_heads, query, key]``; each row sums to 1 over the
            keys a query may see (causal models: keys ``<=`` query, the rest 0). Also taken:
            ``[heads, q, k]`` (one layer), ``[q, k]`` (one head), a batch of one
            (``[1, heads, q, k]`` per layer, e.g. Hugging Face's ``outputs.attentions``
            tuple), numpy arrays or torch tensors on any device.
        head_scores: detector name -> ``float32 [n_layers, n_heads]`` (see ``DETECTORS``);
            empty when the detectors were not computed.
        causal: whether the model masks future keys (decoder) or not (encoder); ``None``
            (given patterns): causal if no query attends to a later key.
        info: how the scores were measured (sequence length, repeats, seed...).
        pair_start: for a sentence pair (``iw.attention(model, a, b)``), the index of the
            second sentence's first token; ``None`` for one text.
    """

    tokens: list[str]
    patterns: np.ndarray
    head_scores: dict[str, np.ndarray] = field(default_factory=dict)
    causal: Optional[bool] = None
    model_name: str = ""
    info: dict = field(default_factory=dict)
    pair_start: Optional[int] = None
    _source: Optional[AttentionSource] = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.tokens = strings(self.tokens)
        self.patterns = _as_patterns(self.patterns)
        if self.patterns.ndim != 4 or self.patterns.shape[2:] != (len(self.tokens), len(self.tokens)):
            raise ValueError(
                f"patterns must be [layers, heads, {len(self.tokens)}, {len(self.tokens)}] for "
                f"{len(self.tokens)} tokens, got {tuple(self.patterns.shape)}"
            )
        if self.causal is None:  # one layer at a time: patterns of long texts run to GBs
            above = np.triu_indices(len(self.tokens), 1)
            self.causal = not any(bool(np.any(layer[:, above[0], above[1]])) for layer in self.patterns)
        if not all(bool(np.isfinite(layer).all()) for layer in self.patterns):
            raise ValueError("patterns contain NaN or inf")
        if self.pair_start is not None and not 0 < int(self.pair_start) < len(self.tokens):
            raise ValueError(f"pair_start {self.pair_start} must lie inside the {len(self.tokens)} tokens")
        for name, s in list(self.head_scores.items()):
            s = np.asarray(s, dtype=np.float32)
            if s.shape != self.patterns.shape[:2]:
                raise ValueError(f"head score {name!r} must be [layers, heads] = "
                                 f"{self.patterns.shape[:2]}, got {s.shape}")
            self.head_scores[name] = s

    @property
    def n_layers(self) -> int:
        return int(self.patterns.shape[0])

    @property
    def n_heads(self) -> int:
        return int(self.patterns.shape[1])

    def head(self, layer: int, head: int) -> np.ndarray:
        """One head's ``[query, key]`` pattern (negative indices count from the end)."""
        for name, i, n in (("layer", layer, self.n_layers), ("head", head, self.n_heads)):
            if not -n <= i < n:
                raise ValueError(f"{name} {i} is out of range: the model has {n} {name}s (0..{n - 1})")
        return self.patterns[layer, head]

    def top_heads(self, detector: str, k: int = 5) -> list[tuple[int, int, float]]:
        """The ``k`` highest-scoring heads of a detector as ``(layer, head, score)``."""
        if detector not in self.head_scores:
            raise ValueError(f"unknown detector {detector!r}; available: {sorted(self.head_scores)}")
        s = self.head_scores[detector]
        order = np.argsort(s, axis=None)[::-1][:k]
        return [(int(i // s.shape[1]), int(i % s.shape[1]), float(s.flat[i])) for i in order]

    def show(self, **kwargs):
        """A live :class:`~interp_widgets.views.AttentionView` of this result."""
        from ..views.attention import AttentionView

        return AttentionView(self, **kwargs)

    def to_html(self, path, **kwargs):
        """Write a self-contained HTML file of the view (bundle and data inlined)."""
        return self.show(**kwargs).to_html(path)

    def __repr__(self) -> str:
        tops = ", ".join(f"{d}: L{l}H{h} {v:.2f}" for d in self.head_scores
                         for l, h, v in self.top_heads(d, 1))
        return (f"AttentionPatterns(tokens={len(self.tokens)}, layers={self.n_layers}, "
                f"heads={self.n_heads}{', top ' + tops if tops else ''})")
