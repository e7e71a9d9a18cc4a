"""Real flows of the attribution widget in JupyterLab 4 and Notebook 7 (headless Chromium).

The first cell loads the embedded SmolLM2 and explains the first token of its greedy
continuation of the Eiffel Tower prompt; the test clicks a later continuation token in the
browser and checks that Python recomputed the attribution for it and that the DOM shows the
new scores.
"""

from __future__ import annotations

import json
import math
import re
import time

import pytest

pytestmark = pytest.mark.e2e

PROMPT = "The Eiffel Tower is located in the city of"

ATTRIBUTION_CELL = f"""\
import interp_widgets as iw
model = iw.load_model()
a = iw.attribute(model, {PROMPT!r}, method="input_x_gradient")
w = a.show()
w"""

PROBE_CELL = """\
print(w.target_position, repr(w.attribution.target), list(w.attribution.matrix[0][:5]))
import json as _json
print("JSON" + _json.dumps({
    "target_position": int(w.target_position),
    "target": str(w.attribution.target),
    "token": w.attribution.tokens[int(w.target_position)],
    "prompt_len": int(w.attribution.prompt_len),
    "tokens": list(w.attribution.tokens),
    "scores": [float(x) for x in w.attribution.matrix[0]],
}))"""

# First cell: a cold model cache converts the GGUF (~30 s on 2 cores); warm loads ~4 s.
FIRST_CELL_TIMEOUT_S = 180
RECOMPUTE_TIMEOUT_S = 120

# DOM hooks of the attribution view (js/src/views/attribution.ts).
ROOT = ".iw-attribution"
TOKEN = ".iw-token[data-index][data-value]"
CONT = ".iw-token.iw-cont[data-index]"
PROGRESS = ".iw-progress"
ERROR = ".iw-error"

_FLOAT = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf|nan"


def _dom_raw(root) -> dict[str, str]:
    """``data-index -> data-value`` (strings, as in the DOM) of every token span."""
    pairs = root.locator(TOKEN).evaluate_all(
        "els => els.map(e => [e.dataset.index, e.dataset.value])"
    )
    return dict(pairs)


def _dom_values(root) -> dict[int, float]:
    return {int(i): float(v) for i, v in _dom_raw(root).items()}


def _visible_text(s: str) -> str:
    """Undo the view's visible whitespace marks (· for space, ↵ for newline, → for tab)."""
    return s.replace("\u00b7", " ").replace("\u21b5", "\n").replace("\u2192", "\t")


def _same_3sig(a: float, b: float) -> bool:
    if a == b:
        return True
    if f"{a:.3g}" == f"{b:.3g}":
        return True
    # Rounding straddling a digit boundary (0.12349 vs 0.12351): fall back to tolerance.
    return math.isclose(a, b, rel_tol=1e-3, abs_tol=1e-9)


def _parse_probe(text: str) -> tuple[int, str, list[float], dict]:
    """Parse the probe cell's two lines: the human-readable one and the JSON one."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    first = lines[0]
    m = re.match(r"^(-?\d+)\s+(.*?)\s+\[(.*)\]\s*$", first)
    assert m, f"unexpected probe output: {first!r}"
    pos = int(m.group(1))
    target_repr = m.group(2)
    # numpy 2 prints np.float32(0.123); numpy 1 prints 0.123.
    values = [float(x) for x in re.findall(_FLOAT, re.sub(r"np\.float\d+", "", m.group(3)))]
    js = next(ln for ln in lines if ln.startswith("JSON"))
    return pos, target_repr, values, json.loads(js[4:])


def _wait_idle(page, root, timeout_s: float) -> None:
    """Wait until the view is not busy: root ``data-busy`` not "true", no visible progress."""
    page.wait_for_function(
        "el => el.dataset.busy !== 'true'", arg=root.element_handle(), timeout=timeout_s * 1000
    )
    root.locator(PROGRESS).first.wait_for(state="hidden", timeout=timeout_s * 1000)


def _assert_no_error(root) -> None:
    shown = root.locator(ERROR).evaluate_all(
        "els => els.filter(e => !e.hidden && e.offsetParent !== null && e.textContent.trim())"
        ".map(e => e.textContent)"
    )
    assert not shown, f"the view shows an error: {shown}"


def _wait_scores_changed(page, root, before_raw: dict[str, str], timeout_s: float) -> None:
    """Wait until some token's ``data-value`` differs from ``before_raw``."""
    page.wait_for_function(
        """([el, sel, before]) => [...el.querySelectorAll(sel)]
              .some(e => e.dataset.value !== before[e.dataset.index])""",
        arg=[root.element_handle(), TOKEN, before_raw],
        timeout=timeout_s * 1000,
    )


@pytest.mark.parametrize("ui", ["lab", "nb7"])
def test_attribution_click_recomputes(open_notebook, ui: str) -> None:
    nb = open_notebook(ui, [ATTRIBUTION_CELL, PROBE_CELL])
    t0 = time.monotonic()
    nb.run_cell(0, timeout_s=FIRST_CELL_TIMEOUT_S)
    t_first = time.monotonic() - t0

    root = nb.cell(0).locator(ROOT).first
    root.wait_for(state="visible", timeout=60_000)
    root.locator(TOKEN).first.wait_for(state="visible", timeout=30_000)
    _wait_idle(nb.page, root, RECOMPUTE_TIMEOUT_S)
    _assert_no_error(root)

    assert root.get_attribute("data-method") == "input_x_gradient"
    before_pos = int(root.get_attribute("data-target-position"))
    before_raw = _dom_raw(root)
    before = {int(i): float(v) for i, v in before_raw.items()}
    conts = root.locator(CONT)
    n_cont = conts.count()
    assert n_cont >= 3, f"expected the greedy continuation to be shown, got {n_cont} tokens"
    first_cont = int(conts.nth(0).get_attribute("data-index"))
    assert before_pos == first_cont, (before_pos, first_cont)
    assert any(v != 0 for v in before.values()), "all scores are zero"

    widget_output = nb.cell(0).locator(f".jp-OutputArea-output:has({ROOT})").first
    shot = nb.screenshot(widget_output, f"{ui}_attribution.png")
    assert shot.stat().st_size > 1000

    # Click the third continuation token (" France" for SmolLM2: " Paris", ",", " France").
    third = conts.nth(2)
    clicked = int(third.get_attribute("data-index"))
    clicked_text = _visible_text(third.inner_text())
    t1 = time.monotonic()
    third.click()
    nb.page.wait_for_function(
        "([el, pos]) => el.dataset.targetPosition === String(pos)",
        arg=[root.element_handle(), clicked],
        timeout=RECOMPUTE_TIMEOUT_S * 1000,
    )
    t_pos = time.monotonic() - t1
    # The view sets the position at once, before Python recomputes: wait for new scores too.
    _wait_scores_changed(nb.page, root, before_raw, RECOMPUTE_TIMEOUT_S)
    t_values = time.monotonic() - t1
    _wait_idle(nb.page, root, RECOMPUTE_TIMEOUT_S)
    t_click = time.monotonic() - t1
    _assert_no_error(root)
    assert int(root.get_attribute("data-target-position")) == clicked
    after = _dom_values(root)
    assert after != before, "DOM data-value attributes did not change after the click"

    nb.screenshot(widget_output, f"{ui}_attribution_clicked.png")

    out = nb.run_cell(1, timeout_s=60)
    pos, target_repr, first5, state = _parse_probe(out)
    assert pos == clicked == state["target_position"]
    token = state["token"]
    assert token.strip(), f"clicked an empty token {token!r}"
    assert token.strip() in state["target"], (token, state["target"])
    assert token.strip() in target_repr, (token, target_repr)
    assert clicked_text.strip() == token.strip(), (clicked_text, token)
    # The clicked token is " France" for the embedded SmolLM2's greedy continuation.
    assert state["tokens"][state["prompt_len"]:state["prompt_len"] + 3] == [" Paris", ",", " France"]
    assert token == " France"
    # Python's recomputed scores are the ones the DOM shows.
    assert len(first5) == 5
    for i, py in enumerate(first5):
        assert _same_3sig(py, after[i]), (i, py, after[i])
    for i, py in enumerate(state["scores"]):
        if i in after:
            assert _same_3sig(py, after[i]), (i, py, after[i])
    print(f"{ui}: first cell {t_first:.1f}s; after the click: position {t_pos:.1f}s, "
          f"new scores {t_values:.1f}s, idle {t_click:.1f}s")


def test_token_heatmap_renders_text_not_html(open_notebook) -> None:
    evil = '<img src=x onerror="window.__xss=1">'
    cell = (
        "import interp_widgets as iw\n"
        f"h = iw.TokenHeatmap(['a', ' b', {evil!r}], [1.0, -2.0, 0.5])\n"
        "h"
    )
    nb = open_notebook("lab", [cell])
    nb.run_cell(0, timeout_s=60)
    out = nb.cell(0).locator(".jp-OutputArea-output:has(.iw-token)").first
    tokens = out.locator(".iw-token")
    tokens.nth(2).wait_for(state="visible", timeout=30_000)
    assert tokens.count() == 3
    texts = [_visible_text(t) for t in tokens.all_text_contents()]
    assert texts[0] == "a"
    assert texts[1] == " b"
    assert texts[2] == evil
    assert out.locator("img").count() == 0
    nb.page.wait_for_timeout(500)  # an onerror handler would have fired by now
    assert nb.page.evaluate("() => window.__xss") is None
    nb.screenshot(out, "lab_token_heatmap_xss.png")


def test_attribution_method_selector_recomputes(open_notebook) -> None:
    """Choosing another method in the view's selector recomputes in Python (JupyterLab)."""
    probe = (
        "import json as _json\n"
        "print('JSON' + _json.dumps({'method': w.method, 'result_method': w.attribution.method,"
        " 'target_position': int(w.target_position),"
        " 'scores': [float(x) for x in w.attribution.matrix[0]]}))"
    )
    nb = open_notebook("lab", [ATTRIBUTION_CELL, probe])
    nb.run_cell(0, timeout_s=FIRST_CELL_TIMEOUT_S)
    root = nb.cell(0).locator(ROOT).first
    root.locator(TOKEN).first.wait_for(state="visible", timeout=60_000)
    _wait_idle(nb.page, root, RECOMPUTE_TIMEOUT_S)
    pos = int(root.get_attribute("data-target-position"))
    before_raw = _dom_raw(root)

    select = root.locator("select.iw-method")
    options = select.locator("option").evaluate_all("os => os.map(o => o.value)")
    assert "saliency" in options, options
    select.select_option("saliency")
    nb.page.wait_for_function(
        "el => el.dataset.method === 'saliency'", arg=root.element_handle(),
        timeout=RECOMPUTE_TIMEOUT_S * 1000,
    )
    _wait_scores_changed(nb.page, root, before_raw, RECOMPUTE_TIMEOUT_S)
    _wait_idle(nb.page, root, RECOMPUTE_TIMEOUT_S)
    _assert_no_error(root)
    after = _dom_values(root)

    out = nb.run_cell(1, timeout_s=60)
    state = json.loads(next(ln for ln in out.splitlines() if ln.startswith("JSON"))[4:])
    assert state["method"] == state["result_method"] == "saliency"
    assert state["target_position"] == pos == int(root.get_attribute("data-target-position"))
    # Saliency is a gradient norm: no negative scores.
    assert min(state["scores"]) >= 0
    for i, py in enumerate(state["scores"]):
        assert _same_3sig(py, after[i]), (i, py, after[i])


def test_token_heatmap_follows_lab_dark_theme(open_notebook, jupyter_server) -> None:
    """Switching JupyterLab to its dark theme recolours a live view (no re-run)."""
    cell = (
        "import interp_widgets as iw\n"
        "iw.TokenHeatmap(['The', ' cat', ' sat', ' on', ' the', ' mat'],"
        " [0.9, -0.5, 0.1, -1.0, 0.0, 0.6])"
    )
    nb = open_notebook("lab", [cell])
    nb.run_cell(0, timeout_s=60)
    out = nb.cell(0).locator(".jp-OutputArea-output:has(.iw-token)").first
    out.locator(".iw-token").nth(5).wait_for(state="visible", timeout=30_000)
    page = nb.page

    def colours() -> dict:
        return out.locator(".iw-root, .iw-heatmap").first.evaluate(
            """el => ({
                body: document.body.dataset.jpThemeLight,
                text: getComputedStyle(el).color,
                zero: getComputedStyle(el.querySelector('.iw-token[data-index="4"]')).backgroundColor,
                zeroText: getComputedStyle(el.querySelector('.iw-token[data-index="4"]')).color,
            })"""
        )

    def luminance(css: str) -> float:
        nums = [float(x) for x in re.findall(r"[\d.]+", css)[:3]]
        r, g, b = (v / 255 for v in nums)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    light = colours()
    assert light["body"] == "true", light
    settings = (jupyter_server.root_dir.parent / "lab-settings" / "@jupyterlab"
                / "apputils-extension" / "themes.jupyterlab-settings")
    try:
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Settings$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Theme$")).hover()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^JupyterLab Dark$")).click()
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'",
                               timeout=30_000)
        page.wait_for_function(
            """([el, before]) => getComputedStyle(el.querySelector('.iw-token[data-index="4"]'))
                 .backgroundColor !== before""",
            arg=[out.element_handle(), light["zero"]],
            timeout=30_000,
        )
        dark = colours()
        nb.screenshot(out, "lab_token_heatmap_dark.png")
        # The choice was saved as a user setting (removed again below).
        deadline = time.monotonic() + 10
        while not settings.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "Dark" in settings.read_text(), settings
        # The zero-valued token fades to the (dark) background, and text turns light.
        assert luminance(dark["zero"]) < 0.35 < luminance(light["zero"]), (light, dark)
        assert luminance(dark["text"]) > 0.5 > luminance(light["text"]), (light, dark)
        assert luminance(dark["zeroText"]) > 0.5, dark
    finally:
        # The theme is a user setting of the shared server: put the light theme back.
        settings.unlink(missing_ok=True)
