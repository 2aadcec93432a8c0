"""Throughput of isolated verdicts against the default mode on the same samples, in the same sandbox pool.

HumanEval canonical solutions (x --copies), run alternately in the default mode and the isolated mode
(default, isolated, default, isolated, ...; one worker per core). The script fails unless every sample passes
in both modes, and writes benchmarks/results/isolated.json (samples/s of each mode, the slowdown, and the
machine's load average, since the machine may be shared).

    python benchmarks/bench_isolated.py              # 164 x 2 samples, 2 rounds
    python benchmarks/bench_isolated.py --quick      # 164 samples, 1 round
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result  # noqa: E402


def main() -> int:
    from textbooks.eval.isolated import ISOLATED_VERSION, isolated_program, normalize_outcome
    from textbooks.eval.sandbox import SANDBOX_VERSION, Program, Sandbox, SandboxConfig
    from textbooks.eval.tasks import build_program, final_statement, load_humaneval

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--copies", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()
    copies, rounds = (1, 1) if args.quick else (args.copies, args.rounds)

    tasks = load_humaneval() * copies
    programs = {
        "default": [Program(build_program("humaneval", t, t.reference), final_statement("humaneval", t))
                    for t in tasks],
        "isolated": [Program(isolated_program("humaneval", t, t.reference), final_statement("humaneval", t))
                     for t in tasks],
    }
    seconds: dict[str, list[float]] = {"default": [], "isolated": []}
    load = []
    with Sandbox(SandboxConfig(timeout=10.0, workers=args.workers)) as sb:
        sb.run(programs["default"][:20])  # warm-up
        for _ in range(rounds):
            for mode in ("default", "isolated"):
                load.append(os.getloadavg()[0])
                t0 = time.perf_counter()
                outs = sb.run(programs[mode])
                seconds[mode].append(time.perf_counter() - t0)
                bad = [o.result for o in map(normalize_outcome, outs) if not o.passed]
                if bad:
                    print(f"error: {mode}: {len(bad)} canonical solutions did not pass, e.g. {bad[:3]}",
                          file=sys.stderr)
                    return 1
                print(f"{mode}: {len(outs)} samples in {seconds[mode][-1]:.2f} s", file=sys.stderr)
        workers, isolation = sb.n_workers, sb.mode
    rate = {m: len(tasks) / min(s) for m, s in seconds.items()}
    payload = {
        "samples": len(tasks), "composition": f"164 HumanEval canonical solutions x {copies}", "rounds": rounds,
        "quick": args.quick, "workers": workers, "isolation": isolation, "sandbox": SANDBOX_VERSION,
        "isolated": ISOLATED_VERSION, "load_average_1m": load,
        "default": {"seconds": seconds["default"], "samples_per_s": rate["default"]},
        "isolated_mode": {"seconds": seconds["isolated"], "samples_per_s": rate["isolated"]},
        "slowdown_best_vs_best": rate["default"] / rate["isolated"],
    }
    write_result("isolated", payload)
    print(f"default {rate['default']:.0f} samples/s, isolated {rate['isolated']:.0f} samples/s "
          f"({payload['slowdown_best_vs_best']:.1f}x slower)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
