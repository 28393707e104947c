import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import run_notebook  # noqa: E402


def _notebook(path, *cells):
    nb = {"cells": [{"cell_type": "markdown", "source": ["# a title"]}]
          + [{"cell_type": "code", "source": cell.splitlines(keepends=True)} for cell in cells],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb))
    return path


def test_notebook_runner_skips_magics_and_shares_one_namespace(tmp_path, capsys):
    nb = _notebook(tmp_path / "nb.ipynb",
                   'import sys\nif "google.colab" in sys.modules:\n    %pip install -q minillm\n!echo hi',
                   "x = 41",
                   "x += 1\nassert x == 42")
    assert run_notebook.code_cells(nb)[0].splitlines()[-2:] == ["    pass", "pass"]
    assert run_notebook.run(str(nb)) >= 0
    assert "[cell 3:" in capsys.readouterr().out


def test_notebook_runner_names_the_failing_cell(tmp_path):
    nb = _notebook(tmp_path / "nb.ipynb", "x = 1", "raise ValueError('broken')")
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "run_notebook.py"), str(nb)],
                         capture_output=True, text=True)
    assert out.returncode == 1 and "FAILED in code cell 2" in out.stderr and "broken" in out.stderr


def test_notebook_runner_stands_in_for_ipython(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "IPython", None)  # as on a machine without IPython
    monkeypatch.setitem(sys.modules, "IPython.display", None)
    nb = _notebook(tmp_path / "nb.ipynb", "from IPython.display import HTML, display\n"
                                          "handle = display(HTML('<b>x</b>'), display_id=True)\nhandle.update(1)",
                   "from minillm import plots\nplots.plot_shift_by_one('to be')")  # matplotlib asks IPython too
    run_notebook.run(str(nb))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the lane's behaviour without a GPU")
def test_gpu_check_without_a_gpu_reports_and_exits_0(tmp_path):
    out = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_check.sh"), str(tmp_path / "report")],
                         capture_output=True, text=True, env=_env())
    report = (tmp_path / "report" / "report.md").read_text()
    assert out.returncode == 0, out.stdout + out.stderr
    assert "GPU: none" in report and "No CUDA GPU here" in report and "| gpu_tests | pass |" in report
    assert "skipped" in (tmp_path / "report" / "gpu_tests.log").read_text()


def _env():
    return {**os.environ, "PYTHON": sys.executable}  # this interpreter, as `python3` is on the GPU machine
