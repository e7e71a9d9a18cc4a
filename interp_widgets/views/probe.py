"""ProbeView: what ``Probe.show()`` returns.

Two parts. A chart of the probes' held-out accuracy per layer (train accuracy as a second
series, the chance rate as a line, the best layer marked); clicking a layer sets
``selected_layer``. Below it, a text box: the browser sets ``text`` and Python applies the
probe of ``selected_layer`` to every token of it (through the result's ``_source`` handle,
or a model given to the view), sending back ``tokens`` and ``predictions`` ``[n, C]``, which
the view shows as a token heatmap. Changing the layer re-applies the probe to the same text.
A result without a source (loaded from disk, or a static export) shows the chart and the
last predictions; the text box is disabled.

JavaScript: ``js/src/views/probe.ts`` (same trait names).
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import traitlets

from ..results.probe import Probe, ProbeSource
from ._base import BaseWidget, array_serialization, bundle, check_finite

__all__ = ["ProbeView"]

_STATIC = "This probe has no model to apply it with (static view): pass model= to show()."


class ProbeView(BaseWidget):
    """Live view of a :class:`~interp_widgets.results.Probe`.

    >>> import numpy as np
    >>> from interp_widgets.results import Probe
    >>> r = Probe(layers=[0, 1], classes=["a", "b"], train_accuracy=np.array([1.0, 1.0]),
    ...           test_accuracy=np.array([0.5, 0.75]), directions=np.zeros((2, 2, 4)),
    ...           biases=np.zeros((2, 2)), position="last", n_train=6, n_test=4)
    >>> w = ProbeView(r)
    >>> w.selected_layer, w.classes, w.interactive
    (1, ['a', 'b'], False)

    Args:
        probe: the result to show.
        model: apply the probes with this :class:`~interp_widgets.Model` (default: the model
            that trained them, for a fresh result); its width must match the probe's.
        text: apply the probe to this text now (needs a model).
        layer: the probe to apply (default: the best layer).
        theme: ``"auto"`` (follow the host), ``"light"`` or ``"dark"``.

    ``predict(text, layer)`` does what the text box does and returns the probabilities.
    Layers are shown in increasing order.
    """

    _esm = bundle("probe")

    layers = traitlets.Instance(np.ndarray, allow_none=True).tag(sync=True, **array_serialization)
    test_accuracy = traitlets.Instance(np.ndarray, allow_none=True).tag(sync=True, **array_serialization)
    train_accuracy = traitlets.Instance(np.ndarray, allow_none=True).tag(sync=True, **array_serialization)
    classes = traitlets.List(traitlets.Unicode()).tag(sync=True)
    chance = traitlets.Float(0.5).tag(sync=True)
    best_layer = traitlets.Int(0).tag(sync=True)
    position = traitlets.Unicode("").tag(sync=True)
    n_train = traitlets.Int(0).tag(sync=True)
    n_test = traitlets.Int(0).tag(sync=True)
    model_name = traitlets.Unicode("").tag(sync=True)
    selected_layer = traitlets.Int(0).tag(sync=True)
    text = traitlets.Unicode("").tag(sync=True)
    # The predictions shown: tokens of ``text`` and P(class) at each, from ``selected_layer``.
    tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    predictions = traitlets.Instance(np.ndarray, allow_none=True).tag(sync=True, **array_serialization)
    busy = traitlets.Bool(False).tag(sync=True)
    progress = traitlets.Float(0.0).tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    interactive = traitlets.Bool(False).tag(sync=True)

    def __init__(self, probe: Probe, *, model: Any = None, text: Optional[str] = None,
                 layer: Optional[int] = None, theme: str = "auto") -> None:
        if not isinstance(probe, Probe):
            raise TypeError(f"ProbeView needs a Probe (from iw.probe), got {type(probe).__name__}")
        n = len(probe.layers)
        test = np.asarray(probe.test_accuracy, np.float32).reshape(-1)
        train = np.asarray(probe.train_accuracy, np.float32).reshape(-1)
        if n == 0:
            raise ValueError("the probe has no layers to show")
        if test.shape != (n,) or train.shape != (n,):
            raise ValueError(f"the probe has {n} layers but {test.size} test and {train.size} train accuracies")
        if len(probe.classes) < 2:
            raise ValueError(f"a probe needs at least two classes, this one has {len(probe.classes)}")
        check_finite(test.astype(np.float64), "test accuracies")
        check_finite(train.astype(np.float64), "train accuracies")
        super().__init__(theme=theme)
        self.probe: Probe = probe
        self._n_model_layers = int(getattr(model, "n_layers", 0) or 0)
        if model is not None:
            from ..kernels.probe import probe_source  # a view's callback into the kernels

            self._source: Optional[ProbeSource] = probe_source(model, probe)
        else:
            self._source = probe._source
        order = np.argsort(np.asarray(probe.layers), kind="stable")
        with self._quiet():
            self.layers = np.asarray(probe.layers, np.int32)[order]
            self.test_accuracy = test[order]
            self.train_accuracy = train[order]
            self.classes = [str(c) for c in probe.classes]
            self.chance = float(probe.chance)
            self.best_layer = int(probe.best_layer)
            self.position = str(probe.position)
            self.n_train, self.n_test = int(probe.n_train), int(probe.n_test)
            self.model_name = str(probe.model_name or (self._source.model_name if self._source else ""))
            self.selected_layer = self._check_layer(probe.best_layer if layer is None else layer)
            self.predictions = np.zeros((0, len(probe.classes)), np.float32)
            self.interactive = self._source is not None
        self.observe(self._on_layer, names="selected_layer")
        self.observe(self._on_text, names="text")
        if text is not None:
            if self._source is None:
                raise ValueError("text= needs a model to apply the probe with: pass model= too")
            self.predict(text)

    # -- state -------------------------------------------------------------------------

    def _check_layer(self, layer: Any) -> int:
        """The probed layer ``layer`` names (negative: from the end of the model)."""
        return int(self.probe.layers[self.probe.layer_index(layer, self._n_model_layers)])

    def _compute(self, text: str, layer: int) -> np.ndarray:
        """Apply the probe of ``layer`` to ``text`` and show it; raises on failure (the
        traits are then left as they were, apart from ``error``)."""
        if self._source is None:
            raise ValueError(_STATIC)
        layer = self._check_layer(layer)
        with self._quiet():
            self.error = ""
            self.progress = 0.0
            self.busy = True
        try:
            tokens, probs = self._source.predict(text, layer)
            probs = np.asarray(probs, np.float32)
            if probs.shape != (len(tokens), len(self.classes)):
                raise ValueError(f"predictions have shape {list(probs.shape)}, expected "
                                 f"[{len(tokens)}, {len(self.classes)}]")
            check_finite(probs.astype(np.float64), "probe predictions")
            with self._quiet():
                self.text = text
                self.selected_layer = layer
                self.tokens = [str(t) for t in tokens]
                self.predictions = probs
            return probs
        finally:
            with self._quiet():
                self.busy = False
                self.progress = 0.0

    # -- interaction -------------------------------------------------------------------

    def predict(self, text: Optional[str] = None, layer: Optional[int] = None) -> np.ndarray:
        """Apply the probe of ``layer`` (default: the selected one) to ``text`` (default: the
        current text) and show the result; returns ``float32 [n_tokens, n_classes]``. On
        failure the error is shown in the view and raised."""
        text = self.text if text is None else text
        layer = self.selected_layer if layer is None else layer
        try:
            return self._compute(text, layer)
        except Exception as e:
            with self._quiet():
                self.error = f"{type(e).__name__}: {e}"
            raise

    def _on_text(self, change: dict) -> None:
        if self._applying:
            return
        text = str(change["new"])
        try:
            self._compute(text, self.selected_layer)
        except Exception as e:  # shown in the view; the text box keeps what was typed
            with self._quiet():
                self.tokens = []
                self.predictions = np.zeros((0, len(self.classes)), np.float32)
                self.error = f"{type(e).__name__}: {e}"

    def _on_layer(self, change: dict) -> None:
        if self._applying:
            return
        old, new = int(change["old"]), int(change["new"])
        try:
            self._check_layer(new)
            if self._source is None:
                raise ValueError(_STATIC)
            if self.text.strip():
                self._compute(self.text, new)
            else:
                with self._quiet():
                    self.error = ""
        except Exception as e:  # a click that failed: keep the previous probe
            with self._quiet():
                self.selected_layer = old
                self.error = f"{type(e).__name__}: {e}"
