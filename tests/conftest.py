"""Shared fixtures. Stage-specific fixtures live in tests/<stage>/conftest.py."""

import os

# Tests never reach a model/dataset hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_tokenizer_dir(tmp_path_factory):
    """A small codegen-style tokenizer (vocab 1024) trained once per session on ~300 stdlib files
    spread over the whole standard library; a directory with tokenizer.json, tokenizer_config.json and
    special_tokens_map.json that `load_tokenizer` and transformers' AutoTokenizer both load. ~2 s."""
    from textbooks.data.sources import stdlib_dir
    from textbooks.tokenizer import train_tokenizer

    out = tmp_path_factory.mktemp("tiny_tokenizer")
    train_tokenizer([stdlib_dir()], vocab_size=1024, out_dir=out, max_files=300)
    return out
