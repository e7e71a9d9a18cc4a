"""Screenshots of the activation-patching view on SmolLM2 (docs/patching_light.png, patching_dark.png).

    .venv/bin/python benchmarks/screenshot_patching.py

Patches the residual stream (``resid_pre``, each position) of the IOI prompt pair with the
metric logit(" Mary") - logit(" John"), selects the cell at layer 4, the second " John"
(its top next tokens are computed in Python and exported with the view), exports the view
with ``to_html`` and opens it in Debian's headless Chromium, light and dark, hovering the
selected cell for its tooltip.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import interp_widgets as iw  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CLEAN = "When Mary and John went to the store, John gave a drink to"
CORRUPT = "When John and Mary went to the store, Mary gave a drink to"
LAYER, POSITION = 4, 9


def main() -> None:
    from playwright.sync_api import sync_playwright

    model = iw.load_model()
    r = iw.patch(model, CLEAN, CORRUPT, (" Mary", " John"), progress=False)
    print(r)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for theme in ("light", "dark"):
            w = r.show(theme=theme).select(LAYER, POSITION)
            print(theme, w.top_cell, list(zip(w.top_tokens, w.top_probs))[:3])
            path = w.to_html(Path(tmp) / f"patching_{theme}.html")
            page = browser.new_page(viewport={"width": 1100, "height": 800}, device_scale_factor=1,
                                    color_scheme=theme)
            page.goto(path.as_uri())
            canvas = page.wait_for_selector("canvas.iw-patch-grid")
            cw = float(canvas.get_attribute("data-cell-width"))
            ch = float(canvas.get_attribute("data-cell-height"))
            box = canvas.bounding_box()
            page.mouse.move(box["x"] + (POSITION + 0.5) * cw, box["y"] + (LAYER + 0.5) * ch)
            page.wait_for_selector(".iw-tooltip:not([hidden])")
            out = ROOT / "docs" / f"patching_{theme}.png"
            page.locator(".iw-patching").screenshot(path=str(out))
            print("wrote", out)
            page.close()
        browser.close()


if __name__ == "__main__":
    main()
