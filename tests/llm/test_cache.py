"""The SQLite request cache: keys, durability across connections, several writer processes."""

from __future__ import annotations

import multiprocessing as mp

import pytest

from textbooks.llm import LLMClient, LLMConfig, Request
from textbooks.llm.cache import ResultCache, Sample, sample_key


def _key(request: Request, index: int = 0, **config) -> str:
    values = dict(backend="openai", base_url="http://127.0.0.1:1/v1", model="m", progress=False)
    values.update(config)
    client = LLMClient(LLMConfig(**values))
    return sample_key(client.identity(request), index)


def test_the_key_changes_with_everything_that_changes_the_output():
    base = _key(Request(id=1, prompt="p"))
    assert _key(Request(id=2, prompt="p")) == base  # the id is a label, not part of the question
    assert _key(Request(id=1, prompt="p"), base_url="http://127.0.0.1:1/v1/") == base  # trailing slash normalised
    different = [
        _key(Request(id=1, prompt="p "), ),
        _key(Request(id=1, prompt="p"), index=1),
        _key(Request(id=1, prompt="p", chat=True)),
        _key(Request(id=1, prompt="p", max_tokens=7)),
        _key(Request(id=1, prompt="p", temperature=0.5)),
        _key(Request(id=1, prompt="p", top_p=0.9)),
        _key(Request(id=1, prompt="p", stop=["\n"])),
        _key(Request(id=1, prompt="p", seed=3)),
        _key(Request(id=1, prompt="p"), model="m2"),
        _key(Request(id=1, prompt="p"), base_url="http://127.0.0.1:2/v1"),
        _key(Request(id=1, prompt="p"), extra_body={"top_k": 5}),
    ]
    assert len({base, *different}) == len(different) + 1


def test_rows_survive_reopening_and_the_first_writer_wins(tmp_path):
    path = tmp_path / "sub" / "c.sqlite"
    cache = ResultCache(path)
    cache.put_many([("k1", "{}", Sample("first", "stop", 3, 4))])
    cache.put_many([("k1", "{}", Sample("second", "stop", 3, 4)), ("k2", "{}", Sample("other", "length", 0, 1))])
    cache.close()
    again = ResultCache(path)
    got = again.get_many(["k1", "k2", "missing"])
    assert got["k1"] == Sample("first", "stop", 3, 4)
    assert got["k2"].text == "other" and "missing" not in got
    assert len(again) == 2
    assert again.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_file_that_is_not_a_cache_is_an_llm_error_naming_it(tmp_path):
    from textbooks.llm import LLMError

    path = tmp_path / "c.sqlite"
    path.write_bytes(b"not a sqlite database, just some bytes " * 100)
    with pytest.raises(LLMError, match=r"cannot open the LLM cache .*c\.sqlite: .*delete it or move it away"):
        ResultCache(path)


def _writer(path: str, worker: int, count: int) -> None:
    cache = ResultCache(path)
    for i in range(count):  # one transaction per row: maximum lock contention
        cache.put_many([(f"{worker}-{i}", "{}", Sample(f"text {worker} {i}"))])
        cache.get_many([f"{1 - worker}-{i}"])
    cache.close()


def test_several_processes_write_one_cache(tmp_path):
    path = str(tmp_path / "shared.sqlite")
    ResultCache(path).close()
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, w, 100)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    cache = ResultCache(path)
    assert len(cache) == 200
    assert cache.get_many(["1-99"])["1-99"].text == "text 1 99"


def test_llm_package_imports_the_client_on_first_use():
    """The `textbooks llm` CLI modules live in this package: importing it must not load asyncio/sqlite3/ssl."""
    import subprocess
    import sys

    code = ("import sys, textbooks.llm, textbooks.llm.cli; "
            "print(sorted(m for m in ('asyncio', 'sqlite3', 'ssl', 'textbooks.llm.client') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    import textbooks.llm

    assert textbooks.llm.LLMClient is LLMClient and textbooks.llm.Result.__module__ == "textbooks.llm.config"
