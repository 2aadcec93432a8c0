"""Speed of `textbooks data curate` per step on the embedded corpus, and how it grows with the corpus.

Runs the whole chain (filters -> dedup -> offline annotation + random forest -> apply) on the first 10%,
30% and 100% of the embedded corpus's reading units (stdlib + site-packages, in list order), each in a
fresh output dir with the local executor, and reports per step: documents in, docs/s and MB/s (text
characters / step seconds; datatrove's step times are summed over tasks, i.e. busy seconds, not wall),
plus the wall time of each run. The reference in the same run is datatrove's own MinHash signature step
(English word shingles, its defaults but the same 14x8 hashes) over the same filtered documents,
against our code-token signature step.

    python benchmarks/bench_curate.py              # 10/30/100% of the embedded corpus
    python benchmarks/bench_curate.py --quick      # 10/30/100% of the stdlib only
    python benchmarks/bench_curate.py --max-units N --workers 2
-> benchmarks/results/curate.json (curate_quick.json with --quick)
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result  # noqa: E402


def step_rates(stats: dict) -> list[dict]:
    rows, chars_in = [], {}
    for s in stats["steps"]:
        stage, name = s["stage"], s["step"].split(": ", 1)[-1].encode("ascii", "ignore").decode().strip()
        if "in" not in s:
            continue
        seconds = s.get("seconds") or 0.0
        before = chars_in.get(stage, s.get("chars_kept", 0)) if "FILTER" in s["step"] or "DEDUP" in s["step"] else s.get("chars_kept", 0)
        rows.append({
            "stage": stage, "step": name, "docs_in": s["in"], "seconds": round(seconds, 3),
            "docs_per_s": round(s["in"] / seconds, 1) if seconds else None,
            "mb_per_s": round(before / 1e6 / seconds, 2) if seconds and before else None,
        })
        if "chars_kept" in s:
            chars_in[stage] = s["chars_kept"]
    return rows


def datatrove_reference(folder: Path, work: Path) -> dict:
    """datatrove's stock MinhashDedupSignature over the filtered shards, timed in this process.

    Its English word tokenizer needs spaCy (not a dependency here), so the reference tokenizes on
    whitespace (`str.split`): the cheapest tokenizer datatrove's shingling could get, i.e. a lower bound on
    its cost, against our code-token shingling."""
    from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
    from datatrove.utils.hashing import HashConfig
    from datatrove.utils.word_tokenizers import WordTokenizer

    class Whitespace(WordTokenizer):
        def word_tokenize(self, text):
            return text.split()

        def sent_tokenize(self, text):
            return text.split("\n")

        def span_tokenize(self, text):
            raise NotImplementedError

    from textbooks.data.dedup import DedupConfig, DedupSignature
    from textbooks.data.pipeline import jsonl_reader

    docs = list(jsonl_reader(folder).run(rank=0, world_size=1))
    chars = sum(len(d.text) for d in docs)
    out = {"documents": len(docs), "chars": chars}
    theirs = MinhashDedupSignature(str(work / "dt"), config=MinhashConfig(hash_config=HashConfig(hash_fc="sha1", precision=64)),
                                   language=Whitespace())
    ours = DedupSignature(work / "ours", DedupConfig())
    for name, step in (("datatrove_minhash_signature", theirs), ("textbooks_dedup_signature", ours)):
        t0 = time.perf_counter()
        result = step.run(iter(docs), rank=0, world_size=1)  # datatrove's writes signatures and yields nothing
        for _ in result or ():
            pass
        dt = time.perf_counter() - t0
        out[name] = {"seconds": round(dt, 2), "docs_per_s": round(len(docs) / dt, 1), "mb_per_s": round(chars / 1e6 / dt, 2)}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the stdlib only")
    parser.add_argument("--max-units", type=int, default=0, help="corpus = the first N units (default: all)")
    parser.add_argument("--workers", type=int, default=0, help="local executor workers (default: all cores)")
    parser.add_argument("--fractions", default="0.1,0.3,1.0")
    args = parser.parse_args()

    from textbooks.data.curate import default_config_path, load_curate_config, run_curate
    from textbooks.data.sources import default_corpus_paths, list_units, stdlib_dir

    corpus = [str(stdlib_dir())] if args.quick else [str(p) for p in default_corpus_paths()]
    name = "curate_quick" if args.quick else "curate"  # -> benchmarks/results/<name>.json
    units = len(list_units(corpus))
    if args.max_units:
        units = min(units, args.max_units)
    runs = []
    tmp = Path(tempfile.mkdtemp(prefix="bench_curate_"))
    try:
        for fraction in [float(f) for f in args.fractions.split(",")]:
            n = max(1, int(units * fraction))
            sets = [f"read.max_units={n}"] + ([f"executor.workers={args.workers}"] if args.workers else [])
            cfg = load_curate_config(default_config_path(), sets)
            out = tmp / f"run_{n}"
            t0 = time.perf_counter()
            stats = run_curate(corpus, out, cfg)
            wall = time.perf_counter() - t0
            reader = next(s for s in stats["steps"] if s["step"].endswith("read inputs"))
            written = [s["written"] for s in stats["steps"] if "written" in s][-1]
            run = {"fraction": fraction, "units": n, "documents_in": reader["kept"], "chars_in": reader.get("chars_kept"),
                   "kept": written, "wall_seconds": round(wall, 1), "docs_per_s_wall": round(reader["kept"] / wall, 1),
                   "mb_per_s_wall": round(reader.get("chars_kept", 0) / 1e6 / wall, 2), "steps": step_rates(stats)}
            if fraction == 1.0:
                try:
                    run["reference"] = datatrove_reference(out / "work" / "filtered", tmp / "ref")
                except Exception as e:  # the reference is extra; the measured runs above are kept
                    run["reference"] = {"error": f"{type(e).__name__}: {e}"}
            runs.append(run)
            print(json.dumps({k: v for k, v in run.items() if k != "steps"}), flush=True)
            write_result(name, {"corpus": corpus, "workers": args.workers or "all cores", "runs": runs,
                                    "complete": False})  # a later failure keeps what was measured
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    base = runs[0]
    growth = [{"fraction": r["fraction"], "documents_ratio": round(r["documents_in"] / base["documents_in"], 2),
               "time_ratio": round(r["wall_seconds"] / base["wall_seconds"], 2)} for r in runs]
    result = {"corpus": corpus, "workers": args.workers or "all cores", "runs": runs, "growth_vs_first": growth,
              "complete": True}
    path = write_result(name, result)
    print(f"wrote {path}")
    for g in growth:
        print(f"  {g['fraction']:.0%}: documents x{g['documents_ratio']}, time x{g['time_ratio']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
