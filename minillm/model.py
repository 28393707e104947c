"""A decoder-only Transformer language model (GPT) from scratch, with the design choices of module M3.

    tokens (B, T) -> token embeddings (+ position embeddings) (B, T, C)
                  -> n_layer x Block: x = x + attn(norm(x)); x = x + mlp(norm(x))
                  -> final norm -> linear head -> logits (B, T, vocab_size)

Design choices, and the simplifications made for teaching:
- The defaults are GPT-2's layout: pre-norm residual blocks, learned absolute
  positions, a GELU MLP four times wider than the model, optional biases, and
  the output head tied to the token embedding (one matrix for "id -> vector"
  and "vector -> id").
- Every other choice of module M3 is one `GPTConfig` setting: `norm`
  (LayerNorm, RMSNorm), `norm_position` (pre, post), `activation` (GELU,
  GPT-2's tanh GELU, ReLU, SiLU, or the gated SwiGLU and GeGLU MLPs),
  `position` (learned, sinusoidal, RoPE), `n_kv_head` (multi-head,
  grouped-query, multi-query attention). `GPTConfig.architecture("gpt2" |
  "llama", ...)` sets a family's choices at any size. Norms and positions are
  written from scratch in `minillm.layers`.
- Attention is looked up by name in `minillm.attention.ATTENTION`: the plain
  reference, PyTorch's fused kernel, the Triton FlashAttention kernels of
  module M4 (`minillm.kernels`), or "auto". With fewer key/value heads
  (grouped-query attention) the backend receives k and v unrepeated.
  The same blocks serve the other two families (`minillm.families`): with
  `causal=False` a block attends both ways (an encoder, BERT) and with
  `cross=True` it also attends to an encoder's output (a decoder, T5).
- `ops` picks who computes the norms, activations and the loss: PyTorch's
  fused ops ("torch", the fast path) or minillm's own from
  `minillm.functional` and `minillm.layers` ("scratch", the readable path;
  with `attention="reference"` every step of the model is written out here).
  The tests hold the two paths equal, values and gradients.
- Weights start as in GPT-2: N(0, 0.02) for linear layers and token
  embeddings, N(0, 0.01) for position embeddings, zero biases, and the
  projections that write into the residual stream scaled by 1/sqrt(2 n_layer)
  so the stream's variance does not grow with depth.

Dimension names used throughout the package: B batch, T time (sequence), C
channels (n_embd), nh heads, hs head size (C // nh), V vocabulary.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import config as _config
from . import functional, layers
from .attention import ATTENTION, attention_weights
from .errors import ConfigError
from .layers import Rotary, sinusoidal_positions

OPS = ("torch", "scratch")  # GPTConfig.ops: PyTorch's fused ops, or minillm's own; each registry lists both
# name -> (PyTorch's, minillm's from scratch). PyTorch >= 2.3 has no fused RMSNorm that takes `bias`: ours twice.
NORMS = {"layernorm": (nn.LayerNorm, layers.LayerNorm), "rmsnorm": (layers.RMSNorm, layers.RMSNorm)}
ACTIVATIONS = {
    "gelu": (F.gelu, functional.gelu),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), lambda x: functional.gelu(x, approximate="tanh")),
    "relu": (F.relu, functional.relu),
    "silu": (F.silu, functional.silu),
}
GATED = {"swiglu": "silu", "geglu": "gelu"}  # gated MLPs, by the non-linearity of their gate
POSITIONS = ("learned", "sinusoidal", "rope")  # see minillm.layers
IGNORE_INDEX = -100  # a target with this id adds nothing to the loss (masked-LM, fine-tuning, padding)


@dataclass
class GPTConfig:
    vocab_size: int = 65         # number of token ids; taken from the tokenizer
    block_size: int = 64         # context length: the most tokens the model sees at once
    n_layer: int = 4             # Transformer blocks stacked on the residual stream
    n_head: int = 4              # attention heads per block; n_embd must divide evenly
    n_kv_head: int | None = None  # key/value heads: None = n_head (multi-head), 1 = multi-query, else grouped
    n_embd: int = 128            # width of the residual stream (d_model)
    dropout: float = 0.0         # on attention weights and residual branches; 0 for small data
    bias: bool = True            # biases in linear layers and norms, as GPT-2 has them
    tie_weights: bool = True     # share the token embedding with the output head (GPT-2)
    attention: str = "sdpa"      # "reference", "sdpa" (PyTorch's fused kernel), "triton" (M4) or "auto"
    norm: str = "layernorm"      # "layernorm" or "rmsnorm"
    norm_position: str = "pre"   # "pre": x + f(norm(x)) (GPT-2, LLaMA); "post": norm(x + f(x)) (the 2017 Transformer)
    activation: str = "gelu"     # the MLP's non-linearity: "gelu", "gelu_tanh" (GPT-2's), "relu", "silu",
                                 # or a gated MLP: "swiglu" (LLaMA), "geglu"
    ffn_multiple_of: int = 256   # a gated MLP's width, 8/3 n_embd, is rounded up to a multiple of this
    position: str = "learned"    # "learned" table (GPT-2), fixed "sinusoidal" table, or "rope" (rotated q, k)
    ops: str = "torch"           # norms, activations, loss: "torch" (PyTorch's fused ops) or "scratch" (minillm's)

    def __post_init__(self):
        _config.check_types(self)
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if self.n_embd % self.n_head:
            fits = [h for h in range(1, self.n_embd + 1) if self.n_embd % h == 0]
            near = sorted(fits, key=lambda h: abs(h - self.n_head))[:2]
            raise ConfigError(f"n_embd={self.n_embd} is not divisible by n_head={self.n_head}: each head gets "
                              f"n_embd // n_head channels; use n_head in {sorted(near)} or "
                              f"n_embd={self.n_head * max(1, round(self.n_embd / self.n_head))}")
        if self.position == "rope" and self.head_size % 2:
            raise ConfigError(f"RoPE rotates pairs of channels, so the head size n_embd // n_head must be even; "
                              f"got {self.n_embd} // {self.n_head} = {self.head_size}")
        if self.position == "sinusoidal" and self.n_embd % 2:
            raise ConfigError(f"sinusoidal positions pair channels (sin, cos): n_embd must be even, got {self.n_embd}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must lie in [0, 1), got {self.dropout}")
        if self.n_kv_head is not None and (self.n_kv_head < 1 or self.n_head % self.n_kv_head):
            raise ConfigError(f"n_head={self.n_head} is not divisible by n_kv_head={self.n_kv_head}: each key/value "
                              f"head serves n_head // n_kv_head query heads; use a divisor of {self.n_head}")
        if self.norm_position not in ("pre", "post"):
            raise ConfigError(f"unknown norm_position {self.norm_position!r}; choose 'pre' or 'post'")
        if self.ffn_multiple_of < 1:
            raise ConfigError(f"ffn_multiple_of must be a positive integer, got {self.ffn_multiple_of!r}")
        for name, options in (("attention", ATTENTION), ("norm", NORMS), ("ops", OPS),
                              ("activation", {**ACTIVATIONS, **GATED}), ("position", POSITIONS)):
            if getattr(self, name) not in options:
                raise ConfigError(f"unknown {name} {getattr(self, name)!r}; choose one of {sorted(options)}")

    @property
    def head_size(self) -> int:
        return self.n_embd // self.n_head

    @property
    def kv_heads(self) -> int:
        return self.n_kv_head or self.n_head

    def make_norm(self) -> nn.Module:
        return NORMS[self.norm][OPS.index(self.ops)](self.n_embd, bias=self.bias)

    @classmethod
    def architecture(cls, name: str, **settings) -> "GPTConfig":
        """A config with the design choices of a published family (`ARCHITECTURES`), sizes from `settings`.

        >>> GPTConfig.architecture("llama", n_embd=64, n_head=4, n_kv_head=2).norm
        'rmsnorm'
        """
        if name not in ARCHITECTURES:
            raise ConfigError(f"unknown architecture {name!r}; choose one of {sorted(ARCHITECTURES)}")
        return cls.from_dict({**ARCHITECTURES[name], **settings})

    @classmethod
    def from_dict(cls, d: dict) -> "GPTConfig":
        """Build a config from a dict; unknown keys raise ConfigError."""
        return _config.from_dict(cls, d)

    def to_dict(self) -> dict:
        return asdict(self)


# The design choices of two families; sizes (layers, width, heads, vocabulary, context) are chosen apart.
ARCHITECTURES = {
    # learned positions, LayerNorm with biases, GPT-2's tanh GELU, pre-norm, the head tied to the embedding
    "gpt2": dict(position="learned", norm="layernorm", activation="gelu_tanh", norm_position="pre", bias=True,
                 tie_weights=True),
    # rotary positions, RMSNorm, SwiGLU, no biases, a separate output head; grouped-query heads allowed
    "llama": dict(position="rope", norm="rmsnorm", activation="swiglu", norm_position="pre", bias=False,
                  tie_weights=False),
}


class Attention(nn.Module):
    """Multi-head attention: self-attention (causal for a decoder, both ways for an encoder) or cross-attention.

    Self-attention takes queries, keys and values from the same sequence x. Cross-attention
    (`cross=True`) takes the queries from x and the keys and values from `context`, an encoder's
    output: each target position looks at the whole source sentence. Set `keep_weights` to keep the
    last attention pattern, (B, nh, Tq, Tk), in `weights` (for plots; it costs a second pass).
    """

    def __init__(self, cfg: GPTConfig, causal: bool = True, cross: bool = False):
        super().__init__()
        self.n_head, self.n_kv_head, self.head_size = cfg.n_head, cfg.kv_heads, cfg.head_size
        self.causal, self.cross, self.dropout = causal and not cross, cross, cfg.dropout
        self.attend = ATTENTION[cfg.attention]
        C, kv_width = cfg.n_embd, cfg.kv_heads * cfg.head_size  # fewer key/value heads (GQA, MQA): narrower K, V
        if cross:  # queries from x, keys and values from the context
            self.q = nn.Linear(C, C, bias=cfg.bias)
            self.kv = nn.Linear(C, 2 * kv_width, bias=cfg.bias)
        else:
            self.qkv = nn.Linear(C, C + 2 * kv_width, bias=cfg.bias)  # all heads' q, k, v at once
        self.proj = nn.Linear(C, C, bias=cfg.bias)  # mix the heads back together
        self.resid_dropout = nn.Dropout(cfg.dropout)
        # RoPE rotates by position within one sequence; across two sequences there is no relative position
        self.rotary = Rotary(cfg.head_size, cfg.block_size) if cfg.position == "rope" and not cross else None
        self.keep_weights, self.weights = False, None

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, T, C); context (B, S, C) for cross-attention; mask broadcastable to (B, nh, T, keys)."""
        B, T, C = x.shape
        hs, n_kv = self.head_size, self.n_kv_head
        if self.cross:
            if context is None:
                raise ValueError("cross-attention needs a context: the encoder's output, (B, S, C)")
            q = self.q(x)
            k, v = self.kv(context).split(n_kv * hs, dim=2)  # 2 x (B, S, n_kv * hs)
        else:
            q, k, v = self.qkv(x).split([C, n_kv * hs, n_kv * hs], dim=2)  # (B, T, C), 2 x (B, T, n_kv * hs)
        # split channels into heads: (B, T, C) -> (B, T, nh, hs) -> (B, nh, T, hs)
        q = q.view(B, T, self.n_head, hs).transpose(1, 2)
        k = k.view(B, -1, n_kv, hs).transpose(1, 2)  # (B, n_kv, keys, hs)
        v = v.view(B, -1, n_kv, hs).transpose(1, 2)
        if self.rotary is not None:  # RoPE: positions enter as rotations of q and k, not as added vectors
            q, k = self.rotary(q), self.rotary(k)
        # with fewer key/value heads, each serves n_head // n_kv query heads: the backend repeats them (expand_kv)
        if self.keep_weights:
            self.weights = attention_weights(q, k, mask, self.causal).detach()
        y = self.attend(q, k, v, mask=mask, causal=self.causal,
                        dropout_p=self.dropout if self.training else 0.0)  # (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # heads side by side again
        return self.resid_dropout(self.proj(y))


def ffn_width(cfg: GPTConfig) -> int:
    """The MLP's hidden width: 4 C, or for a gated MLP 8/3 C rounded up to a multiple (LLaMA: 11,008 at 4,096).

    A gated MLP has three matrices instead of two; 2/3 of the width keeps the parameter count about equal.

    >>> ffn_width(GPTConfig(n_embd=4096, n_head=32, activation="swiglu"))
    11008
    """
    if cfg.activation not in GATED:
        return 4 * cfg.n_embd
    return -(-8 * cfg.n_embd // 3 // cfg.ffn_multiple_of) * cfg.ffn_multiple_of  # ceil to the multiple


class MLP(nn.Module):
    """Position-wise feed-forward network: widen, non-linearity, project back.

    Plain:  proj(act(fc(x))), 4x wider (GPT-2).
    Gated:  proj(act(gate(x)) * up(x)), where the gate decides, channel by channel, how much of `up`
            passes (SwiGLU with SiLU, GeGLU with GELU; LLaMA uses SwiGLU).
    """

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        hidden = ffn_width(cfg)
        self.gated = cfg.activation in GATED
        self.fc = nn.Linear(cfg.n_embd, hidden, bias=cfg.bias)
        self.up = nn.Linear(cfg.n_embd, hidden, bias=cfg.bias) if self.gated else None
        self.act = ACTIVATIONS[GATED.get(cfg.activation, cfg.activation)][OPS.index(cfg.ops)]
        self.proj = nn.Linear(hidden, cfg.n_embd, bias=cfg.bias)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.fc(x))          # (B, T, hidden); for a gated MLP, the gate
        if self.gated:
            h = h * self.up(x)            # the gate scales the "up" projection element by element
        return self.dropout(self.proj(h))


class Block(nn.Module):
    """A residual block: communicate (attention), then compute (MLP).

    Pre-norm normalises each sub-layer's input and leaves the residual stream untouched, so gradients
    flow straight through the additions (GPT-2, LLaMA); post-norm normalises after each addition (the
    2017 Transformer, BERT) and usually needs a learning-rate warmup to train at all when deep.
    `causal=False` attends both ways (an encoder); `cross=True` adds a cross-attention sub-layer
    between self-attention and the MLP that reads `context` (an encoder-decoder's decoder).
    """

    def __init__(self, cfg: GPTConfig, causal: bool = True, cross: bool = False):
        super().__init__()
        self.norm1 = cfg.make_norm()
        self.attn = Attention(cfg, causal=causal)
        if cross:
            self.norm_cross = cfg.make_norm()
            self.cross_attn = Attention(cfg, cross=True)
        self.norm2 = cfg.make_norm()
        self.mlp = MLP(cfg)
        self.post = cfg.norm_position == "post"

    def _residual(self, x: torch.Tensor, norm: nn.Module, f) -> torch.Tensor:
        return norm(x + f(x)) if self.post else x + f(norm(x))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, context: torch.Tensor | None = None,
                context_mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, T, C); `mask` for self-attention, `context` (B, S, C) and `context_mask` for cross-attention."""
        x = self._residual(x, self.norm1, lambda h: self.attn(h, mask=mask))
        if hasattr(self, "cross_attn"):
            x = self._residual(x, self.norm_cross, lambda h: self.cross_attn(h, context, mask=context_mask))
        return self._residual(x, self.norm2, self.mlp)


class GPT(nn.Module):
    """The whole language model: token ids in, next-token logits (and loss) out.

    `causal` and `cross` go to every block; the defaults make the GPT. `minillm.families` builds a
    BERT-style encoder (`causal=False`) and an encoder-decoder's decoder (`cross=True`) from this class.
    """

    def __init__(self, cfg: GPTConfig, causal: bool = True, cross: bool = False):
        super().__init__()
        self.config = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.pos_emb = nn.Embedding(cfg.block_size, cfg.n_embd) if cfg.position == "learned" else None
        if cfg.position == "sinusoidal":  # fixed, so a buffer: not trained, not saved in checkpoints
            self.register_buffer("pos_table", sinusoidal_positions(cfg.block_size, cfg.n_embd), persistent=False)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg, causal=causal, cross=cross) for _ in range(cfg.n_layer))
        # post-norm blocks already end in a norm; pre-norm leaves the stream unnormalised until here
        self.norm_f = cfg.make_norm() if cfg.norm_position == "pre" else nn.Identity()
        self.head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        if cfg.tie_weights:
            self.head.weight = self.tok_emb.weight  # one (V, C) matrix, used twice
        self.apply(self._init_weights)
        # GPT-2: scale the residual projections by 1/sqrt(N), N = 2 per block (attn + mlp; 3 with cross-attention)
        for block in self.blocks:
            projs = [block.attn.proj, block.mlp.proj] + ([block.cross_attn.proj] if cross else [])
            for proj in projs:
                nn.init.normal_(proj.weight, mean=0.0, std=0.02 / math.sqrt(len(projs) * cfg.n_layer))

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            std = 0.01 if module is self.pos_emb else 0.02
            nn.init.normal_(module.weight, mean=0.0, std=std)

    def embed(self, idx: torch.Tensor) -> torch.Tensor:
        """(B, T) token ids -> (B, T, C): token embeddings plus positions (none added with RoPE)."""
        if idx.ndim != 2 or idx.dtype not in (torch.int64, torch.int32):
            raise ValueError(f"idx must be a (batch, time) tensor of integer token ids, "
                             f"got shape {tuple(idx.shape)} and dtype {idx.dtype}")
        T = idx.size(1)
        if T > self.config.block_size:
            raise ValueError(f"sequence of {T} tokens is longer than the model's block_size "
                             f"{self.config.block_size}; crop the input to its last {self.config.block_size} tokens")
        x = self.tok_emb(idx)  # (B, T, C)
        if self.config.position == "learned":
            x = x + self.pos_emb(torch.arange(T, device=idx.device))
        elif self.config.position == "sinusoidal":
            x = x + self.pos_table[:T]
        return self.drop(x)  # with RoPE, positions enter inside attention instead

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy over the positions whose target is not IGNORE_INDEX, in float32."""
        if targets.shape != logits.shape[:-1]:
            raise ValueError(f"targets must have the shape of idx {tuple(logits.shape[:-1])}, "
                             f"got {tuple(targets.shape)}")
        if self.config.ops == "scratch":
            return functional.cross_entropy(logits.float(), targets, ignore_index=IGNORE_INDEX)
        return F.cross_entropy(logits.flatten(0, -2).float(), targets.flatten(), ignore_index=IGNORE_INDEX)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        """idx: (B, T) token ids. Returns (logits (B, T, V), mean cross-entropy or None).

        A target of IGNORE_INDEX (-100) leaves its position out of the loss.
        """
        x = self.embed(idx)
        for block in self.blocks:
            x = block(x)
        logits = self.head(self.norm_f(x))  # (B, T, V)
        # GPT's objective: maximise sum_i log P(u_i | u_<i), i.e. minimise cross-entropy
        return logits, (None if targets is None else self.loss(logits, targets))

    def num_params(self, exclude_embeddings: bool = False) -> int:
        """Number of parameters (a tied matrix counts once).

        exclude_embeddings drops the token and position tables: Kaplan et al.
        count N that way in their scaling laws.
        """
        n = sum(p.numel() for p in self.parameters())
        if exclude_embeddings:
            n -= self.tok_emb.weight.numel() + (self.pos_emb.weight.numel() if self.pos_emb is not None else 0)
        return n


@torch.no_grad()
def attention_maps(model: nn.Module, idx: torch.Tensor, **forward_kwargs) -> torch.Tensor:
    """Every self-attention layer's weights for one forward pass of `model` (in eval mode): (n_layer, B, nh, T, T).

    Row i of a map is query i's distribution over the keys; works for any model built from `Attention`
    (a GPT, an encoder). The weights come from `attention_weights`, whatever backend the model runs.
    """
    layers = [m for m in model.modules() if isinstance(m, Attention) and not m.cross]
    was_training = model.training
    model.eval()
    for layer in layers:
        layer.keep_weights = True
    try:
        model(idx, **forward_kwargs)
        return torch.stack([layer.weights for layer in layers])
    finally:
        for layer in layers:
            layer.keep_weights, layer.weights = False, None
        model.train(was_training)

