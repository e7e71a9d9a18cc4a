"""The LogitLensView in JupyterLab 4 (headless Chromium): SmolLM2's logit lens on the Eiffel
prompt. Typing " Paris" in the track box makes Python compute that token's rank at every
layer and position; the view switches to track mode and lists it. Clicking a token column
selects it in Python. The probe cell checks that Python's state is what the page shows."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

PROMPT = "The Eiffel Tower is located in the city of"
ROOT = ".iw-lens"

VIEW_CELL = f"""\
import interp_widgets as iw
model = iw.load_model()
lens = iw.logit_lens(model, {PROMPT!r})
v = lens.show()
v"""

PROBE_CELL = """\
import json as _json
_t = lens.tracked
print("JSON" + _json.dumps({"labels": list(v.tracked_labels), "mode": v.mode, "error": v.error,
      "selected": v.selected_token, "tokens": list(v.tokens),
      "final_rank": int(_t[-1].rank[-1, -1]) if _t else None,
      "first_rank": int(_t[-1].rank[0, -1]) if _t else None}))"""



def test_logit_lens_track_and_select(open_notebook) -> None:
    nb = open_notebook("lab", [VIEW_CELL, PROBE_CELL])
    root = nb.show_view(0, ROOT, timeout_s=240)
    assert root.get_attribute("data-mode") == "top"
    assert root.get_attribute("data-interactive") == "true"

    # Type a token to track: Python computes its rank through the layers.
    root.locator("input.iw-track").first.fill(" Paris")
    root.locator("button.iw-track-go").first.click()
    nb.page.wait_for_function("el => el.dataset.mode === 'track' && el.dataset.busy === 'false'",
                              arg=root.element_handle(), timeout=120_000)
    assert not root.locator(".iw-error:visible").count()
    state = nb.run_json(1)
    assert state["error"] == "" and state["mode"] == "track"
    assert any("Paris" in label for label in state["labels"])
    # The model's answer: " Paris" is the top token after the last layer, not after the first.
    assert state["final_rank"] == 0 and state["first_rank"] > 0
    options = root.locator("select.iw-track-select option").all_inner_texts()
    assert any("Paris" in o for o in options), options

    # Click the token column of " Tower": Python's selected_token follows.
    index = state["tokens"].index(" Tower")
    root.locator(f'.iw-cols .iw-token[data-index="{index}"]').first.click()
    nb.page.wait_for_function(f"el => el.dataset.selected === '{index}'", arg=root.element_handle(),
                              timeout=30_000)
    assert nb.run_json(1)["selected"] == index

    out = nb.cell(0).locator(f".jp-OutputArea-output:has({ROOT})").first
    nb.screenshot(out, "lab_logit_lens_tracked.png")
