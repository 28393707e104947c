import pytest
import torch

from minillm import checkpoint
from minillm.errors import CheckpointError, ConfigError
from minillm.model import GPT, GPTConfig
from minillm.tokenizer import CharTokenizer
from minillm.train import PRESETS, TrainConfig, estimate_loss, train

TEXT = "the quick brown fox jumps over the lazy dog. " * 40
TOK = CharTokenizer.from_text(TEXT)
IDS = torch.tensor(TOK.encode(TEXT))
CFG = TrainConfig(max_iters=8, batch_size=4, learning_rate=3e-3, warmup_iters=2, eval_interval=4,
                  eval_iters=2, device="cpu", seed=7)


def _model(dropout=0.1):
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=TOK.vocab_size, block_size=8, n_layer=2, n_head=2, n_embd=16,
                         dropout=dropout))


def test_training_reduces_loss():
    model = _model(dropout=0.0)
    hist = train(model, IDS, IDS, CFG, max_iters=60, eval_interval=30, progress=False)
    assert hist.val_loss[-1] < hist.val_loss[0] - 0.5
    assert hist.eval_steps == [0, 30, 60]
    assert len(hist.loss) == len(hist.lr) == 60
    assert hist.tokens_per_sec > 0


def test_same_seed_same_numbers():
    a = train(_model(), IDS, IDS, CFG, progress=False)
    b = train(_model(), IDS, IDS, CFG, progress=False)
    assert a.loss == b.loss and a.val_loss == b.val_loss
    c = train(_model(), IDS, IDS, CFG, seed=8, progress=False)
    assert c.loss != a.loss


def test_resume_continues_exactly(tmp_path):
    """N steps in one go == N/2 steps, save, resume in a fresh model, N/2 more."""
    straight = _model()
    full = train(straight, IDS, IDS, CFG, checkpoint_path=str(tmp_path / "a.pt"), progress=False)

    first = _model()
    half = dict(max_iters=4, lr_decay_iters=8, checkpoint_path=str(tmp_path / "b.pt"))
    train(first, IDS, IDS, CFG, progress=False, **half)
    torch.manual_seed(123)  # disturb the global RNG: resume must restore it
    second = _model()
    resumed = train(second, IDS, IDS, CFG, resume=True, lr_decay_iters=8,
                    checkpoint_path=str(tmp_path / "b.pt"), progress=False)

    assert resumed.loss == pytest.approx(full.loss, abs=1e-6)
    assert resumed.val_loss[-1] == pytest.approx(full.val_loss[-1], abs=1e-6)
    for p, q in zip(straight.parameters(), second.parameters()):
        torch.testing.assert_close(p, q)


def test_grad_accumulation_matches_a_bigger_batch_without_dropout():
    big = train(_model(dropout=0.0), IDS, IDS, CFG, batch_size=4, max_iters=1, progress=False)
    acc = train(_model(dropout=0.0), IDS, IDS, CFG, batch_size=2, grad_accum_steps=2, max_iters=1,
                progress=False)
    # the same 4 windows are drawn (the generator yields them in the same order)
    assert acc.loss[0] == pytest.approx(big.loss[0], rel=1e-5)


def test_checkpoint_holds_what_sampling_needs(tmp_path):
    path = tmp_path / "run" / "ckpt.pt"
    model = _model()
    train(model, IDS, IDS, CFG, checkpoint_path=str(path), tokenizer=TOK, progress=False)
    loaded, tok = checkpoint.load_model(path)
    assert tok.chars == TOK.chars
    x = IDS[:8].view(1, 8)
    torch.testing.assert_close(loaded(x)[0], model(x)[0])
    assert not [p for p in path.parent.iterdir() if p.name != "ckpt.pt"], "temporary files left behind"


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        train(_model(), IDS, IDS, CFG, resume=True, checkpoint_path=str(tmp_path / "nope.pt"), progress=False)


def test_truncated_checkpoint(tmp_path):
    path = tmp_path / "ckpt.pt"
    train(_model(), IDS, IDS, CFG, checkpoint_path=str(path), progress=False)
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(CheckpointError, match="truncated or corrupted"):
        checkpoint.load(path)


def test_checkpoint_from_another_config(tmp_path):
    path = tmp_path / "ckpt.pt"
    train(_model(), IDS, IDS, CFG, checkpoint_path=str(path), progress=False)
    other = GPT(GPTConfig(vocab_size=TOK.vocab_size, block_size=8, n_layer=3, n_head=2, n_embd=16))
    with pytest.raises(CheckpointError, match="n_layer=2 .model has 3."):
        train(other, IDS, IDS, CFG, resume=True, checkpoint_path=str(path), progress=False)


def test_not_a_checkpoint(tmp_path):
    path = tmp_path / "x.pt"
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match="not a minillm checkpoint"):
        checkpoint.load(path)


def test_unknown_training_setting():
    with pytest.raises(ConfigError, match="did you mean 'max_iters'"):
        train(_model(), IDS, IDS, CFG, max_iter=3, progress=False)


def test_data_too_short_for_the_context():
    with pytest.raises(ConfigError, match="more than block_size=8"):
        train(_model(), IDS[:5], IDS, CFG, progress=False)


def test_tokenizer_and_model_vocab_must_agree():
    with pytest.raises(ConfigError, match="vocab_size"):
        train(_model(), IDS, IDS, CFG, tokenizer=CharTokenizer("ab"), progress=False)


def test_estimate_loss_is_deterministic_per_seed():
    model = _model()
    a = estimate_loss(model, IDS, 4, 3, seed=1)
    assert a == estimate_loss(model, IDS, 4, 3, seed=1)
    assert a != estimate_loss(model, IDS, 4, 3, seed=2)


def test_presets_are_valid():
    assert set(PRESETS) == {"cpu", "gpu"}
    cpu_model, cpu_train = PRESETS["cpu"]
    assert (cpu_model.n_layer, cpu_model.n_head, cpu_model.n_embd, cpu_model.block_size) == (4, 4, 128, 64)
    assert (cpu_train.batch_size, cpu_train.max_iters) == (12, 2000)
