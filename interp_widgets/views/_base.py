"""Shared plumbing of the anywidget views: binary array traits, bundle paths, export.

Arrays cross to JavaScript as raw little-endian ``float32`` bytes plus their shape:
``{"view": memoryview, "dtype": "float32", "shape": [rows, n]}``. anywidget/ipywidgets send
memoryviews as binary buffers (no JSON lists of floats); the JS codec reads them with typed
arrays without copying.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import anywidget
import numpy as np
import traitlets

__all__ = ["BaseWidget", "array_to_json", "array_from_json", "bundle", "STATIC"]

STATIC = Path(__file__).resolve().parent.parent / "static"

def to_numpy(x: Any) -> np.ndarray:
    """Array-likes (numpy, torch tensors on any device or dtype, lists of either) as a numpy
    array, without importing torch."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch tensor
        x = x.detach().cpu()
        if str(getattr(x, "dtype", "")) in ("torch.bfloat16", "torch.float16"):
            x = x.float()
        return x.numpy()
    if isinstance(x, (list, tuple)) and any(hasattr(v, "detach") for v in x):
        return np.asarray([to_numpy(v) for v in x])
    return np.asarray(x)


def array_to_json(value: Any, widget: Any = None) -> dict | None:
    """Serialise an array trait as raw little-endian bytes + dtype + shape.

    ``float64`` (and other floats) become ``float32``, ``int64`` becomes ``int32``; ``uint8``
    and ``uint16`` (quantised data) pass through.
    """
    if value is None:
        return None
    a = to_numpy(value)
    if a.dtype.kind == "u" and a.dtype.itemsize <= 2:
        target = f"<u{a.dtype.itemsize}"
    elif a.dtype.kind in "iu":
        target = "<i4"
    else:
        target = "<f4"
    a = np.ascontiguousarray(a, dtype=target)
    return {
        "view": memoryview(a.reshape(-1)).cast("B"),
        "dtype": a.dtype.name,
        "shape": [int(s) for s in a.shape],
    }


def array_from_json(value: Any, widget: Any = None) -> np.ndarray | None:
    """Inverse of :func:`array_to_json` (bytes, memoryview or base64 string)."""
    if value is None:
        return None
    view = value["view"]
    if isinstance(view, str):
        import base64

        view = base64.b64decode(view)
    dtype = np.dtype(value.get("dtype", "float32")).newbyteorder("<")
    return np.frombuffer(bytes(view), dtype=dtype).reshape(value["shape"])


array_serialization = {"to_json": array_to_json, "from_json": array_from_json}


def bundle(name: str) -> Path | str:
    """The built ES module of a view, or a module that explains how to build it."""
    path = STATIC / f"{name}.js"
    if path.is_file():
        return path
    msg = (
        f"interp-widgets: the JavaScript bundle {name}.js is not built. "
        "Run `npm --prefix js install && npm --prefix js run build` (or `pip install -e .`)."
    )
    return (
        "export default { render({ el }) { const d = document.createElement('pre');"
        f" d.className = 'iw-error'; d.textContent = {msg!r}; el.appendChild(d);"
        " return () => d.remove(); } };"
    )


class BaseWidget(anywidget.AnyWidget):
    """Base of the interp-widgets views: the ``theme`` trait and ``to_html`` export."""

    theme = traitlets.Enum(("auto", "light", "dark"), default_value="auto").tag(sync=True)

    # True while a view copies a result into its traits: its observers then skip recomputing
    _applying = False

    @contextmanager
    def _quiet(self) -> Iterator[None]:
        """Set traits in one message, without reacting to our own changes."""
        prev, self._applying = self._applying, True
        try:
            with self.hold_sync():
                yield
        finally:
            self._applying = prev

    def _recompute(self, compute: Callable[[Callable[[float], None]], Any], kind: type,
                   restore: Callable[[str], None] | None = None, step: float = 0.01) -> Any:
        """Replace the view's result by ``compute(progress)`` (a new result of type ``kind``),
        for views with ``result``, ``_apply``, and ``error``/``progress``/``busy`` traits.

        While it runs the view shows progress (updates of at least ``step``). On failure the
        error is shown in the view; after a click or a slider (``restore`` given, which puts
        the controls back and shows the message) the old result is kept and returned, while
        a call from Python re-applies the old result and raises.
        """
        old = self.result
        last = [-1.0]

        def progress(fraction: float) -> None:
            try:
                f = min(1.0, max(0.0, float(fraction)))
            except (TypeError, ValueError):
                return
            if f >= 1.0 or f - last[0] >= step or f < last[0]:
                last[0] = f
                self.progress = f

        self.error = ""
        self.progress = 0.0
        self.busy = True
        try:
            new = compute(progress)
            if not isinstance(new, kind):
                raise TypeError(f"the recomputation returned {type(new).__name__}, not a {kind.__name__}")
            if new._source is None:
                new._source = old._source
            self._apply(new)
            self.result = new
            return new
        except Exception as e:
            msg = f"{type(e).__name__}: {e}"
            if restore is not None:
                restore(msg)
                return old
            with self._quiet():
                self._apply(old)
                self.error = msg
            raise
        finally:
            with self._quiet():
                self.busy = False
                self.progress = 0.0

    def to_html(self, path: str | os.PathLike, title: str | None = None) -> Path:
        """Write one self-contained HTML file of this view (bundle and data inlined).

        The file needs no network and no Python: interactions that need Python are
        disabled, hover tooltips still work, and the theme follows the reader's
        ``prefers-color-scheme``. Returns the path written.
        """
        from ..export import to_html

        return to_html(self, path, title=title)


def check_finite(a: np.ndarray, what: str = "values") -> None:
    """Raise ValueError naming how many entries are NaN/inf and where the first is."""
    bad = ~np.isfinite(a)
    if bad.any():
        n = int(bad.sum())
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        if len(first) == 1:
            where = f"token {first[0]}"
        elif len(first) == 2:
            where = f"row {first[0]}, token {first[1]}"
        else:
            where = f"index {first}"
        raise ValueError(
            f"{what} contain {n} non-finite entr{'y' if n == 1 else 'ies'} (NaN or inf); "
            f"the first is at {where} ({float(a[first])})"
        )
    if a.dtype.kind == "f" and a.dtype.itemsize > 4 and a.size:
        big = float(np.abs(a).max())
        if big > float(np.finfo(np.float32).max):
            raise ValueError(f"{what} exceed the float32 range (max |value| {big:.3g})")
