"""Deduplication (minillm.curation.dedup): exact and near-duplicates, MinHash and LSH banding.

MinHash is checked against exact Jaccard (its estimates are unbiased with standard error
sqrt(J (1 - J) / num_perm)), the numpy signatures against the slow Python-integer reference, the banding
against brute force and its S-curve against a Monte-Carlo simulation, and everything against datasketch
on the same shingle sets.
"""

import itertools

import numpy as np
import pytest

from minillm.curation.dedup import (EMPTY, MERSENNE_PRIME, MinHasher, all_pairs, band_keys, candidate_probability,
                                    choose_bands, cluster_labels, exact_duplicates, jaccard, jaccard_estimate,
                                    lsh_candidates, near_duplicate_of, near_duplicates, normalize, shingles,
                                    similar_pairs, synthetic_pages)
from minillm.errors import ConfigError, DataError


def sets_with_jaccard(rng, j: float, size: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Two random sets of shingle ids of union `size` and Jaccard similarity exactly round(j * size) / size."""
    ids = rng.choice(np.iinfo(np.int64).max, size=size, replace=False).astype(np.uint64)
    shared = round(j * size)
    only_a = (size - shared) // 2
    return ids[:shared + only_a], np.concatenate([ids[:shared], ids[shared + only_a:]])


def standard_error(j: float, num_perm: int) -> float:
    return (j * (1 - j) / num_perm) ** 0.5


# ----------------------------------------------------------------------------
# normalisation and exact duplicates

@pytest.mark.parametrize("text, expected", [
    ("Hello,   World!", "hello world"),
    ("\tline one\n\nline two \r\n", "line one line two"),
    ("Don't — “stop” «now»…", "dont stop now"),       # Unicode punctuation, not only ASCII
    ("ＦＵＬＬ ｗｉｄｔｈ ﬁne", "full width fine"),       # NFKC: full-width letters, the fi ligature
    ("Price: $5 + 3% 🙂", "price $5 + 3 🙂"),           # symbols and digits stay, % is punctuation
    ("", ""), ("  ...!!  ", ""),
])
def test_normalize(text, expected):
    assert normalize(text) == expected


def test_exact_duplicates_ignore_case_whitespace_and_punctuation():
    texts = ["The quick brown fox.", "A different page", "the  QUICK\nbrown fox", "THE QUICK BROWN FOX!!",
             "the quick brown foxes", "", "   ", "a different page"]
    assert exact_duplicates(texts) == [None, None, 0, 0, None, None, 5, 1]
    assert exact_duplicates([]) == []


# ----------------------------------------------------------------------------
# shingles

def test_shingles_are_word_ngrams_of_normalized_text():
    assert len(shingles("a b c d e f g")) == 3               # 7 words: 3 five-word windows
    assert len(shingles("a b c d e f g", n=1)) == 7
    assert len(shingles("a b a b a b a b", n=2)) == 2        # a set: "a b" and "b a"
    assert np.array_equal(shingles("To be, or NOT to be!"), shingles("to be or not to be"))
    assert not np.array_equal(shingles("a b c d e f"), shingles("b c d e f a"))  # order matters
    assert len(shingles("one two")) == 1 and len(shingles("")) == 0 and len(shingles(" ?! ")) == 0
    ids = shingles("the cat sat on the mat and the cat sat on the hat")
    assert ids.dtype == np.uint64 and np.all(np.diff(ids.astype(np.float64)) > 0)  # sorted, no repeats


def test_shingle_ids_are_golden_values():
    # fixed hashes (blake2b, a rolling hash, fmix64), not Python's hash(): these hold in every process
    assert shingles("to be or not to be").tolist() == [1301657838676442025, 3499790962855102237]
    assert shingles("hi").tolist() == [7116109435673810773]
    assert shingles("abcdef", n=3, unit="char").tolist() == [5896389542971762907, 8791112523517538956,
                                                            13170824864513264284, 17598000629107963490]


def test_character_shingles_survive_spelling_variants():
    # a Folio-like copy: one letter changed in 15% of the words breaks most word 5-grams, few char 5-grams
    rng = np.random.default_rng(3)
    words = synthetic_pages(1, words_per_page=400, seed=3)[0][0].split()
    variant = [w[:-1] + "e" if rng.random() < 0.15 and len(w) > 2 else w for w in words]
    a, b = " ".join(words), " ".join(variant)
    assert jaccard(shingles(a), shingles(b)) < 0.5
    assert jaccard(shingles(a, unit="char"), shingles(b, unit="char")) > 0.65
    assert near_duplicates([a, b], threshold=0.6) == []
    assert [p[:2] for p in near_duplicates([a, b], threshold=0.6, unit="char")] == [(0, 1)]


# ----------------------------------------------------------------------------
# MinHash

def test_jaccard_exact():
    assert jaccard({1, 2, 3}, {2, 3, 4}) == 0.5
    assert jaccard(np.array([1, 2]), [1, 2]) == 1.0
    assert jaccard([], [1]) == 0.0 and jaccard([], []) == 0.0
    a, b = sets_with_jaccard(np.random.default_rng(0), 0.3)
    assert jaccard(a, b) == pytest.approx(0.3)


@pytest.mark.parametrize("chunk_rows", [1, 7, 64, None])
def test_signatures_equal_the_python_integer_reference(chunk_rows):
    rng = np.random.default_rng(1)
    docs = [rng.integers(0, 2**64 - 1, size=n, dtype=np.uint64, endpoint=True) for n in (5, 0, 1, 40, 0, 13)]
    docs.append(np.array([0, MERSENNE_PRIME, 2 * MERSENNE_PRIME, MERSENNE_PRIME - 1, 2**64 - 1], dtype=np.uint64))
    docs.append([3, 1, 4, 1, 5])  # a plain list of ints, with a repeat
    m = MinHasher(num_perm=32, seed=5, chunk_rows=chunk_rows)
    sig = m.signatures(docs)
    assert sig.shape == (len(docs), 32) and sig.dtype == np.uint32
    for doc, row in zip(docs, sig):
        assert row.tolist() == m.signature_reference(doc)
    assert np.all(sig[1] == EMPTY) and np.all(sig[0] < MERSENNE_PRIME)


def test_hash_values_reach_both_ends_of_the_range():
    # (a x + b) mod p is a bijection of [0, p) for a != 0: the folds must give 0 and p - 1 too, never p
    m = MinHasher(num_perm=2, seed=0)
    a, b = (int(v) for v in m.a[:1].tolist() + m.b[:1].tolist())
    x_zero = (-b * pow(a, -1, MERSENNE_PRIME)) % MERSENNE_PRIME          # a x + b = 0 (mod p)
    x_top = ((MERSENNE_PRIME - 1 - b) * pow(a, -1, MERSENNE_PRIME)) % MERSENNE_PRIME
    assert m.signature([x_zero])[0] == 0
    assert m.signature([x_top])[0] == MERSENNE_PRIME - 1


def test_extreme_parameters_stay_exact():
    # the largest a, b and x give the largest a x + b: the folds and the one subtraction must still be exact
    p = MERSENNE_PRIME
    m = MinHasher(num_perm=4)
    m.a[:] = [p - 1, p - 1, 1, p - 2]
    m.b[:] = [p - 1, 0, p - 1, p - 1]
    xs = [0, 1, 2, p - 2, p - 1, p, 2 * p - 1, 2**62, 2**64 - 1]
    assert m.signatures([[x] for x in xs]).tolist() == [m.signature_reference([x]) for x in xs]


@pytest.mark.parametrize("j", [0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0])
def test_minhash_estimates_exact_jaccard(j):
    rng = np.random.default_rng(int(j * 100))
    num_perm, pairs = 128, 60
    sets = [s for _ in range(pairs) for s in sets_with_jaccard(rng, j)]
    sig = MinHasher(num_perm, seed=7).signatures(sets)
    est = np.array([jaccard_estimate(sig[2 * k], sig[2 * k + 1]) for k in range(pairs)])
    se = standard_error(j, num_perm)
    assert np.all(np.abs(est - j) <= 4.5 * se + 1e-12)            # every pair within a few standard errors
    assert abs(est.mean() - j) <= 4 * se / pairs ** 0.5 + 1e-12   # unbiased
    if 0 < j < 1:
        assert 0.7 * se < est.std() < 1.3 * se                    # and as noisy as the binomial says


def test_reproducible_with_a_seed():
    docs = [shingles(t) for t in synthetic_pages(5, words_per_page=50)[0]]
    a = MinHasher(64, seed=3).signatures(docs)
    assert np.array_equal(a, MinHasher(64, seed=3).signatures(docs))
    assert np.array_equal(a, MinHasher(64, seed=3, chunk_rows=10).signatures(docs))
    assert np.array_equal(a[2], MinHasher(64, seed=3).signature(docs[2]))  # alone or in a batch
    assert not np.array_equal(a, MinHasher(64, seed=4).signatures(docs))
    assert near_duplicates(synthetic_pages(20, n_copies=5)[0]) == near_duplicates(synthetic_pages(20, n_copies=5)[0])


def test_jaccard_estimate_of_empty_documents_is_zero():
    m = MinHasher(16)
    empty, some = m.signature([]), m.signature([1, 2, 3])
    assert np.all(empty == EMPTY)
    assert jaccard_estimate(empty, empty) == 0.0 and jaccard_estimate(empty, some) == 0.0
    assert jaccard_estimate(some, some) == 1.0


# ----------------------------------------------------------------------------
# LSH banding

def test_candidate_probability_golden_values():
    assert candidate_probability(0.0, 16, 8) == 0.0 and candidate_probability(1.0, 16, 8) == 1.0
    assert candidate_probability(0.5, 1, 1) == 0.5
    assert candidate_probability(0.5, 2, 1) == 0.75                  # either of two one-slot bands
    assert candidate_probability(0.5, 1, 2) == 0.25                  # both slots of one band
    assert candidate_probability(0.8, 16, 8) == pytest.approx(1 - (1 - 0.8**8)**16)
    s = np.linspace(0, 1, 11)
    assert np.all(np.diff(candidate_probability(s, 16, 8)) > 0)      # rising: an S-curve


@pytest.mark.parametrize("bands, rows", [(16, 8), (32, 4), (8, 16), (64, 2)])
def test_s_curve_matches_a_monte_carlo_of_the_banding(bands, rows):
    # signatures with known similarity: each slot of the second copy equals the first with probability s
    rng = np.random.default_rng(bands)
    num_perm, pairs = bands * rows, 400
    for s in [0.2, 0.4, 0.6, 0.7, 0.8, 0.9]:
        a = rng.integers(0, MERSENNE_PRIME, size=(pairs, num_perm), dtype=np.uint32)
        b = np.where(rng.random((pairs, num_perm)) < s, a,
                     rng.integers(0, MERSENNE_PRIME, size=(pairs, num_perm), dtype=np.uint32))
        sig = np.stack([a, b], axis=1).reshape(2 * pairs, num_perm)  # pair k is documents 2k and 2k + 1
        found = {(i, j) for i, j in lsh_candidates(sig, bands, rows) if j == i + 1 and i % 2 == 0}
        p = candidate_probability(s, bands, rows)
        assert abs(len(found) / pairs - p) <= 4 * (p * (1 - p) / pairs) ** 0.5 + 1e-9, (s, len(found) / pairs, p)


def test_lsh_candidates_equal_brute_force_band_matching():
    rng = np.random.default_rng(0)
    sig = rng.integers(0, 3, size=(40, 6), dtype=np.uint32)  # a small alphabet, so bands often agree
    sig[[5, 17]] = EMPTY                                      # documents without shingles
    for bands, rows in [(1, 6), (2, 3), (3, 2), (6, 1)]:
        expected = {(i, j) for i, j in itertools.combinations(range(40), 2)
                    if EMPTY not in (sig[i, 0], sig[j, 0])
                    and any(np.array_equal(sig[i, k * rows:(k + 1) * rows], sig[j, k * rows:(k + 1) * rows])
                            for k in range(bands))}
        assert lsh_candidates(sig, bands, rows) == expected
    assert band_keys(sig, 2, 3).shape == (40, 2) and band_keys(sig, 2, 3).dtype == np.uint64


def test_choose_bands():
    for num_perm, threshold in [(128, 0.8), (128, 0.5), (100, 0.7), (64, 0.9), (7, 0.5)]:
        bands, rows = choose_bands(num_perm, threshold)
        assert bands * rows == num_perm
        splits = [(b, num_perm // b) for b in range(1, num_perm + 1) if num_perm % b == 0]
        best = min(abs((1 / b) ** (1 / r) - threshold) for b, r in splits)
        assert abs((1 / bands) ** (1 / rows) - threshold) == best
    assert choose_bands(128, 0.8) == (8, 16)                            # midpoint 0.878
    bands, rows = choose_bands(128, 0.8, min_recall=0.9)
    assert (bands, rows) == (16, 8) and candidate_probability(0.8, bands, rows) >= 0.9
    with pytest.raises(ConfigError, match="min_recall"):
        choose_bands(4, 0.1, min_recall=0.99)
    for threshold in (0, 1, 1.5):
        with pytest.raises(ConfigError, match="threshold"):
            choose_bands(128, threshold)


def test_all_pairs_is_the_reference_for_lsh():
    texts, planted = synthetic_pages(60, words_per_page=120, n_copies=8, edits=2, seed=2)
    sig = MinHasher(128).signatures([shingles(t) for t in texts])
    reference = all_pairs(sig, 0.8)
    assert {(i, j) for i, j, _ in reference} == set(planted)
    assert near_duplicates(texts, threshold=0.8) == reference


def test_similar_pairs_check_every_candidate():
    # copies with 1 to 40 of 100 words edited span the S-curve: some candidates fall below the threshold
    texts, planted = [], []
    for edits in range(1, 41):
        texts += synthetic_pages(1, words_per_page=100, n_copies=1, edits=edits, seed=edits)[0]
    sig = MinHasher(128).signatures([shingles(t) for t in texts])
    candidates = lsh_candidates(sig, 16, 8)
    pairs = similar_pairs(sig, 0.8, 16, 8)
    reference = all_pairs(sig, 0.8)
    assert len(pairs) < len(candidates)                      # the check rejected some
    assert all(est >= 0.8 and (i, j) in candidates for i, j, est in pairs)
    assert set(pairs) <= set(reference)
    assert {p for p in reference if p[2] >= 0.9} <= set(pairs)  # LSH misses those with probability < 1e-4


def test_synthetic_pages_plant_the_edits_asked_for():
    texts, planted = synthetic_pages(20, words_per_page=50, n_copies=5, edits=4, seed=1)
    assert len(texts) == 25 and [j for _, j in planted] == list(range(20, 25))
    for i, j in planted:
        a, b = texts[i].split(), texts[j].split()
        assert len(a) == len(b) == 50 and 2 <= sum(x != y for x, y in zip(a, b)) <= 4  # a redraw can repeat a word
    assert max(jaccard(shingles(texts[i]), shingles(texts[j])) for i, j in itertools.combinations(range(20), 2)) < 0.05
    with pytest.raises(ConfigError, match="n_copies"):
        synthetic_pages(3, n_copies=4)


# ----------------------------------------------------------------------------
# near-duplicates

def test_near_duplicates_find_small_edits_and_not_unrelated_pages():
    texts, planted = synthetic_pages(200, words_per_page=300, n_copies=20, edits=3, seed=0)
    found = near_duplicates(texts, threshold=0.8)
    assert [(i, j) for i, j, _ in found] == sorted(planted)
    sets = [shingles(t) for t in texts]
    for i, j, est in found:
        exact = jaccard(sets[i], sets[j])
        assert 0.85 < exact < 1 and abs(est - exact) <= 4 * standard_error(exact, 128)
    labels = near_duplicate_of(texts)
    assert [(labels[j], j) for j in range(len(texts)) if labels[j] is not None] == sorted(planted, key=lambda p: p[1])


def test_exact_copies_differing_in_case_and_spacing_are_also_near_duplicates():
    page = synthetic_pages(1, words_per_page=100, seed=4)[0][0]
    texts = [page, page.upper(), "  ".join(page.split()) + "!", synthetic_pages(1, words_per_page=100, seed=5)[0][0]]
    assert exact_duplicates(texts) == [None, 0, 0, None]
    assert near_duplicates(texts) == [(0, 1, 1.0), (0, 2, 1.0), (1, 2, 1.0)]
    assert near_duplicate_of(texts) == [None, 0, 0, None]


def test_empty_documents_get_no_candidates():
    page = synthetic_pages(1, words_per_page=50)[0][0]
    texts = ["", page, "   ", "!!! ...", page, ""]
    assert near_duplicates(texts) == [(1, 4, 1.0)]
    assert near_duplicates(["", "", ""]) == [] and near_duplicates([]) == []
    assert all_pairs(MinHasher(16).signatures([[], [], [1], [1]]), 0.5) == [(2, 3, 1.0)]
    assert exact_duplicates(["", "   ", "!!! ..."]) == [None, 0, 0]   # exact dedup reports those


def test_cluster_labels_join_pairs_transitively():
    assert cluster_labels(6, [(1, 4), (4, 5, 0.9), (2, 3)]) == [0, 1, 2, 2, 1, 1]
    assert cluster_labels(5, [(3, 4), (2, 3), (0, 4)]) == [0, 1, 0, 0, 0]   # a chain through later indices
    assert cluster_labels(3, []) == [0, 1, 2]


# ----------------------------------------------------------------------------
# bad input

def test_bad_input_gets_one_line_errors():
    sig = MinHasher(128).signatures([[1, 2, 3]])
    with pytest.raises(ConfigError, match="must equal the signature length 128"):
        lsh_candidates(sig, 5, 25)
    with pytest.raises(ConfigError, match="does not divide"):
        near_duplicates(["a b c"], bands=5)
    with pytest.raises(ConfigError, match="num_perm"):
        MinHasher(0)
    with pytest.raises(ConfigError, match="positive integer"):
        shingles("a b", n=0)
    with pytest.raises(ConfigError, match="unknown shingle unit"):
        shingles("a b", unit="sentence")
    with pytest.raises(ConfigError, match="different shapes"):
        jaccard_estimate(MinHasher(64).signature([1]), MinHasher(32).signature([1]))
    with pytest.raises(DataError, match="document 1 is bytes"):
        near_duplicates(["fine", b"raw bytes"])
    with pytest.raises(DataError, match="document 2 is NoneType"):
        exact_duplicates(["a", "b", None])
    with pytest.raises(DataError, match="one str"):
        exact_duplicates("a whole corpus as one string")
    with pytest.raises(DataError, match="document 1: shingle ids"):
        MinHasher(8).signatures([[1, 2], [-1, 3]])
    with pytest.raises(DataError, match="dtype float64"):
        MinHasher(8).signatures([[0.5, 1.5]])
    for message in ("must equal", "does not divide", "shingle ids"):
        assert "\n" not in message


def test_near_duplicates_with_bands_or_rows_given():
    texts, planted = synthetic_pages(30, words_per_page=100, n_copies=3, edits=1, seed=6)
    for kwargs in ({"bands": 32}, {"rows": 4}, {"bands": 32, "rows": 4}):
        assert [p[:2] for p in near_duplicates(texts, **kwargs)] == sorted(planted)


# ----------------------------------------------------------------------------
# against datasketch, on the same shingle sets
#
# A fair comparison: both libraries get the same shingle ids (datasketch through an identity hash function,
# its fastest path, on the low 32 bits that its default scheme takes), the same num_perm and, for LSH, the
# same bands x rows (MinHashLSH's params=). Their permutations differ, so a single estimate or candidate
# can differ by chance; what must agree is (1) the distribution of the estimates around the exact Jaccard,
# (2) the candidates far from the S-curve's steep part (both find every pair with J >= 0.9, neither one with
# J <= 0.3), and in the steep part the fraction found, within binomial noise, and (3) the final pairs at the
# same threshold on a corpus whose near-duplicates are clear.

def datasketch_minhashes(datasketch, sets, num_perm=128):
    return datasketch.MinHash.bulk([(s & np.uint64(0xFFFFFFFF)).tolist() for s in sets], num_perm=num_perm,
                                   hashfunc=lambda x: x)


def test_estimates_agree_with_datasketch():
    datasketch = pytest.importorskip("datasketch")
    rng = np.random.default_rng(11)
    for j in (0.2, 0.5, 0.8):
        sets = [s for _ in range(60) for s in sets_with_jaccard(rng, j, size=300)]
        ours = MinHasher(128).signatures(sets)
        theirs = datasketch_minhashes(datasketch, sets)
        est_ours = np.array([jaccard_estimate(ours[2 * k], ours[2 * k + 1]) for k in range(60)])
        est_theirs = np.array([theirs[2 * k].jaccard(theirs[2 * k + 1]) for k in range(60)])
        se = standard_error(j, 128)
        assert np.all(np.abs(est_ours - est_theirs) <= 7 * se)  # two independent estimates: 5 sd of their difference
        assert abs(est_ours.mean() - est_theirs.mean()) <= 4 * se * (2 / 60) ** 0.5
        assert 0.7 < est_ours.std() / est_theirs.std() < 1.4


def test_lsh_candidates_agree_with_datasketch():
    datasketch = pytest.importorskip("datasketch")
    # copies with 1 to 40 words edited of 200: exact Jaccard from about 0.95 down to 0.2
    texts, planted = [], []
    for edits in range(1, 41):
        pages, pairs = synthetic_pages(1, words_per_page=200, n_copies=1, edits=edits, seed=edits)
        planted.append((len(texts), len(texts) + 1))
        texts += pages
    texts += synthetic_pages(100, words_per_page=200, seed=99)[0]  # and unrelated pages
    sets = [shingles(t) for t in texts]
    bands, rows = 16, 8
    ours = lsh_candidates(MinHasher(128).signatures(sets), bands, rows)
    lsh = datasketch.MinHashLSH(num_perm=128, params=(bands, rows))
    minhashes = datasketch_minhashes(datasketch, sets)
    for i, m in enumerate(minhashes):
        lsh.insert(i, m)
    theirs = {(min(i, j), max(i, j)) for i, m in enumerate(minhashes) for j in lsh.query(m) if i != j}
    exact = {p: jaccard(sets[p[0]], sets[p[1]]) for p in ours | theirs | set(planted)}
    high = {p for p in planted if exact[p] >= 0.9}
    assert high and high <= ours and high <= theirs
    assert all(exact[p] > 0.3 for p in ours | theirs)                      # nothing unrelated, in either
    steep = [p for p in planted if 0.3 < exact[p] < 0.9]
    expected = sum(candidate_probability(exact[p], bands, rows) for p in steep)
    noise = 4 * sum(candidate_probability(exact[p], bands, rows) * (1 - candidate_probability(exact[p], bands, rows))
                    for p in steep) ** 0.5
    for found in (ours, theirs):
        assert abs(sum(p in found for p in steep) - expected) <= noise


def test_near_duplicates_agree_with_datasketch_at_the_same_threshold():
    # At threshold 0.8 datasketch picks its own bands x rows, (9, 13), weighing false positives and
    # negatives equally: a pair at J = 0.9 becomes a candidate with probability 0.93 there, 0.99996 with
    # ours, (16, 8), which asks for 90% at the threshold. So its pairs are a subset of ours, all planted,
    # and it misses about as many as its S-curve predicts.
    datasketch = pytest.importorskip("datasketch")
    texts, planted = synthetic_pages(300, words_per_page=300, n_copies=40, edits=3, seed=8)
    sets = [shingles(t) for t in texts]
    minhashes = datasketch_minhashes(datasketch, sets)
    lsh = datasketch.MinHashLSH(threshold=0.8, num_perm=128)
    for i, m in enumerate(minhashes):
        lsh.insert(i, m)
    theirs = {(min(i, j), max(i, j)) for i, m in enumerate(minhashes) for j in lsh.query(m)
              if i != j and m.jaccard(minhashes[j]) >= 0.8}
    ours = [(i, j) for i, j, _ in near_duplicates(texts, threshold=0.8)]
    assert ours == sorted(planted) and theirs <= set(ours)
    p = np.array([candidate_probability(jaccard(sets[i], sets[j]), lsh.b, lsh.r) for i, j in planted])
    assert abs(len(theirs) - p.sum()) <= 4 * (p * (1 - p)).sum() ** 0.5 + 1


def test_the_benchmark_runs_on_a_tiny_corpus(capsys, tmp_path):
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("bench_minhash", Path(__file__).parents[1] / "benchmarks/minhash.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.main(["--docs", "40", "--sizes", "40", "80", "--repeats", "1", "--plot", str(tmp_path / "lsh.png")])
    out = capsys.readouterr().out
    assert "minillm, from shingle ids" in out and "planted found" in out and (tmp_path / "lsh.png").exists()
    assert "8/8" in out  # every planted near-duplicate of the 80-page corpus found
