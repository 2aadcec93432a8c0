"""Exercise families of the areas recursion, sorting_searching, two_pointers, stacks_queues,
dynamic_programming and classes (the rules: ../family.py).

A function family is one `make(rng)` built on `_build`, which does the drawing every family shares: the
entry point's name and its parameters' and locals' names (synonym lists, never a builtin's name), the
docstring's layout (the phi-1 paper's "Parameters:/Returns:" lines, numpy, Google, Sphinx, a `>>>`
example, a plain paragraph), the `list[int]` or `typing.List[int]` spelling and the body among the
family's implementation styles. The family draws the task's constants and the test inputs and gives a
reference implementation (plain Python in this module) from which every expected value is computed, so
the tests are right by construction.

A class family (area `classes`) uses `_build_class`: the family simulates a random sequence of method
calls on its own reference model and writes the calls and their results as a test script. The class
docstring is the whole prompt a student sees, so it lists the constructor's arguments, the attributes
and every method with the signature read from the rendered class.

Body, docstring and test texts are `string.Template`s: `$key` stands for a drawn name (a parameter, a
local, a method) or a constant the family rendered, so one template serves every draw.
"""

from __future__ import annotations

import ast
import bisect
import builtins
import copy
import itertools
import keyword
import re
import string
import textwrap
from collections import Counter, deque
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Sequence

from textbooks.synth.offline.family import Family, Made, pick
from textbooks.synth.offline.families._common import (  # noqa: F401 - shared by the three modules
    KW, P, _NO_DEFAULT, _TYPING_FORMS, _annotation, _printed,
)

# Names a drawn identifier must not take: builtins and keywords (shadowing them breaks bodies that use
# them) and the module and function names the bodies import.
_RESERVED = set(dir(builtins)) | set(keyword.kwlist) | {
    "bisect", "heapq", "math", "itertools", "functools", "collections", "deque", "Counter", "lru_cache",
    "dataclass", "field", "permutations", "combinations", "insort", "isqrt", "bisect_left", "bisect_right", "merge",
    "List", "Dict", "Tuple", "Set", "Optional"}


@dataclass
class Body:
    """One implementation style: its code (a Template) and the imports and helper functions it needs."""

    code: str
    imports: tuple[str, ...] = ()
    helpers: str = ""  # a Template too: functions defined above the entry point


def _code(text: str) -> str:
    """Template code written indented inside this module, dedented (so bodies read like code here)."""
    return textwrap.dedent(text).strip("\n")


def _draw(rng, options: Sequence[str], used: set[str]) -> str:
    """A name from `options` not taken yet in this exercise (drawn in rng order, so seeds reproduce)."""
    order = list(options)
    rng.shuffle(order)
    for name in order:
        if name not in used:
            if name in _RESERVED:
                raise ValueError(f"{name!r} would shadow a builtin, keyword or imported name")
            used.add(name)
            return name
    raise ValueError(f"no free name among {options}")


def _wrap(text: str, width: int = 92) -> list[str]:
    return textwrap.wrap(text, width) or [""]


def _hanging(text: str) -> list[str]:
    """`text` wrapped with its continuation lines indented (a long parameter line of the paper's layout)."""
    first, *rest = _wrap(text, 92)
    return [first] + ["    " + line for line in rest]


def _docstring(rng, summary: str, params: list[tuple[str, str, str]], ret: tuple[str, str],
               examples: list[tuple[str, str]], note: str) -> list[str]:
    """Docstring lines (unindented) in one of the layouts teachers and textbooks use.

    examples: (call, what the interactive interpreter prints for it), "" when it prints nothing (None).
    The draws depend on the examples only through whether there are any, so a copy of `rng` taken before
    the call lays out the same docstring again (see `_build`)."""
    layout = pick(rng, ("paper", "paper", "numpy", "google", "sphinx", "example", "google_example", "plain",
                        "paper_example"))
    lines = _wrap(summary)
    if note and pick(rng, (True, True, False)):
        lines += ([""] if pick(rng, (True, False)) else []) + _wrap(note)
    ret_type, ret_doc = ret
    if layout.startswith("paper"):  # the phi-1 paper's CodeExercises layout
        lines += ["", "Parameters:"]
        for name, ann, doc in params:
            lines += _hanging(f"{name} ({ann}): {doc}")
        lines += ["", "Returns:"] + _hanging(f"{ret_type}: {ret_doc}")
    elif layout == "numpy":
        lines += ["", "Parameters", "----------"]
        for name, ann, doc in params:
            lines += [f"{name} : {ann}"] + ["    " + s for s in _wrap(doc, 88)]
        lines += ["", "Returns", "-------", ret_type] + ["    " + s for s in _wrap(ret_doc, 88)]
    elif layout.startswith("google"):
        lines += ["", "Args:"]
        for name, ann, doc in params:
            lines += ["    " + s if i == 0 else "        " + s for i, s in enumerate(_wrap(f"{name}: {doc}", 84))]
        lines += ["", "Returns:"] + ["    " + s for s in _wrap(ret_doc, 88)]
    elif layout == "sphinx":
        lines += [""]
        for name, ann, doc in params:
            lines += _wrap(f":param {name}: {doc}")
        lines += _wrap(f":return: {ret_doc}")
    if layout.endswith("example") and examples:
        lines += [""] + (["Examples:"] if layout == "google_example" else ["Example:"] if layout == "paper_example"
                         else [])
        for call, printed in examples[: pick(rng, (1, 2, 2, 3))]:
            lines += [f">>> {call}"] + ([printed] if printed else [])
    if pick(rng, (True, False, False)):  # teachers often open the docstring on its own line
        return [""] + lines
    return lines


def _doc_text(lines: list[str], indent: str) -> str:
    """The docstring literal for `lines`, indented for its def or class."""
    body = lines[0] + "".join("\n" + (indent + s).rstrip() for s in lines[1:])
    return f'{indent}"""{body}\n{indent}"""'


def _check(text: str, expected: Any) -> str:
    """An assert comparing `text` with a literal: `is` for None and bools, a tolerance for floats."""
    if expected is None or isinstance(expected, bool):
        return f"assert {text} is {expected!r}"
    if isinstance(expected, float):
        return f"assert abs({text} - {expected!r}) < 1e-9"
    return f"assert {text} == {expected!r}"


def _showable(call: str, result: str) -> bool:
    """Whether a call and its result fit on a doctest line (short, no backslashes to escape)."""
    return len(call) + len(result) < 86 and "\\" not in call + result


def _run_calls(source: str, entry: str, calls: Sequence[str]) -> list[Any]:
    """The values `calls` return when evaluated, in order, after running `source`: the rendered solution,
    not the reference, because a docstring example must show what the very body below it returns. The
    bodies are this module's own standard-library code."""
    namespace: dict[str, Any] = {"__name__": "__exercise__"}
    # dont_inherit: this module's `from __future__ import annotations` must not leak into the exercise
    exec(compile(source, f"<{entry}>", "exec", dont_inherit=True), namespace)
    return [eval(call, namespace) for call in calls]


def _build(rng, *, names: Sequence[str], params: list[P], returns: tuple[str, str], summaries: Sequence[str],
           bodies: Sequence[str | Body], ref: Callable[..., Any], cases: list[tuple], consts: dict | None = None,
           local_names: dict[str, Sequence[str]] | None = None, notes: Sequence[str] = (),
           description: str = "") -> Made:
    """Draw the shared parts of a function exercise, compute the expected values with `ref` and render it.

    cases: argument tuples in parameter order (trailing defaulted ones may be left out); a `KW` at the end
    adds keyword arguments by parameter key. ref: called with every argument by key, defaults filled in.
    Templates may use `$entry` (the drawn function name, for recursive bodies) and every key of
    `params`, `local_names` and `consts`.
    """
    used: set[str] = set()
    entry = _draw(rng, names, used)
    sub: dict[str, str] = {"entry": entry}
    sub.update({p.key: _draw(rng, p.names, used) for p in params})
    for key, options in (local_names or {}).items():
        sub[key] = _draw(rng, options, used)
    sub.update(consts or {})

    def fill(text: str) -> str:
        return string.Template(text).substitute(sub)

    typing_style = pick(rng, (False, False, True))
    typing_names: set[str] = set()
    sig, doc_params = [], []
    for p in params:
        ann = _annotation(p.type, typing_style, typing_names)
        default = "" if p.default is _NO_DEFAULT else f" = {p.default!r}"
        sig.append(f"{sub[p.key]}: {ann}{default}")
        doc_params.append((sub[p.key], ann, fill(p.doc)))
    ret_ann = _annotation(returns[0], typing_style, typing_names)

    calls: list[tuple[str, Any]] = []
    seen: set[str] = set()
    for case in cases:
        has_kw = bool(case) and isinstance(case[-1], KW)
        kw, positional = (case[-1], case[:-1]) if has_kw else (KW(), case)
        args = {p.key: p.default for p in params if p.default is not _NO_DEFAULT}
        args.update({p.key: v for p, v in zip(params, positional)})
        args.update(kw)
        rendered = [repr(v) for v in positional] + [f"{sub[k]}={v!r}" for k, v in kw.items()]
        text = f"{entry}({', '.join(rendered)})"
        if text in seen:  # random cases can repeat; one assert each
            continue
        seen.add(text)
        calls.append((text, ref(**copy.deepcopy(args))))
    if len(calls) < 4:
        raise ValueError(f"{entry}: {len(calls)} distinct test calls, want at least 4")
    candidates = [(c, repr(e)) for c, e in calls if _showable(c, repr(e))]
    summary = fill(pick(rng, summaries))
    note = fill(pick(rng, notes)) if notes else ""
    ret_doc = (ret_ann, fill(returns[1]))
    # The docstring is drawn before the body (so every seed keeps its exercise), but its examples must
    # show what the drawn body returns: lay it out here only to advance rng, and again below, on a copy
    # taken now, once the body's results are known.
    layout_rng = copy.copy(rng)  # its state is one immutable tuple, so a deep copy would only cost time
    _docstring(rng, summary, doc_params, ret_doc, candidates, note)

    body = pick(rng, bodies)
    body = body if isinstance(body, Body) else Body(body)
    imports = sorted(set(body.imports))
    if typing_names:
        imports.insert(0, f"from typing import {', '.join(sorted(typing_names))}")
    head = "\n".join(imports) + "\n\n\n" if imports else ""
    helpers = fill(_code(body.helpers)) + "\n\n\n" if body.helpers else ""
    code = textwrap.indent(fill(_code(body.code)), "    ")

    def render(doc: list[str]) -> str:
        return f"{head}{helpers}def {entry}({', '.join(sig)}) -> {ret_ann}:\n{_doc_text(doc, '    ')}\n{code}\n"

    results = _run_calls(render([summary]), entry, [c for c, _ in candidates])
    kept = [(c, v) for (c, _), v in zip(candidates, results) if _showable(c, repr(v))]
    source = render(_docstring(layout_rng, summary, doc_params, ret_doc, [(c, _printed(v)) for c, v in kept], note))
    shown = [(c, repr(v)) for c, v in kept]
    tests = "\n".join(_check(c, e) for c, e in calls) + "\n"
    first = summary.split(". ")[0].rstrip(".") + "."
    return Made(entry, source, tests, description or first, tuple(shown[:3]))


FAMILIES: list[Family] = []


def _family(name: str, tags: tuple[str, ...], concept: str, verify: str = "isolated"):
    """Register `make` as a family; its topic is "<area>/<first tag>"."""
    area = name.split(".")[0]

    def register(make: Callable[[Any], Made]) -> Callable[[Any], Made]:
        FAMILIES.append(Family(name, f"{area}/{tags[0]}", (area, *tags), " ".join(concept.split()), make, verify))
        return make

    return register


def _ints(rng, n: int, lo: int = -9, hi: int = 20) -> list[int]:
    return [rng.randint(lo, hi) for _ in range(n)]


def _distinct(rng, draw: Callable[[], Any], n: int, taken: Sequence[Any] = ()) -> list[Any]:
    """`n` values of `draw()` that differ from one another and from `taken`, drawing again on a repeat.

    A small input space (random trees, a quarter of which are empty) repeats values often enough that the
    tests would be left with fewer distinct calls than `_build` needs; a family whose random inputs can
    repeat draws them through here. Values are compared by repr, as `_build` compares the calls. Without a
    repeat it calls `draw` exactly `n` times, so a seed that drew none keeps its exercise."""
    seen = {repr(v) for v in taken}
    out: list[Any] = []
    for _ in range(50 * n):  # a bound, so a space too small for n values fails loudly instead of looping
        if len(out) == n:
            break
        value = draw()
        if repr(value) not in seen:
            seen.add(repr(value))
            out.append(value)
    if len(out) < n:
        raise ValueError(f"only {len(out)} distinct values in {50 * n} draws, want {n}")
    return out


_WORDS = ("apple river stone cloud maple garden window silver forest candle rocket puzzle orange planet tiger "
          "lemon meadow harbor pencil castle bridge violet thunder marble sunset kettle anchor breeze cactus "
          "dragon ember falcon glacier hollow island jungle lantern mirror nectar orbit pepper quartz saddle "
          "timber umbrella velvet walnut zephyr banana ocean sky tree book moon sun rain").split()


def _words(rng, n: int) -> list[str]:
    return [pick(rng, _WORDS) for _ in range(n)]


# --------------------------------------------------------------------------------------------- recursion


def _nested(rng, depth: int = 3, width: int = 4) -> list:
    """A random list of ints and lists, at most `depth` levels below the top one."""
    out: list = []
    for _ in range(rng.randint(0, width)):
        out.append(_nested(rng, depth - 1, width) if depth > 0 and rng.random() < 0.35 else rng.randint(-9, 20))
    return out


@_family("recursion.nested_sum", ("recursive_structures", "nested-lists", "isinstance"), """
    A nested list is a recursive structure: each item is either a plain value or another list of the same
    kind. A function that walks it handles the two cases separately: a number is added directly, and a
    sublist is handed to the same function, which returns that sublist's total. An explicit stack of
    lists still to visit does the same work without recursive calls.""")
def _nested_sum(rng) -> Made:
    weighted = pick(rng, (False, False, True))
    if weighted:
        def ref(items, depth=1):
            return sum(ref(x, depth + 1) if isinstance(x, list) else x * depth for x in items)

        bodies = (
            _code("""
                def $walk($part: list, $depth: int) -> int:
                    $acc = 0
                    for $x in $part:
                        if isinstance($x, list):
                            $acc += $walk($x, $depth + 1)
                        else:
                            $acc += $x * $depth
                    return $acc

                return $walk($items, 1)"""),
            _code("""
                def $walk($part: list, $depth: int) -> int:
                    return sum($walk($x, $depth + 1) if isinstance($x, list) else $x * $depth for $x in $part)

                return $walk($items, 1)"""),
            _code("""
                $acc = 0
                $stack = [($items, 1)]
                while $stack:
                    $part, $depth = $stack.pop()
                    for $x in $part:
                        if isinstance($x, list):
                            $stack.append(($x, $depth + 1))
                        else:
                            $acc += $x * $depth
                return $acc"""))
        summaries = ("Return the depth-weighted sum of the numbers in the nested list `$items`: a number at "
                     "the top level counts once, one inside a sublist twice, and so on.",
                     "Add up every number in $items, multiplying each one by how deeply it is nested "
                     "(the outer list is depth 1).",
                     "Compute the weighted total of a nested list where each integer is weighted by its depth.")
        ret = "The sum of each number times its depth; 0 for an empty list."
        names = ("depth_weighted_sum", "weighted_nested_sum", "nested_depth_sum", "sum_by_depth", "deep_weighted_total")
    else:
        # "sum every number" is a well-known benchmark task, so this variant adds a rule to the sum
        limit = pick(rng, (0, 1, 5, 10))

        def ref(items, depth=1):
            return sum(ref(x) if isinstance(x, list) else x for x in items if isinstance(x, list) or x >= limit)

        bodies = (
            _code(f"""
                $acc = 0
                for $x in $items:
                    if isinstance($x, list):
                        $acc += $entry($x)
                    elif $x >= {limit}:
                        $acc += $x
                return $acc"""),
            f"return sum($entry($x) if isinstance($x, list) else $x\n"
            f"           for $x in $items if isinstance($x, list) or $x >= {limit})",
            _code(f"""
                if not $items:
                    return 0
                $head, $rest = $items[0], $items[1:]
                if isinstance($head, list):
                    $first = $entry($head)
                else:
                    $first = $head if $head >= {limit} else 0
                return $first + $entry($rest)"""),
            _code(f"""
                $acc = 0
                $stack = [$items]
                while $stack:
                    $part = $stack.pop()
                    for $x in $part:
                        if isinstance($x, list):
                            $stack.append($x)
                        elif $x >= {limit}:
                            $acc += $x
                return $acc"""))
        what = "non-negative numbers" if limit == 0 else f"numbers that are at least {limit}"
        summaries = (f"Return the sum of the {what} in `$items`, however deeply they are nested in sublists.",
                     f"Add up the {what} found anywhere in the nested list $items (lists may contain numbers and "
                     "other lists).",
                     f"Compute the total of the {what} in a list whose items are integers or lists of the same "
                     "shape.")
        ret = f"The sum of the {what} at every level; 0 when there are none."
        names = ("nested_sum_at_least", "deep_sum_over", "sum_nested_above", "filtered_nested_total",
                 "nested_threshold_sum")
    cases = [(_nested(rng),) for _ in range(4)] + [([],), ([[], [[]]],), ([rng.randint(1, 9)],),
                                                    ([1, [2, [3, [4]]]],)]
    return _build(
        rng, names=names,
        params=[P("items", ("items", "nested", "data", "values", "tree"), "list",
                  "A list of integers and lists of the same kind.")],
        returns=("int", ret), summaries=summaries, bodies=bodies,
        notes=("Empty sublists contribute nothing.", "Solve it recursively: a sublist is a smaller instance."),
        local_names={"walk": ("walk", "visit", "helper", "_total"), "acc": ("total", "acc", "result", "running"),
                     "x": ("item", "element", "elem", "x"), "depth": ("depth", "level", "weight"),
                     "stack": ("stack", "pending", "todo"), "part": ("part", "current", "chunk"),
                     "head": ("head", "first_item", "front"), "rest": ("rest", "tail", "remaining"),
                     "first": ("first", "head_total", "front_sum")},
        ref=ref, cases=cases)


@_family("recursion.nesting_depth", ("recursive_structures", "nested-lists", "max"), """
    The depth of a nested list is one more than the depth of its deepest sublist, and a list without
    sublists has the smallest depth. That sentence is already a recursive definition: the function calls
    itself on every sublist and keeps the maximum. Visiting the list level by level, counting the levels,
    gives the same number without recursion.""")
def _nesting_depth(rng) -> Made:
    base = pick(rng, (1, 0))  # how deep a flat list counts: 1 ("levels") or 0 ("nesting")

    def ref(items):
        return base + max((ref(x) - base + 1 for x in items if isinstance(x, list)), default=0)

    if base == 1:
        bodies = (
            _code("""
                $deepest = 0
                for $x in $items:
                    if isinstance($x, list):
                        $deepest = max($deepest, $entry($x))
                return 1 + $deepest"""),
            "return 1 + max(($entry($x) for $x in $items if isinstance($x, list)), default=0)")
    else:
        bodies = (
            _code("""
                $deepest = 0
                for $x in $items:
                    if isinstance($x, list):
                        $deepest = max($deepest, 1 + $entry($x))
                return $deepest"""),
            "return max((1 + $entry($x) for $x in $items if isinstance($x, list)), default=0)")
    bodies += (_code("""
        $level = [$x for $x in $items if isinstance($x, list)]
        $count = $base
        while $level:
            $count += 1
            $level = [$x for $part in $level for $x in $part if isinstance($x, list)]
        return $count"""),)
    flat = "1" if base == 1 else "0"
    cases = [(_nested(rng, 4),) for _ in range(4)] + [([],), ([rng.randint(0, 9), rng.randint(0, 9)],),
                                                       ([[[[]]]],), ([1, [2], [[3]], []],)]
    return _build(
        rng, names=("nesting_depth", "max_depth", "list_depth", "deepest_level", "depth_of_nesting"),
        params=[P("items", ("items", "nested", "data", "values"), "list",
                  "A list whose items are values or lists of the same kind.")],
        returns=("int", f"The depth; a list without sublists has depth {flat}."),
        summaries=(f"Return how deeply `$items` is nested; a flat list (including an empty one) has depth {flat}.",
                   f"Find the maximum nesting depth of the list $items, counting a list with no sublists as {flat}.",
                   "Measure the deepest level of sublists inside a nested list."),
        notes=("Every sublist, even an empty one, adds a level.", "Only lists count as nesting."),
        bodies=bodies, consts={"base": str(base)},
        local_names={"deepest": ("deepest", "best", "inner_max"), "x": ("item", "element", "x", "sub"),
                     "level": ("level", "frontier", "layer"), "count": ("depth", "levels", "count"),
                     "part": ("part", "group", "lst")},
        ref=ref, cases=cases)


def _tree(rng, depth: int, lo: int = 0, hi: int = 30):
    """A random binary tree as nested tuples (value, left, right), None for an empty tree."""
    if depth == 0 or rng.random() < 0.25:
        return None
    return (rng.randint(lo, hi), _tree(rng, depth - 1, lo, hi), _tree(rng, depth - 1, lo, hi))


_TREE_TASKS = {
    # task: (names, summary, returns, ref, recursive body, iterative body)
    "height": (("tree_height", "height_of_tree", "tree_depth", "max_tree_depth", "levels_in_tree"),
               "Return the height of the binary tree `$tree`: the number of nodes on its longest path from "
               "the root down to a leaf.", "The height; 0 for an empty tree and 1 for a single node.",
               lambda tree: 0 if tree is None else 1 + max(_TREE_REF["height"](tree[1]), _TREE_REF["height"](tree[2])),
               _code("""
                   if $tree is None:
                       return 0
                   $value, $left, $right = $tree
                   return 1 + max($entry($left), $entry($right))"""),
               _code("""
                   $best = 0
                   $stack = [($tree, 1)]
                   while $stack:
                       $node, $depth = $stack.pop()
                       if $node is not None:
                           $best = max($best, $depth)
                           $stack.append(($node[1], $depth + 1))
                           $stack.append(($node[2], $depth + 1))
                   return $best""")),
    "leaves": (("count_leaves", "leaf_count", "number_of_leaves", "tally_leaves", "leaves_in_tree"),
               "Count the leaves of the binary tree `$tree`, the nodes that have no children.",
               "The number of leaves; 0 for an empty tree.",
               lambda tree: 0 if tree is None else 1 if tree[1] is None and tree[2] is None else
               _TREE_REF["leaves"](tree[1]) + _TREE_REF["leaves"](tree[2]),
               _code("""
                   if $tree is None:
                       return 0
                   $value, $left, $right = $tree
                   if $left is None and $right is None:
                       return 1
                   return $entry($left) + $entry($right)"""),
               _code("""
                   $best = 0
                   $stack = [$tree]
                   while $stack:
                       $node = $stack.pop()
                       if $node is None:
                           continue
                       if $node[1] is None and $node[2] is None:
                           $best += 1
                       else:
                           $stack.extend(($node[1], $node[2]))
                   return $best""")),
    "sum": (("tree_sum", "sum_of_tree", "total_of_nodes", "node_value_sum", "add_tree_values"),
            "Return the sum of the values stored in every node of the binary tree `$tree`.",
            "The total of all node values; 0 for an empty tree.",
            lambda tree: 0 if tree is None else tree[0] + _TREE_REF["sum"](tree[1]) + _TREE_REF["sum"](tree[2]),
            _code("""
                if $tree is None:
                    return 0
                $value, $left, $right = $tree
                return $value + $entry($left) + $entry($right)"""),
            _code("""
                $best = 0
                $stack = [$tree]
                while $stack:
                    $node = $stack.pop()
                    if $node is not None:
                        $best += $node[0]
                        $stack.append($node[1])
                        $stack.append($node[2])
                return $best""")),
}
_TREE_REF = {task: spec[3] for task, spec in _TREE_TASKS.items()}


@_family("recursion.tree_measure", ("recursive_structures", "binary-trees", "tuples"), """
    A binary tree can be written as plain data: a node is a tuple (value, left, right) whose children are
    trees themselves, and None is the empty tree. Most questions about a tree have a recursive answer built
    from the answers for the two subtrees, with the empty tree as the base case. The same traversal can
    also be done with an explicit stack of nodes still to visit.""")
def _tree_measure(rng) -> Made:
    task = pick(rng, tuple(_TREE_TASKS))
    names, summary, ret, ref, recursive, iterative = _TREE_TASKS[task]
    fixed = [None, (4, (2, None, None), (7, (5, None, None), None))]
    # a random tree is empty a quarter of the time, and small ones repeat: draw until the four differ
    trees = _distinct(rng, lambda: _tree(rng, 4), 4, taken=fixed)
    leaf = _distinct(rng, lambda: (rng.randint(1, 9), None, None), 1, taken=trees)[0]
    cases = [(t,) for t in trees] + [(None,), (leaf,), (fixed[1],)]
    return _build(
        rng, names=names,
        params=[P("tree", ("tree", "root", "node_tuple", "t"), "tuple | None",
                  "A node as (value, left, right), or None for an empty tree.")],
        returns=("int", ret),
        summaries=(summary, summary.replace("Return", "Compute").replace("Count", "Find the number of"),
                   summary + " Each node is a (value, left, right) tuple and None marks a missing child."),
        notes=("Use recursion: answer for each subtree, then combine.", "The empty tree is written None."),
        bodies=(recursive, iterative), local_names={
            "value": ("value", "key", "data", "_value"), "left": ("left", "lhs", "left_child"),
            "right": ("right", "rhs", "right_child"), "best": ("result", "answer", "acc"),
            "stack": ("stack", "pending", "to_visit"), "node": ("node", "current", "item"),
            "depth": ("depth", "level", "height")},
        ref=ref, cases=cases)


def _nested_dict(rng, depth: int = 2) -> dict:
    keys = rng.sample(_WORDS, rng.randint(1, 4))
    return {k: (_nested_dict(rng, depth - 1) if depth > 0 and rng.random() < 0.4 else rng.randint(0, 99)) for k in keys}


@_family("recursion.flatten_dict", ("recursive_structures", "nested-dicts", "string-keys"), """
    Configuration files and JSON documents nest dictionaries inside dictionaries. Flattening joins the keys
    along each path into one key, so {"db": {"port": 5432}} becomes {"db.port": 5432}. The recursion
    passes the path built so far down to the inner dictionaries and stops at values that are not
    dictionaries, which become the entries of the result.""")
def _flatten_dict(rng) -> Made:
    sep = pick(rng, (".", "/", "_", ":", "->"))

    def ref(data):
        out = {}
        for key, value in data.items():
            if isinstance(value, dict):
                for inner, v in ref(value).items():
                    out[key + sep + inner] = v
            else:
                out[key] = value
        return out

    bodies = (
        _code("""
            $flat = {}
            for $key, $value in $data.items():
                if isinstance($value, dict):
                    for $inner, $leaf in $entry($value).items():
                        $flat[$key + $sep + $inner] = $leaf
                else:
                    $flat[$key] = $value
            return $flat"""),
        _code("""
            $flat = {}

            def $walk($node: dict, $prefix: str) -> None:
                for $key, $value in $node.items():
                    $path = $prefix + $key
                    if isinstance($value, dict):
                        $walk($value, $path + $sep)
                    else:
                        $flat[$path] = $value

            $walk($data, "")
            return $flat"""),
        _code("""
            $flat = {}
            $stack = [("", $data)]
            while $stack:
                $prefix, $node = $stack.pop()
                for $key, $value in $node.items():
                    if isinstance($value, dict):
                        $stack.append(($prefix + $key + $sep, $value))
                    else:
                        $flat[$prefix + $key] = $value
            return $flat"""))
    cases = [(_nested_dict(rng),) for _ in range(4)] + [({},), ({"a": {}},), ({"x": 1},),
                                                         ({"a": {"b": {"c": 3}}, "d": 4},)]
    return _build(
        rng, names=("flatten_dict", "flatten_keys", "flat_config", "dotted_keys", "collapse_nested_dict"),
        params=[P("data", ("data", "nested", "config", "mapping", "tree"), "dict",
                  "A dict whose values are ints or dicts of the same kind (keys are strings).")],
        returns=("dict", f"A dict with no nested dicts, keys joined with {sep!r}."),
        summaries=(f"Flatten the nested dictionary `$data`, joining the keys on each path with {sep!r}.",
                   f"Return a one-level dict whose keys are the paths through $data written with {sep!r} "
                   "between the parts.",
                   f"Turn nested dicts into a flat mapping from joined keys (separator {sep!r}) to values."),
        notes=("An empty nested dict leaves no entry behind.", "Values that are not dicts are kept unchanged."),
        bodies=bodies, consts={"sep": repr(sep)},
        local_names={"flat": ("flat", "result", "out", "flattened"), "key": ("key", "name", "k"),
                     "value": ("value", "child", "v"), "inner": ("inner", "sub_key", "suffix"),
                     "leaf": ("leaf", "item", "inner_value"), "walk": ("walk", "visit", "descend"),
                     "node": ("node", "level", "current"), "prefix": ("prefix", "path_so_far", "base"),
                     "path": ("path", "full_key", "joined"), "stack": ("stack", "pending", "todo")},
        ref=ref, cases=cases)


_DIGIT_TASKS = {
    "root": (("digital_root", "repeated_digit_sum", "single_digit_sum", "collapse_digits", "reduce_to_digit"),
             "Return the digital root of `$n`: add its digits, then the digits of that sum, and so on, until a "
             "single digit is left.", "A digit from 0 to 9.",
             _code("""
                 if $n < 10:
                     return $n
                 $rest, $last = divmod($n, 10)
                 return $entry($entry($rest) + $last)"""),
             _code("""
                 if $n < 10:
                     return $n
                 return $entry(sum(int($ch) for $ch in str($n)))""")),
    "squares": (("digit_square_sum", "sum_of_digit_squares", "squared_digit_total", "add_digit_squares"),
                "Return the sum of the squares of the decimal digits of `$n`.",
                "The total of each digit squared; 0 for $n = 0.",
                _code("""
                    if $n == 0:
                        return 0
                    $rest, $last = divmod($n, 10)
                    return $last * $last + $entry($rest)"""),
                _code("""
                    $text = str($n)
                    if len($text) == 1:
                        return $n * $n
                    return int($text[0]) ** 2 + $entry(int($text[1:]))""")),
    "count_d": (("count_digit", "digit_occurrences", "times_digit_appears", "tally_digit", "occurrences_of_digit"),
                "Count how many times the digit $d appears in the decimal form of `$n`.",
                "How many of the digits of $n equal $d.",
                _code("""
                    $rest, $last = divmod($n, 10)
                    $hit = 1 if $last == $d else 0
                    if $rest == 0:
                        return $hit
                    return $hit + $entry($rest)"""),
                _code("""
                    $text = str($n)
                    $hit = 1 if $text[-1] == str($d) else 0
                    if len($text) == 1:
                        return $hit
                    return $hit + $entry(int($text[:-1]))""")),
}


@_family("recursion.digit_recursion", ("basic_recursion", "digits", "divmod"), """
    A number's decimal digits give a natural recursion: `divmod(n, 10)` splits n into everything but the
    last digit and the last digit itself, and the first part is a smaller instance of the same problem. The
    base case is a number with a single digit. Working on `str(n)` and slicing off one character is the
    same idea expressed on text.""")
def _digit_recursion(rng) -> Made:
    task = pick(rng, tuple(_DIGIT_TASKS))
    names, summary, ret, divmod_body, text_body = _DIGIT_TASKS[task]
    d = rng.randint(0, 9)

    def ref(n):
        digits = [int(c) for c in str(n)]
        if task == "root":
            while n >= 10:
                n = sum(int(c) for c in str(n))
            return n
        if task == "squares":
            return sum(x * x for x in digits)
        return digits.count(d)

    def number() -> int:
        text = "".join(str(d) if rng.random() < 0.3 else str(rng.randint(0, 9)) for _ in range(rng.randint(2, 9)))
        return int(text)

    cases = [(number(),) for _ in range(4)] + [(0,), (rng.randint(1, 9),), (int("1" + str(d) * 3),)]
    return _build(
        rng, names=names,
        params=[P("n", ("n", "number", "num", "value"), "int", "A non-negative integer.")],
        returns=("int", ret),
        summaries=(summary, summary + " Solve it with recursion, not a loop.",
                   summary.replace("Return", "Compute").replace("Count", "Find")),
        notes=("A one-digit number is the base case.", "Zero is written with the single digit 0."),
        bodies=(divmod_body, text_body), consts={"d": str(d)},
        local_names={"rest": ("rest", "head", "front", "prefix_num"), "last": ("last", "digit", "ones"),
                     "ch": ("ch", "c", "digit_char"), "text": ("text", "digits", "s"), "hit": ("hit", "here", "match")},
        ref=ref, cases=cases)


@_family("recursion.string_recursion", ("basic_recursion", "strings", "slicing"), """
    A string is either empty or a first character followed by a shorter string, which makes many string
    tasks recursive: handle the first character, recurse on the rest, and combine. The empty string (or a
    single character) is the base case that stops the recursion. Each call works on a slice, so the depth
    of the recursion equals the length of the text.""")
def _string_recursion(rng) -> Made:
    task = pick(rng, ("remove", "interleave", "collapse"))
    ch = pick(rng, "aeiostx")
    sep = pick(rng, ("-", "*", " ", ".", "|"))
    if task == "remove":
        def ref(text):
            return text.replace(ch, "")
        names = ("remove_char", "strip_letter", "drop_character", "without_char", "delete_all")
        summaries = (f"Return `$text` with every {ch!r} removed, using recursion.",
                     f"Remove each occurrence of the letter {ch!r} from $text recursively.",
                     f"Build a copy of the string without any {ch!r} characters, one recursive call per character.")
        ret = f"The text without {ch!r}."
        bodies = (_code("""
                      if not $text:
                          return ""
                      $head = "" if $text[0] == $c else $text[0]
                      return $head + $entry($text[1:])"""),
                  _code("""
                      if $text == "":
                          return $text
                      $tail = $text[-1] if $text[-1] != $c else ""
                      return $entry($text[:-1]) + $tail"""))
        words = ["", ch, ch * 3]
        words += ["".join(pick(rng, ch + "abcdr") for _ in range(rng.randint(3, 9))) for _ in range(4)]
    elif task == "interleave":
        def ref(text):
            return sep.join(text)
        names = ("spread_out", "insert_between", "join_chars", "space_letters", "interleave_separator")
        summaries = (f"Return `$text` with {sep!r} placed between every two neighbouring characters, recursively.",
                     f"Insert the separator {sep!r} between the characters of $text using recursion.",
                     f"Recursively build a string where the characters of the input are separated by {sep!r}.")
        ret = f"The characters of text joined by {sep!r}."
        bodies = (_code("""
                      if len($text) <= 1:
                          return $text
                      return $text[0] + $c + $entry($text[1:])"""),
                  _code("""
                      if len($text) < 2:
                          return $text
                      return $entry($text[:-1]) + $c + $text[-1]"""))
        words = ["", "q"] + _words(rng, 5)
    else:
        def ref(text):
            return "".join(c for i, c in enumerate(text) if i == 0 or text[i - 1] != c)
        names = ("collapse_runs", "squeeze_repeats", "dedupe_adjacent", "remove_consecutive_duplicates",
                 "compress_runs")
        summaries = ("Return `$text` with every run of the same character squeezed to one character, recursively.",
                     "Collapse consecutive repeated characters of $text into a single copy using recursion.",
                     "Recursively remove adjacent duplicate characters, so 'aabccc' becomes 'abc'.")
        ret = "The text with no two equal neighbouring characters."
        bodies = (_code("""
                      if len($text) < 2:
                          return $text
                      if $text[0] == $text[1]:
                          return $entry($text[1:])
                      return $text[0] + $entry($text[1:])"""),
                  _code("""
                      if len($text) <= 1:
                          return $text
                      $head = $entry($text[:-1])
                      return $head if $head[-1] == $text[-1] else $head + $text[-1]"""))
        words = ["", "z", "aaaa"] + ["".join(pick(rng, "aabbc") for _ in range(rng.randint(4, 9))) for _ in range(4)]
    cases = [(w,) for w in words]
    return _build(
        rng, names=names,
        params=[P("text", ("text", "s", "word", "chars"), "str", "The input string.")],
        returns=("str", ret), summaries=summaries, bodies=bodies,
        notes=("The empty string is the base case.", "Do not use a loop; let each call handle one character."),
        consts={"c": repr(sep if task == "interleave" else ch)},
        local_names={"head": ("head", "first", "front"), "tail": ("tail", "last", "end")},
        ref=ref, cases=cases)


@_family("recursion.fast_power", ("divide_and_conquer", "exponentiation", "modular"), """
    Computing b**n by multiplying n times is slow for large n. Exponentiation by squaring halves the
    problem instead: b**n is (b**(n//2))**2, times one more b when n is odd. Only about log2(n) steps are
    needed, and reducing modulo m after every multiplication keeps the numbers small.""")
def _fast_power(rng) -> Made:
    mod = pick(rng, (1000, 97, 1_000_007, 10 ** 9 + 7, 12_345))  # plain a**b by recursion is a benchmark task
    if mod is None:
        def ref(base, exponent):
            return base ** exponent
        red = ""
        summaries = ("Return `$base` raised to the power `$exponent` using exponentiation by squaring.",
                     "Compute $base ** $exponent with O(log $exponent) multiplications by halving the exponent.",
                     "Raise an integer to a non-negative integer power by repeated squaring, without using ** or pow.")
        ret = "$base to the power $exponent."
    else:
        def ref(base, exponent):
            return pow(base, exponent, mod)
        red = f" % {mod}"
        summaries = (f"Return `$base` to the power `$exponent`, modulo {mod}, using exponentiation by squaring.",
                     f"Compute ($base ** $exponent) % {mod} without building the huge power, by halving the exponent.",
                     f"Raise $base to $exponent modulo {mod} with repeated squaring (O(log n) multiplications).")
        ret = f"The power reduced modulo {mod}, between 0 and {mod - 1}."
    bodies = (
        _code(f"""
            if $exponent == 0:
                return 1{red}
            $half = $entry($base, $exponent // 2)
            $result = $half * $half{red}
            if $exponent % 2 == 1:
                $result = $result * $base{red}
            return $result"""),
        _code(f"""
            $result = 1
            $factor = $base{red}
            while $exponent > 0:
                if $exponent & 1:
                    $result = $result * $factor{red}
                $factor = $factor * $factor{red}
                $exponent >>= 1
            return $result{red}"""))
    hi = 40 if mod is None else 10 ** 6
    cases = [(rng.randint(-9, 30), rng.randint(2, hi)) for _ in range(4)] + [(rng.randint(2, 9), 0), (0, 5), (1, 99),
                                                                             (2, 10), (rng.randint(2, 9), 1)]
    return _build(
        rng, names=("fast_power", "power_by_squaring", "quick_pow", "int_power", "raise_to", "square_and_multiply"),
        params=[P("base", ("base", "b", "x", "value"), "int", "The number to raise."),
                P("exponent", ("exponent", "n", "power", "e"), "int", "The power, zero or more.")],
        returns=("int", ret), summaries=summaries, bodies=bodies,
        notes=("Any number to the power 0 is 1.", "Square the half power instead of multiplying n times."),
        local_names={"half": ("half", "root_part", "sub"), "result": ("result", "acc", "answer"),
                     "factor": ("factor", "square", "current")},
        ref=ref, cases=cases)


@_family("recursion.smaller_to_the_right", ("divide_and_conquer", "merge-sort", "counting"), """
    For every element, counting the later elements that are smaller takes quadratic time when each pair is
    checked. Merge sort does it in O(n log n): while the two sorted halves are merged, every element of the
    left half learns how many elements of the right half were placed before it, and those are exactly the
    smaller elements to its right. Keeping (value, original index) pairs lets the counts go back to the
    right positions.""")
def _smaller_to_the_right(rng) -> Made:
    strict = pick(rng, (True, True, False))  # False: equal later values count too
    cmp = "<" if strict else "<="

    def ref(values):
        return [sum(1 for w in values[i + 1:] if (w < v if strict else w <= v)) for i, v in enumerate(values)]

    # merging: a left element goes first while it is smaller (or, for "<=", strictly smaller) than the right one
    take_left = "<=" if strict else "<"
    fn = "bisect_left" if strict else "bisect_right"
    bodies = (
        _code(f"""
            $counts = []
            for $i, $v in enumerate($values):
                $counts.append(sum(1 for $w in $values[$i + 1:] if $w {cmp} $v))
            return $counts"""),
        Body(_code(f"""
            $seen = []
            $counts = [0] * len($values)
            for $i in range(len($values) - 1, -1, -1):
                $counts[$i] = {fn}($seen, $values[$i])
                insort($seen, $values[$i])
            return $counts"""), (f"from bisect import {fn}, insort",)),
        Body(_code("""
            $counts = [0] * len($values)
            $sort_count(list(enumerate($values)), $counts)
            return $counts"""), helpers=_code(f"""
            def $sort_count($part: list, $counts: list) -> list:
                if len($part) <= 1:
                    return $part
                $mid = len($part) // 2
                $left = $sort_count($part[:$mid], $counts)
                $right = $sort_count($part[$mid:], $counts)
                $merged = []
                $j = 0
                for $idx, $v in $left:
                    while $j < len($right) and not $v {take_left} $right[$j][1]:
                        $merged.append($right[$j])
                        $j += 1
                    $counts[$idx] += $j
                    $merged.append(($idx, $v))
                return $merged + $right[$j:]""")))
    cases = [(_ints(rng, rng.randint(3, 9), 0, 9),) for _ in range(4)] + [([],), ([rng.randint(0, 9)],),
                                                                          ([1, 2, 3, 4],), ([5, 4, 3, 2, 1],),
                                                                          ([2, 2, 1],)]
    rel = "smaller than" if strict else "smaller than or equal to"
    return _build(
        rng, names=("count_smaller_after", "smaller_to_the_right", "later_smaller_counts", "right_smaller_tally",
                    "how_many_smaller_after"),
        params=[P("values", ("values", "nums", "items", "seq", "data"), "list[int]", "The numbers to examine.")],
        returns=("list[int]", f"For each position i, how many later elements are {rel} `$values[i]`."),
        summaries=(f"For every element of `$values`, count the elements after it that are {rel} it.",
                   f"Return a list whose i-th entry is the number of positions j > i with $values[j] {cmp} "
                   "$values[i].",
                   f"Count, for each number, how many of the numbers to its right are {rel} it."),
        notes=("The last element always gets 0.", "A merge sort that counts while merging does it in O(n log n)."),
        bodies=bodies,
        local_names={"sort_count": ("sort_and_count", "merge_count", "_count_sorted", "split_count"),
                     "part": ("part", "chunk", "pairs"), "mid": ("mid", "half", "middle"),
                     "left": ("left", "lo_part", "first_half"), "right": ("right", "hi_part", "second_half"),
                     "merged": ("merged", "out", "combined"), "counts": ("counts", "result", "smaller"),
                     "i": ("i", "pos", "k"), "j": ("j", "taken", "moved"), "v": ("v", "value", "x"),
                     "w": ("w", "later", "other"), "seen": ("seen", "to_the_right", "ordered"),
                     "idx": ("idx", "where", "origin")},
        ref=ref, cases=cases)


@_family("recursion.subsets_with_sum", ("backtracking", "subsets", "pruning"), """
    Backtracking builds a solution one choice at a time and undoes the choice when it leads nowhere.
    To find the groups of numbers that add up to a target, go through the candidates in order and either
    take the next one or skip it; with positive numbers, a partial sum that already passes the target can
    be abandoned at once, which prunes most of the search.""")
def _subsets_with_sum(rng) -> Made:
    def ref(numbers, target):
        pool = sorted(numbers)
        return sorted(list(c) for r in range(len(pool) + 1) for c in itertools.combinations(pool, r)
                      if sum(c) == target)

    bodies = (
        _code("""
            $pool = sorted($numbers)
            $found = []

            def $search($start: int, $chosen: list, $left: int) -> None:
                if $left == 0:
                    $found.append(list($chosen))
                    return
                for $k in range($start, len($pool)):
                    if $pool[$k] > $left:
                        break
                    $chosen.append($pool[$k])
                    $search($k + 1, $chosen, $left - $pool[$k])
                    $chosen.pop()

            $search(0, [], $target)
            return sorted($found)"""),
        Body(_code("""
            $pool = sorted($numbers)
            $found = []
            for $size in range(len($pool) + 1):
                for $combo in combinations($pool, $size):
                    if sum($combo) == $target:
                        $found.append(list($combo))
            return sorted($found)"""), ("from itertools import combinations",)),
        _code("""
            $pool = sorted($numbers)

            def $search($k: int, $left: int) -> list:
                if $left == 0:
                    return [[]]
                if $k == len($pool) or $pool[$k] > $left:
                    return []
                $taken = [[$pool[$k]] + $rest for $rest in $search($k + 1, $left - $pool[$k])]
                return $taken + $search($k + 1, $left)

            return sorted($search(0, $target))"""))
    cases = []
    for _ in range(4):
        nums = rng.sample(range(1, 16), rng.randint(3, 7))
        cases.append((nums, sum(rng.sample(nums, rng.randint(1, len(nums)))) if rng.random() < 0.8 else 1000))
    cases += [([], rng.randint(1, 9)), ([3, 5, 8], 0), ([4], 4), ([2, 4, 6], 7), ([1, 2, 3, 4, 5], 5)]
    return _build(
        rng, names=("subsets_with_sum", "combinations_summing_to", "find_sum_groups", "target_subsets",
                    "groups_adding_up", "sum_combinations"),
        params=[P("numbers", ("numbers", "nums", "candidates", "values", "choices"), "list[int]",
                  "Distinct positive integers to choose from."),
                P("target", ("target", "goal", "total", "wanted"), "int", "The sum each group must reach.")],
        returns=("list[list[int]]", "Every group of distinct elements with that sum, each in increasing order, "
                                    "the groups sorted; [[]] when the target is 0."),
        summaries=("Return all subsets of `$numbers` whose elements add up to `$target`.",
                   "Find every combination of the distinct positive integers in $numbers that sums to $target, "
                   "using each number at most once.",
                   "Use backtracking to list the groups of numbers from the pool that total exactly the target."),
        notes=("The empty group is the one answer for a target of 0.", "Stop extending a group once it is too big."),
        bodies=bodies,
        local_names={"pool": ("pool", "ordered", "sorted_nums"), "found": ("found", "results", "groups"),
                     "search": ("search", "explore", "backtrack"), "start": ("start", "begin", "first"),
                     "chosen": ("chosen", "path", "current"), "left": ("left", "remaining", "need"),
                     "k": ("k", "idx", "pos"), "size": ("size", "r", "length"), "combo": ("combo", "group", "pick"),
                     "taken": ("taken", "with_it", "using"), "rest": ("rest", "tail", "others")},
        ref=ref, cases=cases)


@_family("recursion.balanced_strings", ("backtracking", "brackets", "generation"), """
    To generate every balanced string of n bracket pairs, build it left to right and only make moves that
    can still lead to a valid string: an opening bracket while fewer than n are open, a closing bracket
    while it has a partner to match. Every branch of this search ends in a valid string, so nothing is
    generated and thrown away. Their number grows quickly: 1, 1, 2, 5, 14, 42, the Catalan numbers.""")
def _balanced_strings(rng) -> Made:
    pair = pick(rng, ("()", "[]", "{}", "<>"))

    def ref(n):
        out = []

        def go(s, opened, closed):
            if len(s) == 2 * n:
                out.append(s)
                return
            if opened < n:
                go(s + pair[0], opened + 1, closed)
            if closed < opened:
                go(s + pair[1], opened, closed + 1)

        go("", 0, 0)
        return sorted(out)

    bodies = (
        _code("""
            $found = []

            def $extend($prefix: str, $opened: int, $closed: int) -> None:
                if len($prefix) == 2 * $n:
                    $found.append($prefix)
                    return
                if $opened < $n:
                    $extend($prefix + $open_, $opened + 1, $closed)
                if $closed < $opened:
                    $extend($prefix + $close_, $opened, $closed + 1)

            $extend("", 0, 0)
            return sorted($found)"""),
        _code("""
            if $n == 0:
                return [""]
            $found = []
            for $inside in range($n):
                for $a in $entry($inside):
                    for $b in $entry($n - 1 - $inside):
                        $found.append($open_ + $a + $close_ + $b)
            return sorted($found)"""),
        _code("""
            $found = []
            $stack = [("", 0, 0)]
            while $stack:
                $prefix, $opened, $closed = $stack.pop()
                if len($prefix) == 2 * $n:
                    $found.append($prefix)
                    continue
                if $opened < $n:
                    $stack.append(($prefix + $open_, $opened + 1, $closed))
                if $closed < $opened:
                    $stack.append(($prefix + $close_, $opened, $closed + 1))
            return sorted($found)"""))
    cases = [(n,) for n in rng.sample(range(0, 5), 5)]
    return _build(
        rng, names=("balanced_strings", "generate_brackets", "all_balanced", "bracket_strings",
                    "well_formed_sequences", "valid_bracket_strings"),
        params=[P("n", ("n", "pairs", "count", "num_pairs"), "int", f"How many {pair!r} pairs to use (zero or more).")],
        returns=("list[str]", "All balanced strings, sorted."),
        summaries=(f"Return every balanced string made of `$n` pairs of {pair[0]!r} and {pair[1]!r}, sorted.",
                   f"Generate all well-formed sequences of $n {pair!r} bracket pairs in sorted order.",
                   f"List, in sorted order, each way to arrange n opening {pair[0]!r} and n closing {pair[1]!r} "
                   "so that every bracket is closed after it is opened."),
        notes=("For n = 0 the only such string is the empty string.",
               "Never close more brackets than are open."),
        bodies=bodies, consts={"open_": repr(pair[0]), "close_": repr(pair[1])},
        local_names={"found": ("found", "results", "out"), "extend": ("extend", "grow", "build"),
                     "prefix": ("prefix", "current", "partial"), "opened": ("opened", "n_open", "lefts"),
                     "closed": ("closed", "n_close", "rights"), "inside": ("inside", "k", "split"),
                     "a": ("a", "inner", "middle"), "b": ("b", "after", "suffix"),
                     "stack": ("stack", "pending", "todo")},
        ref=ref, cases=cases)


@_family("recursion.distinct_permutations", ("backtracking", "permutations", "duplicates"), """
    The arrangements of a word's letters are found by choosing a letter for the first position and
    arranging the remaining letters after it. When a letter repeats, choosing either copy gives the same
    arrangements, so a careful search picks each distinct letter once per position (by counting the
    letters still available) instead of producing duplicates and removing them afterwards.""")
def _distinct_permutations(rng) -> Made:
    def ref(word):
        return sorted(set("".join(p) for p in itertools.permutations(word)))

    bodies = (
        Body(_code("""
            $found = []
            $left = Counter($word)

            def $place($prefix: str) -> None:
                if len($prefix) == len($word):
                    $found.append($prefix)
                    return
                for $ch in sorted($left):
                    if $left[$ch] > 0:
                        $left[$ch] -= 1
                        $place($prefix + $ch)
                        $left[$ch] += 1

            $place("")
            return $found"""), ("from collections import Counter",)),
        Body("return sorted({''.join($p) for $p in permutations($word)})", ("from itertools import permutations",)),
        _code("""
            if len($word) <= 1:
                return [$word]
            $found = set()
            for $i, $ch in enumerate($word):
                for $rest in $entry($word[:$i] + $word[$i + 1:]):
                    $found.add($ch + $rest)
            return sorted($found)"""))
    cases = [("".join(pick(rng, "aabcde") for _ in range(rng.randint(2, 5))),) for _ in range(4)]
    cases += [("",), (pick(rng, "xyz"),), ("aab",), ("abc",)]
    return _build(
        rng, names=("distinct_permutations", "unique_arrangements", "letter_permutations", "all_anagrams",
                    "rearrangements", "permute_letters"),
        params=[P("word", ("word", "letters", "text", "s"), "str", "The letters to arrange (may repeat).")],
        returns=("list[str]", "Every distinct arrangement, sorted, each listed once."),
        summaries=("Return all distinct orderings of the letters of `$word`, in sorted order.",
                   "List every different string that can be made by rearranging $word, without duplicates.",
                   "Generate the unique permutations of a string whose letters may repeat, sorted."),
        notes=("The empty string has one arrangement: the empty string.",
               "Repeated letters must not produce repeated results."),
        bodies=bodies,
        local_names={"found": ("found", "results", "out"), "left": ("left", "remaining", "available"),
                     "place": ("place", "build", "extend"), "prefix": ("prefix", "partial", "so_far"),
                     "ch": ("ch", "letter", "c"), "p": ("p", "perm", "order"), "i": ("i", "pos", "k"),
                     "rest": ("rest", "tail", "others")},
        ref=ref, cases=cases)


@_family("recursion.staircase_ways", ("memoization", "counting", "lru_cache"), """
    The number of ways to climb n steps, taking some allowed number of steps at a time, is the sum of the
    ways to reach each step from which one allowed move lands on n. Written as plain recursion the same
    smaller questions are asked over and over and the time grows exponentially; remembering each answer
    (a dict, or `functools.lru_cache`) makes every question cost one computation.""")
def _staircase_ways(rng) -> Made:
    moves = pick(rng, ((1, 2), (1, 3), (1, 2, 3), (2, 3), (1, 4), (1, 2, 5)))

    def ref(n):
        ways = [1] + [0] * n
        for i in range(1, n + 1):
            ways[i] = sum(ways[i - m] for m in moves if m <= i)
        return ways[n]

    bodies = (
        Body(_code("""
            @lru_cache(maxsize=None)
            def $ways($k: int) -> int:
                if $k == 0:
                    return 1
                return sum($ways($k - $m) for $m in $moves if $m <= $k)

            return $ways($n)"""), ("from functools import lru_cache",)),
        _code("""
            $memo = {0: 1}

            def $ways($k: int) -> int:
                if $k not in $memo:
                    $memo[$k] = sum($ways($k - $m) for $m in $moves if $m <= $k)
                return $memo[$k]

            return $ways($n)"""),
        _code("""
            $ways = [1] + [0] * $n
            for $k in range(1, $n + 1):
                for $m in $moves:
                    if $m <= $k:
                        $ways[$k] += $ways[$k - $m]
            return $ways[$n]"""))
    cases = [(rng.randint(3, 30),) for _ in range(3)] + [(0,), (1,), (2,), (rng.randint(31, 60),)]
    return _build(
        rng, names=("count_climbs", "staircase_ways", "ways_to_climb", "step_combinations", "climb_count",
                    "stair_paths"),
        params=[P("n", ("n", "steps", "height", "stairs"), "int", "The number of steps (zero or more).")],
        returns=("int", "How many ordered sequences of allowed moves add up to $n; 1 for $n = 0."),
        summaries=(f"Count the ways to climb a staircase of `$n` steps when each move climbs one of {moves} steps.",
                   f"Return how many different sequences of moves, each of {' or '.join(map(str, moves))} steps, "
                   "reach exactly step $n.",
                   f"Count the ways to climb `$n` stairs taking {moves} steps at a time; use memoization."),
        notes=("Different orders of the same moves count separately.",
               "Remember answers you have already computed."),
        bodies=bodies, consts={"moves": repr(moves)},
        local_names={"ways": ("ways", "count_from", "solve"), "k": ("k", "step", "i"), "m": ("m", "move", "jump"),
                     "memo": ("memo", "cache", "known")},
        ref=ref, cases=cases)


@_family("recursion.integer_partitions", ("memoization", "partitions", "lru_cache"), """
    A partition of n writes it as a sum of positive parts where order does not matter: 4 = 3+1 = 2+2 =
    2+1+1 = 1+1+1+1. Counting them recursively means deciding about the largest allowed part: either
    use it (and partition what is left) or forbid it from now on. Both choices shrink the problem, and
    caching the answer for each (n, largest part) pair turns the exponential recursion into a fast one.""")
def _integer_partitions(rng) -> Made:
    distinct = pick(rng, (False, True))

    def ref(n, largest):
        @lru_cache(maxsize=None)
        def p(m, k):
            if m == 0:
                return 1
            if m < 0 or k == 0:
                return 0
            return p(m - k, k - 1 if distinct else k) + p(m, k - 1)
        return p(n, largest)

    again = "$k - 1" if distinct else "$k"
    bodies = (
        Body(_code(f"""
            @lru_cache(maxsize=None)
            def $count($m: int, $k: int) -> int:
                if $m == 0:
                    return 1
                if $m < 0 or $k == 0:
                    return 0
                return $count($m - $k, {again}) + $count($m, $k - 1)

            return $count($n, $largest)"""), ("from functools import lru_cache",)),
        _code(f"""
            $memo = {{}}

            def $count($m: int, $k: int) -> int:
                if $m == 0:
                    return 1
                if $m < 0 or $k == 0:
                    return 0
                if ($m, $k) not in $memo:
                    $memo[$m, $k] = $count($m - $k, {again}) + $count($m, $k - 1)
                return $memo[$m, $k]

            return $count($n, $largest)"""))
    cases = [(rng.randint(1, 40), rng.randint(1, 12)) for _ in range(4)] + [(0, 3), (5, 0), (4, 4), (6, 1)]
    kind = "distinct parts" if distinct else "parts"
    return _build(
        rng, names=("count_partitions", "partition_count", "ways_to_split", "sum_decompositions",
                    "number_of_partitions"),
        params=[P("n", ("n", "total", "amount", "number"), "int", "The number to split (zero or more)."),
                P("largest", ("largest", "max_part", "limit", "biggest"), "int", "The largest part allowed.")],
        returns=("int", f"How many multisets of {kind} sum to $n; 1 for $n = 0."),
        summaries=(f"Count the ways to write `$n` as a sum of {kind}, none larger than `$largest`, order ignored.",
                   f"Return the number of partitions of $n into {kind} of size at most $largest.",
                   f"How many ways can $n be split into {kind} no bigger than $largest? Use memoization."),
        notes=("3+1 and 1+3 are the same partition." if not distinct else "A part may be used at most once.",
               "Cache (n, largest) pairs you have already solved."),
        bodies=bodies,
        local_names={"count": ("count", "ways", "solve"), "m": ("m", "rest", "remaining"),
                     "k": ("k", "part", "top"), "memo": ("memo", "cache", "seen")},
        ref=ref, cases=cases)


# ------------------------------------------------------------------------------------- sorting_searching


def _order_words(descending: bool) -> tuple[str, str, str]:
    """(comparison that means "out of order", word for the order, word for the reverse order)."""
    return (">", "descending", "ascending") if descending else ("<", "ascending", "descending")


@_family("sorting_searching.insertion_sort", ("sorting_algorithms", "insertion-sort", "in-place"), """
    Insertion sort keeps a sorted prefix and grows it one element at a time: the next element is taken out
    and the larger elements of the prefix shift one place right until its spot is found. It does little
    work on lists that are nearly sorted, and it is stable: equal elements keep their order. The standard
    library's `bisect.insort` finds the spot by binary search, though shifting still costs linear time.""")
def _insertion_sort(rng) -> Made:
    descending = pick(rng, (False, False, True))
    cmp, order, _ = _order_words(descending)
    before = ">" if not descending else "<"  # a prefix element that must move right

    def ref(values):
        return sorted(values, reverse=descending)

    bodies = [
        _code(f"""
            $out = list($values)
            for $i in range(1, len($out)):
                $current = $out[$i]
                $j = $i - 1
                while $j >= 0 and $out[$j] {before} $current:
                    $out[$j + 1] = $out[$j]
                    $j -= 1
                $out[$j + 1] = $current
            return $out"""),
        _code(f"""
            $out = list($values)
            for $i in range(1, len($out)):
                $j = $i
                while $j > 0 and $out[$j - 1] {before} $out[$j]:
                    $out[$j - 1], $out[$j] = $out[$j], $out[$j - 1]
                    $j -= 1
            return $out"""),
        _code(f"""
            $out = []
            for $current in $values:
                $j = len($out)
                while $j > 0 and $out[$j - 1] {before} $current:
                    $j -= 1
                $out.insert($j, $current)
            return $out""")]
    if not descending:
        bodies.append(Body(_code("""
            $out = []
            for $current in $values:
                insort($out, $current)
            return $out"""), ("from bisect import insort",)))
    cases = [(_ints(rng, rng.randint(3, 10), -20, 50),) for _ in range(4)] + [([],), ([rng.randint(0, 9)],),
                                                                              ([3, 1, 3, 2, 1],), ([1, 2, 3],)]
    return _build(
        rng, names=("insertion_sort", "sort_by_insertion", "insert_sorted", "insertion_sorted", "isort"),
        params=[P("values", ("values", "nums", "items", "numbers", "data"), "list[int]", "The numbers to sort.")],
        returns=("list[int]", f"A new list with the same numbers in {order} order."),
        summaries=(f"Sort `$values` in {order} order with insertion sort and return the sorted copy.",
                   f"Return the numbers of $values arranged in {order} order, using the insertion sort algorithm.",
                   f"Implement insertion sort: build the {order} result by inserting each element in its place."),
        notes=("Do not call sorted() or list.sort().", "The input list is left unchanged."),
        bodies=bodies,
        local_names={"out": ("out", "result", "ordered", "sorted_part"), "i": ("i", "idx", "k"),
                     "j": ("j", "pos", "slot"), "current": ("current", "key", "item")},
        ref=ref, cases=cases)


@_family("sorting_searching.counting_sort", ("sorting_algorithms", "counting-sort", "linear-time"), """
    When the values are small non-negative integers, they can be sorted without comparing them: count how
    often each value occurs, then write every value out as many times as it was counted, from the smallest
    to the largest. This takes time proportional to the number of items plus the range of values, which
    beats comparison sorts when the range is small, as with ages, grades or dice rolls.""")
def _counting_sort(rng) -> Made:
    top = pick(rng, (5, 9, 10, 20, 100))
    what = pick(rng, ("scores", "ratings", "ages", "rolls", "levels"))

    descending = pick(rng, (False, True))
    span = "range($largest, -1, -1)" if descending else "range($largest + 1)"
    order = "descending" if descending else "ascending"

    def ref(values, largest):
        return sorted(values, reverse=descending)

    bodies = (
        _code(f"""
            $counts = [0] * ($largest + 1)
            for $v in $values:
                $counts[$v] += 1
            $out = []
            for $v in {span}:
                $out.extend([$v] * $counts[$v])
            return $out"""),
        _code(f"""
            $counts = [0] * ($largest + 1)
            for $v in $values:
                $counts[$v] += 1
            return [$v for $v in {span} for _ in range($counts[$v])]"""),
        Body(_code(f"""
            $counts = Counter($values)
            $out = []
            for $v in {span}:
                $out += [$v] * $counts[$v]
            return $out"""), ("from collections import Counter",)))
    cases = [(_ints(rng, rng.randint(3, 12), 0, top), top) for _ in range(4)]
    cases += [([], top), ([0], top), ([top, 0, top], top), ([1, 1, 1], 1)]
    return _build(
        rng, names=("sort_by_counting", "bucket_count_sort", "tally_sort", "sort_small_ints", "count_then_sort"),
        params=[P("values", (what, "values", "items", "data"), "list[int]",
                  "Integers between 0 and `$largest` inclusive."),
                P("largest", ("largest", "max_value", "upper", "limit"), "int", "The largest value that can occur.")],
        returns=("list[int]", f"The values in {order} order."),
        summaries=(f"Sort `$values`, whose items lie in 0..`$largest`, in {order} order with counting sort.",
                   f"Return $values in {order} order by counting how often each value from 0 to $largest occurs.",
                   f"Sort small non-negative integers into {order} order in linear time using a table of counts."),
        notes=("No comparisons between elements are needed.", "Values that do not occur simply get a count of 0."),
        bodies=bodies,
        local_names={"counts": ("counts", "tally", "freq"), "v": ("v", "value", "num"),
                     "out": ("out", "result", "ordered")},
        ref=ref, cases=cases)


@_family("sorting_searching.merge_sort", ("sorting_algorithms", "merge-sort", "divide_and_conquer"), """
    Merge sort splits the list in two halves, sorts each half (recursively), and merges the two sorted
    halves by repeatedly taking the smaller front element. It always takes O(n log n) time and is stable.
    The same idea works bottom-up without recursion: merge runs of length 1 into runs of 2, then 4, and so
    on until one run covers the whole list.""")
def _merge_sort(rng) -> Made:
    key = pick(rng, ("desc", "abs", "last_digit"))

    if key == "desc":
        def ref(values):
            return sorted(values, reverse=True)
        k = "-$x"
        what = "in descending order"
        note = "Equal numbers keep their original order."
    elif key == "abs":
        def ref(values):
            return sorted(values, key=abs)
        k = "abs($x)"
        what = "by absolute value (smallest magnitude first), keeping the original order of ties"
        note = "-3 and 3 tie; whichever came first stays first."
    else:
        def ref(values):
            return sorted(values, key=lambda v: v % 10)
        k = "$x % 10"
        what = "by their last decimal digit, keeping the original order of ties"
        note = "The numbers are non-negative; 25 and 5 tie."

    def kk(var: str) -> str:
        return k.replace("$x", var)

    merge = _code(f"""
        def $merge($left: list, $right: list) -> list:
            $out = []
            $i = $j = 0
            while $i < len($left) and $j < len($right):
                if {kk("$right[$j]")} < {kk("$left[$i]")}:
                    $out.append($right[$j])
                    $j += 1
                else:
                    $out.append($left[$i])
                    $i += 1
            return $out + $left[$i:] + $right[$j:]""")
    bodies = (
        Body(_code("""
            if len($values) <= 1:
                return list($values)
            $mid = len($values) // 2
            return $merge($entry($values[:$mid]), $entry($values[$mid:]))"""), helpers=merge),
        Body(_code("""
            $runs = [[$x] for $x in $values]
            while len($runs) > 1:
                $paired = []
                for $i in range(0, len($runs), 2):
                    $paired.append($merge(*$runs[$i:$i + 2]) if $i + 1 < len($runs) else $runs[$i])
                $runs = $paired
            return $runs[0] if $runs else []"""), helpers=merge))
    lo = -30 if key != "last_digit" else 0  # last digits are only defined here for non-negative numbers
    cases = [(_ints(rng, rng.randint(3, 10), lo, 60),) for _ in range(4)] + [([],), ([rng.randint(0, 9)],),
                                                                            ([5, 15, 25, -5 if lo else 35],)]
    return _build(
        rng, names=("sort_with_merges", "merge_sorted_copy", "split_and_merge_sort", "stable_merge_order",
                    "merge_sort_by_key"),
        params=[P("values", ("values", "nums", "items", "numbers"), "list[int]", "The numbers to sort.")],
        returns=("list[int]", f"A new list of the numbers sorted {what}."),
        summaries=(f"Sort `$values` {what}, using merge sort.",
                   f"Return a copy of $values ordered {what}; implement merge sort instead of calling sorted().",
                   f"Merge sort: split the list, sort the halves and merge them, ordering the numbers {what}."),
        notes=(note, "The merge step must be stable."),
        bodies=bodies,
        local_names={"merge": ("merge_halves", "merge_two", "combine", "_merge_runs"), "left": ("left", "a", "first"),
                     "right": ("right", "b", "second"), "out": ("out", "merged", "result"), "i": ("i", "p", "ia"),
                     "j": ("j", "q", "ib"), "mid": ("mid", "half", "middle"), "runs": ("runs", "chunks", "pieces"),
                     "paired": ("paired", "next_runs", "merged_runs"), "x": ("x", "v", "item")},
        ref=ref, cases=cases)


_WORD_KEYS = {
    # key: (description, reference key, lambda body, helper body lines)
    "length": ("by length, shortest first, and alphabetically among words of the same length",
               lambda w: (len(w), w), "(len($w), $w)"),
    "last": ("by their last letter, and alphabetically among words that end with the same letter",
             lambda w: (w[-1], w), "($w[-1], $w)"),
    "vowels": ("by how many vowels they contain (fewest first), then alphabetically",
               lambda w: (sum(c in "aeiou" for c in w), w), "(sum($c in 'aeiou' for $c in $w), $w)"),
    "long_first": ("by length, longest first, and alphabetically among words of the same length",
                   lambda w: (-len(w), w), "(-len($w), $w)"),
}


@_family("sorting_searching.sort_words_by_key", ("custom_keys", "sorted", "tuples-as-keys"), """
    `sorted(items, key=f)` orders items by f(item) instead of by the items themselves. A key that returns
    a tuple sorts by its first element and breaks ties with the next one, so `(len(w), w)` means "by length,
    then alphabetically". Negating a number in the key reverses that part of the order only.""")
def _sort_words_by_key(rng) -> Made:
    key = pick(rng, tuple(_WORD_KEYS))
    desc, fn, expr = _WORD_KEYS[key]

    def ref(words):
        return sorted(words, key=fn)

    bodies = (
        f"return sorted($words, key=lambda $w: {expr})",
        Body("return sorted($words, key=$key_fn)", helpers=_code(f"""
            def $key_fn($w: str) -> tuple:
                return {expr}""")),
        _code(f"""
            $decorated = [({expr}, $w) for $w in $words]
            $decorated.sort()
            return [$w for _, $w in $decorated]"""),
        _code(f"""
            $out = list($words)
            $out.sort(key=lambda $w: {expr})
            return $out"""))
    cases = [(_words(rng, rng.randint(3, 8)),) for _ in range(4)] + [([],), ([pick(rng, _WORDS)],),
                                                                     (["bb", "a", "ccc", "aa"],)]
    return _build(
        rng, names=("sort_words", "order_words", "arrange_words", "words_sorted", "rank_words", "sort_vocabulary"),
        params=[P("words", ("words", "names", "tokens", "items", "vocabulary"), "list[str]",
                  "Lower-case words, not empty.")],
        returns=("list[str]", f"A new list of the words sorted {desc}."),
        summaries=(f"Return `$words` sorted {desc}.", f"Sort the list $words {desc}.",
                   f"Order a list of words {desc} and return the result as a new list."),
        notes=("Use a key function that returns a tuple.", "Duplicates are kept."),
        bodies=bodies,
        local_names={"w": ("w", "word", "s"), "c": ("c", "ch", "letter"),
                     "key_fn": ("sort_key", "word_key", "order_key"),
                     "decorated": ("decorated", "keyed", "pairs"), "out": ("out", "result", "ordered")},
        ref=ref, cases=cases)


@_family("sorting_searching.leaderboard", ("custom_keys", "records", "stable-sort"), """
    Records such as (name, score) pairs are sorted by a key that picks the fields to compare. To sort by
    score from high to low but by name from A to Z among equal scores, the key can negate the score:
    `key=lambda r: (-r[1], r[0])`. Alternatively, because Python's sort is stable, sort by the secondary
    field first and then by the primary one.""")
def _leaderboard(rng) -> Made:
    top_n = pick(rng, (None, 3, 5))

    def ref(entries):
        ranked = [name for name, _ in sorted(entries, key=lambda r: (-r[1], r[0]))]
        return ranked if top_n is None else ranked[:top_n]

    cut = "" if top_n is None else f"[:{top_n}]"
    bodies = (
        f"return [$name for $name, _ in sorted($entries, key=lambda $r: (-$r[1], $r[0]))]{cut}",
        _code(f"""
            $ranked = sorted($entries, key=lambda $r: $r[0])
            $ranked.sort(key=lambda $r: $r[1], reverse=True)
            return [$r[0] for $r in $ranked]{cut}"""),
        _code(f"""
            $ranked = sorted(($score * -1, $name) for $name, $score in $entries)
            $names = []
            for _, $name in $ranked:
                $names.append($name)
            return $names{cut}"""))

    def entries(n):
        return [(name, rng.randint(0, 20)) for name in rng.sample(_PEOPLE, n)]

    cases = [(entries(rng.randint(2, 7)),) for _ in range(4)] + [([],), ([("solo", 5)],),
                                                                 ([("bea", 3), ("abe", 3), ("cy", 9)],)]
    pre = "" if top_n is None else f"the top {top_n} "
    return _build(
        rng, names=("leaderboard", "rank_players", "standings", "order_by_score", "ranking_names", "top_players"),
        params=[P("entries", ("entries", "scores", "results", "records"), "list[tuple[str, int]]",
                  "(name, score) pairs; names are distinct.")],
        returns=("list[str]", f"The names of {pre or 'all '}players, best score first, ties alphabetical."),
        summaries=(f"Return the names of {pre}players in `$entries` ordered by score, highest first; equal "
                   "scores are ordered by name.",
                   f"Sort the (name, score) pairs by descending score, alphabetically on ties, and return {pre}names.",
                   f"Build a leaderboard: {pre or 'all '}names, from the highest score down, ties broken by name."),
        notes=("Fewer entries than asked for simply give a shorter list." if top_n else "Every name appears once.",),
        bodies=bodies,
        local_names={"name": ("name", "player", "who"), "score": ("score", "points", "pts"), "r": ("r", "rec", "e"),
                     "ranked": ("ranked", "ordered", "by_score"), "names": ("names", "out", "board")},
        ref=ref, cases=cases)


_PEOPLE = ("ada", "ben", "cleo", "dan", "eve", "finn", "gus", "hana", "ivy", "jon", "kai", "lena", "mo", "nia",
           "omar", "pia", "quin", "rosa", "sam", "tara")


@_family("sorting_searching.lower_bound", ("binary_search", "bisect", "insertion-point"), """
    Binary search finds a position in a sorted list by halving the range that can still contain it: compare
    with the middle element and keep the half on the correct side. Searching for the first position whose
    value is at least (or strictly greater than) a target is the most useful form, since it answers
    "where would this go?" even when the target is absent. The `bisect` module implements exactly this.""")
def _lower_bound(rng) -> Made:
    strict = pick(rng, (False, True))  # True: first value > target (bisect_right)
    cmp = "<=" if strict else "<"
    fn = "bisect_right" if strict else "bisect_left"

    def ref(values, target):
        return (bisect.bisect_right if strict else bisect.bisect_left)(values, target)

    bodies = (
        _code(f"""
            $lo, $hi = 0, len($values)
            while $lo < $hi:
                $mid = ($lo + $hi) // 2
                if $values[$mid] {cmp} $target:
                    $lo = $mid + 1
                else:
                    $hi = $mid
            return $lo"""),
        _code(f"""
            $lo, $hi = 0, len($values) - 1
            $answer = len($values)
            while $lo <= $hi:
                $mid = $lo + ($hi - $lo) // 2
                if $values[$mid] {cmp} $target:
                    $lo = $mid + 1
                else:
                    $answer = $mid
                    $hi = $mid - 1
            return $answer"""),
        Body(f"return {fn}($values, $target)", (f"from bisect import {fn}",)))
    cases = []
    for _ in range(4):
        vals = sorted(_ints(rng, rng.randint(3, 10), 0, 40))
        cases.append((vals, pick(rng, vals) if rng.random() < 0.6 else rng.randint(-5, 45)))
    cases += [([], 5), ([2, 2, 2], 2), ([1, 3, 5], 0), ([1, 3, 5], 9)]
    rel = "greater than" if strict else "greater than or equal to"
    return _build(
        rng, names=("first_greater" if strict else "first_at_least", "insertion_point", "search_position",
                    "lower_bound" if not strict else "upper_bound", "find_slot", "binary_search_index"),
        params=[P("values", ("values", "sorted_values", "nums", "arr", "items"), "list[int]",
                  "Numbers in ascending order (duplicates allowed)."),
                P("target", ("target", "x", "key", "needle"), "int", "The value to look for.")],
        returns=("int", f"The first index whose value is {rel} the target; len($values) if there is none."),
        summaries=(f"Return the index of the first element of `$values` that is {rel} `$target`, by binary search.",
                   f"Use binary search to find where $target would be inserted into $values so that the list "
                   f"stays sorted, placing it {'after' if strict else 'before'} any equal elements.",
                   f"Find the smallest index i with $values[i] {'>' if strict else '>='} $target in O(log n) time."),
        notes=("If every element is smaller, the answer is the length of the list.",
               "Halve the search range at every step."),
        bodies=bodies,
        local_names={"lo": ("lo", "low", "left"), "hi": ("hi", "high", "right"), "mid": ("mid", "middle", "m"),
                     "answer": ("answer", "best", "found")},
        ref=ref, cases=cases)


@_family("sorting_searching.count_in_range", ("binary_search", "bisect", "range-queries"), """
    In a sorted list, the values between low and high form one contiguous block, so counting them needs only
    the two ends of the block: the first index with a value >= low and the first index with a value > high.
    Two binary searches answer the question in O(log n) time, however many values fall inside.""")
def _count_in_range(rng) -> Made:
    def ref(values, low, high):
        return max(0, bisect.bisect_right(values, high) - bisect.bisect_left(values, low))

    helper = _code("""
        def $first_index($values: list, $target: int, $inclusive: bool) -> int:
            $lo, $hi = 0, len($values)
            while $lo < $hi:
                $mid = ($lo + $hi) // 2
                if $values[$mid] < $target or ($inclusive and $values[$mid] == $target):
                    $lo = $mid + 1
                else:
                    $hi = $mid
            return $lo""")
    bodies = (
        Body("return max(0, bisect_right($values, $high) - bisect_left($values, $low))",
             ("from bisect import bisect_left, bisect_right",)),
        Body(_code("""
            $start = bisect_left($values, $low)
            $stop = bisect_right($values, $high)
            return $stop - $start if $stop > $start else 0"""), ("from bisect import bisect_left, bisect_right",)),
        Body(_code("""
            $start = $first_index($values, $low, False)
            $stop = $first_index($values, $high, True)
            return max(0, $stop - $start)"""), helpers=helper))
    cases = []
    for _ in range(4):
        vals = sorted(_ints(rng, rng.randint(4, 12), 0, 50))
        a, b = sorted((rng.randint(-5, 55), rng.randint(-5, 55)))
        cases.append((vals, a, b))
    cases += [([], 0, 10), ([4, 4, 4], 4, 4), ([1, 2, 3], 5, 9), ([1, 5, 9], 6, 2)]
    return _build(
        rng, names=("count_in_range", "count_between", "range_count", "values_within", "tally_in_interval"),
        params=[P("values", ("values", "sorted_values", "nums", "data"), "list[int]", "Numbers in ascending order."),
                P("low", ("low", "lo", "start", "lower"), "int", "The smallest value to count."),
                P("high", ("high", "hi", "stop", "upper"), "int", "The largest value to count.")],
        returns=("int", "How many values v satisfy $low <= v <= $high; 0 when $low > $high."),
        summaries=("Count the elements of the sorted list `$values` that lie between `$low` and `$high` inclusive.",
                   "Return how many numbers in $values fall in the closed interval [$low, $high], in O(log n) time.",
                   "Use two binary searches to count the values of a sorted list inside a range."),
        notes=("An empty range (low greater than high) contains nothing.", "Both ends are included."),
        bodies=bodies,
        local_names={"first_index": ("first_index", "boundary", "search_edge"), "target": ("target", "bound", "x"),
                     "inclusive": ("inclusive", "past_equal", "after_ties"), "lo": ("lo", "left", "a"),
                     "hi": ("hi", "right", "b"), "mid": ("mid", "middle", "m"), "start": ("start", "first", "begin"),
                     "stop": ("stop", "end", "past")},
        ref=ref, cases=cases)


@_family("sorting_searching.integer_root", ("binary_search", "search-on-answer", "integer-math"), """
    Binary search also works on an answer instead of a list: when a condition such as "r**k <= n" is true
    for every r up to some point and false after it, the last r where it holds is found by halving an
    interval of candidates. This computes integer square (or cube) roots exactly, without the rounding
    errors of floating-point `n ** 0.5`.""")
def _integer_root(rng) -> Made:
    k = pick(rng, (2, 2, 3))
    power = "$mid * $mid" if k == 2 else "$mid * $mid * $mid"
    word = "square" if k == 2 else "cube"

    def ref(n):
        r = int(round(n ** (1 / k)))
        while r ** k > n:
            r -= 1
        while (r + 1) ** k <= n:
            r += 1
        return r

    bodies = (
        _code(f"""
            $lo, $hi = 0, $n
            while $lo < $hi:
                $mid = ($lo + $hi + 1) // 2
                if {power} <= $n:
                    $lo = $mid
                else:
                    $hi = $mid - 1
            return $lo"""),
        _code(f"""
            $lo, $hi = 0, $n + 1
            while $hi - $lo > 1:
                $mid = ($lo + $hi) // 2
                if {power} <= $n:
                    $lo = $mid
                else:
                    $hi = $mid
            return $lo"""))
    if k == 2:
        bodies += (Body("return isqrt($n)", ("from math import isqrt",)),)
    cases = [(rng.randint(2, 10 ** rng.randint(2, 12)),) for _ in range(4)]
    sq = rng.randint(2, 300)
    cases += [(0,), (1,), (sq ** k,), (sq ** k - 1,)]
    return _build(
        rng, names=(f"integer_{word}_root", f"floor_{word}_root", f"{word}_root_int", f"{word}_root_floor",
                    f"whole_{word}_root"),
        params=[P("n", ("n", "number", "value", "x"), "int", "A non-negative integer.")],
        returns=("int", f"The largest integer r with r**{k} <= $n."),
        summaries=(f"Return the integer {word} root of `$n`, rounded down, using binary search.",
                   f"Find the largest whole number whose {word} does not exceed $n, without floating point.",
                   f"Compute floor({word} root of $n) exactly by binary searching over the candidate roots."),
        notes=("Works for very large n, where floating point would round wrongly.", "The root of 0 is 0."),
        bodies=bodies, local_names={"lo": ("lo", "low", "left"), "hi": ("hi", "high", "right"),
                                    "mid": ("mid", "guess", "candidate")},
        ref=ref, cases=cases)


@_family("sorting_searching.first_match", ("linear_search", "early-exit", "next"), """
    A linear search looks at the items one by one and stops at the first one that satisfies the condition;
    it needs no ordering and no preparation. Returning from inside the loop ends the search early, and a
    sentinel such as -1 reports that nothing matched. `next()` over a generator expression with a default
    expresses the same search in one line.""")
def _first_match(rng) -> Made:
    cond, desc = pick(rng, (("$v > $limit", "greater than `$limit`"), ("$v >= $limit", "at least `$limit`"),
                            ("$v < $limit", "less than `$limit`"), ("$v % $limit == 0", "divisible by `$limit`")))
    last = pick(rng, (False, False, True))
    missing = pick(rng, (-1, -1, None))
    divisible = "%" in cond

    def ref(values, limit):
        test = {"$v > $limit": lambda v: v > limit, "$v >= $limit": lambda v: v >= limit,
                "$v < $limit": lambda v: v < limit, "$v % $limit == 0": lambda v: v % limit == 0}[cond]
        hits = [i for i, v in enumerate(values) if test(v)]
        return (hits[-1] if last else hits[0]) if hits else missing

    which = "last" if last else "first"
    if last:
        bodies = (
            _code(f"""
                for $i in range(len($values) - 1, -1, -1):
                    $v = $values[$i]
                    if {cond}:
                        return $i
                return {missing}"""),
            _code(f"""
                $found = {missing}
                for $i, $v in enumerate($values):
                    if {cond}:
                        $found = $i
                return $found"""),
            f"return next(($i for $i in reversed(range(len($values)))\n"
            f"             if {cond.replace('$v', '$values[$i]')}), {missing})")
    else:
        bodies = (
            _code(f"""
                for $i, $v in enumerate($values):
                    if {cond}:
                        return $i
                return {missing}"""),
            f"return next(($i for $i, $v in enumerate($values) if {cond}), {missing})",
            _code(f"""
                $i = 0
                while $i < len($values):
                    $v = $values[$i]
                    if {cond}:
                        return $i
                    $i += 1
                return {missing}"""))
    limit = rng.randint(2, 7) if divisible else rng.randint(0, 30)
    cases = [(_ints(rng, rng.randint(3, 10), 1 if divisible else -10, 40), limit) for _ in range(4)]
    cases += [([], limit), ([limit], limit), ([limit + 1, limit - 1], limit)]
    ret_t = "int" if missing == -1 else "int | None"
    return _build(
        rng, names=(f"{which}_index_{'over' if '>' in cond else 'under' if '<' in cond else 'divisible'}",
                    f"find_{which}", f"{which}_position", f"locate_{which}", f"{which}_matching_index"),
        params=[P("values", ("values", "nums", "readings", "items", "data"), "list[int]", "The numbers to scan."),
                P("limit", ("limit", "threshold", "bound", "k") if not divisible else ("k", "divisor", "factor"),
                  "int", "The value the condition compares with." if not divisible else "A positive divisor.")],
        returns=(ret_t, f"The {which} matching index, or {missing} if no element matches."),
        summaries=(f"Return the index of the {which} element of `$values` that is {desc}.",
                   f"Scan $values and report the position of the {which} number {desc}; {missing} if there is none.",
                   f"Linear search: find where the {which} value {desc} appears in the list."),
        notes=(f"Return {missing} when nothing matches.", "Indexes start at 0."),
        bodies=bodies, local_names={"i": ("i", "idx", "pos"), "v": ("v", "value", "x"),
                                    "found": ("found", "where", "hit")},
        ref=ref, cases=cases)


@_family("sorting_searching.closest_value", ("linear_search", "min-with-key", "tie-breaking"), """
    Finding the element nearest to a target is a linear search that remembers the best candidate seen so
    far and replaces it only when a strictly better one appears. The distance is `abs(value - target)`, and
    a rule for ties must be chosen: with `min(values, key=...)` and a tuple key, the tie-breaker becomes part
    of the key, e.g. `(abs(v - t), v)` prefers the smaller value.""")
def _closest_value(rng) -> Made:
    prefer_small = pick(rng, (True, False))
    tie = "the smaller one" if prefer_small else "the larger one"
    sign = "" if prefer_small else "-"

    def ref(values, target):
        if not values:
            return None
        return min(values, key=lambda v: (abs(v - target), v if prefer_small else -v))

    better = "$v < $best" if prefer_small else "$v > $best"
    bodies = (
        _code(f"""
            if not $values:
                return None
            $best = $values[0]
            for $v in $values[1:]:
                $d, $bd = abs($v - $target), abs($best - $target)
                if $d < $bd or ($d == $bd and {better}):
                    $best = $v
            return $best"""),
        _code(f"""
            if not $values:
                return None
            return min($values, key=lambda $v: (abs($v - $target), {sign}$v))"""),
        _code(f"""
            $best = None
            for $v in sorted($values, reverse={not prefer_small}):
                if $best is None or abs($v - $target) < abs($best - $target):
                    $best = $v
            return $best"""))
    cases = [(_ints(rng, rng.randint(2, 9), -30, 30), rng.randint(-30, 30)) for _ in range(4)]
    t = rng.randint(0, 10)
    cases += [([], t), ([t + 3], t), ([t - 2, t + 2], t), ([t + 1, t - 1, t + 5], t)]
    return _build(
        rng, names=("closest_value", "nearest_to", "closest_to_target", "find_nearest", "nearest_element"),
        params=[P("values", ("values", "nums", "candidates", "options"), "list[int]", "The numbers to search."),
                P("target", ("target", "goal", "reference", "x"), "int", "The number to get close to.")],
        returns=("int | None", f"The element nearest the target ({tie} on a tie), or None for an empty list."),
        summaries=(f"Return the element of `$values` closest to `$target`; if two are equally close, return {tie}.",
                   f"Find the number in $values with the smallest distance to $target, preferring {tie} on ties.",
                   f"Search the list for the value nearest to a target (ties go to {tie})."),
        notes=("An empty list has no closest value.", "Distance is the absolute difference."),
        bodies=bodies, local_names={"best": ("best", "closest", "answer"), "v": ("v", "value", "x"),
                                    "d": ("d", "dist", "gap"), "bd": ("bd", "best_dist", "best_gap")},
        ref=ref, cases=cases)


@_family("sorting_searching.kth_element", ("selection_and_ranking", "heapq", "order-statistics"), """
    The k-th smallest (or largest) element can be read off a sorted copy, but sorting everything is more
    work than needed. A heap keeps only the k best candidates seen so far: `heapq.nsmallest(k, values)`
    and `heapq.nlargest` do this in O(n log k) time. Whether duplicates count separately ("the 2nd largest
    of [5, 5, 3] is 5") or not ("it is 3") must be decided up front.""")
def _kth_element(rng) -> Made:
    largest = pick(rng, (True, False))
    distinct = pick(rng, (False, True))
    word = "largest" if largest else "smallest"

    def ref(values, k):
        pool = sorted(set(values) if distinct else values, reverse=largest)
        return pool[k - 1] if 1 <= k <= len(pool) else None

    src = "set($values)" if distinct else "$values"
    heap_fn = "nlargest" if largest else "nsmallest"
    bodies = (
        _code(f"""
            $pool = sorted({src}{", reverse=True" if largest else ""})
            if 1 <= $k <= len($pool):
                return $pool[$k - 1]
            return None"""),
        Body(_code(f"""
            $pool = {src}
            if not 1 <= $k <= len($pool):
                return None
            return {heap_fn}($k, $pool)[-1]"""), (f"from heapq import {heap_fn}",)),
        _code(f"""
            $pool = list({src})
            if $k < 1 or $k > len($pool):
                return None
            for _ in range($k - 1):
                $pool.remove({'max' if largest else 'min'}($pool))
            return {'max' if largest else 'min'}($pool)"""))
    cases = []
    for _ in range(4):
        vals = _ints(rng, rng.randint(3, 9), 0, 15)
        cases.append((vals, rng.randint(1, len(vals))))
    cases += [([], 1), ([7], 1), ([4, 4, 2], 2), ([1, 2, 3], 4), ([3, 1, 2], 0)]
    dup = "counting equal values only once" if distinct else "counting duplicates separately"
    return _build(
        rng, names=(f"kth_{word}", f"nth_{word}", f"{word}_at_rank", f"select_kth_{word}", f"rank_{word}"),
        params=[P("values", ("values", "nums", "scores", "data"), "list[int]", "The numbers to choose from."),
                P("k", ("k", "rank", "n", "position"), "int", f"Which one to return: 1 is the {word}.")],
        returns=("int | None", f"The $k-th {word} value, or None if $k is out of range."),
        summaries=(f"Return the `$k`-th {word} element of `$values`, {dup}.",
                   f"Find the value of rank $k when $values is ordered starting from the {word} ({dup}).",
                   f"Select the k-th {word} number of a list, {dup}; None when there are not enough values."),
        notes=("k starts at 1.", "The input list must not be modified."),
        bodies=bodies, local_names={"pool": ("pool", "ordered", "candidates", "ranked")},
        ref=ref, cases=cases)


@_family("sorting_searching.rank_scores", ("selection_and_ranking", "ties", "dict-lookup"), """
    Ranking replaces each score by its place in the ordering. With "dense" ranking equal scores share a
    rank and the next different score gets the next number (100, 90, 90, 80 -> 1, 2, 2, 3); with
    "competition" ranking the next score skips the shared places (1, 2, 2, 4). Sorting the distinct
    scores once and looking each score up in a dict keeps the work at O(n log n).""")
def _rank_scores(rng) -> Made:
    dense = pick(rng, (True, False))
    high_first = pick(rng, (True, True, False))

    rev = ", reverse=True" if high_first else ""

    def ref(scores):
        order = sorted(scores, reverse=high_first)
        if dense:
            table = {s: i + 1 for i, s in enumerate(sorted(set(scores), reverse=high_first))}
        else:
            table = {}
            for i, s in enumerate(order):
                table.setdefault(s, i + 1)
        return [table[s] for s in scores]

    if dense:
        bodies = (
            _code(f"""
                $distinct = sorted(set($scores){rev})
                $rank_of = {{$s: $i + 1 for $i, $s in enumerate($distinct)}}
                return [$rank_of[$s] for $s in $scores]"""),
            _code(f"""
                $rank_of = {{}}
                for $s in sorted($scores{rev}):
                    if $s not in $rank_of:
                        $rank_of[$s] = len($rank_of) + 1
                $out = []
                for $s in $scores:
                    $out.append($rank_of[$s])
                return $out"""))
    else:
        better = ">" if high_first else "<"
        bodies = (
            _code(f"""
                $rank_of = {{}}
                for $i, $s in enumerate(sorted($scores{rev})):
                    $rank_of.setdefault($s, $i + 1)
                return [$rank_of[$s] for $s in $scores]"""),
            f"return [1 + sum(1 for $other in $scores if $other {better} $s) for $s in $scores]")
    cases = [(_ints(rng, rng.randint(3, 9), 50, 70),) for _ in range(4)] + [([],), ([rng.randint(0, 99)],),
                                                                            ([10, 20, 20, 30],)]
    kind = "dense" if dense else "competition"
    best = "highest" if high_first else "lowest"
    ex = "[30, 20, 20, 10] -> [1, 2, 2, 3]" if dense else "[30, 20, 20, 10] -> [1, 2, 2, 4]"
    if not high_first:
        ex = "[10, 20, 20, 30] -> [1, 2, 2, 3]" if dense else "[10, 20, 20, 30] -> [1, 2, 2, 4]"
    return _build(
        rng, names=("rank_scores", "score_ranks", "assign_ranks", "ranking_positions", "places_for_scores",
                    f"{kind}_ranks"),
        params=[P("scores", ("scores", "points", "results", "marks"), "list[int]", "The scores, in any order.")],
        returns=("list[int]", f"The rank of each score, in the input order; the {best} score has rank 1."),
        summaries=(f"Return the {kind} rank of every score in `$scores`, where the {best} score ranks 1.",
                   f"Replace each score in $scores by its {kind} ranking position ({best} first); for example "
                   f"{ex}.",
                   f"Compute {kind}-style ranks for a list of scores, {best} score first."),
        notes=("Equal scores share a rank." if dense else "Equal scores share a rank and the next rank is skipped.",
               "The result lines up with the input list."),
        bodies=bodies,
        local_names={"distinct": ("distinct", "unique", "levels"), "rank_of": ("rank_of", "ranks", "position"),
                     "s": ("s", "score", "value"), "i": ("i", "idx", "place"), "out": ("out", "result", "ranked"),
                     "other": ("other", "rival", "t")},
        ref=ref, cases=cases)


@_family("sorting_searching.top_frequent", ("selection_and_ranking", "counter", "frequency"), """
    To find the most frequent items, count them first (a dict or `collections.Counter`) and then order the
    distinct items by count. A deterministic answer needs a tie-breaking rule: sorting by the key
    `(-count, item)` puts higher counts first and equal counts in alphabetical order, and slicing keeps the
    first k.""")
def _top_frequent(rng) -> Made:
    def ref(words, k):
        c = Counter(words)
        return [w for w, _ in sorted(c.items(), key=lambda p: (-p[1], p[0]))][:k]

    bodies = (
        Body(_code("""
            $counts = Counter($words)
            $ordered = sorted($counts, key=lambda $w: (-$counts[$w], $w))
            return $ordered[:$k]"""), ("from collections import Counter",)),
        _code("""
            $counts = {}
            for $w in $words:
                $counts[$w] = $counts.get($w, 0) + 1
            $pairs = sorted($counts.items(), key=lambda $p: (-$p[1], $p[0]))
            return [$w for $w, _ in $pairs[:$k]]"""),
        Body(_code("""
            $counts = Counter($words)
            return [$w for _, $w in heapq.nsmallest($k, ((-$n, $w) for $w, $n in $counts.items()))]"""),
             ("import heapq", "from collections import Counter")))
    pool = rng.sample(_WORDS, 6)
    cases = [([pick(rng, pool) for _ in range(rng.randint(4, 12))], rng.randint(1, 4)) for _ in range(4)]
    cases += [([], 3), (["solo"], 1), (["b", "a", "b", "a", "c"], 2), (["x", "y"], 0)]
    return _build(
        rng, names=("top_k_frequent", "most_common_words", "frequent_items", "top_words", "commonest"),
        params=[P("words", ("words", "items", "tokens", "tags"), "list[str]", "The items to count."),
                P("k", ("k", "n", "how_many", "limit"), "int", "How many items to return.")],
        returns=("list[str]", "Up to $k items, most frequent first, ties in alphabetical order."),
        summaries=("Return the `$k` most frequent items of `$words`; items with equal counts are ordered "
                   "alphabetically.",
                   "Find the $k commonest entries in $words, most frequent first (ties broken alphabetically).",
                   "List the top k items by frequency, breaking ties by alphabetical order."),
        notes=("If there are fewer than k distinct items, return them all.", "Each item appears at most once."),
        bodies=bodies,
        local_names={"counts": ("counts", "freq", "tally"), "ordered": ("ordered", "ranked", "by_count"),
                     "w": ("w", "word", "item"), "pairs": ("pairs", "ranked_pairs", "entries"),
                     "p": ("p", "pair", "kv"), "n": ("cnt", "times", "c")},
        ref=ref, cases=cases)


@_family("sorting_searching.merge_two_sorted", ("merging_sorted", "two-indices", "linear-merge"), """
    Two sorted lists merge into one sorted list in a single pass: keep an index into each, append the
    smaller of the two current elements and advance that index, and when one list runs out, append what is
    left of the other. This linear-time step is the heart of merge sort and of merging sorted files.
    `heapq.merge` does the same lazily for any number of sorted inputs.""")
def _merge_two_sorted(rng) -> Made:
    unique = pick(rng, (False, False, True))

    def ref(first, second):
        merged = sorted(first + second)
        return sorted(set(merged)) if unique else merged

    if unique:
        bodies = (
            _code("""
                $out = []
                $i = $j = 0
                while $i < len($first) or $j < len($second):
                    if $j == len($second) or ($i < len($first) and $first[$i] <= $second[$j]):
                        $v = $first[$i]
                        $i += 1
                    else:
                        $v = $second[$j]
                        $j += 1
                    if not $out or $out[-1] != $v:
                        $out.append($v)
                return $out"""),
            Body(_code("""
                $out = []
                for $v in merge($first, $second):
                    if not $out or $out[-1] != $v:
                        $out.append($v)
                return $out"""), ("from heapq import merge",)))
    else:
        bodies = (
            _code("""
                $out = []
                $i = $j = 0
                while $i < len($first) and $j < len($second):
                    if $first[$i] <= $second[$j]:
                        $out.append($first[$i])
                        $i += 1
                    else:
                        $out.append($second[$j])
                        $j += 1
                $out.extend($first[$i:])
                $out.extend($second[$j:])
                return $out"""),
            Body("return list(merge($first, $second))", ("from heapq import merge",)),
            _code("""
                $out = []
                $a, $b = list($first), list($second)
                while $a and $b:
                    $out.append($a.pop(0) if $a[0] <= $b[0] else $b.pop(0))
                return $out + $a + $b"""))

    def srt(n):
        return sorted(_ints(rng, n, 0, 30))

    cases = [(srt(rng.randint(0, 6)), srt(rng.randint(1, 6))) for _ in range(4)]
    cases += [([], []), ([], [1, 2]), ([3, 3], [3]), ([1, 5, 9], [2, 6])]
    extra = " without repeating any value" if unique else ""
    return _build(
        rng, names=("merge_sorted", "merge_two_lists", "combine_sorted", "zip_merge", "merge_ordered"),
        params=[P("first", ("first", "a", "left", "xs"), "list[int]", "A list in ascending order."),
                P("second", ("second", "b", "right", "ys"), "list[int]", "Another list in ascending order.")],
        returns=("list[int]", f"One ascending list with the elements of both{extra}."),
        summaries=(f"Merge the sorted lists `$first` and `$second` into one sorted list{extra}.",
                   f"Return all elements of $first and $second in ascending order{extra}, in linear time.",
                   f"Combine two ascending lists into a single ascending list{extra}; do not call sorted()."),
        notes=("Either list may be empty.", "Walk both lists once, always taking the smaller front element."),
        bodies=bodies,
        local_names={"out": ("out", "merged", "result"), "i": ("i", "p", "ia"), "j": ("j", "q", "ib"),
                     "v": ("v", "value", "nxt"), "a": ("rest_a", "queue_a", "pa"), "b": ("rest_b", "queue_b", "pb")},
        ref=ref, cases=cases)


@_family("sorting_searching.merge_k_sorted", ("merging_sorted", "heapq", "priority-queue"), """
    Merging k sorted lists at once uses a min-heap holding the current front element of each list. Popping
    the heap gives the smallest remaining element overall; the next element of the same list is then pushed
    in its place. Each element passes through the heap once, so the merge costs O(n log k). Merging the
    lists two at a time, like a tournament, is a simpler alternative.""")
def _merge_k_sorted(rng) -> Made:
    def ref(lists):
        return sorted(v for part in lists for v in part)

    bodies = (
        Body(_code("""
            $heap = [($part[0], $idx, 0) for $idx, $part in enumerate($lists) if $part]
            heapq.heapify($heap)
            $out = []
            while $heap:
                $v, $idx, $pos = heapq.heappop($heap)
                $out.append($v)
                if $pos + 1 < len($lists[$idx]):
                    heapq.heappush($heap, ($lists[$idx][$pos + 1], $idx, $pos + 1))
            return $out"""), ("import heapq",)),
        Body("return list(heapq.merge(*$lists))", ("import heapq",)),
        Body(_code("""
            $parts = [list($part) for $part in $lists]
            if not $parts:
                return []
            while len($parts) > 1:
                $parts = [$merge_pair(*$parts[$idx:$idx + 2]) if $idx + 1 < len($parts) else $parts[$idx]
                          for $idx in range(0, len($parts), 2)]
            return $parts[0]"""), helpers=_code("""
            def $merge_pair($a: list, $b: list) -> list:
                $out, $i, $j = [], 0, 0
                while $i < len($a) and $j < len($b):
                    if $a[$i] <= $b[$j]:
                        $out.append($a[$i])
                        $i += 1
                    else:
                        $out.append($b[$j])
                        $j += 1
                return $out + $a[$i:] + $b[$j:]""")))
    cases = [([sorted(_ints(rng, rng.randint(0, 5), 0, 40)) for _ in range(rng.randint(2, 5))],) for _ in range(4)]
    cases += [([],), ([[], []],), ([[1, 2, 3]],), ([[5], [1], [3]],)]
    return _build(
        rng, names=("merge_k_sorted", "merge_many", "merge_all_sorted", "multiway_merge", "combine_runs"),
        params=[P("lists", ("lists", "runs", "sorted_lists", "columns", "sources"), "list[list[int]]",
                  "Lists that are each in ascending order.")],
        returns=("list[int]", "Every element of every list, in ascending order."),
        summaries=("Merge the ascending lists in `$lists` into one ascending list.",
                   "Return all numbers from the sorted lists $lists as a single sorted list, using a heap.",
                   "Combine any number of sorted lists into one sorted list in O(n log k) time."),
        notes=("Some lists, or the whole input, may be empty.", "Do not sort the concatenation."),
        bodies=bodies,
        local_names={"heap": ("heap", "fronts", "pq"), "part": ("part", "lst", "run"), "idx": ("idx", "which", "li"),
                     "out": ("out", "merged", "result"), "v": ("v", "value", "smallest"),
                     "pos": ("pos", "at", "offset"),
                     "parts": ("parts", "pending", "batch"), "merge_pair": ("merge_pair", "merge_two", "join_sorted"),
                     "a": ("a", "xs", "left"), "b": ("b", "ys", "right"), "i": ("i", "p", "ia"), "j": ("j", "q", "ib")},
        ref=ref, cases=cases)


@_family("sorting_searching.sorted_common", ("merging_sorted", "intersection", "two-indices"), """
    Two sorted lists can be intersected without a set by walking both with two indices: if the current
    elements are equal, record the value and advance both; otherwise advance the index at the smaller
    element, since it cannot match anything later in the other list. The walk takes linear time and
    produces the common values already in order.""")
def _sorted_common(rng) -> Made:
    multiset = pick(rng, (False, True))  # True: a value common twice is kept twice

    def ref(first, second):
        if multiset:
            c = Counter(first) & Counter(second)
            return sorted(c.elements())
        return sorted(set(first) & set(second))

    record = "$out.append($first[$i])" if multiset else _code("""
        if not $out or $out[-1] != $first[$i]:
            $out.append($first[$i])""")
    bodies = [
        _code("""
            $out = []
            $i = $j = 0
            while $i < len($first) and $j < len($second):
                if $first[$i] < $second[$j]:
                    $i += 1
                elif $first[$i] > $second[$j]:
                    $j += 1
                else:
                    $record
                    $i += 1
                    $j += 1
            return $out""").replace("$record", textwrap.indent(record, "        ").lstrip())]
    if multiset:
        bodies.append(Body("return sorted((Counter($first) & Counter($second)).elements())",
                           ("from collections import Counter",)))
    else:
        bodies.append("return sorted(set($first) & set($second))")

    def srt(n):
        return sorted(_ints(rng, n, 0, 12))

    cases = [(srt(rng.randint(2, 8)), srt(rng.randint(2, 8))) for _ in range(4)]
    cases += [([], [1, 2]), ([1, 2, 2, 3], [2, 2, 2]), ([1, 3], [2, 4]), ([5], [5])]
    rule = "a value shared k times appears k times" if multiset else "each shared value appears once"
    return _build(
        rng, names=("sorted_intersection", "common_sorted", "shared_values", "intersect_sorted", "overlap_of_sorted"),
        params=[P("first", ("first", "a", "left", "xs"), "list[int]", "A list in ascending order."),
                P("second", ("second", "b", "right", "ys"), "list[int]", "Another list in ascending order.")],
        returns=("list[int]", f"The common values in ascending order; {rule}."),
        summaries=(f"Return the values found in both sorted lists `$first` and `$second`; {rule}.",
                   f"Intersect the ascending lists $first and $second in one linear pass ({rule}).",
                   f"Find the elements two sorted lists have in common, in order; {rule}."),
        notes=("Use two indices instead of nested loops.", "The result is sorted too."),
        bodies=bodies, local_names={"out": ("out", "common", "shared"), "i": ("i", "p", "ia"), "j": ("j", "q", "ib")},
        ref=ref, cases=cases)


# ------------------------------------------------------------------------------------------ two_pointers


@_family("two_pointers.pair_with_sum", ("pairs_and_sums", "sorted-input", "converging-pointers"), """
    In a sorted list, a pair with a given sum can be found with two pointers, one at each end. If the two
    values add up to less than the target, the left pointer moves right (to a bigger value); if more, the
    right pointer moves left. Each step rules out one element for good, so the search takes linear time
    instead of trying all pairs.""")
def _pair_with_sum(rng) -> Made:
    want = pick(rng, ("indices", "values"))

    def ref(values, target):
        lo, hi = 0, len(values) - 1
        while lo < hi:
            s = values[lo] + values[hi]
            if s == target:
                return (lo, hi) if want == "indices" else (values[lo], values[hi])
            if s < target:
                lo += 1
            else:
                hi -= 1
        return None

    give = "($lo, $hi)" if want == "indices" else "($values[$lo], $values[$hi])"
    bodies = (
        _code(f"""
            $lo, $hi = 0, len($values) - 1
            while $lo < $hi:
                $s = $values[$lo] + $values[$hi]
                if $s == $target:
                    return {give}
                if $s < $target:
                    $lo += 1
                else:
                    $hi -= 1
            return None"""),
        _code(f"""
            $lo = 0
            $hi = len($values) - 1
            while $lo < $hi:
                $s = $values[$lo] + $values[$hi]
                if $s > $target:
                    $hi -= 1
                elif $s < $target:
                    $lo += 1
                else:
                    return {give}
            return None"""),
        # brute force finds the same pair: with distinct sorted values the solutions are nested, and the
        # converging pointers meet the outermost one, which has the smallest first index
        _code(f"""
            for $lo in range(len($values)):
                for $hi in range($lo + 1, len($values)):
                    if $values[$lo] + $values[$hi] == $target:
                        return {give}
            return None"""))
    cases = []
    for _ in range(4):
        vals = sorted(rng.sample(range(-10, 40), rng.randint(3, 9)))
        a, b = rng.sample(vals, 2)
        cases.append((vals, a + b if rng.random() < 0.75 else 1000))
    cases += [([], 5), ([5], 10), ([1, 2, 3, 4], 7), ([1, 2], 4)]
    what = "their indices (i, j) with i < j" if want == "indices" else "the two values, smaller first"
    return _build(
        rng, names=("pair_with_sum", "find_pair_sum", "two_sum_sorted", "matching_pair", "pair_adding_to"),
        params=[P("values", ("values", "nums", "sorted_nums", "arr"), "list[int]",
                  "Distinct integers in ascending order."),
                P("target", ("target", "goal", "total", "wanted"), "int", "The sum to find.")],
        returns=("tuple[int, int] | None", f"{what[0].upper() + what[1:]}, or None if no pair has the sum."),
        summaries=(f"Find two different elements of the sorted list `$values` that add up to `$target` and "
                   f"return {what}.",
                   f"Use two pointers moving inwards to locate a pair summing to $target; return {what}.",
                   f"In an ascending list, find a pair whose sum is the target in linear time and return {what}."),
        notes=("If several pairs work, return the one whose first element comes earliest.",
               "A single element cannot pair with itself."),
        bodies=bodies, local_names={"lo": ("lo", "left", "i"), "hi": ("hi", "right", "j"),
                                    "s": ("s", "pair_sum", "current")},
        ref=ref, cases=cases)


@_family("two_pointers.count_pairs_under", ("pairs_and_sums", "counting", "sorting-first"), """
    Counting the pairs whose sum stays within a limit does not require checking every pair. After sorting,
    put pointers at both ends: if the two values fit, then the left value also fits with every element
    between the pointers, so all those pairs are counted at once and the left pointer advances; otherwise
    the right pointer moves down. Sorting plus one pass costs O(n log n).""")
def _count_pairs_under(rng) -> Made:
    strict = pick(rng, (False, True))
    op = "<" if strict else "<="

    def ref(values, limit):
        return sum(1 for a, b in itertools.combinations(values, 2) if (a + b < limit if strict else a + b <= limit))

    bodies = (
        _code(f"""
            $ordered = sorted($values)
            $lo, $hi = 0, len($ordered) - 1
            $count = 0
            while $lo < $hi:
                if $ordered[$lo] + $ordered[$hi] {op} $limit:
                    $count += $hi - $lo
                    $lo += 1
                else:
                    $hi -= 1
            return $count"""),
        _code(f"""
            $count = 0
            for $i in range(len($values)):
                for $j in range($i + 1, len($values)):
                    if $values[$i] + $values[$j] {op} $limit:
                        $count += 1
            return $count"""),
        Body(f"return sum(1 for $a, $b in combinations($values, 2) if $a + $b {op} $limit)",
             ("from itertools import combinations",)))
    cases = [(_ints(rng, rng.randint(3, 9), -5, 25), rng.randint(0, 40)) for _ in range(4)]
    cases += [([], 10), ([3], 10), ([1, 1, 1], 2), ([5, 6], 3)]
    rel = "less than" if strict else "at most"
    return _build(
        rng, names=("count_pairs_within", "pairs_under_limit", "count_small_pairs", "budget_pairs", "pair_count_below"),
        params=[P("values", ("values", "prices", "weights", "nums"), "list[int]", "The numbers, in any order."),
                P("limit", ("limit", "budget", "cap", "max_sum"), "int", "The bound for a pair's sum.")],
        returns=("int", f"The number of index pairs i < j whose values sum to {rel} the limit."),
        summaries=(f"Count the pairs of elements of `$values` (different positions) whose sum is {rel} `$limit`.",
                   f"Return how many pairs i < j satisfy $values[i] + $values[j] {op} $limit.",
                   f"Count pairs with a sum {rel} a limit, using sorting and two pointers."),
        notes=("Equal values at different positions form a pair.", "The input order does not matter."),
        bodies=bodies,
        local_names={"ordered": ("ordered", "srt", "arranged"), "lo": ("lo", "left", "l"), "hi": ("hi", "right", "r"),
                     "count": ("count", "pairs", "total"), "i": ("i", "p", "x"), "j": ("j", "q", "y"),
                     "a": ("a", "u", "first"), "b": ("b", "w", "second")},
        ref=ref, cases=cases)


@_family("two_pointers.move_to_end", ("in_place_partition", "write-pointer", "stable"), """
    Moving every occurrence of one value to the end of a list, without changing the order of the others,
    is done in place with a read pointer and a write pointer: each element that should stay is copied to the
    write position, which then advances. Afterwards everything from the write pointer on is filled with the
    moved value. No second list is needed, and each element is visited once.""")
def _move_to_end(rng) -> Made:
    value = pick(rng, (-1, None, None))
    target_desc = "-1 entries" if value == -1 else "occurrences of `$target`"
    has_param = value is None

    if has_param:
        def ref(values, target):
            keep = [v for v in values if v != target]
            return keep + [target] * (len(values) - len(keep))
        tv = "$target"
    else:
        def ref(values):
            keep = [v for v in values if v != value]
            return keep + [value] * (len(values) - len(keep))
        tv = repr(value)
    bodies = (
        _code(f"""
            $write = 0
            for $read in range(len($values)):
                if $values[$read] != {tv}:
                    $values[$write] = $values[$read]
                    $write += 1
            for $k in range($write, len($values)):
                $values[$k] = {tv}
            return $values"""),
        _code(f"""
            $write = 0
            for $read, $v in enumerate($values):
                if $v != {tv}:
                    $values[$write], $values[$read] = $v, $values[$write]
                    $write += 1
            return $values"""),
        _code(f"""
            $values.sort(key=lambda $v: $v == {tv})
            return $values"""))
    params = [P("values", ("values", "nums", "items", "row"), "list[int]", "The list to rearrange in place.")]
    if has_param:
        params.append(P("target", ("target", "value", "marker", "blank"), "int", "The value to push to the end."))
    t = value if not has_param else rng.randint(0, 3)

    def row():
        return [t if rng.random() < 0.35 else rng.randint(-3, 9) for _ in range(rng.randint(3, 10))]

    extra = (t,) if has_param else ()
    cases = [(row(), *extra) for _ in range(4)] + [([], *extra), ([t], *extra), ([t, t, 5], *extra),
                                                   ([1, 2, 3], *extra)]
    return _build(
        rng, names=("move_to_end", "push_value_back", "shift_to_back",
                    "sink_values", "move_marked_last"),
        params=params,
        returns=("list[int]", "The same list object, rearranged."),
        summaries=(f"Move all {target_desc} in `$values` to the end, in place, keeping the order of the other "
                   "elements, and return the list.",
                   f"Rearrange $values in place so that the {target_desc} come last and the rest keep their "
                   "relative order.",
                   f"Push every one of the {target_desc} to the back of the list without using a second list."),
        notes=("The other elements keep their order.", "Modify the list itself and return it."),
        bodies=bodies, local_names={"write": ("write", "w", "slot"), "read": ("read", "r", "scan"),
                                    "k": ("k", "pos", "idx"), "v": ("v", "item", "x")},
        ref=ref, cases=cases)


@_family("two_pointers.dedupe_sorted", ("in_place_partition", "sorted-input", "write-pointer"), """
    In a sorted list equal values sit next to each other, so duplicates are removed in place by comparing
    each element with the last one kept. A write pointer marks the end of the kept prefix; an element is
    kept when it differs from the element `k` places back in that prefix, which allows each value up to
    `k` times. Slicing the list at the write pointer gives the result.""")
def _dedupe_sorted(rng) -> Made:
    k = pick(rng, (1, 1, 2, 3))

    def ref(values):
        out = []
        for v in values:
            if len(out) < k or out[-k] != v:
                out.append(v)
        return out

    bodies = (
        _code(f"""
            $write = 0
            for $v in $values:
                if $write < {k} or $values[$write - {k}] != $v:
                    $values[$write] = $v
                    $write += 1
            del $values[$write:]
            return $values"""),
        _code(f"""
            $out = []
            for $v in $values:
                if len($out) < {k} or $out[-{k}] != $v:
                    $out.append($v)
            return $out"""),
        Body(f"return [$v for _, $group in groupby($values) for $v in list($group)[:{k}]]",
             ("from itertools import groupby",)))
    cases = [(sorted(_ints(rng, rng.randint(3, 12), 0, 6)),) for _ in range(4)]
    cases += [([],), ([4],), ([2, 2, 2, 2],), ([1, 2, 3],)]
    times = {1: "once", 2: "at most twice", 3: "at most three times"}[k]
    return _build(
        rng, names=("dedupe_sorted", "remove_sorted_duplicates", "compact_sorted", "unique_in_place",
                    "trim_repeats"),
        params=[P("values", ("values", "nums", "sorted_values", "data"), "list[int]", "Integers in ascending order.")],
        returns=("list[int]", f"The values in order, each appearing {times}."),
        summaries=(f"Remove extra copies from the sorted list `$values` so each value appears {times}.",
                   f"Return $values with duplicates trimmed so that every value occurs {times}, keeping the order.",
                   f"Use a write pointer to compact a sorted list, keeping each value {times}."),
        notes=("The input is sorted, so equal values are adjacent.", "Try to do it with O(1) extra space."),
        bodies=bodies, local_names={"write": ("write", "w", "size"), "v": ("v", "value", "x"),
                                    "out": ("out", "kept", "result"), "group": ("group", "run", "same")},
        ref=ref, cases=cases)


@_family("two_pointers.three_way_sort", ("in_place_partition", "dutch-flag", "swaps"), """
    A list holding only three kinds of values can be sorted in one pass with three pointers (Dijkstra's
    Dutch national flag problem): everything before `low` is the first kind, everything after `high` the
    last kind, and `mid` scans the unknown part between them, swapping each element into its zone.
    Counting the three kinds and rewriting the list is the simple two-pass alternative.""")
def _three_way_sort(rng) -> Made:
    kinds = pick(rng, (("red", "white", "blue"), ("low", "medium", "high"), ("a", "b", "c"),
                       ("gold", "silver", "bronze"), ("small", "medium", "large")))
    first, middle, last = kinds
    typ = "list[str]"

    def ref(items):
        return sorted(items, key=kinds.index)

    bodies = (
        _code(f"""
            $low, $mid, $high = 0, 0, len($items) - 1
            while $mid <= $high:
                if $items[$mid] == {first!r}:
                    $items[$low], $items[$mid] = $items[$mid], $items[$low]
                    $low += 1
                    $mid += 1
                elif $items[$mid] == {middle!r}:
                    $mid += 1
                else:
                    $items[$mid], $items[$high] = $items[$high], $items[$mid]
                    $high -= 1
            return $items"""),
        _code(f"""
            $counts = {{$kind: 0 for $kind in {kinds!r}}}
            for $x in $items:
                $counts[$x] += 1
            $pos = 0
            for $kind in {kinds!r}:
                for _ in range($counts[$kind]):
                    $items[$pos] = $kind
                    $pos += 1
            return $items"""),
        _code(f"""
            $rank = {{{first!r}: 0, {middle!r}: 1, {last!r}: 2}}
            $items.sort(key=$rank.__getitem__)
            return $items"""))
    cases = [([pick(rng, kinds) for _ in range(rng.randint(3, 10))],) for _ in range(4)]
    cases += [([],), ([middle],), ([last, middle, first],), ([first, first],)]
    order = f"{first!r}, then {middle!r}, then {last!r}"
    return _build(
        rng, names=("three_way_sort", "dutch_flag_sort", "sort_three_kinds", "group_in_order", "flag_partition"),
        params=[P("items", ("items", "values", "colors", "tags", "labels"), typ,
                  f"Elements that are each {first!r}, {middle!r} or {last!r}.")],
        returns=(typ, f"The same list with all {first!r} first, then {middle!r}, then {last!r}."),
        summaries=(f"Rearrange `$items` in place so the elements come in the order {order}.",
                   f"Sort a list of three kinds of values ({order}) in a single pass and return it.",
                   f"Group the elements of $items by kind, {order}, without calling sorted()."),
        notes=("Only the three given values occur.", "Modify the list in place."),
        bodies=bodies,
        local_names={"low": ("low", "lo", "front"), "mid": ("mid", "scan", "cur"), "high": ("high", "hi", "back"),
                     "counts": ("counts", "tally", "how_many"), "kind": ("kind", "label", "k"),
                     "x": ("x", "item", "el"), "pos": ("pos", "write", "i"), "rank": ("rank", "order_of", "place")},
        ref=ref, cases=cases)


@_family("two_pointers.reverse_letters", ("in_place_partition", "strings", "converging-pointers"), """
    Reversing only some characters of a string (its letters, or its vowels) while the others stay where
    they are is a job for two pointers converging from both ends: each pointer skips characters that must
    not move, and when both rest on movable characters they swap and step inwards. Python strings are
    immutable, so the work happens on a list of characters that is joined at the end.""")
def _reverse_letters(rng) -> Made:
    which = pick(rng, ("letters", "digits"))
    if which == "letters":
        test, desc = "$chars[$i].isalpha()", "letters"

        def movable(c):
            return c.isalpha()
    else:
        test, desc = "$chars[$i].isdigit()", "digits"

        def movable(c):
            return c.isdigit()

    def ref(text):
        picked = [c for c in text if movable(c)]
        return "".join(picked.pop() if movable(c) else c for c in text)

    t_lo, t_hi = test.replace("$i", "$lo"), test.replace("$i", "$hi")
    bodies = (
        _code(f"""
            $chars = list($text)
            $lo, $hi = 0, len($chars) - 1
            while $lo < $hi:
                if not {t_lo}:
                    $lo += 1
                elif not {t_hi}:
                    $hi -= 1
                else:
                    $chars[$lo], $chars[$hi] = $chars[$hi], $chars[$lo]
                    $lo += 1
                    $hi -= 1
            return "".join($chars)"""),
        _code(f"""
            $chars = list($text)
            $picked = [$chars[$i] for $i in range(len($chars)) if {test}]
            for $i in range(len($chars)):
                if {test}:
                    $chars[$i] = $picked.pop()
            return "".join($chars)"""))
    samples = ["".join(pick(rng, "abcde-!1 XY2397") for _ in range(rng.randint(3, 12))) for _ in range(4)]
    cases = [(s,) for s in samples] + [("",), ("a",), ("a-b",), ("12!",), ("Room 101, floor 23",)]
    return _build(
        rng, names=(f"reverse_{desc}", f"reverse_only_{desc}", f"flip_{desc}", f"mirror_{desc}", f"swap_{desc}_around"),
        params=[P("text", ("text", "s", "word", "phrase"), "str", "The string to transform.")],
        returns=("str", f"The text with its {desc} in reverse order and every other character in place."),
        summaries=(f"Reverse the order of the {desc} in `$text`, leaving every other character where it is.",
                   f"Return $text with only its {desc} reversed, using two pointers that move towards each other.",
                   f"Swap {desc} from both ends of the string inwards; other characters keep their positions."),
        notes=("Upper- and lower-case letters both count." if which == "letters" else "Digits are 0 to 9.",
               "Strings are immutable: work on a list of characters."),
        bodies=bodies, local_names={"chars": ("chars", "characters", "buf"), "lo": ("lo", "left", "front"),
                                    "hi": ("hi", "right", "back"), "i": ("i", "k", "pos"),
                                    "picked": ("picked", "movable", "stack")},
        ref=ref, cases=cases)


@_family("two_pointers.best_window_sum", ("sliding_window", "fixed-size", "running-sum"), """
    A sliding window of fixed size k moves along a list one step at a time. Instead of summing the k
    elements again at every position, the running sum is updated: add the element that enters the window
    and subtract the one that leaves it. The whole scan then costs O(n) instead of O(n * k).""")
def _best_window_sum(rng) -> Made:
    best = pick(rng, ("max", "min"))
    short = pick(rng, (None, 0))  # what a list shorter than k gives

    def ref(values, k):
        if k <= 0 or len(values) < k:
            return short
        sums = [sum(values[i:i + k]) for i in range(len(values) - k + 1)]
        return max(sums) if best == "max" else min(sums)

    better = ">" if best == "max" else "<"
    bodies = (
        _code(f"""
            if $k <= 0 or len($values) < $k:
                return {short}
            $window = sum($values[:$k])
            $best = $window
            for $i in range($k, len($values)):
                $window += $values[$i] - $values[$i - $k]
                if $window {better} $best:
                    $best = $window
            return $best"""),
        _code(f"""
            if $k <= 0 or len($values) < $k:
                return {short}
            return {best}(sum($values[$i:$i + $k]) for $i in range(len($values) - $k + 1))"""),
        _code(f"""
            if $k <= 0 or len($values) < $k:
                return {short}
            $window = sum($values[:$k])
            $sums = [$window]
            for $left, $right in zip($values, $values[$k:]):
                $window += $right - $left
                $sums.append($window)
            return {best}($sums)"""))
    cases = [(_ints(rng, rng.randint(4, 12), -10, 30), rng.randint(1, 4)) for _ in range(4)]
    cases += [([], 2), ([5], 1), ([1, 2], 3), ([3, -1, 4], 3)]
    word = "largest" if best == "max" else "smallest"
    return _build(
        rng, names=(f"{best}_window_sum", f"{word}_run_total", "best_k_sum", f"{best}_sum_of_k",
                    f"{word}_consecutive_sum"),
        params=[P("values", ("values", "nums", "daily_sales", "readings"), "list[int]", "The numbers to scan."),
                P("k", ("k", "width", "size", "span"), "int", "How many consecutive elements a window holds.")],
        returns=("int" if short == 0 else "int | None",
                 f"The {word} sum of $k consecutive elements, or {short} when the list has fewer than $k "
                 "elements (or $k is not positive)."),
        summaries=(f"Return the {word} sum of `$k` consecutive elements of `$values`.",
                   f"Slide a window of `$k` consecutive elements over `$values` and report the {word} window "
                   "total.",
                   f"Find the {word} total over every run of k neighbouring numbers, in linear time."),
        notes=(f"Return {short} if no window fits.", "Update the window sum instead of recomputing it."),
        bodies=bodies, local_names={"window": ("window", "current", "running"), "best": ("best", "answer", "extreme"),
                                    "i": ("i", "end", "idx"), "sums": ("sums", "totals", "window_sums"),
                                    "left": ("left", "leaving", "old"), "right": ("right", "entering", "new")},
        ref=ref, cases=cases)


@_family("two_pointers.longest_k_distinct", ("sliding_window", "variable-size", "counter"), """
    A variable-size window grows at its right end and shrinks from its left end whenever it breaks a rule,
    such as "at most k different characters". A dict counts the characters inside the window; when the
    right end adds one distinct character too many, the left end advances and removes characters until the
    window is valid again. Every character enters and leaves once, so the scan is linear.""")
def _longest_k_distinct(rng) -> Made:
    k = pick(rng, (1, 2, 2, 3))

    def ref(text):
        best = 0
        for i in range(len(text)):
            for j in range(i, len(text) + 1):
                if len(set(text[i:j])) <= k:
                    best = max(best, j - i)
        return best

    bodies = (
        _code(f"""
            $counts = {{}}
            $left = 0
            $best = 0
            for $right, $ch in enumerate($text):
                $counts[$ch] = $counts.get($ch, 0) + 1
                while len($counts) > {k}:
                    $old = $text[$left]
                    $counts[$old] -= 1
                    if $counts[$old] == 0:
                        del $counts[$old]
                    $left += 1
                $best = max($best, $right - $left + 1)
            return $best"""),
        Body(_code(f"""
            $counts = Counter()
            $left = $best = 0
            for $right in range(len($text)):
                $counts[$text[$right]] += 1
                while len(+$counts) > {k}:
                    $counts[$text[$left]] -= 1
                    $left += 1
                $best = max($best, $right - $left + 1)
            return $best"""), ("from collections import Counter",)),
        _code(f"""
            $best = 0
            for $left in range(len($text)):
                $seen = set()
                for $right in range($left, len($text)):
                    $seen.add($text[$right])
                    if len($seen) > {k}:
                        break
                    $best = max($best, $right - $left + 1)
            return $best"""))
    samples = ["".join(pick(rng, "aabbcd") for _ in range(rng.randint(4, 14))) for _ in range(4)]
    cases = [(s,) for s in samples] + [("",), ("z",), ("aaaa",), ("abcabc",)]
    distinct = {1: "a single repeated character", 2: "at most two different characters",
                3: "at most three different characters"}[k]
    return _build(
        rng, names=("longest_k_distinct", "longest_limited_run", "max_window_few_letters", "longest_stretch",
                    "widest_window"),
        params=[P("text", ("text", "s", "letters", "stream"), "str", "The string to examine.")],
        returns=("int", f"The length of the longest substring with {distinct}; 0 for an empty string."),
        summaries=(f"Return the length of the longest substring of `$text` that contains {distinct}.",
                   f"Slide a window over $text to find the longest stretch made of {distinct}.",
                   f"How long is the longest contiguous part of the string with {distinct}?"),
        notes=("A substring is contiguous.", "Shrink the window from the left when it breaks the rule."),
        bodies=bodies,
        local_names={"counts": ("counts", "inside", "window"), "left": ("left", "start", "lo"),
                     "right": ("right", "end", "hi"), "best": ("best", "longest", "answer"),
                     "ch": ("ch", "c", "letter"),
                     "old": ("old", "gone", "dropped"), "seen": ("seen", "kinds", "letters_seen")},
        ref=ref, cases=cases)


@_family("two_pointers.shortest_window_sum", ("sliding_window", "variable-size", "positive-numbers"), """
    With positive numbers, extending a window can only raise its sum and shrinking it can only lower it.
    That makes the shortest run reaching a target sum a two-pointer problem: push the right end until the
    sum is large enough, then pull the left end in as long as the sum stays large enough, recording each
    valid length. Both ends only move forward, so the scan takes linear time.""")
def _shortest_window_sum(rng) -> Made:
    none_value = pick(rng, (0, -1))

    def ref(values, target):
        best = None
        for i in range(len(values)):
            s = 0
            for j in range(i, len(values)):
                s += values[j]
                if s >= target:
                    best = j - i + 1 if best is None else min(best, j - i + 1)
                    break
        return none_value if best is None else best

    bodies = (
        _code(f"""
            $best = len($values) + 1
            $window = 0
            $left = 0
            for $right, $v in enumerate($values):
                $window += $v
                while $window >= $target:
                    $best = min($best, $right - $left + 1)
                    $window -= $values[$left]
                    $left += 1
            return $best if $best <= len($values) else {none_value}"""),
        _code(f"""
            $best = None
            for $left in range(len($values)):
                $window = 0
                for $right in range($left, len($values)):
                    $window += $values[$right]
                    if $window >= $target:
                        if $best is None or $right - $left + 1 < $best:
                            $best = $right - $left + 1
                        break
            return {none_value} if $best is None else $best"""))
    cases = [(_ints(rng, rng.randint(3, 12), 1, 9), rng.randint(5, 40)) for _ in range(4)]
    cases += [([], 3), ([7], 7), ([1, 1, 1], 10), ([2, 9, 1], 9)]
    return _build(
        rng, names=("shortest_window_sum", "min_run_reaching", "shortest_subarray_at_least", "smallest_span_for",
                    "min_length_with_sum"),
        params=[P("values", ("values", "nums", "loads", "amounts"), "list[int]", "Positive integers."),
                P("target", ("target", "goal", "needed", "threshold"), "int", "The sum to reach (positive).")],
        returns=("int", f"The length of the shortest run of consecutive elements whose sum is at least the target; "
                        f"{none_value} if no run reaches it."),
        summaries=("Return the length of the shortest contiguous run of `$values` whose sum is at least `$target`.",
                   f"Find the fewest consecutive numbers of $values that add up to $target or more ({none_value} "
                   "when impossible).",
                   "Use a window that grows on the right and shrinks on the left to find the shortest run with a "
                   "large enough sum."),
        notes=(f"Return {none_value} when even the whole list falls short.", "All numbers are positive."),
        bodies=bodies, local_names={"best": ("best", "shortest", "answer"), "window": ("window", "running", "total"),
                                    "left": ("left", "start", "lo"), "right": ("right", "end", "hi"),
                                    "v": ("v", "value", "x")},
        ref=ref, cases=cases)


def _intervals(rng, n: int, lo: int = 0, hi: int = 40) -> list[list[int]]:
    out = []
    for _ in range(n):
        a = rng.randint(lo, hi)
        out.append([a, a + rng.randint(0, 8)])
    return out


@_family("two_pointers.merge_intervals", ("merging_intervals", "sorting-first", "sweep"), """
    Overlapping intervals merge in one sweep once they are sorted by start: keep the last merged interval,
    and for each next interval either extend it (the next one starts before the last one ends) or start a
    new one. Whether intervals that only touch, such as [1, 3] and [3, 5], count as overlapping is part of
    the specification and changes one comparison.""")
def _merge_intervals(rng) -> Made:
    touching = pick(rng, (True, False))
    op = "<=" if touching else "<"
    as_tuples = pick(rng, (False, True))

    def ref(intervals):
        out = []
        for a, b in sorted(intervals):
            if out and (a <= out[-1][1] if touching else a < out[-1][1]):
                out[-1][1] = max(out[-1][1], b)
            else:
                out.append([a, b])
        return [tuple(x) for x in out] if as_tuples else out

    if as_tuples:
        typ = "list[tuple[int, int]]"
        bodies = (
            _code(f"""
                $merged = []
                for $start, $end in sorted($intervals):
                    if $merged and $start {op} $merged[-1][1]:
                        $merged[-1] = ($merged[-1][0], max($merged[-1][1], $end))
                    else:
                        $merged.append(($start, $end))
                return $merged"""),
            _code(f"""
                $merged = []
                $ordered = sorted($intervals)
                $k = 0
                while $k < len($ordered):
                    $start, $end = $ordered[$k]
                    while $k + 1 < len($ordered) and $ordered[$k + 1][0] {op} $end:
                        $k += 1
                        $end = max($end, $ordered[$k][1])
                    $merged.append(($start, $end))
                    $k += 1
                return $merged"""))
    else:
        typ = "list[list[int]]"
        bodies = (
            _code(f"""
                $merged = []
                for $start, $end in sorted($intervals):
                    if $merged and $start {op} $merged[-1][1]:
                        $merged[-1][1] = max($merged[-1][1], $end)
                    else:
                        $merged.append([$start, $end])
                return $merged"""),
            _code(f"""
                if not $intervals:
                    return []
                $ordered = sorted($intervals)
                $merged = [list($ordered[0])]
                for $start, $end in $ordered[1:]:
                    $last = $merged[-1]
                    if $start {op} $last[1]:
                        $last[1] = max($last[1], $end)
                    else:
                        $merged.append([$start, $end])
                return $merged"""))
    conv = (lambda ivs: [tuple(x) for x in ivs]) if as_tuples else (lambda ivs: ivs)
    cases = [(conv(_intervals(rng, rng.randint(2, 7))),) for _ in range(4)]
    cases += [(conv([]),), (conv([[4, 9]]),), (conv([[1, 3], [3, 5]]),), (conv([[5, 6], [1, 10]]),)]
    touch = ("Intervals that only touch, like [1, 3] and [3, 5], are merged too." if touching
             else "Intervals that only touch, like [1, 3] and [3, 5], stay separate.")
    return _build(
        rng, names=("merge_intervals", "merge_ranges", "combine_overlaps", "union_of_intervals", "coalesce_intervals"),
        params=[P("intervals", ("intervals", "ranges", "spans", "bookings"), typ,
                  "[start, end] pairs with start <= end, in any order.")],
        returns=(typ, "The merged intervals, sorted by start, none overlapping."),
        summaries=("Merge all overlapping intervals in `$intervals` and return them sorted by start.",
                   "Combine the overlapping ranges of $intervals into disjoint ranges, in increasing order.",
                   "Sort the intervals by start and sweep once, merging each one that overlaps the previous."),
        notes=(touch,), bodies=bodies,
        local_names={"merged": ("merged", "out", "result"), "start": ("start", "lo", "begin"),
                     "end": ("end", "hi", "finish"), "ordered": ("ordered", "by_start", "srt"),
                     "k": ("k", "i", "idx"), "last": ("last", "current", "prev")},
        ref=ref, cases=cases)


@_family("two_pointers.covered_length", ("merging_intervals", "sweep", "union-length"), """
    The total length covered by a set of intervals counts every point once, even where intervals overlap.
    Sorting by start and sweeping with the end of the current covered block answers it: an interval that
    starts after the block ends begins a new block, one that reaches further extends it, and the lengths of
    the blocks add up to the answer.""")
def _covered_length(rng) -> Made:
    def ref(intervals):
        total, cur_s, cur_e = 0, None, None
        for a, b in sorted(intervals):
            if cur_e is None or a > cur_e:
                if cur_e is not None:
                    total += cur_e - cur_s
                cur_s, cur_e = a, b
            else:
                cur_e = max(cur_e, b)
        return total + (cur_e - cur_s if cur_e is not None else 0)

    bodies = (
        _code("""
            $total = 0
            $reach = None
            for $start, $end in sorted($intervals):
                if $reach is None or $start > $reach:
                    $total += $end - $start
                    $reach = $end
                elif $end > $reach:
                    $total += $end - $reach
                    $reach = $end
            return $total"""),
        _code("""
            $blocks = []
            for $start, $end in sorted($intervals):
                if $blocks and $start <= $blocks[-1][1]:
                    $blocks[-1][1] = max($blocks[-1][1], $end)
                else:
                    $blocks.append([$start, $end])
            return sum($end - $start for $start, $end in $blocks)"""),
        _code("""
            $points = set()
            for $start, $end in $intervals:
                $points.update(range($start, $end))
            return len($points)"""))
    cases = [(_intervals(rng, rng.randint(2, 7)),) for _ in range(4)]
    cases += [([],), ([[3, 3]],), ([[0, 5], [2, 4]],), ([[1, 2], [5, 9]],)]
    what = pick(rng, ("time", "road", "timeline", "line"))
    return _build(
        rng, names=("covered_length", "total_coverage", "union_length", "span_covered", "busy_time"),
        params=[P("intervals", ("intervals", "shifts", "segments", "bookings"), "list[list[int]]",
                  "[start, end] pairs of integers with start <= end.")],
        returns=("int", f"The total length of the {what} covered by at least one interval."),
        summaries=(f"Return how much of the {what} is covered by the intervals in `$intervals`, counting overlaps "
                   "once.",
                   f"Compute the length of the union of the half-open intervals $intervals on a {what}.",
                   "Measure the total covered length of possibly overlapping intervals."),
        notes=("An interval [a, b] has length b - a.", "Overlapping parts are counted once."),
        bodies=bodies, local_names={"total": ("total", "covered", "length"), "reach": ("reach", "edge", "frontier"),
                                    "start": ("start", "a", "lo"), "end": ("end", "b", "hi"),
                                    "blocks": ("blocks", "merged", "runs"), "points": ("points", "units", "cells")},
        ref=ref, cases=cases)


@_family("two_pointers.max_overlap", ("merging_intervals", "events", "sweep-line"), """
    How many intervals are open at the same time at most, for example how many rooms a set of meetings
    needs, is answered by a sweep over events: each start adds one and each end removes one. Sorting the
    starts and the ends separately and walking both lists with two pointers visits the events in time
    order; when a meeting ends exactly when another starts, processing the end first lets them share.""")
def _max_overlap(rng) -> Made:
    def ref(meetings):
        events = sorted([(s, 1) for s, _ in meetings] + [(e, -1) for _, e in meetings], key=lambda p: (p[0], p[1]))
        best = cur = 0
        for _, d in events:
            cur += d
            best = max(best, cur)
        return best

    bodies = (
        _code("""
            $starts = sorted($s for $s, _ in $meetings)
            $ends = sorted($e for _, $e in $meetings)
            $busy = $best = 0
            $j = 0
            for $s in $starts:
                while $j < len($ends) and $ends[$j] <= $s:
                    $busy -= 1
                    $j += 1
                $busy += 1
                $best = max($best, $busy)
            return $best"""),
        _code("""
            $events = []
            for $s, $e in $meetings:
                $events.append(($s, 1))
                $events.append(($e, -1))
            $events.sort()
            $busy = $best = 0
            for _, $change in $events:
                $busy += $change
                $best = max($best, $busy)
            return $best"""),
        Body(_code("""
            $rooms = []
            for $s, $e in sorted($meetings):
                if $rooms and $rooms[0] <= $s:
                    heapq.heapreplace($rooms, $e)
                else:
                    heapq.heappush($rooms, $e)
            return len($rooms)"""), ("import heapq",)))
    cases = [([tuple(iv) if iv[0] < iv[1] else (iv[0], iv[1] + 1) for iv in _intervals(rng, rng.randint(2, 7), 8, 18)],)
             for _ in range(4)]
    cases += [([],), ([(9, 10)],), ([(9, 10), (10, 11)],), ([(1, 5), (2, 6), (3, 7)],)]
    return _build(
        rng, names=("rooms_needed", "max_overlap", "peak_concurrency", "most_simultaneous", "min_meeting_rooms"),
        params=[P("meetings", ("meetings", "bookings", "sessions", "slots"), "list[tuple[int, int]]",
                  "(start, end) times with start < end; a meeting holds its room until its end time.")],
        returns=("int", "The largest number of meetings going on at the same moment; 0 for none."),
        summaries=("Return the minimum number of rooms needed to hold all `$meetings` without conflicts.",
                   "Find the greatest number of intervals in $meetings that overlap at one time.",
                   "Sweep over start and end events to find the peak number of simultaneous meetings."),
        notes=("A meeting that ends at 10 and one that starts at 10 can share a room.",),
        bodies=bodies,
        local_names={"starts": ("starts", "opens", "begin_times"), "ends": ("ends", "closes", "end_times"),
                     "busy": ("busy", "in_use", "current"), "best": ("best", "peak", "most"), "j": ("j", "k", "e_idx"),
                     "s": ("s", "start", "t0"), "e": ("e", "end", "t1"), "events": ("events", "timeline", "changes"),
                     "change": ("change", "delta", "step"), "rooms": ("rooms", "free_at", "end_heap")},
        ref=ref, cases=cases)


# ----------------------------------------------------------------------------------------- stacks_queues


@_family("stacks_queues.apply_backspaces", ("stacks", "text-editing", "reverse-scan"), """
    Typing with a backspace key is a stack: each ordinary character is pushed, and each backspace pops the
    last character if there is one. Joining the stack gives the final text. Scanning the input from the
    right with a counter of pending backspaces produces the same text without building a stack of
    everything.""")
def _apply_backspaces(rng) -> Made:
    bs = pick(rng, ("#", "<", "*", "~"))

    def ref(keys):
        out = []
        for c in keys:
            if c == bs:
                if out:
                    out.pop()
            else:
                out.append(c)
        return "".join(out)

    bodies = (
        _code("""
            $stack = []
            for $ch in $keys:
                if $ch == $bs:
                    if $stack:
                        $stack.pop()
                else:
                    $stack.append($ch)
            return "".join($stack)"""),
        _code("""
            $kept = []
            $skip = 0
            for $ch in reversed($keys):
                if $ch == $bs:
                    $skip += 1
                elif $skip:
                    $skip -= 1
                else:
                    $kept.append($ch)
            return "".join(reversed($kept))"""),
        _code("""
            $stack = ""
            for $ch in $keys:
                $stack = $stack[:-1] if $ch == $bs else $stack + $ch
            return $stack"""))
    samples = ["".join(pick(rng, "abcdxy" + bs * 3) for _ in range(rng.randint(3, 12))) for _ in range(4)]
    cases = [(s,) for s in samples] + [("",), (bs * 3,), ("ab" + bs + "c",), ("abc",)]
    return _build(
        rng, names=("apply_backspaces", "typed_text", "process_keystrokes", "final_text", "resolve_backspaces"),
        params=[P("keys", ("keys", "typed", "keystrokes", "text"), "str",
                  f"The characters typed, where {bs!r} is a backspace.")],
        returns=("str", "The text left on the screen."),
        summaries=(f"Return the text that remains after typing `$keys`, where each {bs!r} deletes the character "
                   "before it.",
                   f"Simulate an editor: characters of $keys are typed in order and {bs!r} erases the last "
                   "remaining character.",
                   f"Process keystrokes with {bs!r} as backspace and return the resulting string."),
        notes=("A backspace on an empty line does nothing.", "Use a stack of characters."),
        bodies=bodies, consts={"bs": repr(bs)},
        local_names={"stack": ("stack", "screen", "line"), "ch": ("ch", "key", "c"), "kept": ("kept", "out", "chars"),
                     "skip": ("skip", "pending", "to_delete")},
        ref=ref, cases=cases)


@_family("stacks_queues.crush_runs", ("stacks", "run-length", "chain-reaction"), """
    Removing every group of k equal neighbouring characters, again and again until none is left, looks like
    it needs many passes, because a removal can bring two new equal characters together. A stack of
    (character, run length) pairs does it in one pass: a character equal to the top extends its run, and a
    run that reaches k is popped, which exposes the run before it to the next character.""")
def _crush_runs(rng) -> Made:
    k = pick(rng, (2, 2, 3))

    def ref(text):
        stack = []
        for c in text:
            if stack and stack[-1][0] == c:
                stack[-1][1] += 1
                if stack[-1][1] == k:
                    stack.pop()
            else:
                stack.append([c, 1])
        return "".join(c * n for c, n in stack)

    bodies = (
        _code(f"""
            $stack = []
            for $ch in $text:
                if $stack and $stack[-1][0] == $ch:
                    $stack[-1][1] += 1
                    if $stack[-1][1] == {k}:
                        $stack.pop()
                else:
                    $stack.append([$ch, 1])
            return "".join($ch * $n for $ch, $n in $stack)"""),
        _code(f"""
            $stack = []
            for $ch in $text:
                $stack.append($ch)
                if len($stack) >= {k} and all($c2 == $ch for $c2 in $stack[-{k}:]):
                    del $stack[-{k}:]
            return "".join($stack)"""))
    samples = ["".join(pick(rng, "aabbc") for _ in range(rng.randint(4, 14))) for _ in range(4)]
    cases = [(s,) for s in samples] + [("",), ("a",), ("abc",), ("a" + "b" * k + "a" * (k - 1),)]
    times = {2: "two", 3: "three"}[k]
    return _build(
        rng, names=("crush_runs", "remove_adjacent_groups", "collapse_pairs" if k == 2 else "collapse_triples",
                    "cancel_neighbours", "reduce_string"),
        params=[P("text", ("text", "s", "beads", "sequence"), "str", "The string to reduce.")],
        returns=("str", f"What is left when no {times} equal characters stand next to each other."),
        summaries=(f"Repeatedly delete groups of {times} equal adjacent characters from `$text` and return what "
                   "remains.",
                   f"Remove every run of {times} identical neighbouring characters from $text, including runs "
                   "formed by earlier removals.",
                   f"Use a stack to cancel groups of {times} equal adjacent letters until none remain."),
        notes=("Removing a group can join two runs into a new group.", "Process the string in a single pass."),
        bodies=bodies, local_names={"stack": ("stack", "kept", "runs"), "ch": ("ch", "c", "letter"),
                                    "n": ("n", "count", "times"), "c2": ("c2", "other", "prev")},
        ref=ref, cases=cases)


@_family("stacks_queues.simplify_path", ("stacks", "paths", "split"), """
    A file path such as /home/user/../docs/./notes is simplified with a stack of directory names: split the
    path on '/', push each real name, ignore empty parts and '.', and pop one name for '..' (at the root,
    '..' stays at the root). Joining the stack with '/' after a leading '/' gives the canonical path.""")
def _simplify_path(rng) -> Made:
    def ref(path):
        stack = []
        for part in path.split("/"):
            if part == "..":
                if stack:
                    stack.pop()
            elif part and part != ".":
                stack.append(part)
        return "/" + "/".join(stack)

    bodies = (
        _code("""
            $stack = []
            for $part in $path.split("/"):
                if $part == "..":
                    if $stack:
                        $stack.pop()
                elif $part and $part != ".":
                    $stack.append($part)
            return "/" + "/".join($stack)"""),
        _code("""
            $stack = []
            for $part in $path.split("/"):
                match $part:
                    case "" | ".":
                        continue
                    case "..":
                        $stack = $stack[:-1]
                    case _:
                        $stack.append($part)
            return "/" + "/".join($stack)"""),
        _code("""
            $stack = []
            for $part in filter(None, $path.split("/")):
                if $part == "..":
                    del $stack[-1:]
                elif $part != ".":
                    $stack.append($part)
            return "/" + "/".join($stack)"""))
    dirs = ("home", "usr", "docs", "src", "tmp", "data", "lib", "bin", "notes")

    def rnd():
        return "/" + "/".join(pick(rng, dirs + ("..", ".", "", "..")) for _ in range(rng.randint(2, 7)))

    cases = [(rnd(),) for _ in range(4)] + [("/",), ("/../..",), ("/a//b/./c/",), ("/a/b/../../c",)]
    return _build(
        rng, names=("simplify_path", "canonical_path", "normalize_path", "clean_path", "resolve_path"),
        params=[P("path", ("path", "raw_path", "location", "file_path"), "str", "An absolute Unix-style path.")],
        returns=("str", "The simplified absolute path, with no '.', '..', empty or trailing parts."),
        summaries=("Return the canonical form of the absolute path `$path`: resolve '.' and '..' and drop "
                   "repeated slashes.",
                   "Simplify the Unix path $path using a stack of directory names.",
                   "Normalise an absolute path so that it has a single leading slash and no '.', '..' or empty "
                   "components."),
        notes=("'..' at the root stays at the root.", "The result has no trailing slash except for the root '/'."),
        bodies=bodies, local_names={"stack": ("stack", "parts_kept", "dirs"), "part": ("part", "name", "piece")},
        ref=ref, cases=cases)


@_family("stacks_queues.round_robin", ("queues_and_deques", "scheduling", "deque"), """
    A round-robin scheduler keeps the waiting jobs in a queue. The job at the front runs for at most one
    time slice (the quantum); if it is not finished, it goes to the back of the queue with its remaining
    time. `collections.deque` makes both ends cheap: `popleft()` takes the next job and `append()` puts an
    unfinished one back.""")
def _round_robin(rng) -> Made:
    result = pick(rng, ("order", "times"))

    def ref(jobs, quantum):
        queue = deque([name, t] for name, t in jobs)
        clock, order, times = 0, [], {}
        while queue:
            name, left = queue.popleft()
            run = min(quantum, left)
            clock += run
            if left - run > 0:
                queue.append([name, left - run])
            else:
                order.append(name)
                times[name] = clock
        return order if result == "order" else times

    record = "$done.append($name)" if result == "order" else "$done[$name] = $clock"
    init = "[]" if result == "order" else "{}"
    bodies = (
        Body(_code(f"""
            $queue = deque($jobs)
            $clock = 0
            $done = {init}
            while $queue:
                $name, $left = $queue.popleft()
                $run = min($quantum, $left)
                $clock += $run
                if $left > $run:
                    $queue.append(($name, $left - $run))
                else:
                    {record}
            return $done"""), ("from collections import deque",)),
        _code(f"""
            $queue = [list($job) for $job in $jobs]
            $clock = 0
            $done = {init}
            while $queue:
                $job = $queue.pop(0)
                $name = $job[0]
                $run = min($quantum, $job[1])
                $clock += $run
                $job[1] -= $run
                if $job[1] > 0:
                    $queue.append($job)
                else:
                    {record}
            return $done"""))
    names = ("build", "test", "lint", "deploy", "backup", "report", "email", "index")

    def jobs():
        return [(n, rng.randint(1, 9)) for n in rng.sample(names, rng.randint(2, 5))]

    cases = [(jobs(), rng.randint(1, 4)) for _ in range(4)] + [([], 2), ([("solo", 5)], 2), ([("a", 1), ("b", 1)], 3)]
    what = ("the job names in the order they finish" if result == "order"
            else "a dict mapping each job name to the time at which it finishes")
    return _build(
        rng, names=("round_robin", "schedule_jobs", "run_time_slices", "simulate_scheduler", "rotate_tasks"),
        params=[P("jobs", ("jobs", "tasks", "processes", "workload"), "list[tuple[str, int]]",
                  "(name, time needed) pairs in arrival order; all arrive at time 0."),
                P("quantum", ("quantum", "max_run", "time_slice", "step"), "int",
                  "The longest time a job runs per turn.")],
        returns=("list[str]" if result == "order" else "dict[str, int]", what[0].upper() + what[1:] + "."),
        summaries=(f"Simulate round-robin scheduling of `$jobs` with a time slice of `$quantum` and return {what}.",
                   f"Run the jobs in turn, each for at most $quantum time units per turn, and return {what}.",
                   f"Use a queue to schedule jobs round-robin; report {what}."),
        notes=("A job that needs less than a full slice finishes early and the next job starts at once.",
               "Time starts at 0."),
        bodies=bodies, local_names={"queue": ("queue", "waiting", "ready"), "clock": ("clock", "now", "elapsed"),
                                    "done": ("done", "finished", "result"), "name": ("name", "label", "job_name"),
                                    "left": ("left", "remaining", "needed"), "run": ("run", "used", "burst"),
                                    "job": ("job", "entry", "item")},
        ref=ref, cases=cases)


@_family("stacks_queues.elimination_order", ("queues_and_deques", "josephus", "rotation"), """
    In the counting-out game, people stand in a circle and every k-th person leaves until nobody is left.
    A deque models the circle: rotating it by k - 1 brings the next person to leave to the front, where
    `popleft()` removes them. The same can be done on a list by advancing an index by k - 1 modulo the
    current size.""")
def _elimination_order(rng) -> Made:
    survivor = pick(rng, (False, True))

    def ref(n, k):
        people, idx, order = list(range(1, n + 1)), 0, []
        while people:
            idx = (idx + k - 1) % len(people)
            order.append(people.pop(idx))
        return (order[-1] if order else 0) if survivor else order

    out = "$order[-1] if $order else 0" if survivor else "$order"
    bodies = (
        Body(_code(f"""
            $circle = deque(range(1, $n + 1))
            $order = []
            while $circle:
                $circle.rotate(-($k - 1))
                $order.append($circle.popleft())
            return {out}"""), ("from collections import deque",)),
        _code(f"""
            $circle = list(range(1, $n + 1))
            $order = []
            $idx = 0
            while $circle:
                $idx = ($idx + $k - 1) % len($circle)
                $order.append($circle.pop($idx))
            return {out}"""))
    cases = [(rng.randint(2, 12), rng.randint(1, 5)) for _ in range(4)] + [(0, 3), (1, 4), (5, 1), (7, 3)]
    what = ("the number of the last person left (0 when there is nobody)" if survivor
            else "the numbers of the people in the order they leave")
    return _build(
        rng, names=("survivor" if survivor else "elimination_order", "counting_out", "josephus", "circle_game",
                    "last_standing" if survivor else "leaving_order"),
        params=[P("n", ("n", "people", "players", "size"), "int",
                  "How many people stand in the circle, numbered 1..$n."),
                P("k", ("k", "step", "count", "skip"), "int", "Every $k-th person leaves ($k >= 1).")],
        returns=("int" if survivor else "list[int]", what[0].upper() + what[1:] + "."),
        summaries=(f"People 1 to `$n` stand in a circle and, counting from person 1, every `$k`-th one leaves; "
                   f"return {what}.",
                   f"Play the counting-out game with $n people and step $k and return {what}.",
                   f"Simulate the Josephus elimination with a deque and return {what}."),
        notes=("Counting continues with the person after the one who left.", "With k = 1 people leave in order."),
        bodies=bodies, local_names={"circle": ("circle", "ring", "players_left"), "order": ("order", "out", "gone"),
                                    "idx": ("idx", "pos", "at")},
        ref=ref, cases=cases)


@_family("stacks_queues.first_unique_stream", ("queues_and_deques", "streams", "counting"), """
    For a stream of characters, the first character seen exactly once so far changes as the stream goes on.
    A queue holds the candidates in arrival order and a dict counts each character; after each new
    character, candidates at the front that have been seen twice are dropped. Every character enters and
    leaves the queue once, so the whole stream is processed in linear time.""")
def _first_unique_stream(rng) -> Made:
    none = pick(rng, ("#", "-", "_", "?"))

    def ref(stream):
        out, counts = [], Counter()
        for i, c in enumerate(stream):
            counts[c] += 1
            first = next((x for x in stream[:i + 1] if counts[x] == 1), none)
            out.append(first)
        return "".join(out)

    bodies = (
        Body(_code("""
            $counts = {}
            $queue = deque()
            $out = []
            for $ch in $stream:
                $counts[$ch] = $counts.get($ch, 0) + 1
                $queue.append($ch)
                while $queue and $counts[$queue[0]] > 1:
                    $queue.popleft()
                $out.append($queue[0] if $queue else $none)
            return "".join($out)"""), ("from collections import deque",)),
        _code("""
            $out = ""
            for $i in range(len($stream)):
                $seen = $stream[:$i + 1]
                $firsts = [$ch for $ch in $seen if $seen.count($ch) == 1]
                $out += $firsts[0] if $firsts else $none
            return $out"""))
    samples = ["".join(pick(rng, "aabbcd") for _ in range(rng.randint(3, 10))) for _ in range(4)]
    cases = [(s,) for s in samples] + [("",), ("x",), ("aabb",), ("abcabc",)]
    return _build(
        rng, names=("first_unique_stream", "running_first_unique", "first_non_repeating_so_far", "stream_leaders",
                    "unique_front"),
        params=[P("stream", ("stream", "chars", "text", "incoming"), "str", "The characters in arrival order.")],
        returns=("str", f"One character per input character: the first non-repeating one so far, or {none!r}."),
        summaries=("For every prefix of `$stream`, find the first character that has appeared exactly once so "
                   f"far, writing {none!r} when there is none; return these characters as a string.",
                   f"Process $stream one character at a time and record the current first unique character "
                   f"({none!r} if every character so far repeats).",
                   "Use a queue and counts to track the first non-repeating character of a stream "
                   f"({none!r} for none)."),
        notes=("The result has the same length as the input.", "Characters are compared exactly."),
        bodies=bodies, consts={"none": repr(none)},
        local_names={"counts": ("counts", "seen_count", "freq"), "queue": ("queue", "candidates", "order"),
                     "out": ("out", "result", "answers"), "ch": ("ch", "c", "letter"), "i": ("i", "end", "k"),
                     "seen": ("seen", "prefix", "so_far"), "firsts": ("firsts", "uniques", "singles")},
        ref=ref, cases=cases)


_BRACKET_SETS = ("()[]", "()<>", "(){}", "[]{}", "()[]<>")


@_family("stacks_queues.brackets_balanced", ("bracket_matching", "stack", "dict-of-pairs"), """
    Brackets are balanced when every closing bracket matches the most recent unmatched opening one, which
    is exactly what a stack tracks: push each opening bracket, and on a closing bracket check that the top
    of the stack is its partner and pop it. At the end the stack must be empty. With a single kind of
    bracket a counter of open brackets is enough.""")
def _brackets_balanced(rng) -> Made:
    kinds = pick(rng, _BRACKET_SETS)
    opens, closes = kinds[0::2], kinds[1::2]
    pairs = {c: o for o, c in zip(opens, closes)}

    def ref(text):
        stack = []
        for ch in text:
            if ch in opens:
                stack.append(ch)
            elif ch in pairs:
                if not stack or stack.pop() != pairs[ch]:
                    return False
        return not stack

    bodies = (
        _code(f"""
            $partner = {pairs!r}
            $stack = []
            for $ch in $text:
                if $ch in {opens!r}:
                    $stack.append($ch)
                elif $ch in $partner:
                    if not $stack or $stack.pop() != $partner[$ch]:
                        return False
            return not $stack"""),
        _code(f"""
            $stack = []
            for $ch in $text:
                if $ch in {opens!r}:
                    $stack.append({closes!r}[{opens!r}.index($ch)])
                elif $ch in {closes!r}:
                    if not $stack or $stack[-1] != $ch:
                        return False
                    $stack.pop()
            return len($stack) == 0"""))
    def rnd(good: bool) -> str:
        s = ""
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(opens))
            s = pick(rng, (s + opens[i] + closes[i], opens[i] + s + closes[i], s + "x" + opens[i] + closes[i]))
        if not good:
            pos = rng.randrange(len(s) + 1)
            s = s[:pos] + pick(rng, kinds) + s[pos:]
        return s

    cases = [(rnd(rng.random() < 0.5),) for _ in range(5)]
    cases += [("",), ("a + b",), (closes[0] + opens[0],), (opens[-1] + closes[0],),
              (opens[0] + opens[-1] + closes[-1] + closes[0],)]
    kinds_text = ", ".join(o + c for o, c in zip(opens, closes))
    return _build(
        rng, names=("brackets_balanced", "is_balanced", "check_brackets", "balanced_delimiters", "well_nested"),
        params=[P("text", ("text", "expr", "code", "s"), "str",
                  f"A string that may contain the brackets {kinds_text}.")],
        returns=("bool", "True if every bracket is closed by the matching bracket in the right order."),
        summaries=(f"Return True if the brackets {kinds_text} in `$text` are balanced and properly nested.",
                   f"Check that every opening bracket in $text ({kinds_text}) is closed by its partner in the "
                   "right order; other characters are ignored.",
                   f"Decide with a stack whether a string's {kinds_text} brackets match up."),
        notes=("Characters other than brackets are ignored.", "An empty string is balanced."),
        bodies=bodies, local_names={"partner": ("partner", "opener_of", "matching"),
                                    "stack": ("stack", "opened", "pending"),
                                    "ch": ("ch", "c", "char"), "depth": ("depth", "open_count", "level")},
        ref=ref, cases=cases)


@_family("stacks_queues.brackets_to_fix", ("bracket_matching", "counting", "greedy"), """
    To make a string of parentheses balanced with the fewest insertions, scan it once with a counter of
    currently open parentheses. A closing parenthesis with nothing open needs a new opening one inserted
    before it; whatever is still open at the end needs that many closing ones. The two counts added up are
    the minimum, and the same pass can report the deepest nesting along the way.""")
def _brackets_to_fix(rng) -> Made:
    task = pick(rng, ("insertions", "depth"))
    o, c = pick(rng, ("()", "[]", "{}", "<>"))

    def ref(text):
        open_, need, deepest = 0, 0, 0
        for ch in text:
            if ch == o:
                open_ += 1
                deepest = max(deepest, open_)
            elif ch == c:
                if open_:
                    open_ -= 1
                else:
                    need += 1
        if task == "insertions":
            return need + open_
        return deepest if need == 0 and open_ == 0 else -1

    if task == "insertions":
        bodies = (
            _code("""
                $open_count = 0
                $added = 0
                for $ch in $text:
                    if $ch == $o:
                        $open_count += 1
                    elif $ch == $c:
                        if $open_count > 0:
                            $open_count -= 1
                        else:
                            $added += 1
                return $added + $open_count"""),
            _code("""
                $stack = []
                $added = 0
                for $ch in $text:
                    if $ch == $o:
                        $stack.append($ch)
                    elif $ch == $c:
                        if $stack:
                            $stack.pop()
                        else:
                            $added += 1
                return $added + len($stack)"""))
        names = ("min_insertions", "brackets_to_add", "fixes_needed", "repair_count", "missing_brackets")
        summaries = (f"Return the fewest {o!r} or {c!r} characters that must be inserted into `$text` to make "
                     "it balanced.",
                     f"Count how many brackets are missing from $text: unmatched {c!r} need an {o!r} and unclosed "
                     f"{o!r} need a {c!r}.",
                     "Compute the minimum number of insertions that balance a bracket string.")
        ret = ("int", "The minimum number of insertions; 0 if the text is already balanced.")
    else:
        bodies = (
            _code("""
                $open_count = 0
                $deepest = 0
                for $ch in $text:
                    if $ch == $o:
                        $open_count += 1
                        $deepest = max($deepest, $open_count)
                    elif $ch == $c:
                        $open_count -= 1
                        if $open_count < 0:
                            return -1
                return $deepest if $open_count == 0 else -1"""),
            _code("""
                $stack = []
                $deepest = 0
                for $ch in $text:
                    if $ch == $o:
                        $stack.append($ch)
                        if len($stack) > $deepest:
                            $deepest = len($stack)
                    elif $ch == $c:
                        if not $stack:
                            return -1
                        $stack.pop()
                return -1 if $stack else $deepest"""))
        names = ("max_nesting", "nesting_depth_of", "deepest_bracket_level", "bracket_depth", "max_open_brackets")
        summaries = (f"Return the maximum nesting depth of the {o + c!r} brackets in `$text`, or -1 if they are "
                     "not balanced.",
                     f"Find how deeply the {o}{c} pairs of $text nest; unbalanced text gives -1.",
                     "Compute the deepest level of nested brackets in a string, with -1 for unbalanced input.")
        ret = ("int", "The largest number of brackets open at once, 0 without brackets, -1 if unbalanced.")
    def sample(broken: bool) -> str:
        text = ""
        for _ in range(rng.randint(1, 4)):
            text = pick(rng, (text + o + c, o + text + c, text + "x" + o + c, o + text + c + "y"))
        if broken:
            pos = rng.randrange(len(text) + 1)
            text = text[:pos] + pick(rng, (o, c)) + text[pos:]
        return text

    samples = [sample(broken=rng.random() < 0.4) for _ in range(4)]
    cases = [(s,) for s in samples] + [("",), (o + c,), (c + o,), (o * 3 + c * 3,), (o + o + c,)]
    return _build(
        rng, names=names,
        params=[P("text", ("text", "s", "expr", "brackets"), "str", f"A string of {o!r}, {c!r} and other characters.")],
        returns=ret, summaries=summaries,
        notes=("Other characters are ignored.", "Scan the string once, left to right."),
        bodies=bodies, consts={"o": repr(o), "c": repr(c)},
        local_names={"open_count": ("open_count", "opened", "balance"), "added": ("added", "insertions", "fixes"),
                     "ch": ("ch", "char", "symbol"), "stack": ("stack", "unclosed", "pending"),
                     "deepest": ("deepest", "max_depth", "peak")},
        ref=ref, cases=cases)


def _expr_tree(rng, depth: int, ops: str):
    """A random expression as nested (op, left, right) tuples over small ints."""
    if depth == 0 or rng.random() < 0.3:
        return rng.randint(0, 12)
    return (pick(rng, ops), _expr_tree(rng, depth - 1, ops), _expr_tree(rng, depth - 1, ops))


def _expr_value(tree):
    if isinstance(tree, int):
        return tree
    op, a, b = tree
    x, y = _expr_value(a), _expr_value(b)
    if op == "/":
        if y == 0:
            raise ZeroDivisionError
        return int(x / y)  # truncation toward zero
    return {"+": x + y, "-": x - y, "*": x * y}[op]


def _postfix(tree) -> list[str]:
    if isinstance(tree, int):
        return [str(tree)]
    op, a, b = tree
    return _postfix(a) + _postfix(b) + [op]


@_family("stacks_queues.eval_postfix", ("expression_evaluation", "rpn", "stack"), """
    In postfix (reverse Polish) notation the operator follows its operands: "3 4 + 2 *" means (3 + 4) * 2.
    No parentheses or precedence rules are needed, because a stack evaluates it directly: push each number,
    and for an operator pop the two topmost numbers, apply the operator (the first popped is the right
    operand) and push the result. The one number left at the end is the value.""")
def _eval_postfix(rng) -> Made:
    ops = pick(rng, ("+-*", "+-*/", "+-*/"))
    as_string = pick(rng, (True, False))

    def ref(tokens):
        stack = []
        for tok in (tokens.split() if as_string else tokens):
            if tok in "+-*/":
                b, a = stack.pop(), stack.pop()
                stack.append(a + b if tok == "+" else a - b if tok == "-" else a * b if tok == "*" else int(a / b))
            else:
                stack.append(int(tok))
        return stack[0]

    split = "$tokens.split()" if as_string else "$tokens"
    div_op = ', "/": lambda $x, $y: int($x / $y)' if "/" in ops else ""
    div_if = ('\n        elif $tok == "/":\n            $stack.append(int($a / $b))' if "/" in ops else "")
    div_map = '\n    "/": lambda $x, $y: int($x / $y),' if "/" in ops else ""
    bodies = (
        _code(f"""
            $stack = []
            for $tok in {split}:
                if $tok in {ops!r}:
                    $b = $stack.pop()
                    $a = $stack.pop()
                    if $tok == "+":
                        $stack.append($a + $b)
                    elif $tok == "-":
                        $stack.append($a - $b)
                    elif $tok == "*":
                        $stack.append($a * $b)$div_if
                else:
                    $stack.append(int($tok))
            return $stack.pop()""").replace("$div_if", div_if),
        _code(f"""
            $apply = {{
                "+": lambda $x, $y: $x + $y,
                "-": lambda $x, $y: $x - $y,
                "*": lambda $x, $y: $x * $y,@DIV@
            }}
            $stack = []
            for $tok in {split}:
                if $tok in $apply:
                    $b, $a = $stack.pop(), $stack.pop()
                    $stack.append($apply[$tok]($a, $b))
                else:
                    $stack.append(int($tok))
            return $stack[-1]""").replace("@DIV@", div_map),
        Body(_code(f"""
            $apply = {{"+": operator.add, "-": operator.sub, "*": operator.mul{div_op}}}
            $stack = []
            for $tok in {split}:
                if $tok in $apply:
                    $b = $stack.pop()
                    $stack[-1] = $apply[$tok]($stack[-1], $b)
                else:
                    $stack.append(int($tok))
            return $stack[0]"""), ("import operator",)))
    cases = []
    while len(cases) < 4:
        tree = _expr_tree(rng, 3, ops)
        try:
            _expr_value(tree)
        except ZeroDivisionError:
            continue
        toks = _postfix(tree)
        cases.append((" ".join(toks) if as_string else toks,))
    fixed = [["7"], ["3", "4", "+", "2", "*"], ["10", "4", "-", "3", "-"]]
    if "/" in ops:
        fixed.append(["7", "2", "/", "0", "5", "-", "*"])
    cases += [(" ".join(t) if as_string else t,) for t in fixed]
    div = "; `/` divides, truncating toward zero" if "/" in ops else ""
    typ = "str" if as_string else "list[str]"
    doc = ("The tokens separated by single spaces." if as_string else "The tokens, numbers and operators as strings.")
    return _build(
        rng, names=("eval_postfix", "evaluate_rpn", "rpn_value", "compute_postfix", "run_stack_program"),
        params=[P("tokens", ("tokens", "expr", "program", "postfix"), typ, doc)],
        returns=("int", "The value of the expression."),
        summaries=(f"Evaluate the postfix expression `$tokens`, whose operators are {', '.join(ops)}{div}.",
                   f"Compute the value of a reverse Polish notation expression with integer operands and the "
                   f"operators {' '.join(ops)}{div}.",
                   f"Use a stack to evaluate postfix arithmetic (operators {' '.join(ops)}){div}."),
        notes=("The expression is always well formed.", "Numbers are non-negative integers."),
        bodies=bodies,
        local_names={"stack": ("stack", "operands", "values"), "tok": ("tok", "token", "item"),
                     "a": ("a", "lhs", "left"),
                     "b": ("b", "rhs", "right"), "apply": ("apply", "ops", "operations"), "x": ("x", "p", "u"),
                     "y": ("y", "q", "w")},
        ref=ref, cases=cases)


@_family("stacks_queues.eval_infix", ("expression_evaluation", "precedence", "tokenizing"), """
    An arithmetic expression without parentheses, like "2 + 3 * 4 - 5", is evaluated left to right while
    respecting precedence if multiplication is applied immediately and additions are postponed: keep a
    stack of terms, push a number after + (or its negative after -), and after * replace the top term by its
    product with the next number. The answer is the sum of the stack.""")
def _eval_infix(rng) -> Made:
    spaced = pick(rng, (True, False))

    def ref(expr):
        toks = re.findall(r"\d+|[+*-]", expr)
        terms, op = [], "+"
        for t in toks:
            if t in "+-*":
                op = t
                continue
            n = int(t)
            if op == "+":
                terms.append(n)
            elif op == "-":
                terms.append(-n)
            else:
                terms[-1] *= n
        return sum(terms)

    bodies = (
        Body(_code("""
            $terms = []
            $op = "+"
            for $tok in re.findall(r"\\d+|[-+*]", $expr):
                if $tok in "+-*":
                    $op = $tok
                elif $op == "+":
                    $terms.append(int($tok))
                elif $op == "-":
                    $terms.append(-int($tok))
                else:
                    $terms[-1] *= int($tok)
            return sum($terms)"""), ("import re",)),
        _code("""
            $total = 0
            for $term in $expr.replace(" ", "").replace("-", "+-").split("+"):
                if not $term:
                    continue
                $sign = -1 if $term.startswith("-") else 1
                $product = 1
                for $factor in $term.lstrip("-").split("*"):
                    $product *= int($factor)
                $total += $sign * $product
            return $total"""),
        _code("""
            $terms = []
            $op = "+"
            $num = ""
            for $ch in $expr.replace(" ", "") + "+":
                if $ch.isdigit():
                    $num += $ch
                    continue
                $value = int($num)
                if $op == "+":
                    $terms.append($value)
                elif $op == "-":
                    $terms.append(-$value)
                else:
                    $terms[-1] *= $value
                $op, $num = $ch, ""
            return sum($terms)"""))

    def rnd():
        parts = [str(rng.randint(0, 20))]
        for _ in range(rng.randint(1, 5)):
            parts += [pick(rng, "+-**"), str(rng.randint(0, 12))]
        return (" " if spaced else "").join(parts)

    sep = " " if spaced else ""
    fixed = (["7"], ["2", "+", "3", "*", "4"], ["10", "-", "2", "-", "3"], ["0", "*", "5", "+", "1"])
    cases = [(rnd(),) for _ in range(4)] + [(sep.join(t),) for t in fixed]
    return _build(
        rng, names=("eval_infix", "evaluate_expression", "calculate", "compute_expression", "simple_calculator"),
        params=[P("expr", ("expr", "expression", "formula", "line"), "str",
                  "Non-negative integers joined by +, - and *" + (", with spaces around them." if spaced else "."))],
        returns=("int", "The value of the expression with * binding tighter than + and -."),
        summaries=("Evaluate the arithmetic expression `$expr`, which uses +, - and * but no parentheses, with the "
                   "usual precedence.",
                   "Return the value of $expr, applying multiplication before addition and subtraction.",
                   "Compute a parenthesis-free integer expression, respecting operator precedence, without eval()."),
        notes=("Multiplication binds tighter than + and -.", "Subtraction is left-associative: 10-2-3 is 5."),
        bodies=bodies,
        local_names={"terms": ("terms", "stack", "addends"), "op": ("op", "last_op", "pending_op"),
                     "tok": ("tok", "token", "piece"), "total": ("total", "result", "acc"),
                     "term": ("term", "chunk", "part"), "sign": ("sign", "polarity", "factor_sign"),
                     "product": ("product", "prod", "term_value"), "factor": ("factor", "f", "operand"),
                     "num": ("num", "digits", "number"), "ch": ("ch", "c", "char"),
                     "value": ("value", "n", "number_value")},
        ref=ref, cases=cases)


@_family("stacks_queues.expand_repeats", ("expression_evaluation", "nested-structure", "stack-of-frames"), """
    An encoding like "3[ab]2[c]" means "ab" three times followed by "c" twice, and groups may nest:
    "2[a3[b]]" is "abbbabbb". On '[' the text built so far and the pending count are pushed on a stack and
    a fresh group starts; on ']' the group is repeated and appended to the text popped from the stack.
    A recursive parser that returns at each ']' expresses the same nesting with the call stack.""")
def _expand_repeats(rng) -> Made:
    o, c = pick(rng, ("[]", "()", "{}"))

    def ref(code):
        stack, cur, num = [], "", 0
        for ch in code:
            if ch.isdigit():
                num = num * 10 + int(ch)
            elif ch == o:
                stack.append((cur, num))
                cur, num = "", 0
            elif ch == c:
                prev, k = stack.pop()
                cur = prev + cur * k
            else:
                cur += ch
        return cur

    bodies = (
        _code("""
            $stack = []
            $current = ""
            $count = 0
            for $ch in $code:
                if $ch.isdigit():
                    $count = $count * 10 + int($ch)
                elif $ch == $o:
                    $stack.append(($current, $count))
                    $current, $count = "", 0
                elif $ch == $c:
                    $before, $times = $stack.pop()
                    $current = $before + $current * $times
                else:
                    $current += $ch
            return $current"""),
        _code("""
            def $parse($pos: int) -> tuple:
                $out = ""
                $count = 0
                while $pos < len($code):
                    $ch = $code[$pos]
                    if $ch.isdigit():
                        $count = $count * 10 + int($ch)
                    elif $ch == $o:
                        $inner, $pos = $parse($pos + 1)
                        $out += $inner * $count
                        $count = 0
                    elif $ch == $c:
                        return $out, $pos
                    else:
                        $out += $ch
                    $pos += 1
                return $out, $pos

            return $parse(0)[0]"""))

    def rnd(depth):
        parts = []
        for _ in range(rng.randint(1, 3)):
            if depth > 0 and rng.random() < 0.6:
                parts.append(f"{rng.randint(1, 4)}{o}{rnd(depth - 1)}{c}")
            else:
                parts.append("".join(pick(rng, "abxyz") for _ in range(rng.randint(1, 3))))
        return "".join(parts)

    cases = [(rnd(2),) for _ in range(4)] + [("",), ("abc",), (f"3{o}ab{c}",), (f"2{o}a3{o}b{c}{c}",),
                                             (f"10{o}z{c}",)]
    return _build(
        rng, names=("expand_repeats", "decode_groups", "unpack_counts", "expand_encoded", "decompress"),
        params=[P("code", ("code", "encoded", "pattern", "packed"), "str",
                  f"Letters and groups written as k{o}...{c}; groups may nest.")],
        returns=("str", "The fully expanded text."),
        summaries=(f"Expand `$code`, where k{o}text{c} stands for text repeated k times (groups may nest).",
                   f"Decode the compressed string $code: a number followed by a group in {o}{c} repeats that "
                   "group's expansion.",
                   f"Return the expansion of a run-length style encoding with nested k{o}...{c} groups."),
        notes=("Counts can have several digits.", "The input is always well formed."),
        bodies=bodies, consts={"o": repr(o), "c": repr(c)},
        local_names={"stack": ("stack", "frames", "saved"), "current": ("current", "built", "text"),
                     "count": ("count", "reps", "k"), "ch": ("ch", "char", "symbol"),
                     "before": ("before", "prev", "outer"),
                     "times": ("times", "repeat", "n"), "parse": ("parse", "expand", "read_group"),
                     "pos": ("pos", "i", "at"), "out": ("out", "result", "acc"), "inner": ("inner", "group", "sub")},
        ref=ref, cases=cases)


@_family("stacks_queues.next_greater", ("monotonic_stack", "next-greater", "indices"), """
    For every element, the next greater element to its right can be found in linear time with a stack of
    indices whose values decrease from bottom to top. Each new value pops every smaller value off the stack:
    the new value is exactly their answer. Elements still on the stack at the end have no greater element
    after them.""")
def _next_greater(rng) -> Made:
    smaller = pick(rng, (False, False, True))
    missing = pick(rng, (-1, None))
    cmp = "<" if smaller else ">"
    word = "smaller" if smaller else "greater"

    def ref(values):
        out = []
        for i, v in enumerate(values):
            out.append(next((w for w in values[i + 1:] if (w < v if smaller else w > v)), missing))
        return out

    bodies = (
        _code(f"""
            $result = [{missing}] * len($values)
            $stack = []
            for $i, $v in enumerate($values):
                while $stack and $v {cmp} $values[$stack[-1]]:
                    $result[$stack.pop()] = $v
                $stack.append($i)
            return $result"""),
        _code(f"""
            $result = []
            for $i in range(len($values)):
                $found = {missing}
                for $j in range($i + 1, len($values)):
                    if $values[$j] {cmp} $values[$i]:
                        $found = $values[$j]
                        break
                $result.append($found)
            return $result"""),
        _code(f"""
            $result = [{missing}] * len($values)
            $stack = []
            for $i in range(len($values) - 1, -1, -1):
                while $stack and not $stack[-1] {cmp} $values[$i]:
                    $stack.pop()
                if $stack:
                    $result[$i] = $stack[-1]
                $stack.append($values[$i])
            return $result"""))
    cases = [(_ints(rng, rng.randint(3, 10), 0, 20),) for _ in range(4)] + [([],), ([5],), ([3, 3, 3],),
                                                                           ([1, 2, 3],), ([3, 2, 1],)]
    return _build(
        rng, names=(f"next_{word}", f"next_{word}_elements", f"first_{word}_to_right", f"{word}_after",
                    f"nearest_{word}_right"),
        params=[P("values", ("values", "nums", "heights", "prices"), "list[int]", "The numbers to scan.")],
        returns=(f"list[int{' | None' if missing is None else ''}]",
                 f"For each position, the first later value strictly {word} than it, or {missing}."),
        summaries=(f"For every element of `$values`, return the first element to its right that is strictly "
                   f"{word}, or {missing} if none exists.",
                   f"Compute the next {word} element of each item of $values with a monotonic stack "
                   f"({missing} where there is none).",
                   f"Find, for each number, the nearest later number that is {word} than it."),
        notes=("Equal values do not count.", "Aim for O(n): each index is pushed and popped once."),
        bodies=bodies, local_names={"result": ("result", "answer", "out"), "stack": ("stack", "waiting", "pending"),
                                    "i": ("i", "idx", "pos"), "v": ("v", "value", "x"), "j": ("j", "k", "later"),
                                    "found": ("found", "hit", "nxt")},
        ref=ref, cases=cases)


@_family("stacks_queues.wait_for_warmer", ("monotonic_stack", "distances", "temperatures"), """
    "How many days until a warmer day?" asks, for every day, the distance to the next larger value. A stack
    of the indices of days still waiting for a warmer day keeps their temperatures decreasing; when a warmer
    day arrives it resolves every colder waiting day on top of the stack, and the answer is the difference
    of the two indices. Days left on the stack never see a warmer day.""")
def _wait_for_warmer(rng) -> Made:
    never = pick(rng, (0, -1))
    strictly = pick(rng, (True, True, False))
    cmp = ">" if strictly else ">="

    def ref(temps):
        out = []
        for i, t in enumerate(temps):
            d = next((j - i for j in range(i + 1, len(temps)) if (temps[j] > t if strictly else temps[j] >= t)), never)
            out.append(d)
        return out

    bodies = (
        _code(f"""
            $waits = [{never}] * len($temps)
            $stack = []
            for $day, $t in enumerate($temps):
                while $stack and $t {cmp} $temps[$stack[-1]]:
                    $prev = $stack.pop()
                    $waits[$prev] = $day - $prev
                $stack.append($day)
            return $waits"""),
        _code(f"""
            $waits = []
            for $day, $t in enumerate($temps):
                $wait = {never}
                for $later in range($day + 1, len($temps)):
                    if $temps[$later] {cmp} $t:
                        $wait = $later - $day
                        break
                $waits.append($wait)
            return $waits"""))
    cases = [(_ints(rng, rng.randint(3, 10), 10, 30),) for _ in range(4)] + [([],), ([20],), ([25, 25],),
                                                                            ([30, 20, 10],), ([10, 20, 30],)]
    rel = "warmer" if strictly else "at least as warm"
    return _build(
        rng, names=("days_until_warmer", "wait_for_warmer", "warmer_in", "days_to_warmth", "next_warm_day_gap"),
        params=[P("temps", ("temps", "temperatures", "readings", "daily_highs"), "list[int]",
                  "One temperature per day.")],
        returns=("list[int]", f"For each day, how many days pass until a {rel} day ({never} if none follows)."),
        summaries=(f"For each day in `$temps`, return how many days one has to wait for a {rel} day, or {never} "
                   "if there is none.",
                   f"Compute, for every temperature in $temps, the distance to the next {rel} reading ({never} "
                   "if it never comes).",
                   f"Use a monotonic stack to count the days until a {rel} temperature."),
        notes=(("Equal temperatures are not warmer." if strictly else "An equal temperature is enough."),
               "Each index is pushed and popped at most once."),
        bodies=bodies, local_names={"waits": ("waits", "answer", "result"), "stack": ("stack", "pending", "open_days"),
                                    "day": ("day", "i", "today"), "t": ("t", "temp", "degrees"),
                                    "prev": ("prev", "earlier", "colder"), "wait": ("wait", "gap", "delay"),
                                    "later": ("later", "j", "future")},
        ref=ref, cases=cases)


@_family("stacks_queues.price_span", ("monotonic_stack", "spans", "running-history"), """
    The span of a price on a given day is the number of consecutive days, ending that day, on which the
    price was no higher than that day's. A stack of (price, span) pairs answers it in linear time overall:
    today's span swallows the spans of every earlier day on top of the stack whose price does not exceed
    today's, since those days can never block a later span either.""")
def _price_span(rng) -> Made:
    def ref(prices):
        out = []
        for i, p in enumerate(prices):
            k = i
            while k >= 0 and prices[k] <= p:
                k -= 1
            out.append(i - k)
        return out

    bodies = (
        _code("""
            $spans = []
            $stack = []
            for $p in $prices:
                $span = 1
                while $stack and $stack[-1][0] <= $p:
                    $span += $stack.pop()[1]
                $stack.append(($p, $span))
                $spans.append($span)
            return $spans"""),
        _code("""
            $spans = []
            for $i, $p in enumerate($prices):
                $span = 0
                while $i - $span >= 0 and $prices[$i - $span] <= $p:
                    $span += 1
                $spans.append($span)
            return $spans"""),
        _code("""
            $spans = []
            $stack = []
            for $i, $p in enumerate($prices):
                while $stack and $prices[$stack[-1]] <= $p:
                    $stack.pop()
                $spans.append($i - $stack[-1] if $stack else $i + 1)
                $stack.append($i)
            return $spans"""))
    cases = [(_ints(rng, rng.randint(3, 10), 50, 90),) for _ in range(4)] + [([],), ([70],), ([5, 5, 5],),
                                                                            ([9, 8, 7],)]
    return _build(
        rng, names=("price_span", "stock_spans", "span_of_days", "days_at_or_below", "running_span"),
        params=[P("prices", ("prices", "quotes", "closing", "values"), "list[int]", "Daily prices, oldest first.")],
        returns=("list[int]", "The span of each day: how many consecutive days up to it had a price <= its price."),
        summaries=("Return the span of every day in `$prices`: the number of consecutive days ending that day "
                   "whose price was at most that day's price.",
                   "Compute the stock span of each price in $prices (each span counts the day itself).",
                   "For each day, count how far back the price stayed at or below today's price."),
        notes=("Every span is at least 1.", "A stack of earlier days keeps this linear."),
        bodies=bodies, local_names={"spans": ("spans", "result", "out"), "stack": ("stack", "history", "kept"),
                                    "p": ("p", "price", "today"), "span": ("span", "run", "width"),
                                    "i": ("i", "day", "idx")},
        ref=ref, cases=cases)


@_family("stacks_queues.largest_rectangle", ("monotonic_stack", "histogram", "areas"), """
    The largest rectangle under a histogram has the height of some bar and extends left and right until a
    lower bar. A stack of bar indices with increasing heights finds those limits: when a lower bar arrives,
    each taller bar popped off the stack has found its right limit, and the bar below it on the stack is
    its left limit. A sentinel bar of height 0 at the end empties the stack.""")
def _largest_rectangle(rng) -> Made:
    def ref(heights):
        best = 0
        for i in range(len(heights)):
            low = heights[i]
            for j in range(i, len(heights)):
                low = min(low, heights[j])
                best = max(best, low * (j - i + 1))
        return best

    bodies = (
        _code("""
            $best = 0
            $stack = []
            for $i, $h in enumerate($heights + [0]):
                while $stack and $heights[$stack[-1]] >= $h:
                    $top = $stack.pop()
                    $left = $stack[-1] + 1 if $stack else 0
                    $best = max($best, $heights[$top] * ($i - $left))
                $stack.append($i)
            return $best"""),
        _code("""
            $best = 0
            for $i in range(len($heights)):
                $low = $heights[$i]
                for $j in range($i, len($heights)):
                    $low = min($low, $heights[$j])
                    $best = max($best, $low * ($j - $i + 1))
            return $best"""))
    cases = [(_ints(rng, rng.randint(3, 9), 0, 10),) for _ in range(4)] + [([],), ([4],), ([2, 2, 2],),
                                                                          ([2, 1, 5, 6, 2, 3],)]
    return _build(
        rng, names=("largest_rectangle", "max_histogram_area", "biggest_block", "histogram_max_rectangle",
                    "widest_area_under_bars"),
        params=[P("heights", ("heights", "bars", "columns", "levels"), "list[int]",
                  "Non-negative bar heights, each bar of width 1.")],
        returns=("int", "The area of the largest axis-aligned rectangle inside the histogram; 0 for no bars."),
        summaries=("Return the area of the largest rectangle that fits under the histogram `$heights`.",
                   "Find the biggest rectangular area formed by consecutive bars in `$heights` (its height is the "
                   "lowest bar it spans).",
                   "Compute the maximum rectangle area in a histogram using a stack of increasing bars."),
        notes=("A rectangle over bars i..j has height min(heights[i..j]).", "Bars have width 1."),
        bodies=bodies, local_names={"best": ("best", "largest", "area"), "stack": ("stack", "rising", "open_bars"),
                                    "i": ("i", "pos", "right"), "h": ("h", "height", "bar"),
                                    "top": ("top", "tallest", "k"),
                                    "left": ("left", "start", "lo"), "low": ("low", "shortest", "floor"),
                                    "j": ("j", "end", "stop")},
        ref=ref, cases=cases)


# ----------------------------------------------------------------------------------- dynamic_programming


@_family("dynamic_programming.non_adjacent_sum", ("one_dimensional", "take-or-skip", "rolling-variables"), """
    Choosing values from a row so that no two chosen ones are neighbours, with the largest total, is solved
    position by position: the best total up to position i either skips value i (the best up to i - 1) or
    takes it (value i plus the best up to i - 2). Only the last two answers are ever needed, so two
    variables replace the whole table.""")
def _non_adjacent_sum(rng) -> Made:
    story = pick(rng, (("houses", "the amount of money in each house on a street", "rob"),
                       ("slots", "the value of each time slot", "book"),
                       ("plots", "the yield of each garden plot in a row", "plant"),
                       ("values", "the numbers in the row", "pick")))
    noun, what, verb = story

    def ref(values):
        take, skip = 0, 0
        for v in values:
            take, skip = skip + v, max(skip, take)
        return max(take, skip)

    bodies = (
        _code("""
            $prev, $best = 0, 0
            for $v in $values:
                $prev, $best = $best, max($best, $prev + $v)
            return $best"""),
        _code("""
            if not $values:
                return 0
            $table = [0] * (len($values) + 1)
            $table[1] = $values[0]
            for $i in range(2, len($values) + 1):
                $table[$i] = max($table[$i - 1], $table[$i - 2] + $values[$i - 1])
            return $table[-1]"""),
        Body(_code("""
            @lru_cache(maxsize=None)
            def $best_from($i: int) -> int:
                if $i >= len($values):
                    return 0
                return max($best_from($i + 1), $values[$i] + $best_from($i + 2))

            return $best_from(0)"""), ("from functools import lru_cache",)))
    cases = [(_ints(rng, rng.randint(3, 10), 0, 30),) for _ in range(4)] + [([],), ([7],), ([2, 9, 3],),
                                                                           ([5, 1, 1, 5],)]
    return _build(
        rng, names=("non_adjacent_sum", "max_without_neighbours", f"best_{verb}_total", "max_spaced_sum",
                    "skip_one_max"),
        params=[P("values", (noun, "values", "amounts", "row"), "list[int]", f"Non-negative integers: {what}.")],
        returns=("int", "The largest total of chosen values, no two of them adjacent; 0 for an empty list."),
        summaries=("Return the largest sum of elements of `$values` such that no two chosen elements are adjacent.",
                   f"You may {verb} any of the {noun} except two neighbouring ones; return the best total.",
                   "Find the maximum total of a subset of a row of numbers with no two neighbours, using dynamic "
                   "programming."),
        notes=("Choosing nothing is allowed and gives 0.", "Keep only the last two partial answers."),
        bodies=bodies, local_names={"prev": ("prev", "two_back", "older"), "best": ("best", "one_back", "current"),
                                    "v": ("v", "value", "amount"), "table": ("table", "dp", "best_upto"),
                                    "i": ("i", "k", "n"), "best_from": ("best_from", "solve", "gain")},
        ref=ref, cases=cases)


def _climb_ref(costs: list[int], max_jump: int) -> int:
    """Cheapest way from step 0 (paid) past the last step, moving 1..max_jump steps at a time."""
    n = len(costs)
    best = [0] * (n + 1)
    for i in range(n + 1):
        here = costs[i] if i < n else 0
        best[i] = here if i == 0 else here + min(best[max(0, i - max_jump):i])
    return best[n]


@_family("dynamic_programming.cheapest_climb", ("one_dimensional", "minimum-cost", "tabulation"), """
    When each step of a staircase has a cost and a climber may move one or two steps at a time, the
    cheapest cost to stand on step i is its own cost plus the cheaper of the cheapest costs for steps i - 1
    and i - 2. Filling this table from the bottom makes each entry depend only on entries already known,
    which is the essence of bottom-up dynamic programming.""")
def _cheapest_climb(rng) -> Made:
    max_jump = pick(rng, (2, 2, 3))

    def ref(costs):
        return _climb_ref(costs, max_jump)

    bodies = (
        _code(f"""
            $best = [0] * (len($costs) + 1)
            for $i in range(len($costs) + 1):
                $here = $costs[$i] if $i < len($costs) else 0
                $start = max(0, $i - {max_jump})
                $best[$i] = $here + (min($best[$start:$i]) if $i >= 1 else 0)
            return $best[-1]"""),
        Body(_code(f"""
            @lru_cache(maxsize=None)
            def $cheapest($i: int) -> int:
                $here = $costs[$i] if $i < len($costs) else 0
                if $i == 0:
                    return $here
                return $here + min($cheapest($j) for $j in range(max(0, $i - {max_jump}), $i))

            return $cheapest(len($costs))"""), ("from functools import lru_cache",)))
    cases = [(_ints(rng, rng.randint(2, 10), 0, 20),) for _ in range(4)] + [([],), ([5],), ([10, 15, 20],),
                                                                           ([1, 100, 1, 1, 100, 1],)]
    moves = "one or two" if max_jump == 2 else "one, two or three"
    return _build(
        rng, names=("cheapest_climb", "min_climb_cost", "lowest_stair_cost", "climb_cost", "min_toll_path"),
        params=[P("costs", ("costs", "fees", "tolls", "prices"), "list[int]",
                  "$costs[i] is paid when standing on step i (non-negative).")],
        returns=("int", "The minimum total cost to get past the last step; 0 for no steps."),
        summaries=(f"Start on step 0, move up {moves} steps at a time, pay `$costs[i]` for every step you stand "
                   "on, and return the least total cost to get beyond the top step.",
                   f"Each move climbs {moves} steps; compute the cheapest way to pass the end of $costs, "
                   "paying for each step landed on (including step 0).",
                   f"Minimum cost to climb past the top of a staircase when you may jump {moves} steps and pay "
                   "for each step you stand on."),
        notes=("Step 0 is always stood on.", "Moving past the top step costs nothing more."),
        bodies=bodies, local_names={"best": ("best", "dp", "cost_to"), "i": ("i", "step", "k"),
                                    "here": ("here", "own", "fee"), "start": ("start", "lo", "first"),
                                    "cheapest": ("cheapest", "solve", "min_cost"), "j": ("j", "prev", "src")},
        ref=ref, cases=cases)


@_family("dynamic_programming.best_trade", ("one_dimensional", "running-minimum", "greedy-vs-dp"), """
    The best single buy-then-sell profit is a one-pass dynamic programme: the best profit when selling on
    day i is price[i] minus the lowest price seen before day i, so remembering the running minimum is
    enough. If any number of trades is allowed (but only one share held at a time), the answer is the sum of
    every positive day-to-day rise, since each rise can be captured separately.""")
def _best_trade(rng) -> Made:
    many = pick(rng, (False, True))

    def ref(prices):
        if many:
            return sum(max(0, b - a) for a, b in zip(prices, prices[1:]))
        best, low = 0, None
        for p in prices:
            if low is not None:
                best = max(best, p - low)
            low = p if low is None else min(low, p)
        return best

    if many:
        bodies = (
            "return sum(max(0, $b - $a) for $a, $b in zip($prices, $prices[1:]))",
            _code("""
                $profit = 0
                for $i in range(1, len($prices)):
                    if $prices[$i] > $prices[$i - 1]:
                        $profit += $prices[$i] - $prices[$i - 1]
                return $profit"""),
            _code("""
                $cash, $holding = 0, float("-inf")
                for $p in $prices:
                    $cash, $holding = max($cash, $holding + $p), max($holding, $cash - $p)
                return $cash"""))
        summaries = ("Return the largest profit from trading on the daily prices `$prices` when you may buy and "
                     "sell any number of times but hold at most one share.",
                     "Compute the maximum total gain from $prices with unlimited trades (sell before buying again).",
                     "Find the best profit from repeated buy/sell trades over a price history.")
        names = ("max_trading_profit", "best_total_gain", "unlimited_trades_profit", "sum_of_rises", "trade_all_rises")
    else:
        bodies = (
            _code("""
                $profit = 0
                $low = None
                for $p in $prices:
                    if $low is not None and $p - $low > $profit:
                        $profit = $p - $low
                    if $low is None or $p < $low:
                        $low = $p
                return $profit"""),
            _code("""
                $profit = 0
                for $i in range(len($prices)):
                    for $j in range($i + 1, len($prices)):
                        $profit = max($profit, $prices[$j] - $prices[$i])
                return $profit"""),
            _code("""
                if not $prices:
                    return 0
                $low, $profit = $prices[0], 0
                for $p in $prices[1:]:
                    $profit = max($profit, $p - $low)
                    $low = min($low, $p)
                return $profit"""))
        summaries = ("Return the largest profit from buying once and selling once later at the prices `$prices`.",
                     "Given daily prices $prices, find the best gain from one purchase followed by one sale.",
                     "Compute the maximum single-trade profit (buy on one day, sell on a later day).")
        names = ("best_single_trade", "max_profit_once", "best_buy_sell", "biggest_gain", "one_trade_profit")
    cases = [(_ints(rng, rng.randint(2, 10), 1, 30),) for _ in range(4)] + [([],), ([9],), ([9, 7, 5],),
                                                                           ([1, 5, 2, 8],)]
    return _build(
        rng, names=names,
        params=[P("prices", ("prices", "quotes", "daily", "history"), "list[int]", "Prices, one per day, in order.")],
        returns=("int", "The best profit; 0 if no trade makes money."),
        summaries=summaries, notes=("Not trading at all gives a profit of 0.", "A sale must come after its purchase."),
        bodies=bodies, local_names={"profit": ("profit", "best", "gain"), "low": ("low", "cheapest", "min_so_far"),
                                    "p": ("p", "price", "today"), "i": ("i", "buy", "d1"), "j": ("j", "sell", "d2"),
                                    "a": ("a", "yesterday", "before"), "b": ("b", "now", "after"),
                                    "cash": ("cash", "free", "flat"), "holding": ("holding", "held", "long")},
        ref=ref, cases=cases)


def _grid(rng, rows: int, cols: int, lo: int, hi: int) -> list[list[int]]:
    return [[rng.randint(lo, hi) for _ in range(cols)] for _ in range(rows)]


@_family("dynamic_programming.grid_paths", ("grids_and_paths", "counting-paths", "obstacles"), """
    Counting the paths from the top-left to the bottom-right corner of a grid, moving only right or down,
    is a table fill: the number of ways to reach a cell is the number of ways to reach the cell above it
    plus the number for the cell to its left, and a blocked cell has no ways at all. Filling the table row
    by row means both neighbours are always known; a single row of counts is enough memory.""")
def _grid_paths(rng) -> Made:
    blocked = pick(rng, (1, "#"))
    typ = "list[list[int]]" if blocked == 1 else "list[list[str]]"
    free = 0 if blocked == 1 else "."

    def ref(grid):
        if not grid or not grid[0]:
            return 0
        cols = len(grid[0])
        row = [0] * cols
        row[0] = 1
        for r in grid:
            for j in range(cols):
                if r[j] == blocked:
                    row[j] = 0
                elif j:
                    row[j] += row[j - 1]
        return row[-1]

    bodies = (
        _code("""
            if not $grid or not $grid[0]:
                return 0
            $rows, $cols = len($grid), len($grid[0])
            $ways = [[0] * $cols for _ in range($rows)]
            for $r in range($rows):
                for $c in range($cols):
                    if $grid[$r][$c] == $blocked:
                        continue
                    if $r == 0 and $c == 0:
                        $ways[$r][$c] = 1
                    else:
                        $above = $ways[$r - 1][$c] if $r > 0 else 0
                        $left = $ways[$r][$c - 1] if $c > 0 else 0
                        $ways[$r][$c] = $above + $left
            return $ways[-1][-1]"""),
        _code("""
            if not $grid or not $grid[0]:
                return 0
            $row = [0] * len($grid[0])
            $row[0] = 1
            for $cells in $grid:
                for $c, $cell in enumerate($cells):
                    if $cell == $blocked:
                        $row[$c] = 0
                    elif $c > 0:
                        $row[$c] += $row[$c - 1]
            return $row[-1]"""),
        Body(_code("""
            if not $grid or not $grid[0]:
                return 0

            @lru_cache(maxsize=None)
            def $count($r: int, $c: int) -> int:
                if $r < 0 or $c < 0 or $grid[$r][$c] == $blocked:
                    return 0
                if $r == 0 and $c == 0:
                    return 1
                return $count($r - 1, $c) + $count($r, $c - 1)

            return $count(len($grid) - 1, len($grid[0]) - 1)"""), ("from functools import lru_cache",)))

    def rnd():
        rows, cols = rng.randint(2, 5), rng.randint(2, 5)
        g = [[blocked if rng.random() < 0.2 else free for _ in range(cols)] for _ in range(rows)]
        g[0][0] = g[-1][-1] = free
        return g

    cases = [(rnd(),) for _ in range(4)] + [([],), ([[free]],), ([[free, free], [free, free]],),
                                            ([[blocked]],), ([[free, blocked], [blocked, free]],)]
    cell_doc = ("1 marks a blocked cell and 0 a free one" if blocked == 1 else "'#' marks a wall and '.' a free cell")
    return _build(
        rng, names=("count_grid_paths", "paths_through_grid", "unique_routes", "lattice_paths", "ways_to_corner"),
        params=[P("grid", ("grid", "board", "layout", "maze"), typ, f"A rectangular grid; {cell_doc}.")],
        returns=("int", "The number of right/down paths from the top-left to the bottom-right cell avoiding "
                        "blocked cells; 0 if there is none."),
        summaries=("Count the paths from the top-left to the bottom-right corner of `$grid` that move only right "
                   f"or down and never enter a blocked cell ({cell_doc}).",
                   f"Return how many monotone (right/down) routes cross $grid from corner to corner; {cell_doc}.",
                   "Use dynamic programming to count the right-and-down paths through a grid with obstacles."),
        notes=("A blocked start or end cell means there are no paths.", "Each cell's count is the sum of two others."),
        bodies=bodies, consts={"blocked": repr(blocked)},
        local_names={"rows": ("rows", "height", "n_rows"), "cols": ("cols", "width", "n_cols"),
                     "ways": ("ways", "table", "dp"), "r": ("r", "i", "y"), "c": ("c", "j", "x"),
                     "above": ("above", "from_top", "up"), "left": ("left", "from_left", "west"),
                     "row": ("row", "counts", "line"), "cells": ("cells", "grid_row", "line_cells"),
                     "cell": ("cell", "square", "spot"), "count": ("count", "paths_to", "routes")},
        ref=ref, cases=cases)


@_family("dynamic_programming.cheapest_path", ("grids_and_paths", "minimum-cost", "in-place-table"), """
    The cheapest path through a grid of costs, moving right or down from the top-left corner, follows the
    same pattern as counting paths but with min instead of +: the best cost to reach a cell is its own cost
    plus the smaller best cost of the cell above or to the left. The first row and column have only one
    neighbour to come from, so they are running sums. Collecting the most value instead swaps min for max.""")
def _cheapest_path(rng) -> Made:
    goal = pick(rng, ("min", "min", "max"))  # max: collect the most value along the way

    def ref(grid):
        if not grid or not grid[0]:
            return 0
        rows, cols = len(grid), len(grid[0])
        best = [[0] * cols for _ in range(rows)]
        for i in range(rows):
            for j in range(cols):
                prev = [best[a][b] for a, b in ((i - 1, j), (i, j - 1)) if a >= 0 and b >= 0]
                best[i][j] = grid[i][j] + ((min(prev) if goal == "min" else max(prev)) if prev else 0)
        return best[-1][-1]

    froms = "(($r - 1, $c), ($r, $c - 1))"
    bodies = (
        _code(f"""
            if not $grid or not $grid[0]:
                return 0
            $rows, $cols = len($grid), len($grid[0])
            $best = [[0] * $cols for _ in range($rows)]
            for $r in range($rows):
                for $c in range($cols):
                    $options = [$best[$a][$b] for $a, $b in {froms} if $a >= 0 and $b >= 0]
                    $best[$r][$c] = $grid[$r][$c] + ({goal}($options) if $options else 0)
            return $best[-1][-1]"""),
        Body(_code(f"""
            if not $grid or not $grid[0]:
                return 0

            @lru_cache(maxsize=None)
            def $cheapest($r: int, $c: int) -> int:
                if $r == 0 and $c == 0:
                    return $grid[0][0]
                $options = [$cheapest($a, $b) for $a, $b in {froms} if $a >= 0 and $b >= 0]
                return $grid[$r][$c] + {goal}($options)

            return $cheapest(len($grid) - 1, len($grid[0]) - 1)"""), ("from functools import lru_cache",)),
        _code(f"""
            if not $grid or not $grid[0]:
                return 0
            $row = []
            for $r, $cells in enumerate($grid):
                for $c, $cell in enumerate($cells):
                    if $r == 0:
                        $row.append($cell + ($row[$c - 1] if $c else 0))
                    elif $c == 0:
                        $row[0] += $cell
                    else:
                        $row[$c] = $cell + {goal}($row[$c], $row[$c - 1])
            return $row[-1]"""))
    cases = [(_grid(rng, rng.randint(1, 4), rng.randint(1, 4), 0, 9),) for _ in range(4)]
    cases += [([],), ([[7]],), ([[1, 3, 1], [1, 5, 1], [4, 2, 1]],), ([[1, 2, 3]],)]
    if goal == "min":
        names = ("cheapest_path", "min_path_cost", "lowest_cost_route", "min_grid_sum", "cheapest_route")
        summaries = ("Return the minimum sum of the cells on a path from the top-left to the bottom-right of "
                     "`$grid` when each move goes right or down.",
                     "Find the cheapest route across $grid, moving only right or down, where a route costs the sum "
                     "of the cells it visits (both corners included).",
                     "Compute the minimum path sum through a cost grid with right and down moves.")
        ret = "The smallest total of the cells on a path between the corners; 0 for an empty grid."
        cell = "A rectangular grid of non-negative costs."
    else:
        names = ("max_collected", "best_harvest_path", "most_coins_route", "richest_path", "max_path_sum")
        summaries = ("Return the largest total that can be collected on a path from the top-left to the "
                     "bottom-right cell of `$grid`, moving only right or down.",
                     "A collector walks across $grid from corner to corner, one step right or down at a time, and "
                     "picks up the value of every cell visited; find the best total.",
                     "Compute the maximum path sum through a grid with right and down moves.")
        ret = "The largest total of the cells on a path between the corners; 0 for an empty grid."
        cell = "A rectangular grid of non-negative values."
    return _build(
        rng, names=names,
        params=[P("grid", ("grid", "costs" if goal == "min" else "coins", "terrain", "board"), "list[list[int]]",
                  cell)],
        returns=("int", ret), summaries=summaries,
        notes=("Both corner cells are part of the path.", "Fill the table row by row."),
        bodies=bodies,
        local_names={"rows": ("rows", "height", "n_rows"), "cols": ("cols", "width", "n_cols"),
                     "best": ("best", "dp", "total_to"), "r": ("r", "i", "y"), "c": ("c", "j", "x"),
                     "options": ("options", "prev", "candidates"), "a": ("a", "pr", "y0"), "b": ("b", "pc", "x0"),
                     "cheapest": ("best_to", "total_at", "solve"), "row": ("row", "line", "running"),
                     "cells": ("cells", "grid_row", "values"), "cell": ("cell", "here", "v")},
        ref=ref, cases=cases)


@_family("dynamic_programming.largest_square", ("grids_and_paths", "squares", "neighbour-min"), """
    The largest all-ones square in a 0/1 grid is found with a table whose cell (i, j) holds the side of the
    largest square of ones ending at that cell as its bottom-right corner. It is 0 for a zero cell, and
    otherwise one more than the smallest of the three neighbours above, to the left and diagonally above-left,
    because the square can only be as big as those three allow.""")
def _largest_square(rng) -> Made:
    area = pick(rng, (False, True))

    def ref(grid):
        best = 0
        rows = len(grid)
        cols = len(grid[0]) if grid else 0
        side = [[0] * (cols + 1) for _ in range(rows + 1)]
        for i in range(rows):
            for j in range(cols):
                if grid[i][j] == 1:
                    side[i + 1][j + 1] = 1 + min(side[i][j + 1], side[i + 1][j], side[i][j])
                    best = max(best, side[i + 1][j + 1])
        return best * best if area else best

    out = "$best * $best" if area else "$best"
    bodies = (
        _code(f"""
            $rows = len($grid)
            $cols = len($grid[0]) if $grid else 0
            $side = [[0] * ($cols + 1) for _ in range($rows + 1)]
            $best = 0
            for $i in range($rows):
                for $j in range($cols):
                    if $grid[$i][$j] == 1:
                        $side[$i + 1][$j + 1] = 1 + min($side[$i][$j + 1], $side[$i + 1][$j], $side[$i][$j])
                        $best = max($best, $side[$i + 1][$j + 1])
            return {out}"""),
        _code(f"""
            $best = 0
            $prev = []
            for $row in $grid:
                $cur = []
                for $j, $cell in enumerate($row):
                    if $cell == 0:
                        $cur.append(0)
                    elif $j == 0 or not $prev:
                        $cur.append(1)
                    else:
                        $cur.append(1 + min($prev[$j], $cur[$j - 1], $prev[$j - 1]))
                $best = max([$best] + $cur)
                $prev = $cur
            return {out}"""))
    cases = [([[1 if rng.random() < 0.7 else 0 for _ in range(c)] for _ in range(r)],)
             for r, c in ((rng.randint(2, 5), rng.randint(2, 5)) for _ in range(4))]
    cases += [([],), ([[0, 0]],), ([[1]],), ([[1, 1], [1, 1]],), ([[1, 1, 0], [1, 1, 1], [0, 1, 1]],)]
    what = "area" if area else "side length"
    return _build(
        rng, names=("largest_square", "biggest_square_of_ones", f"max_square_{'area' if area else 'side'}",
                    "largest_solid_square", "square_of_ones"),
        params=[P("grid", ("grid", "matrix", "image", "pixels"), "list[list[int]]",
                  "A rectangular grid of 0s and 1s.")],
        returns=("int", f"The {what} of the largest square made only of 1s; 0 if there is no 1."),
        summaries=(f"Return the {what} of the largest square sub-grid of `$grid` that contains only 1s.",
                   f"Find the biggest all-ones square in the 0/1 matrix $grid and return its {what}.",
                   f"Use dynamic programming to compute the {what} of the largest square of 1s in a binary grid."),
        notes=("A single 1 is a square of side 1.", "Each cell looks at three neighbours."),
        bodies=bodies,
        local_names={"rows": ("rows", "height", "n_rows"), "cols": ("cols", "width", "n_cols"),
                     "side": ("side", "dp", "size_at"), "best": ("best", "largest", "top"), "i": ("i", "r", "y"),
                     "j": ("j", "c", "x"), "prev": ("prev", "above", "last_row"), "row": ("row", "line", "cells"),
                     "cur": ("cur", "this_row", "current"), "cell": ("cell", "bit", "value")},
        ref=ref, cases=cases)


@_family("dynamic_programming.longest_rising", ("subsequences", "lis", "patience"), """
    A subsequence keeps some elements in their original order, not necessarily next to each other. The
    length of the longest increasing subsequence ending at position i is one more than the best length
    ending at an earlier, smaller element, a quadratic table fill. Keeping, for each length, the smallest
    possible last element and updating it with binary search brings the time down to O(n log n).""")
def _longest_rising(rng) -> Made:
    strict = pick(rng, (True, True, False))
    cmp = "<" if strict else "<="
    fn = "bisect_left" if strict else "bisect_right"

    def ref(values):
        best = []
        for i, v in enumerate(values):
            below = [best[j] for j in range(i) if (values[j] < v if strict else values[j] <= v)]
            best.append(1 + max(below, default=0))
        return max(best, default=0)

    bodies = (
        _code(f"""
            $lengths = []
            for $i, $v in enumerate($values):
                $longest = 1
                for $j in range($i):
                    if $values[$j] {cmp} $v:
                        $longest = max($longest, $lengths[$j] + 1)
                $lengths.append($longest)
            return max($lengths, default=0)"""),
        Body(_code(f"""
            $tails = []
            for $v in $values:
                $k = {fn}($tails, $v)
                if $k == len($tails):
                    $tails.append($v)
                else:
                    $tails[$k] = $v
            return len($tails)"""), (f"from bisect import {fn}",)))
    cases = [(_ints(rng, rng.randint(3, 11), 0, 20),) for _ in range(4)] + [([],), ([5],), ([3, 3, 3],),
                                                                           ([9, 7, 5],), ([1, 3, 2, 4],)]
    kind = "strictly increasing" if strict else "non-decreasing"
    return _build(
        rng, names=("increasing_subsequence_length" if strict else "nondecreasing_subsequence_length", "lis_length",
                    "longest_rising", "longest_climb", "max_ordered_subsequence"),
        params=[P("values", ("values", "nums", "heights", "sequence"), "list[int]", "The numbers, in order.")],
        returns=("int", f"The length of the longest {kind} subsequence; 0 for an empty list."),
        summaries=(f"Return the length of the longest {kind} subsequence of `$values`.",
                   f"Find how many elements the longest {kind} subsequence of $values has (elements need not be "
                   "adjacent).",
                   f"Compute the longest {kind} subsequence length with dynamic programming."),
        notes=("A subsequence keeps the original order but may skip elements.",
               "Equal values do not continue a strictly increasing run." if strict else
               "Equal values may follow each other."),
        bodies=bodies, local_names={"lengths": ("lengths", "best_end", "dp"), "i": ("i", "idx", "pos"),
                                    "v": ("v", "value", "x"), "longest": ("longest", "best", "length"),
                                    "j": ("j", "earlier", "prev"), "tails": ("tails", "ends", "piles"),
                                    "k": ("k", "slot", "where")},
        ref=ref, cases=cases)


@_family("dynamic_programming.common_subsequence", ("subsequences", "lcs", "two-dimensional-table"), """
    The longest common subsequence of two strings is computed with a table over prefixes: if the last
    characters of two prefixes match, the answer is one more than for both prefixes without it; otherwise
    it is the better of dropping the last character of one or of the other. Rows can be computed one at a
    time, so only the previous row has to be stored.""")
def _common_subsequence(rng) -> Made:
    want = pick(rng, ("length", "length", "deletions"))

    def lcs(a, b):
        prev = [0] * (len(b) + 1)
        for x in a:
            cur = [0]
            for j, y in enumerate(b):
                cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
            prev = cur
        return prev[-1]

    def ref(first, second):
        n = lcs(first, second)
        return n if want == "length" else len(first) + len(second) - 2 * n

    out = "$table[-1][-1]" if want == "length" else "len($first) + len($second) - 2 * $table[-1][-1]"
    out_row = "$prev[-1]" if want == "length" else "len($first) + len($second) - 2 * $prev[-1]"
    bodies = (
        _code(f"""
            $table = [[0] * (len($second) + 1) for _ in range(len($first) + 1)]
            for $i, $x in enumerate($first, 1):
                for $j, $y in enumerate($second, 1):
                    if $x == $y:
                        $table[$i][$j] = $table[$i - 1][$j - 1] + 1
                    else:
                        $table[$i][$j] = max($table[$i - 1][$j], $table[$i][$j - 1])
            return {out}"""),
        _code(f"""
            $prev = [0] * (len($second) + 1)
            for $x in $first:
                $cur = [0]
                for $j, $y in enumerate($second):
                    $cur.append($prev[$j] + 1 if $x == $y else max($prev[$j + 1], $cur[$j]))
                $prev = $cur
            return {out_row}"""))

    def word():
        return "".join(pick(rng, "abcde") for _ in range(rng.randint(2, 8)))

    cases = [(word(), word()) for _ in range(4)] + [("", "abc"), ("abc", "abc"), ("abc", "xyz"), ("abcde", "ace")]
    if want == "length":
        summaries = ("Return the length of the longest common subsequence of `$first` and `$second`.",
                     "Find how long the longest sequence of characters is that appears, in order, in both $first "
                     "and $second.",
                     "Compute the LCS length of two strings with a dynamic programming table.")
        ret = "The length of the longest common subsequence."
        names = ("lcs_length", "longest_common_subsequence", "common_subsequence_length", "shared_order_length",
                 "lcs_size")
    else:
        summaries = ("Return the fewest character deletions (from either string) that make `$first` and `$second` "
                     "equal.",
                     "Count the minimum number of characters to delete from $first and $second so that the two "
                     "strings become the same.",
                     "Use the longest common subsequence to compute the deletion distance between two strings.")
        ret = "The minimum total number of deletions."
        names = ("deletion_distance", "min_deletions_to_match", "delete_to_equal", "trim_to_common", "deletions_needed")
    return _build(
        rng, names=names,
        params=[P("first", ("first", "a", "s1", "left"), "str", "The first string."),
                P("second", ("second", "b", "s2", "right"), "str", "The second string.")],
        returns=("int", ret), summaries=summaries,
        notes=("A subsequence need not be contiguous.", "Either string may be empty."),
        bodies=bodies, local_names={"table": ("table", "dp", "grid"), "i": ("i", "r", "row"), "j": ("j", "c", "col"),
                                    "x": ("x", "ch1", "p"), "y": ("y", "ch2", "q"), "prev": ("prev", "above", "last"),
                                    "cur": ("cur", "row_now", "current")},
        ref=ref, cases=cases)


@_family("dynamic_programming.knapsack", ("knapsack", "zero-one", "capacity-table"), """
    In the 0/1 knapsack problem each item is either packed or left behind, and the goal is the largest total
    value whose weight fits the capacity. A table indexed by capacity holds the best value for every
    budget; adding an item updates it from high capacities to low, so that each item is used at most once.
    Trying every subset gives the same answer but doubles the work with every item.""")
def _knapsack(rng) -> Made:
    layout = pick(rng, ("pairs", "lists"))

    def best(weights, values, capacity):
        table = [0] * (capacity + 1)
        for w, v in zip(weights, values):
            for c in range(capacity, w - 1, -1):
                table[c] = max(table[c], table[c - w] + v)
        return table[capacity]

    if layout == "pairs":
        def ref(items, capacity):
            return best([w for w, _ in items], [v for _, v in items], capacity)
        params = [P("items", ("items", "goods", "loot", "options"), "list[tuple[int, int]]",
                    "(weight, value) pairs with positive weights."),
                  P("capacity", ("capacity", "limit", "max_weight", "budget"), "int", "The most weight that fits.")]
        loop = "for $w, $v in $items:"
        rec_get = "$w, $v = $items[$k]"
        size = "len($items)"
        src = "$items"
    else:
        def ref(weights, values, capacity):
            return best(weights, values, capacity)
        params = [P("weights", ("weights", "sizes", "costs", "w_list"), "list[int]", "Positive item weights."),
                  P("values", ("values", "gains", "worths", "v_list"), "list[int]", "The value of each item."),
                  P("capacity", ("capacity", "limit", "max_weight", "budget"), "int", "The most weight that fits.")]
        loop = "for $w, $v in zip($weights, $values):"
        rec_get = "$w, $v = $weights[$k], $values[$k]"
        size = "len($weights)"
        src = "list(zip($weights, $values))"
    bodies = (
        _code(f"""
            $table = [0] * ($capacity + 1)
            {loop}
                for $c in range($capacity, $w - 1, -1):
                    $table[$c] = max($table[$c], $table[$c - $w] + $v)
            return $table[$capacity]"""),
        Body(_code(f"""
            @lru_cache(maxsize=None)
            def $best($k: int, $room: int) -> int:
                if $k == {size}:
                    return 0
                {rec_get}
                $skip = $best($k + 1, $room)
                if $w > $room:
                    return $skip
                return max($skip, $v + $best($k + 1, $room - $w))

            return $best(0, $capacity)"""), ("from functools import lru_cache",)),
        Body(_code(f"""
            $pool = {src}
            $top = 0
            for $r in range(len($pool) + 1):
                for $subset in combinations($pool, $r):
                    $w_sum = sum($w for $w, _ in $subset)
                    $v_sum = sum($v for _, $v in $subset)
                    if $w_sum <= $capacity:
                        $top = max($top, $v_sum)
            return $top"""), ("from itertools import combinations",)))

    def items():
        return [(rng.randint(1, 9), rng.randint(1, 30)) for _ in range(rng.randint(1, 6))]

    raw = [(items(), rng.randint(0, 20)) for _ in range(4)]
    raw += [([], 10), ([(5, 10)], 4), ([(5, 10)], 5), ([(1, 1), (3, 4), (4, 5), (5, 7)], 7)]
    if layout == "pairs":
        cases = raw
    else:
        cases = [([w for w, _ in it], [v for _, v in it], cap) for it, cap in raw]
    return _build(
        rng, names=("knapsack", "best_pack_value", "max_loot", "pack_bag", "knapsack_01", "best_load"),
        params=params,
        returns=("int", "The largest total value of items whose total weight is at most the capacity."),
        summaries=("Solve the 0/1 knapsack problem: return the largest total value of a selection of items whose "
                   "weights add up to at most `$capacity`.",
                   "Choose items (each at most once) to maximise their total value without exceeding the weight "
                   "limit $capacity.",
                   "Compute the best value that fits in a knapsack of the given capacity."),
        notes=("Each item can be taken once or not at all.", "An empty selection is allowed and is worth 0."),
        bodies=bodies,
        local_names={"table": ("table", "best_at", "dp"), "w": ("w", "weight", "wt"), "v": ("v", "value", "val"),
                     "c": ("c", "cap", "space"), "best": ("best", "solve", "gain"), "k": ("k", "idx", "i"),
                     "room": ("room", "left", "free"), "skip": ("skip", "without", "leave"),
                     "pool": ("pool", "pairs", "all_items"), "top": ("top", "answer", "result"),
                     "r": ("r", "size", "n"),
                     "subset": ("subset", "chosen", "combo"), "w_sum": ("w_sum", "total_weight", "load"),
                     "v_sum": ("v_sum", "total_value", "worth")},
        ref=ref, cases=cases)


@_family("dynamic_programming.fewest_coins", ("knapsack", "unbounded", "minimum-count"), """
    The fewest coins that make an amount, with an unlimited supply of each denomination, is an unbounded
    knapsack: the best count for amount a is one more than the best count for a - coin, minimised over the
    coins. Filling the table for every amount from 0 up makes each entry depend on smaller, already solved
    amounts; amounts that cannot be made keep an "infinite" marker. A greedy choice of the largest coin is
    not always right (with coins 1, 3 and 4, the amount 6 needs 3 + 3).""")
def _fewest_coins(rng) -> Made:
    impossible = pick(rng, (-1, None))

    def ref(coins, amount):
        inf = float("inf")
        best = [0] + [inf] * amount
        for a in range(1, amount + 1):
            for c in coins:
                if c <= a and best[a - c] + 1 < best[a]:
                    best[a] = best[a - c] + 1
        return impossible if best[amount] == inf else int(best[amount])

    bodies = (
        _code(f"""
            $inf = float("inf")
            $best = [0] + [$inf] * $amount
            for $a in range(1, $amount + 1):
                for $coin in $coins:
                    if $coin <= $a:
                        $best[$a] = min($best[$a], $best[$a - $coin] + 1)
            return {impossible} if $best[$amount] == $inf else int($best[$amount])"""),
        _code(f"""
            $best = {{0: 0}}
            for $a in range(1, $amount + 1):
                $options = [$best[$a - $coin] + 1 for $coin in $coins if $a - $coin in $best]
                if $options:
                    $best[$a] = min($options)
            return $best.get($amount, {impossible})"""),
        Body(_code(f"""
            @lru_cache(maxsize=None)
            def $fewest($rest: int) -> float:
                if $rest == 0:
                    return 0
                $options = [$fewest($rest - $coin) + 1 for $coin in $coins if $coin <= $rest]
                return min($options, default=float("inf"))

            $n = $fewest($amount)
            return {impossible} if $n == float("inf") else int($n)"""), ("from functools import lru_cache",)))
    cases = [(sorted(rng.sample(range(1, 13), rng.randint(1, 4))), rng.randint(0, 40)) for _ in range(4)]
    cases += [([1, 3, 4], 6), ([2], 3), ([5, 10], 0), ([7], 14), ([2, 5], 1)]
    return _build(
        rng, names=("fewest_coins", "coin_count_for", "coin_change_min", "least_coins_for", "minimum_change"),
        params=[P("coins", ("coins", "denominations", "values", "pieces"), "list[int]",
                  "The coin values available (positive, each in unlimited supply)."),
                P("amount", ("amount", "total", "target", "change"), "int", "The amount to make (zero or more).")],
        returns=("int" if impossible == -1 else "int | None",
                 f"The smallest number of coins adding up to the amount, or {impossible} if it cannot be made."),
        summaries=("Return the fewest coins from `$coins` (any number of each) that add up to exactly `$amount`.",
                   f"Find the minimum number of coins needed to make $amount, or {impossible} when no combination "
                   "works.",
                   "Compute the smallest coin count for an amount with dynamic programming over all smaller amounts."),
        notes=("The amount 0 needs no coins.", "Taking the largest coin first does not always work."),
        bodies=bodies, local_names={"inf": ("inf", "unreachable", "infinity"), "best": ("best", "dp", "fewest_for"),
                                    "a": ("a", "value", "sub_amount"), "coin": ("coin", "c", "piece"),
                                    "options": ("options", "candidates", "counts"),
                                    "fewest": ("fewest", "solve", "need"),
                                    "rest": ("rest", "left", "remaining"), "n": ("n", "result", "count")},
        ref=ref, cases=cases)


@_family("dynamic_programming.change_ways", ("knapsack", "combinations-count", "loop-order"), """
    Counting the ways to make an amount from coins, where 2 + 1 and 1 + 2 are the same way, depends on the
    loop order: processing one coin at a time over all amounts counts each combination once, because the
    coins of a combination are always added in the same order. Swapping the loops would count ordered
    sequences instead, which is a different question.""")
def _change_ways(rng) -> Made:
    ordered = pick(rng, (False, False, True))

    def ref(coins, amount):
        ways = [1] + [0] * amount
        if ordered:
            for a in range(1, amount + 1):
                ways[a] = sum(ways[a - c] for c in coins if c <= a)
        else:
            for c in coins:
                for a in range(c, amount + 1):
                    ways[a] += ways[a - c]
        return ways[amount]

    if ordered:
        bodies = (
            _code("""
                $ways = [1] + [0] * $amount
                for $a in range(1, $amount + 1):
                    for $coin in $coins:
                        if $coin <= $a:
                            $ways[$a] += $ways[$a - $coin]
                return $ways[$amount]"""),
            Body(_code("""
                @lru_cache(maxsize=None)
                def $count($rest: int) -> int:
                    if $rest == 0:
                        return 1
                    return sum($count($rest - $coin) for $coin in $coins if $coin <= $rest)

                return $count($amount)"""), ("from functools import lru_cache",)))
        what = "ordered sequences of coins (1 + 2 and 2 + 1 count separately)"
    else:
        bodies = (
            _code("""
                $ways = [1] + [0] * $amount
                for $coin in $coins:
                    for $a in range($coin, $amount + 1):
                        $ways[$a] += $ways[$a - $coin]
                return $ways[$amount]"""),
            Body(_code("""
                @lru_cache(maxsize=None)
                def $count($k: int, $rest: int) -> int:
                    if $rest == 0:
                        return 1
                    if $k == len($coins) or $rest < 0:
                        return 0
                    return $count($k, $rest - $coins[$k]) + $count($k + 1, $rest)

                return $count(0, $amount)"""), ("from functools import lru_cache",)))
        what = "combinations of coins (the order does not matter)"
    cases = [(sorted(rng.sample(range(1, 11), rng.randint(1, 4))), rng.randint(0, 25)) for _ in range(4)]
    cases += [([1, 2, 5], 5), ([2], 3), ([3, 7], 0), ([1], 6)]
    return _build(
        rng, names=("change_ways", "count_change", "ways_to_pay", "coin_combinations", "making_change_count"),
        params=[P("coins", ("coins", "denominations", "notes", "pieces"), "list[int]",
                  "Distinct positive coin values, each in unlimited supply."),
                P("amount", ("amount", "total", "target", "price"), "int", "The amount to make (zero or more).")],
        returns=("int", f"The number of {what}; 1 for amount 0."),
        summaries=(f"Return the number of {what} that add up to `$amount` using `$coins`.",
                   f"Count the {what} summing to $amount with unlimited coins of each value in $coins.",
                   f"In how many ways can an amount be paid with the given coins? Count {what}."),
        notes=("There is exactly one way to pay 0: use no coins.", "The loop order decides what is counted."),
        bodies=bodies, local_names={"ways": ("ways", "dp", "count_for"), "a": ("a", "value", "sub"),
                                    "coin": ("coin", "c", "piece"), "count": ("count", "solve", "ways_from"),
                                    "rest": ("rest", "left", "remaining"), "k": ("k", "idx", "i")},
        ref=ref, cases=cases)


@_family("dynamic_programming.edit_distance", ("string_dp", "levenshtein", "prefix-table"), """
    The edit distance between two strings is the least number of single-character edits turning one into
    the other. Over prefixes, the last characters either match (no edit needed) or the cheapest of three
    moves is taken: delete, insert or substitute. A table of len(a) + 1 rows and len(b) + 1 columns, with
    the empty-prefix row and column filled with 0, 1, 2, ..., holds every intermediate answer.""")
def _edit_distance(rng) -> Made:
    substitution = pick(rng, (True, True, False))  # False: only insertions and deletions

    def ref(source, target):
        prev = list(range(len(target) + 1))
        for i, x in enumerate(source, 1):
            cur = [i]
            for j, y in enumerate(target, 1):
                if x == y:
                    cur.append(prev[j - 1])
                else:
                    opts = [prev[j] + 1, cur[j - 1] + 1] + ([prev[j - 1] + 1] if substitution else [])
                    cur.append(min(opts))
            prev = cur
        return prev[-1]

    sub_t = ", $table[$i - 1][$j - 1]" if substitution else ""
    sub_r = ", $prev[$j - 1]" if substitution else ""
    bodies = (
        _code(f"""
            $table = [[0] * (len($target) + 1) for _ in range(len($source) + 1)]
            for $i in range(len($source) + 1):
                $table[$i][0] = $i
            for $j in range(len($target) + 1):
                $table[0][$j] = $j
            for $i in range(1, len($source) + 1):
                for $j in range(1, len($target) + 1):
                    if $source[$i - 1] == $target[$j - 1]:
                        $table[$i][$j] = $table[$i - 1][$j - 1]
                    else:
                        $table[$i][$j] = 1 + min($table[$i - 1][$j], $table[$i][$j - 1]{sub_t})
            return $table[-1][-1]"""),
        _code(f"""
            $prev = list(range(len($target) + 1))
            for $i, $x in enumerate($source, 1):
                $cur = [$i]
                for $j, $y in enumerate($target, 1):
                    if $x == $y:
                        $cur.append($prev[$j - 1])
                    else:
                        $cur.append(1 + min($prev[$j], $cur[$j - 1]{sub_r}))
                $prev = $cur
            return $prev[-1]"""))

    def word():
        return "".join(pick(rng, "abcdeo") for _ in range(rng.randint(1, 7)))

    cases = [(word(), word()) for _ in range(4)] + [("", "abc"), ("same", "same"), ("kitten", "sitting"),
                                                    ("ab", "ba"), ("x", "")]
    edits = "insertions, deletions and substitutions" if substitution else "insertions and deletions (no substitutions)"
    return _build(
        rng, names=("edit_distance", "levenshtein", "min_edits", "string_distance", "transform_cost")
        if substitution else ("indel_distance", "insert_delete_distance", "min_indels", "edit_distance_no_swap",
                              "gap_distance"),
        params=[P("source", ("source", "a", "word", "start"), "str", "The string to transform."),
                P("target", ("target", "b", "goal", "end"), "str", "The string to obtain.")],
        returns=("int", f"The minimum number of single-character {edits}."),
        summaries=(f"Return the fewest single-character {edits} that turn `$source` into `$target`.",
                   f"Compute the edit distance from $source to $target, allowing {edits}.",
                   f"How many {edits} are needed at least to change one string into another?"),
        notes=("Each edit changes one character.", "The distance from a string to the empty string is its length."),
        bodies=bodies, local_names={"table": ("table", "dp", "dist"), "i": ("i", "r", "row"), "j": ("j", "c", "col"),
                                    "prev": ("prev", "above", "last_row"), "cur": ("cur", "row_now", "current"),
                                    "x": ("x", "ch_a", "p"), "y": ("y", "ch_b", "q")},
        ref=ref, cases=cases)


@_family("dynamic_programming.word_break", ("string_dp", "segmentation", "prefix-flags"), """
    Whether a string without spaces can be split into dictionary words is decided over prefixes: the prefix
    of length i can be split if some shorter splittable prefix of length j is followed by a dictionary word
    text[j:i]. The empty prefix is splittable, and the answer for the whole string is the last flag.
    Counting the splits instead of flagging them uses the same table with sums.""")
def _word_break(rng) -> Made:
    count = pick(rng, (False, True))
    vocab = pick(rng, (["cat", "cats", "and", "sand", "dog"], ["apple", "pen", "pine", "pineapple"],
                       ["a", "aa", "b", "ab"], ["sun", "flower", "sunflower", "seed", "seeds"],
                       ["red", "blue", "bird", "redbird", "bluebird"]))

    def ref(text, words):
        ok = [1] + [0] * len(text)
        ws = set(words)
        for i in range(1, len(text) + 1):
            ok[i] = sum(ok[j] for j in range(i) if text[j:i] in ws)
        return ok[-1] if count else ok[-1] > 0

    if count:
        bodies = (
            _code("""
                $known = set($words)
                $ways = [1] + [0] * len($text)
                for $i in range(1, len($text) + 1):
                    for $j in range($i):
                        if $ways[$j] and $text[$j:$i] in $known:
                            $ways[$i] += $ways[$j]
                return $ways[-1]"""),
            Body(_code("""
                @lru_cache(maxsize=None)
                def $splits($start: int) -> int:
                    if $start == len($text):
                        return 1
                    return sum($splits($start + len($w)) for $w in $words if $text.startswith($w, $start))

                return $splits(0)"""), ("from functools import lru_cache",)))
    else:
        bodies = (
            _code("""
                $known = set($words)
                $ok = [True] + [False] * len($text)
                for $i in range(1, len($text) + 1):
                    $ok[$i] = any($ok[$j] and $text[$j:$i] in $known for $j in range($i))
                return $ok[-1]"""),
            Body(_code("""
                @lru_cache(maxsize=None)
                def $splits($start: int) -> bool:
                    if $start == len($text):
                        return True
                    return any($text.startswith($w, $start) and $splits($start + len($w)) for $w in $words)

                return $splits(0)"""), ("from functools import lru_cache",)),
            _code("""
                $reachable = {0}
                for $i in range(1, len($text) + 1):
                    if any($j in $reachable and $text[$j:$i] in $words for $j in range($i)):
                        $reachable.add($i)
                return len($text) in $reachable"""))
    cases = []
    for _ in range(4):
        parts = [pick(rng, vocab) for _ in range(rng.randint(1, 4))]
        s = "".join(parts)
        if rng.random() < 0.35:
            s += pick(rng, "xz")
        cases.append((s, vocab))
    cases += [("", vocab), (vocab[0], vocab), ("q", vocab), (vocab[1] + vocab[0], vocab)]
    if count:
        summaries = ("Return the number of ways to split `$text` into a sequence of words from `$words`.",
                     "Count the different segmentations of $text where every piece is one of $words.",
                     "In how many ways can a string without spaces be cut into dictionary words?")
        ret = ("int", "The number of segmentations; 1 for the empty string.")
        names = ("count_segmentations", "split_ways", "word_break_count", "ways_to_segment", "parse_count")
    else:
        summaries = ("Return True if `$text` can be split into a sequence of one or more words from `$words`.",
                     "Decide whether $text is a concatenation of words taken from $words (words may repeat).",
                     "Check if a string without spaces can be segmented into dictionary words.")
        ret = ("bool", "True if such a split exists; the empty string counts as splittable.")
        names = ("word_break", "can_segment", "is_concatenation", "splits_into_words", "segmentable")
    return _build(
        rng, names=names,
        params=[P("text", ("text", "s", "phrase", "joined"), "str", "The string without spaces."),
                P("words", ("words", "dictionary", "vocab", "lexicon"), "list[str]", "The allowed words.")],
        returns=ret, summaries=summaries,
        notes=("A word may be used any number of times.", "Solve it over prefixes of the text."),
        bodies=bodies, local_names={"known": ("known", "word_set", "lookup"), "ways": ("ways", "dp", "count_to"),
                                    "ok": ("ok", "can", "dp"), "i": ("i", "end", "stop"), "j": ("j", "cut", "begin"),
                                    "splits": ("splits", "solve", "from_pos"), "start": ("start", "pos", "at"),
                                    "w": ("w", "word", "piece"), "reachable": ("reachable", "ends", "cuts")},
        ref=ref, cases=cases)


@_family("dynamic_programming.decode_ways", ("string_dp", "counting", "fibonacci-like"), """
    A digit string can be decoded as letters where 1 is A and 26 is Z; "226" reads as 2-2-6, 22-6 or 2-26.
    The number of decodings of a prefix is the count for the prefix one shorter, if the last digit alone
    is a valid code (1-9), plus the count for the prefix two shorter, if the last two digits form 10-26.
    Like the Fibonacci numbers, only the two previous counts are needed.""")
def _decode_ways(rng) -> Made:
    top = pick(rng, (26, 26, 20))

    def ref(digits):
        prev2, prev1 = 0, 1
        for i, d in enumerate(digits):
            cur = prev1 if d != "0" else 0
            if i and 10 <= int(digits[i - 1:i + 1]) <= top:
                cur += prev2
            prev2, prev1 = prev1, cur
        return prev1 if digits else 1

    bodies = (
        _code(f"""
            $ways = [1] + [0] * len($digits)
            for $i in range(1, len($digits) + 1):
                if $digits[$i - 1] != "0":
                    $ways[$i] += $ways[$i - 1]
                if $i >= 2 and 10 <= int($digits[$i - 2:$i]) <= {top}:
                    $ways[$i] += $ways[$i - 2]
            return $ways[-1]"""),
        _code(f"""
            $before, $last = 0, 1
            for $i, $d in enumerate($digits):
                $now = $last if $d != "0" else 0
                if $i > 0 and 10 <= int($digits[$i - 1:$i + 1]) <= {top}:
                    $now += $before
                $before, $last = $last, $now
            return $last"""),
        Body(_code(f"""
            @lru_cache(maxsize=None)
            def $count($pos: int) -> int:
                if $pos == len($digits):
                    return 1
                if $digits[$pos] == "0":
                    return 0
                $total = $count($pos + 1)
                if $pos + 1 < len($digits) and int($digits[$pos:$pos + 2]) <= {top}:
                    $total += $count($pos + 2)
                return $total

            return $count(0)"""), ("from functools import lru_cache",)))
    cases = [("".join(pick(rng, "1122634570") for _ in range(rng.randint(1, 9))),) for _ in range(4)]
    cases += [("",), ("0",), ("10",), ("226",), ("1111",)]
    letters = "A to Z" if top == 26 else "A to T"
    return _build(
        rng, names=("decode_ways", "count_decodings", "letter_readings", "num_decodings", "ways_to_read"),
        params=[P("digits", ("digits", "code", "message", "encoded"), "str", "A string of decimal digits.")],
        returns=("int", "The number of decodings; 1 for the empty string, 0 if none is valid."),
        summaries=(f"Count the ways to decode `$digits` when 1..{top} stand for the letters {letters}.",
                   f"Return how many letter strings encode to $digits under the code 1 = A, 2 = B, ..., {top} = "
                   f"{chr(64 + top)}.",
                   f"A message of letters {letters} was encoded as numbers 1-{top}; count its possible decodings."),
        notes=("A '0' cannot stand alone, and codes never start with 0.", "Only two previous counts are needed."),
        bodies=bodies, local_names={"ways": ("ways", "dp", "count_to"), "i": ("i", "k", "end"),
                                    "before": ("before", "prev2", "two_back"), "last": ("last", "prev1", "one_back"),
                                    "d": ("d", "digit", "ch"), "now": ("now", "cur", "here"),
                                    "count": ("count", "solve", "from_pos"), "pos": ("pos", "at", "start"),
                                    "total": ("total", "acc", "result")},
        ref=ref, cases=cases)


# ----------------------------------------------------------------------------------------------- classes


def _lit(value: Any) -> str:
    """`repr(value)` made safe inside a Template ("$" is the placeholder mark)."""
    return repr(value).replace("$", "$$")


@dataclass
class M:
    """A method the class docstring lists: its name and one line on what it does (Templates both, e.g.
    "$deposit" and "Add `$amount` to the balance."). The signature is not written here: `_build_class`
    reads it from the rendered class, so the docstring shows the very parameter names, types and return
    type of the solution that follows it."""

    name: str
    doc: str


def _ann_text(node: ast.expr) -> str:
    """An annotation as a reader writes it: a quoted forward reference ("Vector") without its quotes."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return ast.unparse(node)


def _arg_text(owner: str, arg: ast.arg, default: ast.expr | None) -> str:
    if arg.annotation is None:  # the docstring promises a type for every parameter
        raise ValueError(f"{owner}: parameter {arg.arg!r} has no annotation")
    return f"{arg.arg}: {_ann_text(arg.annotation)}" + ("" if default is None else f" = {ast.unparse(default)}")


def _signature(fn: ast.FunctionDef) -> str:
    """`name(a: int, b: str = 'x') -> bool` for a method as its docstring line shows it (without self)."""
    a = fn.args
    positional = a.posonlyargs + a.args
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(a.defaults)) + list(a.defaults)
    static = any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in fn.decorator_list)
    parts = [_arg_text(fn.name, arg, d) for arg, d in list(zip(positional, defaults))[0 if static else 1:]]
    if a.vararg:
        parts.append("*" + _arg_text(fn.name, a.vararg, None))
    elif a.kwonlyargs:
        parts.append("*")
    parts += [_arg_text(fn.name, arg, d) for arg, d in zip(a.kwonlyargs, a.kw_defaults)]
    if a.kwarg:
        parts.append("**" + _arg_text(fn.name, a.kwarg, None))
    if fn.returns is None:
        raise ValueError(f"{fn.name}: no return annotation for the docstring to show")
    return f"{fn.name}({', '.join(parts)}) -> {_ann_text(fn.returns)}"


def _is_property(fn: ast.FunctionDef) -> bool:
    """`@property` or `@x.setter` (`@x.deleter`): an attribute from outside, documented under Attributes."""
    return any(isinstance(d, ast.Name) and d.id == "property"
               or isinstance(d, ast.Attribute) and d.attr in ("setter", "deleter") for d in fn.decorator_list)


def _lineage(classes: dict[str, ast.ClassDef], entry: str) -> list[ast.ClassDef]:
    """The class `entry` and the base classes defined beside it, nearest first (single inheritance)."""
    chain = [classes[entry]]
    while True:
        bases = [b.id for b in chain[-1].bases if isinstance(b, ast.Name) and b.id in classes]
        if not bases:
            return chain
        chain.append(classes[bases[0]])


def _constructor(chain: list[ast.ClassDef]) -> list[tuple[str, str]]:
    """(name, annotation) of each constructor argument: `__init__`'s, a dataclass's fields, or a base's."""
    for cls in chain:
        init = next((n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
        if init is not None:
            args = init.args.posonlyargs + init.args.args[1:] + init.args.kwonlyargs
            return [(a.arg, _ann_text(a.annotation) if a.annotation else "") for a in args]
        if any("dataclass" in ast.unparse(d) for d in cls.decorator_list):
            return [(n.target.id, _ann_text(n.annotation)) for n in cls.body
                    if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)]
    return []


def _interface(source: str, entry: str, params: list[tuple[str, str]], attrs: Sequence[str],
               methods: Sequence[str]) -> list[tuple[str, str | None]]:
    """The signature of each of `methods` in the class `entry` of `source`, with the base class it is
    inherited from (None: the class defines it), after checking that the docstring's account of the class
    is complete: `params` (name, type) are the constructor's arguments, every public method the class
    defines is among `methods` and every property among `attrs`. A family whose lists drift from its
    bodies fails here, at generation time, instead of handing a student a wrong prompt."""
    classes = {n.name: n for n in ast.parse(source).body if isinstance(n, ast.ClassDef)}
    chain = _lineage(classes, entry)
    if _constructor(chain) != list(params):
        raise ValueError(f"{entry}: the docstring's constructor arguments {list(params)} are not the class's "
                         f"{_constructor(chain)}")
    own = [n for n in chain[0].body if isinstance(n, ast.FunctionDef)]
    hidden = sorted({n.name for n in own if not n.name.startswith("_")
                     and (n.name not in attrs if _is_property(n) else n.name not in methods)})
    if hidden:
        raise ValueError(f"{entry}: the docstring does not list {hidden}")
    out: list[tuple[str, str | None]] = []
    for name in methods:
        found = next(((n, cls.name) for cls in chain for n in cls.body
                      if isinstance(n, ast.FunctionDef) and n.name == name and not _is_property(n)), None)
        if found is None:
            raise ValueError(f"{entry}: the docstring lists {name!r}, which the class does not have")
        fn, owner = found
        out.append((_signature(fn), None if owner == entry else owner))
    return out


def _class_docstring(rng, summary: str, params: list[tuple[str, str, str]], attrs: list[tuple[str, str, str]],
                     methods: list[tuple[str, str]], session: list[tuple[str, str | None]], note: str) -> list[str]:
    """Class docstring lines: the summary (and maybe the note), then the constructor's arguments, the
    attributes and the methods, each method with its signature and one line on what it does; sometimes a
    `>>>` session after them. The sections are always there, because the class docstring is all a student
    is shown (the methods come after it, in the completion); the layout is Google's, the phi-1 paper's
    (unindented "name (type): ..." lines) or numpy's.

    params, attrs: (name, type, doc); methods: (signature, doc)."""
    layout = pick(rng, ("google", "paper", "numpy"))
    lines = _wrap(summary, 88)
    if note and pick(rng, (True, True, False)):
        lines += [""] + _wrap(note, 88)
    typed = (lambda n, t: f"{n} : {t}") if layout == "numpy" else (lambda n, t: f"{n} ({t})")
    sections = [("Args" if layout == "google" else "Parameters", [(typed(n, t), d) for n, t, d in params]),
                ("Attributes", [(typed(n, t), d) for n, t, d in attrs]), ("Methods", methods)]
    for title, entries in sections:
        if not entries:
            continue
        if layout == "numpy":
            lines += ["", title, "-" * len(title)]
            for head, doc in entries:
                lines += [head] + ["    " + s for s in _wrap(doc, 84)]
            continue
        indent = "    " if layout == "google" else ""
        lines += ["", title + ":"]
        for head, doc in entries:
            # the signature opens the line and is shorter than the width, so it is never broken
            lines += [indent + s for s in textwrap.wrap(f"{head}: {doc}", 88 - len(indent), subsequent_indent="    ")]
    if session and pick(rng, (True, False, False)):
        lines += ["", "Examples", "--------"] if layout == "numpy" else ["", "Example:"]
        for line, result in session:
            lines.append(f">>> {line}")
            if result is not None:
                lines.append(result)
    if pick(rng, (True, False, False)):
        return [""] + lines
    return lines


def _build_class(rng, *, names: Sequence[str], summaries: Sequence[str], params: list[P],
                 attrs: list[tuple[str, str, str]], methods: list[M], bodies: Sequence[Body | str],
                 script: list[str], session: list[tuple[str, str | None]], notes: Sequence[str] = (),
                 local_names: dict[str, Sequence[str]] | None = None, consts: dict | None = None,
                 header: str = "class $cls:", decorator: str = "", rule: str = "", description: str = "") -> Made:
    """Draw and render a class exercise. The body templates are the class members (indented one level
    by this function); `script` is the test code (templates: object and method names are drawn), whose
    expected values the family computed with its own model of the class; `session` is a short `>>>`
    example for the docstring (a line and its printed result, or None for a statement).

    The class docstring is all a student is shown, so it documents the whole interface the tests use:
    `params` are the constructor's arguments (in order, with their types), `attrs` the attributes and
    properties, `methods` every public method the class defines and each special method the tests rely
    on (an operator, len(), str()), inherited ones included; `_interface` reads their signatures from the
    rendered class and checks that nothing is missing.
    rule: what the tests hold the class to beyond the summaries, above all each exception they expect and
    when it is raised ("`$remove` raises KeyError for a product not in the cart."). It always follows the
    drawn summary, while one of `notes` appears only on some draws."""
    used: set[str] = set()
    entry = _draw(rng, names, used)
    sub: dict[str, str] = {"cls": entry}
    sub.update({p.key: _draw(rng, p.names, used) for p in params})
    for key, options in (local_names or {}).items():
        sub[key] = _draw(rng, options, used)
    sub.update(consts or {})

    def fill(text: str) -> str:
        return string.Template(text).substitute(sub)

    summary = fill(pick(rng, summaries)) + (" " + fill(rule) if rule else "")
    note = fill(pick(rng, notes)) if notes else ""
    body = pick(rng, bodies)
    body = body if isinstance(body, Body) else Body(body)
    imports = sorted(set(body.imports))
    head = "\n".join(imports) + "\n\n\n" if imports else ""
    helpers = fill(_code(body.helpers)) + "\n\n\n" if body.helpers else ""
    members = textwrap.indent(fill(_code(body.code)), "    ", lambda line: bool(line.strip()))
    deco = decorator + "\n" if decorator else ""
    doc_attrs = [(fill(n), t, fill(d)) for n, t, d in attrs]
    signatures = _interface(f"{head}{helpers}{deco}{fill(header)}\n{members}\n", entry,
                            [(sub[p.key], p.type) for p in params], [n for n, _, _ in doc_attrs],
                            [fill(m.name) for m in methods])
    doc_methods = [(sig, fill(m.doc) if base is None else f"{fill(m.doc).rstrip('.')} (inherited from `{base}`).")
                   for m, (sig, base) in zip(methods, signatures)]
    doc = _class_docstring(rng, summary, [(sub[p.key], p.type, fill(p.doc)) for p in params], doc_attrs,
                           doc_methods, [(fill(line), None if r is None else fill(r)) for line, r in session], note)
    source = f"{head}{helpers}{deco}{fill(header)}\n{_doc_text(doc, '    ')}\n\n{members}\n"
    tests = "\n".join(fill(line) for line in script) + "\n"
    summary = fill(summaries[0])
    examples = tuple((fill(line), fill(r)) for line, r in session if r is not None)[:3]
    return Made(entry, source, tests, description or summary.split(". ")[0].rstrip(".") + ".", examples)


def _raises(call: str, error: str = "ValueError") -> list[str]:
    """Test lines checking that `call` raises `error` (the harness has no pytest)."""
    return ["try:", f"    {call}", f"except {error}:", "    pass", "else:",
            f"    raise AssertionError({(call + ' should raise ' + error)!r})"]


@_family("classes.bank_account", ("simple_classes", "state", "methods"), """
    A class bundles data with the operations on it: a bank account object remembers its balance, and its
    methods are the only way the balance changes. Each method checks its own rules (no negative deposits,
    no overdrafts) so that every object stays in a valid state. The state can be stored directly, or kept
    as a history of transactions from which the balance is computed.""", verify="default")
def _bank_account(rng) -> Made:
    refuse = pick(rng, ("raise", "false"))  # what an overdraft does
    start = rng.randint(0, 200)
    balance, ops = start, []
    for _ in range(rng.randint(4, 7)):
        kind = pick(rng, ("deposit", "withdraw", "withdraw"))
        amount = rng.randint(1, 150)
        if kind == "deposit":
            balance += amount
            ops.append(("deposit", amount, balance))
        elif amount <= balance:
            balance -= amount
            ops.append(("withdraw", amount, balance))
        else:
            ops.append(("overdraw", amount, balance))
    big = balance + rng.randint(1, 50)
    script = [f"$obj = $cls({start})", f"assert $obj.$balance == {start}"]
    for kind, amount, after in ops:
        if kind == "deposit":
            script.append(f"assert $obj.$deposit({amount}) == {after}")
        elif kind == "withdraw":
            script.append(f"assert $obj.$withdraw({amount}) == {after}")
        elif refuse == "raise":
            script += _raises(f"$obj.$withdraw({amount})")
        else:
            script.append(f"assert $obj.$withdraw({amount}) is False")
    script.append(f"assert $obj.$balance == {balance}")
    script += (_raises(f"$obj.$withdraw({big})") if refuse == "raise" else [f"assert $obj.$withdraw({big}) is False"])
    script += _raises("$obj.$deposit(0)") + ["assert $cls().$balance == 0", f"assert $obj.$balance == {balance}"]
    over = ("raise ValueError(\"insufficient funds\")" if refuse == "raise" else "return False")
    ret_w = "int" if refuse == "raise" else "int | bool"
    stored = Body(_code(f'''
        def __init__(self, $initial: int = 0) -> None:
            self._$balance = $initial

        @property
        def $balance(self) -> int:
            """The money currently in the account."""
            return self._$balance

        def $deposit(self, $amount: int) -> int:
            """Add a positive amount and return the new balance."""
            if $amount <= 0:
                raise ValueError("deposit must be positive")
            self._$balance += $amount
            return self._$balance

        def $withdraw(self, $amount: int) -> {ret_w}:
            """Take out an amount that the balance covers and return the new balance."""
            if $amount <= 0:
                raise ValueError("withdrawal must be positive")
            if $amount > self._$balance:
                {over}
            self._$balance -= $amount
            return self._$balance'''))
    history = Body(_code(f'''
        def __init__(self, $initial: int = 0) -> None:
            self.$history = [$initial] if $initial else []

        @property
        def $balance(self) -> int:
            """The balance: the sum of all transactions so far."""
            return sum(self.$history)

        def $deposit(self, $amount: int) -> int:
            """Record a positive deposit and return the new balance."""
            if $amount <= 0:
                raise ValueError("deposit must be positive")
            self.$history.append($amount)
            return self.$balance

        def $withdraw(self, $amount: int) -> {ret_w}:
            """Record a withdrawal the balance covers and return the new balance."""
            if $amount <= 0:
                raise ValueError("withdrawal must be positive")
            if $amount > self.$balance:
                {over}
            self.$history.append(-$amount)
            return self.$balance'''))
    rule = ("raises ValueError" if refuse == "raise" else "returns False and changes nothing")
    d1 = rng.randint(10, 90)
    return _build_class(
        rng, names=("BankAccount", "Account", "Wallet", "SavingsAccount", "PiggyBank", "CashBox"),
        summaries=(f"A simple bank account; a withdrawal larger than the balance {rule}.",
                   f"An account holding a whole-number balance, changed only by deposits and withdrawals "
                   f"(an overdraft {rule}).",
                   f"Keep track of the money in an account; `$withdraw` {rule} when the balance is too low."),
        params=[P("initial", ("initial", "opening", "start_balance", "starting"), "int",
                  "The opening balance (default 0).")],
        attrs=[("$balance", "int", "The current balance (read-only).")],
        methods=[M("$deposit", "Add a positive `$amount` to the balance and return the new balance."),
                 M("$withdraw", "Take a positive `$amount` out and return the new balance; "
                   + ("ValueError if the balance does not cover it." if refuse == "raise" else
                      "return False instead, changing nothing, if the balance does not cover it."))],
        bodies=(stored, history), script=script,
        session=[(f"$obj = $cls({d1})", None), ("$obj.$deposit(5)", str(d1 + 5)), ("$obj.$balance", str(d1 + 5))],
        notes=("Amounts are whole numbers, e.g. cents.", "An operation that fails leaves the balance unchanged."),
        rule="`$deposit` and `$withdraw` raise ValueError for an amount that is not positive.",
        local_names={"obj": ("acct", "account", "wallet", "a"), "balance": ("balance", "funds", "total"),
                     "deposit": ("deposit", "put_in", "credit", "add_money"),
                     "withdraw": ("withdraw", "take_out", "debit", "spend"),
                     "amount": ("amount", "value", "money"), "history": ("history", "ledger", "transactions")},
        description="A bank account class with deposits, withdrawals and an overdraft rule.")


@_family("classes.shopping_cart", ("simple_classes", "dict-state", "aggregation"), """
    An object can hold a collection as its state: a shopping cart keeps, for each product, its unit price
    and quantity. Methods add to and remove from that collection, and others compute answers from it (the
    number of items, the total price) instead of storing them, so the answers can never get out of date.""",
    verify="default")
def _shopping_cart(rng) -> Made:
    discount = pick(rng, (None, (100, 10), (50, 5), (200, 20)))  # (threshold, percent off)
    products = rng.sample(("apple", "bread", "milk", "tea", "soap", "rice", "eggs", "jam"), 4)
    prices = {p: rng.randint(1, 40) for p in products}
    cart: dict[str, int] = {}

    def total() -> int:
        t = sum(prices[p] * q for p, q in cart.items())
        if discount and t >= discount[0]:
            t = t - t * discount[1] // 100
        return t

    script = ["$obj = $cls()", "assert $obj.$total() == 0", "assert $obj.$count() == 0"]
    for _ in range(rng.randint(3, 6)):
        p, q = pick(rng, products), rng.randint(1, 4)
        cart[p] = cart.get(p, 0) + q
        script.append(f"$obj.$add({p!r}, {prices[p]}, {q})")
    script += [f"assert $obj.$count() == {sum(cart.values())}", f"assert $obj.$total() == {total()}"]
    gone = pick(rng, sorted(cart))
    del cart[gone]
    script += [f"$obj.$remove({gone!r})", f"assert $obj.$count() == {sum(cart.values())}",
               f"assert $obj.$total() == {total()}"]
    script += _raises("$obj.$remove('caviar')", "KeyError")
    script += ["$obj.$add('bulk', 90, 3)"]
    cart["bulk"], prices["bulk"] = 3, 90
    script += [f"assert $obj.$total() == {total()}"]
    if discount:
        rule = f" Orders of {discount[0]} or more get {discount[1]}% off, rounded down to whole units."
        disc_code = f"    if $t >= {discount[0]}:\n        $t -= $t * {discount[1]} // 100\n"
    else:
        rule, disc_code = "", ""
    dict_body = Body(_code('''
        def __init__(self) -> None:
            self.$lines = {}

        def $add(self, $name: str, $price: int, $qty: int = 1) -> None:
            """Add `$qty` units of a product at `$price` each."""
            if $name in self.$lines:
                self.$lines[$name][1] += $qty
            else:
                self.$lines[$name] = [$price, $qty]

        def $remove(self, $name: str) -> None:
            """Drop a product from the cart; KeyError if it is not there."""
            del self.$lines[$name]

        def $count(self) -> int:
            """The number of units in the cart."""
            return sum($qty for _, $qty in self.$lines.values())

        def $total(self) -> int:
            """The price of everything in the cart."""
            $t = sum($price * $qty for $price, $qty in self.$lines.values())
            @DISC@
            return $t''').replace("    @DISC@\n", disc_code))
    list_body = Body(_code('''
        def __init__(self) -> None:
            self.$lines = []

        def $add(self, $name: str, $price: int, $qty: int = 1) -> None:
            """Add `$qty` units of a product at `$price` each."""
            self.$lines.append(($name, $price, $qty))

        def $remove(self, $name: str) -> None:
            """Drop every line of a product; KeyError if it is not in the cart."""
            if all($line[0] != $name for $line in self.$lines):
                raise KeyError($name)
            self.$lines = [$line for $line in self.$lines if $line[0] != $name]

        def $count(self) -> int:
            """The number of units in the cart."""
            return sum($line[2] for $line in self.$lines)

        def $total(self) -> int:
            """The price of everything in the cart."""
            $t = 0
            for _, $price, $qty in self.$lines:
                $t += $price * $qty
            @DISC@
            return $t''').replace("    @DISC@\n", disc_code))
    return _build_class(
        rng, names=("ShoppingCart", "Cart", "Basket", "OrderBasket", "CheckoutCart"),
        summaries=("A shopping cart that records products with their unit price and quantity." + rule,
                   "Collect products in a cart; `$total` prices the whole cart and `$count` counts the units." + rule,
                   "A basket of products, each with a unit price and a quantity." + rule),
        params=[], attrs=[],
        methods=[M("__init__", "Start with an empty cart."),
                 M("$add", "Add `$qty` units of the product `$name` at `$price` each; adding a product that is "
                   "already in the cart increases its quantity."),
                 M("$remove", "Take the product `$name` out of the cart; KeyError if it is not there."),
                 M("$count", "The number of units in the cart."),
                 M("$total", "The price of everything in the cart" + (
                     f", less {discount[1]}% (rounded down) from {discount[0]} up." if discount else "."))],
        bodies=(dict_body, list_body), script=script,
        session=[("$obj = $cls()", None), ("$obj.$add('tea', 4, 2)", None), ("$obj.$total()", "8")],
        notes=("Prices are whole currency units.", "Adding a product again increases its quantity."),
        rule="`$remove` raises KeyError for a product that is not in the cart.",
        local_names={"obj": ("cart", "basket", "c", "order"), "lines": ("lines", "items", "contents"),
                     "add": ("add", "add_item", "put", "add_product"), "remove": ("remove", "remove_item", "drop"),
                     "count": ("count", "item_count", "units", "size"), "total": ("total", "total_price", "price_due"),
                     "name": ("name", "product", "label"), "price": ("price", "unit_price", "cost"),
                     "qty": ("qty", "quantity", "amount"), "t": ("t", "due", "subtotal"),
                     "line": ("line", "entry", "row")},
        description="A shopping cart class that adds, removes and totals products.")


@_family("classes.temperature", ("properties_and_validation", "property-setter", "unit-conversion"), """
    A property looks like an attribute from outside but runs code when it is read or assigned. A setter can
    validate the new value (a temperature below absolute zero raises ValueError) and a computed property
    can present the same state in another unit: storing only degrees Celsius and converting on the fly
    keeps the Celsius and Fahrenheit views consistent.""", verify="default")
def _temperature(rng) -> Made:
    unit = pick(rng, ("celsius", "kelvin"))
    floor = -273.15 if unit == "celsius" else 0.0

    def to_f(v):
        c = v if unit == "celsius" else v - 273.15
        return c * 9 / 5 + 32

    def from_f(fv):
        c = (fv - 32) * 5 / 9
        return c if unit == "celsius" else c + 273.15

    start = float(rng.randint(-40, 120) if unit == "celsius" else rng.randint(200, 400))
    script = [f"$obj = $cls({start!r})", f"assert $obj.$base == {start!r}",
              f"assert abs($obj.fahrenheit - {to_f(start)!r}) < 1e-9"]
    for _ in range(2):
        v = float(rng.randint(-50, 150) if unit == "celsius" else rng.randint(100, 500))
        script += [f"$obj.$base = {v!r}", f"assert abs($obj.fahrenheit - {to_f(v)!r}) < 1e-9"]
    fv = float(rng.randint(-40, 212))
    script += [f"$obj.fahrenheit = {fv!r}", f"assert abs($obj.$base - {from_f(fv)!r}) < 1e-9"]
    script += _raises(f"$obj.$base = {floor - rng.randint(1, 50)!r}") + _raises(f"$cls({floor - 0.5!r})")
    script += _raises("$obj.fahrenheit = -500.0")
    script += [f"assert abs($obj.$base - {from_f(fv)!r}) < 1e-9", f"assert $cls({floor!r}).$base == {floor!r}"]
    c_expr = "self._$base" if unit == "celsius" else "(self._$base - 273.15)"
    back = "$c" if unit == "celsius" else "$c + 273.15"
    prop = Body(_code(f'''
        MINIMUM = {floor!r}

        def __init__(self, $value: float) -> None:
            self.$base = $value  # goes through the setter, so it is validated

        @property
        def $base(self) -> float:
            """The temperature in {'degrees Celsius' if unit == 'celsius' else 'kelvin'}."""
            return self._$base

        @$base.setter
        def $base(self, $value: float) -> None:
            if $value < self.MINIMUM:
                raise ValueError(f"{{$value}} is below absolute zero")
            self._$base = $value

        @property
        def fahrenheit(self) -> float:
            """The same temperature in degrees Fahrenheit."""
            return {c_expr} * 9 / 5 + 32

        @fahrenheit.setter
        def fahrenheit(self, $value: float) -> None:
            $c = ($value - 32) * 5 / 9
            self.$base = {back}'''))
    check = Body(_code(f'''
        def __init__(self, $value: float) -> None:
            self._$base = self._checked($value)

        @staticmethod
        def _checked($value: float) -> float:
            if $value < {floor!r}:
                raise ValueError("below absolute zero")
            return $value

        @property
        def $base(self) -> float:
            """The stored temperature."""
            return self._$base

        @$base.setter
        def $base(self, $value: float) -> None:
            self._$base = self._checked($value)

        @property
        def fahrenheit(self) -> float:
            """The temperature converted to Fahrenheit."""
            return {c_expr} * 1.8 + 32

        @fahrenheit.setter
        def fahrenheit(self, $value: float) -> None:
            $c = ($value - 32) / 1.8
            self._$base = self._checked({back})'''))
    scale = "degrees Celsius" if unit == "celsius" else "kelvin"
    return _build_class(
        rng, names=("Temperature", "Thermometer", "TempReading", "HeatLevel", "Reading"),
        summaries=(f"A temperature stored in {scale}, with a `fahrenheit` property that converts both ways.",
                   f"Hold a temperature in {scale}; reading or assigning `fahrenheit` converts, and every assignment "
                   "is validated against absolute zero.",
                   f"A validated temperature value ({scale}) with a Fahrenheit view."),
        params=[P("value", ("value", "degrees", "reading", "initial"), "float", f"The temperature in {scale}.")],
        attrs=[("$base", "float", f"The temperature in {scale}; an assignment is validated."),
               ("fahrenheit", "float", f"The same temperature in degrees Fahrenheit; assigning it sets `$base`.")],
        methods=[], bodies=(prop, check), script=script,
        session=[(f"$obj = $cls({100.0 if unit == 'celsius' else 373.15})", None),
                 ("round($obj.fahrenheit, 2)", "212.0")],
        notes=("Only one unit is stored; the other is computed.", "A rejected value leaves the temperature unchanged."),
        rule=f"A value below absolute zero ({floor} {scale}), whether given to the constructor or assigned to `$base` "
             "or to `fahrenheit`, raises ValueError.",
        local_names={"obj": ("t", "temp", "sensor", "thermo"),
                     "base": (unit, unit[:3] if unit == "celsius" else "kelvin_value", f"degrees_{unit[0]}"),
                     "c": ("c", "in_celsius", "deg_c")},
        description=f"A temperature class with a validated {unit} property and a Fahrenheit view.")


@_family("classes.bounded_dial", ("properties_and_validation", "clamping", "invariants"), """
    Some values only make sense inside a range: a volume from 0 to 10, a thermostat from 5 to 30. A class
    protects that invariant in one place, the property setter, which either clamps an out-of-range value
    to the nearest limit or rejects it with ValueError. Methods that step the value up or down go through
    the same setter, so no code path can leave the object out of range.""", verify="default")
def _bounded_dial(rng) -> Made:
    lo, hi = pick(rng, ((0, 10), (0, 100), (5, 30), (1, 11), (-20, 20)))
    mode = pick(rng, ("clamp", "raise"))
    step = pick(rng, (1, 1, 2, 5))

    def apply(v):
        if mode == "clamp":
            return max(lo, min(hi, v))
        if not lo <= v <= hi:
            raise ValueError
        return v

    cur = rng.randint(lo, hi)
    script = [f"$obj = $cls({cur})", f"assert $obj.$level == {cur}"]
    for _ in range(rng.randint(4, 7)):
        op = pick(rng, ("up", "down", "set"))
        target = (cur + step if op == "up" else cur - step if op == "down" else rng.randint(lo - 5, hi + 5))
        call = {"up": "$obj.$up()", "down": "$obj.$down()", "set": f"$obj.$level = {target}"}[op]
        try:
            cur = apply(target)
            script += [call, f"assert $obj.$level == {cur}"]
        except ValueError:
            script += _raises(call) + [f"assert $obj.$level == {cur}"]
    edge_call = f"$obj.$level = {hi + 1}"
    if mode == "clamp":
        script += [edge_call, f"assert $obj.$level == {hi}", f"$obj.$level = {lo - 1}", f"assert $obj.$level == {lo}"]
    else:
        script += _raises(edge_call) + _raises(f"$cls({lo - 1})")
    script += [f"assert $cls({lo}).$level == {lo}"]
    rule = "clamped to the nearest limit" if mode == "clamp" else "rejected with ValueError"
    fix = ("$value = max(self.$low, min(self.$high, $value))" if mode == "clamp" else
           "if not self.$low <= $value <= self.$high:\n"
           "    raise ValueError(f\"{$value} is outside {self.$low}..{self.$high}\")")
    fix_lines = textwrap.indent(fix, "    ")
    body1 = Body(_code(f'''
        $low = {lo}
        $high = {hi}
        $step = {step}

        def __init__(self, $value: int = {lo}) -> None:
            self.$level = $value

        @property
        def $level(self) -> int:
            """The current setting, always between $low and $high."""
            return self._$level

        @$level.setter
        def $level(self, $value: int) -> None:
            @FIX@
            self._$level = $value

        def $up(self) -> None:
            """Raise the setting by one step."""
            self.$level = self.$level + self.$step

        def $down(self) -> None:
            """Lower the setting by one step."""
            self.$level = self.$level - self.$step''').replace("    @FIX@", fix_lines))
    if mode == "clamp":
        check = f"    return max({lo}, min({hi}, $value))"
    else:
        check = (f"    if $value < {lo} or $value > {hi}:\n        raise ValueError(\"out of range\")\n"
                 "    return $value")
    body2 = Body(_code(f'''
        def __init__(self, $value: int = {lo}) -> None:
            self._$level = self._fit($value)

        @staticmethod
        def _fit($value: int) -> int:
            @CHECK@

        @property
        def $level(self) -> int:
            """The current setting."""
            return self._$level

        @$level.setter
        def $level(self, $value: int) -> None:
            self._$level = self._fit($value)

        def $up(self) -> None:
            """Turn the setting up by {step}."""
            self.$level += {step}

        def $down(self) -> None:
            """Turn the setting down by {step}."""
            self.$level -= {step}''').replace("    @CHECK@", check))
    thing = pick(rng, (("Volume", "VolumeKnob", "SoundLevel", "Speaker"), ("Thermostat", "HeaterDial", "ClimateSetting",
                                                                            "TargetTemp"),
                       ("Dimmer", "Brightness", "LightLevel", "LampDial")))
    return _build_class(
        rng, names=thing + ("BoundedDial",),
        summaries=(f"A dial whose setting stays between {lo} and {hi}; values outside the range are {rule}.",
                   f"Hold an integer setting in the range {lo}..{hi}, changed by assignment or by `$up`/`$down` "
                   f"steps of {step}; out-of-range values are {rule}.",
                   f"A setting limited to {lo}..{hi} (out-of-range values are {rule})."),
        params=[P("value", ("value", "start", "initial", "setting"), "int", f"The starting setting (default {lo}).")],
        attrs=[("$level", "int", f"The current setting, {lo} to {hi}; assigning it applies the same rule.")],
        methods=[M("$up", f"Raise the setting by {step}."), M("$down", f"Lower the setting by {step}.")],
        bodies=(body1, body2), script=script,
        session=[(f"$obj = $cls({hi})", None), ("$obj.$up()", None), ("$obj.$level", str(hi))] if mode == "clamp"
        else [(f"$obj = $cls({lo})", None), ("$obj.$level", str(lo))],
        notes=("The constructor uses the same rule as assignments.", f"Each step changes the setting by {step}."),
        rule="" if mode == "clamp" else ("A starting value outside the range and steps of `$up`/`$down` past a "
                                         "limit raise ValueError too; a rejected value leaves the setting as it was."),
        local_names={"obj": ("dial", "knob", "d", "control"), "level": ("level", "setting", "position", "current"),
                     "value": ("value", "new", "amount")},
        consts=dict(zip(("up", "down", "low", "high", "step"), pick(rng, (
            ("up", "down", "LOW", "HIGH", "STEP"), ("increase", "decrease", "MINIMUM", "MAXIMUM", "INCREMENT"),
            ("turn_up", "turn_down", "FLOOR", "CEILING", "DELTA"), ("raise_level", "lower_level", "MIN", "MAX", "STEP"),
            ("step_up", "step_down", "LOWEST", "HIGHEST", "STRIDE"))))),
        description=f"A class that keeps an integer setting within {lo}..{hi}.")


@_family("classes.vector", ("special_methods", "operator-overloading", "dunder"), """
    Special ("dunder") methods let a class work with Python's operators: `__add__` runs for `a + b`,
    `__mul__` for `a * k`, `__eq__` for `==`, and `__repr__` decides how the object is shown. Returning a new
    object from an arithmetic method, instead of changing self, keeps vectors immutable like numbers.
    `__eq__` should return NotImplemented for other types, so that Python can try the other operand.""",
    verify="default")
def _vector(rng) -> Made:
    dims = pick(rng, (2, 2, 3))
    comps = ("x", "y", "z")[:dims]
    extra = pick(rng, ("dot", "neg", "abs2"))

    def vec():
        return tuple(rng.randint(-9, 9) for _ in range(dims))

    a, b = vec(), vec()
    k = rng.randint(-4, 5)
    add = tuple(p + q for p, q in zip(a, b))
    sub = tuple(p - q for p, q in zip(a, b))
    mul = tuple(p * k for p in a)

    def ctor(v):
        return f"$cls({', '.join(map(str, v))})"

    script = [f"$p = {ctor(a)}", f"$q = {ctor(b)}", f"assert $p + $q == {ctor(add)}", f"assert $p - $q == {ctor(sub)}",
              f"assert $p * {k} == {ctor(mul)}", f"assert repr($p) == '{ctor(a)}'",
              f"assert $p == {ctor(a)}", f"assert ($p == {ctor(tuple(c + 1 for c in a))}) is False",
              f"assert ($p == {a!r}) is False", f"assert $p + {ctor((0,) * dims)} == $p",
              f"assert ({', '.join('$p.' + c for c in comps)}) == {a!r}"]
    if extra == "dot":
        script.append(f"assert $p.$dot($q) == {sum(p * q for p, q in zip(a, b))}")
        extra_code = _code('''
            def $dot(self, $other: "$cls") -> int:
                """The dot product with another vector."""
                return ''' + " + ".join(f"self.{c} * $other.{c}" for c in comps))
    elif extra == "neg":
        script.append(f"assert -$p == {ctor(tuple(-c for c in a))}")
        extra_code = _code('''
            def __neg__(self) -> "$cls":
                return $cls(''' + ", ".join(f"-self.{c}" for c in comps) + ")")
    else:
        script.append(f"assert $p.$dot() == {sum(c * c for c in a)}")
        extra_code = _code('''
            def $dot(self) -> int:
                """The squared length: the sum of the squared components."""
                return ''' + " + ".join(f"self.{c} ** 2" for c in comps))
    sig = ", ".join(f"{c}: int" for c in comps)
    init = "\n".join(f"    self.{c} = {c}" for c in comps)
    mine = ", ".join(f"self.{c}" for c in comps)
    theirs = ", ".join(f"$other.{c}" for c in comps)
    shown = ", ".join("{self." + c + "}" for c in comps)

    def each(op: str, right: str) -> str:
        return ", ".join(f"self.{c} {op} {right.format(c=c)}" for c in comps)

    plain = Body(_code(f'''
        def __init__(self, {sig}) -> None:
        @INIT@

        def __add__(self, $other: "$cls") -> "$cls":
            return $cls({each("+", "$other.{c}")})

        def __sub__(self, $other: "$cls") -> "$cls":
            return $cls({each("-", "$other.{c}")})

        def __mul__(self, $factor: int) -> "$cls":
            return $cls({each("*", "$factor")})

        def __eq__(self, $other: object) -> bool:
            if not isinstance($other, $cls):
                return NotImplemented
            return ({mine}) == ({theirs})

        def __repr__(self) -> str:
            return f"$cls({shown})"''').replace("@INIT@", init) + "\n\n" + extra_code)
    tup = Body(_code(f'''
        def __init__(self, {sig}) -> None:
        @INIT@

        def _parts(self) -> tuple:
            return ({mine})

        def __add__(self, $other: "$cls") -> "$cls":
            return $cls(*($a + $b for $a, $b in zip(self._parts(), $other._parts())))

        def __sub__(self, $other: "$cls") -> "$cls":
            return $cls(*($a - $b for $a, $b in zip(self._parts(), $other._parts())))

        def __mul__(self, $factor: int) -> "$cls":
            return $cls(*($a * $factor for $a in self._parts()))

        def __eq__(self, $other: object) -> bool:
            return isinstance($other, $cls) and self._parts() == $other._parts()

        def __repr__(self) -> str:
            return "$cls(" + ", ".join(str($a) for $a in self._parts()) + ")"''').replace("@INIT@", init) +
               "\n\n" + extra_code)
    return _build_class(
        rng, names=(f"Vector{dims}D" if dims == 2 else "Vector3", "Vector", "Vec", "Point" + str(dims), "Displacement"),
        summaries=(f"An immutable {dims}-D vector with integer components supporting +, -, scaling by an integer "
                   "(v * k), == and a readable repr.",
                   f"A {dims}-dimensional vector that works with Python operators: addition, subtraction, "
                   "multiplication by a number and equality.",
                   f"Vectors in {dims} dimensions; arithmetic returns new vectors and repr shows the components."),
        params=[P(c, (c,), "int", f"The {c} component.") for c in comps],
        attrs=[(c, "int", f"The {c} component.") for c in comps],
        methods=[M("__add__", "`self + $other`: a new vector, the component-wise sum."),
                 M("__sub__", "`self - $other`: a new vector, the component-wise difference."),
                 M("__mul__", "`self * $factor`: a new vector with every component multiplied by `$factor`."),
                 M("__eq__", "`==`: True for a vector with the same components, False for anything else."),
                 M("__repr__", "Shown as `$cls(" + ", ".join(comps) + ")` with the component values."),
                 {"dot": M("$dot", "The dot product with `$other`: the sum of the products of the components."),
                  "neg": M("__neg__", "`-self`: a new vector with every component negated."),
                  "abs2": M("$dot", "The squared length: the sum of the squared components.")}[extra]],
        bodies=(plain, tup), script=script,
        session=[(f"{ctor((1,) * dims)} + {ctor((2,) * dims)}", "$cls(" + ", ".join(["3"] * dims) + ")")],
        notes=("Comparing with something that is not a vector is never equal.", "Operations never modify self."),
        local_names={"p": ("p", "u", "v1", "first"), "q": ("q", "w", "v2", "second"),
                     "other": ("other", "rhs", "that"), "factor": ("factor", "k", "scalar"), "a": ("a", "m", "s"),
                     "b": ("b", "n", "t"), "dot": ("dot", "dot_product", "inner") if extra == "dot"
                     else ("length_squared", "norm2", "squared_length")},
        description=f"A {dims}-D vector class with operator overloading.")


@_family("classes.playlist", ("special_methods", "container-protocol", "iteration"), """
    A class becomes a container by implementing the container protocol: `__len__` makes `len(obj)` work,
    `__contains__` answers `in`, `__getitem__` supports indexing (and, if it delegates to a list, negative
    indexes and slices), and `__iter__` lets a for loop walk the items. Delegating to a list stored inside
    the object is the simplest way to get them all right.""", verify="default")
def _playlist(rng) -> Made:
    no_dupes = pick(rng, (True, False))
    pool = ["intro", "waves", "sunrise", "echo", "drift", "ember", "comet", "lull", "tide", "glow"]
    songs = [pick(rng, pool) for _ in range(rng.randint(4, 7))]
    kept: list[str] = []
    script = ["$obj = $cls()", "assert len($obj) == 0", "assert list($obj) == []"]
    for sng in songs:
        added = not (no_dupes and sng in kept)
        if added:
            kept.append(sng)
        script.append(f"assert $obj.$add({sng!r}) is {added}")
    missing = next(x for x in pool if x not in kept)
    script += [f"assert len($obj) == {len(kept)}", f"assert $obj[0] == {kept[0]!r}", f"assert $obj[-1] == {kept[-1]!r}",
               f"assert {kept[-1]!r} in $obj", f"assert ({missing!r} in $obj) is False",
               f"assert list($obj) == {kept!r}", f"assert [$s for $s in $obj] == {kept!r}"]
    gone = pick(rng, kept)
    kept.remove(gone)
    script += [f"$obj.$remove({gone!r})", f"assert list($obj) == {kept!r}", f"assert len($obj) == {len(kept)}"]
    script += _raises(f"$obj.$remove({missing!r})")
    add_rule = ("if $title in self.$items:\n    return False\n" if no_dupes else "")
    rule_indented = textwrap.indent(add_rule, "    ")
    body1 = Body(_code('''
        def __init__(self) -> None:
            self.$items = []

        def $add(self, $title: str) -> bool:
            """Append a song; returns whether it was added."""
        @RULE@    self.$items.append($title)
            return True

        def $remove(self, $title: str) -> None:
            """Remove the first copy of a song; ValueError if it is absent."""
            self.$items.remove($title)

        def __len__(self) -> int:
            return len(self.$items)

        def __getitem__(self, $index: int) -> str:
            return self.$items[$index]

        def __contains__(self, $title: object) -> bool:
            return $title in self.$items

        def __iter__(self) -> Iterator[str]:
            return iter(self.$items)''').replace("@RULE@", rule_indented), ("from typing import Iterator",))
    body2 = Body(_code('''
        def __init__(self) -> None:
            self.$items = []

        def $add(self, $title: str) -> bool:
            """Add a song at the end and report whether it was added."""
        @RULE@    self.$items.append($title)
            return True

        def $remove(self, $title: str) -> None:
            """Take a song out; ValueError if it is not in the list."""
            if $title not in self.$items:
                raise ValueError(f"{$title!r} is not in the playlist")
            del self.$items[self.$items.index($title)]

        def __len__(self) -> int:
            return len(self.$items)

        def __getitem__(self, $index: int) -> str:
            return self.$items[$index]

        def __contains__(self, $title: object) -> bool:
            return any($s == $title for $s in self.$items)

        def __iter__(self) -> Iterator[str]:
            for $s in self.$items:
                yield $s''').replace("@RULE@", rule_indented), ("from typing import Iterator",))
    dup = "Adding a song that is already there does nothing and returns False." if no_dupes else \
        "The same song may appear several times."
    return _build_class(
        rng, names=("Playlist", "SongQueue", "TrackList", "Mixtape", "Setlist"),
        summaries=("An ordered list of song titles that supports len(), indexing, `in` and iteration. " + dup,
                   "A playlist container: songs are added at the end, and the object behaves like a read-only "
                   "sequence. " + dup,
                   "Keep song titles in order and expose them through Python's container protocol. " + dup),
        params=[], attrs=[],
        methods=[M("__init__", "Start with an empty playlist."),
                 M("$add", "Append `$title` and return True" + (
                     "; return False, changing nothing, if it is already in the playlist." if no_dupes else
                     " (a song may be added more than once).")),
                 M("$remove", "Take out the first copy of `$title`; ValueError if it is not in the playlist."),
                 M("__len__", "`len(self)`: the number of songs."),
                 M("__getitem__", "`self[$index]`: the song at that position; negative indexes count from the end."),
                 M("__contains__", "`$title in self`: whether the song is in the playlist."),
                 M("__iter__", "Iteration (a for loop, `list()`): the songs in order.")],
        bodies=(body1, body2), script=script,
        session=[("$obj = $cls()", None), ("$obj.$add('intro')", "True"), ("len($obj)", "1")],
        notes=("Songs keep the order in which they were added.",
               "Indexing follows list rules, so -1 is the last song."),
        rule="`$remove` takes out the first copy of a song, and raises ValueError if the song is not in the playlist.",
        local_names={"obj": ("playlist", "songs", "pl", "queue"), "items": ("items", "tracks", "titles"),
                     "add": ("add", "append_song", "enqueue", "add_song"),
                     "remove": ("remove", "remove_song", "drop", "discard"),
                     "title": ("title", "song", "name"), "index": ("index", "position", "i"), "s": ("s", "t", "track")},
        description="A playlist class implementing the container protocol.")


@_family("classes.money", ("special_methods", "total_ordering", "formatting"), """
    Money is best stored as a whole number of cents, so that adding amounts never suffers from
    floating-point rounding. Special methods make such a class feel like a number: `__add__` for +,
    `__eq__` and `__lt__` for comparisons (with `functools.total_ordering` deriving <=, > and >= from them)
    and `__str__` for a display like "$3.05".""", verify="default")
def _money(rng) -> Made:
    symbol = pick(rng, ("$", "€", "£"))
    a, b = rng.randint(0, 2000), rng.randint(0, 2000)

    def show(c):
        return f"{symbol}{c // 100}.{c % 100:02d}"

    script = [f"$x = $cls({a})", f"$y = $cls({b})", f"assert str($x) == {_lit(show(a))}",
              f"assert ($x + $y).$cents == {a + b}", f"assert str($x + $y) == {_lit(show(a + b))}",
              f"assert ($x < $y) is {a < b}", f"assert ($x >= $y) is {a >= b}", f"assert ($x == $cls({a})) is True",
              f"assert str($cls(5)) == {_lit(show(5))}", f"assert str($cls(0)) == {_lit(show(0))}",
              f"assert sorted([$y, $x]) == {'[$x, $y]' if a <= b else '[$y, $x]'}",
              f"assert sum([$x, $y], $cls(0)) == $cls({a + b})"]
    script += _raises("$cls(-1)")
    body1 = Body(_code('''
        def __init__(self, $cents: int) -> None:
            if $cents < 0:
                raise ValueError("amounts cannot be negative")
            self.$cents = $cents

        def __add__(self, $other: "$cls") -> "$cls":
            return $cls(self.$cents + $other.$cents)

        def __eq__(self, $other: object) -> bool:
            if not isinstance($other, $cls):
                return NotImplemented
            return self.$cents == $other.$cents

        def __lt__(self, $other: "$cls") -> bool:
            return self.$cents < $other.$cents

        def __str__(self) -> str:
            return f"$sym{self.$cents // 100}.{self.$cents % 100:02d}"

        def __repr__(self) -> str:
            return f"$cls({self.$cents})"'''), ("from functools import total_ordering",))
    body2 = Body(_code('''
        def __init__(self, $cents: int) -> None:
            if $cents < 0:
                raise ValueError(f"negative amount: {$cents}")
            self.$cents = $cents

        def __add__(self, $other: "$cls") -> "$cls":
            return type(self)(self.$cents + $other.$cents)

        def __eq__(self, $other: object) -> bool:
            return isinstance($other, $cls) and $other.$cents == self.$cents

        def __lt__(self, $other: "$cls") -> bool:
            return $other.$cents > self.$cents

        def __str__(self) -> str:
            $units, $rest = divmod(self.$cents, 100)
            return "$sym" + str($units) + "." + str($rest).zfill(2)

        def __hash__(self) -> int:
            return hash(self.$cents)'''), ("from functools import total_ordering",))
    return _build_class(
        rng, names=("Money", "Amount", "Price", "Cash", "Funds"),
        summaries=(f"An amount of money stored in whole cents, shown as {_lit(show(305))}, that can be added and "
                   "compared.",
                   "A non-negative sum of money kept as integer cents; str() gives e.g. "
                   f"{_lit(show(1250))}, + adds two amounts and the comparison operators order them.",
                   f"Money as integer cents with +, ordering and a {_lit(symbol)[1:-1]} display."),
        params=[P("cents", ("cents", "minor_units", "pennies"), "int", "The amount in cents (not negative).")],
        attrs=[("$cents", "int", "The amount in cents.")],
        methods=[M("__add__", "`self + $other`: a new amount holding the cents of both."),
                 M("__eq__", "`==`: True for an amount with the same number of cents."),
                 M("__lt__", "`<`: whether this amount is smaller; `total_ordering` derives <=, > and >= from it "
                   "and `==`."),
                 M("__str__", f"`str(self)`: the amount shown as {_lit(show(305))} for 305 cents.")],
        bodies=(body1, body2), script=script,
        session=[("str($cls(305))", _lit(show(305))), ("$cls(100) < $cls(250)", "True")],
        notes=("Cents avoid floating-point rounding errors.", "Two amounts are equal when they hold the same cents."),
        rule="A negative number of cents raises ValueError.",
        local_names={"x": ("x", "price", "first", "m1"), "y": ("y", "tip", "second", "m2"),
                     "other": ("other", "rhs", "that"), "units": ("units", "whole", "major"),
                     "rest": ("rest", "cents_part", "minor")},
        consts={"sym": symbol},
        header="class $cls:", decorator="@total_ordering",
        description="A money class with addition, ordering and formatting.")


@_family("classes.shape_subclass", ("inheritance", "overriding", "super"), """
    A subclass inherits every method of its base class and overrides the ones that differ. A base `Shape`
    can define `describe()` in terms of `area()` and `perimeter()`, which each concrete shape provides;
    calling `describe()` on a rectangle then uses the rectangle's own formulas. `super().__init__()` lets
    the subclass reuse the base class's set-up instead of repeating it.""", verify="default")
def _shape_subclass(rng) -> Made:
    kind = pick(rng, ("rectangle", "square", "triangle"))
    label_word = pick(rng, ("shape", "figure", "polygon"))
    base = _code('''
        class $base:
            """A named $word; subclasses provide area() and perimeter()."""

            def __init__(self, $name: str) -> None:
                self.$name = $name

            def area(self) -> int:
                raise NotImplementedError

            def perimeter(self) -> int:
                raise NotImplementedError

            def describe(self) -> str:
                return f"{self.$name}: area {self.area()}, perimeter {self.perimeter()}"''')
    if kind == "rectangle":
        dims = [rng.randint(1, 20), rng.randint(1, 20)]
        area, perim = dims[0] * dims[1], 2 * (dims[0] + dims[1])
        sig = "$w: int, $h: int"
        init = "self.$w = $w\nself.$h = $h"
        a_expr, p_expr = "self.$w * self.$h", "2 * (self.$w + self.$h)"
        names = ("Rectangle", "Rect", "Box2D", "Panel")
        extra_check = (f"$obj.$w = {dims[0] + 1}", f"assert $obj.area() == {(dims[0] + 1) * dims[1]}")
        what = "a rectangle with a width and a height"
    elif kind == "square":
        dims = [rng.randint(1, 30)]
        area, perim = dims[0] ** 2, 4 * dims[0]
        sig = "$w: int"
        init = "self.$w = $w"
        a_expr, p_expr = "self.$w ** 2", "4 * self.$w"
        names = ("Square", "SquareTile", "Block", "Tile")
        extra_check = (f"$obj.$w = {dims[0] + 2}", f"assert $obj.perimeter() == {4 * (dims[0] + 2)}")
        what = "a square with a side length"
    else:
        # legs of right triangles with a whole-number hypotenuse, so the perimeter stays an int
        s1, s2, hyp = pick(rng, ((3, 4, 5), (6, 8, 10), (5, 12, 13), (8, 15, 17), (9, 12, 15), (7, 24, 25),
                                 (12, 16, 20), (20, 21, 29)))
        dims = [s1, s2]
        area, perim = s1 * s2 / 2, s1 + s2 + hyp
        sig = "$w: int, $h: int"
        init = "self.$w = $w\nself.$h = $h"
        a_expr = "self.$w * self.$h / 2"
        p_expr = "self.$w + self.$h + math.isqrt(self.$w ** 2 + self.$h ** 2)"
        names = ("RightTriangle", "Triangle", "RightAngled", "Wedge")
        extra_check = ("assert isinstance($obj.area(), float)",)
        what = "a right triangle given its two legs (whose hypotenuse is a whole number)"
    # the two sides are named as a pair (width/height, a/b), never mixed
    sides = (pick(rng, (("width", "height"), ("w", "h"), ("side_a", "side_b"), ("a", "b"))) if kind != "square"
             else (pick(rng, ("side", "length", "edge", "size")),))
    # (as an attribute, as a constructor argument) for each side
    side_docs = {"rectangle": (("The width", "The width."), ("The height", "The height.")),
                 "square": (("The side length", "The length of each side."),),
                 "triangle": (("The first leg", "The first leg (a side next to the right angle)."),
                              ("The second leg", "The second leg."))}[kind]
    label = pick(rng, ("plot", "tile", "sign", "panel", "sheet"))
    ctor_args = ", ".join([repr(label)] + [str(d) for d in dims])
    script = [f"$obj = $cls({ctor_args})", "assert isinstance($obj, $base)", f"assert $obj.$name == {label!r}",
              f"assert $obj.area() == {area!r}", f"assert $obj.perimeter() == {perim!r}",
              f"assert $obj.describe() == {_lit(f'{label}: area {area}, perimeter {perim}')}",
              *extra_check]
    script += _raises(f"$base({label!r}).area()", "NotImplementedError")
    init_lines = textwrap.indent(init, "    ")
    body1 = Body(_code(f'''
        def __init__(self, $name: str, {sig}) -> None:
            super().__init__($name)
        @INIT@

        def area(self) -> {'float' if kind == 'triangle' else 'int'}:
            return {a_expr}

        def perimeter(self) -> int:
            return {p_expr}''').replace("@INIT@", init_lines),
        ("import math",) if kind == "triangle" else (), helpers=base)
    body2 = Body(_code(f'''
        def __init__(self, $name: str, {sig}) -> None:
            $base.__init__(self, $name)
        @INIT@

        def area(self) -> {'float' if kind == 'triangle' else 'int'}:
            """The area of this {kind}."""
            $result = {a_expr}
            return $result

        def perimeter(self) -> int:
            """The length of the boundary."""
            $result = {p_expr}
            return $result''').replace("@INIT@", init_lines),
        ("import math",) if kind == "triangle" else (), helpers=base)
    return _build_class(
        rng, names=names,
        summaries=(f"A {label_word} subclass for {what}; it overrides area() and perimeter() and inherits describe().",
                   f"Extend `$base` with {what}, computing the area and the perimeter.",
                   f"{what[0].upper() + what[1:]}, built on the `$base` base class."),
        params=[P("name", ("name", "label", "title"), "str", "A label for the shape."),
                *(P(key, (side,), "int", doc) for key, side, (_, doc) in zip(("w", "h"), sides, side_docs))],
        attrs=[("$name", "str", "The label given to the shape."),
               *((f"${key}", "int", f"{what}; area() and perimeter() follow a change.")
                 for key, (what, _) in zip(("w", "h"), side_docs))],
        methods=[M("area", f"The area of this {kind}."), M("perimeter", "The length of its boundary."),
                 M("describe", "A line '<name>: area <area>, perimeter <perimeter>'.")],
        bodies=(body1, body2), script=script, header="class $cls($base):",
        session=[(f"$cls({ctor_args}).describe()", _lit(f"{label}: area {area}, perimeter {perim}"))],
        notes=("Call the base class initialiser with super().", "describe() comes from the base class."),
        local_names={"base": ("Shape", "Figure", "Polygon2D", "BaseShape"), "obj": ("shape", "s", "fig", "item"),
                     "result": ("result", "value", "answer")},
        consts={"word": label_word},
        description=f"A {kind} subclass of a shape base class.")


@_family("classes.staff_subclass", ("inheritance", "super", "polymorphism"), """
    Inheritance models an "is a" relationship: a manager is an employee with something extra. The subclass
    calls `super().__init__(...)` for the shared attributes, adds its own, and overrides a method such as
    `monthly_pay()` by extending the base version (`super().monthly_pay() + bonus`) rather than copying it.
    Code that works with employees then works with managers too, each using its own rule.""", verify="default")
def _staff_subclass(rng) -> Made:
    sub_kind = pick(rng, ("manager", "contractor", "intern"))
    salary = rng.randint(20, 90) * 100
    team = rng.randint(1, 9)
    fee = rng.randint(5, 30)
    per_head = pick(rng, (50, 100, 150))
    if sub_kind == "manager":
        extra_sig, extra_init = "$extra: int = 0", "self.$extra = $extra"
        pay_expr = f"super().$pay() + {per_head} * self.$extra"
        pay_val = salary + per_head * team
        names = ("Manager", "TeamLead", "Supervisor", "Director")
        what = f"earns the base pay plus {per_head} for every person in their team"
        arg = str(team)
        extra_doc = ("$extra", "int", "How many people report to them.")
        extra_names = ("team_size", "reports", "headcount")
    elif sub_kind == "contractor":
        extra_sig, extra_init = "$extra: int = 0", "self.$extra = $extra"
        pay_expr = "super().$pay() - super().$pay() * self.$extra // 100"
        pay_val = salary - salary * fee // 100
        names = ("Contractor", "Freelancer", "Consultant", "Temp")
        what = "has an agency fee (a whole percentage) deducted from the base pay"
        arg = str(fee)
        extra_doc = ("$extra", "int", "The agency fee in percent.")
        extra_names = ("fee_percent", "agency_cut", "fee")
    else:
        extra_sig, extra_init = "$extra: bool = False", "self.$extra = $extra"
        pay_expr = "super().$pay() // 2 if self.$extra else super().$pay()"
        pay_val = salary // 2
        names = ("Intern", "Trainee", "Apprentice", "Junior")
        what = "earns half the base pay while part-time"
        arg = "True"
        extra_doc = ("$extra", "bool", "Whether the intern works part-time.")
        extra_names = ("part_time", "half_days", "reduced")
    extra_default = extra_sig.split(" = ")[1]
    person = pick(rng, _PEOPLE)
    base = _code('''
        class $base:
            """A member of staff with a name and a monthly salary."""

            def __init__(self, $name: str, $salary: int) -> None:
                self.$name = $name
                self.$salary = $salary

            def $pay(self) -> int:
                return self.$salary

            def __str__(self) -> str:
                return f"{self.$name} ({type(self).__name__}): {self.$pay()}"''')
    script = [f"$obj = $cls({person!r}, {salary}, {arg})", "assert isinstance($obj, $base)",
              f"assert $obj.$pay() == {pay_val}", f"assert str($obj) == '{person} ($cls): {pay_val}'",
              f"assert $cls({person!r}, {salary}).$pay() == {salary}",
              f"assert $base({person!r}, {salary}).$pay() == {salary}",
              "assert str($base('kim', 100)) == 'kim ($base): 100'",
              f"assert sum(person.$pay() for person in [$obj, $base('lee', 1000)]) == {pay_val + 1000}"]
    init = textwrap.indent(extra_init, "    ")
    body1 = Body(_code(f'''
        def __init__(self, $name: str, $salary: int, {extra_sig}) -> None:
            super().__init__($name, $salary)
        @INIT@

        def $pay(self) -> int:
            return {pay_expr}''').replace("@INIT@", init), helpers=base)
    body2 = Body(_code(f'''
        def __init__(self, $name: str, $salary: int, {extra_sig}) -> None:
            super().__init__($name, $salary)
        @INIT@

        def $pay(self) -> int:
            """The monthly pay under this role's rule."""
            $amount = {pay_expr}
            return $amount''').replace("@INIT@", init), helpers=base)
    return _build_class(
        rng, names=names,
        summaries=(f"A kind of `$base` that {what}.",
                   f"Subclass of `$base`: it {what}; everything else is inherited.",
                   f"A staff member who {what}, written as a subclass that overrides `$pay`."),
        params=[P("name", ("name", "full_name", "who"), "str", "The person's name."),
                P("salary", ("salary", "base_pay", "monthly"), "int", "The base monthly salary."),
                P("extra", extra_names, extra_doc[1], f"{extra_doc[2].rstrip('.')} (default {extra_default}).")],
        attrs=[(extra_doc[0], extra_doc[1], extra_doc[2])],
        methods=[M("$pay", f"The monthly pay: a {sub_kind} {what}."),
                 M("__str__", "`str(self)`: '<name> (<class name>): <monthly pay>'.")],
        bodies=(body1, body2), script=script, header="class $cls($base):",
        session=[(f"$cls({person!r}, {salary}, {arg}).$pay()", str(pay_val))],
        notes=("Reuse the base class with super().", "__str__ is inherited and shows the class name."),
        local_names={"base": ("Employee", "StaffMember", "Worker", "Person"), "obj": ("e", "emp", "member", "worker"),
                     "pay": ("monthly_pay", "pay", "salary_due", "earnings"), "amount": ("amount", "total", "due")},
        description=f"A {sub_kind} subclass that overrides how pay is computed.")


@_family("classes.product_record", ("data_containers", "dataclass", "defaults"), """
    `@dataclass` writes the boring parts of a data class from its annotated fields: `__init__`,
    `__repr__` and `__eq__`. Fields with defaults come after those without, and a mutable default such as
    a list must use `field(default_factory=list)` so that every object gets its own list. Methods can still
    be added for behaviour that belongs to the data, like a total value or a restock.""", verify="default")
def _product_record(rng) -> Made:
    frozen = pick(rng, (False, True))
    name, price, qty = pick(rng, ("lamp", "mug", "chair", "pen", "kite")), rng.randint(1, 50), rng.randint(0, 20)
    add = rng.randint(1, 10)
    default_qty = pick(rng, (0, 1))
    script = [f"$obj = $cls({name!r}, {price}, {qty})", f"assert $obj.$value() == {price * qty}",
              f"assert $obj == $cls({name!r}, {price}, {qty})", f"assert $obj != $cls({name!r}, {price + 1}, {qty})",
              f"assert $cls({name!r}, {price}).$qty == {default_qty}",
              "assert repr($cls('x', 1, 2)) == \"$cls($name='x', $price=1, $qty=2, $tags=[])\"",
              "assert $cls('a', 1).$tags == [] and $cls('a', 1).$tags is not $cls('a', 1).$tags"]
    if frozen:
        script += [f"$more = $obj.$restock({add})", f"assert $more.$qty == {qty + add}", f"assert $obj.$qty == {qty}"]
        script += _raises("$obj.$qty = 5", "AttributeError")
        restock = _code('''
            def $restock(self, $count: int) -> "$cls":
                """A copy with `$count` more units (the record itself is immutable)."""
                if $count < 0:
                    raise ValueError("count must be non-negative")
                return replace(self, $qty=self.$qty + $count)''')
        imports = ("from dataclasses import dataclass, field, replace",)
        deco = "@dataclass(frozen=True)"
    else:
        script += [f"$obj.$restock({add})", f"assert $obj.$qty == {qty + add}",
                   f"assert $obj.$value() == {price * (qty + add)}"]
        restock = _code('''
            def $restock(self, $count: int) -> None:
                """Add `$count` units to the stock."""
                if $count < 0:
                    raise ValueError("count must be non-negative")
                self.$qty += $count''')
        imports = ("from dataclasses import dataclass, field",)
        deco = "@dataclass"
    script += _raises("$obj.$restock(-1)")
    fields = _code(f'''
        $name: str
        $price: int
        $qty: int = {default_qty}
        $tags: list[str] = field(default_factory=list)''')
    body1 = Body(fields + "\n\n" + _code('''
        def $value(self) -> int:
            """The value of the stock: price times quantity."""
            return self.$price * self.$qty''') + "\n\n" + restock, imports)
    body2 = Body(fields + "\n\n" + restock + "\n\n" + _code('''
        def $value(self) -> int:
            """Price times quantity."""
            $total = 0
            for _ in range(self.$qty):
                $total += self.$price
            return $total'''), imports)
    return _build_class(
        rng, names=("Product", "StockItem", "InventoryItem", "Article", "Good"),
        summaries=("A product in stock: a name, a unit price, a quantity and a list of tags.",
                   "A dataclass describing an item of inventory with its price, quantity and tags.",
                   "Stock record for one product, with its total value and a restock method."),
        params=[P("name", ("name", "title", "label"), "str", "What the product is called."),
                P("price", ("price", "unit_price", "cost"), "int", "The price of one unit."),
                P("qty", ("quantity", "qty", "count_in_stock", "stock"), "int",
                  f"Units in stock (default {default_qty})."),
                P("tags", ("tags", "labels", "categories"), "list[str]",
                  "Free-form labels (default: a new empty list for each record).")],
        attrs=[],
        methods=[M("$value", "The value of the stock: the unit price times the quantity."),
                 M("$restock", ("Return a copy with `$count` more units (the record itself is immutable)"
                                if frozen else "Add `$count` units to the stock") + "; ValueError if it is negative.")],
        bodies=(body1, body2), script=script, decorator=deco,
        session=[(f"$cls({name!r}, {price}, 2).$value()", str(price * 2))],
        notes=("The stock value is the unit price times the quantity.",
               "The dataclass decorator writes __init__, __repr__ and __eq__."),
        rule=("The record is frozen: assigning to a field raises AttributeError (dataclasses.FrozenInstanceError), "
              "so `$restock` returns a new record with the added units. " if frozen else
              "`$restock` adds units to this record's stock. ") + "It raises ValueError for a negative count.",
        local_names={"obj": ("item", "p", "product", "rec"), "more": ("more", "restocked", "updated"),
                     "value": ("stock_value", "total_value", "worth"), "restock": ("restock", "add_stock", "receive"),
                     "count": ("count", "units", "amount"),
                     "total": ("total", "acc", "running")},
        description="A dataclass for a stock item with default and factory fields.")


@_family("classes.gradebook", ("data_containers", "dict-of-lists", "aggregation"), """
    A container class hides how its data is stored behind a small set of methods. A grade book can keep a
    dict from each student to the list of their marks (`collections.defaultdict(list)` creates the list on
    first use); callers only add marks and ask questions such as a student's average or the best student,
    and never touch the dict itself. Asking about an unknown student is an error the class reports clearly.""",
    verify="default")
def _gradebook(rng) -> Made:
    digits = pick(rng, (1, 2))
    students = rng.sample(_PEOPLE, 3)
    marks: dict[str, list[int]] = {}
    script = ["$obj = $cls()", "assert $obj.$names() == []"]
    for _ in range(rng.randint(5, 9)):
        who, m = pick(rng, students), rng.randint(40, 100)
        marks.setdefault(who, []).append(m)
        script.append(f"$obj.$add({who!r}, {m})")

    def avg(who):
        return round(sum(marks[who]) / len(marks[who]), digits)

    best = sorted(marks, key=lambda w: (-sum(marks[w]) / len(marks[w]), w))[0]
    script += [f"assert $obj.$names() == {sorted(marks)!r}"]
    script += [f"assert $obj.$average({w!r}) == {avg(w)!r}" for w in sorted(marks)]
    script += [f"assert $obj.$best() == {best!r}", "assert $cls().$best() is None"]
    script += _raises("$obj.$average('nobody')", "KeyError")
    script += _raises(f"$obj.$add({students[0]!r}, 101)")
    body1 = Body(_code(f'''
        def __init__(self) -> None:
            self.$marks = defaultdict(list)

        def $add(self, $student: str, $mark: int) -> None:
            """Record a mark from 0 to 100."""
            if not 0 <= $mark <= 100:
                raise ValueError("marks go from 0 to 100")
            self.$marks[$student].append($mark)

        def $names(self) -> list[str]:
            """The students with at least one mark, sorted."""
            return sorted(self.$marks)

        def $average(self, $student: str) -> float:
            """The student's mean mark, rounded to {digits} decimal place{'s' if digits > 1 else ''}."""
            if $student not in self.$marks:
                raise KeyError($student)
            $got = self.$marks[$student]
            return round(sum($got) / len($got), {digits})

        def $best(self) -> str | None:
            """The student with the highest average (alphabetically first on ties), or None."""
            if not self.$marks:
                return None
            return min(self.$marks, key=lambda $s: (-self.$average_raw($s), $s))

        def $average_raw(self, $student: str) -> float:
            $got = self.$marks[$student]
            return sum($got) / len($got)'''),
        ("from collections import defaultdict",))
    body2 = Body(_code(f'''
        def __init__(self) -> None:
            self.$marks = {{}}

        def $add(self, $student: str, $mark: int) -> None:
            """Store one mark (0-100) for a student."""
            if $mark < 0 or $mark > 100:
                raise ValueError(f"invalid mark {{$mark}}")
            self.$marks.setdefault($student, []).append($mark)

        def $names(self) -> list[str]:
            """All students, in alphabetical order."""
            return sorted(self.$marks.keys())

        def $average(self, $student: str) -> float:
            """Mean mark of one student, rounded to {digits} digit{'s' if digits > 1 else ''} after the point."""
            $got = self.$marks[$student]
            return round(sum($got) / len($got), {digits})

        def $best(self) -> str | None:
            """Top student by unrounded average; ties go to the alphabetically first name."""
            $top = None
            for $s in sorted(self.$marks):
                $mean = sum(self.$marks[$s]) / len(self.$marks[$s])
                if $top is None or $mean > $top[0]:
                    $top = ($mean, $s)
            return None if $top is None else $top[1]'''))
    return _build_class(
        rng, names=("GradeBook", "Gradebook", "MarkSheet", "ClassRecord", "ScoreBook"),
        summaries=("Record marks for students and answer questions about them: who has marks, each student's "
                   "average, and the best student.",
                   f"A grade book mapping each student to their marks; averages are rounded to {digits} decimal "
                   f"place{'s' if digits > 1 else ''}.",
                   "Store students' marks (0 to 100) and report averages and the top student."),
        params=[], attrs=[("$marks", "dict[str, list[int]]", "Every mark recorded, by student.")],
        methods=[M("__init__", "Start with no marks."),
                 M("$add", "Record `$mark` (0 to 100) for `$student`; ValueError for a mark outside that range."),
                 M("$names", "The students with at least one mark, in alphabetical order."),
                 M("$average", f"The mean mark of `$student`, rounded to {digits} decimal place"
                   f"{'s' if digits > 1 else ''}; KeyError for a student without marks."),
                 M("$best", "The student with the highest unrounded average (ties: the alphabetically first "
                   "name), or None when there are no marks.")],
        bodies=(body1, body2), script=script,
        session=[("$obj = $cls()", None), ("$obj.$add('ada', 90)", None), ("$obj.$add('ada', 75)", None),
                 ("$obj.$average('ada')", repr(82.5))],
        notes=("`$names` lists the students in alphabetical order.",
               "`$best` is the student with the highest unrounded average (ties: the alphabetically first name), "
               "None when there are no marks."),
        rule="`$add` raises ValueError for a mark outside 0..100, and `$average` raises KeyError for a student "
             "without marks.",
        local_names={"obj": ("book", "gb", "records", "sheet"), "marks": ("marks", "grades", "scores"),
                     "add": ("add", "add_mark", "record", "add_grade"), "names": ("names", "students", "roster"),
                     "average": ("average", "mean_of", "average_for"), "best": ("best", "top_student", "leader"),
                     "student": ("student", "name", "who"), "mark": ("mark", "grade", "score"),
                     "got": ("got", "theirs", "values"), "s": ("s", "n", "person"), "top": ("top", "champion", "lead"),
                     "mean": ("mean", "avg", "their_mean"), "average_raw": ("_mean", "_raw_average", "_exact_mean")},
        description="A grade book class built on a dict of lists.")
