"""The SteeringPlayground in JupyterLab 4 (headless Chromium): SmolLM2 with a happy - sad
vector at layer 15, greedy, 12 tokens. Generate streams both columns; moving the slider to
its end (keyboard, as a person would) regenerates the steered column, which then differs from
the baseline and from the text before; Stop ends a long generation early; a NaN coefficient
typed in the box is a visible error. Probe cells check that Python's traits are what the
browser shows, that no hook of ours is left on the model and that no generation thread runs.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

HAPPY = ["I love this, it makes me so happy.", "What a wonderful, joyful day!", "She smiled with delight.",
         "We had a great time, it was fantastic.", "This is the best news ever, I am thrilled."]
SAD = ["I hate this, it makes me so sad.", "What a terrible, miserable day.", "She cried with grief.",
       "We had an awful time, it was horrible.", "This is the worst news ever, I am devastated."]
PROMPT = "I think that today is"

VIEW_CELL = f"""\
import interp_widgets as iw
model = iw.load_model()
vec = iw.steering_vector(model, {HAPPY!r}, {SAD!r}, layer=15)
pg = iw.SteeringPlayground(model, vec, prompt={PROMPT!r}, coefficient=1.0, max_tokens=12)
pg"""

PROBE_CELL = """\
import json as _json, threading as _th
_ours = [n for n, mod in model.hf.named_modules()
         for fn in list(mod._forward_hooks.values()) + list(mod._forward_pre_hooks.values())
         if getattr(fn, "__module__", "").startswith("interp_widgets")]
print("JSON" + _json.dumps({"baseline": pg.baseline_tokens, "steered": pg.steered_tokens,
      "coefficient": pg.coefficient, "generated_coefficient": pg.generated_coefficient,
      "generation": pg.generation, "busy": pg.busy, "stopped": pg.stopped, "error": pg.error,
      "max_tokens": pg.max_tokens, "hooks": _ours,
      "threads": [t.name for t in _th.enumerate() if t.name == "iw-steering"]}))"""

ROOT = ".iw-steer"



def _wait_done(nb, root, generation: int, count: int | None, timeout_s: float = 240) -> None:
    """Until generation `generation` finished (busy false) with `count` steered tokens."""
    nb.page.wait_for_function(
        """([el, g, n]) => el.dataset.generation === String(g) && el.dataset.busy === 'false'
             && (n === null || el.dataset.steeredCount === String(n))""",
        arg=[root.element_handle(), generation, count], timeout=timeout_s * 1000)


def _texts(root) -> tuple[list[str], list[str]]:
    get = "els => els.map(e => e.textContent)"
    return (root.locator(".iw-baseline .iw-gen").evaluate_all(get),
            root.locator(".iw-steered .iw-gen").evaluate_all(get))


def test_steering_slider_regenerates_and_stop(open_notebook) -> None:
    nb = open_notebook("lab", [VIEW_CELL, PROBE_CELL])
    root = nb.show_view(0, ROOT, timeout_s=240)
    assert root.locator(".iw-empty").first.inner_text() == "Nothing generated yet: press Generate."

    # 1. Generate at c = +1: both columns stream to 12 tokens.
    root.locator("button.iw-go").click()
    nb.page.wait_for_function("el => Number(el.dataset.steeredCount) > 0", arg=root.element_handle(),
                              timeout=120_000)
    _wait_done(nb, root, 1, 12)
    base1, steer1 = _texts(root)
    assert len(base1) == 12 and len(steer1) == 12
    assert root.locator(".iw-steered .iw-col-title").inner_text() == "steered (c = +1)"
    state = nb.run_json(1)
    assert state["baseline"] == base1 and state["steered"] == steer1
    assert state["hooks"] == [] and state["threads"] == [] and state["error"] == ""

    # 2. Move the slider to its end with the keyboard: the steered text is generated again.
    slider = root.locator("input.iw-slider")
    slider.focus()
    nb.page.keyboard.press("End")
    _wait_done(nb, root, 2, None)
    base2, steer2 = _texts(root)
    assert root.locator("input.iw-coef").input_value() == "10"
    assert root.locator(".iw-steered .iw-col-title").inner_text() == "steered (c = +10)"
    assert base2 == base1  # greedy: the baseline does not change
    assert "".join(steer2) != "".join(steer1) and "".join(steer2) != "".join(base2)
    d = int(root.get_attribute("data-divergence"))
    assert d >= 0 and root.locator(".iw-steered .iw-gen.iw-diverged").count() == len(steer2) - d
    state = nb.run_json(1)
    assert state["coefficient"] == state["generated_coefficient"] == 10.0
    assert state["steered"] == steer2 and state["baseline"] == base2 and state["generation"] == 2
    assert state["hooks"] == [] and state["threads"] == [] and not state["busy"]
    out = nb.cell(0).locator(f".jp-OutputArea-output:has({ROOT})").first
    nb.screenshot(out, "lab_steering.png")

    # 3. Stop a long generation early.
    mt = root.locator("input.iw-max-tokens")
    mt.fill("200")
    root.locator("button.iw-go").click()
    nb.page.wait_for_function(
        "el => el.dataset.generation === '3' && Number(el.dataset.steeredCount) >= 3",
        arg=root.element_handle(), timeout=120_000)
    root.locator("button.iw-stop").click()
    _wait_done(nb, root, 3, None, timeout_s=60)
    assert root.get_attribute("data-stopped") == "true"
    n = int(root.get_attribute("data-steered-count"))
    assert 3 <= n < 200
    state = nb.run_json(1)
    assert state["stopped"] and state["max_tokens"] == 200 and len(state["steered"]) == n
    assert state["hooks"] == [] and state["threads"] == []

    # 4. A NaN coefficient typed in the box: a visible error, nothing started.
    coef = root.locator("input.iw-coef")
    coef.fill("nan")
    coef.press("Enter")
    err = root.locator(".iw-error:visible")
    err.wait_for(timeout=30_000)
    assert "coefficient must be a finite number" in err.inner_text()
    state = nb.run_json(1)
    assert state["generation"] == 3 and state["coefficient"] == 10.0 and not state["busy"]
    assert "finite" in state["error"] and state["hooks"] == []
