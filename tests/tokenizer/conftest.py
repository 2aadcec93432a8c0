"""Tokenizer-stage fixtures: one tokenizer trained per session, the standard library's texts."""

import pytest

from textbooks.data.sources import read_documents, stdlib_dir

VOCAB_SIZE = 2000


@pytest.fixture(scope="session")
def code_tokenizer_dir(tmp_path_factory):
    """vocab 2000 trained on 400 .py files sampled evenly across the standard library (a few seconds)."""
    from textbooks.tokenizer import train_tokenizer

    out = tmp_path_factory.mktemp("code_tokenizer")
    stats = train_tokenizer([stdlib_dir()], vocab_size=VOCAB_SIZE, out_dir=out, max_files=400)
    assert stats["vocab_size"] == VOCAB_SIZE, stats  # 400 stdlib files easily support 2000 tokens
    return out


@pytest.fixture(scope="session")
def code_tokenizer(code_tokenizer_dir):
    from textbooks.tokenizer import load_tokenizer

    return load_tokenizer(code_tokenizer_dir)


@pytest.fixture(scope="session")
def stdlib_texts():
    """Every .py file of the standard library that is valid UTF-8 (its nested site-packages excluded)."""
    return [doc.text for doc in read_documents([stdlib_dir()])]


_EDGE_CASES = [
    "",  # nothing -> no ids
    " ",  # a lone space is a byte-level symbol, not a whitespace token
    "\t",
    "\n",
    "\r\n",  # Windows line ending: two bytes, kept as is
    "a\r\nb\rc\n",
    "    def f(x):\n\treturn x  # indented with spaces, then a tab\n",
    " " * 31,  # exactly the longest space token
    " " * 32 + "x",  # 31 spaces + one space that joins "x"
    " " * 200,  # several 31-space tokens and a rest
    "\t" * 9,
    "\t" * 10 + "y",  # 9 tabs + one tab symbol
    "\t \t  \t\t   \t\t\t    ",  # alternating runs
    "x = 1   \n\n\n   \n",  # trailing spaces and blank lines
    "\u00a0\u2002\u3000\u2028\u2029\ufeff",  # non-ASCII spaces, line/paragraph separators, BOM
    "héllo wörld — ñ ç ß ø",
    "世界你好 こんにちは 안녕하세요",
    "🙂👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈",  # emoji with skin tone modifier and ZWJ sequences (4-byte UTF-8)
    "e\u0301 a\u0308",  # combining accents
    "مرحبا بالعالم עברית",  # right-to-left scripts
    "\x00\x01\x07\x1b[31m\x7f",  # control characters and an ANSI escape
    "<|endoftext|>",  # the special token as text
    "a<|endoftext|>b <|endoftext|",  # special token inside text, and a truncated one
    "'''doc'''\n\"\"\"x\"\"\" f'{a!r:>10}' b'\\xff' r'\\d+'",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟘𝟙𝟚 \U0010FFFF \U000E0001",  # astral plane incl. the last code point
]


@pytest.fixture(scope="session")
def edge_cases():
    """Texts that break naive tokenizers: whitespace runs at the token-length limits, line endings,
    non-ASCII spaces, emoji ZWJ sequences, control characters, the special token as text."""
    return list(_EDGE_CASES)


@pytest.fixture(scope="session")
def vocab_size():
    return VOCAB_SIZE
