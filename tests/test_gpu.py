"""The GPU path, tested rather than assumed: these run only where PyTorch sees a CUDA GPU.

Without one they are skipped; `bash scripts/gpu_check.sh REPORT_DIR` runs
them on a GPU machine together with the training benchmark and the
notebooks' GPU settings (see README, "The GPU check lane").
"""

import pytest
import torch

from minillm import checkpoint
from minillm.cli import main
from minillm.device import pick_dtype
from minillm.evaluate import dataset_loss
from minillm.generate import complete
from minillm.model import GPT, GPTConfig
from minillm.tokenizer import CharTokenizer
from minillm.train import TrainConfig, train

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

TEXT = "the quick brown fox jumps over the lazy dog. " * 40
TOK = CharTokenizer.from_text(TEXT)
IDS = torch.tensor(TOK.encode(TEXT))
CFG = TrainConfig(max_iters=8, batch_size=4, learning_rate=3e-3, warmup_iters=2, eval_interval=4, eval_iters=2,
                  device="cuda", seed=7)


def _model(dropout=0.1):
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=TOK.vocab_size, block_size=8, n_layer=2, n_head=2, n_embd=16, dropout=dropout))


def test_auto_dtype_on_cuda():
    assert pick_dtype("auto", torch.device("cuda")) == (
        torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)


@pytest.mark.parametrize("dtype", ["auto", "float32", "float16"])
def test_resume_on_cuda_continues_like_an_unbroken_run(dtype, tmp_path):
    """The random states come back as CPU tensors; dropout masks (CUDA generator) and batches line up."""
    straight = _model()
    full = train(straight, IDS, IDS, CFG, dtype=dtype, checkpoint_path=str(tmp_path / "a.pt"), progress=False)
    train(_model(), IDS, IDS, CFG, dtype=dtype, max_iters=4, lr_decay_iters=8,
          checkpoint_path=str(tmp_path / "b.pt"), progress=False)
    torch.manual_seed(123)
    torch.cuda.manual_seed_all(123)  # disturb every generator: resume must restore them
    second = _model()
    resumed = train(second, IDS, IDS, CFG, dtype=dtype, resume=True, checkpoint_path=str(tmp_path / "b.pt"),
                    progress=False)
    # GPU kernels may add in another order from run to run, so equal up to rounding, not bit for bit
    assert resumed.loss == pytest.approx(full.loss, abs=2e-3)
    for p, q in zip(straight.parameters(), second.parameters()):
        torch.testing.assert_close(p, q, atol=2e-3, rtol=1e-3)


def test_fp16_training_uses_the_scaler_and_resumes_across_dtypes(tmp_path, capsys):
    path = tmp_path / "ckpt.pt"
    hist = train(_model(0.0), IDS, IDS, CFG, dtype="float16", max_iters=60, eval_interval=30,
                 checkpoint_path=str(path), progress=False)
    assert hist.val_loss[-1] < hist.val_loss[0] - 0.5
    assert checkpoint.load(path)["scaler"]  # an enabled scaler saves its scale
    # a float16 checkpoint continued in bfloat16 or float32, and back: each says so and goes on
    other = "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
    train(_model(0.0), IDS, IDS, CFG, dtype=other, max_iters=70, resume=True, checkpoint_path=str(path),
          progress=False)
    train(_model(0.0), IDS, IDS, CFG, dtype="float16", max_iters=80, resume=True, checkpoint_path=str(path),
          progress=False)
    assert capsys.readouterr().out.count("note: the checkpoint trained in") == 2


def test_sampling_on_cuda_is_seeded():
    model = _model().cuda().eval()
    a = complete(model, TOK, "the ", max_new_tokens=20, num_samples=2, temperature=0.9, top_k=5, top_p=0.9)
    assert a == complete(model, TOK, "the ", max_new_tokens=20, num_samples=2, temperature=0.9, top_k=5,
                         top_p=0.9)
    assert all(len(s) == 20 for s in a)


def test_dataset_loss_agrees_with_the_cpu():
    model = _model().eval()
    on_cpu = dataset_loss(model, IDS)
    assert dataset_loss(model.cuda(), IDS) == pytest.approx(on_cpu, rel=1e-4)


def test_command_line_train_resume_sample_on_cuda(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MINILLM_DATA_DIR", str(tmp_path / "data"))
    corpus = tmp_path / "poem.txt"
    corpus.write_text("Shall I compare thee to a summer's day?\nThou art more lovely and more temperate.\n" * 30)
    args = ["train", "--corpus", str(corpus), "--out-dir", str(tmp_path / "run"), "--max-iters", "20",
            "--eval-interval", "10", "--eval-iters", "2", "--n-layer", "2", "--n-embd", "32", "--n-head", "2",
            "--block-size", "32", "--batch-size", "4", "--device", "cuda", "--samples", "1", "--no-progress"]
    assert main(args) == 0
    assert main(args + ["--resume", "--max-iters", "30"]) == 0
    assert main(["sample", "--checkpoint", str(tmp_path / "run" / "ckpt.pt"), "--device", "cuda",
                 "--num-samples", "2", "--max-new-tokens", "20"]) == 0
    assert "resuming at step 20 of 30" in capsys.readouterr().out
