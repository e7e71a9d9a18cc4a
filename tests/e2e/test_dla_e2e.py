"""The DirectLogitAttributionView in JupyterLab 4 (headless Chromium): SmolLM2's logit
difference ' Mary' - ' John' on the IOI prompt split into heads, MLPs and the rest. The view's
sum check holds; hovering the head with the largest contribution shows Python's number, and a
click selects that head in Python (``selected_layer``/``selected_head``, what ``iw.linked``
listens to); a second click clears it."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

PROMPT = "When Mary and John went to the store, John gave a drink to"
ROOT = ".iw-dla"
CELL_W, ROW_H = 30, 16  # dla.ts: CELL_W, ROW_H (CSS pixels)

VIEW_CELL = f"""\
import interp_widgets as iw
import numpy as np
model = iw.load_model()
r = iw.direct_logit_attribution(model, {PROMPT!r}, (" Mary", " John"))
v = r.show()
v"""

PROBE_CELL = """\
import json as _json
_l, _h = np.unravel_index(np.abs(r.heads).argmax(), r.heads.shape)
print("JSON" + _json.dumps({"top": [int(_l), int(_h)], "value": float(r.heads[_l, _h]),
      "selected": [v.selected_layer, v.selected_head], "error": v.error}))"""



def test_dla_hover_and_select_head(open_notebook) -> None:
    nb = open_notebook("lab", [VIEW_CELL, PROBE_CELL])
    root = nb.show_view(0, ROOT, timeout_s=240)
    assert root.locator(".iw-dla-layer").count() == 30
    assert root.locator(".iw-dla-check").first.get_attribute("data-ok") == "true"

    state = nb.run_json(1)
    assert state["selected"] == [-1, -1] and state["error"] == ""
    (layer, head), value = state["top"], state["value"]
    canvas = root.locator("canvas.iw-dla-heads").first
    at = {"x": (head + 0.5) * CELL_W, "y": (layer + 0.5) * ROW_H}
    canvas.hover(position=at)
    tip = root.locator(".iw-tooltip").first
    tip.wait_for(state="visible", timeout=10_000)
    sign = "-" if value < 0 else "+"
    assert tip.inner_text().splitlines()[0] == f"L{layer}H{head}: {sign}{abs(value):.3f}"

    canvas.click(position=at)
    nb.page.wait_for_timeout(500)
    assert nb.run_json(1)["selected"] == [layer, head]
    out = nb.cell(0).locator(f".jp-OutputArea-output:has({ROOT})").first
    nb.screenshot(out, "lab_dla_selected.png")
    canvas.click(position=at)  # a second click clears the selection
    nb.page.wait_for_timeout(500)
    assert nb.run_json(1)["selected"] == [-1, -1]
