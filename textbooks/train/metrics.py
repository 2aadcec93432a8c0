"""What rank 0 reports while training: metrics.jsonl, TensorBoard, a progress bar or log lines, and the
running loss window whose average each log line shows.

    window = LossWindow(device)
    window.add(loss)                                  # every step (a device tensor: no sync per step)
    if step % log_every == 0: log.metrics(step=step, loss=window.mean(), ...); window.reset()
    state["loss_window"] = window.state_dict()        # in the checkpoint

Windows are aligned to absolute steps: the line at step s averages steps (s - log_every, s]. The losses of
a window still open at a checkpoint are saved with it, so a run killed at any step and resumed logs the same
averages as one that never stopped (tests/train/test_resume.py). The last step (`stop_step`) is always
logged; if it is not a multiple of log_every its window stays open in the checkpoint, so a run extended
later (a larger stop_step) continues the same windows. A resume that changes `logging.log_every` starts a
fresh window at the resume step instead (the saved one belongs to the old grid): the first line then
averages (resume step, next multiple of the new log_every].
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import torch


class LossWindow:
    """Per-step losses since the last multiple of log_every, and the training time they took."""

    def __init__(self, device: torch.device):
        self.device = device
        self.reset()

    def reset(self) -> None:
        self.losses: list[torch.Tensor] = []
        self._seconds = 0.0  # time of earlier parts of this window (before a resume)
        self._since = time.perf_counter()
        self._excluded = 0.0

    def add(self, loss: torch.Tensor) -> None:
        self.losses.append(loss.detach())

    def exclude(self, seconds: float) -> None:
        """Time spent on validation or checkpoints: not part of the training throughput."""
        self._excluded += seconds

    @property
    def steps(self) -> int:
        return len(self.losses)

    def seconds(self) -> float:
        return self._seconds + time.perf_counter() - self._since - self._excluded

    def mean(self) -> float:
        return float(torch.stack(self.losses).mean())  # syncs the device once per log line

    def state_dict(self) -> dict:
        # float(fp32 tensor) is exact in a Python float, so the restored tensors are bit for bit the same
        return {"losses": [float(x) for x in self.losses], "seconds": self.seconds()}

    def load_state_dict(self, state: dict) -> None:
        self.reset()
        self.losses = [torch.tensor(x, dtype=torch.float32, device=self.device) for x in state["losses"]]
        self._seconds = float(state["seconds"])


class MetricsLogger:
    """Rank 0's outputs: metrics.jsonl, TensorBoard, and a progress bar or plain log lines."""

    def __init__(self, run_dir: Path, logging_cfg, start_step: int, stop: int):
        self.path = run_dir / "metrics.jsonl"
        run_dir.mkdir(parents=True, exist_ok=True)
        truncate_metrics(self.path, start_step)
        self.file = self.path.open("a")
        self.tb = None
        if logging_cfg.tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            # purge_step drops events a killed run logged after the checkpoint we resume from.
            self.tb = SummaryWriter(str(run_dir / "tensorboard"), purge_step=start_step + 1 if start_step else None)
        use_bar = logging_cfg.progress == "bar" or (logging_cfg.progress == "auto" and sys.stderr.isatty())
        self.bar = None
        if use_bar:
            from tqdm import tqdm

            self.bar = tqdm(total=stop, initial=start_step, desc="train", unit="step", dynamic_ncols=True)
        self.stop = stop

    def message(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr, flush=True)

    def metrics(self, step: int, **values) -> None:
        record = {"step": step, **values}
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()
        if self.tb is not None:
            for k, v in values.items():
                if v is not None:
                    self.tb.add_scalar(f"train/{k}" if k != "val_loss" else "val/loss", v, step)
        if "loss" in values:
            text = (f"step {step}/{self.stop} | loss {values['loss']:.4f} | lr {values['lr']:.3g} | "
                    f"grad {values['grad_norm']:.3f} | {values['tokens_per_s']:,.0f} tok/s")
            if values.get("mfu") is not None:
                text += f" | mfu {100 * values['mfu']:.1f}%"
            if self.bar is not None:
                self.bar.set_postfix_str(f"loss {values['loss']:.4f}, {values['tokens_per_s']:,.0f} tok/s")
            else:
                self.message(text)
        else:
            self.message(f"step {step}/{self.stop} | val_loss {values['val_loss']:.4f}")

    def advance(self) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.file.close()
        if self.tb is not None:
            self.tb.close()  # flushes; the writer is ours alone


def truncate_metrics(path: Path, step: int) -> None:
    """Keep only complete records up to `step` (a killed run may have logged past its last checkpoint)."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a half-written last line
        if record.get("step", 0) <= step:
            kept.append(line)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(line + "\n" for line in kept))
    os.replace(tmp, path)
