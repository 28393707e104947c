import os
import signal
import subprocess
import sys

import pytest
import torch

from minillm import checkpoint
from minillm.errors import CheckpointError
from minillm.io import atomic_write, deferred_signals, exclusive, remove_stale


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_ctrl_c_waits_until_the_write_is_complete(tmp_path):
    path = tmp_path / "ckpt.pt"
    state = {"w": torch.randn(256, 256)}
    with pytest.raises(KeyboardInterrupt):
        with atomic_write(path) as f:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C lands in the middle of torch.save
            torch.save(state, f)
    torch.testing.assert_close(torch.load(path)["w"], state["w"])  # the whole file, not a torn one
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]


def test_deferred_signals_deliver_afterwards_and_restore_the_handler():
    handler = signal.getsignal(signal.SIGINT)
    ran = []
    with pytest.raises(KeyboardInterrupt):
        with deferred_signals():
            os.kill(os.getpid(), signal.SIGINT)
            ran.append("after the signal")
    assert ran == ["after the signal"] and signal.getsignal(signal.SIGINT) is handler


def test_temporaries_of_dead_writers_are_removed(tmp_path):
    target = tmp_path / "ckpt.pt"
    dead = tmp_path / f".ckpt.pt.{_dead_pid()}.x1.tmp"
    alive = tmp_path / ".ckpt.pt.1.x2.tmp"  # pid 1 always runs: another writer, busy right now
    other = tmp_path / f".other.pt.{_dead_pid()}.x3.tmp"  # belongs to another file
    for p in (dead, alive, other):
        p.write_bytes(b"half a checkpoint")
    with atomic_write(target) as f:
        f.write(b"new")
    assert not dead.exists() and alive.exists() and other.exists()
    assert remove_stale(tmp_path / "other.pt") == [other]


def test_a_writer_killed_mid_write_leaves_nothing_behind_for_long(tmp_path):
    target = tmp_path / "ckpt.pt"
    writer = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom minillm.io import atomic_write\n"
         "with atomic_write(sys.argv[1]) as f:\n    f.write(b'x' * 100000); f.flush()\n"
         "    print('writing', flush=True)\n    time.sleep(60)", str(target)],
        stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "writing"
    writer.kill()  # SIGKILL: no chance to clean up
    writer.wait()
    assert len(list(tmp_path.glob(".ckpt.pt.*.tmp"))) == 1 and not target.exists()
    checkpoint.save(target, {"step": 1})  # the next save sweeps the leftover away
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.pt"]


def test_exclusive_names_the_holder_and_is_reentrant(tmp_path):
    path = tmp_path / "ckpt.pt"
    with exclusive(path):
        with exclusive(path):  # the same process again: fine
            pass
        holder_line = (tmp_path / ".ckpt.pt.lock").read_text()
        assert holder_line.startswith(f"pid {os.getpid()} on ")
        probe = subprocess.run(
            [sys.executable, "-c", "import sys\nfrom minillm.io import exclusive\nwith exclusive(sys.argv[1]):\n"
             "    pass", str(path)], capture_output=True, text=True)
        assert probe.returncode == 1 and f"in use by another training (pid {os.getpid()}" in probe.stderr
    with exclusive(path):  # released
        pass


def test_checkpoints_in_memory():
    import io

    buffer = io.BytesIO()
    checkpoint.save(buffer, {"step": 3, "w": torch.ones(2)})
    buffer.seek(0)
    state = checkpoint.load(buffer)
    assert state["step"] == 3 and torch.equal(state["w"], torch.ones(2))


@pytest.mark.parametrize("keep", [500, 5_000, 20_000, 60_000])
def test_a_checkpoint_cut_short_anywhere_is_reported_as_such(keep, tmp_path):
    path = tmp_path / "ckpt.pt"
    checkpoint.save(path, {"model": {f"w{i}": torch.randn(64, 64) for i in range(8)}})  # about 130 kB
    path.write_bytes(path.read_bytes()[:keep])
    with pytest.raises(CheckpointError, match="truncated or corrupted"):
        checkpoint.load(path)


class _NotPlainData:
    pass


def test_a_checkpoint_with_python_objects_is_not_unpickled(tmp_path):
    path = tmp_path / "ckpt.pt"
    torch.save({"format": checkpoint.FORMAT, "step": 1, "payload": _NotPlainData()}, path)
    with pytest.raises(CheckpointError, match="holds Python objects besides tensors"):
        checkpoint.load(path)


def test_checkpoint_errors_name_the_file(tmp_path):
    import io

    with pytest.raises(CheckpointError, match="is a folder; give the checkpoint a file name"):
        checkpoint.save(tmp_path, {"step": 1})
    with pytest.raises(CheckpointError, match="^the checkpoint file is (truncated|corrupted)"):
        checkpoint.load(io.BytesIO(b"not a zip"))
    with open(tmp_path / "junk.pt", "wb") as f:
        f.write(b"junk")
    with open(tmp_path / "junk.pt", "rb") as f, pytest.raises(CheckpointError, match=f"^{tmp_path}/junk.pt is"):
        checkpoint.load(f)


def test_load_model_without_a_tokenizer_and_with_a_foreign_config(tmp_path, tiny_config):
    from minillm.model import GPT

    path = tmp_path / "ckpt.pt"
    model = GPT(tiny_config)
    checkpoint.save(path, {"model_config": tiny_config.to_dict(), "model": model.state_dict(), "tokenizer": None})
    loaded, tok = checkpoint.load_model(path)
    assert tok is None and not loaded.training
    checkpoint.save(path, {"model_config": {**tiny_config.to_dict(), "n_layers": 2}, "model": {}})
    with pytest.raises(CheckpointError, match="model config this version of minillm can't build: unknown GPTConfig"):
        checkpoint.load_model(path)


def test_any_damage_to_a_checkpoint_is_a_checkpoint_error():
    import io
    import random

    buffer = io.BytesIO()
    checkpoint.save(buffer, {"model": {f"w{i}": torch.randn(32, 32) for i in range(4)}, "step": 3})
    good = buffer.getvalue()
    rng = random.Random(0)
    for trial in range(300):
        if trial % 2:
            blob = good[: rng.randrange(len(good))]  # cut short
        else:
            blob = bytearray(good)
            for _ in range(rng.randrange(1, 20)):  # bytes flipped
                blob[rng.randrange(len(blob))] = rng.randrange(256)
        try:
            checkpoint.load(io.BytesIO(bytes(blob)))
        except CheckpointError:
            pass
