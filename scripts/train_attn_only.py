"""Train the two-layer attention-only transformer shipped as ``iw.toy.attn_only()``.

    .venv/bin/python scripts/train_attn_only.py      # writes interp_widgets/toy/attn_only_2l/ (~3 min, 1 thread)

A miniature of Olsson et al. 2022 ("In-context learning and induction heads"). The model is a
genuine Hugging Face ``LlamaForCausalLM`` (so every kernel and view of interp_widgets works on
it through the Llama adapter) made attention-only: 2 layers of 4 heads, d_model 64, rotary
positions, RMSNorm, and MLPs of width 1 whose weights are zero and frozen, so each MLP adds
exactly 0 to the residual stream.

The data: ``<|endoftext|>`` then 80 uniformly random words from a 100-word vocabulary, in
which 6 "trigger" words are each followed by their own "answer" word, four times per row at
random places (the pairs differ from row to row). A random word can only be guessed (loss
ln 100 = 4.6); the answer after a repeated trigger can be read from the earlier occurrence,
which takes the induction circuit: a previous-token head in layer 0 writes "the word before
me" into each position, and a layer-1 head attends from the trigger to the position whose
previous word is the trigger, copying the word found there. Because trigger/answer pairs sit
at independent random distances, no fixed-offset shortcut can solve it (with contiguous
repeated spans the model found one); rotary positions make "the previous token" a
relative-position pattern, learnt in a few hundred steps (learned absolute positions, as in
GPT-2, stayed on the loss plateau for thousands of steps in our runs).

The tokenizer is word-level (``tokenizers`` WordLevel, whitespace split) over the words
below plus ``<|endoftext|>`` (id 0: BOS/EOS/PAD, put in front of every text) and ``<unk>``.
Training is a plain AdamW loop with a fixed seed, on one CPU thread.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "interp_widgets" / "toy" / "attn_only_2l"

BOS = "<|endoftext|>"
UNK = "<unk>"
N_WORDS = 100
SEQ = 81  # BOS + 80 words: the head detectors' [BOS] + 40 + 40 fits

# Common English words (fixed order: ids 2.. follow the first N_WORDS of this list).
WORDS = """
the of and to in is it you that he was for on are with as his they be at one have this from
or had by hot word but what some we can out other were all there when up use your how said
an each she which do their time if will way about many then them write would like so these
her long make thing see him two has look more day could go come did number sound no most
people my over know water than call first who may down side been now find any new work part
take get place made live where after back little only round man year came show every good
me give our under name very through just form great think say help low line before turn
cause same mean move right boy old too does tell set three want air well also play small
end put home read hand port large spell add even land here must big high such follow act why
ask men change went light kind off need house picture try us again animal point mother world
near build self earth father head stand own page should country found answer school grow
study still learn plant cover food sun four thought let keep eye never last door between
city tree cross since hard start might story saw far sea draw left late run while press
close night real life few stop open seem together next white children begin got walk
example ease paper often always music those both mark book letter until mile river car feet
care second group carry took rain eat room friend began idea fish mountain north once base
hear horse cut sure watch color face wood main enough plain girl usual young ready above
ever red list though feel talk bird soon body dog family direct pose leave song measure
state product black short numeral class wind question happen complete ship area half rock
order fire south problem piece told knew pass farm top whole king size heard best hour
better true during hundred am remember step early hold west ground interest reach fast five
sing listen six table travel less morning ten simple several vowel toward war lay against
pattern slow center love person money serve appear road map science rule govern pull cold
notice voice fall power town fine certain fly unit lead cry dark machine note wait plan
figure star box noun field rest correct able pound done beauty drive stood contain front
teach week final gave green oh quick develop sleep warm free minute strong special mind
behind clear tail produce fact street inch lot nothing course stay wheel full force blue
object decide surface deep moon island foot yet busy test record boat common gold possible
plane age dry wonder laugh thousand ago ran check game shape yes cool miss brought heat snow
bed bring sit perhaps fill east weight language among
""".split()
WORDS = WORDS[:N_WORDS]
assert len(set(WORDS)) == N_WORDS


def build_tokenizer(words=WORDS):
    """Word-level ``PreTrainedTokenizerFast``: ``<|endoftext|>`` (id 0, BOS/EOS/PAD, prepended
    to every text), ``<unk>`` (id 1), then ``words``; text is split on whitespace."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {BOS: 0, UNK: 1, **{w: i + 2 for i, w in enumerate(words)}}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.post_processor = processors.TemplateProcessing(single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B",
                                                       special_tokens=[(BOS, 0)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=BOS, pad_token=BOS,
                                   unk_token=UNK, clean_up_tokenization_spaces=False, model_max_length=128)


def make_batch(g: torch.Generator, batch: int, n_vocab: int, seq: int = SEQ, pairs: int = 6,
               repeats: int = 4) -> torch.Tensor:
    """``[batch, seq]`` ids: BOS, random words (ids 2..), and ``pairs`` trigger -> answer word
    pairs placed ``repeats`` times each at random non-overlapping places."""
    ids = torch.randint(2, n_vocab, (batch, seq), generator=g)
    ids[:, 0] = 0
    for b in range(batch):
        perm = 2 + torch.randperm(n_vocab - 2, generator=g)
        trig, answer = perm[:pairs], perm[pairs:2 * pairs]
        starts = 1 + 2 * torch.randperm((seq - 2) // 2, generator=g)[:pairs * repeats]
        for j, p in enumerate(starts.tolist()):
            ids[b, p], ids[b, p + 1] = trig[j % pairs], answer[j % pairs]
    return ids


def build_model(n_vocab: int, d_model: int = 64, n_heads: int = 4, seed: int = 0):
    """A ``LlamaForCausalLM`` with 2 layers whose MLPs are width 1 and fixed at zero."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=n_vocab, hidden_size=d_model, intermediate_size=1, num_hidden_layers=2,
                         num_attention_heads=n_heads, num_key_value_heads=n_heads, max_position_embeddings=128,
                         tie_word_embeddings=False, bos_token_id=0, eos_token_id=0, pad_token_id=0)
    model = LlamaForCausalLM(config)
    for layer in model.model.layers:
        for p in layer.mlp.parameters():
            with torch.no_grad():
                p.zero_()
            p.requires_grad_(False)
    return model


def train(steps: int = 3000, batch: int = 32, lr: float = 1e-3, seed: int = 0, log=print):
    """Train and return ``(hf_model, tokenizer, history)``."""
    torch.set_num_threads(1)
    tokenizer = build_tokenizer()
    model = build_model(len(tokenizer), seed=seed)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    g = torch.Generator().manual_seed(seed)
    history, run, t0 = [], 0.0, time.perf_counter()
    for step in range(1, steps + 1):
        ids = make_batch(g, batch, len(tokenizer))
        loss = model(input_ids=ids, labels=ids).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        run += loss.item()
        if step % 100 == 0:
            history.append((step, run / 100))
            log(f"step {step:5d}  loss {run / 100:.4f}  ({time.perf_counter() - t0:.0f} s)")
            run = 0.0
    model.eval()
    for layer in model.model.layers:  # still exactly zero
        assert all(bool((p == 0).all()) for p in layer.mlp.parameters())
    return model, tokenizer, {"loss": history, "seconds": time.perf_counter() - t0}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    model, tokenizer, hist = train(steps=args.steps, seed=args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out)
    tokenizer.save_pretrained(args.out)
    for f in args.out.iterdir():
        f.chmod(0o644)
    sys.path.insert(0, str(ROOT))
    import interp_widgets as iw

    m = iw.load_model(str(args.out), device="cpu")
    scores = {k: [[round(float(x), 2) for x in row] for row in v] for k, v in iw.head_detector_scores(m).items()}
    info = {"steps": args.steps, "seed": args.seed, "seconds": round(hist["seconds"]),
            "final_loss": round(hist["loss"][-1][1], 4), "detectors": scores}
    (args.out / "training.json").write_text(json.dumps(info))
    print(json.dumps(info, indent=1))


if __name__ == "__main__":
    main()
