"""The code tokenizer: a codegen-350M-mono style byte-level BPE (paper §2.3, reference §2.5).

    from textbooks.tokenizer import train_tokenizer, load_tokenizer, CodeTokenizer

Names are imported lazily so that `textbooks --help` (which imports textbooks.tokenizer.cli, and
therefore this package) does not load the `tokenizers` library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["train_tokenizer", "load_tokenizer", "CodeTokenizer", "EOS_TOKEN", "WHITESPACE_TOKENS"]

if TYPE_CHECKING:
    from textbooks.tokenizer.load import EOS_TOKEN, WHITESPACE_TOKENS, CodeTokenizer, load_tokenizer
    from textbooks.tokenizer.train import train_tokenizer


def __getattr__(name: str):
    if name == "train_tokenizer":
        from textbooks.tokenizer.train import train_tokenizer

        return train_tokenizer
    if name in ("load_tokenizer", "CodeTokenizer", "EOS_TOKEN", "WHITESPACE_TOKENS"):
        from textbooks.tokenizer import load

        return getattr(load, name)
    raise AttributeError(f"module 'textbooks.tokenizer' has no attribute {name!r}")
