"""Forward+backward training-step throughput of our `Phi` vs transformers' `PhiForCausalLM` (CPU, fp32, eager).

Both models get the same config, the same weights, the same batch and the same dtype; each step is
`loss = model(batch) ; loss.backward()` (transformers via `labels=`, as its Trainer calls it). The two are
timed alternately, round after round, in one process (so machine noise hits both alike); we report the
median tokens/s over rounds and the median of the per-round speed-ups. The first step's losses are
compared to prove both run the same math. On a machine shared with other jobs, also look at the CPU-time
numbers (and `--threads 1`): they move much less with the load than wall time.

    python benchmarks/bench_model.py            # presets tiny and mini, vocab 51200 -> benchmarks/results/model_fwd_bwd.json
    python benchmarks/bench_model.py --quick    # smoke run (seconds)
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

# (batch, seq_len) per preset: a realistic CPU training micro-batch that keeps one step under ~1 s here.
SHAPES = {"tiny": (8, 256), "mini": (4, 256)}


def build_pair(preset: str):
    import transformers

    config = PhiConfig.preset(preset)  # vocab 51200 as phi-1
    torch.manual_seed(0)
    ours = Phi(config)
    hf = transformers.PhiForCausalLM(transformers.PhiConfig(**config.to_hf_dict()))
    missing, unexpected = hf.load_state_dict(ours.state_dict(), strict=True)
    assert not missing and not unexpected
    return config, ours.train(), hf.train()


def step_ours(model, ids, targets):
    loss = model(ids, targets)
    loss.backward()
    return loss.detach()


def step_hf(model, ids, labels):
    loss = model(input_ids=ids, labels=labels).loss
    loss.backward()
    return loss.detach()


def time_steps(step, model, args, steps: int) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) per step, averaged over `steps` steps. On a shared machine the
    CPU time (all threads of this process) is the steadier of the two; on a quiet one they agree."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        step(model, *args)
        model.zero_grad(set_to_none=True)
    return (time.perf_counter() - wall) / steps, (time.process_time() - cpu) / steps


def bench_preset(preset: str, rounds: int, steps: int, shape: tuple[int, int]) -> dict:
    config, ours, hf = build_pair(preset)
    B, T = shape
    gen = torch.Generator().manual_seed(1)
    ids = torch.randint(0, config.vocab_size, (B, T + 1), generator=gen)
    x, y = ids[:, :-1].contiguous(), ids[:, 1:].contiguous()  # ours: targets pre-shifted by the caller
    # transformers shifts labels itself: labels = inputs gives the same T-1 next-token targets (+ none for the last)
    loss_ours = step_ours(ours, x, y)
    loss_hf = step_hf(hf, x, x)
    ours.zero_grad(set_to_none=True)
    hf.zero_grad(set_to_none=True)
    # same math check on identical targets (ours with the last position ignored, like HF's shift)
    y_hf = torch.cat([x[:, 1:], torch.full((B, 1), -100)], dim=1)
    same = abs(ours(x, y_hf).item() - loss_hf.item())
    runs = {"ours": [], "transformers": []}
    cpu_runs = {"ours": [], "transformers": []}
    for r in range(rounds):
        order = [("ours", step_ours, ours, (x, y)), ("transformers", step_hf, hf, (x, x))]
        for name, step, model, args in order if r % 2 == 0 else order[::-1]:  # alternate who goes first
            wall, cpu = time_steps(step, model, args, steps)
            runs[name].append(B * T / wall)
            cpu_runs[name].append(B * T / cpu)
        print(f"  {preset} round {r + 1}/{rounds}: ours {runs['ours'][-1]:,.0f} tok/s "
              f"({cpu_runs['ours'][-1]:,.0f} tok/cpu-s), transformers {runs['transformers'][-1]:,.0f} tok/s "
              f"({cpu_runs['transformers'][-1]:,.0f} tok/cpu-s)", flush=True)
    med = {k: statistics.median(v) for k, v in runs.items()}
    cpu_med = {k: statistics.median(v) for k, v in cpu_runs.items()}
    return {
        "config": config.to_dict(),
        "batch_size": B,
        "seq_len": T,
        "dtype": "float32",
        "transformers_attn_implementation": hf.config._attn_implementation,
        "rounds": rounds,
        "steps_per_round": steps,
        "tokens_per_s": {k: round(v, 1) for k, v in med.items()},
        "tokens_per_s_all_rounds": {k: [round(x, 1) for x in v] for k, v in runs.items()},
        # each round times both models back to back, so the per-round ratio cancels slow drifts of a shared
        # machine's load; the speed-up is the median of those ratios
        "speedup": round(statistics.median(o / t for o, t in zip(runs["ours"], runs["transformers"])), 3),
        "speedup_per_round": [round(o / t, 3) for o, t in zip(runs["ours"], runs["transformers"])],
        "tokens_per_cpu_s": {k: round(v, 1) for k, v in cpu_med.items()},
        "speedup_cpu_time": round(statistics.median(o / t for o, t in zip(cpu_runs["ours"], cpu_runs["transformers"])), 3),
        "first_step_loss": {"ours": round(loss_ours.item(), 6), "transformers": round(loss_hf.item(), 6)},
        "loss_abs_diff_same_targets": same,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 rounds of 1 step, short sequences")
    parser.add_argument("--presets", nargs="+", default=["tiny", "mini"], choices=PhiConfig.presets())
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per model per round")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    parser.add_argument("--name", default="model_fwd_bwd", help="results file name (benchmarks/results/NAME.json)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rounds, steps = (2, 1) if args.quick else (args.rounds, args.steps)
    results = {}
    for preset in args.presets:
        B, T = SHAPES.get(preset, (1, 256))
        shape = (B, min(T, 64)) if args.quick else (B, T)
        print(f"{preset}: batch {shape[0]} x seq {shape[1]}, fp32, {rounds} rounds x {steps} steps", flush=True)
        results[preset] = bench_preset(preset, rounds, steps, shape)
        print(f"{preset}: ours {results[preset]['tokens_per_s']['ours']:,.0f} tok/s, transformers "
              f"{results[preset]['tokens_per_s']['transformers']:,.0f} tok/s -> {results[preset]['speedup']}x "
              f"(CPU time: {results[preset]['speedup_cpu_time']}x)")
    write_result(args.name, {"quick": args.quick, "goal_speedup": 1.5, "results": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
