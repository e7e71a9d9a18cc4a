"""Switching heads off from the AttentionView and the PatchingView: the browser sets
``ablated_heads`` / ``ablate_mode``, Python runs ``iw.ablate`` through the result's source and
fills the ``ablation`` panel with the same numbers."""

from __future__ import annotations

import numpy as np
import pytest

import interp_widgets as iw
from interp_widgets.export import widget_state
from interp_widgets.results import AttentionPatterns, PatchingResult
from interp_widgets.views._ablation import ABLATE_K
from tiny_models import build_tiny, our_hooks

TEXT = "When Mary and John went to the store, John gave a drink to"
CORRUPT = "When John and Mary went to the store, Mary gave a drink to"


@pytest.fixture(scope="module")
def model(tiny_tokenizer):
    return build_tiny("llama", tiny_tokenizer)


@pytest.fixture(scope="module")
def att(model):
    return iw.attention(model, TEXT, detectors=False)


@pytest.fixture(scope="module")
def heads_result(model):
    return iw.patch(model, TEXT, CORRUPT, (" Mary", " John"), site="z", positions="all", progress=False)


def _arr(payload) -> np.ndarray:
    assert isinstance(payload["view"], memoryview)  # binary, never a JSON list of floats
    return np.frombuffer(bytes(payload["view"]), dtype=payload["dtype"]).reshape(payload["shape"])


def _check_panel(w, want) -> None:
    s = w.get_state()
    p = s["ablation"]
    assert p["heads"] == [list(h) for h in want.heads] and p["mode"] == want.mode
    assert p["tokens"] == [t for t, _, _ in want.table]
    np.testing.assert_allclose(_arr(p["probs"]), [[b, a] for _, b, a in want.table], rtol=1e-6)
    assert p["movers"] == [t for t, _, _ in want.movers]
    np.testing.assert_allclose(_arr(p["mover_probs"]), [[b, a] for _, b, a in want.movers], rtol=1e-6)
    assert p["kl"] == pytest.approx(want.kl) and p["logprob_change"] == pytest.approx(want.logprob_change)
    assert s["ablation_busy"] is False and s["ablation_error"] == ""


def test_table_is_the_union_of_both_top_lists(model):
    r = iw.ablate(model, TEXT, heads=[(1, 0)], k=5)
    names = [t for t, _, _ in r.table]
    assert {t for t, _ in r.top_before} <= set(names) and {t for t, _ in r.top_after} <= set(names)
    before = [b for _, b, _ in r.table]
    assert before == sorted(before, reverse=True)
    assert r.table[0][1] == pytest.approx(r.top_before[0][1])


@pytest.mark.parametrize("mode", ["zero", "mean"])
def test_attention_view_toggle_fills_the_panel(model, att, mode):
    w = att.show()
    s = w.get_state()
    assert s["can_ablate"] is True and s["ablated_heads"] == [] and s["ablation"] == {}
    w.set_state({"ablated_heads": [[1, 2], [0, 1], [1, 2]], "ablate_mode": mode})  # from the browser
    assert w.ablated_heads == [[0, 1], [1, 2]]  # sorted, once each
    _check_panel(w, iw.ablate(model, TEXT, heads=[(0, 1), (1, 2)], mode=mode, k=ABLATE_K))
    w.set_state({"ablated_heads": []})  # clearing the set clears the panel
    assert w.ablation == {} and w.ablation_error == ""
    assert not our_hooks(model)


def test_attention_view_mode_change_reruns_and_negative_layers(model, att):
    w = att.show().ablate([(-1, 3)])
    assert w.ablated_heads == [[2, 3]]
    _check_panel(w, iw.ablate(model, TEXT, heads=[(2, 3)], k=ABLATE_K))
    w.set_state({"ablate_mode": "mean"})
    _check_panel(w, iw.ablate(model, TEXT, heads=[(2, 3)], mode="mean", k=ABLATE_K))


@pytest.mark.parametrize("bad, msg", [([[0, 99]], "head 99 is out of range"), ([[3, 0]], "layer 3 is out of range"),
                                      ([[0]], "a head is [layer, head]")])
def test_bad_head_shows_an_error_and_keeps_the_panel(att, bad, msg):
    w = att.show().ablate([(0, 0)])
    panel = w.ablation
    w.set_state({"ablated_heads": bad})
    assert msg in w.ablation_error
    assert w.ablated_heads == [[0, 0]] and w.ablation is panel  # put back
    w.set_state({"ablate_mode": "half"})
    assert "mode must be" in w.ablation_error and w.ablate_mode == "zero"
    w.set_state({"ablated_heads": [[0, 1]]})  # a good set clears the error
    assert w.ablation_error == "" and w.ablation["heads"] == [[0, 1]]


def test_kernel_errors_are_shown_not_raised(att):
    r = AttentionPatterns(att.tokens, att.patterns, model_name="x",
                          _source=type(att._source)(ablate=lambda heads, **kw: 1 / 0))
    w = r.show()
    w.set_state({"ablated_heads": [[0, 0]]})
    assert w.ablation_error.startswith("ZeroDivisionError") and w.ablated_heads == [] and not w.ablation_busy


def test_static_attention_view_is_disabled(att, tmp_path):
    w = AttentionPatterns(att.tokens, att.patterns).show()  # no source (as loaded from disk)
    assert w.get_state()["can_ablate"] is False
    w.set_state({"ablated_heads": [[0, 0]]})
    assert "static view" in w.ablation_error and w.ablated_heads == [] and w.ablation == {}


def test_export_keeps_a_precomputed_panel_but_disables_toggles(att):
    w = att.show().ablate([(1, 0)])
    st = widget_state(w)
    assert st["can_ablate"] is False and st["ablation_busy"] is False
    assert st["ablated_heads"] == [[1, 0]] and isinstance(st["ablation"]["probs"]["view"], str)  # base64


def test_patching_view_ablates_the_clean_prompt(model, heads_result):
    w = heads_result.show()
    s = w.get_state()
    assert s["can_ablate"] is True and s["n_model_heads"] == model.n_heads
    w.set_state({"ablated_heads": [[1, 1]]})
    _check_panel(w, iw.ablate(model, TEXT, heads=[(1, 1)], k=ABLATE_K))
    w.set_state({"ablated_heads": [[0, 9]]})
    assert "head 9 is out of range" in w.ablation_error and w.ablated_heads == [[1, 1]]
    w.set_state({"ablated_heads": []})
    assert w.ablation == {}
    assert not our_hooks(model)


def test_patching_view_of_a_residual_site_has_the_picker(model):
    r = iw.patch(model, TEXT, CORRUPT, (" Mary", " John"), positions="all", progress=False)
    w = r.show()
    assert w.n_model_heads == model.n_heads and w.can_ablate
    w.ablate([(0, 2)], mode="mean")
    _check_panel(w, iw.ablate(model, TEXT, heads=[(0, 2)], mode="mean", k=ABLATE_K))


def test_static_patching_view_is_disabled():
    r = PatchingResult(np.zeros((2, 3), np.float32), "z", "all", "exact", ["a", "b"], ["a", "c"], "m", 1.0, 0.0)
    w = r.show()
    assert w.can_ablate is False and w.n_model_heads == 3
    w.set_state({"ablated_heads": [[0, 1]]})
    assert "static view" in w.ablation_error and w.ablated_heads == []
