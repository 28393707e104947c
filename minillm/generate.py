"""Sampling text from a trained model, one token at a time.

A language model only ever predicts the next token. Longer outputs come from
the autoregressive loop: predict a distribution, pick a token from it, append
the token to the input, and repeat.

How the next token is picked from the logits:
- temperature divides the logits: < 1 sharpens the distribution, > 1 flattens
  it; 0 means greedy (always the most likely token).
- top-k keeps only the k most likely tokens.
- top-p (nucleus) keeps the smallest set of most likely tokens whose
  probabilities add up to at least p.
Sampling is seeded through a `torch.Generator`, so the same seed gives the
same text. (The KV cache that makes this loop fast comes in module M9.)
"""

from __future__ import annotations

import math

import torch

from .errors import ConfigError
from .model import GPT
from .tokenizer import Tokenizer


def sample_next(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                top_p: float | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """Pick one token per row of `logits` (B, V); returns ids of shape (B, 1)."""
    if not temperature >= 0 or math.isinf(temperature):  # subtle: `not >=` also catches nan
        raise ConfigError(f"temperature must be a finite number >= 0 (0 means greedy), got {temperature}")
    if top_k is not None and (not isinstance(top_k, int) or top_k < 1):
        raise ConfigError(f"top_k must be a positive integer or None, got {top_k}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ConfigError(f"top_p must lie in (0, 1] or be None, got {top_p}")
    if temperature == 0:
        return logits.argmax(dim=-1, keepdim=True)
    logits = logits.float() / temperature
    if top_k is not None and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]  # (B, 1): the k-th largest logit
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        cum = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
        # drop a token if the tokens before it already reach p (so the top token always stays)
        drop_sorted = (cum - torch.softmax(sorted_logits, dim=-1)) >= top_p
        drop = drop_sorted.scatter(-1, order, drop_sorted)  # back to vocabulary order
        logits = logits.masked_fill(drop, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    return torch.multinomial(probs, num_samples=1, generator=generator)


@torch.no_grad()
def generate(model: GPT, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
             top_k: int | None = None, top_p: float | None = None,
             generator: torch.Generator | None = None) -> torch.Tensor:
    """Extend each row of idx (B, T) by max_new_tokens sampled tokens -> (B, T + max_new_tokens)."""
    if not isinstance(max_new_tokens, int) or max_new_tokens < 0:
        raise ConfigError(f"max_new_tokens must be an integer >= 0, got {max_new_tokens!r}")
    was_training = model.training
    model.eval()
    block_size = model.config.block_size
    for _ in range(max_new_tokens):
        context = idx[:, -block_size:]  # the model sees at most block_size tokens
        logits, _ = model(context)      # (B, T, V)
        next_id = sample_next(logits[:, -1, :], temperature, top_k, top_p, generator)  # (B, 1)
        idx = torch.cat([idx, next_id], dim=1)
    model.train(was_training)
    return idx


def complete(model: GPT, tokenizer: Tokenizer, prompt: str = "\n", max_new_tokens: int = 200,
             num_samples: int = 1, temperature: float = 1.0, top_k: int | None = None,
             top_p: float | None = None, seed: int | None = 0, allow_special: bool = False) -> list[str]:
    """Text in, text out: `num_samples` continuations of `prompt` (prompt not repeated).

    With `allow_special`, special tokens written in the prompt (BPE's
    <|endoftext|>) are read as those tokens, e.g. to start a new document.
    """
    if not isinstance(num_samples, int) or num_samples < 1:
        raise ConfigError(f"num_samples must be a positive integer, got {num_samples!r}")
    device = next(model.parameters()).device
    ids = tokenizer.encode_corpus(prompt) if allow_special else tokenizer.encode(prompt)
    if not ids:
        raise ConfigError("the prompt is empty; give at least one character, e.g. '\\n'")
    idx = torch.tensor([ids] * num_samples, dtype=torch.long, device=device)
    generator = None
    if seed is not None:
        generator = torch.Generator(device=device).manual_seed(seed)
    out = generate(model, idx, max_new_tokens, temperature, top_k, top_p, generator)
    return [tokenizer.decode(row[len(ids):].tolist()) for row in out]
