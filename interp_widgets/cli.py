"""Command line: ``interp-widgets demo`` writes a self-contained HTML gallery of the tour's
views on the embedded default model (SmolLM2-135M-Instruct) and the toy models, and says
how to open the tour notebook.

Each gallery section is one function below: it computes a real result and returns its view.
A section that fails is reported and left out; the command then exits with status 1.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

EIFFEL = "The Eiffel Tower is located in the city of"
IOI_CLEAN = "When Mary and John went to the store, John gave a drink to"
IOI_CORRUPT = "When John and Mary went to the store, Mary gave a drink to"
INDUCTION = ("The old lighthouse keeper Tomasz Wielgus kept a blue notebook. "
             "The old lighthouse keeper Tomasz Wielgus kept a blue notebook.")

DEMO_PROMPTS = [EIFFEL, IOI_CLEAN, "def fibonacci(n):\n    if n < 2:\n        return"]


# --------------------------------------------------------------------------------------
# Gallery sections: (heading, caption, function(model) -> view)
# --------------------------------------------------------------------------------------

def _attribution(iw, model, prompts, method):
    views = []
    for prompt in prompts:
        a = iw.attribute(model, prompt, method=method, progress=False)
        extra = f", completeness error {a.delta[0]:+.3f}" if a.delta is not None else ""
        print(f"    {prompt!r} -> {''.join(a.tokens[a.prompt_len:])!r}{extra}")
        views.append(a.show())
    return views


def _open_top_head(r, detector="induction"):
    view = r.show(sort_by=detector, detector=detector)
    layer, head, _ = r.top_heads(detector, 1)[0]
    view.selected_layer, view.selected_head = int(layer), int(head)
    return view


def _attention(iw, model):
    return _open_top_head(iw.attention(model, INDUCTION))


def _logit_lens(iw, model):
    return iw.logit_lens(model, EIFFEL, track=" Paris").show()


def _dla(iw, model):
    return iw.direct_logit_attribution(model, IOI_CLEAN, target=(" Mary", " John")).show()


def _patching(iw, model):
    return iw.patch(model, IOI_CLEAN, IOI_CORRUPT, (" Mary", " John"), progress=False).show()


def _neuron(iw, model):
    corpus = iw.stdlib_docstrings(max_texts=60)
    return iw.neuron(model, ["The result is the sum of the parts.", "The answer is not known."], layer=9,
                     index=720, corpus=corpus, progress=False).show()


NUMBERS = ["Seven plus five equals twelve.", "She counted to one hundred.", "The answer is forty two.",
           "Multiply three by nine.", "He divided eighty by four.", "There are sixty minutes in an hour.",
           "Twenty is twice ten.", "Subtract six from fifteen.", "A dozen means twelve.", "Nine squared is eighty one."]
ANIMALS = ["The cat slept on the sofa.", "A dog barked at the mailman.", "Elephants live in large herds.",
           "The horse ran across the field.", "Lions hunt at night.", "A small bird sang in the tree.",
           "The cow gave fresh milk.", "Wolves howl at the moon.", "The rabbit hid in its burrow.",
           "Dolphins swim in warm seas."]
HAPPY = ["I love this, what a wonderful day!", "This is great, I am so happy.", "What a joy, everything is perfect.",
         "I feel fantastic and full of hope.", "Such a delightful, lovely surprise."]
SAD = ["I hate this, what a terrible day.", "This is awful, I am so sad.", "What a misery, everything is ruined.",
       "I feel miserable and hopeless.", "Such a depressing, painful loss."]


def _features(iw, model):
    sae = iw.load_sae()
    r = iw.sae_features(model, sae, iw.stdlib_docstrings(max_texts=150), max_len=128, progress=False)
    prompt = "Return True if the file is closed, otherwise raise an error."
    view = r.show()
    view.set_prompt(prompt)
    tokens, acts = iw.feature_activations(model, sae, prompt)
    pos = tokens.index(" otherwise") if " otherwise" in tokens else len(tokens) - 1
    view.selected_token = pos
    view.open_feature(int(acts[pos].argmax()))  # the feature most active on " otherwise"
    return view


def _probe(iw, model):
    p = iw.probe(model, NUMBERS + ANIMALS, ["numbers"] * len(NUMBERS) + ["animals"] * len(ANIMALS))
    return p.show(text="The cat counted to seven.")


def _steering(iw, model):
    v = iw.steering_vector(model, HAPPY, SAD, layer=15)
    pg = iw.SteeringPlayground(model, v, prompt="Today I feel", coefficient=3, max_tokens=16)
    pg.run(wait=True)
    return pg


def _superposition(iw, model):
    return iw.toy.superposition(n_features=5, n_hidden=2, sparsity=0.9).show()


def _induction_toy(iw, model):
    toy = iw.toy.attn_only()
    words = "water time word number sound people day thing call side".split()
    return _open_top_head(iw.attention(toy, " ".join(words + words)))


SECTIONS = [
    ("attribution", "Attribution: which input tokens drove each prediction",
     "Integrated gradients (checked for completeness) for the model's own continuation; click a "
     "continuation token in a notebook to explain it instead.", None),
    ("attention", "Attention: every head, ranked by induction score",
     "A sentence repeated twice: induction heads look back at the token after the earlier copy of the "
     "current one. Thumbnails for all 270 heads; the top induction head opened.", _attention),
    ("logit_lens", "Logit lens: what the model predicts after each layer",
     "The top next token read out of the residual stream after every layer; ' Paris' is tracked "
     "(the \"tracked\" button shows its rank in every cell).", _logit_lens),
    ("dla", "Direct logit attribution: which heads write ' Mary' over ' John'",
     "The final logit difference split into the embedding, every attention head and every MLP.", _dla),
    ("patching", "Activation patching: where the name information lives",
     "The residual stream of the clean IOI prompt patched into the corrupted one, layer by position.",
     _patching),
    ("neuron", "A neuron: layer 9, neuron 720",
     "Its activations on two sentences, its top contexts in Python's docstrings, its histogram and the "
     "tokens it promotes.", _neuron),
    ("features", "Sparse autoencoder features: the shipped SAE on layer 8",
     "1,024 features of a TopK SAE trained by our code on Python's docstrings (iw.load_sae()); the list is "
     "sortable and searchable, one feature is open, and a prompt shows the features on each token.", _features),
    ("probe", "A linear probe per layer: is a sentence about numbers or animals?",
     "Held-out accuracy after every layer, and the best probe applied to every token of a new sentence.", _probe),
    ("steering", "Steering: adding a happy-minus-sad direction at layer 15",
     "Baseline and steered continuations of the same prompt (greedy), generated just now.", _steering),
    ("superposition", "Toy model of superposition: five sparse features in two dimensions",
     "The ReLU output model of Elhage et al. (2022) trained in seconds at sparsity 0.9: a pentagon.",
     _superposition),
    ("induction", "Induction heads in a two-layer attention-only transformer",
     "Our toy model (trained by scripts/train_attn_only.py in about 3 minutes) on ten words repeated: "
     "previous-token heads in layer 0, induction heads in layer 1 (Olsson et al. 2022 in miniature).",
     _induction_toy),
]


def demo(out: Path, prompts: list[str], method: str, only: list[str] | None = None) -> tuple[Path, list[str]]:
    """Compute every section and write the gallery; returns the path and the failed sections."""
    import interp_widgets as iw
    from interp_widgets.export import to_html

    t0 = time.time()
    model = iw.load_model()
    print(f"loaded {model.name} on {model.device} in {time.time() - t0:.1f} s")
    views, captions, failed = [], [], []
    for key, heading, caption, fn in SECTIONS:
        if only and key not in only:
            continue
        t = time.time()
        try:
            got = _attribution(iw, model, prompts, method) if fn is None else fn(iw, model)
        except Exception as e:  # report, leave the section out, go on
            failed.append(key)
            print(f"  FAILED {key}: {type(e).__name__}: {e}", file=sys.stderr)
            traceback.print_exc()
            continue
        got = got if isinstance(got, list) else [got]
        views += got
        captions += [(heading, caption)] + [(f"{heading} ({i + 2})", "") for i in range(len(got) - 1)]
        print(f"  {key}: {time.time() - t:.1f} s")
    if not views:
        raise RuntimeError("every section of the demo failed")
    path = to_html(views, out, title=f"interp-widgets demo gallery: {model.name}", captions=captions,
                   intro="Every view below was computed just now on this machine, offline, and is saved with "
                         "its data in this one file. Hover for details; the live versions (clicks that "
                         "recompute) run in Jupyter.")
    return path, failed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="interp-widgets", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("demo", help="write an HTML gallery of the tour's views on the default model")
    d.add_argument("--out", type=Path, default=Path("interp-widgets-demo.html"), help="output HTML file")
    d.add_argument("--method", default="integrated_gradients",
                   choices=["integrated_gradients", "input_x_gradient", "saliency", "occlusion"])
    d.add_argument("--only", nargs="+", metavar="SECTION", choices=[s[0] for s in SECTIONS],
                   help="only these sections: " + ", ".join(s[0] for s in SECTIONS))
    d.add_argument("prompts", nargs="*", help="prompts for the attribution section (default: three examples)")
    args = parser.parse_args(argv)
    if args.cmd == "demo":
        t0 = time.time()
        path, failed = demo(args.out, args.prompts or DEMO_PROMPTS, args.method, args.only)
        print(f"\nwrote {path.resolve()} in {time.time() - t0:.0f} s  "
              "(self-contained: open it in any browser, no network needed)")
        nb = Path(__file__).resolve().parent.parent / "notebooks" / "00_tour.ipynb"
        where = nb if nb.exists() else "notebooks/00_tour.ipynb"
        print(f"the live, clickable version: jupyter lab {where}")
        if failed:
            print(f"these sections failed and were left out: {', '.join(failed)}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
