"""Training: typed config, AdamW + schedule, atomic checkpoints, DDP/FSDP2 from outside, the trainer.

    from textbooks.train import train, Trainer, load_config
    summary = train("configs/train/demo-tiny.yaml", ["trainer.run_dir=runs/demo"])
    summary = Trainer(load_config("configs/train/demo-tiny.yaml")).fit()   # {"final_loss", "checkpoint", "tokens_per_s", ...}
"""

from textbooks.train.config import ConfigError, TrainConfig, load_config

__all__ = ["train", "Trainer", "TrainConfig", "load_config", "ConfigError"]


def __getattr__(name):  # the trainer imports torch; load it on first use so `textbooks --help` stays light
    if name in ("train", "Trainer"):
        from textbooks.train import trainer

        return getattr(trainer, name)
    raise AttributeError(name)
