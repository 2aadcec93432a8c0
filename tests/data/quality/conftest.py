"""Fixtures of the quality tests: a tiny random Phi checkpoint (our format) with a real trained tokenizer."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def quality_checkpoint(tiny_tokenizer_dir, tmp_path_factory):
    """A 2-layer random Phi saved with save_pretrained + the session's tiny tokenizer: a directory that is
    both one of our checkpoints and a transformers PhiForCausalLM directory."""
    pytest.importorskip("torch")
    from tests.conftest import save_tiny_phi

    return save_tiny_phi(tmp_path_factory.mktemp("quality_ckpt") / "tiny-phi", tiny_tokenizer_dir, init_std=0.1)
