"""The `textbooks` command: parse, build, call.

Each stage owns its sub-commands in `textbooks/<stage>/cli.py`, a module that must stay light to import
(argparse only; heavy imports happen inside the handlers). That module defines
`configure(parser: argparse.ArgumentParser) -> None`, which adds arguments (or nested sub-commands) and
sets `parser.set_defaults(func=handler)`; a handler takes the parsed `argparse.Namespace` and returns an
exit code (int) or None for 0.

`main` is the one error boundary (textbooks/guard.py): handlers may simply raise `guard.UsageError` (exit 2),
`guard.CommandError` (exit 1), an OSError on a path, or their own ValueError with a message; each becomes one
line `textbooks CMD: error: ...` without a traceback. Ctrl-C and SIGTERM stop any command at once (exit 130 /
143, with the command's `guard.set_resume_hint`). Only bugs show a traceback, and only with `--debug` or
TEXTBOOKS_DEBUG=1; otherwise it is written to a file that the error names.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from textbooks import __version__

# name -> (module that configures it, one-line help). The order is the order of `--help`.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("textbooks.demo", "run the whole recipe on embedded defaults, offline, on CPU (minutes)"),
    "run": ("textbooks.pipeline.cli", "the whole recipe as one resumable pipeline, with the Figure 2.1 ablation arms"),
    "tokenizer": ("textbooks.tokenizer.cli", "train a codegen-style byte-level BPE code tokenizer"),
    "data": ("textbooks.data.cli", "data stages: filter, dedup, educational value, curate, decontaminate (datatrove: local/Slurm/Ray), pack"),
    "synth": ("textbooks.synth.cli", "synthetic textbooks and execution-verified exercises from any teacher (offline stand-in included)"),
    "train": ("textbooks.train.cli", "pretrain or finetune a phi-1 model from a YAML config"),
    "export": ("textbooks.model.cli", "export a checkpoint to Hugging Face format (transformers / vLLM)"),
    "generate": ("textbooks.model.generate_cli", "sample completions from a checkpoint (batched, KV cache)"),
    "llm": ("textbooks.llm.cli", "batch LLM requests with cache, pacing and retries (any OpenAI-compatible server)"),
    "serve": ("textbooks.llm.serve_cli", "serve a checkpoint over an OpenAI-compatible HTTP API"),
    "eval": ("textbooks.eval.cli", "HumanEval/MBPP: generate, execute in a sandbox, judge, report"),
}


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on usage errors; add a hint where to look."""

    def error(self, message: str):  # noqa: D102
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n(run `{self.prog} --help` for the options)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="textbooks",
        description="phi-1 (Textbooks Are All You Need) end to end: curate code, synthesize textbooks and "
        "exercises, decontaminate, train, evaluate.",
    )
    parser.add_argument("--version", action="version", version=f"textbooks {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of any error (also TEXTBOOKS_DEBUG=1); accepted anywhere")
    _add_modules(subparsers(parser, dest="command", metavar="COMMAND"), COMMANDS)
    return parser


def subparsers(parser: argparse.ArgumentParser, dest: str, metavar: str = "SUBCOMMAND"):
    """A required sub-command slot whose parsers give the same clear usage errors (exit 2) as the top level."""
    sub = parser.add_subparsers(dest=dest, metavar=metavar, parser_class=_Parser)
    sub.required = True
    return sub


def add_subcommands(parser: argparse.ArgumentParser, commands: dict[str, tuple[str, str]], dest: str) -> None:
    """Nested sub-commands (`textbooks eval execute ...`), each configured by `configure()` of its module."""
    _add_modules(subparsers(parser, dest=dest), commands)


def _add_modules(sub, commands: dict[str, tuple[str, str]]) -> None:
    for name, (target, help_text) in commands.items():
        module, _, function = target.partition(":")  # "pkg.mod" (its configure) or "pkg.mod:configure_x"
        configure = getattr(importlib.import_module(module), function or "configure")
        configure(sub.add_parser(name, help=help_text, description=help_text))


def main(argv: list[str] | None = None) -> int:
    """Parse, then call the handler inside the one error boundary (textbooks.guard): an expected failure is
    one line `textbooks CMD: error: ...` (exit 2 for usage errors, 1 for failures), an interrupt exits 130
    (SIGTERM: 143) with the command's resume hint, and only a bug shows a traceback: with `--debug` (or
    TEXTBOOKS_DEBUG=1) in full, otherwise written to a file that the one-line note names."""
    from textbooks import guard

    argv = list(sys.argv[1:] if argv is None else argv)
    debug = _pop_debug(argv) or os.environ.get("TEXTBOOKS_DEBUG", "").strip().lower() not in ("", "0", "false", "no")
    parser = build_parser()
    args = parser.parse_args(argv)  # every command path ends in a parser that sets `func` (tests/test_cli.py)
    command = " ".join(["textbooks", *_command_path(parser, args)])
    global _depth
    outer_hint = guard.resume_hint()  # a command may run others through main (the demo does)
    guard.set_resume_hint(None)
    previous_handlers = guard.install_signal_handlers()
    _depth += 1
    try:
        rc = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
    except KeyboardInterrupt as e:
        if _depth > 1:  # inside another command: it decides what an interrupt means (and says how to resume)
            raise
        sys.stderr.write(f"\n{command}: {'terminated' if isinstance(e, guard.Terminated) else 'interrupted'}"
                         + (f"; {guard.resume_hint()}" if guard.resume_hint() else "") + "\n")
        return 143 if isinstance(e, guard.Terminated) else 130
    except BrokenPipeError:  # `textbooks ... | head`: the reader left; stop quietly, as a SIGPIPE'd tool does
        _silence_stdout()
        return 141  # 128 + SIGPIPE, what the shell reports for such a tool
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001 - the boundary: every failure ends in one clear line
        if debug:
            raise
        known = guard.describe_error(e)
        if known is not None:
            message, code = known
            print(f"{command}: error: {message}", file=sys.stderr)
            return code
        report = guard.write_crash_report(command, argv, e)
        where = f"the full traceback is in {report}" if report else "rerun with --debug to see the traceback"
        print(f"{command}: internal error: {type(e).__name__}: {_first_line(e)}\n"
              f"This is a bug, please report it: {where} (or rerun with --debug to see it here).", file=sys.stderr)
        return 1
    finally:
        _depth -= 1
        guard.restore_signal_handlers(previous_handlers)
        if _depth:
            guard.set_resume_hint(outer_hint)
    return int(rc or 0)


_depth = 0  # main() calls in progress (1 = the command itself)


def _pop_debug(argv: list[str]) -> bool:
    """Remove `--debug` from anywhere before a `--` (so `textbooks train ... --debug` works too)."""
    end = argv.index("--") if "--" in argv else len(argv)
    found = "--debug" in argv[:end]
    if found:
        argv[:] = [a for a in argv[:end] if a != "--debug"] + argv[end:]
    return found


def _command_path(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[str]:
    """["data", "pack"] for `textbooks data pack ...`: the chosen sub-command at each level."""
    path = []
    while True:
        sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
        name = getattr(args, sub.dest, None) if sub is not None else None
        if name is None or name not in sub.choices:
            return path
        path.append(name)
        parser = sub.choices[name]


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:300] if text else "(no message)"


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush of a broken pipe raises nothing
    (the recipe of Python's signal module docs, "Note on SIGPIPE")."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # replaced by a test harness or already closed
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)
