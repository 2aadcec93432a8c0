"""`textbooks synth exercises|textbooks --teacher offline`: the fixed record format, every kept exercise passing
in a plain subprocess, reruns reproducing the files, held-out families never generated."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from textbooks.cli import main
from textbooks.synth.parse import DROP_REASONS

FAST = ["--no-progress", "--set", "decontaminate.methods=[ngram,ast]", "--set", "verify.timeout=3"]


def read(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


@pytest.fixture(scope="module")
def exercises(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "ex"
    rc = main(["synth", "exercises", "--teacher", "offline", "--n", "60", "--seed", "1", "--out", str(out), *FAST])
    return out, rc


def test_offline_exercises_have_the_fixed_format_and_pass_a_plain_harness(exercises):
    out, rc = exercises
    assert rc == 0
    rows = read(out / "exercises.jsonl")
    assert len(rows) == 60 and len({r["id"] for r in rows}) == 60
    harness = []
    for r in rows:
        assert set(r) == {"id", "prompt", "completion", "entry_point", "tests", "metadata"}
        meta = r["metadata"]
        assert meta["source"] in ("family", "mined") and meta["teacher"] == "offline"
        assert meta["topic"].count("/") == (1 if meta["source"] == "family" else 2)  # a family's own topic
        assert meta["prompt_version"].startswith("v1@") and meta["verdict_mode"] in ("isolated", "default")
        assert f"def {r['entry_point']}" in r["prompt"] or f"class {r['entry_point']}" in r["prompt"]
        program = r["prompt"] + r["completion"] + "\n" + r["tests"]
        if "def check(candidate)" in r["tests"]:
            program += f"\ncheck({r['entry_point']})\n"
        harness.append(program)
    code = ("import json, sys\nbad = []\nfor i, p in enumerate(json.load(sys.stdin)):\n    try:\n"
            "        exec(compile(p, str(i), 'exec'), {'__name__': '__main__'})\n    except BaseException as e:\n"
            "        bad.append((i, repr(e)))\nprint(json.dumps(bad))\n")
    proc = subprocess.run([sys.executable, "-I", "-c", code], input=json.dumps(harness), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0 and json.loads(proc.stdout) == [], proc.stdout + proc.stderr
    stats = json.loads((out / "stats.json").read_text())
    assert stats["kept"] == 60 and stats["stopped"] == "kept 60 of 60"
    assert set(stats["dropped"]) <= set(DROP_REASONS)
    assert stats["requests"] == stats["generated"] == 60 + stats["dropped_total"] + stats["surplus"]
    for key in ("teacher+parse", "verify", "dedup", "decontaminate"):
        assert stats["items_per_second"][key] > 0
    dropped = read(out / "dropped.jsonl")
    assert all(d["reason"] in DROP_REASONS for d in dropped)
    assert sum(d["reason"] == "surplus" for d in dropped) == stats["surplus"]


def test_a_rerun_reproduces_the_files_and_a_foreign_directory_is_refused(exercises, tmp_path, capsys):
    out, _ = exercises
    before = {n: (out / n).read_text() for n in ("exercises.jsonl", "dropped.jsonl")}
    assert main(["synth", "exercises", "--teacher", "offline", "--n", "60", "--seed", "1", "--out", str(out), *FAST]) == 0
    assert {n: (out / n).read_text() for n in before} == before
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    assert main(["synth", "exercises", "--n", "5", "--out", str(foreign), *FAST]) == 2
    assert "already exists" in capsys.readouterr().err and (foreign / "notes.txt").read_text() == "mine"


def test_held_out_families_are_never_generated_and_families_restricts(tmp_path, capsys):
    from textbooks.synth.offline.families import FAMILIES

    names = sorted(FAMILIES)[:40]
    hold = tmp_path / "holdout.txt"
    hold.write_text("# held out for evaluation\n" + "\n".join(names) + "\n")
    out = tmp_path / "ex"
    assert main(["synth", "exercises", "--n", "40", "--out", str(out), "--holdout-families", str(hold), *FAST]) == 0
    assert not {r["metadata"]["family"] for r in read(out / "exercises.jsonl")} & set(names)
    only = tmp_path / "only"
    assert main(["synth", "exercises", "--n", "20", "--out", str(only), "--families", str(hold), *FAST]) == 0
    assert {r["metadata"]["family"] for r in read(only / "exercises.jsonl")} <= set(names)
    bad = tmp_path / "bad.txt"
    bad.write_text(names[0] + "\nstrings.no_such_family_here\n")
    assert main(["synth", "exercises", "--n", "5", "--out", str(tmp_path / "x"), "--holdout-families", str(bad), *FAST]) == 2
    assert f"{bad}:2:" in capsys.readouterr().err


def test_offline_textbooks_have_their_metadata_and_only_passing_code(tmp_path):
    out = tmp_path / "tb"
    assert main(["synth", "textbooks", "--n", "8", "--seed", "2", "--out", str(out), *FAST]) == 0
    rows = read(out / "textbooks.jsonl")
    assert len(rows) == 8
    for r in rows:
        meta = r["metadata"]
        assert {"topic", "audience", "style", "code_blocks", "code_blocks_passed", "teacher", "prompt_version"} <= set(meta)
        assert meta["code_blocks"] == meta["code_blocks_passed"] >= 1
        assert "```python" in r["text"]
