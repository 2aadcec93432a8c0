"""textbooks.data.encode.FastEncoder gives exactly the tokenizer's ids (it is only a faster route)."""

from __future__ import annotations

import array
import json
from pathlib import Path

import pytest

from textbooks.data import pack as pack_mod
from textbooks.data.encode import FastEncoder
from textbooks.data.pack import pack
from textbooks.tokenizer import load_tokenizer

# Each text aims at one rule of the tokenizers pipeline the encoder reproduces.
TRICKY = [
    "",
    "def f(x):\n    return x  # two spaces before the comment\n",
    " " * 31 + "x",  # exactly the longest space token
    " " * 32 + "x",  # 31-space token + a single space that joins the next pre-token
    " " * 33 + "x",  # 31 + 2
    " " * 64 + "\n",
    "\t\t\t\t\t\t\t\t\t\t\tx",  # 11 tabs: 9 + 2
    "a =\t \t\t b",  # mixed tab/space runs
    "x = 1   \n\n\n   y",  # whitespace runs around newlines (\s+(?!\S))
    "trailing spaces   ",
    "it's we're they'll I'd I'M",  # GPT-2 contractions are case-sensitive
    "naïve café 数据 Ünïcödé 🙂🙂 ١٢٣ Ⅻ ½",  # letters, numbers, emoji outside the BPE vocabulary
    "no-break\u00a0space ideographic\u3000space \x1c\x1d\x1e\x1f separators\r\n",
    "text<|endoftext|>more <|endoftext|><|endoftext|>",  # literal special token in a text
    "<|endoftext",  # a prefix of the special token is plain text
    "x" * 500,  # one long pre-token
    "0123456789 3.14159 1e-10 0xFF",
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


def _ids(fe: FastEncoder, text: str) -> list[int]:
    return array.array(fe.typecode, fe.encode(text)).tolist()


@pytest.mark.parametrize("text", TRICKY)
def test_same_ids_as_the_tokenizer(tok_dir, text):
    tok = load_tokenizer(tok_dir)
    fe = FastEncoder.for_tokenizer(tok, "H")
    assert fe is not None
    assert _ids(fe, text) == tok.encode(text)
    assert _ids(fe, text) == tok.encode(text)  # second time from the pre-token cache


def test_same_ids_without_the_run_shortcut(tok_dir):
    """Added tokens that are not codegen's runs use the literal alternation path."""
    from tokenizers import AddedToken

    tok = load_tokenizer(tok_dir)
    tok.hf.add_tokens([AddedToken("<tab>", normalized=False), AddedToken("<ta", normalized=False)])
    fe = FastEncoder.for_tokenizer(tok, "H")
    for text in [*TRICKY, "x<tab>y<ta<tab><tabb", "  <tab>  "]:
        assert _ids(fe, text) == tok.encode(text), text


def test_declines_tokenizers_it_does_not_reproduce(tok_dir, tmp_path):
    from tokenizers import normalizers, pre_tokenizers

    tok = load_tokenizer(tok_dir)
    tok.hf.normalizer = normalizers.NFKC()
    assert FastEncoder.for_tokenizer(tok, "H") is None
    tok = load_tokenizer(tok_dir)
    tok.hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    assert FastEncoder.for_tokenizer(tok, "H") is None


def test_pack_output_is_the_same_with_either_encoder(tmp_path, tok_dir):
    src = tmp_path / "t.jsonl"
    src.write_text("\n".join(json.dumps({"text": t}) for t in TRICKY if t.strip()) + "\n")
    a = pack([src], tok_dir, tmp_path / "a", val_fraction=0.0, workers=1, progress=False, encoder="auto")
    b = pack([src], tok_dir, tmp_path / "b", val_fraction=0.0, workers=1, progress=False, encoder="tokenizer")
    assert a == b and (tmp_path / "a" / "train_00000.bin").read_bytes() == (tmp_path / "b" / "train_00000.bin").read_bytes()


def test_pack_catches_a_wrong_fast_encoding(tmp_path, tok_dir, monkeypatch):
    src = tmp_path / "t.jsonl"
    src.write_text(json.dumps({"text": "def f():\n    return 1\n"}) + "\n")
    monkeypatch.setattr(pack_mod, "VERIFY_EVERY", 1)
    monkeypatch.setattr(FastEncoder, "encode", lambda self, text: b"\x01\x00")  # a broken encoder
    with pytest.raises(RuntimeError, match="disagrees with the tokenizer"):
        pack([src], tok_dir, tmp_path / "p", workers=1, progress=False)
    assert not (tmp_path / "p").exists()
