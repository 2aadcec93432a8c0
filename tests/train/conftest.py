"""Tiny fixtures for trainer tests: a small tokenizer, packed corpora, and a config builder.

Everything is made here in tmp dirs (session-scoped where it is read-only) so the tests run offline in seconds.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest


def _python_corpus(directory: Path, n_files: int, seed: int) -> Path:
    """Small, repetitive Python files: a tiny model can overfit them within a few dozen steps."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    names = ["alpha", "beta", "gamma", "delta", "total", "count", "value", "items"]
    for i in range(n_files):
        a, b = rng.sample(names, 2)
        body = (
            f"def add_{a}_{b}({a}, {b}):\n"
            f'    """Return the sum of {a} and {b}."""\n'
            f"    return {a} + {b}\n\n\n"
            f"def loop_{i % 7}(items):\n"
            f"    total = 0\n"
            f"    for x in items:\n"
            f"        total += x * {i % 5}\n"
            f"    return total\n"
        )
        (directory / f"mod_{i:04d}.py").write_text(body)
    return directory


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory) -> Path:
    return _python_corpus(tmp_path_factory.mktemp("corpus") / "code", 120, seed=0)


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory, corpus_dir) -> Path:
    from textbooks.tokenizer import train_tokenizer

    out = tmp_path_factory.mktemp("tok")
    train_tokenizer([corpus_dir], vocab_size=400, out_dir=out)
    return out


@pytest.fixture(scope="session")
def other_tokenizer_dir(tmp_path_factory) -> Path:
    """A second tokenizer (different corpus, different fingerprint) for the mismatch test."""
    from textbooks.tokenizer import train_tokenizer

    corpus = _python_corpus(tmp_path_factory.mktemp("corpus2") / "code", 60, seed=1)
    (corpus / "extra.py").write_text("class Something:\n    pass\n" * 20)
    out = tmp_path_factory.mktemp("tok2")
    train_tokenizer([corpus], vocab_size=360, out_dir=out)
    return out


@pytest.fixture(scope="session")
def packed_dir(tmp_path_factory, corpus_dir, tokenizer_dir) -> Path:
    from textbooks.data.pack import pack

    out = tmp_path_factory.mktemp("packed") / "code"
    pack([corpus_dir], tokenizer_dir, out, val_fraction=0.2, workers=1, progress=False)
    return out


@pytest.fixture
def make_config(tokenizer_dir, packed_dir, tmp_path):
    """make_config(**{"trainer.micro_batch_size": 2, ...}) -> TrainConfig for a tiny CPU run in tmp_path/run."""
    from textbooks.train.config import load_config

    def make(*overrides: str, **sets):
        base = [
            "model.preset=tiny",
            "model.overrides={n_layer: 2, d_model: 64, n_head: 2, d_mlp: 128, rotary_dim: 16, max_seq_len: 64}",
            f"data.datasets=[{packed_dir}]",
            "data.seq_len=32",
            f"data.tokenizer={tokenizer_dir}",
            "optimizer.lr=3e-3",
            "schedule.warmup_steps=1",
            "schedule.decay_steps=20",
            "trainer.micro_batch_size=4",
            "trainer.grad_accum_steps=1",
            "trainer.precision=fp32",
            "trainer.device=cpu",
            "trainer.compile=false",
            "trainer.deterministic=true",
            "trainer.cpu_threads=1",
            "trainer.checkpoint_every=5",
            "trainer.keep_last=2",
            "trainer.val_every=0",
            f"trainer.run_dir={tmp_path / 'run'}",
            "logging.log_every=1",
            "logging.tensorboard=false",
            "logging.progress=lines",
        ]
        extra = [f"{k}={v}" for k, v in sets.items()]
        return load_config(None, [*base, *overrides, *extra])

    return make
