"""`textbooks tokenizer train|info`: train the codegen-style code tokenizer, or describe one.

    textbooks tokenizer train --input default --vocab-size 4096 --out runs/tokenizer --max-files 2000
    textbooks tokenizer train --input src/ stack/*.parquet --vocab-size 50295 --out runs/tok50k
    textbooks tokenizer info runs/tokenizer --text 'def f(x):\\n    return x'

`--input default` means the embedded offline corpus: the standard library and the .venv's site-packages.
Light to import: `tokenizers` and friends are loaded inside the handlers.
"""

from __future__ import annotations

import argparse
import logging
import sys

DEFAULT_INPUT = "default"


def configure(parser: argparse.ArgumentParser) -> None:
    # Both sub-commands live in this module (textbooks.cli.add_subcommands wants one module each).
    from textbooks.cli import subparsers

    sub = subparsers(parser, dest="tokenizer_command")

    help_train = "train a byte-level BPE like codegen-350M-mono's (GPT-2 BPE + <|endoftext|> + 38 whitespace tokens)"
    p = sub.add_parser("train", help=help_train, description=help_train,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="inputs: directories (every .py below, sorted; hidden dirs, __pycache__ and nested "
                              "site-packages skipped), .py files, .jsonl/.jsonl.gz and .parquet files with a "
                              "`text` or `content` field (The Stack's schema). `--input default` = the standard "
                              "library + this interpreter's site-packages (offline corpus).\n"
                              "writes tokenizer.json, tokenizer_config.json, special_tokens_map.json (loadable by "
                              "transformers.AutoTokenizer) and training_stats.json into --out.")
    p.add_argument("--input", nargs="+", required=True, metavar="PATH",
                   help=f"inputs to train on; `{DEFAULT_INPUT}` = stdlib + site-packages")
    p.add_argument("--vocab-size", type=int, required=True, metavar="N",
                   help="total vocabulary size incl. <|endoftext|> and the 38 whitespace tokens (codegen: 50295)")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory for the tokenizer files")
    p.add_argument("--max-files", type=int, default=None, metavar="N",
                   help="train on at most N documents (.py files are sampled evenly across the inputs)")
    p.add_argument("--min-frequency", type=int, default=2, metavar="N",
                   help="a pair must occur at least N times to be merged (default 2)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("-v", "--verbose", action="store_true", help="log every skipped file")
    p.set_defaults(func=run_train)

    help_info = "print the size, special ids and fingerprint of a tokenizer dir (ours or any HF one)"
    q = sub.add_parser("info", help=help_info, description=help_info)
    q.add_argument("path", metavar="DIR", help="tokenizer directory (or a tokenizer.json file)")
    q.add_argument("--text", default=None, help="also show how this text is encoded (\\n and \\t are unescaped)")
    q.set_defaults(func=run_info)


class _SkipExamples(logging.Handler):
    """Collects the files named in the readers' "skipped ..." log lines, for the summary."""

    def __init__(self, keep: int = 3):
        super().__init__(logging.INFO)
        self.keep = keep
        self.examples: dict[str, list[str]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg.startswith("skipped") and len(record.args) >= 2:
            where, reason = str(record.args[0]), str(record.args[1])
            ex = self.examples.setdefault(reason, [])
            if len(ex) < self.keep:
                ex.append(where)


def run_train(args: argparse.Namespace) -> int:
    from textbooks.data.sources import default_corpus_paths
    from textbooks.tokenizer.train import MIN_VOCAB_SIZE, train_tokenizer

    if args.vocab_size < MIN_VOCAB_SIZE:
        print(f"textbooks tokenizer train: error: --vocab-size {args.vocab_size} is too small: need at least "
              f"{MIN_VOCAB_SIZE} (256 bytes + <|endoftext|> + 38 whitespace tokens)", file=sys.stderr)
        return 2
    if args.max_files is not None and args.max_files < 1:
        print(f"textbooks tokenizer train: error: --max-files must be >= 1, got {args.max_files}", file=sys.stderr)
        return 2
    inputs: list = []
    for item in args.input:
        inputs.extend(default_corpus_paths() if item == DEFAULT_INPUT else [item])

    src_logger = logging.getLogger("textbooks.data.sources")
    examples = _SkipExamples()
    src_logger.addHandler(examples)
    old_level = src_logger.level
    src_logger.setLevel(logging.INFO)
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        stats = train_tokenizer(inputs, args.vocab_size, args.out, min_frequency=args.min_frequency,
                                max_files=args.max_files, show_progress=not args.no_progress)
    except FileNotFoundError as e:
        print(f"textbooks tokenizer train: error: {e}", file=sys.stderr)
        return 2
    except ValueError as e:
        print(f"textbooks tokenizer train: error: {e}", file=sys.stderr)
        return 1
    finally:
        src_logger.removeHandler(examples)
        src_logger.setLevel(old_level)

    print(f"inputs:     {', '.join(str(p) for p in inputs)}")
    print(f"read:       {stats['documents']} documents, {stats['chars'] / 1e6:.1f} M characters")
    if stats["skipped"]:
        for reason, n in sorted(stats["skipped"].items()):
            ex = examples.examples.get(reason, [])
            print(f"skipped:    {n} {reason}" + (f"  (e.g. {', '.join(ex)})" if ex else ""))
    else:
        print("skipped:    none")
    if stats["vocab_size"] < stats["requested_vocab_size"]:
        print(f"note:       the corpus only supports {stats['vocab_size']} tokens (asked for "
              f"{stats['requested_vocab_size']}); give more input or a lower --min-frequency")
    print(f"vocab:      {stats['vocab_size']} tokens ({stats['merges']} merges), model vocab padded to "
          f"{stats['padded_vocab_size']}")
    print(f"special:    <|endoftext|> = {stats['eos_id']}, whitespace runs = {stats['whitespace_ids'][0]}.."
          f"{stats['whitespace_ids'][1]} (31..2 spaces, 9..2 tabs)")
    print(f"fingerprint: {stats['fingerprint']}")
    print(f"wrote:      {', '.join(stats['files'])}  ({stats['seconds']:.1f} s)")
    return 0


def run_info(args: argparse.Namespace) -> int:
    from textbooks.tokenizer.load import load_tokenizer

    try:
        tok = load_tokenizer(args.path)
    except (FileNotFoundError, ValueError) as e:
        print(f"textbooks tokenizer info: error: {e}", file=sys.stderr)
        return 2
    ws = tok.whitespace_token_ids()
    print(f"source:       {tok.source}")
    print(f"vocab_size:   {tok.vocab_size} (padded to {tok.padded_vocab_size})")
    print(f"eos:          {tok.eos_token!r} = {tok.eos_id}")
    if ws:
        print(f"whitespace:   {len(ws)} codegen tokens, ids {min(ws.values())}..{max(ws.values())}")
    else:
        print("whitespace:   no codegen whitespace tokens")
    print(f"fingerprint:  {tok.fingerprint}")
    if args.text is not None:
        text = args.text.replace("\\n", "\n").replace("\\t", "\t")
        ids = tok.encode(text)
        print(f"encode:       {len(ids)} tokens {ids}")
        print(f"pieces:       {[tok.decode([i]) for i in ids]}")
    return 0
