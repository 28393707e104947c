"""Real GPT-2 weights in minillm's own model: OpenAI's checkpoints, as Hugging Face hosts them, loaded into `GPT`.

OpenAI released GPT-2 in four sizes of one design (vocabulary 50,257 tokens, context 1,024):

    name          layers  heads  width  parameters
    gpt2            12     12     768     124M
    gpt2-medium     24     16    1024     355M
    gpt2-large      36     20    1280     774M
    gpt2-xl         48     25    1600    1558M

That design is `GPTConfig.architecture("gpt2")` (learned positions, LayerNorm with biases, the tanh
GELU, pre-norm blocks, the head tied to the token embedding), so loading a checkpoint is renaming
tensors, plus one transpose:

    Hugging Face (GPT2LMHeadModel)         minillm (GPT)
    transformer.wte                        tok_emb
    transformer.wpe                        pos_emb
    transformer.h.{i}.ln_1                 blocks.{i}.norm1
    transformer.h.{i}.attn.c_attn          blocks.{i}.attn.qkv      (weight transposed)
    transformer.h.{i}.attn.c_proj          blocks.{i}.attn.proj     (weight transposed)
    transformer.h.{i}.ln_2                 blocks.{i}.norm2
    transformer.h.{i}.mlp.c_fc             blocks.{i}.mlp.fc        (weight transposed)
    transformer.h.{i}.mlp.c_proj           blocks.{i}.mlp.proj      (weight transposed)
    transformer.ln_f                       norm_f
    lm_head, tied to wte                   head, tied to tok_emb

    model = from_pretrained("gpt2")                      # or a folder: from_pretrained("path/to/gpt2")
    complete(model, gpt2_tokenizer(), "The meaning of life is", max_new_tokens=40, top_k=40)
    # (complete from minillm.generate, gpt2_tokenizer from minillm.tiktoken_bridge)

Design choices, and the simplifications made for teaching:
- The transpose: OpenAI's TensorFlow code stored each linear layer as an (in, out) matrix and
  computed x @ W + b; Hugging Face kept that layout (its `Conv1D` class). `nn.Linear` stores
  (out, in) and computes x @ W.T + b. Nothing else moves: the fused projection holds q, then k,
  then v, each with the heads side by side, in both.
- Strict: every tensor must be present with its shape and none may be left over, and a config.json
  setting minillm's model can't represent is refused (`ConfigError`) rather than approximated.
  Some files carry `attn.bias` (the causal mask, a (1, 1, 1024, 1024) buffer) and
  `attn.masked_bias`: they are not weights and are skipped. `reorder_and_upcast_attn` is accepted:
  it only changes the rounding of mixed-precision attention, not the function computed.
- Hugging Face's three dropout rates (0.1) become minillm's one `dropout`, 0 by default: for
  sampling and benchmarks. Pass dropout=0.1 to fine-tune as GPT-2 was trained.
- Memory: tensors are read from safetensors files one at a time and the model is built on the
  "meta" device (shapes only, no random init), so gpt2-xl's 6 GB of float32 weights are held once,
  which fits in a Colab machine's 12 GB of RAM.
- The hub is optional: huggingface_hub and safetensors are imported only when needed (they are
  not in requirements.txt). Offline, a folder downloaded elsewhere loads the same way.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import torch

from .device import pick_device
from .errors import CheckpointError, ConfigError, MissingPackageError
from .model import GPT, GPTConfig

GPT2_MODELS = {name: f"openai-community/{name}" for name in ("gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl")}
# Hugging Face's activation_function -> minillm's; "gelu_new" is OpenAI's tanh approximation of GELU
ACTIVATIONS = {"gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "gelu": "gelu", "relu": "relu",
               "silu": "silu", "swish": "silu"}
# config.json settings with one value minillm's model can compute: (that value, what the setting does)
REQUIRED = {
    "scale_attn_weights": (True, "dividing attention scores by sqrt(head size), as minillm always does"),
    "scale_attn_by_inverse_layer_idx": (False, "dividing layer i's attention scores by i + 1 as well"),
    "add_cross_attention": (False, "cross-attention to an encoder's output in every block"),
}
SETTINGS = ("attention", "ops", "dropout")  # GPTConfig fields that change how the model computes, not its weights
CONV1D = ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")  # stored (in, out): transposed for nn.Linear
SKIPPED = ("attn.bias", "attn.masked_bias")  # buffers (the causal mask) that some checkpoints carry
SAFETENSORS_FILES = ["config.json", "model.safetensors", "model.safetensors.index.json", "model-*.safetensors"]
TORCH_FILES = ["config.json", "pytorch_model.bin", "pytorch_model.bin.index.json", "pytorch_model-*.bin"]
SAFETENSORS_HINT = "pip install safetensors"
HUB_HINT = "pip install huggingface_hub safetensors"


# ----------------------------------------------------------------------------
# config.json -> GPTConfig

def config_from_hf(hf: dict, **settings) -> GPTConfig:
    """The GPTConfig of a Hugging Face GPT-2 config.json (as a dict), or ConfigError if minillm can't represent it.

    `settings` may choose how the model computes: attention ("sdpa", "reference"), ops, dropout.

    >>> cfg = config_from_hf({"n_layer": 12, "n_head": 12, "n_embd": 768, "n_positions": 1024, "vocab_size": 50257})
    >>> cfg.activation, cfg.tie_weights
    ('gelu_tanh', True)
    """
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise ConfigError(f"{unknown} can't be chosen: a checkpoint's sizes come from its config.json; "
                          f"choose only {list(SETTINGS)}")
    if hf.get("model_type", "gpt2") != "gpt2":
        raise ConfigError(f"config.json describes a {hf['model_type']!r} model; minillm loads GPT-2 checkpoints "
                          f"(model_type 'gpt2') only")
    for key, (needed, what) in REQUIRED.items():
        if key in hf and hf[key] != needed:
            raise ConfigError(f"config.json sets {key}={hf[key]!r} ({what}), which minillm's GPT can't compute; "
                              f"only checkpoints with {key}={needed} load")
    activation = hf.get("activation_function", "gelu_new")
    if activation not in ACTIVATIONS:
        raise ConfigError(f"config.json's activation_function {activation!r} has no equivalent in minillm; "
                          f"loadable ones: {sorted(ACTIVATIONS)}")
    eps = hf.get("layer_norm_epsilon", 1e-5)
    if not math.isclose(eps, 1e-5):  # subtle: minillm's norms have no eps setting; LayerNorm's is 1e-5
        raise ConfigError(f"config.json's layer_norm_epsilon is {eps}; minillm's LayerNorm uses 1e-5 "
                          f"(GPT-2's), so this checkpoint would compute something else")
    sizes = {}
    for ours, theirs in (("n_layer", ("n_layer",)), ("n_head", ("n_head",)), ("n_embd", ("n_embd",)),
                         ("block_size", ("n_positions", "n_ctx")), ("vocab_size", ("vocab_size",))):
        found = [hf[key] for key in theirs if hf.get(key) is not None]
        if not found:
            raise ConfigError(f"config.json has no {' or '.join(theirs)}: is it a GPT-2 config?")
        sizes[ours] = found[0]
    inner = hf.get("n_inner")
    if inner is not None and inner != 4 * sizes["n_embd"]:
        raise ConfigError(f"config.json's n_inner={inner}: minillm's MLP is 4 x n_embd = {4 * sizes['n_embd']} "
                          f"wide, as GPT-2's")
    return GPTConfig.architecture("gpt2", **sizes, activation=ACTIVATIONS[activation],
                                  tie_weights=hf.get("tie_word_embeddings", True), **settings)


# ----------------------------------------------------------------------------
# Hugging Face tensors -> minillm's state dict

def hf_names(cfg: GPTConfig) -> dict[str, str]:
    """minillm's parameter name -> Hugging Face's, without the "transformer." prefix.

    >>> hf_names(GPTConfig.architecture("gpt2", n_layer=1))["blocks.0.attn.qkv.weight"]
    'h.0.attn.c_attn.weight'
    """
    names = {"tok_emb.weight": "wte.weight", "pos_emb.weight": "wpe.weight",
             "norm_f.weight": "ln_f.weight", "norm_f.bias": "ln_f.bias",
             "head.weight": "wte.weight" if cfg.tie_weights else "lm_head.weight"}
    for i in range(cfg.n_layer):
        for ours, theirs in (("norm1", "ln_1"), ("attn.qkv", "attn.c_attn"), ("attn.proj", "attn.c_proj"),
                             ("norm2", "ln_2"), ("mlp.fc", "mlp.c_fc"), ("mlp.proj", "mlp.c_proj")):
            for kind in ("weight", "bias"):
                names[f"blocks.{i}.{ours}.{kind}"] = f"h.{i}.{theirs}.{kind}"
    return names


def is_conv1d(hf_name: str) -> bool:
    """True for the weights Hugging Face stores as (in, out), which nn.Linear needs as (out, in)."""
    return any(hf_name.endswith(f"{layer}.weight") for layer in CONV1D)


def convert_state_dict(hf_state: Mapping[str, torch.Tensor], cfg: GPTConfig,
                       dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """A Hugging Face GPT-2 state dict -> minillm's, checked tensor by tensor; CheckpointError names what is wrong.

    Keys may carry the "transformer." prefix (GPT2LMHeadModel) or not (GPT2Model, OpenAI's uploads).
    Every tensor returned is a fresh, contiguous copy in `dtype`; the tied head shares tok_emb's.
    """
    by_name = {key.removeprefix("transformer."): key for key in hf_state}  # their short name -> key in hf_state
    with torch.device("meta"):
        expected = GPT(cfg).state_dict()  # names and shapes only: meta tensors hold no data
    names = hf_names(cfg)
    missing = [names[ours] for ours in expected if names[ours] not in by_name]
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise CheckpointError(f"the checkpoint has no tensor {', '.join(missing[:3])}{more}; it does not match its "
                              f"config.json ({cfg.n_layer} layers, width {cfg.n_embd}): re-download the folder")
    used = set(names.values()) | ({"lm_head.weight"} if cfg.tie_weights else set())  # a tied head may be saved too
    extra = [name for name in by_name if name not in used and not name.endswith(SKIPPED)]
    if extra:
        raise CheckpointError(f"the checkpoint has tensors minillm's GPT has no place for: {', '.join(extra[:3])}"
                              f"{' ...' if len(extra) > 3 else ''}; is it a GPT2LMHeadModel checkpoint?")
    out, converted = {}, {}
    for ours, meta in expected.items():
        theirs = names[ours]
        if theirs not in converted:  # the tied head reuses tok_emb's tensor
            tensor = hf_state[by_name[theirs]]  # read now: one tensor at a time from a lazy mapping
            wanted = meta.shape[::-1] if is_conv1d(theirs) else meta.shape
            if tensor.shape != wanted:
                raise CheckpointError(f"{theirs} has shape {tuple(tensor.shape)}, but config.json implies "
                                      f"{tuple(wanted)}; the weights and the config are from different models")
            tensor = tensor.t() if is_conv1d(theirs) else tensor  # (in, out) -> (out, in)
            converted[theirs] = tensor.to(dtype=dtype, memory_format=torch.contiguous_format, copy=True)
        out[ours] = converted[theirs]
    return out


def from_hf(hf_config: dict, hf_state: Mapping[str, torch.Tensor], *, device: str | torch.device = "cpu",
            dtype: torch.dtype = torch.float32, **settings) -> GPT:
    """A minillm GPT with the weights of a Hugging Face GPT-2: its config.json (a dict) and state dict.

    E.g. from a model already in memory: `from_hf(hf.config.to_dict(), hf.state_dict())`. `settings`
    (attention, ops, dropout) as in `config_from_hf`. The model is returned in eval mode.
    """
    cfg = config_from_hf(hf_config, **settings)
    weights = convert_state_dict(hf_state, cfg, dtype)
    with torch.device("meta"):
        model = GPT(cfg)  # shapes only: no memory and no random init, every weight comes from the checkpoint
    model.load_state_dict(weights, assign=True)  # take the tensors as they are, without copying
    if cfg.tie_weights:
        # subtle: assign=True wrapped tok_emb's tensor in two Parameter objects, one per name, so gradients
        # and optimizers would treat them apart; one Parameter again, as GPT.__init__ ties them
        model.head.weight = model.tok_emb.weight
    return model.to(pick_device(str(device))).eval()


# ----------------------------------------------------------------------------
# Folders and the hub

class _SafetensorsWeights(Mapping):
    """The tensors of .safetensors files by name, each read from disk only when asked for."""

    def __init__(self, files: list[Path]):
        try:
            from safetensors import safe_open
        except ImportError:
            raise MissingPackageError(f"reading {files[0].name} needs the safetensors package: "
                                      f"{SAFETENSORS_HINT}") from None
        self._open = safe_open
        self._file_of = {}
        for file in files:
            try:
                with safe_open(file, framework="pt") as f:
                    self._file_of.update(dict.fromkeys(f.keys(), file))
            except Exception as e:  # safetensors raises its own error types for a truncated or foreign file
                raise CheckpointError(f"{file} is not a readable safetensors file ({e}); download it again") from None

    def __getitem__(self, key: str) -> torch.Tensor:
        with self._open(self._file_of[key], framework="pt") as f:
            return f.get_tensor(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._file_of)

    def __len__(self) -> int:
        return len(self._file_of)


def _shards(folder: Path, index_name: str) -> list[Path]:
    """The files a sharded checkpoint's index (e.g. model.safetensors.index.json) lists, checked to exist."""
    index = json.loads((folder / index_name).read_text())
    files = [folder / name for name in sorted(set(index.get("weight_map", {}).values()))]
    absent = [f.name for f in files if not f.is_file()]
    if not files or absent:
        raise CheckpointError(f"{folder / index_name} lists weight files that are not in the folder "
                              f"({', '.join(absent) or 'none listed'}); download the whole folder again")
    return files


def read_folder(folder: str | Path) -> tuple[dict, Mapping[str, torch.Tensor]]:
    """A Hugging Face model folder's config.json (as a dict) and its tensors by name.

    Weights are taken from model.safetensors if present, else pytorch_model.bin (each possibly sharded,
    with an .index.json); .bin files are read with torch.load(weights_only=True), which runs no code.
    """
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise CheckpointError(f"{folder} has no config.json; give the folder of a Hugging Face GPT-2 model "
                              f"(config.json and model.safetensors)")
    try:
        config = json.loads((folder / "config.json").read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{folder / 'config.json'} is not valid JSON ({e}); download it again") from None
    if (folder / "model.safetensors").is_file():
        return config, _SafetensorsWeights([folder / "model.safetensors"])
    if (folder / "model.safetensors.index.json").is_file():
        return config, _SafetensorsWeights(_shards(folder, "model.safetensors.index.json"))
    if (folder / "pytorch_model.bin").is_file():
        files = [folder / "pytorch_model.bin"]
    elif (folder / "pytorch_model.bin.index.json").is_file():
        files = _shards(folder, "pytorch_model.bin.index.json")
    else:
        raise CheckpointError(f"{folder} has config.json but no weights: expected model.safetensors or "
                              f"pytorch_model.bin; download them too")
    state = {}
    for file in files:
        try:
            state.update(torch.load(file, map_location="cpu", weights_only=True))
        except Exception as e:  # a truncated download, a pickle that holds code: say which file
            raise CheckpointError(f"{file} could not be read by torch.load(weights_only=True) "
                                  f"({type(e).__name__}); download it again, or use model.safetensors") from None
    return config, state


def _has_weights(folder: Path) -> bool:
    return any((folder / name).is_file() for name in ("model.safetensors", "model.safetensors.index.json",
                                                      "pytorch_model.bin", "pytorch_model.bin.index.json"))


def download(name: str) -> Path:
    """The local folder of a hub model ("gpt2" ... "gpt2-xl", or "owner/name"): config and weights only.

    Downloaded once into Hugging Face's cache (~/.cache/huggingface); offline, a cached copy is used.
    """
    repo = GPT2_MODELS.get(name, name)
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise MissingPackageError(f"downloading {name!r} needs huggingface_hub: {HUB_HINT}; or download the "
                                  f"folder on another machine and pass its path") from None
    try:
        folder = Path(snapshot_download(repo, allow_patterns=SAFETENSORS_FILES))  # not the TF, Flax, ONNX copies
        if not _has_weights(folder):  # an older upload with PyTorch's format only
            folder = Path(snapshot_download(repo, allow_patterns=TORCH_FILES))
    except Exception as e:  # offline, a firewall, a misspelt name: huggingface_hub raises many kinds
        reason = str(e).strip().splitlines()[0] if str(e).strip() else "no message"
        raise CheckpointError(f"could not download {repo!r} from the Hugging Face hub ({type(e).__name__}: "
                              f"{reason}). Run this on a machine with internet, or download the folder elsewhere "
                              f"(`hf download {repo} config.json model.safetensors --local-dir {name.split('/')[-1]}`"
                              f"; older huggingface_hub: `huggingface-cli download ...`) and pass its path") from e
    return folder


def from_pretrained(name_or_path: str | Path, *, device: str | torch.device = "cpu",
                    dtype: torch.dtype = torch.float32, **settings) -> GPT:
    """A GPT-2 checkpoint as a minillm GPT, in eval mode: a hub name ("gpt2" ... "gpt2-xl") or a local folder.

    A folder holds config.json and model.safetensors (or pytorch_model.bin), as `save_pretrained`
    writes them or `hf download` fetches them. `settings` (attention, ops, dropout) as in `config_from_hf`.
    """
    path = Path(name_or_path)
    if path.is_dir():
        folder = path
    elif path.exists():
        raise CheckpointError(f"{path} is a file; give the folder that holds config.json and the weights")
    elif str(name_or_path) in GPT2_MODELS:
        folder = download(str(name_or_path))
    elif re.fullmatch(r"[\w.-]+/[\w.-]+", str(name_or_path)):  # "owner/name" on the hub, or a mistyped folder
        try:
            folder = download(str(name_or_path))
        except CheckpointError as e:
            raise CheckpointError(f"no folder {path} here, and {e}") from e.__cause__
    else:
        raise CheckpointError(f"no folder {path}; give a folder with config.json and model.safetensors, "
                              f"or one of the hub names {list(GPT2_MODELS)}")
    config, state = read_folder(folder)
    return from_hf(config, state, device=device, dtype=dtype, **settings)
