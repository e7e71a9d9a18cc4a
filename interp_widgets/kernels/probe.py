"""Linear probes: ``iw.probe`` trains a logistic (multinomial) classifier on the residual
stream after each layer and reports held-out accuracy per layer.

Each text becomes one vector per layer (its last token, the mean over its tokens — the first
position left out when there are others: it is the BOS or, without one as in SmolLM2, the
attention sink, whose norm would swamp the mean — or one position). Features are standardised with the training split's mean and std; the probe is
fitted by full-batch L-BFGS with a small L2 penalty, in torch, on the model's device. The
split is stratified and seeded, so results repeat.

``probe_predictions`` applies a trained probe to new text, at every token.
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np
import torch

from ..model import Model
from ._progress import ticker
from ..results.probe import Probe, ProbeSource
from .activations import run_with_cache
from .steering import _mean_over_tokens

__all__ = ["probe", "probe_predictions", "probe_source"]


def _features(model: Model, texts: list[str], layers: list[int], position, batch_size: int,
              tick=lambda n: None) -> torch.Tensor:
    """``[n_texts, len(layers), d_model]`` float32 features; ``tick(n)`` after each batch."""
    names = [model.block_output(l) for l in layers]
    out = []
    for i in range(0, len(texts), batch_size):
        chunk = texts[i:i + batch_size]
        cache = run_with_cache(model, chunk, names=names, keep_logits=False)
        mask = cache.attention_mask.float()  # [b, pos]
        lengths = mask.sum(1).long()
        per_layer = []
        for name in names:
            x = cache[name].float()  # [b, pos, d]
            if position == "last":
                v = x[torch.arange(len(chunk)), lengths - 1]
            elif position == "mean" and not model.is_causal:  # as sentence-transformers pools: every token
                v = (x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
            elif position == "mean":
                v = _mean_over_tokens(x, mask)
            else:
                p = int(position)
                bad = (lengths <= p) if p >= 0 else (lengths < -p)
                if bad.any():
                    k = int(torch.nonzero(bad)[0, 0])
                    raise ValueError(f"position {p} is out of range for text {i + k} ({int(lengths[k])} tokens)")
                idx = torch.full_like(lengths, p) if p >= 0 else lengths + p
                v = x[torch.arange(len(chunk)), idx]
            per_layer.append(v)
        out.append(torch.stack(per_layer, 1))
        tick(len(chunk))
    return torch.cat(out)


def _split(y: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.nonzero(y == c)[0])
        k = max(1, int(round(len(idx) * test_fraction)))
        if len(idx) - k < 1:
            raise ValueError(f"class {c!r} has {len(idx)} example(s): too few to hold some out for testing")
        test += idx[:k].tolist()
        train += idx[k:].tolist()
    return np.array(sorted(train)), np.array(sorted(test))


def _fit(x: torch.Tensor, y: torch.Tensor, n_classes: int, l2: float, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Multinomial logistic regression by L-BFGS: weights ``[C, d]`` and bias ``[C]``."""
    w = torch.zeros(n_classes, x.shape[1], dtype=x.dtype, device=x.device, requires_grad=True)
    b = torch.zeros(n_classes, dtype=x.dtype, device=x.device, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=steps, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(x @ w.T + b, y) + l2 * (w * w).sum()
        loss.backward()
        return loss
    with torch.enable_grad():
        opt.step(closure)
    return w.detach(), b.detach()


def probe(model: Model, texts: Sequence[str], labels: Sequence, *, layers: Union[str, Sequence[int]] = "all",
          position: Union[str, int, None] = None, test_fraction: float = 0.25, seed: int = 0, l2: float = 1e-3,
          steps: int = 200, batch_size: int = 16, progress=None) -> Probe:
    """Train a linear probe per layer to predict ``labels`` from the residual stream.

    Args:
        model: a :class:`~interp_widgets.Model`.
        texts: the examples; labels: one label (any hashable: str, int...) per text, at
            least two classes.
        layers: ``"all"`` or a list of layer indices (negative ones count from the end);
            each probes block ``l``'s output, ``blocks.{l}.hook_resid_post`` (BERT:
            ``hook_normalized_resid_post``, after the block's last LayerNorm).
        position: ``"last"`` (the last token), ``"mean"`` (mean over tokens; on a causal LM
            the first is left out, the attention sink; on an encoder every token counts, as
            sentence-transformers pools) or a position. Default: ``"last"`` on a causal LM,
            ``"mean"`` on an encoder (its last token is ``[SEP]``).
        test_fraction: held out per class (stratified, seeded by ``seed``).
        l2: L2 penalty on the standardised weights; steps: L-BFGS iterations.
        progress: ``None``/``True`` (a tqdm bar over the texts read and the layers fitted),
            ``False``, or a callable taking the fraction done.

    Returns a :class:`~interp_widgets.results.Probe` with per-layer train and held-out
    accuracy and the probe directions.
    """
    texts = list(texts)
    labels = list(labels)
    if not texts:
        raise ValueError("no texts given")
    if len(labels) != len(texts):
        raise ValueError(f"labels has {len(labels)} entries but there are {len(texts)} texts: give one label per text")
    classes = sorted(set(labels), key=repr)
    if len(classes) < 2:
        raise ValueError(f"the labels have a single class ({classes[0]!r}): a probe needs at least two")
    if position is None:
        position = "last" if model.is_causal else "mean"
    if position not in ("last", "mean") and not isinstance(position, (int, np.integer)):
        raise ValueError(f"position must be 'last', 'mean' or an integer, got {position!r}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if layers == "all":
        layer_ids = list(range(model.n_layers))
    else:
        layer_ids = []
        for l in layers:
            if not -model.n_layers <= int(l) < model.n_layers:
                raise ValueError(f"layer {l} is out of range: {model.name} has {model.n_layers} layers")
            layer_ids.append(int(l) % model.n_layers)
    y_all = np.array([classes.index(v) for v in labels])
    train, test = _split(y_all, test_fraction, seed)

    tick = ticker(progress, len(texts) + len(layer_ids), "probe", "step")
    try:
        with torch.no_grad():
            feats = _features(model, texts, layer_ids, position, batch_size, tick)  # [n, L, d]
        y = torch.tensor(y_all, device=feats.device)
        tr, te = torch.tensor(train, device=feats.device), torch.tensor(test, device=feats.device)
        acc_tr, acc_te, dirs, biases = [], [], [], []
        for j in range(len(layer_ids)):
            x = feats[:, j].double()
            mu, sd = x[tr].mean(0), x[tr].std(0).clamp_min(1e-6)
            z = (x - mu) / sd
            w, b = _fit(z[tr], y[tr], len(classes), l2, steps)
            pred = (z @ w.T + b).argmax(-1)
            acc_tr.append(float((pred[tr] == y[tr]).double().mean()))
            acc_te.append(float((pred[te] == y[te]).double().mean()))
            # in residual units: w.(x - mu)/sd + b = (w/sd).x + (b - (w/sd).mu)
            w_res = w / sd
            dirs.append(w_res.float().cpu().numpy())
            biases.append((b - w_res @ mu).float().cpu().numpy())
            tick(1)
    finally:
        tick(None)
    majority = float(np.bincount(y_all[test], minlength=len(classes)).max() / len(test))
    result = Probe(layers=layer_ids, classes=classes, train_accuracy=np.array(acc_tr, dtype=np.float32),
                   test_accuracy=np.array(acc_te, dtype=np.float32), directions=np.stack(dirs),
                   biases=np.stack(biases), position=position, n_train=len(train), n_test=len(test),
                   model_name=model.name, n_model_layers=model.n_layers, info={"l2": l2, "steps": steps, "seed": seed, "majority_rate": majority})
    result._source = probe_source(model, result)
    return result


def _check(model: Model, probe: Probe) -> None:
    if not isinstance(probe, Probe):
        raise TypeError(f"expected a Probe (from iw.probe), got {type(probe).__name__}")
    d = int(np.shape(probe.directions)[-1])
    if d != model.d_model:
        raise ValueError(f"the probe's directions are {d} wide but {model.name}'s residual stream is "
                         f"{model.d_model} wide: apply a probe with the model it was trained on "
                         f"({probe.model_name or 'unknown'})")
    too_deep = [l for l in probe.layers if not 0 <= int(l) < model.n_layers]
    if too_deep:
        raise ValueError(f"the probe has layer {too_deep[0]} but {model.name} has {model.n_layers} layers")


def _layer_index(model: Model, probe: Probe, layer: Optional[int]) -> int:
    """Index into ``probe.layers`` of ``layer`` (default: the best; negative counts from the
    end of the model)."""
    return probe.layer_index(layer, model.n_layers)


@torch.no_grad()
def _resid_post(model: Model, ids: torch.Tensor, layer: int) -> torch.Tensor:
    """``blocks.{layer}.hook_resid_post`` ``[1, pos, d_model]`` of ``ids``; the layers after
    it are not run (a probe of layer 1 costs 2 of SmolLM2's 30 blocks)."""
    name = model.block_output(layer)
    return model.read_activations([name], ids, attention_mask=torch.ones_like(ids))[name].float()


def _predict(model: Model, probe: Probe, text: str, layer: Optional[int]) -> tuple[list[str], np.ndarray]:
    _check(model, probe)
    j = _layer_index(model, probe, layer)
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    if not text.strip():
        raise ValueError("the text is empty: type a sentence to apply the probe to")
    ids = model.to_tokens(text)  # [1, pos]; validates (too long for the context...)
    x = _resid_post(model, ids, probe.layers[j])[0].double().cpu().numpy()  # [pos, d]
    logits = x @ np.asarray(probe.directions[j], np.float64).T + np.asarray(probe.biases[j], np.float64)
    logits -= logits.max(-1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(-1, keepdims=True)
    return model.to_str_tokens(ids[0]), p.astype(np.float32)


def probe_predictions(model: Model, probe: Probe, text: str, layer: Optional[int] = None) -> np.ndarray:
    """Apply the probe of ``layer`` to ``blocks.{layer}.hook_resid_post`` at every token of
    ``text``: ``softmax(directions[layer] @ x + biases[layer])``.

    Args:
        model: the model the probe was trained on (its ``d_model`` must match).
        probe: a :class:`~interp_widgets.results.Probe` from :func:`probe`.
        text: one text; each of its tokens gets a prediction (the probe was trained on one
            vector per text, see ``probe.position``; elsewhere it is read as is).
        layer: a layer the probe was trained at (default: ``probe.best_layer``).

    Returns ``Float[np.ndarray, "n_tokens n_classes"]`` (float32): the probability of each of
    ``probe.classes`` at each token (``model.to_str_tokens(model.to_tokens(text))``).

    >>> p = probe_predictions(model, r, "The cat counted to seven.")  # doctest: +SKIP
    >>> p.shape, p.sum(1)  # doctest: +SKIP
    ((6, 2), array([1., 1., 1., 1., 1., 1.], dtype=float32))
    """
    return _predict(model, probe, text, layer)[1]


def probe_source(model: Model, probe: Probe) -> ProbeSource:
    """The handle a :class:`~interp_widgets.views.ProbeView` uses to apply ``probe`` to new
    text with ``model`` (raises ``ValueError`` now if the two do not fit)."""
    _check(model, probe)

    def predict(text: str, layer: int) -> tuple[list[str], np.ndarray]:
        return _predict(model, probe, text, layer)

    return ProbeSource(predict=predict, model_name=model.name)
