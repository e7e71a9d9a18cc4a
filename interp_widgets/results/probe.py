"""The result of ``iw.probe``: a linear probe per layer and how well each generalises.

Plain data (numpy arrays). A fresh result carries an opaque ``_source`` handle (the model it
was trained on) that lets its view apply a probe to new text; a result without one (loaded
from disk) shows a static view, unless ``show(model=...)`` is given a model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

__all__ = ["Probe", "ProbeSource"]


@dataclass
class ProbeSource:
    """Opaque handle a view uses to apply the probe to new text.

    ``predict(text, layer)`` returns ``(tokens, probabilities)``: the text's tokens (display
    strings) and ``float32 [len(tokens), n_classes]``, the probe of ``layer`` applied to
    ``blocks.{layer}.hook_resid_post`` at every token (see ``probe_predictions``).
    """

    predict: Callable[[str, int], tuple]
    model_name: str = ""


@dataclass
class Probe:
    """Logistic (or multinomial) probes on the residual stream, one per layer.

    Attributes:
        layers: the probed layers (``resid_post`` of each; ``-1`` is not used: indices are
            canonical).
        classes: the label values, in the order of the probe's outputs.
        train_accuracy, test_accuracy: ``float32 [len(layers)]``; test is on the held-out split.
        directions: ``float32 [len(layers), n_classes, d_model]``: each class's weight vector
            in residual-stream units (the standardisation folded in); for two classes, row 1
            minus row 0 is the concept direction.
        biases: ``float32 [len(layers), n_classes]``.
        position: how a text became one vector (``"last"``, ``"mean"`` or a position).
        n_train, n_test: examples in each split.
        n_model_layers: how many layers the model that trained it has (negative layer
            arguments count back from it; 0 when unknown).
    """

    layers: list[int]
    classes: list
    train_accuracy: np.ndarray
    test_accuracy: np.ndarray
    directions: np.ndarray
    biases: np.ndarray
    position: object
    n_train: int
    n_test: int
    model_name: str = ""
    n_model_layers: int = 0
    info: dict = field(default_factory=dict)
    _source: Optional[ProbeSource] = field(default=None, repr=False, compare=False)

    @property
    def best_layer(self) -> int:
        """The layer with the highest held-out accuracy (the earliest on ties)."""
        return int(self.layers[int(np.argmax(self.test_accuracy))])

    def layer_index(self, layer: Optional[int] = None, n_model_layers: Optional[int] = None) -> int:
        """Index into ``layers`` of ``layer`` (default: the best). A negative layer counts back
        from the model's last layer (``n_model_layers``, default: the trained model's)."""
        if layer is None:
            layer = self.best_layer
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)):
            raise ValueError(f"layer must be an int, got {layer!r}")
        n = n_model_layers or self.n_model_layers
        canon = int(layer)
        if canon < 0:
            if not n:
                raise ValueError(f"layer {layer} counts from the end, but this probe does not know its model's "
                                 f"layer count: name one of its layers {list(self.layers)}")
            canon += n
        if canon not in [int(l) for l in self.layers]:
            raise ValueError(f"the probe was not trained at layer {layer}; its layers are {list(self.layers)}")
        return [int(l) for l in self.layers].index(canon)

    def direction(self, layer: Optional[int] = None) -> np.ndarray:
        """The concept direction at ``layer`` (default: the best; negative counts from the
        end): class 1 minus class 0 for two classes, else the ``[n_classes, d_model]`` weights."""
        w = self.directions[self.layer_index(layer)]
        return w[1] - w[0] if len(self.classes) == 2 else w

    @property
    def chance(self) -> float:
        """Accuracy of always answering the held-out split's majority class (``1 / n_classes``
        when the split's class counts are unknown)."""
        v = self.info.get("majority_rate") if isinstance(self.info, dict) else None
        return float(v) if v is not None else 1.0 / max(1, len(self.classes))

    def show(self, model=None, text: Optional[str] = None, layer: Optional[int] = None, **kwargs):
        """A live :class:`~interp_widgets.views.ProbeView` of this result: accuracy per
        layer, and the probe of ``layer`` (default: the best) applied to ``text``.

        ``model``: apply the probes with this model (default: the one that trained them,
        when this result is fresh). Without a model the view is static.
        """
        from ..views.probe import ProbeView

        return ProbeView(self, model=model, text=text, layer=layer, **kwargs)

    def to_html(self, path, **kwargs):
        """Write a self-contained HTML file of the view (bundle and data inlined)."""
        return self.show(**kwargs).to_html(path)

    def __repr__(self) -> str:
        i = int(np.argmax(self.test_accuracy))
        return (f"Probe(classes={self.classes}, layers={len(self.layers)}, position={self.position!r}, "
                f"best layer {self.layers[i]}: test accuracy {self.test_accuracy[i]:.3f}, "
                f"n_train={self.n_train}, n_test={self.n_test})")
