"""`--benchmark exercises --problems FILE`: held-out synthetic exercises as a benchmark. The references pass in
the real sandbox and a wrong body fails (default and isolated verdicts), the program layout and task ids,
file:line errors for a bad file, a missing --problems is one usage line, and resumed runs refuse another
problems file (generation and execution)."""

import json

import pytest

from textbooks.cli import main
from textbooks.eval.tasks import benchmark_data_dirs, build_program, final_statement, load_tasks

RECORDS = [
    {"id": "ex-add", "prompt": 'def add(a: int, b: int) -> int:\n    """Return a + b.\n\n    >>> add(1, 2)\n    3\n    """\n',
     "completion": "    return a + b\n", "entry_point": "add",
     "tests": "assert add(1, 2) == 3\nassert add(-1, 1) == 0\n", "metadata": {"family": "arith.add"}},
    # a comment and a multi-line assert: the last statement, whole, is what the program must end with
    {"id": "ex-rev", "prompt": 'def rev(s: str) -> str:\n    """Reverse s."""\n', "completion": "    return s[::-1]\n",
     "entry_point": "rev", "tests": "# edge cases\nassert rev('') == ''\nassert rev(\n    'ab') == 'ba'\n",
     "metadata": {"family": "strings.reverse"}},
    # the prompt's import is part of the program the completion continues
    {"id": "ex-hyp", "prompt": 'import math\n\n\ndef hyp(a: float, b: float) -> float:\n    """Hypotenuse."""\n',
     "completion": "    return math.hypot(a, b)\n", "entry_point": "hyp", "tests": "assert hyp(3, 4) == 5.0\n",
     "metadata": {"family": "geometry.hypot"}},
]


def _write(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


@pytest.fixture
def problems(tmp_path):
    (tmp_path / "heldout").mkdir()
    return _write(tmp_path / "heldout" / "exercises.jsonl", RECORDS)


def _rows(path):
    return [json.loads(line) for line in open(path)]


def test_tasks_programs_and_ids(problems):
    tasks = load_tasks("exercises", problems=problems)
    assert [t.task_id for t in tasks] == ["Exercise/ex-add", "Exercise/ex-rev", "Exercise/ex-hyp"]
    rev = tasks[1]
    assert rev.reference == "    return s[::-1]\n" and rev.extra["metadata"]["family"] == "strings.reverse"
    program = build_program("exercises", rev, rev.reference)
    assert program == rev.prompt + rev.reference + "\nassert rev('') == ''\nassert rev(\n    'ab') == 'ba'"
    assert program.endswith(final_statement("exercises", rev)) and final_statement("exercises", rev).startswith("assert rev(\n")
    assert load_tasks("exercises", "test", problems=problems) == tasks
    from textbooks.eval.report import benchmark_of

    assert benchmark_of("Exercise/ex-add") == "exercises"
    # the file's folder is among the directories the sandbox hides
    assert str(problems.parent.resolve()) in benchmark_data_dirs()


def test_references_pass_in_the_sandbox_and_a_wrong_body_fails(problems, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    samples = [{"task_id": f"Exercise/{r['id']}", "completion": r["completion"], "completion_id": 0} for r in RECORDS]
    samples.append({"task_id": "ex-add", "completion": "    return a - b\n", "completion_id": 1})  # bare id: prefixed
    # the answers' file is not visible to the programs: this body passes only if it cannot see it
    samples.append({"task_id": "Exercise/ex-rev", "completion_id": 1, "completion":
                    f"    import os\n    assert not os.path.exists({str(problems)!r})\n    return s[::-1]\n"})
    path = _write(tmp_path / "samples.jsonl", samples)
    assert main(["eval", "execute", "--benchmark", "exercises", "--problems", str(problems), "--samples", str(path),
                 "--workers", "2"]) == 0
    verdicts = {(r["task_id"], r["completion_id"]): (r["passed"], r["result"]) for r in _rows(f"{path}_results.jsonl")}
    assert all(verdicts[(f"Exercise/{r['id']}", 0)][0] for r in RECORDS), verdicts
    assert verdicts[("Exercise/ex-add", 1)][0] is False and "AssertionError" in verdicts[("Exercise/ex-add", 1)][1]
    assert verdicts[("Exercise/ex-rev", 1)] == (True, "passed")
    summary = json.loads((tmp_path / "samples.jsonl_summary.json").read_text())
    assert summary["benchmark"] == "exercises" and summary["pass@1"] == pytest.approx((1 + 0.5 + 1) / 3)
    assert summary["problems"]["path"] == str(problems.resolve()) and len(summary["problems"]["sha256"]) == 64
    assert "exercises: 5 samples over 3 tasks" in capsys.readouterr().out

    # isolated verdicts (the completion in its own process) agree
    from textbooks.eval.execute import execute_samples

    rows = execute_samples("exercises", [{k: v for k, v in s.items()} for s in samples], workers=2, problems=problems,
                           verdict="isolated")
    assert [r["passed"] for r in rows] == [True, True, True, False, True]


@pytest.mark.parametrize("verb", [
    ["eval", "execute", "--samples", "{samples}"],
    ["eval", "generate", "--model", "{tmp}", "--out", "{tmp}/o.jsonl"],
    ["eval", "run", "--model", "{tmp}", "--out", "{tmp}/o.jsonl"],
    ["eval", "nll", "--model", "{tmp}", "--out", "{tmp}/o.json"],
])
def test_missing_problems_is_one_usage_line(verb, tmp_path, capsys):
    samples = _write(tmp_path / "s.jsonl", [{"task_id": "Exercise/ex-add", "completion": "    return 0\n"}])
    args = [a.format(samples=samples, tmp=tmp_path) for a in verb] + ["--benchmark", "exercises"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "pass --problems FILE" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.jsonl").exists() and not (tmp_path / "o.json").exists()
    # and --problems with a benchmark that reads its own data is refused the same way
    assert main([a for a in args if a != "exercises"][:-1] + ["--benchmark", "humaneval", "--problems", str(samples)]) == 2
    assert "--problems (problems=) is for --benchmark exercises only" in capsys.readouterr().err


@pytest.mark.parametrize("line, message", [
    ('{"id": "x", "prompt": "def f():\\n", "completion": "    return 1\\n", "entry_point": "f"}', "(missing or not a string: tests)"),
    ("not json", "not valid JSON"),
    ('{"id": "x", "prompt": "def f():\\n", "completion": "    return 1\\n", "entry_point": "f", "tests": "assert f( == 1"}',
     "the tests do not parse"),
    ('{"id": "x", "prompt": "def f():\\n", "completion": "    return 1\\n", "entry_point": "f", "tests": "# none\\n"}',
     "the tests hold no statement"),
    ('{"id": "ex-add", "prompt": "def f():\\n", "completion": "    return 1\\n", "entry_point": "f", "tests": "assert f()"}',
     "duplicate id 'ex-add' (also on line 1)"),
])
def test_a_bad_file_names_file_and_line(tmp_path, line, message):
    path = _write(tmp_path / "bad.jsonl", [RECORDS[0], line])
    with pytest.raises(ValueError) as e:
        load_tasks("exercises", problems=path)
    assert f"{path}:2: " in str(e.value) and message in str(e.value)
    with pytest.raises(ValueError, match="pass --problems FILE"):
        load_tasks("exercises")


def test_resumed_runs_refuse_another_problems_file(problems, tmp_path, tiny_tokenizer_dir, monkeypatch):
    from tests.conftest import save_tiny_phi
    from textbooks.eval.generate import GenerateError, generate_samples
    from textbooks.eval.run import execute_resumable

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    other = _write(tmp_path / "other.jsonl", [{**r, "tests": r["tests"] + "assert True\n"} for r in RECORDS])
    ckpt = save_tiny_phi(tmp_path / "tiny-phi", tiny_tokenizer_dir, init_std=0.2)
    out = tmp_path / "ex.samples.jsonl"
    s = generate_samples("exercises", ckpt, out, problems=problems, max_new_tokens=4, progress=False)
    assert (s["tasks"], s["written"]) == (3, 3)
    meta = json.loads((tmp_path / "ex.samples.meta.json").read_text())
    assert meta["problems"] == str(problems.resolve()) and meta["prompt_format"] == "humaneval@1"
    assert generate_samples("exercises", ckpt, out, problems=problems, max_new_tokens=4, progress=False)["written"] == 0
    with pytest.raises(GenerateError, match=r"--problems: the samples were drawn from .*exercises\.jsonl"):
        generate_samples("exercises", ckpt, out, problems=other, max_new_tokens=4, progress=False)

    kw = dict(ks=None, workers=2, timeout=None, memory_mb=2048, isolation="auto", progress=False)
    done = execute_resumable("exercises", out, problems=problems, **kw)
    assert done["executed"] == 3 and done["summary"]["execution_settings"]["problems_sha256"] == meta["problems_sha256"]
    assert execute_resumable("exercises", out, problems=problems, **kw)["reused"] == 3
    with pytest.raises(ValueError, match=r"--problems \(the file's sha256\)"):
        execute_resumable("exercises", out, problems=other, **kw)


def test_a_huge_record_is_refused_by_line_not_tokenized(tmp_path):
    import time

    from textbooks.eval.tasks import load_exercises

    path = tmp_path / "huge.jsonl"
    rec = {"id": "big", "prompt": "def f():\n    \"\"\"" + "x" * 5_000_000 + "\"\"\"\n", "completion": "    return 1\n",
           "entry_point": "f", "tests": "assert f() == 1\n"}
    path.write_text(json.dumps(rec) + "\n")
    start = time.monotonic()
    with pytest.raises(ValueError, match=r"huge.jsonl:1: the record is 5,000,\d+ characters"):
        load_exercises(path)
    assert time.monotonic() - start < 5
