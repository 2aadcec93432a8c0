"""Everything a run reads before step 1, each checked with an error that names the key: the packed data,
the tokenizer copied into checkpoints, the model's shape, and the initial weights.

    train_sets, val_sets = open_datasets(cfg.data, validate=cfg.trainer.val_every > 0)
    tokenizer = find_tokenizer(cfg, train_sets, val_sets)
    model_config = resolve_model_config(cfg, tokenizer)
    model = build_model(model_config, source=resume_dir or cfg.model.init_from, what="model.init_from")

No torch work happens here besides loading weights, so `textbooks train --dry-run` uses the same checks.
"""

from __future__ import annotations

from pathlib import Path

from textbooks.model.config import PhiConfig
from textbooks.train.config import ConfigError, DataSection, TrainConfig

# init_from + overrides may only change what does not alter the weights' shapes.
FINETUNE_OVERRIDABLE = {"attn_dropout", "resid_dropout", "embd_dropout", "max_seq_len"}


def open_datasets(d: DataSection, validate: bool):
    """[(PackedDataset, weight)] for training and [PackedDataset] for validation (empty when not `validate`)."""
    from textbooks.train.data import PackedDataset

    if not d.datasets:
        raise ConfigError("data.datasets is empty: list at least one packed dir (made by `textbooks data pack`)")
    train_sets = []
    for i, entry in enumerate(d.datasets):
        ds = _open_packed(PackedDataset, entry.path, "train", f"data.datasets[{i}].path")
        if ds.num_tokens < d.seq_len + 1:
            raise ConfigError(
                f"data.datasets[{i}].path={entry.path}: only {ds.num_tokens} training tokens, fewer than one window of "
                f"data.seq_len + 1 = {d.seq_len + 1}; pack more data or lower data.seq_len"
            )
        train_sets.append((ds, entry.weight))
    val_sets = []
    if validate:
        explicit = bool(d.val)
        for i, path in enumerate(d.val or [e.path for e in d.datasets]):
            key = f"data.val[{i}]" if explicit else f"data.datasets[{i}].path (val split)"
            ds = _open_packed(PackedDataset, path, "val", key)
            if ds.num_windows(d.seq_len) >= 1:
                val_sets.append(ds)
            elif explicit:
                raise ConfigError(f"{key}={path}: the val split has {ds.num_tokens} tokens, fewer than data.seq_len + 1")
        if not val_sets:
            raise ConfigError(
                "trainer.val_every > 0 but no validation split with at least data.seq_len + 1 tokens was found in "
                "data.val or the training dirs; pack with a validation fraction, set data.val, or set trainer.val_every=0"
            )
    return train_sets, val_sets


def find_tokenizer(cfg: TrainConfig, train_sets, val_sets):
    """The tokenizer copied into checkpoints; every packed split (and init_from's tokenizer) must match it.

    Looked for in data.tokenizer, else the tokenizer dir recorded in the first packed dir's meta.json,
    else model.init_from."""
    from textbooks.train.data import PackedDataError, check_tokenizer

    d = cfg.data
    candidates = []
    if d.tokenizer:
        candidates.append(("data.tokenizer", d.tokenizer))
    else:
        for ds, _ in train_sets:
            recorded = _meta_tokenizer_path(ds.meta)
            if recorded:
                candidates.append((f"the tokenizer recorded in {ds.path}/meta.json", recorded))
                break
        if cfg.model.init_from and (Path(cfg.model.init_from) / "tokenizer.json").is_file():
            candidates.append(("model.init_from", cfg.model.init_from))
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
    for ds in [ds for ds, _ in train_sets] + list(val_sets):
        try:
            check_tokenizer(ds, tok)
        except PackedDataError as e:
            raise ConfigError(
                f"tokenizer mismatch: {source} ({path}) is not the one the data was packed with: {e}; or, instead "
                f"of re-packing, point data.tokenizer at the tokenizer used for packing"
            ) from None
    init = cfg.model.init_from
    if init and source != "model.init_from" and (Path(init) / "tokenizer.json").is_file():
        init_tok = _load_tokenizer_dir(init, "model.init_from")
        try:
            check_tokenizer(train_sets[0][0], init_tok)
        except PackedDataError as e:
            raise ConfigError(f"model.init_from={init} was trained with another tokenizer than the packed data: {e}") from None
    return tok


def resolve_model_config(cfg: TrainConfig, tokenizer) -> PhiConfig:
    """The model's shape: model.preset + overrides, or model.init_from's config.json + dropout overrides.

    `tokenizer` (None when unknown, as in a dry run without data) sets vocab_size when neither does."""
    m, d = cfg.model, cfg.data
    if m.init_from and m.preset:
        raise ConfigError("set either model.preset (train from scratch) or model.init_from (finetune), not both")
    if m.init_from:
        from textbooks.model.hf import CheckpointError, CheckpointNotFoundError, read_config

        if not (Path(m.init_from) / "config.json").is_file():
            raise ConfigError(
                f"model.init_from={m.init_from}: no config.json there; point it at one of our checkpoints "
                f"(runs/NAME/checkpoints/step_*) or an HF Phi directory"
            )
        bad = sorted(set(m.overrides) - FINETUNE_OVERRIDABLE)
        if bad:
            raise ConfigError(
                f"model.overrides.{bad[0]} would change the architecture of model.init_from; with init_from only "
                f"{', '.join(sorted(FINETUNE_OVERRIDABLE))} may be overridden"
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
        if tokenizer is not None:
            values.setdefault("vocab_size", tokenizer.padded_vocab_size)
        try:
            config = PhiConfig.preset(m.preset, **values)
        except ValueError as e:
            raise ConfigError(f"model: {e}") from None
    else:
        raise ConfigError("set model.preset (e.g. phi-1, phi-1-small, tiny) or model.init_from (a checkpoint dir)")
    if tokenizer is not None and config.vocab_size < tokenizer.vocab_size:
        raise ConfigError(
            f"model vocab_size {config.vocab_size} is smaller than the tokenizer's {tokenizer.vocab_size} tokens; "
            f"set model.overrides.vocab_size >= {tokenizer.vocab_size} (e.g. {tokenizer.padded_vocab_size})"
        )
    if d.seq_len > config.max_seq_len:
        raise ConfigError(
            f"data.seq_len={d.seq_len} is above the model's max_seq_len={config.max_seq_len}; lower data.seq_len "
            f"or raise model.overrides.max_seq_len"
        )
    return config


def build_model(config: PhiConfig, source: str | Path | None, what: str):
    """A fresh Phi(config), or one whose tensors come from `source` (a checkpoint dir; `what` names it in errors).

    Built once, on the meta device, with the run's config (init_from's + dropout/max_seq_len overrides);
    the checkpoint's tensors become the parameters."""
    import torch

    from textbooks.model.phi import Phi

    if source is None:
        return Phi(config)
    from textbooks.model.hf import CheckpointError, CheckpointNotFoundError, load_pretrained

    try:
        return load_pretrained(Phi, source, dtype=torch.float32, config=config)
    except (CheckpointError, CheckpointNotFoundError) as e:
        hint = (f"; the checkpoint is damaged: move {source} away to resume from the one before it"
                if what.startswith("--resume") else "")
        raise ConfigError(f"cannot load weights from {what} {source}: {e}{hint}") from None


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
