"""The readers of textbooks.data.sources as a datatrove step: any mix of inputs, sharded by reading unit.

Task `rank` of `world_size` reads units `rank, rank + world_size, ...` of the input list (a unit is one
.py file, one JSONL file, one Parquet row group, one Posts.xml file), so tasks read disjoint parts
that together cover every input, and the split depends only on the inputs and the task count, never
on the number of workers: a relaunch gives every task the same documents in the same order. Units are
listed once, when the step is made (on the submitting machine), and travel with the pickled pipeline
to local workers, Slurm jobs or Ray tasks; workers on a cluster must see the same paths.

Skips are counted in the step's stats as `skipped_<reason>` (`non_utf8`, `binary`, `empty`,
`too_large`, `duplicate_path`, and with `strict=False` `bad_json` / `no_text`): never a crash. With
`strict=True` a malformed record is an error naming `file:line`. `max_bytes` bounds a document: a
larger .py file is not read at all (its size is checked first), a larger record is skipped.
Every document gets `metadata["token_count"]` from `count_tokens` (the runner's token unit, see
textbooks.data.pipeline), which datatrove's per-step doc stats sum into the funnel's token counts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from datatrove.pipeline.readers.base import BaseReader

from textbooks.data.sources import SourceUnit, iter_units, list_units


class SourceReader(BaseReader):
    name = "read inputs"
    type = "📖 - READER"

    def __init__(
        self,
        inputs: Sequence[str],
        *,
        strict: bool = True,
        max_bytes: int = 0,
        count_tokens: Callable[[str], int] | None = None,
        units: list[SourceUnit] | None = None,
        limit: int = -1,
        stackoverflow_tags: Sequence[str] = ("python*",),
    ):
        super().__init__(limit=limit)
        self.inputs = [str(p) for p in inputs]
        self.strict = strict
        self.max_bytes = int(max_bytes)
        self.count_tokens = count_tokens
        self.stackoverflow_tags = list(stackoverflow_tags)
        listing: dict[str, int] = {}
        self.units = list_units(self.inputs, listing) if units is None else list(units)
        self.listing_skips = listing  # skips found while listing (duplicate paths): counted once, by task 0

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        skipped: dict[str, int] = dict(self.listing_skips) if rank == 0 else {}
        n = 0
        try:
            for doc in iter_units(self.units[rank::world_size], skipped, strict=self.strict, max_bytes=self.max_bytes,
                                  stackoverflow_tags=self.stackoverflow_tags):
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
