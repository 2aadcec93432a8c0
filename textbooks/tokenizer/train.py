"""Train a code tokenizer the way codegen-350M-mono's was made (paper §2.3 uses that tokenizer).

codegen-350M-mono = GPT-2's byte-level BPE (50257 ids, `<|endoftext|>` = 50256 the last one) plus 38
whitespace tokens (runs of 31..2 spaces = 50257..50286, then 9..2 tabs = 50287..50294). We rebuild the
same layout at any size N:

    ids 0 .. N-40     byte-level BPE: the 256 byte symbols, then learned merges (GPT-2 regex pre-split,
                      add_prefix_space=False, no unknown token: every byte has a symbol)
    id  N-39          <|endoftext|>   (the document separator, also bos/unk like GPT-2)
    ids N-38 .. N-9   31, 30, ..., 2 spaces
    ids N-8  .. N-1   9, 8, ..., 2 tabs

so with N = 50295 the special ids equal codegen's. The model's embedding is padded to a multiple of 64.

The whitespace tokens are "added tokens": at encode time runs of spaces/tabs are cut out *before*
the BPE sees the text (longest match first), so BPE merges of space runs would never be used. We
therefore train on the text as encode will see it: each document is split around those runs, and
the BPE spends its vocabulary on code instead of indentation. (GPT-2's own vocabulary, which codegen
reused, had such dead entries since it was trained before the whitespace tokens existed.)
"""

from __future__ import annotations

import itertools
import json
import os
import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator, MutableMapping
from pathlib import Path

from textbooks.data.sources import SourceUnit, iter_units, list_units
from textbooks.text import too_long
from textbooks.tokenizer.load import EOS_TOKEN, WHITESPACE_TOKENS, CodeTokenizer

N_BYTE_SYMBOLS = 256
N_EXTRA = 1 + len(WHITESPACE_TOKENS)  # <|endoftext|> + 38 whitespace tokens
MIN_VOCAB_SIZE = N_BYTE_SYMBOLS + N_EXTRA

# Runs that the added whitespace tokens will capture at encode time (2+ spaces, 2+ tabs).
_WS_RUN = re.compile(r" {2,}|\t{2,}")
_MAX_RUN = {" ": 31, "\t": 9}


def split_like_encoder(text: str) -> list[str]:
    """The pieces of `text` the BPE model sees at encode time, with the whitespace-token runs removed.

    Added tokens match leftmost-longest, so a run of L spaces becomes floor(L/31) 31-space tokens and a
    rest; a rest of exactly one space is not an added token and stays in front of the next piece.
    """
    pieces: list[str] = []
    carry = ""
    pos = 0
    for m in _WS_RUN.finditer(text):
        if m.start() > pos or carry:
            pieces.append(carry + text[pos:m.start()])
        run = m.group()
        carry = run[0] if len(run) % _MAX_RUN[run[0]] == 1 else ""
        pos = m.end()
    tail = carry + text[pos:]
    if tail:
        pieces.append(tail)
    return [p for p in pieces if p]


def _spread(units: list[SourceUnit], max_files: int) -> list[SourceUnit]:
    """Evenly spaced .py files (a sample across the whole corpus, not its alphabetical head)."""
    py = [u for u in units if u.kind == "py"]
    if len(py) <= max_files:
        return units
    step = len(py) / max_files
    keep = {id(py[int(i * step)]) for i in range(max_files)}
    return [u for u in units if u.kind != "py" or id(u) in keep]


def train_tokenizer(
    inputs: Iterable[str | os.PathLike],
    vocab_size: int,
    out_dir: str | os.PathLike,
    *,
    min_frequency: int = 2,
    max_files: int | None = None,
    skipped: MutableMapping[str, int] | None = None,
    show_progress: bool = False,
    max_doc_bytes: int | None = None,
) -> dict:
    """Train on the documents of `inputs` and write the tokenizer files to `out_dir`; returns stats.

    `vocab_size` is the total (BPE + <|endoftext|> + 38 whitespace tokens); a corpus too small to learn
    that many merges gives fewer (stats["vocab_size"] is the real size). `max_files` caps the number of
    documents: .py files are then sampled evenly across the inputs. Documents over `max_doc_bytes` (UTF-8)
    are skipped and counted as too_long, never pre-tokenized (a 50 MB one-line record took 9 GB).
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    inputs = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    if vocab_size < MIN_VOCAB_SIZE:
        raise ValueError(
            f"vocab_size {vocab_size} is too small: the 256 byte symbols, {EOS_TOKEN} and the "
            f"{len(WHITESPACE_TOKENS)} codegen whitespace tokens need at least {MIN_VOCAB_SIZE}"
        )
    if max_files is not None and max_files < 1:
        raise ValueError(f"max_files must be >= 1, got {max_files}")
    skipped = Counter() if skipped is None else skipped
    start = time.perf_counter()
    units = list_units(inputs, skipped)
    if max_files is not None:
        units = _spread(units, max_files)
    n_py = sum(u.kind == "py" for u in units)
    total = max_files if max_files is not None and n_py >= max_files else (n_py if n_py == len(units) else None)

    stats = {"documents": 0, "chars": 0}

    def batches() -> Iterator[list[str]]:
        docs = iter_units(units, skipped)
        if max_files is not None:
            docs = itertools.islice(docs, max_files)
        if show_progress:
            from tqdm import tqdm

            docs = tqdm(docs, total=total, unit="doc", desc="reading", dynamic_ncols=True)
        for doc in docs:
            if too_long(max_doc_bytes, doc.text):
                skipped["too_long"] += 1
                continue
            stats["documents"] += 1
            stats["chars"] += len(doc.text)
            yield split_like_encoder(doc.text)

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)  # GPT-2 regex
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)  # as GPT-2's tokenizer.json; offsets only
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - N_EXTRA,
        min_frequency=min_frequency,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],  # added after training so <|endoftext|> follows the BPE ids, as in GPT-2
        show_progress=show_progress,
    )
    tok.train_from_iterator(batches(), trainer=trainer)
    if stats["documents"] == 0:
        raise ValueError(f"no documents to train on in {[str(p) for p in inputs]} (skipped: {dict(skipped)})")

    tok.add_special_tokens([AddedToken(EOS_TOKEN, special=True, normalized=False)])
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in WHITESPACE_TOKENS])
    code_tok = CodeTokenizer(tok, EOS_TOKEN, source=str(out_dir))
    _check_layout(code_tok)
    files = code_tok.save(out_dir)

    result = {
        "requested_vocab_size": vocab_size,
        "vocab_size": code_tok.vocab_size,
        "padded_vocab_size": code_tok.padded_vocab_size,
        "eos_id": code_tok.eos_id,
        "whitespace_ids": [code_tok.eos_id + 1, code_tok.vocab_size - 1],
        "merges": code_tok.vocab_size - N_EXTRA - N_BYTE_SYMBOLS,
        "documents": stats["documents"],
        "chars": stats["chars"],
        "skipped": dict(skipped),
        "min_frequency": min_frequency,
        "max_files": max_files,
        "inputs": [str(p) for p in inputs],
        "fingerprint": code_tok.fingerprint,
        "seconds": round(time.perf_counter() - start, 2),
    }
    stats_path = Path(out_dir) / "training_stats.json"
    stats_path.write_text(json.dumps(result, indent=2) + "\n")
    result["files"] = [str(p) for p in [*files, stats_path]]
    return result


def _check_layout(tok: CodeTokenizer) -> None:
    """The codegen layout documented at the top of this module, asserted on the built tokenizer."""
    base = tok.eos_id
    want = {t: base + 1 + i for i, t in enumerate(WHITESPACE_TOKENS)}
    got = tok.whitespace_token_ids()
    if got != want or tok.vocab_size != base + N_EXTRA:
        raise RuntimeError(f"unexpected token layout: eos {base}, whitespace {got}")
