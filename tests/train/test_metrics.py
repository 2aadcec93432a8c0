"""The metrics logger's pieces alone: the loss window survives a checkpoint bit for bit; resumed logs drop
what a killed run wrote past its checkpoint."""

from __future__ import annotations

import json

import torch

from textbooks.train.metrics import LossWindow, truncate_metrics


def test_loss_window_state_restores_the_same_mean():
    losses = [torch.tensor(x, dtype=torch.float32) for x in (2.123456789, 1.987654321, 1.5, 1.25)]
    whole = LossWindow(torch.device("cpu"))
    for x in losses:
        whole.add(x)
    part = LossWindow(torch.device("cpu"))
    for x in losses[:3]:
        part.add(x)
    state = json.loads(json.dumps(part.state_dict()))  # as stored in trainer_state.json
    resumed = LossWindow(torch.device("cpu"))
    resumed.load_state_dict(state)
    resumed.add(losses[3])
    assert resumed.steps == 4 and resumed.mean() == whole.mean()  # exact
    assert resumed.seconds() >= state["seconds"]
    resumed.reset()
    assert resumed.steps == 0 and resumed.state_dict()["losses"] == []


def test_truncate_metrics_keeps_complete_records_up_to_the_step(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1, "loss": 3}\n{"step": 2, "val_loss": 2}\n{"step": 3, "loss": 1}\n{"step": 4, "lo')
    truncate_metrics(path, 2)
    assert [json.loads(line)["step"] for line in path.read_text().splitlines()] == [1, 2]
