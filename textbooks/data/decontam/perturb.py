"""Disguised copies of benchmark solutions: the planted contamination that detectors are measured on.

`disguise(source, seed)` rewrites a program the ways a paraphrasing generator (or a person) would, all at
once: every identifier the program binds (functions, arguments, variables, loop and comprehension targets)
renamed consistently; every int/float constant other than 0 and 1 changed; every docstring reworded
(synonyms, doctest examples dropped); comments dropped and the code reformatted (ast.unparse, 2-space
indents). Imports, builtins and attribute names are kept: renaming those would change what the code does.
The result parses and has the same normalised AST as the original (`ast_match.normalized_ast`), i.e.
tau = 1.0, while sharing few 13-grams with it. Used by tests/data/test_decontaminate.py and
benchmarks/bench_decontaminate.py to measure recall and to calibrate thresholds for a featurizer.
"""

from __future__ import annotations

import ast
import builtins
import random
import re

_NAMES = ("alpha", "beta", "gamma", "delta", "item", "value", "entry", "node", "acc", "res", "buf", "tmp", "cur",
          "elem", "arr", "seq", "data", "num", "idx", "pos", "left", "right", "size", "count", "total", "out",
          "first", "second", "word", "text", "key", "val", "row", "col", "part", "chunk", "piece", "token")
_SYNONYMS = {
    "return": "give back", "returns": "gives back", "given": "provided", "list": "sequence", "number": "value",
    "numbers": "values", "string": "text", "strings": "texts", "function": "routine", "write": "implement",
    "find": "determine", "check": "test", "whether": "if", "the": "a", "of": "from", "is": "equals",
    "integer": "whole number", "integers": "whole numbers", "element": "item", "elements": "items",
    "you": "we", "are": "get", "in": "within", "and": "as well as", "an": "one", "to": "so as to",
}
_BUILTINS = frozenset(dir(builtins))


def reword(text: str, rng: random.Random) -> str:
    """A docstring in other words: doctest lines dropped, common words replaced, sentences shuffled."""
    lines = [ln for ln in text.splitlines() if not ln.strip().startswith(">>>")]
    kept: list[str] = []
    for ln in lines:  # a doctest's expected output follows its >>> line: drop short lines after a drop too
        if ln.strip() and not re.search(r"[A-Za-z]{3,}", ln):
            continue
        kept.append(ln)
    words = re.findall(r"[A-Za-z]+|[^A-Za-z]+", " ".join(kept))
    out = "".join(_SYNONYMS.get(w.lower(), w) if w.isalpha() else w for w in words)
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", re.sub(r"\s+", " ", out)) if s.strip()]
    rng.shuffle(sentences)
    return " ".join(sentences) or "Computes the result."


class _Renamer(ast.NodeTransformer):
    def __init__(self, mapping: dict[str, str], rng: random.Random):
        self.mapping, self.rng = mapping, rng

    def visit_FunctionDef(self, node):
        node.name = self.mapping.get(node.name, node.name)
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            body[0].value = ast.Constant(reword(body[0].value.value, self.rng))
            node.body = [body[0]] + [self.visit(s) for s in body[1:]]
            self._visit_rest(node)
            return node
        return self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        node.name = self.mapping.get(node.name, node.name)
        return self.generic_visit(node)

    def _visit_rest(self, node):
        node.args = self.visit(node.args)
        node.decorator_list = [self.visit(d) for d in node.decorator_list]
        if node.returns is not None:
            node.returns = self.visit(node.returns)

    def visit_arg(self, node):
        node.arg = self.mapping.get(node.arg, node.arg)
        return self.generic_visit(node)

    def visit_Name(self, node):
        node.id = self.mapping.get(node.id, node.id)
        return node

    def visit_keyword(self, node):
        if node.arg is not None:
            node.arg = self.mapping.get(node.arg, node.arg)
        return self.generic_visit(node)

    def visit_Constant(self, node):
        v = node.value
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v in (0, 1):
            return node
        return ast.copy_location(ast.Constant(v + self.rng.choice((1, 2, 3)) if isinstance(v, int) else v * 1.5), node)


def bound_names(tree: ast.AST) -> list[str]:
    """Names the program itself binds (defs, arguments, assignment/loop/with/except targets), in order."""
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.arg):
            names.append(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.append(node.id)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.append(node.name)
    seen: set[str] = set()
    return [n for n in names if not (n in seen or seen.add(n)) and n not in _BUILTINS and n != "self"]


def disguise(source: str, seed: int = 0) -> str:
    """`source` renamed, reworded, with other constants, reformatted (see the module docstring)."""
    from textbooks.data.decontam.ast_match import parse

    rng = random.Random(seed)
    tree = parse(source)
    if tree is None:
        raise ValueError("disguise: the source does not parse as Python")
    names = bound_names(tree)
    pool = list(_NAMES)
    rng.shuffle(pool)
    mapping = {}
    for i, name in enumerate(names):
        mapping[name] = pool[i] if i < len(pool) else f"{pool[i % len(pool)]}_{i}"
    tree = _Renamer(mapping, rng).visit(tree)
    if tree.body and isinstance(tree.body[0], ast.Expr) and isinstance(getattr(tree.body[0], "value", None), ast.Constant):
        if isinstance(tree.body[0].value.value, str):
            tree.body[0].value = ast.Constant(reword(tree.body[0].value.value, rng))
    ast.fix_missing_locations(tree)
    code = ast.unparse(tree)
    return re.sub(r"(?m)^((?:    )+)", lambda m: "  " * (len(m.group(1)) // 4), code) + "\n"
