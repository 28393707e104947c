"""What the decks' figures are drawn from: a corpus and what minillm computes from it, on demand.

Every member of `Sources` is computed the first time a figure asks for it,
then kept, so a deck pays only for what its figures draw: the lifecycle
diagram needs nothing, the bigram figures need the corpus counted, the
training curve trains a tiny GPT for a few seconds, the tokenization figures
train a BPE (4-10 s) and load GPT-2's vocabulary.

`fingerprint()` sums up everything the data depends on (the corpus text,
the settings, the result files of minillm/results/) for the figure cache of
`minillm.plots.decks`.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

import tiktoken
import torch

from .. import results
from ..bigram import BigramModel, bigram_counts
from ..bpe import BPETokenizer
from ..data import Corpus, shakespeare
from ..model import GPT, GPTConfig
from ..ngram import Rung, ladder
from ..tiktoken_bridge import gpt2_encoding
from ..tokenizer import CharTokenizer
from ..train import History, train


class Sources:
    """The data behind the deck figures, each piece computed on first use.

    corpus: the text (Shakespeare when None: built on first use, see minillm.data).
    train_steps: optimizer steps of the tiny GPT; 300 take about 5 s on two CPU cores.
    bpe_vocab_size: the course BPE's vocabulary; 4096 takes 4-10 s to train on two cores.
    results_dir: where `result(name)` reads committed measurements (see minillm.results).
    Tests pass a few lines of text and small settings.
    """

    def __init__(self, corpus: Corpus | None = None, train_steps: int = 300, bpe_vocab_size: int = 4096,
                 results_dir: Path | None = None):
        self._corpus = corpus
        self.train_steps = train_steps
        self.bpe_vocab_size = bpe_vocab_size
        self.results_dir = results_dir

    @functools.cached_property
    def corpus(self) -> Corpus:
        return self._corpus if self._corpus is not None else shakespeare()

    @functools.cached_property
    def char_tokenizer(self) -> CharTokenizer:
        return CharTokenizer.from_text(self.corpus.train + self.corpus.val)

    @functools.cached_property
    def train_ids(self) -> torch.Tensor:
        """The training text as character ids, (N,)."""
        return torch.tensor(self.char_tokenizer.encode(self.corpus.train))

    @functools.cached_property
    def val_ids(self) -> torch.Tensor:
        return torch.tensor(self.char_tokenizer.encode(self.corpus.val))

    @functools.cached_property
    def bigram_counts(self) -> torch.Tensor:
        """Character bigram counts of the training text, (V, V)."""
        return bigram_counts(self.train_ids, self.char_tokenizer.vocab_size)

    @functools.cached_property
    def bigram(self) -> BigramModel:
        return BigramModel(self.bigram_counts, alpha=1.0)

    @functools.cached_property
    def tiny_gpt(self) -> tuple[GPT, History]:
        """A 2-layer character GPT trained for `train_steps` steps on the CPU, seeded, and its history."""
        torch.manual_seed(0)
        model = GPT(GPTConfig(vocab_size=self.char_tokenizer.vocab_size, block_size=32, n_layer=2, n_head=4,
                              n_embd=64))
        # on a busy machine (CI, a shared server) train() takes fewer threads: see minillm/device.py
        history = train(model, self.train_ids, self.val_ids, max_iters=self.train_steps, batch_size=16,
                        learning_rate=3e-3, warmup_iters=min(20, self.train_steps // 5 + 1),
                        eval_interval=max(1, self.train_steps // 6), eval_iters=5, device="cpu", seed=1337,
                        progress=False)
        return model, history

    @functools.cached_property
    def ngram_ladder(self) -> list[Rung]:
        """Character n-gram models, n = 1..6, add-k and Kneser-Ney, scored on the validation text (~10 s)."""
        return ladder(self.train_ids, self.val_ids, self.char_tokenizer.vocab_size, orders=range(1, 7),
                      progress=False)

    @functools.cached_property
    def bpe(self) -> BPETokenizer:
        """A byte-level BPE trained on the training text (fewer tokens if the text runs out of pairs)."""
        return BPETokenizer.train(self.corpus.train, self.bpe_vocab_size)

    @functools.cached_property
    def gpt2(self) -> tiktoken.Encoding:
        """GPT-2's tokenizer; fetched once (see minillm.tiktoken_bridge), DataError if it can't be."""
        return gpt2_encoding()

    def result(self, name: str) -> results.Result:
        """A committed measurement, e.g. result("gpu_preset").values["val_loss"]; see minillm.results."""
        return results.load(name, self.results_dir)

    @functools.cached_property
    def _corpus_digest(self) -> bytes:
        h = hashlib.sha256()
        for text in (self.corpus.name, self.corpus.train, self.corpus.val):
            h.update(hashlib.sha256(text.encode("utf-8")).digest())
        return h.digest()

    def fingerprint(self) -> str:
        """A hash of everything the figures' data comes from: the corpus, the settings, the result files."""
        h = hashlib.sha256(self._corpus_digest)
        h.update(json.dumps([self.train_steps, self.bpe_vocab_size]).encode())
        for path in sorted(results.results_dir(self.results_dir).glob("*.json")):
            h.update(path.name.encode() + hashlib.sha256(path.read_bytes()).digest())
        return h.hexdigest()[:16]
