"""BPE training time and encoding throughput, minillm vs tiktoken.

Training: the incremental trainer on the whole Shakespeare training text to
a 4,096-token vocabulary; then the incremental and the recount-every-merge
reference trainers on the same slice with a smaller vocabulary, and their
ratio (the reference is far too slow for the full run).

Encoding: MB/s of minillm's pure-Python encoder, of the same vocabulary
exported to tiktoken, and of tiktoken's own GPT-2 encoding (plus minillm's
encoder with GPT-2's merges), all on the Shakespeare validation text.
Every time printed is the median of --repeats runs; minillm's encoder starts
each run with an empty word cache.

    python benchmarks/bpe.py
    python benchmarks/bpe.py --slice-chars 100000 --slice-vocab 512
"""

import argparse
import statistics
import time

from minillm.bpe import BPETokenizer, train_merges, train_merges_reference, word_counts
from minillm.data import shakespeare
from minillm.tiktoken_bridge import gpt2_encoding, gpt2_tokenizer, to_tiktoken


def timed(fn, *args, repeats: int = 1, **kwargs):
    """fn's result and the median of `repeats` wall times."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times)


def fresh(tok: BPETokenizer) -> BPETokenizer:
    """A copy of `tok` with an empty word cache, so that timing it measures real encoding."""
    return BPETokenizer(list(tok.merges), tok.special_tokens, tok.pattern, tok.byte_ids)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab-size", type=int, default=4096)
    parser.add_argument("--slice-chars", type=int, default=200_000)
    parser.add_argument("--slice-vocab", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3, help="timings are the median of this many runs")
    args = parser.parse_args()
    corpus = shakespeare()
    train_text, val_text = corpus.train, corpus.val
    mb = len(val_text.encode("utf-8")) / 1e6

    print(f"== training (one core, pure Python); corpus {len(train_text.encode('utf-8')) / 1e6:.2f} MB")
    tok, seconds = timed(BPETokenizer.train, train_text, args.vocab_size, repeats=args.repeats)
    print(f"full train text -> {tok.vocab_size} tokens: {seconds:.1f} s "
          f"(pre-tokenization and counting included)")
    words = word_counts(train_text[: args.slice_chars])
    n = args.slice_vocab - 257
    fast, t_fast = timed(train_merges, words, n, repeats=args.repeats)
    ref, t_ref = timed(train_merges_reference, words, n)
    assert fast == ref, "the two trainers disagree"
    print(f"slice of {args.slice_chars:,} chars ({len(words):,} distinct words), {n} merges: "
          f"incremental {t_fast:.2f} s, reference {t_ref:.2f} s, reference / incremental = {t_ref / t_fast:.0f}x")

    print(f"\n== encoding the validation text ({mb:.2f} MB), MB/s")
    gpt2_enc, gpt2_tok = gpt2_encoding(), gpt2_tokenizer()
    rows = [("minillm pure Python, course BPE", lambda text: fresh(tok).encode_ordinary(text)),
            ("tiktoken, course BPE exported", to_tiktoken(tok).encode_ordinary),
            ("minillm pure Python, GPT-2 merges", lambda text: fresh(gpt2_tok).encode_ordinary(text)),
            ("tiktoken, GPT-2 (r50k_base)", gpt2_enc.encode_ordinary)]
    speeds = {}
    for name, encode in rows:
        ids, seconds = timed(encode, val_text, repeats=args.repeats)
        speeds[name] = mb / seconds
        print(f"{name:<36} {speeds[name]:8.2f} MB/s   {len(val_text.encode('utf-8')) / len(ids):.2f} bytes/token")
    base = speeds["tiktoken, GPT-2 (r50k_base)"]
    for name in speeds:
        print(f"{name:<36} {speeds[name] / base:8.3f}x tiktoken GPT-2")


if __name__ == "__main__":
    main()
