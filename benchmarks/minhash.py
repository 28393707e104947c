"""MinHash signatures per second and LSH candidate search time, minillm vs datasketch (CPU, one core).

The corpus is `minillm.curation.dedup.synthetic_pages`: random pages of made-up Zipf-distributed words,
one in ten with a near-duplicate copy (3 words changed of 300). Every time printed is the median of
--repeats runs.

Signatures (documents per second, 128 permutations), measured in the same run:
    from shingle ids   both libraries get the same uint64 ids of each page's word 5-grams; minillm's
                       MinHasher.signatures hashes the whole corpus at once, datasketch's MinHash.bulk
                       gets them as lists of ints with an identity hash function (its fastest path)
    from text          each library's whole path from the page: minillm's shingles() + signatures;
                       datasketch with its default SHA-1 of each word 5-gram's bytes (the usual use)

Candidate search (the signatures are computed beforehand): LSH banding (`similar_pairs`: bucket the
bands, then check each candidate's signatures) against the all-pairs comparison (`all_pairs`), with how
many of the planted near-duplicates LSH finds; and datasketch's MinHashLSH with the same bands x rows on
the same signatures (making a LeanMinHash of each, inserting every document, querying every document).
About a minute on two cores with the defaults.

    python benchmarks/minhash.py
    python benchmarks/minhash.py --docs 500 --sizes 500 1000 2000 --repeats 1 --plot lsh.png   # seconds
"""

import argparse
import statistics
import time

import numpy as np

from minillm.curation.dedup import (MinHasher, all_pairs, choose_bands, normalize, shingles, similar_pairs,
                                    synthetic_pages)


def timed(fn, *args, repeats: int = 1, **kwargs):
    """fn's result and the median of `repeats` wall times."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times)


def word_shingle_bytes(text: str, n: int = 5) -> list[bytes]:
    """The word n-grams of normalize(text) as bytes, the way datasketch's users usually feed them."""
    words = normalize(text).split()
    return [" ".join(words[i:i + n]).encode("utf-8") for i in range(max(len(words) - n + 1, 1))] if words else []


def signature_speed(texts: list[str], num_perm: int, repeats: int, datasketch) -> None:
    sets = [shingles(t) for t in texts]
    hasher = MinHasher(num_perm)
    rows = [("minillm, from shingle ids", lambda: hasher.signatures(sets)),
            ("minillm, from text", lambda: MinHasher(num_perm).signatures([shingles(t) for t in texts]))]
    if datasketch is not None:
        ids32 = [(s & np.uint64(0xFFFFFFFF)).tolist() for s in sets]  # its default scheme takes 32-bit hashes
        rows += [("datasketch, from shingle ids",
                  lambda: datasketch.MinHash.bulk(ids32, num_perm=num_perm, hashfunc=lambda x: x)),
                 ("datasketch, from text (SHA-1)",
                  lambda: datasketch.MinHash.bulk([word_shingle_bytes(t) for t in texts], num_perm=num_perm))]
    print(f"== signatures: {len(texts):,} pages, {sum(map(len, sets)) / len(sets):.0f} shingles each, "
          f"{num_perm} permutations")
    speed = {}
    for name, fn in rows:
        _, seconds = timed(fn, repeats=repeats)
        speed[name] = len(texts) / seconds
        print(f"{name:<32} {speed[name]:10,.0f} docs/s")
    if datasketch is not None:
        for what in ("from shingle ids", "from text"):
            theirs = next(v for k, v in speed.items() if k.startswith(f"datasketch, {what}"))
            ours = speed[f"minillm, {what}"]
            print(f"minillm / datasketch, {what:<17} {ours / theirs:6.2f}x  (goal: >= 0.5x, within 2x)")


def datasketch_lsh(datasketch, signatures: np.ndarray, bands: int, rows: int) -> set[tuple[int, int]]:
    """Candidate pairs from datasketch's MinHashLSH, fed our signatures as its hash values."""
    lsh = datasketch.MinHashLSH(num_perm=signatures.shape[1], params=(bands, rows))
    minhashes = [datasketch.LeanMinHash(seed=0, hashvalues=row, scheme="affine32") for row in signatures]
    for i, m in enumerate(minhashes):
        lsh.insert(i, m, check_duplication=False)
    return {(min(i, j), max(i, j)) for i, m in enumerate(minhashes) for j in lsh.query(m) if i != j}


def candidate_search(sizes: list[int], num_perm: int, threshold: float, repeats: int, datasketch,
                     plot: str | None) -> None:
    bands, rows = choose_bands(num_perm, threshold, min_recall=0.9)
    print(f"\n== near-duplicate search at Jaccard >= {threshold}, from signatures ({bands} bands x {rows} rows)")
    header = f"{'docs':>7} {'pairs':>12} {'LSH s':>8} {'all-pairs s':>12} {'all / LSH':>10} {'planted found':>14}"
    print(header + (f" {'datasketch LSH s':>17}" if datasketch is not None else ""))
    table = []
    for n_docs in sizes:
        texts, planted = synthetic_pages(n_docs - n_docs // 10, n_copies=n_docs // 10, seed=n_docs)
        sig = MinHasher(num_perm).signatures([shingles(t) for t in texts])
        lsh, t_lsh = timed(similar_pairs, sig, threshold, bands, rows, repeats=repeats)
        reference, t_all = timed(all_pairs, sig, threshold, repeats=repeats)
        found = {(i, j) for i, j, _ in lsh}
        assert found <= {(i, j) for i, j, _ in reference}, "LSH reported a pair the all-pairs check rejects"
        line = (f"{len(texts):>7,} {len(texts) * (len(texts) - 1) // 2:>12,} {t_lsh:>8.3f} {t_all:>12.3f} "
                f"{t_all / t_lsh:>9.0f}x {len(found & set(planted)):>6}/{len(planted):<7}")
        if datasketch is not None:
            _, t_ds = timed(datasketch_lsh, datasketch, sig, bands, rows, repeats=repeats)
            line += f" {t_ds:>17.3f}"
        print(line)
        table.append((len(texts), t_lsh, t_all))
    if len(table) > 1:
        (d0, l0, a0), (d1, l1, a1) = table[0], table[-1]
        print(f"{d1 / d0:.0f}x the documents: LSH time x{l1 / l0:.1f}, all-pairs time x{a1 / a0:.1f} "
              f"(pairs x{(d1 * (d1 - 1)) / (d0 * (d0 - 1)):.0f})")
    if plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        docs, t_lsh, t_all = zip(*table)
        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.loglog(docs, t_all, "o-", label="all pairs")
        ax.loglog(docs, t_lsh, "o-", label=f"LSH, {bands} bands x {rows} rows")
        ax.set(xlabel="documents", ylabel="seconds (from signatures)", title="Near-duplicate search")
        ax.legend()
        fig.tight_layout()
        fig.savefig(plot, dpi=120)
        print(f"wrote {plot}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1000, help="pages for the signature throughput")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 4000, 8000, 16000],
                        help="corpus sizes for the candidate search")
    parser.add_argument("--num-perm", type=int, default=128)
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--repeats", type=int, default=3, help="timings are the median of this many runs")
    parser.add_argument("--plot", help="also draw the candidate search times to this image file")
    args = parser.parse_args(argv)
    try:
        import datasketch
    except ImportError:
        datasketch = None
        print("datasketch is not installed (pip install datasketch): minillm's columns only")
    texts, _ = synthetic_pages(args.docs - args.docs // 10, n_copies=args.docs // 10, seed=0)
    signature_speed(texts, args.num_perm, args.repeats, datasketch)
    candidate_search(args.sizes, args.num_perm, args.threshold, args.repeats, datasketch, args.plot)


if __name__ == "__main__":
    main()
