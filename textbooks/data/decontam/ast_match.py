"""Code snippets of a document and the AST match rate tau (paper §5.2, "syntax distance").

The paper measures "(string) edit distance between the abstract syntax trees (ASTs) of two given code
snippets", ignoring names, comments and docstrings; the AST match rate tau is the similarity threshold. Here:

- `normalized_ast(node)`: the AST serialised pre-order as a string, one character per node type (a `)` closes
  the children of a node that has any). Dropped: every name (identifiers, attribute names, argument and
  function names, keyword names, import aliases keep only their node type), every constant's value (a
  `Constant` node remains), docstrings (the first string statement of a module/class/function body),
  comments (not in the AST), type annotations and expression contexts (Load/Store). Operators and
  comparison kinds stay: `a + b` and `a - b` differ, as a change of logic should. `names="keep-api"` also
  keeps builtin names (`len`, `sorted`) and attribute names (`.append`), which renaming a program's own
  identifiers leaves alone: fewer false positives on small functions, no longer the paper's definition.
- `match_rate(a, b)` = tau = 1 - Levenshtein(a, b) / max(len a, len b), from rapidfuzz: 1.0 for the same
  AST under renaming, reformatting, other constants and reworded docstrings; lower as the control flow
  changes. App. C of the paper shows pairs at tau 1.0, 0.96, 0.9 and 0.83.
- `code_snippets(text)`: the function-level snippets of a document: every function (`def`, nested ones and
  methods included) of a document that parses as Python. One that does not (a syntax error anywhere, a
  truncated completion, Python 2, prose around code) is recovered piece by piece: the fenced code blocks of
  Markdown text (synthetic textbooks) when it has any, else its top-level blocks (split at the lines that
  start a top-level `def`, `class` or decorator); each piece that does not parse either is cut before its
  error line and parsed again (`recover_modules`), so one broken line costs at most the rest of its own
  function, never the other functions of the document. A module without functions is one snippet; text
  with no parseable code is one snippet without an AST (the embedding detector can still use it).
- `extract_snippets(text, limit)`: the same and how many functions the document has. Over `limit`, the
  `limit` largest functions (most AST nodes; source order among equals) are kept: padding a file with
  thousands of tiny functions does not push a copied solution out of the comparison.
"""

from __future__ import annotations

import ast
import builtins
import re
import textwrap
import warnings
import zlib
from dataclasses import dataclass
from typing import Sequence

import numpy as np

# Fields that carry names, values or types rather than structure (see the module docstring).
_SKIPPED_FIELDS = frozenset({"ctx", "annotation", "returns", "type_comment", "type_params"})
_BODY_OWNERS = (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_CLOSE = ")"
_CODES: dict[str, str] = {}
_BUILTIN_NAMES = frozenset(dir(builtins))
NAME_MODES = ("ignore", "keep-api")  # node type name -> one private-use character (stable within a process)
_FENCE = re.compile(r"^[ \t]*(```|~~~)[ \t]*([\w+-]*)[^\n]*\n(.*?)^[ \t]*\1[ \t]*$", re.MULTILINE | re.DOTALL)
_CODE_LANGS = {"", "python", "py", "python3", "py3"}


def _all_node_types() -> list[str]:
    seen, todo = set(), [ast.AST]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub.__module__ == "ast" and sub.__name__ not in seen:
                seen.add(sub.__name__)
                todo.append(sub)
    return sorted(seen)


def _code(label: str) -> str:
    """One character per label: node types get fixed private-use characters (U+E000...), "Name:len" /
    "Attribute:append" labels of names="keep-api" a character hashed into plane 15's private-use area."""
    code = _CODES.get(label)
    if code is None:
        if ":" in label:
            code = chr(0xF0000 + zlib.crc32(label.encode()) % 0xFFFE)
        else:
            code = chr(0xE000 + len(_CODES))
        _CODES[label] = code
    return code


for _name in _all_node_types():
    _code(_name)


def _is_docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


_FIELDS: dict[type, tuple[str, ...]] = {}


def _fields(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f for f in cls._fields if f not in _SKIPPED_FIELDS)
    return names


class _End:
    """Stack marker: the subtree of a function ends here (its serialisation is out[start:len(out)])."""

    __slots__ = ("node", "start", "count")

    def __init__(self, node: ast.AST, start: int, count: int):
        self.node, self.start, self.count = node, start, count


def _serialise(root: ast.AST, spans: list | None = None, names: str = "ignore") -> tuple[str, int]:
    """Pre-order serialisation of `root`; with `spans`, append (function node, start, end, nodes) for every
    function below it (a subtree's serialisation is a contiguous slice of its parent's). names="keep-api"
    keeps the names of builtins (`len`, `sorted`) and attributes (`.append`), which renaming the program's
    own identifiers does not change."""
    keep_api = names == "keep-api"
    out: list[str] = []
    count = 0
    stack: list = [root]
    while stack:
        cur = stack.pop()
        if cur is _CLOSE:
            out.append(_CLOSE)
            continue
        if type(cur) is _End:
            spans.append((cur.node, cur.start, len(out), count - cur.count))
            continue
        cls = type(cur)
        if spans is not None and cls in _FUNCTIONS:
            stack.append(_End(cur, len(out), count))
        label = cls.__name__
        if keep_api:
            if cls is ast.Name and cur.id in _BUILTIN_NAMES:
                label = "Name:" + cur.id
            elif cls is ast.Attribute:
                label = "Attribute:" + cur.attr
        out.append(_CODES.get(label) or _code(label))
        count += 1
        children: list[ast.AST] = []
        for name in _fields(cls):
            value = getattr(cur, name, None)
            if type(value) is list:
                if name == "body" and value and isinstance(cur, _BODY_OWNERS) and _is_docstring(value[0]):
                    value = value[1:]
                children.extend(v for v in value if isinstance(v, ast.AST))
            elif isinstance(value, ast.AST):
                children.append(value)
        if children:
            stack.append(_CLOSE)
            children.reverse()
            stack.extend(children)
    return "".join(out), count


def normalized_ast(node: ast.AST, names: str = "ignore") -> tuple[str, int]:
    """(serialisation, number of nodes) of `node` with names, constants, docstrings, annotations ignored
    (names="keep-api": except builtins and attribute names)."""
    if names not in NAME_MODES:
        raise ValueError(f"names must be one of {', '.join(NAME_MODES)}, got {names!r}")
    return _serialise(node, names=names)


def match_rate(a: str, b: str) -> float:
    """tau of two serialisations from `normalized_ast` (1.0 = the same normalised AST)."""
    from rapidfuzz.distance import Levenshtein

    return float(Levenshtein.normalized_similarity(a, b))


def _parse_or_error_line(source: str) -> tuple[ast.Module | None, int | None]:
    """(tree, None), or (None, the line of the syntax error when the parser names one)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ast.parse(source), None
        except SyntaxError as e:  # IndentationError / TabError included
            return None, e.lineno if isinstance(e.lineno, int) else None
        except (ValueError, RecursionError, MemoryError):  # null bytes, nesting beyond the parser's limits
            return None, None


def parse(source: str) -> ast.Module | None:
    """ast.parse, None on any failure; no SyntaxWarnings for odd escapes (common in real code)."""
    return _parse_or_error_line(source)[0]


DEFAULT_MAX_SNIPPETS = 10_000  # functions compared per document (DecontaminateConfig.max_snippets)
MAX_CUTS = 8  # times one block is cut before its error line and parsed again
_TOP_LEVEL_START = re.compile(r"(?:@|(?:async[ \t]+)?def[ \t]|class[ \t])")


def _top_level_blocks(lines: list[str]) -> list[int]:
    """First line indices (0-based) of the top-level blocks: 0, then every line at column 0 that starts a
    `def`, `async def`, `class` or a decorator, unless the line before it (blank lines skipped) is a decorator."""
    starts = [0]
    after_decorator = False
    for i, line in enumerate(lines):
        if _TOP_LEVEL_START.match(line):
            if i and not after_decorator:
                starts.append(i)
            after_decorator = line.startswith("@")
        elif line.strip():
            after_decorator = False
    return starts


def _parse_prefix(lines: list[str]) -> tuple[ast.Module, str] | None:
    """(tree, source) of the longest prefix of `lines` found by cutting before each syntax error in turn."""
    for _ in range(MAX_CUTS):
        source = "".join(lines)
        tree, error_line = _parse_or_error_line(source)
        if tree is not None:
            return (tree, source) if tree.body else None
        if error_line is None or error_line <= 1 or error_line > len(lines) + 1:
            return None
        lines = lines[:error_line - 1]
    return None


def recover_modules(source: str, whole_failed: bool = False) -> list[tuple[ast.Module, str, int]]:
    """The parseable pieces of `source`: (tree, piece source, line offset of the piece in `source`).

    The whole source when it parses (not tried again when `whole_failed`); else each top-level block (see
    `_top_level_blocks`) that parses, or the part of it before its (first, then next) syntax error. A
    block's broken tail is lost, the other blocks are not."""
    if not whole_failed:
        tree, _ = _parse_or_error_line(source)
        if tree is not None:
            return [(tree, source, 0)]
    lines = source.splitlines(keepends=True)
    starts = _top_level_blocks(lines)
    out = []
    for lo, hi in zip(starts, starts[1:] + [len(lines)]):
        found = _parse_prefix(lines[lo:hi])
        if found is not None:
            out.append((found[0], found[1], lo))
    return out


@dataclass(frozen=True)
class Snippet:
    """A piece of code of a document compared with benchmark solutions.

    tree: `normalized_ast` serialisation ("" when the text is not parseable code); nodes: its node count;
    name: the function's name ("" for a module or a code block); line: first line in the document (1-based).
    """

    source: str
    tree: str
    nodes: int
    name: str = ""
    line: int = 1


def _function_source(lines: list[str], node: ast.AST) -> str:
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return textwrap.dedent("".join(lines[start - 1:node.end_lineno]))


def _module_snippets(source: str, tree: ast.Module, line_offset: int, names: str) -> tuple[list[Snippet], bool]:
    """(snippets, whether they are functions): every function of `tree`, else the whole module as one."""
    lines = source.splitlines(keepends=True)
    spans: list = []
    serial, count = _serialise(tree, spans, names)
    spans.sort(key=lambda s: s[1])  # source order (the stack closes inner functions first)
    snippets = [Snippet(_function_source(lines, node), serial[start:end], nodes, node.name, node.lineno + line_offset)
                for node, start, end, nodes in spans]
    if snippets:
        return snippets, True
    return ([Snippet(source, serial, count, "", 1 + line_offset)] if tree.body else []), False


def _pieces(text: str) -> list[tuple[ast.Module, str, int]]:
    """(tree, source, line offset) of the parseable code of a document (see the module docstring)."""
    tree = parse(text)
    if tree is not None:
        return [(tree, text, 0)]
    pieces = []
    fenced = False
    for m in _FENCE.finditer(text):
        if m.group(2).lower() not in _CODE_LANGS:
            continue
        fenced = True
        first_line = text.count("\n", 0, m.start(3))
        for block_tree, block, offset in recover_modules(textwrap.dedent(m.group(3))):
            pieces.append((block_tree, block, first_line + offset))
    return pieces if fenced else recover_modules(text, whole_failed=True)


def extract_snippets(text: str, limit: int = DEFAULT_MAX_SNIPPETS, names: str = "ignore") -> tuple[list[Snippet], int]:
    """(the snippets compared, the number of functions in the document): every function, or the `limit`
    largest ones (by AST nodes) in source order when there are more; see the module docstring."""
    functions: list[Snippet] = []
    modules: list[Snippet] = []
    for tree, source, offset in _pieces(text):
        found, are_functions = _module_snippets(source, tree, offset, names)
        (functions if are_functions else modules).extend(found)
    if not functions:  # no function anywhere: the parsed modules (at most `limit`), else the text itself
        return (modules[:limit] or [Snippet(text, "", 0)]), 0
    total = len(functions)
    if total > limit:
        keep = sorted(sorted(range(total), key=lambda i: -functions[i].nodes)[:limit])
        functions = [functions[i] for i in keep]
    return functions, total


def code_snippets(text: str, limit: int = DEFAULT_MAX_SNIPPETS, names: str = "ignore") -> list[Snippet]:
    """The function-level snippets of a document, at most `limit` (see the module docstring)."""
    return extract_snippets(text, limit, names)[0]


def function_snippet(source: str, name: str, names: str = "ignore") -> Snippet | None:
    """The snippet of the top-level function `name` in `source` (a benchmark solution), else None."""
    tree = parse(source)
    if tree is None:
        return None
    lines = source.splitlines(keepends=True)
    for node in tree.body:
        if isinstance(node, _FUNCTIONS) and node.name == name:
            serial, count = normalized_ast(node, names)
            return Snippet(_function_source(lines, node), serial, count, node.name, node.lineno)
    return None


def best_rates(queries: Sequence[str], refs: Sequence[str], tau: float,
               candidates: np.ndarray | None = None, chunk: int = 2048) -> list[list[tuple[int, float]]]:
    """For each query serialisation, the (reference index, tau) pairs with tau >= `tau`, best first.

    candidates: an (n_queries, k) array of reference indices to compare (blocking; -1 = none); None
    compares every query with every reference (rapidfuzz's cdist, which skips pairs whose lengths alone
    rule out `tau`).
    """
    from rapidfuzz import process
    from rapidfuzz.distance import Levenshtein

    out: list[list[tuple[int, float]]] = [[] for _ in queries]
    if not queries or not refs:
        return out
    if candidates is None:
        for lo in range(0, len(queries), chunk):
            scores = process.cdist(queries[lo:lo + chunk], refs, scorer=Levenshtein.normalized_similarity,
                                   score_cutoff=tau, dtype=np.float64, workers=1)
            rows, cols = np.nonzero(scores >= tau)
            for r, c in zip(rows.tolist(), cols.tolist()):
                out[lo + r].append((c, float(scores[r, c])))
    else:
        for i, q in enumerate(queries):
            for j in candidates[i].tolist():
                if j < 0:
                    continue
                s = Levenshtein.normalized_similarity(q, refs[j], score_cutoff=tau)
                if s >= tau:
                    out[i].append((j, float(s)))
    for hits in out:
        hits.sort(key=lambda h: -h[1])
    return out
