"""The PatchingView in JupyterLab 4 (headless Chromium): SmolLM2 patched on the IOI pair, a
click on a heatmap cell makes Python run that patched model again, and the view lists its top
next tokens; the probe cell checks that the browser's selection and list are Python's."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

CLEAN = "When Mary and John went to the store, John gave a drink to"
CORRUPT = "When John and Mary went to the store, Mary gave a drink to"

VIEW_CELL = f"""\
import interp_widgets as iw
model = iw.load_model()
r = iw.patch(model, {CLEAN!r}, {CORRUPT!r}, (" Mary", " John"), progress=False)
v = r.show()
v"""

PROBE_CELL = """\
import json as _json
print("JSON" + _json.dumps({"selected": list(v.selected_cell), "top_cell": list(v.top_cell),
      "tokens": list(v.top_tokens), "probs": [float(p) for p in v.top_probs],
      "value": float(r.values[4, 9]), "token": r.clean_tokens[9], "error": v.error}))"""

ROOT = ".iw-patching"
GRID = "canvas.iw-patch-grid"
# The second " John" (index 9 of SmolLM2's tokens; no BOS) at layer 4: measured +0.88.
LAYER, POSITION = 4, 9



def test_patching_click_shows_top_tokens(open_notebook) -> None:
    nb = open_notebook("lab", [VIEW_CELL, PROBE_CELL])
    root = nb.show_view(0, ROOT, timeout_s=240)
    grid = root.locator(GRID).first
    grid.wait_for(state="visible", timeout=30_000)
    assert not root.locator(".iw-error:visible").count()
    assert root.locator(".iw-layer[data-layer]").count() == 30
    label = root.locator(f'.iw-token[data-index="{POSITION}"] .iw-patch-clean-tok').first
    assert label.inner_text() == "\u00b7John"

    # Hover, then click the cell at (layer 4, ' John') by its size in CSS pixels.
    cw = float(grid.get_attribute("data-cell-width"))
    ch = float(grid.get_attribute("data-cell-height"))
    at = {"x": (POSITION + 0.5) * cw, "y": (LAYER + 0.5) * ch}
    grid.hover(position=at)
    tip = root.locator(".iw-tooltip").first
    tip.wait_for(state="visible", timeout=10_000)
    assert tip.inner_text().splitlines()[0] == "L4 · ' John' : +0.88"
    grid.click(position=at)
    items = root.locator(
        f'.iw-patch-cell[data-layer="{LAYER}"][data-position="{POSITION}"] .iw-top-token')
    items.first.wait_for(state="visible", timeout=120_000)
    nb.page.wait_for_function("el => el.dataset.busy === 'false'", arg=root.element_handle(),
                              timeout=60_000)
    assert not root.locator(".iw-error:visible").count()

    state = nb.run_json(1)
    assert state["error"] == ""
    assert state["selected"] == state["top_cell"] == [LAYER, POSITION, -1]
    assert state["token"] == " John" and round(state["value"], 2) == 0.88
    dom = items.evaluate_all("els => els.map(e => [e.dataset.token, Number(e.dataset.prob)])")
    assert [t for t, _ in dom] == state["tokens"] and len(dom) == 10
    for (_, p_dom), p_py in zip(dom, state["probs"]):
        assert abs(p_dom - p_py) < 1e-6
    # Patching layer 4's residual stream at the second name restores the clean answer.
    assert state["tokens"][0] == " Mary"

    out = nb.cell(0).locator(f".jp-OutputArea-output:has({ROOT})").first
    nb.screenshot(out, "lab_patching_clicked.png")
