"""The M5 (data curation) checkers, Gopher's stop-word rule to mixture epochs: each passes right answers however they are
written, and fails each typical mistake with the hint that names it.

The wrong answers below are written the way a student would write them, not
with the checkers' own helpers, so that a hint is only found when the checker
really recognises the mistake. (Every checker is also run against its own
list of known mistakes, its solution and a stub in test_exercises_core.py.)
"""

import hashlib
import re
import string

import numpy as np
import pytest

from minillm import exercises
from minillm.curation import dedup, filters, mixture, pii

P = (1 << 31) - 1

# ----------------------------------------------------------------------------
# right answers: Gopher's stop-word rule


def stop_words_by_regex(text):  # runs of letters: the checker's texts have punctuation only around words
    return len(set(re.findall(r"[a-z]+", text.lower())) & {"the", "be", "to", "of", "and", "that", "have", "with"}) < 2


def stop_words_in_a_loop(text):  # string.punctuation, a list of those found, an if
    found = []
    for word in text.split():
        word = word.strip(string.punctuation).lower()
        if word in filters.STOP_WORDS and word not in found:
            found.append(word)
    if len(found) >= 2:
        return False
    return True


def stop_words_counted_by_numpy(text):  # a numpy bool back
    words = {w.lower().strip(".,;:!?()'\"") for w in text.split()}
    return np.sum([w in words for w in filters.STOP_WORDS]) < 2

# ----------------------------------------------------------------------------
# right answers: the Luhn check


def luhn_by_string_reversal(number):  # the reversed string sliced: digits at even places kept, odd places doubled
    digits = re.sub(r"\D", "", number)[::-1]
    total = sum(int(c) for c in digits[0::2])
    for c in digits[1::2]:
        q, r = divmod(2 * int(c), 10)
        total += q + r  # the sum of the digits of the double
    return total % 10 == 0


DOUBLED = [0, 2, 4, 6, 8, 1, 3, 5, 7, 9]  # 2d with its digits summed, for d = 0..9


def luhn_with_a_lookup_table(number):
    digits = [int(c) for c in number if c.isdigit()]
    total, double = 0, False
    for d in reversed(digits):
        total += DOUBLED[d] if double else d
        double = not double
    return total % 10 == 0


def luhn_with_integer_arithmetic(number):  # the digits peeled off an int, last first
    n, total, position = int(number.replace(" ", "").replace("-", "")), 0, 0
    while n:
        n, d = divmod(n, 10)
        if position % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
        position += 1
    return not total % 10


def luhn_with_numpy(number):  # a numpy bool back
    d = np.array([int(c) for c in number.replace(" ", "").replace("-", "")])[::-1]
    d[1::2] *= 2
    d[d > 9] -= 9
    return d.sum() % 10 == 0


def luhn_with_the_check_digit_apart(number):  # the check digit compared with the one the other digits call for
    digits = number.replace("-", "").replace(" ", "")
    body, check = digits[:-1], int(digits[-1])
    total = 0
    for i, c in enumerate(reversed(body)):  # now i = 0 is doubled
        d = int(c) * (2 if i % 2 == 0 else 1)
        total += d // 10 + d % 10
    return (10 - total % 10) % 10 == check


# ----------------------------------------------------------------------------
# right answers: a MinHash signature


def minhash_in_python(shingle_ids, a, b, p):  # a list of Python ints
    return [min((int(ak) * int(x) + int(bk)) % p for x in shingle_ids) for ak, bk in zip(a, b)]


def minhash_with_outer(shingle_ids, a, b, p):  # the arrays' own dtypes, uint64 or int64
    return (np.outer(a, shingle_ids) + b[:, None]).__mod__(p).min(axis=1)


def minhash_running_minimum(shingle_ids, a, b, p):  # one shingle at a time; np.minimum makes it float64, still exact
    signature = np.full(len(a), np.iinfo(np.int64).max)
    for x in shingle_ids:
        signature = np.minimum(signature, (a * x + b) % p)
    return signature


def minhash_in_uint64(shingle_ids, a, b, p):  # everything made uint64 first, a tuple back
    x, a, b = (np.asarray(v, dtype=np.uint64) for v in (shingle_ids, a, b))
    return tuple(((a[:, None] * x + b[:, None]) % np.uint64(p)).min(axis=1).tolist())


def minhash_as_a_generator(shingle_ids, a, b, p):
    return (min((ak * x + bk) % p for x in shingle_ids.tolist()) for ak, bk in zip(a.tolist(), b.tolist()))


# ----------------------------------------------------------------------------
# right answers: band keys


def band_keys_as_strings(signature, bands, rows):
    return [f"{i}:" + ",".join(str(v) for v in signature[i * rows:(i + 1) * rows]) for i in range(bands)]


def band_keys_as_hashes_of_bytes(signature, bands, rows):  # the index's bytes and the band's, hashed
    keys = []
    for i in range(bands):
        band = np.ascontiguousarray(signature[i * rows:(i + 1) * rows])
        keys.append(hashlib.sha1(i.to_bytes(4, "little") + band.tobytes()).hexdigest())
    return keys


def band_keys_bytes_and_index(signature, bands, rows):
    return [(i, signature[i * rows:(i + 1) * rows].tobytes()) for i in range(bands)]


def band_keys_by_reshape(signature, bands, rows):
    return [(i, *row) for i, row in enumerate(np.asarray(signature).reshape(bands, rows).tolist())]


def band_keys_as_python_hashes(signature, bands, rows):  # ints; collisions are possible in principle, not here
    return [hash((i, tuple(signature[i * rows:(i + 1) * rows].tolist()))) for i in range(bands)]


def band_keys_with_an_assert(signature, bands, rows):  # checks the sizes with an assert: fine
    assert bands * rows == len(signature), "bands * rows must be the signature's length"
    return tuple((i, tuple(int(v) for v in signature[i * rows:(i + 1) * rows])) for i in range(bands))


# ----------------------------------------------------------------------------
# right answers: epochs


def epochs_ratio_first(weight, source_tokens, total_tokens):
    return weight * (total_tokens / source_tokens)


def epochs_tokens_drawn(weight, source_tokens, total_tokens):  # the tokens drawn from the source, then its epochs
    drawn = weight * total_tokens
    return drawn / source_tokens


def epochs_in_numpy(weight, source_tokens, total_tokens):
    return np.float64(weight) * np.float64(total_tokens) / np.float64(source_tokens)


RIGHT = [
    (exercises.check_few_stop_words, exercises.solution("few_stop_words")),
    (exercises.check_few_stop_words, filters.few_stop_words),
    (exercises.check_few_stop_words, stop_words_by_regex),
    (exercises.check_few_stop_words, stop_words_in_a_loop),
    (exercises.check_few_stop_words, stop_words_counted_by_numpy),
    (exercises.check_luhn_valid, exercises.solution("luhn_valid")),
    (exercises.check_luhn_valid, pii.luhn_valid),
    (exercises.check_luhn_valid, luhn_by_string_reversal),
    (exercises.check_luhn_valid, luhn_with_a_lookup_table),
    (exercises.check_luhn_valid, luhn_with_integer_arithmetic),
    (exercises.check_luhn_valid, luhn_with_numpy),
    (exercises.check_luhn_valid, luhn_with_the_check_digit_apart),
    (exercises.check_minhash_signature, exercises.solution("minhash_signature")),
    (exercises.check_minhash_signature, minhash_in_python),
    (exercises.check_minhash_signature, minhash_with_outer),
    (exercises.check_minhash_signature, minhash_running_minimum),
    (exercises.check_minhash_signature, minhash_in_uint64),
    (exercises.check_minhash_signature, minhash_as_a_generator),
    (exercises.check_band_keys, exercises.solution("band_keys")),
    (exercises.check_band_keys, band_keys_as_strings),
    (exercises.check_band_keys, band_keys_as_hashes_of_bytes),
    (exercises.check_band_keys, band_keys_bytes_and_index),
    (exercises.check_band_keys, band_keys_by_reshape),
    (exercises.check_band_keys, band_keys_as_python_hashes),
    (exercises.check_band_keys, band_keys_with_an_assert),
    (exercises.check_epochs_elapsed, exercises.solution("epochs_elapsed")),
    (exercises.check_epochs_elapsed, epochs_ratio_first),
    (exercises.check_epochs_elapsed, epochs_tokens_drawn),
    (exercises.check_epochs_elapsed, epochs_in_numpy),
]


@pytest.mark.parametrize("checker, right", RIGHT, ids=lambda f: getattr(f, "__name__", ""))
def test_checker_passes_right_answers(checker, right, capsys):
    checker(right)
    assert re.fullmatch(rf"✓ {checker.__name__}: \d+ cases passed\n", capsys.readouterr().out)


# ----------------------------------------------------------------------------
# the solutions are the package's functions, written out


def test_the_stop_word_solution_is_the_packages_rule_on_the_crawls_kinds_of_page():
    from minillm.curation.crawl import make_crawl

    rule = exercises.solution("few_stop_words")
    pages = make_crawl(1.2, seed=2, progress=False)  # the plays in both editions, then 0.4 MB of every kind
    assert [rule(p.text) for p in pages] == [filters.few_stop_words(p.text) for p in pages]
    assert 0 < sum(rule(p.text) for p in pages) < len(pages)


def test_the_luhn_solution_is_the_packages_on_random_numbers():
    rng = np.random.default_rng(0)
    luhn = exercises.solution("luhn_valid")
    for n in range(2, 20):
        for _ in range(50):
            number = "".join(map(str, rng.integers(0, 10, size=n)))
            assert luhn(number) == pii.luhn_valid(number), number
    assert luhn("4111 1111 1111 1111") and luhn("3782-822463-10005") and not luhn("4111 1111 1111 1112")


def test_the_minhash_solution_is_minhashers_signature():
    hasher = dedup.MinHasher(num_perm=64, seed=3)
    ids = dedup.shingles(" ".join(f"word{i % 37}" for i in range(400))) % np.uint64(P)
    got = exercises.solution("minhash_signature")(ids, hasher.a, hasher.b, P)
    assert got.tolist() == hasher.signature(ids).tolist() == hasher.signature_reference(ids)


def test_the_band_keys_solution_finds_lsh_candidates():
    rng = np.random.default_rng(1)
    sig = rng.integers(0, 4, size=(30, 12)).astype(np.uint32)  # few values: many shared bands
    band_keys = exercises.solution("band_keys")
    buckets = {}
    for d, row in enumerate(sig):
        for key in band_keys(row, 4, 3):
            buckets.setdefault(key, []).append(d)
    pairs = {(i, j) for members in buckets.values() for i in members for j in members if i < j}
    assert pairs == dedup.lsh_candidates(sig, bands=4, rows=3)


def test_the_band_keys_solution_refuses_the_wrong_sizes():
    with pytest.raises(ValueError, match=r"bands x rows = 3 x 3 = 9 must equal the signature's length 8"):
        exercises.solution("band_keys")(np.arange(8), 3, 3)


def test_the_epochs_solution_reproduces_gpt3s_common_crawl():
    epochs = exercises.solution("epochs_elapsed")
    assert round(epochs(0.60, 410e9, 300e9), 2) == 0.44
    rows = {r["name"]: r["computed"] for r in mixture.gpt3_epochs_check()}
    for r in mixture.GPT3_MIXTURE:
        assert epochs(r.weight, r.tokens, mixture.GPT3_TRAIN_TOKENS) == pytest.approx(rows[r.name], rel=1e-12)


# ----------------------------------------------------------------------------
# wrong answers: Gopher's stop-word rule

STOP = ["the", "be", "to", "of", "and", "that", "have", "with"]


def stop_words_counted_twice(text):
    return sum(word.lower().strip(string.punctuation) in STOP for word in text.split()) < 2


def stop_words_as_substrings(text):
    return len([w for w in STOP if w in text.lower()]) < 2


def stop_words_case_sensitive(text):
    return len({w.strip(string.punctuation) for w in text.split()} & set(STOP)) < 2


def stop_words_with_punctuation(text):
    return len(set(text.lower().split()) & set(STOP)) < 2


def stop_words_split_at_spaces(text):
    return len({w.strip(string.punctuation).lower() for w in text.split(" ")} & set(STOP)) < 2


def stop_words_at_most_two(text):
    return len({w.strip(string.punctuation).lower() for w in text.split()} & set(STOP)) <= 2


def stop_words_keeps_instead(text):  # "does the page pass?" rather than "drop it?"
    return len({w.strip(string.punctuation).lower() for w in text.split()} & set(STOP)) >= 2


def stop_words_counted(text):  # the count, not the decision
    return len({w.strip(string.punctuation).lower() for w in text.split()} & set(STOP))


# ----------------------------------------------------------------------------
# wrong answers: the Luhn check


def luhn_from_the_left(number):
    digits = number.replace(" ", "").replace("-", "")
    total = 0
    for i, c in enumerate(digits):
        d = int(c)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def luhn_keeps_the_double(number):
    digits = number.replace(" ", "").replace("-", "")[::-1]
    return sum(int(c) * (2 if i % 2 else 1) for i, c in enumerate(digits)) % 10 == 0


def luhn_last_digit_of_the_double(number):
    digits = number.replace(" ", "").replace("-", "")[::-1]
    return sum((int(c) * 2) % 10 if i % 2 else int(c) for i, c in enumerate(digits)) % 10 == 0


def luhn_double_mod_nine(number):
    digits = number.replace(" ", "").replace("-", "")[::-1]
    return sum((int(c) * 2) % 9 if i % 2 else int(c) for i, c in enumerate(digits)) % 10 == 0


def luhn_doubles_the_check_digit(number):
    digits = number.replace(" ", "").replace("-", "")[::-1]
    total = 0
    for i, c in enumerate(digits):
        d = int(c) * 2 if i % 2 == 0 else int(c)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def luhn_without_stripping(number):
    total = 0
    for i, c in enumerate(reversed(number)):
        d = int(c)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def luhn_strips_spaces_only(number):
    n, total, position = int(number.replace(" ", "")), 0, 0  # int("5500-0000-0000-0004") raises
    while n:
        n, d = divmod(n, 10)
        total += (d * 2 - 9 if d > 4 else d * 2) if position % 2 else d
        position += 1
    return total % 10 == 0


def luhn_skips_separators_in_the_loop(number):
    total = 0
    for i, c in enumerate(number[::-1]):
        if c in " -":
            continue
        d = int(c)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def luhn_returns_the_remainder(number):
    digits = number.replace(" ", "").replace("-", "")[::-1]
    return sum(DOUBLED[int(c)] if i % 2 else int(c) for i, c in enumerate(digits)) % 10


def luhn_adds_characters(number):
    digits = number.replace(" ", "").replace("-", "")
    return sum(digits) % 10 == 0


# ----------------------------------------------------------------------------
# wrong answers: a MinHash signature


def minhash_max(shingle_ids, a, b, p):
    return ((a[:, None] * shingle_ids[None, :] + b[:, None]) % p).max(axis=1)


def minhash_min_over_permutations(shingle_ids, a, b, p):
    return ((a[:, None] * shingle_ids[None, :] + b[:, None]) % p).min(axis=0)


def minhash_one_minimum(shingle_ids, a, b, p):
    return np.min((np.outer(a, shingle_ids) + b[:, None]) % p)


def minhash_mod_after_the_min(shingle_ids, a, b, p):
    return (a[:, None] * shingle_ids[None, :] + b[:, None]).min(axis=1) % p


def minhash_no_mod(shingle_ids, a, b, p):
    return [min(int(ak) * int(x) + int(bk) for x in shingle_ids) for ak, bk in zip(a, b)]


def minhash_own_prime(shingle_ids, a, b, p):
    prime = 2 ** 31 - 1
    return [min((int(ak) * int(x) + int(bk)) % prime for x in shingle_ids) for ak, bk in zip(a, b)]


def minhash_no_b(shingle_ids, a, b, p):
    return ((a[:, None] * shingle_ids[None, :]) % p).min(axis=1)


def minhash_without_broadcasting(shingle_ids, a, b, p):
    return ((a * shingle_ids + b) % p).min()


def minhash_mixes_int64_and_uint64(shingle_ids, a, b, p):  # a as int64, the ids left uint64: float64 in between
    a = np.asarray(a, dtype=np.int64)
    return ((a[:, None] * shingle_ids[None, :] + b[:, None]) % p).min(axis=1)


def minhash_in_int32(shingle_ids, a, b, p):
    x, a, b = (np.asarray(v).astype(np.int32) for v in (shingle_ids, a, b))
    return ((a[:, None] * x[None, :] + b[:, None]) % p).min(axis=1)


# ----------------------------------------------------------------------------
# wrong answers: band keys


def band_keys_without_the_index(signature, bands, rows):
    return [tuple(signature[i * rows:(i + 1) * rows]) for i in range(bands)]


def band_keys_bytes_without_the_index(signature, bands, rows):
    return [signature[i * rows:(i + 1) * rows].tobytes() for i in range(bands)]


def band_keys_as_arrays(signature, bands, rows):
    return list(signature.reshape(bands, rows))


def band_keys_with_lists(signature, bands, rows):
    return [(i, list(signature[i * rows:(i + 1) * rows])) for i in range(bands)]


def band_keys_hashing_arrays(signature, bands, rows):  # hash() of a numpy array raises
    return [hash((i, signature[i * rows:(i + 1) * rows])) for i in range(bands)]


def band_keys_overlapping(signature, bands, rows):
    return [(i, tuple(signature[i:i + rows])) for i in range(bands)]


def band_keys_one_per_row(signature, bands, rows):
    return [(i, tuple(signature[i * rows:(i + 1) * rows])) for i in range(rows)]


def band_keys_every_bands_th(signature, bands, rows):
    return [(i, tuple(signature[i::bands])) for i in range(bands)]


def band_keys_by_the_wrong_reshape(signature, bands, rows):
    return [(i, tuple(col)) for i, col in enumerate(signature.reshape(rows, bands).T.tolist())]


def band_keys_joined_without_separator(signature, bands, rows):
    return [str(i) + "".join(str(v) for v in signature[i * rows:(i + 1) * rows]) for i in range(bands)]


def band_keys_as_sets(signature, bands, rows):
    return [(i, frozenset(signature[i * rows:(i + 1) * rows].tolist())) for i in range(bands)]


def band_keys_as_sums(signature, bands, rows):
    return [(i, int(signature[i * rows:(i + 1) * rows].sum())) for i in range(bands)]


def band_keys_in_few_buckets(signature, bands, rows):  # the index is in, but 4096 buckets: collisions at scale
    keys = []
    for i in range(bands):
        text = repr((i, signature[i * rows:(i + 1) * rows].tolist())).encode()
        keys.append(int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little") % 4096)
    return keys


# ----------------------------------------------------------------------------
# wrong answers: epochs


def epochs_inverted(weight, source_tokens, total_tokens):
    return source_tokens / total_tokens * weight


def epochs_without_the_weight(weight, source_tokens, total_tokens):
    return total_tokens / source_tokens


def epochs_in_percent(weight, source_tokens, total_tokens):
    return weight * 100 * total_tokens / source_tokens


def epochs_weight_as_a_percent(weight, source_tokens, total_tokens):
    return (weight / 100) * total_tokens / source_tokens


def epochs_floor_division(weight, source_tokens, total_tokens):
    return weight * total_tokens // source_tokens


def epochs_divides_by_the_weight(weight, source_tokens, total_tokens):
    size_per_weight = source_tokens / weight
    return total_tokens / size_per_weight


def epochs_like_the_package(weight, source_tokens, total_tokens):  # a dict back, as mixture.epochs_elapsed gives
    return mixture.epochs_elapsed({"web": weight}, {"web": source_tokens}, total_tokens)


WRONG = [
    (exercises.check_few_stop_words, stop_words_counted_twice, "count different stop words, not occurrences"),
    (exercises.check_few_stop_words, stop_words_as_substrings, "'the' is in 'other'"),
    (exercises.check_few_stop_words, stop_words_case_sensitive, "lower-case the words first"),
    (exercises.check_few_stop_words, stop_words_with_punctuation, "strip punctuation from the ends of each word"),
    (exercises.check_few_stop_words, stop_words_split_at_spaces, "split at any whitespace"),
    (exercises.check_few_stop_words, stop_words_at_most_two, "exactly 2 different stop words is kept"),
    (exercises.check_few_stop_words, stop_words_keeps_instead, "a rule returns True to DROP the page"),
    (exercises.check_few_stop_words, stop_words_counted, "return the comparison itself"),
    (exercises.check_luhn_valid, luhn_from_the_left, "count the positions from the right"),
    (exercises.check_luhn_valid, luhn_keeps_the_double, "the Luhn sum adds both"),
    (exercises.check_luhn_valid, luhn_last_digit_of_the_double, "not 14, and not 14 % 10 = 4"),
    (exercises.check_luhn_valid, luhn_double_mod_nine, "18 % 9 = 0"),
    (exercises.check_luhn_valid, luhn_doubles_the_check_digit, "the check digit (the last one) is not doubled"),
    (exercises.check_luhn_valid, luhn_without_stripping, "remove the separators before reading the digits"),
    (exercises.check_luhn_valid, luhn_strips_spaces_only, "remove the separators before reading the digits"),
    (exercises.check_luhn_valid, luhn_skips_separators_in_the_loop, "count positions among the digits only"),
    (exercises.check_luhn_valid, luhn_returns_the_remainder, "return total % 10 == 0, a bool"),
    (exercises.check_luhn_valid, luhn_adds_characters, "turn each character into a number, int(char)"),
    (exercises.check_minhash_signature, minhash_max, "MinHash keeps the minimum"),
    (exercises.check_minhash_signature, minhash_min_over_permutations, "axis=0 gives one value per shingle"),
    (exercises.check_minhash_signature, minhash_one_minimum, "one minimum per hash function, not one overall"),
    (exercises.check_minhash_signature, minhash_mod_after_the_min, "take every value mod p before the minimum"),
    (exercises.check_minhash_signature, minhash_no_mod, "without the mod p, a x + b grows with x"),
    (exercises.check_minhash_signature, minhash_own_prime, "with the p passed in"),
    (exercises.check_minhash_signature, minhash_no_b, "add b: h(x) = (a x + b) % p"),
    (exercises.check_minhash_signature, minhash_without_broadcasting, "a[:, None] * shingle_ids[None, :]"),
    (exercises.check_minhash_signature, minhash_mixes_int64_and_uint64, "numpy turns int64 mixed with uint64 into"),
    (exercises.check_minhash_signature, minhash_in_int32, "not int32, which wraps around"),
    (exercises.check_band_keys, band_keys_without_the_index, "put the band's index in its key"),
    (exercises.check_band_keys, band_keys_bytes_without_the_index, "put the band's index in its key"),
    (exercises.check_band_keys, band_keys_as_arrays, "a key must be hashable"),
    (exercises.check_band_keys, band_keys_with_lists, "a key must be hashable"),
    (exercises.check_band_keys, band_keys_hashing_arrays, "a key must be hashable"),
    (exercises.check_band_keys, band_keys_overlapping, "the bands don't overlap"),
    (exercises.check_band_keys, band_keys_one_per_row, "one key per band, `bands` keys"),
    (exercises.check_band_keys, band_keys_every_bands_th, "takes every bands-th slot instead"),
    (exercises.check_band_keys, band_keys_by_the_wrong_reshape, "takes every bands-th slot instead"),
    (exercises.check_band_keys, band_keys_joined_without_separator, "numbers joined into one string need a separator"),
    (exercises.check_band_keys, band_keys_as_sets, "not by a set or a sum of them"),
    (exercises.check_band_keys, band_keys_as_sums, "not by a set or a sum of them"),
    (exercises.check_band_keys, band_keys_in_few_buckets, "two keys are equal exactly when the band index"),
    (exercises.check_epochs_elapsed, epochs_inverted, "you divided the other way round"),
    (exercises.check_epochs_elapsed, epochs_without_the_weight, "only the source's share of the training tokens"),
    (exercises.check_epochs_elapsed, epochs_in_percent, "multiplying it by 100"),
    (exercises.check_epochs_elapsed, epochs_weight_as_a_percent, "don't divide it by 100"),
    (exercises.check_epochs_elapsed, epochs_floor_division, "use /, not //"),
    (exercises.check_epochs_elapsed, epochs_divides_by_the_weight, "a source of weight 0 is never drawn from"),
    (exercises.check_epochs_elapsed, epochs_like_the_package, "return weight * total_tokens / source_tokens, a float"),
]


@pytest.mark.parametrize("checker, wrong, hint", WRONG, ids=[w.__name__ for _, w, _ in WRONG])
def test_checker_fails_a_subtly_wrong_answer_with_a_hint(checker, wrong, hint, fails_with_hint):
    fails_with_hint(checker, wrong, hint)


# ----------------------------------------------------------------------------
# what a failure shows


def test_doubling_from_the_left_passes_16_digits_and_fails_15():
    with pytest.raises(AssertionError) as e:
        exercises.check_luhn_valid(luhn_from_the_left)
    lines = str(e.value).splitlines()
    assert lines[0] == "check_luhn_valid failed on case 3 of 6 (15 digits (American Express): an odd length):"
    assert lines[1] == "luhn_valid('378282246310005') (15 digits) should be True, got False"
    assert lines[2].startswith("hint: count the positions from the right")


def test_a_forgotten_modulus_shows_the_hand_sized_example():
    with pytest.raises(AssertionError) as e:
        exercises.check_minhash_signature(minhash_no_mod)
    lines = str(e.value).splitlines()
    assert lines[0] == "check_minhash_signature failed on case 1 of 8 (by hand: 3 shingles, 2 hash functions, p = 13):"
    assert lines[1] == ("minhash_signature(shingle_ids=[3, 7, 10], a=[2, 5], b=[1, 0], p=13) should give [2, 2], "
                        "got [7, 15] (first wrong: number 0)")


def test_the_wrong_axis_names_the_number_of_values():
    with pytest.raises(AssertionError) as e:
        exercises.check_minhash_signature(minhash_min_over_permutations)
    assert "should give 2 numbers, one per hash function, got shape (3,): [2, 2, 8]" in str(e.value)


def test_a_missing_band_index_shows_the_two_equal_keys():
    with pytest.raises(AssertionError) as e:
        exercises.check_band_keys(band_keys_without_the_index)
    lines = str(e.value).splitlines()
    assert lines[0] == "check_band_keys failed on case 2 of 8 (the same values in two different bands):"
    assert re.fullmatch(r"for A = \[5, 6, 5, 6\], B = \[7, 8, 5, 6\], C = \[5, 6, 7, 8\] and band_keys\(\.\.\., "
                        r"bands=2, rows=2\): A's key 0, \(.*\), and A's key 1, \(.*\), are equal, but they are bands "
                        r"0 and 1 \(with the values \[5, 6\] and \[5, 6\]\), and different bands must give different "
                        r"keys", lines[1])
    assert lines[2].startswith("hint: put the band's index in its key, (i, tuple(band))")


def test_collisions_at_scale_are_shown_against_the_s_curve():
    with pytest.raises(AssertionError) as e:
        exercises.check_band_keys(band_keys_in_few_buckets)
    lines = str(e.value).splitlines()
    assert lines[0] == ("check_band_keys failed on case 8 of 8 (300 pairs of similar signatures, 8 bands x 4 rows: "
                        "the candidates of the S-curve):")
    p = dedup.candidate_probability(0.6, 8, 4)
    assert re.fullmatch(rf"of 300 pairs of signatures of 8 bands x 4 rows that agree on each slot with probability "
                        rf"0\.6, \d+ share a band and should become candidates \(the S-curve 1 - \(1 - 0\.6\^4\)\^8 = "
                        rf"{p:.3f} predicts {p * 300:.0f}\), your keys made \d+; the first wrong pair, number \d+, "
                        r"shares no band but got a key in common", lines[1])


def test_gpt3s_common_crawl_is_the_first_case():
    with pytest.raises(AssertionError) as e:
        exercises.check_epochs_elapsed(epochs_inverted)
    lines = str(e.value).splitlines()
    assert lines[0] == ("check_epochs_elapsed failed on case 1 of 9 (GPT-3's Common Crawl (filtered): 60% of 300B "
                        "tokens from 410B):")
    assert lines[1] == ("epochs_elapsed(weight=0.6, source_tokens=410e9, total_tokens=300e9) should be 0.439024, "
                        "got 0.82")
