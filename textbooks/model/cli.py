"""`textbooks export hf CHECKPOINT OUT_DIR`: a checkpoint as a Hugging Face model directory.

OUT_DIR gets `config.json` + `model.safetensors` (transformers' `PhiForCausalLM` layout),
`generation_config.json`, and the tokenizer files, so these work on it:

    transformers.AutoTokenizer.from_pretrained(OUT_DIR)
    transformers.AutoModelForCausalLM.from_pretrained(OUT_DIR)
    vllm serve OUT_DIR

After writing, the export is verified by loading OUT_DIR with transformers (no missing or unexpected
keys, the same logits as our model on a sample, the same token ids from AutoTokenizer); `--no-verify`
skips that. Heavy imports happen inside the handler so `textbooks --help` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from textbooks import guard

if TYPE_CHECKING:
    from textbooks.tokenizer import CodeTokenizer

DTYPES = ("float32", "bfloat16", "float16")
_SAMPLE = 'def fibonacci(n: int) -> int:\n    """Return the n-th Fibonacci number."""\n\tif n < 2:\n        return n\n'


def configure(parser: argparse.ArgumentParser) -> None:
    from textbooks.cli import subparsers

    sub = subparsers(parser, dest="export_format", metavar="FORMAT")
    hf = sub.add_parser(
        "hf",
        help="Hugging Face directory: transformers AutoModelForCausalLM/AutoTokenizer and vLLM load it",
        description="Write CHECKPOINT as a Hugging Face PhiForCausalLM directory (config.json, model.safetensors, "
        "tokenizer files) and check that transformers loads it. Example: "
        "textbooks export hf runs/demo/final exports/demo --dtype bfloat16",
    )
    hf.add_argument("checkpoint", type=Path, metavar="CHECKPOINT",
                    help="checkpoint directory (config.json + model.safetensors, e.g. a trainer checkpoint)")
    hf.add_argument("out_dir", type=Path, metavar="OUT_DIR",
                    help="directory to write (a new or empty one, or --overwrite; written atomically)")
    guard.add_overwrite_flag(hf, "OUT_DIR")
    hf.add_argument("--tokenizer", type=Path, metavar="DIR",
                    help="directory with tokenizer.json (default: the tokenizer files inside CHECKPOINT)")
    hf.add_argument("--dtype", choices=DTYPES, default="float32",
                    help="dtype of the written weights (default: float32; bfloat16 halves the size for serving)")
    hf.add_argument("--no-verify", action="store_true",
                    help="skip loading OUT_DIR back with transformers (faster for big models)")
    hf.set_defaults(func=export_hf)


def export_hf(args: argparse.Namespace) -> int:
    def fail(message: str, code: int = 2) -> int:
        print(f"textbooks export hf: error: {message}", file=sys.stderr)
        return code

    checkpoint, out_dir = args.checkpoint, args.out_dir
    if out_dir.exists() and checkpoint.exists() and out_dir.resolve() == checkpoint.resolve():
        return fail(f"OUT_DIR is the checkpoint itself ({checkpoint}); choose another directory")
    if not checkpoint.exists():
        return fail(f"checkpoint directory {checkpoint} does not exist; pass a directory with config.json and "
                    f"model.safetensors (a trainer checkpoint or one written by save_pretrained)")
    guard.check_inputs([checkpoint], kind="dir", flag="CHECKPOINT")
    if args.tokenizer is not None:
        guard.check_tokenizer_path(args.tokenizer)
    guard.check_outputs([guard.Output(out_dir, kind="dir", flag="OUT_DIR")],
                        inputs=[checkpoint] + ([args.tokenizer] if args.tokenizer else []), overwrite=args.overwrite)
    tokenizer_dir = args.tokenizer or checkpoint

    import torch  # after the argument checks: a bad path is refused in a fraction of a second

    from textbooks.model import Phi
    from textbooks.model.hf import CheckpointError, CheckpointNotFoundError, save_model_dir
    from textbooks.tokenizer import load_tokenizer

    try:
        tokenizer = load_tokenizer(tokenizer_dir)
    except (FileNotFoundError, ValueError) as e:
        hint = "" if args.tokenizer else (
            "; the checkpoint has no tokenizer files: pass --tokenizer DIR (a directory written by "
            "`textbooks tokenizer train`, or any HF tokenizer directory)"
        )
        return fail(f"{e}{hint}")
    try:
        # vocabulary size, eos id and (with --tokenizer) the checkpoint's own tokenizer must agree, before any
        # weight is read: a wrong tokenizer would be written into config.json and generation_config.json
        guard.check_model_tokenizer(checkpoint, tokenizer, tokenizer_source=str(args.tokenizer) if args.tokenizer else None)
        model = Phi.from_pretrained(checkpoint, dtype=getattr(torch, args.dtype))
    except (CheckpointError, CheckpointNotFoundError) as e:
        return fail(str(e))

    # codegen/phi-1 use <|endoftext|> as bos and eos; transformers' generate and vLLM stop on it
    guard.set_resume_hint(f"{out_dir} was left as it was; rerun to export")
    with guard.atomic_dir(out_dir) as tmp:  # an interrupted export leaves the old OUT_DIR (or none)
        save_model_dir(model, tokenizer, tmp)
    del model
    print(f"wrote {out_dir} (dtype {args.dtype}, {tokenizer.vocab_size} tokens, eos id {tokenizer.eos_id})")

    if not args.no_verify:
        problems = verify_hf_export(out_dir, tokenizer)
        if problems:
            return fail("verification failed:\n  " + "\n  ".join(problems), code=1)
        print("verified: transformers AutoTokenizer + AutoModelForCausalLM load it and match our model")
    print(f"use it: AutoModelForCausalLM.from_pretrained('{out_dir}')  or  vllm serve {out_dir}")
    return 0


def verify_hf_export(out_dir: Path, tokenizer: "CodeTokenizer") -> list[str]:
    """Load `out_dir` with transformers and compare with our model; -> list of problems (empty = fine)."""
    import torch

    try:
        import transformers
    except ImportError:
        return ["transformers is not installed, so the export cannot be checked: "
                "pip install 'textbooks[hf]', or pass --no-verify"]
    from textbooks.model import Phi

    problems = []
    try:
        auto_tok = transformers.AutoTokenizer.from_pretrained(str(out_dir))
    except Exception as e:  # transformers raises many types; report whichever it is
        return [f"AutoTokenizer cannot load {out_dir}: {type(e).__name__}: {e}"]
    expected_ids = tokenizer.encode(_SAMPLE)
    got_ids = auto_tok(_SAMPLE, add_special_tokens=False)["input_ids"]
    if got_ids != expected_ids:
        problems.append(f"AutoTokenizer encodes a sample differently from tokenizer.json: {got_ids[:12]}... vs "
                        f"{expected_ids[:12]}...")
    hf, info = transformers.AutoModelForCausalLM.from_pretrained(
        str(out_dir), dtype=torch.float32, output_loading_info=True
    )
    if type(hf).__name__ != "PhiForCausalLM":
        problems.append(f"transformers built {type(hf).__name__}, expected PhiForCausalLM")
    for kind in ("missing_keys", "unexpected_keys", "mismatched_keys"):
        if info.get(kind):
            problems.append(f"transformers reports {kind}: {sorted(map(str, info[kind]))[:8]}")
    ours = Phi.from_pretrained(out_dir, dtype=torch.float32)
    ids = torch.tensor([expected_ids[: ours.config.max_seq_len] or [0]])
    with torch.no_grad():
        diff = (ours(ids) - hf.eval()(ids).logits).abs().max().item()
    if not diff <= 1e-3:  # both in fp32 from the same file: only summation-order noise is allowed
        problems.append(f"logits differ from our model by up to {diff:.3g} (tolerance 1e-3)")
    return problems
