"""The offline teacher's building block: an exercise *family*, a parameterised generator of correct exercises.

A family is a small Python function `make(rng) -> Made` plus what a lesson needs to explain it. Each call
draws the names (function and parameters), the constants of the task (a threshold, a separator, a case
rule), the implementation style (loop, comprehension, builtins) and the docstring's wording from `rng`,
and computes the tests' expected values with its own reference implementation (in this process, at
generation time). The exercise it returns is then treated exactly like a teacher's answer: rendered as
the two fenced blocks an LLM is asked for (`render_answer`), parsed, and verified in the sandbox.

    from textbooks.synth.offline.families import FAMILIES
    made = FAMILIES["strings.count_vowels"].make(random.Random(0))
    made.source   # 'def count_vowels(text: str) -> int:\n    <docstring>\n    <body>'
    made.tests    # 'assert count_vowels("banana") == 3\n...'

Rules every family follows (tests/synth/test_offline_families.py checks them on many seeds):
- `source` is self-contained: only standard-library imports (typing, math, collections, itertools,
  functools, datetime, re, string, heapq, bisect, dataclasses: the paper's package mix), then the
  `entry_point` def (or class) with type hints and a docstring, and its body. Helpers it needs are defined
  above the entry point.
- `tests` are plain `assert` statements that call `entry_point` by name, at least 3, one of them an edge
  case (empty input, zero, one element, ...), with expected values written as literals (repr), never
  computed by calling another function of the solution.
- Deterministic: the same rng state gives the same exercise; nothing reads the clock, files or network.
- Values crossing the call are plain data (None, bool, int, float, str, bytes, list, tuple, dict, set):
  the sandbox's isolated verdict passes only those. Class families are the exception (their tests
  instantiate the class), verified in the default mode.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable

# Areas and topics of the topic tree (textbooks/synth/data/topics.yaml adds the subtopics); a family's
# `topic` is one "area/topic" of these, and its `tags` start with the area.
AREAS: dict[str, tuple[str, ...]] = {
    "basics": ("variables_and_types", "expressions_and_operators", "conditionals", "loops", "functions",
               "string_formatting", "booleans_and_logic"),
    "strings": ("indexing_and_slicing", "searching_and_counting", "transforming", "palindromes_and_anagrams",
                "splitting_and_joining", "character_classes", "encoding_and_ciphers"),
    "lists": ("indexing_and_slicing", "aggregation", "filtering_and_mapping", "nested_lists",
              "rotation_and_reordering", "comprehensions", "windows_and_runs"),
    "dicts_sets": ("counting", "grouping", "inverting_and_merging", "set_operations", "lookup_tables", "nested_dicts"),
    "arithmetic": ("digits", "rounding_and_division", "averages_and_statistics", "geometry", "unit_conversion",
                   "sequences_and_series"),
    "number_theory": ("primes", "divisors", "gcd_and_lcm", "modular_arithmetic", "number_bases", "special_numbers"),
    "recursion": ("basic_recursion", "divide_and_conquer", "backtracking", "recursive_structures", "memoization"),
    "sorting_searching": ("sorting_algorithms", "custom_keys", "binary_search", "linear_search",
                          "selection_and_ranking", "merging_sorted"),
    "two_pointers": ("pairs_and_sums", "in_place_partition", "sliding_window", "merging_intervals"),
    "stacks_queues": ("stacks", "queues_and_deques", "bracket_matching", "expression_evaluation", "monotonic_stack"),
    "dynamic_programming": ("one_dimensional", "grids_and_paths", "subsequences", "knapsack", "string_dp"),
    "classes": ("simple_classes", "properties_and_validation", "special_methods", "inheritance", "data_containers"),
    "dates": ("date_arithmetic", "calendars_and_leap_years", "time_formatting", "durations"),
    "parsing": ("tokenizing", "key_value_and_csv", "number_parsing", "validation", "templates_and_formats"),
    "iteration_tools": ("itertools", "generators", "higher_order_functions", "enumerate_and_zip"),
    "matrices": ("matrix_basics", "matrix_traversal", "linear_algebra_basics"),
}


@dataclass(frozen=True)
class Made:
    """One exercise a family made.

    entry_point: the function (or class) the tests call.
    source: the complete solution (imports, helpers, the entry point with its docstring and body).
    tests: plain asserts calling `entry_point` by name; `source + "\\n" + tests` runs clean.
    description: one sentence saying what the entry point does (a lesson's lead-in).
    examples: (call, repr of its result) pairs a lesson can show, e.g. ("count_vowels('banana')", "3").
    """

    entry_point: str
    source: str
    tests: str
    description: str
    examples: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Family:
    """A parameterised exercise generator. name: unique, "<area>.<what>" (e.g. "strings.count_vowels");
    topic: "<area>/<topic>" of AREAS; tags: the area first, then free tags ("loops", "edge-cases", ...);
    concept: 2-4 sentences teaching the idea behind the family (used by the offline lessons);
    verify: "isolated" (plain data crosses the call) or "default" (the tests hold objects: classes)."""

    name: str
    topic: str
    tags: tuple[str, ...]
    concept: str
    make: Callable[[random.Random], Made] = field(compare=False, repr=False)
    verify: str = "isolated"

    def __post_init__(self):
        area, _, topic = self.topic.partition("/")
        if area not in AREAS or topic not in AREAS[area]:
            raise ValueError(f"family {self.name!r}: topic {self.topic!r} is not an area/topic of AREAS")
        if not self.name.startswith(area + ".") or not self.tags or self.tags[0] != area:
            raise ValueError(f"family {self.name!r}: the name must start with {area + '.'!r} and the tags with {area!r}")
        if self.verify not in ("isolated", "default"):
            raise ValueError(f"family {self.name!r}: verify must be 'isolated' or 'default'")


def pick(rng: random.Random, options):
    """One of `options` (a sequence), drawn from rng: the only randomness families use, so seeds reproduce."""
    return options[rng.randrange(len(options))]


def render_answer(made: Made, preface: str = "") -> str:
    """The answer an LLM teacher is asked for (textbooks/synth/prompts/exercise_v1.md): the solution in one
    fenced python block, the tests in another. The offline teacher's output goes through the same parser."""
    head = (preface.rstrip() + "\n\n") if preface else ""
    return f"{head}```python\n{made.source.rstrip()}\n```\n\nTests:\n\n```python\n{made.tests.rstrip()}\n```\n"
