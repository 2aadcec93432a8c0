"""The one runner of data verbs: datatrove pipelines on a local, Slurm or Ray executor, files between them.

A verb (`data filter`, `data dedup`, `data quality apply`, `data curate`, `data decontaminate`) is a list
of `Stage`s: each stage is one executor run of a full datatrove pipeline (reader, steps, writers) over
`tasks` shards. `run_stages` runs them in order, each with its own logging dir, so each is resumable
on its own through datatrove's completion markers (`logs/<stage>/completions/<rank>`): after a crash or
`kill -9`, relaunching the same command reruns only the tasks that did not finish; a task that was
killed half-way rewrites its output shard from the start (writers open shards in "w" mode), so the
result is the one an uninterrupted run gives.

Layout of a verb's output directory DIR:

    output/            kept documents: datatrove JSONL shards `<rank>.jsonl.gz` ({"text","id","metadata"})
    removed/<step>/    documents dropped by that step, same format, `metadata["drop_reason"]` + `dropped_by`
    work/<stage>/      intermediate data of multi-stage verbs (dedup signatures, the filtered set, ...)
    logs/<stage>/      datatrove's logs, per-task stats and completion markers
    run.json           what was run: verb, inputs, task counts, settings fingerprint (a relaunch must match)
    stats.json         per step: in, kept, dropped by reason, tokens in/kept, seconds (the funnel)

The task count is fixed at the first launch (recorded in run.json): datatrove's resumability needs the
same tasks on every launch, and a relaunch with other settings is refused (use a new DIR, or
`--overwrite`). Workers (processes at once) may change between launches.

Executors (`--executor`):
  local  LocalPipelineExecutor: `workers` processes on this machine (default: all cores).
  slurm  SlurmPipelineExecutor: one job array per stage, each depending on the previous (`depends=`);
         the command submits and returns; rerun the same command when the jobs are done to write
         stats.json (finished tasks are skipped). DIR must be on a filesystem every node sees.
  ray    RayPipelineExecutor on the cluster `ray.init(address=...)` finds (or a local one).
The steps are the same objects in all three; only the executor changes.

Stats are merged from the per-task files (`logs/<stage>/stats/<rank>.json`), not from the executor's
in-memory sum, so a relaunch that ran only the unfinished tasks still reports the whole run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from textbooks.jsonl import write_json_atomic

EXECUTORS = ("local", "slurm", "ray")
RUN_FILE = "run.json"
STATS_FILE = "stats.json"
LOCK_FILE = ".lock"
DEFAULT_MAX_TASKS = 32  # default task count: min(units, this); more tasks = finer resume and parallelism


class PipelineError(RuntimeError):
    """A data run that did not finish (the message says what to do): exit 1."""

    exit_code = 1


class PipelineUsageError(PipelineError):
    """A data run that cannot start as asked (bad input, another run's --out, a missing executor): exit 2."""

    exit_code = 2


def describe_differences(previous: dict, record: dict, limit: int = 6) -> str:
    """What differs between two run records, as `key: old -> new` (dotted keys), for refusal messages."""
    def flat(d, prefix=""):
        out = {}
        for k, v in d.items():
            if isinstance(v, dict):
                out.update(flat(v, f"{prefix}{k}."))
            else:
                out[f"{prefix}{k}"] = v
        return out

    a = flat({k: v for k, v in previous.items() if k not in ("fingerprint", "resumed")})
    b = flat({k: v for k, v in record.items() if k not in ("fingerprint", "resumed")})
    diffs = []
    for key in sorted(set(a) | set(b)):
        if a.get(key) != b.get(key):
            if key == "inputs_state":
                diffs.append("the input files changed since that run (sizes or modification times)")
            else:
                old = _short(a[key]) if key in a else "(absent)"
                new = _short(b[key]) if key in b else "(absent)"
                diffs.append(f"{key}: {old} -> {new}")
    more = f", and {len(diffs) - limit} more" if len(diffs) > limit else ""
    return "; ".join(diffs[:limit]) + more if diffs else "the same settings but another fingerprint"


def _short(value, n: int = 60) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= n else text[: n - 3] + "..."


# --- configuration --------------------------------------------------------------------------------


@dataclass
class SlurmConfig:
    partition: str = ""  # required for --executor slurm
    time: str = "4:00:00"  # per task (sbatch --time)
    cpus_per_task: int = 1
    mem_per_cpu_gb: int = 2
    qos: str = "normal"
    job_name: str = "textbooks-data"
    venv_path: str = ""  # activated in each job; default: the running interpreter's environment
    sbatch_args: dict = field(default_factory=dict)  # extra `#SBATCH --key=value` lines, e.g. {"account": "x"}


@dataclass
class RayConfig:
    address: str = ""  # ray.init(address=...); empty: connect to a running cluster or start a local one
    cpus_per_task: int = 1
    mem_per_cpu_gb: float = 2.0


@dataclass
class ExecutorConfig:
    kind: Literal["local", "slurm", "ray"] = "local"
    workers: int = 0  # processes at once (local) / concurrent tasks (slurm, ray); 0 = all cores (local) / no limit
    tasks: int = 0  # shards; 0 = min(reading units, DEFAULT_MAX_TASKS), fixed at the first launch
    slurm: SlurmConfig = field(default_factory=SlurmConfig)
    ray: RayConfig = field(default_factory=RayConfig)


@dataclass
class Stage:
    """One executor run: a full datatrove pipeline (reader, steps, writers) over `tasks` shards."""

    name: str
    steps: list
    tasks: int


# --- token units ------------------------------------------------------------------------------------

_CODE_TOKEN = re.compile(r"\w+|[^\w\s]")


class RegexTokenCount:
    """Token unit without a tokenizer: runs of word characters and single other non-space characters.

    Within ~10-30% of a BPE code tokenizer's count on Python; used for the funnel when no tokenizer is
    given (stats.json says which unit it counts).
    """

    unit = "regex tokens (\\w+|[^\\w\\s])"

    def __call__(self, text: str) -> int:
        return sum(1 for _ in _CODE_TOKEN.finditer(text))


class TokenizerTokenCount:
    """Token unit of a real tokenizer (a `textbooks tokenizer train` dir or HF tokenizer.json), loaded lazily
    in each worker (the step is pickled to workers; a tokenizer object is not sent)."""

    def __init__(self, path: str):
        self.path = str(path)
        self.unit = f"tokens of {self.path}"
        self._tok = None

    def __call__(self, text: str) -> int:
        if self._tok is None:
            from textbooks.tokenizer.load import load_tokenizer

            self._tok = load_tokenizer(self.path)
        return len(self._tok.encode(text))

    def __getstate__(self):
        return {**self.__dict__, "_tok": None}


# --- writers ----------------------------------------------------------------------------------------


def jsonl_writer(folder: Path | str):
    """The one output format: datatrove JSONL shards, gzip, one file per task (`<rank>.jsonl.gz`)."""
    from datatrove.pipeline.writers import JsonlWriter

    return JsonlWriter(str(folder), output_filename="${rank}.jsonl.gz", compression="gzip")


def jsonl_reader(folder: Path | str):
    """Reads what `jsonl_writer` wrote (an intermediate stage's output), shard files in sorted order."""
    return _shard_reader_class()(str(folder), glob_pattern="*.jsonl.gz", compression="gzip", adapter=_as_written,
                                 add_file_path=False)


_SHARD_READER = None


def _shard_reader_class() -> type:
    """datatrove's JsonlReader, except that a missing or empty folder and a rank without a shard read
    nothing quietly: a stage that kept nothing writes no shard (not even its folder), and with more tasks
    than shards some tasks get none; datatrove raises "No files found" / warns once per task for these.
    Made on first use (datatrove's readers import orjson); `textbooks.data.pipeline.ShardReader` by name."""
    global _SHARD_READER
    if _SHARD_READER is None:
        from datatrove.pipeline.readers import JsonlReader

        def run(self, data=None, rank: int = 0, world_size: int = 1):
            if data:
                yield from data
            if not self.data_folder.isdir(""):
                return
            files = self.data_folder.get_shard(rank, world_size, recursive=self.recursive, glob_pattern=self.glob_pattern)
            for doc in self.read_files_shard(files or []):
                self.update_doc_stats(doc)
                yield doc

        _SHARD_READER = type("ShardReader", (JsonlReader,), {"run": run, "__module__": __name__,
                                                             "__qualname__": "ShardReader"})
    return _SHARD_READER


def _as_written(self, data: dict, path: str, id_in_file: int | str) -> dict:
    """Read a record back as it was written. datatrove's reader would add the intermediate shard's path to
    the metadata (`file_path`, hence add_file_path=False), which would leak into the final output."""
    return {"text": data["text"], "id": data["id"], "metadata": data.get("metadata") or {}}


def attach_exclusion_writers(steps: list, removed_dir: Path) -> list:
    """Give every filter step without one an exclusion writer into `removed_dir/<step name>/`."""
    from datatrove.pipeline.filters.base_filter import BaseFilter

    for step in steps:
        if isinstance(step, BaseFilter) and step.exclusion_writer is None:
            step.exclusion_writer = jsonl_writer(removed_dir / slug(step.name))
    return steps


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(name).lower()).strip("_") or "step"


# --- running ----------------------------------------------------------------------------------------


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def default_tasks(n_units: int) -> int:
    return max(1, min(n_units, DEFAULT_MAX_TASKS))


def prepare_run(out_dir: Path, record: dict, *, overwrite: bool = False) -> dict:
    """Claim `out_dir` for this run, or recognise it as a run of the same settings to resume.

    `record` is what identifies the run (verb, inputs, settings, task counts); it is saved as run.json.
    Another run's directory (different record) is refused unless `overwrite`, which clears it first.
    """
    out_dir = Path(out_dir)
    run_file = out_dir / RUN_FILE
    fingerprint = hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()[:16]
    record = {**record, "fingerprint": fingerprint}
    if out_dir.exists() and any(p.name != LOCK_FILE for p in out_dir.iterdir()):
        previous = None
        if run_file.is_file():
            try:
                previous = json.loads(run_file.read_text())
            except (OSError, ValueError):
                previous = None
            # Only our record counts (another tool's run.json is not a data run).
            if not (isinstance(previous, dict) and isinstance(previous.get("fingerprint"), str)
                    and previous.get("verb") and "tasks" in previous and "inputs" in previous):
                previous = None
        if previous is not None and previous.get("fingerprint") == fingerprint and not overwrite:
            return {**record, "resumed": True}
        if previous is None:
            raise PipelineUsageError(f"{out_dir} holds files that are not a data run (no readable {RUN_FILE}); choose a "
                                     f"new --out (--overwrite never deletes a directory that is not a data run)")
        if not overwrite:
            raise PipelineUsageError(
                f"{out_dir} holds a run of other settings: {describe_differences(previous, record)}; choose a new "
                f"--out, or pass --overwrite to replace that run (the same command with the same inputs resumes)"
            )
        _clear_run_dir(out_dir, is_run=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(run_file, record)
    return {**record, "resumed": False}


# What a data run writes into its DIR: --overwrite removes these and nothing else.
RUN_ENTRIES = frozenset({RUN_FILE, STATS_FILE, "output", "removed", "work", "logs", "plots", "quality",
                         "report.jsonl", "report.md", LOCK_FILE})


def _clear_run_dir(out_dir: Path, *, is_run: bool) -> None:
    others = sorted(p.name for p in out_dir.iterdir() if p.name not in RUN_ENTRIES and not p.name.startswith(("similar", ".")))
    if not is_run or others:
        # --overwrite replaces a data run, never an arbitrary directory of someone's files.
        what = f"it also holds {', '.join(others[:5])}" if others else f"no {RUN_FILE} of a data run"
        raise PipelineUsageError(f"{out_dir} is not only a data run ({what}); refusing to delete it even with --overwrite")
    for child in out_dir.iterdir():
        if child.name == LOCK_FILE:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


@contextlib.contextmanager
def run_lock(out_dir: Path):
    """One run at a time per DIR: an exclusive flock on DIR/.lock, held for the whole command (two runs into
    one DIR would rewrite each other's shards). Released by the kernel when the process dies (kill -9)."""
    import fcntl

    out_dir.mkdir(parents=True, exist_ok=True)
    f = open(out_dir / LOCK_FILE, "a+")
    try:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PipelineUsageError(f"{out_dir} is in use by another run (it holds {out_dir / LOCK_FILE}); wait for it "
                                     f"to finish, or choose another --out") from None
        yield
    finally:
        f.close()


def run_stages(stages: Sequence[Stage], out_dir: Path, executor: ExecutorConfig | None = None) -> bool:
    """Run `stages` in order; True when every task of every stage has finished (always, for local/ray)."""
    executor = executor or ExecutorConfig()
    out_dir = Path(out_dir)
    _quiet_datatrove_console()
    previous = None
    if executor.kind == "ray":
        _ray_init(executor.ray)
    for stage in stages:
        logging_dir = out_dir / "logs" / stage.name
        stage = _with_progress(stage, logging_dir)
        exe = _make_executor(stage, logging_dir, executor, depends=previous)
        if executor.kind == "slurm":
            previous = exe  # launched at the end: the last one submits its dependencies first
            continue
        if _stage_complete(out_dir, stage):
            continue  # finished at an earlier launch (or earlier in this one)
        started = time.time()
        bar = ProgressBar(stage, logging_dir)
        try:
            exe.run()
        except (ValueError, OSError) as e:  # bad input (our readers name file:line) or a filesystem problem
            raise PipelineUsageError(_failure_message(stage, logging_dir, e)) from e
        # Anything else is a bug in a step: it propagates, and textbooks.cli.main reports it as one (crash file).
        finally:
            docs = bar.close()
        rate = f", {docs / max(time.time() - started, 1e-9):,.0f} docs/s" if docs else ""
        _log(f"{stage.name}: done in {time.time() - started:.1f}s" + (f" ({docs:,} documents{rate})" if docs else ""))
    if executor.kind == "slurm" and previous is not None:
        previous.run()
        return all(_stage_complete(out_dir, s) for s in stages)
    return True


# --- progress ---------------------------------------------------------------------------------------

PROGRESS_DIR = "progress"


class Progress:
    """A pass-through pipeline step after a stage's reader: every task writes how many documents it has
    passed to `logs/<stage>/progress/<rank>` (at most twice a second), which the submitting process sums
    into one progress bar (docs/s) whatever executor runs the tasks. Not a datatrove step class on
    purpose: datatrove calls any callable `step(data, rank, world_size)`, and this one has no stats."""

    def __init__(self, folder: Path | str):
        self.folder = str(folder)

    def __call__(self, data, rank: int = 0, world_size: int = 1):
        path = Path(self.folder) / f"{rank:05d}"
        path.parent.mkdir(parents=True, exist_ok=True)
        n, last = 0, 0.0
        for doc in data:
            n += 1
            now = time.monotonic()
            if now - last > 0.5:
                _write_count(path, n)
                last = now
            yield doc
        _write_count(path, n)


def _write_count(path: Path, n: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(str(n))
    os.replace(tmp, path)


def _with_progress(stage: Stage, logging_dir: Path) -> Stage:
    from datatrove.pipeline.readers.base import BaseReader

    steps = list(stage.steps)
    if steps and isinstance(steps[0], BaseReader) and not any(isinstance(s, Progress) for s in steps):
        steps.insert(1, Progress(logging_dir / PROGRESS_DIR))
    return Stage(stage.name, steps, stage.tasks)


class ProgressBar:
    """tqdm bar of a running stage in the submitting process: documents read (summed over the tasks'
    progress files) and tasks finished, polled from the logging dir every half second."""

    def __init__(self, stage: Stage, logging_dir: Path):
        import threading

        self.stage, self.logging_dir = stage, Path(logging_dir)
        self.done_before = _count_files(self.logging_dir / "completions")
        self._stop = threading.Event()
        self._bar = None
        if os.environ.get("TEXTBOOKS_PROGRESS", "1" if sys.stderr.isatty() else "0") != "0":
            from tqdm.auto import tqdm

            self._bar = tqdm(desc=stage.name, unit="doc", dynamic_ncols=True, leave=False)
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def documents(self) -> int:
        total = 0
        for p in (self.logging_dir / PROGRESS_DIR).glob("[0-9]*"):
            try:
                total += int(p.read_text() or 0)
            except (OSError, ValueError):
                pass
        return total

    def _poll(self) -> None:
        while not self._stop.wait(0.5):
            self._update()

    def _update(self) -> int:
        docs = self.documents()
        if self._bar is not None:
            self._bar.n = docs
            done = _count_files(self.logging_dir / "completions")
            self._bar.set_postfix_str(f"tasks {done}/{self.stage.tasks}", refresh=False)
            self._bar.refresh()
        return docs

    def close(self) -> int:
        self._stop.set()
        self._thread.join(timeout=2)
        docs = self._update()
        if self._bar is not None:
            self._bar.close()
        return docs


def _count_files(folder: Path) -> int:
    try:
        return sum(1 for _ in folder.iterdir())
    except OSError:
        return 0


def _stage_complete(out_dir: Path, stage: Stage) -> bool:
    done = out_dir / "logs" / stage.name / "completions"
    return done.is_dir() and len(list(done.iterdir())) >= stage.tasks


def _failure_message(stage: Stage, logging_dir: Path, error: Exception) -> str:
    # Our readers raise ValueError("file:line: ...") on malformed input in strict mode: show that line.
    detail = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
    return (f"stage {stage.name!r} stopped: {detail}\n(fix it and rerun the same command: finished tasks are kept; "
            f"task logs: {logging_dir / 'logs'})")


def check_executor(cfg: ExecutorConfig) -> None:
    """Refuse an executor that cannot run here, before anything is written."""
    if cfg.kind not in EXECUTORS:
        raise PipelineUsageError(f"unknown executor {cfg.kind!r}; choose one of {', '.join(EXECUTORS)}")
    if cfg.kind == "slurm":
        if not cfg.slurm.partition:
            raise PipelineUsageError("--executor slurm needs a partition: set executor.slurm.partition in the config "
                                     "(or --set executor.slurm.partition=NAME)")
        if shutil.which("sbatch") is None:
            raise PipelineUsageError("--executor slurm: `sbatch` is not on PATH; run on a Slurm login node "
                                     "(or use --executor local / ray)")
    if cfg.kind == "ray":
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            raise PipelineUsageError("--executor ray needs the ray extra: pip install 'textbooks[ray]'")


def _make_executor(stage: Stage, logging_dir: Path, cfg: ExecutorConfig, depends=None):
    workers = cfg.workers if cfg.workers > 0 else None
    if cfg.kind == "local":
        return _executor_class("LocalPipelineExecutor")(
            stage.steps, tasks=stage.tasks, workers=min(workers or default_workers(), stage.tasks),
            logging_dir=str(logging_dir), start_method="forkserver",
        )
    if cfg.kind == "slurm":
        check_executor(cfg)
        return _executor_class("SlurmPipelineExecutor")(
            stage.steps, tasks=stage.tasks, workers=workers or -1, time=_slurm_time(cfg.slurm.time),
            partition=cfg.slurm.partition, cpus_per_task=cfg.slurm.cpus_per_task,
            mem_per_cpu_gb=cfg.slurm.mem_per_cpu_gb, qos=cfg.slurm.qos,
            job_name=f"{cfg.slurm.job_name}-{stage.name}", venv_path=cfg.slurm.venv_path or _venv_activate(),
            sbatch_args=dict(cfg.slurm.sbatch_args) or None, logging_dir=str(logging_dir), depends=depends,
        )
    if cfg.kind == "ray":
        return _executor_class("RayPipelineExecutor")(
            stage.steps, tasks=stage.tasks, workers=workers or -1, logging_dir=str(logging_dir),
            cpus_per_task=cfg.ray.cpus_per_task, mem_per_cpu_gb=cfg.ray.mem_per_cpu_gb,
        )
    raise PipelineUsageError(f"unknown executor {cfg.kind!r}; choose one of {', '.join(EXECUTORS)}")


_EXECUTORS: dict[str, type] = {}


def _executor_class(name: str) -> type:
    """datatrove's executor `name`, subclassed here so that unpickling it in a worker (local pool, Slurm
    job, Ray task) imports this module, whose import quiets datatrove's console logging there too."""
    if name not in _EXECUTORS:
        import datatrove.executor as dx

        base = getattr(dx, name)
        cls = type(name, (base,), {"__module__": __name__, "__qualname__": name})
        globals()[name] = cls  # picklable by reference: textbooks.data.pipeline.<name>
        _EXECUTORS[name] = cls
    return _EXECUTORS[name]


def _slurm_time(value: str) -> str:
    """sbatch --time. YAML 1.1 reads an unquoted `4:00:00` as the base-60 number 14400, which reaches here
    as "14400": turn such seconds back into H:MM:SS (a plain minute count would be ambiguous either way)."""
    value = str(value).strip()
    if value.isdigit():
        s = int(value)
        return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
    return value


def _venv_activate() -> str:
    activate = Path(sys.prefix) / "bin" / "activate"
    return str(activate) if activate.is_file() else ""


def _ray_init(cfg: RayConfig) -> None:
    try:
        import ray
    except ImportError as e:
        raise PipelineUsageError("--executor ray needs the ray extra: pip install 'textbooks[ray]'") from e
    if not ray.is_initialized():
        # ray.init installs its own SIGINT/SIGTERM handlers in the driver; the guard's (textbooks/guard.py:
        # Ctrl-C stops within a second, keeps what finished, says how to resume) are put back after it.
        import signal
        import threading

        saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            ray.init(address=cfg.address or None, ignore_reinit_error=True, log_to_driver=False,
                     include_dashboard=False)
        finally:
            if threading.current_thread() is threading.main_thread():
                for sig, handler in saved.items():
                    if handler is not None:
                        signal.signal(sig, handler)


def _quiet_datatrove_console() -> None:
    """datatrove logs every task at INFO to stderr (pipeline dumps, per-task stats): keep its task logs
    in `logs/<stage>/logs/task_<rank>.log` as they are, but show only warnings and errors on the console
    (TEXTBOOKS_DATA_LOG_LEVEL=INFO shows everything). Patched where the executors look the functions up;
    this module is imported in every worker (the executors below are pickled with the pipeline)."""
    import datatrove.executor.base as base
    from loguru import logger

    if getattr(base, "_textbooks_quiet", False):
        return
    level = os.environ.get("TEXTBOOKS_DATA_LOG_LEVEL", "WARNING")
    # loguru's `add` costs ~40 ms (it scans sysconfig paths), so the console sink is added once and only
    # the task's file sink comes and goes.
    sinks: dict = {}

    def add_task_logger(logging_dir, rank, local_rank=0, node_rank=-1):
        # datatrove.utils.logging.add_task_logger, with the console at `level` instead of INFO.
        logfile = logging_dir.open(f"logs/task_{rank:05d}.log", "w")
        prefix = f"[NODE {node_rank}] " if node_rank != -1 else ""
        sinks[id(logfile)] = logger.add(
            logfile, level="DEBUG", colorize=False,
            format=prefix + "{time:YYYY-MM-DD HH:mm:ss.SSS} | {level: <8} | {name}:{function}:{line} - {message}")
        logger.info(f"Launching pipeline for {rank=}")
        return logfile

    def close_task_logger(logfile):
        logger.complete()
        sink = sinks.pop(id(logfile), None)
        if sink is not None:
            logger.remove(sink)
        logfile.close()

    base.add_task_logger, base.close_task_logger = add_task_logger, close_task_logger
    logger.remove()
    logger.add(sys.stderr, level=level, format=_console_format)
    base._textbooks_quiet = True


def _console_format(record) -> str:
    # A callable format: loguru then does not append the traceback of a logged exception (the failing
    # task's traceback stays in its log file; the runner reports the error in one line).
    return "{level}: {message}\n"


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- stats ------------------------------------------------------------------------------------------


def read_stage_stats(out_dir: Path, stage_name: str) -> list[dict]:
    """Per-step stats of one stage, summed over its tasks' stats files (datatrove's PipelineStats)."""
    from datatrove.utils.stats import PipelineStats

    folder = Path(out_dir) / "logs" / stage_name / "stats"
    total = PipelineStats()
    for path in sorted(folder.glob("*.json")):
        with open(path) as f:
            total = total + PipelineStats.from_json(json.load(f))
    return [json.loads(json.dumps(s.to_dict())) for s in total.stats]


def step_summary(step_stats: dict) -> dict:
    """One step's funnel line from datatrove's stats dict: in, kept, dropped by reason, tokens, seconds."""
    stats = step_stats.get("stats", {})

    def count(key):
        v = stats.get(key, 0)
        return v.get("total", 0) if isinstance(v, dict) else v

    dropped = {k[len("dropped_"):]: count(k) for k in sorted(stats) if k.startswith("dropped_")}
    skipped = {k[len("skipped_"):]: count(k) for k in sorted(stats) if k.startswith("skipped_")}
    name = step_stats.get("name", "")
    out: dict[str, Any] = {"step": name}
    if "WRITER" in name:  # datatrove writers count documents per output file (keys "<file name>") and in "total"
        out["written"] = count("total")
        stats = {k: v for k, v in stats.items() if k in ("doc_len", "doc_len_tokens")}
    elif "total" in stats:  # filters
        out.update({"in": count("total"), "kept": count("forwarded"), "dropped": dropped})
    elif "documents" in stats or name.endswith("read inputs"):  # our reader (even when it read nothing)
        out.update({"in": count("documents") + sum(skipped.values()), "kept": count("documents"), "skipped": skipped})
    tokens = stats.get("doc_len_tokens")
    if isinstance(tokens, dict):
        out["tokens_kept"] = tokens.get("total", 0)
    chars = stats.get("doc_len")
    if isinstance(chars, dict):
        out["chars_kept"] = chars.get("total", 0)
    extra = {k: v for k, v in stats.items() if not (k in ("total", "forwarded", "dropped", "documents", "doc_len", "doc_len_tokens")
                                                    or k.startswith(("dropped_", "skipped_")))}
    if extra:
        out["other"] = extra
    time_stats = step_stats.get("time_stats")
    if isinstance(time_stats, dict):
        out["seconds"] = round(time_stats.get("total", 0.0), 3)
    return out


def write_stats(out_dir: Path, stages: Sequence[Stage], header: dict, extra: dict | None = None) -> dict:
    """stats.json: the header (verb, inputs, token unit, executor), then every stage's steps' summaries."""
    steps = []
    for stage in stages:
        for s in read_stage_stats(out_dir, stage.name):
            steps.append({"stage": stage.name, **step_summary(s)})
    doc = {**header, "steps": steps, **(extra or {})}
    write_json_atomic(Path(out_dir) / STATS_FILE, doc)
    return doc


def config_dict(obj) -> Any:
    """A dataclass config as plain JSON values (for run.json / fingerprints)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: config_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [config_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): config_dict(v) for k, v in obj.items()}
    return obj


def token_counter(tokenizer: str | None) -> Callable[[str], int]:
    return TokenizerTokenCount(tokenizer) if tokenizer else RegexTokenCount()


_quiet_datatrove_console()  # at import: workers import this module when they unpickle a pipeline


def __getattr__(name: str):
    # Workers unpickle `textbooks.data.pipeline.LocalPipelineExecutor` (etc.) by name: make it on demand.
    if name in ("LocalPipelineExecutor", "SlurmPipelineExecutor", "RayPipelineExecutor"):
        return _executor_class(name)
    if name == "ShardReader":
        return _shard_reader_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
