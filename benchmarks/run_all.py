"""Run every CPU benchmark in sequence (each compares against its reference tool in the same run) and
write their JSON under benchmarks/results/. Run on a quiet machine: the numbers are throughputs.

    python benchmarks/run_all.py            # full runs (~15-20 min on 2 cores)
    python benchmarks/run_all.py --quick    # smoke runs (~3 min)

The GPU benchmark (bench_train_gpu.py) is not included: run it on a GPU machine.
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ["bench_tokenizer.py", "bench_pack.py", "bench_model.py", "bench_train.py", "bench_generate.py", "bench_execute.py",
           "bench_isolated.py"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke runs")
    parser.add_argument("--only", nargs="*", default=None, help="run only these scripts (e.g. bench_model.py)")
    args = parser.parse_args()
    failed = []
    for script in args.only or SCRIPTS:
        cmd = [sys.executable, str(HERE / script)] + (["--quick"] if args.quick else [])
        print(f"\n### {' '.join(cmd)}", flush=True)
        t0 = time.perf_counter()
        if subprocess.run(cmd).returncode != 0:
            failed.append(script)
        print(f"### {script}: {time.perf_counter() - t0:.0f}s", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
