"""textbooks.guard: the output guard, atomic writes, argparse types and the CLI error boundary (no torch here)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from textbooks import guard
from textbooks.cli import main


def unwritable(tmp_path: Path) -> Path:
    """A directory nobody can create files in: chmod works for ordinary users; root ignores modes, so there
    /proc (no regular files can be created in it) stands in."""
    if os.geteuid() == 0:
        return Path("/proc")
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o500)
    return d


# --- check_outputs ----------------------------------------------------------------------------------------


def test_an_output_that_is_an_input_is_refused_and_left_alone(tmp_path):
    data = tmp_path / "data.jsonl"
    data.write_text('{"prompt": "x"}\n')
    for out in (data, tmp_path / "." / "data.jsonl"):  # the same file under another spelling
        with pytest.raises(guard.UsageError, match="also an input"):
            guard.check_outputs([out], inputs=[data], overwrite=True)
    link = tmp_path / "link.jsonl"
    os.link(data, link)  # a hard link is the same file
    with pytest.raises(guard.UsageError, match="also an input"):
        guard.check_outputs([link], inputs=[data], overwrite=True)
    assert data.read_text() == '{"prompt": "x"}\n'


def test_a_directory_output_holding_an_input_is_refused(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("x = 1\n")
    with pytest.raises(guard.UsageError, match="inside --out"):
        guard.check_outputs([guard.Output(tmp_path, kind="dir")], inputs=[tmp_path / "src"], overwrite=True)


def test_a_directory_that_is_only_added_to_may_hold_its_inputs(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text("trainer: {}\n")  # `train --resume --config run/config.yaml`
    [out] = guard.check_outputs([guard.Output(run_dir, kind="dir", flag="trainer.run_dir", replaces=False)],
                                inputs=[run_dir / "config.yaml"], resumable_marker=lambda _: True)
    assert out.state == "resume"
    with pytest.raises(guard.UsageError, match="is also an input"):  # but never the input itself
        guard.check_outputs([guard.Output(run_dir, kind="dir", replaces=False)], inputs=[run_dir])


def test_existing_outputs_need_overwrite_unless_empty_or_resumable(tmp_path):
    out = tmp_path / "out"
    assert guard.check_outputs([guard.Output(out, kind="dir")])[0].state == "new"
    out.mkdir()
    assert guard.check_outputs([guard.Output(out, kind="dir")])[0].state == "new"  # empty: fine
    (out / "model.safetensors").write_bytes(b"someone else's model")
    with pytest.raises(guard.UsageError, match=r"already exists \(it holds model.safetensors\); pass --overwrite"):
        guard.check_outputs([guard.Output(out, kind="dir")])
    assert guard.check_outputs([guard.Output(out, kind="dir")], overwrite=True)[0].state == "replace"
    # our own resumable output, recognised by its metadata
    marker = guard.json_marker("stats.json", command="data filter")
    with pytest.raises(guard.UsageError):
        guard.check_outputs([guard.Output(out, kind="dir")], resumable_marker=marker)
    guard.write_marker(out, "stats.json", command="data filter", done=3)
    assert guard.check_outputs([guard.Output(out, kind="dir")], resumable_marker=marker)[0].state == "resume"
    other = guard.json_marker("stats.json", command="data dedup")  # someone else's run is not resumed
    with pytest.raises(guard.UsageError, match="already exists"):
        guard.check_outputs([guard.Output(out, kind="dir")], resumable_marker=other)
    assert (out / "model.safetensors").read_bytes() == b"someone else's model"


def test_an_output_that_must_be_reused_is_never_replaced(tmp_path):
    cache = tmp_path / "notes.txt"
    cache.write_text("my notes\n")
    with pytest.raises(guard.UsageError, match="is not an SQLite cache; choose another --cache"):
        guard.check_outputs([guard.Output(cache, flag="--cache", expected="an SQLite cache")], overwrite=True,
                            resumable_marker=guard.is_sqlite_file)
    import sqlite3

    db = tmp_path / "c.sqlite"
    sqlite3.connect(db).execute("create table t (x)").connection.close()
    assert guard.check_outputs([guard.Output(db, flag="--cache", expected="an SQLite cache")],
                               resumable_marker=guard.is_sqlite_file)[0].state == "resume"


@pytest.mark.parametrize("case", ["dir_for_file", "file_for_dir", "under_a_file", "unwritable", "dot"])
def test_wrong_kind_under_a_file_and_unwritable_outputs_are_refused_before_any_work(tmp_path, case):
    afile = tmp_path / "notes.txt"
    afile.write_text("keep me\n")
    out, kind, words = {
        "dir_for_file": (tmp_path, "file", "is a directory; --out needs a file name"),
        "file_for_dir": (afile, "dir", "is a file; --out needs a directory"),
        "under_a_file": (afile / "r.jsonl", "file", f"{afile} is a file, not a directory"),
        "unwritable": (unwritable(tmp_path) / "sub" / "r.jsonl", "file", "is not writable"),
        "dot": (Path("."), "file", "is a directory"),
    }[case]
    with pytest.raises(guard.UsageError, match=words.replace("(", r"\(").replace(")", r"\)")):
        guard.check_outputs([guard.Output(out, kind=kind)], overwrite=True)
    assert afile.read_text() == "keep me\n"


def test_two_outputs_with_the_same_path_are_refused(tmp_path):
    with pytest.raises(guard.UsageError, match="are the same path"):
        guard.check_outputs([guard.Output(tmp_path / "a"), guard.Output(tmp_path / "a", flag="--summary")])


def test_check_inputs_names_the_wrong_kind(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(guard.UsageError, match="--input .* is a directory; --input needs a file"):
        guard.check_inputs([tmp_path], kind="file", flag="--input")
    with pytest.raises(guard.UsageError, match="is a file; CHECKPOINT needs a directory"):
        guard.check_inputs([tmp_path / "f"], kind="dir", flag="CHECKPOINT")
    with pytest.raises(guard.UsageError, match=f"input not found: .*: {tmp_path / 'f'} is a file"):
        guard.check_inputs([tmp_path / "f" / "x"])


# --- atomic writes ----------------------------------------------------------------------------------------


def test_atomic_write_leaves_the_old_file_when_the_writer_fails(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text("old\n")
    with pytest.raises(KeyboardInterrupt):
        with guard.atomic_write(path) as f:
            f.write("half of the new")
            raise KeyboardInterrupt  # Ctrl-C in the middle of writing
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]  # no temporary file left
    with guard.atomic_write(path) as f:
        f.write("new\n")
    assert path.read_text() == "new\n"


def test_atomic_dir_replaces_the_whole_directory_or_nothing(tmp_path):
    out = tmp_path / "tok"
    out.mkdir()
    (out / "old.json").write_text("{}")
    with pytest.raises(RuntimeError):
        with guard.atomic_dir(out) as tmp:
            (tmp / "new.json").write_text("{}")
            raise RuntimeError("disk full")
    assert sorted(p.name for p in out.iterdir()) == ["old.json"]
    with guard.atomic_dir(out) as tmp:
        (tmp / "new.json").write_text("{}")
    assert sorted(p.name for p in out.iterdir()) == ["new.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tok"]


# --- argparse types ---------------------------------------------------------------------------------------


def test_argparse_types_check_ranges_and_text():
    assert guard.positive_int("3") == 3
    for bad, words in [("0", "must be >= 1, got 0"), ("-2", "must be >= 1, got -2"), ("x", "expected an integer")]:
        with pytest.raises(argparse.ArgumentTypeError, match=words):
            guard.positive_int(bad)
    with pytest.raises(argparse.ArgumentTypeError, match=r"must be in \[0, 65535\], got 70000"):
        guard.port("70000")
    with pytest.raises(argparse.ArgumentTypeError, match=r"must be in \[0, 1\), got 1"):
        guard.float_in(0.0, 1.0, high_open=True)("1")
    with pytest.raises(argparse.ArgumentTypeError, match="finite"):
        guard.positive_float("nan")
    with pytest.raises(argparse.ArgumentTypeError, match="unknown device 'gpu'"):
        guard.device("gpu")
    assert guard.device("cuda:1") == "cuda:1"
    undecodable = os.fsdecode(b"def f\xff")  # how Python hands over argv bytes that are not UTF-8
    with pytest.raises(argparse.ArgumentTypeError, match="not valid UTF-8 text .byte ff at character 6"):
        guard.text(undecodable)
    assert guard.text("«日本»") == "«日本»"


# --- the error boundary -----------------------------------------------------------------------------------


def test_describe_error_turns_expected_failures_into_one_line():
    e = FileNotFoundError(2, "No such file or directory", "runs/x/config.json")
    assert guard.describe_error(e) == ("runs/x/config.json: No such file or directory", 2)
    full = OSError(28, "No space left on device", "out/train_00001.bin")
    message, code = guard.describe_error(full)
    assert "out/train_00001.bin" in message and "disk is full" in message and code == 1
    assert guard.describe_error(guard.CommandError("x")) == ("x", 1)
    assert guard.describe_error(MemoryError())[1] == 1
    assert guard.describe_error(TypeError("unsupported operand")) is None  # a bug, not a message


def test_a_bug_prints_one_note_and_writes_the_traceback_to_a_file(tmp_path, monkeypatch, capsys):
    from textbooks.tokenizer import cli as tokenizer_cli

    def broken(args):
        return {}["missing"]  # a genuine bug: KeyError raised outside our code's messages

    monkeypatch.setattr(tokenizer_cli, "run_info", broken)
    monkeypatch.setenv("TEXTBOOKS_CRASH_DIR", str(tmp_path))
    monkeypatch.delenv("TEXTBOOKS_DEBUG", raising=False)
    assert main(["tokenizer", "info", "somewhere"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "textbooks tokenizer info: internal error: KeyError" in err and "This is a bug, please report it" in err
    [report] = tmp_path.glob("textbooks-crash-*.txt")
    assert str(report) in err
    assert "Traceback" in report.read_text() and "broken" in report.read_text()
    # --debug anywhere on the line (or TEXTBOOKS_DEBUG=1) shows the traceback instead
    with pytest.raises(KeyError):
        main(["tokenizer", "info", "somewhere", "--debug"])
    monkeypatch.setenv("TEXTBOOKS_DEBUG", "1")
    with pytest.raises(KeyError):
        main(["tokenizer", "info", "somewhere"])


def test_sigterm_and_sigint_raise_in_the_main_thread_and_are_restored(capsys, monkeypatch):
    from textbooks.tokenizer import cli as tokenizer_cli

    def slow(args):
        guard.set_resume_hint("rerun to continue")
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM)).start()
        threading.Event().wait(30)  # a long wait, cut short by the signal
        raise AssertionError("SIGTERM did not stop the command")

    monkeypatch.setattr(tokenizer_cli, "run_info", slow)
    before = signal.getsignal(signal.SIGTERM)
    assert main(["tokenizer", "info", "x"]) == 143
    assert "textbooks tokenizer info: terminated; rerun to continue" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) is before  # the test process gets its handler back


def test_non_utf8_argv_is_a_usage_error_not_a_traceback(tmp_path):
    # a real process, because argv bytes only become surrogates at interpreter start
    r = subprocess.run([sys.executable, "-m", "textbooks", "tokenizer", "info", str(tmp_path), "--text", b"\xffx"],
                       capture_output=True, timeout=120)
    assert r.returncode == 2
    err = r.stderr.decode()
    assert "argument --text: is not valid UTF-8 text (byte ff at character 1)" in err and "Traceback" not in err


def test_the_docstring_example_is_what_check_outputs_takes(tmp_path):
    # The module docstring is the contract the data verbs follow; keep its calls working.
    out = tmp_path / "filtered"
    [o] = guard.check_outputs([guard.Output(out, kind="dir")], inputs=[tmp_path / "in.jsonl"], overwrite=False,
                              resumable_marker=guard.json_marker("stats.json", command="data filter"))
    with guard.atomic_dir(out) as tmp:
        guard.write_marker(tmp, "stats.json", command="data filter")
    assert o.state == "new" and json.loads((out / "stats.json").read_text()) == {"command": "data filter"}


def test_a_crash_report_never_follows_a_planted_symlink(tmp_path, monkeypatch):
    import time as _time

    from textbooks import guard

    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    crash_dir = tmp_path / "crash"
    crash_dir.mkdir()
    now = _time.time()
    for dt in range(-1, 4):  # the report's name is predictable: textbooks-crash-<time>-<pid>.txt
        stamp = _time.strftime("%Y%m%d-%H%M%S", _time.localtime(now + dt))
        (crash_dir / f"textbooks-crash-{stamp}-{os.getpid()}.txt").symlink_to(victim)
    monkeypatch.setenv("TEXTBOOKS_CRASH_DIR", str(crash_dir))
    path = guard.write_crash_report("textbooks x", ["x"], RuntimeError("boom"))
    assert victim.read_text() == "keep me"
    assert path is not None and not path.is_symlink() and "boom" in path.read_text()
    assert path.parent == crash_dir and path.name.endswith("-1.txt")  # the next free name in the same place
