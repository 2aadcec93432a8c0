"""`textbooks data ...`: data stages over one record type (textbooks.data.sources).

Each sub-command lives in its own module with a `configure(parser)`; a new stage (dedup, quality,
decontaminate, ...) adds one line to SUBCOMMANDS.
"""

from textbooks.cli import add_subcommands

SUBCOMMANDS = {
    "pack": ("textbooks.data.pack", "tokenize documents, join them with <|endoftext|>, write training shards + meta.json"),
}


def configure(parser) -> None:
    add_subcommands(parser, SUBCOMMANDS, dest="data_command")
