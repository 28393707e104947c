"""Does curation pay? The same GPT trained on raw and on curated data, same token budget, scored on held-out text.

Makes a raw crawl (minillm.curation.crawl), curates it (minillm.curation.pipeline.curate), then for
each seed trains the course's 4-layer character GPT on each for the same steps and characters and
prints the exact loss on text no crawl contains (the corpus's validation plays and held-out Python
documentation), and the mean and spread over seeds.

    python benchmarks/curation_payoff.py                         # 3 seeds, 600 steps (about 8 minutes on 2 cores)
    python benchmarks/curation_payoff.py --seeds 0 --steps 300
    python benchmarks/curation_payoff.py --save-result curation_payoff
"""

import argparse
import shlex
import statistics
import sys
import time

from minillm import results
from minillm.curation.crawl import make_crawl
from minillm.curation.pipeline import curate, raw_vs_curated


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=3.0)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--token-budget", type=int, default=1_200_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--save-result", metavar="NAME", type=str,
                        help="write the measurement to minillm/results/NAME.json (e.g. curation_payoff) to commit")
    args = parser.parse_args()
    if args.save_result is not None and not results.NAME.fullmatch(args.save_result):
        parser.error(f"--save-result {args.save_result!r}: use lower-case letters, digits and _")
    pages = make_crawl(args.size_mb, seed=0)
    kept, stages = curate(pages)
    for stage in stages:
        print(stage.line())
    rows = []
    for seed in args.seeds:
        t0 = time.perf_counter()
        payoff = raw_vs_curated(pages, kept, steps=args.steps, token_budget=args.token_budget, seed=seed,
                                progress=False)
        rows.append(payoff)
        print(f"seed {seed}: {payoff} [{time.perf_counter() - t0:.0f} s]")
    raw, curated = [p.raw_loss for p in rows], [p.curated_loss for p in rows]
    gaps = [r - c for r, c in zip(raw, curated)]
    spread = statistics.stdev(gaps) if len(gaps) > 1 else float("nan")
    print(f"mean held-out loss: raw {statistics.mean(raw):.3f}, curated {statistics.mean(curated):.3f}; "
          f"curated better by {statistics.mean(gaps):.3f} (std over seeds {spread:.3f})")
    if args.save_result:
        values = {"raw_loss": [round(x, 4) for x in raw], "curated_loss": [round(x, 4) for x in curated],
                  "seeds": args.seeds, "steps": args.steps, "token_budget": args.token_budget,
                  "crawl_mb": args.size_mb, "kept_pages": len(kept), "crawl_pages": len(pages),
                  "held_out_chars": rows[0].held_out_chars}
        command = shlex.join(["python", "benchmarks/curation_payoff.py", *sys.argv[1:]])
        notes = ("4-layer, 128-wide character GPT (minillm.curation.pipeline.PAYOFF_MODEL), batch 16 x 128; "
                 "losses in nats per character, exact over all held-out characters; crawl seed 0")
        print(f"saved {results.save(results.Result(args.save_result, values, command, results.machine(), notes=notes))}")


if __name__ == "__main__":
    main()
