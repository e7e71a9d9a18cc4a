"""Training a small sparse autoencoder: ``iw.train_sae``.

Activations at one hook point are collected from texts (real tokens only: special tokens
such as BOS and the first position of each text are left out; without a BOS, as with
SmolLM2, the first token is the attention sink, whose activation norm is an outlier), split
90/10 into training and evaluation tokens, and an SAE is fitted with Adam:

- TopK (``k=``): loss = MSE of the reconstruction;
- standard ReLU (``l1=``): loss = MSE + l1 * sum_i f_i * ||W_dec,i||.

Tokens with massive activations (norm above ``outlier_factor`` x the median) are left out.

Decoder rows start as random unit vectors with ``W_enc = W_dec^T`` and ``b_dec`` = the mean
activation, and are renormalised to unit length after every step. The report gives, on the
evaluation tokens: MSE, explained variance, mean L0, dead features (never active), and the
model's next-token loss on the texts with the SAE spliced in at the hook, next to the clean
loss (and the loss with the activation zeroed, for scale). Positions left out of training
(massive activations, typically the first token) pass through unchanged in both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import torch

from ..model import Model
from ._progress import ticker
from ..sae import SAE

__all__ = ["train_sae", "SAEReport"]


@dataclass
class SAEReport:
    mse: float
    explained_variance: float
    l0: float
    dead_features: int
    n_features: int
    loss_clean: Optional[float]
    loss_spliced: Optional[float]
    loss_zero: Optional[float]
    n_train_tokens: int
    n_eval_tokens: int
    steps: int
    n_outliers: int = 0

    def __repr__(self) -> str:
        loss = "" if self.loss_clean is None else (
            f", LM loss clean {self.loss_clean:.3f} / with SAE {self.loss_spliced:.3f} / zeroed {self.loss_zero:.3f}")
        return (f"SAEReport(explained variance {self.explained_variance:.3f}, MSE {self.mse:.4g}, L0 {self.l0:.1f}, "
                f"dead {self.dead_features}/{self.n_features}, tokens {self.n_train_tokens}+{self.n_eval_tokens} "
                f"({self.n_outliers} outliers left out)"
                f"{loss})")


@torch.no_grad()
def _collect(model: Model, hook: str, texts: list[str], batch: int, max_tokens: Optional[int],
             max_len: int = 128, skip=None) -> torch.Tensor:
    """Activations ``[tokens, d]`` (float32) at ``hook`` over ``texts``: at most ``max_len``
    tokens per text, special tokens and tokens for which ``skip(token_string)`` is true left
    out. Texts go in batches of similar length; each forward pass stops at the hook."""
    tok = model.tokenizer
    special = set(getattr(tok, "all_special_ids", []) or [])
    pad = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)
    seqs = [model.token_ids(t, max_len) for t in texts]
    if max_tokens:  # only as many texts as needed (in order), then batch them by length
        total, n = 0, 0
        for n, s in enumerate(seqs, 1):
            total += len(s)
            if total >= max_tokens:
                break
        seqs = seqs[:n]
    skip_ids = set(special)
    if skip is not None:
        vocab = {i for s in seqs for i in s}
        skip_ids |= {i for i in vocab if skip(tok.decode([i]))}
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    rows = []

    for b in range(0, len(order), batch):
        chunk = [seqs[i] for i in order[b:b + batch] if seqs[i]]
        if not chunk:
            continue
        n = max(len(s) for s in chunk)
        ids = torch.full((len(chunk), n), int(pad), dtype=torch.long)
        mask = torch.zeros((len(chunk), n), dtype=torch.long)
        keep = torch.zeros((len(chunk), n), dtype=torch.bool)
        for j, s in enumerate(chunk):
            ids[j, :len(s)] = torch.tensor(s)
            mask[j, :len(s)] = 1
            keep[j, :len(s)] = torch.tensor([i not in skip_ids for i in s])
            keep[j, 0] = False  # BOS, or without one the first token: the attention sink
        x = model.read_activations([hook], ids.to(model.device), attention_mask=mask.to(model.device))[hook]
        rows.append(x[keep.to(x.device)].float().reshape(-1, x.shape[-1]))
    if not rows:
        raise ValueError("no tokens to train on")
    acts = torch.cat(rows)
    return acts[:max_tokens] if max_tokens else acts


def _lm_loss(model: Model, texts: list[str], hook: str, fn, max_len: int) -> float:
    """Mean next-token cross-entropy over ``texts`` (the first ``max_len`` tokens of each)
    with ``fn`` (or nothing) at ``hook``."""
    losses = []
    with torch.no_grad(), model.hooks([(hook, fn)] if fn else []):
        for t in texts:
            ids = torch.tensor([model.token_ids(t, max_len)], device=model.device)
            if ids.shape[1] < 2:
                continue
            logits = model(ids)[0, :-1].float()
            losses.append(torch.nn.functional.cross_entropy(logits, ids[0, 1:]))
    return float(torch.stack(losses).mean()) if losses else float("nan")


def train_sae(model: Model, hook: str, texts: Sequence[str], *, n_features: int, k: Optional[int] = None,
              l1: Optional[float] = None, steps: int = 2000, batch_size: int = 1024, lr: float = 1e-3,
              max_tokens: Optional[int] = None, seed: int = 0, eval_texts: int = 16,
              outlier_factor: float = 10.0, max_len: int = 128, skip=None,
              progress=None) -> tuple[SAE, SAEReport]:
    """Train a TopK (``k=``) or ReLU + L1 (``l1=``) sparse autoencoder on ``hook``.

    Args:
        model: a :class:`~interp_widgets.Model`; hook: e.g. ``"blocks.8.hook_resid_post"``.
        texts: training text (e.g. ``iw.stdlib_docstrings()``).
        n_features: the dictionary size; k or l1: the sparsity (exactly one of them).
        steps, batch_size, lr: Adam steps over random batches of tokens.
        max_tokens: cap on collected activations (default: all of ``texts``).
        eval_texts: how many of the texts to use for the spliced LM loss (0: skip; encoders
            such as BERT have no next-token loss, so it is skipped for them).
        outlier_factor: tokens whose activation norm exceeds this many times the median are
            left out (massive activations); the report counts them.
        max_len: tokens read per text (the first ``max_len``).
        skip: optional ``token_string -> bool``; tokens it accepts are left out of training
            (e.g. ``str.isspace`` for indentation runs in code, which otherwise take many
            features).
        progress: None (tqdm), False, or a callable taking a fraction.

    Returns the trained :class:`~interp_widgets.SAE` (``.save(folder)`` writes SAELens's
    format) and an :class:`SAEReport`.
    """
    texts = [t for t in texts if isinstance(t, str) and t]
    if not texts:
        raise ValueError("no texts to train on")
    if (k is None) == (l1 is None):
        raise ValueError("give exactly one sparsity setting: k= (TopK) or l1= (ReLU + L1 penalty)")
    if n_features < 1:
        raise ValueError("n_features must be >= 1")
    if k is not None and not 1 <= k <= n_features:
        raise ValueError(f"k must be in 1..n_features={n_features}, got {k}")
    name = model.resolve(hook)
    acts = _collect(model, name, texts, batch=8, max_tokens=max_tokens, max_len=max_len, skip=skip)
    if acts.shape[0] < 20:
        raise ValueError(f"only {acts.shape[0]} tokens of activations: give more text")
    # Massive activations (a few tokens whose residual norm is ~100x the rest, e.g. attention
    # sinks) would own the MSE and every feature: leave tokens above outlier_factor x the
    # median norm out of training and evaluation, and report how many.
    norms = acts.norm(dim=1)
    outliers = norms > outlier_factor * norms.median()
    acts = acts[~outliers]
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(acts.shape[0], generator=g)
    n_eval = max(10, acts.shape[0] // 10)
    ev, tr = acts[perm[:n_eval]], acts[perm[n_eval:]]
    d = acts.shape[1]
    dev = acts.device

    W_dec = torch.randn(n_features, d, generator=g).to(dev)
    W_dec = W_dec / W_dec.norm(dim=1, keepdim=True)
    sae = SAE(W_dec.T.clone(), torch.zeros(n_features), W_dec, tr.mean(0).cpu(), hook_name=name,
              architecture="topk" if k is not None else "standard", k=k).to(dev)
    opt = torch.optim.Adam(sae.parameters(), lr=lr)
    bar = ticker(progress, steps, "training SAE", "step")
    for step in range(steps):
        idx = torch.randint(tr.shape[0], (min(batch_size, tr.shape[0]),), generator=g).to(dev)
        x = tr[idx]
        f = sae.encode(x)
        loss = ((sae.decode(f) - x) ** 2).sum(-1).mean()
        if l1 is not None:
            loss = loss + l1 * (f * sae.W_dec.norm(dim=1)).sum(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            sae.W_dec.div_(sae.W_dec.norm(dim=1, keepdim=True).clamp_min(1e-8))
        bar(1)
    bar(None)

    with torch.no_grad():
        f = sae.encode(ev)
        rec = sae.decode(f)
        mse = float(((rec - ev) ** 2).sum(-1).mean())
        ev_var = float(((ev - ev.mean(0)) ** 2).sum(-1).mean())
        l0 = float((f > 0).float().sum(-1).mean())
        f_all = torch.cat([sae.encode(c) for c in acts.split(4096)])
        dead = int(((f_all > 0).sum(0) == 0).sum())
    losses = (None, None, None)
    if eval_texts and model.is_causal:
        few = texts[:eval_texts]
        cut = float(outlier_factor * norms.median())

        def splice(t, nm, fill):
            # positions left out of training (massive activations, e.g. BOS) pass unchanged
            out = fill(t)
            passthrough = (t.float().norm(dim=-1, keepdim=True) > cut)
            return torch.where(passthrough, t, out.to(t.dtype))

        losses = (_lm_loss(model, few, name, None, max_len),
                  _lm_loss(model, few, name, lambda t, nm: splice(t, nm, lambda x: sae(x.float())), max_len),
                  _lm_loss(model, few, name, lambda t, nm: splice(t, nm, torch.zeros_like), max_len))
    report = SAEReport(mse=mse, explained_variance=1 - mse / ev_var, l0=l0, dead_features=dead,
                       n_features=n_features, loss_clean=losses[0], loss_spliced=losses[1], loss_zero=losses[2],
                       n_train_tokens=int(tr.shape[0]), n_eval_tokens=int(ev.shape[0]), steps=steps,
                       n_outliers=int(outliers.sum()))
    sae.eval()
    return sae, report
