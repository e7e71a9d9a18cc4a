"""A concept SmolLM2 clearly represents: is a sentence about numbers or about animals?"""

import numpy as np
import pytest

import interp_widgets as iw

pytestmark = pytest.mark.integration

NUMBERS = ["Seven plus five equals twelve.", "She counted to one hundred.", "The answer is forty two.",
           "Multiply three by nine.", "He divided eighty by four.", "There are sixty minutes in an hour.",
           "Twenty is twice ten.", "The sum of two and two is four.", "Subtract six from fifteen.",
           "A dozen means twelve.", "Half of fifty is twenty five.", "Count the odd numbers below ten.",
           "Nine squared is eighty one.", "The year has three hundred sixty five days.",
           "Eleven minus four leaves seven.", "A million has six zeros."]
ANIMALS = ["The cat slept on the sofa.", "A dog barked at the mailman.", "Elephants live in large herds.",
           "The horse ran across the field.", "Lions hunt at night.", "A small bird sang in the tree.",
           "The cow gave fresh milk.", "Wolves howl at the moon.", "The rabbit hid in its burrow.",
           "Dolphins swim in warm seas.", "A fox crept into the garden.", "Bees gather nectar from flowers.",
           "The bear caught a salmon.", "Owls hunt mice in the dark.", "The sheep grazed on the hill.",
           "A turtle crossed the road slowly."]


def test_numbers_vs_animals_probe(smollm2):
    labels = ["numbers"] * 16 + ["animals"] * 16
    # the last token is "." in every text: what it carries about the sentence is the model's own
    r = iw.probe(smollm2, NUMBERS + ANIMALS, labels, position="last")
    # measured: 0.75 after layer 0, 1.00 from layer 1 to 29 (8 held-out sentences)
    assert float(r.test_accuracy[10:21].min()) >= 0.875
    # control: shuffled labels must not be learnable (a leak between the splits would be)
    shuffled = list(np.random.default_rng(1).permutation(labels))
    c = iw.probe(smollm2, NUMBERS + ANIMALS, shuffled, position="last")
    assert float(c.test_accuracy.mean()) <= 0.75


NEW_NUMBERS = ["Three times four is twelve.", "Add eight and nine to get seventeen."]
NEW_ANIMALS = ["The goat climbed the mountain.", "A squirrel buried an acorn."]


def test_probe_view_on_new_text(smollm2):
    """The view applies the best layer's probe to new sentences at every token."""
    from interp_widgets.kernels.probe import probe_predictions
    from interp_widgets.views.probe import ProbeView

    r = iw.probe(smollm2, NUMBERS + ANIMALS, ["numbers"] * 16 + ["animals"] * 16, layers=[1, 10, 20])
    assert r.classes == ["animals", "numbers"]
    view = r.show(text=NEW_NUMBERS[0])
    assert isinstance(view, ProbeView) and view.interactive and view.selected_layer == r.best_layer
    # measured at layer 1: P(numbers) on the final "." 1.00 and 0.995; 0.00 and 0.001 for animals
    for text in NEW_NUMBERS:
        p = view.predict(text)
        assert view.tokens[-1] == "." and p.shape == (len(view.tokens), 2)
        assert float(p[-1, 1]) > 0.8, (text, p[-1])
    for text in NEW_ANIMALS:
        view.text = text  # what the text box does
        assert view.error == ""
        assert float(view.predictions[-1, 1]) < 0.2, (text, view.predictions[-1])
    # a mixed sentence: each content word leans to its own class
    view.text = "The cat counted to seven."
    by_token = dict(zip(view.tokens, view.predictions[:, 1]))
    assert by_token[" cat"] < 0.5 < by_token[" seven"], by_token
    # a click on another layer re-applies that layer's probe to the same text
    view.selected_layer = 20
    np.testing.assert_array_equal(view.predictions, probe_predictions(smollm2, r, view.text, layer=20))
