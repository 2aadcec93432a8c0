"""Dedup on planted duplicates of real code (standard-library modules), run stage by stage with datatrove's
LocalPipelineExecutor over JSONL inputs written to tmp_path."""

from __future__ import annotations

import io
import json
import re
import tokenize
from pathlib import Path

import bisect
import colorsys
import copy
import csv
import fnmatch
import getopt
import graphlib
import queue
import sched
import shlex
import textwrap

import numpy as np
import pytest
import yaml
from datatrove.data import Document
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter
from datatrove.utils.hashes.sha1 import sha1_hash64

from textbooks.data.dedup import (
    EXACT,
    NEAR,
    DedupConfig,
    DuplicateFilter,
    code_shingles,
    code_tokens,
    dedup_report,
    dedup_stages,
    describe_lsh,
    jaccard,
    lsh_candidate_probability,
    lsh_s_curve,
    lsh_threshold,
    normalise_text,
)

REPO = Path(__file__).resolve().parents[2]


def _src(module) -> str:
    return Path(module.__file__).read_text()


def _shingle_set(text: str) -> np.ndarray:
    return np.unique(code_shingles(text, 5, sha1_hash64))


def _rewrite_comments(src: str) -> str:
    """Every real comment (found by `tokenize`, so '#' inside strings is untouched) reworded; a licence header added."""
    lines = src.splitlines(keepends=True)
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        if tok.type == tokenize.COMMENT:
            row, col = tok.start
            line = lines[row - 1]
            lines[row - 1] = line[:col] + "# note: " + " ".join(reversed(tok.string[1:].split())) + "\n"
    return "# Copyright (c) someone else\n# Licensed under the MIT licence.\n\n" + "".join(lines)


def _reindent(src: str) -> str:
    """4-space indentation -> 2 spaces (exact normalisation keeps indentation: it is Python syntax)."""
    return re.sub(r"(?m)^( +)", lambda m: " " * (len(m.group(1)) // 2), src)


def _rename(src: str, renames: list[tuple[str, str]]) -> str:
    for old, new in renames:
        src = re.sub(rf"\b{old}\b", new, src)
    return src


def _messy_whitespace(src: str) -> str:
    """CRLF endings, trailing spaces and tabs, doubled blank lines: identical after normalise_text."""
    out = []
    for line in src.split("\n"):
        out.append(line + ("  \t" if line.strip() else ""))
        if not line.strip():
            out.append("   ")
    return "\r\n".join(out)


CSV_RENAMES = [("doublequote", "double_quote"), ("delimiters", "candidate_delims")]
GRAPHLIB_RENAMES = [("_ready_nodes", "_ready"), ("npredecessors", "n_preds")]


def _corpus() -> list[dict]:
    """The planted corpus; each entry's comment is its expected fate (kept = smallest id of its cluster)."""
    return [
        {"id": "base/textwrap.py", "text": _src(textwrap)},  # kept: cluster of 3
        {"id": "copy/textwrap.py", "text": _src(textwrap)},  # exact_duplicate of base/textwrap.py (byte copy)
        {"id": "crlf/textwrap.py", "text": _messy_whitespace(_src(textwrap))},  # exact_duplicate (normalised)
        {"id": "base/shlex.py", "text": _src(shlex)},  # kept: cluster of 3
        {"id": "comments/shlex.py", "text": _rewrite_comments(_src(shlex))},  # near_duplicate: comments changed
        {"id": "indent/shlex.py", "text": _reindent(_src(shlex))},  # near_duplicate: reformatted (indent)
        {"id": "base/csv.py", "text": _src(csv)},  # kept: cluster of 2
        {"id": "renamed/csv.py", "text": _rename(_src(csv), CSV_RENAMES)},  # near_duplicate: 2 identifiers renamed
        {"id": "base/graphlib.py", "text": _src(graphlib)},  # kept: cluster of 2
        {"id": "renamed/graphlib.py", "text": _rename(_src(graphlib), GRAPHLIB_RENAMES)},  # near_duplicate: 2 renamed
        {"id": "distinct/colorsys.py", "text": _src(colorsys)},  # kept: another module
        {"id": "distinct/bisect.py", "text": _src(bisect)},  # kept
        {"id": "distinct/fnmatch.py", "text": _src(fnmatch)},  # kept
        {"id": "distinct/getopt.py", "text": _src(getopt)},  # kept
        {"id": "distinct/add.py", "text": "def add(a, b):\n    return a + b\n"},  # kept: short function
        {"id": "distinct/mul.py", "text": "def mul(x, y):\n    return x * y\n"},  # kept: same shape, other tokens
    ]


EXPECTED = {  # removed id -> (reason, kept id)
    "copy/textwrap.py": (EXACT, "base/textwrap.py"),
    "crlf/textwrap.py": (EXACT, "base/textwrap.py"),
    "comments/shlex.py": (NEAR, "base/shlex.py"),
    "indent/shlex.py": (NEAR, "base/shlex.py"),
    "renamed/csv.py": (NEAR, "base/csv.py"),
    "renamed/graphlib.py": (NEAR, "base/graphlib.py"),
}


def _write_inputs(folder: Path, docs: list[dict], files: int) -> Path:
    """Documents dealt round-robin over `files` JSONL files, so clusters span files (and tasks)."""
    folder.mkdir(parents=True, exist_ok=True)
    for f in range(files):
        with open(folder / f"part{f}.jsonl", "w") as out:
            for doc in docs[f::files]:
                out.write(json.dumps(doc) + "\n")
    return folder


class _CrashOnce(PipelineStep):
    """Raises in task `rank` after `after` documents while `flag` exists (an interrupted run)."""

    name = "crash once"

    def __init__(self, flag: Path, rank: int, after: int):
        super().__init__()
        self.flag, self.crash_rank, self.after = str(flag), rank, after

    def run(self, data, rank: int = 0, world_size: int = 1):
        for i, doc in enumerate(data):
            if rank == self.crash_rank and i == self.after and Path(self.flag).exists():
                Path(self.flag).unlink()
                raise RuntimeError("injected crash")
            yield doc


def _stages(input_dir: Path, out: Path, config: DedupConfig, tasks: int):
    def writer(folder: Path):
        return JsonlWriter(str(folder), output_filename="${rank}.jsonl", compression=None)

    return dedup_stages(
        read=lambda: JsonlReader(str(input_dir)),
        work_dir=out / "work",
        write_output=lambda: writer(out / "output"),
        write_removed=lambda reason: writer(out / "removed" / reason),
        config=config,
        tasks=tasks,
    )


def _run(stages, out: Path) -> None:
    for stage in stages:
        logs = str(out / "logs" / stage.name)
        LocalPipelineExecutor(stage.steps, tasks=stage.tasks, workers=1, logging_dir=logs).run()


def _records(out: Path) -> dict[str, dict]:
    """id -> record over output/ and removed/*/ (record gets "where": "output" or the reason dir)."""
    recs = {}
    for path in sorted(out.glob("output/*.jsonl")) + sorted(out.glob("removed/*/*.jsonl")):
        where = "output" if path.parent.name == "output" else path.parent.name
        for line in path.read_text().splitlines():
            rec = json.loads(line)
            assert rec["id"] not in recs, f"{rec['id']} written twice"
            recs[rec["id"]] = {**rec, "where": where}
    return recs


def _files(out: Path) -> dict[str, bytes]:
    paths = sorted(out.glob("output/*.jsonl")) + sorted(out.glob("removed/*/*.jsonl"))
    return {str(p.relative_to(out)): p.read_bytes() for p in paths}


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """One run over the planted corpus: 3 input files, 2 tasks."""
    root = tmp_path_factory.mktemp("dedup")
    inputs = _write_inputs(root / "input", _corpus(), files=3)
    out = root / "run"
    _run(_stages(inputs, out, DedupConfig(), tasks=2), out)
    return inputs, out


# --- units ------------------------------------------------------------------------------------------------


def test_normalise_text_only_touches_line_ends_and_blank_lines():
    assert normalise_text("\n\na = 1  \r\n\r\n\n\n\tb = 2\t\r\n\n") == "a = 1\n\n\tb = 2"
    assert normalise_text("if x:\n    y\n") != normalise_text("if x:\n  y\n")  # indentation is syntax: kept


def test_code_tokens_drop_comments_keep_strings_word_by_word():
    src = 'x = a[i] + 1.5e-3  # a comment with "quotes"\ns = """Doc: it\'s here"""\nt = \'#not a comment\'\n'
    assert code_tokens(src) == ["x", "=", "a", "[", "i", "]", "+", "1.5e-3",
                                "s", "=", '"', "Doc", ":", "it", "'", "s", "here",
                                "t", "=", '"', "#", "not", "a", "comment"]
    assert code_tokens("a  =  b\n") == code_tokens("a=b")  # whitespace never matters
    assert code_tokens("x = 'a'") == code_tokens('x = "a"')  # quote style neither
    assert code_tokens("s = 'unterminated\n") == ["s", "=", "'", "unterminated"]  # degrades, never raises


def test_short_documents_get_one_shingle_and_empty_ones_none():
    assert code_shingles("def f(): pass", 5, sha1_hash64).shape == (6 - 5 + 1, 1)
    assert code_shingles("x = 1", 5, sha1_hash64).shape == (1, 1)  # 3 tokens < 5: one shingle of all
    assert code_shingles("# only a comment\n", 5, sha1_hash64).shape == (0, 1)


def test_jaccard_of_a_candidate_pair():
    a, b = np.array([1, 2, 3, 4], dtype=np.uint64), np.array([3, 4, 5, 6, 7, 8], dtype=np.uint64)
    assert jaccard(a, b) == pytest.approx(2 / 8)
    assert jaccard(a, a) == 1.0
    # the planted renames are near-duplicates by the measure the check uses, but not copies
    assert 0.8 < jaccard(_shingle_set(_src(csv)), _shingle_set(_rename(_src(csv), CSV_RENAMES))) < 1.0
    assert 0.8 < jaccard(_shingle_set(_src(graphlib)), _shingle_set(_rename(_src(graphlib), GRAPHLIB_RENAMES))) < 1.0
    assert jaccard(_shingle_set(_src(shlex)), _shingle_set(_rewrite_comments(_src(shlex)))) == 1.0


def test_s_curve_matches_datatrove_numbers():
    # datatrove minhash.py: "threshold is (1/14)^(1/8)~0.72", "probability of inclusion for s=0.8: ...=0.924"
    assert lsh_threshold(14, 8) == pytest.approx(0.719, abs=1e-3)
    assert lsh_candidate_probability(0.8, 14, 8) == pytest.approx(0.924, abs=1e-3)
    curve = lsh_s_curve(14, 8)
    assert list(curve) == ["0.50", "0.55", "0.60", "0.65", "0.70", "0.75", "0.80", "0.85", "0.90", "0.95"]
    assert curve["0.70"] == pytest.approx(1 - (1 - 0.7**8) ** 14, abs=1e-4)
    assert list(curve.values()) == sorted(curve.values())
    assert "(1/14)^(1/8) = 0.719" in describe_lsh(DedupConfig())


def test_curate_yaml_dedup_section_builds_the_config():
    section = yaml.safe_load((REPO / "configs/data/curate.yaml").read_text())["dedup"]
    assert DedupConfig(**section) == DedupConfig()  # the shipped values are the documented defaults


# --- the stages on the planted corpus ---------------------------------------------------------------------


def test_planted_duplicates_removed_with_cluster_and_kept_id(planted):
    _, out = planted
    recs = _records(out)
    assert set(recs) == {d["id"] for d in _corpus()}
    removed = {i: r for i, r in recs.items() if r["where"] != "output"}
    assert set(removed) == set(EXPECTED)
    for doc_id, (reason, kept_id) in EXPECTED.items():
        md = removed[doc_id]["metadata"]
        assert removed[doc_id]["where"] == reason and md["drop_reason"] == reason, doc_id
        assert md["duplicate_of"] == kept_id and md["dropped_by"] == f"dedup {reason.replace('_', ' ')}s"
        kept = recs[kept_id]
        assert kept["where"] == "output"
        assert (md["cluster_id"], md["cluster_size"]) == (kept["metadata"]["cluster_id"], kept["metadata"]["cluster_size"])
    assert removed["renamed/graphlib.py"]["metadata"]["duplicate_jaccard"] == pytest.approx(
        jaccard(_shingle_set(_src(graphlib)), _shingle_set(_rename(_src(graphlib), GRAPHLIB_RENAMES))), abs=1e-4)
    bases = ("base/textwrap.py", "base/shlex.py", "base/csv.py", "base/graphlib.py")
    clusters = {recs[k]["metadata"]["cluster_id"] for k in bases}
    assert len(clusters) == 4  # four distinct clusters
    for doc_id, rec in recs.items():
        if doc_id.startswith("distinct/"):
            assert rec["where"] == "output" and "cluster_id" not in rec["metadata"], doc_id


def test_stats_report_clusters_and_s_curve(planted):
    _, out = planted
    stats = dedup_report(out / "work")
    assert stats["documents"] == len(_corpus())
    assert stats["removed"] == {EXACT: 2, NEAR: 4, "total": 6}
    assert stats["cluster_size_histogram"] == {"2": 2, "3": 2}
    assert stats["lsh"]["num_hashes"] == 112 and stats["lsh"]["implied_threshold"] == pytest.approx(0.719, abs=1e-3)
    assert stats["lsh"]["s_curve"] == lsh_s_curve(14, 8)
    assert stats["false_positive_check"]["documents_kept_by_check"] == 0  # no false positives among real modules


def test_false_positive_check_drops_a_low_jaccard_candidate(tmp_path):
    # b=16 bands of r=1 row: P(candidate | J=0.38) = 1 - 0.62^16 = 0.9995, so this pair is an LSH candidate
    shared = _src(copy)
    docs = [
        {"id": "a/copy_sched.py", "text": shared + _src(sched)},
        {"id": "b/copy_queue.py", "text": shared + _src(queue)},
        {"id": "c/colorsys.py", "text": _src(colorsys)},
    ]
    true_j = jaccard(_shingle_set(docs[0]["text"]), _shingle_set(docs[1]["text"]))
    assert 0.2 < true_j < 0.6  # shares a module, but far under the 0.7 threshold
    inputs = _write_inputs(tmp_path / "input", docs, files=1)
    loose = dict(num_buckets=16, hashes_per_bucket=1, exact=False)

    out = tmp_path / "unchecked"
    _run(_stages(inputs, out, DedupConfig(check_false_positives=False, **loose), tasks=1), out)
    recs = _records(out)
    assert recs["b/copy_queue.py"]["metadata"]["drop_reason"] == NEAR  # LSH alone: a false positive
    assert recs["b/copy_queue.py"]["metadata"]["duplicate_of"] == "a/copy_sched.py"

    out = tmp_path / "checked"
    _run(_stages(inputs, out, DedupConfig(check_false_positives=True, **loose), tasks=1), out)
    assert {r["where"] for r in _records(out).values()} == {"output"}
    fp = dedup_report(out / "work")["false_positive_check"]
    assert fp["pairs_rejected"] >= 1 and fp["removed_by_lsh_alone"] >= 1
    assert fp["documents_kept_by_check"] == fp["removed_by_lsh_alone"]


def test_outputs_identical_across_task_counts(planted, tmp_path):
    inputs, first = planted  # tasks=2
    runs = {}
    for name, tasks in (("t1", 1), ("t3", 3)):
        out = tmp_path / name
        _run(_stages(inputs, out, DedupConfig(), tasks=tasks), out)
        runs[name] = out
    # byte-identical shards for the same task count: test_relaunch_after_crashes_gives_identical_outputs
    reference = _records(first)
    for out in runs.values():
        assert _records(out) == reference  # same documents, fates and metadata whatever the sharding


def test_relaunch_after_crashes_gives_identical_outputs(planted, tmp_path):
    inputs, clean = planted  # tasks=2, uninterrupted
    out = tmp_path / "crashy"
    flag = tmp_path / "crash.flag"
    # launch 1 dies in the signature stage (task 1, mid-file); launch 2 in the filter stage (task 1, after
    # the writers wrote part of its shards); launch 3 finishes. Finished tasks are skipped by their markers.
    for stage_name, position in (("dedup_signatures", 1), ("dedup_filter", -1)):
        flag.touch()
        stages = _stages(inputs, out, DedupConfig(), tasks=2)
        stage = next(s for s in stages if s.name == stage_name)
        stage.steps.insert(position if position > 0 else len(stage.steps) - 1, _CrashOnce(flag, rank=1, after=1))
        with pytest.raises(Exception, match="injected crash"):
            _run(stages, out)
    _run(_stages(inputs, out, DedupConfig(), tasks=2), out)
    assert _files(out) == _files(clean)


def test_exact_only(tmp_path):
    inputs = _write_inputs(tmp_path / "input", _corpus(), files=1)
    out = tmp_path / "run"
    stages = _stages(inputs, out, DedupConfig(minhash=False), tasks=1)
    assert [s.name for s in stages] == ["dedup_signatures", "dedup_clusters", "dedup_filter"]
    _run(stages, out)
    removed = {i: r for i, r in _records(out).items() if r["where"] != "output"}
    assert {i: (r["metadata"]["drop_reason"], r["metadata"]["duplicate_of"]) for i, r in removed.items()} == {
        i: e for i, e in EXPECTED.items() if e[0] == EXACT}


def test_filter_refuses_a_reader_that_changed(planted):
    _, out = planted
    step = DuplicateFilter(out / "work", EXACT)
    n = dedup_report(out / "work")["docs_per_rank"]["0"]
    with pytest.raises(RuntimeError, match="same documents in the same order"):
        list(step.run(iter([Document(text="x", id=str(i)) for i in range(n - 1)]), rank=0))
