"""`textbooks llm complete`: the batch CLI, its input checks, resume after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from textbooks.cli import main

REPO = Path(__file__).resolve().parents[2]


def write_prompts(path: Path, prompts: list[str]) -> Path:
    path.write_text("".join(json.dumps({"id": f"id{i}", "prompt": p}) + "\n" for i, p in enumerate(prompts)))
    return path


def read_out(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def cli(url: str, inp: Path, out: Path, *extra: str) -> list[str]:
    return ["llm", "complete", "--base-url", url, "--model", "test-model", "--input", str(inp), "--out", str(out),
            "--no-progress", "--timeout", "2", *extra]


def test_complete_writes_one_line_per_id_and_a_rerun_sends_nothing(fault_server, tmp_path, capsys):
    inp = write_prompts(tmp_path / "prompts.jsonl", ["a", "b", "c"])
    out = tmp_path / "out" / "results.jsonl"
    with fault_server(faults={"b": ["500"]}) as server:
        assert main(cli(server.url, inp, out, "--max-tokens", "8")) == 0
        rows = read_out(out)
        assert sorted(r["id"] for r in rows) == ["id0", "id1", "id2"]
        assert {r["id"]: r["text"] for r in rows}["id1"] == "echo: b #0"
        assert rows[0]["usage"] == {"prompt_tokens": 1, "completion_tokens": 3}
        assert (tmp_path / "out" / "results.jsonl.cache.sqlite").exists()  # the documented default cache path
        sent = sum(server.counts.values())
        assert main(cli(server.url, inp, out, "--max-tokens", "8")) == 0
        assert sum(server.counts.values()) == sent
        assert read_out(out) == rows
    assert "3/3 ids done" in capsys.readouterr().err


def test_chat_lines_and_per_line_overrides(fault_server, tmp_path):
    inp = tmp_path / "chat.jsonl"
    inp.write_text(
        json.dumps({"id": 1, "messages": [{"role": "user", "content": "hi"}], "n": 2, "temperature": 0.7}) + "\n"
        + json.dumps({"id": 2, "prompt": "plain prompt as one user message"}) + "\n")
    out = tmp_path / "chat_out.jsonl"
    with fault_server() as server:
        assert main(cli(server.url, inp, out, "--chat")) == 0
        rows = {r["id"]: r for r in read_out(out)}
        assert rows[1]["texts"] == ["echo: hi #0", "echo: hi #1"]
        assert rows[2]["text"] == "echo: plain prompt as one user message #0"
        # Calls run concurrently, so find each line's calls by content (bodies[0] may be either line's).
        temps = {(b["messages"][0]["content"], b["temperature"]) for b in server.bodies}
        assert temps == {("hi", 0.7), ("plain prompt as one user message", 0.0)}


def test_invalid_input_lines_name_file_and_line(tmp_path, capsys):
    cases = [
        ('{"id": 1, "prompt": "ok"}\n\n{"id": 2, "prompt": "ok"\n', ":3:", "not valid JSON"),  # line 3 is truncated
        ('{"id": 1, "prompt": "ok"}\n{"prompt": "no id"}\n', ":2:", "id"),
        ('{"id": 1, "prompt": "ok"}\n{"id": 1, "prompt": "again"}\n', ":2:", "duplicate id"),
        ('{"id": 1, "messages": [{"role": "user", "content": "x"}]}\n', ":1:", "--chat"),
        ('{"id": 1, "prompt": "ok", "max_tokens": "many"}\n', ":1:", "max_tokens"),
    ]
    for i, (text, where, what) in enumerate(cases):
        inp = tmp_path / f"bad{i}.jsonl"
        inp.write_text(text)
        rc = main(cli("http://127.0.0.1:9/v1", inp, tmp_path / "o.jsonl"))
        err = capsys.readouterr().err
        assert rc == 2, text
        assert f"{inp}{where}" in err and what in err, err
    assert not (tmp_path / "o.jsonl").exists()


def test_unreachable_server_exits_nonzero_naming_the_url(tmp_path, capsys, dead_url):
    inp = write_prompts(tmp_path / "p.jsonl", ["a"])
    rc = main(cli(dead_url, inp, tmp_path / "o.jsonl", "--max-retries", "1"))
    err = capsys.readouterr().err
    assert rc == 1 and dead_url in err and "cannot connect" in err


def test_failures_are_summarised_with_ids_and_reasons(fault_server, tmp_path, capsys):
    inp = write_prompts(tmp_path / "p.jsonl", ["good", "too long"])
    out = tmp_path / "o.jsonl"
    with fault_server(faults={"too long": ["400ctx"]}) as server:
        assert main(cli(server.url, inp, out)) == 1
    err = capsys.readouterr().err
    assert "1 id not done" in err and "'id1'" in err and "400" in err
    assert [r["id"] for r in read_out(out)] == ["id0"]
    errors = read_out(tmp_path / "o.jsonl.errors.jsonl")
    assert errors[0]["id"] == "id1" and "context" in errors[0]["error"]


def test_sigkill_midway_then_rerun_resends_no_finished_request(fault_server, tmp_path):
    prompts = [f"prompt {i}" for i in range(30)]
    inp = write_prompts(tmp_path / "p.jsonl", prompts)
    out = tmp_path / "o.jsonl"
    cache = tmp_path / "o.jsonl.cache.sqlite"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with fault_server(delay_s=0.1) as server:
        args = [sys.executable, "-m", "textbooks", *cli(server.url, inp, out, "--concurrency", "2")]
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while sum(server.served.values()) < 8 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL, "the client finished before it could be killed"
        time.sleep(0.3)  # let the calls in flight at the kill reach the server's counters
        assert not out.exists()  # killed before the end: the output is only written from the cache at the end

        with sqlite3.connect(cache) as db:
            done = {json.loads(req)["prompt"] for (req,) in db.execute("SELECT request FROM samples")}
        assert 4 <= len(done) < len(prompts)
        counts_at_kill = dict(server.counts)

        rc = subprocess.run(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=120)
        assert rc.returncode == 0, rc.stderr
        for p in done:  # committed before the kill -> never sent again
            assert server.counts[p] == counts_at_kill[p] == 1, p
        # Only calls in flight at the kill (at most --concurrency) were answered twice.
        assert sum(server.served.values()) <= len(prompts) + 2
        rows = read_out(out)
        assert sorted(r["id"] for r in rows) == sorted(f"id{i}" for i in range(30))  # each id once
        assert all(r["text"] == f"echo: {prompts[int(r['id'][2:])]} #0" for r in rows)


def test_complete_with_a_local_checkpoint_needs_no_server(tiny_checkpoint, tmp_path):
    inp = write_prompts(tmp_path / "p.jsonl", ["def add(a, b):\n", "import os\n"])
    out = tmp_path / "o.jsonl"
    rc = main(["llm", "complete", "--backend", "phi", "--model", str(tiny_checkpoint), "--device", "cpu", "--input", str(inp),
               "--out", str(out), "--max-tokens", "4", "--no-progress"])
    assert rc == 0
    rows = read_out(out)
    assert [r["id"] for r in rows] == ["id0", "id1"]
    assert all(r["usage"]["completion_tokens"] >= 1 for r in rows)


def test_cache_that_cannot_be_opened_is_a_clear_error(tmp_path, capsys, monkeypatch):
    import textbooks.llm
    from textbooks.llm import LLMError

    class NoCache:
        def __init__(self, config):
            raise LLMError(f"cannot open the LLM cache {config.cache_path}: file is not a database")

    monkeypatch.setattr(textbooks.llm, "LLMClient", NoCache)
    inp = write_prompts(tmp_path / "prompts.jsonl", ["a"])
    out = tmp_path / "o.jsonl"
    assert main(cli("http://127.0.0.1:9/v1", inp, out)) == 2
    assert f"textbooks llm complete: error: cannot open the LLM cache {out}.cache.sqlite" in capsys.readouterr().err
    assert not out.exists()


def test_client_is_closed_when_the_run_raises(tmp_path, monkeypatch):
    import pytest

    import textbooks.llm

    closed = []

    class Boom(Exception):
        pass

    class Exploding(textbooks.llm.LLMClient):
        def run(self, requests):
            raise Boom

        def close(self):
            closed.append(True)
            super().close()

    monkeypatch.setattr(textbooks.llm, "LLMClient", Exploding)
    inp = write_prompts(tmp_path / "prompts.jsonl", ["a"])
    with pytest.raises(Boom):
        main(["--debug", *cli("http://127.0.0.1:9/v1", inp, tmp_path / "o.jsonl")])  # --debug: the error escapes main
    assert closed == [True]
