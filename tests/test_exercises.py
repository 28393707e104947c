"""The M1 checkers (notebook 01) against answers written the way a student would write them.

Each checker must pass right answers, however they are written, and fail
each typical mistake with the hint that names it. The wrong answers below
are written without the checkers' own helpers, so that a hint is only found
when the checker really recognises the mistake. (Every checker is also run
against its own list of known mistakes, its solution and a stub in
test_exercises_core.py; the M2 checkers are tested like these in
test_exercises_tokenization.py, the M3 ones in test_exercises_transformer.py.)
"""

import re
from collections import Counter

import pytest
import torch
import torch.nn.functional as F

from minillm import exercises
from minillm.bigram import bigram_counts
from minillm.data import get_batch
from minillm.generate import generate, sample_next


def shift_with_get_batch(ids):
    x, y = get_batch(torch.as_tensor(ids), batch_size=1, block_size=len(ids) - 1)
    return x[0], y[0]


def ngrams_with_zip(ids, n):
    return dict(Counter(zip(*(ids[i:] for i in range(n)))))


def add_k_with_counter(counts, context, token, k, vocab_size):
    followed = Counter()
    for gram, c in counts.items():
        followed[gram[:-1]] += c
    return (counts.get((*context, token), 0) + k) / (followed[tuple(context)] + k * vocab_size)


def embed_with_slices(ids, wte, wpe):
    return F.embedding(ids, wte) + wpe[: ids.shape[1]]


def loop_by_hand(model, ids, max_new_tokens, generator=None):  # the notebook's solution, with minillm's sampler
    for _ in range(max_new_tokens):
        logits, _ = model(ids[:, -model.config.block_size:])
        probs = torch.softmax(logits[:, -1, :], dim=-1)
        ids = torch.cat([ids, torch.multinomial(probs, 1, generator=generator)], dim=1)
    return ids


RIGHT = [
    (exercises.check_shift_by_one, shift_with_get_batch),
    (exercises.check_bigram_counts, bigram_counts),
    (exercises.check_cross_entropy, F.cross_entropy),
    (exercises.check_sample_next, sample_next),
    (exercises.check_count_ngrams, ngrams_with_zip),
    (exercises.check_add_k_prob, add_k_with_counter),
    (exercises.check_embed, embed_with_slices),
    (exercises.check_sample_loop, loop_by_hand),
    (exercises.check_sample_loop, lambda model, ids, n, generator: generate(model, ids, n, generator=generator)),
]


@pytest.mark.parametrize("checker, right", RIGHT, ids=lambda f: getattr(f, "__name__", ""))
def test_checker_passes_right_answers(checker, right, capsys):
    checker(right)
    assert re.fullmatch(rf"✓ {checker.__name__}: \d+ cases passed\n", capsys.readouterr().out)


# ----------------------------------------------------------------------------
# shift by one, bigram counts, cross-entropy

def shift_swapped(ids):
    return ids[1:], ids[:-1]


def shift_off_by_two(ids):
    return ids[:-2], ids[2:]


def shift_wraps_around(ids):  # treats the text as a circle: the last token "predicts" the first
    return list(ids), list(ids[1:]) + [ids[0]]


def shift_pairs(ids):
    return list(zip(ids[:-1], ids[1:]))


def counts_transposed(ids, V):
    return bigram_counts(ids, V).T


def counts_wrap_around(ids, V):
    return bigram_counts(torch.cat([ids, ids[:1]]), V)


def counts_missing_repeats(ids, V):  # fancy-index += writes each distinct (a, b) once
    counts = torch.zeros(V, V, dtype=torch.long)
    counts[ids[:-1], ids[1:]] += 1
    return counts


def counts_drop_last_pair(ids, V):  # the loop stops one pair early
    counts = torch.zeros(V, V)
    for t in range(len(ids) - 2):
        counts[ids[t], ids[t + 1]] += 1
    return counts


def counts_probabilities(ids, V):
    counts = torch.zeros(V, V)
    for a, b in zip(ids[:-1], ids[1:]):
        counts[a, b] += 1
    return counts / counts.sum(dim=1, keepdim=True)


def counts_past_the_end(ids, V):
    counts = torch.zeros(V, V)
    for t in range(len(ids)):
        counts[ids[t], ids[t + 1]] += 1
    return counts


def ce_sum(logits, targets):
    return F.cross_entropy(logits, targets, reduction="sum")


def ce_wrong_sign(logits, targets):
    return -F.cross_entropy(logits, targets)


def ce_naive_softmax(logits, targets):  # exp overflows: inf / inf
    probs = logits.exp() / logits.exp().sum(dim=-1, keepdim=True)
    return -probs[torch.arange(len(targets)), targets].log().mean()


def ce_log_of_softmax(logits, targets):  # log of a probability that underflowed to 0 is -inf
    probs = F.softmax(logits, dim=1)
    return -torch.log(probs[range(len(targets)), targets]).mean()


def ce_without_max(logits, targets):  # the right formula, but exp overflows
    log_probs = logits - torch.log(torch.sum(torch.exp(logits), dim=1, keepdim=True))
    return -log_probs[torch.arange(len(targets)), targets].mean()


def ce_per_position(logits, targets):
    return F.cross_entropy(logits, targets, reduction="none")


def ce_raw_logits(logits, targets):
    return -logits.gather(1, targets[:, None]).mean()


def ce_columns(logits, targets):
    return -F.log_softmax(logits, dim=-1)[:, targets].mean()


def ce_one_hot_mean(logits, targets):
    return -(F.log_softmax(logits, dim=-1) * F.one_hot(targets, logits.shape[1])).mean()


def ce_bits(logits, targets):
    log2_probs = torch.log2(F.softmax(logits.double(), dim=-1))
    return -log2_probs[torch.arange(len(targets)), targets].mean()


# ----------------------------------------------------------------------------
# sampling

def sample_multiplies(logits, temperature=1.0, generator=None):
    if temperature == 0:
        return logits.argmax(dim=-1, keepdim=True)
    return torch.multinomial(torch.softmax(logits * temperature, dim=-1), 1, generator=generator)


def sample_ignores_temperature(logits, temperature=1.0, generator=None):
    if temperature == 0:
        return logits.argmax(dim=-1, keepdim=True)
    return torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator)


def sample_flat_greedy(logits, temperature=1.0, generator=None):
    if temperature == 0:
        return logits.argmax(dim=-1)  # (B,), not (B, 1)
    return sample_next(logits, temperature, generator=generator)


def sample_ignores_generator(logits, temperature=1.0, generator=None):
    return sample_next(logits, temperature)


def sample_in_place(logits, temperature=1.0, generator=None):
    if temperature == 0:
        return logits.argmax(dim=-1, keepdim=True)
    logits /= temperature
    return torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator)


def sample_always_argmax(logits, temperature=1.0, generator=None):
    return torch.argmax(logits / max(temperature, 1e-8), dim=-1, keepdim=True)


def sample_divides_by_zero(logits, temperature=1.0, generator=None):
    return torch.multinomial(torch.softmax(logits / temperature, dim=-1), 1, generator=generator)


# ----------------------------------------------------------------------------
# n-grams

def ngrams_stop_early(ids, n):
    counts = {}
    for i in range(len(ids) - n):
        counts[tuple(ids[i: i + n])] = counts.get(tuple(ids[i: i + n]), 0) + 1
    return counts


def ngrams_step_n(ids, n):
    counts = Counter()
    for i in range(0, len(ids) - n + 1, n):
        counts[tuple(ids[i: i + n])] += 1
    return dict(counts)


def ngrams_tensor_keys(ids, n):
    ids = torch.tensor(ids)
    return Counter(tuple(ids[i: i + n]) for i in range(len(ids) - n + 1))


def ngrams_list_keys(ids, n):
    counts = {}
    for i in range(len(ids) - n + 1):
        counts[ids[i: i + n]] = counts.get(ids[i: i + n], 0) + 1
    return counts


def add_k_once(counts, context, token, k, vocab_size):
    total = sum(c for gram, c in counts.items() if gram[:-1] == tuple(context))
    return (counts.get(tuple(context) + (token,), 0) + k) / (total + k)


def add_k_numerator_only(counts, context, token, k, vocab_size):
    total = sum(c for gram, c in counts.items() if gram[:-1] == tuple(context))
    return (counts.get(tuple(context) + (token,), 0) + k) / total


def add_k_context_ends(counts, context, token, k, vocab_size):
    total = sum(c for gram, c in counts.items() if gram[1:] == tuple(context))
    return (counts.get(tuple(context) + (token,), 0) + k) / (total + k * vocab_size)


def add_k_key_error(counts, context, token, k, vocab_size):
    total = sum(c for gram, c in counts.items() if gram[:-1] == tuple(context))
    return (counts[tuple(context) + (token,)] + k) / (total + k * vocab_size)


# ----------------------------------------------------------------------------
# embeddings

def embed_tokens_only(ids, wte, wpe):
    return wte[ids]


def embed_positions_by_id(ids, wte, wpe):
    return wte[ids] + wpe[ids]


def embed_concatenated(ids, wte, wpe):
    positions = wpe[torch.arange(ids.shape[1])].expand(ids.shape[0], -1, -1)
    return torch.cat([wte[ids], positions], dim=-1)


def embed_all_positions(ids, wte, wpe):
    return wte[ids] + wpe


def embed_detached(ids, wte, wpe):
    return wte.data[ids] + wpe.data[: ids.shape[1]]


# ----------------------------------------------------------------------------
# the sampling loop

def loop_no_crop(model, ids, max_new_tokens, generator=None):
    for _ in range(max_new_tokens):
        logits, _ = model(ids)
        ids = torch.cat([ids, sample_next(logits[:, -1, :], generator=generator)], dim=1)
    return ids


def loop_first_block(model, ids, max_new_tokens, generator=None):
    for _ in range(max_new_tokens):
        logits, _ = model(ids[:, : model.config.block_size])
        ids = torch.cat([ids, sample_next(logits[:, -1, :], generator=generator)], dim=1)
    return ids


def loop_last_token_only(model, ids, max_new_tokens, generator=None):
    for _ in range(max_new_tokens):
        logits, _ = model(ids[:, -1:])
        ids = torch.cat([ids, sample_next(logits[:, -1, :], generator=generator)], dim=1)
    return ids


def loop_first_position(model, ids, max_new_tokens, generator=None):
    for _ in range(max_new_tokens):
        logits, _ = model(ids[:, -model.config.block_size:])
        ids = torch.cat([ids, sample_next(logits[:, 0, :], generator=generator)], dim=1)
    return ids


def loop_new_tokens_only(model, ids, max_new_tokens, generator=None):
    return generate(model, ids, max_new_tokens, generator=generator)[:, ids.shape[1]:]


def loop_argmax(model, ids, max_new_tokens, generator=None):
    for _ in range(max_new_tokens):
        logits, _ = model(ids[:, -model.config.block_size:])
        ids = torch.cat([ids, logits[:, -1, :].argmax(dim=-1, keepdim=True)], dim=1)
    return ids


def loop_no_generator(model, ids, max_new_tokens, generator=None):
    for _ in range(max_new_tokens):
        logits, _ = model(ids[:, -model.config.block_size:])
        ids = torch.cat([ids, torch.multinomial(F.softmax(logits[:, -1], dim=-1), 1)], dim=1)
    return ids


def loop_assumes_a_short_prompt(model, ids, max_new_tokens, generator=None):
    assert ids.shape[1] <= model.config.block_size, "the prompt must fit the context"
    return generate(model, ids, max_new_tokens, generator=generator)


def loop_forgets_the_pair(model, ids, max_new_tokens, generator=None):
    for _ in range(max_new_tokens):
        logits = model(ids[:, -model.config.block_size:])[:, -1, :]
        ids = torch.cat([ids, sample_next(logits, generator=generator)], dim=1)
    return ids


WRONG = [
    (exercises.check_shift_by_one, shift_swapped, "swapped"),
    (exercises.check_shift_by_one, shift_off_by_two, "not two"),
    (exercises.check_shift_by_one, shift_wraps_around, "instead of wrapping around"),
    (exercises.check_shift_by_one, shift_pairs, "return two things"),
    (exercises.check_bigram_counts, counts_transposed, "swapped"),
    (exercises.check_bigram_counts, counts_wrap_around, "don't pair it with the first"),
    (exercises.check_bigram_counts, counts_missing_repeats, "accumulate=True"),
    (exercises.check_bigram_counts, counts_drop_last_pair, "range(len(ids) - 1)"),
    (exercises.check_bigram_counts, counts_probabilities, "return the raw counts"),
    (exercises.check_bigram_counts, counts_past_the_end, "raised IndexError"),
    (exercises.check_cross_entropy, ce_sum, "the loss is the mean"),
    (exercises.check_cross_entropy, ce_wrong_sign, "sign"),
    (exercises.check_cross_entropy, ce_naive_softmax, "inf / inf is nan"),
    (exercises.check_cross_entropy, ce_log_of_softmax, "underflows to 0"),
    (exercises.check_cross_entropy, ce_without_max, "right formula, but exp overflows"),
    (exercises.check_cross_entropy, ce_per_position, "one number"),
    (exercises.check_cross_entropy, ce_raw_logits, "logits are not log-probabilities"),
    (exercises.check_cross_entropy, ce_columns, "log_probs[torch.arange(N), targets]"),
    (exercises.check_cross_entropy, ce_one_hot_mean, "also divides by V"),
    (exercises.check_cross_entropy, ce_bits, "natural log"),
    (exercises.check_sample_next, sample_multiplies, "multiplying sharpens"),
    (exercises.check_sample_next, sample_ignores_temperature, "divide the *logits*"),
    (exercises.check_sample_next, sample_flat_greedy, "shape (4, 1)"),
    (exercises.check_sample_next, sample_ignores_generator, "generator=generator"),
    (exercises.check_sample_next, sample_in_place, "in place"),
    (exercises.check_sample_next, sample_always_argmax, "only temperature 0 is greedy"),
    (exercises.check_sample_next, sample_divides_by_zero, "handle temperature 0"),
    (exercises.check_count_ngrams, ngrams_stop_early, "range(len(ids) - n + 1)"),
    (exercises.check_count_ngrams, ngrams_step_n, "the windows overlap"),
    (exercises.check_count_ngrams, ngrams_tensor_keys, "tuple of Python ints"),
    (exercises.check_count_ngrams, ngrams_list_keys, "raised TypeError"),
    (exercises.check_add_k_prob, add_k_once, "k * V, not k once"),
    (exercises.check_add_k_prob, add_k_numerator_only, "add k * V to the denominator too"),
    (exercises.check_add_k_prob, add_k_context_ends, "*start* with the context"),
    (exercises.check_add_k_prob, add_k_key_error, "counts.get(gram, 0)"),
    (exercises.check_embed, embed_tokens_only, "add the position embeddings too"),
    (exercises.check_embed, embed_positions_by_id, "not by token id"),
    (exercises.check_embed, embed_concatenated, "don't concatenate"),
    (exercises.check_embed, embed_all_positions, "wpe[torch.arange(T)]"),
    (exercises.check_embed, embed_detached, "keep the lookup in autograd"),
    (exercises.check_sample_loop, loop_no_crop, "crop the context to its last block_size tokens"),
    (exercises.check_sample_loop, loop_first_block, "keep the *last* block_size tokens"),
    (exercises.check_sample_loop, loop_last_token_only, "not only the last token"),
    (exercises.check_sample_loop, loop_first_position, "logits[:, -1, :]"),
    (exercises.check_sample_loop, loop_new_tokens_only, "the prompt followed by the new tokens"),
    (exercises.check_sample_loop, loop_argmax, "taking the argmax"),
    (exercises.check_sample_loop, loop_no_generator, "pass generator=generator"),
    (exercises.check_sample_loop, loop_forgets_the_pair, "`logits, _ = model(context)`"),
    (exercises.check_sample_loop, loop_assumes_a_short_prompt, "raised AssertionError: the prompt must fit"),
]


@pytest.mark.parametrize("checker, wrong, hint", WRONG, ids=[w.__name__ for _, w, _ in WRONG])
def test_checker_fails_a_subtly_wrong_answer_with_a_hint(checker, wrong, hint, fails_with_hint):
    fails_with_hint(checker, wrong, hint)
