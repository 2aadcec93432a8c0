"""Training throughput and MFU on one GPU: phi-1-small and phi-1 at seq 2048, bf16 autocast, torch.compile.

Runs the trainer's own step (`textbooks.train.trainer.TrainStep`: fused AdamW, clipping, the
token-weighted loss, compile applied from parallel.py) on synthetic tokens, so it measures the model
and optimizer, not the data pipeline. MFU = tokens/s x model_flops_per_token / peak, with
FLOPs/token = 6N + 12·L·d·T (N = non-embedding parameters incl. lm_head; PaLM appendix B, as
nanoGPT and torchtitan) and the dense bf16 peak of the GPU from the trainer's table (A100 312,
H100 SXM 989, H200 989 TFLOP/s), overridable with --peak-tflops.

    python benchmarks/bench_train_gpu.py                       # phi-1-small and phi-1 -> results/train_gpu.json
    python benchmarks/bench_train_gpu.py --presets phi-1 --micro-batch 8 --activation-checkpointing
    python benchmarks/bench_train_gpu.py --smoke               # tiny preset on CPU, seconds (checks the script)

Micro-batch defaults (per preset: phi-1-small 16, phi-1 4 sequences of 2048) are sized to fit an 80 GB H100 without
activation checkpointing (estimated, not yet measured here: this session had no GPU).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import write_result  # noqa: E402

from textbooks.model import Phi, PhiConfig  # noqa: E402
from textbooks.model.phi import model_flops_per_token  # noqa: E402
from textbooks.train.config import OptimizerSection, TrainerSection  # noqa: E402
from textbooks.train.parallel import DistInfo  # noqa: E402
from textbooks.train.trainer import TrainStep, configure_runtime, peak_flops_for  # noqa: E402

MICRO_BATCH = {"phi-1-small": 16, "phi-1": 4, "mini": 8, "tiny": 2}  # fit 80 GB without activation checkpointing


def bench(preset: str, device: torch.device, seq_len: int, micro: int, steps: int, warmup: int, *,
          compile_on: bool, precision: str, activation_checkpointing: bool, peak: float | None) -> dict:
    config = PhiConfig.preset(preset, attn_dropout=0.1, resid_dropout=0.1)  # the paper trains with dropout 0.1
    t = TrainerSection(precision=precision, device=str(device), compile=compile_on,
                       activation_checkpointing=activation_checkpointing, micro_batch_size=micro)
    info = DistInfo(device=device)
    configure_runtime(t, info)
    torch.manual_seed(0)
    model = Phi(config)
    step = TrainStep(model, t, OptimizerSection(lr=1e-4), info)
    gen = torch.Generator().manual_seed(0)
    batches = []
    for _ in range(2):  # two different synthetic batches, alternated
        ids = torch.randint(0, config.vocab_size, (micro, seq_len + 1), generator=gen)
        x, y = ids[:, :-1].contiguous(), ids[:, 1:].contiguous()
        if device.type == "cuda":
            x, y = x.pin_memory(), y.pin_memory()
        batches.append((x, y))

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    start = time.perf_counter()
    for i in range(warmup):  # compiles (first call) and settles the allocator
        loss, _ = step([batches[i % 2]], 1e-4)
    sync()
    warmup_s = time.perf_counter() - start
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    for i in range(steps):
        loss, _ = step([batches[i % 2]], 1e-4)
    sync()
    elapsed = time.perf_counter() - start
    tokens_per_s = steps * micro * seq_len / elapsed
    flops = model_flops_per_token(config, seq_len)
    result = {
        "preset": preset,
        "params": config.num_params(),
        "non_embedding_params": config.num_params(embeddings=False),
        "seq_len": seq_len,
        "micro_batch_size": micro,
        "precision": precision,
        "compile": compile_on,
        "activation_checkpointing": activation_checkpointing,
        "steps": steps,
        "warmup_steps": warmup,
        "warmup_s": round(warmup_s, 2),
        "step_s": round(elapsed / steps, 4),
        "tokens_per_s": round(tokens_per_s, 1),
        "flops_per_token": flops,
        "tflops_per_s": round(tokens_per_s * flops / 1e12, 2),
        "peak_tflops": peak / 1e12 if peak else None,
        "mfu": round(tokens_per_s * flops / peak, 4) if peak else None,
        "final_loss": round(float(loss), 4),
    }
    if device.type == "cuda":
        result["max_memory_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny preset on CPU, seq 64, fp32, no compile: checks the script")
    parser.add_argument("--quick", action="store_true", help="alias of --smoke (the flag every benchmark has)")
    parser.add_argument("--presets", nargs="+", default=["phi-1-small", "phi-1"], choices=PhiConfig.presets())
    parser.add_argument("--seq-len", type=int, default=2048)
    parser.add_argument("--micro-batch", type=int, default=None, help="sequences per step (default: per preset)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (the first one compiles)")
    parser.add_argument("--precision", choices=["bf16", "fp16", "fp32"], default="bf16")
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--activation-checkpointing", action="store_true")
    parser.add_argument("--peak-tflops", type=float, default=None, help="override the GPU's dense peak (TFLOP/s)")
    parser.add_argument("--name", default=None, help="results name (default train_gpu, or train_gpu_smoke)")
    args = parser.parse_args(argv)
    smoke = args.smoke or args.quick
    peak_override = args.peak_tflops * 1e12 if args.peak_tflops else None
    if smoke:
        device = torch.device("cpu")
        plan = [("tiny", 64, args.micro_batch or 2)]
        steps, warmup, precision, compile_on = 2, 1, "fp32", False
    else:
        if not torch.cuda.is_available():
            print("bench_train_gpu: no CUDA device; run with --smoke on CPU", file=sys.stderr)
            return 2
        device = torch.device("cuda:0")
        plan = [(p, args.seq_len, args.micro_batch or MICRO_BATCH.get(p, 8)) for p in args.presets]
        steps, warmup, precision, compile_on = args.steps, args.warmup, args.precision, not args.no_compile
    peak = peak_flops_for(device, peak_override)
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    results = {}
    for preset, seq_len, micro in plan:
        print(f"{preset}: seq {seq_len}, micro-batch {micro}, {precision}, compile={compile_on} on {gpu or 'cpu'}", flush=True)
        r = bench(preset, device, seq_len, micro, steps, warmup, compile_on=compile_on, precision=precision,
                  activation_checkpointing=args.activation_checkpointing, peak=peak)
        results[preset] = r
        mfu = f", MFU {100 * r['mfu']:.1f}%" if r["mfu"] is not None else ""
        print(f"{preset}: {r['tokens_per_s']:,.0f} tok/s, {r['tflops_per_s']} TFLOP/s{mfu} (warm-up {r['warmup_s']} s)", flush=True)
        if device.type == "cuda":
            torch.cuda.empty_cache()
    name = args.name or ("train_gpu_smoke" if smoke else "train_gpu")
    write_result(name, {"smoke": smoke, "gpu": gpu, "goal_mfu_phi1_h100": 0.55, "results": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
