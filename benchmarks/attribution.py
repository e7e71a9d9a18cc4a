"""Attribution benchmark: interp-widgets vs Captum on SmolLM2-135M-Instruct (CPU, fp32).

Compares, on a 32-token and a 256-token prompt (natural English, trimmed by tokens; the
target is the model's greedy next token, its logit at the last position):

- ours: ``iw.attribute(method="integrated_gradients")`` at its defaults (adaptive; the
  default baseline, read from ``iw.attribute``'s signature, with the first token kept), the
  same with the other named baseline (``"space"`` / ``"eos"``), and
  ``method="input_x_gradient"``;
- Captum: ``LayerIntegratedGradients`` on the embedding layer (n_steps=50, gausslegendre)
  with the *same* baselines (input ids whose embeddings equal ours: the baseline token's id
  at every position but the first; asserted equal), and with an all-token id-0 baseline;
  where 50 steps miss the tolerance, Captum again with more steps (100, 200);
  ``LayerGradientXActivation`` on the embedding layer. Captum's forward function is what a
  Captum user writes: ``model(input_ids).logits[:, -1, target]``.

For each: wall time (median of N runs), peak memory, model evaluations, completeness error,
and a FLOP floor. Then the cost of IG's adaptive guard on jagged baselines, and peak memory
vs ``internal_batch_size``.

How things are measured
- Every run is a fresh subprocess (model loaded, a tiny warm-up pass), so that memory
  retained by the allocator from one method cannot hide another's peak. Timed repeats are
  interleaved rounds across methods (load on a shared machine drifts); the single-gradient
  methods (IxG, GxA) are also repeated 5 times in-process. Times: median [min-max].
- Peak memory = peak resident set size (Linux ``VmHWM``, reset through
  ``/proc/self/clear_refs`` just before the call) minus the resident set size just before
  the call, for the *first* call in that process (median over rounds). It counts everything
  the process touched (torch tensors, autograd's saved activations, allocator slack), not just
  live tensors. Falls back to sampling RSS every 2 ms with psutil where clear_refs is missing.
- Evaluations are counted by a forward pre-hook on the model's backbone: sequences run with
  autograd enabled are gradient evaluations (forward + backward), the rest forward-only.
- Completeness error = |sum of attributions - (F(x) - F(baseline))|, and relative to
  |F(x) - F(baseline)|. "tol?" uses our criterion: error <= 5% * |F(x)-F(x')| + 0.02.
- FLOP floor: 2 * P * n FLOPs per forward of n tokens, x3 for forward + backward, where P =
  parameters excluding the (tied) embedding matrix; the LM head (vocab x d_model) counted at
  one position only (ours computes only that position; Captum's naive forward computes it at
  all n positions, which is real extra work not in the floor). Attention's n^2 terms are not
  counted (+~4% at 256 tokens). Seconds at the machine's attainable fp32 matmul rate (best of
  7 2048x2048 ``torch.matmul``, measured at the start and the end; the larger is used).
  Input-only gradients skip the weight gradients, so forward + backward can cost x2 rather
  than the conventional x3: floor/time > 1 is possible.

Usage::

    python benchmarks/attribution.py            # full: 32 and 256 tokens (~23 min on 2 cores, more when shared)
    python benchmarks/attribution.py --quick    # 32 tokens, memory at 128, capped jagged runs
    python benchmarks/attribution.py --sizes 32,64 --repeats 3
    python benchmarks/attribution.py --reference-steps 512   # + per-token accuracy vs a 512-step reference

Captum is a benchmark-only dependency (``pip install captum`` / extra ``bench``).
"""

from __future__ import annotations

import argparse
import json
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
            from interp_widgets.kernels.attribution import baseline_token
            name = kw["baseline_id"]  # a named baseline ("eos", "space") as our kernel resolves it, or an id
            base_ids = torch.full_like(ids, baseline_token(model, name))
            if kw.get("keep_first"):
                base_ids[0, 0] = ids[0, 0]
            ours_b = baseline_embeddings(model, ids[0], name, bool(kw.get("keep_first")))
            assert torch.equal(model.embed(base_ids)[0], ours_b), "Captum's baseline embeddings differ from ours"
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
                a = iw.attribute(model, text, target=tgt, method=method, progress=False, **kw)
            return a, None

    times, peak, result = [], None, None
    n_runs = spec["repeats"]
    if kind in ("ours_ixg", "captum_gxa"):
        n_runs = max(n_runs, spec.get("cheap_repeats", 5))  # one gradient: repeat in-process
    for r in range(n_runs):
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
    """Best of 7 2048x2048 fp32 matmuls (the machine's attainable rate; it is shared)."""
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
    return 2 * 2048**3 / min(ts) / 1e9


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
    hdr = (f"{'tokens':>6} | {'method':<56} | {'evals grad+fwd':>14} | {'time s, median [min-max]':>24} | "
           f"{'peak dRSS MiB':>13} | {'F(x)-F(x0)':>10} | {'|err|':>8} | {'rel err':>8} | {'tol?':>4} | "
           f"{'floor x3 s':>10} | {'floor/time':>10}")
    print(hdr)
    print("-" * len(hdr))
    for label, r in rows:
        if "error" in r:
            print(f"{'':>6} | {label:<56} | ERROR: {r['error'][:300]}")
            continue
        dif = r["fx"] - r["fb"] if "fb" in r else None
        err = r.get("err")
        fl = floor_seconds(r, p_body, p_head, gflops)
        med = statistics.median(r["times"])
        print(f"{r['n_tokens']:>6} | {label:<56} | {r['grad_evals']:>6}+{r['fwd_evals']:<7} | "
              f"{fmt_time(r['times']):>24} | {r['peak_mib']:>13.0f} | "
              f"{(f'{dif:.3f}' if dif is not None else 'n/a'):>10} | "
              f"{(f'{err:.4f}' if err is not None else 'n/a'):>8} | "
              f"{(f'{err / abs(dif):.2%}' if err is not None and dif else 'n/a'):>8} | {within(r):>4} | "
              f"{fl:>10.2f} | {fl / med:>10.2f}")


def round_notes(rows):
    """Per-round evaluations / errors where they differ between rounds (float nondeterminism
    under threading can flip an adaptive decision)."""
    lines = []
    for label, r in rows:
        rounds = r.get("rounds", [])
        keys = {(x.get("grad_evals"), x.get("fwd_evals"), round(x.get("err", 0.0), 4)) for x in rounds}
        if len(keys) > 1:
            per = "; ".join(f"{x['grad_evals']}+{x['fwd_evals']} evals, "
                            f"{'|err| %.4f, ' % x['err'] if 'err' in x else ''}{x['times'][0]:.2f} s" for x in rounds)
            lines.append(f"    note: {label}: rounds differ: {per}")
    return lines


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
    ap.add_argument("--quick", action="store_true",
                    help="smaller run: 32 tokens, memory at 128 tokens, jagged runs capped at 256 evaluations")
    ap.add_argument("--sizes", help="comma-separated prompt lengths in tokens (default 32,256; quick: 32)")
    ap.add_argument("--repeats", type=int, help="interleaved timed runs for prompts <= 64 tokens (default 3; quick 2)")
    ap.add_argument("--repeats-large", type=int, default=1, help="timed runs for prompts > 64 tokens (default 1)")
    ap.add_argument("--mem-tokens", type=int, help="prompt length of the internal_batch_size memory runs "
                    "(default: the largest size; quick 128)")
    ap.add_argument("--mem-batches", default="4,16", help="internal_batch_size values to compare (default 4,16)")
    ap.add_argument("--mem-steps", type=int, default=18, help="fixed n_steps of the memory runs (default 18)")
    ap.add_argument("--jagged-max-evals", type=int,
                    help="max_evals of the jagged-baseline runs (default 1024, the library default; quick 256)")
    ap.add_argument("--captum-ibs", default="ours",
                    help="Captum IG internal_batch_size: 'ours' (the same as ours), an int, or 'none' (default ours)")
    ap.add_argument("--captum-more-steps", help="extra Captum IG n_steps for the equal-accuracy table "
                    "(default 100,200; quick: none)")
    ap.add_argument("--captum-more-max-tokens", type=int, default=64,
                    help="run the equal-accuracy table for sizes up to this many tokens (default 64)")
    ap.add_argument("--reference-steps", type=int, default=0,
                    help="also compare per-token scores with a Captum IG reference of this many steps (e.g. 512), "
                    "for sizes up to --captum-more-max-tokens (default 0: off; ~1 min per baseline at 32 tokens)")
    ap.add_argument("--no-captum", action="store_true", help="skip the Captum rows")
    ap.add_argument("--no-other", dest="other", action="store_false",
                    help="skip the rows with the other named baseline ('space' if the default is 'eos', and vice versa)")
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
    more_steps = args.captum_more_steps if args.captum_more_steps is not None else ("" if args.quick else "100,200")
    more_steps = [int(x) for x in more_steps.split(",") if x.strip()]

    have_captum = not args.no_captum
    if have_captum:
        try:
            import captum  # noqa: F401
        except ImportError:
            print("NOTE: captum is not installed; the Captum rows are skipped. "
                  "Install it with `pip install captum` (or the `bench` extra) to compare.")
            have_captum = False

    import torch
    load0 = open("/proc/loadavg").read().split()[0]
    rate0 = matmul_gflops(args.threads)
    p_body, p_head = model_sizes()
    t_start = time.perf_counter()
    import inspect
    import interp_widgets as iw
    default_b = inspect.signature(iw.attribute).parameters["baseline"].default  # the kernel's default
    other_b = "space" if default_b != "space" else "eos"

    def ibs_for(n):
        if args.captum_ibs == "ours":  # the kernel's default batch
            from interp_widgets.kernels import attribution as kernel
            return max(1, min(16, getattr(kernel, "_BATCH_TOKENS", 4096) // n))
        return None if args.captum_ibs == "none" else int(args.captum_ibs)

    def captum_ig(steps, baseline_id, keep_first, ibs):
        return {"kind": "captum_ig", "kwargs": {"baseline_id": baseline_id, "keep_first": keep_first,
                                                "internal_batch_size": ibs, "n_steps": steps}}

    sections = []  # (title, rows, note lines)
    summary = []
    summary_ref = []  # (n, lines): per-token accuracy against a reference
    for n in sizes:
        reps = repeats if n <= 64 else args.repeats_large
        base = {"n_tokens": n, "repeats": 1, "threads": args.threads}
        ours_def = f"ours IG defaults (adaptive, baseline={default_b!r}, first kept)"
        ours_oth = f"ours IG baseline={other_b!r} (first kept)"
        cap_def = f"Captum LIG n=50, {default_b}+first kept, ibs={ibs_for(n)}"
        cap_oth = f"Captum LIG n=50, {other_b}+first kept, ibs={ibs_for(n)}"
        specs = [(ours_def, {"kind": "ours_ig"}), ("ours input x gradient", {"kind": "ours_ixg"})]
        if args.other:
            specs.append((ours_oth, {"kind": "ours_ig", "kwargs": {"baseline": other_b}}))
        if have_captum:
            ibs = ibs_for(n)
            specs.append((cap_def, captum_ig(50, default_b, True, ibs)))
            if args.other:
                specs.append((cap_oth, captum_ig(50, other_b, True, ibs)))
            specs.append((f"Captum LIG n=50, all id 0, ibs={ibs}", captum_ig(50, 0, False, ibs)))
            if n <= 64 and not args.quick and ibs is not None:
                specs.append((f"Captum LIG n=50, {default_b}+first kept, ibs=None", captum_ig(50, default_b, True, None)))
            specs.append(("Captum LayerGradientXActivation", {"kind": "captum_gxa"}))
        # Repeats are interleaved rounds, one fresh process per run, so that load drifting on the
        # shared machine hits every method alike. Single-gradient methods also repeat in-process.
        res: dict = {}
        for r in range(reps):
            for label, spec in specs:
                print(f"  ... {n} tokens, round {r + 1}/{reps}: {label}", file=sys.stderr, flush=True)
                out = run_worker({**base, **spec}, args.timeout)
                if label not in res or "error" in res[label]:
                    res[label] = dict(out, peaks=[out.get("peak_mib")], rounds=[out])
                elif "error" not in out:
                    res[label]["times"] += out["times"]
                    res[label]["peaks"].append(out["peak_mib"])
                    res[label]["rounds"].append(out)
        for r in res.values():
            if "error" not in r:
                r["peak_mib"] = statistics.median(r["peaks"])
        rows = [(label, res[label]) for label, _ in specs]
        by = dict(rows)
        ours_ig, ours_ixg = by[ours_def], by["ours input x gradient"]
        sections.append((f"{n}-token prompt (target = greedy next token {ours_ig.get('target', '?')!r}; IG times: "
                         f"median of {reps} interleaved runs [min-max]; IxG/GxA: median of all their calls)",
                         rows, round_notes(rows)))
        if have_captum:
            cap_gxa = by["Captum LayerGradientXActivation"]
            pairs = [(default_b, by[ours_def], by[cap_def])]
            if args.other:
                pairs.append((other_b, by[ours_oth], by[cap_oth]))
            summary.append(f"{n} tokens: ours-IxG / Captum-GxA time = {ratio(ours_ixg, cap_gxa)} "
                           f"(scores: {agreement(ours_ixg, cap_gxa)})")
            for b, o, c in pairs:
                summary.append(
                    f"{n} tokens, baseline {b}+first kept: ours-IG / Captum-IG(50) time = {ratio(o, c)}, "
                    f"evals = {ratio(o, c, 'evals')}; within tol: ours {within(o)}, Captum {within(c)}; "
                    f"scores: {agreement(o, c)}")
            if args.other:
                summary.append(f"{n} tokens: ours IG {other_b!r} / ours IG {default_b!r} (default) time = "
                               f"{ratio(by[ours_oth], ours_ig)}, evals = {ratio(by[ours_oth], ours_ig, 'evals')}")

            # ---- per-token accuracy against a many-step reference ----------------------------
            if args.reference_steps and n <= args.captum_more_max_tokens:
                import numpy as np
                lines = []
                for b, o, c in pairs:
                    label = f"Captum LIG n={args.reference_steps}, {b}+first kept (reference)"
                    print(f"  ... {n} tokens: {label}", file=sys.stderr, flush=True)
                    ref = run_worker({**base, **captum_ig(args.reference_steps, b, True, ibs_for(n))}, args.timeout)
                    if "error" in ref or "error" in o or "error" in c:
                        lines.append(f"  baseline {b}: n/a")
                        continue
                    y = np.array(ref["scores"])

                    def err(r):
                        x = np.array(r["scores"])
                        return f"{np.abs(x - y).sum() / np.abs(y).sum():.2%} (max |diff| {np.abs(x - y).max():.3f})"
                    lines.append(f"  baseline {b}+first kept: reference |delta| {ref['err']:.4f}; per-token L1 error / "
                                 f"L1(reference): ours IG ({o['grad_evals'] + o['fwd_evals']} evals, |delta| "
                                 f"{o['err']:.3f}) {err(o)}; Captum n=50 (|delta| {c['err']:.3f}) {err(c)}")
                summary_ref.append((n, lines))

            # ---- what Captum needs for the same accuracy (where its 50 steps missed) -------
            if more_steps and n <= args.captum_more_max_tokens:
                for b, o, c in pairs:
                    if within(c) != "NO":
                        continue
                    mrows = [(f"ours IG baseline={b!r}, from above", o), (f"Captum LIG n=50, {b}+first kept, from above", c)]
                    for steps in more_steps:
                        label = f"Captum LIG n={steps}, {b}+first kept, ibs={ibs_for(n)}"
                        print(f"  ... {n} tokens: {label}", file=sys.stderr, flush=True)
                        mrows.append((label, run_worker({**base, **captum_ig(steps, b, True, ibs_for(n))}, args.timeout)))
                    sections.append((f"{n} tokens, baseline {b}+first kept: Captum IG at more steps (what the same "
                                     f"accuracy costs; 1 run each)", mrows, []))

    # ---- adaptive guard on jagged baselines ------------------------------------------
    base = {"prompt": "eiffel", "n_tokens": 10, "repeats": 1, "threads": args.threads}
    jspecs = [(f"ours IG defaults (baseline={default_b!r}, first kept)", {}),
              ("ours IG baseline='zero', keep_first=False", {"baseline": "zero", "keep_first": False, "max_evals": jag_max}),
              ("ours IG baseline=0 (id 0, first kept)", {"baseline": 0, "max_evals": jag_max}),
              ("ours IG baseline=0, keep_first=False", {"baseline": 0, "keep_first": False, "max_evals": jag_max})]
    jrows = []
    for label, kw in jspecs:
        print(f"  ... jagged: {label}", file=sys.stderr, flush=True)
        jrows.append((label, run_worker({**base, "kind": "ours_ig", "kwargs": kw}, args.timeout)))
    if have_captum:
        for label, spec in [("Captum LIG n=50, all id 0", captum_ig(50, 0, False, 16)),
                            (f"Captum LIG n=50, {default_b}+first kept", captum_ig(50, default_b, True, 16))]:
            print(f"  ... jagged: {label}", file=sys.stderr, flush=True)
            jrows.append((label, run_worker({**base, **spec}, args.timeout)))
    notes = [f"    {label}: {r['intervals']} intervals at the end, the smallest {r['min_interval']:.3g} wide"
             for label, r in jrows if "min_interval" in r]
    sections.append((f"Adaptive guard on jagged baselines (Eiffel prompt, 10 tokens, target ' Paris'; "
                     f"max_evals={jag_max}; 1 run each)", jrows, notes))

    # ---- memory vs internal_batch_size ---------------------------------------------
    base = {"n_tokens": mem_tokens, "repeats": 1, "threads": args.threads}
    mrows = []
    for b in mem_batches:
        print(f"  ... memory: internal_batch_size={b}", file=sys.stderr, flush=True)
        mrows.append((f"ours IG n_steps={args.mem_steps}, internal_batch_size={b}",
                      run_worker({**base, "kind": "ours_ig",
                                  "kwargs": {"n_steps": args.mem_steps, "internal_batch_size": b}}, args.timeout)))
    notes = [f"    {label}: {r['peak_mib']:.0f} MiB peak dRSS, "
             f"{statistics.median(r['times']) / max(1, r['grad_evals']):.2f} s per gradient evaluation"
             for label, r in mrows if "error" not in r]
    sections.append((f"Peak memory vs internal_batch_size ({mem_tokens} tokens, our IG with fixed "
                     f"n_steps={args.mem_steps}, 1 run; the completeness error is irrelevant here)", mrows, notes))

    # ---- report ----------------------------------------------------------------------
    rate1 = matmul_gflops(args.threads)
    gflops = max(rate0, rate1)
    print(f"# interp-widgets attribution benchmark: SmolLM2-135M-Instruct, fp32, CPU, torch {torch.__version__}, "
          f"{args.threads or torch.get_num_threads()} threads, {os.cpu_count()} CPUs")
    print(f"# matmul rate (2048^2 fp32, best of 7): {rate0:.1f} GFLOP/s at the start, {rate1:.1f} at the end; the "
          f"floor uses {gflops:.1f}. P_body = {p_body / 1e6:.1f}M params (excl. embedding), LM head "
          f"{p_head / 1e6:.1f}M at one position")
    print("# floor = (3 x grad evals + fwd evals) x (2 P_body n + 2 P_head) FLOPs at that rate (attention n^2 terms "
          "excluded). Input-only gradients skip weight gradients, so forward+backward can be as low as x2: "
          "floor/time > 1 is possible and means 'faster than the conventional x3 floor'.")
    print(f"# each run in a fresh process (model load + warm-up excluded); the machine is shared (load average "
          f"{load0} at the start, {open('/proc/loadavg').read().split()[0]} at the end): timings are noisy.")
    print("# peak dRSS: peak resident memory during the first call minus RSS before it (VmHWM reset via clear_refs); "
          "median over rounds")
    print(f"# within tol: |err| <= {TOL:.0%} * |F(x)-F(x0)| + {ATOL} (our criterion)")
    for title, rows, notes in sections:
        print(f"\n## {title}")
        print_table(rows, p_body, p_head, gflops)
        for line in notes:
            print(line)
    if summary:
        print("\n## Ratios")
        for s in summary:
            print("  " + s)
    for n, lines in summary_ref:
        print(f"\n## {n} tokens: per-token accuracy against Captum IG with {args.reference_steps} steps (completeness "
              f"checks only the sum; this checks each token's score)")
        for line in lines:
            print(line)
    print(f"\n# total benchmark wall time {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
