"""`textbooks tokenizer train|info`: train the codegen-style code tokenizer, or describe one.

    textbooks tokenizer train --input default --vocab-size 4096 --out runs/tokenizer --max-files 2000
    textbooks tokenizer train --input src/ stack/*.parquet --vocab-size 50295 --out runs/tok50k
    textbooks tokenizer info runs/tokenizer --text 'def f(x):\\n    return x'

`--input default` means the embedded offline corpus: the standard library and the .venv's site-packages.
Light to import: `tokenizers` and friends are loaded inside the handlers.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import Counter
from pathlib import Path

from textbooks import guard

DEFAULT_INPUT = "default"
# Far above any code tokenizer (codegen 50,295; GPT-4o's o200k 200,019); `tokenizers` aborts the process on
# absurd sizes (99,999,999,999 fails a native allocation), so the bound is checked at parse time.
MAX_VOCAB_SIZE = 2**20
# .py files over this many bytes are not read (counted as too_long): BPE training memory grows with the longest
# document (a 4 MB one-line file: 20 s and 600 MB; 50 MB: 9 GB). Codex kept Python files under 1 MB (§3.1).
DEFAULT_MAX_DOC_BYTES = 2**20


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
    p.add_argument("--vocab-size", type=guard.int_in(1, MAX_VOCAB_SIZE), required=True, metavar="N",
                   help="total vocabulary size incl. <|endoftext|> and the 38 whitespace tokens (codegen: 50295)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="output directory for the tokenizer files (written atomically: a new or empty directory, "
                        "or --overwrite)")
    guard.add_overwrite_flag(p)
    p.add_argument("--max-files", type=guard.positive_int, default=None, metavar="N",
                   help="train on at most N documents (.py files are sampled evenly across the inputs)")
    p.add_argument("--min-frequency", type=guard.int_in(0, 2**32 - 1), default=2, metavar="N",
                   help="a pair must occur at least N times to be merged (default 2)")
    p.add_argument("--max-doc-bytes", type=guard.positive_int, default=DEFAULT_MAX_DOC_BYTES, metavar="N",
                   help=f"skip documents (.py files, JSONL/Parquet records) larger than N bytes, counted as too_long (default {DEFAULT_MAX_DOC_BYTES}: "
                        "Codex's 1 MB limit)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("-v", "--verbose", action="store_true", help="log every skipped file")
    p.set_defaults(func=run_train)

    help_info = "print the size, special ids and fingerprint of a tokenizer dir (ours or any HF one)"
    q = sub.add_parser("info", help=help_info, description=help_info)
    q.add_argument("path", metavar="DIR", help="tokenizer directory (or a tokenizer.json file)")
    q.add_argument("--text", type=guard.text, default=None, help="also show how this text is encoded (\\n and \\t are unescaped)")
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
    from textbooks.tokenizer.train import MIN_VOCAB_SIZE

    if args.vocab_size < MIN_VOCAB_SIZE:
        print(f"textbooks tokenizer train: error: --vocab-size {args.vocab_size} is too small: need at least "
              f"{MIN_VOCAB_SIZE} (256 bytes + <|endoftext|> + 38 whitespace tokens)", file=sys.stderr)
        return 2
    inputs: list = []
    for item in args.input:
        inputs.extend(default_corpus_paths() if item == DEFAULT_INPUT else [item])
    guard.check_inputs(inputs, flag="--input")
    guard.check_outputs([guard.Output(args.out, kind="dir")], inputs=inputs, overwrite=args.overwrite)

    guard.set_resume_hint(f"{args.out} was left as it was; a rerun trains from the start")
    train_inputs, skipped = _without_huge_files(inputs, args.max_doc_bytes)
    with guard.atomic_dir(args.out) as tmp:  # an interrupted or failed run leaves the old --out (or none)
        try:
            stats, examples = _train_in_child(dict(
                inputs=train_inputs, vocab_size=args.vocab_size, out_dir=str(tmp), min_frequency=args.min_frequency,
                max_files=args.max_files, show_progress=not args.no_progress, skipped=skipped,
                max_doc_bytes=args.max_doc_bytes), verbose=args.verbose)
        except FileNotFoundError as e:  # raised, not returned: atomic_dir must not keep a half-written --out
            raise guard.UsageError(str(e)) from None
        except ValueError as e:
            raise guard.CommandError(str(e)) from None
        if train_inputs is not inputs:  # record what was asked for, not the expanded file list
            stats["inputs"] = [str(p) for p in inputs]
            saved = {k: v for k, v in stats.items() if k != "files"}
            guard.atomic_write_text(Path(tmp) / "training_stats.json", json.dumps(saved, indent=2) + "\n")
    stats["files"] = [str(Path(args.out) / Path(f).name) for f in stats["files"]]

    print(f"inputs:     {', '.join(str(p) for p in inputs)}")
    print(f"read:       {stats['documents']} documents, {stats['chars'] / 1e6:.1f} M characters")
    if stats["skipped"]:
        for reason, n in sorted(stats["skipped"].items()):
            ex = examples.get(reason, [])
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


class TrainingCrashed(Exception):
    """The training process failed unexpectedly; the message holds its traceback (a bug to report)."""


def _train_in_child(kwargs: dict, verbose: bool = False) -> tuple[dict, dict]:
    """`train_tokenizer(**kwargs)` in a spawned process -> (stats, examples of skipped files).

    Why a process: the BPE merges run in Rust for minutes without returning to Python, so Ctrl-C or SIGTERM
    would only be noticed at the end. The child ignores SIGINT (a terminal's Ctrl-C reaches both); the parent
    notices the signal at once, kills the child and lets the interrupt through (its partial output is removed
    by the caller's atomic_dir)."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child_train, args=(send, kwargs, verbose), name="textbooks-tokenizer-train", daemon=True)
    proc.start()
    send.close()
    try:
        while not receive.poll(0.1):
            if not proc.is_alive() and not receive.poll(0):
                raise TrainingCrashed(f"the training process ended with exit code {proc.exitcode} and no result "
                                      "(out of memory? see the messages above)")
        kind, payload = receive.recv()
    except BaseException:
        proc.kill()
        proc.join()
        raise
    proc.join()
    if kind == "ok":
        return payload
    if kind in ("FileNotFoundError", "ValueError"):
        raise (FileNotFoundError if kind == "FileNotFoundError" else ValueError)(payload)
    raise TrainingCrashed(payload)


def _child_train(send, kwargs: dict, verbose: bool) -> None:
    import signal
    import traceback

    from textbooks.tokenizer.train import train_tokenizer

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides: it kills this process on Ctrl-C
    src_logger = logging.getLogger("textbooks.data.sources")
    examples = _SkipExamples()
    src_logger.addHandler(examples)
    src_logger.setLevel(logging.INFO)
    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        kwargs["skipped"] = Counter(kwargs.get("skipped") or {})
        stats = train_tokenizer(**kwargs)
        send.send(("ok", (stats, examples.examples)))
    except (FileNotFoundError, ValueError) as e:
        send.send(("FileNotFoundError" if isinstance(e, FileNotFoundError) else "ValueError", str(e)))
    except BaseException:  # noqa: BLE001 - reported to the parent, which says it is a bug
        send.send(("crash", traceback.format_exc()))
    finally:
        send.close()


def _without_huge_files(inputs: list, max_bytes: int) -> tuple[list, Counter]:
    """`inputs`, or, when some .py file among them is larger than `max_bytes`, the list of their files without
    those (counted as too_long; they are never read). JSONL/Parquet records are only sized once read:
    train_tokenizer(max_doc_bytes=...) skips those."""
    from textbooks.data.sources import list_units

    seen: Counter = Counter()
    units = list_units(inputs, seen)
    huge = {id(u) for u in units if u.kind == "py" and u.path.stat().st_size > max_bytes}
    if not huge:
        return inputs, Counter()
    files = list(dict.fromkeys(u.path for u in units if id(u) not in huge))  # a Parquet file once, not per row group
    seen["too_long"] += len(huge)
    return files, seen


def run_info(args: argparse.Namespace) -> int:
    from textbooks.tokenizer.load import load_tokenizer

    guard.check_tokenizer_path(args.path, flag="DIR")
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
