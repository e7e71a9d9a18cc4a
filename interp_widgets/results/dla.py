"""The result of ``iw.direct_logit_attribution``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DirectLogitAttribution"]


@dataclass
class DirectLogitAttribution:
    """Direct contributions to one logit (or logit difference) at one position.

    ``embed + heads.sum() + attn_bias.sum() + mlp.sum() + norm_bias + lm_bias == logit``
    (the final norm's scale frozen from the run; see ``interp_widgets.kernels.dla``).

    Attributes:
        tokens: the prompt's tokens; ``position`` the explained one (its next-token logit).
        target: a label of the target token, or ``'a' - 'b'`` for a difference.
        heads: ``float32 [layers, heads]``: each attention head's direct contribution.
        attn_bias: ``float32 [layers]``: each attention output projection's bias (0 if none).
        mlp: ``float32 [layers]``: each MLP layer's direct contribution.
        embed: the embeddings' (plus position embeddings') contribution.
        norm_bias, lm_bias: the final LayerNorm's bias and the LM head's bias terms.
        logit: the model's value of the target logit (before any final soft-capping).
    """

    tokens: list[str]
    position: int
    target: str
    heads: np.ndarray
    attn_bias: np.ndarray
    mlp: np.ndarray
    embed: float
    norm_bias: float
    lm_bias: float
    logit: float
    model_name: str = ""

    @property
    def layers(self) -> np.ndarray:
        """Per-layer totals ``[layers]``: attention (heads + bias) + MLP."""
        return self.heads.sum(1) + self.attn_bias + self.mlp

    @property
    def total(self) -> float:
        return float(self.embed + self.heads.sum() + self.attn_bias.sum() + self.mlp.sum()
                     + self.norm_bias + self.lm_bias)

    def top_heads(self, k: int = 5, sign: int = 1) -> list[tuple[int, int, float]]:
        """The ``k`` heads that push the target most (``sign=-1``: most against)."""
        s = self.heads * sign
        order = np.argsort(s, axis=None)[::-1][:k]
        return [(int(i // s.shape[1]), int(i % s.shape[1]), float(self.heads.flat[i])) for i in order]

    def show(self, **kwargs):
        """A live :class:`~interp_widgets.views.DirectLogitAttributionView` of this result."""
        from ..views.dla import DirectLogitAttributionView

        return DirectLogitAttributionView(self, **kwargs)

    def to_html(self, path, **kwargs):
        """Write a self-contained HTML file of the view (bundle and data inlined)."""
        return self.show(**kwargs).to_html(path)

    def __repr__(self) -> str:
        top = ", ".join(f"L{l}H{h} {v:+.2f}" for l, h, v in self.top_heads(3))
        return (f"DirectLogitAttribution(target={self.target}, position={self.position}, "
                f"logit={self.logit:.3f}, top heads: {top}, top MLP: L{int(self.mlp.argmax())} "
                f"{float(self.mlp.max()):+.2f})")
