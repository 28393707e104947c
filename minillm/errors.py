"""The errors minillm raises on bad input.

Each message says what was wrong and what to do about it. They all derive from
`MinillmError`, so the command line can print them as one line instead of a
traceback, and they also derive from the built-in exception a Python
programmer would expect (`ValueError`, `FileNotFoundError`), so ordinary
`except ValueError:` code keeps working.
"""


class MinillmError(Exception):
    """Base class for every error minillm raises on purpose."""


class ConfigError(MinillmError, ValueError):
    """A model or training setting that is unknown or impossible."""


class DataError(MinillmError, ValueError):
    """A corpus that is missing, empty or could not be built."""


class TokenizerError(MinillmError, ValueError):
    """Text or token ids the tokenizer cannot handle, or a bad tokenizer file."""


class CheckpointError(MinillmError, ValueError):
    """A checkpoint that is missing, corrupted, or from another configuration."""


class TrainingError(MinillmError, RuntimeError):
    """Training that cannot go on, e.g. because the loss became nan or infinite."""


class InUseError(MinillmError, RuntimeError):
    """A file (a run's checkpoint) that another process is using right now."""


class MissingPackageError(MinillmError, ImportError):
    """An optional package that one feature needs (e.g. huggingface_hub to download GPT-2) is not installed."""
