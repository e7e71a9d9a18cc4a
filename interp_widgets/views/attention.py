"""AttentionView: what ``AttentionPatterns.show()`` returns.

An overview of every layer x head as a small thumbnail (sortable by a head detector's
score), and the full query x key matrix of the head the reader clicks (with a line view for
short texts). JavaScript: ``js/src/views/attention.ts`` (same trait names).

Transport (DESIGN.md's data contract):

- ``thumbs``: ``uint8 [layers, heads, T, T]`` with ``T = min(n_tokens, thumb_size)``. Each
  byte is ``round(255 * sqrt(w))`` of an attention weight ``w`` in [0, 1]: the square root
  spreads the many small weights over more levels (and is what the view's colour scale
  shows), so ``(byte / 255) ** 2`` recovers ``w`` to within ``sqrt(w) / 127.5`` (about 1/255
  near ``w = 0.25``). Texts longer than ``thumb_size`` are max-pooled into ``T x T`` blocks,
  so a sharp head stays visible. 270 heads at 128 tokens are 4.4 MB.
- ``head_pattern``: the selected head in full, ``float32 [n_tokens, n_tokens]``, filled by
  Python when the browser sets ``selected_layer`` / ``selected_head`` (a slice of the
  result, no maths); ``head_pattern_of`` says which ``[layer, head]`` it is. A static export
  has no Python: its enlarged view falls back to the thumbnail bytes.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import traitlets

from ..results.attention import DETECTORS, AttentionPatterns
from ._ablation import HeadAblation
from ._base import array_serialization, bundle, check_finite

__all__ = ["AttentionView", "thumbnails", "THUMB_SIZE"]

#: Default cap on the thumbnail side (tokens); longer texts are max-pooled to it.
THUMB_SIZE = 128


def _pool_edges(n: int, size: int) -> np.ndarray:
    """Start index of each of ``size`` near-equal blocks covering ``0..n-1``."""
    return (np.arange(size) * n) // size


def thumbnails(patterns: np.ndarray, size: int = THUMB_SIZE) -> np.ndarray:
    """Every head's pattern as ``uint8 [layers, heads, T, T]``, ``T = min(n, size)``.

    Encoding: ``round(255 * sqrt(clip(w, 0, 1)))``, after max-pooling ``T x T`` blocks when
    the text is longer than ``size``. Decode with ``(byte / 255) ** 2``.

    >>> p = np.zeros((1, 1, 2, 2), np.float32); p[0, 0, :, 0] = 1; p[0, 0, 1] = 0.25
    >>> thumbnails(p)[0, 0].tolist()
    [[255, 0], [128, 128]]
    """
    p = np.asarray(patterns, dtype=np.float32)
    n = p.shape[-1]
    if n > size:
        edges = _pool_edges(n, size)
        p = np.maximum.reduceat(np.maximum.reduceat(p, edges, axis=2), edges, axis=3)
    q = np.sqrt(np.clip(p, 0.0, 1.0)) * 255.0
    return np.rint(q).astype(np.uint8)


class AttentionView(HeadAblation):
    """Live view of an :class:`~interp_widgets.results.AttentionPatterns`.

    >>> from interp_widgets.results import AttentionPatterns
    >>> p = np.tril(np.ones((2, 3, 4, 4), np.float32)); p /= p.sum(-1, keepdims=True)
    >>> w = AttentionView(AttentionPatterns(["a", "b", "c", "d"], p))
    >>> w.get_state()["thumbs"]["shape"], w.get_state()["thumbs"]["dtype"]
    ([2, 3, 4, 4], 'uint8')
    >>> w.select(1, 2).head_pattern.shape
    (4, 4)

    Args:
        result: the attention patterns to show.
        layer, head: open this head's matrix at once (default: none open).
        sort_by: ``""`` (layer order) or a detector name: the overview ranks heads by it.
        detector: the detector whose score the thumbnails show (default: the first one the
            result has; ``""`` for none).
        thumb_size: cap on the thumbnail side in tokens (longer texts are max-pooled).
        title: shown above the view (default: the model name).
        theme: ``"auto"`` (follow the host), ``"light"`` or ``"dark"``.

    ``selected_token`` follows hovering/clicking tokens in the matrix (-1 when none), and
    ``selected_layer`` / ``selected_head`` follow clicks on the thumbnails (-1 when none).

    Switching heads off: ``ablated_heads`` (``[[layer, head], ...]``, set by the "off"
    toggle on an opened head, alt/shift-click on a thumbnail, or :meth:`ablate`) and
    ``ablate_mode`` (``"zero"`` / ``"mean"``) re-run the model on the text through the
    result's source (``iw.ablate``) and fill ``ablation`` with the output distribution (the
    next token's; a masked LM's at its mask; a classifier's classes)
    before and after (see ``views/_ablation.py``). A result without a source (loaded from
    disk, a static export) disables the toggles.
    """

    _esm = bundle("attention")

    tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    thumbs = traitlets.Instance(np.ndarray, allow_none=True).tag(sync=True, **array_serialization)
    thumb_encoding = traitlets.Unicode("sqrt").tag(sync=True)
    detectors = traitlets.List(traitlets.Unicode()).tag(sync=True)
    head_scores = traitlets.Instance(np.ndarray, allow_none=True).tag(sync=True, **array_serialization)
    causal = traitlets.Bool(True).tag(sync=True)
    pair_start = traitlets.Int(-1).tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    selected_layer = traitlets.Int(-1).tag(sync=True)
    selected_head = traitlets.Int(-1).tag(sync=True)
    head_pattern = traitlets.Instance(np.ndarray, allow_none=True).tag(sync=True, **array_serialization)
    head_pattern_of = traitlets.List(traitlets.Int()).tag(sync=True)
    selected_token = traitlets.Int(-1).tag(sync=True)
    sort_by = traitlets.Unicode("").tag(sync=True)
    detector = traitlets.Unicode("").tag(sync=True)
    line_view = traitlets.Bool(False).tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        result: AttentionPatterns,
        *,
        layer: Optional[int] = None,
        head: Optional[int] = None,
        sort_by: str = "",
        detector: Optional[str] = None,
        thumb_size: int = THUMB_SIZE,
        title: Optional[str] = None,
        theme: str = "auto",
    ) -> None:
        if not isinstance(result, AttentionPatterns):
            raise TypeError(f"AttentionView needs an AttentionPatterns, got {type(result).__name__}")
        if isinstance(thumb_size, bool) or not isinstance(thumb_size, (int, np.integer)) or thumb_size < 1:
            raise ValueError(f"thumb_size must be a positive integer, got {thumb_size!r}")
        self.result = result
        patterns = self._check(result)
        names = [d for d in DETECTORS if d in result.head_scores]
        names += [d for d in result.head_scores if d not in names]
        scores = (np.stack([result.head_scores[d] for d in names]).astype(np.float32)
                  if names else None)
        if scores is not None:
            check_finite(scores, "head scores")
        if detector is None:
            detector = names[0] if names else ""
        for what, name in (("sort_by", sort_by), ("detector", detector)):
            if name and name not in names:
                raise ValueError(f"{what}={name!r} is not a detector of this result; "
                                 f"available: {names or 'none'}")
        super().__init__(
            tokens=[str(t) for t in result.tokens],
            thumbs=thumbnails(patterns, int(thumb_size)),
            detectors=names,
            head_scores=scores,
            causal=bool(result.causal),
            pair_start=-1 if result.pair_start is None else int(result.pair_start),
            title=result.model_name if title is None else str(title),
            sort_by=sort_by,
            detector=detector,
            theme=theme,
        )
        self.observe(self._fill_head, names=["selected_layer", "selected_head"])
        self._setup_ablation()
        if layer is not None or head is not None:
            self.select(0 if layer is None else layer, 0 if head is None else head)

    @staticmethod
    def _check(result: AttentionPatterns) -> np.ndarray:
        """The patterns, checked again (a result's fields can be reassigned after creation)."""
        p = np.asarray(result.patterns)
        n = len(result.tokens)
        if n == 0:
            raise ValueError("the result has no tokens: there is nothing to show")
        if p.ndim != 4 or p.shape[2:] != (n, n):
            raise ValueError(f"patterns must be [layers, heads, {n}, {n}] for {n} tokens, "
                             f"got {tuple(p.shape)}")
        if p.shape[0] == 0 or p.shape[1] == 0:
            raise ValueError(f"patterns have no heads (shape {tuple(p.shape)})")
        check_finite(p, "attention patterns")
        lo, hi = float(p.min()), float(p.max())
        if lo < -1e-3 or hi > 1 + 1e-3:
            raise ValueError(f"attention weights must lie in [0, 1] (softmax outputs), got "
                             f"min {lo:.4g}, max {hi:.4g}: pass patterns, not scores or logits")
        return p

    def _head_limits(self) -> tuple[int, Optional[int]]:
        return self.result.n_layers, self.result.n_heads

    # -- selection ---------------------------------------------------------------------

    def select(self, layer: int, head: int) -> "AttentionView":
        """Open one head's matrix (negative indices count from the end), as a click does."""
        self.result.head(layer, head)  # ValueError when out of range
        layer, head = layer % self.result.n_layers, head % self.result.n_heads
        with self.hold_sync():
            self.selected_layer, self.selected_head = int(layer), int(head)
        return self

    @traitlets.validate("selected_layer", "selected_head")
    def _valid_index(self, proposal: Any) -> int:
        name = proposal["trait"].name
        v = int(proposal["value"])
        n = self.result.n_layers if name == "selected_layer" else self.result.n_heads
        if not -1 <= v < n:
            raise ValueError(f"{name} {v} is out of range: the model has {n} "
                             f"{name.split('_')[1]}s (0..{n - 1}, or -1 for none)")
        return v

    @traitlets.validate("selected_token")
    def _valid_token(self, proposal: Any) -> int:
        v = int(proposal["value"])
        if not -1 <= v < len(self.tokens):
            raise ValueError(f"selected_token {v} is out of range 0..{len(self.tokens) - 1} (or -1)")
        return v

    @traitlets.validate("sort_by", "detector")
    def _valid_detector(self, proposal: Any) -> str:
        v = str(proposal["value"])
        if v and v not in self.detectors:
            raise ValueError(f"{proposal['trait'].name}={v!r} is not a detector of this result; "
                             f"available: {self.detectors or 'none'}")
        return v

    def _fill_head(self, change: Optional[dict] = None) -> None:
        """Send the selected head in full (a slice of the result), or nothing when none."""
        layer, head = self.selected_layer, self.selected_head
        with self.hold_sync():
            if layer < 0 or head < 0:
                self.head_pattern, self.head_pattern_of = None, []
            elif self.head_pattern_of != [layer, head]:  # not twice for one selection
                self.head_pattern = self.result.head(layer, head)
                self.head_pattern_of = [layer, head]
