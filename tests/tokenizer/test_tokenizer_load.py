"""load_tokenizer on our dirs, on HF dirs (tokenizer.json, or codegen's vocab.json + merges.txt +
added_tokens.json), AutoTokenizer compatibility, fingerprints and error messages."""

import json
import shutil

import pytest

from textbooks.tokenizer import CodeTokenizer, load_tokenizer


@pytest.fixture
def sample_texts(stdlib_texts, edge_cases):
    return stdlib_texts[::60] + [t for t in edge_cases if t]


def test_autotokenizer_loads_dir_with_same_ids(code_tokenizer_dir, code_tokenizer, sample_texts):
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(str(code_tokenizer_dir))
    assert hf.eos_token == "<|endoftext|>" and hf.eos_token_id == code_tokenizer.eos_id
    assert hf.bos_token_id == code_tokenizer.eos_id
    assert hf.model_max_length == 2048
    assert len(hf) == code_tokenizer.vocab_size
    for text in sample_texts:
        ids = hf(text)["input_ids"]  # default call: add_special_tokens=True must add nothing
        assert ids == code_tokenizer.encode(text), text[:80]
        assert hf.decode(ids) == text


def test_load_accepts_tokenizer_json_file(code_tokenizer_dir, code_tokenizer):
    tok = load_tokenizer(code_tokenizer_dir / "tokenizer.json")
    assert tok.fingerprint == code_tokenizer.fingerprint and tok.eos_id == code_tokenizer.eos_id


def test_save_reload_keeps_fingerprint(code_tokenizer, tmp_path, tiny_tokenizer_dir):
    paths = code_tokenizer.save(tmp_path / "copy")
    assert sorted(p.name for p in paths) == ["special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"]
    again = load_tokenizer(tmp_path / "copy")
    assert again.fingerprint == code_tokenizer.fingerprint
    assert len(code_tokenizer.fingerprint) == 64
    assert load_tokenizer(tiny_tokenizer_dir).fingerprint != code_tokenizer.fingerprint


def _write_codegen_style_dir(tok: CodeTokenizer, out):
    """The file set of Salesforce/codegen-350M-mono: vocab.json (BPE ids + <|endoftext|> as its last id),
    merges.txt, added_tokens.json (the 38 whitespace tokens), special_tokens_map.json, tokenizer_config.json."""
    out.mkdir()
    spec = json.loads(tok.hf.to_str())
    vocab = dict(spec["model"]["vocab"])
    vocab[tok.eos_token] = tok.eos_id
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    merges = [m if isinstance(m, str) else " ".join(m) for m in spec["model"]["merges"]]
    (out / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    (out / "added_tokens.json").write_text(json.dumps(tok.whitespace_token_ids()))
    special = {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>"}
    (out / "special_tokens_map.json").write_text(json.dumps(special))
    (out / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "CodeGenTokenizer", "model_max_length": 2048, "add_prefix_space": False,
        "eos_token": {"content": "<|endoftext|>", "__type": "AddedToken"},  # codegen's layout of the field
    }))


def test_load_codegen_style_vocab_merges_dir(code_tokenizer, tmp_path, sample_texts):
    d = tmp_path / "codegen-like"
    _write_codegen_style_dir(code_tokenizer, d)
    tok = load_tokenizer(d)
    assert tok.vocab_size == code_tokenizer.vocab_size
    assert tok.eos_id == code_tokenizer.eos_id
    assert tok.whitespace_token_ids() == code_tokenizer.whitespace_token_ids()
    texts = sample_texts
    assert tok.encode_batch(texts) == code_tokenizer.encode_batch(texts)
    assert tok.decode_batch(tok.encode_batch(texts)) == texts
    # Saving it writes our three files, which load back to the same ids.
    tok.save(tmp_path / "resaved")
    assert load_tokenizer(tmp_path / "resaved").encode_batch(texts) == code_tokenizer.encode_batch(texts)


def test_added_token_id_gap_is_an_error(code_tokenizer, tmp_path):
    d = tmp_path / "gap"
    _write_codegen_style_dir(code_tokenizer, d)
    added = json.loads((d / "added_tokens.json").read_text())
    added = {t: i + 5 for t, i in added.items()}  # ids no longer continue vocab.json
    (d / "added_tokens.json").write_text(json.dumps(added))
    with pytest.raises(ValueError, match="should have id"):
        load_tokenizer(d)


def test_missing_directory_error():
    with pytest.raises(FileNotFoundError, match="tokenizer directory not found: /no/such/tokenizer"):
        load_tokenizer("/no/such/tokenizer")


def test_directory_without_tokenizer_files_lists_what_was_looked_for(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(FileNotFoundError) as e:
        load_tokenizer(tmp_path)
    msg = str(e.value)
    assert "tokenizer.json" in msg and "vocab.json + merges.txt" in msg and "config.json" in msg


def test_unknown_eos_token_error(code_tokenizer_dir, tmp_path):
    d = tmp_path / "bad-eos"
    shutil.copytree(code_tokenizer_dir, d)
    cfg = json.loads((d / "tokenizer_config.json").read_text())
    cfg["eos_token"] = "</s>"
    (d / "tokenizer_config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="'</s>' is not in the vocabulary"):
        load_tokenizer(d)


def test_corrupt_config_names_the_file(code_tokenizer_dir, tmp_path):
    d = tmp_path / "corrupt"
    shutil.copytree(code_tokenizer_dir, d)
    (d / "tokenizer_config.json").write_text('{"eos_token": ')
    with pytest.raises(ValueError, match="tokenizer_config.json:1: not valid JSON"):
        load_tokenizer(d)


def test_corrupt_tokenizer_json_is_a_value_error_naming_the_file(code_tokenizer_dir, tmp_path):
    d = tmp_path / "corrupt-tok"
    shutil.copytree(code_tokenizer_dir, d)
    (d / "tokenizer.json").write_text('{"model": ')
    for path in (d, d / "tokenizer.json"):  # a directory or the file itself
        with pytest.raises(ValueError, match=r"tokenizer.json: cannot read tokenizer.json \("):
            load_tokenizer(path)


def test_fingerprint_ignores_serialization_details(code_tokenizer_dir, code_tokenizer, tmp_path):
    """Older tokenizers wrote merges as "a b" strings and a truncation setting may be present: same ids,
    same fingerprint. A changed merge list changes it."""
    spec = json.loads((code_tokenizer_dir / "tokenizer.json").read_text())
    spec["model"]["merges"] = [" ".join(m) for m in spec["model"]["merges"]]
    spec["truncation"] = {"direction": "Right", "max_length": 16, "strategy": "LongestFirst", "stride": 0}
    (tmp_path / "legacy").mkdir()
    (tmp_path / "legacy/tokenizer.json").write_text(json.dumps(spec, indent=1))
    legacy = load_tokenizer(tmp_path / "legacy")
    assert legacy.fingerprint == code_tokenizer.fingerprint
    long_text = "x = 1\n" * 100
    assert legacy.encode(long_text) == code_tokenizer.encode(long_text)  # truncation was switched off

    spec["model"]["merges"] = spec["model"]["merges"][:-1]
    (tmp_path / "changed").mkdir()
    (tmp_path / "changed/tokenizer.json").write_text(json.dumps(spec))
    assert load_tokenizer(tmp_path / "changed").fingerprint != code_tokenizer.fingerprint
