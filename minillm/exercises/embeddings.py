"""Checker for the model's first step (notebook 01, the bridge to module M3): token + position embeddings.

The reference is the tiny GPT itself: a forward hook catches what its
`forward` computes as `tok_emb(idx) + pos_emb(pos)`, the input of its
dropout layer, and the student's function gets the same two tables as
plain tensors.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from ..model import GPT, GPTConfig
from ._core import Case, Mismatch, Mistake, _as_tensor, known_mistake, run_cases


def solution_embed(ids, wte, wpe):
    """wte[ids] + wpe[arange(T)] for ids (B, T): what `GPT.forward` does with its two nn.Embedding tables."""
    T = ids.size(-1)
    return F.embedding(ids, wte) + F.embedding(torch.arange(T, device=ids.device), wpe)  # (B, T, C)


EMBED_MISTAKES = [
    Mistake(lambda ids, wte, wpe: wte[ids],
            "add the position embeddings too: without them a token gets the same vector wherever it stands, "
            "and the model can't tell 'dog bites man' from 'man bites dog'"),
    Mistake(lambda ids, wte, wpe: wte[ids] + wpe[ids],
            "index wpe by position, torch.arange(T), not by token id: row t of wpe is the vector for position t"),
    Mistake(lambda ids, wte, wpe: wte[ids] + wpe[0],
            "each position t gets its own row wpe[t]: add wpe[torch.arange(T)], shape (T, C), which broadcasts "
            "over the batch"),
    Mistake(lambda ids, wte, wpe: wte[ids] * wpe[torch.arange(ids.size(-1))],
            "add the two vectors (GPT-2 sums the token and the position embedding), don't multiply them"),
    Mistake(lambda ids, wte, wpe: wte.detach()[ids] + wpe.detach()[torch.arange(ids.size(-1))],
            "keep the lookup in autograd: indexing wte.data or wte.detach() (or working under torch.no_grad) "
            "cuts the gradient, and the embeddings would never learn"),
]


def _embed_error_hint(error: BaseException) -> str | None:
    message = str(error)
    if isinstance(error, RuntimeError) and "must match the size of tensor" in message:
        return ("wpe has one row per position up to block_size; a sequence of T tokens uses only the first T "
                "rows, wpe[torch.arange(T)] (or wpe[:T])")
    if isinstance(error, IndexError) and "out of bounds" in message:
        return "index wpe with the positions 0 .. T-1, torch.arange(T), not with token ids (which go up to V-1)"
    return None


def _gpt(seed: int = 0) -> GPT:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return GPT(GPTConfig(vocab_size=13, block_size=8, n_layer=1, n_head=2, n_embd=6)).eval()


def _model_embedding(model: GPT, ids: torch.Tensor) -> torch.Tensor:
    """What the model's forward computes before dropout: tok_emb(ids) + pos_emb(positions)."""
    caught = []
    hook = model.drop.register_forward_hook(lambda module, inputs, output: caught.append(inputs[0]))
    try:
        with torch.no_grad():
            model(ids)
    finally:
        hook.remove()
    return caught[0]


def check_embed(fn: Callable) -> None:
    """fn(ids (B, T), wte (V, C), wpe (block_size, C)) -> (B, T, C) = wte[ids] + wpe[arange(T)].

    Compared with the tiny GPT's own embedding step; the last case checks
    that gradients reach both tables.
    """
    model = _gpt()
    wte, wpe = model.tok_emb.weight.detach(), model.pos_emb.weight.detach()  # (13, 6), (8, 6)
    C = wte.size(1)

    def answer(impl, ids, wte_in, wpe_in):
        B, T = ids.shape
        out = _as_tensor(impl(ids.clone(), wte_in, wpe_in), f"a ({B}, {T}, {C}) tensor")
        if out.shape != (B, T, C):
            extra = " (add the two embeddings, don't concatenate them)" if out.shape == (B, T, 2 * C) else ""
            raise Mismatch(f"expected shape (B, T, C) = ({B}, {T}, {C}): one C-vector per token; got "
                           f"{tuple(out.shape)}{extra}")
        return out

    def same(a, b):
        return torch.allclose(a, b, atol=1e-6)

    def case(ids: torch.Tensor) -> Callable:
        def observe(impl):
            return answer(impl, ids, wte.clone(), wpe.clone()).detach()

        def run(call):
            expected = _model_embedding(model, ids)
            got = observe(call)
            if same(got, expected):
                return
            b, t = ((got - expected).abs().amax(dim=-1) > 1e-6).nonzero()[0].tolist()
            raise Mismatch(f"for ids of shape {tuple(ids.shape)}, the vector at [{b}, {t}] (token {ids[b, t].item()} "
                           f"at position {t}) is wrong",
                           known_mistake(EMBED_MISTAKES, observe, got, same)
                           or "out[b, t] = wte[ids[b, t]] + wpe[t]")
        return run

    def gradients(call):
        ids = torch.tensor([[1, 12, 1], [0, 5, 7]])
        weights = torch.randn(2, 3, C, generator=torch.Generator().manual_seed(3))

        def observe(impl):
            wte_in, wpe_in = wte.clone().requires_grad_(), wpe.clone().requires_grad_()
            out = answer(impl, ids, wte_in, wpe_in)
            if out.requires_grad:
                (out * weights).sum().backward()
            return wte_in.grad, wpe_in.grad

        def same(a, b):
            return all((x is None) == (y is None) and (x is None or torch.allclose(x, y, atol=1e-6))
                       for x, y in zip(a, b))

        got = observe(call)
        if not same(got, observe(solution_embed)):
            raise Mismatch("the gradient of a loss on the output doesn't reach both wte and wpe as it should",
                           known_mistake(EMBED_MISTAKES, observe, got, same)
                           or "compute the output from wte and wpe with differentiable tensor operations")

    cases = [Case("one sequence of 5 tokens", case(torch.tensor([[3, 1, 4, 1, 5]]))),
             Case("a batch of 3 sequences of 6 tokens", case(torch.tensor([[0, 1, 2, 3, 4, 5], [5, 5, 5, 0, 0, 0],
                                                                           [7, 6, 5, 4, 3, 2]]))),
             Case("a full block of 8 tokens", case(torch.tensor([[7, 7, 7, 7, 0, 0, 0, 0], [2, 4, 6, 0, 1, 3, 5, 7]]))),
             Case("a single token", case(torch.tensor([[6]]))),
             Case("token ids up to V-1 = 12, beyond block_size", case(torch.tensor([[12, 9, 10, 11], [8, 12, 0, 3]]))),
             Case("gradients reach both tables", gradients)]
    run_cases("check_embed", fn, cases, _embed_error_hint)
