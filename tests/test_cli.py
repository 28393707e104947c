import subprocess
import sys

import pytest

from minillm.checkpoint import load_model
from minillm.cli import main


def test_help_explains_every_flag():
    out = subprocess.run([sys.executable, "-m", "minillm", "train", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for flag in ("--preset", "--corpus", "--out-dir", "--resume", "--max-iters", "--n-layer", "--lr"):
        assert flag in out.stdout


@pytest.mark.parametrize("tokenizer", [["--tokenizer", "char"], ["--tokenizer", "bpe", "--vocab-size", "300"]])
def test_train_then_sample_on_a_text_file(tokenizer, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MINILLM_DATA_DIR", str(tmp_path / "data"))  # the cached token arrays go here
    corpus = tmp_path / "poem.txt"
    # BPE reads <|endoftext|> as a document separator, the character tokenizer as characters
    corpus.write_text("Shall I compare thee to a summer's day?\nThou art more lovely.<|endoftext|>\n" * 20)
    out = tmp_path / "run"
    args = ["train", *tokenizer, "--corpus", str(corpus), "--out-dir", str(out), "--max-iters", "6",
            "--eval-interval", "3",
            "--eval-iters", "1", "--n-layer", "1", "--n-embd", "16", "--n-head", "2", "--block-size", "16",
            "--batch-size", "2", "--samples", "1", "--device", "cpu", "--no-progress"]
    assert main(args) == 0
    assert (out / "ckpt.pt").is_file()
    assert main(args[:-1] + ["--resume", "--max-iters", "8", "--no-progress"]) == 0
    assert main(["sample", "--checkpoint", str(out / "ckpt.pt"), "--prompt", "Thou", "--num-samples", "2",
                 "--max-new-tokens", "10", "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("--- sample") == 1 + 1 + 2 and "checkpoint:" in printed
    assert {"char": "tokenizer: CharTokenizer(", "bpe": "tokenizer: BPETokenizer("}[tokenizer[1]] in printed
    assert len(list((tmp_path / "data" / "tokens").glob(f"{tokenizer[1]}-*.npy"))) == 2  # train and val ids
    model, tok = load_model(out / "ckpt.pt")
    assert tok.kind == tokenizer[1] and model.config.vocab_size == tok.vocab_size


def test_bpe_vocab_size_below_the_bytes_is_rejected(tmp_path, capsys):
    corpus = tmp_path / "poem.txt"
    corpus.write_text("Thou art more lovely and more temperate.\n" * 5)
    assert main(["train", "--corpus", str(corpus), "--tokenizer", "bpe", "--vocab-size", "100"]) == 2
    assert "vocab_size must be at least 256" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["sample", "--checkpoint", "nowhere/ckpt.pt"], "no checkpoint at"),
    (["train", "--n-head", "3"], "not divisible by n_head"),
    (["train", "--corpus", "missing.txt"], "no corpus file"),
    (["train", "--max-iters", "0"], "max_iters must be a positive integer"),
    (["sample", "--temperature", "-1", "--checkpoint", "nowhere.pt"], "no checkpoint"),
])
def test_bad_input_gives_one_line_errors(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("error: ") and err.count("\n") == 1


def test_unknown_flag_is_rejected():
    out = subprocess.run([sys.executable, "-m", "minillm", "train", "--layers", "3"], capture_output=True, text=True)
    assert out.returncode == 2 and "unrecognized arguments: --layers" in out.stderr
