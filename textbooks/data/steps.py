"""The base of every data step that drops documents: a datatrove `BaseFilter` whose drops carry a reason.

Every drop in this project has a reason (the style rule "a reason for every drop"). datatrove's
`BaseFilter` already counts `dropped_<reason>` in its stats and, with an `exclusion_writer`, writes the
dropped document with `metadata["filter_reason"]`. Our audit format is `metadata["drop_reason"]` (plus
`metadata["dropped_by"]`, the step that dropped it), so `ReasonFilter.run` sets both before the
exclusion writer sees the document. A `ReasonFilter.filter` that returns a bare `False` is a bug: the
drop is then recorded with the reason `"unspecified"` and a warning, never silently.

Steps stay pure: `filter(doc)` looks at one Document; readers, writers, sharding and executors are the
runner's business (textbooks.data.pipeline).
"""

from __future__ import annotations

import contextlib

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.filters.base_filter import BaseFilter, get_filter_result
from datatrove.utils.batching import batched
from datatrove.utils.typeshelper import StatHints
from loguru import logger

UNSPECIFIED = "unspecified"


class ReasonFilter(BaseFilter):
    """A BaseFilter whose every drop has a reason, recorded as `metadata["drop_reason"]`.

    Subclasses implement `filter(doc) -> True | (False, reason)` (or `filter_batch`). `name` is the
    step's name in stats.json and in `metadata["dropped_by"]`.
    """

    name = "reason filter"

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        with self.exclusion_writer if self.exclusion_writer else contextlib.nullcontext() as writer:
            for batch in batched(data, self.batch_size):
                with self.track_time("batch" if self.batch_size > 1 else None):
                    results = self.filter_batch(batch)
                if len(results) != len(batch):
                    raise RuntimeError(f"{self.name}: filter_batch returned {len(results)} results for {len(batch)} documents")
                for doc, res in zip(batch, results):
                    self.stat_update(StatHints.total)
                    keep, reason = get_filter_result(res)
                    if keep:
                        self.stat_update(StatHints.forwarded)
                        self.update_doc_stats(doc)
                        yield doc
                        continue
                    if not reason:
                        logger.warning(f"{self.name} dropped {doc.id} without a reason (a bug in the step)")
                        reason = UNSPECIFIED
                    self.stat_update(StatHints.dropped, f"dropped_{reason}")
                    doc.metadata["drop_reason"] = reason
                    doc.metadata["dropped_by"] = self.name
                    if writer is not None:
                        writer.write(doc, rank)

    def filter(self, doc: Document) -> bool | tuple[bool, str]:  # pragma: no cover - abstract
        raise NotImplementedError
