"""`textbooks data decontaminate`: one datatrove stage (read, DecontaminateFilter, write) and its report.

    textbooks data decontaminate corpus/ exercises.jsonl --benchmarks humaneval,mbpp --out runs/decont
    # runs/decont/output/     clean documents (datatrove JSONL shards)
    # runs/decont/removed/    flagged documents, metadata["contamination"] = the evidence
    # runs/decont/report.jsonl  one line per flagged document: {"id", "matches": [{"task_id", "method", "score"}]}
    # runs/decont/report.md     every flagged pair side by side
    # runs/decont/stats.json    the funnel, the settings that decided, counts per method / benchmark / task,
#                           snippets_truncated: documents (and functions) over max_snippets, not all compared

Inputs are those of the other data verbs (textbooks.data.sources), plus exercise records: a JSONL file
whose first record has string `prompt` and `completion` fields is read as documents `prompt + completion`
(id: the record's `id` or `task_id`, else file:line; both fields stay in metadata).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Sequence

from textbooks.data.decontam.detect import DecontaminateConfig, DecontaminateFilter, truncation_totals

STEP_NAME = DecontaminateFilter.name


def reader_for(run):
    """The reader of a `textbooks.data.verbs.VerbRun`'s inputs (exercise records are read as
    `prompt + completion` by textbooks.data.sources, like every data verb's)."""
    return run.reader()


def decontaminate(inputs: Sequence[str], out_dir: str | Path, config: DecontaminateConfig | None = None, *,
                  read=None, executor=None, overwrite: bool = False, featurizer=None) -> dict:
    """Run the stage over `inputs` into `out_dir` (layout in the module docstring); returns stats.json."""
    from textbooks.data import pipeline as pl
    from textbooks.data.decontam.audit import read_shards, write_reports
    from textbooks.data.verbs import ReadConfig, VerbRun, execute_verb

    config = config or DecontaminateConfig()
    run = VerbRun("decontaminate", list(inputs), Path(out_dir), read=read or ReadConfig(),
                  executor=executor or pl.ExecutorConfig(), settings=pl.config_dict(config), overwrite=overwrite)

    def build(run):
        step = DecontaminateFilter(config, exclusion_writer=run.removed_writer(STEP_NAME), featurizer=featurizer)
        return [pl.Stage("decontaminate", [reader_for(run), step, run.output_writer()], run.tasks)]

    def after(run) -> dict:
        settings = config.describe()
        truncated = {**truncation_totals(pl.read_stage_stats(run.out_dir, "decontaminate")),
                     "max_snippets": config.max_snippets}
        flagged = write_reports(run.removed_dir, run.out_dir, settings, truncated=truncated)
        by_method: Counter = Counter()
        by_benchmark: Counter = Counter()
        by_task: Counter = Counter()
        for rec in read_shards(run.removed_dir):
            evidence = (rec.get("metadata") or {}).get("contamination") or []
            by_method.update({m["method"] for m in evidence})
            by_task.update({m["task_id"] for m in evidence})
            by_benchmark.update({m["task_id"].split("/")[0].lower() for m in evidence})
        return {"decontamination": {
            "settings": settings, "documents_flagged": flagged, "flagged_by_method": dict(sorted(by_method.items())),
            "flagged_by_benchmark": dict(sorted(by_benchmark.items())), "tasks_matched": len(by_task),
            "most_matched_tasks": dict(by_task.most_common(20)),
            # documents with more functions than max_snippets: only their largest max_snippets were compared
            "snippets_truncated": truncated,
            "report": str(run.out_dir / "report.jsonl"), "audit": str(run.out_dir / "report.md")}}

    return execute_verb(run, build, after=after)
