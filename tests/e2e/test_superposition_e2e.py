"""The SuperpositionView in JupyterLab 4 (headless Chromium): the toy model of superposition
(5 features, 2 hidden dimensions). At sparsity 0.9 it stores all five features as a pentagon;
moving the sparsity slider to 0 (dense features) makes Python retrain, and the trained model
keeps only as many features as it has dimensions. The page's "represented" count, its
arrows and its slider follow Python's state."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

ROOT = ".iw-superposition"

VIEW_CELL = """\
import interp_widgets as iw
v = iw.toy.superposition(n_features=5, n_hidden=2, sparsity=0.9).show()
v"""

PROBE_CELL = """\
import json as _json
print("JSON" + _json.dumps({"sparsity": v.sparsity, "represented": v.n_represented, "error": v.error,
      "busy": v.busy, "norms": [float(x) for x in v.norms]}))"""



def _page_represented(root) -> str:
    return root.locator(".iw-sp-represented .iw-v").inner_text()


def test_superposition_slider_retrains(open_notebook) -> None:
    nb = open_notebook("lab", [VIEW_CELL, PROBE_CELL])
    root = nb.show_view(0, ROOT, timeout_s=240)
    assert root.get_attribute("data-interactive") == "true"
    assert not root.locator(".iw-error:visible").count()
    state = nb.run_json(1)
    assert state["represented"] == 5 and state["error"] == ""  # sparse: a pentagon
    assert _page_represented(root) == "5 of 5"
    assert root.locator(".iw-sp-arrow:not(.iw-sp-dropped)").count() == 5

    # Drag the sparsity slider to dense features and let go: Python retrains.
    root.locator(".iw-sp-sparsity input[type=range]").evaluate(
        "el => { el.value = el.min; el.dispatchEvent(new Event('input', {bubbles: true}));"
        " el.dispatchEvent(new Event('change', {bubbles: true})); }")
    nb.page.wait_for_function(
        "el => el.dataset.busy === 'false' && !el.querySelector('.iw-sp-represented').textContent.includes('5 of 5')",
        arg=root.element_handle(), timeout=120_000)
    state = nb.run_json(1)
    assert state["sparsity"] == 0.0 and state["error"] == "" and not state["busy"]
    assert state["represented"] == 2  # dense features: one per hidden dimension
    assert _page_represented(root) == f"{state['represented']} of 5"
    assert root.locator(".iw-sp-arrow:not(.iw-sp-dropped)").count() == state["represented"]

    out = nb.cell(0).locator(f".jp-OutputArea-output:has({ROOT})").first
    nb.screenshot(out, "lab_superposition_dense.png")
