"""Screenshot of the AttentionView with heads switched off (docs/attention_ablation.png).

    .venv/bin/python benchmarks/screenshot_ablation.py

Runs ``iw.attention`` on the IOI prompt with SmolLM2, switches off two name-mover heads
through the view (``view.ablate``: the same path as the toggles), and renders the view's
state (the panel precomputed by Python) in Debian's headless Chromium. The page is the
exported one with ``can_ablate`` left on, so it looks like the live view in a notebook
(``tests/e2e/test_attention_e2e.py`` takes the same picture in JupyterLab).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import interp_widgets as iw  # noqa: E402
from benchmarks.screenshot_dla import ARGS, CHROMIUM  # noqa: E402
from interp_widgets.export import _esm_source, render_html, widget_state  # noqa: E402

TEXT = "When Mary and John went to the store, John gave a drink to"
HEADS = [(23, 3), (29, 1)]


def main() -> None:
    from playwright.sync_api import sync_playwright

    model = iw.load_model()
    view = iw.attention(model, TEXT).show(layer=HEADS[0][0], head=HEADS[0][1], detector="induction")
    view.ablate(HEADS)
    print(view.ablation["tokens"][:3], view.ablation["probs"][:3].tolist(), view.ablation["kl"])
    state = widget_state(view)
    state["can_ablate"] = True  # as live (the export turns the toggles off)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        page_path = Path(tmp) / "attention_ablation.html"
        page_path.write_text(render_html(_esm_source(view), state, "AttentionView: heads off"), encoding="utf-8")
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 900}, device_scale_factor=1, color_scheme="light")
        page.goto(page_path.as_uri())
        page.wait_for_selector(".iw-ablation .iw-ablation-row")
        # bring the switched-off (greyed, crossed) thumbnails into the overview's view
        page.evaluate("""() => { const o = document.querySelector('.iw-overview');
            const t = document.querySelector('.iw-thumb.iw-ablated');
            o.scrollTop = t.offsetTop - o.offsetTop - 120; }""")
        page.wait_for_timeout(200)
        out = ROOT / "docs" / "attention_ablation.png"
        page.locator(".iw-attention").screenshot(path=str(out))
        print("wrote", out)
        browser.close()


if __name__ == "__main__":
    main()
