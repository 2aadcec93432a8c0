"""textbooks.train.data: memory-mapped windows, seeded order, exact resume, ranks, mixtures, masks."""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from textbooks.data.pack import pack
from textbooks.train.data import (
    PackedDataError,
    PackedDataset,
    TokenWindowLoader,
    ValidationSet,
    check_tokenizer,
)

T = 16  # seq_len for these tests


@pytest.fixture(scope="module")
def sharded(tmp_path_factory, corpus_dir, tokenizer_dir) -> Path:
    """The trainer corpus packed into many small shards (53 tokens), so windows cross shard files."""
    out = tmp_path_factory.mktemp("sharded") / "code"
    pack([corpus_dir], tokenizer_dir, out, val_fraction=0.1, shard_tokens=53, workers=1, progress=False)
    return out


@pytest.fixture(scope="module")
def books(tmp_path_factory, tokenizer_dir) -> Path:
    path = tmp_path_factory.mktemp("books") / "books.jsonl"
    path.write_text("\n".join(json.dumps({"text": f"# lesson {i}\nx = {i}\n"}) for i in range(30)) + "\n")
    out = path.parent / "packed"
    pack([path], tokenizer_dir, out, val_fraction=0.0, workers=1, progress=False)
    return out


def _stream(ds: PackedDataset) -> np.ndarray:
    return np.concatenate([np.fromfile(f, dtype=ds.dtype) for f in ds.shards]).astype(np.int64)


def test_dataset_reads_across_shards_lazily(sharded):
    ds = PackedDataset(sharded, "train")
    assert len(ds.shards) > 5 and ds.num_tokens == ds.meta["splits"]["train"]["tokens"]
    assert all(m is None for m in ds._maps)  # nothing opened before the first read
    stream = _stream(ds)
    assert np.array_equal(ds.read(40, 100), stream[40:140])  # spans three shards
    assert isinstance(ds._maps[0], np.memmap) and ds._maps[-1] is None
    assert np.array_equal(ds.read(0, ds.num_tokens), stream)
    with pytest.raises(IndexError):
        ds.read(ds.num_tokens - 5, 10)
    val = PackedDataset(sharded, "val")
    assert val.num_documents >= 1 and val.num_tokens > 0
    clone = pickle.loads(pickle.dumps(ds))  # DataLoader workers get a copy that reopens its memmaps
    assert all(m is None for m in clone._maps) and np.array_equal(clone.read(40, 100), stream[40:140])


def test_one_epoch_visits_every_window_once(sharded):
    ds = PackedDataset(sharded, "train")
    n = ds.num_windows(T)
    assert n == (ds.num_tokens - 1) // T
    loader = TokenWindowLoader([(ds, 1.0)], seq_len=T, batch_size=n, seed=3)
    x, y, plan = loader.next_with_sources()
    assert sorted(k for _, k in plan) == list(range(n))
    stream = _stream(ds)
    for row, (_, k) in enumerate(plan[:50]):
        assert torch.equal(x[row], torch.from_numpy(stream[k * T : k * T + T]))
        assert torch.equal(y[row], torch.from_numpy(stream[k * T + 1 : k * T + T + 1]))
    assert x.dtype == y.dtype == torch.long and x.shape == y.shape == (n, T)
    assert loader.epochs == [1.0] and loader.tokens_seen == n * T
    _, _, plan2 = loader.next_with_sources()  # epoch 2: a different order of the same windows
    assert sorted(k for _, k in plan2) == list(range(n)) and plan2 != plan


def test_order_is_deterministic_from_the_seed(sharded):
    ds = PackedDataset(sharded, "train")
    a, b, c = (TokenWindowLoader([(ds, 1.0)], seq_len=T, batch_size=4, seed=s) for s in (0, 0, 1))
    batches_a = [next(a) for _ in range(5)]
    batches_b = [next(b) for _ in range(5)]
    batches_c = [next(c) for _ in range(5)]
    assert all(torch.equal(p[0], q[0]) and torch.equal(p[1], q[1]) for p, q in zip(batches_a, batches_b))
    assert not all(torch.equal(p[0], q[0]) for p, q in zip(batches_a, batches_c))


@pytest.mark.parametrize("world_size", [1, 2])
def test_resume_mid_epoch_gives_identical_batches(sharded, books, world_size):
    sources = [(PackedDataset(sharded, "train"), 0.7), (PackedDataset(books, "train"), 0.3)]
    for rank in range(world_size):
        run = TokenWindowLoader(sources, seq_len=T, batch_size=3, seed=7, rank=rank, world_size=world_size)
        for _ in range(11):
            next(run)
        buf = io.BytesIO()
        torch.save(run.state_dict(), buf)  # the trainer stores it in its checkpoint
        # Far enough to wrap the small dataset's epoch (30 lessons ~ a few dozen windows).
        expected = [next(run) for _ in range(40)]
        resumed = TokenWindowLoader(sources, seq_len=T, batch_size=3, seed=7, rank=rank, world_size=world_size)
        buf.seek(0)
        resumed.load_state_dict(torch.load(buf))  # weights_only=True (torch's default) must accept it
        got = [next(resumed) for _ in range(40)]
        assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(expected, got))
        assert resumed.epochs == run.epochs and resumed.epochs[1] > 1


def test_ranks_are_disjoint_and_together_equal_one_process(sharded, books):
    sources = [(PackedDataset(sharded, "train"), 0.5), (PackedDataset(books, "train"), 0.5)]
    world, b = 3, 4
    single = TokenWindowLoader(sources, seq_len=T, batch_size=b * world, seed=5)
    ranks = [TokenWindowLoader(sources, seq_len=T, batch_size=b, seed=5, rank=r, world_size=world) for r in range(world)]
    seen = set()
    first_epoch = min(ds.num_windows(T) for ds, _ in sources)  # no dataset wraps within these steps
    for _ in range(first_epoch // (b * world * 2)):
        x, _, plan = single.next_with_sources()
        per_rank = [r.next_with_sources() for r in ranks]
        for r, (xr, _, plan_r) in enumerate(per_rank):
            assert plan_r == plan[r::world]  # global sample i goes to rank i % world_size
            assert torch.equal(xr, x[r::world])
        step = [p for _, _, pr in per_rank for p in pr]
        assert len(set(step)) == len(step) and not seen & set(step)
        seen |= set(step)
    states = [r.state_dict() for r in ranks]
    assert all(s == states[0] for s in states)  # any rank's state resumes every rank


def test_mixture_honours_weights(sharded, books):
    sources = [(PackedDataset(sharded, "train"), 0.8), (PackedDataset(books, "train"), 0.2)]
    loader = TokenWindowLoader(sources, seq_len=T, batch_size=500, seed=11)
    counts = np.zeros(2)
    for _ in range(8):
        _, _, plan = loader.next_with_sources()
        counts += np.bincount([d for d, _ in plan], minlength=2)
    share = counts[1] / counts.sum()
    assert abs(share - 0.2) < 0.02  # 4000 draws: 3 sigma = 3 * sqrt(0.2 * 0.8 / 4000) = 0.019
    assert loader.weights == pytest.approx([0.8, 0.2])


def test_completion_mask_becomes_ignore_index(tmp_path, tokenizer_dir):
    path = tmp_path / "ex.jsonl"
    rows = [{"prompt": f"def f{i}(x):\n    '''Double x.'''\n", "completion": f"    return 2 * x + {i}\n"} for i in range(20)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    pack([path], tokenizer_dir, tmp_path / "ft", val_fraction=0.0, loss_on="completion", workers=1, progress=False)
    ds = PackedDataset(tmp_path / "ft", "train")
    assert ds.has_mask
    stream = _stream(ds)
    mask = np.fromfile(tmp_path / "ft" / "train_00000.mask.bin", dtype=np.uint8)
    x, y, plan = TokenWindowLoader([(ds, 1.0)], seq_len=T, batch_size=6, seed=0).next_with_sources()
    for row, (_, k) in enumerate(plan):
        target_mask = mask[k * T + 1 : k * T + T + 1]
        want = np.where(target_mask == 1, stream[k * T + 1 : k * T + T + 1], -100)
        assert y[row].tolist() == want.tolist()
        assert torch.equal(x[row], torch.from_numpy(stream[k * T : k * T + T]))  # inputs are never masked
    assert (y == -100).any() and (y != -100).any()


def test_validation_set_is_the_first_windows_of_each_split(sharded, books):
    """val_tokens // seq_len windows per split, in order; nothing in it depends on ranks or batch size."""
    code, lessons = PackedDataset(sharded, "val"), PackedDataset(books, "train")
    val = ValidationSet([code, lessons], seq_len=T, val_tokens=3 * T + T // 2)  # 3.5 windows -> 3 per split
    assert len(val) == 6 and val.index == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    x, y = val.window(4)  # split 1, window 1 = tokens [T, 2T + 1)
    assert x.shape == y.shape == (1, T)
    assert x[0].tolist() == lessons.read(T, T).tolist() and y[0].tolist() == lessons.read(T + 1, T).tolist()
    assert len(ValidationSet([code], seq_len=T, val_tokens=10**9)) == code.num_windows(T)  # capped by the split


def test_errors(sharded, books, tmp_path, other_tokenizer_dir, tokenizer_dir):
    from textbooks.tokenizer import load_tokenizer

    ds = PackedDataset(sharded, "train")
    with pytest.raises(PackedDataError, match="fewer than seq_len"):
        TokenWindowLoader([(ds, 1.0)], seq_len=ds.num_tokens, batch_size=1)
    with pytest.raises(PackedDataError, match="empty"):
        TokenWindowLoader([(PackedDataset(books, "val"), 1.0)], seq_len=T, batch_size=1)
    check_tokenizer(ds, load_tokenizer(tokenizer_dir).fingerprint)
    with pytest.raises(PackedDataError, match="Re-pack with the model's tokenizer"):
        check_tokenizer(ds, load_tokenizer(other_tokenizer_dir))
    with pytest.raises(PackedDataError, match="meta.json: not found"):
        PackedDataset(tmp_path, "train")
    with pytest.raises(PackedDataError, match="no split 'test'"):
        PackedDataset(sharded, "test")
    with pytest.raises(PackedDataError, match="weight must be a positive"):
        TokenWindowLoader([(ds, 0.0)], seq_len=T, batch_size=1)
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in sharded.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    (broken / "train_00002.bin").write_bytes(b"\x00\x00")
    with pytest.raises(PackedDataError, match=r"train_00002.bin: 2 bytes but meta.json implies 106"):
        PackedDataset(broken, "train")
    loader = TokenWindowLoader([(ds, 1.0)], seq_len=T, batch_size=2, seed=0)
    other = TokenWindowLoader([(ds, 1.0)], seq_len=T + 1, batch_size=2, seed=0)
    with pytest.raises(PackedDataError, match="same data settings"):
        other.load_state_dict(loader.state_dict())
