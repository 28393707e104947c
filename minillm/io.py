"""Atomic file writes: a reader never sees half a file.

Every file minillm writes (corpora, tokenizers, checkpoints) goes through
`atomic_write`: the data lands in a temporary file in the same directory and is
then renamed over the target. `os.replace` is atomic on POSIX and Windows, so a
crash or Ctrl-C mid-write leaves either the old file or the new one, never a
truncated mix.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb"):
    """Open a temporary file for writing; rename it to `path` on success.

    >>> with atomic_write("out.txt", "w") as f:
    ...     f.write("hello")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates files private to the user
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` atomically, as UTF-8."""
    with atomic_write(path, "w") as f:
        f.write(text)
