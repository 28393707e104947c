"""The three families of Transformer, built from one block: decoder-only, encoder-only, encoder-decoder.

    family            model                  attention                                objective
    decoder-only      GPT (minillm.model)    causal                                   next token, P(x_t | x_<t)
    encoder-only      Encoder (BERT)         both ways                                masked tokens, P(x_i | x masked)
    encoder-decoder   EncoderDecoder (T5)    encoder both ways; decoder causal,       next target token,
                                             plus cross-attention to the encoder      P(y_t | y_<t, x)

All three stack the same `minillm.model.Block`; only the mask and the objective change. Each trains on a
small task with a known answer in about a minute on a laptop CPU and shows that it learned:
`train_masked_lm` fills in masked characters (or whole words) of held-out Shakespeare plays, against
always guessing the most frequent one, and `train_transduction` reverses (or sorts) random strings
(exact match, against copying the input).

Design choices, and the simplifications made for teaching:
- `Encoder` is a `GPT` whose blocks attend both ways, `GPT(cfg, causal=False)`: the same embeddings,
  weight init, final norm and output head tied to the token embedding. BERT also has a small transform
  (linear, GELU, LayerNorm) before its output layer, segment embeddings and a next-sentence objective;
  all three are left out.
- `mask_tokens` is BERT's recipe: choose 15% of the positions; of those, 80% become [MASK], 10% a random
  token, 10% stay as they are; the loss is only on the chosen positions. Without the random and unchanged
  10%s the model would only learn about positions showing [MASK], a token it never sees after
  pretraining. Positions are chosen independently (a coin per position, as Hugging Face's collator does)
  rather than exactly 15% per sequence as BERT's data script; `word_start` chooses whole words at once
  (BERT's later whole-word masking).
- `EncoderDecoder` holds an `Encoder` for the source and a `GPT(cfg, cross=True)` for the target, so
  each decoder block is causal self-attention, cross-attention to the encoder's output, MLP. Both
  stacks have `n_layer` blocks and share one token embedding (and, tied, the output layer), as the
  2017 Transformer and T5 do when source and target share a vocabulary; each has its own position
  table. The encoder's own output head goes unused (tied: it adds no weights).
- Teacher forcing: the decoder reads the true target shifted right, [BOS] y_1 .. y_n, and predicts
  y_1 .. y_n [EOS], every position at once. `greedy_decode` encodes the source once and reruns the
  decoder on the whole prefix at every step (no KV cache; `minillm.generate` explains the loop).
- Padding: a (B, T) boolean mask, True at real tokens, becomes a key mask (B, 1, 1, T); padded
  positions still compute outputs, which no loss and no caller reads.
- The Shakespeare task reads characters or BPE tokens. On characters an encoder learns to fill in
  masked characters within a minute; with `whole_words` a word (a run of letters) is chosen whole and
  all its letters are masked: much harder, and the model sees how long the word is, so it is scored
  against the most frequent training word ("the") and the fairer most frequent word of that length.
  On BPE tokens (`tokens="bpe"`, BERT's setting: it read WordPiece tokens) the common words are one
  token each, so one [MASK] hides a whole word, length included; these are scored, against the most
  frequent training word. Rarer words, split into several tokens, are masked in training but not scored.
"""

from __future__ import annotations

import random
import re
import string
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from .data import Corpus, shakespeare
from .device import cpu_threads
from .errors import ConfigError, TrainingError
from .model import GPT, IGNORE_INDEX, GPTConfig
from .optim import AdamW, clip_grad_norm, lr_at, param_groups
from .bpe import BPETokenizer
from .tokenizer import MASK, CharTokenizer

PAD, BOS, EOS = "[PAD]", "[BOS]", "[EOS]"  # the transduction task's special tokens


# ----------------------------------------------------------------------------
# masking: BERT's recipe

def word_starts(is_word: torch.Tensor) -> torch.Tensor:
    """(B, T) bool, True at the characters of words -> (B, T): where the word of each position begins.

    A position outside any word is its own one-position group.

    >>> word_starts(torch.tensor([[True, True, False, True, True, True]]))
    tensor([[0, 0, 2, 3, 3, 3]])
    """
    B, T = is_word.shape
    after_word = F.pad(is_word[:, :-1], (1, 0), value=False)  # (B, T): was the previous position in a word?
    starts = ~(is_word & after_word)  # a word's first letter, or a position outside words
    positions = torch.arange(T, device=is_word.device).expand(B, T)
    return torch.where(starts, positions, 0).cummax(dim=1).values  # the latest start at or before each position


def mask_tokens(idx: torch.Tensor, mask_id: int, vocab_size: int, p: float = 0.15,
                generator: torch.Generator | None = None, special_ids: Sequence[int] = (),
                maskable: torch.Tensor | None = None, word_start: torch.Tensor | None = None,
                p_mask: float = 0.8, p_random: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masked-LM corruption of a batch of ids (B, T) -> (inputs, targets), both (B, T).

    Each position is chosen with probability `p`, never one holding [MASK] or another of
    `special_ids` (padding, say), nor one where `maskable` (B, T) is False. Of the chosen positions
    `p_mask` become `mask_id`, `p_random` a random ordinary token, the rest keep their token. targets
    holds the original id at chosen positions and IGNORE_INDEX everywhere else, so the loss sees
    only them. With `word_start` (see `word_starts`), a word's first position decides for all of it.
    """
    if not 0 <= p <= 1 or not (0 <= p_mask and 0 <= p_random and p_mask + p_random <= 1):
        raise ConfigError(f"need 0 <= p <= 1 and p_mask, p_random >= 0 with p_mask + p_random <= 1; "
                          f"got p={p}, p_mask={p_mask}, p_random={p_random}")
    if idx.ndim != 2 or idx.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"idx must be a (batch, time) tensor of integer token ids, got shape "
                         f"{tuple(idx.shape)} and dtype {idx.dtype}")
    specials = sorted({mask_id, *special_ids})
    ordinary = torch.tensor([i for i in range(vocab_size) if i not in specials])  # what "random" draws from
    coin, action = torch.rand(2, *idx.shape, generator=generator).to(idx.device)  # 2 x (B, T) in [0, 1)
    chosen = coin < p
    if word_start is not None:
        chosen = chosen.gather(1, word_start)  # the coin of each word's first position
    chosen &= ~torch.isin(idx, torch.tensor(specials, device=idx.device))
    if maskable is not None:
        chosen &= maskable
    random_ids = ordinary[torch.randint(len(ordinary), idx.shape, generator=generator)].to(idx.device)
    inputs = torch.where(chosen & (action < p_mask), mask_id, idx)                      # 80%: [MASK]
    use_random = chosen & (action >= p_mask) & (action < p_mask + p_random)
    inputs = torch.where(use_random, random_ids, inputs)                                # 10%: a random token
    targets = torch.where(chosen, idx, IGNORE_INDEX)                                    # 10%: left as is
    return inputs, targets


def key_mask(mask: torch.Tensor | None, shape: tuple[int, int]) -> torch.Tensor | None:
    """A padding mask (B, T), True at real tokens -> the attention mask over keys, (B, 1, 1, T)."""
    if mask is None:
        return None
    if tuple(mask.shape) != tuple(shape) or mask.dtype != torch.bool:
        raise ValueError(f"the padding mask must be a bool tensor shaped like the ids {tuple(shape)}, "
                         f"True at real tokens; got {mask.dtype} {tuple(mask.shape)}")
    if not mask.any(dim=1).all():
        raise ValueError("a sequence in the batch is all padding: attention needs at least one real token "
                         "per row; drop empty sequences from the batch")
    return mask[:, None, None, :]  # every query (and head) sees the same keys


# ----------------------------------------------------------------------------
# the models

class Encoder(GPT):
    """BERT-style encoder: a GPT whose blocks attend both ways, trained to fill in masked tokens.

    forward(idx, targets, mask) -> (logits (B, T, V), loss only where targets != IGNORE_INDEX).
    Every position sees the whole sequence (except padding, where `mask` is False), so unlike a GPT
    it is no model of the next token: `minillm.generate` makes no sense for it.
    """

    def __init__(self, cfg: GPTConfig):
        super().__init__(cfg, causal=False)

    def encode(self, idx: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T) ids -> (B, T, C): one vector per position, each made from the whole sequence."""
        attn_mask = key_mask(mask, idx.shape)  # (B, 1, 1, T) or None
        x = self.embed(idx)  # (B, T, C)
        for block in self.blocks:
            x = block(x, mask=attn_mask)
        return self.norm_f(x)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None, mask: torch.Tensor | None = None):
        logits = self.head(self.encode(idx, mask))  # (B, T, V)
        # BERT's objective: maximise sum over masked i of log P(x_i | the corrupted sequence)
        return logits, (None if targets is None else self.loss(logits, targets))


class EncoderDecoder(nn.Module):
    """Encoder-decoder Transformer (2017 Transformer, T5): read a source sequence, write a target.

    forward(src, tgt_in, tgt_out, src_mask) -> (logits (B, T, V), loss) with teacher forcing;
    greedy_decode(src, max_len, bos_id, eos_id, src_mask) -> generated ids (B, <= max_len).
    """

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.config = cfg
        self.encoder = Encoder(cfg)
        self.decoder = GPT(cfg, cross=True)  # blocks: causal self-attention, cross-attention, MLP
        # one token embedding for source, target and (tied) output layer
        self.decoder.tok_emb.weight = self.encoder.tok_emb.weight
        if cfg.tie_weights:
            self.decoder.head.weight = self.encoder.tok_emb.weight

    def decode(self, tgt_in: torch.Tensor, memory: torch.Tensor, src_mask: torch.Tensor | None = None):
        """Target ids so far (B, T) and the encoder's output (B, S, C) -> next-token logits (B, T, V)."""
        context_mask = key_mask(src_mask, memory.shape[:2])  # (B, 1, 1, S) or None
        x = self.decoder.embed(tgt_in)  # (B, T, C)
        for block in self.decoder.blocks:
            x = block(x, context=memory, context_mask=context_mask)
        return self.decoder.head(self.decoder.norm_f(x))

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor, tgt_out: torch.Tensor | None = None,
                src_mask: torch.Tensor | None = None):
        """src (B, S), tgt_in (B, T) = [BOS] y_1 .. y_n, tgt_out (B, T) = y_1 .. y_n [EOS] (IGNORE_INDEX at padding)."""
        memory = self.encoder.encode(src, src_mask)  # (B, S, C)
        logits = self.decode(tgt_in, memory, src_mask)  # (B, T, V)
        # teacher forcing: every target position is predicted at once from the true prefix
        return logits, (None if tgt_out is None else self.decoder.loss(logits, tgt_out))

    @torch.no_grad()
    def greedy_decode(self, src: torch.Tensor, max_len: int, bos_id: int, eos_id: int,
                      src_mask: torch.Tensor | None = None) -> torch.Tensor:
        """The most likely token at every step, from [BOS] until every row wrote [EOS] or max_len tokens.

        Returns (B, n <= max_len) ids without the [BOS]; after a row's [EOS] come more [EOS].
        """
        if not 1 <= max_len <= self.config.block_size:
            raise ConfigError(f"max_len must lie in 1..block_size={self.config.block_size} (the decoder's "
                              f"positions), got {max_len}")
        was_training = self.training
        self.eval()
        memory = self.encoder.encode(src, src_mask)  # the source is read once
        out = torch.full((src.size(0), 1), bos_id, dtype=torch.long, device=src.device)  # (B, 1)
        done = torch.zeros(src.size(0), dtype=torch.bool, device=src.device)
        for _ in range(max_len):
            next_id = self.decode(out, memory, src_mask)[:, -1].argmax(dim=-1)  # (B,)
            next_id = torch.where(done, eos_id, next_id)  # a finished row only pads
            out = torch.cat([out, next_id[:, None]], dim=1)
            done |= next_id == eos_id
            if done.all():
                break
        self.train(was_training)
        return out[:, 1:]

    def num_params(self) -> int:
        """Number of parameters (the shared embedding counts once)."""
        return sum(p.numel() for p in self.parameters())


# ----------------------------------------------------------------------------
# a small training loop for both

def fit(model: nn.Module, next_batch: Callable[[], tuple], steps: int, learning_rate: float,
        warmup_steps: int, weight_decay: float = 0.01, grad_clip: float = 1.0, progress: bool = True,
        desc: str = "training") -> list[float]:
    """Train `model` for `steps` AdamW steps on `model(*next_batch())[1]`; returns each step's loss.

    The GPT's loop (`minillm.train`) draws windows of one token stream and predicts the next token; the
    families' batches are shaped differently, so they get this plain loop with the same pieces: AdamW,
    linear warmup and cosine decay (`minillm.optim.lr_at`), global gradient clipping.
    """
    optimizer = AdamW(param_groups(model, weight_decay), lr=learning_rate, betas=(0.9, 0.99))
    losses: list[float] = []
    model.train()
    bar = tqdm(range(steps), desc=desc, unit="step", disable=not progress)
    for step in bar:
        lr = lr_at(step, learning_rate, warmup_steps, steps)
        for group in optimizer.param_groups:
            group["lr"] = lr
        _, loss = model(*next_batch())
        if not torch.isfinite(loss):
            raise TrainingError(f"the loss became {loss.item()} at step {step + 1} (learning rate {lr:.3g}): "
                                "training diverged; lower learning_rate or lengthen warmup_steps")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip > 0:
            clip_grad_norm(model.parameters(), grad_clip)
        optimizer.step()
        losses.append(loss.item())
        if step % 25 == 0 or step == steps - 1:
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
    model.eval()
    return losses


def _set_threads(threads: int | None) -> None:
    cpu_threads("auto" if threads is None else threads)


# ----------------------------------------------------------------------------
# task (a): fill in masked characters (or whole words) of Shakespeare with the encoder

WORD = re.compile(r"[A-Za-z]+")  # a word is a run of letters ("call'd" is two: "call", "d")

# The default encoder: 2 blocks of width 128 reading 64 characters, about 0.4M parameters. Subtle: with
# RoPE rather than learned positions, because filling a [MASK] starts with "look at my neighbours", a rule
# by relative position that RoPE has from step 0. A learned table must first learn it: that encoder sits
# at the unigram baseline for about 200 steps and fills 37.4% of the masked characters after 1,000 steps,
# against RoPE's 49.5%.
MASKED_LM_MODEL = dict(block_size=64, n_layer=2, n_head=4, n_embd=128, position="rope")

# With tokens="bpe": a BPE of 1,024 tokens learned on the training plays. A quarter of the tokens of the
# plays are then whole words (" the", " lord"), and the BPE trains in about 4 s. 64 of these tokens are
# about 230 characters, so the same encoder sees more context than on characters.
MASKED_WORDS_VOCAB = 1024


@dataclass
class MaskedLMResult:
    """What `train_masked_lm` measured on the held-out plays."""

    accuracy: float                 # masked characters the encoder filled in right (tokens="bpe": words)
    baseline: float                 # always the most frequent training character (a letter, with whole_words;
                                    # the most frequent word with tokens="bpe")
    n_masked: int                   # masked characters scored (tokens="bpe": words)
    whole_words: bool               # whole words masked (all their letters), or single characters
    tokens: str                     # "char" or "bpe": what the encoder reads
    seconds: float                  # training time, without data preparation and evaluation
    n_params: int
    loss: list[float]               # the training loss at every step, for a curve
    examples: list[tuple[str, str, str]]  # (text with _ for each masked character, filled in, original)
    word_accuracy: float | None = None  # with whole_words: masked words found (see evaluate_masked_lm)
    word_baseline: float | None = None  # always the most frequent training word
    word_baseline_by_length: float | None = None  # the most frequent training word of the masked word's length
    n_words: int = 0                # masked words scored
    model: Encoder | None = field(default=None, repr=False)
    tokenizer: CharTokenizer | BPETokenizer | None = field(default=None, repr=False)

    def __str__(self) -> str:
        if self.tokens == "bpe":
            return (f"encoder on BPE tokens, masked words of held-out plays ({self.seconds:.0f} s training): "
                    f"{self.accuracy:.1%} of {self.n_masked:,} right (most frequent word {self.baseline:.1%})")
        what = "whole words" if self.whole_words else "characters"
        line = (f"encoder, masked {what} of held-out plays ({self.seconds:.0f} s training): "
                f"{self.accuracy:.1%} of {self.n_masked:,} masked characters right (unigram baseline "
                f"{self.baseline:.1%})")
        if self.whole_words:
            line += (f"; {self.word_accuracy:.1%} of {self.n_words:,} words (most frequent word "
                     f"{self.word_baseline:.1%}, most frequent of that length {self.word_baseline_by_length:.1%})")
        return line


def unigram_baselines(text: str) -> dict:
    """The most frequent character, letter, word, and word of each length in `text`.

    >>> unigram_baselines("the cat sat on the mat")
    {'char': 't', 'letter': 't', 'word': 'the', 'by_length': {3: 'the', 2: 'on'}}
    """
    words = Counter(WORD.findall(text))
    chars = Counter(text)
    letters = Counter({c: n for c, n in chars.items() if WORD.fullmatch(c)})
    by_length: dict[int, str] = {}
    for w, _ in words.most_common():  # most frequent first: the first word of each length wins
        by_length.setdefault(len(w), w)
    return {"char": chars.most_common(1)[0][0], "letter": letters.most_common(1)[0][0],
            "word": words.most_common(1)[0][0], "by_length": by_length}


def _letter_table(tok: CharTokenizer) -> torch.Tensor:
    """(V,) bool: is token i a letter? Special tokens are not."""
    return torch.tensor([bool(WORD.fullmatch(c)) for c in tok.chars] + [False] * len(tok.special_tokens))


def _windows(data: torch.Tensor, starts: torch.Tensor, T: int) -> torch.Tensor:
    return data[starts[:, None] + torch.arange(T)]  # (B, T): row b is data[starts[b] : starts[b] + T]


def _choose(idx: torch.Tensor, tok: CharTokenizer | BPETokenizer, whole_words: bool, p: float, generator: torch.Generator,
            edges: bool = True, **rates) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """mask_tokens for characters, or for whole words (runs of letters); -> inputs, targets, word starts.

    With edges=False, no word cut by the window's first or last position is chosen (for scoring whole words).
    """
    if not whole_words:
        return *mask_tokens(idx, tok.special_tokens[MASK], tok.vocab_size, p, generator, **rates), None
    is_word = _letter_table(tok)[idx]  # (B, T)
    start = word_starts(is_word)
    if not edges:
        is_word &= (start != start[:, :1]) & (start != start[:, -1:])
    inputs, targets = mask_tokens(idx, tok.special_tokens[MASK], tok.vocab_size, p, generator, maskable=is_word,
                                  word_start=start, **rates)
    return inputs, targets, start


def lexicon(text: str, tok: CharTokenizer) -> dict[int, tuple[list[str], torch.Tensor]]:
    """The distinct words of `text` by length: {length: (words, their ids (K, length))}.

    >>> lexicon("to be, or", CharTokenizer("beort"))
    {2: (['be', 'or', 'to'], tensor([[0, 1],
            [2, 3],
            [4, 2]]))}
    """
    by_length: dict[int, list[str]] = {}
    for w in sorted(set(WORD.findall(text))):
        by_length.setdefault(len(w), []).append(w)
    return {n: (ws, torch.tensor([tok.encode(w) for w in ws])) for n, ws in by_length.items()}


@torch.no_grad()
def evaluate_masked_lm(model: Encoder, tok: CharTokenizer, text: str, train_text: str, windows: int = 400,
                       p: float = 0.15, seed: int = 0, whole_words: bool = False, batch_size: int = 100) -> dict:
    """Mask characters (or whole words) of `text` with [MASK] and score the encoder's fill-ins.

    `windows` evenly spaced windows of block_size characters; in each, characters (or words, not
    those cut by the window's edges) are chosen with probability `p` and all become [MASK]. A masked
    character is filled with the encoder's most likely character; a masked word with the word of
    `train_text` of that length whose letters the encoder finds most likely together (the sum of their
    log-probabilities). Baselines come from `train_text` too. Returns the fields of a `MaskedLMResult`
    that it measures, with five examples.
    """
    T = model.config.block_size
    data = torch.tensor(tok.encode(text), dtype=torch.long)
    if len(data) <= T:
        raise ConfigError(f"the evaluation text has {len(data)} characters; it needs more than block_size={T}")
    starts = torch.linspace(0, len(data) - T - 1, windows).long()
    generator = torch.Generator().manual_seed(seed)
    baselines = unigram_baselines(train_text)
    guess_id = tok.stoi[baselines["letter" if whole_words else "char"]]
    words_by_length = lexicon(train_text, tok) if whole_words else {}
    model.eval()
    n = hits = base = words = word_hits = word_base = length_base = 0
    examples = []
    for chunk in starts.split(batch_size):
        idx = _windows(data, chunk, T)  # (B, T)
        inputs, targets, start = _choose(idx, tok, whole_words, p, generator, edges=False, p_mask=1.0, p_random=0.0)
        logits = model(inputs)[0]  # (B, T, V)
        logits[..., len(tok.chars):] = float("-inf")  # answer with characters, never a special token
        pred = logits.argmax(dim=-1)  # (B, T)
        chosen = targets != IGNORE_INDEX
        n += chosen.sum().item()
        hits += (chosen & (pred == idx)).sum().item()
        base += (chosen & (idx == guess_id)).sum().item()
        logp = logits.log_softmax(dim=-1)  # (B, T, V)
        for b in range(len(idx)):
            row, filled = tok.decode(idx[b].tolist()), tok.decode(torch.where(chosen[b], pred[b], idx[b]).tolist())
            for s in sorted(set(start[b][chosen[b]].tolist())) if whole_words else ():  # each masked word
                word = WORD.match(row, s).group()
                if len(word) in words_by_length:
                    known, ids = words_by_length[len(word)]  # ids (K, L)
                    scores = logp[b, s + torch.arange(len(word)), ids].sum(dim=1)  # (K,): log P of each word
                    best = known[scores.argmax().item()]
                else:  # no training word this long: the letters one by one
                    best = filled[s:s + len(word)]
                filled = filled[:s] + best + filled[s + len(word):]
                words += 1
                word_hits += best == word
                word_base += word == baselines["word"]
                length_base += word == baselines["by_length"].get(len(word))
            if chosen[b].any() and len(examples) < 5:
                shown = "".join("_" if c else ch for ch, c in zip(row, chosen[b].tolist()))
                examples.append((shown, filled, row))
    if n == 0:
        raise ConfigError("nothing was masked: use more windows, a larger p, or a longer text")
    scores = {"accuracy": hits / n, "baseline": base / n, "n_masked": n, "examples": examples}
    if whole_words:
        scores.update(word_accuracy=word_hits / words, word_baseline=word_base / words,
                      word_baseline_by_length=length_base / words, n_words=words)
    return scores


def whole_word_tokens(ids: torch.Tensor, tok: BPETokenizer) -> torch.Tensor:
    """(N,) a stream of BPE ids -> (N,) bool: is the token a whole word, a run of letters (with or
    without its leading space) that neither neighbour continues?

    >>> tok = BPETokenizer([(ord(" "), ord("t")), (256, ord("o")), (ord("b"), ord("e"))])  # " to" and "be"
    >>> ids = torch.tensor(tok.encode("to be, to"))
    >>> [tok.decode([i]) for i in ids], whole_word_tokens(ids, tok).tolist()
    (['t', 'o', ' ', 'be', ',', ' to'], [False, False, False, True, False, True])
    """
    pieces = [tok.decode([i]) for i in range(tok.vocab_size)]
    is_word = torch.tensor([re.fullmatch(r" ?[A-Za-z]+", w) is not None for w in pieces])
    first_letter = torch.tensor([re.match("[A-Za-z]", w) is not None for w in pieces])  # starts with a letter
    last_letter = torch.tensor([re.search("[A-Za-z]$", w) is not None for w in pieces])
    next_continues = F.pad(first_letter[ids[1:]], (0, 1), value=False)            # " lor" + "d"
    prev_continues = F.pad(last_letter[ids[:-1]], (1, 0), value=False) & first_letter[ids]  # "t" + "o"
    return is_word[ids] & ~next_continues & ~prev_continues


@torch.no_grad()
def evaluate_masked_words(model: Encoder, tok: BPETokenizer, text: str, train_text: str, windows: int = 400,
                          p: float = 0.15, seed: int = 0, batch_size: int = 100) -> dict:
    """Mask whole-word BPE tokens of `text` and score the encoder's fill-ins.

    `windows` evenly spaced windows of block_size tokens; in each, the tokens that are whole words (see
    `whole_word_tokens`) are chosen with probability `p` and become [MASK], one per word, so the length
    is hidden too. The encoder answers with its most likely word token, and a fill-in counts when it is
    the same word (" the" for "the" at a line start counts). The baseline always answers the most
    frequent word of `train_text`. Returns the fields of a `MaskedLMResult` that it measures.
    """
    T = model.config.block_size
    data = torch.tensor(tok.encode_ordinary(text), dtype=torch.long)
    if len(data) <= T:
        raise ConfigError(f"the evaluation text has {len(data)} tokens; it needs more than block_size={T}")
    whole = whole_word_tokens(data, tok)
    pieces = [tok.decode([i]) for i in range(tok.vocab_size)]
    not_word = torch.tensor([re.fullmatch(r" ?[A-Za-z]+", w) is None for w in pieces])
    guess = unigram_baselines(train_text)["word"]
    starts = torch.linspace(0, len(data) - T - 1, windows).long()
    generator = torch.Generator().manual_seed(seed)
    model.eval()
    n = hits = base = 0
    examples = []
    for chunk in starts.split(batch_size):
        idx = _windows(data, chunk, T)  # (B, T)
        inputs, targets = mask_tokens(idx, tok.special_tokens[MASK], tok.vocab_size, p, generator,
                                      maskable=_windows(whole, chunk, T), p_mask=1.0, p_random=0.0)
        logits = model(inputs)[0]  # (B, T, V)
        logits[..., not_word] = float("-inf")  # answer with a word
        pred, chosen = logits.argmax(dim=-1), targets != IGNORE_INDEX  # (B, T) each
        for b in range(len(idx)):
            truth = [pieces[i] for i in idx[b].tolist()]
            said = [pieces[i].strip() for i in pred[b].tolist()]
            words = [(t, s) for t, s, c in zip(truth, said, chosen[b].tolist()) if c]
            n += len(words)
            hits += sum(t.strip() == s for t, s in words)
            base += sum(t.strip() == guess for t, _ in words)
            if words and len(examples) < 5:
                space = [" " * t.startswith(" ") for t in truth]
                shown = "".join(sp + "____" if c else t for t, sp, c in zip(truth, space, chosen[b].tolist()))
                filled = "".join(sp + s if c else t for t, s, sp, c in zip(truth, said, space, chosen[b].tolist()))
                examples.append((shown, filled, "".join(truth)))
    if n == 0:
        raise ConfigError("no word was masked: use more windows, a larger p, or a longer text")
    return {"accuracy": hits / n, "baseline": base / n, "n_masked": n, "examples": examples}


def train_masked_lm(steps: int = 1000, batch_size: int = 32, learning_rate: float = 3e-3, warmup_steps: int = 100,
                    p: float = 0.15, whole_words: bool = False, tokens: str = "char",
                    vocab_size: int = MASKED_WORDS_VOCAB, model: dict | None = None, corpus: Corpus | None = None,
                    eval_windows: int = 400, seed: int = 0, threads: int | None = None,
                    progress: bool = True) -> MaskedLMResult:
    """Train an encoder on the training plays (BERT's recipe); score its fill-ins on the held-out ones.

    With tokens="char" it reads characters and fills in masked characters, or with `whole_words`
    every letter of chosen words, so the encoder must produce the word from its context alone: much
    harder. Measured on a 2-core CPU: after the default 1,000 steps it finds 5.4% of the masked words,
    below the 8.5% of always answering the most frequent word of that length; after 6,000 steps (about
    10 minutes) 11.5%, above it. With tokens="bpe" it reads a BPE of `vocab_size` tokens learned on the
    training plays, where common words are one token, and is scored on masked whole words (see
    `evaluate_masked_words`); its context of 64 tokens is about 230 characters.
    `model` overrides settings of `MASKED_LM_MODEL` (any `GPTConfig` field); `corpus` defaults to
    `minillm.data.shakespeare()`, split by whole plays. The same seed gives the same numbers (with the
    same thread count: see `minillm.device`).
    """
    if tokens not in ("char", "bpe"):
        raise ConfigError(f"tokens must be 'char' or 'bpe', got {tokens!r}")
    if tokens == "bpe" and whole_words:
        raise ConfigError("whole_words masks every letter of a word, on characters; with tokens='bpe' a "
                          "masked token is already a word: leave whole_words False")
    _set_threads(threads)
    corpus = corpus if corpus is not None else shakespeare()
    if tokens == "char":
        tok = CharTokenizer.from_text(corpus.train + corpus.val, special_tokens=[MASK])
        encode = tok.encode
    else:
        tok = BPETokenizer.train(corpus.train, vocab_size, special_tokens=[MASK])
        encode = tok.encode_ordinary
    cfg = GPTConfig.from_dict({**MASKED_LM_MODEL, **(model or {}), "vocab_size": tok.vocab_size})
    data = torch.tensor(encode(corpus.train), dtype=torch.long)
    if len(data) <= cfg.block_size:
        raise ConfigError(f"the training text has {len(data)} tokens; it needs more than block_size="
                          f"{cfg.block_size}")
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # the weights
    encoder = Encoder(cfg)

    def next_batch():
        starts = torch.randint(len(data) - cfg.block_size, (batch_size,), generator=generator)
        return _choose(_windows(data, starts, cfg.block_size), tok, whole_words, p, generator)[:2]

    t0 = time.perf_counter()
    losses = fit(encoder, next_batch, steps, learning_rate, warmup_steps, progress=progress, desc="encoder (MLM)")
    seconds = time.perf_counter() - t0
    if tokens == "char":
        scores = evaluate_masked_lm(encoder, tok, corpus.val, corpus.train, eval_windows, p, seed, whole_words)
    else:
        scores = evaluate_masked_words(encoder, tok, corpus.val, corpus.train, eval_windows, p, seed)
    return MaskedLMResult(**scores, whole_words=whole_words, tokens=tokens, seconds=seconds,
                          n_params=encoder.num_params(), loss=losses, model=encoder, tokenizer=tok)


# ----------------------------------------------------------------------------
# task (b): reverse or sort strings with the encoder-decoder

TRANSDUCTIONS: dict[str, Callable[[str], str]] = {
    "reverse": lambda s: s[::-1],                # "minillm" -> "mllinim"
    "sort": lambda s: "".join(sorted(s)),        # "minillm" -> "iillmmn"
}

# the default encoder-decoder: 2 + 2 blocks of width 128, about 0.9M parameters
TRANSDUCTION_MODEL = dict(block_size=16, n_layer=2, n_head=4, n_embd=128)


@dataclass
class TransductionResult:
    """What `train_transduction` measured on held-out strings."""

    task: str                       # a key of TRANSDUCTIONS
    exact_match: float              # greedy decodes equal to the answer, letter for letter
    copy_baseline: float            # answering with the input unchanged
    n_test: int
    seconds: float                  # training time, without evaluation
    n_params: int
    loss: list[float]               # the training loss at every step, for a curve
    examples: list[tuple[str, str, str]]  # (source, greedy output, answer)
    model: EncoderDecoder | None = field(default=None, repr=False)
    tokenizer: CharTokenizer | None = field(default=None, repr=False)

    def __str__(self) -> str:
        return (f"encoder-decoder, {self.task} ({self.n_test} held-out strings, {self.seconds:.0f} s training): "
                f"exact match {self.exact_match:.1%} (copying the input: {self.copy_baseline:.1%})")


def transduction_tokenizer() -> CharTokenizer:
    """Lowercase letters, then [PAD], [BOS], [EOS]."""
    return CharTokenizer(string.ascii_lowercase, [PAD, BOS, EOS])


def random_strings(n: int, rng: random.Random, min_len: int = 3, max_len: int = 10,
                   exclude: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """`n` random lowercase strings of uniform length in min_len..max_len, none of them in `exclude`."""
    out: list[str] = []
    while len(out) < n:
        s = "".join(rng.choices(string.ascii_lowercase, k=rng.randint(min_len, max_len)))
        if s not in exclude:
            out.append(s)
    return out


def transduction_batch(sources: Sequence[str], targets: Sequence[str] | None, tok: CharTokenizer,
                       device: torch.device | str = "cpu"):
    """Strings -> (src (B, S), tgt_in (B, T), tgt_out (B, T), src_mask (B, S)), padded to the longest.

    tgt_in = [BOS] y, padded with [PAD]; tgt_out = y [EOS], padded with IGNORE_INDEX. Without
    `targets`, tgt_in and tgt_out are None (for decoding).
    """
    pad, bos, eos = (tok.special_tokens[s] for s in (PAD, BOS, EOS))

    def padded(rows: list[list[int]], fill: int) -> torch.Tensor:
        width = max(map(len, rows))
        return torch.tensor([r + [fill] * (width - len(r)) for r in rows], dtype=torch.long, device=device)

    src = padded([tok.encode(s) for s in sources], pad)
    if targets is None:
        return src, None, None, src != pad
    ys = [tok.encode(t) for t in targets]
    return src, padded([[bos] + y for y in ys], pad), padded([y + [eos] for y in ys], IGNORE_INDEX), src != pad


@torch.no_grad()
def exact_match(model: EncoderDecoder, tok: CharTokenizer, sources: Sequence[str], targets: Sequence[str],
                batch_size: int = 500) -> tuple[float, list[str]]:
    """Greedy-decode every source; returns the fraction equal to its target, and the outputs."""
    eos = tok.special_tokens[EOS]
    device = next(model.parameters()).device
    outputs = []
    for i in range(0, len(sources), batch_size):
        src, _, _, src_mask = transduction_batch(sources[i:i + batch_size], None, tok, device)
        longest = max(map(len, targets[i:i + batch_size])) + 1  # room for [EOS]
        ids = model.greedy_decode(src, min(longest, model.config.block_size), tok.special_tokens[BOS], eos,
                                  src_mask)
        for row in ids.tolist():
            row = row[:row.index(eos)] if eos in row else row
            outputs.append(tok.decode(row))  # a stray [PAD] or [BOS] decodes as text, and so is wrong
    return sum(o == t for o, t in zip(outputs, targets)) / len(targets), outputs


def train_transduction(task: str = "reverse", steps: int = 800, batch_size: int = 64,
                       learning_rate: float = 2e-3, warmup_steps: int = 100, min_len: int = 3, max_len: int = 10,
                       n_test: int = 1000, model: dict | None = None, seed: int = 0, threads: int | None = None,
                       progress: bool = True) -> TransductionResult:
    """Train an encoder-decoder to `task` random lowercase strings; exact match of greedy decoding on held-out ones.

    The `n_test` test strings are drawn first and never appear in training. `model` overrides
    settings of `TRANSDUCTION_MODEL` (any `GPTConfig` field).
    """
    if task not in TRANSDUCTIONS:
        raise ConfigError(f"unknown task {task!r}; choose one of {sorted(TRANSDUCTIONS)}")
    if not 1 <= min_len <= max_len:
        raise ConfigError(f"need 1 <= min_len <= max_len, got min_len={min_len}, max_len={max_len}")
    _set_threads(threads)
    transform, tok = TRANSDUCTIONS[task], transduction_tokenizer()
    cfg = GPTConfig.from_dict({**TRANSDUCTION_MODEL, **(model or {}), "vocab_size": tok.vocab_size})
    if cfg.block_size < max_len + 1:
        raise ConfigError(f"block_size={cfg.block_size} is too short for strings of {max_len} letters: the "
                          f"decoder reads [BOS] and {max_len} letters; use block_size >= {max_len + 1}")
    rng = random.Random(seed)
    test = random_strings(n_test, rng, min_len, max_len)
    held_out = set(test)
    torch.manual_seed(seed)  # the weights
    net = EncoderDecoder(cfg)

    def next_batch():
        sources = random_strings(batch_size, rng, min_len, max_len, exclude=held_out)
        return transduction_batch(sources, [transform(s) for s in sources], tok)

    t0 = time.perf_counter()
    losses = fit(net, next_batch, steps, learning_rate, warmup_steps, progress=progress,
                 desc=f"encoder-decoder ({task})")
    seconds = time.perf_counter() - t0
    answers = [transform(s) for s in test]
    accuracy, outputs = exact_match(net, tok, test, answers)
    return TransductionResult(task=task, exact_match=accuracy,
                              copy_baseline=sum(s == a for s, a in zip(test, answers)) / n_test, n_test=n_test,
                              seconds=seconds, n_params=net.num_params(), loss=losses,
                              examples=list(zip(test[:8], outputs[:8], answers[:8])), model=net, tokenizer=tok)
