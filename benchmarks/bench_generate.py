"""Greedy generation tokens/s: our sampler (textbooks.model.generate) vs transformers' PhiForCausalLM.generate.

Same random weights (our state dict loaded into PhiForCausalLM), same prompts (random token ids of
different lengths, so batch 8 is left-padded), same max_new_tokens, no early stop (our eos_id=None;
HF: eos_token_id=None and min_new_tokens=max_new_tokens), greedy on both sides, fp32 on CPU. Runs
alternate (HF, ours, ours, HF, ...) and the median time of each side is reported.

Output tokens must be identical: ours batched == HF batched (with its attention_mask); we also record
whether each side's batched output equals its own one-prompt-at-a-time output, and say so if HF's
does not (that would be HF's padding handling, reported rather than hidden).

    python benchmarks/bench_generate.py            # presets tiny, mini; batch 1 and 8; 64 new tokens
    python benchmarks/bench_generate.py --quick    # smoke run (seconds; writes generate_quick.json)
    python benchmarks/bench_generate.py --vocab-size 4160   # a demo-sized tokenizer instead of phi-1's 51200

Writes benchmarks/results/generate.json. Exit code 1 if any output differs from HF's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result  # noqa: E402


def build_models(preset: str, vocab_size: int, seed: int):
    import transformers

    from textbooks.model import Phi, PhiConfig

    torch.manual_seed(seed)
    cfg = PhiConfig.preset(preset, vocab_size=vocab_size)
    ours = Phi(cfg).eval()
    hf = transformers.PhiForCausalLM(transformers.PhiConfig(**cfg.to_hf_dict())).eval()
    missing, unexpected = hf.load_state_dict(ours.state_dict(), strict=False)
    if missing or unexpected:
        raise SystemExit(f"state dicts do not line up: missing {missing}, unexpected {unexpected}")
    return cfg, ours, hf


def hf_generate(hf, prompts: list[list[int]], max_new: int) -> list[list[int]]:
    """Left-padded batch through PhiForCausalLM.generate; returns the new tokens per prompt."""
    T = max(len(p) for p in prompts)
    ids = torch.zeros(len(prompts), T, dtype=torch.long)
    mask = torch.zeros(len(prompts), T, dtype=torch.long)
    for r, p in enumerate(prompts):
        ids[r, T - len(p):] = torch.tensor(p)
        mask[r, T - len(p):] = 1
    with torch.inference_mode():
        out = hf.generate(
            input_ids=ids, attention_mask=mask, max_new_tokens=max_new, min_new_tokens=max_new, do_sample=False,
            pad_token_id=0, eos_token_id=None, num_beams=1,
        )
    return out[:, T:].tolist()


def ours_generate(model, prompts: list[list[int]], max_new: int) -> list[list[int]]:
    from textbooks.model.generate import SamplingParams, generate_ids

    outs = generate_ids(model, prompts, SamplingParams(max_new_tokens=max_new), eos_id=None, batch_size=len(prompts))
    return [o[0] for o in outs]


def timed(fn) -> tuple[float, float, object]:
    """Wall seconds, CPU seconds of this process (all threads), result. On a shared machine the CPU time
    is the steadier number; tokens/s are computed from wall time."""
    t0, c0 = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - t0, time.process_time() - c0, result


def bench_case(preset, cfg, ours, hf, prompts, max_new, repeats) -> dict:
    B = len(prompts)
    hf_times, our_times, hf_cpu, our_cpu = [], [], [], []
    # warm-up (allocator, first-call dispatch) on both sides, not timed
    hf_out = hf_generate(hf, prompts, max_new)
    our_out = ours_generate(ours, prompts, max_new)
    for r in range(repeats):
        order = [("hf", hf_generate, hf), ("ours", ours_generate, ours)]
        if r % 2:
            order.reverse()
        for name, fn, model in order:
            dt, cpu, out = timed(lambda: fn(model, prompts, max_new))
            (hf_times if name == "hf" else our_times).append(dt)
            (hf_cpu if name == "hf" else our_cpu).append(cpu)
            if out != (hf_out if name == "hf" else our_out):
                raise SystemExit(f"{preset} batch {B}: {name} is not deterministic across runs")
    hf_med, our_med = statistics.median(hf_times), statistics.median(our_times)
    case = {
        "preset": preset,
        "batch_size": B,
        "prompt_lengths": [len(p) for p in prompts],
        "max_new_tokens": max_new,
        "identical_tokens_ours_vs_hf": our_out == hf_out,
        "hf_tokens_per_s": B * max_new / hf_med,
        "ours_tokens_per_s": B * max_new / our_med,
        "speedup": hf_med / our_med,
        "speedup_cpu_time": statistics.median(hf_cpu) / statistics.median(our_cpu),
        "hf_seconds": hf_times,
        "ours_seconds": our_times,
        "hf_cpu_seconds": hf_cpu,
        "ours_cpu_seconds": our_cpu,
    }
    if B > 1:  # padding: does each side's batched output equal its one-prompt-at-a-time output?
        hf_alone = [hf_generate(hf, [p], max_new)[0] for p in prompts]
        ours_alone = [ours_generate(ours, [p], max_new)[0] for p in prompts]
        case["hf_batched_equals_hf_unbatched"] = hf_out == hf_alone
        case["ours_batched_equals_ours_unbatched"] = our_out == ours_alone
        case["ours_batched_equals_hf_unbatched"] = our_out == hf_alone
        if hf_out != hf_alone:
            case["hf_padding_note"] = (
                f"HF's left-padded batch differs from its own unpadded output on prompts "
                f"{[i for i, (a, b) in enumerate(zip(hf_out, hf_alone)) if a != b]}"
            )
    print(
        f"{preset:5s} batch {B}: HF {case['hf_tokens_per_s']:8.1f} tok/s  ours {case['ours_tokens_per_s']:8.1f} tok/s"
        f"  x{case['speedup']:.2f} (cpu time x{case['speedup_cpu_time']:.2f})  identical={case['identical_tokens_ours_vs_hf']}"
        + (f"  hf_pad_ok={case['hf_batched_equals_hf_unbatched']} ours_pad_ok={case['ours_batched_equals_ours_unbatched']}"
           if B > 1 else ""),
        flush=True,
    )
    return case


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny only, 16 new tokens, 1 repeat")
    parser.add_argument("--presets", nargs="+", default=["tiny", "mini"])
    parser.add_argument("--vocab-size", type=int, default=51200, help="model vocab (default: phi-1's 51200)")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per side (alternating); median reported")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    parser.add_argument("--name", default=None,
                        help="results file name (benchmarks/results/NAME.json; default: generate, or generate_quick with --quick)")
    args = parser.parse_args(argv)
    if args.quick:
        args.presets, args.max_new_tokens, args.repeats = ["tiny"], 16, 1
    args.name = args.name or ("generate_quick" if args.quick else "generate")
    if args.threads:
        torch.set_num_threads(args.threads)

    import transformers

    transformers.logging.set_verbosity_error()
    lengths = [32, 20, 28, 12, 32, 24, 16, 30]  # batch 8: up to 20 pad slots per row
    cases = []
    for preset in args.presets:
        cfg, ours, hf = build_models(preset, args.vocab_size, seed=0)
        g = torch.Generator().manual_seed(1)
        prompts = [torch.randint(0, cfg.vocab_size, (n,), generator=g).tolist() for n in lengths]
        for B in (1, 8):
            cases.append(bench_case(preset, cfg, ours, hf, prompts[:B], args.max_new_tokens, args.repeats))
    payload = {
        "what": "greedy generation tokens/s, ours (KV cache, left padding) vs transformers PhiForCausalLM.generate",
        "settings": {"vocab_size": args.vocab_size, "max_new_tokens": args.max_new_tokens, "repeats": args.repeats,
                     "dtype": "float32", "device": "cpu", "quick": args.quick, "torch_threads": torch.get_num_threads()},
        "cases": cases,
        "all_identical": all(c["identical_tokens_ours_vs_hf"] for c in cases),
    }
    write_result(args.name, payload)
    return 0 if payload["all_identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
