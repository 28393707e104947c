"""Checkers for module M1's sampling (notebook 01): one token from logits, then the autoregressive loop.

Both compare with `minillm.generate`. Sampled answers are compared by the
frequencies of many draws, or exactly where the generator is seeded alike;
the loop runs a tiny GPT with large random weights, so that what it
predicts depends strongly on the context it is given.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from ..generate import generate, sample_next
from ..model import GPT, GPTConfig
from ._core import Case, Mismatch, Mistake, _as_tensor, _probs, _random_logits, _show, known_mistake, run_cases

# ----------------------------------------------------------------------------
# one token from the logits


def solution_sample_next(logits, temperature=1.0, generator=None):
    """One token id per row of logits (B, V) -> (B, 1): `minillm.generate.sample_next` without top-k/top-p."""
    return sample_next(logits, temperature, generator=generator)


def _sample_multiplied(logits, temperature=1.0, generator=None):
    if temperature == 0:
        return logits.argmax(dim=-1, keepdim=True)
    return torch.multinomial(torch.softmax(logits * temperature, dim=-1), 1, generator=generator)


def _sample_probs_divided(logits, temperature=1.0, generator=None):
    if temperature == 0:
        return logits.argmax(dim=-1, keepdim=True)
    probs = torch.softmax(logits, dim=-1) / temperature  # multinomial renormalises: T has no effect
    return torch.multinomial(probs, 1, generator=generator)


def _sample_always_greedy(logits, temperature=1.0, generator=None):
    return logits.argmax(dim=-1, keepdim=True)


def _sample_softmax_over_rows(logits, temperature=1.0, generator=None):
    if temperature == 0:
        return logits.argmax(dim=-1, keepdim=True)
    return torch.multinomial(torch.softmax(logits / temperature, dim=0), 1, generator=generator)


SAMPLE_NEXT_MISTAKES = [
    Mistake(_sample_multiplied,
            "divide the logits by the temperature: multiplying sharpens where it should flatten, and the other "
            "way round"),
    Mistake(_sample_probs_divided,
            "the temperature must change the distribution: divide the *logits* by it before the softmax "
            "(dividing the probabilities does nothing, since multinomial renormalises them)"),
    Mistake(_sample_always_greedy,
            "only temperature 0 is greedy; for T > 0 draw at random, "
            "torch.multinomial(probs, num_samples=1, generator=generator)"),
    Mistake(_sample_softmax_over_rows,
            "take the softmax over the vocabulary, dim=-1 (each row is one distribution), not over the rows"),
]


def _sampling_error_hint(error: BaseException) -> str | None:
    message = str(error)
    if "probability tensor contains" in message or "invalid multinomial distribution" in message:
        return ("torch.multinomial needs probabilities, finite and >= 0: take the softmax of logits / temperature "
                "first, and handle temperature 0 (greedy, argmax) before dividing by it")
    return None


def check_sample_next(fn: Callable) -> None:
    """fn(logits (B, V), temperature=1.0, generator=None) -> ids (B, 1); temperature 0 is greedy.

    Greedy picks are compared exactly with `minillm.generate.sample_next`;
    sampled ones by their frequencies over many rows, which must match
    softmax(logits / temperature).
    """
    def shape_and_dtype(ids: Any, rows: int) -> torch.Tensor:
        ids = _as_tensor(ids, f"a ({rows}, 1) tensor of token ids")
        if ids.shape != (rows, 1):
            raise Mismatch(f"expected shape ({rows}, 1), one id per row (keepdim=True, or num_samples=1), so "
                           f"the loop can append it with torch.cat(..., dim=1); got {tuple(ids.shape)}")
        if ids.dtype not in (torch.int64, torch.int32):
            raise Mismatch(f"return token ids as integers (torch.long), got dtype {ids.dtype}")
        return ids

    def greedy(logits: torch.Tensor) -> Callable:
        def run(call):
            expected = sample_next(logits, temperature=0)
            got = shape_and_dtype(call(logits.clone(), temperature=0), len(logits))
            if not torch.equal(got.long(), expected):
                raise Mismatch(f"temperature 0 means greedy: the id of the largest logit in each row, "
                               f"{_show(expected.squeeze(1))}; got {_show(got.squeeze(1))}")
        return run

    def frequencies(temperature: float) -> Callable:
        logits = torch.tensor([[2.0, 1.0, 0.0, -1.0, -3.0]])
        n = 20_000

        def observe(impl):
            ids = shape_and_dtype(impl(logits.expand(n, -1).clone(), temperature=temperature,
                                       generator=torch.Generator().manual_seed(11)), n)
            if ids.min() < 0 or ids.max() >= logits.size(1):
                raise Mismatch(f"ids must lie in 0..{logits.size(1) - 1}, "
                               f"got {ids.min().item()}..{ids.max().item()}")
            return torch.bincount(ids.long().squeeze(1), minlength=logits.size(1)) / n

        def same(a, b):
            return (a - b).abs().max().item() <= 0.02  # sampling noise is about 0.004

        def run(call):
            expected = torch.softmax(logits[0] / temperature, dim=-1)
            freq = observe(call)
            if same(freq, expected):
                return
            raise Mismatch(f"over {n:,} draws from logits {_show(logits[0])} at temperature {temperature} the "
                           f"frequencies should be near softmax(logits / T) = {_probs(expected)}, got "
                           f"{_probs(freq)}",
                           known_mistake(SAMPLE_NEXT_MISTAKES, observe, freq, same)
                           or "divide the logits by the temperature before the softmax, then draw with "
                              "torch.multinomial")
        return run

    def reproducible(call):
        logits = _random_logits(200, 30, seed=12)
        first = call(logits.clone(), temperature=1.0, generator=torch.Generator().manual_seed(5))
        second = call(logits.clone(), temperature=1.0, generator=torch.Generator().manual_seed(5))
        if not torch.equal(shape_and_dtype(first, 200), shape_and_dtype(second, 200)):
            raise Mismatch("two calls with generators seeded alike drew different tokens",
                           "pass generator=generator to torch.multinomial, so that a seed reproduces the text")

    def leaves_logits_alone(call):
        logits = _random_logits(4, 9, seed=13)
        before = logits.clone()
        call(logits, temperature=0.5, generator=torch.Generator().manual_seed(0))
        if not torch.equal(logits, before):
            raise Mismatch("the logits passed in were changed in place (e.g. `logits /= temperature`)",
                           "compute a new tensor, `logits / temperature`, so the caller's logits stay as they were")

    cases = [Case("greedy, a batch of 4 rows", greedy(_random_logits(4, 10, seed=10))),
             Case("greedy, one row of 84 tokens", greedy(_random_logits(1, 84, seed=14))),
             Case("temperature 1: frequencies follow softmax(logits)", frequencies(1.0)),
             Case("temperature 0.5 sharpens the distribution", frequencies(0.5)),
             Case("temperature 2 flattens the distribution", frequencies(2.0)),
             Case("the same seed gives the same tokens", reproducible),
             Case("the caller's logits are left unchanged", leaves_logits_alone)]
    run_cases("check_sample_next", fn, cases, _sampling_error_hint)


# ----------------------------------------------------------------------------
# the autoregressive loop

def solution_sample_loop(model, ids, max_new_tokens, generator=None):
    """ids (B, T) extended by max_new_tokens tokens drawn at temperature 1: `minillm.generate.generate`."""
    return generate(model, ids, max_new_tokens, generator=generator)


def _loop(model, ids, max_new_tokens, generator, context: Callable, position: int = -1, feed_back: bool = True):
    """The loop with its two choices made by the caller: which tokens the model sees, which prediction is used."""
    out = ids
    for _ in range(max_new_tokens):
        logits, _ = model(context(out if feed_back else ids, model.config.block_size))
        next_id = sample_next(logits[:, position, :], generator=generator)
        out = torch.cat([out, next_id], dim=1)
    return out


def _loop_ignores_generator(model, ids, max_new_tokens, generator=None):
    return generate(model, ids, max_new_tokens)


def _loop_greedy(model, ids, max_new_tokens, generator=None):
    return generate(model, ids, max_new_tokens, temperature=0)


SAMPLE_LOOP_MISTAKES = [
    Mistake(lambda model, ids, n, generator=None: _loop(model, ids, n, generator, lambda x, bs: x[:, :bs]),
            "keep the *last* block_size tokens, ids[:, -block_size:]: the newest tokens are the ones the next "
            "token follows"),
    Mistake(lambda model, ids, n, generator=None: _loop(model, ids, n, generator, lambda x, bs: x[:, -1:]),
            "give the model the whole context (up to block_size tokens), not only the last token: a GPT "
            "reads everything before the position it predicts"),
    Mistake(lambda model, ids, n, generator=None: _loop(model, ids, n, generator, lambda x, bs: x[:, 1 - bs:]),
            "crop to exactly block_size tokens, ids[:, -block_size:], not one fewer"),
    Mistake(lambda model, ids, n, generator=None: _loop(model, ids, n, generator, lambda x, bs: x[:, -bs:], 0),
            "use the prediction at the last position, logits[:, -1, :]: position t predicts the token after t, "
            "and the last position's is the one that is new"),
    Mistake(lambda model, ids, n, generator=None:
            _loop(model, ids, n, generator, lambda x, bs: x[:, -bs:], feed_back=False),
            "feed each sampled token back in: the next step's context must include it, "
            "ids = torch.cat([ids, next_id], dim=1)"),
    Mistake(_loop_greedy,
            "sample the next token (with generator=generator); taking the argmax is greedy decoding, but this "
            "loop draws at temperature 1"),
    Mistake(_loop_ignores_generator,
            "pass generator=generator to the sampler, so that a seed reproduces the text"),
]


def _loop_error_hint(error: BaseException) -> str | None:
    message = str(error)
    if isinstance(error, ValueError) and "longer than the model's block_size" in message:
        return ("the model sees at most block_size tokens: crop the context to its last block_size tokens, "
                "ids[:, -model.config.block_size:], at every step")
    if isinstance(error, TypeError) and "tuple" in message:
        return "the model returns a pair, (logits, loss): `logits, _ = model(context)`"
    return None


def _peaked_gpt(seed: int = 0) -> GPT:
    """A tiny GPT whose large random weights make its predictions peaked and context-dependent."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16))
        with torch.no_grad():
            for p in model.parameters():
                p.normal_(0.0, 1.0)
    return model.eval()


def check_sample_loop(fn: Callable) -> None:
    """fn(model, ids (B, T), max_new_tokens, generator) -> ids (B, T + max_new_tokens).

    Compared exactly with `minillm.generate.generate` at temperature 1 on a
    tiny GPT (block_size 8), with generators seeded alike, prompts shorter
    and longer than block_size, and a batch of two.
    """
    model = _peaked_gpt()

    def case(ids: torch.Tensor, max_new_tokens: int) -> Callable:
        B, T = ids.shape

        def observe(impl):
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(1234)  # a sampler without the generator draws the same for every implementation
                out = impl(model, ids.clone(), max_new_tokens, torch.Generator().manual_seed(7))
            out = _as_tensor(out, f"a ({B}, {T + max_new_tokens}) tensor of token ids")
            if out.shape != (B, T + max_new_tokens):
                raise Mismatch(f"expected shape ({B}, {T} + {max_new_tokens}): the prompt followed by the new "
                               f"tokens; got {tuple(out.shape)}")
            if out[:, :T].tolist() != ids.tolist():
                raise Mismatch("the output must start with the prompt, unchanged; append the new tokens after it")
            return out.tolist()

        def run(call):
            expected = observe(solution_sample_loop)
            got = observe(call)
            if got == expected:
                return
            new_expected = [row[T:] for row in expected]
            new_got = [row[T:] for row in got]
            problem = (f"a prompt of shape ({B}, {T}) with max_new_tokens={max_new_tokens} should get the new "
                       f"tokens {new_expected}, got {new_got}")
            raise Mismatch(problem, known_mistake(SAMPLE_LOOP_MISTAKES, observe, got)
                           or "at every step: crop to the last block_size tokens, run the model, sample from the "
                              "last position's logits with the generator, append")
        return run

    prompt = torch.tensor([[3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8]])  # 12 tokens, longer than block_size 8
    cases = [Case("a 3-token prompt, 5 new tokens", case(prompt[:, :3], 5)),
             Case("max_new_tokens=0: the prompt comes back", case(prompt[:, :3], 0)),
             Case("a batch of two 4-token prompts, 6 new tokens", case(torch.tensor([[1, 2, 3, 4], [4, 3, 2, 1]]), 6)),
             Case("a prompt that fills block_size (8 tokens), 4 new tokens", case(prompt[:, :8], 4)),
             Case("a prompt longer than block_size (12 tokens)", case(prompt, 5)),
             Case("a 1-token prompt, 20 new tokens", case(prompt[:, :1], 20))]
    run_cases("check_sample_loop", fn, cases, _loop_error_hint)
