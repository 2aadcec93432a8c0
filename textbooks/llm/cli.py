"""`textbooks llm ...`: batch LLM requests (argparse only here; the work is in textbooks/llm/batch.py)."""

from __future__ import annotations

import argparse

COMMANDS = {
    "complete": ("textbooks.llm.batch", "send a JSONL file of prompts to an LLM; cached, paced, retried, resumable"),
}


def configure(parser: argparse.ArgumentParser) -> None:
    from textbooks.cli import add_subcommands

    add_subcommands(parser, COMMANDS, dest="llm_command")
