"""Screenshots of the AttentionView on the shipped attention-only toy model
(docs/attn_only_light.png, attn_only_dark.png).

    .venv/bin/python benchmarks/screenshot_attn_only.py

``iw.toy.attn_only()`` on a random word sequence repeated twice, exported with ``to_html`` and
opened in Debian's headless Chromium (light and dark): thumbnails sorted by induction score,
the strongest induction head (layer 1) opened, a token of the second copy hovered.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import interp_widgets as iw  # noqa: E402
from benchmarks.screenshot_dla import ARGS, CHROMIUM  # noqa: E402

WORDS = "water time word number sound people day thing call side"
TEXT = f"{WORDS} {WORDS}"


def main() -> None:
    from playwright.sync_api import sync_playwright

    model = iw.toy.attn_only()
    r = iw.attention(model, TEXT)
    print(r)
    layer, head, score = r.top_heads("induction", 1)[0]
    print("top induction head", (layer, head), round(float(score), 3))
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for theme in ("light", "dark"):
            view = r.show(theme=theme, sort_by="induction", detector="induction")
            path = view.to_html(Path(tmp) / f"attn_only_{theme}.html")
            page = browser.new_page(viewport={"width": 1100, "height": 900}, device_scale_factor=1,
                                    color_scheme=theme)
            page.goto(path.as_uri())
            page.wait_for_selector(".iw-thumb")
            page.click(f'.iw-thumb[data-layer="{layer}"][data-head="{head}"]')
            page.wait_for_selector(f'.iw-head-matrix[data-layer="{layer}"][data-head="{head}"]')
            labels = page.locator(".iw-head-matrix .iw-token[data-index]")
            texts = labels.evaluate_all("els => els.map(e => e.textContent)")
            # hover the second " word": the induction head looks at what followed it before (" number")
            idx = max(i for i, t in enumerate(texts) if t.endswith("word"))
            labels.nth(idx).hover()
            page.wait_for_timeout(200)
            out = ROOT / "docs" / f"attn_only_{theme}.png"
            page.locator(".iw-attention").screenshot(path=str(out))
            print("wrote", out)
            page.close()
        browser.close()


if __name__ == "__main__":
    main()
