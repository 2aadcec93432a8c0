"""`textbooks data similar`: the reverse view (paper §5.2, Table 3): which benchmark tasks have a close match
in the training data, for each AST match rate tau.

    textbooks data similar --benchmark humaneval --train exercises.jsonl corpus/ --tau 0.95 0.9 0.85 0.8 --out DIR
    # DIR/similar-tau0.95.txt   the similar task ids, one a line (`textbooks eval report --similar-ids` reads it)
    # DIR/similar-tau0.95.json  {"similar_ids": [...], "non_similar_ids": [...], "matches": {task: [...]}, settings}
    # DIR/similar.json          every tau: counts, ids, per task the closest training documents, and
    #                           snippets_truncated: training documents over max_snippets (not all compared)
    textbooks eval report --results humaneval_results.jsonl --similar-ids DIR/similar-tau0.95.txt --out report/

A task is "similar" at tau when at least one training document matches it under the decontamination rule
(`DecontaminateConfig.rule`, default any): a function with AST match rate >= tau, or a snippet within the
embedding threshold (fixed, as in the paper, whatever tau), or (with `ngram` in methods) a shared 13-gram.
The paper's methods here are embedding + ast (its §5.1 n-gram check found 4 false positives).

The scan is one datatrove stage (`SimilarityCollector` per task shard writes `work/similar/<rank>.json`:
per benchmark task and method the closest training documents), so it is parallel and resumable like
the other data verbs; the files above are merged from those.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Sequence

from datatrove.pipeline.base import PipelineStep
from datatrove.utils.batching import batched

from textbooks.data.decontam.detect import DecontaminateConfig, note_truncated, shared_detector, truncation_totals
from textbooks.guard import atomic_write_text
from textbooks.jsonl import write_json_atomic

PAPER_TAUS = (0.95, 0.9, 0.85, 0.8)  # paper Table 3
KEEP = 5  # closest training documents kept per task and method


def tau_name(tau: float) -> str:
    """The file stem of one tau's split: similar-tau0.90 (2 decimals, as the paper's taus)."""
    return f"similar-tau{tau:.2f}"


def check_taus(taus: Sequence[float]) -> list[float]:
    """The distinct taus, largest first; ValueError for none, one outside (0, 1], or two different
    values that name the same file (they round to the same 2 decimals: 0.9 and 0.901)."""
    if not taus:
        raise ValueError("give at least one --tau")
    bad = [t for t in taus if not 0.0 < t <= 1.0]
    if bad:
        raise ValueError(f"every tau must be in (0, 1]; got {bad}")
    by_name: dict[str, float] = {}
    for t in sorted(set(float(t) for t in taus), reverse=True):
        other = by_name.setdefault(tau_name(t), t)
        if other != t:
            raise ValueError(f"--tau {other:g} and {t:g} both round to {t:.2f}, so both would write "
                             f"{tau_name(t)}.txt; give taus that differ in the first 2 decimals")
    return list(by_name.values())


class SimilarityCollector(PipelineStep):
    """Scans training documents; per benchmark task and method keeps the KEEP closest (id, score, line)."""

    name = "similarity scan"
    type = "🦠 - DECONT"

    def __init__(self, config: DecontaminateConfig, work_dir: str | Path, tau: float, batch_size: int = 64,
                 featurizer=None):
        super().__init__()
        self.config, self.work_dir, self.tau = config, str(work_dir), tau
        self.batch_size, self._featurizer = batch_size, featurizer

    def run(self, data, rank: int = 0, world_size: int = 1):
        det = shared_detector(self.config, self._featurizer)
        best: dict[str, dict[str, list]] = {}
        for batch in batched(data or [], self.batch_size):
            with self.track_time("batch"):
                unchecked: list[int] = []
                found = det.scan([d.text for d in batch], tau=self.tau, all_matches=True, unchecked=unchecked)
                for doc, matches, skipped in zip(batch, found, unchecked):
                    self.stat_update("documents")
                    if skipped:
                        note_truncated(self, doc, skipped)
                    if matches:
                        self.stat_update("documents_matching")
                    for m in matches:
                        entries = best.setdefault(m.task_id, {}).setdefault(m.method, [])
                        entries.append({"train_id": doc.id, "score": round(float(m.score), 4), "line": m.line})
                        entries.sort(key=lambda e: e["score"] if m.method == "embedding" else -e["score"])
                        del entries[KEEP:]
        write_json_atomic(Path(self.work_dir) / f"{rank:05d}.json", best)
        return
        yield  # a generator step that yields nothing: the scan's result is the file above


def merge(work_dir: Path) -> dict[str, dict[str, list]]:
    merged: dict[str, dict[str, list]] = {}
    for path in sorted(Path(work_dir).glob("*.json")):
        for task, by_method in json.loads(path.read_text(encoding="utf-8")).items():
            for method, entries in by_method.items():
                merged.setdefault(task, {}).setdefault(method, []).extend(entries)
    for by_method in merged.values():
        for method, entries in by_method.items():
            entries.sort(key=lambda e: (e["score"] if method == "embedding" else -e["score"], str(e["train_id"])))
            del entries[KEEP:]
    return merged


def is_similar(by_method: dict[str, list], tau: float, config: DecontaminateConfig) -> bool:
    """The decontamination rule applied to one task's closest matches at match rate `tau`."""
    hit = set()
    for method, entries in by_method.items():
        if not entries:
            continue
        top = entries[0]["score"]
        if (method == "ast" and top >= tau) or (method == "embedding" and top < config.embedding_threshold) or \
                (method == "ngram" and top >= config.ngram_min_matches):
            hit.add(method)
    return set(config.methods) <= hit if config.rule == "all" else bool(hit)


def write_split(out_dir: Path, task_ids: Sequence[str], matches: dict, taus: Sequence[float],
                config: DecontaminateConfig, benchmark: str, too_small: Sequence[str],
                truncated: dict | None = None) -> dict:
    """similar-tau*.txt / .json per tau and similar.json; returns the summary (similar.json's content).
    `truncated`: training documents (and functions) over max_snippets, not all compared."""
    taus = check_taus(taus)
    settings = config.describe()
    summary: dict = {"benchmark": benchmark, "tasks": len(task_ids), "settings": settings,
                     "tasks_too_small_for_ast": list(too_small), "taus": {}}
    if truncated is not None:
        summary["snippets_truncated"] = truncated
    for tau in sorted(taus, reverse=True):
        similar = [t for t in task_ids if is_similar(matches.get(t, {}), tau, config)]
        chosen = set(similar)
        non_similar = [t for t in task_ids if t not in chosen]
        name = tau_name(tau)
        atomic_write_text(out_dir / f"{name}.txt", "".join(t + "\n" for t in similar))
        tau_settings = dict(settings)
        if "ast" in settings:
            tau_settings["ast"] = {**settings["ast"], "tau": tau}
        per_tau = {"benchmark": benchmark, "tau": tau, "similar_ids": similar, "non_similar_ids": non_similar,
                   "settings": tau_settings, "matches": {t: matches[t] for t in similar}}
        write_json_atomic(out_dir / f"{name}.json", per_tau)
        summary["taus"][f"{tau:.2f}"] = {"similar": len(similar), "non_similar": len(non_similar),
                                         "similar_ids": similar, "file": str(out_dir / f"{name}.txt")}
    summary["closest"] = {t: matches.get(t, {}) for t in task_ids}
    write_json_atomic(out_dir / "similar.json", summary)
    return summary


def similar_tasks(benchmark: str, train: Sequence[str], out_dir: str | Path, taus: Sequence[float] = PAPER_TAUS,
                  config: DecontaminateConfig | None = None, *, read=None, executor=None, overwrite: bool = False,
                  featurizer=None) -> dict:
    """Scan `train`, write the per-tau splits of `benchmark` into `out_dir`; returns stats.json."""
    from textbooks.data import pipeline as pl
    from textbooks.data.decontam.references import load_references
    from textbooks.data.decontam.run import reader_for
    from textbooks.data.verbs import ReadConfig, VerbRun, execute_verb

    taus = check_taus(taus)
    config = replace(config or DecontaminateConfig(), benchmarks=[benchmark], tau=min(taus))
    references = load_references(config.benchmarks)
    run = VerbRun("similar", list(train), Path(out_dir), read=read or ReadConfig(), executor=executor or pl.ExecutorConfig(),
                  settings={**pl.config_dict(config), "taus": sorted(taus)}, overwrite=overwrite)

    def build(run):
        collector = SimilarityCollector(config, run.work("similar"), min(taus), featurizer=featurizer)
        return [pl.Stage("similar", [reader_for(run), collector], run.tasks)]

    def after(run) -> dict:
        too_small = [r.task_id for r in references if r.function.nodes < config.ast_min_nodes] if "ast" in config.methods else []
        truncated = {**truncation_totals(pl.read_stage_stats(run.out_dir, "similar")), "max_snippets": config.max_snippets}
        summary = write_split(run.out_dir, [r.task_id for r in references], merge(run.work("similar")), taus,
                              config, benchmark, too_small, truncated)
        return {"similar": {k: v for k, v in summary.items() if k != "closest"}}

    return execute_verb(run, build, after=after)
