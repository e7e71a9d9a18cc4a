"""Toy models the project trains itself (no hub needed): the superposition model of
Elhage et al. 2022.

>>> import interp_widgets as iw
>>> toy = iw.toy.superposition(n_features=5, n_hidden=2, sparsity=0.9)   # doctest: +SKIP
"""

from .superposition import Superposition, superposition

__all__ = ["superposition", "Superposition"]
