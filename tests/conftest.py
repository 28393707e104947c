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
