"""Packing time against the length of one line: `textbooks data pack` on a JSONL whose single document is one
line of 1, 4, 16 and 64 MB (issue 13: a 50 MB line took > 60 s and > 2.3 GB; 1/2/4 MB took 2.0/5.5/14.4 s).

Each size runs `textbooks data pack FILE --tokenizer TOK --out OUT --workers 1` as its own process (real
CLI, real tokenizer), timed from the outside, with that child's own peak RSS (`os.wait4`'s rusage). The
file holds the long line and one ordinary document. Each size is packed twice: with the default
`--max-doc-bytes` (1 MB: longer documents are skipped and counted as too_long) and, up to
--uncapped-max-mb, with `--max-doc-bytes 0` (no limit), which shows what the cap prevents. Two kinds of
line, both without a newline or a space:
  letters   random lowercase letters: one GPT-2 pre-token as long as the line (a base64-ish blob)
  code      minified code `v123=f(v7,v9);...`: many short pre-tokens (a minified bundle)
A size that runs past --timeout is recorded as such. Linear means seconds / MB stays flat as the size grows.

    python benchmarks/bench_long_lines.py                       # 1 4 16 64 MB, both kinds
    python benchmarks/bench_long_lines.py --sizes 1 4 --kinds code --timeout 60
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import write_result  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
TEXTBOOKS = [sys.executable, "-m", "textbooks"]


def write_line(f, kind: str, size: int, seed: int = 0) -> None:
    """Write `size` characters of one line, 64 KiB at a time (the parent stays small: a child's peak RSS
    starts from its parent's). Neither alphabet needs JSON escaping."""
    rng = random.Random(seed)
    left = size
    while left:
        if kind == "letters":
            chunk = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=min(left, 65536)))
        else:
            parts, n = [], 0
            while n < min(left, 65536):
                part = f"v{rng.randrange(10_000)}=f(v{rng.randrange(100)},v{rng.randrange(100)});"
                parts.append(part)
                n += len(part)
            chunk = "".join(parts)[:left]
        f.write(chunk)
        left -= len(chunk)


def train_tokenizer(out: Path) -> None:
    subprocess.run([*TEXTBOOKS, "tokenizer", "train", "--input", str(Path(json.__file__).parent),
                    str(Path(argparse.__file__)), "--vocab-size", "1000", "--out", str(out), "--no-progress"],
                   check=True, capture_output=True, cwd=REPO)


def run_pack(jsonl: Path, tok: Path, out: Path, timeout: float, extra: list[str]) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [*TEXTBOOKS, "data", "pack", str(jsonl), "--tokenizer", str(tok), "--out", str(out), "--workers", "1",
           "--no-progress", *extra]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO)
    killer = threading.Timer(timeout, proc.kill)
    killer.start()
    err = proc.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage (peak RSS in KiB on Linux)
    proc.returncode = os.waitstatus_to_exitcode(status)
    killer.cancel()
    seconds = time.perf_counter() - start
    if seconds >= timeout:
        return {"seconds": None, "timed_out_after_s": timeout, "rc": proc.returncode}
    result = {"seconds": round(seconds, 2), "rc": proc.returncode, "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}
    meta = out / "meta.json"
    if meta.exists():
        m = json.loads(meta.read_text())
        result.update(tokens=m["tokens"], documents=m["documents"], skipped=m.get("skipped", {}))
    else:
        result["stderr"] = err.strip().splitlines()[-1:]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 4, 16, 64], metavar="MB")
    parser.add_argument("--kinds", nargs="+", default=["code", "letters"], choices=["code", "letters"])
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per pack run (default 300)")
    parser.add_argument("--uncapped-max-mb", type=int, default=16,
                        help="also pack sizes up to this without a document limit (default 16; memory grows ~270x)")
    parser.add_argument("--pack-args", nargs=argparse.REMAINDER, default=[], help="extra `data pack` flags")
    parser.add_argument("--name", default="long_lines", help="results/NAME.json")
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-long-lines-") as tmp:
        tmp = Path(tmp)
        tok = tmp / "tok"
        train_tokenizer(tok)
        for kind in args.kinds:
            for mb in args.sizes:
                jsonl = tmp / f"{kind}_{mb}mb.jsonl"
                with open(jsonl, "w") as f:
                    f.write(json.dumps({"text": "def ordinary(x):\n    return x + 1\n"}) + "\n")
                    f.write('{"text": "')
                    write_line(f, kind, mb * 2**20)
                    f.write('"}\n')
                modes = [("max_doc_bytes=1MB (default)", [])]
                if mb <= args.uncapped_max_mb:
                    modes.append(("no limit", ["--max-doc-bytes", "0"]))
                for mode, flags in modes:
                    r = run_pack(jsonl, tok, tmp / "out", args.timeout, [*flags, *args.pack_args])
                    r.update(kind=kind, mb=mb, mode=mode)
                    if r.get("seconds"):
                        r["seconds_per_mb"] = round(r["seconds"] / mb, 3)
                    rows.append(r)
                    print(json.dumps(r), flush=True)
                jsonl.unlink()
    write_result(args.name, {"command": "textbooks data pack FILE --tokenizer TOK --out OUT --workers 1 [--max-doc-bytes 0] "
                             + " ".join(args.pack_args), "tokenizer_vocab": 1000, "line_mb": "MiB (2**20 characters)",
                             "runs": rows})


if __name__ == "__main__":
    main()
