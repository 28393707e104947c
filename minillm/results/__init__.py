"""Measurements kept in git: minillm/results/<name>.json, for numbers too slow or too GPU-bound to redo on every build.

A figure may show a number that took a GPU two minutes to measure (the GPU
preset's validation loss) or a CPU hours. Redoing that on every slide build
is not possible on a laptop, so the command that measures it saves the
numbers once, with how they were made, and the file is committed:

    {
     "name": "gpu_preset",
     "values": {"val_loss": 1.28, "train_seconds": 140, ...},
     "produced_by": "python benchmarks/train_shakespeare_char.py --preset gpu --save-result gpu_preset",
     "date": "2026-11-27",
     "hardware": "NVIDIA H200",
     "notes": "what a reader should know: rounding, settings, caveats"
    }

Reading one, e.g. in a deck figure:

    gpu = results.load("gpu_preset")                  # or src.result("gpu_preset") in a recipe
    ax.axhline(gpu.values["val_loss"], ls="--", label=f"GPU preset ({gpu.hardware})")

In a deck recipe, prefer `src.result(name)` (minillm.plots.sources): the
figure cache hashes the result files, so a new measurement redraws the figure.
A missing or damaged file raises ResultError naming the file and the command
that writes it again.

Writing one: `save(Result(name, values, produced_by, hardware))` writes
atomically (minillm.io); a benchmark offers it as `--save-result NAME`
(benchmarks/train_shakespeare_char.py). Add the new name and its command to
PRODUCERS, so that a missing file can say how to make it.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
import platform
import re
from pathlib import Path

from ..errors import MinillmError
from ..io import atomic_write

# Every committed result and the command that measures it again.
PRODUCERS = {
    "gpu_preset": "python benchmarks/train_shakespeare_char.py --preset gpu --save-result gpu_preset",
    "cpu_preset": "python benchmarks/train_shakespeare_char.py --save-result cpu_preset",
    "ablation_cpu": "python benchmarks/ablation.py --save-result ablation_cpu",
    "ngram_crossover_cpu": "python benchmarks/ngram_crossover.py --preset cpu --max-iters 10000 --eval-every 500 "
                           "--save-result ngram_crossover_cpu",
    "curation_payoff": "python benchmarks/curation_payoff.py --save-result curation_payoff",
    "attention_h100": "python benchmarks/attention.py --repeats 5 --save-result attention_h100",  # on an H100
}

NAME = re.compile(r"[a-z0-9][a-z0-9_]*")  # file names that read the same everywhere: gpu_preset, bpe_timing_2


class ResultError(MinillmError, ValueError):
    """A result file that is missing, unreadable or malformed."""


@dataclasses.dataclass(frozen=True)
class Result:
    """One measurement: named values plus how, when and where they were made."""

    name: str                       # the file is minillm/results/<name>.json
    values: dict[str, float | int | str | list]  # e.g. {"val_loss": 1.28, "steps": 5000, "curve": [2.1, 1.9]}
    produced_by: str                # the command that measures and writes it again
    hardware: str                   # e.g. "NVIDIA H200", or machine() of the run
    date: str = dataclasses.field(default_factory=lambda: datetime.date.today().isoformat())  # YYYY-MM-DD
    notes: str = ""                 # rounding, caveats, anything a reader of the figure should know


def results_dir(directory: str | os.PathLike | None = None) -> Path:
    """`directory`, or minillm/results/ itself: the files ship inside the package, so Colab has them too."""
    return Path(directory) if directory is not None else Path(__file__).resolve().parent


def _how_to_regenerate(name: str, produced_by: object = None) -> str:
    command = produced_by if isinstance(produced_by, str) and produced_by else PRODUCERS.get(name)
    if command:
        return (f"regenerate it with `{command}`, or restore the committed copy with "
                f"`git checkout -- minillm/results/{name}.json`")
    return (f"restore the committed copy with `git checkout -- minillm/results/{name}.json`, or rerun the measurement "
            f"with `--save-result {name}`")


def _check(result: Result, where: str) -> None:
    """ResultError unless every field has the type and form the file format promises."""
    def bad(field: str, why: str) -> ResultError:
        return ResultError(f"{where}: field {field!r} {why}; {_how_to_regenerate(result.name, result.produced_by)}")

    if not isinstance(result.name, str) or not NAME.fullmatch(result.name):
        raise bad("name", f"must be lower-case letters, digits and _ (got {result.name!r})")
    if not isinstance(result.values, dict) or not result.values:
        raise bad("values", "must be a non-empty mapping of names to numbers or strings")
    for key, value in result.values.items():
        items = value if isinstance(value, list) and value else [value]  # a curve: a list of numbers
        if not isinstance(key, str) or not all(_plain(v, strings=not isinstance(value, list)) for v in items):
            raise bad("values", f"has {key!r}: {value!r:.80}; values must be numbers, strings or lists of numbers")
        if any(isinstance(v, float) and not math.isfinite(v) for v in items):
            raise bad("values", f"has {key!r}: {value!r:.80}; values must be finite")
    for field in ("produced_by", "hardware"):
        if not isinstance(getattr(result, field), str) or not getattr(result, field).strip():
            raise bad(field, "must be a non-empty string")
    try:
        datetime.date.fromisoformat(result.date)
    except (TypeError, ValueError):
        raise bad("date", f"must be a date as YYYY-MM-DD (got {result.date!r})") from None
    if not isinstance(result.notes, str):
        raise bad("notes", "must be a string")


def _plain(value: object, strings: bool) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float, str) if strings else (int, float))


def save(result: Result, directory: str | os.PathLike | None = None) -> Path:
    """Write minillm/results/<name>.json atomically; returns its path."""
    path = results_dir(directory) / f"{result.name}.json"
    _check(result, str(path))
    with atomic_write(path, "w") as f:
        f.write(json.dumps(dataclasses.asdict(result), indent=1, ensure_ascii=False) + "\n")
    return path


def load(name: str, directory: str | os.PathLike | None = None) -> Result:
    """Read minillm/results/<name>.json; ResultError naming the file and how to make it again if that fails."""
    path = results_dir(directory) / f"{name}.json"
    if not path.is_file():
        raise ResultError(f"{path} is missing; {_how_to_regenerate(name)}")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ResultError(f"{path} is unreadable ({type(e).__name__}: {e}); {_how_to_regenerate(name)}") from None
    if not isinstance(raw, dict):
        raise ResultError(f"{path} is not a JSON object; {_how_to_regenerate(name)}")
    fields = {f.name for f in dataclasses.fields(Result)}
    missing, unknown = {"name", "values", "produced_by", "hardware", "date"} - set(raw), set(raw) - fields
    if missing or unknown:
        what = "lacks " + ", ".join(sorted(missing)) if missing else "has unknown fields " + ", ".join(sorted(unknown))
        raise ResultError(f"{path} {what}; {_how_to_regenerate(name, raw.get('produced_by'))}")
    result = Result(**raw)
    _check(result, str(path))
    if result.name != name:
        raise ResultError(f"{path} holds the result {result.name!r}, not {name!r}; {_how_to_regenerate(name)}")
    return result


def machine() -> str:
    """This machine in a few words, for `Result.hardware`: the GPU's name, else the CPU's architecture and cores."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name()
    return f"CPU ({platform.machine() or 'unknown architecture'}, {os.cpu_count()} cores)"
