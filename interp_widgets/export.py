"""Self-contained HTML export of a view: the ES module bundle and the widget state inlined.

The page needs no network (a Content-Security-Policy forbids it) and no Python. Binary
arrays travel as base64 inside a JSON ``<script type="application/json">`` block, with
``<`` escaped as ``\\u003c`` so that no token text (``</script>``, ``<img onerror=...>``) can
end the block; the bundle is inlined the same way and loaded through a Blob URL + dynamic
``import()``. An in-page model (get/set/on/off/save_changes/send) stands in for anywidget:
hover tooltips and local selection work, interactions that need Python are disabled.
"""

from __future__ import annotations

import base64
import html
import json
import os
from pathlib import Path
from typing import Any

__all__ = ["to_html", "widget_state", "render_html"]

# Widget plumbing that the page does not need.
_SKIP = {"layout", "tabbable", "tooltip", "comm", "keys", "log"}


def _encode(value: Any) -> Any:
    """JSON-safe copy of a state value: bytes/memoryviews become base64 strings."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


def widget_state(widget: Any) -> dict:
    """The public synced state of a widget, JSON-ready (binary arrays as base64)."""
    state = widget.get_state()
    out = {k: _encode(v) for k, v in state.items() if not k.startswith("_") and k not in _SKIP}
    # A page has no Python behind it: nothing to recompute, nothing in flight.
    for key in ("interactive", "can_ablate"):
        if key in out:
            out[key] = False
    for key in ("busy", "ablation_busy"):
        if key in out:
            out[key] = False
    if "progress" in out:
        out["progress"] = 0.0
    return out


def _script_json(obj: Any) -> str:
    """JSON for a <script type="application/json"> block: no '<', '>' or '&' survive."""
    s = json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return (
        s.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


_BOOT = r"""
const t0 = performance.now();
const read = (id) => JSON.parse(document.getElementById(id).textContent);
const views = read("iw-views");  // [{bundle: index, state: {...}}]
const bundles = read("iw-bundles");

function makeModel(state) {
  const listeners = new Map();
  return {
    get: (k) => state[k],
    set: (k, v) => {
      if (state[k] === v) return;
      state[k] = v;
      for (const fn of listeners.get("change:" + k) || []) fn();
    },
    on: (ev, fn) => {
      if (!listeners.has(ev)) listeners.set(ev, new Set());
      listeners.get(ev).add(fn);
    },
    off: (ev, fn) => {
      if (!ev) listeners.clear();
      else if (!fn) listeners.delete(ev);
      else listeners.get(ev)?.delete(fn);
    },
    save_changes: () => {},
    send: () => {},
    widget_manager: { get_model: () => Promise.reject(new Error("no widget manager in a static page")) },
  };
}

const modules = [];
async function load(i) {
  if (!modules[i]) {
    const url = URL.createObjectURL(new Blob([bundles[i]], { type: "text/javascript" }));
    const mod = await import(url);
    URL.revokeObjectURL(url);
    modules[i] = typeof mod.default === "function" ? await mod.default() : mod.default;
  }
  return modules[i];
}

let failed = false;
for (let i = 0; i < views.length; i++) {
  const el = document.getElementById("iw-view-" + i);
  try {
    const widget = await load(views[i].bundle);
    await widget.render({ model: makeModel(views[i].state), el, signal: new AbortController().signal });
  } catch (e) {
    failed = true;
    const box = document.createElement("pre");
    box.className = "iw-error";
    box.textContent = "interp-widgets: could not render this view: " + (e && e.message ? e.message : e);
    el.appendChild(box);
  }
}
requestAnimationFrame(() => requestAnimationFrame(() => {
  window.__iw_render_ms = performance.now() - t0;
  document.documentElement.dataset.iwReady = failed ? "error" : "1";
}));
"""

_CSP = (
    "default-src 'none'; script-src 'unsafe-inline' blob:; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:; connect-src 'none'; base-uri 'none'; form-action 'none'"
)


def _caption(heading: str, text: str) -> str:
    return (f'<h2 class="iw-page-h">{html.escape(heading)}</h2>'
            + (f'<p class="iw-page-p">{html.escape(text)}</p>' if text else ""))


def render_html(esm, state, title: str, captions=None, intro: str = "") -> str:
    """The page for one view (``esm`` a bundle's source, ``state`` its JSON-ready state), or
    for several views in order (``esm`` and ``state`` lists of the same length).

    ``captions``: one ``(heading, text)`` per view (a gallery page: a title, a list of
    contents and a heading and a sentence above each view); ``intro``: a paragraph under
    the title. Both are plain text (escaped)."""
    esms = [esm] if isinstance(esm, str) else list(esm)
    states = [state] if isinstance(state, dict) else list(state)
    bundles: list[str] = []
    views = []
    for code, st in zip(esms, states):
        if code not in bundles:
            bundles.append(code)
        views.append({"bundle": bundles.index(code), "state": st})
    if captions is None:
        divs = "\n".join(f'<div class="iw-page-view" id="iw-view-{i}"></div>' for i in range(len(views)))
    else:
        captions = list(captions)
        if len(captions) != len(views):
            raise ValueError(f"{len(captions)} captions for {len(views)} views: give one (heading, text) per view")
        toc = "".join(f'<li><a href="#iw-sec-{i}">{html.escape(h)}</a></li>' for i, (h, _) in enumerate(captions))
        divs = (f'<h1 class="iw-page-title">{html.escape(title)}</h1>'
                + (f'<p class="iw-page-p">{html.escape(intro)}</p>' if intro else "")
                + f'<ol class="iw-page-toc">{toc}</ol>\n'
                + "\n".join(f'<section class="iw-page-sec" id="iw-sec-{i}">{_caption(h, t)}'
                            f'<div class="iw-page-view" id="iw-view-{i}"></div></section>'
                            for i, (h, t) in enumerate(captions)))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="generator" content="interp-widgets">
<title>{html.escape(title)}</title>
<style>
  html {{ color-scheme: light dark; }}
  body {{ margin: 0; padding: 16px; background: #ffffff; color: #1f2328;
         font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }}
  .iw-page-view + .iw-page-view {{ margin-top: 24px; }}
  .iw-page-sec {{ margin: 28px 0 8px; max-width: 1100px; }}
  .iw-page-h {{ font-size: 18px; margin: 0 0 4px; }}
  .iw-page-p {{ margin: 0 0 10px; max-width: 820px; line-height: 1.45; opacity: 0.85; }}
  .iw-page-title {{ font-size: 22px; margin: 0 0 6px; }}
  .iw-page-toc {{ margin: 6px 0 0; line-height: 1.5; }}
  .iw-page-toc a {{ color: inherit; }}
  @media (prefers-color-scheme: dark) {{ body {{ background: #1e1e1e; color: #e6edf3; }} }}
</style>
</head>
<body>
{divs}
<script type="application/json" id="iw-views">{_script_json(views)}</script>
<script type="application/json" id="iw-bundles">{_script_json(bundles)}</script>
<script type="module">{_BOOT}</script>
</body>
</html>
"""


def _esm_source(widget: Any) -> str:
    esm = getattr(widget, "_esm", "")
    esm = str(esm)
    if "\n" not in esm and esm.endswith(".js") and Path(esm).is_file():
        esm = Path(esm).read_text(encoding="utf-8")
    return esm


def to_html(widget: Any, path: str | os.PathLike, title: str | None = None, captions=None,
            intro: str = "") -> Path:
    """Write one self-contained HTML file of ``widget`` (or of a list of widgets, shown one
    after another on the page); returns the path. With ``captions`` (one ``(heading,
    text)`` per widget) the page is a gallery with a list of contents.

    Works for any view of this package (``TokenHeatmap``, ``AttributionWidget``, ...).
    """
    path = Path(path)
    widgets = list(widget) if isinstance(widget, (list, tuple)) else [widget]
    if not widgets:
        raise ValueError("to_html needs at least one widget")
    if title is None:
        title = getattr(widgets[0], "title", "") or type(widgets[0]).__name__
    page = render_html([_esm_source(w) for w in widgets], [widget_state(w) for w in widgets], str(title),
                       captions=captions, intro=intro)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
