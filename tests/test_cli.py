import os
import re
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

from minillm.checkpoint import load_model
from minillm.cli import _interrupted_note, main
from minillm.errors import CheckpointError

POEM = "Shall I compare thee to a summer's day?\nThou art more lovely.<|endoftext|>\n" * 20
TINY = ["--max-iters", "6", "--eval-interval", "3", "--eval-iters", "1", "--n-layer", "1", "--n-embd", "16",
        "--n-head", "2", "--block-size", "16", "--batch-size", "2", "--device", "cpu", "--threads", "1",
        "--no-progress"]


@pytest.fixture
def poem(tmp_path, monkeypatch):
    monkeypatch.setenv("MINILLM_DATA_DIR", str(tmp_path / "data"))  # the cached token arrays go here
    corpus = tmp_path / "poem.txt"
    # BPE reads <|endoftext|> as a document separator, the character tokenizer as characters
    corpus.write_text(POEM)
    return corpus


@pytest.fixture
def trained(poem, tmp_path):
    """A tiny character-level run: its folder."""
    out = tmp_path / "run"
    assert main(["train", "--corpus", str(poem), "--out-dir", str(out), "--samples", "0", *TINY]) == 0
    return out


def test_help_explains_every_flag_with_the_presets_values():
    out = subprocess.run([sys.executable, "-m", "minillm", "train", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for flag in ("--preset", "--corpus", "--out-dir", "--resume", "--max-iters", "--n-layer", "--lr",
                 "--lr-decay-iters", "--threads", "--debug"):
        assert flag in out.stdout
    text = " ".join(out.stdout.split())  # argparse wraps lines
    assert "(cpu preset: 4, gpu preset: 6)" in text and "(default: None)" not in text


@pytest.mark.parametrize("tokenizer", [["--tokenizer", "char"], ["--tokenizer", "bpe", "--vocab-size", "300"]])
def test_train_then_sample_on_a_text_file(tokenizer, poem, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", *tokenizer, "--corpus", str(poem), "--out-dir", str(out), "--samples", "1", *TINY]
    assert main(args) == 0
    assert (out / "ckpt.pt").is_file()
    assert main(args + ["--resume", "--max-iters", "8"]) == 0
    assert main(["sample", "--checkpoint", str(out / "ckpt.pt"), "--prompt", "Thou", "--num-samples", "2",
                 "--max-new-tokens", "10", "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("--- sample") == 1 + 1 + 2 and "checkpoint:" in printed
    assert "resuming at step 6 of 8" in printed
    assert {"char": "tokenizer: CharTokenizer(", "bpe": "tokenizer: BPETokenizer("}[tokenizer[1]] in printed
    assert len(list((tmp_path / "data" / "tokens").glob(f"{tokenizer[1]}-*.npy"))) == 2  # train and val ids
    model, tok = load_model(out / "ckpt.pt")
    assert tok.kind == tokenizer[1] and model.config.vocab_size == tok.vocab_size


def test_a_bpe_prompt_may_start_a_new_document(poem, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--tokenizer", "bpe", "--vocab-size", "300", "--corpus", str(poem), "--out-dir", str(out),
                 "--samples", "0", *TINY]) == 0
    assert main(["sample", "--checkpoint", str(out / "ckpt.pt"), "--prompt", "<|endoftext|>Shall",
                 "--num-samples", "1", "--max-new-tokens", "5", "--device", "cpu"]) == 0


def _one_line_error(capsys, message):
    err = capsys.readouterr().err
    assert message in err and err.startswith("error: ") and err.count("\n") == 1, err


@pytest.mark.parametrize("args, message", [
    (["train", "--n-head", "3"], "not divisible by n_head"),
    (["train", "--device", "foo"], "unknown device 'foo'"),
    (["train", "--device", "meta"], "minillm runs on cpu, cuda or mps"),
    (["train", "--vocab-size", "500"], "--vocab-size sets the size of a BPE vocabulary"),
    (["train", "--dtype", "float16", "--device", "cpu"], "float16 training needs a CUDA GPU"),
])
def test_usage_errors_exit_2_with_one_line(args, message, capsys):
    assert main(args) == 2
    _one_line_error(capsys, message)


def test_out_dir_that_is_a_file(tmp_path, capsys):
    (tmp_path / "taken").write_text("x")
    assert main(["train", "--out-dir", str(tmp_path / "taken")]) == 2
    _one_line_error(capsys, "is a file; give the name of a folder")


@pytest.mark.parametrize("args, message", [
    (["train", "--max-iters", "0"], "--max-iters: a positive integer expected, got '0'"),
    (["train", "--lr", "nan"], "--lr: a positive number expected, got 'nan'"),
    (["train", "--samples", "-1"], "--samples: an integer >= 0 expected"),
    (["train", "--tokenizer", "bpe", "--vocab-size", "100"], "--vocab-size: a vocabulary size of at least 257"),
    (["train", "--warmup-iters", "-1"], "--warmup-iters: an integer >= 0 expected"),
    (["train", "--weight-decay", "-0.1"], "--weight-decay: a number >= 0 expected"),
    (["sample", "--num-samples", "0"], "--num-samples: a positive integer expected"),
    (["sample", "--max-new-tokens", "-5"], "--max-new-tokens: a positive integer expected"),
    (["sample", "--temperature", "nan"], "--temperature: a number >= 0 expected, got 'nan'"),
    (["sample", "--temperature", "-1"], "--temperature: a number >= 0 expected"),
    (["sample", "--top-k", "0"], "--top-k: a positive integer expected"),
])
def test_bad_flag_values_are_usage_errors(args, message, capsys):
    with pytest.raises(SystemExit) as stop:
        main(args)
    assert stop.value.code == 2 and message in capsys.readouterr().err


def test_top_p_above_one_is_a_usage_error(trained, capsys):
    assert main(["sample", "--checkpoint", str(trained / "ckpt.pt"), "--top-p", "1.5", "--device", "cpu"]) == 2
    _one_line_error(capsys, "top_p must lie in (0, 1]")


@pytest.mark.parametrize("args, message", [
    (["sample", "--checkpoint", "nowhere/ckpt.pt"], "no checkpoint at"),
    (["train", "--corpus", "missing.txt"], "no corpus file"),
    (["train", "--resume", "--out-dir", "nowhere"], "--resume: no checkpoint at"),
])
def test_bad_files_exit_1_with_one_line(args, message, capsys):
    assert main(args) == 1
    _one_line_error(capsys, message)


@pytest.mark.parametrize("keep", [5_000, 20_000, 60_000])
def test_a_cut_short_checkpoint(keep, trained, tmp_path, capsys):
    cut = tmp_path / "cut.pt"
    cut.write_bytes((trained / "ckpt.pt").read_bytes()[:keep])
    assert main(["sample", "--checkpoint", str(cut)]) == 1
    _one_line_error(capsys, "is truncated or corrupted")


def test_resume_on_another_corpus_is_refused(trained, tmp_path, capsys):
    other = tmp_path / "other.txt"
    other.write_text(POEM[::-1])  # the same characters, another text
    assert main(["train", "--corpus", str(other), "--out-dir", str(trained), "--resume", *TINY[:-1],
                 "--max-iters", "9"]) == 1
    err = capsys.readouterr().err
    assert "trained on other data" in err or "another tokenizer" in err


def test_debug_shows_the_traceback(monkeypatch):
    with pytest.raises(CheckpointError):
        main(["sample", "--checkpoint", "nowhere.pt", "--debug"])
    monkeypatch.setenv("MINILLM_DEBUG", "1")
    with pytest.raises(CheckpointError):
        main(["sample", "--checkpoint", "nowhere.pt"])


def test_the_gpu_preset_on_a_cpu_says_so(poem, tmp_path, capsys):
    assert main(["train", "--preset", "gpu", "--corpus", str(poem), "--out-dir", str(tmp_path / "r"),
                 "--samples", "0", *TINY]) == 0
    assert "the gpu preset on a machine without a GPU takes hours" in capsys.readouterr().out


def test_interrupted_note_says_what_survived(trained, tmp_path):
    assert "before any checkpoint" in _interrupted_note(SimpleNamespace(command="train", out_dir=tmp_path / "new"))
    note = _interrupted_note(SimpleNamespace(command="train", out_dir=trained))
    assert "at step 6, is intact: continue it with --resume" in note


def test_sigterm_stops_training_cleanly(poem, tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "MINILLM_DATA_DIR": str(tmp_path / "data"), "TQDM_DISABLE": "1"}
    args = ["train", "--corpus", str(poem), "--out-dir", str(out), *TINY, "--max-iters", "100000",
            "--eval-interval", "20"]
    proc = subprocess.Popen([sys.executable, "-m", "minillm", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not (out / "ckpt.pt").exists() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # well into training, with checkpoints being written every 20 steps
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "is intact: continue it with --resume" in err, err
    assert sorted(p.name for p in out.iterdir()) == [".ckpt.pt.lock", "ckpt.pt"]
    load_model(out / "ckpt.pt")


def test_unknown_flag_is_rejected():
    out = subprocess.run([sys.executable, "-m", "minillm", "train", "--layers", "3"], capture_output=True, text=True)
    assert out.returncode == 2 and "unrecognized arguments: --layers" in out.stderr


def test_a_run_folder_that_cannot_be_made_is_one_line(poem, tmp_path, capsys):
    (tmp_path / "a_file").write_text("x")
    assert main(["train", "--corpus", str(poem), "--out-dir", str(tmp_path / "a_file" / "run"), *TINY]) == 1
    _one_line_error(capsys, "Not a directory")


def test_data_command_curates_and_writes_shards(tmp_path, capsys):
    pytest.importorskip("faker")
    from minillm.curation.shards import load_shards
    from minillm.tokenizer import load_tokenizer

    assert main(["data", "--out-dir", str(tmp_path / "cur"), "--size-mb", "1", "--token-budget", "20000",
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "filters" in out and "good pages" in out and "tokens in 1 shard(s)" in out
    tok = load_tokenizer(tmp_path / "cur" / "tokenizer.json")
    assert len(load_shards(tmp_path / "cur", tok)) >= 20000
    assert main(["data", "--out-dir", str(tmp_path / "raw"), "--raw", "--size-mb", "1", "--token-budget", "1000",
                 "--no-progress"]) == 0
    assert "filters" not in capsys.readouterr().out


def test_data_command_curates_a_folder_of_text_files(tmp_path, capsys):
    pytest.importorskip("faker")
    from minillm.curation.crawl import make_crawl

    folder = tmp_path / "pages"
    for p in make_crawl(1.0, seed=4, progress=False):
        (folder / p.source).mkdir(parents=True, exist_ok=True)
        (folder / p.source / f"{p.id}.txt").write_text(p.text, encoding="utf-8")
    (folder / "logo.txt").write_bytes(b"\x89PNG\0\0")
    (folder / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    assert main(["data", "--folder", str(folder), "--out-dir", str(tmp_path / "out"), "--tokenizer", "bpe",
                 "--vocab-size", "300", "--token-budget", "5000", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "skipped 1 not UTF-8, 1 binary (a NUL byte)" in out
    assert re.search(r"^filters .* pages, .* MB, +\d+\.\d\dM -> +\d+\.\d\dM tokens; by rule: ", out, re.M)
    assert "good pages" not in out and "tokens in 1 shard(s)" in out

    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "menu.txt").write_text("Home | Products | Login")
    assert main(["data", "--folder", str(tmp_path / "junk"), "--out-dir", str(tmp_path / "none"), "--no-progress"]) == 1
    _one_line_error(capsys, "curation dropped all 1 pages")
    assert main(["data", "--folder", str(tmp_path / "nothing"), "--no-progress"]) == 1
    _one_line_error(capsys, "is not a folder")
