"""Screenshots of the AttentionView on SmolLM2 (docs/attention_light.png, attention_dark.png).

    .venv/bin/python benchmarks/screenshot_attention.py

Exports ``iw.attention`` for the IOI prompt with ``to_html``, opens it in Debian's headless
Chromium (light and dark), sorts the thumbnails by induction score, opens the strongest
induction head and hovers a token label.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import interp_widgets as iw  # noqa: E402
from benchmarks.screenshot_dla import ARGS, CHROMIUM  # noqa: E402

TEXT = "When Mary and John went to the store, John gave a drink to Mary. When Mary and John"


def main() -> None:
    from playwright.sync_api import sync_playwright

    model = iw.load_model()
    r = iw.attention(model, TEXT)
    print(r)
    layer, head, _ = r.top_heads("induction", 1)[0]
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for theme in ("light", "dark"):
            view = r.show(theme=theme, sort_by="induction", detector="induction")
            path = view.to_html(Path(tmp) / f"attention_{theme}.html")
            page = browser.new_page(viewport={"width": 1250, "height": 900}, device_scale_factor=1,
                                    color_scheme=theme)
            page.goto(path.as_uri())
            page.wait_for_selector(".iw-thumb")
            page.click(f'.iw-thumb[data-layer="{layer}"][data-head="{head}"]')
            matrix = page.wait_for_selector(f'.iw-head-matrix[data-layer="{layer}"][data-head="{head}"]')
            labels = page.locator(".iw-head-matrix .iw-token[data-index]")
            texts = labels.evaluate_all("els => els.map(e => e.textContent)")
            # hover the last " John": an induction head looks at what followed " John" before
            idx = max(i for i, t in enumerate(texts) if "John" in t)
            labels.nth(idx).hover()
            page.wait_for_timeout(200)
            out = ROOT / "docs" / f"attention_{theme}.png"
            page.locator(".iw-attention").screenshot(path=str(out))
            print("wrote", out, "head", (layer, head), matrix is not None)
            page.close()
        browser.close()


if __name__ == "__main__":
    main()
