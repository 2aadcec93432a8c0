"""`textbooks data decontaminate`: one datatrove stage (read, DecontaminateFilter, write) and its report.

    textbooks data decontaminate corpus/ exercises.jsonl --benchmarks humaneval,mbpp --out runs/decont
    # runs/decont/output/     clean documents (datatrove JSONL shards)
    # runs/decont/removed/    flagged documents, metadata["contamination"] = the evidence
    # runs/decont/report.jsonl  one line per flagged document: {"id", "matches": [{"task_id", "method", "score"}]}
    # runs/decont/report.md     every flagged pair side by side
    # runs/decont/stats.json    the funnel, the settings that decided, counts per method / benchmark / task

Inputs are those of the other data verbs (textbooks.data.sources), plus exercise records: a JSONL file
whose first record has string `prompt` and `completion` fields is read as documents `prompt + completion`
(id: the record's `id` or `task_id`, else file:line; both fields stay in metadata).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Iterator, Sequence

from datatrove.data import Document

from textbooks.data.decontam.detect import DecontaminateConfig, DecontaminateFilter
from textbooks.data.readers import SourceReader
from textbooks.data.sources import SourceUnit, iter_units
from textbooks.jsonl import iter_jsonl

STEP_NAME = DecontaminateFilter.name


def is_exercise_file(path: Path) -> bool:
    """True when the first record of a JSONL file has string `prompt` and `completion` fields."""
    try:
        for _, record in iter_jsonl(path, objects=True):
            return isinstance(record.get("prompt"), str) and isinstance(record.get("completion"), str)
    except (ValueError, OSError, UnicodeDecodeError):
        return False
    return False


def read_exercises(path: Path, skipped: dict, strict: bool) -> Iterator[Document]:
    for line_no, record in iter_jsonl(path, objects=True):
        prompt, completion = record.get("prompt"), record.get("completion")
        if not (isinstance(prompt, str) and isinstance(completion, str)):
            if strict:
                raise ValueError(f"{path}:{line_no}: expected string fields 'prompt' and 'completion' like the "
                                 "first record of the file")
            skipped["no_text"] = skipped.get("no_text", 0) + 1
            continue
        if not (prompt + completion).strip():
            skipped["empty"] = skipped.get("empty", 0) + 1
            continue
        doc_id = next((str(record[k]) for k in ("id", "task_id") if record.get(k) is not None), f"{path}:{line_no}")
        yield Document(text=prompt + completion, id=doc_id, metadata={**{k: v for k, v in record.items() if k != "id"},
                                                                         "source": str(path)})


class DecontamReader(SourceReader):
    """The data verbs' reader (textbooks.data.readers.SourceReader) that also reads exercise records."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.exercise_files = {str(u.path) for u in self.units if u.kind == "jsonl" and is_exercise_file(u.path)}

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        skipped: dict[str, int] = dict(self.listing_skips) if rank == 0 else {}
        n = 0
        try:
            for doc in self._documents(self.units[rank::world_size], skipped):
                if self.limit != -1 and n >= self.limit:
                    break
                with self.track_time():
                    if self.count_tokens is not None:
                        doc.metadata["token_count"] = self.count_tokens(doc.text)
                    self.stat_update("documents")
                    self.update_doc_stats(doc)
                n += 1
                yield doc
        finally:
            for reason, count in sorted(skipped.items()):
                self.stat_update(f"skipped_{reason}", value=count)

    def _documents(self, units: Sequence[SourceUnit], skipped: dict) -> Iterator[Document]:
        for unit in units:
            if str(unit.path) in self.exercise_files:
                yield from read_exercises(unit.path, skipped, self.strict)
            else:
                yield from iter_units([unit], skipped, strict=self.strict, max_bytes=self.max_bytes)


def reader_for(run) -> DecontamReader:
    """The reader of a `textbooks.data.verbs.VerbRun`'s inputs, exercise records included."""
    return DecontamReader(run.inputs, strict=run.read.strict, max_bytes=run.read.max_bytes,
                          count_tokens=run.count_tokens, units=run.units)


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
        flagged = write_reports(run.removed_dir, run.out_dir, settings)
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
            "report": str(run.out_dir / "report.jsonl"), "audit": str(run.out_dir / "report.md")}}

    return execute_verb(run, build, after=after)
