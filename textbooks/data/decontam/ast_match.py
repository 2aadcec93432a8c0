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
  methods included) of a document that parses as Python; the fenced code blocks of Markdown text (synthetic
  textbooks) when it does not; a module without functions is one snippet; text with no parseable code is one
  snippet without an AST (the embedding detector can still use it).
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


def parse(source: str) -> ast.Module | None:
    """ast.parse, None on any failure; no SyntaxWarnings for odd escapes (common in real code)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ast.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None


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


def _module_snippets(source: str, tree: ast.Module, line_offset: int, limit: int, names: str) -> list[Snippet]:
    lines = source.splitlines(keepends=True)
    spans: list = []
    serial, count = _serialise(tree, spans, names)
    spans.sort(key=lambda s: s[1])  # source order (the stack closes inner functions first)
    snippets = [Snippet(_function_source(lines, node), serial[start:end], nodes, node.name, node.lineno + line_offset)
                for node, start, end, nodes in spans[:limit]]
    if not snippets and tree.body:
        snippets.append(Snippet(source, serial, count, "", 1 + line_offset))
    return snippets


def code_snippets(text: str, limit: int = 256, names: str = "ignore") -> list[Snippet]:
    """The function-level snippets of a document, at most `limit` (see the module docstring)."""
    tree = parse(text)
    if tree is not None:
        return _module_snippets(text, tree, 0, limit, names)
    snippets: list[Snippet] = []
    for m in _FENCE.finditer(text):
        if m.group(2).lower() not in _CODE_LANGS:
            continue
        block = textwrap.dedent(m.group(3))
        block_tree = parse(block)
        if block_tree is not None:
            first_line = text.count("\n", 0, m.start(3))
            snippets += _module_snippets(block, block_tree, first_line, limit - len(snippets), names)
        if len(snippets) >= limit:
            break
    return snippets or [Snippet(text, "", 0)]


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
