"""Training batches from packed shards (textbooks/data/pack.py): memory-mapped, seeded, resumable, rank-aware.

    from textbooks.train.data import PackedDataset, TokenWindowLoader, check_tokenizer
    code = PackedDataset("runs/packed-code", "train")
    books = PackedDataset("runs/packed-textbooks", "train")
    check_tokenizer(code, tokenizer.fingerprint)
    loader = TokenWindowLoader([(code, 0.8), (books, 0.2)], seq_len=2048, batch_size=8, seed=0,
                               rank=rank, world_size=world_size)
    x, y = next(loader)                # LongTensor (8, 2048) each; y = x shifted by one token
    state = loader.state_dict()        # put it in the checkpoint; loader.load_state_dict(state) resumes

Windows (paper §2.3: "sequence length of 2048 sliced from our dataset array"): the token stream of a
dataset of N tokens is cut into W = (N - 1) // T windows; window k is tokens [k*T, k*T + T + 1), so x =
its first T tokens and y its last T. Inputs never overlap and every token but the first is a target
exactly once per epoch; a window may cross documents (separated by <|endoftext|>) and shard files.
A mask (`data pack --loss-on completion`) turns targets with mask 0 into -100 (ignored by the loss).

Order: each dataset's windows are visited in a fresh random permutation every epoch, drawn from
`numpy.random.default_rng([seed, dataset index, epoch])`, so any position can be recomputed without
replay. The permutation is materialised: 4 bytes per window (int32; 8 above 2**31 windows), i.e. 7 MB
for phi-1's 7B tokens at T=2048, 2 GB only at 1T tokens.

Mixture: the paper trains on filtered code + synthetic textbooks. Every global sample picks its dataset
with probability weight / sum(weights) from one seeded PCG64 stream (`numpy.random.Generator.random`,
one draw per sample); the generator's state is part of `state_dict()`. The draw is random, not an exact
interleave: over n samples the share of a dataset with probability p is within ~3*sqrt(p(1-p)/n) of p.
A single dataset draws nothing.

Ranks: global sample i (counted from the start of training across all ranks) belongs to rank
i % world_size. Every rank runs the same bookkeeping (which dataset, which window) for all global
samples and reads only its own, so ranks see disjoint windows and together every window. The state is
therefore the same on every rank: save rank 0's and load it everywhere, even with another world size
(the global sample stream does not depend on batch size or world size).

Memory: shards are opened with `numpy.memmap` on first use and only the windows drawn are read, so
shards larger than RAM work; the page cache, not this process, holds what was read.
"""

from __future__ import annotations

import bisect
import json
import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

FORMAT = "textbooks.packed"  # must match textbooks.data.pack.FORMAT (not imported: keeps this module light)
FORMAT_VERSION = 1
META_FILE = "meta.json"
STATE_VERSION = 1
IGNORE_INDEX = -100  # torch.nn.functional.cross_entropy's default ignore_index
_DTYPES = {"uint16": np.dtype("<u2"), "uint32": np.dtype("<u4")}
_REPACK = "re-run `textbooks data pack ... --out DIR --overwrite` to rebuild it"


class PackedDataError(ValueError):
    """A packed dataset that cannot be used as asked (the message names the file and the fix)."""


class PackedDataset:
    """One split of a packed directory: `num_tokens` tokens over shard files, read through np.memmap.

    `read(start, n)` returns tokens [start, start + n) as int64, crossing shard boundaries as needed;
    `read_mask(start, n)` the loss mask (uint8, all ones when the data was packed without one).
    """

    def __init__(self, directory: str | os.PathLike, split: str = "train"):
        self.path = Path(directory)
        self.split = split
        meta_path = self.path / META_FILE
        if not meta_path.is_file():
            hint = " (it has no meta.json: is it a packed directory?)" if self.path.is_dir() else ""
            raise PackedDataError(f"{meta_path}: not found{hint}; create it with `textbooks data pack INPUT... --tokenizer DIR --out {self.path}`")
        try:
            self.meta = json.loads(meta_path.read_text())
        except json.JSONDecodeError as e:
            raise PackedDataError(f"{meta_path}:{e.lineno}: not valid JSON ({e.msg}); {_REPACK}") from None
        self._validate_meta(meta_path)
        info = self.meta["splits"][split]
        self.dtype = _DTYPES[self.meta["dtype"]]
        self.has_mask = bool(self.meta.get("has_mask"))
        self.num_documents = int(info["documents"])
        self.shards = [self.path / s["file"] for s in info["shards"]]
        self.mask_shards = [self.path / s["mask_file"] for s in info["shards"]] if self.has_mask else []
        counts = [int(s["tokens"]) for s in info["shards"]]
        self.num_tokens = sum(counts)
        if self.num_tokens != int(info["tokens"]):
            raise PackedDataError(f"{meta_path}: split {split!r} says {info['tokens']} tokens but its shards add up to {self.num_tokens}; {_REPACK}")
        self._starts = [0]  # global offset of each shard's first token
        for c in counts:
            self._starts.append(self._starts[-1] + c)
        for i, (f, c) in enumerate(zip(self.shards, counts)):
            self._check_size(f, c * self.dtype.itemsize)
            if self.has_mask:
                self._check_size(self.mask_shards[i], c)
        self._maps: list[np.memmap | None] = [None] * len(self.shards)
        self._mask_maps: list[np.memmap | None] = [None] * len(self.mask_shards)

    def _validate_meta(self, meta_path: Path) -> None:
        m = self.meta
        if not isinstance(m, dict) or m.get("format") != FORMAT:
            raise PackedDataError(f"{meta_path}: not a textbooks packed dataset (format {m.get('format') if isinstance(m, dict) else None!r}, expected {FORMAT!r}); {_REPACK}")
        if m.get("version") != FORMAT_VERSION:
            raise PackedDataError(f"{meta_path}: format version {m.get('version')} but this textbooks reads version {FORMAT_VERSION}; {_REPACK}")
        for key in ("dtype", "splits", "tokenizer"):
            if key not in m:
                raise PackedDataError(f"{meta_path}: missing key {key!r}; {_REPACK}")
        if m["dtype"] not in _DTYPES:
            raise PackedDataError(f"{meta_path}: dtype {m['dtype']!r} is not one of {sorted(_DTYPES)}")
        if m.get("byteorder", "little") != "little":
            raise PackedDataError(f"{meta_path}: byteorder {m['byteorder']!r}; only little-endian shards are supported")
        if self.split not in m["splits"]:
            raise PackedDataError(f"{meta_path}: no split {self.split!r} (splits: {sorted(m['splits'])})")

    def _check_size(self, path: Path, expected: int) -> None:
        if not path.is_file():
            raise PackedDataError(f"{path}: shard listed in {self.path / META_FILE} is missing; {_REPACK}")
        size = path.stat().st_size
        if size != expected:
            raise PackedDataError(f"{path}: {size} bytes but meta.json implies {expected} (truncated or replaced?); {_REPACK}")

    # -- identity ------------------------------------------------------------------------------------
    @property
    def tokenizer_fingerprint(self) -> str:
        return self.meta["tokenizer"]["fingerprint"]

    @property
    def eos_id(self) -> int:
        return int(self.meta["tokenizer"]["eos_id"])

    def __len__(self) -> int:
        return self.num_tokens

    def __repr__(self) -> str:
        return f"PackedDataset({str(self.path)!r}, split={self.split!r}, tokens={self.num_tokens:,}, documents={self.num_documents:,})"

    # -- reading -------------------------------------------------------------------------------------
    def _map(self, i: int, mask: bool = False) -> np.memmap:
        maps = self._mask_maps if mask else self._maps
        if maps[i] is None:
            path = self.mask_shards[i] if mask else self.shards[i]
            maps[i] = np.memmap(path, dtype=np.uint8 if mask else self.dtype, mode="r")
        return maps[i]

    def _read(self, start: int, n: int, mask: bool) -> np.ndarray:
        if start < 0 or n < 0 or start + n > self.num_tokens:
            raise IndexError(f"tokens [{start}, {start + n}) outside {self!r}")
        out = np.empty(n, dtype=np.uint8 if mask else np.int64)
        i = bisect.bisect_right(self._starts, start) - 1
        done = 0
        while done < n:  # a window may span shards: copy each shard's part
            lo = start + done - self._starts[i]
            take = min(n - done, self._starts[i + 1] - self._starts[i] - lo)
            out[done : done + take] = self._map(i, mask)[lo : lo + take]
            done += take
            i += 1
        return out

    def read(self, start: int, n: int) -> np.ndarray:
        return self._read(start, n, mask=False)

    def read_mask(self, start: int, n: int) -> np.ndarray:
        if not self.has_mask:
            return np.ones(n, dtype=np.uint8)
        return self._read(start, n, mask=True)

    def num_windows(self, seq_len: int) -> int:
        """Windows of seq_len + 1 tokens with non-overlapping inputs (see the module docstring)."""
        return max(0, (self.num_tokens - 1) // seq_len)

    def window(self, k: int, seq_len: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Tokens of window k (seq_len + 1, int64) and, if the data has a mask, its mask."""
        start = k * seq_len
        tokens = self.read(start, seq_len + 1)
        return tokens, (self.read_mask(start, seq_len + 1) if self.has_mask else None)

    def __getstate__(self):  # picklable for DataLoader workers: reopen the memmaps on the other side
        state = self.__dict__.copy()
        state["_maps"] = [None] * len(self.shards)
        state["_mask_maps"] = [None] * len(self.mask_shards)
        return state


def check_tokenizer(ds: PackedDataset, fingerprint) -> None:
    """Raise if `ds` was packed with another tokenizer than `fingerprint` (a str or a tokenizer object)."""
    expected = getattr(fingerprint, "fingerprint", fingerprint)
    got = ds.tokenizer_fingerprint
    if got != expected:
        tok = ds.meta["tokenizer"]
        raise PackedDataError(
            f"{ds.path}: packed with tokenizer {got[:12]} ({tok.get('path')}, vocab {tok.get('vocab_size')}) but the model "
            f"uses tokenizer {str(expected)[:12]}; token ids would mean different things. Re-pack with the model's "
            f"tokenizer: `textbooks data pack ... --tokenizer <model or tokenizer dir> --out {ds.path} --overwrite`"
        )


def _to_tensors(windows: list[np.ndarray], masks: list[np.ndarray | None]) -> tuple[torch.Tensor, torch.Tensor]:
    batch = torch.from_numpy(np.stack(windows))  # (B, T + 1) int64
    x = batch[:, :-1].contiguous()  # (B, T)
    y = batch[:, 1:].clone()  # (B, T): the next token of every position
    for row, mask in enumerate(masks):
        if mask is not None:
            y[row, torch.from_numpy(mask[1:] == 0)] = IGNORE_INDEX  # mask[j] belongs to token j = target of j-1
    return x, y


class TokenWindowLoader:
    """Endless (x, y) batches of windows from weighted datasets; see the module docstring for the rules."""

    def __init__(
        self,
        sources: Sequence[tuple[PackedDataset, float]],
        seq_len: int,
        batch_size: int,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ):
        if not sources:
            raise PackedDataError("no datasets given: pass [(PackedDataset, weight), ...]")
        if seq_len < 1 or batch_size < 1:
            raise PackedDataError(f"seq_len and batch_size must be >= 1, got {seq_len} and {batch_size}")
        if not isinstance(seed, (int, np.integer)) or seed < 0:
            raise PackedDataError(f"seed must be a non-negative integer, got {seed!r}")
        if not (0 <= rank < world_size):
            raise PackedDataError(f"rank must be in [0, world_size={world_size}), got {rank}")
        self.datasets = [ds for ds, _ in sources]
        weights = [float(w) for _, w in sources]
        for ds, w in zip(self.datasets, weights):
            if not (w > 0 and math.isfinite(w)):
                raise PackedDataError(f"{ds.path} ({ds.split}): weight must be a positive number, got {w}")
        fps = {ds.tokenizer_fingerprint for ds in self.datasets}
        if len(fps) > 1:
            listing = ", ".join(f"{ds.path}: {ds.tokenizer_fingerprint[:12]}" for ds in self.datasets)
            raise PackedDataError(f"datasets of one mixture were packed with different tokenizers ({listing}); re-pack them with one tokenizer")
        self.windows_per_epoch = [ds.num_windows(seq_len) for ds in self.datasets]
        for ds, n in zip(self.datasets, self.windows_per_epoch):
            if ds.num_tokens == 0:
                raise PackedDataError(f"{ds.path}: split {ds.split!r} is empty (0 tokens); pack more documents or use another split")
            if n == 0:
                raise PackedDataError(
                    f"{ds.path}: split {ds.split!r} has {ds.num_tokens} tokens, fewer than seq_len + 1 = {seq_len + 1}; "
                    f"lower seq_len or pack more data"
                )
        total = sum(weights)
        self.weights = [w / total for w in weights]
        self._cum = np.cumsum(self.weights)
        self._cum[-1] = 1.0  # guards against float round-off leaving u in (cum[-1], 1)
        self.seq_len, self.batch_size, self.seed = seq_len, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self._rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 0x6D6978])))  # "mix"
        self._samples = 0  # global samples drawn so far (all ranks)
        self._cursors = [[0, 0] for _ in self.datasets]  # per dataset: [epoch, position in that epoch's permutation]
        self._perms: dict[int, tuple[int, np.ndarray]] = {}

    # -- order ---------------------------------------------------------------------------------------
    def _permutation(self, d: int, epoch: int) -> np.ndarray:
        cached = self._perms.get(d)
        if cached is None or cached[0] != epoch:
            n = self.windows_per_epoch[d]
            rng = np.random.default_rng([self.seed, d, epoch])
            perm = rng.permutation(n).astype(np.int32 if n < 2**31 else np.int64)
            self._perms[d] = cached = (epoch, perm)
        return cached[1]

    def _next_window(self, d: int) -> int:
        cursor = self._cursors[d]
        k = int(self._permutation(d, cursor[0])[cursor[1]])
        cursor[1] += 1
        if cursor[1] == self.windows_per_epoch[d]:
            cursor[0], cursor[1] = cursor[0] + 1, 0
        return k

    def _plan(self, n: int) -> list[tuple[int, int]]:
        """Advance the global stream by n samples; return (dataset, window) of those on this rank."""
        if len(self.datasets) > 1:
            choices = np.searchsorted(self._cum, self._rng.random(n), side="right").tolist()
        else:
            choices = [0] * n
        mine = []
        for j, d in enumerate(choices):
            k = self._next_window(d)
            if (self._samples + j) % self.world_size == self.rank:
                mine.append((d, k))
        self._samples += n
        return mine

    # -- iteration -----------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        windows, masks = [], []
        for d, k in self._plan(self.batch_size * self.world_size):
            tokens, mask = self.datasets[d].window(k, self.seq_len)
            windows.append(tokens)
            masks.append(mask)
        return _to_tensors(windows, masks)

    def next_with_sources(self) -> tuple[torch.Tensor, torch.Tensor, list[tuple[int, int]]]:
        """Like next(), plus the (dataset index, window index) of every row (for tests and debugging)."""
        plan = self._plan(self.batch_size * self.world_size)
        pairs = [self.datasets[d].window(k, self.seq_len) for d, k in plan]
        x, y = _to_tensors([p[0] for p in pairs], [p[1] for p in pairs])
        return x, y, plan

    # -- progress ------------------------------------------------------------------------------------
    @property
    def samples_seen(self) -> int:
        """Global samples (all ranks) drawn so far."""
        return self._samples

    @property
    def tokens_seen(self) -> int:
        """Global training tokens (inputs) drawn so far, all ranks together."""
        return self._samples * self.seq_len

    @property
    def epochs(self) -> list[float]:
        """Fractional epochs completed, per dataset."""
        return [e + p / n for (e, p), n in zip(self._cursors, self.windows_per_epoch)]

    # -- resume --------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything needed to continue the exact same stream (identical on every rank)."""
        return {
            "version": STATE_VERSION,
            "seed": self.seed,
            "seq_len": self.seq_len,
            "samples": self._samples,
            "cursors": [list(c) for c in self._cursors],
            "rng": self._rng.bit_generator.state,
            "datasets": [
                {"path": str(ds.path), "split": ds.split, "tokens": ds.num_tokens, "weight": w}
                for ds, w in zip(self.datasets, self.weights)
            ],
        }

    def load_state_dict(self, state: dict) -> None:
        if state.get("version") != STATE_VERSION:
            raise PackedDataError(f"loader state version {state.get('version')} is not {STATE_VERSION}")
        if state["seq_len"] != self.seq_len or state["seed"] != self.seed:
            raise PackedDataError(
                f"loader state was saved with seq_len={state['seq_len']}, seed={state['seed']} but this loader has "
                f"seq_len={self.seq_len}, seed={self.seed}; resume with the same data settings"
            )
        saved = state["datasets"]
        if len(saved) != len(self.datasets) or any(
            s["tokens"] != ds.num_tokens or s["split"] != ds.split or abs(s["weight"] - w) > 1e-12
            for s, ds, w in zip(saved, self.datasets, self.weights)
        ):
            now = [{"path": str(ds.path), "split": ds.split, "tokens": ds.num_tokens, "weight": w} for ds, w in zip(self.datasets, self.weights)]
            raise PackedDataError(f"loader state was saved for datasets {saved} but this loader reads {now}; the data changed since the checkpoint")
        self._samples = int(state["samples"])
        self._cursors = [[int(e), int(p)] for e, p in state["cursors"]]
        self._rng.bit_generator.state = state["rng"]


class ValidationSet:
    """The fixed validation windows: the first `val_tokens // seq_len` windows of each split, in order.

    Fixed by tokens, not by batches, so it is the same set however the run is launched (world size,
    micro-batch): the validation loss, and the checkpoint kept as `best`, do not change on resume with
    another layout. `window(i)` is (x, y) of shape (1, T), masks applied as in training.
    """

    def __init__(self, splits: Sequence[PackedDataset], seq_len: int, val_tokens: int):
        self.splits, self.seq_len = list(splits), seq_len
        per_split = val_tokens // seq_len
        self.index = [(s, k) for s, ds in enumerate(self.splits) for k in range(min(ds.num_windows(seq_len), per_split))]

    def __len__(self) -> int:
        return len(self.index)

    def describe(self, val_tokens: int) -> tuple[str, list[str]]:
        """One line on the set's size against what `trainer.val_tokens` asks for, and warnings when it is less."""
        per_split = val_tokens // self.seq_len
        asked = f"val_tokens asks for {val_tokens:,}" + (" per split" if len(self.splits) > 1 else "")
        where = f" from {len(self.splits)} splits" if len(self.splits) > 1 else ""
        line = f"val: {len(self):,} windows{where} ({self.num_tokens:,} tokens; {asked})"
        warnings = []
        short = [ds for ds in self.splits if ds.num_windows(self.seq_len) < per_split]
        for ds in short:
            have = ds.num_windows(self.seq_len)
            warnings.append(
                f"the validation split of {ds.path} has {have:,} windows of data.seq_len={self.seq_len} "
                f"({have * self.seq_len:,} tokens), fewer than trainer.val_tokens={val_tokens:,} asks for: all of them are used"
            )
        if val_tokens % self.seq_len:
            warnings.append(
                f"trainer.val_tokens={val_tokens:,} is not a multiple of data.seq_len={self.seq_len}: rounded down to "
                f"{per_split:,} windows ({per_split * self.seq_len:,} tokens) per split"
            )
        return line, warnings

    @property
    def num_tokens(self) -> int:
        """Input tokens evaluated (windows x seq_len)."""
        return len(self.index) * self.seq_len

    def window(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        s, k = self.index[i]
        tokens, mask = self.splits[s].window(k, self.seq_len)
        return _to_tensors([tokens], [mask])
