"""textbooks.data.encode.OrdinaryEncoder: the tokenizer's own ids, with special tokens in a text read as text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from textbooks.data.encode import OrdinaryEncoder, pack_ids
from textbooks.tokenizer import CodeTokenizer, load_tokenizer

EOS = "<|endoftext|>"

# Each text aims at one rule of the tokenizers pipeline (added tokens, the GPT-2 regex, byte fallback).
PLAIN = [
    "",
    "def f(x):\n    return x  # two spaces before the comment\n",
    " " * 31 + "x",  # exactly the longest space token
    " " * 33 + "x",  # 31 + 2
    "\t\t\t\t\t\t\t\t\t\t\tx",  # 11 tabs: 9 + 2
    "x = 1   \n\n\n   y",  # whitespace runs around newlines (\s+(?!\S))
    "it's we're they'll I'd I'M",  # GPT-2 contractions are case-sensitive
    "naïve café 数据 Ünïcödé 🙂🙂 ١٢٣ Ⅻ ½",  # letters, numbers, emoji outside the BPE vocabulary
    "no-break\u00a0space ideographic\u3000space \x1c\x1d\x1e\x1f separators\r\n",
    "<|endoftext",  # a prefix of the special token is plain text anyway
]
WITH_LITERAL = [
    EOS,
    f"text{EOS}more {EOS}{EOS}",
    f"SEP = '{EOS}'\n",
    "  " + EOS + "\t\t" + EOS,  # next to whitespace added tokens
]


@pytest.fixture(scope="module")
def tok_dir(tmp_path_factory) -> Path:
    from textbooks.tokenizer import train_tokenizer

    corpus = tmp_path_factory.mktemp("enc") / "code"
    corpus.mkdir()
    for i in range(30):
        (corpus / f"m{i}.py").write_text(f"def fn_{i}(value):\n    '''Doc {i}.'''\n    return value * {i}  # it's fine\n")
    out = tmp_path_factory.mktemp("tok")
    train_tokenizer([corpus], vocab_size=400, out_dir=out)
    return out


def _without_special_tokens(tok: CodeTokenizer):
    """The reference for "ordinary text": the same tokenizer.json with each special added token renamed
    to a string no text contains, so nothing can match it; built independently of OrdinaryEncoder's
    switch. (Renamed, not deleted: tokenizers re-numbers the added tokens after a deleted one.)"""
    from tokenizers import Tokenizer

    spec = json.loads(tok.hf.to_str())
    for t in spec["added_tokens"]:
        if t["special"]:
            t["content"] = f"\U0010fffe-never-in-text-{t['id']}"
    ref = Tokenizer.from_str(json.dumps(spec))
    assert ref.get_vocab(with_added_tokens=True)["  "] == tok.hf.token_to_id("  ")  # same ids otherwise
    return ref


@pytest.mark.parametrize("text", PLAIN)
def test_same_ids_as_the_tokenizer_on_text_without_special_tokens(tok_dir, text):
    tok = load_tokenizer(tok_dir)
    enc = OrdinaryEncoder(tok)
    assert enc.encode(text) == tok.encode(text)
    assert enc.encode_batch([text, text]) == [tok.encode(text)] * 2


@pytest.mark.parametrize("text", WITH_LITERAL)
def test_a_literal_special_token_is_ordinary_text(tok_dir, text):
    tok = load_tokenizer(tok_dir)
    ids = OrdinaryEncoder(tok).encode(text)
    assert tok.eos_id not in ids
    assert ids == _without_special_tokens(tok).encode(text, add_special_tokens=False).ids
    assert tok.decode(ids) == text
    assert tok.eos_id in tok.encode(text)  # the tokenizer's own encode (transformers' default) is unchanged


def test_whitespace_added_tokens_still_apply_around_the_literal(tok_dir):
    tok = load_tokenizer(tok_dir)
    ids = OrdinaryEncoder(tok).encode("  " + EOS)
    assert ids[0] == tok.hf.token_to_id("  ")  # codegen's 2-space token: non-special added tokens still match


def test_batch_is_the_same_as_one_by_one_and_keeps_order(tok_dir):
    tok = load_tokenizer(tok_dir)
    enc = OrdinaryEncoder(tok)
    texts = PLAIN + WITH_LITERAL
    assert enc.encode_batch(texts) == [enc.encode(t) for t in texts]
    assert enc.encode_batch([]) == []


def test_the_callers_tokenizer_is_not_changed(tok_dir):
    tok = load_tokenizer(tok_dir)
    before = tok.fingerprint
    OrdinaryEncoder(tok)
    assert tok.encode(EOS) == [tok.eos_id] and not tok.hf.encode_special_tokens
    assert load_tokenizer(tok_dir).fingerprint == before


def test_an_eos_listed_as_a_plain_added_token_is_still_ordinary_text(tok_dir, tmp_path):
    spec = json.loads((tok_dir / "tokenizer.json").read_text())
    for t in spec["added_tokens"]:
        if t["content"] == EOS:
            t["special"] = False  # some hand-made tokenizer.json files do this
    (tmp_path / "tokenizer.json").write_text(json.dumps(spec))
    tok = load_tokenizer(tmp_path / "tokenizer.json")
    assert tok.encode(EOS) == [tok.eos_id]
    assert tok.eos_id not in OrdinaryEncoder(tok).encode(f"a{EOS}b")


def test_refuses_a_tokenizer_whose_eos_text_cannot_be_ordinary():
    """A word-level vocabulary that has <|endoftext|> as a plain word: its text would still become the
    separator, so packing with it would cut documents apart; refused with the reason."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    hf = Tokenizer(models.WordLevel({EOS: 0, "a": 1, "[UNK]": 2}, unk_token="[UNK]"))
    hf.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    with pytest.raises(ValueError, match="still encodes to the separator id 0"):
        OrdinaryEncoder(CodeTokenizer(hf))


def test_pack_ids_little_endian():
    assert pack_ids([1, 258], "H") == b"\x01\x00\x02\x01"
    assert pack_ids([70_000], "I") == (70_000).to_bytes(4, "little")
