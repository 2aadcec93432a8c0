"""`textbooks data ...`: the data stages, each a datatrove pipeline (textbooks.data.pipeline).

Each verb lives in its own module with a `configure(parser)` or is configured here (filter, dedup,
curate share their arguments); a new stage adds one line to SUBCOMMANDS. Handlers import the heavy
modules (datatrove, sklearn, torch) only when they run, so `textbooks --help` stays fast.
"""

from __future__ import annotations

import argparse
import sys

from textbooks.cli import add_subcommands

SUBCOMMANDS = {
    "filter": ("textbooks.data.cli:configure_filter", "heuristic code filters (syntax, auto-generated, blobs, data files, ...) with a reason per drop"),
    "dedup": ("textbooks.data.cli:configure_dedup", "remove exact and MinHash near-duplicate documents (cluster ids kept)"),
    "quality": ("textbooks.data.quality.cli", "educational value: annotate a sample (LLM or offline rubric), train the random forest, apply it"),
    "curate": ("textbooks.data.cli:configure_curate", "the whole curation chain: filter -> dedup -> educational-value classifier"),
    "decontaminate": ("textbooks.data.decontam.cli", "remove documents similar to HumanEval/MBPP (13-gram, embedding, AST match rate)"),
    "similar": ("textbooks.data.decontam.cli:configure_similar", "split a benchmark into tasks similar / not similar to the training data per AST match rate (paper Table 3)"),
    "pack": ("textbooks.data.pack", "tokenize documents, join them with <|endoftext|>, write training shards + meta.json"),
}

INPUT_HELP = ("directories of .py files (recursive), .py files, .jsonl/.jsonl.gz or .parquet with 'text' or "
              "'content' (optional 'id'), or a Stack Exchange Posts.xml")


def configure(parser) -> None:
    add_subcommands(parser, SUBCOMMANDS, dest="data_command")


def _common(parser: argparse.ArgumentParser, verb: str) -> None:
    from textbooks import guard

    parser.add_argument("inputs", nargs="+", metavar="INPUT", help=INPUT_HELP)
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="output dir: output/ (kept), removed/ (dropped, with metadata.drop_reason), stats.json, plots/")
    parser.add_argument("--config", metavar="FILE", help="curation settings (default: configs/data/curate.yaml when "
                        "run from a checkout, else built-in defaults; every threshold is documented there)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one setting, e.g. --set filters.max_line_length=2000 (repeatable)")
    parser.add_argument("--executor", choices=("local", "slurm", "ray"), help="where tasks run (default local; "
                        "slurm/ray settings: executor.slurm.* / executor.ray.* in the config)")
    parser.add_argument("--workers", type=guard.positive_int, metavar="N", help="tasks at once (default: all cores)")
    parser.add_argument("--tasks", type=guard.positive_int, metavar="N",
                        help="shards of the input (default min(units, 32)); fixed at the first launch of an --out")
    parser.add_argument("--tokenizer", metavar="DIR", help="count the funnel's tokens with this tokenizer (default: regex tokens)")
    parser.add_argument("--strict", action="store_true", help="a malformed input record is an error naming file:line "
                        "(default: counted in stats.json and skipped)")
    guard.add_overwrite_flag(parser)
    parser.set_defaults(func=lambda args: run_verb(args, verb))


def configure_filter(parser: argparse.ArgumentParser) -> None:
    _common(parser, "filter")


def configure_dedup(parser: argparse.ArgumentParser) -> None:
    _common(parser, "dedup")


def configure_curate(parser: argparse.ArgumentParser) -> None:
    _common(parser, "curate")
    parser.add_argument("--annotator", metavar="offline|URL", help="who labels the sample for the classifier: "
                        "'offline' (a deterministic rubric, a stand-in for the LLM) or an OpenAI-compatible base URL "
                        "(default: quality.annotator of the config)")
    parser.add_argument("--model", help="the judge's model name at the --annotator URL")
    parser.add_argument("--featurizer", metavar="SPEC", help="embeddings for the classifier: 'hashed' (CPU), a Hugging "
                        "Face causal-LM dir or id (the paper: a CodeGen), or our checkpoint (default: quality.featurizer)")


def load_config(args):
    from textbooks.data.curate import default_config_path, load_curate_config

    overrides = list(args.overrides)
    for flag, key in (("executor", "executor.kind"), ("workers", "executor.workers"), ("tasks", "executor.tasks"),
                      ("tokenizer", "read.tokenizer"), ("annotator", "quality.annotator"), ("model", "quality.model"),
                      ("featurizer", "quality.featurizer")):
        value = getattr(args, flag, None)
        if value is not None:
            overrides.append(f"{key}={value}")
    if args.strict:
        overrides.append("read.strict=true")
    path = args.config if args.config else default_config_path()
    return load_curate_config(path, overrides)


def run_verb(args: argparse.Namespace, verb: str) -> int:
    from textbooks import guard
    from textbooks.data import curate
    from textbooks.data.pipeline import PipelineError
    from textbooks.train.config import ConfigError

    guard.check_inputs(args.inputs)
    try:
        cfg = load_config(args)
    except (ConfigError, ValueError) as e:
        raise guard.UsageError(str(e)) from None
    if args.tokenizer:
        guard.check_tokenizer_path(args.tokenizer)
    guard.check_outputs([guard.Output(args.out, kind="dir")], inputs=args.inputs, overwrite=args.overwrite,
                        resumable_marker="run.json")
    guard.set_resume_hint(f"finished tasks are kept: rerun the same command to resume into {args.out}")
    runner = {"filter": curate.run_filter, "dedup": curate.run_dedup, "curate": curate.run_curate}[verb]
    try:
        stats = runner(args.inputs, args.out, cfg, overwrite=args.overwrite)
    except PipelineError as e:
        raise (guard.UsageError if e.exit_code == 2 else guard.CommandError)(str(e)) from None
    print(summary_line(verb, args.out, stats), file=sys.stderr)
    return 0


def summary_line(verb: str, out: str, stats: dict) -> str:
    steps = stats.get("steps")
    if steps is None:
        return f"textbooks data {verb}: submitted; rerun the same command when the jobs finish"
    read = next((s for s in steps if "READER" in s["step"]), {})
    written = [s for s in steps if "written" in s]
    kept = written[-1]["written"] if written else 0
    dropped: dict[str, int] = {}
    for s in steps:
        for reason, n in s.get("dropped", {}).items():
            dropped[reason] = dropped.get(reason, 0) + n
    top = ", ".join(f"{r} {n}" for r, n in sorted(dropped.items(), key=lambda kv: (-kv[1], kv[0])))
    skipped = sum(read.get("skipped", {}).values())
    return (f"textbooks data {verb}: {read.get('in', 0)} documents in, {kept} kept -> {out}/output"
            + (f"; dropped: {top}" if top else "") + (f"; {skipped} inputs skipped (see stats.json)" if skipped else "")
            + f"; {stats.get('seconds', 0)}s")
