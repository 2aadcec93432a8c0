"""Fixtures of the quality tests: a tiny random Phi checkpoint (our format) with a real trained tokenizer."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def quality_checkpoint(tiny_tokenizer_dir, tmp_path_factory):
    """A 2-layer random Phi saved with save_pretrained + the session's tiny tokenizer: a directory that is
    both one of our checkpoints and a transformers PhiForCausalLM directory."""
    torch = pytest.importorskip("torch")

    from textbooks.model import Phi, PhiConfig
    from textbooks.tokenizer import load_tokenizer

    tok = load_tokenizer(tiny_tokenizer_dir)
    torch.manual_seed(0)
    cfg = PhiConfig(vocab_size=tok.padded_vocab_size, n_layer=2, d_model=64, n_head=4, d_mlp=128, rotary_dim=8,
                    max_seq_len=128, init_std=0.1)
    out = tmp_path_factory.mktemp("quality_ckpt") / "tiny-phi"
    Phi(cfg).eval().save_pretrained(out)
    tok.save(out)
    return out
