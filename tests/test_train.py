import subprocess
import sys
import time

import pytest
import torch

from minillm import checkpoint
from minillm.errors import CheckpointError, ConfigError, InUseError, TrainingError
from minillm.model import GPT, GPTConfig
from minillm.tokenizer import CharTokenizer
from minillm.data import get_batch
from minillm.optim import lr_at
from minillm.train import PRESETS, TrainConfig, accumulate_gradients, estimate_loss, slow_run_note, train

TEXT = "the quick brown fox jumps over the lazy dog. " * 40
TOK = CharTokenizer.from_text(TEXT)
IDS = torch.tensor(TOK.encode(TEXT))
CFG = TrainConfig(max_iters=8, batch_size=4, learning_rate=3e-3, warmup_iters=2, eval_interval=4,
                  eval_iters=2, device="cpu", seed=7, threads=1)  # a fixed thread count: bit-exact reruns


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


def _grads(model):
    return [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize("k", [2, 4])
def test_accumulated_micro_batches_give_the_gradients_of_one_big_batch(k):
    x, y = get_batch(IDS, 8, 8, torch.Generator().manual_seed(0))
    big, acc = _model(dropout=0.0), _model(dropout=0.0)
    loss_big = accumulate_gradients(big, [(x, y)])
    loss_acc = accumulate_gradients(acc, list(zip(x.chunk(k), y.chunk(k))))
    assert loss_acc == pytest.approx(loss_big, rel=1e-6)
    for a, b in zip(_grads(acc), _grads(big)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)


def test_grad_accumulation_takes_the_same_steps_as_a_bigger_batch():
    """Same weights after each of 3 steps; the generator draws the same 4 windows either way."""
    big, acc = _model(dropout=0.0), _model(dropout=0.0)
    hist_big = train(big, IDS, IDS, CFG, batch_size=4, max_iters=3, progress=False)
    hist_acc = train(acc, IDS, IDS, CFG, batch_size=2, grad_accum_steps=2, max_iters=3, progress=False)
    assert hist_acc.loss == pytest.approx(hist_big.loss, rel=1e-5)
    for p, q in zip(acc.parameters(), big.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=2e-5)  # Adam divides tiny gradients by tiny norms


def test_checkpoint_holds_what_sampling_needs(tmp_path):
    path = tmp_path / "run" / "ckpt.pt"
    model = _model()
    train(model, IDS, IDS, CFG, checkpoint_path=str(path), tokenizer=TOK, progress=False)
    loaded, tok = checkpoint.load_model(path)
    assert tok.chars == TOK.chars
    x = IDS[:8].view(1, 8)
    torch.testing.assert_close(loaded(x)[0], model(x)[0])
    leftovers = [p.name for p in path.parent.iterdir() if p.name not in ("ckpt.pt", ".ckpt.pt.lock")]
    assert not leftovers, "temporary files left behind"


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


def test_resume_with_more_steps_keeps_the_schedule(tmp_path, capsys):
    """Continuing an 8-step run to 16 steps must not restart the cosine from mid-way."""
    path = str(tmp_path / "ckpt.pt")
    first = train(_model(), IDS, IDS, CFG, checkpoint_path=path, progress=False)
    capsys.readouterr()
    more = train(_model(), IDS, IDS, CFG, max_iters=16, resume=True, checkpoint_path=path, progress=False)
    report = capsys.readouterr().out
    assert "resuming at step 8 of 16" in report and "cosine decay to 0.0003 at step 8" in report
    min_lr = CFG.learning_rate * CFG.min_lr_ratio
    assert more.lr[:8] == first.lr and more.lr[8:] == pytest.approx([min_lr] * 8)
    assert more.eval_steps == [0, 4, 8, 12, 16]  # no step evaluated twice


def test_resume_can_change_the_schedule_explicitly(tmp_path, capsys):
    path = str(tmp_path / "ckpt.pt")
    train(_model(), IDS, IDS, CFG, checkpoint_path=path, progress=False)
    capsys.readouterr()
    more = train(_model(), IDS, IDS, CFG, max_iters=16, lr_decay_iters=16, learning_rate=1e-3, resume=True,
                 checkpoint_path=path, progress=False)
    report = capsys.readouterr().out
    assert "changed from the checkpoint: learning_rate 0.003 -> 0.001, lr_decay_iters 8 -> 16" in report
    assert more.lr[8] == pytest.approx(lr_at(8, 1e-3, CFG.warmup_iters, 16))


def test_resume_from_step_0_evaluates_step_0_once(tmp_path):
    path = str(tmp_path / "ckpt.pt")

    def stop(history):
        raise KeyboardInterrupt  # as if Ctrl-C came right after the first checkpoint

    with pytest.raises(KeyboardInterrupt):
        train(_model(), IDS, IDS, CFG, checkpoint_path=path, callback=stop, progress=False)
    hist = train(_model(), IDS, IDS, CFG, resume=True, checkpoint_path=path, progress=False)
    assert hist.eval_steps == [0, 4, 8]


def test_resume_refuses_other_data_or_another_tokenizer(tmp_path):
    path = str(tmp_path / "ckpt.pt")
    train(_model(), IDS, IDS, CFG, checkpoint_path=path, tokenizer=TOK, progress=False)
    other_text = IDS.flip(0)  # same vocabulary, other text
    with pytest.raises(CheckpointError, match="trained on other data"):
        train(_model(), other_text, IDS, CFG, max_iters=12, resume=True, checkpoint_path=path, progress=False)
    other_tok = CharTokenizer(TOK.chars[::-1])  # same size, ids mean other characters
    with pytest.raises(CheckpointError, match="another tokenizer"):
        train(_model(), IDS, IDS, CFG, max_iters=12, resume=True, checkpoint_path=path, tokenizer=other_tok,
              progress=False)
    # the same data as int32 (as the command line stores it) is the same data
    train(_model(), IDS.int(), IDS.int(), CFG, max_iters=12, resume=True, checkpoint_path=path, progress=False)


def test_resume_without_a_tokenizer_keeps_the_checkpoints(tmp_path):
    path = tmp_path / "ckpt.pt"
    train(_model(), IDS, IDS, CFG, checkpoint_path=str(path), tokenizer=TOK, progress=False)
    train(_model(), IDS, IDS, CFG, max_iters=12, resume=True, checkpoint_path=str(path), progress=False)
    assert checkpoint.load_model(path)[1].chars == TOK.chars


def test_divergence_stops_training_and_keeps_the_good_checkpoint(tmp_path):
    path = tmp_path / "ckpt.pt"
    model = _model()

    def break_weights(history):
        if history.eval_steps[-1] == 4:
            with torch.no_grad():
                model.head.weight[0, 0] = float("nan")  # what a too-high learning rate ends in

    with pytest.raises(TrainingError, match=r"loss became nan at step 5 .*last good checkpoint \(step 4\)"):
        train(model, IDS, IDS, CFG, checkpoint_path=str(path), callback=break_weights, progress=False)
    state = checkpoint.load(path)
    assert state["step"] == 4 and all(t.isfinite().all() for t in state["model"].values())


class _NanWhenEvaluated(GPT):
    """Trains normally but scores nan in eval mode once poisoned: non-finite weights seen only at evaluation."""

    poisoned = False

    def forward(self, idx, targets=None):
        logits, loss = super().forward(idx, targets)
        if self.poisoned and not self.training and loss is not None:
            loss = loss * float("nan")
        return logits, loss


def test_a_non_finite_evaluation_is_never_saved(tmp_path):
    path = tmp_path / "ckpt.pt"
    torch.manual_seed(0)
    model = _NanWhenEvaluated(_model().config)

    def poison(history):
        model.poisoned = True

    with pytest.raises(TrainingError, match="no checkpoint is written"):
        train(model, IDS, IDS, CFG, checkpoint_path=str(path), callback=poison, progress=False)
    assert checkpoint.load(path)["step"] == 0


def test_two_trainings_cannot_share_a_checkpoint(tmp_path):
    path = tmp_path / "run" / "ckpt.pt"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom minillm.io import exclusive\n"
         "with exclusive(sys.argv[1]):\n    print('holding', flush=True)\n    time.sleep(60)", str(path)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(InUseError, match=rf"in use by another training \(pid {holder.pid} on "):
            train(_model(), IDS, IDS, CFG, checkpoint_path=str(path), progress=False)
    finally:
        holder.kill()
        holder.wait()
    train(_model(), IDS, IDS, CFG, checkpoint_path=str(path), progress=False)  # free once the holder is gone


def test_slow_cpu_runs_get_an_estimate():
    note = slow_run_note(22.0, 4999, torch.device("cpu"))
    assert "30.5 hours" in note and "'cpu' preset" in note
    assert slow_run_note(0.05, 2000, torch.device("cpu")) is None  # 100 s: fine
    assert slow_run_note(22.0, 4999, torch.device("cuda")) is None


@pytest.mark.parametrize("bad, message", [
    (dict(max_iters=True), "max_iters must be an int"),
    (dict(max_iters=2.5), "max_iters must be an int"),
    (dict(beta1=1.5), "beta1 must lie in"),
    (dict(beta2=-0.1), "beta2 must lie in"),
    (dict(grad_clip=-1.0), "grad_clip must be >= 0"),
    (dict(warmup_iters=-5), "warmup_iters must be >= 0"),
    (dict(weight_decay=-0.1), "weight_decay must be >= 0"),
    (dict(learning_rate=float("nan")), "learning_rate must be a finite float"),
    (dict(learning_rate=0.0), "learning_rate must be positive"),
    (dict(min_lr_ratio=2.0), "min_lr_ratio must lie in"),
    (dict(lr_decay_iters=0), "lr_decay_iters must be a positive integer"),
    (dict(threads=0), "threads must be a positive integer"),
    (dict(dtype="fp8"), "unknown dtype"),
    (dict(checkpoint_path=3), "checkpoint_path must be a str or None"),
])
def test_impossible_training_settings_raise_clear_errors(bad, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**bad)


def test_a_path_is_a_fine_checkpoint_path(tmp_path):
    assert TrainConfig(checkpoint_path=tmp_path / "c.pt").checkpoint_path == str(tmp_path / "c.pt")


def test_estimate_loss_is_the_mean_over_the_seeded_batches():
    model = _model().eval()
    g = torch.Generator().manual_seed(3)
    expected = sum(model(*get_batch(IDS, 4, 8, g))[1].item() for _ in range(5)) / 5
    assert estimate_loss(model, IDS, 4, 5, seed=3) == pytest.approx(expected, rel=1e-6)


def test_history_keeps_train_and_val_apart():
    hist = train(_model(), IDS, IDS.flip(0), CFG, progress=False)  # another text to validate on
    assert len(hist.train_loss) == len(hist.val_loss) == 3 and hist.train_loss != hist.val_loss


def test_the_edges_of_the_training_settings_are_allowed():
    TrainConfig(warmup_iters=0, weight_decay=0.0, grad_clip=0.0, seed=0, beta1=0.0, beta2=0.0, min_lr_ratio=0.0)
    TrainConfig(min_lr_ratio=1.0)
    with pytest.raises(ConfigError, match="more than block_size=8"):
        train(_model(), IDS[:8], IDS, CFG, progress=False)  # 8 ids make no (input, target) window of 8


def test_resume_reports_only_real_changes(tmp_path, capsys):
    path = str(tmp_path / "ckpt.pt")
    train(_model(), IDS, IDS, CFG, checkpoint_path=path, progress=False)
    capsys.readouterr()
    train(_model(), IDS, IDS, CFG, max_iters=8, threads=2, resume=True, checkpoint_path=path, progress=False)
    out = capsys.readouterr().out
    assert "changed" not in out and "already at step 8" in out  # threads don't shape the run; nothing to do


def test_resume_keeps_the_schedule_of_an_older_checkpoint(tmp_path):
    """Checkpoints written before lr_decay_iters was recorded hold None there: the decay ended at max_iters."""
    path = tmp_path / "ckpt.pt"
    train(_model(), IDS, IDS, CFG, checkpoint_path=str(path), progress=False)
    state = checkpoint.load(path)
    state["train_config"]["lr_decay_iters"] = None
    checkpoint.save(path, state)
    more = train(_model(), IDS, IDS, CFG, max_iters=12, resume=True, checkpoint_path=str(path), progress=False)
    assert more.lr[8:] == pytest.approx([CFG.learning_rate * CFG.min_lr_ratio] * 4)


def test_resume_refuses_other_validation_data(tmp_path):
    path = str(tmp_path / "ckpt.pt")
    train(_model(), IDS, IDS, CFG, checkpoint_path=path, progress=False)
    with pytest.raises(CheckpointError, match="trained on other data"):
        train(_model(), IDS, IDS.flip(0), CFG, max_iters=12, resume=True, checkpoint_path=path, progress=False)


def test_slow_run_note_threshold():
    cpu = torch.device("cpu")
    assert slow_run_note(5.4, 1000, cpu) is not None  # 1.5 hours
    assert slow_run_note(3.6, 1000, cpu) is None  # exactly the limit of one hour


def test_steps_evaluations_and_throughput_are_recorded():
    t0 = time.perf_counter()
    hist = train(_model(), IDS, IDS, CFG, max_iters=10, grad_accum_steps=2, progress=False)
    wall = time.perf_counter() - t0
    assert hist.steps == list(range(1, 11)) and hist.eval_steps == [0, 4, 8, 10]  # and always the last step
    tokens = 10 * CFG.batch_size * 8 * 2
    assert tokens / wall <= hist.tokens_per_sec <= 100 * tokens / wall


def test_each_step_uses_the_scheduled_learning_rate():
    """Step 1 of a 1000-step warmup moves each weight by about lr / 1000 (Adam's step is ~lr), not by lr."""
    model = _model(dropout=0.0)
    before = [p.detach().clone() for p in model.parameters()]
    hist = train(model, IDS, IDS, CFG, max_iters=1, warmup_iters=1000, weight_decay=0.0, progress=False)
    assert hist.lr == [CFG.learning_rate / 1000]
    moved = max((p - q).abs().max().item() for p, q in zip(model.parameters(), before))
    assert moved < 2 * CFG.learning_rate / 1000


def test_clipping_and_the_floor_of_the_schedule_take_effect():
    def weights(**kwargs):
        model = _model(dropout=0.0)
        hist = train(model, IDS, IDS, CFG, progress=False, **kwargs)
        return hist, torch.cat([p.detach().flatten() for p in model.parameters()])

    _, unclipped = weights(grad_clip=0.0)
    _, clipped = weights(grad_clip=0.5)
    assert not torch.allclose(unclipped, clipped)
    hist, _ = weights(min_lr_ratio=0.5)
    assert hist.lr[-1] == pytest.approx(lr_at(7, CFG.learning_rate, CFG.warmup_iters, 8, min_lr_ratio=0.5))
    assert hist.lr[-1] != pytest.approx(lr_at(7, CFG.learning_rate, CFG.warmup_iters, 8, min_lr_ratio=0.1))
