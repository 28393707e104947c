"""Files that survive crashes: atomic writes, leftovers cleaned up, one writer at a time.

Every file minillm writes (corpora, tokenizers, checkpoints) goes through
`atomic_write`: the data lands in a temporary file in the same directory and is
then renamed over the target. `os.replace` is atomic on POSIX and Windows, so a
crash or Ctrl-C mid-write leaves either the old file or the new one, never a
truncated mix.

Three details make that hold up in practice:
- Ctrl-C (SIGINT) and SIGTERM arriving during a write are held back until the
  file is complete (`deferred_signals`): an interrupt landing inside
  `torch.save` would otherwise leave a half-written zip that the library
  then trips over.
- A process killed outright (SIGKILL, a power cut) can't clean up, so
  temporary names carry the writer's process id, and the next write to the
  same place removes temporaries whose process no longer runs
  (`remove_stale`).
- `exclusive(path)` lets only one process at a time own a file such as a
  training run's checkpoint, and names the holder to anyone else who tries.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import shutil
import signal
import socket
import tempfile
import threading
from pathlib import Path

from .errors import InUseError

try:
    import fcntl  # POSIX file locks
except ImportError:  # Windows: exclusive() then locks nothing
    fcntl = None

# ----------------------------------------------------------------------------
# interrupts


@contextlib.contextmanager
def deferred_signals(signums=(signal.SIGINT, signal.SIGTERM)):
    """Hold back the given signals until the block ends, then deliver them.

    Only the main thread can install signal handlers; elsewhere this does
    nothing (signals are delivered to the main thread anyway).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {s: signal.signal(s, lambda signum, frame: received.append(signum)) for s in signums}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, signal.SIG_DFL if handler is None else handler)  # None: set outside Python
        for s in dict.fromkeys(received):
            signal.raise_signal(s)  # now handled as usual: KeyboardInterrupt, or the program's handler


# ----------------------------------------------------------------------------
# temporaries and atomic writes

def _alive(pid: int) -> bool:
    """Is process `pid` running? (Assumed so where it can't be checked.)"""
    if os.name != "posix":
        return True  # subtle: os.kill(pid, 0) on Windows sends Ctrl-C instead of probing
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it runs, as another user
        return True
    return True


def temp_prefix(target: str | os.PathLike) -> str:
    """The name prefix of this process's temporaries for `target`: ".NAME.PID."."""
    return f".{Path(target).name}.{os.getpid()}."


def remove_stale(target: str | os.PathLike) -> list[Path]:
    """Delete temporaries for `target` left by processes that no longer run; returns them."""
    target = Path(target)
    removed = []
    for p in target.parent.glob(f".{target.name}.*"):
        pid = p.name[len(target.name) + 2:].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
                removed.append(p)
    return removed


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb"):
    """Open a temporary file for writing; rename it to `path` on success.

    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     with atomic_write(pathlib.Path(d) / "out.txt", "w") as f:
    ...         _ = f.write("hello")
    ...     print(sorted(p.name for p in pathlib.Path(d).iterdir()))
    ['out.txt']
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path)
    with deferred_signals():
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=temp_prefix(path), suffix=".tmp")
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


# ----------------------------------------------------------------------------
# one owner at a time

_held: set[Path] = set()  # locks this process holds


@contextlib.contextmanager
def exclusive(path: str | os.PathLike, what: str = "training"):
    """Hold a lock on `path` for the block; raise InUseError if another process has it.

    The lock is the POSIX `flock` of a file `.NAME.lock` beside `path`,
    holding who took it. The operating system releases it when the holder
    exits, however it exits, so a crash never leaves a stale lock.
    """
    path = Path(path)
    lock_path = path.parent.resolve() / f".{path.name}.lock"
    if fcntl is None or lock_path in _held:  # subtle: a second flock by this process would lock itself out
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            raise InUseError(f"{path} is in use by another {what} ({holder}); wait for it to finish, "
                             f"or write to another folder") from None
        except OSError as e:  # a file system without locks (some network and FUSE mounts)
            print(f"note: can't lock {lock_path} ({e.strerror}); a second {what} there would go unnoticed")
            yield
            return
        f.seek(0)
        f.truncate()
        since = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        f.write(f"pid {os.getpid()} on {socket.gethostname()}, since {since}")
        f.flush()
        _held.add(lock_path)
        try:
            yield
        finally:
            _held.discard(lock_path)
            fcntl.flock(f, fcntl.LOCK_UN)
