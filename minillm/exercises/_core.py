"""The checker machinery every module's exercises share.

`run_cases` runs a list of labelled `Case`s against a student's function and
turns whatever goes wrong into one AssertionError that names the case: a
`Mismatch` raised by the case (a wrong answer, with a hint), an exception
raised by the student's code, or a stub that still raises NotImplementedError.
The helpers below build inputs and print answers briefly in failure messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch


class Mismatch(Exception):
    """Raised by a case when the student's answer is wrong; the message is the hint."""


class _NotImplemented(Exception):
    """The student's function raised NotImplementedError (the stub is still there)."""


class _StudentRaised(Exception):
    """The student's function raised something else; __cause__ holds it."""


@dataclass(frozen=True)
class Case:
    label: str                                # names the case in failure messages, e.g. "a repeated token"
    run: Callable[[Callable[..., Any]], None]  # run(call): call the function, raise Mismatch if wrong


def run_cases(checker: str, fn: Callable, cases: list[Case]) -> None:
    """Run every case against `fn`; print one line if all pass, else raise AssertionError."""
    if not callable(fn):
        raise AssertionError(f"{checker} needs the function itself, not {fn!r:.40}; "
                             f"pass it without calling it, e.g. {checker}(my_function)")
    name = getattr(fn, "__name__", "your function")

    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except NotImplementedError:
            raise _NotImplemented from None
        except Exception as e:
            raise _StudentRaised from e

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        for i, case in enumerate(cases, 1):
            where = f"{checker} failed on case {i} of {len(cases)} ({case.label})"
            try:
                case.run(call)
            except _NotImplemented:
                raise AssertionError(
                    f"{checker}: `{name}` is not implemented yet: fill in the cell marked "
                    f"`raise NotImplementedError(\"exercise: ...\")` that defines `{name}`, "
                    "run that cell, then run this check again") from None
            except _StudentRaised as e:
                err = e.__cause__
                raise AssertionError(f"{where}: `{name}` raised {type(err).__name__}: {err}") from err
            except Mismatch as e:
                raise AssertionError(f"{where}: {e}") from None
    print(f"✓ {checker}: {len(cases)} cases passed")


# ----------------------------------------------------------------------------
# helpers for writing cases

def _show(x: Any, limit: int = 12) -> str:
    """A short printable form of a list or tensor: _show(list(range(20)), 3) -> '[0, 1, 2, ...] (20 items)'"""
    if isinstance(x, torch.Tensor):
        x = x.tolist()
    if isinstance(x, (list, tuple)) and len(x) > limit:
        return f"[{', '.join(map(str, x[:limit]))}, ...] ({len(x)} items)"
    return repr(list(x) if isinstance(x, tuple) else x)


def _probs(p: torch.Tensor) -> str:
    """_probs(torch.tensor([0.8650, 0.1171])) -> '[0.865, 0.117]'"""
    return "[" + ", ".join(f"{v:.3f}" for v in p.tolist()) + "]"


def _as_tensor(value: Any, what: str) -> torch.Tensor:
    """The student's answer as a tensor, or a Mismatch saying what was expected instead."""
    try:
        return torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError):
        raise Mismatch(f"expected {what}, got a {type(value).__name__}: {value!r:.80}") from None


def _random_ids(n: int, vocab_size: int, seed: int) -> torch.Tensor:
    return torch.randint(vocab_size, (n,), generator=torch.Generator().manual_seed(seed))


def _random_logits(rows: int, vocab_size: int, seed: int, scale: float = 2.0) -> torch.Tensor:
    return scale * torch.randn(rows, vocab_size, generator=torch.Generator().manual_seed(seed))
