"""Featurizers: hashed n-grams (stable, deterministic), HF causal LMs (CodeGen layout), our Phi (== its HF export)."""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys

import numpy as np
import pytest

from textbooks.data.quality.featurize import (
    HashedNgramFeaturizer,
    HFCausalLMFeaturizer,
    PhiFeaturizer,
    code_tokens,
    load_featurizer,
)

TEXTS = [
    'def add(a, b):\n    """Add two numbers."""\n    return a + b\n',
    "x = 1",
    "import os\n" * 80,  # longer than the tiny models' 128-token context: truncated
    "",  # nothing to embed: the zero vector
    "class Stack:\n    def __init__(self):\n        self.items = []\n<|endoftext|>print(1)\n",
    "for i in range(10):\n    if i % 2:\n        print(i)\n",
]


def test_code_tokens_follow_the_documented_pattern():
    assert code_tokens("a.b(1) + 0x1F != 2.5e-3  # hi") == ["a", ".", "b", "(", "1", ")", "+", "0x1F", "!", "=", "2.5e-3", "#", "hi"]


def test_hashed_rows_are_unit_norm_and_whitespace_free():
    f = HashedNgramFeaturizer(dim=512)
    x = f.embed(TEXTS)
    assert x.shape == (len(TEXTS), 512) and x.dtype == np.float32
    norms = np.linalg.norm(x, axis=1)
    assert np.allclose(norms[[0, 1, 2, 4, 5]], 1.0, atol=1e-6) and norms[3] == 0.0
    # reindenting (whitespace only) does not change code-token n-grams
    assert np.array_equal(f.embed(["def f(x):\n    return x"]), f.embed(["def  f( x ):\n\treturn x"]))
    assert not np.array_equal(f.embed(["def f(x): return x"]), f.embed(["def f(y): return y"]))


def test_hashed_fingerprint_is_stable_and_names_its_parameters():
    a, b = HashedNgramFeaturizer(), HashedNgramFeaturizer(dim=4096, n=(1, 3))
    assert a.fingerprint == b.fingerprint
    # The golden value: if this changes, every saved classifier built on hashed features is invalidated;
    # bump HashedNgramFeaturizer.VERSION and update it on purpose.
    assert a.fingerprint == "hashed-ngram-v1:dim=4096:n=1-3:tokens=142d3e2a2377"
    others = {HashedNgramFeaturizer(dim=2048).fingerprint, HashedNgramFeaturizer(n=(1, 2)).fingerprint,
              HashedNgramFeaturizer(n=(2, 3)).fingerprint, a.fingerprint}
    assert len(others) == 4
    assert load_featurizer("hashed").fingerprint == a.fingerprint
    assert load_featurizer("hashed:dim=2048,n=1-2").fingerprint == "hashed-ngram-v1:dim=2048:n=1-2:tokens=142d3e2a2377"


def test_hashed_buckets_are_the_golden_ones():
    """The buckets of a fixed text: a change of tokenizer, hash or mixing changes them (and must bump VERSION)."""
    counts = HashedNgramFeaturizer(dim=64)._vector("x = a + b")  # 5 tokens: 5 unigrams + 4 bigrams + 3 trigrams
    assert np.flatnonzero(counts).tolist() == [3, 9, 10, 11, 22, 26, 28, 37, 45, 60]
    assert counts.sum() == 12 and counts.max() == 2  # two pairs of n-grams share a bucket out of 64
    cut = HashedNgramFeaturizer(dim=64, max_chars=5)
    assert np.array_equal(cut.embed(["x = a + b"]), HashedNgramFeaturizer(dim=64).embed(["x = a"]))
    assert "max_chars=5" in cut.fingerprint and load_featurizer(cut.spec).fingerprint == cut.fingerprint


def test_hashed_vectors_are_identical_in_another_process_with_another_hash_seed():
    """No dependence on Python's per-process str hash (PYTHONHASHSEED) or on anything else of the run."""
    here = HashedNgramFeaturizer(dim=256).embed(TEXTS)
    code = ("import sys, numpy as np; from textbooks.data.quality.featurize import HashedNgramFeaturizer; "
            "from tests.data.quality.test_featurize import TEXTS; "
            "sys.stdout.write(HashedNgramFeaturizer(dim=256).embed(TEXTS).tobytes().hex())")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__)))))
    there = np.frombuffer(bytes.fromhex(out.stdout), dtype=np.float32).reshape(here.shape)
    assert np.array_equal(here, there)


def test_spec_errors_name_the_path_and_what_was_expected(tmp_path):
    a_file = tmp_path / "weights.bin"
    a_file.write_bytes(b"x")
    with pytest.raises(ValueError, match=r"weights\.bin: is a file; expected"):
        load_featurizer(str(a_file))
    with pytest.raises(ValueError, match="has no config.json"):
        load_featurizer(str(tmp_path))
    with pytest.raises(ValueError, match="unknown option"):
        load_featurizer("hashed:size=3")
    with pytest.raises(ValueError, match="not 'hashed"):
        load_featurizer("./no/such/dir/here")


def test_hub_id_offline_and_not_cached_is_a_clear_error(monkeypatch, tmp_path):
    pytest.importorskip("huggingface_hub")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))  # an empty cache: nothing is there
    with pytest.raises(FileNotFoundError, match="huggingface-cli download Salesforce/codegen-350M-mono"):
        load_featurizer("Salesforce/codegen-350M-mono")


# --- language-model featurizers -------------------------------------------------------------------------
transformers_required = pytest.mark.skipif(
    __import__("importlib").util.find_spec("transformers") is None,
    reason="HF featurizer tests need transformers: pip install -e '.[hf]'")


@pytest.fixture(scope="module")
def tiny_codegen_dir(tiny_tokenizer_dir, tmp_path_factory):
    """A random 2-layer CodeGen (the paper's feature model family) with the session's tokenizer, saved
    as transformers saves Salesforce/codegen-350M-mono-style directories."""
    transformers = pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    from textbooks.tokenizer import load_tokenizer

    tok = load_tokenizer(tiny_tokenizer_dir)
    torch.manual_seed(0)
    config = transformers.CodeGenConfig(vocab_size=tok.padded_vocab_size, n_positions=128, n_ctx=128, n_embd=64,
                                        n_layer=2, n_head=4, rotary_dim=8, bos_token_id=tok.eos_id, eos_token_id=tok.eos_id)
    out = tmp_path_factory.mktemp("codegen") / "tiny-codegen"
    transformers.CodeGenForCausalLM(config).eval().save_pretrained(out)
    tok.save(out)
    return out


@transformers_required
def test_hf_codegen_embeddings_do_not_depend_on_batching_or_padding(tiny_codegen_dir):
    f = load_featurizer(str(tiny_codegen_dir))
    assert isinstance(f, HFCausalLMFeaturizer) and f.dim == 64 and f.fingerprint.startswith("hf-causal-lm:codegen:")
    batched = f.embed(TEXTS, batch_size=4)
    alone = np.concatenate([f.embed([t], batch_size=1) for t in TEXTS])
    assert np.abs(batched - alone).max() < 1e-5  # pads never leak into a real row's mean
    norms = np.linalg.norm(batched, axis=1)
    assert np.allclose(np.delete(norms, 3), 1.0, atol=1e-5) and norms[3] == 0.0
    assert np.abs(batched[0] - batched[5]).max() > 1e-3  # different code, different vectors


@transformers_required
def test_hf_truncates_to_max_tokens(tiny_codegen_dir):
    f = HFCausalLMFeaturizer(tiny_codegen_dir, max_tokens=8)
    head = "def add(a, b):\n    return a + b\n" * 4  # well over 8 tokens
    a, b = f.embed([head, head + "\nclass Other:\n    x = [1, 2, 3]\n"])
    assert np.abs(a - b).max() < 1e-6  # only the first 8 tokens are read
    assert "max_tokens=8" in f.fingerprint and f.fingerprint != HFCausalLMFeaturizer(tiny_codegen_dir).fingerprint


@transformers_required
def test_phi_embeddings_equal_transformers_on_the_hf_export_of_the_checkpoint(quality_checkpoint, tmp_path):
    from textbooks.cli import main

    exported = tmp_path / "exported"
    assert main(["export", "hf", str(quality_checkpoint), str(exported), "--no-verify"]) == 0
    phi = load_featurizer(str(quality_checkpoint))  # our config key -> PhiFeaturizer (our model code)
    hf = load_featurizer(f"hf:{exported}")  # the export through transformers' AutoModelForCausalLM + AutoTokenizer
    assert isinstance(phi, PhiFeaturizer) and isinstance(hf, HFCausalLMFeaturizer)
    a, b = phi.embed(TEXTS, batch_size=2), hf.embed(TEXTS, batch_size=3)
    assert a.shape == b.shape == (len(TEXTS), 64)
    assert np.abs(a - b).max() < 1e-4
    # same model, different code paths: different fingerprints (a classifier is tied to one of them)
    assert phi.fingerprint.startswith("phi:") and hf.fingerprint.startswith("hf-causal-lm:phi:")
    assert phi.fingerprint != hf.fingerprint


def test_phi_fingerprint_follows_the_weights_and_survives_pickling(quality_checkpoint, tmp_path):
    pytest.importorskip("torch")
    from safetensors.torch import load_file, save_file

    copy = tmp_path / "copy"
    shutil.copytree(quality_checkpoint, copy)
    (copy / "README.md").write_text("notes do not change the vectors\n")
    original = PhiFeaturizer(quality_checkpoint)
    assert PhiFeaturizer(copy).fingerprint == original.fingerprint
    weights = load_file(copy / "model.safetensors")
    weights["lm_head.bias"] = weights["lm_head.bias"] + 1.0  # any byte of the weights changes the hash
    save_file(weights, copy / "model.safetensors", metadata={"format": "pt"})
    assert PhiFeaturizer(copy).fingerprint != original.fingerprint
    assert PhiFeaturizer(quality_checkpoint, max_tokens=16).fingerprint != original.fingerprint

    x = original.embed(TEXTS[:2])
    shipped = pickle.loads(pickle.dumps(original))  # how an executor ships it: without the loaded model
    assert shipped._model is None
    assert np.array_equal(shipped.embed(TEXTS[:2]), x)
