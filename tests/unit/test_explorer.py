"""iw.Explorer: one prompt, its continuation, lazy linked panels (on a tiny Llama)."""

from __future__ import annotations

import numpy as np
import pytest

import interp_widgets as iw
import interp_widgets.views.explorer as ex_mod
from interp_widgets.views.attention import AttentionView
from interp_widgets.views.attribution import AttributionWidget
from interp_widgets.views.explorer import PANELS, Explorer, ExplorerBar
from interp_widgets.views.logit_lens import LogitLensView
from interp_widgets.views.neuron_panel import NeuronPanel
from interp_widgets.views.top_neurons import TopNeuronsView
from tiny_models import build_tiny, our_hooks

PROMPT = "The Eiffel Tower is located in the city of"
KERNELS = ("attribute", "attention", "logit_lens", "top_neurons")


@pytest.fixture(scope="module")
def llama(tiny_tokenizer):
    return build_tiny("llama", tiny_tokenizer)


@pytest.fixture
def calls(monkeypatch):
    """Count the kernel calls the Explorer makes (the real kernels still run)."""
    counts = {k: 0 for k in KERNELS}
    for name in KERNELS:
        real = getattr(ex_mod, name)

        def wrapper(*a, _real=real, _name=name, **kw):
            counts[_name] += 1
            return _real(*a, **kw)

        monkeypatch.setattr(ex_mod, name, wrapper)
    return counts


@pytest.fixture(autouse=True)
def _no_hooks_left(request):
    yield
    if "llama" in request.fixturenames:
        assert our_hooks(request.getfixturevalue("llama")) == []


def make(llama, **kw):
    kw.setdefault("max_new_tokens", 3)
    kw.setdefault("method", "input_x_gradient")  # one pass: keeps the tests fast
    return Explorer(llama, PROMPT, **kw)


def test_creation_computes_only_the_visible_panel(llama, calls):
    ex = make(llama)
    assert calls == {"attribute": 1, "attention": 0, "logit_lens": 0, "top_neurons": 0}
    assert isinstance(ex.panels["attribution"], AttributionWidget)
    assert [ex.panels[n] for n in ("attention", "logit_lens", "top_neurons")] == [None] * 3
    # the full text = prompt + continuation; the tokens are what every panel analyses
    assert ex.text.startswith(PROMPT) and len(ex.text) > len(PROMPT)
    assert ex.tokens == llama.to_str_tokens(llama.to_tokens(ex.text)[0])
    assert ex.prompt_len == len(llama.to_tokens(PROMPT)[0]) and len(ex.tokens) > ex.prompt_len
    assert ex.bar.tokens == ex.tokens and ex.bar.prompt_len == ex.prompt_len
    assert ex.bar.status.startswith("3 new tokens") and not ex.bar.busy and ex.bar.error == ""
    assert ex.panels["attribution"].tokens == ex.tokens
    # defaults: the last prompt token is selected, the first new token is the target
    assert ex.selected_token == ex.prompt_len - 1 == ex.bar.selected_token
    assert ex.target_position == ex.prompt_len == ex.panels["attribution"].target_position
    assert ex.panel_state("attention")["stale"] and not ex.panel_state("attribution")["stale"]
    assert isinstance(ex.bar, ExplorerBar) and "iw-explorer-bar" in str(ExplorerBar._esm)
    assert list(ex.children) == [ex.bar, ex.tabs] and ex.tabs.titles == tuple(PANELS.values())


def test_no_prompt_computes_nothing_until_run(llama, calls):
    ex = Explorer(llama)
    assert calls == dict.fromkeys(KERNELS, 0) and ex.tokens == [] and ex.selected_token == -1
    assert "Run" in ex._panels["attribution"].status.value
    ex.show_panel("attention")  # nothing to analyse yet: still nothing computed
    assert calls["attention"] == 0
    ex.bar.prompt = PROMPT  # as typed in the browser, then Run pressed
    ex.bar.max_new_tokens = 2
    ex.bar.run_request += 1
    assert calls == {"attribute": 0, "attention": 1, "logit_lens": 0, "top_neurons": 0}
    assert isinstance(ex.panels["attention"], AttentionView) and ex.panels["attention"].tokens == ex.tokens
    assert len(ex.tokens) > ex.prompt_len and ex.bar.error == "" and ex.bar.max_new_tokens == 2


def test_switching_tab_computes_that_panel_once(llama, calls):
    ex = make(llama)
    ex.tabs.selected_index = list(PANELS).index("logit_lens")  # as a tab click does
    assert calls["logit_lens"] == 1 and isinstance(ex.panels["logit_lens"], LogitLensView)
    ex.show_panel("attention")
    ex.show_panel("logit_lens")
    ex.show_panel("attribution")
    ex.show_panel("attention")
    assert calls == {"attribute": 1, "attention": 1, "logit_lens": 1, "top_neurons": 0}
    assert [ex.panel_state(n)["n_computed"] for n in PANELS] == [1, 1, 1, 0]
    assert ex.panels["logit_lens"].tokens == ex.tokens == ex.panels["attention"].tokens


def test_progress_is_shown_while_a_panel_computes(llama, monkeypatch):
    seen = {}
    real = ex_mod.logit_lens

    def spy(model, text, **kw):
        p = ex._panels["logit_lens"]
        seen["busy"] = p.busy
        seen["shows_bar"] = any(p.progress in getattr(c, "children", ()) for c in p.box.children)
        seen["status"] = p.status.value
        return real(model, text, **kw)

    monkeypatch.setattr(ex_mod, "logit_lens", spy)
    ex = make(llama)
    values = []
    ex._panels["attribution"].progress.observe(lambda c: values.append(c["new"]), "value")
    ex.show_panel("logit_lens")
    assert seen == {"busy": True, "shows_bar": True, "status": "computing logit lens…"}
    p = ex._panels["logit_lens"]
    assert not p.busy and p.progress not in sum((list(getattr(c, "children", ())) for c in p.box.children), [])
    ex.method = "integrated_gradients"  # reports fractions as it goes
    ex.refresh("attribution")
    assert ex.panel_state("attribution")["n_computed"] == 2
    assert values and values[-1] == pytest.approx(1.0) and len(values) >= 2


def test_selected_token_propagates_to_every_panel_and_back(llama):
    ex = make(llama)
    for name in PANELS:
        ex.show_panel(name)
    views = [ex.panels[n] for n in PANELS]
    assert all(v is not None for v in views)
    ex.selected_token = 3
    assert [v.selected_token for v in views] == [3] * 4 and ex.bar.selected_token == 3
    views[2].selected_token = 5  # a click in the logit lens (browser -> Python)
    assert ex.selected_token == 5 and ex.bar.selected_token == 5
    assert [v.selected_token for v in views] == [5] * 4
    ex.bar.selected_token = 1  # a click in the token strip
    assert [v.selected_token for v in views] == [1] * 4
    # the top-neurons panel lists the neurons at the selected token
    ex.show_panel("top_neurons")
    tn = ex.panels["top_neurons"]
    want = iw.top_neurons(llama, ex.text, 1, k=ex.k)
    assert tn.neurons_at == 1
    assert [(h["layer"], h["index"]) for h in tn.neurons] == [(h.layer, h.index) for h in want]
    assert [h["activation"] for h in tn.neurons] == pytest.approx([h.activation for h in want], rel=1e-5)
    with pytest.raises(ValueError, match="out of range"):
        ex.selected_token = len(ex.tokens)


def test_hidden_top_neurons_panel_waits_until_shown(llama, calls):
    ex = make(llama)
    ex.show_panel("top_neurons")
    assert calls["top_neurons"] == 1
    ex.show_panel("attribution")
    ex.selected_token = 2
    ex.selected_token = 4
    assert calls["top_neurons"] == 1 and ex.panels["top_neurons"].stale  # hidden: nothing yet
    ex.show_panel("top_neurons")
    assert calls["top_neurons"] == 2 and ex.panels["top_neurons"].neurons_at == 4
    ex.selected_token = 2  # visible now: follows at once
    assert calls["top_neurons"] == 3 and ex.panels["top_neurons"].neurons_at == 2
    ex.selected_token = 4  # computed before: cached
    assert calls["top_neurons"] == 3 and ex.panels["top_neurons"].neurons_at == 4


def test_choosing_a_target_recomputes_the_attribution(llama):
    ex = make(llama)
    view = ex.panels["attribution"]
    first = view.attribution
    ids = llama.to_tokens(ex.text)[0].tolist()
    t = ex.prompt_len + 1
    ex.target_position = t  # the bar's selector (or shift-click in the strip)
    assert view is ex.panels["attribution"] and view.attribution is not first
    assert view.target_position == t and view.attribution.target_positions == [t]
    want = iw.attribute(llama, PROMPT, method="input_x_gradient", continuation=ids[ex.prompt_len:],
                        position=1, progress=False)
    np.testing.assert_allclose(view.attribution.scores, want.scores, rtol=1e-4, atol=1e-6)
    # a click on a continuation token inside the attribution view moves the explorer's target
    view.target_position = ex.prompt_len + 2
    assert ex.target_position == ex.prompt_len + 2 == ex.bar.target_position
    assert view.attribution.target_positions == [ex.prompt_len + 2]
    with pytest.raises(ValueError, match="continuation token"):
        ex.target_position = 0


def test_target_chosen_while_attribution_hidden_computes_when_shown(llama, calls):
    ex = make(llama)
    ex.show_panel("attention")
    ex.bar.target_position = ex.prompt_len + 1  # chosen in the bar while another tab is shown
    assert calls["attribute"] == 1 and ex.panels["attribution"] is None
    ex.show_panel("attribution")
    assert calls["attribute"] == 2
    assert ex.panels["attribution"].attribution.target_positions == [ex.prompt_len + 1]


def test_new_prompt_marks_panels_stale(llama, calls):
    ex = make(llama)
    ex.show_panel("logit_lens")
    ex.show_panel("attention")
    old_lens = ex.panels["logit_lens"]
    ex.run("When Mary and John went to the store, John gave a drink to", 2)
    # the visible panel recomputed at once; the hidden ones are stale and dropped
    assert calls == {"attribute": 1, "attention": 2, "logit_lens": 1, "top_neurons": 0}
    assert ex.panels["attention"].tokens == ex.tokens and "Mary" in ex.text
    assert ex.panels["logit_lens"] is None and ex.panels["attribution"] is None
    assert ex.panel_state("logit_lens")["stale"] and ex.panel_state("attribution")["stale"]
    old_lens.selected_token = 2  # the old view is unlinked: it no longer moves the explorer
    assert ex.selected_token == ex.prompt_len - 1
    ex.show_panel("logit_lens")
    assert calls["logit_lens"] == 2 and ex.panels["logit_lens"].tokens == ex.tokens
    assert ex.target_position == ex.prompt_len


def test_bad_input_raises_and_shows_in_the_bar(llama, tiny_tokenizer):
    ex = make(llama)
    with pytest.raises(ValueError, match="prompt is empty"):
        ex.run("   ")
    assert "prompt is empty" in ex.bar.error
    with pytest.raises(ValueError, match="max_new_tokens"):
        ex.run(PROMPT, 0)
    ex.bar.prompt = ""  # an empty prompt from the browser: shown, not raised
    ex.bar.run_request += 1
    assert "prompt is empty" in ex.bar.error
    with pytest.raises(ValueError, match="max_new_tokens"):
        Explorer(llama, PROMPT, max_new_tokens=10_000)
    with pytest.raises(ValueError, match="unknown panel"):
        Explorer(llama, panel="nope")
    with pytest.raises(TypeError, match="Model"):
        Explorer(object())
    with pytest.raises(ValueError, match="encoder"):
        Explorer(build_tiny("bert", tiny_tokenizer))
    with pytest.raises(ValueError, match="unknown panel"):
        ex.show_panel("nope")


def test_kernel_error_is_visible_in_the_panel(llama, monkeypatch):
    ex = make(llama)

    def boom(model, text, **kw):
        with model.hooks([("blocks.0.hook_resid_post", lambda t, n: None)]):
            raise RuntimeError("attention exploded")

    real = ex_mod.attention
    monkeypatch.setattr(ex_mod, "attention", boom)
    ex.show_panel("attention")
    p = ex._panels["attention"]
    assert ex.panels["attention"] is None
    assert "attention exploded" in p.error.value and p.error in p.box.children
    assert not p.busy and "iw-explorer-error" in p.error._dom_classes
    assert our_hooks(llama) == []
    monkeypatch.setattr(ex_mod, "attention", real)
    ex.refresh("attention")
    assert isinstance(ex.panels["attention"], AttentionView) and p.error.value == ""
    assert p.error not in p.box.children


def test_top_neurons_panel_shows_effects_and_opens_a_neuron_panel(llama):
    ex = make(llama)
    ex.show_panel("top_neurons")
    tn = ex.panels["top_neurons"]
    h = tn.neurons[0]
    tn.selected_neuron = [h["layer"], h["index"]]  # a click on the neuron
    promoted, _ = ex_mod.logit_effects(llama, h["layer"], h["index"], k=8)
    assert [t for t, _ in tn.promoted] == [t for t, _ in promoted] and len(tn.suppressed) == 8
    tn.open_request = [h["layer"], h["index"]]  # "Open neuron panel"
    extra = ex._panels["top_neurons"].extra
    assert len(extra) == 1 and isinstance(extra[0], NeuronPanel) and extra[0] in ex._panels["top_neurons"].box.children
    assert ex._panels["top_neurons"].error.value == ""


def test_top_neurons_view_alone():
    got = []
    w = TopNeuronsView(["a", " b", " c"], hits_at=lambda pos: got.append(pos) or [(0, pos, 1.5)],
                       selected_token=1)
    assert got == [1] and w.neurons == [{"layer": 0, "index": 1, "activation": 1.5}]
    w.selected_token = 2
    w.selected_token = 1  # cached
    assert got == [1, 2] and w.neurons_at == 1
    with pytest.raises(ValueError, match="out of range"):
        w.selected_token = 3
    bad = TopNeuronsView(["a"], hits_at=lambda pos: 1 / 0, selected_token=0)
    assert "ZeroDivisionError" in bad.error and not bad.busy
    static = TopNeuronsView(["a"])
    assert not static.interactive
    with pytest.raises(ValueError, match="tokens"):
        TopNeuronsView("abc")


def test_exports_are_static_pages(llama, tmp_path):
    ex = make(llama)
    ex.show_panel("top_neurons")
    page = ex.panels["top_neurons"].to_html(tmp_path / "tn.html").read_text()
    assert "top_neurons" in page or "iw-top-neurons" in page
    bar = ex.bar.to_html(tmp_path / "bar.html").read_text()
    assert "iw-explorer-bar" in bar and "Eiffel" in bar
    # the whole explorer: the bar, then every computed panel (here attribution + top neurons)
    page = ex.to_html(tmp_path / "ex.html").read_text()
    assert page.count('class="iw-page-view"') == 3
    assert '<h2 class="iw-page-h">Attribution</h2>' in page and '<h2 class="iw-page-h">Top neurons</h2>' in page
    assert '<h2 class="iw-page-h">Attention</h2>' not in page  # never computed


def test_a_model_that_ends_the_text_at_once(llama, monkeypatch):
    monkeypatch.setattr(ex_mod, "generate", lambda model, text, n: iter(()))
    ex = make(llama)
    assert ex.tokens == llama.to_str_tokens(llama.to_tokens(PROMPT)[0]) and ex.prompt_len == len(ex.tokens)
    assert ex.target_position == -1 and "ended the text" in ex.bar.status
    # the attribution has no token to explain: it says so; the other panels still work
    assert ex.panels["attribution"] is None
    assert "no continuation" in ex.panel_state("attribution")["error"]
    ex.show_panel("logit_lens")
    assert ex.panels["logit_lens"].tokens == ex.tokens
