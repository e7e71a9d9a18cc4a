"""Tiny random models of every supported family, built from a config, with a byte-level BPE
tokenizer trained on a few sentences (no hub access). Used by the unit tests."""

from __future__ import annotations

import os

import torch

CORPUS = [
    "The Eiffel Tower is located in the city of Paris, France.",
    "When Mary and John went to the store, John gave a drink to Mary.",
    "def add(a, b):\n    return a + b\n",
    "One, two, three, four, five, six, seven, eight, nine, ten.",
    "The quick brown fox jumps over the lazy dog. <img src=x> </script>",
] * 4


def make_tiny_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=1000, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>",
                                   pad_token="<|endoftext|>", bos_token="<|endoftext|>")


def make_tiny_wordpiece():
    """A BERT-style WordPiece tokenizer ([CLS] text [SEP], lower case, [MASK], segment ids)
    over CORPUS's words. The vocabulary is listed, not trained (the trainer orders ties
    differently from one process to the next), so ids are the same in every run."""
    import re

    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    words = sorted({w for text in CORPUS for w in re.findall(r"\w+|[^\w\s]", text.lower())})
    chars = sorted({c for w in words for c in w})
    vocab = specials + words + [c for c in chars if c not in words] + ["##" + c for c in chars]
    tok = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    tok.decoder = decoders.WordPiece()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]",
                                   cls_token="[CLS]", mask_token="[MASK]",
                                   model_input_names=["input_ids", "token_type_ids", "attention_mask"])


def _configs(vocab: int):
    from transformers import (BertConfig, CohereConfig, DistilBertConfig, Gemma2Config, Gemma3TextConfig, GemmaConfig,
                              GPT2Config, GPTBigCodeConfig, GPTJConfig, GPTNeoConfig, GPTNeoXConfig, GraniteConfig,
                              LlamaConfig, MistralConfig, MixtralConfig, Olmo2Config, OlmoConfig, OlmoeConfig,
                              OPTConfig, Phi3Config, PhiConfig, Qwen2Config, Qwen2MoeConfig, Qwen3Config,
                              SmolLM3Config, StableLmConfig, Starcoder2Config)

    common = dict(vocab_size=vocab)
    ids = dict(pad_token_id=0, bos_token_id=0, eos_token_id=0)
    L = dict(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
             max_position_embeddings=256, **ids, **common)
    return {
        # OLMo 2: norms after each sublayer (on its output), none before
        "olmo2": Olmo2Config(num_key_value_heads=2, **L),
        # GPT-J: parallel attention and MLP, partial rotary, its own eager _attn
        "gptj": GPTJConfig(n_embd=64, n_layer=2, n_head=4, rotary_dim=8, n_positions=256, **ids, **common),
        "stablelm": StableLmConfig(num_key_value_heads=4, partial_rotary_factor=0.25, **L),
        "stablelm_par": StableLmConfig(num_key_value_heads=4, use_parallel_residual=True, qk_layernorm=True, **L),
        "starcoder2": Starcoder2Config(num_key_value_heads=2, sliding_window=None, **L),
        "gpt_bigcode": GPTBigCodeConfig(n_embd=64, n_layer=2, n_head=4, n_positions=256, multi_query=True, **ids, **common),
        # mixtures of experts: no single neuron layer (mlp.hook_post), every other hook point
        "mixtral": MixtralConfig(num_key_value_heads=2, num_local_experts=4, num_experts_per_tok=2, **L),
        "qwen2_moe": Qwen2MoeConfig(num_key_value_heads=2, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=32,
                                    shared_expert_intermediate_size=48, mlp_only_layers=[1], **L),
        "olmoe": OlmoeConfig(num_key_value_heads=2, num_experts=4, num_experts_per_tok=2, **L),
        "qwen3": Qwen3Config(num_key_value_heads=2, head_dim=16, **L),
        "phi3": Phi3Config(num_key_value_heads=2, **L),
        "olmo": OlmoConfig(num_key_value_heads=2, **L),
        "smollm3": SmolLM3Config(num_key_value_heads=2, **L),
        "gemma": GemmaConfig(num_key_value_heads=2, head_dim=16, **L),
        # scaled residual branches, embeddings and logits (Granite); parallel blocks and scaled logits (Cohere)
        "granite": GraniteConfig(num_key_value_heads=2, embedding_multiplier=12.0, residual_multiplier=0.22,
                                 logits_scaling=8.0, attention_multiplier=0.0625, **L),
        "cohere": CohereConfig(num_key_value_heads=2, logit_scale=0.0625, **L),
        "llama": LlamaConfig(hidden_size=64, intermediate_size=96, num_hidden_layers=3,
                             num_attention_heads=4, num_key_value_heads=2,
                             max_position_embeddings=256, **common),
        "qwen2": Qwen2Config(hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                             num_attention_heads=4, num_key_value_heads=4,
                             max_position_embeddings=256, **common),
        "gemma2": Gemma2Config(hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                               num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                               max_position_embeddings=256, **common),
        # sliding-window attention (Mistral; Gemma 3 mixes sliding and full layers, with sandwich
        # norms): a window of 6 is crossed by the tests' prompts
        "mistral": MistralConfig(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                                 num_key_value_heads=2, sliding_window=6, max_position_embeddings=256, **common),
        "gemma3": Gemma3TextConfig(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                                   num_key_value_heads=2, head_dim=16, sliding_window=6, layer_types=["sliding_attention", "full_attention"],
                                   max_position_embeddings=256, **common),
        "gpt2": GPT2Config(n_embd=64, n_layer=3, n_head=4, n_positions=256, **common),
        "gpt_neox": GPTNeoXConfig(hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                                  num_attention_heads=4, max_position_embeddings=256,
                                  use_parallel_residual=True, **common),
        "gpt_neox_seq": GPTNeoXConfig(hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                                      num_attention_heads=4, max_position_embeddings=256,
                                      use_parallel_residual=False, **common),
        # GPT-Neo alternates global and local (windowed) attention; a window of 6 shows in short prompts
        "gpt_neo": GPTNeoConfig(hidden_size=64, intermediate_size=96, num_layers=2, num_heads=4,
                                attention_types=[[["global", "local"], 1]], window_size=6,
                                max_position_embeddings=256, bos_token_id=0, eos_token_id=0, **common),
        "phi": PhiConfig(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                         partial_rotary_factor=0.5, max_position_embeddings=256, bos_token_id=0, eos_token_id=0,
                         **common),
        "opt": OPTConfig(hidden_size=64, ffn_dim=96, num_hidden_layers=2, num_attention_heads=4,
                         word_embed_proj_dim=64, max_position_embeddings=256, pad_token_id=1,
                         bos_token_id=0, eos_token_id=0, **common),
        "bert": BertConfig(hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                           num_attention_heads=4, max_position_embeddings=256, **common),
        "distilbert": DistilBertConfig(dim=64, hidden_dim=96, n_layers=2, n_heads=4,
                                       max_position_embeddings=256, **common),
    }


CAUSAL = ["llama", "qwen2", "gemma2", "mistral", "gemma3", "gpt2", "gpt_neox", "gpt_neox_seq", "gpt_neo", "phi", "opt",
          "olmo2", "gptj", "stablelm", "stablelm_par", "starcoder2", "gpt_bigcode", "mixtral", "qwen2_moe", "olmoe",
          "qwen3", "phi3", "olmo", "smollm3", "gemma", "granite", "cohere"]
ENCODERS = ENCODER_KINDS = ["bert", "distilbert"]
if os.environ.get("IW_TINY_FAMILIES"):  # e.g. IW_TINY_FAMILIES=olmo2,gptj: run the generic suite on these
    CAUSAL = [k for k in os.environ["IW_TINY_FAMILIES"].split(",") if k not in ENCODERS]
    ENCODERS = [k for k in os.environ["IW_TINY_FAMILIES"].split(",") if k in ENCODERS]
ALL = CAUSAL + ENCODERS


# built with eager attention: Gemma 2/3 (the recommended one), GPT-Neo and GPT-J (no sdpa)
EAGER_ONLY = ("gemma2", "gemma3", "gpt_neo", "gptj")


def is_parallel(config) -> bool:
    """Whether the architecture runs attention and MLP on the same input (no resid_mid), read
    from the HF config: GPT-J, Phi-1/2 and Cohere always; GPT-NeoX and StableLM by option."""
    return config.model_type in ("gptj", "phi", "cohere") or bool(getattr(config, "use_parallel_residual", False))


def is_moe(config) -> bool:
    """A mixture of experts (Mixtral, OLMoE, Qwen-MoE), read from the HF config."""
    return bool(getattr(config, "num_local_experts", 0) or getattr(config, "num_experts", 0))


def dense_mlp_layers(config) -> list[int]:
    """Layers whose MLP is one dense layer of neurons (mlp.hook_post), read from the HF
    config: every layer but a mixture of experts' sparse ones (Qwen-MoE keeps the layers in
    mlp_only_layers, and those off its decoder_sparse_step, dense)."""
    n = config.num_hidden_layers
    if not is_moe(config):
        return list(range(n))
    step = getattr(config, "decoder_sparse_step", 1) or 0
    only = getattr(config, "mlp_only_layers", None) or []
    return [l for l in range(n) if l in only or not (step > 0 and (l + 1) % step == 0)]


def build_tiny(kind: str, tokenizer, attn_implementation: str = "sdpa"):
    from transformers import AutoModel, AutoModelForCausalLM

    import interp_widgets as iw

    torch.manual_seed(0)
    cfg = _configs(len(tokenizer))[kind]
    cls = AutoModel if kind in ENCODER_KINDS else AutoModelForCausalLM
    if kind in EAGER_ONLY:
        attn_implementation = "eager"
    hf = cls.from_config(cfg, attn_implementation=attn_implementation)
    # random init is tiny; scale up so that logits vary and attention is not uniform
    with torch.no_grad():
        for name, p in hf.named_parameters():
            if p.dim() == 2:
                p.mul_(3.0)
    hf.eval()
    return iw.Model(hf, tokenizer, name=f"tiny-{kind}")


def our_hooks(model) -> list[str]:
    """Modules that still carry a hook of ours (transformers installs its own output-capturing
    hooks on ``output_hidden_states=True`` and keeps them; those are not ours)."""
    left = []
    for name, mod in model.hf.named_modules():
        for fn in list(mod._forward_hooks.values()) + list(mod._forward_pre_hooks.values()):
            if getattr(fn, "__module__", "").startswith("interp_widgets"):
                left.append(name)
    return left
