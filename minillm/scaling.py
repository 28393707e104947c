"""Parameter and memory arithmetic for Transformers (modules M3 and M7).

How big is a model with 96 layers of width 12,288, and how much memory does it need? Both answers
follow from the shapes alone, without building the model:

    parameters = token embedding + position table + n_layer x (attention + MLP + 2 norms)
                 + final norm + output head
    bytes      = parameters x bytes per parameter (x 4 with gradients and Adam's two moments)

Design choices, and the simplifications made for teaching:
- A `Shape` holds only what changes the count; everything else (dropout, activation kind, RoPE's
  base) adds no parameters and is left out. `from_gpt_config` turns a `GPTConfig` into a Shape, and
  the tests check the count equals `GPT(config).num_params()` exactly.
- The number of heads does not change the count of ordinary multi-head attention (the heads split
  the d_model channels between them); only fewer key/value heads (grouped-query, multi-query)
  shrink K and V. So the heads need not divide d_model here, which lets the GPT-3 rows stay as
  printed: the 13B row's d_model 5140 (40 heads x 128 = 5120) and the XL row's 24 heads x 128 (3072
  for a d_model of 2048) do not add up in the paper either.
- `GPT3_TABLE` and `LLAMA_TABLE` are the published rows (Brown et al. 2020, table 2.1; Touvron et
  al. 2023, table 2). Their counts come back within about 2% from the shapes: the papers round.
- Memory counts the model's state only (weights, gradients, optimizer moments), not the
  activations, which grow with batch size and context and which checkpointing trades for compute.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ConfigError
from .model import GATED, GPTConfig, ffn_width

NORMS = ("layernorm", "rmsnorm")
POSITIONS = ("learned", "sinusoidal", "rope")


@dataclass(frozen=True)
class Shape:
    """The sizes and choices of a decoder-only Transformer that decide its parameter count."""

    vocab_size: int           # rows of the token embedding (and of an untied output head)
    context: int              # positions in a learned position table; a fixed table or RoPE adds none
    n_layer: int              # blocks; attention, MLP and two norms each
    d_model: int              # width of the residual stream; every matrix has it on one side
    n_head: int               # attention heads; they split d_model, so they change nothing unless n_kv_head
    d_ff: int                 # the MLP's hidden width: 4 d_model (GPT), or 8/3 d_model rounded (LLaMA)
    n_kv_head: int | None = None  # key/value heads: None = n_head; fewer make K and V narrower (GQA, MQA)
    norm: str = "layernorm"   # "layernorm" has a scale and (with bias) a shift per channel; "rmsnorm" a scale only
    positions: str = "learned"  # "learned" table (GPT), fixed "sinusoidal" table, or "rope" (rotations, no weights)
    bias: bool = True         # biases in the linear layers and LayerNorms (GPT); LLaMA has none
    tied: bool = True         # the output head reuses the token embedding (GPT); LLaMA's head is its own matrix
    gated: bool = False       # a gated MLP (SwiGLU, GeGLU) has three matrices instead of two
    final_norm: bool = True   # pre-norm models normalise once more before the head; post-norm blocks end in one

    def __post_init__(self):
        for name in ("vocab_size", "context", "n_layer", "d_model", "n_head", "d_ff"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if self.n_kv_head is not None:
            if self.n_kv_head < 1 or self.n_head % self.n_kv_head:
                raise ConfigError(f"n_kv_head={self.n_kv_head} must be a positive divisor of n_head={self.n_head}: "
                                  f"each key/value head serves n_head // n_kv_head query heads")
            if self.n_kv_head != self.n_head and self.d_model % self.n_head:
                raise ConfigError(f"with fewer key/value heads the head size d_model // n_head must be whole; "
                                  f"got d_model={self.d_model}, n_head={self.n_head}")
        if self.norm not in NORMS:
            raise ConfigError(f"unknown norm {self.norm!r}; choose one of {list(NORMS)}")
        if self.positions not in POSITIONS:
            raise ConfigError(f"unknown positions {self.positions!r}; choose one of {list(POSITIONS)}")

    @property
    def kv_width(self) -> int:
        """Channels of K (and of V): d_model, or n_kv_head heads of d_model // n_head with GQA/MQA."""
        if self.n_kv_head is None or self.n_kv_head == self.n_head:
            return self.d_model
        return self.n_kv_head * (self.d_model // self.n_head)


def param_count(shape: Shape) -> dict[str, int]:
    """Parameters of each part of the model, counted from the shapes, and their total.

    Attention, MLP and norms are summed over all layers; "norms" includes the final norm. A tied head
    counts 0: its matrix is the token embedding, already counted once.

    >>> param_count(Shape(vocab_size=10, context=4, n_layer=1, d_model=2, n_head=1, d_ff=8))["total"]
    106
    """
    d, L = shape.d_model, shape.n_layer

    def linear(d_in: int, d_out: int) -> int:  # weight (d_out, d_in), plus a bias of d_out
        return d_in * d_out + (d_out if shape.bias else 0)

    # q (d), k and v (kv_width each) from one fused matrix, then the output projection
    attention = linear(d, d + 2 * shape.kv_width) + linear(d, d)
    # plain: proj(act(fc x)); gated: proj(act(gate x) * up x), one more d -> d_ff matrix
    mlp = (2 if shape.gated else 1) * linear(d, shape.d_ff) + linear(shape.d_ff, d)
    # LayerNorm: gamma, and beta with bias; RMSNorm: gamma only
    norm = d * (2 if shape.norm == "layernorm" and shape.bias else 1)
    n_norms = 2 * L + (1 if shape.final_norm else 0)

    parts = {
        "embedding": shape.vocab_size * d,
        "positions": shape.context * d if shape.positions == "learned" else 0,
        "attention": L * attention,
        "mlp": L * mlp,
        "norms": n_norms * norm,
        "head": 0 if shape.tied else d * shape.vocab_size,  # no bias on the head, in GPT and LLaMA alike
    }
    parts["total"] = sum(parts.values())
    return parts


def from_gpt_config(cfg: GPTConfig) -> Shape:
    """The Shape of minillm's own `GPT(cfg)`, so that param_count(...)["total"] == GPT(cfg).num_params()."""
    return Shape(vocab_size=cfg.vocab_size, context=cfg.block_size, n_layer=cfg.n_layer, d_model=cfg.n_embd,
                 n_head=cfg.n_head, d_ff=ffn_width(cfg), n_kv_head=cfg.n_kv_head, norm=cfg.norm,
                 positions=cfg.position, bias=cfg.bias, tied=cfg.tie_weights, gated=cfg.activation in GATED,
                 final_norm=cfg.norm_position == "pre")


def llama_ffn_width(d_model: int, multiple_of: int = 256) -> int:
    """LLaMA's SwiGLU hidden width: 2/3 of 4 d_model, rounded up to a multiple of `multiple_of`.

    Three matrices of 8/3 d hold as many weights as two of 4 d; the rounding keeps the matrices
    friendly to GPU tiles. (Same rule as `minillm.model.ffn_width` for gated MLPs.)

    >>> [llama_ffn_width(d) for d in (4096, 5120, 6656, 8192)]
    [11008, 13824, 17920, 22016]
    """
    for name, value in (("d_model", d_model), ("multiple_of", multiple_of)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    hidden = 8 * d_model // 3                          # int(2 * 4 d / 3), as LLaMA's code writes it
    return -(-hidden // multiple_of) * multiple_of     # ceil to the multiple


# Bytes per number for each storage type.
DTYPE_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}
# Numbers of optimizer state per parameter: Adam(W) keeps two moments (m, v); plain SGD none.
OPTIMIZER_STATES = {"adamw": 2, "sgd": 0}


def memory_bytes(n_params: int | float, dtype: str = "fp32", training: bool = False,
                 optimizer: str = "adamw") -> int:
    """Bytes to hold a model's state: its weights, and for training also gradients and optimizer moments.

    Inference: one number per parameter in `dtype` (fp32: 4 bytes, bf16/fp16: 2).

    Training, in fp32: weights, gradients and each optimizer state in fp32, so 4 + 4 + 2 x 4 = 16
    bytes per parameter with AdamW.

    Training, in bf16/fp16 (the convention here is mixed precision as in ZeRO, Rajbhandari et al.
    2020): weights and gradients in 16 bits for the forward and backward passes (2 + 2 bytes), while
    the optimizer keeps in fp32 a master copy of the weights and its moments (4 + 2 x 4 with AdamW),
    because small updates vanish when added to 16-bit weights. Also 16 bytes per parameter with
    AdamW: mixed precision saves time and activation memory, not state.

    Activations, buffers and framework overhead are not counted. Bytes, not GiB: 1 GB = 1e9 bytes.

    >>> memory_bytes(175e9) / 1e9     # GPT-3 in fp32: about 4 GB per 1B parameters
    700.0
    >>> memory_bytes(1e9, "bf16", training=True) / 1e9
    16.0
    """
    if isinstance(n_params, bool) or not isinstance(n_params, (int, float)) or not n_params > 0:
        raise ConfigError(f"n_params must be a positive number, got {n_params!r}")
    if dtype not in DTYPE_BYTES:
        raise ConfigError(f"unknown dtype {dtype!r}; choose one of {list(DTYPE_BYTES)}")
    if optimizer not in OPTIMIZER_STATES:
        raise ConfigError(f"unknown optimizer {optimizer!r}; choose one of {list(OPTIMIZER_STATES)}")
    width = DTYPE_BYTES[dtype]
    if not training:
        per_param = width
    else:
        master = 0 if dtype == "fp32" else 4  # mixed precision: an fp32 copy of the weights for the optimizer
        per_param = width + width + master + 4 * OPTIMIZER_STATES[optimizer]  # weights, grads, master, moments
    return round(n_params * per_param)


@dataclass(frozen=True)
class GPT3Row:
    """One model of GPT-3 (Brown et al. 2020, table 2.1); context 2048, 300B training tokens for all."""

    name: str
    params: int          # as published (rounded)
    n_layer: int
    d_model: int
    n_head: int
    d_head: int
    batch_tokens: float  # tokens per batch
    lr: float            # peak learning rate


GPT3_TABLE = (
    GPT3Row("GPT-3 Small", 125_000_000, 12, 768, 12, 64, 0.5e6, 6.0e-4),
    GPT3Row("GPT-3 Medium", 350_000_000, 24, 1024, 16, 64, 0.5e6, 3.0e-4),
    GPT3Row("GPT-3 Large", 760_000_000, 24, 1536, 16, 96, 0.5e6, 2.5e-4),
    # subtle: 24 heads x 128 = 3072, not 2048, as printed in the paper; the count does not use d_head
    GPT3Row("GPT-3 XL", 1_300_000_000, 24, 2048, 24, 128, 1e6, 2.0e-4),
    GPT3Row("GPT-3 2.7B", 2_700_000_000, 32, 2560, 32, 80, 1e6, 1.6e-4),
    GPT3Row("GPT-3 6.7B", 6_700_000_000, 32, 4096, 32, 128, 2e6, 1.2e-4),
    # subtle: 5140 as printed in the paper; 40 heads x 128 would be 5120. Kept as printed: the count
    # does not depend on the heads dividing d_model (and moves by under 1% either way).
    GPT3Row("GPT-3 13B", 13_000_000_000, 40, 5140, 40, 128, 2e6, 1.0e-4),
    GPT3Row("GPT-3 175B", 175_000_000_000, 96, 12288, 96, 128, 3.2e6, 0.6e-4),
)
GPT3_VOCAB, GPT3_CONTEXT = 50257, 2048  # GPT-2's BPE vocabulary; context length of every GPT-3 model


@dataclass(frozen=True)
class LlamaRow:
    """One model of LLaMA (Touvron et al. 2023, table 2); context 2048 (unused by RoPE's count)."""

    name: str
    params: int          # as published
    d_model: int         # "dimension"
    n_head: int
    n_layer: int
    lr: float            # peak learning rate
    batch_tokens: float  # tokens per batch
    train_tokens: float  # tokens seen in training


LLAMA_TABLE = (
    LlamaRow("LLaMA 6.7B", 6_700_000_000, 4096, 32, 32, 3.0e-4, 4e6, 1.0e12),
    LlamaRow("LLaMA 13.0B", 13_000_000_000, 5120, 40, 40, 3.0e-4, 4e6, 1.0e12),
    LlamaRow("LLaMA 32.5B", 32_500_000_000, 6656, 52, 60, 1.5e-4, 4e6, 1.4e12),
    LlamaRow("LLaMA 65.2B", 65_200_000_000, 8192, 64, 80, 1.5e-4, 4e6, 1.4e12),
)
LLAMA_VOCAB, LLAMA_CONTEXT = 32000, 2048  # SentencePiece BPE vocabulary; training context


def gpt3_shape(row: GPT3Row) -> Shape:
    """GPT-3's layout: GPT-2's (learned positions, LayerNorm and biases, tied head), a 4x MLP."""
    return Shape(vocab_size=GPT3_VOCAB, context=GPT3_CONTEXT, n_layer=row.n_layer, d_model=row.d_model,
                 n_head=row.n_head, d_ff=4 * row.d_model)


def llama_shape(row: LlamaRow) -> Shape:
    """LLaMA's layout: RoPE, RMSNorm, SwiGLU of width llama_ffn_width(d), no biases, an untied head."""
    return Shape(vocab_size=LLAMA_VOCAB, context=LLAMA_CONTEXT, n_layer=row.n_layer, d_model=row.d_model,
                 n_head=row.n_head, d_ff=llama_ffn_width(row.d_model), norm="rmsnorm", positions="rope",
                 bias=False, tied=False, gated=True)
