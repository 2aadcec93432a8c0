"""The shared JSONL reader: line numbers, .gz, blank lines, bad lines named file:line, non-object rows, non-UTF-8."""

import gzip

import pytest

from textbooks.jsonl import iter_jsonl


class MyError(ValueError):
    pass


def test_yields_line_numbers_and_skips_blank_lines(tmp_path):
    p = tmp_path / "a.jsonl"
    p.write_text('{"a": 1}\n\n   \n[1, 2]\n"s"\n{"b": 2}')  # last line without newline is fine
    assert list(iter_jsonl(p)) == [(1, {"a": 1}), (4, [1, 2]), (5, "s"), (6, {"b": 2})]


@pytest.mark.parametrize("name", ["a.jsonl.gz", "A.JSONL.GZ"])
def test_reads_gzip(tmp_path, name):
    p = tmp_path / name
    p.write_bytes(gzip.compress(b'{"a": 1}\n\n{"a": 2}\n'))
    assert list(iter_jsonl(str(p))) == [(1, {"a": 1}), (3, {"a": 2})]


def test_bad_json_names_file_and_line_with_hint_and_error_type(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"a": 1}\n\n{"a": \n')
    with pytest.raises(ValueError, match=r"bad.jsonl:3: not valid JSON \(.* at column \d+\)$"):
        list(iter_jsonl(p))
    with pytest.raises(MyError, match=r"bad.jsonl:3: not valid JSON .*; fix it$") as info:
        list(iter_jsonl(p, error=MyError, hint="; fix it"))
    assert info.value.__cause__ is None and info.value.__context__ is None


def test_objects_requires_json_objects(tmp_path):
    p = tmp_path / "rows.jsonl"
    p.write_text('{"a": 1}\n[1]\n')
    assert [v for _, v in iter_jsonl(p)] == [{"a": 1}, [1]]
    with pytest.raises(MyError, match=r"rows.jsonl:2: expected a JSON object, got list; hint"):
        list(iter_jsonl(p, objects=True, error=MyError, hint="; hint"))


def test_non_utf8_line(tmp_path):
    p = tmp_path / "latin.jsonl"
    p.write_bytes(b'{"t": "ok"}\n{"t": "caf\xe9"}\n{"t": "\xc3\xa9"}\n')
    with pytest.raises(ValueError, match=r"latin.jsonl:2: line is not valid UTF-8"):
        list(iter_jsonl(p))
    bad = []
    rows = list(iter_jsonl(p, on_bad=lambda kind, where: bad.append((kind, where))))
    assert rows == [(1, {"t": "ok"}), (3, {"t": "é"})]
    assert bad == [("non_utf8", f"{p}:2")]


def test_on_bad_skips_and_reports_bad_lines(tmp_path):
    p = tmp_path / "mixed.jsonl"
    p.write_text('{"a": 1}\nnope\n3\n{"a": 4}\n')
    bad = []
    rows = list(iter_jsonl(p, objects=True, on_bad=lambda kind, where: bad.append((kind, where))))
    assert rows == [(1, {"a": 1}), (4, {"a": 4})]
    assert bad == [("bad_json", f"{p}:2"), ("bad_json", f"{p}:3")]


def test_drop_partial_last_line(tmp_path):
    p = tmp_path / "out.jsonl"
    p.write_bytes(b'{"a": 1}\n{"a": 2, "b": "caf\xc3')  # a crash mid-write, even mid-character
    assert list(iter_jsonl(p, drop_partial_last=True)) == [(1, {"a": 1})]
    with pytest.raises(ValueError, match="out.jsonl:2"):
        list(iter_jsonl(p))
    p.write_text('{"a": 1}\n{"a": \n{"a": 3}\n')  # a bad line that has its newline is still an error
    with pytest.raises(ValueError, match="out.jsonl:2: not valid JSON"):
        list(iter_jsonl(p, drop_partial_last=True))


def test_write_jsonl_replaces_atomically_and_reads_back(tmp_path):
    from textbooks.jsonl import write_jsonl

    for name in ("out.jsonl", "out.jsonl.gz"):
        p = tmp_path / "sub" / name
        rows = [{"a": 1}, {"b": "café"}]
        assert write_jsonl(p, rows) == 2
        assert list(iter_jsonl(p)) == [(1, {"a": 1}), (2, {"b": "café"})]
        assert write_jsonl(p, [{"c": 3}]) == 1  # replaced, not appended
        assert list(iter_jsonl(p)) == [(1, {"c": 3})]

    p = tmp_path / "keep.jsonl"
    p.write_text('{"old": 1}\n')

    def rows_then_crash():
        yield {"new": 1}
        raise RuntimeError("writer died")

    with pytest.raises(RuntimeError, match="writer died"):
        write_jsonl(p, rows_then_crash())
    assert p.read_text() == '{"old": 1}\n'  # the old file is intact
    assert sorted(x.name for x in tmp_path.iterdir()) == ["keep.jsonl", "sub"]  # no temporary file left
