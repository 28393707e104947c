"""Build (or verify) the course corpora into the data cache."""

import argparse

from minillm import data


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rebuild", action="store_true", help="build again even if cached")
    args = parser.parse_args()
    corpus = data.shakespeare(rebuild=args.rebuild)
    print(corpus)
    print(f"cached in {data.data_dir() / 'shakespeare'}")


if __name__ == "__main__":
    main()
