"""The SAE that ships with the package (``iw.load_sae()``) on SmolLM2, over docstrings it was
not trained on: it reconstructs the residual stream, and its features are nameable: the
feature most active on a word in a new sentence fires, in its top contexts, on that word."""

import sys

import pytest

import interp_widgets as iw

pytestmark = pytest.mark.integration

HELD_OUT = slice(2000, 2150)  # scripts/train_sae_smollm2.py trained on the first 1,500 docstrings
SENTENCE = "If the socket is closed, raise an exception; otherwise return True and the filename."


@pytest.fixture(scope="module")
def feats(smollm2):
    return iw.sae_features(smollm2, iw.load_sae(), iw.stdlib_docstrings()[HELD_OUT], k=10, max_len=128,
                           progress=False)


def test_shipped_sae_reconstructs_held_out_text(smollm2):
    sae = iw.load_sae()
    assert sae.check(smollm2) == "blocks.8.hook_resid_post"
    cache = iw.run_with_cache(smollm2, iw.stdlib_docstrings()[HELD_OUT][:20], names=sae.hook_name, keep_logits=False)
    x = cache[sae.hook_name][cache.attention_mask.bool()][20:].float()  # skip the sink-heavy start
    x = x[x.norm(dim=-1) < 10 * x.norm(dim=-1).median()]
    rec = sae(x).detach()
    ev = 1 - float(((rec - x) ** 2).sum(-1).mean() / ((x - x.mean(0)) ** 2).sum(-1).mean())
    assert ev > 0.8  # measured 0.9 on the training report's held-out tokens
    assert float((sae.encode(x) > 0).sum(-1).float().mean()) == pytest.approx(24)


# word in SENTENCE -> the name we give its top feature (stems its top contexts' tokens start
# with). Measured top-8 contexts: socket 8/8, open/close 8/8 (" close", " opened", " reopen"...),
# raise 6/8, True 8/8, filename 8/8.
NAMES = {" socket": ("socket",), " closed": ("clos", "open", "reop"), " raise": ("rais",), " True": ("true",),
         " filename": ("filename",)}


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="measured on Python 3.11's standard-library "
                    "docstrings; another Python holds other texts at these indices (3.12: 3,360 docstrings, not "
                    "3,582), where the features are the same but their top contexts differ")
@pytest.mark.parametrize("word", list(NAMES))
def test_features_are_nameable(smollm2, feats, word):
    tokens, acts = iw.feature_activations(smollm2, iw.load_sae(), SENTENCE)
    f = int(acts[tokens.index(word)].argmax())
    tops = [e.tokens[e.max_pos].strip().lower() for e in feats.examples(f)[:8]]
    hits = sum(t.startswith(NAMES[word]) for t in tops)
    assert hits >= 6, (f, tops)


def test_massive_activation_tokens_do_not_top_the_lists(smollm2, feats):
    """SmolLM2 makes some lone spaces and " the"s massive activations (1.5-7x the median
    residual norm at layer 8, where 99% of tokens are within 1.5x); features reach ~200 on
    them. Left out by default, they no longer top the dashboard: of the 20 features with the
    largest max, none has a whitespace-only top token, and the maxima are in the real range."""
    assert feats.info["n_outliers"] > 0
    top = feats.top_features("max", 20)
    tops = feats.top_token_ids(1)
    words = [feats.token(int(tops[i][0])) for i in top]
    assert not [w for w in words if not w.strip()], words
    assert float(feats.max_act[top[0]]) < 150
    w = feats.show()
    assert w.n_outliers == feats.info["n_outliers"]
