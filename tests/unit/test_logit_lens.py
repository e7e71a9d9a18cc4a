"""The logit lens: ``iw.logit_lens`` on tiny models of every causal family, and the state of
``LogitLensView`` through ``get_state()`` (no browser)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import interp_widgets as iw
from interp_widgets.export import widget_state
from interp_widgets.results import LogitLens, TrackedToken
from interp_widgets.views import LogitLensView
from tiny_models import build_tiny

TEXT = "the cat sat on the mat and the dog"
EVIL = '<img src=x onerror="window.__xss=1">'


def _probs(logits: torch.Tensor) -> torch.Tensor:
    return torch.softmax(logits.float(), dim=-1)


def _hand_row(model, text: str, layer: int) -> torch.Tensor:
    """Final norm module + LM head on the cached residual stream after ``layer``."""
    resid = iw.run_with_cache(model, text)["resid_post", layer][0]
    norm = model.family.final_norm(model.base) if model.family.final_norm is not None else None
    with torch.no_grad():
        h = norm(resid) if norm is not None else resid
        return _probs(model.logits_from_hidden(h))


# -- kernel ---------------------------------------------------------------------------


def test_last_row_is_the_models_own_prediction(tiny_causal):
    m = tiny_causal
    r = iw.logit_lens(m, TEXT, k=5)
    ids = m.to_tokens(TEXT)
    assert r.layers == ["embed"] + [str(l) for l in range(m.n_layers)]
    assert r.top_ids.shape == r.top_probs.shape == (m.n_layers + 1, ids.shape[1], 5)
    assert r.top_ids.dtype == np.int32 and r.top_probs.dtype == np.float32
    with torch.no_grad():
        p = _probs(m.hf(ids).logits[0])
    v, i = p.topk(5, dim=-1)
    np.testing.assert_array_equal(r.top_ids[-1], i.numpy())
    np.testing.assert_allclose(r.top_probs[-1], v.numpy(), rtol=1e-4, atol=1e-6)
    # probabilities come best first, and every id used has a display string
    assert (np.diff(r.top_probs, axis=-1) <= 1e-7).all()
    assert set(np.unique(r.top_ids).tolist()) <= set(r.vocab)


def test_middle_row_matches_a_hand_computation(tiny_causal):
    m = tiny_causal
    layer = m.n_layers // 2 - 1 if m.n_layers > 1 else 0
    r = iw.logit_lens(m, TEXT, k=3)
    v, i = _hand_row(m, TEXT, layer).topk(3, dim=-1)
    np.testing.assert_array_equal(r.top_ids[layer + 1], i.numpy())
    np.testing.assert_allclose(r.top_probs[layer + 1], v.numpy(), rtol=1e-4, atol=1e-6)


def test_tracked_rank_and_prob_match_a_hand_computation(tiny_causal):
    m = tiny_causal
    tid = int(m.to_tokens(TEXT)[0, 2])  # a token of the text (tracked by id)
    r = iw.logit_lens(m, TEXT, k=3, track=tid)
    (t,) = r.tracked
    assert t.token_id == tid and t.label == m.to_str_tokens([tid])[0]
    assert t.rank.shape == t.prob.shape == r.top_ids.shape[:2]
    for layer in (0, m.n_layers - 1):
        p = _hand_row(m, TEXT, layer)
        want_rank = (p > p[:, tid : tid + 1]).sum(-1)
        np.testing.assert_allclose(t.prob[layer + 1], p[:, tid].numpy(), rtol=1e-4, atol=1e-7)
        # ties within float error may shift a rank by one
        assert np.abs(t.rank[layer + 1] - want_rank.numpy()).max() <= 1
    # rank 0 exactly where the token is the top-1
    np.testing.assert_array_equal(t.rank == 0, r.top_ids[..., 0] == tid)
    # the result's own .track gives the same numbers later (recomputed from the stream)
    again = r.track(tid)
    np.testing.assert_allclose(again.prob, t.prob, rtol=1e-5)
    assert len(r.tracked) == 1 and tid in r.vocab


def test_encoder_and_bad_k_raise(tiny_tokenizer, tiny_causal):
    bert = build_tiny("bert", tiny_tokenizer)
    with pytest.raises(ValueError, match="encoder"):
        iw.logit_lens(bert, TEXT)
    vocab = tiny_causal.unembed.weight.shape[0]
    for k in (0, -1, vocab + 1, 2.5):
        with pytest.raises(ValueError, match="k must be"):
            iw.logit_lens(tiny_causal, TEXT, k=k)


def test_bad_track_tokens_raise(tiny_causal):
    with pytest.raises(ValueError, match="not one"):
        iw.logit_lens(tiny_causal, TEXT, track=" cat sat on")
    r = iw.logit_lens(tiny_causal, TEXT, k=2)
    with pytest.raises(ValueError):
        r.track(10**9)


# -- view -----------------------------------------------------------------------------


def _lens(tokens=("The", " cat", " sat"), source: bool = True) -> LogitLens:
    rows, pos, k = 3, len(tokens), 2
    ids = np.zeros((rows, pos, k), np.int32)
    ids[..., 0], ids[..., 1] = 1, 2
    probs = np.zeros((rows, pos, k), np.float32)
    probs[..., 0], probs[..., 1] = 0.6, 0.3
    lens = LogitLens(tokens=list(tokens), layers=["embed", "0", "1"], top_ids=ids, top_probs=probs,
                     vocab={1: " mat", 2: EVIL}, model_name="fake")
    if source:
        def track(token):
            if token not in (" dog", 7):
                raise ValueError(f"the target {token!r} is 2 tokens, not one")
            return TrackedToken(7, " dog", np.arange(rows * pos, dtype=np.int32).reshape(rows, pos),
                                np.full((rows, pos), 0.25, np.float32))
        from interp_widgets.results import LensSource

        lens._source = LensSource(track=track)
    return lens


def _arr(state_value, dtype):
    return np.frombuffer(bytes(state_value["view"]), dtype).reshape(state_value["shape"])


def test_view_state_is_binary():
    w = _lens().show()
    assert isinstance(w, LogitLensView) and isinstance(w, iw.LogitLensView)
    s = w.get_state()
    assert s["tokens"] == ["The", " cat", " sat"] and s["layers"] == ["embed", "0", "1"]
    # ids as uint16 where the vocabulary fits (half the bytes of int32), int32 otherwise
    for name, dtype in (("top_ids", "uint16"), ("top_probs", "float32")):
        assert isinstance(s[name]["view"], memoryview) and s[name]["dtype"] == dtype
        assert s[name]["shape"] == [3, 3, 2]
    np.testing.assert_allclose(_arr(s["top_probs"], "<f4")[..., 0], 0.6)
    assert s["vocab"] == {"1": " mat", "2": EVIL}
    assert s["mode"] == "top" and s["track_index"] == -1 and s["tracked_rank"] is None
    assert s["interactive"] is True and s["selected_token"] == -1 and s["model_name"] == "fake"
    with pytest.raises(TypeError):
        LogitLensView(_lens(), colour="red")
    with pytest.raises(TypeError):
        LogitLensView("not a lens")
    with pytest.raises(ValueError, match="needs a tracked token"):
        LogitLensView(_lens(), mode="track")


def test_ids_beyond_uint16_stay_int32():
    from interp_widgets.views.logit_lens import _compact

    assert _compact(np.array([0, 65535])).dtype == np.uint16
    assert _compact(np.array([0, 128_000])).dtype == np.int32  # Llama 3's vocabulary
    assert _compact(np.array([-1, 5])).dtype == np.int32


def test_track_request_is_filled_by_python():
    w = _lens().show()
    w.track_request = " dog"  # what the browser does
    s = w.get_state()
    assert s["track_request"] == "" and s["busy"] is False and s["error"] == ""
    assert s["mode"] == "track" and s["track_index"] == 0
    assert s["tracked_labels"] == [" dog"] and s["tracked_ids"] == [7] and s["vocab"]["7"] == " dog"
    assert s["tracked_rank"]["dtype"] == "uint16" and s["tracked_rank"]["shape"] == [1, 3, 3]
    assert s["tracked_prob"]["dtype"] == "float32" and isinstance(s["tracked_prob"]["view"], memoryview)
    np.testing.assert_array_equal(_arr(s["tracked_rank"], "<u2")[0], np.arange(9).reshape(3, 3))
    np.testing.assert_allclose(_arr(s["tracked_prob"], "<f4"), 0.25)
    # busy while Python computes
    seen = []
    w.observe(lambda c: seen.append(c["new"]), "busy")
    w.track_request = " dog"
    assert seen == [True, False] and len(w.lens.tracked) == 1


def test_bad_track_token_shows_an_error_and_keeps_the_view():
    w = _lens().show()
    w.track_request = " two words"
    s = w.get_state()
    assert "ValueError" in s["error"] and "not one" in s["error"]
    assert s["mode"] == "top" and s["busy"] is False and s["track_request"] == ""
    with pytest.raises(ValueError):
        w.track(" two words")
    w.track(" dog")  # a good one clears the error
    assert w.error == "" and w.mode == "track"


def test_static_result_cannot_track():
    w = _lens(source=False).show()
    assert w.interactive is False
    w.track_request = " dog"
    assert "no model attached" in w.error and w.mode == "top"


def test_selected_token_syncs_and_is_checked():
    w = _lens().show()
    w.selected_token = 2
    assert w.get_state()["selected_token"] == 2
    w.selected_token = 99
    assert w.selected_token == -1


def test_export_is_self_contained_with_tracked_tokens(tmp_path):
    lens = _lens(tokens=("The", EVIL, "</script>"))
    lens.track(" dog")
    w = lens.show(mode="track")
    assert w.mode == "track" and w.track_index == 0
    st = widget_state(w)
    assert st["interactive"] is False and st["busy"] is False
    assert isinstance(st["tracked_rank"]["view"], str)  # base64, not a list of numbers
    path = w.to_html(tmp_path / "lens.html")
    page = path.read_text(encoding="utf-8")
    assert "<script src" not in page and page.count("</script>") == 3
    assert EVIL not in page and "\\u003cimg src=x" in page
    assert "logit lens" in page.lower() and "tracked_labels" in page


def test_links_with_other_views():
    w = _lens().show()
    h = iw.TokenHeatmap(["The", " cat", " sat"], [0.1, 0.2, 0.3])
    iw.linked(w, h)
    h.selected_token = 1
    assert w.selected_token == 1
    w.selected_token = 2
    assert h.selected_token == 2


def test_progress_callback_counts_the_layers(tiny_causal):
    seen = []
    iw.logit_lens(tiny_causal, TEXT, track=" dog", progress=seen.append)
    assert len(seen) == tiny_causal.n_layers + 1 and seen[-1] == pytest.approx(1.0)
    assert seen == sorted(seen)
