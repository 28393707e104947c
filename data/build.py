"""Build (or verify) the course data in the data cache: what the notebooks need offline."""

import argparse

from minillm import data
from minillm.tiktoken_bridge import gpt2_ranks, gpt2_ranks_path


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rebuild", action="store_true", help="build the corpus again even if cached")
    args = parser.parse_args()
    corpus = data.shakespeare(rebuild=args.rebuild)
    print(corpus)
    print(f"cached in {data.data_dir() / 'shakespeare'}")
    print(f"GPT-2's vocabulary: {len(gpt2_ranks()):,} tokens, cached in {gpt2_ranks_path()}")


if __name__ == "__main__":
    main()
