"""Config dataclasses built from dicts and flags, with typos caught.

`GPTConfig` and `TrainConfig` are plain dataclasses. When they come from
outside (a checkpoint, a JSON file, a notebook's `**overrides`), an unknown key
should stop the run with a suggestion, not be silently dropped.
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any, TypeVar

from .errors import ConfigError

C = TypeVar("C")


def check_keys(cls: type, keys) -> None:
    """Raise ConfigError naming the first key that is not a field of `cls`.

    >>> check_keys(GPTConfig, ["n_layers"])
    ConfigError: unknown GPTConfig key 'n_layers' (did you mean 'n_layer'?) ...
    """
    fields = [f.name for f in dataclasses.fields(cls)]
    for key in keys:
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"unknown {cls.__name__} key {key!r}{hint}; valid keys: {', '.join(fields)}")


def from_dict(cls: type[C], d: dict[str, Any]) -> C:
    """Build the dataclass `cls` from `d`, rejecting unknown keys."""
    check_keys(cls, d)
    return cls(**d)


def replace(config: C, **changes: Any) -> C:
    """`dataclasses.replace` that names unknown keys clearly."""
    check_keys(type(config), changes)
    return dataclasses.replace(config, **changes)
