"""The result of ``iw.probe``: a linear probe per layer and how well each generalises."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

__all__ = ["Probe"]


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
    info: dict = field(default_factory=dict)

    @property
    def best_layer(self) -> int:
        """The layer with the highest held-out accuracy (the earliest on ties)."""
        return int(self.layers[int(np.argmax(self.test_accuracy))])

    def direction(self, layer: Optional[int] = None) -> np.ndarray:
        """The concept direction at ``layer`` (default: the best): class 1 minus class 0
        for two classes, else the ``[n_classes, d_model]`` weights."""
        i = self.layers.index(self.best_layer if layer is None else layer)
        w = self.directions[i]
        return w[1] - w[0] if len(self.classes) == 2 else w

    def __repr__(self) -> str:
        i = int(np.argmax(self.test_accuracy))
        return (f"Probe(classes={self.classes}, layers={len(self.layers)}, position={self.position!r}, "
                f"best layer {self.layers[i]}: test accuracy {self.test_accuracy[i]:.3f}, "
                f"n_train={self.n_train}, n_test={self.n_test})")
