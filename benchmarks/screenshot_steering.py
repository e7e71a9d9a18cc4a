"""Screenshots of the SteeringPlayground on SmolLM2 (docs/steering_light.png, steering_dark.png).

    .venv/bin/python benchmarks/screenshot_steering.py

A happy - sad steering vector at layer 15 (the texts of tests/integration/test_steering_smollm2.py),
the prompt "I think that today is", greedy, 20 tokens, c = +6: generated in Python, exported
with ``to_html`` (the static page shows the last texts, controls disabled) and opened in
Debian's headless Chromium, light and dark.
Prints the texts and the generation time.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import interp_widgets as iw  # noqa: E402
from interp_widgets.views.steering import SteeringPlayground  # noqa: E402

# The texts of tests/integration/test_steering_smollm2.py.
HAPPY = ["I love this, it makes me so happy.", "What a wonderful, joyful day!", "She smiled with delight.",
         "We had a great time, it was fantastic.", "This is the best news ever, I am thrilled."]
SAD = ["I hate this, it makes me so sad.", "What a terrible, miserable day.", "She cried with grief.",
       "We had an awful time, it was horrible.", "This is the worst news ever, I am devastated."]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PROMPT = "I think that today is"


def main() -> None:
    from playwright.sync_api import sync_playwright

    model = iw.load_model()
    v = iw.steering_vector(model, HAPPY, SAD, layer=15)
    print(v)
    pg = SteeringPlayground(model, v, prompt=PROMPT, coefficient=6.0, max_tokens=20)
    t = time.perf_counter()
    base, steered = pg.run()
    print(f"generated 2 x 20 tokens in {time.perf_counter() - t:.1f} s")
    print("baseline:", repr(base))
    print("steered: ", repr(steered), "differs from token", pg.divergence)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for theme in ("light", "dark"):
            pg.theme = theme
            path = pg.to_html(Path(tmp) / f"steering_{theme}.html")
            page = browser.new_page(viewport={"width": 980, "height": 700}, device_scale_factor=1,
                                    color_scheme=theme)
            page.goto(path.as_uri())
            page.wait_for_selector(".iw-steer .iw-steered .iw-gen")
            out = ROOT / "docs" / f"steering_{theme}.png"
            page.locator(".iw-steer").screenshot(path=str(out))
            print("wrote", out)
            page.close()
        browser.close()


if __name__ == "__main__":
    main()
