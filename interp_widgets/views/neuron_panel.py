"""NeuronPanel: what ``NeuronActivations.show()`` returns.

One MLP neuron: its activations over the shown texts (heatmap rows), its top-k activating
contexts (the max token highlighted), the histogram of its activations over the corpus, and
the tokens its output direction most promotes and suppresses.

Clicking a token of a shown text sets ``selected_token`` (``[row, position]``); Python
answers with the most active neurons there (``neuron_list``). Clicking one of those sets
``layer`` and ``index``; Python recomputes the panel for that neuron through the result's
``_source`` handle, showing progress meanwhile. A result without a source (or an exported
page) shows a static view.

JavaScript: ``js/src/views/neuron_panel.ts`` (same trait names).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import traitlets

from ..results import NeuronActivations
from ._base import BaseWidget, array_serialization, bundle, check_finite

__all__ = ["NeuronPanel"]


def _flat(rows: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([np.asarray(r, np.float32).reshape(-1) for r in rows]) if rows else np.zeros(0, np.float32)


class NeuronPanel(BaseWidget):
    """Live view of a :class:`~interp_widgets.results.NeuronActivations`.

    >>> import numpy as np
    >>> from interp_widgets.results import NeuronActivations
    >>> r = NeuronActivations(layer=0, index=3, texts_tokens=[["a", " b"]],
    ...                       texts_activations=[np.array([0.5, 1.0])], examples=[],
    ...                       hist_counts=[1, 1], hist_edges=[0, 0.5, 1], n_tokens=2, n_texts=1)
    >>> w = NeuronPanel(r)
    >>> w.layer, w.index, w.interactive
    (0, 3, False)

    ``w.result`` is the result currently shown (it changes after a re-target).
    """

    _esm = bundle("neuron_panel")

    layer = traitlets.Int(0).tag(sync=True)
    index = traitlets.Int(0).tag(sync=True)
    model_name = traitlets.Unicode("").tag(sync=True)
    n_layers = traitlets.Int(0).tag(sync=True)
    d_mlp = traitlets.Int(0).tag(sync=True)
    n_tokens = traitlets.Int(0).tag(sync=True)
    n_texts = traitlets.Int(0).tag(sync=True)
    # Shown texts: tokens per row, activations of all rows concatenated.
    text_tokens = traitlets.List(traitlets.List(traitlets.Unicode())).tag(sync=True)
    text_acts = traitlets.Instance(np.ndarray, allow_none=True).tag(sync=True, **array_serialization)
    # Top-k contexts: tokens per example, activations concatenated, and facts per example.
    example_tokens = traitlets.List(traitlets.List(traitlets.Unicode())).tag(sync=True)
    example_acts = traitlets.Instance(np.ndarray, allow_none=True).tag(sync=True, **array_serialization)
    example_info = traitlets.List(traitlets.Dict()).tag(sync=True)  # {max_pos, text_index, position}
    hist_counts = traitlets.Instance(np.ndarray, allow_none=True).tag(sync=True, **array_serialization)
    hist_edges = traitlets.Instance(np.ndarray, allow_none=True).tag(sync=True, **array_serialization)
    promoted_tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    promoted_values = traitlets.Instance(np.ndarray, allow_none=True).tag(sync=True, **array_serialization)
    suppressed_tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    suppressed_values = traitlets.Instance(np.ndarray, allow_none=True).tag(sync=True, **array_serialization)
    # Click a token -> the most active neurons there.
    selected_token = traitlets.List(traitlets.Int(), default_value=[]).tag(sync=True)  # [row, position] or []
    neuron_list = traitlets.List(traitlets.Dict()).tag(sync=True)  # [{layer, index, activation}]
    busy = traitlets.Bool(False).tag(sync=True)
    progress = traitlets.Float(0.0).tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    interactive = traitlets.Bool(False).tag(sync=True)

    def __init__(self, result: NeuronActivations, *, theme: str = "auto") -> None:
        if not isinstance(result, NeuronActivations):
            raise TypeError(f"NeuronPanel needs a NeuronActivations, got {type(result).__name__}")
        super().__init__(theme=theme)
        self.result: NeuronActivations = result
        self._apply(result)
        self.observe(self._on_target, names=["layer", "index"])
        self.observe(self._on_select, names=["selected_token"])

    # -- state -------------------------------------------------------------------------

    def _apply(self, r: NeuronActivations) -> None:
        text_acts = _flat(r.texts_activations)
        example_acts = _flat([e.activations for e in r.examples])
        check_finite(text_acts.astype(np.float64), "neuron activations")
        check_finite(example_acts.astype(np.float64), "example activations")
        with self._quiet():
            self.layer, self.index = int(r.layer), int(r.index)
            self.model_name = str(r.model_name)
            self.n_layers, self.d_mlp = int(r.n_layers), int(r.d_mlp)
            self.n_tokens, self.n_texts = int(r.n_tokens), int(r.n_texts)
            self.text_tokens = [[str(t) for t in row] for row in r.texts_tokens]
            self.text_acts = text_acts
            self.example_tokens = [[str(t) for t in e.tokens] for e in r.examples]
            self.example_acts = example_acts
            self.example_info = [{"max_pos": int(e.max_pos), "text_index": int(e.text_index),
                                  "position": int(e.position), "activation": float(e.activation)}
                                 for e in r.examples]
            self.hist_counts = np.asarray(r.hist_counts)
            self.hist_edges = np.asarray(r.hist_edges, dtype=np.float32)
            self.promoted_tokens = [str(t) for t, _ in r.promoted]
            self.promoted_values = np.array([v for _, v in r.promoted], dtype=np.float32)
            self.suppressed_tokens = [str(t) for t, _ in r.suppressed]
            self.suppressed_values = np.array([v for _, v in r.suppressed], dtype=np.float32)
            self.interactive = r._source is not None

    # -- interaction -------------------------------------------------------------------

    def _on_select(self, change: dict) -> None:
        if self._applying:
            return
        sel = list(self.selected_token)
        if len(sel) != 2:
            with self._quiet():
                self.neuron_list = []
            return
        source = self.result._source
        try:
            if source is None:
                raise ValueError("This result has no source to recompute from (static view).")
            hits = source.top_neurons(int(sel[0]), int(sel[1]))
            with self._quiet():
                self.error = ""
                self.neuron_list = [{"layer": int(h.layer), "index": int(h.index),
                                     "activation": float(h.activation)} for h in hits]
        except Exception as e:  # shown in the view
            with self._quiet():
                self.neuron_list = []
                self.error = f"{type(e).__name__}: {e}"

    def _on_target(self, change: dict) -> None:
        if self._applying or self.busy:
            return
        old = self.result
        layer, index = int(self.layer), int(self.index)
        if (layer, index) == (old.layer, old.index):
            return

        def restore(msg: str) -> None:
            with self._quiet():
                self.layer, self.index = int(old.layer), int(old.index)
                self.error = msg

        if old._source is None:
            restore("This result has no source to recompute from (static view).")
            return
        self.retarget(layer, index, _restore=restore)

    def retarget(self, layer: int, index: int, **kw: Any) -> NeuronActivations:
        """Recompute the panel for another neuron over the same texts and corpus (as a click
        does). Shows progress in the view; on failure the error is shown in the view, the
        previous result is kept, and the exception is raised."""
        restore = kw.pop("_restore", None)
        if kw:
            raise TypeError(f"unexpected keyword arguments: {sorted(kw)}")
        source = self.result._source
        if source is None:
            raise ValueError("this NeuronActivations has no _source: it cannot be recomputed")
        return self._recompute(lambda progress: source.retarget(layer=int(layer), index=int(index), progress=progress),
                               NeuronActivations, restore)
