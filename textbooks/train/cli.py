"""`textbooks train`: pretrain or finetune from a YAML config (thin: parse, build, call).

    textbooks train --config configs/train/demo-tiny.yaml                         # CPU, minutes
    textbooks train --config configs/train/phi-1-base.yaml --set trainer.run_dir=runs/base
    torchrun --standalone --nproc_per_node=8 -m textbooks train --config configs/train/phi-1-base.yaml
    textbooks train --config configs/train/phi-1-finetune.yaml --set model.init_from=runs/base/checkpoints/step_024000
"""

from __future__ import annotations

import argparse
import sys

EPILOG = """examples:
  textbooks train --config configs/train/demo-tiny.yaml
  textbooks train --config configs/train/phi-1-base.yaml --set trainer.micro_batch_size=4 --set trainer.run_dir=runs/base
  textbooks train --config configs/train/phi-1-base.yaml --resume         # continue from the latest checkpoint
  torchrun --standalone --nproc_per_node=8 -m textbooks train --config configs/train/phi-1-base.yaml
  torchrun --nnodes=2 --nproc_per_node=8 --rdzv_backend=c10d --rdzv_endpoint=HOST:29500 \\
      -m textbooks train --config configs/train/phi-1-base.yaml --resume

outputs (in trainer.run_dir): config.yaml (resolved), metrics.jsonl, tensorboard/,
checkpoints/step_NNNNNN/ (HF model dir + tokenizer + trainer_state.pt), checkpoints/best (keep_best_by_val).
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
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from textbooks.train.config import ConfigError, load_config
    from textbooks.train.trainer import Trainer

    try:
        config = load_config(args.config, args.overrides)
        summary = Trainer(config, resume=args.resume).fit()
    except ConfigError as e:
        print(f"textbooks train: error: {e}", file=sys.stderr)
        return 2
    except FloatingPointError as e:  # a NaN/inf loss: the run diverged (checkpoints before it are intact)
        print(f"textbooks train: error: training diverged: {e}", file=sys.stderr)
        return 1
    if summary["interrupted"]:
        return 130
    if summary.get("checkpoint"):
        print(f"done: step {summary['steps']}, loss {summary['final_loss']:.4f}, checkpoint {summary['checkpoint']}",
              file=sys.stderr)
    return 0
