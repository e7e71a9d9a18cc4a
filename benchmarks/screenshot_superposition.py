"""Screenshots of the toy model of superposition (docs/superposition_light.png, _dark.png).

    .venv/bin/python benchmarks/screenshot_superposition.py

Trains 5 features in 2 hidden dimensions at sparsity 0.9 (the pentagon of Elhage et al.
2022), exports the view with ``to_html`` and opens it in Debian's headless Chromium, light
and dark, hovering a WᵀW cell for its tooltip.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from interp_widgets.toy.superposition import superposition  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main() -> None:
    from playwright.sync_api import sync_playwright

    t0 = time.perf_counter()
    r = superposition(n_features=5, n_hidden=2, sparsity=0.9)
    print(f"{r}  ({time.perf_counter() - t0:.2f} s)")
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for theme in ("light", "dark"):
            path = r.show(theme=theme).to_html(Path(tmp) / f"superposition_{theme}.html")
            page = browser.new_page(viewport={"width": 1000, "height": 700}, device_scale_factor=1,
                                    color_scheme=theme)
            page.goto(path.as_uri())
            page.wait_for_selector(".iw-superposition svg.iw-sp-plot")
            canvas = page.wait_for_selector("canvas.iw-sp-wtw")
            box = canvas.bounding_box()
            cell = box["width"] / r.n_features
            page.mouse.move(box["x"] + 1.5 * cell, box["y"] + 0.5 * cell)  # W0·W1
            page.wait_for_selector(".iw-tooltip:not([hidden])")
            out = ROOT / "docs" / f"superposition_{theme}.png"
            page.locator(".iw-superposition").screenshot(path=str(out))
            print("wrote", out)
            page.close()
        browser.close()


if __name__ == "__main__":
    main()
