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


def save_tiny_phi(out, tokenizer_dir, init_std: float):
    """A 2-layer random Phi (seed 0) saved as a checkpoint directory `out` with the tokenizer of
    `tokenizer_dir`: one of our checkpoints and a transformers PhiForCausalLM directory at once."""
    import torch

    from textbooks.model import Phi, PhiConfig
    from textbooks.tokenizer import load_tokenizer

    tok = load_tokenizer(tokenizer_dir)
    torch.manual_seed(0)
    cfg = PhiConfig(vocab_size=tok.padded_vocab_size, n_layer=2, d_model=64, n_head=4, d_mlp=128, rotary_dim=8,
                    max_seq_len=128, init_std=init_std)
    Phi(cfg).eval().save_pretrained(out)
    tok.save(out)
    return out

