"""Document readers: .py directories, JSONL(.gz), Parquet, The Stack's schema, skips and errors."""

import gzip
import json
import sys
from collections import Counter
from pathlib import Path

import pytest
from datatrove.data import Document

from textbooks.data.sources import default_corpus_paths, list_units, read_documents, stdlib_dir


@pytest.fixture
def code_dir(tmp_path):
    root = tmp_path / "repo"
    files = {
        "b.py": "print('b')\n",  # read
        "a.py": "print('a')\n",  # read, first (sorted)
        "pkg/z.py": "def z():\n    return 1\n",  # read, recursive
        "pkg/__init__.py": "\n\n",  # skipped: empty (whitespace only)
        "notes.txt": "not python",  # ignored: not .py
        "pkg/__pycache__/z.cpython-311.py": "x = 1\n",  # ignored: __pycache__ is never entered
        ".hidden/h.py": "x = 1\n",  # ignored: hidden directory
        "venv/lib/site-packages/dep.py": "x = 1\n",  # ignored: nested site-packages
        "data.jsonl": '{"text": "x = 1"}\n',  # ignored: data files are read only when named explicitly
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (root / "latin1.py").write_bytes("s = 'caf\xe9'\n".encode("latin-1"))  # skipped: non_utf8
    (root / "pkg/blob.py").write_bytes(b"x = 1\x00\x00\xff")  # skipped: binary (NUL bytes)
    return root


def test_directory_is_read_recursively_in_sorted_order(code_dir):
    skipped = Counter()
    docs = list(read_documents([code_dir], skipped))
    assert all(isinstance(d, Document) for d in docs)
    assert [d.metadata["path"] for d in docs] == ["a.py", "b.py", "pkg/z.py"]
    assert docs[0].text == "print('a')\n"
    assert docs[0].id == str(code_dir / "a.py") and docs[0].metadata["source"] == str(code_dir / "a.py")
    assert skipped == {"non_utf8": 1, "binary": 1, "empty": 1}


def test_skips_are_logged_with_the_file_named(code_dir, caplog):
    with caplog.at_level("INFO", logger="textbooks.data.sources"):
        list(read_documents(code_dir))  # skipped=None is allowed
    assert "latin1.py (non_utf8" in caplog.text and "blob.py (binary)" in caplog.text


def test_single_file_and_duplicates(code_dir):
    skipped = Counter()
    docs = list(read_documents([code_dir / "pkg/z.py", code_dir], skipped))
    assert [d.metadata["path"] for d in docs] == ["z.py", "a.py", "b.py"]  # z.py not read twice
    assert skipped["duplicate_path"] == 1


def test_missing_path_and_unsupported_type(tmp_path, code_dir):
    with pytest.raises(FileNotFoundError, match="input not found: .*does-not-exist"):
        list(read_documents([tmp_path / "does-not-exist"]))
    with pytest.raises(ValueError, match="notes.txt: unsupported input type"):
        list(read_documents([code_dir / "notes.txt"]))


def _write_jsonl(path: Path, lines: list[str]) -> None:
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)


def test_jsonl_text_field(tmp_path):
    p = tmp_path / "docs.jsonl"
    _write_jsonl(p, [
        json.dumps({"text": "def f(): pass\n", "id": "d1", "lang": "py"}),  # read, id from the record
        "",  # blank line: ignored
        json.dumps({"text": "   "}),  # skipped: empty
        json.dumps({"text": "x = 2\n"}),  # read, id = file:line
    ])
    skipped = Counter()
    docs = list(read_documents([p], skipped))
    assert [d.text for d in docs] == ["def f(): pass\n", "x = 2\n"]
    assert docs[0].id == "d1" and docs[0].metadata["lang"] == "py" and docs[0].metadata["source"] == str(p)
    assert docs[1].id == f"{p}:4"
    assert skipped == {"empty": 1}


def test_jsonl_gz_stack_schema(tmp_path):
    p = tmp_path / "stack.jsonl.gz"
    _write_jsonl(p, [
        json.dumps({"content": "import os\n", "max_stars_repo_path": "src/a.py", "path": "a.py",
                    "hexsha": "abc123", "max_stars_count": 5}),  # path from max_stars_repo_path
        json.dumps({"content": "import sys\n", "path": "b.py", "hexsha": "def456"}),  # falls back to path
    ])
    docs = list(read_documents([p]))
    assert [(d.id, d.metadata["path"], d.text) for d in docs] == [
        ("abc123", "src/a.py", "import os\n"), ("def456", "b.py", "import sys\n")]
    assert docs[0].metadata["max_stars_count"] == 5


def test_jsonl_bad_line_strict_names_file_and_line(tmp_path):
    p = tmp_path / "bad.jsonl"
    _write_jsonl(p, [json.dumps({"text": "ok = 1\n"}), '{"text": "unterminated', json.dumps([1, 2]),
                     json.dumps({"body": "no text field"})])
    with pytest.raises(ValueError, match=r"bad.jsonl:2: not valid JSON"):
        list(read_documents([p]))
    skipped = Counter()
    docs = list(read_documents([p], skipped, strict=False))
    assert [d.text for d in docs] == ["ok = 1\n"]
    assert skipped == {"bad_json": 2, "no_text": 1}


def test_jsonl_missing_text_field_strict(tmp_path):
    p = tmp_path / "notext.jsonl"
    _write_jsonl(p, [json.dumps({"body": "x"})])
    with pytest.raises(ValueError, match=r"notext.jsonl:1: no string field 'text' or 'content'.*body"):
        list(read_documents([p]))


def test_jsonl_non_utf8_line(tmp_path):
    p = tmp_path / "latin.jsonl"
    p.write_bytes(b'{"text": "ok"}\n{"text": "caf\xe9"}\n')
    with pytest.raises(ValueError, match="latin.jsonl:2: line is not valid UTF-8"):
        list(read_documents([p]))
    skipped = Counter()
    assert [d.text for d in read_documents([p], skipped, strict=False)] == ["ok"]
    assert skipped == {"non_utf8": 1}


def _write_parquet(path, rows, row_group_size):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=row_group_size)


def test_parquet_stack_schema_in_row_groups(tmp_path):
    p = tmp_path / "stack.parquet"
    rows = [{"content": f"x = {i}\n", "max_stars_repo_path": f"r/{i}.py", "hexsha": f"h{i}"} for i in range(25)]
    rows[3]["content"] = ""  # skipped: empty
    _write_parquet(p, rows, row_group_size=10)
    units = list_units([p])
    assert [u.row_group for u in units] == [0, 1, 2]  # one reading unit per row group
    skipped = Counter()
    docs = list(read_documents([p], skipped))
    assert [d.id for d in docs] == [f"h{i}" for i in range(25) if i != 3]
    assert docs[10].metadata["path"] == "r/11.py" and docs[10].text == "x = 11\n"
    assert skipped == {"empty": 1}


def test_parquet_text_column_and_errors(tmp_path):
    p = tmp_path / "t.parquet"
    _write_parquet(p, [{"text": "a = 1\n"}, {"text": "b = 2\n"}], row_group_size=100)
    docs = list(read_documents([p]))
    assert [d.text for d in docs] == ["a = 1\n", "b = 2\n"] and docs[1].id == f"{p}:row 1"
    q = tmp_path / "notext.parquet"
    _write_parquet(q, [{"body": "x"}], row_group_size=100)
    with pytest.raises(ValueError, match=r"notext.parquet: no 'text' or 'content' column.*body"):
        list(read_documents([q]))
    r = tmp_path / "corrupt.parquet"
    r.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(ValueError, match="corrupt.parquet: cannot read as Parquet"):
        list(read_documents([r]))


def test_shards_are_disjoint_and_cover_everything(code_dir, tmp_path):
    p = tmp_path / "t.parquet"
    _write_parquet(p, [{"text": f"v = {i}\n"} for i in range(30)], row_group_size=7)
    inputs = [code_dir, p]
    full = [d.id for d in read_documents(inputs)]
    parts = [[d.id for d in read_documents(inputs, shard=k, num_shards=3)] for k in range(3)]
    assert sorted(sum(parts, [])) == sorted(full) and len(set(full)) == len(full)
    assert all(parts)
    with pytest.raises(ValueError, match="shard must be in"):
        list(read_documents(inputs, shard=3, num_shards=3))


def test_default_corpus_is_stdlib_and_this_interpreters_site_packages():
    paths = default_corpus_paths()
    assert paths[0] == stdlib_dir() and (stdlib_dir() / "os.py").is_file()
    assert any(p.name == "site-packages" and Path(sys.prefix) in p.parents for p in paths)
    # The walk of the stdlib does not descend into its own site-packages.
    units = list_units([stdlib_dir()])
    assert len(units) > 500
    assert not any("site-packages" in u.path.relative_to(stdlib_dir()).parts for u in units)
