"""The project's unconventional problem set (paper §4 style): well-formed HumanEval records whose reference
solutions pass through the sandboxed `execute`, whose docstring examples are right, and whose tests reject
trivial and plausible-but-wrong solutions."""

import ast
import json

import pytest

from textbooks.eval.execute import execute_samples
from textbooks.eval.tasks import UNCONVENTIONAL_FILE, load_unconventional


@pytest.fixture(scope="module")
def problems():
    return [json.loads(line) for line in UNCONVENTIONAL_FILE.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def sandbox():
    from textbooks.eval.sandbox import Sandbox, SandboxConfig

    box = Sandbox(SandboxConfig(timeout=5.0, workers=2))
    yield box
    box.close()


def _run(problems, completions, sandbox):
    samples = [{"task_id": p["task_id"], "completion": c} for p, c in zip(problems, completions)]
    return execute_samples("unconventional", samples, sandbox=sandbox)


def test_records_are_well_formed(problems):
    assert len(problems) >= 30
    assert [p["task_id"] for p in problems] == [f"Unconventional/{i}" for i in range(len(problems))]
    assert len({p["entry_point"] for p in problems}) == len(problems)
    for p in problems:
        assert set(p) == {"task_id", "prompt", "canonical_solution", "test", "entry_point"}, p["task_id"]
        tree = ast.parse(p["prompt"] + p["canonical_solution"])
        funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
        assert [f.name for f in funcs] == [p["entry_point"]], p["task_id"]
        doc = ast.get_docstring(funcs[0])
        assert doc and ">>> " in doc, f"{p['task_id']}: the docstring needs a description and an example"
        assert "def check(candidate):" in p["test"]
        assert p["test"].count("assert candidate(") >= 4, f"{p['task_id']}: too few tests"
    assert len(load_unconventional()) == len(problems)  # the loader `eval generate/execute` use agrees


def test_reference_solutions_pass_execute(problems, sandbox):
    results = _run(problems, [p["canonical_solution"] for p in problems], sandbox)
    failed = [(r["task_id"], r["result"]) for r in results if not r["passed"]]
    assert not failed


def test_docstring_examples_match_the_reference(problems, sandbox):
    # Appended after the reference body, at top level: run the docstring's >>> examples with doctest.
    doctest_tail = (
        "\n\nimport doctest as _doctest\n"
        "_runner = _doctest.DocTestRunner(verbose=False)\n"
        "for _t in _doctest.DocTestFinder().find({entry}, globs=dict(globals())):\n"
        "    _runner.run(_t, out=lambda _s: None)\n"
        "assert _runner.tries >= 1 and _runner.failures == 0, 'docstring example disagrees with the reference'\n"
    )
    completions = [p["canonical_solution"] + doctest_tail.format(entry=p["entry_point"]) for p in problems]
    results = _run(problems, completions, sandbox)
    assert [r["task_id"] for r in results if not r["passed"]] == []


@pytest.mark.parametrize("body", ["    return None\n", "    pass\n", "    raise NotImplementedError\n"])
def test_trivial_solutions_fail_everywhere(problems, sandbox, body):
    results = _run(problems, [body] * len(problems), sandbox)
    assert [r["task_id"] for r in results if r["passed"]] == []


def test_echoing_the_first_argument_fails_everywhere(problems, sandbox):
    completions = []
    for p in problems:
        func = next(n for n in ast.parse(p["prompt"]).body if isinstance(n, ast.FunctionDef))
        completions.append(f"    return {func.args.args[0].arg}\n")
    results = _run(problems, completions, sandbox)
    assert [r["task_id"] for r in results if r["passed"]] == []


# Plausible wrong solutions: each gets one detail of the docstring wrong, and the tests must notice.
WRONG = {
    "sort_concat_square_deduplicate": (  # squares the odd indices instead of the even ones
        "    merged = sorted(list1) + sorted(list2)\n"
        "    squared = [x * x if i % 2 == 1 else x for i, x in enumerate(merged)]\n"
        "    result = []\n"
        "    for x in squared:\n"
        "        if x >= my_threshold and x not in result:\n"
        "            result.append(x)\n"
        "    return result\n"),
    "rotate_left_by_sum": (  # rotates right
        "    if not lst:\n        return []\n    k = sum(lst) % len(lst)\n    return lst[-k:] + lst[:-k] if k else list(lst)\n"),
    "shift_vowels_in_cycle": (  # loses the case of upper-case vowels
        "    vowels = 'aeiou'\n"
        "    return ''.join(vowels[(vowels.index(c.lower()) + shift) % 5] if c.lower() in vowels else c for c in text)\n"),
    "fibonacci_index_upper": (  # 1, 2, 3, 5, 8 without index 0
        "    fib, a, b = set(), 1, 2\n"
        "    while a < len(s):\n        fib.add(a)\n        a, b = b, a + b\n"
        "    return ''.join(c.upper() if i in fib else c.lower() for i, c in enumerate(s))\n"),
    "spiral_read_grid": (  # reads row by row: forgets the spiral
        "    if not word:\n        return ''\n"
        "    rows = -(-len(word) // width)\n    return word + '*' * (rows * width - len(word))\n"),
    "word_length_ranking": (  # keeps repeated words
        "    words = [w.strip('.,!?') for w in sentence.split()]\n    words = [w for w in words if w]\n"
        "    return ','.join(f'{len(w)}:{w}' for w in sorted(words, key=lambda w: -len(w)))\n"),
    "even_collatz_steps_product": (  # multiplies the odd step counts
        "    product = 1\n    for n in nums:\n        steps = 0\n        while n != 1:\n"
        "            n = n // 2 if n % 2 == 0 else 3 * n + 1\n            steps += 1\n"
        "        if steps % 2 == 1:\n            product *= steps\n    return product\n"),
    "swap_halves_negate_front": (  # negates the wrong half
        "    h = len(lst) // 2\n    first, middle, second = lst[:h], lst[h:len(lst) - h], lst[len(lst) - h:]\n"
        "    return second + middle + [-x for x in first]\n"),
    "running_median_parity_flags": (  # takes the upper middle value instead of the mean for even lengths
        "    out = []\n    for i in range(1, len(nums) + 1):\n        m = sorted(nums[:i])[i // 2]\n"
        "        out.append('E' if m % 2 == 0 else 'O')\n    return ''.join(out)\n"),
}


def test_plausible_wrong_solutions_fail(problems, sandbox):
    by_entry = {p["entry_point"]: p for p in problems}
    chosen = [by_entry[name] for name in WRONG]
    results = _run(chosen, list(WRONG.values()), sandbox)
    assert [r["task_id"] for r in results if r["passed"]] == []
    # They fail on an assert (the tests caught them), not by crashing.
    assert all(r["result"].startswith("failed: AssertionError") for r in results), [r["result"] for r in results]
