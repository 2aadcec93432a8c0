"""Encoding for packing: `tokenizers`' own batch encoder vs the fast Python encoder packing used before issue 10.

The question (issue 10, item 6): keep the fast byte-level encoder (the GPT-2 regex in Python's `regex`
module + a pre-token -> ids cache, BPE of unseen pre-tokens by the tokenizer's model) and check it
against the tokenizer on *every* document, or encode with `tokenizers` itself? Measured on the same
documents with the same tokenizer (trained here by `textbooks tokenizer train`, vocab 4096, unless
--tokenizer is given), in one process, methods alternating round after round so machine noise hits
all alike:

  tokenizers_1_thread       OrdinaryEncoder.encode_batch, TOKENIZERS_PARALLELISM=false: what each
                            packing worker does (one process per core)
  tokenizers_all_threads    the same with Rust's thread pool on (one process, every core)
  fast_encoder              the candidate alone (one thread, cache cold at the start of each round)
  fast_encoder_checked      the candidate + tokenizers_1_thread on every document, compared

Documents are batched like the packer's tasks (~2 MiB / 1024 documents). Every method must give the
same ids on every document (the script fails otherwise); special tokens in a text are ordinary text
in all four. We report wall seconds (median), CPU seconds (min; all threads of the process: what a
loaded machine cannot hide) and MB/s of UTF-8 text.

    python benchmarks/bench_encode.py                  # the standard library (~31 MB), 3 rounds
    python benchmarks/bench_encode.py --quick          # json, email, asyncio; 1 round
    python benchmarks/bench_encode.py --tokenizer runs/tok --inputs DIR... --rounds 5

The numbers and the decision they led to (the packer encodes with `tokenizers`) are in the docstring
of textbooks/data/encode.py.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import write_result  # noqa: E402

from textbooks.data.encode import OrdinaryEncoder, pack_ids  # noqa: E402
from textbooks.data.pack import TASK_BYTES, TASK_DOCS  # noqa: E402
from textbooks.data.sources import read_documents, stdlib_dir  # noqa: E402

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
CACHE_MAX = 1_000_000


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character table (the ByteLevel alphabet)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


class FastEncoder:
    """The candidate: textbooks/data/encode.py's FastEncoder as of commit a72e75e, in ordinary mode
    (special added tokens are not split out, matching OrdinaryEncoder). Only for plain byte-level BPE
    tokenizers (no normalizer, ByteLevel pre-tokenizer without prefix space, no lstrip/rstrip tokens)."""

    def __init__(self, tokenizer, typecode: str):
        import regex

        spec = json.loads(tokenizer.hf.to_str())
        pre, model = spec.get("pre_tokenizer") or {}, spec.get("model") or {}
        if (spec.get("normalizer") is not None or pre.get("type") != "ByteLevel" or pre.get("add_prefix_space")
                or model.get("type") != "BPE" or model.get("dropout")):
            raise SystemExit("the fast encoder only reproduces plain byte-level BPE tokenizers")
        added = {t["content"]: int(t["id"]) for t in spec.get("added_tokens") or [] if not t.get("special")}
        self.typecode = typecode
        self._model = tokenizer.hf.model
        self._pretok = regex.compile(GPT2_PATTERN)
        self._byte_chars = bytes_to_unicode()
        self._cache: dict[str, bytes] = {}
        self._added = self._literal_splitter(added)

    def _literal_splitter(self, tokens: dict[str, int]):
        """(regex with one capturing group, token -> packed id) matching `tokens` leftmost-longest."""
        import regex

        if not tokens:
            return None
        runs: dict[str, set[int]] = {}
        for t in tokens:
            if len(set(t)) == 1:
                runs.setdefault(t[0], set()).add(len(t))
        if sum(len(v) for v in runs.values()) == len(tokens) and all(v == set(range(min(v), max(v) + 1)) for v in runs.values()):
            # codegen's whitespace tokens: every run length lo..hi of one character; greedy `c{lo,hi}`.
            pattern = "|".join(f"{regex.escape(c)}{{{min(v)},{max(v)}}}" for c, v in sorted(runs.items()))
        else:
            pattern = "|".join(regex.escape(t) for t in sorted(tokens, key=lambda t: (-len(t), t)))
        return regex.compile(f"({pattern})"), {t: pack_ids([i], self.typecode) for t, i in tokens.items()}

    def _bpe(self, word: str) -> bytes:
        mapped = "".join(self._byte_chars[b] for b in word.encode("utf-8"))
        packed = pack_ids([t.id for t in self._model.tokenize(mapped)], self.typecode)
        if len(self._cache) >= CACHE_MAX:
            self._cache.clear()
        self._cache[word] = packed
        return packed

    def encode(self, text: str) -> bytes:
        out: list[bytes] = []
        parts = self._added[0].split(text) if self._added else [text]  # [piece, token, piece, ..., piece]
        find, get, added = self._pretok.findall, self._cache.get, self._added[1] if self._added else None
        for i, part in enumerate(parts):
            if i & 1:
                out.append(added[part])
            elif part:
                words = find(part)
                packed = list(map(get, words))  # C-level loop: the hot path
                if None in packed:
                    packed = [p if p is not None else self._bpe(w) for p, w in zip(packed, words)]
                out += packed
        return b"".join(out)


def batches(texts: list[str]) -> list[list[str]]:
    """Documents grouped like the packer's tasks (TASK_BYTES of text or TASK_DOCS documents)."""
    out, cur, size = [], [], 0
    for t in texts:
        cur.append(t)
        size += len(t)
        if size >= TASK_BYTES or len(cur) >= TASK_DOCS:
            out.append(cur)
            cur, size = [], 0
    return out + ([cur] if cur else [])


def run_tokenizers(enc: OrdinaryEncoder, groups, typecode: str, threads: bool) -> list[bytes]:
    os.environ["TOKENIZERS_PARALLELISM"] = "true" if threads else "false"  # read by tokenizers on each call
    return [pack_ids(ids, typecode) for group in groups for ids in enc.encode_batch(group)]


def run_fast(tok, groups, typecode: str) -> list[bytes]:
    fe = FastEncoder(tok, typecode)  # a fresh cache: one packing worker's start on a new corpus
    return [fe.encode(t) for group in groups for t in group]


def run_fast_checked(tok, enc: OrdinaryEncoder, groups, typecode: str) -> tuple[list[bytes], int]:
    fe = FastEncoder(tok, typecode)
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    out, differ = [], 0
    for group in groups:
        fast = [fe.encode(t) for t in group]
        for f, ids in zip(fast, enc.encode_batch(group)):
            differ += f != pack_ids(ids, typecode)
        out += fast
    return out, differ


def train_tokenizer_cli(inputs, out: Path, vocab: int) -> None:
    cmd = [sys.executable, "-m", "textbooks", "tokenizer", "train", "--input", *map(str, inputs),
           "--vocab-size", str(vocab), "--max-files", "300", "--out", str(out), "--no-progress"]
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--inputs", nargs="*", default=None, help="corpus paths (default: the standard library)")
    parser.add_argument("--tokenizer", default=None, help="tokenizer dir (default: train a 4096-token one with the CLI)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="smoke run on a few stdlib packages, one round")
    args = parser.parse_args()

    from textbooks.tokenizer import load_tokenizer

    load_at_start = os.getloadavg()[0]
    inputs = args.inputs or ([stdlib_dir() / p for p in ("json", "email", "asyncio")] if args.quick else [stdlib_dir()])
    rounds = 1 if args.quick else args.rounds
    texts = [d.text for d in read_documents(inputs)]
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    groups = batches(texts)
    with tempfile.TemporaryDirectory(prefix="bench_encode_") as tmp:
        tok_dir = Path(args.tokenizer) if args.tokenizer else Path(tmp) / "tok"
        if not args.tokenizer:
            train_tokenizer_cli(inputs, tok_dir, 4096)
        tok = load_tokenizer(tok_dir)
    typecode = "H" if tok.padded_vocab_size <= 2**16 else "I"
    enc = OrdinaryEncoder(tok)
    print(f"{len(texts):,} documents, {mb:.1f} MB, {len(groups)} batches, tokenizer vocab {tok.vocab_size}", flush=True)

    methods = {
        "tokenizers_1_thread": lambda: run_tokenizers(enc, groups, typecode, threads=False),
        "tokenizers_all_threads": lambda: run_tokenizers(enc, groups, typecode, threads=True),
        "fast_encoder": lambda: run_fast(tok, groups, typecode),
        "fast_encoder_checked": lambda: run_fast_checked(tok, enc, groups, typecode),
    }
    wall: dict[str, list[float]] = {k: [] for k in methods}
    cpu: dict[str, list[float]] = {k: [] for k in methods}
    reference: list[bytes] | None = None
    differ: dict[str, int] = {}
    checked_differ = 0
    for r in range(rounds):
        for name, fn in methods.items():
            t0, c0 = time.perf_counter(), time.process_time()
            out = fn()
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
            if name == "fast_encoder_checked":
                out, checked_differ = out
            if reference is None:
                reference = out
            differ[name] = sum(a != b for a, b in zip(out, reference)) + abs(len(out) - len(reference))
            print(f"round {r}: {name:24s} {wall[name][-1]:7.2f}s wall {cpu[name][-1]:7.2f}s CPU "
                  f"{mb / wall[name][-1]:6.2f} MB/s  documents differing from tokenizers: {differ[name]}", flush=True)
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    med = {k: statistics.median(v) for k, v in wall.items()}
    best_cpu = {k: min(v) for k, v in cpu.items()}
    tokens = sum(len(b) for b in reference) // (2 if typecode == "H" else 4)
    base = "tokenizers_1_thread"
    result = {
        "inputs": [str(p) for p in inputs],
        "documents": len(texts),
        "text_mb": round(mb, 2),
        "tokens": tokens,
        "tokenizer_vocab_size": tok.vocab_size,
        "rounds": rounds,
        "quick": args.quick,
        "threads_available": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "wall_seconds": {k: [round(t, 3) for t in v] for k, v in wall.items()},
        "cpu_seconds": {k: [round(t, 3) for t in v] for k, v in cpu.items()},
        "median_wall_seconds": {k: round(v, 3) for k, v in med.items()},
        "mb_per_s_wall": {k: round(mb / v, 2) for k, v in med.items()},
        "mb_per_cpu_s": {k: round(mb / v, 2) for k, v in best_cpu.items()},
        "cpu_ratio_vs_tokenizers_1_thread": {k: round(v / best_cpu[base], 3) for k, v in best_cpu.items()},
        "documents_differing_from_tokenizers": differ,
        "fast_encoder_check_failures": checked_differ,
        "documents_with_literal_endoftext": sum("<|endoftext|>" in t for t in texts),
        "load_average_at_start": load_at_start,  # other jobs on the machine: wall times suffer, CPU times less
        "load_average_at_end": os.getloadavg()[0],
    }
    print(json.dumps({k: result[k] for k in ("median_wall_seconds", "mb_per_cpu_s", "cpu_ratio_vs_tokenizers_1_thread",
                                             "documents_differing_from_tokenizers")}))
    write_result("encode_quick" if args.quick else "encode", result)
    if any(differ.values()) or checked_differ:
        print("FAIL: some encodings differ from tokenizers'", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
