"""FeatureDashboard: only the list crosses up front; opening a feature fills its data on
demand (equal to result.examples(i)); prompt mode; errors; static export; XSS token text."""

import json
import re

import numpy as np
import pytest
import torch

import interp_widgets as iw
from interp_widgets.kernels.sae_features import sae_features
from interp_widgets.results.sae import SAEFeatures
from interp_widgets.views._base import array_from_json
from interp_widgets.views.feature_dashboard import FeatureDashboard
from tiny_models import CORPUS, build_tiny

HOOK = "blocks.1.hook_resid_post"
D_SAE = 32
XSS = "<img src=x onerror=alert(1)>"
TEXTS = CORPUS[:5] + [f"look {XSS} here", "Paris is in France."]


@pytest.fixture(scope="module")
def model(tiny_tokenizer):
    return build_tiny("llama", tiny_tokenizer)


@pytest.fixture(scope="module")
def sae():
    g = torch.Generator().manual_seed(3)
    return iw.SAE(torch.randn(64, D_SAE, generator=g) * 0.3, torch.randn(D_SAE, generator=g) - 1.0,
                  torch.randn(D_SAE, 64, generator=g), torch.zeros(64), hook_name=HOOK)


@pytest.fixture(scope="module")
def result(model, sae):
    return sae_features(model, sae, TEXTS, k=4, context=3, progress=False)


def _arr(state, key):
    return array_from_json(state[key])


def test_only_the_list_up_front(result):
    w = FeatureDashboard(result)
    s = w.get_state()
    assert s["d_sae"] == D_SAE and s["hook_name"] == HOOK
    np.testing.assert_allclose(_arr(s, "density"), result.density)
    np.testing.assert_allclose(_arr(s, "max_act"), result.max_act)
    assert s["density"]["dtype"] == "float32" and isinstance(s["density"]["view"], memoryview)
    ids = _arr(s, "search_ids")
    assert ids.shape[0] == D_SAE and ids.dtype == np.int32
    # the first column labels each feature with its top-activating token
    table = s["token_table"]
    for i in range(D_SAE):
        if result.top_text[i, 0] >= 0:
            t, p = result.top_text[i, 0], result.top_pos[i, 0]
            assert table[ids[i, 0]] == result.vocab[result.corpus_ids[t][p]]
        else:
            assert ids[i, 0] == -1
    # nothing about any feature is sent before one is opened
    assert s["selected_feature"] == -1
    assert s["feature_examples"] is None and s["feature_hist"] is None and s["feature_logits"] is None
    assert s["prompt_tokens"] == [] and s["interactive"] is True
    assert len(table) <= D_SAE * 10  # a small table, not the vocabulary


def test_selecting_a_feature_fills_its_data(result):
    w = FeatureDashboard(result)
    i = int(result.top_features("max")[0])
    w.selected_feature = i  # as a click does
    assert w.error == "" and not w.busy
    s = w.get_state()
    ex = result.examples(i)
    fe = s["feature_examples"]
    assert fe["tokens"] == [e.tokens for e in ex] and len(ex) > 0
    np.testing.assert_allclose(array_from_json(fe["acts"]), np.concatenate([e.activations for e in ex]), rtol=1e-6)
    assert [d["max_pos"] for d in fe["info"]] == [e.max_pos for e in ex]
    assert fe["info"][0]["activation"] == pytest.approx(float(result.max_act[i]))
    np.testing.assert_array_equal(array_from_json(s["feature_hist"]["counts"]), result.hist_counts[i])
    assert array_from_json(s["feature_hist"]["counts"]).sum() == result.count[i]
    promoted, suppressed = result.logits(i, 10)
    assert s["feature_logits"]["promoted_tokens"] == [t for t, _ in promoted]
    np.testing.assert_allclose(array_from_json(s["feature_logits"]["suppressed_values"]), [v for _, v in suppressed],
                               rtol=1e-5)
    assert s["feature_stats"] == {"index": i, "density": pytest.approx(float(result.density[i])),
                                  "max": pytest.approx(float(result.max_act[i])),
                                  "mean": pytest.approx(float(result.mean_act[i])), "count": int(result.count[i])}
    # another feature replaces it; -1 closes it
    j = int(result.top_features("density")[1])
    w.selected_feature = j
    assert w.feature_stats["index"] == j
    w.selected_feature = -1
    assert w.feature_examples is None and w.feature_stats == {}


def test_bad_selection_shows_error_and_keeps_feature(result):
    w = FeatureDashboard(result, feature=0)
    w.selected_feature = D_SAE + 5
    assert "out of range" in w.error and w.selected_feature == 0 and w.feature_stats["index"] == 0
    with pytest.raises(ValueError, match="out of range"):
        w.open_feature(-3)


def test_prompt_mode(result, model, sae):
    w = FeatureDashboard(result)
    w.prompt = "Paris is in France."  # as the text box does
    assert w.error == ""
    toks = model.to_str_tokens(model.to_tokens("Paris is in France.")[0])
    assert w.prompt_tokens == toks
    pf = w.get_state()["prompt_features"]
    ids, acts = array_from_json(pf["ids"]), array_from_json(pf["acts"])
    assert ids.shape == acts.shape == (len(toks), 10)
    from interp_widgets.kernels.sae_features import feature_activations

    _, dense = feature_activations(model, sae, "Paris is in France.")
    for t in range(len(toks)):
        want = np.argsort(-dense[t], kind="stable")[:10]
        want = [int(f) for f in want if dense[t, f] > 0]
        assert [int(f) for f in ids[t] if f >= 0] == want
        np.testing.assert_allclose(acts[t, : len(want)], dense[t, want], rtol=1e-5)
    # a listed feature opens
    f = next(int(x) for x in ids[0] if x >= 0)
    assert w.prompt_feature_acts is None  # no feature open yet
    w.selected_feature = f
    assert w.feature_stats["index"] == f
    # the prompt is coloured by the open feature
    np.testing.assert_allclose(w.prompt_feature_acts, dense[:, f], rtol=1e-5)
    w.prompt = "   "
    assert w.prompt_tokens == [] and w.prompt_features is None and w.prompt_feature_acts is None


def test_constructor_forms_and_errors(model, sae, result):
    w = FeatureDashboard(model, sae, TEXTS[:3], k=2, progress=False)
    assert w.d_sae == D_SAE and w.n_texts == 3
    assert iw.FeatureDashboard is FeatureDashboard
    with pytest.raises(TypeError, match="SAEFeatures"):
        FeatureDashboard("nope")
    with pytest.raises(TypeError, match="give the SAE"):
        FeatureDashboard(model)
    with pytest.raises(TypeError, match="unexpected keyword|got an unexpected"):
        FeatureDashboard(model, sae, TEXTS[:2], nonsense=1)
    with pytest.raises(TypeError, match="takes no"):
        FeatureDashboard(result, k=3)
    bad = iw.SAE(torch.zeros(16, 4), torch.zeros(4), torch.zeros(4, 16), torch.zeros(16), hook_name=HOOK)
    with pytest.raises(ValueError, match="16-wide.*64 wide"):
        FeatureDashboard(model, bad, TEXTS)
    # a result without a source: features still open (max tokens only); prompt mode explains
    bare = SAEFeatures(**{k: getattr(result, k) for k in result.__dataclass_fields__ if k != "_source"})
    w = FeatureDashboard(bare, feature=int(bare.top_features()[0]))
    assert w.feature_examples["exact"] is False and w.feature_logits["available"] is False
    w.prompt = "hello"
    assert "no source" in w.error and w.prompt_tokens == []
    nan = SAEFeatures(**{k: getattr(result, k) for k in result.__dataclass_fields__ if k != "_source"})
    nan.density = nan.density.copy()
    nan.density[2] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        FeatureDashboard(nan)


def test_to_html_static_with_open_feature_and_prompt(result, tmp_path):
    i = int(result.top_features()[0])
    path = result.to_html(tmp_path / "f.html", feature=i, prompt=f"say {XSS}")
    html = path.read_text()
    m = re.search(r'<script type="application/json" id="iw-views">(.*?)</script>', html, re.S)
    assert m, "the state block is there"
    assert XSS not in html  # never raw: '<' is escaped inside the JSON block
    views = json.loads(m.group(1))
    state = views[0] if isinstance(views, list) else views
    state = state.get("state", state)
    assert state["interactive"] is False and state["busy"] is False
    assert state["selected_feature"] == i and state["feature_examples"]["tokens"]
    assert "".join(state["prompt_tokens"]) == f"say {XSS}" and state["prompt_features"]["ids"]


def test_xss_tokens_cross_as_text(result):
    # the XSS text is in the corpus: wherever its tokens appear they travel as plain strings
    w = FeatureDashboard(result)
    for i in range(D_SAE):
        w.selected_feature = i
        for row in (w.feature_examples or {}).get("tokens", []):
            for t in row:
                assert isinstance(t, str)
    assert all(isinstance(t, str) for t in w.token_table)
