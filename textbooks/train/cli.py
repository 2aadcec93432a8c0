"""`textbooks train`: pretrain or finetune from a YAML config (thin: parse, build, call).

    textbooks train --config configs/train/demo-tiny.yaml                         # CPU, minutes
    textbooks train --config configs/train/phi-1-base.yaml --set trainer.run_dir=runs/base
    torchrun --standalone --nproc_per_node=8 -m textbooks train --config configs/train/phi-1-base.yaml
    textbooks train --config configs/train/phi-1-finetune.yaml --set model.init_from=runs/base/checkpoints/step_024000
    textbooks train --config configs/train/phi-1-base.yaml --dry-run --world-size 8 --gpu H100 --mfu 0.4
"""

from __future__ import annotations

import argparse
import sys

EPILOG = """examples:
  textbooks train --config configs/train/demo-tiny.yaml
  textbooks train --config configs/train/phi-1-base.yaml --set trainer.micro_batch_size=4 --set trainer.run_dir=runs/base
  textbooks train --config configs/train/phi-1-base.yaml --resume         # continue from the latest checkpoint
  textbooks train --config configs/train/phi-1-base.yaml --resume --set optimizer.lr=5e-4 --allow-config-change optimizer.lr
  textbooks train --config configs/train/phi-1-base.yaml --dry-run --world-size 8 --gpu H100 --mfu 0.4
  torchrun --standalone --nproc_per_node=8 -m textbooks train --config configs/train/phi-1-base.yaml
  torchrun --nnodes=2 --nproc_per_node=8 --rdzv_backend=c10d --rdzv_endpoint=HOST:29500 \\
      -m textbooks train --config configs/train/phi-1-base.yaml --resume

resume: the config must match the checkpoint's, except the time budget, stop step, logging / validation /
checkpoint cadence, run_dir, parallelism and compile settings, and the batch layout (micro-batch,
accumulation, number of ranks) while the global batch stays the same; anything else needs
--allow-config-change KEY, except data.seq_len, data.datasets and trainer.seed, which never change on resume
(they define the data order; start a new run with model.init_from=CHECKPOINT instead). Each launch and each
change is recorded in run_dir/history.jsonl. One launch per run_dir at a time (run_dir/.lock).

outputs (in trainer.run_dir): config.yaml (this launch's), history.jsonl, metrics.jsonl, tensorboard/,
checkpoints/step_NNNNNN/ (HF model dir + tokenizer + trainer_state.json/.safetensors), checkpoints/best.
Ctrl-C (or SIGTERM) finishes the current step, writes a checkpoint and exits with code 130."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("--config", required=True, metavar="FILE.yaml",
                        help="training config (shipped: configs/train/*.yaml)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override a config value, e.g. --set trainer.micro_batch_size=4 (repeatable; values are YAML)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the latest complete checkpoint in trainer.run_dir (starts fresh if there is none)")
    parser.add_argument("--allow-config-change", dest="allow", action="append", default=[], metavar="KEY",
                        help="with --resume: let KEY (e.g. optimizer.lr, or a section such as optimizer) differ from the "
                             "checkpoint's config; recorded in run_dir/history.jsonl (repeatable)")
    plan = parser.add_argument_group("dry run (print the plan and cost, train nothing)")
    plan.add_argument("--dry-run", action="store_true",
                      help="print the resolved config, batch, tokens, FLOPs (6 x N x tokens) and hours, then exit")
    plan.add_argument("--world-size", type=int, default=None, metavar="N",
                      help="ranks to plan for (default: $WORLD_SIZE, else 1)")
    plan.add_argument("--mfu", type=float, default=0.4,
                      help="model FLOPs utilization assumed for the hours (default 0.4)")
    plan.add_argument("--peak-flops", type=float, default=None, metavar="FLOP/S",
                      help="peak FLOP/s per device, e.g. 989e12 (default: --gpu, trainer.peak_flops, or this GPU's)")
    plan.add_argument("--gpu", default=None, metavar="NAME",
                      help="take the peak from the GPU table: H200, H100, H100 PCIe, A100, L40S, A10G, L4, ...")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from textbooks.train.checkpoint import CheckpointSaveError
    from textbooks.train.config import ConfigError, load_config
    from textbooks.train.parallel import RankError, launch_rank

    # Under torchrun every rank meets the same error: rank 0 alone prints it (the others exit with the same code),
    # except errors only some ranks meet (RankError).
    def error(message: str, every_rank: bool = False) -> None:
        if launch_rank() == 0 or every_rank:
            print(f"textbooks train: error: {message}", file=sys.stderr)

    from textbooks import guard

    try:
        config = load_config(args.config, args.overrides)
        if args.dry_run:
            return _dry_run(config, args)
        # run_dir: a directory we can write, not a file, not below one, not a dataset (the trainer itself decides
        # about a run_dir with checkpoints: --resume continues it, a fresh launch is refused)
        inputs = [args.config, *(d.path for d in config.data.datasets), *config.data.val]
        guard.check_outputs([guard.Output(config.trainer.run_dir, kind="dir", flag="trainer.run_dir", replaces=False)],
                            inputs=inputs,
                            resumable_marker=lambda _: True)
        from textbooks.train.trainer import Trainer

        summary = Trainer(config, resume=args.resume, allow_config_change=args.allow).fit()
    except (ConfigError, guard.UsageError) as e:
        error(str(e), every_rank=isinstance(e, RankError))
        return 2
    except CheckpointSaveError as e:  # disk full or an I/O error: the previous checkpoint is intact
        error(str(e))
        return 1
    except FloatingPointError as e:  # a NaN/inf loss: the run diverged (checkpoints before it are intact)
        error(f"training diverged: {e}")
        return 1
    if summary["interrupted"]:
        return 130
    if summary.get("nothing_to_do"):
        if launch_rank() == 0:
            print(f"already at step {summary['steps']} = stop_step; nothing to do (checkpoint {summary['checkpoint']}; "
                  f"raise schedule.stop_step to train on)", file=sys.stderr)
        return 0
    if summary.get("checkpoint") and summary.get("final_loss") is not None:
        print(f"done: step {summary['steps']}, loss {summary['final_loss']:.4f}, checkpoint {summary['checkpoint']}",
              file=sys.stderr)
    return 0


def _dry_run(config, args) -> int:
    from textbooks.train.plan import format_plan, make_plan

    from textbooks.train.parallel import launched_world_size

    if args.world_size is not None:
        world, source = args.world_size, f"--world-size {args.world_size}"
    else:
        world, source = launched_world_size(), None  # $WORLD_SIZE (ConfigError without torchrun's RANK)
    plan = make_plan(config, world_size=world, mfu=args.mfu, peak_flops=args.peak_flops, gpu=args.gpu,
                     resume=args.resume, allow_config_change=args.allow, world_source=source)
    print(format_plan(plan))
    return 2 if plan.problems else 0
