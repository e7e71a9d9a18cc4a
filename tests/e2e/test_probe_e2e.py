"""The ProbeView in JupyterLab 4 (headless Chromium): linear probes of SmolLM2 (numbers vs
animals sentences, as in the demo). Typing a sentence and pressing "Apply probe" makes Python
apply the selected layer's probe to every token and send the probabilities back; the page
shows one coloured token per token of Python's, and its "last token" line is Python's
prediction. Clicking another layer in the accuracy chart makes Python re-apply that layer's
probe to the same sentence."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.e2e

ROOT = ".iw-probe"
TEXT = "Twelve owls counted nine mice."

VIEW_CELL = """\
import interp_widgets as iw
from interp_widgets.cli import NUMBERS, ANIMALS
model = iw.load_model()
p = iw.probe(model, NUMBERS + ANIMALS, ["numbers"] * len(NUMBERS) + ["animals"] * len(ANIMALS))
v = p.show()
v"""

PROBE_CELL = """\
import json as _json
_P = v.predictions
print("JSON" + _json.dumps({"tokens": list(v.tokens), "layer": v.selected_layer, "text": v.text,
      "error": v.error, "classes": list(v.classes), "layers": [int(x) for x in v.layers],
      "last": [float(x) for x in _P[-1]] if len(_P) else None}))"""



def _check_page_shows(root, state: dict) -> None:
    tokens = root.locator(".iw-pred-body .iw-token")
    assert tokens.count() == len(state["tokens"])
    best = max(range(len(state["classes"])), key=lambda c: state["last"][c])
    last = root.locator(".iw-last").inner_text()
    assert state["classes"][best] in last, (last, state)
    assert float(last.split()[-1]) == pytest.approx(state["last"][best], abs=1e-3), (last, state)
    assert f"layer {state['layer']} " in root.locator(".iw-section-title").nth(1).inner_text().lower()


def test_probe_apply_text_and_switch_layer(open_notebook) -> None:
    nb = open_notebook("lab", [VIEW_CELL, PROBE_CELL])
    root = nb.show_view(0, ROOT, timeout_s=300)
    assert root.get_attribute("data-interactive") == "true"
    assert root.locator(".iw-pred-body .iw-token").count() == 0  # no text applied yet

    # Type a sentence and apply: Python computes the probe at every token.
    root.locator("input.iw-probe-input").fill(TEXT)
    root.locator("button.iw-probe-run").click()
    nb.page.wait_for_function(
        "el => el.dataset.busy === 'false' && el.querySelectorAll('.iw-pred-body .iw-token').length > 0",
        arg=root.element_handle(), timeout=120_000)
    state = nb.run_json(1)
    assert state["error"] == "" and state["text"] == TEXT and state["last"] is not None
    assert "".join(state["tokens"]) == TEXT
    _check_page_shows(root, state)
    first_layer = state["layer"]

    # Click another layer in the chart: Python re-applies that layer's probe to the text.
    other = next(layer for layer in reversed(state["layers"]) if layer != first_layer)
    root.locator(f'rect.iw-hit[data-layer="{other}"]').dispatch_event("click")
    nb.page.wait_for_function(f"el => el.dataset.selectedLayer === '{other}' && el.dataset.busy === 'false'",
                              arg=root.element_handle(), timeout=120_000)
    # The page marks the new layer as soon as it is clicked, before Python has answered: ask
    # Python until its predictions are the new layer's (once, in a CI run under load, the
    # first read still held the old ones), for at most 30 s.
    deadline = time.monotonic() + 30
    state2 = nb.run_json(1)
    while state2["last"] == state["last"] and time.monotonic() < deadline:
        nb.page.wait_for_timeout(500)
        state2 = nb.run_json(1)
    assert state2["layer"] == other and state2["error"] == "" and state2["tokens"] == state["tokens"]
    assert state2["last"] != state["last"]  # another layer's probe, another prediction
    nb.page.wait_for_function("el => el.dataset.busy === 'false'", arg=root.element_handle(), timeout=60_000)
    _check_page_shows(root, state2)

    out = nb.cell(0).locator(f".jp-OutputArea-output:has({ROOT})").first
    nb.screenshot(out, "lab_probe_applied.png")
