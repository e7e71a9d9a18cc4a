"""Linear probes: ``iw.probe`` trains a logistic (multinomial) classifier on the residual
stream after each layer and reports held-out accuracy per layer.

Each text becomes one vector per layer (its last token, the mean over its tokens, or one
position). Features are standardised with the training split's mean and std; the probe is
fitted by full-batch L-BFGS with a small L2 penalty, in torch, on the model's device. The
split is stratified and seeded, so results repeat.
"""

from __future__ import annotations

from typing import Sequence, Union

import numpy as np
import torch

from ..model import Model
from ..results.probe import Probe
from .activations import run_with_cache

__all__ = ["probe"]


def _features(model: Model, texts: list[str], layers: list[int], position, batch_size: int) -> torch.Tensor:
    """``[n_texts, len(layers), d_model]`` float32 features."""
    names = [f"blocks.{l}.hook_resid_post" for l in layers]
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
            elif position == "mean":
                v = (x * mask[..., None]).sum(1) / lengths[:, None]
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
          position: Union[str, int] = "last", test_fraction: float = 0.25, seed: int = 0, l2: float = 1e-3,
          steps: int = 200, batch_size: int = 16) -> Probe:
    """Train a linear probe per layer to predict ``labels`` from the residual stream.

    Args:
        model: a :class:`~interp_widgets.Model`.
        texts: the examples; labels: one label (any hashable: str, int...) per text, at
            least two classes.
        layers: ``"all"`` or a list of layer indices (negative ones count from the end);
            each probes ``blocks.{l}.hook_resid_post``.
        position: ``"last"`` (the last token), ``"mean"`` (mean over tokens) or a position.
        test_fraction: held out per class (stratified, seeded by ``seed``).
        l2: L2 penalty on the standardised weights; steps: L-BFGS iterations.

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

    with torch.no_grad():
        feats = _features(model, texts, layer_ids, position, batch_size)  # [n, L, d]
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
    return Probe(layers=layer_ids, classes=classes, train_accuracy=np.array(acc_tr, dtype=np.float32),
                 test_accuracy=np.array(acc_te, dtype=np.float32), directions=np.stack(dirs),
                 biases=np.stack(biases), position=position, n_train=len(train), n_test=len(test),
                 model_name=model.name, info={"l2": l2, "steps": steps, "seed": seed})
