"""The bridge to tiktoken, OpenAI's production BPE, and GPT-2's vocabulary.

tiktoken describes a byte-level BPE by its "mergeable ranks": every token's
bytes mapped to its id, where a lower id was learned earlier. That is the same
information as minillm's merge list, arranged differently:

    minillm merges  [(left, right), ...]   merge i makes token 256 + i
    tiktoken ranks  {token bytes: id}      the bytes of every token

So a minillm tokenizer exports by listing each token's bytes, and a tiktoken
vocabulary imports by recovering, for each token, which two earlier tokens
merge into it: BPE-encode the token's own bytes using only the tokens ranked
below it, and the two pieces left over are its merge. With the merges back,
students can step through GPT-2's 50,000 merges in minillm's pure-Python
encoder, which gives exactly tiktoken's ids.

GPT-2's vocabulary (r50k_base, 50,257 tokens) must load without internet
access to openaipublic.blob.core.windows.net, where tiktoken downloads it
from. It is tried in order: minillm's cache under `data_dir()`; tiktoken's
own cache or download; the source distribution of `openai-whisper` on PyPI,
which ships the same file as `whisper/assets/gpt2.tiktoken`, fetched with
`pip download` and read straight from the archive (nothing is installed).
Every route is checked against the file's sha256.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import tiktoken

from .bpe import ENDOFTEXT, GPT2_PATTERN, BPETokenizer
from .data import data_dir
from .errors import DataError, TokenizerError
from .io import atomic_write

GPT2_RANKS_SHA256 = "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930"
GPT2_RANKS_URL = "https://openaipublic.blob.core.windows.net/encodings/r50k_base.tiktoken"
WHISPER_PACKAGE = "openai-whisper==20250625"  # any release since 20230314 ships gpt2.tiktoken
GPT2_ENDOFTEXT_ID = 50256


# ----------------------------------------------------------------------------
# minillm <-> tiktoken

def to_tiktoken(tok: BPETokenizer, name: str = "minillm-bpe") -> tiktoken.Encoding:
    """A tiktoken Encoding with the same tokens, pattern and special tokens as `tok`."""
    ranks = {token: i for i, token in enumerate(tok.vocab)}
    if len(ranks) != len(tok.vocab):
        # two different merges made the same bytes; tiktoken keys tokens by their bytes
        raise TokenizerError("this tokenizer has two tokens with the same bytes, which tiktoken can't represent")
    return tiktoken.Encoding(name=name, pat_str=tok.pattern, mergeable_ranks=ranks,
                             special_tokens=dict(tok.special_tokens))


def _bpe_with_ranks(token: bytes, ranks: dict[bytes, int], max_rank: int) -> list[bytes]:
    """Encode `token` tiktoken's way, using only tokens ranked below `max_rank`.

    Repeatedly merge the adjacent pair whose concatenation has the lowest rank.
    """
    parts = [bytes([b]) for b in token]
    while len(parts) > 1:
        best, best_rank = None, max_rank
        for i in range(len(parts) - 1):
            rank = ranks.get(parts[i] + parts[i + 1])
            if rank is not None and rank < best_rank:
                best, best_rank = i, rank
        if best is None:
            break
        parts[best: best + 2] = [parts[best] + parts[best + 1]]
    return parts


def from_tiktoken_ranks(ranks: dict[bytes, int], pattern: str, special_tokens: dict[str, int]) -> BPETokenizer:
    """A minillm BPE from tiktoken-style mergeable ranks, with the merges recovered."""
    by_id = sorted(ranks.items(), key=lambda item: item[1])
    if [i for _, i in by_id] != list(range(len(by_id))):
        raise TokenizerError("the ranks must number the tokens 0, 1, 2, ... without gaps")
    singles = [token for token, _ in by_id[:256]]
    if sorted(singles) != [bytes([b]) for b in range(256)]:
        raise TokenizerError("the first 256 ranks must be the 256 single bytes")
    byte_ids = [ranks[bytes([b])] for b in range(256)]
    merges = []
    for token, rank in by_id[256:]:
        parts = _bpe_with_ranks(token, ranks, rank)
        if len(parts) != 2:
            raise TokenizerError(f"token {rank} ({token!r}) is not the merge of two earlier tokens")
        merges.append((ranks[parts[0]], ranks[parts[1]]))
    return BPETokenizer(merges, special_tokens, pattern, byte_ids)


def from_tiktoken(enc: tiktoken.Encoding) -> BPETokenizer:
    """A minillm BPE with the same vocabulary and merges as a tiktoken Encoding."""
    ranks = {token: enc.encode_single_token(token) for token in enc.token_byte_values()}
    specials = {s: enc.encode_single_token(s) for s in enc.special_tokens_set}
    return from_tiktoken_ranks(ranks, enc._pat_str, specials)  # tiktoken has no public name for the pattern


# ----------------------------------------------------------------------------
# GPT-2's vocabulary, with no internet beyond a package index

def parse_tiktoken_file(data: bytes) -> dict[bytes, int]:
    """A .tiktoken file's "base64-token rank" lines as {token bytes: rank}."""
    ranks = {}
    for line in data.splitlines():
        if line.strip():
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def _from_tiktoken_cache() -> bytes | None:
    """The file through tiktoken's own cache or download, if that works here."""
    try:
        from tiktoken.load import read_file_cached
        return read_file_cached(GPT2_RANKS_URL, GPT2_RANKS_SHA256)
    except Exception:  # offline, a firewall, an older tiktoken: try the next route
        return None


def _from_whisper_sdist() -> bytes:
    """The file from the openai-whisper source distribution, fetched with pip."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
               "--disable-pip-version-check", "-q", WHISPER_PACKAGE, "-d", tmp]
        result = subprocess.run(cmd, capture_output=True, text=True)
        archives = sorted(Path(tmp).glob("*.tar.gz"))
        if not archives:
            last = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "no archive"
            raise DataError(f"could not download GPT-2's vocabulary: tiktoken's download failed and "
                            f"`pip download {WHISPER_PACKAGE}` failed too ({last}). Check that pip can reach "
                            f"a package index, or copy gpt2.tiktoken to {gpt2_ranks_path()}")
        try:
            with tarfile.open(archives[0]) as tar:
                member = next(m for m in tar.getmembers() if m.name.endswith("whisper/assets/gpt2.tiktoken"))
                return tar.extractfile(member).read()
        except (tarfile.TarError, StopIteration, OSError) as e:
            raise DataError(f"{archives[0].name} has no readable whisper/assets/gpt2.tiktoken ({e!r})") from e


def gpt2_ranks_path() -> Path:
    """Where minillm caches GPT-2's vocabulary file."""
    return data_dir() / "gpt2" / "gpt2.tiktoken"


def gpt2_ranks() -> dict[bytes, int]:
    """GPT-2's 50,256 mergeable ranks {token bytes: id}, fetched once and cached."""
    path = gpt2_ranks_path()
    if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == GPT2_RANKS_SHA256:
        return parse_tiktoken_file(path.read_bytes())
    data = _from_tiktoken_cache() or _from_whisper_sdist()
    digest = hashlib.sha256(data).hexdigest()
    if digest != GPT2_RANKS_SHA256:
        raise DataError(f"the GPT-2 vocabulary file has sha256 {digest}, expected {GPT2_RANKS_SHA256}")
    with atomic_write(path, "wb") as f:
        f.write(data)
    return parse_tiktoken_file(data)


def gpt2_encoding() -> tiktoken.Encoding:
    """tiktoken's GPT-2 encoding (r50k_base), built from the cached vocabulary."""
    return tiktoken.Encoding(name="gpt2", pat_str=GPT2_PATTERN, mergeable_ranks=gpt2_ranks(),
                             special_tokens={ENDOFTEXT: GPT2_ENDOFTEXT_ID}, explicit_n_vocab=50257)


def gpt2_tokenizer() -> BPETokenizer:
    """GPT-2's tokenizer as a minillm BPE: 50,000 merges to step through in pure Python."""
    return from_tiktoken_ranks(gpt2_ranks(), GPT2_PATTERN, {ENDOFTEXT: GPT2_ENDOFTEXT_ID})
