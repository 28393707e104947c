"""Result files: saved and loaded unchanged, damage reported with the file and the command that remakes it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from minillm import results
from minillm.results import Result, ResultError

ROOT = Path(__file__).resolve().parent.parent


def _result(**changes) -> Result:
    fields = dict(name="bench", values={"val_loss": 1.2345, "steps": 10, "preset": "cpu", "curve": [2.5, 1.75]},
                  produced_by="python benchmarks/bench.py --save-result bench", hardware="CPU (x86_64, 2 cores)",
                  date="2026-11-28", notes="a test")
    return Result(**{**fields, **changes})


def test_a_result_comes_back_as_it_was_saved(tmp_path):
    path = results.save(_result(), tmp_path)
    assert path == tmp_path / "bench.json"
    assert results.load("bench", tmp_path) == _result()
    assert json.loads(path.read_text())["produced_by"] == "python benchmarks/bench.py --save-result bench"
    assert [p.name for p in tmp_path.iterdir()] == ["bench.json"]  # no temporary left behind


def test_the_date_defaults_to_today():
    import datetime

    r = Result("x", {"a": 1}, "cmd", "cpu")
    assert r.date == datetime.date.today().isoformat()


def test_a_missing_file_names_itself_and_the_command_that_writes_it(tmp_path):
    with pytest.raises(ResultError, match=r"gpu_preset.json is missing; regenerate it with "
                                          r"`python benchmarks/train_shakespeare_char.py --preset gpu "
                                          r"--save-result gpu_preset`"):
        results.load("gpu_preset", tmp_path)
    with pytest.raises(ResultError, match=r"other.json is missing; .*--save-result other"):
        results.load("other", tmp_path)


@pytest.mark.parametrize("text, problem", [
    ("{not json", "unreadable"),
    ("[1, 2]", "not a JSON object"),
    ('{"name": "bench", "values": {"a": 1}}', "lacks date, hardware, produced_by"),
    ('{"name": "bench", "values": {"a": 1}, "produced_by": "c", "hardware": "h", "date": "2026-11-28", "x": 1}',
     "unknown fields x"),
    ('{"name": "bench", "values": {}, "produced_by": "c", "hardware": "h", "date": "2026-11-28"}', "'values'"),
    ('{"name": "bench", "values": {"a": ["x"]}, "produced_by": "c", "hardware": "h", "date": "2026-11-28"}', "'values'"),
    ('{"name": "bench", "values": {"a": []}, "produced_by": "c", "hardware": "h", "date": "2026-11-28"}', "'values'"),
    ('{"name": "bench", "values": {"a": [1, NaN]}, "produced_by": "c", "hardware": "h", "date": "2026-11-28"}',
     "finite"),
    ('{"name": "bench", "values": {"a": true}, "produced_by": "c", "hardware": "h", "date": "2026-11-28"}',
     "'values'"),
    ('{"name": "bench", "values": {"a": 1}, "produced_by": "", "hardware": "h", "date": "2026-11-28"}',
     "'produced_by'"),
    ('{"name": "bench", "values": {"a": 1}, "produced_by": "c", "hardware": "h", "date": "yesterday"}', "'date'"),
    ('{"name": "other", "values": {"a": 1}, "produced_by": "c", "hardware": "h", "date": "2026-11-28"}',
     "holds the result 'other'"),
])
def test_a_damaged_file_is_a_clear_error(tmp_path, text, problem):
    (tmp_path / "bench.json").write_text(text)
    with pytest.raises(ResultError) as e:
        results.load("bench", tmp_path)
    message = str(e.value)
    assert str(tmp_path / "bench.json") in message and problem in message
    assert "git checkout -- minillm/results/bench.json" in message


def test_a_damaged_file_names_the_command_it_records(tmp_path):
    (tmp_path / "bench.json").write_text('{"name": "bench", "values": {}, "produced_by": "python make.py", '
                                         '"hardware": "h", "date": "2026-11-28"}')
    with pytest.raises(ResultError, match="regenerate it with `python make.py`"):
        results.load("bench", tmp_path)


@pytest.mark.parametrize("changes", [dict(name="Bad Name"), dict(values={"x": float("nan")}), dict(hardware=" "),
                                     dict(date="28.11.2026")])
def test_save_refuses_what_load_would_refuse(tmp_path, changes):
    with pytest.raises(ResultError):
        results.save(_result(**changes), tmp_path)
    assert not list(tmp_path.iterdir())


def test_the_committed_results_load_and_are_remade_by_their_producer():
    committed = sorted((ROOT / "minillm" / "results").glob("*.json"))
    assert [p.stem for p in committed] == sorted(results.PRODUCERS)
    for path in committed:
        r = results.load(path.stem)
        assert r.produced_by == results.PRODUCERS[path.stem]
    gpu = results.load("gpu_preset")
    assert gpu.values["val_loss"] == 1.28 and gpu.hardware == "NVIDIA H200" and gpu.date == "2026-11-27"


def test_the_benchmark_refuses_a_bad_result_name():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "benchmarks/train_shakespeare_char.py", "--save-result", "../x"],
                         cwd=ROOT, capture_output=True, text=True, env=env)
    assert run.returncode == 2 and "--save-result '../x'" in run.stderr
