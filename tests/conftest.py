import os

import pytest
import torch

os.environ.setdefault("TQDM_DISABLE", "1")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def tiny_config():
    from minillm.model import GPTConfig

    return GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16)


@pytest.fixture
def fails_with_hint(capsys):
    """fails_with_hint(checker, wrong, hint): the exercise checker refuses `wrong`, naming the case it
    failed on and giving `hint`, and prints no ✓."""
    def check(checker, wrong, hint):
        with pytest.raises(AssertionError, match=rf"{checker.__name__} failed on case \d+ of \d+") as e:
            checker(wrong)
        assert hint in str(e.value)
        assert "✓" not in capsys.readouterr().out
    return check
