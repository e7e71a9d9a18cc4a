"""Time to a painted AttentionView overview (every head of SmolLM2 at 128 tokens) in headless
Chromium, and its payload size.

    .venv/bin/python benchmarks/render_attention.py [--tokens 128] [--layers 30] [--heads 9] [--runs 7]

Random causal softmax patterns of SmolLM2-135M's shape (30 layers x 9 heads) are wrapped in
an ``AttentionPatterns``, exported with ``to_html`` (bundle + data inlined) and opened in
Debian's Chromium. The page measures with ``performance.now()`` from the start of its boot
script (reading the state, decoding the base64 thumbnails, importing the bundle) to after a
double ``requestAnimationFrame`` following ``render`` (the first frame with all thumbnails
painted). Payload: the bytes a live widget sends to the front end (JSON state + binary
buffers). Targets: < 0.5 s and < 5 MB.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.render_heatmap import ARGS, CHROMIUM, payload_bytes, realistic_tokens  # noqa: E402
from interp_widgets.results import AttentionPatterns  # noqa: E402
from interp_widgets.views import AttentionView  # noqa: E402

TARGET_S = 0.5
TARGET_MB = 5.0


def random_patterns(layers: int, heads: int, n: int, seed: int = 0) -> AttentionPatterns:
    """Causal softmax of random logits, plus random detector scores."""
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((layers, heads, n, n)).astype(np.float32) * 2
    logits[..., np.triu(np.ones((n, n), bool), 1)] = -np.inf
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    scores = {d: rng.random((layers, heads)).astype(np.float32)
              for d in ("previous_token", "duplicate_token", "induction")}
    return AttentionPatterns(realistic_tokens(n), p, scores, model_name="benchmark")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--layers", type=int, default=30)
    ap.add_argument("--heads", type=int, default=9)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()

    w = AttentionView(random_patterns(args.layers, args.heads, args.tokens))
    total, binary = payload_bytes(w)

    from playwright.sync_api import sync_playwright

    times = []
    open_ms = []
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
                n = page.evaluate("document.querySelectorAll('.iw-thumb[data-layer][data-head] canvas').length")
                assert n == args.layers * args.heads, n
                # For the record: opening one head (the static page draws its 8-bit preview).
                open_ms.append(page.evaluate("""() => new Promise((done) => {
                    const t = performance.now();
                    document.querySelector('.iw-thumb[data-layer="5"][data-head="3"]').click();
                    requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now() - t)));
                })"""))
                assert page.query_selector(".iw-head-matrix[data-layer='5'][data-head='3']")
            browser.close()
    warm = times[1:]
    med = statistics.median(warm)
    mb = total / 1e6
    heads = args.layers * args.heads
    print(f"heads: {args.layers} layers x {args.heads} heads = {heads}; tokens: {args.tokens}; "
          f"runs: {len(warm)} (+1 warm-up)")
    print(f"time to painted overview: median {med * 1000:.0f} ms, min {min(warm) * 1000:.0f} ms, "
          f"max {max(warm) * 1000:.0f} ms, cold {times[0] * 1000:.0f} ms "
          f"-> {med / TARGET_S:.2f}x of the {TARGET_S * 1000:.0f} ms target")
    print(f"(opening one head's matrix: median {statistics.median(open_ms[1:]):.0f} ms)")
    print(f"payload (live widget state): {total:,} bytes = {mb:.2f} MB "
          f"(uint8 thumbnails + scores {binary:,} bytes, JSON incl. tokens {total - binary:,} bytes) "
          f"-> {mb / TARGET_MB:.2f}x of the {TARGET_MB} MB target")
    print(f"exported HTML file (bundle + base64 data): {html_size:,} bytes")


if __name__ == "__main__":
    main()
