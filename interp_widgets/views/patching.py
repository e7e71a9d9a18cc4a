"""PatchingView: what ``PatchingResult.show()`` returns.

A diverging heatmap of the normalised patching effects (0 = the corrupted run, 1 = the
clean run): layers x positions, layers x heads, or one column of layers. Clicking a cell
sets ``selected_cell``; Python observes it, runs that cell's patched run again through the
result's ``_source`` handle and sends back its top next tokens, which the view lists next
to the heatmap. A result without a source (loaded from disk, or a static export) shows the
heatmap with hover only. JavaScript: ``js/src/views/patching.ts`` (same trait names).

Transport: ``values`` as a binary float32 array (views/_base.py) in the result's shape;
the top tokens' probabilities ``top_probs`` likewise; token strings as lists. The view does
no maths: every number shown is the result's or the kernel's.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import traitlets

from ..results.patching import PatchingResult
from ._ablation import HeadAblation
from ._base import array_serialization, bundle, check_finite

__all__ = ["PatchingView"]

#: How many top next tokens a click fetches.
TOP_K = 10


def _values(result: PatchingResult) -> np.ndarray:
    """The result's values as float32, checked against its site and tokens (ValueError).

    All-NaN values are allowed: the kernel returns them when the clean and corrupted
    metrics are equal (the normalisation is undefined) and the view says so.
    """
    v = np.asarray(result.values, dtype=np.float64)
    heads = result.site == "z"
    n = len(result.clean_tokens)
    if heads:
        want = "[layers, heads, positions]" if result.positions == "each" else "[layers, heads]"
        ndim = 3 if result.positions == "each" else 2
    else:
        want = "[layers, positions]" if result.positions == "each" else "[layers]"
        ndim = 2 if result.positions == "each" else 1
    if v.ndim != ndim or 0 in v.shape:
        raise ValueError(f"values must be a non-empty {want} array for site={result.site!r}, "
                         f"positions={result.positions!r}, got shape {v.shape}")
    if result.positions == "each" and v.shape[-1] != n:
        raise ValueError(f"values have {v.shape[-1]} positions but there are {n} clean tokens")
    if not (v.size and np.isnan(v).all()):
        check_finite(v, "patching values")
    return v.astype(np.float32)


def _scalar(name: str, v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {v!r}") from None
    if not np.isfinite(f):
        raise ValueError(f"{name} must be finite, got {f}")
    return f


class PatchingView(HeadAblation):
    """Live view of a :class:`~interp_widgets.results.PatchingResult`.

    >>> from interp_widgets.results import PatchingResult
    >>> r = PatchingResult(np.array([[0.1, 0.9], [0.0, 1.0]]), "resid_pre", "each", "exact",
    ...                    ["a", " b"], ["a", " c"], "logit(' x')", 2.0, -1.0)
    >>> w = PatchingView(r)
    >>> w.get_state()["values"]["shape"], w.interactive
    ([2, 2], False)

    Args:
        result: the patching result to show.
        title: shown above the view (default: the model name).
        theme: ``"auto"`` (follow the host), ``"light"`` or ``"dark"``.

    ``selected_cell`` is ``[layer, position, head]`` (-1 where it does not apply: position
    -1 = every position patched at once, head -1 = the whole site). Setting it (a click, or
    :meth:`select`) fetches that patched run's top next tokens (``readout``: a masked LM's
    tokens at its mask, a classifier's classes) into ``top_tokens`` /
    ``top_probs``, for the cell in ``top_cell``.

    Switching heads off on the *clean* prompt: ``ablated_heads`` (``[[layer, head], ...]``,
    set by the toggle of a selected head cell, the head picker, or :meth:`ablate`) and
    ``ablate_mode`` (``"zero"`` / ``"mean"``) re-run the model through the result's source
    (``iw.ablate``) and fill ``ablation`` with the output distribution (``readout``) before and after
    (see ``views/_ablation.py``); ``n_model_heads`` sizes the picker (0 when unknown).
    """

    _esm = bundle("patching")

    values = traitlets.Instance(np.ndarray, allow_none=True).tag(sync=True, **array_serialization)
    site = traitlets.Unicode("").tag(sync=True)
    positions = traitlets.Unicode("each").tag(sync=True)
    method = traitlets.Unicode("").tag(sync=True)
    metric = traitlets.Unicode("").tag(sync=True)
    clean_metric = traitlets.Float(0.0).tag(sync=True)
    corrupted_metric = traitlets.Float(0.0).tag(sync=True)
    clean_tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    corrupted_tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    selected_cell = traitlets.List(traitlets.Int(), default_value=[-1, -1, -1]).tag(sync=True)
    # The cell whose patched run the top tokens below belong to ([-1, -1, -1]: none yet).
    top_cell = traitlets.List(traitlets.Int(), default_value=[-1, -1, -1]).tag(sync=True)
    top_tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    top_probs = traitlets.Instance(np.ndarray, allow_none=True).tag(sync=True, **array_serialization)
    busy = traitlets.Bool(False).tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    interactive = traitlets.Bool(False).tag(sync=True)
    n_model_heads = traitlets.Int(0).tag(sync=True)
    readout = traitlets.Unicode("next token").tag(sync=True)  # a masked LM's "token at [MASK] #6", "class"

    def __init__(self, result: PatchingResult, *, title: Optional[str] = None, theme: str = "auto") -> None:
        if not isinstance(result, PatchingResult):
            raise TypeError(f"PatchingView needs a PatchingResult, got {type(result).__name__}")
        clean = [str(t) for t in result.clean_tokens]
        corrupted = [str(t) for t in result.corrupted_tokens]
        if not clean:
            raise ValueError("the result has no tokens: there is nothing to show")
        if len(corrupted) != len(clean):
            raise ValueError(f"clean and corrupted tokens differ in length ({len(clean)} and {len(corrupted)})")
        values = _values(result)
        self.result = result
        self._quiet = False
        super().__init__(
            values=values,
            site=str(result.site),
            positions=str(result.positions),
            method=str(result.method),
            metric=str(result.metric),
            clean_metric=_scalar("clean_metric", result.clean_metric),
            corrupted_metric=_scalar("corrupted_metric", result.corrupted_metric),
            clean_tokens=clean,
            corrupted_tokens=corrupted,
            title=(result.model_name or "") if title is None else str(title),
            top_probs=np.zeros(0, np.float32),
            interactive=getattr(result, "_source", None) is not None,
            readout=str(getattr(result, "readout", "next token") or "next token"),
            theme=theme,
        )
        self.observe(self._on_select, names=["selected_cell"])
        self.n_model_heads = int(getattr(result, "n_heads", 0) or 0) or self.n_heads
        self._setup_ablation()

    def _head_limits(self) -> tuple[int, Optional[int]]:
        return self.n_layers, self.n_model_heads or None

    # -- geometry ----------------------------------------------------------------------

    @property
    def n_layers(self) -> int:
        return int(self.values.shape[0])

    @property
    def n_heads(self) -> int:
        """Heads per layer (0 when the site is not per head)."""
        return int(self.values.shape[1]) if self.site == "z" else 0

    @property
    def n_positions(self) -> int:
        """Positions patched one at a time (0 when every position was patched at once)."""
        return len(self.clean_tokens) if self.positions == "each" else 0

    def _check_cell(self, cell: Any) -> list[int]:
        """``[layer, position, head]`` normalised (negative layer/position/head count from the
        end, except -1 for "n/a" on position/head); ValueError when out of range."""
        try:
            layer, position, head = (int(x) for x in cell)
        except (TypeError, ValueError):
            raise ValueError(f"a cell is [layer, position, head], got {cell!r}") from None
        L, H, n = self.n_layers, self.n_heads, len(self.clean_tokens)
        if not -L <= layer < L:
            raise ValueError(f"layer {layer} is out of range: the model has {L} layers (0..{L - 1})")
        if not -1 <= position < n:
            raise ValueError(f"position {position} is out of range 0..{n - 1} (or -1: every position)")
        if position >= 0 and self.positions != "each":
            raise ValueError("this result patched every position at once: use position -1")
        if position < 0 and self.positions == "each" and self.site != "z":
            raise ValueError("this result patched one position at a time: pick a position")
        if H and not 0 <= head < H:
            raise ValueError(f"head {head} is out of range: the model has {H} heads (0..{H - 1})")
        if not H and head != -1:
            raise ValueError(f"site {self.site!r} is not per head: use head -1")
        return [layer % L, position, head]

    # -- interaction -------------------------------------------------------------------

    def select(self, layer: int, position: int = -1, head: int = -1) -> "PatchingView":
        """Select a cell as a click does, fetching its patched run's top next tokens."""
        self.selected_cell = self._check_cell([layer, position, head])
        return self

    def _on_select(self, change: dict) -> None:
        if self._quiet or list(change["new"]) == [-1, -1, -1]:  # none selected
            return
        try:
            cell = self._check_cell(change["new"])
        except ValueError as e:
            self._revert(str(e))
            return
        if cell == list(self.top_cell):  # its tokens are already shown
            return
        source = getattr(self.result, "_source", None)
        if source is None:
            self._revert("This result has no source to recompute from (static view): "
                         "run iw.patch again to inspect a cell's top tokens.")
            return
        self.error = ""
        self.busy = True  # sent to the browser before the run starts
        try:
            layer, position, head = cell
            top = source.top_tokens(layer, position=position, head=None if head < 0 else head, k=TOP_K)
            texts = [str(t) for t, _ in top]
            probs = np.array([float(p) for _, p in top], dtype=np.float32)
            with self.hold_sync():
                self.top_tokens = texts
                self.top_probs = probs
                self.top_cell = cell
        except Exception as e:  # shown in the view; the previous list stays
            self._revert(f"{type(e).__name__}: {e}")
        finally:
            self.busy = False

    def _revert(self, msg: str) -> None:
        """Show ``msg`` and put the selection back on the cell whose tokens are shown."""
        self._quiet = True
        try:
            with self.hold_sync():
                self.selected_cell = list(self.top_cell)
                self.error = msg
        finally:
            self._quiet = False
