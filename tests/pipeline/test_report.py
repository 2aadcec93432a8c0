"""The pipeline's report (textbooks/pipeline/report.py): its numbers are the stages' result files' numbers,
missing stages read "not run", the HTML is self-contained and escapes model output, and the Figure 2.1
ordering logic.

The fixture run directory is written with the stages' own writers wherever one exists (the curation's
funnel and training plots, `synth report`, `data similar`'s split, `eval execute`'s summary, `eval report`,
the judge's summary, the decontamination report), so the files have the formats the real stages write;
the rest (run.json, metrics.jsonl, stats.json, nll-*.json) is written in the formats those writers produce.
"""

from __future__ import annotations

import gzip
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from textbooks.pipeline import report as rp

ARMS = rp.ARM_ORDER
HOSTILE = "</script><img src=x onerror=alert(document.domain)><script>alert(1)</script>"
HE_TASKS = ["HumanEval/0", "HumanEval/1", "HumanEval/2", "HumanEval/3"]
MBPP_TASKS = ["Mbpp/11", "Mbpp/12", "Mbpp/13", "Mbpp/14"]
EX_TASKS = ["Exercise/ex-1-0000000", "Exercise/ex-1-0000001"]
# Tasks each arm passes: HumanEval improves arm by arm (the ordering holds), MBPP ties filtered with raw
# (it does not), the raw arm has no held-out exercises (not measured on every arm).
PASSES = {
    "humaneval": {"raw": set(), "filtered": {"HumanEval/0"}, "codetextbook": {"HumanEval/0", "HumanEval/1"},
                  "codetextbook+exercises": {"HumanEval/0", "HumanEval/1", "HumanEval/2"}},
    "mbpp": {"raw": {"Mbpp/11"}, "filtered": {"Mbpp/12"}, "codetextbook": {"Mbpp/11", "Mbpp/12"},
             "codetextbook+exercises": {"Mbpp/11", "Mbpp/12", "Mbpp/13"}},
    "exercises": {"filtered": set(), "codetextbook": {EX_TASKS[0]}, "codetextbook+exercises": set(EX_TASKS)},
}
NLL = {"raw": 2.91, "filtered": 2.53, "codetextbook": 2.2, "codetextbook+exercises": 1.87}
# eval/<arm>/syntax.json: (samples, valid, nontrivial) per benchmark; HumanEval's valid share rises arm by arm
SYNTAX = {"raw": {"humaneval": (4, 1, 0), "mbpp": (4, 2, 1)},
          "filtered": {"humaneval": (4, 2, 1), "mbpp": (4, 2, 2), "exercises": (2, 0, 0)},
          "codetextbook": {"humaneval": (4, 3, 2), "mbpp": (4, 3, 3), "exercises": (2, 1, 1)},
          "codetextbook+exercises": {"humaneval": (4, 4, 4), "mbpp": (4, 4, 3), "exercises": (2, 2, 2)}}
# The arms' training data (run.json arms[].data) and the packed sources' train-split tokens
ARM_DATA = {"raw": [("raw", 1.0)], "filtered": [("filtered", 1.0)],
            "codetextbook": [("filtered", 0.8), ("textbooks", 0.2)], "codetextbook+exercises": [("exercises", 1.0)]}
UNIQUE = {"raw": 60_000, "filtered": 40_000, "textbooks": 5_000, "exercises": 2_560}
PRETRAIN_TOKENS, FINETUNE_TOKENS = 51_200, 10_240
# Recorded by the stage (the pipeline's new result fields) for raw only; computed from packed/ for the others
RECORDED = {"raw": {"unique_tokens": {"raw": 59_999}, "epochs": {"raw": 0.8534}}}


def _json(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2) + "\n")


def _jsonl(path: Path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _curate(root: Path) -> None:
    from textbooks.data import plots
    from textbooks.data.quality.plots import write_training_plots

    cur = root / "curate"
    held_out = {"precision": 0.69, "recall": 0.76, "f1": 0.7262, "accuracy": 0.7059, "roc_auc": 0.7935,
                "confusion_matrix": [[4, 2], [1, 5]], "positives": 6, "n": 12}
    majority = {"precision": 0.5, "recall": 1.0, "f1": 0.6667, "accuracy": 0.5, "roc_auc": 0.5,
                "confusion_matrix": [[0, 6], [0, 6]], "positives": 6, "n": 12, "predicts": 1}
    annotation = {"annotator": "offline-rubric-v1", "documents": 60, "scored": 60, "no_score": 0, "failed": 0,
                  "score_retries": 0, "truncated": 11, "by_score": {"0": 5, "1": 7, "2": 18, "3": 20, "4": 8, "5": 2},
                  "usage": None}
    stats = {
        "verb": "curate", "token_unit": "regex tokens (\\w+|[^\\w\\s])", "complete": True, "seconds": 12.5,
        "steps": [
            {"stage": "filter", "step": "📖 - READER: read inputs", "in": 100, "kept": 96,
             "skipped": {"empty": 4}, "tokens_kept": 50_000, "seconds": 0.1},
            {"stage": "filter", "step": "🔻 - FILTER: size bounds", "in": 96, "kept": 90,
             "dropped": {"too_small": 6}, "tokens_kept": 49_000, "seconds": 0.1},
            {"stage": "filter", "step": "🔻 - FILTER: python code", "in": 90, "kept": 70,
             "dropped": {"no_code": 12, "syntax_error": 8}, "tokens_kept": 40_000, "seconds": 0.2},
            {"stage": "filter", "step": "💽 - WRITER: 🐿 Jsonl", "written": 70, "tokens_kept": 40_000},
            {"stage": "dedup_filter", "step": "🔻 - FILTER: dedup near duplicates", "in": 70, "kept": 60,
             "dropped": {"near_duplicate": 10}, "tokens_kept": 36_000, "seconds": 0.01},
            {"stage": "quality", "step": "🔻 - FILTER: educational value", "in": 60, "kept": 31,
             "dropped": {"low_educational_value": 29}, "tokens_kept": 20_000, "seconds": 0.3,
             "other": {"edu_score_0.0-0.1": {"total": 9, "n": 2, "mean": 4.5, "unit": "task"},
                       "edu_score_0.3-0.4": {"total": 20, "n": 2, "mean": 10.0, "unit": "task"},
                       "edu_score_0.8-0.9": {"total": 31, "n": 2, "mean": 15.5, "unit": "task"}}},
        ],
        "dedup": {"config": {"threshold": 0.7}, "lsh": {"implied_threshold": 0.719, "candidate_pairs": 17},
                  "documents": 70, "clusters": 3, "documents_in_clusters": 13,
                  "removed": {"exact_duplicate": 2, "near_duplicate": 8, "total": 10},
                  "cluster_size_histogram": {"2": 1, "3": 1, "8": 1},
                  "false_positive_check": {"threshold": 0.7, "pairs_checked": 12, "pairs_rejected": 3}},
        "quality": {"kind": "rf", "featurizer": "hashed", "threshold": 3, "n_train": 48, "n_test": 12,
                    "positive_fraction": 0.5, "held_out": held_out,
                    "baselines": {"majority": majority, "logreg": {**majority, "predicts": None, "roc_auc": 0.61}},
                    "annotation": annotation},
    }
    _json(cur / "stats.json", stats)
    (cur / "plots").mkdir()  # `data curate` makes it before it draws
    plots.write_funnel(stats, cur / "plots")
    plots.write_cluster_sizes(stats["dedup"]["cluster_size_histogram"], cur / "plots")
    _json(cur / "quality" / "annotations.summary.json", annotation)
    _json(cur / "quality" / "model.settings.json", {"classifier": "rf", "threshold": 3, "keep_probability": 0.5})
    labels = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
    probabilities = [0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.35, 0.55, 0.65, 0.8, 0.9, 0.95]
    write_training_plots({"score_counts": annotation["by_score"], "threshold": 3, "held_out": held_out, "kind": "rf",
                          "n_test": 12, "keep_probability": 0.5, "test_labels": labels,
                          "test_probabilities": probabilities}, cur / "quality" / "model" / "plots")


def _synth(root: Path) -> None:
    from textbooks.synth.report import diversity_report, write_report

    records = [{"id": f"ex-0-{i:07d}", "entry_point": f"f{i}", "metadata": {"family": f"fam{i % 2}",
                                                                               "topic": f"algorithms/sorting/t{i}"},
                "prompt": f'def f{i}(xs: list[int]) -> int:\n    """Return the {w} of the list.\n\n    >>> f{i}([1, 2])\n    3\n    """\n',
                "completion": f"    return {op}(xs)\n"}
               for i, (w, op) in enumerate([("sum", "sum"), ("largest item", "max"), ("smallest item", "min"),
                                            ("length", "len")])]
    ex = root / "synth" / "exercises"
    _jsonl(ex / "exercises.jsonl", records)
    _json(ex / "stats.json", {"command": "synth exercises", "teacher": "offline", "model": "offline-v1",
                              "requested": 4, "generated": 5, "kept": 4, "dropped": {"contaminated": 1},
                              "dropped_total": 1, "seconds": {"total": 1.5}})
    write_report({"source": str(ex / "exercises.jsonl"), **diversity_report(records, "exercises")}, ex / "report")
    # textbooks: generated, but never reported on (diversity missing, stats present)
    _json(root / "synth" / "textbooks" / "stats.json", {"command": "synth textbooks", "teacher": "offline",
                                                        "requested": 2, "kept": 2, "dropped": {}, "seconds": {"total": 0.4}})


def _decontaminate(root: Path) -> dict:
    from textbooks.data.decontam.audit import write_reports

    base = root / "decontaminate"
    removed = [
        {"id": "doc-a", "text": "def f(): pass", "metadata": {"contamination": [
            {"task_id": "HumanEval/0", "method": "ast", "score": 0.97, "snippet": "a", "reference": "b"},
            {"task_id": "HumanEval/0", "method": "embedding", "score": 0.12, "snippet": "a", "reference": "b"}]}},
        {"id": "doc-b", "text": "x", "metadata": {"contamination": [
            {"task_id": "Mbpp/12", "method": "ngram", "score": 2, "snippet": "c", "reference": "d"}]}},
        {"id": f"doc-{HOSTILE}", "text": "y", "metadata": {"contamination": [
            {"task_id": "HumanEval/0", "method": "ast", "score": 0.91, "snippet": "e", "reference": "f"},
            {"task_id": "HumanEval/3", "method": "ast", "score": 0.93, "snippet": "e", "reference": "f"}]}},
    ]
    (base / "removed").mkdir(parents=True)
    with gzip.open(base / "removed" / "00000.jsonl.gz", "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in removed)
    settings = {"methods": ["ngram", "embedding", "ast"], "rule": "any"}
    flagged = write_reports(base / "removed", base, settings)
    _json(base / "stats.json", {"verb": "decontaminate", "token_unit": "regex tokens (\\w+|[^\\w\\s])", "steps": [
        {"stage": "decontaminate", "step": "📖 - READER: read inputs", "in": 31, "kept": 31, "skipped": {},
         "tokens_kept": 20_000},
        {"stage": "decontaminate", "step": "🔻 - FILTER: decontaminate", "in": 31, "kept": 28,
         "dropped": {"contaminated": 3}, "tokens_kept": 18_500},
        {"stage": "decontaminate", "step": "💽 - WRITER: 🐿 Jsonl", "written": 28, "tokens_kept": 18_500}],
        "decontamination": {"settings": settings, "documents_flagged": flagged,
                            "flagged_by_method": {"ast": 2, "embedding": 1, "ngram": 1},
                            "flagged_by_benchmark": {"humaneval": 2, "mbpp": 1}, "tasks_matched": 3,
                            "most_matched_tasks": {"HumanEval/0": 2, "HumanEval/3": 1, "Mbpp/12": 1}}})
    return {"flagged": flagged}


def _similar(root: Path) -> Path:
    from textbooks.data.decontam.detect import DecontaminateConfig
    from textbooks.data.decontam.similar import write_split

    out = root / "similar"
    out.mkdir(parents=True)
    matches = {"HumanEval/0": {"ast": [{"train_id": "doc-a", "score": 0.97, "line": 1}]},
               "HumanEval/1": {"ast": [{"train_id": "doc-c", "score": 0.92, "line": 3}]}}
    write_split(out, HE_TASKS, matches, [0.95, 0.9], DecontaminateConfig(), "humaneval", [])
    return out / "similar-tau0.90.txt"


def _train(root: Path, arm: str, i: int) -> None:
    rows = []
    for step in range(10, 60, 10):
        loss = 6.0 - 0.5 * i - step / 100
        rows.append({"step": step, "loss": loss, "lr": 1e-3, "grad_norm": 1.0, "tokens_seen": step * 1024,
                     "tokens_per_s": 2000.0, "mfu": None})
        if step % 20 == 0:
            rows.append({"step": step, "val_loss": loss + 0.25})
        if step == 30:  # a resumed run re-logs its first window (truncate_metrics keeps whole lines up to the step)
            rows.append({**rows[-1], "loss": loss - 0.001})
    rows.append({"step": 50, "val_loss": 5.6 - 0.5 * i})
    _jsonl(root / "train" / arm / "metrics.jsonl", rows)


def _eval(root: Path, arm: str, similar_ids: Path) -> None:
    from textbooks.eval.execute import summarize
    from textbooks.eval.judge import summarize_grades
    from textbooks.eval.report import build_report, write_report

    d = root / "eval" / arm
    results_paths = []
    for bench, tasks, of in (("humaneval", HE_TASKS, 164), ("mbpp", MBPP_TASKS, 500), ("exercises", EX_TASKS, 2)):
        if arm not in PASSES[bench]:
            continue
        samples, results = [], []
        for tid in tasks:
            completion = HOSTILE if (arm == "raw" and tid == "HumanEval/0") else f"    return 0  # {arm} {tid}\n"
            if arm == "filtered" and tid == "HumanEval/2":
                completion = ""  # a model that stopped at once
            samples.append({"task_id": tid, "completion_id": 0, "completion": completion, "finish_reason": "stop",
                            "prompt_tokens_dropped": 0})
            passed = tid in PASSES[bench][arm]
            results.append({"task_id": tid, "completion_id": 0, "passed": passed,
                            "result": "passed" if passed else f"failed: AssertionError: {HOSTILE}", "time_limit": 3.0})
        _jsonl(d / f"{bench}.jsonl", samples)
        _jsonl(d / f"{bench}.jsonl_results.jsonl", results)
        all_ids = tasks + [f"{tasks[0].rsplit('/', 1)[0]}/{100 + k}" for k in range(of - len(tasks))]
        summary = summarize(bench, results, all_task_ids=all_ids)
        _json(d / f"{bench}.jsonl_summary.json", {**summary, "samples": str(d / f"{bench}.jsonl"),
                                                  "results": str(d / f"{bench}.jsonl_results.jsonl")})
        results_paths.append(d / f"{bench}.jsonl_results.jsonl")
        if bench != "exercises" or arm != "filtered":  # one arm without this NLL: shown as n/a
            nll = NLL[arm] + {"humaneval": 0.0, "mbpp": 0.3, "exercises": -0.5}[bench]
            _json(d / f"nll-{bench}.json", {"benchmark": bench, "split": "test", "tasks": len(tasks),
                                            "skipped": {"no_solution": 0}, "tokens": 100 * len(tasks), "mean_nll": nll,
                                            "mean_task_nll": nll + 0.01, "per_task": {t: {"nll": nll, "tokens": 100}
                                                                                      for t in tasks}})
    _json(d / "syntax.json", {b: {"samples": n, "valid": v, "fraction": v / n, "nontrivial": t}
                              for b, (n, v, t) in SYNTAX[arm].items()})
    grades = {"raw": [2, 3], "filtered": [3, 4], "codetextbook": [5, 4], "codetextbook+exercises": [7, 8]}[arm]
    judged = d / "unconventional.judged.summary.json"
    _json(judged, {"judge_model": "judge-x", "prompt_version": "v1",
                   **summarize_grades([{"task_id": f"Unconventional/{k}", "grade": g} for k, g in enumerate(grades)])})
    write_report(d / "report", build_report(results_paths, similar_ids=similar_ids, judged=[judged]))


def _run_json(root: Path) -> None:
    stages = {"curate": {"status": "done", "fingerprint": "f1", "seconds": 12.5, "out": "curate"},
              "decontaminate": {"status": "done", "fingerprint": "f2", "seconds": 3.25, "out": "decontaminate"},
              **{f"pretrain-{a}": {"status": "done", "fingerprint": f"p{i}", "seconds": 30.0 + i, "out": f"train/{a}"}
                 for i, a in enumerate(ARMS[:3])},
              "finetune-codetextbook+exercises": {"status": "done", "fingerprint": "ft", "seconds": 7.5,
                                                  "out": "train/codetextbook+exercises"},
              "report": {"status": "running", "fingerprint": "r", "seconds": None, "out": "report.html"}}
    arms = [{"name": a, "pretrain_tokens": PRETRAIN_TOKENS, "finetune_tokens": 0, "from": None,
             "data": [{"source": src, "weight": w} for src, w in ARM_DATA[a]]} for a in ARMS[:3]]
    arms.append({"name": ARMS[3], "pretrain_tokens": PRETRAIN_TOKENS, "finetune_tokens": FINETUNE_TOKENS,
                 "from": "codetextbook", "data": [{"source": "exercises", "weight": 1.0}]})
    _json(root / "run.json", {"format": "textbooks.pipeline", "name": f"fixture {HOSTILE}",
                              "config": {"name": "fixture", "eval": {"samples_shown": 3}, "note": HOSTILE},
                              "versions": {"textbooks": "0.1.0", "python": "3.11"}, "git_commit": "0123abc",
                              "created": "2026-01-01T00:00:00+00:00", "arms": arms, "stages": stages})


def _stages_and_packed(root: Path) -> None:
    """The training stages' markers (DIR/stages/<stage>.json, as run.py writes them) and the packed sources'
    meta.json (the splits `data pack` writes)."""
    for source, tokens in UNIQUE.items():
        _json(root / "packed" / source / "meta.json", {"format": "textbooks.packed", "documents": 10,
                                                        "tokens": tokens + 100,
                                                        "splits": {"train": {"documents": 9, "tokens": tokens},
                                                                   "val": {"documents": 1, "tokens": 100}}})
    for arm in ARMS:
        kind, tokens = ("finetune", FINETUNE_TOKENS) if arm == ARMS[3] else ("pretrain", PRETRAIN_TOKENS)
        result = {"checkpoint": f"train/{arm}/checkpoints/step_000050", "final_loss": 5.0, "val_loss": 5.1,
                  "steps": 50, "tokens": tokens, "run_dir": f"train/{arm}", **RECORDED.get(arm, {})}
        _json(root / "stages" / f"{kind}-{arm}.json",
              {"stage": f"{kind}-{arm}", "kind": kind, "status": "done", "fingerprint": "x",
               "settings": {"data": [{"source": s, "weight": w} for s, w in ARM_DATA[arm]]}, "result": result})


def make_run_dir(root: Path) -> Path:
    """A complete small run directory of the four Figure 2.1 arms under `root` (~1-2 s: the plots)."""
    root.mkdir(parents=True, exist_ok=True)
    _run_json(root)
    _stages_and_packed(root)
    _curate(root)
    _synth(root)
    _decontaminate(root)
    similar_ids = _similar(root)
    for i, arm in enumerate(ARMS):
        _train(root, arm, i)
        _eval(root, arm, similar_ids)
    return root


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return make_run_dir(tmp_path_factory.mktemp("run"))


@pytest.fixture(scope="module")
def report(run_dir) -> dict:
    return rp.collect(run_dir)


def _load(path: Path):
    return json.loads(path.read_text())


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# --- the numbers are the files' numbers -------------------------------------------------------------------


def test_arm_numbers_equal_the_stage_files(run_dir, report):
    arms = {a["name"]: a for a in report["arms"]}
    assert list(arms) == list(ARMS)  # run.json's order
    for name, arm in arms.items():
        d = run_dir / "eval" / name
        for bench in ("humaneval", "mbpp", "exercises"):
            path = d / f"{bench}.jsonl_summary.json"
            if not path.exists():
                assert arm["eval"][bench] is None
                continue
            summary = _load(path)
            got = arm["eval"][bench]
            assert got["pass@1"] == summary["pass@1"] == len(PASSES[bench][name]) / len(_lines(d / f"{bench}.jsonl"))
            assert (got["tasks"], got["of"], got["label"]) == (summary["n_tasks"], summary["coverage"]["of"],
                                                                summary["coverage"]["label"])
            assert got["passed"] == summary["n_passed"]
            nll_path = d / f"nll-{bench}.json"
            if nll_path.exists():
                nll = _load(nll_path)
                assert arm["nll"][bench]["mean_nll"] == nll["mean_nll"]
                assert arm["nll"][bench]["mean_task_nll"] == nll["mean_task_nll"]
                assert arm["nll"][bench]["tokens"] == nll["tokens"]
            else:
                assert bench not in arm["nll"]
        metrics = _lines(run_dir / "train" / name / "metrics.jsonl")
        losses = [m for m in metrics if "loss" in m]
        vals = [m for m in metrics if "val_loss" in m]
        assert arm["train"]["final_train_loss"] == losses[-1]["loss"]
        assert arm["train"]["final_val_loss"] == vals[-1]["val_loss"]
        assert arm["train"]["tokens_seen"] == losses[-1]["tokens_seen"]
        # one point per logged step; the re-logged step keeps the later line
        steps = [p["step"] for p in arm["train"]["points"]]
        assert steps == sorted({m["step"] for m in losses})
        at_30 = [m["loss"] for m in losses if m["step"] == 30]
        assert len(at_30) == 2 and next(p for p in arm["train"]["points"] if p["step"] == 30)["loss"] == at_30[-1]
        rep = _load(d / "report" / "report.json")
        assert arm["judge"][0]["score"] == rep["judged"][0]["score"] == _load(d / "unconventional.judged.summary.json")["score"]
        he = next(b for b in rep["benchmarks"] if b["benchmark"] == "humaneval")
        (split,) = arm["similar_split"]  # only HumanEval's split: the ids are HumanEval's
        assert split["tau"] == "0.90"
        for k in ("similar", "non_similar", "total"):
            assert split[k] == he["contamination_split"][k]
    run = _load(run_dir / "run.json")
    assert arms["codetextbook+exercises"]["finetune_tokens"] == run["arms"][3]["finetune_tokens"]
    assert arms["codetextbook+exercises"]["from_arm"] == "codetextbook"
    assert [s["seconds"] for s in report["run"]["stages"]] == [s["seconds"] for s in run["stages"].values()]
    assert report["run"]["git_commit"] == run["git_commit"]


def test_data_numbers_equal_the_stage_files(run_dir, report):
    funnel = _load(run_dir / "curate" / "plots" / "funnel.json")
    assert report["funnel"]["rows"][:-1] == funnel["rows"]  # then the decontamination row (its own test)
    assert [r["documents"] for r in report["funnel"]["rows"]] == [96, 90, 70, 60, 31, 28]
    stats = _load(run_dir / "curate" / "stats.json")
    c = report["edu_value"]["classifier"]
    assert c["held_out"]["roc_auc"] == stats["quality"]["held_out"]["roc_auc"]
    assert c["held_out"]["confusion_matrix"] == stats["quality"]["held_out"]["confusion_matrix"]
    assert {k: c["held_out"][k] for k in ("precision", "recall", "f1")} == \
        {k: stats["quality"]["held_out"][k] for k in ("precision", "recall", "f1")}
    assert c["majority_baseline"]["f1"] == stats["quality"]["baselines"]["majority"]["f1"]
    assert c["keep_probability"] == 0.5
    assert report["edu_value"]["score_histogram"]["counts"] == \
        _load(run_dir / "curate" / "quality" / "annotations.summary.json")["by_score"]
    assert report["edu_value"]["roc"]["auc"] == _load(run_dir / "curate/quality/model/plots/roc.json")["auc"]
    assert report["edu_value"]["probability_histogram"] == {"0.0-0.1": 9, "0.3-0.4": 20, "0.8-0.9": 31}
    assert report["dedup"]["removed"] == stats["dedup"]["removed"]
    assert report["dedup"]["cluster_size_histogram"] == stats["dedup"]["cluster_size_histogram"]

    dec = _load(run_dir / "decontaminate" / "stats.json")["decontamination"]
    got = report["decontamination"]
    assert got["documents_flagged"] == dec["documents_flagged"] == len(_lines(run_dir / "decontaminate" / "report.jsonl"))
    assert got["flagged_by_method"] == dec["flagged_by_method"]
    assert got["documents_scanned"] == 31
    # every task over all of report.jsonl, counted per document as stats counts its top tasks
    assert got["flagged_by_task"] == dec["most_matched_tasks"]

    similar = _load(run_dir / "similar" / "similar.json")
    assert report["similar"]["taus"] == {t: {"similar": v["similar"], "non_similar": v["non_similar"]}
                                         for t, v in similar["taus"].items()}
    assert report["similar"]["taus"]["0.90"] == {"similar": 2, "non_similar": 2}

    syn = _load(run_dir / "synth" / "exercises" / "report" / "report.json")
    div = report["synthesis"]["exercises"]["diversity"]["exercises"]
    assert div["distinct_ngrams"] == {n: v["ratio"] for n, v in syn["distinct_ngrams"].items()}
    assert div["openings"]["first_3"]["top_share"] == syn["openings"]["first_3"]["top_share"]
    assert div["near_duplicates"]["rate"] == syn["near_duplicates"]["rate"]
    assert report["synthesis"]["exercises"]["stats"]["kept"] == 4
    assert report["synthesis"]["textbooks"]["diversity"] is None  # stats only: no `synth report` ran there


def test_samples_are_the_same_tasks_for_every_arm(report):
    s = report["samples"]
    # the tasks the most arms passed first: HumanEval/0 (3 arms), /1 (2), /2 (1); /3 (none) is left out
    assert s["task_ids"] == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]
    assert list(s["by_arm"]) == list(ARMS)
    for arm, items in s["by_arm"].items():
        assert [i["task_id"] for i in items] == s["task_ids"]
        assert [i["passed"] for i in items] == [t in PASSES["humaneval"][arm] for t in s["task_ids"]]
    assert s["by_arm"]["raw"][0]["completion"] == HOSTILE


def test_write_report_files_match_collect(run_dir, report):
    html_path, json_path = rp.write_report(run_dir)
    assert (html_path, json_path) == (run_dir / "report.html", run_dir / "report.json")
    written = _load(json_path)
    assert {k: v for k, v in written.items() if k != "generated"} == \
        json.loads(json.dumps({k: v for k, v in report.items() if k != "generated"}))
    assert sorted(p.name for p in run_dir.iterdir() if p.name.startswith(".")) == []  # no temp file left
    assert html_path.read_text().startswith("<!DOCTYPE html>")


# --- ordering -----------------------------------------------------------------------------------------------


def test_arm_ordering_logic():
    up = {"raw": 0.0, "filtered": 0.1, "codetextbook": 0.2, "codetextbook+exercises": 0.5}
    assert rp.arm_ordering(up)["held"] is True
    assert rp.arm_ordering(up, "lower")["held"] is False
    tie = {**up, "filtered": 0.0}
    result = rp.arm_ordering(tie)
    assert result["held"] is False  # a tie is not an improvement
    assert [s["held"] for s in result["steps"]] == [False, True, True]
    missing = {**up, "codetextbook": None}
    result = rp.arm_ordering(missing)
    assert result["held"] is None and [s["held"] for s in result["steps"]] == [True, None, None]
    assert rp.arm_ordering({k: v for k, v in up.items() if k != "raw"})["held"] is None
    assert rp.arm_ordering({**up, "raw": float("nan")})["held"] is None
    down = {"raw": 3.0, "filtered": 2.5, "codetextbook": 2.4, "codetextbook+exercises": 1.0}
    assert rp.arm_ordering(down, "lower")["held"] is True
    with pytest.raises(ValueError, match="higher"):
        rp.arm_ordering(up, "up")


def test_report_ordering_block(report):
    o = report["ordering"]
    assert o["humaneval_pass@1"]["held"] is True
    assert o["mbpp_pass@1"]["held"] is False  # raw and filtered both 1 of 4
    assert [s["held"] for s in o["mbpp_pass@1"]["steps"]] == [False, True, True]
    assert o["heldout_pass@1"]["held"] is None  # the raw arm has no held-out evaluation
    assert o["humaneval_nll"]["held"] is True and o["mbpp_nll"]["held"] is True
    assert o["heldout_nll"]["held"] is None
    assert o["judge_score"]["held"] is True
    assert o["humaneval_nll"]["values"] == NLL


def test_summary_table(report):
    text = rp.summary_table(report)
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["arm", "pretrain", "tokens"]
    row = next(line for line in lines if line.startswith("codetextbook+exercises "))
    assert "75.0% (4 of 164 tasks)" in row and "100.0% (2 tasks)" in row and "1.8700" in row
    assert "HumanEval pass@1 (higher is better): held" in text
    assert "MBPP pass@1 (higher is better): did not hold" in text
    assert "held-out exercises pass@1 (higher is better): not measured on every arm" in text


class _Tables(HTMLParser):
    """The page's tables, as rows of cell texts (entities decoded), by the id of the section holding them."""

    def __init__(self):
        super().__init__()
        self.by_section: dict[str | None, list[list[list[str]]]] = {}
        self._section: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "section":
            self._section = dict(attrs).get("id")
        elif tag == "table":
            self.by_section.setdefault(self._section, []).append([])
        elif tag == "tr":
            self._row = []
            self.by_section[self._section][-1].append(self._row)
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _tables(page: str, section: str) -> list[list[list[str]]]:
    parser = _Tables()
    parser.feed(page)
    return parser.by_section.get(section, [])


def _by_first_cell(table: list[list[str]]) -> dict[str, dict[str, str]]:
    """{first cell: {column header: cell}} of a table whose first row is its header."""
    header = table[0]
    return {row[0]: dict(zip(header, row)) for row in table[1:]}


def _section_html(page: str, anchor: str) -> str:
    return page.split(f'<section id="{anchor}">', 1)[1].split("</section>", 1)[0]


@pytest.fixture(scope="module")
def page(run_dir, report) -> str:
    return rp.render_html(report, run_dir)


def test_report_stage_reads_as_this_report(report, page):
    """run.json is written while the report stage runs, so it says "running"; the page is that stage's output."""
    assert _load(Path(report["run_dir"]) / "run.json")["stages"]["report"]["status"] == "running"
    stages = {s["name"]: s for s in report["run"]["stages"]}
    assert stages["report"]["status"] == "done" and stages["report"]["this_report"] is True
    assert stages["curate"]["status"] == "done" and "this_report" not in stages["curate"]
    rows = _by_first_cell(_tables(page, "run")[0])
    assert rows["report"]["status"] == "done (this report)"
    assert rows["curate"]["status"] == "done"
    assert "running" not in _section_html(page, "run").split("resolved config")[0]


def test_training_table_shows_each_runs_own_budget(report, page):
    arms = {a["name"]: a for a in report["arms"]}
    assert arms["codetextbook+exercises"]["run_tokens"] == FINETUNE_TOKENS
    assert arms["raw"]["run_tokens"] == PRETRAIN_TOKENS
    table = next(t for t in _tables(page, "training") if "this run's token budget" in t[0])
    rows = _by_first_cell(table)
    ft = rows["codetextbook+exercises"]
    assert ft["this run's token budget"] == f"{FINETUNE_TOKENS:,}"
    assert ft["pretraining tokens (a finetuned arm's: its base's)"] == f"{PRETRAIN_TOKENS:,}"
    assert ft["finetuning tokens (cumulative)"] == f"{FINETUNE_TOKENS:,}"
    assert rows["raw"]["this run's token budget"] == f"{PRETRAIN_TOKENS:,}"
    assert rows["raw"]["finetuning tokens (cumulative)"] == "-"


def test_finetune_chain_budget_is_the_arms_own_share(tmp_path):
    """run.json's finetune_tokens is cumulative: an arm finetuned from a finetuned arm trained on the difference."""
    arms = [{"name": "a", "pretrain_tokens": 100, "finetune_tokens": 0, "from": None,
             "data": [{"source": "p", "weight": 1.0}]},
            {"name": "b", "pretrain_tokens": 100, "finetune_tokens": 30, "from": "a",
             "data": [{"source": "x", "weight": 1.0}]},
            {"name": "c", "pretrain_tokens": 100, "finetune_tokens": 50, "from": "b",
             "data": [{"source": "x", "weight": 1.0}]}]
    _json(tmp_path / "run.json", {"name": "chain", "config": {}, "arms": arms, "stages": {}})
    _json(tmp_path / "packed" / "x" / "meta.json", {"splits": {"train": {"tokens": 10}, "val": {"tokens": 1}}})
    got = {a["name"]: a for a in rp.collect(tmp_path)["arms"]}
    assert [got[n]["run_tokens"] for n in "abc"] == [100, 30, 20]
    assert got["c"]["training_data"]["stage"] == "finetune-c"
    assert got["c"]["training_data"]["sources"]["x"]["epochs"] == pytest.approx(2.0)  # 20 tokens over 10 unique
    assert got["a"]["training_data"] is None  # packed/p is not there: nothing to say


def test_valid_python_per_arm(run_dir, report, page):
    arms = {a["name"]: a for a in report["arms"]}
    for name, arm in arms.items():
        file = _load(run_dir / "eval" / name / "syntax.json")
        assert arm["syntax"] == {b: {**v, "source": f"eval/{name}/syntax.json"} for b, v in file.items()}
    table1 = _by_first_cell(_tables(page, "summary")[0])
    assert table1["raw"]["HE valid"] == "25.0% (1 of 4)"
    assert table1["raw"]["held-out valid"] == "not run"  # raw has no held-out exercises
    assert table1["codetextbook+exercises"]["held-out valid"] == "100.0% (2 of 2)"
    o = report["ordering"]["humaneval_valid"]
    assert o["held"] is True and o["values"] == {a: SYNTAX[a]["humaneval"][1] / 4 for a in ARMS}
    assert "HumanEval valid Python (higher is better): held" in rp.summary_table(report)
    valid = next(t for t in _tables(page, "evaluation") if t[0][:2] == ["arm", "humaneval valid"])
    assert valid[0] == ["arm", "humaneval valid", "humaneval nontrivial", "mbpp valid", "mbpp nontrivial",
                        "exercises valid", "exercises nontrivial"]
    assert _by_first_cell(valid)["codetextbook"]["humaneval nontrivial"] == "2"
    assert _by_first_cell(valid)["raw"]["exercises valid"] == "not run"


def test_missing_syntax_file_is_not_run(tmp_path, run_dir):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    (copy / "eval" / "raw" / "syntax.json").unlink()
    report = rp.collect(copy)
    raw = next(a for a in report["arms"] if a["name"] == "raw")
    assert raw["syntax"] is None and "raw: syntax" in report["not_run"]
    assert report["ordering"]["humaneval_valid"]["held"] is None
    row = _by_first_cell(_tables(rp.render_html(report, copy), "summary")[0])["raw"]
    assert row["HE valid"] == "not run" and row["held-out valid"] == "not run"


def test_unique_tokens_and_epochs_per_source(report, page):
    td = {a["name"]: a["training_data"] for a in report["arms"]}
    # recorded by the stage: taken as is
    assert td["raw"]["stage"] == "pretrain-raw"
    assert td["raw"]["sources"]["raw"]["unique_tokens"] == 59_999
    assert td["raw"]["sources"]["raw"]["epochs"] == 0.8534
    assert td["raw"]["sources"]["raw"]["unique_tokens_from"] == "stages/pretrain-raw.json"
    # not recorded: packed/<source>/meta.json's train split, epochs = tokens * weight / sum(weights) / unique
    ct = td["codetextbook"]["sources"]
    assert ct["filtered"]["unique_tokens"] == UNIQUE["filtered"]
    assert ct["filtered"]["unique_tokens_from"] == "packed/filtered/meta.json"
    assert ct["filtered"]["epochs"] == pytest.approx(PRETRAIN_TOKENS * 0.8 / UNIQUE["filtered"])
    assert ct["textbooks"]["epochs"] == pytest.approx(PRETRAIN_TOKENS * 0.2 / UNIQUE["textbooks"])
    ft = td["codetextbook+exercises"]
    assert ft["stage"] == "finetune-codetextbook+exercises" and ft["tokens_trained"] == FINETUNE_TOKENS
    assert ft["sources"]["exercises"]["epochs"] == pytest.approx(FINETUNE_TOKENS / UNIQUE["exercises"])
    table = next(t for t in _tables(page, "training") if "epochs per source" in t[0])
    rows = _by_first_cell(table)
    assert rows["codetextbook"]["unique train tokens per source"] == "filtered 40,000; textbooks 5,000"
    assert rows["codetextbook"]["epochs per source"] == "filtered 1.02; textbooks 2.05"
    assert rows["codetextbook+exercises"]["epochs per source"] == "exercises 4.00"
    assert rows["raw"]["epochs per source"] == "raw 0.85"


def test_sample_verdicts_read_once_and_empty_completions_say_so(page):
    samples = _section_html(page, "samples")
    assert "failed: failed" not in samples and "failed</span>: failed" not in samples
    assert '<span class="fail">failed</span>: AssertionError: ' in samples
    # filtered's HumanEval/2 completion is empty: said in words, not an empty box
    filtered = samples.split("<h3>HumanEval/2</h3>", 1)[1].split("<b>filtered</b>", 1)[1].split("<b>", 1)[0]
    assert "(empty completion)" in filtered and "<pre></pre>" not in filtered


def test_a_tie_is_neutral_and_kept_in_json(report):
    import copy

    tie = rp.arm_ordering({a: 0.0 for a in ARMS})
    assert tie["held"] is False and tie["tie"] is True
    assert rp.arm_ordering({a: 0.0 for a in ARMS[:3]})["tie"] is False  # an arm without a value: not a tie
    assert report["ordering"]["humaneval_pass@1"]["tie"] is False
    tied = copy.deepcopy(report)
    tied["ordering"]["mbpp_pass@1"] = {"label": "MBPP pass@1", "unit": "fraction", **tie}
    assert "MBPP pass@1 (higher is better): tie (all equal) [raw 0.0%" in rp.summary_table(tied)
    item = _section_html(rp.render_html(tied, report["run_dir"]), "summary").split("<li>MBPP pass@1", 1)[1]
    item = item.split("</li>", 1)[0]
    assert '<span class="tie">tie (all equal)</span>' in item
    assert "did not hold" not in item and "not better at" not in item


def test_judge_line_only_when_a_judge_is_configured(tmp_path):
    run = {"name": "nojudge", "config": {"eval": {"judge": None}}, "stages": {},
           "arms": [{"name": a, "pretrain_tokens": 1, "finetune_tokens": 0, "from": None, "data": []} for a in ARMS]}
    _json(tmp_path / "run.json", run)
    report = rp.collect(tmp_path)
    assert report["judge_configured"] is False and "judge_score" not in report["ordering"]
    assert "judge score" not in rp.summary_table(report)
    assert "judge score (" not in _section_html(rp.render_html(report, tmp_path), "summary")
    _json(tmp_path / "run.json", {**run, "config": {"eval": {"judge": "http://127.0.0.1:9/v1", "judge_model": "m"}}})
    report = rp.collect(tmp_path)
    assert report["ordering"]["judge_score"]["held"] is None
    assert "judge score (higher is better): not measured on every arm" in rp.summary_table(report)


def test_funnel_ends_with_decontamination(tmp_path, run_dir, report, page):
    import shutil

    last = report["funnel"]["rows"][-1]
    assert last == {"step": "decontaminate: benchmark overlap", "documents": 28, "tokens": 18_500,
                    "dropped": {"contaminated": 3}, "in": 31, "flagged": 3, "source": "decontaminate/stats.json"}
    assert report["funnel"]["decontamination_appended"] is True
    table = _tables(page, "funnel")[0]
    assert table[-1] == ["decontaminate: benchmark overlap", "28", "29.2%", "18,500", "37.0%",
                         "contaminated 3 (of 31 in)"]
    assert "curation and decontamination funnel" in _section_html(page, "funnel")  # the page's own plot
    # curation alone: its own funnel and plot, unchanged
    shutil.copytree(run_dir / "curate", tmp_path / "curate")
    alone = rp.collect(tmp_path)["funnel"]
    assert alone["rows"] == _load(run_dir / "curate" / "plots" / "funnel.json")["rows"]
    assert alone["decontamination_appended"] is False


# --- missing stages -------------------------------------------------------------------------------------------


def test_empty_run_dir_is_all_not_run(tmp_path):
    report = rp.collect(tmp_path)
    for key in ("run", "funnel", "edu_value", "dedup", "decontamination", "similar", "synthesis", "samples"):
        assert report[key] is None and key in report["not_run"]
    assert report["arms"] == [] and report["problems"] == []
    assert all(o["held"] is None for o in report["ordering"].values())
    page = rp.render_html(report, tmp_path)
    sections = page.split("<section ")[1:]
    assert len(sections) == 10 and all("not run" in s for s in sections)
    assert "no arms" in rp.summary_table(report)


def test_partial_run_renders_what_exists(tmp_path, run_dir):
    import shutil

    # pretraining finished for two arms, nothing evaluated, curation not run, run.json damaged
    for arm in ARMS[:2]:
        shutil.copytree(run_dir / "train" / arm, tmp_path / "train" / arm)
    (tmp_path / "run.json").write_text('{"name": "half')
    report = rp.collect(tmp_path)
    assert [a["name"] for a in report["arms"]] == list(ARMS[:2])  # found from train/ when run.json is unreadable
    assert report["problems"] and "run.json" in report["problems"][0]
    assert "raw: eval" in report["not_run"] and "funnel" in report["not_run"]
    page = rp.render_html(report, tmp_path)
    assert "Problems reading the run" in page and page.count("not run") >= 8
    text = rp.summary_table(report)
    assert "not run" in text and "raw" in text


# --- the page ---------------------------------------------------------------------------------------------


class _Refs(HTMLParser):
    """Every tag and every attribute that can make a browser load or run something."""

    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.urls: list[tuple[str, str, str]] = []
        self.handlers: list[str] = []
        self.csp = None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "action", "srcset", "poster", "data", "formaction", "background"):
                self.urls.append((tag, name, value or ""))
            if name.startswith("on"):
                self.handlers.append(f"{tag} {name}")
            if tag == "meta" and name == "content" and ("http-equiv", "Content-Security-Policy") in attrs:
                self.csp = value


def test_html_is_self_contained_and_escapes_model_output(run_dir, report):
    page = rp.render_html(report, run_dir)
    refs = _Refs()
    refs.feed(page)
    assert not {"script", "link", "iframe", "object", "embed", "base", "form"} & set(refs.tags)
    assert refs.handlers == []
    for tag, name, url in refs.urls:
        assert url.startswith("data:image/png;base64,") or url.startswith("#"), (tag, name, url[:80])
    assert "default-src 'none'" in refs.csp and "img-src data:" in refs.csp
    assert "url(" not in page and "@import" not in page
    # the hostile completion, result text, document id and run name appear only escaped
    assert HOSTILE not in page and "<img src=x" not in page
    assert "&lt;/script&gt;&lt;img src=x onerror=alert(document.domain)&gt;" in page
    # the images: the loss curves, Figure 2.1, the stages' own PNGs (funnel, dedup, score histogram, ROC, ...)
    images = [u for t, n, u in refs.urls if t == "img"]
    assert len(images) >= 9
    for section in ("Table 1 style", "Figure 2.1 ordering", "Table 3 style", "Judge score", "Decontamination",
                    "Synthesis diversity", "Educational value", "Deduplication", "curation funnel"):
        assert section in page, section
    assert "20.12" in page and "45" in page  # the paper's numbers beside the run's


def test_loss_plot_and_figure_plot_are_pngs(report):
    import base64

    for b64 in (rp.loss_plot(report["arms"]), rp.figure_2_1_plot(report["arms"])):
        assert base64.b64decode(b64).startswith(b"\x89PNG")
    assert rp.loss_plot([]) is None and rp.figure_2_1_plot([]) is None


def test_paper_constant_matches_the_reference():
    """The paper's numbers per arm (reference: /work/shared/reference/phi-1-paper.md §4.2, §5.2)."""
    m = rp.PAPER_FIGURE_2_1["models"]
    assert {a: v["humaneval"] for a, v in m["350M"].items()} == {
        "raw": 12.19, "filtered": 17.68, "codetextbook": 20.12, "codetextbook+exercises": 45.0}
    assert {a: v["humaneval"] for a, v in m["1.3B"].items()} == {
        "raw": None, "filtered": None, "codetextbook": 29.0, "codetextbook+exercises": 50.6}
    assert all(v["section"] for size in m.values() for v in size.values())
