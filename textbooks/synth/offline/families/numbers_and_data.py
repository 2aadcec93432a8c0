"""Exercise families of the areas dicts_sets, arithmetic, number_theory, matrices, dates and parsing
(the rules: ../family.py).

Every family is one `make(rng)` built on `_build`, which does the drawing all families share: the entry
point's name and its parameters' and locals' names (synonym lists, never a builtin's or an imported
name), the docstring's layout (the phi-1 paper's "Parameters:/Returns:" lines, numpy, Google, Sphinx, a
`>>>` example whose output is computed, a plain paragraph), the `list[int]` or `typing.List[int]` spelling
and the body among the family's implementation styles. The family itself draws the task's constants and
the test inputs and gives a reference implementation (plain Python in this module) from which every
expected value is computed, so the tests are right by construction.

Body, summary and parameter texts are `string.Template`s: `$key` stands for a drawn name (a parameter, a
local) or a constant the family rendered, so one template serves every draw (`$$` is a literal dollar).
Dates cross the call as ISO strings or ints, never as `datetime` objects: only plain data may.
"""

from __future__ import annotations

import builtins
import calendar
import copy
import keyword
import math
import re
import string
import textwrap
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from typing import Any, Callable, Sequence

from textbooks.synth.offline.family import Family, Made, pick
from textbooks.synth.offline.families._common import (  # noqa: F401 - shared by the three modules
    KW, P, _NO_DEFAULT, _TYPING_FORMS, _annotation, _printed,
)

# A drawn identifier must not shadow a builtin, a keyword, or a module or name some body imports.
_RESERVED = set(dir(builtins)) | set(keyword.kwlist) | {
    "math", "re", "string", "calendar", "statistics", "datetime", "date", "timedelta", "time", "collections",
    "Counter", "defaultdict", "reduce", "gcd", "lcm", "isqrt", "itertools", "functools", "operator", "Fraction",
    "List", "Dict", "Tuple", "Set", "Optional", "Union"}


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
    return textwrap.wrap(text, width, break_on_hyphens=False) or [""]


def _docstring(rng, summary: str, params: list[tuple[str, str, str]], ret: tuple[str, str],
               examples: list[tuple[str, str]], note: str) -> list[str]:
    """Docstring lines (unindented) in one of the layouts teachers and textbooks use.

    examples: (call, what the interactive interpreter prints for it), "" when it prints nothing (None).
    The draws depend on the examples only through whether there are any, so a copy of `rng` taken before
    the call lays out the same docstring again (see `_build`)."""
    layout = pick(rng, ("paper", "paper", "numpy", "google", "sphinx", "example", "google_example", "plain",
                        "paper_example", "numpy_example"))
    lines = _wrap(summary)
    if note and pick(rng, (True, True, False)):
        lines += ([""] if pick(rng, (True, False)) else []) + _wrap(note)
    ret_type, ret_doc = ret
    if layout.startswith("paper"):  # the phi-1 paper's CodeExercises layout
        lines += ["", "Parameters:"] + [f"{name} ({ann}): {doc}" for name, ann, doc in params]
        lines += ["", "Returns:", f"{ret_type}: {ret_doc}"]
    elif layout.startswith("numpy"):
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
        heading = {"google_example": ["Examples:"], "paper_example": ["Example:"],
                   "numpy_example": ["Examples", "--------"]}.get(layout, [])
        lines += [""] + heading
        for call, printed in examples[: pick(rng, (1, 2, 2, 3))]:
            lines += [f">>> {call}"] + ([printed] if printed else [])
    if pick(rng, (True, False, False)):  # teachers often open the docstring on its own line
        return [""] + lines
    return lines


def _check(text: str, expected: Any) -> str:
    """An assert comparing `text` with a literal: `is` for None and bools, a relative tolerance for floats."""
    if expected is None or isinstance(expected, bool):
        return f"assert {text} is {expected!r}"
    if isinstance(expected, float):
        return f"assert abs({text} - {expected!r}) <= 1e-9 * max(1.0, abs({expected!r}))"
    return f"assert {text} == {expected!r}"


def _showable(call: str, result: str) -> bool:
    """Whether a call and its result fit on a doctest line (short, no backslashes to escape)."""
    return len(call) + len(result) < 86 and "\\" not in call + result


def _run_calls(source: str, entry: str, calls: Sequence[str]) -> list[Any]:
    """The values `calls` return when evaluated, in order, after running `source`: the rendered solution,
    not the reference, because a docstring example must show what the very body below it returns (an int
    mean where the reference gives a float, say). The bodies are this module's own standard-library code."""
    namespace: dict[str, Any] = {"__name__": "__exercise__"}
    # dont_inherit: this module's `from __future__ import annotations` must not leak into the exercise
    exec(compile(source, f"<{entry}>", "exec", dont_inherit=True), namespace)
    return [eval(call, namespace) for call in calls]


def _build(rng, *, names: Sequence[str], params: list[P], returns: tuple[str, str], summaries: Sequence[str],
           bodies: Sequence[str | Body], ref: Callable[..., Any], cases: list[tuple], consts: dict | None = None,
           local_names: dict[str, Sequence[str]] | None = None, notes: Sequence[str] = (), rule: str = "",
           description: str = "") -> Made:
    """Draw the shared parts of a function exercise, compute the expected values with `ref` and render it.

    cases: argument tuples in parameter order (trailing defaulted ones may be left out); a `KW` at the end
    adds keyword arguments by parameter key. ref: called with every argument by key, defaults filled in.
    Templates may use `$entry` (the drawn function name) and every key of `params`, `local_names`, `consts`.
    rule: a sentence the task cannot be solved without (a case rule, what happens to bad input); it always
    follows the summary, while one of `notes` (background, reminders) is shown only on some draws.
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
    if rule:
        summary += " " + fill(rule)
    note = fill(pick(rng, notes)) if notes else ""
    ret_doc = (ret_ann, fill(returns[1]))
    # The docstring is drawn before the body (so every seed keeps its exercise), but its examples must
    # show what the drawn body returns: lay it out here only to advance rng, and again below, on a copy
    # taken now, once the body's results are known.
    layout_rng = copy.copy(rng)  # its state is one immutable tuple, so a deep copy would only cost time
    _docstring(rng, summary, doc_params, ret_doc, candidates, note)

    body = pick(rng, bodies)
    body = body if isinstance(body, Body) else Body(body)
    helpers = ""
    if body.helpers:  # the helpers' annotations follow the entry point's spelling
        helpers = fill(_code(body.helpers))
        if typing_style:
            helpers = re.sub(r"\b(list|dict|tuple|set)\[",
                             lambda m: _annotation(m.group(0), True, typing_names), helpers)
        helpers += "\n\n\n"
    imports = set(body.imports)
    if typing_names:
        imports.add(f"from typing import {', '.join(sorted(typing_names))}")
    imports = sorted(imports, key=lambda line: (line.split()[1], line))  # by module, as isort orders them
    head = "\n".join(imports) + "\n\n\n" if imports else ""
    code = textwrap.indent(fill(_code(body.code)), "    ")

    def render(doc: list[str]) -> str:
        doc_text = doc[0] + "".join("\n" + ("    " + s).rstrip() for s in doc[1:])
        return f'{head}{helpers}def {entry}({", ".join(sig)}) -> {ret_ann}:\n    """{doc_text}\n    """\n{code}\n'

    results = _run_calls(render([summary]), entry, [c for c, _ in candidates])
    kept = [(c, v) for (c, _), v in zip(candidates, results) if _showable(c, repr(v))]
    source = render(_docstring(layout_rng, summary, doc_params, ret_doc, [(c, _printed(v)) for c, v in kept], note))
    shown = [(c, repr(v)) for c, v in kept]
    tests = "\n".join(_check(c, e) for c, e in calls) + "\n"
    first = summary.split(". ")[0].rstrip(".") + "."
    return Made(entry, source, tests, description or first, tuple(shown[:3]))


FAMILIES: list[Family] = []


def _family(name: str, tags: tuple[str, ...], concept: str):
    """Register `make` as a family; its topic is "<area>/<first tag>"."""
    area = name.split(".")[0]

    def register(make: Callable[[Any], Made]) -> Callable[[Any], Made]:
        FAMILIES.append(Family(name, f"{area}/{tags[0]}", (area, *tags), " ".join(concept.split()), make))
        return make

    return register


_WORDS = ("apple river stone cloud maple garden window silver forest candle rocket puzzle orange planet tiger "
          "lemon meadow harbor pencil castle bridge violet thunder marble sunset kettle anchor breeze cactus "
          "dragon ember falcon glacier hollow island jungle lantern mirror nectar orbit pepper quartz saddle "
          "timber umbrella velvet walnut zephyr banana ocean sky tree book moon sun rain ant bee owl").split()
_NAMES = ("ana", "ben", "cleo", "dev", "eva", "finn", "gus", "hana", "ivan", "jo", "kai", "lena", "mo", "nia",
          "omar", "pia", "raj", "sue", "tom", "uma", "vic", "wes", "yui", "zed")


def _raw(pattern: str) -> str:
    """A raw-string literal of a regex, as a person writes it (repr would double every backslash)."""
    if '"' in pattern or pattern.endswith("\\"):
        raise ValueError(f"cannot write {pattern!r} as a raw string literal")
    return f'r"{pattern}"'


def _words(rng, n: int) -> list[str]:
    return [pick(rng, _WORDS) for _ in range(n)]


def _ints(rng, n: int, lo: int = -9, hi: int = 20) -> list[int]:
    return [rng.randint(lo, hi) for _ in range(n)]


def _sentence(rng, n: int, punct: bool = True, pool: Sequence[str] = _WORDS) -> str:
    """Words of `pool` joined by spaces, some capitalised and some followed by punctuation."""
    out = []
    for w in (pick(rng, pool) for _ in range(n)):
        w = w.capitalize() if rng.random() < 0.25 else w
        out.append(w + (pick(rng, ",.!?") if punct and rng.random() < 0.2 else ""))
    return " ".join(out)


# -------------------------------------------------------------------------------------------- dicts_sets


@_family("dicts_sets.word_frequencies", ("counting", "dict-get", "counter"), """
    Counting with a dict maps each distinct item to how often it was seen: `counts[w] = counts.get(w, 0) + 1`
    starts a new word at zero and adds one. `collections.Counter` does the same bookkeeping in one call and
    `defaultdict(int)` makes a missing key start at 0. Normalising first (lower case, stripped punctuation)
    decides which spellings count as the same word.""")
def _word_frequencies(rng) -> Made:
    fold, strip = pick(rng, (True, False)), pick(rng, (True, False, True))
    min_len = pick(rng, (1, 2, 3, 4))
    marks = ".,!?;:"
    punct = repr(marks)

    def norm(text):
        words = text.lower().split() if fold else text.split()
        return [w.strip(marks) for w in words] if strip else words

    def ref(text, min_len):
        counts: dict[str, int] = {}
        for w in norm(text):
            if len(w) >= min_len:
                counts[w] = counts.get(w, 0) + 1
        return counts

    split = "$text.lower().split()" if fold else "$text.split()"
    words = f"($word.strip({punct}) for $word in {split})" if strip else split
    loop_word = f"$raw in {split}" if strip else f"$word in {split}"
    unpack = f"    $word = $raw.strip({punct})\n" if strip else ""
    loop = (f"$counts = {{}}\nfor {loop_word}:\n{unpack}    if len($word) >= $min_len:\n"
            f"        $counts[$word] = $counts.get($word, 0) + 1\nreturn $counts")
    dd = Body(f"$counts = defaultdict(int)\nfor {loop_word}:\n{unpack}    if len($word) >= $min_len:\n"
              f"        $counts[$word] += 1\nreturn dict($counts)", ("from collections import defaultdict",))
    counter = Body(f"$cleaned = {words}\nreturn dict(Counter($word for $word in $cleaned if len($word) >= $min_len))"
                   if strip else
                   f"return dict(Counter($word for $word in {split} if len($word) >= $min_len))",
                   ("from collections import Counter",))
    rule = ("Words are compared case-insensitively (stored in lower case)" if fold
            else "Upper and lower case spellings count as different words")
    rule += ", and punctuation around a word is ignored." if strip else "."
    cases = [(_sentence(rng, rng.randint(4, 12), strip, rng.sample(_WORDS, 4)),) for _ in range(3)]
    w = pick(rng, _WORDS)
    cases += [("",), (f"{w} {w.upper()} {w}",), (_sentence(rng, 6, strip), KW(min_len=5)), ("a bb a ccc bb a",)]
    return _build(
        rng, names=("word_frequencies", "count_words", "word_counts", "tally_words", "frequency_of_words"),
        params=[P("text", ("text", "sentence", "document", "passage"), "str", "Words separated by whitespace."),
                P("min_len", ("min_length", "min_len", "shortest", "min_chars"), "int",
                  "Words shorter than this are not counted.", min_len)],
        returns=("dict[str, int]", "Each counted word mapped to how many times it occurs."),
        summaries=("Count how often each word of `$text` occurs, ignoring words shorter than `$min_len`.",
                   "Build a frequency table of the words in $text that have at least $min_len characters.",
                   "Return a dict from word to number of occurrences for the words of `$text`."),
        rule=rule, bodies=(loop, dd, counter),
        local_names={"counts": ("counts", "freq", "tally", "seen"), "word": ("word", "w", "token"),
                     "raw": ("raw", "piece", "chunk"), "cleaned": ("cleaned", "words", "tokens")},
        ref=ref, cases=cases)


@_family("dicts_sets.frequent_chars", ("counting", "counter", "sorting"), """
    To find the characters that repeat, count every character once in a dict (or a `Counter`) and keep the
    keys whose count reaches the threshold. Counting in one pass is linear, while calling `text.count(ch)`
    for every distinct character rescans the text each time, which is fine for short strings only.
    Sorting the result makes the answer independent of the order the characters were met.""")
def _frequent_chars(rng) -> Made:
    fold, letters_only = pick(rng, (True, False)), pick(rng, (True, False))
    k = pick(rng, (2, 2, 3))

    def ref(text, k):
        t = text.lower() if fold else text
        counts: dict[str, int] = {}
        for ch in t:
            if ch.isalpha() if letters_only else not ch.isspace():
                counts[ch] = counts.get(ch, 0) + 1
        return sorted(ch for ch, n in counts.items() if n >= k)

    src = "$text.lower()" if fold else "$text"
    keep = "$ch.isalpha()" if letters_only else "not $ch.isspace()"
    loop = (f"$counts = {{}}\nfor $ch in {src}:\n    if {keep}:\n        $counts[$ch] = $counts.get($ch, 0) + 1\n"
            f"return sorted($ch for $ch, $n in $counts.items() if $n >= $k)")
    counter = Body(f"$counts = Counter($ch for $ch in {src} if {keep})\n"
                   f"return sorted($ch for $ch in $counts if $counts[$ch] >= $k)", ("from collections import Counter",))
    scan = (f"$chars = {src}\n"
            f"return sorted({{$ch for $ch in $chars if {keep} and $chars.count($ch) >= $k}})")
    cases = [(_sentence(rng, rng.randint(1, 5)),) for _ in range(3)]
    cases += [("",), ("Aa Bb aA",), ("x y z",), ("mississippi", KW(k=4)), ("a1!a1!",)]
    what = "letters" if letters_only else "characters other than whitespace"
    return _build(
        rng, names=("repeated_characters", "frequent_chars", "chars_seen_at_least", "common_letters",
                    "recurring_chars"),
        params=[P("text", ("text", "s", "phrase", "message"), "str", "The text to examine."),
                P("k", ("k", "min_count", "at_least", "threshold"), "int",
                  "How many times a character must occur to be reported.", k)],
        returns=("list[str]", f"The {what} that occur at least `$k` times, sorted."),
        summaries=(f"Return the sorted list of {what} that appear `$k` or more times in `$text`.",
                   f"Find every one of the {what} of $text occurring at least $k times.",
                   f"List, in sorted order, the {what} repeated at least $k times in the given text."),
        rule="Upper and lower case letters are counted together." if fold else "Case matters: 'A' and 'a' differ.",
        bodies=(loop, counter, scan),
        local_names={"counts": ("counts", "freq", "tally"), "ch": ("ch", "c", "char"), "n": ("n", "count", "times"),
                     "chars": ("chars", "source", "folded")},
        ref=ref, cases=cases)


@_family("dicts_sets.group_by_key", ("grouping", "setdefault", "defaultdict"), """
    Grouping sorts items into buckets by a key computed from each item: the dict maps a key to the list of
    items that have it. The first item with a new key must create its list, which `dict.setdefault(key,
    [])`, `collections.defaultdict(list)` or an explicit `if key not in groups` check each take care of.
    Appending in input order keeps every group in the order the items came.""")
def _group_by_key(rng) -> Made:
    kind = pick(rng, ("first", "length", "last"))
    key_expr, key_type, what = {"first": ("$word[0]", "str", "first letter"), "length": ("len($word)", "int", "length"),
                                "last": ("$word[-1]", "str", "last letter")}[kind]
    key_fn = {"first": lambda w: w[0], "length": len, "last": lambda w: w[-1]}[kind]

    def ref(words):
        groups: dict = {}
        for w in words:
            groups.setdefault(key_fn(w), []).append(w)
        return groups

    bodies = (f"$groups = {{}}\nfor $word in $words:\n    $groups.setdefault({key_expr}, []).append($word)\n"
              "return $groups",
              Body(f"$groups = defaultdict(list)\nfor $word in $words:\n    $groups[{key_expr}].append($word)\n"
                   f"return dict($groups)", ("from collections import defaultdict",)),
              f"$groups = {{}}\nfor $word in $words:\n    $key = {key_expr}\n    if $key not in $groups:\n"
              f"        $groups[$key] = []\n    $groups[$key].append($word)\nreturn $groups")
    cases = [(_words(rng, rng.randint(3, 9)),) for _ in range(3)] + [([],), ([pick(rng, _WORDS)],),
                                                                     (["aa", "ab", "ba"],)]
    return _build(
        rng, names=(f"group_by_{kind}", f"words_by_{kind}", f"bucket_by_{kind}", f"group_words_by_{kind}",
                    f"{kind}_groups"),
        params=[P("words", ("words", "items", "names", "vocabulary"), "list[str]", "Non-empty words to group.")],
        returns=(f"dict[{key_type}, list[str]]", f"Each {what} mapped to the words that have it, in input order."),
        summaries=(f"Group the words of `$words` by their {what}.",
                   f"Return a dict that maps each {what} to the list of words in $words sharing it.",
                   f"Sort $words into groups keyed by {what}, keeping the original order inside each group."),
        notes=("A word that occurs twice appears twice in its group.", "An empty list gives an empty dict."),
        bodies=bodies, local_names={"groups": ("groups", "buckets", "by_key", "result"), "word": ("word", "w", "item"),
                                    "key": ("key", "k", "label")},
        ref=ref, cases=cases)


@_family("dicts_sets.bucket_counts", ("grouping", "histogram", "integer-division"), """
    A histogram groups numbers into equal-width ranges and counts each range. Integer division finds the
    range: `(x // width) * width` is the start of the bucket holding x, so 37 with width 10 falls in the
    bucket starting at 30. Only buckets that receive a value appear as keys, which keeps the dict small
    for sparse data.""")
def _bucket_counts(rng) -> Made:
    width = pick(rng, (5, 10, 10, 20, 25))
    labels = pick(rng, (True, False))

    def ref(values, width):
        out: dict = {}
        for x in values:
            lo = (x // width) * width
            label = f"{lo}-{lo + width - 1}" if labels else lo
            out[label] = out.get(label, 0) + 1
        return out

    start = "$start = $value // $width * $width\n"
    key_expr = 'f"{$start}-{$start + $width - 1}"' if labels else "$start"
    loop = (f"$counts = {{}}\nfor $value in $values:\n    {start}    $label = {key_expr}\n"
            f"    $counts[$label] = $counts.get($label, 0) + 1\nreturn $counts")
    dd = Body(f"$counts = defaultdict(int)\nfor $value in $values:\n    {start}    $counts[{key_expr}] += 1\n"
              f"return dict($counts)", ("from collections import defaultdict",))
    helper = Body(f"return dict(Counter($bucket($value, $width) for $value in $values))",
                  ("from collections import Counter",),
                  f"def $bucket($value: int, $width: int) -> {'str' if labels else 'int'}:\n"
                  f"    {start}    return {key_expr}")
    cases = [([rng.randint(0, 100) for _ in range(rng.randint(3, 10))],) for _ in range(3)]
    cases += [([],), ([width - 1, width, 0],), ([rng.randint(0, 99)] * 3, KW(width=pick(rng, (3, 7, 50))))]
    ktype, kdoc = ("str", "a label 'low-high'") if labels else ("int", "the bucket's lowest value")
    return _build(
        rng, names=("bucket_counts", "histogram", "count_in_buckets", "range_histogram", "tally_by_range"),
        params=[P("values", ("values", "scores", "numbers", "readings"), "list[int]", "Non-negative whole numbers."),
                P("width", ("width", "bucket_size", "step", "bin_width"), "int", "The size of every bucket.", width)],
        returns=(f"dict[{ktype}, int]", f"For each non-empty bucket, {kdoc}, mapped to how many values fall in it."),
        summaries=("Count how many of `$values` fall into each bucket of size `$width` (0 to $width - 1, and so on).",
                   "Build a histogram of $values with buckets $width wide, starting at 0.",
                   "Group the numbers into ranges of equal width and count the numbers in each range."),
        rule="Buckets that receive no value are left out.", bodies=(loop, dd, helper),
        local_names={"counts": ("counts", "histogram_", "tally", "bins"), "value": ("value", "x", "score"),
                     "start": ("start", "low", "base"), "label": ("label", "key", "slot"),
                     "bucket": ("bucket_of", "bucket_for", "which_bucket")},
        ref=ref, cases=cases)


@_family("dicts_sets.invert_mapping", ("inverting_and_merging", "setdefault", "many-to-one"), """
    Inverting a dict swaps keys and values, so that a lookup can go the other way. When several keys share
    a value, a plain `{v: k for k, v in d.items()}` silently keeps only the last key; collecting the keys
    in a list per value keeps them all. Sorting each list makes the result independent of insertion order.""")
def _invert_mapping(rng) -> Made:
    sort = pick(rng, (True, False))

    def ref(mapping):
        out: dict = {}
        for k, v in mapping.items():
            out.setdefault(v, []).append(k)
        return {v: sorted(ks) for v, ks in out.items()} if sort else out

    fin = "{$value: sorted($keys) for $value, $keys in $inverted.items()}" if sort else "$inverted"
    bodies = (f"$inverted = {{}}\nfor $key, $value in $mapping.items():\n"
              f"    $inverted.setdefault($value, []).append($key)\nreturn {fin}",
              Body(f"$inverted = defaultdict(list)\nfor $key, $value in $mapping.items():\n"
                   f"    $inverted[$value].append($key)\nreturn {fin if sort else 'dict($inverted)'}",
                   ("from collections import defaultdict",)),
              ("return {$value: " + ("sorted(" if sort else "[")
               + "$key for $key in $mapping if $mapping[$key] == $value" + (")" if sort else "]")
               + " for $value in " + ("set" if sort else "dict.fromkeys") + "($mapping.values())}"))

    def sample():
        keys = rng.sample(_NAMES, rng.randint(2, 7))
        vals = rng.sample(range(1, 10), 3)
        return {k: pick(rng, vals) for k in keys}

    cases = [(sample(),) for _ in range(3)] + [({},), ({"solo": 1},), ({"b": 5, "a": 5},)]
    return _build(
        rng, names=("invert_mapping", "invert_dict", "group_keys_by_value", "reverse_lookup", "keys_for_values"),
        params=[P("mapping", ("mapping", "table", "scores", "assignments"), "dict[str, int]",
                  "The dict to invert; several keys may share a value.")],
        returns=("dict[int, list[str]]", "Each value of `$mapping` mapped to the list of its keys"
                 + (", sorted." if sort else ", in insertion order.")),
        summaries=("Invert `$mapping` so that each value points to every key that had it.",
                   "Swap the keys and values of $mapping, collecting keys that share a value in a list.",
                   "Return the inverse of a dict whose values may repeat."),
        notes=(("The keys of each group are sorted alphabetically." if sort
                else "Keys keep the order in which they appear in the dict."),
                "An empty dict inverts to an empty dict."),
        bodies=bodies,
        local_names={"inverted": ("inverted", "by_value", "inverse", "result"), "key": ("key", "name", "k"),
                     "value": ("value", "v", "number"), "keys": ("keys", "members", "names")},
        ref=ref, cases=cases)


@_family("dicts_sets.merge_with_rule", ("inverting_and_merging", "dict-union", "conflicts"), """
    Merging two dicts is easy until a key occurs in both; then a rule must decide the value: add the two,
    keep the larger or the smaller. Starting from a copy of the first dict and folding in the second one key
    at a time states the rule in one place, and iterating over the union of the key sets (`a.keys() |
    b.keys()`) expresses the same thing in a comprehension. The inputs are left unchanged.""")
def _merge_with_rule(rng) -> Made:
    rule = pick(rng, ("sum", "max", "min"))
    op = {"sum": lambda x, y: x + y, "max": max, "min": min}[rule]
    expr = {"sum": "$left[$key] + $right[$key]", "max": "max($left[$key], $right[$key])",
            "min": "min($left[$key], $right[$key])"}[rule]
    step = {"sum": "$merged[$key] = $merged.get($key, 0) + $value",
            "max": "$merged[$key] = max($merged[$key], $value) if $key in $merged else $value",
            "min": "$merged[$key] = min($merged[$key], $value) if $key in $merged else $value"}[rule]
    word = {"sum": "added together", "max": "the larger value is kept", "min": "the smaller value is kept"}[rule]

    def ref(left, right):
        out = dict(left)
        for k, v in right.items():
            out[k] = op(out[k], v) if k in out else v
        return out

    bodies = (f"$merged = dict($left)\nfor $key, $value in $right.items():\n    {step}\nreturn $merged",
              f"$merged = {{}}\nfor $key in $left.keys() | $right.keys():\n    if $key in $left and $key in $right:\n"
              f"        $merged[$key] = {expr}\n    elif $key in $left:\n        $merged[$key] = $left[$key]\n"
              f"    else:\n        $merged[$key] = $right[$key]\nreturn $merged",
              f"return {{$key: {expr} if $key in $left and $key in $right else $left.get($key, $right.get($key))\n"
              f"        for $key in $left.keys() | $right.keys()}}")

    def sample():
        keys = _words(rng, 6)
        return ({k: rng.randint(-5, 30) for k in keys[:rng.randint(0, 4)]},
                {k: rng.randint(-5, 30) for k in keys[rng.randint(1, 3):]})

    cases = [sample() for _ in range(3)] + [({}, {}), ({"x": 1}, {}), ({}, {"y": -2}), ({"k": 3}, {"k": 8})]
    return _build(
        rng, names=(f"merge_{rule}", "merge_counts" if rule == "sum" else f"merge_keep_{rule}", "combine_dicts",
                    "merge_scores", "merge_with_rule", "join_tallies"),
        params=[P("left", ("left", "first", "base", "a"), "dict[str, int]", "The first dict."),
                P("right", ("right", "second", "other", "b"), "dict[str, int]", "The second dict.")],
        returns=("dict[str, int]", f"Every key of either dict; for a key in both, the values are {word}."),
        summaries=(f"Merge `$left` and `$right` into a new dict; when a key is in both, the values are {word}.",
                   f"Combine two dicts of numbers key by key ({word} for shared keys).",
                   f"Return a dict holding all keys of $left and $right, where shared keys are {word}."),
        notes=("Neither input dict is modified.", "Keys found in only one dict keep their value."),
        bodies=bodies,
        local_names={"merged": ("merged", "result", "combined", "out"), "key": ("key", "k", "name"),
                     "value": ("value", "v", "amount")},
        ref=ref, cases=cases)


@_family("dicts_sets.compare_collections", ("set_operations", "sets", "sorting"), """
    Sets answer membership questions about whole collections at once: `a & b` holds what both have, `a | b`
    what either has, `a - b` what only the first has and `a ^ b` what exactly one has. Converting the lists
    to sets removes repeated values, and sorting the result gives a stable, comparable answer. The same
    questions can be answered with loops and `in`, at the cost of a scan per lookup.""")
def _compare_collections(rng) -> Made:
    op = pick(rng, ("both", "only_first", "exactly_one", "either"))
    sym, method, what, fn = {
        "both": ("&", "intersection", "in both lists", lambda a, b: a & b),
        "only_first": ("-", "difference", "in the first list but not in the second", lambda a, b: a - b),
        "exactly_one": ("^", "symmetric_difference", "in exactly one of the two lists", lambda a, b: a ^ b),
        "either": ("|", "union", "in at least one of the lists", lambda a, b: a | b)}[op]
    cond = {"both": "$x in $second", "only_first": "$x not in $second"}.get(op)

    def ref(first, second):
        return sorted(fn(set(first), set(second)))

    bodies = [f"return sorted(set($first) {sym} set($second))",
              f"$result = set($first).{method}($second)\nreturn sorted($result)"]
    if cond:
        bodies.append(f"$result = []\nfor $x in $first:\n    if {cond} and $x not in $result:\n"
                      "        $result.append($x)\n"
                      f"$result.sort()\nreturn $result")
    else:
        other = "$x not in $first" if op == "exactly_one" else "True"
        keep1 = "$x not in $second" if op == "exactly_one" else "True"
        bodies.append(f"$result = set()\nfor $x in $first:\n    if {keep1}:\n        $result.add($x)\n"
                      f"for $x in $second:\n    if {other}:\n        $result.add($x)\nreturn sorted($result)"
                      .replace("    if True:\n        $result.add($x)", "    $result.add($x)"))
    cases = [(_ints(rng, rng.randint(0, 8), 0, 12), _ints(rng, rng.randint(0, 8), 0, 12)) for _ in range(4)]
    cases += [([], []), ([1, 1, 2], [2, 2, 3]), ([5], [])]
    tag = {"both": "common", "only_first": "missing", "exactly_one": "unshared", "either": "all"}[op]
    return _build(
        rng, names=(f"{tag}_values", f"{tag}_items", f"find_{tag}", f"{tag}_elements", f"{tag}_numbers"),
        params=[P("first", ("first", "left", "xs", "ours"), "list[int]", "The first list (may repeat values)."),
                P("second", ("second", "right", "ys", "theirs"), "list[int]", "The second list (may repeat values).")],
        returns=("list[int]", f"The distinct values {what}, in increasing order."),
        summaries=(f"Return the sorted distinct numbers that are {what}.",
                   f"Compare $first and $second and list the values {what}.",
                   f"Find which values are {what}; each value is reported once."),
        notes=("Duplicates inside a list do not matter.", "The result is sorted in increasing order."),
        bodies=bodies, local_names={"result": ("result", "found", "values", "out"), "x": ("x", "item", "number")},
        ref=ref, cases=cases)


@_family("dicts_sets.jaccard", ("set_operations", "similarity", "floats"), """
    The Jaccard similarity of two sets is the size of their intersection divided by the size of their
    union: 1 for equal sets, 0 for sets with nothing in common. It is a simple way to compare documents by
    the words they use, ignoring order and repetition. The case of two empty sets has to be decided
    explicitly, since the formula would divide by zero.""")
def _jaccard(rng) -> Made:
    digits = pick(rng, (2, 3, 4))
    empty = pick(rng, (1.0, 0.0))
    fold = pick(rng, (True, False))

    def ref(a, b):
        sa, sb = ({w.lower() for w in a}, {w.lower() for w in b}) if fold else (set(a), set(b))
        union = sa | sb
        return empty if not union else round(len(sa & sb) / len(union), digits)

    mk = "{$w.lower() for $w in $a}" if fold else "set($a)"
    mk_b = mk.replace("$a", "$b")
    bodies = (f"$sa, $sb = {mk}, {mk_b}\nif not $sa and not $sb:\n    return {empty!r}\n"
              f"return round(len($sa & $sb) / len($sa | $sb), {digits})",
              f"$sa = {mk}\n$sb = {mk_b}\n$union = $sa.union($sb)\nif not $union:\n    return {empty!r}\n"
              f"$shared = $sa.intersection($sb)\nreturn round(len($shared) / len($union), {digits})",
              f"$sa = {mk}\n$sb = {mk_b}\n$shared = 0\nfor $w in $sa:\n    if $w in $sb:\n        $shared += 1\n"
              f"$total = len($sa) + len($sb) - $shared\n"
              f"return round($shared / $total, {digits}) if $total else {empty!r}")

    def sample():
        pool = rng.sample(_WORDS, 6)
        return ([pick(rng, pool) for _ in range(rng.randint(1, 5))],
                [pick(rng, pool) for _ in range(rng.randint(1, 5))])

    cases = [sample() for _ in range(3)] + [([], []), (["a"], []), (["Sun", "moon"], ["sun", "moon"]),
                                            (["x", "x"], ["x"])]
    return _build(
        rng, names=("jaccard_similarity", "jaccard_index", "word_overlap", "similarity_score", "set_similarity"),
        params=[P("a", ("a", "words_a", "first", "doc1"), "list[str]", "The words of the first document."),
                P("b", ("b", "words_b", "second", "doc2"), "list[str]", "The words of the second document.")],
        returns=("float", f"|A & B| / |A | B| rounded to {digits} decimals, or {empty} when both are empty."),
        summaries=("Return the Jaccard similarity of the word sets of `$a` and `$b`.",
                   "Measure how similar two word lists are: shared distinct words over all distinct words.",
                   f"Compute the Jaccard index of $a and $b, rounded to {digits} decimal places."),
        rule="Words are compared case-insensitively." if fold else "Words are compared exactly (case matters).",
        notes=(f"Two empty lists give {empty}.", "Repeated words count once."),
        bodies=bodies,
        local_names={"sa": ("sa", "set_a", "left"), "sb": ("sb", "set_b", "right"),
                     "union": ("union", "everything", "combined"),
                     "shared": ("shared", "common", "overlap"), "w": ("w", "word", "token"),
                     "total": ("total", "size", "n_all")},
        ref=ref, cases=cases)


_KEYPAD = {"2": "abc", "3": "def", "4": "ghi", "5": "jkl", "6": "mno", "7": "pqrs", "8": "tuv", "9": "wxyz"}


@_family("dicts_sets.keypad_digits", ("lookup_tables", "translate", "mapping"), """
    A lookup table replaces a chain of conditions with data: the phone keypad is a dict from each letter to
    its digit, built once from the groups printed on the keys. `str.maketrans` builds the same table for
    `str.translate`, which maps a whole string in one call. Characters the table does not cover need a rule
    of their own; here digits pass through and anything else is dropped.""")
def _keypad_digits(rng) -> Made:
    def ref(text):
        table = {c: d for d, cs in _KEYPAD.items() for c in cs}
        return "".join(c if c.isdigit() else table.get(c, "") for c in text.lower())

    groups = "{" + ", ".join(f'"{d}": "{cs}"' for d, cs in _KEYPAD.items()) + "}"
    bodies = (f"$groups = {groups}\n"
              "$table = {$letter: $digit for $digit, $letters in $groups.items() for $letter in $letters}\n"
              f"$out = []\nfor $ch in $text.lower():\n    if $ch.isdigit():\n        $out.append($ch)\n"
              f"    elif $ch in $table:\n        $out.append($table[$ch])\nreturn \"\".join($out)",
              '$table = str.maketrans("abcdefghijklmnopqrstuvwxyz", "22233344455566677778889999")\n'
              'return "".join($ch for $ch in $text.lower().translate($table) if $ch.isdigit())',
              f"$groups = {groups}\n$out = \"\"\nfor $ch in $text.lower():\n    if $ch.isdigit():\n"
              "        $out += $ch\n"
              f"        continue\n    for $digit, $letters in $groups.items():\n        if $ch in $letters:\n"
              f"            $out += $digit\n            break\nreturn $out")
    cases = [(pick(rng, ("CALL ", "dial-", "Text ", "")) + pick(rng, _WORDS).upper() + pick(rng,
                                                                                            ("", " 24", "!", "7")),)
             for _ in range(3)]
    cases += [("",), ("hello world",), ("1-800-FLOWERS",), ("?!",), ("Qz",)]
    return _build(
        rng, names=("keypad_digits", "to_phone_digits", "letters_to_keypad", "phoneword_to_number", "dial_digits"),
        params=[P("text", ("text", "word", "phrase", "phoneword"), "str", "Letters, digits and punctuation.")],
        returns=("str", "The digits a caller would press for `$text`."),
        summaries=("Translate `$text` into the digits of a phone keypad (abc on 2, def on 3, ..., wxyz on 9).",
                   "Return the keypad number spelled by $text, for example 'CALL' becomes '2255'.",
                   "Convert a phoneword to the digits of a telephone keypad."),
        rule="Letters are matched case-insensitively; digits are kept; any other character is dropped.",
        bodies=bodies,
        local_names={"groups": ("groups", "keys", "keypad"), "table": ("table", "digit_for", "lookup"),
                     "out": ("out", "digits", "result"), "ch": ("ch", "c", "char"), "digit": ("digit", "key", "d"),
                     "letters": ("letters", "group", "chars"), "letter": ("letter", "l", "symbol")},
        ref=ref, cases=cases)


@_family("dicts_sets.order_total", ("lookup_tables", "dict-get", "aggregation"), """
    A price list is a lookup table from item name to price, and an order says how many of each item were
    bought. The total is the sum of price times quantity; `prices.get(item, 0)` or an `in` test decides what
    happens to items that are not on the price list. Working in whole cents keeps the arithmetic exact.""")
def _order_total(rng) -> Made:
    per_unknown = pick(rng, (0, 0, 100))

    def ref(prices, order):
        return sum(prices.get(item, per_unknown) * qty for item, qty in order.items())

    unknown_doc = ("Items missing from the price list are ignored." if per_unknown == 0 else
                   f"Items missing from the price list cost a flat {per_unknown} cents each.")
    bodies = ("$total = 0\nfor $item, $qty in $order.items():\n    if $item in $prices:\n"
              "        $total += $prices[$item] * $qty\n"
              + (f"    else:\n        $total += {per_unknown} * $qty\n" if per_unknown else "") + "return $total",
              f"return sum($prices.get($item, {per_unknown}) * $qty for $item, $qty in $order.items())",
              f"$total = 0\nfor $item in $order:\n    $price = $prices.get($item, {per_unknown})\n"
              f"    $total += $price * $order[$item]\nreturn $total")

    def sample():
        items = rng.sample(_WORDS, 6)
        prices = {i: rng.randint(50, 999) for i in items[:4]}
        return prices, {i: rng.randint(1, 5) for i in rng.sample(items, rng.randint(1, 4))}

    base = sample()[0]
    cases = [sample() for _ in range(3)] + [(base, {}), ({}, {"ghost": 2}), (base, {next(iter(base)): 0})]
    return _build(
        rng, names=("order_total", "total_cost", "bill_amount", "checkout_total", "price_order"),
        params=[P("prices", ("prices", "price_list", "catalog", "menu"), "dict[str, int]",
                  "Item name to price in cents."),
                P("order", ("order", "basket", "cart", "quantities"), "dict[str, int]",
                  "Item name to quantity bought.")],
        returns=("int", "The total price of the order in cents."),
        summaries=("Return the cost in cents of `$order` according to the price list `$prices`.",
                   "Add up price times quantity for every item in $order.",
                   "Compute the bill for a basket of items, looking every price up in a table."),
        rule=unknown_doc, bodies=bodies,
        local_names={"total": ("total", "amount", "running"), "item": ("item", "name", "product"),
                     "qty": ("qty", "count", "quantity"), "price": ("price", "unit_price", "cost")},
        ref=ref, cases=cases)


@_family("dicts_sets.nested_get", ("nested_dicts", "path-lookup", "defaults"), """
    Configuration and JSON data are dicts inside dicts, and a dotted path such as "db.port" names one value
    deep inside. Following the path one key at a time needs a check at every step: the key may be missing,
    or the value reached may not be a dict at all. Returning a default instead of raising lets callers
    treat every missing setting the same way.""")
def _nested_get(rng) -> Made:
    sep = pick(rng, (".", "/", ":", "."))

    def ref(data, path, default):
        cur = data
        for part in path.split(sep):
            if not isinstance(cur, dict) or part not in cur:
                return default
            cur = cur[part]
        return cur

    bodies = (f"$current = $data\nfor $part in $path.split({sep!r}):\n"
              "    if not isinstance($current, dict) or $part not in $current:\n"
              f"        return $default\n    $current = $current[$part]\nreturn $current",
              f"$current = $data\ntry:\n    for $part in $path.split({sep!r}):\n        $current = $current[$part]\n"
              f"except (KeyError, TypeError):\n    return $default\nreturn $current",
              f"$current = $data\nfor $part in $path.split({sep!r}):\n"
              "    if isinstance($current, dict) and $part in $current:\n"
              f"        $current = $current[$part]\n    else:\n        return $default\nreturn $current")
    data = {"db": {"host": pick(rng, ("localhost", "db.local", "10.0.0.5")), "port": rng.randint(1000, 9999)},
            "app": {"name": pick(rng, _WORDS), "debug": pick(rng, ("yes", "no")),
                    "limits": {"users": rng.randint(1, 500), "size": rng.randint(1, 64)}},
            "version": rng.randint(1, 9)}
    j = sep.join
    default = pick(rng, ("missing", "n/a", "unset"))
    cases = [(data, j(["db", "port"]), default), (data, j(["app", "limits", "users"]), default),
             (data, j(["app", "name"]), default), (data, j(["app", "nope"]), default), ({}, "x", default),
             (data, j(["version", "minor"]), default), (data, "version", default), (data, j(["db", "port", "x"]), "-")]
    return _build(
        rng, names=("get_nested", "lookup_path", "deep_get", "get_by_path", "resolve_setting"),
        params=[P("data", ("data", "config", "tree", "settings"), "dict", "Nested dicts of settings."),
                P("path", ("path", "key_path", "dotted", "address"), "str", f"Keys joined by {sep!r}."),
                P("default", ("default", "fallback", "otherwise"), "str",
                  "What to return when the path is not found.")],
        returns=("object", "The value at `$path`, or `$default`."),
        summaries=(f"Follow the {sep!r}-separated keys of `$path` through the nested dict `$data` and return the value "
                   "found.",
                   f"Look up a value by a path of keys separated by {sep!r}, such as 'a{sep}b{sep}c'.",
                   "Return the entry of $data that $path names, or $default when any step is missing."),
        notes=("A step into a value that is not a dict counts as missing.",),
        bodies=bodies, local_names={"current": ("current", "node", "cursor", "here"), "part": ("part", "key", "step")},
        ref=ref, cases=cases)


@_family("dicts_sets.nested_totals", ("nested_dicts", "aggregation", "dict-comprehension"), """
    A dict of dicts groups records twice, for example team -> member -> points. Summarising it means one
    result per outer key, computed from the inner dict's values: a comprehension over `outer.items()` with
    an aggregate of `inner.values()` reads like the task statement. Empty inner dicts need a defined
    answer (a total of 0, no best member).""")
def _nested_totals(rng) -> Made:
    agg = pick(rng, ("total", "best", "count"))
    limit = rng.randint(10, 60)

    def ref(groups):
        if agg == "total":
            return {g: sum(inner.values()) for g, inner in groups.items()}
        if agg == "count":
            return {g: sum(1 for v in inner.values() if v >= limit) for g, inner in groups.items()}
        return {g: (max(sorted(inner), key=lambda k: inner[k]) if inner else None) for g, inner in groups.items()}

    if agg == "total":
        bodies = ("return {$group: sum($inner.values()) for $group, $inner in $groups.items()}",
                  "$result = {}\nfor $group, $inner in $groups.items():\n    $acc = 0\n    for $v in $inner.values():\n"
                  "        $acc += $v\n    $result[$group] = $acc\nreturn $result")
        ret, ann = "dict[str, int]", "Each group mapped to the sum of its members' points (0 for an empty group)."
        goal = "the total of its members' points"
    elif agg == "count":
        bodies = (f"return {{$group: sum(1 for $v in $inner.values() if $v >= {limit})\n"
                  "        for $group, $inner in $groups.items()}",
                  f"$result = {{}}\nfor $group, $inner in $groups.items():\n    $acc = 0\n"
                  "    for $v in $inner.values():\n"
                  f"        if $v >= {limit}:\n            $acc += 1\n    $result[$group] = $acc\nreturn $result")
        ret, ann = "dict[str, int]", f"Each group mapped to how many members scored at least {limit}."
        goal = f"how many of its members scored {limit} or more"
    else:
        bodies = ("return {$group: max(sorted($inner), key=$inner.get) if $inner else None\n"
                  "        for $group, $inner in $groups.items()}",
                  "$result = {}\nfor $group, $inner in $groups.items():\n    $top = None\n"
                  "    for $name in sorted($inner):\n"
                  "        if $top is None or $inner[$name] > $inner[$top]:\n            $top = $name\n"
                  "    $result[$group] = $top\nreturn $result")
        ret, ann = "dict[str, str | None]", "Each group mapped to its best member's name, or None for an empty group."
        goal = "its best member (ties go to the alphabetically first name)"

    def sample():
        return {t: {n: rng.randint(0, 90) for n in rng.sample(_NAMES, rng.randint(0, 4))}
                for t in rng.sample(("red", "blue", "green", "gold", "north", "south"), rng.randint(1, 4))}

    cases = [(sample(),) for _ in range(3)] + [({},), ({"solo": {}},), ({"a": {"x": limit, "y": limit}},)]
    return _build(
        rng, names=(f"{agg}_per_group", f"group_{agg}s", f"{agg}_by_team", f"summarise_{agg}", f"team_{agg}"),
        params=[P("groups", ("groups", "teams", "departments", "leagues"), "dict[str, dict[str, int]]",
                  "Group name to a dict of member name to points.")],
        returns=(ret, ann),
        summaries=(f"Given nested dicts of group -> member -> points, return for each group {goal}.",
                   f"Summarise $groups group by group: for each one, compute {goal}.",
                   f"For every group of $groups, find {goal}."),
        notes=("Groups with no members still appear in the result.",), bodies=bodies,
        local_names={"result": ("result", "summary", "out"), "group": ("group", "team", "g"),
                     "inner": ("inner", "members", "roster"), "v": ("v", "points", "score"),
                     "acc": ("acc", "running", "tally"), "top": ("top", "best", "leader"),
                     "name": ("name", "member", "who")},
        ref=ref, cases=cases)


# -------------------------------------------------------------------------------------------- arithmetic


@_family("arithmetic.digit_sum_repeat", ("digits", "while-loops", "divmod"), """
    The digits of a number come off one at a time with `divmod(n, 10)`: the remainder is the last digit and
    the quotient is what is left; `str(n)` gives the same digits as characters. Summing the digits again and
    again until one digit remains gives the digital root, and counting the rounds gives the additive
    persistence. The root also has a closed form, 1 + (n - 1) % 9 for n > 0, because a number and its digit
    sum leave the same remainder when divided by 9.""")
def _digit_sum_repeat(rng) -> Made:
    mode = pick(rng, ("root", "persistence"))

    def dsum(n):
        return sum(int(c) for c in str(n))

    def ref(n):
        steps = 0
        while n >= 10:
            n, steps = dsum(n), steps + 1
        return n if mode == "root" else steps

    helper_str = "def $digit_sum($value: int) -> int:\n    return sum(int($d) for $d in str($value))"
    helper_div = ("def $digit_sum($value: int) -> int:\n    $total = 0\n    while $value:\n"
                  "        $value, $d = divmod($value, 10)\n        $total += $d\n    return $total")
    if mode == "root":
        bodies = ("while $n >= 10:\n    $n = sum(int($d) for $d in str($n))\nreturn $n",
                  Body("while $n > 9:\n    $n = $digit_sum($n)\nreturn $n", (), helper_div),
                  "if $n == 0:\n    return 0\nreturn 1 + ($n - 1) % 9")
        names = ("digital_root", "repeated_digit_sum", "reduce_to_one_digit", "single_digit_sum", "collapse_digits")
        ret = ("int", "The single digit left, 0 only for 0.")
        summaries = ("Repeatedly replace `$n` by the sum of its digits until one digit is left, and return it.",
                     "Return the digital root of $n: sum its digits, then the digits of that sum, and so on.",
                     "Compute the one-digit number reached by summing the digits of $n over and over.")
    else:
        bodies = ("$steps = 0\nwhile $n >= 10:\n    $n = sum(int($d) for $d in str($n))\n    $steps += 1\n"
                  "return $steps",
                  Body("$steps = 0\nwhile $n > 9:\n    $n = $digit_sum($n)\n    $steps += 1\nreturn $steps", (),
                       helper_div),
                  Body("if $n < 10:\n    return 0\nreturn 1 + $entry($digit_sum($n))", (), helper_str))
        names = ("additive_persistence", "digit_sum_steps", "rounds_to_one_digit", "count_digit_sum_rounds",
                 "steps_to_single_digit")
        ret = ("int", "How many digit sums it takes to reach a single digit (0 if `$n` already is one).")
        summaries = ("Return how many times the digits of `$n` must be summed before a single digit remains.",
                     "Compute the additive persistence of $n.",
                     "Count the rounds of 'replace the number by its digit sum' needed to get below 10.")
    cases = [(rng.randint(10, 10 ** rng.randint(2, 9)),) for _ in range(4)] + [(0,), (rng.randint(1, 9),), (10,),
                                                                               (199,)]
    return _build(
        rng, names=names, params=[P("n", ("n", "number", "num", "whole"), "int", "A non-negative whole number.")],
        returns=ret, summaries=summaries, notes=("For example 199 -> 19 -> 10 -> 1.",), bodies=bodies,
        local_names={"d": ("d", "digit", "ch"), "steps": ("steps", "rounds", "count"), "value": ("value", "m", "x"),
                     "digit_sum": ("digit_sum", "sum_of_digits", "add_digits"), "total": ("total", "acc", "s")},
        ref=ref, cases=cases)


@_family("arithmetic.digit_occurrences", ("digits", "counting", "str-conversion"), """
    How often does a digit appear when all the numbers from 1 to n are written out? Converting each number
    to text and using `str.count` answers it directly; peeling digits off with `% 10` and `// 10` does the
    same with arithmetic only. Checking small cases by hand (the digit 1 appears twice in 1..10) is the
    quickest way to catch an off-by-one in the range.""")
def _digit_occurrences(rng) -> Made:
    start = pick(rng, (0, 1))

    def ref(n, digit):
        return sum(str(i).count(str(digit)) for i in range(start, n + 1))

    bodies = (f"$total = 0\nfor $i in range({start}, $n + 1):\n    $total += str($i).count(str($digit))\nreturn $total",
              f"return sum(str($i).count(str($digit)) for $i in range({start}, $n + 1))",
              f"$target = str($digit)\n"
              f"return sum(1 for $i in range({start}, $n + 1) for $ch in str($i) if $ch == $target)")
    if start == 1:
        bodies += (f"$total = 0\nfor $i in range(1, $n + 1):\n    $rest = $i\n    while $rest:\n"
                   f"        if $rest % 10 == $digit:\n            $total += 1\n        $rest //= 10\nreturn $total",)
    cases = [(rng.randint(1, 300), rng.randint(0, 9)) for _ in range(4)]
    cases += [(0, 0), (10, 1), (9, 0), (rng.randint(1, 9), rng.randint(1, 9))]
    return _build(
        rng, names=("count_digit_occurrences", "digit_appearances", "times_digit_written", "tally_digit",
                    "occurrences_of_digit"),
        params=[P("n", ("n", "upto", "last", "limit"), "int", "The last number written (n >= 0)."),
                P("digit", ("digit", "d", "wanted", "target_digit"), "int", "The digit to count, 0 to 9.")],
        returns=("int", f"How many times `$digit` is written in the numbers {start} to `$n`."),
        summaries=(f"Count how many times the digit `$digit` appears when writing every number from {start} to `$n`.",
                   f"Return the number of occurrences of $digit among all the digits of {start}, {start + 1}, ..., $n.",
                   f"Write out the integers {start} through $n and count how often $digit shows up."),
        notes=("A number such as 11 counts twice for the digit 1.",), bodies=bodies,
        local_names={"total": ("total", "count", "seen"), "i": ("i", "number", "k"),
                     "target": ("target", "wanted_char", "needle"),
                     "ch": ("ch", "c", "char"), "rest": ("rest", "remaining", "m")},
        ref=ref, cases=cases)


@_family("arithmetic.round_to_multiple", ("rounding_and_division", "floor-division", "modulo"), """
    Rounding down to a multiple of m works with floor division: `x // m * m` is the largest multiple not
    above x, and rounding up is the same trick applied to -x, `-(-x // m) * m`. Python's `//` and `%` floor
    towards minus infinity, so the formulas stay right for negative numbers too, unlike truncating
    `int(x / m)`, which rounds towards zero. Bins, page boundaries and time slots are all computed this way.""")
def _round_to_multiple(rng) -> Made:
    mode = pick(rng, ("down", "up"))
    fn = {"down": lambda x, m: x // m * m, "up": lambda x, m: -(-x // m) * m}[mode]
    bodies = {"down": ("return $x // $m * $m", "return $x - $x % $m",
                       "$q, $r = divmod($x, $m)\nreturn $q * $m"),
              "up": ("return -(-$x // $m) * $m", "return $x + (-$x) % $m",
                     "$q, $r = divmod($x, $m)\nreturn ($q + 1) * $m if $r else $q * $m")}[mode]
    word = {"down": "down to the nearest multiple of `$m` (never above `$x`)",
            "up": "up to the nearest multiple of `$m` (never below `$x`)"}[mode]
    m = pick(rng, (5, 10, 15, 25, 100))
    cases = [(rng.randint(-200, 999), m) for _ in range(4)]
    cases += [(0, m), (m, m), (m // 2, m), (-1, m), (rng.randint(-50, 50), 1)]
    return _build(
        rng, names=(f"round_{mode}_to_multiple", f"snap_{mode}", f"round_{mode}_to_step", f"quantize_{mode}",
                    f"to_multiple_{mode}"),
        params=[P("x", ("x", "value", "amount", "n"), "int", "The number to round; it may be negative."),
                P("m", ("m", "step", "multiple", "base"), "int", "A positive step.")],
        returns=("int", "The rounded value, a multiple of `$m`."),
        summaries=(f"Round `$x` {word}.", f"Return $x rounded {word.replace('`', '')}.",
                   f"Snap an integer {word.replace('`$x`', 'it')}."),
        notes=("A value that already is a multiple stays unchanged.", "Negative numbers follow the same rule."),
        bodies=bodies, local_names={"q": ("q", "quotient", "times"), "r": ("r", "remainder", "rest")},
        ref=lambda x, m: fn(x, m), cases=cases)


@_family("arithmetic.split_evenly", ("rounding_and_division", "divmod", "fair-share"), """
    Splitting a whole amount into n nearly equal whole parts is `divmod(total, n)`: every part gets the
    quotient and the remainder is handed out one unit at a time, so no two parts differ by more than one
    and the parts add up exactly to the total. This is how a bill in cents is split without losing or
    inventing a cent to rounding.""")
def _split_evenly(rng) -> Made:
    big_first = pick(rng, (True, False))

    def ref(total, parts):
        q, r = divmod(total, parts)
        out = [q + 1] * r + [q] * (parts - r)
        return out if big_first else out[::-1]

    if big_first:
        bodies = ("$q, $r = divmod($total, $parts)\nreturn [$q + 1] * $r + [$q] * ($parts - $r)",
                  "$q, $r = divmod($total, $parts)\nreturn [$q + 1 if $i < $r else $q for $i in range($parts)]",
                  "$shares = [$total // $parts] * $parts\nfor $i in range($total % $parts):\n    $shares[$i] += 1\n"
                  "return $shares")
    else:
        bodies = ("$q, $r = divmod($total, $parts)\nreturn [$q] * ($parts - $r) + [$q + 1] * $r",
                  "$q, $r = divmod($total, $parts)\n"
                  "return [$q + 1 if $i >= $parts - $r else $q for $i in range($parts)]",
                  "$shares = [$total // $parts] * $parts\nfor $i in range($total % $parts):\n"
                  "    $shares[-1 - $i] += 1\n"
                  "return $shares")
    cases = [(rng.randint(0, 5000), rng.randint(1, 7)) for _ in range(4)]
    cases += [(0, 3), (7, 1), (2, 5), (12, 4)]
    where = "first" if big_first else "last"
    return _build(
        rng, names=("split_evenly", "fair_shares", "split_bill", "divide_amount", "share_out"),
        params=[P("total", ("total", "amount", "cents", "budget"), "int", "The whole amount to split (>= 0)."),
                P("parts", ("parts", "people", "n", "ways"), "int", "How many shares to make (>= 1).")],
        returns=("list[int]", f"`$parts` whole shares summing to `$total`, the larger ones {where}."),
        summaries=("Split `$total` into `$parts` whole shares that differ by at most one.",
                   "Divide an amount of cents among $parts people as fairly as possible.",
                   f"Return the fair split of $total into $parts integers, with any extra units given to the {where} "
                   "shares."),
        notes=("The shares always add up to exactly `$total`.",), bodies=bodies,
        local_names={"q": ("q", "base", "each"), "r": ("r", "extra", "left_over"), "i": ("i", "k", "idx"),
                     "shares": ("shares", "result", "portions")},
        ref=ref, cases=cases)


@_family("arithmetic.trimmed_mean", ("averages_and_statistics", "sorting", "robust-mean"), """
    A trimmed mean drops the k smallest and the k largest values before averaging, so a few extreme
    readings cannot drag the result around; judges' scores are often averaged this way. Sorting first puts
    the extremes at the two ends, where a slice removes them. When nothing is left after trimming there is
    no mean, and the function says so with None.""")
def _trimmed_mean(rng) -> Made:
    digits = pick(rng, (1, 2, 2, 3))
    k = pick(rng, (1, 1, 2))

    def ref(values, k):
        if len(values) <= 2 * k:
            return None
        kept = sorted(values)[k:len(values) - k]
        return round(sum(kept) / len(kept), digits)

    bodies = (f"if len($values) <= 2 * $k:\n    return None\n$kept = sorted($values)[$k:len($values) - $k]\n"
              f"return round(sum($kept) / len($kept), {digits})",
              Body("if len($values) <= 2 * $k:\n    return None\n"
                   f"return round(statistics.mean(sorted($values)[$k:len($values) - $k]), {digits})",
                   ("import statistics",)),
              f"$kept = list($values)\nif len($kept) <= 2 * $k:\n    return None\nfor _ in range($k):\n"
              "    $kept.remove(min($kept))\n    $kept.remove(max($kept))\n"
              f"return round(sum($kept) / len($kept), {digits})")
    cases = [(_ints(rng, rng.randint(3, 9), 0, 100),) for _ in range(3)]
    cases += [([],), ([5],), ([1, 2, 3, 100],), (_ints(rng, 7, -20, 20), KW(k=3)), ([4, 4, 4, 4, 4, 4], KW(k=2))]
    return _build(
        rng, names=("trimmed_mean", "truncated_average", "mean_without_extremes", "robust_average", "judges_score"),
        params=[P("values", ("values", "scores", "readings", "samples"), "list[int]", "The numbers to average."),
                P("k", ("k", "trim", "cut", "drop_each"), "int", "How many values to drop at each end.", k)],
        returns=("float | None", f"The mean of the remaining values rounded to {digits} decimals, or None."),
        summaries=("Return the mean of `$values` after removing the `$k` smallest and the `$k` largest values.",
                   f"Average $values without their $k lowest and $k highest entries, rounded to {digits} places.",
                   "Compute a trimmed mean, a mean that ignores the extremes at both ends."),
        notes=("If no value is left after trimming, return None.", "The input list is not modified."),
        bodies=bodies, local_names={"kept": ("kept", "middle", "core", "rest")}, ref=ref, cases=cases)


@_family("arithmetic.weighted_average", ("averages_and_statistics", "weights", "zip"), """
    A weighted average lets some values count more than others: each value is multiplied by its weight,
    the products are added up, and the sum is divided by the total weight instead of by the number of
    values. A course mark from exam scores and credit points, or an average price from prices and
    quantities, is computed this way. When the weights add up to zero there is no average to report.""")
def _weighted_average(rng) -> Made:
    digits = pick(rng, (1, 2, 2, 3))

    def ref(values, weights):
        total = sum(weights)
        if total == 0:
            return None
        return round(sum(v * w for v, w in zip(values, weights)) / total, digits)

    bodies = (f"$den = sum($weights)\nif $den == 0:\n    return None\n"
              f"return round(sum($v * $w for $v, $w in zip($values, $weights)) / $den, {digits})",
              f"$num = 0\n$den = 0\nfor $v, $w in zip($values, $weights):\n    $num += $v * $w\n    $den += $w\n"
              f"if $den == 0:\n    return None\nreturn round($num / $den, {digits})",
              f"if sum($weights) == 0:\n    return None\n$num = 0\nfor $i in range(len($values)):\n"
              f"    $num += $values[$i] * $weights[$i]\nreturn round($num / sum($weights), {digits})")
    cases = []
    for _ in range(4):
        n = rng.randint(1, 6)
        cases.append((_ints(rng, n, 0, 100), _ints(rng, n, 0, 5)))
    cases += [([], []), ([5], [0]), ([70, 90], [1, 3]), ([3], [2]), ([1, 2, 3], [1, 1, 1])]
    return _build(
        rng, names=("weighted_average", "weighted_mean", "average_by_weight", "mean_with_weights",
                    "credit_weighted_mean"),
        params=[P("values", ("values", "scores", "marks", "prices"), "list[int]", "The values to average."),
                P("weights", ("weights", "credit_points", "counts", "importance"), "list[int]",
                  "One non-negative weight per value.")],
        returns=("float | None", f"The weighted average rounded to {digits} decimal{'s' if digits > 1 else ''}, "
                                 "or None when the weights add up to 0."),
        summaries=("Return the average of `$values` where each value counts as often as its weight in `$weights`.",
                   "Compute sum(value * weight) / sum(weight) for the paired lists $values and $weights.",
                   f"Find the weighted mean of $values, rounded to {digits} decimal place{'s' if digits > 1 else ''}."),
        rule="If the weights add up to 0 (for example both lists are empty), return None.",
        notes=("The two lists have the same length.", "A weight of 0 means the value is ignored."), bodies=bodies,
        local_names={"den": ("den", "total_weight", "weight_sum"), "num": ("num", "weighted_sum", "acc"),
                     "v": ("v", "value", "x"), "w": ("w", "weight", "k"), "i": ("i", "idx", "pos")},
        ref=ref, cases=cases)


@_family("arithmetic.rect_overlap", ("geometry", "rectangles", "min-max"), """
    Two axis-aligned rectangles overlap in a rectangle of their own: its left edge is the larger of the two
    left edges and its right edge the smaller of the two right edges, and the same holds for the bottom and
    top. If the left edge ends up at or beyond the right edge there is no overlap, which `max(0, ...)`
    expresses without an `if`. Splitting the problem into one interval overlap per axis keeps it short.""")
def _rect_overlap(rng) -> Made:
    def ref(a, b):
        w = min(a[2], b[2]) - max(a[0], b[0])
        h = min(a[3], b[3]) - max(a[1], b[1])
        return max(0, w) * max(0, h)

    helper = ("def $span($lo1: int, $hi1: int, $lo2: int, $hi2: int) -> int:\n"
              "    return max(0, min($hi1, $hi2) - max($lo1, $lo2))")
    bodies = ("$width = min($a[2], $b[2]) - max($a[0], $b[0])\n$height = min($a[3], $b[3]) - max($a[1], $b[1])\n"
              "return max(0, $width) * max(0, $height)",
              "$ax1, $ay1, $ax2, $ay2 = $a\n$bx1, $by1, $bx2, $by2 = $b\n"
              "if $ax2 <= $bx1 or $bx2 <= $ax1 or $ay2 <= $by1 or $by2 <= $ay1:\n"
              "    return 0\nreturn (min($ax2, $bx2) - max($ax1, $bx1)) * (min($ay2, $by2) - max($ay1, $by1))",
              Body("return $span($a[0], $a[2], $b[0], $b[2]) * $span($a[1], $a[3], $b[1], $b[3])", (), helper))

    def rect():
        x, y = rng.randint(-3, 6), rng.randint(-3, 6)
        return (x, y, x + rng.randint(2, 8), y + rng.randint(2, 8))

    r = rect()
    cases = [(rect(), rect()) for _ in range(4)]
    cases += [(r, r), ((0, 0, 2, 2), (2, 0, 4, 2)), ((0, 0, 10, 10), (3, 3, 4, 5)), ((0, 0, 1, 1), (5, 5, 6, 6))]
    return _build(
        rng, names=("overlap_area", "intersection_area", "shared_area", "rect_overlap", "common_area"),
        params=[P("a", ("a", "first", "rect_a", "box1"), "tuple[int, int, int, int]",
                  "The first rectangle as (x1, y1, x2, y2) with x1 < x2 and y1 < y2."),
                P("b", ("b", "second", "rect_b", "box2"), "tuple[int, int, int, int]",
                  "The second rectangle, same form.")],
        returns=("int", "The area both rectangles cover; 0 when they only touch or are apart."),
        summaries=("Return the area of the overlap of the axis-aligned rectangles `$a` and `$b`.",
                   "Compute how much area two axis-aligned rectangles have in common.",
                   "Find the size of the intersection of $a and $b, each given by two opposite corners."),
        notes=("Rectangles that share only an edge overlap in area 0.",), bodies=bodies,
        local_names={"width": ("width", "w", "dx"), "height": ("height", "h", "dy"),
                     "span": ("overlap_1d", "span", "shared_length"),
                     "lo1": ("lo1", "start1", "a_lo"), "hi1": ("hi1", "end1", "a_hi"), "lo2": ("lo2", "start2", "b_lo"),
                     "hi2": ("hi2", "end2", "b_hi"), "ax1": ("ax1",), "ay1": ("ay1",), "ax2": ("ax2",), "ay2": ("ay2",),
                     "bx1": ("bx1",), "by1": ("by1",), "bx2": ("bx2",), "by2": ("by2",)},
        ref=ref, cases=cases)


@_family("arithmetic.polygon_area", ("geometry", "shoelace", "zip"), """
    The shoelace formula gives the area of any simple polygon from its corners in order: add up
    x_i * y_(i+1) - x_(i+1) * y_i over every edge, wrapping from the last corner back to the first, and
    halve the absolute value. The sign of the sum tells the orientation (positive for counter-clockwise),
    which is why the absolute value is taken. Pairing each point with the next one is a job for `zip`.""")
def _polygon_area(rng) -> Made:
    def ref(points):
        n = len(points)
        if n < 3:
            return 0.0
        s = sum(points[i][0] * points[(i + 1) % n][1] - points[(i + 1) % n][0] * points[i][1] for i in range(n))
        return abs(s) / 2

    bodies = ("$n = len($points)\nif $n < 3:\n    return 0.0\n$twice = 0\nfor $i in range($n):\n"
              "    $x1, $y1 = $points[$i]\n"
              "    $x2, $y2 = $points[($i + 1) % $n]\n    $twice += $x1 * $y2 - $x2 * $y1\nreturn abs($twice) / 2",
              "if len($points) < 3:\n    return 0.0\n$twice = sum($x1 * $y2 - $x2 * $y1 for ($x1, $y1), ($x2, $y2) in "
              "zip($points, $points[1:] + $points[:1]))\nreturn abs($twice) / 2",
              "if len($points) < 3:\n    return 0.0\n$xs = [$p[0] for $p in $points]\n$ys = [$p[1] for $p in $points]\n"
              "$twice = sum($xs[$i] * $ys[$i - 1] - $xs[$i - 1] * $ys[$i] for $i in range(len($points)))\n"
              "return abs($twice) / 2")

    def poly():
        k = rng.randint(3, 6)
        angles = sorted(rng.sample(range(0, 360, 15), k))
        r = rng.randint(2, 9)
        return [(round(r * math.cos(math.radians(a))), round(r * math.sin(math.radians(a)))) for a in angles]

    cases = [(poly(),) for _ in range(3)]
    cases += [([],), ([(0, 0), (4, 0)],), ([(0, 0), (4, 0), (4, 3)],), ([(0, 0), (0, 2), (2, 2), (2, 0)],),
              ([(1, 1), (2, 2), (3, 3)],)]
    return _build(
        rng, names=("polygon_area", "shoelace_area", "area_of_polygon", "enclosed_area", "lattice_polygon_area"),
        params=[P("points", ("points", "vertices", "corners", "outline"), "list[tuple[int, int]]",
                  "The polygon's corners in order (clockwise or counter-clockwise).")],
        returns=("float", "The enclosed area; 0.0 for fewer than three points."),
        summaries=("Return the area of the polygon whose corners are `$points`, using the shoelace formula.",
                   "Compute the area enclosed by the closed path through $points (the last corner joins the first).",
                   "Find the area of a simple polygon given by its vertices in order."),
        notes=("The order of the corners may be clockwise or counter-clockwise.", "Collinear points enclose no area."),
        bodies=bodies,
        local_names={"n": ("n", "count", "k"), "twice": ("twice", "total", "acc"), "i": ("i", "j", "idx"),
                                    "p": ("p", "pt", "corner")},
        consts=dict(zip(("x1", "y1", "x2", "y2", "xs", "ys"), pick(rng, (
            ("x1", "y1", "x2", "y2", "xs", "ys"), ("xa", "ya", "xb", "yb", "x_values", "y_values"))))),
        ref=ref, cases=cases)


_TEMP_TO_C = {"C": lambda v: v, "F": lambda v: (v - 32) * 5 / 9, "K": lambda v: v - 273.15}
_TEMP_FROM_C = {"C": lambda c: c, "F": lambda c: c * 9 / 5 + 32, "K": lambda c: c + 273.15}


@_family("arithmetic.temperature", ("unit_conversion", "temperature", "dispatch"), """
    Converting between many units is simpler through one base unit: every input is first turned into
    Celsius and then Celsius into the target, so n units need 2n formulas instead of n * n. Fahrenheit and
    Celsius differ in both offset and scale (F = C * 9 / 5 + 32), Kelvin only in offset (K = C + 273.15).
    Rounding the result keeps floating-point noise out of the answer.""")
def _temperature(rng) -> Made:
    digits = pick(rng, (1, 2))
    words = pick(rng, (False, True))
    unit_names = {"C": "celsius", "F": "fahrenheit", "K": "kelvin"} if words else {u: u for u in "CFK"}
    rev = {v: k for k, v in unit_names.items()}

    def ref(value, src, dst):
        return round(_TEMP_FROM_C[rev[dst]](_TEMP_TO_C[rev[src]](value)), digits)

    c, f, k = (repr(unit_names[u]) for u in "CFK")
    chain = (f"if $src == {f}:\n    $celsius = ($value - 32) * 5 / 9\nelif $src == {k}:\n"
             "    $celsius = $value - 273.15\n"
             f"else:\n    $celsius = $value\nif $dst == {f}:\n    $result = $celsius * 9 / 5 + 32\nelif $dst == {k}:\n"
             f"    $result = $celsius + 273.15\nelse:\n    $result = $celsius\nreturn round($result, {digits})")
    tables = (f"$to_celsius = {{\n    {c}: lambda $t: $t,\n    {f}: lambda $t: ($t - 32) * 5 / 9,\n"
              f"    {k}: lambda $t: $t - 273.15,\n}}\n"
              f"$from_celsius = {{\n    {c}: lambda $t: $t,\n    {f}: lambda $t: $t * 9 / 5 + 32,\n"
              f"    {k}: lambda $t: $t + 273.15,\n}}\n"
              f"return round($from_celsius[$dst]($to_celsius[$src]($value)), {digits})")
    helpers = Body(f"return round($from_c($to_c($value, $src), $dst), {digits})", (),
                   f"def $to_c($t: float, $u: str) -> float:\n    if $u == {f}:\n        return ($t - 32) * 5 / 9\n"
                   f"    if $u == {k}:\n        return $t - 273.15\n    return $t\n\n\n"
                   f"def $from_c($t: float, $u: str) -> float:\n    if $u == {f}:\n        return $t * 9 / 5 + 32\n"
                   f"    if $u == {k}:\n        return $t + 273.15\n    return $t")
    u = list(unit_names.values())
    cases = [(pick(rng, (float(rng.randint(-40, 120)), round(rng.uniform(-50, 400), 1))), pick(rng, u), pick(rng, u))
             for _ in range(4)]
    cases += [(100.0, u[0], u[1]), (-40.0, u[1], u[0]), (0.0, u[2], u[0]), (0.0, u[0], u[0]), (212.0, u[1], u[2])]
    listing = ", ".join(repr(x) for x in u)
    return _build(
        rng,
        names=("convert_temperature", "temperature_convert", "to_other_scale", "change_temperature_unit",
               "temp_convert"),
        params=[P("value", ("value", "temp", "degrees", "reading"), "float", "The temperature to convert."),
                P("src", ("src", "from_unit", "source", "unit_in"), "str", f"Its unit: one of {listing}."),
                P("dst", ("dst", "to_unit", "target", "unit_out"), "str", f"The unit wanted: one of {listing}.")],
        returns=("float", f"The converted temperature rounded to {digits} decimal place{'s' if digits > 1 else ''}."),
        summaries=(f"Convert the temperature `$value` from `$src` to `$dst` (units {listing}).",
                   "Return $value, measured in $src, expressed in $dst.",
                   "Change a temperature from one scale to another, going through Celsius."),
        notes=(f"The result is rounded to {digits} decimal{'s' if digits > 1 else ''}.",),
        bodies=(chain, tables, helpers),
        local_names={"celsius": ("celsius", "in_c", "base"), "result": ("result", "converted", "out"),
                     "to_celsius": ("to_celsius", "to_c_table", "inbound"),
                     "from_celsius": ("from_celsius", "from_c_table", "outbound"),
                     "t": ("t", "x", "deg"), "to_c": ("to_celsius_", "as_celsius"),
                     "from_c": ("from_celsius_", "celsius_to"),
                     "u": ("u", "unit", "scale")},
        ref=ref, cases=cases)


_TO_METRES = {"mm": 0.001, "cm": 0.01, "m": 1.0, "km": 1000.0, "in": 0.0254, "ft": 0.3048, "yd": 0.9144, "mi": 1609.344}


@_family("arithmetic.length_units", ("unit_conversion", "lookup-table", "floats"), """
    A table of factors to one base unit handles any pair of length units: multiply by the source unit's
    factor to get metres, divide by the target unit's factor to leave metres. The imperial units are
    defined exactly in metres (an inch is 0.0254 m), so the table is exact and only floating-point rounding
    remains, which the final `round` hides.""")
def _length_units(rng) -> Made:
    digits = pick(rng, (2, 3, 4))
    units = sorted(rng.sample(sorted(_TO_METRES), rng.randint(4, 6)), key=_TO_METRES.get)
    table = {u: _TO_METRES[u] for u in units}

    def ref(value, src, dst):
        return round(value * table[src] / table[dst], digits)

    lit = "{" + ", ".join(f"{u!r}: {f!r}" for u, f in table.items()) + "}"
    chain = "".join(f"{'if' if i == 0 else 'elif'} $u == {u!r}:\n        return {f!r}\n    "
                    for i, (u, f) in enumerate(table.items()))
    bodies = (f"$factors = {lit}\nreturn round($value * $factors[$src] / $factors[$dst], {digits})",
              f"$factors = {lit}\n$metres = $value * $factors[$src]\nreturn round($metres / $factors[$dst], {digits})",
              Body(f"return round($value * $factor($src) / $factor($dst), {digits})", (),
                   f"def $factor($u: str) -> float:\n    {chain.rstrip()}\n"
                   f"    raise ValueError(f\"unknown unit: {{$u}}\")"))
    cases = [(pick(rng, (rng.randint(1, 500), round(rng.uniform(0, 100), 2))), pick(rng, units),
              pick(rng, units)) for _ in range(4)]
    cases += [(0, units[0], units[-1]), (1, units[-1], units[0]), (12, units[1], units[1])]
    listing = ", ".join(units)
    return _build(
        rng, names=("convert_length", "length_convert", "change_length_unit", "to_unit", "rescale_length"),
        params=[P("value", ("value", "length", "distance", "amount"), "float", "The length to convert."),
                P("src", ("src", "from_unit", "source", "unit_in"), "str", f"Its unit, one of {listing}."),
                P("dst", ("dst", "to_unit", "target", "unit_out"), "str", f"The unit wanted, one of {listing}.")],
        returns=("float", f"The length in `$dst`, rounded to {digits} decimals."),
        summaries=("Convert the length `$value` from the unit `$src` to the unit `$dst`.",
                   f"Express $value $src in $dst; the supported units are {listing}.",
                   "Change a length from one unit to another using a table of factors to metres."),
        notes=("Every conversion goes through metres.",), bodies=bodies,
        local_names={"factors": ("factors", "to_metres", "metres_per"), "metres": ("metres", "in_metres", "base"),
                     "factor": ("factor", "metres_in", "unit_factor"), "u": ("u", "unit", "name")},
        ref=ref, cases=cases)


@_family("arithmetic.terms_to_reach", ("sequences_and_series", "partial-sums", "while-loops"), """
    A partial sum adds up the first n terms of a sequence; asking how many terms it takes for the sum to
    reach a target turns the question around. A `while` loop that adds one term at a time and counts them
    answers it for any sequence whose terms are positive, since the running total then only grows. With
    `itertools.count` and `itertools.accumulate` the same search becomes a lazy pipeline of running totals
    in which `next` finds the first one that is large enough.""")
def _terms_to_reach(rng) -> Made:
    kind = pick(rng, ("arithmetic", "geometric"))
    grow = "+" if kind == "arithmetic" else "*"

    def ref(first, step, target):
        n, total, term = 0, 0, first
        while total < target:
            total += term
            n += 1
            term = term + step if kind == "arithmetic" else term * step
        return n

    term_k = "$first + $k * $step" if kind == "arithmetic" else "$first * $step ** $k"
    term_n = "$first + $n * $step" if kind == "arithmetic" else "$first * $step ** $n"
    bodies = (f"$n = 0\n$total = 0\n$term = $first\nwhile $total < $target:\n    $total += $term\n    $n += 1\n"
              f"    $term {grow}= $step\nreturn $n",
              Body(f"if $target <= 0:\n    return 0\n$terms = ({term_k} for $k in count())\n"
                   f"return next($n for $n, $total in enumerate(accumulate($terms), start=1) if $total >= $target)",
                   ("from itertools import accumulate, count",)),
              f"$n = 0\n$total = 0\nwhile $total < $target:\n    $total += {term_n}\n    $n += 1\nreturn $n")
    if kind == "arithmetic":
        p2 = P("step", ("step", "diff", "d", "increment"), "int", "The difference between terms (>= 0).")
        cases = [(rng.randint(1, 10), rng.randint(0, 5), rng.randint(1, 500)) for _ in range(4)]
        cases += [(3, 2, 0), (4, 1, 4), (1, 1, 5050), (5, 0, 12), (2, 3, -7)]
        seq = "$first, $first + $step, $first + 2 * $step, ..."
    else:
        p2 = P("step", ("ratio", "factor", "r", "multiplier"), "int", "The ratio between terms (>= 2).")
        cases = [(rng.randint(1, 5), rng.randint(2, 4), rng.randint(1, 10 ** 6)) for _ in range(4)]
        cases += [(3, 2, 0), (1, 2, 1), (1, 2, 1024), (5, 3, 6), (2, 10, 10 ** 9)]
        seq = "$first, $first * $step, $first * $step ** 2, ..."
    return _build(
        rng, names=("terms_needed", "terms_to_reach", "count_terms_until", "min_terms_for_sum", "series_length_for"),
        params=[P("first", ("first", "a", "start", "initial"), "int", "The first term (>= 1)."), p2,
                P("target", ("target", "goal", "limit", "at_least"), "int", "The sum to reach.")],
        returns=("int", "The smallest n such that the first n terms add up to at least `$target`."),
        summaries=(f"Return how many terms of the {kind} sequence {seq} must be added before the sum reaches "
                   "`$target`.",
                   f"Count the terms of {'an' if kind == 'arithmetic' else 'a'} {kind} sequence starting at $first "
                   "needed for the running sum to be "
                   f">= $target.",
                   f"Find the shortest prefix of the {kind} sequence whose sum is at least $target."),
        rule="A target of 0 or less is reached with no terms at all.",
        notes=("Every term is positive, so the running sum keeps growing.",), bodies=bodies,
        local_names={"n": ("n", "count", "used"), "total": ("total", "running", "acc"),
                     "term": ("term", "current", "value"),
                     "terms": ("terms", "sequence", "stream"), "k": ("k", "i", "j")},
        ref=ref, cases=cases)


# kind: (the k-th number as code, the increment from the (k-1)-th to the k-th as code, the k-th number)
_FIGURATE = {"triangular": ("k * (k + 1) // 2", "k", lambda k: k * (k + 1) // 2),
             "square": ("k * k", "2 * k - 1", lambda k: k * k),
             "pentagonal": ("k * (3 * k - 1) // 2", "3 * k - 2", lambda k: k * (3 * k - 1) // 2),
             "hexagonal": ("k * (2 * k - 1)", "4 * k - 3", lambda k: k * (2 * k - 1))}


@_family("arithmetic.figurate_numbers", ("sequences_and_series", "closed-form", "comprehensions"), """
    Figurate numbers count the dots in growing regular shapes: triangles (1, 3, 6, 10), squares (1, 4, 9),
    pentagons (1, 5, 12, 22) and hexagons (1, 6, 15, 28). Each has a closed formula in k, and each is also
    a running sum whose increments grow by a fixed amount (1, 2, 3, 4 more dots per layer), so a loop that
    adds the next increment produces the same sequence without the formula.""")
def _figurate_numbers(rng) -> Made:
    kind = pick(rng, tuple(_FIGURATE))
    formula, step, nth = _FIGURATE[kind]

    def ref(count):
        return [nth(k) for k in range(1, count + 1)]

    f_ = formula.replace("k", "$k")
    bodies = (f"return [{f_} for $k in range(1, $count + 1)]",
              f"$result = []\n$total = 0\nfor $k in range(1, $count + 1):\n    $total += {step.replace('k', '$k')}\n"
              f"    $result.append($total)\nreturn $result",
              f"$result = []\nfor $k in range(1, $count + 1):\n    $result.append({f_})\nreturn $result")
    cases = [(rng.randint(2, 15),) for _ in range(3)] + [(0,), (1,), (5,)]
    return _build(
        rng, names=(f"{kind}_numbers", f"first_{kind}_numbers", f"{kind}_sequence", f"list_{kind}", f"{kind}_terms"),
        params=[P("count", ("count", "n", "how_many", "length"), "int", "How many numbers to produce (>= 0).")],
        returns=("list[int]", f"The first `$count` {kind} numbers, starting with 1."),
        summaries=(f"Return the first `$count` {kind} numbers.",
                   f"Build the list of the first $count {kind} numbers (the k-th is {formula}).",
                   f"Generate {kind} numbers 1, {', '.join(str(nth(k)) for k in (2, 3, 4))}, ... up to the $count-th."),
        notes=("A count of 0 gives an empty list.",), bodies=bodies,
        local_names={"k": ("k", "i", "layer"), "result": ("result", "numbers", "out"),
                     "total": ("total", "dots", "running")},
        ref=ref, cases=cases)


# ----------------------------------------------------------------------------------------- number_theory

_PRIME_HELPER = """
    def $is_prime($k: int) -> bool:
        if $k < 2:
            return False
        $d = 2
        while $d * $d <= $k:
            if $k % $d == 0:
                return False
            $d += 1
        return True"""


def _is_prime(k: int) -> bool:
    return k >= 2 and all(k % d for d in range(2, math.isqrt(k) + 1))


@_family("number_theory.primes_in_range", ("primes", "sieve", "trial-division"), """
    A number is prime when it is at least 2 and no number from 2 up to its square root divides it; checking
    beyond the square root is wasted work, because a factor above it pairs with one below it. To list many
    primes at once, the sieve of Eratosthenes crosses out the multiples of each prime in a table of flags,
    which costs far less than testing every candidate separately.""")
def _primes_in_range(rng) -> Made:
    def ref(lo, hi):
        return [k for k in range(lo, hi + 1) if _is_prime(k)]

    sieve = _code("""
        if $hi < 2:
            return []
        $flags = [True] * ($hi + 1)
        $flags[0] = $flags[1] = False
        for $p in range(2, math.isqrt($hi) + 1):
            if $flags[$p]:
                for $multiple in range($p * $p, $hi + 1, $p):
                    $flags[$multiple] = False
        return [$k for $k in range(max($lo, 2), $hi + 1) if $flags[$k]]""")
    bodies = (Body("return [$k for $k in range($lo, $hi + 1) if $is_prime($k)]", (), _PRIME_HELPER),
              Body(sieve, ("import math",)),
              "$found = []\nfor $k in range(max($lo, 2), $hi + 1):\n"
              "    if all($k % $d != 0 for $d in range(2, int($k ** 0.5) + 1)):\n"
              "        $found.append($k)\nreturn $found")
    lo = rng.randint(0, 80)
    cases = [(lo, lo + rng.randint(5, 60)), (rng.randint(100, 200), rng.randint(200, 260)),
             (rng.randint(0, 10), rng.randint(10, 40))]
    cases += [(0, 1), (2, 2), (24, 28), (10, 5), (1, 10)]
    return _build(
        rng, names=("primes_between", "primes_in_range", "list_primes", "find_primes", "collect_primes"),
        params=[P("lo", ("lo", "start", "low", "first"), "int", "The lower end (inclusive)."),
                P("hi", ("hi", "stop", "high", "last"), "int", "The upper end (inclusive).")],
        returns=("list[int]", "The primes p with `$lo` <= p <= `$hi`, in increasing order."),
        summaries=("Return every prime number between `$lo` and `$hi`, both ends included.",
                   "List the primes in the closed interval [$lo, $hi].",
                   "Find all primes from $lo up to and including $hi."),
        notes=("An empty range ($lo > $hi) gives an empty list.", "0 and 1 are not prime."),
        bodies=bodies,
        local_names={"is_prime": ("is_prime", "prime", "check_prime"), "k": ("k", "n", "candidate"),
                     "d": ("d", "divisor", "f"),
                     "flags": ("flags", "is_candidate", "sieve"), "p": ("p", "base", "q"),
                     "multiple": ("multiple", "m", "j"),
                     "found": ("found", "primes", "result")},
        ref=ref, cases=cases)


@_family("number_theory.nth_prime", ("primes", "counting", "while-loops"), """
    The n-th prime has no formula, so it is found by counting: test candidates in order and stop when the
    n-th prime is reached. Testing a candidate only against the primes found so far (up to its square root)
    is enough, because every composite number has a prime factor no larger than its square root. Starting
    the count at 1 for the prime 2 must be stated, since off-by-one errors hide here.""")
def _nth_prime(rng) -> Made:
    def ref(n):
        count, k = 0, 1
        while count < n:
            k += 1
            count += _is_prime(k)
        return k

    bodies = (Body("$count = 0\n$k = 1\nwhile $count < $n:\n    $k += 1\n    if $is_prime($k):\n        $count += 1\n"
                   "return $k",
                   (), _PRIME_HELPER),
              "$primes = []\n$k = 2\nwhile len($primes) < $n:\n"
              "    if all($k % $p for $p in $primes if $p * $p <= $k):\n"
              "        $primes.append($k)\n    $k += 1\nreturn $primes[-1]",
              "$primes = [2]\n$k = 3\nwhile len($primes) < $n:\n    $is_new = True\n    for $p in $primes:\n"
              "        if $p * $p > $k:\n            break\n        if $k % $p == 0:\n            $is_new = False\n"
              "            break\n"
              "    if $is_new:\n        $primes.append($k)\n    $k += 2\nreturn $primes[$n - 1]")
    cases = [(rng.randint(2, 120),) for _ in range(4)] + [(1,), (2,), (3,), (10,)]
    return _build(
        rng, names=("nth_prime", "prime_number_at", "kth_prime", "find_nth_prime", "prime_by_index"),
        params=[P("n", ("n", "index", "position", "k_th"), "int",
                  "Which prime to return, counting 2 as the first (n >= 1).")],
        returns=("int", "The `$n`-th prime number."),
        summaries=("Return the `$n`-th prime number, where the first prime is 2.",
                   "Find the prime at position $n in the sequence 2, 3, 5, 7, 11, ...",
                   "Count primes from 2 upward and return the $n-th one."),
        notes=("Positions start at 1: position 1 is 2 and position 4 is 7.",), bodies=bodies,
        local_names={"count": ("count", "found", "seen"), "k": ("k", "candidate", "num"),
                     "is_prime": ("is_prime", "prime", "check_prime"),
                     "d": ("d", "divisor", "f"), "primes": ("primes", "known", "found_primes"),
                     "p": ("p", "q", "prime_"),
                     "is_new": ("is_new", "ok", "prime_flag")},
        ref=ref, cases=cases)


@_family("number_theory.factor_exponents", ("primes", "factorisation", "trial-division"), """
    Every whole number above 1 is a product of primes in exactly one way, for example 360 = 2^3 * 3^2 * 5.
    Trial division finds the factorisation: divide out 2 as often as it goes, then 3, and so on; a divisor
    found this way is always prime, because its own factors were removed earlier. Once d * d exceeds what is
    left, the remainder (if above 1) is itself a prime.""")
def _factor_exponents(rng) -> Made:
    as_dict = pick(rng, (True, False))

    def ref(n):
        out: dict[int, int] = {}
        d = 2
        while d * d <= n:
            while n % d == 0:
                out[d] = out.get(d, 0) + 1
                n //= d
            d += 1
        if n > 1:
            out[n] = out.get(n, 0) + 1
        return out if as_dict else sorted(out.items())

    fin = "$powers" if as_dict else "sorted($powers.items())"
    bodies = (f"$powers = {{}}\n$d = 2\nwhile $d * $d <= $n:\n    while $n % $d == 0:\n"
              "        $powers[$d] = $powers.get($d, 0) + 1\n"
              f"        $n //= $d\n    $d += 1\nif $n > 1:\n    $powers[$n] = $powers.get($n, 0) + 1\nreturn {fin}",
              Body("$factors = []\n$d = 2\nwhile $d * $d <= $n:\n    if $n % $d == 0:\n        $factors.append($d)\n"
                   "        $n //= $d\n"
                   f"    else:\n        $d += 1\nif $n > 1:\n    $factors.append($n)\n"
                   + ("return dict(Counter($factors))" if as_dict else "return sorted(Counter($factors).items())"),
                   ("from collections import Counter",)),
              f"$powers = {{}}\n$d = 2\nwhile $n > 1:\n    if $d * $d > $n:\n        $d = $n\n    $e = 0\n"
              "    while $n % $d == 0:\n"
              f"        $n //= $d\n        $e += 1\n    if $e:\n        $powers[$d] = $e\n    $d += 1\nreturn {fin}")
    cases = [(rng.randint(2, 5000),) for _ in range(3)] + [(1,), (2,), (97,), (360,), (2 ** rng.randint(2, 10),),
                                                           (rng.randint(2, 30) ** 2,)]
    ann, doc = (("dict[int, int]", "Each prime factor mapped to its exponent; empty for 1.") if as_dict else
                ("list[tuple[int, int]]", "(prime, exponent) pairs in increasing order of the prime; empty for 1."))
    return _build(
        rng, names=("prime_factorization", "factor_exponents", "prime_powers", "factorize_with_exponents", "decompose"),
        params=[P("n", ("n", "number", "value", "num"), "int", "A positive whole number.")],
        returns=(ann, doc),
        summaries=("Return the prime factorisation of `$n`: each prime factor with how many times it divides `$n`.",
                   "Decompose $n into prime powers, e.g. 360 = 2**3 * 3**2 * 5.",
                   "Find the primes dividing $n and their multiplicities."),
        notes=("1 has no prime factors.",), bodies=bodies,
        local_names={"powers": ("powers", "exponents", "result"), "d": ("d", "p", "divisor"),
                     "factors": ("factors", "primes", "found"),
                     "e": ("e", "times", "power")},
        ref=ref, cases=cases)


@_family("number_theory.classify_by_divisors", ("divisors", "aliquot-sum", "square-root-bound"), """
    The proper divisors of n are its divisors smaller than n; their sum (the aliquot sum) sorts numbers
    into three kinds: perfect when it equals n (6 = 1 + 2 + 3), abundant when it is larger (12) and
    deficient when it is smaller (every prime). Divisors come in pairs d and n // d, so a loop up to the
    square root finds them all, taking care not to count a square root twice.""")
def _classify_by_divisors(rng) -> Made:
    labels = pick(rng,
                  (("perfect", "abundant", "deficient"), ("Perfect", "Abundant", "Deficient"),
                   ("perfect", "excessive", "deficient")))
    perfect, abundant, deficient = labels

    def ref(n):
        s = sum(d for d in range(1, n) if n % d == 0)
        return perfect if s == n else abundant if s > n else deficient

    verdict = f"if $total == $n:\n    return {perfect!r}\nreturn {abundant!r} if $total > $n else {deficient!r}"
    bodies = (f"$total = sum($d for $d in range(1, $n // 2 + 1) if $n % $d == 0)\n" + verdict,
              f"$total = 0\nfor $d in range(1, $n):\n    if $n % $d == 0:\n        $total += $d\n" + verdict,
              f"if $n == 1:\n    return {deficient!r}\n$total = 1\n$d = 2\nwhile $d * $d <= $n:\n    if $n % $d == 0:\n"
              "        $total += $d\n"
              f"        if $d != $n // $d:\n            $total += $n // $d\n    $d += 1\n" + verdict)
    cases = [(rng.randint(2, 500),) for _ in range(3)] + [(1,), (6,), (28,), (12,), (13,), (pick(rng, (496, 8128)),)]
    return _build(
        rng, names=("classify_number", "divisor_class", "perfection_kind", "aliquot_class", "number_kind"),
        params=[P("n", ("n", "number", "num", "value"), "int", "A positive whole number.")],
        returns=("str", f"{perfect!r}, {abundant!r} or {deficient!r}."),
        summaries=(f"Classify `$n` as {perfect!r}, {abundant!r} or {deficient!r} by the sum of its proper divisors.",
                   f"Return {perfect!r} if the divisors of $n below $n add up to $n, "
                   f"{abundant!r} if they add up to more, and {deficient!r} otherwise.",
                   "Compare a number with the sum of its proper divisors and name the result."),
        notes=("The proper divisors of 1 add up to 0, so 1 is deficient.",), bodies=bodies,
        local_names={"total": ("total", "aliquot", "div_sum"), "d": ("d", "k", "divisor")}, ref=ref, cases=cases)


@_family("number_theory.common_divisors", ("divisors", "gcd", "sets"), """
    The numbers that divide both a and b are exactly the divisors of gcd(a, b), so one fast route is to
    compute the gcd and list its divisors. A direct loop up to min(a, b) checks both remainders, and a
    set intersection of the two divisor sets states the definition literally. All three give the same
    sorted list, which always starts with 1.""")
def _common_divisors(rng) -> Made:
    def ref(a, b):
        return [d for d in range(1, min(a, b) + 1) if a % d == 0 and b % d == 0]

    bodies = ("return [$d for $d in range(1, min($a, $b) + 1) if $a % $d == 0 and $b % $d == 0]",
              Body("$g = math.gcd($a, $b)\nreturn [$d for $d in range(1, $g + 1) if $g % $d == 0]", ("import math",)),
              "$left = {$d for $d in range(1, $a + 1) if $a % $d == 0}\n"
              "$right = {$d for $d in range(1, $b + 1) if $b % $d == 0}\n"
              "return sorted($left & $right)",
              Body("$g = math.gcd($a, $b)\n$small, $large = [], []\n$d = 1\nwhile $d * $d <= $g:\n"
                   "    if $g % $d == 0:\n"
                   "        $small.append($d)\n        if $d != $g // $d:\n            $large.append($g // $d)\n"
                   "    $d += 1\n"
                   "return $small + $large[::-1]", ("import math",)))
    k = rng.randint(2, 12)
    cases = [(k * rng.randint(1, 30), k * rng.randint(1, 30)) for _ in range(3)] + [(rng.randint(1, 200),
                                                                                     rng.randint(1, 200))]
    cases += [(1, 1), (7, 13), (36, 36), (1, 50)]
    return _build(
        rng, names=("common_divisors", "shared_divisors", "divisors_of_both", "mutual_factors", "joint_divisors"),
        params=[P("a", ("a", "x", "first", "m"), "int", "A positive whole number."),
                P("b", ("b", "y", "second", "n"), "int", "Another positive whole number.")],
        returns=("list[int]", "Every positive number dividing both, in increasing order."),
        summaries=("Return all positive integers that divide both `$a` and `$b`, smallest first.",
                   "List the common divisors of $a and $b in increasing order.",
                   "Find the numbers that leave no remainder when dividing either $a or $b."),
        notes=("The list always contains 1; its last element is the greatest common divisor.",), bodies=bodies,
        local_names={"d": ("d", "k", "divisor"), "g": ("g", "common", "gcd_value"), "left": ("left", "divs_a", "of_a"),
                     "right": ("right", "divs_b", "of_b"), "small": ("small", "low", "below"),
                     "large": ("large", "high", "above")},
        ref=ref, cases=cases)


@_family("number_theory.lcm_of_list", ("gcd_and_lcm", "reduce", "euclid"), """
    The least common multiple of two numbers follows from their greatest common divisor: lcm(a, b) =
    a * b // gcd(a, b), and Euclid's algorithm finds the gcd by replacing (a, b) with (b, a % b) until b is
    0. For a whole list, the lcm is folded in one number at a time, which `functools.reduce` expresses; the
    lcm of no numbers is 1, the neutral element of the fold.""")
def _lcm_of_list(rng) -> Made:
    def ref(numbers):
        out = 1
        for x in numbers:
            out = out * x // math.gcd(out, x)
        return out

    euclid = "def $gcd2($x: int, $y: int) -> int:\n    while $y:\n        $x, $y = $y, $x % $y\n    return $x"
    bodies = (Body("return reduce(lambda $x, $y: $x * $y // math.gcd($x, $y), $numbers, 1)",
                   ("import math", "from functools import reduce")),
              Body("$result = 1\nfor $x in $numbers:\n    $result = $result * $x // $gcd2($result, $x)\n"
                   "return $result", (), euclid),
              Body("return math.lcm(*$numbers)", ("import math",)),
              Body("$result = 1\nfor $x in $numbers:\n    $result = $result * $x // math.gcd($result, $x)\n"
                   "return $result", ("import math",)))
    cases = [([rng.randint(1, 20) for _ in range(rng.randint(2, 5))],) for _ in range(4)]
    cases += [([],), ([7],), ([4, 6],), ([3, 5, 7],), ([12, 12, 12],)]
    return _build(
        rng, names=("lcm_of_list", "least_common_multiple", "lcm_all", "smallest_common_multiple", "common_multiple"),
        params=[P("numbers", ("numbers", "values", "nums", "periods"), "list[int]", "Positive whole numbers.")],
        returns=("int", "The smallest positive number divisible by every number in `$numbers` (1 for an empty list)."),
        summaries=("Return the least common multiple of all the numbers in `$numbers`.",
                   "Compute the smallest positive integer that every element of $numbers divides.",
                   "Find when events repeating every $numbers[i] steps all line up again: their lcm."),
        notes=("The lcm of an empty list is 1.",), bodies=bodies,
        local_names={"x": ("x", "a", "value"), "y": ("y", "b", "other"), "result": ("result", "acc", "multiple"),
                     "gcd2": ("gcd_of", "euclid", "greatest_divisor")},
        ref=ref, cases=cases)


@_family("number_theory.reduce_fraction", ("gcd_and_lcm", "fractions", "normalisation"), """
    A fraction is in lowest terms when numerator and denominator share no factor, which dividing both by
    their gcd achieves. A normal form also fixes the sign: the denominator is kept positive and the sign
    lives in the numerator, so -1/2 and 1/-2 come out the same. The standard library's
    `fractions.Fraction` applies exactly these rules.""")
def _reduce_fraction(rng) -> Made:
    def ref(num, den):
        f = Fraction(num, den)
        return (f.numerator, f.denominator)

    bodies = (Body("$g = math.gcd($num, $den)\nif $den < 0:\n    $g = -$g\nreturn ($num // $g, $den // $g)",
                   ("import math",)),
              Body("$f = Fraction($num, $den)\nreturn ($f.numerator, $f.denominator)",
                   ("from fractions import Fraction",)),
              "$a, $b = abs($num), abs($den)\nwhile $b:\n    $a, $b = $b, $a % $b\n"
              "$sign = -1 if ($num < 0) != ($den < 0) else 1\n"
              "return ($sign * abs($num) // $a, abs($den) // $a)")
    k = rng.randint(2, 9)
    cases = [(k * rng.randint(-40, 40), k * rng.randint(1, 40)) for _ in range(3)] + [(rng.randint(-99, 99),
                                                                                       -rng.randint(1, 99))]
    cases += [(0, 5), (6, 3), (-4, -8), (7, 1), (1, -2)]
    return _build(
        rng, names=("reduce_fraction", "simplest_form", "lowest_terms", "normalize_fraction", "simplify_ratio"),
        params=[P("num", ("num", "numerator", "top", "p"), "int", "The numerator."),
                P("den", ("den", "denominator", "bottom", "q"), "int", "The denominator, not zero.")],
        returns=("tuple[int, int]", "(numerator, denominator) in lowest terms with a positive denominator."),
        summaries=("Reduce the fraction `$num`/`$den` to lowest terms.",
                   "Return $num/$den simplified, with the sign carried by the numerator.",
                   "Bring a fraction into its normal form: no common factor and a positive denominator."),
        notes=("Zero is written as (0, 1).",), bodies=bodies,
        local_names={"g": ("g", "common", "divisor"), "f": ("f", "frac", "ratio"), "a": ("a", "x", "m"),
                     "b": ("b", "y", "n"),
                     "sign": ("sign", "sgn", "direction")},
        ref=ref, cases=cases)


@_family("number_theory.totient", ("gcd_and_lcm", "euler-phi", "coprime"), """
    Two numbers are coprime when their gcd is 1. Euler's totient phi(n) counts the numbers from 1 to n that
    are coprime with n: phi(9) = 6 (1, 2, 4, 5, 7, 8). Counting with `gcd` follows the definition directly;
    the product formula is faster: start from n and, for each distinct prime p dividing n, subtract the
    share n / p of multiples of p.""")
def _totient(rng) -> Made:
    def ref(n):
        return sum(1 for k in range(1, n + 1) if math.gcd(k, n) == 1)

    bodies = (Body("return sum(1 for $k in range(1, $n + 1) if math.gcd($k, $n) == 1)", ("import math",)),
              Body("$count = 0\nfor $k in range(1, $n + 1):\n    if math.gcd($n, $k) == 1:\n        $count += 1\n"
                   "return $count",
                   ("import math",)),
              "$result = $n\n$rest = $n\n$p = 2\nwhile $p * $p <= $rest:\n    if $rest % $p == 0:\n"
              "        while $rest % $p == 0:\n"
              "            $rest //= $p\n        $result -= $result // $p\n    $p += 1\nif $rest > 1:\n"
              "    $result -= $result // $rest\n"
              "return $result")
    cases = [(rng.randint(2, 400),) for _ in range(4)] + [(1,), (2,), (9,), (pick(rng, (13, 31, 97)),), (36,)]
    return _build(
        rng, names=("euler_phi", "totient", "count_coprimes", "coprime_count", "phi"),
        params=[P("n", ("n", "number", "num", "m"), "int", "A positive whole number.")],
        returns=("int", "How many of 1, 2, ..., `$n` share no factor with `$n`."),
        summaries=("Return Euler's totient of `$n`: how many integers from 1 to `$n` are coprime with it.",
                   "Count the k in 1..$n with gcd(k, $n) == 1.",
                   "Compute phi($n), the number of positive integers up to $n that are relatively prime to $n."),
        notes=("phi(1) is 1, and phi(p) is p - 1 for a prime p.",), bodies=bodies,
        local_names={"k": ("k", "i", "candidate"), "count": ("count", "total", "coprimes"),
                     "result": ("result", "phi_value", "acc"),
                     "rest": ("rest", "remaining", "left"), "p": ("p", "factor", "d")},
        ref=ref, cases=cases)


@_family("number_theory.mod_inverse", ("modular_arithmetic", "extended-euclid", "inverse"), """
    In arithmetic modulo m, the inverse of a is the x with a * x % m == 1; it plays the role of 1 / a. It
    exists exactly when gcd(a, m) is 1. The extended Euclidean algorithm finds it by tracking, next to
    each remainder, how that remainder is written as a multiple of a plus a multiple of m; for small m,
    trying every x from 1 to m - 1 is a fine check, and Python 3.8+ computes it with `pow(a, -1, m)`.""")
def _mod_inverse(rng) -> Made:
    def ref(a, m):
        for x in range(1, m):
            if a * x % m == 1:
                return x
        return None

    bodies = ("for $x in range(1, $m):\n    if $a * $x % $m == 1:\n        return $x\nreturn None",
              "try:\n    return pow($a, -1, $m)\nexcept ValueError:\n    return None",
              "$old_r, $r = $a % $m, $m\n$old_s, $s = 1, 0\nwhile $r:\n    $q = $old_r // $r\n"
              "    $old_r, $r = $r, $old_r - $q * $r\n"
              "    $old_s, $s = $s, $old_s - $q * $s\nif $old_r != 1:\n    return None\nreturn $old_s % $m")
    m = pick(rng, (7, 11, 13, 26, 97, 100))
    cases = [(rng.randint(1, 200), m) for _ in range(3)] + [(rng.randint(1, 60), rng.randint(2, 60))]
    cases += [(0, 7), (1, 10), (2, 4), (3, 7), (6, 9)]
    return _build(
        rng, names=("mod_inverse", "modular_inverse", "inverse_mod", "invert_modulo", "multiplicative_inverse"),
        params=[P("a", ("a", "value", "number", "k"), "int", "The number to invert (a >= 0)."),
                P("m", ("m", "modulus", "mod", "n"), "int", "The modulus (m >= 2).")],
        returns=("int | None", "The x in 1..`$m` - 1 with `$a` * x % `$m` == 1, or None when `$a` has no inverse."),
        summaries=("Return the multiplicative inverse of `$a` modulo `$m`, or None if it does not exist.",
                   "Find x with ($a * x) % $m == 1, the inverse of $a in arithmetic modulo $m.",
                   "Compute the modular inverse of $a; it exists only when $a and $m are coprime."),
        notes=("For example the inverse of 3 modulo 7 is 5, because 3 * 5 = 15 = 2 * 7 + 1.",), bodies=bodies,
        local_names={"x": ("x", "candidate", "k"), "old_r": ("old_r", "r0", "prev_r"), "r": ("r", "r1", "cur_r"),
                     "old_s": ("old_s", "s0", "prev_s"), "s": ("s", "s1", "cur_s"), "q": ("q", "quot", "t")},
        ref=ref, cases=cases)


@_family("number_theory.chinese_remainder", ("modular_arithmetic", "congruences", "search"), """
    A system of congruences asks for a number with given remainders: x % 3 == 2 and x % 5 == 3 gives x = 8.
    When the moduli are pairwise coprime, the Chinese remainder theorem says exactly one solution lies in
    0 .. M - 1, where M is the product of the moduli. It can be found by sieving: keep x satisfying the
    congruences so far and step by the product of their moduli until the next congruence holds as well.""")
def _chinese_remainder(rng) -> Made:
    def ref(remainders, moduli):
        total = math.prod(moduli)
        return next(x for x in range(total) if all(x % m == r for r, m in zip(remainders, moduli)))

    bodies = (Body("$total = math.prod($moduli)\nfor $x in range($total):\n"
                   "    if all($x % $mod == $rem for $rem, $mod in zip($remainders, $moduli)):\n        return $x\n"
                   "return -1",
                   ("import math",)),
              "$x, $step = 0, 1\nfor $rem, $mod in zip($remainders, $moduli):\n    while $x % $mod != $rem:\n"
              "        $x += $step\n"
              "    $step *= $mod\nreturn $x",
              Body("$x, $step = 0, 1\nfor $rem, $mod in zip($remainders, $moduli):\n"
                   "    $x += $step * (($rem - $x) * pow($step, -1, $mod) % $mod)\n    $step *= $mod\nreturn $x"))
    groups = ((3, 5), (3, 5, 7), (4, 9), (5, 7, 8), (2, 3, 5, 7), (9, 10), (3, 4, 5))
    cases = []
    for _ in range(4):
        mods = list(pick(rng, groups))
        cases.append(([rng.randrange(mo) for mo in mods], mods))
    cases += [([0], [7]), ([2, 3], [3, 5]), ([0, 0, 0], [3, 4, 5]), ([1, 1], [4, 9])]
    return _build(
        rng,
        names=("solve_congruences", "chinese_remainder", "crt_solution", "smallest_with_remainders",
               "combine_remainders"),
        params=[P("remainders", ("remainders", "rests", "residues", "wanted"), "list[int]",
                  "The remainder wanted for each modulus."),
                P("moduli", ("moduli", "divisors", "mods", "periods"), "list[int]",
                  "Pairwise coprime moduli, each at least 2.")],
        returns=("int", "The smallest x >= 0 with x % moduli[i] == remainders[i] for every i."),
        summaries=("Return the smallest non-negative integer that leaves remainder `$remainders[i]` when divided by "
                   "`$moduli[i]`, for every i.",
                   "Solve the system of congruences x = $remainders[i] (mod $moduli[i]).",
                   "Find the least number with the given remainders for pairwise coprime moduli."),
        notes=("Because the moduli are pairwise coprime, a solution below their product always exists.",),
        bodies=bodies,
        local_names={"total": ("total", "product", "limit"), "x": ("x", "answer", "candidate"),
                     "rem": ("rem", "r", "want"),
                     "mod": ("mod", "m", "base"), "step": ("step", "stride", "period")},
        ref=ref, cases=cases)


@_family("number_theory.check_digit", ("modular_arithmetic", "checksums", "weighted-sum"), """
    A check digit catches typing mistakes: it is chosen so that a weighted sum of all the digits is a
    multiple of some modulus. EAN-13 barcodes weight the digits 1, 3, 1, 3, ... and use modulus 10; ISBN-10
    weights them 10, 9, ..., 2 and uses modulus 11, writing the value 10 as 'X'. Swapping two neighbouring
    digits changes the weighted sum, which is why weights are used instead of a plain digit sum.""")
def _check_digit(rng) -> Made:
    kind = pick(rng, ("ean13", "isbn10"))
    if kind == "ean13":
        def ref(digits):
            s = sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(digits))
            return str((10 - s % 10) % 10)

        bodies = ("$total = 0\nfor $i, $ch in enumerate($digits):\n    $weight = 3 if $i % 2 else 1\n"
                  "    $total += int($ch) * $weight\n"
                  "return str((10 - $total % 10) % 10)",
                  "$total = sum(int($ch) * (3 if $i % 2 else 1) for $i, $ch in enumerate($digits))\n"
                  "return str(-$total % 10)",
                  "$odd = sum(int($ch) for $ch in $digits[0::2])\n$even = sum(int($ch) for $ch in $digits[1::2])\n"
                  "return str((10 - ($odd + 3 * $even) % 10) % 10)")
        length, what = 12, "EAN-13 barcode"
        rule = "weights 1 and 3 alternate from the left; the check digit brings the sum up to a multiple of 10"
        fixed = ["400638133393", "000000000000", "978030640615"]
    else:
        def ref(digits):
            s = sum(int(c) * (10 - i) for i, c in enumerate(digits))
            v = (11 - s % 11) % 11
            return "X" if v == 10 else str(v)

        bodies = ("$total = 0\nfor $i, $ch in enumerate($digits):\n    $weight = 10 - $i\n"
                  "    $total += int($ch) * $weight\n"
                  "$value = (11 - $total % 11) % 11\nreturn \"X\" if $value == 10 else str($value)",
                  "$total = sum(int($ch) * (10 - $i) for $i, $ch in enumerate($digits))\n$value = -$total % 11\n"
                  "return \"X\" if $value == 10 else str($value)",
                  "$total = sum(int($ch) * $weight for $ch, $weight in zip($digits, range(10, 1, -1)))\n"
                  "return \"0123456789X\"[(11 - $total % 11) % 11]")
        length, what = 9, "ISBN-10"
        rule = "weights 10 down to 2; the check digit makes the total a multiple of 11, with 10 written as 'X'"
        fixed = ["030640615", "000000000", "080442957"]
    cases = [("".join(str(rng.randint(0, 9)) for _ in range(length)),) for _ in range(4)] + [(f,) for f in fixed]
    return _build(
        rng,
        names=(f"{kind}_check_digit", "check_digit", f"compute_{kind}_check", "checksum_digit", f"{kind}_checksum"),
        params=[P("digits", ("digits", "code", "body", "number"), "str", f"The first {length} digits of the {what}.")],
        returns=("str", "The single check character."),
        summaries=(f"Return the check digit of the {what} whose first {length} digits are `$digits`.",
                   f"Compute the {what} check character for $digits ({rule}).",
                   f"Work out the last character of an {what} from the others." if kind == "isbn10"
                   else f"Work out the last digit of an {what} from the others."),
        rule=rule[0].upper() + rule[1:] + ".", bodies=bodies,
        local_names={"total": ("total", "weighted", "acc"), "i": ("i", "pos", "index"), "ch": ("ch", "c", "digit_char"),
                     "weight": ("weight", "w", "factor"), "value": ("value", "check", "v"),
                     "odd": ("odd", "ones", "first_sum"),
                     "even": ("even", "threes", "second_sum")},
        ref=ref, cases=cases)


_DIGITS36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@_family("number_theory.to_base", ("number_bases", "divmod", "positional-notation"), """
    Writing a number in base b repeats one step: the remainder of n divided by b is the last digit, and the
    quotient holds the remaining digits. Collecting the remainders and reversing them gives the digits in
    the usual order; bases above 10 borrow letters for the digits 10 and up (A = 10, ..., Z = 35). Zero
    needs its own case, since the loop would produce no digit at all, and a negative number keeps its sign
    in front.""")
def _to_base(rng) -> Made:
    lower = pick(rng, (False, False, True))
    alphabet = _DIGITS36.lower() if lower else _DIGITS36

    def ref(n, base):
        if n == 0:
            return "0"
        sign, n = ("-", -n) if n < 0 else ("", n)
        out = []
        while n:
            n, r = divmod(n, base)
            out.append(alphabet[r])
        return sign + "".join(reversed(out))

    digits_src = repr(alphabet) if pick(rng, (True, False)) else ("string.digits + string.ascii_lowercase" if lower
                                                                   else "string.digits + string.ascii_uppercase")
    imports = ("import string",) if digits_src.startswith("string") else ()
    bodies = (Body(f"$symbols = {digits_src}\nif $n == 0:\n    return \"0\"\n$sign = \"-\" if $n < 0 else \"\"\n"
                   "$n = abs($n)\n"
                   f"$out = []\nwhile $n > 0:\n    $n, $r = divmod($n, $base)\n    $out.append($symbols[$r])\n"
                   f"return $sign + \"\".join(reversed($out))", imports),
              Body(f"$symbols = {digits_src}\nif $n < 0:\n    return \"-\" + $entry(-$n, $base)\nif $n < $base:\n"
                   "    return $symbols[$n]\n"
                   f"return $entry($n // $base, $base) + $symbols[$n % $base]", imports),
              Body(f"$symbols = {digits_src}\nif $n == 0:\n    return \"0\"\n$text = \"\"\n$rest = abs($n)\n"
                   "while $rest:\n"
                   "    $text = $symbols[$rest % $base] + $text\n    $rest //= $base\n"
                   "return \"-\" + $text if $n < 0 else $text", imports))
    base = pick(rng, (2, 8, 16, 3, 5, 36))
    cases = [(rng.randint(-5000, 100000), base) for _ in range(3)] + [(rng.randint(0, 999), pick(rng, (2, 7, 12, 20)))]
    cases += [(0, base), (255, 16), (-8, 2), (35, 36), (base, base)]
    return _build(
        rng, names=("to_base", "int_to_base", "format_in_base", "number_to_base", "encode_base"),
        params=[P("n", ("n", "number", "value", "num"), "int", "The integer to convert; it may be negative."),
                P("base", ("base", "radix", "b"), "int", "The base, from 2 to 36.")],
        returns=("str", f"The digits of `$n` in base `$base` ({'lower' if lower else 'upper'}-case letters above 9)."),
        summaries=("Return the representation of `$n` in base `$base`.",
                   "Convert the integer $n to a string of digits in the given base, like bin() or hex() without a "
                   "prefix.",
                   "Write $n in positional notation with radix $base."),
        rule=f"Digits above 9 are written {alphabet[10]}, {alphabet[11]}, ..., {alphabet[35]}; a negative number "
             "starts with '-'.",
        bodies=bodies,
        local_names={"symbols": ("symbols", "alphabet", "digit_chars"), "sign": ("sign", "prefix", "minus"),
                     "out": ("out", "digits", "parts"),
                     "r": ("r", "rem", "d"), "text": ("text", "result", "s"), "rest": ("rest", "remaining", "m")},
        ref=ref, cases=cases)


@_family("number_theory.from_base", ("number_bases", "horner", "validation"), """
    Reading a numeral in base b is Horner's rule: start from 0 and, for each digit from the left, multiply
    the value so far by b and add the digit. Each character must first be turned into its digit value and
    checked against the base (in base 8 the digit 9 is an error). `int(text, base)` does all of this, but
    raises on bad input where a parser of our own can return None.""")
def _from_base(rng) -> Made:
    def value(c):
        return _DIGITS36.find(c.upper())

    def ref(text, base):
        if not text:
            return None
        total = 0
        for c in text:
            d = value(c)
            if d < 0 or d >= base:
                return None
            total = total * base + d
        return total

    bodies = ("if not $text:\n    return None\n$total = 0\nfor $ch in $text.upper():\n"
              "    $d = \"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ\".find($ch)\n    if $d < 0 or $d >= $base:\n"
              "        return None\n"
              "    $total = $total * $base + $d\nreturn $total",
              Body("$symbols = string.digits + string.ascii_uppercase\n"
                   "if not $text or any($ch not in $symbols[:$base] for $ch in $text.upper()):\n"
                   "    return None\nreturn int($text, $base)", ("import string",)),
              "$total = 0\nif $text == \"\":\n    return None\nfor $ch in $text.lower():\n    if $ch.isdigit():\n"
              "        $d = ord($ch) - ord(\"0\")\n"
              "    elif \"a\" <= $ch <= \"z\":\n        $d = ord($ch) - ord(\"a\") + 10\n    else:\n"
              "        return None\n"
              "    if $d >= $base:\n        return None\n    $total = $total * $base + $d\nreturn $total")
    base = pick(rng, (2, 8, 16, 16, 3, 36))

    def numeral(b):
        return "".join(_DIGITS36[rng.randrange(b)] for _ in range(rng.randint(1, 7))).lstrip("0") or "0"

    cases = [(numeral(base), base) for _ in range(3)] + [(numeral(b).lower(), b) for b in (16, 36)]
    cases += [("", base), ("0", 2), ("102", 2), ("ff", 16), ("7G", 16), ("-5", 10), ("z", 36)]
    return _build(
        rng, names=("parse_in_base", "from_base", "base_to_int", "decode_base", "read_numeral"),
        params=[P("text", ("text", "numeral", "digits", "s"), "str",
                  "The digits, using letters (either case) above 9."),
                P("base", ("base", "radix", "b"), "int", "The base, from 2 to 36.")],
        returns=("int | None",
                 "The value of the numeral, or None if `$text` is empty or has a digit not allowed in `$base`."),
        summaries=("Return the integer written as `$text` in base `$base`, or None if the text is not a valid numeral.",
                   "Parse $text as a number in radix $base using Horner's rule.",
                   "Convert a string of base-$base digits to an int, rejecting invalid digits."),
        notes=("Signs, spaces and prefixes such as '0x' are not accepted.",), bodies=bodies,
        local_names={"total": ("total", "value", "acc"), "ch": ("ch", "c", "symbol"), "d": ("d", "digit", "v"),
                     "symbols": ("symbols", "alphabet", "allowed")},
        ref=ref, cases=cases)


@_family("number_theory.happy_number", ("special_numbers", "cycle-detection", "digits"), """
    Replace a number by the sum of the squares of its digits and repeat: a happy number eventually reaches
    1 (19 -> 82 -> 68 -> 100 -> 1), every other number falls into a loop that never contains 1. To stop,
    remember the values seen in a set and quit at the first repeat, or run two pointers at different speeds
    (Floyd's cycle detection) so that no memory is needed.""")
def _happy_number(rng) -> Made:
    def step(n):
        return sum(int(c) ** 2 for c in str(n))

    def ref(n):
        seen = set()
        while n != 1 and n not in seen:
            seen.add(n)
            n = step(n)
        return n == 1

    helper = "def $step($x: int) -> int:\n    return sum(int($ch) ** 2 for $ch in str($x))"
    helper_div = ("def $step($x: int) -> int:\n    $total = 0\n    while $x:\n        $x, $d = divmod($x, 10)\n"
                  "        $total += $d * $d\n    return $total")
    bodies = (Body("$seen = set()\nwhile $n != 1 and $n not in $seen:\n    $seen.add($n)\n    $n = $step($n)\n"
                   "return $n == 1", (), helper),
              Body("$slow = $fast = $n\nwhile True:\n    $slow = $step($slow)\n    $fast = $step($step($fast))\n"
                   "    if $slow == $fast:\n"
                   "        break\nreturn $slow == 1", (), helper_div),
              Body("while $n != 1 and $n != 4:\n    $n = $step($n)\nreturn $n == 1", (), helper))
    happy = [1, 7, 10, 13, 19, 23, 28, 31, 32, 44, 49, 68, 70, 79, 82, 86, 91, 94, 97, 100]
    cases = [(pick(rng, happy),), (rng.randint(2, 6),), (rng.randint(101, 9999),), (rng.randint(101, 9999),)]
    cases += [(1,), (4,), (19,), (20,)]
    return _build(
        rng, names=("is_happy_number", "happy_number", "is_happy_num", "check_happy", "reaches_one"),
        params=[P("n", ("n", "number", "num", "start"), "int", "A positive whole number.")],
        returns=("bool", "True if repeatedly summing the squares of the digits reaches 1."),
        summaries=("Return True if `$n` is a happy number.",
                   "Decide whether replacing $n by the sum of the squares of its digits, over and over, ends at 1.",
                   "Check if a number is happy: the digit-square-sum sequence starting at it reaches 1."),
        notes=("Unhappy numbers end in the cycle 4 -> 16 -> 37 -> 58 -> 89 -> 145 -> 42 -> 20 -> 4.",), bodies=bodies,
        local_names={"step": ("next_value", "square_digit_sum", "step"), "x": ("x", "m", "value"),
                     "ch": ("ch", "c", "digit"),
                     "total": ("total", "acc", "s"), "d": ("d", "last", "r"), "seen": ("seen", "visited", "history"),
                     "slow": ("slow", "tortoise"), "fast": ("fast", "hare")},
        ref=ref, cases=cases)


@_family("number_theory.harshad_numbers", ("special_numbers", "digit-sum", "filtering"), """
    A Harshad (or Niven) number is divisible by the sum of its own digits: 18 is one, since 1 + 8 = 9
    divides 18, while 19 is not. Such definitions turn directly into a filter over a range: compute the
    digit sum with `str` or with `% 10`, test the remainder, and keep or count the numbers that pass.""")
def _harshad_numbers(rng) -> Made:
    count_only = pick(rng, (True, False))

    def ok(k):
        return k % sum(int(c) for c in str(k)) == 0

    def ref(lo, hi):
        found = [k for k in range(lo, hi + 1) if ok(k)]
        return len(found) if count_only else found

    helper = "def $digit_sum($k: int) -> int:\n    return sum(int($ch) for $ch in str($k))"
    helper_div = ("def $digit_sum($k: int) -> int:\n    $total = 0\n    while $k:\n        $total += $k % 10\n"
                  "        $k //= 10\n    return $total")
    if count_only:
        bodies = (Body("return sum(1 for $k in range($lo, $hi + 1) if $k % $digit_sum($k) == 0)", (), helper),
                  Body("$count = 0\nfor $k in range($lo, $hi + 1):\n    if $k % $digit_sum($k) == 0:\n"
                       "        $count += 1\nreturn $count", (), helper_div),
                  "return len([$k for $k in range($lo, $hi + 1) if $k % sum(map(int, str($k))) == 0])")
        ann, doc = "int", "How many Harshad numbers lie between `$lo` and `$hi`, inclusive."
    else:
        bodies = (Body("return [$k for $k in range($lo, $hi + 1) if $k % $digit_sum($k) == 0]", (), helper),
                  Body("$found = []\nfor $k in range($lo, $hi + 1):\n    if $k % $digit_sum($k) == 0:\n"
                       "        $found.append($k)\nreturn $found", (), helper_div),
                  "return [$k for $k in range($lo, $hi + 1) if $k % sum(map(int, str($k))) == 0]")
        ann, doc = "list[int]", "The Harshad numbers between `$lo` and `$hi`, inclusive, in increasing order."
    lo = rng.randint(1, 150)
    cases = [(lo, lo + rng.randint(5, 40)), (rng.randint(1, 20), rng.randint(20, 60)),
             (rng.randint(100, 500), rng.randint(500, 530))]
    cases += [(1, 9), (19, 19), (18, 18), (30, 20), (10, 12)]
    return _build(
        rng,
        names=("harshad_numbers" if not count_only else "count_harshad",
               "niven_numbers_between" if not count_only else "count_niven",
                    "harshad_in_range", "digit_sum_divisible", "harshads_between"),
        params=[P("lo", ("lo", "start", "low", "first"), "int", "The lower end (>= 1)."),
                P("hi", ("hi", "stop", "high", "last"), "int", "The upper end, inclusive.")],
        returns=(ann, doc),
        summaries=(("Count" if count_only else "List") + " the numbers from `$lo` to `$hi` that are divisible by the "
                                                         "sum of their digits.",
                   ("Return how many" if count_only else "Return the") + " Harshad numbers in [$lo, $hi].",
                   "Find the Niven numbers (divisible by their digit sum) between $lo and $hi."),
        notes=("Every number from 1 to 9 qualifies.", "An empty range ($lo > $hi) has none."), bodies=bodies,
        local_names={"digit_sum": ("digit_sum", "sum_digits", "digits_total"), "k": ("k", "n", "x"),
                     "ch": ("ch", "c", "d"),
                     "total": ("total", "s", "acc"), "count": ("count", "found_count", "tally"),
                     "found": ("found", "result", "matches")},
        ref=ref, cases=cases)


# ---------------------------------------------------------------------------------------------- matrices


def _matrix(rng, rows: int, cols: int, lo: int = -9, hi: int = 9) -> list[list[int]]:
    return [[rng.randint(lo, hi) for _ in range(cols)] for _ in range(rows)]


@_family("matrices.transpose", ("matrix_basics", "zip", "nested-comprehension"), """
    The transpose of a matrix turns its rows into columns: the entry at row i, column j moves to row j,
    column i, so an r x c matrix becomes c x r. A nested comprehension over column and then row indices
    builds it directly, and `zip(*matrix)` does the same in one step by pairing up the rows' first
    entries, second entries and so on. An empty matrix transposes to an empty one.""")
def _transpose(rng) -> Made:
    def ref(matrix):
        return [list(col) for col in zip(*matrix)]

    bodies = ("return [list($col) for $col in zip(*$matrix)]",
              "if not $matrix:\n    return []\nreturn [[$matrix[$i][$j] for $i in range(len($matrix))] for $j in "
              "range(len($matrix[0]))]",
              "$result = []\nfor $j in range(len($matrix[0]) if $matrix else 0):\n    $new_row = []\n"
              "    for $row in $matrix:\n"
              "        $new_row.append($row[$j])\n    $result.append($new_row)\nreturn $result")
    cases = [(_matrix(rng, rng.randint(1, 4), rng.randint(1, 4)),) for _ in range(3)] + [([],), ([[5]],),
                                                                                         ([[1, 2, 3]],), ([[1], [2]],)]
    return _build(
        rng, names=("transpose", "transposed", "flip_rows_and_columns", "swap_axes", "matrix_transpose"),
        params=[P("matrix", ("matrix", "grid", "table", "rows"), "list[list[int]]",
                  "A rectangular matrix given as a list of rows.")],
        returns=("list[list[int]]", "The transposed matrix as a new list of rows."),
        summaries=("Return the transpose of `$matrix`: row i of the result is column i of the input.",
                   "Turn the rows of $matrix into columns.",
                   "Compute the transpose of a rectangular matrix stored as nested lists."),
        notes=("The input is not modified.", "An empty matrix gives an empty list."), bodies=bodies,
        local_names={"col": ("col", "column", "c"), "i": ("i", "r", "row_index"), "j": ("j", "k", "col_index"),
                     "result": ("result", "out", "flipped"), "new_row": ("new_row", "line", "built"),
                     "row": ("row", "old_row", "source_row")},
        ref=ref, cases=cases)


@_family("matrices.rotate_quarter", ("matrix_basics", "rotation", "indices"), """
    Rotating a matrix a quarter turn is a transpose followed by a reflection: clockwise, the first column
    read from the bottom becomes the first row, which is `zip(*matrix[::-1])`; counter-clockwise, the last
    column read from the top becomes the first row. Working out where the entry (i, j) lands (row j, column
    n - 1 - i for clockwise) gives an index-based version of the same rotation.""")
def _rotate_quarter(rng) -> Made:
    clockwise = pick(rng, (True, False))

    def ref(matrix):
        return [list(r) for r in zip(*matrix[::-1])] if clockwise else [list(r) for r in zip(*matrix)][::-1]

    if clockwise:
        bodies = ("return [list($row) for $row in zip(*$matrix[::-1])]",
                  "$n_rows = len($matrix)\n$n_cols = len($matrix[0]) if $matrix else 0\n"
                  "return [[$matrix[$n_rows - 1 - $i][$j] for $i in range($n_rows)] for $j in range($n_cols)]",
                  "$result = []\nfor $j in range(len($matrix[0]) if $matrix else 0):\n"
                  "    $result.append([$row[$j] for $row in reversed($matrix)])\nreturn $result")
    else:
        bodies = ("return [list($row) for $row in zip(*$matrix)][::-1]",
                  "$n_rows = len($matrix)\n$n_cols = len($matrix[0]) if $matrix else 0\n"
                  "return [[$matrix[$i][$n_cols - 1 - $j] for $i in range($n_rows)] for $j in range($n_cols)]",
                  "$result = []\nfor $j in reversed(range(len($matrix[0]) if $matrix else 0)):\n"
                  "    $result.append([$row[$j] for $row in $matrix])\nreturn $result")
    cases = [(_matrix(rng, n, n, 0, 9),) for n in (2, 3, 4)] + [(_matrix(rng, 2, 3, 0, 9),), ([],), ([[7]],),
                                                                ([[1, 2], [3, 4]],)]
    way = "clockwise" if clockwise else "counter-clockwise"
    return _build(
        rng, names=(f"rotate_{'clockwise' if clockwise else 'counterclockwise'}", "rotate_matrix", "quarter_turn",
                    f"rotate_90_{'cw' if clockwise else 'ccw'}", "turn_grid"),
        params=[P("matrix", ("matrix", "grid", "image", "tiles"), "list[list[int]]",
                  "A rectangular matrix as a list of rows.")],
        returns=("list[list[int]]", f"A new matrix: `$matrix` turned 90 degrees {way}."),
        summaries=(f"Rotate `$matrix` by 90 degrees {way} and return the result.",
                   f"Return a copy of $matrix turned a quarter turn {way}.",
                   f"Turn a grid of numbers 90 degrees {way}; an r x c grid becomes c x r."),
        notes=("The input matrix is left unchanged.",), bodies=bodies,
        local_names={"row": ("row", "line", "r"), "n_rows": ("n_rows", "height", "rows"),
                     "n_cols": ("n_cols", "width", "cols"),
                     "i": ("i", "y", "src_row"), "j": ("j", "x", "src_col"), "result": ("result", "rotated", "out")},
        ref=ref, cases=cases)


@_family("matrices.line_sums", ("matrix_basics", "aggregation", "zip"), """
    Row totals and column totals summarise a table along its two axes: a row sum adds the entries of one
    inner list, a column sum adds the entries at the same position of every row. `sum(row)` handles rows,
    and `zip(*matrix)` turns columns into tuples so the same `sum` handles them too. An index-based double
    loop that adds each entry into both running totals computes both in a single pass.""")
def _line_sums(rng) -> Made:
    what = pick(rng, ("rows", "columns", "both"))

    def ref(matrix):
        rows = [sum(r) for r in matrix]
        cols = [sum(c) for c in zip(*matrix)]
        return {"rows": rows, "columns": cols, "both": (rows, cols)}[what]

    if what == "rows":
        bodies = ("return [sum($row) for $row in $matrix]",
                  "$totals = []\nfor $row in $matrix:\n    $acc = 0\n    for $x in $row:\n        $acc += $x\n"
                  "    $totals.append($acc)\nreturn $totals",
                  "return list(map(sum, $matrix))")
        ann, doc = "list[int]", "The sum of each row, top to bottom."
    elif what == "columns":
        bodies = ("return [sum($col) for $col in zip(*$matrix)]",
                  "if not $matrix:\n    return []\n$totals = [0] * len($matrix[0])\nfor $row in $matrix:\n"
                  "    for $j, $x in enumerate($row):\n"
                  "        $totals[$j] += $x\nreturn $totals",
                  "if not $matrix:\n    return []\nreturn [sum($row[$j] for $row in $matrix) for $j in "
                  "range(len($matrix[0]))]")
        ann, doc = "list[int]", "The sum of each column, left to right."
    else:
        bodies = ("return [sum($row) for $row in $matrix], [sum($col) for $col in zip(*$matrix)]",
                  "$row_totals = [0] * len($matrix)\n$totals = [0] * (len($matrix[0]) if $matrix else 0)\n"
                  "for $i, $row in enumerate($matrix):\n"
                  "    for $j, $x in enumerate($row):\n        $row_totals[$i] += $x\n        $totals[$j] += $x\n"
                  "return $row_totals, $totals")
        ann, doc = "tuple[list[int], list[int]]", "(row sums, column sums)."
    cases = [(_matrix(rng, rng.randint(1, 4), rng.randint(1, 4)),) for _ in range(3)] + [([],), ([[3]],),
                                                                                         ([[1, 2, 3]],),
                                                                                         ([[1], [2], [3]],)]
    noun = {"rows": "row", "columns": "column", "both": "row and column"}[what]
    return _build(
        rng, names=(f"{noun.split()[0]}_sums" if what != "both" else "row_and_column_sums",
                    f"{noun.split()[0]}_totals" if what != "both" else "margin_totals",
                    f"sum_each_{noun.split()[0]}" if what != "both" else "line_totals",
                    f"{noun.split()[0]}_wise_sum" if what != "both" else "sum_rows_and_columns",
                    f"add_up_{what}" if what != "both" else "table_margins"),
        params=[P("matrix", ("matrix", "table", "grid", "data"), "list[list[int]]",
                  "A rectangular matrix as a list of rows.")],
        returns=(ann, doc),
        summaries=(f"Return the {noun} sums of `$matrix`.",
                   f"Add up every {noun} of $matrix.",
                   f"Compute the {noun} totals of a rectangular grid of numbers."),
        notes=("An empty matrix has no rows and no columns.",), bodies=bodies,
        local_names={"row": ("row", "line", "r"), "col": ("col", "column", "c"),
                     "totals": ("totals", "sums", "col_totals"),
                     "acc": ("acc", "subtotal", "running"), "x": ("x", "value", "cell"), "j": ("j", "k", "col_index"),
                     "i": ("i", "row_index", "n"), "row_totals": ("row_totals", "by_row", "row_sums_")},
        ref=ref, cases=cases)


@_family("matrices.spiral_order", ("matrix_traversal", "boundaries", "simulation"), """
    Reading a matrix in spiral order walks its outer ring clockwise (top row, right column, bottom row,
    left column) and then repeats on the ring inside. Four boundaries (top, bottom, left, right) that move
    inwards after each side keep track of what is left; the checks between sides matter when the last
    ring is a single row or column. Another route peels off the first row and rotates the rest.""")
def _spiral_order(rng) -> Made:
    def ref(matrix):
        m = [row[:] for row in matrix]
        out = []
        while m:
            out += m.pop(0)
            m = [list(r) for r in zip(*m)][::-1]
        return out

    bounds = _code("""
        $result = []
        if not $matrix:
            return $result
        $top, $bottom = 0, len($matrix) - 1
        $left, $right = 0, len($matrix[0]) - 1
        while $top <= $bottom and $left <= $right:
            for $j in range($left, $right + 1):
                $result.append($matrix[$top][$j])
            $top += 1
            for $i in range($top, $bottom + 1):
                $result.append($matrix[$i][$right])
            $right -= 1
            if $top <= $bottom:
                for $j in range($right, $left - 1, -1):
                    $result.append($matrix[$bottom][$j])
                $bottom -= 1
            if $left <= $right:
                for $i in range($bottom, $top - 1, -1):
                    $result.append($matrix[$i][$left])
                $left += 1
        return $result""")
    peel = _code("""
        $rest = [list($row) for $row in $matrix]
        $result = []
        while $rest:
            $result.extend($rest.pop(0))
            $rest = [list($row) for $row in zip(*$rest)][::-1]
        return $result""")
    cases = [(_matrix(rng, rng.randint(1, 5), rng.randint(1, 5), 0, 20),) for _ in range(3)]
    cases += [([],), ([[4]],), ([[1, 2, 3]],), ([[1], [2], [3]],), ([[1, 2], [3, 4]],)]
    return _build(
        rng, names=("spiral_order", "read_spiral", "spiral_traversal", "clockwise_spiral", "unroll_spiral"),
        params=[P("matrix", ("matrix", "grid", "board", "cells"), "list[list[int]]",
                  "A rectangular matrix as a list of rows.")],
        returns=("list[int]", "Every entry once, in clockwise spiral order starting at the top-left corner."),
        summaries=("Return the entries of `$matrix` in clockwise spiral order, starting at the top-left corner.",
                   "Walk $matrix ring by ring (right, down, left, up) and collect the values met.",
                   "Flatten a matrix by reading it as a spiral from the outside in."),
        notes=("The input is not modified.",), bodies=(bounds, peel),
        local_names={"result": ("result", "order", "out"), "i": ("i", "r", "y"), "j": ("j", "c", "x"),
                     "rest": ("rest", "remaining", "block"), "row": ("row", "line", "items")},
        consts=dict(zip(("top", "bottom", "left", "right"), pick(rng, (
            ("top", "bottom", "left", "right"), ("first_row", "last_row", "first_col", "last_col"),
            ("row_lo", "row_hi", "col_lo", "col_hi"))))),
        ref=ref, cases=cases)


@_family("matrices.live_neighbours", ("matrix_traversal", "grid-neighbours", "bounds-checks"), """
    On a grid, the neighbours of a cell are the cells at row and column offsets of -1, 0 or +1, except the
    cell itself: eight of them in the middle, fewer at the edges and corners. Looping over the offsets and
    skipping positions outside the grid avoids index errors, and it also avoids Python's silent wrap-around
    for the index -1. This count is the heart of Conway's Game of Life.""")
def _live_neighbours(rng) -> Made:
    diagonal = pick(rng, (True, True, False))
    offsets = [(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1)
               if (dr, dc) != (0, 0) and (diagonal or dr == 0 or dc == 0)]

    def ref(grid, row, col):
        return sum(grid[row + dr][col + dc] for dr, dc in offsets
                   if 0 <= row + dr < len(grid) and 0 <= col + dc < len(grid[0]))

    in_grid = "0 <= $r < len($grid) and 0 <= $c < len($grid[0])"
    skip = ("if ($dr, $dc) == (0, 0):\n            continue" if diagonal
            else "if ($dr == 0) == ($dc == 0):\n            continue")
    offs_lit = repr(offsets)
    bodies = (f"$count = 0\nfor $dr in (-1, 0, 1):\n    for $dc in (-1, 0, 1):\n        {skip}\n"
              "        $r, $c = $row + $dr, $col + $dc\n"
              f"        if {in_grid}:\n            $count += $grid[$r][$c]\nreturn $count",
              f"$count = 0\nfor $dr, $dc in {offs_lit}:\n    $r, $c = $row + $dr, $col + $dc\n    if {in_grid}:\n"
              f"        $count += $grid[$r][$c]\nreturn $count",
              f"return sum($grid[$row + $dr][$col + $dc] for $dr, $dc in {offs_lit}\n"
              f"           if 0 <= $row + $dr < len($grid) and 0 <= $col + $dc < len($grid[0]))")
    cases = []
    for _ in range(4):
        h, w = rng.randint(2, 5), rng.randint(2, 5)
        cases.append((_matrix(rng, h, w, 0, 1), rng.randrange(h), rng.randrange(w)))
    full = [[1] * 3 for _ in range(3)]
    cases += [([[1]], 0, 0), (full, 1, 1), (full, 0, 0), ([[0, 0], [0, 0]], 1, 0), ([[1, 0, 1]], 0, 1)]
    kind = "eight surrounding cells (diagonals included)" if diagonal else "four cells above, below, left and right"
    return _build(
        rng, names=("live_neighbours", "count_neighbors", "neighbour_count", "alive_around", "adjacent_ones"),
        params=[P("grid", ("grid", "board", "cells", "world"), "list[list[int]]", "Rows of 0 (empty) and 1 (alive)."),
                P("row", ("row", "r0", "y", "line"), "int", "The cell's row index."),
                P("col", ("col", "c0", "x", "column"), "int", "The cell's column index.")],
        returns=("int", f"How many of the {kind} hold a 1."),
        summaries=(f"Count the live cells among the {kind} of `$grid[$row][$col]`.",
                   f"Return how many neighbours of the cell at ($row, $col) are alive; neighbours are the {kind}.",
                   "Count the 1s next to a given cell of a 0/1 grid."),
        notes=("Cells outside the grid do not count; the grid does not wrap around.",), bodies=bodies,
        local_names={"count": ("count", "alive", "total"), "dr": ("dr", "di", "row_step"),
                     "dc": ("dc", "dj", "col_step"),
                     "r": ("r", "nr", "ny"), "c": ("c", "nc", "nx")},
        ref=ref, cases=cases)


@_family("matrices.anti_diagonals", ("matrix_traversal", "diagonals", "index-sums"), """
    All the cells of one anti-diagonal have the same sum of row and column index, i + j; the cells of one
    main-direction diagonal have the same difference j - i. Grouping cells by that number collects the
    diagonals of any rectangular matrix in one pass, and sorting by it lists them in order. An r x c matrix
    has r + c - 1 diagonals in each direction.""")
def _anti_diagonals(rng) -> Made:
    kind = pick(rng, ("anti", "main"))

    def ref(matrix):
        groups: dict[int, list[int]] = {}
        for i, row in enumerate(matrix):
            for j, x in enumerate(row):
                groups.setdefault(i + j if kind == "anti" else j - i, []).append(x)
        return [groups[k] for k in sorted(groups)]

    key = "$i + $j" if kind == "anti" else "$j - $i"
    bodies = (f"$groups = {{}}\nfor $i, $row in enumerate($matrix):\n    for $j, $x in enumerate($row):\n"
              f"        $groups.setdefault({key}, []).append($x)\nreturn [$groups[$k] for $k in sorted($groups)]",
              Body("$groups = defaultdict(list)\nfor $i in range(len($matrix)):\n"
                   "    for $j in range(len($matrix[$i])):\n"
                   f"        $groups[{key}].append($matrix[$i][$j])\nreturn [$groups[$k] for $k in sorted($groups)]",
                   ("from collections import defaultdict",)),
              (f"if not $matrix:\n    return []\n$h, $w = len($matrix), len($matrix[0])\n"
               + ("return [[$matrix[$i][$k - $i] for $i in range($h) if 0 <= $k - $i < $w]\n"
                  "        for $k in range($h + $w - 1)]" if kind == "anti"
                  else "return [[$matrix[$i][$i + $k] for $i in range($h) if 0 <= $i + $k < $w]\n"
                       "        for $k in range(1 - $h, $w)]")))
    cases = [(_matrix(rng, rng.randint(1, 4), rng.randint(1, 4), 0, 20),) for _ in range(3)]
    cases += [([],), ([[5]],), ([[1, 2], [3, 4]],), ([[1, 2, 3]],)]
    if kind == "anti":
        what = "anti-diagonals (cells with equal row + column index)"
        order = "from the top-left corner to the bottom-right one"
    else:
        what = "diagonals parallel to the main diagonal (cells with equal column - row index)"
        order = "from the bottom-left corner to the top-right one"
    return _build(
        rng,
        names=(f"{kind}_diagonals", "diagonal_groups", f"collect_{kind}_diagonals", "diagonals_of",
               f"list_{kind}_diagonals"),
        params=[P("matrix", ("matrix", "grid", "table", "block"), "list[list[int]]",
                  "A rectangular matrix as a list of rows.")],
        returns=("list[list[int]]", f"One list per diagonal, {order}; each diagonal is read top to bottom."),
        summaries=(f"Return the {what} of `$matrix`.",
                   f"Group the entries of $matrix by diagonal and list the diagonals {order}.",
                   f"Split a matrix into its {what}."),
        notes=("An r x c matrix has r + c - 1 diagonals.",), bodies=bodies,
        local_names={"groups": ("groups", "by_diagonal", "diags"), "i": ("i", "r", "y"), "j": ("j", "c", "col"),
                     "row": ("row", "line", "cells"),
                     "x": ("x", "value", "entry"), "k": ("k", "d", "key"), "h": ("h", "n_rows", "height"),
                     "w": ("w", "n_cols", "width")},
        ref=ref, cases=cases)


@_family("matrices.matrix_product", ("linear_algebra_basics", "matrix-multiplication", "nested-loops"), """
    The product of an n x m matrix A and an m x p matrix B is the n x p matrix whose entry (i, j) is the dot
    product of row i of A with column j of B: the sum over k of A[i][k] * B[k][j]. The inner dimensions must
    agree. Three nested loops compute it directly; with `zip(*B)` to get the columns, each entry becomes a
    `sum` over a `zip` of a row and a column.""")
def _matrix_product(rng) -> Made:
    def ref(a, b):
        return [[sum(x * y for x, y in zip(row, col)) for col in zip(*b)] for row in a]

    bodies = ("return [[sum($x * $y for $x, $y in zip($row, $col)) for $col in zip(*$b)] for $row in $a]",
              "$n, $m, $p = len($a), len($b), len($b[0])\n$result = [[0] * $p for _ in range($n)]\n"
              "for $i in range($n):\n"
              "    for $j in range($p):\n        for $k in range($m):\n"
              "            $result[$i][$j] += $a[$i][$k] * $b[$k][$j]\nreturn $result",
              "$cols = list(zip(*$b))\n$result = []\nfor $row in $a:\n"
              "    $result.append([sum($x * $y for $x, $y in zip($row, $col)) for $col in $cols])\n"
              "return $result")
    cases = []
    for _ in range(3):
        n, m, p = rng.randint(1, 3), rng.randint(1, 3), rng.randint(1, 3)
        cases.append((_matrix(rng, n, m, -5, 5), _matrix(rng, m, p, -5, 5)))
    ident = [[1, 0], [0, 1]]
    sq = _matrix(rng, 2, 2, -5, 5)
    cases += [(ident, sq), (sq, ident), ([[2]], [[3]]), ([[1, 2, 3]], [[1], [1], [1]]), ([[1], [2]], [[3, 4]])]
    return _build(
        rng, names=("matrix_multiply", "mat_mul", "matrix_product", "multiply_matrices", "matmul"),
        params=[P("a", ("a", "left", "m1", "first"), "list[list[int]]", "An n x m matrix (n, m >= 1)."),
                P("b", ("b", "right", "m2", "second"), "list[list[int]]", "An m x p matrix.")],
        returns=("list[list[int]]", "The n x p product matrix."),
        summaries=("Return the matrix product of `$a` and `$b`.",
                   "Multiply the matrices $a and $b (the number of columns of $a equals the number of rows of $b).",
                   "Compute A x B, where entry (i, j) is row i of A dotted with column j of B."),
        notes=("Matrix multiplication is not commutative: A x B and B x A usually differ.",), bodies=bodies,
        local_names={"x": ("x", "u", "lhs"), "y": ("y", "v", "rhs"), "row": ("row", "a_row", "r"),
                     "col": ("col", "b_col", "c"),
                     "n": ("n", "rows"), "m": ("m", "inner"), "p": ("p", "cols_out"),
                     "result": ("result", "product", "out"),
                     "i": ("i",), "j": ("j",), "k": ("k", "t"), "cols": ("cols", "columns", "b_columns")},
        ref=ref, cases=cases)


@_family("matrices.determinant", ("linear_algebra_basics", "cofactor-expansion", "recursion"), """
    The determinant of a square matrix is a single number that says, among other things, whether the
    matrix can be inverted (it can exactly when the determinant is not 0). For 2 x 2 it is ad - bc; larger
    matrices expand along the first row: each entry times the determinant of the minor left after deleting
    its row and column, with alternating signs. For integer matrices this recursion stays exact.""")
def _determinant(rng) -> Made:
    def ref(matrix):
        n = len(matrix)
        if n == 0:
            return 1
        if n == 1:
            return matrix[0][0]
        return sum((-1) ** j * matrix[0][j] * ref([row[:j] + row[j + 1:] for row in matrix[1:]]) for j in range(n))

    minor = "[$row[:$j] + $row[$j + 1:] for $row in $matrix[1:]]"
    bodies = (f"if not $matrix:\n    return 1\nif len($matrix) == 1:\n    return $matrix[0][0]\n$total = 0\n"
              f"for $j in range(len($matrix)):\n    $sub = {minor}\n    $sign = 1 if $j % 2 == 0 else -1\n"
              f"    $total += $sign * $matrix[0][$j] * $entry($sub)\nreturn $total",
              "if len($matrix) == 0:\n    return 1\nif len($matrix) == 2:\n"
              "    return $matrix[0][0] * $matrix[1][1] - $matrix[0][1] * $matrix[1][0]\n"
              "if len($matrix) == 1:\n    return $matrix[0][0]\n"
              f"return sum((-1) ** $j * $matrix[0][$j] * $entry({minor}) for $j in range(len($matrix)))",
              Body("$rows = [[Fraction($x) for $x in $row] for $row in $matrix]\n$n = len($rows)\n$det = Fraction(1)\n"
                   "for $j in range($n):\n"
                   "    $pivot = next(($i for $i in range($j, $n) if $rows[$i][$j] != 0), None)\n"
                   "    if $pivot is None:\n        return 0\n"
                   "    if $pivot != $j:\n        $rows[$j], $rows[$pivot] = $rows[$pivot], $rows[$j]\n"
                   "        $det = -$det\n"
                   "    $det *= $rows[$j][$j]\n    for $i in range($j + 1, $n):\n"
                   "        $factor = $rows[$i][$j] / $rows[$j][$j]\n"
                   "        for $k in range($j, $n):\n            $rows[$i][$k] -= $factor * $rows[$j][$k]\n"
                   "return int($det)",
                   ("from fractions import Fraction",)))
    cases = [(_matrix(rng, n, n, -6, 6),) for n in (2, 3, 3, 4)]
    cases += [([],), ([[7]],), ([[1, 2], [2, 4]],), ([[2, 0, 0], [0, 3, 0], [0, 0, 4]],), ([[0, 1], [1, 0]],)]
    return _build(
        rng, names=("determinant", "det", "matrix_determinant", "compute_determinant", "det_of"),
        params=[P("matrix", ("matrix", "square", "m", "grid"), "list[list[int]]",
                  "A square matrix of integers as a list of rows.")],
        returns=("int", "The determinant (1 for the empty 0 x 0 matrix)."),
        summaries=("Return the determinant of the square integer matrix `$matrix`.",
                   "Compute det($matrix) by cofactor expansion along the first row.",
                   "Find the determinant of a small square matrix exactly."),
        notes=("A matrix with two equal or proportional rows has determinant 0.",), bodies=bodies,
        local_names={"total": ("total", "acc", "result"), "j": ("j", "col", "c"), "sub": ("sub", "minor", "rest"),
                     "sign": ("sign", "sgn", "parity"), "row": ("row", "line", "r"), "rows": ("rows", "work", "a"),
                     "x": ("x", "v", "cell"),
                     "n": ("n", "size", "dim"), "det": ("det", "product", "value"),
                     "pivot": ("pivot", "p", "swap_with"),
                     "i": ("i", "below", "r2"), "factor": ("factor", "ratio", "scale"), "k": ("k", "t", "cc")},
        ref=ref, cases=cases)


# ------------------------------------------------------------------------------------------------- dates

# Date formats an exercise may use: (how the docstring describes it, its strftime pattern).
_DATE_FORMATS = (("YYYY-MM-DD", "%Y-%m-%d"), ("DD/MM/YYYY", "%d/%m/%Y"), ("MM/DD/YYYY", "%m/%d/%Y"),
                 ("YYYY.MM.DD", "%Y.%m.%d"))


def _random_date(rng, lo: int = 1990, hi: int = 2030) -> date:
    return date(rng.randint(lo, hi), 1, 1) + timedelta(days=rng.randint(0, 364))


def _date_edge_cases() -> list[date]:
    """Dates where calendar code goes wrong: month and year ends, leap days, century rules."""
    return [date(2024, 2, 28), date(2023, 12, 31), date(2000, 2, 29), date(1900, 2, 28), date(2021, 1, 31)]


@_family("dates.shift_date", ("date_arithmetic", "timedelta", "strptime"), """
    Adding days to a calendar date by hand means handling month lengths, leap years and year ends. The
    `datetime` module already knows all of that: parse the text into a `date`, add a `timedelta(days=n)`
    and format the result back. `date.fromisoformat` reads the ISO form YYYY-MM-DD directly, while
    `datetime.strptime` with a format string reads any other layout.""")
def _shift_date(rng) -> Made:
    desc, fmt = pick(rng, _DATE_FORMATS)

    def ref(text, days):
        from datetime import datetime
        return (datetime.strptime(text, fmt).date() + timedelta(days=days)).strftime(fmt)

    bodies = [Body(f"$day = datetime.strptime($text, {fmt!r}).date()\n"
                   f"return ($day + timedelta(days=$days)).strftime({fmt!r})",
                   ("from datetime import datetime, timedelta",)),
              Body(f"$moment = datetime.datetime.strptime($text, {fmt!r})\n$moment += datetime.timedelta(days=$days)\n"
                   f"return $moment.strftime({fmt!r})", ("import datetime",))]
    if fmt == "%Y-%m-%d":
        bodies.append(Body("return (date.fromisoformat($text) + timedelta(days=$days)).isoformat()",
                           ("from datetime import date, timedelta",)))
    else:
        bodies.append(Body(f"$day = datetime.strptime($text, {fmt!r}).date()\n$result = $day + timedelta(days=$days)\n"
                           f"return $result.strftime({fmt!r})", ("from datetime import datetime, timedelta",)))
    cases = [(_random_date(rng).strftime(fmt), rng.randint(-400, 400)) for _ in range(3)]
    cases += [(d.strftime(fmt), n) for d, n in zip(_date_edge_cases(), (1, 1, 365, 1, 30))]
    cases.append((_random_date(rng).strftime(fmt), 0))
    return _build(
        rng, names=("add_days", "shift_date", "date_after", "move_date", "offset_date"),
        params=[P("text", ("text", "day_text", "date_str", "start"), "str", f"A date written as {desc}."),
                P("days", ("days", "n_days", "offset", "delta"), "int", "How many days to move; negative moves back.")],
        returns=("str", f"The resulting date, also written as {desc}."),
        summaries=(f"Return the date `$days` days after `$text` (both written as {desc}).",
                   f"Add $days days to the {desc} date $text and return the new date in the same format.",
                   "Move a calendar date forwards or backwards by a number of days."),
        notes=("Month ends, year ends and leap years are handled by the calendar.",), bodies=bodies,
        local_names={"day": ("day", "when", "parsed"), "moment": ("moment", "stamp", "dt"),
                     "result": ("result", "shifted", "later")},
        ref=ref, cases=cases)


@_family("dates.days_between", ("date_arithmetic", "date-difference", "ordinal"), """
    Subtracting two `date` objects gives a `timedelta`, whose `.days` is the number of days between them,
    negative when the second date comes first. Another route is `toordinal()`, which numbers every day
    since 1 January of year 1, so that the difference of two ordinals is the distance in days. Whether the
    answer is signed or absolute is part of the question.""")
def _days_between(rng) -> Made:
    signed = pick(rng, (True, False))

    def ref(start, end):
        d = (date.fromisoformat(end) - date.fromisoformat(start)).days
        return d if signed else abs(d)

    wrap = (lambda e: e) if signed else (lambda e: f"abs({e})")
    bodies = (Body(f"return {wrap('(date.fromisoformat($end) - date.fromisoformat($start)).days')}",
                   ("from datetime import date",)),
              Body("$first = datetime.strptime($start, \"%Y-%m-%d\")\n"
                   "$second = datetime.strptime($end, \"%Y-%m-%d\")\n"
                   f"return {wrap('($second - $first).days')}", ("from datetime import datetime",)),
              Body("$gap = date.fromisoformat($end).toordinal() - date.fromisoformat($start).toordinal()\n"
                   f"return {wrap('$gap')}",
                   ("from datetime import date",)))
    cases = [(_random_date(rng).isoformat(), _random_date(rng).isoformat()) for _ in range(3)]
    d0 = _random_date(rng).isoformat()
    cases += [(d0, d0), ("2024-02-28", "2024-03-01"), ("2023-02-28", "2023-03-01"), ("2000-01-01", "1999-12-31"),
              ("1900-01-01", "1901-01-01")]
    return _build(
        rng, names=("days_between", "day_difference", "count_days", "days_apart", "date_gap"),
        params=[P("start", ("start", "first_day", "since", "begin"), "str", "A date as YYYY-MM-DD."),
                P("end", ("end", "last_day", "until", "finish"), "str", "Another date as YYYY-MM-DD.")],
        returns=("int", "Days from `$start` to `$end`, negative if `$end` comes first." if signed else
                 "The number of days between the two dates, never negative."),
        summaries=(f"Return the number of days from `$start` to `$end`{'' if signed else ', whichever comes first'}.",
                   "Count the days between two ISO dates"
                   + (" (positive when $end is later)." if signed else " as a distance."),
                   "Compute how many days separate $start and $end."),
        notes=("The same date twice gives 0.", "Leap days are counted."), bodies=bodies,
        local_names={"first": ("first", "a", "d1"), "second": ("second", "b", "d2"), "gap": ("gap", "delta", "diff")},
        ref=ref, cases=cases)


@_family("dates.weekday_name", ("date_arithmetic", "weekday", "calendar-module"), """
    `date.weekday()` numbers the days Monday = 0 to Sunday = 6, so the name of a date's day is an index
    into a list of names, or into `calendar.day_name`. Zeller's congruence computes the same thing with
    integer arithmetic alone, treating January and February as months 13 and 14 of the previous year so
    that the leap day falls at the end of the counting year.""")
def _weekday_name(rng) -> Made:
    short = pick(rng, (False, False, True))
    names = [n[:3] if short else n
             for n in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")]

    def ref(year, month, day):
        return names[date(year, month, day).weekday()]

    lit = repr(names)
    zeller = _code(f"""
        $m, $y = $month, $year
        if $m < 3:
            $m += 12
            $y -= 1
        $h = ($day + 13 * ($m + 1) // 5 + $y + $y // 4 - $y // 100 + $y // 400) % 7
        return {lit}[($h + 5) % 7]""")
    bodies = (Body(f"return {lit}[date($year, $month, $day).weekday()]", ("from datetime import date",)),
              Body(("return calendar.day_abbr[calendar.weekday($year, $month, $day)]" if short else
                    "return calendar.day_name[calendar.weekday($year, $month, $day)]"), ("import calendar",)),
              zeller)
    cases = [tuple(int(x) for x in _random_date(rng, 1800, 2100).isoformat().split("-")) for _ in range(4)]
    cases += [(2000, 1, 1), (2024, 2, 29), (1970, 1, 1), (2023, 3, 1)]
    return _build(
        rng, names=("weekday_name", "day_of_week", "name_of_day", "which_weekday", "weekday_of"),
        params=[P("year", ("year", "yr", "y"), "int", "The year, e.g. 2024."),
                P("month", ("month", "mon", "mm"), "int", "The month, 1 to 12."),
                P("day", ("day", "dd", "day_num"), "int", "The day of the month.")],
        returns=("str",
                 f"The {'three-letter abbreviation of the ' if short else ''}English name of the weekday, e.g. "
                 f"{names[0]!r}."),
        summaries=("Return the name of the weekday on which the date `$year`-`$month`-`$day` falls.",
                   "Find which day of the week the given calendar date is.",
                   f"Name the weekday ({names[0]!r} to {names[-1]!r}) of $day/$month/$year."),
        notes=("The Gregorian calendar is used for every year.",), bodies=bodies,
        local_names={"m": ("m", "mo"), "y": ("y", "yy"), "h": ("h", "index", "zeller")}, ref=ref, cases=cases)


@_family("dates.count_leap_years", ("calendars_and_leap_years", "leap-rule", "counting"), """
    In the Gregorian calendar a year is a leap year when it is divisible by 4, except century years, which
    must also be divisible by 400: 2000 was a leap year, 1900 was not. Counting leap years in a range can
    test each year, or use the closed form: the leap years up to y number y // 4 - y // 100 + y // 400,
    and subtracting that count at the start of the range leaves those inside it.""")
def _count_leap_years(rng) -> Made:
    def ref(first, last):
        return sum(1 for y in range(first, last + 1) if calendar.isleap(y))

    rule = "$y % 4 == 0 and ($y % 100 != 0 or $y % 400 == 0)"
    bodies = (f"return sum(1 for $y in range($first, $last + 1) if {rule})",
              Body("if $last < $first:\n    return 0\nreturn calendar.leapdays($first, $last + 1)" if pick(rng,
                                                                                                           (True,
                                                                                                            False)) else
                   "return sum(calendar.isleap($y) for $y in range($first, $last + 1))", ("import calendar",)),
              Body("if $last < $first:\n    return 0\nreturn $upto($last) - $upto($first - 1)", (),
                   "def $upto($y: int) -> int:\n    return $y // 4 - $y // 100 + $y // 400"),
              f"$count = 0\nfor $y in range($first, $last + 1):\n    if {rule}:\n        $count += 1\nreturn $count")
    lo = rng.randint(1600, 2050)
    cases = [(lo, lo + rng.randint(0, 150)), (rng.randint(1, 999), rng.randint(1000, 3000)),
             (rng.randint(1890, 1910), rng.randint(1990, 2010))]
    cases += [(2000, 2000), (1900, 1900), (2001, 2003), (1896, 1904), (2030, 2010)]
    return _build(
        rng,
        names=("count_leap_years", "leap_years_between", "number_of_leap_years", "leap_year_count", "tally_leap_years"),
        params=[P("first", ("first", "start", "from_year", "begin"), "int", "The first year of the range (>= 1)."),
                P("last", ("last", "end", "to_year", "stop"), "int", "The last year of the range, inclusive.")],
        returns=("int", "How many leap years lie between `$first` and `$last`, inclusive."),
        summaries=("Count the leap years from `$first` to `$last`, both included.",
                   "Return how many Gregorian leap years there are in the years $first..$last.",
                   "Find the number of years in a range that have a 29 February."),
        notes=("Century years are leap years only when divisible by 400.", "An empty range ($first > $last) has none."),
        bodies=bodies, local_names={"y": ("y", "year", "yr"), "count": ("count", "total", "leaps"),
                                    "upto": ("leaps_up_to", "leap_count_until", "leaps_through")},
        ref=ref, cases=cases)


@_family("dates.month_length", ("calendars_and_leap_years", "lookup-table", "leap-rule"), """
    Months have 31, 30 or 28 days, and February gains a day in leap years. A table of the twelve lengths
    answers everything but February, which needs the leap-year rule; `calendar.monthrange(year, month)`
    returns the weekday of the first day and the number of days, so its second value is the answer too.
    A third way: the day before the first of the next month is the last day of this one.""")
def _month_length(rng) -> Made:
    def ref(year, month):
        return calendar.monthrange(year, month)[1]

    leap = "$year % 4 == 0 and ($year % 100 != 0 or $year % 400 == 0)"
    bodies = (f"$lengths = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]\nif $month == 2 and {leap}:\n"
              "    return 29\nreturn $lengths[$month - 1]",
              Body("return calendar.monthrange($year, $month)[1]", ("import calendar",)),
              Body("$next_first = date($year + 1, 1, 1) if $month == 12 else date($year, $month + 1, 1)\n"
                   "return ($next_first - date($year, $month, 1)).days", ("from datetime import date",)),
              f"if $month == 2:\n    return 29 if {leap} else 28\n"
              "if $month in (4, 6, 9, 11):\n    return 30\nreturn 31")
    cases = [(rng.randint(1800, 2100), rng.randint(1, 12)) for _ in range(4)]
    cases += [(2024, 2), (2023, 2), (1900, 2), (2000, 2), (2021, 12), (2021, 4)]
    return _build(
        rng, names=("days_in_month", "month_length", "month_days", "length_of_month", "last_day_of_month"),
        params=[P("year", ("year", "yr", "y"), "int", "The year (Gregorian calendar)."),
                P("month", ("month", "mon", "m"), "int", "The month, 1 = January to 12 = December.")],
        returns=("int", "The number of days in that month: 28, 29, 30 or 31."),
        summaries=("Return how many days month `$month` of year `$year` has.",
                   "Find the length in days of the given month, taking leap years into account.",
                   "Give the number of the last day of month $month in $year."),
        notes=("February has 29 days in leap years.",), bodies=bodies,
        local_names={"lengths": ("lengths", "days_per_month", "table"),
                     "next_first": ("next_first", "following", "first_of_next")},
        ref=ref, cases=cases)


@_family("dates.day_of_year", ("calendars_and_leap_years", "cumulative-sum", "timetuple"), """
    The day of the year (1 January is day 1, 31 December is day 365 or 366) is the sum of the lengths of
    the months before the date's month, plus its day of the month, plus one more after February in a leap
    year. `date.timetuple().tm_yday` gives it directly, and subtracting 1 January of the same year from the
    date gives it as a difference of dates.""")
def _day_of_year(rng) -> Made:
    def ref(text):
        return date.fromisoformat(text).timetuple().tm_yday

    leap = "$year % 4 == 0 and ($year % 100 != 0 or $year % 400 == 0)"
    bodies = (Body("return date.fromisoformat($text).timetuple().tm_yday", ("from datetime import date",)),
              Body("$day = date.fromisoformat($text)\nreturn ($day - date($day.year, 1, 1)).days + 1",
                   ("from datetime import date",)),
              "$year, $month, $dom = (int($part) for $part in $text.split(\"-\"))\n"
              "$lengths = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]\n"
              f"if {leap}:\n    $lengths[1] = 29\nreturn sum($lengths[:$month - 1]) + $dom")
    cases = [(_random_date(rng, 1800, 2100).isoformat(),) for _ in range(4)]
    cases += [("2023-01-01",), ("2023-12-31",), ("2024-12-31",), ("2024-03-01",), ("1900-03-01",)]
    return _build(
        rng, names=("day_of_year", "ordinal_day", "day_number", "nth_day_of_year", "yearday"),
        params=[P("text", ("text", "iso_date", "date_str", "when"), "str", "A date written as YYYY-MM-DD.")],
        returns=("int", "The position of the date within its year, from 1 to 366."),
        summaries=("Return the day of the year of the date `$text` (1 January is day 1).",
                   "Compute which day of its year the ISO date $text is.",
                   "Turn a YYYY-MM-DD date into its ordinal day within the year."),
        notes=("31 December is day 366 in a leap year.",), bodies=bodies,
        local_names={"day": ("day", "parsed", "d"), "year": ("year", "yr"), "month": ("month", "mon"),
                     "dom": ("dom", "mday", "day_of_month"),
                     "part": ("part", "piece", "field"), "lengths": ("lengths", "month_days", "table")},
        ref=ref, cases=cases)


@_family("dates.clock_format", ("time_formatting", "divmod", "zero-padding"), """
    A duration in seconds splits into hours, minutes and seconds with two `divmod` calls: divmod by 3600
    gives the hours and the leftover seconds, divmod of the leftover by 60 gives minutes and seconds. A
    clock display pads each field with zeros (`f"{m:02d}"`), while a human-readable one names the units
    and leaves out the parts that are zero.""")
def _clock_format(rng) -> Made:
    style = pick(rng, ("colon", "colon_short", "units"))

    def ref(seconds):
        h, rest = divmod(seconds, 3600)
        m, s = divmod(rest, 60)
        if style == "colon":
            return f"{h:02d}:{m:02d}:{s:02d}"
        if style == "colon_short":
            return f"{h}:{m:02d}:{s:02d}"
        parts = [f"{v}{u}" for v, u in ((h, "h"), (m, "m"), (s, "s")) if v]
        return " ".join(parts) or "0s"

    split2 = "$hours, $rest = divmod($seconds, 3600)\n$minutes, $secs = divmod($rest, 60)\n"
    split_ops = "$hours = $seconds // 3600\n$minutes = $seconds % 3600 // 60\n$secs = $seconds % 60\n"
    if style.startswith("colon"):
        hf = "02d" if style == "colon" else "d"
        fmt = f'f"{{$hours:{hf}}}:{{$minutes:02d}}:{{$secs:02d}}"'
        bodies = (split2 + f"return {fmt}", split_ops + f"return {fmt}",
                  split2 + ("return \":\".join([str($hours).zfill(2), str($minutes).zfill(2), str($secs).zfill(2)])"
                            if style == "colon"
                            else "return str($hours) + \":\" + str($minutes).zfill(2) + \":\" + str($secs).zfill(2)"))
        shape = "HH:MM:SS" if style == "colon" else "H:MM:SS"
        what = f"a clock string {shape}"
        note = "Hours are not limited to 24; a long duration simply shows more hours."
    else:
        bodies = (split2 + "$parts = []\nif $hours:\n    $parts.append(f\"{$hours}h\")\nif $minutes:\n"
                           "    $parts.append(f\"{$minutes}m\")\n"
                           "if $secs:\n    $parts.append(f\"{$secs}s\")\n"
                           "return \" \".join($parts) if $parts else \"0s\"",
                  split_ops + "$units = (($hours, \"h\"), ($minutes, \"m\"), ($secs, \"s\"))\n"
                              "$parts = [f\"{$v}{$u}\" for $v, $u in $units if $v]\n"
                              "return \" \".join($parts) or \"0s\"")
        shape, what = "'1h 2m 3s'", "a short text such as '1h 2m 3s'"
        note = "Zero parts are left out, so 3600 becomes '1h'; 0 seconds is written '0s'."
    cases = [(rng.randint(0, 100000),) for _ in range(4)] + [(0,), (59,), (60,), (3600,), (86399,), (3661,)]
    return _build(
        rng, names=("format_duration", "seconds_to_clock" if style != "units" else "humanize_seconds", "format_seconds",
                    "duration_text", "render_elapsed"),
        params=[P("seconds", ("seconds", "total_seconds", "elapsed", "duration"), "int",
                  "A non-negative number of seconds.")],
        returns=("str", f"The duration as {what}."),
        summaries=(f"Format `$seconds` as {what}.",
                   "Turn a number of seconds into hours, minutes and seconds and return it as text"
                   + (f" ({shape})." if style != "units" else "."),
                   f"Return a readable form of the duration $seconds, e.g. 3725 -> {ref(3725)!r}."),
        rule=note if style == "units" else "", notes=(note,), bodies=bodies,
        local_names={"hours": ("hours", "h", "hh"), "rest": ("rest", "remainder", "left"),
                     "minutes": ("minutes", "mins", "mm"),
                     "secs": ("secs", "s", "ss"), "parts": ("parts", "pieces", "fields"), "v": ("v", "amount", "count"),
                     "u": ("u", "unit", "suffix"), "units": ("units", "labelled", "amounts")},
        ref=ref, cases=cases)


@_family("dates.twelve_hour", ("time_formatting", "clock-conversion", "strptime"), """
    The 12-hour clock writes hours 1 to 12 with AM or PM: hour 0 becomes 12 AM (midnight), 12 stays 12 PM
    (noon) and 13 to 23 lose 12. The rule is `hour % 12 or 12` for the number and `hour < 12` for the
    suffix, which handles both special cases. `datetime.strptime` and `strftime("%I:%M %p")` do the same
    conversion, with a leading zero on the hour.""")
def _twelve_hour(rng) -> Made:
    pad, lower = pick(rng, (False, False, True)), pick(rng, (False, True))
    am, pm = ("am", "pm") if lower else ("AM", "PM")

    def ref(text):
        h, m = (int(x) for x in text.split(":"))
        hh = h % 12 or 12
        return f"{hh:02d}:{m:02d} {pm if h >= 12 else am}" if pad else f"{hh}:{m:02d} {pm if h >= 12 else am}"

    hour_fmt = "{$hour12:02d}" if pad else "{$hour12}"
    bodies = ["$hour, $minute = (int($part) for $part in $text.split(\":\"))\n"
              f"$suffix = {am!r} if $hour < 12 else {pm!r}\n"
              f"$hour12 = $hour % 12 or 12\nreturn f\"{hour_fmt}:{{$minute:02d}} {{$suffix}}\"",
              f"$hour = int($text[:2])\n$minute = $text[3:]\nif $hour == 0:\n    $hour12, $suffix = 12, {am!r}\n"
              "elif $hour < 12:\n"
              f"    $hour12, $suffix = $hour, {am!r}\nelif $hour == 12:\n    $hour12, $suffix = 12, {pm!r}\nelse:\n"
              f"    $hour12, $suffix = $hour - 12, {pm!r}\nreturn f\"{hour_fmt}:{{$minute}} {{$suffix}}\""]
    tail = ("" if pad else ".lstrip(\"0\")") + (".lower()" if lower else "")
    bodies.append(Body(f"return datetime.strptime($text, \"%H:%M\").strftime(\"%I:%M %p\"){tail}",
                       ("from datetime import datetime",)))
    cases = [(f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}",) for _ in range(4)]
    cases += [("00:00",), ("12:00",), ("00:45",), ("12:59",), ("23:59",), ("09:05",)]
    return _build(
        rng, names=("to_twelve_hour", "format_12_hour", "twelve_hour_clock", "am_pm_time", "convert_to_12h"),
        params=[P("text", ("text", "time_24", "clock", "hhmm"), "str", "A time on the 24-hour clock as 'HH:MM'.")],
        returns=("str", f"The same time on the 12-hour clock, e.g. {ref('14:05')!r}."),
        summaries=(f"Convert the 24-hour time `$text` to 12-hour form with {am!r} or {pm!r}.",
                   f"Return $text (HH:MM, 00:00 to 23:59) written on a 12-hour clock, like {ref('09:30')!r}.",
                   "Rewrite a 24-hour clock time in AM/PM notation."),
        notes=(f"Midnight is {ref('00:00')!r} and noon is {ref('12:00')!r}.",), bodies=bodies,
        local_names={"hour": ("hour", "h", "hh"), "minute": ("minute", "m", "mins"), "part": ("part", "field", "x"),
                     "suffix": ("suffix", "half", "period"), "hour12": ("hour12", "display_hour", "h12")},
        ref=ref, cases=cases)


_DURATION_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


@_family("dates.parse_duration", ("durations", "regex", "unit-table"), """
    Durations such as "1h30m" or "2d 4h" pair numbers with unit letters. A regular expression like
    `(\\d+)\\s*([dhms])` finds every number-unit pair, and a table from unit to seconds turns each pair into
    seconds to add up. A hand-written scanner does the same by collecting digits until it meets a unit
    letter; both skip the spaces between pairs.""")
def _parse_duration(rng) -> Made:
    target = pick(rng, ("seconds", "minutes"))
    units = {u: v for u, v in _DURATION_UNITS.items() if target == "seconds" or u != "s"}
    if target == "minutes":
        units = {u: v // 60 for u, v in units.items()}

    def ref(text):
        return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)\s*([" + "".join(units) + "])", text))

    letters = "".join(units)
    table = "{" + ", ".join(f'"{u}": {v}' for u, v in units.items()) + "}"
    bodies = (Body(f"$factors = {table}\nreturn sum(int($amount) * $factors[$unit] for $amount, $unit in re.findall(r\""
                   f"(\\d+)\\s*([{letters}])\", $text))",
                   ("import re",)),
              f"$factors = {table}\n$total = 0\n$digits = \"\"\nfor $ch in $text:\n    if $ch.isdigit():\n"
              "        $digits += $ch\n"
              "    elif $ch in $factors and $digits:\n        $total += int($digits) * $factors[$ch]\n"
              "        $digits = \"\"\nreturn $total",
              Body(f"$factors = {table}\n$total = 0\nfor $match in re.finditer(r\"(\\d+)\\s*([{letters}])\", $text):\n"
                   f"    $total += int($match.group(1)) * $factors[$match.group(2)]\nreturn $total", ("import re",)))
    cases = []
    for _ in range(4):
        chosen = sorted(rng.sample(list(units), rng.randint(1, len(units))), key=list(units).index)
        sep = pick(rng, ("", " "))
        cases.append((sep.join(f"{rng.randint(1, 59)}{u}" for u in chosen),))
    cases += [("",), (f"1{list(units)[-1]}",), ("1h30m",), ("2d 4h",), ("90m",), ("0h",)]
    unit_text = ", ".join(f"{u!r}" for u in units)
    return _build(
        rng, names=("parse_duration", f"duration_to_{target}", f"total_{target}", f"{target}_in", "read_duration"),
        params=[P("text", ("text", "spec", "duration", "span"), "str",
                  f"Number-unit pairs such as '1h30m'; units {unit_text}.")],
        returns=("int", f"The whole duration in {target} (0 for an empty string)."),
        summaries=(f"Convert a duration written like '1h30m' into {target}.",
                   f"Return the number of {target} in the duration $text, made of numbers followed by the units "
                   f"{unit_text}.",
                   f"Parse a compact duration string and add its parts up in {target}."),
        notes=("Spaces between the pairs are allowed.", "The units may come in any order and may repeat."),
        bodies=bodies,
        local_names={"factors": ("factors", "per_unit", "unit_size"), "amount": ("amount", "number", "qty"),
                     "unit": ("unit", "letter", "u"),
                     "total": ("total", "result", "acc"), "digits": ("digits", "pending", "buffer"),
                     "ch": ("ch", "c", "char"),
                     "match": ("match", "m", "found")},
        ref=ref, cases=cases)


@_family("dates.shift_length", ("durations", "modulo", "midnight-wrap"), """
    Times of day are easiest to compare as minutes since midnight: "HH:MM" becomes 60 * HH + MM. The
    length of a shift is end minus start, and a shift that ends after midnight (22:00 to 06:00) gives a
    negative difference; taking it modulo 1440, the minutes in a day, wraps it back to the right positive
    value. The same modulo keeps a shift that starts and ends at the same time at 0.""")
def _shift_length(rng) -> Made:
    as_text = pick(rng, (False, True))

    def ref(start, end):
        def mins(t):
            h, m = t.split(":")
            return int(h) * 60 + int(m)
        d = (mins(end) - mins(start)) % 1440
        return f"{d // 60}:{d % 60:02d}" if as_text else d

    fin = "return f\"{$gap // 60}:{$gap % 60:02d}\"" if as_text else "return $gap"
    helper = "def $to_minutes($clock: str) -> int:\n    $h, $m = $clock.split(\":\")\n    return int($h) * 60 + int($m)"
    bodies = (Body(f"$gap = ($to_minutes($end) - $to_minutes($start)) % 1440\n{fin}", (), helper),
              "$sh, $sm = map(int, $start.split(\":\"))\n$eh, $em = map(int, $end.split(\":\"))\n"
              "$gap = ($eh * 60 + $em) - ($sh * 60 + $sm)\n"
              f"if $gap < 0:\n    $gap += 24 * 60\n{fin}",
              Body(f"$t0 = datetime.strptime($start, \"%H:%M\")\n$t1 = datetime.strptime($end, \"%H:%M\")\n"
                   f"$gap = int(($t1 - $t0).total_seconds() // 60) % 1440\n{fin}", ("from datetime import datetime",)))

    def clock():
        return f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"

    t = clock()
    cases = [(clock(), clock()) for _ in range(4)] + [(t, t), ("22:00", "06:00"), ("09:15", "17:45"),
                                                      ("23:59", "00:00"), ("00:00", "23:59")]
    return _build(
        rng,
        names=("shift_length", "minutes_between", "duration_between_times",
               "elapsed_minutes" if not as_text else "elapsed_clock",
                    "time_span"),
        params=[P("start", ("start", "begin", "clock_in", "from_time"), "str",
                  "The start time as 'HH:MM' (24-hour clock)."),
                P("end", ("end", "finish", "clock_out", "to_time"), "str", "The end time as 'HH:MM'.")],
        returns=("str" if as_text else "int",
                 "The length as 'H:MM'." if as_text else "The length in minutes, 0 to 1439."),
        summaries=("Return how long a shift from `$start` to `$end` lasts"
                   + (", as hours and minutes 'H:MM'." if as_text else ", in minutes."),
                   "Compute the time from $start to $end, assuming the end comes after midnight when it is earlier "
                   "than the start.",
                   "Find the duration between two clock times on a 24-hour clock, wrapping past midnight."),
        rule="An end time earlier than the start means the shift ends the next day.",
        notes=("Equal times give a length of zero.",),
        bodies=bodies,
        local_names={"gap": ("gap", "diff", "length"), "to_minutes": ("to_minutes", "minutes_of", "as_minutes"),
                     "clock": ("clock", "hhmm", "t"),
                     "h": ("h", "hours"), "m": ("m", "mins")},
        consts=dict(zip(("sh", "sm", "eh", "em", "t0", "t1"), pick(rng, (
            ("sh", "sm", "eh", "em", "t0", "t1"), ("h0", "m0", "h1", "m1", "begin_dt", "end_dt"),
            ("start_h", "start_m", "end_h", "end_m", "first", "second"))))),
        ref=ref, cases=cases)


# ----------------------------------------------------------------------------------------------- parsing


@_family("parsing.tokenize_expression", ("tokenizing", "scanner", "regex"), """
    A tokenizer is the first stage of every parser: it cuts the input into meaningful pieces (numbers,
    operators, parentheses) and drops what does not matter, such as spaces. A hand-written scanner walks
    the text with an index and, on a digit, keeps reading while digits follow, so that "12" becomes one
    token rather than two. `re.findall` with an alternation like `\\d+|[-+*/()]` states the same rules as
    a pattern.""")
def _tokenize_expression(rng) -> Made:
    decimals = pick(rng, (False, True))
    ops = pick(rng, ("+-*/()", "+-*/()^", "+-*/%()"))
    num_pat = r"\d+(?:\.\d+)?" if decimals else r"\d+"
    # inside [...] only '-' (kept last) and a leading '^' are special, and '+' always comes first here
    pattern = num_pat + "|[" + ops.replace("-", "") + ("-" if "-" in ops else "") + "]"

    def ref(text):
        return re.findall(pattern, text)

    ops_lit = repr(ops)
    fraction = ("        if $j + 1 < len($text) and $text[$j] == \".\" and $text[$j + 1].isdigit():\n"
                "            $j += 1\n"
                "            while $j < len($text) and $text[$j].isdigit():\n"
                "                $j += 1\n") if decimals else ""
    scan = ("$tokens = []\n$i = 0\nwhile $i < len($text):\n    $ch = $text[$i]\n    if $ch.isdigit():\n"
            "        $j = $i\n"
            "        while $j < len($text) and $text[$j].isdigit():\n            $j += 1\n"
            f"{fraction}        $tokens.append($text[$i:$j])\n"
            f"        $i = $j\n        continue\n    if $ch in {ops_lit}:\n        $tokens.append($ch)\n    $i += 1\n"
            "return $tokens")
    regex = Body(f"return re.findall({_raw(pattern)}, $text)", ("import re",))
    regex2 = Body(f"$pattern = re.compile({_raw(pattern)})\nreturn [$m.group() for $m in $pattern.finditer($text)]",
                  ("import re",))
    bodies = (scan, regex, regex2)

    def expr():
        parts = []
        for k in range(rng.randint(2, 5)):
            num = str(rng.randint(0, 250)) + (f".{rng.randint(0, 99)}" if decimals and rng.random() < 0.3 else "")
            parts.append(("(" if rng.random() < 0.2 else "") + num)
            parts.append(pick(rng, ops.replace("(", "").replace(")", "")))
        sep = pick(rng, ("", " "))
        return sep.join(parts[:-1])

    cases = [(expr(),) for _ in range(4)] + [("",), ("42",), ("  7 +  8 ",), ("(1+2)*3",), ("10" + ops[0] + "200",)]
    return _build(
        rng, names=("tokenize", "tokenize_expression", "lex_expression", "split_tokens", "scan_tokens"),
        params=[P("text", ("text", "expression", "source", "formula"), "str", "An arithmetic expression.")],
        returns=("list[str]", "The tokens in order: numbers as strings and single-character operators."),
        summaries=(f"Split the arithmetic expression `$text` into number and operator tokens ({' '.join(ops)}).",
                   "Return the list of tokens of $text, skipping whitespace.",
                   "Tokenize a simple arithmetic expression into " + ("decimal " if decimals else "integer ")
                   + "numbers and operators."),
        rule=("A number is a run of digits, optionally followed by '.' and more digits." if decimals
              else "A number is a maximal run of digits."),
              notes=("Spaces are dropped.", "Any other character is skipped."),
        bodies=bodies,
        local_names={"tokens": ("tokens", "out", "pieces"), "i": ("i", "pos", "start"), "j": ("j", "end", "stop"),
                     "ch": ("ch", "c", "char"),
                     "pattern": ("pattern", "token_re", "lexer"), "m": ("m", "match", "hit")},
        ref=ref, cases=cases)


@_family("parsing.split_quoted", ("tokenizing", "state-machine", "quotes"), """
    Splitting a command line on spaces breaks as soon as an argument contains a space itself, which is why
    shells let you quote it: `copy "my file.txt" backup` has three arguments. A small state machine reads
    the text one character at a time, remembers whether it is inside quotes, and only lets a space end the
    current word outside them. A regular expression that matches either a quoted run or a run of
    non-spaces does the same job.""")
def _split_quoted(rng) -> Made:
    quote = pick(rng, ('"', "'"))

    def ref(text):
        out, cur, inside, started = [], [], False, False
        for c in text:
            if c == quote:
                inside, started = not inside, True
            elif c == " " and not inside:
                if started:
                    out.append("".join(cur))
                cur, started = [], False
            else:
                cur.append(c)
                started = True
        if started:
            out.append("".join(cur))
        return out

    q = repr(quote)
    machine = _code(f"""
        $words = []
        $current = []
        $inside = False
        $started = False
        for $ch in $text:
            if $ch == {q}:
                $inside = not $inside
                $started = True
            elif $ch == " " and not $inside:
                if $started:
                    $words.append("".join($current))
                $current = []
                $started = False
            else:
                $current.append($ch)
                $started = True
        if $started:
            $words.append("".join($current))
        return $words""")
    machine2 = _code(f"""
        $words = []
        $current = None
        $inside = False
        for $ch in $text:
            if $ch == " " and not $inside:
                if $current is not None:
                    $words.append($current)
                    $current = None
                continue
            if $current is None:
                $current = ""
            if $ch == {q}:
                $inside = not $inside
            else:
                $current += $ch
        if $current is not None:
            $words.append($current)
        return $words""")
    bodies = (machine, machine2)
    qw = lambda s: quote + s + quote  # noqa: E731
    cases = [(" ".join(pick(rng, (w, qw(w + " " + v), w)) for w,
                       v in zip(_words(rng, 3), _words(rng, 3))),) for _ in range(3)]
    cases += [("",), ("   ",), ("a  b",), (qw("") + " x",), (f"say {qw('hello there')} now",), (f"ab{qw('c d')}e",)]
    return _build(
        rng, names=("split_args", "split_quoted", "shell_split", "parse_arguments", "split_command_line"),
        params=[P("text", ("text", "line", "command", "args_text"), "str", "Words separated by spaces, some quoted.")],
        returns=("list[str]", "The words, with the quote characters removed."),
        summaries=(f"Split `$text` into words at spaces, except inside {quote} quotes.",
                   f"Break a command line into arguments; a part enclosed in {quote} characters may contain spaces.",
                   "Return the arguments of $text the way a simple shell would split them."),
        notes=(f"An empty pair of quotes {qw('')} is an empty argument; runs of spaces count as one separator.",),
        bodies=bodies,
        local_names={"words": ("words", "args", "parts"), "current": ("current", "word", "buffer"),
                     "inside": ("inside", "quoted", "in_quotes"),
                     "started": ("started", "has_word", "pending"), "ch": ("ch", "c", "char")},
        ref=ref, cases=cases)


@_family("parsing.key_values", ("key_value_and_csv", "split", "strip"), """
    Settings are often written as key=value pairs separated by a delimiter, as in "host=db; port=5432".
    Parsing them is two levels of splitting: first into pairs on the delimiter, then each pair once on the
    first '=' (`partition` or `split("=", 1)`, so a value may itself contain '='). Stripping spaces and
    skipping empty pieces makes the parser tolerant of the way people actually type.""")
def _key_values(rng) -> Made:
    sep = pick(rng, (";", ",", "&", "|"))
    eq = pick(rng, ("=", "=", ":"))

    def ref(text):
        out = {}
        for piece in text.split(sep):
            if eq in piece:
                k, _, v = piece.partition(eq)
                if k.strip():
                    out[k.strip()] = v.strip()
        return out

    s, e = repr(sep), repr(eq)
    bodies = (f"$result = {{}}\nfor $piece in $text.split({s}):\n    if {e} not in $piece:\n        continue\n"
              f"    $key, _, $value = $piece.partition({e})\n    if $key.strip():\n"
              "        $result[$key.strip()] = $value.strip()\nreturn $result",
              f"$result = {{}}\nfor $piece in $text.split({s}):\n    $fields = $piece.split({e}, 1)\n"
              "    if len($fields) == 2 and $fields[0].strip():\n"
              f"        $result[$fields[0].strip()] = $fields[1].strip()\nreturn $result",
              f"$pairs = ($piece.partition({e}) for $piece in $text.split({s}) if {e} in $piece)\n"
              f"return {{$key.strip(): $value.strip() for $key, _, $value in $pairs if $key.strip()}}")
    keys = ("host", "port", "user", "mode", "level", "name", "color", "size", "lang", "path")

    def sample():
        def pad() -> str:
            return pick(rng, ("", " "))

        pairs = [f"{pad()}{k}{pad()}{eq}{pad()}{pick(rng, (pick(rng, _WORDS), str(rng.randint(0, 9999))))}"
                 for k in rng.sample(keys, rng.randint(1, 4))]
        return sep.join(pairs)

    cases = [(sample(),) for _ in range(3)] + [("",), (f"a{eq}1{sep}{sep}b{eq}2",), (f"flag{sep}x{eq}",),
                                               (f"k{eq}1{sep}k{eq}2",),
                                               (f"url{eq}a{eq}b",)]
    return _build(
        rng, names=("parse_key_values", "parse_settings", "pairs_to_dict", "read_options", "parse_config_line"),
        params=[P("text", ("text", "line", "spec", "raw"), "str",
                  f"Pairs written key{eq}value, separated by {sep!r}.")],
        returns=("dict[str, str]", "Each key mapped to its value, both stripped of surrounding spaces."),
        summaries=(f"Parse a string of key{eq}value pairs separated by {sep!r} into a dict.",
                   f"Turn $text, such as 'host{eq}localhost{sep}port{eq}8080', into a dict of strings.",
                   "Read settings written as delimited key-value pairs."),
        rule=f"Pieces without {eq!r} or with an empty key are skipped; a repeated key keeps its last value.",
        notes=(f"Only the first {eq!r} of a pair separates key from value.",
               "Spaces around keys and values are removed."),
        bodies=bodies,
        local_names={"result": ("result", "settings", "out"), "piece": ("piece", "pair", "item"),
                     "key": ("key", "k", "name"),
                     "value": ("value", "v", "val"), "fields": ("fields", "parts", "halves"),
                     "pairs": ("pairs", "split_pairs", "entries")},
        ref=ref, cases=cases)


@_family("parsing.csv_column_total", ("key_value_and_csv", "header-row", "aggregation"), """
    Simple CSV text is a header line naming the columns followed by one line per record. To use a column by
    name, look up its position in the header once and then pick that field from every row. Real files have
    blank lines and empty cells, so a robust reader skips those instead of crashing on `int("")`.""")
def _csv_column_total(rng) -> Made:
    delim = pick(rng, (",", ";", "\t", "|"))
    agg = pick(rng, ("sum", "max"))

    def ref(text, column):
        lines = [ln for ln in text.splitlines() if ln.strip()]
        if not lines:
            return 0 if agg == "sum" else None
        header = lines[0].split(delim)
        if column not in header:
            return 0 if agg == "sum" else None
        idx = header.index(column)
        cells = [r.split(delim) for r in lines[1:]]
        vals = [int(c[idx]) for c in cells if len(c) > idx and c[idx].strip()]
        return sum(vals) if agg == "sum" else (max(vals) if vals else None)

    d = repr(delim)
    empty = "0" if agg == "sum" else "None"
    fin = "sum($values)" if agg == "sum" else "max($values) if $values else None"
    bodies = (f"$lines = [$line for $line in $text.splitlines() if $line.strip()]\nif not $lines:\n    return {empty}\n"
              f"$header = $lines[0].split({d})\nif $column not in $header:\n    return {empty}\n"
              "$index = $header.index($column)\n"
              f"$values = []\nfor $line in $lines[1:]:\n    $cells = $line.split({d})\n"
              "    if $index < len($cells) and $cells[$index].strip():\n"
              f"        $values.append(int($cells[$index]))\nreturn {fin}",
              f"$rows = [$line.split({d}) for $line in $text.splitlines() if $line.strip()]\n"
              "if not $rows or $column not in $rows[0]:\n"
              f"    return {empty}\n$index = $rows[0].index($column)\n"
              "$values = [int($cells[$index]) for $cells in $rows[1:] if $index < len($cells) and "
              f"$cells[$index].strip()]\nreturn {fin}")
    cols = rng.sample(("id", "qty", "price", "score", "age", "weight", "stock", "points"), 3)

    def table(n):
        rows = [delim.join(cols)]
        for _ in range(n):
            cells = [str(rng.randint(0, 500)) for _ in cols]
            if rng.random() < 0.15:
                cells[rng.randrange(len(cells))] = ""
            rows.append(delim.join(cells))
            if rng.random() < 0.1:
                rows.append("")
        return "\n".join(rows)

    cases = [(table(rng.randint(1, 5)), pick(rng, cols)) for _ in range(4)]
    cases += [("", cols[0]), (delim.join(cols), cols[1]), (table(2), "missing"), (f"{cols[0]}\n7\n\n5\n", cols[0])]
    verb = "total" if agg == "sum" else "largest value"
    return _build(
        rng, names=(f"column_{'total' if agg == 'sum' else 'max'}", f"{agg}_column", f"csv_{agg}", f"{agg}_of_field",
                    f"column_{agg}"),
        params=[P("text", ("text", "csv_text", "data", "table"), "str",
                  f"Lines of fields separated by {delim!r}; the first line is the header."),
                P("column", ("column", "field", "name", "header_name"), "str", "The name of the column to read.")],
        returns=("int" if agg == "sum" else "int | None",
                 f"The {verb} of the integers in that column"
                 + (" (0 if there are none)." if agg == "sum" else ", or None if there are none.")),
        summaries=(f"Return the {verb} of the column named `$column` in the delimited text `$text`.",
                   f"Read the table in $text (header first, fields separated by {delim!r}) and compute the {verb} of "
                   "column $column.",
                   f"Find the {verb} of one named column of simple CSV-like data."),
        rule="Blank lines and empty cells are skipped; an unknown column counts as having no values.", bodies=bodies,
        local_names={"lines": ("lines", "records", "non_blank"), "line": ("line", "ln", "row_text"),
                     "header": ("header", "names", "titles"),
                     "index": ("index", "pos", "col_index"), "values": ("values", "numbers", "found"),
                     "cells": ("cells", "fields", "parts"),
                     "rows": ("rows", "table_rows", "split_rows")},
        ref=ref, cases=cases)


@_family("parsing.suffixed_number", ("number_parsing", "suffixes", "decimal"), """
    Human-friendly numbers come with magnitude suffixes: "1.5k" is 1500 and "2M" is two million. Parsing
    them means splitting off the suffix, looking up its multiplier in a table and converting the rest with
    `float` or, to avoid binary rounding such as 1.1 * 1000 = 1100.0000000000002, with `decimal.Decimal`.
    Text that is not a number should be rejected rather than guessed at.""")
def _suffixed_number(rng) -> Made:
    from decimal import Decimal, InvalidOperation

    scale = pick(rng, ({"k": 1000, "m": 1000000, "b": 1000000000}, {"k": 1000, "m": 1000000, "g": 1000000000},
                       {"k": 1024, "m": 1048576, "g": 1073741824}))
    binary = scale["k"] == 1024

    def ref(text):
        t = text.strip().lower()
        mult = 1
        if t and t[-1] in scale:
            mult, t = scale[t[-1]], t[:-1]
        if not re.fullmatch(r"\d+(\.\d+)?", t):
            return None
        try:
            return int(Decimal(t) * mult)
        except InvalidOperation:  # pragma: no cover - the fullmatch above rules it out
            return None

    table = "{" + ", ".join(f'"{k}": {v}' for k, v in scale.items()) + "}"
    bodies = (Body(f"$multipliers = {table}\n$body = $text.strip().lower()\n$factor = 1\n"
                   "if $body and $body[-1] in $multipliers:\n"
                   "    $factor = $multipliers[$body[-1]]\n    $body = $body[:-1]\n"
                   "if not re.fullmatch(r\"\\d+(\\.\\d+)?\", $body):\n"
                   f"    return None\nreturn int(Decimal($body) * $factor)",
                   ("import re", "from decimal import Decimal")),
              Body(f"$multipliers = {table}\n$m = re.fullmatch(r\"(\\d+(?:\\.\\d+)?)([{''.join(scale)}]?)\", "
                   "$text.strip().lower())\n"
                   f"if $m is None:\n    return None\n$number, $suffix = $m.groups()\n"
                   f"return int(Decimal($number) * $multipliers.get($suffix, 1))",
                   ("import re", "from decimal import Decimal")),
              Body(f"$multipliers = {table}\n$body = $text.strip().lower()\n$factor = $multipliers.get($body[-1:], 1)\n"
                   "if $body[-1:] in $multipliers:\n    $body = $body[:-1]\n"
                   "$whole, $dot, $frac = $body.partition(\".\")\n"
                   f"if not $whole.isdigit() or ($dot and not $frac.isdigit()):\n    return None\n"
                   f"return int(Fraction($body) * $factor)", ("from fractions import Fraction",)))
    cases = []
    for _ in range(4):
        num = str(rng.randint(0, 999)) + pick(rng, ("", f".{rng.randint(0, 99)}", f".{rng.randint(1, 9)}"))
        cases.append((num + pick(rng, [""] + [k.upper() if rng.random() < 0.5 else k for k in scale]),))
    cases += [("",), ("k",), ("12",), ("1.5k",), (" 2M ",), ("3.x",), ("-4k",), ("0.001k",)]
    sfx = ", ".join(f"{k!r} = {v:,}".replace(",", "_") if False else f"{k!r} = {v}" for k, v in scale.items())
    return _build(
        rng,
        names=("parse_suffixed_number", "parse_human_number", "expand_suffix", "read_magnitude", "from_short_number"),
        params=[P("text", ("text", "value_text", "amount", "s"), "str",
                  "A non-negative number, optionally with a magnitude suffix.")],
        returns=("int | None",
                 "The value as a whole number (fractions of a unit are dropped), or None if `$text` is not valid."),
        summaries=(f"Convert text such as '1.5k' into the number it stands for (suffixes {sfx}).",
                   "Parse $text, a decimal number with an optional suffix letter, into an int.",
                   "Turn a short human-readable quantity into a whole number."
                   + (" The suffixes are powers of 1024." if binary else "")),
        rule="Suffixes may be upper or lower case, spaces around the text are ignored, and signs are rejected.",
        notes=("Only the digits, one optional decimal point and one suffix letter are allowed.",),
        bodies=bodies,
        local_names={"multipliers": ("multipliers", "scale", "factors"), "body": ("body", "digits", "core"),
                     "factor": ("factor", "mult", "times"),
                     "m": ("m", "match", "found"), "number": ("number", "num", "figure"),
                     "suffix": ("suffix", "unit", "letter"),
                     "whole": ("whole", "int_part", "head"), "dot": ("dot", "point", "sep"),
                     "frac": ("frac", "fraction_part", "tail")},
        ref=ref, cases=cases)


@_family("parsing.extract_integers", ("number_parsing", "regex", "scanner"), """
    Pulling the numbers out of free text is a scanning job: a number starts at a digit (or at a minus sign
    directly followed by a digit) and runs as long as digits follow. `re.findall(r"-?\\d+", text)` finds the
    same runs in one call. Converting each run with `int` at the end gives numbers that can be added or
    compared.""")
def _extract_integers(rng) -> Made:
    negatives = pick(rng, (True, False))
    agg = pick(rng, ("list", "sum"))
    pat = r"-?\d+" if negatives else r"\d+"

    def ref(text):
        nums = [int(x) for x in re.findall(pat, text)]
        return nums if agg == "list" else sum(nums)

    wrap = (lambda e: f"[int($x) for $x in {e}]") if agg == "list" else (lambda e: f"sum(int($x) for $x in {e})")
    neg_start = " or ($ch == \"-\" and $i + 1 < len($text) and $text[$i + 1].isdigit())" if negatives else ""
    fin = "return $numbers" if agg == "list" else "return sum($numbers)"
    scanner = (f"$numbers = []\n$i = 0\nwhile $i < len($text):\n    $ch = $text[$i]\n    if $ch.isdigit(){neg_start}:\n"
               "        $j = $i + 1\n"
               "        while $j < len($text) and $text[$j].isdigit():\n            $j += 1\n"
               "        $numbers.append(int($text[$i:$j]))\n"
               f"        $i = $j\n    else:\n        $i += 1\n{fin}")
    bodies = (Body(f"return {wrap(f're.findall({_raw(pat)}, $text)')}", ("import re",)), scanner,
              Body(f"$numbers = [int($m.group()) for $m in re.finditer({_raw(pat)}, $text)]\n{fin}", ("import re",)))

    def sample():
        bits = []
        for w in _words(rng, rng.randint(2, 5)):
            bits.append(w)
            if rng.random() < 0.6:
                bits.append(pick(rng, ("", "-", "#", "x")) + str(rng.randint(0, 999)))
        return " ".join(bits)

    cases = [(sample(),) for _ in range(4)] + [("",), ("no digits",), ("a1b22c333",), ("-5 and 3-2",), ("007",)]
    return _build(
        rng,
        names=("extract_numbers" if agg == "list" else "sum_numbers_in_text",
               "find_integers" if agg == "list" else "total_of_numbers",
                    "numbers_in_text" if agg == "list" else "add_numbers_in",
                    "pull_numbers" if agg == "list" else "text_number_sum",
                    "scan_integers" if agg == "list" else "sum_embedded_integers"),
        params=[P("text", ("text", "message", "line", "sentence"), "str", "Free text that may contain whole numbers.")],
        returns=(("list[int]", "The numbers in the order they appear.") if agg == "list"
                 else ("int", "The sum of the numbers (0 if there are none).")),
        summaries=(("Return every integer written in `$text`, in order." if agg == "list" else "Add up every integer "
                                                                                               "written in `$text`."),
                   "Find the runs of digits in $text"
                   + (" (with a directly preceding '-' as a sign)" if negatives else "")
                   + (" and return them as ints." if agg == "list" else " and return their total."),
                   "Extract the whole numbers embedded in a piece of text"
                   + ("." if agg == "list" else " and sum them.")),
        rule="A '-' directly before a digit makes the number negative." if negatives else "A '-' is not part of a "
                                                                                          "number.",
        notes=("Digits that touch letters still form numbers: 'a12b' contains 12.",),
        bodies=bodies,
        local_names={"x": ("x", "token", "run"), "numbers": ("numbers", "found", "values"), "i": ("i", "pos", "start"),
                     "j": ("j", "end", "stop"), "ch": ("ch", "c", "char"), "m": ("m", "match", "hit")},
        ref=ref, cases=cases)


@_family("parsing.valid_version", ("validation", "semantic-versioning", "regex"), """
    A semantic version such as 2.14.0 is three numbers, MAJOR.MINOR.PATCH, and tools compare and sort
    versions by them, so malformed strings must be rejected early. The rules are simple to state and easy
    to get subtly wrong: exactly three dot-separated parts, digits only, and no leading zeros ("01" is not
    allowed, "0" is). Splitting and checking each part in a loop, or one anchored regular expression with
    `re.fullmatch`, both encode the rules; an optional pre-release label after a '-' (1.0.0-rc.1) adds one
    more step.""")
def _valid_version(rng) -> Made:
    allow_pre = pick(rng, (True, False))

    def number_ok(p):
        return p.isdigit() and p.isascii() and (p == "0" or p[0] != "0")

    def ref(text):
        core, dash, pre = text.partition("-")
        if dash and not allow_pre:
            return False
        parts = core.split(".")
        if len(parts) != 3 or not all(number_ok(p) for p in parts):
            return False
        return not dash or all(x.isascii() and x.isalnum() for x in pre.split("."))

    label_re = r"(-[0-9A-Za-z]+(\.[0-9A-Za-z]+)*)?"
    regex = Body("$number = r\"(0|[1-9][0-9]*)\"\n$pattern = $number + r\"\\.\" + $number + r\"\\.\" + $number"
                 + (f" + {_raw(label_re)}" if allow_pre else "") + "\nreturn re.fullmatch($pattern, $text) is not None",
                 ("import re",))
    helper = ("def $is_number($part: str) -> bool:\n    if not $part.isdigit() or not $part.isascii():\n"
              "        return False\n"
              "    return $part == \"0\" or not $part.startswith(\"0\")")
    if allow_pre:
        split_tail = ("$core, $dash, $label = $text.partition(\"-\")\n$parts = $core.split(\".\")\n"
                      "if len($parts) != 3 or not all($is_number($part) for $part in $parts):\n    return False\n"
                      "if not $dash:\n    return True\n"
                      "return all($piece.isascii() and $piece.isalnum() for $piece in $label.split(\".\"))")
        loop = ("$core, $dash, $label = $text.partition(\"-\")\n$parts = $core.split(\".\")\nif len($parts) != 3:\n"
                "    return False\nfor $part in $parts:\n    if not ($part.isdigit() and $part.isascii()):\n"
                "        return False\n"
                "    if len($part) > 1 and $part[0] == \"0\":\n        return False\nif $dash:\n"
                "    for $piece in $label.split(\".\"):\n        if not ($piece.isascii() and $piece.isalnum()):\n"
                "            return False\nreturn True")
    else:
        split_tail = ("$parts = $text.split(\".\")\n"
                      "return len($parts) == 3 and all($is_number($part) for $part in $parts)")
        loop = ("$parts = $text.split(\".\")\nif len($parts) != 3:\n    return False\nfor $part in $parts:\n"
                "    if not ($part.isdigit() and $part.isascii()):\n        return False\n"
                "    if len($part) > 1 and $part[0] == \"0\":\n        return False\nreturn True")
    bodies = (regex, Body(split_tail, (), helper), loop)
    good = ".".join(str(rng.randint(0, 30)) for _ in range(3))
    cases = [(good,), (".".join(str(rng.randint(0, 30)) for _ in range(rng.choice((2, 4)))),),
             (f"{rng.randint(1, 9)}.0{rng.randint(0, 9)}.{rng.randint(0, 9)}",),
             ("0.0.0",), ("10.20.30",), ("1.2",), ("",), ("1.2.x",), ("v1.2.3",), (" 1.2.3",), ("1..3",),
             ("1.2.3-alpha",), ("1.2.3-rc.1",), ("1.2.3-",), ("1.2.3-rc..1",), ("1.2.3-beta_2",)]
    label_rule = ("An optional pre-release label may follow after '-': one or more dot-separated runs of letters "
                  "and digits, as in '1.0.0-rc.1'." if allow_pre else "Nothing else may follow, not even a '-' label.")
    return _build(
        rng, names=("is_valid_version", "valid_semver", "check_version_string", "is_semantic_version", "version_ok"),
        params=[P("text", ("text", "version", "tag", "candidate"), "str", "The version string to check.")],
        returns=("bool", "True if `$text` is a well-formed version string."),
        summaries=("Return True if `$text` is a semantic version MAJOR.MINOR.PATCH made of three whole numbers.",
                   "Check whether $text looks like '2.14.0': three dot-separated non-negative integers.",
                   "Validate a MAJOR.MINOR.PATCH version string."),
        rule="Numbers may not have leading zeros ('01' is invalid, '0' is fine). " + label_rule,
        notes=("Spaces and a leading 'v' are not allowed.",), bodies=bodies,
        local_names={"number": ("number", "num_re", "part_re"), "pattern": ("pattern", "full_re", "version_re"),
                     "is_number": ("is_number", "valid_number", "number_ok"), "part": ("part", "field", "p"),
                     "parts": ("parts", "fields", "numbers"), "core": ("core", "main", "release"),
                     "dash": ("dash", "sep", "has_label"), "label": ("label", "pre", "suffix"),
                     "piece": ("piece", "ident", "chunk")},
        ref=ref, cases=cases)


@_family("parsing.luhn_check", ("validation", "checksum", "digits"), """
    Card numbers end in a check digit chosen by the Luhn algorithm, which catches any single mistyped digit
    and most swaps of neighbours. From the rightmost digit, every second digit is doubled, and a doubled
    value above 9 has 9 subtracted (the same as adding its two digits); the number is valid when the total
    is a multiple of 10. Reading the digits from the right with `reversed` keeps the positions right for
    numbers of any length.""")
def _luhn_check(rng) -> Made:
    sep = pick(rng, (" ", "-"))

    def valid(digits):
        total = 0
        for i, c in enumerate(reversed(digits)):
            d = int(c)
            if i % 2:
                d = d * 2 - 9 if d > 4 else d * 2
            total += d
        return total % 10 == 0

    def ref(text):
        digits = text.replace(sep, "")
        return len(digits) >= 2 and digits.isdigit() and digits.isascii() and valid(digits)

    s = repr(sep)
    pre = (f"$digits = $text.replace({s}, \"\")\n"
           "if len($digits) < 2 or not $digits.isdigit() or not $digits.isascii():\n    return False\n")
    bodies = (pre + "$total = 0\nfor $i, $ch in enumerate(reversed($digits)):\n    $d = int($ch)\n    if $i % 2 == 1:\n"
                    "        $d *= 2\n"
                    "        if $d > 9:\n            $d -= 9\n    $total += $d\nreturn $total % 10 == 0",
              pre + "$values = [int($ch) for $ch in $digits[::-1]]\n$total = sum($values[0::2])\n"
                    "$total += sum($d * 2 - 9 if $d > 4 else $d * 2 for $d in $values[1::2])\nreturn $total % 10 == 0",
              pre + "$total = 0\n$double = False\nfor $ch in reversed($digits):\n"
                    "    $d = int($ch) * (2 if $double else 1)\n"
                    "    $total += $d // 10 + $d % 10\n    $double = not $double\nreturn $total % 10 == 0")

    def card(ok):
        body = [rng.randint(0, 9) for _ in range(pick(rng, (11, 15, 15)))]
        for check in range(10):
            if valid("".join(map(str, body + [check]))) == ok:
                break
        digits = "".join(map(str, body + [check]))
        return sep.join(digits[i:i + 4] for i in range(0, len(digits), 4))

    cases = [(card(True),), (card(True),), (card(False),), (card(False),)]
    cases += [("",), ("0",), ("00",), ("79927398713",), ("79927398710",), (f"4539{sep}1488{sep}0343{sep}6467",),
              ("12a4",)]
    return _build(
        rng, names=("luhn_valid", "passes_luhn", "is_valid_card_number", "check_luhn", "luhn_checksum_ok"),
        params=[P("text", ("text", "number", "card", "account"), "str", f"Digits, possibly grouped with {sep!r}.")],
        returns=("bool", "True if the digits pass the Luhn checksum."),
        summaries=("Return True if the number in `$text` passes the Luhn check used for card numbers.",
                   f"Validate $text with the Luhn algorithm, ignoring the {sep!r} separators between digit groups.",
                   "Decide whether a card-style number has a correct Luhn check digit."),
        notes=("Anything other than digits and separators makes the number invalid, and so does a single digit.",),
        bodies=bodies,
        local_names={"digits": ("digits", "clean", "compact"), "total": ("total", "checksum", "acc"),
                     "i": ("i", "pos", "index"),
                     "ch": ("ch", "c", "digit_char"), "d": ("d", "value", "v"),
                     "values": ("values", "nums", "rev_digits"),
                     "double": ("double", "flip", "second")},
        ref=ref, cases=cases)


@_family("parsing.fill_placeholders", ("templates_and_formats", "regex-sub", "templates"), """
    A template is text with named holes, such as "Dear {name}", filled from a dict of values. `re.sub`
    with a function as the replacement finds each placeholder, looks its name up and returns the text to
    put in its place, which is also the moment to decide what an unknown name does: here it is left in the
    output untouched, so a missing value is easy to spot. A manual scan for the opening and closing marks
    does the same work step by step.""")
def _fill_placeholders(rng) -> Made:
    open_, close = pick(rng, (("{", "}"), ("{{", "}}"), ("<", ">"), ("[", "]"), ("%", "%")))
    pat = re.escape(open_) + r"(\w+)" + re.escape(close)

    def ref(template, values):
        return re.sub(pat, lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), template)

    o, c = repr(open_), repr(close)
    esc = lambda t: "".join("\\" + ch if ch in "{}[]" else ch for ch in t)  # noqa: E731 (a regex needs these escaped)
    raw_pat = _raw(esc(open_) + r"(\w+)" + esc(close))
    bodies = (Body("def $replace($match: re.Match) -> str:\n    $key = $match.group(1)\n"
                   "    return str($values[$key]) if $key in $values else $match.group(0)\n\n"
                   f"return re.sub({raw_pat}, $replace, $template)", ("import re",)),
              Body(f"return re.sub({raw_pat}, lambda $match: str($values.get($match.group(1), $match.group(0))), "
                   "$template)", ("import re",)),
              f"$out = []\n$i = 0\nwhile $i < len($template):\n    $start = $template.find({o}, $i)\n"
              "    if $start < 0:\n"
              "        $out.append($template[$i:])\n        break\n"
              f"    $end = $template.find({c}, $start + {len(open_)})\n"
              f"    $key = $template[$start + {len(open_)}:$end] if $end >= 0 else \"\"\n"
              f"    if $end < 0 or not $key or not ($key.isascii() and ($key.replace(\"_\", \"a\").isalnum())):\n"
              f"        $out.append($template[$i:$start + 1])\n        $i = $start + 1\n        continue\n"
              "    $out.append($template[$i:$start])\n    $out.append(str($values[$key]) if $key in $values else "
              f"$template[$start:$end + {len(close)}])\n"
              f"    $i = $end + {len(close)}\nreturn \"\".join($out)")

    def ph(name):
        return f"{open_}{name}{close}"

    keys = rng.sample(("name", "city", "day", "item", "count", "total", "user", "code"), 4)
    values = {k: pick(rng, (pick(rng, _WORDS).capitalize(), rng.randint(1, 99))) for k in keys[:3]}
    cases = [(f"Hello {ph(keys[0])}, see you in {ph(keys[1])}.", values),
             (f"{ph(keys[2])}{ph(keys[2])} and {ph(keys[3])}", values),
             (f"{ph(keys[1])}: {ph(keys[0])} x{ph(keys[2])}", values), ("", values), ("no holes here", values),
             (ph("x"), {}), (ph("a") + " " + ph("b"), {"a": 1, "b": "two"})]
    return _build(
        rng, names=("fill_template", "render_template", "substitute_placeholders", "expand_template", "format_message"),
        params=[P("template", ("template", "text", "pattern_text", "message"), "str",
                  f"Text with placeholders such as {ph('name')!r}."),
                P("values", ("values", "context", "fields", "data"), "dict[str, object]",
                  "The value for each placeholder name.")],
        returns=("str", "The text with every known placeholder replaced by its value (converted with str)."),
        summaries=(f"Replace each placeholder {open_}name{close} in `$template` by `str($values[name])`.",
                   f"Fill the {ph('...')} holes of $template with values from $values.",
                   "Render a simple template by substituting named placeholders."),
        rule="Placeholders whose name is not in the dict are left as they are.",
        notes=("Names are made of letters, digits and underscores.",),
        bodies=bodies,
        local_names={"replace": ("replace", "substitute", "lookup"), "match": ("match", "m", "hit"),
                     "key": ("key", "name", "field"),
                     "out": ("out", "pieces", "result"), "i": ("i", "pos", "cursor"),
                     "start": ("start", "left", "opening"),
                     "end": ("end", "right", "closing")},
        ref=ref, cases=cases)


@_family("parsing.join_english", ("templates_and_formats", "join", "edge-cases"), """
    Listing items in an English sentence follows a small grammar: one item stands alone, two are joined
    by "and", and three or more get commas with "and" before the last, optionally after a serial (Oxford)
    comma. `", ".join(items[:-1])` handles the commas and the last item is attached separately; the empty
    and one-item cases need their own branches, which is where most bugs in such helpers live.""")
def _join_english(rng) -> Made:
    oxford, word = pick(rng, (True, False)), pick(rng, ("and", "and", "or"))

    def ref(items):
        if not items:
            return ""
        if len(items) == 1:
            return items[0]
        if len(items) == 2:
            return f"{items[0]} {word} {items[1]}"
        return ", ".join(items[:-1]) + ("," if oxford else "") + f" {word} {items[-1]}"

    comma = "," if oxford else ""
    bodies = (f"if not $items:\n    return \"\"\nif len($items) == 1:\n    return $items[0]\nif len($items) == 2:\n"
              f"    return f\"{{$items[0]}} {word} {{$items[1]}}\"\n"
              f"return \", \".join($items[:-1]) + \"{comma} {word} \" + $items[-1]",
              f"if len($items) < 3:\n    return \" {word} \".join($items)\n"
              f"return f\"{{', '.join($items[:-1])}}{comma} {word} {{$items[-1]}}\"",
              "$text = \"\"\nfor $i, $item in enumerate($items):\n    if $i == 0:\n        $text = $item\n"
              "    elif $i == len($items) - 1:\n"
              + (f"        $text += (\", \" if len($items) > 2 else \" \") + \"{word} \" + $item\n" if oxford
                 else f"        $text += \" {word} \" + $item\n")
              + "    else:\n        $text += \", \" + $item\nreturn $text")
    cases = [(_words(rng, n),) for n in (3, rng.randint(4, 6), 2)] + [([],), (["tea"],), (["a", "b"],),
                                                                      (["x", "y", "z"],)]
    return _build(
        rng, names=("join_english", "human_list", "format_series", "list_to_phrase", "readable_join"),
        params=[P("items", ("items", "words", "names", "things"), "list[str]", "The items to list.")],
        returns=("str", f"The items as an English phrase, e.g. {ref(['a', 'b', 'c'])!r}."),
        summaries=(f"Join `$items` the way English lists things: {ref(['red', 'green', 'blue'])!r}.",
                   f"Return $items as a phrase with commas and {word!r} before the last item"
                   + (" (with a serial comma)." if oxford else " (no serial comma)."),
                   "Format a list of words as a readable series for a sentence."),
        notes=(f"Two items are joined by {word!r} alone; an empty list gives an empty string.",), bodies=bodies,
        local_names={"text": ("text", "result", "phrase"), "i": ("i", "k", "pos"), "item": ("item", "word", "entry")},
        ref=ref, cases=cases)
