"""The result of ``iw.toy.superposition``: a trained toy model of superposition.

Plain data (numpy arrays). A fresh result carries an opaque ``_source`` handle that lets its
view retrain the model at another sparsity or importance (the sliders); a result without
one (loaded from disk, an exported page) shows a static view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

__all__ = ["Superposition", "SuperpositionSource"]


@dataclass
class SuperpositionSource:
    """Opaque handle a view uses to retrain.

    ``retrain(sparsity=..., importance=..., progress=...)`` returns a new
    :class:`Superposition` trained with the same sizes and settings but the given sparsity
    and importance (a decay factor or an explicit array).
    """

    retrain: Callable[..., "Superposition"]


@dataclass
class Superposition:
    """The toy model of Elhage et al. (2022): ``h = W x``, ``x' = ReLU(Wᵀ h + b)``.

    Attributes:
        W: ``float32 [n_hidden, n_features]``; column ``i`` is feature ``i``'s direction in
            the hidden space.
        b: ``float32 [n_features]`` output bias.
        sparsity: probability that a feature is 0 in an input (else ``U[0, 1]``).
        importance: ``float32 [n_features]`` weight of each feature in the loss.
        importance_decay: the factor ``d`` when ``importance[i] = d ** i``; ``None`` when an
            explicit array was given.
        loss: the kept instance's importance-weighted loss on a held-out batch.
        info: training facts (steps, lr, batch size, instances, their losses, seconds, seed).

    >>> import numpy as np
    >>> r = Superposition(W=np.array([[1.0, 0.0, -1.0], [0.0, 1.0, 0.0]]), b=np.zeros(3),
    ...                   sparsity=0.5, importance=np.ones(3), loss=0.1)
    >>> r.norms.tolist(), r.n_represented()
    ([1.0, 1.0, 1.0], 3)
    >>> r.superposition.round(3).tolist()   # features 0 and 2 share a direction (antipodal)
    [1.0, 0.0, 1.0]
    """

    W: np.ndarray
    b: np.ndarray
    sparsity: float
    importance: np.ndarray
    loss: float
    importance_decay: Optional[float] = None
    info: dict = field(default_factory=dict)
    _source: Optional[SuperpositionSource] = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.W = np.asarray(self.W, dtype=np.float32)
        self.b = np.asarray(self.b, dtype=np.float32).reshape(-1)
        self.importance = np.asarray(self.importance, dtype=np.float32).reshape(-1)
        if self.W.ndim != 2:
            raise ValueError(f"W must be [n_hidden, n_features], got shape {self.W.shape}")
        n = self.W.shape[1]
        if self.b.shape[0] != n:
            raise ValueError(f"b has {self.b.shape[0]} entries but W has {n} features")
        if self.importance.shape[0] != n:
            raise ValueError(f"importance has {self.importance.shape[0]} entries but W has {n} features")
        for name, a in (("W", self.W), ("b", self.b), ("importance", self.importance)):
            if not np.isfinite(a).all():
                raise ValueError(f"{name} contains NaN or inf")
        self.sparsity = float(self.sparsity)
        self.loss = float(self.loss)

    # -- sizes and measures -------------------------------------------------------------

    @property
    def n_features(self) -> int:
        return int(self.W.shape[1])

    @property
    def n_hidden(self) -> int:
        return int(self.W.shape[0])

    @property
    def norms(self) -> np.ndarray:
        """``float32 [n_features]``: ``||W_i||``, how strongly each feature is represented
        (about 1 when represented, about 0 when dropped)."""
        return np.linalg.norm(self.W, axis=0).astype(np.float32)

    @property
    def WtW(self) -> np.ndarray:
        """``float32 [n_features, n_features]``: ``Wᵀ W``, the features' overlaps (the
        identity for orthogonal, unit-norm features)."""
        return (self.W.T @ self.W).astype(np.float32)

    @property
    def superposition(self) -> np.ndarray:
        """``float32 [n_features]``: ``Σ_{j≠i} (Ŵ_i · W_j)²``, how much of the other features
        lies along feature ``i``'s direction (0 when it has a dimension to itself; 0 for a
        dropped feature)."""
        norms = self.norms
        unit = np.divide(self.W, norms, out=np.zeros_like(self.W), where=norms > 1e-6)
        dots = unit.T @ self.W  # [i, j] = Ŵ_i · W_j
        np.fill_diagonal(dots, 0.0)
        return (dots ** 2).sum(axis=1).astype(np.float32)

    def n_represented(self, threshold: float = 0.5) -> int:
        """How many features have ``||W_i|| > threshold``."""
        return int((self.norms > threshold).sum())

    def projection(self) -> tuple[np.ndarray, np.ndarray]:
        """The feature directions in 2-D, for plotting: ``(xy, explained)``.

        ``xy`` is ``float32 [2, n_features]``: ``W`` itself when ``n_hidden == 2``; for a
        wider hidden space, ``W`` projected on its top-2 principal directions (uncentred:
        directions from the origin); for ``n_hidden == 1``, the line with ``y = 0``.
        ``explained`` is ``float32 [2]``, the fraction of ``||W||²`` along each axis.
        """
        W = self.W.astype(np.float64)
        total = float((W ** 2).sum()) or 1.0
        if self.n_hidden == 1:
            xy = np.vstack([W, np.zeros_like(W)])
        elif self.n_hidden == 2:
            xy = W
        else:
            u, _, _ = np.linalg.svd(W, full_matrices=False)
            basis = u[:, :2]
            # A sign convention, so that retraining does not flip the picture at random.
            for k in range(2):
                if basis[np.argmax(np.abs(basis[:, k])), k] < 0:
                    basis[:, k] = -basis[:, k]
            xy = basis.T @ W
        explained = (xy ** 2).sum(axis=1) / total
        return xy.astype(np.float32), explained.astype(np.float32)

    # -- views --------------------------------------------------------------------------

    def show(self, **kwargs):
        """A live :class:`~interp_widgets.views.superposition.SuperpositionView`."""
        from ..views.superposition import SuperpositionView

        return SuperpositionView(self, **kwargs)

    def to_html(self, path, **kwargs):
        """Write a self-contained HTML file of the view (bundle and data inlined)."""
        return self.show(**kwargs).to_html(path)

    def __repr__(self) -> str:
        norms = ", ".join(f"{v:.2f}" for v in self.norms)
        return (f"Superposition(n_features={self.n_features}, n_hidden={self.n_hidden}, "
                f"sparsity={self.sparsity:g}, represented={self.n_represented()}, "
                f"loss={self.loss:.4g}, norms=[{norms}])")
