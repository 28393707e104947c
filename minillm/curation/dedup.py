"""Deduplication: exact copies by hashing normalised text, near-duplicates by MinHash and LSH banding.

The web repeats itself: mirrors, boilerplate, quoted articles, the same page with a changed date. A model
trained on repeats spends its budget memorising them, so curation pipelines (GPT-3, The Pile, RefinedWeb,
FineWeb) drop them in two passes:

    exact     normalize(text) -> a cryptographic hash; documents with equal hashes are copies
    near      text -> a set of shingles (word 5-grams) -> a MinHash signature of num_perm integers
              -> LSH banding proposes candidate pairs -> keep pairs whose estimated Jaccard >= threshold

Jaccard similarity J(A, B) = |A & B| / |A | B| of two shingle sets is what "near-duplicate" means here.
MinHash (Broder, 1997) estimates it without comparing the sets: apply a random permutation h to every
shingle and keep the minimum; the two minima are equal with probability exactly J (the smallest element
of A | B under h is equally likely to be any of them, and the minima agree iff it lies in A & B). With
num_perm independent permutations the fraction of equal slots is an unbiased estimate with standard error
sqrt(J (1 - J) / num_perm): about 0.035 at J = 0.8 with 128 permutations.

Comparing every pair of signatures is still O(D^2) for D documents. LSH banding cuts the signature into
`bands` bands of `rows` slots; two documents become a *candidate pair* when all rows of at least one band
agree, found by bucketing each band's key (a hash of its slice). Pairs at similarity s become candidates
with probability 1 - (1 - s^rows)^bands, an S-curve whose steep part sits near (1/bands)^(1/rows). Only
candidates are checked, so the cost grows with the number of documents, not of pairs.

Design choices, and the simplifications made for teaching:
- normalize: Unicode NFKC (full-width letters, ligatures), lowercase, delete every Unicode punctuation
  character (category P*: . , ; ' " - and also ’ « » —), collapse runs of whitespace to one space, strip
  the ends. Symbols ($, +, emoji) and digits are kept. "Don't  STOP!" -> "dont stop".
- Shingles are word 5-grams of the normalised text: long enough that unrelated English pages share almost
  none, short enough that changing one word breaks only five of them. unit="char" gives character n-grams
  instead (more robust to spelling variants such as the First Folio's). A text of 1 to n-1 words is one
  shingle (all its words); a text with no words has no shingles.
- Shingle ids are stable across processes and machines: each word is hashed with blake2b (8 bytes), and
  the n word ids of a shingle are combined by a polynomial rolling hash mod 2^64, then mixed by the
  MurmurHash3 64-bit finalizer, all in numpy. Python's hash() is salted per process and would give
  different signatures every run.
- The permutations are universal hashing, h(x) = (a x + b) mod p, with p = 2^31 - 1 (a Mersenne prime),
  a in [1, p), b in [0, p) drawn from a seeded generator. With x < p every a x + b < 2^62 fits in uint64
  exactly, and mod p is one fold (2^31 = 1 mod p) and at most one subtraction, so numpy needs no division
  and nothing overflows. (datasketch's "legacy" scheme uses p = 2^61 - 1, lets a x wrap at 2^64, and keeps
  32 bits; its default since 2.0 is a x + b mod 2^32 with odd a.) Shingle ids are first reduced mod p:
  two of a document's n shingles then share an id with probability about n^2 / 2^32, negligible.
- Every fast function stands beside a slow, obvious one that a test compares it with:
  `MinHasher.signatures` with `MinHasher.signature_reference` (Python integers), `lsh_candidates` with
  brute-force band matching, `similar_pairs` (LSH) with `all_pairs` (every pair compared).
- Signatures are uint32, one row per document; a document without shingles gets the row EMPTY (2^32 - 1
  everywhere, a value no permutation produces). It estimates Jaccard 0 with everything and never becomes
  a candidate: empty pages are exact duplicates of one another, which `exact_duplicates` reports.
- Band keys are 64-bit hashes of the band slices; a collision of two different slices (chance about
  D^2 / 2^64) would only add a candidate, which the signature check then rejects.
- Clusters join pairs transitively (union-find): if A ~ B and B ~ C, all three are one cluster, even
  when A and C are less similar than the threshold. The pipeline keeps the first document of each.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import unicodedata
from typing import Iterable, Sequence

import numpy as np
import regex

from ..errors import ConfigError, DataError

MERSENNE_PRIME = (1 << 31) - 1   # p of the universal hash (a x + b) mod p
EMPTY = np.uint32((1 << 32) - 1)  # every slot of the signature of a document without shingles
_PUNCTUATION = regex.compile(r"\p{P}+")
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd, of the golden ratio's bits: the base of the rolling hash


# ----------------------------------------------------------------------------
# exact duplicates

def normalize(text: str) -> str:
    """NFKC, lowercase, Unicode punctuation (category P*) deleted, whitespace runs -> one space, ends stripped.

    >>> normalize("  Don't\\tSTOP -- ’til  the   END!\\n")
    'dont stop til the end'
    """
    if not isinstance(text, str):
        raise DataError(f"expected a document as str, got {type(text).__name__}: decode bytes first")
    text = unicodedata.normalize("NFKC", text).lower()
    return " ".join(_PUNCTUATION.sub("", text).split())  # str.split() splits at runs of Unicode whitespace


def exact_duplicates(texts: Sequence[str]) -> list[int | None]:
    """For each text, the index of the first earlier text with the same normalised text, else None.

    >>> exact_duplicates(["Hello, world.", "other", "hello   WORLD", "hello world!"])
    [None, None, 0, 0]
    """
    first: dict[bytes, int] = {}  # sha256 of the normalised text -> the first index that had it
    out: list[int | None] = []
    for i, text in enumerate(_check_texts(texts)):
        digest = hashlib.sha256(normalize(text).encode("utf-8")).digest()
        j = first.setdefault(digest, i)
        out.append(None if j == i else j)
    return out


def _check_texts(texts: Sequence[str]) -> Sequence[str]:
    """texts, or a one-line error naming the first one that is not a str."""
    if isinstance(texts, str):
        raise DataError("expected a list of documents, got one str: wrap it in a list")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise DataError(f"document {i} is {type(text).__name__}, not str: decode it (or drop it) first")
    return texts


# ----------------------------------------------------------------------------
# shingles

def _fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finalizer: a bijection on uint64 that mixes every input bit into every output bit."""
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xFF51AFD7ED558CCD)  # uint64 arrays wrap around: the intended arithmetic mod 2^64
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


def _rolling_hash(columns: Iterable[np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    """One uint64 hash per position of the equal-shaped uint64 arrays c0, c1, ..., c_{n-1}:
    fmix64(c0 K^(n-1) + c1 K^(n-2) + ... + c_{n-1}) mod 2^64 (Rabin-Karp's polynomial; order matters)."""
    h = np.zeros(shape, dtype=np.uint64)
    for c in columns:
        h *= _MULTIPLIER
        h += c
    return _fmix64(h)


@functools.lru_cache(maxsize=1 << 20)
def _word_id(word: str) -> int:
    """A stable 64-bit id of a word: the first 8 bytes of its blake2b digest."""
    return int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")


def shingles(text: str, n: int = 5, unit: str = "word") -> np.ndarray:
    """The set of n-gram shingles of normalize(text), as sorted unique uint64 ids (stable across processes).

    unit="word": n consecutive words; unit="char": n consecutive characters (spaces included).
    A text of 1 to n-1 units gives one shingle, a text with none gives an empty array.

    >>> len(shingles("a b c d e f g")), len(shingles("A, b. C d!  e f g")), len(shingles("hi")), len(shingles(""))
    (3, 3, 1, 0)
    >>> bool(np.all(shingles("a b c d e f") == shingles("f a b c d e")))  # order matters
    False
    """
    if not isinstance(n, int) or n < 1:
        raise ConfigError(f"shingle size n must be a positive integer, got {n!r}")
    text = normalize(text)
    if unit == "word":
        words = text.split()
        units = np.fromiter(map(_word_id, words), dtype=np.uint64, count=len(words))
    elif unit == "char":
        codepoints = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        units = _fmix64(codepoints + np.uint64(1))  # spread the small code points over 64 bits
    else:
        raise ConfigError(f"unknown shingle unit {unit!r}: use 'word' or 'char'")
    if len(units) == 0:
        return units
    m = max(len(units) - n + 1, 1)  # how many shingles; a short text is one shingle of all its units
    ids = _rolling_hash((units[k:k + m] for k in range(min(n, len(units)))), (m,))  # (m,) one per shingle
    ids.sort()
    return ids[np.r_[True, ids[1:] != ids[:-1]]]  # the set: sorted, repeats dropped


def jaccard(a: Iterable, b: Iterable) -> float:
    """Exact Jaccard similarity |A & B| / |A | B| of two sets (two empty sets: 0.0, sharing nothing).

    >>> jaccard({1, 2, 3}, {2, 3, 4})
    0.5
    """
    a = set(a.tolist() if isinstance(a, np.ndarray) else a)
    b = set(b.tolist() if isinstance(b, np.ndarray) else b)
    union = len(a | b)
    return len(a & b) / union if union else 0.0


# ----------------------------------------------------------------------------
# MinHash

class MinHasher:
    """num_perm universal hash functions h_k(x) = (a_k x + b_k) mod p, p = 2^31 - 1, from a seeded generator.

    `signatures` is the fast version (numpy, the whole corpus at once); `signature_reference` the
    obvious one in Python integers, which a test holds equal to it.

    >>> m = MinHasher(num_perm=4, seed=0)
    >>> m.signature([1, 2, 3]).tolist() == m.signature_reference([3, 2, 1, 1])
    True
    """

    def __init__(self, num_perm: int = 128, seed: int = 0, chunk_rows: int | None = None):
        if not isinstance(num_perm, int) or num_perm < 1:
            raise ConfigError(f"num_perm must be a positive integer, got {num_perm!r}")
        self.num_perm, self.seed = num_perm, seed
        # shingles hashed at once: 2^19 values, (num_perm, chunk_rows) uint64 arrays of 4 MiB (at 128
        # permutations, 4096 rows ran faster than 1024, 2048 or 8192 on the 2-core machine it was written on)
        self.chunk_rows = chunk_rows or max(1, (1 << 19) // num_perm)
        rng = np.random.default_rng(seed)
        self.a = rng.integers(1, MERSENNE_PRIME, size=num_perm, dtype=np.uint64)  # (P,) in [1, p): never 0
        self.b = rng.integers(0, MERSENNE_PRIME, size=num_perm, dtype=np.uint64)  # (P,) in [0, p)

    def _permute(self, x: np.ndarray, h: np.ndarray, t: np.ndarray, out: np.ndarray, t32: np.ndarray) -> np.ndarray:
        """(r,) uint64 ids in [0, p) -> out (P, r) uint32: (a x + b) mod p, using the buffers h, t (uint64, like
        out) and t32 (uint32), so that no temporary arrays are allocated."""
        p = np.uint64(MERSENNE_PRIME)
        np.multiply(self.a[:, None], x, out=h)  # a x < 2^62: no overflow
        h += self.b[:, None]                    # y = a x + b <= (p - 1)^2 + (p - 1) < (2^31 - 2) 2^31
        # y = hi 2^31 + lo and 2^31 = 1 (mod p), so y = hi + lo (mod p), with hi <= 2^31 - 3 and lo <= p
        np.right_shift(h, np.uint64(31), out=t)
        h &= p
        h += t
        out[...] = h                            # z = hi + lo <= 2p - 2 fits uint32: subtract p at most once
        np.subtract(out, np.uint32(MERSENNE_PRIME), out=t32)  # subtle: where z < p this wraps to a huge value,
        return np.minimum(out, t32, out=out)                   # so the min keeps z there and takes z - p elsewhere

    def signatures(self, docs: Sequence[Sequence[int] | np.ndarray]) -> np.ndarray:
        """Shingle-id sets (one per document) -> (D, num_perm) uint32 MinHash signatures.

        All shingles of the corpus are hashed together, chunk_rows at a time, and np.minimum.reduceat
        takes each document's minima. A document with no shingles gets the row EMPTY.
        """
        arrays = [_as_ids(doc, i) for i, doc in enumerate(docs)]
        sig = np.full((len(arrays), self.num_perm), EMPTY, dtype=np.uint32)  # (D, P)
        if not arrays:
            return sig
        offsets = np.cumsum([0] + [len(x) for x in arrays])     # (D + 1,) document d is rows offsets[d]:offsets[d+1]
        ids = np.concatenate(arrays) % np.uint64(MERSENNE_PRIME)  # (N,) every shingle of the corpus, in [0, p)
        rows = max(1, self.chunk_rows)
        h, t = np.empty((2, self.num_perm, rows), dtype=np.uint64)
        out, t32 = np.empty((2, self.num_perm, rows), dtype=np.uint32)
        for start in range(0, len(ids), rows):
            stop = min(start + rows, len(ids))
            r = stop - start
            # (P, r), permutations x shingles: each document's values lie side by side in memory, where
            # reduceat runs several times faster than down the columns of (r, P)
            hashed = self._permute(ids[start:stop], h[:, :r], t[:, :r], out[:, :r], t32[:, :r])
            d = np.arange(np.searchsorted(offsets, start, side="right") - 1, np.searchsorted(offsets, stop))
            first = np.maximum(offsets[d], start) - start  # where each document's rows begin in this chunk
            has_rows = np.minimum(offsets[d + 1], stop) - start > first  # (empty documents have none)
            d, first = d[has_rows], first[has_rows]
            mins = np.minimum.reduceat(hashed, first, axis=1)  # (P, documents in this chunk)
            sig[d] = np.minimum(sig[d], mins.T)                # a document may continue from the last chunk
        return sig

    def signature(self, shingle_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """One document's signature, (num_perm,) uint32."""
        return self.signatures([shingle_ids])[0]

    def signature_reference(self, shingle_ids: Iterable[int]) -> list[int]:
        """The same signature, slowly, in Python integers: min over x of (a_k x + b_k) mod p, for each k."""
        xs = [int(x) % MERSENNE_PRIME for x in shingle_ids]
        if not xs:
            return [int(EMPTY)] * self.num_perm
        return [min((a * x + b) % MERSENNE_PRIME for x in xs) for a, b in zip(self.a.tolist(), self.b.tolist())]


def _as_ids(doc, i: int) -> np.ndarray:
    """A document's shingle ids as a 1-D uint64 array, or a one-line error naming the document."""
    x = np.asarray(doc)
    if x.size == 0:
        return np.empty(0, dtype=np.uint64)
    if x.ndim != 1 or x.dtype.kind not in "ui" or (x.dtype.kind == "i" and x.min() < 0):
        raise DataError(f"document {i}: shingle ids must be a 1-D array of non-negative integers "
                        f"(from shingles()), got shape {x.shape} and dtype {x.dtype}")
    return x.astype(np.uint64, copy=False)


def jaccard_estimate(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """The fraction of equal slots of two signatures: MinHash's estimate of their Jaccard similarity.

    An EMPTY signature (no shingles) estimates 0.0 against everything, itself included.

    >>> m = MinHasher(num_perm=256)
    >>> round(jaccard_estimate(m.signature(range(100)), m.signature(range(50, 150))), 1)  # exact: 1/3
    0.3
    """
    sig_a, sig_b = np.asarray(sig_a), np.asarray(sig_b)
    if sig_a.shape != sig_b.shape:
        raise ConfigError(f"signatures of different shapes {sig_a.shape} and {sig_b.shape}: "
                          f"make both with the same MinHasher")
    if sig_a[0] == EMPTY or sig_b[0] == EMPTY:
        return 0.0
    return float(np.mean(sig_a == sig_b))


# ----------------------------------------------------------------------------
# LSH banding

def candidate_probability(s, bands: int, rows: int):
    """The S-curve: the probability that a pair of Jaccard similarity s shares at least one band,
    1 - (1 - s^rows)^bands (a band matches with probability s^rows; the bands are independent).

    >>> round(candidate_probability(0.8, bands=16, rows=8), 3), round(candidate_probability(0.3, 16, 8), 4)
    (0.947, 0.001)
    """
    p = 1 - (1 - np.asarray(s, dtype=float) ** rows) ** bands
    return float(p) if p.ndim == 0 else p


def choose_bands(num_perm: int, threshold: float, min_recall: float | None = None) -> tuple[int, int]:
    """(bands, rows) with bands x rows = num_perm.

    Without min_recall: the split whose S-curve midpoint (1/bands)^(1/rows) is closest to threshold.
    With it: of the splits that make a pair at the threshold a candidate with probability >= min_recall,
    the one with the highest midpoint (the fewest dissimilar candidates). Candidates are checked against
    the signature afterwards, so a false candidate costs one comparison while a missed pair is lost:
    `near_duplicates` asks for min_recall=0.9.

    >>> choose_bands(128, 0.8), choose_bands(128, 0.8, min_recall=0.9), choose_bands(128, 0.5)
    ((8, 16), (16, 8), (32, 4))
    """
    if not isinstance(num_perm, int) or num_perm < 1:
        raise ConfigError(f"num_perm must be a positive integer, got {num_perm!r}")
    if not 0 < threshold < 1:
        raise ConfigError(f"threshold must be between 0 and 1 (exclusive), got {threshold}")
    splits = [(b, num_perm // b) for b in range(1, num_perm + 1) if num_perm % b == 0]
    midpoint = {(b, r): (1 / b) ** (1 / r) for b, r in splits}
    if min_recall is None:
        return min(splits, key=lambda br: abs(midpoint[br] - threshold))
    good = [br for br in splits if candidate_probability(threshold, *br) >= min_recall]
    if not good:
        raise ConfigError(f"no bands x rows = {num_perm} finds pairs at similarity {threshold} with probability "
                          f">= {min_recall}: raise num_perm or lower min_recall")
    return max(good, key=lambda br: midpoint[br])


def _check_bands(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    signatures = np.asarray(signatures)
    if signatures.ndim != 2:
        raise ConfigError(f"signatures must be a (documents, num_perm) array, got shape {signatures.shape}")
    if bands < 1 or rows < 1 or bands * rows != signatures.shape[1]:
        raise ConfigError(f"bands x rows = {bands} x {rows} must equal the signature length {signatures.shape[1]}: "
                          f"pick bands that divide it (choose_bands does)")
    return signatures


def band_keys(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(D, bands * rows) signatures -> (D, bands) uint64: a hash of each band's slice of `rows` slots.

    >>> sig = np.array([[1, 2, 3, 4], [1, 2, 9, 9], [0, 2, 3, 4]], dtype=np.uint32)
    >>> k = band_keys(sig, bands=2, rows=2)
    >>> bool(k[0, 0] == k[1, 0]), bool(k[0, 1] == k[2, 1]), bool(k[0, 0] == k[2, 0])
    (True, True, False)
    """
    signatures = _check_bands(signatures, bands, rows)
    D = len(signatures)
    s = signatures.reshape(D, bands, rows).astype(np.uint64)  # (D, bands, rows)
    return _rolling_hash((s[:, :, c] for c in range(rows)), (D, bands))


def lsh_candidates(signatures: np.ndarray, bands: int, rows: int) -> set[tuple[int, int]]:
    """Pairs (i, j), i < j, whose signatures agree on every row of at least one band.

    Each band's keys are sorted so that equal keys sit together (the buckets); every pair within a bucket
    is a candidate. Documents with an EMPTY signature (no shingles) are left out: they get no candidates.

    >>> sig = np.array([[1, 2, 3, 4], [1, 2, 9, 9], [0, 2, 3, 4], [5, 6, 7, 8]], dtype=np.uint32)
    >>> sorted(lsh_candidates(sig, bands=2, rows=2))
    [(0, 1), (0, 2)]
    """
    signatures = _check_bands(signatures, bands, rows)
    docs = np.flatnonzero(signatures[:, 0] != EMPTY)  # (D',) the documents that have shingles
    keys = band_keys(signatures[docs], bands, rows)   # (D', bands)
    pairs: set[tuple[int, int]] = set()
    for band in range(bands):
        order = np.argsort(keys[:, band], kind="stable")  # stable: within a bucket, documents stay in order
        k = keys[order, band]
        starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])  # (buckets,) where each run of equal keys begins
        sizes = np.diff(starts, append=len(k))
        for start, size in zip(starts[sizes > 1].tolist(), sizes[sizes > 1].tolist()):
            members = docs[order[start:start + size]].tolist()
            pairs.update(itertools.combinations(members, 2))
    return pairs


def all_pairs(signatures: np.ndarray, threshold: float) -> list[tuple[int, int, float]]:
    """The reference LSH replaces: every pair (i, j, estimate), i < j, whose signatures agree on >= threshold
    of their slots, found by comparing all D (D - 1) / 2 pairs. EMPTY signatures match nothing."""
    signatures = np.asarray(signatures)
    out = []
    for i in range(len(signatures) - 1):
        if signatures[i, 0] == EMPTY:
            continue  # (a signature with shingles has no EMPTY slot, so it never matches an EMPTY one)
        est = np.count_nonzero(signatures[i + 1:] == signatures[i], axis=1) / signatures.shape[1]  # (D - i - 1,)
        js = np.flatnonzero(est >= threshold)
        out.extend((i, i + 1 + j, float(est[j])) for j in js.tolist())
    return out


# ----------------------------------------------------------------------------
# near-duplicates and clusters

def near_duplicates(texts: Sequence[str], threshold: float = 0.8, num_perm: int = 128, n: int = 5,
                    unit: str = "word", bands: int | None = None, rows: int | None = None,
                    min_recall: float = 0.9, seed: int = 0) -> list[tuple[int, int, float]]:
    """Pairs (i, j, estimated Jaccard), i < j, sorted, of texts whose shingle sets look >= threshold alike.

    LSH proposes the candidates (bands x rows from `choose_bands(num_perm, threshold, min_recall)` unless
    given); a candidate is kept when its signatures agree on >= threshold of the slots. Texts with no
    words (empty, only punctuation) have no shingles and are never reported: see `exact_duplicates`.
    """
    if not 0 < threshold <= 1:
        raise ConfigError(f"threshold must be in (0, 1], got {threshold}")
    if bands is None and rows is None:
        bands, rows = choose_bands(num_perm, min(threshold, 0.999), min_recall)
    elif bands is None or rows is None:
        given = bands or rows
        if num_perm % given:
            raise ConfigError(f"bands x rows must equal num_perm = {num_perm}, and {given} does not divide it")
        bands, rows = (given, num_perm // given) if bands else (num_perm // given, given)
    sig = MinHasher(num_perm, seed).signatures([shingles(t, n, unit) for t in _check_texts(texts)])  # (D, P)
    return similar_pairs(sig, threshold, bands, rows)


def similar_pairs(signatures: np.ndarray, threshold: float, bands: int, rows: int) -> list[tuple[int, int, float]]:
    """LSH's version of `all_pairs`: the candidates of `lsh_candidates` whose signatures agree on >= threshold
    of their slots, as sorted (i, j, estimate). It can miss a pair that `all_pairs` finds, with the
    probability 1 - candidate_probability(J, bands, rows)."""
    signatures = np.asarray(signatures)
    cand = np.array(sorted(lsh_candidates(signatures, bands, rows)), dtype=np.int64).reshape(-1, 2)  # (C, 2)
    est = np.count_nonzero(signatures[cand[:, 0]] == signatures[cand[:, 1]], axis=1) / signatures.shape[1]  # (C,)
    keep = est >= threshold
    return [(i, j, float(e)) for (i, j), e in zip(cand[keep].tolist(), est[keep].tolist())]


def cluster_labels(n_docs: int, pairs: Iterable[Sequence]) -> list[int]:
    """Union-find over the pairs (i, j, ...): each document's label is the smallest index in its cluster.

    >>> cluster_labels(6, [(1, 4), (4, 5, 0.9), (2, 3)])
    [0, 1, 2, 2, 1, 1]
    """
    parent = list(range(n_docs))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]  # path halving: point at the grandparent on the way up
            i = parent[i]
        return i

    for pair in pairs:
        ri, rj = root(pair[0]), root(pair[1])
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)  # the smaller index becomes the root: labels are deterministic
    return [root(i) for i in range(n_docs)]


def near_duplicate_of(texts: Sequence[str], **kwargs) -> list[int | None]:
    """Like `exact_duplicates` for near-duplicates: for each text, the first document of its cluster
    (keyword arguments as `near_duplicates`), or None for the one the pipeline keeps.

    >>> base = " ".join(f"w{i}" for i in range(60))
    >>> near_duplicate_of([base, "something else entirely", base.replace("w30", "x"), ""])
    [None, None, 0, None]
    """
    labels = cluster_labels(len(texts), near_duplicates(texts, **kwargs))
    return [None if label == i else label for i, label in enumerate(labels)]


def synthetic_pages(n_pages: int, words_per_page: int = 300, n_copies: int = 0, edits: int = 3,
                    vocab_size: int = 20_000, seed: int = 0) -> tuple[list[str], list[tuple[int, int]]]:
    """Random pages of made-up words (Zipf-distributed, like real word frequencies), then n_copies
    near-duplicates: copies of distinct random pages with `edits` words replaced at random positions.

    Returns (texts, planted) where planted holds (original, copy) index pairs; the copies come last.
    """
    if n_copies > n_pages:
        raise ConfigError(f"n_copies = {n_copies} needs at least as many pages, got n_pages = {n_pages}")
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, 10, size=vocab_size)  # made-up words of 2 to 9 letters
    letters = "".join(chr(ord("a") + c) for c in rng.integers(0, 26, size=lengths.sum()).tolist())
    ends = np.cumsum(lengths).tolist()
    vocab = [letters[end - length:end] for end, length in zip(ends, lengths.tolist())]
    weights = 1 / np.arange(1, vocab_size + 1)  # Zipf: the k-th commonest word has frequency ~ 1/k
    draws = rng.choice(vocab_size, size=(n_pages, words_per_page), p=weights / weights.sum())
    pages = [[vocab[w] for w in row] for row in draws.tolist()]
    planted = []
    for k, original in enumerate(rng.choice(n_pages, size=n_copies, replace=False).tolist()):
        copy = list(pages[original])
        for pos in rng.choice(words_per_page, size=min(edits, words_per_page), replace=False).tolist():
            copy[pos] = vocab[rng.integers(vocab_size)]
        pages.append(copy)
        planted.append((original, n_pages + k))
    return [" ".join(words) for words in pages], planted
