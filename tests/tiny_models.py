"""Tiny random models of every supported family, built from a config, with a byte-level BPE
tokenizer trained on a few sentences (no hub access). Used by the unit tests."""

from __future__ import annotations

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
    from transformers import (BertConfig, DistilBertConfig, Gemma2Config, Gemma3TextConfig, GPT2Config, GPTNeoConfig,
                              GPTNeoXConfig, LlamaConfig, MistralConfig, OPTConfig, PhiConfig, Qwen2Config)

    common = dict(vocab_size=vocab)
    return {
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


CAUSAL = ["llama", "qwen2", "gemma2", "mistral", "gemma3", "gpt2", "gpt_neox", "gpt_neox_seq", "gpt_neo", "phi", "opt"]
ENCODERS = ["bert", "distilbert"]
ALL = CAUSAL + ENCODERS


def build_tiny(kind: str, tokenizer, attn_implementation: str = "sdpa"):
    from transformers import AutoModel, AutoModelForCausalLM

    import interp_widgets as iw

    torch.manual_seed(0)
    cfg = _configs(len(tokenizer))[kind]
    cls = AutoModel if kind in ENCODERS else AutoModelForCausalLM
    if kind in ("gemma2", "gemma3", "gpt_neo"):  # eager attention only (Gemma: the recommended one; GPT-Neo: or flash)
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
