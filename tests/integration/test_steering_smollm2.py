"""Steering SmolLM2 with a difference-of-means vector moves its next token as expected."""

import pytest
import torch

import interp_widgets as iw
from tiny_models import our_hooks

pytestmark = pytest.mark.integration

HAPPY = ["I love this, it makes me so happy.", "What a wonderful, joyful day!", "She smiled with delight.",
         "We had a great time, it was fantastic.", "This is the best news ever, I am thrilled."]
SAD = ["I hate this, it makes me so sad.", "What a terrible, miserable day.", "She cried with grief.",
       "We had an awful time, it was horrible.", "This is the worst news ever, I am devastated."]


def test_happy_sad_vector_shifts_the_next_token(smollm2):
    m = smollm2
    v = iw.steering_vector(m, HAPPY, SAD, layer=15)
    h, s = m.token_id(" happy"), m.token_id(" sad")

    def diff(c):
        lp = torch.log_softmax(iw.steered_logits(m, "Today I feel", v, coefficient=c), -1)
        return float(lp[h] - lp[s])
    d = {c: diff(c) for c in (-4, 0, 4)}
    # measured: log p(happy) - log p(sad) = +1.43 unsteered; +6.4 at +4 (the vector leaves the
    # first token, SmolLM2's attention sink, out of each text's mean)
    assert d[4] > d[0] + 2.0 and d[-4] < d[0] - 1.0, d
    assert not our_hooks(m)


def test_generate_is_greedy_and_leaves_no_hook(smollm2):
    m = smollm2
    v = iw.steering_vector(m, HAPPY, SAD, layer=15)
    base = "".join(iw.generate(m, "The Eiffel Tower is located in the city of", 3))
    assert base.startswith(" Paris")
    it = iw.generate(m, "Today I feel", 5, vector=v, coefficient=4)
    next(it)  # stop early: the hook is attached per step only
    it.close()
    assert not our_hooks(m)
    with pytest.raises(ValueError, match="finite"):
        list(iw.generate(m, "Hi", 2, vector=v, coefficient=float("nan")))
    with pytest.raises(ValueError, match="shape"):
        iw.steered_logits(m, "Hi", torch.zeros(3), layer=2)


def test_kv_cache_generation_equals_full_recompute(smollm2):
    """Greedy with the key/value cache is token for token the same as running the whole
    prefix again at every step, unsteered and steered."""
    m = smollm2
    v = iw.steering_vector(m, HAPPY, SAD, layer=15)
    for c in (0.0, 6.0):
        cached = list(iw.generate(m, "I think that today is", 8, vector=v, coefficient=c))
        full = list(iw.generate(m, "I think that today is", 8, vector=v, coefficient=c, use_cache=False))
        assert cached == full and len(cached) == 8, (c, cached, full)
    assert not our_hooks(m)


def test_playground_streams_the_steered_text(smollm2):
    from interp_widgets.views.steering import SteeringPlayground

    m = smollm2
    v = iw.steering_vector(m, HAPPY, SAD, layer=15)
    pg = iw.SteeringPlayground(m, v, prompt="I think that today is", coefficient=3.0, max_tokens=10)
    assert isinstance(pg, SteeringPlayground)
    base, steered = pg.run()
    # measured: " a great day to celebrate the new year. I'm so" vs
    #           " a great opportunity to explore and showcase your own unique"
    assert base.startswith(" a great day") and steered != base
    assert pg.steered_tokens == list(iw.generate(m, "I think that today is", 10, vector=v, coefficient=3.0))
    first = next(i for i, (a, b) in enumerate(zip(pg.baseline_tokens, pg.steered_tokens)) if a != b)
    assert pg.divergence == first and not pg.busy and not our_hooks(m)
