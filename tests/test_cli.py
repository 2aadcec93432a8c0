"""The `textbooks` command: every (sub)command has --help, usage errors exit 2 with a clear message."""

import argparse
import subprocess
import sys

import pytest

from textbooks.cli import COMMANDS, build_parser, main


def _subcommand_paths(parser, prefix=()):
    """Every command path, e.g. ("eval", "execute"), found by walking argparse's sub-parsers."""
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name)
                yield from _subcommand_paths(sub, (*prefix, name))


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for name, (_module, help_text) in COMMANDS.items():
        assert name in out
        assert help_text.split()[0] in out


def test_every_command_is_built_and_has_help(capsys):
    paths = list(_subcommand_paths(build_parser()))
    # the stages registered today, with their nested sub-commands
    for expected in [("tokenizer", "train"), ("data", "pack"), ("train",), ("export", "hf"), ("generate",),
                     ("llm", "complete"), ("serve",), ("eval", "generate"), ("eval", "execute"), ("eval", "judge"),
                     ("eval", "report"), ("demo",)]:
        assert expected in paths, f"missing command {' '.join(expected)}"
    leaves = [p for p in paths if not any(q[:len(p)] == p and q != p for q in paths)]
    for path in leaves:  # main() calls args.func: every command path must end in a handler
        parser = build_parser()
        for name in path:
            parser = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[name]
        assert callable(parser.get_default("func")), f"`textbooks {' '.join(path)}` sets no handler"
    for path in paths:
        with pytest.raises(SystemExit) as e:
            main([*path, "--help"])
        assert e.value.code == 0, path
        out = capsys.readouterr().out
        assert "usage: textbooks " + " ".join(path) in out, path


@pytest.mark.parametrize("argv, needle", [
    (["no-such-command"], "invalid choice: 'no-such-command'"),
    (["eval", "no-such-sub"], "invalid choice: 'no-such-sub'"),
    (["train", "--config", "x.yaml", "--no-such-option"], "unrecognized arguments: --no-such-option"),
    (["eval", "execute", "--benchmark", "nope", "--samples", "x.jsonl"], "invalid choice: 'nope'"),
])
def test_usage_errors_exit_2_with_a_clear_message(argv, needle, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert needle in err
    assert "--help" in err  # points at the help


def test_console_script_and_module_entry_point():
    # `python -m textbooks` is what torchrun launches; it must behave like the console script.
    r = subprocess.run([sys.executable, "-m", "textbooks", "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "COMMAND" in r.stdout
    r = subprocess.run([sys.executable, "-m", "textbooks", "bogus"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "invalid choice" in r.stderr


def test_demo_without_bubblewrap_stops_before_training_and_says_what_to_do(tmp_path, monkeypatch, capsys):
    from textbooks.eval import sandbox

    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on PATH
    sandbox._MODE_CACHE.clear()
    try:
        assert main(["demo", "--out", str(tmp_path / "demo")]) == 2
    finally:
        sandbox._MODE_CACHE.clear()
    err = capsys.readouterr().err
    assert "bubblewrap is not installed" in err and "--isolation process" in err
    assert not (tmp_path / "demo").exists()  # nothing was trained or written
