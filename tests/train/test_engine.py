"""The engine alone: the validation loss is the token-weighted mean over exactly the windows given."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from textbooks.model import Phi, PhiConfig
from textbooks.train.config import OptimizerSection, TrainerSection
from textbooks.train.engine import TrainStep
from textbooks.train.parallel import DistInfo


def test_evaluate_is_the_token_weighted_mean_over_the_windows():
    torch.manual_seed(0)
    model = Phi(PhiConfig(vocab_size=64, n_layer=1, d_model=32, n_head=2, d_mlp=64, rotary_dim=8, max_seq_len=16))
    engine = TrainStep(model, TrainerSection(precision="fp32", device="cpu", compile=False), OptimizerSection(), DistInfo())
    windows = [torch.randint(0, 64, (1, 9)) for _ in range(3)]
    pairs = [(w[:, :-1], w[:, 1:].clone()) for w in windows]
    pairs[1][1][0, :5] = -100  # a window with fewer loss targets weighs less
    pairs[2][1][:] = -100  # and one with none counts nothing

    got = engine.evaluate(len(pairs), lambda i: pairs[i])
    with torch.no_grad():
        x = torch.cat([p[0] for p in pairs])
        y = torch.cat([p[1] for p in pairs])
        want = F.cross_entropy(model(x).flatten(0, 1), y.flatten(), ignore_index=-100).item()
    assert got == pytest.approx(want, rel=1e-6)
    assert model.training  # back in training mode
