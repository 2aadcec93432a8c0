"""Encode throughput: our `CodeTokenizer.encode_batch` vs the raw `tokenizers` library, same tokenizer.json.

Both encode the same texts (every UTF-8 .py file of the standard library, one text per file) into
lists of ids: ours with `CodeTokenizer.encode_batch(texts)`, the reference with
`[e.ids for e in Tokenizer.from_file(tokenizer.json).encode_batch(texts)]`. They are timed
alternately (the order flips every round) in one process, so machine noise hits both alike, with the
Rust thread pool on (TOKENIZERS_PARALLELISM=true, all cores) and off (one thread). We report the median
MB/s of UTF-8 source per contender and the ratio ours/raw, and check that the ids are identical.

    python benchmarks/bench_tokenizer.py                        # trains a vocab-8192 tokenizer on the stdlib first
    python benchmarks/bench_tokenizer.py --quick                # 1/8 of the stdlib, 2 rounds (seconds)
    python benchmarks/bench_tokenizer.py --tokenizer DIR --rounds 5   # any tokenizer dir, e.g. codegen-350M-mono's
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import write_result  # noqa: E402

from textbooks.data.sources import read_documents, stdlib_dir  # noqa: E402
from textbooks.tokenizer import load_tokenizer, train_tokenizer  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokenizer", metavar="DIR", help="tokenizer dir (default: train one on the stdlib first)")
    ap.add_argument("--vocab-size", type=int, default=8192, help="vocab of the tokenizer trained when --tokenizer is not given")
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds per contender and mode (default 3)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 1/8 of the stdlib, 2 rounds, small vocab")
    args = ap.parse_args(argv)
    rounds = 2 if args.quick else args.rounds

    texts = [d.text for d in read_documents([stdlib_dir()])]
    if args.quick:
        texts = texts[::8]
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6

    with tempfile.TemporaryDirectory() as tmp:
        tok_dir = Path(args.tokenizer) if args.tokenizer else Path(tmp) / "tok"
        if not args.tokenizer:
            vocab = 2000 if args.quick else args.vocab_size
            print(f"training a vocab-{vocab} tokenizer on the stdlib ...", flush=True)
            train_tokenizer([stdlib_dir()], vocab, tok_dir, max_files=200 if args.quick else 1000)
        ours = load_tokenizer(tok_dir)
        from tokenizers import Tokenizer

        raw = Tokenizer.from_file(str(tok_dir / "tokenizer.json") if tok_dir.is_dir() else str(tok_dir))

        contenders = {
            "ours": lambda: ours.encode_batch(texts),
            "tokenizers": lambda: [e.ids for e in raw.encode_batch(texts)],
        }
        saved_env = os.environ.get("TOKENIZERS_PARALLELISM")
        modes = {}
        try:
            for mode, env in (("parallel", "true"), ("single_thread", "false")):
                # The Rust side reads this variable on every batch call.
                os.environ["TOKENIZERS_PARALLELISM"] = env
                reference = contenders["tokenizers"]()  # warm-up, and the ids to compare with
                assert contenders["ours"]() == reference, "ours and raw tokenizers give different ids"
                times: dict[str, list[float]] = {name: [] for name in contenders}
                for r in range(rounds):
                    order = list(contenders) if r % 2 == 0 else list(contenders)[::-1]
                    for name in order:
                        t0 = time.perf_counter()
                        contenders[name]()
                        times[name].append(time.perf_counter() - t0)
                med = {name: statistics.median(ts) for name, ts in times.items()}
                modes[mode] = {
                    "mb_per_s": {name: round(mb / s, 3) for name, s in med.items()},
                    "median_seconds": {name: round(s, 4) for name, s in med.items()},
                    "all_seconds": {name: [round(s, 4) for s in ts] for name, ts in times.items()},
                    "ratio_ours_over_tokenizers": round(med["tokenizers"] / med["ours"], 3),
                }
                print(f"{mode:>13}: ours {mb / med['ours']:7.2f} MB/s   tokenizers {mb / med['tokenizers']:7.2f} MB/s"
                      f"   ratio {med['tokenizers'] / med['ours']:.3f}x", flush=True)
        finally:
            if saved_env is None:
                os.environ.pop("TOKENIZERS_PARALLELISM", None)
            else:
                os.environ["TOKENIZERS_PARALLELISM"] = saved_env

        write_result("tokenizer", {
            "what": "encode MB/s (UTF-8 bytes of source) of stdlib .py files, one text per file, into id lists",
            "quick": args.quick,
            "rounds": rounds,
            "texts": len(texts),
            "megabytes": round(mb, 3),
            "tokens": sum(map(len, reference)),
            "tokenizer": {"source": str(args.tokenizer or "trained on the stdlib"), "vocab_size": ours.vocab_size,
                          "fingerprint": ours.fingerprint},
            "ours": "CodeTokenizer.encode_batch (Rust encode_batch_fast: no offsets)",
            "reference": "tokenizers.Tokenizer.from_file(tokenizer.json).encode_batch + .ids",
            "modes": modes,
        })
    return 0


if __name__ == "__main__":
    sys.exit(main())
