"""The trainer end to end on a tiny model: learning, checkpoints, finetuning, and clear errors before step 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from textbooks.train import Trainer
from textbooks.train.config import ConfigError


def _metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_loss_decreases_on_a_tiny_corpus(make_config):
    """A few batches of a small repetitive corpus: the tiny model must overfit it."""
    cfg = make_config("schedule.decay_steps=40", "trainer.checkpoint_every=100", "optimizer.lr=1e-2")
    summary = Trainer(cfg).fit()
    losses = [m["loss"] for m in _metrics(Path(cfg.trainer.run_dir)) if "loss" in m]
    assert len(losses) == 40 and summary["steps"] == 40
    assert losses[0] > 5.0  # ~ln(384) at init
    assert sum(losses[-5:]) / 5 < 0.6 * losses[0], losses
    assert summary["final_loss"] == pytest.approx(losses[-1])
    from textbooks.train.optim import lr_at

    logged = [m for m in _metrics(Path(cfg.trainer.run_dir)) if "loss" in m]
    assert [m["lr"] for m in logged] == [lr_at(s, cfg.optimizer.lr, cfg.schedule) for s in range(1, 41)]
    assert logged[-1]["tokens_seen"] == 40 * 4 * 32 and logged[-1]["mfu"] is None  # no CPU peak configured


def test_checkpoints_are_hf_dirs_with_state_pruned_and_best(make_config, tokenizer_dir):
    cfg = make_config("schedule.decay_steps=12", "trainer.checkpoint_every=4", "trainer.keep_last=1",
                      "trainer.val_every=4", "trainer.val_tokens=256", "trainer.keep_best_by_val=true")
    summary = Trainer(cfg).fit()
    root = Path(cfg.trainer.run_dir) / "checkpoints"
    steps = sorted(p.name for p in root.iterdir() if p.name.startswith("step_"))
    best = (root / "best").resolve()
    assert steps[-1] == "step_000012" and best.name in steps  # keep_last=1 plus the best
    assert len(steps) == (1 if best.name == "step_000012" else 2)
    assert summary["checkpoint"] == str(root / "step_000012") and summary["best_checkpoint"] == str(best)
    d = root / "step_000012"
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                 "special_tokens_map.json", "generation_config.json", "trainer_state.json", "trainer_state.safetensors",
                 "config.yaml"):
        assert (d / name).is_file(), name
    assert not list(root.glob(".tmp-*"))
    val = [m for m in _metrics(Path(cfg.trainer.run_dir)) if "val_loss" in m]
    assert [m["step"] for m in val] == [4, 8, 12]
    assert summary["best_val_loss"] == min(m["val_loss"] for m in val)
    from textbooks.train.config import load_config

    assert load_config(Path(cfg.trainer.run_dir) / "config.yaml") == cfg == load_config(d / "config.yaml")

    # The checkpoint loads in transformers and with our tokenizer loader.
    from transformers import AutoModelForCausalLM

    from textbooks.model import Phi
    from textbooks.tokenizer import load_tokenizer

    hf = AutoModelForCausalLM.from_pretrained(d).eval()
    ours = Phi.from_pretrained(d).eval()
    x = torch.randint(0, 300, (1, 16))
    torch.testing.assert_close(hf(x).logits, ours(x), rtol=1e-4, atol=1e-4)
    assert load_tokenizer(d).fingerprint == load_tokenizer(tokenizer_dir).fingerprint
    assert json.loads((d / "config.json").read_text())["eos_token_id"] == load_tokenizer(d).eos_id
    assert json.loads((d / "generation_config.json").read_text())["eos_token_id"] == load_tokenizer(d).eos_id


def test_finetune_from_hf_phi_dir(make_config, tokenizer_dir, packed_dir, tmp_path):
    """init_from an HF PhiForCausalLM dir: the first step's loss is the HF model's loss on that batch."""
    from transformers import PhiConfig as HFPhiConfig
    from transformers import PhiForCausalLM

    from textbooks.train.data import PackedDataset, TokenWindowLoader

    torch.manual_seed(123)
    hf_cfg = HFPhiConfig(vocab_size=384, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=2, partial_rotary_factor=0.5, max_position_embeddings=64)
    hf = PhiForCausalLM(hf_cfg).eval()
    hf_dir = tmp_path / "hf-phi"
    hf.save_pretrained(hf_dir)

    cfg = make_config("model.preset=null", "model.overrides={}", f"model.init_from={hf_dir}",
                      "schedule.decay_steps=3", "trainer.checkpoint_every=100")
    summary = Trainer(cfg).fit()
    first = _metrics(Path(cfg.trainer.run_dir))[0]["loss"]

    loader = TokenWindowLoader([(PackedDataset(packed_dir, "train"), 1.0)], seq_len=32, batch_size=4, seed=0)
    x, y = next(loader)
    with torch.no_grad():
        logits = hf(input_ids=x).logits
    expected = torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten()).item()
    assert first == pytest.approx(expected, rel=1e-5)
    assert summary["steps"] == 3


def test_finetune_from_our_checkpoint(make_config, tmp_path, packed_dir):
    from textbooks.model import Phi
    from textbooks.train.data import PackedDataset, TokenWindowLoader

    cfg = make_config("schedule.decay_steps=2")
    Trainer(cfg).fit()
    ckpt = Path(cfg.trainer.run_dir) / "checkpoints" / "step_000002"
    ft = make_config("model.preset=null", "model.overrides={}", f"model.init_from={ckpt}", "schedule.decay_steps=2",
                     "optimizer.weight_decay=0.01", f"trainer.run_dir={tmp_path / 'ft'}")
    Trainer(ft).fit()
    x, y = next(TokenWindowLoader([(PackedDataset(packed_dir, "train"), 1.0)], seq_len=32, batch_size=4, seed=0))
    with torch.no_grad():
        expected = Phi.from_pretrained(ckpt)(x, y).item()
    assert _metrics(tmp_path / "ft")[0]["loss"] == pytest.approx(expected, rel=1e-5)

    bad = make_config("model.preset=null", "model.overrides={n_layer: 3}", f"model.init_from={ckpt}",
                      f"trainer.run_dir={tmp_path / 'ft-bad'}")
    with pytest.raises(ConfigError, match="model.overrides.n_layer would change the architecture"):
        Trainer(bad).fit()


def test_preset_and_init_from_are_exclusive(make_config, tmp_path):
    cfg = make_config("schedule.decay_steps=2")
    Trainer(cfg).fit()
    ckpt = Path(cfg.trainer.run_dir) / "checkpoints" / "step_000002"
    both = make_config(f"model.init_from={ckpt}", f"trainer.run_dir={tmp_path / 'ft2'}")
    with pytest.raises(ConfigError, match="either model.preset .* or model.init_from"):
        Trainer(both).fit()


def test_completion_only_targets_train(make_config, tokenizer_dir, tmp_path):
    """Packed with --loss-on completion: prompt targets are -100 and the trainer's loss ignores them."""
    from textbooks.data.pack import pack

    src = tmp_path / "ex.jsonl"
    src.write_text("".join(json.dumps({"prompt": f"def f{i}(x):\n    \"\"\"Double x.\"\"\"\n",
                                       "completion": f"    return x * {i % 3 + 2}\n"}) + "\n" for i in range(60)))
    out = tmp_path / "packed-ex"
    pack([src], tokenizer_dir, out, val_fraction=0.0, workers=1, loss_on="completion", progress=False)
    cfg = make_config(f"data.datasets=[{out}]", "schedule.decay_steps=3", "trainer.checkpoint_every=100")
    trainer = Trainer(cfg)
    summary = trainer.fit()
    assert summary["steps"] == 3 and summary["final_loss"] is not None
    _, y = next(trainer.loader)
    assert (y == -100).any() and (y != -100).any()


def test_mixture_datasets_reach_the_loader(make_config, packed_dir, tmp_path, corpus_dir, tokenizer_dir):
    """Weights go to TokenWindowLoader (tests/train/test_data.py checks the loader honours them)."""
    from textbooks.data.pack import pack

    other = tmp_path / "books"
    (tmp_path / "b.jsonl").write_text("".join(json.dumps({"text": f"# lesson {i}\nx = {i}\n"}) + "\n" for i in range(80)))
    pack([tmp_path / "b.jsonl"], tokenizer_dir, other, val_fraction=0.0, workers=1, progress=False)
    cfg = make_config(f"data.datasets=[{{path: {packed_dir}, weight: 3}}, {{path: {other}, weight: 1}}]",
                      "schedule.decay_steps=2", "trainer.checkpoint_every=100")
    trainer = Trainer(cfg)
    trainer.fit()
    assert trainer.loader.weights == pytest.approx([0.75, 0.25])


# --- bad input: a clear error before the first step ---------------------------------------------------


def _fails(cfg, pattern):
    with pytest.raises(ConfigError, match=pattern):
        Trainer(cfg).fit()
    assert not (Path(cfg.trainer.run_dir) / "metrics.jsonl").exists()


def test_bad_inputs_fail_before_training(make_config, tmp_path, other_tokenizer_dir, corpus_dir, tokenizer_dir):
    _fails(make_config("data.seq_len=128"), r"data.seq_len=128 is above the model's max_seq_len=64")
    _fails(make_config("trainer.global_batch_size=10", "trainer.grad_accum_steps=null"),
           r"global_batch_size=10 is not divisible by micro_batch_size x world_size = 4 x 1")
    _fails(make_config(f"data.datasets=[{tmp_path / 'nope'}]"), r"data.datasets\[0\].path=.*nope: directory not found")
    _fails(make_config("data.datasets=[]"), "data.datasets is empty")
    _fails(make_config(f"data.tokenizer={other_tokenizer_dir}"), r"tokenizer mismatch: data.tokenizer .* re-pack")

    from textbooks.data.pack import pack

    tiny = tmp_path / "tiny.jsonl"
    tiny.write_text(json.dumps({"text": "x = 1\n"}) + "\n")
    pack([tiny], tokenizer_dir, tmp_path / "packed-tiny", val_fraction=0.0, workers=1, progress=False)
    _fails(make_config(f"data.datasets=[{tmp_path / 'packed-tiny'}]"), r"training tokens, fewer than one window")
    (tmp_path / "not-packed").mkdir()
    _fails(make_config(f"data.datasets=[{tmp_path / 'not-packed'}]"), r"meta.json: not found")
    _fails(make_config("trainer.val_every=5", f"data.datasets=[{tmp_path / 'packed-tiny'}]", "data.seq_len=2"),
           r"no validation split")


def test_existing_run_needs_resume(make_config):
    cfg = make_config("schedule.decay_steps=2")
    Trainer(cfg).fit()
    with pytest.raises(ConfigError, match="already has checkpoints .* pass --resume"):
        Trainer(cfg).fit()
    summary = Trainer(cfg, resume=True).fit()  # already at stop_step: nothing to do
    assert summary["steps"] == 2


def test_cli_usage_errors_exit_2(tmp_path, capsys):
    from textbooks.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text("trainer:\n  run_dri: x\n")
    assert main(["train", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'trainer.run_dri'" in err and "did you mean 'trainer.run_dir'" in err
    assert main(["train", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "config file not found" in capsys.readouterr().err


def test_cli_bad_init_from_exits_2_naming_the_path(make_config, tmp_path, capsys):
    """A corrupt or incomplete model.init_from is a usage error (exit 2, the path named), not a traceback."""
    from textbooks.cli import main

    yaml = tmp_path / "ft.yaml"
    make_config("model.preset=null", "model.overrides={}", f"trainer.run_dir={tmp_path / 'ft'}").save(yaml)
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "config.json").write_text('{"model_type": "phi",')
    assert main(["train", "--config", str(yaml), "--set", f"model.init_from={corrupt}"]) == 2
    err = capsys.readouterr().err
    assert f"model.init_from={corrupt}" in err and "config.json: not valid JSON" in err and "Traceback" not in err

    cfg = make_config("schedule.decay_steps=2", "schedule.stop_step=1")
    Trainer(cfg).fit()
    no_weights = tmp_path / "no-weights"
    no_weights.mkdir()
    (no_weights / "config.json").write_text((Path(cfg.trainer.run_dir) / "checkpoints" / "step_000001" / "config.json").read_text())
    assert main(["train", "--config", str(yaml), "--set", f"model.init_from={no_weights}"]) == 2
    err = capsys.readouterr().err
    assert f"cannot load weights from model.init_from {no_weights}" in err and "no weights in" in err

    assert main(["train", "--config", str(yaml), "--set", f"model.init_from={tmp_path / 'nope'}"]) == 2
    assert "nope: no config.json there" in capsys.readouterr().err
    assert not (tmp_path / "ft" / "metrics.jsonl").exists()


def test_cli_diverged_loss_exits_1(make_config, tmp_path, capsys, monkeypatch):
    from textbooks.cli import main

    yaml = tmp_path / "c.yaml"
    make_config().save(yaml)

    def diverge(self):
        raise FloatingPointError("loss is nan at step 3; lower optimizer.lr")

    monkeypatch.setattr(Trainer, "fit", diverge)
    assert main(["train", "--config", str(yaml)]) == 1
    assert "training diverged: loss is nan at step 3" in capsys.readouterr().err


def test_damaged_trainer_state_on_resume_is_a_config_error(make_config):
    cfg = make_config("schedule.decay_steps=2")
    Trainer(cfg).fit()
    ckpt = Path(cfg.trainer.run_dir) / "checkpoints" / "step_000002"
    for name in ("trainer_state.safetensors", "trainer_state.json"):
        state = ckpt / name
        good = state.read_bytes()
        state.write_bytes(good[:100])
        with pytest.raises(ConfigError, match=rf"cannot read .*{name} .*move .*step_000002 away"):
            Trainer(cfg, resume=True).fit()
        state.write_bytes(good)


def test_trainer_state_is_json_and_safetensors_never_pickle(make_config):
    """The state loads with nothing but json + safetensors; a legacy pickled trainer_state.pt is refused, not unpickled."""
    import pickle

    from textbooks.train.state import load_state

    cfg = make_config("schedule.decay_steps=2")
    Trainer(cfg).fit()
    ckpt = Path(cfg.trainer.run_dir) / "checkpoints" / "step_000002"
    state = load_state(ckpt)
    assert state["step"] == 2 and isinstance(state["optimizer"]["state"]["lm_head.weight"]["exp_avg"], torch.Tensor)
    assert isinstance(state["rng"][0]["python"], tuple) and state["rng"][0]["numpy"][1].dtype.name == "uint32"
    for name in ("trainer_state.json", "trainer_state.safetensors"):
        with pytest.raises(pickle.UnpicklingError):  # neither file is a pickle
            pickle.loads((ckpt / name).read_bytes())

    marker = Path(cfg.trainer.run_dir) / "unpickled"
    (ckpt / "trainer_state.json").unlink()
    (ckpt / "trainer_state.safetensors").unlink()

    class Evil:  # what a hostile pickle could do on load
        def __reduce__(self):
            return (marker.touch, ())

    (ckpt / "trainer_state.pt").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(ConfigError, match=r"trainer_state.pt, the pickled trainer state .* model.init_from="):
        Trainer(cfg, resume=True).fit()
    assert not marker.exists()


def test_stop_right_after_resume_keeps_the_loaded_checkpoint(make_config):
    """Nothing new to save: the checkpoint just loaded is not rewritten (rewriting it briefly unpublishes it)."""
    Trainer(make_config("schedule.decay_steps=4", "schedule.stop_step=2")).fit()
    ckpt = Path(make_config().trainer.run_dir) / "checkpoints" / "step_000002"
    before = (ckpt / "trainer_state.json").stat()
    trainer = Trainer(make_config("schedule.decay_steps=4"), resume=True)
    trainer._stop_requested = True  # as if Ctrl-C arrived before the first step
    summary = trainer.fit()
    after = (ckpt / "trainer_state.json").stat()
    assert summary["interrupted"] and summary["steps"] == 2 and summary["checkpoint"] == str(ckpt)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_activation_checkpointing_same_losses_and_plain_checkpoint_keys(make_config, tmp_path):
    """Recomputing blocks in backward changes memory, not math; checkpoints keep the plain HF keys."""
    from safetensors.torch import load_file

    plain = make_config("schedule.decay_steps=3", "trainer.checkpoint_every=3", f"trainer.run_dir={tmp_path / 'plain'}")
    ac = make_config("schedule.decay_steps=3", "trainer.checkpoint_every=3", "trainer.activation_checkpointing=true",
                     f"trainer.run_dir={tmp_path / 'ac'}")
    Trainer(plain).fit()
    Trainer(ac).fit()
    losses = lambda c: [m["loss"] for m in _metrics(Path(c.trainer.run_dir)) if "loss" in m]  # noqa: E731
    assert losses(plain) == pytest.approx(losses(ac), abs=1e-6)
    keys = lambda c: set(load_file(Path(c.trainer.run_dir) / "checkpoints" / "step_000003" / "model.safetensors"))  # noqa: E731
    assert keys(plain) == keys(ac) and "model.layers.0.self_attn.q_proj.weight" in keys(ac)


@pytest.mark.slow
def test_compiled_training_matches_eager(make_config, tmp_path):
    """trainer.compile=true (inductor on CPU; minutes on 2 cores) trains the same model as eager."""
    eager = make_config("schedule.decay_steps=4", "trainer.checkpoint_every=4", "trainer.deterministic=false",
                        f"trainer.run_dir={tmp_path / 'eager'}")
    compiled = make_config("schedule.decay_steps=4", "trainer.checkpoint_every=4", "trainer.deterministic=false",
                           "trainer.compile=true", f"trainer.run_dir={tmp_path / 'compiled'}")
    Trainer(eager).fit()
    Trainer(compiled).fit()
    losses = lambda c: [m["loss"] for m in _metrics(Path(c.trainer.run_dir)) if "loss" in m]  # noqa: E731
    assert losses(eager) == pytest.approx(losses(compiled), rel=1e-4)


def test_time_budget_checkpoints_and_stops(make_config):
    cfg = make_config("schedule.decay_steps=100000", "trainer.checkpoint_every=100000", "trainer.max_minutes=0.001")
    summary = Trainer(cfg).fit()
    assert summary["stopped_by_time_budget"] and not summary["interrupted"]
    assert 1 <= summary["steps"] < 100000
    assert Path(summary["checkpoint"]).name == f"step_{summary['steps']:06d}"


def test_tensorboard_event_file_has_the_logged_scalars(make_config):
    cfg = make_config("schedule.decay_steps=6", "trainer.val_every=3", "trainer.val_tokens=128", "logging.tensorboard=true")
    Trainer(cfg).fit()
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tb_dir = Path(cfg.trainer.run_dir) / "tensorboard"
    acc = EventAccumulator(str(tb_dir))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"train/loss", "train/lr", "train/grad_norm", "train/tokens_per_s", "val/loss"} <= tags, tags
    losses = [m["loss"] for m in _metrics(Path(cfg.trainer.run_dir)) if "loss" in m]
    assert [e.value for e in acc.Scalars("train/loss")] == pytest.approx(losses, rel=1e-6)
