"""The NeuronPanel in JupyterLab 4 (headless Chromium): SmolLM2's layer-9 neuron 720 on a
sentence, with its top contexts from 30 stdlib docstrings. Clicking a token of the sentence
makes Python list the most active neurons there; the page shows Python's list. Clicking one
of them makes Python recompute the whole panel for that neuron (same texts and corpus); the
probe cell checks that the page and Python agree on which neuron is shown."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

ROOT = ".iw-neuron"
TEXT = "The result is the sum of the parts."

VIEW_CELL = f"""\
import interp_widgets as iw
model = iw.load_model()
r = iw.neuron(model, [{TEXT!r}], layer=9, index=720, corpus=iw.stdlib_docstrings(max_texts=30), progress=False)
v = r.show()
v"""

PROBE_CELL = """\
import json as _json
print("JSON" + _json.dumps({"selected": list(v.selected_token), "layer": v.layer, "index": v.index,
      "result": [v.result.layer, v.result.index], "n_examples": len(v.result.examples),
      "neurons": [[d["layer"], d["index"]] for d in v.neuron_list], "tokens": list(v.text_tokens[0]),
      "busy": v.busy, "error": v.error}))"""



def test_neuron_panel_token_then_neuron(open_notebook) -> None:
    nb = open_notebook("lab", [VIEW_CELL, PROBE_CELL])
    root = nb.show_view(0, ROOT, timeout_s=300)
    assert root.get_attribute("data-layer") == "9" and root.get_attribute("data-index") == "720"
    state = nb.run_json(1)
    pos = state["tokens"].index(" is")

    # Click " is" in the sentence: Python lists the most active neurons at that token.
    root.locator(f'.iw-text-row[data-row="0"] .iw-token[data-index="{pos}"]').first.click()
    items = root.locator(".iw-neuron-item")
    items.first.wait_for(state="visible", timeout=60_000)
    state = nb.run_json(1)
    assert state["selected"] == [0, pos] and state["error"] == ""
    dom = items.evaluate_all("els => els.map(e => [Number(e.dataset.layer), Number(e.dataset.index)])")
    assert dom == state["neurons"] and len(dom) > 0

    # Click another neuron of that list: Python recomputes the panel for it.
    layer, index = next(n for n in dom if n != [9, 720])
    root.locator(f'.iw-neuron-item[data-layer="{layer}"][data-index="{index}"]').first.click()
    nb.page.wait_for_function(
        f"el => el.dataset.layer === '{layer}' && el.dataset.index === '{index}' && el.dataset.busy === 'false'",
        arg=root.element_handle(), timeout=180_000)
    assert not root.locator(".iw-error:visible").count()
    state = nb.run_json(1)
    assert [state["layer"], state["index"]] == state["result"] == [layer, index]
    assert state["n_examples"] > 0 and not state["busy"] and state["error"] == ""
    title = root.locator(".iw-title").first.inner_text()
    assert f"L{layer}" in title and str(index) in title, title
    out = nb.cell(0).locator(f".jp-OutputArea-output:has({ROOT})").first
    nb.screenshot(out, "lab_neuron_retargeted.png")
