"""The result of ``sae_features``: every feature of a sparse autoencoder over a corpus.

Plain data (numpy arrays and strings). A fresh result carries an opaque ``_source`` handle
(the model and the SAE) with which the :class:`~interp_widgets.views.FeatureDashboard`
recomputes a feature's activations over its contexts, its decoder logits, and prompt mode;
a result without one shows what it holds (the list, the max token of each context).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

__all__ = ["SAEFeatures", "SAESource", "FeatureExample"]


@dataclass
class FeatureExample:
    """One top-activating context of a feature.

    Attributes:
        tokens: the context window around the max token.
        activations: ``float32 [len(tokens)]``, the feature on each of them (without a
            source: only the max token's value is known, the others are 0).
        max_pos: index in ``tokens`` of the activating token.
        activation: the feature's value there.
        text_index, position: where in the corpus.
    """

    tokens: list[str]
    activations: np.ndarray
    max_pos: int
    activation: float
    text_index: int
    position: int


@dataclass
class SAESource:
    """Opaque handle a view uses to recompute.

    ``activations(texts, feature)`` -> the feature over each corpus text asked for (one
    ``float32`` array per text index);
    ``logits(feature, k)`` -> ``(promoted, suppressed)`` lists of ``(token, value)``;
    ``prompt(text)`` -> ``(tokens, float32 [n_tokens, d_sae])``.
    """

    activations: Callable[[list, int], list]
    logits: Callable[..., tuple]
    prompt: Callable[[str], tuple]


@dataclass
class SAEFeatures:
    """Every feature of an SAE over a corpus (see ``kernels/sae_features.py``).

    Attributes:
        density: ``float32 [d_sae]`` fraction of counted tokens where the feature is active.
        max_act, mean_act: ``float32 [d_sae]`` max activation; mean when active.
        count: ``int64 [d_sae]`` active-token counts.
        top_values: ``float32 [d_sae, k]`` top activations, highest first (0 = none);
            ``top_text``, ``top_pos``: ``int32 [d_sae, k]`` where (``-1`` = none).
        hist_counts: ``int64 [d_sae, bins]`` counts of active values over the fixed
            log-spaced ``hist_edges`` ``[bins + 1]`` (outside values go to the end bins).
        corpus_ids: ``int32`` token ids of each corpus text (truncated to ``max_len``).
        vocab: the display string of every token id.
        model_name, hook_name, n_tokens (counted tokens), n_texts.
        context: tokens shown ``(before, after)`` the max token.
        promoted_ids: ``int32 [d_sae, n]`` the tokens each decoder direction promotes most
            (for search), or ``None``.
    """

    density: np.ndarray
    max_act: np.ndarray
    mean_act: np.ndarray
    count: np.ndarray
    top_values: np.ndarray
    top_text: np.ndarray
    top_pos: np.ndarray
    hist_counts: np.ndarray
    hist_edges: np.ndarray
    corpus_ids: list
    vocab: list
    model_name: str = ""
    hook_name: str = ""
    n_tokens: int = 0
    n_texts: int = 0
    context: tuple = (8, 8)
    promoted_ids: Optional[np.ndarray] = None
    info: dict = field(default_factory=dict)
    _source: Optional[SAESource] = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        f32 = lambda a: np.asarray(a, dtype=np.float32)  # noqa: E731
        self.density, self.max_act, self.mean_act = f32(self.density), f32(self.max_act), f32(self.mean_act)
        self.count = np.asarray(self.count, dtype=np.int64)
        self.top_values = f32(self.top_values)
        self.top_text = np.asarray(self.top_text, dtype=np.int32)
        self.top_pos = np.asarray(self.top_pos, dtype=np.int32)
        self.hist_counts = np.asarray(self.hist_counts, dtype=np.int64)
        self.hist_edges = f32(self.hist_edges)
        self.corpus_ids = [np.asarray(c, dtype=np.int32) for c in self.corpus_ids]
        if self.promoted_ids is not None:
            self.promoted_ids = np.asarray(self.promoted_ids, dtype=np.int32)
        n = self.density.shape[0]
        for name in ("max_act", "mean_act", "count"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"{name} must have shape [{n}], got {list(getattr(self, name).shape)}")
        if self.top_text.shape != self.top_values.shape or self.top_pos.shape != self.top_values.shape \
                or self.top_values.shape[0] != n:
            raise ValueError("top_values, top_text and top_pos must all be [d_sae, k]")
        if self.hist_counts.shape[0] != n or self.hist_edges.shape[0] != self.hist_counts.shape[1] + 1:
            raise ValueError("hist_counts must be [d_sae, bins] and hist_edges [bins + 1]")

    # -- facts -------------------------------------------------------------------------

    @property
    def d_sae(self) -> int:
        return int(self.density.shape[0])

    def _check_feature(self, i) -> int:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise TypeError(f"a feature index must be an int, got {i!r}")
        if not 0 <= int(i) < self.d_sae:
            raise ValueError(f"feature {i} is out of range: the SAE has {self.d_sae} features (0..{self.d_sae - 1})")
        return int(i)

    def token(self, token_id: int) -> str:
        return self.vocab[token_id] if 0 <= token_id < len(self.vocab) else f"<{token_id}>"

    def top_features(self, by: str = "max", n: Optional[int] = None) -> np.ndarray:
        """Feature indices sorted by ``"max"`` activation, ``"density"`` or ``"mean"``
        (highest first); dead features (never active) last."""
        keys = {"max": self.max_act, "density": self.density, "mean": self.mean_act}
        if by not in keys:
            raise ValueError(f"by must be one of {sorted(keys)}, got {by!r}")
        order = np.argsort(-keys[by], kind="stable")
        return order[:n] if n is not None else order

    def top_token_ids(self, n: int = 5) -> np.ndarray:
        """``int32 [d_sae, n]``: the distinct tokens of each feature's top contexts (the max
        tokens, best first; ``-1`` pads)."""
        out = np.full((self.d_sae, n), -1, dtype=np.int32)
        for i in range(self.d_sae):
            seen: list[int] = []
            for t, p in zip(self.top_text[i], self.top_pos[i]):
                if t < 0:
                    break
                tid = int(self.corpus_ids[t][p])
                if tid not in seen:
                    seen.append(tid)
                    if len(seen) == n:
                        break
            out[i, : len(seen)] = seen
        return out

    def examples(self, i: int) -> list[FeatureExample]:
        """The top-activating contexts of feature ``i``, highest first: the tokens around
        the max token and the feature's activation on each (recomputed through the source;
        without one only the max token's value is known). A context window that repeats
        (a corpus that repeats a passage, as the standard library's docstrings do) is listed
        once, at its highest activation."""
        i = self._check_feature(i)
        before, after = self.context
        hits, seen = [], set()
        for v, t, p in zip(self.top_values[i], self.top_text[i], self.top_pos[i]):
            t, p = int(t), int(p)
            if t < 0:
                continue
            ids = self.corpus_ids[t]
            lo = max(0, p - before)
            key = (tuple(int(x) for x in ids[lo:p + after + 1]), p - lo)
            if key not in seen:
                seen.add(key)
                hits.append((float(v), t, p))
        if not hits:
            return []
        acts = None
        if self._source is not None:
            acts = self._source.activations([t for _, t, _ in hits], i)
        out = []
        for j, (v, t, p) in enumerate(hits):
            ids = self.corpus_ids[t]
            lo, hi = max(0, p - before), min(len(ids), p + after + 1)
            if acts is not None:
                a = np.asarray(acts[j], dtype=np.float32)[lo:hi]
            else:
                a = np.zeros(hi - lo, dtype=np.float32)
                a[p - lo] = v
            out.append(FeatureExample(tokens=[self.token(int(x)) for x in ids[lo:hi]], activations=a,
                                      max_pos=p - lo, activation=v, text_index=t, position=p))
        return out

    def logits(self, i: int, k: int = 10):
        """``(promoted, suppressed)`` tokens of feature ``i``'s decoder direction (needs the
        source; ``([], [])`` without one)."""
        i = self._check_feature(i)
        if self._source is None:
            return [], []
        return self._source.logits(i, k)

    def show(self, **kwargs):
        """A live :class:`~interp_widgets.views.FeatureDashboard` of this result."""
        from ..views.feature_dashboard import FeatureDashboard

        return FeatureDashboard(self, **kwargs)

    def to_html(self, path, **kwargs):
        """Write a self-contained HTML file of the dashboard (bundle and data inlined)."""
        return self.show(**kwargs).to_html(path)

    def __repr__(self) -> str:
        alive = int((self.count > 0).sum())
        return (f"SAEFeatures({self.hook_name} of {self.model_name!r}: {self.d_sae} features, "
                f"{alive} active, {self.n_texts} texts / {self.n_tokens} tokens, "
                f"mean density {float(self.density.mean()) if self.d_sae else 0:.3g})")
