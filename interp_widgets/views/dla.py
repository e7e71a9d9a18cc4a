"""DirectLogitAttributionView: what ``DirectLogitAttribution.show()`` returns.

A layers x heads heatmap of each attention head's direct contribution to the target logit
(or logit difference), per-layer bars (attention total and MLP) aligned with its rows, and
a summary of the remaining terms (embeddings, biases) with a check that the parts add up to
the logit. JavaScript: ``js/src/views/dla.ts`` (same trait names).

Transport: ``heads`` ``float32 [layers, heads]``, ``attn_bias`` and ``mlp`` ``float32
[layers]`` as binary arrays (views/_base.py); the scalar terms as plain floats. The view does
no maths beyond sums for display: every number shown is one of the result's.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import traitlets

from ..results.dla import DirectLogitAttribution
from ._base import BaseWidget, array_serialization, bundle, check_finite

__all__ = ["DirectLogitAttributionView"]


def _arrays(result: DirectLogitAttribution) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The result's arrays as float32, checked for shape and finiteness (ValueError)."""
    heads = np.asarray(result.heads, dtype=np.float64)
    if heads.ndim != 2 or heads.shape[0] == 0 or heads.shape[1] == 0:
        raise ValueError(f"heads must be a non-empty [layers, heads] array, got shape {heads.shape}")
    n_layers = heads.shape[0]
    attn_bias = np.asarray(result.attn_bias, dtype=np.float64)
    mlp = np.asarray(result.mlp, dtype=np.float64)
    for name, a in (("attn_bias", attn_bias), ("mlp", mlp)):
        if a.shape != (n_layers,):
            raise ValueError(f"{name} must be [layers] = ({n_layers},) like heads, got shape {a.shape}")
    check_finite(heads, "head contributions")
    check_finite(attn_bias, "attention biases")
    check_finite(mlp, "MLP contributions")
    return heads.astype(np.float32), attn_bias.astype(np.float32), mlp.astype(np.float32)


def _scalar(name: str, v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {v!r}") from None
    if not np.isfinite(f):
        raise ValueError(f"{name} must be finite, got {f}")
    return f


class DirectLogitAttributionView(BaseWidget):
    """Live view of a :class:`~interp_widgets.results.DirectLogitAttribution`.

    >>> from interp_widgets.results import DirectLogitAttribution
    >>> r = DirectLogitAttribution(["a", " b"], 1, "' c'", np.ones((2, 3), np.float32),
    ...                            np.zeros(2, np.float32), np.ones(2, np.float32),
    ...                            embed=0.5, norm_bias=0.0, lm_bias=0.0, logit=8.5)
    >>> w = DirectLogitAttributionView(r)
    >>> w.get_state()["heads"]["shape"], w.get_state()["mlp"]["shape"]
    ([2, 3], [2])

    Args:
        result: the attribution to show.
        title: shown above the view (default: the model name).
        theme: ``"auto"`` (follow the host), ``"light"`` or ``"dark"``.

    ``selected_layer`` / ``selected_head`` follow clicks on the heatmap (-1 when none), the
    same trait names as :class:`~interp_widgets.views.AttentionView` so the two can be
    linked; observe them with ``w.observe(callback, ["selected_layer", "selected_head"])``.
    """

    _esm = bundle("dla")

    tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    position = traitlets.Int(0).tag(sync=True)
    target = traitlets.Unicode("").tag(sync=True)
    heads = traitlets.Instance(np.ndarray, allow_none=True).tag(sync=True, **array_serialization)
    attn_bias = traitlets.Instance(np.ndarray, allow_none=True).tag(sync=True, **array_serialization)
    mlp = traitlets.Instance(np.ndarray, allow_none=True).tag(sync=True, **array_serialization)
    embed = traitlets.Float(0.0).tag(sync=True)
    norm_bias = traitlets.Float(0.0).tag(sync=True)
    lm_bias = traitlets.Float(0.0).tag(sync=True)
    logit = traitlets.Float(0.0).tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    selected_layer = traitlets.Int(-1).tag(sync=True)
    selected_head = traitlets.Int(-1).tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        result: DirectLogitAttribution,
        *,
        title: Optional[str] = None,
        theme: str = "auto",
    ) -> None:
        if not isinstance(result, DirectLogitAttribution):
            raise TypeError(f"DirectLogitAttributionView needs a DirectLogitAttribution, "
                            f"got {type(result).__name__}")
        heads, attn_bias, mlp = _arrays(result)
        tokens = [str(t) for t in result.tokens]
        if not tokens:
            raise ValueError("the result has no tokens: there is nothing to show")
        pos = int(result.position)
        if not -len(tokens) <= pos < len(tokens):
            raise ValueError(f"position {pos} is out of range for {len(tokens)} tokens")
        self.result = result
        super().__init__(
            tokens=tokens,
            position=pos % len(tokens),
            target=str(result.target),
            heads=heads,
            attn_bias=attn_bias,
            mlp=mlp,
            embed=_scalar("embed", result.embed),
            norm_bias=_scalar("norm_bias", result.norm_bias),
            lm_bias=_scalar("lm_bias", result.lm_bias),
            logit=_scalar("logit", result.logit),
            title=(result.model_name or "") if title is None else str(title),
            theme=theme,
        )

    @property
    def n_layers(self) -> int:
        return int(self.heads.shape[0])

    @property
    def n_heads(self) -> int:
        return int(self.heads.shape[1])

    def select(self, layer: int, head: int) -> "DirectLogitAttributionView":
        """Select one head (negative indices count from the end), as a click does."""
        for name, i, n in (("layer", layer, self.n_layers), ("head", head, self.n_heads)):
            if not -n <= i < n:
                raise ValueError(f"{name} {i} is out of range: the model has {n} {name}s (0..{n - 1})")
        with self.hold_sync():
            self.selected_layer, self.selected_head = int(layer % self.n_layers), int(head % self.n_heads)
        return self

    @traitlets.validate("selected_layer", "selected_head")
    def _valid_index(self, proposal: Any) -> int:
        name = proposal["trait"].name
        v = int(proposal["value"])
        n = self.n_layers if name == "selected_layer" else self.n_heads
        if not -1 <= v < n:
            raise ValueError(f"{name} {v} is out of range: the model has {n} "
                             f"{name.split('_')[1]}s (0..{n - 1}, or -1 for none)")
        return v
