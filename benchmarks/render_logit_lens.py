"""Screenshots of the LogitLensView on SmolLM2 for the docs (light and dark).

    .venv/bin/python benchmarks/render_logit_lens.py [--out docs]

Runs ``iw.logit_lens`` on the Eiffel prompt with " Paris" tracked, exports one page with the
view twice (top-1 mode, then track mode), opens it in Debian's Chromium, hovers a cell of the
first view (top-k tooltip) and writes ``logit_lens_{light,dark}.png``. Also prints the time
to a painted page.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.render_heatmap import ARGS, CHROMIUM  # noqa: E402
import interp_widgets as iw  # noqa: E402
from interp_widgets.export import to_html  # noqa: E402

PROMPT = "The Eiffel Tower is located in the city of"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs")
    args = ap.parse_args()
    lens = iw.logit_lens(iw.load_model(), PROMPT, k=10, track=" Paris")
    top, tracked = lens.show(), lens.show(mode="track")

    from playwright.sync_api import sync_playwright

    out = Path(args.out)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        path = to_html([top, tracked], Path(tmp) / "lens.html", title="Logit lens")
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for scheme in ("light", "dark"):
            page = browser.new_page(viewport={"width": 1000, "height": 600}, color_scheme=scheme,
                                    device_scale_factor=1)
            page.goto(path.as_uri())
            page.wait_for_selector("html[data-iw-ready='1']", timeout=30_000)
            print(scheme, f"render {page.evaluate('window.__iw_render_ms'):.0f} ms")
            # Hover the cell at layer 23 ("row 24"), last position: " Paris" is rising there.
            stage = page.locator(".iw-lens").first.locator(".iw-stage")
            box = stage.bounding_box()
            n_pos = len(lens.tokens)
            row_from_top = len(lens.layers) - 1 - 24
            page.mouse.move(box["x"] + (n_pos - 1) * 64 + 30, box["y"] + row_from_top * 20 + 10)
            page.wait_for_selector(".iw-tooltip:not([hidden])")
            page.screenshot(path=str(out / f"logit_lens_{scheme}.png"), full_page=True)
            page.close()
        browser.close()


if __name__ == "__main__":
    main()
