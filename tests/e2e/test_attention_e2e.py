"""The AttentionView in JupyterLab 4 (headless Chromium): the overview of every head, a click
on a thumbnail opens that head's full matrix (Python sends it), hovering a token highlights
what it attends to and what attends to it; switching the head off re-runs the model and
shows the next-token change (the same numbers as ``iw.ablate``); light and dark
screenshots."""

from __future__ import annotations

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

ABLATION_PROBE_CELL = f"""\
import json as _json
_a = v.ablation
_w = iw.ablate(model, {IOI!r}, heads=[tuple(h) for h in v.ablated_heads], mode=v.ablate_mode, k=8) if v.ablated_heads else None
print("JSON" + _json.dumps({{"heads": v.ablated_heads, "error": v.ablation_error, "busy": v.ablation_busy,
      "panel_heads": _a.get("heads"), "tokens": _a.get("tokens"),
      "probs": None if "probs" not in _a else _a["probs"].tolist(), "kl": _a.get("kl"),
      "want_tokens": _w and [t for t, _, _ in _w.table], "want_probs": _w and [[b, a] for _, b, a in _w.table],
      "want_kl": _w and _w.kl}}))"""

ROOT = ".iw-attention"
THUMB = ".iw-thumb[data-layer][data-head]"



def test_attention_view_click_and_hover(open_notebook) -> None:
    nb = open_notebook("lab", [VIEW_CELL, PROBE_CELL, DARK_CELL, ABLATION_PROBE_CELL])
    root = nb.show_view(0, ROOT, timeout_s=240)
    thumbs = root.locator(THUMB)
    thumbs.first.wait_for(state="visible", timeout=30_000)
    assert thumbs.count() == 30 * 9
    assert not root.locator(".iw-error:visible").count()
    out = nb.cell(0).locator(f".jp-OutputArea-output:has({ROOT})").first
    nb.screenshot(out, "lab_attention_overview.png")

    # open the strongest induction head (SmolLM2: layer 18, head 6)
    top = nb.run_json(1)["top_induction"][0]
    layer, head = int(top[0]), int(top[1])
    root.locator(f'.iw-thumb[data-layer="{layer}"][data-head="{head}"]').first.click()
    matrix = root.locator(f'.iw-head-matrix[data-layer="{layer}"][data-head="{head}"]').first
    matrix.wait_for(state="visible", timeout=30_000)
    state = nb.run_json(1)
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

    # switch that head off: Python re-runs the model and fills the before/after panel
    toggle = root.locator(f'.iw-detail-head .iw-ablate-toggle[data-layer="{layer}"][data-head="{head}"]').first
    assert toggle.get_attribute("aria-pressed") == "false"
    toggle.click()
    rows = root.locator(".iw-ablation .iw-ablation-row")
    rows.first.wait_for(state="visible", timeout=60_000)
    nb.page.wait_for_function("el => el.dataset.busy === 'false'",
                              arg=root.locator(".iw-ablation").first.element_handle(), timeout=60_000)
    assert toggle.get_attribute("aria-pressed") == "true"
    assert root.locator(f'.iw-thumb.iw-ablated[data-layer="{layer}"][data-head="{head}"]').count() == 1
    got = nb.run_json(3)
    assert got["heads"] == [[layer, head]] and got["panel_heads"] == [[layer, head]] and not got["error"]
    assert got["tokens"] == got["want_tokens"]
    flat = lambda rows: [x for row in rows for x in row]  # noqa: E731 (approx takes flat lists)
    assert flat(got["probs"]) == pytest.approx(flat(got["want_probs"]), rel=1e-4, abs=1e-6)
    assert got["kl"] == pytest.approx(got["want_kl"], rel=1e-4, abs=1e-7)
    dom = rows.evaluate_all("els => els.map(e => [e.dataset.token, +e.dataset.before, +e.dataset.after])")
    assert [d[0] for d in dom] == got["want_tokens"]
    assert flat(d[1:] for d in dom) == pytest.approx(flat(got["want_probs"]), rel=1e-4, abs=1e-6)
    nb.screenshot(out, "lab_attention_ablation.png")

    # switch it back on: the panel clears
    toggle.click()
    nb.page.wait_for_function("el => el.querySelectorAll('.iw-ablation-row').length === 0",
                              arg=root.locator(".iw-ablation").first.element_handle(), timeout=30_000)
    assert nb.run_json(3)["heads"] == []

    nb.run_cell(2, timeout_s=30)
    nb.page.wait_for_timeout(500)
    nb.screenshot(out, "lab_attention_head_dark.png")
