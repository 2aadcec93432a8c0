"""Trainer state on disk without pickle: a JSON tree plus one safetensors file for its tensors.

    save_state({"step": 7, "optimizer": opt.state_dict(), "rng": {...}}, checkpoint_dir)
    state = load_state(checkpoint_dir)          # the same tree back: dicts, lists, tuples, tensors, ndarrays

Why not `torch.save`: loading a pickle runs whatever code the file names, so a checkpoint copied from
elsewhere could execute code on `--resume`; `torch.load(weights_only=True)` would refuse our numpy RNG
states and Python tuples unless each type were allow-listed. Here nothing but JSON and raw tensor bytes
is ever read.

Files: `trainer_state.json` holds the tree; every tensor in it is replaced by {"__tensor__": KEY} naming
an entry of `trainer_state.safetensors`. Types JSON lacks are tagged: tuples {"__tuple__": [...]}, dicts
with non-string keys (an optimizer's parameter ids) {"__items__": [[key, value], ...]}, numpy arrays
{"__ndarray__": [...], "dtype": "uint32"}, and non-finite floats {"__float__": "inf"}. Python's json
keeps integers exact at any size (numpy's PCG64 state holds 128-bit ones).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

JSON_FILE = "trainer_state.json"
TENSOR_FILE = "trainer_state.safetensors"
FORMAT = "textbooks.trainer_state"
VERSION = 2  # version 1 was a pickled trainer_state.pt
_TAGS = ("__tensor__", "__tuple__", "__items__", "__ndarray__", "__float__")


class StateError(ValueError):
    """A trainer state that cannot be read (the message names the file)."""


def _encode(x: Any, path: str, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(x, torch.Tensor):
        key = f"{len(tensors)}:{path}"  # the counter keeps keys unique; the path makes them readable
        t = x.detach().to("cpu").contiguous()
        if t.untyped_storage().nbytes() != t.numel() * t.element_size():
            t = t.clone()  # a view into a larger buffer: safetensors stores only tensors that own their storage
        tensors[key] = t
        return {"__tensor__": key}
    if isinstance(x, np.ndarray):
        return {"__ndarray__": x.tolist(), "dtype": str(x.dtype)}
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, bool) or x is None or isinstance(x, (int, str)):
        return x
    if isinstance(x, float):
        return x if math.isfinite(x) else {"__float__": repr(x)}
    if isinstance(x, tuple):
        return {"__tuple__": [_encode(v, f"{path}.{i}", tensors) for i, v in enumerate(x)]}
    if isinstance(x, list):
        return [_encode(v, f"{path}.{i}", tensors) for i, v in enumerate(x)]
    if isinstance(x, dict):
        if all(isinstance(k, str) and k not in _TAGS for k in x):
            return {k: _encode(v, f"{path}.{k}", tensors) for k, v in x.items()}
        return {"__items__": [[_encode(k, f"{path}.key", tensors), _encode(v, f"{path}.{k}", tensors)] for k, v in x.items()]}
    raise TypeError(f"trainer state at {path or 'the top'}: cannot store a {type(x).__name__} without pickle")


def _decode(x: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(x, list):
        return [_decode(v, tensors) for v in x]
    if not isinstance(x, dict):
        return x
    if "__tensor__" in x:
        return tensors[x["__tensor__"]]
    if "__tuple__" in x:
        return tuple(_decode(v, tensors) for v in x["__tuple__"])
    if "__items__" in x:
        return {_decode(k, tensors): _decode(v, tensors) for k, v in x["__items__"]}
    if "__ndarray__" in x:
        return np.asarray(x["__ndarray__"], dtype=np.dtype(x["dtype"]))
    if "__float__" in x:
        return float(x["__float__"])
    return {k: _decode(v, tensors) for k, v in x.items()}


def save_state(tree: dict, directory: str | Path) -> list[Path]:
    """Write `tree` as directory/trainer_state.json + trainer_state.safetensors; returns the two paths."""
    from safetensors.torch import save_file

    directory = Path(directory)
    tensors: dict[str, torch.Tensor] = {}
    encoded = {"format": FORMAT, "version": VERSION, "state": _encode(tree, "", tensors)}
    save_file(tensors, str(directory / TENSOR_FILE))
    (directory / JSON_FILE).write_text(json.dumps(encoded))
    return [directory / JSON_FILE, directory / TENSOR_FILE]


def load_state(directory: str | Path) -> dict:
    """The tree `save_state` wrote; StateError naming the file if either file is missing or damaged."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    directory = Path(directory)
    try:
        encoded = json.loads((directory / JSON_FILE).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise StateError(f"cannot read {directory / JSON_FILE} ({type(e).__name__}: {e})") from None
    if not isinstance(encoded, dict) or encoded.get("format") != FORMAT or encoded.get("version") != VERSION:
        raise StateError(f"{directory / JSON_FILE} is not a version-{VERSION} {FORMAT} file")
    try:
        tensors = load_file(str(directory / TENSOR_FILE))
    except (OSError, SafetensorError, ValueError) as e:
        raise StateError(f"cannot read {directory / TENSOR_FILE} ({type(e).__name__}: {e})") from None
    if "state" not in encoded:
        raise StateError(f"{directory / JSON_FILE} has no state")
    try:
        return _decode(encoded["state"], tensors)
    except KeyError as e:
        raise StateError(f"{directory / JSON_FILE} names tensor {e} that {TENSOR_FILE} does not hold") from None
    except (TypeError, ValueError, AttributeError, RecursionError) as e:  # a tag with the wrong contents
        raise StateError(f"{directory / JSON_FILE} is malformed ({type(e).__name__}: {e})") from None
