"""Training-step throughput on CPU: our trainer's step vs a plain transformers `PhiForCausalLM` loop.

One step = forward + backward + gradient clipping + AdamW update on one batch, for both:
- ours: `textbooks.train.trainer.TrainStep`, exactly what `Trainer` runs each step (parallel.py's
  wrapping, the model's fused lm_head + cross-entropy (textbooks/model/loss.py), the token-weighted
  step loss, fused AdamW over the matrix-only weight-decay groups, clipping).
  Measured twice: with the trainer's CPU defaults (eager; `trainer.compile` is off on CPU by default)
  and with `trainer.compile=true` (torch.compile's inductor CPU backend; the first step, which compiles,
  is timed apart as `first_step_s`);
- transformers: `PhiForCausalLM(input_ids, labels=...)` + `loss.backward()` + `clip_grad_norm_` +
  `torch.optim.AdamW` (its defaults) over the same two parameter groups: the loop people write.

Same config, same initial weights, same batch, fp32. The variants are timed alternately, round after round,
in one process, so machine noise hits all alike; we report median tokens/s and the speed-ups.

    python benchmarks/bench_train.py                 # tiny and mini (vocab 51200), eager + compiled -> results/train_cpu.json
    python benchmarks/bench_train.py --no-compile    # eager only (compiling takes ~1 min per preset on 2 cores)
    python benchmarks/bench_train.py --quick         # smoke run (seconds): tiny shapes, eager only
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import write_result  # noqa: E402

from textbooks.model import Phi, PhiConfig  # noqa: E402
from textbooks.train.config import OptimizerSection, TrainerSection  # noqa: E402
from textbooks.train.optim import param_groups  # noqa: E402
from textbooks.train.parallel import DistInfo  # noqa: E402
from textbooks.train.trainer import TrainStep  # noqa: E402

# (batch, seq_len) per preset: a realistic CPU micro-batch that keeps one step around a second here.
SHAPES = {"tiny": (8, 256), "mini": (4, 256)}
LR = 1e-4


class HFLoop:
    """The plain transformers training step."""

    def __init__(self, config: PhiConfig, state: dict, optim: OptimizerSection):
        import transformers

        self.model = transformers.PhiForCausalLM(transformers.PhiConfig(**config.to_hf_dict()))
        self.model.load_state_dict(state, strict=True)
        self.model.train()
        groups = [{k: v for k, v in g.items() if k != "names"} for g in param_groups(self.model, optim.weight_decay)]
        self.optimizer = torch.optim.AdamW(groups, lr=LR, betas=tuple(optim.betas), eps=optim.eps)
        self.clip = optim.grad_clip

    def step(self, ids: torch.Tensor) -> float:
        """ids (B, T+1) with labels=ids: transformers shifts, so its T targets are ours (it also runs the
        last position, whose target is dropped: T+1 positions for T targets, +0.4% work at T=256)."""
        loss = self.model(input_ids=ids, labels=ids).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss.item()


def build(preset: str, vocab: int, compile_variants: bool):
    config = PhiConfig.preset(preset, vocab_size=vocab)
    optim = OptimizerSection(lr=LR)  # defaults: betas (0.9, 0.98), eps 1e-7, wd 0.1, clip 1.0
    info = DistInfo(device=torch.device("cpu"))
    torch.manual_seed(0)
    base = Phi(config)
    state = {k: v.clone() for k, v in base.state_dict().items()}
    variants = {}
    for name, compile_on in [("ours", False)] + ([("ours_compiled", True)] if compile_variants else []):
        model = Phi(config)
        model.load_state_dict(state)
        t = TrainerSection(precision="fp32", device="cpu", compile=compile_on)
        variants[name] = TrainStep(model, t, optim, info)
    return config, variants, HFLoop(config, state, optim)


def bench_preset(preset: str, vocab: int, shape: tuple[int, int], rounds: int, steps: int, compile_variants: bool) -> dict:
    config, ours, hf = build(preset, vocab, compile_variants)
    B, T = shape
    gen = torch.Generator().manual_seed(1)
    ids = torch.randint(0, config.vocab_size, (B, T + 1), generator=gen)
    x, y = ids[:, :-1].contiguous(), ids[:, 1:].contiguous()

    # First step of each from the same weights on the same batch: the same loss proves the same math
    # (HF's shift leaves the last position without a target, so compare on T positions of a T+1 window).
    first, first_s = {}, {}
    for name, step in ours.items():  # the first call also compiles the compiled variant
        start = time.perf_counter()
        first[name] = float(step([(x, y)], LR)[0])
        first_s[name] = time.perf_counter() - start
    first["transformers"] = hf.step(ids)
    for step in ours.values():  # one more warm-up step each
        step([(x, y)], LR)

    runners = {name: (lambda s=step: s([(x, y)], LR)) for name, step in ours.items()}
    runners["transformers"] = lambda: hf.step(ids)
    wall = {k: [] for k in runners}
    cpu = {k: [] for k in runners}
    names = list(runners)
    for r in range(rounds):
        order = names[r % len(names):] + names[: r % len(names)]  # rotate who goes first
        for name in order:
            w, c = time.perf_counter(), time.process_time()
            for _ in range(steps):
                runners[name]()
            wall[name].append(B * T * steps / (time.perf_counter() - w))
            cpu[name].append(B * T * steps / (time.process_time() - c))
        print(f"  {preset} round {r + 1}/{rounds}: " + ", ".join(f"{k} {wall[k][-1]:,.0f} tok/s" for k in names), flush=True)
    med = {k: statistics.median(v) for k, v in wall.items()}
    cpu_med = {k: statistics.median(v) for k, v in cpu.items()}
    result = {
        "config": config.to_dict(),
        "batch_size": B,
        "seq_len": T,
        "dtype": "float32",
        "rounds": rounds,
        "steps_per_round": steps,
        "tokens_per_s": {k: round(v, 1) for k, v in med.items()},
        "tokens_per_s_all_rounds": {k: [round(v, 1) for v in vs] for k, vs in wall.items()},
        "tokens_per_cpu_s": {k: round(v, 1) for k, v in cpu_med.items()},
        "speedup_default": round(med["ours"] / med["transformers"], 3),
        "first_step_loss": {k: round(v, 6) for k, v in first.items()},
        "first_step_s": {k: round(v, 2) for k, v in first_s.items()},  # includes compiling
    }
    # On a shared machine process CPU time (all threads) is the steadier measure; on a quiet one they agree.
    result["speedup_default_cpu_time"] = round(cpu_med["ours"] / cpu_med["transformers"], 3)
    if "ours_compiled" in med:
        result["speedup_compiled"] = round(med["ours_compiled"] / med["transformers"], 3)
        result["speedup_compiled_cpu_time"] = round(cpu_med["ours_compiled"] / cpu_med["transformers"], 3)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny shapes, 2 rounds of 1 step, eager only")
    parser.add_argument("--presets", nargs="+", default=["tiny", "mini"], choices=PhiConfig.presets())
    parser.add_argument("--vocab", type=int, default=51200, help="vocab size (phi-1: 51200)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=2, help="timed steps per variant per round")
    parser.add_argument("--no-compile", action="store_true", help="skip the trainer.compile=true variant")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    parser.add_argument("--name", default=None, help="results name (default train_cpu, or train_cpu_quick with --quick)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rounds, steps = (2, 1) if args.quick else (args.rounds, args.steps)
    compile_variants = not (args.no_compile or args.quick)
    vocab = 512 if args.quick else args.vocab
    results = {}
    for preset in (["tiny"] if args.quick else args.presets):
        B, T = SHAPES.get(preset, (2, 256))
        shape = (2, 64) if args.quick else (B, T)
        print(f"{preset}: batch {shape[0]} x seq {shape[1]}, vocab {vocab}, fp32, {rounds} rounds x {steps} steps", flush=True)
        res = bench_preset(preset, vocab, shape, rounds, steps, compile_variants)
        results[preset] = res
        line = f"{preset}: " + ", ".join(f"{k} {v:,.0f} tok/s" for k, v in res["tokens_per_s"].items())
        line += f" -> ours/transformers {res['speedup_default']}x (eager; CPU time {res['speedup_default_cpu_time']}x)"
        if "speedup_compiled" in res:
            line += f", {res['speedup_compiled']}x (trainer.compile=true; CPU time {res['speedup_compiled_cpu_time']}x)"
        print(line)
    name = args.name or ("train_cpu_quick" if args.quick else "train_cpu")
    write_result(name, {"quick": args.quick, "goal_speedup": 1.5, "threads": torch.get_num_threads(), "results": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
