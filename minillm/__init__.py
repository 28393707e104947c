"""minillm: build, train, align and serve a small language model from scratch.

One module per course concept; see README.md for the map. The names below
are the ones a notebook reaches for first.
"""

__version__ = "0.1.0"

from .errors import CheckpointError, ConfigError, DataError, MinillmError, TokenizerError
from .bpe import BPETokenizer
from .model import GPT, GPTConfig
from .tokenizer import CharTokenizer, load_tokenizer
from .train import PRESETS, TrainConfig, train

__all__ = ["GPT", "GPTConfig", "CharTokenizer", "BPETokenizer", "load_tokenizer", "TrainConfig", "PRESETS", "train",
           "MinillmError", "ConfigError", "DataError", "TokenizerError", "CheckpointError"]
