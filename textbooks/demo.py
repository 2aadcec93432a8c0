"""`textbooks demo`: `textbooks run configs/pipeline/demo.yaml`, the whole recipe and the Figure 2.1 ablation on
embedded defaults, offline, on a CPU (what `make demo` runs).

The stages and arms are the pipeline's (textbooks/pipeline/run.py; configs/pipeline/demo.yaml says what each
arm trains on and why the sizes are what they are). The flags below are shorthands for `--set` overrides of
that config; a rerun with the same --out skips every finished stage and resumes an interrupted one.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

DEMO_CONFIG = "configs/pipeline/demo.yaml"


def configure(parser: argparse.ArgumentParser) -> None:
    from textbooks import guard
    from textbooks.tokenizer.cli import MAX_VOCAB_SIZE
    from textbooks.tokenizer.load import WHITESPACE_TOKENS

    min_vocab = 256 + 1 + len(WHITESPACE_TOKENS)  # the byte symbols, <|endoftext|>, the whitespace tokens
    parser.add_argument("--out", default=None, help="run directory (default: the config's, demo-out; a rerun resumes in it)")
    parser.add_argument("--config", default=None, help=f"pipeline config (default: {DEMO_CONFIG})")
    parser.add_argument("--vocab-size", type=guard.int_in(min_vocab, MAX_VOCAB_SIZE), default=None,
                        help="tokenizer vocabulary size (tokenizer.vocab_size)")
    parser.add_argument("--max-files", type=guard.positive_int, default=None,
                        help="curate the first N corpus files (corpus.max_files)")
    parser.add_argument("--eval-limit", type=guard.positive_int, default=None,
                        help="evaluate only the first N tasks of each benchmark (eval.limit)")
    parser.add_argument("--synth-exercises", type=guard.positive_int, default=None,
                        help="offline CodeExercises to synthesize (synth.exercises)")
    parser.add_argument("--synth-textbooks", type=guard.positive_int, default=None,
                        help="offline textbook sections to synthesize (synth.textbooks)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="any other override of the pipeline config (repeatable)")
    parser.add_argument("--fresh", action="store_true", help="delete the run directory's stages and start over")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and exit")
    parser.add_argument("--isolation", choices=("auto", "bwrap", "process", "none"), default=None,
                        help="sandbox for verification and evaluation (default auto: bubblewrap, checked before "
                        "anything runs)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from textbooks import guard
    from textbooks.pipeline.cli import launch
    from textbooks.pipeline.run import FORMAT

    config = Path(args.config) if args.config else _shipped(DEMO_CONFIG)
    guard.check_inputs([config], kind="file", flag="--config")
    overrides = list(args.overrides)
    for flag, key in (("vocab_size", "tokenizer.vocab_size"), ("max_files", "corpus.max_files"),
                      ("synth_exercises", "synth.exercises"), ("synth_textbooks", "synth.textbooks"),
                      ("isolation", "eval.isolation")):
        value = getattr(args, flag)
        if value is not None:
            overrides.append(f"{key}={value}")
    if args.eval_limit is not None:  # every benchmark, the held-out exercises and the NLL alike
        overrides += [f"eval.limit={args.eval_limit}", "eval.limits={}", f"eval.nll_limit={args.eval_limit}"]
    if args.fresh and not args.dry_run:
        from textbooks.pipeline.config import load_pipeline_config

        out = Path(args.out or load_pipeline_config(config, overrides).out)
        if guard.json_marker("run.json", format=FORMAT)(out):  # only ever a pipeline run of ours
            shutil.rmtree(out)
    return launch(config, overrides, out=args.out, dry_run=args.dry_run, start=None)


def _shipped(rel: str) -> Path:
    """A file shipped in the repository (configs/...), found from the package location or the cwd."""
    for base in (Path(__file__).resolve().parent.parent, Path.cwd()):
        if (base / rel).exists():
            return base / rel
    sys.exit(f"textbooks demo: cannot find {rel}; run from the repository root or pass --config")
