"""The offline teacher's textbook sections: a markdown lesson for a textbook spec, built from exercise families.

    from textbooks.synth.diversity import load_tree, load_vocab, textbook_spec
    from textbooks.synth.offline.families import FAMILIES
    spec = textbook_spec(0, 0, load_tree(), load_vocab())
    text, used = lesson(spec, FAMILIES, load_vocab())   # a Lesson (a NamedTuple): text, families

A lesson is one section (a `## ` title and no other heading, so the parser keeps it whole): an opening
written for the spec's audience and style, the family's `concept` as prose, one or two worked examples
(the `Made.source` of `family.make(rng)`, then a block of example calls printing their results with a
`# -> <output>` comment), an edge case, a "try it yourself" paragraph and a summary, arranged by the style
(a step-by-step tutorial, two approaches compared, a trace table, guiding questions, ...).

Why the code is run here: the blocks of a section run in order in one namespace (the verifier runs them
so), and the comment after a `print(...)` must be the very line that print writes: `# -> Deficient`
for the string 'Deficient', not its repr, since a reader who runs the block compares the two. So every
block is executed in this process while the lesson is assembled (stdout captured, nothing else touched:
family code is standard-library only, reads no input, files, network or clock), the comments come from
those values, and a candidate that fails is left out. A final run of the concatenated blocks in a fresh
namespace guards the assembly itself. The prose ("`f(x)` returns `'abc'`") speaks of the value, so it
keeps the repr. The same spec always gives the same lesson: every choice comes from a rng seeded by the
spec; a set whose print order follows per-process string hashing is printed through `sorted(...)`, a
string that would print invisibly (empty, edged with spaces, holding a newline) through `repr(...)`,
and a value that prints an object address or a hash-ordered set deeper inside is not shown.

Why so many templates: Cosmopedia found generations collapsing onto a few openings; over 200 lessons
the most frequent first-5-word opening stays well under 5% (tests/synth/test_lessons.py measures it),
and no lesson starts with one of the vocabulary's banned openings.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import io
import json
import random
import re
import sys
from typing import Any, Callable, NamedTuple

from textbooks.synth.offline.family import Family, Made, pick

FILENAME = "<lesson>"
MAX_SHOWN = 72  # a longer result makes an unreadable `# ->` comment; such a call is not shown
MAX_TRACE_ROWS = 9


class Lesson(NamedTuple):
    """A lesson's text and the names of the families its examples came from (its metadata). A tuple, so
    the offline teacher's `out[0]` gives the text."""

    text: str
    families: tuple[str, ...]


# --- running the blocks ---------------------------------------------------------------------------------


class _Runner:
    """The lesson's blocks so far, executed in one namespace as the verifier will run them. `trial` runs
    steps on a scratch copy (rebuilt from the kept blocks, so a failed or unwanted trial leaves no trace);
    `commit` executes a block for real and keeps it."""

    def __init__(self) -> None:
        self.blocks: list[str] = []
        self.ns: dict[str, Any] = {"__name__": "__lesson__"}
        self._compiled: dict[tuple[str, str], Any] = {}

    def _code(self, text: str, mode: str = "exec"):
        key = (text, mode)
        if key not in self._compiled:
            # dont_inherit: this module's `from __future__ import annotations` must not leak into the lesson
            self._compiled[key] = compile(text, FILENAME, mode, dont_inherit=True)
        return self._compiled[key]

    def _run(self, text: str, ns: dict) -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(self._code(text), ns)

    def eval(self, expr: str, ns: dict) -> Any:
        with contextlib.redirect_stdout(io.StringIO()):
            return eval(self._code(expr, "eval"), ns)

    def scratch(self) -> dict:
        ns: dict[str, Any] = {"__name__": "__lesson__"}
        for block in self.blocks:
            self._run(block, ns)
        return ns

    def commit(self, block: str) -> bool:
        try:
            self._run(block, self.ns)
        except Exception:
            self.ns = self.scratch()
            return False
        self.blocks.append(block)
        return True

    def trial(self, steps: list[tuple[str, str]], want: int) -> tuple[list[str], list[tuple[str, str]]] | None:
        """Run `steps` ("setup"/"check": a statement, "show": an expression to print) on a scratch namespace
        and keep the longest prefix that runs, shows only stable, short values and has at most `want`
        shows or checks (a prefix, because a later step may depend on an earlier one's effects). Returns
        (block lines, [(expression, repr)]), or None when not one show or check survives. A show's line is
        `show_line`'s `print(...)` commented with what it prints; the repr is for the prose."""
        try:
            ns = self.scratch()
        except Exception:
            return None
        lines: list[str] = []
        shown: list[tuple[str, str]] = []
        count = 0
        for kind, src in steps:
            if count >= want:
                break
            try:
                if kind == "show":
                    # evaluated once: the committed block repeats exactly this call, side effects included
                    value = self.eval(src, ns)
                    exact, line = stable_repr(value), show_line(src, value)
                    if exact is None or line is None or len(exact) > MAX_SHOWN:
                        break
                    lines.append(line)
                    shown.append((src, exact))
                else:
                    self._run(src, ns)
                    lines.append(src)
            except Exception:
                break
            count += kind != "setup"
        if not count:
            return None
        while lines and not lines[-1].startswith(("print(", "assert")):
            lines.pop()  # trailing setup shows nothing
        return lines, shown


def stable_repr(value: Any, depth: int = 0) -> str | None:
    """repr(value), with set elements sorted (a set of strings prints in a per-process hash order), or
    None when the repr is not reproducible (an object's default repr holds its address) or too deep."""
    if depth > 6:
        return None
    kind = type(value)
    if kind in (set, frozenset):
        items = [stable_repr(v, depth + 1) for v in value]
        if None in items:
            return None
        if not items:
            return "set()" if kind is set else "frozenset()"
        body = "{" + ", ".join(sorted(items)) + "}"  # type: ignore[arg-type]
        return body if kind is set else f"frozenset({body})"
    if kind in (list, tuple):
        items = [stable_repr(v, depth + 1) for v in value]
        if None in items:
            return None
        if kind is list:
            return "[" + ", ".join(items) + "]"  # type: ignore[arg-type]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"  # type: ignore[arg-type]
    if kind is dict:
        parts = []
        for k, v in value.items():
            rk, rv = stable_repr(k, depth + 1), stable_repr(v, depth + 1)
            if rk is None or rv is None:
                return None
            parts.append(f"{rk}: {rv}")
        return "{" + ", ".join(parts) + "}"
    try:
        text = repr(value)
    except Exception:
        return None
    if re.search(r" at 0x[0-9a-fA-F]+", text):
        return None
    return text


_HASH_STABLE = (int, float, complex)  # bool is an int; str, bytes, None (before 3.12), objects: per process


def _hash_stable(value: Any) -> bool:
    """Whether hash(value) is the same in every process. A set's iteration (and so print) order follows
    its elements' hashes, and those of str and bytes change with PYTHONHASHSEED, those of None and plain
    objects with their address."""
    if isinstance(value, _HASH_STABLE):
        return True
    if value is None:
        return sys.version_info >= (3, 12)
    if type(value) in (tuple, frozenset):
        return all(_hash_stable(v) for v in value)
    return False


def _order_stable(value: Any, depth: int = 0) -> bool:
    """Whether printing value writes its containers' elements in the same order in every process: lists,
    tuples and dicts keep their own order, a set of two or more elements needs hash-stable elements. Other
    objects are opaque here; their printed text is still checked for addresses."""
    if depth > 6:
        return False
    kind = type(value)
    if kind in (set, frozenset):
        return len(value) < 2 or all(_hash_stable(v) for v in value)
    if kind in (list, tuple):
        return all(_order_stable(v, depth + 1) for v in value)
    if kind is dict:
        return all(_order_stable(k, depth + 1) and _order_stable(v, depth + 1) for k, v in value.items())
    return True


def _sorts_stably(value: Any) -> bool:
    """Whether sorted() puts value among its peers in one order whatever order they came in: true of
    strings, bytes, numbers and tuples of them, not of sets, whose `<` is the partial subset order."""
    if isinstance(value, (str, bytes, int, float)):
        return value == value  # a nan compares with nothing
    if type(value) is tuple:
        return all(_sorts_stably(v) for v in value)
    return False


def _printed(value: Any) -> str | None:
    """The line `print(value)` writes, without its newline; None when it cannot stand in a one-line
    comment that a reader can check (more than one line, invisible as text, an object address)."""
    buf = io.StringIO()
    print(value, file=buf)
    text = buf.getvalue()[:-1]
    if not text or text != text.strip() or not text.isprintable() or re.search(r" at 0x[0-9a-fA-F]+", text):
        return None
    return text


def show_line(expr: str, value: Any) -> str | None:
    """`print(expr)  # -> <what it prints>`, for `value`, the value of `expr`: the comment is what a reader
    who runs the line sees (str, so a string shows without quotes). A set whose order hangs on per-process
    hashes is printed as `sorted(expr)`, and a string that would print empty, with edge spaces or on
    several lines as `repr(expr)`, so that the comment is still exact, reproducible and readable. None
    when no such line exists (an address in the output, a hash-ordered set inside another value, a
    comment longer than MAX_SHOWN)."""
    try:
        call = ast.parse(f"print({expr})", mode="eval").body
    except SyntaxError:
        return None
    # `f(1), f(2)` as an example is one tuple to eval but two arguments to print: print the tuple
    arg = expr if isinstance(call, ast.Call) and len(call.args) == 1 and not call.keywords else f"({expr})"
    try:
        if type(value) in (set, frozenset) and not _order_stable(value):
            if not all(_sorts_stably(v) for v in value):
                return None
            arg, value = f"sorted({arg})", sorted(value)
        if not _order_stable(value):
            return None
        text = _printed(value)
        if text is None:
            arg, text = f"repr({arg})", repr(value)
            if not text.isprintable() or re.search(r" at 0x[0-9a-fA-F]+", text):
                return None
    except Exception:  # sorted() on mixed types, a __str__ or __repr__ that raises: nothing to show
        return None
    if len(text) > MAX_SHOWN:
        return None
    return f"print({arg})  # -> {text}"


# --- what the tests and examples of a Made offer ----------------------------------------------------------


def _is_literal(node: ast.AST) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _test_steps(made: Made) -> list[tuple[str, str]]:
    """The tests as steps: `assert CALL == LITERAL` -> show CALL; other asserts -> check (kept verbatim,
    they pass); anything else (an object being built, a method called for its effect) -> setup."""
    try:
        tree = ast.parse(made.tests)
    except SyntaxError:
        return []
    steps: list[tuple[str, str]] = []
    for stmt in tree.body:
        if isinstance(stmt, ast.Assert):
            test = stmt.test
            if (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
                left, right = test.left, test.comparators[0]
                if _is_literal(right) and not _is_literal(left):
                    steps.append(("show", ast.unparse(left)))
                    continue
                if _is_literal(left) and not _is_literal(right):
                    steps.append(("show", ast.unparse(right)))
                    continue
            steps.append(("check", ast.unparse(stmt)))
        else:
            steps.append(("setup", ast.unparse(stmt)))
    return steps


def _example_steps(made: Made) -> list[tuple[str, str]]:
    out = []
    for call, _ in made.examples:
        try:
            ast.parse(call, mode="eval")
        except SyntaxError:
            continue
        out.append(("show", call.strip()))
    return out


_EMPTY = ([], "", (), {}, None, 0, set(), b"")


def _edge_score(expr: str) -> tuple[int, int, str]:
    """How edge-like a call is: an argument that is empty, zero, None or a single element first, then the
    shortest arguments."""
    try:
        node = ast.parse(expr, mode="eval").body
    except SyntaxError:
        return (3, len(expr), expr)
    args = list(node.args) + [k.value for k in node.keywords] if isinstance(node, ast.Call) else []
    rank = 2
    for a in args:
        if not _is_literal(a):
            continue
        v = ast.literal_eval(a)
        if any(type(v) is type(e) and v == e for e in _EMPTY):
            rank = 0
            break
        if isinstance(v, (list, tuple, str)) and len(v) == 1:
            rank = min(rank, 1)
    return (rank, len(expr), expr)


def _edge_label(expr: str) -> str:
    """Words for the edge case a call exercises ("an empty list", "zero", ...)."""
    try:
        node = ast.parse(expr, mode="eval").body
    except SyntaxError:
        return "a boundary input"
    args = list(node.args) + [k.value for k in node.keywords] if isinstance(node, ast.Call) else []
    for a in args:
        if not _is_literal(a):
            continue
        v = ast.literal_eval(a)
        names = {list: "list", str: "string", tuple: "tuple", dict: "dictionary", set: "set", bytes: "bytes value"}
        if type(v) in names and len(v) == 0:
            return f"an empty {names[type(v)]}"
        if v is None:
            return "`None` as input"
        if type(v) in (int, float) and v == 0:
            return "zero"
        if type(v) in (list, tuple) and len(v) == 1:
            return "a single element"
        if type(v) is str and len(v) == 1:
            return "a one-character string"
        if type(v) in (int, float) and v < 0:
            return "a negative number"
    return "a boundary input"


def _entry_node(made: Made) -> ast.AST | None:
    try:
        tree = ast.parse(made.source)
    except SyntaxError:
        return None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == made.entry_point:
            return node
    return None


_BUILTIN_TOOLS = {"sum", "max", "min", "sorted", "any", "all", "map", "filter", "zip", "enumerate", "reversed",
                  "divmod", "abs", "round", "pow", "set", "dict"}


def features(made: Made) -> dict[str, list[str]]:
    """The techniques the entry point uses ("class" with its methods, "loop", "comprehension", "recursion",
    "builtins", "library", "methods"), each with the names involved: what a comparison or a suggestion
    talks about."""
    node = _entry_node(made)
    out: dict[str, list[str]] = {}
    if node is None:
        return out
    modules = set()
    try:
        for top in ast.parse(made.source).body:
            if isinstance(top, ast.Import):
                modules.update(a.asname or a.name for a in top.names)
    except SyntaxError:
        pass

    def add(kind: str, name: str = "") -> None:
        names = out.setdefault(kind, [])
        if name and name not in names:
            names.append(name)

    if isinstance(node, ast.ClassDef):
        for item in node.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                add("class", item.name)
            elif isinstance(item, (ast.AnnAssign, ast.Assign)):
                add("class")

    for n in ast.walk(node):
        if isinstance(n, (ast.For, ast.While)):
            add("loop", "for" if isinstance(n, ast.For) else "while")
        elif isinstance(n, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            add("comprehension")
        elif isinstance(n, ast.Call):
            f = n.func
            if isinstance(f, ast.Name):
                if f.id == made.entry_point:
                    add("recursion")
                elif f.id in _BUILTIN_TOOLS:
                    add("builtins", f.id)
            elif isinstance(f, ast.Attribute):
                if isinstance(f.value, ast.Name) and f.value.id in modules:
                    add("library", f"{f.value.id}.{f.attr}")
                else:
                    add("methods", f.attr)
    return out


def _describe(feats: dict[str, list[str]]) -> str:
    """A clause for what a body does ("walks through the input with a `for` loop")."""
    parts = []
    if "class" in feats:
        methods = [m for m in feats["class"] if m != "__init__"]
        return ("keeps its data in attributes and works on it in its methods"
                + (f" ({_names(methods[:4])})" if methods else ""))
    if "recursion" in feats:
        parts.append("calls itself on a smaller input")
    if "loop" in feats:
        parts.append(f"walks through the data with {_a_loop(feats['loop'])}")
    if "comprehension" in feats:
        parts.append("builds its result with a comprehension")
    if "builtins" in feats:
        parts.append(f"leans on built-in functions ({_names(feats['builtins'])})")
    if "library" in feats:
        parts.append(f"uses the standard library ({_names(feats['library'])})")
    if "methods" in feats and len(parts) < 2:
        parts.append(f"relies on methods such as {_names(feats['methods'][:3])}")
    if not parts:
        return "computes the answer directly, in a few expressions"
    return _join(parts[:2])


def _a_loop(kinds: list[str]) -> str:
    return " and ".join(f"a `{k}` loop" for k in kinds[:2])


_TRADEOFF = {
    "class": "bundles the data with the operations on it, so the state cannot drift out of step",
    "recursion": "mirrors the way the problem is defined, though each call costs a stack frame",
    "loop": "spells out every step, so it is easy to trace and to extend with extra conditions",
    "comprehension": "states the whole result in one expression, which reads well once the pattern is familiar",
    "builtins": "is short and hands the iteration to well-tested built-in functions",
    "library": "delegates the hard part to the standard library",
    "methods": "lets methods that already know the job do the work",
    "": "is as direct as it gets, which suits a simple idea",
}


def primary(feats: dict[str, list[str]]) -> str:
    """The technique that characterises a body most ("" when it is a few plain expressions)."""
    for key in ("class", "recursion", "loop", "comprehension", "builtins", "library", "methods"):
        if key in feats:
            return key
    return ""


_ALTERNATIVE = {
    "class": "Plain functions passing a dictionary around would work too, but every caller would then have to "
             "keep the data consistent by hand.",
    "recursion": "A loop with an accumulator (or an explicit stack) computes the same thing without the recursion "
                 "limit, at the price of hiding the shape of the definition.",
    "loop": "Built-in functions or a comprehension would make it shorter, at the price of hiding the individual "
            "steps.",
    "comprehension": "An explicit loop would be longer, but easier to extend with extra conditions or to debug.",
    "builtins": "An explicit loop would show every step, at the price of more lines and more room for mistakes.",
    "library": "Writing the logic by hand shows what the library does, but it is longer and easier to get wrong.",
    "methods": "Writing the logic by hand with a loop shows what the methods do, but it is longer and easier to "
               "get wrong.",
    "": "For a task this small, a longer version with a loop or a helper would only add noise; the direct form "
        "is the one to keep.",
}


def _tradeoff(feats: dict[str, list[str]]) -> str:
    return _TRADEOFF[primary(feats)]


def _signature_has_text(made: Made) -> bool:
    node = _entry_node(made)
    if not isinstance(node, ast.FunctionDef):
        return False
    return any(a.annotation is not None and "str" in ast.unparse(a.annotation) for a in node.args.args)


# --- text helpers -------------------------------------------------------------------------------------------

_PY_NAMES = set(dir(builtins)) | set(dir(str)) | set(dir(list)) | set(dir(dict)) | {
    "strftime", "strptime", "islice", "groupby", "pairwise", "accumulate", "chain", "setdefault", "bisect",
    "heapq", "timedelta", "isinstance", "divmod", "ord", "chr"}


def capitalize(phrase: str) -> str:
    """Upper-case the first letter unless the phrase starts with Python code ("isdigit, isalpha ...",
    "str.translate ..."), which keeps its spelling."""
    first = re.split(r"[\s,]", phrase, maxsplit=1)[0]
    if not first or not first[0].islower() or not first.isalpha() or first in _PY_NAMES:
        return phrase
    return phrase[0].upper() + phrase[1:]


def _can_start(phrase: str) -> bool:
    return capitalize(phrase) != phrase or not phrase[:1].islower()


def _code(text: str) -> str:
    """Inline markdown code, with a longer fence when the text holds a backtick."""
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _names(items: list[str]) -> str:
    return _join([f"`{i}`" for i in items])


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if text.endswith((".", "!", "?")) else text + "."


def _first_sentence(text: str) -> str:
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z`])", " ".join(text.split()), maxsplit=1)
    return _sentence(parts[0])


def _lower_first(text: str) -> str:
    """The text with its first letter in lower case, to follow a colon, unless it starts with a name
    ("Python's", "ISO", "Java") or code."""
    first = text.split(" ", 1)[0]
    if not text[:1].isupper() or text[1:2].isupper() or first.startswith(("Python", "Java", "C ", "Euclid")):
        return text
    return text[:1].lower() + text[1:]


def _block(code: str) -> str:
    return f"```python\n{code.rstrip()}\n```"


# --- the prose -----------------------------------------------------------------------------------------------
# Template fields: {sub} the subtopic phrase, {Sub} the same capitalized, {topic}/{area} lower-case-first
# titles, {Topic} the topic title; a template marked "sub" starts with {Sub} and is used only when the
# phrase can start a sentence.

_GENERIC_OPENINGS: tuple[tuple[str, str], ...] = (
    ("sub", "{Sub} is one of those ideas that look small on the page and turn up in almost every real program."),
    ("sub", "{Sub} deserves a careful look, because small mistakes here hide until an unusual input arrives."),
    ("sub", "{Sub} sits close to the heart of {topic}, and it rewards a few minutes of careful thought."),
    ("sub", "{Sub} is easier than it looks, provided the rules are stated precisely."),
    ("sub", "{Sub} rewards precise thinking more than clever tricks."),
    ("", "Much of {area} comes down to {sub}."),
    ("", "Programmers reach for {sub} more often than they notice."),
    ("", "Every Python programmer needs {sub} sooner or later."),
    ("", "Everyday tasks reduce to {sub} surprisingly often."),
    ("", "Studying {sub} closely is a reliable way to get better at {topic}."),
    ("", "There is more to {sub} than first meets the eye."),
    ("", "Learning {sub} works best through small, precise functions."),
    ("", "Many introductions to {topic} rush past {sub}; this one slows down."),
    ("topic", "{Topic} becomes much easier once {sub} feels natural."),
    ("", "Think of {sub} as a tool: it pays to know exactly what it does and where its limits are."),
    ("", "Making {sub} feel routine is the goal of the next few paragraphs."),
    ("", "Understanding {sub} from first principles pays off long before any library does."),
    ("", "Nothing about {sub} is difficult on its own, but the details matter."),
    ("", "Why study {sub}? Because the same pattern shows up in puzzles, in data cleaning and in interviews."),
    ("", "Clear code for {sub} starts with a clear statement of the task."),
    ("", "Knowing {sub} well saves time whenever a similar task appears."),
    ("", "Here the focus is {sub}, a corner of {topic} that repays careful study."),
    ("", "Our subject is {sub}."),
    ("", "Consider {sub}, a recurring theme of {topic}."),
    ("", "At first glance {sub} seems simple."),
    ("", "Experienced programmers handle {sub} without thinking twice, and with a little practice so will you."),
    ("", "Among the topics of {area}, {sub} is one of the most practical."),
    ("", "The best way into {sub} is through a concrete function."),
    ("", "Precision is what {sub} demands more than anything else."),
    ("", "Few ideas in {area} pay off as quickly as {sub}."),
    ("", "Careful thinking about {sub} prevents a whole family of bugs."),
    ("", "Small pieces like {sub} are what whole programs are built from."),
    ("", "Getting {sub} right is mostly a matter of being explicit about every case."),
    ("", "Once {sub} is clear, a whole group of exercises in {topic} becomes easy."),
    ("", "Code that deals with {sub} is short, which makes every line count."),
)

_AUDIENCE_OPENINGS: dict[str, tuple[tuple[str, str], ...]] = {
    "high_school_beginner": (
        ("sub", "{Sub} is a great next step once your first few programs run."),
        ("", "New programmers usually meet {sub} within their first weeks of Python."),
        ("", "Right after printing and arithmetic comes {sub}, a natural next step.")),
    "middle_school_puzzler": (
        ("", "Puzzle lovers will enjoy {sub}: it has clear rules and satisfying answers."),
        ("", "Think of {sub} as a puzzle whose rules you can write down exactly."),
        ("", "Every good puzzle has rules, and so does {sub}.")),
    "university_cs1": (
        ("", "Introductory courses cover {sub} early, and for good reason."),
        ("", "Lab assignments lean on {sub} again and again in a first programming course."),
        ("", "Exam questions about {topic} very often test {sub}.")),
    "self_taught_adult": (
        ("", "Learning on your own means choosing what is worth the effort, and {sub} is."),
        ("", "An evening spent on {sub} pays off in almost every program you will write later."),
        ("", "Self-study goes furthest on topics like {sub}, where one clear example unlocks many tasks.")),
    "career_changer": (
        ("", "Whatever your previous field, you have already reasoned about {sub} informally; Python asks for "
             "precision."),
        ("", "Professionals retraining as developers often find {sub} familiar from their old work."),
        ("", "Day-to-day development work involves {sub} constantly, so it is worth learning properly.")),
    "bootcamp_student": (
        ("", "Bootcamp exercises return to {sub} constantly, so it is worth getting it right once and for all."),
        ("", "Daily coding drills make {sub} automatic, but first it has to be understood."),
        ("", "Speed comes later; for {sub}, correctness comes first.")),
    "data_analyst": (
        ("", "Spreadsheet users already know {sub} in disguise, as a formula applied to a column."),
        ("", "Anyone who has cleaned a spreadsheet by hand has met {sub}."),
        ("", "Automating a spreadsheet chore often starts with {sub}.")),
    "research_scientist": (
        ("", "Experiment scripts are full of {sub}, usually written in a hurry."),
        ("", "Lab data rarely arrives in the shape you need, and {sub} is one of the tools that fix it."),
        ("", "Reproducible analysis depends on small, trustworthy functions, and {sub} is a good place to start.")),
    "engineering_student": (
        ("", "Numerical homework often hides {sub} inside a larger problem."),
        ("", "Engineers like formulas they can check, and {sub} is exactly that kind of tool."),
        ("", "Problem sets in engineering courses use {sub} more often than their titles suggest.")),
    "interview_candidate": (
        ("", "Interviewers like {sub} because it shows how carefully a candidate handles edge cases."),
        ("", "Coding interviews test {sub} in many disguises."),
        ("", "A clean answer about {sub} is a strong start in any technical interview.")),
    "contest_programmer": (
        ("", "Contest problems use {sub} as a building block, so it must be quick to write and free of bugs."),
        ("", "Fast solutions to {sub} problems still start from a correct one."),
        ("", "Time pressure in contests punishes shaky knowledge of {sub}.")),
    "experienced_other_language": (
        ("", "Coming from Java or C, you will find that Python handles {sub} with less ceremony."),
        ("", "Programmers fluent in other languages pick up {sub} in Python quickly, once the idioms are clear."),
        ("", "Python's take on {sub} differs from C and Java in a few instructive ways.")),
    "hobbyist_game_maker": (
        ("", "Games and small tools need {sub} more often than you might think."),
        ("", "Scores, levels and inventories all involve {sub} sooner or later."),
        ("", "Hobby projects grow fastest when small pieces such as {sub} are solid.")),
    "returning_programmer": (
        ("", "If it has been years since you last wrote code, {sub} is a gentle way back in."),
        ("", "Coming back to programming after a long break, {sub} is a good first stop."),
        ("", "Old habits still help with {sub}, and modern Python makes it tidier.")),
    "teacher_preparing_class": (
        ("", "Students meet {sub} early, and a clear explanation saves a lot of confusion later."),
        ("", "Teaching {sub} well starts with one example that students can run and change."),
        ("", "A class on {topic} goes more smoothly when {sub} is introduced with a concrete function.")),
}

_STYLE_OPENINGS: dict[str, tuple[tuple[str, str], ...]] = {
    "worked_example": (
        ("", "One complete example teaches {sub} better than a page of rules."),
        ("", "The quickest route to {sub} is a fully worked example."),
        ("", "Rules about {sub} stick best when they come attached to one solved problem.")),
    "step_by_step": (
        ("", "Building code for {sub} in small steps keeps every decision visible."),
        ("", "Step by step is the right pace for {sub}."),
        ("", "Small steps make {sub} manageable: each one adds a piece and checks it.")),
    "compare_approaches": (
        ("", "Two programmers rarely write code for {sub} the same way, and comparing their versions is instructive."),
        ("", "There is usually more than one good way to handle {sub}."),
        ("", "Comparing two solutions is a fine way to understand {sub}.")),
    "concept_first": (
        ("", "The idea behind {sub} fits in a few sentences, so that is where to start."),
        ("", "Ideas before code: {sub} is best understood in words first."),
        ("", "Words first, code second: {sub} is simpler once the idea is stated plainly.")),
    "problem_first": (
        ("", "Starting from a problem rather than a definition is the natural way into {sub}."),
        ("", "A concrete problem is the best motivation for {sub}."),
        ("", "Problems come before definitions here, because {sub} makes most sense in use.")),
    "common_mistakes": (
        ("", "Mistakes with {sub} follow a few familiar patterns."),
        ("", "Bugs around {sub} are common, and most of them are avoidable."),
        ("", "Most errors in {sub} come from a handful of habits that are easy to change.")),
    "trace_by_hand": (
        ("", "Tracing code by hand is the surest way to understand {sub}."),
        ("", "Following a program value by value demystifies {sub}."),
        ("", "Pencil and paper still teach {sub} better than anything else.")),
    "examples_first": (
        ("", "Expected results come first here, and the code for {sub} has to earn them."),
        ("", "Examples of the answers we want are the best specification for {sub}."),
        ("", "Concrete answers, written down before any code, pin {sub} down precisely.")),
    "guiding_questions": (
        ("", "A handful of questions can organise everything about {sub}."),
        ("", "Asking the right questions is half the work of {sub}."),
        ("", "Good questions about {sub} lead straight to good code.")),
    "concise_reference": (
        ("sub", "{Sub}, in brief."),
        ("", "Quick reference: {sub}."),
        ("", "Essentials of {sub}, without detours.")),
    "practical_scenario": (
        ("", "Real tasks motivate {sub} better than abstract rules."),
        ("", "Everyday scripts rely on {sub}, from tidying a list of names to totalling a receipt."),
        ("", "Practical scripts meet {sub} all the time.")),
}

_ROADMAP: dict[str, tuple[str, ...]] = {
    "worked_example": ("Below, one complete function is written, run on a few inputs and checked on an awkward one.",
                       "The plan: state the task, write the function, run it, and look hard at one edge case."),
    "step_by_step": ("The work is split into small steps, each with its own snippet.",
                     "Each step below adds one piece and checks it before moving on."),
    "compare_approaches": ("Two versions are shown, followed by a look at what each one costs.",
                           "Two solutions follow, and then a comparison of their strengths."),
    "concept_first": ("First the idea in words, then the code that puts it to work.",
                      "The explanation comes first; the code then makes it concrete."),
    "problem_first": ("The section starts from a concrete task and draws the general idea out of it.",
                      "A specific task comes first, and the general lesson follows from its solution."),
    "common_mistakes": ("Alongside a correct version, the section points out where careless versions go wrong.",
                        "A correct solution comes first; then the traps that catch hurried versions."),
    "trace_by_hand": ("After the code, one call is followed value by value, the way you would on paper.",
                      "The code is then traced on a small input, one change at a time."),
    "examples_first": ("The expected results are fixed before any code is written; then the code has to earn them.",
                       "We write down what the answers should be, and only then the function."),
    "guiding_questions": ("A few questions guide the way, each answered before moving on.",
                          "Each question below is answered before the next one is asked."),
    "concise_reference": ("What follows is brief: the idea, a function, its results and the edge case to remember.",
                          "Short explanations and compact examples follow."),
    "practical_scenario": ("The task below is the kind that turns up in small everyday scripts.",
                           "A small, practical task sets the scene, and the code follows."),
}

_ANGLE: dict[str, tuple[str, ...]] = {
    "high_school_beginner": ("Type each snippet in yourself rather than copying it: your fingers learn the syntax "
                             "faster than your eyes do.",
                             "Do not worry if a line looks dense at first; run it, change a number, and run it again."),
    "middle_school_puzzler": ("Treat each example as a puzzle: predict the output before you read the comment.",
                              "Try to guess each printed value first; checking your guesses is half the fun."),
    "university_cs1": ("Pay attention to the docstring: it is the contract that graders and test suites check.",
                       "Being able to say what a function returns for every input is exactly what exam questions "
                       "test."),
    "self_taught_adult": ("Keep a scratch file open and run every snippet; reading code is no substitute for "
                          "running it.",
                          "If a step is unclear, change one input and watch what changes in the output."),
    "career_changer": ("The reasoning is the same as checking a report at work: state what the result should be, "
                       "then verify it.",
                       "Treat the docstring like a specification from a client: the code must do what it says."),
    "bootcamp_student": ("Aim to write the function from memory after reading it once; that is the skill daily "
                         "exercises build.",
                         "Time yourself rewriting the function from scratch, then compare with the version here."),
    "data_analyst": ("Think of the input as a spreadsheet column and the function as a formula you can reuse on any "
                     "column.",
                     "Unlike a formula hidden in a cell, a function can be tested on a few rows before it touches "
                     "real data."),
    "research_scientist": ("Writing the checks first, like a control in an experiment, catches mistakes before they "
                           "reach your results.",
                           "A function with a docstring and a few checked calls is far easier to trust in an analysis "
                           "than an inline snippet."),
    "engineering_student": ("As with any formula, test it first on a case whose answer you already know.",
                            "Check the units of the inputs and the result, just as you would in a calculation by "
                            "hand."),
    "interview_candidate": ("In an interview, say the edge cases out loud before writing code; interviewers listen "
                            "for them.",
                            "Practise explaining the function in two sentences: what it takes, what it returns."),
    "contest_programmer": ("Before optimising, make sure the simple version is right: a fast wrong answer scores "
                           "nothing.",
                           "Keep the simple version around as a reference to test faster ones against."),
    "experienced_other_language": ("Python's type hints are not enforced at run time; they document intent, much as "
                                   "a signature does in Java.",
                                   "Notice how little scaffolding the function needs: no class, no main method, no "
                                   "declarations."),
    "hobbyist_game_maker": ("Small functions like this keep a game's main loop short and readable.",
                            "Put helpers like this in their own module, and your game code stays easy to change."),
    "returning_programmer": ("Modern Python adds type hints and f-strings, but the underlying reasoning has not "
                             "changed.",
                             "If the syntax feels new, focus on the logic first; the syntax follows quickly."),
    "teacher_preparing_class": ("In class, ask students to predict each printed value before running the code.",
                                "The edge case below makes a good discussion question for a class."),
}

_PITFALLS: dict[str, tuple[str, ...]] = {
    "basics": ("Remember that `range(n)` stops before `n`: off-by-one errors are the classic loop bug.",
               "Floor division `//` rounds toward negative infinity, so `-7 // 2` is `-4`, not `-3`.",
               "`=` assigns and `==` compares; mixing them up is one of the most common slips in conditions."),
    "strings": ("Strings are immutable: methods such as `upper()` and `replace()` return a new string and leave the "
                "original unchanged.",
                "Slicing never raises an error, but indexing does: `'abc'[5:]` is `''`, while `'abc'[5]` raises "
                "`IndexError`.",
                "Comparisons are case-sensitive: `'a' == 'A'` is `False`."),
    "lists": ("Changing a list while looping over it skips elements; loop over a copy or build a new list instead.",
              "`list.sort()` sorts in place and returns `None`; `sorted()` returns a new list.",
              "`[[0] * 3] * 2` repeats one inner list, so changing a cell in one row changes both rows."),
    "dicts_sets": ("Looking up a missing key with `d[key]` raises `KeyError`; `d.get(key, default)` does not.",
                   "Sets have no order, so never rely on the order in which a set prints its elements.",
                   "Dictionary keys must be hashable: a tuple can be a key, a list cannot."),
    "arithmetic": ("Floats are binary approximations: `0.1 + 0.2 == 0.3` is `False`, so compare with a tolerance.",
                   "`round()` rounds halves to the nearest even number: `round(2.5)` is `2`.",
                   "Dividing by zero raises `ZeroDivisionError`, so decide what an empty input should return."),
    "number_theory": ("1 is not a prime number, and neither is any number below 2.",
                      "Testing divisors up to the square root is enough, but the bound must be included: loop while "
                      "`i * i <= n`.",
                      "Python's `%` takes the sign of the divisor: `-7 % 3` is `2`."),
    "recursion": ("Every recursive function needs a base case that every path reaches, or Python eventually raises "
                  "`RecursionError`.",
                  "Python limits recursion depth (about 1000 calls by default), so very deep inputs call for a loop.",
                  "Each recursive call must work on a strictly smaller input, or the recursion never ends."),
    "sorting_searching": ("`list.sort()` returns `None`, so `result = items.sort()` loses the list.",
                          "Binary search only works on sorted input, and its bounds are easy to get off by one.",
                          "Python's sort is stable: items with equal keys keep their original order."),
    "two_pointers": ("Decide whether the loop runs while `left < right` or `left <= right`; the wrong one skips or "
                     "repeats an element.",
                     "Pair-finding with two pointers assumes sorted input; sort first or use a dictionary.",
                     "Every pass of the loop must move at least one pointer, or it never ends."),
    "stacks_queues": ("Popping from an empty list raises `IndexError`, so check the stack before popping.",
                      "`list.pop(0)` shifts every remaining element; `collections.deque.popleft()` does not.",
                      "A stack is last in, first out; a queue is first in, first out. Mixing them reverses the order."),
    "dynamic_programming": ("Size the table for the base case too: a problem on `n` items usually needs `n + 1` "
                            "entries.",
                            "Fill the table in an order where every entry's dependencies are already computed.",
                            "Write the recurrence in words before coding it; most DP bugs are recurrence bugs."),
    "classes": ("Every method receives the instance as its first parameter, `self`; forgetting it gives a confusing "
                "`TypeError`.",
                "A mutable default such as `items=[]` in `__init__` is shared by every instance; use `None` and "
                "create the list inside.",
                "Class attributes are shared by all instances; attributes set on `self` belong to one object."),
    "dates": ("Months have 28 to 31 days, so add days with `timedelta` rather than by hand.",
              "A year divisible by 100 is a leap year only if it is also divisible by 400.",
              "Format codes are case-sensitive: `%m` is the month, `%M` the minute."),
    "parsing": ("`int('3.5')` raises `ValueError`; decide whether bad input should raise or be skipped.",
                "`split()` with no argument splits on runs of whitespace, while `split(' ')` keeps empty strings "
                "between double spaces.",
                "`int(' 42 ')` tolerates surrounding spaces, but any other stray character raises `ValueError`."),
    "iteration_tools": ("A generator can be consumed only once; a second loop over it sees nothing.",
                        "`zip` stops at the shortest input, silently dropping the rest.",
                        "`itertools.groupby` groups only consecutive equal keys, so sort by the key first."),
    "matrices": ("`[[0] * cols] * rows` creates `rows` references to one list; build each row separately.",
                 "Decide whether indices are `[row][col]` or `[x][y]` and keep to it.",
                 "An empty matrix `[]` has no first row, so `len(matrix[0])` fails on it."),
}
_PITFALL_FALLBACK = ("Test the smallest inputs first; that is where most bugs live.",
                     "State what the function returns for every kind of input before trusting it.")


def _opening(rng: random.Random, fields: dict[str, str], audience: str, style: str,
             banned: tuple[str, ...]) -> str:
    """The first sentence: from the audience's, the style's or the generic templates (so that openings
    spread over many first words), never one starting with a banned opening."""
    pools = [_AUDIENCE_OPENINGS.get(audience, ()), _STYLE_OPENINGS.get(style, ()), _GENERIC_OPENINGS]
    weights = [0.35, 0.2, 0.45]
    usable = {"": True, "sub": _can_start(fields["sub"]), "topic": _can_start(fields["topic_title"])}
    choice = rng.choices(range(3), weights)[0]
    order = [choice] + [i for i in range(3) if i != choice]
    lowered = [b.lower() for b in banned]
    for i in order:
        options = [t for mark, t in pools[i] if usable[mark]]
        rng.shuffle(options)
        for template in options:
            text = template.format(**fields)
            if not any(text.lower().startswith(b) for b in lowered):
                return text
    return f"The subject is {fields['sub']}."


def _title(rng: random.Random, fields: dict[str, str], style: str) -> str:
    sub, Sub = fields["sub"], fields["Sub"]
    options = [f"{Sub}", f"{fields['Topic']}: {sub}", f"{Sub} in Python", f"A closer look at {sub}",
               f"{fields['Area']}: {sub}", f"Notes on {sub}"]
    by_style = {"step_by_step": f"{Sub}, step by step", "compare_approaches": f"Two ways to handle {sub}",
                "common_mistakes": f"{Sub}: pitfalls and fixes", "trace_by_hand": f"Tracing {sub} by hand",
                "concise_reference": f"{Sub}: a quick reference", "practical_scenario": f"{Sub} in practice",
                "examples_first": f"{Sub}, from examples", "guiding_questions": f"Questions about {sub}"}
    if style in by_style:
        options += [by_style[style]] * 2
    return "## " + pick(rng, options)


# --- assembling ----------------------------------------------------------------------------------------------


class _Example(NamedTuple):
    family: Family
    made: Made
    source_block: str
    calls_block: str
    shown: list[tuple[str, str]]


def _source_text(made: Made) -> str:
    # a __future__ import is legal only at the top of the concatenated program; families do not need one
    lines = [ln for ln in made.source.rstrip().splitlines() if not ln.startswith("from __future__")]
    return "\n".join(lines).strip("\n")


def _make_example(runner: _Runner, family: Family, seeds: list[str], want: int,
                  accept: Callable[[Made], bool] = lambda m: True) -> _Example | None:
    """A Made of `family` (the first of `seeds` whose draw is accepted and runs), committed to the runner:
    its source block, then a block of `want` example calls (Made.examples, else the tests' calls)."""
    for seed in seeds:
        made = family.make(random.Random(seed))
        if not accept(made):
            continue
        source = _source_text(made)
        if not runner.commit(source):
            continue
        plans = [p for p in (_example_steps(made), _test_steps(made)) if p]
        for steps in plans:
            result = runner.trial(steps, want)
            if result and runner.commit("\n".join(result[0])):
                return _Example(family, made, source, "\n".join(result[0]), result[1])
        # the source ran but no call could be shown: take the source back out
        runner.blocks.pop()
        runner.ns = runner.scratch()
    return None


def _call_of(src: str) -> str:
    """The first call in a statement or expression (the call an `assert` checks), else the text."""
    try:
        tree = ast.parse(src)
    except SyntaxError:
        return src
    call = next((n for n in ast.walk(tree) if isinstance(n, ast.Call)), None)
    return ast.unparse(call) if call is not None else src


def _edge(runner: _Runner, ex: _Example) -> tuple[str, str, str, str | None] | None:
    """(block, label, expression, repr) of the tests' most edge-like call not already shown, run after
    the setup statements that precede it in the tests, and committed to the runner; an `assert` the
    tests make (repr None) when they show no further call."""
    steps = _test_steps(ex.made)
    shown = {e for e, _ in ex.shown}
    shows = [(_edge_score(src), i) for i, (kind, src) in enumerate(steps) if kind == "show" and src not in shown]
    checks = [(_edge_score(_call_of(src)), i) for i, (kind, src) in enumerate(steps) if kind == "check"]
    for _, i in sorted(shows)[:4] + sorted(checks)[:2]:
        plan = [s for s in steps[:i] if s[0] == "setup"] + [steps[i]]
        result = runner.trial(plan, 1)
        if result and result[0] and runner.commit("\n".join(result[0])):
            if result[1]:
                expr, value = result[1][0]
                return "\n".join(result[0]), _edge_label(expr), expr, value
            return "\n".join(result[0]), _edge_label(_call_of(steps[i][1])), steps[i][1], None
    return None


def _trace(runner: _Runner, made: Made, expr: str) -> str | None:
    """A markdown table of the entry function's local variables each time one of them changes while
    `expr` runs (the outermost call only), or None when there is nothing to trace."""
    if _entry_node(made).__class__ is not ast.FunctionDef:
        return None
    try:
        ns = runner.scratch()
    except Exception:
        return None
    rows: list[dict[str, str]] = []
    top: list[Any] = []

    def local(frame, event, arg):
        if frame is top[0] and event in ("line", "return") and len(rows) <= 200:
            snap = {}
            for k, v in frame.f_locals.items():
                r = stable_repr(v)
                snap[k] = "?" if r is None else (r if len(r) <= 24 else r[:21] + "...")
            if not rows or rows[-1] != snap:
                rows.append(snap)
        return local

    def tracer(frame, event, arg):
        if event == "call" and not top and frame.f_code.co_name == made.entry_point \
                and frame.f_code.co_filename == FILENAME:
            top.append(frame)
            return local
        return None

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        runner.eval(expr, ns)
    except Exception:
        return None
    finally:
        sys.settrace(previous)
    if len(rows) < 2:
        return None
    names = list(dict.fromkeys(k for row in rows for k in row))
    # arguments that never change are stated once below the table instead of filling columns
    first = rows[0]
    fixed = [n for n in names if all(row.get(n) == first.get(n) for row in rows)]
    names = [n for n in names if n not in fixed]
    projected: list[dict[str, str]] = []
    for row in rows:
        cells = {n: row[n] for n in names if n in row}
        if cells and (not projected or projected[-1] != cells):
            projected.append(cells)
    rows = projected
    if len(rows) < 2:
        return None
    shown_rows = rows[:MAX_TRACE_ROWS]
    cell = lambda s: s.replace("|", "\\|")  # noqa: E731
    lines = ["| step | " + " | ".join(f"`{n}`" for n in names) + " |", "|---" * (len(names) + 1) + "|"]
    for i, row in enumerate(shown_rows, 1):
        lines.append(f"| {i} | " + " | ".join(cell(row.get(n, "")) for n in names) + " |")
    table = "\n".join(lines)
    if len(rows) > MAX_TRACE_ROWS:
        table += f"\n\n(The first {MAX_TRACE_ROWS} of {len(rows)} states are shown; the pattern continues.)"
    if fixed:
        table += "\n\nUnchanged throughout: " + ", ".join(f"{_code(n)} = {_code(first[n])}" for n in fixed) + "."
    return table


def _families_for(spec: dict, families: dict[str, Family]) -> list[str]:
    area = spec["area"]
    topic = f"{area}/{spec['topic'].split('/')[1]}"
    names = sorted(n for n, f in families.items() if f.topic == topic)
    if not names:
        names = sorted(n for n, f in families.items() if f.topic.split("/")[0] == area)
    if not names:
        raise ValueError(f"no offline family for the area {area!r} (topic {spec['topic']!r}): the offline "
                         f"teacher cannot write this lesson")
    return names


_STOP = {"with", "from", "into", "that", "than", "each", "every", "their", "over", "when", "versus", "between",
         "using", "without", "number", "list", "string", "value", "element", "item", "function", "return", "python",
         "first", "last", "same", "more", "them", "they", "this", "only", "does", "where", "which", "there"}


def _stems(text: str) -> set[str]:
    """Content-word stems, for matching a subtopic phrase with a family ("rotating" ~ "rotate")."""
    out = set()
    for w in re.findall(r"[a-z]+", text.lower()):
        for suffix in ("ing", "ies", "es", "ed", "s", "e"):
            if w.endswith(suffix) and len(w) - len(suffix) >= 4:
                w = w[: -len(suffix)]
                break
        if len(w) >= 4 and w not in _STOP:
            out.add(w)
    return out


def _choose_family(rng: random.Random, subtopic: str, names: list[str], families: dict[str, Family]) -> str:
    """The family whose name and concept share the most words with the subtopic (most of the time: a
    lesson on "rotating left and right by k" should show a rotation), else any of the topic's."""
    want = _stems(subtopic)
    scores = {n: 3 * len(want & _stems(n.replace("_", " ").replace(".", " "))) + len(want & _stems(families[n].concept))
              for n in names}
    best = max(scores.values())
    if best > 0 and rng.random() < 0.85:
        return pick(rng, [n for n in names if scores[n] == best])
    return pick(rng, names)


def _titles(spec: dict) -> tuple[str, str]:
    """(area title, topic title) of the spec, from the spec itself or else from the packaged tree."""
    if spec.get("area_title") and spec.get("topic_title"):
        return spec["area_title"], spec["topic_title"]
    from textbooks.synth.diversity import load_tree

    for leaf in load_tree():
        if leaf.id == spec["topic"]:
            return leaf.area_title, leaf.topic_title
    area, topic = spec["topic"].split("/")[:2]
    return area.replace("_", " ").capitalize(), topic.replace("_", " ").capitalize()


def lesson(spec: dict, families: dict[str, Family], vocab: Any = None) -> Lesson:
    """The markdown section for a textbook spec (textbooks.synth.diversity.textbook_spec), with the
    names of the families it used. Deterministic given the spec; its python blocks run in order in one
    namespace. A ValueError when no family covers the spec's area, or its audience or style is unknown."""
    if vocab is None:
        from textbooks.synth.diversity import load_vocab

        vocab = load_vocab()
    audience, style = spec["audience"], spec["style"]
    if audience not in vocab.audiences:
        raise ValueError(f"lesson: unknown audience {audience!r}")
    if style not in vocab.styles:
        raise ValueError(f"lesson: unknown style {style!r}")
    names = _families_for(spec, families)
    key = json.dumps({k: v for k, v in spec.items()}, sort_keys=True, default=str)
    rng = random.Random(f"lesson:{key}")
    area_title, topic_title = _titles(spec)
    sub = spec["subtopic"]
    fields = {"sub": sub, "Sub": capitalize(sub), "topic": _lower_first(topic_title), "Topic": capitalize(topic_title),
              "topic_title": topic_title, "area": _lower_first(area_title), "Area": capitalize(area_title)}
    words = [str(w) for w in spec.get("words", [])] or ["apple", "river", "lantern"]

    runner = _Runner()
    first_name = _choose_family(rng, sub, names, families)
    fam1 = families[first_name]
    base = f"{key}:{first_name}"
    ex1 = _make_example(runner, fam1, [f"{base}:{k}" for k in range(4)], want=rng.choice((2, 3)))
    if ex1 is None:
        raise ValueError(f"lesson: family {first_name!r} gave no example that runs")
    examples = [ex1]
    trace = None
    if style == "trace_by_hand":  # now, before a second example could redefine a helper the first one calls
        trace = _trace(runner, ex1.made, min((e for e, _ in ex1.shown), key=len))
    compare = style == "compare_approaches"
    second_wanted = compare or rng.random() < 0.4
    alt_same_family = False
    if second_wanted:
        if compare:
            p1 = primary(features(ex1.made))
            ex2 = _make_example(runner, fam1, [f"{base}:alt:{k}" for k in range(8)], want=2,
                                accept=lambda m: primary(features(m)) != p1)
            alt_same_family = ex2 is not None
        else:
            ex2 = None
        if ex2 is None:
            others = [n for n in names if n != first_name] or \
                [n for n, f in sorted(families.items()) if f.topic.split("/")[0] == spec["area"] and n != first_name]
            if others:
                second = pick(rng, others)
                ex2 = _make_example(runner, families[second], [f"{key}:{second}:{k}" for k in range(3)], want=2,
                                    accept=lambda m: m.entry_point != ex1.made.entry_point)
        if ex2 is not None:
            examples.append(ex2)
    last = examples[-1]
    edge = _edge(runner, last)

    parts = _compose(rng, spec, fields, vocab, examples, edge, trace, alt_same_family, words)
    text = "\n\n".join(p.strip("\n") for p in parts if p) + "\n"
    _check_program(runner.blocks)
    return Lesson(text, tuple(dict.fromkeys(e.family.name for e in examples)))


def _check_program(blocks: list[str]) -> None:
    """The concatenated blocks run in a fresh namespace, as the verifier will run them."""
    program = "\n\n".join(blocks)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(program, FILENAME, "exec", dont_inherit=True), {"__name__": "__lesson__"})
    except Exception as e:  # an assembly bug, not a bad family: every block ran on its own
        raise RuntimeError(f"lesson: the assembled code blocks fail together: {type(e).__name__}: {e}") from e


# --- composing the text -------------------------------------------------------------------------------------


def _compose(rng: random.Random, spec: dict, fields: dict[str, str], vocab: Any, examples: list[_Example],
             edge: tuple[str, str, str, str] | None, trace: str | None, alt_same_family: bool,
             words: list[str]) -> list[str]:
    style, audience, area = spec["style"], spec["audience"], spec["area"]
    ex1 = examples[0]
    pitfalls = list(_PITFALLS.get(area, _PITFALL_FALLBACK))
    rng.shuffle(pitfalls)
    # the area's cautions that share words with this lesson's subject first (a stable sort keeps the shuffle)
    subject = _stems(" ".join([spec["subtopic"], *(e.family.concept for e in examples)]))
    pitfalls.sort(key=lambda p: -len(_stems(p) & subject))
    angle = pick(rng, _ANGLE.get(audience, (f"This section is written for {vocab.audiences[audience]}.",)))
    opening = _opening(rng, fields, audience, style, tuple(vocab.banned_openings))
    roadmap = pick(rng, _ROADMAP.get(style, ("A worked example follows.",)))
    concept = " ".join(ex1.family.concept.split())
    desc1 = _sentence(ex1.made.description)
    feats1 = features(ex1.made)

    out = [_title(rng, fields, style)]
    if style in ("worked_example", "problem_first", "practical_scenario"):
        out.append(f"{opening} {roadmap}")
        out.append(pick(rng, ("Here is the task. ", "Here is the problem. ", "Our task is this one. ")) + desc1)
        out.append(_block(ex1.source_block))
        out.append(_calls_lead(rng) + "\n\n" + _block(ex1.calls_block))
        out.append(pick(rng, ("Why does it work? ", "The idea behind it: ", "What makes this work: ")) + concept
                   + f" This version {_describe(feats1)}.")
        out.append(angle)
    elif style == "step_by_step":
        out.append(f"{opening} {roadmap}")
        out.append(concept)
        out.append(f"**Step 1: state the task.** {desc1} {angle}")
        out.append(f"**Step 2: write the function.** The body {_describe(feats1)}.\n\n" + _block(ex1.source_block))
        out.append("**Step 3: run it on typical inputs.** " + _calls_lead(rng) + "\n\n" + _block(ex1.calls_block))
    elif style == "compare_approaches":
        out.append(f"{opening} {roadmap}")
        out.append(concept + " " + angle)
        out.append(f"**First version.** {desc1} It {_describe(feats1)}.")
        out.append(_block(ex1.source_block))
        out.append(_calls_lead(rng) + "\n\n" + _block(ex1.calls_block))
    elif style == "guiding_questions":
        out.append(f"{opening} {roadmap}")
        out.append(f"**What exactly is the task?** {desc1}")
        out.append(f"**What is the idea?** {concept}")
        out.append(f"**What does the code look like?** One possible answer {_describe(feats1)}:\n\n"
                   + _block(ex1.source_block))
        out.append("**Does it work?** " + _calls_lead(rng) + "\n\n" + _block(ex1.calls_block))
        out.append(angle)
    elif style == "examples_first":
        out.append(f"{opening} {roadmap}")
        out.append(f"Here is the task. {desc1} Before any code, these are the results we expect:\n\n"
                   + "\n".join(f"- {_code(e)} should return {_code(v)}" for e, v in ex1.shown))
        out.append(concept + " " + angle)
        out.append(f"A function that earns those results {_describe(feats1)}:\n\n" + _block(ex1.source_block))
        out.append("Checking it against the list above:\n\n" + _block(ex1.calls_block))
    elif style == "trace_by_hand":
        out.append(f"{opening} {roadmap}")
        out.append(concept + " " + angle)
        out.append(f"The function below has one job. {desc1}\n\n" + _block(ex1.source_block))
        expr = min((e for e, _ in ex1.shown), key=len)
        value = dict(ex1.shown)[expr]
        if trace:
            out.append(f"**Tracing a call.** Take {_code(expr)}. The table lists the function's local variables "
                       f"each time one of them changes, from the first line to the return:\n\n{trace}\n\n"
                       f"The call returns {_code(value)}.")
        else:
            out.append(f"**Tracing a call.** Take {_code(expr)}. The body {_describe(feats1)}, so there is little "
                       f"state to follow: read it once with the arguments substituted, and you arrive at "
                       f"{_code(value)}.")
        out.append("The same calls, run for real:\n\n" + _block(ex1.calls_block))
    else:  # concept_first, common_mistakes, concise_reference and any other style
        out.append(f"{opening} {roadmap}")
        out.append(concept)
        if style != "concise_reference":
            out.append(angle)
        out.append(_source_lead(rng, desc1, feats1) + "\n\n" + _block(ex1.source_block))
        out.append(_calls_lead(rng) + "\n\n" + _block(ex1.calls_block))

    if len(examples) > 1:
        ex2 = examples[1]
        feats2 = features(ex2.made)
        desc2 = _sentence(ex2.made.description)
        if style == "compare_approaches":
            if alt_same_family:
                out.append(f"**Second version.** The same kind of task, solved differently. {desc2} "
                           f"This one {_describe(feats2)}.")
            else:
                out.append(f"**A second, related task.** {desc2} It {_describe(feats2)}.")
            out.append(_block(ex2.source_block))
            out.append(_calls_lead(rng) + "\n\n" + _block(ex2.calls_block))
            if primary(feats1) != primary(feats2):
                contrast = f"The first function {_tradeoff(feats1)}; the second {_tradeoff(feats2)}. "
            else:  # a related task with the same main technique: the comparison is about the tasks
                contrast = (f"Both functions rest on the same technique: each {_tradeoff(feats1)}. What changes "
                            f"is the task itself, so compare how each body encodes its own rule. ")
            out.append("**Comparing the two.** " + contrast + pick(rng, (
                           "Neither is always better: pick the one a reader will understand fastest, and keep "
                           "the other in mind when the first becomes awkward.",
                           "For a short task the clearer version wins; when the input grows or the rules get more "
                           "complicated, the trade-off can change.",
                           "Both are correct on their own checks, so the choice is about readability and how "
                           "easily each version can be changed later.")))
        else:
            label = pick(rng, ("**Another example.**", "**A second example.**", "**One more example.**"))
            lead = label + " " + desc2 + f" This function {_describe(feats2)}."
            if ex2.family.name != ex1.family.name:
                lead += " " + _first_sentence(ex2.family.concept)
            out.append(lead + "\n\n" + _block(ex2.source_block))
            out.append(_calls_lead(rng) + "\n\n" + _block(ex2.calls_block))

    elif style == "compare_approaches":  # no second version to show: the comparison is made in words
        out.append("**Comparing approaches.** " + f"This version {_tradeoff(feats1)}. " + _ALTERNATIVE[primary(feats1)])

    pitfall = pitfalls[0]
    if edge and edge[3] is None:  # an assert from the tests
        block, label, expr, _ = edge
        edge_text = pick(rng, (f"Edge cases deserve their own check. For {label}, the tests assert {_code(expr)}, "
                               f"and it holds:",
                               f"What about {label}? The check {_code(expr)} passes:"))
    elif edge:
        block, label, expr, value = edge
        edge_text = pick(rng, (
            f"Edge cases deserve their own check. With {label}, {_code(expr)} gives {_code(value)}.",
            f"What about {label}? {_code(expr)} returns {_code(value)}; confirm that this is what the docstring "
            f"promises.",
            f"The boundary case here is {label}: {_code(expr)} evaluates to {_code(value)}.",
            f"Do not skip {label}. Calling {_code(expr)} gives {_code(value)}, and a careless version often "
            f"gets exactly this case wrong."))
    if edge:
        edge_part = edge_text + "\n\n" + _block(edge[0])
    else:
        edge_part = ("Edge cases deserve their own thought: before trusting the function, decide what it should "
                     "return for the smallest input it accepts, and add that call to the checks.")
    if style == "step_by_step":
        edge_part = "**Step 4: check an edge case.** " + edge_part
    elif style == "guiding_questions":
        edge_part = "**What about the extremes?** " + edge_part
    out.append(edge_part)
    if style == "common_mistakes":
        out.append("**Where it goes wrong.** " + " ".join(pitfalls[:2]) + " "
                   + ("The edge case above is where hurried versions usually fail." if edge else
                      "Try the smallest inputs first; that is where hurried versions usually fail."))
    elif style == "guiding_questions":
        out.append(f"**What could go wrong?** {pitfall}")
    else:
        caution = pick(rng, ("A general caution: ", "Keep in mind: ", "One more thing to watch: ", ""))
        out.append(caution + (_lower_first(pitfall) if caution else pitfall))

    if style != "concise_reference" or rng.random() < 0.5:
        out.append(_try_it(rng, examples[-1], words))
    out.append(_summary(rng, fields, ex1, edge, pitfalls[-1], style))
    return out


def _calls_lead(rng: random.Random) -> str:
    return pick(rng, ("Calling it on a few inputs shows the behaviour:", "A few calls, with the value each one prints:",
                      "Running it on some sample inputs:",
                      "Here is what it returns for a few inputs (the comments give the printed values):",
                      "Some calls and their results:", "To see it in action:"))


def _source_lead(rng: random.Random, desc: str, feats: dict) -> str:
    how = _describe(feats)
    return pick(rng, (f"Here is a complete function for a typical task of this kind. {desc} It {how}.",
                      f"The example task is this one. {desc} The solution below {how}.",
                      f"A concrete function makes this tangible. {desc}",
                      f"The function below puts the idea to work; it {how}. {desc}",
                      f"Read the docstring first, then the body, which {how}."))


def _try_it(rng: random.Random, ex: _Example, words: list[str]) -> str:
    feats = features(ex.made)
    if isinstance(_entry_node(ex.made), ast.ClassDef):
        suggestion = "Create a second object and check that the two instances do not share any state."
    elif "recursion" in feats:
        suggestion = "Rewrite the function with a loop instead of recursion and check that the calls print the same."
    elif "loop" in feats:
        suggestion = ("Rewrite the body without an explicit loop, using built-in functions or a comprehension, and "
                      "check that the calls above print the same results.")
    elif "comprehension" in feats:
        suggestion = "Rewrite the comprehension as an ordinary `for` loop that builds the result step by step."
    elif "builtins" in feats or "library" in feats:
        suggestion = "Rewrite the body with an explicit loop instead of the library calls, so that every step shows."
    else:
        suggestion = "Change one input of the calls above and predict the new output before running the code."
    w = (words + ["apple", "river", "lantern"])[:3]
    head = pick(rng, ("**Try it yourself.**", "**Your turn.**", "**Practice.**"))
    if _signature_has_text(ex.made):
        extra = pick(rng, (
            f"Then call it on text of your own, for example built from the words '{w[0]}', '{w[1]}' and "
            f"'{w[2]}', and write down the result you expect before running it.",
            f"Test it on '{w[0]}' and on '{w[1]} {w[2]}' too, predicting each result first."))
    else:
        extra = pick(rng, (
            f"Then write a short word problem involving the words '{w[0]}' and '{w[1]}' that this function "
            f"solves, and turn it into a call.",
            f"Invent a small story about '{w[0]}', '{w[1]}' and '{w[2]}' that needs this computation, and check "
            f"your predicted answer with a call."))
    return f"{head} {suggestion} {extra}"


def _summary(rng: random.Random, fields: dict[str, str], ex: _Example, edge, pitfall: str, style: str) -> str:
    idea = _first_sentence(ex.family.concept)
    label = edge[1] if edge else "the smallest input"
    if style == "concise_reference" or rng.random() < 0.4:
        head = pick(rng, ("**Key points**", "**Remember**", "**In summary**"))
        return (f"{head}\n\n- {idea}\n- Check edge cases such as {label} as carefully as typical inputs.\n"
                f"- {pitfall}")
    head = pick(rng, ("**Summary.**", "**To sum up.**", "**Wrapping up.**", "**In short.**"))
    closing = pick(rng, (f"The same reasoning carries over to other tasks in {fields['topic']}.",
                         f"With this pattern in hand, {fields['sub']} should feel routine.",
                         "Write the checks first, and the code has something to live up to."))
    return f"{head} {idea} Whatever the task, test {label} as well as the typical cases. {closing}"


__all__ = ["lesson", "Lesson", "features", "stable_repr", "show_line", "capitalize"]
