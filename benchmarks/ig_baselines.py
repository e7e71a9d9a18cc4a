"""Which integrated-gradients baseline gives a smooth path? The measurement behind the
default baseline of ``iw.attribute`` (a named token baseline with the first token kept,
``keep_first``).

For several prompts (facts, code, a chat-like sentence, a list, numbers, the Eiffel prompt)
and several baselines, F (the target token's logit at the last position) is evaluated at
``--steps + 1`` evenly spaced points of the straight path from the baseline embeddings to
the input embeddings. Reported per (prompt, baseline):

- ``jump``: the largest |F(a_{i+1}) - F(a_i)| between neighbouring points, in logits and
  relative to |F(x) - F(x')|. On a smooth path it shrinks like 1/steps; a jagged path keeps
  a large jump (a transition narrower than one step).
- ``TV``: total variation sum |F(a_{i+1}) - F(a_i)|, relative to |F(x) - F(x')| (1 = the
  logit moves monotonically; large = it swings back and forth on the way).
- our adaptive IG (``iw.attribute``, defaults except ``max_evals``, see ``--max-evals``) with
  that baseline: model evaluations used and the final completeness error |delta| (relative).

Baselines ("kept" = the first token held at its real embedding along the path):
  id0-all, space-all, kept+space, kept+id0, kept+eos (EOS, or pad), zero-all, kept+zero, and
  bos+space: a ``<|endoftext|>`` token prepended to the input and held fixed, the rest space.

A second part repeats the measurement on tiny *random* GPT-2, GPT-NeoX and Llama models
(built from configs, WordLevel tokenizer). Random weights have no attention sink or massive
activations, so that part checks that the kernel and its guard run on each family and shows
how smooth random-weight paths are; it cannot tell which baseline suits trained models.

Usage::

    python benchmarks/ig_baselines.py            # full: 6 prompts x 8 baselines, 400 steps
    python benchmarks/ig_baselines.py --quick    # 3 prompts, 200 steps, max_evals 128
    python benchmarks/ig_baselines.py --max-evals 1024   # IG at the true default budget (slow on jagged paths)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402
import torch  # noqa: E402

TOL, ATOL = 0.05, 0.02

# (name, prompt, target or None for the model's greedy next token)
PROMPTS = [
    ("eiffel", "The Eiffel Tower is located in the city of", " Paris"),
    ("fact", "The chemical symbol for gold is", None),
    ("code", "def add(a, b):\n    return a +", None),
    ("chat", "Thanks so much for helping me move last weekend! I owe you", None),
    ("list", "Monday, Tuesday, Wednesday, Thursday,", None),
    ("numbers", "The train left at 9:15 and the trip took two hours, so it arrived at", None),
]
QUICK_PROMPTS = ("eiffel", "code", "numbers")

BASELINES = ["id0-all", "space-all", "kept+space", "kept+id0", "kept+eos", "zero-all", "kept+zero", "bos+space"]


def _default_name() -> str:
    """The kernel's default baseline in this table's naming (e.g. 'eos' -> 'kept+eos')."""
    import inspect
    import interp_widgets as iw
    b = inspect.signature(iw.attribute).parameters["baseline"].default
    return f"kept+{b}" if b in ("eos", "space") else ("zero-all" if b == "zero" else str(b))


def _token(model, name: str) -> int:
    """The token id our kernel uses for a named baseline ('space', 'eos')."""
    from interp_widgets.kernels.attribution import baseline_token
    return baseline_token(model, name)


def _bos_like_id(tok) -> int:
    """``<|endoftext|>`` if the vocabulary has it, else BOS/EOS."""
    vocab = tok.get_vocab()
    if "<|endoftext|>" in vocab:
        return int(vocab["<|endoftext|>"])
    for cand in (tok.bos_token_id, tok.eos_token_id):
        if cand is not None:
            return int(cand)
    return 0


def build(model, ids: torch.Tensor, name: str):
    """(input ids, baseline embeddings [pos, d]) for baseline ``name``."""
    tok = model.tokenizer
    if name == "bos+space":
        ids = torch.cat([torch.tensor([_bos_like_id(tok)], device=ids.device), ids])
    emb = model.embed(ids[None])[0].detach()

    def tok_emb(i):
        return model.embed(torch.tensor([i], device=ids.device))[0].detach().expand_as(emb).clone()

    kind = name.split("+")[-1].replace("-all", "")
    if kind == "zero":
        base = torch.zeros_like(emb)
    elif kind == "space":
        base = tok_emb(_token(model, "space"))
    elif kind == "id0":
        base = tok_emb(0)
    elif kind == "eos":
        base = tok_emb(_token(model, "eos"))
    else:
        raise ValueError(name)
    if "+" in name:  # kept+..., bos+...: first token held at its real embedding
        base[0] = emb[0]
    return ids, base


def f_along(model, ids, base, tgt, alphas, batch=64):
    """F at each alpha of the straight path (fp32 path, like the kernel's)."""
    from interp_widgets.kernels.attribution import _path
    x = model.embed(ids[None])[0].detach()
    d = x - base
    out = []
    with torch.no_grad():
        for a in alphas.split(batch):
            h = model.forward_hidden(inputs_embeds=_path(base, d, a))
            out.append(model.logits_from_hidden(h[:, -1])[:, tgt].double())
    return torch.cat(out).cpu().numpy()


def ig_run(model, ids, base, tgt, max_evals):
    """Our adaptive IG with this baseline tensor, on these ids (through the public kernel)."""
    from interp_widgets.kernels.attribution import IGConvergenceWarning, _Target, _run
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        a = _run(model, ids, [_Target(len(ids) - 1, lambda lg: lg[:, tgt], "t")], "integrated_gradients", False,
                 baseline=base, keep_first=False, n_steps=None, tolerance=TOL, atol=ATOL,
                 max_evals=max_evals, internal_batch_size=None)
    warned = any(issubclass(x.category, IGConvergenceWarning) for x in w)
    return {"evals": int(a.n_evals), "delta": abs(float(a.delta[0])),
            "diff": float(a.target_value[0] - a.baseline_value[0]), "warned": warned,
            "time": time.perf_counter() - t0}


def measure(model, prompts, baselines, steps, max_evals, log=True, run_ig=True):
    alphas = torch.linspace(0, 1, steps + 1, dtype=torch.float64)
    rows = []
    for pname, text, target in prompts:
        ids0 = model.to_tokens(text)[0]
        if target is None:
            with torch.no_grad():
                tgt = int(model.logits_from_hidden(model.forward_hidden(input_ids=ids0[None])[:, -1])[0].argmax())
        else:
            tgt = model.token_id(target)
        for b in baselines:
            ids, base = build(model, ids0, b)
            t0 = time.perf_counter()
            f = f_along(model, ids, base, tgt, alphas)
            t_scan = time.perf_counter() - t0
            jumps = np.abs(np.diff(f))
            diff = f[-1] - f[0]
            ig = (ig_run(model, ids, base, tgt, max_evals) if run_ig else
                  {"evals": None, "delta": None, "diff": diff, "warned": False, "time": 0.0})
            row = {"prompt": pname, "baseline": b, "n": len(ids), "target": model.tokenizer.decode([tgt]),
                   "diff": diff, "jump": jumps.max(), "jump_at": float(alphas[int(jumps.argmax())]),
                   "tv": jumps.sum(), **{f"ig_{k}": v for k, v in ig.items()}, "t_scan": t_scan}
            rows.append(row)
            if log:
                print(f"  ... {pname:<8} {b:<10} scan {t_scan:5.1f}s  IG {ig['evals']} evals {ig['time']:5.1f}s",
                      file=sys.stderr, flush=True)
    return rows


def _ok(r, max_evals):
    return r["ig_delta"] is not None and r["ig_delta"] <= TOL * abs(r["diff"]) + ATOL


def print_rows(rows, max_evals):
    hdr = (f"{'prompt':<8} {'baseline':<10} {'n':>3} {'target':>9} | {'F(x)-F(x0)':>10} {'max jump':>9} "
           f"{'jump/|dF|':>9} {'at a':>6} {'TV/|dF|':>8} | {'IG evals':>8} {'|delta|':>9} {'rel':>8} {'ok':>3}")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        d = abs(r["diff"]) or 1e-12
        head = (f"{r['prompt']:<8} {r['baseline']:<10} {r['n']:>3} {r['target']!r:>9} | {r['diff']:>10.3f} "
                f"{r['jump']:>9.3f} {r['jump'] / d:>9.2f} {r['jump_at']:>6.3f} {r['tv'] / d:>8.2f} | ")
        if r["ig_evals"] is None:
            print(head + f"{'-':>8} {'-':>9} {'-':>8} {'-':>3}")
            continue
        ev = f"{'>=' if r['ig_warned'] else ''}{r['ig_evals']}"
        print(head + f"{ev:>8} {r['ig_delta']:>9.4f} {r['ig_delta'] / d:>8.2%} {'yes' if _ok(r, max_evals) else 'NO':>3}")


def summarize(rows, baselines, max_evals, title):
    print(f"\n{title}")
    hdr = (f"{'baseline':<10} | {'max jump (logits) median / worst':>32} | {'median jump/|dF|':>16} | "
           f"{'median TV/|dF|':>14} | {'IG evals median / max':>21} | {'converged':>9} | {'median rel |delta|':>18}")
    print(hdr)
    print("-" * len(hdr))
    stats = {}
    for b in baselines:
        rs = [r for r in rows if r["baseline"] == b]
        if not rs:
            continue
        rel = lambda k: [r[k] / (abs(r["diff"]) or 1e-12) for r in rs]  # noqa: E731
        s = {"jump_abs": statistics.median([r["jump"] for r in rs]), "worst_abs": max(r["jump"] for r in rs),
             "jump": statistics.median(rel("jump")), "tv": statistics.median(rel("tv")),
             "evals": statistics.median([r["ig_evals"] for r in rs]), "max_evals": max(r["ig_evals"] for r in rs),
             "conv": sum(_ok(r, max_evals) for r in rs), "n": len(rs),
             "delta": statistics.median(rel("ig_delta"))}
        stats[b] = s
        jumps = f"{s['jump_abs']:.3f} / {s['worst_abs']:.3f}"
        evals = f"{s['evals']:.0f} / {s['max_evals']}"
        print(f"{b:<10} | {jumps:>32} | {s['jump']:>16.3f} | {s['tv']:>14.2f} | {evals:>21} | "
              f"{s['conv']:>4}/{s['n']:<4} | {s['delta']:>18.2%}")
    print("(relative columns blow up where F(x) ~ F(x'); the absolute jump is in logits of the target)")
    return stats


def recommend(stats, note=""):
    # all prompts converged first, then fewest evaluations, then the smallest worst jump (logits)
    best = min(stats, key=lambda b: (stats[b]["n"] - stats[b]["conv"], stats[b]["evals"], stats[b]["worst_abs"]))
    s = stats[best]
    line = (f"RECOMMENDATION{note}: baseline '{best}' (converged on {s['conv']}/{s['n']} prompts, median "
            f"{s['evals']:.0f} evaluations, worst jump {s['worst_abs']:.2f} logits)")
    default = _default_name()
    if best != default and default in stats:
        d = stats[default]
        line += (f"; the current default '{default}': {d['conv']}/{d['n']} converged, median {d['evals']:.0f} "
                 f"evaluations, worst jump {d['worst_abs']:.2f} logits")
    else:
        line += " -- the current default"
    print(line)


# --------------------------------------------------------------------------------------
# Tiny random models
# --------------------------------------------------------------------------------------

def tiny_models():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (GPT2Config, GPT2LMHeadModel, GPTNeoXConfig, GPTNeoXForCausalLM, LlamaConfig,
                              LlamaForCausalLM, PreTrainedTokenizerFast)
    import interp_widgets as iw

    words = sorted({w for _, t, tg in PROMPTS for w in (t + " " + (tg or "")).split()})
    vocab = {"<|endoftext|>": 0, "[UNK]": 1, "[PAD]": 2}
    for w in words:
        vocab.setdefault(w, len(vocab))
    tk = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tk.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="[UNK]", pad_token="[PAD]",
                                  eos_token="<|endoftext|>")
    V = 64 if len(vocab) <= 64 else len(vocab)
    d, L, H = 64, 3, 4
    cfgs = [
        ("gpt2", GPT2LMHeadModel, GPT2Config(vocab_size=V, n_positions=64, n_embd=d, n_layer=L, n_head=H,
                                             bos_token_id=0, eos_token_id=0)),
        ("gpt_neox", GPTNeoXForCausalLM, GPTNeoXConfig(vocab_size=V, hidden_size=d, num_hidden_layers=L,
                                                       num_attention_heads=H, intermediate_size=4 * d,
                                                       max_position_embeddings=64, bos_token_id=0,
                                                       eos_token_id=0)),
        ("llama", LlamaForCausalLM, LlamaConfig(vocab_size=V, hidden_size=d, num_hidden_layers=L,
                                               num_attention_heads=H, num_key_value_heads=2,
                                               intermediate_size=2 * d, max_position_embeddings=64,
                                               bos_token_id=0, eos_token_id=0)),
    ]
    for name, cls, cfg in cfgs:
        torch.manual_seed(0)
        yield name, iw.Model(cls(cfg).eval(), tok, name=f"tiny-random-{name}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="3 prompts, 200 steps, max_evals 128")
    ap.add_argument("--steps", type=int, help="path steps (default 400; quick 200)")
    ap.add_argument("--max-evals", type=int, help="IG evaluation budget (default 256; quick 128; the library default is 1024)")
    ap.add_argument("--prompts", help="comma-separated prompt names to run (default: all; quick: eiffel,code,numbers)")
    ap.add_argument("--no-arch", action="store_true", help="skip the tiny random-architecture part")
    ap.add_argument("--long", type=int, default=0, help="also scan (no IG) every baseline on a long natural-English "
                    "prompt of this many tokens, e.g. 256 (slow: ~1 min per baseline at 100 steps)")
    ap.add_argument("--long-steps", type=int, default=100, help="path steps for --long (default 100)")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    steps = args.steps or (200 if args.quick else 400)
    max_evals = args.max_evals or (128 if args.quick else 256)
    names = args.prompts.split(",") if args.prompts else (QUICK_PROMPTS if args.quick else [p[0] for p in PROMPTS])
    prompts = [p for p in PROMPTS if p[0] in names]

    import interp_widgets as iw
    t_start = time.perf_counter()
    model = iw.load_model()
    tok = model.tokenizer
    print(f"# IG baselines on SmolLM2-135M-Instruct (fp32, CPU): {len(prompts)} prompts x {len(BASELINES)} baselines, "
          f"{steps} path steps; IG = our adaptive IG at defaults (tolerance {TOL:.0%} + {ATOL}) with max_evals={max_evals} "
          f"('>=' = budget spent, not converged; library default max_evals=1024)")
    sp, eos = _token(model, "space"), _token(model, "eos")
    print(f"# token ids: space {sp} ({tok.convert_ids_to_tokens(sp)!r}), id0 "
          f"{tok.convert_ids_to_tokens(0)!r}, eos {eos} ({tok.convert_ids_to_tokens(eos)!r}), "
          f"bos+space prepends id {_bos_like_id(tok)} ({tok.convert_ids_to_tokens(_bos_like_id(tok))!r}); "
          f"'kept' = first token held at its real embedding", flush=True)
    rows = measure(model, prompts, BASELINES, steps, max_evals)
    print()
    print_rows(rows, max_evals)
    stats = summarize(rows, BASELINES, max_evals, "## Per baseline, over prompts (jump and TV relative to |F(x)-F(x')|)")
    recommend(stats)
    print(f"# SmolLM2 part: {time.perf_counter() - t_start:.0f} s", flush=True)

    if args.long:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from attribution import make_prompt  # the attribution benchmark's long prompt
        t_long = time.perf_counter()
        long_text = make_prompt(tok, args.long)
        rows = measure(model, [(f"long{args.long}", long_text, None)], BASELINES, args.long_steps, max_evals,
                       run_ig=False)
        print(f"\n## Long prompt ({args.long} tokens, the attribution benchmark's; {args.long_steps} steps; path scan "
              f"only, no IG)")
        print_rows(rows, max_evals)
        print(f"# long-prompt part: {time.perf_counter() - t_long:.0f} s", flush=True)

    if not args.no_arch:
        t_arch = time.perf_counter()
        print("\n## Tiny random models (3 layers, d_model 64, random weights, seed 0; WordLevel tokenizer, no "
              "single-token space, so 'space' falls back to the pad token; its EOS is id 0, so kept+eos = kept+id0). "
              "Random weights: no attention sink, "
              "so this checks the kernel on each family, not the choice of baseline.")
        arch_steps = min(steps, 200)
        for name, m in tiny_models():
            r = measure(m, prompts, BASELINES, arch_steps, max_evals, log=False)
            print(f"\n### {name} ({arch_steps} steps)")
            st = summarize(r, BASELINES, max_evals, f"{name}: per baseline over {len(prompts)} prompts")
            recommend(st, note=f" (random {name}, not a basis for the default)")
        print(f"# architectures part: {time.perf_counter() - t_arch:.0f} s")
    print(f"# total wall time {time.perf_counter() - t_start:.0f} s (machine shared; times are indicative)")


if __name__ == "__main__":
    main()
