"""decode(encode(x)) == x: on the whole standard library and on hand-picked and random edge cases."""

import random



def test_roundtrip_whole_stdlib(code_tokenizer, stdlib_texts, monkeypatch):
    # ~30 MB of source: let the Rust encoder use every core (tests/conftest.py turns parallelism off).
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "true")
    assert len(stdlib_texts) > 500, "the standard library should have hundreds of UTF-8 .py files"
    ids = code_tokenizer.encode_batch(stdlib_texts)
    decoded = code_tokenizer.decode_batch(ids)
    bad = [i for i, (a, b) in enumerate(zip(stdlib_texts, decoded)) if a != b]
    assert not bad, f"{len(bad)} files do not round-trip, first: {stdlib_texts[bad[0]][:200]!r}"
    # Compression sanity: a 2000-token code BPE packs more than 2 characters per token.
    chars = sum(map(len, stdlib_texts))
    tokens = sum(map(len, ids))
    assert chars / tokens > 2.0, (chars, tokens)


def test_roundtrip_edge_cases(code_tokenizer, edge_cases):
    for text in edge_cases:
        ids = code_tokenizer.encode(text)
        assert code_tokenizer.decode(ids) == text, f"{text!r} -> {ids}"
        assert all(0 <= i < code_tokenizer.vocab_size for i in ids)


def test_roundtrip_random_unicode(code_tokenizer):
    """Random strings over all of Unicode (surrogates excluded: they are not valid UTF-8)."""
    rng = random.Random(0)
    pools = [
        lambda: chr(rng.randrange(0x20, 0x7F)),  # ASCII
        lambda: rng.choice(" \t\n\r"),  # whitespace, often in runs
        lambda: chr(rng.randrange(0x80, 0xD800)),  # BMP before surrogates
        lambda: chr(rng.randrange(0xE000, 0x110000)),  # rest of BMP + astral planes
    ]
    texts = []
    for _ in range(300):
        n = rng.randrange(0, 60)
        texts.append("".join(rng.choice(pools)() * rng.choice([1, 1, 1, 3, 12]) for _ in range(n)))
    ids = code_tokenizer.encode_batch(texts)
    assert code_tokenizer.decode_batch(ids) == texts


def test_encode_batch_equals_encode(code_tokenizer, stdlib_texts, edge_cases):
    texts = stdlib_texts[::97] + edge_cases
    assert code_tokenizer.encode_batch(texts) == [code_tokenizer.encode(t) for t in texts]
    assert code_tokenizer.encode_batch([]) == []
    assert code_tokenizer.encode_batch(iter(["a b"])) == [code_tokenizer.encode("a b")]


def test_decode_accepts_arrays(code_tokenizer):
    import numpy as np
    import torch

    text = "def add(a, b):\n    return a + b\n"
    ids = code_tokenizer.encode(text)
    assert code_tokenizer.decode(np.array(ids, dtype=np.uint16)) == text
    assert code_tokenizer.decode(torch.tensor(ids)) == text
    assert code_tokenizer.decode_batch([torch.tensor(ids), ids]) == [text, text]


def test_eos_token_in_text_is_the_separator_id(code_tokenizer):
    # As transformers does by default: literal "<|endoftext|>" becomes the special id (and decodes back).
    ids = code_tokenizer.encode("a<|endoftext|>b")
    assert code_tokenizer.eos_id in ids
    assert code_tokenizer.decode(ids) == "a<|endoftext|>b"
