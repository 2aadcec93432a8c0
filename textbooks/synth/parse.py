"""Teacher answers -> exercises and textbook sections, or a drop reason.

What an exercise answer must look like (textbooks/synth/prompts/exercise_v1.md asks for it):

    ```python
    from typing import List                       # imports, helpers
    def valid_guessing_letters(word: str, guesses: List[str]) -> List[str]:
        \"\"\"Return the letters of word not guessed yet, in order, each once.\"\"\"
        ...body...
    ```
    ```python
    assert valid_guessing_letters("apple", ["a"]) == ["p", "l", "e"]
    ...
    ```

Accepted variants (documented, each counted in the stats as `variant_<name>`): text before, between and
after the blocks; fences tagged `py`, `python3` or untagged; the tests in the same block as the solution
(top-level asserts after the definitions: `one_block`); tests as `def check(candidate): ...` (HumanEval's
shape; a trailing `check(fn)` call is removed, the harness adds its own: `check`); tests under
`if __name__ == "__main__":` (`main_guard`); pytest-style `def test_...():` functions, which are called in
order at the end (`test_functions`); extra blocks of example usage, ignored (`extra_blocks`).

Everything else is dropped with one of DROP_REASONS. The exercise's `prompt` is the solution up to the end
of the entry point's docstring (imports, helpers and the signature included, as in HumanEval), `completion`
the rest; `prompt + completion` is the solution exactly.
"""

from __future__ import annotations

import ast
import io
import re
from dataclasses import dataclass, field

DROP_REASONS = {
    "no answer": "the teacher returned nothing (failed request)",
    "no code block": "no ```python block in the answer",
    "unterminated code block": "a ``` fence is not closed (the answer was cut off, e.g. at max_tokens)",
    "syntax error": "the solution or the tests do not parse as Python 3",
    "function not found": "no top-level function (or class) the tests call",
    "no docstring": "the entry point has no docstring, so there is no task to read",
    "empty body": "nothing after the docstring (or only pass / ...)",
    "no tests": "fewer asserts calling the function than verify.min_asserts",
    "tests fail": "the solution does not pass its tests in the sandbox",
    "timeout": "the tests did not finish within verify.timeout",
    "out of memory": "the program ran out of its memory limit",
    "exited early": "the program ended (os._exit, sys.exit) before the tests finished",
    "trivial tests": "the tests also pass with the body removed (or returning object()), or rebind the function",
    "flaky": "passed once, then failed when run again (verify.runs): randomness or the clock",
    "not isolatable": "the solution returns what plain data cannot carry (an object, e.g. an always-equal one)",
    "unsafe code": "imports or builtins outside verify.allowed_imports / forbidden_names, or escape attributes",
    "surplus": "kept past --n in the last round (not written to the output; a run with a larger --n keeps it)",
    "too short": "a textbook answer under textbooks.min_words words",
    "too long": "an answer over MAX_ANSWER_CHARS characters (a runaway generation)",
    "code blocks fail": "every section (or, with drop_item, one block) of a textbook answer failed",
    "duplicate": "a near-duplicate of an earlier kept item (MinHash + true Jaccard, textbooks.data.dedup)",
    "contaminated": "close to a HumanEval/MBPP problem (textbooks.data.decontam)",
}

MAX_ANSWER_CHARS = 100_000  # ~25k tokens: far above any exercise or section; bounds parsing and the sandbox's input
PYTHON_TAGS = {"", "python", "py", "python3", "py3"}
_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([\w+.-]*)[^\n]*$", re.M)


@dataclass(frozen=True)
class Block:
    lang: str
    code: str
    line: int  # 1-based line of the opening fence in the answer


@dataclass
class Drop:
    reason: str
    detail: str = ""

    def __post_init__(self):
        if self.reason not in DROP_REASONS:
            raise ValueError(f"unknown drop reason {self.reason!r}")


@dataclass
class Exercise:
    """A parsed exercise. tests_style: "asserts" (plain statements, the last one the harness's final statement)
    or "check" (defines check(candidate); the harness calls check(entry_point))."""

    entry_point: str
    prompt: str
    completion: str
    tests: str
    tests_style: str
    requested_name: str | None = None
    variants: list[str] = field(default_factory=list)

    @property
    def renamed(self) -> bool:
        return self.requested_name is not None and self.entry_point != self.requested_name

    @property
    def solution(self) -> str:
        return self.prompt + self.completion


def _lines(text: str) -> list[str]:
    """Lines as Python's parser counts them (LF, CRLF, CR), ends kept; str.splitlines also splits at form
    feeds and other Unicode breaks, which would shift every ast line number after one."""
    return io.StringIO(text, newline="").readlines()


def code_blocks(answer: str) -> tuple[list[Block], bool]:
    """(fenced blocks in order, whether a fence was left open). A closing fence is the same character run
    (at least as long) with no info string, as in CommonMark."""
    blocks: list[Block] = []
    lines = _lines(answer)
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i].rstrip("\r\n"))
        if not m:
            i += 1
            continue
        fence, lang = m.group(1), m.group(2).lower()
        start = i
        j = i + 1
        while j < len(lines):
            close = _FENCE.match(lines[j].rstrip("\r\n"))
            if close and close.group(1)[0] == fence[0] and len(close.group(1)) >= len(fence) and not close.group(2):
                break
            j += 1
        if j >= len(lines):
            return blocks, True
        blocks.append(Block(lang, "".join(lines[start + 1 : j]), start + 1))
        i = j + 1
    return blocks, False


def python_blocks(answer: str) -> tuple[list[Block], bool]:
    blocks, open_fence = code_blocks(answer)
    return [b for b in blocks if b.lang in PYTHON_TAGS and b.code.strip()], open_fence


def _is_test_stmt(node: ast.stmt) -> bool:
    if isinstance(node, ast.Assert):
        return True
    if isinstance(node, ast.FunctionDef) and (node.name == "check" or node.name.startswith("test_")):
        return True
    if isinstance(node, ast.If) and _is_main_guard(node):
        return True
    return False


def _is_main_guard(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Compare) and isinstance(t.left, ast.Name) and t.left.id == "__name__"
            and len(t.comparators) == 1 and isinstance(t.comparators[0], ast.Constant)
            and t.comparators[0].value == "__main__")


def _segment(source: str, nodes: list[ast.stmt]) -> str:
    """The source lines of top-level statements `nodes` (decorators included), in order."""
    lines = _lines(source)
    out = []
    for n in nodes:
        first = min([n.lineno] + [d.lineno for d in getattr(n, "decorator_list", [])])
        out.append("".join(lines[first - 1 : n.end_lineno]))
    text = "".join(s if s.endswith("\n") else s + "\n" for s in out)
    return text


def _without(source: str, nodes: list[ast.stmt]) -> str:
    """`source` with the lines of top-level statements `nodes` removed (comments and blank lines kept)."""
    drop = set()
    for n in nodes:
        first = min([n.lineno] + [d.lineno for d in getattr(n, "decorator_list", [])])
        drop.update(range(first, n.end_lineno + 1))
    return "".join(line for i, line in enumerate(_lines(source), 1) if i not in drop)


def _defines(tree: ast.Module) -> dict[str, ast.stmt]:
    return {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}


def _called_names(tree: ast.AST) -> list[str]:
    return [n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]


def _try_parse(code: str) -> ast.Module | SyntaxError:
    """ast.parse, with every way it refuses input as a SyntaxError (too deeply nested code raises
    RecursionError or MemoryError; a NUL byte, ValueError on some versions)."""
    try:
        return ast.parse(code)
    except SyntaxError as e:
        return e
    except (RecursionError, MemoryError, ValueError) as e:
        err = SyntaxError(f"{type(e).__name__}: {str(e)[:100] or 'too deeply nested'}")
        err.lineno = 0
        return err


def parse_exercise(answer: str | None, requested_name: str | None = None, *, min_asserts: int = 2,
                   max_chars: int = MAX_ANSWER_CHARS) -> Exercise | Drop:
    """One teacher answer -> an `Exercise`, or the `Drop` saying why not (see the module docstring)."""
    if not answer or not answer.strip():
        return Drop("no answer")
    if len(answer) > max_chars:
        return Drop("too long", f"{len(answer)} characters; at most {max_chars}")
    blocks, open_fence = python_blocks(answer)
    if open_fence and len(blocks) < 2:
        return Drop("unterminated code block")
    if not blocks:
        return Drop("no code block")
    variants: list[str] = []
    parsed = []
    for b in blocks:
        parsed.append((b, _try_parse(b.code)))
    solution = next(((b, t) for b, t in parsed if isinstance(t, ast.Module) and _defines(t)), None)
    if solution is None:
        bad = next((t for _, t in parsed if isinstance(t, SyntaxError)), None)
        if bad is not None:
            return Drop("syntax error", f"{bad.msg} (line {bad.lineno})")
        return Drop("function not found", "no block defines a function")
    sol_block, sol_tree = solution
    # A block before the solution that does not parse is most likely the solution itself, broken.
    for b, t in parsed:
        if b is sol_block:
            break
        if isinstance(t, SyntaxError):
            return Drop("syntax error", f"{t.msg} (line {t.lineno} of block at answer line {b.line})")
    sol_nodes = [n for n in sol_tree.body if not _is_test_stmt(n)]
    test_nodes = [n for n in sol_tree.body if _is_test_stmt(n)]
    test_source = ""
    if test_nodes:
        variants.append("one_block")
        test_source = _segment(sol_block.code, test_nodes)
    later = [(b, t) for b, t in parsed if b.line > sol_block.line]
    for b, t in later:
        if isinstance(t, SyntaxError):
            if not test_source:
                return Drop("syntax error", f"in the tests: {t.msg} (line {t.lineno})")
            continue
        if not test_source and any(_is_test_stmt(n) for n in t.body):
            test_source = b.code
        else:
            variants.append("extra_blocks")
    if not test_source:
        return Drop("no tests", "no block of asserts or check(candidate)")
    solution_source = _without(sol_block.code, test_nodes) if test_nodes else sol_block.code
    solution_source = solution_source.rstrip() + "\n"
    sol_tree, tests_tree = _try_parse(solution_source), _try_parse(test_source)
    for tree in (sol_tree, tests_tree):
        if isinstance(tree, SyntaxError):  # a fragment that only parsed with the rest
            return Drop("syntax error", f"{tree.msg} (line {tree.lineno})")
    tests_source, style, more = _normalise_tests(test_source, tests_tree)
    variants += more
    defs = _defines(sol_tree)
    called = _called_names(ast.parse(tests_source))
    if requested_name and requested_name in defs:
        entry = requested_name
    else:
        tested = [name for name in dict.fromkeys(called) if name in defs]
        if style == "check":
            # check(candidate) calls the candidate, not a name: the entry point is the one function defined
            functions = [n for n, d in defs.items() if isinstance(d, (ast.FunctionDef, ast.AsyncFunctionDef))]
            tested = tested or (functions if len(functions) == 1 else [])
        if len(tested) != 1:
            return Drop("function not found", f"the tests call {sorted(set(called) & set(defs)) or 'none'} of "
                        f"the defined {sorted(defs)}" + (f"; {requested_name!r} was asked for" if requested_name else ""))
        entry = tested[0]
    node = defs[entry]
    rebinds = _binds(ast.parse(tests_source), entry)
    if rebinds:
        return Drop("trivial tests", f"the tests {rebinds} {entry}, so they do not test the solution")
    if style == "asserts":
        n_asserts = sum(1 for s in ast.parse(tests_source).body for a in ast.walk(s)
                        if isinstance(a, ast.Assert) and entry in _called_names(a))
    else:
        n_asserts = sum(1 for a in ast.walk(ast.parse(tests_source)) if isinstance(a, ast.Assert))
    if n_asserts < min_asserts and not (isinstance(node, ast.ClassDef) and n_asserts + _count_asserts(tests_source) >= min_asserts):
        return Drop("no tests", f"{n_asserts} assert(s) calling {entry}; at least {min_asserts} needed")
    doc = node.body[0] if node.body else None
    if not (isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant) and isinstance(doc.value.value, str)):
        return Drop("no docstring", f"{entry} has no docstring")
    lines = _lines(solution_source)
    prompt = "".join(lines[: doc.end_lineno])
    completion = "".join(lines[doc.end_lineno :])
    if not prompt.endswith("\n"):
        prompt += "\n"
    body_rest = node.body[1:]
    if not body_rest or all(isinstance(s, ast.Pass) or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)
                                                        and s.value.value is Ellipsis) for s in body_rest):
        return Drop("empty body", f"{entry} has no body after its docstring")
    if lines[doc.end_lineno - 1].rstrip()[-3:] not in ('"""', "'''") and not lines[doc.end_lineno - 1].rstrip().endswith(("'", '"')):
        return Drop("syntax error", "code after the docstring on the same line")  # cannot split prompt from body
    return Exercise(entry, prompt, completion, tests_source, style, requested_name, variants)


def _binds(tree: ast.AST, name: str) -> str | None:
    """How the tests rebind `name` (assign, def, import, for, with, global...), or None."""
    for n in ast.walk(tree):
        if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, (ast.Store, ast.Del)):
            return "assign to"
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name == name:
            return "redefine"
        if isinstance(n, (ast.Import, ast.ImportFrom)) and any((a.asname or a.name).split(".")[0] == name for a in n.names):
            return "import over"
        if isinstance(n, (ast.Global, ast.Nonlocal)) and name in n.names:
            return "declare global"
    return None


def _count_asserts(source: str) -> int:
    return sum(1 for a in ast.walk(ast.parse(source)) if isinstance(a, ast.Assert))


def _normalise_tests(source: str, tree: ast.Module) -> tuple[str, str, list[str]]:
    """(tests source, "asserts" | "check", variants). Unwraps `if __name__ == "__main__":`, drops a trailing
    `check(...)` call (the harness adds its own), turns pytest-style functions into calls at the end."""
    variants = []
    body = []
    for node in tree.body:
        if isinstance(node, ast.If) and _is_main_guard(node):
            variants.append("main_guard")
            body.extend(node.body)
        else:
            body.append(node)
    check = [n for n in body if isinstance(n, ast.FunctionDef) and n.name == "check"]
    if check:
        variants.append("check")
        keep = [n for n in body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Call)
                                       and isinstance(n.value.func, ast.Name) and n.value.func.id == "check")]
        return _unparse_or_segment(source, keep), "check", variants
    tests = [n for n in body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]
    if tests:
        variants.append("test_functions")
        text = _unparse_or_segment(source, [n for n in body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Call)
                                                                    and isinstance(n.value.func, ast.Name)
                                                                    and n.value.func.id.startswith("test_"))])
        return text + "".join(f"{t.name}()\n" for t in tests), "asserts", variants
    return _unparse_or_segment(source, body), "asserts", variants


def _unparse_or_segment(source: str, nodes: list[ast.stmt]) -> str:
    """Source of `nodes`: the original lines where they are top-level in `source`, else ast.unparse (the
    body of a main guard is indented)."""
    top = ast.parse(source).body
    positions = {(n.lineno, n.col_offset) for n in top}
    out = []
    for n in nodes:
        if (n.lineno, n.col_offset) in positions and n.col_offset == 0:
            out.append(_segment(source, [n]))
        else:
            out.append(ast.unparse(n) + "\n")
    return "".join(out)


# --- textbooks -------------------------------------------------------------------------------------------
_HEADING = re.compile(r"^#{1,3}[ \t]+\S.*$", re.M)


@dataclass
class Section:
    """Text under one markdown heading (the first section may have none), and its python blocks in order."""

    text: str
    blocks: list[str]


@dataclass
class Textbook:
    sections: list[Section]
    title: str | None

    @property
    def words(self) -> int:
        return sum(len(s.text.split()) for s in self.sections)


def parse_textbook(answer: str | None, *, min_words: int = 120, min_code_blocks: int = 1,
                   max_chars: int = MAX_ANSWER_CHARS) -> Textbook | Drop:
    """A textbook answer -> sections with their python blocks (fences outside code blocks split sections
    only at headings), or a Drop."""
    if not answer or not answer.strip():
        return Drop("no answer")
    if len(answer) > max_chars:
        return Drop("too long", f"{len(answer)} characters; at most {max_chars}")
    blocks, open_fence = code_blocks(answer)
    if open_fence:
        return Drop("unterminated code block")
    # headings inside code blocks (`# comment` lines) must not split: find block spans first
    spans = []
    lines = _lines(answer)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    for b in blocks:
        start = offsets[b.line - 1]
        end = offsets[min(len(lines), b.line + b.code.count("\n") + 1)]
        spans.append((start, end))
    cuts = [m.start() for m in _HEADING.finditer(answer) if not any(a <= m.start() < e for a, e in spans)]
    title = None
    if cuts and answer[: cuts[0]].strip() == "":
        title = answer[cuts[0]:].split("\n", 1)[0].lstrip("#").strip()
    bounds = sorted(set([0] + cuts + [len(answer)]))
    sections = []
    for a, e in zip(bounds, bounds[1:]):
        text = answer[a:e]
        if not text.strip():
            continue
        inside = [b.code for b, (s, _) in zip(blocks, spans) if a <= s < e and b.lang in PYTHON_TAGS and b.code.strip()]
        sections.append(Section(text.strip("\n") + "\n", inside))
    book = Textbook(sections, title)
    if book.words < min_words:
        return Drop("too short", f"{book.words} words; at least {min_words}")
    if sum(len(s.blocks) for s in sections) < min_code_blocks:
        return Drop("no code block")
    return book
