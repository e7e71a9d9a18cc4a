"""Screenshots of the direct logit attribution view on SmolLM2 (docs/dla_light.png, dla_dark.png).

    .venv/bin/python benchmarks/screenshot_dla.py

Exports the view for the IOI prompt (target " Mary" - " John") with ``to_html`` and opens it
in Debian's headless Chromium, light and dark, hovering the strongest head for its tooltip.
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
TEXT = "When Mary and John went to the store, John gave a drink to"


def main() -> None:
    from playwright.sync_api import sync_playwright

    model = iw.load_model()
    r = iw.direct_logit_attribution(model, TEXT, target=(" Mary", " John"))
    print(r)
    layer, head, _ = r.top_heads(1)[0]
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for theme in ("light", "dark"):
            path = r.show(theme=theme).to_html(Path(tmp) / f"dla_{theme}.html")
            page = browser.new_page(viewport={"width": 900, "height": 800}, device_scale_factor=1,
                                    color_scheme=theme)
            page.goto(path.as_uri())
            canvas = page.wait_for_selector("canvas.iw-dla-heads")
            box = canvas.bounding_box()
            page.mouse.move(box["x"] + (head + 0.5) * 30, box["y"] + (layer + 0.5) * 16)
            page.wait_for_selector(".iw-tooltip:not([hidden])")
            out = ROOT / "docs" / f"dla_{theme}.png"
            page.locator(".iw-dla").screenshot(path=str(out))
            print("wrote", out)
            page.close()
        browser.close()


if __name__ == "__main__":
    main()
