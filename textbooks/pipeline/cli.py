"""`textbooks run CONFIG.yaml [--out DIR] [--set key=value ...] [--dry-run] [--only STAGE] [--from STAGE]`.

Thin: parse, load and validate the whole config (before any stage), plan, print the plan, run
(textbooks.pipeline.run holds the logic).
"""

from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """\
stages (names; a kind selects all of its stages, e.g. --only eval):
  curate, decontaminate, synth-textbooks, synth-exercises, synth-heldout, tokenizer,
  pack-raw, pack-filtered, pack-textbooks, pack-exercises, pretrain-ARM, finetune-ARM, similar, eval-ARM, report

examples:
  textbooks run configs/pipeline/demo.yaml                          # what `make demo` runs (~15-20 min on 2 cores)
  textbooks run configs/pipeline/fig2.1-cpu.yaml --dry-run          # the plan: stages to run or skip, token budgets
  textbooks run configs/pipeline/fig2.1-cpu.yaml --set pretrain.tokens=20000000
  textbooks run configs/pipeline/demo.yaml --from eval              # re-evaluate every arm, keep the training
  textbooks run configs/pipeline/phi-1.yaml --executor slurm        # data stages on Slurm (see README)
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("config", metavar="CONFIG.yaml", help="pipeline config (shipped: configs/pipeline/*.yaml)")
    parser.add_argument("--out", metavar="DIR", default=None,
                        help="run directory (default: the config's `out`); a rerun resumes in it")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override a config value, e.g. --set pretrain.tokens=1000000 (repeatable; YAML values)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan (stages to run/resume/skip, token "
                        "budgets, batch and steps per arm) and exit")
    parser.add_argument("--only", action="append", default=None, metavar="STAGE",
                        help="run only this stage or kind (repeatable); the stages it reads must be done")
    parser.add_argument("--from", dest="start", default=None, metavar="STAGE",
                        help="rerun this stage (or every stage of this kind) and every stage that reads it, directly or not")
    parser.add_argument("--executor", choices=("local", "slurm", "ray"), default=None,
                        help="datatrove executor of the data stages (default: the config's curate.executor)")
    parser.add_argument("--isolation", choices=("auto", "bwrap", "process", "none"), default=None,
                        help="sandbox of verification and evaluation (default: the config's eval.isolation)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars (logs only)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from textbooks import guard

    guard.check_inputs([args.config], kind="file", flag="CONFIG.yaml")
    overrides = list(args.overrides)
    if args.executor:
        overrides.append(f"curate.executor={args.executor}")
    if args.isolation:
        overrides.append(f"eval.isolation={args.isolation}")
    return launch(args.config, overrides, out=args.out, dry_run=args.dry_run, only=args.only, start=args.start,
                  progress=not args.no_progress)


def launch(config_path, overrides: list[str], *, out: str | None = None, dry_run: bool = False,
           only: list[str] | None = None, start: str | None = None, progress: bool = True) -> int:
    """Load and validate the whole config, plan, print the plan, run (shared by `textbooks run` and `demo`)."""
    import json

    from textbooks import guard
    from textbooks.pipeline.config import load_pipeline_config
    from textbooks.pipeline.run import Context, check_run_dir, describe_plan, execute, plan, repo_root, run_lock

    from textbooks.pipeline.config import environment_problems

    config = load_pipeline_config(config_path, overrides)
    if out:
        config.out = str(out)
    run_dir = Path(config.out)
    problems = environment_problems(config)
    if problems and not dry_run:
        raise guard.UsageError(f"{config_path}: " + "; ".join(problems))
    if config.eval.isolation in ("auto", "bwrap"):
        # Evaluation and verification run model output in the sandbox, which refuses to start without
        # bubblewrap: say so now, not after the training.
        from textbooks.eval.sandbox import detect_isolation

        mode, why = detect_isolation(config.eval.isolation)
        if mode != "bwrap":
            raise guard.UsageError(f"the sandbox cannot run here: {why} (to run anyway: --isolation process)")
    if not dry_run:
        check_run_dir(run_dir, config.name)
    ctx = Context(config=config, dir=run_dir, repo=repo_root(), progress=progress)
    stages = plan(ctx, only=only, start=start)  # loads every train config: bad keys fail here, before any stage
    print(describe_plan(ctx, stages), flush=True)
    if dry_run:
        for p in problems:
            print(f"problem: {p}")
        if not problems:
            try:
                check_run_dir(run_dir, config.name)
            except guard.UsageError as e:
                print(f"problem: {e}")
        print("dry run: nothing was run" + ("; fix the problems above before launching" if problems else ""))
        return 0
    with run_lock(run_dir):
        ran = execute(ctx, stages)
    report = run_dir / "report.json"
    if report.is_file():
        from textbooks.pipeline.report import summary_table

        print()
        print(summary_table(json.loads(report.read_text(encoding="utf-8"))))
        print(f"\nreport: {run_dir / 'report.html'}")
    print(f"run finished in {ran.get('_total', 0) / 60:.1f} min; outputs in {run_dir}/")
    return 0
