"""The last stage of `textbooks run`: DIR/report.json and DIR/report.html from the files the other stages wrote.

    from textbooks.pipeline.report import write_report, summary_table
    html_path, json_path = write_report("runs/demo")     # DIR/report.html + DIR/report.json, atomically
    print(summary_table(json.loads(json_path.read_text())))

Why a separate reader instead of numbers passed along by the stages: the report must agree with the stages'
own result files (a test checks that it does), must work on a run that stopped half-way (every missing
piece reads "not run"), and must be rebuildable from a run directory alone. So `collect` only *reads*:
pass@1 is execute's summary, the classifier's metrics are the curation's stats, the loss curve is the
trainer's metrics.jsonl. The only derived numbers are the "ordering" block (does raw < filtered <
codetextbook < codetextbook+exercises hold on a measure?), the choice of sample completions, a finetuned
arm's own share of run.json's cumulative finetune tokens, and the epochs per source when the training stage's
result does not record them (its token budget x the source's weight share / the source's unique tokens).

The run directory (every piece optional):

    run.json                       name, resolved config, versions, git commit, arms, stages
    stages/<stage>.json            a stage's marker; pretrain-/finetune-<arm>: result.tokens, unique_tokens, epochs
    curate/                        `data curate`: stats.json, plots/funnel.json, quality/...
    synth/{exercises,textbooks,heldout}/   `textbooks synth ...`: stats.json, report.json (diversity)
    decontaminate/                 `data decontaminate`: stats.json (also the funnel's last row), report.jsonl, report.md
    similar/                       `data similar`: similar.json, similar-tau*.txt/json
    packed/<source>/meta.json      `data pack`: splits.train.tokens (unique tokens, when the stage result lacks them)
    train/<arm>/                   the trainer's run dir: metrics.jsonl (loss and val_loss lines)
    eval/<arm>/                    humaneval/mbpp/exercises .jsonl (+ _results.jsonl, _summary.json),
                                   nll-<benchmark>.json, syntax.json ({benchmark: samples, valid, fraction,
                                   nontrivial}), report*/report.json (`eval report`)

report.html is one self-contained file: inline CSS, plots as inline base64 PNG (matplotlib's Agg canvas, no
pyplot state), no script, and a Content-Security-Policy that forbids loading anything, so a page opened
from a mail attachment or an artifact store looks the same and can fetch nothing. Every string taken from
a file (model completions above all) goes through html.escape.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import re
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

# The Figure 2.1 arms, in the order the paper's claim ranks them (worst first).
ARM_ORDER = ("raw", "filtered", "codetextbook", "codetextbook+exercises")
SCHEMA = "textbooks.pipeline.report@1"
MAX_CURVE_POINTS = 1000  # per arm and curve in report.json; the final values are always the files' last lines
MAX_INLINE_PNG_BYTES = 5 << 20  # a stage's PNG larger than this is linked by path, not inlined
DECONT_EXAMPLES = 5
SYNTH_DIRS = ("exercises", "textbooks", "heldout")
MAX_RESULT_CHARS = 300  # of a failed sample's verdict text on the page (report.json keeps it whole)
BENCHMARKS = ("humaneval", "mbpp", "exercises")  # exercises = the held-out synthetic exercises

# HumanEval pass@1 (percent) the phi-1 paper gives per arm of its Figure 2.1 ablation, with where each number
# is stated (arXiv 2306.11644 v2; transcribed in /work/shared/reference/phi-1-paper.md §4.2 and §5.2). None:
# the paper prints that bar only inside the figure image, and no source transcribes it.
PAPER_FIGURE_2_1: dict[str, Any] = {
    "source": "Gunasekar et al. 2023, 'Textbooks Are All You Need' (arXiv 2306.11644): Figure 2.1 and §2.1; "
              "Table 1 and Table 2 for the finetuned models",
    "metric": "HumanEval pass@1 (percent); MBPP pass@1 where the paper reports it",
    "models": {
        "350M": {
            "raw": {"humaneval": 12.19, "section": "§2.1: unfiltered The Stack + StackOverflow 'saturates at "
                    "12.19% even after training for 96k steps (~200B tokens)'"},
            "filtered": {"humaneval": 17.68, "section": "§2.1: the filtered subset, 17.68% after 36k steps"},
            "codetextbook": {"humaneval": 20.12, "section": "§2.1: filtered + synthetic textbooks, 20.12% "
                             "('reported in Figure 2.1')"},
            "codetextbook+exercises": {"humaneval": 45.0, "section": "Table 2 and abstract: phi-1-small, 45%"},
        },
        "1.3B": {
            "raw": {"humaneval": None, "section": "Figure 2.1 (The Stack+, 76B tokens): bar height not given in "
                    "the text"},
            "filtered": {"humaneval": None, "section": "not reported at 1.3B"},
            "codetextbook": {"humaneval": 29.0, "section": "Figure 2.1 caption and Table 2: phi-1-base, 29% "
                             "(51B tokens)"},
            "codetextbook+exercises": {"humaneval": 50.6, "mbpp": 55.5, "section": "Table 1: phi-1, HumanEval "
                                       "50.6%, MBPP 55.5%"},
        },
    },
}

# The paper's Table 3 (§5.2): phi-1's HumanEval pass@1 (percent) on the tasks similar / not similar to
# CodeExercises at AST match rate tau, with the number of problems; shown beside this run's split.
PAPER_TABLE_3: dict[str, Any] = {
    "source": "Gunasekar et al. 2023, Table 3 (§5.2): phi-1, HumanEval",
    "taus": {
        "0.95": {"similar": (71, 81.7), "non_similar": (93, 26.9), "total": (164, 50.6)},
        "0.90": {"similar": (93, 63.4), "non_similar": (71, 33.8), "total": (164, 50.6)},
        "0.85": {"similar": (106, 62.3), "non_similar": (58, 29.3), "total": (164, 50.6)},
        "0.80": {"similar": (116, 59.5), "non_similar": (48, 29.2), "total": (164, 50.6)},
    },
}

# The measures the ordering block checks: (key, label, better, unit, getter of an arm's value). unit: "fraction"
# (shown as a percentage) or "nats/token".
MEASURES: tuple[tuple[str, str, str, str, Callable[[dict], Any]], ...] = (
    ("humaneval_pass@1", "HumanEval pass@1", "higher", "fraction",
     lambda a: ((a["eval"] or {}).get("humaneval") or {}).get("pass@1")),
    ("mbpp_pass@1", "MBPP pass@1", "higher", "fraction", lambda a: ((a["eval"] or {}).get("mbpp") or {}).get("pass@1")),
    ("heldout_pass@1", "held-out exercises pass@1", "higher", "fraction",
     lambda a: ((a["eval"] or {}).get("exercises") or {}).get("pass@1")),
    ("humaneval_valid", "HumanEval valid Python", "higher", "fraction",
     lambda a: ((a.get("syntax") or {}).get("humaneval") or {}).get("fraction")),
    ("humaneval_nll", "HumanEval solution NLL", "lower", "nats/token",
     lambda a: ((a["nll"] or {}).get("humaneval") or {}).get("mean_nll")),
    ("mbpp_nll", "MBPP solution NLL", "lower", "nats/token", lambda a: ((a["nll"] or {}).get("mbpp") or {}).get("mean_nll")),
    ("heldout_nll", "held-out exercises solution NLL", "lower", "nats/token",
     lambda a: ((a["nll"] or {}).get("exercises") or {}).get("mean_nll")),
    ("judge_score", "judge score", "higher", "fraction",
     lambda a: (a["judge"] or [{}])[0].get("score") if a["judge"] else None),
)


# ---------------------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------------------


class _Reader:
    """Reads files of one run directory; an unreadable file becomes a problem line, not a crash, because a
    report of a half-finished or damaged run is exactly when a person needs one."""

    def __init__(self, run_dir: Path):
        self.root = run_dir
        self.problems: list[str] = []
        self._cache: dict[Path, Any] = {}  # curate/stats.json feeds three sections: read (and complain) once

    def rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    def json(self, path: Path) -> Any:
        if path in self._cache:
            return self._cache[path]
        value = None
        if path.is_file():
            try:
                value = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
                self.problems.append(f"{self.rel(path)}: unreadable ({e})")
        self._cache[path] = value
        return value

    def jsonl(self, path: Path) -> list[dict] | None:
        if not path.is_file():
            return None
        from textbooks.jsonl import iter_jsonl

        try:
            return [row for _, row in iter_jsonl(path, objects=True, drop_partial_last=True)]
        except (OSError, ValueError) as e:
            self.problems.append(f"{self.rel(path)}: unreadable ({e})")
            return None


def _pick(d: dict | None, keys: Iterable[str]) -> dict:
    return {k: d[k] for k in keys if d and k in d}


def _run_info(r: _Reader) -> dict | None:
    run = r.json(r.root / "run.json")
    if not isinstance(run, dict):
        return None
    stages = []
    for name, s in (run.get("stages") or {}).items():
        s = s if isinstance(s, dict) else {}
        row = {"name": name, **_pick(s, ("status", "fingerprint", "seconds", "out"))}
        # The pipeline's report stage reads run.json while it runs, so its own row always says "running";
        # what the reader holds is that stage's output, so it is done by the time anyone sees it.
        if (s.get("kind") == "report" or name == "report") and s.get("status") == "running":
            row.update(status="done", this_report=True)
        stages.append(row)
    seconds = [s["seconds"] for s in stages if isinstance(s.get("seconds"), (int, float))]
    return {"name": run.get("name"), "created": run.get("created"), "git_commit": run.get("git_commit"),
            "versions": run.get("versions") or {}, "config": run.get("config") or {}, "stages": stages,
            "stage_seconds_total": round(sum(seconds), 3) if seconds else None, "arms": run.get("arms") or []}


def _funnel(r: _Reader) -> dict | None:
    curate = r.root / "curate"
    stats = r.json(curate / "stats.json")
    written = r.json(curate / "plots" / "funnel.json")
    if isinstance(written, dict) and written.get("rows"):
        rows, unit, source = written["rows"], written.get("token_unit"), curate / "plots" / "funnel.json"
    elif isinstance(stats, dict) and stats.get("steps"):
        from textbooks.data.plots import funnel_rows  # the function that writes funnel.json: the same rows

        rows, unit, source = funnel_rows(stats), stats.get("token_unit"), curate / "stats.json"
    else:
        return None
    rows = [dict(row) for row in rows]
    decont = _decontamination_step(r, unit)
    if decont:
        rows.append(decont)
    return {"source": r.rel(source), "token_unit": unit, "rows": rows,
            "seconds": (stats or {}).get("seconds"), "complete": (stats or {}).get("complete"),
            "decontamination_appended": decont is not None,
            "png": r.rel(curate / "plots" / "funnel.png") if (curate / "plots" / "funnel.png").is_file() else None}


def _decontamination_step(r: _Reader, token_unit: Any) -> dict | None:
    """The funnel's last row: what `data decontaminate` kept of the curated corpus (documents in, kept,
    flagged), from decontaminate/stats.json. Curation's funnel ends before it, yet it is the last step that
    removes training documents, so without it the funnel overstates what the filtered arms train on."""
    path = r.root / "decontaminate" / "stats.json"
    stats = r.json(path)
    if not isinstance(stats, dict):
        return None
    dec = stats.get("decontamination") if isinstance(stats.get("decontamination"), dict) else {}
    steps = [s for s in stats.get("steps") or [] if isinstance(s, dict)]
    read = next((s for s in steps if "READER" in str(s.get("step", ""))), {})
    flt = next((s for s in steps if "FILTER" in str(s.get("step", "")) and "decontam" in str(s.get("step", ""))), {})
    documents_in = flt.get("in", read.get("kept"))
    flagged = dec.get("documents_flagged")
    if not _is_num(flagged):
        flagged = sum((flt.get("dropped") or {}).values()) if flt.get("dropped") else None
    kept = flt.get("kept")
    if not _is_num(kept) and _is_num(documents_in) and _is_num(flagged):
        kept = documents_in - flagged
    if not any(_is_num(x) for x in (documents_in, kept, flagged)):
        return None
    # Tokens are comparable with the rows above only when both verbs counted the same unit.
    same_unit = stats.get("token_unit") in (None, token_unit)
    tokens = flt.get("tokens_kept") if same_unit and "tokens_kept" in flt else None
    return {"step": "decontaminate: benchmark overlap", "documents": kept, "tokens": tokens,
            "dropped": {"contaminated": flagged} if _is_num(flagged) else {},
            "in": documents_in, "flagged": flagged, "source": r.rel(path)}


def _edu_value(r: _Reader) -> dict | None:
    quality = r.root / "curate" / "quality"
    stats = r.json(r.root / "curate" / "stats.json") or {}
    summary = stats.get("quality") if isinstance(stats, dict) else None
    model = None
    if not summary or "held_out" not in summary:
        model = r.json(quality / "model" / "report.json")  # large (test ids); only when stats lacks the summary
    source = summary if summary and "held_out" in summary else model
    annotation = r.json(quality / "annotations.summary.json") or (summary or {}).get("annotation")
    settings = r.json(quality / "model.settings.json")
    plots = quality / "model" / "plots"
    hist = r.json(plots / "score_histogram.json")
    roc = r.json(plots / "roc.json")
    if not source and not annotation and not (summary or {}).get("skipped"):
        return None
    out: dict[str, Any] = {"skipped": (summary or {}).get("skipped")}
    if annotation:
        out["annotation"] = _pick(annotation, ("annotator", "documents", "scored", "no_score", "failed", "truncated",
                                               "by_score", "usage"))
    counts = (annotation or {}).get("by_score") or (hist or {}).get("counts") or (model or {}).get("score_counts")
    out["score_histogram"] = {"counts": counts, "threshold": (source or {}).get("threshold", (hist or {}).get("threshold"))} \
        if counts else None
    if source:
        held = source.get("held_out") or {}
        baselines = source.get("baselines") or {}
        out["classifier"] = {
            **_pick(source, ("kind", "featurizer", "threshold", "n_train", "n_test", "positive_fraction", "warning")),
            "keep_probability": (settings or {}).get("keep_probability", source.get("keep_probability")),
            "held_out": _pick(held, ("roc_auc", "precision", "recall", "f1", "accuracy", "confusion_matrix", "n",
                                     "positives")),
            "majority_baseline": _pick(baselines.get("majority"), ("roc_auc", "precision", "recall", "f1", "accuracy",
                                                                   "confusion_matrix", "predicts")),
            "logreg_baseline": _pick(baselines.get("logreg"), ("roc_auc", "precision", "recall", "f1", "accuracy",
                                                               "confusion_matrix")) or None,
        }
    else:
        out["classifier"] = None
    if isinstance(roc, dict) and roc.get("fpr") and len(roc["fpr"]) == len(roc.get("tpr") or []):
        keep = _thin(list(range(len(roc["fpr"]))))  # a large held-out set has one point per distinct score
        out["roc"] = {"auc": roc.get("auc"), "fpr": [roc["fpr"][i] for i in keep], "tpr": [roc["tpr"][i] for i in keep]}
    else:
        out["roc"] = None
    # P(high value) over the whole corpus: the apply step's stats count documents per 0.1-wide bin
    bins = {}
    for step in (stats.get("steps") or []) if isinstance(stats, dict) else []:
        for key, value in (step.get("other") or {}).items():
            if key.startswith("edu_score_") and isinstance(value, dict) and "total" in value:
                bins[key.removeprefix("edu_score_")] = int(value["total"])
    out["probability_histogram"] = dict(sorted(bins.items(), key=lambda kv: float(kv[0].split("-")[0]))) or None
    out["png"] = {name: r.rel(plots / f"{name}.png") for name in ("score_histogram", "roc", "confusion")
                  if (plots / f"{name}.png").is_file()}
    return out


def _dedup(r: _Reader) -> dict | None:
    stats = r.json(r.root / "curate" / "stats.json")
    d = stats.get("dedup") if isinstance(stats, dict) else None
    if not d:
        return None
    png = r.root / "curate" / "plots" / "dedup_clusters.png"
    return {**_pick(d, ("documents", "clusters", "documents_in_clusters", "removed", "cluster_size_histogram",
                        "false_positive_check")),
            "threshold": (d.get("config") or {}).get("threshold"),
            "implied_threshold": (d.get("lsh") or {}).get("implied_threshold"),
            "candidate_pairs": (d.get("lsh") or {}).get("candidate_pairs"),
            "png": r.rel(png) if png.is_file() else None}


def _decontamination(r: _Reader) -> dict | None:
    base = r.root / "decontaminate"
    stats = r.json(base / "stats.json")
    rows = r.jsonl(base / "report.jsonl")
    dec = stats.get("decontamination") if isinstance(stats, dict) else None
    if dec is None and rows is None:
        return None
    # Per task over all flagged documents (stats keeps the 20 most matched): each document counts once per
    # task and once per method, the rule `data decontaminate` counts by.
    by_task: dict[str, int] = {}
    by_method: dict[str, int] = {}
    for row in rows or []:
        for t in {m.get("task_id") for m in row.get("matches") or []}:
            by_task[str(t)] = by_task.get(str(t), 0) + 1
        for m in {m.get("method") for m in row.get("matches") or []}:
            by_method[str(m)] = by_method.get(str(m), 0) + 1
    steps = stats.get("steps") if isinstance(stats, dict) else None
    read = next((s for s in steps or [] if isinstance(s, dict) and "READER" in str(s.get("step", ""))), {})
    out = {
        "documents_scanned": read.get("kept"),
        "documents_flagged": (dec or {}).get("documents_flagged", len(rows or [])),
        "flagged_by_method": (dec or {}).get("flagged_by_method", dict(sorted(by_method.items()))),
        "flagged_by_benchmark": (dec or {}).get("flagged_by_benchmark"),
        "tasks_matched": (dec or {}).get("tasks_matched", len(by_task)),
        "flagged_by_task": dict(sorted(by_task.items(), key=lambda kv: (-kv[1], kv[0]))) if rows is not None
        else (dec or {}).get("most_matched_tasks"),
        "settings": (dec or {}).get("settings"),
        "examples": [{"id": row.get("id"), "matches": row.get("matches")} for row in (rows or [])[:DECONT_EXAMPLES]],
        "audit": r.rel(base / "report.md") if (base / "report.md").is_file() else None,
    }
    return out


def _similar(r: _Reader) -> dict | None:
    base = r.root / "similar"
    summary = r.json(base / "similar.json")
    if not isinstance(summary, dict):
        stats = r.json(base / "stats.json")
        summary = stats.get("similar") if isinstance(stats, dict) else None
    if not summary:
        return None
    return {"benchmark": summary.get("benchmark"), "tasks": summary.get("tasks"),
            "taus": {t: _pick(v, ("similar", "non_similar")) for t, v in (summary.get("taus") or {}).items()},
            "tasks_too_small_for_ast": len(summary.get("tasks_too_small_for_ast") or [])}


def _diversity(report: dict) -> dict:
    """The headline numbers of a `textbooks synth report` report.json."""
    openings = report.get("openings") or {}
    first = {}
    for k in ("first_3", "first_5"):
        o = openings.get(k) or {}
        top = (o.get("top") or [{}])[0]
        first[k] = {"top_share": o.get("top_share"), "distinct": o.get("distinct"), "top_phrase": top.get("phrase"),
                    "top_count": top.get("count")}
    nn = report.get("nearest_neighbour") or None
    topics = report.get("topics") or {}
    return {
        "kind": report.get("kind"), "n": report.get("n"),
        "tokens": _pick((report.get("lengths") or {}).get("tokens"), ("mean", "p50", "p90", "min", "max")),
        "distinct_ngrams": {n: v.get("ratio") for n, v in (report.get("distinct_ngrams") or {}).items()},
        "near_duplicates": _pick(report.get("near_duplicates"), ("rate", "count", "exact", "near", "threshold")),
        "openings": first,
        "families": (report.get("families") or {}).get("distinct"),
        "topic_areas": len(topics.get("areas") or {}), "topic_leaves": len(topics.get("leaves") or {}),
        "topic_tree_coverage": (topics.get("tree") or {}).get("coverage"),
        "nearest_neighbour": _pick(nn, ("featurizer", "mean", "p10", "p50", "min", "zero")) or None,
    }


def _synthesis(r: _Reader) -> dict | None:
    base = r.root / "synth"
    if not base.is_dir():
        return None
    names = list(SYNTH_DIRS) + sorted(p.name for p in base.iterdir() if p.is_dir() and p.name not in SYNTH_DIRS)
    out: dict[str, Any] = {}
    for name in names:
        d = base / name
        if not d.is_dir():
            continue
        stats = r.json(d / "stats.json")
        # `synth report DIR` writes DIR/report/report.json (DIR/report/<kind>/ when both kinds are present);
        # a pipeline may also put it in DIR itself.
        candidates = [d / "report.json", d / "report" / "report.json",
                      *sorted((d / "report").glob("*/report.json"))]
        reports = {}
        for path in candidates:
            rep = r.json(path)
            if isinstance(rep, dict) and "distinct_ngrams" in rep:
                png = path.with_name("report.png")
                reports[str(rep.get("kind") or name)] = {**_diversity(rep), "source": r.rel(path),
                                                         "png": r.rel(png) if png.is_file() else None}
        if stats is None and not reports:
            continue
        out[name] = {"stats": _pick(stats, ("command", "teacher", "model", "requested", "generated", "kept", "dropped",
                                            "dropped_total", "holdout", "tokens", "cost", "stopped")) or None,
                     "seconds": ((stats or {}).get("seconds") or {}).get("total"),
                     "diversity": reports or None}
    return out or None


def _curve(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """Loss and val_loss lines of a metrics.jsonl, one per step (a resumed run may repeat a step: the later
    line is the one the resumed run wrote, the earlier one was truncated away or is identical)."""
    train: dict[int, dict] = {}
    val: dict[int, dict] = {}
    for row in rows:
        step = row.get("step")
        if not isinstance(step, int):
            continue
        if isinstance(row.get("loss"), (int, float)):
            train[step] = {"step": step, "tokens_seen": row.get("tokens_seen"), "loss": row["loss"]}
        if isinstance(row.get("val_loss"), (int, float)):
            val[step] = {"step": step, "val_loss": row["val_loss"]}
    return [train[s] for s in sorted(train)], [val[s] for s in sorted(val)]


def _thin(points: list, limit: int = MAX_CURVE_POINTS) -> list:
    """At most about `limit` evenly spaced items, always with the last (the curve's end is its result)."""
    if len(points) <= limit:
        return points
    stride = math.ceil(len(points) / limit)
    kept = points[::stride]
    return kept if kept[-1] is points[-1] else kept + [points[-1]]


def _train(r: _Reader, arm: str) -> dict | None:
    d = r.root / "train" / arm
    rows = r.jsonl(d / "metrics.jsonl")
    if rows is None:
        return None
    train, val = _curve(rows)
    # tokens_seen is logged only on loss lines; a val line at the same step shares it
    tokens_at = {p["step"]: p["tokens_seen"] for p in train}
    for v in val:
        v["tokens_seen"] = tokens_at.get(v["step"])
    summary = None
    for name in ("summary.json", "train_summary.json"):
        summary = r.json(d / name)
        if summary:
            break
    last, last_val = (train[-1] if train else {}), (val[-1] if val else {})
    return {"run_dir": r.rel(d), "points": _thin(train), "val_points": _thin(val),
            "final_train_loss": last.get("loss"), "final_train_step": last.get("step"),
            "tokens_seen": last.get("tokens_seen"),
            "final_val_loss": last_val.get("val_loss"), "final_val_step": last_val.get("step"),
            "summary": _pick(summary, ("steps", "tokens_seen", "final_loss", "val_loss", "best_val_loss",
                                       "tokens_per_s", "interrupted", "stopped_by_time_budget")) or None}


_TAU_IN_NAME = re.compile(r"tau(\d+(?:\.\d+)?)")


def _eval_reports(r: _Reader, d: Path) -> list[tuple[Path, dict]]:
    """`eval report` outputs of an arm: report/report.json, and report-*/report.json (one per tau)."""
    found = []
    for path in sorted(d.glob("report*/report.json")):
        rep = r.json(path)
        if isinstance(rep, dict):
            found.append((path, rep))
    return found


def _report_entry(reports: list[tuple[Path, dict]], bench: str) -> dict | None:
    for _, rep in reports:
        for entry in rep.get("benchmarks") or []:
            results = Path(str(entry.get("results") or "")).name
            if results in (f"{bench}.jsonl_results.jsonl", f"{bench}_results.jsonl") or entry.get("benchmark") == bench:
                return entry
    return None


def _pass_at_1(r: _Reader, d: Path, bench: str, reports: list[tuple[Path, dict]]) -> dict | None:
    summary_path = d / f"{bench}.jsonl_summary.json"
    summary = r.json(summary_path)
    if isinstance(summary, dict) and "pass@1" in summary:
        cover = summary.get("coverage") or {}
        return {"pass@1": summary["pass@1"], "tasks": summary.get("n_tasks"), "of": cover.get("of"),
                "label": cover.get("label") or summary.get("pass@k_over"), "scope": cover.get("scope"),
                "samples": summary.get("n_samples"), "passed": summary.get("n_passed"),
                "tasks_solved": summary.get("tasks_solved"), "source": r.rel(summary_path)}
    entry = _report_entry(reports, bench)
    if entry and "pass@1" in (entry.get("pass_at_k") or {}):
        cover = entry.get("coverage") or {}
        return {"pass@1": entry["pass_at_k"]["pass@1"], "tasks": entry.get("tasks"), "of": cover.get("of"),
                "label": cover.get("label"), "scope": cover.get("scope"), "samples": entry.get("samples"),
                "passed": None, "tasks_solved": entry.get("tasks_solved"), "source": "eval report"}
    return None


def _similar_split(r: _Reader, reports: list[tuple[Path, dict]], benchmark: str) -> list[dict]:
    """Table 3 rows of an arm: the split of `benchmark` (the one `data similar` split). `eval report` splits
    every benchmark it was given by the same ids; the other benchmarks' splits are empty by construction."""
    out = []
    for path, rep in reports:
        for entry in rep.get("benchmarks") or []:
            split = entry.get("contamination_split")
            if not split or entry.get("benchmark") != benchmark:
                continue
            ids_file = str(split.get("similar_ids_file") or "")
            m = _TAU_IN_NAME.search(Path(ids_file).name)
            out.append({"benchmark": entry.get("benchmark"), "tau": f"{float(m.group(1)):.2f}" if m else None,
                        "similar_ids_file": ids_file, "source": r.rel(path),
                        **{k: _pick(split.get(k), ("problems", "pass@1")) for k in ("similar", "non_similar", "total")}})
    return out


def _judge(r: _Reader, d: Path, reports: list[tuple[Path, dict]]) -> list[dict] | None:
    keys = ("judge_model", "prompt_version", "samples", "graded", "errors", "mean_grade", "score")
    entries = [_pick(j, keys) for _, rep in reports for j in rep.get("judged") or []]
    if not entries:
        entries = [_pick(r.json(p), keys) for p in sorted(d.glob("*judged.summary.json"))]
    return [e for e in entries if e] or None


def _nll(r: _Reader, d: Path) -> dict | None:
    out = {}
    for bench in BENCHMARKS:
        data = r.json(d / f"nll-{bench}.json")
        if isinstance(data, dict):
            out[bench] = {**_pick(data, ("benchmark", "tasks", "tokens", "mean_nll", "mean_task_nll", "skipped")),
                          "source": r.rel(d / f"nll-{bench}.json")}
    return out or None


def _syntax(r: _Reader, d: Path) -> dict | None:
    """eval/<arm>/syntax.json, the eval stage's count of samples whose prompt + completion parses (valid) and
    of those whose body is more than pass / ... / a docstring (nontrivial), per benchmark. A model that does
    not yet write Python passes nothing; this says how far from it each arm is."""
    path = d / "syntax.json"
    data = r.json(path)
    if not isinstance(data, dict):
        return None
    out = {str(b): {**_pick(v, ("samples", "valid", "fraction", "nontrivial", "nontrivial_fraction")),
                    "source": r.rel(path)}
           for b, v in data.items() if isinstance(v, dict)}
    return out or None


def _base_arm(spec: dict) -> str | None:
    return spec.get("from_arm") or spec.get("from")


def _run_tokens(spec: dict, specs: dict[str, dict]) -> Any:
    """The tokens of the arm's own training run: its pretraining budget, or for a finetuned arm its share of
    run.json's finetune_tokens, which counts the finetuning of every arm in its chain (the base's included)."""
    base = _base_arm(spec)
    if not base:
        return spec.get("pretrain_tokens")
    total, before = spec.get("finetune_tokens"), (specs.get(base) or {}).get("finetune_tokens") or 0
    return total - before if _is_num(total) and _is_num(before) else None


def _training_data(r: _Reader, name: str, spec: dict, run_tokens: Any) -> dict | None:
    """Per packed source the arm's own run trains on: its weight, unique (train split) tokens and the epochs
    the run's token budget implies. Equal token budgets hide that a small source is repeated many times
    (the paper's 8 passes over CodeExercises); this shows it. The training stage's result says it when the
    pipeline recorded it; otherwise the unique tokens are packed/<source>/meta.json's and the epochs
    tokens_trained * weight / sum(weights) / unique, the datasets' sampling share."""
    stage = f"{'finetune' if _base_arm(spec) else 'pretrain'}-{name}"
    marker_path = r.root / "stages" / f"{stage}.json"
    marker = r.json(marker_path)
    marker = marker if isinstance(marker, dict) else {}
    result = marker.get("result") if isinstance(marker.get("result"), dict) else {}
    entries = spec.get("data") or (marker.get("settings") or {}).get("data") or []
    weights: dict[str, Any] = {}
    for e in entries:
        if isinstance(e, dict) and e.get("source") is not None:
            weights[str(e["source"])] = e.get("weight", 1.0)
    unique_given = result.get("unique_tokens") if isinstance(result.get("unique_tokens"), dict) else {}
    epochs_given = result.get("epochs") if isinstance(result.get("epochs"), dict) else {}
    for src in [*unique_given, *epochs_given]:
        weights.setdefault(str(src), None)
    tokens = result.get("tokens") if _is_num(result.get("tokens")) else run_tokens
    total_weight = sum(w for w in weights.values() if _is_num(w))
    sources: dict[str, dict] = {}
    for src, weight in weights.items():
        unique, unique_from = unique_given.get(src), r.rel(marker_path)
        if not _is_num(unique):
            meta = r.json(r.root / "packed" / src / "meta.json")
            splits = meta.get("splits") if isinstance(meta, dict) else None
            unique = ((splits or {}).get("train") or {}).get("tokens") if isinstance(splits, dict) else None
            unique_from = r.rel(r.root / "packed" / src / "meta.json") if _is_num(unique) else None
        epochs, epochs_from = epochs_given.get(src), r.rel(marker_path)
        if not _is_num(epochs):
            computable = all(_is_num(x) for x in (tokens, weight, unique)) and unique > 0 and total_weight > 0
            epochs = tokens * weight / total_weight / unique if computable else None
            epochs_from = "tokens_trained * weight / sum(weights) / unique_tokens" if computable else None
        sources[src] = {"weight": weight, "unique_tokens": unique if _is_num(unique) else None,
                        "unique_tokens_from": unique_from, "epochs": epochs, "epochs_from": epochs_from}
    if not any(_is_num(v["unique_tokens"]) or _is_num(v["epochs"]) for v in sources.values()):
        return None
    return {"stage": stage, "tokens_trained": tokens, "sources": sources}


def _arm_names(r: _Reader, run: dict | None) -> list[str]:
    if run and run.get("arms"):
        return [str(a.get("name")) for a in run["arms"] if isinstance(a, dict) and a.get("name")]
    found = {p.name for sub in ("train", "eval") if (r.root / sub).is_dir() for p in (r.root / sub).iterdir() if p.is_dir()}
    known = [a for a in ARM_ORDER if a in found]
    return known + sorted(found - set(known))


def _arm(r: _Reader, name: str, spec: dict, specs: dict[str, dict], similar_benchmark: str) -> dict:
    d = r.root / "eval" / name
    reports = _eval_reports(r, d) if d.is_dir() else []
    evals = {b: _pass_at_1(r, d, b, reports) for b in BENCHMARKS} if d.is_dir() else {}
    run_tokens = _run_tokens(spec, specs)
    return {
        "name": name,
        # pretrain_tokens: what the arm's base saw (the arm's own run for a pretraining arm); finetune_tokens:
        # cumulative over its finetuning chain (run.json's); run_tokens: the arm's own training run's budget
        "pretrain_tokens": spec.get("pretrain_tokens"), "finetune_tokens": spec.get("finetune_tokens"),
        "run_tokens": run_tokens,
        "from_arm": _base_arm(spec), "data": spec.get("data"), "paper_configured": spec.get("paper"),
        "paper": {size: arms[name] for size, arms in PAPER_FIGURE_2_1["models"].items() if name in arms} or None,
        "train": _train(r, name),
        "training_data": _training_data(r, name, spec, run_tokens),
        "eval": evals if any(evals.values()) else None,
        "syntax": _syntax(r, d) if d.is_dir() else None,
        "nll": _nll(r, d) if d.is_dir() else None,
        "similar_split": _similar_split(r, reports, similar_benchmark) or None,
        "judge": _judge(r, d, reports) if d.is_dir() else None,
    }


def _task_key(task_id: str) -> tuple[str, int, str]:
    prefix, _, num = task_id.rpartition("/")
    return (prefix, int(num), "") if num.isdigit() else (task_id, -1, task_id)


def _samples(r: _Reader, arms: list[str], shown: int) -> dict | None:
    """`shown` HumanEval tasks, the same for every arm: among the tasks every arm that has samples answered,
    those the most arms passed first (so a pass is visible when there is one), then in task order."""
    by_arm: dict[str, dict[str, dict]] = {}
    for arm in arms:
        d = r.root / "eval" / arm
        samples = r.jsonl(d / "humaneval.jsonl")
        if not samples:
            continue
        results = {(str(x.get("task_id")), x.get("completion_id")): x
                   for x in r.jsonl(d / "humaneval.jsonl_results.jsonl") or []}
        first: dict[str, dict] = {}
        for s in samples:
            tid = str(s.get("task_id"))
            if tid in first:
                continue
            res = results.get((tid, s.get("completion_id"))) or {}
            first[tid] = {"completion": s.get("completion"), "finish_reason": s.get("finish_reason"),
                          "passed": res.get("passed"), "result": res.get("result")}
        by_arm[arm] = first
    if not by_arm:
        return None
    common = set.intersection(*(set(v) for v in by_arm.values()))
    ranked = sorted(common, key=lambda t: (-sum(bool(by_arm[a][t]["passed"]) for a in by_arm), _task_key(t)))
    task_ids = sorted(ranked[:shown], key=_task_key)
    prompts: dict[str, str | None] = {t: None for t in task_ids}
    try:  # the prompt is context for a reader, not a number: a missing benchmark copy only hides it
        from textbooks.eval.tasks import load_humaneval

        prompts.update({t.task_id: t.prompt for t in load_humaneval() if t.task_id in prompts})
    except Exception:  # noqa: BLE001 - any failure to find the benchmark data leaves the prompts out
        pass
    return {"benchmark": "humaneval", "task_ids": task_ids, "prompts": prompts,
            "by_arm": {arm: [{"task_id": t, **v[t]} for t in task_ids] for arm, v in by_arm.items()}}


def arm_ordering(values: dict[str, Any], better: str = "higher", order: Sequence[str] = ARM_ORDER) -> dict:
    """Whether the paper's ordering holds on one measure: each arm of `order` strictly better than the one
    before (a tie is not an improvement). held is None when an arm of `order` has no value. `steps` says
    which consecutive pairs held, so a partial ordering can be reported as such. `tie`: every arm has the
    same value (held is False then): a measure that does not separate the arms at all (0% pass@1 everywhere
    on a small run) is no evidence against the ordering, so the page says so instead of "did not hold"."""
    if better not in ("higher", "lower"):
        raise ValueError(f"better must be 'higher' or 'lower', got {better!r}")
    vals = {a: values.get(a) for a in order}
    numeric = {a: v if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None
               for a, v in vals.items()}
    steps = []
    for lo, hi in zip(order, order[1:]):
        a, b = numeric[lo], numeric[hi]
        ok = None if a is None or b is None else (b > a if better == "higher" else b < a)
        steps.append({"from": lo, "to": hi, "held": ok})
    complete = not any(v is None for v in numeric.values())
    held = all(s["held"] for s in steps) if complete else None
    tie = complete and len(order) > 1 and len(set(numeric.values())) == 1
    return {"better": better, "values": vals, "held": held, "tie": tie, "steps": steps}


def _ordering(arms: list[dict], judge_configured: bool) -> dict:
    """The ordering block, one entry per measure of MEASURES; the judge's only when a judge is configured or
    judged (a run without one has nothing to say about it, and "not measured" would read as a gap)."""
    by_name = {a["name"]: a for a in arms}
    out = {}
    for key, label, better, unit, get in MEASURES:
        if key == "judge_score" and not judge_configured:
            continue
        values = {name: (get(by_name[name]) if name in by_name else None) for name in ARM_ORDER}
        out[key] = {"label": label, "unit": unit, **arm_ordering(values, better)}
    return out


def _judge_configured(run: dict | None, arms: list[dict]) -> bool:
    """A judge endpoint in the run's config (eval.judge), or judged samples of any arm."""
    config = (run or {}).get("config")
    ev = config.get("eval") if isinstance(config, dict) else None
    return bool(isinstance(ev, dict) and ev.get("judge")) or any(a["judge"] for a in arms)


def collect(run_dir: str | Path) -> dict:
    """report.json's content: every number read from the stages' files under `run_dir` (layout in the module
    docstring); a section whose files are missing is None and listed in "not_run"."""
    root = Path(run_dir)
    r = _Reader(root)
    run = _run_info(r)
    specs = {str(a.get("name")): a for a in (run or {}).get("arms", []) if isinstance(a, dict)}
    names = _arm_names(r, run)
    similar = _similar(r)
    arms = [_arm(r, name, specs.get(name, {}), specs, (similar or {}).get("benchmark") or "humaneval")
            for name in names]
    shown = ((run or {}).get("config", {}).get("eval") or {}).get("samples_shown", 3)
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "run_dir": str(root),
        "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "run": {k: v for k, v in run.items() if k != "arms"} if run else None,
        "arms": arms,
        "funnel": _funnel(r),
        "edu_value": _edu_value(r),
        "dedup": _dedup(r),
        "decontamination": _decontamination(r),
        "similar": similar,
        "synthesis": _synthesis(r),
        "samples": _samples(r, names, int(shown or 0)) if shown else None,
        "paper": {"figure_2_1": PAPER_FIGURE_2_1, "table_3": PAPER_TABLE_3},
        "judge_configured": _judge_configured(run, arms),
        "ordering": _ordering(arms, _judge_configured(run, arms)),
    }
    not_run = [k for k in ("run", "funnel", "edu_value", "dedup", "decontamination", "similar", "synthesis", "samples")
               if report[k] is None]
    for a in arms:
        not_run += [f"{a['name']}: {part}" for part in ("train", "eval", "syntax", "nll") if a[part] is None]
    if not arms:
        not_run.append("arms")
    report["not_run"] = not_run
    report["problems"] = r.problems
    return report


# ---------------------------------------------------------------------------------------------------------
# Formatting
# ---------------------------------------------------------------------------------------------------------


def _e(value: Any) -> str:
    """Every string from a file enters the page through here."""
    return html.escape("" if value is None else str(value), quote=True)


def _is_num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _pct(x: Any, digits: int = 1) -> str:
    return f"{100 * x:.{digits}f}%" if _is_num(x) else "n/a"


def _f(x: Any, digits: int = 4) -> str:
    return f"{x:.{digits}f}" if _is_num(x) else "n/a"


def _int(x: Any) -> str:
    return f"{int(x):,}" if _is_num(x) else "n/a"


def _pass_cell(p: dict | None) -> str:
    if not p:
        return "not run"
    tasks = p.get("label") or (f"{p['tasks']} tasks" if p.get("tasks") is not None else "")
    return f"{_pct(p.get('pass@1'))} ({tasks})" if tasks else _pct(p.get("pass@1"))


def _tokens(x: Any) -> str:
    if not _is_num(x):
        return "n/a"
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"{x / div:.3g}{unit}"
    return str(int(x))


def _valid_cell(v: dict | None) -> str:
    if not v:
        return "not run"
    counts = f" ({_int(v.get('valid'))} of {_int(v.get('samples'))})" if _is_num(v.get("samples")) else ""
    return _pct(v.get("fraction")) + counts


def _arm_row(a: dict) -> dict[str, str]:
    ev, nll, tr, syn = a["eval"] or {}, a["nll"] or {}, a["train"] or {}, a.get("syntax") or {}
    return {
        "arm": a["name"],
        "pretrain tokens": _tokens(a.get("pretrain_tokens")),
        "finetune tokens": _tokens(a.get("finetune_tokens")),
        "HumanEval": _pass_cell(ev.get("humaneval")),
        "MBPP": _pass_cell(ev.get("mbpp")),
        "held-out": _pass_cell(ev.get("exercises")),
        "HE valid": _valid_cell(syn.get("humaneval")) if a.get("syntax") else "not run",
        "held-out valid": _valid_cell(syn.get("exercises")) if a.get("syntax") else "not run",
        "NLL HE": _f((nll.get("humaneval") or {}).get("mean_nll")),
        "NLL MBPP": _f((nll.get("mbpp") or {}).get("mean_nll")),
        "NLL held-out": _f((nll.get("exercises") or {}).get("mean_nll")),
        "train loss": _f(tr.get("final_train_loss")) if a["train"] else "not run",
        "val loss": _f(tr.get("final_val_loss")) if a["train"] else "not run",
    }


def _verdict(o: dict) -> tuple[str, str]:
    """(the words, the CSS class) of one measure's ordering verdict."""
    if o.get("tie"):
        return "tie (all equal)", "tie"
    return {True: ("held", "held"), False: ("did not hold", "broken"),
            None: ("not measured on every arm", "unknown")}[o["held"]]


def _ordering_line(o: dict) -> str:
    values = ", ".join(f"{a} {_value_text(o, v)}" for a, v in o["values"].items())
    return f"{o['label']} ({o['better']} is better): {_verdict(o)[0]} [{values}]"


def _value_text(o: dict, v: Any) -> str:
    return _pct(v) if o.get("unit") == "fraction" else _f(v)


def summary_table(report: dict) -> str:
    """A plain-text table of the arms (what `textbooks run` prints at the end), then one line per measure
    saying whether the Figure 2.1 ordering held."""
    rows = [_arm_row(a) for a in report.get("arms") or []]
    if not rows:
        return "no arms in this run (no run.json arms, train/ or eval/ directories)"
    cols = list(rows[0])
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in cols}
    lines = ["  ".join(c.ljust(widths[c]) for c in cols), "  ".join("-" * widths[c] for c in cols)]
    lines += ["  ".join(r[c].ljust(widths[c]) for c in cols) for r in rows]
    lines.append("")
    lines.append("Figure 2.1 ordering (" + " < ".join(ARM_ORDER) + "):")
    lines += [f"  {_ordering_line(o)}" for o in (report.get("ordering") or {}).values()]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------
# Plots (matplotlib's Agg canvas through matplotlib.figure.Figure: no display, no pyplot state)
# ---------------------------------------------------------------------------------------------------------

ARM_COLOURS = {"raw": "#e08a3c", "filtered": "#b8a23a", "codetextbook": "#8cc084", "codetextbook+exercises": "#2e7d32"}
OTHER_COLOURS = ("#4878a8", "#a86448", "#7a5ea8", "#48a8a0", "#a84878")


def _colour(name: str, i: int) -> str:
    return ARM_COLOURS.get(name) or OTHER_COLOURS[i % len(OTHER_COLOURS)]


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    return fig, fig.subplots()


def loss_plot(arms: list[dict]) -> str | None:
    """Training loss of every arm on one axes, against tokens seen in that arm's own run (val loss dashed)."""
    trained = [a for a in arms if a["train"] and a["train"]["points"]]
    if not trained:
        return None
    fig, ax = _figure(8.5, 4.2)
    for i, a in enumerate(trained):
        pts, colour = a["train"]["points"], _colour(a["name"], i)
        use_tokens = all(_is_num(p.get("tokens_seen")) for p in pts)
        xs = [p["tokens_seen"] if use_tokens else p["step"] for p in pts]
        label = a["name"] + (f" (finetuning from {a['from_arm']})" if a.get("from_arm") else "")
        # a short run has few log lines: markers keep a one-point curve visible
        ax.plot(xs, [p["loss"] for p in pts], color=colour, label=label, linewidth=1.6,
                marker="o" if len(pts) < 30 else None, markersize=3)
        val = [v for v in a["train"]["val_points"] if _is_num(v.get("tokens_seen") if use_tokens else v["step"])]
        if val:
            ax.plot([v["tokens_seen"] if use_tokens else v["step"] for v in val], [v["val_loss"] for v in val],
                    color=colour, linestyle="--", marker="o", markersize=3, linewidth=1, label=f"{a['name']} val")
    ax.set(xlabel="tokens seen in the arm's run (steps where tokens are not logged)", ylabel="loss (nats/token)",
           title="training loss per arm")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def figure_2_1_plot(arms: list[dict]) -> str | None:
    """Figure 2.1 style: per arm, this run's pass@1 bars beside the paper's HumanEval numbers (350M, 1.3B)."""
    if not arms:
        return None
    series = [("HumanEval (this run)", "#3b7dd8", lambda a: ((a["eval"] or {}).get("humaneval") or {}).get("pass@1"), 100),
              ("MBPP (this run)", "#7fb0ee", lambda a: ((a["eval"] or {}).get("mbpp") or {}).get("pass@1"), 100),
              ("held-out exercises (this run)", "#b8d4f5",
               lambda a: ((a["eval"] or {}).get("exercises") or {}).get("pass@1"), 100),
              ("paper 350M HumanEval", "#8cc084", lambda a: ((a["paper"] or {}).get("350M") or {}).get("humaneval"), 1),
              ("paper 1.3B HumanEval", "#2e7d32", lambda a: ((a["paper"] or {}).get("1.3B") or {}).get("humaneval"), 1)]
    fig, ax = _figure(9.0, 4.2)
    width = 0.8 / len(series)
    for j, (label, colour, get, scale) in enumerate(series):
        labelled = False  # one legend entry per series, on its first bar
        for i, a in enumerate(arms):
            x = i - 0.4 + width * (j + 0.5)
            v = get(a)
            if _is_num(v):
                ax.bar(x, v * scale, width, color=colour, label=None if labelled else label)
                labelled = True
                ax.text(x, v * scale, f"{v * scale:.1f}", ha="center", va="bottom", fontsize=7)
            else:
                ax.text(x, 0.5, "n/a", ha="center", va="bottom", fontsize=6, rotation=90, color="#888888")
    ax.set_xticks(range(len(arms)), [a["name"] for a in arms], fontsize=8)
    ax.set(ylabel="pass@1 (%)", title="pass@1 per arm (Figure 2.1 style) beside the paper's HumanEval numbers")
    ax.set_ylim(0, max(60.0, ax.get_ylim()[1]))
    ax.grid(axis="y", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, ncols=2)
    return _png(fig)


def funnel_plot(rows: list[dict], token_unit: Any) -> str | None:
    """Documents and tokens left after each step (as the curation's funnel.png), for a funnel that goes on
    past curation (decontamination)."""
    if not rows:
        return None
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10.0, 0.45 * len(rows) + 1.6), dpi=100, layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    labels = [str(r.get("step")) for r in rows][::-1]
    for ax, key, title in ((axes[0], "documents", "documents kept"), (axes[1], "tokens", f"tokens kept ({token_unit})")):
        values = [r.get(key) if _is_num(r.get(key)) else 0 for r in rows][::-1]
        ax.barh(labels, values, color="#4878a8")
        first = (rows[0].get(key) if _is_num(rows[0].get(key)) else 0) or 1
        for y, v in enumerate(values):
            ax.text(v, y, f" {v:,} ({100 * v / first:.0f}%)", va="center", fontsize=8)
        ax.set_title(title, fontsize=9)
        ax.set_xlim(0, max(values) * 1.35 or 1)
    axes[0].tick_params(axis="y", labelsize=8)
    fig.suptitle("what each curation and decontamination step keeps")
    return _png(fig)


def probability_plot(bins: dict[str, int], keep: Any) -> str:
    fig, ax = _figure(5.0, 3.0)
    lows = [float(b.split("-")[0]) for b in bins]
    ax.bar(lows, list(bins.values()), width=0.1, align="edge", color="#3b7dd8")
    if _is_num(keep):
        ax.axvline(keep, color="#d62728", linestyle="--", label=f"keep >= {keep:g}")
        ax.legend(fontsize=8)
    ax.set(xlabel="P(high educational value)", ylabel="documents", title="classifier over the deduplicated corpus",
           xlim=(0, 1))
    return _png(fig)


def roc_plot(roc: dict) -> str:
    fig, ax = _figure(4.0, 3.8)
    ax.plot(roc["fpr"], roc["tpr"], color="#3b7dd8", label=f"classifier (AUC {_f(roc.get('auc'), 3)})")
    ax.plot([0, 1], [0, 1], color="#999999", linestyle=":", label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="held-out ROC", xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(fontsize=8, loc="lower right")
    return _png(fig)


# ---------------------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1d2733;
       background: #f6f7f9; line-height: 1.45; }
header { background: #1f3b57; color: #fff; padding: 18px 28px; }
header h1 { margin: 0 0 4px 0; font-size: 22px; }
header .meta { font-size: 13px; opacity: .85; }
nav { background: #e8edf3; padding: 8px 28px; font-size: 13px; }
nav a { margin-right: 14px; color: #1f3b57; }
main { padding: 8px 28px 40px; max-width: 1280px; }
section { background: #fff; border: 1px solid #dde3ea; border-radius: 6px; margin: 16px 0; padding: 12px 18px; }
h2 { font-size: 18px; margin: 4px 0 10px; color: #1f3b57; }
h3 { font-size: 15px; margin: 14px 0 6px; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0 10px; }
th, td { border: 1px solid #d5dbe2; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #eef2f6; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.notrun { color: #8a6d00; background: #fff8dc; padding: 4px 8px; border-radius: 4px; display: inline-block; }
.held { color: #1b5e20; font-weight: 600; }
.broken { color: #b71c1c; font-weight: 600; }
.unknown { color: #777; }
.tie { color: #455a64; font-weight: 600; }
.pass { color: #1b5e20; font-weight: 600; }
.fail { color: #b71c1c; }
pre { background: #f3f5f7; border: 1px solid #e1e5ea; padding: 6px 8px; font-size: 12px; overflow-x: auto;
      white-space: pre-wrap; max-height: 360px; overflow-y: auto; }
img { max-width: 100%; border: 1px solid #e1e5ea; margin: 6px 0; background: #fff; }
.grid { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
.note { font-size: 13px; color: #555; }
.problems { color: #b71c1c; }
"""

# No script may run and nothing may load: images only from data: URIs, styles only inline.
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


def _not_run(what: str) -> str:
    return f'<p class="notrun">not run ({_e(what)})</p>'


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]], numeric: Sequence[int] = ()) -> str:
    """A table whose cells are escaped text; `numeric` columns are right-aligned."""
    out = ["<table><tr>" + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr>"]
    for row in rows:
        cells = "".join(f'<td class="num">{_e(c)}</td>' if i in numeric else f"<td>{_e(c)}</td>"
                        for i, c in enumerate(row))
        out.append(f"<tr>{cells}</tr>")
    out.append("</table>")
    return "\n".join(out)


def _img(b64: str | None, alt: str) -> str:
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{b64}">' if b64 else ""


def _stage_png(run_dir: Path, rel: str | None, alt: str) -> str:
    """A PNG a stage already wrote, inlined (the page must not refer to files beside it)."""
    if not rel:
        return ""
    path = run_dir / rel
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    if len(data) > MAX_INLINE_PNG_BYTES or not data.startswith(b"\x89PNG"):
        return f'<p class="note">{_e(alt)}: {_e(rel)} (not inlined)</p>'
    return _img(base64.b64encode(data).decode("ascii"), alt)


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{_e(title)}</h2>\n{body}\n</section>'


def _summary_section(report: dict) -> str:
    arms = report["arms"]
    if not arms:
        return _not_run("no arms: no run.json, train/ or eval/")
    rows = [_arm_row(a) for a in arms]
    cols = list(rows[0])
    numeric_cols = ("pretrain tokens", "finetune tokens", "NLL HE", "NLL MBPP", "NLL held-out", "train loss", "val loss")
    parts = ["<h3>Table 1 style: the arms at their token budgets</h3>",
             _table(cols + ["paper HE 350M / 1.3B"],
                    ([r[c] for c in cols] + [_paper_cell(a)] for r, a in zip(rows, arms)),
                    numeric=tuple(i for i, c in enumerate(cols) if c in numeric_cols)),
             '<p class="note">pass@1 is greedy (the paper\'s metric); the task count says when a run covers part of a '
             'benchmark. Valid: the share of samples whose prompt + completion parses as Python. NLL: mean negative '
             'log-likelihood per token of the canonical solutions given their prompts (lower is better). Pretrain '
             'tokens: what the arm (for a finetuned arm, its base) was pretrained on; finetune tokens: all '
             'finetuning in the arm\'s chain. Loss values are the last lines of each arm\'s metrics.jsonl; val '
             'losses are each arm\'s own validation data, so they do not compare across arms.</p>']
    parts.append("<h3>Figure 2.1 ordering: " + " &lt; ".join(_e(a) for a in ARM_ORDER) + "</h3><ul>")
    for o in report["ordering"].values():
        verdict, cls = _verdict(o)
        values = ", ".join(f"{_e(a)} {_e(_value_text(o, v))}" for a, v in o["values"].items())
        broke = [f"{s['from']} → {s['to']}" for s in o["steps"] if s["held"] is False]
        extra = f" (not better at: {_e('; '.join(broke))})" if broke and o["held"] is False and not o.get("tie") else ""
        parts.append(f'<li>{_e(o["label"])} ({_e(o["better"])} is better): <span class="{cls}">{verdict}</span>'
                     f"{extra}; {values}</li>")
    parts.append("</ul>")
    parts.append(_img(figure_2_1_plot(arms), "pass@1 per arm beside the paper"))
    fig = PAPER_FIGURE_2_1
    parts.append(f"<details><summary>the paper's numbers ({_e(fig['source'])})</summary>")
    parts.append(_table(["model", "arm", "HumanEval pass@1 (%)", "where the paper says it"],
                        ([size, arm, "n/a" if v["humaneval"] is None else f"{v['humaneval']:g}", v["section"]]
                         for size, by_arm in fig["models"].items() for arm, v in by_arm.items()), numeric=(2,)))
    parts.append("</details>")
    return "\n".join(parts)


def _paper_cell(a: dict) -> str:
    p = a.get("paper") or {}
    vals = [(p.get(size) or {}).get("humaneval") for size in ("350M", "1.3B")]
    if not p:
        return "-"
    return " / ".join(f"{v:g}%" if _is_num(v) else "n/a" for v in vals)


def _per_source(td: dict | None, key: str, fmt: Callable[[Any], str]) -> str:
    if not td:
        return "n/a"
    return "; ".join(f"{src} {fmt(v.get(key))}" for src, v in td["sources"].items()) or "n/a"


def _training_section(report: dict) -> str:
    arms = report["arms"]
    if not any(a["train"] for a in arms):
        return _not_run("no train/<arm>/metrics.jsonl")
    rows = []
    for a in arms:
        t, td = a["train"], a.get("training_data")
        budgets = [_int(a.get("run_tokens")), _int(a.get("pretrain_tokens")),
                   _int(a.get("finetune_tokens")) if a.get("from_arm") else "-"]
        data = [_per_source(td, "unique_tokens", _int), _per_source(td, "epochs", lambda x: _f(x, 2))]
        if t is None:
            rows.append([a["name"], "not run", "", "", *budgets, *data, "", ""])
            continue
        rows.append([a["name"], t["run_dir"], _int(t["final_train_step"]), _int(t["tokens_seen"]), *budgets, *data,
                     _f(t["final_train_loss"]), _f(t["final_val_loss"])])
    return "\n".join([_img(loss_plot(arms), "training loss per arm"),
                      _table(["arm", "run dir", "last step", "tokens seen", "this run's token budget",
                              "pretraining tokens (a finetuned arm's: its base's)", "finetuning tokens (cumulative)",
                              "unique train tokens per source", "epochs per source", "final train loss",
                              "final val loss"], rows, numeric=(2, 3, 4, 5, 6, 9, 10)),
                      '<p class="note">This run\'s token budget: what the arm\'s own training run (pretraining, or '
                      "for a finetuned arm its finetuning) was planned to see. Unique tokens: the train split of each "
                      "packed source; epochs: how many times the run's budget passes over a source at its sampling "
                      "weight (budget x weight / sum of weights / unique tokens).</p>"])


def _evaluation_section(report: dict) -> str:
    arms = report["arms"]
    parts = []
    rows = []
    for a in arms:
        ev, nll = a["eval"] or {}, a["nll"] or {}
        row = [a["name"]]
        for b in BENCHMARKS:
            p = ev.get(b)
            row += [_pass_cell(p), "" if not p else f"{_int(p.get('passed'))} of {_int(p.get('samples'))}"]
        for b in BENCHMARKS:
            n = nll.get(b)
            row += [_f((n or {}).get("mean_nll")) if n else "not run",
                    "" if not n else f"{_int(n.get('tasks'))} tasks, {_int(n.get('tokens'))} tokens"]
        rows.append(row)
    parts.append(_table(["arm", "HumanEval pass@1", "passed", "MBPP pass@1", "passed", "held-out pass@1", "passed",
                         "NLL HumanEval", "over", "NLL MBPP", "over", "NLL held-out", "over"], rows))
    parts.append("<h3>Valid Python: samples whose prompt + completion parses</h3>")
    if any(a.get("syntax") for a in arms):
        found = {b for a in arms for b in (a.get("syntax") or {})}
        benches = [b for b in BENCHMARKS if b in found] + sorted(found - set(BENCHMARKS))
        syn_rows = []
        for a in arms:
            syn = a.get("syntax") or {}
            row = [a["name"]]
            for b in benches:
                v = syn.get(b)
                row += [_valid_cell(v) if a.get("syntax") else "not run",
                        _int(v.get("nontrivial")) if v else ""]
            syn_rows.append(row)
        parts.append(_table(["arm", *(h for b in benches for h in (f"{b} valid", f"{b} nontrivial"))], syn_rows))
        parts.append('<p class="note">Nontrivial: parses and the body is more than pass, ... or a docstring. '
                     "From eval/&lt;arm&gt;/syntax.json.</p>")
    else:
        parts.append(_not_run("no eval/<arm>/syntax.json"))
    parts.append("<h3>Table 3 style: pass@1 on tasks similar / not similar to the training data</h3>")
    split_rows = []
    for a in arms:
        for s in a["similar_split"] or []:
            split_rows.append([a["name"], s.get("benchmark"), s.get("tau") or s.get("similar_ids_file")]
                              + [f"{_pct((s.get(k) or {}).get('pass@1'))} ({_int((s.get(k) or {}).get('problems'))})"
                                 for k in ("similar", "non_similar", "total")])
    if split_rows:
        parts.append(_table(["arm", "benchmark", "tau", "similar pass@1 (problems)", "non-similar", "total"], split_rows))
        paper = PAPER_TABLE_3
        parts.append(f'<p class="note">{_e(paper["source"])}: '
                     + "; ".join(f"tau {t}: similar {v['similar'][1]}% ({v['similar'][0]}), non-similar "
                                 f"{v['non_similar'][1]}% ({v['non_similar'][0]})" for t, v in paper["taus"].items())
                     + "</p>")
    else:
        parts.append(_not_run("no eval report with --similar-ids"))
    sim = report["similar"]
    if sim:
        parts.append(f"<p>Split of {_e(sim.get('benchmark'))} ({_int(sim.get('tasks'))} tasks) by "
                     "<code>data similar</code>:</p>")
        parts.append(_table(["tau", "similar", "non-similar"],
                            ([t, _int(v.get("similar")), _int(v.get("non_similar"))] for t, v in sim["taus"].items()),
                            numeric=(1, 2)))
    judged = [(a["name"], j) for a in arms for j in a["judge"] or []]
    parts.append("<h3>Judge score (paper §4)</h3>")
    if judged:
        parts.append(_table(["arm", "judge", "samples", "graded", "mean grade", "score"],
                            ([n, j.get("judge_model"), _int(j.get("samples")), _int(j.get("graded")),
                              _f(j.get("mean_grade"), 2), _pct(j.get("score"))] for n, j in judged)))
    else:
        parts.append(_not_run("no judge endpoint configured"))
    return "\n".join(parts)


_FAILED_PREFIX = re.compile(r"^\s*failed\s*:\s*", re.IGNORECASE)


def _samples_section(report: dict) -> str:
    s = report["samples"]
    if not s or not s["task_ids"]:
        return _not_run("no eval/<arm>/humaneval.jsonl")
    parts = [f'<p class="note">The same {len(s["task_ids"])} HumanEval tasks for every arm (those the most arms '
             "passed first, then in task order); greedy completions as the model wrote them.</p>"]
    for tid in s["task_ids"]:
        parts.append(f"<h3>{_e(tid)}</h3>")
        prompt = s["prompts"].get(tid)
        if prompt:
            parts.append(f"<details><summary>prompt</summary><pre>{_e(prompt)}</pre></details>")
        for arm, items in s["by_arm"].items():
            item = next(i for i in items if i["task_id"] == tid)
            # Verdicts read "failed: AssertionError: ..." already; the page says "failed" itself
            result = _FAILED_PREFIX.sub("", str(item.get("result") or ""), count=1)
            result = result if len(result) <= MAX_RESULT_CHARS else result[:MAX_RESULT_CHARS] + " ..."
            verdict = ('<span class="pass">passed</span>' if item.get("passed") else
                       '<span class="fail">failed</span>' + (f": {_e(result)}" if result else "")
                       if item.get("passed") is False else "not executed")
            completion = item.get("completion")
            if completion is None or completion == "":
                shown = '<p class="note">(empty completion)</p>'
            elif not str(completion).strip():
                shown = f'<p class="note">(whitespace only: {len(str(completion))} characters)</p>'
            else:
                shown = f"<pre>{_e(completion)}</pre>"
            parts.append(f"<p><b>{_e(arm)}</b>: {verdict}</p>{shown}")
    return "\n".join(parts)


def _funnel_section(report: dict, run_dir: Path) -> str:
    f = report["funnel"]
    if not f:
        return _not_run("no curate/stats.json")
    first_docs = (f["rows"][0].get("documents") or 0) if f["rows"] else 0
    first_tokens = (f["rows"][0].get("tokens") or 0) if f["rows"] else 0
    rows = [[r.get("step"), _int(r.get("documents")),
             _pct(r["documents"] / first_docs) if first_docs and _is_num(r.get("documents")) else "n/a",
             _int(r.get("tokens")), _pct(r["tokens"] / first_tokens) if first_tokens and _is_num(r.get("tokens")) else "n/a",
             ", ".join(f"{k} {v}" for k, v in (r.get("dropped") or {}).items())
             + (f" (of {_int(r['in'])} in)" if "in" in r else "")] for r in f["rows"]]
    took = f"; curation took {_f(f.get('seconds'), 1)} s" if _is_num(f.get("seconds")) else ""
    # The stage's own funnel.png ends with curation; with the decontamination row the page draws its own.
    plot = (_img(funnel_plot(f["rows"], f.get("token_unit")), "curation and decontamination funnel")
            if f.get("decontamination_appended") else _stage_png(run_dir, f.get("png"), "curation funnel"))
    return "\n".join([f'<p class="note">Tokens: {_e(f.get("token_unit"))}{took}.</p>',
                      _table(["step", "documents", "of first", "tokens", "of first", "dropped"], rows, numeric=(1, 2, 3, 4)),
                      plot])


def _edu_section(report: dict, run_dir: Path) -> str:
    q = report["edu_value"]
    if not q:
        return _not_run("no curate/quality/")
    parts = []
    if q.get("skipped"):
        parts.append(_not_run(f"educational-value stage skipped: {q['skipped']}"))
    hist = q.get("score_histogram")
    if hist:
        ann = q.get("annotation") or {}
        parts.append(f"<h3>Annotated scores ({_e(ann.get('annotator'))}, {_int(ann.get('scored'))} scored; label high "
                     f"at score &gt;= {_e(hist.get('threshold'))})</h3>")
        parts.append(_table(["score", *hist["counts"].keys()], [["documents", *map(_int, hist["counts"].values())]]))
    c = q.get("classifier")
    if c:
        parts.append(f"<h3>Classifier ({_e(c.get('kind'))} on {_e(c.get('featurizer'))} features; "
                     f"{_int(c.get('n_train'))} train / {_int(c.get('n_test'))} held-out)</h3>")
        metrics = ("roc_auc", "precision", "recall", "f1", "accuracy")
        rows = [["classifier", *(_f(c["held_out"].get(m), 3) for m in metrics), c["held_out"].get("confusion_matrix")],
                ["majority baseline", *(_f(c["majority_baseline"].get(m), 3) for m in metrics),
                 c["majority_baseline"].get("confusion_matrix")]]
        if c.get("logreg_baseline"):
            rows.append(["logistic regression", *(_f(c["logreg_baseline"].get(m), 3) for m in metrics),
                         c["logreg_baseline"].get("confusion_matrix")])
        parts.append(_table(["held-out", "ROC AUC", "precision", "recall", "F1", "accuracy",
                             "confusion [[tn, fp], [fn, tp]]"], rows, numeric=(1, 2, 3, 4, 5)))
        if c.get("warning"):
            parts.append(f'<p class="problems">{_e(c["warning"])}</p>')
    imgs = [_stage_png(run_dir, q["png"].get(name), name.replace("_", " ")) for name in ("score_histogram", "confusion")]
    if q.get("roc") and not q["png"].get("roc"):
        imgs.append(_img(roc_plot(q["roc"]), "held-out ROC"))
    else:
        imgs.append(_stage_png(run_dir, q["png"].get("roc"), "held-out ROC"))
    if q.get("probability_histogram"):
        imgs.append(_img(probability_plot(q["probability_histogram"], (c or {}).get("keep_probability")),
                         "P(high educational value) over the corpus"))
    parts.append('<div class="grid">' + "".join(imgs) + "</div>")
    return "\n".join(parts)


def _dedup_section(report: dict, run_dir: Path) -> str:
    d = report["dedup"]
    if not d:
        return _not_run("no dedup section in curate/stats.json")
    removed = d.get("removed") or {}
    fp = d.get("false_positive_check") or {}
    rows = [["documents in", _int(d.get("documents"))], ["exact duplicates removed", _int(removed.get("exact_duplicate"))],
            ["near duplicates removed", _int(removed.get("near_duplicate"))],
            ["clusters", _int(d.get("clusters"))], ["documents in clusters", _int(d.get("documents_in_clusters"))],
            ["LSH candidate pairs", _int(d.get("candidate_pairs"))],
            ["Jaccard threshold (LSH implies)", f"{_e(d.get('threshold'))} ({_e(d.get('implied_threshold'))})"],
            ["candidate pairs rejected by the Jaccard check", f"{_int(fp.get('pairs_rejected'))} of {_int(fp.get('pairs_checked'))}"]]
    sizes = d.get("cluster_size_histogram") or {}
    return "\n".join([_table(["", "value"], rows, numeric=(1,)),
                      _table(["cluster size", *sizes.keys()], [["clusters", *sizes.values()]]) if sizes else "",
                      _stage_png(run_dir, d.get("png"), "near-duplicate cluster sizes")])


def _decont_section(report: dict) -> str:
    d = report["decontamination"]
    if not d:
        return _not_run("no decontaminate/stats.json or report.jsonl")
    parts = [f"<p>{_int(d.get('documents_flagged'))} of {_int(d.get('documents_scanned'))} training documents flagged; "
             f"{_int(d.get('tasks_matched'))} benchmark tasks matched.</p>",
             _table(["method", "documents flagged"], (d.get("flagged_by_method") or {}).items(), numeric=(1,))]
    if d.get("flagged_by_benchmark"):
        parts.append(_table(["benchmark", "documents flagged"], d["flagged_by_benchmark"].items(), numeric=(1,)))
    tasks = list((d.get("flagged_by_task") or {}).items())[:20]
    if tasks:
        parts.append(_table(["task (most matched)", "documents"], tasks, numeric=(1,)))
    if d.get("examples"):
        rows = [[ex.get("id"), "; ".join(f"{m.get('task_id')} by {m.get('method')} ({m.get('score')})"
                                         for m in ex.get("matches") or [])] for ex in d["examples"]]
        parts.append("<h3>First flagged documents</h3>" + _table(["document", "matches"], rows))
    if d.get("audit"):
        parts.append(f'<p class="note">Every flagged pair side by side: {_e(d["audit"])}</p>')
    return "\n".join(parts)


def _synth_section(report: dict, run_dir: Path) -> str:
    s = report["synthesis"]
    if not s:
        return _not_run("no synth/")
    rows, imgs = [], []
    for name, entry in s.items():
        st = entry.get("stats") or {}
        for kind, dv in (entry.get("diversity") or {None: None}).items():
            dv = dv or {}
            o3 = (dv.get("openings") or {}).get("first_3") or {}
            nn = dv.get("nearest_neighbour") or {}
            dn = dv.get("distinct_ngrams") or {}
            rows.append([name + (f" ({kind})" if kind and kind != name else ""), st.get("teacher"), _int(st.get("kept")),
                         ", ".join(f"{k} {v}" for k, v in (st.get("dropped") or {}).items()),
                         _f(dn.get("1"), 3), _f(dn.get("4"), 3),
                         _pct((dv.get("near_duplicates") or {}).get("rate")),
                         f"{_pct(o3.get('top_share'))} \"{o3.get('top_phrase') or ''}\"" if o3 else "n/a",
                         _f(nn.get("mean"), 3), _int(dv.get("families")), _int(dv.get("topic_leaves"))])
            if dv.get("png"):
                imgs.append(_stage_png(run_dir, dv["png"], f"diversity of {name}"))
    return "\n".join([_table(["set", "teacher", "kept", "dropped", "distinct-1", "distinct-4", "near-dup rate",
                              "top 3-word opening", "NN distance mean", "families", "topic leaves"], rows,
                             numeric=(2, 4, 5, 6, 8, 9, 10)),
                      '<p class="note">distinct-n: distinct n-grams / all n-grams; top opening: share of the most '
                      "frequent first three words (Cosmopedia's collapse signal); NN distance: each item's L2 distance "
                      "to its nearest other item (Magpie's repetition signal).</p>",
                      "<details><summary>diversity plots</summary>" + "".join(imgs) + "</details>" if imgs else ""])


def _run_section(report: dict) -> str:
    run = report["run"]
    if not run:
        return _not_run("no run.json")
    rows = [[s.get("name"), "done (this report)" if s.get("this_report") else s.get("status") or "not run",
             _f(s.get("seconds"), 1) if not s.get("this_report") or _is_num(s.get("seconds")) else "",
             s.get("fingerprint"), s.get("out")]
            for s in run["stages"]]
    parts = [_table(["stage", "status", "seconds", "fingerprint", "output"], rows, numeric=(2,)),
             f"<p>Sum of stage seconds: {_f(run.get('stage_seconds_total'), 1)}</p>",
             _table(["", ""], [["git commit", run.get("git_commit") or "unknown"], ["created", run.get("created")],
                               *([k, v] for k, v in (run.get("versions") or {}).items())]),
             f"<details><summary>resolved config</summary><pre>{_e(json.dumps(run.get('config'), indent=2))}</pre></details>"]
    return "\n".join(parts)


def render_html(report: dict, run_dir: str | Path) -> str:
    """report.html: one self-contained page (inline CSS and PNGs, no script, nothing to load) of `report`
    (`collect`'s output); `run_dir` is where the stages' own PNGs are read from to be inlined."""
    run_dir = Path(run_dir)
    run = report.get("run") or {}
    sections = [
        ("summary", "Arms: Table 1 and Figure 2.1", _summary_section(report)),
        ("training", "Training loss", _training_section(report)),
        ("evaluation", "Evaluation: pass@1, held-out exercises, NLL, Table 3, judge", _evaluation_section(report)),
        ("samples", "Sample completions", _samples_section(report)),
        ("funnel", "Data: curation funnel", _funnel_section(report, run_dir)),
        ("edu", "Educational value", _edu_section(report, run_dir)),
        ("dedup", "Deduplication", _dedup_section(report, run_dir)),
        ("decontamination", "Decontamination", _decont_section(report)),
        ("synthesis", "Synthesis diversity", _synth_section(report, run_dir)),
        ("run", "Run: stages, versions, config", _run_section(report)),
    ]
    nav = "".join(f'<a href="#{anchor}">{_e(title.split(":")[0])}</a>' for anchor, title, _ in sections)
    problems = ""
    if report.get("problems"):
        problems = ('<section id="problems"><h2>Problems reading the run</h2><ul class="problems">'
                    + "".join(f"<li>{_e(p)}</li>" for p in report["problems"]) + "</ul></section>")
    not_run = ""
    if report.get("not_run"):
        not_run = f'<p class="note">Not run: {_e(", ".join(report["not_run"]))}.</p>'
    title = f"textbooks run: {run.get('name') or run_dir.name}"
    body = "\n".join(_section(a, t, b) for a, t, b in sections)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<header><h1>{_e(title)}</h1>
<div class="meta">run directory {_e(report.get("run_dir"))} · created {_e(run.get("created") or "unknown")} · commit
{_e(run.get("git_commit") or "unknown")} · report generated {_e(report.get("generated"))}</div></header>
<nav>{nav}</nav>
<main>
{not_run}
{problems}
{body}
</main>
</body>
</html>
"""


def write_report(run_dir: str | Path) -> tuple[Path, Path]:
    """Write DIR/report.html and DIR/report.json, each replaced atomically (a reader sees the old or the new
    file, never half of one); returns (report.html, report.json)."""
    from textbooks.guard import atomic_write_text

    run_dir = Path(run_dir)
    report = collect(run_dir)
    page = render_html(report, run_dir)
    json_path, html_path = run_dir / "report.json", run_dir / "report.html"
    atomic_write_text(json_path, json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n")
    atomic_write_text(html_path, page)
    return html_path, json_path


__all__ = ["collect", "render_html", "write_report", "summary_table", "arm_ordering", "PAPER_FIGURE_2_1",
           "PAPER_TABLE_3", "ARM_ORDER"]
