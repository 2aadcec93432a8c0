"""HumanEval+ / MBPP+ in the EvalPlus release format (tiny hand-made files in that format; the real ones are
not on this machine): loading, the reference's outputs and per-input times measured in the sandbox, per-input
time limits, the float tolerance `atol`, EvalPlus's set-equality oracle and MBPP+ input deserialization."""

import json

import pytest

from textbooks.eval import tasks as T
from textbooks.eval.evalplus import matches_source, mbpp_deserialize_inputs
from textbooks.eval.execute import execute_samples
from textbooks.eval.tasks import build_program, load_tasks
from textbooks.eval.timelimits import TimeLimitPolicy, task_time_limits

# The fields of HumanEvalPlus-v0.1.10.jsonl / MbppPlus-v0.2.0.jsonl (evalplus/data/utils.py completeness_check),
# no expected outputs: those come from running canonical_solution.
HUMANEVAL_PLUS = [
    {"task_id": "HumanEval/2", "entry_point": "truncate_number", "contract": "", "atol": 1e-4,
     "prompt": "def truncate_number(number: float) -> float:\n    \"\"\"The decimal part of number.\"\"\"\n",
     "canonical_solution": "    return number % 1.0\n", "test": "def check(candidate):\n    assert candidate(3.5) == 0.5\n",
     "base_input": [[3.5]], "plus_input": [[1.23456789], [123.456]]},
    # a reference that takes 0.3 s on its second input: that input's limit is 4 x 0.3 = 1.2 s, the others the floor
    {"task_id": "HumanEval/900", "entry_point": "slow_echo", "contract": "", "atol": 0,
     "prompt": "import time\n\n\ndef slow_echo(x, delay):\n    \"\"\"x, after `delay` seconds.\"\"\"\n",
     "canonical_solution": "    time.sleep(delay)\n    return x\n", "test": "",
     "base_input": [[1, 0.0]], "plus_input": [[2, 0.3], [3, 0.0]]},
]
MBPP_PLUS = [
    {"task_id": "Mbpp/2", "entry_point": "similar_elements", "contract": "", "atol": 0,
     "prompt": '"""\nWrite a function to find the shared elements from the given two lists.\n'
               'assert set(similar_elements((3, 4, 5, 6),(5, 7, 4, 10))) == set((4, 5))\n"""\n',
     "canonical_solution": "\ndef similar_elements(test_tup1, test_tup2):\n  return tuple(set(test_tup1) & set(test_tup2))\n",
     "base_input": [[[3, 4, 5, 6], [5, 7, 4, 10]]], "plus_input": [[[1, 2, 3], [3, 2]]]},
]
FLOOR = TimeLimitPolicy(floor=0.5)  # EvalPlus's 4 s per input, lowered so that the timeout cases run fast


@pytest.fixture
def plus_data(tmp_path, monkeypatch):
    (tmp_path / "humaneval").mkdir()
    (tmp_path / "mbpp").mkdir()
    (tmp_path / "humaneval" / "HumanEvalPlus-v0.1.10.jsonl").write_text("".join(json.dumps(r) + "\n" for r in HUMANEVAL_PLUS))
    (tmp_path / "mbpp" / "MbppPlus-v0.2.0.jsonl").write_text("".join(json.dumps(r) + "\n" for r in MBPP_PLUS))
    monkeypatch.setattr(T, "data_dirs", lambda: [tmp_path])
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


def test_release_format_loads_and_a_file_in_another_format_is_named(plus_data):
    he = load_tasks("humaneval+")
    assert [t.task_id for t in he] == ["HumanEval/2", "HumanEval/900"]
    assert he[0].extra["n_inputs"] == 3 and he[0].extra["n_base_inputs"] == 1 and he[0].extra["atol"] == 1e-4
    (mb,) = load_tasks("mbpp+")
    # the release prompt is a docstring holding the text and the first assert: kept apart for the prompt formats
    assert mb.prompt == "Write a function to find the shared elements from the given two lists."
    assert mb.tests == ("assert set(similar_elements((3, 4, 5, 6),(5, 7, 4, 10))) == set((4, 5))",)
    assert mb.extra["inputs_literal"] == "[[(3, 4, 5, 6), (5, 7, 4, 10)], [(1, 2, 3), (3, 2)]]"  # tuples again
    with pytest.raises(ValueError, match="need the reference's outputs"):
        build_program("mbpp+", mb, mb.reference)
    # An OriginFmt record (code/test, no inputs) is not the release format: the error names file and line.
    origin = {"task_id": 2, "code": "def f(): pass", "prompt": "x", "test": "assert True", "test_list": []}
    path = plus_data / "mbpp" / "MbppPlus-v0.2.0.jsonl"
    path.write_text(json.dumps(MBPP_PLUS[0]) + "\n" + json.dumps(origin) + "\n")
    with pytest.raises(ValueError, match=r"MbppPlus-v0\.2\.0\.jsonl:2: lacks entry_point, canonical_solution, "
                                         r"base_input, plus_input, atol"):
        load_tasks("mbpp+")


def _run(benchmark, completions, **kw):
    samples = [{"task_id": tid, "completion": c} for tid, c in completions]
    return [(r["passed"], r["result"]) for r in execute_samples(benchmark, samples, workers=2, **kw)]


def test_humaneval_plus_atol_and_per_input_time_limits(plus_data):
    tasks = load_tasks("humaneval+")
    limits = task_time_limits("humaneval+", tasks, policy=FLOOR, workers=2)
    assert limits.mode == "per-input" and limits.measured == 2
    slow = limits.oracles["HumanEval/900"]
    assert slow.expected == "[1, 2, 3]"
    assert slow.limits[0] == slow.limits[2] == 0.5 and 1.2 <= slow.limits[1] < 2.0  # 4 x ~0.3 s
    assert limits.limits["HumanEval/900"] == pytest.approx(sum(slow.limits) + 1, abs=1e-3)  # min(60, sum) + 1
    results = _run("humaneval+", [
        ("HumanEval/2", "    return number % 1.0\n"),  # the reference: passes
        ("HumanEval/2", "    return round(number % 1.0, 5)\n"),  # off by 2e-6 on 1.23456789: within atol 1e-4
        ("HumanEval/2", "    return round(number % 1.0, 2)\n"),  # off by 4e-3: outside atol
        ("HumanEval/2", "    return 0.5\n"),  # right on the base input only: the plus inputs catch it
        ("HumanEval/900", "    time.sleep(delay * 3)\n    return x\n"),  # 0.9 s on input 1: under its 1.2 s
        ("HumanEval/900", "    time.sleep(delay * 10)\n    return x\n"),  # 3 s on input 1: over its limit
    ], time_limits=limits)
    assert results[:2] == [(True, "passed"), (True, "passed")]
    assert results[2] == (False, "failed: AssertionError: wrong output for input 1 of 3")
    assert results[3] == (False, "failed: AssertionError: wrong output for input 1 of 3")
    assert results[4] == (True, "passed")
    assert results[5][0] is False and results[5][1].startswith("failed: InputTimeoutError: input 1 of 3 ran past its limit of 1.2")
    # --timeout 0.5: one fixed limit per input; the candidate 3x slower than the reference now fails
    fixed = _run("humaneval+", [("HumanEval/900", "    time.sleep(delay * 3)\n    return x\n")], timeout=0.5)
    assert fixed == [(False, "failed: InputTimeoutError: input 1 of 3 ran past its limit of 0.5 s")]


def test_humaneval_plus_atol_zero_still_tolerates_1e6_on_floats_as_evalplus(plus_data):
    path = plus_data / "humaneval" / "HumanEvalPlus-v0.1.10.jsonl"
    path.write_text(json.dumps(dict(HUMANEVAL_PLUS[0], atol=0)) + "\n")
    results = _run("humaneval+", [("HumanEval/2", "    return round(number % 1.0, 5)\n"),  # 2e-6 > 1e-6: fails
                                  ("HumanEval/2", "    return round(number % 1.0, 7)\n")],  # 1e-8: passes
                   time_limits=task_time_limits("humaneval+", load_tasks("humaneval+"), policy=FLOOR, workers=2))
    assert results == [(False, "failed: AssertionError: wrong output for input 1 of 3"), (True, "passed")]


def test_mbpp_plus_set_oracle_and_deserialized_inputs(plus_data):
    results = _run("mbpp+", [
        ("Mbpp/2", MBPP_PLUS[0]["canonical_solution"]),
        # another order, a list not a tuple: EvalPlus compares similar_elements as sets; the inputs are tuples
        ("Mbpp/2", "def similar_elements(a, b):\n    assert isinstance(a, tuple) and isinstance(b, tuple)\n"
                   "    return sorted(set(a) & set(b), reverse=True)\n"),
        ("Mbpp/2", "def similar_elements(a, b):\n    return (4, 5)\n"),  # right on the base input only
    ])
    assert results == [(True, "passed"), (True, "passed"), (False, "failed: AssertionError: wrong output for input 1 of 2")]


def test_ported_evalplus_rules():
    # evalplus/data/mbpp.py: task 2 inputs become tuples, 124 a (float, complex) pair, 580 nested tuples
    assert mbpp_deserialize_inputs("Mbpp/2", [[[1, 2], [3]]]) == [[(1, 2), (3,)]]
    assert mbpp_deserialize_inputs("Mbpp/124", [["1", "2+3j"]]) == [(1.0, 2 + 3j)]
    assert mbpp_deserialize_inputs("Mbpp/580", [[[1, [2, 3]], 4]]) == [((1, (2, 3)), 4)]
    assert mbpp_deserialize_inputs("Mbpp/11", [["ab", "a"]]) == [["ab", "a"]]
    # the matcher is plain Python (no numpy in the programs): numpy's allclose rule, EvalPlus's type check
    ns: dict = {}
    exec(compile("import math as _tb_math\n" + _helpers() + matches_source("humaneval+", "f"), "<test>", "exec"), ns)
    match = ns["_tb_matches"]
    assert match((), [1.0, 2.0], [1.0, 2.00001], 1e-4) and not match((), [1.0, 2.0], [1.0, 2.1], 1e-4)
    assert not match((), (1.0, 2.0), [1.0, 2.0], 1e-4)  # tuple vs list: EvalPlus asserts the same type
    assert match((), float("inf"), float("inf"), 0) and not match((), float("nan"), float("nan"), 1e-6)
    assert not match((), "a", 1.0, 1e-4)
    exec(compile("import math as _tb_math\n" + _helpers() + matches_source("humaneval+", "find_zero"), "<t>", "exec"), ns)
    assert ns["_tb_matches"](([-6, 11, -6, 1],), 1.00001, None, 1e-4)  # a root of the polynomial, whatever expected


def _helpers():
    from textbooks.eval.evalplus import _HELPERS

    return _HELPERS
