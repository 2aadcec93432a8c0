"""`textbooks eval run`: generate -> execute -> report in one command, resumable.

    textbooks eval run --benchmark humaneval --model demo-out/hf --out out/he.jsonl
    textbooks eval run --benchmark mbpp --model runs/phi1/final --out out/mbpp.jsonl --n 10 --temperature 0.8 \\
        --seed 0 --workers 8 --report out/mbpp.report
    # -> out/he.jsonl, out/he.meta.json                  (as `eval generate`)
    #    out/he.jsonl_results.jsonl, out/he.jsonl_summary.json   (as `eval execute`)
    #    out/he.report/report.md, report.json           (as `eval report`; --report DIR to choose)

The same files, names and flags as the three verbs (`eval generate`, `eval execute`, `eval report`),
which stay for anyone who wants to rerun or swap one stage. Rerunning the same command continues
where it stopped: generation skips the samples already in OUT (and refuses other settings, as
`eval generate` does); execution keeps the verdicts already in OUT_results.partial.jsonl (appended after
each chunk of samples, keyed by task, completion id and a hash of the completion, so a changed sample
is run again) and runs only the rest; the report is rebuilt (it is cheap). A finished run is a no-op
apart from the report. A run killed at any point (kill -9 included) loses at most the chunk in flight.

Execution settings: the partial file's first line records what decides a verdict besides the sample
(`execution_settings`: benchmark, --verdict, --timeout, --time-limit-floor/--time-limit-factor,
--memory-mb, --isolation with auto = bwrap and none = process, harness and sandbox versions, and for
`--benchmark exercises` the sha256 of the --problems file, whose path the summary records). A rerun with
other settings is refused, naming them (rerun with the recorded ones, or delete the partial file to
execute everything again), so the summary always describes the verdicts in it. The partial file stays
after a finished run: it is what makes a rerun a no-op and lets a changed sample alone be run again.
The summary and printed lines are `eval execute`'s (`format_summary`), plus `execution_settings`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
from pathlib import Path
from typing import Any

from textbooks.jsonl import iter_jsonl, write_jsonl
from textbooks.text import plural

EXECUTE_CHUNK = 256  # samples per execution step: what a killed run loses at most


def results_paths(samples: str | Path) -> tuple[Path, Path, Path]:
    """(results, summary, partial) next to the samples, named as `eval execute` names them."""
    s = str(samples)
    return Path(f"{s}_results.jsonl"), Path(f"{s}_summary.json"), Path(f"{s}_results.partial.jsonl")


def _digest(completion: str) -> str:
    return hashlib.sha256(completion.encode("utf-8")).hexdigest()[:16]


# The flags behind each execution setting, for messages.
_SETTING_FLAGS = {"benchmark": "--benchmark", "verdict": "--verdict", "timeout": "--timeout",
                  "time_limit_floor": "--time-limit-floor", "time_limit_factor": "--time-limit-factor",
                  "memory_mb": "--memory-mb", "isolation": "--isolation", "harness": "the harness version",
                  "sandbox": "the sandbox version", "problems_sha256": "--problems (the file's sha256)"}


def execution_settings(benchmark: str, *, timeout: float | None = None, time_limit_floor: float | None = None,
                       time_limit_factor: float | None = None, memory_mb: int = 2048, isolation: str = "auto",
                       verdict: str = "default", problems_sha256: str | None = None) -> dict[str, Any]:
    """Everything besides the sample that decides its verdict: kept verdicts must have been made with these.
    auto and bwrap are one setting (auto refuses to run without bubblewrap), as are process and none.
    problems_sha256: the exercises file's hash (exercises only; the other benchmarks' settings lack the key,
    so files written before it existed still resume)."""
    from textbooks.eval.execute import HARNESS_VERSION
    from textbooks.eval.sandbox import SANDBOX_VERSION

    settings = {"benchmark": benchmark, "verdict": verdict, "timeout": timeout, "time_limit_floor": time_limit_floor,
                "time_limit_factor": time_limit_factor, "memory_mb": memory_mb,
                "isolation": {"auto": "bwrap", "none": "process"}.get(isolation, isolation),
                "harness": HARNESS_VERSION, "sandbox": SANDBOX_VERSION}
    if problems_sha256 is not None:
        settings["problems_sha256"] = problems_sha256
    return settings


def _read_partial(path: Path) -> tuple[dict[tuple[str, int], dict], dict | None]:
    """(verdicts already written, the execution settings they were made with). The file's first line holds
    the settings; a last line cut by a kill is skipped (and removed by `finish_last_line`)."""
    done: dict[tuple[str, int], dict] = {}
    settings = None
    if not path.exists():
        return done, settings
    for _, row in iter_jsonl(path, objects=True, drop_partial_last=True,
                             hint="; delete this file to run every sample again"):
        if "execution_settings" in row:
            settings = row["execution_settings"]
            continue
        done[(str(row["task_id"]), int(row["completion_id"]))] = row
    return done, settings


def _check_settings(path: Path, old: dict | None, new: dict[str, Any], have_verdicts: bool) -> None:
    if not have_verdicts and old is None:
        return
    if old is None:
        raise ValueError(f"{path} has verdicts but not the execution settings they were made with (an older "
                         "textbooks wrote it); delete it to execute every sample again")
    diffs = [f"{_SETTING_FLAGS.get(k, k)}: kept verdicts have {old.get(k)!r}, asked {v!r}"
             for k, v in new.items() if old.get(k) != v]
    if diffs:
        raise ValueError(f"the verdicts kept in {path} were made with other execution settings ({'; '.join(diffs)}); "
                         f"rerun with the recorded settings to resume, or delete {path.name} to execute every sample "
                         "again with the new ones")


def execute_resumable(benchmark: str, samples_path: Path, *, ks: list[int] | None, workers: int | None,
                      timeout: float | None, memory_mb: int, isolation: str, time_limit_floor: float | None = None,
                      time_limit_factor: float | None = None, verdict: str = "default", progress: bool = True,
                      chunk_size: int = EXECUTE_CHUNK, problems: str | Path | None = None) -> dict[str, Any]:
    """Execute the samples not yet in the partial file, then write results + summary as `eval execute` does
    (the same time limits, verdict mode and sandbox record). Returns {"summary", "executed", "reused"}.
    Verdicts kept from an earlier run must have been made with the same `execution_settings`, else ValueError
    (for exercises that includes the `problems` file's sha256: the same ids in another file are other tasks)."""
    import warnings

    from textbooks.eval.execute import completion_ids, execute_samples, read_samples, sample_tasks
    from textbooks.eval.generate import finish_last_line
    from textbooks.eval.sandbox import SANDBOX_VERSION, Sandbox, SandboxConfig
    from textbooks.eval.tasks import canonical_task_id, problems_identity
    from textbooks.eval.timelimits import TimeLimitPolicy, default_policy, task_time_limits

    samples = read_samples(samples_path)
    if not samples:
        raise ValueError(f"{samples_path} has no samples")
    keys = completion_ids(samples, lambda tid: canonical_task_id(benchmark, tid))
    # unknown task ids (and a missing or bad problems file) are found before anything runs
    by_id, _, run_tasks = sample_tasks(benchmark, samples, problems=problems)
    ident = problems_identity(problems)
    if ks:
        from textbooks.eval.passk import check_ks

        counts: dict[str, int] = {}
        for tid, _ in keys:
            counts[tid] = counts.get(tid, 0) + 1
        check_ks({t: (n, 0) for t, n in counts.items()}, ks)  # before spending time on execution
    settings = execution_settings(benchmark, timeout=timeout, time_limit_floor=time_limit_floor,
                                  time_limit_factor=time_limit_factor, memory_mb=memory_mb, isolation=isolation,
                                  verdict=verdict, problems_sha256=ident["sha256"] if ident else None)
    results_path, summary_path, partial_path = results_paths(samples_path)
    partial, old_settings = _read_partial(partial_path)
    _check_settings(partial_path, old_settings, settings, bool(partial))
    finish_last_line(partial_path)  # after the checks: a refused run leaves the file as it was
    digests = [_digest(s["completion"]) for s in samples]
    reuse = {i for i, (k, d) in enumerate(zip(keys, digests)) if partial.get(k, {}).get("sha") == d}
    todo = [i for i in range(len(samples)) if i not in reuse]
    old = _read_json(summary_path) or {}
    if not todo and old.get("sandbox") and old.get("time_limits") and old.get("execution_settings") == settings:
        # nothing to run: no sandbox to start; the kept verdicts' limits and sandbox are recorded
        results = [{k: v for k, v in partial[key].items() if k != "sha"} for key in keys]
        return _finish(benchmark, samples_path, results, ks, list(by_id), settings, {**old, "problems": ident}, 0,
                       len(reuse))
    base = default_policy(benchmark)
    policy = TimeLimitPolicy(floor=time_limit_floor or base.floor, factor=time_limit_factor or base.factor)
    with warnings.catch_warnings(record=True) as caught:  # the degraded-sandbox warning, as one clean line
        warnings.simplefilter("always", RuntimeWarning)
        sandbox = Sandbox(SandboxConfig(timeout=timeout or 3.0, workers=workers, memory_mb=memory_mb, isolation=isolation))
    for w in caught:
        print(f"WARNING: {w.message}", file=sys.stderr)
    bar = None
    try:
        time_limits = task_time_limits(benchmark, run_tasks, policy=policy, fixed=timeout, sandbox=sandbox,
                                       progress=progress)
        if progress and todo:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(samples), initial=len(reuse), desc=f"execute {benchmark}", unit="sample", file=sys.stderr)
        with partial_path.open("a", encoding="utf-8") as f:
            if old_settings is None:
                f.write(json.dumps({"execution_settings": settings}) + "\n")
            for start in range(0, len(todo), chunk_size):
                chunk = todo[start : start + chunk_size]
                rows = execute_samples(benchmark, [samples[i] for i in chunk], sandbox=sandbox, tasks=list(by_id.values()),
                                       time_limits=time_limits, verdict=verdict)
                for i, row in zip(chunk, rows):
                    # execute numbers completion ids within what it is given: keep the file's own ids
                    row = {**row, "task_id": keys[i][0], "completion_id": keys[i][1], "sha": digests[i]}
                    partial[keys[i]] = row
                    f.write(json.dumps(row) + "\n")
                f.flush()
                if bar is not None:
                    bar.update(len(chunk))
    finally:
        if bar is not None:
            bar.close()
        sandbox.close()
    results = [{k: v for k, v in partial[key].items() if k != "sha"} for key in keys]
    record = {"time_limits": time_limits.summary(), "time_limits_text": time_limits.describe(),
              "sandbox": {"version": SANDBOX_VERSION, "isolation": sandbox.mode, "layers": sandbox.layers,
                          "missing": sandbox.missing}, "problems": ident}
    return _finish(benchmark, samples_path, results, ks, list(by_id), settings, record, len(todo), len(reuse))


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _finish(benchmark, samples_path, results, ks, task_ids, settings, record, executed, reused) -> dict[str, Any]:
    """Write results + summary as `eval execute` does; `record`: time_limits(_text) and sandbox of the verdicts,
    and the problems file (exercises)."""
    from textbooks.eval.execute import HARNESS_VERSION, failure_category, summarize
    from textbooks.eval.isolated import ISOLATED_VERSION

    results_path, summary_path, _ = results_paths(samples_path)
    write_jsonl(results_path, results)
    summary = summarize(benchmark, results, ks or (1, 10, 100), strict=bool(ks), all_task_ids=task_ids)
    sandbox = dict(record["sandbox"])
    # counted from the verdicts (kept ones included), not from this process's sandbox
    sandbox["sandbox_errors"] = sum(1 for r in results if failure_category(r["result"], bool(r["passed"])) == "sandbox error")
    summary.update({"samples": str(samples_path), "results": str(results_path), "timeout": settings["timeout"],
                    "memory_mb": settings["memory_mb"], "time_limits": record["time_limits"],
                    "time_limits_text": record["time_limits_text"], "harness": HARNESS_VERSION,
                    "verdict": settings["verdict"] if settings["verdict"] == "default" else ISOLATED_VERSION,
                    "sandbox": sandbox, "execution_settings": settings})
    if record.get("problems"):
        summary["problems"] = record["problems"]
    summary_path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return {"summary": summary, "executed": executed, "reused": reused}


def _parse_ks(text: str) -> list[int]:
    try:
        ks = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--k takes comma-separated integers like 1,10,100, got {text!r}") from None
    if not ks or any(k < 1 for k in ks):
        raise argparse.ArgumentTypeError(f"--k values must be >= 1, got {text!r}")
    return ks


def configure(parser: argparse.ArgumentParser) -> None:
    from textbooks.eval import generate

    generate.configure(parser)  # every `eval generate` flag, unchanged
    parser.description = (
        "generate -> execute -> report in one command, with the flags of `eval generate` plus those of "
        "`eval execute` and `eval report`. Writes the files the three verbs write (OUT, OUT_STEM.meta.json, "
        "OUT_results.jsonl, OUT_summary.json, a report directory). Resumable: rerun the same command after "
        "a stop or kill and it continues.")
    from textbooks.eval.execute import add_execution_arguments

    ex = parser.add_argument_group("execution (the flags of `eval execute`)")
    add_execution_arguments(ex)
    ex.add_argument("--execute-chunk", type=int, default=EXECUTE_CHUNK, metavar="N",
                    help="samples executed between two saves of the verdicts: what a kill loses at most (default %(default)s)")
    ex.add_argument("--k", type=_parse_ks, default=None,
                    help="pass@k values, e.g. 1,10 (default: those of 1,10,100 with n >= k; k > n is an error)")
    rep = parser.add_argument_group("report (as `eval report`)")
    rep.add_argument("--report", metavar="DIR", help="report directory (default: OUT without .jsonl + .report)")
    rep.add_argument("--similar-ids", metavar="FILE", help="task ids similar to the training data (paper §5.2)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from textbooks.eval import generate
    from textbooks.eval.execute import execution_args_problem, format_summary
    from textbooks.eval.passk import PassAtKError
    from textbooks.eval.report import build_report, pass_at_1_table, write_report

    def fail(message: str, rc: int = 2) -> int:
        print(f"textbooks eval run: error: {message}", file=sys.stderr)
        return rc

    # the checks of `eval execute`, before anything is generated
    from textbooks.eval.tasks import problems_problem

    problem = execution_args_problem(args) or problems_problem(args.benchmark, args.problems)
    if problem:
        return fail(problem)
    if args.execute_chunk < 1:
        return fail(f"--execute-chunk must be >= 1, got {args.execute_chunk}")
    if args.k and max(args.k) > args.n:
        return fail(f"--k {max(args.k)} is larger than --n {args.n}: pass@k needs at least k samples per task")
    from textbooks import guard
    from textbooks.eval.report import check_report_dir

    out_dir = Path(args.report) if args.report else Path(str(args.out).removesuffix(".jsonl") + ".report")
    if args.similar_ids:
        guard.check_inputs([args.similar_ids], kind="file", flag="--similar-ids")
    if args.problems:
        guard.check_inputs([args.problems], kind="file", flag="--problems")
    inputs = [p for p in (args.model, args.similar_ids, args.problems) if p]
    results, summary_path, partial = results_paths(args.out)
    check_report_dir(out_dir, inputs)
    # execution's files resume (the partial file) or are rebuilt from it; they must not be the inputs
    guard.check_outputs([guard.Output(results, flag="the results file"), guard.Output(summary_path, flag="the summary"),
                         guard.Output(partial, flag="the partial results")],
                        inputs=inputs, resumable_marker=lambda _: True)
    guard.set_resume_hint("rerun the same command to continue: finished samples and verdicts are kept")
    print("== 1/3 generate", file=sys.stderr, flush=True)
    rc = generate._handler(args)
    if rc:
        return fail("generation did not finish (see above); rerun the same command to continue", rc)
    print("== 2/3 execute", file=sys.stderr, flush=True)
    logging.getLogger("textbooks.eval.sandbox").setLevel(logging.WARNING)
    try:
        done = execute_resumable(args.benchmark, Path(args.out), ks=args.k, workers=args.workers, timeout=args.timeout,
                                 memory_mb=args.memory_mb, isolation=args.isolation,
                                 time_limit_floor=args.time_limit_floor, time_limit_factor=args.time_limit_factor,
                                 verdict=args.verdict, progress=not args.no_progress, chunk_size=args.execute_chunk,
                                 problems=args.problems)
    except (ValueError, FileNotFoundError, PassAtKError) as e:
        return fail(str(e))
    except RuntimeError as e:  # the sandbox itself failed
        return fail(f"the sandbox failed: {e}; rerun the same command to continue", 1)
    print(format_summary(done["summary"]))  # the lines `eval execute` prints
    print(f"executed {plural(done['executed'], 'sample')} ({plural(done['reused'], 'verdict')} kept from before) -> "
          f"{results}, {summary_path} (verdicts by sample hash, for reruns: {partial})", file=sys.stderr)
    print("== 3/3 report", file=sys.stderr, flush=True)
    try:
        report = build_report([results], similar_ids=args.similar_ids, ks=args.k)
    except (FileNotFoundError, ValueError) as e:
        return fail(str(e))
    md, js = write_report(out_dir, report)
    print(pass_at_1_table(report["benchmarks"]))
    print(f"report: {md}\n        {js}")
    return 0
