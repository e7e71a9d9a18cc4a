"""Activation patching on SmolLM2: ``iw.patch`` vs a straightforward batched torch-hook sweep.

The IOI-style prompt "When Mary and John went to the store, John gave a drink to" (clean)
against the names swapped (corrupted), metric logit(" Mary") - logit(" John") at the last
position, the full residual-stream sweep (``resid_pre`` of each of the 30 layers x each of
the 14 positions = 420 patched runs):

- baseline (written here, what a careful user writes with torch hooks): for each layer, one
  batch of 14 corrupted prompts, a forward pre-hook on that layer writing the clean residual
  at row i's position i, a full forward (all layers, all positions, logits at the last
  position);
- ours: ``iw.patch(model, clean, corrupted, metric, site="resid_pre")``: starts each run at
  the patched layer and reuses the corrupted run's keys/values before the patched position.

Prints the time of each (best of N, interleaved), the ratio (target: ours <= 1/3 of the
baseline), the max |difference| of the two grids (target <= 1e-4), and attribution
patching's agreement with the exact grid (correlation, max |difference|, time).

Usage::

    python benchmarks/patching.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

CLEAN = "When Mary and John went to the store, John gave a drink to"
CORRUPT = "When John and Mary went to the store, Mary gave a drink to"


def baseline_sweep(model, clean, corrupt, a, b):
    """Straightforward: one full forward per layer, batch = positions, hook = patch."""
    import torch

    layers = model.family.layers(model.base)
    n = clean.shape[1]
    with torch.no_grad():
        resid = {}
        hs = [layers[l].register_forward_pre_hook(
            lambda mod, args, kw, l=l: resid.__setitem__(l, (args[0] if args else kw["hidden_states"]).clone()),
            with_kwargs=True) for l in range(model.n_layers)]
        try:
            lc = model.hf(clean).logits[0, -1]
        finally:
            for h in hs:
                h.remove()
        lx = model.hf(corrupt).logits[0, -1]
        mc, mx = float(lc[a] - lc[b]), float(lx[a] - lx[b])
        out = torch.zeros(model.n_layers, n)
        batch = corrupt.expand(n, -1)
        idx = torch.arange(n)
        for l in range(model.n_layers):
            def pre(mod, args, kw, l=l):
                t = (args[0] if args else kw["hidden_states"]).clone()
                t[idx, idx] = resid[l][0, idx]
                if args:
                    return (t,) + tuple(args[1:]), kw
                kw = dict(kw)
                kw["hidden_states"] = t
                return args, kw
            h = layers[l].register_forward_pre_hook(pre, with_kwargs=True)
            try:
                logits = model.hf(batch).logits[:, -1]
            finally:
                h.remove()
            out[l] = logits[:, a] - logits[:, b]
    return ((out - mx) / (mc - mx)).numpy()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)

    import numpy as np
    import torch

    import interp_widgets as iw

    model = iw.load_model()
    clean, corrupt = model.to_tokens(CLEAN), model.to_tokens(CORRUPT)
    a, b = model.token_id(" Mary"), model.token_id(" John")

    def ours():
        return iw.patch(model, CLEAN, CORRUPT, (" Mary", " John"), site="resid_pre", progress=False).values

    def base():
        return baseline_sweep(model, clean, corrupt, a, b)

    ours(), base()  # warm-up
    t_ours, t_base = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter(); v_base = base(); t_base.append(time.perf_counter() - t0)
        t0 = time.perf_counter(); v_ours = ours(); t_ours.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    v_attr = iw.patch(model, CLEAN, CORRUPT, (" Mary", " John"), site="resid_pre", method="attribution",
                      progress=False).values
    t_attr = time.perf_counter() - t0

    n = clean.shape[1]
    print(f"# SmolLM2-135M-Instruct, CPU threads {torch.get_num_threads()}, resid_pre sweep "
          f"{model.n_layers} layers x {n} positions = {model.n_layers * n} patched runs; best of {args.repeats}")
    print(f"baseline (batched torch hooks, full forwards)  {min(t_base):7.2f} s   (runs: "
          + ", ".join(f"{t:.2f}" for t in t_base) + ")")
    print(f"ours iw.patch (exact)                          {min(t_ours):7.2f} s   (runs: "
          + ", ".join(f"{t:.2f}" for t in t_ours) + ")")
    print(f"ours iw.patch (method='attribution')           {t_attr:7.2f} s")
    print(f"\nratio ours / baseline = {min(t_ours) / min(t_base):.3f}  (target <= 0.333)")
    print(f"max |ours - baseline| = {np.abs(v_ours - v_base).max():.2e}  (target <= 1e-4)")
    print(f"attribution patching vs exact: correlation {np.corrcoef(v_ours.ravel(), v_attr.ravel())[0, 1]:.3f}, "
          f"max |diff| {np.abs(v_ours - v_attr).max():.3f}")
    top = np.argsort(np.abs(v_ours).ravel())[::-1][:6]
    toks = model.to_str_tokens(clean[0])
    print("largest cells (layer, position token, value): "
          + ", ".join(f"(L{i // n}, {toks[i % n]!r}, {v_ours.flat[i]:+.2f})" for i in top))


if __name__ == "__main__":
    main()
