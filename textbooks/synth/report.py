"""`textbooks synth report DIR`: how diverse a synthetic set is, as numbers (report.json) and a picture (report.png).

Why: generators collapse quietly. Cosmopedia found most samples of a prompt opening with the same phrase
("Once upon a time", reference data-tools.md §1.1) and only saw it by reading a few hundred of them;
Magpie removes items by their nearest-neighbour embedding distance (§1.11). This report measures both,
plus the usual lexical and coverage signals, on the set a synth run kept:

    from textbooks.synth.report import report_main
    reports = report_main("synth/ex")            # {"exercises": {...}}; writes synth/ex/report/report.{json,png}
    reports["exercises"]["openings"]["first_3"]["top_share"]   # 1.0: every docstring opens the same way

Each report (one per kind present: textbooks.jsonl, exercises.jsonl) holds
- `lengths`: characters and whitespace tokens of the training text (a textbook's text; an exercise's
  prompt + completion, what the model is trained on): mean, p50, p90, min, max, and a histogram;
- `distinct_ngrams`: for n = 1..4, distinct whitespace-token n-grams / all n-grams over the whole set
  (n-grams never span two records). Low values mean the set repeats itself; they fall as a set grows,
  so compare sets of the same size;
- `near_duplicates`: what `textbooks.data.dedup.find_duplicates` would remove (exact copies after
  normalisation, and code-token 5-gram MinHash candidates whose true Jaccard is >= 0.7): rate, counts,
  and up to 10 example pairs;
- `topics`: counts per area, per area/topic and per leaf of metadata.topic ("area/topic/leaf"); with a
  topic tree, the fraction of its leaves used and the leaves never used;
- `families` / `sources`: counts per metadata.family (offline exercises) and metadata.source;
- `openings`: the most frequent first-3-word and first-5-word openings (lower-cased, edge punctuation
  stripped) of a textbook's text after its leading markdown title line, or of an exercise's entry-point
  docstring, and the share of the most frequent one (Cosmopedia's collapse signal);
- `nearest_neighbour` (with a featurizer): each item's L2 distance to its nearest other item, exact
  search over all pairs in blocks; mean, p10, p50, min, a histogram, and the closest pairs.
"""

from __future__ import annotations

import ast
import math
import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

Kind = Literal["textbooks", "exercises"]
KINDS: tuple[Kind, ...] = ("textbooks", "exercises")

MAX_N = 4  # distinct-n for n = 1..4: the range the diversity literature reports (distinct-1/2 and longer)
TOP_OPENINGS = 10
MAX_EXAMPLES = 10
LENGTH_BINS = 30
NN_BINS = 40  # over [0, the largest distance rounded up to 0.05]
NN_BLOCK_ELEMENTS = 1 << 25  # similarity entries per block (128 MiB of float32): 20k items -> 1,677 rows a block

_EDGE_PUNCT = "\"'`*_~()[]{}<>.,;:!?-—–«»“”‘’#|"
_TRIPLE_QUOTED = re.compile(r'("""|\'\'\')(.*?)\1', re.S)


# --- the report -----------------------------------------------------------------------------------------


def diversity_report(records: list[dict], kind: Kind, featurizer: Any = None,
                     tree_leaves: Sequence[str] | None = None) -> dict:
    """The diversity report of `records` (see the module docstring), JSON-serialisable.

    featurizer: None (no nearest-neighbour section), a `Featurizer` (textbooks.data.quality.featurize) or a
      spec string for `load_featurizer` ("hashed" is the offline one).
    tree_leaves: the leaf ids of the topic tree the set was drawn from, for its coverage.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    started = time.perf_counter()
    seconds: dict[str, float] = {}
    texts = [training_text(r, kind, i) for i, r in enumerate(records)]
    ids = [str(r.get("id", i)) for i, r in enumerate(records)]
    metas = [r.get("metadata") if isinstance(r.get("metadata"), dict) else {} for r in records]
    token_lists = [t.split() for t in texts]

    report: dict[str, Any] = {"kind": kind, "n": len(records)}
    report["lengths"] = {"chars": _summary([len(t) for t in texts]), "tokens": _summary([len(t) for t in token_lists])}
    report["lengths"]["histograms"] = {"chars": _histogram([len(t) for t in texts]),
                                       "tokens": _histogram([len(t) for t in token_lists])}
    t0 = time.perf_counter()
    report["distinct_ngrams"] = distinct_ngrams(token_lists)
    seconds["distinct_ngrams"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    report["near_duplicates"] = near_duplicates(texts, ids)
    seconds["near_duplicates"] = time.perf_counter() - t0
    report["topics"] = topic_coverage([m.get("topic") for m in metas], tree_leaves)
    report["families"] = _counts_section([m.get("family") for m in metas])
    report["sources"] = _counts_section([m.get("source") for m in metas])
    openings = [opening_text(r, kind) for r in records]
    report["openings"] = opening_phrases(openings)
    report["openings"]["of"] = "text after the leading title line" if kind == "textbooks" else "entry point's docstring"
    if featurizer is not None:
        t0 = time.perf_counter()
        report["nearest_neighbour"] = nearest_neighbour_report(texts, ids, featurizer)
        seconds["nearest_neighbour"] = time.perf_counter() - t0
    else:
        report["nearest_neighbour"] = None
    seconds["total"] = time.perf_counter() - started
    report["seconds"] = {k: round(v, 3) for k, v in seconds.items()}
    return report


def training_text(record: dict, kind: Kind, index: int = 0) -> str:
    """What the model is trained on: a textbook's `text`; an exercise's `prompt + completion`."""
    fields = ("text",) if kind == "textbooks" else ("prompt", "completion")
    missing = [f for f in fields if not isinstance(record.get(f), str)]
    if missing:
        where = record.get("id", f"record {index}")
        raise ValueError(f"{where}: a {kind} record needs string field(s) {', '.join(fields)}; "
                         f"{', '.join(missing)} missing or not a string")
    return "".join(record[f] for f in fields)


# --- lexical diversity ----------------------------------------------------------------------------------


def distinct_ngrams(token_lists: Sequence[Sequence[str]], max_n: int = MAX_N) -> dict[str, dict]:
    """{"1": {"distinct", "total", "ratio"}, ..., str(max_n): ...}: distinct n-grams over all n-grams of
    the set, each record's n-grams on their own (none spans two records); ratio 0 when there are none.

    Tokens become integer ids and an n-gram one uint64, so 20k textbooks (~15M n-grams) are counted with
    np.unique instead of a set of tuples (GBs). The packing is exact while n ids fit in 64 bits (a
    vocabulary under 2^16 for n = 4); beyond, the n-gram is a 64-bit mix of its ids, where a collision
    among 15M n-grams has probability ~1e-5 and could only lower `distinct` by one."""
    vocab: dict[str, int] = {}
    seqs = [np.fromiter((vocab.setdefault(t, len(vocab)) for t in toks), dtype=np.uint64, count=len(toks))
            for toks in token_lists]
    bits = max(1, (len(vocab) - 1).bit_length()) if vocab else 1
    out: dict[str, dict] = {}
    for n in range(1, max_n + 1):
        exact = bits * n <= 64
        parts = [_ngram_keys(s, n, bits, exact) for s in seqs if len(s) >= n]
        keys = np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64)
        total = int(keys.size)
        distinct = int(np.unique(keys).size)
        out[str(n)] = {"distinct": distinct, "total": total, "ratio": round(distinct / total, 4) if total else 0.0}
    return out


def _ngram_keys(ids: np.ndarray, n: int, bits: int, exact: bool) -> np.ndarray:
    m = len(ids) - n + 1
    key = ids[:m].copy()
    with np.errstate(over="ignore"):  # the hashed branch wraps by design
        for k in range(1, n):
            nxt = ids[k:m + k]
            if exact:
                key = (key << np.uint64(bits)) | nxt
            else:
                key = _mix64(key * np.uint64(0x100000001B3) + nxt + np.uint64(k))
    return key


def _mix64(h: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: spreads every input bit over the 64 output bits."""
    with np.errstate(over="ignore"):
        h = h ^ (h >> np.uint64(30))
        h = h * np.uint64(0xBF58476D1CE4E5B9)
        h = h ^ (h >> np.uint64(27))
        h = h * np.uint64(0x94D049BB133111EB)
        return h ^ (h >> np.uint64(31))


# --- near-duplicates ------------------------------------------------------------------------------------


def near_duplicates(texts: list[str], ids: list[str], config=None) -> dict:
    """What dedup would remove from this set (`find_duplicates`: the staged dedup's rule, in memory)."""
    from textbooks.data.dedup import DedupConfig, find_duplicates

    config = config or DedupConfig()
    dups = find_duplicates(texts, config, ids=ids) if texts else []
    exact = sum(d.exact for d in dups)
    return {
        "rate": round(len(dups) / len(texts), 4) if texts else 0.0,
        "count": len(dups),
        "exact": exact,
        "near": len(dups) - exact,
        "threshold": config.threshold,
        "examples": [{"id": ids[d.index], "duplicate_of": ids[d.of], "jaccard": d.jaccard, "exact": d.exact}
                     for d in dups[:MAX_EXAMPLES]],
    }


# --- topics and families --------------------------------------------------------------------------------


def topic_coverage(topics: Sequence[Any], tree_leaves: Sequence[str] | None = None) -> dict:
    """Counts of metadata.topic per area, per area/topic and per leaf (the full id, when it has 3+ parts).

    With `tree_leaves`, a leaf counts as covered when some record's topic is that leaf or lies under it,
    so a tree given down to "area/topic" still works on records labelled "area/topic/leaf"."""
    areas: Counter = Counter()
    pairs: Counter = Counter()
    leaves: Counter = Counter()
    missing = 0
    used: set[str] = set()
    for topic in topics:
        if not isinstance(topic, str) or not topic.strip("/"):
            missing += 1
            continue
        parts = [p for p in topic.strip("/").split("/") if p]
        used.add("/".join(parts))
        areas[parts[0]] += 1
        if len(parts) >= 2:
            pairs["/".join(parts[:2])] += 1
        if len(parts) >= 3:
            leaves["/".join(parts)] += 1
    out: dict[str, Any] = {"missing": missing, "areas": _sorted_counts(areas), "topics": _sorted_counts(pairs),
                           "leaves": _sorted_counts(leaves)}
    if tree_leaves is not None:
        tree = sorted({leaf.strip("/") for leaf in tree_leaves if leaf and leaf.strip("/")})
        prefixes = {"/".join(u.split("/")[:k]) for u in used for k in range(1, u.count("/") + 2)}
        unused = [leaf for leaf in tree if leaf not in prefixes]
        tree_set = set(tree)
        outside = sorted(u for u in used if not any("/".join(u.split("/")[:k]) in tree_set
                                                    for k in range(1, u.count("/") + 2)))
        out["tree"] = {
            "leaves": len(tree),
            "covered": len(tree) - len(unused),
            "coverage": round((len(tree) - len(unused)) / len(tree), 4) if tree else 0.0,
            "unused_count": len(unused),
            "unused": unused,
            "outside_tree_count": len(outside),
            "outside_tree": outside[:MAX_EXAMPLES],
        }
    return out


def _counts_section(values: Sequence[Any]) -> dict | None:
    """Counts of a metadata field; None when no record has it (a textbooks set has no families)."""
    present = [str(v) for v in values if v is not None and v != ""]
    if not present:
        return None
    counts = Counter(present)
    return {"present": len(present), "missing": len(values) - len(present), "distinct": len(counts),
            "counts": _sorted_counts(counts)}


def _sorted_counts(counts: Counter) -> dict[str, int]:
    """Most frequent first, ties by name: the order a reader scans and the plot draws."""
    return {k: int(v) for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))}


# --- openings -------------------------------------------------------------------------------------------


def opening_text(record: dict, kind: Kind) -> str:
    """The text whose first words are compared: a textbook's text after a leading markdown title line
    (the prompt asks for one, so the title would otherwise be every opening), an exercise's docstring."""
    if kind == "textbooks":
        text = str(record.get("text", "")).lstrip()
        if text.startswith("#"):
            text = text.split("\n", 1)[1] if "\n" in text else ""
        return text
    return entry_point_docstring(str(record.get("prompt", "")), record.get("entry_point"),
                                 str(record.get("completion", "")))


def entry_point_docstring(prompt: str, entry_point: str | None, completion: str = "") -> str:
    """The docstring of `entry_point` (a def or class, at any depth) in the prompt, else in prompt +
    completion (a prompt cut inside the docstring does not parse alone), else the first triple-quoted
    string of the prompt; "" when there is none."""
    for source in (prompt, prompt + completion):
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            continue
        defs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        named = [n for n in defs if n.name == entry_point] or defs
        for node in named:
            doc = ast.get_docstring(node)
            if doc:
                return doc
        return ""
    m = _TRIPLE_QUOTED.search(prompt)
    return m.group(2).strip() if m else ""


def opening_words(text: str, k: int) -> str:
    """The first k words, lower-cased, punctuation stripped at their edges ("**Welcome," -> "welcome");
    fewer when the text is shorter (a short docstring's whole text is its opening)."""
    words = []
    for raw in text.split():
        word = raw.strip(_EDGE_PUNCT).lower()
        if word:
            words.append(word)
            if len(words) == k:
                break
    return " ".join(words)


def opening_phrases(texts: Sequence[str], lengths: tuple[int, ...] = (3, 5), top: int = TOP_OPENINGS) -> dict:
    """For each k in `lengths`: the `top` most frequent first-k-word openings with counts, the number of
    distinct openings, and the share of the most frequent one among the texts that have an opening."""
    out: dict[str, Any] = {}
    for k in lengths:
        phrases = [p for p in (opening_words(t, k) for t in texts) if p]
        counts = Counter(phrases)
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
        out[f"first_{k}"] = {
            "top": [{"phrase": p, "count": c} for p, c in ranked],
            "distinct": len(counts),
            "top_share": round(ranked[0][1] / len(phrases), 4) if ranked else 0.0,
        }
    out["missing"] = sum(1 for t in texts if not opening_words(t, 1))
    return out


# --- nearest neighbours ---------------------------------------------------------------------------------


def nearest_neighbours(X: np.ndarray, block_elements: int = NN_BLOCK_ELEMENTS) -> tuple[np.ndarray, np.ndarray]:
    """(index, L2 distance) of each row's nearest other row, by exact search over all pairs.

    Blocks of rows are compared with every row at once (one matmul each), so memory is
    block_elements floats beyond X itself. The neighbour is chosen on float32 squared distances
    (|a|^2 + |b|^2 - 2ab); its distance is then recomputed as |a - b| in float64, which is exactly 0 for
    identical vectors (the expansion leaves ~3e-4 of rounding there). Ties go to the lowest index."""
    X = np.asarray(X, dtype=np.float32)
    n = X.shape[0]
    if n < 2:
        raise ValueError(f"nearest neighbours need at least 2 items, got {n}")
    sq = np.einsum("ij,ij->i", X, X)
    rows = max(1, min(n, block_elements // n))
    index = np.empty(n, dtype=np.int64)
    dist = np.empty(n, dtype=np.float64)
    for start in range(0, n, rows):
        end = min(n, start + rows)
        d2 = X[start:end] @ X.T
        d2 *= -2.0
        d2 += sq[start:end, None]
        d2 += sq[None, :]
        d2[np.arange(end - start), np.arange(start, end)] = np.inf
        j = np.argmin(d2, axis=1)
        index[start:end] = j
        diff = (X[start:end] - X[j]).astype(np.float64)
        dist[start:end] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    return index, dist


def nearest_neighbour_report(texts: list[str], ids: list[str], featurizer: Any) -> dict | None:
    """Magpie's repetition signal: the distribution of each item's distance to its nearest other item
    (0: an identical vector; small: a rephrasing). None with fewer than 2 items."""
    if isinstance(featurizer, str):
        from textbooks.data.quality.featurize import load_featurizer

        featurizer = load_featurizer(featurizer)
    if len(texts) < 2:
        return None
    X = featurizer.embed(texts)
    index, dist = nearest_neighbours(X)
    # From 0 (the identical-vector end, where collapse shows) to just past the largest distance: unit
    # vectors lie within 2 of each other, but a set's distances fill only part of that range.
    hi = max(0.05, math.ceil(float(dist.max()) / 0.05) * 0.05)
    counts, edges = np.histogram(dist, bins=NN_BINS, range=(0.0, hi))
    seen: set[tuple[int, int]] = set()
    closest = []
    for i in np.lexsort((np.arange(len(dist)), dist)):
        pair = (min(int(i), int(index[i])), max(int(i), int(index[i])))
        if pair in seen:
            continue
        seen.add(pair)
        closest.append({"id": ids[pair[0]], "neighbour": ids[pair[1]], "distance": round(float(dist[i]), 4)})
        if len(closest) == MAX_EXAMPLES:
            break
    return {
        "featurizer": getattr(featurizer, "fingerprint", type(featurizer).__name__),
        "mean": round(float(dist.mean()), 4),
        "p10": round(float(np.percentile(dist, 10)), 4),
        "p50": round(float(np.percentile(dist, 50)), 4),
        "min": round(float(dist.min()), 4),
        "max": round(float(dist.max()), 4),
        "zero": int((dist == 0).sum()),
        "histogram": {"edges": [round(float(e), 4) for e in edges], "counts": [int(c) for c in counts]},
        "closest": closest,
    }


# --- small statistics -----------------------------------------------------------------------------------


def _summary(values: Sequence[int]) -> dict:
    if not values:
        return {"mean": 0.0, "p50": 0.0, "p90": 0.0, "min": 0, "max": 0}
    a = np.asarray(values, dtype=np.float64)
    return {"mean": round(float(a.mean()), 1), "p50": round(float(np.percentile(a, 50)), 1),
            "p90": round(float(np.percentile(a, 90)), 1), "min": int(a.min()), "max": int(a.max())}


def _histogram(values: Sequence[int], bins: int = LENGTH_BINS) -> dict:
    if not values:
        return {"edges": [], "counts": []}
    lo, hi = min(values), max(values)
    # One bin per length when the lengths span fewer values than `bins`: no empty bins between integers.
    counts, edges = np.histogram(np.asarray(values), bins=min(bins, hi - lo + 1), range=(lo, hi + 1))
    return {"edges": [round(float(e), 1) for e in edges], "counts": [int(c) for c in counts]}


# --- files ----------------------------------------------------------------------------------------------


def write_report(report: dict, out_dir: str | Path) -> tuple[Path, Path]:
    """report.json and report.png in `out_dir` (created), each replaced atomically: a reader never sees
    half a file. matplotlib is imported here only (the numbers need none of it) and drawn through its Agg
    canvas directly, without pyplot: no display is needed and a caller's pyplot backend is left alone."""
    from textbooks.guard import atomic_write
    from textbooks.jsonl import write_json_atomic

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, png_path = out_dir / "report.json", out_dir / "report.png"
    write_json_atomic(json_path, report)
    fig = _figure(report)
    with atomic_write(png_path, "wb") as f:
        fig.savefig(f, format="png", dpi=100)
    return json_path, png_path


def _figure(report: dict):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(15, 10))
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 2)
    (ax_topics, ax_open), (ax_dist, ax_len) = axes
    distinct = report.get("distinct_ngrams", {})
    near = report.get("near_duplicates", {})
    fig.suptitle(f"{report.get('kind')}: {report.get('n')} items - distinct-1..4 "
                 + "/".join(f"{distinct[k]['ratio']:.2f}" for k in sorted(distinct))
                 + f" - near-duplicates {near.get('rate', 0):.1%}", fontsize=13)

    topics = report.get("topics", {})
    level = "area" if len(topics.get("areas", {})) > 1 else "topic"  # one area: its topics say more than one bar
    bars = list(topics.get("areas" if level == "area" else "topics", {}).items())[:30]
    tree = topics.get("tree")
    title = f"topic coverage per {level} ({len(topics.get('areas', {}))} areas, {len(topics.get('topics', {}))} topics"
    title += f"; leaves used {tree['covered']}/{tree['leaves']})" if tree else ")"
    _barh(ax_topics, [a for a, _ in bars], [c for _, c in bars], title, "records")

    first3 = report.get("openings", {}).get("first_3", {})
    tops = first3.get("top", [])
    _barh(ax_open, [t["phrase"] for t in tops], [t["count"] for t in tops],
          f"top openings, first 3 words (top share {first3.get('top_share', 0):.1%}, "
          f"{first3.get('distinct', 0)} distinct)", "records")

    nn = report.get("nearest_neighbour")
    hists = report.get("lengths", {}).get("histograms", {})
    if nn:
        _hist(ax_dist, nn["histogram"], f"nearest-neighbour L2 distance (mean {nn['mean']}, p10 {nn['p10']}, "
              f"{nn['zero']} at 0)", "distance")
    else:
        _hist(ax_dist, hists.get("chars", {}), "length in characters (no featurizer: no distances)", "characters")
    tokens = report.get("lengths", {}).get("tokens", {})
    _hist(ax_len, hists.get("tokens", {}), f"length in whitespace tokens (p50 {tokens.get('p50')}, "
          f"p90 {tokens.get('p90')})", "tokens")
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    return fig


def _barh(ax, labels: list[str], values: list[int], title: str, xlabel: str) -> None:
    ax.set_title(title, fontsize=10)
    if not labels:
        ax.text(0.5, 0.5, "none", ha="center", va="center", transform=ax.transAxes)
        return
    y = np.arange(len(labels))
    ax.barh(y, values)
    ax.set_yticks(y, [lbl if len(lbl) <= 40 else lbl[:37] + "..." for lbl in labels], fontsize=8)
    ax.invert_yaxis()  # most frequent on top
    ax.set_xlabel(xlabel)


def _hist(ax, hist: dict, title: str, xlabel: str) -> None:
    ax.set_title(title, fontsize=10)
    edges, counts = hist.get("edges", []), hist.get("counts", [])
    if not counts:
        ax.text(0.5, 0.5, "none", ha="center", va="center", transform=ax.transAxes)
        return
    ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("items")


# --- entry point ----------------------------------------------------------------------------------------


def read_records(path: str | Path, kind: Kind) -> list[dict]:
    """The records of one synth output file; a line that is not a JSON object, or lacks the kind's text
    fields, is an error naming FILE:LINE."""
    from textbooks.guard import UsageError
    from textbooks.jsonl import iter_jsonl

    records = []
    for lineno, rec in iter_jsonl(path, error=UsageError, objects=True,
                                  hint=f"; expected {kind} records from `textbooks synth {kind}`"):
        try:
            training_text(rec, kind, lineno)
        except ValueError as e:
            raise UsageError(f"{path}:{lineno}: {e}") from None
        records.append(rec)
    return records


def load_tree_leaves(tree: str | Path | Iterable[str] | None) -> list[str] | None:
    """Leaf ids for coverage: None -> None (no coverage section); "builtin" -> the shipped topic tree
    (textbooks.synth.diversity.load_tree); a path -> a JSON list of ids, or one id per line ('#'
    comments); any other iterable -> its strings."""
    if tree is None:
        return None
    if isinstance(tree, str) and tree == "builtin":
        from textbooks.synth.diversity import load_tree

        return [leaf.id for leaf in load_tree()]
    if isinstance(tree, (str, Path)):
        import json

        text = Path(tree).read_text(encoding="utf-8")
        if text.lstrip().startswith("["):
            values = json.loads(text)
            if not all(isinstance(v, str) for v in values):
                raise ValueError(f"{tree}: expected a JSON list of leaf ids (strings)")
            return values
        return [s for s in (line.split("#", 1)[0].strip() for line in text.splitlines()) if s]
    return [str(leaf) for leaf in tree]


def find_inputs(dir_or_file: str | Path) -> dict[Kind, Path]:
    """{kind: file} of a synth output directory (textbooks.jsonl, exercises.jsonl), or of one .jsonl whose
    kind is read from its name, else from its first record's fields."""
    from textbooks.guard import UsageError

    path = Path(dir_or_file)
    if path.is_dir():
        found = {k: path / f"{k}.jsonl" for k in KINDS if (path / f"{k}.jsonl").is_file()}
        if not found:
            raise UsageError(f"{path}: no textbooks.jsonl or exercises.jsonl here (the outputs of `textbooks synth`)")
        return found
    if not path.is_file():
        raise UsageError(f"{path}: no such file or directory")
    for k in KINDS:
        if path.name.lower().startswith(k):
            return {k: path}
    from textbooks.jsonl import iter_jsonl

    for _, rec in iter_jsonl(path, error=UsageError, objects=True):
        if "text" in rec:
            return {"textbooks": path}
        if "prompt" in rec and "completion" in rec:
            return {"exercises": path}
        break
    raise UsageError(f"{path}: cannot tell textbooks from exercises: its name starts with neither and its first "
                     "record has neither 'text' nor 'prompt' + 'completion'")


def report_main(dir_or_file: str | Path, out: str | Path | None = None, featurizer: Any = "hashed",
                tree: str | Path | Iterable[str] | None = None) -> dict[str, dict]:
    """Report every kind found in `dir_or_file` (see `find_inputs`) and write it: into `out` (default
    DIR/report/, or report/ beside a file) when one kind is present, into out/<kind>/ when both are.
    featurizer: a spec ("hashed"), a Featurizer, or None to skip distances; tree: see `load_tree_leaves`.
    Returns {kind: report}, each with "files": {"json", "png"} added (not in report.json itself)."""
    inputs = find_inputs(dir_or_file)
    path = Path(dir_or_file)
    out_dir = Path(out) if out is not None else (path if path.is_dir() else path.parent) / "report"
    if isinstance(featurizer, str):
        from textbooks.data.quality.featurize import load_featurizer

        featurizer = load_featurizer(featurizer)  # loaded once for both kinds (a model featurizer is slow to load)
    leaves = load_tree_leaves(tree)
    results: dict[str, dict] = {}
    for kind, file in inputs.items():
        report = {"source": str(file), **diversity_report(read_records(file, kind), kind, featurizer, leaves)}
        json_path, png_path = write_report(report, out_dir / kind if len(inputs) > 1 else out_dir)
        results[kind] = {**report, "files": {"json": str(json_path), "png": str(png_path)}}
    return results


__all__ = ["diversity_report", "write_report", "report_main", "distinct_ngrams", "near_duplicates", "topic_coverage",
           "opening_phrases", "opening_words", "entry_point_docstring", "nearest_neighbours", "read_records",
           "find_inputs", "load_tree_leaves"]
