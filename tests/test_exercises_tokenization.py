"""The M2 (tokenization) checkers, merge loop to special tokens: each passes right answers,
fails a stub, and fails each typical mistake with the hint that names it.

The wrong answers below are written the way a student would write them, not
with the checkers' own helpers, so that a hint is only found when the checker
really recognises the mistake.
"""

import re
from collections import Counter

import pytest
import regex

from minillm import exercises
from minillm.bpe import GPT2_PATTERN, BPETokenizer, merge, most_frequent_pair, pair_counts, split_special


def encode_with_tokenizer(text, merges):
    return BPETokenizer(list(merges)).encode_ordinary(text)


def encode_like_the_notebook(text, merges):  # the solution a student writes, with minillm's merge
    ids = []
    for piece in regex.findall(GPT2_PATTERN, text):
        tokens = list(piece.encode("utf-8"))
        while len(tokens) >= 2:
            pair = min(zip(tokens, tokens[1:]), key=lambda p: merges.get(p, float("inf")))
            if pair not in merges:
                break
            tokens = merge(tokens, pair, merges[pair])
        ids.extend(tokens)
    return ids


def split_special_with_a_loop(text, special_tokens):  # also right: find the earliest, longest special token
    pieces, start = [], 0
    while text:
        found = [(text.find(s), -len(s), s) for s in special_tokens if s in text]
        if not found:
            pieces.append(text)
            break
        at, _, special = min(found)
        pieces += [piece for piece in (text[:at], special) if piece]
        text = text[at + len(special):]
    return pieces


def encode_merges_in_order(text, merges):  # also right: each merge once, in the order learned
    ids = []
    for piece in regex.findall(GPT2_PATTERN, text):
        tokens = list(piece.encode("utf-8"))
        for pair, new_id in merges.items():
            tokens = merge(tokens, pair, new_id)
        ids.extend(tokens)
    return ids


REFERENCES = [
    (exercises.check_pair_counts, pair_counts),
    (exercises.check_pair_counts, lambda ids: Counter(zip(ids, ids[1:]))),
    (exercises.check_merge, merge),
    (exercises.check_most_frequent_pair, most_frequent_pair),
    (exercises.check_encode, encode_with_tokenizer),
    (exercises.check_encode, encode_like_the_notebook),
    (exercises.check_encode, encode_merges_in_order),
    (exercises.check_decode, lambda ids, vocab: bytes(b for i in ids for b in vocab[i]).decode(errors="replace")),
    (exercises.check_split_special, split_special),
    (exercises.check_split_special, split_special_with_a_loop),
]


@pytest.mark.parametrize("checker, reference", REFERENCES, ids=lambda f: getattr(f, "__name__", ""))
def test_checker_passes_right_answers(checker, reference, capsys):
    checker(reference)
    assert re.fullmatch(rf"✓ {checker.__name__}: \d+ cases passed\n", capsys.readouterr().out)


# ----------------------------------------------------------------------------
# pair counts

def counts_distinct_pairs(ids):
    return {pair: 1 for pair in set(zip(ids, ids[1:]))}


def counts_wrap_around(ids):
    return pair_counts(list(ids) + list(ids[:1]))


def counts_unordered(ids):
    counts = {}
    for a, b in zip(ids, ids[1:]):
        key = tuple(sorted((a, b)))
        counts[key] = counts.get(key, 0) + 1
    return counts


def counts_skip_overlaps(ids):  # moves on by two after each pair, like merge does
    counts = {}
    for pair in set(zip(ids, ids[1:])):
        i = n = 0
        while i < len(ids) - 1:
            if (ids[i], ids[i + 1]) == pair:
                n, i = n + 1, i + 2
            else:
                i += 1
        counts[pair] = n
    return counts


def counts_as_list(ids):
    return list(zip(ids, ids[1:]))


def counts_string_keys(ids):
    return {f"{a},{b}": n for (a, b), n in pair_counts(ids).items()}


def counts_with_zeros(ids):
    counts = {(a, b): 0 for a in set(ids) for b in set(ids)}
    for pair in zip(ids, ids[1:]):
        counts[pair] += 1
    return counts


def counts_off_by_one(ids):
    return pair_counts(ids[:-1])


def counts_doubled(ids):  # counts each pair from both of its tokens
    return {pair: 2 * n for pair, n in pair_counts(ids).items()}


# ----------------------------------------------------------------------------
# merge

def merge_no_skip(ids, pair, new_id):  # the overlapping-merge bug
    out = []
    for i in range(len(ids) - 1):
        out.append(new_id if (ids[i], ids[i + 1]) == pair else ids[i])
    return out + list(ids[-1:])


def merge_right_to_left(ids, pair, new_id):
    out, i = [], len(ids) - 1
    while i >= 0:
        if i >= 1 and (ids[i - 1], ids[i]) == pair:
            out.append(new_id)
            i -= 2
        else:
            out.append(ids[i])
            i -= 1
    return out[::-1]


def merge_first_only(ids, pair, new_id):
    for i in range(len(ids) - 1):
        if (ids[i], ids[i + 1]) == pair:
            return ids[:i] + [new_id] + ids[i + 2:]
    return list(ids)


def merge_drops_last(ids, pair, new_id):
    out, i = [], 0
    while i < len(ids) - 1:
        if (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def merge_in_place(ids, pair, new_id):
    i = 0
    while i < len(ids) - 1:
        if (ids[i], ids[i + 1]) == pair:
            ids[i: i + 2] = [new_id]
        i += 1
    return ids


def merge_wrong_new_id(ids, pair, new_id):
    return merge(ids, pair, new_id + 1)


def merge_returns_string(ids, pair, new_id):
    return " ".join(map(str, merge(ids, pair, new_id)))


# ----------------------------------------------------------------------------
# the next pair

def pair_first_in_dict(counts, vocab):
    return max(counts, key=counts.get)


def pair_ties_by_id(counts, vocab):
    return max(counts, key=lambda p: (counts[p], p))


def pair_ties_by_concatenation(counts, vocab):
    return max(counts, key=lambda p: (counts[p], vocab[p[0]] + vocab[p[1]]))


def pair_ties_to_smaller(counts, vocab):
    return max(counts, key=lambda p: (counts[p], [-b for b in vocab[p[0]]], [-b for b in vocab[p[1]]]))


def pair_bytes_before_count(counts, vocab):
    return max(counts, key=lambda p: (vocab[p[0]], vocab[p[1]], counts[p]))


def pair_least_frequent(counts, vocab):
    return min(counts, key=counts.get)


def pair_not_in_counts(counts, vocab):
    a, b = most_frequent_pair(counts, vocab)
    return b, a


def pair_returns_count(counts, vocab):
    return counts[most_frequent_pair(counts, vocab)]


def pair_with_count(counts, vocab):
    best = most_frequent_pair(counts, vocab)
    return best, counts[best]


# ----------------------------------------------------------------------------
# encode

def encode_whole_text(text, merges):  # forgets the pre-tokenizer: merges cross word boundaries
    tokens = list(text.encode("utf-8"))
    while len(tokens) >= 2:
        pair = min(zip(tokens, tokens[1:]), key=lambda p: merges.get(p, float("inf")))
        if pair not in merges:
            break
        tokens = merge(tokens, pair, merges[pair])
    return tokens


def encode_characters(text, merges):  # code points instead of UTF-8 bytes
    ids = []
    for piece in regex.findall(GPT2_PATTERN, text):
        tokens = [ord(c) for c in piece]
        for pair, new_id in merges.items():
            tokens = merge(tokens, pair, new_id)
        ids.extend(tokens)
    return ids


def encode_first_mergeable_pair(text, merges):  # merges in the wrong order: leftmost first
    ids = []
    for piece in regex.findall(GPT2_PATTERN, text):
        tokens = list(piece.encode("utf-8"))
        merged = True
        while merged:
            merged = False
            for i in range(len(tokens) - 1):
                if (tokens[i], tokens[i + 1]) in merges:
                    tokens[i: i + 2] = [merges[(tokens[i], tokens[i + 1])]]
                    merged = True
                    break
        ids.extend(tokens)
    return ids


def encode_latest_merge_first(text, merges):  # merges in the wrong order: newest first
    ids = []
    for piece in regex.findall(GPT2_PATTERN, text):
        tokens = list(piece.encode("utf-8"))
        for pair, new_id in reversed(list(merges.items())):
            tokens = merge(tokens, pair, new_id)
        ids.extend(tokens)
    return ids


def encode_single_pass(text, merges):  # never merges a pair that contains a new token
    ids = []
    for piece in regex.findall(GPT2_PATTERN, text):
        tokens = list(piece.encode("utf-8"))
        for pair in sorted(set(zip(tokens, tokens[1:])), key=lambda p: merges.get(p, float("inf"))):
            if pair in merges:
                tokens = merge(tokens, pair, merges[pair])
        ids.extend(tokens)
    return ids


def encode_bytes_only(text, merges):
    return list(text.encode("utf-8"))


def encode_drops_spaces(text, merges):
    return encode_like_the_notebook(text.replace(" ", ""), merges)


def encode_bad_ids(text, merges):
    return [i + 1000 for i in encode_like_the_notebook(text, merges)]


# ----------------------------------------------------------------------------
# decode

def decode_each_token(ids, vocab):
    return "".join(vocab[i].decode("utf-8", errors="replace") for i in ids)


def decode_strict(ids, vocab):
    return b"".join(vocab[i] for i in ids).decode("utf-8")


def decode_ignoring_errors(ids, vocab):
    return b"".join(vocab[i] for i in ids).decode(errors="ignore")


def decode_characters(ids, vocab):
    return "".join(chr(b) for i in ids for b in vocab[i])


def decode_ids_as_bytes(ids, vocab):
    return bytes(ids).decode("utf-8", errors="replace")


def decode_to_bytes(ids, vocab):
    return b"".join(vocab[i] for i in ids)


def decode_str_of_bytes(ids, vocab):
    return "".join(str(vocab[i]) for i in ids)


# ----------------------------------------------------------------------------
# special tokens

def split_dropping_specials(text, special_tokens):
    pattern = "|".join(regex.escape(s) for s in special_tokens)
    return [piece for piece in regex.split(pattern, text) if piece]


def split_unescaped(text, special_tokens):
    return [piece for piece in re.split("(" + "|".join(special_tokens) + ")", text) if piece]


def split_keeping_empty(text, special_tokens):
    return re.split("(" + "|".join(map(re.escape, special_tokens)) + ")", text) if special_tokens else [text]


def split_shortest_first(text, special_tokens):
    pattern = "|".join(regex.escape(s) for s in sorted(special_tokens, key=len))
    return [piece for piece in regex.split(f"({pattern})", text) if piece] if special_tokens else [text]


def split_endoftext_only(text, special_tokens):  # knows only GPT-2's one special token
    return [piece for piece in regex.split("(<\\|endoftext\\|>)", text) if piece]


def split_no_specials(text, special_tokens):
    pattern = "|".join(regex.escape(s) for s in sorted(special_tokens, key=len, reverse=True))
    return [piece for piece in regex.split(f"({pattern})", text) if piece]


WRONG = [
    (exercises.check_pair_counts, counts_distinct_pairs, "must have count k, not 1"),
    (exercises.check_pair_counts, counts_wrap_around, "has no right neighbour"),
    (exercises.check_pair_counts, counts_unordered, "(a, b) and (b, a) are different pairs"),
    (exercises.check_pair_counts, counts_skip_overlaps, "counting does include overlapping pairs"),
    (exercises.check_pair_counts, counts_as_list, "return a dict"),
    (exercises.check_pair_counts, counts_string_keys, "must be a tuple of two ids"),
    (exercises.check_pair_counts, counts_with_zeros, "has count 0"),
    (exercises.check_pair_counts, counts_off_by_one, "the last pair was left out"),
    (exercises.check_pair_counts, counts_doubled, "the pair (1, 2) occurs 2 time(s), got count 4"),
    (exercises.check_merge, merge_no_skip, "occurrences can't overlap"),
    (exercises.check_merge, merge_right_to_left, "from left to right"),
    (exercises.check_merge, merge_first_only, "not only the first"),
    (exercises.check_merge, merge_drops_last, "the last token went missing"),
    (exercises.check_merge, merge_in_place, "was changed"),
    (exercises.check_merge, merge_wrong_new_id, "should give [3, 4, 4], got [3, 5, 5]"),
    (exercises.check_merge, merge_returns_string, "expected a list of token ids"),
    (exercises.check_most_frequent_pair, pair_first_in_dict, "comes first in the dict"),
    (exercises.check_most_frequent_pair, pair_ties_by_id, "not their ids"),
    (exercises.check_most_frequent_pair, pair_ties_by_concatenation, "not the concatenation"),
    (exercises.check_most_frequent_pair, pair_ties_to_smaller, "the *greater* pair"),
    (exercises.check_most_frequent_pair, pair_bytes_before_count, "the bytes only break ties"),
    (exercises.check_most_frequent_pair, pair_least_frequent, "not the least frequent"),
    (exercises.check_most_frequent_pair, pair_not_in_counts, "is not one of the pairs in counts"),
    (exercises.check_most_frequent_pair, pair_returns_count, "not its count"),
    (exercises.check_most_frequent_pair, pair_with_count, "not (pair, count)"),
    (exercises.check_encode, encode_whole_text, "a merge never crosses a pre-token boundary"),
    (exercises.check_encode, encode_characters, "not on ord() of each character"),
    (exercises.check_encode, encode_first_mergeable_pair, "the lowest merged id"),
    (exercises.check_encode, encode_latest_merge_first, "in the order they were learned"),
    (exercises.check_encode, encode_single_pass, "a merged token can merge again"),
    (exercises.check_encode, encode_bytes_only, "merge the pair with the lowest merged id until"),
    (exercises.check_encode, encode_drops_spaces, "don't spell the text"),
    (exercises.check_encode, encode_bad_ids, "every id must be a byte"),
    (exercises.check_decode, decode_each_token, "decoding each token alone breaks a character"),
    (exercises.check_decode, decode_strict, "decode with errors='replace'"),
    (exercises.check_decode, decode_ignoring_errors, "not vanish"),
    (exercises.check_decode, decode_characters, "decode as UTF-8"),
    (exercises.check_decode, decode_ids_as_bytes, "instead of bytes(ids)"),
    (exercises.check_decode, decode_to_bytes, "not bytes"),
    (exercises.check_decode, decode_str_of_bytes, "str(b'ab')"),
    (exercises.check_split_special, split_dropping_specials, "capturing group"),
    (exercises.check_split_special, split_unescaped, "regex.escape(s)"),
    (exercises.check_split_special, split_keeping_empty, "leave out the empty strings"),
    (exercises.check_split_special, split_shortest_first, "the longest special token first"),
    (exercises.check_split_special, split_endoftext_only, "not only the first one"),
    (exercises.check_split_special, split_no_specials, "an empty pattern matches everywhere"),
]


@pytest.mark.parametrize("checker, wrong, hint", WRONG, ids=[w.__name__ for _, w, _ in WRONG])
def test_checker_fails_a_typical_mistake_with_its_hint(checker, wrong, hint, fails_with_hint):
    fails_with_hint(checker, wrong, hint)
