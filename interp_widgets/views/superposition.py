"""SuperpositionView: what ``Superposition.show()`` returns.

The toy model of superposition (Elhage et al. 2022) at a glance: each feature's direction
``W_i`` in the hidden plane (an arrow from the origin, coloured by how much it shares its
direction with other features), the ``Wᵀ W`` matrix, and the per-feature norms. For a hidden
space wider than 2 the arrows are the projection on the top-2 principal directions.

Sliders set ``sparsity`` and ``importance_decay``; Python retrains the model through the
result's ``_source`` handle (a second or a few), showing progress meanwhile, and pushes the
new weights. A result without a source (or an exported page) shows a static view.

JavaScript: ``js/src/views/superposition.ts`` (same trait names).
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import traitlets

from ..results.superposition import Superposition
from ._base import BaseWidget, array_serialization, bundle, check_finite

__all__ = ["SuperpositionView"]


class SuperpositionView(BaseWidget):
    """Live view of a :class:`~interp_widgets.results.superposition.Superposition`.

    >>> import numpy as np
    >>> from interp_widgets.results.superposition import Superposition
    >>> r = Superposition(W=np.eye(2, 3), b=np.zeros(3), sparsity=0.0, importance=np.ones(3), loss=0.3)
    >>> w = SuperpositionView(r)
    >>> w.n_features, w.n_hidden, w.interactive
    (3, 2, False)

    ``w.result`` is the result currently shown (it changes after a retrain).
    """

    _esm = bundle("superposition")

    n_features = traitlets.Int(0).tag(sync=True)
    n_hidden = traitlets.Int(0).tag(sync=True)
    W = traitlets.Instance(np.ndarray, allow_none=True).tag(sync=True, **array_serialization)  # [n_hidden, n_features]
    b = traitlets.Instance(np.ndarray, allow_none=True).tag(sync=True, **array_serialization)  # [n_features]
    # The arrows: W itself for n_hidden == 2, else the projection on the top-2 principal directions.
    directions = traitlets.Instance(np.ndarray, allow_none=True).tag(sync=True, **array_serialization)  # [2, n_features]
    projected = traitlets.Bool(False).tag(sync=True)
    explained = traitlets.List(traitlets.Float()).tag(sync=True)  # fraction of ||W||² on each plotted axis
    wtw = traitlets.Instance(np.ndarray, allow_none=True).tag(sync=True, **array_serialization)  # [n_features, n_features]
    norms = traitlets.Instance(np.ndarray, allow_none=True).tag(sync=True, **array_serialization)  # [n_features]
    superposition = traitlets.Instance(np.ndarray, allow_none=True).tag(sync=True, **array_serialization)
    importance = traitlets.Instance(np.ndarray, allow_none=True).tag(sync=True, **array_serialization)
    loss = traitlets.Float(0.0).tag(sync=True)
    n_represented = traitlets.Int(0).tag(sync=True)
    train_seconds = traitlets.Float(0.0).tag(sync=True)
    # Slider values: set by the user, Python retrains. importance_decay is None when the
    # result's importance is an explicit array (not a geometric decay).
    sparsity = traitlets.Float(0.0).tag(sync=True)
    importance_decay = traitlets.Float(None, allow_none=True).tag(sync=True)
    busy = traitlets.Bool(False).tag(sync=True)
    progress = traitlets.Float(0.0).tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    interactive = traitlets.Bool(False).tag(sync=True)

    def __init__(self, result: Superposition, *, theme: str = "auto") -> None:
        if not isinstance(result, Superposition):
            raise TypeError(f"SuperpositionView needs a Superposition, got {type(result).__name__}")
        super().__init__(theme=theme)
        self.result: Superposition = result
        self._apply(result)
        self.observe(self._on_slider, names=["sparsity", "importance_decay"])

    # -- state -------------------------------------------------------------------------

    def _apply(self, r: Superposition) -> None:
        check_finite(r.W.astype(np.float64), "W")
        xy, explained = r.projection()
        with self._quiet():
            self.n_features, self.n_hidden = r.n_features, r.n_hidden
            self.W = r.W
            self.b = r.b
            self.directions = xy
            self.projected = r.n_hidden > 2
            self.explained = [float(v) for v in explained]
            self.wtw = r.WtW
            self.norms = r.norms
            self.superposition = r.superposition
            self.importance = r.importance
            self.loss = float(r.loss)
            self.n_represented = r.n_represented()
            self.train_seconds = float(r.info.get("seconds", 0.0))
            self.sparsity = float(r.sparsity)
            self.importance_decay = None if r.importance_decay is None else float(r.importance_decay)
            self.interactive = r._source is not None

    # -- interaction -------------------------------------------------------------------

    def _on_slider(self, change: dict) -> None:
        if self._applying or self.busy:
            return
        old = self.result
        sparsity = float(self.sparsity)
        decay = self.importance_decay
        if sparsity == old.sparsity and decay == old.importance_decay:
            return

        def restore(msg: str) -> None:
            with self._quiet():
                self.sparsity = float(old.sparsity)
                self.importance_decay = old.importance_decay
                self.error = msg

        if old._source is None:
            restore("This result has no source to retrain from (static view).")
            return
        self.retrain(sparsity=sparsity, importance=decay, _restore=restore)

    def retrain(self, sparsity: Optional[float] = None, importance: Any = None, **kw: Any) -> Superposition:
        """Retrain the toy model at another sparsity and/or importance (a decay factor or an
        explicit array; ``None`` keeps the current one), as moving a slider does. Shows
        progress in the view; on failure the error is shown in the view, the previous result
        is kept, and the exception is raised."""
        restore = kw.pop("_restore", None)
        if kw:
            raise TypeError(f"unexpected keyword arguments: {sorted(kw)}")
        old = self.result
        source = old._source
        if source is None:
            raise ValueError("this Superposition has no _source: it cannot be retrained")
        if sparsity is None:
            sparsity = old.sparsity
        if importance is None:
            importance = old.importance_decay if old.importance_decay is not None else old.importance
        return self._recompute(lambda progress: source.retrain(sparsity=sparsity, importance=importance, progress=progress),
                               Superposition, restore, step=0.02)
