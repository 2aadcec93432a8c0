"""textbooks.data.pack: documents -> <|endoftext|>-joined token shards + meta.json (paper §2.3)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from textbooks.data import pack as pack_mod
from textbooks.data.encode import OrdinaryEncoder
from textbooks.data.pack import PackError, pack
from textbooks.data.sources import read_documents
from textbooks.tokenizer import load_tokenizer

EOS = "<|endoftext|>"


def _write_corpus(directory: Path, n: int, seed: int = 0) -> Path:
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    words = ["alpha", "beta", "gamma", "delta", "total", "count", "value", "items", "ünïcode", "数据"]
    for i in range(n):
        a, b = rng.sample(words, 2)
        lines = [f"def f_{i}({a}, {b}):", f'    """Combine {a} and {b}."""', f"    return {a} * {rng.randint(0, 99)} + {b}"]
        (directory / f"m{i:03d}.py").write_text("\n".join(lines) + "\n" * rng.randint(1, 3), encoding="utf-8")
    (directory / "__init__.py").write_text("")  # expected fate: skipped as empty
    (directory / "latin1.py").write_bytes(b"x = '\xe9'\n")  # expected fate: skipped as non_utf8
    return directory


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return _write_corpus(tmp_path_factory.mktemp("pack") / "code", 40)


@pytest.fixture(scope="module")
def texts_jsonl(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("jsonl") / "books.jsonl"
    rows = [{"text": f"# Chapter {i}\nprint({i} ** 2)\n", "id": f"b{i}"} for i in range(12)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


@pytest.fixture(scope="module")
def tok_dir(tmp_path_factory, corpus) -> Path:
    from textbooks.tokenizer import train_tokenizer

    out = tmp_path_factory.mktemp("tok")
    train_tokenizer([corpus], vocab_size=420, out_dir=out)
    return out


@pytest.fixture(scope="module")
def big_vocab_tok_dir(tmp_path_factory) -> Path:
    """A real byte-level tokenizer whose vocabulary (70,001 ids) does not fit uint16."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {ch: i for i, ch in enumerate(sorted(alphabet))}
    for i in range(len(vocab), 70_000):
        vocab[f"unused_{i}"] = i  # no merges reach them: ids stay bytes, only the size matters
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(EOS, special=True, normalized=False)])
    out = tmp_path_factory.mktemp("bigtok")
    tok.save(str(out / "tokenizer.json"))
    return out


def _stream(out: Path, split: str) -> np.ndarray:
    meta = json.loads((out / "meta.json").read_text())
    dtype = {"uint16": "<u2", "uint32": "<u4"}[meta["dtype"]]
    parts = [np.fromfile(out / s["file"], dtype=dtype) for s in meta["splits"][split]["shards"]]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


def _mask(out: Path, split: str) -> np.ndarray:
    meta = json.loads((out / "meta.json").read_text())
    return np.concatenate([np.fromfile(out / s["mask_file"], dtype=np.uint8) for s in meta["splits"][split]["shards"]])


def _files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def test_round_trip_docs_joined_by_endoftext(tmp_path, corpus, texts_jsonl, tok_dir):
    out = tmp_path / "packed"
    meta = pack([corpus, texts_jsonl], tok_dir, out, val_fraction=0.0, workers=1, progress=False)
    docs = [d.text for d in read_documents([corpus, texts_jsonl])]
    tok = load_tokenizer(tok_dir)
    stream = _stream(out, "train")
    assert tok.decode(stream) == EOS.join(docs) + EOS
    assert (stream == tok.eos_id).sum() == len(docs) == meta["documents"] == 40 + 12
    assert meta["tokens"] == len(stream) and meta["splits"]["val"] == {"documents": 0, "tokens": 0, "shards": []}
    assert [s["documents"] for s in meta["sources"]] == [40, 12]
    assert sum(s["tokens"] for s in meta["sources"]) == len(stream)
    assert meta["skipped"] == {"empty": 1, "non_utf8": 1}
    assert meta["dtype"] == "uint16" and meta["tokenizer"]["fingerprint"] == tok.fingerprint
    assert meta["tokenizer"]["eos_id"] == tok.eos_id and meta["tokenizer"]["padded_vocab_size"] == tok.padded_vocab_size
    assert not list(tmp_path.glob(".packed.*")), "the temporary directory must be gone"


def test_identical_bytes_for_any_worker_count_and_shard_split(tmp_path, corpus, texts_jsonl, tok_dir, monkeypatch):
    # Tiny tasks so that 2 workers really interleave many of them (tasks are cut in the main process).
    monkeypatch.setattr(pack_mod, "TASK_DOCS", 3)
    kw = dict(val_fraction=0.2, shard_tokens=97, progress=False)
    a = pack([corpus, texts_jsonl], tok_dir, tmp_path / "w1", workers=1, **kw)
    b = pack([corpus, texts_jsonl], tok_dir, tmp_path / "w2", workers=2, **kw)
    assert a == b
    assert _files(tmp_path / "w1") == _files(tmp_path / "w2")
    shards = a["splits"]["train"]["shards"]
    assert len(shards) > 3 and all(s["tokens"] == 97 for s in shards[:-1]) and 0 < shards[-1]["tokens"] <= 97
    whole = pack([corpus, texts_jsonl], tok_dir, tmp_path / "one", val_fraction=0.2, workers=1, progress=False)
    assert len(whole["splits"]["train"]["shards"]) == 1
    for split in ("train", "val"):  # sharding only cuts the same stream
        assert np.array_equal(_stream(tmp_path / "w1", split), _stream(tmp_path / "one", split))


def test_val_split_by_document_hash(tmp_path, corpus, tok_dir):
    frac = 0.3
    meta = pack([corpus], tok_dir, tmp_path / "p", val_fraction=frac, workers=1, progress=False)
    docs = [d.text for d in read_documents([corpus])]
    want_val = [t for t in docs if pack_mod._text_hash(t) < int(frac * 2**64)]
    want_train = [t for t in docs if t not in want_val]
    assert 0 < len(want_val) < len(docs)
    tok = load_tokenizer(tok_dir)
    assert tok.decode(_stream(tmp_path / "p", "val")) == "".join(t + EOS for t in want_val)
    assert tok.decode(_stream(tmp_path / "p", "train")) == "".join(t + EOS for t in want_train)
    assert meta["splits"]["val"]["documents"] == len(want_val)


def test_val_gets_one_document_when_the_hash_picks_none(tmp_path, corpus, tok_dir):
    docs = [d.text for d in read_documents([corpus])]
    meta = pack([corpus], tok_dir, tmp_path / "p", val_fraction=1e-12, shard_tokens=50, workers=1, progress=False)
    smallest = min(docs, key=pack_mod._text_hash)  # the train document with the smallest hash moves
    tok = load_tokenizer(tok_dir)
    assert meta["splits"]["val"]["documents"] == 1 and meta["splits"]["train"]["documents"] == len(docs) - 1
    assert tok.decode(_stream(tmp_path / "p", "val")) == smallest + EOS
    assert tok.decode(_stream(tmp_path / "p", "train")) == "".join(t + EOS for t in docs if t != smallest)
    assert all(s["tokens"] == 50 for s in meta["splits"]["train"]["shards"][:-1])  # the rewrite re-shards evenly
    assert sum(s["tokens"] for s in meta["splits"]["train"]["shards"]) == meta["splits"]["train"]["tokens"]
    assert not (tmp_path / "p" / "_rewrite_train").exists()


def test_single_document_stays_in_train(tmp_path, tok_dir):
    (tmp_path / "one.py").write_text("print('only')\n")
    meta = pack([tmp_path / "one.py"], tok_dir, tmp_path / "p", val_fraction=0.9999, workers=1, progress=False)
    assert meta["splits"]["train"]["documents"] == 1 and meta["splits"]["val"]["documents"] == 0


def test_uint32_when_the_vocab_does_not_fit_uint16(tmp_path, texts_jsonl, big_vocab_tok_dir):
    meta = pack([texts_jsonl], big_vocab_tok_dir, tmp_path / "p", val_fraction=0.0, workers=1, progress=False)
    tok = load_tokenizer(big_vocab_tok_dir)
    assert tok.padded_vocab_size > 65536 and meta["dtype"] == "uint32"
    stream = _stream(tmp_path / "p", "train")
    assert (tmp_path / "p" / "train_00000.bin").stat().st_size == 4 * len(stream)
    assert stream.max() == tok.eos_id == 70_000
    assert tok.decode(stream) == "".join(json.loads(line)["text"] + EOS for line in texts_jsonl.read_text().splitlines())


def test_prompt_completion_masks(tmp_path, tok_dir):
    path = tmp_path / "ex.jsonl"
    rows = [
        {"prompt": 'def add(a, b):\n    """Add."""\n', "completion": "    return a + b\n"},
        {"prompt": "def neg(x):\n", "completion": "    return -x\n"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    meta = pack([path], tok_dir, tmp_path / "c", val_fraction=0.0, loss_on="completion", workers=1, progress=False)
    tok = load_tokenizer(tok_dir)
    want_tokens, want_mask = [], []
    for r in rows:  # prompt and completion are tokenized separately: the prompt as the model sees it at inference
        p, c = tok.encode(r["prompt"]), tok.encode(r["completion"])
        want_tokens += p + c + [tok.eos_id]
        want_mask += [0] * len(p) + [1] * (len(c) + 1)
    assert _stream(tmp_path / "c", "train").tolist() == want_tokens
    assert _mask(tmp_path / "c", "train").tolist() == want_mask
    assert meta["has_mask"] and meta["sources"][0]["prompt_completion"]
    assert (tmp_path / "c" / "train_00000.mask.bin").is_file()
    # loss on every token (the paper's default): the same stream, no masks.
    meta_all = pack([path], tok_dir, tmp_path / "a", val_fraction=0.0, workers=1, progress=False)
    assert _stream(tmp_path / "a", "train").tolist() == want_tokens
    assert not meta_all["has_mask"] and not list((tmp_path / "a").glob("*.mask.bin"))


def test_plain_documents_get_full_masks_next_to_completions(tmp_path, corpus, tok_dir):
    path = tmp_path / "ex.jsonl"
    path.write_text(json.dumps({"prompt": "def f():\n", "completion": "    return 1\n"}) + "\n")
    pack([corpus, path], tok_dir, tmp_path / "m", val_fraction=0.0, shard_tokens=64, loss_on="completion", workers=1, progress=False)
    mask, stream = _mask(tmp_path / "m", "train"), _stream(tmp_path / "m", "train")
    n_prompt = len(load_tokenizer(tok_dir).encode("def f():\n"))
    assert len(mask) == len(stream) and (mask == 0).sum() == n_prompt
    last_doc = len(stream) - 1 - np.flatnonzero(stream[:-1] == stream[-1])[-1]  # tokens after the previous eos
    assert mask[-last_doc:][:n_prompt].tolist() == [0] * n_prompt


def test_max_docs_is_the_same_for_any_worker_count(tmp_path, corpus, tok_dir, monkeypatch):
    monkeypatch.setattr(pack_mod, "TASK_DOCS", 4)
    a = pack([corpus], tok_dir, tmp_path / "a", max_docs=9, val_fraction=0.0, workers=1, progress=False)
    b = pack([corpus], tok_dir, tmp_path / "b", max_docs=9, val_fraction=0.0, workers=2, progress=False)
    assert a["documents"] == 9 and _files(tmp_path / "a") == _files(tmp_path / "b")


def test_errors_are_clear(tmp_path, corpus, tok_dir):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "__init__.py").write_text("\n")
    with pytest.raises(PackError, match="no documents found.*empty=1"):
        pack([empty], tok_dir, tmp_path / "out", workers=1, progress=False)
    assert not (tmp_path / "out").exists()
    with pytest.raises(FileNotFoundError, match="nowhere"):
        pack([tmp_path / "nowhere"], tok_dir, tmp_path / "out", workers=1, progress=False)
    pack([corpus], tok_dir, tmp_path / "done", workers=1, progress=False)
    with pytest.raises(PackError, match="already exists.*overwrite"):
        pack([corpus], tok_dir, tmp_path / "done", workers=1, progress=False)
    before = (tmp_path / "done" / "meta.json").read_text()
    pack([corpus], tok_dir, tmp_path / "done", workers=1, progress=False, overwrite=True, max_docs=3)
    assert (tmp_path / "done" / "meta.json").read_text() != before
    with pytest.raises(PackError, match="val_fraction"):
        pack([corpus], tok_dir, tmp_path / "x", val_fraction=1.0)


def test_a_failure_midway_leaves_nothing_behind(tmp_path, tok_dir):
    path = tmp_path / "ex.jsonl"
    good = json.dumps({"prompt": "def f():\n", "completion": "    return 1\n"})
    path.write_text("\n".join([good] * 5000 + ['{"prompt": "x"}']) + "\n")  # expected fate: line 5001 is an error
    with pytest.raises(PackError, match=r"ex.jsonl:5001: expected string fields 'prompt' and 'completion'"):
        pack([path], tok_dir, tmp_path / "out", workers=1, shard_tokens=1000, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ex.jsonl"]


def test_cli_pack_prints_summary_and_uses_exit_code_2(tmp_path, corpus, tok_dir, capsys):
    from textbooks.cli import main

    out = tmp_path / "cli"
    rc = main(["data", "pack", str(corpus), "--tokenizer", str(tok_dir), "--out", str(out), "--workers", "1", "--no-progress"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "packed 40 documents" in text and str(out / "meta.json") in text
    assert json.loads((out / "meta.json").read_text())["documents"] == 40
    assert main(["data", "pack", str(tmp_path / "missing"), "--tokenizer", str(tok_dir), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "missing") in err and ("not found" in err or "does not exist" in err)
    with pytest.raises(SystemExit) as e:
        main(["data", "pack", str(corpus), "--out", str(tmp_path / "o")])  # --tokenizer missing
    assert e.value.code == 2


def test_moved_val_document_keeps_its_mask(tmp_path, tok_dir):
    path = tmp_path / "ex.jsonl"
    rows = [{"prompt": f"def f{i}():\n", "completion": f"    return {i}\n"} for i in range(6)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    meta = pack([path], tok_dir, tmp_path / "p", val_fraction=1e-12, shard_tokens=7, loss_on="completion", workers=1, progress=False)
    assert meta["splits"]["val"]["documents"] == 1
    smallest = min(rows, key=lambda r: pack_mod._text_hash(r["prompt"] + r["completion"]))
    tok = load_tokenizer(tok_dir)
    n_prompt, n_completion = len(tok.encode(smallest["prompt"])), len(tok.encode(smallest["completion"]))
    assert tok.decode(_stream(tmp_path / "p", "val")) == smallest["prompt"] + smallest["completion"] + EOS
    assert _mask(tmp_path / "p", "val").tolist() == [0] * n_prompt + [1] * (n_completion + 1)
    train_mask, train = _mask(tmp_path / "p", "train"), _stream(tmp_path / "p", "train")
    assert len(train_mask) == len(train) and (train_mask == 0).sum() == sum(
        len(tok.encode(r["prompt"])) for r in rows if r is not smallest
    )


def test_literal_endoftext_in_a_document_is_text_not_the_separator(tmp_path, tok_dir):
    """Issue 10 item 6: a document that contains the string <|endoftext|> (tokenizer code, docs, web
    pages) is encoded as ordinary text, as nanoGPT's encode_ordinary: one eos id per document, at its end."""
    texts = [
        f"SEP = '{EOS}'\nparts = text.split(SEP)\n",  # the literal inside code
        f"{EOS}starts and ends with it{EOS}",  # at both edges, no space around
        "  " + EOS + EOS + "\n",  # after a whitespace added token, twice in a row
        "no literal here\n",
    ]
    path = tmp_path / "lit.jsonl"
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    ex = tmp_path / "ex.jsonl"
    ex.write_text(json.dumps({"prompt": f"# ends with {EOS}\ndef f():\n", "completion": f"    return '{EOS}'\n"}) + "\n")
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        meta = pack([path, ex], tok_dir, out, val_fraction=0.0, workers=workers, loss_on="completion", progress=False)
        tok = load_tokenizer(tok_dir)
        stream = _stream(out, "train")
        ends = np.flatnonzero(stream == tok.eos_id)
        assert meta["documents"] == len(texts) + 1 == len(ends)  # exactly one eos id per document ...
        assert ends[-1] == len(stream) - 1
        starts = np.concatenate([[0], ends[:-1] + 1])
        decoded = [tok.decode(stream[a:b]) for a, b in zip(starts, ends)]  # ... at its end, and the text round-trips
        assert decoded == texts + [f"# ends with {EOS}\ndef f():\n    return '{EOS}'\n"]
        prompt = OrdinaryEncoder(tok).encode(f"# ends with {EOS}\ndef f():\n")
        assert (_mask(out, "train") == 0).sum() == len(prompt) and tok.eos_id not in prompt


def test_exercises_through_a_data_verb_keep_their_prompt_completion_split(tmp_path, tok_dir):
    """`data decontaminate` (any data verb) writes exercise records as documents with prompt and completion in
    metadata; packing its output gives the same tokens and loss mask as packing the exercises directly."""
    from textbooks.cli import main

    path = tmp_path / "ex.jsonl"
    rows = [
        {"id": "e1", "prompt": 'def add_pair(a, b):\n    """Add the two."""\n', "completion": "    return a + b\n"},
        {"id": "e2", "prompt": "def negate_value(x):\n", "completion": "    return -x\n"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert main(["data", "decontaminate", str(path), "--benchmarks", "humaneval", "--methods", "ngram",
                 "--out", str(tmp_path / "clean")]) == 0
    pack([path], tok_dir, tmp_path / "direct", val_fraction=0.0, loss_on="completion", workers=1, progress=False)
    pack([tmp_path / "clean" / "output"], tok_dir, tmp_path / "via", val_fraction=0.0, loss_on="completion",
         workers=1, progress=False)
    assert _stream(tmp_path / "via", "train").tolist() == _stream(tmp_path / "direct", "train").tolist()
    mask = _mask(tmp_path / "via", "train")
    assert mask.tolist() == _mask(tmp_path / "direct", "train").tolist() and 0 in mask.tolist()
