"""Switching attention heads off from a view: the traits and the callback that the
AttentionView and the PatchingView share.

The browser sets ``ablated_heads`` (``[[layer, head], ...]``) and ``ablate_mode``
(``"zero"`` or ``"mean"``); Python runs the model again through the result's source handle
(``result._source.ablate(heads, mode=...)``, a closure of the kernel over the model and the
prompt; see ``iw.ablate``) and sends the panel back in ``ablation``:

- ``heads``, ``mode``: what the panel belongs to;
- ``tokens`` + ``probs`` (``float32 [rows, 2]``: before, after): the union of the top next
  tokens of both runs (``Ablation.table``), most likely before first;
- ``movers`` + ``mover_probs`` (``float32 [k, 2]``): the tokens that moved most;
- ``kl`` (KL(before || after), nats) and ``logprob_change`` (of the clean top token).

An empty set clears the panel. A result without a source (loaded from disk, a static
export) has ``can_ablate`` False and the view disables its toggles.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
import traitlets

from ._base import BaseWidget, array_to_json

__all__ = ["HeadAblation", "ABLATE_K"]

#: How many top tokens of each run the panel lists.
ABLATE_K = 8
MODES = ("zero", "mean")


def _panel_to_json(value: Any, widget: Any = None) -> dict:
    return {k: array_to_json(v) if isinstance(v, np.ndarray) else v for k, v in (value or {}).items()}


def panel(result: Any) -> dict:
    """The ``ablation`` trait's value for an :class:`~interp_widgets.results.Ablation`."""
    table = list(result.table) or [(t, p, float("nan")) for t, p in result.top_before]
    return {
        "heads": [[int(l), int(h)] for l, h in result.heads],
        "mode": str(result.mode),
        "tokens": [str(t) for t, _, _ in table],
        "probs": np.array([[b, a] for _, b, a in table], dtype=np.float32).reshape(-1, 2),
        "movers": [str(t) for t, _, _ in result.movers],
        "mover_probs": np.array([[b, a] for _, b, a in result.movers], dtype=np.float32).reshape(-1, 2),
        "kl": float(result.kl),
        "logprob_change": float(result.logprob_change),
    }


class HeadAblation(BaseWidget):
    """Base of views that can switch heads off and show the change of the output
    distribution (``ablation_readout``: the next token; a masked LM's token at its mask; a
    classifier's classes).

    Subclasses keep the analysed result in ``self.result`` and may override
    :meth:`_head_limits` to check heads before running the model.
    """

    ablated_heads = traitlets.List(traitlets.List(traitlets.Int())).tag(sync=True)
    ablate_mode = traitlets.Unicode("zero").tag(sync=True)
    ablation = traitlets.Dict().tag(sync=True, to_json=_panel_to_json)
    ablation_busy = traitlets.Bool(False).tag(sync=True)
    ablation_error = traitlets.Unicode("").tag(sync=True)
    can_ablate = traitlets.Bool(False).tag(sync=True)
    # what the panel compares: "next token", a masked LM's "token at [MASK] #6", "class"
    ablation_readout = traitlets.Unicode("next token").tag(sync=True)

    def _setup_ablation(self) -> None:
        """Call at the end of the subclass's ``__init__``."""
        self._ablate_quiet = False
        self._ablate_good: tuple[list[list[int]], str] = ([], "zero")
        self.can_ablate = self._ablate_fn() is not None
        source = getattr(getattr(self, "result", None), "_source", None)
        self.ablation_readout = str(getattr(source, "readout", "next token"))
        self.observe(self._on_ablate, names=["ablated_heads", "ablate_mode"])

    def _ablate_fn(self):
        return getattr(getattr(getattr(self, "result", None), "_source", None), "ablate", None)

    def _head_limits(self) -> tuple[int, Optional[int]]:
        """``(layers, heads)`` of the model (heads None when the result does not know)."""
        raise NotImplementedError

    def _normalise(self, heads: Any) -> list[list[int]]:
        """Sorted, de-duplicated ``[[layer, head], ...]`` (negative layers count from the
        end); ValueError naming the bad entry."""
        L, H = self._head_limits()
        out: set[tuple[int, int]] = set()
        for p in heads or []:
            if not (isinstance(p, (list, tuple)) and len(p) == 2
                    and all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in p)):
                raise ValueError(f"a head is [layer, head], got {p!r}")
            l, h = int(p[0]), int(p[1])
            if not -L <= l < L:
                raise ValueError(f"layer {l} is out of range: the model has {L} layers (0..{L - 1})")
            if not 0 <= h < (H if H is not None else h + 1):
                raise ValueError(f"head {h} is out of range: the model has {H} heads (0..{(H or 1) - 1})")
            out.add((l % L, h))
        return [list(x) for x in sorted(out)]

    # -- the public face ---------------------------------------------------------------

    def ablate(self, heads: Sequence[tuple[int, int]], mode: Optional[str] = None):
        """Switch these ``(layer, head)`` pairs off (``[]``: none), as the toggles do, and
        return the view; the panel shows how the output distribution (``ablation_readout``)
        moves."""
        self._ablate_quiet = True
        try:
            with self.hold_sync():
                if mode is not None:
                    self.ablate_mode = str(mode)
                self.ablated_heads = [list(h) for h in heads]
        finally:
            self._ablate_quiet = False
        self._on_ablate()
        return self

    # -- the callback ------------------------------------------------------------------

    def _quietly(self, **values: Any) -> None:
        self._ablate_quiet = True
        try:
            with self.hold_sync():
                for k, v in values.items():
                    setattr(self, k, v)
        finally:
            self._ablate_quiet = False

    def _ablate_revert(self, msg: str) -> None:
        """Show ``msg`` and put the set and mode back to what the panel shows."""
        heads, mode = self._ablate_good
        self._quietly(ablated_heads=[list(h) for h in heads], ablate_mode=mode, ablation_error=msg)

    def _on_ablate(self, change: Optional[dict] = None) -> None:
        if self._ablate_quiet:
            return
        mode = self.ablate_mode
        try:
            if mode not in MODES:
                raise ValueError(f"mode must be 'zero' or 'mean', got {mode!r}")
            heads = self._normalise(self.ablated_heads)
        except ValueError as e:
            self._ablate_revert(str(e))
            return
        if heads != [list(h) for h in self.ablated_heads]:
            self._quietly(ablated_heads=heads)
        if not heads:  # nothing off: clear the panel
            self._ablate_good = ([], mode)
            self._quietly(ablation={}, ablation_error="")
            return
        shown = self.ablation
        if shown and shown.get("heads") == heads and shown.get("mode") == mode:
            return
        fn = self._ablate_fn()
        if fn is None:
            live = getattr(getattr(self, "result", None), "_source", None) is not None
            if live or getattr(getattr(self, "result", None), "causal", True) is False:
                self._ablate_revert("This view has no distribution to compare with heads off: a masked LM compares "
                                    "what fills the first [MASK] of the text (put one in), a classifier its classes "
                                    "(a single-label head); otherwise switch heads off "
                                    "with model.hooks([('blocks.L.attn.hook_z', fn)]) and a metric of your own.")
            else:
                self._ablate_revert("This result has no source to run the model again from (static view): "
                                    "call iw.ablate(model, text, heads=...) instead.")
            return
        self.ablation_error = ""
        self.ablation_busy = True  # sent to the browser before the run starts
        try:
            result = fn(heads, mode=mode, k=ABLATE_K)
            self.ablation = panel(result)
            self._ablate_good = (heads, mode)
        except Exception as e:  # shown in the view; the previous panel stays
            self._ablate_revert(f"{type(e).__name__}: {e}")
        finally:
            self.ablation_busy = False
