"""`textbooks generate CHECKPOINT`: sample completions from a checkpoint (batched, KV cache).

    textbooks generate runs/demo/final --prompt $'def add(a, b):\\n    # add two numbers\\n'
    textbooks generate runs/demo/final --input prompts.jsonl --out samples.jsonl \\
        --temperature 0.8 --top-p 0.95 --n 10 --stop $'\\ndef ' $'\\nclass ' --seed 0

`--input` is JSONL with a `prompt` field per line; the other fields (task_id, ...) are copied to every
output row. `--out` gets one JSON line per completion: the input's fields, `index` (prompt number),
`sample` (0..n-1), `prompt`, `completion`, `finish_reason` (stop | eos | length), `prompt_tokens`,
`prompt_tokens_dropped` (tokens cut from the front of a prompt too long for the context; a warning on
stderr counts them), `completion_tokens`. Without `--out` the prompts and completions are printed as text.
Sampling, seeds, stop strings and long prompts follow the rules of `textbooks.model.generate`; `--stop`
takes the escapes of every CLI (`textbooks.text.unescape`).
Heavy imports (torch, tokenizers) happen inside the handler so `textbooks --help` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from textbooks import guard
from textbooks.jsonl import iter_jsonl, write_jsonl
from textbooks.text import STOP_HELP, plural, stop_arg

DTYPES = ("float32", "bfloat16", "float16")
# SamplingParams fields as this command's flags, for its error messages
FLAGS = {"max_new_tokens": "--max-new-tokens", "temperature": "--temperature", "top_p": "--top-p", "n": "--n",
         "stop": "--stop"}
# A prompt keeps its last max_seq_len - max_new_tokens tokens, but tokenizing 50 MB to keep 2,000 tokens costs
# minutes and gigabytes: prompts beyond this many characters are refused before anything is tokenized.
MAX_PROMPT_CHARS = 1_000_000


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Sample completions from a checkpoint directory (config.json + model.safetensors + tokenizer files). "
        "Greedy by default (--temperature 0)."
    )
    parser.add_argument("checkpoint", type=Path, metavar="CHECKPOINT",
                        help="checkpoint directory (written by training, save_pretrained or `textbooks export hf`)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--prompt", nargs="+", action="extend", metavar="TEXT", type=guard.text,
                        help="one or more prompts (use $'...' in bash for newlines)")
    source.add_argument("--input", type=Path, metavar="PROMPTS.jsonl",
                        help="JSONL file with a `prompt` field per line (other fields are copied to the output)")
    parser.add_argument("--out", type=Path, metavar="FILE.jsonl",
                        help="write one JSON line per completion here (default: print text to stdout); written "
                        "atomically at the end")
    guard.add_overwrite_flag(parser)
    parser.add_argument("--max-new-tokens", type=int, default=128, metavar="N", help="tokens to generate at most (default: 128)")
    parser.add_argument("--temperature", type=float, default=0.0, metavar="T",
                        help="0..2; 0 (or below 1e-5) = greedy (default: 0)")
    parser.add_argument("--top-p", type=float, default=1.0, metavar="P", help="nucleus sampling mass (default: 1.0 = off)")
    parser.add_argument("--stop", nargs="+", action="extend", default=[], metavar="S", type=stop_arg,
                        help="stop strings; the completion is cut before the first one (e.g. '\\ndef '); " + STOP_HELP)
    parser.add_argument("--seed", type=int, default=0,
                        help="sampling seed; sample j of a prompt draws from a stream seeded by (seed, prompt, j), "
                        "whatever --batch-size (default: 0)")
    parser.add_argument("--n", type=int, default=1, metavar="N", help="completions per prompt (default: 1)")
    parser.add_argument("--batch-size", type=guard.positive_int, default=8, metavar="N",
                        help="sequences decoded together (default: 8)")
    parser.add_argument("--device", type=guard.device, default=None,
                        help="cpu, cuda, cuda:N (default: cuda if available, else cpu)")
    parser.add_argument("--max-prompt-chars", type=guard.positive_int, default=MAX_PROMPT_CHARS, metavar="N",
                        help=f"refuse prompts longer than N characters before tokenizing them (default {MAX_PROMPT_CHARS:,})")
    parser.add_argument("--dtype", choices=DTYPES, default=None,
                        help="weights/cache dtype (default: as stored in the checkpoint)")
    parser.set_defaults(func=run)


def _fail(message: str) -> int:
    print(f"textbooks generate: error: {message}", file=sys.stderr)
    return 2


def read_prompts(path: Path) -> list[dict]:
    """Records of a JSONL prompt file; ValueError names file:line on a bad line."""
    records = []
    for n, record in iter_jsonl(path, hint="; each line must be one JSON object"):
        if not isinstance(record, dict) or not isinstance(record.get("prompt"), str):
            keys = ", ".join(record) if isinstance(record, dict) else type(record).__name__
            raise ValueError(f"{path}:{n}: needs a string field `prompt` (found: {keys})")
        records.append(record)
    if not records:
        raise ValueError(f"{path}: no prompts (expected one JSON object with a `prompt` field per line)")
    return records


def run(args: argparse.Namespace) -> int:
    guard.check_inputs([args.checkpoint], kind="dir", flag="CHECKPOINT")
    if args.input is not None:
        guard.check_inputs([args.input], kind="file", flag="--input")
    if args.out is not None:  # before the model is loaded: a bad --out fails in a second, not after sampling
        guard.check_outputs([args.out], inputs=[p for p in (args.input, args.checkpoint) if p is not None],
                            overwrite=args.overwrite)
    if args.input is not None:
        try:
            records = read_prompts(args.input)
        except (ValueError, UnicodeDecodeError) as e:
            return _fail(str(e))
    else:
        records = [{"prompt": p} for p in args.prompt]
    for i, r in enumerate(records):
        if len(r["prompt"]) > args.max_prompt_chars:
            where = f"{args.input}: prompt {i + 1}" if args.input is not None else f"--prompt {i + 1}"
            raise guard.UsageError(f"{where} has {len(r['prompt']):,} characters, more than --max-prompt-chars "
                                   f"{args.max_prompt_chars:,}; only its last tokens would fit the model's context, "
                                   "so pass the end of it (or raise --max-prompt-chars)")
    if not (args.checkpoint / "tokenizer.json").is_file() and args.checkpoint.is_dir():
        return _fail(f"no tokenizer.json in {args.checkpoint}; copy the tokenizer files in (tokenizer.save(dir)) "
                     f"or export the checkpoint with `textbooks export hf --tokenizer DIR`")

    import torch

    from textbooks.model.generate import Generator, SamplingParams, SamplingParamsError
    from textbooks.model.hf import CheckpointError, CheckpointNotFoundError
    from textbooks.model.phi import Phi
    from textbooks.tokenizer import load_tokenizer

    try:
        params = SamplingParams(
            max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_p=args.top_p, stop=args.stop,
            seed=args.seed, n=args.n,
        )
    except SamplingParamsError as e:
        return _fail(e.describe(FLAGS))
    guard.check_device(args.device)
    try:
        tokenizer = load_tokenizer(args.checkpoint)
        guard.check_model_tokenizer(args.checkpoint, tokenizer)  # before the weights: config.json is enough
        device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
        model = Phi.from_pretrained(args.checkpoint, device=device, dtype=getattr(torch, args.dtype) if args.dtype else None)
        gen = Generator(model, tokenizer, device)
    except (CheckpointError, CheckpointNotFoundError) as e:
        return _fail(str(e))
    if args.out is not None:
        guard.set_resume_hint(f"nothing was written to {args.out}; rerun to sample again")
    try:
        outs = gen.generate([r["prompt"] for r in records], params, batch_size=args.batch_size,
                            progress=len(records) * args.n > args.batch_size)
    except ValueError as e:  # max_new_tokens too large, batch size
        return _fail(str(e))
    dropped = [(i, cs[0].prompt_tokens_dropped) for i, cs in enumerate(outs) if cs and cs[0].prompt_tokens_dropped]
    if dropped:
        shown = ", ".join(f"prompt {i}: {d}" for i, d in dropped[:10]) + (" ..." if len(dropped) > 10 else "")
        print(f"textbooks generate: warning: {plural(len(dropped), 'prompt')} {'was' if len(dropped) == 1 else 'were'} "
              f"longer than max_seq_len "
              f"{gen.max_seq_len} - --max-new-tokens {args.max_new_tokens} and kept only their last tokens "
              f"(tokens dropped: {shown}; recorded as prompt_tokens_dropped)", file=sys.stderr)

    if args.out is None:
        for i, (record, completions) in enumerate(zip(records, outs)):
            for j, c in enumerate(completions):
                print(f"=== prompt {i} sample {j} ({c.finish_reason}, {len(c.token_ids)} tokens) ===")
                print(record["prompt"] + c.text)
        return 0
    total = write_jsonl(args.out, (
        {**record, "index": i, "sample": j, "prompt": record["prompt"], "completion": c.text,
         "finish_reason": c.finish_reason, "prompt_tokens": c.prompt_tokens,
         "prompt_tokens_dropped": c.prompt_tokens_dropped, "completion_tokens": len(c.token_ids)}
        for i, (record, completions) in enumerate(zip(records, outs)) for j, c in enumerate(completions)))
    print(f"wrote {plural(total, 'completion')} for {plural(len(records), 'prompt')} to {args.out}", file=sys.stderr)
    return 0
