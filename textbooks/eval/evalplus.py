"""HumanEval+ / MBPP+ (EvalPlus) test programs: every input of the task, each with its own time limit, outputs
compared with the task's float tolerance (`atol`), as EvalPlus's `evalplus.evaluate` does.

The release files (`HumanEvalPlus-v0.1.10.jsonl.gz`, `MbppPlus-v0.2.0.jsonl.gz`, from
github.com/evalplus/{humanevalplus,mbppplus}_release) hold one task per line: `task_id`, `prompt`,
`entry_point`, `canonical_solution`, `contract`, `base_input` and `plus_input` (lists of argument lists) and
`atol`. They hold no expected outputs: EvalPlus runs the canonical solution on every input ("ground truth",
`evalplus/evaluate.py: get_groundtruth`), timing each call, and caches the outputs and times. We do the
same, in the sandbox (`oracle_program`, run by `textbooks.eval.timelimits`), and cache per machine.

A sample then passes when, for every input in order (base inputs, then plus inputs; fail-fast),
`candidate(*input)` returns within `max(floor, factor x the reference's time for that input)` and its
output matches (`matches_source`, a port of `evalplus/eval/__init__.py: unsafe_execute`):
- `out == expected`, else, when `atol != 0` (or the expected value is a float / list of floats, where
  EvalPlus forces atol = 1e-6): same type, same length, and every element within
  `atol + 1e-7 * |expected|` (numpy's `allclose` rule with EvalPlus's rtol = 1e-7; written out in Python
  here, so that programs do not import numpy);
- EvalPlus's special oracles: HumanEval `find_zero` (|poly(x)| <= atol); MBPP `are_equivalent` (any output),
  `sum_div` (or 0), `surface_Area` and `digit_distance_nums` (or a second reading of the task), the tasks
  compared as sets, and those where only "is not None" is checked (see `_MBPP_*` below).
A call that overruns its limit raises `InputTimeoutError` in the program (result "failed:
InputTimeoutError: ..."); the whole program's wall-clock limit is `min(60, sum of the limits) + 1` s
(EVALPLUS_TIMEOUT_PER_TASK). Inputs are written into the program as Python literals; MBPP+ inputs are
first turned back into tuples/sets/complex numbers task by task (`mbpp_deserialize_inputs`, as EvalPlus).

Source: evalplus/evalplus at 26d6d00 (evalplus/eval/__init__.py, eval/_special_oracle.py, data/mbpp.py,
config.py, evaluate.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Sequence

ORACLE_MARK = "\n<<<textbooks-evalplus-oracle>>>\n"
PLUS_FIELDS = ("task_id", "prompt", "entry_point", "canonical_solution", "base_input", "plus_input", "atol")
MAX_PROGRAM_SECONDS = 60.0  # EVALPLUS_TIMEOUT_PER_TASK

# evalplus/eval/_special_oracle.py
_MBPP_NOT_NONE = ("check_str", "text_match_three", "text_starta_endb")
_MBPP_SET_EQ = ("similar_elements", "find_char_long", "common_in_nested_lists", "extract_singly", "larg_nnum",
                "intersection_array", "find_dissimilar", "Diff")


@dataclass(frozen=True)
class Oracle:
    """What a plus task's test program needs besides the candidate: the reference's outputs (Python literal
    source) and one time limit per input."""

    expected: str
    limits: tuple[float, ...]

    @property
    def program_timeout(self) -> float:
        return min(MAX_PROGRAM_SECONDS, sum(self.limits)) + 1.0


# ---------------------------------------------------------------------------------------------- inputs
def _tuples(x):
    return tuple(_tuples(i) for i in x) if isinstance(x, list) else x


def mbpp_deserialize_inputs(task_id: str, inputs: list) -> list:
    """MBPP+ inputs as the functions expect them (JSON has only lists): evalplus/data/mbpp.py, verbatim rules."""
    n = int(str(task_id).split("/")[-1])
    if n in (2, 116, 132, 143, 222, 261, 273, 394, 399, 421, 424, 429, 470, 560, 579, 596, 616, 630, 726, 740,
             744, 809):
        return [[tuple(lst) for lst in inp] for inp in inputs]
    if n in (63, 64, 70, 94, 120, 237, 272, 299, 400, 409, 417, 438, 473, 614, 780):
        return [[[tuple(lst) for lst in lst_lst] for lst_lst in inp] for inp in inputs]
    if n in (75, 413, 444, 753):
        return [[[tuple(lst) for lst in inp[0]]] + [inp[1]] for inp in inputs]
    if n in (106, 750):
        return [[inp[0]] + [tuple(inp[1])] for inp in inputs]
    if n == 115:
        return [[[set(item) if isinstance(item, list) and len(item) else {} for item in inp[0]]] for inp in inputs]
    if n == 124:
        return [(float(inp[0]), complex(inp[1])) for inp in inputs]
    if n in (250, 405, 446, 617, 720, 763, 808):
        return [[tuple(inp[0])] + [inp[1]] for inp in inputs]
    if n in (259, 401, 445):
        inputs = [[[tuple(lst) for lst in lst_lst] for lst_lst in inp] for inp in inputs]
        return [[tuple(lst) for lst in inp] for inp in inputs]
    if n == 278:
        inputs = [[[tuple(item) if isinstance(item, list) else item for item in inp[0]]] for inp in inputs]
        return [[tuple(lst) for lst in inp] for inp in inputs]
    if n == 307:
        return [[tuple(inp[0])] + [inp[1], inp[2]] for inp in inputs]
    if n == 722:
        return [[{key: tuple(value) for key, value in inp[0].items()}] + inp[1:] for inp in inputs]
    if n == 252:
        return [[complex(inp[0])] for inp in inputs]
    if n in (580, 615, 791):
        return [_tuples(inp) for inp in inputs]
    return inputs


def task_inputs(benchmark: str, record: dict) -> list:
    """base_input + plus_input of a release record, deserialized (MBPP+), in the order they are tested."""
    base, plus = list(record["base_input"]), list(record["plus_input"])
    if benchmark == "mbpp+":
        base = mbpp_deserialize_inputs(record["task_id"], base)
        plus = mbpp_deserialize_inputs(record["task_id"], plus)
    return base + plus


# ---------------------------------------------------------------------------------------------- programs
def _reference_source(benchmark: str, task) -> str:
    # evalplus get_groundtruth: problem["prompt"] + problem["canonical_solution"] (MBPP+'s prompt is a docstring)
    return task.extra["plus_prompt"] + task.reference


def oracle_program(benchmark: str, task) -> str:
    """The reference solution run on every input (a deep copy each), printing the per-input seconds and the
    outputs after ORACLE_MARK. Runs in the sandbox, never in the harness."""
    not_none = benchmark == "mbpp+" and task.entry_point in _MBPP_NOT_NONE
    return (
        _reference_source(benchmark, task)
        + "\n\nimport copy as _tb_copy, json as _tb_json, sys as _tb_sys, time as _tb_time\n"
        + "inf, nan = float('inf'), float('nan')\n"
        + f"_tb_inputs = {task.extra['inputs_literal']}\n"
        + "_tb_outputs, _tb_seconds = [], []\n"
        + "for _tb_inp in _tb_inputs:\n"
        + "    _tb_args = _tb_copy.deepcopy(_tb_inp)\n"
        + "    _tb_t0 = _tb_time.perf_counter()\n"
        + f"    _tb_out = {task.entry_point}(*_tb_args)\n"
        + "    _tb_seconds.append(_tb_time.perf_counter() - _tb_t0)\n"
        + ("    _tb_outputs.append(_tb_out is not None)\n" if not_none else "    _tb_outputs.append(_tb_out)\n")
        + f"_tb_sys.stdout.write({ORACLE_MARK!r} + _tb_json.dumps(_tb_seconds) + '\\n' + repr(_tb_outputs))\n"
        + "_tb_sys.stdout.flush()\n"
    )


def parse_oracle_output(task_id: str, output: str, n_inputs: int) -> tuple[list[float], str]:
    """(seconds per input, outputs as literal source) from an oracle program's output."""
    head, mark, tail = output.rpartition(ORACLE_MARK)
    if not mark:
        raise ValueError(f"{task_id}: the reference solution printed no outputs (its output: {output[-300:]!r})")
    times_line, _, expected = tail.partition("\n")
    seconds = json.loads(times_line)
    if len(seconds) != n_inputs:
        raise ValueError(f"{task_id}: the reference gave {len(seconds)} outputs for {n_inputs} inputs")
    return [float(s) for s in seconds], expected


_HELPERS = '''
def _tb_is_floats(x):
    if isinstance(x, float):
        return True
    if isinstance(x, (list, tuple)) and x:
        return all(isinstance(i, float) for i in x)
    return False


def _tb_close(out, exp, atol):
    # numpy.allclose(out, exp, rtol=1e-07, atol=atol), element by element
    if isinstance(exp, (list, tuple)) or isinstance(out, (list, tuple)):
        if not (isinstance(exp, (list, tuple)) and isinstance(out, (list, tuple)) and len(out) == len(exp)):
            return False
        return all(_tb_close(o, e, atol) for o, e in zip(out, exp))
    try:
        return out == exp or abs(out - exp) <= atol + 1e-07 * abs(exp)
    except TypeError:
        return False
'''

_SPECIAL = {  # (benchmark, entry point) -> (helper source, how `exact` is decided); evalplus unsafe_execute
    ("mbpp+", "are_equivalent"): ("", "exact = True"),
    ("mbpp+", "sum_div"): ("", "exact = exact or out == 0"),
    ("mbpp+", "surface_Area"): ('''
def _tb_surface_Area(base_edge, height):
    slant_height = _tb_math.sqrt((base_edge / 2) ** 2 + height**2)
    return round(base_edge**2 + 4 * (base_edge * slant_height) / 2)
''', "exact = exact or abs(out - _tb_surface_Area(*inp)) <= atol"),
    ("mbpp+", "digit_distance_nums"): ('''
def _tb_digit_distance_nums(num1, num2):
    a, b = str(num1), str(num2)
    a, b = a.zfill(max(len(a), len(b))), b.zfill(max(len(a), len(b)))
    return sum(abs(int(x) - int(y)) for x, y in zip(a, b))
''', "exact = exact or out == _tb_digit_distance_nums(*inp)"),
}


def matches_source(benchmark: str, entry_point: str) -> str:
    """Source of `_tb_matches(inp, out, exp, atol) -> bool` for one task (see the module docstring)."""
    if benchmark == "humaneval+" and entry_point == "find_zero":
        return '''
def _tb_poly(xs, x):
    return sum(coeff * _tb_math.pow(x, i) for i, coeff in enumerate(xs))


def _tb_matches(inp, out, exp, atol):
    return abs(_tb_poly(*inp, out)) <= atol
'''
    helper, rule = _SPECIAL.get((benchmark, entry_point), ("", ""))
    if benchmark == "mbpp+" and entry_point in _MBPP_SET_EQ:
        rule = "exact = set(out) == set(exp)"
    elif benchmark == "mbpp+" and entry_point in _MBPP_NOT_NONE:
        rule = "exact = (out == exp) if isinstance(out, bool) else (exp == (out is not None))"
    body = "    exact = out == exp\n" + (f"    {rule}\n" if rule else "")
    return helper + f'''
def _tb_matches(inp, out, exp, atol):
{body}    if atol == 0 and _tb_is_floats(exp):
        atol = 1e-6
    if not exact and atol != 0:
        if type(out) != type(exp):
            return False
        return _tb_close(out, exp, atol)
    return bool(exact)
'''


def test_source(benchmark: str, task, oracle: Oracle) -> str:
    """The test code appended to the candidate's code; its last statement is `check(entry_point)`."""
    atol = float(task.extra["atol"])
    return (
        "\n\n# EvalPlus differential test (textbooks.eval.evalplus): each input with its own time limit\n"
        "import copy as _tb_copy, math as _tb_math, signal as _tb_signal\n"
        "inf, nan = float('inf'), float('nan')\n"
        f"_tb_inputs = {task.extra['inputs_literal']}\n"
        f"_tb_expected = {oracle.expected}\n"
        f"_tb_limits = {list(oracle.limits)!r}\n"
        + _HELPERS + matches_source(benchmark, task.entry_point) + f'''

class InputTimeoutError(TimeoutError):
    pass


def _tb_alarm(signum, frame):
    raise InputTimeoutError("time limit")


def check(candidate):
    _tb_signal.signal(_tb_signal.SIGALRM, _tb_alarm)
    for i, (inp, exp) in enumerate(zip(_tb_inputs, _tb_expected)):
        original = _tb_copy.deepcopy(inp)
        _tb_signal.setitimer(_tb_signal.ITIMER_REAL, _tb_limits[i])
        try:
            out = candidate(*inp)
        except InputTimeoutError:
            raise InputTimeoutError(f"input {{i}} of {{len(_tb_inputs)}} ran past its limit of {{_tb_limits[i]:.3g}} s") from None
        finally:
            _tb_signal.setitimer(_tb_signal.ITIMER_REAL, 0)
        assert _tb_matches(original, out, exp, {atol!r}), f"wrong output for input {{i}} of {{len(_tb_inputs)}}"

'''
        + f"check({task.entry_point})"
    )


def candidate_source(benchmark: str, task, completion: str) -> str:
    """HumanEval+: the completion continues the prompt; MBPP+: the completion is the whole program."""
    return (task.prompt + completion) if benchmark == "humaneval+" else completion


def input_limits(seconds: Sequence[float], floor: float, factor: float) -> tuple[float, ...]:
    """evalplus untrusted_check: max(min_time_limit, gt_time_limit_factor x the reference's time), per input."""
    return tuple(round(max(floor, factor * s), 4) for s in seconds)
