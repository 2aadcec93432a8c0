"""The trainer: one loop for phi-1 pretraining and finetuning (paper §2.3), resumable bit for bit.

    summary = Trainer(load_config("configs/train/demo-tiny.yaml")).fit()
    summary = train("configs/train/phi-1-base.yaml", ["trainer.run_dir=runs/base"], resume=True)

Launch (see also `textbooks train --help`):
    CPU smoke:   textbooks train --config configs/train/demo-tiny.yaml
    1 GPU:       textbooks train --config configs/train/phi-1-base.yaml --set trainer.run_dir=runs/base
    8 GPUs:      torchrun --standalone --nproc_per_node=8 -m textbooks train --config configs/train/phi-1-base.yaml
    2 nodes:     torchrun --nnodes=2 --nproc_per_node=8 --rdzv_backend=c10d --rdzv_endpoint=HOST:29500 \
                     -m textbooks train --config configs/train/phi-1-base.yaml --resume
    Plan only:   textbooks train --config configs/train/phi-1-base.yaml --dry-run --world-size 8 --gpu H100

This file is the orchestration; each job lives in its own module, readable and tested alone:
    inputs.py      packed data, tokenizer discovery, model shape and initial weights (checked before step 1)
    engine.py      one optimizer update and the validation loss (TrainStep), runtime settings, peak FLOPs
    checkpoint.py  atomic checkpoint directories, crash recovery, pruning, `best` (Checkpointer)
    state.py       the trainer state on disk without pickle (JSON + safetensors)
    metrics.py     metrics.jsonl / TensorBoard / progress, and the loss window each log line averages
    resume.py      what may change on --resume, and the run's history.jsonl
    lock.py        one launch per run_dir (an flock on run_dir/.lock)
    plan.py        --dry-run: batch arithmetic, tokens, FLOPs and hours
    parallel.py    torchrun setup and DDP / FSDP2 applied from outside the model

One optimizer step = `grad_accum_steps` micro-batches of `micro_batch_size` sequences on each of the
`world_size` ranks. The loss is token-weighted over the whole step (all micro-batches and ranks): the
plain mean when every token carries loss (pretraining), each completion token weighted equally with
completion-only targets. Update number s (1-based) uses lr_at(s) (textbooks/train/optim.py).

Ctrl-C / SIGTERM finish the current step, write a checkpoint and stop (CLI exit code 130); under torchrun
Ctrl-C reaches torchrun, which forwards it to the workers and SIGKILLs them after its close timeout (30 s),
so a very slow checkpoint write can be cut short there (the previous checkpoint stays valid: saves are
atomic at every point). `trainer.max_minutes` stops the same way after a time budget.

Exact resume: a checkpoint holds the model, optimizer, scaler, schedule position, every rank's RNG
states, the data-loader position and the open loss window; metrics.jsonl lines after the checkpoint's
step are dropped on resume. Resuming on another number of ranks continues the data order exactly (the
loader state is global) but reseeds the dropout streams. The validation set is fixed by tokens, so the
validation loss of a checkpoint is the same on any number of ranks.
With `trainer.deterministic: true`, fp32 and fixed `cpu_threads`, a run killed at any moment and resumed
logs the same losses, bit for bit, as one that never stopped (tests/train/test_resume.py).
"""

from __future__ import annotations

import math
import os
import random
import signal
import sys
import threading
import time
import weakref
from pathlib import Path

import numpy as np
import torch

from textbooks.model.phi import model_flops_per_token
from textbooks.train import parallel
from textbooks.train.checkpoint import STATE_FILE, Checkpointer, CheckpointSaveError
from textbooks.train.config import ConfigError, TrainConfig, load_config, resolve_grad_accum

# Re-exported: benchmarks/bench_train*.py drive the same step the trainer runs.
from textbooks.train.engine import TrainStep, configure_runtime, peak_flops_for  # noqa: F401
from textbooks.train.inputs import build_model, find_tokenizer, open_datasets, resolve_model_config
from textbooks.train.metrics import LossWindow, MetricsLogger
from textbooks.train.optim import lr_at
from textbooks.train.lock import RunDirLock
from textbooks.train.resume import append_history, check_allow_keys, check_stop_step, checkpoint_config, compare_for_resume


def train(config: TrainConfig | str | Path, overrides: list[str] | tuple[str, ...] = (), *, resume: bool = False,
          allow_config_change: list[str] | tuple[str, ...] = ()) -> dict:
    """Train from a config (object or YAML path + `section.key=value` overrides); returns `Trainer.fit()`'s summary."""
    if not isinstance(config, TrainConfig):
        config = load_config(config, overrides)
    elif overrides:
        raise ValueError("overrides apply to a YAML path; edit the TrainConfig object directly")
    return Trainer(config, resume=resume, allow_config_change=allow_config_change).fit()


class Trainer:
    """Builds everything from `config` (validating inputs before any step) and runs `fit()`.

    From `setup()` until `fit()` returns (or `close()`), the process holds run_dir's lock (textbooks/train/lock.py):
    another launch into the same run_dir is refused meanwhile.

    `allow_config_change`: config keys (or sections) that may differ from the checkpoint's on resume
    beyond textbooks.train.resume.RESUME_MAY_CHANGE; each difference is recorded in run_dir/history.jsonl.
    """

    def __init__(self, config: TrainConfig, *, resume: bool = False, allow_config_change: list[str] | tuple[str, ...] = ()):
        self.cfg = config
        self.resume = resume
        self.allow_config_change = list(allow_config_change)
        self.run_dir = Path(config.trainer.run_dir)
        self.ckpt_root = self.run_dir / "checkpoints"
        self._stop_requested = False
        self._stop_signal = None
        self._saved_step = None
        self._ready = False
        self._lock = None

    # ------------------------------------------------------------------------------------------------
    # setup: every check that can fail happens here, before the first step; nothing is written yet
    # ------------------------------------------------------------------------------------------------
    def setup(self) -> None:
        """Open data, tokenizer, model, optimizer; load the checkpoint on resume. Idempotent; `fit` calls it."""
        if self._ready:
            return
        cfg, t = self.cfg, self.cfg.trainer
        if self.allow_config_change and not self.resume:
            raise ConfigError("--allow-config-change only applies with --resume (it allows differences from a checkpoint)")
        parallel.check_parallel_mode(t.parallel, parallel.launched_world_size())  # before any process group forms
        if t.deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # needed by deterministic cuBLAS
        self.info = info = parallel.init_distributed(t.device)
        configure_runtime(t, info)
        self.grad_accum = resolve_grad_accum(t, info.world_size)
        self.global_batch = t.micro_batch_size * self.grad_accum * info.world_size

        from textbooks.train.data import TokenWindowLoader, ValidationSet

        train_sets, val_sets = open_datasets(cfg.data, validate=t.val_every > 0)
        self.val_set = ValidationSet(val_sets, cfg.data.seq_len, t.val_tokens) if val_sets else None
        self.tokenizer = find_tokenizer(cfg, train_sets, val_sets)
        self.model_config = resolve_model_config(cfg, self.tokenizer)
        self.flops_per_token = model_flops_per_token(self.model_config, cfg.data.seq_len)
        self.peak_flops = peak_flops_for(info.device, t.peak_flops)

        # One launch per run_dir (textbooks/train/lock.py), taken before anything in it is read or written;
        # rank 0 holds it for the launch and every rank learns whether it got it.
        lock_error = None
        if info.is_main:
            try:
                self._lock = RunDirLock.acquire(self.run_dir)
                weakref.finalize(self, self._lock.release)  # a Trainer only set up, never fitted
            except ConfigError as e:
                lock_error = e
        if parallel.any_rank((lock_error is not None,), info)[0]:
            raise lock_error or ConfigError(f"{self.run_dir} is in use by another launch (rank 0 reports it)")

        self.checkpoints = Checkpointer(self.ckpt_root, keep_last=t.keep_last, keep_best=t.keep_best_by_val)
        if info.is_main:
            self.checkpoints.recover()  # finish a save a crash interrupted, so `latest` sees the newest checkpoint
        parallel.barrier(info)
        existing = self.checkpoints.latest()
        if info.is_main:
            for skipped in self.checkpoints.skipped(existing):
                print(f"warning: skipping {skipped}: it has no {STATE_FILE} (an incomplete or damaged checkpoint); "
                      f"{'resuming from ' + existing.name if existing else 'no complete checkpoint is left'}; move it "
                      f"away to silence this", file=sys.stderr)
        if existing is not None and not self.resume:
            raise ConfigError(
                f"{self.run_dir} already has checkpoints (latest {existing.name}); pass --resume to continue that run, "
                f"or choose another trainer.run_dir"
            )
        self.resume_from = existing if self.resume else None
        state = None
        self.config_changes: list[dict] = []
        if self.resume_from is not None:
            state = Checkpointer.load_state(self.resume_from)
            check_stop_step(cfg, state["step"], self.resume_from)
            self.config_changes = compare_for_resume(
                checkpoint_config(self.resume_from), cfg, old_global_batch=state["global_batch"],
                new_global_batch=self.global_batch, allowed=self.allow_config_change, checkpoint=self.resume_from,
                old_world_size=state["world_size"], new_world_size=info.world_size,
            )
        elif self.allow_config_change:
            check_allow_keys(self.allow_config_change, cfg)  # a typo is an error even when there is nothing to resume

        # Same seed on every rank for the initial weights; then per-rank streams (dropout differs by rank).
        _seed_all(t.seed)
        source = self.resume_from or cfg.model.init_from
        self.model = build_model(self.model_config, source, "--resume checkpoint" if self.resume_from else "model.init_from")
        _seed_all(t.seed + 1 + info.rank)
        self.engine = TrainStep(self.model, t, cfg.optimizer, info)
        self.loader = TokenWindowLoader(train_sets, seq_len=cfg.data.seq_len, batch_size=t.micro_batch_size,
                                        seed=t.seed, rank=info.rank, world_size=info.world_size)
        self.window = LossWindow(info.device)
        self.step = 0
        self.tokens_seen = 0
        self.best_val = math.inf
        self.best_step = None
        if state is not None:
            try:
                self._restore(state)
            except ConfigError:
                raise
            except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as e:  # passed the schema, still unusable
                raise ConfigError(
                    f"cannot restore the trainer state of {self.resume_from} ({type(e).__name__}: {e}); the checkpoint is "
                    f"damaged: move {self.resume_from} away to resume from the one before it"
                ) from None
        self._ready = True

    def close(self) -> None:
        """Release run_dir for other launches (`fit` does this when it returns; call it after a `setup()` alone)."""
        if self._lock is not None:
            self._lock.release()

    # ------------------------------------------------------------------------------------------------
    # checkpoints
    # ------------------------------------------------------------------------------------------------
    def _rng_state(self) -> dict:
        state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
        if self.info.device.type == "cuda":
            state["cuda"] = torch.cuda.get_rng_state(self.info.device)
        return state

    def _set_rng_state(self, state: dict) -> None:
        random.setstate(state["python"])
        np.random.set_state(state["numpy"])
        torch.set_rng_state(state["torch"])
        if "cuda" in state and self.info.device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda"], self.info.device)

    def checkpoint(self, val_loss: float | None = None) -> Path | None:
        """Write run_dir/checkpoints/step_NNNNNN (collective; rank 0 writes), moving `best` if val_loss is the
        lowest so far. Returns its path on rank 0."""
        t, info = self.cfg.trainer, self.info
        is_best = val_loss is not None and val_loss < self.best_val
        if is_best:
            self.best_val, self.best_step = val_loss, self.step
        model_state = parallel.full_model_state(self.model, t, info)
        optim_state = parallel.full_optimizer_state(self.model, self.engine.optimizer, t, info)
        rng = parallel.gather_objects(self._rng_state(), info)
        window = self.window.state_dict()  # every rank: float() of a device tensor syncs, so all take part
        path = error = None
        if info.is_main:
            state = {
                "step": self.step,
                "tokens_seen": self.tokens_seen,
                "global_batch": self.global_batch,
                "world_size": info.world_size,
                "lr": lr_at(self.step, self.cfg.optimizer.lr, self.cfg.schedule),
                "best_val_loss": self.best_val if math.isfinite(self.best_val) else None,
                "best_step": self.best_step,
                "loss_window": window,
                "data": self.loader.state_dict(),  # identical on every rank
                "rng": rng,
                "optimizer": optim_state,
                "scaler": self.engine.scaler.state_dict() if self.engine.scaler is not None else None,
            }
            try:
                path = self.checkpoints.save(self.step, model_state=model_state, model_config=self.model_config,
                                             tokenizer=self.tokenizer, trainer_state=state, config=self.cfg,
                                             is_best=is_best)
            except CheckpointSaveError as e:
                error = e
        if parallel.any_rank((error is not None,), info)[0]:  # every rank stops, none waits on a barrier
            raise error or CheckpointSaveError("checkpoint save failed on rank 0 (rank 0 reports why)")
        self._saved_step = self.step
        return path

    def _restore(self, state: dict) -> None:
        parallel.load_optimizer_state(self.model, self.engine.optimizer, state["optimizer"], self.cfg.trainer, self.info)
        if self.engine.scaler is not None and state.get("scaler"):
            self.engine.scaler.load_state_dict(state["scaler"])
        # The loader's state is the same on every rank and valid for any world size (textbooks/train/data.py).
        # The config comparison refuses what would change the data order (resume.RESUME_NEVER); this catches
        # packed data that changed on disk under the same config.
        from textbooks.train.data import PackedDataError

        try:
            self.loader.load_state_dict(state["data"])
        except PackedDataError as e:
            raise ConfigError(
                f"--resume {self.resume_from}: {e}. The data order cannot continue; restore the packed data the run was "
                f"trained on, or start a new run from these weights with model.init_from={self.resume_from}"
            ) from None
        if state["world_size"] == self.info.world_size:
            self._set_rng_state(state["rng"][self.info.rank])
        else:  # other ranks' dropout streams cannot be mapped: resume correctly, but not bit for bit
            _seed_all(self.cfg.trainer.seed + 1 + self.info.rank + 7919 * state["step"])
            if self.info.is_main:
                print(f"note: {self.resume_from} was written by {state['world_size']} processes, this run has "
                      f"{self.info.world_size}: data order continues exactly; dropout RNG streams are reseeded",
                      file=sys.stderr)
        self.step = state["step"]
        self.tokens_seen = state["tokens_seen"]
        self.best_val = state["best_val_loss"] if state["best_val_loss"] is not None else math.inf
        self.best_step = state["best_step"]
        self.window.load_state_dict(state["loss_window"])
        if any(c["key"] == "logging.log_every" for c in self.config_changes):
            # The open window was aligned to the old grid: start a fresh one here, so the first line averages
            # (resume step, next multiple of the new log_every] and later lines the full (s - log_every, s].
            self.window.reset()
        # This step is on disk already: stopping right away must not rewrite it.
        self._saved_step = self.step

    # ------------------------------------------------------------------------------------------------
    # the loop
    # ------------------------------------------------------------------------------------------------
    def train_step(self) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimizer update on the next `grad_accum_steps` micro-batches; returns (loss, grad norm) tensors."""
        lr = lr_at(self.step + 1, self.cfg.optimizer.lr, self.cfg.schedule)  # update number step+1 (1-based)
        batches = [next(self.loader) for _ in range(self.grad_accum)]
        loss, grad_norm = self.engine(batches, lr)
        self.step += 1
        self.tokens_seen += self.global_batch * self.cfg.data.seq_len
        return loss, grad_norm

    def evaluate(self) -> float:
        """Token-weighted loss over the fixed validation set (textbooks/train/data.py ValidationSet); collective."""
        return self.engine.evaluate(len(self.val_set), self.val_set.window)

    def fit(self) -> dict:
        """Run to `schedule.stop_step` (or Ctrl-C / SIGTERM / `trainer.max_minutes`: checkpoint and stop).

        Returns {"final_loss", "val_loss" (last measured), "checkpoint", "tokens_per_s", "steps", "tokens_seen",
        "best_checkpoint", "best_val_loss", "run_dir", "interrupted", "stopped_by_time_budget", "nothing_to_do"
        (resumed at stop_step already: nothing trained or written)} (paths on rank 0).
        """
        try:
            self.setup()
            summary = self._fit()
            # Every rank is done with its collectives before any tears its process group down: a rank leaving
            # while another still talks to it over gloo aborted at exit now and then ("terminate called without
            # an active exception", SIGABRT after a finished run). Only on success: _fit has already made every
            # rank stop together on an error, and a barrier after one could wait for a rank that is gone.
            parallel.barrier(self.info)
            return summary
        finally:
            self.close()
            parallel.shutdown_distributed(synchronize=False)  # the barrier above, only on success

    def _fit(self) -> dict:
        cfg, t, info = self.cfg, self.cfg.trainer, self.info
        stop = cfg.stop_step
        if self.resume_from is not None and self.step >= stop:  # a finished run: write nothing, log nothing
            return self._summary(last_path=self.resume_from if info.is_main else None, last_loss=None, last_val=None,
                                 tokens_per_s=None, interrupted=False, out_of_time=False, nothing_to_do=True)
        log = MetricsLogger(self.run_dir, cfg.logging, self.step, stop) if info.is_main else None
        previous: dict = {}  # signal handlers to restore
        try:  # from here on, the finally below closes the log (metrics file, TensorBoard writer)
            if info.is_main:
                cfg.save(self.run_dir / "config.yaml")  # this launch's config; history.jsonl says what changed
                append_history(self.run_dir, event="resume" if self.resume_from else "start", step=self.step,
                               checkpoint=self.resume_from, world_size=info.world_size,
                               global_batch=self.global_batch, changes=self.config_changes)
                for c in self.config_changes:
                    log.message(f"config change on resume: {c['key']}: {c['from']!r} -> {c['to']!r} ({c['allowed_by']})")
                log.message(
                    f"{'resuming from ' + str(self.resume_from) if self.resume_from else 'starting'}: "
                    f"{self.model.num_params():,} parameters, step {self.step} -> {stop}, global batch {self.global_batch} "
                    f"= {t.micro_batch_size} x {self.grad_accum} accum x {info.world_size} ranks, seq_len {cfg.data.seq_len}, "
                    f"{t.precision} on {info.device}"
                )
                if self.val_set is not None:
                    summary, warnings = self.val_set.describe(t.val_tokens)
                    log.message(summary)
                    for w in warnings:
                        log.message(f"warning: {w}")
                if any(c["key"] == "logging.log_every" for c in self.config_changes):
                    log.message(f"logging.log_every changed: a fresh log window starts at step {self.step}")
            # Ctrl-C / SIGTERM (schedulers' preemption notice) -> checkpoint at the end of this step. Python only lets
            # the main thread install handlers; elsewhere (a trainer run from a thread) the defaults stay.
            if threading.current_thread() is threading.main_thread():
                previous.update({sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)})
            for sig in previous:
                signal.signal(sig, self._request_stop)
            interrupted = out_of_time = False
            deadline = time.monotonic() + 60 * t.max_minutes if t.max_minutes else None
            last_path = last_val = tokens_per_s = last_loss = None
            while self.step < stop:
                past_deadline = deadline is not None and time.monotonic() > deadline
                interrupted, out_of_time = parallel.any_rank((self._stop_requested, past_deadline), info)
                if interrupted or out_of_time:
                    break
                loss, grad_norm = self.train_step()
                self.window.add(loss)
                now = self.step
                on_grid = now % cfg.logging.log_every == 0  # windows are aligned to absolute steps (metrics.py)
                if on_grid or now == stop:
                    mean_loss = self.window.mean()
                    if not math.isfinite(mean_loss):
                        raise FloatingPointError(
                            f"loss is {mean_loss} at step {now}; lower optimizer.lr, enable optimizer.grad_clip, or "
                            f"use precision bf16 (fp16 overflows without a working GradScaler)"
                        )
                    seconds = max(self.window.seconds(), 1e-9)
                    tokens_per_s = self.window.steps * self.global_batch * cfg.data.seq_len / seconds
                    last_loss = mean_loss
                    if log:
                        log.metrics(step=now, loss=mean_loss, lr=lr_at(now, cfg.optimizer.lr, cfg.schedule),
                                    grad_norm=float(grad_norm), tokens_seen=self.tokens_seen,
                                    tokens_per_s=tokens_per_s, mfu=self._mfu(tokens_per_s))
                    if on_grid:  # an off-grid last step stays open in the checkpoint for a later, longer run
                        self.window.reset()
                pause_start = time.perf_counter()
                val_loss = None
                want_val = t.val_every > 0 and (now % t.val_every == 0 or now == stop)
                want_ckpt = now % t.checkpoint_every == 0 or now == stop
                if t.keep_best_by_val and want_ckpt:
                    want_val = True  # every checkpoint gets a val loss, so `best` is chosen among them
                if want_val:
                    val_loss = last_val = self.evaluate()
                    if log:
                        log.metrics(step=now, val_loss=val_loss)
                if want_ckpt:
                    last_path = self.checkpoint(val_loss)
                self.window.exclude(time.perf_counter() - pause_start)
                if log:
                    log.advance()
            if (interrupted or out_of_time) and self._saved_step != self.step:
                last_path = self.checkpoint(None)
            if out_of_time and log:
                log.message(f"time budget trainer.max_minutes={t.max_minutes} reached at step {self.step}: checkpoint {last_path}")
            if interrupted and log:
                log.message(f"interrupted at step {self.step}: checkpoint {last_path}; continue with the same command plus --resume")
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if log:
                log.close()
        if last_path is None and info.is_main:
            last_path = self.checkpoints.latest()
        return self._summary(last_path=last_path, last_loss=last_loss, last_val=last_val, tokens_per_s=tokens_per_s,
                             interrupted=interrupted, out_of_time=out_of_time)

    def _summary(self, *, last_path, last_loss, last_val, tokens_per_s, interrupted, out_of_time,
                 nothing_to_do=False) -> dict:
        best = self.checkpoints.best() if self.info.is_main else None
        return {
            "run_dir": str(self.run_dir),
            "steps": self.step,
            "tokens_seen": self.tokens_seen,
            "final_loss": last_loss,
            "val_loss": last_val,
            "tokens_per_s": tokens_per_s,
            "checkpoint": str(last_path) if last_path else None,
            "best_checkpoint": str(best) if best else None,
            "best_val_loss": self.best_val if math.isfinite(self.best_val) else None,
            "interrupted": interrupted,
            "stopped_by_time_budget": out_of_time,
            "nothing_to_do": nothing_to_do,
        }

    def _mfu(self, tokens_per_s: float) -> float | None:
        if self.peak_flops is None:
            return None
        return tokens_per_s / self.info.world_size * self.flops_per_token / self.peak_flops

    def _request_stop(self, signum, frame) -> None:
        # A second Ctrl-C aborts without a checkpoint. SIGTERM never does: torchrun forwards Ctrl-C to its
        # workers as SIGTERM, which then arrives right after the terminal's own SIGINT.
        if self._stop_requested and signum == signal.SIGINT and self._stop_signal == signal.SIGINT:
            raise KeyboardInterrupt
        if self._stop_requested:
            return
        self._stop_requested, self._stop_signal = True, signum
        if self.info.is_main:
            print(f"\n{signal.Signals(signum).name}: finishing this step, writing a checkpoint, then stopping "
                  f"(press Ctrl-C again to abort without one)", file=sys.stderr, flush=True)


def _seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
