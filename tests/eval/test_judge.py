"""`textbooks eval judge`: grade parsing on many answer formats, the versioned prompt, and a run end to end
against a real local HTTP server that answers like a judge model."""

import json

import pytest

from textbooks.cli import main
from textbooks.eval.judge import DEFAULT_PROBLEMS, JudgePrompt, judge_samples, load_problems, parse_grade, summarize_grades

from tests.eval.openai_server_fixture import LocalOpenAIServer, Refuse


# The documented format ("Grade: N/10", the prompt's last line) and the documented variants of parse_grade.
@pytest.mark.parametrize(
    "answer, grade",
    [
        ("The solution is correct.\nGrade: 7/10", 7.0),
        ("Handles all cases.\n**Grade**: 8", 8.0),
        ("**Grade:** 9/10", 9.0),
        ("Final grade - 5", 5.0),
        ("Misses the dedup step.\nOverall grade: 6 out of 10", 6.0),
        ("Grade: 6.5/10", 6.5),
        ("First impression 3/10, but on reflection it is fine.\nGrade: 9/10", 9.0),  # only the labelled line counts
        ("Grade: 4/10\n\nOn second thought:\nGrade: 6/10", 6.0),  # the last grade line wins
        ("Grade: [7]", 7.0),
        ("GRADE:10", 10.0),
        ("  Grade = 9 / 10", 9.0),
        ("Grade: 7/10 (misses the empty case)", 7.0),
        ("The student should upgrade 2 loops.\nGrade: 5/10", 5.0),  # "upgrade" is not "grade"
        ("**Grade: 9/10**", 9.0), ("Grade: 7/10.", 7.0), ("Grade: 8/10 - clean and correct", 8.0),
        ("Grade: 7 (too slow on long inputs)", 7.0),
    ],
)
def test_parse_grade_accepts_the_documented_format_and_variants(answer, grade):
    assert parse_grade(answer) == grade


# No explicit grade line: before, the last number or any fraction in the text was taken as the grade
# ("... returns 42 for the sample input." scored 10/10 after clamping).
@pytest.mark.parametrize("answer", [
    "", None, "I cannot evaluate this solution.", "Grade: N/A",
    "The function is correct: it returns 42 for the sample input.",
    "Mostly right but misses the dedup step. 6 out of 10",
    "It checks 3 of the 4 conditions; overall I give it 4",
    "Correct and idiomatic. 10/10",
    "I'd say the grade is 6.5.",  # not on a line of its own with a separator
    "It passes 2 examples.\n\nGrade: 4/5",  # another denominator: not the format, not rescaled
    "Grade: 12/10", "Grade: -3", "Grade: 100",  # outside 0..10: not clamped into a grade
    "The student should upgrade 2 loops. Grade: 5/10",  # the label must start its line
    # after the grade only a clean end: no unit, other scale, range, second number or digits glued to it
    "Grade: 3 stars out of 5", "Grade: 10%", "Grade: 8 points", "Grade: 7 over 10",
    "Grade: 9,5/10", "Grade: 1e1/10", "Grade: 0x8", "Grade: 8-9/10", "Grade: 3 to 9/10", "Grade: 7/10/10",
])
def test_parse_grade_none_without_an_explicit_grade(answer):
    assert parse_grade(answer) is None


def test_judge_prompt_v1_renders_problem_and_solution_only():
    prompt = JudgePrompt.load("v1")
    text = prompt.render("def f(x):\n    \"\"\"Double {x}.\"\"\"\n", "def f(x):\n    return 2 * x\n", "f")
    assert "Double {x}." in text and "return 2 * x" in text and "`f`" in text
    assert "{{" not in text
    assert "Never edit a released version" not in text  # the maintainers' comment is not sent
    assert text.rstrip().endswith("where N is an integer from 0 to 10.")
    assert len(prompt.sha256) == 64
    with pytest.raises(ValueError, match="known versions: v1"):
        JudgePrompt.load("v999")


def test_summarize_grades_hand_computed():
    rows = [
        {"task_id": "A", "grade": 10.0},
        {"task_id": "A", "grade": 6.0},
        {"task_id": "B", "grade": 5.0},
        {"task_id": "B", "grade": None},  # an error: left out of the score, counted as 0 in the strict one
    ]
    s = summarize_grades(rows)
    assert s["graded"] == 3 and s["errors"] == 1
    assert s["score"] == pytest.approx(0.7)  # (10 + 6 + 5) / 3 / 10
    assert s["score_errors_as_zero"] == pytest.approx(0.525)  # 21 / 4 / 10
    assert s["per_task_mean_grade"] == {"A": 8.0, "B": 5.0}


def _judge_answer(path, body):
    """Answers like a judge: the grade depends on a marker in the student's solution and the seed."""
    assert path == "/v1/chat/completions"
    text = body["messages"][0]["content"]
    if "MARK_GOOD" in text:
        return ["The solution follows the docstring exactly.\nGrade: 9/10"]
    if "MARK_BAD" in text:
        return ["It ignores the threshold.\n**Grade**: 3"]
    if "MARK_VAGUE" in text:  # no grade line on the first try (only "7 out of 10"), one on the retry
        # (the first try is greedy, retries sample at temperature >= 0.5 with another seed)
        return ["Hard to say; 7 out of 10."] if body.get("temperature", 0) == 0 else ["On reflection:\nGrade: 7/10"]
    # never a grade line, only numbers: "no grade" after every attempt
    return ["The function is correct: it returns 42 for the sample input."]


def test_judge_end_to_end_against_local_server(tmp_path):
    problems = load_problems(DEFAULT_PROBLEMS)
    tids = list(problems)[:3]
    samples = tmp_path / "samples.jsonl"
    rows = [
        {"task_id": tids[0], "completion_id": 0, "completion": "    # MARK_GOOD\n    return []\n"},
        {"task_id": tids[0], "completion_id": 1, "completion": "    # MARK_BAD\n    return []\n"},
        {"task_id": tids[1], "completion_id": 0, "completion": "    # MARK_VAGUE\n    return ''\n"},
        {"task_id": tids[2], "completion_id": 0, "completion": "    # MARK_NOTHING\n    pass\n"},
    ]
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "judged.jsonl"
    with LocalOpenAIServer(_judge_answer) as server:
        summary = judge_samples(samples, base_url=server.base_url, model="judge", out=out, api_key_env=None, progress=False)
        sent = len(server.requests)
        judged = [json.loads(line) for line in out.read_text().splitlines()]
        # The prompt holds the problem's docstring and the student's whole function (prompt + completion).
        # Requests run concurrently, so find the one for the MARK_GOOD sample rather than assume an order.
        contents = [body["messages"][0]["content"] for _, body in server.requests]
        good = [c for c in contents if "MARK_GOOD" in c]
        assert len(good) == 1 and problems[tids[0]]["prompt"].strip() in good[0]
        # A rerun is served from the cache: nothing is sent again.
        again = judge_samples(samples, base_url=server.base_url, model="judge", out=out, api_key_env=None, progress=False)
        assert len(server.requests) == sent
        assert again["score"] == summary["score"]

    assert sent == 4 + 1 + 2  # one call per sample; MARK_VAGUE retried once, MARK_NOTHING twice (3 attempts)
    by_key = {(r["task_id"], r["completion_id"]): r for r in judged}
    assert by_key[(tids[0], 0)]["grade"] == 9.0 and by_key[(tids[0], 0)]["attempts"] == 1
    assert by_key[(tids[0], 1)]["grade"] == 3.0
    assert by_key[(tids[1], 0)]["grade"] == 7.0 and by_key[(tids[1], 0)]["attempts"] == 2
    nothing = by_key[(tids[2], 0)]
    assert nothing["grade"] is None and nothing["attempts"] == 3 and nothing["no_grade"] is True
    assert nothing["error"].startswith("no grade: none of 3 answers")
    assert summary["graded"] == 3 and summary["errors"] == 1
    assert summary["no_grade"] == 1 and summary["call_errors"] == 0
    assert summary["score"] == pytest.approx((9 + 3 + 7) / 3 / 10)
    assert summary["prompt_version"] == "v1" and summary["judge_model"] == "judge"
    on_disk = json.loads((tmp_path / "judged.summary.json").read_text())
    assert on_disk["score"] == pytest.approx(summary["score"])
    assert on_disk["samples"] == 4 and on_disk["samples_file"] == str(samples)  # a count; before: the path


def test_judge_cli(tmp_path, capsys):
    problems = load_problems(DEFAULT_PROBLEMS)
    tid = next(iter(problems))
    samples = tmp_path / "s.jsonl"
    samples.write_text(json.dumps({"task_id": tid, "completion": "    # MARK_GOOD\n"}) + "\n")  # no completion_id: numbered
    with LocalOpenAIServer(_judge_answer) as server:
        rc = main(["eval", "judge", "--samples", str(samples), "--base-url", server.base_url, "--model", "judge",
                   "--api-key-env", "", "--no-progress"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "judged 1 sample with judge" in printed  # not "1 samples"
    assert "score 90.0%" in printed and "(1 graded, 0 no grade, 0 failed calls)" in printed
    assert json.loads((tmp_path / "s.judged.jsonl").read_text())["completion_id"] == 0


def test_judge_cli_errors(tmp_path, capsys):
    samples = tmp_path / "s.jsonl"
    samples.write_text(json.dumps({"task_id": "HumanEval/0", "completion": "x"}) + "\n")
    rc = main(["eval", "judge", "--samples", str(samples), "--base-url", "http://127.0.0.1:9/v1", "--model", "j", "--no-progress"])
    assert rc == 2
    assert "s.jsonl:1: task_id 'HumanEval/0' is not in the problems file" in capsys.readouterr().err
    samples.write_text(json.dumps({"task_id": "HumanEval/0"}) + "\n")  # the checks of `eval execute`'s reader
    assert main(["eval", "judge", "--samples", str(samples), "--base-url", "http://127.0.0.1:9/v1", "--model", "j"]) == 2
    assert "s.jsonl:1: missing key 'completion'" in capsys.readouterr().err
    samples.write_text("{not json\n")
    assert main(["eval", "judge", "--samples", str(samples), "--base-url", "http://127.0.0.1:9/v1", "--model", "j"]) == 2
    assert "s.jsonl:1: not valid JSON" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["eval", "judge", "--samples", str(samples)])  # --base-url and --model are required
    assert e.value.code == 2


def test_grade_attempts_bound_the_retries(tmp_path):
    """--grade-attempts 1: an answer without a grade line is recorded as "no grade" at once, no retry."""
    problems = load_problems(DEFAULT_PROBLEMS)
    tid = next(iter(problems))
    samples = tmp_path / "s.jsonl"
    samples.write_text(json.dumps({"task_id": tid, "completion": "    # MARK_NOTHING\n"}) + "\n")
    with LocalOpenAIServer(_judge_answer) as server:
        summary = judge_samples(samples, base_url=server.base_url, model="judge", api_key_env=None, progress=False,
                                grade_attempts=1)
        assert len(server.requests) == 1
    assert summary["no_grade"] == 1 and summary["graded"] == 0 and summary["score"] is None
    with pytest.raises(ValueError, match="--grade-attempts must be >= 1"):
        judge_samples(samples, base_url="http://127.0.0.1:9/v1", model="j", api_key_env=None, grade_attempts=0)


def _refusing_judge(path, body):
    """Answers 400 to a solution marked MARK_400 (a request it will never accept), grades the others 9/10."""
    if "MARK_400" in body["messages"][0]["content"]:
        raise Refuse(400, "this model's maximum context length is 8 tokens")
    return ["Grade: 9/10"]


def test_a_failed_call_is_a_call_error_and_is_not_asked_again(tmp_path):
    """A 400 is not an answer without a grade: the sample is asked once (no grade retries), counted in
    call_errors (not no_grade), and its error says the call failed."""
    tids = list(load_problems(DEFAULT_PROBLEMS))[:2]
    samples = tmp_path / "s.jsonl"
    samples.write_text(json.dumps({"task_id": tids[0], "completion": "    # MARK_400\n"}) + "\n"
                       + json.dumps({"task_id": tids[1], "completion": "    # fine\n"}) + "\n")
    with LocalOpenAIServer(_refusing_judge) as judge:
        summary = judge_samples(samples, base_url=judge.base_url, model="judge", api_key_env=None, progress=False)
    assert len(judge.requests) == 2  # before: 3 + 1 (the 400 was asked again as if it had answered without a grade)
    assert summary["graded"] == 1 and summary["call_errors"] == 1 and summary["no_grade"] == 0
    refused = json.loads((tmp_path / "s.judged.jsonl").read_text().splitlines()[0])
    assert refused["grade"] is None and refused["no_grade"] is False and refused["attempts"] == 0
    assert refused["error"].startswith("call failed: ") and "400" in refused["error"]


def test_an_unreachable_judge_leaves_no_cache_file(tmp_path, capsys):
    samples = tmp_path / "s.jsonl"
    samples.write_text(json.dumps({"task_id": next(iter(load_problems(DEFAULT_PROBLEMS))), "completion": "x"}) + "\n")
    rc = main(["eval", "judge", "--samples", str(samples), "--base-url", "http://127.0.0.1:9/v1", "--model", "j",
               "--api-key-env", "", "--max-retries", "0", "--timeout", "2", "--no-progress"])
    assert rc == 1 and "the judge endpoint failed" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.jsonl"]  # before: s.judged.cache.sqlite too
