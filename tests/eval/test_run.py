"""`textbooks eval run`: generate -> execute -> report in one command on a tiny random checkpoint; the same
files as the three verbs; a rerun continues (finished samples and verdicts are kept, not redone)."""

import json

import pytest

from textbooks.cli import main
from textbooks.eval.run import results_paths

from tests.eval.test_generate import HE3, _make_checkpoint, _rows

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def checkpoint(request, tmp_path_factory):
    return _make_checkpoint(request, tmp_path_factory, max_seq_len=2048)


def _args(checkpoint, out, *extra):
    return ["eval", "run", "--benchmark", "humaneval", "--model", str(checkpoint), "--out", str(out),
            "--task-ids", *HE3, "--max-new-tokens", "8", "--n", "2", "--temperature", "0.8", "--seed", "3",
            "--workers", "2", "--no-progress", *extra]


def test_eval_run_end_to_end_equals_the_three_verbs_and_resumes(checkpoint, tmp_path, capsys):
    out = tmp_path / "he.jsonl"
    assert main(_args(checkpoint, out)) == 0
    results, summary, partial = results_paths(out)
    report = tmp_path / "he.report"
    assert (report / "report.md").is_file() and (report / "report.json").is_file()
    samples = _rows(out)
    assert sorted((r["task_id"], r["completion_id"]) for r in samples) == [(t, c) for t in HE3 for c in range(2)]
    rows = _rows(results)
    assert [(r["task_id"], r["completion_id"]) for r in rows] == [(s["task_id"], s["completion_id"]) for s in samples]
    assert json.loads(summary.read_text())["n_samples"] == 6
    entry = json.loads((report / "report.json").read_text())["benchmarks"][0]
    assert entry["settings"]["seed"] == 3 and entry["settings"]["n"] == 2  # the report found the sidecars
    printed = capsys.readouterr().out
    assert "| model | humaneval |" in printed  # the pass@1 table
    from textbooks.eval.execute import format_summary
    assert format_summary(json.loads(summary.read_text())) in printed  # and the lines `eval execute` prints
    assert "pass@1 over 3 of 164 tasks" in printed and "verdicts:" in printed

    # The three verbs on the same samples give the same verdicts.
    chain = tmp_path / "chain.jsonl"
    chain.write_text(out.read_text())
    assert main(["eval", "execute", "--benchmark", "humaneval", "--samples", str(chain), "--workers", "2"]) == 0
    assert [(r["task_id"], r["completion_id"], r["passed"], r["result"]) for r in _rows(tmp_path / "chain.jsonl_results.jsonl")] \
        == [(r["task_id"], r["completion_id"], r["passed"], r["result"]) for r in rows]

    # A rerun of a finished run redoes nothing.
    capsys.readouterr()
    before = out.read_text()
    assert main(_args(checkpoint, out)) == 0
    err = capsys.readouterr()
    assert "0 new samples (6 already there)" in err.out and "executed 0 samples (6 verdicts kept" in err.err
    assert out.read_text() == before

    # A run killed during execution (verdicts of the first samples written, the rest not) continues: the kept
    # verdicts are not recomputed (a marked one survives) and only the others run.
    header, *verdicts = [json.loads(line) for line in partial.read_text().splitlines()]
    assert header["execution_settings"]["timeout"] is None and header["execution_settings"]["verdict"] == "default"
    kept = [header] + verdicts[:2]
    kept[1]["result"] = "failed: marker of a verdict kept from the killed run"
    partial.write_text("".join(json.dumps(r) + "\n" for r in kept) + '{"task_id": "cut mid-li')
    results.unlink()
    assert main(_args(checkpoint, out)) == 0
    assert "executed 4 samples (2 verdicts kept" in capsys.readouterr().err
    again = _rows(results)
    assert again[0]["result"] == "failed: marker of a verdict kept from the killed run"
    assert [r["result"] for r in again[1:]] == [r["result"] for r in rows[1:]]

    # Killed during generation: missing samples are drawn again, with the same seeds (the same text).
    lines = before.splitlines(keepends=True)
    out.write_text("".join(lines[:3]))
    assert main(_args(checkpoint, out)) == 0
    assert "3 new samples (3 already there)" in capsys.readouterr().out
    assert sorted(out.read_text().splitlines()) == sorted(before.splitlines())


def test_eval_run_refuses_other_settings_and_bad_flags(checkpoint, tmp_path, capsys):
    out = tmp_path / "he.jsonl"
    assert main(_args(checkpoint, out, "--limit", "1")) == 0  # a first, finished run
    capsys.readouterr()
    assert main(_args(checkpoint, out, "--seed", "4")) == 2
    assert "seed: file has 3, asked 4" in capsys.readouterr().err
    assert main(_args(checkpoint, tmp_path / "k.jsonl", "--k", "5")) == 2
    assert "--k 5 is larger than --n 2" in capsys.readouterr().err


@pytest.mark.slow  # two real runs of the command in subprocesses, one killed with SIGKILL (~1 min on 2 cores)
def test_a_run_killed_with_sigkill_during_execution_continues(checkpoint, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo)}

    def command(out):
        return [sys.executable, "-m", "textbooks", *_args(checkpoint, out, "--execute-chunk", "2")]

    reference = tmp_path / "whole.jsonl"
    subprocess.run(command(reference), env=env, check=True, capture_output=True, timeout=600)
    out = tmp_path / "killed.jsonl"
    proc = subprocess.Popen(command(out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    partial = results_paths(out)[2]
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None:
        if partial.exists() and len(partial.read_text().splitlines()) >= 2:
            os.killpg(proc.pid, signal.SIGKILL)  # the harness and its sandbox workers
            break
        time.sleep(0.02)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed mid-execution"
    assert not results_paths(out)[0].exists()
    done = subprocess.run(command(out), env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "verdicts kept from before" in done.stderr and "(0 verdicts kept" not in done.stderr
    key = lambda r: (r["task_id"], r["completion_id"], r["passed"], r["result"])  # noqa: E731
    assert sorted(map(key, _rows(results_paths(out)[0]))) == sorted(map(key, _rows(results_paths(reference)[0])))


def test_eval_run_has_the_execution_flags_of_eval_execute():
    from textbooks.cli import build_parser

    def flags(argv):
        parser = build_parser()
        sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
        for name in argv:
            parser = sub.choices[name]
            sub = next((a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"), None)
        return {a.dest: (a.option_strings, a.choices, a.default, a.help) for a in parser._actions}

    run, execute = flags(["eval", "run"]), flags(["eval", "execute"])
    for dest in ("workers", "timeout", "time_limit_floor", "time_limit_factor", "memory_mb", "verdict", "isolation"):
        assert run[dest] == execute[dest], dest
    assert run["isolation"][1] == ("auto", "bwrap", "process", "none")


def test_eval_run_refuses_to_resume_verdicts_made_with_other_execution_settings(checkpoint, tmp_path, capsys):
    out = tmp_path / "x.jsonl"
    base = ["--limit", "1", "--time-limit-floor", "3"]
    assert main(_args(checkpoint, out, *base)) == 0
    results, summary, partial = results_paths(out)
    before = (summary.read_text(), partial.read_text())
    capsys.readouterr()
    for extra, words in ((["--time-limit-floor", "5"], "--time-limit-floor: kept verdicts have 3.0, asked 5.0"),
                         (["--time-limit-floor", "3", "--verdict", "isolated"], "--verdict: kept verdicts have 'default', asked 'isolated'"),
                         (["--time-limit-floor", "3", "--memory-mb", "1024"], "--memory-mb: kept verdicts have 2048, asked 1024")):
        assert main(_args(checkpoint, out, "--limit", "1", *extra)) == 2
        err = capsys.readouterr().err
        assert words in err and "delete x.jsonl_results.partial.jsonl" in err
        assert (summary.read_text(), partial.read_text()) == before  # the summary still tells the truth
    assert json.loads(summary.read_text())["execution_settings"]["time_limit_floor"] == 3.0
    # the same settings resume (auto and bwrap are one setting)
    assert main(_args(checkpoint, out, *base, "--isolation", "bwrap")) == 0
    assert "executed 0 samples (2 verdicts kept" in capsys.readouterr().err


def test_a_whole_last_verdict_without_its_newline_is_kept(checkpoint, tmp_path, capsys):
    out = tmp_path / "nl.jsonl"
    assert main(_args(checkpoint, out, "--limit", "1")) == 0
    results, _, partial = results_paths(out)
    whole = partial.read_bytes()
    partial.write_bytes(whole[:-1])
    results.unlink()
    capsys.readouterr()
    assert main(_args(checkpoint, out, "--limit", "1")) == 0
    assert "executed 0 samples (2 verdicts kept" in capsys.readouterr().err and partial.read_bytes() == whole
