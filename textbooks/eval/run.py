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

EXECUTE_CHUNK = 256  # samples per execution step: what a killed run loses at most


def results_paths(samples: str | Path) -> tuple[Path, Path, Path]:
    """(results, summary, partial) next to the samples, named as `eval execute` names them."""
    s = str(samples)
    return Path(f"{s}_results.jsonl"), Path(f"{s}_summary.json"), Path(f"{s}_results.partial.jsonl")


def _digest(completion: str) -> str:
    return hashlib.sha256(completion.encode("utf-8")).hexdigest()[:16]


def _read_partial(path: Path) -> dict[tuple[str, int], dict]:
    """Verdicts already written; a last line cut by a kill is dropped (and removed, so appends start clean)."""
    done: dict[tuple[str, int], dict] = {}
    if not path.exists():
        return done
    for _, row in iter_jsonl(path, objects=True, drop_partial_last=True,
                             hint="; delete this file to run every sample again"):
        done[(str(row["task_id"]), int(row["completion_id"]))] = row
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])
    return done


def execute_resumable(benchmark: str, samples_path: Path, *, ks: list[int] | None, workers: int | None,
                      timeout: float | None, memory_mb: int, isolation: str, progress: bool = True,
                      chunk_size: int = EXECUTE_CHUNK) -> dict[str, Any]:
    """Execute the samples not yet in the partial file, then write results + summary as `eval execute` does.
    Returns {"summary", "executed", "reused"}."""
    from textbooks.eval.execute import completion_ids, execute_samples, read_samples
    from textbooks.eval.sandbox import SANDBOX_VERSION, Sandbox, SandboxConfig
    from textbooks.eval.tasks import canonical_task_id

    samples = read_samples(samples_path)
    if not samples:
        raise ValueError(f"{samples_path} has no samples")
    keys = completion_ids(samples, lambda tid: canonical_task_id(benchmark, tid))
    if ks:
        from textbooks.eval.passk import check_ks

        counts: dict[str, int] = {}
        for tid, _ in keys:
            counts[tid] = counts.get(tid, 0) + 1
        check_ks({t: (n, 0) for t, n in counts.items()}, ks)  # before spending time on execution
    results_path, summary_path, partial_path = results_paths(samples_path)
    partial = _read_partial(partial_path)
    digests = [_digest(s["completion"]) for s in samples]
    reuse = {i for i, (k, d) in enumerate(zip(keys, digests)) if partial.get(k, {}).get("sha") == d}
    todo = [i for i in range(len(samples)) if i not in reuse]
    old_sandbox = (_read_json(summary_path) or {}).get("sandbox")
    if not todo and old_sandbox:  # nothing to run: no sandbox to start, the verdicts' sandbox is recorded
        results = [{k: v for k, v in partial[key].items() if k != "sha"} for key in keys]
        return _finish(benchmark, samples_path, results, ks, timeout, memory_mb, old_sandbox, 0, len(reuse))
    sandbox = Sandbox(SandboxConfig(timeout=timeout or 3.0, workers=workers, memory_mb=memory_mb, isolation=isolation))
    bar = None
    if progress and todo:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(samples), initial=len(reuse), desc=f"execute {benchmark}", unit="sample", file=sys.stderr)
    try:
        with partial_path.open("a", encoding="utf-8") as f:
            for start in range(0, len(todo), chunk_size):
                chunk = todo[start : start + chunk_size]
                # keyword arguments only, so `execute`'s own defaults (e.g. per-task time limits) apply
                rows = execute_samples(benchmark, [samples[i] for i in chunk], sandbox=sandbox, timeout=timeout,
                                       memory_mb=memory_mb)
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
    return _finish(benchmark, samples_path, results, ks, timeout, memory_mb,
                   {"version": SANDBOX_VERSION, "isolation": sandbox.mode, "layers": sandbox.layers}, len(todo), len(reuse))


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _finish(benchmark, samples_path, results, ks, timeout, memory_mb, sandbox_info, executed, reused) -> dict[str, Any]:
    """Write results + summary exactly as `eval execute` does."""
    from textbooks.eval.execute import HARNESS_VERSION, summarize

    results_path, summary_path, _ = results_paths(samples_path)
    write_jsonl(results_path, results)
    summary = summarize(benchmark, results, ks or (1, 10, 100), strict=bool(ks))
    summary.update({"samples": str(samples_path), "results": str(results_path), "timeout": timeout,
                    "memory_mb": memory_mb, "harness": HARNESS_VERSION, "sandbox": sandbox_info})
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
    ex = parser.add_argument_group("execution (as `eval execute`)")
    ex.add_argument("--workers", type=int, default=None, help="sandbox workers (default: number of cores)")
    ex.add_argument("--timeout", type=float, default=None,
                    help="one fixed wall-clock limit in seconds per program (default: `eval execute`'s default)")
    ex.add_argument("--memory-mb", type=int, default=2048, help="address space per program (default 2048)")
    ex.add_argument("--isolation", choices=("auto", "bwrap", "none"), default="auto",
                    help="auto: bubblewrap when it works here, else a loud warning and the remaining layers")
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
    from textbooks.eval.passk import PassAtKError
    from textbooks.eval.report import build_report, pass_at_1_table, write_report

    def fail(message: str, rc: int = 2) -> int:
        print(f"textbooks eval run: error: {message}", file=sys.stderr)
        return rc

    if args.workers is not None and args.workers < 1:
        return fail(f"--workers must be >= 1, got {args.workers}")
    if args.execute_chunk < 1:
        return fail(f"--execute-chunk must be >= 1, got {args.execute_chunk}")
    if args.timeout is not None and args.timeout <= 0:
        return fail(f"--timeout must be > 0, got {args.timeout}")
    if args.k and max(args.k) > args.n:
        return fail(f"--k {max(args.k)} is larger than --n {args.n}: pass@k needs at least k samples per task")
    print("== 1/3 generate", file=sys.stderr, flush=True)
    rc = generate._handler(args)
    if rc:
        return fail("generation did not finish (see above); rerun the same command to continue", rc)
    print("== 2/3 execute", file=sys.stderr, flush=True)
    logging.getLogger("textbooks.eval.sandbox").setLevel(logging.WARNING)
    try:
        done = execute_resumable(args.benchmark, Path(args.out), ks=args.k, workers=args.workers, timeout=args.timeout,
                                 memory_mb=args.memory_mb, isolation=args.isolation, progress=not args.no_progress,
                                 chunk_size=args.execute_chunk)
    except (ValueError, FileNotFoundError, PassAtKError) as e:
        return fail(str(e))
    except RuntimeError as e:  # the sandbox itself failed
        return fail(f"the sandbox failed: {e}; rerun the same command to continue", 1)
    results, summary_path, _ = results_paths(args.out)
    print(f"executed {done['executed']} samples ({done['reused']} verdicts kept from before) -> {results}, {summary_path}",
          file=sys.stderr)
    print("== 3/3 report", file=sys.stderr, flush=True)
    out_dir = Path(args.report) if args.report else Path(str(args.out).removesuffix(".jsonl") + ".report")
    try:
        report = build_report([results], similar_ids=args.similar_ids, ks=args.k)
    except (FileNotFoundError, ValueError) as e:
        return fail(str(e))
    md, js = write_report(out_dir, report)
    print(pass_at_1_table(report["benchmarks"]))
    print(f"report: {md}\n        {js}")
    return 0
