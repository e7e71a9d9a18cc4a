"""AttributionWidget: what ``Attribution.show()`` returns.

Input tokens coloured by their attribution score for a target token. Clicking a
continuation token in the view sets ``target_position``; choosing a method sets ``method``.
Python observes both and recomputes through the result's ``_source`` handle, showing
progress meanwhile; a result without a source shows a static view.

JavaScript: ``js/src/views/attribution.ts`` (same trait names).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import traitlets

from ..results import Attribution
from ._base import BaseWidget, array_serialization, bundle, check_finite

__all__ = ["AttributionWidget"]


class AttributionWidget(BaseWidget):
    """Live view of an :class:`~interp_widgets.results.Attribution`.

    >>> from interp_widgets.results import Attribution
    >>> a = Attribution(tokens=["The", " cat", " sat"], scores=[0.2, -0.4, 0.0],
    ...                 target="' sat'", method="saliency", prompt_len=2,
    ...                 target_positions=[2])
    >>> w = AttributionWidget(a)
    >>> w.target_position, w.interactive
    (2, False)

    ``w.attribution`` is the result currently shown (it changes after a recompute).
    """

    _esm = bundle("attribution")

    tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    scores = traitlets.Instance(np.ndarray, allow_none=True).tag(sync=True, **array_serialization)
    row_labels = traitlets.List(traitlets.Unicode()).tag(sync=True)
    prompt_len = traitlets.Int(0).tag(sync=True)
    target_position = traitlets.Int(-1).tag(sync=True)
    selected_token = traitlets.Int(-1).tag(sync=True)  # highlighted token (-1 none), linkable
    target_positions = traitlets.List(traitlets.Int()).tag(sync=True)
    target_label = traitlets.Unicode("").tag(sync=True)
    causal = traitlets.Bool(True).tag(sync=True)  # False: every token is an input (encoders)
    pick_any = traitlets.Bool(False).tag(sync=True)  # any token can be clicked (masked LMs)
    method = traitlets.Unicode("").tag(sync=True)
    methods = traitlets.List(traitlets.Unicode()).tag(sync=True)
    delta = traitlets.Union(
        [traitlets.Float(), traitlets.List(traitlets.Float())], allow_none=True, default_value=None
    ).tag(sync=True)
    n_evals = traitlets.Int(0).tag(sync=True)
    busy = traitlets.Bool(False).tag(sync=True)
    progress = traitlets.Float(0.0).tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    interactive = traitlets.Bool(False).tag(sync=True)

    def __init__(self, attribution: Attribution, *, theme: str = "auto") -> None:
        if not isinstance(attribution, Attribution):
            raise TypeError(f"AttributionWidget needs an Attribution, got {type(attribution).__name__}")
        super().__init__(theme=theme)
        self.attribution: Attribution = attribution
        self._apply(attribution)
        self.observe(self._on_request, names=["target_position", "method"])

    # -- state -------------------------------------------------------------------------

    def _apply(self, a: Attribution) -> None:
        matrix = np.asarray(a.matrix, dtype=np.float32)
        check_finite(matrix, "attribution scores")
        n = len(a.tokens)
        positions = [int(p) for p in (a.target_positions or [n] * matrix.shape[0])]
        labels = [str(t) for t in a.target_labels]
        if len(labels) != matrix.shape[0]:
            labels = (labels + [f"target {i}" for i in range(len(labels), matrix.shape[0])])[: matrix.shape[0]]
        source = getattr(a, "_source", None)
        methods = list(source.methods) if source is not None else []
        if a.method not in methods:
            methods = [a.method, *methods]
        if a.delta is None:
            delta: Any = None
        else:
            d = np.asarray(a.delta, dtype=np.float64).reshape(-1)
            delta = float(d[0]) if d.size == 1 else [float(x) for x in d]
        with self._quiet():
            self.tokens = [str(t) for t in a.tokens]
            self.scores = matrix
            self.row_labels = labels
            self.prompt_len = int(a.prompt_len if a.prompt_len is not None else n)
            self.target_positions = positions
            self.target_position = positions[0]
            self.target_label = labels[0]
            self.causal = bool(getattr(a, "causal", True))
            self.pick_any = bool(source is not None and getattr(source, "any_position", False))
            self.method = str(a.method)
            self.methods = methods
            self.delta = delta
            self.n_evals = int(a.n_evals or 0)
            self.interactive = source is not None

    @traitlets.validate("selected_token")
    def _validate_selected(self, proposal: dict) -> int:
        i = int(proposal["value"])
        return i if 0 <= i < len(self.tokens) else -1

    # -- interaction -------------------------------------------------------------------

    def _on_request(self, change: dict) -> None:
        if self._applying or self.busy:
            return
        old = self.attribution
        old_target = (old.target_positions or [len(old.tokens)])[0]
        target = int(self.target_position)
        method = str(self.method)

        def restore(msg: str) -> None:
            with self._quiet():
                self.target_position = int(old_target)
                self.method = str(old.method)
                self.error = msg

        source = getattr(old, "_source", None)
        if source is None:
            restore("This result has no source to recompute from (static view).")
            return
        lo = 0 if self.pick_any else 1
        if not lo <= target <= len(old.tokens):
            restore(f"target_position {target} is out of range {lo}..{len(old.tokens)}")
            return
        self.recompute(target_position=target, method=method, _restore=restore)

    @property
    def result(self) -> Attribution:
        """The shown attribution (``BaseWidget._recompute`` replaces it)."""
        return self.attribution

    @result.setter
    def result(self, value: Attribution) -> None:
        self.attribution = value

    def recompute(self, target_position: int | None = None, method: str | None = None, **kw: Any) -> Attribution:
        """Recompute for another target position and/or method (as a click does).

        Shows progress in the view. On failure the error is shown in the view, the previous
        result is kept, and the exception is raised.
        """
        old = self.attribution
        restore = kw.pop("_restore", None)
        if kw:
            raise TypeError(f"unexpected keyword arguments: {sorted(kw)}")
        source = getattr(old, "_source", None)
        if target_position is None:
            target_position = (old.target_positions or [len(old.tokens)])[0]
        if method is None:
            method = old.method
        if source is None:
            raise ValueError("this Attribution has no _source: it cannot be recomputed")

        return self._recompute(
            lambda progress: source.recompute(target_position=int(target_position), method=str(method),
                                              progress=progress),
            Attribution, restore)
