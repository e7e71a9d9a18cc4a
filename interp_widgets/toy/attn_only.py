"""A two-layer attention-only transformer that forms induction heads (Olsson et al. 2022,
"In-context learning and induction heads", in miniature), trained by
``scripts/train_attn_only.py`` and shipped in the package (``toy/attn_only_2l/``, ~0.2 MB).

It is a genuine Hugging Face ``LlamaForCausalLM`` (2 layers of 4 heads, d_model 64, rotary
positions, RMSNorm), so it loads through the Llama adapter and every kernel and view works on
it unchanged. **Attention-only: the MLPs are width 1 and fixed at zero** (weights zero and
frozen during training), so ``blocks.{l}.hook_mlp_out`` is exactly 0 and the residual stream
is the embedding plus the heads.

The tokenizer is word-level over 100 common English words (whitespace-separated; any other
word becomes ``<unk>``) and puts ``<|endoftext|>`` (BOS) in front of every text. The model was
trained on random words in which "trigger" words come back followed by the same word: it
learnt a previous-token head in layer 0 and induction heads in layer 1 (the training run's
detector scores are in the folder's ``training.json``).

>>> import interp_widgets as iw
>>> model = iw.toy.attn_only()
>>> scores = iw.head_detector_scores(model)
>>> bool(scores["previous_token"][0].max() > 0.5), bool(scores["induction"][1].max() > 0.5)
(True, True)
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["attn_only", "attn_only_path", "NAME"]

NAME = "attn-only-2L"


def attn_only_path() -> Path:
    """The folder of the shipped model (``config.json``, ``model.safetensors``, tokenizer
    files): ``AutoModelForCausalLM.from_pretrained`` / ``AutoTokenizer.from_pretrained`` read it."""
    path = Path(__file__).resolve().parent / "attn_only_2l"
    if not (path / "model.safetensors").exists():
        raise FileNotFoundError(
            f"the attention-only model's weights are missing from {path}; "
            "regenerate them with `python scripts/train_attn_only.py` (a few minutes on CPU)")
    return path


def attn_only(device="cpu"):
    """The shipped two-layer attention-only transformer as an :class:`interp_widgets.Model`
    named ``"attn-only-2L"`` (float32; loads in well under a second).

    Args:
        device: a torch device, or ``"auto"`` (CUDA, then MPS, then CPU).
    """
    from ..model import load_model

    model = load_model(str(attn_only_path()), device=device)
    model.name = NAME
    return model
