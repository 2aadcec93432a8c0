"""Run parsed answers in the sandbox (`textbooks.eval.sandbox`, one pool for the whole run).

Exercises go through `textbooks.eval.execute.execute_samples` like benchmark samples: an exercise whose
tests are plain asserts is an MBPP-shaped task (the program is the solution, then the asserts; the last
assert is the harness's final statement), one whose tests define `check(candidate)` a HumanEval-shaped
task (prompt + completion + tests + `check(entry_point)`). The verdict mode is `verify.verdict`:
"isolated" (the solution in its own process, only plain data crosses: nothing in the solution can forge a
pass), except for items it cannot run that way, decided from the code before running, which run in the
default mode: tests that use a class of the solution (they hold its objects). `from __future__ import
annotations` is removed for the run (it cannot follow the tester's code; without it annotations are
evaluated, which can make an item fail, never pass); other __future__ imports are `not isolatable`. An isolated verdict of `IsolationError` (the solution returned an
object, e.g. an always-equal one) is dropped as `not isolatable`, never retried in the default mode.

Before anything runs, code outside `verify.allowed_imports` / using `verify.forbidden_names` or an escape
attribute (`__subclasses__`, `__globals__`, frames) is dropped as `unsafe code`: the sandbox holds it while we
verify, but kept exercises are later run outside any sandbox (a test that kills its parent would kill the
trainer's shell).
Either way the verdict is the harness's: a program that exits early (`os._exit(0)` in the tests), prints
"passed" or kills its parent fails, and the sandbox's walls hold (no writes outside its scratch dir, no
network). Then, with `check_trivial_tests`, the passing ones run again with the body removed: if the tests
still pass they test nothing.

Textbook sections: every ```python block runs after the blocks before it in its section (a program per
block: blocks 1..k), so a failing block is known exactly; a block "passes" when its program ends normally.
"""

from __future__ import annotations

import ast
import functools
import re
from dataclasses import dataclass

from textbooks.synth.config import VerifySection
from textbooks.synth.parse import Exercise, Textbook, _segment

_RESULT_REASONS = (  # sandbox result prefix -> drop reason
    ("timed out", "timeout"),
    ("out of memory", "out of memory"),
    ("syntax error", "syntax error"),
    ("failed: the program ended before the tests finished", "exited early"),
    ("failed: SystemExit", "exited early"),
)


@dataclass
class Verdict:
    passed: bool
    reason: str | None  # a parse.DROP_REASONS key when not passed
    detail: str
    mode: str  # "isolated" | "default" | "" (not run)
    seconds: float = 0.0


def reason_of(result: str) -> str:
    for prefix, reason in _RESULT_REASONS:
        if result.startswith(prefix):
            return reason
    return "tests fail"


def _statements(source: str) -> tuple[str, ...]:
    tree = ast.parse(source)
    return tuple(_segment(source, [n]).rstrip("\n") for n in tree.body)


# Attributes that lead from any object to the interpreter's internals (frames, globals, every class): the
# classic ways out of a restricted namespace. No exercise or lesson needs them.
ESCAPE_ATTRIBUTES = frozenset({"__globals__", "__code__", "__subclasses__", "__builtins__", "__bases__", "__mro__",
                               "__getattribute__", "__closure__", "__func__", "__self__", "__dict__", "f_globals",
                               "f_locals", "f_back", "f_builtins", "f_code", "gi_frame", "cr_frame", "ag_frame",
                               "tb_frame", "tb_next", "__traceback__", "attrgetter", "methodcaller", "_getframe"})


@functools.lru_cache(maxsize=8)
def _module_attributes(allowed: frozenset) -> frozenset:
    """Attribute names by which an allowed module reaches a module that is not allowed (`typing.sys`,
    `random._os`): the static check refuses them wherever they appear, since an alias (`t = typing; t.sys`)
    cannot be followed statically."""
    import importlib
    import types

    names = set()
    for mod_name in allowed:
        try:
            mod = importlib.import_module(mod_name)
        except ImportError:
            continue
        for attr in dir(mod):
            value = getattr(mod, attr, None)
            if isinstance(value, types.ModuleType) and value.__name__.split(".")[0] not in allowed:
                names.add(attr)
    return frozenset(names)


def unsafe_code(source: str, allowed_imports, forbidden_names) -> str | None:
    """Why `source` may not be kept (an import outside `allowed_imports`, a call of a forbidden builtin, an
    escape attribute), or None. Checked before anything runs: the sandbox contains code while we verify it,
    but kept exercises and lessons are later run by people and trainers outside any sandbox."""
    allowed, forbidden = set(allowed_imports), set(forbidden_names)
    via_modules = _module_attributes(frozenset(allowed))
    try:
        tree = ast.parse(source)
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        return None  # not ours to judge: the run reports the syntax error
    except Exception:  # noqa: BLE001 - whatever else the parser raises, such code is not kept
        return "the code could not be analysed"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] not in allowed:
                    return f"imports {alias.name} (verify.allowed_imports)"
        elif isinstance(node, ast.ImportFrom):
            if node.level or (node.module or "").split(".")[0] not in allowed:
                return f"imports from {'.' * node.level}{node.module or ''} (verify.allowed_imports)"
        elif isinstance(node, ast.Name) and node.id in forbidden:
            return f"uses {node.id} (verify.forbidden_names)"
        elif isinstance(node, ast.Attribute) and (node.attr in ESCAPE_ATTRIBUTES or node.attr in via_modules):
            return f"uses .{node.attr}"
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            # the same names as strings (for getattr-like access the names above do not cover) and format
            # strings that look attributes up ("{0.__globals__}")
            word = node.value.strip()
            if word in ESCAPE_ATTRIBUTES or word in via_modules or word in forbidden:
                return f"names {word!r} in a string"
            if "{" in node.value and re.search(r"\{[^{}]*\.(_|f_|tb_|gi_)", node.value):
                return "a format string that looks up attributes"
    return None


def _tests_hold_objects(ex: Exercise) -> bool:
    """Whether the tests use a class of the solution (instantiate it, isinstance against it): such tests need
    the objects themselves, which isolated mode does not pass across (decided from the code, before running)."""
    classes = {n.name for n in ast.parse(ex.solution).body if isinstance(n, ast.ClassDef)}
    if not classes:
        return False
    used = {n.id for n in ast.walk(ast.parse(ex.tests)) if isinstance(n, ast.Name)}
    return bool(classes & used)


def _without_future_annotations(ex: Exercise) -> Exercise | None:
    """The exercise without `from __future__ import annotations` (the tester's code must come first in an
    isolated program, and a __future__ import cannot follow it); None when it has other __future__ imports."""
    tree = ast.parse(ex.prompt + ex.completion)
    futures = [n for n in tree.body if isinstance(n, ast.ImportFrom) and n.module == "__future__"]
    if any(a.name != "annotations" for n in futures for a in n.names) or _has_future_import(ex.tests):
        return None
    lines = ex.prompt.splitlines(keepends=True)
    drop = {n.lineno - 1 for n in futures if n.lineno == n.end_lineno}
    if len(drop) != len(futures) or any(i >= len(lines) for i in drop):
        return None
    prompt = "".join("\n" if i in drop else line for i, line in enumerate(lines))  # line numbers unchanged
    return Exercise(ex.entry_point, prompt, ex.completion, ex.tests, ex.tests_style, ex.requested_name, ex.variants)


def _has_future_import(source: str) -> bool:
    return any(isinstance(n, ast.ImportFrom) and n.module == "__future__" for n in ast.walk(ast.parse(source)))


class Verifier:
    """One sandbox pool for a run; `close()` (or `with`) ends it."""

    def __init__(self, config: VerifySection):
        self.config = config
        self._sandbox = None
        self.counts = {"isolated": 0, "default": 0, "programs": 0}

    @property
    def sandbox(self):
        if self._sandbox is None:
            from textbooks.eval.sandbox import Sandbox, SandboxConfig

            c = self.config
            self._sandbox = Sandbox(SandboxConfig(timeout=c.timeout, memory_mb=c.memory_mb, workers=c.workers,
                                                  isolation=c.isolation))
        return self._sandbox

    def close(self) -> None:
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- exercises -----------------------------------------------------------------------------------
    def exercises(self, items: list[tuple[str, Exercise]]) -> list[Verdict]:
        """One verdict per (id, exercise), in order."""
        verdicts: list[Verdict | None] = [None] * len(items)
        c = self.config
        for i, (_, ex) in enumerate(items):
            why = unsafe_code(ex.solution + "\n" + ex.tests, c.allowed_imports, c.forbidden_names)
            if why:
                verdicts[i] = Verdict(False, "unsafe code", why, "")
        todo = [i for i in range(len(items)) if verdicts[i] is None]
        want_isolated = c.verdict == "isolated"
        direct = {i for i in todo if want_isolated and _tests_hold_objects(items[i][1])}
        runnable = dict(items)  # what each item runs as, in its first run and in the reruns
        if want_isolated:
            for i in todo:
                item_id, ex = items[i]
                if i not in direct and _has_future_import(ex.solution):
                    stripped = _without_future_annotations(ex)
                    if stripped is None:
                        verdicts[i] = Verdict(False, "not isolatable", "a __future__ import other than annotations", "")
                    else:  # verified without it: annotations evaluated eagerly can only make it fail, never pass
                        runnable[item_id] = stripped
        first = [i for i in todo if i not in direct and verdicts[i] is None]
        for i, v in zip(first, self._run([(items[i][0], runnable[items[i][0]]) for i in first], c.verdict)):
            if want_isolated and not v.passed and "IsolationError" in v.detail:
                # No second chance in the default mode: a solution returning an always-equal object (a forged
                # pass) is exactly what isolation stops, and it surfaces here.
                v = Verdict(False, "not isolatable", v.detail, v.mode, v.seconds)
            verdicts[i] = v
        later = sorted(direct)
        for i, v in zip(later, self._run([items[i] for i in later], "default")):
            verdicts[i] = v
        for _ in range(c.runs - 1):  # a solution that passes by chance (random, time) must pass every time
            passing = [i for i, v in enumerate(verdicts) if v.passed]
            for i, v in zip(passing, self._run([(items[i][0], runnable[items[i][0]]) for i in passing],
                                               None, count=False,
                                               modes=[verdicts[i].mode for i in passing])):
                if not v.passed:
                    verdicts[i] = Verdict(False, "flaky", f"passed once, then: {v.detail}", v.mode, v.seconds)
        if c.check_trivial_tests:
            for body, what in (("", "with the body removed"), ("    return object()\n", "with the body returning object()")):
                passing = [i for i, v in enumerate(verdicts) if v.passed]
                stubs = [(items[i][0], _stub(items[i][1], body)) for i in passing]
                for i, v in zip(passing, self._run(stubs, "default", count=False)):
                    if v.passed:
                        verdicts[i] = Verdict(False, "trivial tests", f"the tests also pass {what}", verdicts[i].mode)
        return verdicts  # type: ignore[return-value]

    def _run(self, items: list[tuple[str, Exercise]], verdict: str | None, count: bool = True,
             modes: list[str] | None = None) -> list[Verdict]:
        """Verdicts of `items` in mode `verdict`, or per item in `modes` (the mode each was verified in)."""
        if not items:
            return []
        if modes is not None:
            out: list = [None] * len(items)
            for mode in set(modes):
                idx = [k for k, m in enumerate(modes) if m == mode]
                for k, v in zip(idx, self._run([items[k] for k in idx], mode, count)):
                    out[k] = v
            return out
        from textbooks.eval.tasks import Task

        out: list[Verdict | None] = [None] * len(items)
        groups: dict[str, list[int]] = {"humaneval": [], "mbpp": []}
        tasks, samples = {}, {}
        for i, (item_id, ex) in enumerate(items):
            tid = f"synth/{i}/{item_id}"
            if ex.tests_style == "check":
                tasks[i] = Task("humaneval", tid, ex.prompt, ex.entry_point, ex.tests, "")
                samples[i] = {"task_id": tid, "completion": ex.completion}
                groups["humaneval"].append(i)
            else:
                try:
                    tests = _statements(ex.tests)
                except SyntaxError as e:
                    out[i] = Verdict(False, "syntax error", f"in the tests: {e.msg}", "")
                    continue
                tasks[i] = Task("mbpp", tid, "", ex.entry_point, "\n".join(tests), "", tests=tests)
                samples[i] = {"task_id": tid, "completion": ex.solution}
                groups["mbpp"].append(i)
        for benchmark, idx in groups.items():
            if not idx:
                continue
            rows = self._execute(benchmark, [samples[i] for i in idx], [tasks[i] for i in idx], verdict)
            for i, row in zip(idx, rows):
                result = row["result"]
                out[i] = Verdict(bool(row["passed"]), None if row["passed"] else reason_of(result), result, verdict,
                                 float(row.get("seconds") or 0.0))
        if count:
            self.counts[verdict] += sum(1 for v in out if v is not None and v.mode)
            self.counts["programs"] += len(items)
        return out  # type: ignore[return-value]

    def _execute(self, benchmark, samples, tasks, verdict) -> list[dict]:
        from textbooks.eval.execute import execute_samples

        try:
            return execute_samples(benchmark, samples, tasks=tasks, sandbox=self.sandbox, timeout=self.config.timeout,
                                   verdict=verdict, details=True)
        except (ValueError, SyntaxError) as e:
            if len(samples) == 1:  # this item cannot be built into a program at all
                return [{"passed": False, "result": f"syntax error: {e}"[:300]}]
            # one bad item must not sink the batch: find it by running them one by one
            return [self._execute(benchmark, [s], [t], verdict)[0] for s, t in zip(samples, tasks)]

    # --- textbooks -----------------------------------------------------------------------------------
    def textbooks(self, books: list[Textbook], max_blocks: int) -> list[list[list[Verdict]]]:
        """Per book, per section, per block (the first `max_blocks` blocks of a book): its verdict."""
        from textbooks.eval.sandbox import Program

        c = self.config
        programs, where, unsafe = [], [], {}
        for b, book in enumerate(books):
            budget = max_blocks
            for s, section in enumerate(book.sections):
                for k in range(len(section.blocks)):
                    if budget <= 0:
                        break
                    budget -= 1
                    why = unsafe_code(section.blocks[k], c.allowed_imports, c.forbidden_names)
                    if why:  # never run, nor the blocks after it (each of their programs would contain it)
                        unsafe[(b, s, k)] = why
                        break
                    programs.append(Program("\n\n".join(section.blocks[: k + 1]), None, c.timeout))
                    where.append((b, s, k))
        outcomes = self.sandbox.run(programs) if programs else []
        self.counts["programs"] += len(programs)
        out = [[[Verdict(False, "code blocks fail", "not run (over textbooks.max_code_blocks)", "")
                 for _ in sec.blocks] for sec in book.sections] for book in books]
        for (b, s, k), o in zip(where, outcomes):
            out[b][s][k] = Verdict(o.passed, None if o.passed else reason_of(o.result), o.result, "default", o.seconds)
        for (b, s, k), why in unsafe.items():
            out[b][s][k] = Verdict(False, "unsafe code", why, "")
            for later in range(k + 1, len(books[b].sections[s].blocks)):
                out[b][s][later] = Verdict(False, "unsafe code", f"not run: block {k + 1} of its section {why}", "")
        return out


def _stub(ex: Exercise, body: str = "") -> Exercise:
    """The exercise with its body replaced by `body` ("": the prompt alone, whose docstring is a body)."""
    return Exercise(ex.entry_point, ex.prompt, body, ex.tests, ex.tests_style, ex.requested_name, ex.variants)
