"""Hugging Face interop: load HF Phi checkpoint directories into `Phi`, save `Phi` so transformers loads it.

Loading (`Phi.from_pretrained(dir)`) accepts
- `config.json` (transformers `phi`, Microsoft's older `phi-msft`, or ours: a `phi` config with our exact
  `PhiConfig` under the extra key `"textbooks"`), and
- weights as `model.safetensors`, sharded safetensors (`model.safetensors.index.json`), or
  `pytorch_model.bin` (optionally sharded with `pytorch_model.bin.index.json`, read with weights_only=True),
- in the transformers layout (the `microsoft/phi-1` hub layout; keys are exactly ours) or the phi-msft layout
  (`transformer.h.N.mixer.Wqkv` with fused [Q rows; K rows; V rows], `lm_head.ln`, `lm_head.linear`).

Loading is strict: a missing, unexpected or wrongly shaped tensor is an error that names the key, the file
and the shapes. The model is built on the meta device and the checkpoint tensors become its parameters
(`load_state_dict(assign=True)`), so a model is never held twice in memory.

Saving writes `config.json` (`PhiConfig.to_hf_dict()` + dtype + our config) and one `model.safetensors`
that `transformers.AutoModelForCausalLM.from_pretrained(dir)` loads as `PhiForCausalLM` with no missing or
unexpected keys (tests/model/test_parity.py checks it).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from textbooks.model.config import PhiConfig

if TYPE_CHECKING:
    from textbooks.model.phi import Phi

CONFIG_NAME = "config.json"
SAFETENSORS_NAME = "model.safetensors"
SAFETENSORS_INDEX_NAME = "model.safetensors.index.json"
TORCH_NAME = "pytorch_model.bin"
TORCH_INDEX_NAME = "pytorch_model.bin.index.json"
OUR_CONFIG_KEY = "textbooks"  # our exact PhiConfig inside config.json (transformers keeps unknown keys)

# Logit bias of lm_head rows added to pad a phi-msft vocab up to a multiple of 64: such ids must never be
# predicted. Finite (not -inf) so fp16 stays finite and softmax/cross-entropy never see inf - inf.
_PADDED_ROW_BIAS = -1e4


class CheckpointNotFoundError(FileNotFoundError):
    """The checkpoint directory, its config.json or its weight files are missing."""


class CheckpointError(ValueError):
    """The checkpoint exists but cannot be used: corrupt file, unknown layout, missing/extra/misshaped tensors."""


# --- loading ----------------------------------------------------------------------------------------
def load_pretrained(
    cls: type["Phi"], path: str | Path, device=None, dtype: torch.dtype | None = None, config: PhiConfig | None = None
) -> "Phi":
    """Build `cls` from a checkpoint directory; see the module docstring for the accepted layouts.

    dtype: cast floating tensors to it while loading; default: the dtype stored for the token embedding
    (like transformers >= 5's dtype="auto"). The model is returned in eval mode, like transformers'.
    config: build the model with this config instead of the checkpoint's (e.g. the same architecture with
    other dropout rates for finetuning); every tensor shape must still match, or CheckpointError.
    """
    directory = Path(path)
    if not directory.exists():
        raise CheckpointNotFoundError(
            f"checkpoint directory {directory} does not exist; pass a directory that holds config.json and "
            f"model.safetensors (one written by save_pretrained, a trainer checkpoint, or an HF Phi download)"
        )
    if not directory.is_dir():
        raise CheckpointNotFoundError(
            f"{directory} is a file; pass the checkpoint *directory* that holds config.json and the weights"
        )
    stored = read_config(directory)
    tensors = _read_weights(directory)  # key -> (tensor on CPU, file it came from)
    tensors = _to_our_layout(tensors, stored)
    config = stored if config is None else config

    with torch.device("meta"):
        model = cls(config)
    expected = model.state_dict()
    _check_keys_and_shapes(expected, tensors, directory)

    if dtype is None:
        dtype = tensors["model.embed_tokens.weight"][0].dtype
    state = {}
    for key in list(tensors):
        tensor, _ = tensors.pop(key)  # pop: drop our reference as each tensor moves to its final place
        if tensor.is_floating_point():
            tensor = tensor.to(dtype=dtype)
        state[key] = tensor.to(device) if device is not None else tensor
    model.load_state_dict(state, strict=True, assign=True)
    _materialize_buffers(model, config, device)
    return model.eval()


def read_config(directory: Path) -> PhiConfig:
    """The model config of a checkpoint directory (our exact copy if present, else the HF fields)."""
    config_path = directory / CONFIG_NAME
    if not config_path.is_file():
        raise CheckpointNotFoundError(
            f"{config_path} not found; a checkpoint directory needs config.json next to its weights "
            f"(found: {_listing(directory)})"
        )
    try:
        hf = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{config_path}: not valid JSON ({e}); restore the file or re-export the checkpoint") from None
    if not isinstance(hf, dict):
        raise CheckpointError(f"{config_path}: expected a JSON object, got {type(hf).__name__}")
    try:
        from_hf = PhiConfig.from_hf_dict(hf, source=str(config_path))
        if OUR_CONFIG_KEY not in hf:
            return from_hf
        ours = hf[OUR_CONFIG_KEY]
        if not isinstance(ours, dict):
            raise ValueError(f"key {OUR_CONFIG_KEY!r} must be an object of PhiConfig fields")
        config = PhiConfig.from_dict(ours)
    except (ValueError, TypeError) as e:  # TypeError: a field of the wrong JSON type
        msg = str(e)
        if not msg.startswith(str(config_path)):
            msg = f"{config_path}: {msg}"
        raise CheckpointError(msg) from None
    # The HF fields are what transformers/vLLM read; if someone edited them, our copy must not disagree.
    for field in ("vocab_size", "n_layer", "d_model", "n_head", "d_mlp", "rotary_dim"):
        if getattr(config, field) != getattr(from_hf, field):
            raise CheckpointError(
                f"{config_path}: {OUR_CONFIG_KEY}.{field}={getattr(config, field)} disagrees with the HF fields "
                f"(which give {getattr(from_hf, field)}); fix one of them or delete the {OUR_CONFIG_KEY!r} key"
            )
    return config


def _read_weights(directory: Path) -> dict[str, tuple[torch.Tensor, Path]]:
    if (directory / SAFETENSORS_NAME).is_file():
        files = [directory / SAFETENSORS_NAME]
    elif (directory / SAFETENSORS_INDEX_NAME).is_file():
        files = _shards_from_index(directory / SAFETENSORS_INDEX_NAME)
    elif (directory / TORCH_NAME).is_file():
        files = [directory / TORCH_NAME]
    elif (directory / TORCH_INDEX_NAME).is_file():
        files = _shards_from_index(directory / TORCH_INDEX_NAME)
    else:
        raise CheckpointNotFoundError(
            f"no weights in {directory}: expected {SAFETENSORS_NAME}, {SAFETENSORS_INDEX_NAME}, {TORCH_NAME} or "
            f"{TORCH_INDEX_NAME} (found: {_listing(directory)})"
        )
    tensors: dict[str, tuple[torch.Tensor, Path]] = {}
    for file in files:
        for key, tensor in _read_file(file).items():
            if key in tensors:
                raise CheckpointError(f"{file}: tensor {key!r} is also in {tensors[key][1]}; the shards overlap")
            tensors[key] = (tensor, file)
    return tensors


def _shards_from_index(index_path: Path) -> list[Path]:
    try:
        weight_map = json.loads(index_path.read_text(encoding="utf-8"))["weight_map"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as e:
        raise CheckpointError(
            f"{index_path}: not a valid shard index (needs a JSON object with a 'weight_map'): {e!r}"
        ) from None
    shards = []
    for name in dict.fromkeys(weight_map.values()):  # ordered, unique
        shard = index_path.parent / name
        if not shard.is_file():
            raise CheckpointNotFoundError(f"{index_path} lists shard {name!r}, but {shard} does not exist; copy it in")
        shards.append(shard)
    return shards


def _read_file(file: Path) -> dict[str, torch.Tensor]:
    if file.suffix == ".safetensors":
        from safetensors import safe_open

        try:
            with safe_open(str(file), framework="pt", device="cpu") as f:
                return {key: f.get_tensor(key) for key in f.keys()}
        except Exception as e:  # safetensors raises its own SafetensorError (and OSError) for bad files
            raise CheckpointError(
                f"{file}: cannot read it as safetensors ({e}); the file is corrupt or truncated "
                f"(an interrupted copy or save?); copy it again or re-export the checkpoint"
            ) from None
    import zipfile

    try:
        # mmap (no second copy in memory) needs the zip format torch.save has written since torch 1.6
        state = torch.load(file, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(file))
    except Exception as e:  # pickle/zip errors come in many types
        raise CheckpointError(
            f"{file}: cannot read it as a torch state dict ({type(e).__name__}: {e}); the file is corrupt, "
            f"truncated or holds more than tensors (only weights_only=True files are loaded)"
        ) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{file}: expected a dict of tensor name -> tensor")
    return state


_MSFT_RENAMES = [  # phi-msft key (regex) -> transformers / our key
    (r"transformer\.embd\.wte\.(weight)", r"model.embed_tokens.\1"),
    (r"transformer\.h\.(\d+)\.ln\.(weight|bias)", r"model.layers.\1.input_layernorm.\2"),
    (r"transformer\.h\.(\d+)\.mixer\.out_proj\.(weight|bias)", r"model.layers.\1.self_attn.dense.\2"),
    (r"transformer\.h\.(\d+)\.mlp\.(fc1|fc2)\.(weight|bias)", r"model.layers.\1.mlp.\2.\3"),
    (r"lm_head\.ln\.(weight|bias)", r"model.final_layernorm.\1"),
    (r"lm_head\.linear\.(weight|bias)", r"lm_head.\1"),
]
_MSFT_WQKV = re.compile(r"transformer\.h\.(\d+)\.mixer\.Wqkv\.(weight|bias)")


def _to_our_layout(tensors: dict, config: PhiConfig) -> dict[str, tuple[torch.Tensor, Path]]:
    """Rename phi-msft keys, split its fused Wqkv, pad its vocab rows; drop rotary buffers (recomputed)."""
    tensors = {k: v for k, v in tensors.items() if ".rotary_emb." not in k}  # inv_freq / cos,sin caches
    if not any(k.startswith("transformer.") for k in tensors):
        return tensors
    out: dict[str, tuple[torch.Tensor, Path]] = {}
    d = config.d_model
    for key, (tensor, file) in tensors.items():
        if m := _MSFT_WQKV.fullmatch(key):
            layer, kind = m.groups()
            if tensor.shape[0] != 3 * d:
                raise CheckpointError(
                    f"{file}: {key} has shape {tuple(tensor.shape)}; expected first dim 3*d_model = {3 * d} "
                    f"(fused [Q; K; V] rows, full multi-head attention as in phi-1)"
                )
            # Wqkv rows are qkv-major: (3*d, d) = [Q rows (d); K rows (d); V rows (d)] (phi-msft MHA
            # rearranges "(three h d) -> three h d"), so three equal row blocks.
            for name, part in zip(("q_proj", "k_proj", "v_proj"), tensor.split(d, dim=0)):
                out[f"model.layers.{layer}.self_attn.{name}.{kind}"] = (part.clone(), file)  # own storage for assign
            continue
        for pattern, repl in _MSFT_RENAMES:
            new, n = re.subn(f"^{pattern}$", repl, key)
            if n:
                out[new] = (tensor, file)
                break
        else:
            out[key] = (tensor, file)  # reported as unexpected by the strict check, with its file
    _pad_vocab_rows(out, config.vocab_size)
    return out


def _pad_vocab_rows(tensors: dict, vocab_size: int) -> None:
    """phi-msft configs state the real vocab (e.g. 50257); the model pads it to a multiple of 64."""
    for key, fill in (("model.embed_tokens.weight", 0.0), ("lm_head.weight", 0.0), ("lm_head.bias", _PADDED_ROW_BIAS)):
        if key not in tensors:
            continue
        tensor, file = tensors[key]
        missing = vocab_size - tensor.shape[0]
        if 0 < missing < 64:
            pad = torch.full((missing, *tensor.shape[1:]), fill, dtype=tensor.dtype)
            tensors[key] = (torch.cat([tensor, pad], dim=0), file)  # (vocab_size, ...)


def _check_keys_and_shapes(expected: dict[str, torch.Tensor], tensors: dict, directory: Path) -> None:
    problems = []
    missing = [k for k in expected if k not in tensors]
    if missing:
        problems.append(f"missing tensors: {_short_list(missing)}")
    for key, (tensor, file) in tensors.items():
        if key not in expected:
            problems.append(f"unexpected tensor {key!r} in {file}")
        elif tuple(tensor.shape) != tuple(expected[key].shape):
            problems.append(
                f"{key} in {file} has shape {tuple(tensor.shape)}, but config.json implies {tuple(expected[key].shape)}"
            )
    if problems:
        shown = problems[:10] + ([f"... and {len(problems) - 10} more"] if len(problems) > 10 else [])
        raise CheckpointError(
            f"checkpoint {directory} does not match its config.json (phi-1 architecture, transformers key names):\n  "
            + "\n  ".join(shown)
            + "\nCheck that config.json belongs to these weights and that this is a Phi (phi-1/phi-msft) model."
        )


def _materialize_buffers(model: "Phi", config: PhiConfig, device) -> None:
    """Non-persistent buffers (rotary inv_freq) are not in checkpoints: recompute them off the meta device."""
    from textbooks.model.phi import Rotary

    for module in model.modules():
        if isinstance(module, Rotary):
            for name, buffer in Rotary(config).named_buffers(recurse=False):
                module.register_buffer(name, buffer.to(device), persistent=False)
    still_meta = [name for name, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if still_meta:  # a new buffer added to phi.py must be recomputed here too
        raise RuntimeError(f"after loading, these tensors were never materialized: {still_meta}; update {__file__}")


# --- saving -----------------------------------------------------------------------------------------
GENERATION_CONFIG_NAME = "generation_config.json"


def save_model_dir(model: "Phi", tokenizer, path: str | Path) -> Path:
    """A complete HF model directory: `save_pretrained` + `generation_config.json` + the tokenizer files.

    What `textbooks export hf` and every trainer checkpoint write, so transformers' `generate` and vLLM
    load the directory and stop on the tokenizer's end-of-text token.
    """
    # <|endoftext|> is phi-1's only special token: bos = eos (50256 in microsoft/phi-1's config.json).
    ids = {"bos_token_id": tokenizer.eos_id, "eos_token_id": tokenizer.eos_id}
    directory = save_pretrained(model, path, hf_overrides=ids)
    text = json.dumps(ids, indent=2) + "\n"
    _atomic_write(directory / GENERATION_CONFIG_NAME, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    tokenizer.save(directory)
    return directory


def save_pretrained(model: "Phi", path: str | Path, *, hf_overrides: dict[str, Any] | None = None) -> Path:
    """Write `config.json` + `model.safetensors` into `path` (created if needed); returns the directory.

    hf_overrides: extra/replaced top-level config.json fields (e.g. `eos_token_id` from the tokenizer).
    Files are written to a temporary name and renamed, so an interrupted save never leaves a truncated file.
    """
    from safetensors.torch import save_file

    model = getattr(model, "_orig_mod", model)  # torch.compile wrapper -> the module itself
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    dtype = model.model.embed_tokens.weight.dtype
    _atomic_write(directory / SAFETENSORS_NAME, lambda tmp: save_file(state, str(tmp), metadata={"format": "pt"}))

    config = model.config.to_hf_dict()
    dtype_name = str(dtype).removeprefix("torch.")
    config["torch_dtype"] = dtype_name  # transformers 4.x name
    config["dtype"] = dtype_name  # transformers >= 5 name
    config.update(hf_overrides or {})
    config[OUR_CONFIG_KEY] = model.config.to_dict()
    text = json.dumps(config, indent=2, sort_keys=True) + "\n"
    _atomic_write(directory / CONFIG_NAME, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return directory


def _atomic_write(target: Path, write) -> None:
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _listing(directory: Path) -> str:
    try:
        names = sorted(p.name for p in directory.iterdir())
    except OSError:
        return "?"
    return ", ".join(names[:20]) + (f", ... ({len(names)} files)" if len(names) > 20 else "") if names else "nothing"


def _short_list(keys: list[str], n: int = 8) -> str:
    return ", ".join(keys[:n]) + (f", ... ({len(keys)} in all)" if len(keys) > n else "")
