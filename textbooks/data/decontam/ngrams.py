"""The n-gram detector (paper §5.1): n-grams of normalised tokens, an index over the benchmark, matches per document.

Two token streams, each with its own n-grams (a word n-gram never meets a code n-gram):
- words: lower-case runs of letters and digits (`[a-z0-9]+`) of the benchmark's docstrings / task texts
  (§5.1 compared "the docstring of each HumanEval problem" with the exercises), and of the whole document;
- code: lower-case code tokens (`\\w+` or one punctuation character, whitespace dropped, so formatting does
  not matter) of the benchmark's solutions without their docstrings and comments, and of the whole document.
  Optionally the tests too (`fields`).

The whitelist (BigCode keeps trivial solutions such as `return x + y` out of its substring match): an n-gram
found in `whitelist_min_tasks` or more distinct benchmark tasks is boilerplate every solution shares (HumanEval's
`assert True, "This prints if this assert fails 1 (good for debugging!)"`, MBPP's "write a python function to
...") and never counts; so are the n-grams of the strings in `whitelist`. A document matches a task when it
shares at least `min_matches` distinct n-grams with it; the score is that number.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Sequence

from textbooks.data.decontam.references import Reference

_WORD = re.compile(r"[a-z0-9]+")
_CODE = re.compile(r"\w+")
FIELDS = ("text", "solution", "tests")


def word_tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def code_tokens(text: str) -> list[str]:
    return _CODE.findall(text.lower())


def code_without_docstrings(source: str) -> str:
    """`source` without comments and docstrings (the benchmark's solutions; the docstring is the text field)."""
    from textbooks.data.decontam.ast_match import parse

    tree = parse(source)
    if tree is None:
        return source
    import ast

    doc_starts = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                doc_starts.add((first.lineno, first.col_offset))
    kept = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT or (tok.type == tokenize.STRING and tok.start in doc_starts):
                continue
            kept.append(tok.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return source
    return " ".join(kept)


def ngrams(tokens: Sequence[str], n: int) -> Iterable[tuple[str, ...]]:
    return zip(*(tokens[i:] for i in range(n)))


@dataclass
class NgramHit:
    task: int  # index into the references
    count: int  # distinct matching n-grams
    example: str  # the first matching n-gram, tokens joined by spaces
    stream: str  # "words" or "code"


class NgramIndex:
    """13-gram index over benchmark references (see the module docstring)."""

    def __init__(self, references: Sequence[Reference], n: int = 13, fields: Sequence[str] = ("text", "solution"),
                 whitelist_min_tasks: int = 3, whitelist: Sequence[str] = (), min_matches: int = 1):
        bad = [f for f in fields if f not in FIELDS]
        if bad:
            raise ValueError(f"unknown n-gram field(s) {bad}; choose from {', '.join(FIELDS)}")
        self.n, self.min_matches = n, min_matches
        owners: dict[tuple[str, int], set[int]] = defaultdict(set)  # (stream, hash) -> tasks
        for i, ref in enumerate(references):
            for stream, grams in self._reference_grams(ref, fields):
                for g in grams:
                    owners[(stream, hash(g))].add(i)
        trivial = {key for key, tasks in owners.items() if len(tasks) >= whitelist_min_tasks}
        for text in whitelist:
            trivial.update(("words", hash(g)) for g in ngrams(word_tokens(text), n))
            trivial.update(("code", hash(g)) for g in ngrams(code_tokens(text), n))
        self.whitelisted = len(trivial & owners.keys())
        self.index: dict[str, dict[int, tuple[int, ...]]] = {"words": {}, "code": {}}
        for (stream, h), tasks in owners.items():
            if (stream, h) not in trivial:
                self.index[stream][h] = tuple(sorted(tasks))

    def _reference_grams(self, ref: Reference, fields: Sequence[str]):
        if "text" in fields:
            yield "words", set(ngrams(word_tokens(ref.text), self.n))
        if "solution" in fields:
            yield "code", set(ngrams(code_tokens(code_without_docstrings(ref.solution)), self.n))
        if "tests" in fields and ref.tests:
            yield "code", set(ngrams(code_tokens(code_without_docstrings(ref.tests)), self.n))

    def __len__(self) -> int:
        return sum(len(v) for v in self.index.values())

    def locate(self, text: str, hit: NgramHit, context_lines: int = 2) -> tuple[int, str]:
        """(line, the lines around it) of the first occurrence of `hit.example` in `text`, for the audit."""
        sep = r"[^a-z0-9]+" if hit.stream == "words" else r"\W+"
        pattern = sep.join(re.escape(t) for t in hit.example.split(" "))
        m = re.search(pattern, text.lower())
        if m is None:
            return 1, hit.example
        first = text.count("\n", 0, m.start())
        last = text.count("\n", 0, m.end())
        lines = text.splitlines()
        return first + 1, "\n".join(lines[max(0, first - context_lines):last + context_lines + 1])

    def match(self, text: str) -> list[NgramHit]:
        """Tasks sharing at least `min_matches` distinct n-grams with `text`, most shared first."""
        hits: dict[int, NgramHit] = {}
        for stream, tokens in (("words", word_tokens(text)), ("code", code_tokens(text))):
            seen: set[int] = set()
            index = self.index[stream]
            for g in ngrams(tokens, self.n):
                h = hash(g)
                tasks = index.get(h)
                if tasks is None or h in seen:
                    continue
                seen.add(h)
                for t in tasks:
                    hit = hits.get(t)
                    if hit is None:
                        hits[t] = NgramHit(t, 1, " ".join(g), stream)
                    else:
                        hit.count += 1
        return sorted((h for h in hits.values() if h.count >= self.min_matches), key=lambda h: (-h.count, h.task))
