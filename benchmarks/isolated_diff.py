"""Where isolated verdicts differ from the default mode's, and why: HumanEval canonical solutions and wrong
completions, and MBPP (full and sanitized) reference solutions, run in both modes in one sandbox pool.

Also runs the isolated mode once more with argument mirroring off, to find the tests that look at an
argument the completion changed in place (they pass isolated only because the change is mirrored back).
Every program gets one generous fixed limit (--timeout, default 20 s) so that only verdict semantics, not
machine load, can differ. Writes benchmarks/results/isolated_diff.json and prints the README table.

    python benchmarks/isolated_diff.py                 # ~3 minutes on 2 cores
    python benchmarks/isolated_diff.py --quick         # 40 HumanEval and 60 MBPP tasks
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result  # noqa: E402

WRONG = {
    "return_none": "    return None\n",
    "wrong_type": "    return 'not the answer'\n",
    "exception": "    raise ValueError('no')\n",
    "syntax_error": "    return (\n",
}


def cases(quick: bool) -> list[tuple[str, object, str, str]]:
    """(benchmark, task, kind, completion) for every program to run in each mode."""
    from textbooks.eval.tasks import load_tasks

    out = []
    he = load_tasks("humaneval")[: 40 if quick else None]
    for t in he:
        out.append(("humaneval", t, "canonical", t.reference))
        out += [("humaneval", t, kind, completion) for kind, completion in WRONG.items()]
    for benchmark in ("mbpp", "mbpp-sanitized"):
        tasks = load_tasks(benchmark)[: 60 if quick else None]
        out += [(benchmark, t, "reference", t.reference) for t in tasks]
    return out


def main() -> int:
    from textbooks.eval.execute import failure_category
    from textbooks.eval.isolated import ISOLATED_VERSION, isolated_program, normalize_outcome
    from textbooks.eval.sandbox import SANDBOX_VERSION, Program, Sandbox, SandboxConfig
    from textbooks.eval.tasks import build_program, final_statement

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()

    items = cases(args.quick)
    modes = {
        "default": lambda b, t, c: build_program(b, t, c),
        "isolated": lambda b, t, c: isolated_program(b, t, c, timeout=args.timeout),
        "isolated_no_mirror": lambda b, t, c: isolated_program(b, t, c, timeout=args.timeout, mirror=False),
    }
    outcomes, seconds = {}, {}
    with Sandbox(SandboxConfig(timeout=args.timeout, workers=args.workers)) as sb:
        for mode, build in modes.items():
            programs = [Program(build(b, t, c), final_statement(b, t)) for b, t, _, c in items]
            t0 = time.perf_counter()
            outs = sb.run(programs)
            seconds[mode] = round(time.perf_counter() - t0, 2)
            outcomes[mode] = [normalize_outcome(o) if mode != "default" else o for o in outs]
            print(f"{mode}: {len(programs)} programs in {seconds[mode]} s", file=sys.stderr)
        isolation, layers = sb.mode, sb.layers

    counts: dict = {}
    differences, category_changes, mirrored, stand_ins = [], [], [], []
    for i, (benchmark, task, kind, _) in enumerate(items):
        d, iso, nomir = (outcomes[m][i] for m in modes)
        key = f"{benchmark}/{kind}"
        c = counts.setdefault(key, {"samples": 0, "passed_default": 0, "passed_isolated": 0})
        c["samples"] += 1
        c["passed_default"] += d.passed
        c["passed_isolated"] += iso.passed
        row = {"benchmark": benchmark, "task_id": task.task_id, "kind": kind, "default": d.result[:300],
               "isolated": iso.result[:300]}
        if d.passed != iso.passed:
            differences.append(row)
        elif failure_category(d.result, d.passed) != failure_category(iso.result, iso.passed):
            category_changes.append(row)
        if "only its truth value crossed" in iso.output:
            stand_ins.append({"benchmark": benchmark, "task_id": task.task_id, "kind": kind, "isolated": iso.result})
        if "isolated: mirrored" in iso.output:
            mirrored.append({"benchmark": benchmark, "task_id": task.task_id, "kind": kind,
                             "needed": iso.passed and not nomir.passed})
    payload = {
        "composition": "HumanEval canonical + 4 wrong completions per task (" + ", ".join(WRONG) + "); MBPP full "
                       "and sanitized reference solutions; each in the default and isolated modes",
        "quick": args.quick, "timeout_s": args.timeout, "isolated": ISOLATED_VERSION, "sandbox": SANDBOX_VERSION,
        "isolation": isolation, "layers": layers, "seconds": seconds, "counts": counts,
        "differences": differences, "category_changes": category_changes,
        "mirrored_mutations": {"tasks": len(mirrored), "needed": [m for m in mirrored if m["needed"]],
                               "all": mirrored},
        "truth_only_stand_ins": stand_ins,
    }
    write_result("isolated_diff", payload)
    print("\n| benchmark | samples | passed (default) | passed (isolated) |\n|---|---|---|---|")
    for key, c in counts.items():
        print(f"| {key} | {c['samples']} | {c['passed_default']} | {c['passed_isolated']} |")
    print("\nVerdicts that differ:")
    for r in differences:
        print(f"- {r['benchmark']} {r['task_id']} ({r['kind']}): default `{r['default'][:80]}`, isolated "
              f"`{r['isolated'][:160]}`")
    print(f"\nSame verdict, other failure category: {len(category_changes)}")
    for r in category_changes[:20]:
        print(f"- {r['benchmark']} {r['task_id']} ({r['kind']}): `{r['default'][:70]}` -> `{r['isolated'][:110]}`")
    needed = [f"{m['benchmark']} {m['task_id']}" for m in mirrored if m["needed"]]
    print(f"\nMirrored argument changes: {len(mirrored)} samples; needed for the verdict: {needed or 'none'}")
    print("Return values that crossed as a truth-only stand-in: "
          + (", ".join(f"{r['benchmark']} {r['task_id']} ({r['kind']}: {r['isolated'][:40]})" for r in stand_ins)
             or "none"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
