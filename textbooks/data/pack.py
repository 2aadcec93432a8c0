"""Pack documents into training shards, as phi-1 does (paper §2.3, reference §3.1).

"We concatenate our respective datasets into a single dimensional array with '<|endoftext|>' token used
for separating the files": every document is tokenized, `<|endoftext|>` (the tokenizer's `eos_id`) is
appended, and all documents go, in input order, into one token stream. The trainer later cuts that
stream into contiguous `seq_len + 1` windows (textbooks/train/data.py); there is no padding.

Output directory (written to a temporary sibling and renamed at the end, so a crash never leaves half
a dataset under the final name):

    meta.json                 what the shards hold (format below); the loader validates it
    train_00000.bin ...       the training stream, cut every `shard_tokens` tokens (a document may
                              straddle two shards; the loader reads across the boundary)
    val_00000.bin ...         the validation stream (documents chosen by hash, see below)
    *.mask.bin                with `loss_on="completion"`: one uint8 per token, 1 = loss on this token

Token files are raw little-endian `uint16` when the tokenizer's padded vocabulary fits (<= 65536),
else `uint32`: half the disk and page cache of int32 for the codegen-size vocabulary (51,200).

Validation split by document: a document goes to `val` when the first 8 bytes of blake2b(its UTF-8
text) read as an integer fall below `val_fraction * 2**64`. The rule needs no global state (streaming),
does not depend on input order or worker count, and sends identical texts to the same split, so an
exact duplicate never leaks between train and val. If no document lands in val although there are
at least two, the train document with the smallest hash is moved there (and symmetrically train is
never left empty).

Exercise documents that went through a data verb (`data decontaminate`, `data dedup`, ...: datatrove
records whose metadata holds `prompt` and `completion`, as textbooks.data.sources reads exercise records)
keep the same split and mask (`_split_of`).
Prompt/completion records (JSONL whose records carry string `prompt` and `completion` fields, e.g.
CodeExercises) are read here: the text is `prompt + completion`, tokenized as two pieces so the prompt's
tokens are exactly those the model sees at inference time (the prompt is tokenized alone there) and the
mask boundary falls on a token boundary. The paper puts the loss on every token (`loss_on="all"`, the
default); `loss_on="completion"` also writes masks with 0 on prompt tokens. The token stream is the same
in both modes. Other documents (and `<|endoftext|>` after a completion) get mask 1.

Encoding: every document is encoded by the tokenizer itself (`tokenizers`' batch encoder, Rust), as
ordinary text: a literal `<|endoftext|>` inside a document is text (`<`, `|`, `end`, ...), never the
separator, as nanoGPT's `encode_ordinary` (textbooks.data.encode.OrdinaryEncoder). So the stream holds
exactly one eos id per document, at its end, and decoding a document's tokens gives its text back.
Tokenization is the cost of packing; the faster Python re-implementation used before could not be
checked on every document without costing more than the tokenizer (benchmarks/bench_encode.py).

Huge documents: one over `max_doc_bytes` (default 1 MB, `--max-doc-bytes`) is skipped before it is tokenized and
counted as `too_long` in meta.json's `skipped` (a .py file by its size, without reading it): the encoder's memory
grows with the longest document, so one 64 MB line would need gigabytes (benchmarks/results/long_lines.json).

Parallelism and determinism: inputs are expanded into reading units (one .py file, one JSONL file,
one Parquet row group; textbooks.data.sources) and grouped, in order, into tasks. Workers (spawned
processes, one tokenizer each) read .py files and tokenize; JSONL/Parquet records are read here and
sent to workers in chunks. Results are consumed strictly in task order with a bounded number of tasks
in flight, so memory stays flat and the output is byte-identical for any number of workers.
"""

from __future__ import annotations

import argparse
import array
import hashlib
import json
import logging
import multiprocessing as mp
import os
import signal
import shutil
import sys
import time
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from textbooks.data.encode import OrdinaryEncoder, pack_ids
from textbooks.jsonl import iter_jsonl
from textbooks.text import too_long

logger = logging.getLogger(__name__)

FORMAT = "textbooks.packed"
FORMAT_VERSION = 1
META_FILE = "meta.json"
DEFAULT_SHARD_TOKENS = 256 * 2**20  # 256Mi tokens = 512 MiB of uint16 per shard
DEFAULT_VAL_FRACTION = 0.005
TASK_BYTES = 2 * 2**20  # ~2 MiB of text per task: large enough to amortise IPC, small enough to stream
TASK_DOCS = 1024
# Documents larger than this (UTF-8 bytes) are skipped and counted as `too_long`, before they are tokenized:
# the tokenizer's memory grows with the longest document (~270 bytes per token: a 64 MB minified line needs
# ~17 GB; benchmarks/bench_long_lines.py). Codex trained on Python files under 1 MB (Chen et al. 2021, §3.1).
DEFAULT_MAX_DOC_BYTES = 2**20
LOSS_ON = ("all", "completion")


class PackError(ValueError):
    """Bad input to the packer (the message names the file/option and the fix)."""


# ---------------------------------------------------------------------------------------------------
# Tasks: what a worker gets and gives back. The same functions run in-process with workers=1.


@dataclass
class _Task:
    source: int  # index of the input path the documents came from
    units: list | None = None  # SourceUnits (.py files) the worker reads itself
    records: list | None = None  # [(prompt or None, text)] read by the main process
    # Skips seen while reading this task in the main process: attached to the task (not counted
    # globally) so the counts in meta.json do not depend on how far reading ran ahead of writing.
    skipped: dict = field(default_factory=dict)


@dataclass
class _Encoded:
    source: int
    tokens: bytes  # all documents of the task, each followed by eos, as raw dtype items
    lengths: list[int]  # tokens per document (eos included)
    prompt_lengths: list[int]  # tokens of the prompt (0 for plain documents)
    hashes: list[int]  # blake2b-64 of the text, decides the split
    skipped: dict = field(default_factory=dict)


_WORKER: dict = {}


def _init_worker(tokenizer_dir: str, typecode: str) -> None:
    # Ctrl-C reaches the whole process group; the parent decides (it terminates the pool), so a worker
    # must not die on it with a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # One process = one core: the pool is the parallelism, the Rust encoder must not spawn its own threads.
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    _setup_worker(tokenizer_dir, typecode)


def _setup_worker(tokenizer_dir: str, typecode: str, tokenizer=None) -> None:
    if tokenizer is None:
        from textbooks.tokenizer import load_tokenizer

        tokenizer = load_tokenizer(tokenizer_dir)
    _WORKER.update(encoder=OrdinaryEncoder(tokenizer), typecode=typecode, eos=pack_ids([tokenizer.eos_id], typecode))


def _text_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def _encode_pieces(pieces: list[str]) -> list[bytes]:
    """Token bytes of each piece, special tokens in the text read as text (module docstring)."""
    typecode = _WORKER["typecode"]
    return [pack_ids(ids, typecode) for ids in _WORKER["encoder"].encode_batch(pieces)]


def _encode_task(task: _Task) -> _Encoded:
    from textbooks.data.sources import read_py_file

    skipped: Counter = Counter(task.skipped)
    records = task.records
    if records is None:
        records = []
        for unit in task.units:
            doc = read_py_file(unit.path, unit.root, skipped)
            if doc is not None:
                records.append((None, doc.text))
    hashes = [_text_hash(text if prompt is None else prompt + text) for prompt, text in records]
    pieces: list[str] = []
    for prompt, text in records:
        if prompt is not None:
            pieces.append(prompt)
        pieces.append(text)
    encoded = _encode_pieces(pieces)
    eos, itemsize = _WORKER["eos"], len(_WORKER["eos"])
    out: list[bytes] = []
    lengths, prompt_lengths = [], []
    i = 0
    for prompt, _ in records:
        n_prompt = 0
        if prompt is not None:
            out.append(encoded[i])
            n_prompt = len(encoded[i]) // itemsize
            i += 1
        out += (encoded[i], eos)
        lengths.append(n_prompt + len(encoded[i]) // itemsize + 1)
        prompt_lengths.append(n_prompt)
        i += 1
    return _Encoded(task.source, b"".join(out), lengths, prompt_lengths, hashes, dict(skipped))


# ---------------------------------------------------------------------------------------------------
# Reading: inputs -> ordered tasks.


def _is_prompt_completion_jsonl(path: Path) -> bool:
    """True when the first record of a JSONL file has string `prompt` and `completion` fields."""
    records = iter_jsonl(path, objects=True)
    try:
        first = next(records, None)
    except ValueError:
        return False  # not JSON / not an object: let the regular reader report the line
    finally:
        records.close()  # closes the file now, not when the generator is collected
    return first is not None and all(isinstance(first[1].get(k), str) for k in ("prompt", "completion"))


def _read_prompt_completion(path: Path, skipped: Counter) -> Iterator[tuple[str, str]]:
    for line_no, record in iter_jsonl(path, error=PackError, hint="; fix or remove the line"):
        if not isinstance(record, dict) or not all(isinstance(record.get(k), str) for k in ("prompt", "completion")):
            keys = sorted(record)[:12] if isinstance(record, dict) else type(record).__name__
            raise PackError(
                f"{path}:{line_no}: expected string fields 'prompt' and 'completion' like the first record of "
                f"the file (got {keys}); put plain-text records in a separate file"
            )
        if not (record["prompt"] + record["completion"]).strip():
            skipped["empty"] += 1
            continue
        yield record["prompt"], record["completion"]


def _split_of(doc) -> tuple[str | None, str]:
    """(prompt, completion) of an exercise that went through a data verb (its reader kept both fields in
    metadata, textbooks.data.sources), else (None, text): the prompt/completion split, and with it the loss
    mask, survives `data decontaminate` / `data dedup` outputs."""
    meta = doc.metadata or {}
    prompt, completion = meta.get("prompt"), meta.get("completion")
    if isinstance(prompt, str) and isinstance(completion, str) and prompt + completion == doc.text:
        return prompt, completion
    return None, doc.text


def _tasks(inputs: Sequence[Path], prompt_completion: list[bool], max_doc_bytes: int | None = None) -> Iterator[_Task]:
    from textbooks.data.sources import iter_units, list_units

    skipped: Counter = Counter()  # handed to the next task, then reset

    def task(source: int, **kw) -> _Task:
        t = _Task(source, skipped=dict(skipped), **kw)
        skipped.clear()
        return t

    seen_py: set[str] = set()
    for source, path in enumerate(inputs):
        if prompt_completion[source]:
            chunk, size = [], 0
            for prompt, completion in _read_prompt_completion(path, skipped):
                if too_long(max_doc_bytes, prompt, completion):
                    skipped["too_long"] += 1
                    continue
                chunk.append((prompt, completion))
                size += len(prompt) + len(completion)
                if size >= TASK_BYTES or len(chunk) >= TASK_DOCS:
                    yield task(source, records=chunk)
                    chunk, size = [], 0
            if chunk or skipped:
                yield task(source, records=chunk)
            continue
        units, size = [], 0
        records, rsize = [], 0
        data_units = []  # row groups / JSONL files: read below in one iter_units call (one open per file)
        for unit in list_units([path], skipped):
            if unit.kind == "py":
                # list_units dedups within one input; a file named by two inputs is read once too.
                real = os.path.realpath(unit.path)
                if real in seen_py:
                    skipped["duplicate_path"] += 1
                    continue
                seen_py.add(real)
                file_size = unit.path.stat().st_size
                if max_doc_bytes is not None and file_size > max_doc_bytes:  # never read, never tokenized
                    skipped["too_long"] += 1
                    continue
                units.append(unit)
                size += file_size
                if size >= TASK_BYTES or len(units) >= TASK_DOCS:
                    yield task(source, units=units)
                    units, size = [], 0
                continue
            data_units.append(unit)
        # Data files: records are read here (streaming) and shipped as text.
        for doc in iter_units(data_units, skipped):
            if too_long(max_doc_bytes, doc.text):
                skipped["too_long"] += 1
                continue
            records.append(_split_of(doc))
            rsize += len(doc.text)
            if rsize >= TASK_BYTES or len(records) >= TASK_DOCS:
                yield task(source, records=records)
                records, rsize = [], 0
        if units:
            yield task(source, units=units)
        if records or skipped:
            yield task(source, records=records)


def _ordered_results(tasks: Iterator[_Task], workers: int, tokenizer_dir: str, typecode: str,
                     tokenizer) -> Iterator[_Encoded]:
    """Encode tasks in parallel, yielding results in task order with a bounded number in flight."""
    if workers <= 1:
        _setup_worker(tokenizer_dir, typecode, tokenizer)
        for task in tasks:
            yield _encode_task(task)
        return
    # spawn, not fork: the parent may hold torch/OpenMP or Rust thread pools that do not survive fork.
    ctx = mp.get_context("spawn")
    # An ignored SIGINT survives exec and Python then installs no KeyboardInterrupt handler, which covers
    # a Ctrl-C that lands while a worker is still importing (before its initializer runs).
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        pool = ctx.Pool(workers, initializer=_init_worker, initargs=(tokenizer_dir, typecode))
    finally:
        signal.signal(signal.SIGINT, previous)
    with pool:
        pending: deque = deque()
        for task in tasks:
            pending.append(pool.apply_async(_encode_task, (task,)))
            if len(pending) >= 2 * workers + 2:  # keeps workers busy while bounding memory
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


# ---------------------------------------------------------------------------------------------------
# Writing.


class _SplitWriter:
    """Streams one split into shard files of at most `shard_tokens` tokens (+ optional masks)."""

    def __init__(self, directory: Path, split: str, itemsize: int, shard_tokens: int, with_mask: bool):
        self.directory, self.split, self.itemsize = directory, split, itemsize
        self.shard_tokens, self.with_mask = shard_tokens, with_mask
        self.shards: list[dict] = []
        self.documents = 0
        self.tokens = 0
        self._f = self._m = None
        self._in_shard = 0
        # (hash, offset, length) of the documents a split fallback may move (see module docstring).
        self.min_doc: tuple[int, int, int] | None = None
        self.max_doc: tuple[int, int, int] | None = None

    def _open(self) -> None:
        name = f"{self.split}_{len(self.shards):05d}"
        entry = {"file": f"{name}.bin", "tokens": 0}
        self._f = open(self.directory / entry["file"], "wb", buffering=8 * 2**20)
        if self.with_mask:
            entry["mask_file"] = f"{name}.mask.bin"
            self._m = open(self.directory / entry["mask_file"], "wb", buffering=2**20)
        self.shards.append(entry)
        self._in_shard = 0

    def _close_shard(self) -> None:
        if self._f is not None:
            self._f.close()
            if self._m is not None:
                self._m.close()
            self.shards[-1]["tokens"] = self._in_shard
            self._f = self._m = None

    def write(self, tokens: bytes | memoryview, mask: bytes | None) -> None:
        n = len(tokens) // self.itemsize
        done = 0
        while done < n:
            if self._f is None or self._in_shard == self.shard_tokens:
                self._close_shard()
                self._open()
            take = min(n - done, self.shard_tokens - self._in_shard)
            self._f.write(tokens[done * self.itemsize : (done + take) * self.itemsize])
            if self._m is not None:
                self._m.write(mask[done : done + take])
            self._in_shard += take
            done += take
        self.tokens += n

    def add_document(self, tokens, mask, text_hash: int) -> None:
        entry = (text_hash, self.tokens, len(tokens) // self.itemsize)
        if self.min_doc is None or text_hash < self.min_doc[0]:
            self.min_doc = entry
        if self.max_doc is None or text_hash > self.max_doc[0]:
            self.max_doc = entry
        self.write(tokens, mask)
        self.documents += 1

    def close(self) -> None:
        self._close_shard()

    def summary(self) -> dict:
        return {"documents": self.documents, "tokens": self.tokens, "shards": self.shards}


def _move_document(src: _SplitWriter, dst: _SplitWriter, doc: tuple[int, int, int]) -> None:
    """Move one document (hash, offset, length) from `src` to `dst` by rewriting `src` without it.

    Only used for tiny corpora (see the module docstring), but streams so it is safe at any size."""
    _, start, length = doc
    old = list(src.shards)
    staging = src.directory / f"_rewrite_{src.split}"
    staging.mkdir()
    fresh = _SplitWriter(staging, src.split, src.itemsize, src.shard_tokens, src.with_mask)
    moved_tokens, moved_mask = bytearray(), bytearray()
    pos, block = 0, 16 * 2**20  # tokens per read: bounded memory whatever the shard size
    for entry in old:
        with open(src.directory / entry["file"], "rb") as f, (
            open(src.directory / entry["mask_file"], "rb") if src.with_mask else open(os.devnull, "rb")
        ) as m:
            left = entry["tokens"]
            while left:
                take = min(left, block)
                toks = f.read(take * src.itemsize)
                msk = m.read(take) if src.with_mask else None
                # The part of [pos, pos+take) inside the moved document goes to dst, the rest stays.
                a, b = max(start, pos) - pos, min(start + length, pos + take) - pos
                if a < b:
                    moved_tokens += toks[a * src.itemsize : b * src.itemsize]
                    if msk is not None:
                        moved_mask += msk[a:b]
                    fresh.write(toks[: a * src.itemsize], msk[:a] if msk is not None else None)
                    fresh.write(toks[b * src.itemsize :], msk[b:] if msk is not None else None)
                else:
                    fresh.write(toks, msk)
                pos += take
                left -= take
        (src.directory / entry["file"]).unlink()
        if src.with_mask:
            (src.directory / entry["mask_file"]).unlink()
    fresh.close()
    for entry in fresh.shards:
        os.replace(staging / entry["file"], src.directory / entry["file"])
        if src.with_mask:
            os.replace(staging / entry["mask_file"], src.directory / entry["mask_file"])
    staging.rmdir()
    src.shards, src.tokens, src.documents = fresh.shards, fresh.tokens, src.documents - 1
    src.min_doc = src.max_doc = None
    dst.add_document(bytes(moved_tokens), bytes(moved_mask) if dst.with_mask else None, doc[0])
    dst.close()


# ---------------------------------------------------------------------------------------------------
# The stage.


def pack(
    inputs: Sequence[str | os.PathLike],
    tokenizer: str | os.PathLike,
    out: str | os.PathLike,
    *,
    val_fraction: float = DEFAULT_VAL_FRACTION,
    shard_tokens: int = DEFAULT_SHARD_TOKENS,
    workers: int | None = None,
    loss_on: str = "all",
    max_docs: int | None = None,
    overwrite: bool = False,
    progress: bool | None = None,
    max_doc_bytes: int | None = DEFAULT_MAX_DOC_BYTES,
) -> dict:
    """Pack `inputs` (dirs of .py, .py, .jsonl[.gz], .parquet) into the directory `out` with the tokenizer
    in the directory `tokenizer`; returns the meta dict (also written to out/meta.json).

    Example: `pack(["corpus/", "textbooks.jsonl"], "runs/tok", "runs/packed")` writes
    runs/packed/{train_00000.bin, val_00000.bin, meta.json}. `workers=None` uses every available core.
    `progress=None` shows a bar only on a terminal. A literal `<|endoftext|>` in a document is encoded as
    text, never as the separator (module docstring). Workers are spawned processes: a script that calls
    pack() with workers > 1 needs the usual `if __name__ == "__main__":` guard.
    """
    from textbooks.tokenizer import load_tokenizer

    if not inputs:
        raise PackError("no inputs given; pass directories of .py files or .jsonl/.parquet files")
    if not 0.0 <= val_fraction < 1.0:
        raise PackError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if shard_tokens < 1:
        raise PackError(f"shard_tokens must be >= 1, got {shard_tokens}")
    if loss_on not in LOSS_ON:
        raise PackError(f"loss_on must be one of {LOSS_ON}, got {loss_on!r}")
    if max_docs is not None and max_docs < 1:
        raise PackError(f"max_docs must be >= 1, got {max_docs}")
    if max_doc_bytes is not None and max_doc_bytes < 1:
        raise PackError(f"max_doc_bytes must be >= 1 (or None: no limit), got {max_doc_bytes}")
    paths = [Path(p) for p in inputs]
    for p in paths:
        if not p.exists():
            raise FileNotFoundError(f"input not found: {p} (expected a directory of .py files, a .py file, a .jsonl/.jsonl.gz or a .parquet file)")
    tokenizer_dir, out = Path(tokenizer), Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise PackError(f"output {out} already exists and is not empty; pass --overwrite (overwrite=True) to replace it")
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    tok = load_tokenizer(tokenizer_dir)
    OrdinaryEncoder(tok)  # a tokenizer it cannot use fails here, not in a pool initializer (which would hang)
    padded = int(tok.padded_vocab_size)
    dtype, typecode = ("uint16", "H") if padded <= 2**16 else ("uint32", "I")
    itemsize = array.array(typecode).itemsize
    if (dtype, itemsize) not in (("uint16", 2), ("uint32", 4)):  # 'I' is 4 bytes on every platform we run on
        raise RuntimeError(f"array typecode {typecode} has itemsize {itemsize} on this platform")
    with_mask = loss_on == "completion"
    prompt_completion = [
        p.is_file() and p.name.lower().endswith((".jsonl", ".jsonl.gz")) and _is_prompt_completion_jsonl(p) for p in paths
    ]
    if with_mask and not any(prompt_completion) and all(p.is_file() for p in paths):
        # (directories may hold a data verb's output, whose exercise records keep their split in metadata)
        logger.warning("loss_on=completion but no input has prompt/completion records: every mask will be 1")

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        meta = _pack_into(
            tmp, paths, tok, str(tokenizer_dir.resolve()), dtype, typecode, itemsize, val_fraction,
            shard_tokens, workers, loss_on, with_mask, max_docs, prompt_completion, progress,
            max_doc_bytes=max_doc_bytes,
        )
        _replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return meta


def _pack_into(tmp, paths, tokenizer, tokenizer_path, dtype, typecode, itemsize, val_fraction, shard_tokens,
               workers, loss_on, with_mask, max_docs, prompt_completion, progress, max_doc_bytes=None) -> dict:
    from tqdm import tqdm

    skipped: Counter = Counter()
    writers = {s: _SplitWriter(tmp, s, itemsize, shard_tokens, with_mask) for s in ("train", "val")}
    threshold = int(val_fraction * 2**64)
    per_source = [{"input": str(p), "documents": 0, "tokens": 0, "prompt_completion": pc} for p, pc in zip(paths, prompt_completion)]
    docs = 0
    bar = tqdm(desc="pack", unit=" docs", unit_scale=True, disable=None if progress is None else not progress, dynamic_ncols=True)
    tasks = _tasks(paths, prompt_completion, max_doc_bytes)
    results = _ordered_results(tasks, workers, tokenizer_path, typecode, tokenizer)
    try:
        for res in results:
            skipped.update(res.skipped)
            view, off = memoryview(res.tokens), 0
            src = per_source[res.source]
            for n, n_prompt, h in zip(res.lengths, res.prompt_lengths, res.hashes):
                if max_docs is not None and docs >= max_docs:
                    break
                mask = b"\x00" * n_prompt + b"\x01" * (n - n_prompt) if with_mask else None
                writers["val" if h < threshold else "train"].add_document(view[off * itemsize : (off + n) * itemsize], mask, h)
                off += n
                docs += 1
                src["documents"] += 1
                src["tokens"] += n
            bar.update(len(res.lengths))
            bar.set_postfix_str(f"{(writers['train'].tokens + writers['val'].tokens) / 1e6:.1f}M tokens", refresh=False)
            if max_docs is not None and docs >= max_docs:
                break
    finally:
        try:
            results.close()  # stops the pool when we break out early (max_docs) or fail
            bar.close()
        finally:
            for w in writers.values():  # also on failure: no shard file handle left open
                w.close()
    if docs == 0:
        reasons = ", ".join(f"{k}={v}" for k, v in sorted(skipped.items())) or "none"
        raise PackError(
            f"no documents found in {', '.join(map(str, paths))} (skipped: {reasons}); inputs must be directories "
            f"of .py files, .py files, or .jsonl/.jsonl.gz/.parquet files with a 'text' or 'content' field"
        )
    train, val = writers["train"], writers["val"]
    if val_fraction > 0 and val.documents == 0 and train.documents >= 2:
        _move_document(train, val, train.min_doc)
    if train.documents == 0 and val.documents >= 1:
        _move_document(val, train, val.max_doc)

    meta = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "dtype": dtype,
        "byteorder": "little",
        "tokenizer": {
            "path": tokenizer_path,
            "fingerprint": tokenizer.fingerprint,
            "eos_id": int(tokenizer.eos_id),
            "vocab_size": int(tokenizer.vocab_size),
            "padded_vocab_size": int(tokenizer.padded_vocab_size),
        },
        "separator": "<|endoftext|> (eos_id) after every document",
        "loss_on": loss_on,
        "has_mask": with_mask,
        "val_fraction": val_fraction,
        "val_rule": "blake2b-64(utf-8 text) < val_fraction * 2**64",
        "shard_tokens": shard_tokens,
        "max_docs": max_docs,
        "max_doc_bytes": max_doc_bytes,
        "documents": train.documents + val.documents,
        "tokens": train.tokens + val.tokens,
        "splits": {"train": train.summary(), "val": val.summary()},
        "sources": per_source,
        "skipped": dict(sorted(skipped.items())),
    }
    with open(tmp / META_FILE, "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    return meta


def _replace_dir(tmp: Path, out: Path) -> None:
    """Move the finished `tmp` to `out`; an existing `out` (overwrite) is swapped out, then removed."""
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        os.replace(out, old)
        os.replace(tmp, out)
        if old.is_dir():
            shutil.rmtree(old)
        else:
            old.unlink()
    else:
        os.replace(tmp, out)


# ---------------------------------------------------------------------------------------------------
# CLI: `textbooks data pack ...`


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Tokenize documents, append <|endoftext|> after each and concatenate them into one token stream\n"
        "(paper §2.3); write it as sharded uint16/uint32 files + meta.json, with a validation split chosen\n"
        "per document by a hash of its text."
    )
    parser.epilog = (
        "example: textbooks data pack corpus/ synth/textbooks.jsonl --tokenizer runs/tok --out runs/packed\n"
        "         textbooks data pack exercises.jsonl --tokenizer runs/tok --out runs/ft --loss-on completion"
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="directory of .py files (recursive), .py, .jsonl[.gz] or .parquet (field 'text' or 'content'; JSONL with 'prompt'+'completion' also works)")
    parser.add_argument("--tokenizer", required=True, metavar="DIR", help="tokenizer directory (ours or any HF tokenizer dir)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory (written atomically)")
    from textbooks import guard

    parser.add_argument("--val-fraction", type=guard.float_in(0.0, 1.0, high_open=True), default=DEFAULT_VAL_FRACTION, metavar="F", help=f"fraction of documents for validation, chosen by a hash of the text (default {DEFAULT_VAL_FRACTION}; 0 = none)")
    parser.add_argument("--shard-tokens", type=guard.positive_int, default=DEFAULT_SHARD_TOKENS, metavar="N", help=f"tokens per shard file (default {DEFAULT_SHARD_TOKENS})")
    parser.add_argument("--workers", type=guard.positive_int, default=None, metavar="N", help="tokenizer processes (default: all cores; output is identical for any N)")
    parser.add_argument("--loss-on", choices=LOSS_ON, default="all", help="'all' (paper) or 'completion': also write *.mask.bin with 0 on prompt tokens of prompt/completion records")
    parser.add_argument("--max-docs", type=guard.positive_int, default=None, metavar="N", help="stop after N documents (in input order)")
    parser.add_argument("--max-doc-bytes", type=guard.nonnegative_int, default=DEFAULT_MAX_DOC_BYTES, metavar="N",
                        help=f"skip documents over N bytes of UTF-8 before tokenizing them, counted as too_long (default "
                        f"{DEFAULT_MAX_DOC_BYTES}: Codex's 1 MB file limit; 0 = no limit: memory grows with the longest document)")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from textbooks import guard

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    guard.check_inputs(args.inputs)
    guard.check_tokenizer_path(args.tokenizer)
    guard.check_outputs([guard.Output(args.out, kind="dir")], inputs=[*args.inputs, args.tokenizer],
                        overwrite=args.overwrite)
    guard.set_resume_hint(f"nothing was written to {args.out} (packing is not resumable: rerun to start over)")
    start = time.perf_counter()
    try:
        meta = pack(
            args.inputs, args.tokenizer, args.out, val_fraction=args.val_fraction, shard_tokens=args.shard_tokens,
            workers=args.workers, loss_on=args.loss_on, max_docs=args.max_docs, overwrite=args.overwrite,
            progress=False if args.no_progress else None, max_doc_bytes=args.max_doc_bytes or None,
        )
    except (PackError, FileNotFoundError, ValueError) as e:
        print(f"textbooks data pack: error: {e}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - start
    print(format_summary(meta, args.out, elapsed))
    return 0


def format_summary(meta: dict, out: str | os.PathLike, elapsed: float | None = None) -> str:
    train, val = meta["splits"]["train"], meta["splits"]["val"]
    lines = [
        f"packed {meta['documents']:,} documents, {meta['tokens']:,} tokens ({meta['dtype']}, tokenizer {meta['tokenizer']['fingerprint'][:12]})",
        f"  train: {train['documents']:,} docs, {train['tokens']:,} tokens in {len(train['shards'])} shard(s)",
        f"  val:   {val['documents']:,} docs, {val['tokens']:,} tokens in {len(val['shards'])} shard(s)",
    ]
    for s in meta["sources"]:
        lines.append(f"  source {s['input']}: {s['documents']:,} docs, {s['tokens']:,} tokens")
    if meta["skipped"]:
        lines.append("  skipped: " + ", ".join(f"{k}={v:,}" for k, v in meta["skipped"].items()))
    if elapsed:
        lines.append(f"  {elapsed:.1f}s, {meta['tokens'] / elapsed / 1e6:.2f}M tokens/s")
    lines.append(f"  -> {Path(out) / META_FILE}")
    return "\n".join(lines)
