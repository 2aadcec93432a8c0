"""Mine CodeExercises from real code: self-contained, documented functions whose own examples make the tests.

The offline teacher's second source, beside the procedural families: a function found in the curated corpus
becomes an exercise when its signature + docstring can serve as the prompt, its body as the completion, and
its docstring's doctest examples (or the file's top-level asserts) as the tests. The result is rendered as a
teacher answer (`mined_answer`, the two fenced blocks of `family.render_answer`), so a mined item goes
through the same parser and sandbox check as an LLM's answer; the miner only has to make that check likely
to pass, it never replaces it.

    for m in mine_documents(documents):          # datatrove Documents, e.g. from textbooks.data.sources
        answer = mined_answer(m)                 # -> textbooks.synth.parse.parse_exercise(answer)

Which functions (StarCoder2's Self-OSS-Instruct seeds are chosen the same way: a docstring, a return, no
os/sys, no TODO):
- a top-level `def` (not a method, not nested, not async), public (no leading underscore), 3..60 lines, with
  a docstring and a `return` of a value, whose body is more than `return <constant>`;
- self-contained: every global name it reads is a builtin, an import at the top of the file from
  ALLOWED_MODULES, or another top-level function of the file that is itself self-contained (copied above the
  entry point); imports inside the function come from ALLOWED_MODULES too;
- clean: no `global`, no `yield` (the tests compare a returned value), no async, no I/O or process names
  (FORBIDDEN_NAMES), no TODO/FIXME;
- tested: at least MIN_TESTS asserts, from doctest examples whose source is an expression calling the
  function and whose expected output is a Python literal, and from the file's top-level asserts calling it
  with literal arguments. The docstring stays as written (its examples are part of the prompt, as in
  HumanEval).
"""

from __future__ import annotations

import ast
import builtins
import doctest
import io
import re
import symtable
import textwrap
import warnings
from dataclasses import dataclass
from typing import Iterable, Iterator

from datatrove.data import Document

from textbooks.synth.offline.family import Made, render_answer

# The paper's package mix (family.py uses the same set): pure, deterministic, no I/O.
ALLOWED_MODULES = frozenset({"typing", "math", "collections", "itertools", "functools", "re", "string", "datetime",
                             "heapq", "bisect", "fractions", "decimal", "statistics", "operator"})
# Names that reach files, the terminal, processes or the interpreter's internals: an exercise must not need
# them (the sandbox would refuse some, and a model should not learn that a toy task prints or shells out).
FORBIDDEN_NAMES = frozenset({"open", "print", "input", "os", "sys", "subprocess", "socket", "eval", "exec",
                             "__import__", "compile", "breakpoint", "globals", "locals", "vars", "exit", "quit",
                             "help"})
# Builtins a function may read: the interpreter's, less the forbidden ones, the dunders (module attributes
# such as __name__ or __file__ differ between the corpus file and the exercise) and site's REPL helpers.
SAFE_BUILTINS = frozenset(n for n in dir(builtins) if not n.startswith("_")) - FORBIDDEN_NAMES - {
    "copyright", "credits", "license"}
MIN_LINES, MAX_LINES = 3, 60
MIN_TESTS = 2
FLOAT_TOLERANCE = 1e-9
_BAD_WORDS = re.compile(r"\b(TODO|FIXME)\b")
# A line that parse.code_blocks would read as a fence would cut the answer's ```python block short.
_FENCE_LINE = re.compile(r"^[ \t]*(`{3,}|~{3,})", re.M)


@dataclass(frozen=True)
class Mined:
    """One mined exercise. source: the needed imports, helper functions, then the entry point (docstring
    included), dedented to column 0; tests: plain asserts calling `entry_point`; origin: the document id;
    line: the 1-based line of the entry point's `def` in that document."""

    entry_point: str
    source: str
    tests: str
    origin: str
    line: int


# --- the file: its lines, top-level names and what binds them --------------------------------------------

def _lines(text: str) -> list[str]:
    """The text's lines as the tokenizer counts them (\\n, \\r\\n, \\r), so ast line numbers index them.
    str.splitlines would also split at form feeds, common in old library files, and shift every line."""
    return io.StringIO(text, newline="").readlines()


@dataclass
class _File:
    lines: list[str]
    tree: ast.Module
    defs: dict[str, ast.FunctionDef]  # names bound only by one top-level def
    imports: dict[str, tuple[int, str]]  # name -> (line, statement) for allowed top-level imports
    bound: set[str]  # every name bound at module level (by anything)
    used: set[str]  # names read by module-level code (asserts and the main guard aside)

    def segment(self, node: ast.stmt) -> str:
        """The node's source lines (decorators included), line endings normalised to \\n."""
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        return "".join(line.rstrip("\r\n") + "\n" for line in self.lines[first - 1 : node.end_lineno])


def _import_statement(alias: ast.alias, node: ast.Import | ast.ImportFrom) -> tuple[str, str] | None:
    """(the name the alias binds, a one-name import statement binding it), when the module is allowed."""
    if isinstance(node, ast.ImportFrom):
        if node.level or not node.module or node.module.split(".")[0] not in ALLOWED_MODULES or alias.name == "*":
            return None
        bound = alias.asname or alias.name
        return bound, f"from {node.module} import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
    if alias.name.split(".")[0] not in ALLOWED_MODULES:
        return None
    bound = alias.asname or alias.name.split(".")[0]
    return bound, f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")


def _module_names(tree: ast.Module) -> tuple[dict[str, list[tuple[str, object]]], set[str]]:
    """(bindings, uses) of module-level code. bindings: name -> how it is bound: ("def", node) for a plain
    top-level def, ("import", (line, statement)) for an allowed top-level import, ("other", None) for anything
    else (assignments, classes, conditional definitions, other imports, del); only a name bound one clean
    way can be relied upon. uses: names read by module-level code other than asserts and the main guard:
    a function used there may be changed by it (singledispatch overloads registered, attributes set), and
    copying its def alone would lose that (a recursive singledispatch function without its overloads
    recurses until the interpreter crashes)."""
    out: dict[str, list[tuple[str, object]]] = {}
    uses: set[str] = set()
    top = set(map(id, tree.body))

    def add(name: str, kind: str, what: object = None) -> None:
        out.setdefault(name, []).append((kind, what))

    # checks: inside a top-level assert or the main guard, whose reads are tests or a script's demo, not setup.
    def visit(node: ast.AST, checks: bool = False) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if isinstance(node, ast.FunctionDef) and id(node) in top:
                add(node.name, "def", node)
            else:
                add(node.name, "other")
            # Decorators, defaults and annotations run at module level; the body does not.
            for child in getattr(node, "decorator_list", []):
                visit(child, checks)
            if isinstance(node, ast.ClassDef):
                for child in node.bases + [k.value for k in node.keywords]:
                    visit(child, checks)
            else:
                for child in node.args.defaults + [d for d in node.args.kw_defaults if d is not None]:
                    visit(child, checks)
            return
        if isinstance(node, ast.Lambda):
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                found = _import_statement(alias, node) if id(node) in top else None
                if found:
                    add(found[0], "import", (node.lineno, found[1]))
                elif alias.name != "*":
                    add(alias.asname or alias.name.split(".")[0], "other")
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            add(node.id, "other")
        elif isinstance(node, ast.Name) and not checks:
            uses.add(node.id)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            add(node.name, "other")
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            add(node.name, "other")
        elif isinstance(node, ast.MatchMapping) and node.rest:
            add(node.rest, "other")
        for child in ast.iter_child_nodes(node):
            visit(child, checks)

    for stmt in tree.body:
        visit(stmt, isinstance(stmt, ast.Assert) or _is_main_guard(stmt))
    return out, uses


def _is_main_guard(node: ast.stmt) -> bool:
    return (isinstance(node, ast.If) and isinstance(node.test, ast.Compare) and isinstance(node.test.left, ast.Name)
            and node.test.left.id == "__name__")


def _read_file(text: str) -> _File | None:
    try:
        with warnings.catch_warnings():  # invalid escapes etc. in corpus files are not our concern
            warnings.simplefilter("ignore")
            tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    bindings, uses = _module_names(tree)
    defs: dict[str, ast.FunctionDef] = {}
    imports: dict[str, tuple[int, str]] = {}
    for name, kinds in bindings.items():
        if len(kinds) == 1 and kinds[0][0] == "def":
            defs[name] = kinds[0][1]  # type: ignore[assignment]
        elif all(k == "import" for k, _ in kinds) and len({w[1] for _, w in kinds}) == 1:  # type: ignore[index]
            imports[name] = kinds[0][1]  # type: ignore[assignment]
    return _File(_lines(text), tree, defs, imports, set(bindings), uses)


# --- one function: is it clean, and which names does it need ---------------------------------------------

def _own_scope(node: ast.AST) -> Iterator[ast.AST]:
    """The nodes of a function's own body, not those of functions, lambdas or classes nested in it."""
    for child in ast.iter_child_nodes(node):
        yield child
        if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            yield from _own_scope(child)


def _global_names(source: str) -> set[str] | None:
    """Names the code reads from its module's globals or the builtins (symtable's view, so scoping rules,
    comprehensions and closures are the compiler's own), or None when the code does not compile."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            top = symtable.symtable(source, "<mined>", "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    # At module level of the snippet: decorators, defaults and annotations (the def's own name is bound).
    names = {s.get_name() for s in top.get_symbols() if s.is_referenced()}
    stack = list(top.get_children())
    while stack:
        table = stack.pop()
        names.update(s.get_name() for s in table.get_symbols() if s.is_global())
        stack.extend(table.get_children())
    return names


@dataclass(frozen=True)
class _Needs:
    helpers: frozenset[str]
    imports: frozenset[str]  # names bound by allowed top-level imports (keys of _File.imports)


def _local_check(file: _File, node: ast.FunctionDef) -> _Needs | None:
    """What `node` needs from its file (helpers, imports), or None when it is not clean and self-contained.
    Non-recursive: the caller follows the helpers."""
    if node.name in file.used:
        return None
    source = file.segment(node)
    if len(source.splitlines()) > MAX_LINES or _BAD_WORDS.search(source) or _FENCE_LINE.search(source):
        return None
    # parse.parse_exercise splits prompt from body with str.splitlines: other line breaks would misplace it.
    if len(source.splitlines()) != source.count("\n"):
        return None
    for sub in ast.walk(node):
        if isinstance(sub, (ast.Global, ast.AsyncFunctionDef, ast.Await, ast.AsyncFor, ast.AsyncWith)):
            return None
        if isinstance(sub, ast.Import) and any(a.name.split(".")[0] not in ALLOWED_MODULES for a in sub.names):
            return None
        if isinstance(sub, ast.ImportFrom) and (sub.level or (sub.module or "").split(".")[0] not in ALLOWED_MODULES):
            return None
    names = _global_names(source)
    if names is None:
        return None
    helpers, imports = set(), set()
    for name in names:
        if name in FORBIDDEN_NAMES:
            return None
        if name in file.defs:
            helpers.add(name)
        elif name in file.imports:
            imports.add(name)
        elif name in file.bound or name not in SAFE_BUILTINS:
            return None  # a module variable, a class, a conditional definition, a star import, a typo
    return _Needs(frozenset(helpers), frozenset(imports))


def _closure(file: _File, entry: str, cache: dict[str, _Needs | None]) -> tuple[list[str], set[str]] | None:
    """(helpers the entry point needs, transitively, in file order; the imports they all need), or None when
    one of them is not self-contained. A worklist over the helper graph, so mutual recursion is fine."""
    seen, todo, imports = {entry}, [entry], set()
    while todo:
        name = todo.pop()
        if name not in cache:
            cache[name] = _local_check(file, file.defs[name])
        needs = cache[name]
        if needs is None:
            return None
        imports |= needs.imports
        for helper in needs.helpers - seen:
            seen.add(helper)
            todo.append(helper)
    helpers = sorted(seen - {entry}, key=lambda n: file.defs[n].lineno)
    return helpers, imports


def _docstring_node(node: ast.FunctionDef) -> ast.Constant | None:
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        return first.value
    return None


def _is_entry_candidate(file: _File, node: ast.FunctionDef) -> bool:
    """The rules that apply to the entry point only (helpers may be private, undocumented, generators)."""
    if node.name.startswith("_") or node.name not in file.defs:
        return False
    first = min([node.lineno] + [d.lineno for d in node.decorator_list])
    if not MIN_LINES <= node.end_lineno - first + 1 <= MAX_LINES:
        return False
    doc = _docstring_node(node)
    if doc is None or not (ast.get_docstring(node) or "").strip():
        return False
    # parse.parse_exercise cuts the prompt at the docstring's last line; code after it there cannot be split.
    if not file.lines[doc.end_lineno - 1].rstrip().endswith(("'", '"')):
        return False
    rest = node.body[1:]
    if not rest or (len(rest) == 1 and isinstance(rest[0], ast.Return) and isinstance(rest[0].value, ast.Constant)):
        return False
    own = list(_own_scope(node))
    if any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in own):
        return False
    return any(isinstance(n, ast.Return) and n.value is not None
               and not (isinstance(n.value, ast.Constant) and n.value.value is None) for n in own)


# --- tests ---------------------------------------------------------------------------------------------------

def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == name]


def _usable_in_tests(code: str, available: set[str]) -> bool:
    """Whether the test reads only names the exercise's program defines (`available`) or safe builtins."""
    names = _global_names(code)
    return names is not None and all(n in available or n in SAFE_BUILTINS for n in names)


def _doctest_asserts(docstring: str, entry: str, available: set[str]) -> list[str]:
    """Asserts from the docstring's examples: `>>> expr` with a literal expected output. Examples with an
    exception, an ellipsis (ELLIPSIS or a literal `...`), SKIP, no output (a statement, or printing) are
    left out; they stay in the docstring as part of the prompt."""
    try:
        examples = doctest.DocTestParser().get_examples(docstring)
    except ValueError:  # malformed examples (inconsistent indentation): nothing we can trust
        return []
    out = []
    for ex in examples:
        if ex.exc_msg is not None or ex.options.get(doctest.ELLIPSIS) or ex.options.get(doctest.SKIP):
            continue
        want = ex.want.strip()
        if not want or "..." in want:
            continue
        try:
            expr = ast.parse(ex.source.strip(), mode="eval")
            if not _calls(expr, entry):
                continue
            # repr of a huge int can exceed the int/str digit limit; unparse of a deep tree can recurse.
            test = _assert_for(expr.body, ast.literal_eval(want))
        except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
            continue
        if _usable_in_tests(test, available):
            out.append(test)
    return out


def _assert_for(expr: ast.expr, value: object) -> str:
    """`assert <expr> == <value>`, built as a tree so ast.unparse adds the parentheses a chained comparison
    would need (`f(x) == y` shown as True must not become `f(x) == y == True`), on one line (the example
    may span `...` lines or end in a comment)."""
    expected = ast.parse(repr(value), mode="eval").body  # literal_eval's values repr back to literals
    if isinstance(value, bool):
        if isinstance(expr, (ast.Compare, ast.BoolOp)) or (isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.Not)):
            test: ast.expr = expr if value else ast.UnaryOp(ast.Not(), expr)
        else:
            test = ast.Compare(expr, [ast.Is()], [expected])
    elif isinstance(value, float):
        # repr round-trips, but the last digit of a float result may differ across platforms and libms.
        test = ast.Compare(ast.Call(ast.Name("abs", ast.Load()), [ast.BinOp(expr, ast.Sub(), expected)], []),
                           [ast.Lt()], [ast.Constant(FLOAT_TOLERANCE)])
    else:
        test = ast.Compare(expr, [ast.Eq()], [expected])
    return ast.unparse(ast.Assert(test))


def _literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _file_asserts(file: _File) -> list[ast.Assert]:
    """Top-level asserts, and those under `if __name__ == "__main__":` (where scripts keep their checks)."""
    out = []
    for stmt in file.tree.body:
        if isinstance(stmt, ast.Assert):
            out.append(stmt)
        elif _is_main_guard(stmt):
            out.extend(s for s in stmt.body if isinstance(s, ast.Assert))
    return out


def _top_level_asserts(file: _File, entry: str, available: set[str]) -> list[str]:
    out = []
    for stmt in _file_asserts(file):
        calls = _calls(stmt, entry)
        if not calls or not all(_literal(a) for c in calls for a in c.args + [k.value for k in c.keywords]):
            continue
        if any(isinstance(a, ast.Starred) for c in calls for a in c.args):
            continue
        try:
            test = ast.unparse(stmt)
        except RecursionError:
            continue
        if _usable_in_tests(test, available):
            out.append(test)
    return out


# --- mining ----------------------------------------------------------------------------------------------------

def mine_functions(text: str, doc_id: str) -> list[Mined]:
    """Every exercise that can be mined from one Python file's text (see the module docstring for the rules);
    [] for text that does not parse."""
    file = _read_file(text)
    if file is None:
        return []
    cache: dict[str, _Needs | None] = {}
    mined = []
    for node in file.tree.body:
        if not isinstance(node, ast.FunctionDef) or not _is_entry_candidate(file, node):
            continue
        found = _closure(file, node.name, cache)
        if found is None:
            continue
        helpers, imports = found
        head = "".join(stmt + "\n" for _, stmt in sorted(file.imports[n] for n in imports))
        parts = ([head] if head else []) + [textwrap.dedent(file.segment(file.defs[h])) for h in helpers]
        source = "\n\n".join(p.rstrip("\n") + "\n" for p in parts + [textwrap.dedent(file.segment(node))])
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                compile(source, "<mined>", "exec", dont_inherit=True)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        available = {node.name, *helpers, *imports}
        tests = list(dict.fromkeys(_doctest_asserts(ast.get_docstring(node) or "", node.name, available)
                                   + _top_level_asserts(file, node.name, available)))
        if len(tests) < MIN_TESTS:
            continue
        mined.append(Mined(node.name, source, "\n".join(tests) + "\n", doc_id, node.lineno))
    return mined


def mine_documents(docs: Iterable[Document], limit: int | None = None) -> Iterator[Mined]:
    """Mine each document's text, in order, at most `limit` items. The same function copied into several
    files (vendored code) is yielded once: its first (source, tests) wins."""
    seen: set[tuple[str, str]] = set()
    count = 0
    for doc in docs:
        if limit is not None and count >= limit:
            return
        for m in mine_functions(doc.text, str(doc.id)):
            if (m.source, m.tests) in seen:
                continue
            seen.add((m.source, m.tests))
            yield m
            count += 1
            if limit is not None and count >= limit:
                return


def mined_answer(m: Mined) -> str:
    """The teacher-answer text for a mined item (family.render_answer's two blocks), for parse_exercise."""
    node = next(n for n in ast.parse(m.source).body if isinstance(n, ast.FunctionDef) and n.name == m.entry_point)
    doc = (ast.get_docstring(node) or "").strip()
    description = doc.splitlines()[0] if doc else m.entry_point
    return render_answer(Made(m.entry_point, m.source, m.tests, description))
