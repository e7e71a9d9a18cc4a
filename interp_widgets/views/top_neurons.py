"""TopNeuronsView: the MLP neurons most active at the selected token.

A token strip (click a token to select it) and, for the selected token, the ``k`` neurons
with the largest activation (``iw.top_neurons``), drawn as bars. Clicking a neuron sets
``selected_neuron``; Python fills ``promoted`` / ``suppressed`` with its direct logit
effects, and the view offers to open its full :class:`NeuronPanel` (``open_request``).

The view does no maths: it calls the functions it was given (the Explorer passes closures
over ``iw.top_neurons`` and the neuron kernels). Without them (a static export) it shows
what was computed so far.

JavaScript: ``js/src/views/top_neurons.ts`` (same trait names).
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import traitlets

from ._base import BaseWidget, bundle

__all__ = ["TopNeuronsView"]

HitsFn = Callable[[int], Sequence[Any]]  # position -> [NeuronHit(layer, index, activation)]
EffectsFn = Callable[[int, int], tuple]  # (layer, index) -> (promoted, suppressed)


class TopNeuronsView(BaseWidget):
    """The top neurons at the selected token of ``tokens``.

    >>> hits = lambda pos: [(1, 7, 2.5), (0, 3, 1.0)]
    >>> w = TopNeuronsView(["The", " cat"], hits_at=hits, selected_token=1)
    >>> w.neurons
    [{'layer': 1, 'index': 7, 'activation': 2.5}, {'layer': 0, 'index': 3, 'activation': 1.0}]

    Args:
        tokens: the text's tokens (as the tokenizer split it).
        hits_at: ``position -> [(layer, index, activation), ...]`` highest first.
        effects: ``(layer, index) -> (promoted, suppressed)``, lists of ``(token, value)``.
        selected_token: the token to start on (-1: none).
        auto: compute when ``selected_token`` changes (the Explorer turns it off while the
            panel is hidden and calls :meth:`refresh` when it is shown).
        title, theme: header text; ``"auto"``/``"light"``/``"dark"``.

    ``open_request`` is ``[layer, index]`` when the reader asks for a neuron's full panel;
    observe it (the Explorer does) to open one.
    """

    _esm = bundle("top_neurons")

    tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    selected_token = traitlets.Int(-1).tag(sync=True)
    neurons_at = traitlets.Int(-1).tag(sync=True)  # the position `neurons` belong to
    neurons = traitlets.List(traitlets.Dict()).tag(sync=True)
    selected_neuron = traitlets.List(traitlets.Int()).tag(sync=True)
    promoted = traitlets.List(traitlets.List()).tag(sync=True)
    suppressed = traitlets.List(traitlets.List()).tag(sync=True)
    open_request = traitlets.List(traitlets.Int()).tag(sync=True)
    can_open = traitlets.Bool(False).tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    busy = traitlets.Bool(False).tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    interactive = traitlets.Bool(False).tag(sync=True)

    def __init__(self, tokens: Sequence[str], *, hits_at: Optional[HitsFn] = None,
                 effects: Optional[EffectsFn] = None, selected_token: int = -1, auto: bool = True,
                 can_open: bool = False, title: str = "Top neurons at the selected token",
                 theme: str = "auto") -> None:
        if isinstance(tokens, str) or not all(isinstance(t, str) for t in tokens):
            raise ValueError("tokens must be a list of strings (the tokenizer's split)")
        if not tokens:
            raise ValueError("tokens is empty: there is nothing to show")
        super().__init__(tokens=list(tokens), title=title, theme=theme, can_open=bool(can_open),
                         interactive=hits_at is not None)
        self._hits_at, self._effects = hits_at, effects
        self._cache: dict[int, list[dict]] = {}
        self.auto = bool(auto)
        self.n_computed = 0  # kernel calls made (tests and the curious)
        self.observe(self._on_selected, names="selected_token")
        self.observe(self._on_neuron, names="selected_neuron")
        self.selected_token = int(selected_token)

    @traitlets.validate("selected_token")
    def _valid_token(self, proposal: dict) -> int:
        i = int(proposal["value"])
        if not -1 <= i < len(self.tokens):
            raise ValueError(f"selected_token {i} is out of range: the text has {len(self.tokens)} tokens")
        return i

    # -- token -> neurons ------------------------------------------------------------------

    def _on_selected(self, change: dict) -> None:
        if self.auto:
            self.refresh()

    @property
    def stale(self) -> bool:
        """True when the list does not belong to the selected token yet."""
        return self.neurons_at != self.selected_token

    def refresh(self) -> None:
        """Show the neurons of the selected token (computed once per token, then cached).

        Errors are shown in the view (and not raised: this runs from a click)."""
        pos = int(self.selected_token)
        if pos < 0:
            with self.hold_sync():
                self.neurons, self.neurons_at, self.error = [], -1, ""
            return
        if pos in self._cache:
            with self.hold_sync():
                self.neurons, self.neurons_at, self.error = self._cache[pos], pos, ""
            return
        if self._hits_at is None:
            self.error = "This view has no model attached (static view): select a token in a live notebook."
            return
        self.error = ""
        self.busy = True
        try:
            hits = [{"layer": int(h[0]), "index": int(h[1]), "activation": float(h[2])}
                    for h in self._hits_at(pos)]
            self.n_computed += 1
            self._cache[pos] = hits
            with self.hold_sync():
                self.neurons, self.neurons_at = hits, pos
        except Exception as e:  # shown in the view
            self.error = f"{type(e).__name__}: {e}"
        finally:
            self.busy = False

    # -- neuron -> logit effects -------------------------------------------------------------

    def _on_neuron(self, change: dict) -> None:
        sel = list(change["new"])
        if len(sel) != 2:
            with self.hold_sync():
                self.promoted, self.suppressed = [], []
            return
        if self._effects is None:
            return
        try:
            promoted, suppressed = self._effects(int(sel[0]), int(sel[1]))
            with self.hold_sync():
                self.promoted = [[str(t), float(v)] for t, v in promoted]
                self.suppressed = [[str(t), float(v)] for t, v in suppressed]
                self.error = ""
        except Exception as e:
            self.error = f"{type(e).__name__}: {e}"
