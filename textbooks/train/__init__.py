"""Training: typed config, AdamW + schedule, atomic checkpoints, DDP/FSDP2 from outside, the trainer.

    from textbooks.train import train, Trainer, load_config
    summary = train("configs/train/demo-tiny.yaml", ["trainer.run_dir=runs/demo"])
    summary = Trainer(load_config("configs/train/demo-tiny.yaml")).fit()   # {"final_loss", "checkpoint", "tokens_per_s", ...}

The names below are loaded on first use (PEP 562): `textbooks train --help` (whose CLI module lives in this
package) pays neither for yaml (the config) nor for torch (the trainer).
"""

__all__ = ["train", "Trainer", "TrainConfig", "load_config", "ConfigError"]


def __getattr__(name: str):
    if name in ("train", "Trainer"):
        from textbooks.train import trainer

        return getattr(trainer, name)
    if name in ("TrainConfig", "load_config", "ConfigError"):
        from textbooks.train import config

        return getattr(config, name)
    raise AttributeError(f"module 'textbooks.train' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
