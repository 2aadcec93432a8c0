"""The paper's schedule and the weight-decay parameter groups."""

from pathlib import Path

import pytest
import torch

from textbooks.model import Phi, PhiConfig
from textbooks.train.config import load_config
from textbooks.train.optim import build_optimizer, lr_at, param_groups

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "train"


def test_phi1_base_schedule():
    cfg = load_config(CONFIGS / "phi-1-base.yaml")
    lr = lambda s: lr_at(s, cfg.optimizer.lr, cfg.schedule)  # noqa: E731
    assert lr(0) == 0.0
    assert lr(375) == pytest.approx(5e-4)
    assert lr(750) == pytest.approx(1e-3)
    # step 24,000 of the 36,000-step linear decay: 1e-3 * (36000 - 24000) / (36000 - 750)
    assert lr(24000) == pytest.approx(1e-3 * 12000 / 35250) == pytest.approx(3.404e-4, rel=1e-3)
    assert lr(36000) == 0.0 and lr(40000) == 0.0
    values = [lr(s) for s in range(0, 36001, 250)]
    peak = values.index(max(values))
    assert all(a <= b for a, b in zip(values[:peak], values[1 : peak + 1]))  # rises, then
    assert all(a >= b for a, b in zip(values[peak:], values[peak + 1 :]))  # falls


def test_finetune_schedule_and_min_lr():
    cfg = load_config(CONFIGS / "phi-1-finetune.yaml", ["schedule.min_lr=1e-5"])
    assert lr_at(50, 1e-4, cfg.schedule) == pytest.approx(1e-4)
    assert lr_at(6000, 1e-4, cfg.schedule) == pytest.approx(1e-5)
    assert lr_at(3025, 1e-4, cfg.schedule) == pytest.approx(1e-5 + 9e-5 / 2)


def test_weight_decay_only_on_matrices():
    model = Phi(PhiConfig.preset("tiny", vocab_size=256, n_layer=2))
    decay, no_decay = param_groups(model, 0.1)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert "model.embed_tokens.weight" in no_decay["names"]
    for name in decay["names"]:
        assert name.endswith(("proj.weight", "dense.weight", "fc1.weight", "fc2.weight", "lm_head.weight")), name
    assert "lm_head.weight" in decay["names"] and "model.layers.0.self_attn.q_proj.weight" in decay["names"]
    for name in no_decay["names"]:
        assert name.endswith(".bias") or "layernorm" in name or name == "model.embed_tokens.weight", name
    n_all = sum(1 for _ in model.parameters())
    assert len(decay["names"]) + len(no_decay["names"]) == n_all
    opt = build_optimizer(model, load_config(None, ["optimizer.weight_decay=0.1"]).optimizer, "cpu")
    assert [g["weight_decay"] for g in opt.param_groups] == [0.1, 0.0]
    assert opt.param_groups[0]["betas"] == (0.9, 0.98) and opt.param_groups[0]["eps"] == 1e-7


def test_decayed_and_undecayed_parameters_behave(tmp_path):
    """With zero gradients, AdamW shrinks only the decayed group."""
    model = Phi(PhiConfig.preset("tiny", vocab_size=256, n_layer=1))
    opt = build_optimizer(model, load_config(None, ["optimizer.weight_decay=0.5", "optimizer.lr=0.1"]).optimizer, "cpu")
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    after = dict(model.named_parameters())
    assert torch.allclose(after["lm_head.weight"], before["lm_head.weight"] * (1 - 0.1 * 0.5))
    assert torch.equal(after["model.embed_tokens.weight"], before["model.embed_tokens.weight"])
    assert torch.equal(after["model.layers.0.input_layernorm.weight"], before["model.layers.0.input_layernorm.weight"])
