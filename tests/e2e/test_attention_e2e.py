"""The AttentionView in JupyterLab 4 (headless Chromium): the overview of every head, a click
on a thumbnail opens that head's full matrix (Python sends it), hovering a token highlights
what it attends to and what attends to it; light and dark screenshots."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.e2e

IOI = "When Mary and John went to the store, John gave a drink to"

VIEW_CELL = f"""\
import interp_widgets as iw
model = iw.load_model()
r = iw.attention(model, {IOI!r})
v = r.show()
v"""

PROBE_CELL = """\
import json as _json
hp = v.head_pattern
print("JSON" + _json.dumps({"layer": int(v.selected_layer), "head": int(v.selected_head),
      "shape": None if hp is None else list(hp.shape), "n": len(r.tokens),
      "selected_token": int(v.selected_token),
      "top_induction": [list(map(float, t)) for t in r.top_heads("induction", 1)]}))"""

DARK_CELL = "v.theme = 'dark'"

ROOT = ".iw-attention"
THUMB = ".iw-thumb[data-layer][data-head]"


def _probe(nb, index: int) -> dict:
    out = nb.run_cell(index, timeout_s=60)
    line = next(ln for ln in out.splitlines() if ln.startswith("JSON"))
    return json.loads(line[4:])


def test_attention_view_click_and_hover(open_notebook) -> None:
    nb = open_notebook("lab", [VIEW_CELL, PROBE_CELL, DARK_CELL])
    nb.run_cell(0, timeout_s=240)
    root = nb.cell(0).locator(ROOT).first
    root.wait_for(state="visible", timeout=60_000)
    thumbs = root.locator(THUMB)
    thumbs.first.wait_for(state="visible", timeout=30_000)
    assert thumbs.count() == 30 * 9
    assert not root.locator(".iw-error:visible").count()
    out = nb.cell(0).locator(f".jp-OutputArea-output:has({ROOT})").first
    nb.screenshot(out, "lab_attention_overview.png")

    # open the strongest induction head (SmolLM2: layer 18, head 6)
    top = _probe(nb, 1)["top_induction"][0]
    layer, head = int(top[0]), int(top[1])
    root.locator(f'.iw-thumb[data-layer="{layer}"][data-head="{head}"]').first.click()
    matrix = root.locator(f'.iw-head-matrix[data-layer="{layer}"][data-head="{head}"]').first
    matrix.wait_for(state="visible", timeout=30_000)
    state = _probe(nb, 1)
    assert (state["layer"], state["head"]) == (layer, head)
    assert state["shape"] == [state["n"], state["n"]], "Python did not send the selected head in full"
    labels = matrix.locator(".iw-token[data-index]")
    assert labels.count() >= state["n"]
    texts = labels.evaluate_all("els => els.map(e => e.textContent)")
    assert any("Mary" in t for t in texts) and any("John" in t for t in texts)

    # hover the second " John" (index of the last " John" label): highlights appear
    john = [i for i, t in enumerate(texts) if "John" in t]
    labels.nth(john[-1]).hover()
    nb.page.wait_for_function("el => el.querySelectorAll('.iw-hl').length > 0",
                              arg=matrix.element_handle(), timeout=10_000)
    nb.screenshot(out, "lab_attention_head.png")

    nb.run_cell(2, timeout_s=30)
    nb.page.wait_for_timeout(500)
    nb.screenshot(out, "lab_attention_head_dark.png")
