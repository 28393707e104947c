"""Insert the exercises that have checkers but no cells yet into the instructor notebooks.

Each exercise is three cells: a markdown cell that explains it, the exercise
cell with the solution between `### BEGIN SOLUTION` and `### END SOLUTION`,
and a cell that runs its checker and then uses the function on the
notebook's real data. Each group goes after an anchor cell, found by content
(the first of several candidates that the notebook has), and is skipped when
the notebook already defines the exercise's function, so running the script
twice changes nothing.

    python scripts/insert_exercises.py                      # notebooks/01_*.ipynb and 02_*.ipynb, in place
    python scripts/insert_exercises.py --out /tmp/nb         # write the results there instead

Where they go:
  01_language_modeling  count_ngrams and add_k_prob after the n-gram ladder's plot (or, in a notebook
                        without one, after the perplexity plot); embed after the tiny GPT is built;
                        sample_loop after `generate.complete` reproduces the hand-written loop
  02_tokenization       decode after the encode exercise; split_special after the special-tokens cell
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from minillm.io import write_text

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Exercise:
    notebook: str             # file name in notebooks/
    function: str             # the function the exercise defines; present means inserted already
    after: tuple[str, ...]    # anchors: the group goes after the first cell containing one of these, tried in order
    explain: str              # markdown
    solve: str                # the exercise cell
    check: str                # the checker cell, then real data


EXERCISES = [
    Exercise(
        notebook="01_language_modeling.ipynb",
        function="count_ngrams",
        after=("plots.plot_ngram_ladder(rungs)", "fig = plots.plot_perplexity()"),
        explain="""\
### Exercise: count n-grams

Everything an n-gram model knows is a table of counts. Write
`count_ngrams(ids, n)`: a dict that maps every run of `n` consecutive ids, as
a tuple, to how often it occurs. The runs overlap: a list of $N$ ids holds
$N - n + 1$ of them, one starting at each position where $n$ ids still fit.""",
        solve='''\
def count_ngrams(ids, n):
    """How often each run of n consecutive ids occurs, as {tuple of n ids: count}.

    count_ngrams([1, 2, 1, 2, 1], 2) -> {(1, 2): 2, (2, 1): 2}
    """
    ### BEGIN SOLUTION
    counts = {}
    for i in range(len(ids) - n + 1):  # every start where n ids still fit
        gram = tuple(ids[i: i + n])
        counts[gram] = counts.get(gram, 0) + 1
    return counts
    ### END SOLUTION''',
        check='''\
exercises.check_count_ngrams(count_ngrams)

some_train = train_ids[:200_000].tolist()  # a slice: a Python loop over 4.6M characters takes a while
trigrams = count_ngrams(some_train, 3)
print(f"{len(some_train):,} characters: {len(trigrams):,} distinct trigrams of {V ** 3:,} possible; the commonest:")
for gram, count in sorted(trigrams.items(), key=lambda item: -item[1])[:5]:
    print(f"  {tok.decode(list(gram))!r}: {count:,}")
assert trigrams == ngram.count_ngrams(some_train, 3)
assert sum(trigrams.values()) == len(some_train) - 2''',
    ),
    Exercise(
        notebook="01_language_modeling.ipynb",
        function="add_k_prob",
        after=("exercises.check_count_ngrams(count_ngrams)",),
        explain="""\
### Exercise: add-k smoothing

Write `add_k_prob(counts, context, token, k, vocab_size)`, the add-k
probability of `token` after `context` (a tuple of $n - 1$ ids), from
`counts = count_ngrams(ids, n)`:

$$P(\\text{token} \\mid \\text{context}) = \\frac{c(\\text{context}, \\text{token}) + k}{c(\\text{context}) + kV}.$$

$c(\\text{context})$ is how often the context was *followed by* a token: the
sum of the counts of the n-grams that start with it. An n-gram that never
occurred has count 0, and a context that never occurred gets the uniform
$1 / V$.""",
        solve='''\
def add_k_prob(counts, context, token, k, vocab_size):
    """P(token | context) with add-k smoothing; counts = count_ngrams(ids, n), context = n - 1 ids."""
    ### BEGIN SOLUTION
    context = tuple(context)
    followed = sum(count for gram, count in counts.items() if gram[:-1] == context)  # c(context)
    return (counts.get(context + (token,), 0) + k) / (followed + k * vocab_size)
    ### END SOLUTION''',
        check='''\
exercises.check_add_k_prob(add_k_prob)

th = tuple(tok.encode("th"))
trigram_model = ngram.NGramModel.fit(some_train, 3, V, smoothing="add-k", k=0.1)
for ch in "eaiy":
    p = add_k_prob(trigrams, th, tok.stoi[ch], 0.1, V)
    print(f"P({ch!r} | 'th') = {p:.3f}")
    assert math.isclose(p, trigram_model.prob(list(th), tok.stoi[ch]))
unseen = tuple(tok.encode("qz"))  # never in the text: add-k falls back to the uniform guess
assert math.isclose(add_k_prob(trigrams, unseen, tok.stoi["e"], 0.1, V), 1 / V)''',
    ),
    Exercise(
        notebook="01_language_modeling.ipynb",
        function="embed",
        after=("model = GPT(model_config)",),
        explain="""\
### Exercise: token and position embeddings

The model's first step turns ids into vectors, with two learned tables:
`wte`, one row of $C$ numbers for each token of the vocabulary, and `wpe`,
one row for each position $0, \\dots,$ `block_size` $- 1$. The vector a token
enters the model with is its row of `wte` **plus** its position's row of
`wpe`, so the same character is a different vector at each position, and the
model can tell where in the context it stands. (Module 3 opens up everything
that comes after this step.)

Write `embed(ids, wte, wpe)` for ids of shape `(B, T)`: the `(B, T, C)`
tensor $\\text{wte}[\\text{ids}] + \\text{wpe}[0, \\dots, T - 1]$.""",
        solve='''\
def embed(ids, wte, wpe):
    """Token + position embeddings: ids (B, T), wte (V, C), wpe (block_size, C) -> (B, T, C)."""
    ### BEGIN SOLUTION
    positions = torch.arange(ids.size(1), device=ids.device)  # (T,) 0, 1, ..., T-1
    return wte[ids] + wpe[positions]                           # (B, T, C) + (T, C), broadcast over the batch
    ### END SOLUTION''',
        check='''\
exercises.check_embed(embed)

wte, wpe = model.tok_emb.weight, model.pos_emb.weight  # the tiny GPT's own tables: (V, C), (block_size, C)
batch = xb.to(wte.device)                               # the 2 x 24 characters cut from the text in section 1
vectors = embed(batch, wte, wpe)
print(f"ids {tuple(batch.shape)} -> vectors {tuple(vectors.shape)}")
positions = torch.arange(batch.size(1), device=wte.device)
assert torch.allclose(vectors, model.tok_emb(batch) + model.pos_emb(positions))  # what model.forward does first

row = batch[0].tolist()
a, b = next((i, j) for i in range(len(row)) for j in range(i + 1, len(row)) if row[i] == row[j])
print(f"{tok.chars[row[a]]!r} at positions {a} and {b}: the same row of wte, two different input vectors")
assert torch.equal(wte[row[a]], wte[row[b]]) and not torch.allclose(vectors[0, a], vectors[0, b])''',
    ),
    Exercise(
        notebook="01_language_modeling.ipynb",
        function="sample_loop",
        after=("(same,) = generate.complete(",),
        explain="""\
### Exercise: the sampling loop

Write that loop as a function, `sample_loop(model, ids, max_new_tokens,
generator)`: extend `ids` of shape `(B, T)` by `max_new_tokens` tokens, one
per step. At each step crop the context to its last
`model.config.block_size` tokens (the model sees no more), run the model,
take the logits at the **last** position, draw one token per row with your
`sample_next` (temperature 1, passing the `generator`), and append it with
`torch.cat(..., dim=1)`. Return the prompt followed by the new tokens.
(The name `generate` is taken: it is the `minillm.generate` module this
notebook uses.)""",
        solve='''\
@torch.no_grad()
def sample_loop(model, ids, max_new_tokens, generator=None):
    """ids (B, T) extended by max_new_tokens tokens, sampled one at a time -> (B, T + max_new_tokens)."""
    ### BEGIN SOLUTION
    block_size = model.config.block_size
    for _ in range(max_new_tokens):
        logits, _ = model(ids[:, -block_size:])                      # (B, T', V), T' <= block_size
        next_id = sample_next(logits[:, -1, :], generator=generator)  # (B, 1), from the last position
        ids = torch.cat([ids, next_id], dim=1)                        # (B, T + 1)
    return ids
    ### END SOLUTION''',
        check='''\
exercises.check_sample_loop(sample_loop)

model.eval()  # as generate does: no dropout while sampling
prompt_ids = torch.tensor([tok.encode("KING.\\n")], device=device)
mine = sample_loop(model, prompt_ids, 200, torch.Generator(device=device).manual_seed(SEED))
reference = generate.generate(model, prompt_ids, 200, generator=torch.Generator(device=device).manual_seed(SEED))
assert torch.equal(mine, reference)  # 206 tokens: far past block_size, so the cropping is tested too
print(tok.decode(mine[0].tolist()))''',
    ),
    Exercise(
        notebook="02_tokenization.ipynb",
        function="decode",
        after=("exercises.check_encode(encode)",),
        explain="""\
### Exercise: decode

Decoding is the easy direction, with one trap. Write `decode(ids, vocab)`:
the text that token ids stand for, where `vocab[i]` holds the bytes of token
`i` (like `tok.vocab`). Join the tokens' bytes first and decode UTF-8 once,
with `errors="replace"`: one character can be split across tokens (as `👋`
was above), and ids that end in the middle of a character must give `�`,
not an error.""",
        solve='''\
def decode(ids, vocab):
    """The text of token ids, where vocab[i] holds the bytes of token i; invalid UTF-8 becomes U+FFFD."""
    ### BEGIN SOLUTION
    data = b"".join(vocab[i] for i in ids)         # all the bytes first: a character may span tokens
    return data.decode("utf-8", errors="replace")  # a cut character becomes '�', never an error
    ### END SOLUTION''',
        check='''\
exercises.check_decode(decode)

assert decode(tok.encode(passage), tok.vocab) == passage
print(f"👋 -> {wave} -> {decode(wave, tok.vocab)!r}; its first token alone -> {decode(wave[:1], tok.vocab)!r}")
assert decode(wave, tok.vocab) == "👋" and decode(wave[:1], tok.vocab) == "\\ufffd"''',
    ),
    Exercise(
        notebook="02_tokenization.ipynb",
        function="split_special",
        after=('docs = "Exeunt.<|endoftext|>',),
        explain="""\
### Exercise: special tokens are hard boundaries

Before any merge, the encoder cuts the text at the special tokens it allows:
each special token becomes its one id, and the ordinary text between them
is encoded on its own, so no merge can ever cross, or produce,
`<|endoftext|>`. Training cuts the same way and leaves the special tokens
out. Write that cut, `split_special(text, special_tokens)`: the list of
pieces, each special token a piece of its own and the text between them the
others, with no empty pieces. `regex.split` keeps the separators when the
pattern is a capturing group; `regex.escape` each special token (its `|`
means *or* in a pattern), and try longer ones first.""",
        solve='''\
def split_special(text, special_tokens):
    """Cut text around special tokens, each a piece of its own: "a<|endoftext|>b" -> ['a', '<|endoftext|>', 'b']."""
    ### BEGIN SOLUTION
    if not special_tokens:
        return [text] if text else []
    longest_first = sorted(special_tokens, key=len, reverse=True)  # a special token containing another wins
    pattern = "(" + "|".join(regex.escape(s) for s in longest_first) + ")"  # the group keeps the separators
    return [piece for piece in regex.split(pattern, text) if piece]
    ### END SOLUTION''',
        check='''\
exercises.check_split_special(split_special)

pieces = split_special(docs, tok.special_tokens)
print(pieces)
doc_ids = []
for piece in pieces:  # a special token is one id; the text between is encoded on its own
    doc_ids += [tok.special_tokens[piece]] if piece in tok.special_tokens else tok.encode_ordinary(piece)
assert doc_ids == tok.encode(docs, allowed_special="all")''',
    ),
]


class AnchorError(ValueError):
    """None of an exercise's anchor cells is in the notebook."""


def _defines(nb, function: str) -> bool:
    return any(cell.cell_type == "code" and f"def {function}(" in cell.source for cell in nb.cells)


def _new_cell(kind: str, source: str, nb):
    cell = nbformat.v4.new_markdown_cell(source) if kind == "markdown" else nbformat.v4.new_code_cell(source)
    if (nb.nbformat, nb.nbformat_minor) < (4, 5):
        cell.pop("id", None)  # cell ids came with nbformat 4.5
    return cell


def insert(nb, exercise: Exercise) -> bool:
    """Insert one exercise's cells into `nb`; False if it is there already. Raises AnchorError."""
    if _defines(nb, exercise.function):
        return False
    for anchor in exercise.after:
        at = next((i for i, cell in enumerate(nb.cells) if anchor in cell.source), None)
        if at is not None:
            break
    else:
        raise AnchorError(f"no cell contains any of {list(exercise.after)}, the places `{exercise.function}` "
                          "goes after; update its anchors in scripts/insert_exercises.py")
    cells = [_new_cell("markdown", exercise.explain, nb), _new_cell("code", exercise.solve, nb),
             _new_cell("code", exercise.check, nb)]
    nb.cells[at + 1: at + 1] = cells
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Insert the new exercises into the instructor notebooks.")
    parser.add_argument("--notebooks", type=Path, default=ROOT / "notebooks", help="where to read them")
    parser.add_argument("--out", type=Path, default=None, help="where to write them (default: in place)")
    args = parser.parse_args(argv)
    out = args.out or args.notebooks
    out.mkdir(parents=True, exist_ok=True)
    for name in dict.fromkeys(e.notebook for e in EXERCISES):
        path = args.notebooks / name
        if not path.is_file():
            print(f"insert_exercises: no notebook at {path}", file=sys.stderr)
            return 1
        nb = nbformat.read(path, as_version=4)
        done = []
        for exercise in (e for e in EXERCISES if e.notebook == name):
            try:
                if insert(nb, exercise):
                    done.append(exercise.function)
            except AnchorError as e:
                print(f"insert_exercises: {name}: {e}", file=sys.stderr)
                return 1
        nbformat.validate(nb)
        if done or out != args.notebooks:
            write_text(out / name, nbformat.writes(nb) + "\n")
        print(f"{name}: {'inserted ' + ', '.join(done) if done else 'nothing to insert'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
