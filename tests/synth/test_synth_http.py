"""`textbooks synth exercises` against a real local HTTP teacher that serves fixed answers and injects faults
(429, 500, dropped connections): what is wrong, hostile or unparseable is dropped with the right reason, what
is right is kept, and a kill -9'd run relaunched gives the same files without re-sending finished requests."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.llm.conftest import FaultServer

# answer kind -> the reason it must be dropped with (None: kept)
KINDS = {
    "good": None,
    "good_check": None,
    "renamed": None,
    "wrong": "tests fail",
    "failing_tests": "tests fail",
    "endless_tests": "timeout",
    "exit_in_tests": "unsafe code",  # import os: refused before it runs
    "systemexit_in_tests": "exited early",  # no forbidden name: the sandbox's verdict catches it
    "prints_passed": "tests fail",
    "writes_outside": "unsafe code",  # open(): refused before it runs (and the sandbox would stop the write)
    "forged_equal": "not isolatable",  # an always-equal object: isolation refuses to compare it
    "future_forged_equal": "not isolatable",  # the same behind `from __future__ import annotations`
    "frame_walk": "unsafe code",  # getattr(frame, "f_back") to find the harness's verdict
    "module_via_module": "unsafe code",  # random._os.system(...): os without importing it
    "rebinds_function": "trivial tests",  # the tests replace the solution with their own lambda
    "not_none_tests": "trivial tests",  # asserts that any returned object satisfies
    "no_code": "no code block",
    "trivial": "trivial tests",
}
ORDER = sorted(KINDS)
# A place the sandbox must not let a program write to (the repository is bound read-only, the home hidden).
OUTSIDE = str(Path(__file__).resolve().parent / "escape-{name}.txt")


def function_name(prompt: str) -> str:
    return re.search(r"named `(\w+)`", prompt).group(1)


def kind_of(name: str) -> str:
    return ORDER[int(hashlib.sha1(name.encode()).hexdigest(), 16) % len(ORDER)]


def answer_for(prompt: str, body=None) -> str:
    if "I could not use that answer" in prompt:  # the re-ask after an unusable answer: still no code
        return "Sorry, I still cannot write code for this."
    name = function_name(prompt)
    kind = kind_of(name)
    fn = f"{name}_v2" if kind == "renamed" else name
    solution = (f"def {fn}(xs: list) -> int:\n    \"\"\"Return the sum of the squares of xs (0 when empty).\"\"\"\n"
                f"    return sum(x * x for x in xs)\n")
    tests = f"assert {fn}([1, 2]) == 5\nassert {fn}([]) == 0\nassert {fn}([3]) == 9\n"
    if kind == "good_check":
        tests = "def check(candidate):\n    assert candidate([1, 2]) == 5\n    assert candidate([]) == 0\n"
    elif kind == "wrong":
        solution = solution.replace("x * x", "x + x")
    elif kind == "failing_tests":
        tests = tests.replace("== 5", "== 6")
    elif kind == "endless_tests":
        tests = "while True:\n    pass\n" + tests
    elif kind == "exit_in_tests":
        tests = f"assert {fn}([1, 2]) == 5\nimport os\nos._exit(0)\nassert {fn}([]) == 1\n"
    elif kind == "systemexit_in_tests":
        tests = f"assert {fn}([1, 2]) == 5\nraise SystemExit(0)\nassert {fn}([]) == 1\n"
    elif kind == "forged_equal":
        solution = (f"class _Any:\n    def __eq__(self, other):\n        return True\n\n\n"
                    f"def {fn}(xs: list) -> int:\n    \"\"\"Return the sum of the squares of xs (0 when empty).\"\"\"\n"
                    f"    return _Any()\n")
    elif kind == "future_forged_equal":
        solution = ("from __future__ import annotations\n\nclass _Any:\n    def __eq__(self, other):\n        return True\n\n\n"
                    f"def {fn}(xs: list) -> int:\n    \"\"\"Return the sum of the squares of xs (0 when empty).\"\"\"\n"
                    f"    return _Any()\n")
    elif kind == "frame_walk":
        solution = solution.replace("    return sum", "    import sys\n    f = getattr(sys, '_getframe')(0)\n    return sum")
    elif kind == "module_via_module":
        solution = "import random\n\n" + solution.replace("    return sum", "    random._os.getpid()\n    return sum")
    elif kind == "rebinds_function":
        tests = f"{fn} = lambda xs: sum(x * x for x in xs)\n" + tests
    elif kind == "not_none_tests":
        tests = f"assert {fn}([1, 2]) is not None\nassert {fn}([]) is not None\n"
    elif kind == "prints_passed":
        solution = solution.replace("    return sum", "    print('passed')\n    return 1 + sum")
    elif kind == "writes_outside":
        path = OUTSIDE.format(name=name)
        solution = solution.replace("    return sum", f"    open({path!r}, 'w').write('escaped')\n    return sum")
    elif kind == "no_code":
        return f"The function {name} should square and add the numbers. Good luck!"
    elif kind == "trivial":
        tests = f"assert {fn}([1, 2]) is None or True\nassert {fn}([]) is None or True\n"
    return f"Here is the exercise.\n\n```python\n{solution}```\n\nAnd the tests:\n\n```python\n{tests}```\n"


def faults_for(prompt: str, attempt: int):
    h = int(hashlib.sha1(prompt.encode()).hexdigest(), 16)
    plan = [["429"], ["500", "500"], ["drop"], [], []][h % 5]
    return plan[attempt] if attempt < len(plan) else None


def run_cli(args, **kw):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run([sys.executable, "-m", "textbooks", "synth", "exercises", *map(str, args)],
                          capture_output=True, text=True, env=env, **kw)


def base_args(url, out, n=40, max_requests=None):
    return ["--teacher", url, "--model", "test-model", "--n", n, "--max-requests", max_requests or n, "--seed", 3, "--out", out,
            "--no-progress", "--set", "verify.timeout=2", "--set", "teacher.retries=1", "--api-key-env", "",
            "--set", "teacher.max_retries=4", "--set", "decontaminate.methods=[ngram]",
            "--set", "dedup.exact=false", "--set", "dedup.minhash=false"]  # the fixed answers share one body


def read(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def test_answers_are_kept_or_dropped_with_the_right_reason(tmp_path):
    with FaultServer(respond=answer_for, plan=faults_for, retry_after="0") as server:
        proc = run_cli(base_args(server.url, tmp_path / "out", n=100, max_requests=125), timeout=600)
        prompts_seen = {p for _, p in server.arrivals}
        reasks = [b for b in server.bodies if "I could not use that answer" in b["messages"][-1]["content"]]
    assert proc.returncode in (0, 1), proc.stderr
    kept = read(tmp_path / "out" / "exercises.jsonl")
    dropped = read(tmp_path / "out" / "dropped.jsonl")
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    jobs = len(kept) + len(dropped)
    dropped = [d for d in dropped if d["reason"] != "surplus"]  # kept past --n: counted, not failures
    assert jobs >= 100 and stats["requests"] <= 125 and stats["requests"] == jobs + len({json.dumps(b["messages"]) for b in reasks})
    assert reasks and all(len(b["messages"]) == 3 for b in reasks)  # the bad answer and the reminder stay in the chat
    seen_kinds = set()
    for r in kept:
        kind = kind_of(r["metadata"]["function_name"])
        seen_kinds.add(kind)
        assert KINDS[kind] is None, (kind, r)
        assert r["entry_point"] == (r["metadata"]["function_name"] + ("_v2" if kind == "renamed" else ""))
        assert r["metadata"]["renamed"] == (kind == "renamed")
        assert r["prompt"].startswith("def ") and '"""' in r["prompt"] and r["completion"].strip().startswith("return")
    for d in dropped:
        kind = kind_of(d["metadata"]["function_name"])
        seen_kinds.add(kind)
        assert d["reason"] == KINDS[kind], (kind, d["reason"], d["detail"])
    assert seen_kinds == set(KINDS), set(KINDS) - seen_kinds  # every case was exercised
    assert stats["renamed"] == sum(1 for r in kept if r["metadata"]["renamed"])
    assert stats["dropped"] == dict(sorted(__import__("collections").Counter(d["reason"] for d in dropped).items()))
    assert not list(Path(__file__).resolve().parent.glob("escape-*.txt")), "a solution wrote outside the sandbox"
    # the faults were served and retried (each prompt eventually answered)
    assert any(p for p in prompts_seen if faults_for(p, 0))
    # every kept exercise passes in a plain subprocess: prompt + completion, then the tests (+ check)
    for r in kept:
        program = r["prompt"] + r["completion"] + "\n" + r["tests"]
        if "def check(candidate)" in r["tests"]:
            program += f"\ncheck({r['entry_point']})\n"
        subprocess.run([sys.executable, "-I", "-c", program], check=True, timeout=30)


def _cached_prompts(cache: Path) -> set[str]:
    if not cache.exists():
        return set()
    try:
        with sqlite3.connect(f"file:{cache}?mode=ro", uri=True, timeout=5) as db:
            rows = db.execute("SELECT request FROM samples").fetchall()
    except sqlite3.Error:
        return set()
    return {json.loads(r[0])["messages"][-1]["content"] for r in rows}


def test_a_killed_run_relaunched_gives_the_same_files_and_resends_nothing_finished(tmp_path):
    with FaultServer(respond=answer_for, delay_s=0.15) as server:
        ref = run_cli(base_args(server.url, tmp_path / "ref", n=24), timeout=600)
        assert ref.returncode in (0, 1), ref.stderr
        server.counts.clear()
        out = tmp_path / "out"
        args = base_args(server.url, out, n=24) + ["--concurrency", 2]
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
        proc = subprocess.Popen([sys.executable, "-m", "textbooks", "synth", "exercises", *map(str, args)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, start_new_session=True)
        cache = out / "teacher.cache.sqlite"
        deadline = time.monotonic() + 120
        while len(_cached_prompts(cache)) < 6 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        finished = _cached_prompts(cache)
        assert 6 <= len(finished) < 24, len(finished)
        before = dict(server.counts)
        again = run_cli(args, timeout=600)
        assert again.returncode in (0, 1), again.stderr
        resent = [p for p in finished if server.counts[p] > before.get(p, 0)]
        assert not resent, f"{len(resent)} finished requests were sent again"
    for name in ("exercises.jsonl", "dropped.jsonl"):
        assert (out / name).read_text() == (tmp_path / "ref" / name).read_text(), name
