"""Corpus tokenization throughput: MB/s of text encoded into token ids with 1 and 2 processes.

Encodes the pages of a raw crawl (minillm.curation.crawl) with a 4,096-token BPE learned on the
Shakespeare training text, through `minillm.curation.shards.encode_documents`, once per process
count, and prints the median MB/s of each and the speed-up. Each worker rebuilds the tokenizer, so
its word cache starts empty, as the single process's does.

    python benchmarks/tokenize_corpus.py
    python benchmarks/tokenize_corpus.py --size-mb 5 --processes 1 2 4 --repeats 3
"""

import argparse
import os
import statistics
import time

import numpy as np

from minillm.bpe import BPETokenizer
from minillm.curation.crawl import make_crawl
from minillm.curation.shards import encode_documents
from minillm.data import shakespeare


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=2.0, help="size of the crawl to encode")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    texts = [p.text for p in make_crawl(args.size_mb, progress=False)]
    megabytes = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    tok = BPETokenizer.train(shakespeare().train, 4096)
    print(f"{megabytes:.2f} MB in {len(texts):,} pages, BPE of {tok.vocab_size:,} tokens, {os.cpu_count()} CPUs, "
          f"median of {args.repeats}")
    base = None
    for n in args.processes:
        times, ids = [], None
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            ids = np.concatenate(list(encode_documents(tok, texts, processes=n, progress=False)))
            times.append(time.perf_counter() - t0)
        speed = megabytes / statistics.median(times)
        base = base or speed
        print(f"{n} process{'es' if n > 1 else '  '}: {speed:6.2f} MB/s ({len(ids):,} tokens), {speed / base:.2f}x")


if __name__ == "__main__":
    main()
