"""Streamed top-k of one SmolLM2 neuron over the stdlib docstring corpus: time and peak
memory at two corpus sizes, to show that memory stays flat as the corpus grows.

    .venv/bin/python benchmarks/neurons.py [--sizes 400 1600] [--layer 6] [--index 703]
    .venv/bin/python benchmarks/neurons.py --screenshots   # docs/neuron_{light,dark}.png

Each size runs in a fresh process (so that peaks don't carry over), after loading the model
and reading the corpus: ``rss`` is the growth of the process's peak resident memory during
``iw.neuron`` (torch's buffers included), ``py`` the peak of Python/numpy allocations
(tracemalloc) during it. The corpus is streamed, so both depend on the batch (``batch_size``
x ``max_len`` tokens), not on the number of texts.

Measured (2 shared CPU cores, float32, L6/703):

     texts   tokens  time s  tok/s  peak RSS growth MB  py peak MB
       400    35225    95.4    369                92.8        0.56
      1600   135762   350.3    388                51.5        0.57
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def one(n_texts: int, layer: int, index: int, batch_size: int, max_len: int) -> dict:
    import tracemalloc

    import torch

    import interp_widgets as iw
    from interp_widgets.corpus import stdlib_docstrings
    from interp_widgets.kernels.neurons import neuron

    torch.set_num_threads(2)
    model = iw.load_model(device="cpu")
    corpus = stdlib_docstrings(max_texts=n_texts)
    # Warm up (first-call allocations, thread pools) on a few texts.
    neuron(model, corpus[:1], layer, index, corpus=corpus[:16], batch_size=batch_size, max_len=max_len, progress=False)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    t = time.perf_counter()
    r = neuron(model, corpus[:1], layer, index, corpus=iter(corpus), batch_size=batch_size,
               max_len=max_len, progress=False)
    dt = time.perf_counter() - t
    _, py_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"texts": r.n_texts, "tokens": r.n_tokens, "seconds": dt, "tokens_per_s": r.n_tokens / dt,
            "rss_growth_mb": (peak - base) / 1024, "rss_peak_mb": peak / 1024, "py_peak_mb": py_peak / 2**20,
            "max": r.max_activation}


def screenshots(layer: int, index: int, n_texts: int) -> None:
    import tempfile

    from playwright.sync_api import sync_playwright

    import interp_widgets as iw
    from interp_widgets.corpus import stdlib_docstrings
    from interp_widgets.kernels.neurons import neuron

    model = iw.load_model(device="cpu")
    texts = ["The purpose of this module is to parse the file.",
             "If the value is missing, the result is None and nothing is written."]
    r = neuron(model, texts, layer, index, corpus=stdlib_docstrings(max_texts=n_texts), k=12,
               max_len=128, progress=True)
    print(r)
    docs = ROOT / "docs"
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                    args=["--no-sandbox", "--disable-gpu"])
        for theme in ("light", "dark"):
            path = r.show(theme=theme).to_html(Path(tmp) / f"neuron_{theme}.html")
            page = browser.new_page(viewport={"width": 1000, "height": 900}, color_scheme=theme)
            page.goto(path.as_uri())
            page.wait_for_selector(".iw-neuron .iw-example")
            page.wait_for_timeout(300)
            page.locator(".iw-neuron").screenshot(path=str(docs / f"neuron_{theme}.png"))
            page.close()
            print("wrote", docs / f"neuron_{theme}.png")
        browser.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[400, 1600], help="corpus sizes (texts)")
    ap.add_argument("--layer", type=int, default=6)
    ap.add_argument("--index", type=int, default=703)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-len", type=int, default=256)
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--screenshots", action="store_true")
    a = ap.parse_args()
    if a.screenshots:
        screenshots(9 if a.layer == 6 and a.index == 703 else a.layer, 720 if a.layer == 6 and a.index == 703 else a.index, 300)
        return
    if a.one is not None:
        print(json.dumps(one(a.one, a.layer, a.index, a.batch_size, a.max_len)))
        return
    print(f"SmolLM2 neuron L{a.layer}/{a.index}, stdlib docstrings, batch_size={a.batch_size}, max_len={a.max_len}, CPU")
    print(f"{'texts':>6} {'tokens':>8} {'time s':>7} {'tok/s':>6} {'peak RSS growth MB':>19} {'py peak MB':>10}")
    for n in a.sizes:
        out = subprocess.run([sys.executable, __file__, "--one", str(n), "--layer", str(a.layer), "--index",
                              str(a.index), "--batch-size", str(a.batch_size), "--max-len", str(a.max_len)],
                             check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(f"{r['texts']:>6} {r['tokens']:>8} {r['seconds']:>7.1f} {r['tokens_per_s']:>6.0f} "
              f"{r['rss_growth_mb']:>19.1f} {r['py_peak_mb']:>10.2f}", flush=True)


if __name__ == "__main__":
    main()
