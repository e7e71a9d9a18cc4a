"""Attribution benchmark: interp-widgets vs Captum on SmolLM2-135M-Instruct (CPU, fp32).

Compares, on a 32-token and a 256-token prompt (natural English, trimmed by tokens; the
target is the model's greedy next token, its logit at the last position):

- ours: ``iw.attribute(method="integrated_gradients")`` at its defaults (adaptive, baseline
  = space token with the first token kept) and ``method="input_x_gradient"``;
- Captum: ``LayerIntegratedGradients`` on the embedding layer (n_steps=50, gausslegendre)
  with the *same* baseline (input ids whose embeddings equal ours: space token id at every
  position but the first), and with an all-token id-0 baseline; ``LayerGradientXActivation``
  on the embedding layer. Captum's forward function is what a Captum user writes:
  ``model(input_ids).logits[:, -1, target]``.

For each: wall time (median of N runs), peak memory, model evaluations, completeness error,
and a FLOP floor. Then the cost of IG's adaptive guard on jagged baselines, and peak memory
vs ``internal_batch_size``.

How things are measured
- Every measurement runs in a fresh subprocess (model loaded, a tiny warm-up pass), so that
  memory retained by the allocator from one method cannot hide another's peak.
- Peak memory = peak resident set size (Linux ``VmHWM``, reset through
  ``/proc/self/clear_refs`` just before the call) minus the resident set size just before
  the call, for the *first* call in that process. It counts everything the process touched
  (torch tensors, autograd's saved activations, allocator slack), not just live tensors.
  Falls back to sampling RSS every 2 ms with psutil where clear_refs is unavailable.
- Evaluations are counted by a forward pre-hook on the model's backbone: sequences run with
  autograd enabled are gradient evaluations (forward + backward), the rest forward-only.
- Completeness error = |sum of attributions - (F(x) - F(baseline))|, and relative to
  |F(x) - F(baseline)|. "within tol" uses our criterion: error <= 5% * |F(x)-F(x')| + 0.02.
- FLOP floor: 2 * P * n FLOPs per forward of n tokens, x3 for forward + backward, where P =
  parameters excluding the (tied) embedding matrix; the LM head (vocab x d_model) counted at
  one position only (ours computes only that position; Captum's naive forward computes it at
  all n positions, which is real extra work not in the floor). Attention's n^2 terms are not
  counted (+~4% at 256 tokens). The floor in seconds uses a measured fp32 matmul rate of this
  machine (2048x2048 torch.matmul, median of 7). Input-only gradients could in principle cost
  x2 rather than x3 (no weight gradients); the x3 floor is the conventional one.

Usage::

    python benchmarks/attribution.py            # full: 32 and 256 tokens (~25-40 min on 2 busy cores)
    python benchmarks/attribution.py --quick    # 32 tokens, memory at 128, capped jagged runs (~5-8 min)
    python benchmarks/attribution.py --sizes 32,64 --repeats 3

Captum is a benchmark-only dependency (``pip install captum`` / extra ``bench``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

TOL, ATOL = 0.05, 0.02

# Natural English sources; prompts are their first n tokens (n <= 32 from SHORT).
SHORT = ("My grandmother kept a small garden behind her house, where she grew tomatoes, beans and "
         "sunflowers. Every morning she walked out with a watering can and talked to")
LONG = (
    "The river town of Millbrook grew up around a wooden bridge that farmers used to carry grain "
    "to the market on the other side. For most of the nineteenth century the town had a single "
    "street, a church, two inns and a blacksmith who also served as the postmaster. Everything "
    "changed in 1871, when the railway company decided to lay its new line along the valley "
    "instead of over the hills. Within ten years the population had tripled, and the old wooden "
    "bridge was replaced by a stone one wide enough for carts to pass each other. Mills were "
    "built along the riverbank, and the noise of their wheels could be heard from the church "
    "tower. The children of the farmers went to work in the mills, and many of them never went "
    "back to the fields. A school was opened in 1885, paid for by the owner of the largest mill, "
    "who wanted his workers to be able to read the notices he posted on the factory gates. "
    "Today the mills are closed, but their buildings still stand. Some have become apartments, "
    "one is a museum about the history of the valley, and the largest now houses a library and "
    "a small theatre. Every summer the town holds a festival on the stone bridge, with music, "
    "food stalls and a boat race on the river. Visitors who come by train are often surprised "
    "to learn that the station, which looks so modest today, was once the busiest between the "
    "capital and the coast. In the museum there is a photograph of the first train arriving in "
    "Millbrook, surrounded by a crowd of people in their best clothes. Beneath the photograph "
    "a small card explains that the engine driver that day was the son of the blacksmith, who had "
    "left the town as a boy to work for the railway company in the city."
)
EIFFEL = ("The Eiffel Tower is located in the city of", " Paris")


# ======================================================================================
# Worker side (one measurement per process)
# ======================================================================================

def make_prompt(tok, n: int) -> str:
    """Natural English text whose tokenization is exactly ``n`` tokens."""
    src = SHORT if n <= len(tok(SHORT).input_ids) else LONG
    while len(tok(src).input_ids) < n + 8:
        src = src + "\n\n" + LONG  # very long sizes: the passage repeats
    ids = tok(src).input_ids
    for k in range(n, min(len(ids), n + 16) + 1):  # decode/re-encode must round-trip to n tokens
        text = tok.decode(ids[:k])
        if len(tok(text).input_ids) == n:
            return text
    raise RuntimeError(f"could not build a prompt of exactly {n} tokens")


class PeakRSS:
    """Peak resident memory added during a block (MiB)."""

    def __init__(self):
        self.how = "VmHWM (clear_refs)" if self._can_reset() else "psutil sampling @2ms"

    @staticmethod
    def _status(key: str) -> int:
        with open("/proc/self/status") as f:
            return int(re.search(rf"^{key}:\s+(\d+) kB", f.read(), re.M).group(1)) * 1024

    def _can_reset(self) -> bool:
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            return self._status("VmHWM") <= self._status("VmRSS") + (1 << 20)
        except OSError:
            return False

    def __enter__(self):
        if self.how.startswith("VmHWM"):
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            self.rss0 = self._status("VmRSS")
        else:
            import psutil
            proc = psutil.Process()
            self.rss0 = proc.memory_info().rss
            self._peak, self._stop = self.rss0, threading.Event()

            def sample():
                while not self._stop.is_set():
                    self._peak = max(self._peak, proc.memory_info().rss)
                    time.sleep(0.002)
            self._thread = threading.Thread(target=sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        if self.how.startswith("VmHWM"):
            peak = self._status("VmHWM")
        else:
            self._stop.set()
            self._thread.join()
            peak = self._peak
        self.mib = (peak - self.rss0) / 2**20


def worker(spec: dict) -> dict:
    import torch
    import interp_widgets as iw
    from interp_widgets.kernels.attribution import baseline_embeddings

    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    model = iw.load_model()
    tok, hf = model.tokenizer, model.hf
    if spec.get("prompt") == "eiffel":
        text = EIFFEL[0]
    else:
        text = make_prompt(tok, spec["n_tokens"])
    ids = model.to_tokens(text)
    n = ids.shape[1]
    with torch.no_grad():
        greedy = int(hf(ids).logits[0, -1].argmax())
    tgt = model.token_id(EIFFEL[1]) if spec.get("prompt") == "eiffel" else greedy

    # evaluation counter: sequences through the backbone, with / without autograd
    counts = {"grad": 0, "fwd": 0}

    def count(module, args, kwargs):
        x = kwargs.get("input_ids")
        if x is None:
            x = kwargs.get("inputs_embeds")
        if x is None and args:
            x = args[0]
        counts["grad" if torch.is_grad_enabled() else "fwd"] += int(x.shape[0])
    model.base.register_forward_pre_hook(count, with_kwargs=True)

    # warm-up: a small forward+backward (thread pools, lazy allocations)
    w = model.embed(ids[:, :8]).detach().requires_grad_(True)
    torch.autograd.grad(model.logits_from_hidden(model.forward_hidden(inputs_embeds=w)[:, -1])[:, tgt].sum(), w)

    kind, kw = spec["kind"], dict(spec.get("kwargs", {}))
    out: dict = {"n_tokens": n, "target": tok.decode([tgt]), "greedy": tok.decode([greedy])}

    def f_value(batch_ids):  # F on input ids, not counted
        with torch.no_grad():
            return float(hf(batch_ids).logits[0, -1, tgt])

    if kind.startswith("captum"):
        try:
            from captum.attr import LayerGradientXActivation, LayerIntegratedGradients
        except ImportError:
            return {"error": "captum is not installed (pip install captum)"}

        def forward_fn(input_ids):
            return hf(input_ids=input_ids).logits[:, -1, tgt]

        if kind == "captum_ig":
            from interp_widgets.kernels.attribution import _space_token
            bid = _space_token(model) if kw["baseline_id"] == "space" else kw["baseline_id"]
            base_ids = torch.full_like(ids, bid)
            if kw.get("keep_first"):
                base_ids[0, 0] = ids[0, 0]
                ours_b = baseline_embeddings(model, ids[0], "space", True)
                assert torch.equal(model.embed(base_ids)[0], ours_b), "Captum baseline != ours"
            lig = LayerIntegratedGradients(forward_fn, model.embed)

            def run():
                attr, delta = lig.attribute(ids, baselines=base_ids, n_steps=kw.get("n_steps", 50),
                                            internal_batch_size=kw.get("internal_batch_size"),
                                            return_convergence_delta=True)
                return attr[0].sum(-1), float(delta[0])
        else:
            gxa = LayerGradientXActivation(forward_fn, model.embed)

            def run():
                return gxa.attribute(ids)[0].sum(-1), None
    else:
        method = "input_x_gradient" if kind == "ours_ixg" else "integrated_gradients"

        def run():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                a = iw.attribute(model, text, target=tgt, method=method, **kw)
            return a, None

    times, peak, result = [], None, None
    for r in range(spec["repeats"]):
        counts.update(grad=0, fwd=0)
        tracker = PeakRSS()
        with tracker:
            t0 = time.perf_counter()
            result = run()
            times.append(time.perf_counter() - t0)
        if r == 0:
            peak, out["mem_how"] = tracker.mib, tracker.how
            out["grad_evals"], out["fwd_evals"] = counts["grad"], counts["fwd"]
    out.update(times=times, peak_mib=peak)

    if kind.startswith("captum"):
        scores, captum_delta = result
        out["scores"] = scores.detach().double().tolist()
        if kind == "captum_ig":
            fx, fb = f_value(ids), f_value(base_ids)
            out.update(fx=fx, fb=fb, captum_delta=captum_delta)
        else:
            out.update(fx=f_value(ids))
    else:
        a = result[0]
        out["scores"] = [float(s) for s in a.scores]
        out["fx"] = float(a.target_value[0])
        out["n_evals"] = int(a.n_evals)
        if a.delta is not None:
            out.update(fb=float(a.baseline_value[0]), ours_delta=float(a.delta[0]),
                       intervals=a.info.get("intervals"), min_interval=a.info.get("min_interval"))
    if "fb" in out:
        out["err"] = abs(sum(out["scores"]) - (out["fx"] - out["fb"]))
    return out


# ======================================================================================
# Driver side
# ======================================================================================

def run_worker(spec: dict, timeout: float) -> dict:
    env = dict(os.environ, TRANSFORMERS_VERBOSITY="error", HF_HUB_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false", PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t0 = time.perf_counter()
    try:
        p = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", json.dumps(spec)],
                           capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("@@RESULT ")]
    if p.returncode != 0 or not lines:
        return {"error": f"worker failed (rc {p.returncode}): {p.stderr.strip()[-800:]}"}
    res = json.loads(lines[-1][len("@@RESULT "):])
    res["wall_with_load"] = time.perf_counter() - t0
    return res


def matmul_gflops(threads=None) -> float:
    import torch
    if threads:
        torch.set_num_threads(threads)
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    for _ in range(3):
        a @ b
    ts = []
    for _ in range(7):
        t0 = time.perf_counter()
        a @ b
        ts.append(time.perf_counter() - t0)
    return 2 * 2048**3 / statistics.median(ts) / 1e9


def model_sizes() -> tuple[int, int]:
    """(P_body: params excluding the embedding matrix and an untied LM head, P_head)."""
    from transformers import AutoConfig, AutoModelForCausalLM
    from interp_widgets.model import default_model_path
    import torch
    cfg = AutoConfig.from_pretrained(str(default_model_path()))
    with torch.device("meta"):
        m = AutoModelForCausalLM.from_config(cfg)
    total = sum(p.numel() for p in m.parameters())  # tied weights counted once
    emb = m.get_input_embeddings().weight.numel()
    head = m.get_output_embeddings().weight
    untied = head.data_ptr() != m.get_input_embeddings().weight.data_ptr() and not cfg.tie_word_embeddings
    body = total - emb - (head.numel() if untied else 0)
    return body, head.numel()


def floor_seconds(r: dict, p_body: int, p_head: int, gflops: float) -> float:
    n = r["n_tokens"]
    fwd = 2 * p_body * n + 2 * p_head
    return (3 * fwd * r["grad_evals"] + fwd * r["fwd_evals"]) / (gflops * 1e9)


def fmt_time(ts):
    if not ts:
        return "-"
    med = statistics.median(ts)
    if len(ts) == 1:
        return f"{med:.2f}"
    return f"{med:.2f} [{min(ts):.2f}-{max(ts):.2f}]"


def within(r):
    if "err" not in r:
        return "n/a"
    return "yes" if r["err"] <= TOL * abs(r["fx"] - r["fb"]) + ATOL else "NO"


def print_table(rows, p_body, p_head, gflops):
    hdr = (f"{'tokens':>6} | {'method':<44} | {'evals grad+fwd':>14} | {'time s, median [min-max]':>24} | "
           f"{'peak dRSS MiB':>13} | {'F(x)-F(x0)':>10} | {'|err|':>8} | {'rel err':>8} | {'tol?':>4} | "
           f"{'floor s':>8} | {'floor/time':>10}")
    print(hdr)
    print("-" * len(hdr))
    for label, r in rows:
        if "error" in r:
            print(f"{'':>6} | {label:<44} | ERROR: {r['error'][:300]}")
            continue
        dif = r["fx"] - r["fb"] if "fb" in r else None
        err = r.get("err")
        fl = floor_seconds(r, p_body, p_head, gflops)
        med = statistics.median(r["times"])
        print(f"{r['n_tokens']:>6} | {label:<44} | {r['grad_evals']:>6}+{r['fwd_evals']:<7} | "
              f"{fmt_time(r['times']):>24} | {r['peak_mib']:>13.0f} | "
              f"{(f'{dif:.3f}' if dif is not None else 'n/a'):>10} | "
              f"{(f'{err:.4f}' if err is not None else 'n/a'):>8} | "
              f"{(f'{err / abs(dif):.2%}' if err is not None and dif else 'n/a'):>8} | {within(r):>4} | "
              f"{fl:>8.2f} | {fl / med:>10.2f}")


def ratio(a, b, what="time"):
    if "error" in a or "error" in b:
        return "n/a"
    if what == "time":
        return f"{statistics.median(a['times']) / statistics.median(b['times']):.2f}x"
    ea, eb = a["grad_evals"] + a["fwd_evals"], b["grad_evals"] + b["fwd_evals"]
    return f"{ea}/{eb} = {ea / eb:.2f}x"


def agreement(a, b):
    import numpy as np
    if "error" in a or "error" in b:
        return "n/a"
    x, y = np.array(a["scores"]), np.array(b["scores"])
    rel = np.abs(x - y).sum() / max(np.abs(y).sum(), 1e-12)
    return f"L1 diff / L1 = {rel:.2%}, max |diff| = {np.abs(x - y).max():.4f}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller run: 32 tokens, memory at 128 tokens, jagged runs capped")
    ap.add_argument("--sizes", help="comma-separated prompt lengths in tokens (default 32,256; quick: 32)")
    ap.add_argument("--repeats", type=int, help="timed runs per measurement for prompts <= 64 tokens (default 3; quick 2)")
    ap.add_argument("--repeats-large", type=int, default=1, help="timed runs for prompts > 64 tokens (default 1)")
    ap.add_argument("--mem-tokens", type=int, help="prompt length for the internal_batch_size memory runs (default: largest size; quick 128)")
    ap.add_argument("--mem-batches", default="4,16", help="internal_batch_size values to compare (default 4,16)")
    ap.add_argument("--mem-steps", type=int, default=18, help="fixed n_steps for the memory runs (default 18 = 3 intervals x 6 nodes)")
    ap.add_argument("--jagged-max-evals", type=int, help="max_evals for the jagged-baseline runs (default 1024 = our default; quick 256)")
    ap.add_argument("--captum-ibs", default="ours", help="Captum IG internal_batch_size: 'ours' (same as ours) or an int or 'none' (default ours)")
    ap.add_argument("--no-captum", action="store_true", help="skip the Captum rows")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's default)")
    ap.add_argument("--timeout", type=float, default=3600, help="per-measurement timeout in seconds")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        res = worker(json.loads(args.worker))
        print("@@RESULT " + json.dumps(res), flush=True)
        return

    sizes = [int(s) for s in (args.sizes or ("32" if args.quick else "32,256")).split(",")]
    repeats = args.repeats or (2 if args.quick else 3)
    mem_tokens = args.mem_tokens or (128 if args.quick else max(sizes))
    jag_max = args.jagged_max_evals or (256 if args.quick else 1024)
    mem_batches = [int(b) for b in args.mem_batches.split(",")]

    have_captum = not args.no_captum
    if have_captum:
        try:
            import captum  # noqa: F401
        except ImportError:
            print("NOTE: captum is not installed; the Captum rows are skipped. "
                  "Install it with `pip install captum` (or the `bench` extra) to compare.")
            have_captum = False

    import torch
    gflops = matmul_gflops(args.threads)
    p_body, p_head = model_sizes()
    print(f"# interp-widgets attribution benchmark: SmolLM2-135M-Instruct, fp32, CPU, torch {torch.__version__}, "
          f"{args.threads or torch.get_num_threads()} threads, {os.cpu_count()} CPUs")
    print(f"# matmul rate (2048^2 fp32, median of 7): {gflops:.1f} GFLOP/s; P_body = {p_body / 1e6:.1f}M params "
          f"(excl. embedding), LM head {p_head / 1e6:.1f}M at one position")
    print(f"# times: median of {repeats} runs for prompts <= 64 tokens, {args.repeats_large} above, interleaved across "
          f"methods; each run in a fresh process (model load + warm-up excluded). The machine is shared "
          f"(load average at start: {open('/proc/loadavg').read().split()[0]}): timings are noisy.")
    print("# peak dRSS: peak resident memory during the first call minus RSS before it (VmHWM reset via clear_refs)")
    print(f"# within tol: |err| <= {TOL:.0%} * |F(x)-F(x0)| + {ATOL}", flush=True)

    def ibs_for(n):
        if args.captum_ibs == "ours":
            return max(1, min(16, 4096 // n))
        return None if args.captum_ibs == "none" else int(args.captum_ibs)

    t_start = time.perf_counter()
    all_rows = []
    summary = []
    for n in sizes:
        reps = repeats if n <= 64 else args.repeats_large
        base = {"n_tokens": n, "repeats": 1, "threads": args.threads}
        specs = [("ours IG (defaults: adaptive, space, keep first)", {"kind": "ours_ig"}),
                 ("ours input x gradient", {"kind": "ours_ixg"})]
        if have_captum:
            ibs = ibs_for(n)
            specs += [(f"Captum LIG n=50, space+first kept, ibs={ibs}",
                       {"kind": "captum_ig", "kwargs": {"baseline_id": "space", "keep_first": True, "internal_batch_size": ibs}}),
                      (f"Captum LIG n=50, all id 0, ibs={ibs}",
                       {"kind": "captum_ig", "kwargs": {"baseline_id": 0, "keep_first": False, "internal_batch_size": ibs}})]
            if n <= 64 and not args.quick and ibs is not None:
                specs.append(("Captum LIG n=50, space+first kept, ibs=None",
                              {"kind": "captum_ig", "kwargs": {"baseline_id": "space", "keep_first": True, "internal_batch_size": None}}))
            specs.append(("Captum LayerGradientXActivation", {"kind": "captum_gxa"}))
        # repeats are interleaved rounds (one fresh process per run) so that load drifting on the
        # shared machine hits every method alike; memory = median over the rounds' first calls
        res: dict = {}
        for r in range(reps):
            for label, spec in specs:
                print(f"  ... {n} tokens, round {r + 1}/{reps}: {label}", file=sys.stderr, flush=True)
                out = run_worker({**base, **spec}, args.timeout)
                if label not in res or "error" in res[label]:
                    res[label] = dict(out, peaks=[out.get("peak_mib")])
                elif "error" not in out:
                    res[label]["times"] += out["times"]
                    res[label]["peaks"].append(out["peak_mib"])
        for r in res.values():
            if "error" not in r:
                r["peak_mib"] = statistics.median(r["peaks"])
        rows = [(label, res[label]) for label, _ in specs]
        ours_ig, ours_ixg = rows[0][1], rows[1][1]
        print(f"\n## {n}-token prompt (target = greedy next token {ours_ig.get('target', '?')!r}; "
              f"times: median of {reps} interleaved runs [min-max])")
        print_table(rows, p_body, p_head, gflops)
        if have_captum:
            cap_ig, cap_gxa = rows[2][1], rows[-1][1]
            summary.append(
                f"{n} tokens: ours-IxG / Captum-GxA time = {ratio(ours_ixg, cap_gxa)}; "
                f"ours-IG / Captum-IG(50) time = {ratio(ours_ig, cap_ig)}, evals = {ratio(ours_ig, cap_ig, 'evals')}; "
                f"within tol: ours {within(ours_ig)}, Captum {within(cap_ig)}\n"
                f"    scores agree: ours IG vs Captum IG (same baseline): {agreement(ours_ig, cap_ig)}; "
                f"ours IxG vs Captum GxA: {agreement(ours_ixg, cap_gxa)}")
        all_rows += rows
        sys.stdout.flush()

    if summary:
        print("\n## Ratios")
        for s in summary:
            print("  " + s)

    # ---- adaptive guard on jagged baselines ------------------------------------------
    print(f"\n## Adaptive guard on jagged baselines (Eiffel prompt, 10 tokens, target ' Paris'; "
          f"max_evals={jag_max}; 1 run each)")
    base = {"prompt": "eiffel", "n_tokens": 10, "repeats": 1, "threads": args.threads}
    jrows = []
    for label, kw in [("ours IG default (space, first kept)", {}),
                      ("ours IG baseline='zero', keep_first=False", {"baseline": "zero", "keep_first": False}),
                      ("ours IG baseline=0 (id 0, first kept)", {"baseline": 0}),
                      ("ours IG baseline=0, keep_first=False", {"baseline": 0, "keep_first": False})]:
        if label != "ours IG default (space, first kept)":
            kw = {**kw, "max_evals": jag_max}
        print(f"  ... jagged: {label}", file=sys.stderr, flush=True)
        jrows.append((label, run_worker({**base, "kind": "ours_ig", "kwargs": kw}, args.timeout)))
    if have_captum:
        print("  ... jagged: Captum", file=sys.stderr, flush=True)
        jrows.append(("Captum LIG n=50, all id 0", run_worker(
            {**base, "kind": "captum_ig", "kwargs": {"baseline_id": 0, "keep_first": False, "internal_batch_size": 16}},
            args.timeout)))
        jrows.append(("Captum LIG n=50, space+first kept", run_worker(
            {**base, "kind": "captum_ig", "kwargs": {"baseline_id": "space", "keep_first": True, "internal_batch_size": 16}},
            args.timeout)))
    print_table(jrows, p_body, p_head, gflops)
    for label, r in jrows:
        if "min_interval" in r:
            print(f"    {label}: {r['intervals']} intervals, smallest {r['min_interval']:.3g}")

    # ---- memory vs internal_batch_size ---------------------------------------------
    print(f"\n## Peak memory vs internal_batch_size ({mem_tokens} tokens, our IG with fixed n_steps={args.mem_steps}, 1 run)")
    base = {"n_tokens": mem_tokens, "repeats": 1, "threads": args.threads}
    mrows = []
    for b in mem_batches:
        print(f"  ... memory: ibs={b}", file=sys.stderr, flush=True)
        mrows.append((f"ours IG n_steps={args.mem_steps}, internal_batch_size={b}",
                      run_worker({**base, "kind": "ours_ig",
                                  "kwargs": {"n_steps": args.mem_steps, "internal_batch_size": b}}, args.timeout)))
    print_table(mrows, p_body, p_head, gflops)
    for label, r in mrows:
        if "error" not in r:
            per = statistics.median(r["times"]) / max(1, r["grad_evals"])
            print(f"    {label}: {r['peak_mib']:.0f} MiB peak dRSS, {per:.2f} s per gradient evaluation")

    print(f"\n# total benchmark wall time {time.perf_counter() - t_start:.0f} s, load average at end "
          f"{open('/proc/loadavg').read().split()[0]} "
          f"(matmul rate re-measured at the end: {matmul_gflops(args.threads):.1f} GFLOP/s)")


if __name__ == "__main__":
    main()
