"""Offline synthesis at the issue's sizes: 2,000 exercises and 200 textbook sections, items/s per stage, their
diversity reports, and sandbox verification against the naive reference (one plain `python -c` subprocess
per exercise, no sandbox: what generators without isolation do) on the same exercises in the same run.

    .venv/bin/python benchmarks/bench_synth.py            # -> benchmarks/results/synth.json (+ synth/ reports)
    .venv/bin/python benchmarks/bench_synth.py --quick    # 200 / 20 items, results/synth_quick.json

Also checks the Done-when of the synthesis issue: no kept exercise is flagged by the decontamination stage
against HumanEval/MBPP at tau 0.95 (the ones the pipeline removed, at its stricter default tau 0.9 with the
embedding and n-gram detectors too, are listed).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks._common import RESULTS, write_result  # noqa: E402


def run_synth(kind: str, n: int, out: Path) -> dict:
    from textbooks.cli import main

    t = time.perf_counter()
    rc = main(["synth", kind, "--teacher", "offline", "--n", str(n), "--seed", "0", "--out", str(out), "--no-progress"])
    wall = time.perf_counter() - t
    if rc != 0:
        raise SystemExit(f"synth {kind} failed (rc {rc})")
    stats = json.loads((out / "stats.json").read_text())
    return {"n": n, "wall_seconds": round(wall, 2), "items_per_second": stats["items_per_second"],
            "seconds": stats["seconds"], "requests": stats["requests"], "kept": stats["kept"],
            "dropped": stats["dropped"], "surplus": stats["surplus"], "verification": stats["verification"]}


def plain_subprocess_rate(rows: list[dict], limit: int) -> dict:
    """The reference: every exercise as its own unsandboxed `python -I -c program` (2 at a time, one per core)."""
    from concurrent.futures import ThreadPoolExecutor

    programs = []
    for r in rows[:limit]:
        p = r["prompt"] + r["completion"] + "\n" + r["tests"]
        if "def check(candidate)" in r["tests"]:
            p += f"\ncheck({r['entry_point']})\n"
        programs.append(p)

    def one(p):
        return subprocess.run([sys.executable, "-I", "-c", p], capture_output=True, timeout=60).returncode == 0

    t = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        ok = list(pool.map(one, programs))
    s = time.perf_counter() - t
    return {"programs": len(programs), "passed": sum(ok), "seconds": round(s, 2), "items_per_second": round(len(programs) / s, 2)}


def our_verify_rate(rows: list[dict], limit: int) -> dict:
    """Our verification of the same exercises (isolated verdicts + the trivial-test check = 2 programs each)."""
    from textbooks.synth.config import VerifySection
    from textbooks.synth.parse import Exercise
    from textbooks.synth.verify import Verifier

    items = [(r["id"], Exercise(r["entry_point"], r["prompt"], r["completion"], r["tests"], r["metadata"]["tests_style"]))
             for r in rows[:limit]]
    out = {}
    for trivial in (False, True):
        with Verifier(VerifySection(check_trivial_tests=trivial)) as v:
            v.exercises(items[:4])  # start the pool outside the timing
            t = time.perf_counter()
            verdicts = v.exercises(items)
            s = time.perf_counter() - t
        out["with_trivial_check" if trivial else "isolated_only"] = {
            "programs": len(items), "passed": sum(x.passed for x in verdicts), "seconds": round(s, 2),
            "items_per_second": round(len(items) / s, 2)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n_ex, n_tb = (200, 20) if args.quick else (2000, 200)
    from textbooks.data.decontam.detect import DecontaminateConfig, Decontaminator
    from textbooks.synth import report

    work = Path(tempfile.mkdtemp(prefix="bench-synth-"))
    try:
        ex = run_synth("exercises", n_ex, work / "ex")
        tb = run_synth("textbooks", n_tb, work / "tb")
        rows = [json.loads(line) for line in (work / "ex" / "exercises.jsonl").read_text().splitlines()]
        dest = RESULTS / ("synth_quick" if args.quick else "synth")
        reports = {}
        for kind, d in (("exercises", work / "ex"), ("textbooks", work / "tb")):
            t = time.perf_counter()
            r = report.report_main(d, out=dest / kind, featurizer="hashed", tree="builtin")[kind]
            reports[kind] = {"seconds": round(time.perf_counter() - t, 2), "n": r["n"],
                             "distinct_ngrams": {k: v["ratio"] for k, v in r["distinct_ngrams"].items()},
                             "near_duplicates": {k: r["near_duplicates"][k] for k in ("rate", "count")},
                             "leaf_coverage": r["topics"].get("tree", {}).get("coverage"),
                             "top_opening_5": r["openings"]["first_5"]["top"][:3],
                             "top_opening_5_share": r["openings"]["first_5"]["top_share"],
                             "nearest_neighbour": {k: r["nearest_neighbour"][k] for k in ("mean", "p10", "min")},
                             "families": r["families"]["distinct"] if r.get("families") else None,
                             "files": {k: str(Path(v).relative_to(RESULTS.parent.parent)) for k, v in r["files"].items()}}
        det = Decontaminator(DecontaminateConfig(tau=0.95))
        t = time.perf_counter()
        flagged = [(row["id"], [m.report() for m in ms]) for row, ms in
                   zip(rows, det.scan([r["prompt"] + r["completion"] for r in rows])) if ms and det.decide(ms)]
        scan_s = time.perf_counter() - t
        removed = [{"id": d["id"], "family": d["metadata"].get("family"), "matches": d.get("matches")}
                   for d in map(json.loads, (work / "ex" / "dropped.jsonl").read_text().splitlines())
                   if d["reason"] == "contaminated"]
        limit = 100 if args.quick else 400
        payload = {
            "exercises": ex, "textbooks": tb, "diversity": reports,
            "decontamination": {"kept_flagged_at_tau_0.95": len(flagged), "flagged": flagged[:20],
                                "scan_seconds": round(scan_s, 2), "removed_by_the_pipeline": removed},
            "verify_vs_reference": {"ours": our_verify_rate(rows, limit), "plain_subprocess": plain_subprocess_rate(rows, limit)},
        }
        write_result("synth_quick" if args.quick else "synth", payload)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
