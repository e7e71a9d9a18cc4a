"""LogitLensView: what ``LogitLens.show()`` returns.

A layers x positions grid: each cell shows the token the residual stream after that layer
would predict next (its top-1), coloured by its probability; hovering shows the top-k.
Typing a token (or double-clicking a cell) sets ``track_request``; Python calls the
result's ``track`` (which recomputes through the result's ``_source``) and sends the
tracked token's rank and probability back, and the grid switches to "track" mode. A result
without a source (loaded from disk, or a static export) shows the tokens tracked so far.

JavaScript: ``js/src/views/logit_lens.ts`` (same trait names).
"""

from __future__ import annotations

from typing import Union

import numpy as np
import traitlets

from ..results.lens import LogitLens, TrackedToken
from ._base import BaseWidget, array_serialization, bundle, check_finite

__all__ = ["LogitLensView"]


def _compact(ids: np.ndarray) -> np.ndarray:
    """Token ids or ranks as uint16 where they fit (vocabularies under 65,536 tokens: GPT-2,
    SmolLM2, Pythia), else int32: the payload of a long text is mostly these."""
    ids = np.asarray(ids)
    if ids.size and 0 <= int(ids.min()) and int(ids.max()) < 2 ** 16:
        return ids.astype(np.uint16)
    return ids.astype(np.int32)


class LogitLensView(BaseWidget):
    """Live view of a :class:`~interp_widgets.results.LogitLens`.

    >>> import numpy as np
    >>> from interp_widgets.results.lens import LogitLens
    >>> lens = LogitLens(tokens=["a", " b"], layers=["embed", "0"],
    ...                  top_ids=np.zeros((2, 2, 1), np.int32),
    ...                  top_probs=np.full((2, 2, 1), 0.5, np.float32), vocab={0: "a"})
    >>> w = LogitLensView(lens)
    >>> w.get_state()["top_probs"]["shape"], w.mode, w.interactive
    ([2, 2, 1], 'top', False)

    Args:
        lens: the result to show.
        mode: ``"top"`` (default) or ``"track"`` (start on the last tracked token).
        theme: ``"auto"`` (follow the host), ``"light"`` or ``"dark"``.

    Traits (the Python side of the view):
        ``mode``: ``"top"`` (cells coloured by their top-1 probability) or ``"track"``
        (coloured by the probability of tracked token ``track_index``, showing its rank).
        ``selected_token``: the highlighted position (-1 none), synced both ways.
        ``track_request``: a token string the browser asks to track ("" when none pending).

    In track mode the view shows ranks 1-based (``#1`` is the top prediction); the arrays
    (``tracked_rank``, :class:`~interp_widgets.results.lens.TrackedToken`) are 0-based.
    """

    _esm = bundle("logit_lens")

    tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    layers = traitlets.List(traitlets.Unicode()).tag(sync=True)
    top_ids = traitlets.Instance(np.ndarray, allow_none=True).tag(sync=True, **array_serialization)
    top_probs = traitlets.Instance(np.ndarray, allow_none=True).tag(sync=True, **array_serialization)
    # id -> display text, only for the ids that top_ids and the tracked tokens use (JSON keys
    # are strings).
    vocab = traitlets.Dict(value_trait=traitlets.Unicode()).tag(sync=True)
    tracked_labels = traitlets.List(traitlets.Unicode()).tag(sync=True)
    tracked_ids = traitlets.List(traitlets.Int()).tag(sync=True)
    tracked_rank = traitlets.Instance(np.ndarray, allow_none=True).tag(sync=True, **array_serialization)
    tracked_prob = traitlets.Instance(np.ndarray, allow_none=True).tag(sync=True, **array_serialization)
    mode = traitlets.Enum(("top", "track"), default_value="top").tag(sync=True)
    track_index = traitlets.Int(-1).tag(sync=True)
    track_request = traitlets.Unicode("").tag(sync=True)
    selected_token = traitlets.Int(-1).tag(sync=True)
    model_name = traitlets.Unicode("").tag(sync=True)
    predicts = traitlets.Unicode("next").tag(sync=True)  # "same": a masked LM's cells
    busy = traitlets.Bool(False).tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    interactive = traitlets.Bool(False).tag(sync=True)

    def __init__(self, lens: LogitLens, *, mode: str = "top", theme: str = "auto") -> None:
        if not isinstance(lens, LogitLens):
            raise TypeError(f"LogitLensView needs a LogitLens, got {type(lens).__name__}")
        check_finite(lens.top_probs, "top_probs")
        super().__init__(theme=theme)
        self.lens: LogitLens = lens
        with self._quiet():
            self.tokens = [str(t) for t in lens.tokens]
            self.layers = [str(l) for l in lens.layers]
            self.top_ids = _compact(lens.top_ids)
            self.top_probs = lens.top_probs
            self.model_name = str(lens.model_name or "")
            self.predicts = str(getattr(lens, "predicts", "next"))
            self.interactive = lens._source is not None
            self._apply_tracked()
            if mode not in ("top", "track"):
                raise ValueError(f'mode must be "top" or "track", got {mode!r}')
            if mode == "track" and not lens.tracked:
                raise ValueError('mode="track" needs a tracked token: pass track=... to iw.logit_lens')
            self.mode = mode
        self.observe(self._on_track_request, names="track_request")

    def _apply_tracked(self) -> None:
        """Copy the result's tracked tokens (and the vocabulary) into the traits."""
        lens = self.lens
        shape = (len(lens.layers), len(lens.tokens))
        for t in lens.tracked:
            if np.shape(t.rank) != shape or np.shape(t.prob) != shape:
                raise ValueError(f"tracked token {t.label!r}: rank/prob must be {list(shape)}, got "
                                 f"{list(np.shape(t.rank))} and {list(np.shape(t.prob))}")
        self.vocab = {str(int(i)): str(s) for i, s in lens.vocab.items()}
        self.tracked_labels = [str(t.label) for t in lens.tracked]
        self.tracked_ids = [int(t.token_id) for t in lens.tracked]
        if lens.tracked:
            self.tracked_rank = _compact(np.stack([np.asarray(t.rank, np.int64) for t in lens.tracked]))
            self.tracked_prob = np.stack([np.asarray(t.prob, np.float32) for t in lens.tracked])
        else:
            self.tracked_rank = self.tracked_prob = None
        if not 0 <= self.track_index < len(lens.tracked):
            self.track_index = len(lens.tracked) - 1
        if self.track_index < 0:
            self.mode = "top"

    # -- interaction -------------------------------------------------------------------

    def track(self, token: Union[str, int]) -> TrackedToken:
        """Track ``token`` (a string or id) across layers, as typing it in the view does.

        The view switches to track mode and shows it. Errors (several tokens, unknown token,
        no model attached) are shown in the view and raised.
        """
        self.error = ""
        self.busy = True
        try:
            t = self.lens.track(token)
            with self._quiet():
                self._apply_tracked()
                self.track_index = [x.token_id for x in self.lens.tracked].index(t.token_id)
                self.mode = "track"
            return t
        except Exception as e:
            self.error = f"{type(e).__name__}: {e}"
            raise
        finally:
            with self._quiet():
                self.busy = False
                self.track_request = ""

    def _on_track_request(self, change: dict) -> None:
        token = change["new"]
        if self._applying or not token:
            return
        if self.busy:  # one at a time; the box keeps its text for another try
            with self._quiet():
                self.track_request = ""
            return
        try:
            self.track(token)
        except Exception:
            pass  # already shown in the view's error box

    @traitlets.validate("selected_token")
    def _validate_selected(self, proposal: dict) -> int:
        i = int(proposal["value"])
        return i if 0 <= i < len(self.tokens) else -1
