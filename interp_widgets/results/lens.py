"""The result of ``iw.logit_lens``: what the model would predict from the residual stream
after every layer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

__all__ = ["LogitLens", "LensSource", "TrackedToken"]


@dataclass
class TrackedToken:
    """One token followed through the layers: its rank (0 = top) and probability at every
    row and position."""

    token_id: int
    label: str  # the token's text as the tokenizer spells it
    rank: np.ndarray  # int32 [rows, positions]
    prob: np.ndarray  # float32 [rows, positions]


@dataclass
class LensSource:
    """Opaque handle for a view: ``track(token)`` (a token string or id) returns a
    :class:`TrackedToken` computed from the same run."""

    track: Callable[[object], TrackedToken]


@dataclass
class LogitLens:
    """Next-token predictions read from the residual stream at every layer (a masked LM's:
    predictions of the token at each position, see ``predicts``).

    Row ``r`` applies the model's final norm and unembedding to the residual stream: row 0
    to the embeddings (``layers[0] == "embed"``), row ``l + 1`` to the output of layer ``l``
    (``blocks.l.hook_resid_post``). The last row is the model's own prediction.

    Attributes:
        tokens: the text's tokens (positions).
        layers: row labels, ``["embed", "0", "1", ...]``.
        top_ids: ``int32 [rows, positions, k]``: the k most likely next tokens, best first
            (a masked LM's: the tokens at that position).
        top_probs: ``float32 [rows, positions, k]``: their probabilities.
        vocab: token id -> display string for every id in ``top_ids`` (and tracked ids).
        tracked: tokens followed across layers (see :class:`TrackedToken`).
        predicts: ``"next"`` (a causal LM: each cell predicts the next token) or ``"same"``
            (a masked LM: the token at that position, e.g. what fills a ``[MASK]``).
    """

    tokens: list[str]
    layers: list[str]
    top_ids: np.ndarray
    top_probs: np.ndarray
    vocab: dict[int, str]
    tracked: list[TrackedToken] = field(default_factory=list)
    model_name: str = ""
    predicts: str = "next"
    _source: Optional[LensSource] = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.predicts not in ("next", "same"):
            raise ValueError(f"predicts must be 'next' or 'same', got {self.predicts!r}")
        self.top_ids = np.asarray(self.top_ids, dtype=np.int32)
        self.top_probs = np.asarray(self.top_probs, dtype=np.float32)
        want = (len(self.layers), len(self.tokens))
        if self.top_ids.ndim != 3 or self.top_ids.shape[:2] != want or self.top_probs.shape != self.top_ids.shape:
            raise ValueError(f"top_ids/top_probs must be [rows={want[0]}, positions={want[1]}, k], got "
                             f"{self.top_ids.shape} and {self.top_probs.shape}")

    @property
    def k(self) -> int:
        return int(self.top_ids.shape[2])

    def top_tokens(self, row: int = -1) -> list[str]:
        """The top-1 token at every position of a row (default: the model's own output)."""
        return [self.vocab[int(i)] for i in self.top_ids[row, :, 0]]

    def track(self, token) -> TrackedToken:
        """Follow ``token`` (a string or id) through the layers; needs the live source."""
        if self._source is None:
            raise ValueError("this result has no model attached (loaded from disk?): recompute it with iw.logit_lens")
        t = self._source.track(token)
        self.tracked = [x for x in self.tracked if x.token_id != t.token_id] + [t]
        self.vocab.setdefault(t.token_id, t.label)
        return t

    def show(self, **kwargs):
        """A live :class:`~interp_widgets.views.LogitLensView` of this result."""
        from ..views.logit_lens import LogitLensView

        return LogitLensView(self, **kwargs)

    def to_html(self, path, **kwargs):
        """Write a self-contained HTML file of the view (bundle and data inlined)."""
        return self.show(**kwargs).to_html(path)

    def __repr__(self) -> str:
        return (f"LogitLens(tokens={len(self.tokens)}, rows={len(self.layers)}, k={self.k}, "
                f"final={self.top_tokens()[-1]!r}, tracked={[t.label for t in self.tracked]})")
