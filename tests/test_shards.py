"""Token shards (minillm.curation.shards): round trips, atomic replacement, refusing the wrong
tokenizer or changed bytes, and multi-process encoding equal to one process."""

import json

import numpy as np
import pytest

from minillm.bpe import BPETokenizer
from minillm.curation.shards import encode_documents, load_shards, tokenizer_fingerprint, write_shards
from minillm.errors import DataError
from minillm.tokenizer import CharTokenizer

DOCS = [f"Document {i}: the quick brown fox jumps over the lazy dog {i * 7}.\n" for i in range(200)]


@pytest.fixture(scope="module")
def bpe():
    return BPETokenizer.train("".join(DOCS), 300)


def test_round_trip_in_shards_of_any_size(tmp_path, bpe):
    ids = np.concatenate(list(encode_documents(bpe, DOCS, progress=False)))
    manifest = write_shards(iter(ids.tolist()), tmp_path / "s", bpe, tokens_per_shard=1000, progress=False)
    assert manifest["total_tokens"] == len(ids) and len(manifest["shards"]) == -(-len(ids) // 1000)
    assert all(s["tokens"] == 1000 for s in manifest["shards"][:-1])
    np.testing.assert_array_equal(load_shards(tmp_path / "s", bpe), ids)
    assert load_shards(tmp_path / "s").dtype == np.uint16
    write_shards([7, 8], tmp_path / "s", bpe, progress=False)  # over an existing folder: replaced whole
    assert load_shards(tmp_path / "s", bpe).tolist() == [7, 8]
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["manifest.json", "shard_00000.npy"]
    # arrays in, one shard holding everything
    write_shards([ids[:10], ids[10:]], tmp_path / "t", bpe, tokens_per_shard=10**9, progress=False)
    np.testing.assert_array_equal(load_shards(tmp_path / "t", bpe), ids)


def test_documents_end_with_endoftext_and_decode_back(bpe):
    ids = np.concatenate(list(encode_documents(bpe, DOCS[:3], progress=False)))
    eot = bpe.special_tokens["<|endoftext|>"]
    assert (ids == eot).sum() == 3 and ids[-1] == eot
    assert bpe.decode(ids.tolist()) == "<|endoftext|>".join(DOCS[:3]) + "<|endoftext|>"


def test_two_processes_give_the_same_ids_as_one(bpe):
    one = np.concatenate(list(encode_documents(bpe, DOCS, processes=1, batch_docs=16, progress=False)))
    two = np.concatenate(list(encode_documents(bpe, DOCS, processes=2, batch_docs=16, progress=False)))
    np.testing.assert_array_equal(one, two)


def test_an_interrupted_write_leaves_the_old_shards_and_no_half_folder(tmp_path, bpe):
    write_shards([1, 2, 3], tmp_path / "s", bpe, progress=False)

    def broken():
        yield from range(50)
        raise KeyboardInterrupt  # Ctrl-C halfway

    with pytest.raises(KeyboardInterrupt):
        write_shards(broken(), tmp_path / "s", bpe, tokens_per_shard=10, progress=False)
    assert load_shards(tmp_path / "s", bpe).tolist() == [1, 2, 3]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]


def test_wrong_tokenizer_changed_bytes_and_unfinished_folders_are_refused(tmp_path, bpe):
    write_shards(list(range(100)), tmp_path / "s", bpe, tokens_per_shard=40, progress=False)
    char = CharTokenizer("abc")
    assert tokenizer_fingerprint(char) != tokenizer_fingerprint(bpe)
    with pytest.raises(DataError, match="made by another tokenizer"):
        load_shards(tmp_path / "s", char)
    shard = tmp_path / "s" / "shard_00001.npy"
    data = bytearray(shard.read_bytes())
    data[-1] ^= 1
    shard.write_bytes(bytes(data))
    with pytest.raises(DataError, match="changed since it was written"):
        load_shards(tmp_path / "s", bpe)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="not a finished shard folder"):
        load_shards(tmp_path / "empty")
    (tmp_path / "s" / "manifest.json").write_text(json.dumps({"shards": 3}))
    with pytest.raises(DataError, match="unreadable"):
        load_shards(tmp_path / "s")
