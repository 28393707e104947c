"""minillm.pretrained: Hugging Face GPT-2 checkpoints load into minillm's GPT and compute the same function.

The reference is a tiny, randomly initialised transformers.GPT2LMHeadModel saved to a temporary
folder: no download and no network. Tests that need transformers skip where it is not installed;
the config and error tests run everywhere.
"""

import json
import sys

import pytest
import torch
import torch.nn.functional as F

from minillm.errors import CheckpointError, ConfigError, MissingPackageError
from minillm.generate import complete, generate
from minillm.pretrained import config_from_hf, convert_state_dict, from_hf, from_pretrained

SIZES = dict(n_layer=2, n_head=2, n_embd=32, vocab_size=101, n_positions=32)
GPT2_CONFIG = dict(SIZES, model_type="gpt2", activation_function="gelu_new", layer_norm_epsilon=1e-5)
VARIANTS = {  # Hugging Face settings minillm can represent, each against its own reference
    "gpt2": {},
    "untied head": {"tie_word_embeddings": False},
    "exact GELU": {"activation_function": "gelu"},
    "upcast attention": {"reorder_and_upcast_attn": True, "attn_implementation": "eager"},  # eager runs that path
}


def tiny_hf(**changes):
    """A random GPT2LMHeadModel in eval mode (its dropout off) with SIZES, changed by `changes`."""
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.GPT2Config(**{**SIZES, "bos_token_id": None, "eos_token_id": None, **changes})
    return transformers.GPT2LMHeadModel(config).eval()


def save(hf, folder, fmt="safetensors"):
    """Write `hf` as save_pretrained does, or ("bin") as OpenAI's original uploads: pytorch_model.bin,
    keys without "transformer.", and the causal mask saved as `attn.bias` and `attn.masked_bias` buffers."""
    if fmt == "safetensors":
        hf.save_pretrained(folder)
        return folder
    hf.config.save_pretrained(folder)
    state = {k.removeprefix("transformer."): v for k, v in hf.state_dict().items()
             if k != "lm_head.weight" or not hf.config.tie_word_embeddings}
    T = hf.config.n_positions
    for i in range(hf.config.n_layer):
        state[f"h.{i}.attn.bias"] = torch.ones(T, T, dtype=torch.bool).tril().view(1, 1, T, T)
        state[f"h.{i}.attn.masked_bias"] = torch.tensor(-1e4)
    torch.save(state, folder / "pytorch_model.bin")
    return folder


@pytest.fixture
def hf_folder(tmp_path):
    hf = tiny_hf()
    return hf, save(hf, tmp_path)


def tokens(B=3, T=SIZES["n_positions"]):
    return torch.randint(0, SIZES["vocab_size"], (B, T), generator=torch.Generator().manual_seed(1))


# ----------------------------------------------------------------------------
# the same function as Hugging Face's

@pytest.mark.parametrize("fmt", ["safetensors", "bin"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_logits_match_transformers(tmp_path, variant, fmt):
    hf = tiny_hf(**VARIANTS[variant])
    model = from_pretrained(save(hf, tmp_path, fmt))
    idx = tokens()
    with torch.no_grad():
        expected, (logits, _) = hf(idx).logits, model(idx)
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=0)
    assert not model.training
    assert model.num_params() == hf.num_parameters()
    assert (model.head.weight is model.tok_emb.weight) == hf.config.tie_word_embeddings


@pytest.mark.parametrize("attention, ops", [("sdpa", "torch"), ("reference", "scratch")])
def test_every_minillm_path_matches(hf_folder, attention, ops):
    hf, folder = hf_folder
    model = from_pretrained(folder, attention=attention, ops=ops)
    assert (model.config.attention, model.config.ops) == (attention, ops)
    with torch.no_grad():
        torch.testing.assert_close(model(tokens())[0], hf(tokens()).logits, atol=1e-5, rtol=0)


def test_greedy_generation_matches_transformers(hf_folder):
    hf, folder = hf_folder
    model = from_pretrained(folder)
    prompt = tokens(B=2, T=5)
    expected = hf.generate(prompt, attention_mask=torch.ones_like(prompt), do_sample=False, max_new_tokens=20,
                           pad_token_id=0)
    assert torch.equal(generate(model, prompt, 20, temperature=0), expected)


def test_gradients_match_transformers(hf_folder):
    hf, folder = hf_folder
    model = from_pretrained(folder)
    idx, targets = tokens(), tokens().roll(1, dims=1)
    _, loss = model(idx, targets)
    expected = F.cross_entropy(hf(idx).logits.flatten(0, 1), targets.flatten())
    torch.testing.assert_close(loss, expected, atol=1e-6, rtol=0)
    loss.backward()
    expected.backward()
    # Hugging Face's gradients in minillm's names and layout: the same conversion as the weights
    hf_grads = convert_state_dict({name: p.grad for name, p in hf.named_parameters()}, model.config)
    for name, p in model.named_parameters():  # the tied head appears once, as tok_emb, in both
        torch.testing.assert_close(p.grad, hf_grads[name], atol=1e-6, rtol=1e-4, msg=name)


def test_weights_are_copies(hf_folder):
    hf, _ = hf_folder
    model = from_hf(hf.config.to_dict(), hf.state_dict())  # straight from a model in memory, as the benchmark does
    with torch.no_grad():
        model.tok_emb.weight.zero_()
        model.blocks[0].norm1.bias.fill_(1.0)
    assert hf.transformer.wte.weight.abs().sum() > 0 and not (hf.transformer.h[0].ln_1.bias == 1).all()


def test_complete_with_gpt2_tokenizer(tmp_path):
    from minillm.tiktoken_bridge import gpt2_ranks_path, gpt2_tokenizer

    if not gpt2_ranks_path().is_file():  # getting the vocabulary may download it: not in this test
        pytest.skip(f"GPT-2's vocabulary is not cached at {gpt2_ranks_path()}")
    hf = tiny_hf(n_layer=1, n_embd=16, vocab_size=50257, n_positions=64)  # GPT-2's vocabulary, a tiny body
    model = from_pretrained(save(hf, tmp_path))
    tok = gpt2_tokenizer()
    prompt = "The meaning of life is"
    ids = torch.tensor([tok.encode(prompt)])
    expected = hf.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=12,
                           pad_token_id=0)[0, ids.size(1):]
    assert complete(model, tok, prompt, max_new_tokens=12, temperature=0) == [tok.decode(expected.tolist())]


# ----------------------------------------------------------------------------
# config.json settings minillm can't represent

@pytest.mark.parametrize("change, field", [
    ({"scale_attn_by_inverse_layer_idx": True}, "scale_attn_by_inverse_layer_idx"),
    ({"scale_attn_weights": False}, "scale_attn_weights"),
    ({"add_cross_attention": True}, "add_cross_attention"),
    ({"activation_function": "gelu_fast"}, "activation_function"),
    ({"layer_norm_epsilon": 1e-6}, "layer_norm_epsilon"),
    ({"n_inner": 100}, "n_inner"),
    ({"model_type": "llama"}, "llama"),
    ({"n_embd": None}, "n_embd"),
])
def test_unrepresentable_config_is_refused(change, field):
    with pytest.raises(ConfigError, match=field):
        config_from_hf({**GPT2_CONFIG, **change})


def test_config_maps_sizes_and_settings():
    cfg = config_from_hf({**GPT2_CONFIG, "n_positions": None, "n_ctx": 48}, attention="reference", dropout=0.1)
    assert (cfg.n_layer, cfg.n_head, cfg.n_embd, cfg.block_size, cfg.vocab_size) == (2, 2, 32, 48, 101)
    assert (cfg.attention, cfg.dropout, cfg.position, cfg.norm, cfg.activation) == (
        "reference", 0.1, "learned", "layernorm", "gelu_tanh")
    with pytest.raises(ConfigError, match="n_layer"):
        config_from_hf(GPT2_CONFIG, n_layer=3)  # sizes come from the checkpoint


def test_unrepresentable_config_in_a_folder(hf_folder):
    _, folder = hf_folder
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "scale_attn_by_inverse_layer_idx": True}))
    with pytest.raises(ConfigError, match="scale_attn_by_inverse_layer_idx"):
        from_pretrained(folder)


# ----------------------------------------------------------------------------
# missing or damaged checkpoints

def rewrite_weights(folder, edit):
    """Apply `edit` to the folder's tensors (a dict) and save them again."""
    from safetensors.torch import load_file, save_file

    state = load_file(folder / "model.safetensors")
    edit(state)
    save_file(state, folder / "model.safetensors")


def test_missing_tensor_is_named(hf_folder):
    _, folder = hf_folder
    rewrite_weights(folder, lambda state: state.pop("transformer.h.1.mlp.c_fc.bias"))
    with pytest.raises(CheckpointError, match=r"no tensor h\.1\.mlp\.c_fc\.bias"):
        from_pretrained(folder)


def test_misshaped_tensor_is_named(hf_folder):
    _, folder = hf_folder
    key = "transformer.h.0.attn.c_attn.weight"  # (in, out) = (32, 96); stored the nn.Linear way by mistake
    rewrite_weights(folder, lambda state: state.update({key: state[key].t().contiguous()}))
    with pytest.raises(CheckpointError, match=r"h\.0\.attn\.c_attn\.weight has shape \(96, 32\).*\(32, 96\)"):
        from_pretrained(folder)


def test_leftover_tensor_is_named(hf_folder):
    _, folder = hf_folder
    rewrite_weights(folder, lambda state: state.update({"transformer.h.2.ln_1.weight": torch.ones(32)}))
    with pytest.raises(CheckpointError, match=r"no place for: h\.2\.ln_1\.weight"):
        from_pretrained(folder)


def test_missing_folder(tmp_path):
    with pytest.raises(CheckpointError, match="no folder"):
        from_pretrained(tmp_path / "gpt2-finetuned")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(CheckpointError, match="is a file"):
        from_pretrained(tmp_path / "config.json")
    with pytest.raises(CheckpointError, match="no weights"):
        from_pretrained(tmp_path)
    with pytest.raises(CheckpointError, match="has no config.json"):
        from_pretrained(tmp_path.parent)


@pytest.fixture
def offline_hub(monkeypatch):
    """huggingface_hub's download, replaced by one that fails as it does offline (and records what was asked)."""
    huggingface_hub = pytest.importorskip("huggingface_hub")
    asked = []

    def snapshot_download(repo_id, **kwargs):
        asked.append((repo_id, kwargs))
        raise OSError("We couldn't connect to 'https://huggingface.co' to load the files")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    return asked


def test_offline_hub_name_says_how_to_get_the_weights(offline_hub, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no folder called gpt2-medium here
    with pytest.raises(CheckpointError, match="could not download 'openai-community/gpt2-medium'") as error:
        from_pretrained("gpt2-medium")
    assert "hf download openai-community/gpt2-medium" in str(error.value) and "\n" not in str(error.value)
    (repo, kwargs), = offline_hub
    assert repo == "openai-community/gpt2-medium" and "model.safetensors" in kwargs["allow_patterns"]
    with pytest.raises(CheckpointError, match="^no folder checkpoints/mine here, and could not download"):
        from_pretrained("checkpoints/mine")  # a mistyped folder looks like a hub name "owner/name"


def test_missing_huggingface_hub_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # `import huggingface_hub` now fails
    with pytest.raises(MissingPackageError, match="pip install huggingface_hub"):
        from_pretrained("gpt2")
