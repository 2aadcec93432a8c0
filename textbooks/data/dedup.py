"""Dedup: exact copies (a normalised content hash) and near-duplicates (MinHash LSH on code-token 5-grams).

Four executor runs (`dedup_stages`), each resumable on its own through datatrove's completion markers:

    dedup_signatures  (tasks)        DedupSignature: per document, in one read of the input, its id, its
                                     exact hash, its code shingles (kept only for the false-positive check)
                                     and its MinHash signature (datatrove's bucket files)
    dedup_buckets     (num_buckets)  datatrove's MinhashDedupBuckets, unchanged: candidate pairs per band
    dedup_clusters    (1 task)       DedupCluster: exact groups + verified candidate pairs -> union-find ->
                                     one kept document per cluster, a decision per duplicate
    dedup_filter      (tasks)        DuplicateFilter x2 (ReasonFilters): drop `exact_duplicate`, then
                                     `near_duplicate`; the dropped documents go to their exclusion writers

Worked example (the defaults, `DedupConfig()`): 112 hashes = 14 bands x 8 rows; a pair becomes a
candidate with P = 1 - (1 - J^8)^14, i.e. 0.21 at J=0.6, 0.56 at J=0.7, 0.92 at J=0.8, 0.9996 at J=0.9,
the S-curve's midpoint (1/14)^(1/8) = 0.72 (`lsh_s_curve`, `lsh_threshold`; both are logged when the
stages are built and written to `dedup_stats.json`). Every candidate is then checked against its true
Jaccard (threshold 0.7, BigCode's near-dedup threshold), so the LSH only decides what is compared.

What counts as a copy
  Exact: the text after `normalise_text` (line endings -> "\\n", trailing whitespace stripped per line,
  runs of blank lines collapsed to one, leading/trailing blank lines dropped). Indentation is kept: in
  Python it is syntax. Hash: 64-bit (SHA-1 prefix); ~35M documents give a collision chance ~3e-5.
  Near: Jaccard similarity of the sets of 5-grams of code tokens (`code_tokens`): identifiers, keywords,
  numbers and operators are tokens; string literals (docstrings included) become a quote token plus
  their words and punctuation; `#` comments are left out. Why comments out: copies of a file most
  often differ exactly there (licence headers, translated, added or stripped comments, commented-out
  code), and the code is what the model learns from. Why docstrings in: they are part of the program
  and, in the textbook-quality files phi-1 keeps, much of the teaching text; two files that share
  code but explain it differently are not copies. Whitespace never matters to the tokens, so a file
  reformatted inside its lines (spacing, quote style) is a near-duplicate with J = 1. A shingle's
  hash combines its tokens' hashes (datatrove's `hash_fc` once per distinct token, then numpy), not a
  hash of the joined string (SHA-1 of every joined 5-gram took 3.2 of the signature stage's 7.3 s in a
  profile over 300 standard-library files; the signature stage is nearly all of dedup's time).

One kept per cluster, deterministically
  A cluster is a connected component of (exact-hash groups) + (candidate pairs that pass the check).
  The kept member is the one with the smallest document id (ties, i.e. equal ids, by (rank, index)):
  unlike "lowest rank and index" this does not depend on how the input is sharded, so outputs are the
  same for any task count. Cluster ids number the clusters in the order of their kept ids. Removed
  documents carry `metadata["cluster_id"]`, `["duplicate_of"]` (the kept document's id),
  `["cluster_size"]`, `["duplicate_jaccard"]` (true Jaccard to the kept one, when shingles are stored)
  and `drop_reason` `exact_duplicate` (normalised text identical to the kept one's) or `near_duplicate`;
  kept documents of a cluster carry `cluster_id` and `cluster_size`. Clusters are transitive (A~B,
  B~C puts A and C together, as in datatrove and BigCode), so `duplicate_jaccard` can be under the
  threshold: in the standard library, codec tables chain from iso8859_3 to cp1252 at J = 0.54.

Why subclasses / own steps, not datatrove's as is
  - MinhashDedupSignature: its `get_shingles` lower-cases, strips punctuation and word-tokenises
    English (spaCy), which is wrong for code (`a[i] = b` and `a(i, b)` shingle alike; operators are
    the structure). `DedupSignature` subclasses it, replaces `get_shingles` with code shingles, and
    writes the side files our later stages need in the same pass; the signatures, their layout and
    the sorting are datatrove's.
  - MinhashDedupBuckets: used unchanged.
  - MinhashDedupCluster: writes only the indices of removed documents; the root it keeps depends on
    union order (union by size), it has no pair check and never learns the kept document's id (our
    `duplicate_of`). `DedupCluster` reads the same `.dups` files and replaces it.
  - MinhashDedupFilter / ExactDedupFilter: not ReasonFilters (no `drop_reason`), no `duplicate_of`.
  - Exact dedup (ExactDedupSignature -> ExactFindDedups -> ExactDedupFilter): it writes the removed
    indices but not which document each one duplicates, breaks ties between ranks by heap order, and
    would need a second full read of the corpus before MinHash. Here the exact hash is computed in the
    signature pass and the groups are found in the cluster task with numpy (16 bytes per document in
    memory: ~0.6 GB for 35M files; beyond billions of documents, partition by hash range as datatrove's
    ExactFindDedups does).

The false-positive check (`check_false_positives`, text-dedup's `check_false_positive`)
  LSH candidates are pairs that share one band; users of every LSH tool report false positives
  (text-dedup#70). With the check, the signature stage also stores each document's sorted, unique
  shingle hashes (8 bytes per distinct shingle, about the corpus' own size on disk: 28.8 MB for
  the 31.5 MB Python 3.11 standard library, `work/docs/shingles/`); the cluster task reads only
  candidates' sets (an LRU cache bounds memory).
  Within a band's group of candidates, documents with identical shingle sets are joined directly and
  every pair of distinct sets not already connected is compared once (at worst O(d^2) Jaccards for d
  distinct sets in a group); a pair under `threshold` is never joined. The components are then those
  of the graph of verified pairs, whatever the order the pairs come in. `dedup_stats.json` reports the
  pairs checked, the pairs rejected and the documents the check saved (removed by LSH alone, kept
  with the check).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from operator import itemgetter
from pathlib import Path
from typing import Literal

import numpy as np
from datatrove.data import Document, DocumentsPipeline
from datatrove.io import DataFolder, get_datafolder
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupBuckets, MinhashDedupSignature
from datatrove.utils.binaryio import read_tuples_from_file
from datatrove.utils.hashing import HashConfig, create_hash_func
from datatrove.utils.typeshelper import StatHints
from datatrove.utils.word_tokenizers import WordTokenizer
from loguru import logger

from textbooks.data.pipeline import Stage
from textbooks.data.steps import ReasonFilter

EXACT = "exact_duplicate"
NEAR = "near_duplicate"
STATS_FILE = "clusters/dedup_stats.json"
S_CURVE_JACCARDS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


@dataclass
class DedupConfig:
    """Settings of `dedup_stages`; the module docstring works through the defaults."""

    exact: bool = True  # drop copies identical after normalise_text (BigCode/NeMo Curator: exact dedup first)
    minhash: bool = True  # drop near-duplicates with MinHash LSH (BigCode near-dedup, datatrove MinHash)
    n_grams: int = 5  # shingle = 5 code tokens: datatrove MinhashConfig default, BigCode near-dedup 5-grams
    num_buckets: int = 14  # LSH bands b: datatrove default (14 x 8 = 112 hashes; BigCode used 256 perms)
    hashes_per_bucket: int = 8  # rows per band r: datatrove default; midpoint (1/b)^(1/r) = 0.72
    threshold: float = 0.7  # true-Jaccard cut of the false-positive check: BigCode 0.7, text-dedup 0.7
    check_false_positives: bool = True  # exact Jaccard of each candidate pair: text-dedup check_false_positive=true
    seed: int = 1  # seed of the MinHash permutations: datatrove MinhashConfig default (same on every task)
    hash_precision: Literal[32, 64] = 64  # MinHash value bits: datatrove HashConfig default (text-dedup hash_bits=64)
    hash_fc: Literal["sha1", "xxhash"] = "sha1"  # shingle hash; datatrove's default xxhash needs the xxhash package

    def __post_init__(self):
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"dedup.threshold={self.threshold} must be in (0, 1]")
        for key in ("n_grams", "num_buckets", "hashes_per_bucket"):
            if getattr(self, key) < 1:
                raise ValueError(f"dedup.{key}={getattr(self, key)} must be >= 1")

    def minhash_config(self) -> MinhashConfig:
        return MinhashConfig(
            n_grams=self.n_grams, num_buckets=self.num_buckets, hashes_per_bucket=self.hashes_per_bucket,
            seed=self.seed, hash_config=HashConfig(precision=self.hash_precision, hash_fc=self.hash_fc),
        )


# --- LSH parameters -----------------------------------------------------------------------------------


def lsh_candidate_probability(jaccard: float, num_buckets: int, hashes_per_bucket: int) -> float:
    """P(a pair of Jaccard J shares at least one band) = 1 - (1 - J^r)^b."""
    return 1.0 - (1.0 - jaccard**hashes_per_bucket) ** num_buckets


def lsh_threshold(num_buckets: int, hashes_per_bucket: int) -> float:
    """The S-curve's steep point (1/b)^(1/r): pairs above it are likely candidates, below it unlikely."""
    return (1.0 / num_buckets) ** (1.0 / hashes_per_bucket)


def lsh_s_curve(num_buckets: int, hashes_per_bucket: int,
                jaccards: Iterable[float] = S_CURVE_JACCARDS) -> dict[str, float]:
    return {f"{j:.2f}": round(lsh_candidate_probability(j, num_buckets, hashes_per_bucket), 4) for j in jaccards}


def describe_lsh(config: DedupConfig) -> str:
    b, r = config.num_buckets, config.hashes_per_bucket
    curve = "  ".join(f"J={j}:{p:.3f}" for j, p in lsh_s_curve(b, r).items())
    return (f"MinHash LSH: {b * r} hashes = {b} bands x {r} rows; P(candidate | J) = 1-(1-J^{r})^{b}: {curve}; "
            f"implied threshold (1/{b})^(1/{r}) = {lsh_threshold(b, r):.3f}; "
            + (f"candidates checked at true Jaccard >= {config.threshold}" if config.check_false_positives
               else "no false-positive check"))


# --- what is compared ---------------------------------------------------------------------------------


def normalise_text(text: str) -> str:
    """The text the exact hash sees: "\\n" line endings, no trailing whitespace, single blank lines."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out: list[str] = []
    for line in lines:
        line = line.rstrip()
        if line or (out and out[-1]):
            out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)


# Pass 1 finds comments and string literals (a prefix counts only at a token start: `if"a"` is `if` + "a");
# pass 2 splits everything else into names, numbers and operators, at C speed (re.findall).
_COMMENT_OR_STRING = re.compile(
    r"(?=[#'\"rRbBuUfF])"  # fails fast at the positions that cannot start one (3x faster)
    r"(?:(?P<comment>#[^\n]*)"
    r"|(?P<string>(?:(?<!\w)[rRbBuUfF]{1,2})?(?:"
    r"'''[^'\\]*(?:(?:\\[\s\S]|'(?!''))[^'\\]*)*'''"  # triple-quoted, "unrolled" (no per-char backtracking)
    r'|"""[^"\\]*(?:(?:\\[\s\S]|"(?!""))[^"\\]*)*"""'
    r"|'[^'\\\n]*(?:\\.[^'\\\n]*)*'"
    r'|"[^"\\\n]*(?:\\.[^"\\\n]*)*")))'
)
_TOKEN = re.compile(r"[^\W\d]\w*|\d(?:[eE][+-]\d|[\w.])*|\*\*=?|//=?|>>=?|<<=?|->|:=|\.\.\.|[-+*/%&|^@=!<>]=|[^\s\w]")
_QUOTE = '"'


def _strip_comments_mark_strings(m: re.Match) -> str:
    if m.lastgroup == "comment":
        return " "
    body = m.group().lstrip("rRbBuUfF")
    q = 3 if body[:3] in ('"""', "'''") else 1
    # one quote token whatever the quote style (black rewrites ' to "), then the literal's words
    return f" {_QUOTE} {body[q:-q]} "


def code_tokens(text: str) -> list[str]:
    """Code tokens for shingling: names, numbers, operators; strings as `"` + their words; no comments.

    Regexes, not `tokenize`, so broken or non-Python input still tokenises (an unterminated string
    degrades to a quote token and words, never an error).
    """
    return _TOKEN.findall(_COMMENT_OR_STRING.sub(_strip_comments_mark_strings, text))


# Odd 64-bit multipliers, one per position in the n-gram, and the splitmix64 finaliser: a shingle's
# hash is mix(sum_k token_hash[i + k] * M[k]) mod 2^64, computed for all positions at once in numpy.
_POSITION_MULTIPLIERS = np.random.RandomState(0x5EED).randint(1, 2**63, size=64, dtype=np.uint64) * np.uint64(2) + 1


def _splitmix64(z: np.ndarray) -> np.ndarray:
    z = z ^ (z >> np.uint64(30))
    z = z * np.uint64(0xBF58476D1CE4E5B9)
    z = z ^ (z >> np.uint64(27))
    z = z * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def code_shingles(text: str, n_grams: int, hash_func: Callable[[str], int]) -> np.ndarray:
    """Hashes of the n-grams of `code_tokens(text)`, shape (N, 1) uint64 as MinhashDedupSignature expects.

    Each distinct token is hashed once with `hash_func` (datatrove's shingle hash); the n-gram hashes
    combine them position by position (see `_POSITION_MULTIPLIERS`), so the cost per shingle is a few
    numpy operations rather than a SHA-1 of a joined string. A document with fewer than n tokens gets
    one shingle (all its tokens), so short copies still match; one with no tokens (empty, comments
    only) gets none and is left to the exact hash.
    """
    if n_grams > len(_POSITION_MULTIPLIERS):
        raise ValueError(f"n_grams={n_grams} > {len(_POSITION_MULTIPLIERS)}")
    toks = code_tokens(text)
    if not toks:
        return np.zeros((0, 1), dtype=np.uint64)
    hashes = {t: hash_func(t) for t in dict.fromkeys(toks)}
    token_hashes = np.array([hashes[t] for t in toks] if len(toks) == 1 else itemgetter(*toks)(hashes), dtype=np.uint64)
    n = min(n_grams, len(toks))
    count = len(toks) - n + 1
    acc = np.zeros(count, dtype=np.uint64)
    for k in range(n):
        acc += token_hashes[k:k + count] * _POSITION_MULTIPLIERS[k]  # wraps mod 2^64, as intended
    return _splitmix64(acc).reshape((-1, 1))


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard similarity of two sorted arrays of unique shingle hashes."""
    if a.size == 0 and b.size == 0:
        return 1.0
    inter = np.intersect1d(a, b, assume_unique=True).size
    return inter / (a.size + b.size - inter)


class CodeTokenizer(WordTokenizer):
    """`code_tokens` as a datatrove WordTokenizer (MinhashDedupSignature loads one at construction;
    passing this one also spares it the spaCy English tokenizer it would load by default)."""

    def __init__(self):
        super().__init__("code")

    def word_tokenize(self, text: str) -> list[str]:
        return code_tokens(text)

    def sent_tokenize(self, text: str) -> list[str]:
        return text.splitlines()

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in _TOKEN.finditer(text)]  # approximate (comments included); unused by dedup


# --- stage 1: signatures --------------------------------------------------------------------------------


def _ids_path(rank: int) -> str:
    return f"docs/ids/{rank:05d}.ids.jsonl"


def _exact_path(rank: int) -> str:
    return f"docs/exact/{rank:05d}.exact"


def _shingles_path(rank: int) -> tuple[str, str]:
    return f"docs/shingles/{rank:05d}.shingles", f"docs/shingles/{rank:05d}.offsets"


def _decisions_path(rank: int) -> str:
    return f"clusters/decisions/{rank:05d}.jsonl"


class DedupSignature(MinhashDedupSignature):
    """Stage 1: datatrove's MinHash signatures over code shingles, plus per-task side files.

    Writes under `work_dir`: `signatures/bucket_XXX/<rank>.minhash.sig` (datatrove's format, when
    `minhash`), `docs/ids/<rank>.ids.jsonl` (document ids in input order: the kept document's id for
    `duplicate_of`), `docs/exact/<rank>.exact` (uint64 normalised-text hashes, when `exact`) and
    `docs/shingles/` (sorted unique shingle hashes + offsets, when `check_false_positives`). A task
    rewrites all of its files from the start, so a relaunch after a crash gives the same bytes.
    """

    name = "dedup signatures"

    def __init__(self, work_dir: Path | str, config: DedupConfig):
        super().__init__(output_folder=str(Path(work_dir) / "signatures"), config=config.minhash_config(),
                         language=CodeTokenizer())
        self.dedup = config
        self.work = get_datafolder(str(work_dir))
        self._exact_hash = create_hash_func(HashConfig(precision=64, hash_fc=config.hash_fc), str)  # 64: see docstring
        self._last: tuple[str, np.ndarray] | None = None

    def get_shingles(self, text: str) -> np.ndarray:
        if self._last is not None and self._last[0] is text:  # computed once per document in run()
            return self._last[1]
        return code_shingles(text, self.config.n_grams, self._hash_func)

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1):
        cfg = self.dedup
        # A task that failed in this process may still hold its files open (datatrove's signature loop
        # does not close its bucket files on an exception); removing them first means a late flush of
        # such a handle lands in the unlinked file, never in the rewritten one.
        stale = [f"signatures/bucket_{b:03d}/{rank:05d}.minhash.sig" for b in range(cfg.num_buckets)]
        stale += [_ids_path(rank), _exact_path(rank), *_shingles_path(rank)]
        for path in stale:
            if self.work.exists(path):
                self.work.rm(path)
        exact_hashes: list[int] = []
        offsets = [0]
        with contextlib.ExitStack() as stack:
            ids_f = stack.enter_context(self.work.open(_ids_path(rank), "wt"))
            store = cfg.check_false_positives and cfg.minhash
            sh_f = stack.enter_context(self.work.open(_shingles_path(rank)[0], "wb")) if store else None

            def documents() -> Iterator[Document]:
                for doc in data:
                    ids_f.write(json.dumps(doc.id) + "\n")
                    if cfg.exact:
                        exact_hashes.append(self._exact_hash(normalise_text(doc.text)))
                    if cfg.minhash:
                        shingles = code_shingles(doc.text, self.config.n_grams, self._hash_func)
                        self._last = (doc.text, shingles)
                        if sh_f is not None:
                            unique = np.unique(shingles)
                            sh_f.write(unique.astype("<u8").tobytes())
                            offsets.append(offsets[-1] + unique.size)
                    yield doc

            if cfg.minhash:
                super().run(documents(), rank, world_size)  # datatrove's signatures + bucket sorting
            else:
                for _ in documents():
                    self.stat_update(StatHints.total)
            self._last = None
        if cfg.exact:
            with self.work.open(_exact_path(rank), "wb") as f:
                f.write(np.asarray(exact_hashes, dtype="<u8").tobytes())
        if cfg.check_false_positives and cfg.minhash:
            with self.work.open(_shingles_path(rank)[1], "wb") as f:
                f.write(np.asarray(offsets, dtype="<u8").tobytes())


# --- stage 3: clusters ----------------------------------------------------------------------------------


class _UnionFind:
    """Union by size with path compression over int nodes (rank << 32 | index)."""

    def __init__(self):
        self.parent: dict[int, int] = {}
        self.size: dict[int, int] = {}

    def find(self, x: int) -> int:
        parent = self.parent
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while x != root:
            parent[x], x = root, parent[x]
        return root

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        sa, sb = self.size.get(ra, 1), self.size.get(rb, 1)
        if sa < sb:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.parent.setdefault(ra, ra)
        self.size[ra] = sa + sb
        self.size.pop(rb, None)
        return True

    def components(self) -> list[list[int]]:
        groups: dict[int, list[int]] = defaultdict(list)
        for node in self.parent:
            groups[self.find(node)].append(node)
        return [sorted(g) for g in groups.values()]


def _node(rank: int, index: int) -> int:
    return (rank << 32) | index


def _split(node: int) -> tuple[int, int]:
    return node >> 32, node & 0xFFFFFFFF


class _ShingleStore:
    """Random access to the shingle sets stage 1 stored, with a byte-bounded LRU cache."""

    def __init__(self, work: DataFolder, max_bytes: int = 256 << 20):
        self.work = work
        self.max_bytes = max_bytes
        self._offsets: dict[int, np.ndarray] = {}
        self._files: dict[int, object] = {}
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cached_bytes = 0

    def get(self, node: int) -> np.ndarray:
        if node in self._cache:
            self._cache.move_to_end(node)
            return self._cache[node]
        rank, index = _split(node)
        if rank not in self._offsets:
            data_path, offsets_path = _shingles_path(rank)
            with self.work.open(offsets_path, "rb") as f:
                self._offsets[rank] = np.frombuffer(f.read(), dtype="<u8")
            self._files[rank] = self.work.open(data_path, "rb")
        start, end = int(self._offsets[rank][index]), int(self._offsets[rank][index + 1])
        f = self._files[rank]
        f.seek(start * 8)
        arr = np.frombuffer(f.read((end - start) * 8), dtype="<u8")
        self._cache[node] = arr
        self._cached_bytes += arr.nbytes
        while self._cached_bytes > self.max_bytes and len(self._cache) > 1:
            _, old = self._cache.popitem(last=False)
            self._cached_bytes -= old.nbytes
        return arr

    def close(self):
        for f in self._files.values():
            f.close()


def _dup_groups(pairs: Iterable[tuple[int, int, int, int]]) -> Iterator[list[int]]:
    """Rebuild the bands' candidate groups from datatrove's `.dups` pairs.

    MinhashDedupBuckets writes a group of k documents sharing a band signature as the chain of its k-1
    consecutive pairs (m1,m2), (m2,m3), ...; a document has one signature per band, so it is in at most
    one group of a file and chains never touch.
    """
    group: list[int] = []
    for f1, d1, f2, d2 in pairs:
        a, b = _node(f1, d1), _node(f2, d2)
        if group and group[-1] == a:
            group.append(b)
        else:
            if group:
                yield group
            group = [a, b]
    if group:
        yield group


class DedupCluster(PipelineStep):
    """Stage 3 (one task): exact groups + verified MinHash candidates -> clusters -> one decision per duplicate.

    Writes `clusters/decisions/<rank>.jsonl` (one line per document of a cluster, in index order:
    `{"idx", "keep"}` or `{"idx", "reason", "duplicate_of", ...}`) and `clusters/dedup_stats.json`
    (S-curve, counts, cluster-size histogram; written last, so its presence means the stage finished).
    """

    type = "🫂 - DEDUP"
    name = "dedup clusters"

    def __init__(self, work_dir: Path | str, config: DedupConfig, lines_to_buffer: int = 1000):
        super().__init__()
        self.work = get_datafolder(str(work_dir))
        self.dedup = config
        self.lines_to_buffer = lines_to_buffer

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1):
        if world_size != 1:
            raise ValueError("the dedup cluster stage runs as a single task")
        cfg = self.dedup
        with self.track_time():
            ranks = sorted(int(Path(p).name.split(".")[0]) for p in self.work.list_files("docs/ids"))
            uf = _UnionFind()  # the clusters we act on
            lsh_only = _UnionFind() if cfg.check_false_positives and cfg.minhash else None  # for the check's count
            exact = self._exact_groups(ranks, uf, lsh_only) if cfg.exact else None
            fp = {"pairs_checked": 0, "pairs_rejected": 0}
            lsh = {"candidate_pairs": 0, "groups": 0}
            store = _ShingleStore(self.work) if lsh_only is not None else None
            try:
                if cfg.minhash:
                    self._minhash_pairs(uf, lsh_only, store, fp, lsh)
                components = [c for c in uf.components() if len(c) > 1]
                ids, docs_per_rank = self._read_ids(ranks, {n for c in components for n in c})
                decisions, summary = self._decide(components, ids, exact, store)
            finally:
                if store is not None:
                    store.close()
            with self.work.get_output_file_manager(mode="wt") as out:
                for r in sorted(decisions):
                    for rec in sorted(decisions[r], key=lambda d: d["idx"]):
                        out.write(_decisions_path(r), json.dumps(rec) + "\n")
            stats = {
                "config": asdict(cfg),
                "lsh": {"num_hashes": cfg.num_buckets * cfg.hashes_per_bucket, "num_buckets": cfg.num_buckets,
                        "hashes_per_bucket": cfg.hashes_per_bucket,
                        "implied_threshold": round(lsh_threshold(cfg.num_buckets, cfg.hashes_per_bucket), 4),
                        "s_curve": lsh_s_curve(cfg.num_buckets, cfg.hashes_per_bucket), **lsh},
                "documents": sum(docs_per_rank.values()),
                "docs_per_rank": {str(r): n for r, n in sorted(docs_per_rank.items())},
                **summary,
            }
            if lsh_only is not None:
                lsh_removed = sum(len(c) - 1 for c in lsh_only.components())
                stats["false_positive_check"] = {
                    "threshold": cfg.threshold, **fp,
                    "removed_by_lsh_alone": lsh_removed,
                    "documents_kept_by_check": lsh_removed - summary["removed"]["total"],
                }
            for key, value in (("clusters", summary["clusters"]), ("to_remove", summary["removed"]["total"])):
                self.stat_update(key, value=value)
            logger.info(describe_lsh(cfg))
            logger.info(f"dedup clusters: {json.dumps({k: v for k, v in stats.items() if k != 'config'})}")
            self.work.makedirs("clusters", exist_ok=True)
            with self.work.open(STATS_FILE + ".tmp", "wt") as f:
                json.dump(stats, f, indent=2)
            self.work.mv(STATS_FILE + ".tmp", STATS_FILE)

    def _exact_groups(self, ranks: list[int], uf: _UnionFind, lsh_only: _UnionFind | None) -> dict[int, np.ndarray]:
        per_rank: dict[int, np.ndarray] = {}
        for r in ranks:
            with self.work.open(_exact_path(r), "rb") as f:
                per_rank[r] = np.frombuffer(f.read(), dtype="<u8")
        if not per_rank:
            return per_rank
        hashes = np.concatenate(list(per_rank.values()))
        nodes = np.concatenate([(np.uint64(r) << np.uint64(32)) | np.arange(len(h), dtype=np.uint64)
                                for r, h in per_rank.items()])
        order = np.argsort(hashes, kind="stable")
        hashes, nodes = hashes[order], nodes[order]
        same = np.flatnonzero(hashes[1:] == hashes[:-1])  # i: nodes[i] and nodes[i+1] are copies
        for i in same:
            a, b = int(nodes[i]), int(nodes[i + 1])
            uf.union(a, b)
            if lsh_only is not None:
                lsh_only.union(a, b)
        self.stat_update("exact_pairs", value=len(same))
        return per_rank

    def _minhash_pairs(self, uf: _UnionFind, lsh_only: _UnionFind | None, store: _ShingleStore | None,
                       fp: dict, lsh: dict) -> None:
        rejected: set[tuple[int, int]] = set()
        digests: dict[int, bytes] = {}
        threshold = self.dedup.threshold
        for dup_file in sorted(self.work.list_files("buckets", glob_pattern="*.dups")):
            with self.work.open(dup_file, "rb") as f:
                for group in _dup_groups(read_tuples_from_file(f, "4I", lines_to_buffer=self.lines_to_buffer)):
                    lsh["groups"] += 1
                    lsh["candidate_pairs"] += len(group) - 1
                    if lsh_only is None:
                        for a, b in zip(group, group[1:]):
                            uf.union(a, b)
                        continue
                    for a, b in zip(group, group[1:]):
                        lsh_only.union(a, b)
                    if len({uf.find(n) for n in group}) == 1:
                        continue  # already one cluster: nothing this group could add
                    reps: dict[bytes, int] = {}
                    for n in group:  # identical shingle sets: J = 1, joined without a comparison
                        if n not in digests:
                            digests[n] = hashlib.blake2b(store.get(n).tobytes(), digest_size=16).digest()
                        if digests[n] in reps:
                            uf.union(reps[digests[n]], n)
                        else:
                            reps[digests[n]] = n
                    distinct = list(reps.values())
                    for i, a in enumerate(distinct):
                        for b in distinct[:i]:
                            key = (min(a, b), max(a, b))
                            if key in rejected or uf.find(a) == uf.find(b):
                                continue
                            fp["pairs_checked"] += 1
                            if jaccard(store.get(a), store.get(b)) >= threshold:
                                uf.union(a, b)
                            else:
                                rejected.add(key)
                                fp["pairs_rejected"] += 1

    def _read_ids(self, ranks: list[int], wanted: set[int]) -> tuple[dict[int, str], dict[int, int]]:
        by_rank: dict[int, set[int]] = defaultdict(set)
        for n in wanted:
            r, i = _split(n)
            by_rank[r].add(i)
        ids: dict[int, str] = {}
        docs_per_rank: dict[int, int] = {}
        for r in ranks:
            need = by_rank.get(r, set())
            count = 0
            with self.work.open(_ids_path(r), "rt") as f:
                for i, line in enumerate(f):
                    count += 1
                    if i in need:
                        ids[_node(r, i)] = json.loads(line)
            docs_per_rank[r] = count
        return ids, docs_per_rank

    def _decide(self, components: list[list[int]], ids: dict[int, str], exact: dict[int, np.ndarray] | None,
                store: _ShingleStore | None) -> tuple[dict[int, list[dict]], dict]:
        def key(n: int):
            return (str(ids[n]), n)

        def exact_hash(n: int) -> int:
            r, i = _split(n)
            return int(exact[r][i])

        clusters = sorted(((min(c, key=key), c) for c in components), key=lambda kc: key(kc[0]))
        decisions: dict[int, list[dict]] = defaultdict(list)
        removed = {EXACT: 0, NEAR: 0}
        sizes: dict[int, int] = defaultdict(int)
        for cluster_id, (kept, members) in enumerate(clusters):
            size = len(members)
            sizes[size] += 1
            for n in members:
                r, i = _split(n)
                if n == kept:
                    decisions[r].append({"idx": i, "keep": True, "cluster_id": cluster_id, "cluster_size": size})
                    continue
                reason = EXACT if exact is not None and exact_hash(n) == exact_hash(kept) else NEAR
                removed[reason] += 1
                rec = {"idx": i, "reason": reason, "cluster_id": cluster_id, "cluster_size": size,
                       "duplicate_of": ids[kept]}
                if store is not None:
                    rec["duplicate_jaccard"] = round(jaccard(store.get(n), store.get(kept)), 4)
                decisions[r].append(rec)
        summary = {
            "clusters": len(clusters),
            "documents_in_clusters": sum(len(c) for _, c in clusters),
            "removed": {**removed, "total": sum(removed.values())},
            "cluster_size_histogram": {str(s): sizes[s] for s in sorted(sizes)},
        }
        return decisions, summary


def dedup_report(work_dir: Path | str) -> dict:
    """The cluster stage's stats (S-curve, counts, cluster sizes, false-positive check) for stats.json."""
    return json.loads((Path(work_dir) / STATS_FILE).read_text())


# --- stage 4: filter ------------------------------------------------------------------------------------


class DuplicateFilter(ReasonFilter):
    """Stage 4: drop the documents the cluster stage decided are duplicates with `reason`.

    Reads the same documents in the same order as stage 1 (the `read()` contract) and matches them to
    decisions by index. With `upstream` reasons, an earlier DuplicateFilter in the same pipeline has
    already dropped those documents, so their indices are skipped. `annotate_kept`: also label the kept
    document of each cluster (`cluster_id`, `cluster_size`); the first of the filters does it. The
    number of documents seen is checked against stage 1's count at the end of the task.
    """

    def __init__(self, work_dir: Path | str, reason: Literal["exact_duplicate", "near_duplicate"], *,
                 upstream: tuple[str, ...] = (), annotate_kept: bool = False, exclusion_writer=None):
        self.name = f"dedup {reason.replace('_', ' ')}s"  # before __init__: the stats are named from it
        super().__init__(exclusion_writer=exclusion_writer)
        self.work = get_datafolder(str(work_dir))
        self.reason = reason
        self.upstream = tuple(upstream)
        self.annotate_kept = annotate_kept
        self._decisions: dict[int, dict] = {}
        self._next = 0
        self._expected = 0

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if not self.work.exists(STATS_FILE):
            raise FileNotFoundError(f"{self.work.path}/{STATS_FILE} is missing: run the dedup cluster stage first")
        with self.work.open(STATS_FILE, "rt") as f:
            self._expected = json.load(f)["docs_per_rank"].get(str(rank), 0)
        self._decisions = {}
        if self.work.exists(_decisions_path(rank)):
            with self.work.open(_decisions_path(rank), "rt") as f:
                for line in f:
                    rec = json.loads(line)
                    self._decisions[rec["idx"]] = rec
        self._next = 0
        yield from super().run(data, rank, world_size)
        self._skip_upstream()
        if self._next != self._expected:
            raise RuntimeError(f"{self.name}: task {rank} read {self._next} documents, the signature stage read "
                               f"{self._expected}: read() must give the same documents in the same order")

    def _skip_upstream(self) -> None:
        while (rec := self._decisions.get(self._next)) is not None and rec.get("reason") in self.upstream:
            self._next += 1

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        self._skip_upstream()
        idx = self._next
        self._next += 1
        if idx >= self._expected:
            raise RuntimeError(f"{self.name}: more documents than the signature stage read ({self._expected}): "
                               "read() must give the same documents in the same order")
        rec = self._decisions.get(idx)
        if rec is None:
            return True
        if rec.get("keep"):
            if self.annotate_kept:
                doc.metadata["cluster_id"] = rec["cluster_id"]
                doc.metadata["cluster_size"] = rec["cluster_size"]
            return True
        if rec["reason"] != self.reason:
            return True
        for k in ("cluster_id", "duplicate_of", "cluster_size", "duplicate_jaccard"):
            if k in rec:
                doc.metadata[k] = rec[k]
        return False, self.reason


# --- the stages -----------------------------------------------------------------------------------------


def dedup_stages(read: Callable[[], PipelineStep], work_dir: Path, write_output: Callable[[], PipelineStep],
                 write_removed: Callable[[str], PipelineStep], config: DedupConfig, tasks: int) -> list[Stage]:
    """The executor runs of dedup, in order (see the module docstring); [] when both kinds are off.

    `read()` makes a fresh reader over the dedup input, giving the same documents in the same order on
    every call (stages 1 and 4 both read it); `write_output()` a writer of kept documents;
    `write_removed(reason)` an exclusion writer for the documents dropped with `reason`.
    """
    if not (config.exact or config.minhash):
        return []
    work_dir = Path(work_dir)
    if config.minhash:
        logger.info(describe_lsh(config))
    stages = [Stage("dedup_signatures", [read(), DedupSignature(work_dir, config)], tasks)]
    if config.minhash:
        buckets = MinhashDedupBuckets(input_folder=str(work_dir / "signatures"),
                                      output_folder=str(work_dir / "buckets"), config=config.minhash_config())
        stages.append(Stage("dedup_buckets", [buckets], config.num_buckets))
    stages.append(Stage("dedup_clusters", [DedupCluster(work_dir, config)], 1))
    filters: list[PipelineStep] = []
    if config.exact:
        filters.append(DuplicateFilter(work_dir, EXACT, annotate_kept=True, exclusion_writer=write_removed(EXACT)))
    if config.minhash:
        filters.append(DuplicateFilter(work_dir, NEAR, upstream=(EXACT,) if config.exact else (),
                                       annotate_kept=not config.exact, exclusion_writer=write_removed(NEAR)))
    stages.append(Stage("dedup_filter", [read(), *filters, write_output()], tasks))
    return stages


# --- in memory, for small sets ------------------------------------------------------------------------------


@dataclass(frozen=True)
class NearDuplicate:
    """`index` duplicates `of` (the kept member of its cluster), at true Jaccard `jaccard` to it."""

    index: int
    of: int
    jaccard: float
    exact: bool


def find_duplicates(texts: list[str], config: DedupConfig | None = None, ids: list[str] | None = None) -> list[NearDuplicate]:
    """The staged dedup's decisions for a set that fits in memory (synthetic exercises, a diversity report):
    the same exact hash, code shingles, datatrove MinHash signatures and bands, the same true-Jaccard check
    and the same rule (one kept per cluster: the smallest id; ids default to the positions, zero-padded, so
    the first text of a cluster is kept). Returns one entry per removed text, in index order."""
    config = config or DedupConfig()
    ids = list(ids) if ids is not None else [f"{i:012d}" for i in range(len(texts))]
    if len(ids) != len(texts):
        raise ValueError(f"{len(ids)} ids for {len(texts)} texts")
    sig = MinhashDedupSignature(output_folder="/nonexistent-unused", config=config.minhash_config(),
                                language=CodeTokenizer())  # only its hash functions are used: nothing is written
    exact_hash = create_hash_func(HashConfig(precision=64, hash_fc=config.hash_fc), str)
    uf = _UnionFind()
    exact_groups: dict[int, int] = {}
    is_exact: set[tuple[int, int]] = set()
    if config.exact:
        for i, text in enumerate(texts):
            h = exact_hash(normalise_text(text))
            if h in exact_groups:
                uf.union(exact_groups[h], i)
                is_exact.add((min(i, exact_groups[h]), max(i, exact_groups[h])))
            else:
                exact_groups[h] = i
    shingles: list[np.ndarray] = []
    if config.minhash:
        buckets: list[dict[tuple, int]] = [dict() for _ in range(config.num_buckets)]
        for i, text in enumerate(texts):
            sh = code_shingles(text, config.n_grams, sig._hash_func)
            shingles.append(np.unique(sh))
            if sh.size == 0:
                continue
            for b, band in enumerate(sig.get_signature(sh)):
                key = tuple(band)
                j = buckets[b].setdefault(key, i)
                if j != i and uf.find(i) != uf.find(j):
                    if not config.check_false_positives or jaccard(shingles[i], shingles[j]) >= config.threshold:
                        uf.union(i, j)
    for i in range(len(texts)):
        uf.find(i)
    out = []
    for group in uf.components():
        if len(group) < 2:
            continue
        keep = min(group, key=lambda i: (ids[i], i))
        for i in group:
            if i == keep:
                continue
            exact = config.exact and exact_hash(normalise_text(texts[i])) == exact_hash(normalise_text(texts[keep]))
            score = 1.0 if exact or not shingles else jaccard(shingles[i], shingles[keep])
            out.append(NearDuplicate(i, keep, round(score, 4), exact))
    return sorted(out, key=lambda d: d.index)
