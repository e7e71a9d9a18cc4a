"""TokenHeatmap: tokens coloured by one or several rows of values (the generic view).

JavaScript: ``js/src/views/token_heatmap.ts`` (same trait names).
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
import traitlets

from ._base import BaseWidget, array_serialization, bundle, check_finite, to_numpy

__all__ = ["TokenHeatmap"]


def _as_values(values: Any, n_tokens: Optional[int] = None) -> np.ndarray:
    """``[rows, tokens]`` float32 from ``[tokens]``, ``[rows, tokens]`` or (CircuitsVis's
    ``colored_tokens_multi`` layout) ``[tokens, rows]`` values, checked."""
    try:
        a = to_numpy(values)
    except ValueError as e:  # a ragged list
        raise ValueError(f"values must be a 1-D [tokens] or 2-D [rows, tokens] array of numbers: {e}") from None
    if a.dtype.kind not in "fiub":
        raise ValueError(f"values must be numeric, got dtype {a.dtype}")
    if a.ndim == 0:
        raise ValueError("values must be a 1-D [tokens] or 2-D [rows, tokens] array, got a scalar")
    if a.ndim > 2:
        raise ValueError(
            f"values must be a 1-D [tokens] or 2-D [rows, tokens] array, got {a.ndim} dims "
            f"with shape {tuple(a.shape)}"
        )
    if a.size == 0:
        raise ValueError(f"values are empty (shape {tuple(a.shape)}): there is nothing to colour")
    if n_tokens is not None and a.ndim == 2 and a.shape[1] != n_tokens and a.shape[0] == n_tokens:
        a = a.T  # [tokens, rows]: turned round before any message names a row or a token
    a = np.asarray(a, dtype=np.float64)
    check_finite(a, "values")
    return np.ascontiguousarray(a.reshape(1, -1) if a.ndim == 1 else a, dtype=np.float32)


def _as_tokens(tokens: Any) -> list[str]:
    if isinstance(tokens, str):
        raise ValueError("tokens must be a list of strings (the tokenizer's split), not one string")
    toks = list(tokens)
    if not toks:
        raise ValueError("tokens is empty: there is nothing to show")
    bad = [i for i, t in enumerate(toks) if not isinstance(t, str)]
    if bad:
        raise ValueError(f"tokens must be strings; token {bad[0]} is {type(toks[bad[0]]).__name__}")
    return toks


class TokenHeatmap(BaseWidget):
    """Tokens coloured by values: one row (``[tokens]``) or several (``[rows, tokens]``).

    >>> w = TokenHeatmap(["The", " cat", " sat"], [0.1, -0.5, 0.9], title="demo")
    >>> w.get_state()["values"]["shape"]
    [1, 3]

    Args:
        tokens: strings exactly as the tokenizer split the text.
        values: ``[tokens]`` or ``[rows, tokens]`` finite numbers (numpy, torch or lists);
            ``[tokens, rows]`` (CircuitsVis's ``colored_tokens_multi`` layout) is turned round.
        row_labels: one label per row.
        scale: ``"auto"`` (diverging when any value is negative), ``"diverging"`` or
            ``"sequential"``.
        value_range: ``(lo, hi)`` fixing the colour domain; default from the data.
        title: shown above the tokens.
        theme: ``"auto"`` (follow the host), ``"light"`` or ``"dark"``.
        row_mode: ``"all"`` stacks every row; ``"one"`` shows one row at a time, picked in
            the header (``selected_row``), all on one colour scale; ``"auto"`` (default):
            one at a time when rows x tokens pass 6,000, where stacked rows would put the
            same token thousands of pixels apart.
        selected_row: the row shown first in ``"one"`` mode (synced with the picker).
        row_scale: in ``"one"`` mode, ``"shared"`` (one colour range for every row, so that
            rows compare) or ``"row"`` (the shown row on its own range: rows of very different
            sizes, e.g. per-layer norms); the "own scale" box in the header switches it.
            Stacked rows always share one range.

    ``selected_token`` follows clicks in the view (-1 when none); observe it with
    ``w.observe(callback, "selected_token")``.
    """

    _esm = bundle("token_heatmap")

    tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    values = traitlets.Instance(np.ndarray, allow_none=True).tag(sync=True, **array_serialization)
    row_labels = traitlets.List(traitlets.Unicode()).tag(sync=True)
    scale = traitlets.Enum(("auto", "diverging", "sequential"), default_value="auto").tag(sync=True)
    value_range = traitlets.List(traitlets.Float(), allow_none=True, default_value=None,
                                 minlen=2, maxlen=2).tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    selected_token = traitlets.Int(-1).tag(sync=True)
    row_mode = traitlets.Enum(("auto", "all", "one"), default_value="auto").tag(sync=True)
    selected_row = traitlets.Int(0).tag(sync=True)
    row_scale = traitlets.Enum(("shared", "row"), default_value="shared").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        tokens: Sequence[str],
        values: Any,
        *,
        row_labels: Optional[Sequence[str]] = None,
        scale: str = "auto",
        value_range: Optional[Sequence[float]] = None,
        title: str = "",
        theme: str = "auto",
        row_mode: str = "auto",
        selected_row: int = 0,
        row_scale: str = "shared",
    ) -> None:
        toks, vals, labels = self._check(tokens, values, row_labels)
        super().__init__(
            tokens=toks,
            values=vals,
            row_labels=labels,
            scale=scale,
            value_range=self._check_range(value_range),
            title=title,
            theme=theme,
            row_mode=row_mode,
            row_scale=row_scale,
        )
        self.selected_row = selected_row

    @staticmethod
    def _check(tokens: Any, values: Any, row_labels: Any) -> tuple[list[str], np.ndarray, list[str]]:
        toks = _as_tokens(tokens)
        vals = _as_values(values, len(toks))
        if vals.shape[-1] != len(toks):
            raise ValueError(
                f"{len(toks)} tokens but values have {vals.shape[-1]} columns "
                f"(shape {tuple(vals.shape)}); values must be [tokens] or [rows, tokens]"
            )
        if isinstance(row_labels, str):
            raise ValueError("row_labels must be a list of strings, one per row, not one string")
        labels = [] if row_labels is None else [str(x) for x in row_labels]
        if labels and len(labels) != vals.shape[0]:
            raise ValueError(f"{len(labels)} row_labels for {vals.shape[0]} rows of values")
        return toks, vals, labels

    @staticmethod
    def _check_range(value_range: Any) -> Optional[list[float]]:
        if value_range is None:
            return None
        r = [float(x) for x in value_range]
        if len(r) != 2 or not all(np.isfinite(r)) or not r[0] < r[1]:
            raise ValueError(f"value_range must be two finite numbers lo < hi, got {value_range!r}")
        return r

    def update(self, tokens: Any = None, values: Any = None, row_labels: Any = None) -> "TokenHeatmap":
        """Replace tokens and/or values (checked together) in one message to the view."""
        n = len(self.tokens if tokens is None else _as_tokens(tokens))
        vals = self.values if values is None else _as_values(values, n)
        if row_labels is None and len(self.row_labels) == vals.shape[0]:
            row_labels = self.row_labels
        toks, vals, labels = self._check(self.tokens if tokens is None else tokens, vals, row_labels)
        with self.hold_sync():
            self.tokens, self.values, self.row_labels = toks, vals, labels
            if self.selected_row >= vals.shape[0]:
                self.selected_row = 0
        return self

    @traitlets.validate("values")
    def _validate_values(self, proposal: Any) -> np.ndarray:
        n = len(self.tokens) or None
        vals = _as_values(proposal["value"], n)
        if n is not None and vals.shape[-1] != n:
            raise ValueError(f"{n} tokens but values have {vals.shape[-1]} columns (shape {tuple(vals.shape)}); "
                             f"change both with update(tokens=..., values=...)")
        return vals

    @traitlets.validate("selected_row")
    def _validate_row(self, proposal: Any) -> int:
        r, n = int(proposal["value"]), (self.values.shape[0] if self.values is not None else 1)
        if not -n <= r < n:
            raise ValueError(f"selected_row {r} is out of range: there are {n} rows")
        return r % n

    @traitlets.validate("value_range")
    def _validate_range(self, proposal: Any) -> Optional[list[float]]:
        return self._check_range(proposal["value"])
