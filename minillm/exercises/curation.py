"""Checkers for module M5 (notebook 05, data curation): a filter rule, the Luhn check, MinHash, LSH band keys,
mixture epochs.

Each compares the student's function with the package's own code in
`minillm.curation` on the inputs where the usual bugs show:

    exercise           compared with (in minillm)          the inputs where bugs show
    few_stop_words     curation.filters.few_stop_words     a sentence, a menu; one stop word many times; stop
                                                           words capitalised, in punctuation, after a newline;
                                                           words that contain stop words ("other", "tomorrow");
                                                           exactly one and exactly two; an empty page; then 200
                                                           seeded random lines of such words
    luhn_valid         curation.pii.luhn_valid             card numbers of 16 digits (where doubling from the left
                                                           happens to work), then 13, 14, 15, 11 and 19 digits (where
                                                           it doesn't), each with one digit changed; a 9 doubled
                                                           (18 -> 9); spaces and dashes
    minhash_signature  (a x + b) mod p written out, then   a hand-sized example (p = 13), as many shingles as
                       curation.dedup.MinHasher            permutations, one shingle, ids and a near p; a document's
                                                           word 5-grams hashed by MinHasher's own a, b, p = 2^31 - 1
    band_keys          band equality, pair by pair, and    equal and different bands of several signatures, the same
                       dedup.candidate_probability         values in two different bands, bands != rows both ways,
                                                           numbers that run together as strings, the same values in
                                                           another order; then 300 pairs of similar signatures
                                                           bucketed by their keys (the S-curve)
    epochs_elapsed     curation.mixture.epochs_elapsed     GPT-3's five sources (Brown et al. 2020, table 2.2),
                                                           LLaMA's Wikipedia, a source of weight 0

Conventions the checkers rely on (and the notebook states):

- `few_stop_words(text)` returns True to drop the page (as every rule in
  `curation.filters` does): when fewer than 2 of Gopher's 8 stop words
  (`filters.STOP_WORDS`) occur in it as words. A word is a run of
  non-space characters, lower-cased, with the punctuation . , ; : ! ? " '
  ( ) stripped from both ends. The checker's texts have punctuation only at
  the ends of words, so `string.punctuation` or a regex for runs of letters
  gives the same words.
- `luhn_valid(number)` gets a string of at least two digits, with spaces or
  dashes between groups, and returns a bool.
- `minhash_signature(shingle_ids, a, b, p)` gets 1-D numpy integer arrays
  (shingle ids in [0, p), one a and one b per permutation, 1 <= a < p and
  0 <= b < p) and a prime p, at most 2^31 - 1, and returns the num_perm
  minima, one per permutation, as a 1-D array or list of integers. Sizes:
  a x + b <= (p - 1)^2 + p - 1 < 2^62 fits an int64 or uint64 exactly, so
  numpy needs no Python integers; but numpy turns int64 mixed with uint64
  into float64, which rounds such numbers (a checker's hint says so).
  MinHasher's a and b are uint64, and so are `dedup.shingles`' ids: the
  checker passes uint64 arrays, and int64 ones in one case.
- `band_keys(signature, bands, rows)` gets a 1-D array of exactly
  bands * rows values and returns `bands` hashable keys. Any key scheme
  passes as long as two keys are equal exactly when they come from the same
  band index with the same values: all the bands' keys go into one table of
  buckets, so a key must include its band's index. Which keys come back is
  not checked, only which are equal. The solution raises ValueError when
  bands * rows != len(signature); the checker does not call it that way,
  so a student's function need not check (an assert is fine too).
- `epochs_elapsed(weight, source_tokens, total_tokens)` gets a weight as a
  fraction (0.60 for 60%) and returns weight x total / size, compared with a
  relative tolerance of 1e-9.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator
from typing import Any, Callable

import numpy as np

from ..curation import dedup, filters, mixture, pii
from ._core import Case, Mismatch, Mistake, _show, known_mistake, run_cases

# ----------------------------------------------------------------------------
# a heuristic rule: Gopher's stop words


def solution_few_stop_words(text):
    """Gopher's rule: drop (True) a page with fewer than 2 of the 8 stop words; keep (False) the rest.

    >>> solution_few_stop_words("Home | Products | Contact us | Login")
    True
    >>> solution_few_stop_words("The rest is silence, and the readiness is all.")
    False
    """
    words = {word.lower().strip(".,;:!?\"'()") for word in text.split()}  # split() splits at any whitespace
    return len(words & set(filters.STOP_WORDS)) < 2


_STOP = set(filters.STOP_WORDS)
_PUNCTUATION = ".,;:!?\"'()"


def _stop_words_in(text: str) -> set[str]:
    """The different stop words of `text`, found the right way (for the mistakes and the messages)."""
    return {w.lower().strip(_PUNCTUATION) for w in text.split()} & _STOP


FEW_STOP_WORDS_MISTAKES = [
    Mistake(lambda text: sum(w.lower().strip(_PUNCTUATION) in _STOP for w in text.split()) < 2,
            "count different stop words, not occurrences: 'the the the' is one stop word; put the words in a set "
            "first, then intersect it with the stop words"),
    Mistake(lambda text: sum(w in text.lower() for w in _STOP) < 2,
            "look for whole words, not pieces of text: 'the' is in 'other' and 'to' in 'tomorrow'; split the text "
            "into words first"),
    Mistake(lambda text: len({w.strip(_PUNCTUATION) for w in text.split()} & _STOP) < 2,
            "lower-case the words first: 'The' at the start of a sentence is the stop word 'the'"),
    Mistake(lambda text: len({w.lower() for w in text.split()} & _STOP) < 2,
            "strip punctuation from the ends of each word: 'and,' and 'to.' are the stop words 'and' and 'to'"),
    Mistake(lambda text: len({w.lower().strip(_PUNCTUATION) for w in text.split(" ")} & _STOP) < 2,
            "split at any whitespace, text.split() with no argument: text.split(' ') leaves 'menu\\nthe' as one word"),
    Mistake(lambda text: len(_stop_words_in(text)) <= 2,
            "a page with exactly 2 different stop words is kept: drop only when there are fewer than 2, `< 2`"),
    Mistake(lambda text: len(_stop_words_in(text)) < 1,
            "a page with exactly 1 stop word is dropped: Gopher asks for at least 2, so drop when `< 2`"),
    Mistake(lambda text: len(_stop_words_in(text)) >= 2,
            "a rule returns True to DROP the page: return True when there are fewer than 2 stop words"),
]


def check_few_stop_words(fn: Callable) -> None:
    """fn(text: str) -> bool: True (drop) when fewer than 2 of Gopher's 8 stop words occur in the text as words.

    Compared with `minillm.curation.filters.few_stop_words`, the rule the
    pipeline runs, on hand-made texts where the usual slips show, then on
    200 seeded random lines of stop words, words that contain them,
    capitals and punctuation.
    """
    def case(texts: list[str]) -> Callable:
        def observe(impl):
            return tuple(impl(text) for text in texts)

        def run(call):
            got = observe(call)
            for text, g in zip(texts, got):
                if not isinstance(g, (bool, np.bool_)):
                    raise Mismatch(f"few_stop_words({text!r:.60}) should give True or False, got {g!r:.60} (of "
                                   f"type {type(g).__name__})", "return the comparison itself, `... < 2`, a bool")
            expected = tuple(filters.few_stop_words(text) for text in texts)
            if got == expected:
                return
            text, e, g = next((t, e, g) for t, e, g in zip(texts, expected, got) if e != g)
            found = sorted(_stop_words_in(text))
            raise Mismatch(f"few_stop_words({text!r}) should be {e} ({'drop' if e else 'keep'}: its stop words are "
                           f"{found or 'none'}), got {g}",
                           known_mistake(FEW_STOP_WORDS_MISTAKES, observe, got)
                           or "split the text into words, lower-case each and strip punctuation from its ends, "
                              "then count the different ones among filters.STOP_WORDS: drop (True) when fewer than 2")
        return run

    cases = [Case("a sentence of Shakespeare and a web menu",
                  case(["The rest is silence, and the readiness is all.", "Home | Products | Contact us | Login"])),
             Case("one stop word, many times and once",
                  case(["the cat, the hat, the bat, the mat", "of of of of", "cat and dog"])),
             Case("words that contain stop words", case(["other theory: together tomorrow, bethel andes withheld",
                                                         "Mother brother thereof: atoms and"])),
             Case("stop words capitalised", case(["The cat With a hat", "AND THE WINNER IS"])),
             Case("stop words in punctuation", case(["Eggs, milk and. Bread (to)", "\"With\" hats; 'be' quiet!"])),
             Case("stop words after a newline or a tab", case(["Menu\nthe\tof week", "title\nwith\nand"])),
             Case("exactly one, exactly two", case(["cat and dog", "cat and the dog", "to be", "be"])),
             Case("an empty page, spaces only", case(["", "   \n  "]))]
    rng = np.random.default_rng(0)
    vocabulary = list(filters.STOP_WORDS) + ["The", "AND", "Of", "other", "together", "bethink", "tow", "band",
                                             "cat", "ruins", "verily", "cookie", "Login", "|"]
    lines = []
    for _ in range(200):
        words = rng.choice(vocabulary, size=rng.integers(1, 7)).tolist()
        words = [w + rng.choice(["", "", ",", ".", "!", ")"]) for w in words]
        lines.append(rng.choice([" ", " ", "\n", "\t"]).join(words))
    cases.append(Case("200 random lines of such words", case(lines)))
    run_cases("check_few_stop_words", fn, cases)


# ----------------------------------------------------------------------------
# the Luhn check


def solution_luhn_valid(number):
    """True when the card number passes the Luhn check (spaces and dashes allowed).

    >>> solution_luhn_valid("4111 1111 1111 1111"), solution_luhn_valid("4111 1111 1111 1112")
    (True, False)
    >>> solution_luhn_valid("3782-822463-10005")  # 15 digits: the first digit is not doubled
    True
    """
    digits = number.replace(" ", "").replace("-", "")
    total = 0
    for i, char in enumerate(reversed(digits)):  # i = 0 is the check digit, never doubled
        d = int(char)
        if i % 2 == 1:       # every second digit, counting from the right
            d *= 2
            if d > 9:
                d -= 9       # the sum of its two digits: 14 -> 1 + 4 = 5 = 14 - 9
        total += d
    return total % 10 == 0


def _luhn(number, from_left=False, double_check_digit=False, reduce=lambda d: d - 9 if d > 9 else d,
          strip=True, raw_positions=False):
    """The Luhn check with its choices spelled out, to write the known mistakes with."""
    if raw_positions:  # positions counted in the raw string, separators included; non-digits then skipped
        chars = list(enumerate(reversed(number)))
        pairs = [(i, c) for i, c in chars if c.isdigit()]
    else:
        digits = number.replace(" ", "").replace("-", "") if strip else number
        pairs = list(enumerate(digits if from_left else reversed(digits)))
    total = 0
    for i, char in pairs:
        d = int(char)
        doubled = (i % 2 == 0) if (from_left or double_check_digit) else (i % 2 == 1)
        total += reduce(2 * d) if doubled else d
    return total % 10 == 0


_STRIP = ("remove the separators before reading the digits, number.replace(' ', '').replace('-', ''): int(' ') "
          "and int('-') raise ValueError")

LUHN_VALID_MISTAKES = [
    Mistake(lambda number: _luhn(number, from_left=True),
            "count the positions from the right, where the check digit is: double the second-to-last digit, "
            "then every second one going left, for i, char in enumerate(reversed(digits)) with i % 2 == 1; "
            "from the left only works when the number of digits is even (16), not for 15 (Amex) or 13"),
    Mistake(lambda number: _luhn(number, double_check_digit=True),
            "the check digit (the last one) is not doubled: from the right, the doubled digits are the 2nd, "
            "4th, 6th, ..., i % 2 == 1 in enumerate(reversed(digits))"),
    Mistake(lambda number: _luhn(number, reduce=lambda d: d),  # 14 % 10 = 4 instead gives the same totals mod 10
            "a doubled digit of 5 or more gives two digits, and the Luhn sum adds both: 7 -> 14 -> 1 + 4 = 5 (not "
            "14, and not 14 % 10 = 4), so subtract 9 when the double is over 9 (14 - 9 = 5)"),
    Mistake(lambda number: _luhn(number, reduce=lambda d: d % 9),
            "9 doubled is 18 -> 1 + 8 = 9, but 18 % 9 = 0: subtract 9 when the double is over 9 instead of "
            "taking it mod 9 (which agrees everywhere else)"),
    Mistake(lambda number: _luhn(number, raw_positions=True),
            "count positions among the digits only: remove the spaces and dashes first, then enumerate the "
            "digits; skipping a separator inside the loop still shifts i, so the digits after it are doubled "
            "(or not) by mistake"),
    Mistake(lambda number: _luhn(number, strip=False), _STRIP),
]


def _luhn_error_hint(error: BaseException) -> str | None:
    message = str(error)
    if isinstance(error, ValueError) and "invalid literal for int()" in message:
        return _STRIP
    if isinstance(error, TypeError) and "'int' and 'str'" in message:
        return "turn each character into a number, int(char), before adding or doubling it"
    return None


def _changed(number: str, position: int) -> str:
    """`number` with its digit at `position` (counting digits only, from the left) changed by +1 mod 10."""
    digits = [i for i, c in enumerate(number) if c.isdigit()]
    k = digits[position]
    return number[:k] + str((int(number[k]) + 1) % 10) + number[k + 1:]


def check_luhn_valid(fn: Callable) -> None:
    """fn(number: str) -> bool: does the card number pass the Luhn check? Spaces and dashes may separate groups.

    Compared with `minillm.curation.pii.luhn_valid`, which the PII
    redaction uses to tell card numbers from other long numbers. Each case
    is a list of numbers: valid ones (published test card numbers) and the
    same with one digit changed, which the Luhn check always catches.
    """
    def case(numbers: list[str]) -> Callable:
        def observe(impl):
            return tuple(impl(number) for number in numbers)

        def run(call):
            expected = tuple(pii.luhn_valid(number) for number in numbers)
            got = observe(call)
            for number, g in zip(numbers, got):
                if not isinstance(g, (bool, np.bool_)):
                    raise Mismatch(f"luhn_valid({number!r}) should give True or False, got {g!r:.60} (of type "
                                   f"{type(g).__name__})",
                                   "return total % 10 == 0, a bool (a remainder of 0 means valid, but `if "
                                   "luhn_valid(...)` would read 0 as False)")
            if got == expected:
                return
            number, e, g = next((n, e, g) for n, e, g in zip(numbers, expected, got) if e != g)
            n = sum(c.isdigit() for c in number)
            raise Mismatch(f"luhn_valid({number!r}) ({n} digits) should be {e}, got {g}",
                           known_mistake(LUHN_VALID_MISTAKES, observe, got)
                           or "from the right, double every second digit (the check digit is not doubled), "
                              "subtract 9 from a double over 9, add everything up: valid when the total % 10 == 0")
        return run

    def with_changes(valid: list[str], positions: list[int]) -> list[str]:
        out = []
        for number, position in zip(valid, positions):
            out += [number, _changed(number, position)]
        return out

    sixteen = ["4111111111111111", "5500000000000004", "4012888888881881", "5105105105105100",
               "6011000990139424", "3530111333300000"]
    fifteen = ["378282246310005", "371449635398431", "378734493671000"]
    thirteen_fourteen = ["4222222222222", "36227206271667", "30569309025904"]
    odd = ["79927398713", "4000000000000000006", "6011999999999999995"]  # 11 and 19 digits
    separated = ["4111 1111 1111 1111", "5500-0000-0000-0004", "3782 822463 10005", "4111 1111 1111 1112",
                 "6011-0009-9013-9424", "3714 496353 98431", "4222 2222 2222 2", "3056 9309 0259 05"]
    cases = [Case("16-digit test card numbers (Visa, Mastercard, Discover, JCB)", case(sixteen)),
             Case("16-digit numbers, each with one digit changed", case(with_changes(sixteen, [0, 5, 14, 3, 9, 15]))),
             Case("15 digits (American Express): an odd length", case(with_changes(fifteen, [0, 7, 14]))),
             Case("13 and 14 digits (an old Visa, Diners Club)", case(with_changes(thirteen_fourteen, [0, 6, 13]))),
             Case("11 and 19 digits, a 9 doubled (18 -> 1 + 8 = 9)", case(with_changes(odd, [1, 10, 17]))),
             Case("groups separated by spaces and dashes", case(separated))]
    run_cases("check_luhn_valid", fn, cases, _luhn_error_hint)


# ----------------------------------------------------------------------------
# a MinHash signature


def solution_minhash_signature(shingle_ids, a, b, p):
    """For each of the num_perm hash functions h(x) = (a x + b) mod p: its minimum over the shingles.

    shingle_ids (n,) in [0, p), a and b (num_perm,), p <= 2^31 - 1: a x + b < 2^62 fits int64 exactly.

    >>> solution_minhash_signature(np.array([3, 7, 10]), np.array([2, 5]), np.array([1, 0]), 13).tolist()
    [2, 2]
    """
    x = np.asarray(shingle_ids, dtype=np.int64)      # (n,)
    a = np.asarray(a, dtype=np.int64)[:, None]       # (num_perm, 1): one hash function per row
    b = np.asarray(b, dtype=np.int64)[:, None]
    return ((a * x[None, :] + b) % p).min(axis=1)    # (num_perm, n) hashed, the minimum of each row


def _minhash(shingle_ids, a, b, p, reduce=min, mod=True, mod_after=False, use_b=True, axis="shingles"):
    """MinHash with its choices spelled out, in Python integers, to write the known mistakes with."""
    xs = [int(x) for x in np.asarray(shingle_ids).tolist()]
    hashed = [[(int(ak) * x + (int(bk) if use_b else 0)) % (p if mod else 2 ** 200) for x in xs]
              for ak, bk in zip(np.asarray(a).tolist(), np.asarray(b).tolist())]  # (num_perm, n)
    if axis == "all":
        return reduce(v for row in hashed for v in row)
    rows = hashed if axis == "shingles" else [list(column) for column in zip(*hashed)]
    return [reduce(row) % p if mod_after else reduce(row) for row in rows]


MINHASH_SIGNATURE_MISTAKES = [
    Mistake(lambda shingle_ids, a, b, p: _minhash(shingle_ids, a, b, p, reduce=max),
            "MinHash keeps the minimum: two sets share the smallest hash with probability exactly their Jaccard "
            "similarity (the smallest element of A | B is equally likely to be any of them); .min, not .max"),
    Mistake(lambda shingle_ids, a, b, p: _minhash(shingle_ids, a, b, p, axis="permutations"),
            "take each hash function's minimum over the shingles, one value per permutation (num_perm of them): "
            "with the values as (num_perm, n), a[:, None] * x[None, :] + b[:, None], that is .min(axis=1); "
            "axis=0 gives one value per shingle instead"),
    Mistake(lambda shingle_ids, a, b, p: _minhash(shingle_ids, a, b, p, axis="all"),
            "one minimum per hash function, not one overall: num_perm values, .min(axis=1) of the (num_perm, n) "
            "values a[:, None] * x[None, :] + b[:, None] (mod p), not .min() of all of them"),
    Mistake(lambda shingle_ids, a, b, p: _minhash(shingle_ids, a, b, p, mod=False, mod_after=True),
            "take every value mod p before the minimum, min of (a x + b) % p: the shingle with the smallest "
            "a x + b is not the one with the smallest (a x + b) % p"),
    Mistake(lambda shingle_ids, a, b, p: _minhash(shingle_ids, a, b, p, mod=False),  # or a p of one's own, 2^31 - 1
            "the hash is (a x + b) % p, with the p passed in (the first cases use p = 13 and 101, not MinHasher's "
            "2^31 - 1): without the mod p, a x + b grows with x, so the minimum is always the smallest shingle "
            "id, the same for every set that contains it: no permutation at all"),
    Mistake(lambda shingle_ids, a, b, p: _minhash(shingle_ids, a, b, p, use_b=False),
            "add b: h(x) = (a x + b) % p; without it every hash function maps x = 0 to 0, and they are not "
            "the random permutations MinHash needs"),
]

_BROADCAST = ("a and b hold one number per hash function, shingle_ids one per shingle: line them up as a table "
              "of shape (num_perm, n), a[:, None] * shingle_ids[None, :] + b[:, None], then % p and .min(axis=1)")

_FLOAT = ("your values are floats: numpy turns int64 mixed with uint64 into float64, whose 53 bits round a x + b "
          "(up to 2^62); keep one integer type for all three arrays (e.g. np.asarray(a, dtype=np.int64) and the "
          "same for b and shingle_ids: a x + b < 2^62 fits), or compute in Python integers")


def _minhash_error_hint(error: BaseException) -> str | None:
    if isinstance(error, ValueError) and "could not be broadcast" in str(error):
        return _BROADCAST
    return None


def _numbers(value: Any) -> Any:
    """The student's answer as plain Python numbers (a list for an array), to compare with ==."""
    if isinstance(value, Iterator):  # a generator or a map: its values
        value = list(value)
    try:
        return np.asarray(value).tolist()
    except Exception:  # a ragged list, or something numpy can't hold
        return value


def check_minhash_signature(fn: Callable) -> None:
    """fn(shingle_ids (n,), a (num_perm,), b (num_perm,), p) -> the num_perm minima of (a_k x + b_k) % p over x.

    Compared with the formula written out in Python integers, then with
    `minillm.curation.dedup.MinHasher`, the package's fast version, on a
    document's shingles with the MinHasher's own a and b. The answer may be
    an array or a list; the numbers must be exact.
    """
    def case(shingle_ids: np.ndarray, a: np.ndarray, b: np.ndarray, p: int, hasher: dedup.MinHasher | None = None
             ) -> Callable:
        def observe(impl):
            return _numbers(impl(shingle_ids.copy(), a.copy(), b.copy(), p))

        def run(call):
            if hasher is not None:  # the package's own signature (its p is the same Mersenne prime)
                expected = hasher.signature(shingle_ids).tolist()
            else:
                expected = [min((ak * x + bk) % p for x in shingle_ids.tolist()) for ak, bk in zip(a.tolist(),
                                                                                                  b.tolist())]
            raw = call(shingle_ids.copy(), a.copy(), b.copy(), p)
            got = _numbers(raw)
            if got == expected:
                return
            where = (f"minhash_signature(shingle_ids={_show(shingle_ids.tolist(), 6)}, a={_show(a.tolist(), 4)}, "
                     f"b={_show(b.tolist(), 4)}, p={p})")
            if not isinstance(got, list) or len(got) != len(expected):
                shape = f"shape {np.shape(raw)}" if not isinstance(raw, (int, float, np.generic)) else "one number"
                problem = f"{where} should give {len(a)} numbers, one per hash function, got {shape}: {got!r:.60}"
            else:
                k = next(k for k, (g, e) in enumerate(zip(got, expected)) if g != e)
                problem = f"{where} should give {_show(expected, 6)}, got {_show(got, 6)} (first wrong: number {k})"
            hint = known_mistake(MINHASH_SIGNATURE_MISTAKES, observe, got)
            if hint is None and np.asarray(raw).dtype.kind == "f":
                hint = _FLOAT
            if hint is None:
                hint = "signature[k] = min over the shingles x of (a[k] * x + b[k]) % p, for each hash function k"
                if p > 1 << 16:
                    hint += ("; a x + b reaches 2^62 here: compute in int64 or uint64 (not int32, which wraps "
                             "around), or in Python integers")
            raise Mismatch(problem, hint)
        return run

    def ints(values, dtype=np.uint64) -> np.ndarray:
        return np.array(values, dtype=dtype)

    def small(n: int, num_perm: int, p: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        x = rng.choice(p, size=n, replace=False).astype(np.uint64)
        return x, rng.integers(1, p, size=num_perm).astype(np.uint64), rng.integers(0, p, size=num_perm).astype(
            np.uint64)

    P = dedup.MERSENNE_PRIME
    text = ("Deduplication drops the copies that the web is full of: mirrors, boilerplate, quoted articles and "
            "the same page again with a changed date. A model trained on repeats memorises them.")
    ids = dedup.shingles(text) % np.uint64(P)  # (n,) word 5-grams, reduced into [0, p) as MinHasher does
    hasher16, hasher3 = dedup.MinHasher(num_perm=16, seed=0), dedup.MinHasher(num_perm=3, seed=1)
    big = np.array([P - 1, P - 2, P - 3, 1 << 30], dtype=np.uint64)  # the largest ids: a x + b near 2^62
    a_big, b_big = np.array([P - 1, P - 2, 3], dtype=np.uint64), np.array([P - 1, 0, P - 5], dtype=np.uint64)
    cases = [Case("by hand: 3 shingles, 2 hash functions, p = 13",
                  case(ints([3, 7, 10]), ints([2, 5]), ints([1, 0]), 13)),
             Case("8 shingles, 5 hash functions, p = 101", case(*small(8, 5, 101, seed=1), 101)),
             Case("as many shingles as hash functions (4), p = 31", case(*small(4, 4, 31, seed=2), 31)),
             Case("one shingle: the signature is its hashes", case(*small(1, 6, 97, seed=3), 97)),
             Case("int64 arrays, p = 2^31 - 1", case(*(v.astype(np.int64) for v in small(7, 5, P, seed=4)), P)),
             Case("the largest ids and a, p = 2^31 - 1: a x + b near 2^62", case(big, a_big, b_big, P)),
             Case(f"a document's {len(ids)} word 5-grams, MinHasher(num_perm=16)'s a and b, p = 2^31 - 1",
                  case(ids, hasher16.a, hasher16.b, P, hasher16)),
             Case("the same shingles, 3 hash functions: more shingles than hash functions",
                  case(ids, hasher3.a, hasher3.b, P, hasher3))]
    run_cases("check_minhash_signature", fn, cases, _minhash_error_hint)


# ----------------------------------------------------------------------------
# LSH band keys


def solution_band_keys(signature, bands, rows):
    """One hashable key per band: (band index, the band's values), band i = signature[i * rows:(i + 1) * rows].

    >>> solution_band_keys(np.array([5, 6, 5, 6]), bands=2, rows=2)  # equal values, different bands: different keys
    [(0, (5, 6)), (1, (5, 6))]
    """
    signature = np.asarray(signature)
    if bands * rows != len(signature):
        raise ValueError(f"bands x rows = {bands} x {rows} = {bands * rows} must equal the signature's length "
                         f"{len(signature)}")
    return [(i, tuple(signature[i * rows:(i + 1) * rows].tolist())) for i in range(bands)]


def _bands(signature, bands, rows, index=True, start=None, width=None, count=None, strided=False, as_string=False,
           as_array=False, combine=tuple):
    """Band keys with their choices spelled out, to write the known mistakes with."""
    signature = np.asarray(signature)
    keys = []
    for i in range(bands if count is None else count):
        if strided:
            band = signature[i::bands]
        else:
            s = i * rows if start is None else start(i)
            band = signature[s:s + (rows if width is None else width)]
        if as_array:
            keys.append(band)
        elif as_string:
            keys.append(str(i) + "".join(str(v) for v in band.tolist()))
        else:
            keys.append((i, combine(band.tolist())) if index else combine(band.tolist()))
    return keys


_IN_ORDER = ("a band is all its values, in order: (1, 2) and (2, 1) are different bands (slot k of a signature "
             "comes from hash function k), and so are (1, 4) and (2, 3); key it by a tuple of the values, "
             "(i, tuple(band.tolist())), not by a set or a sum of them")

_HASHABLE = ("a key must be hashable, to be looked up in a dict of buckets: a numpy array or a list is not; use "
             "a tuple with the band's index, (i, tuple(band.tolist())), or (i, band.tobytes())")

BAND_KEYS_MISTAKES = [
    Mistake(lambda signature, bands, rows: _bands(signature, bands, rows, index=False),
            "put the band's index in its key, (i, tuple(band)): the keys of all bands go into one table of "
            "buckets, and a document whose band 0 equals another's band 1 is no evidence that they are alike "
            "(the bands use different hash functions)"),
    Mistake(lambda signature, bands, rows: _bands(signature, bands, rows, as_array=True), _HASHABLE),
    Mistake(lambda signature, bands, rows: _bands(signature, bands, rows, start=lambda i: i),
            "band i is the slice signature[i * rows:(i + 1) * rows]: the bands don't overlap, and together they "
            "cover the whole signature (signature[i:i + rows] starts one slot later each time)"),
    Mistake(lambda signature, bands, rows: _bands(signature, bands, rows, start=lambda i: i * bands, width=bands),
            "each band has `rows` values, band i = signature[i * rows:(i + 1) * rows], and there are `bands` "
            "bands: you swapped bands and rows (a square signature, bands == rows, hides this)"),
    Mistake(lambda signature, bands, rows: _bands(signature, bands, rows, count=rows),
            "one key per band, `bands` keys, each band `rows` values long: you swapped bands and rows (it only "
            "shows when bands != rows)"),
    Mistake(lambda signature, bands, rows: _bands(signature, bands, rows, strided=True),
            "band i is a run of `rows` neighbouring slots, signature[i * rows:(i + 1) * rows], row i of "
            "signature.reshape(bands, rows); signature[i::bands] (a column of reshape(rows, bands)) takes every "
            "bands-th slot instead"),
    Mistake(lambda signature, bands, rows: _bands(signature, bands, rows, combine=frozenset), _IN_ORDER),
    Mistake(lambda signature, bands, rows: _bands(signature, bands, rows, combine=sum), _IN_ORDER),
    Mistake(lambda signature, bands, rows: _bands(signature, bands, rows, as_string=True),
            "numbers joined into one string need a separator: '1' + '23' and '12' + '3' are both '123'; use a "
            "tuple, (i, tuple(band.tolist())), or join with ',' (and keep the band index)"),
]

_SLICE = ("band i is signature[i * rows:(i + 1) * rows]; return [(i, tuple(band.tolist())) for each band i]: two "
          "keys are equal exactly when the band index and all its values are")


def _band_keys_error_hint(error: BaseException) -> str | None:
    if isinstance(error, TypeError) and "unhashable type" in str(error):
        return _HASHABLE
    return None


def _keys_of(value: Any, bands: int, rows: int, where: str) -> list:
    """The student's keys as a list, every one hashable, or a Mismatch (the length is checked by the caller)."""
    try:
        keys = list(value)
    except TypeError:
        raise Mismatch(f"{where} should give a list of {bands} keys, one per band, got {value!r:.60} (of type "
                       f"{type(value).__name__})", _SLICE) from None
    for i, key in enumerate(keys):
        try:
            hash(key)
        except TypeError:
            raise Mismatch(f"{where}: key {i}, {key!r:.60}, can't be hashed", _HASHABLE) from None
    return keys


def _pattern(key_lists: list[list]) -> tuple:
    """Which keys are equal, whatever the keys are: each key replaced by (d, i), its first occurrence."""
    first: dict = {}
    return tuple(tuple(first.setdefault(key, (d, i)) for i, key in enumerate(keys)) for d, keys in enumerate(key_lists))


_NAMES = "ABCDEFGHIJ"


def check_band_keys(fn: Callable) -> None:
    """fn(signature (bands * rows,), bands, rows) -> a list of `bands` hashable keys, key i for band i.

    Key i stands for band i, signature[i * rows:(i + 1) * rows], together with
    its index i. The keys themselves are not compared, only which of them are
    equal: among several signatures, two keys must be equal exactly when they
    are the same band with the same values (as the solution's (i, values)
    tuples are). Last, 300 pairs of signatures that agree on each slot with
    probability 0.6 are bucketed by their keys; a pair becomes a candidate
    when it shares a key, which happens with the probability
    `minillm.curation.dedup.candidate_probability` gives.
    """
    def case(signatures: list[list[int]], bands: int, rows: int) -> Callable:
        sigs = [np.array(s, dtype=np.uint32) for s in signatures]
        names = _NAMES[:len(sigs)]
        shown = ", ".join(f"{n} = {_show(s.tolist())}" for n, s in zip(names, sigs))
        where = f"band_keys(..., bands={bands}, rows={rows})"

        def keys_of(impl) -> list[list]:
            return [_keys_of(impl(s.copy(), bands, rows), bands, rows, f"band_keys({n}, bands={bands}, rows={rows})")
                    for n, s in zip(names, sigs)]

        def observe(impl):
            return _pattern(keys_of(impl))

        def band(d: int, i: int) -> str:
            return _show(sigs[d][i * rows:(i + 1) * rows].tolist())

        def run(call):
            keys = keys_of(call)
            got, expected = _pattern(keys), observe(solution_band_keys)
            if got == expected:
                return
            hint = known_mistake(BAND_KEYS_MISTAKES, observe, got) or _SLICE
            for d, k in enumerate(keys):
                if len(k) != bands:
                    raise Mismatch(f"for {shown}: band_keys({names[d]}, bands={bands}, rows={rows}) should give "
                                   f"{bands} keys, one per band, got {len(k)}", hint)
            places = [(d, i) for d in range(len(sigs)) for i in range(bands)]
            for x, (d, i) in enumerate(places):
                for e, j in places[x + 1:]:
                    same, should = got[d][i] == got[e][j], expected[d][i] == expected[e][j]
                    if same == should:
                        continue
                    first = f"{names[d]}'s key {i}, {keys[d][i]!r:.50},"
                    second = f"{names[e]}'s key {j}, {keys[e][j]!r:.50},"
                    if should:
                        why = (f"should be equal, the same band {i} with the same values {band(d, i)}, but they "
                               "differ")
                    elif i != j:
                        why = (f"are equal, but they are bands {i} and {j} (with the values {band(d, i)} and "
                               f"{band(e, j)}), and different bands must give different keys")
                    else:
                        why = f"are equal, but band {i} is {band(d, i)} in {names[d]} and {band(e, j)} in {names[e]}"
                    raise Mismatch(f"for {shown} and {where}: {first} and {second} {why}", hint)
            raise Mismatch(f"for {shown} and {where}: your keys are equal for other bands than they should be", hint)
        return run

    def similar_pairs(n: int, bands: int, rows: int, s: float, seed: int) -> Callable:
        rng = np.random.default_rng(seed)
        A = rng.integers(0, 1 << 32, size=(n, bands * rows), dtype=np.uint32)
        B = np.where(rng.random((n, bands * rows)) < s, A, rng.integers(0, 1 << 32, size=A.shape, dtype=np.uint32))
        where = f"band_keys(a signature, bands={bands}, rows={rows})"

        def observe(impl):
            out = []
            for a, b in zip(A, B):
                ka = _keys_of(impl(a.copy(), bands, rows), bands, rows, where)
                kb = _keys_of(impl(b.copy(), bands, rows), bands, rows, where)
                out.append(bool(set(ka) & set(kb)))
            return tuple(out)

        def run(call):
            expected, got = observe(solution_band_keys), observe(call)
            if got == expected:
                return
            predicted = dedup.candidate_probability(s, bands, rows)
            k = next(k for k, (g, e) in enumerate(zip(got, expected)) if g != e)
            raise Mismatch(f"of {n} pairs of signatures of {bands} bands x {rows} rows that agree on each slot with "
                           f"probability {s}, {sum(expected)} share a band and should become candidates (the S-curve "
                           f"1 - (1 - {s}^{rows})^{bands} = {predicted:.3f} predicts {predicted * n:.0f}), your keys "
                           f"made {sum(got)}; the first wrong pair, number {k}, "
                           + ("shares a band but got no key in common" if expected[k] else
                              "shares no band but got a key in common"),
                           known_mistake(BAND_KEYS_MISTAKES, observe, got) or _SLICE)
        return run

    cases = [Case("bands = rows = 2: A and B share band 0, A and C band 1, D is a copy of A",
                  case([[1, 2, 3, 4], [1, 2, 9, 9], [0, 2, 3, 4], [1, 2, 3, 4]], 2, 2)),
             Case("the same values in two different bands",
                  case([[5, 6, 5, 6], [7, 8, 5, 6], [5, 6, 7, 8]], 2, 2)),
             Case("bands = 4, rows = 3: more bands than rows",
                  case([list(range(12)), [0, 1, 2, 3, 4, 5, 9, 9, 9, 9, 10, 11], [0, 1, 2, 9, 4, 5, 6, 7, 8, 9, 10, 11],
                        [9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 9]], 4, 3)),
             Case("bands = 2, rows = 4: more rows than bands",
                  case([list(range(8)), [0, 1, 2, 3, 4, 5, 6, 9], [9, 1, 2, 3, 4, 5, 6, 7]], 2, 4)),
             Case("bands = 3, rows = 2: 1, 23 and 12, 3 (numbers that run together as strings)",
                  case([[1, 23, 4, 5, 6, 7], [12, 3, 4, 5, 6, 8]], 3, 2)),
             Case("the same values in another order, and bands of equal sums",
                  case([[1, 2, 1, 4], [2, 1, 4, 1], [1, 2, 2, 3]], 2, 2)),
             Case("one band of 5 rows: the whole signature",
                  case([[3, 1, 4, 1, 5], [3, 1, 4, 1, 5], [3, 1, 4, 1, 6]], 1, 5)),
             Case("300 pairs of similar signatures, 8 bands x 4 rows: the candidates of the S-curve",
                  similar_pairs(300, 8, 4, 0.6, seed=5))]
    run_cases("check_band_keys", fn, cases, _band_keys_error_hint)


# ----------------------------------------------------------------------------
# epochs of a data mixture


def solution_epochs_elapsed(weight, source_tokens, total_tokens):
    """How many times a source of `source_tokens` tokens is gone through when a share `weight` (a fraction)
    of `total_tokens` training tokens is drawn from it.

    >>> round(solution_epochs_elapsed(0.60, 410e9, 300e9), 3)  # GPT-3's Common Crawl
    0.439
    """
    return weight * total_tokens / source_tokens


EPOCHS_ELAPSED_MISTAKES = [
    Mistake(lambda weight, source_tokens, total_tokens: weight * source_tokens / total_tokens,
            "epochs = tokens drawn from the source / the source's size: weight * total_tokens tokens drawn, "
            "divided by source_tokens; you divided the other way round"),
    Mistake(lambda weight, source_tokens, total_tokens: source_tokens / (weight * total_tokens),
            "epochs = tokens drawn from the source / the source's size: weight * total_tokens tokens drawn, "
            "divided by source_tokens; you divided the other way round"),
    Mistake(lambda weight, source_tokens, total_tokens: total_tokens / source_tokens,
            "only the source's share of the training tokens is drawn from it: weight * total_tokens, not all "
            "total_tokens (that would be a mixture of one source)"),
    Mistake(lambda weight, source_tokens, total_tokens: weight * 100 * total_tokens / source_tokens,
            "the weight is a fraction already, 0.60 for 60%: multiplying it by 100 gives 100 times the epochs"),
    Mistake(lambda weight, source_tokens, total_tokens: weight / 100 * total_tokens / source_tokens,
            "the weight is a fraction already, 0.60 (as the table's 60% is passed in), not a percent: don't "
            "divide it by 100"),
    Mistake(lambda weight, source_tokens, total_tokens: weight * total_tokens // source_tokens,
            "use /, not //: epochs are a fraction (Common Crawl's 0.44 of an epoch), and // rounds down to a whole "
            "number"),
    Mistake(lambda weight, source_tokens, total_tokens: total_tokens / (source_tokens / weight),
            "a source of weight 0 is never drawn from: 0 epochs; weight * total_tokens / source_tokens gives "
            "that without dividing by the weight"),
]


def _epochs_error_hint(error: BaseException) -> str | None:
    if isinstance(error, ZeroDivisionError):
        return EPOCHS_ELAPSED_MISTAKES[-1].hint
    return None


def _tokens(n: float) -> str:
    """A token count as the papers print it: _tokens(410e9) -> '410e9', _tokens(4000) -> '4000'."""
    return f"{n / 1e9:g}e9" if n >= 1e9 else f"{n:g}"


def _same_epochs(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def check_epochs_elapsed(fn: Callable) -> None:
    """fn(weight, source_tokens, total_tokens) -> weight * total_tokens / source_tokens, one number.

    Compared with `minillm.curation.mixture.epochs_elapsed` (which takes
    dicts of sources) on GPT-3's mixture (`mixture.GPT3_MIXTURE`, 300B
    tokens), LLaMA's Wikipedia (its size implied by its table,
    `mixture.llama_implied_sizes`), a source of weight 0 and round numbers.
    """
    def case(weight: float, source_tokens: float, total_tokens: float) -> Callable:
        def observe(impl):
            value = impl(weight, source_tokens, total_tokens)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise Mismatch(f"epochs_elapsed({weight}, {_tokens(source_tokens)}, {_tokens(total_tokens)}) should "
                               f"give one number, got {value!r:.60} (of type {type(value).__name__})",
                               "return weight * total_tokens / source_tokens, a float")
            return float(value)

        def run(call):
            expected = mixture.epochs_elapsed({"source": weight}, {"source": source_tokens}, total_tokens)["source"]
            got = observe(call)
            if _same_epochs(got, expected):
                return
            raise Mismatch(f"epochs_elapsed(weight={weight}, source_tokens={_tokens(source_tokens)}, total_tokens="
                           f"{_tokens(total_tokens)}) should be {expected:.6g}, got {got:.6g}",
                           known_mistake(EPOCHS_ELAPSED_MISTAKES, observe, got, _same_epochs)
                           or "epochs = weight * total_tokens / source_tokens: the tokens drawn from the source, "
                              "divided by its size")
        return run

    total = mixture.GPT3_TRAIN_TOKENS
    wiki = next(r for r in mixture.llama_implied_sizes() if r["name"] == "Wikipedia")
    cases = [Case(f"GPT-3's {r.name}: {r.weight:.0%} of 300B tokens from {r.tokens / 1e9:.0f}B",
                  case(r.weight, r.tokens, total)) for r in mixture.GPT3_MIXTURE]
    cases += [Case("LLaMA's Wikipedia: 4.5% of 1.4T tokens from 25.7B (its size implied by the table)",
                   case(0.045, wiki["tokens"], mixture.LLAMA_TRAIN_TOKENS)),
              Case("round numbers: half of 4,000 tokens from 1,000", case(0.5, 1000, 4000)),
              Case("one source, as large as the run: one epoch", case(1.0, 5e9, 5e9)),
              Case("a source of weight 0: never drawn from", case(0.0, 2e9, 300e9))]
    run_cases("check_epochs_elapsed", fn, cases, _epochs_error_hint)
