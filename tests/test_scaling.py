"""Parameter and memory arithmetic: published model sizes from their shapes, and minillm's own GPT exactly."""

import pytest

from minillm.errors import ConfigError
from minillm.model import GPT, GPTConfig, ffn_width
from minillm.scaling import (GPT3_TABLE, LLAMA_TABLE, Shape, from_gpt_config, gpt3_shape, llama_ffn_width,
                             llama_shape, memory_bytes, param_count)

TOLERANCE = 0.03  # the papers round their counts; ours come from the exact shapes


def relative_error(computed: int, published: int) -> float:
    return (computed - published) / published


@pytest.mark.parametrize("row", GPT3_TABLE, ids=lambda r: r.name)
def test_gpt3_counts_match_the_paper(row):
    total = param_count(gpt3_shape(row))["total"]
    err = relative_error(total, row.params)
    assert abs(err) < TOLERANCE, f"{row.name}: computed {total:,} vs published {row.params:,} ({err:+.2%})"


@pytest.mark.parametrize("row", LLAMA_TABLE, ids=lambda r: r.name)
def test_llama_counts_match_the_paper(row):
    total = param_count(llama_shape(row))["total"]
    err = relative_error(total, row.params)
    assert abs(err) < TOLERANCE, f"{row.name}: computed {total:,} vs published {row.params:,} ({err:+.2%})"


def test_llama_7b_count_is_the_released_checkpoints():
    # the released 7B weights hold exactly this many numbers (embedding, 32 blocks, norm, head)
    assert param_count(llama_shape(LLAMA_TABLE[0]))["total"] == 6_738_415_616


def test_gpt3_table_keeps_the_papers_two_inconsistent_rows():
    # as printed in table 2.1: XL has 24 heads of 128 (3072) for d_model 2048; 13B has 40 x 128 (5120) for 5140
    mismatched = [r.name for r in GPT3_TABLE if r.n_head * r.d_head != r.d_model]
    assert mismatched == ["GPT-3 XL", "GPT-3 13B"]


def test_breakdown_adds_up_and_a_tied_head_counts_once():
    shape = gpt3_shape(GPT3_TABLE[0])
    parts = param_count(shape)
    assert parts["total"] == sum(v for k, v in parts.items() if k != "total")
    assert parts["head"] == 0
    assert parts["positions"] == 2048 * 768
    untied = param_count(Shape(**{**shape.__dict__, "tied": False}))
    assert untied["head"] == untied["embedding"] == 50257 * 768


def test_rope_has_no_position_table_and_rmsnorm_no_bias():
    parts = param_count(llama_shape(LLAMA_TABLE[0]))
    assert parts["positions"] == 0
    assert parts["norms"] == (2 * 32 + 1) * 4096  # one gamma per norm


@pytest.mark.parametrize("d_model, published", [(4096, 11008), (5120, 13824), (6656, 17920), (8192, 22016)])
def test_llama_ffn_width_matches_the_released_models(d_model, published):
    assert llama_ffn_width(d_model) == published


def test_llama_ffn_width_agrees_with_the_model():
    for d in (64, 96, 4096, 6656):
        cfg = GPTConfig(n_embd=d, n_head=1, activation="swiglu")
        assert llama_ffn_width(d) == ffn_width(cfg)


CONFIGS = {
    "default": dict(),
    "no-bias": dict(bias=False),
    "untied": dict(tie_weights=False),
    "no-bias-untied": dict(bias=False, tie_weights=False),
    "gpt2": GPTConfig.architecture("gpt2").to_dict(),
    "llama-gqa": GPTConfig.architecture("llama", n_embd=96, n_head=6, n_kv_head=2).to_dict(),
    "rmsnorm-bias-geglu": dict(norm="rmsnorm", activation="geglu", ffn_multiple_of=32),
    "post-norm-sinusoidal-mqa": dict(norm_position="post", position="sinusoidal", n_kv_head=1),
}


@pytest.mark.parametrize("settings", CONFIGS.values(), ids=CONFIGS.keys())
def test_count_equals_minillm_num_params_exactly(settings):
    cfg = GPTConfig.from_dict({**dict(vocab_size=97, block_size=16, n_layer=2), **settings})
    assert param_count(from_gpt_config(cfg))["total"] == GPT(cfg).num_params()


def test_memory_rule_of_thumb_4_gb_per_billion_in_fp32():
    assert memory_bytes(1e9) == 4e9
    assert memory_bytes(175e9) / 1e9 == pytest.approx(700)
    assert memory_bytes(65.2e9) / 1e9 == pytest.approx(260, rel=0.01)
    assert memory_bytes(1e9, "bf16") == memory_bytes(1e9, "fp16") == 2e9


def test_training_memory_adds_gradients_and_adam_moments():
    assert memory_bytes(1e9, "fp32", training=True) == 16e9          # 4 weights + 4 grads + 8 moments
    assert memory_bytes(1e9, "bf16", training=True) == 16e9          # 2 + 2 + 4 master + 8 moments
    assert memory_bytes(1e9, "fp32", training=True, optimizer="sgd") == 8e9
    assert memory_bytes(1e9, "bf16", training=True, optimizer="sgd") == 8e9


@pytest.mark.parametrize("call, match", [
    (lambda: memory_bytes(1e9, "int3"), "unknown dtype 'int3'"),
    (lambda: memory_bytes(1e9, optimizer="lion"), "unknown optimizer 'lion'"),
    (lambda: memory_bytes(0), "n_params must be a positive number"),
    (lambda: memory_bytes(-5.0), "n_params must be a positive number"),
    (lambda: llama_ffn_width(0), "d_model must be a positive integer"),
    (lambda: llama_ffn_width(4096, multiple_of=-1), "multiple_of must be a positive integer"),
    (lambda: Shape(vocab_size=10, context=4, n_layer=0, d_model=8, n_head=2, d_ff=32), "n_layer must be a positive"),
    (lambda: Shape(vocab_size=10, context=4, n_layer=1, d_model=-8, n_head=2, d_ff=32), "d_model must be a positive"),
    (lambda: Shape(vocab_size=10, context=4, n_layer=1, d_model=8, n_head=2, d_ff=32, norm="batchnorm"),
     "unknown norm 'batchnorm'"),
    (lambda: Shape(vocab_size=10, context=4, n_layer=1, d_model=8, n_head=2, d_ff=32, positions="alibi"),
     "unknown positions 'alibi'"),
    (lambda: Shape(vocab_size=10, context=4, n_layer=1, d_model=8, n_head=4, d_ff=32, n_kv_head=3),
     "n_kv_head=3 must be a positive divisor"),
])
def test_bad_input_gives_clear_errors(call, match):
    with pytest.raises(ConfigError, match=match):
        call()
