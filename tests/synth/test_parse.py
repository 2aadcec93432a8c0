"""The answer parser: the documented shape and variants are accepted, everything else dropped with a reason."""

from __future__ import annotations

import pytest

from textbooks.synth.parse import Drop, Exercise, code_blocks, parse_exercise, parse_textbook

SOLUTION = '''from typing import List

def evens(xs: List[int]) -> List[int]:
    """Return the even numbers of xs, in order."""
    return [x for x in xs if x % 2 == 0]
'''
TESTS = "assert evens([1, 2, 4]) == [2, 4]\nassert evens([]) == []\n"


def fenced(code: str, tag: str = "python") -> str:
    return f"```{tag}\n{code}```\n"


def test_the_asked_shape_splits_prompt_and_completion_exactly():
    ex = parse_exercise("Sure!\n\n" + fenced(SOLUTION) + "\nTests:\n" + fenced(TESTS) + "\nHope it helps.", "evens")
    assert isinstance(ex, Exercise) and ex.entry_point == "evens" and not ex.renamed
    assert ex.prompt + ex.completion == SOLUTION
    assert ex.prompt.endswith('"""Return the even numbers of xs, in order."""\n')
    assert ex.completion == "    return [x for x in xs if x % 2 == 0]\n"
    assert ex.tests == TESTS and ex.tests_style == "asserts" and ex.variants == []


@pytest.mark.parametrize("answer, variant", [
    (fenced(SOLUTION + "\n\n" + TESTS), "one_block"),
    (fenced(SOLUTION) + fenced("def check(candidate):\n    assert candidate([2]) == [2]\n    assert candidate([1]) == []\n\ncheck(evens)\n"), "check"),
    (fenced(SOLUTION) + fenced('if __name__ == "__main__":\n    assert evens([2]) == [2]\n    assert evens([]) == []\n'), "main_guard"),
    (fenced(SOLUTION) + fenced("def test_evens():\n    assert evens([2]) == [2]\n    assert evens([3]) == []\n"), "test_functions"),
    (fenced(SOLUTION, "py") + fenced(TESTS, ""), None),
    (fenced(SOLUTION) + fenced(TESTS) + fenced("print(evens([1, 2]))\n"), "extra_blocks"),
])
def test_documented_variants_are_accepted(answer, variant):
    ex = parse_exercise(answer, "evens")
    assert isinstance(ex, Exercise), ex
    assert ex.prompt + ex.completion == SOLUTION.rstrip() + "\n"
    if variant:
        assert variant in ex.variants
    if variant == "check":
        assert "check(evens)" not in ex.tests and ex.tests_style == "check"
    if variant == "test_functions":
        assert ex.tests.rstrip().endswith("test_evens()")


def test_a_different_name_that_the_tests_call_is_taken_and_counted_as_renamed():
    ex = parse_exercise(fenced(SOLUTION) + fenced(TESTS), "even_numbers")
    assert isinstance(ex, Exercise) and ex.entry_point == "evens" and ex.renamed


@pytest.mark.parametrize("answer, reason", [
    (None, "no answer"),
    ("I cannot help with that.", "no code block"),
    ("```python\ndef f(x):\n    return x\n", "unterminated code block"),
    (fenced("def evens(xs:\n    pass\n") + fenced(TESTS), "syntax error"),
    (fenced(SOLUTION) + fenced("assert evens([1]) == [\n"), "syntax error"),
    (fenced("x = 1\n") + fenced(TESTS), "function not found"),
    (fenced(SOLUTION.replace('    """Return the even numbers of xs, in order."""\n', "")) + fenced(TESTS), "no docstring"),
    (fenced('def evens(xs):\n    """Evens."""\n    ...\n') + fenced(TESTS), "empty body"),
    (fenced(SOLUTION) + fenced("assert evens([2]) == [2]\n"), "no tests"),
    (fenced(SOLUTION) + fenced("print(evens([2]))\n"), "no tests"),
    (fenced(SOLUTION) + fenced("assert True\nassert 1 == 1\n"), "no tests"),
])
def test_everything_else_is_dropped_with_its_reason(answer, reason):
    out = parse_exercise(answer, "evens")
    assert isinstance(out, Drop) and out.reason == reason, out


def test_fences_need_a_matching_close_and_other_languages_are_not_code():
    blocks, open_fence = code_blocks("````python\n```\nnot closed yet\n````\n```bash\nls\n```\n")
    assert not open_fence and [b.lang for b in blocks] == ["python", "bash"] and "not closed yet" in blocks[0].code


def test_textbook_sections_split_at_headings_outside_code():
    text = ("## Loops\n\nA loop repeats work. " + "word " * 60 + "\n\n```python\n# not a heading\nfor i in range(2):\n"
            "    print(i)  # -> 0, 1\n```\n\n## Summary\n\n" + "more " * 70 + "\n\n```python\nprint(1)\n```\n")
    book = parse_textbook(text, min_words=50)
    assert book.title == "Loops" and len(book.sections) == 2
    assert book.sections[0].blocks == ["# not a heading\nfor i in range(2):\n    print(i)  # -> 0, 1\n"]
    assert parse_textbook("## T\n\nshort\n\n```python\nx = 1\n```\n").reason == "too short"
    assert parse_textbook("## T\n\n" + "w " * 200).reason == "no code block"


def test_hostile_shapes_are_drops_not_crashes():
    deep = fenced('def evens(xs):\n    """D."""\n    return ' + "[" * 3000 + "]" * 3000 + "\n") + fenced(TESTS)
    assert parse_exercise(deep, "evens").reason == "syntax error"
    assert parse_exercise("x" * 200_000).reason == "too long"
    assert parse_exercise(fenced('def evens(xs):\n    """D."""\n    return \x00\n') + fenced(TESTS)).reason == "syntax error"
    many = "".join(fenced(f"print({i})\n") for i in range(1000))
    assert parse_exercise(many + fenced(SOLUTION) + fenced(TESTS), "evens").entry_point == "evens"
    crlf = (fenced(SOLUTION) + fenced(TESTS)).replace("\n", "\r\n")
    ex = parse_exercise(crlf, "evens")
    assert isinstance(ex, Exercise) and ex.completion.strip() == "return [x for x in xs if x % 2 == 0]"
