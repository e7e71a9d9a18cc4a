"""Screenshots of the SAE FeatureDashboard on SmolLM2 (docs/feature_dashboard_light.png, _dark.png).

    .venv/bin/python benchmarks/screenshot_feature_dashboard.py [--sae FOLDER]

Uses the SAE that ships with the package (``iw.load_sae()``; or ``--sae FOLDER``: one is
trained quickly there if the folder is empty), computes the dashboard over 100 docstrings
(timed), runs a prompt, opens the strongest feature at its token " closed", exports with
``to_html`` and opens the page in Debian's headless Chromium, light and dark, with that token
of the prompt clicked.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import interp_widgets as iw  # noqa: E402
from interp_widgets.kernels.sae_features import sae_features  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HOOK = "blocks.8.hook_resid_post"
PROMPT = "If the socket is closed, raise an exception; otherwise return True and the filename."
WORD = " closed"


def load_or_train(model, folder: Path):
    if (folder / "cfg.json").is_file():
        return iw.SAE.load(folder)
    t0 = time.perf_counter()
    sae, report = iw.train_sae(model, HOOK, iw.stdlib_docstrings(max_texts=200), n_features=512, k=16,
                               steps=300, batch_size=256, max_tokens=8000, eval_texts=0, progress=False)
    print(f"trained in {time.perf_counter() - t0:.1f}s: {report}")
    sae.save(folder)
    return sae


def bench_16k() -> None:
    """Time the list with 16,384 synthetic features in Chromium: first render, a sort, a
    search, and a scroll to the middle (no model needed)."""
    import numpy as np
    from playwright.sync_api import sync_playwright

    from interp_widgets.results.sae import SAEFeatures

    n, k = 16384, 4
    rng = np.random.default_rng(0)
    vocab = [f" tok{i}" for i in range(2000)]
    corpus = [rng.integers(0, 2000, 64) for _ in range(200)]
    top_text = rng.integers(0, 200, (n, k))
    r = SAEFeatures(density=rng.random(n) ** 4, max_act=rng.random(n) * 20, mean_act=rng.random(n),
                    count=rng.integers(1, 100, n), top_values=np.sort(rng.random((n, k)), 1)[:, ::-1] + 0.1,
                    top_text=top_text, top_pos=rng.integers(0, 64, (n, k)), hist_counts=np.zeros((n, 48)),
                    hist_edges=np.logspace(-3, 3, 49), corpus_ids=corpus, vocab=vocab,
                    promoted_ids=rng.integers(0, 2000, (n, 5)), model_name="synthetic", hook_name="x")
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        path = r.show().to_html(Path(tmp) / "fd16k.html")
        print(f"16k export: {path.stat().st_size / 1e6:.2f} MB")
        # bypass_csp: the timing snippets below are evaluated strings (the page forbids eval)
        page = browser.new_context(viewport={"width": 1180, "height": 1000}, bypass_csp=True).new_page()
        t0 = time.perf_counter()
        page.goto(path.as_uri())
        page.wait_for_selector(".iw-fl-row")
        print(f"16k: page load to first rows {1000 * (time.perf_counter() - t0):.0f} ms; "
              f"rows in DOM {page.locator('.iw-fl-row').count()}")
        ms = lambda js: page.evaluate(  # noqa: E731
            "async (js) => { const t = performance.now(); eval(js); await new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));"
            " return performance.now() - t; }", js)
        for key in ("density", "max"):
            t = ms(f"document.querySelector('button[data-sort={key}]').click()")
            print(f"16k: sort by {key} {t:.0f} ms")
        page.fill("input.iw-search", "tok12")
        page.wait_for_function("document.querySelector('.iw-fl-count').textContent.includes(' of ')")
        print("16k: search 'tok12' ->", page.locator(".iw-fl-count").inner_text())
        t = ms("const s = document.querySelector('.iw-fl-scroll'); s.scrollTop = s.scrollHeight / 2;"
               " s.dispatchEvent(new Event('scroll'))")
        print(f"16k: scroll to the middle {t:.1f} ms; first row now #{page.locator('.iw-fl-row').first.get_attribute('data-feature')}")
        browser.close()


def main() -> None:
    from playwright.sync_api import sync_playwright

    ap = argparse.ArgumentParser()
    ap.add_argument("--sae", default=None, help="an SAE folder (default: the shipped one)")
    ap.add_argument("--bench", action="store_true", help="only time a synthetic 16k-feature list")
    args = ap.parse_args()
    if args.bench:
        bench_16k()
        return
    model = iw.load_model()
    sae = iw.load_sae() if args.sae is None else load_or_train(model, Path(args.sae))
    texts = iw.stdlib_docstrings(max_texts=300)[200:300]
    t0 = time.perf_counter()
    feats = sae_features(model, sae, texts, progress=False)
    print(f"sae_features over {feats.n_texts} texts / {feats.n_tokens} tokens: {time.perf_counter() - t0:.2f}s")
    print(feats)
    t0 = time.perf_counter()
    view = feats.show(prompt=PROMPT)
    print(f"prompt mode ({len(view.prompt_tokens)} tokens): {time.perf_counter() - t0:.2f}s")
    TOKEN = list(view.prompt_tokens).index(WORD)
    # open the strongest feature at the prompt's token WORD (as a click on the list would)
    feature = int(view.prompt_features["ids"][TOKEN, 0])
    t0 = time.perf_counter()
    view.selected_feature = feature
    print(f"open feature {feature} ({feats.examples(feature)[0].tokens!r}...): {time.perf_counter() - t0:.2f}s")
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for theme in ("light", "dark"):
            view.theme = theme
            path = view.to_html(Path(tmp) / f"fd_{theme}.html")
            page = browser.new_page(viewport={"width": 1180, "height": 1000}, device_scale_factor=1,
                                    color_scheme=theme)
            page.goto(path.as_uri())
            page.wait_for_selector(".iw-features .iw-example")
            page.locator(".iw-prompt-tokens .iw-token").nth(TOKEN).click()
            page.wait_for_selector(".iw-pf-item")
            page.mouse.move(0, 0)
            out = ROOT / "docs" / f"feature_dashboard_{theme}.png"
            page.locator(".iw-features").screenshot(path=str(out))
            print("wrote", out)
            page.close()
        browser.close()


if __name__ == "__main__":
    main()
