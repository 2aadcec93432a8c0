"""The `textbooks` command: parse, build, call.

Each stage owns its sub-commands in `textbooks/<stage>/cli.py`, a module that must stay light to import
(argparse only; heavy imports happen inside the handlers). That module defines
`configure(parser: argparse.ArgumentParser) -> None`, which adds arguments (or nested sub-commands) and
sets `parser.set_defaults(func=handler)`; a handler takes the parsed `argparse.Namespace` and returns an
exit code (int) or None for 0.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from textbooks import __version__

# name -> (module that configures it, one-line help). The order is the order of `--help`.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("textbooks.demo", "run the whole recipe on embedded defaults, offline, on CPU (minutes)"),
    "tokenizer": ("textbooks.tokenizer.cli", "train a codegen-style byte-level BPE code tokenizer"),
    "data": ("textbooks.data.cli", "data stages: pack documents into <|endoftext|>-separated token shards"),
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
    for name, (module, help_text) in commands.items():
        importlib.import_module(module).configure(sub.add_parser(name, help=help_text, description=help_text))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # every command path ends in a parser that sets `func` (tests/test_cli.py)
    try:
        rc = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `textbooks ... | head`: the reader left; stop quietly, as a SIGPIPE'd tool does
        _silence_stdout()
        return 141  # 128 + SIGPIPE, what the shell reports for such a tool
    return int(rc or 0)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush of a broken pipe raises nothing
    (the recipe of Python's signal module docs, "Note on SIGPIPE")."""
    import os

    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # replaced by a test harness or already closed
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)
