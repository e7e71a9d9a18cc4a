"""Time to a painted 10,000-token TokenHeatmap in headless Chromium, and its payload size.

    .venv/bin/python benchmarks/render_heatmap.py [--tokens 10000] [--rows 1] [--runs 7]

The heatmap is exported with ``to_html`` (bundle + data inlined) and opened in Debian's
Chromium. The page measures with ``performance.now()`` from the start of its boot script
(reading the state, decoding the base64 array, importing the bundle) to after a double
``requestAnimationFrame`` following ``render`` (the first frame with the tokens painted).
Payload: the bytes a live widget sends to the front end (JSON state + binary buffers), and
the binary values alone. Targets: < 0.2 s and < 0.2 MB.
"""

from __future__ import annotations

import argparse
import inspect
import json
import re
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from interp_widgets.views import TokenHeatmap  # noqa: E402

TARGET_S = 0.2
TARGET_MB = 0.2
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def realistic_tokens(n: int) -> list[str]:
    """Word-piece-like tokens (leading spaces, newlines) from the stdlib's docstrings."""
    import collections
    import json as _json
    import pathlib as _pathlib

    text = "\n".join(inspect.getdoc(m) or "" for m in (collections, _json, _pathlib, argparse, statistics))
    pieces = re.findall(r"\n| ?\w{1,6}| ?[^\w\s]", text)
    out = []
    while len(out) < n:
        out.extend(pieces)
    return out[:n]


def payload_bytes(widget) -> tuple[int, int]:
    """(total bytes of the state a live widget sends, bytes of binary buffers)."""
    from ipywidgets.widgets.widget import _remove_buffers

    state = {k: v for k, v in widget.get_state().items() if not k.startswith("_") or k == "_esm"}
    state.pop("_esm", None)  # the bundle is sent once per widget class, not data
    state, _paths, buffers = _remove_buffers(state)
    js = len(json.dumps(state, separators=(",", ":")).encode("utf-8"))
    binary = sum(memoryview(b).nbytes for b in buffers)
    return js + binary, binary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=10_000)
    ap.add_argument("--rows", type=int, default=1)
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    tokens = realistic_tokens(args.tokens)
    values = rng.standard_normal((args.rows, args.tokens)).astype(np.float32)
    w = TokenHeatmap(tokens, values, title=f"{args.tokens:,} tokens")
    total, binary = payload_bytes(w)

    from playwright.sync_api import sync_playwright

    times = []
    full_layout = []
    with tempfile.TemporaryDirectory() as tmp:
        path = w.to_html(Path(tmp) / "bench.html")
        html_size = path.stat().st_size
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            for _ in range(args.runs + 1):  # the first run warms the browser's caches
                page.goto(path.as_uri())
                page.wait_for_selector("html[data-iw-ready='1']", timeout=60_000)
                times.append(page.evaluate("window.__iw_render_ms") / 1000)
                n_spans = page.evaluate("document.querySelectorAll('.iw-token[data-value]').length")
                assert n_spans == args.tokens * args.rows, n_spans
                # Off-screen chunks skip layout (content-visibility: auto). For the record:
                # what laying out every token at once costs.
                full_layout.append(page.evaluate("""() => {
                    const s = document.createElement('style');
                    s.textContent = '.iw-chunk{content-visibility:visible!important}';
                    document.head.appendChild(s);
                    const t = performance.now();
                    document.querySelector('.iw-body').scrollHeight;
                    return performance.now() - t;
                }""") / 1000)
            browser.close()
    warm = times[1:]
    med = statistics.median(warm)
    mb = total / 1e6
    print(f"tokens: {args.tokens:,} x {args.rows} row(s); runs: {len(warm)} (+1 warm-up)")
    print(f"time to painted heatmap: median {med * 1000:.0f} ms, min {min(warm) * 1000:.0f} ms, "
          f"max {max(warm) * 1000:.0f} ms, cold {times[0] * 1000:.0f} ms "
          f"-> {med / TARGET_S:.2f}x of the {TARGET_S * 1000:.0f} ms target")
    print(f"(full layout of every token, which first paint skips: median "
          f"{statistics.median(full_layout[1:]) * 1000:.0f} ms)")
    print(f"payload (live widget state): {total:,} bytes = {mb:.3f} MB "
          f"(binary values {binary:,} bytes, JSON incl. tokens {total - binary:,} bytes) "
          f"-> {mb / TARGET_MB:.2f}x of the {TARGET_MB} MB target")
    print(f"exported HTML file (bundle + base64 data): {html_size:,} bytes")


if __name__ == "__main__":
    main()
