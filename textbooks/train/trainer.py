"""The trainer: one loop for phi-1 pretraining and finetuning (paper §2.3), resumable bit for bit.

    summary = Trainer(load_config("configs/train/demo-tiny.yaml")).fit()
    summary = train("configs/train/phi-1-base.yaml", ["trainer.run_dir=runs/base"], resume=True)

Launch (see also `textbooks train --help`):
    CPU smoke:   textbooks train --config configs/train/demo-tiny.yaml
    1 GPU:       textbooks train --config configs/train/phi-1-base.yaml --set trainer.run_dir=runs/base
    8 GPUs:      torchrun --standalone --nproc_per_node=8 -m textbooks train --config configs/train/phi-1-base.yaml
    2 nodes:     torchrun --nnodes=2 --nproc_per_node=8 --rdzv_backend=c10d --rdzv_endpoint=HOST:29500 \
                     -m textbooks train --config configs/train/phi-1-base.yaml --resume

One optimizer step = `grad_accum_steps` micro-batches of `micro_batch_size` sequences on each of the
`world_size` ranks. The loss is token-weighted over the whole step (all micro-batches and ranks): the
plain mean when every token carries loss (pretraining), each completion token weighted equally with
completion-only targets. Update number s (1-based) uses lr_at(s) (textbooks/train/optim.py).

Ctrl-C / SIGTERM finish the current step, write a checkpoint and stop (CLI exit code 130); under torchrun
Ctrl-C reaches torchrun, which forwards it to the workers and SIGKILLs them after its close timeout (30 s),
so a very slow checkpoint write can be cut short there (the previous periodic checkpoint stays valid).
`trainer.max_minutes` stops the same way after a time budget.

Exact resume: a checkpoint holds the model, optimizer, scaler, schedule position, every rank's RNG
states and data-loader position; metrics.jsonl lines after the checkpoint's step are dropped on resume.
Resuming on another number of ranks continues the data order exactly (the loader state is global) but
reseeds the dropout streams.
With `trainer.deterministic: true`, fp32 and fixed `cpu_threads`, a run killed at any moment and resumed
logs the same losses, bit for bit, as one that never stopped (tests/train/test_resume.py).
"""

from __future__ import annotations

import json
import math
import os
import pickle
import random
import signal
import sys
import threading
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

from textbooks.model.config import PhiConfig
from textbooks.model.phi import Phi, model_flops_per_token
from textbooks.train import checkpoint as ckpt
from textbooks.train import parallel
from textbooks.train.config import (
    ConfigError,
    OptimizerSection,
    TrainConfig,
    TrainerSection,
    load_config,
    resolve_grad_accum,
)
from textbooks.train.optim import build_optimizer, lr_at, set_lr

# Dense bf16/fp16 peak FLOP/s per GPU (torchtitan tools/utils.py get_peak_flops; no 2:4 sparsity).
# Checked in order: the first substring of torch.cuda.get_device_name() that matches wins.
PEAK_FLOPS = [
    ("H200", 989e12),
    ("H100 NVL", 835e12),
    ("H100 PCIe", 756e12),
    ("H100", 989e12),  # SXM
    ("H800", 989e12),
    ("A100", 312e12),
    ("A800", 312e12),
    ("L40S", 362e12),
    ("A10G", 125e12),
    ("L4", 121e12),
]

# init_from + overrides may only change what does not alter the weights' shapes.
_FINETUNE_OVERRIDABLE = {"attn_dropout", "resid_dropout", "embd_dropout", "max_seq_len"}
_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def peak_flops_for(device: torch.device, configured: float | None) -> float | None:
    if configured is not None:
        return configured
    if device.type != "cuda":
        return None  # no meaningful table for CPUs: MFU is null unless trainer.peak_flops is set
    name = torch.cuda.get_device_name(device)
    for key, flops in PEAK_FLOPS:
        if key in name:
            return flops
    return None


def train(config: TrainConfig | str | Path, overrides: list[str] | tuple[str, ...] = (), *, resume: bool = False) -> dict:
    """Train from a config (object or YAML path + `section.key=value` overrides); returns `Trainer.fit()`'s summary."""
    if not isinstance(config, TrainConfig):
        config = load_config(config, overrides)
    elif overrides:
        raise ValueError("overrides apply to a YAML path; edit the TrainConfig object directly")
    return Trainer(config, resume=resume).fit()


class Trainer:
    """Builds everything from `config` (validating inputs before any step) and runs `fit()`."""

    def __init__(self, config: TrainConfig, *, resume: bool = False):
        self.cfg = config
        self.resume = resume
        self.run_dir = Path(config.trainer.run_dir)
        self.ckpt_root = self.run_dir / "checkpoints"
        self._stop_requested = False
        self._stop_signal = None
        self._saved_step = None

    # ------------------------------------------------------------------------------------------------
    # setup: every check that can fail happens here, before the first step
    # ------------------------------------------------------------------------------------------------
    def _setup(self) -> None:
        cfg, t = self.cfg, self.cfg.trainer
        if t.deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # needed by deterministic cuBLAS
        self.info = parallel.init_distributed(t.device)
        info = self.info
        configure_runtime(t, info)
        self.grad_accum = resolve_grad_accum(t, info.world_size)
        self.global_batch = t.micro_batch_size * self.grad_accum * info.world_size

        self._open_data()
        self.tokenizer = self._load_tokenizer()
        self.model_config = self._model_config()
        self.flops_per_token = model_flops_per_token(self.model_config, cfg.data.seq_len)
        self.peak_flops = peak_flops_for(info.device, t.peak_flops)

        existing = ckpt.latest_checkpoint(self.ckpt_root)
        if existing is not None and not self.resume:
            raise ConfigError(
                f"{self.run_dir} already has checkpoints (latest {existing.name}); pass --resume to continue that run, "
                f"or choose another trainer.run_dir"
            )
        self.resume_from = existing if self.resume else None

        # Same seed on every rank for the initial weights; then per-rank streams (dropout differs by rank).
        _seed_all(t.seed)
        self.model = self._build_model()
        _seed_all(t.seed + 1 + info.rank)
        self.engine = TrainStep(self.model, t, cfg.optimizer, info)
        self.loader = self._make_loader(self.train_sets, seed=t.seed)

        self.step = 0
        self.tokens_seen = 0
        self.best_val = math.inf
        self.best_step = None
        if self.resume_from is not None:
            self._load_trainer_state(self.resume_from)

    def _open_data(self) -> None:
        from textbooks.train.data import PackedDataset

        d = self.cfg.data
        if not d.datasets:
            raise ConfigError("data.datasets is empty: list at least one packed dir (made by `textbooks data pack`)")
        self.train_sets = []
        for i, entry in enumerate(d.datasets):
            ds = _open_packed(PackedDataset, entry.path, "train", f"data.datasets[{i}].path")
            if ds.num_tokens < d.seq_len + 1:
                raise ConfigError(
                    f"data.datasets[{i}].path={entry.path}: only {ds.num_tokens} training tokens, fewer than one window of "
                    f"data.seq_len + 1 = {d.seq_len + 1}; pack more data or lower data.seq_len"
                )
            self.train_sets.append((ds, entry.weight))
        self.val_sets = []
        if self.cfg.trainer.val_every > 0:
            explicit = bool(d.val)
            for i, path in enumerate(d.val or [e.path for e in d.datasets]):
                key = f"data.val[{i}]" if explicit else f"data.datasets[{i}].path (val split)"
                ds = _open_packed(PackedDataset, path, "val", key)
                if ds.num_windows(d.seq_len) >= 1:
                    self.val_sets.append(ds)
                elif explicit:
                    raise ConfigError(f"{key}={path}: the val split has {ds.num_tokens} tokens, fewer than data.seq_len + 1")
            if not self.val_sets:
                raise ConfigError(
                    "trainer.val_every > 0 but no validation split with at least data.seq_len + 1 tokens was found in "
                    "data.val or the training dirs; pack with a validation fraction, set data.val, or set trainer.val_every=0"
                )

    def _load_tokenizer(self):
        """The tokenizer copied into checkpoints; every packed split (and init_from's tokenizer) must match it."""
        from textbooks.train.data import PackedDataError, check_tokenizer

        d = self.cfg.data
        candidates = []
        if d.tokenizer:
            candidates.append(("data.tokenizer", d.tokenizer))
        else:
            for ds, _ in self.train_sets:
                recorded = _meta_tokenizer_path(ds.meta)
                if recorded:
                    candidates.append((f"the tokenizer recorded in {ds.path}/meta.json", recorded))
                    break
            if self.cfg.model.init_from and (Path(self.cfg.model.init_from) / "tokenizer.json").is_file():
                candidates.append(("model.init_from", self.cfg.model.init_from))
        tok = None
        for source, path in candidates:
            if Path(path).is_dir():
                tok = _load_tokenizer_dir(path, source)
                break
            if source == "data.tokenizer":
                raise ConfigError(f"data.tokenizer={path}: directory not found")
        if tok is None:
            raise ConfigError(
                "cannot find the tokenizer to copy into checkpoints: set data.tokenizer to the directory passed to "
                "`textbooks data pack --tokenizer`"
            )
        for ds in [ds for ds, _ in self.train_sets] + self.val_sets:
            try:
                check_tokenizer(ds, tok)
            except PackedDataError as e:
                raise ConfigError(
                    f"tokenizer mismatch: {source} ({path}) is not the one the data was packed with: {e}; or, instead "
                    f"of re-packing, point data.tokenizer at the tokenizer used for packing"
                ) from None
        init = self.cfg.model.init_from
        if init and source != "model.init_from" and (Path(init) / "tokenizer.json").is_file():
            init_tok = _load_tokenizer_dir(init, "model.init_from")
            try:
                check_tokenizer(self.train_sets[0][0], init_tok)
            except PackedDataError as e:
                raise ConfigError(
                    f"model.init_from={init} was trained with another tokenizer than the packed data: {e}"
                ) from None
        return tok

    def _model_config(self) -> PhiConfig:
        m, d = self.cfg.model, self.cfg.data
        if m.init_from and m.preset:
            raise ConfigError("set either model.preset (train from scratch) or model.init_from (finetune), not both")
        if m.init_from:
            from textbooks.model.hf import CheckpointError, CheckpointNotFoundError, read_config

            if not (Path(m.init_from) / "config.json").is_file():
                raise ConfigError(
                    f"model.init_from={m.init_from}: no config.json there; point it at one of our checkpoints "
                    f"(runs/NAME/checkpoints/step_*) or an HF Phi directory"
                )
            bad = sorted(set(m.overrides) - _FINETUNE_OVERRIDABLE)
            if bad:
                raise ConfigError(
                    f"model.overrides.{bad[0]} would change the architecture of model.init_from; with init_from only "
                    f"{', '.join(sorted(_FINETUNE_OVERRIDABLE))} may be overridden"
                )
            try:
                base = read_config(Path(m.init_from)).to_dict()
            except (CheckpointError, CheckpointNotFoundError) as e:
                raise ConfigError(f"model.init_from={m.init_from}: {e}") from None
            try:
                config = PhiConfig.from_dict({**base, **m.overrides})
            except ValueError as e:
                raise ConfigError(f"model.overrides: {e}") from None
        elif m.preset:
            values = dict(m.overrides)
            values.setdefault("vocab_size", self.tokenizer.padded_vocab_size)
            try:
                config = PhiConfig.preset(m.preset, **values)
            except ValueError as e:
                raise ConfigError(f"model: {e}") from None
        else:
            raise ConfigError("set model.preset (e.g. phi-1, phi-1-small, tiny) or model.init_from (a checkpoint dir)")
        if config.vocab_size < self.tokenizer.vocab_size:
            raise ConfigError(
                f"model vocab_size {config.vocab_size} is smaller than the tokenizer's {self.tokenizer.vocab_size} tokens; "
                f"set model.overrides.vocab_size >= {self.tokenizer.vocab_size} (e.g. {self.tokenizer.padded_vocab_size})"
            )
        if d.seq_len > config.max_seq_len:
            raise ConfigError(
                f"data.seq_len={d.seq_len} is above the model's max_seq_len={config.max_seq_len}; lower data.seq_len "
                f"or raise model.overrides.max_seq_len"
            )
        return config

    def _build_model(self) -> Phi:
        source = self.resume_from or self.cfg.model.init_from
        if source is None:
            return Phi(self.model_config)
        from textbooks.model.hf import CheckpointError, CheckpointNotFoundError, load_pretrained

        # Built once, on the meta device, with the run's config (init_from's + dropout/max_seq_len overrides);
        # the checkpoint's tensors become the parameters.
        try:
            return load_pretrained(Phi, source, dtype=torch.float32, config=self.model_config)
        except (CheckpointError, CheckpointNotFoundError) as e:
            what = "--resume checkpoint" if self.resume_from else "model.init_from"
            raise ConfigError(f"cannot load weights from {what} {source}: {e}") from None

    def _make_loader(self, sets, seed: int):
        from textbooks.train.data import TokenWindowLoader

        return TokenWindowLoader(
            sets, seq_len=self.cfg.data.seq_len, batch_size=self.cfg.trainer.micro_batch_size, seed=seed,
            rank=self.info.rank, world_size=self.info.world_size,
        )

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

    def save_checkpoint(self) -> Path | None:
        """Write run_dir/checkpoints/step_NNNNNN (collective; rank 0 writes). Returns its path on rank 0."""
        t, info = self.cfg.trainer, self.info
        model_state = parallel.full_model_state(self.model, t, info)
        optim_state = parallel.full_optimizer_state(self.model, self.engine.optimizer, t, info)
        rng = parallel.gather_objects(self._rng_state(), info)
        data = [self.loader.state_dict()]  # identical on every rank
        path = None
        if info.is_main:
            state = {
                "step": self.step,
                "tokens_seen": self.tokens_seen,
                "optimizer": optim_state,
                "scaler": self.engine.scaler.state_dict() if self.engine.scaler is not None else None,
                "schedule": {"step": self.step, "lr": lr_at(self.step, self.cfg.optimizer.lr, self.cfg.schedule)},
                "rng": rng,
                "data": data,
                "world_size": info.world_size,
                "best_val_loss": self.best_val,
                "best_step": self.best_step,
            }

            def write(tmp: Path) -> None:
                _save_model_dir(model_state, self.model_config, self.tokenizer, tmp)
                torch.save(state, tmp / ckpt.STATE_FILE)
                self.cfg.save(tmp / "config.yaml")

            path = ckpt.write_checkpoint(self.ckpt_root, self.step, write)
        parallel.barrier(info)
        return path

    def _load_trainer_state(self, path: Path) -> None:
        # Our own file (optimizer tensors + numpy RNG tuples), hence weights_only=False. mmap: the ranks of a
        # node share the file's pages instead of each holding a copy of the full optimizer state.
        try:
            state = torch.load(path / ckpt.STATE_FILE, map_location="cpu", weights_only=False, mmap=True)
        except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError) as e:
            raise ConfigError(
                f"cannot read {path / ckpt.STATE_FILE} ({type(e).__name__}: {e}); the checkpoint is damaged: move "
                f"{path} away to resume from the one before it"
            ) from None
        same_world = state["world_size"] == self.info.world_size
        parallel.load_optimizer_state(self.model, self.engine.optimizer, state["optimizer"], self.cfg.trainer, self.info)
        if self.engine.scaler is not None and state.get("scaler"):
            self.engine.scaler.load_state_dict(state["scaler"])
        # The loader's state is the same on every rank and valid for any world size (textbooks/train/data.py).
        self.loader.load_state_dict(state["data"][0])
        if same_world:
            self._set_rng_state(state["rng"][self.info.rank])
        else:  # other ranks' dropout streams cannot be mapped: resume correctly, but not bit for bit
            _seed_all(self.cfg.trainer.seed + 1 + self.info.rank + 7919 * state["step"])
            if self.info.is_main:
                print(f"note: {path} was written by {state['world_size']} processes, this run has {self.info.world_size}: "
                      f"data order continues exactly; dropout RNG streams are reseeded", file=sys.stderr)
        self.step = state["step"]
        self.tokens_seen = state["tokens_seen"]
        self.best_val = state.get("best_val_loss", math.inf)
        self.best_step = state.get("best_step")
        # This step is on disk already: stopping right away must not rewrite (and briefly unpublish) it.
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
        """Token-weighted loss over the first windows of each validation split, in order (the same every time).

        Each split contributes up to `val_batches` micro-batches per rank; the window count is rounded down to
        a multiple of the world size so every rank runs the same number of forwards (FSDP all-gathers in them).
        """
        from textbooks.train.data import sequential_batches

        t, info, T = self.cfg.trainer, self.info, self.cfg.data.seq_len

        def batches():
            for ds in self.val_sets:
                n = min(ds.num_windows(T), t.val_batches * t.micro_batch_size * info.world_size)
                n -= n % info.world_size
                if n:
                    yield from sequential_batches(ds, T, t.micro_batch_size, info.rank, info.world_size, max_windows=n)

        return self.engine.evaluate(batches())

    def fit(self) -> dict:
        """Run to `schedule.stop_step` (or Ctrl-C / SIGTERM / `trainer.max_minutes`: checkpoint and stop).

        Returns {"final_loss", "val_loss" (last measured), "checkpoint", "tokens_per_s", "steps", "tokens_seen",
        "best_checkpoint", "best_val_loss", "run_dir", "interrupted", "stopped_by_time_budget"} (paths on rank 0).
        """
        try:
            self._setup()
            return self._fit()
        finally:
            parallel.shutdown_distributed()

    def _fit(self) -> dict:
        cfg, t, info = self.cfg, self.cfg.trainer, self.info
        stop = cfg.stop_step
        log = _Log(self, stop) if info.is_main else None
        previous: dict = {}  # signal handlers to restore
        try:  # from here on, the finally below closes the log (metrics file, TensorBoard writer)
            if info.is_main:
                self.run_dir.mkdir(parents=True, exist_ok=True)
                cfg.save(self.run_dir / "config.yaml")
                log.message(
                    f"{'resuming from ' + str(self.resume_from) if self.resume_from else 'starting'}: "
                    f"{self.model.num_params():,} parameters, step {self.step} -> {stop}, global batch {self.global_batch} "
                    f"= {t.micro_batch_size} x {self.grad_accum} accum x {info.world_size} ranks, seq_len {cfg.data.seq_len}, "
                    f"{t.precision} on {info.device}"
                )
            # Ctrl-C / SIGTERM (schedulers' preemption notice) -> checkpoint at the end of this step. Python only lets
            # the main thread install handlers; elsewhere (a trainer run from a thread) the defaults stay.
            if threading.current_thread() is threading.main_thread():
                previous.update({sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)})
            for sig in previous:
                signal.signal(sig, self._request_stop)
            interrupted = False
            out_of_time = False
            deadline = time.monotonic() + 60 * t.max_minutes if t.max_minutes else None
            last_path = None
            last_val = None
            window_loss, window_steps, window_start, paused = [], 0, time.perf_counter(), 0.0
            tokens_per_s = None
            last_loss = None
            while self.step < stop:
                past_deadline = deadline is not None and time.monotonic() > deadline
                interrupted, out_of_time = parallel.any_rank((self._stop_requested, past_deadline), info)
                if interrupted or out_of_time:
                    break
                loss, grad_norm = self.train_step()
                window_loss.append(loss)
                window_steps += 1
                val_loss = None
                now = self.step
                if self.step % cfg.logging.log_every == 0 or self.step == stop:
                    elapsed = time.perf_counter() - window_start - paused
                    mean_loss = float(torch.stack(window_loss).mean())  # syncs the device once per log
                    if not math.isfinite(mean_loss):
                        raise FloatingPointError(
                            f"loss is {mean_loss} at step {now}; lower optimizer.lr, enable optimizer.grad_clip, or "
                            f"use precision bf16 (fp16 overflows without a working GradScaler)"
                        )
                    tokens_per_s = window_steps * self.global_batch * cfg.data.seq_len / max(elapsed, 1e-9)
                    last_loss = mean_loss
                    if log:
                        lr = lr_at(now, cfg.optimizer.lr, cfg.schedule)
                        mfu = self._mfu(tokens_per_s)
                        log.metrics(step=now, loss=mean_loss, lr=lr, grad_norm=float(grad_norm),
                                    tokens_seen=self.tokens_seen, tokens_per_s=tokens_per_s, mfu=mfu)
                    window_loss, window_steps, window_start, paused = [], 0, time.perf_counter(), 0.0
                pause_start = time.perf_counter()
                want_val = t.val_every > 0 and (now % t.val_every == 0 or now == stop)
                want_ckpt = now % t.checkpoint_every == 0 or now == stop
                if t.keep_best_by_val and want_ckpt:
                    want_val = True  # every checkpoint gets a val loss, so `best` is chosen among them
                if want_val:
                    val_loss = last_val = self.evaluate()
                    if log:
                        log.metrics(step=now, val_loss=val_loss)
                if want_ckpt:
                    last_path = self._checkpoint(val_loss)
                paused += time.perf_counter() - pause_start
                if log:
                    log.advance()
            if (interrupted or out_of_time) and self._saved_step != self.step:
                last_path = self._checkpoint(None)
            if out_of_time and log:
                log.message(f"time budget trainer.max_minutes={t.max_minutes} reached at step {self.step}: checkpoint {last_path}")
            if interrupted:
                if log:
                    log.message(
                        f"interrupted at step {self.step}: checkpoint {last_path}; continue with the same command plus --resume"
                    )
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if log:
                log.close()
        if last_path is None and info.is_main:
            last_path = ckpt.latest_checkpoint(self.ckpt_root)
        best = ckpt.best_checkpoint(self.ckpt_root) if info.is_main else None
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
        }

    def _checkpoint(self, val_loss: float | None) -> Path | None:
        t = self.cfg.trainer
        is_best = val_loss is not None and val_loss < self.best_val
        if is_best:
            self.best_val, self.best_step = val_loss, self.step
        path = self.save_checkpoint()
        self._saved_step = self.step
        if self.info.is_main:
            if t.keep_best_by_val and is_best:
                ckpt.set_best(self.ckpt_root, path)
            ckpt.prune(self.ckpt_root, t.keep_last)
        return path

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


def configure_runtime(t: TrainerSection, info: parallel.DistInfo) -> None:
    """Process-wide torch settings from the trainer section (threads, determinism, TF32)."""
    if t.cpu_threads:
        torch.set_num_threads(t.cpu_threads)
    if t.deterministic:
        torch.use_deterministic_algorithms(True)
    if info.device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True  # fp32 matmuls (outside autocast) on tensor cores
        torch.backends.cudnn.allow_tf32 = True
    if t.precision == "fp16" and info.device.type != "cuda":
        raise ConfigError("trainer.precision=fp16 needs a GPU (fp16 autocast + GradScaler); use fp32 or bf16 on CPU")


class TrainStep:
    """The work of one optimizer update, shared by `Trainer` and benchmarks/bench_train.py.

    Owns the parallelized model (activation checkpointing, compile, DDP/FSDP2 applied in
    textbooks/train/parallel.py), the AdamW optimizer and the fp16 GradScaler.
    `engine(batches, lr)`: forward/backward over the micro-batches (gradient sync only on the last),
    unscale, clip, optimizer step. The loss is the model's own (`model(x, y)`: lm_head fused with the
    cross-entropy, textbooks/model/loss.py; under compile, the plain graph that inductor fuses).

    The loss is token-weighted over the whole step: the sum of per-token losses over all micro-batches
    and ranks / the number of loss tokens. That is the plain mean when every token counts (pretraining)
    and weighs each completion token equally with completion-only masks (-100 targets).
    """

    def __init__(self, model: Phi, t: TrainerSection, optim: OptimizerSection, info: parallel.DistInfo):
        self.model, self.t, self.info = model, t, info
        self.grad_clip = optim.grad_clip
        self.amp_dtype = _DTYPES[t.precision]
        model.to(info.device)
        model.train()
        self.wrapped = parallel.parallelize(model, t, info, self.amp_dtype)
        self.optimizer = build_optimizer(model, optim, info.device.type)
        self.scaler = None
        if t.precision == "fp16":
            if parallel.is_fsdp(t, info):
                from torch.distributed.fsdp.sharded_grad_scaler import ShardedGradScaler

                self.scaler = ShardedGradScaler()
            else:
                self.scaler = torch.amp.GradScaler(info.device.type)

    @staticmethod
    def _loss_sum(model, x: torch.Tensor, y: torch.Tensor, n: int) -> torch.Tensor:
        """Summed loss over the n targets != -100 of a micro-batch: the model's mean loss (its fused
        lm_head + cross-entropy, textbooks/model/loss.py) times n."""
        if n == 0:  # nothing to learn here, but every rank must still run forward/backward in step (DDP/FSDP)
            return model(x).float().sum() * 0.0
        return model(x, y).float() * n

    def autocast(self):
        if self.t.precision == "fp32":
            return nullcontext()
        return torch.autocast(self.info.device.type, dtype=self.amp_dtype)

    def __call__(self, batches: list[tuple[torch.Tensor, torch.Tensor]], lr: float) -> tuple[torch.Tensor, torch.Tensor]:
        """batches: micro-batches (x, y), each (B, T) on CPU. Returns (loss, grad norm before clipping) tensors."""
        info = self.info
        set_lr(self.optimizer, lr)
        n_tokens = torch.tensor(float(sum(int((y != -100).sum()) for _, y in batches)), device=info.device)
        # Loss tokens of the whole step over all ranks; DDP/FSDP *average* gradients over ranks, hence x world.
        n_total = parallel.all_reduce_mean(n_tokens, info).clamp(min=1.0 / info.world_size) * info.world_size
        loss_sum = torch.zeros((), device=info.device)
        for micro, (x, y) in enumerate(batches):
            n_micro = int((y != -100).sum())
            x = x.to(info.device, non_blocking=True)
            y = y.to(info.device, non_blocking=True)
            with parallel.sync_context(self.wrapped, self.t, info, micro == len(batches) - 1):
                with self.autocast():
                    summed = self._loss_sum(self.wrapped, x, y, n_micro)
                scaled = summed * (info.world_size / n_total)
                if self.scaler is not None:
                    self.scaler.scale(scaled).backward()
                else:
                    scaled.backward()
            loss_sum += summed.detach()
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)  # clip the true gradients, not the scaled ones
        grad_norm = parallel.clip_grad_norm(self.model, self.grad_clip)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)  # skipped when the scaled grads overflowed
            self.scaler.update()
        else:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        loss = parallel.all_reduce_mean(loss_sum, info) * info.world_size / n_total
        return loss, grad_norm

    @torch.no_grad()
    def evaluate(self, batches) -> float:
        """Token-weighted loss over an iterable of (x, y) micro-batches (all ranks).

        Runs the unwrapped model: DDP's wrapper is only needed for gradient sync (FSDP2 shards in place,
        so `self.model` is the sharded module)."""
        self.model.eval()
        total = torch.zeros(2, device=self.info.device)  # (loss sum, loss tokens)
        for x, y in batches:
            n = int((y != -100).sum())
            x, y = x.to(self.info.device), y.to(self.info.device)
            with self.autocast():
                summed = self._loss_sum(self.model, x, y, n)
            total += torch.stack([summed.detach(), torch.tensor(float(n), device=self.info.device)])
        self.model.train()
        total = parallel.all_reduce_mean(total, self.info)
        return float(total[0] / total[1].clamp(min=1))


class _Log:
    """Rank 0's outputs: metrics.jsonl, TensorBoard, and a progress bar or plain log lines."""

    def __init__(self, trainer: Trainer, stop: int):
        cfg = trainer.cfg.logging
        self.path = trainer.run_dir / "metrics.jsonl"
        trainer.run_dir.mkdir(parents=True, exist_ok=True)
        _truncate_metrics(self.path, trainer.step)
        self.file = self.path.open("a")
        self.tb = None
        if cfg.tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            # purge_step drops events a killed run logged after the checkpoint we resume from.
            self.tb = SummaryWriter(str(trainer.run_dir / "tensorboard"), purge_step=trainer.step + 1 if trainer.step else None)
        use_bar = cfg.progress == "bar" or (cfg.progress == "auto" and sys.stderr.isatty())
        self.bar = None
        if use_bar:
            from tqdm import tqdm

            self.bar = tqdm(total=stop, initial=trainer.step, desc="train", unit="step", dynamic_ncols=True)
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


def _truncate_metrics(path: Path, step: int) -> None:
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


def _seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _save_model_dir(state: dict[str, torch.Tensor], config: PhiConfig, tokenizer, directory: Path) -> None:
    """`save_model_dir` (HF model dir + generation_config.json + tokenizer) from a full CPU state dict."""
    from textbooks.model.hf import save_model_dir

    with torch.device("meta"):
        model = Phi(config)
    model.load_state_dict(state, assign=True)
    save_model_dir(model, tokenizer, directory)


def _open_packed(cls, path: str, split: str, key: str):
    if not Path(path).is_dir():
        raise ConfigError(f"{key}={path}: directory not found (make it with `textbooks data pack ... --out {path}`)")
    try:
        return cls(path, split=split)
    except (FileNotFoundError, ValueError) as e:
        raise ConfigError(f"{key}={path}: {e}") from None


def _load_tokenizer_dir(path, source: str):
    from textbooks.tokenizer import load_tokenizer

    try:
        return load_tokenizer(path)
    except (FileNotFoundError, ValueError) as e:
        raise ConfigError(f"{source}={path}: {e}") from None


def _meta_tokenizer_path(meta: dict) -> str | None:
    """The tokenizer dir `textbooks data pack` recorded in meta.json (absolute at packing time)."""
    tok = meta.get("tokenizer")
    return tok.get("path") if isinstance(tok, dict) else None
