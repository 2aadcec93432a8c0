"""train_tokenizer and `textbooks tokenizer train|info`: outputs, determinism, skipped inputs, errors."""

import json
import shutil

import pytest

from textbooks.cli import main
from textbooks.data.sources import stdlib_dir
from textbooks.tokenizer import load_tokenizer, train_tokenizer
from textbooks.tokenizer.train import MIN_VOCAB_SIZE, split_like_encoder

STDLIB_FILES = ["json/decoder.py", "json/encoder.py", "textwrap.py", "heapq.py", "bisect.py", "fnmatch.py"]


@pytest.fixture
def small_corpus(tmp_path):
    """Six real stdlib modules plus one file of each kind the reader must skip."""
    src = tmp_path / "corpus"
    for rel in STDLIB_FILES:
        dst = src / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(stdlib_dir() / rel, dst)
    (src / "latin1.py").write_bytes("# caf\xe9\nx = 1\n".encode("latin-1"))  # skipped: non_utf8
    (src / "blob.py").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")  # skipped: binary
    (src / "__init__.py").write_text("")  # skipped: empty
    return src


def test_train_writes_loadable_tokenizer_and_counts_skips(small_corpus, tmp_path):
    stats = train_tokenizer([small_corpus], vocab_size=600, out_dir=tmp_path / "tok")
    assert stats["documents"] == len(STDLIB_FILES)
    assert stats["skipped"] == {"non_utf8": 1, "binary": 1, "empty": 1}
    assert stats["vocab_size"] == 600 and stats["padded_vocab_size"] == 640 and stats["eos_id"] == 561
    names = sorted(p.name for p in (tmp_path / "tok").iterdir())
    assert names == ["special_tokens_map.json", "tokenizer.json", "tokenizer_config.json", "training_stats.json"]
    tok = load_tokenizer(tmp_path / "tok")
    assert tok.fingerprint == stats["fingerprint"]
    text = (small_corpus / "heapq.py").read_text()
    assert tok.decode(tok.encode(text)) == text


def test_training_is_deterministic(small_corpus, tmp_path):
    a = train_tokenizer([small_corpus], vocab_size=500, out_dir=tmp_path / "a")
    b = train_tokenizer([small_corpus], vocab_size=500, out_dir=tmp_path / "b")
    assert a["fingerprint"] == b["fingerprint"]
    assert (tmp_path / "a/tokenizer.json").read_bytes() == (tmp_path / "b/tokenizer.json").read_bytes()


def test_small_corpus_gives_fewer_tokens_than_asked(small_corpus, tmp_path):
    stats = train_tokenizer([small_corpus / "bisect.py"], vocab_size=20000, out_dir=tmp_path / "t")
    assert MIN_VOCAB_SIZE < stats["vocab_size"] < 20000
    tok = load_tokenizer(tmp_path / "t")
    assert tok.vocab_size == stats["vocab_size"] and tok.eos_id == stats["vocab_size"] - 39


def test_max_files_samples_evenly(tmp_path):
    stats = train_tokenizer([stdlib_dir()], vocab_size=400, out_dir=tmp_path / "t", max_files=20)
    assert 0 < stats["documents"] <= 20


def test_train_errors(small_corpus, tmp_path):
    with pytest.raises(ValueError, match="too small"):
        train_tokenizer([small_corpus], vocab_size=MIN_VOCAB_SIZE - 1, out_dir=tmp_path / "t")
    with pytest.raises(FileNotFoundError, match="input not found: .*nope"):
        train_tokenizer([tmp_path / "nope"], vocab_size=500, out_dir=tmp_path / "t")
    only_bad = tmp_path / "bad"
    only_bad.mkdir()
    (only_bad / "x.py").write_bytes(b"\xff\xfe")
    with pytest.raises(ValueError, match="no documents to train on"):
        train_tokenizer([only_bad], vocab_size=500, out_dir=tmp_path / "t")


def test_split_like_encoder_rules():
    assert split_like_encoder("a  b") == ["a", "b"]
    assert split_like_encoder(" " * 32 + "x") == [" x"]  # 31 spaces are a token, the 32nd joins x
    assert split_like_encoder(" " * 33 + "x") == ["x"]  # 31 + 2
    assert split_like_encoder("\t" * 10) == ["\t"]  # 9 + a lone tab
    assert split_like_encoder(" a \t b ") == [" a \t b "]  # single spaces/tabs stay
    assert split_like_encoder("") == []


def test_cli_train_and_info(small_corpus, tmp_path, capsys):
    out = tmp_path / "cli-tok"
    rc = main(["tokenizer", "train", "--input", str(small_corpus), "--vocab-size", "500", "--out", str(out),
               "--no-progress"])
    assert rc == 0
    text = capsys.readouterr().out
    assert f"read:       {len(STDLIB_FILES)} documents" in text
    assert "1 non_utf8" in text and "latin1.py" in text  # the skipped file is named
    assert "1 binary" in text and "blob.py" in text
    assert "<|endoftext|> = 461" in text and "462..499" in text
    stats = json.loads((out / "training_stats.json").read_text())
    assert stats["vocab_size"] == 500

    assert main(["tokenizer", "info", str(out), "--text", "def f():\\n    return 1"]) == 0
    info = capsys.readouterr().out
    assert "vocab_size:   500 (padded to 512)" in info and "38 codegen tokens, ids 462..499" in info


def test_cli_usage_errors(tmp_path, capsys):
    assert main(["tokenizer", "train", "--input", str(tmp_path / "missing"), "--vocab-size", "500",
                 "--out", str(tmp_path / "o")]) == 2
    assert "input not found" in capsys.readouterr().err
    assert main(["tokenizer", "train", "--input", "default", "--vocab-size", "10", "--out", str(tmp_path)]) == 2
    assert "too small" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["tokenizer", "train", "--vocab-size", "500", "--out", str(tmp_path)])  # --input is required
    assert e.value.code == 2
    assert main(["tokenizer", "info", str(tmp_path / "none")]) == 2
