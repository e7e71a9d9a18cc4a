"""The result of ``iw.attribute``.

A result knows how to show itself (``.show()`` returns a live view, imported lazily: the one
upward edge of the layer diagram) and how to export itself (``.to_html(path)``). A fresh
result may carry an opaque ``_source`` handle that lets its view recompute on a click; a
result without one (e.g. loaded from disk) shows a static view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np

from ._arrays import float32, strings

__all__ = ["Attribution", "AttributionSource"]


@dataclass
class AttributionSource:
    """Opaque handle a view uses to recompute an attribution for another target/method.

    ``recompute(target_position, method, progress)`` returns a new :class:`Attribution`.
    ``target_position`` indexes ``Attribution.tokens``: the token to explain (its logit is
    read at the position before it; on a masked LM, at the token itself). ``progress`` is a
    callable taking a fraction in [0, 1]. ``any_position``: every token can be explained (a
    masked LM's prediction at it), not only a continuation's.
    """

    recompute: Callable[..., "Attribution"]
    methods: tuple[str, ...]
    any_position: bool = False


@dataclass
class Attribution:
    """Scores of each input token for one or several targets.

    Attributes:
        tokens: the tokens of the text as the tokenizer split it (display strings, leading
            spaces and newlines kept). When a continuation was given, it follows the prompt.
        scores: ``float32`` array ``[tokens]`` for one target, ``[targets, tokens]`` for
            several. Tokens that cannot influence a target (at or after the position it is
            read from, in a causal model) score 0.
        target: label of the target (e.g. ``"' Paris'"``), or a list of labels.
        method: ``"integrated_gradients"``, ``"input_x_gradient"``, ``"saliency"`` or
            ``"occlusion"``.
        delta: completeness error of integrated gradients (sum of scores minus
            ``f(x) - f(baseline)``), one per target; ``None`` for other methods.
        n_evals: model evaluations used (forward passes + forward/backward passes, counted
            per sequence).
        prompt_len: number of prompt tokens; ``tokens[prompt_len:]`` is the continuation.
        target_positions: for each target, the index in ``tokens`` of the token whose logit
            is explained, or the index after the last token (``len(tokens)``) for a
            next-token target (and for a metric of an encoder's hidden states).
        causal: whether the model reads left to right (tokens at and after a target's
            position are not its inputs); ``False`` for encoders, whose every token is an
            input (a masked LM's target is the mask token itself, an input too).
        target_value: the target metric at the input (``f(x)``), per target.
        baseline_value: the target metric at the baseline (``f(baseline)``), IG only.
        info: free-form extra facts (baseline description, tolerance, ...).
    """

    tokens: list[str]
    scores: np.ndarray
    target: Any
    method: str
    delta: Optional[np.ndarray] = None
    n_evals: int = 0
    prompt_len: Optional[int] = None
    target_positions: Optional[list[int]] = None
    causal: bool = True
    target_value: Optional[np.ndarray] = None
    baseline_value: Optional[np.ndarray] = None
    info: dict = field(default_factory=dict)
    _source: Optional[AttributionSource] = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.tokens = strings(self.tokens)
        self.scores = float32(self.scores, "scores")
        if self.scores.ndim not in (1, 2):
            raise ValueError(f"scores must be [tokens] or [targets, tokens], got shape {self.scores.shape}")
        if self.prompt_len is None:
            self.prompt_len = len(self.tokens)
        if self.scores.shape[-1] != len(self.tokens):
            raise ValueError(
                f"scores have {self.scores.shape[-1]} columns but there are {len(self.tokens)} tokens"
            )

    @property
    def matrix(self) -> np.ndarray:
        """Scores as a 2-D ``[targets, tokens]`` array."""
        return self.scores.reshape(-1, len(self.tokens))

    @property
    def target_labels(self) -> list[str]:
        return list(self.target) if isinstance(self.target, (list, tuple)) else [self.target]

    def show(self, **kwargs):
        """A live :class:`~interp_widgets.views.AttributionWidget` of this result."""
        from ..views.attribution import AttributionWidget

        return AttributionWidget(self, **kwargs)

    def to_html(self, path, **kwargs):
        """Write a self-contained HTML file of the view (bundle and data inlined)."""
        return self.show(**kwargs).to_html(path)

    def __repr__(self) -> str:
        d = "" if self.delta is None else f", delta={np.round(self.delta, 4).tolist()}"
        return (
            f"Attribution(method={self.method!r}, target={self.target!r}, "
            f"tokens={len(self.tokens)}, n_evals={self.n_evals}{d})"
        )
