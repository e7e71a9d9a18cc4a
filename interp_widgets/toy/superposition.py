"""Toy models of superposition (Elhage et al. 2022, "Toy Models of Superposition").

``n_features`` sparse features are squeezed through ``n_hidden < n_features`` dimensions and
read back with the "ReLU output" model::

    h  = W x                      W: [n_hidden, n_features]
    x' = ReLU(Wᵀ h + b)
    L  = E_x  Σ_i importance_i (x_i - x'_i)²

Each input feature is 0 with probability ``sparsity``, else uniform on ``[0, 1]``. Dense
features: the model keeps the ``n_hidden`` most important ones, orthogonally, and drops the
rest. Sparse features: it packs more features than dimensions, in superposition (5 features
in 2 dimensions form a pentagon).

Training is in torch on the CPU and takes a second or a few: several random initialisations
("instances") train at once as one batch, and the one with the lowest held-out loss is kept,
as in the paper (single runs get stuck in local minima now and then).

>>> import interp_widgets as iw
>>> r = iw.toy.superposition(n_features=5, n_hidden=2, sparsity=0.9)   # doctest: +SKIP
>>> r.n_represented(), r.norms.round(2)                                 # doctest: +SKIP
(5, array([1.11, 1.11, 1.1 , 1.09, 1.07], dtype=float32))
>>> r.show()                                                            # doctest: +SKIP
"""

from __future__ import annotations

import math
import numbers
import time
from typing import Optional, Sequence, Union

import numpy as np

from ..kernels._progress import ticker
from ..results.superposition import Superposition, SuperpositionSource

__all__ = ["superposition", "Superposition"]

MAX_FEATURES = 512
_EVAL_BATCH = 8192


def _int(name: str, value, lo: int, hi: Optional[int] = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    v = int(value)
    if v < lo or (hi is not None and v > hi):
        bounds = f">= {lo}" if hi is None else f"between {lo} and {hi}"
        raise ValueError(f"{name} must be {bounds}, got {v}")
    return v


def _float(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    return v


def _importance(value, n_features: int) -> tuple[np.ndarray, Optional[float]]:
    """(importance [n_features], decay or None) from a decay factor or an explicit array."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        d = _float("importance", value)
        if not 0.0 < d <= 1.0:
            raise ValueError(f"importance (a decay factor: importance_i = importance**i) must be in (0, 1], got {d}")
        return (d ** np.arange(n_features, dtype=np.float64)).astype(np.float32), d
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"importance must be a decay factor in (0, 1] or an array of {n_features} weights, "
                         f"got {type(value).__name__}") from None
    if a.shape != (n_features,):
        raise ValueError(f"importance must have one weight per feature: expected shape ({n_features},), "
                         f"got {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError("importance contains NaN or inf")
    if (a < 0).any() or not (a > 0).any():
        raise ValueError("importance weights must be >= 0 with at least one > 0")
    return a.astype(np.float32), None


def superposition(n_features: int = 5, n_hidden: int = 2, sparsity: float = 0.0,
                  importance: Union[float, Sequence[float], np.ndarray] = 0.9, *, steps: int = 1000,
                  batch_size: int = 1024, lr: float = 2e-2, seed: int = 0, n_instances: int = 8,
                  progress=False) -> Superposition:
    """Train the ReLU-output toy model of superposition and return the best instance.

    Args:
        n_features: input features (2 to 512).
        n_hidden: hidden dimensions, ``1 <= n_hidden < n_features``.
        sparsity: probability that a feature is 0 in an input, in ``[0, 1)``.
        importance: a decay factor ``d`` in ``(0, 1]`` (``importance_i = d ** i``, so feature 0
            matters most) or an explicit array of ``n_features`` non-negative weights.
        steps: Adam steps (the learning rate follows a cosine decay to 0).
        batch_size: inputs per step and instance.
        lr: peak learning rate.
        seed: the seed of the initialisation and of the data; equal seeds give equal results.
        n_instances: random initialisations trained together; the lowest held-out loss wins.
        progress: ``False`` (nothing), ``None``/``True`` (a tqdm bar) or a callable taking
            the fraction done.

    Returns:
        a :class:`Superposition`; its ``_source`` lets its view retrain at another sparsity
        or importance.

    Raises:
        ValueError: on sizes, sparsity, importance or settings out of range.
    """
    n_features = _int("n_features", n_features, 2, MAX_FEATURES)
    n_hidden = _int("n_hidden", n_hidden, 1)
    if n_hidden >= n_features:
        raise ValueError(f"n_hidden must be smaller than n_features (the model compresses features into "
                         f"fewer dimensions), got n_hidden={n_hidden}, n_features={n_features}")
    s = _float("sparsity", sparsity)
    if not 0.0 <= s < 1.0:
        raise ValueError(f"sparsity must be in [0, 1) (the probability that a feature is zero; "
                         f"1 would mean all inputs are zero), got {s}")
    imp, decay = _importance(importance, n_features)
    steps = _int("steps", steps, 1)
    batch_size = _int("batch_size", batch_size, 1)
    n_instances = _int("n_instances", n_instances, 1)
    seed = _int("seed", seed, 0)
    lr = _float("lr", lr)
    if lr <= 0:
        raise ValueError(f"lr must be > 0, got {lr}")

    settings = dict(n_features=n_features, n_hidden=n_hidden, steps=steps, batch_size=batch_size,
                    lr=lr, seed=seed, n_instances=n_instances)
    t0 = time.perf_counter()
    W, b, loss, losses = _train(n_features, n_hidden, s, imp, steps=steps, batch_size=batch_size, lr=lr,
                                seed=seed, n_instances=n_instances, progress=progress)
    seconds = time.perf_counter() - t0

    def retrain(sparsity: float = s, importance=decay if decay is not None else imp, progress=False) -> Superposition:
        return superposition(n_features, n_hidden, sparsity, importance, steps=steps, batch_size=batch_size,
                             lr=lr, seed=seed, n_instances=n_instances, progress=progress)

    info = dict(settings, instance_losses=[float(v) for v in losses], best_instance=int(np.argmin(losses)),
                seconds=float(seconds))
    return Superposition(W=W, b=b, sparsity=s, importance=imp, loss=loss, importance_decay=decay, info=info,
                         _source=SuperpositionSource(retrain=retrain))


def _sample(g, shape: tuple[int, ...], p_active: float):
    """Inputs: each entry is U[0, 1] with probability ``p_active``, else 0 (one draw: an entry
    ``v < p`` is active with value ``v / p``, which is again uniform on [0, 1))."""
    import torch

    v = torch.rand(shape, generator=g)
    if p_active >= 1.0:
        return v
    return torch.where(v < p_active, v / p_active, torch.zeros((), dtype=v.dtype))


def _train(n_features: int, n_hidden: int, sparsity: float, importance: np.ndarray, *, steps: int,
           batch_size: int, lr: float, seed: int, n_instances: int, progress):
    """Train ``n_instances`` models at once; returns (W, b, loss, losses) of the best."""
    import torch

    I, H, F = n_instances, n_hidden, n_features
    p = 1.0 - sparsity
    g = torch.Generator().manual_seed(seed)
    # Xavier-normal initialisation, zero bias (as in the paper).
    W = (torch.randn(I, H, F, generator=g) * math.sqrt(2.0 / (H + F))).requires_grad_(True)
    b = torch.zeros(I, 1, F, requires_grad=True)
    imp = torch.as_tensor(importance, dtype=torch.float32)
    opt = torch.optim.Adam([W, b], lr=lr)

    def forward(x, W, b):  # x: [I, B, F]
        h = torch.bmm(x, W.transpose(1, 2))  # [I, B, H]
        return torch.relu(torch.bmm(h, W) + b)

    tick = ticker(progress, steps, "training toy model", "step")
    every = max(1, steps // 50)
    reported = 0
    # The tensors are tiny: intra-op threads only add synchronisation (20x slower on a busy
    # machine), so train on one thread and give the setting back afterwards.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for step in range(steps):
            for group in opt.param_groups:
                group["lr"] = lr * 0.5 * (1.0 + math.cos(math.pi * step / steps))
            x = _sample(g, (I, batch_size, F), p)
            out = forward(x, W, b)
            loss = (((x - out) ** 2) * imp).sum(-1).mean(-1)  # [I]
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            opt.step()
            if (step + 1) % every == 0 or step + 1 == steps:
                tick(step + 1 - reported)
                reported = step + 1
    finally:
        torch.set_num_threads(threads)
        tick(None)

    # Compare the instances on one held-out batch (the same inputs for all of them).
    ge = torch.Generator().manual_seed(seed + 1_000_003)
    with torch.no_grad():
        x = _sample(ge, (1, _EVAL_BATCH, F), p).expand(I, -1, -1)
        losses = ((((x - forward(x, W, b)) ** 2) * imp).sum(-1).mean(-1)).numpy()
    if not np.isfinite(losses).any():
        raise ValueError("training diverged (every instance's loss is NaN or inf): try a smaller lr")
    losses = np.where(np.isfinite(losses), losses, np.inf)
    k = int(np.argmin(losses))
    return (W[k].detach().numpy().copy(), b[k, 0].detach().numpy().copy(), float(losses[k]),
            losses.astype(np.float64))
