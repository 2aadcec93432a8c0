"""The three detectors together, the pruning rule, and the datatrove step (paper §5).

    from textbooks.data.decontam.detect import DecontaminateConfig, Decontaminator
    det = Decontaminator(DecontaminateConfig(benchmarks=["humaneval"], methods=["ast"], tau=0.9))
    det.flag("def f(xs):\\n    ...")   # -> [Match(task_id="HumanEval/12", method="ast", score=0.95, ...)]

`Decontaminator.scan(texts, tau)` finds, per document, every benchmark task it matches with each method:
- ngram: the document shares >= `ngram_min_matches` distinct non-whitelisted 13-grams with the task
  (score: how many);
- embedding: one of its snippets is within `embedding_threshold` (L2, unit vectors) of the task's solution
  (score: that distance; lower is closer);
- ast: one of its functions has AST match rate >= `tau` with the task's solution (score: tau of the best).
Both snippets of a pair must have >= `ast_min_nodes` AST nodes: smaller functions (`return len(string)`,
7 nodes) look like half the functions anywhere once names and constants are gone (BigCode whitelists
exactly such trivial solutions); 12 keeps 1,073 of the 1,138 HumanEval + MBPP solutions comparable
(benchmarks/results/decontaminate.json has the false-positive rates behind the choice).

The rule (paper §5.2: "we fix a threshold for the embedding distance, and we test several match rate τ"):
`rule: any` flags a document that any enabled method matches (embedding OR ast, the paper's; plus the
n-grams when enabled); `rule: all` only one that every enabled method matches.

`DecontaminateFilter` is the step: a `ReasonFilter` dropping flagged documents with reason "contaminated"
and `metadata["contamination"]`: the matches, each {task_id, method, score, line, snippet, reference}, so a
removed document carries its evidence.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Literal, Sequence

import numpy as np
from datatrove.data import Document

from textbooks.data.steps import ReasonFilter

METHODS = ("ngram", "embedding", "ast")
NGRAM_FIELDS = ("text", "solution", "tests")
EMBED_CHUNK = 4096  # snippets embedded at once (4096 x 4096-d float32 = 64 MB for the hashed featurizer)
REASON = "contaminated"


@dataclass
class DecontaminateConfig:
    """Settings of `textbooks data decontaminate` / `data similar` (the `decontaminate:` section of
    configs/data/curate.yaml). Example: against HumanEval only, AST at tau 0.95, n-grams off:

        decontaminate: {benchmarks: [humaneval], methods: [embedding, ast], tau: 0.95}
    """

    benchmarks: list[str] = field(default_factory=lambda: ["humaneval", "mbpp"])  # names of textbooks.eval.tasks, "mbpp:test", or a .jsonl
    methods: list[str] = field(default_factory=lambda: list(METHODS))
    rule: Literal["any", "all"] = "any"  # paper §5.2: embedding distance under the threshold OR tau reached
    # n-grams (paper §5.1: 13-gram overlap of docstrings; NeMo Curator also uses 13, datatrove 12, Cosmopedia 10)
    ngram_n: int = 13
    ngram_fields: list[str] = field(default_factory=lambda: ["text", "solution"])  # of: text, solution, tests
    ngram_min_matches: int = 1  # §5.1 counts a problem with one shared 13-gram
    ngram_whitelist_min_tasks: int = 3  # an n-gram in >= this many benchmark tasks is boilerplate (82 of 28k)
    ngram_whitelist: list[str] = field(default_factory=list)  # extra strings whose n-grams never count
    # embedding (paper §5.2: normalised CodeGen-Mono 350M embeddings; the threshold is NOT in the paper, whose
    # one example pair is at 0.16). 0.5 is calibrated for the "hashed" featurizer: 0 of 12,803 stdlib
    # functions fall under it, 90% of reformatted copies do (benchmarks/bench_decontaminate.py, calibration);
    # recalibrate for a model featurizer.
    featurizer: str = "hashed"  # textbooks.data.quality.featurize spec: "hashed", a HF causal-LM dir, our checkpoint
    embedding_threshold: float = 0.5
    embedding_device: str = "cpu"
    search: Literal["exact", "faiss"] = "exact"  # see textbooks.data.decontam.embedding
    # AST match rate (paper §5.2 tests 0.95, 0.9, 0.85, 0.8; App. C: pairs at <= 0.9 are "only loosely similar")
    tau: float = 0.9
    # ignore = the paper's (every name ignored); keep-api keeps builtin and attribute names (`len`, `.append`), which
    # renaming a copy leaves alone: the same planted recall (0.933 of the test's 150 disguised copies, 0.945 of all
    # 1,138) and fewer stdlib FILES flagged at tau 0.9 (0.8% of 393 vs 4.1%; 1.8% of 168 others vs 6.0%; README)
    ast_names: Literal["ignore", "keep-api"] = "keep-api"
    ast_min_nodes: int = 12  # see the module docstring
    ast_blocking: Literal["none", "embedding"] = "none"  # none: every function vs every solution (~3M pairs/s)
    ast_candidates: int = 32  # with ast_blocking=embedding: the nearest solutions compared per function
    # Functions compared per document: the largest ones when a document has more (counted in the stats as
    # snippets_truncated, named in report.md). A 10,000-function file costs ~9-18 s with every method on
    # this 2-core machine (README, "Choices and numbers"); the reader's max_bytes (1 MB) bounds the rest.
    max_snippets: int = 10_000
    max_matches: int = 10  # matches kept per document and method (best first)

    def __post_init__(self):
        """One-line ValueErrors naming the key (the CLI prefixes `decontaminate:`)."""
        bad = [m for m in self.methods if m not in METHODS]
        if bad or not self.methods:
            raise ValueError(f"methods must be a non-empty list of {', '.join(METHODS)}; got {self.methods}")
        choices = {"rule": ("any", "all"), "ast_names": ("ignore", "keep-api"), "ast_blocking": ("none", "embedding"),
                   "search": ("exact", "faiss")}
        for key, allowed in choices.items():
            if getattr(self, key) not in allowed:
                raise ValueError(f"{key} must be one of {', '.join(allowed)}, got {getattr(self, key)!r}")
        fields = [f for f in self.ngram_fields if f not in NGRAM_FIELDS]
        if fields or not self.ngram_fields:
            raise ValueError(f"ngram_fields must be a non-empty list of {', '.join(NGRAM_FIELDS)}; got {self.ngram_fields}")
        minimum = {"ngram_n": 1, "ngram_min_matches": 1, "ast_min_nodes": 0, "ast_candidates": 1, "max_snippets": 1,
                   "max_matches": 1,
                   # 1 would make every n-gram of the benchmark boilerplate: the n-gram detector could never match
                   "ngram_whitelist_min_tasks": 2}
        for key, low in minimum.items():
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{key} must be an integer >= {low}, got {value!r}")
        if not 0.0 < self.tau <= 1.0:
            raise ValueError(f"tau must be in (0, 1], got {self.tau}")
        if not 0 < self.embedding_threshold < 2:  # unit vectors: every distance is in [0, 2]; 2 would flag everything
            raise ValueError(f"embedding_threshold must be in (0, 2) (L2 distance of normalised vectors), got "
                             f"{self.embedding_threshold}")
        if not isinstance(self.featurizer, str) or not self.featurizer.strip():
            raise ValueError(f"featurizer must be a featurizer spec ('hashed', a model dir, a hub id), got {self.featurizer!r}")
        from textbooks.data.decontam.references import check_benchmark

        if not self.benchmarks:
            raise ValueError("benchmarks must name at least one benchmark")
        for spec in self.benchmarks:
            check_benchmark(spec)

    @property
    def needs_embeddings(self) -> bool:
        return "embedding" in self.methods or ("ast" in self.methods and self.ast_blocking == "embedding")

    def describe(self) -> dict:
        """The settings a report names (which thresholds and rule made the decision)."""
        out: dict = {"benchmarks": list(self.benchmarks), "methods": list(self.methods), "rule": self.rule}
        if "ngram" in self.methods:
            out["ngram"] = {"n": self.ngram_n, "fields": list(self.ngram_fields), "min_matches": self.ngram_min_matches,
                            "whitelist_min_tasks": self.ngram_whitelist_min_tasks, "whitelist": len(self.ngram_whitelist)}
        if self.needs_embeddings:
            out["embedding"] = {"featurizer": self.featurizer, "threshold": self.embedding_threshold, "search": self.search}
        if "ast" in self.methods:
            out["ast"] = {"tau": self.tau, "names": self.ast_names, "min_nodes": self.ast_min_nodes,
                          "blocking": self.ast_blocking, **({"candidates": self.ast_candidates} if self.ast_blocking == "embedding" else {})}
        return out


@dataclass
class Match:
    """One (document, benchmark task, method) match. `score`: ngram = shared n-grams, embedding = L2
    distance (lower is closer), ast = tau. `snippet`/`line`: the document's part that matched;
    `reference`: the benchmark's."""

    task_id: str
    method: str
    score: float
    snippet: str = ""
    line: int = 1
    reference: str = ""
    detail: str = ""  # ngram: the stream ("words" of the task text, "code" of its solution) and first n-gram

    def report(self) -> dict:
        """The entry of report.jsonl's `matches` (fixed interface: task_id, method, score)."""
        return {"task_id": self.task_id, "method": self.method, "score": round(float(self.score), 4)}

    def evidence(self, max_chars: int = 4000) -> dict:
        out = {**self.report(), "line": self.line, "snippet": self.snippet[:max_chars], "reference": self.reference[:max_chars]}
        if self.detail:
            out["detail"] = self.detail
        return out


def _better(method: str, new: float, old: float) -> bool:
    return new < old if method == "embedding" else new > old


class Decontaminator:
    """The detectors over one set of benchmark references (built once per process; see the module docstring)."""

    def __init__(self, config: DecontaminateConfig, references=None, featurizer=None):
        from textbooks.data.decontam.ast_match import code_snippets, function_snippet
        from textbooks.data.decontam.references import load_references

        self.config = config
        self.refs = list(references) if references is not None else load_references(config.benchmarks)
        if not self.refs:
            raise ValueError(f"no benchmark tasks in {config.benchmarks}")
        self.ngram = None
        if "ngram" in config.methods:
            from textbooks.data.decontam.ngrams import NgramIndex

            self.ngram = NgramIndex(self.refs, n=config.ngram_n, fields=config.ngram_fields,
                                    whitelist_min_tasks=config.ngram_whitelist_min_tasks,
                                    whitelist=config.ngram_whitelist, min_matches=config.ngram_min_matches)
        self.featurizer = None
        self.ref_vectors = None
        if config.needs_embeddings:
            if featurizer is None:
                from textbooks.data.quality.featurize import load_featurizer

                featurizer = load_featurizer(config.featurizer, device=config.embedding_device)
            self.featurizer = featurizer
            self.ref_vectors = featurizer.embed([r.function.source for r in self.refs])
        snippets = [r.function if config.ast_names == "ignore" else
                    (function_snippet(r.function.source, r.function.name, config.ast_names)
                     or code_snippets(r.function.source, names=config.ast_names)[0]) for r in self.refs]
        self.ref_trees = [s.tree for s in snippets]
        self.ast_usable = np.array([s.nodes >= config.ast_min_nodes and bool(s.tree) for s in snippets])

    # ---------------------------------------------------------------------------------------------
    def scan(self, texts: Sequence[str], tau: float | None = None, all_matches: bool = False,
             unchecked: list[int] | None = None) -> list[list[Match]]:
        """Every match of every text (per text: at most `max_matches` per method, best first; every one
        with `all_matches`). `tau` overrides config.tau (the reverse view scans once at its lowest tau).
        `unchecked`: a list that gets, per text, how many of its functions were NOT compared (over
        `max_snippets`; the largest ones are compared)."""
        from textbooks.data.decontam.ast_match import best_rates, extract_snippets

        cfg = self.config
        tau = cfg.tau if tau is None else tau
        best: list[dict[tuple[int, str], Match]] = [dict() for _ in texts]

        def offer(doc: int, task: int, method: str, score: float, snippet: str, line: int, detail: str = "") -> None:
            key = (task, method)
            old = best[doc].get(key)
            if old is None or _better(method, score, old.score):
                best[doc][key] = Match(self.refs[task].task_id, method, score, snippet, line, "", detail)

        if self.ngram is not None:
            for d, text in enumerate(texts):
                for hit in self.ngram.match(text):
                    line, context = self.ngram.locate(text, hit)
                    offer(d, hit.task, "ngram", float(hit.count), context, line, f"{hit.stream}: {hit.example}")
        need_snippets = "ast" in cfg.methods or "embedding" in cfg.methods
        if not need_snippets and unchecked is not None:  # n-grams read the whole text
            unchecked.extend(0 for _ in texts)
        if need_snippets:
            owner: list[int] = []
            snippets = []
            for d, text in enumerate(texts):
                found, functions = extract_snippets(text, cfg.max_snippets, cfg.ast_names)
                if unchecked is not None:
                    unchecked.append(max(0, functions - len(found)))
                for s in found:
                    owner.append(d)
                    snippets.append(s)
            candidates = None
            if self.featurizer is not None and snippets:
                from textbooks.data.decontam.embedding import nearest

                k = max(cfg.ast_candidates, cfg.max_matches)
                parts = []  # in chunks: a batch of documents may hold max_snippets functions each
                for lo in range(0, len(snippets), EMBED_CHUNK):
                    vectors = self.featurizer.embed([s.source for s in snippets[lo:lo + EMBED_CHUNK]])
                    parts.append(nearest(vectors, self.ref_vectors, k, cfg.search))
                dists = np.concatenate([d for d, _ in parts])
                idx = np.concatenate([i for _, i in parts])
                candidates = idx
                if "embedding" in cfg.methods:
                    for i in range(len(snippets)):
                        for dist, j in zip(dists[i].tolist(), idx[i].tolist()):
                            if dist >= cfg.embedding_threshold:
                                break
                            offer(owner[i], j, "embedding", dist, snippets[i].source, snippets[i].line)
            if "ast" in cfg.methods:
                usable = [i for i, s in enumerate(snippets) if s.tree and s.nodes >= cfg.ast_min_nodes]
                ref_cols = np.flatnonzero(self.ast_usable)
                if usable and len(ref_cols):
                    queries = [snippets[i].tree for i in usable]
                    refs = [self.ref_trees[j] for j in ref_cols]
                    blocked = None
                    if cfg.ast_blocking == "embedding" and candidates is not None:
                        col_of = np.full(len(self.refs), -1)
                        col_of[ref_cols] = np.arange(len(ref_cols))
                        blocked = col_of[candidates[usable, :cfg.ast_candidates]]
                    for q, hits in zip(usable, best_rates(queries, refs, tau, blocked)):
                        for c, rate in hits:
                            offer(owner[q], int(ref_cols[c]), "ast", rate, snippets[q].source, snippets[q].line)
        out = []
        by_id = {r.task_id: r for r in self.refs}
        for found in best:
            per_method: dict[str, list[Match]] = defaultdict(list)
            for m in found.values():
                per_method[m.method].append(m)
            matches = []
            for method in METHODS:
                ms = per_method.get(method, [])
                if method == "ast":
                    # Ties are common (MBPP has a dozen regex tasks with one AST): the closer text breaks them.
                    ms.sort(key=lambda m: (-m.score, -_text_similarity(m.snippet, by_id[m.task_id].function.source), m.task_id))
                else:
                    ms.sort(key=lambda m: (m.score if method == "embedding" else -m.score, m.task_id))
                for m in (ms if all_matches else ms[:cfg.max_matches]):
                    ref = by_id[m.task_id]
                    m.reference = ref.text if m.detail.startswith("words") else (ref.solution if method == "ngram" else ref.function.source)
                    matches.append(m)
            out.append(matches)
        return out

    def decide(self, matches: Sequence[Match]) -> bool:
        """The pruning rule over one document's matches."""
        methods = {m.method for m in matches}
        if self.config.rule == "all":
            return set(self.config.methods) <= methods
        return bool(methods)

    def flag(self, text: str) -> list[Match]:
        """The matches that flag `text` ([] when it is clean under the rule)."""
        matches = self.scan([text])[0]
        return matches if self.decide(matches) else []


_DETECTORS: dict[str, Decontaminator] = {}


def shared_detector(config: DecontaminateConfig, featurizer=None) -> Decontaminator:
    """One Decontaminator per process and settings: datatrove runs a worker's tasks one after another on
    deep copies of the pipeline, and building one (references, index, reference embeddings) takes seconds."""
    import json
    from dataclasses import asdict

    key = json.dumps(asdict(config), sort_keys=True) + "|" + (getattr(featurizer, "fingerprint", "") if featurizer else "")
    det = _DETECTORS.get(key)
    if det is None:
        det = _DETECTORS[key] = Decontaminator(config, featurizer=featurizer)
    return det


TRUNCATED_STAT = "snippets_truncated"  # documents with more functions than max_snippets
UNCHECKED_STAT = "functions_not_compared"  # their functions left out
UNCHECKED_KEY = "decontam_unchecked_functions"  # metadata of such a document: how many


def note_truncated(step, doc: Document, skipped: int) -> None:
    """Count a document whose `skipped` functions were not compared (stats and metadata)."""
    doc.metadata[UNCHECKED_KEY] = skipped
    step.stat_update(TRUNCATED_STAT)
    step.stat_update(UNCHECKED_STAT, value=skipped)


def truncation_totals(step_stats: Sequence[dict]) -> dict:
    """{"documents": ..., "functions": ...} not fully compared, from a stage's datatrove step stats
    (`textbooks.data.pipeline.read_stage_stats`)."""
    def total(key: str) -> int:
        out = 0
        for s in step_stats:
            v = (s.get("stats") or {}).get(key, 0)
            out += v.get("total", 0) if isinstance(v, dict) else v
        return int(out)

    return {"documents": total(TRUNCATED_STAT), "functions": total(UNCHECKED_STAT)}


def _text_similarity(a: str, b: str) -> float:
    from rapidfuzz import fuzz

    return fuzz.ratio(a, b)


class DecontaminateFilter(ReasonFilter):
    """Drops documents flagged by the detectors (reason "contaminated"), with the evidence in
    `metadata["contamination"]`; stats count `flagged_by_<method>` and `contaminated_<benchmark>`.

    A document with more than `max_snippets` functions counts in `snippets_truncated` (documents) and
    `functions_not_compared` (functions), and carries `metadata["decontam_unchecked_functions"]`, kept or not."""

    name = "decontaminate"

    def __init__(self, config: DecontaminateConfig | None = None, exclusion_writer=None, batch_size: int = 64,
                 featurizer=None):
        super().__init__(exclusion_writer=exclusion_writer, batch_size=batch_size)
        self.config = config or DecontaminateConfig()
        self._featurizer = featurizer
        self._detector: Decontaminator | None = None

    @property
    def detector(self) -> Decontaminator:
        if self._detector is None:  # built in the worker: references, n-gram index, reference embeddings
            self._detector = shared_detector(self.config, self._featurizer)
        return self._detector

    def filter_batch(self, batch: list[Document]) -> list[bool | tuple[bool, str]]:
        det = self.detector
        results: list[bool | tuple[bool, str]] = []
        bench = {r.task_id: r.benchmark for r in det.refs}
        unchecked: list[int] = []
        for doc, matches, skipped in zip(batch, det.scan([d.text for d in batch], unchecked=unchecked), unchecked):
            if skipped:
                note_truncated(self, doc, skipped)
            if not det.decide(matches):
                results.append(True)
                continue
            doc.metadata["contamination"] = [m.evidence() for m in matches]
            for method in sorted({m.method for m in matches}):
                self.stat_update(f"flagged_by_{method}")
            for b in sorted({bench[m.task_id] for m in matches}):
                self.stat_update(f"contaminated_{b}")
            results.append((False, REASON))
        return results

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        return self.filter_batch([doc])[0]

    def __getstate__(self):  # pickled to workers: the detector is rebuilt there
        return {**self.__dict__, "_detector": None}
