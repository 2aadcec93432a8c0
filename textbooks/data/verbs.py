"""What every data verb shares: its inputs as a reader, its output directory, its task count, its stats.

A verb builds `Stage`s (textbooks.data.pipeline) from a `VerbRun`, which knows the inputs (listed once,
so every stage and every relaunch sees the same reading units), the task count fixed at the first
launch, and the directories of the layout in textbooks.data.pipeline. `execute_verb` claims or
resumes the output directory, runs the stages and writes stats.json.
"""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from textbooks.data import pipeline as pl
from textbooks.data.sources import list_units


@dataclass
class ReadConfig:
    strict: bool = False  # true: a malformed JSONL line / record is an error naming file:line (default: counted, skipped)
    # Documents over this many bytes are skipped (counted `too_large`) before they are read whole. 1 MB
    # follows The Stack's own cut (files > 1 MB were not included: Kocetkov et al. 2022, §3.2).
    max_bytes: int = 1_000_000
    tokenizer: str = ""  # token unit of the funnel: a tokenizer dir; empty = regex tokens (see pipeline.RegexTokenCount)
    # StackOverflow inputs (Posts.xml, Q&A JSONL): questions with a tag matching one of these (fnmatch); the
    # paper's pool is "the Python subset of ... StackOverflow" (§2.1).
    stackoverflow_tags: list[str] = field(default_factory=lambda: ["python*"])
    max_units: int = 0  # read only the first N reading units (files, row groups) of the inputs; 0 = all


@dataclass
class VerbRun:
    verb: str
    inputs: list[str]
    out_dir: Path
    read: ReadConfig = field(default_factory=ReadConfig)
    executor: pl.ExecutorConfig = field(default_factory=pl.ExecutorConfig)
    settings: dict = field(default_factory=dict)  # the verb's own config, for run.json's fingerprint
    overwrite: bool = False

    def __post_init__(self):
        self.out_dir = Path(self.out_dir)
        self.inputs = [str(p) for p in self.inputs]
        self._skips: dict[str, int] = {}
        self.units = list_units(self.inputs, self._skips)
        if self.read.max_units:
            self.units = self.units[: self.read.max_units]
        self.tasks = self.executor.tasks or pl.default_tasks(len(self.units))
        self.count_tokens = pl.token_counter(self.read.tokenizer or None)

    # -- directories
    @property
    def output_dir(self) -> Path:
        return self.out_dir / "output"

    @property
    def removed_dir(self) -> Path:
        return self.out_dir / "removed"

    def work(self, name: str) -> Path:
        return self.out_dir / "work" / name

    # -- steps
    def reader(self):
        """A fresh reader of the verb's inputs (the same units, in the same order, every call)."""
        from textbooks.data.readers import SourceReader

        return SourceReader(self.inputs, strict=self.read.strict, max_bytes=self.read.max_bytes,
                            count_tokens=self.count_tokens, units=self.units,
                            stackoverflow_tags=self.read.stackoverflow_tags)

    def output_writer(self):
        return pl.jsonl_writer(self.output_dir)

    def removed_writer(self, name: str):
        return pl.jsonl_writer(self.removed_dir / pl.slug(name))

    def with_exclusions(self, steps: list) -> list:
        return pl.attach_exclusion_writers(steps, self.removed_dir)

    def inputs_state(self) -> str:
        """A hash of every input file's path, size and modification time: a relaunch over changed files is a
        new run (resuming would mix documents of two versions of the corpus)."""
        import hashlib
        import os

        h = hashlib.sha256()
        for path in sorted({str(u.path) for u in self.units}):
            try:
                st = os.stat(path)
                h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
            except OSError:
                h.update(f"{path}\0missing\n".encode("utf-8", "surrogateescape"))
        return h.hexdigest()[:16]

    def record(self) -> dict:
        return {
            "verb": self.verb,
            "inputs": [str(Path(p).resolve()) for p in self.inputs],
            "units": len(self.units),
            "tasks": self.tasks,
            "inputs_state": self.inputs_state(),
            "read": pl.config_dict(self.read),
            "settings": self.settings,
        }


def execute_verb(run: VerbRun, build: Callable[[VerbRun], Sequence[pl.Stage]], *,
                 after: Callable[[VerbRun], dict] | None = None) -> dict:
    """Claim/resume `run.out_dir`, run the stages `build(run)` returns, write and return stats.json.

    `after(run)` may add verb-specific results (e.g. dedup's S-curve) to stats.json.
    """
    if not run.units:
        raise pl.PipelineUsageError(f"no documents to read in {', '.join(run.inputs)} (no .py files / data files found)")
    pl.check_executor(run.executor)  # before run.json claims the directory
    with pl.run_lock(run.out_dir):
        return _execute_locked(run, build, after)


def _execute_locked(run: VerbRun, build, after) -> dict:
    started = time.time()
    claim = pl.prepare_run(run.out_dir, run.record(), overwrite=run.overwrite)
    if claim["resumed"]:
        pl._log(f"{run.out_dir}: resuming the run of the same settings (finished tasks are skipped)")
    stages = list(build(run))
    finished = pl.run_stages(stages, run.out_dir, run.executor)
    header = {
        "verb": run.verb,
        "inputs": run.inputs,
        "tasks": run.tasks,
        "executor": run.executor.kind,
        "token_unit": run.count_tokens.unit,
        "complete": finished,
        "seconds": round(time.time() - started, 2),
        "machine": {"python": sys.version.split()[0], "platform": platform.platform(), "cpus": pl.default_workers()},
    }
    if not finished:  # slurm: submitted; stats come when the jobs are done and the command is rerun
        pl._log(f"submitted {len(stages)} stage(s); rerun the same command when the jobs finish to write {run.out_dir / pl.STATS_FILE}")
        return header
    extra = after(run) if after is not None else None
    return pl.write_stats(run.out_dir, stages, header, extra)
