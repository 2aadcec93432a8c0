"""Issue 13, what needs real processes: Ctrl-C (SIGINT to the process group, as a terminal sends it) and
SIGTERM stop long commands at once, keep what finished and say how to resume; hostile sizes finish within
seconds with bounded memory (the child's own peak RSS from os.wait4)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

TEXTBOOKS = [sys.executable, "-m", "textbooks"]


def start(argv, cwd) -> subprocess.Popen:
    env = {**os.environ, "TEXTBOOKS_DEBUG": "", "PYTHONUNBUFFERED": "1"}
    # The child gets the signal dispositions of a terminal user's shell: a test run started in the background
    # (`cmd &` in a script) inherits SIGINT ignored, and an ignored signal survives exec (Python then never
    # raises KeyboardInterrupt, so the command would run to its end).
    return subprocess.Popen([*TEXTBOOKS, *map(str, argv)], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True, preexec_fn=_default_signals)


def _default_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def finish(proc: subprocess.Popen, timeout: float) -> tuple[int, str, float]:
    """(exit code, stderr, peak RSS in MB) of a started process; killed (and failed) past `timeout`."""
    killer = threading.Timer(timeout, lambda: os.killpg(proc.pid, signal.SIGKILL))
    killer.start()
    out = {}
    readers = [threading.Thread(target=lambda n=n, s=s: out.__setitem__(n, s.read())) for n, s in
               (("out", proc.stdout), ("err", proc.stderr))]
    for r in readers:
        r.start()
    _, status, usage = os.wait4(proc.pid, 0)
    killer.cancel()
    for r in readers:
        r.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode != -signal.SIGKILL, f"still running after {timeout} s"
    return proc.returncode, (out["out"] + out["err"]).decode(errors="replace"), usage.ru_maxrss / 1024


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def model_dir(tiny_tokenizer_dir, tmp_path_factory):
    import torch

    from textbooks.model import Phi, PhiConfig
    from textbooks.model.hf import save_model_dir
    from textbooks.tokenizer import load_tokenizer

    tok = load_tokenizer(tiny_tokenizer_dir)
    torch.manual_seed(0)
    cfg = PhiConfig(vocab_size=tok.padded_vocab_size, n_layer=2, d_model=64, n_head=2, d_mlp=128, rotary_dim=8,
                    max_seq_len=512)
    out = tmp_path_factory.mktemp("signals") / "model"
    save_model_dir(Phi(cfg).eval(), tok, out)
    return out


def _cached_samples(cache: Path) -> int:
    try:
        with sqlite3.connect(f"file:{cache}?mode=ro", uri=True, timeout=0.1) as db:
            return db.execute("select count(*) from samples").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.parametrize("sig, code, word", [
    (signal.SIGINT, 130, "interrupted"),
    # ~20 s more (torch and the model load again); SIGTERM is also covered by the tokenizer test below
    pytest.param(signal.SIGTERM, 143, "terminated", marks=pytest.mark.slow),
])
def test_a_signal_stops_llm_complete_on_a_local_model_and_keeps_what_finished(model_dir, tmp_path, sig, code, word):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"id": i, "prompt": f"def f{i}(x):"}) + "\n" for i in range(300)))
    out, cache = tmp_path / "r.jsonl", tmp_path / "r.jsonl.cache.sqlite"
    proc = start(["llm", "complete", "--backend", "phi", "--model", model_dir, "--input", prompts, "--out", out,
                  "--max-tokens", 200, "--batch-size", 2, "--no-progress", "--device", "cpu"], tmp_path)
    wait_for(lambda: _cached_samples(cache) >= 2 or proc.poll() is not None, 120, "the first finished samples")
    sent = time.monotonic()
    os.killpg(proc.pid, sig)  # a terminal's Ctrl-C goes to the whole process group
    rc, output, _ = finish(proc, 60)
    assert time.monotonic() - sent < 5, output  # within a decode step, not at the end of 300 prompts
    assert rc == code and "Traceback" not in output, output
    assert f"textbooks llm complete: {word};" in output and "rerun the same command to resume" in output
    done = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert 2 <= len(done) < 300 and len(done) == _cached_samples(cache)  # what finished is in --out and the cache


@pytest.mark.parametrize("sig, code, word", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_a_signal_stops_tokenizer_training_at_once_and_leaves_no_output(tmp_path, sig, code, word):
    from textbooks.data.sources import stdlib_dir

    out = tmp_path / "tok"
    proc = start(["tokenizer", "train", "--input", stdlib_dir(), "--vocab-size", 30000, "--out", out,
                  "--no-progress"], tmp_path)
    wait_for(lambda: any(tmp_path.glob(".tok.partial-*")) or proc.poll() is not None, 60, "training to start")
    time.sleep(1.5)  # inside the BPE training, which runs in Rust for tens of seconds
    sent = time.monotonic()
    os.killpg(proc.pid, sig)
    rc, output, _ = finish(proc, 60)
    assert time.monotonic() - sent < 5, output
    assert rc == code and "Traceback" not in output and f"textbooks tokenizer train: {word}" in output, output
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no --out, no partial directory


def test_ctrl_c_stops_data_pack_with_workers_without_worker_tracebacks(tiny_tokenizer_dir, tmp_path):
    from textbooks.data.sources import stdlib_dir

    out = tmp_path / "packed"
    proc = start(["data", "pack", stdlib_dir(), "--tokenizer", tiny_tokenizer_dir, "--out", out, "--workers", 2,
                  "--no-progress"], tmp_path)
    wait_for(lambda: any(tmp_path.glob(".packed.partial-*")) or proc.poll() is not None, 60, "packing to start")
    time.sleep(2)  # the spawned workers are tokenizing
    sent = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    rc, output, _ = finish(proc, 60)
    assert time.monotonic() - sent < 5, output
    assert rc == 130 and "Traceback" not in output, output
    assert "textbooks data pack: interrupted; nothing was written to" in output
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def _write_long_line_jsonl(path: Path, megabytes: int) -> None:
    with open(path, "w") as f:
        f.write(json.dumps({"text": "def ordinary(x):\n    return x + 1\n"}) + "\n")
        f.write('{"text": "')
        block = "v1=f(v2,v3);" * 5461  # 65,532 characters, no newline, no space
        for _ in range(megabytes * 16):
            f.write(block)
        f.write('"}\n')


def test_pack_skips_a_64_mb_line_within_seconds_and_bounded_memory(tiny_tokenizer_dir, tmp_path):
    data = tmp_path / "one_long_line.jsonl"
    _write_long_line_jsonl(data, 64)
    start_t = time.monotonic()
    rc, output, peak_mb = finish(start(["data", "pack", data, "--tokenizer", tiny_tokenizer_dir, "--out",
                                        tmp_path / "p", "--workers", 1, "--no-progress"], tmp_path), 120)
    assert rc == 0, output
    assert time.monotonic() - start_t < 30 and peak_mb < 1024, (time.monotonic() - start_t, peak_mb)
    meta = json.loads((tmp_path / "p" / "meta.json").read_text())
    assert meta["skipped"] == {"too_long": 1} and meta["documents"] == 1  # the ordinary document is packed
    assert "too_long=1" in output


def test_tokenizer_train_never_reads_a_50_mb_file(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    with open(corpus / "huge.py", "wb") as f:
        f.truncate(50 * 2**20)  # 50 MB, sparse: only its size is looked at
    for i in range(20):
        (corpus / f"m{i}.py").write_text(f"def f{i}(x):\n    return x + {i}\n")
    start_t = time.monotonic()
    rc, output, peak_mb = finish(start(["tokenizer", "train", "--input", corpus, "--vocab-size", 300, "--out",
                                        tmp_path / "tok", "--no-progress"], tmp_path), 120)
    assert rc == 0 and "skipped:    1 too_long" in output, output
    assert time.monotonic() - start_t < 30 and peak_mb < 1024, (time.monotonic() - start_t, peak_mb)
    assert json.loads((tmp_path / "tok" / "training_stats.json").read_text())["inputs"] == [str(corpus)]


def test_tokenizer_train_skips_a_64_mb_jsonl_record_within_seconds_and_bounded_memory(tmp_path):
    """The .py size check cannot see JSONL records; train_tokenizer skips them once read, before pre-tokenizing."""
    data = tmp_path / "one_long_line.jsonl"
    _write_long_line_jsonl(data, 64)
    with open(data, "a") as f:
        for i in range(20):
            f.write(json.dumps({"text": f"def f{i}(x):\n    return x + {i}\n"}) + "\n")
    start_t = time.monotonic()
    rc, output, peak_mb = finish(start(["tokenizer", "train", "--input", data, "--vocab-size", 300, "--out",
                                        tmp_path / "tok", "--no-progress"], tmp_path), 120)
    assert rc == 0 and "skipped:    1 too_long" in output, output
    assert time.monotonic() - start_t < 30 and peak_mb < 1024, (time.monotonic() - start_t, peak_mb)
    assert json.loads((tmp_path / "tok" / "training_stats.json").read_text())["documents"] == 21
