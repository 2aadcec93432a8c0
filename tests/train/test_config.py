"""Config loading: typed sections, overrides, clear errors, and the shipped configs' paper numbers."""

import re
from pathlib import Path

import pytest

from textbooks.train.config import ConfigError, TrainConfig, load_config, resolve_grad_accum

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "train"


def test_unknown_key_names_full_path_and_suggests(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("trainer:\n  micro_batch_sise: 4\n")
    with pytest.raises(ConfigError, match=r"unknown key 'trainer.micro_batch_sise'.*did you mean 'trainer.micro_batch_size'"):
        load_config(path)
    with pytest.raises(ConfigError, match=r"unknown key 'optimzer'.*did you mean 'optimizer'"):
        load_config(None, ["optimzer.lr=1"])
    with pytest.raises(ConfigError, match=r"'data.datasets\[0\].wieght'.*did you mean 'data.datasets\[0\].weight'"):
        load_config(None, ["data.datasets=[{path: x, wieght: 2}]"])


def test_overrides_are_typed():
    cfg = load_config(None, ["trainer.micro_batch_size=4", "optimizer.lr=3e-4", "data.datasets=[a, {path: b, weight: 0.5}]"])
    assert cfg.trainer.micro_batch_size == 4 and isinstance(cfg.optimizer.lr, float)
    assert [(e.path, e.weight) for e in cfg.data.datasets] == [("a", 1.0), ("b", 0.5)]
    with pytest.raises(ConfigError, match="trainer.micro_batch_size must be an integer"):
        load_config(None, ["trainer.micro_batch_size=abc"])
    with pytest.raises(ConfigError, match="trainer.precision='fp8' is not one of"):
        load_config(None, ["trainer.precision=fp8"])
    with pytest.raises(ConfigError, match="expected section.key=value"):
        load_config(None, ["trainer.micro_batch_size"])
    with pytest.raises(ConfigError, match=r"decay_steps \(schedule length\) must be > schedule.warmup_steps"):
        load_config(None, ["schedule.warmup_steps=100", "schedule.decay_steps=50"])


def test_global_batch_division():
    t = load_config(None, ["trainer.global_batch_size=1024", "trainer.micro_batch_size=8"]).trainer
    assert resolve_grad_accum(t, 1) == 128 and resolve_grad_accum(t, 8) == 16
    with pytest.raises(ConfigError, match=r"global_batch_size=1024 is not divisible by micro_batch_size x world_size = 8 x 3"):
        resolve_grad_accum(t, 3)
    t = load_config(None, ["trainer.global_batch_size=64", "trainer.micro_batch_size=8", "trainer.grad_accum_steps=4"]).trainer
    with pytest.raises(ConfigError, match="disagrees"):
        resolve_grad_accum(t, 1)


def test_saved_config_round_trips(tmp_path):
    cfg = load_config(CONFIGS / "phi-1-base.yaml", ["trainer.run_dir=x"])
    cfg.save(tmp_path / "config.yaml")
    assert load_config(tmp_path / "config.yaml") == cfg


@pytest.mark.parametrize("name", sorted(p.name for p in CONFIGS.glob("*.yaml")))
def test_shipped_configs_load(name):
    assert isinstance(load_config(CONFIGS / name), TrainConfig)


def test_phi1_recipe_numbers():
    """Paper §2.3: batch 1024, lr 1e-3, warmup 750, 36k-step schedule stopped at 24k, wd 0.1, dropout 0.1;
    finetune: batch 256, lr 1e-4, warmup 50, 6k steps, wd 0.01, checkpoint every 1000, keep the best."""
    for name, preset in (("phi-1-base.yaml", "phi-1"), ("phi-1-small-base.yaml", "phi-1-small")):
        c = load_config(CONFIGS / name)
        assert c.model.preset == preset
        assert c.trainer.global_batch_size == 1024 and c.data.seq_len == 2048
        assert (c.optimizer.lr, c.schedule.warmup_steps, c.schedule.decay_steps, c.stop_step) == (1e-3, 750, 36000, 24000)
        assert c.optimizer.weight_decay == 0.1
        assert c.model.overrides["attn_dropout"] == c.model.overrides["resid_dropout"] == 0.1
    for name in ("phi-1-finetune.yaml", "phi-1-small-finetune.yaml"):
        c = load_config(CONFIGS / name)
        assert c.trainer.global_batch_size == 256
        assert (c.optimizer.lr, c.schedule.warmup_steps, c.stop_step, c.optimizer.weight_decay) == (1e-4, 50, 6000, 0.01)
        assert c.trainer.checkpoint_every == 1000 and c.trainer.keep_best_by_val


def test_train_cli_module_imports_neither_yaml_nor_torch():
    """`textbooks.train` loads its names on first use: the CLI module (inside the package) stays light."""
    import subprocess
    import sys

    code = ("import sys, textbooks.train.cli, textbooks.train; "
            "print(sorted(m for m in ('yaml', 'torch', 'textbooks.train.config') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    from textbooks.train import ConfigError as Lazy

    assert Lazy is ConfigError


def test_stop_step_past_the_schedule_is_an_error_naming_both_keys():
    """Steps after decay_steps would all train at min_lr: never what a recipe means."""
    with pytest.raises(ConfigError, match=r"schedule.stop_step=40 is past schedule.decay_steps=30.*raise schedule.decay_steps"):
        load_config(None, ["schedule.warmup_steps=1", "schedule.decay_steps=30", "schedule.stop_step=40"])
    assert load_config(None, ["schedule.warmup_steps=1", "schedule.decay_steps=30", "schedule.stop_step=30"]).stop_step == 30


def test_removed_val_batches_says_what_replaces_it(tmp_path):
    path = tmp_path / "old.yaml"
    path.write_text("trainer:\n  val_batches: 20\n")
    with pytest.raises(ConfigError, match=r"old.yaml: trainer.val_batches was removed: use trainer.val_tokens"):
        load_config(path)
    with pytest.raises(ConfigError, match=r"trainer.val_tokens=16 must be >= data.seq_len=32"):
        load_config(None, ["data.seq_len=32", "trainer.val_tokens=16"])


@pytest.mark.parametrize("override, message", [
    ("trainer.cpu_threads=-3", "trainer.cpu_threads=-3 must be >= 1"),
    ("trainer.cpu_threads=0", "trainer.cpu_threads=0 must be >= 1"),
    ("trainer.device=tpu", "trainer.device='tpu' must be auto, cpu, cuda or cuda:N"),
    ("optimizer.eps=-1", "optimizer.eps=-1.0 must be > 0"),
    ("trainer.peak_flops=-5", "trainer.peak_flops=-5.0 must be > 0"),
])
def test_range_checks_name_the_key(override, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(None, [override])


def test_errors_in_set_values_name_the_set_argument_not_the_file():
    path = CONFIGS / "demo-tiny.yaml"
    with pytest.raises(ConfigError, match=r"^--set trainer.foo=1: unknown key 'trainer.foo'"):
        load_config(path, ["trainer.foo=1"])
    with pytest.raises(ConfigError, match=r"^--set trainer.micro_batch_size=abc: trainer.micro_batch_size must be an integer"):
        load_config(path, ["trainer.micro_batch_size=abc"])
    with pytest.raises(ConfigError, match=r"^--set model.overrides=3: model.overrides must be a mapping"):
        load_config(path, ["model.overrides=3"])
    with pytest.raises(ConfigError, match=r"^--set data.datasets=\[\{path: x, wieght: 2\}\]: unknown key 'data.datasets\[0\].wieght'"):
        load_config(path, ["data.datasets=[{path: x, wieght: 2}]"])


def test_world_size_without_torchrun_and_cuda_without_a_gpu_are_config_errors(monkeypatch):
    import torch

    from textbooks.train import parallel

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("RANK", raising=False)
    with pytest.raises(ConfigError, match="WORLD_SIZE=2 is set but RANK is not.*torchrun"):
        parallel.launched_world_size()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="trainer.device='cuda:0' but CUDA is not available"):
        parallel.resolve_device("cuda")
