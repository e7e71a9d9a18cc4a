"""The FeatureDashboard in JupyterLab 4 (headless Chromium): SmolLM2 with a small TopK SAE
on ``blocks.8.hook_resid_post`` (the one that ships with the package, loaded from its
folder), a dashboard over 100 docstrings. A click on a feature of the list makes
Python send its examples; the probe cell checks that Python's ``selected_feature`` and
examples are what the page shows. Prompt mode: type a text, click a token, click one of its
listed features, and that feature opens."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = ".iw-features"
PROMPT = "Return the number of items in the list."


@pytest.fixture(scope="session")
def sae_folder() -> Path:
    """The SAE that ships with the package (``iw.load_sae()``; ``IW_E2E_SAE`` may point at
    another SAELens folder on the same hook)."""
    given = os.environ.get("IW_E2E_SAE")
    if given and (Path(given) / "cfg.json").is_file():
        return Path(given)
    from interp_widgets.sae import default_sae_path

    return default_sae_path()


def _view_cell(folder: Path) -> str:
    return f"""\
import interp_widgets as iw
model = iw.load_model()
sae = iw.SAE.load({str(folder)!r})
feats = iw.sae_features(model, sae, iw.stdlib_docstrings(max_texts=300)[200:300], progress=False)
v = feats.show()
v"""


PROBE_CELL = """\
import json as _json
_ex = v.feature_examples or {}
print("JSON" + _json.dumps({"selected": v.selected_feature, "tokens": _ex.get("tokens", []),
      "acts": [d["activation"] for d in _ex.get("info", [])], "max_pos": [d["max_pos"] for d in _ex.get("info", [])],
      "stats": v.feature_stats, "prompt": v.prompt, "prompt_tokens": list(v.prompt_tokens), "error": v.error}))"""



def _display(tok: str) -> str:
    """Python twin of tokens.ts displayToken."""
    if tok == "":
        return "∅"
    if not re.search(r"\s", tok):
        return tok
    s = re.sub(r"\r\n|\r|\n", "↵", tok).replace("\t", "→")
    m = re.fullmatch(r"( *)(.*?)( *)", s, re.S)
    return "·" * len(m.group(1)) + m.group(2) + "·" * len(m.group(3))


def _wait_idle(nb, root) -> None:
    nb.page.wait_for_function("el => el.dataset.busy === 'false'", arg=root.element_handle(), timeout=60_000)


def test_open_a_feature_and_prompt_mode(open_notebook, sae_folder) -> None:
    nb = open_notebook("lab", [_view_cell(sae_folder), PROBE_CELL])
    root = nb.show_view(0, ROOT, timeout_s=600)
    assert root.locator(".iw-fl-count").inner_text() == "1024 features"
    rows = root.locator(".iw-fl-row")
    assert 10 < rows.count() < 80  # virtualised

    # Open the feature at the top of the list (highest max activation).
    first = rows.first
    feature = int(first.get_attribute("data-feature"))
    first.click()
    nb.page.wait_for_function(f"el => el.dataset.feature === '{feature}' && el.querySelector('.iw-example')",
                              arg=root.element_handle(), timeout=60_000)
    _wait_idle(nb, root)
    assert f"#{feature}" in root.locator(".iw-fd-title").inner_text()
    state = nb.run_json(1)
    assert state["error"] == "" and state["selected"] == feature and state["stats"]["index"] == feature
    examples = root.locator(".iw-example")
    assert examples.count() == len(state["tokens"]) > 0
    dom = root.locator(".iw-example-line").evaluate_all(
        "els => els.map(l => ({toks: [...l.querySelectorAll('.iw-token')].map(s => s.textContent),"
        " max: Number(l.querySelector('.iw-max').dataset.index), value: Number(l.querySelector('.iw-max').dataset.value)}))")
    for d, toks, act, mp in zip(dom, state["tokens"], state["acts"], state["max_pos"]):
        assert d["toks"] == [_display(t) for t in toks]
        assert d["max"] == mp and abs(d["value"] - act) <= 1e-3 * max(1.0, abs(act))
    assert root.locator(".iw-hist rect.iw-bar").count() > 0
    assert root.locator(".iw-logit-list.iw-pos li").count() == 10

    # Prompt mode: type, click a token, click one of its features.
    box = root.locator("input.iw-prompt-input")
    box.fill(PROMPT)
    box.press("Enter")
    toks = root.locator(".iw-prompt-tokens .iw-token")
    toks.first.wait_for(state="visible", timeout=60_000)
    _wait_idle(nb, root)
    state = nb.run_json(1)
    assert state["prompt"] == PROMPT and "".join(state["prompt_tokens"]) == PROMPT
    assert toks.count() == len(state["prompt_tokens"])
    toks.nth(2).click()
    items = root.locator(".iw-pf-item")
    items.first.wait_for(state="visible", timeout=10_000)
    others = [int(x) for x in items.evaluate_all("els => els.map(e => e.dataset.feature)") if int(x) != feature]
    assert others, "the token has active features besides the open one"
    target = others[0]
    root.locator(f'.iw-pf-item[data-feature="{target}"]').click()
    nb.page.wait_for_function(
        f"el => el.dataset.feature === '{target}' && el.querySelector('.iw-fd-title').textContent.includes('#{target}')"
        " && el.dataset.busy === 'false'", arg=root.element_handle(), timeout=60_000)
    state = nb.run_json(1)
    assert state["selected"] == target and state["stats"]["index"] == target and state["error"] == ""
    assert root.locator(".iw-example").count() == len(state["tokens"])
    assert root.locator(f'.iw-fl-row.iw-current[data-feature="{target}"]').count() == 1  # scrolled into view

    out = nb.cell(0).locator(f".jp-OutputArea-output:has({ROOT})").first
    nb.screenshot(out, "lab_feature_dashboard.png")
