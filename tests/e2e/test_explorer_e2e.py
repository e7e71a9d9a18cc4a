"""The Explorer in JupyterLab 4 (headless Chromium) on SmolLM2: the prompt's continuation and
the attribution panel render; clicking the Logit lens tab computes and renders that panel;
clicking a token in the strip selects it in Python and in every computed panel; light and
dark screenshots (docs/explorer_light.png, docs/explorer_dark.png)."""

from __future__ import annotations

import re
import shutil

import pytest

from .conftest import REPO_ROOT

pytestmark = pytest.mark.e2e

PROMPT = "The Eiffel Tower is in the city of"

VIEW_CELL = f"""\
import interp_widgets as iw
model = iw.load_model()
ex = iw.Explorer(model, {PROMPT!r}, max_new_tokens=3)
ex"""

PROBE_CELL = """\
import json as _json
print("JSON" + _json.dumps({
    "selected": ex.selected_token, "bar": ex.bar.selected_token, "tokens": ex.tokens,
    "prompt_len": ex.prompt_len, "target": ex.target_position, "visible": ex.visible_panel,
    "panels": {k: (None if v is None else int(v.selected_token)) for k, v in ex.panels.items()},
    "states": {k: ex.panel_state(k) for k in ex.panels}}))"""

ROOT = ".iw-explorer"
BAR = ".iw-explorer-bar"



def _tab(root, title: str):
    return root.locator(".lm-TabBar-tab, .p-TabBar-tab").filter(has_text=title).first


def test_explorer_panels_follow_one_selection(open_notebook, jupyter_server) -> None:
    nb = open_notebook("lab", [VIEW_CELL, PROBE_CELL])
    root = nb.show_view(0, ROOT, timeout_s=300)
    bar = root.locator(BAR).first
    bar.wait_for(state="visible", timeout=30_000)
    assert bar.locator(".iw-prompt").first.input_value() == PROMPT

    # the strip shows prompt + continuation; the attribution panel shows the same tokens
    state = nb.run_json(1)
    n, n_prompt = len(state["tokens"]), state["prompt_len"]
    strip = bar.locator(".iw-strip .iw-token")
    assert strip.count() == n and n > n_prompt
    assert bar.locator(".iw-strip .iw-token.iw-cont").count() == n - n_prompt
    strip_texts = strip.all_inner_texts()
    assert "".join(strip_texts).replace("\u00b7", " ").startswith(PROMPT)
    attr = root.locator(".iw-attribution").first
    attr.wait_for(state="visible", timeout=60_000)
    texts = attr.locator(".iw-tokens .iw-token").all_inner_texts()
    assert texts == strip_texts and any("Tower" in t for t in texts)
    assert attr.locator(".iw-token.iw-target").count() == 1
    assert state["visible"] == "attribution" and state["states"]["logit_lens"]["n_computed"] == 0
    assert not root.locator(".iw-error:visible").count()

    # click the Logit lens tab: it computes and renders
    _tab(root, "Logit lens").click()
    lens = root.locator(".iw-lens").first
    lens.wait_for(state="visible", timeout=120_000)
    state = nb.run_json(1)
    assert state["visible"] == "logit_lens" and state["states"]["logit_lens"]["n_computed"] == 1
    assert state["states"]["logit_lens"]["error"] == ""

    # click a token in the strip: Python and every computed panel agree
    pick = 3
    strip.nth(pick).click()
    nb.page.wait_for_function(f"el => el.dataset.selected === '{pick}'", arg=bar.element_handle(), timeout=10_000)
    nb.page.wait_for_timeout(300)
    state = nb.run_json(1)
    assert state["selected"] == pick == state["bar"]
    assert state["panels"]["attribution"] == pick and state["panels"]["logit_lens"] == pick
    assert state["panels"]["attention"] is None  # never shown: never computed
    assert strip.nth(pick).get_attribute("class").find("iw-selected") >= 0

    out = nb.cell(0).locator(f".jp-OutputArea-output:has({ROOT})").first
    nb.screenshot(out, "lab_explorer_lens.png")

    # Top neurons: the neurons at the selected token; a click shows what one promotes
    _tab(root, "Top neurons").click()
    rows = root.locator(".iw-top-neurons .iw-neuron")
    rows.first.wait_for(state="attached", timeout=120_000)
    state = nb.run_json(1)
    assert rows.count() == 12 and state["panels"]["top_neurons"] == pick
    rows.first.locator(".iw-nname").click()
    root.locator(".iw-top-neurons .iw-chip").first.wait_for(state="visible", timeout=60_000)
    assert root.locator(".iw-top-neurons .iw-chip").count() == 16  # 8 promoted + 8 suppressed
    shutil.copyfile(nb.screenshot(out, "lab_explorer_top_neurons.png"),
                    REPO_ROOT / "docs" / "explorer_top_neurons_light.png")
    _tab(root, "Attribution").click()
    attr.wait_for(state="visible", timeout=30_000)
    nb.page.wait_for_timeout(300)
    light = nb.screenshot(out, "lab_explorer_light.png")
    shutil.copyfile(light, REPO_ROOT / "docs" / "explorer_light.png")

    # JupyterLab's dark theme: the bar, the tabs and the panels follow (no re-run)
    page = nb.page
    settings = (jupyter_server.root_dir.parent / "lab-settings" / "@jupyterlab"
                / "apputils-extension" / "themes.jupyterlab-settings")
    try:
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Settings$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Theme$")).hover()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^JupyterLab Dark$")).click()
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=30_000)
        page.wait_for_timeout(800)
        bg = bar.evaluate("el => getComputedStyle(el.closest('.iw-root')).backgroundColor")
        nums = [float(x) for x in re.findall(r"[\d.]+", bg)[:3]]
        assert sum(nums) / 3 < 100, f"the bar did not turn dark: {bg}"
        dark = nb.screenshot(out, "lab_explorer_dark.png")
        shutil.copyfile(dark, REPO_ROOT / "docs" / "explorer_dark.png")
        _tab(root, "Top neurons").click()
        root.locator(".iw-top-neurons .iw-chip").first.wait_for(state="visible", timeout=30_000)
        shutil.copyfile(nb.screenshot(out, "lab_explorer_top_neurons_dark.png"),
                        REPO_ROOT / "docs" / "explorer_top_neurons_dark.png")
    finally:
        settings.unlink(missing_ok=True)  # the theme is a user setting of the shared server
