"""Config dataclasses built from dicts and flags, with typos and bad values caught.

`GPTConfig` and `TrainConfig` are plain dataclasses. When they come from
outside (a checkpoint, a JSON file, a notebook's `**overrides`), an unknown key
should stop the run with a suggestion, not be silently dropped, and a value of
the wrong type (`dropout="0.1"`, `bias="no"`, `max_iters=True`) should be
named at once, not fail deep inside training.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from typing import Any, TypeVar

from .errors import ConfigError

C = TypeVar("C")


def check_keys(cls: type, keys) -> None:
    """Raise ConfigError naming the first key that is not a field of `cls`.

    >>> from minillm import GPTConfig
    >>> check_keys(GPTConfig, ["n_layers"])
    Traceback (most recent call last):
    ...
    minillm.errors.ConfigError: unknown GPTConfig key 'n_layers' (did you mean 'n_layer'?); valid keys: ...
    """
    fields = [f.name for f in dataclasses.fields(cls)]
    for key in keys:
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"unknown {cls.__name__} key {key!r}{hint}; valid keys: {', '.join(fields)}")


# What each annotation used in minillm's configs accepts. A bool is not a
# number here (True is an int in Python, but max_iters=True is a mistake), an
# int is a fine float, and a float must be finite (nan passes every `<` test).
_TYPE_CHECKS = {
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v),
    "bool": lambda v: isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
    "None": lambda v: v is None,
}


def check_types(config: Any) -> None:
    """Raise ConfigError for the first field whose value doesn't have its declared type.

    >>> from minillm import GPTConfig
    >>> GPTConfig(dropout="0.1")
    Traceback (most recent call last):
    ...
    minillm.errors.ConfigError: GPTConfig.dropout must be a float, got '0.1' (str)
    """
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        allowed = [t.strip() for t in str(f.type).split("|")]
        if not any(_TYPE_CHECKS[t](value) for t in allowed):
            kinds = " or ".join("None" if t == "None" else f"{'an' if t == 'int' else 'a'} {t}" for t in allowed)
            if "float" in allowed and isinstance(value, float):
                kinds = f"a finite {kinds[2:]}"
            raise ConfigError(f"{type(config).__name__}.{f.name} must be {kinds}, "
                              f"got {value!r} ({type(value).__name__})")


def from_dict(cls: type[C], d: dict[str, Any]) -> C:
    """Build the dataclass `cls` from `d`, rejecting unknown keys."""
    check_keys(cls, d)
    return cls(**d)


def replace(config: C, **changes: Any) -> C:
    """`dataclasses.replace` that names unknown keys clearly."""
    check_keys(type(config), changes)
    return dataclasses.replace(config, **changes)
