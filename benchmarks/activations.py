"""Caching activations: ``iw.run_with_cache`` vs a plain Hugging Face forward vs nnsight.

On SmolLM2-135M-Instruct (CPU, fp32) and a 256-token prompt, keep every residual stream
(pre, mid, post of each of the 30 layers), every MLP activation (``mlp.hook_post``) and
every attention pattern:

- ours: ``iw.run_with_cache(model, text, names=...)`` on the model as loaded (sdpa; the
  run switches to our eager attention to expose patterns);
- HF: ``model(ids, output_hidden_states=True, output_attentions=True)`` on the same weights
  loaded with ``attn_implementation="eager"`` (sdpa returns no attentions). This gives fewer
  tensors (no resid_mid, no MLP activations): it is the floor of a forward that must
  materialise the patterns;
- nnsight (if installed, ``pip install nnsight``): ``model.trace(ids)`` saving the same
  tensors (module outputs / inputs, and attention weights from the eager attention module's
  second output) with ``.save()``.

Prints the median of N interleaved runs and the ratio ours / HF (target: <= 1.0). Ours by
default skips the LM head (``keep_logits=False``: the cache is what was asked for); HF and
nnsight compute logits at every position, so ours with ``keep_logits=True`` is shown too.

Usage::

    python benchmarks/activations.py [--tokens 256] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from benchmarks.attribution import make_prompt  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)

    import torch
    from transformers import AutoModelForCausalLM

    import interp_widgets as iw
    from interp_widgets.model import default_model_path

    model = iw.load_model()
    eager = AutoModelForCausalLM.from_pretrained(str(default_model_path()), attn_implementation="eager").eval()
    text = make_prompt(model.tokenizer, args.tokens)
    ids = model.to_tokens(text)
    n = ids.shape[1]
    names = lambda name: name.endswith(("hook_resid_pre", "hook_resid_mid", "hook_resid_post", "mlp.hook_post",
                                        "attn.hook_pattern"))

    def ours():
        c = iw.run_with_cache(model, text, names=names, keep_logits=False)
        return len(c)

    @torch.no_grad()
    def hf():
        out = eager(ids, output_hidden_states=True, output_attentions=True)
        return len(out.hidden_states) + len(out.attentions)

    def ours_logits():
        return len(iw.run_with_cache(model, text, names=names, keep_logits=True))

    runs = {"ours run_with_cache (resid pre/mid/post, mlp post, patterns)": ours,
            "HF forward, eager, output_hidden_states + output_attentions": hf}
    runs["ours, keep_logits=True (also the LM head at every position, as HF)"] = ours_logits
    try:
        from nnsight import LanguageModel

        nn_model = LanguageModel(eager, tokenizer=model.tokenizer)

        @torch.no_grad()
        def nns():
            saved = []
            with nn_model.trace(ids):
                for layer in nn_model.model.layers:  # in execution order, as nnsight requires
                    saved.append(layer.input.save())  # resid_pre
                    saved.append(layer.self_attn.output[1].save())  # attention weights
                    saved.append(layer.post_attention_layernorm.input.save())  # resid_mid
                    saved.append(layer.mlp.down_proj.input.save())  # mlp post
                    saved.append(layer.output.save())  # resid_post
            return len(saved)
        nns()
        runs["nnsight trace + save (same tensors, eager model)"] = nns
    except Exception as e:  # not installed, or an API change
        print(f"# nnsight skipped: {type(e).__name__}: {e}")

    for f in runs.values():  # warm-up
        f()
    times = {k: [] for k in runs}
    for _ in range(args.repeats):
        for k, f in runs.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    print(f"# SmolLM2-135M-Instruct, {n} tokens, CPU threads {torch.get_num_threads()}, "
          f"{args.repeats} interleaved runs")
    # ratios use the fastest run of each: on a shared machine, load only ever adds time
    med = {k: min(v) for k, v in times.items()}
    for k, v in med.items():
        print(f"{k:70s} min {v * 1e3:8.1f} ms   median {statistics.median(times[k]) * 1e3:8.1f} ms")
    keys = list(med)
    print(f"\nratio ours / HF = {med[keys[0]] / med[keys[1]]:.2f}  (target <= 1.0)")
    print(f"ratio ours with logits / HF = {med[keys[2]] / med[keys[1]]:.2f}")
    if len(keys) > 3:
        print(f"ratio ours / nnsight = {med[keys[0]] / med[keys[3]]:.2f}")


if __name__ == "__main__":
    main()
