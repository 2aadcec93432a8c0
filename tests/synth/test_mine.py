"""The miner (textbooks.synth.offline.mine): exactly the right functions of a hand-written module become
exercises, with the expected tests; every mined exercise passes in a plain subprocess run of python (a
harness written here, not our sandbox) and goes through the teacher-answer parser; and over the standard
library most mined items pass (a failing one points to a miner bug: a lost dependency, a mis-rendered
expected value)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from datatrove.data import Document

from textbooks.data.sources import stdlib_dir
from textbooks.synth.offline.mine import Mined, mine_documents, mine_functions, mined_answer
from textbooks.synth.parse import Exercise, parse_exercise

MODULE = '''\
"""Small utilities; some make exercises, most must not."""

import functools
import json
import math
import os
from collections import Counter

SCALE = 10
total = 0


def most_common_letter(text):
    """Return the most common letter of `text`; ties go to the letter seen first.

    >>> most_common_letter("banana")
    'a'
    >>> most_common_letter("abcab")  # a and b tie
    'a'
    >>> most_common_letter("z")
    'z'
    """
    counts = Counter(text)
    return max(text, key=lambda c: (counts[c], -text.index(c)))


def hypotenuse(a, b):
    """The length of the hypotenuse of a right triangle with legs a and b.

    >>> hypotenuse(3, 4)
    5.0
    >>> hypotenuse(1, 1)
    1.4142135623730951
    >>> hypotenuse(-1, 0)
    Traceback (most recent call last):
        ...
    ValueError: legs must be non-negative
    """
    if a < 0 or b < 0:
        raise ValueError("legs must be non-negative")
    return math.sqrt(a * a + b * b)


def scaled(x):
    """Multiply x by the module's SCALE.

    >>> scaled(2)
    20
    >>> scaled(0)
    0
    """
    return x * SCALE


def home_file(name):
    """The path of `name` in the home directory.

    >>> home_file("a") == home_file("a")
    True
    >>> isinstance(home_file("b"), str)
    True
    """
    return os.path.join(os.path.expanduser("~"), name)


def add(a, b):
    return a + b


assert add(1, 2) == 3
assert add(-1, 1) == 0


class Stack:
    def peek_or(self, default):
        """The top item, or `default` when empty.

        >>> Stack().peek_or(1)
        1
        >>> Stack().peek_or(2)
        2
        """
        items = getattr(self, "items", [])
        return items[-1] if items else default


def first_squares(n):
    """The squares of 0..n-1.

    >>> first_squares(3)
    [0, 1, 4]
    >>> first_squares(100)
    [0, 1, 4, ...]
    """
    return [i * i for i in range(n)]


def _digits(n):
    out = []
    while n:
        n, d = divmod(n, 10)
        out.append(d)
    return out[::-1] or [0]


def digit_sum(n):
    """The sum of the decimal digits of a non-negative integer n.

    >>> digit_sum(0)
    0
    >>> digit_sum(1234)
    10
    """
    return sum(_digits(n))

\x0c
def clamp(x, low, high):
    """x limited to the range [low, high].

    >>> clamp(5, 0, 3)
    3
    """
    return max(low, min(x, high))


assert clamp(-2, 0, 3) == 0
assert clamp(2, 0, 3) == 2
assert clamp(SCALE, 0, 3) == 3


def is_even(n):
    """Whether n is even.

    >>> is_even(4) == True
    True
    >>> is_even(3)
    False
    """
    return n % 2 == 0


@functools.lru_cache(maxsize=None)
def fib(n):
    """The n-th Fibonacci number.

    >>> fib(0)
    0
    >>> fib(10)
    55
    """
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def shout(text):
    """Print text in capitals and return its length.

    >>> shout("hi")
    HI
    2
    >>> shout("")
    <BLANKLINE>
    0
    """
    print(text.upper())
    return len(text)


def evaluate(expression):
    """The value of an arithmetic expression.

    >>> evaluate("1 + 2")
    3
    >>> evaluate("2 * 3")
    6
    """
    return eval(expression)


def answer(question):
    """The answer to every question.

    >>> answer("life")
    42
    >>> answer("")
    42
    """
    return 42


def count_up(n):
    """Count from 0 to n - 1.

    >>> list(count_up(2))
    [0, 1]
    >>> list(count_up(0))
    []
    """
    i = 0
    while i < n:
        yield i
        i += 1


async def doubled(x):
    """Twice x.

    >>> doubled(1)
    2
    >>> doubled(2)
    4
    """
    return 2 * x


def outer(values):
    def inner(v):
        """v plus one.

        >>> inner(1)
        2
        >>> inner(2)
        3
        """
        return v + 1
    return [inner(v) for v in values]


def halve(n):
    """Half of n, rounded down.

    >>> halve(5)
    2
    >>> halve(4)
    2
    """
    # TODO: negative numbers
    return n // 2


def parse_pairs(text):
    """The key/value pairs of a JSON object, sorted.

    >>> parse_pairs('{"b": 1, "a": 2}')
    [('a', 2), ('b', 1)]
    >>> parse_pairs('{}')
    []
    """
    return sorted(json.loads(text).items())


def _times_scale(x):
    return x * SCALE


def scaled_sum(values):
    """The sum of the values, each scaled.

    >>> scaled_sum([1, 2])
    30
    >>> scaled_sum([])
    0
    """
    return sum(_times_scale(v) for v in values)


def bump(n):
    """Add n to the running total and return it.

    >>> bump(1)
    1
    >>> bump(2)
    3
    """
    global total
    total += n
    return total


def _private_double(x):
    """Twice x.

    >>> _private_double(1)
    2
    >>> _private_double(3)
    6
    """
    return x + x


def fenced(text):
    """Wrap text in a markdown code fence.

    ```
    an example fence
    ```

    >>> fenced("x")
    '```x```'
    >>> fenced("")
    '``````'
    """
    return "```" + text + "```"


@functools.singledispatch
def describe(value):
    """A word for the kind of value.

    >>> describe("a")
    'thing'
    >>> describe(3)
    'number'
    """
    kind = "thing"
    return kind


@describe.register(int)
def _(value):
    return "number"
'''

EXPECTED = {"most_common_letter", "hypotenuse", "digit_sum", "clamp", "is_even", "fib"}


def run_plain(program: str, cwd: Path) -> str | None:
    """None when `program` runs clean in a fresh `python -I`, else why not. One process per program: a
    crash (a C stack overflow kills the interpreter) or a hang must not take the others down with it."""
    try:
        proc = subprocess.run([sys.executable, "-I", "-c", program], capture_output=True, text=True, timeout=20,
                              cwd=cwd)
    except subprocess.TimeoutExpired:
        return "timed out"
    if proc.returncode == 0:
        return None
    lines = proc.stderr.strip().splitlines()
    return f"exit {proc.returncode}: {lines[-1] if lines else ''}"


def _by_name(mined: list[Mined]) -> dict[str, Mined]:
    return {m.entry_point: m for m in mined}


def test_exactly_the_self_contained_tested_functions_are_mined():
    mined = _by_name(mine_functions(MODULE, "doc-1"))
    assert set(mined) == EXPECTED
    assert all(m.origin == "doc-1" for m in mined.values())
    lines = MODULE.split("\n")  # the form feed before `def clamp` must not shift line numbers
    for name, m in mined.items():
        assert lines[m.line - 1].startswith(f"def {name}("), (name, m.line)


def test_tests_come_from_literal_doctests_and_literal_top_level_asserts():
    mined = _by_name(mine_functions(MODULE, "doc-1"))
    assert mined["most_common_letter"].tests == (
        "assert most_common_letter('banana') == 'a'\n"
        "assert most_common_letter('abcab') == 'a'\n"
        "assert most_common_letter('z') == 'z'\n")
    # Floats compare with a tolerance; the example raising ValueError is left out.
    assert mined["hypotenuse"].tests == (
        "assert abs(hypotenuse(3, 4) - 5.0) < 1e-09\n"
        "assert abs(hypotenuse(1, 1) - 1.4142135623730951) < 1e-09\n")
    # One doctest, then the file's asserts with literal arguments (not the one passing SCALE).
    assert mined["clamp"].tests == ("assert clamp(5, 0, 3) == 3\n"
                                    "assert clamp(-2, 0, 3) == 0\n"
                                    "assert clamp(2, 0, 3) == 2\n")
    # A comparison shown as True stays a comparison (never `is_even(4) == True == True`).
    assert mined["is_even"].tests == "assert is_even(4) == True\nassert is_even(3) is False\n"


def test_sources_carry_their_imports_helpers_and_docstrings():
    mined = _by_name(mine_functions(MODULE, "doc-1"))
    assert mined["most_common_letter"].source.startswith("from collections import Counter\n\n\ndef most_common_letter(")
    assert mined["hypotenuse"].source.startswith("import math\n\n\ndef hypotenuse(")
    assert mined["fib"].source.startswith("import functools\n\n\n@functools.lru_cache(maxsize=None)\ndef fib(n):")
    digit_sum = mined["digit_sum"].source
    assert digit_sum.startswith("def _digits(n):\n") and "\n\n\ndef digit_sum(n):\n" in digit_sum
    assert ">>> digit_sum(1234)" in digit_sum, "the docstring keeps its examples: they are part of the prompt"
    for m in mined.values():
        assert "import os" not in m.source and "import json" not in m.source and "SCALE" not in m.source
        compile(m.source, m.entry_point, "exec")


def test_every_mined_exercise_passes_in_a_plain_subprocess(tmp_path):
    mined = mine_functions(MODULE, "doc-1")
    failures = {m.entry_point: why for m in mined if (why := run_plain(m.source + "\n" + m.tests, tmp_path))}
    assert not failures, failures
    # The harness can fail: a wrong expected value is caught.
    m = _by_name(mined)["clamp"]
    assert run_plain(m.source + "\nassert clamp(5, 0, 3) == 4\n", tmp_path) is not None


def test_mined_answers_parse_as_teacher_answers():
    for m in mine_functions(MODULE, "doc-1"):
        ex = parse_exercise(mined_answer(m))
        assert isinstance(ex, Exercise), (m.entry_point, ex)
        assert ex.entry_point == m.entry_point
        assert ex.solution == m.source and ex.tests == m.tests
        # The prompt is signature + docstring (its examples included), the completion the body.
        assert ex.prompt.rstrip().endswith('"""') and ">>> " in ex.prompt
        assert "return" in ex.completion and '"""' not in ex.completion


def test_mine_documents_deduplicates_and_stops_at_the_limit():
    docs = [Document(text=MODULE, id="a.py"), Document(text="def broken(:\n", id="b.py"),
            Document(text=MODULE, id="c.py")]
    every = list(mine_documents(docs))
    assert sorted(m.entry_point for m in every) == sorted(EXPECTED), "the copy in c.py is not mined again"
    assert {m.origin for m in every} == {"a.py"}
    assert len(list(mine_documents(docs, limit=2))) == 2
    assert mine_functions("def broken(:\n", "b.py") == []
    assert mine_functions("x = 1\x00\n", "nul.py") == []


def _stdlib_files(cap: int = 600) -> list[Path]:
    """Up to `cap` .py files of the standard library, in a fixed walk order, outside test/ and idlelib/."""
    root = stdlib_dir()
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root).parts
        dirnames[:] = sorted(d for d in dirnames if not (not rel and d in {"test", "idlelib", "site-packages"})
                             and d != "__pycache__")
        out.extend(Path(dirpath) / f for f in sorted(filenames) if f.endswith(".py"))
        if len(out) >= cap:
            break
    return out[:cap]


def test_mining_the_standard_library(tmp_path):
    root = stdlib_dir()
    mined: list[Mined] = []
    read = 0
    for path in _stdlib_files():
        try:
            text = path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        read += 1
        mined.extend(mine_functions(text, str(path.relative_to(root))))
    failures = {f"{m.origin}:{m.line} {m.entry_point}": why for m in mined
                if (why := run_plain(m.source + "\n" + m.tests, tmp_path))}
    passed = len(mined) - len(failures)
    report = (f"stdlib: {read} files read, {len(mined)} functions mined, {passed}/{len(mined)} pass in a plain "
              f"subprocess: {sorted(f'{m.origin}:{m.entry_point}' for m in mined)}; failures: {failures}")
    print(report)
    assert read >= 500, report
    # statistics.multimode: a doctested function that needs an import from the top of its file.
    assert any(m.entry_point == "multimode" and m.source.startswith("from collections import Counter\n")
               for m in mined), report
    assert len(mined) >= 3 and passed / len(mined) >= 0.8, report
    drops = {m.entry_point: ex for m in mined if not isinstance(ex := parse_exercise(mined_answer(m)), Exercise)}
    assert not drops, drops
