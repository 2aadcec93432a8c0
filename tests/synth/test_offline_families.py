"""Every offline exercise family, on many seeds: well-formed, deterministic, varied, and correct when run by
a plain subprocess harness written here (not our sandbox): `source + tests` in a fresh namespace."""

from __future__ import annotations

import ast
import doctest
import inspect
import io
import json
import multiprocessing
import os
import random
import re
import subprocess
import sys

import pytest

from textbooks.synth.offline.families import FAMILIES
from textbooks.synth.offline.family import AREAS

SEEDS = range(20)
ALLOWED_IMPORTS = {"typing", "math", "collections", "itertools", "functools", "datetime", "re", "string", "heapq",
                   "bisect", "dataclasses", "statistics", "fractions", "decimal", "calendar", "operator", "enum"}

HARNESS = r"""
import json, sys, traceback
failures = []
for i, program in enumerate(json.load(sys.stdin)):
    try:
        exec(compile(program, f"<exercise {i}>", "exec"), {"__name__": "__exercise__"})
    except BaseException as e:
        failures.append(f"exercise {i}: {type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}")
print(json.dumps(failures))
"""


def _made(family, seed):
    return family.make(random.Random(seed))


def test_there_are_enough_families_over_every_area():
    assert len(FAMILIES) >= 150, len(FAMILIES)
    areas = {f.topic.split("/")[0] for f in FAMILIES.values()}
    assert areas == set(AREAS), set(AREAS) - areas


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_family_makes_well_formed_deterministic_varied_exercises(name):
    fam = FAMILIES[name]
    assert len(fam.concept.split()) >= 15, "concept: 2-4 sentences a lesson can teach from"
    made = [_made(fam, s) for s in SEEDS]
    assert made[3] == _made(fam, 3), "the same seed must give the same exercise"
    for m in made:
        tree = ast.parse(m.source)
        tops = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        assert m.entry_point in tops, f"{m.entry_point} is not defined at the top level of:\n{m.source}"
        assert ast.get_docstring(tops[m.entry_point]), f"no docstring:\n{m.source}"
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                assert {a.name.split(".")[0] for a in node.names} <= ALLOWED_IMPORTS, m.source
            elif isinstance(node, ast.ImportFrom):
                assert (node.module or "").split(".")[0] in ALLOWED_IMPORTS, m.source
        tests = ast.parse(m.tests)
        asserts = [n for n in tests.body if isinstance(n, ast.Assert)]
        assert len(asserts) >= 3, m.tests
        calls = [n for a in asserts for n in ast.walk(a) if isinstance(n, ast.Call)
                 and isinstance(n.func, ast.Name) and n.func.id == m.entry_point]
        assert calls or fam.verify == "default", f"the asserts do not call {m.entry_point}:\n{m.tests}"
        assert m.description.strip()
    distinct = {m.source for m in made}
    assert len(distinct) >= len(made) // 2, f"only {len(distinct)} distinct solutions in {len(made)} seeds"


def test_every_exercise_passes_its_tests_in_a_plain_subprocess():
    programs, where = [], []
    for name, fam in FAMILIES.items():
        for s in SEEDS:
            m = _made(fam, s)
            programs.append(m.source + "\n\n" + m.tests + "\n")
            where.append(f"{name} seed {s}")
    proc = subprocess.run([sys.executable, "-I", "-c", HARNESS], input=json.dumps(programs), capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    failures = json.loads(proc.stdout)
    named = [f"{where[int(f.split()[1].rstrip(':'))]}: {f}" for f in failures]
    assert not named, "\n".join(named[:10])


def test_a_wrong_body_fails_the_tests_of_most_families():
    """The tests test something: with the body replaced by `return None` (or `pass`), they fail."""
    weak = []
    for name, fam in FAMILIES.items():
        m = _made(fam, 0)
        tree = ast.parse(m.source)
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == m.entry_point:
                node.body = node.body[:1] + [ast.Pass()]
        stub = ast.unparse(tree)
        namespace: dict = {}
        try:
            exec(compile(stub + "\n" + m.tests, name, "exec"), namespace)
        except BaseException:
            continue
        weak.append(name)
    assert not weak, f"tests pass without a solution: {weak}"


def _entry_node(made) -> ast.FunctionDef | ast.ClassDef:
    return next(n for n in ast.parse(made.source).body
                if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == made.entry_point)


def test_the_docstring_examples_of_every_entry_point_pass_doctest():
    """A `>>>` example is a promise to the student: it must print what the rendered body returns (a call
    returning None prints nothing, an int mean prints `49`, not `49.0`). Run in-process on the exec'd
    source, with doctest's default (exact) output matching."""
    failures, examples = [], 0
    for name, fam in FAMILIES.items():
        for s in SEEDS:
            m = _made(fam, s)
            namespace: dict = {"__name__": "__exercise__"}
            # dont_inherit: run it as a program of its own, without this module's __future__ import
            exec(compile(m.source, f"<{name} seed {s}>", "exec", dont_inherit=True), namespace)
            test = doctest.DocTestParser().get_doctest(namespace[m.entry_point].__doc__ or "", dict(namespace),
                                                       f"{name} seed {s}", None, 0)
            runner = doctest.DocTestRunner(verbose=False)
            report = io.StringIO()
            runner.run(test, out=report.write, clear_globs=True)
            examples += runner.tries
            if runner.failures:
                failures.append(f"{name} seed {s}:\n{report.getvalue()}")
    assert examples >= 500, f"only {examples} docstring examples found: is the parser looking at the docstrings?"
    assert not failures, f"{len(failures)} exercises with wrong examples; the first:\n" + "\n".join(failures[:3])


def _expected_exceptions(tests: str) -> set[str]:
    """The exception class names a test script expects: `except X` / `except (X, Y)` (the families' own
    try/else form), `pytest.raises(X)` and unittest's `assertRaises(X)` / `assertRaisesRegex(X, ...)`."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(tests)):
        caught = []
        if isinstance(node, ast.ExceptHandler) and node.type is not None:
            caught = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
        elif (isinstance(node, ast.Call) and node.args
              and ast.unparse(node.func).split(".")[-1] in ("raises", "assertRaises", "assertRaisesRegex")):
            caught = [node.args[0]]
        names.update(ast.unparse(c).split(".")[-1] for c in caught)
    return names


def test_the_prompt_names_every_exception_the_tests_expect():
    """The prompt (the source up to the end of the entry point's docstring) is all a student is given, so
    each exception the tests wait for must be named there; the docstrings also say when it is raised."""
    missing, expecting = [], set()
    for name, fam in FAMILIES.items():
        for s in SEEDS:
            m = _made(fam, s)
            wanted = _expected_exceptions(m.tests)
            if not wanted:
                continue
            expecting.add(name)
            prompt = "\n".join(m.source.splitlines()[: _entry_node(m).body[0].end_lineno])
            absent = sorted(e for e in wanted if not re.search(rf"\b{re.escape(e)}\b", prompt))
            if absent:
                missing.append(f"{name} seed {s}: the tests expect {absent}, the prompt never names them:\n{prompt}")
    assert len(expecting) >= 5, f"exceptions expected only by {sorted(expecting)}: is the scan finding them?"
    assert not missing, f"{len(missing)} exercises; the first:\n" + "\n\n".join(missing[:3])


CLASS_FAMILIES = sorted(name for name, fam in FAMILIES.items() if fam.topic.startswith("classes/"))


def _listed_signatures(doc: str, name: str) -> list[tuple[list[str], bool]]:
    """Each `name(...)` the docstring shows: the parameter names inside the parentheses, and whether every
    parameter has a type and a return type follows (`-> T`)."""
    found = []
    for m in re.finditer(rf"(?<![\w.]){re.escape(name)}\(([^)]*)\)( -> \S)?", doc):
        parts = [p.strip() for p in m.group(1).split(",") if p.strip() and p.strip() != "*"]
        names = [p.split(":")[0].split("=")[0].strip().lstrip("*") for p in parts]
        found.append((names, bool(m.group(2)) and all(":" in p for p in parts)))
    return found


@pytest.mark.parametrize("name", CLASS_FAMILIES)
def test_a_class_prompt_lists_every_method_and_attribute_the_tests_use(name):
    """A class exercise's prompt ends with the class docstring, and the methods come after it, in the
    completion: so the docstring must name each method the tests call on an object, with the parameter
    names the solution has, their types and the return type; each attribute the tests read or assign;
    and the constructor's arguments."""
    assert len(CLASS_FAMILIES) >= 8, CLASS_FAMILIES
    for s in SEEDS:
        m = _made(FAMILIES[name], s)
        namespace: dict = {"__name__": "__exercise__"}
        exec(compile(m.source, f"<{name} seed {s}>", "exec", dont_inherit=True), namespace)
        cls = namespace[m.entry_point]
        doc = ast.get_docstring(_entry_node(m), clean=False) or ""
        prompt = "\n".join(m.source.splitlines()[: _entry_node(m).body[0].end_lineno])
        where = f"{name} seed {s}:\n{prompt}\n\ntests:\n{m.tests}"
        tests = ast.parse(m.tests)
        called = {n.func.attr for n in ast.walk(tests) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)}
        touched = {n.attr for n in ast.walk(tests) if isinstance(n, ast.Attribute)} - called
        assert called | touched, f"the tests use no method or attribute: is the scan looking at them?\n{where}"
        for method in sorted(called):
            assert hasattr(cls, method), f"the tests call {method!r}, which {m.entry_point} lacks\n{where}"
            assert re.search(rf"\b{re.escape(method)}\b", prompt), f"{method!r} is not in the prompt\n{where}"
            want = list(inspect.signature(getattr(cls, method)).parameters)[1:]  # without self
            shown = _listed_signatures(doc, method)
            assert (want, True) in shown, (f"the docstring shows {method!r} as {shown}, not with the typed "
                                           f"parameters {want} and a return type\n{where}")
        for attr in sorted(touched):
            assert re.search(rf"\b{re.escape(attr)}\b", doc), f"the tests use the attribute {attr!r}\n{where}"
        for param in inspect.signature(cls).parameters:
            assert re.search(rf"\b{re.escape(param)}\b", doc), f"constructor argument {param!r} missing\n{where}"


MAKE_SEEDS = range(100)  # 0..999 were scanned once by hand (no failure); 100 keeps the suite quick


def _make_failures(name: str) -> list[str]:
    failures = []
    for s in MAKE_SEEDS:
        try:
            FAMILIES[name].make(random.Random(s))
        except Exception as e:  # noqa: BLE001 - every failure is reported, with its seed
            failures.append(f"{name} seed {s}: {type(e).__name__}: {e}")
    return failures


def test_every_family_makes_an_exercise_on_every_seed():
    """make() must not raise on any seed: the offline teacher draws seeds far beyond the 20 the other tests
    use, and a family that raises costs the run an item. Random inputs that repeat (leaving too few
    distinct test calls) were such a failure. The families are spread over the CPU cores (forked workers
    share the imported families), which keeps the 65,000 exercises to a few seconds per core."""
    names = sorted(FAMILIES)
    if "fork" in multiprocessing.get_all_start_methods():
        with multiprocessing.get_context("fork").Pool(max(1, min(os.cpu_count() or 1, 8))) as pool:
            results = pool.map(_make_failures, names, chunksize=1)
    else:
        results = [_make_failures(n) for n in names]
    failures = [f for per_family in results for f in per_family]
    assert not failures, f"{len(failures)} failures; the first:\n" + "\n".join(failures[:10])
