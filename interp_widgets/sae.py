"""Sparse autoencoders: ``iw.SAE`` reads and writes SAELens's folder format.

A folder holds ``cfg.json`` and ``sae_weights.safetensors`` with ``W_enc [d_in, d_sae]``,
``b_enc [d_sae]``, ``W_dec [d_sae, d_in]``, ``b_dec [d_in]`` (and ``threshold [d_sae]`` for
JumpReLU). Encoders:

- ``standard``: ``f = ReLU((x - b_dec) W_enc + b_enc)``;
- ``topk``: the same pre-activation, ReLU, then only the ``k`` largest kept per token;
- ``jumprelu``: ``f = pre * (pre > threshold)``.

(``x - b_dec`` only when ``apply_b_dec_to_input`` is true, SAELens's default.) Decoding is
``x_hat = f W_dec + b_dec``. The SAE knows its hook point (``hook_name``), so
``sae.check(model)`` can tell whether it fits a model.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional, Union

import torch

__all__ = ["SAE", "load_sae", "default_sae_path"]

ARCHITECTURES = ("standard", "topk", "jumprelu")


class SAE(torch.nn.Module):
    """A sparse autoencoder on one hook point.

    Args:
        W_enc, b_enc, W_dec, b_dec: the weights (shapes above).
        hook_name: where it reads activations (e.g. ``blocks.8.hook_resid_post``).
        architecture: ``"standard"``, ``"topk"`` or ``"jumprelu"``.
        k: active features per token (TopK).
        threshold: ``[d_sae]`` (JumpReLU).
        apply_b_dec_to_input: subtract ``b_dec`` before encoding.
    """

    def __init__(self, W_enc, b_enc, W_dec, b_dec, *, hook_name: str, architecture: str = "standard",
                 k: Optional[int] = None, threshold=None, apply_b_dec_to_input: bool = True):
        super().__init__()
        if architecture not in ARCHITECTURES:
            raise ValueError(f"unknown SAE architecture {architecture!r}; supported: {', '.join(ARCHITECTURES)}")
        W_enc, W_dec = torch.as_tensor(W_enc).float(), torch.as_tensor(W_dec).float()
        b_enc, b_dec = torch.as_tensor(b_enc).float(), torch.as_tensor(b_dec).float()
        if W_enc.dim() != 2:
            raise ValueError(f"W_enc must be [d_in, d_sae], got shape {tuple(W_enc.shape)}")
        d_in, d_sae = W_enc.shape
        for name, t, shape in (("b_enc", b_enc, (d_sae,)), ("W_dec", W_dec, (d_sae, d_in)), ("b_dec", b_dec, (d_in,))):
            if tuple(t.shape) != shape:
                raise ValueError(f"{name} must have shape {list(shape)} for W_enc {list(W_enc.shape)}, got {list(t.shape)}")
        if architecture == "topk" and not (isinstance(k, int) and 1 <= k <= d_sae):
            raise ValueError(f"a TopK SAE needs k in 1..{d_sae}, got {k!r}")
        if architecture == "jumprelu":
            if threshold is None:
                raise ValueError("a JumpReLU SAE needs its threshold [d_sae]")
            threshold = torch.as_tensor(threshold).float()
            if tuple(threshold.shape) != (d_sae,):
                raise ValueError(f"threshold must have shape [{d_sae}], got {list(threshold.shape)}")
        self.W_enc, self.b_enc = torch.nn.Parameter(W_enc), torch.nn.Parameter(b_enc)
        self.W_dec, self.b_dec = torch.nn.Parameter(W_dec), torch.nn.Parameter(b_dec)
        self.register_buffer("threshold", threshold if architecture == "jumprelu" else None)
        self.hook_name, self.architecture, self.k = hook_name, architecture, k
        self.apply_b_dec_to_input = bool(apply_b_dec_to_input)
        self.d_in, self.d_sae = int(d_in), int(d_sae)

    # ---- the maths ---------------------------------------------------------------------
    def pre_activations(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.d_in:
            raise ValueError(f"this SAE reads {self.d_in}-wide activations ({self.hook_name}); got {x.shape[-1]}")
        x = x.to(self.W_enc.device, self.W_enc.dtype)
        if self.apply_b_dec_to_input:
            x = x - self.b_dec
        return x @ self.W_enc + self.b_enc

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Feature activations ``[..., d_sae]`` of activations ``[..., d_in]``, on the SAE's
        device (``x`` is moved there: a cache from a GPU model works with a CPU SAE)."""
        pre = self.pre_activations(x)
        if self.architecture == "jumprelu":
            return pre * (pre > self.threshold)
        f = torch.relu(pre)
        if self.architecture == "topk":
            v, i = f.topk(self.k, dim=-1)
            f = torch.zeros_like(f).scatter(-1, i, v)
        return f

    def decode(self, f: torch.Tensor) -> torch.Tensor:
        return f.to(self.W_dec.device, self.W_dec.dtype) @ self.W_dec + self.b_dec

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction ``x_hat`` of ``x``, on ``x``'s device."""
        return self.decode(self.encode(x)).to(x.device)

    # ---- fitting a model -----------------------------------------------------------------
    def check(self, model) -> str:
        """The canonical hook name on ``model``; raises if the SAE does not fit it."""
        name = model.resolve(self.hook_name)
        width = model.d_model
        if name.endswith("mlp.hook_post"):
            width = model.d_mlp
        if self.d_in != width:
            raise ValueError(f"this SAE reads {self.d_in}-wide activations but {name} of {model.name} is "
                             f"{width} wide")
        return name

    # ---- files ---------------------------------------------------------------------------
    @classmethod
    def load(cls, path_or_dict: Union[str, os.PathLike, dict], device: Union[str, torch.device] = "cpu") -> "SAE":
        """Load a SAELens-format folder (``cfg.json`` + ``sae_weights.safetensors``) or a
        dict with the weights and config keys (``hook_name``, ``architecture``, ...)."""
        if isinstance(path_or_dict, dict):
            d = dict(path_or_dict)
            cfg = {k: d.pop(k) for k in list(d) if k not in ("W_enc", "b_enc", "W_dec", "b_dec", "threshold")}
            weights = d
        else:
            folder = Path(path_or_dict)
            if not (folder / "cfg.json").is_file() or not (folder / "sae_weights.safetensors").is_file():
                raise ValueError(f"{folder} is not an SAE folder: it needs cfg.json and sae_weights.safetensors")
            from safetensors.torch import load_file

            cfg = json.loads((folder / "cfg.json").read_text())
            weights = load_file(str(folder / "sae_weights.safetensors"))
        missing = [k for k in ("W_enc", "b_enc", "W_dec", "b_dec") if k not in weights]
        if missing:
            raise ValueError(f"the SAE weights lack {missing}")
        if "hook_name" not in cfg:
            raise ValueError("the SAE config lacks hook_name (the hook point it reads)")
        k = cfg.get("k") or (cfg.get("activation_fn_kwargs") or {}).get("k")
        sae = cls(weights["W_enc"], weights["b_enc"], weights["W_dec"], weights["b_dec"],
                  hook_name=cfg["hook_name"], architecture=cfg.get("architecture", "standard"),
                  k=int(k) if k is not None else None, threshold=weights.get("threshold"),
                  apply_b_dec_to_input=cfg.get("apply_b_dec_to_input", True))
        return sae.to(device)

    def save(self, folder: Union[str, os.PathLike], dtype: str = "float32") -> Path:
        """Write ``cfg.json`` and ``sae_weights.safetensors`` (what :meth:`load` and SAELens
        read); ``dtype="float16"`` halves the file (loading gives float32 again)."""
        from safetensors.torch import save_file

        if dtype not in ("float32", "float16", "bfloat16"):
            raise ValueError(f"dtype must be 'float32', 'float16' or 'bfloat16', got {dtype!r}")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        dt = getattr(torch, dtype)
        names = ("W_enc", "b_enc", "W_dec", "b_dec") + (("threshold",) if self.threshold is not None else ())
        weights = {k: getattr(self, k).detach().cpu().to(dt).contiguous() for k in names}
        save_file(weights, str(folder / "sae_weights.safetensors"))
        cfg = {"architecture": self.architecture, "d_in": self.d_in, "d_sae": self.d_sae,
               "hook_name": self.hook_name, "apply_b_dec_to_input": self.apply_b_dec_to_input,
               "dtype": dtype}
        if self.k is not None:
            cfg["activation_fn_kwargs"] = {"k": self.k}
        (folder / "cfg.json").write_text(json.dumps(cfg, indent=2))
        return folder

    def __repr__(self) -> str:
        extra = f", k={self.k}" if self.k else ""
        return f"SAE({self.architecture}, {self.d_in} -> {self.d_sae}, hook {self.hook_name!r}{extra})"


def default_sae_path() -> Path:
    """The folder of the SAE that ships with the package (see :func:`load_sae`)."""
    return Path(__file__).resolve().parent / "data" / "sae_smollm2_l8"


def load_sae(path: Union[str, os.PathLike, dict, None] = None, device: Union[str, torch.device] = "cpu") -> SAE:
    """``iw.load_sae()`` with no argument: the small SAE that ships with the package, for
    ``iw.load_model()``'s SmolLM2-135M-Instruct at ``blocks.8.hook_resid_post`` (TopK,
    1,024 features, k = 24, trained on Python's docstrings by ``scripts/train_sae_smollm2.py``;
    its training report is in the folder's ``report.txt``). With a path: :meth:`SAE.load`.

    >>> import interp_widgets as iw
    >>> sae = iw.load_sae()
    >>> sae.hook_name, sae.d_sae, sae.k
    ('blocks.8.hook_resid_post', 1024, 24)
    """
    return SAE.load(default_sae_path() if path is None else path, device=device)
