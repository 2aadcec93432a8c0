"""`textbooks eval report`: pass@k and the similar/non-similar split against hand-computed values, failure
categories, settings found next to the results, the CLI, and the demo's pass@1 table."""

import json
import subprocess
import sys

import pytest

from textbooks.cli import main
from textbooks.eval.report import (benchmark_numbers, build_report, failure_category, pass_at_1_table,
                                   read_similar_ids, render_markdown)

# Three HumanEval tasks, 4 samples each: HumanEval/0 passes 1 of 4, HumanEval/1 none, HumanEval/2 all four.
RESULTS = [
    {"task_id": "HumanEval/0", "completion_id": 0, "passed": True, "result": "passed"},
    {"task_id": "HumanEval/0", "completion_id": 1, "passed": False, "result": "failed: AssertionError: assert candidate(1) == 2"},
    {"task_id": "HumanEval/0", "completion_id": 2, "passed": False, "result": "failed: AssertionError"},
    {"task_id": "HumanEval/0", "completion_id": 3, "passed": False, "result": "timed out"},
    {"task_id": "HumanEval/1", "completion_id": 0, "passed": False, "result": "failed: NameError: name 'x' is not defined"},
    {"task_id": "HumanEval/1", "completion_id": 1, "passed": False, "result": "syntax error: invalid syntax (line 3)"},
    {"task_id": "HumanEval/1", "completion_id": 2, "passed": False, "result": "out of memory"},
    {"task_id": "HumanEval/1", "completion_id": 3, "passed": False, "result": "failed: killed (SIGKILL: out of memory or process limit)"},
    *({"task_id": "HumanEval/2", "completion_id": i, "passed": True, "result": "passed"} for i in range(4)),
]


def test_pass_at_k_hand_computed():
    numbers = benchmark_numbers(RESULTS, ks=[1, 2, 4])
    # pass@1 = mean c/n = (1/4 + 0 + 1) / 3
    assert numbers["pass_at_k"]["pass@1"] == pytest.approx((0.25 + 0 + 1) / 3)
    # pass@2, task 0: 1 - C(3,2)/C(4,2) = 1 - 3/6 = 0.5
    assert numbers["pass_at_k"]["pass@2"] == pytest.approx((0.5 + 0 + 1) / 3)
    # pass@4 with n = 4: a task counts iff any sample passed
    assert numbers["pass_at_k"]["pass@4"] == pytest.approx(2 / 3)
    assert numbers["tasks"] == 3 and numbers["samples"] == 12 and numbers["tasks_solved"] == 2
    assert numbers["per_task"]["HumanEval/0"] == {"n": 4, "passed": 1, "outcomes": {"passed": 1, "AssertionError": 2, "timed out": 1}}
    # Default ks: those of 1, 10, 100 that every task has samples for.
    assert list(benchmark_numbers(RESULTS)["pass_at_k"]) == ["pass@1"]


def test_k_larger_than_n_is_refused():
    with pytest.raises(ValueError, match="pass@10 asked for, but task HumanEval/0 has only n=4 samples"):
        benchmark_numbers(RESULTS, ks=[1, 10])


def test_failure_categories():
    cats = benchmark_numbers(RESULTS)["failure_categories"]
    assert cats == {"passed": 5, "AssertionError": 2, "timed out": 1, "NameError": 1, "syntax error": 1,
                    "out of memory": 1, "killed (memory or process limit)": 1}
    assert failure_category("failed: ") == "failed (no message)"
    assert failure_category("failed: the program ended before the tests finished (exit 0)") == "exited before the tests finished"
    assert failure_category("failed: something odd") == "failed (other)"
    assert failure_category("failed: RecursionError: maximum recursion depth exceeded") == "RecursionError"
    assert failure_category("passed", passed=True) == "passed"


def test_similar_split_hand_computed(tmp_path):
    # Paper Table 3 layout: similar = HumanEval/0 and HumanEval/2, non-similar = HumanEval/1.
    similar = {"HumanEval/0", "HumanEval/2", "HumanEval/99"}  # 99 is not in the results: reported, not counted
    split = benchmark_numbers(RESULTS, similar=similar)["contamination_split"]
    assert split["similar"] == {"problems": 2, "pass@1": pytest.approx((0.25 + 1) / 2)}
    assert split["non_similar"] == {"problems": 1, "pass@1": 0.0}
    assert split["total"] == {"problems": 3, "pass@1": pytest.approx(1.25 / 3)}


@pytest.mark.parametrize("content", [
    '["HumanEval/0", "HumanEval/2"]',
    '{"tau": 0.9, "similar_ids": ["HumanEval/0", "HumanEval/2"]}',
    "# similar at tau 0.9\nHumanEval/0\n\nHumanEval/2  # 2 matches\n",
])
def test_similar_ids_file_formats(tmp_path, content):
    path = tmp_path / "similar.txt"
    path.write_text(content)
    assert read_similar_ids(path) == {"HumanEval/0", "HumanEval/2"}


def test_similar_ids_bad_json_object(tmp_path):
    path = tmp_path / "similar.json"
    path.write_text('{"ids": []}')
    with pytest.raises(ValueError, match="similar_ids, similar, task_ids"):
        read_similar_ids(path)


def _write_run(tmp_path, name="he", rows=RESULTS, model="runs/tiny", benchmark="humaneval", verdict="default",
               meta=True):
    """The files of a generate -> execute run, named as those stages name them (meta=False: no samples.meta.json)."""
    samples = tmp_path / f"{name}.samples.jsonl"
    samples.write_text("")  # only its name matters here
    if meta:
        (tmp_path / f"{name}.samples.meta.json").write_text(json.dumps({
            "benchmark": benchmark, "model": model, "backend": "phi", "n": 4, "temperature": 0.8, "top_p": 0.95,
            "prompt_format": "humaneval@1", "prompt_format_version": 1, "seed": 3, "max_new_tokens": 256,
            "stop": ["\ndef"], "split": "test"}))
    results = tmp_path / f"{name}.samples.jsonl_results.jsonl"
    results.write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / f"{name}.samples.jsonl_summary.json").write_text(json.dumps({
        "benchmark": benchmark, "samples": str(samples), "harness": "execute@1", "verdict": verdict, "timeout": 3.0,
        "memory_mb": 2048, "sandbox": {"version": "sandbox@1", "isolation": "bwrap", "layers": ["bwrap", "rlimits"]}}))
    return results


def test_report_cli_end_to_end(tmp_path, capsys):
    results = _write_run(tmp_path)
    similar = tmp_path / "similar.json"
    similar.write_text(json.dumps(["HumanEval/1"]))
    judged = tmp_path / "u.judged.summary.json"
    judged.write_text(json.dumps({"judge_model": "gpt-4o", "prompt_version": "v1", "samples": 4, "graded": 3,
                                  "errors": 1, "no_grade": 1, "call_errors": 0, "score": 0.45}))
    out = tmp_path / "report"
    rc = main(["eval", "report", "--results", str(results), "--similar-ids", str(similar), "--judged", str(judged),
               "--k", "1,2", "--out", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "| runs/tiny | 41.7% (over 3 of 164 tasks) |" in printed  # 3 HumanEval tasks: a partial run
    report = json.loads((out / "report.json").read_text())
    bench = report["benchmarks"][0]
    assert bench["benchmark"] == "humaneval"
    assert bench["pass_at_k"]["pass@2"] == pytest.approx(0.5)
    assert bench["settings"]["temperature"] == 0.8 and bench["settings"]["prompt_format"] == "humaneval@1"
    assert bench["settings"]["seed"] == 3 and bench["settings"]["model"] == "runs/tiny"
    assert bench["execution"]["harness"] == "execute@1" and bench["execution"]["sandbox"]["isolation"] == "bwrap"
    assert bench["contamination_split"]["similar"] == {"problems": 1, "pass@1": 0.0}
    assert bench["contamination_split"]["non_similar"]["pass@1"] == pytest.approx(0.625)
    assert report["judged"][0]["score"] == 0.45
    md = (out / "report.md").read_text()
    assert "| humaneval | runs/tiny | 3 of 164 tasks | 4 | default | 41.7% | 50.0% |" in md
    assert "**humaneval: a partial run.** pass@k over 3 of 164 tasks only" in md
    assert "- pass@1 over 3 of 164 tasks: 41.7%" in md
    assert bench["coverage"] == {"tasks": 3, "of": 164, "scope": "partial", "label": "3 of 164 tasks"}
    assert "| similar | 1 | 0.0% |" in md and "| non-similar | 2 | 62.5% |" in md
    assert '- execute.harness: `"execute@1"`' in md
    assert "| gpt-4o | v1 | 4 | 3 | 1 | 0 | 45.0% |" in md  # samples, graded, no grade, failed calls, score


def test_report_cli_errors(tmp_path, capsys):
    results = _write_run(tmp_path)
    assert main(["eval", "report", "--results", str(results), "--k", "10", "--out", str(tmp_path / "r")]) == 2
    assert "pass@10 asked for, but task HumanEval/0 has only n=4 samples" in capsys.readouterr().err
    assert main(["eval", "report", "--results", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "r")]) == 2
    assert "does not exist" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task_id": "HumanEval/0"}\n')
    assert main(["eval", "report", "--results", str(bad), "--out", str(tmp_path / "r")]) == 2
    assert "lacks passed" in capsys.readouterr().err


def test_pass_at_1_table_models_by_benchmarks(tmp_path):
    he = _write_run(tmp_path, "he", model="phi-tiny")
    mbpp_rows = [{"task_id": "Mbpp/11", "completion_id": 0, "passed": True, "result": "passed"},
                 {"task_id": "Mbpp/12", "completion_id": 0, "passed": False, "result": "failed: AssertionError"}]
    mbpp = _write_run(tmp_path, "mbpp", rows=mbpp_rows, model="phi-tiny", benchmark="mbpp")
    report = build_report([he, mbpp])
    table = pass_at_1_table(report["benchmarks"] + [{"model": "other", "benchmark": "humaneval", "pass@1": 0.5}])
    assert table == (
        "| model | humaneval | mbpp |\n"
        "|---|---|---|\n"
        "| phi-tiny | 41.7% (over 3 of 164 tasks) | 50.0% (over 2 of 500 tasks, test split) |\n"
        "| other | 50.0% | - |"
    )
    assert "## mbpp" in render_markdown(report)


def test_duplicate_result_rows_are_an_error_naming_the_line(tmp_path, capsys):
    rows = RESULTS[:3] + [dict(RESULTS[1], passed=True, result="passed")] + RESULTS[3:]  # HumanEval/0 #1 twice
    results = _write_run(tmp_path, rows=rows)
    assert main(["eval", "report", "--results", str(results), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert f"{results}:4: duplicate result: task HumanEval/0 completion_id 1 is already at line 2" in err


def test_coverage_comes_from_the_execute_summary_and_a_whole_benchmark_is_not_partial(tmp_path):
    rows = [{"task_id": f"HumanEval/{i}", "completion_id": 0, "passed": i % 2 == 0, "result": "passed"}
            for i in range(164)]
    report = build_report([_write_run(tmp_path, rows=rows)])
    (bench,) = report["benchmarks"]
    assert bench["coverage"]["scope"] == "all" and bench["coverage"]["label"] == "164 tasks"
    md = render_markdown(report)
    assert "partial run" not in md and "| humaneval | runs/tiny | 164 tasks | 1 | default |" in md
    # execute's summary, when it says how much it covered, is what the report shows
    results = _write_run(tmp_path, "x", rows=rows[:2])
    summary_path = tmp_path / "x.samples.jsonl_summary.json"
    summary = json.loads(summary_path.read_text())
    summary["coverage"] = {"tasks": 2, "of": 164, "scope": "partial", "label": "2 of 164 tasks"}
    summary_path.write_text(json.dumps(summary))
    assert build_report([results])["benchmarks"][0]["coverage"]["label"] == "2 of 164 tasks"


def test_the_verdict_mode_is_in_the_report(tmp_path):
    """A run with `--verdict isolated` says so (before: `verdict` was not among the execute keys kept)."""
    report = build_report([_write_run(tmp_path, verdict="isolated@1")])
    (bench,) = report["benchmarks"]
    assert bench["execution"]["verdict"] == "isolated@1"
    md = render_markdown(report)
    assert "| humaneval | runs/tiny | 3 of 164 tasks | 4 | isolated@1 | 41.7% |" in md
    assert '- execute.verdict: `"isolated@1"`' in md
    assert "| runs/tiny (isolated@1 verdicts) | 41.7% (over 3 of 164 tasks) |" in pass_at_1_table(report["benchmarks"])


def test_two_results_of_one_benchmark_each_get_a_row(tmp_path, capsys):
    """Two HumanEval results files: before, the printed table had one row (the last file's) under model "?"."""
    a = _write_run(tmp_path, "a", meta=False)
    b = _write_run(tmp_path, "b", rows=[dict(r, passed=True, result="passed") for r in RESULTS], meta=False)
    assert main(["eval", "report", "--results", str(a), "--results", str(b), "--out", str(tmp_path / "r")]) == 0
    printed = capsys.readouterr().out
    assert "| a.samples.jsonl_results.jsonl | 41.7% (over 3 of 164 tasks) |" in printed  # no meta: the file's name
    assert "| b.samples.jsonl_results.jsonl | 100.0% (over 3 of 164 tasks) |" in printed
    assert "| ? |" not in printed
    # with a meta naming the same model for both, the second row is told apart by its file
    c, d = _write_run(tmp_path, "c", model="phi-1"), _write_run(tmp_path, "d", model="phi-1")
    table = pass_at_1_table(build_report([c, d])["benchmarks"])
    assert table.count("| phi-1") == 2 and "| phi-1 (d.samples.jsonl_results.jsonl) |" in table


def test_judge_table_counts_samples(tmp_path):
    """The judge table's "samples" column is a count (before: the samples file's path, which the judge's
    summary held under that key)."""
    results = _write_run(tmp_path)
    new = tmp_path / "new.judged.summary.json"
    new.write_text(json.dumps({"judge_model": "j", "prompt_version": "v1", "samples": 5, "samples_file": "u.jsonl",
                               "graded": 4, "errors": 1, "no_grade": 1, "call_errors": 0, "score": 0.5}))
    old = tmp_path / "old.judged.summary.json"
    old.write_text(json.dumps({"judge_model": "j", "prompt_version": "v1", "samples": "out/u.jsonl",
                               "graded": 2, "errors": 1, "no_grade": 0, "call_errors": 1, "score": 0.5}))
    report = build_report([results], judged=[new, old])
    assert [(j["samples"], j["samples_file"]) for j in report["judged"]] == [(5, "u.jsonl"), (3, "out/u.jsonl")]
    md = render_markdown(report)
    assert "| j | v1 | 5 | 4 | 1 | 0 | 50.0% |" in md and "| j | v1 | 3 | 2 | 0 | 1 | 50.0% |" in md


def test_one_task_is_singular(tmp_path):
    md = render_markdown(build_report([_write_run(tmp_path, rows=RESULTS[8:9])]))
    assert "1 of 1 task solved at least once" in md  # before: "1 of 1 tasks"


def test_a_closed_stdout_is_no_traceback(tmp_path):
    """`textbooks eval report ... | head -1`: the reader goes away; the command stops quietly."""
    results = _write_run(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "textbooks", "eval", "report", "--results", str(results),
                             "--out", str(tmp_path / "r")], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # before the command prints anything: every write meets a closed pipe
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, err
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert (tmp_path / "r" / "report.md").is_file()  # the report was still written
