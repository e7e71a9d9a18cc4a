"""Attribution on a CUDA GPU: interp-widgets vs Captum on SmolLM2-135M-Instruct.

The GPU companion of ``benchmarks/attribution.py`` (which measures the CPU, where our users'
laptops are). Same prompts (natural English, trimmed to 32 and 256 tokens; target = the
model's greedy next token), same baselines (EOS at every position but the first, which is
kept), in one process on one GPU:

- ours: ``iw.attribute`` with ``integrated_gradients`` at its defaults and
  ``input_x_gradient``, in the model's dtype (fp32, then bf16);
- Captum: ``LayerIntegratedGradients`` (n_steps=50) and ``LayerGradientXActivation`` on the
  embedding layer, forward ``model(input_ids).logits[:, -1, target]`` (fp32), if installed.

Per row: median wall time of N runs (``torch.cuda.synchronize`` around each), peak GPU
memory above the model's own (``torch.cuda.max_memory_allocated``), evaluations (sequences
through the backbone), and the completeness error |sum - (F(x) - F(x'))|.

Usage::

    python benchmarks/attribution_cuda.py [--sizes 32,256] [--repeats 3]
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

from benchmarks.attribution import make_prompt  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="32,256")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dtypes", default="float32,bfloat16")
    args = ap.parse_args(argv)

    import torch
    import interp_widgets as iw
    from interp_widgets.kernels.attribution import _default_batch, baseline_token

    if not torch.cuda.is_available():
        sys.exit("no CUDA device")
    print(f"# {torch.cuda.get_device_name()}, torch {torch.__version__}", flush=True)
    try:
        from captum.attr import LayerGradientXActivation, LayerIntegratedGradients
    except ImportError:
        LayerIntegratedGradients = None
        print("# captum not installed: Captum rows skipped")

    rows = []
    for dtype_name in args.dtypes.split(","):
        dtype = getattr(torch, dtype_name)
        model = iw.load_model(device="cuda", dtype=dtype)
        hf, tok = model.hf, model.tokenizer
        counts = {"grad": 0, "fwd": 0}

        def count(module, a, kw):
            x = kw.get("input_ids")
            x = kw.get("inputs_embeds") if x is None else x
            x = a[0] if x is None and a else x
            counts["grad" if torch.is_grad_enabled() else "fwd"] += int(x.shape[0])
        model.base.register_forward_pre_hook(count, with_kwargs=True)

        for n in [int(s) for s in args.sizes.split(",")]:
            text = make_prompt(tok, n)
            ids = model.to_tokens(text)
            with torch.no_grad():
                tgt = int(hf(ids).logits[0, -1].argmax())
            base_ids = torch.full_like(ids, baseline_token(model, "eos"))
            base_ids[0, 0] = ids[0, 0]

            def fwd(input_ids):
                return hf(input_ids=input_ids).logits[:, -1, tgt].float()

            batch = _default_batch(model, ids.shape[1])

            def ours(method, **kw):
                def run():
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        a = iw.attribute(model, text, target=tgt, method=method, progress=False, **kw)
                    if "rounds" in a.info:
                        print(f"    ({method}: {a.info['rounds']} rounds of path points, batch {kw.get('internal_batch_size', batch)})")
                    err = None if a.delta is None else abs(float(a.delta[0]))
                    return err
                return run

            methods = {"ours input_x_gradient": ours("input_x_gradient"),
                       "ours integrated_gradients (default)": ours("integrated_gradients"),
                       "ours integrated_gradients (CPU batch)": ours("integrated_gradients",
                                                                    internal_batch_size=max(1, 1024 // n))}
            if LayerIntegratedGradients is not None and dtype == torch.float32:
                lig = LayerIntegratedGradients(fwd, model.embed)
                gxa = LayerGradientXActivation(fwd, model.embed)

                def captum_ig(internal_batch_size=None):  # None: Captum's default, all steps at once
                    def run():
                        attr = lig.attribute(ids, baselines=base_ids, n_steps=50,
                                             internal_batch_size=internal_batch_size)
                        with torch.no_grad():
                            span = float(fwd(ids) - fwd(base_ids))
                        return abs(float(attr.float().sum()) - span)
                    return run

                def captum_gxa():
                    gxa.attribute(ids)
                    return None
                methods["Captum LayerGradientXActivation"] = captum_gxa
                methods["Captum LayerIntegratedGradients n=50"] = captum_ig()
                methods["Captum LayerIntegratedGradients n=50, our batch"] = captum_ig(batch)

            for name, run in methods.items():
                run()  # warm-up (kernels, allocator)
                torch.cuda.synchronize()
                base_mem = torch.cuda.memory_allocated()
                torch.cuda.reset_peak_memory_stats()
                counts.update(grad=0, fwd=0)
                err = run()
                torch.cuda.synchronize()
                peak = (torch.cuda.max_memory_allocated() - base_mem) / 2**20
                evals = counts["grad"] + counts["fwd"]
                times = []
                for _ in range(args.repeats):
                    torch.cuda.synchronize()
                    t0 = time.perf_counter()
                    run()
                    torch.cuda.synchronize()
                    times.append(time.perf_counter() - t0)
                rows.append((dtype_name, n, name, statistics.median(times), peak, evals, err))
                print(f"{dtype_name:9s} {n:4d} tok  {name:40s} {statistics.median(times) * 1e3:9.1f} ms  "
                      f"peak +{peak:8.1f} MiB  evals {evals:4d}  |delta| "
                      f"{'-' if err is None else f'{err:.3f}'}", flush=True)
        del model
        torch.cuda.empty_cache()

    print("\n## Ratios (fp32): ours / Captum time")
    by = {(d, n, m): t for d, n, m, t, *_ in rows}
    for d, n, m, *_ in rows:
        if d == "float32" and m == "ours input_x_gradient" and (d, n, "Captum LayerGradientXActivation") in by:
            print(f"  {n} tokens: IxG / GxA = {by[(d, n, m)] / by[(d, n, 'Captum LayerGradientXActivation')]:.2f}; "
                  f"IG / LIG-50 = {by[(d, n, 'ours integrated_gradients (default)')] / by[(d, n, 'Captum LayerIntegratedGradients n=50')]:.2f} "
                  f"(Captum's default batch), "
                  f"{by[(d, n, 'ours integrated_gradients (default)')] / by[(d, n, 'Captum LayerIntegratedGradients n=50, our batch')]:.2f} "
                  f"(Captum at our batch)")


if __name__ == "__main__":
    main()
