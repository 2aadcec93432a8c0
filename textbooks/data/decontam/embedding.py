"""The embedding detector's search (paper §5.2): L2 distance between L2-normalised snippet embeddings.

The index is the benchmark (HumanEval + MBPP: 1,138 solutions), the queries are the corpus's snippets, so
exact search is one (queries x 1,138) matrix product per batch: its cost grows linearly with the corpus and
it is not the bottleneck (the featurizer is: benchmarks/results/decontaminate.json). An approximate index
(faiss HNSW / IVF) earns its place only when the *reference* side is large, e.g. decontaminating against a
training set of millions of exercises in the reverse view; `nearest(..., method="faiss")` uses faiss's
exact inner-product index when faiss is installed (`pip install faiss-cpu`), same results, for that case.
For unit vectors ||a - b||^2 = 2 - 2 a.b, so distances come from inner products.
"""

from __future__ import annotations

import numpy as np


def l2_distances(queries: np.ndarray, refs: np.ndarray) -> np.ndarray:
    """(n, m) L2 distances between rows of unit vectors (a zero row, a text with nothing to embed, is put at
    distance 2, the largest, from everything, so it never matches)."""
    sims = queries @ refs.T
    zero = ~np.any(queries, axis=1)
    if zero.any():
        sims[zero] = -1.0
    return np.sqrt(np.maximum(0.0, 2.0 - 2.0 * sims, dtype=np.float32))


def nearest(queries: np.ndarray, refs: np.ndarray, k: int, method: str = "exact",
            chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """(distances, indices), each (n, k), of the k nearest references of every query, nearest first."""
    n, m = len(queries), len(refs)
    k = min(k, m)
    if n == 0 or k == 0:
        return np.zeros((n, k), np.float32), np.zeros((n, k), np.int64)
    if method == "faiss":
        try:
            import faiss
        except ImportError:
            raise ImportError("nearest(method='faiss') needs faiss: pip install faiss-cpu (or use method='exact')") from None
        index = faiss.IndexFlatIP(refs.shape[1])
        index.add(np.ascontiguousarray(refs, dtype=np.float32))
        sims, idx = index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        return np.sqrt(np.maximum(0.0, 2.0 - 2.0 * sims)).astype(np.float32), idx.astype(np.int64)
    if method != "exact":
        raise ValueError(f"unknown search method {method!r}; choose exact or faiss")
    dists = np.empty((n, k), np.float32)
    idx = np.empty((n, k), np.int64)
    for lo in range(0, n, chunk):
        d = l2_distances(queries[lo:lo + chunk], refs)
        part = np.argpartition(d, k - 1, axis=1)[:, :k] if k < m else np.tile(np.arange(m), (len(d), 1))
        pd = np.take_along_axis(d, part, axis=1)
        order = np.argsort(pd, axis=1, kind="stable")
        idx[lo:lo + chunk] = np.take_along_axis(part, order, axis=1)
        dists[lo:lo + chunk] = np.take_along_axis(pd, order, axis=1)
    return dists, idx
