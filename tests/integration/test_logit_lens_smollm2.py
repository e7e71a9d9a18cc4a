"""The logit lens on the real SmolLM2: " Paris" emerges only in the last layers."""

import numpy as np
import pytest

import interp_widgets as iw

pytestmark = pytest.mark.integration

PROMPT = "The Eiffel Tower is located in the city of"


def test_paris_emerges_in_the_last_layers(smollm2):
    r = iw.logit_lens(smollm2, PROMPT, k=10)
    assert r.top_ids.shape[:2] == (31, len(r.tokens)) and r.layers[-1] == "29"
    assert r.top_tokens()[-1] == " Paris"
    t = r.track(" Paris")
    last = t.rank[:, -1]
    # measured: rank 2860 at embed, ~4000-13000 through layer 20, 188 after layer 22,
    # 0 from layer 27 on
    assert (last[-3:] == 0).all(), last
    assert (last[:10] > 100).all(), last
    assert t.prob[-1, -1] == pytest.approx(float(r.top_probs[-1, -1, 0]), rel=1e-4)
    # the view carries it in track mode
    w = r.show(mode="track")
    assert w.mode == "track" and w.track_index == 0 and w.tracked_labels == [" Paris"]
    np.testing.assert_array_equal(w.tracked_rank[0], t.rank)
