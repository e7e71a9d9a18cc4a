"""The result of ``iw.patch``: normalised activation-patching effects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

__all__ = ["PatchingResult", "PatchingSource"]


@dataclass
class PatchingSource:
    """Opaque handle for a view: ``top_tokens(layer, position=-1, head=None, k=10)`` runs
    that cell's patched run again and returns its top next tokens as ``(text, prob)``
    (``position=-1``: every position patched). ``ablate(heads, mode="zero")``, when set, runs
    the *clean* prompt with those ``(layer, head)`` pairs switched off and returns an
    :class:`~interp_widgets.results.Ablation` (see ``iw.ablate``)."""

    top_tokens: Callable[..., list]
    ablate: Optional[Callable[..., object]] = None
    readout: str = "next token"  # what the logits are: a masked LM's "token at [MASK] #6", "class"


@dataclass
class PatchingResult:
    """Effects of patching clean activations into the corrupted run.

    ``values`` are normalised: 0 = the corrupted run's metric, 1 = the clean run's. Shape by
    site and positions: ``[layers, positions]`` (``positions="each"``) or ``[layers]``
    (``"all"``); for ``site="z"`` (heads) ``[layers, heads, positions]`` or ``[layers, heads]``.

    Attributes:
        site, positions, method: as passed to ``iw.patch``.
        clean_tokens, corrupted_tokens: the two prompts' tokens (same length).
        metric: a label of the metric; clean_metric / corrupted_metric: its raw values.
        n_heads: attention heads per layer of the model (0: unknown), for the view's head
            picker whatever the site.
        readout: what the metric's logits are: ``"next token"``, a masked LM's ``"token at
            [MASK] #6"``, a classifier's ``"class"``.
    """

    values: np.ndarray
    site: str
    positions: str
    method: str
    clean_tokens: list[str]
    corrupted_tokens: list[str]
    metric: str
    clean_metric: float
    corrupted_metric: float
    model_name: str = ""
    n_heads: int = 0
    readout: str = "next token"
    _source: Optional[PatchingSource] = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=np.float32)

    def top_cells(self, k: int = 5) -> list[tuple[tuple[int, ...], float]]:
        """The ``k`` cells with the largest |value| as ``(index, value)``."""
        flat = np.nan_to_num(np.abs(self.values)).ravel()
        order = np.argsort(flat)[::-1][:k]
        return [(tuple(int(i) for i in np.unravel_index(j, self.values.shape)), float(self.values.flat[j]))
                for j in order]

    def show(self, **kwargs):
        """A live :class:`~interp_widgets.views.PatchingView` of this result."""
        from ..views.patching import PatchingView

        return PatchingView(self, **kwargs)

    def to_html(self, path, **kwargs):
        """Write a self-contained HTML file of the view (bundle and data inlined)."""
        return self.show(**kwargs).to_html(path)

    def __repr__(self) -> str:
        top = ", ".join(f"{idx}: {v:+.2f}" for idx, v in self.top_cells(3))
        return (f"PatchingResult(site={self.site!r}, positions={self.positions!r}, method={self.method!r}, "
                f"shape={self.values.shape}, metric {self.metric}: clean {self.clean_metric:.3f}, "
                f"corrupted {self.corrupted_metric:.3f}; top {top})")
