"""Exercise families of the areas basics, strings, lists and iteration_tools (the rules: ../family.py).

Every family is one `make(rng)` built on `_build`, which does the drawing that all families share:
the entry point's name and its parameters' names (from synonym lists, never a builtin's name), the
docstring's layout (numpy, Google, Sphinx, the phi-1 paper's "Parameters:/Returns:" lines, doctest
examples, or a plain paragraph), `list[int]` or `typing.List[int]` spelling, and the body among the
family's implementation styles. A family itself draws the task's constants and the test inputs and
gives a reference implementation (a plain Python function of this module) from which every expected
value is computed, so the tests are right by construction and `source + tests` runs clean.

Body, summary and parameter texts are `string.Template`s: `$key` stands for a drawn name (a parameter,
a local variable) or a constant the family rendered, so one template serves every draw.
"""

from __future__ import annotations

import builtins
import copy
import keyword
import math
import re
import string
import textwrap
from dataclasses import dataclass, field
from itertools import accumulate, combinations, groupby
from typing import Any, Callable, Sequence

from textbooks.synth.offline.family import Family, Made, pick
from textbooks.synth.offline.families._common import (  # noqa: F401 - shared by the three modules
    KW, P, _NO_DEFAULT, _TYPING_FORMS, _annotation, _printed,
)

_RESERVED = set(dir(builtins)) | set(keyword.kwlist)


@dataclass
class Body:
    """One implementation style: its code (a Template) and what it needs above the entry point."""

    code: str
    imports: tuple[str, ...] = ()
    helpers: str = ""  # a Template too: helper functions defined above the entry point


@dataclass
class _Call:
    text: str
    expected: Any
    args: dict = field(default_factory=dict)


_WORDS = ("apple river stone cloud maple garden window silver forest candle rocket puzzle orange planet tiger "
          "lemon meadow harbor pencil castle bridge violet thunder marble sunset kettle anchor breeze cactus "
          "dragon ember falcon glacier hollow island jungle lantern mirror nectar orbit pepper quartz saddle "
          "timber umbrella velvet walnut yarrow zephyr banana ocean sky gym tree book moon sun rain").split()
_PALINDROMES = ("level", "radar", "noon", "civic", "kayak", "refer", "rotor", "madam", "stats", "tenet")


def _and_list(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _words(rng, n: int) -> list[str]:
    return [pick(rng, _WORDS) for _ in range(n)]


def _ints(rng, n: int, lo: int = -9, hi: int = 20) -> list[int]:
    return [rng.randint(lo, hi) for _ in range(n)]


def _draw(rng, options: Sequence[str], used: set[str]) -> str:
    """A name from `options` not already taken in this exercise (drawn in rng order, so seeds reproduce)."""
    order = list(options)
    rng.shuffle(order)
    for name in order:
        if name not in used:
            if name in _RESERVED:
                raise ValueError(f"{name!r} would shadow a builtin or keyword")
            used.add(name)
            return name
    raise ValueError(f"no free name among {options}")


def _wrap(text: str, width: int = 92) -> list[str]:
    return textwrap.wrap(text, width) or [""]


def _docstring(rng, summary: str, params: list[tuple[str, str, str]], ret: tuple[str, str],
               examples: list[tuple[str, str]], note: str) -> list[str]:
    """Docstring lines (unindented) in one of the layouts teachers and textbooks use.

    examples: (call, what the interactive interpreter prints for it), "" when it prints nothing (None).
    The draws depend on the examples only through whether there are any, so a copy of `rng` taken before
    the call lays out the same docstring again (see `_build`)."""
    layout = pick(rng, ("numpy", "google", "sphinx", "paper", "example", "google_example", "plain", "numpy_example"))
    lines = _wrap(summary)
    if note and pick(rng, (True, False)):
        lines += ([""] if pick(rng, (True, False)) else []) + _wrap(note)
    ret_type, ret_doc = ret
    if layout.startswith("numpy"):
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
    elif layout == "paper":  # the phi-1 paper's CodeExercises layout
        lines += ["", "Parameters:"] + [f"{name} ({ann}): {doc}" for name, ann, doc in params]
        lines += ["", "Returns:", f"{ret_type}: {ret_doc}"]
    if layout.endswith("example") and examples:
        lines += [""] + {"example": [], "google_example": ["Examples:"],
                         "numpy_example": ["Examples", "--------"]}[layout]
        for call, printed in examples[: pick(rng, (1, 2, 2))]:
            lines += [f">>> {call}"] + ([printed] if printed else [])
    if pick(rng, (True, False, False)):  # phi-1's teachers often open the docstring on its own line
        return [""] + lines
    return lines


def _build(rng, *, names: Sequence[str], params: list[P], returns: tuple[str, str], summaries: Sequence[str],
           bodies: Sequence[str | Body], ref: Callable[..., Any], cases: list[tuple], consts: dict | None = None,
           local_names: dict[str, Sequence[str]] | None = None, notes: Sequence[str] = (),
           typing_extra: Sequence[str] = (), description: str = "") -> Made:
    """Draw the shared parts of an exercise, compute the expected values with `ref` and render it.

    cases: argument tuples in parameter order (trailing defaulted ones may be left out); a `KW` at the end
    adds keyword arguments by parameter key. ref: called with every argument by key, defaults filled in.
    """
    used: set[str] = set()
    entry = _draw(rng, names, used)
    sub: dict[str, str] = {p.key: _draw(rng, p.names, used) for p in params}
    for key, options in (local_names or {}).items():
        sub[key] = _draw(rng, options, used)
    sub.update(consts or {})
    fill = lambda text: string.Template(text).substitute(sub)  # noqa: E731
    typing_style = pick(rng, (False, False, True))
    typing_names = set(typing_extra)
    sig, doc_params = [], []
    for p in params:
        ann = _annotation(p.type, typing_style, typing_names)
        default = "" if p.default is _NO_DEFAULT else f" = {p.default!r}"
        sig.append(f"{sub[p.key]}: {ann}{default}")
        doc_params.append((sub[p.key], ann, fill(p.doc)))
    ret_ann = _annotation(returns[0], typing_style, typing_names)

    calls, seen = [], set()
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
        calls.append(_Call(text, ref(**copy.deepcopy(args)), args))
    if len(calls) < 4:
        raise ValueError(f"{entry}: {len(calls)} test calls, want at least 4")
    candidates = [(c.text, repr(c.expected)) for c in calls if _showable(c.text, repr(c.expected))]
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
    imports = set()
    for line in body.imports:  # one `from typing import` line for the body's names and the annotations'
        if line.startswith("from typing import "):
            typing_names.update(n.strip() for n in line[len("from typing import "):].split(","))
        else:
            imports.add(line)
    if typing_names:
        imports.add(f"from typing import {', '.join(sorted(typing_names))}")
    imports = sorted(imports, key=lambda line: (line.split()[1], line))  # by module, as isort orders them
    head = "\n".join(imports) + "\n\n\n" if imports else ""
    helpers = ""
    if body.helpers:  # the helpers' annotations follow the entry point's spelling
        helpers = fill(_dedent(body.helpers))
        if typing_style:
            helpers = re.sub(r"\b(list|dict|tuple|set)\[", lambda m: _annotation(m.group(0), True, typing_names),
                             helpers)
        helpers += "\n\n\n"
    code = textwrap.indent(fill(textwrap.dedent(body.code).strip("\n")), "    ")

    def render(doc: list[str]) -> str:
        doc_text = doc[0] + "".join("\n" + ("    " + s).rstrip() for s in doc[1:])
        return f'{head}{helpers}def {entry}({", ".join(sig)}) -> {ret_ann}:\n    """{doc_text}\n    """\n{code}\n'

    results = _run_calls(render([summary]), entry, [c for c, _ in candidates])
    kept = [(c, v) for (c, _), v in zip(candidates, results) if _showable(c, repr(v))]
    source = render(_docstring(layout_rng, summary, doc_params, ret_doc, [(c, _printed(v)) for c, v in kept], note))
    shown = [(c, repr(v)) for c, v in kept]
    tests = "\n".join(_assert(c) for c in calls) + "\n"
    first = summary.split(". ")[0].rstrip(".") + "."
    return Made(entry, source, tests, description or first, tuple(shown[:3]))


def _showable(call: str, result: str) -> bool:
    """Whether a call and its result fit on a doctest line (short, no backslashes to escape)."""
    return len(call) + len(result) < 84 and "\\" not in call + result


def _run_calls(source: str, entry: str, calls: Sequence[str]) -> list[Any]:
    """The values `calls` return when evaluated, in order, after running `source`: the rendered solution,
    not the reference, because a docstring example must show what the very body below it returns. The
    bodies are this module's own standard-library code."""
    namespace: dict[str, Any] = {"__name__": "__exercise__"}
    # dont_inherit: this module's `from __future__ import annotations` must not leak into the exercise
    exec(compile(source, f"<{entry}>", "exec", dont_inherit=True), namespace)
    return [eval(call, namespace) for call in calls]


def _dedent(text: str) -> str:
    """Dedent helper code written in this module, also a `def` whose first line starts at the opening quotes."""
    first, _, rest = text.strip("\n").partition("\n")
    if not first.startswith("def ") or not rest:
        return textwrap.dedent(text).strip("\n")
    return first + "\n" + textwrap.indent(textwrap.dedent(rest), "    ")


def _assert(call: _Call) -> str:
    if call.expected is None or isinstance(call.expected, bool):
        return f"assert {call.text} is {call.expected!r}"
    if isinstance(call.expected, float):
        return f"assert abs({call.text} - {call.expected!r}) < 1e-9"
    return f"assert {call.text} == {call.expected!r}"


FAMILIES: list[Family] = []


def _family(name: str, tags: tuple[str, ...], concept: str, topic: str = ""):
    """Register `make` as a family; the topic defaults to "<area>/<first tag>"."""
    area = name.split(".")[0]

    def register(make: Callable[[Any], Made]) -> Callable[[Any], Made]:
        FAMILIES.append(Family(name, topic or f"{area}/{tags[0]}", (area, *tags), " ".join(concept.split()), make))
        return make

    return register


# ------------------------------------------------------------------------------------------------ basics


@_family("basics.value_kind", ("variables_and_types", "isinstance", "conditionals"), """
    Every Python value has a type, and `isinstance(value, T)` asks whether it is of type T. Order matters:
    `bool` is a subclass of `int`, so `isinstance(True, int)` is true and a check for booleans must come
    before the check for integers. `None` is the only value of its type and is tested with `is None`.""")
def _value_kind(rng) -> Made:
    labels = pick(rng, (
        {"none": "nothing", "bool": "boolean", "int": "integer", "float": "float", "str": "text", "list": "list",
         "other": "other"},
        {"none": "missing", "bool": "flag", "int": "whole number", "float": "decimal", "str": "string",
         "list": "sequence", "other": "unknown"},
        {"none": "none", "bool": "bool", "int": "int", "float": "float", "str": "str", "list": "list",
         "other": "something else"},
    ))

    def ref(value):
        if value is None:
            return labels["none"]
        for kind, key in ((bool, "bool"), (int, "int"), (float, "float"), (str, "str"), (list, "list")):
            if isinstance(value, kind):
                return labels[key]
        return labels["other"]

    chain = "".join(f"if isinstance($value, {k}):\n"
                    f"    return $l_{k}\n" for k in ("bool", "int", "float", "str", "list"))
    match = "".join(f"    case {k}():\n        return $l_{k}\n" for k in ("bool", "int", "float", "str", "list"))
    samples = [rng.randint(-50, 50), round(rng.uniform(-9, 9), 2), pick(rng, _WORDS), _ints(rng, rng.randint(0, 3)),
               pick(rng, (True, False))]
    rng.shuffle(samples)
    return _build(
        rng, names=("describe_type", "kind_of", "type_label", "classify_value", "value_category", "label_type"),
        params=[P("value", ("value", "item", "obj", "thing", "data"), "object", "The value to describe.")],
        returns=("str", "$l_none for None, $l_bool, $l_int, $l_float, $l_str or $l_list for those types, "
                        "and $l_other for anything else."),
        summaries=("Return a short label naming the kind of value `$value` is.",
                   "Classify `$value` by its type and return the matching label.",
                   "Describe the type of $value with one word or phrase from a fixed set of labels."),
        notes=("Booleans are reported as $l_bool, not as $l_int, so they are checked first.",
               "Tuples, dicts and every other type get $l_other."),
        bodies=("if $value is None:\n    return $l_none\n" + chain + "return $l_other",
                "$table = {\n    type(None): $l_none,\n    bool: $l_bool,\n    int: $l_int,\n    float: $l_float,\n"
                "    str: $l_str,\n    list: $l_list,\n}\nreturn $table.get(type($value), $l_other)",
                "match $value:\n    case None:\n        return $l_none\n" + match + "    case _:\n"
                                                                                    "        return $l_other"),
        local_names={"table": ("labels", "names_by_type", "table", "kinds")},
        consts={f"l_{k}": repr(v) for k, v in labels.items()},
        ref=ref, cases=[(v,) for v in samples] + [(None,), ("",), ((1, 2),)])


@_family("basics.safe_int", ("variables_and_types", "conversion", "exceptions"), """
    Converting text to a number with `int(text)` raises `ValueError` when the text is not a whole number.
    A conversion helper either catches that error or checks the text first, and falls back to a default
    value, so that the caller always gets an int back and never has to handle the exception itself.""")
def _safe_int(rng) -> Made:
    default = pick(rng, (0, -1, 0, 99))
    with_default = pick(rng, (True, False))

    def ref(text, fallback):
        try:
            return int(text)
        except ValueError:
            return fallback

    texts = [str(rng.randint(-500, 500)), "+" + str(rng.randint(0, 99)), f"{rng.randint(0, 9)}.5",
             pick(rng, _WORDS), str(rng.randint(1, 9)) + pick(rng, "abcxyz"), "00" + str(rng.randint(1, 9))]
    rng.shuffle(texts)
    other = pick(rng, (-5, 7, 42))
    cases = [(t,) if with_default else (t, other) for t in texts[:4]]
    cases += [(t, other) for t in texts[4:]] + [("", other), ("-", other)]
    if with_default:
        cases.append(("",))
    return _build(
        rng, names=("to_int_or_default", "parse_int", "safe_int", "int_or_fallback", "convert_to_int", "read_int"),
        params=[P("text", ("text", "s", "raw", "token", "value_text"), "str", "The text to convert."),
                P("fallback", ("default", "fallback", "otherwise", "on_error"), "int",
                  "The value returned when `$text` is not a whole number.", default if with_default else _NO_DEFAULT)],
        returns=("int", "The parsed number, or `$fallback`."),
        summaries=("Convert `$text` to an int, returning `$fallback` when it does not hold a whole number.",
                   "Parse $text as a (possibly signed) whole number; if that fails, give back $fallback instead.",
                   "Return the integer written in `$text`, or `$fallback` if the text is not a valid integer."),
        notes=("Text such as '3.5', 'abc' or the empty string is not a whole number.",
               "A leading '+' or '-' sign is allowed."),
        bodies=("try:\n    return int($text)\nexcept ValueError:\n    return $fallback",
                '$digits = $text[1:] if $text[:1] in ("+", "-") else $text\nif $digits.isdigit():\n'
                "    return int($text)\nreturn $fallback",
                Body('if re.fullmatch(r"[+-]?[0-9]+", $text):\n    return int($text)\nreturn $fallback',
                     ("import re",))),
        local_names={"digits": ("digits", "unsigned", "number_part", "rest")},
        ref=ref, cases=cases)


@_family("basics.containers_needed", ("expressions_and_operators", "integer-division"), """
    Floor division `a // b` rounds down, but counting containers needs rounding up: 10 items in boxes of 4
    need 3 boxes. For a positive b the ceiling of a / b can be written `(a + b - 1) // b` or `-(-a // b)`,
    which stay in exact integer arithmetic, or with `divmod` by adding one when something is left over.""")
def _containers_needed(rng) -> Made:
    names, amounts, sizes, units, things, unit = pick(rng, (
        (("boxes_needed", "count_boxes", "min_boxes", "boxes_required"), ("items", "item_count", "n_items"),
         ("per_box", "box_size", "capacity"), "boxes", "items", "box"),
        (("buses_needed", "count_buses", "min_buses", "buses_required"), ("passengers", "riders", "people"),
         ("seats", "seats_per_bus", "bus_capacity"), "buses", "passengers", "bus"),
        (("pages_needed", "page_count", "count_pages", "pages_required"), ("lines", "line_count", "total_lines"),
         ("lines_per_page", "page_size", "per_page"), "pages", "lines", "page"),
        (("trips_needed", "count_trips", "min_trips", "trips_required"), ("load", "total_load", "crates"),
         ("per_trip", "max_per_trip", "trip_capacity"), "trips", "crates", "trip"),
    ))
    size = rng.randint(2, 30)
    cases = [(rng.randint(1, 300), rng.randint(1, 40)) for _ in range(3)]
    cases += [(0, size), (size * rng.randint(1, 9), size), (1, size), (rng.randint(1, 50), 1)]
    return _build(
        rng, names=names,
        params=[P("amount", amounts, "int", "How many $things there are (zero or more)."),
                P("size", sizes, "int", "How many $things fit in one $unit (at least 1).")],
        returns=("int", "The smallest number of $units that holds them all."),
        summaries=("Return how many $units are needed for `$amount` $things when each $unit holds `$size`.",
                   "Compute the number of $units required to carry $amount $things, $size per $unit.",
                   "How many $units of size $size does it take to fit $amount $things?"),
        notes=("A partly filled $unit still counts as a whole one.", "No $things need no $units."),
        bodies=("return -(-$amount // $size)", "return ($amount + $size - 1) // $size",
                "$full, $rest = divmod($amount, $size)\nreturn $full + (1 if $rest else 0)",
                Body("return math.ceil($amount / $size)", ("import math",))),
        local_names={"full": ("full", "whole", "complete"), "rest": ("rest", "left_over", "extra")},
        consts={"units": units, "things": things, "unit": unit},
        ref=lambda amount, size: -(-amount // size), cases=cases)


@_family("basics.wrap_around", ("expressions_and_operators", "modulo"), """
    The remainder operator `%` wraps a number around a circle: the slots of a dial of n positions are 0 to
    n-1, and `(start + steps) % n` lands on the right slot even after many full turns. In Python `x % n` is
    never negative for a positive n, so steps backwards (negative steps) wrap correctly too; a dial
    numbered from 1, like a clock face, shifts by one before and after the remainder.""")
def _wrap_around(rng) -> Made:
    one_based = pick(rng, (True, False))
    size = pick(rng, (12, 7) if one_based else (10, 24, 60, 8))
    lo, hi = (1, size) if one_based else (0, size - 1)
    last = "`$size`" if one_based else "`$size` - 1"
    if one_based:
        ref = lambda start, steps, size: (start - 1 + steps) % size + 1  # noqa: E731
        bodies = ("return ($start - 1 + $steps) % $size + 1",
                  "$pos = $start + $steps\nwhile $pos > $size:\n    $pos -= $size\nwhile $pos < 1:\n    $pos += $size\n"
                  "return $pos",
                  "$index = ($start - 1 + $steps) % $size\nreturn $index + 1")
    else:
        ref = lambda start, steps, size: (start + steps) % size  # noqa: E731
        bodies = ("return ($start + $steps) % $size",
                  "$pos = $start + $steps\nwhile $pos >= $size:\n    $pos -= $size\nwhile $pos < 0:\n"
                  "    $pos += $size\n"
                  "return $pos",
                  "return divmod($start + $steps, $size)[1]")
    cases = [(rng.randint(lo, hi), rng.randint(-3 * size, 3 * size)) for _ in range(3)]
    cases += [(hi, 1), (rng.randint(lo, hi), 0), (lo, -1), (rng.randint(lo, hi), rng.randint(1, 4) * size, KW(size=5))]
    return _build(
        rng, names=("wrap_position", "position_after", "step_around", "advance_on_dial", "move_around_ring"),
        params=[P("start", ("start", "position", "current", "begin"), "int", f"The starting slot, {lo} to {last}."),
                P("steps", ("steps", "moves", "offset", "shift"), "int", "How far to move; negative moves backwards."),
                P("size", ("size", "slots", "ring_size", "dial_size"), "int", "How many slots the dial has.", size)],
        returns=("int", f"The slot reached, between {lo} and `$size`."),
        summaries=(f"Return the slot reached on a dial numbered {lo} to {last} after moving `$steps` from `$start`.",
                   f"Move $steps places around a ring of $size slots (numbered from {lo}) starting at $start.",
                   f"Advance a pointer on a circular dial whose slots are numbered from {lo}, wrapping past the end."),
        notes=("Moving past the last slot continues at the first one.", "Several full turns are allowed."),
        bodies=bodies, local_names={"pos": ("pos", "spot", "where"), "index": ("index", "offset0", "zero_based")},
        ref=ref, cases=cases)


@_family("basics.grade_band", ("conditionals", "if-elif", "thresholds"), """
    An `if`/`elif` chain tests conditions from the top and runs the first branch that holds, so checking
    the highest threshold first gives each score the best band it reaches. The same rule can be written as
    a loop over a table of (threshold, label) pairs, or with `bisect`, which finds the band of a sorted list
    of thresholds by binary search.""")
def _grade_band(rng) -> Made:
    k = pick(rng, (3, 4, 4))
    cutoffs = sorted(rng.sample(range(30, 96, 5), k), reverse=True)
    labels = pick(rng, ((["A", "B", "C", "D", "F"], ["excellent", "very good", "good", "pass", "fail"],
                         ["A", "B", "C", "D", "E"]) if k == 4 else
                        (["gold", "silver", "bronze", "none"], ["high", "medium", "low", "none"],
                         ["A", "B", "C", "F"])))

    def ref(score):
        for cut, label in zip(cutoffs, labels):
            if score >= cut:
                return label
        return labels[-1]

    pairs = list(zip(cutoffs, labels))
    elif_chain = "".join(f"{'if' if i == 0 else 'elif'} $score >= {c}:\n    return {lab!r}\n"
                         for i, (c, lab) in enumerate(pairs)) + f"else:\n    return {labels[-1]!r}"
    if_chain = "".join(f"if $score >= {c}:\n    return {lab!r}\n" for c, lab in pairs) + f"return {labels[-1]!r}"
    table = (f"for $cutoff, $label in {tuple(pairs)!r}:\n    if $score >= $cutoff:\n        return $label\n"
             f"return {labels[-1]!r}")
    bis = Body(f"$index = bisect_right({cutoffs[::-1]!r}, $score)\nreturn {labels[::-1]!r}[$index]",
               ("from bisect import bisect_right",))
    rule = ", ".join(f"{lab!r} from {c}" for c, lab in pairs) + f", otherwise {labels[-1]!r}"
    cases = [(rng.randint(0, 100),) for _ in range(3)] + [(c,) for c in cutoffs[:2]] + [(cutoffs[-1] - 1,), (0,),
                                                                                        (100,)]
    return _build(
        rng, names=("letter_grade", "grade_for", "score_to_grade", "grade_label", "band_for_score", "rate_score"),
        params=[P("score", ("score", "points", "mark", "result"), "int", "The score, from 0 to 100.")],
        returns=("str", "The label of the highest band that `$score` reaches."),
        summaries=(f"Return the grade for `$score`: {rule}.", f"Map $score to a band label ({rule}).",
                   f"Turn a score into its grade. The bands are: {rule}."),
        notes=("A score exactly on a threshold belongs to that band.",),
        bodies=(elif_chain, if_chain, table, bis),
        local_names={"cutoff": ("cutoff", "lowest", "threshold"), "label": ("label", "grade", "band"),
                     "index": ("index", "position", "slot")},
        ref=ref, cases=cases)


@_family("basics.ticket_price", ("conditionals", "if-elif", "booleans"), """
    Pricing rules are a chain of conditions checked in order: the first one that applies decides the price.
    Returning early from each branch keeps the rules flat, and the order of the checks is part of the rule
    (a child who is also a student pays the child price when the age check comes first).""")
def _ticket_price(rng) -> Made:
    child_age, senior_age = rng.randint(4, 12), pick(rng, (60, 65, 67, 70))
    adult = rng.randint(10, 25)
    child, senior, student_price = adult // 2, adult - rng.randint(2, 5), adult - rng.randint(1, 4)

    def ref(age, student):
        if age < child_age:
            return child
        if age >= senior_age:
            return senior
        return student_price if student else adult

    early = ("if $age < $child_age:\n    return $child\nif $age >= $senior_age:\n    return $senior\n"
             "if $student:\n    return $student_price\nreturn $adult")
    chained = ("if $age < $child_age:\n    $price = $child\nelif $age >= $senior_age:\n    $price = $senior\n"
               "elif $student:\n    $price = $student_price\nelse:\n    $price = $adult\nreturn $price")
    table = ('$prices = {"child": $child, "senior": $senior, "student": $student_price, "adult": $adult}\n'
             '$band = "child" if $age < $child_age else "senior" if $age >= $senior_age else '
             '"student" if $student else "adult"\nreturn $prices[$band]')
    cases = [(rng.randint(0, 90), pick(rng, (True, False))) for _ in range(3)]
    cases += [(0, False), (child_age, True), (child_age - 1, True), (senior_age, True), (senior_age - 1, False)]
    rules = (f"children under {child_age} pay {child}, people aged {senior_age} or more pay {senior}, "
             f"students pay {student_price} and everyone else pays {adult}")
    return _build(
        rng, names=("ticket_price", "admission_price", "entry_fee", "fare_for", "price_of_ticket"),
        params=[P("age", ("age", "years", "visitor_age", "age_years"), "int", "The visitor's age in years."),
                P("student", ("is_student", "student", "has_student_card", "with_student_id"), "bool",
                  "Whether the visitor shows a student card.")],
        returns=("int", "The ticket price in whole currency units."),
        summaries=(f"Return the ticket price for a visitor: {rules}.",
                   f"Compute the admission fee from `$age` and `$student`; {rules}.",
                   f"Work out what a visitor pays. The rules, checked in this order: {rules}."),
        bodies=(early, chained, table),
        local_names={"price": ("price", "fee", "cost"), "prices": ("prices", "fees", "price_of"),
                     "band": ("band", "group", "category")},
        consts={"child_age": str(child_age), "senior_age": str(senior_age), "child": str(child),
                "senior": str(senior), "student_price": str(student_price), "adult": str(adult)},
        ref=ref, cases=cases)


@_family("basics.fizz_word", ("conditionals", "modulo", "strings"), """
    "Is n a multiple of k?" is the test `n % k == 0`. When two divisibility rules can both apply, either
    test the combined case first, or build the answer piece by piece (add one word per rule that holds)
    and fall back to the number itself when no rule applied, which `word or str(n)` expresses neatly.""")
def _fizz_word(rng) -> Made:
    a, b = pick(rng, ((3, 5), (2, 7), (4, 6), (3, 7), (5, 8)))
    wa, wb = pick(rng, (("Fizz", "Buzz"), ("Ping", "Pong"), ("Tic", "Tac"), ("Foo", "Bar"), ("Zip", "Zap")))

    def ref(n):
        word = (wa if n % a == 0 else "") + (wb if n % b == 0 else "")
        return word or str(n)

    both = math.lcm(a, b)
    chain = ("if $n % $a == 0 and $n % $b == 0:\n    return $both_word\nif $n % $a == 0:\n    return $wa\n"
             "if $n % $b == 0:\n    return $wb\nreturn str($n)")
    pieces = ('$word = ""\nif $n % $a == 0:\n    $word += $wa\nif $n % $b == 0:\n    $word += $wb\n'
              "return $word or str($n)")
    product = "$word = $wa * ($n % $a == 0) + $wb * ($n % $b == 0)\nreturn $word or str($n)"
    cases = [(rng.randint(1, 100),) for _ in range(2)] + [(a * rng.randint(1, 9),), (b * rng.randint(1, 9),)]
    cases += [(both * rng.randint(1, 3),), (1,), (0,)]
    return _build(
        rng, names=("fizz_word", "label_number", "say_number", "game_word", "number_or_word", "chant_for"),
        params=[P("n", ("n", "number", "num", "value"), "int", "The number to announce (zero or more).")],
        returns=("str", f"{wa!r}, {wb!r}, {wa + wb!r} or the number written out."),
        summaries=(f"Return {wa!r} if `$n` is a multiple of {a}, {wb!r} if it is a multiple of {b}, "
                   f"{wa + wb!r} if both, and the number as text otherwise.",
                   f"Say the word for $n in the counting game: multiples of {a} are {wa!r}, multiples of {b} "
                   f"are {wb!r}, multiples of both are {wa + wb!r}.",
                   f"Replace a number by a word: {wa} for multiples of {a}, {wb} for multiples of {b}, "
                   f"{wa}{wb} for both; other numbers stay as they are (as a string)."),
        notes=("Zero is a multiple of every number.",),
        bodies=(chain, pieces, product), local_names={"word": ("word", "out", "said", "spoken")},
        consts={"a": str(a), "b": str(b), "wa": repr(wa), "wb": repr(wb), "both_word": repr(wa + wb)},
        ref=ref, cases=cases)


@_family("basics.sum_of_multiples", ("loops", "modulo", "accumulation"), """
    A loop with an accumulator visits every number of a range and adds the ones that pass a test; the
    same idea fits in one `sum()` over a generator expression. For multiples there is also a closed form:
    the multiples of k up to m add up to k * (1 + 2 + ... + m // k), and inclusion-exclusion subtracts the
    numbers counted twice, the multiples of both divisors (their least common multiple).""")
def _sum_of_multiples(rng) -> Made:
    a, b = sorted(rng.sample((2, 3, 4, 5, 6, 7, 9, 11), 2))
    inclusive = pick(rng, (True, False))
    top = "$limit" if inclusive else "$limit - 1"
    stop = "$limit + 1" if inclusive else "$limit"
    where = "up to and including `$limit`" if inclusive else "below `$limit`"

    def ref(limit):
        return sum(x for x in range(1, limit + inclusive) if x % a == 0 or x % b == 0)

    loop = (f"$total = 0\nfor $x in range(1, {stop}):\n    if $x % {a} == 0 or $x % {b} == 0:\n"
            "        $total += $x\nreturn $total")
    gen = f"return sum($x for $x in range(1, {stop}) if $x % {a} == 0 or $x % {b} == 0)"
    closed = Body(f"$top = {top}\nreturn $helper({a}, $top) + $helper({b}, $top) - $helper(math.lcm({a}, {b}), $top)",
                  ("import math",),
                  '''def $helper(k: int, top: int) -> int:
                      """Sum of the multiples of k from k up to top: k * (1 + 2 + ... + top // k)."""
                      m = top // k
                      return k * m * (m + 1) // 2''')
    cases = [(rng.randint(10, 200),) for _ in range(3)] + [(0,), (1,), (a,), (a * b,)]
    return _build(
        rng, names=("sum_of_multiples", "multiples_sum", "total_of_multiples", "add_multiples", "sum_divisible"),
        params=[P("limit", ("limit", "bound", "n", "upper", "stop_at"), "int",
                  "The bound of the range (zero or more).")],
        returns=("int", f"The sum of the positive multiples of {a} or {b} {where}."),
        summaries=(f"Add up every positive number {where} that is a multiple of {a} or of {b}.",
                   f"Return the sum of the natural numbers {where} divisible by {a} or {b}.",
                   f"Sum the numbers from 1 {where} that {a} or {b} divides evenly."),
        notes=("A number that is a multiple of both is counted once.",),
        bodies=(loop, gen, closed),
        local_names={"total": ("total", "acc", "running"), "x": ("x", "k", "num", "candidate"),
                     "top": ("top", "last", "highest"), "helper": ("sum_up_to", "multiples_total", "series_sum")},
        ref=ref, cases=cases)


@_family("basics.collatz", ("loops", "while-loops"), """
    A `while` loop repeats as long as its condition holds, which suits processes whose length is not
    known in advance. The Collatz rule halves an even number and maps an odd n to 3n + 1; every start
    tried so far reaches 1, and the loop counts the steps or tracks the largest value seen on the way.""")
def _collatz(rng) -> Made:
    peak = pick(rng, (True, False))

    def ref(n):
        best, steps = n, 0
        while n != 1:
            n = n // 2 if n % 2 == 0 else 3 * n + 1
            best, steps = max(best, n), steps + 1
        return best if peak else steps

    if peak:
        names = ("collatz_peak", "hailstone_max", "highest_collatz_value", "peak_of_sequence", "max_hailstone")
        init, update, result = "$best = $n", "    $best = max($best, $n)", "return $best"
        what, ret = "the largest value the Collatz sequence of `$n` reaches", "The peak value (at least `$n`)."
    else:
        names = ("collatz_steps", "steps_to_one", "hailstone_length", "count_collatz_steps", "stopping_time")
        init, update, result = "$steps = 0", "    $steps += 1", "return $steps"
        what, ret = "how many Collatz steps it takes `$n` to reach 1", "The number of steps (0 for 1)."
    branches = ("while $n != 1:\n    if $n % 2 == 0:\n        $n //= 2\n    else:\n        $n = 3 * $n + 1\n",
                "while $n > 1:\n    $n = $n // 2 if $n % 2 == 0 else 3 * $n + 1\n")
    bodies = [f"{init}\n{loop}{update}\n{result}" for loop in branches]
    bodies.append(f"{init}\nwhile $n != 1:\n    $n = (3 * $n + 1) if $n & 1 else ($n >> 1)\n{update}\n{result}")
    cases = [(rng.randint(2, 60),) for _ in range(4)] + [(1,), (2,), (pick(rng, (16, 32, 64)),)]
    return _build(
        rng, names=names,
        params=[P("n", ("n", "start", "number", "seed_value"), "int", "The starting number (1 or more).")],
        returns=("int", ret),
        summaries=(f"Return {what}.", f"Follow the Collatz rule (halve even numbers, map odd n to 3n + 1) from "
                                      f"`$n` until it reaches 1 and return {what.split(' the Collatz')[0]}.",
                   f"Compute {what}; each step halves an even number or turns an odd n into 3n + 1."),
        bodies=bodies, local_names={"best": ("best", "highest", "peak"), "steps": ("steps", "count", "moves")},
        ref=ref, cases=cases)


@_family("basics.years_to_target", ("loops", "while-loops", "simulation"), """
    Simulating a process year by year is a loop that updates the state and counts iterations until a goal
    is reached. Integer arithmetic keeps it exact: growing by p percent rounded down is `x * p // 100`,
    and a minimum step of one guarantees the loop ends even when the percentage is small.""")
def _years_to_target(rng) -> Made:
    def ref(start, rate, target):
        years = 0
        while start < target:
            start += max(1, start * rate // 100)
            years += 1
        return years

    loop = ("$current = $start\n$years = 0\nwhile $current < $target:\n"
            "    $current += max(1, $current * $rate // 100)\n    $years += 1\nreturn $years")
    counted = Body("$current = $start\nfor $years in count():\n    if $current >= $target:\n        return $years\n"
                   "    $current += max(1, $current * $rate // 100)\nraise AssertionError('unreachable')",
                   ("from itertools import count",))
    step = Body("$years = 0\n$current = $start\nwhile $current < $target:\n    $current = $helper($current, $rate)\n"
                "    $years += 1\nreturn $years", (),
                '''def $helper(amount: int, rate: int) -> int:
                    """One year of growth: rate percent, rounded down, but at least 1."""
                    return amount + max(1, amount * rate // 100)''')
    cases = []
    for _ in range(4):
        s = rng.randint(1, 500)
        cases.append((s, rng.randint(1, 40), s * rng.randint(2, 6)))
    cases += [(100, 10, 100), (50, 5, 10), (1, 1, 3)]
    return _build(
        rng, names=("years_until", "years_to_reach", "growth_years", "periods_needed", "years_to_grow"),
        params=[P("start", ("start", "initial", "amount", "population"), "int", "The starting amount (1 or more)."),
                P("rate", ("rate", "percent", "growth_percent", "rate_percent"), "int", "Yearly growth in percent."),
                P("target", ("target", "goal", "threshold", "wanted"), "int", "The amount to reach.")],
        returns=("int", "The number of whole years until the amount is at least `$target` (0 if it already is)."),
        summaries=("Count the years until `$start` reaches `$target`, growing by `$rate` percent a year.",
                   "Return how many years an amount starting at $start needs to grow to $target or more.",
                   "Simulate yearly growth of $rate percent and report when $target is first reached."),
        notes=("Each year's growth is rounded down to a whole number but is at least 1.",),
        bodies=(loop, counted, step),
        local_names={"current": ("current", "level", "amount_now"), "years": ("years", "elapsed", "year_count"),
                     "helper": ("grow_once", "one_year", "next_amount")},
        ref=ref, cases=cases)


@_family("basics.discounted_price", ("functions", "default-arguments"), """
    A parameter with a default value, `def f(price, percent=10)`, may be left out by the caller, which then
    gets the common case; passing it by keyword (`percent=25`) makes the call read clearly. Computing in
    whole cents with floor division keeps money exact, where floats would round in binary.""")
def _discounted_price(rng) -> Made:
    default = pick(rng, (10, 15, 20, 25))
    one = "return $price - $price * $percent // 100"
    two = "$saving = $price * $percent // 100\nreturn $price - $saving"
    helper = Body("return $price - $helper($price, $percent)", (),
                  '''def $helper(amount: int, pct: int) -> int:
                      """The whole part of pct percent of amount."""
                      return amount * pct // 100''')
    cases = [(rng.randint(100, 99999),) for _ in range(2)] + [(rng.randint(100, 9999), rng.randint(1, 90))]
    cases += [(rng.randint(100, 9999), KW(percent=pick(rng, (5, 30, 50)))), (0,), (rng.randint(1, 999), 0),
              (rng.randint(1, 999), KW(percent=100))]
    return _build(
        rng, names=("discounted_price", "apply_discount", "price_after_discount", "sale_price", "reduced_price"),
        params=[P("price", ("price", "cents", "cost", "price_cents"), "int", "The full price in cents."),
                P("percent", ("percent", "discount", "off_percent", "rate"), "int",
                  "The discount in percent (0 to 100).", default)],
        returns=("int", "The price after the discount, in cents; the discount is rounded down."),
        summaries=(f"Return `$price` reduced by `$percent` percent (by default {default}).",
                   "Apply a percentage discount to a price given in cents.",
                   f"Compute the sale price of an item costing $price cents when $percent percent is taken off; "
                   f"without a percentage the discount is {default}%."),
        bodies=(one, two, helper),
        local_names={"saving": ("saving", "off", "reduction"), "helper": ("percent_of", "portion", "share_of")},
        ref=lambda price, percent: price - price * percent // 100, cases=cases)


@_family("basics.clamp", ("functions", "default-arguments", "min-max"), """
    Clamping keeps a value inside a range: values below the lower bound become the bound, values above the
    upper bound become that bound, and the rest are unchanged. `max(low, min(value, high))` says it in one
    line; the explicit `if` version shows the three cases, and defaults let callers omit the usual range.""")
def _clamp(rng) -> Made:
    high = pick(rng, (100, 10, 255, 1000))

    def ref(value, low, high):
        return max(low, min(value, high))

    bodies = ("return max($low, min($value, $high))",
              "if $value < $low:\n    return $low\nif $value > $high:\n    return $high\nreturn $value",
              "return sorted(($low, $value, $high))[1]",
              "return $low if $value < $low else $high if $value > $high else $value")
    cases = [(rng.randint(-50, high + 50),) for _ in range(2)] + [(high + rng.randint(1, 99),), (-rng.randint(1, 9),)]
    cases += [(rng.randint(-20, 20), -5, 5), (7, KW(high=3)), (0,), (high,), (4, 4, 4)]
    return _build(
        rng, names=("clamp", "limit_to_range", "bound_value", "keep_in_range", "confine", "clip_number"),
        params=[P("value", ("value", "x", "number", "reading"), "int", "The number to limit."),
                P("low", ("low", "lo", "minimum", "floor_value"), "int", "The smallest allowed result.", 0),
                P("high", ("high", "hi", "maximum", "ceiling"), "int", "The largest allowed result.", high)],
        returns=("int", "`$value` moved into the range `$low`..`$high`."),
        summaries=("Limit `$value` to the closed range from `$low` to `$high`.",
                   "Return $value, or the nearest bound if it lies outside [$low, $high].",
                   f"Clamp a number into a range (by default 0 to {high}): too small gives the lower bound, "
                   "too large the upper one."),
        notes=("`$low` must not be greater than `$high`.",),
        bodies=bodies, ref=ref, cases=cases)


@_family("basics.format_money", ("string_formatting", "f-strings", "divmod"), """
    Money is best kept as a whole number of cents and only formatted for display. `divmod(cents, 100)`
    splits it into units and cents, the format spec `{:,}` groups digits in threes, and `{:02d}` pads the
    cents to two digits; grouping by hand takes three digits at a time from the right.""")
def _format_money(rng) -> Made:
    sym = pick(rng, ("$", "€", "£", ""))
    sep = pick(rng, (",", " ", "'", "."))
    dec = "," if sep == "." else "."
    t_sym = sym.replace("$", "$$")  # a literal dollar in a Template

    def ref(cents):
        units, rest = divmod(abs(cents), 100)
        return ("-" if cents < 0 else "") + sym + f"{units:,}".replace(",", sep) + dec + f"{rest:02d}"

    grouped = 'f"{$units:,}"' + ("" if sep == "," else f".replace(',', {sep!r})")
    fstring = ('$sign = "-" if $cents < 0 else ""\n$units, $rest = divmod(abs($cents), 100)\n'
               f"$whole = {grouped}\n" + f'return f"{{$sign}}{t_sym}{{$whole}}{dec}{{$rest:02d}}"')
    manual = ('$sign = "-" if $cents < 0 else ""\n$units, $rest = divmod(abs($cents), 100)\n$digits = str($units)\n'
              "$groups = []\nwhile len($digits) > 3:\n    $groups.insert(0, $digits[-3:])\n    $digits = $digits[:-3]\n"
              f"$groups.insert(0, $digits)\nreturn $sign + {t_sym!r} + {sep!r}.join($groups) + {dec!r} + "
              'f"{$rest:02d}"')
    cases = [(rng.randint(0, 99),), (rng.randint(100, 99999),), (rng.randint(10**5, 10**9),), (-rng.randint(1, 10**6),),
             (0,), (100000,)]
    shown = f"{t_sym}1{sep}234{dec}50"
    return _build(
        rng, names=("format_money", "format_cents", "money_text", "cents_to_text", "show_price", "price_label"),
        params=[P("cents", ("cents", "amount", "amount_cents", "total_cents"), "int", "The amount in cents.")],
        returns=("str", f"The amount written like {shown!r}."),
        summaries=(f"Format an amount of cents as money text, e.g. 123450 becomes {shown!r}.",
                   f"Return `$cents` as a price string: {t_sym or 'no'} currency sign, {sep!r} between groups of "
                   f"three digits and {dec!r} before the two cent digits.",
                   f"Render $cents cents for display in the style {shown!r}; negative amounts get a leading '-'."),
        bodies=(fstring, manual),
        local_names={"sign": ("sign", "minus", "prefix"), "units": ("units", "whole_units", "major"),
                     "rest": ("rest", "minor", "cent_part"), "whole": ("whole", "grouped", "body"),
                     "digits": ("digits", "remaining", "head"), "groups": ("groups", "chunks", "parts")},
        ref=ref, cases=cases)


@_family("basics.progress_bar", ("string_formatting", "string-multiplication"), """
    Repeating a string with `*` draws simple text graphics: `"#" * 3` is `"###"`. A progress bar is the
    filled part (done * width // total characters) followed by the empty part, and `str.ljust` can pad the
    filled part to the full width in one call; an f-string then adds brackets and the percentage.""")
def _progress_bar(rng) -> Made:
    full, empty = pick(rng, ("#", "=", "*", "+")), pick(rng, ("-", ".", " ", "_"))
    width = pick(rng, (10, 20, 8, 12))
    percent = pick(rng, (True, False))
    tail = " {$done * 100 // $total}%" if percent else ""

    def ref(done, total, width):
        filled = done * width // total
        return "[" + full * filled + empty * (width - filled) + "]" + (f" {done * 100 // total}%" if percent else "")

    bodies = (f"$filled = $done * $width // $total\n$bar = {full!r} * $filled + {empty!r} * ($width - $filled)\n"
              f'return f"[{{$bar}}]{tail}"',
              f"$filled = $done * $width // $total\n$bar = ({full!r} * $filled).ljust($width, {empty!r})\n"
              f'return f"[{{$bar}}]{tail}"',
              f"$filled = $done * $width // $total\n$bar = \"\".join({full!r} if $i < $filled else {empty!r} "
              f"for $i in range($width))\nreturn f\"[{{$bar}}]{tail}\"")
    cases = []
    for _ in range(3):
        t = rng.randint(1, 200)
        cases.append((rng.randint(0, t), t))
    cases += [(0, rng.randint(1, 50)), (7, 7), (1, 3, KW(width=pick(rng, (5, 6))))]
    return _build(
        rng, names=("progress_bar", "render_progress", "draw_progress", "progress_text", "bar_for"),
        params=[P("done", ("done", "completed", "finished", "current"), "int", "How much of the work is done."),
                P("total", ("total", "goal", "whole", "out_of"), "int", "The whole amount of work (1 or more)."),
                P("width", ("width", "size", "length", "bar_width"), "int", "How many characters the bar has.", width)],
        returns=("str", f"The bar in brackets, {full!r} for the done part and {empty!r} for the rest"
                        + (", then the percentage." if percent else ".")),
        summaries=("Draw a text progress bar for `$done` out of `$total`.",
                   "Return a bar like '[" + full * 3 + empty * 2 + "]" + (" 60%" if percent else "")
                   + "' showing how much of the work is finished.",
                   "Render the progress of a task as characters: the filled share is $done * $width // $total."),
        notes=("Partly filled cells are rounded down.",),
        bodies=bodies, local_names={"filled": ("filled", "n_full", "solid"), "bar": ("bar", "cells", "line"),
                                    "i": ("i", "cell", "pos")},
        ref=ref, cases=cases)


@_family("basics.leader_line", ("string_formatting", "alignment"), """
    Aligning text in columns means padding it to a fixed width. `str.ljust(width, fill)` pads on the
    right, and the format spec `{text:.<20}` does the same with a fill character and an alignment sign.
    A menu line puts the label on the left and the number on the right, with fill characters between.""")
def _leader_line(rng) -> Made:
    fill = pick(rng, (".", " ", "-", "_"))

    def ref(label, value, width):
        num = str(value)
        return label + fill * max(0, width - len(label) - len(num)) + num

    bodies = (f"$num = str($value)\nreturn $label + {fill!r} * max(0, $width - len($label) - len($num)) + $num",
              f"$num = str($value)\nreturn $label.ljust($width - len($num), {fill!r}) + $num",
              f'$num = str($value)\n$gap = max(0, $width - len($num))\nreturn f"{{$label:{fill}<{{$gap}}}}{{$num}}"')
    cases = [(pick(rng, _WORDS).capitalize(), rng.randint(0, 999), rng.randint(12, 30)) for _ in range(3)]
    cases += [("", 5, 4), (pick(rng, _WORDS), 12, 3), ("Total", rng.randint(100, 999), 8)]
    return _build(
        rng, names=("leader_line", "format_row", "dotted_row", "menu_line", "pad_row", "table_line"),
        params=[P("label", ("label", "name", "title", "caption"), "str", "The text on the left."),
                P("value", ("value", "amount", "count", "price"), "int", "The number on the right."),
                P("width", ("width", "line_width", "columns", "size"), "int", "The length of the finished line.")],
        returns=("str", "The line, exactly `$width` long unless the label and number alone are longer."),
        summaries=(f"Return `$label` and `$value` on one line of `$width` characters, joined by {fill!r} characters.",
                   f"Build a menu-style line: label on the left, number on the right, {fill!r} in between.",
                   f"Pad the gap between $label and $value with {fill!r} so the line is $width long."),
        notes=("If the text does not fit, nothing is cut: the label and number are simply joined.",),
        bodies=bodies, local_names={"num": ("num", "digits", "shown"), "gap": ("gap", "room", "left_width")},
        ref=ref, cases=cases)


@_family("basics.three_flags", ("booleans_and_logic", "logic"), """
    Booleans combine with `and`, `or` and `not`, and because `True` counts as 1 and `False` as 0 they can
    also be added: `a + b + c` is how many of three flags are set. "At least two", "exactly one" and "an
    odd number" can each be written as a logical formula or as a count, and checking all eight
    combinations of three flags tests such a function completely.""")
def _three_flags(rng) -> Made:
    rule = pick(rng, ("at_least_two", "exactly_one", "odd"))
    trio = pick(rng, (("a", "b", "c"), ("first", "second", "third"), ("x", "y", "z"), ("p", "q", "r")))
    names, bodies, ref, what = {
        "at_least_two": (("majority", "at_least_two", "two_or_more", "mostly_true", "majority_vote"),
                         ("return ($a and $b) or ($a and $c) or ($b and $c)", "return $a + $b + $c >= 2",
                          "return [$a, $b, $c].count(True) >= 2"),
                         lambda a, b, c: a + b + c >= 2, "at least two of them are true"),
        "exactly_one": (("exactly_one", "only_one_true", "single_true", "one_of_three", "just_one"),
                        ("return $a + $b + $c == 1",
                         "return ($a and not $b and not $c) or (not $a and $b and not $c) or (not $a "
                         "and not $b and $c)",
                         "return [$a, $b, $c].count(True) == 1"),
                        lambda a, b, c: a + b + c == 1, "exactly one of them is true"),
        "odd": (("odd_parity", "odd_number_true", "parity_of_three", "xor3", "odd_count_true"),
                ("return $a ^ $b ^ $c", "return ($a + $b + $c) % 2 == 1", "return $a != ($b != $c)"),
                lambda a, b, c: (a + b + c) % 2 == 1, "an odd number of them (one or three) are true"),
    }[rule]
    combos = [(x, y, z) for x in (False, True) for y in (False, True) for z in (False, True)]
    rng.shuffle(combos)
    return _build(
        rng, names=names,
        params=[P(k, (n,), "bool", f"The {o} flag.") for k, n, o in zip("abc", trio, ("first", "second", "third"))],
        returns=("bool", f"True when {what}."),
        summaries=(f"Return True if {what}.", f"Check three booleans and report whether {what}.",
                   f"Given `$a`, `$b` and `$c`, decide whether {what}."),
        bodies=bodies, ref=lambda a, b, c: bool(ref(a, b, c)), cases=combos)


@_family("basics.sign_check", ("booleans_and_logic", "comparisons"), """
    A condition about two numbers can be spelled out case by case with `and`/`or`, or reduced to one
    arithmetic fact: two non-zero numbers have the same sign exactly when their product is positive.
    Zero is neither positive nor negative, so it needs thought in either version.""")
def _sign_check(rng) -> Made:
    same = pick(rng, (True, False))
    if same:
        names = ("same_sign", "have_same_sign", "signs_match", "both_same_sign", "agree_in_sign")
        bodies = ("return ($a > 0 and $b > 0) or ($a < 0 and $b < 0)", "return $a * $b > 0",
                  "return $a != 0 and $b != 0 and ($a > 0) == ($b > 0)")
        ref, what = (lambda a, b: a * b > 0), "are both positive or both negative"
    else:
        names = ("opposite_signs", "signs_differ", "have_opposite_signs", "differ_in_sign", "straddle_zero")
        bodies = ("return ($a > 0 and $b < 0) or ($a < 0 and $b > 0)", "return $a * $b < 0",
                  "return $a != 0 and $b != 0 and ($a > 0) != ($b > 0)")
        ref, what = (lambda a, b: a * b < 0), "have opposite signs (one positive, one negative)"
    cases = [(rng.randint(-99, 99), rng.randint(-99, 99)) for _ in range(3)]
    cases += [(rng.randint(1, 9), rng.randint(1, 9)), (-rng.randint(1, 9), rng.randint(1, 9)),
              (-rng.randint(1, 9), -rng.randint(1, 9)), (0, rng.randint(-5, 5)), (rng.randint(1, 5), 0)]
    pair = pick(rng, (("a", "b"), ("x", "y"), ("first", "second"), ("left", "right"), ("m", "n")))
    return _build(
        rng, names=names,
        params=[P("a", (pair[0],), "int", "The first number."), P("b", (pair[1],), "int", "The second number.")],
        returns=("bool", f"True if `$a` and `$b` {what}."),
        summaries=(f"Return whether `$a` and `$b` {what}.", f"Check if two integers {what}.",
                   f"Decide whether $a and $b {what}; zero counts as neither sign."),
        notes=("Zero is neither positive nor negative.",),
        bodies=bodies, ref=ref, cases=cases)


# ----------------------------------------------------------------------------------------------- strings


def _mixed_word(rng) -> str:
    w = pick(rng, _WORDS)
    return pick(rng, (w, w.capitalize(), w.upper()))


@_family("strings.middle_chars", ("indexing_and_slicing", "slicing", "integer-division"), """
    A slice `s[i:j]` takes the characters from index i up to, but not including, j, and never fails: out
    of range bounds are simply clipped. The middle of a string of length n sits at n // 2; for an odd n it
    is one character, for an even n the two characters around the centre, and both cases fit one slice.""")
def _middle_chars(rng) -> Made:
    def ref(text):
        return text[(len(text) - 1) // 2: len(text) // 2 + 1]

    bodies = ("return $text[(len($text) - 1) // 2 : len($text) // 2 + 1]",
              "$mid = len($text) // 2\nif len($text) % 2 == 1:\n    return $text[$mid]\n"
              "return $text[$mid - 1 : $mid + 1]",
              "$half, $odd = divmod(len($text), 2)\nreturn $text[$half - 1 + $odd : $half + 1]")
    cases = [(w,) for w in rng.sample(_WORDS, 4)] + [("",), (pick(rng, "xyz"),), ("ab",)]
    return _build(
        rng, names=("middle_chars", "center_of", "middle_part", "get_middle", "central_letters"),
        params=[P("text", ("text", "word", "s", "string_value"), "str", "The string to look into.")],
        returns=("str", "One character for an odd length, two for an even length, '' for an empty string."),
        summaries=("Return the middle character of `$text`, or the middle two if its length is even.",
                   "Extract the centre of $text: one character when the length is odd, two when it is even.",
                   "Give back the character(s) in the middle of a string."),
        notes=("The empty string has no middle and gives ''.",),
        bodies=bodies, local_names={"mid": ("mid", "centre", "half"), "half": ("half", "mid", "centre"),
                                    "odd": ("odd", "is_odd", "extra")},
        ref=ref, cases=cases)


@_family("strings.every_nth", ("indexing_and_slicing", "slicing", "step"), """
    A slice can take a step: `s[start::step]` keeps the character at `start` and then every step-th one
    after it. The same selection written as a loop walks `range(start, len(s), step)`, which shows what the
    slice does; `enumerate` offers a third way, keeping positions whose distance from start divides evenly.""")
def _every_nth(rng) -> Made:
    default_start = pick(rng, (0, 0, 1))
    bodies = ("return $text[$start::$step]",
              '$picked = []\nfor $i in range($start, len($text), $step):\n    $picked.append($text[$i])\n'
              'return "".join($picked)',
              'return "".join($ch for $i, $ch in enumerate($text) if $i >= $start and ($i - $start) % $step == 0)')
    sentence = lambda: " ".join(_words(rng, rng.randint(1, 3)))  # noqa: E731
    cases = [(sentence(), rng.randint(1, 4), rng.randint(0, 3)) for _ in range(3)]
    cases += [(sentence(), rng.randint(2, 3)), ("", 2), ("abc", 5, 0), ("abcdef", 1, 4)]
    return _build(
        rng, names=("every_nth_char", "take_every", "stride_chars", "sample_letters", "pick_every_kth"),
        params=[P("text", ("text", "s", "message", "source"), "str", "The string to sample."),
                P("step", ("step", "n", "every", "stride"), "int", "The distance between kept characters (1 or more)."),
                P("start", ("start", "offset", "first", "begin"), "int", "Index of the first kept character.",
                  default_start)],
        returns=("str", "The kept characters, in order."),
        summaries=("Return every `$step`-th character of `$text`, starting at index `$start`.",
                   "Keep the characters of $text at positions $start, $start + $step, $start + 2 * $step, and so on.",
                   "Sample a string at a fixed stride and return the sampled characters as a new string."),
        notes=("A start past the end gives an empty string.",),
        bodies=bodies, local_names={"picked": ("picked", "kept", "chars"), "i": ("i", "pos", "index"),
                                    "ch": ("ch", "c", "letter")},
        ref=lambda text, step, start: text[start::step], cases=cases)


@_family("strings.mask_tail", ("indexing_and_slicing", "slicing", "padding"), """
    Masking shows only the end of a secret, as receipts do with card numbers. The number of hidden
    characters is `len(s) - keep`, but never below zero; slicing from that index gives the visible tail,
    and `str.rjust` can pad the tail back to the full length with the mask character. Beware `s[-0:]`:
    minus zero is zero, so it is the whole string, not an empty tail.""")
def _mask_tail(rng) -> Made:
    mask = pick(rng, ("*", "#", "x", "•"))
    keep = pick(rng, (4, 4, 3, 2))

    def ref(text, keep):
        hidden = max(len(text) - keep, 0)
        return mask * hidden + text[hidden:]

    bodies = (f"$hidden = max(len($text) - $keep, 0)\nreturn {mask!r} * $hidden + $text[$hidden:]",
              f"$shown = $text[max(len($text) - $keep, 0):]\nreturn $shown.rjust(len($text), {mask!r})",
              f'$cut = len($text) - $keep\n'
              f'return "".join({mask!r} if $i < $cut else $ch for $i, $ch in enumerate($text))')
    digits = lambda n: "".join(str(rng.randint(0, 9)) for _ in range(n))  # noqa: E731
    cases = [(digits(rng.randint(8, 16)),), (digits(rng.randint(5, 12)), rng.randint(1, 6)), (pick(rng, _WORDS),)]
    cases += [("",), (digits(keep),), ("ab", 5), (digits(6), 0)]
    return _build(
        rng, names=("mask_all_but_last", "mask_number", "hide_digits", "redact_tail", "conceal_prefix"),
        params=[P("text", ("text", "number", "secret", "card"), "str", "The string to mask."),
                P("keep", ("keep", "visible", "show_last", "n_visible"), "int",
                  "How many characters stay visible at the end.", keep)],
        returns=("str", f"A string of the same length, {mask!r} in place of every hidden character."),
        summaries=(f"Replace all but the last `$keep` characters of `$text` with {mask!r}.",
                   f"Mask $text for display: only its final $keep characters stay readable, the rest become {mask!r}.",
                   "Hide the beginning of a secret string, keeping its length and its last few characters."),
        notes=("A string no longer than `$keep` is returned unchanged.",),
        bodies=bodies,
        local_names={"hidden": ("hidden", "n_hidden", "masked"), "shown": ("shown", "tail", "visible_part"),
                     "cut": ("cut", "boundary", "split_at"), "i": ("i", "pos", "idx"),
                     "ch": ("ch", "c", "char")},
        ref=ref, cases=cases)


@_family("strings.count_vowels", ("searching_and_counting", "counting", "loops"), """
    Counting characters of one kind means walking through a string and adding one for every character that
    belongs to a set. With the set written as a string of letters the test `ch in vowels` reads like English,
    and lower-casing the text first makes the count ignore case. `sum()` over a generator of booleans counts
    the true ones, since True is 1.""")
def _count_vowels(rng) -> Made:
    vowels = pick(rng, ("aeiou", "aeiou", "aeiouy"))
    ignore_case = pick(rng, (True, True, False))
    low = ".lower()" if ignore_case else ""

    def ref(text):
        return sum(ch in vowels for ch in (text.lower() if ignore_case else text))

    bodies = (f"$count = 0\nfor $ch in $text{low}:\n    if $ch in {vowels!r}:\n        $count += 1\nreturn $count",
              f"return sum(1 for $ch in $text{low} if $ch in {vowels!r})",
              f"return len([$ch for $ch in $text{low} if $ch in {vowels!r}])",
              f"$wanted = set({vowels!r})\nreturn sum($ch in $wanted for $ch in $text{low})")
    cases = [(" ".join(_mixed_word(rng) for _ in range(rng.randint(1, 4))),) for _ in range(4)]
    cases += [("",), ("rhythm",), ("AEIOU",), ("xyz",)]
    case_note = "upper- and lower-case vowels both count" if ignore_case else "only lower-case vowels count"
    return _build(
        rng, names=("count_vowels", "vowel_count", "tally_vowels", "number_of_vowels", "vowels_in"),
        params=[P("text", ("text", "s", "sentence", "phrase"), "str", "The text to scan.")],
        returns=("int", "How many characters of `$text` are vowels."),
        summaries=(f"Count the vowels ({', '.join(vowels)}) in `$text`; {case_note}.",
                   f"Return how many characters of $text are vowels, where the vowels are {vowels!r} ({case_note}).",
                   f"Tally the vowel letters that appear in a string ({case_note})."),
        notes=("Every occurrence counts, not just distinct vowels.",),
        bodies=bodies, local_names={"count": ("count", "total", "n"), "ch": ("ch", "c", "letter", "char"),
                                    "wanted": ("wanted", "vowel_set", "vowels")},
        ref=ref, cases=cases)


@_family("strings.find_positions", ("searching_and_counting", "find", "loops"), """
    `str.find(sub, start)` returns the index of the next occurrence of sub at or after start, or -1 when
    there is none, so a loop that restarts the search just after each hit finds them all. Restarting one
    character later finds overlapping occurrences ("aa" twice in "aaa"); restarting after the whole match,
    as `re.finditer` does, finds only non-overlapping ones.""")
def _find_positions(rng) -> Made:
    overlap = pick(rng, (True, False))

    def ref(text, sub):
        out, i = [], text.find(sub)
        while i != -1:
            out.append(i)
            i = text.find(sub, i + (1 if overlap else len(sub)))
        return out

    if overlap:
        bodies = ("$found = []\n$i = $text.find($sub)\nwhile $i != -1:\n    $found.append($i)\n"
                  "    $i = $text.find($sub, $i + 1)\nreturn $found",
                  "return [$i for $i in range(len($text) - len($sub) + 1) if $text[$i : $i + len($sub)] == $sub]",
                  "return [$i for $i in range(len($text)) if $text.startswith($sub, $i)]")
        how = "Overlapping occurrences all count"
    else:
        bodies = ("$found = []\n$i = $text.find($sub)\nwhile $i != -1:\n    $found.append($i)\n"
                  "    $i = $text.find($sub, $i + len($sub))\nreturn $found",
                  "$found = []\n$i = 0\nwhile $i <= len($text) - len($sub):\n"
                  "    if $text[$i : $i + len($sub)] == $sub:\n"
                  "        $found.append($i)\n        $i += len($sub)\n    else:\n        $i += 1\nreturn $found",
                  Body("return [$m.start() for $m in re.finditer(re.escape($sub), $text)]", ("import re",)))
        how = "After a match the search continues behind it, so occurrences do not overlap"
    alpha = pick(rng, ("ab", "abc", "xy"))
    rand = lambda n: "".join(pick(rng, alpha) for _ in range(n))  # noqa: E731
    cases = [(rand(rng.randint(8, 18)), rand(rng.randint(1, 3))) for _ in range(3)]
    cases += [(alpha[0] * 5, alpha[0] * 2), ("", alpha[0]), (alpha, alpha * 2), (alpha[1] * 3, alpha[0])]
    return _build(
        rng, names=("find_all", "positions_of", "occurrence_indices", "where_found", "locate_all"),
        params=[P("text", ("text", "haystack", "s", "source"), "str", "The string to search."),
                P("sub", ("sub", "needle", "pattern", "target"), "str", "The non-empty substring to look for.")],
        returns=("list[int]", "The start indices of the occurrences, in increasing order."),
        summaries=("Return the index of every occurrence of `$sub` in `$text`.",
                   "Find all the places where `$sub` appears in $text and list their start positions.",
                   "List the starting indices at which a substring occurs inside a string."),
        notes=(how + ".",),
        bodies=bodies,
        local_names={"found": ("found", "hits", "positions"), "i": ("i", "pos", "at"), "m": ("m", "match", "hit")},
        ref=ref, cases=cases)


@_family("strings.first_repeat", ("searching_and_counting", "sets"), """
    A set remembers what has been seen so far, and `x in seen` is a fast question however large the set
    grows. Scanning a string once and stopping at the first character already in the set finds the
    earliest repeat in linear time; the slower alternative asks `ch in s[:i]` for every position.""")
def _first_repeat(rng) -> Made:
    as_index = pick(rng, (True, False))
    missing = -1 if as_index else None

    def ref(text):
        seen = set()
        for i, ch in enumerate(text):
            if ch in seen:
                return i if as_index else ch
            seen.add(ch)
        return missing

    hit = "$i" if as_index else "$ch"
    bodies = (f"$seen = set()\nfor $i, $ch in enumerate($text):\n    if $ch in $seen:\n        return {hit}\n"
              f"    $seen.add($ch)\nreturn {missing!r}",
              f"for $i, $ch in enumerate($text):\n    if $ch in $text[:$i]:\n        return {hit}\nreturn {missing!r}",
              f"$first_at = {{}}\nfor $i, $ch in enumerate($text):\n    if $ch in $first_at:\n        return {hit}\n"
              f"    $first_at[$ch] = $i\nreturn {missing!r}")
    alpha = pick(rng, ("abcdefg", "pqrstuvw", "lmnopq"))
    cases = ["".join(rng.sample(alpha, 4)) + pick(rng, alpha) + "".join(rng.sample(alpha, 3)) for _ in range(3)]
    cases = [(c,) for c in cases] + [("",), (alpha[:5],), (alpha[0] * 2,), (pick(rng, _WORDS),)]
    what = "index of the first character that already appeared earlier" if as_index else \
        "first character that appears a second time"
    return _build(
        rng, names=("first_repeated_char", "first_duplicate_letter", "earliest_repeat", "first_seen_twice",
                    "find_first_repeat"),
        params=[P("text", ("text", "s", "letters", "word"), "str", "The string to scan.")],
        returns=("int" if as_index else "str | None",
                 f"The {what}, or {missing!r} when every character is different."),
        summaries=(f"Return the {what} in `$text`.", f"Scan $text from the left and report the {what}.",
                   f"Find the {what}; if no character repeats, return {missing!r}."),
        notes=("The repeat that completes first wins, not the character that occurs most.",),
        bodies=bodies, local_names={"seen": ("seen", "met", "visited"), "i": ("i", "pos", "index"),
                                    "ch": ("ch", "c", "char"), "first_at": ("first_at", "where", "positions")},
        ref=ref, cases=cases)


@_family("strings.headline_case", ("transforming", "split-join", "capitalize"), """
    Many text transformations work word by word: split the text into words, change each one, and join them
    back with spaces. Headline style capitalises every word except short function words such as "of" or
    "the", yet always capitalises the first word; `enumerate` tells the loop which word comes first.""")
def _headline_case(rng) -> Made:
    small = pick(rng, (("a", "an", "the", "of", "and"), ("of", "in", "on", "the", "to"),
                       ("and", "or", "but", "a", "the")))

    def ref(text):
        return " ".join(w.capitalize() if i == 0 or w not in small else w for i, w in enumerate(text.split()))

    bodies = ("$out = []\nfor $i, $w in enumerate($text.split()):\n    if $i == 0 or $w not in $small:\n"
              "        $out.append($w.capitalize())\n    else:\n        $out.append($w)\nreturn \" \".join($out)",
              'return " ".join($w.capitalize() if $i == 0 or $w not in $small else $w '
              "for $i, $w in enumerate($text.split()))",
              "$words = [$w if $w in $small else $w.capitalize() for $w in $text.split()]\nif $words:\n"
              "    $words[0] = $words[0].capitalize()\nreturn \" \".join($words)")
    cases = []
    for _ in range(4):
        ws = _words(rng, rng.randint(2, 5))
        ws.insert(rng.randint(1, len(ws) - 1), pick(rng, small))
        cases.append((" ".join(ws),))
    cases += [("",), (pick(rng, small),), (f"{pick(rng, small)} {pick(rng, _WORDS)}",)]
    return _build(
        rng, names=("headline_case", "title_case", "to_title", "smart_title", "format_heading"),
        params=[P("text", ("text", "title", "phrase", "heading"), "str", "Lower-case words separated by spaces.")],
        returns=("str", "The words joined by single spaces in headline style."),
        summaries=(f"Capitalise every word of `$text` except the small words {', '.join(small)}, "
                   "which stay lower-case unless they come first.",
                   f"Turn $text into a headline: each word capitalised, except {', '.join(small)} after "
                   f"the first word.",
                   "Format a phrase as a title, leaving short connecting words in lower case."),
        notes=("The first word is always capitalised.",),
        bodies=bodies, local_names={"out": ("out", "result", "done"), "i": ("i", "pos", "index"),
                                    "w": ("w", "word", "token"), "words": ("words", "parts", "tokens")},
        consts={"small": repr(small)}, ref=ref, cases=cases)


@_family("strings.collapse_runs", ("transforming", "groupby", "loops"), """
    A run is a stretch of equal neighbouring characters, as in "aaab". Collapsing runs keeps one character of
    each: a loop compares every character with the last one kept, and `itertools.groupby` hands out the
    runs directly, one key per run. The same loop can collapse only the runs of one chosen character.""")
def _collapse_runs(rng) -> Made:
    only = pick(rng, (None, " ", "-", "."))
    if only is None:
        ref = lambda text: "".join(k for k, _ in groupby(text))  # noqa: E731
        bodies = ('$out = ""\nfor $ch in $text:\n    if not $out or $out[-1] != $ch:\n        $out += $ch\nreturn $out',
                  Body('return "".join($key for $key, _ in groupby($text))', ("from itertools import groupby",)),
                  'return "".join($ch for $i, $ch in enumerate($text) if $i == 0 or $ch != $text[$i - 1])')
        names = ("collapse_runs", "squash_repeats", "dedupe_adjacent", "remove_adjacent_repeats", "compress_runs")
        what, alpha = "every run of equal neighbouring characters", "aabbbc"
    else:
        ref = lambda text: re.sub(re.escape(only) + "+", only, text)  # noqa: E731
        bodies = (f"$out = []\nfor $ch in $text:\n    if $ch == {only!r} and $out and $out[-1] == {only!r}:\n"
                  f"        continue\n    $out.append($ch)\nreturn \"\".join($out)",
                  f"while {only * 2!r} in $text:\n    $text = $text.replace({only * 2!r}, {only!r})\nreturn $text",
                  Body(f"return re.sub({re.escape(only) + '+'!r}, {only!r}, $text)", ("import re",)))
        names = ("squeeze", "collapse_repeats_of", "squeeze_char", "single_out_runs", "shrink_runs")
        what, alpha = f"every run of {only!r} characters", None
    if alpha:
        rand = lambda: "".join(pick(rng, alpha) * rng.randint(1, 3) for _ in range(rng.randint(3, 6)))  # noqa: E731
    else:
        rand = lambda: "".join(w + only * rng.randint(1, 3) for w in _words(rng, rng.randint(2, 4)))  # noqa: E731
    cases = [(rand(),) for _ in range(4)] + [("",), ("x",), ((only or "z") * 4,)]
    return _build(
        rng, names=names,
        params=[P("text", ("text", "s", "raw", "line"), "str", "The string to clean up.")],
        returns=("str", "The text with each such run replaced by a single character."),
        summaries=(f"Collapse {what} in `$text` into one character.",
                   f"Return $text with {what} shortened to a single character.",
                   f"Shrink {what} down to one, leaving everything else as it is."),
        bodies=bodies, local_names={"out": ("out", "result", "kept"), "ch": ("ch", "c", "char"),
                                    "key": ("key", "ch", "letter"), "i": ("i", "pos", "index")},
        ref=ref, cases=cases)


@_family("strings.snake_to_camel", ("transforming", "split-join", "case"), """
    Identifiers change style between languages: Python's snake_case becomes camelCase in JavaScript. The
    conversion splits on underscores, capitalises the parts and joins them without a separator; a
    character loop does the same by remembering that the next letter must be upper-case.""")
def _snake_to_camel(rng) -> Made:
    upper_first = pick(rng, (False, False, True))

    def ref(name):
        parts = name.split("_")
        head = [] if upper_first else [parts.pop(0)]
        return "".join(head + [p.capitalize() for p in parts])

    if upper_first:
        bodies = ('return "".join($part.capitalize() for $part in $name.split("_"))',
                  '$out = []\n$up = True\nfor $ch in $name:\n    if $ch == "_":\n        $up = True\n    else:\n'
                  '        $out.append($ch.upper() if $up else $ch)\n        $up = False\nreturn "".join($out)',
                  'return $name.title().replace("_", "")')
        style = "UpperCamelCase (PascalCase)"
    else:
        bodies = ('$first, *$rest = $name.split("_")\nreturn $first + "".join($part.capitalize() for $part in $rest)',
                  '$out = []\n$up = False\nfor $ch in $name:\n    if $ch == "_":\n        $up = True\n    else:\n'
                  '        $out.append($ch.upper() if $up else $ch)\n        $up = False\nreturn "".join($out)',
                  '$joined = $name.title().replace("_", "")\nreturn $joined[:1].lower() + $joined[1:]')
        style = "camelCase"
    cases = [("_".join(_words(rng, rng.randint(2, 4))),) for _ in range(4)] + [("",), (pick(rng, _WORDS),)]
    return _build(
        rng, names=("snake_to_camel", "to_camel_case", "camelize", "camel_from_snake", "join_as_camel"),
        params=[P("name", ("name", "identifier", "snake", "text"), "str",
                  "A snake_case name: lower-case words joined by single underscores.")],
        returns=("str", f"The name in {style}."),
        summaries=(f"Convert the snake_case `$name` to {style}.",
                   f"Rewrite $name, whose words are separated by underscores, in {style}.",
                   f"Turn an underscore-separated identifier into {style}."),
        bodies=bodies, local_names={"part": ("part", "word", "piece"), "out": ("out", "chars", "result"),
                                    "up": ("up", "capital_next", "upper_next"), "ch": ("ch", "c", "char"),
                                    "first": ("first", "head", "lead"), "rest": ("rest", "tail", "others"),
                                    "joined": ("joined", "titled", "merged")},
        ref=ref, cases=cases)


@_family("strings.phrase_palindrome", ("palindromes_and_anagrams", "two-pointers", "cleaning"), """
    A phrase palindrome reads the same backwards once the characters that do not count are removed, as in
    "Never odd or even". Either build the cleaned, lower-cased string and compare it with its reverse
    `s[::-1]`, or walk two indices towards each other, skipping ignored characters, which needs no copy.""")
def _phrase_palindrome(rng) -> Made:
    letters_only = pick(rng, (True, False))
    if letters_only:
        keep_t, skip_t, what = "$c.isalnum()", "not $text[$i].isalnum()", "spaces, punctuation and case"
        clean = lambda t: [c.lower() for c in t if c.isalnum()]  # noqa: E731
        cleaned = '$chars = [$c.lower() for $c in $text if $c.isalnum()]'
    else:
        keep_t, skip_t, what = '$c != " "', '$text[$i] == " "', "spaces and case"
        clean = lambda t: [c.lower() for c in t if c != " "]  # noqa: E731
        cleaned = '$chars = [$c.lower() for $c in $text if $c != " "]'
    skip_j = skip_t.replace("$i", "$j")
    bodies = (cleaned + "\nreturn $chars == $chars[::-1]",
              f'$chars = "".join($c for $c in $text.lower() if {keep_t})\nreturn $chars == "".join(reversed($chars))',
              f"$i, $j = 0, len($text) - 1\nwhile $i < $j:\n    if {skip_t}:\n        $i += 1\n    elif {skip_j}:\n"
              "        $j -= 1\n    elif $text[$i].lower() != $text[$j].lower():\n        return False\n    else:\n"
              "        $i += 1\n        $j -= 1\nreturn True")
    fixed = ["Never odd or even", "Step on no pets", "Was it a car, or a cat I saw?", "No lemon, no melon"]
    w = pick(rng, _WORDS)
    made = f"{w.capitalize()} {w[::-1]}"
    cases = [(x,) for x in rng.sample(fixed, 2)] + [(made,), (" ".join(_words(rng, 2)),),
                                                    (pick(rng, _PALINDROMES).upper(),)]
    cases += [("",), ("a",), ("ab",)]
    return _build(
        rng, names=("is_palindrome_phrase", "reads_same_backwards", "is_phrase_palindrome", "palindromic_sentence",
                    "mirror_text"),
        params=[P("text", ("text", "phrase", "sentence", "s"), "str", "The phrase to check.")],
        returns=("bool", "True if `$text` is a palindrome under these rules."),
        summaries=(f"Return True if `$text` reads the same forwards and backwards, ignoring {what}.",
                   f"Check whether the phrase $text is a palindrome when {what} are ignored.",
                   f"Decide if a sentence is a palindrome; {what} do not matter."),
        notes=("The empty string counts as a palindrome.",),
        bodies=bodies, local_names={"chars": ("chars", "cleaned", "letters"), "c": ("c", "ch", "char"),
                                    "i": ("i", "left", "lo"), "j": ("j", "right", "hi")},
        ref=lambda text: (lambda c: c == c[::-1])(clean(text)), cases=cases)


@_family("strings.anagram_check", ("palindromes_and_anagrams", "sorting", "counter"), """
    Two strings are anagrams when they use the same letters the same number of times. Sorting both and
    comparing is the shortest test; `collections.Counter` compares the letter counts directly, in linear
    time; and a plain dict of counts shows what Counter does inside. Normalising first (lower case, no
    spaces) decides which differences are ignored.""")
def _anagram_check(rng) -> Made:
    def norm(s):
        return s.replace(" ", "").lower()

    bodies = ("return sorted($first.replace(\" \", \"\").lower()) == sorted($second.replace(\" \", \"\").lower())",
              Body('return Counter($first.replace(" ", "").lower()) == Counter($second.replace(" ", "").lower())',
                   ("from collections import Counter",)),
              '$counts = {}\nfor $ch in $first.replace(" ", "").lower():\n    $counts[$ch] = $counts.get($ch, 0) + 1\n'
              'for $ch in $second.replace(" ", "").lower():\n    $counts[$ch] = $counts.get($ch, 0) - 1\n'
              "return all($v == 0 for $v in $counts.values())")
    w = pick(rng, _WORDS)
    shuffled = "".join(rng.sample(w, len(w)))
    cases = [(w, shuffled.upper()), ("Dormitory", "dirty room"), (pick(rng, _WORDS), pick(rng, _WORDS)),
             ("Listen", "Silent"), (w, w + pick(rng, "st")), ("", ""), ("a", ""), ("aab", "abb")]
    return _build(
        rng, names=("are_anagrams", "is_anagram", "same_letters", "anagram_pair", "letters_match"),
        params=[P("first", ("first", "a", "word1", "left"), "str", "The first string."),
                P("second", ("second", "b", "word2", "right"), "str", "The second string.")],
        returns=("bool", "True if the strings are anagrams of each other."),
        summaries=("Return True if `$first` and `$second` are anagrams, ignoring spaces and case.",
                   "Check whether $first and $second contain exactly the same letters, each the same number of times.",
                   "Decide if one string can be made by rearranging the letters of the other (case and "
                   "spaces ignored)."),
        bodies=bodies, local_names={"counts": ("counts", "balance", "tally"), "ch": ("ch", "c", "letter"),
                                    "v": ("v", "n", "left_over")},
        ref=lambda first, second: sorted(norm(first)) == sorted(norm(second)), cases=cases)


@_family("strings.palindrome_permutation", ("palindromes_and_anagrams", "counting", "parity"), """
    Whether the letters of a string can be rearranged into a palindrome depends only on how often each
    letter occurs: in a palindrome every letter pairs up with its mirror image, except possibly one in the
    middle. So the test is that at most one letter has an odd count, which a Counter or a set that
    toggles letters in and out answers.""")
def _palindrome_permutation(rng) -> Made:
    bodies = (Body("$counts = Counter($text)\nreturn sum($n % 2 for $n in $counts.values()) <= 1",
                   ("from collections import Counter",)),
              "$odd = set()\nfor $ch in $text:\n    if $ch in $odd:\n        $odd.remove($ch)\n    else:\n"
              "        $odd.add($ch)\nreturn len($odd) <= 1",
              "return sum($text.count($ch) % 2 for $ch in set($text)) <= 1")
    p = pick(rng, _PALINDROMES)
    cases = [("".join(rng.sample(p, len(p))),), (pick(rng, _WORDS),), (pick(rng, _WORDS) * 2,),
             ("".join(rng.sample(p + "q", len(p) + 1)),), ("",), ("z",), ("ab",)]
    return _build(
        rng, names=("can_form_palindrome", "palindrome_possible", "rearranges_to_palindrome", "is_palindrome_anagram",
                    "could_be_palindrome"),
        params=[P("text", ("text", "letters", "s", "word"), "str", "The characters to rearrange.")],
        returns=("bool", "True if some ordering of the characters is a palindrome."),
        summaries=("Return True if the characters of `$text` can be rearranged into a palindrome.",
                   "Check whether some permutation of $text reads the same in both directions.",
                   "Decide if the letters of a string could be reordered to form a palindrome."),
        notes=("Every character counts, and upper and lower case are different characters.",),
        bodies=bodies, local_names={"counts": ("counts", "freq", "tally"), "n": ("n", "c", "k"),
                                    "odd": ("odd", "unpaired", "singles"), "ch": ("ch", "letter", "char")},
        ref=lambda text: sum(text.count(c) % 2 for c in set(text)) <= 1, cases=cases)


@_family("strings.camel_to_words", ("splitting_and_joining", "case", "regex"), """
    Splitting a camelCase name means starting a new word at every capital letter. A loop can add the
    separator before each upper-case character that is not the first, then lower-case everything; a
    regular expression with a lookahead, `(?=[A-Z])`, matches the empty position before each capital and
    `re.sub` inserts the separator there.""")
def _camel_to_words(rng) -> Made:
    sep = pick(rng, (" ", "_", "-"))
    names = {" ": ("camel_to_words", "split_camel", "humanize_name", "uncamel", "spaced_words"),
             "_": ("camel_to_snake", "to_snake_case", "snake_from_camel", "underscore_name", "decamelize"),
             "-": ("camel_to_kebab", "to_kebab_case", "kebab_from_camel", "dash_name", "hyphenate_camel")}[sep]

    def ref(name):
        return "".join((sep + c.lower()) if c.isupper() and i > 0 else c.lower() for i, c in enumerate(name))

    bodies = (f"$out = []\nfor $i, $ch in enumerate($name):\n    if $ch.isupper() and $i > 0:\n"
              f"        $out.append({sep!r})\n    $out.append($ch.lower())\nreturn \"\".join($out)",
              f'return "".join(({sep!r} + $ch.lower()) if $ch.isupper() and $i > 0 else $ch.lower() '
              "for $i, $ch in enumerate($name))",
              Body(f'return re.sub(r"(?<!^)(?=[A-Z])", {sep!r}, $name).lower()', ("import re",)))

    def camel(n):
        ws = _words(rng, n)
        return ws[0] + "".join(w.capitalize() for w in ws[1:])

    cases = [(camel(rng.randint(2, 4)),) for _ in range(3)] + [(camel(2).capitalize(),), ("",), ("x",), ("Single",)]
    return _build(
        rng, names=names,
        params=[P("name", ("name", "identifier", "camel", "text"), "str", "A camelCase or PascalCase name.")],
        returns=("str", f"The lower-case words of the name separated by {sep!r}."),
        summaries=(f"Split the camelCase `$name` into lower-case words joined by {sep!r}.",
                   f"Insert {sep!r} before every capital letter of $name (except at the start) and "
                   f"lower-case the result.",
                   f"Convert a camelCase identifier into lower-case words separated by {sep!r}."),
        bodies=bodies, local_names={"out": ("out", "pieces", "chars"), "i": ("i", "pos", "index"),
                                    "ch": ("ch", "c", "char")},
        ref=ref, cases=cases)


@_family("strings.initials", ("splitting_and_joining", "split-join"), """
    `str.split()` without arguments splits on any run of whitespace and drops empty pieces, so it copes
    with double spaces. Taking the first character of each word and joining them builds initials or
    acronyms; `str.join` puts the separator only between items, so a trailing one is added separately.""")
def _initials(rng) -> Made:
    style = pick(rng, ("dots", "plain", "spaced"))
    skip = pick(rng, ((), ("of", "and", "the")))

    def ref(text):
        letters = [w[0].upper() for w in text.split() if w.lower() not in skip]
        return {"dots": "".join(c + "." for c in letters), "plain": "".join(letters),
                "spaced": " ".join(letters)}[style]

    filt = " if $w.lower() not in $skip" if skip else ""
    join = {"dots": '"".join($c + "." for $c in $letters)', "plain": '"".join($letters)',
            "spaced": '" ".join($letters)'}[style]
    loop_add = {"dots": '$out += $w[0].upper() + "."', "plain": "$out += $w[0].upper()",
                "spaced": '$out += ($out and " ") + $w[0].upper()'}[style]
    cond = "    if $w.lower() in $skip:\n        continue\n" if skip else ""
    bodies = (f"$letters = [$w[0].upper() for $w in $text.split(){filt}]\nreturn {join}",
              f'$out = ""\nfor $w in $text.split():\n{cond}    {loop_add}\nreturn $out')
    cases = [(" ".join(_words(rng, rng.randint(2, 4))),) for _ in range(2)]
    cases += [("grace  brewster murray hopper",), ("bank of the north" if skip else "ada lovelace",), ("",), ("solo",)]
    shape = {"dots": "each initial followed by a dot", "plain": "the initials run together",
             "spaced": "the initials separated by spaces"}[style]
    skip_note = f"; the words {', '.join(skip)} are skipped" if skip else ""
    return _build(
        rng, names=("initials", "make_initials", "acronym", "abbreviate_name", "name_initials"),
        params=[P("text", ("text", "full_name", "phrase", "words"), "str", "Words separated by whitespace.")],
        returns=("str", f"The upper-case initials, {shape}."),
        summaries=(f"Return the upper-case initials of the words in `$text`, {shape}{skip_note}.",
                   f"Abbreviate $text to its initials ({shape}){skip_note}.",
                   f"Build an acronym from the first letter of every word{skip_note}."),
        bodies=bodies, local_names={"letters": ("letters", "firsts", "caps"), "w": ("w", "word", "part"),
                                    "c": ("c", "ch", "letter"), "out": ("out", "result", "acc")},
        consts={"skip": repr(skip)}, ref=ref, cases=cases)


@_family("strings.wrap_words", ("splitting_and_joining", "greedy", "lists"), """
    Greedy word wrapping fills each line with as many words as fit: a word goes on the current line if the
    line plus a space plus the word stays within the width, otherwise the line is finished and the word
    starts the next one. A word longer than the width gets a line of its own rather than being cut.""")
def _wrap_words(rng) -> Made:
    def ref(text, width):
        lines, cur = [], ""
        for w in text.split():
            if not cur:
                cur = w
            elif len(cur) + 1 + len(w) <= width:
                cur += " " + w
            else:
                lines.append(cur)
                cur = w
        return lines + [cur] if cur else lines

    bodies = ('$lines = []\n$line = ""\nfor $w in $text.split():\n    if not $line:\n        $line = $w\n'
              '    elif len($line) + 1 + len($w) <= $width:\n        $line += " " + $w\n    else:\n'
              "        $lines.append($line)\n        $line = $w\nif $line:\n    $lines.append($line)\nreturn $lines",
              "$lines, $current, $length = [], [], 0\nfor $w in $text.split():\n"
              "    if $current and $length + 1 + len($w) > $width:\n        $lines.append(\" \".join($current))\n"
              "        $current, $length = [], 0\n    $length += len($w) + (1 if $current else 0)\n"
              "    $current.append($w)\nif $current:\n    $lines.append(\" \".join($current))\nreturn $lines")
    cases = [(" ".join(_words(rng, rng.randint(4, 9))), rng.randint(8, 20)) for _ in range(3)]
    cases += [("", 10), ("hi", 10), ("extraordinary words", 5), ("a b c d", 3)]
    return _build(
        rng, names=("wrap_text", "wrap_words", "break_lines", "fill_lines", "word_wrap"),
        params=[P("text", ("text", "paragraph", "words", "s"), "str", "Words separated by whitespace."),
                P("width", ("width", "max_width", "line_length", "columns"), "int", "The longest line allowed.")],
        returns=("list[str]", "The lines, words separated by single spaces."),
        summaries=("Break `$text` into lines of at most `$width` characters without splitting words.",
                   "Greedily wrap the words of $text so that no line is longer than $width.",
                   "Split a paragraph into lines, filling each line with as many whole words as fit."),
        notes=("A single word longer than the width is put on a line by itself.",),
        bodies=bodies, local_names={"lines": ("lines", "rows", "result"), "line": ("line", "row", "current_line"),
                                    "w": ("w", "word", "token"), "current": ("current", "pending", "batch"),
                                    "length": ("length", "used", "size")},
        ref=ref, cases=cases)


@_family("strings.password_rules", ("character_classes", "any", "validation"), """
    Character class methods answer questions about single characters: `isdigit()`, `isupper()`,
    `islower()`, `isalnum()`. Combined with `any()` over a generator they ask whether a string contains at
    least one character of a kind, which is how password policies are checked rule by rule; each rule
    stays one readable line.""")
def _password_rules(rng) -> Made:
    min_len = rng.randint(6, 12)
    rules = sorted(rng.sample(("digit", "upper", "lower", "symbol"), rng.randint(2, 4)))
    tests = {"digit": ("$c.isdigit()", "a digit"), "upper": ("$c.isupper()", "an upper-case letter"),
             "lower": ("$c.islower()", "a lower-case letter"),
             "symbol": ("not $c.isalnum()", "a symbol (not a letter or digit)")}
    checks = {"digit": str.isdigit, "upper": str.isupper, "lower": str.islower, "symbol": lambda c: not c.isalnum()}

    def ref(password):
        return len(password) >= min_len and all(any(checks[r](c) for c in password) for r in rules)

    anys = "\n".join(f"if not any({tests[r][0]} for $c in $password):\n    return False" for r in rules)
    flags = "\n".join(f"$has_{r} = False" for r in rules)
    loop = "\n".join(f"    if {tests[r][0]}:\n        $has_{r} = True" for r in rules).replace("$c", "$ch")
    bodies = (f"if len($password) < {min_len}:\n    return False\n{anys}\nreturn True",
              f"{flags}\nfor $ch in $password:\n{loop}\nreturn len($password) >= {min_len} and "
              + " and ".join(f"$has_{r}" for r in rules),
              f"return len($password) >= {min_len} and "
              + " and ".join(f"any({tests[r][0]} for $c in $password)" for r in rules))
    good = "Ab3$" + "".join(pick(rng, "xyzk9Q!") for _ in range(min_len))
    cases = [(good,), (good.lower(),), (good.upper(),), ("".join(c for c in good if c.isalnum()),),
             (good[: min_len - 1],), ("".join(pick(rng, "abcXYZ12#") for _ in range(min_len + 2)),), ("",)]
    wants = _and_list([tests[r][1] for r in rules])
    flag = pick(rng, ("has_{}", "seen_{}", "{}_found"))
    return _build(
        rng, names=("is_strong_password", "password_ok", "check_password", "valid_password", "meets_policy"),
        params=[P("password", ("password", "pw", "secret", "candidate"), "str", "The password to check.")],
        returns=("bool", "True if every rule holds."),
        summaries=(f"Return True if `$password` has at least {min_len} characters and contains {wants}.",
                   f"Check $password against the policy: length {min_len} or more, and at least one of each: {wants}.",
                   f"Decide whether a password is strong enough ({min_len}+ characters with {wants})."),
        bodies=bodies, local_names={"c": ("c", "ch", "char"), "ch": ("ch", "c", "char"),
                                    **{f"has_{r}": (flag.format(r),) for r in rules}},
        ref=ref, cases=cases)


@_family("strings.char_class_counts", ("character_classes", "dicts", "counting"), """
    `isalpha()`, `isdigit()` and `isspace()` sort characters into classes. Counting each class in one loop
    with an if/elif chain visits the string once; separate `sum()` calls are shorter but visit it once per
    class. Returning a dict with fixed keys makes the result easy to read and to compare in tests.""")
def _char_class_counts(rng) -> Made:
    keys = pick(rng, (("letters", "digits", "spaces", "other"), ("alpha", "digit", "space", "other"),
                      ("letter", "number", "whitespace", "rest")))
    kl, kd, ks, ko = (repr(k) for k in keys)

    def ref(text):
        out = dict.fromkeys(keys, 0)
        for c in text:
            out[keys[0 if c.isalpha() else 1 if c.isdigit() else 2 if c.isspace() else 3]] += 1
        return out

    bodies = (f"$counts = {{{kl}: 0, {kd}: 0, {ks}: 0, {ko}: 0}}\nfor $ch in $text:\n    if $ch.isalpha():\n"
              f"        $counts[{kl}] += 1\n    elif $ch.isdigit():\n        $counts[{kd}] += 1\n"
              f"    elif $ch.isspace():\n"
              f"        $counts[{ks}] += 1\n    else:\n        $counts[{ko}] += 1\nreturn $counts",
              f"$n_alpha = sum($ch.isalpha() for $ch in $text)\n$n_digit = sum($ch.isdigit() for $ch in $text)\n"
              f"$n_space = sum($ch.isspace() for $ch in $text)\n"
              f"return {{{kl}: $n_alpha, {kd}: $n_digit, {ks}: $n_space, {ko}: len($text) - $n_alpha - "
              f"$n_digit - $n_space}}")
    cases = [(f"{pick(rng, _WORDS)} {rng.randint(0, 999)}{pick(rng, '!?.,;')} {_mixed_word(rng)}",) for _ in range(3)]
    cases += [("",), ("   ",), ("2024-01-01",), ("a1 b2!",)]
    return _build(
        rng, names=("char_classes", "count_char_kinds", "classify_chars", "character_census", "tally_char_types"),
        params=[P("text", ("text", "s", "line", "sample"), "str", "The string to analyse.")],
        returns=("dict[str, int]", f"Counts under the keys {kl}, {kd}, {ks} and {ko}."),
        summaries=("Count the letters, digits, whitespace and other characters in `$text`.",
                   f"Return a dict with how many characters of $text are letters ({kl}), digits ({kd}), "
                   f"whitespace ({ks}) or anything else ({ko}).",
                   "Sort the characters of a string into four classes and count each class."),
        notes=("Every key is present, with 0 for a class that does not occur.",),
        bodies=bodies, local_names={"counts": ("counts", "tally", "result"), "ch": ("ch", "c", "char"),
                                    "n_alpha": ("n_alpha", "letters_n", "alphas"),
                                    "n_digit": ("n_digit", "digits_n", "nums"),
                                    "n_space": ("n_space", "spaces_n", "blanks")},
        ref=ref, cases=cases)


@_family("strings.caesar", ("encoding_and_ciphers", "ord-chr", "modulo"), """
    The Caesar cipher moves every letter a fixed number of places along the alphabet, wrapping from z back
    to a. With `ord` and `chr` a letter becomes a number 0-25 (`ord(c) - ord('a')`), the shift is added
    modulo 26 and the number turns back into a letter; `str.maketrans` builds the same mapping as a table
    that `str.translate` applies in one call. Decoding is shifting by the negative amount.""")
def _caesar(rng) -> Made:
    decode = pick(rng, (False, False, True))
    sgn = "-" if decode else "+"

    def ref(text, shift):
        k = -shift if decode else shift
        out = []
        for c in text:
            if "a" <= c <= "z":
                out.append(chr((ord(c) - 97 + k) % 26 + 97))
            elif "A" <= c <= "Z":
                out.append(chr((ord(c) - 65 + k) % 26 + 65))
            else:
                out.append(c)
        return "".join(out)

    loop = (f"$out = []\nfor $ch in $text:\n    if \"a\" <= $ch <= \"z\":\n"
            f"        $out.append(chr((ord($ch) - ord(\"a\") {sgn} $shift) % 26 + ord(\"a\")))\n"
            f"    elif \"A\" <= $ch <= \"Z\":\n"
            f"        $out.append(chr((ord($ch) - ord(\"A\") {sgn} $shift) % 26 + ord(\"A\")))\n"
            "    else:\n        $out.append($ch)\nreturn \"\".join($out)")
    table = Body(f"$k = {'-' if decode else ''}$shift % 26\n"
                 f"$low, $up = string.ascii_lowercase, string.ascii_uppercase\n"
                 "$table = str.maketrans($low + $up, $low[$k:] + $low[:$k] + $up[$k:] + $up[:$k])\n"
                 "return $text.translate($table)", ("import string",))
    helper = Body('return "".join($helper($ch, $shift) for $ch in $text)', (),
                  f'''def $helper(c: str, k: int) -> str:
                      """Shift one letter by k places {'backwards ' if decode else ''}(other characters stay)."""
                      if c.isascii() and c.isalpha():
                          base = ord("a") if c.islower() else ord("A")
                          return chr((ord(c) - base {sgn} k) % 26 + base)
                      return c''')

    def sentence() -> str:
        return " ".join(_mixed_word(rng) for _ in range(rng.randint(1, 3))) + pick(rng, ("", "!", ", ok?"))

    cases = [(sentence(), rng.randint(1, 25)) for _ in range(3)] + [("xyz", 3), ("", 5), ("Hello", 0),
                                                                    ("abc", 26 + rng.randint(1, 5))]
    verb = "Decode" if decode else "Encode"
    return _build(
        rng, names=("caesar_decrypt", "decode_caesar", "unshift_letters", "undo_caesar", "caesar_decode") if decode
        else ("caesar_encrypt", "caesar_shift", "rotate_letters", "shift_cipher", "encode_caesar"),
        params=[P("text", ("text", "message", "plain" if not decode else "cipher", "s"), "str",
                  "The text to transform."),
                P("shift", ("shift", "key", "k", "offset"), "int", "How many places each letter moved (0 or more).")],
        returns=("str", "The transformed text; case and non-letters are kept."),
        summaries=(f"{verb} `$text` with a Caesar cipher of shift `$shift`.",
                   f"{verb} $text by moving every letter $shift places {'back' if decode else 'forward'} in the "
                   "alphabet, wrapping around; other characters are unchanged.",
                   f"{'Undo' if decode else 'Apply'} a Caesar shift of $shift places, keeping upper- and "
                   f"lower-case letters apart."),
        notes=("Shifts of 26 or more wrap around the alphabet.",),
        bodies=(loop, table, helper),
        local_names={"out": ("out", "result", "chars"), "ch": ("ch", "c", "letter"), "k": ("k", "n", "steps"),
                     "low": ("low", "lower", "small"), "up": ("up", "upper", "big"),
                     "table": ("table", "mapping", "trans"),
                     "helper": ("shift_letter", "move_char", "rotate_char")},
        ref=ref, cases=cases)


@_family("strings.run_length", ("encoding_and_ciphers", "groupby", "compression"), """
    Run-length encoding stores each run of repeated characters as the character and the run's length, so
    "aaab" becomes "3a1b" or "a3b". A loop keeps the current character and its count and writes them out
    when the character changes (and once more at the end); `itertools.groupby` yields the runs directly.""")
def _run_length(rng) -> Made:
    count_first = pick(rng, (True, False))

    def piece(ch, n):
        return f"{n}{ch}" if count_first else ch + (str(n) if n > 1 else "")

    def ref(text):
        return "".join(piece(k, len(list(g))) for k, g in groupby(text))

    fmt = 'f"{$n}{$ch}"' if count_first else '$ch + (str($n) if $n > 1 else "")'
    bodies = (Body(f"$out = []\nfor $ch, $group in groupby($text):\n    $n = len(list($group))\n"
                   f"    $out.append({fmt})\n"
                   "return \"\".join($out)", ("from itertools import groupby",)),
              f'$out = []\n$i = 0\nwhile $i < len($text):\n    $ch = $text[$i]\n    $n = 1\n'
              f"    while $i + $n < len($text) and $text[$i + $n] == $ch:\n        $n += 1\n    $out.append({fmt})\n"
              f"    $i += $n\nreturn \"\".join($out)",
              f'if not $text:\n    return ""\n$out = []\n$ch, $n = $text[0], 0\nfor $c in $text:\n    if $c == $ch:\n'
              f"        $n += 1\n    else:\n        $out.append({fmt})\n        $ch, $n = $c, 1\n$out.append({fmt})\n"
              f"return \"\".join($out)")
    alpha = pick(rng, ("abc", "xyz", "AB", "wb"))
    rand = lambda: "".join(pick(rng, alpha) * rng.randint(1, 5) for _ in range(rng.randint(3, 6)))  # noqa: E731
    cases = [(rand(),) for _ in range(3)] + [("",), ("q",), ("qqqqqqqqqqqq",), ("abc",)]
    shape = ("count then character, as in '3a1b'" if count_first
             else "character then count, count left out when 1, as in 'a3b'")
    return _build(
        rng, names=("run_length_encode", "rle_encode", "encode_runs", "pack_string", "compress_text"),
        params=[P("text", ("text", "s", "data", "raw"), "str", "The string to encode.")],
        returns=("str", f"The encoding: for each run, {shape}."),
        summaries=(f"Run-length encode `$text`, writing each run as {shape}.",
                   f"Compress $text by replacing every run of a repeated character with {shape}.",
                   "Encode a string with run-length encoding."),
        notes=("A run of one character is still a run.",),
        bodies=bodies, local_names={"group": ("group", "run", "same"),
                                    "out": ("out", "parts", "pieces"), "i": ("i", "pos", "start"),
                                    "ch": ("ch", "current", "prev"), "n": ("n", "count", "length"),
                                    "c": ("c", "char", "nxt")},
        ref=ref, cases=cases)


@_family("strings.letter_numbers", ("encoding_and_ciphers", "ord-chr", "mapping"), """
    Letters can be numbered by their place in the alphabet, a = 1 to z = 26, a simple code found in puzzles.
    `ord(c) - ord('a') + 1` computes the number from the character code, `string.ascii_lowercase.index(c)`
    looks it up, and a dict built once with `enumerate(..., start=1)` makes every later lookup constant time.""")
def _letter_numbers(rng) -> Made:
    as_list = pick(rng, (True, False))
    sep = pick(rng, ("-", " ", ","))

    def ref(text):
        nums = [ord(c) - 96 for c in text.lower() if "a" <= c <= "z"]
        return nums if as_list else sep.join(map(str, nums))

    def collect(value: str, cond: str) -> str:
        loop = f"for $c in $text.lower() if {cond}"
        return f"[{value} {loop}]" if as_list else f"{sep!r}.join(str({value}) {loop})"

    in_abc = '"a" <= $c <= "z"'
    by_code = collect('ord($c) - ord("a") + 1', in_abc)
    bodies = ("return " + by_code,
              Body("return " + collect("string.ascii_lowercase.index($c) + 1", in_abc), ("import string",)),
              Body(f"$position = {{$ch: $i for $i, $ch in enumerate(string.ascii_lowercase, start=1)}}\n"
                   f"return {collect('$position[$c]', '$c in $position')}", ("import string",)))
    cases = [(_mixed_word(rng),), (" ".join(_words(rng, 2)),), (pick(rng, _WORDS) + "!",), ("",), ("Az",), ("42",)]
    shown = "[8, 9]" if as_list else repr(sep.join(("8", "9")))
    return _build(
        rng, names=("letter_numbers", "alphabet_positions", "encode_as_numbers", "letters_to_numbers", "a1z26"),
        params=[P("text", ("text", "word", "message", "s"), "str", "The text to encode.")],
        returns=("list[int]" if as_list else "str",
                 "The alphabet positions of the letters, in order" + ("." if as_list else f", joined by {sep!r}.")),
        summaries=(f"Replace every letter of `$text` by its position in the alphabet (a=1, ..., z=26); "
                   f"'hi' gives {shown}.",
                   "Encode $text as alphabet positions, ignoring case and skipping anything that is not a letter.",
                   f"Turn the letters of a message into numbers 1-26 ({shown} for 'hi')."),
        notes=("Spaces, digits and punctuation are left out.",),
        bodies=bodies, local_names={"c": ("c", "ch", "letter"), "position": ("position", "number_of", "rank"),
                                    "ch": ("ch", "char", "symbol"), "i": ("i", "n", "k")},
        ref=ref, cases=cases)


# ------------------------------------------------------------------------------------------------- lists


def _int_list(rng, lo: int = 0, hi: int = 9, vlo: int = -9, vhi: int = 20) -> list[int]:
    return _ints(rng, rng.randint(lo, hi), vlo, vhi)


@_family("lists.chunk", ("indexing_and_slicing", "slicing", "range-step"), """
    Splitting a list into pieces of a fixed size is slicing with a moving start: `items[i:i + size]` for
    i = 0, size, 2 * size, ... as `range(0, len(items), size)` produces. The last slice may be shorter,
    because slicing past the end simply stops there; a loop that fills a current piece gives the same
    result one element at a time.""")
def _chunk(rng) -> Made:
    def ref(items, size):
        return [items[i:i + size] for i in range(0, len(items), size)]

    bodies = ("return [$items[$i : $i + $size] for $i in range(0, len($items), $size)]",
              "$pieces = []\nfor $i in range(0, len($items), $size):\n    $pieces.append($items[$i : $i + $size])\n"
              "return $pieces",
              "$pieces, $current = [], []\nfor $x in $items:\n    $current.append($x)\n    if len($current) == $size:\n"
              "        $pieces.append($current)\n        $current = []\nif $current:\n    $pieces.append($current)\n"
              "return $pieces")
    cases = [(_int_list(rng, 3, 12), rng.randint(1, 5)) for _ in range(3)]
    cases += [([], 3), ([7], 1), (list(range(1, 7)), 3), ([4, 5], 10)]
    return _build(
        rng, names=("chunk", "chunked", "split_into_chunks", "batch_list", "groups_of"),
        params=[P("items", ("items", "values", "seq", "data"), "list[int]", "The list to split."),
                P("size", ("size", "n", "chunk_size", "width"), "int", "The length of each piece (1 or more).")],
        returns=("list[list[int]]", "The pieces in order; only the last one may be shorter."),
        summaries=("Split `$items` into consecutive chunks of length `$size`.",
                   "Cut $items into pieces of $size elements each, keeping the order.",
                   "Break a list into fixed-size groups; the final group holds whatever is left over."),
        notes=("An empty list gives no chunks.",),
        bodies=bodies, local_names={"i": ("i", "start", "pos"), "pieces": ("pieces", "chunks", "out"),
                                    "current": ("current", "piece", "group"), "x": ("x", "item", "value")},
        ref=ref, cases=cases)


@_family("lists.safe_get", ("indexing_and_slicing", "negative-indexes", "exceptions"), """
    A list of length n accepts indexes 0 to n - 1 and, counting from the end, -1 to -n; anything else
    raises `IndexError`. Either catch that exception ("easier to ask forgiveness than permission") or
    check the bounds first with the chained comparison `-n <= index < n`; both give a default instead.""")
def _safe_get(rng) -> Made:
    def ref(items, index, default):
        return items[index] if -len(items) <= index < len(items) else default

    bodies = ("try:\n    return $items[$index]\nexcept IndexError:\n    return $default",
              "if -len($items) <= $index < len($items):\n    return $items[$index]\nreturn $default",
              "$n = len($items)\nif $index < 0:\n    $index += $n\nif 0 <= $index < $n:\n    return $items[$index]\n"
              "return $default")
    v = _int_list(rng, 3, 8)
    cases = [(v, rng.randint(0, len(v) - 1)), (v, -rng.randint(1, len(v))), (v, len(v)), (v, -len(v) - 1),
             (v, len(v) + 3, -1), ([], 0), ([], -1, 0), ([5], -1)]
    return _build(
        rng, names=("safe_get", "get_or_default", "item_at", "element_or", "fetch_index"),
        params=[P("items", ("items", "values", "seq", "numbers"), "list[int]", "The list to read."),
                P("index", ("index", "i", "position", "idx"), "int", "The index; negative counts from the end."),
                P("default", ("default", "fallback", "missing", "otherwise"), "int | None",
                  "What to return when the index is out of range.", None)],
        returns=("int | None", "The element at `$index`, or `$default`."),
        summaries=("Return `$items[$index]`, or `$default` if that index does not exist.",
                   "Look up position $index of $items like Python indexing does, but never raise IndexError.",
                   "Get an element by index with a fallback value for indexes outside the list."),
        notes=("Negative indexes count from the end, as in normal indexing.",),
        bodies=bodies, local_names={"n": ("n", "size", "length")}, ref=ref, cases=cases)


@_family("lists.range_total", ("aggregation", "filtering", "sum"), """
    Aggregating part of a list combines a filter with an accumulator: only values that pass the test are
    added (or counted). Python's chained comparison `low <= x <= high` states the test the way it is said
    aloud, and `sum()` over a generator expression does filter and total in one line.""")
def _range_total(rng) -> Made:
    count = pick(rng, (False, False, True))
    add = "1" if count else "$x"
    bodies = (f"$acc = 0\nfor $x in $values:\n    if $low <= $x <= $high:\n        $acc += {add}\nreturn $acc",
              f"return sum({add} for $x in $values if $low <= $x <= $high)",
              f"return {'len' if count else 'sum'}(list(filter(lambda $x: $low <= $x <= $high, $values)))")
    cases = [(_int_list(rng, 4, 10, -20, 40), rng.randint(-10, 5), rng.randint(6, 30)) for _ in range(3)]
    cases += [([], 0, 10), ([1, 2, 3], 5, 9), ([5, 5, 9], 5, 5)]
    what = "how many values of `$values` lie" if count else "the sum of the values of `$values` that lie"
    return _build(
        rng, names=("count_between", "count_in_range", "how_many_between", "tally_in_range") if count
        else ("sum_between", "total_in_range", "range_sum", "sum_within"),
        params=[P("values", ("values", "numbers", "data", "readings"), "list[int]", "The numbers to scan."),
                P("low", ("low", "lo", "lower", "start"), "int", "The lower bound (included)."),
                P("high", ("high", "hi", "upper", "end"), "int", "The upper bound (included).")],
        returns=("int", ("The count" if count else "The total") + " of the values from `$low` to `$high`."),
        summaries=(f"Return {what} between `$low` and `$high`, both included.",
                   ("Count" if count else "Add up") + " the numbers of $values in the closed range [$low, $high].",
                   ("Count the elements" if count else "Total the elements") + " of a list that fall inside a range."),
        notes=("Both bounds belong to the range.",),
        bodies=bodies, local_names={"acc": ("acc", "total", "result"), "x": ("x", "v", "num")},
        ref=lambda values, low, high: sum(1 if count else x for x in values if low <= x <= high), cases=cases)


@_family("lists.sign_totals", ("aggregation", "tuples", "loops"), """
    A function can return several results at once as a tuple, which the caller unpacks:
    `gains, losses = f(values)`. Splitting a total by sign is one loop with two accumulators, or two
    `sum()` calls with different conditions; zero changes neither total.""")
def _sign_totals(rng) -> Made:
    neg_first = pick(rng, (False, False, True))
    order = "(negative total, positive total)" if neg_first else "(positive total, negative total)"

    def ref(values):
        pos, neg = sum(x for x in values if x > 0), sum(x for x in values if x < 0)
        return (neg, pos) if neg_first else (pos, neg)

    out = "$neg, $pos" if neg_first else "$pos, $neg"
    bodies = (f"$pos = 0\n$neg = 0\nfor $x in $values:\n    if $x > 0:\n        $pos += $x\n    elif $x < 0:\n"
              f"        $neg += $x\nreturn {out}",
              f"$pos = sum($x for $x in $values if $x > 0)\n$neg = sum($x for $x in $values if $x < 0)\nreturn {out}",
              f"$pos = sum(max($x, 0) for $x in $values)\n$neg = sum(min($x, 0) for $x in $values)\nreturn {out}")
    cases = [(_int_list(rng, 3, 10, -50, 50),) for _ in range(3)] + [([],), ([0, 0],), ([-3, -4],), ([9],)]
    return _build(
        rng, names=("split_totals", "gains_and_losses", "positive_negative_sums", "sign_sums", "credit_debit_totals"),
        params=[P("values", ("values", "amounts", "changes", "moves"), "list[int]", "The numbers to total.")],
        returns=("tuple[int, int]", f"The pair {order}."),
        summaries=(f"Return {order} of `$values`.",
                   f"Total the positive and the negative numbers of $values separately and return them as {order}.",
                   f"Split the sum of a list by sign: the result is {order}."),
        notes=("Zeros count in neither total; an empty list gives (0, 0).",),
        bodies=bodies, local_names={"pos": ("pos", "gains", "up"), "neg": ("neg", "losses", "down"),
                                    "x": ("x", "v", "amount")},
        ref=ref, cases=cases)


@_family("lists.nonzero_product", ("aggregation", "reduce", "math-prod"), """
    A product starts from 1, the neutral element of multiplication, just as a sum starts from 0; so the
    product of no numbers is 1. Skipping zeros is a filter in front of the multiplication; `math.prod`
    and `functools.reduce` with `operator.mul` express the same fold without an explicit loop.""")
def _nonzero_product(rng) -> Made:
    bodies = ("$result = 1\nfor $x in $values:\n    if $x != 0:\n        $result *= $x\nreturn $result",
              Body("return math.prod($x for $x in $values if $x != 0)", ("import math",)),
              Body("return reduce(operator.mul, [$x for $x in $values if $x], 1)",
                   ("from functools import reduce", "import operator")))
    cases = [(_int_list(rng, 2, 7, -5, 9),) for _ in range(3)] + [([],), ([0, 0, 0],), ([0, -4, 0, 2],), ([7],)]
    return _build(
        rng, names=("product_ignoring_zeros", "nonzero_product", "multiply_nonzero", "product_of_nonzero",
                    "skip_zero_product"),
        params=[P("values", ("values", "numbers", "factors", "nums"), "list[int]", "The numbers to multiply.")],
        returns=("int", "The product of the non-zero numbers (1 if there are none)."),
        summaries=("Multiply together all the non-zero numbers in `$values`.",
                   "Return the product of $values, leaving out every zero.",
                   "Compute the product of a list while ignoring its zeros."),
        notes=("An empty product is 1.",),
        bodies=bodies, local_names={"result": ("result", "product", "acc"), "x": ("x", "v", "factor")},
        ref=lambda values: math.prod(x for x in values if x), cases=cases)


@_family("lists.select_and_transform", ("filtering_and_mapping", "comprehensions", "map-filter"), """
    Filtering keeps the elements that pass a test and mapping transforms each element; a list
    comprehension `[f(x) for x in xs if test(x)]` does both in one expression. The same pipeline can be
    written as an explicit loop, or with the built-ins `filter` and `map`, which take functions (often
    lambdas) and return lazy iterators that `list()` collects.""")
def _select_and_transform(rng) -> Made:
    d = rng.randint(3, 5)
    preds = {"even": ("$x % 2 == 0", lambda x: x % 2 == 0, "even"),
             "odd": ("$x % 2 == 1", lambda x: x % 2 == 1, "odd"),
             "positive": ("$x > 0", lambda x: x > 0, "positive"),
             "multiple": (f"$x % {d} == 0", lambda x: x % d == 0, f"multiples of {d}")}
    k = rng.randint(2, 5)
    maps = {"square": ("$x * $x", lambda x: x * x, "squared"),
            "scale": (f"$x * {k}", lambda x: x * k, f"multiplied by {k}"),
            "negate": ("-$x", lambda x: -x, "negated"), "shift": (f"$x + {k}", lambda x: x + k, f"increased by {k}")}
    pc, pf, pw = preds[pick(rng, tuple(preds))]
    mc, mf, mw = maps[pick(rng, tuple(maps))]
    bodies = (f"return [{mc} for $x in $values if {pc}]",
              f"$out = []\nfor $x in $values:\n    if {pc}:\n        $out.append({mc})\nreturn $out",
              f"return list(map(lambda $x: {mc}, filter(lambda $x: {pc}, $values)))")
    cases = [(_int_list(rng, 3, 10, -10, 20),) for _ in range(4)] + [([],), ([0],), ([-d, d, 2 * d + 1],)]
    return _build(
        rng, names=("transform_selected", "filter_then_map", "select_and_scale", "process_values",
                    "pick_and_transform"),
        params=[P("values", ("values", "numbers", "data", "nums"), "list[int]", "The input numbers.")],
        returns=("list[int]", f"The {pw} numbers, {mw}, in their original order."),
        summaries=(f"Return the {pw} numbers of `$values`, each {mw}.",
                   f"Keep only the {pw} elements of $values and give them back {mw}.",
                   f"Filter a list down to its {pw} numbers and map each of them to itself {mw}."),
        bodies=bodies, local_names={"x": ("x", "v", "n"), "out": ("out", "result", "kept")},
        ref=lambda values: [mf(x) for x in values if pf(x)], cases=cases)


@_family("lists.clip_all", ("filtering_and_mapping", "comprehensions", "min-max"), """
    Mapping applies the same rule to every element and builds a new list of the same length. Clipping
    readings into a valid range is such a rule: `min(max(x, low), high)` for each x, in a comprehension, a
    loop, or `map` with a lambda. The input list is left unchanged.""")
def _clip_all(rng) -> Made:
    bodies = ("return [min(max($x, $low), $high) for $x in $values]",
              "$out = []\nfor $x in $values:\n    if $x < $low:\n        $out.append($low)\n    elif $x > $high:\n"
              "        $out.append($high)\n    else:\n        $out.append($x)\nreturn $out",
              "return list(map(lambda $x: $low if $x < $low else $high if $x > $high else $x, $values))")
    cases = [(_int_list(rng, 3, 9, -30, 60), rng.randint(-10, 5), rng.randint(10, 40)) for _ in range(3)]
    cases += [([], 0, 1), ([5, 5], 5, 5), ([-1, 11], 0, 10)]
    return _build(
        rng, names=("clip_all", "clamp_values", "limit_values", "bound_all", "cap_readings"),
        params=[P("values", ("values", "readings", "samples", "data"), "list[int]", "The numbers to clip."),
                P("low", ("low", "lo", "minimum", "floor_value"), "int", "The smallest allowed value."),
                P("high", ("high", "hi", "maximum", "ceiling"), "int", "The largest allowed value (at least `$low`).")],
        returns=("list[int]", "A new list where every value lies between `$low` and `$high`."),
        summaries=("Clip every number of `$values` into the range `$low`..`$high`.",
                   "Return a copy of $values in which numbers below $low become $low and numbers above "
                   "$high become $high.",
                   "Limit each element of a list to an allowed range."),
        bodies=bodies, local_names={"x": ("x", "v", "reading"), "out": ("out", "clipped", "result")},
        ref=lambda values, low, high: [min(max(x, low), high) for x in values], cases=cases)


@_family("lists.unique_in_order", ("filtering_and_mapping", "sets", "dict-fromkeys"), """
    Removing duplicates while keeping the order needs a memory of what was already kept: a set gives fast
    membership tests, and the loop appends an element only the first time it appears. Since dicts keep
    insertion order, `list(dict.fromkeys(items))` does the same in one line; keeping the last occurrence
    instead is the same idea applied from the end.""")
def _unique_in_order(rng) -> Made:
    keep_last = pick(rng, (False, False, True))
    if keep_last:
        ref = lambda items: [x for i, x in enumerate(items) if x not in items[i + 1:]]  # noqa: E731
        bodies = ("$seen = set()\n$out = []\nfor $x in reversed($items):\n    if $x not in $seen:\n"
                  "        $seen.add($x)\n"
                  "        $out.append($x)\n$out.reverse()\nreturn $out",
                  "return [$x for $i, $x in enumerate($items) if $x not in $items[$i + 1 :]]",
                  "return list(dict.fromkeys(reversed($items)))[::-1]")
        names = ("keep_last_occurrences", "dedupe_keep_last", "last_occurrences", "distinct_from_end", "unique_last")
        which = "last"
    else:
        ref = lambda items: list(dict.fromkeys(items))  # noqa: E731
        bodies = ("$seen = set()\n$out = []\nfor $x in $items:\n    if $x not in $seen:\n        $seen.add($x)\n"
                  "        $out.append($x)\nreturn $out",
                  "return list(dict.fromkeys($items))",
                  "return [$x for $i, $x in enumerate($items) if $x not in $items[:$i]]")
        names = ("unique_in_order", "dedupe", "first_occurrences", "drop_repeats", "distinct_values")
        which = "first"
    cases = [(_int_list(rng, 4, 12, 0, 6),) for _ in range(3)] + [(_words(rng, 5),), ([],), ([3, 3, 3],), ([1, 2, 1],)]
    return _build(
        rng, names=names,
        params=[P("items", ("items", "values", "seq", "elements"), "list", "The values, possibly repeated.")],
        returns=("list", f"Each distinct value once, at the position of its {which} occurrence."),
        summaries=(f"Return the distinct values of `$items`, keeping the {which} occurrence of each.",
                   f"Remove repeated values from $items; of several equal values only the {which} one stays.",
                   f"Drop duplicates from a list while preserving order (by {which} occurrence)."),
        notes=("The input list is not changed.",),
        bodies=bodies, local_names={"seen": ("seen", "met", "known"), "out": ("out", "result", "kept"),
                                    "x": ("x", "item", "value"), "i": ("i", "pos", "index")},
        ref=ref, cases=cases)


@_family("lists.flatten_once", ("nested_lists", "comprehensions", "itertools-chain"), """
    A list of lists is flattened by visiting every inner list and every element of it. The nested
    comprehension `[x for row in rows for x in row]` lists its `for` clauses in the same order as nested
    loops would; `list.extend` in a loop and `itertools.chain.from_iterable` are the other common spellings.
    Only one level is removed: lists inside the inner lists stay as they are.""")
def _flatten_once(rng) -> Made:
    bodies = ("return [$x for $row in $rows for $x in $row]",
              "$flat = []\nfor $row in $rows:\n    $flat.extend($row)\nreturn $flat",
              Body("return list(chain.from_iterable($rows))", ("from itertools import chain",)),
              "$flat = []\nfor $row in $rows:\n    for $x in $row:\n        $flat.append($x)\nreturn $flat")
    cases = [([_int_list(rng, 0, 4) for _ in range(rng.randint(1, 4))],) for _ in range(3)]
    cases += [([],), ([[], []],), ([[1], [2, 3], []],)]
    return _build(
        rng, names=("flatten", "flatten_once", "concat_lists", "join_lists", "merge_sublists"),
        params=[P("rows", ("rows", "lists", "nested", "groups"), "list[list[int]]", "The lists to join.")],
        returns=("list[int]", "All elements in order: those of the first list, then the second, and so on."),
        summaries=("Flatten the list of lists `$rows` into a single list.",
                   "Concatenate the inner lists of $rows, in order, into one flat list.",
                   "Turn a list of lists into one list containing all of their elements."),
        notes=("Empty inner lists contribute nothing.",),
        bodies=bodies, local_names={"x": ("x", "item", "value"), "row": ("row", "inner", "sub"),
                                    "flat": ("flat", "out", "result")},
        ref=lambda rows: [x for r in rows for x in r], cases=cases)


@_family("lists.row_summary", ("nested_lists", "aggregation", "comprehensions"), """
    A table stored as a list of rows is summarised row by row: one aggregate per inner list, collected in
    a new list. Rows may be empty, so the aggregate must handle that case: a sum of nothing is 0, while
    the maximum of nothing does not exist, which `max(row, default=None)` expresses.""")
def _row_summary(rng) -> Made:
    agg = pick(rng, ("sum", "max", "positives"))
    spec = {
        "sum": (("row_sums", "sum_each_row", "totals_per_row", "row_totals"), "the sum of each row", "int",
                ("[sum($row) for $row in $rows]",
                 "$out = []\nfor $row in $rows:\n    $total = 0\n    for $x in $row:\n        $total += $x\n"
                 "    $out.append($total)\nreturn $out"), lambda r: sum(r), "an empty row sums to 0"),
        "max": (("row_maxima", "max_per_row", "largest_in_each_row", "row_peaks"), "the largest value of each row",
                "int | None", ("[max($row, default=None) for $row in $rows]",
                               "$out = []\nfor $row in $rows:\n    $out.append(max($row) if $row else None)\n"
                               "return $out"),
                lambda r: max(r, default=None), "an empty row gives None"),
        "positives": (("positives_per_row", "count_positive_by_row", "row_positive_counts", "positive_counts"),
                      "how many positive numbers each row holds", "int",
                      ("[sum(1 for $x in $row if $x > 0) for $row in $rows]",
                       "$out = []\nfor $row in $rows:\n    $total = 0\n    for $x in $row:\n        if $x > 0:\n"
                       "            $total += 1\n    $out.append($total)\nreturn $out"),
                      lambda r: sum(1 for x in r if x > 0), "an empty row counts 0"),
    }[agg]
    names, what, elem, bodies, f, note = spec
    bodies = tuple(b if "\n" in b else "return " + b for b in bodies)
    total_names = ("count", "n_pos", "hits") if agg == "positives" else ("total", "acc", "row_total")
    cases = [([_int_list(rng, 0, 5, -9, 9) for _ in range(rng.randint(1, 4))],) for _ in range(3)]
    cases += [([],), ([[]],), ([[5], [-1, -2]],)]
    return _build(
        rng, names=names,
        params=[P("rows", ("rows", "table", "grid", "matrix"), "list[list[int]]", "The rows of numbers.")],
        returns=(f"list[{elem}]", f"One entry per row: {what}."),
        summaries=(f"Return {what} of `$rows`.", f"Summarise the table $rows row by row: {what}.",
                   f"For a list of rows, compute {what}."),
        notes=(note[0].upper() + note[1:] + ".",),
        bodies=bodies,
        local_names={"row": ("row", "line", "r"), "x": ("x", "v", "cell"), "out": ("out", "result", "summary"),
                     "total": total_names},
        ref=lambda rows: [f(r) for r in rows], cases=cases)


@_family("lists.rotate_to_front", ("rotation_and_reordering", "slicing", "deque"), """
    Rotating a list moves elements from the front to the back while keeping their cyclic order, and
    `items[i:] + items[:i]` rotates so that index i comes first. `list.index` finds where a value first
    occurs (and raises ValueError when it is absent, so check with `in` first); `collections.deque` can
    rotate in place with `rotate(-i)`.""")
def _rotate_to_front(rng) -> Made:
    def ref(items, target):
        if target not in items:
            return list(items)
        i = items.index(target)
        return items[i:] + items[:i]

    bodies = ("if $target not in $items:\n    return list($items)\n$i = $items.index($target)\n"
              "return $items[$i:] + $items[:$i]",
              Body("$ring = deque($items)\nif $target in $ring:\n    $ring.rotate(-$items.index($target))\n"
                   "return list($ring)",
                   ("from collections import deque",)),
              "for $i, $x in enumerate($items):\n    if $x == $target:\n        return $items[$i:] + $items[:$i]\n"
              "return $items[:]")
    v = rng.sample(range(1, 30), rng.randint(4, 8))
    w = _int_list(rng, 5, 9, 0, 5)
    cases = [(v, pick(rng, v[1:])), (w, pick(rng, w)), (v, v[0]), (v, 99), ([], 1), ([2, 1, 2], 2), ([4], 4)]
    return _build(
        rng, names=("rotate_to_front", "start_from", "rotate_until_first", "bring_to_front", "cycle_to"),
        params=[P("items", ("items", "values", "ring", "circle"), "list[int]", "The list to rotate."),
                P("target", ("target", "value", "first", "start"), "int", "The value that should come first.")],
        returns=("list[int]", "A rotated copy starting with `$target`, or an unchanged copy if it is absent."),
        summaries=("Rotate `$items` so that the first occurrence of `$target` comes first.",
                   "Return $items rotated left until it begins with $target (its first occurrence).",
                   "Cycle a list around until a given value is at the front, keeping the cyclic order."),
        notes=("The input list is not modified.",),
        bodies=bodies, local_names={"i": ("i", "k", "pos"), "ring": ("ring", "d", "dq"), "x": ("x", "item", "elem")},
        ref=ref, cases=cases)


@_family("lists.stable_partition", ("rotation_and_reordering", "stable-sort", "partition"), """
    Partitioning reorders a list into two groups, the elements that pass a test first, while a stable
    partition also keeps the original order inside each group. Two comprehensions build it directly; so
    does `sorted(items, key=lambda x: not test(x))`, because Python's sort is stable and False sorts
    before True.""")
def _stable_partition(rng) -> Made:
    below = pick(rng, (True, False))
    test, other = ("$x < $pivot", "$x >= $pivot") if below else ("$x >= $pivot", "$x < $pivot")

    def ref(values, pivot):
        first = [x for x in values if (x < pivot) == below]
        return first + [x for x in values if (x < pivot) != below]

    bodies = (f"return [$x for $x in $values if {test}] + [$x for $x in $values if {other}]",
              f"$front, $back = [], []\nfor $x in $values:\n    if {test}:\n        $front.append($x)\n    else:\n"
              "        $back.append($x)\nreturn $front + $back",
              f"return sorted($values, key=lambda $x: {other})")
    cases = [(_int_list(rng, 4, 10, 0, 20), rng.randint(5, 15)) for _ in range(3)]
    cases += [([], 3), ([1, 2, 3], 0), ([3, 2, 1], 10), ([5, 1, 5, 1], 5)]
    first = "smaller than `$pivot`" if below else "at least `$pivot`"
    return _build(
        rng, names=("partition_around", "split_by_pivot", "stable_partition", "pivot_order", "partition_list"),
        params=[P("values", ("values", "numbers", "items", "data"), "list[int]", "The numbers to reorder."),
                P("pivot", ("pivot", "split", "threshold", "limit"), "int", "The value that separates the groups.")],
        returns=("list[int]", f"The values {first} first, then the rest, each group in its original order."),
        summaries=(f"Reorder `$values` so that the numbers {first} come first, keeping the relative order.",
                   f"Return a stable partition of $values: elements {first.replace('`', '')} before all others.",
                   f"Move the numbers {first} to the front of the list without changing the order within each group."),
        bodies=bodies, local_names={"x": ("x", "v", "n"), "front": ("front", "first_part", "head"),
                                    "back": ("back", "second_part", "tail")},
        ref=ref, cases=cases)


@_family("lists.interleave", ("rotation_and_reordering", "zip", "merging"), """
    Interleaving takes elements from two lists in turn. `zip` pairs the first elements, then the second,
    and so on, but stops at the shorter list, so the leftovers of the longer one must be appended; a loop
    over the longer length that checks each index, or `itertools.zip_longest` with a marker value for
    missing items, handles lists of different lengths directly.""")
def _interleave(rng) -> Made:
    def ref(first, second):
        out = []
        for i in range(max(len(first), len(second))):
            out += first[i:i + 1] + second[i:i + 1]
        return out

    bodies = ("$out = []\nfor $a, $b in zip($first, $second):\n    $out += [$a, $b]\n"
              "$n = min(len($first), len($second))\n"
              "return $out + $first[$n:] + $second[$n:]",
              "$out = []\nfor $i in range(max(len($first), len($second))):\n    if $i < len($first):\n"
              "        $out.append($first[$i])\n    if $i < len($second):\n        $out.append($second[$i])\n"
              "return $out",
              Body("$gap = object()\nreturn [$x for $pair in zip_longest($first, $second, fillvalue=$gap) "
                   "for $x in $pair if $x is not $gap]", ("from itertools import zip_longest",)))
    cases = [(_int_list(rng, 0, 5), _int_list(rng, 0, 6)) for _ in range(3)]
    cases += [([], []), ([1, 2, 3], []), ([], [4]), ([1, 3], [2, 4])]
    return _build(
        rng, names=("interleave", "alternate", "merge_alternately", "weave", "zip_merge"),
        params=[P("first", ("first", "a", "left", "xs"), "list[int]", "The list that gives the first element."),
                P("second", ("second", "b", "right", "ys"), "list[int]", "The other list.")],
        returns=("list[int]", "The elements taken alternately, then the rest of the longer list."),
        summaries=("Merge `$first` and `$second` by taking elements from each in turn.",
                   "Interleave $first and $second: $first[0], $second[0], $first[1], ... and append what is left.",
                   "Combine two lists by alternating their elements; the longer list's tail goes at the end."),
        bodies=bodies, local_names={"out": ("out", "merged", "result"), "a": ("a", "u", "p"), "b": ("b", "w", "q"),
                                    "n": ("n", "common", "shared"), "i": ("i", "k", "pos"),
                                    "gap": ("gap", "missing", "hole"),
                                    "x": ("x", "item", "v"), "pair": ("pair", "duo", "both")},
        ref=ref, cases=cases)


@_family("lists.pairs_with_sum", ("comprehensions", "nested-loops", "tuples"), """
    A comprehension may contain several `for` clauses and an `if`: `[(x, y) for x in xs for y in ys if
    x + y == t]` reads left to right like the nested loops it replaces. Looping over indexes with
    `range(i + 1, n)` in the inner loop visits each unordered pair of one list exactly once.""")
def _pairs_with_sum(rng) -> Made:
    within = pick(rng, (True, False))
    if within:
        params = [P("values", ("values", "numbers", "nums", "data"), "list[int]", "The numbers to pair up."),
                  P("target", ("target", "total", "goal", "wanted"), "int", "The sum a pair must have.")]

        def ref(values, target):
            n = len(values)
            return [(i, j) for i in range(n) for j in range(i + 1, n) if values[i] + values[j] == target]

        bodies = ("return [($i, $j) for $i in range(len($values)) for $j in range($i + 1, len($values)) "
                  "if $values[$i] + $values[$j] == $target]",
                  "$found = []\nfor $i in range(len($values)):\n    for $j in range($i + 1, len($values)):\n"
                  "        if $values[$i] + $values[$j] == $target:\n            $found.append(($i, $j))\n"
                  "return $found")
        v = _int_list(rng, 4, 8, 0, 10)
        cases = [(v, rng.randint(5, 12)), (_int_list(rng, 4, 8, 0, 10), rng.randint(5, 12)), ([1, 2, 3, 4], 5),
                 ([], 3), ([5], 10), ([2, 2, 2], 4)]
        ret = ("list[tuple[int, int]]", "The index pairs (i, j) with i < j, in increasing order.")
        summaries = ("Return every pair of indexes (i, j), i < j, whose values in `$values` add up to `$target`.",
                     "Find all index pairs of $values whose two numbers sum to $target.",
                     "List the positions of all pairs in a list that add up to a given total.")
    else:
        params = [P("values", ("first", "xs", "left", "row"), "list[int]", "The numbers for the first element."),
                  P("others", ("second", "ys", "right", "column"), "list[int]", "The numbers for the second element."),
                  P("target", ("target", "total", "goal", "wanted"), "int", "The sum a pair must have.")]
        ref = lambda values, others, target: [(x, y) for x in values for y in others if x + y == target]  # noqa: E731
        bodies = ("return [($x, $y) for $x in $values for $y in $others if $x + $y == $target]",
                  "$found = []\nfor $x in $values:\n    for $y in $others:\n        if $x + $y == $target:\n"
                  "            $found.append(($x, $y))\nreturn $found")
        cases = [(_int_list(rng, 2, 5, 0, 9), _int_list(rng, 2, 5, 0, 9), rng.randint(4, 14)) for _ in range(3)]
        cases += [([], [1], 1), ([1, 2], [3, 2], 4), ([0], [0], 1)]
        ret = ("list[tuple[int, int]]", "The pairs (x, y), x from `$values` and y from `$others`, in loop order.")
        summaries = ("Return all pairs (x, y) with x from `$values` and y from `$others` such that x + y == `$target`.",
                     "Combine every element of $values with every element of $others and keep the pairs "
                     "summing to $target.",
                     "Find the pairs, one number from each list, that add up to a target.")
    return _build(
        rng, names=("pairs_with_sum", "matching_pairs", "sum_pairs", "pairs_adding_to", "find_pairs"),
        params=params, returns=ret, summaries=summaries, bodies=bodies,
        local_names={"i": ("i", "a", "left_i"), "j": ("j", "b", "right_i"), "x": ("x", "u", "p"), "y": ("y", "w", "q"),
                     "found": ("found", "pairs", "out")},
        ref=ref, cases=cases)


@_family("lists.operation_table", ("comprehensions", "nested-lists", "tables"), """
    A nested comprehension builds a table: the outer comprehension makes one row per value of r, and the
    inner one fills the row with one entry per value of c, `[[f(r, c) for c in cols] for r in rows]`.
    Written with loops, each row is built in a list of its own and then appended to the table.""")
def _operation_table(rng) -> Made:
    op, sym, word = pick(rng, ((lambda a, b: a * b, "$r * $c", "product"), (lambda a, b: a + b, "$r + $c", "sum"),
                               (lambda a, b: max(a, b), "max($r, $c)", "larger of the two")))
    names = {"product": ("times_table", "multiplication_table", "product_grid", "table_of_products"),
             "sum": ("addition_table", "sum_grid", "table_of_sums", "plus_table"),
             "larger of the two": ("max_table", "maximum_grid", "table_of_maxima", "larger_of_grid")}[word]
    bodies = (f"return [[{sym} for $c in range(1, $cols + 1)] for $r in range(1, $nrows + 1)]",
              f"$table = []\nfor $r in range(1, $nrows + 1):\n    $line = []\n    for $c in range(1, $cols + 1):\n"
              f"        $line.append({sym})\n    $table.append($line)\nreturn $table",
              f"$table = []\nfor $r in range(1, $nrows + 1):\n"
              f"    $table.append([{sym} for $c in range(1, $cols + 1)])\n"
              "return $table")
    cases = [(rng.randint(1, 5), rng.randint(1, 5)) for _ in range(3)] + [(0, 3), (2, 0), (1, 1)]
    return _build(
        rng, names=names,
        params=[P("nrows", ("rows", "n_rows", "height", "row_count"), "int", "How many rows (0 or more)."),
                P("cols", ("cols", "n_cols", "columns", "col_count"), "int", "How many columns (0 or more).")],
        returns=("list[list[int]]", f"Row r, column c (both counted from 1) holds the {word} of r and c."),
        summaries=(f"Build a `$nrows` by `$cols` table whose entry in row r and column c is the {word} of r and c.",
                   f"Return the {word} table for the numbers 1..$nrows (rows) and 1..$cols (columns).",
                   f"Make a grid of the {word} of each row number and column number, both starting at 1."),
        bodies=bodies,
        local_names={"r": ("r", "i", "row_no"), "c": ("c", "j", "col_no"), "table": ("table", "grid", "out"),
                     "line": ("line", "row", "current")},
        ref=lambda nrows, cols: [[op(r, c) for c in range(1, cols + 1)] for r in range(1, nrows + 1)], cases=cases)


@_family("lists.longest_run", ("windows_and_runs", "loops", "groupby"), """
    Finding the longest run walks the list once, keeping the length of the current run and the best seen
    so far: extend the run when the next element continues it, start over at 1 when it does not. For runs
    of equal values `itertools.groupby` yields each run directly, and the answer is the longest group.""")
def _longest_run(rng) -> Made:
    rising = pick(rng, (False, True))
    cont = "$values[$i] > $values[$i - 1]" if rising else "$values[$i] == $values[$i - 1]"

    def ref(values):
        best = cur = 0
        for i, x in enumerate(values):
            cur = cur + 1 if i and ((x > values[i - 1]) if rising else (x == values[i - 1])) else 1
            best = max(best, cur)
        return best

    loop = (f"if not $values:\n    return 0\n$best = $current = 1\nfor $i in range(1, len($values)):\n"
            f"    if {cont}:\n        $current += 1\n        $best = max($best, $current)\n    else:\n"
            f"        $current = 1\n"
            "return $best")
    zipped = (f"$best = $current = 0\n$prev = None\nfor $x in $values:\n"
              f"    $current = $current + 1 if $prev is not None and $x {'>' if rising else '=='} $prev else 1\n"
              "    $best = max($best, $current)\n    $prev = $x\nreturn $best")
    bodies = [loop, zipped]
    if not rising:
        bodies.append(Body("return max((len(list($group)) for _, $group in groupby($values)), default=0)",
                           ("from itertools import groupby",)))
    cases = [(_int_list(rng, 5, 12, 0, 3 if not rising else 9),) for _ in range(4)]
    cases += [([],), ([7],), ([2, 2, 2, 2],), ([1, 2, 3, 1, 2],)]
    return _build(
        rng, names=("longest_increasing_run", "longest_climb", "max_rising_streak", "longest_ascent",
                    "rising_run_length")
        if rising else ("longest_streak", "longest_run", "max_repeat_run", "longest_plateau", "max_consecutive_equal"),
        params=[P("values", ("values", "numbers", "series", "data"), "list[int]", "The sequence to scan.")],
        returns=("int", "The length of the longest run (0 for an empty list)."),
        summaries=((f"Return the length of the longest stretch of `$values` in which each number is larger than "
                    f"the one before."
                    if rising else "Return the length of the longest run of equal neighbouring values in `$values`."),
                   "Find the longest " + ("strictly increasing run" if rising else "block of repeated values")
                   + " of consecutive elements in $values and return its length.",
                   "Measure the longest " + ("rising streak" if rising else "streak of equal values") + " in a list."),
        notes=("A single element is a run of length 1.",),
        bodies=bodies, local_names={"best": ("best", "longest", "record"), "current": ("current", "run", "streak"),
                                    "i": ("i", "k", "pos"), "x": ("x", "v", "item"), "prev": ("prev", "last", "before"),
                                    "group": ("group", "block", "same")},
        ref=ref, cases=cases)


@_family("lists.window_aggregate", ("windows_and_runs", "sliding-window", "slicing"), """
    A sliding window of size k covers positions i to i + k - 1, for every i from 0 to len - k, so a list of
    n elements has n - k + 1 windows, and none when k exceeds n. Slicing each window is simplest; for sums
    a running total that adds the element entering the window and subtracts the one leaving it avoids
    adding the same numbers again and again.""")
def _window_aggregate(rng) -> Made:
    agg = pick(rng, ("sum", "max", "min"))
    f = {"sum": sum, "max": max, "min": min}[agg]

    def ref(values, k):
        return [f(values[i:i + k]) for i in range(len(values) - k + 1)]

    bodies = [f"return [{agg}($values[$i : $i + $k]) for $i in range(len($values) - $k + 1)]",
              f"$out = []\nfor $i in range(len($values) - $k + 1):\n    $out.append({agg}($values[$i : $i + $k]))\n"
              f"return $out"]
    if agg == "sum":
        bodies.append("if $k > len($values):\n    return []\n$total = sum($values[:$k])\n$out = [$total]\n"
                      "for $i in range($k, len($values)):\n    $total += $values[$i] - $values[$i - $k]\n"
                      "    $out.append($total)\nreturn $out")
    names = {"sum": ("window_sums", "sliding_sums", "moving_totals", "block_sums", "sums_of_windows"),
             "max": ("window_maxima", "sliding_max", "moving_maximum", "peak_per_window", "max_of_windows"),
             "min": ("window_minima", "sliding_min", "moving_minimum", "low_per_window", "min_of_windows")}[agg]
    word = {"sum": "sum", "max": "largest value", "min": "smallest value"}[agg]
    cases = [(_int_list(rng, 4, 10, -5, 20), rng.randint(1, 4)) for _ in range(3)]
    cases += [([], 2), ([4, 1], 3), ([3, 1, 2], 3), ([5, 6, 7], 1)]
    return _build(
        rng, names=names,
        params=[P("values", ("values", "numbers", "series", "data"), "list[int]", "The sequence."),
                P("k", ("k", "size", "width", "window"), "int", "The window size (1 or more).")],
        returns=("list[int]", f"The {word} of every window, from left to right."),
        summaries=(f"Return the {word} of every window of `$k` consecutive elements of `$values`.",
                   f"Slide a window of length $k over $values and collect the {word} of each position.",
                   f"Compute the {word} of each contiguous block of a fixed length."),
        notes=("When `$k` is larger than the list there are no windows.",),
        bodies=bodies, local_names={"i": ("i", "start", "pos"), "out": ("out", "result", "per_window"),
                                    "total": ("total", "running", "window_total")},
        ref=ref, cases=cases)


@_family("lists.count_changes", ("windows_and_runs", "zip", "pairs"), """
    Comparing each element with its predecessor is a window of size two. `zip(values, values[1:])` pairs
    every element with the next one, so counting the pairs that go up (or down, or change) is a `sum()`
    over that zip; an index loop from 1 to len - 1 does the same by looking back one position.""")
def _count_changes(rng) -> Made:
    kind = pick(rng, ("up", "down", "change"))
    op = {"up": ">", "down": "<", "change": "!="}[kind]

    def ref(values):
        return sum(1 for a, b in zip(values, values[1:]) if {"up": b > a, "down": b < a, "change": b != a}[kind])

    bodies = (f"return sum(1 for $a, $b in zip($values, $values[1:]) if $b {op} $a)",
              f"$count = 0\nfor $i in range(1, len($values)):\n    if $values[$i] {op} $values[$i - 1]:\n"
              f"        $count += 1\n"
              "return $count",
              Body(f"return sum($b {op} $a for $a, $b in pairwise($values))", ("from itertools import pairwise",)))
    names = {"up": ("count_increases", "count_rises", "times_increased", "upticks", "number_of_rises"),
             "down": ("count_decreases", "count_drops", "times_decreased", "downticks", "number_of_drops"),
             "change": ("count_changes", "value_changes", "number_of_changes", "transitions", "switch_count")}[kind]
    what = {"up": "is larger than the one before it", "down": "is smaller than the one before it",
            "change": "differs from the one before it"}[kind]
    cases = [(_int_list(rng, 4, 12, 0, 9),) for _ in range(4)] + [([],), ([5],), ([3, 3, 3],), ([1, 2, 1, 2],)]
    return _build(
        rng, names=names,
        params=[P("values", ("values", "readings", "depths", "series"), "list[int]", "The measurements, in order.")],
        returns=("int", f"How many elements {what}."),
        summaries=(f"Count how many elements of `$values` {what}.",
                   f"Return the number of positions in $values whose value {what}.",
                   f"Scan a series and count the steps where the value {what}."),
        notes=("The first element has no predecessor and is never counted.",),
        bodies=bodies,
        local_names={"a": ("a", "prev", "before"), "b": ("b", "cur", "after"), "count": ("count", "n", "total"),
                     "i": ("i", "k", "pos")},
        ref=ref, cases=cases)


# --------------------------------------------------------------------------------------- iteration_tools


@_family("iteration_tools.running_totals", ("itertools", "accumulate"), """
    `itertools.accumulate` yields the running results of a binary operation: the running sums of a list by
    default, or running products with `operator.mul`. A loop with an accumulator produces the same list and
    shows the mechanism: update the total with the next element, then record it.""")
def _running_totals(rng) -> Made:
    product = pick(rng, (False, True))
    if product:
        bodies = (Body("return list(accumulate($values, operator.mul))",
                       ("from itertools import accumulate", "import operator")),
                  "$out = []\n$acc = 1\nfor $x in $values:\n    $acc *= $x\n    $out.append($acc)\nreturn $out",
                  Body("return list(accumulate($values, lambda $a, $b: $a * $b))",
                       ("from itertools import accumulate",)))
        names = ("running_products", "cumulative_product", "prefix_products", "partial_products", "running_product")
        what, f = "product", (lambda values: list(accumulate(values, lambda a, b: a * b)))
        cases = [(_int_list(rng, 2, 6, -3, 5),) for _ in range(3)]
    else:
        bodies = (Body("return list(accumulate($values))", ("from itertools import accumulate",)),
                  "$out = []\n$acc = 0\nfor $x in $values:\n    $acc += $x\n    $out.append($acc)\nreturn $out",
                  "$acc = 0\nreturn [$acc := $acc + $x for $x in $values]")
        names = ("running_totals", "cumulative_sum", "prefix_sums", "running_sum", "partial_sums")
        what, f = "sum", (lambda values: list(accumulate(values)))
        cases = [(_int_list(rng, 3, 10, -20, 50),) for _ in range(3)]
    cases += [([],), ([7],), ([0, 0, 1],)]
    return _build(
        rng, names=names,
        params=[P("values", ("values", "numbers", "steps", "data"), "list[int]", "The numbers to combine.")],
        returns=("list[int]", f"Element i is the {what} of the first i + 1 values."),
        summaries=(f"Return the running {what} of `$values`.",
                   f"Compute the {what} of every prefix of $values, from the first element alone to the whole list.",
                   f"List the cumulative {what} after each element of a sequence."),
        notes=("The result has as many elements as the input.",),
        bodies=bodies, local_names={"out": ("out", "result", "running"), "acc": ("acc", "total", "so_far"),
                                    "x": ("x", "v", "item"), "a": ("a", "left", "p"), "b": ("b", "right", "q")},
        ref=f, cases=cases)


@_family("iteration_tools.count_combinations", ("itertools", "combinations", "counting"), """
    `itertools.combinations(items, k)` yields every way to choose k elements, in their original order and
    without repeating a position, so counting the choices that satisfy a condition is a sum over that
    iterator. It replaces k nested index loops; elements with equal values at different positions count
    as different choices.""")
def _count_combinations(rng) -> Made:
    k = pick(rng, (2, 3, 3))

    def ref(values, target):
        return sum(1 for c in combinations(values, k) if sum(c) == target)

    bodies = [Body(f"return sum(1 for $combo in combinations($values, {k}) if sum($combo) == $target)",
                   ("from itertools import combinations",)),
              Body(f"return len([$combo for $combo in combinations($values, {k}) if sum($combo) == $target])",
                   ("from itertools import combinations",)),
              Body(f"$count = 0\nfor $combo in combinations($values, {k}):\n    if sum($combo) == $target:\n"
                   "        $count += 1\nreturn $count", ("from itertools import combinations",))]
    if k == 2:
        bodies.append("$count = 0\nfor $i in range(len($values)):\n    for $j in range($i + 1, len($values)):\n"
                      "        if $values[$i] + $values[$j] == $target:\n            $count += 1\nreturn $count")
    cases = [(_int_list(rng, 4, 9, 0, 9), rng.randint(6, 15)) for _ in range(3)]
    cases += [([], 0), ([5] * (k - 1), 5 * (k - 1)), ([1] * (k + 1), k), (list(range(1, 6)), 100)]
    word = {2: "pairs", 3: "triples"}[k]
    return _build(
        rng, names=("count_combos", "combinations_summing_to", f"count_{word}_with_sum", "ways_to_pick",
                    "count_groups_with_total"),
        params=[P("values", ("values", "numbers", "weights", "pool"), "list[int]", "The numbers to choose from."),
                P("target", ("target", "total", "goal", "wanted"), "int", "The required sum.")],
        returns=("int", f"The number of {word} (by position) that add up to `$target`."),
        summaries=(f"Count the {word} of elements of `$values` whose sum is `$target`.",
                   f"Return how many ways there are to pick {k} different positions of $values with values "
                   f"summing to $target.",
                   f"Count the combinations of {k} elements of a list that add up to a target."),
        notes=("Equal numbers at different positions are different choices.",),
        bodies=bodies, local_names={"combo": ("combo", "group", "choice"), "count": ("count", "ways", "n"),
                                    "i": ("i", "a", "first"), "j": ("j", "b", "second")},
        ref=ref, cases=cases)


@_family("iteration_tools.round_robin", ("itertools", "cycle", "zip"), """
    `itertools.cycle` repeats a sequence for ever; zipped with a finite list it hands out the list's items
    in turn, as when dealing cards. The same assignment follows from arithmetic, item i going to group
    i % n, and slicing with a step, `items[i::n]`, collects group i in one expression.""")
def _round_robin(rng) -> Made:
    bodies = (Body("$groups = [[] for _ in range($n)]\nfor $item, $group in zip($items, cycle($groups)):\n"
                   "    $group.append($item)\nreturn $groups", ("from itertools import cycle",)),
              "$groups = [[] for _ in range($n)]\nfor $i, $item in enumerate($items):\n"
              "    $groups[$i % $n].append($item)\n"
              "return $groups",
              "return [$items[$i::$n] for $i in range($n)]")
    cases = [(_words(rng, rng.randint(3, 9)), rng.randint(2, 4)) for _ in range(3)]
    cases += [([], 3), (["solo"], 1), (["a", "b"], 4)]
    return _build(
        rng, names=("deal_round_robin", "split_into_teams", "distribute", "deal_cards", "assign_round_robin"),
        params=[P("items", ("items", "players", "cards", "names"), "list[str]", "What to hand out, in order."),
                P("n", ("n", "teams", "hands", "groups_count"), "int", "How many groups (1 or more).")],
        returns=("list[list[str]]", "`$n` lists; group i gets items i, i + n, i + 2n, ..."),
        summaries=("Deal `$items` into `$n` groups in turn, like cards around a table.",
                   "Distribute $items round-robin over $n groups: the first item to group 0, the next to "
                   "group 1, and so on.",
                   "Split a list into a fixed number of groups by handing out one item to each group in turn."),
        notes=("Groups that receive nothing are empty lists.",),
        bodies=bodies, local_names={"groups": ("groups", "dealt", "result"), "item": ("item", "player", "card"),
                                    "group": ("group", "hand", "team"), "i": ("i", "k", "pos")},
        ref=lambda items, n: [items[i::n] for i in range(n)], cases=cases)


@_family("iteration_tools.split_runs", ("itertools", "groupby", "key-functions"), """
    `itertools.groupby(items, key)` groups consecutive elements that have the same key, starting a new group
    whenever the key changes; it does not sort, so equal keys far apart form separate groups. With a key
    function such as `lambda x: x % 2` it splits a list into runs of even and odd numbers.""")
def _split_runs(rng) -> Made:
    by_sign = pick(rng, (False, True))
    key, f = ("$x < 0", lambda x: x < 0) if by_sign else ("$x % 2", lambda x: x % 2)
    same = key.replace("$x", "$runs[-1][-1]")
    bodies = (Body(f"return [list($group) for _, $group in groupby($values, key=lambda $x: {key})]",
                   ("from itertools import groupby",)),
              f"$runs = []\nfor $x in $values:\n    if $runs and ({same}) == ({key}):\n        $runs[-1].append($x)\n"
              "    else:\n        $runs.append([$x])\nreturn $runs")
    cases = [(_int_list(rng, 4, 10, -9, 9),) for _ in range(4)] + [([],), ([4],),
                                                                   ([2, 4, 6] if not by_sign else [-1, -2],)]
    what = "negative and non-negative numbers" if by_sign else "even and odd numbers"
    return _build(
        rng, names=("split_by_sign", "sign_runs", "group_sign_runs", "runs_by_sign") if by_sign
        else ("split_by_parity", "parity_runs", "group_parity_runs", "runs_by_parity"),
        params=[P("values", ("values", "numbers", "seq", "data"), "list[int]", "The numbers to split.")],
        returns=("list[list[int]]", f"The maximal runs of {what}, in order."),
        summaries=(f"Split `$values` into maximal runs of consecutive {what}.",
                   f"Group neighbouring elements of $values into runs; a new run starts whenever the kind "
                   f"changes ({what}).",
                   f"Cut a list wherever it switches between {what}."),
        notes=("Joining the runs gives back the original list.",),
        bodies=bodies,
        local_names={"group": ("group", "run", "block"), "x": ("x", "v", "n"), "runs": ("runs", "out", "blocks")},
        ref=lambda values: [list(g) for _, g in groupby(values, key=f)], cases=cases)


_SEQUENCES = {
    "triangular": (("triangular_numbers", "triangulars", "gen_triangular"), "the triangular numbers 1, 3, 6, 10, ...",
                   "$total, $n = 0, 0\nwhile True:\n    $n += 1\n    $total += $n\n    yield $total",
                   "$n * ($n + 1) // 2", lambda n: n * (n + 1) // 2),
    "squares": (("square_numbers", "squares", "gen_squares"), "the squares 1, 4, 9, 16, ...",
                "$n = 1\nwhile True:\n    yield $n * $n\n    $n += 1", "$n * $n", lambda n: n * n),
    "powers": (("powers_of_two", "doublings", "gen_powers"), "the powers of two 1, 2, 4, 8, ...",
               "$total = 1\nwhile True:\n    yield $total\n    $total *= 2", "2 ** ($n - 1)", lambda n: 2 ** (n - 1)),
}


@_family("iteration_tools.sequence_below", ("generators", "yield", "takewhile"), """
    A generator function uses `yield` to produce values one at a time, only when asked, so it can describe
    an infinite sequence without storing it. The caller decides how much to take: a `for` loop that
    breaks at a limit, or `itertools.takewhile`, which stops at the first value failing a test.""")
def _sequence_below(rng) -> Made:
    kind = pick(rng, tuple(_SEQUENCES))
    helper_names, what, gen_body, closed, f = _SEQUENCES[kind]
    helper = ("def $gen() -> Iterator[int]:\n" + f'    """Yield {what} for ever."""\n'
              + textwrap.indent(gen_body, "    "))
    imports = ("from typing import Iterator",)
    bodies = (Body("$out = []\nfor $t in $gen():\n    if $t >= $limit:\n        break\n    $out.append($t)\n"
                   "return $out",
                   imports, helper),
              Body("return list(takewhile(lambda $t: $t < $limit, $gen()))",
                   imports + ("from itertools import takewhile",),
                   helper),
              Body(f"return list(takewhile(lambda $t: $t < $limit, ({closed} for $n in count(1))))",
                   ("from itertools import count, takewhile",)))

    def ref(limit):
        out, n = [], 1
        while f(n) < limit:
            out.append(f(n))
            n += 1
        return out

    cases = [(rng.randint(2, 200),) for _ in range(3)] + [(0,), (1,), (2,), (f(5),)]
    return _build(
        rng, names=(f"{kind}_below", f"{kind}_under", f"list_{kind}", f"{kind}_up_to", f"small_{kind}"),
        params=[P("limit", ("limit", "bound", "below", "ceiling"), "int", "The exclusive upper bound.")],
        returns=("list[int]", f"The members of the sequence smaller than `$limit`, in increasing order."),
        summaries=(f"Return {what} that are smaller than `$limit`.",
                   f"List the terms of the sequence of {what.split(' ', 1)[1]} below $limit.",
                   f"Collect {what} up to, but not including, a limit."),
        bodies=bodies, local_names={"gen": helper_names, "out": ("out", "terms", "found"), "t": ("t", "term", "value"),
                                    "total": ("total", "current", "acc"), "n": ("n", "k", "step")},
        ref=ref, cases=cases)


@_family("iteration_tools.batch_totals", ("generators", "yield", "batching"), """
    A generator is a convenient way to cut work into batches: it yields one batch at a time, and the caller
    processes each as it arrives without building the list of all batches first. The batches can be
    slices taken at steps of the batch size, or lists filled item by item and yielded when full, with a
    final, shorter batch for whatever is left.""")
def _batch_totals(rng) -> Made:
    agg = pick(rng, ("sum", "max"))
    slices = Body(f"return [{agg}($batch) for $batch in $gen($values, $size)]", ("from typing import Iterator",),
                  '''def $gen(items: list[int], size: int) -> Iterator[list[int]]:
                      """Yield consecutive slices of `size` items; the last one may be shorter."""
                      for start in range(0, len(items), size):
                          yield items[start:start + size]''')
    filling = Body(f"$out = []\nfor $batch in $gen($values, $size):\n    $out.append({agg}($batch))\nreturn $out",
                   ("from typing import Iterator",),
                   '''def $gen(items: list[int], size: int) -> Iterator[list[int]]:
                       """Yield lists of `size` items as they fill up, then the rest (if any)."""
                       batch = []
                       for item in items:
                           batch.append(item)
                           if len(batch) == size:
                               yield batch
                               batch = []
                       if batch:
                           yield batch''')
    f = sum if agg == "sum" else max
    cases = [(_int_list(rng, 3, 11, -5, 30), rng.randint(1, 4)) for _ in range(3)]
    cases += [([], 3), ([4], 2), ([1, 2, 3, 4], 4)]
    word = "total" if agg == "sum" else "largest value"
    return _build(
        rng, names=("batch_totals", "sums_per_batch", "chunk_sums", "block_totals") if agg == "sum"
        else ("batch_maxima", "max_per_batch", "chunk_peaks", "block_maxima"),
        params=[P("values", ("values", "readings", "numbers", "stream"), "list[int]", "The numbers to process."),
                P("size", ("size", "batch_size", "per_batch", "n"), "int",
                  "How many numbers form a batch (1 or more).")],
        returns=("list[int]", f"The {word} of each batch, in order."),
        summaries=(f"Split `$values` into batches of `$size` and return the {word} of each batch.",
                   f"Process $values in consecutive batches of $size numbers and report each batch's {word}.",
                   f"Compute the {word} of every fixed-size batch of a list (the last batch may be shorter)."),
        bodies=(slices, filling),
        local_names={"gen": ("batches", "in_batches", "chunks"), "batch": ("batch", "chunk", "block"),
                                              "out": ("out", "result", "collected")},
        ref=lambda values, size: [f(values[i:i + size]) for i in range(0, len(values), size)], cases=cases)


@_family("iteration_tools.additive_sequence", ("generators", "yield", "islice"), """
    The Fibonacci rule, each term the sum of the two before it, fits a generator in three lines:
    `yield a`, then `a, b = b, a + b`, forever. Different starting pairs give other sequences (2, 1 gives
    the Lucas numbers). `itertools.islice(gen, n)` takes the first n values of any iterator, infinite or not.""")
def _additive_sequence(rng) -> Made:
    a0, b0 = pick(rng, ((0, 1), (2, 1), (1, 1), (1, 3)))
    helper = '''def $gen(a: int, b: int) -> Iterator[int]:
                    """Yield a, b, a + b, ...: every term is the sum of the two before it."""
                    while True:
                        yield a
                        a, b = b, a + b'''
    imp = ("from typing import Iterator",)
    bodies = (Body("return list(islice($gen($first, $second), $n))", imp + ("from itertools import islice",), helper),
              Body("$terms = $gen($first, $second)\nreturn [next($terms) for _ in range($n)]", imp, helper),
              Body("return [$term for _, $term in zip(range($n), $gen($first, $second))]", imp, helper))

    def ref(n, first, second):
        out = []
        for _ in range(n):
            out.append(first)
            first, second = second, first + second
        return out

    cases = [(rng.randint(3, 12),) for _ in range(2)] + [(rng.randint(2, 8), rng.randint(0, 5), rng.randint(0, 5))]
    cases += [(0,), (1,), (5, KW(first=3, second=3))]
    return _build(
        rng, names=("sequence_prefix", "first_terms", "fibonacci_like", "first_n_terms", "additive_sequence"),
        params=[P("n", ("n", "count", "how_many", "length"), "int", "How many terms to return (0 or more)."),
                P("first", ("first", "a", "start"), "int", "The first term.", a0),
                P("second", ("second", "b", "then"), "int", "The second term.", b0)],
        returns=("list[int]", "The first `$n` terms."),
        summaries=(f"Return the first `$n` terms of the sequence that starts `$first`, `$second` (by "
                   f"default {a0}, {b0}) "
                   "and continues with the sum of the previous two.",
                   "List $n terms of a Fibonacci-style sequence beginning with $first and $second.",
                   "Generate the beginning of an additive sequence, where each term is the sum of the two before it."),
        bodies=bodies, local_names={"gen": ("additive", "terms_from", "fib_like"), "terms": ("terms", "it", "source"),
                                    "term": ("term", "t", "value")},
        ref=ref, cases=cases)


@_family("iteration_tools.fold_digits", ("higher_order_functions", "reduce"), """
    `functools.reduce(f, items, start)` folds a sequence into one value by applying a two-argument function
    repeatedly: f(f(f(start, x0), x1), x2) and so on. Reading digits into a number is such a fold, since
    each step multiplies what was read so far by the base and adds the next digit (Horner's rule).""")
def _fold_digits(rng) -> Made:
    base = pick(rng, (10, 2, 8, 16))
    bodies = (Body(f"return reduce(lambda $acc, $d: $acc * {base} + $d, $digits, 0)",
                   ("from functools import reduce",)),
              f"$acc = 0\nfor $d in $digits:\n    $acc = $acc * {base} + $d\nreturn $acc",
              f"return sum($d * {base} ** $i for $i, $d in enumerate(reversed($digits)))")
    rand = lambda: [rng.randint(0, base - 1) for _ in range(rng.randint(1, 6))]  # noqa: E731
    cases = [(rand(),) for _ in range(3)] + [([],), ([0, 0],), ([base - 1],), ([1, 0, 0],)]
    names = ("bits_to_int", "from_bits", "binary_digits_value", "bits_value") if base == 2 else \
        ("digits_to_number", "from_digits", "combine_digits", "number_from_digits", "digits_value")
    return _build(
        rng, names=names,
        params=[P("digits", ("digits", "bits" if base == 2 else "places", "ds", "numerals"), "list[int]",
                  f"Base-{base} digits, most significant first, each 0 to {base - 1}.")],
        returns=("int", "The number the digits represent (0 for no digits)."),
        summaries=(f"Combine the base-{base} digits `$digits` (most significant first) into the number they represent.",
                   f"Return the value of the base-{base} numeral whose digits are listed in $digits.",
                   f"Turn a list of base-{base} digits into an integer using a fold."),
        notes=("Leading zeros do not change the value.",),
        bodies=bodies,
        local_names={"acc": ("acc", "value", "n"), "d": ("d", "digit", "x"), "i": ("i", "power", "place")},
        ref=lambda digits: sum(d * base ** i for i, d in enumerate(reversed(digits))), cases=cases)


_OPS = {"double": ("$x * 2", lambda x: x * 2), "inc": ("$x + 1", lambda x: x + 1), "dec": ("$x - 1", lambda x: x - 1),
        "square": ("$x * $x", lambda x: x * x), "negate": ("-$x", lambda x: -x), "halve": ("$x // 2", lambda x: x // 2),
        "triple": ("$x * 3", lambda x: x * 3)}


@_family("iteration_tools.apply_steps", ("higher_order_functions", "lambdas", "dispatch-tables"), """
    Functions are values: they can be stored in a dict under a name and looked up later, which turns a list
    of command names into a chain of calls. The value flows through the commands in order, either in a loop
    (`value = ops[name](value)`) or as a fold with `functools.reduce`.""")
def _apply_steps(rng) -> Made:
    ops = sorted(rng.sample(tuple(_OPS), 4))
    table = "{\n" + "".join(f"    {o!r}: lambda $x: {_OPS[o][0]},\n" for o in ops) + "}"
    bodies = (f"$table = {table}\nfor $step in $steps:\n    $value = $table[$step]($value)\nreturn $value",
              Body(f"$table = {table}\nreturn reduce(lambda $acc, $step: $table[$step]($acc), $steps, $value)",
                   ("from functools import reduce",)))

    def ref(value, steps):
        for s in steps:
            value = _OPS[s][1](value)
        return value

    cases = [(rng.randint(-9, 20), [pick(rng, ops) for _ in range(rng.randint(1, 5))]) for _ in range(4)]
    cases += [(rng.randint(1, 9), []), (0, [ops[0]]), (3, ops)]
    listing = ", ".join(f"{o!r} ({_OPS[o][0].replace('$x', 'x')})" for o in ops)
    return _build(
        rng, names=("apply_steps", "run_pipeline", "apply_operations", "process_commands", "transform_by_steps"),
        params=[P("value", ("value", "start", "number", "x0"), "int", "The starting number."),
                P("steps", ("steps", "commands", "ops", "program"), "list[str]",
                  f"Operation names, each one of {listing}.")],
        returns=("int", "The number after every step has been applied in order."),
        summaries=(f"Apply the named operations in `$steps` to `$value`, one after another; the names are {listing}.",
                   f"Run $value through a pipeline of operations given by name ({listing}).",
                   "Interpret a list of command names as functions and apply them in sequence to a number."),
        notes=("With no steps the value is returned unchanged.",),
        bodies=bodies, local_names={"table": ("table", "operations", "actions"), "step": ("step", "name", "command"),
                                    "x": ("x", "v", "n"), "acc": ("acc", "current", "so_far")},
        ref=ref, cases=cases)


@_family("iteration_tools.closure_map", ("higher_order_functions", "closures", "map"), """
    A function defined inside another function remembers the variables of the enclosing call: a closure.
    `make_adder(k)` can return a new function that adds k, which `map` then applies to every element.
    `functools.partial` builds such specialised functions from existing ones, like `partial(operator.mul, k)`.""")
def _closure_map(rng) -> Made:
    op = pick(rng, ("add", "mul", "pow"))
    expr = {"add": "x + k", "mul": "x * k", "pow": "x ** k"}[op]
    names = {"add": ("add_to_each", "shift_all", "offset_values", "plus_each"),
             "mul": ("scale_all", "multiply_each", "apply_factor", "times_each"),
             "pow": ("power_each", "raise_all", "powers_of_values", "exponentiate_all")}[op]
    maker = {"add": ("make_adder", "adder", "add_k"), "mul": ("make_scaler", "multiplier", "times_k"),
             "pow": ("make_power", "power_of", "raise_to")}[op]
    helper = f'''def $maker(k: int) -> Callable[[int], int]:
                     """A function that maps x to {expr}."""
                     def apply(x: int) -> int:
                         return {expr}
                     return apply'''
    imp = ("from typing import Callable",)
    bodies = [Body("$f = $maker($k)\nreturn [$f($x) for $x in $values]", imp, helper),
              Body("return list(map($maker($k), $values))", imp, helper),
              f"$f = lambda $x: {expr.replace('x', '$x').replace('k', '$k')}\nreturn list(map($f, $values))"]
    if op != "pow":
        bodies.append(Body(f"return list(map(partial(operator.{op}, $k), $values))",
                           ("from functools import partial", "import operator")))
    f = {"add": lambda x, k: x + k, "mul": lambda x, k: x * k, "pow": lambda x, k: x ** k}[op]
    kmax = 4 if op == "pow" else 12
    cases = [(_int_list(rng, 2, 7, -6, 9), rng.randint(0, kmax)) for _ in range(3)]
    cases += [([], 3), ([5], 0), ([1, 2, 3], 1)]
    verb = {"add": "Add `$k` to", "mul": "Multiply by `$k`", "pow": "Raise to the power `$k`"}[op]
    return _build(
        rng, names=names,
        params=[P("values", ("values", "numbers", "xs", "data"), "list[int]", "The numbers to transform."),
                P("k", ("k", "amount", "factor" if op == "mul" else "n", "by"), "int",
                  "The constant of the transformation.")],
        returns=("list[int]", f"A new list with `{expr.replace('k', '$k')}` for every x of `$values`."),
        summaries=(f"{verb} every element of `$values` and return the results.",
                   f"Return [{expr.replace('k', '$k')} for each x in $values], built with a function "
                   f"that remembers $k.",
                   f"Apply the transformation x -> {expr} to every number of a list."),
        bodies=bodies, local_names={"maker": maker, "f": ("f", "fn", "transform"), "x": ("x", "v", "item")},
        ref=lambda values, k: [f(x, k) for x in values], cases=cases)


@_family("iteration_tools.extreme_positions", ("enumerate_and_zip", "enumerate"), """
    `enumerate(items)` yields (index, item) pairs, so a comprehension can keep the index of every element
    that passes a test, here every position holding the maximum (or minimum). A single pass can also track
    the best value and its positions together, resetting the positions when a better value appears.""")
def _extreme_positions(rng) -> Made:
    big = pick(rng, (True, False))
    ext, cmp = ("max", ">") if big else ("min", "<")
    bodies = (f"if not $values:\n    return []\n$best = {ext}($values)\n"
              f"return [$i for $i, $x in enumerate($values) if $x == $best]",
              f"$where = []\nfor $i, $x in enumerate($values):\n    if not $where or $x {cmp} $values[$where[0]]:\n"
              "        $where = [$i]\n    elif $x == $values[$where[0]]:\n        $where.append($i)\nreturn $where",
              f"$best = {ext}($values, default=None)\n"
              f"return [$i for $i in range(len($values)) if $values[$i] == $best]")
    cases = [(_int_list(rng, 3, 10, 0, 6),) for _ in range(4)] + [([],), ([4],), ([2, 2, 2],)]
    word = "largest" if big else "smallest"
    return _build(
        rng, names=("positions_of_max", "where_max", "max_indices", "indices_of_largest", "argmax_all") if big
        else ("positions_of_min", "where_min", "min_indices", "indices_of_smallest", "argmin_all"),
        params=[P("values", ("values", "scores", "numbers", "data"), "list[int]", "The numbers to search.")],
        returns=("list[int]", f"Every index at which the {word} value occurs, in increasing order."),
        summaries=(f"Return the indexes of all occurrences of the {word} value in `$values`.",
                   f"Find where the {word} number of $values appears; ties give several indexes.",
                   f"List every position of a list that holds its {word} element."),
        notes=("An empty list gives an empty result.",),
        bodies=bodies, local_names={"best": ("best", "target", "extreme"), "i": ("i", "pos", "index"),
                                    "x": ("x", "v", "score"), "where": ("where", "positions", "found")},
        ref=lambda values: [i for i, x in enumerate(values) if x == (max if big else min)(values)], cases=cases)


@_family("iteration_tools.weighted_sum", ("enumerate_and_zip", "zip"), """
    `zip(a, b)` walks two sequences in step, yielding pairs of elements at the same position, which is
    exactly what a dot product (sum of pairwise products) needs. It reads better than indexing with
    `range(len(a))`, and `map(operator.mul, a, b)` is the same idea with a function of two arguments.""")
def _weighted_sum(rng) -> Made:
    bodies = ("return sum($x * $w for $x, $w in zip($values, $weights))",
              "$total = 0\nfor $i in range(len($values)):\n    $total += $values[$i] * $weights[$i]\nreturn $total",
              Body("return sum(map(operator.mul, $values, $weights))", ("import operator",)),
              "$total = 0\nfor $x, $w in zip($values, $weights):\n    $total += $x * $w\nreturn $total")
    cases = []
    for _ in range(3):
        n = rng.randint(1, 6)
        cases.append((_ints(rng, n, -5, 10), _ints(rng, n, 0, 5)))
    cases += [([], []), ([3], [0]), ([1, 2, 3], [1, 1, 1])]
    return _build(
        rng, names=("dot_product", "dot", "weighted_sum", "inner_product", "sum_of_products"),
        params=[P("values", ("values", "scores", "xs", "amounts"), "list[int]", "The numbers."),
                P("weights", ("weights", "ws", "ys", "factors"), "list[int]", "One weight per number (same length).")],
        returns=("int", "The sum of value times weight over all positions."),
        summaries=("Return the sum of `$values[i] * $weights[i]` over all positions i.",
                   "Compute the weighted sum of $values with the weights $weights.",
                   "Multiply two equal-length lists element by element and add up the products."),
        notes=("Empty lists give 0.",),
        bodies=bodies,
        local_names={"x": ("x", "v", "a"), "w": ("w", "weight", "b"), "total": ("total", "acc", "result"),
                     "i": ("i", "k", "pos")},
        ref=lambda values, weights: sum(x * w for x, w in zip(values, weights)), cases=cases)


@_family("iteration_tools.mismatches", ("enumerate_and_zip", "zip", "enumerate"), """
    Comparing two sequences position by position combines `zip`, which pairs the characters, with
    `enumerate`, which numbers the pairs: `for i, (a, b) in enumerate(zip(s, t))`. zip stops at the end of
    the shorter sequence, so only the common positions are compared.""")
def _mismatches(rng) -> Made:
    as_count = pick(rng, (True, False))
    if as_count:
        bodies = ("return sum($a != $b for $a, $b in zip($first, $second))",
                  "$count = 0\nfor $i in range(min(len($first), len($second))):\n    if $first[$i] != $second[$i]:\n"
                  "        $count += 1\nreturn $count")
        names = ("count_mismatches", "mismatch_count", "differing_count", "hamming_like", "count_differences")
        ref = lambda first, second: sum(a != b for a, b in zip(first, second))  # noqa: E731
        ret = ("int", "How many of the compared positions hold different characters.")
    else:
        bodies = ("return [$i for $i, ($a, $b) in enumerate(zip($first, $second)) if $a != $b]",
                  "$found = []\nfor $i in range(min(len($first), len($second))):\n    if $first[$i] != $second[$i]:\n"
                  "        $found.append($i)\nreturn $found")
        names = ("mismatch_positions", "differing_positions", "diff_indices", "where_differ", "positions_that_differ")
        ref = lambda first, second: [i for i, (a, b) in enumerate(zip(first, second)) if a != b]  # noqa: E731
        ret = ("list[int]", "The indexes where the characters differ, in increasing order.")
    dna = lambda n: "".join(pick(rng, "ACGT") for _ in range(n))  # noqa: E731
    cases = [(dna(n), dna(n)) for n in (rng.randint(4, 12), rng.randint(4, 12))] + [(dna(6), dna(4))]
    cases += [("", ""), ("ACGT", "ACGT"), ("AAAA", "TTTT"), ("abc", "")]
    return _build(
        rng, names=names,
        params=[P("first", ("first", "a", "seq1", "left"), "str", "The first sequence."),
                P("second", ("second", "b", "seq2", "right"), "str", "The second sequence.")],
        returns=ret,
        summaries=("Compare `$first` and `$second` position by position and report where they differ.",
                   ("Count" if as_count else "List") + " the positions at which $first and $second hold "
                                                       "different characters.",
                   "Find the mismatches between two strings, e.g. two DNA sequences."),
        notes=("Only positions present in both strings are compared.",),
        bodies=bodies, local_names={"a": ("a", "x", "c1"), "b": ("b", "y", "c2"), "count": ("count", "diffs", "n"),
                                    "i": ("i", "pos", "k"), "found": ("found", "positions", "out")},
        ref=ref, cases=cases)


@_family("iteration_tools.numbered_lines", ("enumerate_and_zip", "enumerate", "f-strings"), """
    `enumerate(items, start=1)` numbers items the way people count, from 1, without a separate counter
    variable. Combined with an f-string it produces numbered lists; `zip(itertools.count(start), items)` is
    an equivalent spelling that shows enumerate is just a counter zipped with the items.""")
def _numbered_lines(rng) -> Made:
    shape = pick(rng, ("{n}. {item}", "{n}) {item}", "{n}: {item}", "#{n} {item}"))
    start = pick(rng, (1, 1, 0))
    fmt = 'f"' + shape.replace("{n}", "{$n}").replace("{item}", "{$item}") + '"'
    bodies = (f"return [{fmt} for $n, $item in enumerate($items, start=$start)]",
              f"$out = []\n$n = $start\nfor $item in $items:\n    $out.append({fmt})\n    $n += 1\nreturn $out",
              Body(f"return [{fmt} for $n, $item in zip(count($start), $items)]", ("from itertools import count",)))
    cases = [(_words(rng, rng.randint(1, 4)),) for _ in range(3)] + [([],), (["only"], 5), (["a", "b"], KW(start=10))]
    example = shape.format(n=start, item="tea")
    return _build(
        rng, names=("number_lines", "numbered", "enumerate_items", "add_numbers", "label_lines"),
        params=[P("items", ("items", "lines", "entries", "things"), "list[str]", "The texts to number."),
                P("start", ("start", "first", "begin", "offset"), "int", "The number of the first item.", start)],
        returns=("list[str]", f"Each item with its number in front, like {example!r}."),
        summaries=(f"Put a running number in front of every item of `$items`, as in {example!r}.",
                   f"Return the items of $items numbered from $start in the form {shape!r}.",
                   f"Turn a list of strings into a numbered list (the first one is {example!r} for 'tea')."),
        bodies=bodies,
        local_names={"n": ("n", "number", "i"), "item": ("item", "line", "text"),
                     "out": ("out", "result", "labelled")},
        ref=lambda items, start: [shape.format(n=n, item=i) for n, i in enumerate(items, start)], cases=cases)
