"""Screenshots of the probe view on SmolLM2 (docs/probe_light.png, docs/probe_dark.png).

    .venv/bin/python benchmarks/screenshot_probe.py

Trains the numbers-vs-animals probe of tests/integration/test_probe_smollm2.py on every
layer, applies the best layer's probe to a mixed sentence, exports the view with
``to_html`` and opens it in Debian's headless Chromium, light and dark, hovering a token of
the sentence for its tooltip.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "integration"))

import interp_widgets as iw  # noqa: E402
from test_probe_smollm2 import ANIMALS, NUMBERS  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TEXT = "The cat counted to seven."


def main() -> None:
    from playwright.sync_api import sync_playwright

    model = iw.load_model()
    t0 = time.perf_counter()
    r = iw.probe(model, NUMBERS + ANIMALS, ["numbers"] * 16 + ["animals"] * 16, position="last")
    print(r, f"({time.perf_counter() - t0:.1f} s)")
    layer = int(sys.argv[1]) if len(sys.argv) > 1 else r.best_layer
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for theme in ("light", "dark"):
            t0 = time.perf_counter()
            view = r.show(text=TEXT, layer=layer, theme=theme)
            print(f"predictions at layer {layer} in {time.perf_counter() - t0:.2f} s:",
                  dict(zip(view.tokens, view.predictions[:, 1].round(3))))
            path = view.to_html(Path(tmp) / f"probe_{theme}.html")
            page = browser.new_page(viewport={"width": 860, "height": 700}, device_scale_factor=1,
                                    color_scheme=theme)
            page.goto(path.as_uri())
            page.wait_for_selector(".iw-probe svg.iw-probe-chart")
            spans = page.locator(".iw-pred-body .iw-token")
            spans.nth(spans.count() - 1).hover()
            page.wait_for_selector(".iw-tooltip:not([hidden])")
            out = ROOT / "docs" / f"probe_{theme}.png"
            box = page.locator(".iw-probe").bounding_box()
            tip = page.locator(".iw-tooltip:not([hidden])").bounding_box()
            bottom = max(box["y"] + box["height"], tip["y"] + tip["height"] + 6)
            page.screenshot(path=str(out), clip={"x": box["x"], "y": box["y"], "width": box["width"],
                                                  "height": bottom - box["y"]})
            print("wrote", out)
            page.close()
        browser.close()


if __name__ == "__main__":
    main()
