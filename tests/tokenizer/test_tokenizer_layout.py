"""The codegen-350M-mono token layout (reference §2.5): BPE ids, then <|endoftext|>, then 30 space-run
tokens (31..2 spaces) and 8 tab-run tokens (9..2 tabs); the model vocab padded to a multiple of 64."""

import pytest

from textbooks.tokenizer import EOS_TOKEN, WHITESPACE_TOKENS
from textbooks.tokenizer.train import split_like_encoder


def test_whitespace_token_set_matches_codegen():
    spaces = [t for t in WHITESPACE_TOKENS if t[0] == " "]
    tabs = [t for t in WHITESPACE_TOKENS if t[0] == "\t"]
    assert [len(t) for t in spaces] == list(range(31, 1, -1))  # codegen ids 50257..50286
    assert [len(t) for t in tabs] == list(range(9, 1, -1))  # codegen ids 50287..50294
    assert WHITESPACE_TOKENS[:30] == tuple(spaces) and len(WHITESPACE_TOKENS) == 38
    # With the BPE part of GPT-2's size (50256 ids) this layout gives codegen's exact ids.
    assert 50256 + 1 + len(WHITESPACE_TOKENS) == 50295


def test_ids_follow_codegen_layout(code_tokenizer, vocab_size):
    tok, VOCAB_SIZE = code_tokenizer, vocab_size
    assert tok.vocab_size == VOCAB_SIZE
    assert tok.eos_id == VOCAB_SIZE - 39 and tok.hf.token_to_id(EOS_TOKEN) == tok.eos_id
    ws = tok.whitespace_token_ids()
    assert ws[" " * 31] == tok.eos_id + 1
    assert ws["  "] == tok.eos_id + 30
    assert ws["\t" * 9] == tok.eos_id + 31
    assert ws["\t\t"] == tok.eos_id + 38 == VOCAB_SIZE - 1
    assert list(ws.values()) == list(range(tok.eos_id + 1, VOCAB_SIZE))
    assert tok.padded_vocab_size == 2048 and tok.padded_vocab_size % 64 == 0


@pytest.mark.parametrize("n", [1, 63, 64, 65, 1000, 50295])
def test_padded_vocab_size(n):
    from textbooks.tokenizer.load import pad_vocab_size

    p = pad_vocab_size(n)
    assert p % 64 == 0 and n <= p < n + 64
    assert pad_vocab_size(50295) == 50304


def test_whitespace_runs_use_the_added_tokens(code_tokenizer):
    tok = code_tokenizer
    ws = tok.whitespace_token_ids()
    ids = tok.encode("    return x")
    assert ids[0] == ws["    "]  # indentation is one token
    assert tok.decode(ids[1:]) == "return x"
    assert tok.encode(" " * 40) == [ws[" " * 31], ws[" " * 9]]  # longest match first
    assert tok.encode("\t" * 12) == [ws["\t" * 9], ws["\t" * 3]]
    one_space_x = tok.encode(" x")
    assert tok.encode(" " * 32 + "x") == [ws[" " * 31], *one_space_x]  # the rest space joins the word
    assert all(i not in ws.values() for i in tok.encode(" a\tb"))  # single spaces/tabs are BPE bytes


def test_bpe_merges_do_not_contain_space_runs(code_tokenizer):
    """We train on text split like the encoder splits it, so no merge is spent on dead space runs."""
    vocab = code_tokenizer.hf.get_vocab(with_added_tokens=False)
    dead = [t for t in vocab if "ĠĠ" in t or "ĉĉ" in t]  # byte-level symbols of " " and "\t"
    assert dead == []


@pytest.mark.parametrize(
    "text",
    [
        "class A:\n    def f(self):\n        return  1\n",
        " " * 32 + "x\t\t\ty" + "\t" * 10 + "z   ",
        "a" + " " * 63 + "b" + " " * 62,  # 63 = 2*31+1 (a rest space), 62 = 2*31 (no rest)
        "\t  \t",
    ],
)
def test_training_split_matches_encoder(code_tokenizer, text):
    """split_like_encoder(text) == the pieces the BPE model sees when the tokenizer encodes text."""
    tok = code_tokenizer
    ws_ids = set(tok.whitespace_token_ids().values())
    pieces, current = [], []
    for i in tok.encode(text):
        if i in ws_ids:
            if current:
                pieces.append(tok.decode(current))
            current = []
        else:
            current.append(i)
    if current:
        pieces.append(tok.decode(current))
    assert split_like_encoder(text) == pieces
