"""Toy models the project trains itself (no hub needed): the superposition model of
Elhage et al. 2022 and a two-layer attention-only transformer that forms induction heads
(Olsson et al. 2022).

>>> import interp_widgets as iw
>>> toy = iw.toy.superposition(n_features=5, n_hidden=2, sparsity=0.9)   # doctest: +SKIP
>>> model = iw.toy.attn_only()                                          # doctest: +SKIP
"""

from .attn_only import attn_only, attn_only_path
from .superposition import Superposition, superposition

__all__ = ["superposition", "Superposition", "attn_only", "attn_only_path"]
