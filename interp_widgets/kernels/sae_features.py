"""Sparse-autoencoder features over a corpus: ``sae_features`` (the data of the
:class:`~interp_widgets.views.FeatureDashboard`) and ``feature_activations`` (prompt mode).

``sae_features(model, sae, texts)`` makes one streaming pass over the texts (batched,
right-padded with an attention mask; the forward pass stops right after the SAE's hook
point) and keeps, for *all* features at once and vectorised in torch:

- how many counted tokens each feature is active on (``f > 0``): density = count / tokens;
- its maximum activation and the sum of its activations (mean when active = sum / count);
- its top-``k`` activations as ``(value, text index, position)``, merged with ``torch.topk``
  batch after batch (no activation is stored beyond the current batch);
- a histogram of its active values over **fixed log-spaced bins**: ``bins`` bins (48 by
  default) with edges ``logspace(log10(lo), log10(hi), bins + 1)`` (``1e-3 .. 1e3``). Values
  below ``lo`` are counted in the first bin and values above ``hi`` in the last, so each
  feature's counts sum to its active-token count. Counts are ``[d_sae, bins]``, filled with
  ``bucketize`` + ``bincount``.

Padding, special tokens (BOS, EOS...) and the first position of each text are not counted:
with a BOS that position is the BOS; without one (SmolLM2's tokenizer adds none) the first
token is the model's attention sink, whose residual norm is many times any other's and
would top every feature's list. Tokens with a massive activation norm (above
``outlier_factor`` x the batch median, default 2; SmolLM2 has a few such whitespace tokens) are
left out too, as in ``train_sae`` (which, training on them, uses 10). The tokenised corpus (``int32``
ids per text) and the vocabulary's strings are kept in the result, so contexts are cut on
demand; the activations over a context window, the decoder direction's logit effects and
prompt mode are recomputed on demand through the result's ``_source`` handle.

Memory per batch: ``[tokens in batch, d_sae]`` float32 (e.g. 8 x 256 tokens x 16k features
= 128 MiB); lower ``batch_size`` for very wide SAEs.

>>> import interp_widgets as iw                                                  # doctest: +SKIP
>>> model = iw.load_model()                                                     # doctest: +SKIP
>>> sae, _ = iw.train_sae(model, "blocks.8.hook_resid_post", iw.stdlib_docstrings(max_texts=200),
...                       n_features=512, k=16, steps=300, progress=False)      # doctest: +SKIP
>>> feats = sae_features(model, sae, iw.stdlib_docstrings(max_texts=100))      # doctest: +SKIP
>>> feats.top_features("max")[:5], feats.examples(0)[0].tokens                  # doctest: +SKIP
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Union

import numpy as np
import torch
from torch import nn

from ..model import Model
from ..results.sae import SAEFeatures, SAESource
from ..sae import SAE
from ._progress import ticker
from .neurons import _batches, _pad, _tokenize, through_final_norm

__all__ = ["sae_features", "feature_activations", "decoder_logits", "vocab_strings"]

HIST_BINS = 48
HIST_RANGE = (1e-3, 1e3)
_N_SEARCH_LOGITS = 5


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------

def _check(model, sae) -> str:
    if not isinstance(model, Model):
        raise TypeError(f"model must be an interp_widgets.Model (see iw.load_model), got {type(model).__name__}")
    if not isinstance(sae, SAE):
        raise TypeError(f"sae must be an interp_widgets.SAE (see iw.SAE.load / iw.train_sae), got {type(sae).__name__}")
    return sae.check(model)  # ValueError naming both widths when they differ


def _pos_int(v, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{name} must be a positive int, got {v!r}")
    return int(v)


@torch.no_grad()
def _hook_acts(model: Model, hook: str, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The activations ``[batch, pos, d_in]`` at ``hook``; the pass stops right after it."""
    return model.read_activations([hook], ids, attention_mask=mask)[hook]


def _encode(sae: SAE, x: torch.Tensor) -> torch.Tensor:
    dev = sae.W_enc.device
    return sae.encode(x.to(dev).float()).float()


def vocab_strings(model: Model) -> list[str]:
    """Display text of every token id (what ``model.to_str_tokens([i])`` gives for a token
    alone: a leading space is kept for sentencepiece tokenizers). Ids beyond the tokenizer
    (padding rows of the unembedding) read ``<id>``."""
    tok = model.tokenizer
    n_tok = len(tok)
    n = n_tok
    if model.unembed is not None:
        n = max(n, int(model.unembed.weight.shape[0]))
    pieces = tok.batch_decode([[i] for i in range(n_tok)])
    raw = tok.convert_ids_to_tokens(list(range(n_tok)))
    # WordPiece (BERT): "##ple" continues a word and shows "ple"; other tokens start a word and
    # show a leading space, as to_str_tokens shows them in a text
    wordpiece = type(getattr(getattr(tok, "backend_tokenizer", None), "model", None)).__name__ == "WordPiece"
    special = set(getattr(tok, "all_special_ids", []) or [])
    out = []
    for i, (p, r) in enumerate(zip(pieces, raw)):
        if wordpiece and r and i not in special:
            p = r[2:] if r.startswith("##") else p if not p[:1].isalnum() else " " + p  # "." joins
        elif r and r[:1] in ("\u2581", "\u0120") and not p.startswith(" "):
            p = " " + p
        if "\ufffd" in p:  # part of a character (byte-level BPE): its bytes, as in a text
            p = model.to_str_tokens([i])[0]
        out.append(p)
    out += [f"<{i}>" for i in range(n_tok, n)]
    return out


def _directions(model: Model, hook: str, W_dec: torch.Tensor) -> Optional[torch.Tensor]:
    """Decoder rows ``[n, d_in]`` as directions in the residual stream ``[n, d_model]``, or
    ``None`` when the hook point is not on the residual stream (nor an MLP's neurons)."""
    if hook.endswith("mlp.hook_post"):
        site = model._sites[hook]
        if site.where != "in":
            return None
        w = site.module.weight.detach().float()  # nn.Linear: [out, in]; GPT-2 Conv1D: [in, out]
        k = model._sites[hook.replace("mlp.hook_post", "hook_mlp_out")].scale  # Granite's residual multiplier
        return W_dec @ (w.T if isinstance(site.module, nn.Linear) else w) * k
    if W_dec.shape[-1] != model.d_model or hook.endswith(("hook_z", "hook_pattern")):
        return None
    return W_dec


@torch.no_grad()
def _logit_matrix(model: Model, hook: str, W_dec: torch.Tensor) -> Optional[torch.Tensor]:
    """Direct logit effects ``[n, vocab]`` of decoder rows ``W_dec [n, d_in]``: through the
    final norm's elementwise scale and the unembedding (as ``neurons.logit_effects``)."""
    unembed = model.unembed
    if unembed is None or not model.is_causal:
        return None
    W_U = unembed.weight
    d = _directions(model, hook, W_dec.to(W_U.device).float())
    if d is None:
        return None
    return through_final_norm(model, d) @ W_U.float().T


def decoder_logits(model: Model, sae: SAE, feature: int, k: int = 10):
    """Tokens a feature's decoder direction most promotes and suppresses (direct effect).

    Returns ``(promoted, suppressed)``: lists of ``(token, effect)``, ``([], [])`` when the
    model has no unembedding or the hook point is not on the residual stream."""
    hook = _check(model, sae)
    if not 0 <= int(feature) < sae.d_sae:
        raise ValueError(f"feature {feature} is out of range: the SAE has {sae.d_sae} features (0..{sae.d_sae - 1})")
    eff = _logit_matrix(model, hook, sae.W_dec.detach()[int(feature)][None])
    if eff is None:
        return [], []
    eff = eff[0]
    k = min(int(k), eff.shape[0])
    top, bottom = torch.topk(eff, k), torch.topk(-eff, k)
    vocab = model.to_str_tokens
    promoted = [(vocab([int(i)])[0], float(v)) for v, i in zip(top.values.tolist(), top.indices.tolist())]
    suppressed = [(vocab([int(i)])[0], -float(v)) for v, i in zip(bottom.values.tolist(), bottom.indices.tolist())]
    return promoted, suppressed


@torch.no_grad()
def _promoted_ids(model: Model, hook: str, sae: SAE, n: int, chunk: int = 256) -> Optional[np.ndarray]:
    """Top-``n`` promoted token ids ``int32 [d_sae, n]`` of every feature (for search)."""
    W = sae.W_dec.detach()
    if _logit_matrix(model, hook, W[:1]) is None:
        return None
    out = np.empty((sae.d_sae, n), dtype=np.int32)
    for s in range(0, sae.d_sae, chunk):
        eff = _logit_matrix(model, hook, W[s: s + chunk])
        out[s: s + chunk] = torch.topk(eff, min(n, eff.shape[1]), dim=1).indices.cpu().numpy()
    return out


# --------------------------------------------------------------------------------------
# Public entries
# --------------------------------------------------------------------------------------

@torch.no_grad()
def sae_features(
    model: Model,
    sae: SAE,
    texts: Union[str, Sequence[str]],
    *,
    k: int = 20,
    context: Union[int, tuple[int, int]] = 8,
    batch_size: int = 8,
    max_len: int = 256,
    bins: int = HIST_BINS,
    hist_range: tuple[float, float] = HIST_RANGE,
    search_logits: bool = True,
    cache_mb: float = 256,
    outlier_factor: Optional[float] = 2.0,
    progress=None,
) -> SAEFeatures:
    """Statistics of every feature of ``sae`` over ``texts`` in one streaming pass.

    Args:
        model: a :class:`~interp_widgets.Model`.
        sae: an :class:`~interp_widgets.SAE` whose hook point and width fit ``model``.
        texts: a list of strings (the corpus; kept tokenised in the result).
        k: top activating contexts kept per feature.
        context: tokens shown before and after the max token (an int: both sides).
        batch_size: texts per forward pass; ``max_len``: tokens per text (truncated).
        bins, hist_range: the fixed log-spaced histogram bins (see the module notes).
        search_logits: also find each feature's top promoted tokens (what the dashboard's
            search looks at); costs ``d_sae x d_model x vocab`` multiply-adds.
        cache_mb: keep the hook point's activations of the texts (float32, on the CPU) up
            to this many MiB, so that opening a feature later (its contexts' activations)
            needs no forward pass; texts beyond the budget are recomputed when asked for.
            ``0`` keeps nothing.
        outlier_factor: tokens whose activation norm exceeds this many times the batch's
            median are not counted (massive activations). Measured on SmolLM2's layer 8 over
            150 docstrings (14,500 tokens): 99% of tokens lie within 1.5x the median; 1.6% —
            lone spaces, some " the" and " True" — sit at 1.5-7x, where features reach ~200
            against ~90 anywhere else, so at the old default of 10x every one of the top 12
            features by max was a lone-space feature. 2x leaves those 1.6% out and the top of
            the list becomes " copy", "www", digits, " exponent". The result's
            ``info["n_outliers"]`` counts them (the dashboard shows it). ``None`` counts
            every token.
        progress: ``None``/``True`` (a tqdm bar), ``False``, or a callable taking the
            fraction done.

    Returns:
        :class:`~interp_widgets.results.SAEFeatures`.

    Raises:
        ValueError: the SAE does not fit the model (both widths named), empty texts, bad
        arguments.
    """
    hook = _check(model, sae)
    if isinstance(texts, str):
        texts = [texts]
    texts = list(texts)
    if not texts:
        raise ValueError("no texts given: the corpus needs at least one text")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"texts must be strings; text {i} is {type(t).__name__}")
        if not t:
            raise ValueError(f"text {i} is an empty string")
    k = _pos_int(k, "k")
    batch_size = _pos_int(batch_size, "batch_size")
    max_len = _pos_int(max_len, "max_len")
    bins = _pos_int(bins, "bins")
    before, after = (context, context) if isinstance(context, int) else tuple(context)
    if not (isinstance(before, int) and isinstance(after, int) and before >= 0 and after >= 0):
        raise ValueError(f"context must be an int >= 0 or a pair of them, got {context!r}")
    lo, hi = (float(v) for v in hist_range)
    if not 0 < lo < hi:
        raise ValueError(f"hist_range must be (lo, hi) with 0 < lo < hi, got {hist_range!r}")

    dev = sae.W_enc.device
    d_sae = sae.d_sae
    edges = torch.logspace(math.log10(lo), math.log10(hi), bins + 1, dtype=torch.float64)
    inner = edges[1:-1].float().to(dev)
    count = torch.zeros(d_sae, dtype=torch.long, device=dev)
    total = torch.zeros(d_sae, dtype=torch.float64, device=dev)
    vmax = torch.zeros(d_sae, dtype=torch.float32, device=dev)
    hist = torch.zeros(d_sae * bins, dtype=torch.long, device=dev)
    top_v = torch.full((d_sae, k), -1.0, device=dev)
    top_t = torch.full((d_sae, k), -1, dtype=torch.long, device=dev)
    top_p = torch.full((d_sae, k), -1, dtype=torch.long, device=dev)
    special = torch.tensor(sorted(set(model.tokenizer.all_special_ids)), dtype=torch.long, device=model.device)
    corpus: list[Optional[np.ndarray]] = [None] * len(texts)
    cache = _ActCache(cache_mb)
    n_tokens = n_outliers = 0
    tick = ticker(progress, len(texts), "SAE features", "text")
    try:
        for text_ids, seqs in _batches(texts, model, batch_size, max_len):
            for t, s in zip(text_ids, seqs):
                corpus[t] = np.asarray(s, dtype=np.int32)
            ids, mask = _pad(model, seqs)
            counted = mask.bool() & ~torch.isin(ids, special)
            counted[:, 0] = False  # the first position: BOS, or (no BOS, e.g. SmolLM2) the attention sink
            counted = counted.to(dev)
            x = _hook_acts(model, hook, ids, mask)
            if outlier_factor is not None and bool(counted.any()):
                norms = x.float().norm(dim=-1).to(dev)
                big = counted & (norms > outlier_factor * norms[counted].median())
                n_outliers += int(big.sum())
                counted = counted & ~big
            for b, (t, s) in enumerate(zip(text_ids, seqs)):
                cache.put(t, x[b, : len(s)])
            f = _encode(sae, x)  # [B, T, d_sae]
            b_idx, p_idx = counted.nonzero(as_tuple=True)
            tick(len(seqs))
            if b_idx.numel() == 0:
                continue
            fc = f[b_idx, p_idx]  # [N, d_sae]
            t_idx = torch.tensor(text_ids, dtype=torch.long, device=dev)[b_idx]
            n_tokens += int(fc.shape[0])
            active = fc > 0
            count += active.sum(0)
            total += fc.clamp_min(0).sum(0, dtype=torch.float64)
            vmax = torch.maximum(vmax, fc.max(0).values)
            # histogram of the active values: flat index feature * bins + bin
            tok, feat = active.nonzero(as_tuple=True)
            if tok.numel():
                b = torch.bucketize(fc[tok, feat], inner)
                hist += torch.bincount(feat * bins + b, minlength=d_sae * bins)
            # top-k merge: this batch's best k per feature, then the best k of old + new
            kk = min(k, fc.shape[0])
            v, where = fc.topk(kk, dim=0)  # [kk, d_sae]
            cat_v = torch.cat([top_v, v.T], 1)
            cat_t = torch.cat([top_t, t_idx[where].T], 1)
            cat_p = torch.cat([top_p, p_idx[where].T], 1)
            top_v, sel = cat_v.topk(k, dim=1)
            top_t, top_p = cat_t.gather(1, sel), cat_p.gather(1, sel)
    finally:
        tick(None)

    valid = top_v > 0
    top_t = torch.where(valid, top_t, torch.full_like(top_t, -1))
    top_p = torch.where(valid, top_p, torch.full_like(top_p, -1))
    top_v = torch.where(valid, top_v, torch.zeros_like(top_v))
    count_np = count.cpu().numpy()
    mean = np.where(count_np > 0, total.cpu().numpy() / np.maximum(count_np, 1), 0.0)
    promoted = _promoted_ids(model, hook, sae, _N_SEARCH_LOGITS) if search_logits else None

    result = SAEFeatures(
        density=count_np / max(n_tokens, 1), max_act=vmax.clamp_min(0).cpu().numpy(), mean_act=mean,
        count=count_np, top_values=top_v.cpu().numpy(), top_text=top_t.cpu().numpy(),
        top_pos=top_p.cpu().numpy(), hist_counts=hist.view(d_sae, bins).cpu().numpy(),
        hist_edges=edges.numpy(), corpus_ids=corpus, vocab=vocab_strings(model),
        model_name=str(model.name), hook_name=hook, n_tokens=n_tokens, n_texts=len(texts),
        context=(before, after), promoted_ids=promoted,
        info={"architecture": sae.architecture, "k": k, "max_len": max_len, "sae_k": sae.k,
              "n_outliers": n_outliers, "outlier_factor": outlier_factor},
    )
    result._source = _source(model, sae, hook, max_len, batch_size, corpus, cache)
    return result


class _ActCache:
    """Hook-point activations per text (float32, CPU), up to a byte budget."""

    def __init__(self, mb: float):
        self.budget = int(max(0.0, float(mb)) * 2 ** 20)
        self.used = 0
        self.data: dict[int, torch.Tensor] = {}

    def put(self, t: int, x: torch.Tensor) -> None:
        n = x.numel() * 4
        if t in self.data or self.used + n > self.budget:
            return
        self.data[t] = x.detach().float().cpu().clone()
        self.used += n


def _source(model: Model, sae: SAE, hook: str, max_len: int, batch_size: int, corpus: list,
            cache: _ActCache) -> SAESource:
    @torch.no_grad()
    def activations(texts: list[int], feature: int) -> list[np.ndarray]:
        """The feature over each of the corpus texts ``texts`` (float32 per token)."""
        xs: dict[int, torch.Tensor] = {t: cache.data[t] for t in texts if t in cache.data}
        missing = sorted({t for t in texts if t not in xs})
        for b in range(0, len(missing), batch_size):
            chunk = missing[b: b + batch_size]
            seqs = [corpus[t].tolist() for t in chunk]
            ids, mask = _pad(model, seqs)
            x = _hook_acts(model, hook, ids, mask)
            for j, (t, s) in enumerate(zip(chunk, seqs)):
                xs[t] = x[j, : len(s)]
                cache.put(t, xs[t])
        # the whole encoder runs (TopK needs every feature to know which survive)
        return [_encode(sae, xs[t])[:, int(feature)].cpu().numpy().astype(np.float32) for t in texts]

    def logits(feature: int, k: int = 10):
        return decoder_logits(model, sae, feature, k)

    def prompt(text: str):
        return feature_activations(model, sae, text, max_len=max_len)

    return SAESource(activations=activations, logits=logits, prompt=prompt)


@torch.no_grad()
def feature_activations(model: Model, sae: SAE, text: str, *, max_len: Optional[int] = None):
    """Every feature on every token of one text (prompt mode).

    Returns:
        ``(tokens, acts)``: the token strings and ``float32 [n_tokens, d_sae]``.
    """
    hook = _check(model, sae)
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    if not text.strip():
        raise ValueError("the text is empty: type something to see its features")
    ids = _tokenize(model, text, max_len or model.n_ctx or 2048)
    if not ids:
        raise ValueError(f"the text {text!r} produced no tokens")
    t, m = _pad(model, [ids])
    f = _encode(sae, _hook_acts(model, hook, t, m))[0]
    return model.to_str_tokens(ids), f.cpu().numpy().astype(np.float32)
