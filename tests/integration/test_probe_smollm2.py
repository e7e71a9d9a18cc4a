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
