"""Arrays that users hand to results: numpy, lists, or torch tensors on any device, in any
dtype, needing grad or not (no torch import: tensors are recognised by their methods)."""

from __future__ import annotations

from typing import Any

import numpy as np


def _plain(x: Any) -> Any:
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch tensor
        x = x.detach().cpu()
        return x.float().numpy() if x.is_floating_point() else x.numpy()
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


def float32(x: Any, name: str, *, finite: bool = True) -> np.ndarray:
    """``x`` as a float32 numpy array, with a ValueError naming ``name`` when it is not
    numeric, ragged or (``finite``) holds NaN or inf."""
    try:
        a = np.asarray(_plain(x), dtype=np.float32)
    except (ValueError, TypeError) as e:
        raise ValueError(f"{name} must be an array of numbers (numpy, torch or nested lists of equal "
                         f"length): {e}") from None
    if finite and not np.isfinite(a).all():
        bad = np.argwhere(~np.isfinite(a))
        raise ValueError(f"{name} has {len(bad)} NaN or inf entr{'y' if len(bad) == 1 else 'ies'} "
                         f"(first at index {tuple(int(i) for i in bad[0])})")
    return a


def strings(tokens: Any, name: str = "tokens") -> list[str]:
    """A list of token strings, refusing one string (a text, not its tokens) and non-strings."""
    if isinstance(tokens, str):
        raise ValueError(f"{name} must be a list of strings (the tokenizer's split), not one string")
    toks = list(tokens)
    bad = [i for i, t in enumerate(toks) if not isinstance(t, str)]
    if bad:
        raise ValueError(f"{name} must be strings; token {bad[0]} is {type(toks[bad[0]]).__name__} "
                         f"(turn ids into strings with model.to_str_tokens)")
    return toks
