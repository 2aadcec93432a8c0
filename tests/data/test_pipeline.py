"""The data runner (textbooks.data.pipeline / verbs): layout, reasons, stats, resume, refusal, strict errors."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from textbooks.data.pipeline import ExecutorConfig, PipelineError, Stage, read_stage_stats
from textbooks.data.readers import SourceReader
from textbooks.data.steps import ReasonFilter
from textbooks.data.verbs import ReadConfig, VerbRun, execute_verb


class ShortFilter(ReasonFilter):
    """Drops documents under `min_chars` characters (reason too_short)."""

    name = "short"

    def __init__(self, min_chars: int = 40, **kw):
        super().__init__(**kw)
        self.min_chars = min_chars

    def filter(self, doc):
        return len(doc.text) >= self.min_chars or (False, "too_short")


def build(run: VerbRun, min_chars: int = 40):
    return [Stage("filter", [run.reader(), *run.with_exclusions([ShortFilter(min_chars)]), run.output_writer()], run.tasks)]


def read_shards(folder: Path) -> list[dict]:
    rows = []
    for path in sorted(Path(folder).rglob("*.jsonl.gz")):
        with gzip.open(path, "rt") as f:
            rows += [json.loads(line) for line in f]
    return rows


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    root.mkdir()
    for i in range(12):
        body = "x = 1\n" if i % 3 == 0 else f"def f{i}(a, b):\n    '''Add.'''\n    return a + b + {i}\n"
        (root / f"m{i:02d}.py").write_text(body)
    (root / "bad.py").write_bytes(b"\xff\xfe not utf-8\n")  # skipped: non_utf8
    (root / "nul.py").write_bytes(b"x = 1\x00\n")  # skipped: binary
    (root / "empty.py").write_text("\n\n")  # skipped: empty
    (root / "big.py").write_text("y = 2\n" * 400)  # skipped: too_large with max_bytes=1000
    return root


def make_run(corpus: Path, out: Path, **kw) -> VerbRun:
    kw.setdefault("executor", ExecutorConfig(workers=1, tasks=3))
    kw.setdefault("read", ReadConfig(max_bytes=1000))
    return VerbRun("filter", [str(corpus)], out, **kw)


def test_layout_reasons_and_stats(corpus: Path, tmp_path: Path):
    out = tmp_path / "out"
    stats = execute_verb(make_run(corpus, out), build)
    kept, removed = read_shards(out / "output"), read_shards(out / "removed")
    assert len(kept) == 8 and len(removed) == 4  # 12 readable files: every third is `x = 1` (6 chars)
    assert all(r["metadata"]["drop_reason"] == "too_short" and r["metadata"]["dropped_by"] == "short" for r in removed)
    assert all(len(r["text"]) >= 40 for r in kept)
    assert all("token_count" in r["metadata"] for r in kept)
    saved = json.loads((out / "stats.json").read_text())
    assert saved == stats
    reader, filt, writer = saved["steps"]
    assert reader["skipped"] == {"binary": 1, "empty": 1, "non_utf8": 1, "too_large": 1}
    assert reader["in"] == 16 and reader["kept"] == 12
    assert filt["in"] == 12 and filt["kept"] == 8 and filt["dropped"] == {"too_short": 4}
    assert writer["written"] == 8
    assert filt["tokens_kept"] == sum(r["metadata"]["token_count"] for r in kept)


def test_same_output_for_any_worker_count(corpus: Path, tmp_path: Path):
    a = tmp_path / "a"
    b = tmp_path / "b"
    execute_verb(make_run(corpus, a, executor=ExecutorConfig(workers=1, tasks=3)), build)
    execute_verb(make_run(corpus, b, executor=ExecutorConfig(workers=2, tasks=3)), build)  # forkserver pool
    assert read_shards(a / "output") == read_shards(b / "output")
    assert sorted(p.name for p in (a / "output").iterdir()) == sorted(p.name for p in (b / "output").iterdir())


def test_rerun_resumes_other_settings_refused_overwrite_replaces(corpus: Path, tmp_path: Path):
    out = tmp_path / "out"
    execute_verb(make_run(corpus, out), build)
    first = read_shards(out / "output")
    # A relaunch with the same settings finds every task complete and reports the same stats.
    again = execute_verb(make_run(corpus, out), build)
    assert read_shards(out / "output") == first and again["steps"][1]["kept"] == 8
    # Other settings into the same DIR: refused, nothing touched.
    with pytest.raises(PipelineError, match=r"other settings: settings.min_chars: \(absent\) -> 10"):
        execute_verb(make_run(corpus, out, settings={"min_chars": 10}), lambda r: build(r, 10))
    assert read_shards(out / "output") == first
    # An input file changed since the first launch: resuming would mix two corpora, so it is a new run.
    victim = corpus / "m01.py"
    text = victim.read_text()
    victim.write_text(text + "# edited\n")
    with pytest.raises(PipelineError, match="input files changed"):
        execute_verb(make_run(corpus, out), build)
    victim.write_text(text)
    os.utime(victim, ns=(0, 0))
    with pytest.raises(PipelineError, match="input files changed"):  # same content, other mtime: still refused
        execute_verb(make_run(corpus, out), build)
    # --overwrite replaces the run.
    execute_verb(make_run(corpus, out, settings={"min_chars": 1}, overwrite=True), lambda r: build(r, 1))
    assert len(read_shards(out / "output")) == 12


def test_refuses_to_clear_a_directory_that_is_not_a_run(corpus: Path, tmp_path: Path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("precious")
    with pytest.raises(PipelineError, match="not a data run"):
        execute_verb(make_run(corpus, out, overwrite=True), build)
    assert (out / "notes.txt").read_text() == "precious"


def test_relaunch_after_a_failed_task_reruns_only_that_task(corpus: Path, tmp_path: Path):
    out = tmp_path / "out"
    run = make_run(corpus, out)
    execute_verb(run, build)
    (out / "logs" / "filter" / "completions" / "00001").unlink()  # as if task 1 had been killed
    (out / "output" / "00001.jsonl.gz").write_bytes(b"half a shard")  # ...mid-write
    stats = execute_verb(make_run(corpus, out), build)
    assert len(read_shards(out / "output")) == 8
    assert stats["steps"][1]["kept"] == 8  # stats of all tasks, not only the relaunched one


def test_strict_error_names_file_and_line(tmp_path: Path):
    data = tmp_path / "docs.jsonl"
    data.write_text('{"text": "def f(a):\\n    return a * 2\\n"}\n{"text": oops}\n')
    with pytest.raises(PipelineError, match=r"docs\.jsonl:2"):
        execute_verb(make_run(data, tmp_path / "out", read=ReadConfig(strict=True)), build)
    stats = execute_verb(make_run(data, tmp_path / "out2"), build)  # default: counted
    assert stats["steps"][0]["skipped"] == {"bad_json": 1}


def test_reader_shards_cover_inputs_once(corpus: Path):
    reader = SourceReader([str(corpus)], strict=False)
    ids = [d.id for rank in range(4) for d in reader.run(rank=rank, world_size=4)]
    assert sorted(ids) == sorted(d.id for d in reader.run(rank=0, world_size=1)) and len(ids) == len(set(ids))


def test_stats_merge_tasks(corpus: Path, tmp_path: Path):
    out = tmp_path / "out"
    execute_verb(make_run(corpus, out), build)
    steps = read_stage_stats(out, "filter")
    assert steps[1]["stats"]["total"]["total"] == 12 and steps[1]["stats"]["forwarded"]["total"] == 8


def test_posts_xml_is_an_input_of_every_verb(tmp_path: Path):
    from tests.data.test_stackoverflow import DOC_10, DOC_15, DOC_20, EXPECTED_SKIPS, POSTS_XML

    posts = tmp_path / "Posts.xml"
    posts.write_text(POSTS_XML, encoding="utf-8")
    qa = tmp_path / "qa.jsonl"
    qa.write_text(json.dumps({"id": "q1", "title": "Reverse a list", "question": "How do I reverse a list?",
                              "answer": "Use slicing: `xs[::-1]` returns a reversed copy."}) + "\n")
    out = tmp_path / "out"
    stats = execute_verb(make_run(posts, out, read=ReadConfig()), lambda r: build(r, 1))
    stats2 = execute_verb(make_run(qa, tmp_path / "out2", read=ReadConfig()), lambda r: build(r, 1))
    assert sorted(r["text"] for r in read_shards(out / "output")) == sorted([DOC_10, DOC_15, DOC_20])
    assert stats["steps"][0]["skipped"] == EXPECTED_SKIPS
    [row] = read_shards(tmp_path / "out2" / "output")
    assert "How do I reverse a list?" in row["text"] and row["metadata"]["source"] == "stackoverflow"
    assert stats2["steps"][0]["kept"] == 1


def test_a_verbs_output_dir_is_the_next_verbs_input(corpus: Path, tmp_path: Path):
    first = tmp_path / "first"
    execute_verb(make_run(corpus, first), build)
    kept = read_shards(first / "output")
    for given in (first, first / "output"):
        out = tmp_path / f"second_{given.name}"
        stats = execute_verb(VerbRun("filter", [str(given)], out, executor=ExecutorConfig(workers=1, tasks=2)), build)
        assert sorted(r["id"] for r in read_shards(out / "output")) == sorted(r["id"] for r in kept)
        assert stats["steps"][0]["kept"] == len(kept)
        by_id = {r["id"]: r["metadata"] for r in kept}
        assert all(r["metadata"] == by_id[r["id"]] for r in read_shards(out / "output"))  # not nested, not changed


def test_overwrite_never_deletes_a_directory_that_only_looks_like_a_run(corpus: Path, tmp_path: Path):
    out = tmp_path / "bob"
    out.mkdir()
    (out / "run.json").write_text('{"fingerprint": "x", "verb": "mlflow"}')  # another tool's run.json
    (out / "thesis.txt").write_text("precious")
    with pytest.raises(PipelineError, match="not a data run"):
        execute_verb(make_run(corpus, out, overwrite=True), build)
    (out / "run.json").write_text("[1]")
    with pytest.raises(PipelineError, match="not a data run"):
        execute_verb(make_run(corpus, out, overwrite=True), build)
    assert (out / "thesis.txt").read_text() == "precious"
    # A real run with a file of the user's added to it: --overwrite refuses too, naming the file.
    run_dir = tmp_path / "run"
    execute_verb(make_run(corpus, run_dir), build)
    (run_dir / "notes.txt").write_text("mine")
    with pytest.raises(PipelineError, match="notes.txt"):
        execute_verb(make_run(corpus, run_dir, settings={"x": 1}, overwrite=True), build)
    assert (run_dir / "notes.txt").read_text() == "mine"


def test_a_second_run_into_the_same_dir_is_refused_while_the_first_holds_it(corpus: Path, tmp_path: Path):
    from textbooks.data.pipeline import run_lock

    out = tmp_path / "out"
    with run_lock(out):
        with pytest.raises(PipelineError, match="in use by another run"):
            execute_verb(make_run(corpus, out), build)
    execute_verb(make_run(corpus, out), build)  # free again


def test_special_and_unreadable_files_are_counted_not_fatal(tmp_path: Path):
    root = tmp_path / "tree"
    root.mkdir()
    (root / "ok.py").write_text("def f(a, b):\n    '''Add.'''\n    return a + b + 1000000\n")
    os.mkfifo(root / "pipe.py")  # would block a reader forever
    (root / "zero.py").symlink_to("/dev/zero")  # would fill memory
    (root / "dangling.py").symlink_to(tmp_path / "nowhere.py")
    (tmp_path / "trunc.jsonl.gz").write_bytes(__import__("gzip").compress(b'{"id": "a", "text": "x = 1"}\n' * 50)[:-20])
    (tmp_path / "deep.jsonl").write_text('{"id": "b", "text": "y = 2"}\n' + "[" * 100_000 + "\n")
    stats = execute_verb(make_run(root, tmp_path / "o1", read=ReadConfig()), lambda r: build(r, 1))
    assert stats["steps"][0]["skipped"] == {"not_a_file": 2, "unreadable": 1}
    assert len(read_shards(tmp_path / "o1" / "output")) == 1
    stats = execute_verb(VerbRun("filter", [str(tmp_path / "trunc.jsonl.gz"), str(tmp_path / "deep.jsonl")], tmp_path / "o2",
                                 executor=ExecutorConfig(workers=1, tasks=1)), lambda r: build(r, 1))
    assert stats["steps"][0]["skipped"] == {"bad_json": 1, "corrupt_file": 1}
    assert stats["steps"][0]["kept"] >= 2  # what was read before the truncation is kept


def test_skips_are_reported_when_nothing_is_read(tmp_path: Path):
    (tmp_path / "latin1.py").write_bytes("s = 'caf\xe9'\n".encode("latin-1"))
    stats = execute_verb(make_run(tmp_path / "latin1.py", tmp_path / "out", read=ReadConfig()), build)
    assert stats["steps"][0]["skipped"] == {"non_utf8": 1} and stats["steps"][0]["kept"] == 0
