"""Packing throughput: `textbooks data pack` vs datatrove's `DocumentTokenizer` on the same corpus and tokenizer.

Both read the same documents (textbooks.data.sources), tokenize with the same tokenizer.json, append
<|endoftext|> and write uint16 token files; both use the same number of processes (datatrove: one
LocalPipelineExecutor task per process, reading every n-th file; ours: ordered tasks over a pool).
datatrove is run without its document shuffle, so both do the same work. They are timed alternately,
round after round, in one process so machine noise hits both alike; we report the median seconds and
MB/s of source text, and check that both wrote the same number of tokens.

    python benchmarks/bench_pack.py                      # default corpus (stdlib + site-packages), 2 workers
    python benchmarks/bench_pack.py --quick              # a few stdlib packages (seconds)
    python benchmarks/bench_pack.py --tokenizer runs/tok --inputs DIR... --workers 4 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import write_result  # noqa: E402

from textbooks.data.pack import pack  # noqa: E402
from textbooks.data.sources import default_corpus_paths, list_units, read_documents, stdlib_dir  # noqa: E402


def run_ours(inputs, tok_dir: Path, out: Path, workers: int) -> int:
    meta = pack(inputs, tok_dir, out, val_fraction=0.0, workers=workers, overwrite=True, progress=False)
    return meta["tokens"]


def run_datatrove(inputs, tok_dir: Path, out: Path, workers: int) -> int:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.tokens import DocumentTokenizer

    def documents(data, rank: int = 0, world_size: int = 1):
        yield from read_documents(inputs, shard=rank, num_shards=world_size)

    shutil.rmtree(out, ignore_errors=True)
    executor = LocalPipelineExecutor(
        pipeline=[
            documents,
            DocumentTokenizer(
                output_folder=str(out / "tokens"),
                tokenizer_name_or_path=str(tok_dir / "tokenizer.json"),
                eos_token="<|endoftext|>",
                shuffle_documents=False,
                save_index=False,
            ),
        ],
        tasks=workers,
        workers=workers,
        logging_dir=str(out / "logs"),
        skip_completed=False,
    )
    executor.run()
    return sum(f.stat().st_size for f in (out / "tokens").glob("*.ds")) // 2


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--inputs", nargs="*", default=None, help="corpus paths (default: stdlib + site-packages)")
    parser.add_argument("--tokenizer", default=None, help="tokenizer dir (default: train a 4096-token one on a sample)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="smoke run on a few stdlib packages, one round")
    args = parser.parse_args()

    inputs = args.inputs or ([stdlib_dir() / p for p in ("json", "email", "asyncio")] if args.quick else default_corpus_paths())
    rounds = 1 if args.quick else args.rounds
    source_bytes = sum(u.path.stat().st_size for u in list_units(inputs))
    with tempfile.TemporaryDirectory(prefix="bench_pack_") as tmp:
        tmp = Path(tmp)
        tok_dir = Path(args.tokenizer) if args.tokenizer else tmp / "tok"
        if not args.tokenizer:
            from textbooks.tokenizer import train_tokenizer

            train_tokenizer(inputs, 4096, tok_dir, max_files=300)
        times: dict[str, list[float]] = {"textbooks": [], "datatrove": []}
        tokens: dict[str, int] = {}
        for r in range(rounds):
            for name, fn in (("textbooks", run_ours), ("datatrove", run_datatrove)):
                start = time.perf_counter()
                tokens[name] = fn(inputs, tok_dir, tmp / name, args.workers)
                times[name].append(time.perf_counter() - start)
                print(f"round {r}: {name:10s} {times[name][-1]:7.2f}s  {tokens[name]:,} tokens", flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "inputs": [str(p) for p in inputs],
        "source_mb": round(source_bytes / 1e6, 2),
        "workers": args.workers,
        "rounds": rounds,
        "quick": args.quick,
        "seconds": {k: [round(t, 3) for t in v] for k, v in times.items()},
        "median_seconds": {k: round(v, 3) for k, v in med.items()},
        "mb_per_s": {k: round(source_bytes / 1e6 / v, 2) for k, v in med.items()},
        "tokens": tokens,
        "same_token_count": tokens["textbooks"] == tokens["datatrove"],
        "speedup_vs_datatrove": round(med["datatrove"] / med["textbooks"], 3),
    }
    print(json.dumps({k: result[k] for k in ("median_seconds", "mb_per_s", "speedup_vs_datatrove", "same_token_count")}))
    write_result("pack_quick" if args.quick else "pack", result)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # one core per worker process, for both tools
    raise SystemExit(main())
